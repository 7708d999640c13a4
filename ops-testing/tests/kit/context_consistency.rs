//! The consistency checker: each inconsistency it knows, named in the
//! error; a consistent state passes; the switch turns it off.

use ops::pebble::{Layer, Override, Service, ServiceStatus};
use ops::{Charm, Framework, HandlerError, OptionKind};
use ops_testing::context::{
    Container, Context, Event, File, Inconsistency, Relation, RelationKind, RunError, Secret,
    State, Storage,
};
use serde_json::json;

const META: &str = r#"
name: demo
containers: {workload: {}}
peers: {replicas: {interface: demo_replicas}}
requires:
  db: {interface: pg, limit: 1}
  logging: {interface: log, scope: container}
storage: {data: {type: filesystem}}
resources: {blob: {type: file}}
config:
  options:
    port: {type: int, default: 80}
    name: {type: string}
    ratio: {type: float}
    debug: {type: boolean}
actions:
  greet: {params: {who: {type: string}, times: {type: integer}}}
"#;

struct Quiet;
impl Charm for Quiet {
    fn new(_: &mut Framework<Self>) -> Result<Self, HandlerError> {
        Ok(Quiet)
    }
}

fn ctx() -> Context<Quiet> {
    Context::new(META).unwrap()
}

/// The problems the run refused with (and that `check` finds the same).
fn problems(event: Event, state: &State) -> Vec<Inconsistency> {
    let mut ctx = ctx();
    let checked = ctx.check(&event, state).unwrap_err();
    match ctx.run(event, state) {
        Err(RunError::Inconsistent(e)) => {
            assert_eq!(e, checked);
            assert!(!e.to_string().is_empty());
            e.problems
        }
        other => panic!("expected an inconsistency, got {other:?}"),
    }
}

fn one(event: Event, state: &State) -> Inconsistency {
    let found = problems(event, state);
    assert_eq!(found.len(), 1, "{found:?}");
    found.into_iter().next().unwrap()
}

fn layer(service: &str) -> Layer {
    let mut layer = Layer::default();
    layer.services.insert(
        service.into(),
        Service {
            override_: Some(Override::Replace),
            command: Some("x".into()),
            ..Default::default()
        },
    );
    layer
}

#[test]
fn a_consistent_state_runs() {
    let mut ctx = ctx();
    let peers = Relation::peer("replicas").with_remote_unit(1, []);
    let db = Relation::new("db")
        .with_interface("pg")
        .with_remote_unit(0, []);
    let logging = Relation::subordinate("logging", "logger", 0);
    let secret = Secret::new([("k", "v")]).observed_from(&db);
    let state = State::default()
        .with_relation(peers.clone())
        .with_relation(db.clone())
        .with_relation(logging)
        .with_secret(secret.clone())
        .with_config([
            ("port", json!(1)),
            ("name", json!("n")),
            ("ratio", json!(0.5)),
        ])
        .with_config([("debug", json!(true))])
        .with_container(
            Container::new("workload")
                .with_can_connect(true)
                .with_layer("l", layer("svc"))
                .with_service_status("svc", ServiceStatus::Active),
        )
        .with_storage(Storage::new("data"))
        .with_resource("blob", "/tmp/blob")
        .with_planned_units(2);
    for event in [
        ctx.on.relation_changed(&peers).with_remote_unit(1),
        ctx.on.relation_changed(&db),
        ctx.on.secret_changed(&secret),
        ctx.on.pebble_ready(state.container("workload").unwrap()),
        ctx.on.config_changed(),
    ] {
        ctx.run(event, &state).unwrap();
    }
    ctx.run_action(
        ctx.on
            .action("greet", [("who", json!("x")), ("times", json!(2))]),
        &state,
    )
    .unwrap();
}

#[test]
fn the_events_relation_must_be_in_the_state() {
    let db = Relation::new("db");
    let found = one(ctx().on.relation_changed(&db), &State::default());
    assert!(
        matches!(&found, Inconsistency::EventRelationMissing { relation, .. } if *relation == db.id),
        "{found:?}"
    );
    assert!(found.to_string().contains(&db.id.to_string()));
}

#[test]
fn the_remote_unit_must_be_in_the_relation() {
    let db = Relation::new("db").with_remote_unit(0, []);
    let state = State::default().with_relation(db.clone());
    let found = one(ctx().on.relation_joined(&db).with_remote_unit(4), &state);
    assert!(
        matches!(found, Inconsistency::RemoteUnitMissing { unit: 4, .. }),
        "{found:?}"
    );
}

#[test]
fn a_departing_unit_is_no_longer_listed() {
    let db = Relation::new("db").with_remote_unit(0, []);
    let state = State::default().with_relation(db.clone());
    let found = one(ctx().on.relation_departed(&db, 0), &state);
    assert!(
        matches!(
            found,
            Inconsistency::DepartingUnitStillListed { unit: 0, .. }
        ),
        "{found:?}"
    );
}

#[test]
fn the_events_container_must_be_there_and_connect_for_pebble_ready() {
    let workload = Container::new("workload");
    let found = one(ctx().on.pebble_ready(&workload), &State::default());
    assert!(
        matches!(found, Inconsistency::EventContainerMissing { .. }),
        "{found:?}"
    );
    let state = State::default().with_container(workload.clone());
    let found = one(ctx().on.pebble_ready(&workload), &state);
    assert!(
        matches!(found, Inconsistency::ContainerNotConnectable { .. }),
        "{found:?}"
    );
}

#[test]
fn secret_events_need_the_secret_on_the_right_side() {
    let owned = Secret::new([("k", "v")]);
    let found = one(ctx().on.secret_rotate(&owned), &State::default());
    assert!(
        matches!(found, Inconsistency::EventSecretMissing { .. }),
        "{found:?}"
    );
    let state = State::default().with_secret(owned.clone());
    let found = one(ctx().on.secret_changed(&owned), &state);
    assert!(
        matches!(found, Inconsistency::SecretEventWrongSide { .. }),
        "{found:?}"
    );
    let found = one(ctx().on.secret_expired(&owned, 9), &state);
    assert!(
        matches!(
            found,
            Inconsistency::SecretRevisionMissing { revision: 9, .. }
        ),
        "{found:?}"
    );
}

#[test]
fn storage_events_need_declared_attached_storage() {
    let data = Storage::new("data");
    let found = one(ctx().on.storage_attached(&data), &State::default());
    assert!(
        matches!(found, Inconsistency::EventStorageMissing { .. }),
        "{found:?}"
    );
    let other = Storage::new("other");
    let found = problems(
        ctx().on.storage_attached(&other),
        &State::default().with_storage(other.clone()),
    );
    assert!(
        found.contains(&Inconsistency::UnknownStorage {
            storage: other.id()
        }),
        "{found:?}"
    );
}

#[test]
fn actions_must_be_declared_and_params_typed() {
    let mut ctx = ctx();
    let err = ctx
        .run_action(ctx.on.action("nope", []), &State::default())
        .unwrap_err();
    assert!(
        matches!(&err, RunError::Inconsistent(e) if e.problems == vec![Inconsistency::UnknownAction { action: "nope".into() }]),
        "{err}"
    );
    let err = ctx
        .run_action(
            ctx.on.action("greet", [("times", json!("two"))]),
            &State::default(),
        )
        .unwrap_err();
    assert!(
        matches!(&err, RunError::Inconsistent(e) if matches!(&e.problems[..], [Inconsistency::ActionParamType { param, .. }] if param == "times")),
        "{err}"
    );
}

#[test]
fn config_keys_and_types_must_match_the_options() {
    let state = State::default().with_config([("colour", json!("red"))]);
    assert_eq!(
        one(ctx().on.config_changed(), &state),
        Inconsistency::UnknownConfigOption {
            key: "colour".into()
        }
    );
    for (key, value, expected) in [
        ("port", json!("80"), OptionKind::Int),
        ("port", json!(1.5), OptionKind::Int),
        ("name", json!(3), OptionKind::String),
        ("ratio", json!("x"), OptionKind::Float),
        ("debug", json!("yes"), OptionKind::Boolean),
    ] {
        let state = State::default().with_config([(key, value)]);
        assert_eq!(
            one(ctx().on.config_changed(), &state),
            Inconsistency::ConfigType {
                key: key.into(),
                expected,
            }
        );
    }
}

#[test]
fn relations_must_match_their_endpoints() {
    let on = ctx().on;
    let unknown = Relation::new("nowhere");
    let found = one(on.start(), &State::default().with_relation(unknown));
    assert!(
        matches!(found, Inconsistency::UnknownEndpoint { .. }),
        "{found:?}"
    );
    let wrong_interface = Relation::new("db").with_interface("mysql");
    let found = one(on.start(), &State::default().with_relation(wrong_interface));
    assert!(
        matches!(&found, Inconsistency::InterfaceMismatch { declared, .. } if declared == "pg"),
        "{found:?}"
    );
    // A regular relation on a peer endpoint, a peer one on a regular endpoint,
    // a regular one on a subordinate endpoint.
    for (relation, declared) in [
        (Relation::new("replicas"), RelationKind::Peer),
        (Relation::peer("db"), RelationKind::Regular),
        (Relation::new("logging"), RelationKind::Subordinate),
    ] {
        let found = one(on.start(), &State::default().with_relation(relation));
        assert!(
            matches!(found, Inconsistency::RelationKindMismatch { declared: d, .. } if d == declared),
            "{found:?}"
        );
    }
}

#[test]
fn relation_ids_limits_subordinates_and_peers() {
    let on = ctx().on;
    let a = Relation::new("db");
    let mut b = Relation::new("db");
    b.id = a.id;
    let mut state = State::default().with_relation(a.clone());
    state.relations.push(b);
    let found = problems(on.start(), &state);
    assert!(
        found.contains(&Inconsistency::DuplicateRelationId { relation: a.id }),
        "{found:?}"
    );
    let state = State::default()
        .with_relation(Relation::new("db"))
        .with_relation(Relation::new("db"));
    let found = one(on.start(), &state);
    assert!(
        matches!(
            found,
            Inconsistency::EndpointLimit {
                limit: 1,
                count: 2,
                ..
            }
        ),
        "{found:?}"
    );
    let sub = Relation::subordinate("logging", "logger", 0).with_remote_unit(1, []);
    let found = one(on.start(), &State::default().with_relation(sub));
    assert!(
        matches!(found, Inconsistency::SubordinateUnits { count: 2, .. }),
        "{found:?}"
    );
    let peers = Relation::peer("replicas").with_remote_unit(0, []);
    let found = one(on.start(), &State::default().with_relation(peers));
    assert!(
        matches!(found, Inconsistency::PeerIsSelf { unit: 0, .. }),
        "{found:?}"
    );
}

#[test]
fn containers_must_be_declared_once_with_supported_services_and_absolute_paths() {
    let on = ctx().on;
    let found = one(
        on.start(),
        &State::default().with_container(Container::new("other")),
    );
    assert!(
        matches!(found, Inconsistency::UnknownContainer { .. }),
        "{found:?}"
    );
    let mut state = State::default().with_container(Container::new("workload"));
    state.containers.push(Container::new("workload"));
    let found = one(on.start(), &state);
    assert!(
        matches!(found, Inconsistency::DuplicateContainer { .. }),
        "{found:?}"
    );
    for container in [
        Container::new("workload").with_service_status("ghost", ServiceStatus::Active),
        Container::new("workload")
            .with_layer("l", layer("svc"))
            .with_service_status("svc", ServiceStatus::Backoff),
    ] {
        let found = one(on.start(), &State::default().with_container(container));
        assert!(
            matches!(found, Inconsistency::UnsupportedServiceStatus { .. }),
            "{found:?}"
        );
    }
    let relative = Container::new("workload").with_file("etc/x", File::new("x"));
    let found = one(on.start(), &State::default().with_container(relative));
    assert!(
        matches!(found, Inconsistency::RelativeFilePath { .. }),
        "{found:?}"
    );
}

#[test]
fn secrets_must_be_unique_track_a_revision_and_name_relations_in_the_state() {
    let on = ctx().on;
    let s = Secret::new([("k", "v")]);
    let mut state = State::default().with_secret(s.clone());
    state.secrets.push(s.clone());
    let found = one(on.start(), &state);
    assert!(
        matches!(found, Inconsistency::DuplicateSecretId { .. }),
        "{found:?}"
    );
    let untracked = Secret::new([("k", "v")]).with_tracked_revision(3);
    let found = one(on.start(), &State::default().with_secret(untracked));
    assert!(
        matches!(
            found,
            Inconsistency::SecretTrackedRevision { revision: 3, .. }
        ),
        "{found:?}"
    );
    let db = Relation::new("db");
    let observed = Secret::new([("k", "v")]).observed_from(&db);
    let found = one(on.start(), &State::default().with_secret(observed));
    assert!(
        matches!(&found, Inconsistency::SecretRelationMissing { relation, .. } if *relation == db.id),
        "{found:?}"
    );
    let granted = Secret::new([("k", "v")]).with_grant(db.id, None);
    let found = one(on.start(), &State::default().with_secret(granted));
    assert!(
        matches!(found, Inconsistency::SecretRelationMissing { .. }),
        "{found:?}"
    );
}

#[test]
fn resources_planned_units_address_and_juju_version() {
    let on = ctx().on;
    let found = one(
        on.start(),
        &State::default().with_resource("other", "/tmp/x"),
    );
    assert!(
        matches!(found, Inconsistency::UnknownResource { .. }),
        "{found:?}"
    );
    let state = State::default()
        .with_relation(
            Relation::peer("replicas")
                .with_remote_unit(1, [])
                .with_remote_unit(2, []),
        )
        .with_planned_units(2);
    let found = one(on.start(), &state);
    assert_eq!(
        found,
        Inconsistency::PlannedUnits {
            planned: 2,
            needed: 3
        }
    );
    let found = one(on.start(), &State::default().with_address("db.example"));
    assert!(
        matches!(found, Inconsistency::InvalidAddress { .. }),
        "{found:?}"
    );
    let mut old = ctx().with_juju_version("2.9.44");
    let owned = Secret::new([("k", "v")]);
    let state = State::default().with_secret(owned.clone());
    let err = old.run(old.on.secret_rotate(&owned), &state).unwrap_err();
    assert!(
        matches!(&err, RunError::Inconsistent(e) if matches!(&e.problems[..], [Inconsistency::JujuVersion { needed, .. }] if needed == "3.0")),
        "{err}"
    );
    let workload = Container::new("workload").with_can_connect(true);
    let state = State::default().with_container(workload.clone());
    let mut old = ctx().with_juju_version("3.3.0");
    let err = old
        .run(
            old.on.pebble_custom_notice(&workload, "1", "example.com/k"),
            &state,
        )
        .unwrap_err();
    assert!(matches!(err, RunError::Inconsistent(_)), "{err}");
}

#[test]
fn every_problem_is_reported_at_once() {
    let state = State::default()
        .with_config([("colour", json!(1))])
        .with_container(Container::new("other"));
    let found = problems(ctx().on.relation_broken(&Relation::new("db")), &state);
    assert_eq!(found.len(), 3, "{found:?}");
}

#[test]
fn the_checker_can_be_turned_off() {
    let mut ctx = ctx().without_consistency_checks();
    let state = State::default().with_config([("colour", json!("red"))]);
    ctx.run(ctx.on.config_changed(), &state).unwrap();
}
