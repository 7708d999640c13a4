//! Persisted state in Juju's controller-side unit state, one key per item.
//!
//! Juju keeps at most 64 KiB per unit-state value ([`MAX_VALUE_BYTES`]) and
//! refuses a key over 256 bytes ([`MAX_KEY_BYTES`]), so each stored state and
//! each deferred notice get their own key: no single value grows with the
//! charm or with the queue.
//!
//! | key | value |
//! |---|---|
//! | [`COUNTER_KEY`] | `{"format": 2, "event_count": N}` ([`FORMAT`]) |
//! | [`NOTICE_PREFIX`]`<seq>` | one deferred notice, as JSON (`handle`, `observer`, `event`, `snapshot`) |
//! | [`STORED_PREFIX`]`<key>` | one stored state, as JSON |
//!
//! `<seq>` is a decimal number, and the queue is the notices in increasing
//! `<seq>`. A notice deferred again keeps its key, and with it its place; a
//! newly deferred one takes a number above every other in the queue; a
//! handled one's key is deleted (one `state-delete` each: Juju's deletes
//! one key at a time). A dispatch that defers the whole queue again and one
//! event more sends that one key (and the counter), nothing else.
//!
//! A counter of a format newer than [`FORMAT`] is refused (the state is
//! "newer than this charm understands"): a charm refreshed back to an older
//! ops-rs stops there rather than miss keys it does not know and lose the
//! queue.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::{Notice, PersistedState, StateStore, StorageError};
use crate::backend::{Backend, StringMap};

/// The key of the format version and the event counter.
pub const COUNTER_KEY: &str = "ops-rs/counter";

/// The prefix of each deferred notice's key (`ops-rs/notice/17`).
pub const NOTICE_PREFIX: &str = "ops-rs/notice/";

/// The prefix of each stored state's key (`ops-rs/stored/MyCharm/StoredState[s]`).
pub const STORED_PREFIX: &str = "ops-rs/stored/";

/// The most bytes Juju keeps in one unit-state value.
pub const MAX_VALUE_BYTES: usize = 64 * 1024;

/// The longest unit-state key Juju accepts, in bytes.
pub const MAX_KEY_BYTES: usize = 256;

/// The format of the keys, in the counter. (2: 1 was never released.)
pub const FORMAT: u32 = 2;

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
/// A key over [`MAX_KEY_BYTES`] is [`StorageError::KeyTooLong`] and a value
/// over [`MAX_VALUE_BYTES`] is [`StorageError::TooLarge`], each naming its
/// key, before anything is sent.
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
    /// The key number of each of `state.notices`.
    seqs: Vec<u64>,
}

/// The state in the controller's keys, and which keys were ours.
struct Decoded {
    state: PersistedState,
    ours: StringMap,
    seqs: Vec<u64>,
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

/// The key of the notice numbered `seq`.
fn notice_key(seq: u64) -> String {
    format!("{NOTICE_PREFIX}{seq}")
}

/// The number of a notice key; `None` if `key` is not one. Only the form
/// [`notice_key`] writes is accepted (no sign, no leading zero), so that
/// one number has one key.
fn notice_seq(key: &str) -> Option<Result<u64, StorageError>> {
    let digits = key.strip_prefix(NOTICE_PREFIX)?;
    let canonical = !digits.is_empty()
        && digits.bytes().all(|b| b.is_ascii_digit())
        && (digits == "0" || !digits.starts_with('0'));
    Some(
        digits
            .parse::<u64>()
            .ok()
            .filter(|_| canonical)
            .ok_or_else(|| StorageError::Corrupt {
                location: location(key),
                reason: "the key's notice number is not a decimal number".to_string(),
            }),
    )
}

/// The key numbers for `notices`, the queue to save, given the queue as
/// last loaded or saved (`before`, numbered `before_seqs`).
///
/// A notice still in the queue, in the same order, keeps its number (its
/// key is not rewritten); any other takes a number above every one given so
/// far. The numbers increase along the queue, which is how the queue's
/// order is kept.
fn assign_seqs(before: &[Notice], before_seqs: &[u64], notices: &[Notice]) -> Vec<u64> {
    let mut next = match before_seqs.iter().max() {
        None => 0,
        Some(&max) if max < u64::MAX / 2 => max + 1,
        // Numbers this high were not written by ops-rs: renumber the queue.
        Some(_) => return (0..notices.len() as u64).collect(),
    };
    // Reused numbers come from `before` in its order: once past an index,
    // an earlier entry's number would break the increasing order.
    let mut cursor = 0;
    let mut seqs = Vec::with_capacity(notices.len());
    for notice in notices {
        let reused = (cursor..before.len().min(before_seqs.len())).find(|&i| &before[i] == notice);
        match reused {
            Some(i) => {
                seqs.push(before_seqs[i]);
                cursor = i + 1;
            }
            None => {
                seqs.push(next);
                next += 1;
                // Every number left in `before` is below this one now.
                cursor = before.len();
            }
        }
    }
    seqs
}

/// The per-item keys for `state`, its notices under the numbers `seqs`.
fn encode(state: &PersistedState, seqs: &[u64]) -> Result<StringMap, StorageError> {
    let mut keys = StringMap::new();
    let counter = Counter {
        format: FORMAT,
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
    for (notice, seq) in state.notices.iter().zip(seqs) {
        let key = notice_key(*seq);
        let json = text(&key, serde_json::to_string(notice))?;
        keys.insert(key, json);
    }
    for (key, value) in &state.stored {
        let full = format!("{STORED_PREFIX}{key}");
        let json = text(&full, serde_json::to_string(value))?;
        keys.insert(full, json);
    }
    Ok(keys)
}

/// Juju's quotas, checked before anything is sent: the first key over
/// [`MAX_KEY_BYTES`] or holding over [`MAX_VALUE_BYTES`], by name.
fn check_quotas(keys: &StringMap) -> Result<(), StorageError> {
    for (key, value) in keys {
        if key.len() > MAX_KEY_BYTES {
            return Err(StorageError::KeyTooLong {
                key: key.clone(),
                bytes: key.len(),
                limit: MAX_KEY_BYTES,
            });
        }
        if value.len() > MAX_VALUE_BYTES {
            return Err(StorageError::TooLarge {
                key: key.clone(),
                bytes: value.len(),
                limit: MAX_VALUE_BYTES,
            });
        }
    }
    Ok(())
}

/// Whether two texts of one key hold the same JSON value (the same value
/// spelled differently is not sent again).
fn same_value(old: &str, new: &str) -> bool {
    old == new
        || matches!(
            (
                serde_json::from_str::<serde_json::Value>(old),
                serde_json::from_str::<serde_json::Value>(new),
            ),
            (Ok(a), Ok(b)) if a == b
        )
}

/// The framework's state in a unit's Juju state (what `state-get` gives),
/// and the keys of it that are ops-rs'. Other keys (a charm's own) are left
/// out.
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
    let decoded = decode(all)?;
    Ok((decoded.state, decoded.ours))
}

/// `state` from the controller's keys (ours only).
fn decode(all: &StringMap) -> Result<Decoded, StorageError> {
    let mut ours = StringMap::new();
    let mut state = PersistedState::default();
    if let Some(text) = all.get(COUNTER_KEY) {
        let counter: Counter = serde_json::from_str(text).map_err(|e| corrupt(COUNTER_KEY, e))?;
        if counter.format > FORMAT {
            return Err(StorageError::Corrupt {
                location: location(COUNTER_KEY),
                reason: format!(
                    "state format {} is newer than this charm understands ({FORMAT})",
                    counter.format
                ),
            });
        }
        state.event_count = state.event_count.max(counter.event_count);
        ours.insert(COUNTER_KEY.to_string(), text.clone());
    }
    let mut seqs = Vec::new();
    let mut numbered = Vec::new();
    for (key, text) in all {
        if let Some(seq) = notice_seq(key) {
            let notice: Notice = serde_json::from_str(text).map_err(|e| corrupt(key, e))?;
            numbered.push((seq?, notice));
            ours.insert(key.clone(), text.clone());
        } else if let Some(name) = key.strip_prefix(STORED_PREFIX) {
            let value = serde_json::from_str(text).map_err(|e| corrupt(key, e))?;
            state.stored.insert(name.to_string(), value);
            ours.insert(key.clone(), text.clone());
        }
    }
    numbered.sort_by_key(|(seq, _)| *seq);
    for (seq, notice) in numbered {
        state.notices.push(notice);
        seqs.push(seq);
    }
    Ok(Decoded { state, ours, seqs })
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
        let Decoded { state, ours, seqs } = decode(&all)?;
        *self.loaded.borrow_mut() = Some(Loaded {
            state,
            keys: ours,
            seqs,
        });
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
        if state.same_content(&loaded.state) {
            return Ok(());
        }
        let seqs = assign_seqs(&loaded.state.notices, &loaded.seqs, &state.notices);
        let keys = encode(state, &seqs)?;
        check_quotas(&keys)?;
        let changed: BTreeMap<String, String> = keys
            .iter()
            .filter(|(k, v)| !loaded.keys.get(*k).is_some_and(|old| same_value(old, v)))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        if !changed.is_empty() {
            self.backend.state_set(&changed)?;
        }
        for gone in loaded.keys.keys().filter(|k| !keys.contains_key(*k)) {
            self.backend.state_delete(gone)?;
        }
        // Keys not sent keep the controller's spelling of their value.
        for (key, text) in changed {
            loaded.keys.insert(key, text);
        }
        loaded.keys.retain(|k, _| keys.contains_key(k));
        loaded.state = state.clone();
        loaded.seqs = seqs;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn notice(n: u32) -> Notice {
        Notice {
            handle: format!("C/on/work[{n}]"),
            observer: "C::on_work".into(),
            event: "work".into(),
            snapshot: serde_json::json!({ "n": n }),
        }
    }

    #[test]
    fn a_notice_deferred_again_keeps_its_number_and_new_ones_come_after() {
        let before: Vec<Notice> = (0..4).map(notice).collect();
        let seqs = [3, 4, 7, 9];
        // 1 handled, 0, 2 and 3 deferred again, 10 and 11 new.
        let after = [notice(0), notice(2), notice(3), notice(10), notice(11)];
        assert_eq!(assign_seqs(&before, &seqs, &after), [3, 7, 9, 10, 11]);
    }

    #[test]
    fn a_notice_out_of_its_old_order_is_renumbered_not_misplaced() {
        let before: Vec<Notice> = (0..3).map(notice).collect();
        let seqs = [0, 1, 2];
        // A queue whose order differs: the numbers still increase along it.
        let after = [notice(2), notice(0), notice(1)];
        assert_eq!(assign_seqs(&before, &seqs, &after), [2, 3, 4]);
        // A new notice in the middle: those after it are renumbered.
        let after = [notice(0), notice(9), notice(1)];
        assert_eq!(assign_seqs(&before, &seqs, &after), [0, 3, 4]);
    }

    #[test]
    fn the_first_notices_are_numbered_from_zero() {
        assert_eq!(assign_seqs(&[], &[], &[notice(5), notice(6)]), [0, 1]);
    }

    #[test]
    fn numbers_near_the_top_of_u64_renumber_the_queue() {
        let before: Vec<Notice> = (0..2).map(notice).collect();
        let seqs = [1, u64::MAX];
        assert_eq!(assign_seqs(&before, &seqs, &[notice(1), notice(2)]), [0, 1]);
    }

    #[test]
    fn only_the_canonical_notice_key_is_a_number() {
        assert_eq!(notice_seq("ops-rs/notice/0").unwrap().unwrap(), 0);
        assert_eq!(notice_seq("ops-rs/notice/17").unwrap().unwrap(), 17);
        assert!(notice_seq("ops-rs/notices").is_none());
        assert!(notice_seq("ops-rs/stored/x").is_none());
        for bad in ["", "007", "+1", "-1", "1a", "99999999999999999999999"] {
            let key = format!("{NOTICE_PREFIX}{bad}");
            match notice_seq(&key) {
                Some(Err(StorageError::Corrupt { location, .. })) => {
                    assert_eq!(location, super::location(&key))
                }
                other => panic!("{key}: {other:?}"),
            }
        }
    }

    #[test]
    fn quotas_name_the_key_never_the_value() {
        let long = format!("{STORED_PREFIX}{}", "k".repeat(MAX_KEY_BYTES));
        let keys = StringMap::from([(long.clone(), "\"secret-value\"".to_string())]);
        let err = check_quotas(&keys).unwrap_err();
        assert!(
            matches!(&err, StorageError::KeyTooLong { key, bytes, limit: MAX_KEY_BYTES }
                if key == &long && *bytes == long.len()),
            "{err:?}"
        );
        assert!(!err.to_string().contains("secret-value"), "{err}");
        let exact = "k".repeat(MAX_KEY_BYTES);
        let value = "v".repeat(MAX_VALUE_BYTES);
        check_quotas(&StringMap::from([(exact.clone(), value.clone())])).unwrap();
        let err = check_quotas(&StringMap::from([(exact, value + "v")])).unwrap_err();
        assert!(
            matches!(&err, StorageError::TooLarge { bytes, .. } if *bytes == MAX_VALUE_BYTES + 1),
            "{err:?}"
        );
        assert!(!err.to_string().contains("vvvv"), "{err}");
    }
}

#[cfg(test)]
mod prop_tests {
    //! Properties of the per-key form of the state in Juju's unit state.

    use super::*;
    use crate::storage::prop_tests::{notice, state};
    use proptest::prelude::*;

    /// A unit state with our keys (and others) holding anything.
    fn unit_state() -> impl Strategy<Value = StringMap> {
        proptest::collection::btree_map(
            prop_oneof![
                Just(COUNTER_KEY.to_string()),
                "[0-9+-]{0,22}".prop_map(|k| format!("{NOTICE_PREFIX}{k}")),
                "\\PC{0,12}".prop_map(|k| format!("{STORED_PREFIX}{k}")),
                "\\PC{0,12}",
            ],
            prop_oneof![
                "\\PC{0,40}",
                Just("{\"format\":1,\"event_count\":3}".to_string()),
                Just("{\"format\":2,\"event_count\":3}".to_string()),
                Just("[]".to_string()),
                Just("null".to_string()),
                Just("{\"format\":99,\"event_count\":0}".to_string()),
                notice().prop_map(|n| serde_json::to_string(&n).unwrap_or_default()),
                proptest::collection::vec(notice(), 0..3)
                    .prop_map(|n| serde_json::to_string(&n).unwrap_or_default()),
            ],
            0..6,
        )
    }

    /// The queue after `pool`: some of it kept, in order, then new notices;
    /// and how many were kept.
    fn queue_from(pool: Vec<Notice>) -> impl Strategy<Value = (Vec<Notice>, usize)> {
        proptest::sample::subsequence(pool.clone(), 0..=pool.len())
            .prop_flat_map(|kept| (Just(kept), proptest::collection::vec(notice(), 0..3)))
            .prop_map(|(mut kept, new)| {
                let n = kept.len();
                kept.extend(new);
                (kept, n)
            })
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
        /// keys of the charm's own, with the queue in its order.
        #[test]
        fn prop_unit_state_keys_round_trip(
            state in state(),
            charm_keys in proptest::collection::btree_map("[a-z]{1,8}", "\\PC{0,8}", 0..3),
        ) {
            let seqs = assign_seqs(&[], &[], &state.notices);
            let keys = encode(&state, &seqs).map_err(|e| TestCaseError::fail(e.to_string()))?;
            let mut all = charm_keys.clone();
            all.extend(keys.clone());
            let (back, ours) = decode_unit_state(&all).map_err(|e| TestCaseError::fail(e.to_string()))?;
            prop_assert!(back == state, "{:?} != {:?}", back, state);
            prop_assert_eq!(ours, keys);
        }

        /// Random queues, saved one after another (each from the one
        /// before: some notices handled, some new), decode in their order;
        /// a notice kept in its order keeps its key and its text.
        #[test]
        fn prop_notice_queues_round_trip_through_their_keys(
            (first, (second, kept)) in proptest::collection::vec(notice(), 0..16)
                .prop_flat_map(|first| (Just(first.clone()), queue_from(first))),
        ) {
            let first_seqs = assign_seqs(&[], &[], &first);
            let state = |notices: &[Notice]| PersistedState { notices: notices.to_vec(), ..Default::default() };
            let first_keys = encode(&state(&first), &first_seqs).map_err(|e| TestCaseError::fail(e.to_string()))?;
            let decoded = decode(&first_keys).map_err(|e| TestCaseError::fail(e.to_string()))?;
            prop_assert!(decoded.state.notices == first, "{:?}", decoded.state.notices);
            prop_assert_eq!(&decoded.seqs, &first_seqs);

            let second_seqs = assign_seqs(&decoded.state.notices, &decoded.seqs, &second);
            prop_assert!(second_seqs.windows(2).all(|w| w[0] < w[1]), "{:?}", second_seqs);
            let second_keys = encode(&state(&second), &second_seqs).map_err(|e| TestCaseError::fail(e.to_string()))?;
            let back = decode(&second_keys).map_err(|e| TestCaseError::fail(e.to_string()))?;
            prop_assert!(back.state.notices == second, "{:?}", back.state.notices);
            // `second` keeps a subsequence of `first` at its head: those
            // keys are the same, with the same text.
            for seq in &second_seqs[..kept] {
                let key = notice_key(*seq);
                prop_assert_eq!(first_keys.get(&key), second_keys.get(&key));
            }
        }
    }
}
