//! Persisted state in Juju's controller-side unit state, one key per item.
//!
//! Juju keeps at most 64 KiB per unit-state value, so, as Python ops'
//! `JujuStorage` does, each stored state and the notice queue get their own
//! key: no single value grows with the charm.
//!
//! | key | value |
//! |---|---|
//! | [`COUNTER_KEY`] | `{"format": 2, "event_count": N}` |
//! | [`NOTICES_KEY`] | the deferred-notice queue, a JSON list |
//! | [`STORED_PREFIX`]`<key>` | one stored state, as JSON |
//!
//! State saved by older ops-rs under the single key [`LEGACY_STATE_KEY`] is
//! read, and replaced by the per-item keys at the next commit.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::{Notice, PersistedState, STATE_FORMAT, StateStore, StorageError};
use crate::backend::{Backend, StringMap};

/// The single key older ops-rs kept everything under; migrated on load.
pub const LEGACY_STATE_KEY: &str = "ops-rs-state";

/// The key of the format version and the event counter.
pub const COUNTER_KEY: &str = "ops-rs/counter";

/// The key of the deferred-notice queue.
pub const NOTICES_KEY: &str = "ops-rs/notices";

/// The prefix of each stored state's key (`ops-rs/stored/MyCharm/StoredState[s]`).
pub const STORED_PREFIX: &str = "ops-rs/stored/";

/// The most bytes Juju keeps in one unit-state value.
pub const MAX_VALUE_BYTES: usize = 64 * 1024;

#[derive(Serialize, Deserialize)]
struct Counter {
    format: u32,
    event_count: u64,
}

/// Persisted state kept by the Juju controller (`state-get`, `state-set --file -`,
/// `state-delete`).
///
/// It survives the loss of the unit's pod, which a file in the charm
/// directory of a Kubernetes charm does not. Juju applies `state-set` only
/// when the hook succeeds, which gives the same commit-or-nothing as the file.
///
/// One `state-get` per dispatch at most; at commit, one `state-set` with
/// only the keys whose value changed and a `state-delete` per key that went
/// away, and no call at all when the notices and stored state are as loaded.
/// A value over [`MAX_VALUE_BYTES`] is [`StorageError::TooLarge`], naming
/// its key, before anything is sent.
///
/// ```no_run
/// use std::sync::Arc;
/// use ops::backend::HookTools;
/// use ops::storage::{JujuStateStore, StateStore};
///
/// let store = JujuStateStore::new(Arc::new(HookTools::new()));
/// let state = store.load()?;
/// store.save(&state)?; // nothing changed: no hook tool runs
/// # Ok::<(), ops::storage::StorageError>(())
/// ```
pub struct JujuStateStore {
    backend: Arc<dyn Backend>,
    loaded: RefCell<Option<Loaded>>,
}

/// What the controller holds, as last read or written.
struct Loaded {
    state: PersistedState,
    /// Our keys and their text.
    keys: StringMap,
}

fn location(key: &str) -> String {
    format!("juju state key {key}")
}

fn corrupt(key: &str, source: serde_json::Error) -> StorageError {
    StorageError::Corrupt {
        location: location(key),
        reason: crate::redact::serde_reason(&source.to_string()),
    }
}

/// The per-item keys for `state`.
fn encode(state: &PersistedState) -> Result<StringMap, StorageError> {
    let mut keys = StringMap::new();
    let counter = Counter {
        format: STATE_FORMAT,
        event_count: state.event_count,
    };
    let text = |key: &str, value: serde_json::Result<String>| {
        value.map_err(|source| StorageError::Corrupt {
            location: location(key),
            reason: format!("cannot serialize: {source}"),
        })
    };
    keys.insert(
        COUNTER_KEY.to_string(),
        text(COUNTER_KEY, serde_json::to_string(&counter))?,
    );
    if !state.notices.is_empty() {
        keys.insert(
            NOTICES_KEY.to_string(),
            text(NOTICES_KEY, serde_json::to_string(&state.notices))?,
        );
    }
    for (key, value) in &state.stored {
        let full = format!("{STORED_PREFIX}{key}");
        let json = text(&full, serde_json::to_string(value))?;
        keys.insert(full, json);
    }
    Ok(keys)
}

/// The framework's state in a unit's Juju state (what `state-get` gives),
/// and the keys of it that are ops-rs': the per-item keys, or the legacy
/// single key of older ops-rs. Other keys (a charm's own) are left out.
///
/// ```
/// use std::collections::BTreeMap;
/// let all = BTreeMap::from([
///     ("ops-rs/stored/MyCharm/StoredState[s]".to_string(), r#"{"n":1}"#.to_string()),
///     ("charm-key".to_string(), "x".to_string()),
/// ]);
/// let (state, ours) = ops::storage::decode_unit_state(&all).unwrap();
/// assert_eq!(state.stored["MyCharm/StoredState[s]"]["n"], 1);
/// assert_eq!(ours.len(), 1);
/// ```
pub fn decode_unit_state(all: &StringMap) -> Result<(PersistedState, StringMap), StorageError> {
    decode(all)
}

/// `state` from the controller's keys (ours only).
fn decode(all: &StringMap) -> Result<(PersistedState, StringMap), StorageError> {
    let mut ours = StringMap::new();
    let mut state = PersistedState::default();
    if let Some(text) = all.get(LEGACY_STATE_KEY) {
        state = PersistedState::from_json(text, &location(LEGACY_STATE_KEY))?;
        ours.insert(LEGACY_STATE_KEY.to_string(), text.clone());
    }
    if let Some(text) = all.get(COUNTER_KEY) {
        let counter: Counter = serde_json::from_str(text).map_err(|e| corrupt(COUNTER_KEY, e))?;
        if counter.format > STATE_FORMAT {
            return Err(StorageError::Corrupt {
                location: location(COUNTER_KEY),
                reason: format!(
                    "state format {} is newer than this charm understands ({STATE_FORMAT})",
                    counter.format
                ),
            });
        }
        state.event_count = state.event_count.max(counter.event_count);
        ours.insert(COUNTER_KEY.to_string(), text.clone());
    }
    if let Some(text) = all.get(NOTICES_KEY) {
        let notices: Vec<Notice> =
            serde_json::from_str(text).map_err(|e| corrupt(NOTICES_KEY, e))?;
        state.notices = notices;
        ours.insert(NOTICES_KEY.to_string(), text.clone());
    }
    for (key, text) in all {
        if let Some(name) = key.strip_prefix(STORED_PREFIX) {
            let value = serde_json::from_str(text).map_err(|e| corrupt(key, e))?;
            state.stored.insert(name.to_string(), value);
            ours.insert(key.clone(), text.clone());
        }
    }
    Ok((state, ours))
}

impl JujuStateStore {
    /// State kept through `backend`'s `state-get`/`state-set`/`state-delete`.
    pub fn new(backend: Arc<dyn Backend>) -> Self {
        Self {
            backend,
            loaded: RefCell::new(None),
        }
    }

    fn ensure_loaded(&self) -> Result<(), StorageError> {
        if self.loaded.borrow().is_some() {
            return Ok(());
        }
        let all = self.backend.state_get()?;
        let (state, raw) = decode(&all)?;
        // Compare later writes with what this state encodes to, not with the
        // controller's text: the same value spelled differently is not sent.
        let encoded = encode(&state)?;
        let keys = raw
            .into_iter()
            .map(|(key, text)| {
                let text = encoded.get(&key).cloned().unwrap_or(text);
                (key, text)
            })
            .collect();
        *self.loaded.borrow_mut() = Some(Loaded { state, keys });
        Ok(())
    }
}

impl StateStore for JujuStateStore {
    fn load(&self) -> Result<PersistedState, StorageError> {
        self.ensure_loaded()?;
        let loaded = self.loaded.borrow();
        Ok(loaded.as_ref().map(|l| l.state.clone()).unwrap_or_default())
    }

    fn save(&self, state: &PersistedState) -> Result<(), StorageError> {
        self.ensure_loaded()?;
        let mut loaded = self.loaded.borrow_mut();
        let Some(loaded) = loaded.as_mut() else {
            return Ok(());
        };
        let legacy = loaded.keys.contains_key(LEGACY_STATE_KEY);
        if !legacy && state.same_content(&loaded.state) {
            return Ok(());
        }
        let keys = encode(state)?;
        if let Some((key, value)) = keys.iter().find(|(_, v)| v.len() > MAX_VALUE_BYTES) {
            return Err(StorageError::TooLarge {
                key: key.clone(),
                bytes: value.len(),
                limit: MAX_VALUE_BYTES,
            });
        }
        let changed: BTreeMap<String, String> = keys
            .iter()
            .filter(|(k, v)| loaded.keys.get(*k) != Some(*v))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        if !changed.is_empty() {
            self.backend.state_set(&changed)?;
        }
        for gone in loaded.keys.keys().filter(|k| !keys.contains_key(*k)) {
            self.backend.state_delete(gone)?;
        }
        loaded.keys = keys;
        loaded.state = state.clone();
        Ok(())
    }
}

#[cfg(test)]
mod prop_tests {
    //! Properties of the per-key form of the state in Juju's unit state.

    use super::*;
    use crate::storage::prop_tests::state;
    use proptest::prelude::*;

    /// A unit state with our keys (and others) holding anything.
    fn unit_state() -> impl Strategy<Value = StringMap> {
        proptest::collection::btree_map(
            prop_oneof![
                Just(LEGACY_STATE_KEY.to_string()),
                Just(COUNTER_KEY.to_string()),
                Just(NOTICES_KEY.to_string()),
                "\\PC{0,12}".prop_map(|k| format!("{STORED_PREFIX}{k}")),
                "\\PC{0,12}",
            ],
            prop_oneof![
                "\\PC{0,40}",
                Just("{\"format\":1,\"event_count\":3}".to_string()),
                Just("[]".to_string()),
                Just("null".to_string()),
                Just("{\"format\":99,\"event_count\":0}".to_string()),
            ],
            0..6,
        )
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        /// Whatever Juju's unit state holds, decoding it is a state or a
        /// `Corrupt` error naming one of our keys, never a panic.
        #[test]
        fn prop_decode_unit_state_never_panics(all in unit_state()) {
            match decode_unit_state(&all) {
                Ok((_, ours)) => {
                    for key in ours.keys() {
                        prop_assert!(all.contains_key(key));
                    }
                }
                Err(StorageError::Corrupt { location, .. }) => {
                    prop_assert!(all.keys().any(|k| location == super::location(k)), "{}", location);
                }
                Err(other) => prop_assert!(false, "not a Corrupt error: {other}"),
            }
        }

        /// The keys `save` writes decode to the state saved, next to any
        /// keys of the charm's own.
        #[test]
        fn prop_unit_state_keys_round_trip(
            state in state(),
            charm_keys in proptest::collection::btree_map("[a-z]{1,8}", "\\PC{0,8}", 0..3),
        ) {
            let keys = encode(&state).map_err(|e| TestCaseError::fail(e.to_string()))?;
            let mut all = charm_keys.clone();
            all.extend(keys.clone());
            let (back, ours) = decode_unit_state(&all).map_err(|e| TestCaseError::fail(e.to_string()))?;
            prop_assert!(back == state, "{:?} != {:?}", back, state);
            prop_assert_eq!(ours, keys);
        }
    }
}
