//! What a unit test costs: the same pgbouncer-k8s-like scenarios written
//! with `Context`/`State` and with the `Harness`, timed per test.
//!
//! `cargo bench -p juju-ops-testing --bench context` (add `-- <iterations>` to
//! change the count). The charm below does what pgbouncer-k8s does on
//! pgb-peers: publish its hostname, share the config from the leader, write
//! the leader's files on a follower and restart PgBouncer when they changed.

use std::time::{Duration, Instant};

use ops::events::{RelationChanged, Start};
use ops::pebble::{Layer, Override, PushOptions, Service, ServiceStartup, ServiceStatus};
use ops::{Charm, Ctx, Framework, HandlerError, HandlerResult, Outcome};
use ops_testing::Harness;
use ops_testing::context::{Container, Context, File, Relation, State};

const META: &str = r#"
name: pgb
containers: {pgbouncer: {}}
peers: {pgb-peers: {interface: pgb_peers}}
config: {options: {listen_port: {type: int, default: 6432}}}
"#;
const INI: &str = "/var/lib/pgbouncer/pgbouncer.ini";
const SERVICES: [&str; 2] = ["pgbouncer_0", "pgbouncer_1"];

struct Pgb;

impl Charm for Pgb {
    fn new(fw: &mut Framework<Self>) -> Result<Self, HandlerError> {
        fw.observe(Self::on_start)?
            .observe_relation("pgb-peers", Self::on_peers_changed)?;
        Ok(Pgb)
    }
}

fn rendered(port: i64) -> String {
    format!("[pgbouncer]\nlisten_port = {port}\npool_mode = session\n")
}

impl Pgb {
    fn on_start(&mut self, _: &Start, ctx: &mut Ctx) -> HandlerResult<Outcome> {
        let model = ctx.model();
        let Some(peers) = model.relation("pgb-peers")? else {
            return Ok(Outcome::Defer);
        };
        if model.is_leader()? {
            let port = model.config()?.get::<i64>("listen_port")?.unwrap_or(6432);
            model
                .local_app_data(&peers)
                .set("cfg_file", &rendered(port))?;
        }
        Ok(Outcome::Done)
    }

    fn on_peers_changed(&mut self, e: &RelationChanged, ctx: &mut Ctx) -> HandlerResult<Outcome> {
        let model = ctx.model();
        let Some(peers) = model.relation_by_id("pgb-peers", e.relation.id)? else {
            return Ok(Outcome::Done);
        };
        let host = format!("{}.pgb-endpoints", model.unit().name().replace('/', "-"));
        model
            .local_unit_data(&peers)
            .set("private-address", &host)?;
        let container = model.container("pgbouncer")?;
        if model.is_leader()? {
            let Ok(local) = container.pull(INI) else {
                return Ok(Outcome::Defer);
            };
            let text = String::from_utf8_lossy(&local).into_owned();
            model.local_app_data(&peers).set("cfg_file", &text)?;
            model.local_app_data(&peers).set("leader_hostname", &host)?;
            return Ok(Outcome::Done);
        }
        let Some(shared) = model.local_app_data(&peers).get("cfg_file")? else {
            return Ok(Outcome::Done);
        };
        if !container.can_connect() {
            return Ok(Outcome::Defer);
        }
        let local = container.pull(INI).unwrap_or_default();
        if local == shared.as_bytes() {
            return Ok(Outcome::Done);
        }
        let options = PushOptions::new().with_make_dirs(true);
        container.push(INI, shared.as_bytes(), &options)?;
        for n in 0..SERVICES.len() {
            let path = format!("/var/lib/pgbouncer/instance_{n}/pgbouncer.ini");
            container.push(&path, shared.as_bytes(), &options)?;
        }
        container.restart_services(&SERVICES)?;
        Ok(Outcome::Done)
    }
}

fn layer() -> Layer {
    let mut layer = Layer::default();
    for name in SERVICES {
        layer.services.insert(
            name.into(),
            Service {
                override_: Some(Override::Replace),
                command: Some(format!("pgbouncer /var/lib/pgbouncer/{name}.ini")),
                startup: Some(ServiceStartup::Enabled),
                ..Default::default()
            },
        );
    }
    layer
}

// ---- the scenarios with Context/State ---------------------------------------

/// A unit starting before its peer relation exists defers start (no
/// container can connect: no fake Pebble at all).
fn context_start_defers(ctx: &mut Context<Pgb>) {
    let out = ctx.run(ctx.on.start(), &State::default()).unwrap();
    assert_eq!(out.deferred_events(), vec!["start"]);
}

/// The leader shares its local config on pgb-peers relation-changed.
fn context_leader_shares(ctx: &mut Context<Pgb>) {
    let peers = Relation::peer("pgb-peers").with_remote_unit(1, []);
    let state = State::default()
        .with_leader(true)
        .with_relation(peers.clone())
        .with_container(
            Container::new("pgbouncer")
                .with_can_connect(true)
                .with_file(INI, File::new(rendered(6432))),
        );
    let out = ctx.run(ctx.on.relation_changed(&peers), &state).unwrap();
    assert_eq!(
        out.relation(peers.id).unwrap().local_app_data["cfg_file"],
        rendered(6432)
    );
}

/// A follower writes the leader's changed config and restarts PgBouncer.
fn context_follower_restarts(ctx: &mut Context<Pgb>) {
    let peers = Relation::peer("pgb-peers")
        .with_remote_unit(0, [])
        .with_local_app_data([("cfg_file", rendered(7000).as_str())]);
    let mut container = Container::new("pgbouncer")
        .with_can_connect(true)
        .with_file(INI, File::new(rendered(6432)))
        .with_layer("pgbouncer", layer());
    for name in SERVICES {
        container = container.with_service_status(name, ServiceStatus::Active);
    }
    let state = State::default()
        .with_relation(peers.clone())
        .with_container(container);
    let out = ctx.run(ctx.on.relation_changed(&peers), &state).unwrap();
    assert_eq!(
        out.container("pgbouncer").unwrap().text(INI),
        Some(rendered(7000).as_str())
    );
    assert_eq!(ctx.service_events("pgbouncer").len(), SERVICES.len());
}

// ---- the same scenarios with the Harness -------------------------------------

fn harness() -> Harness<Pgb> {
    Harness::new(META).unwrap()
}

fn harness_start_defers() {
    let mut h = harness();
    h.begin();
    h.fire_hook("start").unwrap();
    assert_eq!(h.notices().len(), 1);
}

fn harness_leader_shares() {
    let mut h = harness();
    h.set_leader(true).unwrap();
    h.begin();
    h.set_can_connect("pgbouncer", true).unwrap();
    let root = h.container_root("pgbouncer").unwrap();
    std::fs::create_dir_all(root.join("var/lib/pgbouncer")).unwrap();
    std::fs::write(root.join(INI.trim_start_matches('/')), rendered(6432)).unwrap();
    let peers = h.add_relation("pgb-peers", "pgb").unwrap();
    h.add_relation_unit(peers, "pgb/1").unwrap();
    assert_eq!(
        h.get_relation_data(peers, "pgb")["cfg_file"],
        rendered(6432)
    );
}

fn harness_follower_restarts() {
    let mut h = harness();
    h.begin();
    h.set_can_connect("pgbouncer", true).unwrap();
    let pebble = h.container_pebble("pgbouncer").unwrap();
    let client = pebble.client();
    client.add_layer("pgbouncer", &layer(), true).unwrap();
    client.start_services(&SERVICES).unwrap();
    pebble.clear_service_events();
    let root = h.container_root("pgbouncer").unwrap();
    std::fs::create_dir_all(root.join("var/lib/pgbouncer")).unwrap();
    std::fs::write(root.join(INI.trim_start_matches('/')), rendered(6432)).unwrap();
    let peers = h.add_relation("pgb-peers", "pgb").unwrap();
    h.add_relation_unit(peers, "pgb/0").unwrap();
    h.update_relation_data(peers, "pgb", &[("cfg_file", &rendered(7000))])
        .unwrap();
    let text = std::fs::read_to_string(root.join(INI.trim_start_matches('/'))).unwrap();
    assert_eq!(text, rendered(7000));
    let events = h.container_pebble("pgbouncer").unwrap().service_events();
    assert_eq!(events.len(), SERVICES.len());
}

/// What the fake Pebble alone costs: start it, answer one request, stop it
/// (each request is a new connection, which the accept loop picks up).
fn pebble_alone(dir: &std::path::Path) {
    let pebble =
        ops_testing::fake_pebble::FakePebble::start(dir.join("pebble.socket"), dir.join("root"))
            .unwrap();
    pebble.client().system_info().unwrap();
    drop(pebble);
}

/// One more request to a running fake Pebble.
fn pebble_request(pebble: &ops_testing::fake_pebble::FakePebble) {
    pebble.client().system_info().unwrap();
}

/// The median and the best time of one test.
type Timing = (Duration, Duration);

/// The median and the best time of one test, over `iterations` runs.
fn per_test(iterations: u32, mut test: impl FnMut()) -> Timing {
    test(); // warm up: page cache, lazy statics
    let mut times: Vec<Duration> = (0..iterations.max(1))
        .map(|_| {
            let one = Instant::now();
            test();
            one.elapsed()
        })
        .collect();
    times.sort();
    (times[times.len() / 2], times[0])
}

fn main() {
    let iterations: u32 = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(200);
    let mut ctx = Context::<Pgb>::new(META).unwrap();
    let mut follower = Context::<Pgb>::new(META).unwrap().with_unit_id(1);
    let cases: [(&str, Timing, Timing); 3] = [
        (
            "start deferred (no Pebble)",
            per_test(iterations, || context_start_defers(&mut ctx)),
            per_test(iterations, harness_start_defers),
        ),
        (
            "leader shares its config",
            per_test(iterations, || context_leader_shares(&mut ctx)),
            per_test(iterations, harness_leader_shares),
        ),
        (
            "follower writes + restarts",
            per_test(iterations, || context_follower_restarts(&mut follower)),
            per_test(iterations, harness_follower_restarts),
        ),
    ];
    let dir = tempfile::tempdir().unwrap();
    let alone = per_test(iterations, || pebble_alone(dir.path()));
    let running = ops_testing::fake_pebble::FakePebble::start(
        dir.path().join("running.socket"),
        dir.path().join("running-root"),
    )
    .unwrap();
    let request = per_test(iterations, || pebble_request(&running));
    println!("time per test, {iterations} iterations each (median / best)");
    println!(
        "{:<30} {:>22} {:>22}",
        "scenario", "Context::run", "Harness"
    );
    let us = |d: Duration| d.as_secs_f64() * 1e6;
    for (name, (c_mean, c_best), (h_mean, h_best)) in cases {
        println!(
            "{name:<30} {:>10.0} / {:>7.0} µs {:>10.0} / {:>7.0} µs",
            us(c_mean),
            us(c_best),
            us(h_mean),
            us(h_best)
        );
    }
    println!(
        "{:<30} {:>10.0} / {:>7.0} µs",
        "fake Pebble: start, 1 request, stop",
        us(alone.0),
        us(alone.1)
    );
    println!(
        "{:<30} {:>10.0} / {:>7.0} µs",
        "fake Pebble: 1 request",
        us(request.0),
        us(request.1)
    );
}
