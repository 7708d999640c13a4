//! The model's databag rules and hook-tool economy, over the fake Juju.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use ops::backend::RelationRef;
use ops::model::{ModelError, ModelParts};
use ops::{CharmMeta, Model};
use ops_testing::fake_juju::{FakeJuju, FakeTools, HookContext};
use serde::{Deserialize, Serialize};

const META: &str =
    "name: app\npeers: {peers: {interface: p}}\nrequires: {db: {interface: pgsql}}\n";

struct World {
    juju: Arc<Mutex<FakeJuju>>,
    meta: Arc<CharmMeta>,
    peers: u32,
    db: u32,
}

fn world() -> World {
    let meta = CharmMeta::from_charmcraft_yaml(META).unwrap();
    let db_meta = CharmMeta::from_charmcraft_yaml(
        "name: postgresql\nprovides: {database: {interface: pgsql}}\n",
    )
    .unwrap();
    let mut juju = FakeJuju::new("test");
    juju.deploy("app", &meta, 2);
    juju.deploy("postgresql", &db_meta, 1);
    juju.set_leader("app", Some("app/0"));
    let peers = juju.add_relation("app", "peers", "app", "peers");
    juju.join_unit(peers, "app/0");
    juju.join_unit(peers, "app/1");
    let db = juju.add_relation("app", "db", "postgresql", "database");
    juju.join_unit(db, "app/0");
    juju.join_unit(db, "app/1");
    juju.join_unit(db, "postgresql/0");
    juju.set_bag(
        db,
        "postgresql",
        BTreeMap::from([("endpoints".into(), "pg:5432".into())]),
    );
    juju.set_bag(
        db,
        "postgresql/0",
        BTreeMap::from([("ingress-address".into(), "127.0.2.9".into())]),
    );
    World {
        juju: Arc::new(Mutex::new(juju)),
        meta: Arc::new(meta),
        peers,
        db,
    }
}

/// The model of `unit` in one hook, over ops' HookTools running the fake's
/// tools; the tools, for the calls made.
fn model_for(w: &World, unit: &str, relation: Option<RelationRef>) -> (Model, FakeTools) {
    let ctx = HookContext {
        unit: unit.to_string(),
        relation: relation.clone(),
        remote_unit: relation.as_ref().map(|_| "postgresql/0".to_string()),
        remote_app: relation.as_ref().map(|_| "postgresql".to_string()),
        departing_unit: None,
    };
    w.juju.lock().unwrap().begin_hook(&ctx);
    let tools = FakeTools::new(w.juju.clone(), ctx);
    let model = Model::new(ModelParts {
        backend: Arc::new(tools.clone().hook_tools()),
        meta: w.meta.clone(),
        unit_name: unit.to_string(),
        model_name: "test".to_string(),
        model_uuid: String::new(),
        juju_version: "3.6.0".to_string(),
        charm_dir: PathBuf::from("/var/lib/juju/agents/unit-app-0/charm"),
        containers_dir: PathBuf::from("/nonexistent"),
        hook_relation: relation,
        departing_unit: None,
        remote_app: None,
        broken_relation: None,
    });
    (model, tools)
}

#[test]
fn typical_relation_changed_handler_makes_few_hook_tool_calls() {
    let w = world();
    let (model, backend) = model_for(&w, "app/0", Some(RelationRef::new("db", w.db)));
    let db = model.relation_by_id("db", w.db).unwrap().unwrap();
    let peers = model.relation("peers").unwrap().unwrap();
    // Read the remote unit bag and the local app bag (twice each), write two keys.
    for _ in 0..2 {
        assert_eq!(
            model
                .remote_unit_data(&db, "postgresql/0")
                .get("ingress-address")
                .unwrap()
                .as_deref(),
            Some("127.0.2.9")
        );
        assert_eq!(model.local_app_data(&peers).get("missing").unwrap(), None);
        assert!(model.is_leader().unwrap());
    }
    let mine = model.local_unit_data(&db);
    mine.set("database", "pgbouncer").unwrap();
    mine.set("extra-user-roles", "SUPERUSER").unwrap();
    model.flush().unwrap();
    assert_eq!(backend.count("is-leader"), 1, "{:?}", backend.calls());
    assert_eq!(backend.count("relation-get"), 2, "{:?}", backend.calls());
    assert_eq!(backend.count("relation-set"), 1, "{:?}", backend.calls());
    let changes = w.juju.lock().unwrap().end_hook("app/0", true);
    assert_eq!(changes.changed_bags, vec![(w.db, "app/0".to_string())]);
    assert_eq!(
        w.juju.lock().unwrap().bag(w.db, "app/0")["extra-user-roles"],
        "SUPERUSER"
    );
}

fn assert_denied(result: Result<(), ModelError>, operation: &str) {
    match result {
        Err(ModelError::AccessDenied {
            operation: op,
            unit,
            bag,
        }) => {
            assert_eq!(op, operation);
            assert!(!unit.is_empty() && !bag.is_empty());
        }
        other => panic!("expected AccessDenied, got {other:?}"),
    }
}

#[test]
fn follower_cannot_write_the_app_bag_and_nothing_is_written() {
    let w = world();
    let (model, backend) = model_for(&w, "app/1", None);
    let peers = model.relation("peers").unwrap().unwrap();
    assert_denied(model.local_app_data(&peers).set("cfg_file", "x"), "write");
    model.flush().unwrap();
    assert_eq!(backend.count("relation-set"), 0);
    w.juju.lock().unwrap().end_hook("app/1", true);
    assert!(w.juju.lock().unwrap().bag(w.peers, "app").is_empty());
}

#[test]
fn nobody_writes_remote_bags() {
    let w = world();
    let (model, backend) = model_for(&w, "app/0", None);
    let db = model.relation("db").unwrap().unwrap();
    let peers = model.relation("peers").unwrap().unwrap();
    assert_denied(model.remote_app_data(&db).unwrap().set("k", "v"), "write");
    assert_denied(
        model.remote_unit_data(&db, "postgresql/0").set("k", "v"),
        "write",
    );
    assert_denied(
        model.remote_unit_data(&peers, "app/1").set("k", "v"),
        "write",
    );
    model.flush().unwrap();
    assert_eq!(backend.count("relation-set"), 0);
}

#[test]
fn follower_reads_peer_app_bag_but_not_other_app_bags_of_its_own() {
    let w = world();
    w.juju.lock().unwrap().set_bag(
        w.peers,
        "app",
        BTreeMap::from([("leader_hostname".into(), "h".into())]),
    );
    let (model, _) = model_for(&w, "app/1", None);
    let peers = model.relation("peers").unwrap().unwrap();
    assert_eq!(
        model
            .local_app_data(&peers)
            .get("leader_hostname")
            .unwrap()
            .as_deref(),
        Some("h")
    );
    let db = model.relation("db").unwrap().unwrap();
    match model.local_app_data(&db).get("x") {
        Err(ModelError::AccessDenied {
            operation: "read", ..
        }) => {}
        other => panic!("expected AccessDenied, got {other:?}"),
    }
}

#[test]
fn leader_app_writes_flush_as_one_relation_set_with_deletions() {
    let w = world();
    w.juju.lock().unwrap().set_bag(
        w.peers,
        "app",
        BTreeMap::from([("old".into(), "1".into()), ("same".into(), "s".into())]),
    );
    let (model, backend) = model_for(&w, "app/0", None);
    let peers = model.relation("peers").unwrap().unwrap();
    let bag = model.local_app_data(&peers);
    assert_eq!(bag.get("same").unwrap().as_deref(), Some("s"));
    bag.set("same", "s").unwrap();
    bag.remove("old").unwrap();
    bag.set("new", "2").unwrap();
    assert_eq!(bag.get("old").unwrap(), None);
    model.flush().unwrap();
    assert_eq!(backend.count("relation-set"), 1);
    w.juju.lock().unwrap().end_hook("app/0", true);
    let stored = w.juju.lock().unwrap().bag(w.peers, "app");
    assert_eq!(
        stored,
        BTreeMap::from([("new".into(), "2".into()), ("same".into(), "s".into())])
    );
}

#[test]
fn unknown_endpoint_and_container_are_named() {
    let w = world();
    let (model, _) = model_for(&w, "app/0", None);
    assert!(
        matches!(model.relations("nope"), Err(ModelError::UnknownEndpoint { endpoint }) if endpoint == "nope")
    );
    assert!(
        matches!(model.container("nope"), Err(ModelError::UnknownContainer { name }) if name == "nope")
    );
}

#[test]
fn app_status_is_refused_to_a_follower_without_calling_status_set() {
    let w = world();
    let (model, backend) = model_for(&w, "app/1", None);
    assert!(matches!(
        model.set_app_status(ops::Status::active("")),
        Err(ModelError::NotLeader { .. })
    ));
    assert_eq!(backend.count("status-set"), 0);
}

#[derive(Debug, PartialEq, Serialize, Deserialize)]
struct Conn {
    endpoints: String,
    port: u16,
    #[serde(default)]
    tls: Option<bool>,
}

#[test]
fn typed_databags_round_trip_and_name_bad_keys() {
    let w = world();
    let (model, _) = model_for(&w, "app/0", None);
    let peers = model.relation("peers").unwrap().unwrap();
    let bag = model.local_unit_data(&peers);
    let conn = Conn {
        endpoints: "h:1".into(),
        port: 6432,
        tls: None,
    };
    bag.save(&conn).unwrap();
    assert_eq!(bag.get("port").unwrap().as_deref(), Some("6432"));
    assert_eq!(bag.get("tls").unwrap(), None);
    assert_eq!(bag.load::<Conn>().unwrap(), conn);
    bag.set("port", "lots").unwrap();
    match bag.load::<Conn>() {
        Err(ModelError::DatabagField { key, .. }) => assert_eq!(key, "port"),
        other => panic!("expected DatabagField, got {other:?}"),
    }
}

#[test]
fn juju_errors_become_typed_errors() {
    let w = world();
    let (model, _) = model_for(&w, "app/0", None);
    let gone = ops::model::Relation {
        id: RelationRef::new("db", 99),
        app: Some("postgresql".into()),
        units: Default::default(),
        active: false,
    };
    // A dead relation reads as empty; writing to it is Juju's error.
    assert_eq!(
        model.remote_app_data(&gone).unwrap().get("x").unwrap(),
        None
    );
    model.local_unit_data(&gone).set("x", "1").unwrap();
    match model.flush() {
        Err(ModelError::Backend {
            source: ops::backend::BackendError::RelationNotFound { relation, .. },
            ..
        }) => {
            assert_eq!(relation, "db:99")
        }
        other => panic!("expected RelationNotFound, got {other:?}"),
    }
}

#[test]
fn secrets_flow_and_never_show_content_in_debug() {
    let w = world();
    let (model, _) = model_for(&w, "app/0", None);
    let secret = model
        .add_secret(
            BTreeMap::from([("password".into(), "hunter22".into())]),
            Default::default(),
        )
        .unwrap();
    assert!(!format!("{secret:?}").contains("hunter22"));
    let id = secret.id().unwrap().to_string();
    assert_eq!(
        model
            .get_secret(Some(&id), None)
            .unwrap()
            .get_content(false)
            .unwrap()
            .get("password"),
        Some("hunter22")
    );
    secret
        .set_content(BTreeMap::from([("password".into(), "new-one".into())]))
        .unwrap();
    assert_eq!(secret.info().unwrap().revision, 2);
    assert!(matches!(
        model.add_secret(
            BTreeMap::from([("pw".into(), "x".into())]),
            Default::default()
        ),
        Err(ModelError::InvalidSecretKey { .. })
    ));
    let (follower, _) = model_for(&w, "app/1", None);
    assert!(matches!(
        follower.add_secret(
            BTreeMap::from([("password".into(), "x".into())]),
            Default::default()
        ),
        Err(ModelError::NotLeader { .. })
    ));
    assert!(matches!(
        follower.get_secret(Some("secret:missing"), None),
        Err(ModelError::Backend {
            source: ops::backend::BackendError::SecretNotFound { .. },
            ..
        })
    ));
}

#[test]
fn network_get_from_a_relation_this_unit_is_not_in_is_relation_not_found() {
    use ops::backend::Backend;
    let w = world();
    let (_, tools) = model_for(&w, "app/0", None);
    let backend = tools.hook_tools();
    assert!(backend.network_get("db", Some(w.db)).is_ok());
    assert!(matches!(
        backend.network_get("db", Some(999)),
        Err(ops::backend::BackendError::RelationNotFound { .. })
    ));
}
