//! `Harness`: in-process tests of a charm, through the same dispatch Juju runs.
//!
//! Every event a Harness fires is a full dispatch (`ops::dispatch`): deferred
//! notices are re-emitted first, status is collected, relation data is
//! flushed and state is committed, exactly as under Juju. The hook tools are
//! [`FakeTools`](crate::fake_juju::FakeTools) (`ops`' `HookTools` over the fake's tool table) over one in-memory [`FakeJuju`], and each workload
//! container is a [`FakePebble`] answered in process, its files in a
//! directory on a memory filesystem where there is one. The charm's
//! persisted state (`StateLocation::CharmDir`, the default) is kept in
//! memory until a test asks for the charm directory
//! ([`Harness::charm_dir`]); from then on it is the directory's state file.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use ops::backend::RelationRef;
use ops::storage::{LocalStateFile, Notice, StateStore};
use ops::{
    Charm, CharmMeta, DispatchError, DispatchSetup, EmittedEvent, EndpointRole, StateLocation,
    Status,
};

use crate::fake_juju::{ActionState, Bag, FakeJuju, HookContext, LogRecord, app_of};
use crate::fake_pebble::{FakePebble, NoticeKeyError};
use crate::invocation::{Begun, Invocation, JUJU_VERSION, event_vars, state_store};
use crate::memory_store::MemoryStore;

mod snapshot;
pub use snapshot::HarnessSnapshot;

/// What went wrong setting up or driving a Harness.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum HarnessError {
    /// The charm's metadata could not be read.
    #[error(transparent)]
    Meta(#[from] ops::MetaError),
    /// A dispatch failed (a handler error, a Juju refusal, ...).
    #[error(transparent)]
    Dispatch(#[from] DispatchError),
    /// The endpoint is not in the metadata.
    #[error("endpoint {0:?} is not declared in the charm's metadata")]
    UnknownEndpoint(String),
    /// The container is not in the metadata.
    #[error("container {0:?} is not declared in the charm's metadata")]
    UnknownContainer(String),
    /// The container's Pebble cannot be reached (see `set_can_connect`).
    #[error("the Pebble of container {0:?} is not up")]
    PebbleNotUp(String),
    /// `pebble_notify` was given a key Pebble refuses.
    #[error(transparent)]
    NoticeKey(#[from] NoticeKeyError),
    /// The relation does not exist.
    #[error("relation {0} does not exist")]
    UnknownRelation(u32),
    /// `update_config` named an option the charm does not declare.
    #[error("config option {0:?} is not declared in the charm's config")]
    UnknownConfigOption(String),
    /// `update_config` gave an option a value of another type than declared
    /// (Juju refuses it too).
    #[error("config option {key:?} is declared as {declared}, not {given}")]
    ConfigType {
        /// The option.
        key: String,
        /// Its declared type.
        declared: ops::OptionKind,
        /// The kind of value given (`a string`, `a number`, ...), never the value.
        given: &'static str,
    },
    /// `container_path` was given a path that is not absolute or leaves the
    /// container's root (`..`).
    #[error("{0:?} is not an absolute path inside the container")]
    ContainerPath(String),
    /// The test's scratch directories could not be made.
    #[error("harness setup: {0}")]
    Io(#[from] std::io::Error),
    /// The charm's JUJU_* environment was malformed (a Harness bug).
    #[error(transparent)]
    Context(#[from] ops::ContextError),
}

/// How an action ended.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ActionOutput {
    /// `action-set` results.
    pub results: Bag,
    /// `action-log` lines.
    pub logs: Vec<String>,
    /// The `action-fail` message, if it failed.
    pub failure: Option<String>,
}

/// A charm under test: one unit of one application in a fake model.
///
/// ```
/// use ops::{Charm, Ctx, Framework, HandlerError, HandlerResult, Outcome};
/// use ops::events::ConfigChanged;
/// use ops_testing::Harness;
///
/// struct Demo;
/// impl Charm for Demo {
///     fn new(fw: &mut Framework<Self>) -> Result<Self, HandlerError> {
///         fw.observe(Self::on_config_changed)?;
///         Ok(Demo)
///     }
/// }
/// impl Demo {
///     fn on_config_changed(&mut self, _: &ConfigChanged, ctx: &mut Ctx) -> HandlerResult<Outcome> {
///         let peers = ctx.model().relation("peers")?;
///         Ok(if peers.is_some() { Outcome::Done } else { Outcome::Defer })
///     }
/// }
///
/// let mut harness = Harness::<Demo>::new(
///     "name: demo\npeers: {peers: {interface: demo}}\nconfig: {options: {x: {type: int}}}\n",
/// )
/// .unwrap();
/// harness.begin();
/// harness.update_config([("x", serde_json::json!(1))]).unwrap();
/// assert_eq!(harness.notices().len(), 1);
/// harness.add_relation("peers", "demo").unwrap();
/// assert!(harness.notices().is_empty());
/// ```
pub struct Harness<C: Charm> {
    juju: Arc<Mutex<FakeJuju>>,
    meta: Arc<CharmMeta>,
    unit: String,
    workdir: crate::scratch::ScratchDir,
    pebbles: BTreeMap<String, FakePebble>,
    connectable: BTreeMap<String, bool>,
    charm: Option<C>,
    begun: bool,
    hooks_enabled: bool,
    emitted: Vec<EmittedEvent>,
    notices: Vec<Notice>,
    state: StateLocation,
    /// The charm directory's state while no test has asked for the
    /// directory (`StateLocation::CharmDir`).
    memory: MemoryStore,
    /// Whether a test asked for the charm directory: the state is in its
    /// file from then on.
    charm_dir_used: AtomicBool,
}

/// The extra `JUJU_*` variables and hook context of one event.
#[derive(Default)]
struct EventEnv {
    relation: Option<RelationRef>,
    remote_unit: Option<String>,
    remote_app: Option<String>,
    departing_unit: Option<String>,
    extra: Vec<(String, String)>,
}

impl<C: Charm> Harness<C> {
    /// A Harness for a charm described by its `charmcraft.yaml` text.
    pub fn new(charmcraft_yaml: &str) -> Result<Self, HarnessError> {
        Self::from_meta(crate::memo::charmcraft_yaml(charmcraft_yaml)?)
    }

    /// A Harness for the charm in a directory (`charmcraft.yaml` or packed metadata).
    pub fn from_charm_dir(dir: impl AsRef<Path>) -> Result<Self, HarnessError> {
        Self::from_meta(crate::memo::charm_dir(dir.as_ref())?)
    }

    /// A Harness from parsed metadata: unit 0 of the application, not the leader.
    pub fn from_meta(meta: CharmMeta) -> Result<Self, HarnessError> {
        let app = if meta.name.is_empty() {
            "charm".to_string()
        } else {
            meta.name.clone()
        };
        let mut juju = FakeJuju::new("harness");
        let unit = juju.deploy(&app, &meta, 1).remove(0);
        let workdir = crate::scratch::ScratchDir::new()?;
        std::fs::create_dir_all(crate::scratch::charm_dir(workdir.path()))?;
        let mut pebbles = BTreeMap::new();
        for name in meta.containers.keys() {
            let (socket, root) = crate::scratch::pebble_paths(workdir.path(), name);
            let pebble = FakePebble::in_memory(socket, root)?;
            pebble.set_can_connect(false);
            pebbles.insert(name.clone(), pebble);
        }
        Ok(Self {
            juju: Arc::new(Mutex::new(juju)),
            meta: Arc::new(meta),
            unit,
            workdir,
            connectable: pebbles.keys().map(|n| (n.clone(), false)).collect(),
            pebbles,
            charm: None,
            begun: false,
            hooks_enabled: true,
            emitted: Vec::new(),
            notices: Vec::new(),
            state: StateLocation::CharmDir,
            memory: MemoryStore::default(),
            charm_dir_used: AtomicBool::new(false),
        })
    }

    /// Keeps persisted state where the charm's `main_with` does: with
    /// [`StateLocation::Juju`] in the fake Juju's unit state (`state-get`,
    /// `state-set`, Juju's 64 KiB quota per value), which is what survives
    /// pod churn. The default is the charm directory's state file.
    ///
    /// ```
    /// # use ops::{Charm, Framework, HandlerError, StateLocation};
    /// # struct Demo;
    /// # impl Charm for Demo { fn new(_: &mut Framework<Self>) -> Result<Self, HandlerError> { Ok(Demo) } }
    /// let harness = ops_testing::Harness::<Demo>::new("name: demo\n")
    ///     .unwrap()
    ///     .with_state_location(StateLocation::Juju);
    /// ```
    pub fn with_state_location(mut self, state: StateLocation) -> Self {
        self.state = state;
        self
    }

    /// This unit's name.
    pub fn unit_name(&self) -> &str {
        &self.unit
    }

    /// This application's name.
    pub fn app_name(&self) -> &str {
        app_of(&self.unit)
    }

    /// The fake model, for direct inspection or changes (no events fire).
    pub fn juju(&self) -> MutexGuard<'_, FakeJuju> {
        self.juju.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Events fire from now on (nothing is emitted by `begin` itself).
    pub fn begin(&mut self) {
        self.begun = true;
    }

    /// `begin`, then the events Juju sends a new unit, in Juju's order:
    /// install; relation-created for the peer relations (created here) and
    /// every existing relation; leader-elected or leader-settings-changed;
    /// config-changed; start; pebble-ready for containers that can connect;
    /// relation-joined and -changed for the remote units already there.
    ///
    /// Unlike Python ops' `begin_with_initial_hooks`, it does **not** make
    /// the containers reachable: a container's Pebble answers, and its
    /// pebble-ready fires here, only if the test called
    /// [`set_can_connect`](Self::set_can_connect) first. That keeps the
    /// path where the workload is not up yet (start deferred until
    /// pebble-ready) testable; call `set_can_connect(name, true)` before
    /// this for Python's behaviour.
    pub fn begin_with_initial_hooks(&mut self) -> Result<(), HarnessError> {
        self.begin();
        self.fire("install", EventEnv::default())?;
        let app = self.app_name().to_string();
        let peers: Vec<String> = self
            .meta
            .endpoints
            .iter()
            .filter(|(_, e)| e.role == EndpointRole::Peer)
            .map(|(n, _)| n.clone())
            .collect();
        for endpoint in &peers {
            if self.juju().relations_of(&app, endpoint).is_empty() {
                let id = self.juju().add_relation(&app, endpoint, &app, endpoint);
                let unit = self.unit.clone();
                self.juju().join_unit(id, &unit);
            }
        }
        let relations: Vec<(u32, String, String)> = {
            let juju = self.juju();
            juju.relations
                .values()
                .filter_map(|r| {
                    r.endpoint_of(&app)
                        .map(|e| (r.id, e.to_string(), r.other_app(&app).to_string()))
                })
                .collect()
        };
        for (id, endpoint, remote_app) in &relations {
            self.fire_relation(
                &format!("{endpoint}-relation-created"),
                *id,
                endpoint,
                None,
                Some(remote_app.clone()),
                None,
            )?;
        }
        let leader = self.juju().hook_is_leader(&HookContext::unit(&self.unit));
        self.fire(
            if leader {
                "leader-elected"
            } else {
                "leader-settings-changed"
            },
            EventEnv::default(),
        )?;
        self.fire("config-changed", EventEnv::default())?;
        self.fire("start", EventEnv::default())?;
        let ready: Vec<String> = self
            .connectable
            .iter()
            .filter(|(_, ready)| **ready)
            .map(|(n, _)| n.clone())
            .collect();
        for container in ready {
            self.fire_pebble_ready(&container)?;
        }
        for (id, endpoint, remote_app) in &relations {
            let units: Vec<String> = {
                let juju = self.juju();
                juju.relations[id]
                    .joined
                    .iter()
                    .filter(|u| app_of(u) == remote_app && **u != self.unit)
                    .cloned()
                    .collect()
            };
            for unit in units {
                self.fire_relation(
                    &format!("{endpoint}-relation-joined"),
                    *id,
                    endpoint,
                    Some(unit.clone()),
                    Some(remote_app.clone()),
                    None,
                )?;
                self.fire_relation(
                    &format!("{endpoint}-relation-changed"),
                    *id,
                    endpoint,
                    Some(unit),
                    Some(remote_app.clone()),
                    None,
                )?;
            }
        }
        Ok(())
    }

    /// Stops firing events until `enable_hooks` (model changes still apply).
    pub fn disable_hooks(&mut self) {
        self.hooks_enabled = false;
    }

    /// Fires events again.
    pub fn enable_hooks(&mut self) {
        self.hooks_enabled = true;
    }

    /// Runs `f` with hooks disabled.
    pub fn hooks_disabled<T>(&mut self, f: impl FnOnce(&mut Self) -> T) -> T {
        let was = self.hooks_enabled;
        self.hooks_enabled = false;
        let out = f(self);
        self.hooks_enabled = was;
        out
    }

    /// The charm instance of the last successful dispatch.
    pub fn charm(&self) -> Option<&C> {
        self.charm.as_ref()
    }

    /// The charm instance of the last successful dispatch, mutably.
    pub fn charm_mut(&mut self) -> Option<&mut C> {
        self.charm.as_mut()
    }

    /// The deferred-notice queue as last committed.
    pub fn notices(&self) -> &[Notice] {
        &self.notices
    }

    /// Every handler call so far, in order.
    pub fn emitted(&self) -> &[EmittedEvent] {
        &self.emitted
    }

    /// Forgets the record of handler calls.
    pub fn clear_emitted(&mut self) {
        self.emitted.clear();
    }

    /// This unit's `juju-log` lines.
    pub fn logs(&self) -> Vec<LogRecord> {
        self.juju()
            .logs_of(&self.unit)
            .into_iter()
            .cloned()
            .collect()
    }

    /// The directory that plays the charm directory (`.unit-state.json`
    /// lives there). Until a test first asks for it, the charm's state is
    /// kept in memory; this call writes it to the state file and later
    /// dispatches load and save that file, so a test can read it, change
    /// it or remove it as Juju's pod churn would.
    ///
    /// ```
    /// use ops::events::Install;
    /// use ops::{Charm, Ctx, Framework, HandlerError, HandlerResult, Outcome};
    ///
    /// struct Demo;
    /// impl Charm for Demo {
    ///     fn new(fw: &mut Framework<Self>) -> Result<Self, HandlerError> {
    ///         fw.observe(Self::on_install)?;
    ///         Ok(Demo)
    ///     }
    /// }
    /// impl Demo {
    ///     fn on_install(&mut self, _: &Install, _: &mut Ctx) -> HandlerResult<Outcome> {
    ///         Ok(Outcome::Defer)
    ///     }
    /// }
    ///
    /// let mut harness = ops_testing::Harness::<Demo>::new("name: demo\n").unwrap();
    /// harness.begin();
    /// harness.fire_hook("install").unwrap();
    /// // The deferred install, kept in memory so far, is in the file now.
    /// let state_file = harness.charm_dir().join(ops::storage::STATE_FILE_NAME);
    /// assert!(std::fs::read_to_string(&state_file).unwrap().contains("install"));
    /// std::fs::remove_file(&state_file).unwrap();
    /// harness.fire_hook("update-status").unwrap();
    /// assert!(harness.notices().is_empty(), "the state file is what counts now");
    /// ```
    ///
    /// # Panics
    ///
    /// If the state kept in memory cannot be written to the state file
    /// (the scratch directory is gone or full).
    pub fn charm_dir(&self) -> PathBuf {
        let dir = crate::scratch::charm_dir(self.workdir.path());
        if !self.charm_dir_used.swap(true, Ordering::SeqCst)
            && self.state == StateLocation::CharmDir
        {
            let state = self.memory.get();
            if !state.same_content(&ops::storage::PersistedState::default()) {
                LocalStateFile::in_charm_dir(&dir)
                    .save(&state)
                    .unwrap_or_else(|e| panic!("writing the charm's state to {dir:?}: {e}"));
            }
        }
        dir
    }

    fn fire(&mut self, hook: &str, env: EventEnv) -> Result<(), HarnessError> {
        self.dispatch_path(&format!("hooks/{hook}"), env)
    }

    fn fire_relation(
        &mut self,
        hook: &str,
        id: u32,
        endpoint: &str,
        remote_unit: Option<String>,
        remote_app: Option<String>,
        departing_unit: Option<String>,
    ) -> Result<(), HarnessError> {
        let env = EventEnv {
            relation: Some(RelationRef::new(endpoint, id)),
            remote_unit,
            remote_app,
            departing_unit,
            extra: Vec::new(),
        };
        self.fire(hook, env)
    }

    /// Runs one dispatch with the given `JUJU_DISPATCH_PATH` (`hooks/<name>`
    /// or `actions/<name>`), as Juju would. Nothing runs before `begin` or
    /// while hooks are disabled.
    fn dispatch_path(&mut self, path: &str, env: EventEnv) -> Result<(), HarnessError> {
        if !self.begun || !self.hooks_enabled {
            return Ok(());
        }
        let (model_name, model_uuid) = {
            let juju = self.juju();
            (juju.model_name.clone(), juju.model_uuid.clone())
        };
        let invocation = Invocation {
            dispatch_path: path.to_string(),
            context: HookContext {
                unit: self.unit.clone(),
                relation: env.relation,
                remote_unit: env.remote_unit,
                remote_app: env.remote_app,
                departing_unit: env.departing_unit,
            },
            model_name,
            model_uuid,
            charm_dir: crate::scratch::charm_dir(self.workdir.path()),
            juju_version: JUJU_VERSION.to_string(),
            event_vars: env.extra,
        };
        let Begun { context, tools } = invocation.begin(&self.juju)?;
        let backend = Arc::new(tools);
        // The charm directory's state file once the test has looked at it.
        let in_charm_dir: Box<dyn StateStore> = if self.charm_dir_used.load(Ordering::SeqCst) {
            Box::new(LocalStateFile::in_charm_dir(&invocation.charm_dir))
        } else {
            Box::new(self.memory.clone())
        };
        let store = state_store(self.state, backend.clone(), in_charm_dir);
        let setup = DispatchSetup {
            context,
            backend,
            store,
            meta: self.meta.clone(),
            containers_dir: crate::scratch::containers_dir(self.workdir.path()),
            pebble_transports: self
                .pebbles
                .iter()
                .map(|(name, pebble)| (name.clone(), pebble.transport()))
                .collect(),
            log_level: tracing::Level::DEBUG,
        };
        let result = ops::dispatch::<C>(setup);
        self.juju().end_hook(&self.unit, result.is_ok());
        let dispatched = result?;
        self.emitted.extend(dispatched.emitted);
        self.notices = dispatched.notices;
        self.charm = Some(dispatched.charm);
        Ok(())
    }

    /// Fires any hook by name (`update-status`, `upgrade-charm`, ...).
    pub fn fire_hook(&mut self, hook: &str) -> Result<(), HarnessError> {
        self.fire(hook, EventEnv::default())
    }

    /// Makes this unit the leader or not; becoming leader fires leader-elected,
    /// losing it fires leader-settings-changed.
    pub fn set_leader(&mut self, leader: bool) -> Result<(), HarnessError> {
        let app = self.app_name().to_string();
        let was = self.juju().leader(&app) == Some(self.unit.as_str());
        let unit = self.unit.clone();
        self.juju()
            .set_leader(&app, leader.then_some(unit.as_str()));
        match (was, leader) {
            (false, true) => self.fire("leader-elected", EventEnv::default()),
            (true, false) => self.fire("leader-settings-changed", EventEnv::default()),
            _ => Ok(()),
        }
    }

    fn check_endpoint(&self, endpoint: &str) -> Result<bool, HarnessError> {
        self.meta
            .endpoint(endpoint)
            .map(|e| e.role == EndpointRole::Peer)
            .ok_or_else(|| HarnessError::UnknownEndpoint(endpoint.to_string()))
    }

    /// Relates this application's `endpoint` to `remote_app` (its own app for
    /// a peer endpoint) and fires relation-created; returns the relation id.
    pub fn add_relation(&mut self, endpoint: &str, remote_app: &str) -> Result<u32, HarnessError> {
        let peer = self.check_endpoint(endpoint)?;
        let app = self.app_name().to_string();
        let remote_app = if peer {
            app.clone()
        } else {
            remote_app.to_string()
        };
        let id = self
            .juju()
            .add_relation(&app, endpoint, &remote_app, endpoint);
        let unit = self.unit.clone();
        self.juju().join_unit(id, &unit);
        self.fire_relation(
            &format!("{endpoint}-relation-created"),
            id,
            endpoint,
            None,
            Some(remote_app),
            None,
        )?;
        Ok(id)
    }

    /// `add_relation`, then sets the remote app's databag (firing relation-changed if not empty).
    pub fn add_relation_with_app_data(
        &mut self,
        endpoint: &str,
        remote_app: &str,
        data: &[(&str, &str)],
    ) -> Result<u32, HarnessError> {
        let id = self.add_relation(endpoint, remote_app)?;
        let remote = self.remote_app(id)?;
        if !data.is_empty() {
            self.update_relation_data(id, &remote, data)?;
        }
        Ok(id)
    }

    fn relation_endpoint(&self, id: u32) -> Result<(String, String), HarnessError> {
        let juju = self.juju();
        let r = juju
            .relations
            .get(&id)
            .ok_or(HarnessError::UnknownRelation(id))?;
        let app = app_of(&self.unit);
        Ok((
            r.endpoint_of(app).unwrap_or_default().to_string(),
            r.other_app(app).to_string(),
        ))
    }

    fn remote_app(&self, id: u32) -> Result<String, HarnessError> {
        Ok(self.relation_endpoint(id)?.1)
    }

    /// A remote unit joins: fires relation-joined, then relation-changed.
    pub fn add_relation_unit(&mut self, id: u32, unit: &str) -> Result<(), HarnessError> {
        let (endpoint, remote_app) = self.relation_endpoint(id)?;
        self.juju().join_unit(id, unit);
        self.fire_relation(
            &format!("{endpoint}-relation-joined"),
            id,
            &endpoint,
            Some(unit.to_string()),
            Some(remote_app.clone()),
            None,
        )?;
        self.fire_relation(
            &format!("{endpoint}-relation-changed"),
            id,
            &endpoint,
            Some(unit.to_string()),
            Some(remote_app),
            None,
        )
    }

    /// A remote unit leaves: fires relation-departed (its bag still readable).
    pub fn remove_relation_unit(&mut self, id: u32, unit: &str) -> Result<(), HarnessError> {
        let (endpoint, remote_app) = self.relation_endpoint(id)?;
        self.juju().depart_unit(id, unit);
        self.fire_relation(
            &format!("{endpoint}-relation-departed"),
            id,
            &endpoint,
            Some(unit.to_string()),
            Some(remote_app),
            Some(unit.to_string()),
        )
    }

    /// Removes a relation: relation-departed for each remote unit, then relation-broken.
    pub fn remove_relation(&mut self, id: u32) -> Result<(), HarnessError> {
        let (endpoint, remote_app) = self.relation_endpoint(id)?;
        let units: Vec<String> = self.juju().relations[&id]
            .joined
            .iter()
            .filter(|u| **u != self.unit && app_of(u) == remote_app)
            .cloned()
            .collect();
        for unit in units {
            self.remove_relation_unit(id, &unit)?;
        }
        let result = self.fire_relation(
            &format!("{endpoint}-relation-broken"),
            id,
            &endpoint,
            None,
            Some(remote_app),
            None,
        );
        self.juju().remove_relation(id);
        result
    }

    /// This unit is removed (`juju remove-unit`), as Juju does it on the
    /// dying unit: for every relation, relation-departed for each remote
    /// unit with `JUJU_DEPARTING_UNIT` = this unit (the remote units leave
    /// the unit's view one by one, so in the last one `relation-list` is
    /// empty), then relation-broken for every relation, then `stop` and
    /// `remove`. Leadership is left as it is: a leader stays leader
    /// through all of it.
    pub fn remove_this_unit(&mut self) -> Result<(), HarnessError> {
        let app = app_of(&self.unit).to_string();
        let mut ids: Vec<u32> = self
            .juju()
            .relations
            .iter()
            .filter(|(_, r)| r.endpoint_of(&app).is_some())
            .map(|(id, _)| *id)
            .collect();
        ids.sort_unstable();
        for &id in &ids {
            let (endpoint, remote_app) = self.relation_endpoint(id)?;
            let units: Vec<String> = self.juju().relations[&id]
                .joined
                .iter()
                .filter(|u| **u != self.unit)
                .cloned()
                .collect();
            for unit in units {
                self.juju().depart_unit(id, &unit);
                let own = self.unit.clone();
                self.fire_relation(
                    &format!("{endpoint}-relation-departed"),
                    id,
                    &endpoint,
                    Some(unit),
                    Some(remote_app.clone()),
                    Some(own),
                )?;
            }
        }
        for &id in &ids {
            let (endpoint, remote_app) = self.relation_endpoint(id)?;
            self.fire_relation(
                &format!("{endpoint}-relation-broken"),
                id,
                &endpoint,
                None,
                Some(remote_app),
                None,
            )?;
        }
        self.fire("stop", EventEnv::default())?;
        self.fire("remove", EventEnv::default())
    }

    /// Updates a databag as its owner would (empty values delete) and, for a
    /// remote bag, fires relation-changed as Juju would.
    pub fn update_relation_data(
        &mut self,
        id: u32,
        member: &str,
        data: &[(&str, &str)],
    ) -> Result<(), HarnessError> {
        let (endpoint, remote_app) = self.relation_endpoint(id)?;
        let mut bag = self.juju().bag(id, member);
        let before = bag.clone();
        for (k, v) in data {
            if v.is_empty() {
                bag.remove(*k);
            } else {
                bag.insert(k.to_string(), v.to_string());
            }
        }
        self.juju().set_bag(id, member, bag.clone());
        // Juju tells a unit about changes others made: a follower hears of the
        // leader's app bag, nobody hears of its own writes.
        let leader = self.juju().hook_is_leader(&HookContext::unit(&self.unit));
        let own = member == self.unit || (member == self.app_name() && leader);
        if own || bag == before {
            return Ok(());
        }
        let remote_unit = member.contains('/').then(|| member.to_string());
        self.fire_relation(
            &format!("{endpoint}-relation-changed"),
            id,
            &endpoint,
            remote_unit,
            Some(remote_app),
            None,
        )
    }

    /// A databag's committed content.
    pub fn get_relation_data(&self, id: u32, member: &str) -> Bag {
        self.juju().bag(id, member)
    }

    /// Changes config (a `null` value unsets) and fires config-changed.
    ///
    /// As Juju, it refuses an option the charm does not declare
    /// ([`HarnessError::UnknownConfigOption`]) and a value of another type
    /// than declared ([`HarnessError::ConfigType`]); then nothing changes and
    /// no hook fires.
    pub fn update_config<'a>(
        &mut self,
        values: impl IntoIterator<Item = (&'a str, serde_json::Value)>,
    ) -> Result<(), HarnessError> {
        let values: serde_json::Map<String, serde_json::Value> = values
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect();
        for (key, value) in &values {
            let option = self
                .meta
                .config
                .get(key)
                .ok_or_else(|| HarnessError::UnknownConfigOption(key.clone()))?;
            if !value.is_null() && !option.kind.accepts(value) {
                return Err(HarnessError::ConfigType {
                    key: key.clone(),
                    declared: option.kind,
                    given: ops::redact::json_kind(value),
                });
            }
        }
        let app = self.app_name().to_string();
        self.juju().set_config(&app, values);
        self.fire("config-changed", EventEnv::default())
    }

    fn pebble(&self, container: &str) -> Result<&FakePebble, HarnessError> {
        self.pebbles
            .get(container)
            .ok_or_else(|| HarnessError::UnknownContainer(container.to_string()))
    }

    /// Whether Pebble in `container` answers.
    pub fn set_can_connect(
        &mut self,
        container: &str,
        can_connect: bool,
    ) -> Result<(), HarnessError> {
        self.pebble(container)?.set_can_connect(can_connect);
        self.connectable.insert(container.to_string(), can_connect);
        Ok(())
    }

    fn fire_pebble_ready(&mut self, container: &str) -> Result<(), HarnessError> {
        let env = EventEnv {
            extra: event_vars::workload(container, None, None),
            ..Default::default()
        };
        self.fire(&format!("{container}-pebble-ready"), env)
    }

    /// Pebble in `container` comes up: can connect, and pebble-ready fires.
    pub fn container_pebble_ready(&mut self, container: &str) -> Result<(), HarnessError> {
        self.set_can_connect(container, true)?;
        self.fire_pebble_ready(container)
    }

    /// The workload runs `pebble notify <key>` in `container`: its Pebble
    /// records the custom notice (a key seen before is another occurrence
    /// of the same notice, with this data), then
    /// `<container>-pebble-custom-notice` fires with the notice's id, type
    /// and key, as under Juju (Python Harness's `pebble_notify`). Returns
    /// the notice's id.
    ///
    /// ```
    /// # use ops::{Charm, Framework, HandlerError};
    /// # struct Demo;
    /// # impl Charm for Demo { fn new(_: &mut Framework<Self>) -> Result<Self, HandlerError> { Ok(Demo) } }
    /// let mut harness = ops_testing::Harness::<Demo>::new(
    ///     "name: demo\ncontainers: {app: {resource: img}}\nresources: {img: {type: oci-image}}\n",
    /// ).unwrap();
    /// harness.begin();
    /// harness.set_can_connect("app", true).unwrap();
    /// let data = [("path".to_string(), "/srv".to_string())].into();
    /// let id = harness.pebble_notify("app", "example.com/db-ready", &data).unwrap();
    /// let notices = harness.container_pebble("app").unwrap().notices();
    /// assert_eq!((notices[0].id.as_str(), notices[0].occurrences), (id.as_str(), 1));
    /// ```
    pub fn pebble_notify(
        &mut self,
        container: &str,
        key: &str,
        data: &BTreeMap<String, String>,
    ) -> Result<String, HarnessError> {
        let pebble = self.pebble(container)?;
        if !pebble.can_connect() {
            return Err(HarnessError::PebbleNotUp(container.to_string()));
        }
        let id = pebble.notify(key, data)?;
        let env = EventEnv {
            extra: event_vars::workload(container, Some((&id, "custom", key)), None),
            ..Default::default()
        };
        self.fire(&format!("{container}-pebble-custom-notice"), env)?;
        Ok(id)
    }

    /// The fake Pebble of a container: its plan, services and recorded events.
    pub fn container_pebble(&self, container: &str) -> Result<&FakePebble, HarnessError> {
        self.pebble(container)
    }

    /// The directory that holds the container's filesystem.
    pub fn container_root(&self, container: &str) -> Result<PathBuf, HarnessError> {
        Ok(self.pebble(container)?.files_on_host()?.to_path_buf())
    }

    /// Where a path of the container's filesystem (`/etc/pgbouncer/pgbouncer.ini`)
    /// is on the host: under [`container_root`](Self::container_root), never
    /// the host's own `/etc`. A path that is not absolute or climbs out with
    /// `..` is [`HarnessError::ContainerPath`].
    ///
    /// ```
    /// # use ops::{Charm, Framework, HandlerError};
    /// # struct Demo;
    /// # impl Charm for Demo { fn new(_: &mut Framework<Self>) -> Result<Self, HandlerError> { Ok(Demo) } }
    /// let harness = ops_testing::Harness::<Demo>::new(
    ///     "name: demo\ncontainers: {app: {resource: img}}\nresources: {img: {type: oci-image}}\n",
    /// ).unwrap();
    /// let host = harness.container_path("app", "/etc/app.conf").unwrap();
    /// assert!(host.starts_with(harness.container_root("app").unwrap()));
    /// assert_ne!(host, std::path::Path::new("/etc/app.conf"));
    /// ```
    pub fn container_path(&self, container: &str, path: &str) -> Result<PathBuf, HarnessError> {
        use std::path::Component;
        let bad = || HarnessError::ContainerPath(path.to_string());
        let path_ref = Path::new(path);
        if !path_ref.is_absolute() {
            return Err(bad());
        }
        let mut host = self.container_root(container)?;
        for component in path_ref.components() {
            match component {
                Component::RootDir | Component::CurDir => {}
                Component::Normal(part) => host.push(part),
                Component::ParentDir | Component::Prefix(_) => return Err(bad()),
            }
        }
        Ok(host)
    }

    /// Adds a secret owned by `owner` (an application or unit name); returns its id.
    pub fn add_secret(&mut self, owner: &str, content: &[(&str, &str)]) -> String {
        let content = content
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        self.juju().add_secret(owner, content, None)
    }

    /// Lets the remote side of relation `id` (or one unit) see a secret.
    pub fn grant_secret(&mut self, secret: &str, id: u32, unit: Option<&str>) {
        self.juju().grant_secret(secret, id, unit);
    }

    /// A new revision of a secret; fires secret-changed on this (observing) unit.
    pub fn set_secret_content(
        &mut self,
        secret: &str,
        content: &[(&str, &str)],
    ) -> Result<(), HarnessError> {
        let content = content
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        self.juju().set_secret_content(secret, content);
        self.fire_secret("secret-changed", secret, None)
    }

    fn fire_secret(
        &mut self,
        hook: &str,
        secret: &str,
        revision: Option<u64>,
    ) -> Result<(), HarnessError> {
        let label = self
            .juju()
            .secrets
            .get(secret)
            .and_then(|s| s.label.clone());
        self.fire(
            hook,
            EventEnv {
                extra: event_vars::secret(secret, label.as_deref(), revision),
                ..Default::default()
            },
        )
    }

    /// Fires secret-rotate for an owned secret.
    pub fn trigger_secret_rotation(&mut self, secret: &str) -> Result<(), HarnessError> {
        self.fire_secret("secret-rotate", secret, None)
    }

    /// Fires secret-expired for a revision of an owned secret.
    pub fn trigger_secret_expiration(
        &mut self,
        secret: &str,
        revision: u64,
    ) -> Result<(), HarnessError> {
        self.fire_secret("secret-expired", secret, Some(revision))
    }

    /// Fires secret-remove for a revision no longer tracked.
    pub fn trigger_secret_removal(
        &mut self,
        secret: &str,
        revision: u64,
    ) -> Result<(), HarnessError> {
        self.fire_secret("secret-remove", secret, Some(revision))
    }

    /// Runs an action with parameters; returns its results, log and failure.
    pub fn run_action(
        &mut self,
        action: &str,
        params: serde_json::Map<String, serde_json::Value>,
    ) -> Result<ActionOutput, HarnessError> {
        let unit = self.unit.clone();
        self.juju().start_action(&unit, action, params);
        let env = EventEnv {
            extra: event_vars::action(action, "1"),
            ..Default::default()
        };
        self.dispatch_path(&format!("actions/{action}"), env)?;
        let state: ActionState = self.juju().action(&unit).cloned().unwrap_or_default();
        Ok(ActionOutput {
            results: state.results,
            logs: state.log,
            failure: state.failure,
        })
    }

    /// Runs a dispatch with no Juju event: deferred notices, then status collection.
    pub fn evaluate_status(&mut self) -> Result<(), HarnessError> {
        self.fire("ops-harness-evaluate-status", EventEnv::default())
    }

    /// This unit's status as last set.
    pub fn unit_status(&self) -> Status {
        self.juju()
            .unit_status(&self.unit)
            .cloned()
            .map(Status::from)
            .unwrap_or_else(Status::unknown)
    }

    /// The application's status as last set.
    pub fn app_status(&self) -> Status {
        self.juju()
            .app_status(self.app_name())
            .cloned()
            .map(Status::from)
            .unwrap_or_else(Status::unknown)
    }
}
