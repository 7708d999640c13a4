//! Never leak, never wedge: panics, restricted hooks and the unit-state
//! store, through the Harness (which runs the real `ops::dispatch`).

use ops::events::{CollectUnitStatus, ConfigChanged};
use ops::{Charm, Ctx, DispatchError, Framework, HandlerError, HandlerResult, Status, StoredState};
use ops_testing::{Harness, HarnessError};
use serde::{Deserialize, Serialize};
use serde_json::json;

const META: &str = r#"
name: wedge
config:
  options:
    panic: {type: boolean, default: false}
"#;

#[derive(Debug, Default, Serialize, Deserialize)]
struct Counter {
    changes: u32,
}

struct Wedge {
    counter: StoredState<Counter>,
}

impl Charm for Wedge {
    fn new(fw: &mut Framework<Self>) -> Result<Self, HandlerError> {
        let counter = fw.stored_state("counter")?;
        fw.observe(Self::on_config_changed)?
            .observe(Self::on_collect)?;
        Ok(Self { counter })
    }
}

impl Wedge {
    fn on_config_changed(&mut self, _: &ConfigChanged, ctx: &mut Ctx) -> HandlerResult {
        self.counter.get_mut().changes += 1;
        if ctx.model().config()?.get::<bool>("panic")?.unwrap_or(false) {
            panic!("index out of range in on_config_changed");
        }
        Ok(())
    }

    fn on_collect(&mut self, _: &CollectUnitStatus, _: &mut Ctx) -> HandlerResult<Status> {
        Ok(Status::active(""))
    }
}

#[test]
fn a_panicking_handler_is_logged_at_error_and_commits_nothing() {
    let mut harness = Harness::<Wedge>::new(META).unwrap();
    harness.begin();
    harness.update_config([("panic", json!(false))]).unwrap();
    assert_eq!(harness.charm().unwrap().counter.get().changes, 1);

    let err = harness.update_config([("panic", json!(true))]).unwrap_err();
    match &err {
        HarnessError::Dispatch(DispatchError::Panicked { message }) => {
            assert!(message.contains("index out of range"), "{message}");
        }
        other => panic!("expected a panic error, got {other:?}"),
    }
    let errors: Vec<_> = harness
        .logs()
        .into_iter()
        .filter(|l| l.level == "ERROR")
        .collect();
    assert!(
        errors.iter().any(|l| l
            .message
            .contains("index out of range in on_config_changed")),
        "{errors:?}"
    );
    // Nothing of the failed dispatch was committed: the counter is as the
    // last successful dispatch left it.
    harness.update_config([("panic", json!(false))]).unwrap();
    assert_eq!(harness.charm().unwrap().counter.get().changes, 2);
}

mod restricted {
    use ops::events::{CollectMetrics, CollectUnitStatus, ConfigChanged};
    use ops::{Charm, Ctx, Framework, HandlerError, HandlerResult, Outcome, Status};
    use ops_testing::Harness;
    use serde_json::json;

    const META: &str = r#"
name: metered
peers:
  peers: {interface: metered}
config:
  options:
    defer: {type: boolean, default: true}
"#;

    pub struct Metered {
        pub metrics: u32,
    }

    impl Charm for Metered {
        fn new(fw: &mut Framework<Self>) -> Result<Self, HandlerError> {
            fw.observe(Self::on_config_changed)?
                .observe(Self::on_collect_metrics)?
                .observe(Self::on_collect)?;
            Ok(Self { metrics: 0 })
        }
    }

    impl Metered {
        fn on_config_changed(
            &mut self,
            _: &ConfigChanged,
            ctx: &mut Ctx,
        ) -> HandlerResult<Outcome> {
            // config-get: refused in a restricted hook.
            let defer = ctx.model().config()?.get::<bool>("defer")?.unwrap_or(true);
            Ok(if defer { Outcome::Defer } else { Outcome::Done })
        }

        fn on_collect_metrics(&mut self, _: &CollectMetrics, _: &mut Ctx) -> HandlerResult {
            self.metrics += 1;
            Ok(())
        }

        fn on_collect(&mut self, _: &CollectUnitStatus, _: &mut Ctx) -> HandlerResult<Status> {
            Ok(Status::active(""))
        }
    }

    #[test]
    fn restricted_hooks_skip_reemission_collect_status_and_the_state_store() {
        let mut harness = Harness::<Metered>::new(META).unwrap();
        harness.begin();
        harness.update_config([("defer", json!(true))]).unwrap();
        assert_eq!(harness.notices().len(), 1);
        let state_file = harness.charm_dir().join(ops::storage::STATE_FILE_NAME);
        let saved = std::fs::read_to_string(&state_file).unwrap();
        harness.clear_emitted();

        harness.fire_hook("collect-metrics").unwrap();
        assert_eq!(harness.charm().unwrap().metrics, 1);
        harness.fire_hook("meter-status-changed").unwrap();
        let events: Vec<_> = harness.emitted().iter().map(|e| e.event.clone()).collect();
        assert_eq!(
            events,
            ["collect_metrics"],
            "no re-emission, no collect-status"
        );
        assert_eq!(std::fs::read_to_string(&state_file).unwrap(), saved);

        // The next ordinary hook re-emits the notice as usual.
        harness.update_config([("defer", json!(false))]).unwrap();
        assert!(harness.notices().is_empty());
    }

    /// A collect-metrics handler that reads config, which Juju refuses
    /// there (issue #25: it failed under Harness and passed under Context).
    pub struct ReadsConfigInMetrics;

    impl Charm for ReadsConfigInMetrics {
        fn new(fw: &mut Framework<Self>) -> Result<Self, HandlerError> {
            fw.observe(Self::on_collect_metrics)?;
            Ok(Self)
        }
    }

    impl ReadsConfigInMetrics {
        fn on_collect_metrics(&mut self, _: &CollectMetrics, ctx: &mut Ctx) -> HandlerResult {
            ctx.model().config()?.get::<bool>("defer")?;
            Ok(())
        }
    }

    #[test]
    fn harness_and_context_both_refuse_config_get_in_collect_metrics() {
        use ops_testing::context::{Context, State};
        use ops_testing::fake_juju::RESTRICTED_CONTEXT;

        let mut harness = Harness::<ReadsConfigInMetrics>::new(META).unwrap();
        harness.begin();
        let err = harness.fire_hook("collect-metrics").unwrap_err();
        assert!(err.to_string().contains(RESTRICTED_CONTEXT), "{err}");

        let mut ctx = Context::<ReadsConfigInMetrics>::new(META).unwrap();
        let err = ctx
            .run(ctx.on.collect_metrics(), &State::default())
            .map(drop)
            .unwrap_err();
        assert!(err.to_string().contains(RESTRICTED_CONTEXT), "{err}");
    }

    #[test]
    fn the_fake_refuses_what_juju_refuses_in_a_restricted_context() {
        use ops::backend::{Backend, StatusInfo, StatusName};
        use ops_testing::fake_juju::{FakeJuju, FakeTools, HookContext, RESTRICTED_CONTEXT};
        use std::sync::{Arc, Mutex};
        let meta = ops::CharmMeta::from_charmcraft_yaml(META).unwrap();
        let mut juju = FakeJuju::new("m");
        juju.deploy("metered", &meta, 1);
        let backend = FakeTools::in_dispatch(
            Arc::new(Mutex::new(juju)),
            HookContext::unit("metered/0"),
            "hooks/collect-metrics",
        )
        .hook_tools();
        let errors = [
            backend.is_leader().map(drop).unwrap_err(),
            backend.config_get().map(drop).unwrap_err(),
            backend.state_get().map(drop).unwrap_err(),
            backend.relation_ids("peers").map(drop).unwrap_err(),
            backend
                .status_set(false, &StatusInfo::new(StatusName::Active, ""))
                .unwrap_err(),
        ];
        for err in errors {
            assert!(err.to_string().contains(RESTRICTED_CONTEXT), "{err}");
        }
        backend
            .juju_log(ops::backend::LogLevel::Info, "allowed")
            .unwrap();
    }
}

/// A charm that reads its config in collect-metrics, which Juju runs in a
/// restricted context: `config-get` is refused there.
struct ReadsConfigInMetrics;

impl Charm for ReadsConfigInMetrics {
    fn new(fw: &mut Framework<Self>) -> Result<Self, HandlerError> {
        fw.observe(Self::on_collect_metrics)?;
        Ok(Self)
    }
}

impl ReadsConfigInMetrics {
    fn on_collect_metrics(
        &mut self,
        _: &ops::events::CollectMetrics,
        ctx: &mut Ctx,
    ) -> HandlerResult {
        ctx.model().config()?;
        Ok(())
    }
}

/// The Harness and Context decide the restricted context the same way
/// (the dispatch's hook, through the same hook tools): a handler that
/// would fail under Juju fails under both.
#[test]
fn a_restricted_hook_refuses_config_get_under_the_harness_and_context() {
    let mut harness = Harness::<ReadsConfigInMetrics>::new(META).unwrap();
    harness.begin();
    let err = harness.fire_hook("collect-metrics").unwrap_err();
    assert!(
        err.to_string()
            .contains(ops_testing::fake_juju::RESTRICTED_CONTEXT),
        "{err}"
    );
    let mut ctx = ops_testing::context::Context::<ReadsConfigInMetrics>::new(META).unwrap();
    let err = ctx
        .run(
            ctx.on.collect_metrics(),
            &ops_testing::context::State::default(),
        )
        .unwrap_err();
    assert!(
        err.to_string()
            .contains(ops_testing::fake_juju::RESTRICTED_CONTEXT),
        "{err}"
    );
}
