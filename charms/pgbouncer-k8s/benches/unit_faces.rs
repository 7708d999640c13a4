//! What a unit test of the charm costs, per test, on the scenarios that
//! `benches/support/unit_faces.py` runs on the Python port of the charm
//! (tests/python-pgbouncer) with Python ops' `Harness` and
//! `ops.testing.Context`: the same pgb-peers logic, through both of our
//! faces. `benches/unit-tests-vs-python` runs the two side by side and
//! prints the ratios (docs/performance.md, "Unit tests against Python's").
//!
//! Each run is a whole test: the face and its state built, one event (or,
//! with the Harness, the calls a Harness test makes), the outcome checked
//! (a run whose outcome is wrong stops the bench), everything dropped.
//! Built in the profile `cargo test` uses, since that is what an author's
//! test costs:
//!
//! ```text
//! cargo bench -p pgbouncer-k8s --bench unit_faces --profile test -- --runs 200
//! ```
//!
//! One JSON object per face and scenario on stdout, in the shape the
//! Python script prints.

#[path = "../tests/support/mod.rs"]
mod support;

use std::hint::black_box;
use std::time::Instant;

use ops::pebble::{PushOptions, ServiceStatus};
use ops_testing::Harness;
use ops_testing::context::{Container, File, Relation, State};
use pgbouncer_k8s::PgbouncerK8sCharm;
use pgbouncer_k8s::auth::AuthFile;
use pgbouncer_k8s::credentials::{AUTH_FILE_KEY, SECRET_ID, SECRET_REVISION};
use pgbouncer_k8s::peers::{CFG_FILE, LEADER_HOSTNAME, PEERS, PRIVATE_ADDRESS, unit_hostname};
use pgbouncer_k8s::pgb_config::{self, PgbConfig};
use pgbouncer_k8s::settings::PoolMode;
use support::context::{CONTAINER, ctx, file, pgbouncer_layer, reloaded};

const APP: &str = "pgbouncer-k8s";

/// What the scenarios share, made once: the configs and the auth file are
/// the test's data, not what is measured (a SCRAM verifier costs more
/// than a test).
struct Fixtures {
    config: PgbConfig,
    changed: PgbConfig,
    auth: AuthFile,
}

impl Fixtures {
    fn new() -> Self {
        let instances = pgb_config::instance_count(pgb_config::available_cpus());
        let config = |max| PgbConfig::default_for(instances, max, 6432, PoolMode::Session).unwrap();
        let mut auth = AuthFile::default();
        auth.set_user("pgbouncer_auth_relation_id_7", "pw").unwrap();
        Self {
            config: config(100),
            changed: config(44),
            auth,
        }
    }

    fn instances(&self) -> usize {
        pgb_config::instance_count(pgb_config::available_cpus())
    }
}

// ---- Context -----------------------------------------------------------

fn host(n: u32, model: &str) -> String {
    unit_hostname(&format!("{APP}/{n}"), model)
}

/// The container with `config` rendered, the auth file, PgBouncer running.
fn running(f: &Fixtures, config: &PgbConfig) -> Container {
    let mut c = Container::new(CONTAINER)
        .with_can_connect(true)
        .with_file(pgb_config::INI_PATH, File::new(config.render()))
        .with_file(
            pgb_config::AUTH_FILE_PATH,
            File::new(f.auth.render()).with_mode(0o400),
        )
        .with_layer("pgbouncer", pgbouncer_layer(f.instances()));
    for n in 0..f.instances() {
        c = c
            .with_file(
                &pgb_config::instance_ini_path(n),
                File::new(config.render_instance(n)),
            )
            .with_service_status(&format!("pgbouncer_{n}"), ServiceStatus::Active);
    }
    c
}

fn context_leader_defers_without_config(_: &Fixtures) {
    let mut ctx = ctx(0);
    let peers = Relation::peer(PEERS);
    let state = State::default()
        .with_leader(true)
        .with_relation(peers.clone())
        .with_container(Container::new(CONTAINER).with_can_connect(true));
    let out = ctx.run(ctx.on.relation_created(&peers), &state).unwrap();
    assert!(
        out.deferred_events()
            .contains(&"pgb_peers_relation_created"),
        "not deferred: {:?}",
        out.deferred_events()
    );
    let bag = &out.relation(peers.id).unwrap().local_app_data;
    assert!(!bag.contains_key(CFG_FILE));
}

fn context_leader_shares_config(f: &Fixtures) {
    let mut ctx = ctx(0);
    let peers =
        Relation::peer(PEERS).with_remote_unit(1, [(PRIVATE_ADDRESS, host(1, "context").as_str())]);
    let state = State::default()
        .with_leader(true)
        .with_relation(peers.clone())
        .with_container(running(f, &f.config));
    let event = ctx.on.relation_changed(&peers).with_remote_unit(1);
    let out = ctx.run(event, &state).unwrap();
    let bag = &out.relation(peers.id).unwrap().local_app_data;
    assert_eq!(bag[CFG_FILE], f.config.render());
    assert_eq!(bag[LEADER_HOSTNAME], host(0, "context"));
    assert!(
        bag.contains_key(SECRET_ID),
        "the application's secret not made"
    );
    assert!(out.deferred.is_empty(), "{:?}", out.deferred_events());
}

fn context_follower_writes_config(f: &Fixtures) {
    let mut ctx = ctx(1);
    let auth = f.auth.render();
    let secret = ops_testing::context::Secret::new([(AUTH_FILE_KEY, auth.as_str())]);
    let cfg = f.changed.render();
    let peers = Relation::peer(PEERS)
        .with_remote_unit(0, [(PRIVATE_ADDRESS, host(0, "context").as_str())])
        .with_local_app_data([
            (CFG_FILE, cfg.as_str()),
            (SECRET_ID, secret.id.as_str()),
            (SECRET_REVISION, "1"),
        ]);
    let state = State::default()
        .with_secret(secret.clone())
        .with_relation(peers.clone())
        .with_container(running(f, &f.config));
    let event = ctx.on.relation_changed(&peers).with_remote_unit(0);
    let out = ctx.run(event, &state).unwrap();
    assert_eq!(file(&out, pgb_config::INI_PATH), Some(cfg.as_str()));
    assert!(reloaded(&ctx), "{:?}", ctx.service_events(CONTAINER));
    assert!(out.deferred.is_empty(), "{:?}", out.deferred_events());
}

// ---- Harness -----------------------------------------------------------

/// Writes the rendered config, its instance files and the auth file into
/// the Harness' container, as an earlier hook (or the image) left them.
fn put_files(h: &Harness<PgbouncerK8sCharm>, f: &Fixtures, config: &PgbConfig) {
    let mut files = vec![
        (pgb_config::INI_PATH.to_string(), config.render()),
        (pgb_config::AUTH_FILE_PATH.to_string(), f.auth.render()),
    ];
    for n in 0..f.instances() {
        files.push((pgb_config::instance_ini_path(n), config.render_instance(n)));
    }
    let pebble = h.container_pebble(CONTAINER).unwrap().client();
    for (path, text) in files {
        pebble
            .push(&path, text, &PushOptions::new().with_make_dirs(true))
            .unwrap();
    }
    // PgBouncer running, as the charm's layer runs it.
    pebble
        .add_layer("pgbouncer", &pgbouncer_layer(f.instances()), true)
        .unwrap();
    pebble.replan_services().unwrap();
}

fn harness_leader_defers_without_config(_: &Fixtures) {
    let mut h = support::harness();
    h.set_leader(true).unwrap();
    h.begin();
    h.set_can_connect(CONTAINER, true).unwrap();
    let peers = h.add_relation(PEERS, APP).unwrap();
    assert!(
        h.notices()
            .iter()
            .any(|n| n.event == "pgb_peers_relation_created"),
        "not deferred: {:?}",
        h.notices()
    );
    assert!(!h.get_relation_data(peers, APP).contains_key(CFG_FILE));
}

fn harness_leader_shares_config(f: &Fixtures) {
    let mut h = support::harness();
    h.set_leader(true).unwrap();
    h.begin();
    h.set_can_connect(CONTAINER, true).unwrap();
    put_files(&h, f, &f.config);
    let peers = h.hooks_disabled(|h| h.add_relation(PEERS, APP).unwrap());
    h.hooks_disabled(|h| h.add_relation_unit(peers, "pgbouncer-k8s/1").unwrap());
    let unit = "pgbouncer-k8s/1";
    h.update_relation_data(peers, unit, &[(PRIVATE_ADDRESS, &host(1, "harness"))])
        .unwrap();
    let bag = h.get_relation_data(peers, APP);
    assert_eq!(bag[CFG_FILE], f.config.render());
    assert_eq!(bag[LEADER_HOSTNAME], host(0, "harness"));
    assert!(
        bag.contains_key(SECRET_ID),
        "the application's secret not made"
    );
}

fn harness_follower_writes_config(f: &Fixtures) {
    let mut h = support::harness();
    h.begin();
    h.set_can_connect(CONTAINER, true).unwrap();
    put_files(&h, f, &f.config);
    let peers = h.hooks_disabled(|h| {
        let peers = h.add_relation(PEERS, APP).unwrap();
        h.add_relation_unit(peers, "pgbouncer-k8s/1").unwrap();
        let secret = h.add_secret(APP, &[(AUTH_FILE_KEY, &f.auth.render())]);
        h.update_relation_data(peers, APP, &[(SECRET_ID, &secret), (SECRET_REVISION, "1")])
            .unwrap();
        peers
    });
    let cfg = f.changed.render();
    h.update_relation_data(peers, APP, &[(CFG_FILE, &cfg)])
        .unwrap();
    assert_eq!(support::file(&h, pgb_config::INI_PATH), Some(cfg));
    assert!(
        support::reloads(&h) + support::restarts(&h) > 0,
        "not reloaded"
    );
}

// ---- the bench ---------------------------------------------------------

type Scenario = fn(&Fixtures);

const SCENARIOS: [(&str, &str, Scenario); 6] = [
    (
        "harness",
        "leader_defers_without_config",
        harness_leader_defers_without_config,
    ),
    (
        "harness",
        "leader_shares_config",
        harness_leader_shares_config,
    ),
    (
        "harness",
        "follower_writes_config",
        harness_follower_writes_config,
    ),
    (
        "context",
        "leader_defers_without_config",
        context_leader_defers_without_config,
    ),
    (
        "context",
        "leader_shares_config",
        context_leader_shares_config,
    ),
    (
        "context",
        "follower_writes_config",
        context_follower_writes_config,
    ),
];

/// CPU time of this thread so far, in nanoseconds: the first field of
/// the scheduler's statistics (`proc(5)`, `/proc/<pid>/schedstat`).
fn thread_cpu_ns() -> u128 {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|stat| stat.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

fn percentile(sorted: &[u128], p: f64) -> u128 {
    let index = ((sorted.len() - 1) as f64 * p).round() as usize;
    sorted[index]
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let value_of = |flag: &str| {
        args.iter()
            .position(|a| a == flag)
            .and_then(|i| args.get(i + 1))
            .cloned()
    };
    let runs: usize = value_of("--runs")
        .map(|v| v.parse().expect("--runs takes a number"))
        .unwrap_or(200);
    let only = value_of("--only");
    let fixtures = Fixtures::new();
    for (face, name, scenario) in SCENARIOS {
        if only.as_deref().is_some_and(|o| o != name) {
            continue;
        }
        for _ in 0..(runs / 10).max(3) {
            scenario(black_box(&fixtures));
        }
        let mut times = Vec::with_capacity(runs);
        let cpu_start = thread_cpu_ns();
        for _ in 0..runs {
            let start = Instant::now();
            scenario(black_box(&fixtures));
            times.push(start.elapsed().as_nanos());
        }
        let cpu = thread_cpu_ns() - cpu_start;
        times.sort_unstable();
        let mean = times.iter().sum::<u128>() as f64 / runs as f64;
        println!(
            "{{\"face\": \"{face}\", \"scenario\": \"{name}\", \"runs\": {runs}, \
             \"median_us\": {:.1}, \"mean_us\": {:.1}, \"p90_us\": {:.1}, \"cpu_mean_us\": {:.1}}}",
            percentile(&times, 0.5) as f64 / 1000.0,
            mean / 1000.0,
            percentile(&times, 0.9) as f64 / 1000.0,
            cpu as f64 / runs as f64 / 1000.0,
        );
    }
}
