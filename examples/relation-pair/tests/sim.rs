//! Each half as Juju runs it, under the simulator, with the other half
//! played by a simulated application (`scenarios/provider.yaml`,
//! `scenarios/requirer.yaml`).

use std::path::{Path, PathBuf};

use ops_testing::binaries::hook_tool;
use ops_testing::sim::{Report, Scenario, Simulator};

fn scenarios() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios")
}

fn simulator(scenario: &Scenario, dir: &Path, binary: &str) -> Simulator {
    Simulator::for_scenario(
        scenario,
        &scenarios(),
        dir,
        &hook_tool().unwrap(),
        Some(Path::new(binary)),
    )
    .unwrap()
}

fn statuses(report: &Report) -> Vec<(String, String)> {
    report
        .units
        .iter()
        .map(|(unit, u)| (unit.clone(), u.status.clone()))
        .collect()
}

fn all(units: &[&str], status: &str) -> Vec<(String, String)> {
    units
        .iter()
        .map(|u| (u.to_string(), status.to_string()))
        .collect()
}

fn assert_no_failed_hook(report: &Report) {
    let failed: Vec<_> = report.hooks.iter().filter(|h| h.exit_code != 0).collect();
    assert!(failed.is_empty(), "{failed:#?}");
}

#[test]
fn the_provider_answers_and_blocks_on_a_request_that_does_not_fit() {
    let scenario = Scenario::load(&scenarios().join("provider.yaml")).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut sim = simulator(
        &scenario,
        dir.path(),
        env!("CARGO_BIN_EXE_relation-pair-provider"),
    );
    let units = ["pair-provider/0", "pair-provider/1"];
    for (i, step) in scenario.steps[..3].iter().enumerate() {
        sim.step(i + 1, step).unwrap();
    }
    let report = sim.report().unwrap();
    let orders = report
        .relations
        .iter()
        .find(|r| r.remote_app == "pair-requirer")
        .unwrap();
    let grant = &orders.databags["pair-provider"];
    assert_eq!(grant["database"], "orders");
    assert_eq!(grant["port"], "6432");
    assert_eq!(
        statuses(&report),
        all(&units, "active: serving 1 requirers")
    );

    sim.step(4, &scenario.steps[3]).unwrap();
    let report = sim.report().unwrap();
    let other = report
        .relations
        .iter()
        .find(|r| r.remote_app == "other-requirer")
        .unwrap();
    assert!(
        !other.databags.contains_key("pair-provider") || other.databags["pair-provider"].is_empty()
    );
    let blocked = format!(
        "blocked: relation db:{}: the request's \"read-only\" does not fit",
        other.id
    );
    assert_eq!(statuses(&report), all(&units, &blocked));

    sim.step(5, &scenario.steps[4]).unwrap();
    let report = sim.report().unwrap();
    let other = report
        .relations
        .iter()
        .find(|r| r.remote_app == "other-requirer")
        .unwrap();
    assert_eq!(other.databags["pair-provider"]["database"], "reports");
    assert_eq!(other.databags["pair-provider"]["read-only"], "true");
    assert_eq!(
        statuses(&report),
        all(&units, "active: serving 2 requirers")
    );
    assert_no_failed_hook(&report);
}

#[test]
fn the_requirer_asks_and_every_unit_shows_the_grant() {
    let scenario = Scenario::load(&scenarios().join("requirer.yaml")).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut sim = simulator(
        &scenario,
        dir.path(),
        env!("CARGO_BIN_EXE_relation-pair-requirer"),
    );
    let units = ["pair-requirer/0", "pair-requirer/1"];
    for (i, step) in scenario.steps[..3].iter().enumerate() {
        sim.step(i + 1, step).unwrap();
    }
    let report = sim.report().unwrap();
    let request = &report.relations[0].databags["pair-requirer"];
    assert_eq!(request["database"], "orders");
    assert_eq!(request["read-only"], "false");
    assert_eq!(
        statuses(&report),
        all(&units, "waiting: waiting for the provider's grant")
    );

    sim.step(4, &scenario.steps[3]).unwrap();
    let report = sim.report().unwrap();
    assert_eq!(
        statuses(&report),
        all(&units, "active: using orders at 127.0.0.7:6432")
    );
    assert_no_failed_hook(&report);
}
