//! ops' `JujuStateStore` against the fake Juju: one key per stored state and
//! for the notice queue, one `state-get` per dispatch, `state-set` of the
//! changed keys only, nothing when nothing changed, the old single-key form
//! migrated, and Juju's 64 KiB quota per value.

use std::sync::{Arc, Mutex};

use ops::events::{ConfigChanged, UpdateStatus};
use ops::storage::{
    JUJU_COUNTER_KEY, JUJU_LEGACY_STATE_KEY, JUJU_NOTICES_KEY, JUJU_STORED_PREFIX, JujuStateStore,
    MAX_NOTICES, StorageError,
};
use ops::{
    Charm, CustomEvent, DispatchError, Dispatched, Framework, FrameworkError, HandlerError,
    HandlerResult, Outcome, StoredState,
};
use ops_testing::fake_juju::{Bag, FakeBackend, FakeJuju, HookContext};
use serde::{Deserialize, Serialize};

const META: &str = r#"
name: keeper
config:
  options:
    size: {type: int, default: 0}
    defer: {type: int, default: 0}
"#;

#[derive(Debug, Default, Serialize, Deserialize)]
struct Big {
    text: String,
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct Small {
    changes: u32,
}

#[derive(Debug, Serialize, Deserialize)]
struct Work {
    n: i64,
}

impl CustomEvent for Work {
    const NAME: &'static str = "work";
}

struct Keeper {
    big: StoredState<Big>,
    small: StoredState<Small>,
}

impl Charm for Keeper {
    fn new(fw: &mut Framework<Self>) -> Result<Self, HandlerError> {
        let big = fw.stored_state("big")?;
        let small = fw.stored_state("small")?;
        fw.observe(Self::on_config_changed)?
            .observe(Self::on_update_status)?
            .observe(Self::on_work)?;
        Ok(Self { big, small })
    }
}

impl Keeper {
    fn on_config_changed(&mut self, _: &ConfigChanged, ctx: &mut ops::Ctx) -> HandlerResult {
        let config = ctx.model().config()?;
        let size = config.get_int("size")?.unwrap_or(0) as usize;
        self.big.get_mut().text = "x".repeat(size);
        self.small.get_mut().changes += 1;
        for n in 0..config.get_int("defer")?.unwrap_or(0) {
            ctx.emit(Work { n })?;
        }
        Ok(())
    }

    fn on_update_status(&mut self, _: &UpdateStatus, _: &mut ops::Ctx) -> HandlerResult {
        Ok(())
    }

    fn on_work(&mut self, _: &Work, _: &mut ops::Ctx) -> HandlerResult<Outcome> {
        Ok(Outcome::Defer)
    }
}

struct World {
    juju: Arc<Mutex<FakeJuju>>,
    meta: Arc<ops::CharmMeta>,
}

impl World {
    fn new() -> Self {
        let meta = ops::CharmMeta::from_charmcraft_yaml(META).unwrap();
        let mut juju = FakeJuju::new("m");
        juju.deploy("keeper", &meta, 1);
        Self {
            juju: Arc::new(Mutex::new(juju)),
            meta: Arc::new(meta),
        }
    }

    fn set_config(&self, key: &str, value: i64) {
        self.juju
            .lock()
            .unwrap()
            .apps
            .get_mut("keeper")
            .unwrap()
            .config
            .insert(key.into(), value.into());
    }

    fn state(&self) -> Bag {
        self.juju.lock().unwrap().units["keeper/0"].state.clone()
    }

    fn poke(&self, key: &str, value: &str) {
        self.juju
            .lock()
            .unwrap()
            .units
            .get_mut("keeper/0")
            .unwrap()
            .state
            .insert(key.into(), value.into());
    }

    /// One dispatch; the hook tools it called, by name.
    fn run(&self, hook: &str) -> (Result<Dispatched<Keeper>, DispatchError>, Vec<String>) {
        let ctx = HookContext::unit("keeper/0");
        self.juju.lock().unwrap().begin_hook(&ctx);
        let backend = Arc::new(FakeBackend::new(self.juju.clone(), ctx));
        let context = ops::JujuContext::from_vars([
            ("JUJU_DISPATCH_PATH", format!("hooks/{hook}")),
            ("JUJU_UNIT_NAME", "keeper/0".to_string()),
            ("JUJU_CHARM_DIR", "/nonexistent".to_string()),
        ])
        .unwrap();
        let result = ops::dispatch::<Keeper>(ops::DispatchSetup {
            context,
            backend: backend.clone(),
            store: Box::new(JujuStateStore::new(backend.clone())),
            meta: self.meta.clone(),
            containers_dir: "/nonexistent".into(),
            log_level: ops::tracing::Level::INFO,
        });
        self.juju
            .lock()
            .unwrap()
            .end_hook("keeper/0", result.is_ok());
        let calls = backend
            .calls()
            .into_iter()
            .filter(|c| c.starts_with("state-"))
            .collect();
        (result, calls)
    }
}

fn stored_key(name: &str) -> String {
    format!("{JUJU_STORED_PREFIX}Keeper/StoredState[{name}]")
}

#[test]
fn each_stored_state_has_its_own_key_and_unchanged_keys_are_not_sent() {
    let w = World::new();
    w.set_config("size", 40_000);
    let (result, calls) = w.run("config-changed");
    result.unwrap();
    assert_eq!(calls, ["state-get", "state-set"]);
    let state = w.state();
    assert!(state.contains_key(JUJU_COUNTER_KEY), "{:?}", state.keys());
    assert!(state[&stored_key("big")].len() > 40_000);
    assert_eq!(state[&stored_key("small")], r#"{"changes":1}"#);
    assert!(!state.contains_key(JUJU_LEGACY_STATE_KEY));
    assert!(!state.contains_key(JUJU_NOTICES_KEY), "no notices, no key");
    // Two values of 40 KB each: together over 64 KiB, each under it.
    w.set_config("size", 40_001);
    w.run("config-changed").0.unwrap();
    assert_eq!(w.state()[&stored_key("small")], r#"{"changes":2}"#);
    assert!(w.state()[&stored_key("big")].len() > 40_000);
}

#[test]
fn a_key_that_did_not_change_is_not_rewritten() {
    let w = World::new();
    w.run("config-changed").0.unwrap();
    w.set_config("defer", 1);
    w.run("config-changed").0.unwrap();
    // `big` is unchanged by the next dispatch (same size). Spell its value
    // differently in the controller: if the dispatch, which changes
    // `small`, sent `big` again, the spelling would be its own.
    w.poke(&stored_key("big"), r#"{ "text" : "" }"#);
    let before = w.state();
    let (result, calls) = w.run("config-changed");
    result.unwrap();
    assert_eq!(calls, ["state-get", "state-set"]);
    let after = w.state();
    assert_eq!(after[&stored_key("big")], r#"{ "text" : "" }"#);
    assert_ne!(after[&stored_key("small")], before[&stored_key("small")]);
}

#[test]
fn a_dispatch_that_changes_nothing_writes_nothing() {
    let w = World::new();
    w.run("config-changed").0.unwrap();
    let before = w.state();
    let (result, calls) = w.run("update-status");
    result.unwrap();
    assert_eq!(calls, ["state-get"], "one state-get, no state-set");
    assert_eq!(w.state(), before);
}

#[test]
fn the_notice_queue_has_its_own_key() {
    let w = World::new();
    w.set_config("defer", 3);
    w.run("config-changed").0.unwrap();
    let queue: Vec<serde_json::Value> = serde_json::from_str(&w.state()[JUJU_NOTICES_KEY]).unwrap();
    assert_eq!(queue.len(), 3);
    assert!(!w.state()[JUJU_NOTICES_KEY].contains("StoredState"));
}

#[test]
fn the_old_single_key_form_is_read_and_migrated() {
    let w = World::new();
    let legacy = serde_json::json!({
        "format": 1,
        "event_count": 41,
        "notices": [],
        "stored": {"Keeper/StoredState[small]": {"changes": 10}},
    });
    w.poke(JUJU_LEGACY_STATE_KEY, &legacy.to_string());
    let (result, calls) = w.run("update-status");
    let dispatched = result.unwrap();
    assert_eq!(dispatched.charm.small.get().changes, 10);
    assert_eq!(calls, ["state-get", "state-set", "state-delete"]);
    let state = w.state();
    assert!(!state.contains_key(JUJU_LEGACY_STATE_KEY));
    assert_eq!(state[&stored_key("small")], r#"{"changes":10}"#);
    let counter: serde_json::Value = serde_json::from_str(&state[JUJU_COUNTER_KEY]).unwrap();
    assert!(counter["event_count"].as_u64().unwrap() > 41, "{counter}");
}

#[test]
fn a_value_over_64_kib_is_a_clear_error_and_nothing_is_committed() {
    let w = World::new();
    w.run("config-changed").0.unwrap();
    let before = w.state();
    w.set_config("size", 70_000);
    let (result, calls) = w.run("config-changed");
    match result {
        Err(DispatchError::Storage(StorageError::TooLarge { key, limit, .. })) => {
            assert_eq!(key, stored_key("big"));
            assert_eq!(limit, 64 * 1024);
        }
        Err(other) => panic!("expected TooLarge, got {other}"),
        Ok(_) => panic!("expected TooLarge, got success"),
    }
    assert_eq!(calls, ["state-get"], "nothing sent");
    assert_eq!(w.state(), before);
}

#[test]
fn the_fake_state_set_refuses_a_value_over_64_kib_as_juju_does() {
    use ops::backend::{Backend, BackendError};
    let w = World::new();
    let ctx = HookContext::unit("keeper/0");
    w.juju.lock().unwrap().begin_hook(&ctx);
    let backend = FakeBackend::new(w.juju.clone(), ctx);
    let ok = Bag::from([("k".to_string(), "x".repeat(64 * 1024))]);
    backend.state_set(&ok).unwrap();
    let big = Bag::from([("k2".to_string(), "x".repeat(64 * 1024 + 1))]);
    match backend.state_set(&big).unwrap_err() {
        BackendError::ToolFailed { stderr, .. } => {
            assert!(stderr.contains("quota limit exceeded"), "{stderr}")
        }
        other => panic!("{other:?}"),
    }
    assert!(!backend.state_get().unwrap().contains_key("k2"));
}

#[test]
fn deferring_past_the_queue_bound_fails_the_dispatch_and_drops_nothing() {
    let w = World::new();
    w.set_config("defer", 3);
    w.run("config-changed").0.unwrap();
    let before = w.state();
    w.set_config("defer", MAX_NOTICES as i64 + 1);
    let (result, _) = w.run("config-changed");
    match result {
        Err(DispatchError::Framework(FrameworkError::TooManyNotices { limit, .. })) => {
            assert_eq!(limit, MAX_NOTICES)
        }
        Err(other) => panic!("expected TooManyNotices, got {other}"),
        Ok(_) => panic!("expected TooManyNotices, got success"),
    }
    assert_eq!(w.state(), before, "the queue as committed before");
}

#[test]
fn the_harness_can_keep_state_in_juju_and_it_survives_a_new_charm_dir() {
    use ops_testing::Harness;
    let mut h = Harness::<Keeper>::new(META)
        .unwrap()
        .with_state_location(ops::StateLocation::Juju);
    h.begin();
    h.update_config([("size", serde_json::json!(3))]).unwrap();
    h.update_config([("size", serde_json::json!(4))]).unwrap();
    assert!(
        !h.charm_dir().join(ops::storage::STATE_FILE_NAME).exists(),
        "nothing in the charm directory"
    );
    let unit = h.unit_name().to_string();
    let saved = h.juju().units[&unit].state.clone();
    assert_eq!(saved[&stored_key("small")], r#"{"changes":2}"#);
    // Pod churn: the charm directory is new; Juju's unit state is not.
    std::fs::remove_dir_all(h.charm_dir()).unwrap();
    std::fs::create_dir_all(h.charm_dir()).unwrap();
    h.update_config([("size", serde_json::json!(5))]).unwrap();
    assert_eq!(h.charm().unwrap().small.get().changes, 3);
}

mod props {
    use super::*;
    use ops::storage::{Notice, PersistedState, StateStore};
    use proptest::prelude::*;

    fn state_strategy() -> impl Strategy<Value = PersistedState> {
        (
            0u64..1000,
            proptest::collection::btree_map("[A-Za-z]{1,8}", "[ -~]{0,40}", 0..5),
            proptest::collection::vec(("[a-z_]{1,10}", "[ -~]{0,20}"), 0..4),
        )
            .prop_map(|(count, stored, notices)| {
                let mut state = PersistedState {
                    event_count: count,
                    ..Default::default()
                };
                for (k, v) in stored {
                    state
                        .stored
                        .insert(format!("C/StoredState[{k}]"), serde_json::json!({ "v": v }));
                }
                for (i, (event, data)) in notices.into_iter().enumerate() {
                    state.notices.push(Notice {
                        handle: format!("C/on/{event}[{i}]"),
                        observer: format!("C::on_{event}"),
                        event,
                        snapshot: serde_json::json!({ "data": data }),
                    });
                }
                state
            })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(48))]

        #[test]
        fn prop_juju_state_round_trips_and_a_second_save_sends_nothing(
            first in state_strategy(),
            second in state_strategy(),
        ) {
            let w = World::new();
            for state in [&first, &second] {
                let ctx = HookContext::unit("keeper/0");
                w.juju.lock().unwrap().begin_hook(&ctx);
                let backend = Arc::new(FakeBackend::new(w.juju.clone(), ctx));
                let store = JujuStateStore::new(backend.clone());
                store.load().unwrap();
                store.save(state).unwrap();
                // Saving what was just saved sends nothing more.
                let before = backend.calls().len();
                store.save(state).unwrap();
                prop_assert_eq!(backend.calls().len(), before);
                w.juju.lock().unwrap().end_hook("keeper/0", true);
                let ctx = HookContext::unit("keeper/0");
                let reader = JujuStateStore::new(Arc::new(FakeBackend::new(w.juju.clone(), ctx)));
                let loaded = reader.load().unwrap();
                prop_assert_eq!(&loaded.stored, &state.stored);
                prop_assert_eq!(&loaded.notices, &state.notices);
            }
        }
    }
}
