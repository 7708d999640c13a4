//! The save side of ops' per-key Juju unit state: whatever sequence of
//! states a unit commits through `JujuStateStore` (keys added, changed and
//! removed, hook by hook, next to keys of the charm's own), a fresh store
//! in the next hook loads the last one; deferred queues keep their order,
//! and a notice deferred again keeps its key untouched.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use ops::storage::{JujuStateStore, Notice, PersistedState, STATE_FORMAT, StateStore};
use ops_testing::fake_juju::{FakeJuju, FakeTools, HookContext};
use proptest::prelude::*;
use serde_json::{Value, json};

const UNIT: &str = "keeper/0";

fn juju() -> Arc<Mutex<FakeJuju>> {
    let meta = ops::CharmMeta::from_charmcraft_yaml("name: keeper\n").unwrap();
    let mut juju = FakeJuju::new("m");
    juju.deploy("keeper", &meta, 1);
    Arc::new(Mutex::new(juju))
}

/// One hook: a fresh store loads, then (if `save` is given) saves; Juju
/// commits the hook.
fn hook(juju: &Arc<Mutex<FakeJuju>>, save: Option<&PersistedState>) -> PersistedState {
    let ctx = HookContext::unit(UNIT);
    juju.lock().unwrap().begin_hook(&ctx);
    let store = JujuStateStore::new(Arc::new(FakeTools::new(juju.clone(), ctx).hook_tools()));
    let loaded = store.load().expect("load");
    if let Some(state) = save {
        store.save(state).expect("save");
    }
    juju.lock().unwrap().end_hook(UNIT, true);
    loaded
}

fn value() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<i64>().prop_map(Value::from),
        "\\PC{0,12}".prop_map(Value::from),
        proptest::collection::vec(any::<bool>(), 0..3).prop_map(Value::from),
        ("[a-z]{1,4}", any::<u32>()).prop_map(|(k, n)| json!({ k: n })),
    ]
}

fn state() -> impl Strategy<Value = PersistedState> {
    (
        any::<u64>(),
        proptest::collection::vec(("[a-z_]{1,8}", value()), 0..3),
        // Few names, so that successive states share, change and drop keys.
        proptest::collection::btree_map(
            proptest::sample::select(vec!["C/StoredState[a]", "C/StoredState[b]", "C/S[c d]", ""]),
            value(),
            0..4,
        ),
    )
        .prop_map(|(event_count, notices, stored)| PersistedState {
            format: STATE_FORMAT,
            event_count,
            notices: notices
                .into_iter()
                .enumerate()
                .map(|(i, (event, snapshot))| Notice {
                    handle: format!("C/on/{event}[{i}]"),
                    observer: "C/on_x".to_string(),
                    event,
                    snapshot,
                })
                .collect(),
            stored: stored
                .into_iter()
                .map(|(k, v)| (k.to_string(), v))
                .collect(),
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn prop_juju_state_store_round_trips_through_commits(
        states in proptest::collection::vec(state(), 1..6),
        charm_keys in proptest::collection::btree_map("[a-z]{1,6}", "\\PC{0,6}", 0..3),
    ) {
        let juju = juju();
        {
            let mut j = juju.lock().unwrap();
            j.units.get_mut(UNIT).unwrap().state.extend(charm_keys.clone());
        }
        // What the unit committed last, as the model has it.
        let mut last = PersistedState::default();
        for state in &states {
            let loaded = hook(&juju, Some(state));
            prop_assert!(loaded == last, "{:?} != {:?}", loaded, last);
            // A save that changes no notice or stored state writes nothing,
            // the event counter included.
            if !state.same_content(&last) {
                last = state.clone();
            }
        }
        let loaded = hook(&juju, None);
        prop_assert!(loaded == last, "{:?} != {:?}", loaded, last);
        // The charm's own keys are untouched.
        let unit_state: BTreeMap<String, String> = juju.lock().unwrap().units[UNIT].state.clone();
        for (k, v) in &charm_keys {
            prop_assert_eq!(unit_state.get(k), Some(v));
        }
    }
}

/// One dispatch's change to the queue: which of the queue's notices it
/// keeps (handled ones go), and how many new ones it defers after them.
fn queue_steps() -> impl Strategy<Value = Vec<(Vec<bool>, usize)>> {
    proptest::collection::vec(
        (proptest::collection::vec(any::<bool>(), 40), 0usize..8),
        1..8,
    )
}

fn job(id: usize) -> Notice {
    Notice {
        handle: format!("C/on/job[{id}]"),
        observer: "C::on_job".to_string(),
        event: "job".to_string(),
        snapshot: json!({ "id": id, "pad": "p".repeat(id % 7 * 40) }),
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Queues that change as a unit's do (some notices handled, the rest
    /// deferred again, new ones after them) load back in their order, and a
    /// notice deferred again is never sent again: its key keeps whatever
    /// spelling the controller has.
    #[test]
    fn prop_deferred_queues_keep_their_order_and_their_keys(steps in queue_steps()) {
        let juju = juju();
        let mut queue: Vec<Notice> = Vec::new();
        let mut next_id = 0;
        for (keep, new) in steps {
            queue = queue
                .into_iter()
                .zip(keep.iter().chain(std::iter::repeat(&true)))
                .filter(|(_, k)| **k)
                .map(|(n, _)| n)
                .collect();
            let kept = queue.clone();
            for _ in 0..new {
                queue.push(job(next_id));
                next_id += 1;
            }
            // The controller's spelling of every notice now committed.
            let respelled: BTreeMap<String, String> = {
                let mut j = juju.lock().unwrap();
                let state = &mut j.units.get_mut(UNIT).unwrap().state;
                for (key, text) in state.iter_mut() {
                    if key.starts_with(ops::storage::JUJU_NOTICE_PREFIX) {
                        let value: Value = serde_json::from_str(text).unwrap();
                        *text = serde_json::to_string_pretty(&value).unwrap();
                    }
                }
                state.clone()
            };
            let state = PersistedState { notices: queue.clone(), ..Default::default() };
            hook(&juju, Some(&state));
            let committed = juju.lock().unwrap().units[UNIT].state.clone();
            let (loaded, _) = ops::storage::decode_unit_state(&committed)
                .map_err(|e| TestCaseError::fail(e.to_string()))?;
            prop_assert!(loaded.notices == queue, "{:?} != {:?}", loaded.notices, queue);
            let notice_keys: Vec<&String> = committed
                .keys()
                .filter(|k| k.starts_with(ops::storage::JUJU_NOTICE_PREFIX))
                .collect();
            prop_assert_eq!(notice_keys.len(), queue.len());
            // Every notice kept is where it was, as the controller spelled it.
            let unchanged = notice_keys
                .iter()
                .filter(|k| respelled.get(**k) == committed.get(**k))
                .count();
            prop_assert_eq!(unchanged, kept.len());
        }
    }
}
