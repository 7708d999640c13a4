//! pgbouncer-k8s run compiled, under the simulator (`ops-sim`'s engine:
//! one process per hook, hook-tool executables, a fake Pebble on a
//! socket), and carried on in process. Apart from the in-process target
//! (`in_process`: `harness`, `state_transitions`, ...): a test here builds and starts
//! the charm binary, seconds where those take well under a millisecond.

mod support;

use pgbouncer_k8s::peers::{CFG_FILE, PEERS, PRIVATE_ADDRESS, unit_hostname};
use pgbouncer_k8s::pgb_config;
use support::context::{CONTAINER, ctx, file, reloaded};

/// A State loaded from a unit the simulator ran (the compiled charm, one
/// process per hook): the follower's databags and files are there, and
/// the same peer event run in a Context on it changes nothing.
#[test]
fn a_simulated_follower_continues_in_a_context() {
    use ops_testing::binaries::{cargo_bin, hook_tool};
    use ops_testing::sim::{Scenario, Simulator};

    let dir = tempfile::tempdir().unwrap();
    let binary = cargo_bin("pgbouncer-k8s", "pgbouncer-k8s").unwrap();
    let charm_dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut sim = Simulator::new(
        dir.path(),
        "pgb",
        charm_dir,
        Some(&binary),
        None,
        &hook_tool().unwrap(),
    )
    .unwrap();
    let scenario = Scenario::parse(
        "charm: {dir: .}\nsteps:\n  - deploy: {units: 2}\n",
        std::path::Path::new("inline.yaml"),
    )
    .unwrap();
    for (i, step) in scenario.steps.iter().enumerate() {
        sim.step(i + 1, step).unwrap();
    }
    let report = sim.report().unwrap();
    let follower = report
        .units
        .iter()
        .find(|(_, u)| !u.leader)
        .map(|(name, _)| name.clone())
        .unwrap();
    let number: u32 = follower.rsplit_once('/').unwrap().1.parse().unwrap();

    let mut ctx = ctx(number).with_model_name("pgb");
    let state = ctx.state_from_simulator(&sim, &follower).unwrap();
    assert!(!state.leader);
    let peers = state.relation_on(PEERS).expect("the peer relation").clone();
    let cfg = peers.local_app_data[CFG_FILE].clone();
    assert_eq!(
        peers.local_unit_data[PRIVATE_ADDRESS],
        unit_hostname(&follower, "pgb")
    );
    assert_eq!(file(&state, pgb_config::INI_PATH), Some(cfg.as_str()));
    ctx.check(&ctx.on.relation_changed(&peers), &state).unwrap();

    let leader = *peers.remote_units_data.keys().next().unwrap();
    let out = ctx
        .run(
            ctx.on.relation_changed(&peers).with_remote_unit(leader),
            &state,
        )
        .unwrap();
    assert_eq!(file(&out, pgb_config::INI_PATH), Some(cfg.as_str()));
    assert!(!reloaded(&ctx), "{:?}", ctx.service_events(CONTAINER));
    assert!(out.deferred.is_empty(), "{:?}", out.deferred_events());
}
