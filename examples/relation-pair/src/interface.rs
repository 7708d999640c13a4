//! The `pair_db` interface: what each side puts in its application databag.
//!
//! Fields are keys (kebab-case); strings are stored as they are, other
//! values as JSON text (`port: "5432"`, `read-only: "true"`).

use serde::{Deserialize, Serialize};

/// The requirer's application databag.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct Request {
    /// The database to use.
    pub database: String,
    /// Whether read-only access is enough.
    #[serde(default)]
    pub read_only: bool,
}

/// The provider's application databag.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct Grant {
    /// The database granted (the one requested).
    pub database: String,
    /// Where to connect.
    pub host: String,
    /// The port.
    pub port: u16,
    /// Whether access is read-only.
    pub read_only: bool,
}

/// What one side made of the other side's application databag.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Remote<T> {
    /// Nothing there yet.
    Empty,
    /// A value that fits.
    Valid(T),
    /// The key whose value does not fit (or is missing).
    Invalid {
        /// The key.
        key: String,
    },
}

/// Reads a remote application databag as `T`.
pub fn read_remote<T: serde::de::DeserializeOwned>(
    model: &ops::Model,
    relation: &ops::Relation,
) -> Result<Remote<T>, ops::ModelError> {
    let bag = model.remote_app_data(relation)?;
    if bag.get_all()?.is_empty() {
        return Ok(Remote::Empty);
    }
    match bag.load::<T>() {
        Ok(value) => Ok(Remote::Valid(value)),
        Err(ops::ModelError::DatabagField { key, .. }) => Ok(Remote::Invalid { key }),
        Err(other) => Err(other),
    }
}
