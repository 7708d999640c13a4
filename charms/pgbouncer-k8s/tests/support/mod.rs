//! What the charm's Harness tests share (its `Context` tests: [`context`]): the harness, the workload's files,
//! what the fake Pebble saw, and the application's secret.
//!
//! Each test file uses part of it.
#![allow(dead_code)]

pub mod context;
pub mod live_pg;

use std::collections::BTreeMap;
use std::path::PathBuf;

use ops_testing::Harness;
use ops_testing::fake_pebble::ServiceEvent;
use pgbouncer_k8s::PgbouncerK8sCharm;
use pgbouncer_k8s::credentials::SECRET_ID;

/// The application's name.
pub const APP: &str = "pgbouncer-k8s";

/// A Harness of the charm, from its own directory.
pub fn harness() -> Harness<PgbouncerK8sCharm> {
    Harness::from_charm_dir(env!("CARGO_MANIFEST_DIR")).unwrap()
}

/// Where `path` of the workload container is on the host.
pub fn host_path(h: &Harness<PgbouncerK8sCharm>, path: &str) -> PathBuf {
    h.container_root("pgbouncer")
        .unwrap()
        .join(path.trim_start_matches('/'))
}

/// A file of the workload container, if it is there.
pub fn file(h: &Harness<PgbouncerK8sCharm>, path: &str) -> Option<String> {
    std::fs::read_to_string(host_path(h, path)).ok()
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
