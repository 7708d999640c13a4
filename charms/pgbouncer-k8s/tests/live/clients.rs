//! The client relation against a real PostgreSQL, through the Harness.

use crate::support::live_pg::{BACKEND_PASSWORD, BACKEND_USER, Postgres};
use crate::support::*;

use pgbouncer_k8s::pgb_config::{self, PgbConfig};

/// Issue: with Pebble down, every client's relation-changed was deferred,
/// and about 125 of them filled the unit's deferred queue. Provisioning
/// needs no Pebble: the client is served at once, and pebble-ready renders
/// its database from the records.
#[test]
fn a_client_that_relates_while_pebble_is_down_is_served_without_a_deferral() {
    let pg = Postgres::start();
    let mut h = harness();
    h.set_leader(true).unwrap();
    h.set_can_connect("pgbouncer", true).unwrap();
    h.begin_with_initial_hooks().unwrap();
    add_backend(
        &mut h,
        &[
            ("endpoints", &format!("127.0.0.1:{}", pg.port)),
            ("username", BACKEND_USER),
            ("password", BACKEND_PASSWORD),
            ("database", "pgbouncer"),
        ],
    );
    assert!(
        !h.notices().iter().any(|n| n.event.starts_with("backend")),
        "{:?}",
        h.notices()
    );

    // The workload container restarts: Pebble does not answer for a while.
    h.set_can_connect("pgbouncer", false).unwrap();
    let client = h.add_relation("database", "client-app").unwrap();
    h.add_relation_unit(client, "client-app/0").unwrap();
    h.update_relation_data(client, "client-app", &[("database", "appdb")])
        .unwrap();
    assert!(
        !h.notices()
            .iter()
            .any(|n| n.event.starts_with("database_relation")),
        "not deferred: {:?}",
        h.notices()
    );
    let bag = h.get_relation_data(client, APP);
    let (user, password) = (bag["username"].clone(), bag["password"].clone());
    assert_eq!(bag["database"], "appdb");
    pg.connect(&user, &password, "appdb")
        .expect("the client's user and database exist");

    // Pebble answers again: pebble-ready serves the waiting client.
    h.set_can_connect("pgbouncer", true).unwrap();
    h.container_pebble_ready("pgbouncer").unwrap();
    let config = PgbConfig::parse(&file(&h, pgb_config::INI_PATH).unwrap()).unwrap();
    assert!(config.database("appdb").is_some(), "{}", config.render());
    assert!(h.notices().is_empty(), "{:?}", h.notices());
}
