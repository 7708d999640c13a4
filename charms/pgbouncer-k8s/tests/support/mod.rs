//! What the charm's Harness tests share (its `Context` tests: [`context`]):
//! the harness, the workload's files, what the fake Pebble saw, the
//! application's secret, and a backend that answers as postgresql-k8s does.
//!
//! Each test file uses part of it.
#![allow(dead_code)]

pub mod context;
pub mod live_pg;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Mutex, OnceLock, PoisonError};

use ops_testing::context::{Relation, Secret, State};
use ops_testing::fake_pebble::ServiceEvent;
use ops_testing::{Harness, HarnessSnapshot};
use pgbouncer_k8s::PgbouncerK8sCharm;
use pgbouncer_k8s::auth::AuthFile;
use pgbouncer_k8s::credentials::SECRET_ID;
use pgbouncer_k8s::peers::{PRIVATE_ADDRESS, unit_hostname};
use postgresql_client::SecretGroup;

/// Every test binary that includes this module allocates with mimalloc.
/// An in-process test is allocation-bound (strings, maps and JSON for each
/// hook tool call and Pebble request, dozens of dispatches a test): glibc's
/// malloc and free were 15-20% of a test's CPU, mimalloc's are a third of
/// that (docs/performance.md, "The seventh step"). Production code and the
/// charm's binary keep the system allocator.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// The application's name.
pub const APP: &str = "pgbouncer-k8s";

/// An auth file with a SCRAM-SHA-256 verifier of each `(user, password)`,
/// as the charm writes one. A verifier is 4096 PBKDF2 rounds (0.4 ms, a
/// tenth of some test files' time): each user's line is made once per
/// test binary and kept, which a fixture may do, since any verifier of a
/// password is one that PgBouncer and [`AuthFile::verify`] take. (The
/// charm itself makes a new one, with a new salt, for each password it
/// sets.)
pub fn auth_file(users: &[(&str, &str)]) -> AuthFile {
    static LINES: Mutex<BTreeMap<(String, String), String>> = Mutex::new(BTreeMap::new());
    let mut lines = LINES.lock().unwrap_or_else(PoisonError::into_inner);
    let text: String = users
        .iter()
        .map(|(user, password)| {
            lines
                .entry((user.to_string(), password.to_string()))
                .or_insert_with(|| {
                    let mut one = AuthFile::default();
                    one.set_user(user, password).unwrap();
                    one.render()
                })
                .clone()
        })
        .collect();
    AuthFile::parse(&text).unwrap()
}

/// A Harness of the charm, from its own directory.
pub fn harness() -> Harness<PgbouncerK8sCharm> {
    Harness::from_charm_dir(env!("CARGO_MANIFEST_DIR"))
        .unwrap()
        // Where main.rs keeps it: through state-get and state-set.
        .with_state_location(ops::StateLocation::Juju)
}

/// The Harness `build` sets up, built once per test binary and copied for
/// each test that asks (`HarnessSnapshot`), with what `build` returned
/// beside it (relation ids, ports). A set-up is a dozen dispatches (the
/// initial hooks, relations added) before the one a test is about; each
/// copy is a world of its own, so a test sees what a fresh set-up would.
pub fn set_up_once<T: Clone + Send + Sync + 'static>(
    slot: &'static OnceLock<(HarnessSnapshot, T)>,
    build: impl FnOnce() -> (Harness<PgbouncerK8sCharm>, T),
) -> (Harness<PgbouncerK8sCharm>, T) {
    let (snapshot, extra) = slot.get_or_init(|| {
        let (h, extra) = build();
        (h.snapshot().unwrap(), extra)
    });
    (Harness::from_snapshot(snapshot).unwrap(), extra.clone())
}

/// Unit 0 after its initial hooks with Pebble up, leader or not (set up
/// once per test binary: [`set_up_once`]).
pub fn started(leader: bool) -> Harness<PgbouncerK8sCharm> {
    static LEADER: OnceLock<(HarnessSnapshot, ())> = OnceLock::new();
    static FOLLOWER: OnceLock<(HarnessSnapshot, ())> = OnceLock::new();
    let slot = if leader { &LEADER } else { &FOLLOWER };
    set_up_once(slot, || {
        let mut h = harness();
        if leader {
            h.set_leader(true).unwrap();
        }
        h.set_can_connect("pgbouncer", true).unwrap();
        h.begin_with_initial_hooks().unwrap();
        (h, ())
    })
    .0
}

/// `unit`'s hostname in the Harness' model (named `harness`).
pub fn hostname(unit: &str) -> String {
    unit_hostname(unit, "harness")
}

/// Peer unit `unit` joins pgb-peers and publishes its hostname there, as
/// every unit does.
pub fn add_peer_unit(h: &mut Harness<PgbouncerK8sCharm>, peers: u32, unit: &str) {
    h.add_relation_unit(peers, unit).unwrap();
    h.update_relation_data(peers, unit, &[(PRIVATE_ADDRESS, &hostname(unit))])
        .unwrap();
}

/// A loopback port nothing listens on now (the OS gave it, and it was let
/// go): a backend there does not answer, and a server can be started on it.
pub fn closed_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Where `path` of the workload container is on the host.
pub fn host_path(h: &Harness<PgbouncerK8sCharm>, path: &str) -> PathBuf {
    h.container_root("pgbouncer")
        .unwrap()
        .join(path.trim_start_matches('/'))
}

/// A file of the workload container, if it is there (read from the fake
/// Pebble's files where they are: nothing written to the host).
pub fn file(h: &Harness<PgbouncerK8sCharm>, path: &str) -> Option<String> {
    let bytes = h
        .container_pebble("pgbouncer")
        .unwrap()
        .read_file(path)
        .ok()?;
    String::from_utf8(bytes).ok()
}

/// Restarts of PgBouncer instances, as the fake Pebble saw them.
pub fn restarts(h: &Harness<PgbouncerK8sCharm>) -> usize {
    h.container_pebble("pgbouncer")
        .unwrap()
        .service_events()
        .iter()
        .filter(|e| e.to_string().starts_with("restart") && e.service().starts_with("pgbouncer_"))
        .count()
}

/// `SIGHUP`s sent to PgBouncer instances (a reload).
pub fn reloads(h: &Harness<PgbouncerK8sCharm>) -> usize {
    h.container_pebble("pgbouncer")
        .unwrap()
        .service_events()
        .iter()
        .filter(|e| matches!(e, ServiceEvent::Signal { signal, .. } if signal == "SIGHUP"))
        .count()
}

/// The latest content of the application's secret, if the leader made it
/// (named in the peer app databag).
pub fn app_secret(h: &Harness<PgbouncerK8sCharm>, peers: u32) -> Option<BTreeMap<String, String>> {
    let id = h.get_relation_data(peers, APP).get(SECRET_ID)?.clone();
    let juju = h.juju();
    let secret = juju
        .secrets
        .values()
        .find(|s| id.ends_with(&s.id) || s.id.ends_with(&id))?;
    secret.revisions.values().next_back().cloned()
}

/// The backend application the tests relate.
pub const BACKEND_APP: &str = "postgresql";

/// `answer`'s fields by where postgresql-k8s puts them when the requirer
/// asks for secrets (as the charm does): the user's (`username`,
/// `password`, `uris`, ...) and TLS's (`tls`, `tls-ca`) in a secret each,
/// the others plainly.
fn split_answer<'a>(
    answer: &[(&'a str, &'a str)],
) -> BTreeMap<SecretGroup, Vec<(&'a str, &'a str)>> {
    let mut groups: BTreeMap<SecretGroup, Vec<(&str, &str)>> = BTreeMap::new();
    for (key, value) in answer {
        groups
            .entry(SecretGroup::of(key))
            .or_default()
            .push((key, value));
    }
    groups
}

/// Relates a backend PostgreSQL that answers as postgresql-k8s does when
/// asked with `requested-secrets`: the credentials in a secret it owns,
/// granted over the relation and named by `secret-user` (TLS likewise in
/// `secret-tls`), `endpoints` and the rest plainly. Hooks run as the
/// Harness runs them (call it inside `hooks_disabled` for none).
pub fn add_backend(h: &mut Harness<PgbouncerK8sCharm>, answer: &[(&str, &str)]) -> u32 {
    let id = h.add_relation("backend-database", BACKEND_APP).unwrap();
    let mut plain: Vec<(String, String)> = Vec::new();
    for (group, fields) in split_answer(answer) {
        if group == SecretGroup::Extra {
            plain.extend(fields.iter().map(|(k, v)| (k.to_string(), v.to_string())));
            continue;
        }
        let secret = h.add_secret(BACKEND_APP, &fields);
        h.grant_secret(&secret, id, None);
        plain.push((group.field().to_string(), secret));
    }
    let plain: Vec<(&str, &str)> = plain
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    h.update_relation_data(id, BACKEND_APP, &plain).unwrap();
    id
}

/// Relates a backend that answers everything plainly (a provider without
/// secrets, or one the requirer did not ask for them: the fallback the
/// library keeps).
pub fn add_plain_backend(h: &mut Harness<PgbouncerK8sCharm>, answer: &[(&str, &str)]) -> u32 {
    h.add_relation_with_app_data("backend-database", BACKEND_APP, answer)
        .unwrap()
}

/// `state` with a backend relation that answers `answer` as
/// [`add_backend`] does: the secrets it names, granted to this application.
pub fn with_backend(state: State, answer: &[(&str, &str)]) -> State {
    let mut relation = Relation::new("backend-database").with_remote_app(BACKEND_APP);
    let mut secrets = Vec::new();
    let mut plain: Vec<(String, String)> = Vec::new();
    for (group, fields) in split_answer(answer) {
        if group == SecretGroup::Extra {
            plain.extend(fields.iter().map(|(k, v)| (k.to_string(), v.to_string())));
            continue;
        }
        let secret = Secret::new(fields).observed_from(&relation);
        plain.push((group.field().to_string(), secret.id.clone()));
        secrets.push(secret);
    }
    relation = relation.with_remote_app_data(plain.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    secrets
        .into_iter()
        .fold(state.with_relation(relation), State::with_secret)
}

/// The workload container as a new pod has it (churn, `juju refresh`):
/// none of the charm's files, and a Pebble with no layers, so no plan and
/// no services.
pub fn lose_the_pod(h: &Harness<PgbouncerK8sCharm>) {
    let pebble = h.container_pebble("pgbouncer").unwrap();
    for dir in [
        pgbouncer_k8s::pgb_config::LIB_DIR,
        pgbouncer_k8s::pgb_config::LOG_DIR,
    ] {
        pebble.client().remove_path(dir, true).unwrap();
    }
    pebble.start_afresh();
    assert_eq!(file(h, pgbouncer_k8s::pgb_config::INI_PATH), None);
    assert!(pebble.plan().services.is_empty());
}

/// Asserts that Pebble runs every PgBouncer instance of the unit.
pub fn assert_every_instance_runs(h: &Harness<PgbouncerK8sCharm>) {
    let pebble = h.container_pebble("pgbouncer").unwrap();
    let instances =
        pgbouncer_k8s::pgb_config::instance_count(pgbouncer_k8s::pgb_config::available_cpus());
    for n in 0..instances {
        let name = format!("pgbouncer_{n}");
        assert_eq!(
            pebble.service_status(&name),
            Some(ops::pebble::ServiceStatus::Active),
            "{name}"
        );
    }
}
