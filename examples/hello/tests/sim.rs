//! hello as Juju runs it: the compiled binary, one process per hook, under
//! the unit simulator, driven by `scenarios/greet.yaml`.

use std::path::Path;

use ops_testing::binaries::hook_tool;
use ops_testing::sim::{Scenario, Simulator};

const CHARM_DIR: &str = env!("CARGO_MANIFEST_DIR");

fn scenario() -> Scenario {
    Scenario::load(&Path::new(CHARM_DIR).join("scenarios/greet.yaml")).unwrap()
}

#[test]
fn every_unit_shows_the_greeting_after_each_config_change() {
    let scenario = scenario();
    let dir = tempfile::tempdir().unwrap();
    let mut sim = Simulator::for_scenario(
        &scenario,
        &Path::new(CHARM_DIR).join("scenarios"),
        dir.path(),
        &hook_tool().unwrap(),
        Some(Path::new(env!("CARGO_BIN_EXE_hello"))),
    )
    .unwrap();
    // After each config step, both units' statuses as Juju would show them.
    let expected = [
        "active: hello",
        "active: bonjour",
        "blocked: set the greeting config option",
        "active: hello",
        "active: hola",
    ];
    assert_eq!(scenario.steps.len(), expected.len());
    for (i, (step, status)) in scenario.steps.iter().zip(expected).enumerate() {
        sim.step(i + 1, step).unwrap();
        let report = sim.report().unwrap();
        assert_eq!(report.units.len(), 2, "step {}", i + 1);
        for (unit, state) in &report.units {
            assert_eq!(state.status, status, "{unit} after step {}", i + 1);
        }
    }
    let report = sim.report().unwrap();
    let failed: Vec<_> = report.hooks.iter().filter(|h| h.exit_code != 0).collect();
    assert!(failed.is_empty(), "{failed:#?}");
    // install, leader-elected/settings-changed, config-changed and start on
    // each unit, then four config-changed each.
    let config_changed = report
        .hooks
        .iter()
        .filter(|h| h.hook == "config-changed")
        .count();
    assert_eq!(config_changed, 2 * 5, "{:#?}", report.hooks);
}
