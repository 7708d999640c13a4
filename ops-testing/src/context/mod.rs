//! `Context` and `State`: unit tests as state transitions, on the same
//! engine as the [`Harness`](crate::Harness).
//!
//! A [`State`] is everything Juju and the workload hold about one unit
//! (leadership, config, relations and their databags, containers, secrets,
//! stored state, deferred events, ...), as plain data. [`Context::run`]
//! builds a fake model and a fake Pebble per container from it, runs one
//! real `ops::dispatch` of one [`Event`] (deferred notices first, then the
//! event, collect-status, commit), and returns the [`State`] it left. What
//! happened on the way (status changes, `juju-log` lines, emitted events,
//! service starts and restarts, removed secret revisions) is on the
//! context afterwards.
//!
//! ```
//! use ops::events::ConfigChanged;
//! use ops::{Charm, Ctx, Framework, HandlerError, HandlerResult, Outcome};
//! use ops_testing::context::{Context, Relation, State};
//!
//! struct Demo;
//! impl Charm for Demo {
//!     fn new(fw: &mut Framework<Self>) -> Result<Self, HandlerError> {
//!         fw.observe(Self::on_config_changed)?;
//!         Ok(Demo)
//!     }
//! }
//! impl Demo {
//!     fn on_config_changed(&mut self, _: &ConfigChanged, ctx: &mut Ctx) -> HandlerResult<Outcome> {
//!         let Some(peers) = ctx.model().relation("peers")? else {
//!             return Ok(Outcome::Defer);
//!         };
//!         let port = ctx.model().config()?.get::<i64>("port")?.unwrap_or(0);
//!         ctx.model().local_unit_data(&peers).set("port", &port.to_string())?;
//!         Ok(Outcome::Done)
//!     }
//! }
//!
//! let yaml = "name: demo\npeers: {peers: {interface: demo}}\nconfig: {options: {port: {type: int, default: 80}}}\n";
//! let mut ctx = Context::<Demo>::new(yaml).unwrap();
//!
//! // No peer relation yet: the event is deferred.
//! let out = ctx.run(ctx.on.config_changed(), &State::default()).unwrap();
//! assert_eq!(out.deferred_events(), vec!["config_changed"]);
//!
//! // With one, the unit publishes the port.
//! let peers = Relation::peer("peers");
//! let state = State::default().with_relation(peers.clone()).with_config([("port", 8080.into())]);
//! let out = ctx.run(ctx.on.config_changed(), &state).unwrap();
//! assert_eq!(out.relation(peers.id).unwrap().local_unit_data["port"], "8080");
//! assert!(out.deferred.is_empty());
//! ```

mod consistency;
mod engine;
mod events;
mod from_meta;
mod from_model;
mod state;

pub use consistency::{ConsistencyError, Inconsistency};
pub use engine::StatusChange;
pub use events::{Event, EventKind, On};
pub use from_model::FromModelError;
pub use state::{
    Address, Bag, BindAddress, Container, DEFAULT_ADDRESS, File, Grant, Network, PlanError,
    PortRange, Relation, RelationKind, Secret, SecretOwner, State, Storage, StoredState,
    default_unit_data,
};

use std::any::type_name;
use std::collections::BTreeMap;
use std::marker::PhantomData;
use std::path::Path;
use std::sync::{Arc, Mutex};

use ops::model::CloudSpec;
use ops::storage::Notice;
use ops::{Charm, CharmMeta, DispatchError, DispatchSetup, EmittedEvent, StateLocation};

use crate::fake_juju::{LogRecord, MODEL_UUID};
use crate::fake_pebble::{ExecArgs, ServiceEvent};
use crate::invocation::{Begun, Invocation, JUJU_VERSION, state_store};

/// The kind of model a [`Context`] runs in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum ModelType {
    /// A Kubernetes model (sidecar charms): the default.
    #[default]
    Kubernetes,
    /// A machine model (LXD, a cloud's VMs).
    Lxd,
}

/// What went wrong running an event.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RunError {
    /// The charm's metadata could not be read.
    #[error(transparent)]
    Meta(#[from] ops::MetaError),
    /// The event does not fit the state, or the state the charm (see
    /// [`Context::without_consistency_checks`]).
    #[error(transparent)]
    Inconsistent(#[from] ConsistencyError),
    /// The dispatch failed (a handler error, a Juju refusal, ...): Juju
    /// would mark the hook failed and keep none of its writes.
    #[error(transparent)]
    Dispatch(#[from] DispatchError),
    /// The event's `JUJU_*` environment was malformed (a Context bug).
    #[error(transparent)]
    Environment(#[from] ops::ContextError),
    /// `run` was given an action, or `run_action` something else.
    #[error("{0}")]
    WrongRun(String),
    /// Scratch directories, files or fake Pebbles could not be set up.
    #[error("context setup: {what}: {source}")]
    Setup {
        /// What was being done.
        what: String,
        /// Why it failed.
        #[source]
        source: std::io::Error,
    },
}

/// How an action ended, and the state it left.
#[derive(Debug, Clone, PartialEq)]
pub struct ActionOutput {
    /// The state after the action.
    pub state: State,
    /// `action-set` results (keys flattened with dots).
    pub results: Bag,
    /// `action-log` lines.
    pub logs: Vec<String>,
    /// The `action-fail` message, if it failed.
    pub failure: Option<String>,
}

/// What the last run did on the way, besides the state it left.
#[derive(Debug, Default)]
struct SideEffects {
    statuses: Vec<StatusChange>,
    versions: Vec<String>,
    storage_requests: BTreeMap<String, u32>,
    logs: Vec<LogRecord>,
    emitted: Vec<EmittedEvent>,
    service_events: BTreeMap<String, Vec<ServiceEvent>>,
    exec_history: BTreeMap<String, Vec<ExecArgs>>,
    removed_revisions: BTreeMap<String, Vec<u64>>,
    before_unit: Option<ops::Status>,
    before_app: Option<ops::Status>,
}

/// The stable key ops gives an observer registered without a name (the
/// charm type and the function, `MyCharm::on_start`), as deferred notices
/// name it: [`ops::framework::observer_key`].
///
/// ```
/// use ops::{Ctx, HandlerResult};
/// use ops::events::Start;
/// struct MyCharm;
/// impl MyCharm {
///     fn on_start(&mut self, _: &Start, _: &mut Ctx) -> HandlerResult { Ok(()) }
/// }
/// assert_eq!(ops_testing::context::observer_key(MyCharm::on_start), "MyCharm::on_start");
/// ```
pub fn observer_key<C: 'static, E, R, F>(handler: F) -> String
where
    F: Fn(&mut C, &E, &mut ops::Ctx<'_>) -> ops::HandlerResult<R>,
{
    ops::framework::observer_key(handler)
}

/// The charm `C` under test, with its metadata and the unit it runs as.
///
/// Built from `charmcraft.yaml` text ([`Context::new`]), the packed files
/// ([`Context::from_yaml`]) or a charm directory ([`Context::from_charm_dir`]);
/// unit 0 of an application named after the charm, Juju 3.6.0, model
/// `context`, consistency checks on. See the [module](self) for an example.
pub struct Context<C: Charm> {
    /// The typed event constructors: `ctx.on.start()`.
    pub on: On,
    meta: Arc<CharmMeta>,
    app: String,
    unit_id: u32,
    model: String,
    model_uuid: String,
    /// Where the charm keeps its state (`StateLocation`).
    state_location: StateLocation,
    model_type: ModelType,
    cloud_spec: Option<CloudSpec>,
    app_trusted: bool,
    machine_id: Option<String>,
    availability_zone: Option<String>,
    principal_unit: Option<String>,
    juju_version: String,
    check_consistency: bool,
    effects: SideEffects,
    charm: Option<C>,
    /// The charm directory the runs use, when the test names one.
    charm_root: Option<std::path::PathBuf>,
    /// Otherwise a scratch one, made at the first run.
    workdir: Option<crate::scratch::ScratchDir>,
    _charm: PhantomData<fn() -> C>,
}

impl<C: Charm> Context<C> {
    /// A context for a charm described by its `charmcraft.yaml` text.
    pub fn new(charmcraft_yaml: &str) -> Result<Self, RunError> {
        Ok(Self::from_meta(crate::memo::charmcraft_yaml(
            charmcraft_yaml,
        )?))
    }

    /// A context from the packed files' text: `metadata.yaml`, and
    /// `config.yaml` and `actions.yaml` if the charm has them.
    pub fn from_yaml(
        metadata: &str,
        config: Option<&str>,
        actions: Option<&str>,
    ) -> Result<Self, RunError> {
        Ok(Self::from_meta(CharmMeta::from_yaml(
            metadata, config, actions,
        )?))
    }

    /// A context for the charm in a directory (packed metadata or
    /// `charmcraft.yaml`), which is also the runs' charm directory
    /// (`JUJU_CHARM_DIR`, [`Model::charm_dir`](ops::Model::charm_dir)), as
    /// Python's `Context(charm_root=...)`: the charm reads its files there.
    pub fn from_charm_dir(dir: impl AsRef<Path>) -> Result<Self, RunError> {
        let dir = dir.as_ref();
        Ok(Self::from_meta(crate::memo::charm_dir(dir)?).with_charm_root(dir))
    }

    /// Runs with `dir` as the charm directory (`JUJU_CHARM_DIR`), Python's
    /// `charm_root`, instead of an empty scratch directory: for a charm that
    /// reads files it ships (templates, dashboards). The metadata stays the
    /// context's own. The runs write nothing there (the charm's state is kept
    /// in memory); what the charm itself writes stays.
    ///
    /// ```
    /// use ops_testing::context::{Context, State};
    /// # struct C;
    /// # impl ops::Charm for C {
    /// #     fn new(_: &mut ops::Framework<Self>) -> Result<Self, ops::HandlerError> { Ok(C) }
    /// # }
    /// let root = tempfile::tempdir().unwrap();
    /// std::fs::write(root.path().join("dashboard.json"), "{}").unwrap();
    /// let mut ctx = Context::<C>::new("name: c\n").unwrap().with_charm_root(root.path());
    /// ctx.run(ctx.on.install(), &State::default()).unwrap();
    /// ```
    pub fn with_charm_root(mut self, dir: impl AsRef<Path>) -> Self {
        let dir = dir.as_ref();
        // Juju gives an absolute JUJU_CHARM_DIR.
        let absolute = std::path::absolute(dir).unwrap_or_else(|_| dir.to_path_buf());
        self.charm_root = Some(absolute);
        self
    }

    /// A context from parsed metadata.
    pub fn from_meta(meta: CharmMeta) -> Self {
        let app = if meta.name.is_empty() {
            "charm".to_string()
        } else {
            meta.name.clone()
        };
        Self {
            on: On,
            meta: Arc::new(meta),
            app,
            unit_id: 0,
            model: "context".to_string(),
            model_uuid: MODEL_UUID.to_string(),
            state_location: StateLocation::CharmDir,
            model_type: ModelType::Kubernetes,
            cloud_spec: None,
            app_trusted: false,
            machine_id: None,
            availability_zone: None,
            principal_unit: None,
            juju_version: JUJU_VERSION.to_string(),
            check_consistency: true,
            effects: SideEffects::default(),
            charm: None,
            charm_root: None,
            workdir: None,
            _charm: PhantomData,
        }
    }

    /// Runs as a unit of the application `app` instead.
    pub fn with_app_name(mut self, app: &str) -> Self {
        self.app = app.to_string();
        self
    }

    /// Runs as unit number `id` instead.
    pub fn with_unit_id(mut self, id: u32) -> Self {
        self.unit_id = id;
        self
    }

    /// Runs under another Juju version (`JUJU_VERSION`).
    pub fn with_juju_version(mut self, version: &str) -> Self {
        self.juju_version = version.to_string();
        self
    }

    /// Runs in a model of another name.
    pub fn with_model_name(mut self, model: &str) -> Self {
        self.model = model.to_string();
        self
    }

    /// Where the charm keeps its state, as its `main` says
    /// (`MainOptions::with_state`): in the charm directory (the default,
    /// kept in memory here), or in Juju's unit state
    /// ([`StateLocation::Juju`]), which a run then reads and writes through
    /// `state-get`, `state-set` and `state-delete` as under Juju, Juju's
    /// quotas included. Either way the State's stored states and deferred
    /// events are what the charm finds and what it left.
    ///
    /// ```
    /// # use ops::{Charm, Framework, HandlerError, StateLocation};
    /// # struct MyCharm;
    /// # impl Charm for MyCharm {
    /// #     fn new(_: &mut Framework<Self>) -> Result<Self, HandlerError> { Ok(MyCharm) }
    /// # }
    /// use ops_testing::context::{Context, State};
    /// let mut ctx = Context::<MyCharm>::new("name: my-charm\n")
    ///     .unwrap()
    ///     .with_state_location(StateLocation::Juju);
    /// let out = ctx.run(ctx.on.start(), &State::default()).unwrap();
    /// assert!(out.deferred.is_empty());
    /// ```
    pub fn with_state_location(mut self, state: StateLocation) -> Self {
        self.state_location = state;
        self
    }

    /// Runs in a model with this uuid (`JUJU_MODEL_UUID`, and what
    /// `relation-model-get` answers for a relation within the model).
    pub fn with_model_uuid(mut self, uuid: &str) -> Self {
        self.model_uuid = uuid.to_string();
        self
    }

    /// Runs in a model of this type (Kubernetes unless told): the
    /// consistency checker holds a cloud spec on a Kubernetes model to
    /// Juju 3.6.10 or later, which is when Juju gave one there.
    pub fn with_model_type(mut self, model_type: ModelType) -> Self {
        self.model_type = model_type;
        self
    }

    /// What `credential-get` answers (`Model::cloud_spec`), once the
    /// application is trusted ([`with_app_trusted`](Self::with_app_trusted)):
    /// Python `ops.testing`'s `Model(cloud_spec=CloudSpec(...))`.
    ///
    /// ```
    /// use ops::model::{CloudCredential, CloudSpec};
    /// use ops_testing::context::{Context, ModelType};
    /// # struct C;
    /// # impl ops::Charm for C {
    /// #     fn new(_: &mut ops::Framework<Self>) -> Result<Self, ops::HandlerError> { Ok(C) }
    /// # }
    /// let credential = CloudCredential::new("certificate", [("client-key".into(), "k".into())]);
    /// let ctx = Context::<C>::new("name: c\n").unwrap()
    ///     .with_model_type(ModelType::Lxd)
    ///     .with_cloud_spec(
    ///         CloudSpec::new("lxd", "localhost")
    ///             .with_endpoint("https://127.0.0.1:8443")
    ///             .with_credential(credential),
    ///     )
    ///     .with_app_trusted(true);
    /// ```
    pub fn with_cloud_spec(mut self, spec: CloudSpec) -> Self {
        self.cloud_spec = Some(spec);
        self
    }

    /// Whether the application is trusted (`juju trust`): only then does
    /// `credential-get` answer.
    pub fn with_app_trusted(mut self, trusted: bool) -> Self {
        self.app_trusted = trusted;
        self
    }

    /// The machine the unit is on (`JUJU_MACHINE_ID`, `Model::machine_id`).
    pub fn with_machine_id(mut self, id: &str) -> Self {
        self.machine_id = Some(id.to_string());
        self
    }

    /// The availability zone the unit is in (`JUJU_AVAILABILITY_ZONE`,
    /// `Model::availability_zone`).
    pub fn with_availability_zone(mut self, zone: &str) -> Self {
        self.availability_zone = Some(zone.to_string());
        self
    }

    /// The principal unit of this subordinate unit (`JUJU_PRINCIPAL_UNIT`,
    /// `Model::principal_unit`).
    pub fn with_principal_unit(mut self, unit: &str) -> Self {
        self.principal_unit = Some(unit.to_string());
        self
    }

    /// Runs without checking the event and state first.
    pub fn without_consistency_checks(mut self) -> Self {
        self.check_consistency = false;
        self
    }

    /// The charm's metadata.
    pub fn meta(&self) -> &CharmMeta {
        &self.meta
    }

    /// The application's name.
    pub fn app_name(&self) -> &str {
        &self.app
    }

    /// The unit's name (`app/<n>`).
    pub fn unit_name(&self) -> String {
        format!("{}/{}", self.app, self.unit_id)
    }

    /// The name ops gives the charm in handles and stored-state keys.
    fn charm_name() -> String {
        let full = type_name::<C>();
        let base = full.split('<').next().unwrap_or(full);
        base.rsplit("::").next().unwrap_or(base).to_string()
    }

    /// `event` as a notice deferred by `observer` (see [`observer_key`]), to
    /// put in [`State::deferred`]: re-emitted to that observer before the
    /// next event.
    pub fn deferred(&self, event: &Event, observer: &str, state: &State) -> Notice {
        engine::deferred_notice(event, observer, state, &self.app)
    }

    /// Checks `event` in `state` as a run would, without running.
    pub fn check(&self, event: &Event, state: &State) -> Result<(), ConsistencyError> {
        consistency::check(
            &consistency::Checked {
                meta: &self.meta,
                unit_id: self.unit_id,
                juju_version: &self.juju_version,
                model_type: self.model_type,
                cloud_spec: self.cloud_spec.is_some(),
            },
            event,
            state,
        )
    }

    /// Runs one Juju event through `ops::dispatch` and returns the state it
    /// left. Actions go through [`run_action`](Self::run_action).
    pub fn run(&mut self, event: Event, state: &State) -> Result<State, RunError> {
        if matches!(event.kind, EventKind::Action { .. }) {
            return Err(RunError::WrongRun(format!(
                "{}: actions run with run_action",
                event.hook
            )));
        }
        self.dispatch(&event, state).map(|(state, _)| state)
    }

    /// Runs an action (made with `ctx.on.action(name, params)`): its
    /// results, log, failure and the state it left.
    pub fn run_action(&mut self, action: Event, state: &State) -> Result<ActionOutput, RunError> {
        if !matches!(action.kind, EventKind::Action { .. }) {
            return Err(RunError::WrongRun(format!(
                "{}: only actions run with run_action",
                action.hook
            )));
        }
        let (state, output) = self.dispatch(&action, state)?;
        let output = output.unwrap_or_default();
        Ok(ActionOutput {
            state,
            results: output.results,
            logs: output.log,
            failure: output.failure,
        })
    }

    /// The charm directory the runs use (`JUJU_CHARM_DIR`): the test's, or
    /// a scratch one made at the first run.
    fn charm_dir(&mut self) -> Result<std::path::PathBuf, RunError> {
        if let Some(root) = &self.charm_root {
            return Ok(root.clone());
        }
        if self.workdir.is_none() {
            let dir = crate::scratch::ScratchDir::new().map_err(|source| RunError::Setup {
                what: "making the charm directory".to_string(),
                source,
            })?;
            std::fs::create_dir_all(crate::scratch::charm_dir(dir.path())).map_err(|source| {
                RunError::Setup {
                    what: "making the charm directory".to_string(),
                    source,
                }
            })?;
            self.workdir = Some(dir);
        }
        Ok(self
            .workdir
            .as_ref()
            .map(|d| crate::scratch::charm_dir(d.path()))
            .unwrap_or_default())
    }

    fn dispatch(
        &mut self,
        event: &Event,
        state: &State,
    ) -> Result<(State, Option<crate::fake_juju::ActionState>), RunError> {
        self.effects = SideEffects::default();
        self.charm = None;
        if self.check_consistency {
            self.check(event, state)?;
        }
        let charm_name = Self::charm_name();
        let charm_dir = self.charm_dir()?;
        let who = engine::Identity {
            meta: &self.meta,
            app: &self.app,
            unit_id: self.unit_id,
            model: &self.model,
            charm_name: &charm_name,
        };
        let unit = who.unit();
        let mut juju = engine::model_from(state, &who);
        juju.model_uuid = self.model_uuid.clone();
        // What Juju would print: the spec in credential-get's JSON shape
        // (serialising strings, flags and string maps cannot fail).
        juju.cloud_spec = self
            .cloud_spec
            .as_ref()
            .and_then(|spec| serde_json::to_value(spec).ok());
        juju.set_trusted(&self.app, self.app_trusted);
        let juju = Arc::new(Mutex::new(juju));
        let persisted = engine::persisted_from(state, &charm_name);
        if self.state_location == StateLocation::Juju {
            engine::seed_unit_state(&juju, &unit, &persisted)?;
        }
        if let EventKind::Action { name, params, .. } = &event.kind {
            juju.lock().unwrap_or_else(|e| e.into_inner()).start_action(
                &unit,
                name,
                params.clone(),
            );
        }
        let lock = |j: &Arc<Mutex<crate::fake_juju::FakeJuju>>| {
            j.lock().unwrap_or_else(|e| e.into_inner()).clone()
        };
        // The charm directory (empty: ops keeps its state in memory here) is
        // the context's; each run that starts a fake Pebble gets its own
        // scratch directory for the container roots and sockets, so that a
        // run without one touches no filesystem at all.
        let pebble_up = state.containers.iter().any(|c| c.can_connect);
        let scratch = if pebble_up {
            Some(
                crate::scratch::ScratchDir::new().map_err(|source| RunError::Setup {
                    what: "making a scratch directory".to_string(),
                    source,
                })?,
            )
        } else {
            None
        };
        let containers_dir = match &scratch {
            Some(dir) => crate::scratch::containers_dir(dir.path()),
            None => charm_dir.join("no-containers"),
        };
        let live = match &scratch {
            Some(dir) => engine::start_containers(state, &self.meta, dir.path())?,
            None => BTreeMap::new(),
        };
        let memory = engine::MemoryStore::new(persisted);

        let (event_vars, hook) = engine::environment(event, state, &who);
        let mut invocation = Invocation {
            dispatch_path: match &event.kind {
                EventKind::Action { name, .. } => format!("actions/{name}"),
                _ => format!("hooks/{}", event.hook),
            },
            context: hook,
            model_name: self.model.clone(),
            model_uuid: self.model_uuid.clone(),
            charm_dir,
            juju_version: self.juju_version.clone(),
            event_vars,
        };
        for (var, value) in [
            ("JUJU_MACHINE_ID", &self.machine_id),
            ("JUJU_AVAILABILITY_ZONE", &self.availability_zone),
            ("JUJU_PRINCIPAL_UNIT", &self.principal_unit),
        ] {
            if let Some(value) = value {
                invocation.event_vars.push((var.into(), value.clone()));
            }
        }
        let Begun { context, tools } = invocation.begin(&juju)?;
        let backend = Arc::new(engine::Recording::new(tools, state));
        let setup = DispatchSetup {
            context,
            backend: backend.clone(),
            store: state_store(
                self.state_location,
                backend.clone(),
                Box::new(memory.clone()),
            ),
            meta: self.meta.clone(),
            containers_dir,
            pebble_transports: live
                .iter()
                .map(|(name, pebble)| (name.clone(), pebble.transport()))
                .collect(),
            log_level: tracing::Level::DEBUG,
        };
        let result = ops::dispatch::<C>(setup);
        juju.lock()
            .unwrap_or_else(|e| e.into_inner())
            .end_hook(&unit, result.is_ok());
        let model = lock(&juju);
        self.effects = SideEffects {
            statuses: backend.statuses(),
            versions: backend.version_history(),
            storage_requests: backend.storage_requests(),
            logs: model.logs_of(&unit).into_iter().cloned().collect(),
            emitted: Vec::new(),
            service_events: engine::service_events(&live),
            exec_history: engine::exec_history(&live),
            removed_revisions: engine::removed_revisions(state, &model),
            before_unit: Some(state.unit_status.clone()),
            before_app: Some(state.app_status.clone()),
        };
        let dispatched = result?;
        self.effects.emitted = dispatched.emitted;
        self.charm = Some(dispatched.charm);
        let mut containers = BTreeMap::new();
        for (name, c) in &live {
            containers.insert(name.clone(), engine::read_container(name, c)?);
        }
        let after = match self.state_location {
            StateLocation::CharmDir => {
                engine::state_after(state, &model, &memory.get(), containers, &who)
            }
            StateLocation::Juju => {
                let (persisted, charms_keys) = engine::split_unit_state(&model, &unit)?;
                let mut after = engine::state_after(state, &model, &persisted, containers, &who);
                // ops' keys are the output's stored state and deferred events.
                after.unit_state = charms_keys;
                after
            }
        };
        Ok((after, model.action(&unit).cloned()))
    }

    /// Every status the last run set, in order (`app` true for the
    /// application's): collect-status's included.
    pub fn status_changes(&self) -> &[StatusChange] {
        &self.effects.statuses
    }

    /// The unit's statuses before its last one, oldest first, as Python
    /// ops' `unit_status_history`: the input state's status, then each
    /// status the last run set but for the last (repeats of one status
    /// count once).
    pub fn unit_status_history(&self) -> Vec<ops::Status> {
        self.history(false)
    }

    /// The application's statuses before its last one (see
    /// [`unit_status_history`](Self::unit_status_history)).
    pub fn app_status_history(&self) -> Vec<ops::Status> {
        self.history(true)
    }

    fn history(&self, app: bool) -> Vec<ops::Status> {
        let start = if app {
            &self.effects.before_app
        } else {
            &self.effects.before_unit
        };
        let mut seen: Vec<ops::Status> = start.iter().cloned().collect();
        for change in self.effects.statuses.iter().filter(|c| c.app == app) {
            if seen.last() != Some(&change.status) {
                seen.push(change.status.clone());
            }
        }
        seen.pop();
        seen
    }

    /// The workload versions before the last one the last run set, oldest
    /// first, as Python ops' `workload_version_history`: the input
    /// state's version (if set), then each version the run set but for
    /// the last. The last is in the output [`State::workload_version`].
    pub fn workload_version_history(&self) -> &[String] {
        &self.effects.versions
    }

    /// The storage the last run asked Juju to add (`storage-add`), as
    /// instance counts by storage name (requests for one name add up).
    pub fn requested_storages(&self) -> &BTreeMap<String, u32> {
        &self.effects.storage_requests
    }

    /// The `juju-log` lines of the last run, in order.
    pub fn juju_log(&self) -> &[LogRecord] {
        &self.effects.logs
    }

    /// Every handler call of the last run, in order (deferred re-emits,
    /// the event, collect-status, commit).
    pub fn emitted_events(&self) -> &[EmittedEvent] {
        &self.effects.emitted
    }

    /// The full names of the events the last run emitted, in order,
    /// framework events (`collect_unit_status`, `pre_commit`, `commit`) left out.
    pub fn emitted_event_names(&self) -> Vec<&str> {
        self.effects
            .emitted
            .iter()
            .map(|e| e.event.as_str())
            .filter(|e| {
                !matches!(
                    *e,
                    "collect_unit_status" | "collect_app_status" | "pre_commit" | "commit"
                )
            })
            .collect()
    }

    /// The service starts, stops, restarts and signals of the last run in
    /// `container` (empty if it could not connect).
    pub fn service_events(&self, container: &str) -> &[ServiceEvent] {
        self.effects
            .service_events
            .get(container)
            .map_or(&[], Vec::as_slice)
    }

    /// The commands the last run executed in `container`, in order, with
    /// what each got (Scenario's `ctx.exec_history`).
    pub fn exec_history(&self, container: &str) -> &[ExecArgs] {
        self.effects
            .exec_history
            .get(container)
            .map_or(&[], Vec::as_slice)
    }

    /// The secret revisions the last run removed, by secret id.
    pub fn removed_secret_revisions(&self) -> &BTreeMap<String, Vec<u64>> {
        &self.effects.removed_revisions
    }

    /// The charm instance after the last successful run.
    pub fn charm(&self) -> Option<&C> {
        self.charm.as_ref()
    }
}
