//! ops' `JujuStateStore` against the fake Juju: one key per stored state and
//! per deferred notice, one `state-get` per dispatch, `state-set` of the
//! changed keys only, nothing when nothing changed, the older forms (one
//! key for everything, one key for the queue) migrated, and Juju's quotas
//! (64 KiB per value, 256 bytes per key) on both sides.

use std::sync::{Arc, Mutex};

use ops::events::{ConfigChanged, UpdateStatus};
use ops::storage::{
    JUJU_COUNTER_KEY, JUJU_MAX_KEY_BYTES, JUJU_MAX_VALUE_BYTES, JUJU_NOTICE_PREFIX,
    JUJU_STATE_FORMAT, JUJU_STORED_PREFIX, JujuStateStore, MAX_NOTICES, StorageError,
    decode_unit_state,
};
use ops::{
    Charm, CustomEvent, DispatchError, Dispatched, Framework, FrameworkError, HandlerError,
    HandlerResult, Outcome, StoredState,
};
use ops_testing::fake_juju::{Bag, FakeJuju, FakeTools, HookContext};
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
        let size = config.get::<i64>("size")?.unwrap_or(0) as usize;
        self.big.get_mut().text = "x".repeat(size);
        self.small.get_mut().changes += 1;
        for n in 0..config.get::<i64>("defer")?.unwrap_or(0) {
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
    app: String,
    unit: String,
}

impl World {
    fn new() -> Self {
        Self::for_charm(META, "keeper")
    }

    /// One unit of `app`, deployed from `meta`.
    fn for_charm(meta: &str, app: &str) -> Self {
        let meta = ops::CharmMeta::from_charmcraft_yaml(meta).unwrap();
        let mut juju = FakeJuju::new("m");
        juju.deploy(app, &meta, 1);
        Self {
            juju: Arc::new(Mutex::new(juju)),
            meta: Arc::new(meta),
            app: app.to_string(),
            unit: format!("{app}/0"),
        }
    }

    fn set_config(&self, key: &str, value: i64) {
        self.juju
            .lock()
            .unwrap()
            .apps
            .get_mut(&self.app)
            .unwrap()
            .config
            .insert(key.into(), value.into());
    }

    fn state(&self) -> Bag {
        self.juju.lock().unwrap().units[&self.unit].state.clone()
    }

    fn poke(&self, key: &str, value: &str) {
        self.juju
            .lock()
            .unwrap()
            .units
            .get_mut(&self.unit)
            .unwrap()
            .state
            .insert(key.into(), value.into());
    }

    /// One dispatch of `Keeper`; the hook tools it called, by name.
    fn run(&self, hook: &str) -> (Result<Dispatched<Keeper>, DispatchError>, Vec<String>) {
        self.run_as::<Keeper>(hook)
    }

    /// One dispatch of `C`; the state hook tools it called, by name.
    fn run_as<C: Charm>(&self, hook: &str) -> (Result<Dispatched<C>, DispatchError>, Vec<String>) {
        let ctx = HookContext::unit(&self.unit);
        self.juju.lock().unwrap().begin_hook(&ctx);
        let tools = FakeTools::new(self.juju.clone(), ctx);
        let backend = Arc::new(tools.clone().hook_tools());
        let context = ops::JujuContext::from_vars([
            ("JUJU_DISPATCH_PATH", format!("hooks/{hook}")),
            ("JUJU_UNIT_NAME", self.unit.clone()),
            ("JUJU_CHARM_DIR", "/nonexistent".to_string()),
        ])
        .unwrap();
        let result = ops::dispatch::<C>(ops::DispatchSetup {
            context,
            backend: backend.clone(),
            store: Box::new(JujuStateStore::new(backend.clone())),
            meta: self.meta.clone(),
            containers_dir: "/nonexistent".into(),
            pebble_transports: Default::default(),
            log_level: ops::tracing::Level::INFO,
        });
        self.juju
            .lock()
            .unwrap()
            .end_hook(&self.unit, result.is_ok());
        let calls = tools
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
    assert!(
        !state.keys().any(|k| k.starts_with(JUJU_NOTICE_PREFIX)),
        "no notices, no key"
    );
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
fn each_deferred_notice_has_its_own_key() {
    let w = World::new();
    w.set_config("defer", 3);
    w.run("config-changed").0.unwrap();
    let state = w.state();
    let keys: Vec<&String> = state
        .keys()
        .filter(|k| k.starts_with(JUJU_NOTICE_PREFIX))
        .collect();
    assert_eq!(keys.len(), 3, "{keys:?}");
    for (i, key) in keys.iter().enumerate() {
        let notice: serde_json::Value = serde_json::from_str(&state[*key]).unwrap();
        assert_eq!(notice["event"], "work");
        assert_eq!(notice["snapshot"]["n"], i, "{key}");
    }
    let counter: serde_json::Value = serde_json::from_str(&state[JUJU_COUNTER_KEY]).unwrap();
    assert_eq!(counter["format"], JUJU_STATE_FORMAT);
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
    let ctx = HookContext::unit(&w.unit);
    w.juju.lock().unwrap().begin_hook(&ctx);
    let backend = FakeTools::new(w.juju.clone(), ctx).hook_tools();
    let ok = Bag::from([("k".to_string(), "x".repeat(64 * 1024))]);
    backend.state_set(&ok).unwrap();
    let big = Bag::from([("k2".to_string(), "x".repeat(64 * 1024 + 1))]);
    match backend.state_set(&big).unwrap_err() {
        BackendError::ToolFailed { stderr, .. } => {
            assert_eq!(stderr, "ERROR max allowed value length (65536) exceeded")
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

// A charm that defers jobs until config releases them: those numbered below
// `below`, or a multiple of `every`. Each job's snapshot is about 400 bytes.

const QUEUE_META: &str = r#"
name: queue
config:
  options:
    from: {type: int, default: 0}
    to: {type: int, default: 0}
    below: {type: int, default: 0}
    every: {type: int, default: 0}
"#;

const PAD: usize = 380;

#[derive(Debug, Serialize, Deserialize)]
struct Job {
    n: i64,
    pad: String,
}

impl CustomEvent for Job {
    const NAME: &'static str = "job";
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct Handled {
    order: Vec<i64>,
}

struct Queue {
    handled: StoredState<Handled>,
}

impl Charm for Queue {
    fn new(fw: &mut Framework<Self>) -> Result<Self, HandlerError> {
        let handled = fw.stored_state("handled")?;
        fw.observe(Self::on_config_changed)?
            .observe(Self::on_update_status)?
            .observe(Self::on_job)?;
        Ok(Self { handled })
    }
}

impl Queue {
    fn on_config_changed(&mut self, _: &ConfigChanged, ctx: &mut ops::Ctx) -> HandlerResult {
        let config = ctx.model().config()?;
        let from = config.get::<i64>("from")?.unwrap_or(0);
        let to = config.get::<i64>("to")?.unwrap_or(0);
        for n in from..to {
            ctx.emit(Job {
                n,
                pad: "p".repeat(PAD),
            })?;
        }
        Ok(())
    }

    fn on_update_status(&mut self, _: &UpdateStatus, _: &mut ops::Ctx) -> HandlerResult {
        Ok(())
    }

    fn on_job(&mut self, job: &Job, ctx: &mut ops::Ctx) -> HandlerResult<Outcome> {
        let config = ctx.model().config()?;
        let below = config.get::<i64>("below")?.unwrap_or(0);
        let every = config.get::<i64>("every")?.unwrap_or(0);
        if job.n < below || (every > 0 && job.n % every == 0) {
            self.handled.get_mut().order.push(job.n);
            return Ok(Outcome::Done);
        }
        Ok(Outcome::Defer)
    }
}

fn queue_world() -> World {
    World::for_charm(QUEUE_META, "queue")
}

/// The jobs waiting in the committed unit state, in queue order, after
/// checking every key and value against Juju's quotas and that each notice
/// has its own key.
fn committed_jobs(w: &World) -> Vec<i64> {
    let state = w.state();
    for (key, value) in &state {
        assert!(key.len() <= JUJU_MAX_KEY_BYTES, "{key}");
        assert!(
            value.len() <= JUJU_MAX_VALUE_BYTES,
            "{key}: {}",
            value.len()
        );
    }
    let (persisted, _) = decode_unit_state(&state).unwrap();
    let notice_keys = state
        .keys()
        .filter(|k| k.starts_with(JUJU_NOTICE_PREFIX))
        .count();
    assert_eq!(notice_keys, persisted.notices.len(), "one key per notice");
    persisted
        .notices
        .iter()
        .map(|n| {
            assert_eq!(n.event, "job");
            n.snapshot["n"].as_i64().unwrap()
        })
        .collect()
}

/// The key of the committed notice of job `n`.
fn job_key(w: &World, n: i64) -> String {
    w.state()
        .into_iter()
        .find(|(k, v)| {
            k.starts_with(JUJU_NOTICE_PREFIX)
                && serde_json::from_str::<serde_json::Value>(v).unwrap()["snapshot"]["n"] == n
        })
        .map(|(k, _)| k)
        .unwrap_or_else(|| panic!("no notice of job {n}"))
}

/// Rewrites a committed value with the same JSON spelled differently: if a
/// later dispatch sent that key again, the spelling would be its own.
fn respell(w: &World, key: &str) -> String {
    let value: serde_json::Value = serde_json::from_str(&w.state()[key]).unwrap();
    let pretty = serde_json::to_string_pretty(&value).unwrap();
    w.poke(key, &pretty);
    pretty
}

#[test]
fn three_hundred_deferred_events_fit_in_juju_state_in_their_order() {
    let w = queue_world();
    // Three dispatches, each deferring a hundred jobs more, after the
    // queue so far is re-emitted (and deferred again).
    for from in [0, 100, 200] {
        w.set_config("from", from);
        w.set_config("to", from + 100);
        // Job 0's notice, deferred again by the last dispatch, is not sent again.
        let respelled = (from == 200).then(|| {
            let key = job_key(&w, 0);
            let spelled = respell(&w, &key);
            (key, spelled)
        });
        let (result, calls) = w.run_as::<Queue>("config-changed");
        assert!(result.unwrap().charm.handled.get().order.is_empty());
        assert_eq!(calls, ["state-get", "state-set"], "nothing deleted");
        if let Some((key, spelled)) = respelled {
            assert_eq!(w.state()[&key], spelled, "job 0's notice was sent again");
        }
        assert_eq!(committed_jobs(&w), (0..from + 100).collect::<Vec<_>>());
    }
    let state = w.state();
    let sizes: Vec<usize> = state
        .iter()
        .filter(|(k, _)| k.starts_with(JUJU_NOTICE_PREFIX))
        .map(|(_, v)| v.len())
        .collect();
    assert_eq!(sizes.len(), 300);
    assert!(sizes.iter().all(|&n| n > 400), "notices of about 400 bytes");
    assert!(
        sizes.iter().sum::<usize>() > 2 * JUJU_MAX_VALUE_BYTES,
        "more than one value could hold"
    );

    // Every third job is released: re-emission hands them over in queue
    // order; their keys go, the others stay as they were.
    let survivor = job_key(&w, 1);
    let spelled = respell(&w, &survivor);
    w.set_config("every", 3);
    let (result, calls) = w.run_as::<Queue>("update-status");
    let dispatched = result.unwrap();
    let thirds: Vec<i64> = (0..300).step_by(3).collect();
    assert_eq!(dispatched.charm.handled.get().order, thirds);
    assert_eq!(calls[..2], ["state-get", "state-set"]);
    assert_eq!(calls.len(), 2 + 100, "one state-delete per handled job");
    assert!(calls[2..].iter().all(|c| c == "state-delete"));
    assert_eq!(
        w.state()[&survivor],
        spelled,
        "a re-deferred notice rewritten"
    );
    let rest: Vec<i64> = (0..300).filter(|n| n % 3 != 0).collect();
    assert_eq!(committed_jobs(&w), rest);

    // All released: the rest in their order, and no notice key is left.
    w.set_config("every", 0);
    w.set_config("below", 300);
    let (result, _) = w.run_as::<Queue>("update-status");
    let order = result.unwrap().charm.handled.get().order.clone();
    assert_eq!(order, [thirds, rest].concat());
    assert!(committed_jobs(&w).is_empty());
}

#[test]
fn a_unit_at_the_queue_bound_recovers_once_part_of_its_queue_is_handled() {
    let w = queue_world();
    w.set_config("to", MAX_NOTICES as i64);
    w.run_as::<Queue>("config-changed").0.unwrap();
    assert_eq!(committed_jobs(&w).len(), MAX_NOTICES);
    let before = w.state();
    // One job more: the dispatch fails, nothing is committed or dropped.
    w.set_config("from", MAX_NOTICES as i64);
    w.set_config("to", MAX_NOTICES as i64 + 1);
    match w.run_as::<Queue>("config-changed").0 {
        Err(DispatchError::Framework(FrameworkError::TooManyNotices { event, limit, .. })) => {
            assert_eq!((event.as_str(), limit), ("job", MAX_NOTICES));
        }
        Err(other) => panic!("expected TooManyNotices, got {other}"),
        Ok(_) => panic!("expected TooManyNotices, got success"),
    }
    assert_eq!(w.state(), before);
    // Juju retries the hook; once a queued job can be handled, it fits.
    w.set_config("below", 1);
    let (result, _) = w.run_as::<Queue>("config-changed");
    assert_eq!(result.unwrap().charm.handled.get().order, [0]);
    let expected: Vec<i64> = (1..=MAX_NOTICES as i64).collect();
    assert_eq!(committed_jobs(&w), expected);
}

#[test]
fn counter_formats_newer_than_known_are_refused() {
    let w = queue_world();
    w.poke(
        JUJU_COUNTER_KEY,
        &format!(r#"{{"format":{},"event_count":1}}"#, JUJU_STATE_FORMAT + 1),
    );
    let before = w.state();
    match w.run_as::<Queue>("update-status").0 {
        Err(DispatchError::Storage(StorageError::Corrupt { location, reason })) => {
            assert!(location.contains(JUJU_COUNTER_KEY), "{location}");
            assert!(reason.contains("newer"), "{reason}");
        }
        Err(other) => panic!("expected Corrupt, got {other}"),
        Ok(_) => panic!("expected Corrupt, got success"),
    }
    assert_eq!(w.state(), before);
}

/// A charm whose one stored state's name is `N` bytes long: its key is
/// `ops-rs/stored/LongName/StoredState[<name>]`, 36 + N bytes.
struct LongName<const N: usize> {
    stored: StoredState<Small>,
}

impl<const N: usize> Charm for LongName<N> {
    fn new(fw: &mut Framework<Self>) -> Result<Self, HandlerError> {
        let stored = fw.stored_state(&"n".repeat(N))?;
        fw.observe(Self::on_config_changed)?;
        Ok(Self { stored })
    }
}

impl<const N: usize> LongName<N> {
    fn on_config_changed(&mut self, _: &ConfigChanged, _: &mut ops::Ctx) -> HandlerResult {
        self.stored.get_mut().changes += 1;
        Ok(())
    }
}

#[test]
fn a_stored_state_key_over_256_bytes_is_a_clear_error_and_nothing_is_committed() {
    // 36 + 220 = 256 bytes: Juju takes it.
    let w = World::new();
    w.run_as::<LongName<220>>("config-changed").0.unwrap();
    let key = format!(
        "{JUJU_STORED_PREFIX}LongName/StoredState[{}]",
        "n".repeat(220)
    );
    assert_eq!(key.len(), JUJU_MAX_KEY_BYTES);
    assert_eq!(w.state()[&key], r#"{"changes":1}"#);
    // One byte more: refused before anything is sent.
    let w = World::new();
    let (result, calls) = w.run_as::<LongName<221>>("config-changed");
    match result {
        Err(DispatchError::Storage(StorageError::KeyTooLong { key, bytes, limit })) => {
            assert_eq!(
                key,
                format!(
                    "{JUJU_STORED_PREFIX}LongName/StoredState[{}]",
                    "n".repeat(221)
                )
            );
            assert_eq!((bytes, limit), (257, 256));
        }
        Err(other) => panic!("expected KeyTooLong, got {other}"),
        Ok(_) => panic!("expected KeyTooLong, got success"),
    }
    assert_eq!(calls, ["state-get"], "nothing sent");
    assert!(w.state().is_empty(), "nothing committed");
}

#[test]
fn a_deferred_event_over_64_kib_names_its_notice_key_and_commits_nothing() {
    // A job whose data alone is over the quota.
    struct Huge;
    impl Charm for Huge {
        fn new(fw: &mut Framework<Self>) -> Result<Self, HandlerError> {
            fw.observe(Self::on_config_changed)?.observe(Self::on_job)?;
            Ok(Huge)
        }
    }
    impl Huge {
        fn on_config_changed(&mut self, _: &ConfigChanged, ctx: &mut ops::Ctx) -> HandlerResult {
            ctx.emit(Job {
                n: 7,
                pad: "p".repeat(JUJU_MAX_VALUE_BYTES),
            })?;
            Ok(())
        }
        fn on_job(&mut self, _: &Job, _: &mut ops::Ctx) -> HandlerResult<Outcome> {
            Ok(Outcome::Defer)
        }
    }
    let w = queue_world();
    let (result, calls) = w.run_as::<Huge>("config-changed");
    match result {
        Err(DispatchError::Storage(StorageError::TooLarge { key, limit, .. })) => {
            assert_eq!(key, format!("{JUJU_NOTICE_PREFIX}0"));
            assert_eq!(limit, JUJU_MAX_VALUE_BYTES);
        }
        Err(other) => panic!("expected TooLarge, got {other}"),
        Ok(_) => panic!("expected TooLarge, got success"),
    }
    assert_eq!(calls, ["state-get"], "nothing sent");
    assert!(w.state().is_empty(), "nothing committed");
}

#[test]
fn the_fake_state_set_refuses_a_key_over_256_bytes_as_juju_does() {
    use ops::backend::{Backend, BackendError};
    let w = World::new();
    let ctx = HookContext::unit(&w.unit);
    w.juju.lock().unwrap().begin_hook(&ctx);
    let backend = FakeTools::new(w.juju.clone(), ctx).hook_tools();
    let longest = "k".repeat(256);
    backend
        .state_set(&Bag::from([(longest.clone(), "v".to_string())]))
        .unwrap();
    let too_long = "k".repeat(257);
    let both = Bag::from([
        ("a".to_string(), "v".to_string()),
        (too_long.clone(), "v".to_string()),
    ]);
    match backend.state_set(&both).unwrap_err() {
        BackendError::ToolFailed { stderr, .. } => {
            assert_eq!(stderr, "ERROR max allowed key length (256) exceeded")
        }
        other => panic!("{other:?}"),
    }
    let now = backend.state_get().unwrap();
    assert!(now.contains_key(&longest));
    assert!(
        !now.contains_key("a"),
        "nothing of a refused state-set is set"
    );
    assert!(!now.contains_key(&too_long));
    // Juju checks sizes on state-set only.
    backend.state_delete(&too_long).unwrap();
}

#[test]
fn the_state_set_executable_refuses_what_juju_refuses_with_juju_words() {
    use ops_testing::fake_juju::cli::{STATE_VAR, create_state, load_state};
    use ops_testing::fake_juju::install_hook_tools;
    use std::io::Write;
    use std::process::{Command, Stdio};

    let w = World::new();
    let dir = tempfile::tempdir().unwrap();
    let tools = dir.path().join("tools");
    install_hook_tools(
        std::path::Path::new(env!("CARGO_BIN_EXE_juju-hook-tool")),
        &tools,
    )
    .unwrap();
    let model = dir.path().join("model.json");
    create_state(&model, &w.juju.lock().unwrap()).unwrap();
    let run = |args: &[&str], stdin: &str| {
        let mut child = Command::new(tools.join("state-set"))
            .args(args)
            .env_clear()
            .env(STATE_VAR, &model)
            .env("JUJU_UNIT_NAME", &w.unit)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(stdin.as_bytes())
            .unwrap();
        let out = child.wait_with_output().unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stderr).trim_end().to_string(),
        )
    };
    let key_arg = format!("{}=v", "k".repeat(257));
    assert_eq!(
        run(&[&key_arg], ""),
        (
            Some(1),
            "ERROR max allowed key length (256) exceeded".to_string()
        )
    );
    let big = format!("big: {}\n", "x".repeat(JUJU_MAX_VALUE_BYTES + 1));
    assert_eq!(
        run(&["--file", "-"], &big),
        (
            Some(1),
            "ERROR max allowed value length (65536) exceeded".to_string()
        )
    );
    let fits = format!(
        "{}: {}\n",
        "k".repeat(256),
        "x".repeat(JUJU_MAX_VALUE_BYTES)
    );
    assert_eq!(run(&["--file", "-"], &fits), (Some(0), String::new()));
    let juju = load_state(&model).unwrap();
    let pending = juju.hook_state_get(&HookContext::unit(&w.unit));
    assert_eq!(pending.len(), 1, "{:?}", pending.keys());
    assert_eq!(pending[&"k".repeat(256)].len(), JUJU_MAX_VALUE_BYTES);
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
                let tools = FakeTools::new(w.juju.clone(), ctx);
                let store = JujuStateStore::new(Arc::new(tools.clone().hook_tools()));
                store.load().unwrap();
                store.save(state).unwrap();
                // Saving what was just saved sends nothing more.
                let before = tools.calls().len();
                store.save(state).unwrap();
                prop_assert_eq!(tools.calls().len(), before);
                w.juju.lock().unwrap().end_hook("keeper/0", true);
                let ctx = HookContext::unit("keeper/0");
                let reader = JujuStateStore::new(Arc::new(FakeTools::new(w.juju.clone(), ctx).hook_tools()));
                let loaded = reader.load().unwrap();
                prop_assert_eq!(&loaded.stored, &state.stored);
                prop_assert_eq!(&loaded.notices, &state.notices);
            }
        }
    }
}
