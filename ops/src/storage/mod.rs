//! Where the framework keeps what must outlive a dispatch: stored state, the
//! deferred-notice queue and the event counter.
//!
//! Two places, behind one trait: a file in the charm directory
//! ([`LocalStateFile`], the default) and Juju's controller-side unit state
//! ([`JujuStateStore`], `state-get`/`state-set`, one key per stored state
//! and per deferred notice). Either
//! way the state is written at commit or not at all, and nothing is written
//! when the notices and stored state are as they were loaded.

mod juju;
mod local;

pub use juju::{
    COUNTER_KEY as JUJU_COUNTER_KEY, FORMAT as JUJU_STATE_FORMAT, JujuStateStore,
    MAX_KEY_BYTES as JUJU_MAX_KEY_BYTES, MAX_VALUE_BYTES as JUJU_MAX_VALUE_BYTES,
    NOTICE_PREFIX as JUJU_NOTICE_PREFIX, STORED_PREFIX as JUJU_STORED_PREFIX, decode_unit_state,
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
///
/// A bound against a charm that defers without end, set well above what a
/// unit waiting on its workload accumulates (an event per relation and
/// kind: several hundred client relations fit). Only a new deferral can
/// fail: notices deferred again never do, and each retry of the failed hook
/// re-emits the queue first, so the hook succeeds once some of it is
/// handled. In Juju's unit state each notice has its own key; a thousand
/// notices of a few hundred bytes stay well under Juju's default total of
/// 2 MiB per unit (`max-charm-state-size`).
pub const MAX_NOTICES: usize = 1024;

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
        // serde's message can quote what it read: stored state may hold
        // anything a charm keeps, so only the kind of mistake is told.
        let state: Self = serde_json::from_str(text).map_err(|source| StorageError::Corrupt {
            location: location.to_string(),
            reason: crate::redact::serde_reason(&source.to_string()),
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
#[non_exhaustive]
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
         per value; keep less in that stored state (or in that deferred event)"
    )]
    TooLarge {
        /// The key.
        key: String,
        /// Its size.
        bytes: usize,
        /// Juju's limit.
        limit: usize,
    },
    /// A key is longer than Juju accepts for a unit-state key (a stored
    /// state's name too long).
    #[error(
        "juju unit state key {key} is {bytes} bytes long, over Juju's {limit}-byte limit \
         per key; give that stored state a shorter name"
    )]
    KeyTooLong {
        /// The key.
        key: String,
        /// Its length.
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

#[cfg(test)]
pub(crate) mod prop_tests {
    //! Properties of the persisted state's JSON form.

    use super::*;
    use proptest::prelude::*;
    use serde_json::Value;

    /// JSON values as stored state and event snapshots hold them. Floats
    /// are ones serde_json reads back exactly (its default parser may be a
    /// unit in the last place off for others).
    pub(crate) fn json_value() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(Value::from),
            any::<u64>().prop_map(Value::from),
            (-4096i32..4096).prop_map(|n| Value::from(f64::from(n) / 16.0)),
            "\\PC{0,16}".prop_map(Value::String),
            "[{}\\[\\]\":,\\\\]{0,8}".prop_map(Value::String),
        ];
        leaf.prop_recursive(3, 32, 4, |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
                proptest::collection::btree_map("\\PC{0,8}", inner, 0..4)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    pub(crate) fn notice() -> impl Strategy<Value = Notice> {
        ("\\PC{0,24}", "\\PC{0,16}", "[a-z_]{1,16}", json_value()).prop_map(
            |(handle, observer, event, snapshot)| Notice {
                handle,
                observer,
                event,
                snapshot,
            },
        )
    }

    /// A state as written today (format [`STATE_FORMAT`]).
    pub(crate) fn state() -> impl Strategy<Value = PersistedState> {
        (
            any::<u64>(),
            proptest::collection::vec(notice(), 0..4),
            proptest::collection::btree_map("\\PC{0,24}", json_value(), 0..4),
        )
            .prop_map(|(event_count, notices, stored)| PersistedState {
                format: STATE_FORMAT,
                event_count,
                notices,
                stored,
            })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        /// Any bytes in the state file are a state or a `Corrupt` error.
        #[test]
        fn prop_persisted_state_from_any_bytes_never_panics(
            raw in prop_oneof![
                proptest::collection::vec(any::<u8>(), 0..256).prop_map(|b| String::from_utf8_lossy(&b).into_owned()),
                (state(), 0..STATE_FORMAT + 4).prop_map(|(s, format)| {
                    serde_json::to_string(&PersistedState { format, ..s }).unwrap_or_default()
                }),
                state().prop_flat_map(|s| {
                    let text = serde_json::to_string(&s).unwrap_or_default();
                    let len = text.len();
                    (Just(text), 0..=len)
                })
                .prop_map(|(mut text, cut)| {
                    while !text.is_char_boundary(cut.min(text.len())) {
                        text.pop();
                    }
                    text.truncate(cut.min(text.len()));
                    text
                }),
            ],
        ) {
            match PersistedState::from_json(&raw, "test") {
                Ok(state) => prop_assert!(state.format <= STATE_FORMAT),
                Err(StorageError::Corrupt { location, .. }) => prop_assert_eq!(location, "test"),
                Err(other) => prop_assert!(false, "not a Corrupt error: {other}"),
            }
        }

        /// What the state file holds reads back as the state saved, in
        /// either of the forms written (compact, pretty).
        #[test]
        fn prop_persisted_state_json_round_trips(state in state(), format in 0..=STATE_FORMAT) {
            let state = PersistedState { format, ..state };
            let compact = serde_json::to_string(&state).map_err(|e| TestCaseError::fail(e.to_string()))?;
            let pretty = serde_json::to_string_pretty(&state).map_err(|e| TestCaseError::fail(e.to_string()))?;
            for text in [compact, pretty] {
                let back = PersistedState::from_json(&text, "test")
                    .map_err(|e| TestCaseError::fail(e.to_string()))?;
                prop_assert!(back == state, "{:?} != {:?}", back, state);
            }
        }
    }
}
