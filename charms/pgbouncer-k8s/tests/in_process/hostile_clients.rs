//! Everything in a remote application's databag is outside input. A client
//! (or a backend) that sends something the charm must not use gets its
//! relation refused with a status naming it: no hook fails, nothing is
//! deferred for ever, the config is untouched, and other tenants are served
//! as before.

use crate::support::*;

use ops::model::StatusName;
use ops_testing::Harness;
use pgbouncer_k8s::PgbouncerK8sCharm;
use pgbouncer_k8s::peers::{CFG_FILE, PEERS};
use pgbouncer_k8s::pgb_config;

/// A leader with a backend relation on a closed loopback port (so any
/// attempt to reach it would show as a deferral).
fn leader_with_backend() -> (Harness<PgbouncerK8sCharm>, u32) {
    let mut h = started(true);
    let peers = h.juju().relations_of(APP, PEERS)[0];
    let closed = closed_port();
    h.hooks_disabled(|h| {
        add_backend(
            h,
            &[
                ("endpoints", &format!("127.0.0.1:{closed}")),
                ("username", "relation_id_3"),
                ("password", "pw"),
            ],
        )
    });
    (h, peers)
}

/// Relates a client asking for `fields`, and returns the relation id.
fn client_asking(h: &mut Harness<PgbouncerK8sCharm>, fields: &[(&str, &str)]) -> u32 {
    let client = h.add_relation("database", "client-app").unwrap();
    h.add_relation_unit(client, "client-app/0").unwrap();
    h.update_relation_data(client, "client-app", fields)
        .unwrap();
    client
}

fn assert_refused(h: &Harness<PgbouncerK8sCharm>, client: u32, peers: u32, before: &str) {
    let status = h.unit_status();
    assert_eq!(status.name, StatusName::Blocked, "{status:?}");
    assert!(
        status
            .message
            .contains(&format!("database relation {client}")),
        "the status names the relation: {status:?}"
    );
    assert!(
        status.message.len() < 1024,
        "short status: {} bytes",
        status.message.len()
    );
    assert!(
        !h.notices()
            .iter()
            .any(|n| n.event == "database_relation_changed"),
        "a refusal is not deferred: {:?}",
        h.notices()
    );
    assert_eq!(
        h.get_relation_data(peers, APP)[CFG_FILE],
        before,
        "config untouched"
    );
    let bag = h.get_relation_data(client, APP);
    assert!(!bag.contains_key("username") && !bag.contains_key("password"));
}

#[test]
fn a_database_name_that_injects_a_config_line_is_refused() {
    let (mut h, peers) = leader_with_backend();
    let before = h.get_relation_data(peers, APP)[CFG_FILE].clone();
    let hostile = "appdb = host=127.0.0.66 port=5999\n;";
    let client = client_asking(&mut h, &[("database", hostile)]);
    assert_refused(&h, client, peers, &before);
    let ini = file(&h, pgb_config::INI_PATH).unwrap();
    assert!(!ini.contains("127.0.0.66"), "{ini}");
    assert!(
        h.logs().iter().all(|l| !l.message.contains("127.0.0.66")),
        "the remote value is not logged"
    );
}

#[test]
fn a_garbled_secret_request_is_refused_not_answered_plainly() {
    let (mut h, peers) = leader_with_backend();
    let before = h.get_relation_data(peers, APP)[CFG_FILE].clone();
    let client = client_asking(
        &mut h,
        &[
            ("database", "appdb"),
            ("requested-secrets", "username,password"),
        ],
    );
    assert_refused(&h, client, peers, &before);
    let status = h.unit_status();
    assert!(
        status
            .message
            .contains("requested-secrets (17 bytes) is not a JSON list of strings"),
        "names the field: {status:?}"
    );
    assert!(!h.get_relation_data(client, APP).contains_key("uris"));
}

#[test]
fn reserved_databases_are_refused() {
    for reserved in [
        "template1",
        "template0",
        "postgres",
        "pgbouncer",
        "TEMPLATE1",
    ] {
        let (mut h, peers) = leader_with_backend();
        let before = h.get_relation_data(peers, APP)[CFG_FILE].clone();
        let client = client_asking(&mut h, &[("database", reserved)]);
        assert_refused(&h, client, peers, &before);
    }
}

#[test]
fn an_oversized_name_gives_a_short_status_and_no_failed_hook() {
    let (mut h, peers) = leader_with_backend();
    let before = h.get_relation_data(peers, APP)[CFG_FILE].clone();
    let huge = "a".repeat(200 * 1024);
    let client = client_asking(&mut h, &[("database", &huge)]);
    assert_refused(&h, client, peers, &before);
}

#[test]
fn superuser_is_not_an_extra_role_a_client_gets() {
    let (mut h, peers) = leader_with_backend();
    let before = h.get_relation_data(peers, APP)[CFG_FILE].clone();
    let client = client_asking(
        &mut h,
        &[("database", "appdb"), ("extra-user-roles", "SUPERUSER")],
    );
    assert_refused(&h, client, peers, &before);
}

#[test]
fn a_refused_client_recovers_when_it_asks_properly() {
    let (mut h, _) = leader_with_backend();
    let client = client_asking(&mut h, &[("database", "template1")]);
    assert_eq!(h.unit_status().name, StatusName::Blocked);
    h.update_relation_data(client, "client-app", &[("database", "appdb")])
        .unwrap();
    let status = h.unit_status();
    assert!(
        !status
            .message
            .contains(&format!("database relation {client}")),
        "{status:?}"
    );
}

#[test]
fn a_refused_relation_leaving_clears_the_block() {
    let (mut h, _) = leader_with_backend();
    let client = client_asking(&mut h, &[("database", "template1")]);
    assert_eq!(h.unit_status().name, StatusName::Blocked);
    h.remove_relation(client).unwrap();
    assert!(
        !h.unit_status()
            .message
            .contains(&format!("database relation {client}")),
        "{:?}",
        h.unit_status()
    );
}

#[test]
fn a_backend_username_that_would_inject_is_refused() {
    let mut h = started(true);
    add_backend(
        &mut h,
        &[
            ("endpoints", "127.0.0.1:5432"),
            ("username", "relation_id_3\nauth_type = trust"),
            ("password", "pw"),
        ],
    );
    let status = h.unit_status();
    assert_eq!(status.name, StatusName::Blocked, "{status:?}");
    assert!(status.message.contains("backend"), "{status:?}");
    let ini = file(&h, pgb_config::INI_PATH).unwrap();
    assert!(!ini.contains("trust"), "{ini}");
    assert!(
        !h.notices()
            .iter()
            .any(|n| n.event == "backend_database_relation_changed"),
        "not deferred"
    );
}

#[test]
fn backend_endpoints_that_would_inject_are_refused() {
    for endpoints in [
        "127.0.0.1 dbname=other:5432",
        "127.0.0.1\nauth_type = trust:5432",
        "127.0.0.1;x:5432",
        "'127.0.0.1':5432",
    ] {
        let mut h = started(true);
        add_backend(
            &mut h,
            &[
                ("endpoints", endpoints),
                ("username", "relation_id_3"),
                ("password", "pw"),
            ],
        );
        let status = h.unit_status();
        assert_eq!(
            status.name,
            StatusName::Blocked,
            "{endpoints:?}: {status:?}"
        );
        assert!(
            status.message.contains("backend database refused"),
            "{status:?}"
        );
        assert!(
            !h.notices()
                .iter()
                .any(|n| n.event == "backend_database_relation_changed"),
            "{endpoints:?}: not deferred"
        );
        let ini = file(&h, pgb_config::INI_PATH).unwrap();
        assert!(!ini.contains("other") && !ini.contains("trust"), "{ini}");
    }
}

#[test]
fn a_hostile_backend_database_name_refuses_the_backend_without_echoing_it() {
    let mut h = started(true);
    let hostile = "pgbouncer\n\u{1b}[31mrm -rf";
    add_backend(
        &mut h,
        &[
            ("endpoints", "127.0.0.1:5432"),
            ("username", "relation_id_3"),
            ("password", "pw"),
            ("database", hostile),
        ],
    );
    let status = h.unit_status();
    assert_eq!(status.name, StatusName::Blocked, "{status:?}");
    assert!(
        status
            .message
            .starts_with("backend database refused: the backend's answer: database ("),
        "{status:?}"
    );
    assert!(!status.message.contains("rm -rf") && !status.message.contains('\u{1b}'));
    assert!(
        !h.notices()
            .iter()
            .any(|n| n.event.starts_with("backend_database")),
        "refused, not deferred for ever: {:?}",
        h.notices()
    );
    assert!(h.logs().iter().all(|l| !l.message.contains("rm -rf")));
}
