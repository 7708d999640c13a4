//! hello-peers as Juju runs it: the compiled binary, one process per event,
//! under the unit simulator with the fake hook tools.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use ops_testing::binaries::hook_tool;
use ops_testing::fake_juju::cli::STATE_VAR;
use ops_testing::sim::{Scenario, Simulator};

const CHARM_DIR: &str = env!("CARGO_MANIFEST_DIR");

fn simulator(dir: &Path) -> Simulator {
    let binary = Path::new(env!("CARGO_BIN_EXE_hello-peers"));
    Simulator::new(
        dir,
        "demo",
        Path::new(CHARM_DIR),
        Some(binary),
        None,
        &hook_tool().unwrap(),
    )
    .unwrap()
}

fn scenario(steps: &str) -> Scenario {
    Scenario::parse(
        &format!("charm: {{dir: .}}\nsteps:\n{steps}"),
        Path::new("inline.yaml"),
    )
    .unwrap()
}

#[test]
fn deferred_event_is_reemitted_in_the_next_process_and_state_survives() {
    let dir = tempfile::tempdir().unwrap();
    let mut sim = simulator(dir.path());
    for (i, step) in scenario("  - deploy: {units: 2}\n  - config: {greeting: bonjour}\n")
        .steps
        .iter()
        .enumerate()
    {
        sim.step(i + 1, step).unwrap();
    }
    let report = sim.report().unwrap();
    assert!(
        report.hooks.iter().all(|h| h.exit_code == 0),
        "{:#?}",
        report.hooks
    );
    let peers = &report.relations[0];
    assert_eq!(peers.databags["hello-peers"]["greeting"], "bonjour");
    assert_eq!(peers.databags["hello-peers/1"]["seen-greeting"], "bonjour");
    assert_eq!(
        report.units["hello-peers/1"].status,
        "active: greeting: bonjour"
    );

    // The follower deferred relation-changed while the leader had not shared
    // a greeting yet; a later process re-emitted it.
    let state: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(
            dir.path()
                .join("units/hello-peers-1/charm/.unit-state.json"),
        )
        .unwrap(),
    )
    .unwrap();
    assert_eq!(state["notices"], serde_json::json!([]));
    let seen = state["stored"]["HelloPeers/StoredState[memory]"]["events_seen"]
        .as_u64()
        .unwrap();
    assert!(
        seen >= 6,
        "install, created, config x2, start, peer events: {seen}"
    );
}

#[test]
fn leader_change_and_unit_removal() {
    let dir = tempfile::tempdir().unwrap();
    let mut sim = simulator(dir.path());
    let steps = scenario(
        "  - deploy: {units: 3}\n  - remove-unit: {unit: hello-peers/0}\n  - expire-lease: {}\n  - config: {greeting: hola}\n  - add-unit: {}\n",
    );
    for (i, step) in steps.steps.iter().enumerate() {
        sim.step(i + 1, step).unwrap();
    }
    let report = sim.report().unwrap();
    assert!(
        report.hooks.iter().all(|h| h.exit_code == 0),
        "{:#?}",
        report.hooks
    );
    assert!(report.units["hello-peers/1"].leader);
    assert!(!report.units.contains_key("hello-peers/0"));
    let peers = &report.relations[0];
    assert_eq!(peers.databags["hello-peers"]["greeting"], "hola");
    for unit in ["hello-peers/2", "hello-peers/3"] {
        assert_eq!(peers.databags[unit]["seen-greeting"], "hola", "{unit}");
    }
}

#[test]
fn operator_dispatch_reentry_exits_zero_without_touching_state() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_hello-peers"))
        // As ops sets it for the processes it starts: this dispatch's path.
        .env("OPERATOR_DISPATCH", "hooks/install")
        .env("JUJU_DISPATCH_PATH", "hooks/install")
        .env("JUJU_UNIT_NAME", "hello-peers/0")
        .env("JUJU_CHARM_DIR", dir.path())
        .env("PATH", "/nonexistent")
        .output()
        .unwrap();
    assert!(out.status.success());
    assert!(!dir.path().join(".unit-state.json").exists());
}

#[test]
fn missing_juju_environment_is_a_clear_failure() {
    let out = Command::new(env!("CARGO_BIN_EXE_hello-peers"))
        .env_clear()
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("JUJU_DISPATCH_PATH"));
}

#[test]
fn sigkill_mid_dispatch_leaves_the_last_committed_state() {
    let dir = tempfile::tempdir().unwrap();
    let mut sim = simulator(dir.path());
    for (i, step) in scenario("  - deploy: {units: 1}\n")
        .steps
        .iter()
        .enumerate()
    {
        sim.step(i + 1, step).unwrap();
    }
    let charm = dir.path().join("units/hello-peers-0/charm");
    let state_file = charm.join(".unit-state.json");
    let committed = std::fs::read(&state_file).unwrap();

    // A relation-set that never returns: the dispatch is killed after its
    // handlers ran and before it committed.
    let slow = dir.path().join("slow-tools");
    std::fs::create_dir_all(&slow).unwrap();
    let script = slow.join("relation-set");
    let marker = dir.path().join("relation-set.pid");
    std::fs::write(
        &script,
        format!("#!/bin/sh\necho $$ > {}\nexec sleep 30\n", marker.display()),
    )
    .unwrap();
    std::fs::set_permissions(&script, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let path = format!(
        "{}:{}:{}",
        slow.display(),
        dir.path().join("tools").display(),
        std::env::var("PATH").unwrap()
    );
    let mut child = Command::new(charm.join("dispatch"))
        .current_dir(&charm)
        .env("PATH", path)
        .env(STATE_VAR, sim.state_path())
        .env("JUJU_DISPATCH_PATH", "hooks/config-changed")
        .env("JUJU_UNIT_NAME", "hello-peers/0")
        .env("JUJU_MODEL_NAME", "demo")
        .env("JUJU_CHARM_DIR", &charm)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // Wait (bounded) until the dispatch is blocked inside relation-set.
    let mut sleeper = None;
    for _ in 0..200 {
        if let Ok(pid) = std::fs::read_to_string(&marker)
            && !pid.trim().is_empty()
        {
            sleeper = Some(pid.trim().to_string());
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let sleeper = sleeper.expect("the dispatch never reached relation-set");
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    let _ = Command::new("kill").args(["-9", &sleeper]).status();
    assert_eq!(
        std::fs::read(&state_file).unwrap(),
        committed,
        "state changed by a killed dispatch"
    );
    let parsed: serde_json::Value = serde_json::from_slice(&committed).unwrap();
    assert!(parsed["event_count"].as_u64().unwrap() > 0);
}

#[test]
fn a_failing_hook_is_reported_and_retried_first_without_losing_the_model() {
    let dir = tempfile::tempdir().unwrap();
    let mut sim = simulator(dir.path());
    let steps =
        scenario("  - deploy: {units: 2}\n  - config: {greeting: first}\n  - update-status: {}\n");
    sim.step(1, &steps.steps[0]).unwrap();

    // Juju's config-get breaks for a while: the config-changed hooks fail.
    let tool = dir.path().join("tools/config-get");
    let real = std::fs::read_link(&tool).unwrap();
    std::fs::remove_file(&tool).unwrap();
    std::fs::write(
        &tool,
        "#!/bin/sh\necho 'ERROR connection to the controller lost' >&2\nexit 1\n",
    )
    .unwrap();
    std::fs::set_permissions(&tool, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    sim.step(2, &steps.steps[1]).unwrap();
    let failed: Vec<_> = sim
        .records()
        .iter()
        .filter(|h| h.exit_code != 0)
        .cloned()
        .collect();
    assert!(!failed.is_empty());
    assert!(
        failed.iter().all(|h| h.hook == "config-changed"),
        "{failed:#?}"
    );
    assert!(
        failed[0]
            .stderr
            .as_deref()
            .unwrap_or_default()
            .contains("connection to the controller lost"),
        "{failed:#?}"
    );
    let greeting_before = sim.report().unwrap().relations[0].databags["hello-peers"]
        .get("greeting")
        .cloned();
    assert_eq!(
        greeting_before.as_deref(),
        Some("hello"),
        "the failed hook's writes were dropped"
    );

    // The controller is back: the failed hook runs again first, and succeeds.
    std::fs::remove_file(&tool).unwrap();
    std::os::unix::fs::symlink(real, &tool).unwrap();
    let before = sim.records().len();
    sim.step(3, &steps.steps[2]).unwrap();
    let retried = &sim.records()[before];
    assert_eq!(
        (retried.hook.as_str(), retried.exit_code),
        ("config-changed", 0)
    );
    let report = sim.report().unwrap();
    assert_eq!(
        report.relations[0].databags["hello-peers"]["greeting"],
        "first"
    );
    assert_eq!(
        report.relations[0].databags["hello-peers/1"]["seen-greeting"],
        "first"
    );
}

#[test]
fn tracing_lines_reach_juju_log_from_the_compiled_charm() {
    let dir = tempfile::tempdir().unwrap();
    let mut sim = simulator(dir.path());
    for (i, step) in scenario("  - deploy: {units: 1}\n")
        .steps
        .iter()
        .enumerate()
    {
        sim.step(i + 1, step).unwrap();
    }
    let juju = ops_testing::fake_juju::cli::load_state(sim.state_path()).unwrap();
    let logs = juju.logs_of("hello-peers/0");
    assert!(
        logs.iter().any(|l| l.level == "DEBUG" && l.message.starts_with("emitting HelloPeers/on/install[")),
        "{logs:#?}"
    );
}
