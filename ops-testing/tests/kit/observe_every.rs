//! `Framework::observe_every`: one reconcile handler for every event.

use ops::events::{ActionEvent, CollectUnitStatus, ConfigChanged, RelationChanged, Start};
use ops::{
    AnyEvent, Charm, Ctx, CustomEvent, Framework, HandlerError, HandlerResult, Outcome, Status,
};
use ops_testing::Harness;
use serde::{Deserialize, Serialize};

#[derive(Debug, Serialize, Deserialize)]
struct Refreshed;
impl CustomEvent for Refreshed {
    const NAME: &'static str = "refreshed";
}

/// Records, in stored state, what each handler saw, in order.
struct Reconciler {
    seen: ops::StoredState<Vec<String>>,
}

impl Charm for Reconciler {
    fn new(fw: &mut Framework<Self>) -> Result<Self, HandlerError> {
        let seen = fw.stored_state("seen")?;
        fw.observe(Self::on_start)?
            .observe(Self::on_config_changed)?
            .observe(Self::on_refreshed)?
            .observe(Self::on_collect)?
            .observe_action("act", Self::on_act)?
            .observe_every(Self::reconcile)?;
        Ok(Self { seen })
    }
}

impl Reconciler {
    fn note(&mut self, what: String) {
        self.seen.get_mut().push(what);
    }
    fn on_start(&mut self, _: &Start, ctx: &mut Ctx) -> HandlerResult {
        self.note("on_start".into());
        ctx.emit(Refreshed)?;
        Ok(())
    }
    fn on_config_changed(&mut self, _: &ConfigChanged, _: &mut Ctx) -> HandlerResult<Outcome> {
        self.note("on_config_changed".into());
        // Deferred once: the re-emitted notice reaches this observer
        // alone, not the reconcile handler a second time.
        let calls = self
            .seen
            .get()
            .iter()
            .filter(|s| *s == "on_config_changed")
            .count();
        Ok(if calls == 1 {
            Outcome::Defer
        } else {
            Outcome::Done
        })
    }
    fn on_refreshed(&mut self, _: &Refreshed, _: &mut Ctx) -> HandlerResult {
        self.note("on_refreshed".into());
        Ok(())
    }
    fn on_collect(&mut self, _: &CollectUnitStatus, _: &mut Ctx) -> HandlerResult<Status> {
        Ok(Status::active(""))
    }
    fn on_act(&mut self, _: &ActionEvent, _: &mut Ctx) -> HandlerResult {
        self.note("on_act".into());
        Ok(())
    }
    fn reconcile(&mut self, event: &AnyEvent, _: &mut Ctx) -> HandlerResult {
        let relation = event
            .get::<RelationChanged>()
            .map(|changed| format!(" of relation {}", changed.relation.id))
            .unwrap_or_default();
        self.note(format!("reconcile {}{relation}", event.name()));
        Ok(())
    }
}

const META: &str = "name: rec
requires: {db: {interface: pg}}
config: {options: {x: {type: int}}}
actions: {act: {}}
";

fn seen(harness: &Harness<Reconciler>) -> Vec<String> {
    harness.charm().unwrap().seen.get().clone()
}

#[test]
fn every_event_but_actions_and_collect_status_reaches_the_reconciler() {
    let mut harness = Harness::<Reconciler>::new(META).unwrap();
    harness.begin();
    harness.fire_hook("start").unwrap();
    assert_eq!(
        seen(&harness),
        [
            "on_start",
            "on_refreshed",
            "reconcile refreshed",
            "reconcile start"
        ],
        "a custom event emitted by a handler reaches it too, when emitted"
    );
    harness
        .update_config([("x", serde_json::json!(1))])
        .unwrap();
    assert_eq!(
        seen(&harness)[4..],
        ["on_config_changed", "reconcile config_changed"]
    );
    assert_eq!(
        harness.notices().len(),
        1,
        "the deferral is the observer's own"
    );
    let id = harness.add_relation("db", "pg").unwrap();
    harness.add_relation_unit(id, "pg/0").unwrap();
    harness
        .update_relation_data(id, "pg/0", &[("k", "v")])
        .unwrap();
    let after: Vec<String> = seen(&harness)[6..].to_vec();
    assert_eq!(after[0], "on_config_changed", "the deferred notice first");
    assert!(
        after.contains(&format!("reconcile db_relation_changed of relation {id}")),
        "{after:?}"
    );
    assert!(
        after.contains(&"reconcile db_relation_created".to_string()),
        "{after:?}"
    );
    assert_eq!(
        after.iter().filter(|s| s.starts_with("on_config")).count(),
        1,
        "{after:?}"
    );
    let before = seen(&harness).len();
    harness.run_action("act", Default::default()).unwrap();
    harness.evaluate_status().unwrap();
    assert_eq!(seen(&harness)[before..], ["on_act"]);
    assert!(
        !seen(&harness).iter().any(|s| s.contains("collect")),
        "{:?}",
        seen(&harness)
    );
}

#[test]
fn any_event_reads_as_its_type() {
    let event = AnyEvent::new("config_changed", serde_json::json!(null));
    assert!(event.is::<ConfigChanged>());
    assert!(!event.is::<RelationChanged>());
    // A name that only ends like a kind, without a scope, is not it.
    assert!(!AnyEvent::new("_relation_changed", serde_json::json!({})).is::<RelationChanged>());
    assert!(!AnyEvent::new("xrelation_changed", serde_json::json!({})).is::<RelationChanged>());
}

#[test]
fn a_second_reconciler_under_one_name_is_refused() {
    struct Twice;
    impl Charm for Twice {
        fn new(fw: &mut Framework<Self>) -> Result<Self, HandlerError> {
            fw.observe_every(Self::reconcile)?;
            fw.observe_every(Self::reconcile)?;
            Ok(Twice)
        }
    }
    impl Twice {
        fn reconcile(&mut self, _: &AnyEvent, _: &mut Ctx) -> HandlerResult {
            Ok(())
        }
    }
    let mut harness = Harness::<Twice>::new("name: twice\n").unwrap();
    harness.begin();
    let err = harness.fire_hook("start").unwrap_err();
    assert!(err.to_string().contains("Twice::reconcile"), "{err}");
}
