//! Where the framework keeps what must outlive a dispatch: stored state, the
//! deferred-notice queue and the event counter.
//!
//! Two places, behind one trait: a file in the charm directory
//! ([`LocalStateFile`], the default) and Juju's controller-side unit state
//! ([`JujuStateStore`], `state-get`/`state-set`, one key per item). Either
//! way the state is written at commit or not at all, and nothing is written
//! when the notices and stored state are as they were loaded.

mod juju;
mod local;

pub use juju::{
    COUNTER_KEY as JUJU_COUNTER_KEY, JujuStateStore, LEGACY_STATE_KEY as JUJU_LEGACY_STATE_KEY,
    MAX_VALUE_BYTES as JUJU_MAX_VALUE_BYTES, NOTICES_KEY as JUJU_NOTICES_KEY,
    STORED_PREFIX as JUJU_STORED_PREFIX, decode_unit_state,
};
pub use local::{LocalStateFile, STATE_FILE_NAME};

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::backend::BackendError;

/// The format version written today; older versions are migrated on load.
pub const STATE_FORMAT: u32 = 1;

/// The most deferred notices the queue holds. Deferring one more fails the
/// dispatch with [`FrameworkError::TooManyNotices`](crate::FrameworkError::TooManyNotices)
/// (nothing is dropped, nothing committed), naming the event and observer.
pub const MAX_NOTICES: usize = 256;

/// A deferred event waiting for the next dispatch.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
pub struct Notice {
    /// The event's handle path, e.g. `MyCharm/on/config_changed[6]`.
    pub handle: String,
    /// The observer that deferred it (its stable key).
    pub observer: String,
    /// The full event name (`pgb_peers_relation_changed`).
    pub event: String,
    /// The event, as serde JSON.
    pub snapshot: serde_json::Value,
}

/// Everything the framework persists, saved atomically at commit.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
pub struct PersistedState {
    /// [`STATE_FORMAT`] at the time of writing.
    pub format: u32,
    /// How many events have been given a handle; never goes back.
    pub event_count: u64,
    /// Deferred events, in queue order.
    pub notices: Vec<Notice>,
    /// Stored state by key (`MyCharm/StoredState[name]`).
    pub stored: BTreeMap<String, serde_json::Value>,
}

/// The snapshot's keys only: a custom event may carry anything.
impl std::fmt::Debug for Notice {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let keys: Vec<&str> = match &self.snapshot {
            serde_json::Value::Object(map) => map.keys().map(String::as_str).collect(),
            _ => Vec::new(),
        };
        f.debug_struct("Notice")
            .field("handle", &self.handle)
            .field("observer", &self.observer)
            .field("event", &self.event)
            .field("snapshot_keys", &keys)
            .finish()
    }
}

/// Stored-state keys only, never their values (which may be credentials).
impl std::fmt::Debug for PersistedState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PersistedState")
            .field("format", &self.format)
            .field("event_count", &self.event_count)
            .field("notices", &self.notices)
            .field("stored_keys", &self.stored.keys().collect::<Vec<_>>())
            .finish()
    }
}

impl Default for PersistedState {
    fn default() -> Self {
        Self {
            format: STATE_FORMAT,
            event_count: 0,
            notices: Vec::new(),
            stored: BTreeMap::new(),
        }
    }
}

impl PersistedState {
    /// Whether the notices and stored state are those of `other`. The event
    /// counter alone does not count: a dispatch that deferred nothing and
    /// changed no stored state has nothing to save (handles of events that
    /// were not deferred need not stay unique).
    pub fn same_content(&self, other: &PersistedState) -> bool {
        self.notices == other.notices && self.stored == other.stored
    }

    fn from_json(text: &str, location: &str) -> Result<Self, StorageError> {
        let state: Self = serde_json::from_str(text).map_err(|source| StorageError::Corrupt {
            location: location.to_string(),
            reason: source.to_string(),
        })?;
        if state.format > STATE_FORMAT {
            return Err(StorageError::Corrupt {
                location: location.to_string(),
                reason: format!(
                    "state format {} is newer than this charm understands ({STATE_FORMAT})",
                    state.format
                ),
            });
        }
        Ok(state)
    }
}

/// What went wrong loading or saving persisted state.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    /// The state file exists but cannot be read.
    #[error("cannot read state file {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The state cannot be written.
    #[error("cannot write state file {path}: {source}")]
    Write {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The state is there but is not valid: never silently reset.
    #[error(
        "persisted state in {location} is corrupt ({reason}); refusing to start from empty state"
    )]
    Corrupt {
        /// The file path, or `juju state key <k>`.
        location: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A value is over what Juju keeps per unit-state key.
    #[error(
        "juju unit state key {key} would hold {bytes} bytes, over Juju's {limit}-byte limit \
         per value; keep less in that stored state (or fewer deferred notices)"
    )]
    TooLarge {
        /// The key.
        key: String,
        /// Its size.
        bytes: usize,
        /// Juju's limit.
        limit: usize,
    },
    /// The `state-get`/`state-set` hook tool failed.
    #[error("juju unit state: {0}")]
    Backend(#[from] BackendError),
}

/// A place that keeps [`PersistedState`].
pub trait StateStore {
    /// The last committed state; the default state if nothing was ever saved.
    fn load(&self) -> Result<PersistedState, StorageError>;
    /// Replaces the committed state, all at once.
    fn save(&self, state: &PersistedState) -> Result<(), StorageError>;
}
