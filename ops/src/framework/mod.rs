//! The framework: observers on typed events, deferral, stored state.
//!
//! A charm registers its observers in [`Charm::new`](crate::Charm::new) on the
//! [`Framework`] it is given; the dispatch then re-emits deferred notices,
//! emits the Juju event, collects status and commits (see
//! [`dispatch`](crate::dispatch())).

mod any_event;
pub(crate) mod dispatch_error;
pub mod events;
mod key;
mod outcome;
pub(crate) mod resolve;
mod stored;

pub use any_event::AnyEvent;
pub use outcome::{HandlerError, HandlerOutcome, HandlerResult, Outcome, ReturnedValue};
pub use stored::StoredState;

use std::any::type_name;
use std::rc::Rc;
use std::sync::Arc;

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::declared::{ActionName, ContainerName, EndpointName, StorageName};
use crate::meta::CharmMeta;
use crate::model::{Model, Status};
use crate::storage::{MAX_NOTICES, Notice, PersistedState};
use dispatch_error::DispatchError;
use events::{
    ActionEvent, CharmEvent, ContainerEvent, CustomEvent, Event, RelationEvent, StorageEvent,
};
use key::ObserverKey;
use outcome::Returned;

/// A mistake in registering observers or stored state, found in `Charm::new`.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FrameworkError {
    /// The relation endpoint is not in the charm's metadata.
    #[error(
        "cannot observe {event} on endpoint {endpoint:?}: the charm's metadata declares no such relation"
    )]
    UnknownEndpoint {
        /// The endpoint given.
        endpoint: String,
        /// The event kind.
        event: &'static str,
    },
    /// The container is not in the charm's metadata.
    #[error(
        "cannot observe {event} on container {container:?}: the charm's metadata declares no such container"
    )]
    UnknownContainer {
        /// The container given.
        container: String,
        /// The event kind.
        event: &'static str,
    },
    /// The storage is not in the charm's metadata.
    #[error(
        "cannot observe {event} on storage {storage:?}: the charm's metadata declares no such storage"
    )]
    UnknownStorage {
        /// The storage given.
        storage: String,
        /// The event kind.
        event: &'static str,
    },
    /// The action is not in the charm's actions.
    #[error("cannot observe action {action:?}: the charm declares no such action")]
    UnknownAction {
        /// The action given.
        action: String,
    },
    /// A closure has no name that survives across processes.
    #[error(
        "cannot observe {event} with a closure ({observer}): a deferred event must find its observer in the next process, so observe a function or method (e.g. `Self::on_start`)"
    )]
    ClosureObserver {
        /// The event.
        event: String,
        /// The closure's type name.
        observer: String,
    },
    /// The same function observes the same event twice.
    #[error("{observer} already observes {event}")]
    DuplicateObserver {
        /// The event.
        event: String,
        /// The observer.
        observer: String,
    },
    /// Two stored states with one name.
    #[error("stored state {key} is registered twice")]
    DuplicateStoredState {
        /// The full key.
        key: String,
    },
    /// The saved stored state does not fit the type asked for.
    #[error("stored state {key} cannot be read as {type_name}: {reason}")]
    StoredStateType {
        /// The full key.
        key: String,
        /// The Rust type asked for.
        type_name: &'static str,
        /// serde's message, without the values it quotes.
        reason: String,
    },
    /// Two different event types are registered under one name (two
    /// libraries' `database_ready` without a namespace, or a custom event
    /// named like a Juju event).
    #[error(
        "event {event} is already registered as another type; give the custom event a NAMESPACE"
    )]
    EventNameClash {
        /// The event's name.
        event: String,
    },
    /// Custom events emitted by observers of custom events nested past
    /// [`MAX_EMIT_DEPTH`] (an event that, through its observers, emits itself).
    #[error("custom event {event} is nested {limit} deep: do its observers emit it again?")]
    EmitTooDeep {
        /// The event that would go one deeper.
        event: String,
        /// The bound.
        limit: usize,
    },
    /// The deferred-notice queue is full: deferring this event would push it
    /// past [`MAX_NOTICES`]. The dispatch fails
    /// and nothing is committed (no notice is dropped); Juju retries the hook.
    #[error(
        "cannot defer {event} for {observer}: {limit} notices are already deferred; \
         handle them (return Outcome::Done) instead of deferring more"
    )]
    TooManyNotices {
        /// The event being deferred.
        event: String,
        /// Its observer.
        observer: String,
        /// The bound.
        limit: usize,
    },
    /// An event or stored value could not be turned into JSON (serde's
    /// serializer errors name types, not values).
    #[error("cannot serialize {what}: {source}")]
    Serialize {
        /// What was being serialized.
        what: String,
        /// The serde error.
        #[source]
        source: serde_json::Error,
    },
}

/// Why a handler call failed.
#[derive(Debug, thiserror::Error)]
pub(crate) enum CallError {
    #[error("the deferred event's snapshot no longer fits its type: {0}")]
    Snapshot(#[source] serde_json::Error),
    #[error(transparent)]
    Handler(HandlerError),
}

/// How deep custom events may nest: an observer of a custom event may emit
/// another, whose observers may emit another, ... this many levels.
pub const MAX_EMIT_DEPTH: usize = 32;

type ObserverFn<C> = dyn Fn(&mut C, &str, &Value, &mut Ctx<'_>) -> Result<Returned, CallError>;

/// What [`Observer::event`] holds for an observer of every event.
const EVERY_EVENT: &str = "*";

struct Observer<C> {
    /// The event's name, or [`EVERY_EVENT`].
    event: String,
    /// `<Charm>::<function>`: what notices are saved under.
    key: ObserverKey,
    /// The Rust type the event's name stands for (none for an observer
    /// of every event): one name, one type.
    event_type: Option<std::any::TypeId>,
    call: Box<ObserverFn<C>>,
}

impl<C> Observer<C> {
    fn observes(&self, event: &str) -> bool {
        self.event == event || (self.event == EVERY_EVENT && AnyEvent::observes(event))
    }
}

struct StoredSlot {
    key: String,
    snapshot: Box<dyn Fn() -> Result<Value, serde_json::Error>>,
}

/// One handler call during a dispatch, for tests to look at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmittedEvent {
    /// The event's handle path (`MyCharm/on/start[3]`).
    pub handle: String,
    /// The full event name.
    pub event: String,
    /// The observer called.
    pub observer: String,
    /// Whether the call re-emitted a deferred notice.
    pub reemitted: bool,
    /// Whether the observer deferred it (again).
    pub deferred: bool,
}

/// What a handler may touch besides its charm: the model, and custom events.
pub struct Ctx<'a> {
    model: &'a Model,
    handle: &'a str,
    emitted: Vec<(String, Value)>,
}

impl<'a> Ctx<'a> {
    fn new(model: &'a Model, handle: &'a str) -> Self {
        Self {
            model,
            handle,
            emitted: Vec::new(),
        }
    }

    /// The Juju model: this unit, its relations, config, status, containers.
    pub fn model(&self) -> &'a Model {
        self.model
    }

    /// The handle path of the event being handled (`MyCharm/on/start[3]`).
    pub fn handle(&self) -> &str {
        self.handle
    }

    /// Emits a custom event; its observers run as soon as this handler returns.
    pub fn emit<E: CustomEvent>(&mut self, event: E) -> Result<(), FrameworkError> {
        let snapshot =
            serde_json::to_value(&event).map_err(|source| FrameworkError::Serialize {
                what: format!("custom event {}", events::event_key::<E>()),
                source,
            })?;
        self.emitted.push((events::event_key::<E>(), snapshot));
        Ok(())
    }
}

/// Where a charm registers its observers and stored state; handed to
/// [`Charm::new`](crate::Charm::new).
pub struct Framework<C> {
    charm_name: Rc<str>,
    depth: usize,
    model: Model,
    meta: Arc<CharmMeta>,
    observers: Vec<Rc<Observer<C>>>,
    stored: Vec<StoredSlot>,
    state: PersistedState,
    emitted: Vec<EmittedEvent>,
}

impl<C: 'static> Framework<C> {
    pub(crate) fn new(model: Model, meta: Arc<CharmMeta>, state: PersistedState) -> Self {
        let charm_name = charm_type_name::<C>().into();
        Self {
            charm_name,
            depth: 0,
            model,
            meta,
            observers: Vec::new(),
            stored: Vec::new(),
            state,
            emitted: Vec::new(),
        }
    }

    /// The Juju model.
    pub fn model(&self) -> &Model {
        &self.model
    }

    /// The charm's metadata.
    pub fn meta(&self) -> &CharmMeta {
        &self.meta
    }

    /// The charm type's name, the root of every handle path.
    pub fn charm_name(&self) -> &str {
        &self.charm_name
    }

    /// Observes a charm-wide event (`Install`, `ConfigChanged`, a custom event).
    ///
    /// The handler is a function or method; its name under the charm type
    /// (`MyCharm::on_start`) is the observer's key, which a deferred notice
    /// uses to find it again in a later process: stable across compiler
    /// versions and module moves. Rename the function and its notices are
    /// dropped (with a warning); use [`observe_as`](Self::observe_as) to
    /// keep an old name.
    pub fn observe<E, R, F>(&mut self, handler: F) -> Result<&mut Self, FrameworkError>
    where
        E: CharmEvent,
        R: HandlerOutcome<E>,
        F: Fn(&mut C, &E, &mut Ctx<'_>) -> HandlerResult<R> + 'static,
    {
        self.register(events::event_key::<E>(), None, handler)
    }

    /// Observes a relation event on one endpoint (`observe_relation("db", Self::on_db_changed)`).
    ///
    /// `endpoint` is a generated [`DeclaredEndpoint`](crate::declared::DeclaredEndpoint)
    /// (`meta::DB`, see [`declared`](crate::declared)), which the compiler
    /// checks, or a string, which is checked here against the metadata.
    pub fn observe_relation<E, R, F>(
        &mut self,
        endpoint: impl EndpointName,
        handler: F,
    ) -> Result<&mut Self, FrameworkError>
    where
        E: RelationEvent,
        R: HandlerOutcome<E>,
        F: Fn(&mut C, &E, &mut Ctx<'_>) -> HandlerResult<R> + 'static,
    {
        let endpoint = endpoint.endpoint_name();
        if self.meta.endpoint(endpoint).is_none() {
            return Err(FrameworkError::UnknownEndpoint {
                endpoint: endpoint.to_string(),
                event: E::KIND,
            });
        }
        self.register(scoped_name(endpoint, E::KIND), None, handler)
    }

    /// Observes a workload event of one container (`PebbleReady`, ...):
    /// a generated [`DeclaredContainer`](crate::declared::DeclaredContainer)
    /// or a string.
    pub fn observe_container<E, R, F>(
        &mut self,
        container: impl ContainerName,
        handler: F,
    ) -> Result<&mut Self, FrameworkError>
    where
        E: ContainerEvent,
        R: HandlerOutcome<E>,
        F: Fn(&mut C, &E, &mut Ctx<'_>) -> HandlerResult<R> + 'static,
    {
        let container = container.container_name();
        if !self.meta.containers.contains_key(container) {
            return Err(FrameworkError::UnknownContainer {
                container: container.to_string(),
                event: E::KIND,
            });
        }
        self.register(scoped_name(container, E::KIND), None, handler)
    }

    /// Observes a storage event of one storage: a generated
    /// [`DeclaredStorage`](crate::declared::DeclaredStorage) or a string.
    pub fn observe_storage<E, R, F>(
        &mut self,
        storage: impl StorageName,
        handler: F,
    ) -> Result<&mut Self, FrameworkError>
    where
        E: StorageEvent,
        R: HandlerOutcome<E>,
        F: Fn(&mut C, &E, &mut Ctx<'_>) -> HandlerResult<R> + 'static,
    {
        let storage = storage.storage_name();
        if !self.meta.storage.contains_key(storage) {
            return Err(FrameworkError::UnknownStorage {
                storage: storage.to_string(),
                event: E::KIND,
            });
        }
        self.register(scoped_name(storage, E::KIND), None, handler)
    }

    /// Observes an action declared in the charm's actions: a generated
    /// [`DeclaredAction`](crate::declared::DeclaredAction) (whose
    /// [`params`](crate::declared::DeclaredAction::params) reads its typed
    /// parameters) or a string.
    pub fn observe_action<F>(
        &mut self,
        action: impl ActionName,
        handler: F,
    ) -> Result<&mut Self, FrameworkError>
    where
        F: Fn(&mut C, &ActionEvent, &mut Ctx<'_>) -> HandlerResult + 'static,
    {
        let action = action.action_name();
        if !self.meta.actions.contains_key(action) {
            return Err(FrameworkError::UnknownAction {
                action: action.to_string(),
            });
        }
        self.register(scoped_name(action, "action"), None, handler)
    }

    /// A value kept across dispatches under `name`, starting from `T::default()`.
    ///
    /// The saved value is read over `T::default()`: a field the saved value
    /// lacks (one added in a charm upgrade) takes its default's value, and a
    /// field `T` no longer has is ignored, so adding or removing fields needs
    /// no migration. (This is per top-level field; a nested struct that gains
    /// fields wants `#[serde(default)]` on it.) A saved value that does not fit otherwise (a field whose
    /// type changed) is [`FrameworkError::StoredStateType`], naming the key;
    /// migrate by reading the old value under its name as a
    /// `serde_json::Value` (or an old struct), converting it, and keeping the
    /// new type under a new name.
    pub fn stored_state<T>(&mut self, name: &str) -> Result<StoredState<T>, FrameworkError>
    where
        T: Serialize + DeserializeOwned + Default + 'static,
    {
        let key = format!("{}/StoredState[{name}]", self.charm_name);
        if self.stored.iter().any(|s| s.key == key) {
            return Err(FrameworkError::DuplicateStoredState { key });
        }
        let value = match self.state.stored.get(&key) {
            Some(saved) => {
                let mut merged = serde_json::to_value(T::default()).map_err(|source| {
                    FrameworkError::Serialize {
                        what: format!("the default of stored state {key}"),
                        source,
                    }
                })?;
                merge_over(&mut merged, saved);
                serde_json::from_value(merged).map_err(|source| {
                    FrameworkError::StoredStateType {
                        key: key.clone(),
                        type_name: type_name::<T>(),
                        reason: crate::redact::serde_reason(&source.to_string()),
                    }
                })?
            }
            None => T::default(),
        };
        let stored = StoredState::new(key.clone(), value);
        let handle = stored.framework_handle();
        self.stored.push(StoredSlot {
            key,
            snapshot: Box::new(move || handle.snapshot()),
        });
        Ok(stored)
    }

    /// [`observe`](Self::observe) under an explicit observer name, for two
    /// functions of one name (in different modules) observing one event.
    /// The name is what a deferred notice finds its observer by, so keep it
    /// across charm versions.
    ///
    /// ```no_run
    /// use ops::{Charm, Ctx, Framework, HandlerError, HandlerResult};
    /// use ops::events::Start;
    ///
    /// struct MyCharm;
    ///
    /// mod db {
    ///     pub fn on_start(_: &mut super::MyCharm, _: &ops::events::Start, _: &mut ops::Ctx) -> ops::HandlerResult {
    ///         Ok(())
    ///     }
    /// }
    ///
    /// impl Charm for MyCharm {
    ///     fn new(fw: &mut Framework<Self>) -> Result<Self, HandlerError> {
    ///         fw.observe_as("db_on_start", db::on_start)?;
    ///         Ok(MyCharm)
    ///     }
    /// }
    /// # fn main() {}
    /// ```
    pub fn observe_as<E, R, F>(
        &mut self,
        name: &str,
        handler: F,
    ) -> Result<&mut Self, FrameworkError>
    where
        E: CharmEvent,
        R: HandlerOutcome<E>,
        F: Fn(&mut C, &E, &mut Ctx<'_>) -> HandlerResult<R> + 'static,
    {
        self.register(events::event_key::<E>(), Some(name), handler)
    }

    /// The observer's key, `<Charm>::<function>` (or the name given):
    /// stable across compiler versions and module moves. Refuses a closure
    /// without a name and a second observer of the event under one key.
    fn observer_key<F>(
        &self,
        event: &str,
        name: Option<&str>,
    ) -> Result<ObserverKey, FrameworkError> {
        let function = type_name::<F>();
        if name.is_none() && key::names_a_closure(function) {
            return Err(FrameworkError::ClosureObserver {
                event: event.to_string(),
                observer: function.to_string(),
            });
        }
        let key = match name {
            Some(name) => ObserverKey::named(self.charm_name.clone(), name),
            None => ObserverKey::of_function(self.charm_name.clone(), function),
        };
        // Only observers of the same event can clash, so only their keys
        // (and this one's) are spelled out here.
        if self
            .observers
            .iter()
            .any(|o| o.event == event && o.key.get() == key.get())
        {
            return Err(FrameworkError::DuplicateObserver {
                event: event.to_string(),
                observer: key.get().to_string(),
            });
        }
        Ok(key)
    }

    /// Observes every event with one handler (called in registration order
    /// with the event's own observers: register it last to run after them):
    /// the reconcile pattern, where a charm works out what its
    /// workload should be from the model each time anything happens rather
    /// than reacting to each event. Every Juju event and custom event
    /// reaches it except collect-status (status comes from its own
    /// observers), actions, and the framework's `pre_commit` and `commit`
    /// (as in Python ops, where they are not the charm's events). It cannot defer, nor set status: it runs
    /// again at the next event anyway.
    ///
    /// ```
    /// use ops::AnyEvent;
    /// use ops::{Charm, Ctx, Framework, HandlerError, HandlerResult};
    ///
    /// struct Reconciling;
    /// impl Charm for Reconciling {
    ///     fn new(fw: &mut Framework<Self>) -> Result<Self, HandlerError> {
    ///         fw.observe_every(Self::reconcile)?;
    ///         Ok(Reconciling)
    ///     }
    /// }
    /// impl Reconciling {
    ///     fn reconcile(&mut self, event: &AnyEvent, ctx: &mut Ctx) -> HandlerResult {
    ///         tracing::debug!("reconciling after {}", event.name());
    ///         let _config = ctx.model().config()?;
    ///         Ok(())
    ///     }
    /// }
    /// ```
    pub fn observe_every<F>(&mut self, handler: F) -> Result<&mut Self, FrameworkError>
    where
        F: Fn(&mut C, &AnyEvent, &mut Ctx<'_>) -> HandlerResult + 'static,
    {
        let key = self.observer_key::<F>(EVERY_EVENT, None)?;
        let call = move |charm: &mut C, event: &str, snapshot: &Value, ctx: &mut Ctx<'_>| {
            let event = AnyEvent::new(event, snapshot.clone());
            handler(charm, &event, ctx).map_err(CallError::Handler)?;
            Ok(Returned {
                defer: false,
                statuses: Vec::new(),
            })
        };
        self.observers.push(Rc::new(Observer {
            event: EVERY_EVENT.to_string(),
            key,
            event_type: None,
            call: Box::new(call),
        }));
        Ok(self)
    }

    fn register<E, R, F>(
        &mut self,
        event: String,
        name: Option<&str>,
        handler: F,
    ) -> Result<&mut Self, FrameworkError>
    where
        E: Event,
        R: HandlerOutcome<E>,
        F: Fn(&mut C, &E, &mut Ctx<'_>) -> HandlerResult<R> + 'static,
    {
        let type_id = std::any::TypeId::of::<E>();
        if self
            .observers
            .iter()
            .any(|o| o.event == event && o.event_type.is_some_and(|t| t != type_id))
        {
            return Err(FrameworkError::EventNameClash { event });
        }
        let key = self.observer_key::<F>(&event, name)?;
        let call = move |charm: &mut C, _: &str, snapshot: &Value, ctx: &mut Ctx<'_>| {
            let event = E::deserialize(snapshot).map_err(CallError::Snapshot)?;
            let returned = handler(charm, &event, ctx).map_err(CallError::Handler)?;
            Ok(returned.into_returned().0)
        };
        self.observers.push(Rc::new(Observer {
            event,
            key,
            event_type: Some(type_id),
            call: Box::new(call),
        }));
        Ok(self)
    }

    pub(crate) fn has_observers(&self, event: &str) -> bool {
        self.observers.iter().any(|o| o.observes(event))
    }

    fn next_handle(&mut self, event: &str) -> String {
        self.state.event_count += 1;
        format!("{}/on/{event}[{}]", self.charm_name, self.state.event_count)
    }

    fn call(
        &mut self,
        charm: &mut C,
        observer: &Observer<C>,
        event: &str,
        handle: &str,
        snapshot: &Value,
        reemitted: bool,
    ) -> Result<Returned, DispatchError> {
        let mut ctx = Ctx::new(&self.model, handle);
        let result = (observer.call)(charm, event, snapshot, &mut ctx);
        let emitted = std::mem::take(&mut ctx.emitted);
        let returned = match result {
            Ok(returned) => returned,
            Err(CallError::Snapshot(source)) if reemitted => {
                tracing::warn!(
                    "deferred {} for {} cannot be restored ({}); kept in the queue",
                    handle,
                    observer.key.get(),
                    crate::redact::serde_reason(&source.to_string())
                );
                return Ok(Returned {
                    defer: true,
                    statuses: Vec::new(),
                });
            }
            Err(CallError::Snapshot(source)) => {
                // serde quotes values; an event's data may be remote data.
                let reason = format!(
                    "the event's data does not fit its type: {}",
                    crate::redact::serde_reason(&source.to_string())
                );
                return Err(DispatchError::Handler {
                    handle: handle.to_string(),
                    observer: observer.key.get().to_string(),
                    source: reason.into(),
                });
            }
            Err(CallError::Handler(source)) => {
                return Err(DispatchError::Handler {
                    handle: handle.to_string(),
                    observer: observer.key.get().to_string(),
                    source,
                });
            }
        };
        self.emitted.push(EmittedEvent {
            handle: handle.to_string(),
            event: event.to_string(),
            observer: observer.key.get().to_string(),
            reemitted,
            deferred: returned.defer,
        });
        if !emitted.is_empty() {
            if self.depth >= MAX_EMIT_DEPTH {
                return Err(FrameworkError::EmitTooDeep {
                    event: emitted[0].0.clone(),
                    limit: MAX_EMIT_DEPTH,
                }
                .into());
            }
            self.depth += 1;
            for (event, snapshot) in emitted {
                let result = self.emit(charm, &event, snapshot);
                if result.is_err() {
                    self.depth -= 1;
                }
                result?;
            }
            self.depth -= 1;
        }
        Ok(returned)
    }

    /// Emits a new event to all its observers, in registration order.
    pub(crate) fn emit(
        &mut self,
        charm: &mut C,
        event: &str,
        snapshot: Value,
    ) -> Result<Vec<Status>, DispatchError> {
        let observers: Vec<_> = self
            .observers
            .iter()
            .filter(|o| o.observes(event))
            .cloned()
            .collect();
        if observers.is_empty() {
            return Ok(Vec::new());
        }
        let handle = self.next_handle(event);
        // Collect-status runs on every dispatch: at DEBUG it would be one
        // more `juju-log` process per hook, for a line that says nothing
        // (Python ops logs only the Juju event, too).
        if matches!(event, "collect_unit_status" | "collect_app_status") {
            tracing::trace!("emitting {handle}");
        } else {
            tracing::debug!("emitting {handle}");
        }
        let mut statuses = Vec::new();
        for observer in observers {
            if self.is_deferred(observer.key.get(), event, &snapshot) {
                // Python ops' `_event_is_in_storage`: an identical event is
                // already waiting for this observer (and was re-emitted to it
                // in this dispatch); it is not called twice.
                tracing::debug!(
                    "skipping {handle} for {}: an identical event is already deferred",
                    observer.key.get()
                );
                continue;
            }
            let returned = self.call(charm, &observer, event, &handle, &snapshot, false)?;
            statuses.extend(returned.statuses);
            if returned.defer {
                self.queue(Notice {
                    handle: handle.clone(),
                    observer: observer.key.get().to_string(),
                    event: event.to_string(),
                    snapshot: snapshot.clone(),
                })?;
            }
        }
        Ok(statuses)
    }

    fn is_deferred(&self, observer: &str, event: &str, snapshot: &Value) -> bool {
        self.state
            .notices
            .iter()
            .any(|n| n.observer == observer && n.event == event && &n.snapshot == snapshot)
    }

    fn queue(&mut self, notice: Notice) -> Result<(), FrameworkError> {
        if self.is_deferred(&notice.observer, &notice.event, &notice.snapshot) {
            tracing::debug!(
                "{} for {} is already deferred; not queued twice",
                notice.event,
                notice.observer
            );
        } else if self.state.notices.len() >= MAX_NOTICES {
            return Err(FrameworkError::TooManyNotices {
                event: notice.event,
                observer: notice.observer,
                limit: MAX_NOTICES,
            });
        } else {
            self.state.notices.push(notice);
        }
        Ok(())
    }

    /// Hands every deferred notice back to the observer that deferred it, in
    /// queue order; a notice deferred again keeps its place.
    pub(crate) fn reemit_deferred(&mut self, charm: &mut C) -> Result<(), DispatchError> {
        let pending = std::mem::take(&mut self.state.notices);
        let mut kept = Vec::with_capacity(pending.len());
        for mut notice in pending {
            let observer = self
                .observers
                .iter()
                .find(|o| o.event == notice.event && o.key.get() == notice.observer)
                .cloned();
            let Some(observer) = observer else {
                tracing::warn!(
                    "dropping deferred {}: its observer {} no longer exists",
                    notice.handle,
                    notice.observer
                );
                continue;
            };
            let returned = self.call(
                charm,
                &observer,
                &notice.event,
                &notice.handle,
                &notice.snapshot,
                true,
            )?;
            if returned.defer {
                // A notice saved under the old form is kept under the new.
                notice.observer = observer.key.get().to_string();
                kept.push(notice);
            }
        }
        // Deferrals of custom events emitted while re-emitting come after the old ones.
        kept.append(&mut self.state.notices);
        if kept.len() > MAX_NOTICES {
            let last = &kept[kept.len() - 1];
            return Err(FrameworkError::TooManyNotices {
                event: last.event.clone(),
                observer: last.observer.clone(),
                limit: MAX_NOTICES,
            }
            .into());
        }
        self.state.notices = kept;
        Ok(())
    }

    /// The state to commit: stored values collected, queue and counter as now.
    pub(crate) fn persisted(&self) -> Result<PersistedState, FrameworkError> {
        let mut state = self.state.clone();
        for slot in &self.stored {
            let value = (slot.snapshot)().map_err(|source| FrameworkError::Serialize {
                what: format!("stored state {}", slot.key),
                source,
            })?;
            state.stored.insert(slot.key.clone(), value);
        }
        Ok(state)
    }

    pub(crate) fn emitted(&self) -> &[EmittedEvent] {
        &self.emitted
    }

    pub(crate) fn notices(&self) -> &[Notice] {
        &self.state.notices
    }
}

/// `saved` laid over `base`, field by field at the top level: a field only
/// `base` has keeps its value; every saved field wins whole. (Not deeper: a
/// map field's default entries must not come back after the charm removed
/// them. A nested struct that gains fields wants `#[serde(default)]`.)
fn merge_over(base: &mut Value, saved: &Value) {
    match (base, saved) {
        (Value::Object(base), Value::Object(saved)) => {
            for (key, value) in saved {
                base.insert(key.clone(), value.clone());
            }
        }
        (base, saved) => *base = saved.clone(),
    }
}

/// The charm type's own name (`my_charm::MyCharm<T>` → `MyCharm`): the
/// root of handle paths and of observer keys.
fn charm_type_name<C>() -> String {
    let full = type_name::<C>();
    key::last_segment(full.split('<').next().unwrap_or(full)).to_string()
}

/// The key `handler` observes under when it is registered without a name
/// (`MyCharm::on_start`): what a deferred notice of it records. Tests that
/// put a deferred notice in place use it.
///
/// ```
/// use ops::{Ctx, HandlerResult};
/// use ops::events::Start;
/// struct MyCharm;
/// impl MyCharm {
///     fn on_start(&mut self, _: &Start, _: &mut Ctx) -> HandlerResult { Ok(()) }
/// }
/// assert_eq!(ops::framework::observer_key(MyCharm::on_start), "MyCharm::on_start");
/// ```
pub fn observer_key<C: 'static, E, R, F>(_handler: F) -> String
where
    F: Fn(&mut C, &E, &mut Ctx<'_>) -> HandlerResult<R>,
{
    ObserverKey::of_function(charm_type_name::<C>().into(), type_name::<F>())
        .get()
        .to_string()
}

fn scoped_name(scope: &str, kind: &str) -> String {
    let mut name = String::with_capacity(scope.len() + 1 + kind.len());
    // Whole runs between dashes, not a character at a time: every relation
    // observer of a charm is named at every dispatch.
    for (i, part) in scope.split('-').enumerate() {
        if i > 0 {
            name.push('_');
        }
        name.push_str(part);
    }
    name.push('_');
    name.push_str(kind);
    name
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scoped_names_are_identifiers() {
        assert_eq!(
            scoped_name("pgb-peers", "relation_changed"),
            "pgb_peers_relation_changed"
        );
        assert_eq!(
            scoped_name("-a--b-", "relation_joined"),
            "_a__b__relation_joined"
        );
        assert_eq!(scoped_name("db", "relation_broken"), "db_relation_broken");
    }
}
