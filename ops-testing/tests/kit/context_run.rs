//! `Context::run`: each State component goes in, the charm sees it through
//! the real dispatch, and what the charm changed comes out; side effects are
//! on the context.

use std::collections::BTreeMap;

use ops::backend::PortProtocol;
use ops::events::{
    ActionEvent, ConfigChanged, PebbleReady, RelationChanged, RelationDeparted, SecretChanged,
    SecretRemove, Start, StorageAttached, UpdateStatus,
};
use ops::model::SecretOptions;
use ops::pebble::{Layer, Override, PushOptions, Service, ServiceStartup, ServiceStatus};
use ops::{Charm, Ctx, Framework, HandlerError, HandlerResult, Outcome, Status, StoredState};
use ops_testing::context::{
    Container, Context, File, Relation, RunError, Secret, SecretOwner, State, Storage,
    StoredState as StoredStateData, observer_key,
};
use ops_testing::fake_pebble::ServiceEvent;
use serde::{Deserialize, Serialize};
use serde_json::json;

const META: &str = r#"
name: demo
containers: {workload: {}}
peers: {replicas: {interface: demo_replicas}}
requires: {db: {interface: pg, limit: 1}}
storage: {data: {type: filesystem}}
config:
  options:
    port: {type: int, default: 80}
actions:
  greet: {params: {who: {type: string}}}
  make-secret: {}
  fail: {}
"#;

#[derive(Default, Serialize, Deserialize)]
struct Memory {
    starts: u32,
    storage: Option<String>,
    planned: Option<usize>,
    address: Option<String>,
}

struct Demo {
    memory: StoredState<Memory>,
}

impl Charm for Demo {
    fn new(fw: &mut Framework<Self>) -> Result<Self, HandlerError> {
        let memory = fw.stored_state("memory")?;
        fw.observe(Self::on_start)?
            .observe(Self::on_config_changed)?
            .observe(Self::on_update_status)?
            .observe(Self::on_secret_changed)?
            .observe(Self::on_secret_remove)?
            .observe_relation("replicas", Self::on_replicas_changed)?
            .observe_relation("db", Self::on_db_changed)?
            .observe_relation("db", Self::on_db_departed)?
            .observe_container("workload", Self::on_pebble_ready)?
            .observe_storage("data", Self::on_storage_attached)?
            .observe_action("greet", Self::on_greet)?
            .observe_action("make-secret", Self::on_make_secret)?
            .observe_action("fail", Self::on_fail)?;
        Ok(Demo { memory })
    }
}

impl Demo {
    fn on_start(&mut self, _: &Start, ctx: &mut Ctx) -> HandlerResult<Outcome> {
        self.memory.get_mut().starts += 1;
        let model = ctx.model();
        model.set_unit_status(Status::maintenance("starting"))?;
        model.open_port(PortProtocol::Tcp, Some(8080))?;
        model.set_workload_version("1.2.3")?;
        tracing::info!("started");
        model.set_unit_status(Status::active(""))?;
        Ok(Outcome::Done)
    }

    fn on_config_changed(&mut self, _: &ConfigChanged, ctx: &mut Ctx) -> HandlerResult<Outcome> {
        let model = ctx.model();
        let Some(peers) = model.relation("replicas")? else {
            return Ok(Outcome::Defer);
        };
        let port = model.config()?.get::<i64>("port")?.unwrap_or_default();
        model
            .local_unit_data(&peers)
            .set("port", &port.to_string())?;
        if model.is_leader()? {
            model
                .local_app_data(&peers)
                .set("port", &port.to_string())?;
        }
        Ok(Outcome::Done)
    }

    fn on_update_status(&mut self, _: &UpdateStatus, ctx: &mut Ctx) -> HandlerResult<Outcome> {
        let model = ctx.model();
        let planned = model.planned_units()?;
        let address = model
            .network_get("replicas")?
            .ingress_address()
            .map(str::to_string);
        let mut memory = self.memory.get_mut();
        memory.planned = Some(planned);
        memory.address = address;
        Ok(Outcome::Done)
    }

    fn on_replicas_changed(
        &mut self,
        e: &RelationChanged,
        ctx: &mut Ctx,
    ) -> HandlerResult<Outcome> {
        let model = ctx.model();
        let Some(peers) = model.relation_by_id("replicas", e.relation.id)? else {
            return Ok(Outcome::Done);
        };
        if let Some(unit) = &e.unit {
            let ready = model.remote_unit_data(&peers, unit).get("ready")?;
            model
                .local_unit_data(&peers)
                .set("seen", &format!("{unit}:{}", ready.unwrap_or_default()))?;
        }
        Ok(Outcome::Done)
    }

    fn on_db_changed(&mut self, e: &RelationChanged, ctx: &mut Ctx) -> HandlerResult<Outcome> {
        let model = ctx.model();
        let Some(db) = model.relation_by_id("db", e.relation.id)? else {
            return Ok(Outcome::Done);
        };
        let endpoints = model.remote_app_data(&db)?.get("endpoints")?;
        // A follower may not write the app bag: this fails the hook, as in Juju.
        model
            .local_app_data(&db)
            .set("ack", &endpoints.unwrap_or_default())?;
        Ok(Outcome::Done)
    }

    fn on_db_departed(&mut self, e: &RelationDeparted, ctx: &mut Ctx) -> HandlerResult {
        let model = ctx.model();
        if let Some(db) = model.relation_by_id("db", e.relation.id)? {
            let gone = e.departing_unit.clone().unwrap_or_default();
            model.local_unit_data(&db).set("gone", &gone)?;
        }
        Ok(())
    }

    fn on_pebble_ready(&mut self, _: &PebbleReady, ctx: &mut Ctx) -> HandlerResult<Outcome> {
        let container = ctx.model().container("workload")?;
        let old = container.pull("/etc/demo.conf").unwrap_or_default();
        let options = PushOptions::new()
            .with_make_dirs(true)
            .with_permissions(0o600);
        let mut new = old.clone();
        new.extend_from_slice(b"ready\n");
        container.push("/etc/demo.conf", &new, &options)?;
        let mut layer = Layer::default();
        layer.services.insert(
            "demo".into(),
            Service {
                override_: Some(Override::Replace),
                command: Some("demo".into()),
                startup: Some(ServiceStartup::Enabled),
                ..Default::default()
            },
        );
        container.add_layer("demo", &layer, true)?;
        container.replan_services()?;
        Ok(Outcome::Done)
    }

    fn on_secret_changed(&mut self, e: &SecretChanged, ctx: &mut Ctx) -> HandlerResult<Outcome> {
        let model = ctx.model();
        let secret = model.get_secret(Some(&e.id), None)?;
        let content = secret.get_content(true)?;
        let peers = model.relation("replicas")?.expect("test states have peers");
        model
            .local_unit_data(&peers)
            .set("token", content.get("token").unwrap_or_default())?;
        Ok(Outcome::Done)
    }

    fn on_secret_remove(&mut self, e: &SecretRemove, ctx: &mut Ctx) -> HandlerResult<Outcome> {
        let secret = ctx.model().get_secret(Some(&e.id), None)?;
        if let Some(revision) = e.revision {
            secret.remove_revision(revision)?;
        }
        Ok(Outcome::Done)
    }

    fn on_storage_attached(&mut self, e: &StorageAttached, _: &mut Ctx) -> HandlerResult<Outcome> {
        self.memory.get_mut().storage = Some(e.id.clone());
        Ok(Outcome::Done)
    }

    fn on_greet(&mut self, _: &ActionEvent, ctx: &mut Ctx) -> HandlerResult {
        let model = ctx.model();
        let who = model.action_params()?["who"]
            .as_str()
            .unwrap_or("nobody")
            .to_string();
        model.action_log("greeting")?;
        let mut results = serde_json::Map::new();
        results.insert("greeting".into(), json!(format!("hello {who}")));
        model.action_set_results(results)?;
        Ok(())
    }

    fn on_make_secret(&mut self, _: &ActionEvent, ctx: &mut Ctx) -> HandlerResult {
        let content = BTreeMap::from([("token".to_string(), "t0k3n".to_string())]);
        let options = SecretOptions::new()
            .with_label("made")
            .with_expire(std::time::Duration::from_secs(3600));
        ctx.model().add_secret(content, options)?;
        Ok(())
    }

    fn on_fail(&mut self, _: &ActionEvent, ctx: &mut Ctx) -> HandlerResult {
        ctx.model().action_fail("nope")?;
        Ok(())
    }
}

fn ctx() -> Context<Demo> {
    Context::new(META).unwrap()
}

#[test]
fn start_changes_stored_state_status_ports_and_version_and_logs() {
    let mut ctx = ctx();
    let state = State::default()
        .with_stored_state(StoredStateData::new("memory", json!({"starts": 4})))
        .with_unit_status(Status::waiting("before"));
    let out = ctx.run(ctx.on.start(), &state).unwrap();
    assert_eq!(out.stored_state("memory").unwrap().content["starts"], 5);
    assert_eq!(out.unit_status, Status::active(""));
    assert_eq!(
        ctx.unit_status_history(),
        vec![Status::waiting("before"), Status::maintenance("starting")]
    );
    assert_eq!(
        out.opened_ports
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>(),
        vec!["8080/tcp"]
    );
    assert_eq!(out.workload_version, "1.2.3");
    assert!(
        ctx.juju_log()
            .iter()
            .any(|l| l.level == "INFO" && l.message == "started"),
        "{:?}",
        ctx.juju_log()
    );
    assert_eq!(ctx.emitted_event_names(), vec!["start"]);
    // The input is untouched: a state is a value.
    assert_eq!(state.stored_state("memory").unwrap().content["starts"], 4);
}

#[test]
fn an_event_the_charm_defers_is_in_the_output_and_reemitted_next_time() {
    let mut ctx = ctx();
    let out = ctx.run(ctx.on.config_changed(), &State::default()).unwrap();
    assert_eq!(out.deferred_events(), vec!["config_changed"]);
    let notice = &out.deferred[0];
    assert_eq!(notice.observer, observer_key(Demo::on_config_changed));

    // Fed back with the peer relation now there: re-emitted first, then done.
    let peers = Relation::peer("replicas");
    let next = out.with_relation(peers.clone()).with_leader(true);
    let out = ctx.run(ctx.on.update_status(), &next).unwrap();
    assert!(out.deferred.is_empty(), "{:?}", out.deferred_events());
    assert_eq!(
        ctx.emitted_event_names(),
        vec!["config_changed", "update_status"]
    );
    assert!(ctx.emitted_events()[0].reemitted);
    let r = out.relation(peers.id).unwrap();
    assert_eq!(r.local_unit_data["port"], "80");
    assert_eq!(r.local_app_data["port"], "80");
}

#[test]
fn a_deferred_notice_made_by_the_context_is_reemitted() {
    let mut ctx = ctx();
    let peers = Relation::peer("replicas");
    let state = State::default()
        .with_relation(peers.clone())
        .with_config([("port", json!(9000))]);
    let notice = ctx.deferred(
        &ctx.on.config_changed(),
        &observer_key(Demo::on_config_changed),
        &state,
    );
    let state = state.with_deferred(notice);
    let out = ctx.run(ctx.on.update_status(), &state).unwrap();
    assert!(out.deferred.is_empty());
    assert_eq!(
        out.relation(peers.id).unwrap().local_unit_data["port"],
        "9000"
    );
}

#[test]
fn relation_events_carry_the_remote_unit_and_its_databag() {
    let mut ctx = ctx().with_unit_id(2);
    let peers = Relation::peer("replicas")
        .with_remote_unit(0, [("ready", "no")])
        .with_remote_unit(5, [("ready", "yes")]);
    let state = State::default().with_relation(peers.clone());
    let out = ctx
        .run(ctx.on.relation_changed(&peers).with_remote_unit(5), &state)
        .unwrap();
    let r = out.relation(peers.id).unwrap();
    assert_eq!(r.local_unit_data["seen"], "demo/5:yes");
    // Juju's own keys stay in the unit's bag.
    assert_eq!(r.local_unit_data["ingress-address"], "127.0.0.1");
}

#[test]
fn a_follower_writing_the_app_bag_fails_the_run_and_nothing_is_kept() {
    let mut ctx = ctx();
    let db = Relation::new("db")
        .with_remote_app("postgresql")
        .with_remote_app_data([("endpoints", "127.0.0.1:5432")])
        .with_remote_unit(0, []);
    let state = State::default().with_relation(db.clone());
    let err = ctx.run(ctx.on.relation_changed(&db), &state).unwrap_err();
    assert!(matches!(err, RunError::Dispatch(_)), "{err}");
    let out = ctx
        .run(
            ctx.on.relation_changed(&db),
            &state.clone().with_leader(true),
        )
        .unwrap();
    assert_eq!(
        out.relation(db.id).unwrap().local_app_data["ack"],
        "127.0.0.1:5432"
    );
}

/// A value with characters YAML refuses raw or folds (DEL, C1 controls,
/// NEL, U+2028) reaches the bag as it was: the charm's relation-set goes
/// through `ops`' HookTools and the fake's YAML reading of `--file`, as
/// under Juju, which refused such a value until ops escaped it.
#[test]
fn a_databag_value_with_characters_yaml_treats_apart_round_trips() {
    let mut ctx = ctx();
    let hostile = "127.0.0.1:5432\u{7f}\u{80}\u{85}\u{2028}\u{9f} \u{fffe}";
    let db = Relation::new("db")
        .with_remote_app("postgresql")
        .with_remote_app_data([("endpoints", hostile)])
        .with_remote_unit(0, []);
    let state = State::default().with_relation(db.clone()).with_leader(true);
    let out = ctx.run(ctx.on.relation_changed(&db), &state).unwrap();
    assert_eq!(out.relation(db.id).unwrap().local_app_data["ack"], hostile);
}

#[test]
fn relation_departed_names_the_departing_unit() {
    let mut ctx = ctx();
    let db = Relation::new("db").with_remote_app("postgresql");
    let state = State::default().with_relation(db.clone());
    let out = ctx.run(ctx.on.relation_departed(&db, 3), &state).unwrap();
    assert_eq!(
        out.relation(db.id).unwrap().local_unit_data["gone"],
        "postgresql/3"
    );
}

#[test]
fn pebble_ready_sees_the_files_and_leaves_layers_services_and_files() {
    let mut ctx = ctx();
    let workload = Container::new("workload")
        .with_can_connect(true)
        .with_file("/etc/demo.conf", File::new("old\n"));
    let state = State::default().with_container(workload.clone());
    let out = ctx.run(ctx.on.pebble_ready(&workload), &state).unwrap();
    let c = out.container("workload").unwrap();
    assert_eq!(c.text("/etc/demo.conf"), Some("old\nready\n"));
    assert_eq!(c.files["/etc/demo.conf"].mode, 0o600);
    assert_eq!(c.layers.len(), 1);
    assert_eq!(c.service_statuses["demo"], ServiceStatus::Active);
    assert_eq!(
        ctx.service_events("workload"),
        &[ServiceEvent::Start("demo".into())]
    );
    // Feeding the output back: the service runs already, the file grows.
    let out = ctx.run(ctx.on.pebble_ready(c), &out).unwrap();
    let c = out.container("workload").unwrap();
    assert_eq!(c.text("/etc/demo.conf"), Some("old\nready\nready\n"));
    assert!(ctx.service_events("workload").is_empty());
}

#[test]
fn an_observed_secret_is_read_at_its_new_revision_on_secret_changed() {
    let mut ctx = ctx();
    let db = Relation::new("db").with_remote_app("vault");
    let peers = Relation::peer("replicas");
    let secret = Secret::new([("token", "one")])
        .observed_from(&db)
        .with_revision(2, [("token", "two")]);
    let state = State::default()
        .with_relation(db)
        .with_relation(peers.clone())
        .with_secret(secret.clone());
    let out = ctx.run(ctx.on.secret_changed(&secret), &state).unwrap();
    assert_eq!(
        out.relation(peers.id).unwrap().local_unit_data["token"],
        "two"
    );
    assert_eq!(out.secret(&secret.id).unwrap().tracked_revision, 2);
}

#[test]
fn secret_remove_removes_the_revision() {
    let mut ctx = ctx();
    let secret = Secret::new([("token", "one")]).with_revision(2, [("token", "two")]);
    let state = State::default()
        .with_leader(true)
        .with_secret(secret.clone());
    let out = ctx.run(ctx.on.secret_remove(&secret, 1), &state).unwrap();
    assert_eq!(
        ctx.removed_secret_revisions(),
        &BTreeMap::from([(secret.id.clone(), vec![1])])
    );
    let after = out.secret(&secret.id).unwrap();
    assert_eq!(after.revisions.keys().copied().collect::<Vec<_>>(), vec![2]);
    assert_eq!(after.owner, SecretOwner::App);
}

#[test]
fn actions_give_results_logs_and_failure() {
    let mut ctx = ctx();
    let out = ctx
        .run_action(
            ctx.on.action("greet", [("who", json!("bob"))]),
            &State::default(),
        )
        .unwrap();
    assert_eq!(out.results["greeting"], "hello bob");
    assert_eq!(out.logs, vec!["greeting"]);
    assert_eq!(out.failure, None);
    let out = ctx
        .run_action(ctx.on.action("fail", []), &State::default())
        .unwrap();
    assert_eq!(out.failure.as_deref(), Some("nope"));
}

#[test]
fn an_action_adding_a_secret_leaves_it_in_the_state() {
    let mut ctx = ctx();
    let state = State::default().with_leader(true);
    let before = std::time::SystemTime::now();
    let out = ctx
        .run_action(ctx.on.action("make-secret", []), &state)
        .unwrap();
    let after = std::time::SystemTime::now();
    let made = out.state.secret_by_label("made").expect("a new secret");
    assert_eq!(made.owner, SecretOwner::App);
    assert_eq!(made.latest_content().unwrap()["token"], "t0k3n");
    // An hour from when secret-add ran (to the second), as Juju reads a
    // duration.
    let expire = made.expire.as_deref().expect("an expiry");
    let at = ops::rfc3339::parse(expire).unwrap();
    let hour = std::time::Duration::from_secs(3600);
    let second = std::time::Duration::from_secs(1);
    assert!(
        at + second >= before + hour && at <= after + hour,
        "{expire}"
    );
}

#[test]
fn run_and_run_action_refuse_the_other_kind() {
    let mut ctx = ctx();
    let err = ctx
        .run(ctx.on.action("greet", []), &State::default())
        .unwrap_err();
    assert!(matches!(err, RunError::WrongRun(_)), "{err}");
    let err = ctx
        .run_action(ctx.on.start(), &State::default())
        .unwrap_err();
    assert!(matches!(err, RunError::WrongRun(_)), "{err}");
}

#[test]
fn storage_planned_units_and_address_reach_the_charm() {
    let mut ctx = ctx();
    let data = Storage::new("data");
    let state = State::default()
        .with_storage(data.clone())
        .with_relation(Relation::peer("replicas").with_remote_unit(1, []))
        .with_planned_units(3)
        .with_address("127.0.0.9");
    let out = ctx.run(ctx.on.storage_attached(&data), &state).unwrap();
    assert_eq!(
        out.stored_state("memory").unwrap().content["storage"],
        data.id()
    );
    let out = ctx.run(ctx.on.update_status(), &out).unwrap();
    let memory = &out.stored_state("memory").unwrap().content;
    assert_eq!(memory["planned"], 3);
    assert_eq!(memory["address"], "127.0.0.9");
}

#[test]
fn context_options_name_the_unit_app_and_model() {
    let ctx = ctx()
        .with_app_name("other")
        .with_unit_id(4)
        .with_model_name("m")
        .with_juju_version("3.5.1");
    assert_eq!(ctx.unit_name(), "other/4");
    assert_eq!(ctx.app_name(), "other");
    let packed = Context::<Demo>::from_yaml(
        "name: demo\npeers: {replicas: {interface: demo_replicas}}\n",
        Some("options: {port: {type: int, default: 1}}\n"),
        None,
    )
    .unwrap();
    assert_eq!(packed.meta().config["port"].kind, ops::OptionKind::Int);
}

#[test]
fn a_state_from_a_harness_model_runs_the_same() {
    let mut harness = ops_testing::Harness::<Demo>::new(META).unwrap();
    harness.set_leader(true).unwrap();
    harness.begin();
    let peers = harness.add_relation("replicas", "demo").unwrap();
    harness.update_config([("port", json!(7000))]).unwrap();
    let ctx0 = ctx();
    let state = ctx0
        .state_from_model(&harness.juju(), harness.unit_name())
        .unwrap();
    assert!(state.leader);
    assert_eq!(state.config["port"], 7000);
    let r = state.relation(peers).unwrap();
    assert_eq!(r.local_app_data["port"], "7000");
    let mut ctx = ctx0;
    let out = ctx.run(ctx.on.config_changed(), &state).unwrap();
    assert_eq!(out.relation(peers).unwrap().local_unit_data["port"], "7000");
}

#[test]
fn a_deferred_relation_event_is_reemitted_with_its_remote_unit() {
    let mut ctx = ctx();
    let peers = Relation::peer("replicas").with_remote_unit(5, [("ready", "yes")]);
    let state = State::default().with_relation(peers.clone());
    let notice = ctx.deferred(
        &ctx.on.relation_changed(&peers).with_remote_unit(5),
        &observer_key(Demo::on_replicas_changed),
        &state,
    );
    assert_eq!(notice.event, "replicas_relation_changed");
    let out = ctx
        .run(ctx.on.update_status(), &state.with_deferred(notice))
        .unwrap();
    assert!(out.deferred.is_empty(), "{:?}", out.deferred_events());
    assert_eq!(
        out.relation(peers.id).unwrap().local_unit_data["seen"],
        "demo/5:yes"
    );
}

/// A charm that sets its status in collect-status.
struct Collecting;

impl Charm for Collecting {
    fn new(fw: &mut Framework<Self>) -> Result<Self, HandlerError> {
        fw.observe(Self::on_update_status)?
            .observe(Self::on_collect_unit_status)?;
        Ok(Collecting)
    }
}

impl Collecting {
    fn on_update_status(&mut self, _: &UpdateStatus, _: &mut Ctx) -> HandlerResult {
        Ok(())
    }

    fn on_collect_unit_status(
        &mut self,
        _: &ops::events::CollectUnitStatus,
        _: &mut Ctx,
    ) -> HandlerResult<Status> {
        Ok(Status::active("collected"))
    }
}

/// One `juju-log` line names the Juju event, as Python ops logs "Emitting
/// Juju event"; collect-status, which runs on every hook, adds none (each
/// line is a hook-tool process under Juju).
#[test]
fn only_the_juju_event_is_logged_as_emitted() {
    let mut ctx = Context::<Collecting>::new(META).unwrap();
    let out = ctx.run(ctx.on.update_status(), &State::default()).unwrap();
    assert_eq!(out.unit_status, Status::active("collected"));
    let emitting: Vec<_> = ctx
        .juju_log()
        .iter()
        .filter(|l| l.message.starts_with("emitting"))
        .map(|l| (l.level.as_str(), l.message.as_str()))
        .collect();
    assert_eq!(emitting.len(), 1, "{:?}", ctx.juju_log());
    assert_eq!(emitting[0].0, "DEBUG");
    assert!(emitting[0].1.contains("update_status"), "{emitting:?}");
}

/// A charm whose status is a file it ships (`motd`), read from its
/// charm directory.
struct Shipped;

impl Charm for Shipped {
    fn new(fw: &mut Framework<Self>) -> Result<Self, HandlerError> {
        fw.observe(Self::on_collect_unit_status)?;
        Ok(Shipped)
    }
}

impl Shipped {
    fn on_collect_unit_status(
        &mut self,
        _: &ops::events::CollectUnitStatus,
        ctx: &mut Ctx,
    ) -> HandlerResult<Status> {
        let motd = ctx.model().charm_dir().join("motd");
        Ok(match std::fs::read_to_string(&motd) {
            Ok(text) => Status::active(text.trim()),
            Err(_) => Status::blocked("no motd shipped"),
        })
    }
}

/// Python's `Context(charm_root=...)`: the runs' `JUJU_CHARM_DIR` is the
/// charm's own directory, with what it ships, and the runs add nothing to it.
#[test]
fn a_charm_root_is_the_charm_directory_of_the_runs() {
    let root = tempfile::tempdir().unwrap();
    std::fs::write(root.path().join("charmcraft.yaml"), "name: shipped\n").unwrap();
    std::fs::write(root.path().join("motd"), "shipped with the charm\n").unwrap();
    let listing = |dir: &std::path::Path| {
        let mut names: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    };
    let before = listing(root.path());

    let mut ctx = Context::<Shipped>::from_charm_dir(root.path()).unwrap();
    let out = ctx.run(ctx.on.update_status(), &State::default()).unwrap();
    assert_eq!(out.unit_status, Status::active("shipped with the charm"));
    let mut ctx = Context::<Shipped>::new("name: shipped\n")
        .unwrap()
        .with_charm_root(root.path());
    let out = ctx.run(ctx.on.update_status(), &State::default()).unwrap();
    assert_eq!(out.unit_status, Status::active("shipped with the charm"));
    assert_eq!(listing(root.path()), before, "the runs wrote into it");

    // Without one, the charm directory is an empty scratch one.
    let mut ctx = Context::<Shipped>::new("name: shipped\n").unwrap();
    let out = ctx.run(ctx.on.update_status(), &State::default()).unwrap();
    assert_eq!(out.unit_status, Status::blocked("no motd shipped"));
}

/// A charm that copies `/etc/app/in.conf` to `/etc/app/out.conf`, adding
/// a line, in its `workload` container.
struct Copier;

impl Charm for Copier {
    fn new(fw: &mut Framework<Self>) -> Result<Self, HandlerError> {
        fw.observe(Self::on_update_status)?;
        Ok(Copier)
    }
}

impl Copier {
    fn on_update_status(&mut self, _: &UpdateStatus, ctx: &mut Ctx) -> HandlerResult {
        let container = ctx.model().container("workload")?;
        let mut text = container.pull("/etc/app/in.conf")?;
        text.extend_from_slice(b"copied = true\n");
        container.push("/etc/app/out.conf", text, &PushOptions::new())?;
        Ok(())
    }
}

/// Python's `Container(mounts=...)`: the charm reads and writes a host
/// directory the test set up, and what is there stays out of the State.
#[test]
fn a_mounted_host_directory_is_what_the_charm_reads_and_writes() {
    let host = tempfile::tempdir().unwrap();
    std::fs::write(host.path().join("in.conf"), "port = 80\n").unwrap();
    let mut ctx = Context::<Copier>::new(META).unwrap();
    let container = Container::new("workload")
        .with_can_connect(true)
        .with_mount("/etc/app", host.path())
        .with_file("/etc/other.conf", File::new("kept\n"));
    let state = State::default().with_container(container);
    let out = ctx.run(ctx.on.update_status(), &state).unwrap();
    assert_eq!(
        std::fs::read_to_string(host.path().join("out.conf")).unwrap(),
        "port = 80\ncopied = true\n"
    );
    let after = out.container("workload").unwrap();
    assert_eq!(after.files.keys().collect::<Vec<_>>(), ["/etc/other.conf"]);
    assert_eq!(after.mounts["/etc/app"], host.path());

    // A mount over the container's root is refused, naming the problem.
    let over_root = State::default().with_container(
        Container::new("workload")
            .with_can_connect(true)
            .with_mount("/", host.path()),
    );
    let err = ctx.run(ctx.on.update_status(), &over_root).unwrap_err();
    assert!(matches!(err, RunError::Setup { .. }), "{err}");
    assert!(err.to_string().contains("mount"), "{err}");
}

/// With `StateLocation::Juju` the run keeps the charm's state where a charm
/// built with it keeps it under Juju: the stored state and deferred events
/// of the State go into the unit's Juju state (`state-set`), the charm
/// reads and writes them through the hook tools, and the output is what
/// it left there.
#[test]
fn state_kept_in_juju_goes_through_the_units_juju_state() {
    let mut ctx = ctx().with_state_location(ops::StateLocation::Juju);
    let state =
        State::default().with_stored_state(StoredStateData::new("memory", json!({"starts": 4})));
    let out = ctx.run(ctx.on.start(), &state).unwrap();
    assert_eq!(out.stored_state("memory").unwrap().content["starts"], 5);
    let out = ctx.run(ctx.on.config_changed(), &out).unwrap();
    assert_eq!(out.deferred_events(), vec!["config_changed"]);
    let next = out
        .with_relation(Relation::peer("replicas"))
        .with_leader(true);
    let out = ctx.run(ctx.on.update_status(), &next).unwrap();
    assert!(out.deferred.is_empty(), "{:?}", out.deferred_events());
    assert!(ctx.emitted_events()[0].reemitted);
    assert_eq!(out.stored_state("memory").unwrap().content["starts"], 5);
}

/// Juju's quota on a unit-state value holds under `StateLocation::Juju`
/// (the charm directory has none).
#[test]
fn state_over_jujus_quota_is_refused_only_when_kept_in_juju() {
    let big = "x".repeat(ops_testing::fake_juju::MAX_STATE_VALUE + 1);
    let state = State::default().with_stored_state(StoredStateData::new(
        "memory",
        json!({"starts": 0, "storage": big}),
    ));
    let mut in_charm_dir = ctx();
    assert!(in_charm_dir.run(in_charm_dir.on.start(), &state).is_ok());
    let mut in_juju = ctx().with_state_location(ops::StateLocation::Juju);
    let err = in_juju.run(in_juju.on.start(), &state).unwrap_err();
    assert!(err.to_string().contains("Juju's unit state"), "{err}");
}

/// An action runs as it does with the state in the charm directory when
/// the state is kept in Juju: writing the State into the unit's Juju state
/// does not end the action before the charm runs it, and the unit state
/// the output shows is the charm's own keys, not ops' encoding of the
/// stored state (that is in `stored_states`).
#[test]
fn an_action_with_state_kept_in_juju_gives_its_results() {
    let mut ctx = ctx().with_state_location(ops::StateLocation::Juju);
    let state =
        State::default().with_stored_state(StoredStateData::new("memory", json!({"starts": 4})));
    let out = ctx
        .run_action(ctx.on.action("greet", [("who", json!("bob"))]), &state)
        .unwrap();
    assert_eq!(out.results["greeting"], "hello bob");
    assert_eq!(out.failure, None);
    assert_eq!(
        out.state.stored_state("memory").unwrap().content["starts"],
        4
    );
    assert!(
        out.state
            .unit_state
            .keys()
            .all(|k| !k.starts_with("ops-rs/")),
        "{:?}",
        out.state.unit_state.keys().collect::<Vec<_>>()
    );
}
