//! The parts of the model a test sets on a `Context` or a `State` beyond
//! relations and containers: per-binding networks, the model's uuid, type
//! and cloud spec, trust, placement (machine, zone, principal), a
//! relation's remote model and limit, and what the run reports back
//! (workload versions, storage requests, the containers' plans).

use ops::events::ActionEvent;
use ops::model::{CloudCredential, CloudSpec};
use ops::pebble::{Layer, ServiceStartup, ServiceStatus};
use ops::{Charm, Ctx, Framework, HandlerError, HandlerResult};
use ops_testing::context::{
    Address, BindAddress, Container, Context, Inconsistency, ModelType, Network, Relation,
    RelationKind, RunError, State, Storage,
};
use serde_json::json;

const META: &str = r#"
name: faces
containers: {workload: {}}
requires: {db: {interface: pg}, cache: {interface: redis, limit: 3}}
extra-bindings: {metrics: {}}
storage: {data: {type: filesystem, multiple: {range: 0-}}}
actions:
  probe: {}
  versions: {}
  grow: {}
"#;

struct Faces;

impl Charm for Faces {
    fn new(fw: &mut Framework<Self>) -> Result<Self, HandlerError> {
        fw.observe_action("probe", Self::on_probe)?
            .observe_action("versions", Self::on_versions)?
            .observe_action("grow", Self::on_grow)?;
        Ok(Faces)
    }
}

impl Faces {
    /// Reports what the model says, one result per face.
    fn on_probe(&mut self, _: &ActionEvent, ctx: &mut Ctx) -> HandlerResult {
        let model = ctx.model();
        let mut results = serde_json::Map::new();
        let mut put = |k: &str, v: String| {
            results.insert(k.to_string(), json!(v));
        };
        put("uuid", model.uuid().to_string());
        put("machine", model.machine_id().unwrap_or("-").to_string());
        put("zone", model.availability_zone().unwrap_or("-").to_string());
        put(
            "principal",
            model.principal_unit().unwrap_or("-").to_string(),
        );
        for binding in ["db", "metrics"] {
            let net = model.network_get(binding)?;
            put(
                &format!("{binding}-ingress"),
                net.ingress_addresses.join(","),
            );
            put(&format!("{binding}-egress"), net.egress_subnets.join(","));
            let binds: Vec<String> = net
                .interfaces
                .iter()
                .map(|i| {
                    let addrs: Vec<&str> = i.addresses.iter().map(|a| a.value.as_str()).collect();
                    format!("{}={}", i.name, addrs.join("+"))
                })
                .collect();
            put(&format!("{binding}-bind"), binds.join(","));
        }
        for db in model.relations("db")? {
            put(
                &format!("db-{}-model", db.id.id),
                model.relation_model_uuid(&db)?,
            );
        }
        put(
            "cloud",
            match model.cloud_spec() {
                Ok(spec) => {
                    let credential = spec.credential.as_ref();
                    format!(
                        "{} {} {} {}",
                        spec.type_,
                        spec.endpoint.as_deref().unwrap_or("-"),
                        credential.map_or("-", |c| c.auth_type.as_str()),
                        credential
                            .and_then(|c| c.attributes.get("client-key"))
                            .map_or("-", String::as_str),
                    )
                }
                Err(_) => "refused".to_string(),
            },
        );
        model.action_set_results(results)?;
        Ok(())
    }

    fn on_versions(&mut self, _: &ActionEvent, ctx: &mut Ctx) -> HandlerResult {
        for v in ["1.0", "1.1", "1.1", "2.0"] {
            ctx.model().set_workload_version(v)?;
        }
        Ok(())
    }

    fn on_grow(&mut self, _: &ActionEvent, ctx: &mut Ctx) -> HandlerResult {
        ctx.model().add_storage("data", 2)?;
        ctx.model().add_storage("data", 1)?;
        Ok(())
    }
}

fn probe(ctx: &mut Context<Faces>, state: &State) -> ops_testing::context::Bag {
    let out = ctx
        .run_action(ctx.on.action("probe", []), state)
        .expect("probe runs");
    assert_eq!(out.failure, None);
    out.results
}

#[test]
fn a_binding_with_a_network_answers_it_the_others_the_address() {
    let mut ctx = Context::<Faces>::new(META).unwrap();
    let state = State::default().with_address("127.0.0.5").with_network(
        Network::new("db", "127.0.2.10")
            .with_bind_address(
                BindAddress::new("eth1", [Address::new("127.51.100.4")])
                    .with_mac_address("00:16:3e:00:00:01"),
            )
            .with_ingress_addresses(["db.example.com"])
            .with_egress_subnets(["127.0.2.0/24"]),
    );
    let results = probe(&mut ctx, &state);
    assert_eq!(results["db-ingress"], "db.example.com");
    assert_eq!(results["db-egress"], "127.0.2.0/24");
    assert_eq!(results["db-bind"], "eth0=127.0.2.10,eth1=127.51.100.4");
    // Another binding: the state's address, as before.
    assert_eq!(results["metrics-ingress"], "127.0.0.5");
    assert_eq!(results["metrics-egress"], "127.0.0.5/32");
    assert_eq!(results["metrics-bind"], "eth0=127.0.0.5");
    // The network goes through the run unchanged.
    let out = ctx
        .run_action(ctx.on.action("probe", []), &state)
        .unwrap()
        .state;
    assert_eq!(out.network("db"), state.network("db"));
    assert_eq!(out.network("db").unwrap().binding_name, "db");
}

#[test]
fn a_network_for_an_unknown_binding_is_inconsistent() {
    let mut ctx = Context::<Faces>::new(META).unwrap();
    let state = State::default().with_network(Network::new("nope", "127.0.2.1"));
    let err = ctx
        .run_action(ctx.on.action("probe", []), &state)
        .unwrap_err();
    let RunError::Inconsistent(e) = err else {
        panic!("expected an inconsistency, got {err}");
    };
    assert!(e.problems.contains(&Inconsistency::UnknownBinding {
        binding: "nope".into()
    }));
    // juju-info and extra bindings are bindings.
    let ok = State::default()
        .with_network(Network::new("juju-info", "127.0.2.1"))
        .with_network(Network::new("metrics", "127.0.2.2"));
    assert!(ctx.check(&ctx.on.action("probe", []), &ok).is_ok());
}

#[test]
fn model_uuid_placement_and_remote_models_reach_the_charm() {
    let local = "4a1ce6a2-0000-4000-8000-000000000001";
    let remote = "4a1ce6a2-0000-4000-8000-000000000002";
    let mut ctx = Context::<Faces>::new(META)
        .unwrap()
        .with_model_uuid(local)
        .with_machine_id("7")
        .with_availability_zone("zone-b")
        .with_principal_unit("mysql/2");
    let same = Relation::new("db").with_id(21);
    let cross = Relation::new("db")
        .with_id(22)
        .with_remote_model_uuid(remote);
    let state = State::default().with_relation(same).with_relation(cross);
    let results = probe(&mut ctx, &state);
    assert_eq!(results["uuid"], local);
    assert_eq!(results["machine"], "7");
    assert_eq!(results["zone"], "zone-b");
    assert_eq!(results["principal"], "mysql/2");
    assert_eq!(results["db-21-model"], local);
    assert_eq!(results["db-22-model"], remote);
    assert_eq!(state.relations_on("db").len(), 2);

    // Unset, Juju says nothing.
    let mut plain = Context::<Faces>::new(META).unwrap();
    let results = probe(&mut plain, &State::default());
    assert_eq!(
        (
            results["machine"].as_str(),
            results["zone"].as_str(),
            results["principal"].as_str()
        ),
        ("-", "-", "-")
    );
}

#[test]
fn the_cloud_spec_needs_trust_and_on_kubernetes_juju_3_6_10() {
    let spec = CloudSpec::new("lxd", "localhost")
        .with_endpoint("https://127.0.0.1:8443")
        .with_credential(CloudCredential::new(
            "certificate",
            [("client-key".to_string(), "key-pem".to_string())],
        ));
    let seen = "lxd https://127.0.0.1:8443 certificate key-pem";
    let mut untrusted = Context::<Faces>::new(META)
        .unwrap()
        .with_model_type(ModelType::Lxd)
        .with_cloud_spec(spec.clone());
    assert_eq!(probe(&mut untrusted, &State::default())["cloud"], "refused");
    let mut trusted = untrusted.with_app_trusted(true);
    assert_eq!(probe(&mut trusted, &State::default())["cloud"], seen);

    // Kubernetes (the default type) before 3.6.10: inconsistent.
    let mut k8s = Context::<Faces>::new(META)
        .unwrap()
        .with_juju_version("3.6.9")
        .with_cloud_spec(spec.clone())
        .with_app_trusted(true);
    let err = k8s
        .run_action(k8s.on.action("probe", []), &State::default())
        .unwrap_err();
    assert!(
        matches!(&err, RunError::Inconsistent(e) if e.problems.iter().any(|p| matches!(p, Inconsistency::JujuVersion { needed, .. } if needed == "3.6.10"))),
        "{err}"
    );
    let mut k8s = k8s.with_juju_version("3.6.10");
    assert_eq!(probe(&mut k8s, &State::default())["cloud"], seen);
}

#[test]
fn a_relation_limit_is_checked_with_the_metadata_limit() {
    let ctx = Context::<Faces>::new(META).unwrap();
    let event = ctx.on.action("probe", []);
    let two = State::default()
        .with_relation(Relation::new("cache"))
        .with_relation(Relation::new("cache"));
    assert!(ctx.check(&event, &two).is_ok());
    let limited = State::default()
        .with_relation(Relation::new("cache").with_limit(1))
        .with_relation(Relation::new("cache"));
    let err = ctx.check(&event, &limited).unwrap_err();
    assert!(err.problems.contains(&Inconsistency::EndpointLimit {
        endpoint: "cache".into(),
        limit: 1,
        count: 2,
    }));
    // A looser relation limit does not lift the metadata's.
    let four = (0..4).fold(State::default(), |s, _| {
        s.with_relation(Relation::new("cache").with_limit(10))
    });
    let err = ctx.check(&event, &four).unwrap_err();
    assert!(err.problems.contains(&Inconsistency::EndpointLimit {
        endpoint: "cache".into(),
        limit: 3,
        count: 4,
    }));
}

#[test]
fn workload_version_history_is_every_version_but_the_last() {
    let mut ctx = Context::<Faces>::new(META).unwrap();
    let state = State::default().with_workload_version("0.9");
    let out = ctx
        .run_action(ctx.on.action("versions", []), &state)
        .unwrap();
    assert_eq!(out.state.workload_version, "2.0");
    assert_eq!(ctx.workload_version_history(), ["0.9", "1.0", "1.1", "1.1"]);
    // Unset before: not in the history.
    ctx.run_action(ctx.on.action("versions", []), &State::default())
        .unwrap();
    assert_eq!(ctx.workload_version_history(), ["1.0", "1.1", "1.1"]);
    // A run that sets none: empty.
    ctx.run_action(ctx.on.action("probe", []), &state).unwrap();
    assert!(ctx.workload_version_history().is_empty());
}

#[test]
fn requested_storages_add_up_per_name() {
    let mut ctx = Context::<Faces>::new(META).unwrap();
    let data = Storage::new("data");
    let state = State::default().with_storage(data.clone());
    ctx.run_action(ctx.on.action("grow", []), &state).unwrap();
    assert_eq!(ctx.requested_storages().get("data"), Some(&3));
    assert_eq!(state.storage("data", data.index), Some(&data));
    ctx.run_action(ctx.on.action("probe", []), &state).unwrap();
    assert!(ctx.requested_storages().is_empty());
}

#[test]
fn a_containers_plan_merges_its_layers() {
    let base = Layer::from_yaml(
        "services:\n  app: {override: replace, command: app --port 80, startup: enabled}\nchecks:\n  up: {override: replace, http: {url: 'http://localhost/'}}\n",
    )
    .unwrap();
    let top = Layer::from_yaml(
        "services:\n  app: {override: merge, environment: {MODE: fast}}\n  side: {override: replace, command: side}\n",
    )
    .unwrap();
    let c = Container::new("workload")
        .with_layer("base", base.clone())
        .with_layer("top", top);
    let plan = c.plan().unwrap();
    assert_eq!(
        plan.services["app"].command.as_deref(),
        Some("app --port 80")
    );
    assert_eq!(plan.services["app"].environment["MODE"], "fast");
    assert!(plan.services.contains_key("side"));
    assert_eq!(plan.checks["up"].threshold, Some(3));
    // Python's Container.services: the plan's, with startup and status.
    let services = c
        .clone()
        .with_service_status("app", ServiceStatus::Active)
        .services()
        .unwrap();
    assert_eq!(services.keys().collect::<Vec<_>>(), ["app", "side"]);
    assert_eq!(services["app"].startup, ServiceStartup::Enabled);
    assert_eq!(services["app"].current, ServiceStatus::Active);
    assert_eq!(services["side"].startup, ServiceStartup::Disabled);
    assert_eq!(services["side"].current, ServiceStatus::Inactive);

    // The same as the container's Pebble makes of them.
    let mut ctx = Context::<Faces>::new(META).unwrap();
    let state = State::default().with_container(c.clone().with_can_connect(true));
    let out = ctx
        .run_action(ctx.on.action("probe", []), &state)
        .unwrap()
        .state;
    assert_eq!(out.container("workload").unwrap().plan().unwrap(), plan);

    // A layer without an override does not combine.
    let bad = Layer::from_yaml("services:\n  app: {command: other}\n").unwrap();
    let c = c.with_layer("bad", bad);
    let err = c.plan().unwrap_err();
    assert!(err.to_string().contains("override"), "{err}");
    assert_eq!(c.services().unwrap_err(), err);
    assert!(Container::new("empty").plan().unwrap().services.is_empty());
}

/// Every kind of endpoint, containers, storage and options with and
/// without defaults.
const DECLARES_ALL: &str = r#"
name: whole
peers: {replicas: {interface: whole_replicas}}
requires:
  db: {interface: pg}
  logging: {interface: logs, scope: container}
provides: {metrics: {interface: prometheus_scrape}}
containers: {app: {}, tools: {}}
storage: {data: {type: filesystem}}
config:
  options:
    port: {type: int, default: 80}
    name: {type: string, default: whole}
    token: {type: string}
actions: {probe: {}, versions: {}, grow: {}}
"#;

#[test]
fn a_state_from_the_context_holds_what_the_metadata_declares() {
    let mut ctx = Context::<Faces>::new(DECLARES_ALL).unwrap();
    let state = State::from_context(&ctx, State::default());
    let mut relations: Vec<(&str, RelationKind, Option<&str>, &str)> = state
        .relations
        .iter()
        .map(|r| {
            (
                r.endpoint.as_str(),
                r.kind,
                r.interface.as_deref(),
                r.remote_app.as_str(),
            )
        })
        .collect();
    relations.sort_by_key(|r| r.0);
    assert_eq!(
        relations,
        [
            ("db", RelationKind::Regular, Some("pg"), "remote"),
            ("logging", RelationKind::Subordinate, Some("logs"), "remote"),
            (
                "metrics",
                RelationKind::Regular,
                Some("prometheus_scrape"),
                "remote"
            ),
            ("replicas", RelationKind::Peer, Some("whole_replicas"), ""),
        ]
    );
    let logging = state.relations.iter().find(|r| r.endpoint == "logging");
    assert_eq!(
        logging
            .unwrap()
            .remote_units_data
            .keys()
            .collect::<Vec<_>>(),
        [&0]
    );
    let containers: Vec<(&str, bool)> = state
        .containers
        .iter()
        .map(|c| (c.name.as_str(), c.can_connect))
        .collect();
    assert_eq!(containers, [("app", true), ("tools", true)]);
    assert_eq!(state.storages.len(), 1);
    assert_eq!(state.storages[0].name, "data");
    assert_eq!(
        state.config,
        *json!({"port": 80, "name": "whole"}).as_object().unwrap()
    );
    // Juju would run a hook in it: consistent, and a run goes through.
    ctx.check(&ctx.on.update_status(), &state).unwrap();
    ctx.run(ctx.on.update_status(), &state).unwrap();
}

#[test]
fn what_the_test_gives_wins_over_the_metadata() {
    let ctx = Context::<Faces>::new(DECLARES_ALL).unwrap();
    let db = Relation::new("db")
        .with_remote_app("postgresql")
        .with_remote_app_data([("endpoints", "127.0.0.1:5432")]);
    let given = State::default()
        .with_leader(true)
        .with_relation(db.clone())
        .with_container(Container::new("app"))
        .with_config([("port", json!(6432))]);
    let state = State::from_context(&ctx, given);
    assert!(state.leader);
    let dbs: Vec<&Relation> = state
        .relations
        .iter()
        .filter(|r| r.endpoint == "db")
        .collect();
    assert_eq!(dbs.len(), 1, "the given db relation, not a second one");
    assert_eq!(dbs[0].id, db.id);
    assert_eq!(dbs[0].remote_app, "postgresql");
    assert_eq!(state.relations.len(), 4);
    let app = state.containers.iter().find(|c| c.name == "app").unwrap();
    assert!(!app.can_connect, "the given container, Pebble not up");
    assert_eq!(state.config["port"], 6432);
    assert_eq!(state.config["name"], "whole");
}
