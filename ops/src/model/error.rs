//! What goes wrong using the model: one enum, [`ModelError`].

use crate::backend::{BackendError, PortProtocol, StatusName};

/// A model operation failed.
///
/// Rule violations the model catches itself (databag access, leadership,
/// undeclared names, malformed secret content or action results) are refused
/// before any hook tool runs; a hook tool's own failure is
/// [`ModelError::Backend`], which says what the model was doing.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ModelError {
    /// A hook tool failed.
    #[error("{operation}: {source}")]
    Backend {
        /// What the model was doing, e.g. `reading the databag of unit db/0 on db:3`.
        operation: String,
        /// The hook tool's error.
        #[source]
        source: BackendError,
    },
    /// A metric or label given to [`Model::add_metrics`](crate::Model::add_metrics)
    /// does not fit `add-metric`'s rules; nothing was sent.
    #[error("metric or label {key:?}: {reason}")]
    InvalidMetric {
        /// The metric key or label name.
        key: String,
        /// The rule it broke.
        reason: &'static str,
    },
    /// `JUJU_VERSION` is missing or not a Juju version.
    #[error("JUJU_VERSION: {source}")]
    JujuVersion {
        /// What did not fit.
        #[source]
        source: crate::JujuVersionError,
    },
    /// The endpoint is not in the charm's metadata.
    #[error("relation endpoint {endpoint:?} is not declared in the charm's metadata")]
    UnknownEndpoint {
        /// The endpoint asked for.
        endpoint: String,
    },
    /// `relation()` was asked for the single relation of an endpoint that has several.
    #[error("endpoint {endpoint:?} has {count} relations; use relations() to get them all")]
    TooManyRelations {
        /// The endpoint.
        endpoint: String,
        /// How many relations it has.
        count: usize,
    },
    /// The remote application of a relation is not known (the relation is
    /// gone, or no remote unit has joined and Juju does not name the app).
    #[error("relation {relation} has no known remote application")]
    NoRemoteApp {
        /// The relation, `name:id`.
        relation: String,
    },
    /// A databag operation Juju does not allow this unit.
    #[error(
        "unit {unit} may not {operation} the databag of {bag} (own unit: read and write; \
         own application: write on the leader, read on the leader or on a peer relation; \
         remote: read only)"
    )]
    AccessDenied {
        /// Which bag, e.g. `application pgbouncer-k8s on pgb-peers:2`.
        bag: String,
        /// The unit that tried.
        unit: String,
        /// `read` or `write`.
        operation: &'static str,
    },
    /// Only the leader may do this.
    #[error("only the leader may {operation}")]
    NotLeader {
        /// What was attempted, e.g. `set the application status`.
        operation: String,
    },
    /// A databag value does not fit the typed field (or a value cannot be stored).
    #[error("databag of {bag}, key {key:?}: {reason}")]
    DatabagField {
        /// Which bag.
        bag: String,
        /// The key; empty when the error is about the whole bag.
        key: String,
        /// What is wrong.
        reason: String,
    },
    /// A config option does not have the type asked for.
    #[error("config option {key:?} is {value}, not {expected}")]
    ConfigType {
        /// The option.
        key: String,
        /// The type asked for, e.g. `an integer`.
        expected: &'static str,
        /// The kind of value it has (`a string`, `a number`, ...): never
        /// the value, which may be a credential.
        value: String,
    },
    /// The config does not fit the typed struct.
    #[error("config does not fit {type_name}: option {key:?}: {reason}")]
    ConfigParse {
        /// The Rust type.
        type_name: &'static str,
        /// The option that did not fit (a missing one included); empty if none is to blame.
        key: String,
        /// serde's message.
        reason: String,
    },
    /// The container is not in the charm's metadata.
    #[error("container {name:?} is not declared in the charm's metadata")]
    UnknownContainer {
        /// The container asked for.
        name: String,
    },
    /// The storage is not in the charm's metadata.
    #[error("storage {name:?} is not declared in the charm's metadata")]
    UnknownStorage {
        /// The storage asked for.
        name: String,
    },
    /// The resource is not in the charm's metadata.
    #[error("resource {name:?} is not declared in the charm's metadata")]
    UnknownResource {
        /// The resource asked for.
        name: String,
    },
    /// A status a charm may not set (`error` and `unknown` are Juju's).
    #[error("a charm cannot set status {status:?}: use active, blocked, maintenance or waiting")]
    InvalidStatus {
        /// The status given.
        status: StatusName,
    },
    /// A port `open-port` or `close-port` would refuse.
    #[error("invalid port {protocol:?} {port:?}: {reason}")]
    InvalidPort {
        /// The protocol.
        protocol: PortProtocol,
        /// The port number given.
        port: Option<u16>,
        /// Why it is refused.
        reason: &'static str,
    },
    /// A secret content key Juju would refuse.
    #[error(
        "invalid secret content key {key:?}: keys are lowercase letters, digits and single \
         dashes, start with a letter, end with a letter or digit, and have at least 3 \
         letters or digits"
    )]
    InvalidSecretKey {
        /// The key.
        key: String,
    },
    /// A secret content value is empty.
    #[error("secret content key {key:?} has an empty value")]
    EmptySecretValue {
        /// The key whose value is empty.
        key: String,
    },
    /// A secret must hold at least one key.
    #[error("secret content must not be empty")]
    EmptySecretContent,
    /// A secret is looked up by id or label, and neither was given.
    #[error("a secret needs an id or a label")]
    SecretWithoutId,
    /// Action parameters do not fit the typed struct.
    #[error("action parameters do not fit {type_name}: parameter {key:?}: {reason}")]
    ActionParams {
        /// The Rust type.
        type_name: &'static str,
        /// The parameter that did not fit (a missing one included); empty if none is to blame.
        key: String,
        /// serde's message.
        reason: String,
    },
    /// An action result key Juju would refuse.
    #[error("invalid action result key {key:?}: {reason}")]
    InvalidActionResultKey {
        /// The key, dotted for nested maps.
        key: String,
        /// Why it is refused.
        reason: &'static str,
    },
}

impl ModelError {
    /// The hook tool's error, if a hook tool failed.
    ///
    /// ```
    /// # use ops::model::ModelError;
    /// # use ops::backend::BackendError;
    /// # fn demo(err: &ModelError) -> bool {
    /// matches!(err.backend_error(), Some(BackendError::RelationNotFound { .. }))
    /// # }
    /// ```
    pub fn backend_error(&self) -> Option<&BackendError> {
        match self {
            ModelError::Backend { source, .. } => Some(source),
            _ => None,
        }
    }

    /// Whether Juju said the secret does not exist (Python ops'
    /// `SecretNotFoundError`): from [`Model::get_secret`](crate::Model::get_secret)
    /// for a label or id nobody created, or one since removed.
    ///
    /// ```no_run
    /// # fn demo(model: &ops::Model) -> Result<(), ops::ModelError> {
    /// match model.get_secret(None, Some("tls-key")) {
    ///     Ok(secret) => { /* use secret.get_content(false)? */ }
    ///     Err(e) if e.is_secret_not_found() => { /* make it: model.add_secret(..) */ }
    ///     Err(e) => return Err(e),
    /// }
    /// # Ok(()) }
    /// ```
    pub fn is_secret_not_found(&self) -> bool {
        matches!(
            self.backend_error(),
            Some(BackendError::SecretNotFound { .. })
        )
    }

    /// Wraps a hook tool's error with what the model was doing (for `map_err`).
    pub(crate) fn backend(operation: impl Into<String>) -> impl FnOnce(BackendError) -> Self {
        let operation = operation.into();
        move |source| ModelError::Backend { operation, source }
    }
}
