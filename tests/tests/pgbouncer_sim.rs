//! pgbouncer-k8s as Juju runs it: the compiled charm under the simulator,
//! units coming and going, the leader removed, config changed. Every unit
//! converges on the leader's files, and a follower restarts PgBouncer only
//! when its files changed.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use ops_testing::binaries::{cargo_bin, hook_tool};
use ops_testing::sim::{Report, Scenario, Simulator};

const APP: &str = "pgbouncer-k8s";

fn charm_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../charms/pgbouncer-k8s")
}

fn new_sim(dir: &Path) -> Simulator {
    let binary = cargo_bin("pgbouncer-k8s", "pgbouncer-k8s").unwrap();
    Simulator::new(
        dir,
        "pgb",
        &charm_dir(),
        Some(&binary),
        None,
        &hook_tool().unwrap(),
    )
    .unwrap()
}

fn run(sim: &mut Simulator, steps: &str) {
    let scenario = Scenario::parse(
        &format!("charm: {{dir: .}}\nsteps:\n{steps}"),
        Path::new("inline.yaml"),
    )
    .unwrap();
    for (i, step) in scenario.steps.iter().enumerate() {
        sim.step(i + 1, step).unwrap();
    }
    let failed: Vec<_> = sim.records().iter().filter(|h| h.exit_code != 0).collect();
    assert!(failed.is_empty(), "hooks failed: {failed:#?}");
}

fn peers(report: &Report) -> &BTreeMap<String, BTreeMap<String, String>> {
    &report
        .relations
        .iter()
        .find(|r| r.endpoint == "pgb-peers")
        .unwrap()
        .databags
}

fn file<'a>(report: &'a Report, unit: &str, path: &str) -> Option<&'a String> {
    report.units[unit].containers["pgbouncer"].files.get(path)
}

/// How often PgBouncer was made to take new files: restarts and reloads
/// (`SIGHUP` through Pebble).
fn restarts(report: &Report, unit: &str) -> usize {
    report.units[unit].containers["pgbouncer"]
        .service_events
        .iter()
        .filter(|e| e.starts_with("restart") || e.starts_with("signal SIGHUP"))
        .count()
}

fn assert_converged(report: &Report) {
    let app = &peers(report)[APP];
    let cfg = &app["cfg_file"];
    let leader = report
        .units
        .iter()
        .find(|(_, u)| u.leader)
        .map(|(n, _)| n.clone())
        .unwrap();
    assert_eq!(
        app["leader_hostname"],
        format!(
            "{}.{APP}-endpoints.pgb.svc.cluster.local",
            leader.replace('/', "-")
        )
    );
    for (unit, state) in &report.units {
        assert_eq!(
            file(report, unit, "/var/lib/pgbouncer/pgbouncer.ini"),
            Some(cfg),
            "{unit} has the leader's config"
        );
        assert_eq!(
            peers(report)[unit]["private-address"],
            format!(
                "{}.{APP}-endpoints.pgb.svc.cluster.local",
                unit.replace('/', "-")
            )
        );
        assert!(
            state
                .status
                .starts_with("blocked: waiting for backend database relation"),
            "{unit}: {}",
            state.status
        );
    }
}

#[test]
fn units_converge_through_scale_out_leader_loss_and_config_change() {
    let dir = tempfile::tempdir().unwrap();
    let mut sim = new_sim(dir.path());
    run(&mut sim, "  - deploy: {units: 3}\n");
    let report = sim.report().unwrap();
    assert_eq!(report.units.len(), 3);
    assert_converged(&report);

    run(&mut sim, "  - add-unit: {}\n");
    let report = sim.report().unwrap();
    assert_eq!(report.units.len(), 4);
    assert_converged(&report);

    // The leader goes; unit 1 is elected and takes over leader_hostname.
    run(&mut sim, "  - remove-unit: {unit: pgbouncer-k8s/0}\n");
    let report = sim.report().unwrap();
    assert!(report.units[&format!("{APP}/1")].leader);
    assert_converged(&report);

    // Followers restart only when their files change: an update-status round
    // changes nothing and restarts nothing.
    let before: Vec<usize> = report.units.keys().map(|u| restarts(&report, u)).collect();
    run(&mut sim, "  - update-status: {}\n");
    let after_idle = sim.report().unwrap();
    let idle: Vec<usize> = after_idle
        .units
        .keys()
        .map(|u| restarts(&after_idle, u))
        .collect();
    assert_eq!(before, idle, "nothing changed, nothing restarted");

    run(&mut sim, "  - config: {max_db_connections: 44}\n");
    let report = sim.report().unwrap();
    assert_converged(&report);
    let cfg = &peers(&report)[APP]["cfg_file"];
    assert!(cfg.contains("max_db_connections = 44"), "{cfg}");
    for (i, unit) in report.units.keys().enumerate() {
        assert!(
            restarts(&report, unit) > idle[i],
            "{unit} reloads the changed config"
        );
        let services = &report.units[unit].containers["pgbouncer"].services;
        let hard: usize = services.values().map(|s| s.restarts).sum();
        let before: usize = after_idle.units[unit].containers["pgbouncer"]
            .services
            .values()
            .map(|s| s.restarts)
            .sum();
        assert_eq!(
            hard, before,
            "{unit}: pool sizes are a reload, not a restart"
        );
    }
}
