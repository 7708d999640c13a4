//! A fake Juju: one model that the Harness and the fake hook-tool executables
//! share.
//!
//! - [`FakeJuju`] holds the whole model: applications (endpoints, units,
//!   leader, config, status), units (status, controller-side state, ports,
//!   the current action), relations and their databags, secrets, `juju-log`
//!   lines. Tests and the simulator change it freely with its management
//!   methods ([`FakeJuju::deploy`], [`FakeJuju::add_relation`],
//!   [`FakeJuju::set_bag`], ...), which apply no rules.
//! - Charm code reaches it only through the hook operations
//!   (`FakeJuju::hook_*`), as one unit in one [`HookContext`]: Juju's access
//!   rules, Juju's error messages ([`HookError`]), and Juju's transactions:
//!   `relation-set`, `state-set`, `state-delete`, `open-port` and
//!   `close-port` stay pending until [`FakeJuju::end_hook`] says the hook
//!   succeeded; `status-set`, `juju-log`, `application-version-set`,
//!   `leader-set` and the secret tools apply at once, as in Juju.
//! - [`FakeTools`] runs the tools' command lines in process under `ops`'
//!   own [`HookTools`](ops::backend::HookTools): the Harness, Context and
//!   every in-process test reach the model through the argv and output a
//!   charm has under Juju, with no process.
//! - [`cli`] is the same model behind the `juju-hook-tool` executable, which
//!   acts as the tool its name says (`relation-get`, `status-set`, ...) and
//!   keeps the model in the JSON file named by `$OPS_FAKE_JUJU_STATE`;
//!   [`install_hook_tools`] puts the tool names on a directory for `PATH`.

pub mod cli;
mod cmd;
mod flags;
mod hook;
mod model;
mod restricted;
mod runner;
mod secret_tools;
mod secrets;
mod state;
mod storage;
mod store;
#[cfg(test)]
mod tests;
mod tools;

pub use cli::install_hook_tools;
pub use hook::{
    HookChanges, HookContext, HookError, HookErrorKind, MAX_STATE_KEY, MAX_STATE_VALUE,
};
pub use restricted::{
    METRICS_HOOK, METRICS_NOT_ALLOWED, RESTRICTED_CONTEXT, RESTRICTED_HOOKS, RESTRICTED_TOOLS,
    is_restricted_hook, is_restricted_tool,
};
pub use runner::FakeTools;
pub use state::{
    ActionState, AddedMetrics, AppState, Bag, EndpointState, LogRecord, Pending, PendingBag,
    PortRange, RelationState, SecretGrant, SecretState, StorageState, UnitState,
};

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// The model uuid a new [`FakeJuju`] gets (the simulator sets the same in
/// `JUJU_MODEL_UUID`).
pub const MODEL_UUID: &str = "00000000-0000-4000-8000-000000000000";

/// The whole fake model: what a Juju controller knows about one model.
///
/// Plain data: it serializes to the JSON state file the hook-tool processes
/// share, and clones cheaply enough for tests.
///
/// ```
/// use ops_testing::fake_juju::{FakeJuju, HookContext};
/// use ops::backend::RelationRef;
///
/// let meta = ops::CharmMeta::from_charmcraft_yaml(
///     "name: demo\npeers: {replicas: {interface: demo}}\n",
/// ).unwrap();
/// let mut juju = FakeJuju::new("test");
/// let units = juju.deploy("demo", &meta, 2);
/// juju.set_leader("demo", Some(&units[0]));
/// let peers = juju.add_relation("demo", "replicas", "demo", "replicas");
/// juju.join_unit(peers, &units[0]);
/// juju.join_unit(peers, &units[1]);
///
/// // demo/1 writes its bag in a hook: pending until the hook succeeds.
/// let ctx = HookContext::unit("demo/1");
/// let replicas = RelationRef::new("replicas", peers);
/// juju.begin_hook(&ctx);
/// juju.hook_relation_set(&ctx, &replicas, false, &[("ready".into(), "yes".into())].into())
///     .unwrap();
/// assert!(juju.bag(peers, "demo/1").is_empty());
/// let changes = juju.end_hook("demo/1", true);
/// assert_eq!(changes.changed_bags, vec![(peers, "demo/1".to_string())]);
/// assert_eq!(juju.bag(peers, "demo/1")["ready"], "yes");
///
/// // Only the leader writes the application's bag.
/// let err = juju
///     .hook_relation_set(&ctx, &replicas, true, &[("k".into(), "v".into())].into())
///     .unwrap_err();
/// assert_eq!(err.message, "cannot write relation settings");
/// ```
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct FakeJuju {
    /// The model's name.
    pub model_name: String,
    /// The model's uuid (`relation-model-get`).
    #[serde(default)]
    pub model_uuid: String,
    /// Applications by name.
    pub apps: BTreeMap<String, AppState>,
    /// Units by name.
    pub units: BTreeMap<String, UnitState>,
    /// Relations by id.
    pub relations: BTreeMap<u32, RelationState>,
    /// Secrets by id (`secret:<xid>`).
    pub secrets: BTreeMap<String, SecretState>,
    /// Every `juju-log` line, in order.
    pub logs: Vec<LogRecord>,
    /// The writes of hooks still running, by unit.
    pub pending: BTreeMap<String, Pending>,
    /// What `credential-get` answers to a trusted application.
    #[serde(default)]
    pub cloud_spec: Option<serde_json::Value>,
    next_relation_id: u32,
    next_secret: u64,
    #[serde(default)]
    next_address: u32,
}

/// The application of a unit name (`app/0` → `app`); an application name is
/// returned as it is.
pub fn app_of(unit: &str) -> &str {
    unit.split('/').next().unwrap_or(unit)
}
