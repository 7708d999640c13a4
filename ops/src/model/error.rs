//! What goes wrong using the model.

use crate::backend::BackendError;

/// A model operation failed.
#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    /// A hook tool failed.
    #[error("{operation}: {source}")]
    Backend {
        /// What the model was doing.
        operation: String,
        /// The hook tool's error.
        #[source]
        source: BackendError,
    },
    /// The endpoint is not in the charm's metadata.
    #[error("relation endpoint {endpoint:?} is not declared in the charm's metadata")]
    UnknownEndpoint {
        /// The endpoint asked for.
        endpoint: String,
    },
    /// `relation()` was asked for a single relation, and there are several.
    #[error("endpoint {endpoint:?} has {count} relations; use relations() to get them all")]
    TooManyRelations {
        /// The endpoint.
        endpoint: String,
        /// How many there are.
        count: usize,
    },
    /// A databag operation the unit is not allowed.
    #[error("unit {unit} may not {operation} the {bag} databag")]
    AccessDenied {
        /// Which bag, e.g. `app pgbouncer-k8s in pgb-peers:2`.
        bag: String,
        /// The unit that tried.
        unit: String,
        /// `read` or `write`.
        operation: &'static str,
    },
    /// Only the leader may do this.
    #[error("only the leader may {operation}")]
    NotLeader {
        /// What was attempted.
        operation: String,
    },
    /// A databag value does not fit the typed field.
    #[error("databag {bag}, key {key:?}: {reason}")]
    DatabagField {
        /// Which bag.
        bag: String,
        /// The key.
        key: String,
        /// What is wrong.
        reason: String,
    },
    /// A config option does not have the type asked for.
    #[error("config option {key:?} is {value}, not {expected}")]
    ConfigType {
        /// The option.
        key: String,
        /// The type asked for.
        expected: &'static str,
        /// The value it has.
        value: String,
    },
    /// The config does not fit the typed struct.
    #[error("config does not fit {type_name}: {reason}")]
    ConfigParse {
        /// The Rust type.
        type_name: &'static str,
        /// serde's message, naming the option.
        reason: String,
    },
    /// The container is not in the charm's metadata.
    #[error("container {name:?} is not declared in the charm's metadata")]
    UnknownContainer {
        /// The container asked for.
        name: String,
    },
    /// A secret content key Juju would refuse.
    #[error(
        "invalid secret content key {key:?}: keys are 3 or more lowercase letters, digits and dashes, starting with a letter"
    )]
    InvalidSecretKey {
        /// The key.
        key: String,
    },
    /// A secret needs an id or a label.
    #[error("a secret needs an id or a label")]
    SecretWithoutId,
    /// Action parameters do not fit the typed struct.
    #[error("action parameters do not fit {type_name}: {reason}")]
    ActionParams {
        /// The Rust type.
        type_name: &'static str,
        /// serde's message.
        reason: String,
    },
}

impl ModelError {
    pub(crate) fn backend(operation: impl Into<String>) -> impl FnOnce(BackendError) -> Self {
        let operation = operation.into();
        move |source| ModelError::Backend { operation, source }
    }
}
