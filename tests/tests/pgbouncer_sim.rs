//! pgbouncer-k8s as Juju runs it: the compiled charm under the simulator,
//! units coming and going, the leader removed (and no leader until its
//! lease runs out), config changed. Every unit converges on the leader's
//! files, and a follower restarts PgBouncer only when its files changed.
//! And `ops-sim` never prints a password of the run, in any format.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use ops_testing::binaries::{cargo_bin, hook_tool};
use ops_testing::fake_juju::cli::load_state;
use ops_testing::sim::account::MIN_SECRET_CHARS;
use ops_testing::sim::{Report, Scenario, Simulator};
use pgbouncer_k8s::charm::LEADER_REMOVED;

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

    // The leader goes. Until its lease runs out no unit leads: the others'
    // departed hooks and an update-status round run with no leader, fail
    // nothing and change nothing the leader shared.
    let shared_before = peers(&report)[APP].clone();
    run(&mut sim, "  - remove-unit: {unit: pgbouncer-k8s/0}\n");
    let report = sim.report().unwrap();
    assert!(report.units.values().all(|u| !u.leader), "no leader yet");
    assert_eq!(peers(&report)[APP], shared_before);
    let waiting = format!("maintenance: {LEADER_REMOVED}");
    for (unit, state) in &report.units {
        assert_eq!(state.status, waiting, "{unit} in the gap");
    }
    run(&mut sim, "  - update-status: {}\n");
    let report = sim.report().unwrap();
    assert!(report.units.values().all(|u| !u.leader));
    assert_eq!(peers(&report)[APP], shared_before);
    for (unit, state) in &report.units {
        assert_eq!(
            state.status, waiting,
            "{unit} after update-status in the gap"
        );
    }

    // The lease runs out: unit 1 is elected and takes over leader_hostname.
    run(&mut sim, "  - expire-lease: {}\n");
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

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// A throwaway PostgreSQL on loopback (`scripts/local-postgres`), with the
/// backend user the scenario's first relation names; stopped on drop.
struct Postgres {
    dir: tempfile::TempDir,
    port: u16,
}

const BACKEND_USER: &str = "relation_id_1";
const BACKEND_PASSWORD: &str = "sim-backend-pw-5e1c9a";

impl Postgres {
    fn start() -> Self {
        let mut pg = Self {
            dir: tempfile::tempdir().unwrap(),
            port: 0,
        };
        let out = Command::new(root().join("scripts/local-postgres"))
            .arg("start")
            .arg(pg.dir.path().join("pg"))
            .args([BACKEND_USER, BACKEND_PASSWORD])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "cannot start PostgreSQL (.ci/run installs it): {}",
            String::from_utf8_lossy(&out.stderr)
        );
        pg.port = String::from_utf8_lossy(&out.stdout).trim().parse().unwrap();
        pg
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        let _ = Command::new(root().join("scripts/local-postgres"))
            .arg("stop")
            .arg(self.dir.path().join("pg"))
            .status();
    }
}

/// What data_platform_libs' requirer asks for to get its credentials in a
/// Juju secret.
const REQUESTED_SECRETS: &str = r#"["username","password","tls","tls-ca","uris","read-only-uris"]"#;

/// charms/pgbouncer-k8s/scenarios/pgb-peers.yaml with the backend on `port`
/// and a client that requests its credentials in a secret.
fn secrets_scenario(dir: &Path, port: u16) -> PathBuf {
    let text =
        std::fs::read_to_string(root().join("charms/pgbouncer-k8s/scenarios/pgb-peers.yaml"))
            .unwrap();
    let requested = serde_json::to_string(REQUESTED_SECRETS).unwrap();
    let text = text
        .replace(
            "postgresql-k8s-primary.pgb-demo.svc.cluster.local:5432",
            &format!("127.0.0.1:{port}"),
        )
        .replace("example-backend-password", BACKEND_PASSWORD)
        .replace("dir: ..", &format!("dir: {}", charm_dir().display()))
        .replace(
            "app-data: {database: appdb}",
            &format!("app-data: {{database: appdb, requested-secrets: {requested}}}"),
        );
    assert!(text.contains("requested-secrets") && text.contains("127.0.0.1:"));
    let path = dir.join("pgb-peers.yaml");
    std::fs::write(&path, text).unwrap();
    path
}

/// Every password of a run's final model (`model.json`), with where it
/// is: every value of every revision of every Juju secret, the peer app
/// databag's `relation_id_*` and `admin_password`, and the backend's
/// `password`.
fn passwords_of(model: &Path) -> Vec<(String, String)> {
    let juju = load_state(model).unwrap();
    let mut passwords = Vec::new();
    for secret in juju.secrets.values() {
        for (revision, content) in &secret.revisions {
            for (key, value) in content {
                let at = format!("{} revision {revision} {key}", secret.id);
                passwords.push((at, value.clone()));
            }
        }
    }
    for relation in juju.relations.values() {
        for (member, bag) in &relation.bags {
            for (key, value) in bag {
                let peer_record =
                    member == APP && (key.starts_with("relation_id_") || key == "admin_password");
                if peer_record || key == "password" {
                    let at = format!("relation {} {member} {key}", relation.id);
                    passwords.push((at, value.clone()));
                }
            }
        }
    }
    passwords
}

/// Where `text` shows `secret`: the line numbers (never the text).
fn lines_showing(text: &str, secret: &str) -> Vec<usize> {
    text.lines()
        .enumerate()
        .filter(|(_, l)| l.contains(secret))
        .map(|(i, _)| i + 1)
        .collect()
}

#[test]
fn ops_sim_prints_no_password_in_any_format() {
    let ops_sim = cargo_bin("juju-ops-testing", "ops-sim").unwrap();
    // ops-sim finds the hook tool beside itself.
    hook_tool().unwrap();
    let charm = cargo_bin("pgbouncer-k8s", "pgbouncer-k8s").unwrap();
    for args in [
        &["--format", "account"][..],
        &["--format", "mermaid"],
        &["--format", "markdown"],
        &["--format", "yaml"],
        &["--format", "yaml", "--hooks"],
        &["--format", "json"],
        &["--format", "json", "--hooks"],
    ] {
        // A new backend for each run: the charm's users are made anew.
        let pg = Postgres::start();
        let dir = tempfile::tempdir().unwrap();
        let scenario = secrets_scenario(dir.path(), pg.port);
        let work = dir.path().join("work");
        let out = Command::new(&ops_sim)
            .arg(&scenario)
            .arg("--charm-binary")
            .arg(&charm)
            .arg("--workdir")
            .arg(&work)
            .args(args)
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "ops-sim {args:?}: {stderr}\n{stdout}");
        let juju = load_state(&work.join("model.json")).unwrap();
        let secret = juju
            .secrets
            .values()
            .find(|s| {
                s.owner == APP
                    && s.label
                        .as_deref()
                        // The user secret (the client also asked for `tls`
                        // in a secret: `database.<id>.tls.secret`).
                        .is_some_and(|l| l.starts_with("database.") && l.ends_with(".user.secret"))
            })
            .unwrap_or_else(|| panic!("no secret for the client after {args:?}: {stdout}"));
        assert!(
            secret
                .revisions
                .values()
                .any(|c| c.contains_key("password"))
        );
        let passwords = passwords_of(&work.join("model.json"));
        assert!(!passwords.is_empty(), "no password in the run");
        assert!(
            passwords.iter().any(|(_, p)| p == BACKEND_PASSWORD),
            "the backend's password is among them"
        );
        assert!(
            juju.secrets.values().any(|s| s
                .revisions
                .values()
                .any(|c| c.keys().any(|k| k.starts_with("client-")))),
            "the application's secret keeps the client's password"
        );
        assert!(
            juju.relations.values().all(|r| r
                .bags
                .values()
                .all(|b| b.keys().all(|k| !k.starts_with("relation_id_")))),
            "no databag holds a client's password"
        );
        for (at, password) in &passwords {
            if password.chars().count() < MIN_SECRET_CHARS {
                // Short content values (`tls: False`) are hidden only whole
                // under their own key; no password may be that short.
                assert!(
                    !at.ends_with("password") && !at.contains("relation_id_"),
                    "{at} is a password of {} characters",
                    password.chars().count()
                );
                continue;
            }
            for (stream, text) in [("stdout", &stdout), ("stderr", &stderr)] {
                let lines = lines_showing(text, password);
                assert!(
                    lines.is_empty(),
                    "ops-sim {args:?} printed {at} on {stream}, lines {lines:?}"
                );
            }
        }
    }
}
