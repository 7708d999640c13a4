//! The simulator runs Juju's lifecycle: pod churn and refresh, remove-unit
//! as Juju runs it, relation-joined before relation-changed, `juju config`'s
//! checks, model-wide relation ids, and Pebble at
//! `/charm/containers/<name>/pebble.socket`.
//!
//! The charms: `examples/hello-peers` (compiled), once with a `web`
//! container added to its metadata; and a POSIX shell charm written here
//! that logs what each hook sees (`is-leader`, `relation-list`,
//! `JUJU_DEPARTING_UNIT`) and records where it found its Pebble socket.

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::common;
use ops::pebble::{Layer, Override, PushOptions, Service, ServiceStartup};
use ops_testing::binaries::{cargo_bin, hook_tool};
use ops_testing::fake_juju::cli::{load_state, with_state};
use ops_testing::sim::{HookRecord, POD_REPLACED, PebbleAccess, Scenario, SimError, Simulator};

const HELLO: &str = "hello-peers";

fn hello_binary() -> PathBuf {
    cargo_bin("hello-peers", "hello-peers").unwrap()
}

fn hello_meta() -> String {
    let path =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/hello-peers/charmcraft.yaml");
    std::fs::read_to_string(path).unwrap()
}

/// hello-peers' metadata, plus a `web` container when asked.
fn hello_charm_dir(dir: &Path, container: bool) -> PathBuf {
    let charm = dir.join("charm");
    std::fs::create_dir_all(&charm).unwrap();
    let mut meta = hello_meta();
    if container {
        meta.push_str("containers:\n  web:\n    resource: web-image\n");
        meta.push_str("resources:\n  web-image:\n    type: oci-image\n");
    }
    std::fs::write(charm.join("charmcraft.yaml"), meta).unwrap();
    charm
}

fn hello_sim(dir: &Path, container: bool) -> Simulator {
    let charm = hello_charm_dir(dir, container);
    Simulator::new(
        &dir.join("work"),
        "life",
        &charm,
        Some(&hello_binary()),
        None,
        &hook_tool().unwrap(),
    )
    .unwrap()
}

/// Logs `<hook> leader=<bool>` (and in relation hooks `remote=`,
/// `departing=`, `list=<json>`); in pebble-ready records the inode of the
/// socket it finds at Juju's path, and whether OPS_CONTAINERS_DIR is set;
/// in pebble-custom-notice the workload and notice variables.
const SHELL_DISPATCH: &str = r#"#!/bin/sh
set -e
hook="${JUJU_DISPATCH_PATH#hooks/}"
line="$hook leader=$(is-leader --format=json)"
if [ -n "${JUJU_RELATION_ID:-}" ]; then
    line="$line remote=${JUJU_REMOTE_UNIT:-} departing=${JUJU_DEPARTING_UNIT:-} list=$(relation-list --format=json)"
fi
juju-log "$line"
case "$hook" in
    *-pebble-ready)
        inode=$(stat -L -c %i "/charm/containers/$JUJU_WORKLOAD_NAME/pebble.socket")
        state-set "socket-inode=$inode" "containers-var=${OPS_CONTAINERS_DIR:-unset}"
        ;;
    *-pebble-custom-notice)
        state-set "notice=$JUJU_WORKLOAD_NAME $JUJU_NOTICE_ID $JUJU_NOTICE_TYPE $JUJU_NOTICE_KEY"
        ;;
esac
"#;

fn shell_sim(dir: &Path) -> Simulator {
    let charm = dir.join("shell");
    std::fs::create_dir_all(&charm).unwrap();
    std::fs::write(charm.join("charmcraft.yaml"), common::SHELL_META).unwrap();
    let dispatch = charm.join("dispatch");
    std::fs::write(&dispatch, SHELL_DISPATCH).unwrap();
    std::fs::set_permissions(&dispatch, std::fs::Permissions::from_mode(0o755)).unwrap();
    Simulator::new(
        &dir.join("work"),
        "life",
        &charm,
        None,
        None,
        &hook_tool().unwrap(),
    )
    .unwrap()
}

fn parse_steps(steps: &str) -> Scenario {
    let yaml = format!(
        "charm: {{dir: .}}\napps:\n  db:\n    units: 2\n    endpoints: {{server: {{role: provides, interface: pgsql}}}}\n  db2:\n    endpoints: {{server: {{role: provides, interface: pgsql}}}}\nsteps:\n{steps}"
    );
    Scenario::parse(&yaml, Path::new("inline.yaml")).unwrap()
}

/// Runs steps, numbered from `first`; every hook must succeed.
fn run(sim: &mut Simulator, first: usize, steps: &str) {
    let scenario = parse_steps(steps);
    for (i, step) in scenario.steps.iter().enumerate() {
        sim.step(first + i, step).unwrap();
    }
    let failed: Vec<_> = sim.records().iter().filter(|h| h.exit_code != 0).collect();
    assert!(failed.is_empty(), "hooks failed: {failed:#?}");
}

fn add_remote_apps(sim: &mut Simulator) {
    let scenario = parse_steps("  - update-status: {}\n");
    for (name, app) in &scenario.apps {
        sim.add_remote_app(name, app).unwrap();
    }
}

fn hooks_of<'a>(records: &'a [HookRecord], unit: &str) -> Vec<&'a str> {
    records
        .iter()
        .filter(|r| r.unit == unit)
        .map(|r| r.hook.as_str())
        .collect()
}

fn events_seen(sim: &mut Simulator, number: usize, unit: &str) -> String {
    run(
        sim,
        number,
        &format!("  - run-action: {{unit: {unit}, action: events-seen}}\n"),
    );
    let juju = load_state(sim.state_path()).unwrap();
    juju.action(unit).unwrap().results["events-seen"].clone()
}

#[test]
fn churn_loses_the_pod_but_keeps_juju_state_and_relation_data() {
    let dir = tempfile::tempdir().unwrap();
    let mut sim = hello_sim(dir.path(), true);
    run(
        &mut sim,
        1,
        "  - deploy: {units: 2}\n  - config: {greeting: hi}\n",
    );
    let unit = "hello-peers/1";
    // The workload: a file and a plan in the old pod's container.
    let client = sim.pebble(unit, "web").unwrap().client();
    let options = PushOptions::new().with_make_dirs(true);
    client.push("/etc/web.conf", "old pod\n", &options).unwrap();
    let mut layer = Layer::default();
    layer.services.insert(
        "web".into(),
        Service {
            override_: Some(Override::Replace),
            command: Some("web".into()),
            startup: Some(ServiceStartup::Enabled),
            ..Default::default()
        },
    );
    client.add_layer("web", &layer, true).unwrap();
    client.replan_services().unwrap();
    // Juju's unit state, as state-set would have left it.
    with_state(sim.state_path(), |j| {
        j.units
            .get_mut(unit)
            .unwrap()
            .state
            .insert("kept".into(), "yes".into());
    })
    .unwrap();
    let local_state = dir
        .path()
        .join("work/units/hello-peers-1/charm/.unit-state.json");
    assert!(local_state.exists());
    let before = events_seen(&mut sim, 3, unit);
    assert_ne!(
        before, "2",
        "the old pod counted more than the new one will"
    );
    let seen_before = sim.report().unwrap().relations[0].databags[unit].clone();
    assert_eq!(seen_before["seen-greeting"], "hi");

    let from = sim.records().len();
    run(&mut sim, 4, "  - churn: {unit: hello-peers/1}\n");
    let records = &sim.records()[from..];
    assert_eq!(
        hooks_of(records, unit),
        [
            "stop",
            "upgrade-charm",
            "config-changed",
            "leader-settings-changed",
            "start",
            "web-pebble-ready"
        ]
    );
    assert_eq!(hooks_of(records, "hello-peers/0"), Vec::<&str>::new());

    let pebble = sim.pebble(unit, "web").unwrap();
    assert!(
        !pebble.host_path("/etc/web.conf").exists(),
        "files survived"
    );
    assert!(pebble.plan().services.is_empty(), "the plan survived");
    assert_eq!(pebble.service_status("web"), None);
    // The charm directory is new: stored state counts config-changed and
    // start of the new pod only.
    assert_eq!(events_seen(&mut sim, 5, unit), "2");
    let juju = load_state(sim.state_path()).unwrap();
    assert_eq!(juju.units[unit].state["kept"], "yes");
    let report = sim.report().unwrap();
    assert_eq!(report.relations[0].databags[unit], seen_before);
    assert!(!report.units[unit].leader && report.units["hello-peers/0"].leader);
    // The report keeps the old pod's service events.
    let web = &report.units[unit].containers["web"];
    assert_eq!(web.service_events, ["start web", POD_REPLACED]);
    assert_eq!(web.services["web"].starts, 1);
}

#[test]
fn refresh_replaces_every_pod_in_turn() {
    let dir = tempfile::tempdir().unwrap();
    let mut sim = hello_sim(dir.path(), false);
    run(&mut sim, 1, "  - deploy: {units: 3}\n");
    let from = sim.records().len();
    run(&mut sim, 2, "  - refresh: {}\n");
    let got: Vec<(&str, &str)> = sim.records()[from..]
        .iter()
        .map(|r| (r.unit.as_str(), r.hook.as_str()))
        .collect();
    let mut expected = Vec::new();
    for unit in ["hello-peers/0", "hello-peers/1", "hello-peers/2"] {
        expected.extend([
            (unit, "stop"),
            (unit, "upgrade-charm"),
            (unit, "config-changed"),
        ]);
        if unit != "hello-peers/0" {
            expected.push((unit, "leader-settings-changed"));
        }
        expected.push((unit, "start"));
    }
    assert_eq!(got, expected);
}

/// (hook, leader, remote, departing, relation-list) from the shell charm's log.
fn logged(sim: &Simulator, unit: &str) -> Vec<(String, bool, String, String, Vec<String>)> {
    let juju = load_state(sim.state_path()).unwrap();
    juju.logs_of(unit)
        .into_iter()
        .filter_map(|l| {
            let (hook, rest) = l.message.split_once(" leader=")?;
            let (leader, rest) = rest.split_once(' ').unwrap_or((rest, ""));
            let field = |name: &str| {
                rest.split(' ')
                    .find_map(|p| p.strip_prefix(name))
                    .unwrap_or_default()
                    .to_string()
            };
            let list = rest
                .split_once("list=")
                .map(|(_, l)| serde_json::from_str(l).unwrap())
                .unwrap_or_default();
            Some((
                hook.to_string(),
                leader == "true",
                field("remote="),
                field("departing="),
                list,
            ))
        })
        .collect()
}

#[test]
fn remove_unit_of_the_leader_runs_as_juju_runs_it() {
    let dir = tempfile::tempdir().unwrap();
    let mut sim = shell_sim(dir.path());
    add_remote_apps(&mut sim);
    run(
        &mut sim,
        1,
        "  - deploy: {units: 3}\n  - relate: {endpoint: database, app: db, remote-endpoint: server}\n",
    );
    let dying = "shell/0";
    let logged_before = logged(&sim, dying).len();
    let from = sim.records().len();
    run(&mut sim, 3, "  - remove-unit: {unit: shell/0}\n");
    let departing: Vec<_> = sim.records()[from..]
        .iter()
        .filter(|r| r.hook.ends_with("-relation-departed"))
        .map(|r| r.departing_unit.as_deref())
        .collect();
    assert_eq!(departing, [Some(dying); 6]);
    let records: Vec<(&str, &str, Option<&str>)> = sim.records()[from..]
        .iter()
        .map(|r| (r.unit.as_str(), r.hook.as_str(), r.remote_unit.as_deref()))
        .collect();
    assert_eq!(
        records,
        [
            (dying, "replicas-relation-departed", Some("shell/1")),
            (dying, "replicas-relation-departed", Some("shell/2")),
            (dying, "database-relation-departed", Some("db/0")),
            (dying, "database-relation-departed", Some("db/1")),
            (dying, "replicas-relation-broken", None),
            (dying, "database-relation-broken", None),
            ("shell/1", "replicas-relation-departed", Some(dying)),
            ("shell/2", "replicas-relation-departed", Some(dying)),
            (dying, "stop", None),
            (dying, "remove", None),
        ]
    );
    let seen = logged(&sim, dying);
    let seen = &seen[logged_before..];
    let list = |l: &[&str]| l.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    let expected = [
        (
            "replicas-relation-departed",
            "shell/1",
            dying,
            list(&["shell/2"]),
        ),
        ("replicas-relation-departed", "shell/2", dying, list(&[])),
        ("database-relation-departed", "db/0", dying, list(&["db/1"])),
        ("database-relation-departed", "db/1", dying, list(&[])),
        ("replicas-relation-broken", "", "", list(&[])),
        ("database-relation-broken", "", "", list(&[])),
        ("stop", "", "", list(&[])),
        ("remove", "", "", list(&[])),
    ];
    assert_eq!(seen.len(), expected.len(), "{seen:#?}");
    for (got, want) in seen.iter().zip(&expected) {
        assert_eq!(
            (got.0.as_str(), got.2.as_str(), got.3.as_str(), &got.4),
            (want.0, want.1, want.2, &want.3)
        );
        assert!(got.1, "is-leader false on the dying leader in {}", got.0);
    }
    for other in ["shell/1", "shell/2"] {
        let seen = logged(&sim, other);
        let departed: Vec<_> = seen
            .iter()
            .filter(|l| l.0 == "replicas-relation-departed")
            .collect();
        assert_eq!(departed.len(), 1, "{other}: {seen:#?}");
        assert_eq!(
            (departed[0].2.as_str(), departed[0].3.as_str()),
            (dying, dying)
        );
        assert!(!departed[0].4.contains(&dying.to_string()));
        assert!(!departed[0].1, "{other} led before the dying unit was gone");
    }
    // The dead leader's lease is held: no unit leads, in the hooks of the
    // steps that follow too.
    let juju = load_state(sim.state_path()).unwrap();
    assert_eq!(juju.leader("shell"), None);
    let report = sim.report().unwrap();
    assert!(report.units.values().all(|u| !u.leader));
    let from = sim.records().len();
    run(&mut sim, 4, "  - update-status: {}\n");
    for other in ["shell/1", "shell/2"] {
        let seen = logged(&sim, other);
        let last = seen.last().unwrap();
        assert_eq!(
            (last.0.as_str(), last.1),
            ("update-status", false),
            "{other}"
        );
    }
    assert_eq!(sim.records().len(), from + 2);

    // The lease runs out: the lowest unit left is elected.
    let from = sim.records().len();
    run(&mut sim, 5, "  - expire-lease: {}\n");
    let records: Vec<(&str, &str)> = sim.records()[from..]
        .iter()
        .map(|r| (r.unit.as_str(), r.hook.as_str()))
        .collect();
    assert_eq!(
        records,
        [
            ("shell/1", "leader-elected"),
            ("shell/2", "leader-settings-changed"),
        ]
    );
    let elected = logged(&sim, "shell/1");
    assert_eq!(
        (
            elected.last().unwrap().0.as_str(),
            elected.last().unwrap().1
        ),
        ("leader-elected", true)
    );
    let juju = load_state(sim.state_path()).unwrap();
    assert_eq!(juju.leader("shell"), Some("shell/1"));

    // A living leader's lease does not run out.
    let err = sim
        .step(6, &parse_steps("  - expire-lease: {}\n").steps[0])
        .unwrap_err();
    assert!(
        matches!(&err, SimError::Step { step: 6, message } if message.contains("shell/1 leads")),
        "{err}"
    );

    // `expire-lease: true` on the removal elects at once, after `remove`.
    let from = sim.records().len();
    run(
        &mut sim,
        7,
        "  - remove-unit: {unit: shell/1, expire-lease: true}\n",
    );
    let tail: Vec<(&str, &str)> = sim.records()[from..]
        .iter()
        .rev()
        .take(2)
        .map(|r| (r.unit.as_str(), r.hook.as_str()))
        .collect();
    assert_eq!(tail, [("shell/2", "leader-elected"), ("shell/1", "remove")]);
    let juju = load_state(sim.state_path()).unwrap();
    assert_eq!(juju.leader("shell"), Some("shell/2"));
}

#[test]
fn removing_a_follower_keeps_the_leader_and_expire_lease_needs_a_unit() {
    let dir = tempfile::tempdir().unwrap();
    let mut sim = shell_sim(dir.path());
    run(
        &mut sim,
        1,
        "  - deploy: {units: 2}\n  - remove-unit: {unit: shell/1}\n",
    );
    let juju = load_state(sim.state_path()).unwrap();
    assert_eq!(juju.leader("shell"), Some("shell/0"));
    run(&mut sim, 3, "  - remove-unit: {unit: shell/0}\n");
    let err = sim
        .step(4, &parse_steps("  - expire-lease: {}\n").steps[0])
        .unwrap_err();
    assert!(
        matches!(&err, SimError::Step { step: 4, message } if message.contains("no unit of shell is left")),
        "{err}"
    );
}

#[test]
fn remove_relation_empties_relation_list_one_remote_unit_at_a_time() {
    let dir = tempfile::tempdir().unwrap();
    let mut sim = shell_sim(dir.path());
    add_remote_apps(&mut sim);
    run(
        &mut sim,
        1,
        "  - deploy: {units: 1}\n  - relate: {endpoint: database, app: db, remote-endpoint: server}\n",
    );
    let before = logged(&sim, "shell/0").len();
    run(
        &mut sim,
        3,
        "  - remove-relation: {endpoint: database, app: db}\n",
    );
    let seen = logged(&sim, "shell/0");
    let got: Vec<_> = seen[before..]
        .iter()
        .map(|l| (l.0.as_str(), l.2.as_str(), l.3.as_str(), l.4.clone()))
        .collect();
    assert_eq!(
        got,
        [
            (
                "database-relation-departed",
                "db/0",
                "db/0",
                vec!["db/1".to_string()]
            ),
            ("database-relation-departed", "db/1", "db/1", vec![]),
            ("database-relation-broken", "", "", vec![]),
        ]
    );
}

#[test]
fn relation_changed_for_a_unit_never_comes_before_joined_for_it() {
    let dir = tempfile::tempdir().unwrap();
    let mut sim = hello_sim(dir.path(), false);
    run(
        &mut sim,
        1,
        "  - deploy: {units: 3}\n  - config: {greeting: hi}\n  - add-unit: {}\n",
    );
    let records = sim.records();
    let mut checked = 0;
    for (i, r) in records.iter().enumerate() {
        let Some(remote) = &r.remote_unit else {
            continue;
        };
        if !r.hook.ends_with("-relation-changed") {
            continue;
        }
        checked += 1;
        let joined_before = records[..i].iter().any(|e| {
            e.unit == r.unit
                && e.hook.ends_with("-relation-joined")
                && e.remote_unit.as_ref() == Some(remote)
        });
        assert!(
            joined_before,
            "{} got {} for {remote} before relation-joined for it (hook #{i})",
            r.unit, r.hook
        );
    }
    assert!(
        checked >= 8,
        "only {checked} relation-changed hooks from units"
    );
}

#[test]
fn config_refuses_undeclared_options_and_wrong_types() {
    let dir = tempfile::tempdir().unwrap();
    let mut sim = hello_sim(dir.path(), false);
    run(&mut sim, 1, "  - deploy: {units: 1}\n");
    let ran = sim.records().len();
    for (steps, key) in [
        ("  - config: {colour: blue}\n", "colour"),
        ("  - config: {greeting: 3}\n", "greeting"),
    ] {
        let scenario = parse_steps(steps);
        let err = sim.step(2, &scenario.steps[0]).unwrap_err();
        assert!(matches!(err, SimError::Step { step: 2, .. }), "{err}");
        let message = err.to_string();
        assert!(
            message.contains("step 2") && message.contains(&format!("\"{key}\"")),
            "{message}"
        );
    }
    assert_eq!(sim.records().len(), ran, "a refused config ran hooks");
    let juju = load_state(sim.state_path()).unwrap();
    assert_eq!(juju.config(HELLO)["greeting"], "hello");
    // A declared option of the right type is taken; null resets it.
    run(&mut sim, 3, "  - config: {greeting: hi}\n");
    assert_eq!(
        load_state(sim.state_path()).unwrap().config(HELLO)["greeting"],
        "hi"
    );
    run(&mut sim, 4, "  - config: {greeting: null}\n");
    assert_eq!(
        load_state(sim.state_path()).unwrap().config(HELLO)["greeting"],
        "hello"
    );
}

#[test]
fn relation_ids_are_model_wide_and_fill_the_placeholder() {
    let dir = tempfile::tempdir().unwrap();
    let mut sim = shell_sim(dir.path());
    add_remote_apps(&mut sim);
    run(
        &mut sim,
        1,
        "  - deploy: {units: 1}\n\
         \x20 - relate: {endpoint: database, app: db, remote-endpoint: server,\n\
         \x20            app-data: {username: \"relation_id_{relation-id}\"},\n\
         \x20            unit-data: {db/0: {id: \"{relation-id}\"}}}\n\
         \x20 - relate: {endpoint: database, app: db2, remote-endpoint: server,\n\
         \x20            app-data: {username: \"relation_id_{relation-id}\"}}\n",
    );
    let report = sim.report().unwrap();
    let ids: Vec<u32> = report.relations.iter().map(|r| r.id).collect();
    assert_eq!(ids.len(), 3, "peers, db and db2");
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "{ids:?}");
    for (app, relation) in [("db", &report.relations[1]), ("db2", &report.relations[2])] {
        assert_eq!(relation.remote_app, app);
        assert_eq!(
            relation.databags[app]["username"],
            format!("relation_id_{}", relation.id)
        );
    }
    assert_eq!(
        report.relations[1].databags["db/0"]["id"],
        report.relations[1].id.to_string()
    );
}

#[test]
fn app_secrets_are_owned_by_the_remote_app_granted_and_named_in_its_bag() {
    let dir = tempfile::tempdir().unwrap();
    let mut sim = shell_sim(dir.path());
    add_remote_apps(&mut sim);
    run(
        &mut sim,
        1,
        "  - deploy: {units: 1}\n\
         \x20 - relate: {endpoint: database, app: db, remote-endpoint: server,\n\
         \x20            app-data: {endpoints: \"127.0.0.1:5432\"},\n\
         \x20            app-secrets: {secret-user: {username: \"relation_id_{relation-id}\", password: pw}}}\n",
    );
    let report = sim.report().unwrap();
    let relation = &report.relations[1];
    let bag = &relation.databags["db"];
    assert_eq!(bag["endpoints"], "127.0.0.1:5432");
    let juju = load_state(sim.state_path()).unwrap();
    let secret = &juju.secrets[&bag["secret-user"]];
    assert_eq!(secret.owner, "db");
    assert_eq!(
        secret.revisions[&1]["username"],
        format!("relation_id_{}", relation.id)
    );
    assert_eq!(secret.revisions[&1]["password"], "pw");
    assert_eq!(
        (secret.grants.len(), secret.grants[0].relation),
        (1, relation.id)
    );
}

#[test]
fn a_relative_workdir_works() {
    let dir = tempfile::tempdir().unwrap();
    let charm = hello_charm_dir(dir.path(), false);
    assert!(charm.ends_with("charm"));
    std::fs::write(
        dir.path().join("s.yaml"),
        "charm: {dir: charm}\nsteps:\n  - deploy: {units: 2}\n",
    )
    .unwrap();
    let ops_sim = cargo_bin("juju-ops-testing", "ops-sim").unwrap();
    let output = Command::new(&ops_sim)
        .current_dir(dir.path())
        .args(["s.yaml", "--workdir", "wd", "--format", "json", "--hooks"])
        .arg("--charm-binary")
        .arg(hello_binary())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let hooks = report["hooks"].as_array().unwrap();
    assert!(hooks.len() >= 10, "{hooks:#?}");
    assert!(hooks.iter().all(|h| h["exit_code"] == 0), "{stderr}");
    assert!(dir.path().join("wd/model.json").exists());
}

#[test]
fn a_charm_finds_its_own_pebble_at_the_juju_path() {
    assert!(
        std::env::var_os(ops::CONTAINERS_DIR_VAR).is_none(),
        "this test needs OPS_CONTAINERS_DIR unset"
    );
    let dir = tempfile::tempdir().unwrap();
    let mut sim = shell_sim(dir.path());
    assert_eq!(
        sim.pebble_access(),
        PebbleAccess::MountNamespace,
        "{:?}",
        sim.pebble_fallback()
    );
    run(&mut sim, 1, "  - deploy: {units: 2}\n");
    let juju = load_state(sim.state_path()).unwrap();
    let mut inodes = Vec::new();
    for unit in ["shell/0", "shell/1"] {
        let socket = sim.pebble(unit, "web").unwrap().socket_path().to_path_buf();
        let inode = std::fs::metadata(&socket).unwrap().ino().to_string();
        let state = &juju.units[unit].state;
        assert_eq!(state["socket-inode"], inode, "{unit} saw another socket");
        assert_eq!(state["containers-var"], "unset");
        inodes.push(inode);
    }
    assert_ne!(inodes[0], inodes[1]);
}

#[test]
fn signals_show_per_service_beside_restarts() {
    let dir = tempfile::tempdir().unwrap();
    let mut sim = shell_sim(dir.path());
    run(&mut sim, 1, "  - deploy: {units: 1}\n");
    let client = sim.pebble("shell/0", "web").unwrap().client();
    let mut layer = Layer::default();
    layer.services.insert(
        "web".into(),
        Service {
            override_: Some(Override::Replace),
            command: Some("web".into()),
            startup: Some(ServiceStartup::Enabled),
            ..Default::default()
        },
    );
    client.add_layer("web", &layer, true).unwrap();
    client.replan_services().unwrap();
    client.send_signal("SIGHUP", &["web"]).unwrap();
    client.send_signal("SIGUSR1", &["web"]).unwrap();
    let report = sim.report().unwrap();
    let web = &report.units["shell/0"].containers["web"].services["web"];
    assert_eq!(web.signals, ["SIGHUP", "SIGUSR1"]);
    assert_eq!((web.starts, web.restarts, web.stops), (1, 0, 0));
}

#[test]
fn pebble_notify_records_the_notice_and_runs_the_custom_notice_hook() {
    let dir = tempfile::tempdir().unwrap();
    let mut sim = shell_sim(dir.path());
    run(
        &mut sim,
        1,
        "  - deploy: {units: 2}\n  - pebble-notify: {unit: shell/1, key: example.com/db-ready, data: {path: /srv}}\n",
    );
    let notices = sim.pebble("shell/1", "web").unwrap().notices();
    assert_eq!(notices.len(), 1);
    let notice = &notices[0];
    assert_eq!(notice.key, "example.com/db-ready");
    assert_eq!(notice.last_data["path"], "/srv");
    assert!(sim.pebble("shell/0", "web").unwrap().notices().is_empty());
    let step2: Vec<&str> = sim
        .records()
        .iter()
        .filter(|r| r.step == 2)
        .map(|r| r.hook.as_str())
        .collect();
    assert_eq!(step2, ["web-pebble-custom-notice"]);
    let juju = load_state(sim.state_path()).unwrap();
    assert_eq!(
        juju.units["shell/1"].state["notice"],
        format!("web {} custom example.com/db-ready", notice.id)
    );

    // The same key again: the same notice, one more occurrence, the hook again.
    run(
        &mut sim,
        3,
        "  - pebble-notify: {unit: shell/1, container: web, key: example.com/db-ready}\n",
    );
    let notices = sim.pebble("shell/1", "web").unwrap().notices();
    assert_eq!((notices.len(), notices[0].occurrences), (1, 2));
    assert!(notices[0].last_data.is_empty());
    assert_eq!(sim.records().iter().filter(|r| r.step == 3).count(), 1);

    // What the step refuses: Pebble's key rules, unknown containers and units.
    for (step, message) in [
        (
            "{unit: shell/0, key: db-ready}",
            "invalid key \"db-ready\" (must be in \"example.com/path\" format)",
        ),
        (
            "{unit: shell/0, container: db, key: a.b/c}",
            "the charm has no container db",
        ),
        ("{unit: shell/9, key: a.b/c}", "no unit shell/9"),
    ] {
        let scenario = parse_steps(&format!("  - pebble-notify: {step}\n"));
        let err = sim.step(4, &scenario.steps[0]).unwrap_err();
        assert!(matches!(err, SimError::Step { step: 4, .. }), "{err}");
        assert!(err.to_string().ends_with(message), "{err}");
    }
    sim.pebble("shell/0", "web").unwrap().set_can_connect(false);
    let scenario = parse_steps("  - pebble-notify: {unit: shell/0, key: a.b/c}\n");
    let err = sim.step(5, &scenario.steps[0]).unwrap_err();
    assert!(
        err.to_string().ends_with("shell/0's web Pebble is not up"),
        "{err}"
    );
}
