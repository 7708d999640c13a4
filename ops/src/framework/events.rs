//! Typed events: one Rust type per Juju event, and the traits that tie a type
//! to the Juju event names it stands for.
//!
//! An event value is plain data (relation, unit, secret id, ...) that survives
//! a round trip through serde JSON: that is how a deferred event is stored and
//! handed back to its observer in a later dispatch.

use std::fmt::Debug;
use std::ops::Deref;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::backend::RelationRef;

/// What an event is attached to, which decides the Juju event name it has.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventScope {
    /// A charm-wide event (`install`, `config_changed`, a custom event).
    Charm,
    /// A relation endpoint's event: `<endpoint>_relation_changed`.
    Relation,
    /// A workload container's event: `<container>_pebble_ready`.
    Container,
    /// A storage's event: `<storage>_storage_attached`.
    Storage,
}

/// An event type: its name within its scope, and serde for deferral.
///
/// Implemented by ops for every Juju event; charms and libraries implement
/// [`CustomEvent`] instead.
pub trait Event: Serialize + DeserializeOwned + Debug + 'static {
    /// The event's kind: the whole name for charm-wide events (`config_changed`),
    /// the suffix after the endpoint, container or storage name for the others
    /// (`relation_changed`, `pebble_ready`, `storage_attached`).
    const KIND: &'static str;
    /// What the event is attached to.
    const SCOPE: EventScope;
    /// The namespace of a custom event (empty for Juju's events and the
    /// charm's own): the event is known as `<namespace>.<kind>`.
    const NAMESPACE: &'static str = "";
}

/// The name an event is registered and queued under: its kind, prefixed
/// with its namespace when it has one (`pg_client.database_ready`).
pub(crate) fn event_key<E: Event>() -> String {
    if E::NAMESPACE.is_empty() {
        E::KIND.to_string()
    } else {
        format!("{}.{}", E::NAMESPACE, E::KIND)
    }
}

/// Marks the events whose handlers may return [`Outcome::Defer`](super::Outcome::Defer).
///
/// Juju events that cannot be deferred (actions, `stop`, `remove`,
/// `secret_rotate`, `secret_expired`, and the framework's own `pre_commit`,
/// `commit`, collect-status) do not implement it, so a handler of theirs that
/// tries to defer does not compile:
///
/// ```compile_fail
/// use ops::events::Stop;
/// use ops::{Charm, Ctx, Framework, HandlerError, HandlerResult, Outcome};
///
/// struct C;
/// impl Charm for C {
///     fn new(fw: &mut Framework<Self>) -> Result<Self, HandlerError> {
///         fw.observe(C::on_stop)?; // error: `Stop` cannot be deferred, and is not a custom event
///         Ok(C)
///     }
/// }
/// impl C {
///     fn on_stop(&mut self, _: &Stop, _: &mut Ctx) -> HandlerResult<Outcome> {
///         Ok(Outcome::Defer)
///     }
/// }
/// ```
///
/// The same handler returning `HandlerResult` (no outcome) compiles:
///
/// ```
/// use ops::events::Stop;
/// use ops::{Charm, Ctx, Framework, HandlerError, HandlerResult};
///
/// struct C;
/// impl Charm for C {
///     fn new(fw: &mut Framework<Self>) -> Result<Self, HandlerError> {
///         fw.observe(C::on_stop)?;
///         Ok(C)
///     }
/// }
/// impl C {
///     fn on_stop(&mut self, _: &Stop, _: &mut Ctx) -> HandlerResult {
///         Ok(())
///     }
/// }
/// ```
pub trait Deferrable: Event {}

/// A charm-wide event, observed with [`Framework::observe`](super::Framework::observe).
pub trait CharmEvent: Event {}
/// A relation event, observed with [`Framework::observe_relation`](super::Framework::observe_relation).
pub trait RelationEvent: Event {}
/// A workload container event, observed with [`Framework::observe_container`](super::Framework::observe_container).
pub trait ContainerEvent: Event {}
/// A storage event, observed with [`Framework::observe_storage`](super::Framework::observe_storage).
pub trait StorageEvent: Event {}

/// An event a charm or library defines and emits itself.
///
/// ```
/// use serde::{Deserialize, Serialize};
///
/// #[derive(Debug, Serialize, Deserialize)]
/// struct DatabaseReady {
///     endpoint: String,
/// }
///
/// impl ops::CustomEvent for DatabaseReady {
///     const NAME: &'static str = "database_ready";
/// }
/// ```
///
/// Custom events are charm-wide and deferrable; a handler emits one with
/// [`Ctx::emit`](super::Ctx::emit) and its observers run as soon as the
/// emitting handler returns (unlike Python ops, where `emit` calls the
/// observers before it returns). A library sets [`NAMESPACE`](Self::NAMESPACE)
/// so that two libraries can both define a `database_ready`; registering two
/// different types under one name is [`FrameworkError::EventNameClash`](crate::FrameworkError::EventNameClash).
/// Custom events emitted by observers of custom events nest at most
/// [`MAX_EMIT_DEPTH`](crate::framework::MAX_EMIT_DEPTH) deep.
// rustc reports a handler of a Juju event that cannot be deferred, but
// returns `Outcome`, as this trait missing (the one way a type of Juju's
// events could still be `Deferrable` is the blanket impl below), and a type
// that is no event at all likewise: the message speaks to both.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be deferred, and is not a custom event",
    label = "a handler of `{Self}` may not return `Outcome` (defer), or `{Self}` is not an event",
    note = "Juju events that cannot be deferred (`stop`, `remove`, `collect-metrics`, `secret-rotate`, `secret-expired`, collect-status, `pre-commit`, `commit`) have handlers that return `HandlerResult` (no `Outcome`)",
    note = "a type of your own becomes an event by implementing `ops::CustomEvent`"
)]
pub trait CustomEvent: Serialize + DeserializeOwned + Debug + 'static {
    /// The event name, unique in its namespace (`database_ready`).
    const NAME: &'static str;
    /// The library's namespace (`pg_client`); empty (the default) for the
    /// charm's own events. Keep it across versions: deferred notices name it.
    const NAMESPACE: &'static str = "";
}

impl<T: CustomEvent> Event for T {
    const KIND: &'static str = T::NAME;
    const SCOPE: EventScope = EventScope::Charm;
    const NAMESPACE: &'static str = <T as CustomEvent>::NAMESPACE;
}
impl<T: CustomEvent> Deferrable for T {}
impl<T: CustomEvent> CharmEvent for T {}

macro_rules! unit_event {
    ($(#[$doc:meta])* $name:ident, $kind:literal, deferrable) => {
        unit_event!($(#[$doc])* $name, $kind);
        impl Deferrable for $name {}
    };
    ($(#[$doc:meta])* $name:ident, $kind:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
        pub struct $name {}
        impl Event for $name {
            const KIND: &'static str = $kind;
            const SCOPE: EventScope = EventScope::Charm;
        }
        impl CharmEvent for $name {}
    };
}

unit_event!(
    /// `install`: the first hook a unit runs.
    Install, "install", deferrable);
unit_event!(
    /// `start`: after install and the first config-changed.
    Start, "start", deferrable);
unit_event!(
    /// `stop`: the unit is going away (not deferrable).
    Stop, "stop");
unit_event!(
    /// `remove`: the last hook of a unit (not deferrable).
    Remove, "remove");
unit_event!(
    /// `update_status`: Juju's periodic poke.
    UpdateStatus, "update_status", deferrable);
unit_event!(
    /// `config_changed`: config may have changed (also after install and upgrade).
    ConfigChanged, "config_changed", deferrable);
unit_event!(
    /// `upgrade_charm`: a new charm revision was deployed.
    UpgradeCharm, "upgrade_charm", deferrable);
unit_event!(
    /// `leader_elected`: this unit became the leader.
    LeaderElected, "leader_elected", deferrable);
unit_event!(
    /// `leader_settings_changed`: a follower's view of leader settings changed.
    LeaderSettingsChanged, "leader_settings_changed", deferrable);
unit_event!(
    /// `pre_series_upgrade`
    PreSeriesUpgrade, "pre_series_upgrade", deferrable);
unit_event!(
    /// `post_series_upgrade`
    PostSeriesUpgrade, "post_series_upgrade", deferrable);
unit_event!(
    /// `collect_metrics`
    CollectMetrics, "collect_metrics");
unit_event!(
    /// The framework's `pre_commit`: after the event and status, before state is saved.
    PreCommit, "pre_commit");
unit_event!(
    /// The framework's `commit`: right before state is saved.
    Commit, "commit");
unit_event!(
    /// Collect the unit's status: handlers return the statuses they see; the
    /// highest-priority one is set at the end of every dispatch.
    CollectUnitStatus, "collect_unit_status");
unit_event!(
    /// Collect the application's status (on the leader only).
    CollectAppStatus, "collect_app_status");

/// Marks the two collect-status events, whose handlers return statuses.
pub trait CollectsStatus: Event {}
impl CollectsStatus for CollectUnitStatus {}
impl CollectsStatus for CollectAppStatus {}

/// What every relation event carries.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RelationEventData {
    /// The relation (`JUJU_RELATION_ID`).
    pub relation: RelationRef,
    /// The remote application (`JUJU_REMOTE_APP`), if Juju gave one.
    pub app: Option<String>,
    /// The remote unit (`JUJU_REMOTE_UNIT`), for joined, changed and departed.
    pub unit: Option<String>,
    /// The unit that is leaving (`JUJU_DEPARTING_UNIT`), for departed.
    pub departing_unit: Option<String>,
}

macro_rules! relation_event {
    ($(#[$doc:meta])* $name:ident, $kind:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub RelationEventData);
        impl Deref for $name {
            type Target = RelationEventData;
            fn deref(&self) -> &RelationEventData {
                &self.0
            }
        }
        impl Event for $name {
            const KIND: &'static str = $kind;
            const SCOPE: EventScope = EventScope::Relation;
        }
        impl RelationEvent for $name {}
        impl Deferrable for $name {}
    };
}

relation_event!(
    /// `<endpoint>_relation_created`: the relation exists; no remote data yet.
    RelationCreated, "relation_created");
relation_event!(
    /// `<endpoint>_relation_joined`: a remote unit joined.
    RelationJoined, "relation_joined");
relation_event!(
    /// `<endpoint>_relation_changed`: remote data may have changed.
    RelationChanged, "relation_changed");
relation_event!(
    /// `<endpoint>_relation_departed`: a remote unit left.
    RelationDeparted, "relation_departed");
relation_event!(
    /// `<endpoint>_relation_broken`: the relation is going away; it is no
    /// longer among the model's relations.
    RelationBroken, "relation_broken");

/// What every workload (Pebble) event carries.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorkloadEventData {
    /// The container (`JUJU_WORKLOAD_NAME`).
    pub container: String,
}

/// `<container>_pebble_ready`: Pebble in the container answers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct PebbleReady(pub WorkloadEventData);
impl Deref for PebbleReady {
    type Target = WorkloadEventData;
    fn deref(&self) -> &WorkloadEventData {
        &self.0
    }
}
impl Event for PebbleReady {
    const KIND: &'static str = "pebble_ready";
    const SCOPE: EventScope = EventScope::Container;
}
impl ContainerEvent for PebbleReady {}
impl Deferrable for PebbleReady {}

/// `<container>_pebble_custom_notice`: a custom Pebble notice was recorded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PebbleCustomNotice {
    /// The container.
    pub container: String,
    /// `JUJU_NOTICE_ID`
    pub notice_id: String,
    /// `JUJU_NOTICE_TYPE`
    pub notice_type: String,
    /// `JUJU_NOTICE_KEY`
    pub notice_key: String,
}
impl Event for PebbleCustomNotice {
    const KIND: &'static str = "pebble_custom_notice";
    const SCOPE: EventScope = EventScope::Container;
}
impl ContainerEvent for PebbleCustomNotice {}
impl Deferrable for PebbleCustomNotice {}

impl PebbleCustomNotice {
    /// The notice as the container's Pebble holds it now (`GET
    /// /v1/notices/<id>`): its last data, occurrences, times. Python's
    /// `event.notice`, fetched when asked for.
    ///
    /// ```no_run
    /// # use ops::events::PebbleCustomNotice;
    /// # fn on_notice(event: &PebbleCustomNotice, ctx: &mut ops::Ctx) -> ops::HandlerResult {
    /// let notice = event.notice(ctx.model())?;
    /// let host = notice.last_data.get("host").cloned().unwrap_or_default();
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// [`WorkloadLookupError`]: the container is not declared, or Pebble
    /// could not be reached or no longer has the notice.
    pub fn notice(
        &self,
        model: &crate::Model,
    ) -> Result<crate::pebble::PebbleNotice, WorkloadLookupError> {
        Ok(model
            .container(self.container.as_str())?
            .get_notice(&self.notice_id)?)
    }
}

/// Why [`PebbleCustomNotice::notice`] or [`CheckEventData::info`] could
/// not fetch what the event is about from the container's Pebble.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum WorkloadLookupError {
    /// The container is not in the metadata.
    #[error(transparent)]
    Model(#[from] crate::ModelError),
    /// Pebble could not be reached, or refused.
    #[error(transparent)]
    Pebble(#[from] crate::pebble::PebbleError),
    /// The check is no longer in the container's plan.
    #[error("check {check:?} is not in container {container:?}'s plan")]
    CheckGone {
        /// The container.
        container: String,
        /// The check.
        check: String,
    },
}

/// What the Pebble check events carry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckEventData {
    /// The container.
    pub container: String,
    /// `JUJU_PEBBLE_CHECK_NAME`
    pub check: String,
}

impl CheckEventData {
    /// The check's status as the container's Pebble reports it now (`GET
    /// /v1/checks?names=<check>`): level, status, failures, threshold.
    /// Python's `event.info`, fetched when asked for.
    ///
    /// ```no_run
    /// # use ops::events::PebbleCheckFailed;
    /// # fn on_failed(event: &PebbleCheckFailed, ctx: &mut ops::Ctx) -> ops::HandlerResult {
    /// let info = event.info(ctx.model())?;
    /// if info.failures >= info.threshold {
    ///     ctx.model().set_unit_status(ops::Status::blocked(format!("{} is down", info.name)))?;
    /// }
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// [`WorkloadLookupError`]: the container is not declared, Pebble could
    /// not be reached, or the check is no longer in its plan
    /// ([`WorkloadLookupError::CheckGone`]).
    pub fn info(
        &self,
        model: &crate::Model,
    ) -> Result<crate::pebble::CheckInfo, WorkloadLookupError> {
        let container = model.container(self.container.as_str())?;
        container
            .get_checks(None, &[&self.check])?
            .into_iter()
            .find(|c| c.name == self.check)
            .ok_or_else(|| WorkloadLookupError::CheckGone {
                container: self.container.clone(),
                check: self.check.clone(),
            })
    }
}

/// `<container>_pebble_check_failed`
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct PebbleCheckFailed(pub CheckEventData);
impl Deref for PebbleCheckFailed {
    type Target = CheckEventData;
    fn deref(&self) -> &CheckEventData {
        &self.0
    }
}
impl Event for PebbleCheckFailed {
    const KIND: &'static str = "pebble_check_failed";
    const SCOPE: EventScope = EventScope::Container;
}
impl ContainerEvent for PebbleCheckFailed {}
impl Deferrable for PebbleCheckFailed {}

/// `<container>_pebble_check_recovered`
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct PebbleCheckRecovered(pub CheckEventData);
impl Deref for PebbleCheckRecovered {
    type Target = CheckEventData;
    fn deref(&self) -> &CheckEventData {
        &self.0
    }
}
impl Event for PebbleCheckRecovered {
    const KIND: &'static str = "pebble_check_recovered";
    const SCOPE: EventScope = EventScope::Container;
}
impl ContainerEvent for PebbleCheckRecovered {}
impl Deferrable for PebbleCheckRecovered {}

/// What every secret event carries.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SecretEventData {
    /// `JUJU_SECRET_ID`
    pub id: String,
    /// `JUJU_SECRET_LABEL`
    pub label: Option<String>,
    /// `JUJU_SECRET_REVISION` (expired and remove only)
    pub revision: Option<u64>,
}

macro_rules! secret_event {
    ($(#[$doc:meta])* $name:ident, $kind:literal $(, $deferrable:ident)?) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub SecretEventData);
        impl Deref for $name {
            type Target = SecretEventData;
            fn deref(&self) -> &SecretEventData {
                &self.0
            }
        }
        impl Event for $name {
            const KIND: &'static str = $kind;
            const SCOPE: EventScope = EventScope::Charm;
        }
        impl CharmEvent for $name {}
        $(impl $deferrable for $name {})?
    };
}

secret_event!(
    /// `secret_changed`: an observed secret has a new revision.
    SecretChanged, "secret_changed", Deferrable);
secret_event!(
    /// `secret_remove`: a revision of an owned secret is no longer tracked.
    SecretRemove, "secret_remove", Deferrable);
secret_event!(
    /// `secret_rotate`: an owned secret is due for rotation (not deferrable).
    SecretRotate, "secret_rotate");
secret_event!(
    /// `secret_expired`: an owned secret revision expired (not deferrable).
    SecretExpired, "secret_expired");

/// What the storage events carry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StorageEventData {
    /// The storage name from metadata.
    pub name: String,
    /// `JUJU_STORAGE_ID`, e.g. `data/0`.
    pub id: String,
}

/// `<storage>_storage_attached`
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct StorageAttached(pub StorageEventData);
impl Deref for StorageAttached {
    type Target = StorageEventData;
    fn deref(&self) -> &StorageEventData {
        &self.0
    }
}
impl Event for StorageAttached {
    const KIND: &'static str = "storage_attached";
    const SCOPE: EventScope = EventScope::Storage;
}
impl StorageEvent for StorageAttached {}
impl Deferrable for StorageAttached {}

/// `<storage>_storage_detaching`
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct StorageDetaching(pub StorageEventData);
impl Deref for StorageDetaching {
    type Target = StorageEventData;
    fn deref(&self) -> &StorageEventData {
        &self.0
    }
}
impl Event for StorageDetaching {
    const KIND: &'static str = "storage_detaching";
    const SCOPE: EventScope = EventScope::Storage;
}
impl StorageEvent for StorageDetaching {}
impl Deferrable for StorageDetaching {}

/// An action run (`actions/<name>`): not deferrable. Results, failure and
/// progress messages go through the model (`Model::action_set_results`, ...).
/// Its `Debug` shows the parameters' names, never their values.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
pub struct ActionEvent {
    /// The action's name (`get-password`).
    pub name: String,
    /// `JUJU_ACTION_UUID`
    pub id: Option<String>,
    /// The parameters (`action-get`).
    pub params: serde_json::Map<String, serde_json::Value>,
}

impl std::fmt::Debug for ActionEvent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ActionEvent")
            .field("name", &self.name)
            .field("id", &self.id)
            .field("param_keys", &self.params.keys().collect::<Vec<_>>())
            .finish()
    }
}

impl ActionEvent {
    /// The parameters as a typed struct; [`ModelError::ActionParams`]
    /// names the parameter that did not fit, never its value.
    ///
    /// [`ModelError::ActionParams`]: crate::model::ModelError::ActionParams
    pub fn params_as<T: DeserializeOwned>(&self) -> Result<T, crate::model::ModelError> {
        crate::model::typed::from_json_map(&self.params).map_err(|e| {
            crate::model::ModelError::ActionParams {
                type_name: std::any::type_name::<T>(),
                key: e.key,
                reason: e.reason,
            }
        })
    }
}

impl Event for ActionEvent {
    const KIND: &'static str = "action";
    const SCOPE: EventScope = EventScope::Charm;
}
