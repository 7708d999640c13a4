//! action as Juju runs it: `actions/convert` dispatched to the compiled
//! charm by the simulator (`scenarios/convert.yaml`), results and failure
//! read back from the model.

use std::path::Path;

use ops_testing::binaries::hook_tool;
use ops_testing::fake_juju::cli::load_state;
use ops_testing::sim::{Scenario, Simulator};

#[test]
fn each_run_reports_its_results_or_its_failure() {
    let base = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios");
    let scenario = Scenario::load(&base.join("convert.yaml")).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut sim = Simulator::for_scenario(
        &scenario,
        &base,
        dir.path(),
        &hook_tool().unwrap(),
        Some(Path::new(env!("CARGO_BIN_EXE_action"))),
    )
    .unwrap();
    sim.step(1, &scenario.steps[0]).unwrap();
    let mut ran = Vec::new();
    for (i, step) in scenario.steps.iter().enumerate().skip(1) {
        sim.step(i + 1, step).unwrap();
        let juju = load_state(sim.state_path()).unwrap();
        ran.push(juju.action("action/0").cloned().unwrap());
    }
    assert_eq!(ran[0].results["fahrenheit"], "98.6");
    assert_eq!(ran[0].results["kelvin.value"], "310.1");
    assert_eq!(ran[0].log, ["converting 37 °C"]);
    assert_eq!(ran[0].failure, None);
    assert_eq!(ran[1].results["fahrenheit"], "-40");
    assert_eq!(ran[1].results["kelvin.value"], "233");
    assert_eq!(
        ran[2].failure.as_deref(),
        Some("-500 °C is below absolute zero (-273.15 °C)")
    );
    assert!(ran[2].results.is_empty());
    let report = sim.report().unwrap();
    let hooks: Vec<_> = report
        .hooks
        .iter()
        .filter(|h| h.hook.contains("convert"))
        .collect();
    assert_eq!(hooks.len(), 3, "{:#?}", report.hooks);
    assert!(hooks.iter().all(|h| h.exit_code == 0), "{hooks:#?}");
}
