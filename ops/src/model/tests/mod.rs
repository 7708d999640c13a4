//! Model behaviour over a recording backend: relations, databag access
//! rules, caching, buffering and flush. `other.rs` covers the rest.

mod other;
mod recording;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::{Member, ModelError};
use crate::backend::{BackendError, RelationRef};
use recording::{Hook, World, model_for};

fn db() -> RelationRef {
    RelationRef::new("db", 3)
}

fn peers() -> RelationRef {
    RelationRef::new("peers", 1)
}

/// `app/0` and `app/1` as peers, related to `postgresql` (two units) on `db:3`.
fn world(leader: bool) -> World {
    let mut w = World {
        leader,
        ..Default::default()
    };
    w.relate(&peers(), &["app/1"]);
    w.relate(&db(), &["postgresql/0", "postgresql/1"]);
    w.bag(&db(), "postgresql", &[("endpoints", "pg:5432")]);
    w.bag(&db(), "postgresql/0", &[("ingress-address", "127.0.2.9")]);
    w.bag(&db(), "app", &[("database", "app")]);
    w.bag(&db(), "app/0", &[("old", "1"), ("same", "s")]);
    w.bag(&peers(), "app", &[("leader-host", "app-0")]);
    w.bag(&peers(), "app/1", &[("ready", "true")]);
    w
}

fn on(relation: RelationRef) -> Hook {
    Hook {
        relation: Some(relation),
        ..Default::default()
    }
}

fn assert_denied<T: std::fmt::Debug>(
    result: Result<T, ModelError>,
    operation: &str,
    bag: &str,
    unit: &str,
) {
    match result {
        Err(ModelError::AccessDenied {
            operation: op,
            bag: b,
            unit: u,
        }) => {
            assert_eq!((op, b.as_str(), u.as_str()), (operation, bag, unit));
        }
        other => panic!("expected AccessDenied, got {other:?}"),
    }
}

#[test]
fn relation_changed_handler_makes_one_call_per_thing_it_needs() {
    let (model, backend) = model_for(world(true), "app/0", on(db()));
    let rel = model.relation_by_id("db", 3).unwrap().unwrap();
    // Read the remote unit bag and the local app bag, twice each.
    for _ in 0..2 {
        let remote = model.remote_unit_data(&rel, "postgresql/0");
        assert_eq!(
            remote.get("ingress-address").unwrap().as_deref(),
            Some("127.0.2.9")
        );
        assert_eq!(
            model
                .local_app_data(&rel)
                .get("database")
                .unwrap()
                .as_deref(),
            Some("app")
        );
        assert!(model.is_leader().unwrap());
    }
    // Write two keys to the local unit bag.
    let mine = model.local_unit_data(&rel);
    mine.set("database", "pgbouncer").unwrap();
    mine.set("extra-user-roles", "SUPERUSER").unwrap();
    model.flush().unwrap();

    assert_eq!(backend.count("is-leader"), 1);
    assert_eq!(backend.count("relation-get"), 2);
    assert_eq!(backend.count("relation-set"), 1);
    assert_eq!(
        backend.tools(),
        [
            "relation-ids",
            "relation-list",
            "relation-get",
            "is-leader",
            "relation-get",
            "relation-set"
        ]
    );
    assert_eq!(
        backend.calls_of("relation-set"),
        [[
            "db:3",
            "false",
            r#"{"database":"pgbouncer","extra-user-roles":"SUPERUSER"}"#
        ]]
    );
}

#[test]
fn a_follower_cannot_write_its_app_bag_and_nothing_is_buffered() {
    let (model, backend) = model_for(world(false), "app/1", Hook::default());
    let rel = model.relation("peers").unwrap().unwrap();
    let bag = model.local_app_data(&rel);
    let name = "application app on peers:1";
    assert_denied(bag.set("leader-host", "me"), "write", name, "app/1");
    assert_denied(bag.remove("leader-host"), "write", name, "app/1");
    assert_denied(bag.update([("a", "1"), ("b", "2")]), "write", name, "app/1");
    assert_denied(
        bag.save(&BTreeMap::from([("a", "1")])),
        "write",
        name,
        "app/1",
    );
    assert!(!model.has_pending_writes());
    // The peer app bag is still readable, and shows none of the refused writes.
    assert_eq!(
        bag.get_all().unwrap(),
        BTreeMap::from([("leader-host".to_string(), "app-0".to_string())])
    );
    model.flush().unwrap();
    assert_eq!(backend.count("relation-set"), 0);
    assert_eq!(backend.world().bags, world(false).bags);
}

#[test]
fn a_follower_cannot_read_its_app_bag_on_a_non_peer_relation() {
    let (model, backend) = model_for(world(false), "app/1", Hook::default());
    let rel = model.relation("db").unwrap().unwrap();
    let bag = model.local_app_data(&rel);
    assert_denied(
        bag.get("database"),
        "read",
        "application app on db:3",
        "app/1",
    );
    assert_denied(bag.get_all(), "read", "application app on db:3", "app/1");
    assert_denied(
        bag.load::<BTreeMap<String, String>>(),
        "read",
        "application app on db:3",
        "app/1",
    );
    assert_eq!(backend.count("relation-get"), 0, "refused before reading");
}

#[test]
fn the_leader_reads_and_writes_its_app_bag() {
    let (model, backend) = model_for(world(true), "app/0", Hook::default());
    let rel = model.relation("db").unwrap().unwrap();
    let bag = model.local_app_data(&rel);
    assert_eq!(bag.get("database").unwrap().as_deref(), Some("app"));
    bag.set("database", "pgbouncer").unwrap();
    model.flush().unwrap();
    assert_eq!(
        backend.calls_of("relation-set"),
        [["db:3", "true", r#"{"database":"pgbouncer"}"#]]
    );
    assert_eq!(
        backend.world().bags[&(db(), "app".to_string())]["database"],
        "pgbouncer"
    );
}

#[test]
fn remote_bags_are_read_only_even_for_the_leader() {
    let (model, backend) = model_for(world(true), "app/0", Hook::default());
    let rel = model.relation("db").unwrap().unwrap();
    let remote_app = model.remote_app_data(&rel).unwrap();
    assert_eq!(
        remote_app.get("endpoints").unwrap().as_deref(),
        Some("pg:5432")
    );
    assert_denied(
        remote_app.set("k", "v"),
        "write",
        "application postgresql on db:3",
        "app/0",
    );
    let remote_unit = model.remote_unit_data(&rel, "postgresql/0");
    assert_eq!(
        remote_unit.get("ingress-address").unwrap().as_deref(),
        Some("127.0.2.9")
    );
    assert_denied(
        remote_unit.set("k", "v"),
        "write",
        "unit postgresql/0 on db:3",
        "app/0",
    );
    let peer_rel = model.relation("peers").unwrap().unwrap();
    let peer_unit = model.remote_unit_data(&peer_rel, "app/1");
    assert_eq!(peer_unit.get("ready").unwrap().as_deref(), Some("true"));
    assert_denied(
        peer_unit.set("k", "v"),
        "write",
        "unit app/1 on peers:1",
        "app/0",
    );
    assert!(!model.has_pending_writes());
    model.flush().unwrap();
    assert_eq!(backend.count("relation-set"), 0);
}

#[test]
fn a_follower_reads_the_peer_app_bag_and_writes_its_own_unit_bag() {
    let (model, backend) = model_for(world(false), "app/1", Hook::default());
    let rel = model.relation("peers").unwrap().unwrap();
    assert_eq!(rel.app.as_deref(), Some("app"));
    assert_eq!(
        model
            .local_app_data(&rel)
            .get("leader-host")
            .unwrap()
            .as_deref(),
        Some("app-0")
    );
    // Reading the peer app bag needs no leadership check.
    assert_eq!(backend.count("is-leader"), 0);
    model.local_unit_data(&rel).set("ready", "true").unwrap();
    model.flush().unwrap();
    assert_eq!(
        backend.calls_of("relation-set"),
        [["peers:1", "false", r#"{"ready":"true"}"#]]
    );
}

#[test]
fn writes_are_buffered_visible_to_reads_and_flushed_once_per_bag() {
    let (model, backend) = model_for(world(true), "app/0", Hook::default());
    let rel = model.relation("db").unwrap().unwrap();
    let bag = model.local_unit_data(&rel);
    assert_eq!(bag.get("old").unwrap().as_deref(), Some("1"));
    bag.set("same", "s").unwrap(); // no change
    bag.remove("old").unwrap();
    bag.set("new", "2").unwrap();
    bag.set("never-there", "").unwrap(); // deleting a key that is not there
    // Another handle on the same bag sees the same buffer, with no new read.
    let again = model.databag(&rel, Member::Unit("app/0".to_string()));
    assert_eq!(again.get("old").unwrap(), None);
    assert_eq!(
        again.get_all().unwrap(),
        BTreeMap::from([
            ("new".to_string(), "2".to_string()),
            ("same".to_string(), "s".to_string())
        ])
    );
    model
        .local_app_data(&rel)
        .set("database", "pgbouncer")
        .unwrap();
    assert!(model.has_pending_writes());
    assert_eq!(
        backend.count("relation-set"),
        0,
        "nothing sent before flush"
    );

    model.flush().unwrap();
    assert!(!model.has_pending_writes());
    assert_eq!(
        backend.calls_of("relation-set"),
        [
            vec!["db:3", "false", r#"{"new":"2","old":""}"#],
            vec!["db:3", "true", r#"{"database":"pgbouncer"}"#],
        ]
    );
    // Flushing again sends nothing; reads after the flush are still cached.
    model.flush().unwrap();
    assert_eq!(backend.count("relation-set"), 2);
    assert_eq!(bag.get("new").unwrap().as_deref(), Some("2"));
    assert_eq!(bag.get("old").unwrap(), None);
    assert_eq!(backend.count("relation-get"), 1);
}

#[test]
fn writes_that_change_nothing_are_not_sent() {
    let (model, backend) = model_for(world(true), "app/0", Hook::default());
    let rel = model.relation("db").unwrap().unwrap();
    let bag = model.local_unit_data(&rel);
    assert_eq!(bag.get("same").unwrap().as_deref(), Some("s"));
    bag.update([("same", "s"), ("absent", "")]).unwrap();
    model.flush().unwrap();
    assert_eq!(backend.count("relation-set"), 0);
    assert!(!model.has_pending_writes());
}

#[test]
fn a_failed_flush_keeps_the_writes_not_sent() {
    let mut w = world(true);
    w.fail_relation_set = Some(db());
    let (model, backend) = model_for(w, "app/0", Hook::default());
    let db_rel = model.relation("db").unwrap().unwrap();
    model.local_unit_data(&db_rel).set("k", "v").unwrap();
    let err = model.flush().unwrap_err();
    assert!(
        err.to_string()
            .contains("writing the databag of unit app/0 on db:3"),
        "{err}"
    );
    assert!(model.has_pending_writes());
    assert_eq!(backend.count("relation-set"), 1);
}

#[test]
fn relations_and_units_are_listed_once_per_dispatch() {
    let (model, backend) = model_for(world(true), "app/0", Hook::default());
    for _ in 0..3 {
        let rels = model.relations("db").unwrap();
        assert_eq!(rels.len(), 1);
        assert_eq!(rels[0].app.as_deref(), Some("postgresql"));
        assert_eq!(
            rels[0].units.iter().collect::<Vec<_>>(),
            ["postgresql/0", "postgresql/1"]
        );
        assert!(model.relation_by_id("db", 3).unwrap().is_some());
        assert!(model.relation_by_id("db", 4).unwrap().is_none());
        let peer = model.relation("peers").unwrap().unwrap();
        assert_eq!(peer.app.as_deref(), Some("app"));
    }
    assert_eq!(
        backend.tools(),
        [
            "relation-ids",
            "relation-list",
            "relation-ids",
            "relation-list"
        ],
        "the remote app comes from the units and the metadata: no --app"
    );
}

#[test]
fn the_remote_app_is_asked_for_when_no_unit_names_it() {
    let mut w = world(true);
    let lonely = RelationRef::new("website", 7);
    w.relate(&lonely, &[]);
    w.remote_apps.insert(lonely.clone(), "ingress".to_string());
    let gone = RelationRef::new("website", 8);
    w.relate(&gone, &[]);
    let (model, backend) = model_for(w, "app/0", Hook::default());
    let rels = model.relations("website").unwrap();
    assert_eq!(rels[0].app.as_deref(), Some("ingress"));
    assert!(rels[0].units.is_empty());
    assert_eq!(rels[1].app, None);
    assert!(matches!(
        model.remote_app_data(&rels[1]),
        Err(ModelError::NoRemoteApp { relation }) if relation == "website:8"
    ));
    assert_eq!(backend.calls_of("relation-list").len(), 4);
    model.relations("website").unwrap();
    assert_eq!(backend.calls_of("relation-list").len(), 4, "cached");
}

#[test]
fn relation_is_an_error_when_there_are_several() {
    let mut w = world(true);
    w.relate(&RelationRef::new("db", 5), &["other/0"]);
    let (model, _) = model_for(w, "app/0", Hook::default());
    assert!(matches!(
        model.relation("db"),
        Err(ModelError::TooManyRelations { endpoint, count: 2 }) if endpoint == "db"
    ));
    assert_eq!(model.relations("db").unwrap().len(), 2);
    assert_eq!(model.relation("website").unwrap(), None);
}

#[test]
fn undeclared_endpoints_are_named_and_ask_nothing_of_juju() {
    let (model, backend) = model_for(world(true), "app/0", Hook::default());
    for result in [
        model.relations("nope").map(|_| ()),
        model.relation("nope").map(|_| ()),
        model.relation_by_id("nope", 3).map(|_| ()),
    ] {
        match result {
            Err(err @ ModelError::UnknownEndpoint { .. }) => {
                assert!(err.to_string().contains("\"nope\""), "{err}");
            }
            other => panic!("expected UnknownEndpoint, got {other:?}"),
        }
    }
    assert!(backend.calls().is_empty());
}

#[test]
fn in_relation_departed_the_departing_units_bag_stays_readable() {
    let mut w = world(false);
    // postgresql/1 has left: relation-list no longer names it.
    w.units.insert(db(), vec!["postgresql/0".to_string()]);
    w.bag(&db(), "postgresql/1", &[("ingress-address", "127.0.2.10")]);
    let hook = Hook {
        relation: Some(db()),
        departing_unit: Some("postgresql/1".to_string()),
        remote_app: Some("postgresql".to_string()),
        broken: false,
    };
    let (model, _) = model_for(w, "app/0", hook);
    assert_eq!(model.departing_unit(), Some("postgresql/1"));
    let rel = model.relation_by_id("db", 3).unwrap().unwrap();
    assert!(!rel.units.contains("postgresql/1"));
    let gone = model.remote_unit_data(&rel, model.departing_unit().unwrap());
    assert_eq!(
        gone.get("ingress-address").unwrap().as_deref(),
        Some("127.0.2.10")
    );
}

#[test]
fn when_the_last_unit_departs_the_app_comes_from_juju_remote_app() {
    let mut w = world(false);
    w.units.insert(db(), vec![]);
    let hook = Hook {
        relation: Some(db()),
        departing_unit: Some("postgresql/0".to_string()),
        remote_app: Some("postgresql".to_string()),
        broken: false,
    };
    let (model, backend) = model_for(w, "app/0", hook);
    let rel = model.relation("db").unwrap().unwrap();
    assert_eq!(rel.app.as_deref(), Some("postgresql"));
    assert!(rel.units.is_empty());
    assert_eq!(backend.tools(), ["relation-ids", "relation-list"]);
}

#[test]
fn when_this_unit_departs_the_remote_app_is_not_this_app() {
    // This unit is the one leaving: JUJU_DEPARTING_UNIT names it, and
    // relation-list is empty. The remote app is postgresql all the same.
    for remote_app in [Some("postgresql".to_string()), None] {
        let mut w = world(false);
        w.units.insert(db(), vec![]);
        w.remote_apps.insert(db(), "postgresql".to_string());
        let hook = Hook {
            relation: Some(db()),
            departing_unit: Some("app/0".to_string()),
            remote_app: remote_app.clone(),
            broken: false,
        };
        let (model, _) = model_for(w, "app/0", hook);
        let rel = model.relation("db").unwrap().unwrap();
        assert_eq!(rel.app.as_deref(), Some("postgresql"), "{remote_app:?}");
        let bag = model.remote_app_data(&rel).unwrap();
        assert_eq!(
            bag.get("endpoints").unwrap().as_deref(),
            Some("pg:5432"),
            "{remote_app:?}"
        );
    }
}

#[test]
fn the_broken_relation_is_not_in_relations_but_found_by_id() {
    let hook = Hook {
        relation: Some(db()),
        departing_unit: None,
        remote_app: Some("postgresql".to_string()),
        broken: true,
    };
    let (model, _) = model_for(world(true), "app/0", hook);
    assert!(model.relations("db").unwrap().is_empty());
    assert_eq!(model.relation("db").unwrap(), None);
    let broken = model.relation_by_id("db", 3).unwrap().unwrap();
    assert_eq!(broken.id, db());
    // Its remote data is still there to read.
    assert_eq!(
        model
            .remote_app_data(&broken)
            .unwrap()
            .get("endpoints")
            .unwrap()
            .as_deref(),
        Some("pg:5432")
    );
}

#[test]
fn a_dead_relation_reads_as_empty_and_writing_to_it_is_a_typed_error() {
    let (model, _) = model_for(world(true), "app/0", Hook::default());
    let gone = super::Relation {
        id: RelationRef::new("db", 99),
        app: Some("postgresql".into()),
        units: Default::default(),
        active: false,
    };
    // Dead relations tell no tales.
    assert_eq!(
        model.remote_app_data(&gone).unwrap().get("x").unwrap(),
        None
    );
    assert!(
        model
            .remote_app_data(&gone)
            .unwrap()
            .get_all()
            .unwrap()
            .is_empty()
    );
    model.local_app_data(&gone).set("x", "1").unwrap();
    let err = model.flush().unwrap_err();
    assert!(
        matches!(err.backend_error(), Some(BackendError::RelationNotFound { relation, .. }) if relation == "db:99"),
        "{err:?}"
    );
}

#[test]
fn relations_say_whether_they_are_active() {
    let hook = Hook {
        relation: Some(db()),
        departing_unit: None,
        remote_app: Some("postgresql".to_string()),
        broken: true,
    };
    let (model, _) = model_for(world(true), "app/0", hook);
    assert!(model.relation("peers").unwrap().unwrap().active);
    let broken = model.relation_by_id("db", 3).unwrap().unwrap();
    assert!(!broken.active, "the relation being broken is not active");
    let mut w = world(true);
    w.relate(&RelationRef::new("website", 7), &[]);
    // relation-ids still lists it, relation-list no longer knows it.
    w.units.remove(&RelationRef::new("website", 7));
    let (model, _) = model_for(w, "app/0", Hook::default());
    let website = model.relation("website").unwrap().unwrap();
    assert!(!website.active, "relation-list says the relation is gone");
}

#[derive(Debug, PartialEq, Serialize, Deserialize)]
struct Conn {
    endpoints: String,
    port: u16,
    tls: Option<bool>,
    hosts: Vec<String>,
}

fn conn() -> Conn {
    Conn {
        endpoints: "h:1".into(),
        port: 6432,
        tls: Some(true),
        hosts: vec!["a".into()],
    }
}

#[test]
fn typed_databags_round_trip_through_the_buffer() {
    let (model, backend) = model_for(world(true), "app/0", Hook::default());
    let rel = model.relation("peers").unwrap().unwrap();
    let bag = model.local_unit_data(&rel);
    bag.save(&conn()).unwrap();
    assert_eq!(bag.get("port").unwrap().as_deref(), Some("6432"));
    assert_eq!(bag.get("endpoints").unwrap().as_deref(), Some("h:1"));
    assert_eq!(bag.get("hosts").unwrap().as_deref(), Some(r#"["a"]"#));
    assert_eq!(bag.load::<Conn>().unwrap(), conn());
    model.flush().unwrap();
    assert_eq!(
        backend.calls_of("relation-set"),
        [[
            "peers:1",
            "false",
            r#"{"endpoints":"h:1","hosts":"[\"a\"]","port":"6432","tls":"true"}"#
        ]]
    );
}

#[test]
fn a_none_field_deletes_its_key() {
    let mut w = world(true);
    w.bag(&peers(), "app/0", &[("tls", "true"), ("other", "kept")]);
    let (model, backend) = model_for(w, "app/0", Hook::default());
    let rel = model.relation("peers").unwrap().unwrap();
    let bag = model.local_unit_data(&rel);
    bag.save(&Conn {
        tls: None,
        ..conn()
    })
    .unwrap();
    assert_eq!(bag.get("tls").unwrap(), None);
    assert_eq!(bag.get("other").unwrap().as_deref(), Some("kept"));
    model.flush().unwrap();
    let sent = &backend.calls_of("relation-set")[0][2];
    assert!(sent.contains(r#""tls":"""#), "{sent}");
    assert!(!sent.contains("other"), "{sent}");
}

#[test]
fn numbers_written_as_strings_by_others_read_as_numbers_or_strings() {
    #[derive(Deserialize)]
    struct AsNumber {
        port: u32,
    }
    #[derive(Deserialize)]
    struct AsText {
        port: String,
    }
    let mut w = world(true);
    w.bag(
        &db(),
        "postgresql",
        &[("port", "5432"), ("endpoints", "pg")],
    );
    let (model, _) = model_for(w, "app/0", Hook::default());
    let rel = model.relation("db").unwrap().unwrap();
    let bag = model.remote_app_data(&rel).unwrap();
    assert_eq!(bag.load::<AsNumber>().unwrap().port, 5432);
    assert_eq!(bag.load::<AsText>().unwrap().port, "5432");
}

#[test]
fn a_bad_typed_value_names_bag_and_key_but_not_the_value() {
    #[derive(Debug, Deserialize)]
    #[allow(dead_code)]
    enum Mode {
        Session,
    }
    #[derive(Debug, Deserialize)]
    #[allow(dead_code)]
    struct Modes {
        mode: Mode,
    }
    #[derive(Debug, Deserialize)]
    #[allow(dead_code)]
    struct Nested {
        inner: Conn,
    }
    let (model, _) = model_for(world(true), "app/0", Hook::default());
    let rel = model.relation("peers").unwrap().unwrap();
    let bag = model.local_unit_data(&rel);
    bag.save(&conn()).unwrap();
    bag.set("port", "hunter2-lots").unwrap();
    match bag.load::<Conn>() {
        Err(ModelError::DatabagField { bag, key, reason }) => {
            assert_eq!(bag, "unit app/0 on peers:1");
            assert_eq!(key, "port");
            assert!(!reason.contains("hunter2"), "{reason}");
        }
        other => panic!("expected DatabagField, got {other:?}"),
    }
    bag.set("mode", "hunter2-mode").unwrap();
    bag.set(
        "inner",
        r#"{"endpoints": "hunter2-x", "port": "hunter2-y"}"#,
    )
    .unwrap();
    for err in [
        bag.load::<Modes>().unwrap_err(),
        bag.load::<Nested>().unwrap_err(),
    ] {
        let shown = format!("{err} {err:?}");
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(matches!(err, ModelError::DatabagField { .. }), "{shown}");
    }
}

#[test]
fn databag_debug_shows_no_values() {
    let (model, _) = model_for(world(true), "app/0", Hook::default());
    let rel = model.relation("db").unwrap().unwrap();
    let bag = model.remote_app_data(&rel).unwrap();
    assert_eq!(bag.get("endpoints").unwrap().as_deref(), Some("pg:5432"));
    let shown = format!("{bag:?} {model:?}");
    assert!(shown.contains("application postgresql on db:3"), "{shown}");
    assert!(!shown.contains("pg:5432"), "{shown}");
}
