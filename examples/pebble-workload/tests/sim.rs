//! pebble-workload as Juju runs it: the compiled charm, a fake Pebble per
//! unit at `/charm/containers/workload/pebble.socket` (or the fallback),
//! `scenarios/workload.yaml`.

use std::path::Path;

use ops_testing::binaries::hook_tool;
use ops_testing::sim::{Scenario, Simulator};
use pebble_workload::{CONTAINER, INDEX, SERVICE, render_index};

#[test]
fn each_unit_restarts_only_when_its_file_changed_and_a_new_pod_is_set_up_again() {
    let base = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios");
    let scenario = Scenario::load(&base.join("workload.yaml")).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let report = Simulator::run_scenario(
        &scenario,
        &base,
        dir.path(),
        &hook_tool().unwrap(),
        Some(Path::new(env!("CARGO_BIN_EXE_pebble-workload"))),
    )
    .unwrap();
    let failed: Vec<_> = report.hooks.iter().filter(|h| h.exit_code != 0).collect();
    assert!(failed.is_empty(), "{failed:#?}");
    assert_eq!(report.units.len(), 2);
    for (unit, state) in &report.units {
        assert_eq!(state.status, "active: serving on port 8080", "{unit}");
        let workload = &state.containers[CONTAINER];
        assert_eq!(
            workload.files.get(INDEX),
            Some(&render_index("bonjour")),
            "{unit}"
        );
    }
    // Unit 0: started once, restarted once (the message changed once).
    let unit0 = &report.units["pebble-workload/0"].containers[CONTAINER];
    assert_eq!(unit0.services[SERVICE].starts, 1, "{unit0:#?}");
    assert_eq!(unit0.services[SERVICE].restarts, 1, "{unit0:#?}");
    // Unit 1 also lost its pod: the new one got the file and a started
    // service again, without a restart.
    let unit1 = &report.units["pebble-workload/1"].containers[CONTAINER];
    assert_eq!(
        unit1.service_events,
        [
            "start web",
            "restart web",
            ops_testing::sim::POD_REPLACED,
            "start web"
        ],
        "{unit1:#?}"
    );
}
