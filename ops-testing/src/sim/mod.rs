//! The unit simulator: runs a compiled charm as Juju runs it, one process
//! per hook, for several units, with the fake hook tools on `PATH`, a fake
//! Pebble per container, and one model state file shared by all processes.
//!
//! It delivers hooks in Juju's order for deploy, add-unit, remove-unit,
//! pod churn and refresh, leadership changes, relations, config changes and
//! pebble-ready, and fires relation-changed on the other units whenever a
//! hook changed a databag (never before the unit's relation-joined for the
//! writer). A failed hook is retried first at the next step, as Juju
//! retries it, its writes are dropped meanwhile, and its unit shows
//! `error: hook failed: "<hook>"` until a retry succeeds (a failed action
//! is neither retried nor puts its unit in error). When the leader's unit
//! is removed no unit leads until its lease runs out
//! ([`Step::ExpireLease`]), as under Juju.
//!
//! Each hook finds its unit's Pebble where Juju puts it,
//! `/charm/containers/<name>/pebble.socket`: the simulator runs it in a
//! private mount namespace (`unshare -m`, or `unshare -U -r -m` when not
//! root) with the unit's own containers directory bind-mounted on
//! `/charm/containers`, so any charm (Python ops too) runs unmodified. See
//! [`PebbleAccess`] for the `OPS_CONTAINERS_DIR` opt-in and fallback.

pub mod account;
pub mod mermaid;
mod report;
pub mod scenario;

pub use account::{ModelFormat, ModelTextError, model_text};
pub use report::{
    BagWrite, ContainerReport, HookRecord, POD_REPLACED, RelationReport, Report, SecretReport,
    SecretWrite, ServiceReport, UnitReport,
};
pub use scenario::{
    FieldDoc, RELATION_ID_PLACEHOLDER, STEPS, Scenario, ScenarioError, Step, StepDoc, StepProblem,
};

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use ops::backend::RelationRef;
use ops::{CharmMeta, EndpointRole};

use crate::fake_juju::cli::{create_state, with_state};
use crate::fake_juju::{FakeJuju, HookContext, app_of, install_hook_tools};
use crate::fake_pebble::{FakePebble, ServiceEvent};
use crate::invocation::{self, Invocation, JUJU_VERSION};

/// Set (to anything but empty or `0`) to make the simulator give hooks
/// their Pebble sockets through `OPS_CONTAINERS_DIR` instead of a mount
/// namespace: [`PebbleAccess::ContainersDirVar`].
pub const CONTAINERS_VAR_OPT_IN: &str = "OPS_SIM_CONTAINERS_VAR";

/// Where Juju puts a unit's Pebble sockets.
const JUJU_CONTAINERS_DIR: &str = ops::pebble::DEFAULT_CONTAINERS_DIR;

/// How a hook finds its unit's Pebble sockets.
///
/// ```no_run
/// use ops_testing::sim::{PebbleAccess, Simulator};
/// # use std::path::Path;
/// # fn demo(sim: &mut Simulator) -> Result<(), ops_testing::sim::SimError> {
/// // A test that cannot use namespaces: only ops-rs charms read the variable.
/// sim.set_pebble_access(PebbleAccess::ContainersDirVar)?;
/// assert_eq!(sim.pebble_access(), PebbleAccess::ContainersDirVar);
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PebbleAccess {
    /// As under Juju: each hook runs in its own private mount namespace
    /// where the unit's containers directory is bind-mounted on
    /// `/charm/containers` (made if missing), so the socket is
    /// `/charm/containers/<name>/pebble.socket`. The default wherever
    /// `unshare` works.
    MountNamespace,
    /// `OPS_CONTAINERS_DIR` names the unit's containers directory: a
    /// variable Juju never sets, which only ops-rs charms read. Opt in with
    /// [`Simulator::set_pebble_access`] or [`CONTAINERS_VAR_OPT_IN`]; the
    /// simulator also falls back to it, with a warning
    /// ([`Simulator::pebble_fallback`]), where namespaces are unavailable.
    ContainersDirVar,
}

/// Whether this process runs as root (the owner of `/proc/self`).
fn running_as_root() -> bool {
    std::fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0)
}

/// `unshare` running `program` with `containers` bind-mounted on
/// `/charm/containers` in a private mount namespace; the environment, the
/// working directory and the process id (`unshare` and `sh` exec) carry
/// through.
fn namespaced(containers: &Path, program: &Path) -> Command {
    let mut command = Command::new("unshare");
    if !running_as_root() {
        command.args(["--user", "--map-root-user"]);
    }
    command
        .args(["--mount", "--propagation", "private", "--", "/bin/sh", "-c"])
        .arg(format!(
            "mount --bind -- \"$1\" {JUJU_CONTAINERS_DIR} && exec \"$2\""
        ))
        .arg("ops-sim-hook")
        .arg(containers)
        .arg(program);
    command
}

/// Checks that hooks can run namespaced: the mount point exists (made if
/// missing) and a bind mount in a new namespace works. The error says why not.
fn probe_namespaces(scratch: &Path) -> Result<(), String> {
    std::fs::create_dir_all(JUJU_CONTAINERS_DIR)
        .map_err(|e| format!("cannot make the mount point {JUJU_CONTAINERS_DIR}: {e}"))?;
    let output = namespaced(scratch, Path::new("/bin/true"))
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("cannot run unshare: {e}"))?;
    if output.status.success() {
        Ok(())
    } else {
        Err(format!(
            "unshare and mount --bind failed ({}): {}",
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        ))
    }
}

/// What can go wrong running a scenario (a charm's own failure is not an
/// error: it is recorded and retried).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SimError {
    /// The scenario file.
    #[error(transparent)]
    Scenario(#[from] ScenarioError),
    /// The charm's metadata.
    #[error(transparent)]
    Meta(#[from] ops::MetaError),
    /// Files, sockets, processes.
    #[error("{what}: {source}")]
    Io {
        /// What was being done.
        what: String,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// A step that does not fit the model (unknown unit, relation, ...).
    #[error("step {step}: {message}")]
    Step {
        /// The step number, from 1.
        step: usize,
        /// What is wrong.
        message: String,
    },
}

fn io(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> SimError {
    let what = what.into();
    move |source| SimError::Io { what, source }
}

/// One hook to run on one unit.
#[derive(Debug, Clone, PartialEq, Eq)]
struct HookRun {
    unit: String,
    hook: String,
    relation: Option<RelationRef>,
    remote_unit: Option<String>,
    remote_app: Option<String>,
    departing_unit: Option<String>,
    workload: Option<String>,
    action: Option<String>,
    /// In `<container>-pebble-custom-notice`: the notice's id and key.
    notice: Option<(String, String)>,
    /// Before the hook: this unit leaves `unit`'s view of this relation
    /// (a dying unit's relation-departed for it).
    hide: Option<(u32, String)>,
}

impl HookRun {
    fn new(unit: &str, hook: impl Into<String>) -> Self {
        Self {
            unit: unit.to_string(),
            hook: hook.into(),
            relation: None,
            remote_unit: None,
            remote_app: None,
            departing_unit: None,
            workload: None,
            action: None,
            notice: None,
            hide: None,
        }
    }

    fn relation(
        unit: &str,
        kind: &str,
        relation: &RelationRef,
        remote_unit: Option<&str>,
        remote_app: &str,
    ) -> Self {
        Self {
            relation: Some(relation.clone()),
            remote_unit: remote_unit.map(str::to_string),
            remote_app: Some(remote_app.to_string()),
            ..Self::new(unit, format!("{}-relation-{kind}", relation.name))
        }
    }
}

/// A running simulation.
pub struct Simulator {
    workdir: PathBuf,
    state: PathBuf,
    tools: PathBuf,
    charm_dir: PathBuf,
    binary: Option<PathBuf>,
    meta: CharmMeta,
    app: String,
    pebbles: BTreeMap<(String, String), FakePebble>,
    queue: VecDeque<HookRun>,
    failed: BTreeMap<String, HookRun>,
    records: Vec<HookRecord>,
    max_hooks_per_step: usize,
    pebble_access: PebbleAccess,
    pebble_fallback: Option<String>,
    /// (relation, unit, remote unit): `unit` has had (or has queued)
    /// relation-joined for `remote unit` and not departed it since.
    joined_seen: BTreeSet<(u32, String, String)>,
    /// The service events of each (unit, container)'s replaced pods, oldest first.
    earlier_pods: BTreeMap<(String, String), Vec<Vec<ServiceEvent>>>,
    /// The step running now (its hooks' [`HookRecord::step`]).
    current_step: usize,
}

impl Simulator {
    /// A simulator in `workdir` (made if missing; a relative path is taken
    /// from the current directory) for the charm in `charm_dir`, run as
    /// `binary` (or the directory's own `dispatch`), with the
    /// `juju-hook-tool` executable `hook_tool`.
    ///
    /// Hooks get their Pebble at `/charm/containers/<name>/pebble.socket`
    /// ([`PebbleAccess::MountNamespace`]) unless [`CONTAINERS_VAR_OPT_IN`]
    /// is set or namespaces do not work here; then
    /// [`PebbleAccess::ContainersDirVar`], and [`Simulator::pebble_fallback`]
    /// says why.
    pub fn new(
        workdir: &Path,
        model: &str,
        charm_dir: &Path,
        binary: Option<&Path>,
        app: Option<&str>,
        hook_tool: &Path,
    ) -> Result<Self, SimError> {
        let meta = CharmMeta::from_charm_dir(charm_dir)?;
        let app = app.map(str::to_string).unwrap_or_else(|| meta.name.clone());
        std::fs::create_dir_all(workdir).map_err(io("creating the work directory"))?;
        // Hooks run in the units' charm directories: every path they get
        // must be absolute.
        let workdir = &std::fs::canonicalize(workdir).map_err(io(format!(
            "resolving the work directory {}",
            workdir.display()
        )))?;
        let tools = workdir.join("tools");
        install_hook_tools(hook_tool, &tools).map_err(io("installing the hook tools"))?;
        let state = workdir.join("model.json");
        create_state(&state, &FakeJuju::new(model)).map_err(io("creating the model state"))?;
        let opted_in =
            std::env::var(CONTAINERS_VAR_OPT_IN).is_ok_and(|v| !v.is_empty() && v != "0");
        let (pebble_access, pebble_fallback) = if opted_in {
            (PebbleAccess::ContainersDirVar, None)
        } else {
            match probe_namespaces(workdir) {
                Ok(()) => (PebbleAccess::MountNamespace, None),
                Err(why) => {
                    let message = format!(
                        "hooks get their Pebble sockets through {} (only ops-rs charms read it), not at {JUJU_CONTAINERS_DIR}: {why}",
                        ops::CONTAINERS_DIR_VAR
                    );
                    tracing::warn!("{message}");
                    (PebbleAccess::ContainersDirVar, Some(message))
                }
            }
        };
        Ok(Self {
            workdir: workdir.to_path_buf(),
            state,
            tools,
            charm_dir: charm_dir.to_path_buf(),
            binary: binary.map(Path::to_path_buf),
            meta,
            app,
            pebbles: BTreeMap::new(),
            queue: VecDeque::new(),
            failed: BTreeMap::new(),
            records: Vec::new(),
            max_hooks_per_step: 2000,
            pebble_access,
            pebble_fallback,
            joined_seen: BTreeSet::new(),
            earlier_pods: BTreeMap::new(),
            current_step: 0,
        })
    }

    /// How hooks find their Pebble sockets now.
    pub fn pebble_access(&self) -> PebbleAccess {
        self.pebble_access
    }

    /// Why the simulator fell back to [`PebbleAccess::ContainersDirVar`]
    /// (namespaces unavailable), if it did.
    pub fn pebble_fallback(&self) -> Option<&str> {
        self.pebble_fallback.as_deref()
    }

    /// Chooses how hooks find their Pebble sockets. Choosing
    /// [`PebbleAccess::MountNamespace`] checks that namespaces work here.
    pub fn set_pebble_access(&mut self, access: PebbleAccess) -> Result<(), SimError> {
        if access == PebbleAccess::MountNamespace {
            probe_namespaces(&self.workdir).map_err(|message| SimError::Io {
                what: "running hooks in a mount namespace".to_string(),
                source: std::io::Error::other(message),
            })?;
        }
        self.pebble_access = access;
        self.pebble_fallback = None;
        Ok(())
    }

    /// Runs a whole scenario and reports the final model:
    /// [`Simulator::for_scenario`] then [`Simulator::run_steps`].
    pub fn run_scenario(
        scenario: &Scenario,
        base: &Path,
        workdir: &Path,
        hook_tool: &Path,
        binary: Option<&Path>,
    ) -> Result<Report, SimError> {
        Self::for_scenario(scenario, base, workdir, hook_tool, binary)?.run_steps(scenario)
    }

    /// A simulator for a scenario's charm (its `dir` taken from `base`, the
    /// scenario file's directory; `binary` overrides its `binary`), with the
    /// scenario's simulated applications deployed and no step run yet.
    pub fn for_scenario(
        scenario: &Scenario,
        base: &Path,
        workdir: &Path,
        hook_tool: &Path,
        binary: Option<&Path>,
    ) -> Result<Self, SimError> {
        let charm_dir = base.join(&scenario.charm.dir);
        let binary = binary
            .map(Path::to_path_buf)
            .or_else(|| scenario.charm.binary.clone());
        let mut sim = Self::new(
            workdir,
            &scenario.model,
            &charm_dir,
            binary.as_deref(),
            scenario.charm.app.as_deref(),
            hook_tool,
        )?;
        for (name, remote) in &scenario.apps {
            sim.add_remote_app(name, remote)?;
        }
        Ok(sim)
    }

    /// Runs a scenario's steps, numbered from 1, and reports the final model.
    pub fn run_steps(&mut self, scenario: &Scenario) -> Result<Report, SimError> {
        for (i, step) in scenario.steps.iter().enumerate() {
            self.step(i + 1, step)?;
        }
        self.report()
    }

    fn juju<T>(&self, f: impl FnOnce(&mut FakeJuju) -> T) -> Result<T, SimError> {
        with_state(&self.state, f).map_err(io("using the model state"))
    }

    /// Deploys a simulated application that only holds relation data.
    pub fn add_remote_app(
        &mut self,
        name: &str,
        remote: &scenario::RemoteApp,
    ) -> Result<(), SimError> {
        let mut yaml = format!("name: {name}\n");
        for role in ["requires", "provides"] {
            let endpoints: Vec<_> = remote
                .endpoints
                .iter()
                .filter(|(_, e)| e.role == role)
                .collect();
            if !endpoints.is_empty() {
                yaml.push_str(&format!("{role}:\n"));
                for (endpoint, e) in endpoints {
                    yaml.push_str(&format!("  {endpoint}: {{interface: {}}}\n", e.interface));
                }
            }
        }
        let meta = CharmMeta::from_charmcraft_yaml(&yaml)?;
        let units = remote.units;
        self.juju(|j| {
            j.deploy(name, &meta, units);
        })
    }

    fn unit_dir(&self, unit: &str) -> PathBuf {
        self.workdir.join("units").join(unit.replace('/', "-"))
    }

    /// Makes the unit's charm directory (metadata, `dispatch`) and its Pebbles.
    fn provision(&mut self, unit: &str) -> Result<(), SimError> {
        let charm = crate::scratch::charm_dir(&self.unit_dir(unit));
        std::fs::create_dir_all(&charm).map_err(io(format!("creating {}", charm.display())))?;
        let entries = std::fs::read_dir(&self.charm_dir)
            .map_err(io(format!("reading {}", self.charm_dir.display())))?;
        for entry in entries {
            let entry = entry.map_err(io("reading the charm directory"))?;
            let name = entry.file_name();
            if name.to_string_lossy().starts_with(".unit-state")
                || (self.binary.is_some() && name == "dispatch")
            {
                continue;
            }
            let link = charm.join(&name);
            if std::fs::symlink_metadata(&link).is_err() {
                let target = std::fs::canonicalize(entry.path())
                    .map_err(io("resolving the charm directory"))?;
                std::os::unix::fs::symlink(target, &link)
                    .map_err(io("linking the charm directory"))?;
            }
        }
        if let Some(binary) = &self.binary {
            let target = std::fs::canonicalize(binary)
                .map_err(io(format!("finding the charm binary {}", binary.display())))?;
            let link = charm.join("dispatch");
            if std::fs::symlink_metadata(&link).is_err() {
                std::os::unix::fs::symlink(target, &link).map_err(io("linking dispatch"))?;
            }
        }
        // What hooks see as /charm/containers, containers or none.
        let containers = crate::scratch::containers_dir(&self.unit_dir(unit));
        std::fs::create_dir_all(&containers).map_err(io("creating the containers directory"))?;
        for container in self.meta.containers.keys().cloned().collect::<Vec<_>>() {
            let (socket, root) = crate::scratch::pebble_paths(&self.unit_dir(unit), &container);
            if let Some(parent) = socket.parent() {
                std::fs::create_dir_all(parent)
                    .map_err(io("creating the Pebble socket directory"))?;
            }
            std::fs::create_dir_all(&root).map_err(io("creating the container root"))?;
            let pebble = FakePebble::start(socket, root).map_err(io("starting a fake Pebble"))?;
            self.pebbles.insert((unit.to_string(), container), pebble);
        }
        Ok(())
    }

    fn units(&self) -> Result<Vec<String>, SimError> {
        let app = self.app.clone();
        self.juju(|j| {
            j.apps
                .get(&app)
                .map(|a| a.units.clone())
                .unwrap_or_default()
        })
    }

    fn peer_relations(&self) -> Result<Vec<RelationRef>, SimError> {
        let app = self.app.clone();
        let peers: Vec<String> = self
            .meta
            .endpoints
            .iter()
            .filter(|(_, e)| e.role == EndpointRole::Peer)
            .map(|(n, _)| n.clone())
            .collect();
        self.juju(|j| {
            peers
                .iter()
                .flat_map(|p| {
                    j.relations_of(&app, p)
                        .into_iter()
                        .map(|id| RelationRef::new(p.clone(), id))
                })
                .collect()
        })
    }

    /// Every relation the charm's application is in, by id, with the
    /// application on the other side.
    fn app_relations(&self) -> Result<Vec<(RelationRef, String)>, SimError> {
        let me = self.app.clone();
        self.juju(|j| {
            j.relations
                .values()
                .filter_map(|r| {
                    r.endpoint_of(&me)
                        .map(|e| (RelationRef::new(e, r.id), r.other_app(&me).to_string()))
                })
                .collect()
        })
    }

    /// The units on the other side of `relation` that are joined, as `unit`
    /// sees them (for peers, the other units).
    fn remote_units(&self, relation: u32, unit: &str) -> Result<Vec<String>, SimError> {
        let me = self.app.clone();
        let unit = unit.to_string();
        self.juju(|j| {
            j.relations
                .get(&relation)
                .map(|r| {
                    let other = r.other_app(&me).to_string();
                    r.joined
                        .iter()
                        .filter(|u| app_of(u) == other && **u != unit)
                        .cloned()
                        .collect()
                })
                .unwrap_or_default()
        })
    }

    /// Queues relation-joined, then relation-changed, on `unit` for `remote`:
    /// from now on `unit` hears of `remote`'s databag changes.
    fn queue_joined(&mut self, unit: &str, relation: &RelationRef, remote: &str, remote_app: &str) {
        self.joined_seen
            .insert((relation.id, unit.to_string(), remote.to_string()));
        for kind in ["joined", "changed"] {
            self.queue.push_back(HookRun::relation(
                unit,
                kind,
                relation,
                Some(remote),
                remote_app,
            ));
        }
    }

    /// Queues the hooks a new unit runs, up to start and pebble-ready:
    /// install, relation-created for every relation of the application,
    /// leader-elected or leader-settings-changed, config-changed, start and
    /// pebble-ready for each container.
    fn bring_up(&mut self, unit: &str, leader: bool) -> Result<(), SimError> {
        self.queue.push_back(HookRun::new(unit, "install"));
        for (relation, remote_app) in self.app_relations()? {
            self.queue.push_back(HookRun::relation(
                unit,
                "created",
                &relation,
                None,
                &remote_app,
            ));
        }
        self.queue.push_back(HookRun::new(
            unit,
            if leader {
                "leader-elected"
            } else {
                "leader-settings-changed"
            },
        ));
        self.queue.push_back(HookRun::new(unit, "config-changed"));
        self.queue.push_back(HookRun::new(unit, "start"));
        self.queue_pebble_ready(unit);
        Ok(())
    }

    fn queue_pebble_ready(&mut self, unit: &str) {
        for container in self.meta.containers.keys() {
            self.queue.push_back(HookRun {
                workload: Some(container.clone()),
                ..HookRun::new(unit, format!("{container}-pebble-ready"))
            });
        }
    }

    /// Queues relation-joined and -changed between a new `unit` and every
    /// unit it now shares a relation with: both ways with peers, one way
    /// for a simulated application's units (they run no charm).
    fn join_all(&mut self, unit: &str) -> Result<(), SimError> {
        for (relation, remote_app) in self.app_relations()? {
            for remote in self.remote_units(relation.id, unit)? {
                self.queue_joined(unit, &relation, &remote, &remote_app);
                if remote_app == self.app {
                    self.queue_joined(&remote, &relation, unit, &remote_app);
                }
            }
        }
        Ok(())
    }

    /// Adds a unit to the application and to every relation it is in.
    fn new_unit(&mut self) -> Result<String, SimError> {
        let app = self.app.clone();
        let relations = self.app_relations()?;
        let unit = self.juju(|j| {
            let unit = j.add_unit(&app);
            for (r, _) in &relations {
                j.join_unit(r.id, &unit);
            }
            unit
        })?;
        self.provision(&unit)?;
        Ok(unit)
    }

    fn step_error(step: usize, message: impl Into<String>) -> SimError {
        SimError::Step {
            step,
            message: message.into(),
        }
    }

    fn relation_with(&self, endpoint: &str, app: &str) -> Result<Option<RelationRef>, SimError> {
        let me = self.app.clone();
        let endpoint = endpoint.to_string();
        let app = app.to_string();
        self.juju(|j| {
            j.relations
                .values()
                .find(|r| r.endpoint_of(&me) == Some(endpoint.as_str()) && r.other_app(&me) == app)
                .map(|r| RelationRef::new(endpoint.clone(), r.id))
        })
    }

    /// `pebble-notify`: the notice in the container's Pebble, then the
    /// custom-notice hook Juju runs for it.
    fn pebble_notify(
        &mut self,
        number: usize,
        unit: &str,
        container: Option<&str>,
        key: &str,
        data: &BTreeMap<String, String>,
    ) -> Result<(), SimError> {
        self.check_unit(number, unit)?;
        let containers: Vec<&String> = self.meta.containers.keys().collect();
        let container = match (container, containers.as_slice()) {
            (Some(c), _) if containers.iter().any(|k| *k == c) => c.to_string(),
            (Some(c), _) => {
                return Err(Self::step_error(
                    number,
                    format!("the charm has no container {c}"),
                ));
            }
            (None, [only]) => (*only).clone(),
            (None, _) => {
                return Err(Self::step_error(
                    number,
                    "name the container: the charm has none or several",
                ));
            }
        };
        let pebble = self
            .pebbles
            .get(&(unit.to_string(), container.clone()))
            .filter(|p| p.can_connect())
            .ok_or_else(|| {
                Self::step_error(number, format!("{unit}'s {container} Pebble is not up"))
            })?;
        let id = pebble
            .notify(key, data)
            .map_err(|e| Self::step_error(number, e.to_string()))?;
        self.queue.push_back(HookRun {
            workload: Some(container.clone()),
            notice: Some((id, key.to_string())),
            ..HookRun::new(unit, format!("{container}-pebble-custom-notice"))
        });
        Ok(())
    }

    fn check_unit(&self, number: usize, unit: &str) -> Result<(), SimError> {
        if self.units()?.iter().any(|u| u == unit) {
            Ok(())
        } else {
            Err(Self::step_error(number, format!("no unit {unit}")))
        }
    }

    /// The config values of a `config` step as `juju config` takes them:
    /// declared options only, of their declared type; `null` resets an
    /// option to its default (or unsets it).
    fn checked_config(
        &self,
        number: usize,
        values: &BTreeMap<String, serde_json::Value>,
    ) -> Result<serde_json::Map<String, serde_json::Value>, SimError> {
        let mut checked = serde_json::Map::new();
        for (key, value) in values {
            let Some(option) = self.meta.config.get(key) else {
                return Err(Self::step_error(
                    number,
                    format!("config: unknown option {key:?} (the charm does not declare it)"),
                ));
            };
            if value.is_null() {
                let default = option.default.clone().unwrap_or(serde_json::Value::Null);
                checked.insert(key.clone(), default);
                continue;
            }
            if !option.kind.accepts(value) {
                return Err(Self::step_error(
                    number,
                    format!(
                        "config: option {key:?} expected {}, got {}",
                        option.kind,
                        ops::redact::json_kind(value)
                    ),
                ));
            }
            checked.insert(key.clone(), value.clone());
        }
        Ok(checked)
    }

    /// Runs one scenario step and every hook it causes.
    pub fn step(&mut self, number: usize, step: &Step) -> Result<(), SimError> {
        self.current_step = number;
        self.retry_failed()?;
        match step {
            Step::Deploy { units } => {
                let app = self.app.clone();
                let meta = self.meta.clone();
                let peers: Vec<String> = meta
                    .endpoints
                    .iter()
                    .filter(|(_, e)| e.role == EndpointRole::Peer)
                    .map(|(n, _)| n.clone())
                    .collect();
                let names = self.juju(|j| {
                    let names = j.deploy(&app, &meta, *units);
                    j.set_leader(&app, names.first().map(String::as_str));
                    for p in &peers {
                        let id = j.add_relation(&app, p, &app, p);
                        for n in &names {
                            j.join_unit(id, n);
                        }
                    }
                    names
                })?;
                for (i, unit) in names.iter().enumerate() {
                    self.provision(unit)?;
                    self.bring_up(unit, i == 0)?;
                }
                self.drain()?;
                for (i, unit) in names.iter().enumerate() {
                    for other in names.iter().skip(i + 1) {
                        for peers in self.peer_relations()? {
                            self.queue_joined(unit, &peers, other, &app);
                            self.queue_joined(other, &peers, unit, &app);
                        }
                    }
                }
            }
            Step::AddUnit {} => {
                let unit = self.new_unit()?;
                self.bring_up(&unit, false)?;
                self.drain()?;
                self.join_all(&unit)?;
            }
            Step::RemoveUnit { unit, expire_lease } => {
                self.remove_unit(number, unit, *expire_lease)?;
            }
            Step::ExpireLease {} => self.expire_lease(number)?,
            Step::SetLeader { unit } => {
                self.check_unit(number, unit)?;
                let app = self.app.clone();
                self.juju(|j| j.set_leader(&app, Some(unit)))?;
                for u in self.units()? {
                    let hook = if &u == unit {
                        "leader-elected"
                    } else {
                        "leader-settings-changed"
                    };
                    self.queue.push_back(HookRun::new(&u, hook));
                }
            }
            Step::Config(values) => {
                let app = self.app.clone();
                let values = self.checked_config(number, values)?;
                self.juju(|j| j.set_config(&app, values))?;
                for u in self.units()? {
                    self.queue.push_back(HookRun::new(&u, "config-changed"));
                }
            }
            Step::Relate(relate) => self.relate(number, relate)?,
            Step::SetRemoteData {
                endpoint,
                app,
                unit,
                data,
            } => {
                let relation = self.relation_with(endpoint, app)?.ok_or_else(|| {
                    Self::step_error(number, format!("no {endpoint} relation with {app}"))
                })?;
                let member = unit.clone().unwrap_or_else(|| app.clone());
                let data = data.clone();
                self.juju(|j| {
                    let mut bag = j.bag(relation.id, &member);
                    for (k, v) in data {
                        if v.is_empty() {
                            bag.remove(&k);
                        } else {
                            bag.insert(k, v);
                        }
                    }
                    j.set_bag(relation.id, &member, bag);
                })?;
                for u in self.units()? {
                    let heard = match unit {
                        Some(remote) => {
                            self.joined_seen
                                .contains(&(relation.id, u.clone(), remote.clone()))
                        }
                        None => true,
                    };
                    if heard {
                        self.queue.push_back(HookRun::relation(
                            &u,
                            "changed",
                            &relation,
                            unit.as_deref(),
                            app,
                        ));
                    }
                }
            }
            Step::RemoveRelation { endpoint, app } => {
                let relation = self.relation_with(endpoint, app)?.ok_or_else(|| {
                    Self::step_error(number, format!("no {endpoint} relation with {app}"))
                })?;
                for u in self.units()? {
                    for r in self.remote_units(relation.id, &u)? {
                        self.joined_seen
                            .remove(&(relation.id, u.clone(), r.clone()));
                        self.queue.push_back(HookRun {
                            departing_unit: Some(r.clone()),
                            hide: Some((relation.id, r.clone())),
                            ..HookRun::relation(&u, "departed", &relation, Some(&r), app)
                        });
                    }
                    self.queue
                        .push_back(HookRun::relation(&u, "broken", &relation, None, app));
                }
                self.drain()?;
                self.juju(|j| {
                    j.remove_relation(relation.id);
                })?;
                self.joined_seen.retain(|(id, _, _)| *id != relation.id);
            }
            Step::PebbleReady { unit } => {
                let units = match unit {
                    Some(u) => vec![u.clone()],
                    None => self.units()?,
                };
                for u in units {
                    for container in self.meta.containers.keys().cloned().collect::<Vec<_>>() {
                        if let Some(p) = self.pebbles.get(&(u.clone(), container.clone())) {
                            p.set_can_connect(true);
                        }
                    }
                    self.queue_pebble_ready(&u);
                }
            }
            Step::PebbleNotify {
                unit,
                container,
                key,
                data,
            } => self.pebble_notify(number, unit, container.as_deref(), key, data)?,
            Step::UpdateStatus {} => {
                for u in self.units()? {
                    self.queue.push_back(HookRun::new(&u, "update-status"));
                }
            }
            Step::RunAction {
                unit,
                action,
                params,
            } => {
                let (unit, action, params) = (unit.clone(), action.clone(), params.clone());
                self.juju(|j| j.start_action(&unit, &action, params))?;
                self.queue.push_back(HookRun {
                    action: Some(action.clone()),
                    ..HookRun::new(&unit, format!("actions/{action}"))
                });
            }
            Step::Churn { unit } => {
                self.check_unit(number, unit)?;
                self.churn(unit)?;
            }
            Step::Refresh {} => {
                for unit in self.units()? {
                    self.churn(&unit)?;
                }
            }
        }
        self.drain()
    }

    /// `relate`: a new relation (ids are model-wide and increase), the
    /// simulated app's databags (with [`RELATION_ID_PLACEHOLDER`] replaced),
    /// relation-created on every unit, then joined and changed for each
    /// remote unit, then changed for the app bag.
    fn relate(&mut self, number: usize, relate: &scenario::RelateStep) -> Result<(), SimError> {
        let me = self.app.clone();
        if self.meta.endpoint(&relate.endpoint).is_none() {
            return Err(Self::step_error(
                number,
                format!("the charm has no endpoint {}", relate.endpoint),
            ));
        }
        let units = self.units()?;
        let relate = relate.clone();
        let (id, remote_units) = self
            .juju(|j| {
                if !j.apps.contains_key(&relate.app) {
                    return Err(format!("no application {}", relate.app));
                }
                let id =
                    j.add_relation(&me, &relate.endpoint, &relate.app, &relate.remote_endpoint);
                let remote_units = j.apps[&relate.app].units.clone();
                for u in units.iter().chain(remote_units.iter()) {
                    j.join_unit(id, u);
                }
                let fill = |bag: &crate::fake_juju::Bag| -> crate::fake_juju::Bag {
                    bag.iter()
                        .map(|(k, v)| {
                            (
                                k.clone(),
                                v.replace(RELATION_ID_PLACEHOLDER, &id.to_string()),
                            )
                        })
                        .collect()
                };
                let mut app_bag = fill(&relate.app_data);
                for (key, content) in &relate.app_secrets {
                    let secret = j.add_secret(&relate.app, fill(content), None);
                    j.grant_secret(&secret, id, None);
                    app_bag.insert(key.clone(), secret);
                }
                j.set_bag(id, &relate.app, app_bag);
                for (unit, data) in &relate.unit_data {
                    j.set_bag(id, unit, fill(data));
                }
                Ok((id, remote_units))
            })?
            .map_err(|m| Self::step_error(number, m))?;
        let relation = RelationRef::new(relate.endpoint.clone(), id);
        for u in &units {
            self.queue.push_back(HookRun::relation(
                u,
                "created",
                &relation,
                None,
                &relate.app,
            ));
        }
        for u in &units {
            for r in &remote_units {
                self.queue_joined(u, &relation, r, &relate.app);
            }
            if !relate.app_data.is_empty() || !relate.app_secrets.is_empty() {
                self.queue.push_back(HookRun::relation(
                    u,
                    "changed",
                    &relation,
                    None,
                    &relate.app,
                ));
            }
        }
        Ok(())
    }

    /// Replaces a unit's pod: `stop` in the old one; new container
    /// filesystems, Pebbles and charm directory; then upgrade-charm,
    /// config-changed, leader-settings-changed (not on the leader), start
    /// and pebble-ready in the new one.
    fn churn(&mut self, unit: &str) -> Result<(), SimError> {
        self.queue.push_back(HookRun::new(unit, "stop"));
        self.drain()?;
        for container in self.meta.containers.keys().cloned().collect::<Vec<_>>() {
            let key = (unit.to_string(), container);
            if let Some(pebble) = self.pebbles.remove(&key) {
                self.earlier_pods
                    .entry(key)
                    .or_default()
                    .push(pebble.service_events());
                pebble.stop();
            }
        }
        for part in ["charm", "roots", "containers"] {
            let dir = self.unit_dir(unit).join(part);
            match std::fs::remove_dir_all(&dir) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => {
                    return Err(SimError::Io {
                        what: format!("removing the old pod's {}", dir.display()),
                        source: e,
                    });
                }
            }
        }
        self.provision(unit)?;
        let app = self.app.clone();
        let leader = self.juju(|j| j.leader(&app) == Some(unit))?;
        self.queue.push_back(HookRun::new(unit, "upgrade-charm"));
        self.queue.push_back(HookRun::new(unit, "config-changed"));
        if !leader {
            self.queue
                .push_back(HookRun::new(unit, "leader-settings-changed"));
        }
        self.queue.push_back(HookRun::new(unit, "start"));
        self.queue_pebble_ready(unit);
        self.drain()
    }

    fn remove_unit(
        &mut self,
        number: usize,
        unit: &str,
        expire_lease: bool,
    ) -> Result<(), SimError> {
        self.check_unit(number, unit)?;
        let app = self.app.clone();
        let mut relations = Vec::new();
        for (relation, remote_app) in self.app_relations()? {
            let remotes = self.remote_units(relation.id, unit)?;
            relations.push((relation, remote_app, remotes));
        }
        // The dying unit leaves every scope: the others no longer list it,
        // nor hear of its bag again.
        self.joined_seen
            .retain(|(_, u, remote)| u != unit && remote != unit);
        self.juju(|j| {
            for (r, _, _) in &relations {
                j.depart_unit(r.id, unit);
            }
        })?;
        for (relation, remote_app, remotes) in &relations {
            for remote in remotes {
                self.queue.push_back(HookRun {
                    departing_unit: Some(unit.to_string()),
                    hide: Some((relation.id, remote.clone())),
                    ..HookRun::relation(unit, "departed", relation, Some(remote), remote_app)
                });
            }
        }
        for (relation, remote_app, _) in &relations {
            self.queue.push_back(HookRun::relation(
                unit, "broken", relation, None, remote_app,
            ));
        }
        for (relation, remote_app, remotes) in &relations {
            if *remote_app != app {
                continue;
            }
            for other in remotes {
                self.queue.push_back(HookRun {
                    departing_unit: Some(unit.to_string()),
                    ..HookRun::relation(other, "departed", relation, Some(unit), &app)
                });
            }
        }
        self.queue.push_back(HookRun::new(unit, "stop"));
        self.queue.push_back(HookRun::new(unit, "remove"));
        self.drain()?;
        let was_leader = self.juju(|j| {
            let was = j.leader(&app) == Some(unit);
            j.remove_unit(unit);
            was
        })?;
        self.failed.remove(unit);
        self.queue.retain(|run| run.unit != unit);
        self.pebbles.retain(|(u, _), _| u != unit);
        self.earlier_pods.retain(|(u, _), _| u != unit);
        // The dead leader's lease is still held: no unit leads until it
        // runs out (`expire-lease`, or at once with `expire-lease: true`).
        if was_leader && expire_lease {
            self.expire_lease(number)?;
        }
        Ok(())
    }

    /// `expire-lease`: the lease of a leader that is gone runs out; Juju
    /// elects the lowest unit left, which runs leader-elected (the others
    /// leader-settings-changed). An error while a unit leads (its lease is
    /// renewed while it lives) or when no unit is left.
    fn expire_lease(&mut self, number: usize) -> Result<(), SimError> {
        let app = self.app.clone();
        if let Some(leader) = self.juju(|j| j.leader(&app).map(str::to_string))? {
            return Err(Self::step_error(
                number,
                format!("{leader} leads: its lease does not run out while it lives"),
            ));
        }
        let units = self.units()?;
        let Some(new) = units.first().cloned() else {
            return Err(Self::step_error(
                number,
                format!("no unit of {app} is left to lead"),
            ));
        };
        self.juju(|j| j.set_leader(&app, Some(&new)))?;
        for u in &units {
            let hook = if *u == new {
                "leader-elected"
            } else {
                "leader-settings-changed"
            };
            self.queue.push_back(HookRun::new(u, hook));
        }
        Ok(())
    }

    fn retry_failed(&mut self) -> Result<(), SimError> {
        let failed: Vec<HookRun> = std::mem::take(&mut self.failed).into_values().collect();
        for run in failed {
            self.run_hook(&run)?;
        }
        self.drain()
    }

    /// Runs queued hooks until none are left; a unit in error runs nothing more.
    fn drain(&mut self) -> Result<(), SimError> {
        let mut ran = 0;
        let mut deferred_for_error = VecDeque::new();
        while let Some(run) = self.queue.pop_front() {
            if self.failed.contains_key(&run.unit) {
                deferred_for_error.push_back(run);
                continue;
            }
            ran += 1;
            if ran > self.max_hooks_per_step {
                return Err(SimError::Step {
                    step: 0,
                    message: format!(
                        "more than {} hooks in one step: the units keep changing each other's data",
                        self.max_hooks_per_step
                    ),
                });
            }
            self.run_hook(&run)?;
        }
        self.queue = deferred_for_error;
        Ok(())
    }

    fn run_hook(&mut self, run: &HookRun) -> Result<(), SimError> {
        let exists = {
            let unit = run.unit.clone();
            self.juju(|j| j.units.contains_key(&unit))?
        };
        if !exists {
            return Ok(());
        }
        let ctx = HookContext {
            unit: run.unit.clone(),
            relation: run.relation.clone(),
            remote_unit: run.remote_unit.clone(),
            remote_app: run.remote_app.clone(),
            departing_unit: run.departing_unit.clone(),
        };
        let hide = run.hide.clone();
        let (model_name, model_uuid, secrets_before) = self.juju(|j| {
            if let Some((relation, gone)) = &hide {
                j.depart_from_view(*relation, &ctx.unit, gone);
            }
            j.begin_hook(&ctx);
            (
                j.model_name.clone(),
                j.model_uuid.clone(),
                j.secrets.clone(),
            )
        })?;
        let charm = crate::scratch::charm_dir(&self.unit_dir(&run.unit));
        let path = std::env::var("PATH").unwrap_or_default();
        let dispatch_path = if run.hook.starts_with("actions/") {
            run.hook.clone()
        } else {
            format!("hooks/{}", run.hook)
        };
        let containers = crate::scratch::containers_dir(&self.unit_dir(&run.unit));
        let dispatch = charm.join("dispatch");
        let mut command = match self.pebble_access {
            PebbleAccess::MountNamespace => {
                let mut command = namespaced(&containers, &dispatch);
                command.env_remove(ops::CONTAINERS_DIR_VAR);
                command
            }
            PebbleAccess::ContainersDirVar => {
                let mut command = Command::new(&dispatch);
                command.env(ops::CONTAINERS_DIR_VAR, &containers);
                command
            }
        };
        // What the process inherits is not Juju's: no JUJU_* variable of
        // the caller's reaches the hook, only this dispatch's.
        for (var, _) in std::env::vars_os() {
            if var.to_string_lossy().starts_with("JUJU_") {
                command.env_remove(var);
            }
        }
        let mut event_vars = Vec::new();
        if let Some(workload) = &run.workload {
            let notice = run
                .notice
                .as_ref()
                .map(|(id, key)| (id.as_str(), "custom", key.as_str()));
            event_vars.extend(invocation::event_vars::workload(workload, notice, None));
        }
        if let Some(action) = &run.action {
            let uuid = (self.records.len() + 1).to_string();
            event_vars.extend(invocation::event_vars::action(action, &uuid));
        }
        let invocation = Invocation {
            dispatch_path,
            context: ctx.clone(),
            model_name,
            model_uuid,
            charm_dir: charm.clone(),
            juju_version: JUJU_VERSION.to_string(),
            event_vars,
        };
        command
            .current_dir(&charm)
            .env_remove("OPERATOR_DISPATCH")
            .env("PATH", format!("{}:{path}", self.tools.display()))
            .env(crate::fake_juju::cli::STATE_VAR, &self.state)
            .envs(invocation.env())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let pebbles: Vec<(&String, &FakePebble)> = self
            .pebbles
            .iter()
            .filter(|((u, _), _)| *u == run.unit)
            .map(|((_, c), p)| (c, p))
            .collect();
        let events_before: Vec<usize> = pebbles
            .iter()
            .map(|(_, p)| p.service_events().len())
            .collect();
        let started = Instant::now();
        if let Err(e) = std::fs::metadata(&dispatch) {
            return Err(SimError::Io {
                what: format!("running {}", dispatch.display()),
                source: e,
            });
        }
        let output = command
            .output()
            .map_err(io(format!("running {}", dispatch.display())))?;
        let elapsed = started.elapsed();
        let success = output.status.success();
        let service_events = pebbles
            .iter()
            .zip(events_before)
            .flat_map(|((container, pebble), before)| {
                pebble
                    .service_events()
                    .into_iter()
                    .skip(before)
                    .map(move |e| format!("{container}: {e}"))
            })
            .collect();
        let me = self.app.clone();
        let (changes, writes, secret_writes) = self.juju(|j| {
            // Only the bags this hook wrote: their content before it commits.
            let before: Vec<(u32, String, crate::fake_juju::Bag)> = j
                .pending
                .get(&run.unit)
                .map(|p| {
                    p.bags
                        .iter()
                        .map(|b| (b.relation, b.member.clone(), j.bag(b.relation, &b.member)))
                        .collect()
                })
                .unwrap_or_default();
            let changes = j.end_hook(&run.unit, success);
            let writes = changes
                .changed_bags
                .iter()
                .filter_map(|(relation, member)| {
                    let (_, _, old) = before
                        .iter()
                        .find(|(r, m, _)| r == relation && m == member)?;
                    let endpoint = j.relations.get(relation)?.endpoint_of(&me)?.to_string();
                    Some(BagWrite::diff(
                        *relation,
                        endpoint,
                        member,
                        old,
                        &j.bag(*relation, member),
                    ))
                })
                .collect();
            (
                changes,
                writes,
                SecretWrite::diff(&secrets_before, &j.secrets),
            )
        })?;
        self.records.push(HookRecord {
            step: self.current_step,
            unit: run.unit.clone(),
            hook: run.hook.clone(),
            relation_id: run.relation.as_ref().map(|r| r.id),
            remote_app: run.remote_app.clone(),
            remote_unit: run.remote_unit.clone(),
            departing_unit: run.departing_unit.clone(),
            exit_code: output.status.code().unwrap_or(-1),
            duration_ms: elapsed.as_secs_f64() * 1000.0,
            stderr: (!success).then(|| String::from_utf8_lossy(&output.stderr).trim().to_string()),
            writes,
            secret_writes,
            service_events,
        });
        if !success {
            // A failed action fails the action, not the unit: Juju neither
            // retries it nor puts the unit in error.
            if run.action.is_none() {
                self.failed.insert(run.unit.clone(), run.clone());
            }
            return Ok(());
        }
        for (relation, member) in changes.changed_bags {
            self.notify_change(relation, &member, &run.unit)?;
        }
        Ok(())
    }

    /// Queues relation-changed on every unit that sees the changed bag.
    fn notify_change(&mut self, relation: u32, member: &str, writer: &str) -> Result<(), SimError> {
        let me = self.app.clone();
        let found = self.juju(|j| j.relations.get(&relation).cloned())?;
        let Some(r) = found else {
            return Ok(());
        };
        let Some(endpoint) = r.endpoint_of(&me).map(str::to_string) else {
            return Ok(());
        };
        let relation_ref = RelationRef::new(endpoint, relation);
        let writer_app = app_of(writer).to_string();
        let listeners: Vec<String> = r
            .joined
            .iter()
            .filter(|u| app_of(u) == me && *u != writer)
            .filter(|_| r.is_peer() || writer_app != me)
            .cloned()
            .collect();
        let remote_unit = member.contains('/').then(|| member.to_string());
        for unit in listeners {
            // Juju tells a unit of a remote unit's changes only after its
            // relation-joined for that unit.
            if let Some(remote) = &remote_unit
                && !self
                    .joined_seen
                    .contains(&(relation, unit.clone(), remote.clone()))
            {
                continue;
            }
            let run = HookRun::relation(
                &unit,
                "changed",
                &relation_ref,
                remote_unit.as_deref(),
                &writer_app,
            );
            if !self.queue.contains(&run) {
                self.queue.push_back(run);
            }
        }
        Ok(())
    }

    /// The model now, each unit's container files and service events, and every hook run.
    pub fn report(&self) -> Result<Report, SimError> {
        let juju = self.juju(|j| j.clone())?;
        let in_error = self
            .failed
            .iter()
            .map(|(unit, run)| (unit.clone(), run.hook.clone()))
            .collect();
        report::build(
            &juju,
            &self.app,
            &self.pebbles,
            &self.earlier_pods,
            &self.records,
            &in_error,
        )
    }

    /// Every hook run so far.
    pub fn records(&self) -> &[HookRecord] {
        &self.records
    }

    /// The model state file (for tests to read with `load_state`).
    pub fn state_path(&self) -> &Path {
        &self.state
    }

    /// The fake Pebble of a unit's container.
    pub fn pebble(&self, unit: &str, container: &str) -> Option<&FakePebble> {
        self.pebbles.get(&(unit.to_string(), container.to_string()))
    }
}
