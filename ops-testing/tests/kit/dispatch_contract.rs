//! The dispatch contract of DESIGN.md, item by item, through the Harness
//! (which runs the real `ops::dispatch`).

use ops::events::{
    CollectAppStatus, CollectUnitStatus, ConfigChanged, Install, RelationChanged, Start,
    UpdateStatus,
};
use ops::{
    Charm, Ctx, CustomEvent, Framework, FrameworkError, HandlerError, HandlerResult, Outcome,
    Status, StoredState,
};
use ops_testing::Harness;
use serde::{Deserialize, Serialize};
use serde_json::json;

const META: &str = r#"
name: probe
peers:
  replicas: {interface: probe}
requires:
  db: {interface: pgsql}
config:
  options:
    defer-start: {type: boolean, default: false}
    defer-config: {type: boolean, default: false}
    fail-config: {type: boolean, default: false}
    second-defers: {type: boolean, default: false}
    status: {type: string, default: active}
"#;

#[derive(Debug, Default, Serialize, Deserialize)]
struct Journal {
    calls: Vec<String>,
    config_changes: u32,
}

#[derive(Debug, Serialize, Deserialize)]
struct Pinged {
    from: String,
}

impl CustomEvent for Pinged {
    const NAME: &'static str = "pinged";
}

struct Probe {
    journal: StoredState<Journal>,
}

impl Charm for Probe {
    fn new(fw: &mut Framework<Self>) -> Result<Self, HandlerError> {
        let journal = fw.stored_state("journal")?;
        fw.observe(Self::on_install)?
            .observe(Self::on_start)?
            .observe(Self::on_config_changed)?
            .observe(Self::second_on_config_changed)?
            .observe(Self::on_update_status)?
            .observe(Self::on_pinged)?
            .observe_relation("db", Self::on_db_changed)?
            .observe(Self::on_collect_unit)?
            .observe(Self::on_collect_app)?;
        Ok(Self { journal })
    }
}

fn flag(ctx: &Ctx, key: &str) -> Result<bool, HandlerError> {
    Ok(ctx.model().config()?.get::<bool>(key)?.unwrap_or(false))
}

impl Probe {
    fn log(&mut self, ctx: &Ctx, what: &str) {
        self.journal
            .get_mut()
            .calls
            .push(format!("{what} {}", ctx.handle()));
    }

    fn on_install(&mut self, _: &Install, ctx: &mut Ctx) -> HandlerResult {
        self.log(ctx, "install");
        Ok(())
    }

    fn on_start(&mut self, _: &Start, ctx: &mut Ctx) -> HandlerResult<Outcome> {
        self.log(ctx, "start");
        Ok(if flag(ctx, "defer-start")? {
            Outcome::Defer
        } else {
            Outcome::Done
        })
    }

    fn on_config_changed(&mut self, _: &ConfigChanged, ctx: &mut Ctx) -> HandlerResult<Outcome> {
        self.log(ctx, "config");
        self.journal.get_mut().config_changes += 1;
        if flag(ctx, "fail-config")? {
            return Err("config handler failed on purpose".into());
        }
        Ok(if flag(ctx, "defer-config")? {
            Outcome::Defer
        } else {
            Outcome::Done
        })
    }

    fn second_on_config_changed(
        &mut self,
        _: &ConfigChanged,
        ctx: &mut Ctx,
    ) -> HandlerResult<Outcome> {
        self.log(ctx, "config2");
        Ok(if flag(ctx, "second-defers")? {
            Outcome::Defer
        } else {
            Outcome::Done
        })
    }

    fn on_update_status(&mut self, _: &UpdateStatus, ctx: &mut Ctx) -> HandlerResult {
        self.log(ctx, "update-status");
        ctx.emit(Pinged {
            from: "update-status".into(),
        })?;
        Ok(())
    }

    fn on_pinged(&mut self, event: &Pinged, ctx: &mut Ctx) -> HandlerResult<Outcome> {
        self.log(ctx, &format!("pinged-from-{}", event.from));
        Ok(Outcome::Done)
    }

    fn on_db_changed(&mut self, event: &RelationChanged, ctx: &mut Ctx) -> HandlerResult<Outcome> {
        self.log(
            ctx,
            &format!("db-changed-{}", event.unit.clone().unwrap_or_default()),
        );
        let relation = ctx
            .model()
            .relation_by_id("db", event.relation.id)?
            .ok_or("relation gone")?;
        let remote = ctx.model().remote_app_data(&relation)?;
        Ok(if remote.get("ready")?.is_some() {
            Outcome::Done
        } else {
            Outcome::Defer
        })
    }

    fn on_collect_unit(
        &mut self,
        _: &CollectUnitStatus,
        ctx: &mut Ctx,
    ) -> HandlerResult<Vec<Status>> {
        let wanted = ctx
            .model()
            .config()?
            .get::<String>("status")?
            .unwrap_or_else(|| "active".to_string());
        Ok(match wanted.as_str() {
            "blocked" => vec![
                Status::active("fine"),
                Status::blocked("needs a human"),
                Status::waiting("later"),
            ],
            "waiting" => vec![Status::active("fine"), Status::waiting("later")],
            _ => vec![Status::active("fine")],
        })
    }

    fn on_collect_app(&mut self, _: &CollectAppStatus, _: &mut Ctx) -> HandlerResult<Status> {
        Ok(Status::maintenance("app busy"))
    }
}

fn harness() -> Harness<Probe> {
    let mut h = Harness::<Probe>::new(META).unwrap();
    h.begin();
    h
}

fn calls(h: &Harness<Probe>) -> Vec<String> {
    h.charm().unwrap().journal.get().calls.clone()
}

#[test]
fn handles_count_up_and_are_persisted() {
    let mut h = harness();
    h.fire_hook("install").unwrap();
    h.fire_hook("start").unwrap();
    let calls = calls(&h);
    // install[1], its collect-status[2], start[3], its collect-status[4].
    assert_eq!(
        calls,
        vec!["install Probe/on/install[1]", "start Probe/on/start[3]"]
    );
    let state: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(h.charm_dir().join(".unit-state.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(state["event_count"], json!(4), "{state}");
}

#[test]
fn deferred_event_is_reemitted_first_and_only_to_its_observer() {
    let mut h = harness();
    h.update_config([("defer-config", json!(true))]).unwrap();
    assert_eq!(h.notices().len(), 1);
    assert_eq!(h.notices()[0].observer, "Probe::on_config_changed");
    let handle = h.notices()[0].handle.clone();
    h.update_config([("defer-config", json!(false))]).unwrap();
    let calls = calls(&h);
    // Second dispatch: the deferred notice (to the first observer only), then
    // the new event to both observers in registration order.
    let tail: Vec<&str> = calls
        .iter()
        .rev()
        .take(3)
        .rev()
        .map(String::as_str)
        .collect();
    assert_eq!(tail[0], format!("config {handle}"));
    assert!(
        tail[1].starts_with("config Probe/on/config_changed["),
        "{tail:?}"
    );
    assert!(
        tail[2].starts_with("config2 Probe/on/config_changed["),
        "{tail:?}"
    );
    assert!(h.notices().is_empty());
}

#[test]
fn redeferred_notice_keeps_its_place() {
    let mut h = harness();
    h.update_config([("defer-start", json!(true))]).unwrap();
    h.fire_hook("start").unwrap();
    h.update_config([("defer-config", json!(true))]).unwrap();
    // start was deferred first, re-emitted and deferred again during the
    // config-changed dispatch, and still comes before the newer notice.
    let order: Vec<String> = h.notices().iter().map(|n| n.event.clone()).collect();
    assert_eq!(order, vec!["start".to_string(), "config_changed".into()]);
    let handles: Vec<String> = h.notices().iter().map(|n| n.handle.clone()).collect();
    h.fire_hook("update-status").unwrap();
    let after: Vec<String> = h.notices().iter().map(|n| n.handle.clone()).collect();
    assert_eq!(after, handles);
}

#[test]
fn an_event_identical_to_a_deferred_one_does_not_call_its_observer_twice() {
    let mut h = harness();
    h.update_config([("defer-start", json!(true))]).unwrap();
    h.fire_hook("start").unwrap();
    h.fire_hook("start").unwrap();
    let starts: Vec<String> = calls(&h)
        .into_iter()
        .filter(|c| c.starts_with("start "))
        .collect();
    // The first start, then in the second dispatch only the re-emitted
    // notice: the new start is identical to the one still deferred.
    assert_eq!(starts.len(), 2, "{starts:?}");
    assert_eq!(starts[0], starts[1], "both calls are the deferred notice");
    assert_eq!(h.notices().len(), 1);
}

#[test]
fn identical_deferral_is_not_queued_twice() {
    let mut h = harness();
    h.update_config([("defer-start", json!(true))]).unwrap();
    h.fire_hook("start").unwrap();
    h.fire_hook("start").unwrap();
    h.fire_hook("start").unwrap();
    let starts = h.notices().iter().filter(|n| n.event == "start").count();
    assert_eq!(starts, 1, "{:?}", h.notices());
}

#[test]
fn two_observers_deferring_one_event_queue_two_notices() {
    let mut h = harness();
    h.update_config([
        ("defer-config", json!(true)),
        ("second-defers", json!(true)),
    ])
    .unwrap();
    let observers: Vec<&str> = h.notices().iter().map(|n| n.observer.as_str()).collect();
    assert_eq!(
        observers,
        vec![
            "Probe::on_config_changed",
            "Probe::second_on_config_changed"
        ]
    );
    assert_eq!(h.notices()[0].handle, h.notices()[1].handle);
}

#[test]
fn failing_handler_commits_nothing() {
    let mut h = harness();
    h.update_config([("defer-start", json!(true))]).unwrap();
    h.fire_hook("start").unwrap();
    let peers = h.add_relation("replicas", "probe").unwrap();
    let state_before = std::fs::read(h.charm_dir().join(".unit-state.json")).unwrap();
    let notices_before = h.notices().to_vec();
    let err = h.update_config([("fail-config", json!(true))]).unwrap_err();
    assert!(
        err.to_string().contains("config handler failed on purpose"),
        "{err}"
    );
    assert_eq!(
        std::fs::read(h.charm_dir().join(".unit-state.json")).unwrap(),
        state_before
    );
    assert_eq!(h.notices(), notices_before.as_slice());
    // The same dispatch's relation writes are dropped too.
    assert!(h.get_relation_data(peers, h.unit_name()).is_empty());
}

#[test]
fn corrupt_state_file_fails_the_dispatch_and_is_left_alone() {
    let mut h = harness();
    h.fire_hook("install").unwrap();
    let path = h.charm_dir().join(".unit-state.json");
    std::fs::write(&path, "{ not json").unwrap();
    let err = h.fire_hook("start").unwrap_err();
    assert!(err.to_string().contains("corrupt"), "{err}");
    assert_eq!(std::fs::read_to_string(&path).unwrap(), "{ not json");
}

#[test]
fn unknown_event_collects_status_and_succeeds() {
    let mut h = harness();
    h.update_config([("status", json!("waiting"))]).unwrap();
    h.fire_hook("frobnicate").unwrap();
    assert_eq!(h.unit_status(), Status::waiting("later"));
    let logs = h.logs();
    assert!(
        logs.iter()
            .any(|l| l.level == "DEBUG" && l.message.contains("frobnicate")),
        "{logs:?}"
    );
}

#[test]
fn status_priority_and_app_status_on_leader_only() {
    let mut h = harness();
    h.update_config([("status", json!("blocked"))]).unwrap();
    assert_eq!(h.unit_status(), Status::blocked("needs a human"));
    assert_eq!(h.app_status(), Status::unknown());
    h.set_leader(true).unwrap();
    assert_eq!(h.app_status(), Status::maintenance("app busy"));
}

#[test]
fn app_status_is_collected_before_unit_status_as_python_does() {
    let mut h = harness();
    h.set_leader(true).unwrap();
    h.clear_emitted();
    h.fire_hook("update-status").unwrap();
    let collect: Vec<&str> = h
        .emitted()
        .iter()
        .map(|e| e.event.as_str())
        .filter(|e| e.starts_with("collect_"))
        .collect();
    assert_eq!(collect, ["collect_app_status", "collect_unit_status"]);
}

#[test]
fn custom_events_reach_their_observers_after_the_emitter() {
    let mut h = harness();
    h.fire_hook("update-status").unwrap();
    let calls = calls(&h);
    assert!(
        calls[0].starts_with("update-status Probe/on/update_status["),
        "{calls:?}"
    );
    assert!(
        calls[1].starts_with("pinged-from-update-status Probe/on/pinged["),
        "{calls:?}"
    );
}

#[test]
fn relation_event_is_restored_from_its_snapshot() {
    let mut h = harness();
    let db = h.add_relation("db", "postgresql").unwrap();
    h.add_relation_unit(db, "postgresql/0").unwrap();
    assert_eq!(h.notices().len(), 1);
    assert_eq!(h.notices()[0].snapshot["unit"], json!("postgresql/0"));
    h.update_relation_data(db, "postgresql", &[("ready", "yes")])
        .unwrap();
    // The re-emitted notice still names postgresql/0; the new event has no remote unit.
    let calls = calls(&h);
    let last_two: Vec<&str> = calls
        .iter()
        .rev()
        .take(2)
        .rev()
        .map(String::as_str)
        .collect();
    assert!(
        last_two[0].starts_with("db-changed-postgresql/0"),
        "{last_two:?}"
    );
    assert!(last_two[1].starts_with("db-changed- "), "{last_two:?}");
    assert!(h.notices().is_empty());
}

#[test]
fn notice_of_a_vanished_observer_is_dropped_with_a_warning() {
    struct Other;
    impl Charm for Other {
        fn new(_: &mut Framework<Self>) -> Result<Self, HandlerError> {
            Ok(Other)
        }
    }
    let mut h = harness();
    h.update_config([("defer-config", json!(true))]).unwrap();
    let dir = h.charm_dir();
    let mut other = Harness::<Other>::new(META).unwrap();
    other.begin();
    std::fs::copy(
        dir.join(".unit-state.json"),
        other.charm_dir().join(".unit-state.json"),
    )
    .unwrap();
    other.fire_hook("update-status").unwrap();
    assert!(other.notices().is_empty());
    assert!(
        other
            .logs()
            .iter()
            .any(|l| l.level == "WARNING" && l.message.contains("no longer exists"))
    );
}

#[test]
fn stored_state_survives_dispatches() {
    let mut h = harness();
    for _ in 0..3 {
        h.update_config([("status", json!("active"))]).unwrap();
    }
    assert_eq!(h.charm().unwrap().journal.get().config_changes, 3);
}

struct Misregistered;

impl Charm for Misregistered {
    fn new(fw: &mut Framework<Self>) -> Result<Self, HandlerError> {
        fw.observe_relation("no-such-endpoint", Self::on_changed)?;
        Ok(Misregistered)
    }
}

impl Misregistered {
    fn on_changed(&mut self, _: &RelationChanged, _: &mut Ctx) -> HandlerResult {
        Ok(())
    }
}

#[test]
fn observing_an_undeclared_endpoint_fails_at_registration() {
    let mut h = Harness::<Misregistered>::new(META).unwrap();
    h.begin();
    let err = h.fire_hook("install").unwrap_err();
    assert!(err.to_string().contains("no-such-endpoint"), "{err}");
}

struct WithClosure;

impl Charm for WithClosure {
    fn new(fw: &mut Framework<Self>) -> Result<Self, HandlerError> {
        let result =
            fw.observe(|_: &mut Self, _: &Install, _: &mut Ctx| -> HandlerResult { Ok(()) });
        match result {
            Err(FrameworkError::ClosureObserver { .. }) => Ok(WithClosure),
            Err(e) => Err(e.into()),
            Ok(_) => Err("a closure observer was accepted".into()),
        }
    }
}

#[test]
fn closures_cannot_observe() {
    let mut h = Harness::<WithClosure>::new(META).unwrap();
    h.begin();
    h.fire_hook("install").unwrap();
}

/// One handler registered twice for an event: refused when the charm
/// registers it, naming the observer.
struct Twice;

impl Charm for Twice {
    fn new(fw: &mut Framework<Self>) -> Result<Self, HandlerError> {
        fw.observe(Self::on_install)?;
        match fw.observe(Self::on_install) {
            Err(FrameworkError::DuplicateObserver { event, observer })
                if event == "install" && observer == "Twice::on_install" =>
            {
                Ok(Twice)
            }
            other => Err(format!("on_install twice: {:?}", other.err()).into()),
        }
    }
}

impl Twice {
    fn on_install(&mut self, _: &Install, _: &mut Ctx) -> HandlerResult {
        Ok(())
    }
}

#[test]
fn one_handler_observes_an_event_once() {
    let mut h = Harness::<Twice>::new(META).unwrap();
    h.begin();
    h.fire_hook("install").unwrap();
}

#[test]
fn log_lines_reach_juju_log_with_mapped_levels() {
    struct Chatty;
    impl Charm for Chatty {
        fn new(fw: &mut Framework<Self>) -> Result<Self, HandlerError> {
            fw.observe(Self::on_install)?;
            Ok(Chatty)
        }
    }
    impl Chatty {
        fn on_install(&mut self, _: &Install, _: &mut Ctx) -> HandlerResult {
            ops::tracing::warn!(port = 6432, "careful");
            ops::tracing::error!("broken");
            Ok(())
        }
    }
    let mut h = Harness::<Chatty>::new(META).unwrap();
    h.begin();
    h.fire_hook("install").unwrap();
    let logs = h.logs();
    assert!(
        logs.iter()
            .any(|l| l.level == "WARNING" && l.message == "careful port=6432"),
        "{logs:?}"
    );
    assert!(
        logs.iter()
            .any(|l| l.level == "ERROR" && l.message == "broken"),
        "{logs:?}"
    );
}

#[test]
fn juju_state_store_keeps_state_in_the_controller() {
    use ops::storage::{JujuStateStore, StateStore};
    use ops_testing::fake_juju::{FakeJuju, FakeTools, HookContext};
    use std::sync::{Arc, Mutex};

    let meta = ops::CharmMeta::from_charmcraft_yaml(META).unwrap();
    let mut juju = FakeJuju::new("m");
    juju.deploy("probe", &meta, 1);
    let juju = Arc::new(Mutex::new(juju));
    let run = |hook: &str| {
        let ctx = HookContext::unit("probe/0");
        juju.lock().unwrap().begin_hook(&ctx);
        let backend = Arc::new(FakeTools::new(juju.clone(), ctx).hook_tools());
        let context = ops::JujuContext::from_vars([
            ("JUJU_DISPATCH_PATH", format!("hooks/{hook}")),
            ("JUJU_UNIT_NAME", "probe/0".to_string()),
            ("JUJU_CHARM_DIR", "/nonexistent".to_string()),
        ])
        .unwrap();
        let result = ops::dispatch::<Probe>(ops::DispatchSetup {
            context,
            backend: backend.clone(),
            store: Box::new(JujuStateStore::new(backend)),
            meta: Arc::new(meta.clone()),
            containers_dir: "/nonexistent".into(),
            pebble_transports: Default::default(),
            log_level: ops::tracing::Level::INFO,
        });
        juju.lock().unwrap().end_hook("probe/0", result.is_ok());
        result
    };
    run("install").unwrap();
    run("start").unwrap();
    let calls = run("update-status")
        .unwrap()
        .charm
        .journal
        .get()
        .calls
        .clone();
    assert_eq!(
        calls.len(),
        4,
        "install, start, update-status, pinged: {calls:?}"
    );
    let journal_key = format!(
        "{}Probe/StoredState[journal]",
        ops::storage::JUJU_STORED_PREFIX
    );
    let saved = juju.lock().unwrap().units["probe/0"].state[&journal_key].clone();
    assert!(saved.contains("update-status"), "{saved}");

    // A corrupt value in the controller is an error, and is left as it is.
    juju.lock()
        .unwrap()
        .units
        .get_mut("probe/0")
        .unwrap()
        .state
        .insert(journal_key, "{oops".into());
    let err = run("update-status").unwrap_err();
    assert!(err.to_string().contains("corrupt"), "{err}");
    let store = JujuStateStore::new(Arc::new(
        FakeTools::new(juju.clone(), HookContext::unit("probe/0")).hook_tools(),
    ));
    assert!(store.load().is_err());
}

mod observer_keys {
    use super::*;

    mod first {
        pub fn on_start(
            _: &mut super::Twins,
            _: &ops::events::Start,
            _: &mut ops::Ctx,
        ) -> ops::HandlerResult<ops::Outcome> {
            Ok(ops::Outcome::Defer)
        }
    }

    mod second {
        pub fn on_start(
            _: &mut super::Twins,
            _: &ops::events::Start,
            _: &mut ops::Ctx,
        ) -> ops::HandlerResult<ops::Outcome> {
            Ok(ops::Outcome::Done)
        }
    }

    pub struct Twins;

    impl Charm for Twins {
        fn new(fw: &mut Framework<Self>) -> Result<Self, HandlerError> {
            fw.observe(first::on_start)?
                .observe_as("second_on_start", second::on_start)?;
            Ok(Twins)
        }
    }

    struct Clash;

    impl Charm for Clash {
        fn new(fw: &mut Framework<Self>) -> Result<Self, HandlerError> {
            fw.observe(first_clash::on_start)?
                .observe(second_clash::on_start)?;
            Ok(Clash)
        }
    }

    mod first_clash {
        pub fn on_start(
            _: &mut super::Clash,
            _: &ops::events::Start,
            _: &mut ops::Ctx,
        ) -> ops::HandlerResult {
            Ok(())
        }
    }

    mod second_clash {
        pub fn on_start(
            _: &mut super::Clash,
            _: &ops::events::Start,
            _: &mut ops::Ctx,
        ) -> ops::HandlerResult {
            Ok(())
        }
    }

    #[test]
    fn observers_are_keyed_by_charm_and_function_name_not_module_path() {
        let mut h = Harness::<Twins>::new(META).unwrap();
        h.begin();
        h.fire_hook("start").unwrap();
        let observers: Vec<&str> = h.notices().iter().map(|n| n.observer.as_str()).collect();
        assert_eq!(observers, ["Twins::on_start"]);
        let emitted: Vec<&str> = h.emitted().iter().map(|e| e.observer.as_str()).collect();
        assert_eq!(emitted, ["Twins::on_start", "Twins::second_on_start"]);

        let mut h = Harness::<Clash>::new(META).unwrap();
        h.begin();
        let err = h.fire_hook("start").unwrap_err().to_string();
        assert!(
            err.contains("Clash::on_start already observes start"),
            "{err}"
        );
    }

    /// Notices are found by `<Charm>::<function>` only: a key in another
    /// form (the function's full type name, as no release ever saved) names
    /// no observer, and the notice is dropped with a warning rather than
    /// handed to a function that merely looks alike.
    #[test]
    fn a_notice_under_the_functions_type_name_names_no_observer() {
        let mut h = Harness::<Twins>::new(META).unwrap();
        h.begin();
        let type_name = std::any::type_name_of_val(&first::on_start);
        let state = json!({
            "format": 1,
            "event_count": 5,
            "notices": [{
                "handle": "Twins/on/start[5]",
                "observer": type_name,
                "event": "start",
                "snapshot": {},
            }],
            "stored": {},
        });
        std::fs::create_dir_all(h.charm_dir()).unwrap();
        std::fs::write(h.charm_dir().join(".unit-state.json"), state.to_string()).unwrap();
        h.fire_hook("update-status").unwrap();
        assert!(
            h.emitted().iter().all(|e| !e.reemitted),
            "{:?}",
            h.emitted()
        );
        assert!(h.notices().is_empty(), "{:?}", h.notices());
    }
}

mod custom_event_names {
    use super::*;
    use ops::events::UpdateStatus;

    mod lib_a {
        #[derive(Debug, serde::Serialize, serde::Deserialize)]
        pub struct DatabaseReady {
            pub from: String,
        }
        impl ops::CustomEvent for DatabaseReady {
            const NAME: &'static str = "database_ready";
            const NAMESPACE: &'static str = "lib_a";
        }
    }

    mod lib_b {
        #[derive(Debug, serde::Serialize, serde::Deserialize)]
        pub struct DatabaseReady {
            pub from: String,
        }
        impl ops::CustomEvent for DatabaseReady {
            const NAME: &'static str = "database_ready";
            const NAMESPACE: &'static str = "lib_b";
        }
    }

    #[derive(Debug, Serialize, Deserialize)]
    struct Plain {
        n: u32,
    }
    impl CustomEvent for Plain {
        const NAME: &'static str = "database_ready";
    }

    #[derive(Debug, Serialize, Deserialize)]
    struct Again {
        n: u32,
    }
    impl CustomEvent for Again {
        const NAME: &'static str = "again";
    }

    pub struct TwoLibs {
        seen: Vec<String>,
    }

    impl Charm for TwoLibs {
        fn new(fw: &mut Framework<Self>) -> Result<Self, HandlerError> {
            fw.observe(Self::on_update_status)?
                .observe(Self::on_a_ready)?
                .observe(Self::on_b_ready)?;
            Ok(Self { seen: Vec::new() })
        }
    }

    impl TwoLibs {
        fn on_update_status(&mut self, _: &UpdateStatus, ctx: &mut Ctx) -> HandlerResult {
            ctx.emit(lib_a::DatabaseReady { from: "a".into() })?;
            Ok(())
        }
        fn on_a_ready(&mut self, e: &lib_a::DatabaseReady, _: &mut Ctx) -> HandlerResult {
            self.seen.push(format!("a got {}", e.from));
            Ok(())
        }
        fn on_b_ready(&mut self, e: &lib_b::DatabaseReady, _: &mut Ctx) -> HandlerResult {
            self.seen.push(format!("b got {}", e.from));
            Ok(())
        }
    }

    #[test]
    fn two_libraries_can_both_define_database_ready() {
        let mut h = Harness::<TwoLibs>::new(META).unwrap();
        h.begin();
        h.fire_hook("update-status").unwrap();
        assert_eq!(h.charm().unwrap().seen, ["a got a"]);
        let events: Vec<&str> = h.emitted().iter().map(|e| e.event.as_str()).collect();
        assert!(events.contains(&"lib_a.database_ready"), "{events:?}");
    }

    struct Clashing;

    impl Charm for Clashing {
        fn new(fw: &mut Framework<Self>) -> Result<Self, HandlerError> {
            fw.observe(Self::on_plain)?.observe(Self::on_plain_too)?;
            Ok(Clashing)
        }
    }

    impl Clashing {
        fn on_plain(&mut self, _: &Plain, _: &mut Ctx) -> HandlerResult {
            Ok(())
        }
        fn on_plain_too(&mut self, _: &PlainToo, _: &mut Ctx) -> HandlerResult {
            Ok(())
        }
    }

    #[derive(Debug, Serialize, Deserialize)]
    struct PlainToo {}
    impl CustomEvent for PlainToo {
        const NAME: &'static str = "database_ready";
    }

    #[test]
    fn two_types_under_one_name_are_refused() {
        let mut h = Harness::<Clashing>::new(META).unwrap();
        h.begin();
        let err = h.fire_hook("install").unwrap_err().to_string();
        assert!(err.contains("database_ready"), "{err}");
        assert!(err.contains("NAMESPACE"), "{err}");
    }

    struct Looping;

    impl Charm for Looping {
        fn new(fw: &mut Framework<Self>) -> Result<Self, HandlerError> {
            fw.observe(Self::on_update_status)?
                .observe(Self::on_again)?;
            Ok(Looping)
        }
    }

    impl Looping {
        fn on_update_status(&mut self, _: &UpdateStatus, ctx: &mut Ctx) -> HandlerResult {
            ctx.emit(Again { n: 0 })?;
            Ok(())
        }
        fn on_again(&mut self, e: &Again, ctx: &mut Ctx) -> HandlerResult {
            ctx.emit(Again { n: e.n + 1 })?;
            Ok(())
        }
    }

    #[test]
    fn custom_events_that_emit_themselves_stop_at_a_bound() {
        let mut h = Harness::<Looping>::new(META).unwrap();
        h.begin();
        match h.fire_hook("update-status").unwrap_err() {
            ops_testing::HarnessError::Dispatch(ops::DispatchError::Framework(
                FrameworkError::EmitTooDeep { event, limit },
            )) => {
                assert_eq!(event, "again");
                assert_eq!(limit, ops::framework::MAX_EMIT_DEPTH);
            }
            other => panic!("expected EmitTooDeep, got {other:?}"),
        }
    }
}

#[test]
fn a_deferred_notice_that_no_longer_fits_is_kept_and_its_data_not_logged() {
    let mut h = harness();
    let state = json!({
        "format": 1,
        "event_count": 9,
        "notices": [{
            "handle": "Probe/on/pinged[9]",
            "observer": "Probe::on_pinged",
            "event": "pinged",
            "snapshot": {"from": 987654321},
        }],
        "stored": {},
    });
    std::fs::create_dir_all(h.charm_dir()).unwrap();
    std::fs::write(h.charm_dir().join(".unit-state.json"), state.to_string()).unwrap();
    h.fire_hook("install").unwrap();
    assert_eq!(h.notices().len(), 1, "kept, not lost");
    let logs = h.logs();
    let warning = logs
        .iter()
        .find(|l| l.level == "WARNING" && l.message.contains("cannot be restored"))
        .expect("a warning about the notice");
    assert!(
        !warning.message.contains("987654321"),
        "{}",
        warning.message
    );
}
