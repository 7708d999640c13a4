//! counter as Juju runs it: one process per hook under the simulator
//! (`scenarios/pause.yaml`). The count and the waiting tick are in Juju's
//! unit state, so they outlive the pod the scenario replaces.

use std::path::Path;

use ops_testing::binaries::hook_tool;
use ops_testing::fake_juju::cli::load_state;
use ops_testing::sim::{Scenario, Simulator};

const CHARM_DIR: &str = env!("CARGO_MANIFEST_DIR");
const UNIT: &str = "counter/0";

/// The persisted framework state in Juju's unit state (one key per stored
/// state and per deferred notice), gathered as `{stored, notices}`.
fn unit_state(sim: &Simulator) -> serde_json::Value {
    let juju = load_state(sim.state_path()).unwrap();
    let (state, _) = ops::storage::decode_unit_state(&juju.units[UNIT].state).unwrap();
    serde_json::json!({ "stored": state.stored, "notices": state.notices })
}

#[test]
fn the_waiting_tick_and_the_count_survive_a_new_pod() {
    let base = Path::new(CHARM_DIR).join("scenarios");
    let scenario = Scenario::load(&base.join("pause.yaml")).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut sim = Simulator::for_scenario(
        &scenario,
        &base,
        dir.path(),
        &hook_tool().unwrap(),
        Some(Path::new(env!("CARGO_BIN_EXE_counter"))),
    )
    .unwrap();
    // Up to and including the churn.
    for (i, step) in scenario.steps[..8].iter().enumerate() {
        sim.step(i + 1, step).unwrap();
    }
    let state = unit_state(&sim);
    assert_eq!(state["stored"]["Counter/StoredState[tally]"]["ticks"], 2);
    let waiting = state["notices"].as_array().unwrap();
    assert_eq!(
        waiting.len(),
        1,
        "three ticks alike wait as one: {waiting:#?}"
    );
    assert_eq!(waiting[0]["event"], "update_status");
    assert!(
        !dir.path()
            .join("units/counter-0/charm/.unit-state.json")
            .exists(),
        "no state file in the charm directory"
    );
    let report = sim.report().unwrap();
    assert_eq!(
        report.units[UNIT].status,
        "maintenance: paused after 2 ticks"
    );

    sim.step(9, &scenario.steps[8]).unwrap();
    let report = sim.report().unwrap();
    assert_eq!(report.units[UNIT].status, "active: 3 ticks");
    let state = unit_state(&sim);
    assert_eq!(state["notices"], serde_json::json!([]));
    let failed: Vec<_> = report.hooks.iter().filter(|h| h.exit_code != 0).collect();
    assert!(failed.is_empty(), "{failed:#?}");
}
