//! One process = one Juju event: the dispatch engine and `ops::main`.
//!
//! [`dispatch`] is the one engine: production (`main`), the Harness and the
//! unit simulator all run it, and differ only in the [`DispatchSetup`] they
//! give it (backend, state store, containers directory).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use crate::backend::{Backend, HookTools};
use crate::charm::Charm;
use crate::context::JujuContext;
pub use crate::framework::dispatch_error::DispatchError;
use crate::framework::resolve::resolve;
use crate::framework::{EmittedEvent, Framework};
use crate::log::JujuLogSubscriber;
use crate::meta::CharmMeta;
use crate::model::{Model, ModelParts, Placement, Status};
use crate::pebble::{DEFAULT_CONTAINERS_DIR, Transport};
use crate::storage::{JujuStateStore, LocalStateFile, Notice, PersistedState, StateStore};

/// Overrides where the Pebble sockets are (`<dir>/<container>/pebble.socket`).
///
/// Juju never sets it; the unit simulator does, so that several simulated
/// units each have their own sockets.
pub const CONTAINERS_DIR_VAR: &str = "OPS_CONTAINERS_DIR";

/// Everything a dispatch needs from outside: what differs between Juju, the
/// Harness and the simulator.
pub struct DispatchSetup {
    /// The hook's environment.
    pub context: JujuContext,
    /// The hook tools.
    pub backend: Arc<dyn Backend>,
    /// Where persisted state lives.
    pub store: Box<dyn StateStore>,
    /// The charm's metadata.
    pub meta: Arc<CharmMeta>,
    /// Where the Pebble sockets are.
    pub containers_dir: PathBuf,
    /// Transports by container name, for containers whose Pebble is not
    /// reached over its socket under `containers_dir` (a test kit's
    /// in-process Pebble). Empty in production: every container's client
    /// uses its socket.
    pub pebble_transports: BTreeMap<String, Arc<dyn Transport>>,
    /// The lowest level forwarded to `juju-log`.
    pub log_level: tracing::Level,
}

/// What a successful dispatch did.
pub struct Dispatched<C> {
    /// The charm instance, after the dispatch.
    pub charm: C,
    /// The Juju event's full name, if this charm knows it.
    pub event: Option<String>,
    /// Every handler call, in order.
    pub emitted: Vec<EmittedEvent>,
    /// The deferred-notice queue as committed.
    pub notices: Vec<Notice>,
    /// The unit status that collect-status settled on, if any.
    pub unit_status: Option<Status>,
    /// The app status that collect-status settled on (leader only), if any.
    pub app_status: Option<Status>,
}

impl<C> std::fmt::Debug for Dispatched<C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Dispatched")
            .field("event", &self.event)
            .field("emitted", &self.emitted)
            .field("notices", &self.notices)
            .field("unit_status", &self.unit_status)
            .field("app_status", &self.app_status)
            .finish_non_exhaustive()
    }
}

/// Runs one dispatch: build the charm, re-emit deferred notices, emit the
/// Juju event, collect status, flush relation data, commit state.
///
/// If anything fails, nothing is committed: the state store keeps what the
/// last successful dispatch saved, and buffered relation data is dropped.
///
/// A panic in `Charm::new` or a handler does not escape: it is logged at
/// ERROR through `juju-log` (as Python ops' excepthook does) and becomes
/// [`DispatchError::Panicked`], so the process exits non-zero and Juju
/// retries the hook, with nothing committed.
pub fn dispatch<C: Charm>(setup: DispatchSetup) -> Result<Dispatched<C>, DispatchError> {
    let subscriber = JujuLogSubscriber::new(setup.backend.clone(), setup.log_level);
    tracing::subscriber::with_default(subscriber, || {
        match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| run::<C>(setup))) {
            Ok(result) => result,
            Err(payload) => {
                let message = panic_message(payload.as_ref());
                tracing::error!("the charm panicked: {message}");
                Err(DispatchError::Panicked { message })
            }
        }
    })
}

/// The text a panic carried (`panic!("...")` gives a `&str` or a `String`).
fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "<non-string panic payload>".to_string()
    }
}

fn run<C: Charm>(setup: DispatchSetup) -> Result<Dispatched<C>, DispatchError> {
    let DispatchSetup {
        context,
        backend,
        store,
        meta,
        containers_dir,
        pebble_transports,
        ..
    } = setup;
    let event = resolve(&meta, &context, || backend.action_get())?;
    let broken_relation = match &event {
        Some(e) if e.name.ends_with("_relation_broken") => context.relation.clone(),
        _ => None,
    };
    let model = Model::new(ModelParts {
        backend: backend.clone(),
        meta: meta.clone(),
        unit_name: context.unit_name.clone(),
        model_name: context.model_name.clone(),
        model_uuid: context.model_uuid.clone(),
        juju_version: context.version.clone(),
        charm_dir: context.charm_dir.clone(),
        containers_dir,
        hook_relation: context.relation.clone(),
        departing_unit: context.departing_unit.clone(),
        remote_app: context.remote_app.clone(),
        broken_relation,
    })
    .with_pebble_transports(pebble_transports)
    .with_placement(Placement {
        machine_id: context.machine_id.clone(),
        availability_zone: context.availability_zone.clone(),
        principal_unit: context.principal_unit.clone(),
    });
    // In a restricted hook (collect-metrics, meter-status-changed) Juju
    // refuses state-get, status-set and is-leader: the state store is not
    // touched (stored state reads as its default and nothing is committed),
    // deferred notices wait for the next hook, and status is not collected.
    let restricted = context.is_restricted();
    let state = if restricted {
        PersistedState::default()
    } else {
        store.load()?
    };
    let mut framework = Framework::<C>::new(model, meta, state);
    let mut charm = C::new(&mut framework).map_err(DispatchError::Construct)?;

    if !restricted {
        framework.reemit_deferred(&mut charm)?;
    }
    match &event {
        Some(event) => {
            framework.emit(&mut charm, &event.name, event.snapshot.clone())?;
        }
        None => tracing::debug!(
            "event {} is not one this charm has; nothing to emit",
            context.event_name()
        ),
    }
    // As Python ops: the application's status (leader only) first, then the unit's.
    let mut app_status = None;
    if !restricted
        && framework.has_observers("collect_app_status")
        && framework.model().is_leader()?
    {
        app_status =
            highest(framework.emit(&mut charm, "collect_app_status", serde_json::json!({}))?);
        if let Some(status) = &app_status {
            framework.model().set_app_status(status.clone())?;
        }
    }
    let mut unit_status = None;
    if !restricted {
        unit_status =
            highest(framework.emit(&mut charm, "collect_unit_status", serde_json::json!({}))?);
    }
    if let Some(status) = &unit_status {
        framework.model().set_unit_status(status.clone())?;
    }
    framework.emit(&mut charm, "pre_commit", serde_json::json!({}))?;
    framework.emit(&mut charm, "commit", serde_json::json!({}))?;

    let persisted = framework.persisted()?;
    framework.model().flush()?;
    if !restricted {
        store.save(&persisted)?;
    }
    Ok(Dispatched {
        event: event.map(|e| e.name),
        emitted: framework.emitted().to_vec(),
        notices: framework.notices().to_vec(),
        charm,
        unit_status,
        app_status,
    })
}

fn highest(statuses: Vec<Status>) -> Option<Status> {
    statuses.into_iter().reduce(|best, s| {
        if s.priority() > best.priority() {
            s
        } else {
            best
        }
    })
}

/// Where [`main_with`] keeps persisted state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum StateLocation {
    /// `.unit-state.json` in the charm directory.
    #[default]
    CharmDir,
    /// Juju's controller-side unit state (`state-get`/`state-set`): survives
    /// the loss of a Kubernetes pod.
    Juju,
}

/// Options for [`main_with`]: [`MainOptions::new`] and the `with_*` methods.
///
/// ```no_run
/// # struct MyCharm;
/// # impl ops::Charm for MyCharm {
/// #     fn new(_: &mut ops::Framework<Self>) -> Result<Self, ops::HandlerError> { Ok(MyCharm) }
/// # }
/// fn main() -> std::process::ExitCode {
///     ops::main_with::<MyCharm>(ops::MainOptions::new().with_state(ops::StateLocation::Juju))
/// }
/// ```
///
/// ```compile_fail
/// let options = ops::MainOptions { state: ops::StateLocation::Juju, ..Default::default() };
/// ```
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct MainOptions {
    /// Where persisted state lives.
    pub state: StateLocation,
    /// The charm's metadata as `ops::codegen` compiles it in
    /// (`meta::CHARM_META_JSON`, [`CharmMeta::to_json`]): read instead of
    /// the charm directory's `metadata.yaml` (or `charmcraft.yaml`), which
    /// costs a small hook a third of its own instructions to parse. Both
    /// come from the same `charmcraft.yaml` when the charm is packed.
    pub compiled_meta: Option<&'static str>,
}

impl MainOptions {
    /// State in `.unit-state.json`, metadata read from the charm directory.
    pub fn new() -> Self {
        Self::default()
    }

    /// With persisted state there.
    pub fn with_state(mut self, state: StateLocation) -> Self {
        self.state = state;
        self
    }

    /// With the metadata compiled in (`meta::CHARM_META_JSON`).
    pub fn with_compiled_meta(mut self, json: &'static str) -> Self {
        self.compiled_meta = Some(json);
        self
    }
}

/// The charm binary's entry point: runs the event Juju dispatched.
///
/// ```no_run
/// # struct MyCharm;
/// # impl ops::Charm for MyCharm {
/// #     fn new(_: &mut ops::Framework<Self>) -> Result<Self, ops::HandlerError> { Ok(MyCharm) }
/// # }
/// fn main() -> std::process::ExitCode {
///     ops::main::<MyCharm>()
/// }
/// ```
///
/// Exit status 0 on success (and when the charm called itself: `OPERATOR_DISPATCH`
/// set); non-zero, with the error on stderr and in `juju-log`, otherwise, so
/// that Juju retries the hook.
pub fn main<C: Charm>() -> ExitCode {
    main_with::<C>(MainOptions::default())
}

/// [`main`] with options.
pub fn main_with<C: Charm>(options: MainOptions) -> ExitCode {
    let context = match JujuContext::from_env() {
        Ok(context) => context,
        Err(e) => {
            eprintln!("ops: {e}");
            return ExitCode::FAILURE;
        }
    };
    if context.reentrant {
        return ExitCode::SUCCESS;
    }
    // The hook tools get no OPERATOR_DISPATCH: none of them runs the charm,
    // and a variable set per command makes std copy the whole environment
    // for every spawn (a tenth of a hook's own CPU). Processes the charm
    // starts take it from `JujuContext::child_env`.
    let backend: Arc<dyn Backend> = Arc::new(HookTools::new());
    let meta = match options.compiled_meta {
        Some(json) => CharmMeta::from_json(json),
        None => CharmMeta::from_charm_dir(&context.charm_dir),
    };
    let meta = match meta {
        Ok(meta) => Arc::new(meta),
        Err(e) => return fail(&backend, &e.into()),
    };
    let store: Box<dyn StateStore> = match options.state {
        StateLocation::CharmDir => Box::new(LocalStateFile::in_charm_dir(&context.charm_dir)),
        StateLocation::Juju => Box::new(JujuStateStore::new(backend.clone())),
    };
    let containers_dir = std::env::var_os(CONTAINERS_DIR_VAR)
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(DEFAULT_CONTAINERS_DIR));
    let setup = DispatchSetup {
        context,
        backend: backend.clone(),
        store,
        meta,
        containers_dir,
        pebble_transports: BTreeMap::new(),
        log_level: tracing::Level::DEBUG,
    };
    match dispatch::<C>(setup) {
        Ok(_) => ExitCode::SUCCESS,
        Err(e) => fail(&backend, &e),
    }
}

fn fail(backend: &Arc<dyn Backend>, error: &DispatchError) -> ExitCode {
    let mut message = error.to_string();
    let mut source = std::error::Error::source(error);
    while let Some(s) = source {
        let text = s.to_string();
        if !message.contains(&text) {
            message.push_str(": ");
            message.push_str(&text);
        }
        source = s.source();
    }
    eprintln!("ops: dispatch failed: {message}");
    if matches!(error, DispatchError::Panicked { .. }) {
        // Already logged at ERROR by the dispatch.
        return ExitCode::FAILURE;
    }
    let _ = backend.juju_log(
        crate::backend::LogLevel::Error,
        &format!("dispatch failed: {message}"),
    );
    ExitCode::FAILURE
}
