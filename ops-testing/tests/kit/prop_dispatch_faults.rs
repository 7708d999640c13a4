//! A model-based property of dispatch sequences with faults: a unit runs
//! hooks against the fake Juju (the real `ops::dispatch`, Juju's unit
//! state as the store) while a backend wrapper makes `state-set` or
//! `relation-set` fail, Juju throws a hook's writes away, or a handler
//! panics half-way. After every hook, what Juju committed must be what
//! the model says: every piece of deferred work is processed in exactly
//! one committed dispatch or is still queued, and stored state never
//! records work whose relation write Juju threw away.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use ops::backend::HookTools;
use ops::backend::{
    Backend, BackendError, LogLevel, OpenedPort, RelationRef, Result, SecretAddArgs, SecretInfo,
    SecretSetArgs, StatusInfo, StringMap,
};
use ops::events::{ConfigChanged, UpdateStatus};
use ops::storage::decode_unit_state;
use ops::{
    Charm, CustomEvent, DispatchError, Framework, HandlerError, HandlerResult, Outcome, StoredState,
};
use ops_testing::fake_juju::{FakeJuju, FakeTools, HookContext};
use proptest::prelude::*;
use serde::{Deserialize, Serialize};
use serde_json::json;

const META: &str = r#"
name: worker
peers:
  peers:
    interface: worker-peers
config:
  options:
    emit: {type: int, default: 0}
    block: {type: boolean, default: false}
    panic-after: {type: int, default: -1}
"#;

const UNIT: &str = "worker/0";

/// What the charm keeps: the next work id it hands out, and the ids it
/// has done, in order.
#[derive(Debug, Default, Serialize, Deserialize)]
struct Progress {
    next_id: u64,
    done: Vec<u64>,
}

#[derive(Debug, Serialize, Deserialize)]
struct Work {
    id: u64,
}

impl CustomEvent for Work {
    const NAME: &'static str = "work";
}

/// Panics with this text stand for a crash between two steps.
const CRASH: &str = "simulated crash between steps";

static PANICKED: AtomicBool = AtomicBool::new(false);

struct Worker {
    progress: StoredState<Progress>,
    /// Work done in this dispatch (not stored).
    done_now: i64,
}

impl Charm for Worker {
    fn new(fw: &mut Framework<Self>) -> std::result::Result<Self, HandlerError> {
        let progress = fw.stored_state("progress")?;
        fw.observe(Self::on_config_changed)?
            .observe(Self::on_update_status)?
            .observe(Self::on_work)?;
        Ok(Self {
            progress,
            done_now: 0,
        })
    }
}

impl Worker {
    /// Hands out `emit` new pieces of work.
    fn on_config_changed(&mut self, _: &ConfigChanged, ctx: &mut ops::Ctx) -> HandlerResult {
        let emit = ctx.model().config()?.get::<i64>("emit")?.unwrap_or(0);
        for _ in 0..emit {
            let id = self.progress.get().next_id;
            self.progress.get_mut().next_id += 1;
            ctx.emit(Work { id })?;
        }
        Ok(())
    }

    fn on_update_status(&mut self, _: &UpdateStatus, _: &mut ops::Ctx) -> HandlerResult {
        Ok(())
    }

    /// Does one piece of work (records it in stored state and in the
    /// unit's peer databag), or defers it while blocked.
    fn on_work(&mut self, work: &Work, ctx: &mut ops::Ctx) -> HandlerResult<Outcome> {
        let config = ctx.model().config()?;
        if config.get::<bool>("block")?.unwrap_or(false) {
            return Ok(Outcome::Defer);
        }
        if config.get::<i64>("panic-after")?.unwrap_or(-1) == self.done_now {
            PANICKED.store(true, Ordering::SeqCst);
            panic!("{CRASH}");
        }
        self.done_now += 1;
        self.progress.get_mut().done.push(work.id);
        let peers = ctx.model().relation("peers")?.ok_or("no peer relation")?;
        let text = render(&self.progress.get().done);
        ctx.model().local_unit_data(&peers).set("done", &text)?;
        Ok(Outcome::Done)
    }
}

fn render(done: &[u64]) -> String {
    done.iter()
        .map(u64::to_string)
        .collect::<Vec<_>>()
        .join(",")
}

/// Which fault a step injects.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Fault {
    None,
    /// Every `state-set` of the dispatch fails.
    StateSet,
    /// Every `relation-set` of the dispatch fails.
    RelationSet,
    /// The dispatch may succeed, but Juju does not commit the hook.
    Commit,
    /// A handler panics before doing its n-th piece of work.
    Panic(i64),
}

/// ops' hook tools over the fake Juju's, failing on demand.
struct Faulty {
    inner: HookTools,
    fail_state_set: bool,
    fail_relation_set: bool,
    state_sets: AtomicUsize,
    relation_sets: AtomicUsize,
}

fn refused(command: &str) -> BackendError {
    BackendError::ToolFailed {
        command: command.to_string(),
        args: Vec::new(),
        status: 1,
        stderr: "ERROR injected fault".to_string(),
    }
}

macro_rules! delegate {
    ($($name:ident($($arg:ident: $ty:ty),*) -> $ret:ty;)*) => {
        $(fn $name(&self, $($arg: $ty),*) -> $ret { self.inner.$name($($arg),*) })*
    };
}

impl Backend for Faulty {
    fn state_set(&self, data: &StringMap) -> Result<()> {
        self.state_sets.fetch_add(1, Ordering::SeqCst);
        if self.fail_state_set {
            return Err(refused("state-set"));
        }
        self.inner.state_set(data)
    }

    fn relation_set(&self, relation: &RelationRef, app: bool, data: &StringMap) -> Result<()> {
        self.relation_sets.fetch_add(1, Ordering::SeqCst);
        if self.fail_relation_set {
            return Err(refused("relation-set"));
        }
        self.inner.relation_set(relation, app, data)
    }

    delegate! {
        relation_ids(endpoint: &str) -> Result<Vec<RelationRef>>;
        relation_list(relation: &RelationRef) -> Result<Vec<String>>;
        relation_remote_app(relation: &RelationRef) -> Result<Option<String>>;
        relation_get(relation: &RelationRef, member: &str, app: bool) -> Result<StringMap>;
        is_leader() -> Result<bool>;
        config_get() -> Result<serde_json::Map<String, serde_json::Value>>;
        status_set(app: bool, status: &StatusInfo) -> Result<()>;
        status_get(app: bool) -> Result<StatusInfo>;
        application_version_set(version: &str) -> Result<()>;
        add_metric(metrics: &[(String, String)], labels: &[(String, String)]) -> Result<()>;
        juju_log(level: LogLevel, message: &str) -> Result<()>;
        state_get() -> Result<StringMap>;
        state_delete(key: &str) -> Result<()>;
        secret_add(args: &SecretAddArgs) -> Result<String>;
        secret_get(id: Option<&str>, label: Option<&str>, refresh: bool, peek: bool) -> Result<StringMap>;
        secret_info_get(id: Option<&str>, label: Option<&str>) -> Result<SecretInfo>;
        secret_set(id: &str, args: &SecretSetArgs) -> Result<()>;
        secret_grant(id: &str, relation_id: u32, unit: Option<&str>) -> Result<()>;
        secret_revoke(id: &str, relation_id: u32, unit: Option<&str>) -> Result<()>;
        secret_remove(id: &str, revision: Option<u64>) -> Result<()>;
        open_port(port: &OpenedPort, endpoints: &[String]) -> Result<()>;
        close_port(port: &OpenedPort, endpoints: &[String]) -> Result<()>;
        opened_ports() -> Result<Vec<OpenedPort>>;
        network_get(binding: &str, relation_id: Option<u32>) -> Result<serde_json::Value>;
        goal_state() -> Result<serde_json::Value>;
        resource_get(name: &str) -> Result<PathBuf>;
        action_get() -> Result<serde_json::Map<String, serde_json::Value>>;
        action_set(results: &StringMap) -> Result<()>;
        action_fail(message: &str) -> Result<()>;
        action_log(message: &str) -> Result<()>;
        credential_get() -> Result<ops::backend::CloudSpec>;
        secret_ids() -> Result<Vec<String>>;
        juju_reboot(now: bool) -> Result<()>;
        relation_model_get(relation: &RelationRef) -> Result<String>;
        storage_list(name: Option<&str>) -> Result<Vec<String>>;
        storage_get_location(id: &str) -> Result<PathBuf>;
        storage_add(name: &str, count: u32) -> Result<()>;
    }
}

/// What Juju has committed for the unit, as the model sees it.
#[derive(Debug, Clone, PartialEq)]
struct Committed {
    next_id: u64,
    done: Vec<u64>,
    queued: Vec<u64>,
    bag_done: String,
    unit_state: StringMap,
}

struct Unit {
    juju: Arc<Mutex<FakeJuju>>,
    meta: Arc<ops::CharmMeta>,
    peers: u32,
}

impl Unit {
    fn new() -> Self {
        let meta = ops::CharmMeta::from_charmcraft_yaml(META).unwrap();
        let mut juju = FakeJuju::new("m");
        juju.deploy("worker", &meta, 1);
        let peers = juju.add_relation("worker", "peers", "worker", "peers");
        juju.join_unit(peers, UNIT);
        Self {
            juju: Arc::new(Mutex::new(juju)),
            meta: Arc::new(meta),
            peers,
        }
    }

    fn configure(&self, emit: i64, block: bool, panic_after: i64) {
        let values = json!({"emit": emit, "block": block, "panic-after": panic_after});
        let serde_json::Value::Object(values) = values else {
            unreachable!()
        };
        self.juju.lock().unwrap().set_config("worker", values);
    }

    fn committed(&self) -> std::result::Result<Committed, TestCaseError> {
        let juju = self.juju.lock().unwrap();
        let unit_state = juju.units[UNIT].state.clone();
        let bag_done = juju
            .bag(self.peers, UNIT)
            .get("done")
            .cloned()
            .unwrap_or_default();
        drop(juju);
        let (state, _) = decode_unit_state(&unit_state)
            .map_err(|e| TestCaseError::fail(format!("committed state does not decode: {e}")))?;
        let progress = state
            .stored
            .iter()
            .find(|(k, _)| k.ends_with("[progress]"))
            .map(|(_, v)| serde_json::from_value::<Progress>(v.clone()))
            .transpose()
            .map_err(|e| TestCaseError::fail(format!("stored progress: {e}")))?
            .unwrap_or_default();
        let mut queued = Vec::new();
        for notice in &state.notices {
            prop_assert_eq!(&notice.event, "work", "only work is deferred");
            let id = notice.snapshot["id"]
                .as_u64()
                .ok_or_else(|| TestCaseError::fail("a queued notice without its id"))?;
            queued.push(id);
        }
        Ok(Committed {
            next_id: progress.next_id,
            done: progress.done,
            queued,
            bag_done,
            unit_state,
        })
    }

    /// One hook, with `fault`; whether Juju committed it, and whether the
    /// fault fired (a call it fails was made, or the handler panicked).
    fn run(&self, hook: &str, fault: Fault) -> (bool, bool, std::result::Result<(), String>) {
        let ctx = HookContext::unit(UNIT);
        self.juju.lock().unwrap().begin_hook(&ctx);
        let backend = Arc::new(Faulty {
            inner: FakeTools::new(self.juju.clone(), ctx).hook_tools(),
            fail_state_set: fault == Fault::StateSet,
            fail_relation_set: fault == Fault::RelationSet,
            state_sets: AtomicUsize::new(0),
            relation_sets: AtomicUsize::new(0),
        });
        PANICKED.store(false, Ordering::SeqCst);
        let context = ops::JujuContext::from_vars([
            ("JUJU_DISPATCH_PATH", format!("hooks/{hook}")),
            ("JUJU_UNIT_NAME", UNIT.to_string()),
            ("JUJU_CHARM_DIR", "/nonexistent".to_string()),
        ])
        .unwrap();
        let result = ops::dispatch::<Worker>(ops::DispatchSetup {
            context,
            backend: backend.clone(),
            store: Box::new(ops::storage::JujuStateStore::new(backend.clone())),
            meta: self.meta.clone(),
            containers_dir: "/nonexistent".into(),
            pebble_transports: Default::default(),
            log_level: ops::tracing::Level::WARN,
        });
        let commit = result.is_ok() && fault != Fault::Commit;
        self.juju.lock().unwrap().end_hook(UNIT, commit);
        let fired = match fault {
            Fault::None => false,
            Fault::StateSet => backend.state_sets.load(Ordering::SeqCst) > 0,
            Fault::RelationSet => backend.relation_sets.load(Ordering::SeqCst) > 0,
            Fault::Commit => true,
            Fault::Panic(_) => PANICKED.load(Ordering::SeqCst),
        };
        let result = result.map(drop).map_err(|e: DispatchError| e.to_string());
        (commit, fired, result)
    }
}

#[derive(Debug, Clone)]
struct Step {
    config_changed: bool,
    emit: i64,
    block: bool,
    fault: Fault,
}

fn step() -> impl Strategy<Value = Step> {
    (
        any::<bool>(),
        0i64..4,
        prop::bool::weighted(0.4),
        prop_oneof![
            3 => Just(Fault::None),
            1 => Just(Fault::StateSet),
            1 => Just(Fault::RelationSet),
            1 => Just(Fault::Commit),
            1 => (0i64..3).prop_map(Fault::Panic),
        ],
    )
        .prop_map(|(config_changed, emit, block, fault)| Step {
            config_changed,
            emit,
            block,
            fault,
        })
}

/// The invariants of one committed state.
fn check_invariants(c: &Committed) -> std::result::Result<(), TestCaseError> {
    let mut seen = vec![0u8; c.next_id as usize];
    for id in c.done.iter().chain(&c.queued) {
        prop_assert!(
            *id < c.next_id,
            "work {} was never handed out in a committed hook",
            id
        );
        seen[*id as usize] += 1;
    }
    for (id, times) in seen.iter().enumerate() {
        prop_assert_eq!(
            *times,
            1,
            "work {} is done or queued {} times (done {:?}, queued {:?})",
            id,
            times,
            &c.done,
            &c.queued
        );
    }
    // The relation write and the stored state are committed together.
    prop_assert_eq!(&c.bag_done, &render(&c.done));
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn prop_faulty_dispatch_sequences_keep_work_exactly_once(
        steps in proptest::collection::vec(step(), 1..10),
    ) {
        // Quiet the panic hook for the simulated crashes only.
        let default_hook = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let crash = info.payload().downcast_ref::<String>().is_some_and(|m| m == CRASH);
            if !crash {
                default_hook(info);
            }
        }));
        let unit = Unit::new();
        let mut before = unit.committed()?;
        // The model: how much work committed hooks have handed out.
        let mut handed_out = 0u64;
        for step in &steps {
            let panic_after = match step.fault {
                Fault::Panic(n) => n,
                _ => -1,
            };
            unit.configure(step.emit, step.block, panic_after);
            let hook = if step.config_changed { "config-changed" } else { "update-status" };
            let (commit, fired, result) = unit.run(hook, step.fault);
            if fired && step.fault != Fault::Commit {
                prop_assert!(result.is_err(), "{:?} fired but {} succeeded", step.fault, hook);
            }
            if step.fault == Fault::None {
                prop_assert!(result.is_ok(), "{} failed without a fault: {:?}", hook, result);
            }
            let after = unit.committed()?;
            if commit {
                if step.config_changed {
                    handed_out += step.emit as u64;
                }
                prop_assert!(
                    after.done.starts_with(&before.done),
                    "committed work was undone: {:?} then {:?}",
                    &before.done,
                    &after.done
                );
                if !step.block && step.fault == Fault::None {
                    prop_assert!(after.queued.is_empty(), "unblocked, yet queued: {:?}", &after.queued);
                }
            } else {
                prop_assert_eq!(&after, &before, "a hook Juju threw away changed what it keeps");
            }
            prop_assert_eq!(after.next_id, handed_out);
            check_invariants(&after)?;
            before = after;
        }
        // Unblocked and without faults, the queue drains.
        unit.configure(0, false, -1);
        let (commit, _, result) = unit.run("update-status", Fault::None);
        prop_assert!(commit && result.is_ok(), "{:?}", result);
        let last = unit.committed()?;
        check_invariants(&last)?;
        prop_assert!(last.queued.is_empty(), "{:?}", &last.queued);
        prop_assert_eq!(last.done.len() as u64, handed_out);
        let _ = std::panic::take_hook();
    }
}
