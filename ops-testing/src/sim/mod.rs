//! The unit simulator: runs a compiled charm as Juju runs it, one process
//! per hook, for several units, with the fake hook tools on `PATH`, a fake
//! Pebble per container, and one model state file shared by all processes.
//!
//! It delivers hooks in Juju's order for deploy, add-unit, remove-unit,
//! leadership changes, relations, config changes and pebble-ready, and fires
//! relation-changed on the other units whenever a hook changed a databag.
//! A failed hook is retried first at the next step, as Juju retries it,
//! and its writes are dropped meanwhile.

mod report;
pub mod scenario;

pub use report::{HookRecord, Report};
pub use scenario::{Scenario, ScenarioError, Step};

use std::collections::{BTreeMap, VecDeque};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use ops::backend::RelationRef;
use ops::{CharmMeta, EndpointRole};

use crate::fake_juju::cli::{create_state, with_state};
use crate::fake_juju::{FakeJuju, HookContext, app_of, install_hook_tools};
use crate::fake_pebble::FakePebble;

/// What can go wrong running a scenario (a charm's own failure is not an
/// error: it is recorded and retried).
#[derive(Debug, thiserror::Error)]
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
}

impl Simulator {
    /// A simulator in `workdir` for the charm in `charm_dir`, run as `binary`
    /// (or the directory's own `dispatch`), with the `juju-hook-tool`
    /// executable `hook_tool`.
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
        let tools = workdir.join("tools");
        install_hook_tools(hook_tool, &tools).map_err(io("installing the hook tools"))?;
        let state = workdir.join("model.json");
        create_state(&state, &FakeJuju::new(model)).map_err(io("creating the model state"))?;
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
        })
    }

    /// Runs a whole scenario and reports the final model.
    pub fn run_scenario(
        scenario: &Scenario,
        base: &Path,
        workdir: &Path,
        hook_tool: &Path,
        binary: Option<&Path>,
    ) -> Result<Report, SimError> {
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
        for (i, step) in scenario.steps.iter().enumerate() {
            sim.step(i + 1, step)?;
        }
        sim.report()
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
        let charm = self.unit_dir(unit).join("charm");
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
        for container in self.meta.containers.keys().cloned().collect::<Vec<_>>() {
            let containers = self.unit_dir(unit).join("containers");
            let socket = ops::pebble::socket_path(&containers, &container);
            if let Some(parent) = socket.parent() {
                std::fs::create_dir_all(parent)
                    .map_err(io("creating the Pebble socket directory"))?;
            }
            let root = self.unit_dir(unit).join("roots").join(&container);
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

    /// Queues the hooks a new unit runs, up to start and pebble-ready.
    fn bring_up(&mut self, unit: &str, leader: bool) -> Result<(), SimError> {
        self.queue.push_back(HookRun::new(unit, "install"));
        for peers in self.peer_relations()? {
            self.queue.push_back(HookRun::relation(
                unit,
                "created",
                &peers,
                None,
                &self.app.clone(),
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
        for container in self.meta.containers.keys() {
            self.queue.push_back(HookRun {
                workload: Some(container.clone()),
                ..HookRun::new(unit, format!("{container}-pebble-ready"))
            });
        }
        Ok(())
    }

    /// Queues relation-joined and -changed between `unit` and its peers, both ways.
    fn join_peers(&mut self, unit: &str) -> Result<(), SimError> {
        let others: Vec<String> = self.units()?.into_iter().filter(|u| u != unit).collect();
        for peers in self.peer_relations()? {
            for other in &others {
                for (a, b) in [(unit, other.as_str()), (other.as_str(), unit)] {
                    self.queue.push_back(HookRun::relation(
                        a,
                        "joined",
                        &peers,
                        Some(b),
                        &self.app.clone(),
                    ));
                    self.queue.push_back(HookRun::relation(
                        a,
                        "changed",
                        &peers,
                        Some(b),
                        &self.app.clone(),
                    ));
                }
            }
        }
        Ok(())
    }

    fn new_unit(&mut self) -> Result<String, SimError> {
        let app = self.app.clone();
        let peers = self.peer_relations()?;
        let unit = self.juju(|j| {
            let unit = j.add_unit(&app);
            for p in &peers {
                j.join_unit(p.id, &unit);
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

    /// Runs one scenario step and every hook it causes.
    pub fn step(&mut self, number: usize, step: &Step) -> Result<(), SimError> {
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
                            for (a, b) in [
                                (unit.as_str(), other.as_str()),
                                (other.as_str(), unit.as_str()),
                            ] {
                                self.queue.push_back(HookRun::relation(
                                    a,
                                    "joined",
                                    &peers,
                                    Some(b),
                                    &app,
                                ));
                                self.queue.push_back(HookRun::relation(
                                    a,
                                    "changed",
                                    &peers,
                                    Some(b),
                                    &app,
                                ));
                            }
                        }
                    }
                }
            }
            Step::AddUnit {} => {
                let unit = self.new_unit()?;
                self.bring_up(&unit, false)?;
                self.drain()?;
                self.join_peers(&unit)?;
            }
            Step::RemoveUnit { unit } => self.remove_unit(number, unit)?,
            Step::SetLeader { unit } => {
                if !self.units()?.contains(unit) {
                    return Err(Self::step_error(number, format!("no unit {unit}")));
                }
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
                let values = values.clone().into_iter().collect();
                self.juju(|j| j.set_config(&app, values))?;
                for u in self.units()? {
                    self.queue.push_back(HookRun::new(&u, "config-changed"));
                }
            }
            Step::Relate(relate) => {
                let me = self.app.clone();
                if self.meta.endpoint(&relate.endpoint).is_none() {
                    return Err(Self::step_error(
                        number,
                        format!("the charm has no endpoint {}", relate.endpoint),
                    ));
                }
                let units = self.units()?;
                let relate = relate.clone();
                let id = self
                    .juju(|j| {
                        if !j.apps.contains_key(&relate.app) {
                            return Err(format!("no application {}", relate.app));
                        }
                        let id = j.add_relation(
                            &me,
                            &relate.endpoint,
                            &relate.app,
                            &relate.remote_endpoint,
                        );
                        let remote_units = j.apps[&relate.app].units.clone();
                        for u in units.iter().chain(remote_units.iter()) {
                            j.join_unit(id, u);
                        }
                        j.set_bag(id, &relate.app, relate.app_data.clone());
                        for (unit, data) in &relate.unit_data {
                            j.set_bag(id, unit, data.clone());
                        }
                        Ok((id, remote_units))
                    })?
                    .map_err(|m| Self::step_error(number, m))?;
                let (id, remote_units) = id;
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
                        self.queue.push_back(HookRun::relation(
                            u,
                            "joined",
                            &relation,
                            Some(r),
                            &relate.app,
                        ));
                        self.queue.push_back(HookRun::relation(
                            u,
                            "changed",
                            &relation,
                            Some(r),
                            &relate.app,
                        ));
                    }
                    if !relate.app_data.is_empty() {
                        self.queue.push_back(HookRun::relation(
                            u,
                            "changed",
                            &relation,
                            None,
                            &relate.app,
                        ));
                    }
                }
            }
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
                    self.queue.push_back(HookRun::relation(
                        &u,
                        "changed",
                        &relation,
                        unit.as_deref(),
                        app,
                    ));
                }
            }
            Step::RemoveRelation { endpoint, app } => {
                let relation = self.relation_with(endpoint, app)?.ok_or_else(|| {
                    Self::step_error(number, format!("no {endpoint} relation with {app}"))
                })?;
                let app_name = app.clone();
                let remote_units = self.juju(|j| {
                    j.apps
                        .get(&app_name)
                        .map(|a| a.units.clone())
                        .unwrap_or_default()
                })?;
                for u in self.units()? {
                    for r in &remote_units {
                        self.queue.push_back(HookRun {
                            departing_unit: Some(r.clone()),
                            ..HookRun::relation(&u, "departed", &relation, Some(r), app)
                        });
                    }
                    self.queue
                        .push_back(HookRun::relation(&u, "broken", &relation, None, app));
                }
                self.drain()?;
                self.juju(|j| {
                    j.remove_relation(relation.id);
                })?;
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
                        self.queue.push_back(HookRun {
                            workload: Some(container.clone()),
                            ..HookRun::new(&u, format!("{container}-pebble-ready"))
                        });
                    }
                }
            }
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
        }
        self.drain()
    }

    fn remove_unit(&mut self, number: usize, unit: &str) -> Result<(), SimError> {
        let units = self.units()?;
        if !units.iter().any(|u| u == unit) {
            return Err(Self::step_error(number, format!("no unit {unit}")));
        }
        let others: Vec<String> = units.iter().filter(|u| *u != unit).cloned().collect();
        let app = self.app.clone();
        let peers = self.peer_relations()?;
        // The departing unit leaves its relations: others see it depart.
        self.juju(|j| {
            for p in &peers {
                j.depart_unit(p.id, unit);
            }
        })?;
        for p in &peers {
            for other in &others {
                self.queue.push_back(HookRun {
                    departing_unit: Some(unit.to_string()),
                    ..HookRun::relation(other, "departed", p, Some(unit), &app)
                });
                self.queue.push_back(HookRun {
                    departing_unit: Some(unit.to_string()),
                    ..HookRun::relation(unit, "departed", p, Some(other), &app)
                });
            }
            self.queue
                .push_back(HookRun::relation(unit, "broken", p, None, &app));
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
        self.pebbles.retain(|(u, _), _| u != unit);
        if was_leader && let Some(new) = others.first() {
            let new = new.clone();
            self.juju(|j| j.set_leader(&app, Some(&new)))?;
            for u in &others {
                let hook = if *u == new {
                    "leader-elected"
                } else {
                    "leader-settings-changed"
                };
                self.queue.push_back(HookRun::new(u, hook));
            }
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
        let model_name = self.juju(|j| {
            j.begin_hook(&ctx);
            j.model_name.clone()
        })?;
        let charm = self.unit_dir(&run.unit).join("charm");
        let path = std::env::var("PATH").unwrap_or_default();
        let dispatch_path = if run.hook.starts_with("actions/") {
            run.hook.clone()
        } else {
            format!("hooks/{}", run.hook)
        };
        let mut command = Command::new(charm.join("dispatch"));
        command
            .current_dir(&charm)
            .env_remove("OPERATOR_DISPATCH")
            .env("PATH", format!("{}:{path}", self.tools.display()))
            .env(crate::fake_juju::cli::STATE_VAR, &self.state)
            .env(
                ops::CONTAINERS_DIR_VAR,
                self.unit_dir(&run.unit).join("containers"),
            )
            .env("JUJU_DISPATCH_PATH", &dispatch_path)
            .env("JUJU_UNIT_NAME", &run.unit)
            .env("JUJU_MODEL_NAME", &model_name)
            .env("JUJU_MODEL_UUID", "00000000-0000-4000-8000-000000000000")
            .env("JUJU_CHARM_DIR", &charm)
            .env("JUJU_VERSION", "3.6.0")
            .env(
                "JUJU_HOOK_NAME",
                run.hook.rsplit('/').next().unwrap_or(&run.hook),
            )
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for var in [
            "JUJU_RELATION",
            "JUJU_RELATION_ID",
            "JUJU_REMOTE_UNIT",
            "JUJU_REMOTE_APP",
            "JUJU_DEPARTING_UNIT",
            "JUJU_WORKLOAD_NAME",
            "JUJU_ACTION_NAME",
            "JUJU_ACTION_UUID",
        ] {
            command.env_remove(var);
        }
        if let Some(r) = &run.relation {
            command
                .env("JUJU_RELATION", &r.name)
                .env("JUJU_RELATION_ID", r.to_string());
        }
        for (var, value) in [
            ("JUJU_REMOTE_UNIT", &run.remote_unit),
            ("JUJU_REMOTE_APP", &run.remote_app),
            ("JUJU_DEPARTING_UNIT", &run.departing_unit),
            ("JUJU_WORKLOAD_NAME", &run.workload),
            ("JUJU_ACTION_NAME", &run.action),
        ] {
            if let Some(v) = value {
                command.env(var, v);
            }
        }
        if run.action.is_some() {
            command.env("JUJU_ACTION_UUID", format!("{}", self.records.len() + 1));
        }
        let started = Instant::now();
        let output = command
            .output()
            .map_err(io(format!("running {}", charm.join("dispatch").display())))?;
        let elapsed = started.elapsed();
        let success = output.status.success();
        let changes = self.juju(|j| j.end_hook(&run.unit, success))?;
        self.records.push(HookRecord {
            unit: run.unit.clone(),
            hook: run.hook.clone(),
            remote_unit: run.remote_unit.clone(),
            exit_code: output.status.code().unwrap_or(-1),
            duration_ms: elapsed.as_secs_f64() * 1000.0,
            stderr: (!success).then(|| String::from_utf8_lossy(&output.stderr).trim().to_string()),
        });
        if !success {
            self.failed.insert(run.unit.clone(), run.clone());
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
        report::build(&juju, &self.app, &self.pebbles, &self.records)
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
