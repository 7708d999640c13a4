//! The save side of ops' per-key Juju unit state: whatever sequence of
//! states a unit commits through `JujuStateStore` (keys added, changed and
//! removed, hook by hook, next to keys of the charm's own), a fresh store
//! in the next hook loads the last one.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use ops::storage::{JujuStateStore, Notice, PersistedState, STATE_FORMAT, StateStore};
use ops_testing::fake_juju::{FakeBackend, FakeJuju, HookContext};
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
    let store = JujuStateStore::new(Arc::new(FakeBackend::new(juju.clone(), ctx)));
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
