//! counter through the Harness: stored state across dispatches, and a tick
//! deferred while paused (identical ticks wait as one), handed back once
//! unpaused.

use counter::Counter;
use ops::Status;
use ops_testing::Harness;
use serde_json::json;

fn harness() -> Harness<Counter> {
    let mut h = Harness::from_charm_dir(env!("CARGO_MANIFEST_DIR")).unwrap();
    h.begin_with_initial_hooks().unwrap();
    h
}

fn tick(h: &mut Harness<Counter>, times: usize) {
    for _ in 0..times {
        h.fire_hook("update-status").unwrap();
    }
}

#[test]
fn each_tick_is_counted_in_stored_state() {
    let mut h = harness();
    assert_eq!(h.unit_status(), Status::active("0 ticks"));
    tick(&mut h, 3);
    // Each dispatch builds a new charm: the count came back from stored state.
    assert_eq!(h.charm().unwrap().ticks(), 3);
    assert_eq!(h.unit_status(), Status::active("3 ticks"));
    assert!(h.notices().is_empty());
}

#[test]
fn a_tick_waits_while_paused_and_is_counted_when_unpaused() {
    let mut h = harness();
    tick(&mut h, 1);
    h.update_config([("paused", json!(true))]).unwrap();
    tick(&mut h, 1);
    let waiting = h.notices().to_vec();
    assert_eq!(waiting.len(), 1, "{waiting:?}");
    assert_eq!(waiting[0].event, "update_status");
    // More ticks: the waiting one is handed back first and deferred again;
    // the new ones are the same event for the same handler, not queued twice.
    tick(&mut h, 2);
    assert_eq!(h.notices(), &waiting[..]);
    assert_eq!(h.charm().unwrap().ticks(), 1);
    assert_eq!(h.unit_status(), Status::maintenance("paused after 1 ticks"));

    // config-changed hands the tick back before its own handlers run.
    h.update_config([("paused", json!(false))]).unwrap();
    assert!(h.notices().is_empty(), "{:?}", h.notices());
    assert_eq!(h.charm().unwrap().ticks(), 2);
    assert_eq!(h.unit_status(), Status::active("2 ticks"));
}
