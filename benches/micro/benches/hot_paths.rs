//! Micro-benchmarks of the hot paths of a dispatch (`cargo bench -p ops-micro-benches`):
//! - a dispatch of `update-status` with N observers (in-process fake Juju,
//!   state in memory): the framework's own cost per event and per observer;
//! - state load and commit with 1 MB of stored state: the state file
//!   (`LocalStateFile`, with its fsyncs) and a whole dispatch carrying it;
//! - `pgbouncer.ini` with 1,000 databases: parse, render, validate, and
//!   one instance's file;
//! - databag diff: ops' buffered writes to a 1,000-key bag (one key changed)
//!   flushed, and the fake Juju's end-of-hook comparison of that bag;
//! - a SCRAM-SHA-256 verifier, made as pgbouncer-k8s makes one for each
//!   console user (4096 PBKDF2 rounds), and checked;
//! - one Pebble request of each kind a dispatch makes, through ops' client
//!   to the fake Pebble in process, and one hook-tool call of each common
//!   kind through `HookTools` and the fake Juju: what an in-process test
//!   pays per request and per call.
//!
//! Timings are printed, never asserted (see docs/performance.md). Pass a
//! word to run only the benchmarks whose name contains it.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use ops::backend::{Backend, RelationRef};
use ops::events::UpdateStatus;
use ops::model::ModelParts;
use ops::pebble::{Layer, Override, PushOptions, Service, ServiceStartup};
use ops::storage::{LocalStateFile, PersistedState, StateStore, StorageError};
use ops::{
    Charm, CharmMeta, Ctx, DispatchSetup, Framework, HandlerError, HandlerResult, JujuContext,
    Model, StoredState,
};
use ops_micro_benches::{measure, report};
use ops_testing::fake_juju::{Bag, FakeJuju, FakeTools, HookContext};
use ops_testing::fake_pebble::FakePebble;
use pgbouncer_k8s::auth::{scram_matches, scram_verifier};
use pgbouncer_k8s::pgb_config::PgbConfig;
use pgbouncer_k8s::settings::PoolMode;

const META: &str = "name: bench\npeers: {replicas: {interface: bench}}\n";
const MIN_RUNS: usize = 30;
const MIN_TIME: Duration = Duration::from_millis(300);

/// How many observers [`Observers`] registers.
static OBSERVERS: AtomicUsize = AtomicUsize::new(1);

/// A charm with `OBSERVERS` (at most 1,000) observers of update-status.
struct Observers {
    calls: usize,
}

impl Observers {
    /// Observer `I`: ops refuses closures (a deferred event must find its
    /// observer by name in the next process), so each is its own function.
    fn on_update_status<const I: usize>(&mut self, _: &UpdateStatus, _: &mut Ctx) -> HandlerResult {
        self.calls += 1;
        Ok(())
    }
}

// Calls `$cb!($($pre)* d)` for each decimal digit d.
macro_rules! each_digit {
    ($cb:ident ! ( $($pre:tt)* )) => {
        $cb!($($pre)* 0); $cb!($($pre)* 1); $cb!($($pre)* 2); $cb!($($pre)* 3);
        $cb!($($pre)* 4); $cb!($($pre)* 5); $cb!($($pre)* 6); $cb!($($pre)* 7);
        $cb!($($pre)* 8); $cb!($($pre)* 9);
    };
}
macro_rules! observe_one {
    ($fw:ident $n:ident $a:literal $b:literal $c:literal) => {
        if $a * 100 + $b * 10 + $c < $n {
            $fw.observe(Observers::on_update_status::<{ $a * 100 + $b * 10 + $c }>)?;
        }
    };
}
macro_rules! observe_ten {
    ($fw:ident $n:ident $a:literal $b:literal) => {
        each_digit!(observe_one!($fw $n $a $b))
    };
}
macro_rules! observe_hundred {
    ($fw:ident $n:ident $a:literal) => {
        each_digit!(observe_ten!($fw $n $a))
    };
}

impl Charm for Observers {
    fn new(fw: &mut Framework<Self>) -> Result<Self, HandlerError> {
        let n = OBSERVERS.load(Ordering::Relaxed);
        each_digit!(observe_hundred!(fw n));
        Ok(Self { calls: 0 })
    }
}

/// A charm whose stored state is `BIG` (about 1 MB), read and left unchanged.
struct BigState {
    _state: StoredState<Vec<String>>,
}

impl Charm for BigState {
    fn new(fw: &mut Framework<Self>) -> Result<Self, HandlerError> {
        let state = fw.stored_state("big")?;
        fw.observe(Self::on_update_status)?;
        Ok(Self { _state: state })
    }
}

impl BigState {
    fn on_update_status(&mut self, _: &UpdateStatus, _: &mut Ctx) -> HandlerResult {
        Ok(())
    }
}

/// Committed state in memory: the framework's cost without the file's.
struct MemoryStore(RefCell<PersistedState>);

impl StateStore for MemoryStore {
    fn load(&self) -> Result<PersistedState, StorageError> {
        Ok(self.0.borrow().clone())
    }
    fn save(&self, state: &PersistedState) -> Result<(), StorageError> {
        *self.0.borrow_mut() = state.clone();
        Ok(())
    }
}

struct Model1 {
    juju: Arc<Mutex<FakeJuju>>,
    meta: Arc<CharmMeta>,
    unit: String,
    peers: u32,
    dir: tempfile::TempDir,
}

fn model() -> Model1 {
    let meta = CharmMeta::from_charmcraft_yaml(META).expect("bench metadata");
    let mut juju = FakeJuju::new("bench");
    let units = juju.deploy("bench", &meta, 2);
    juju.set_leader("bench", Some(&units[0]));
    let peers = juju.add_relation("bench", "replicas", "bench", "replicas");
    juju.join_unit(peers, &units[0]);
    juju.join_unit(peers, &units[1]);
    Model1 {
        juju: Arc::new(Mutex::new(juju)),
        meta: Arc::new(meta),
        unit: units[0].clone(),
        peers,
        dir: tempfile::tempdir().expect("a temporary directory"),
    }
}

fn dispatch<C: Charm>(m: &Model1, store: Box<dyn StateStore>) {
    let charm_dir = m.dir.path().to_string_lossy().into_owned();
    let context = JujuContext::from_vars([
        ("JUJU_DISPATCH_PATH", "hooks/update-status"),
        ("JUJU_UNIT_NAME", m.unit.as_str()),
        ("JUJU_MODEL_NAME", "bench"),
        ("JUJU_CHARM_DIR", charm_dir.as_str()),
        ("JUJU_VERSION", "3.6.0"),
    ])
    .expect("a hook context");
    let hook = HookContext::unit(&m.unit);
    m.juju.lock().expect("fake juju").begin_hook(&hook);
    let setup = DispatchSetup {
        context,
        backend: Arc::new(FakeTools::new(m.juju.clone(), hook).hook_tools()),
        store,
        meta: m.meta.clone(),
        containers_dir: PathBuf::from(m.dir.path()),
        pebble_transports: Default::default(),
        log_level: tracing_level(),
    };
    ops::dispatch::<C>(setup).expect("the dispatch succeeds");
    m.juju.lock().expect("fake juju").end_hook(&m.unit, true);
}

fn tracing_level() -> ops::tracing::Level {
    ops::tracing::Level::INFO
}

/// About 1 MB of stored state: 10,000 strings of 100 bytes.
fn big_value() -> Vec<String> {
    (0..10_000).map(|i| format!("{i:0>100}")).collect()
}

fn big_persisted() -> PersistedState {
    let mut state = PersistedState::default();
    state.stored.insert(
        "BigState/StoredState[big]".to_string(),
        serde_json::to_value(big_value()).expect("a JSON value"),
    );
    state
}

fn pgbouncer_ini(databases: usize) -> PgbConfig {
    let mut config =
        PgbConfig::default_for(2, 100, 6432, PoolMode::Session).expect("the default config");
    config
        .set_auth("pgbouncer_auth_relation_id_1")
        .expect("an auth user");
    for i in 0..databases {
        let name = format!("client_db_{i}");
        config
            .add_database(
                &name,
                &[("host", "127.0.0.1"), ("port", "5432"), ("dbname", &name)],
            )
            .expect("a database entry");
    }
    config
}

/// One request of each kind a pgbouncer-k8s dispatch makes, from ops'
/// client to the fake Pebble the Harness and `Context` serve in process
/// (files in memory): encoded, answered and decoded as on the wire, with
/// no socket. What each costs an in-process test.
fn pebble_requests(wanted: &dyn Fn(&str) -> bool) {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let pebble = FakePebble::in_memory(dir.path().join("pebble.socket"), dir.path().join("root"))
        .expect("a fake Pebble");
    let client = pebble.client();
    let ini = format!("[pgbouncer]\n{}", "listen_port = 6432\n".repeat(50));
    let push = PushOptions::new().with_make_dirs(true);
    client
        .push("/var/lib/pgbouncer/pgbouncer.ini", ini.as_bytes(), &push)
        .expect("pushed");
    let layer = Layer {
        summary: Some("pgbouncer layer".to_string()),
        services: (0..2)
            .map(|n| {
                let service = Service {
                    override_: Some(Override::Replace),
                    command: Some(format!(
                        "pgbouncer /var/lib/pgbouncer/instance_{n}/pgbouncer.ini"
                    )),
                    startup: Some(ServiceStartup::Enabled),
                    ..Default::default()
                };
                (format!("pgbouncer_{n}"), service)
            })
            .collect(),
        ..Default::default()
    };
    client.add_layer("pgbouncer", &layer, true).expect("added");
    let requests: [(&str, &dyn Fn()); 5] = [
        ("system-info (can_connect)", &|| {
            drop(client.system_info().expect("answered"))
        }),
        ("services, two named", &|| {
            drop(
                client
                    .get_services(&["pgbouncer_0", "pgbouncer_1"])
                    .expect("answered"),
            )
        }),
        ("pull a 1 KB file", &|| {
            drop(
                client
                    .pull("/var/lib/pgbouncer/pgbouncer.ini")
                    .expect("pulled"),
            )
        }),
        ("push a 1 KB file", &|| {
            client
                .push("/var/lib/pgbouncer/pgbouncer.ini", ini.as_bytes(), &push)
                .expect("pushed")
        }),
        ("add a layer of two services", &|| {
            client.add_layer("pgbouncer", &layer, true).expect("added")
        }),
    ];
    for (what, run) in requests {
        let name = format!("Pebble request in process (fake Pebble, files in memory): {what}");
        if wanted(&name) {
            report(
                &name,
                measure(MIN_RUNS, MIN_TIME, || {
                    run();
                    // The fake keeps every request for the test to read.
                    pebble.clear_requests();
                }),
            );
        }
    }
}

/// One call of each kind through ops' `HookTools` (argv built, output
/// parsed) over the fake Juju's tools, as every in-process test runs them.
fn hook_tool_calls(wanted: &dyn Fn(&str) -> bool) {
    let m = model();
    let hook = HookContext::unit(&m.unit);
    m.juju.lock().expect("fake juju").begin_hook(&hook);
    let tools = FakeTools::new(m.juju.clone(), hook).hook_tools();
    let peers = RelationRef::new("replicas", m.peers);
    let calls: [(&str, &dyn Fn()); 5] = [
        ("is-leader", &|| {
            assert!(tools.is_leader().expect("answered"))
        }),
        ("config-get", &|| {
            drop(tools.config_get().expect("answered"))
        }),
        ("relation-ids", &|| {
            drop(tools.relation_ids("replicas").expect("answered"))
        }),
        ("relation-get of the app bag", &|| {
            drop(tools.relation_get(&peers, "bench", true).expect("answered"))
        }),
        ("state-get", &|| drop(tools.state_get().expect("answered"))),
    ];
    for (what, run) in calls {
        let name = format!("hook tool through HookTools and the fake Juju: {what}");
        if wanted(&name) {
            report(&name, measure(MIN_RUNS, MIN_TIME, run));
        }
    }
}

fn main() {
    let filter: Option<String> = std::env::args().skip(1).find(|a| !a.starts_with('-'));
    let wanted = |name: &str| filter.as_deref().is_none_or(|f| name.contains(f));
    println!("| benchmark | median | p90 | min | runs |");
    println!("|---|---|---|---|---|");

    for n in [1, 10, 100, 1000] {
        let name = format!("dispatch update-status, {n} observers (fake Juju in process)");
        if !wanted(&name) {
            continue;
        }
        OBSERVERS.store(n, Ordering::Relaxed);
        let m = model();
        report(
            &name,
            measure(MIN_RUNS, MIN_TIME, || {
                dispatch::<Observers>(&m, Box::new(MemoryStore(RefCell::default())))
            }),
        );
    }

    let name = "dispatch update-status carrying 1 MB of stored state (memory store)";
    if wanted(name) {
        let m = model();
        let state = big_persisted();
        report(
            name,
            measure(MIN_RUNS, MIN_TIME, || {
                dispatch::<BigState>(&m, Box::new(MemoryStore(RefCell::new(state.clone()))))
            }),
        );
    }
    let name = "state file: save 1 MB (write, fsync file and directory)";
    if wanted(name) {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let store = LocalStateFile::in_charm_dir(dir.path());
        let state = big_persisted();
        report(
            name,
            measure(MIN_RUNS, MIN_TIME, || store.save(&state).expect("saved")),
        );
    }
    let name = "state file: load 1 MB (read, parse)";
    if wanted(name) {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let store = LocalStateFile::in_charm_dir(dir.path());
        store.save(&big_persisted()).expect("saved");
        report(
            name,
            measure(MIN_RUNS, MIN_TIME, || store.load().expect("loaded")),
        );
    }

    pebble_requests(&wanted);
    hook_tool_calls(&wanted);

    let name = "SCRAM-SHA-256 verifier: make one (4096 rounds, a new salt)";
    if wanted(name) {
        report(
            name,
            measure(MIN_RUNS, MIN_TIME, || {
                drop(scram_verifier("a-bench-password").expect("a random salt"))
            }),
        );
    }
    let name = "SCRAM-SHA-256 verifier: check a password against one";
    if wanted(name) {
        let verifier = scram_verifier("a-bench-password").expect("a random salt");
        report(
            name,
            measure(MIN_RUNS, MIN_TIME, || {
                assert!(scram_matches(&verifier, "a-bench-password"))
            }),
        );
    }

    let config = pgbouncer_ini(1000);
    let text = config.render();
    for (name, run) in [
        (
            "pgbouncer.ini, 1,000 databases: parse",
            &(|| drop(PgbConfig::parse(&text).expect("parses"))) as &dyn Fn(),
        ),
        ("pgbouncer.ini, 1,000 databases: render", &|| {
            drop(config.render())
        }),
        (
            "pgbouncer.ini, 1,000 databases: validate and render",
            &|| drop(config.render_validated().expect("valid")),
        ),
        (
            "pgbouncer.ini, 1,000 databases: one instance's file",
            &|| drop(config.render_instance(0)),
        ),
        (
            "pgbouncer.ini, 1,000 databases: add one more database",
            &|| {
                let mut c = config.clone();
                c.add_database(
                    "one_more",
                    &[("host", "127.0.0.1"), ("port", "5432"), ("dbname", "x")],
                )
                .expect("added");
            },
        ),
    ] {
        if wanted(name) {
            report(name, measure(MIN_RUNS, MIN_TIME, run));
        }
    }

    let keys: Bag = (0..1000)
        .map(|i| (format!("key-{i}"), format!("{i:0>64}")))
        .collect();
    let name = "databag diff (ops): read a 1,000-key bag, set every key (1 changed), flush";
    if wanted(name) {
        let m = model();
        m.juju
            .lock()
            .expect("fake juju")
            .relations
            .get_mut(&m.peers)
            .expect("the peer relation")
            .bags
            .insert("bench".to_string(), keys.clone());
        report(
            name,
            measure(MIN_RUNS, MIN_TIME, || {
                let hook = HookContext::unit(&m.unit);
                m.juju.lock().expect("fake juju").begin_hook(&hook);
                let model = Model::new(ModelParts {
                    backend: Arc::new(FakeTools::new(m.juju.clone(), hook).hook_tools()),
                    meta: m.meta.clone(),
                    unit_name: m.unit.clone(),
                    model_name: "bench".to_string(),
                    model_uuid: "bench-uuid".to_string(),
                    juju_version: "3.6.0".to_string(),
                    charm_dir: PathBuf::from("/var/lib/juju/agents/unit-app-0/charm"),
                    containers_dir: PathBuf::from(m.dir.path()),
                    hook_relation: None,
                    remote_app: None,
                    departing_unit: None,
                    broken_relation: None,
                });
                let peers = model
                    .relation("replicas")
                    .expect("relations")
                    .expect("the peer relation");
                let bag = model.local_app_data(&peers);
                let all = bag.get_all().expect("the bag");
                for (k, v) in &all {
                    bag.set(k, if k == "key-0" { "changed" } else { v })
                        .expect("set");
                }
                model.flush().expect("flushed");
                // Not committed: the next run sees the same bag.
                m.juju.lock().expect("fake juju").end_hook(&m.unit, false);
            }),
        );
    }
    let name = "databag diff (fake Juju end of hook): 1,000-key bag, 1 key written";
    if wanted(name) {
        let m = model();
        let mut juju = m.juju.lock().expect("fake juju");
        juju.relations
            .get_mut(&m.peers)
            .expect("the peer relation")
            .bags
            .insert("bench".to_string(), keys.clone());
        let hook = HookContext::unit(&m.unit);
        let relation = RelationRef::new("replicas", m.peers);
        let mut flip = false;
        report(
            name,
            measure(MIN_RUNS, MIN_TIME, || {
                flip = !flip;
                let value = if flip { "a" } else { "b" };
                juju.begin_hook(&hook);
                let write: Bag = BTreeMap::from([("key-0".to_string(), value.to_string())]);
                juju.hook_relation_set(&hook, &relation, true, &write)
                    .expect("relation-set");
                juju.end_hook(&m.unit, true)
            }),
        );
    }
}
