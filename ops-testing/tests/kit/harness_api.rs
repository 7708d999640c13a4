//! The Harness's own API: secrets, actions, containers, hooks on and off,
//! status evaluation, relation lifecycle.

use ops::events::{
    ActionEvent, CollectUnitStatus, PebbleCustomNotice, PebbleReady, RelationBroken,
    RelationDeparted, SecretChanged, SecretRotate,
};
use ops::{Charm, Ctx, Framework, HandlerError, HandlerResult, Outcome, Status, StoredState};
use ops_testing::Harness;
use serde::{Deserialize, Serialize};

const META: &str = r#"
name: kit
containers:
  web: {}
requires:
  db: {interface: pgsql}
actions:
  greet:
    params: {name: {type: string}}
config:
  options:
    port: {type: int, default: 6432}
    mode: {type: string}
    ratio: {type: float}
    tls: {type: boolean}
"#;

#[derive(Default, Serialize, Deserialize)]
struct Seen {
    events: Vec<String>,
}

struct Kit {
    seen: StoredState<Seen>,
}

impl Charm for Kit {
    fn new(fw: &mut Framework<Self>) -> Result<Self, HandlerError> {
        let seen = fw.stored_state("seen")?;
        fw.observe(Self::on_secret_changed)?
            .observe(Self::on_secret_rotate)?
            .observe_container("web", Self::on_ready)?
            .observe_container("web", Self::on_notice)?
            .observe_relation("db", Self::on_departed)?
            .observe_relation("db", Self::on_broken)?
            .observe_action("greet", Self::on_greet)?
            .observe(Self::on_status)?;
        Ok(Self { seen })
    }
}

#[derive(Deserialize)]
struct GreetParams {
    name: String,
}

impl Kit {
    fn note(&mut self, what: String) {
        self.seen.get_mut().events.push(what);
    }

    fn on_secret_changed(
        &mut self,
        event: &SecretChanged,
        ctx: &mut Ctx,
    ) -> HandlerResult<Outcome> {
        let content = ctx
            .model()
            .get_secret(Some(&event.id), None)?
            .get_content(true)?;
        self.note(format!(
            "secret-changed {}",
            content.get("token").unwrap_or_default()
        ));
        Ok(Outcome::Done)
    }

    fn on_secret_rotate(&mut self, event: &SecretRotate, _: &mut Ctx) -> HandlerResult {
        self.note(format!("rotate {}", event.id));
        Ok(())
    }

    fn on_ready(&mut self, _: &PebbleReady, ctx: &mut Ctx) -> HandlerResult<Outcome> {
        let web = ctx.model().container("web")?;
        web.push(
            "/etc/web/index.html",
            b"hello",
            &ops::pebble::PushOptions::new().with_make_dirs(true),
        )?;
        self.note("ready".into());
        Ok(Outcome::Done)
    }

    /// Notes the notice, and its data as the container's Pebble gives it.
    fn on_notice(&mut self, event: &PebbleCustomNotice, ctx: &mut Ctx) -> HandlerResult {
        let web = ctx.model().container("web")?;
        let notices = web.client().get_notices(&[], &[&event.notice_key])?;
        let data: Vec<String> = notices
            .iter()
            .flat_map(|n| n.last_data.iter().map(|(k, v)| format!("{k}={v}")))
            .collect();
        self.note(format!(
            "notice {} {} {} {}",
            event.notice_id,
            event.notice_type,
            event.notice_key,
            data.join(",")
        ));
        Ok(())
    }

    fn on_departed(&mut self, event: &RelationDeparted, ctx: &mut Ctx) -> HandlerResult<Outcome> {
        let relation = ctx
            .model()
            .relation_by_id("db", event.relation.id)?
            .ok_or("relation gone")?;
        let gone = event.departing_unit.clone().unwrap_or_default();
        // The departing unit's bag is still readable in relation-departed.
        let host = ctx
            .model()
            .remote_unit_data(&relation, &gone)
            .get("host")?
            .unwrap_or_default();
        self.note(format!("departed {gone} {host}"));
        Ok(Outcome::Done)
    }

    fn on_broken(&mut self, _: &RelationBroken, ctx: &mut Ctx) -> HandlerResult<Outcome> {
        let left = ctx.model().relations("db")?.len();
        self.note(format!("broken, {left} db relations left"));
        Ok(Outcome::Done)
    }

    fn on_greet(&mut self, _: &ActionEvent, ctx: &mut Ctx) -> HandlerResult {
        let params: GreetParams = ctx.model().action_params_as()?;
        if params.name.is_empty() {
            ctx.model().action_fail("no name")?;
            return Ok(());
        }
        ctx.model().action_log("greeting")?;
        let mut results = serde_json::Map::new();
        results.insert(
            "greeting".into(),
            serde_json::json!({"text": format!("hi {}", params.name)}),
        );
        ctx.model().action_set_results(results)?;
        Ok(())
    }

    fn on_status(&mut self, _: &CollectUnitStatus, _: &mut Ctx) -> HandlerResult<Status> {
        Ok(Status::active(format!(
            "{} events",
            self.seen.get().events.len()
        )))
    }
}

fn events(h: &Harness<Kit>) -> Vec<String> {
    h.charm()
        .map(|c| c.seen.get().events.clone())
        .unwrap_or_default()
}

#[test]
fn secrets_fire_their_events_and_content_is_readable() {
    let mut h = Harness::<Kit>::new(META).unwrap();
    h.begin();
    let db = h.add_relation("db", "vault").unwrap();
    let id = h.add_secret("vault", &[("token", "t1")]);
    h.grant_secret(&id, db, None);
    h.set_secret_content(&id, &[("token", "t2")]).unwrap();
    h.trigger_secret_rotation(&id).unwrap();
    assert_eq!(
        events(&h),
        vec!["secret-changed t2".to_string(), format!("rotate {id}")]
    );
}

#[test]
fn actions_return_results_logs_and_failures() {
    let mut h = Harness::<Kit>::new(META).unwrap();
    h.begin();
    let params = serde_json::json!({"name": "ada"})
        .as_object()
        .unwrap()
        .clone();
    let out = h.run_action("greet", params).unwrap();
    assert_eq!(out.results["greeting.text"], "hi ada");
    assert_eq!(out.logs, vec!["greeting"]);
    assert_eq!(out.failure, None);
    let params = serde_json::json!({"name": ""}).as_object().unwrap().clone();
    assert_eq!(
        h.run_action("greet", params).unwrap().failure.as_deref(),
        Some("no name")
    );
    let err = h.run_action("greet", Default::default()).unwrap_err();
    assert!(err.to_string().contains("name"), "{err}");
}

#[test]
fn containers_have_a_filesystem_the_test_can_read() {
    let mut h = Harness::<Kit>::new(META).unwrap();
    h.begin();
    h.container_pebble_ready("web").unwrap();
    // In memory until the test asks for the host directory.
    let pebble = h.container_pebble("web").unwrap();
    assert!(pebble.files_in_memory());
    assert_eq!(pebble.read_file("/etc/web/index.html").unwrap(), b"hello");
    let missing = pebble.read_file("/etc/web/missing").unwrap_err();
    assert_eq!(missing.kind(), std::io::ErrorKind::NotFound);
    assert_eq!(
        missing.to_string(),
        "stat /etc/web/missing: no such file or directory"
    );
    let root = h.container_root("web").unwrap();
    assert!(!h.container_pebble("web").unwrap().files_in_memory());
    assert_eq!(
        std::fs::read_to_string(root.join("etc/web/index.html")).unwrap(),
        "hello"
    );
    // From then on the host directory is the container's filesystem.
    std::fs::write(root.join("etc/web/index.html"), "changed").unwrap();
    assert_eq!(
        h.container_pebble("web")
            .unwrap()
            .read_file("/etc/web/index.html")
            .unwrap(),
        b"changed"
    );
    assert!(h.set_can_connect("nope", true).is_err());
}

#[test]
fn pebble_notify_records_the_notice_and_fires_its_event() {
    use ops_testing::HarnessError;
    let mut h = Harness::<Kit>::new(META).unwrap();
    h.begin();
    let data = |v: &str| [("path".to_string(), v.to_string())].into();
    assert!(matches!(
        h.pebble_notify("web", "example.com/ready", &data("/a")),
        Err(HarnessError::PebbleNotUp(c)) if c == "web"
    ));
    h.set_can_connect("web", true).unwrap();
    let id = h
        .pebble_notify("web", "example.com/ready", &data("/a"))
        .unwrap();
    // A repeat: the same notice, its new data.
    assert_eq!(
        h.pebble_notify("web", "example.com/ready", &data("/b"))
            .unwrap(),
        id
    );
    assert_eq!(
        events(&h),
        [
            format!("notice {id} custom example.com/ready path=/a"),
            format!("notice {id} custom example.com/ready path=/b"),
        ]
    );
    assert_eq!(
        h.container_pebble("web").unwrap().notices()[0].occurrences,
        2
    );
    let err = h.pebble_notify("web", "ready", &data("/c")).unwrap_err();
    assert_eq!(
        err.to_string(),
        "invalid key \"ready\" (must be in \"example.com/path\" format)"
    );
    assert!(matches!(
        h.pebble_notify("nope", "example.com/x", &data("/c")),
        Err(HarnessError::UnknownContainer(_))
    ));
}

#[test]
fn hooks_disabled_changes_the_model_silently() {
    let mut h = Harness::<Kit>::new(META).unwrap();
    h.begin();
    h.hooks_disabled(|h| h.container_pebble_ready("web").unwrap());
    assert!(events(&h).is_empty());
    assert!(h.emitted().is_empty());
    h.evaluate_status().unwrap();
    assert_eq!(h.unit_status(), Status::active("0 events"));
}

#[test]
fn departed_unit_bag_is_readable_and_broken_relation_is_gone() {
    let mut h = Harness::<Kit>::new(META).unwrap();
    h.begin();
    let db = h.add_relation("db", "pg").unwrap();
    h.add_relation_unit(db, "pg/0").unwrap();
    h.update_relation_data(db, "pg/0", &[("host", "127.0.0.9")])
        .unwrap();
    h.remove_relation(db).unwrap();
    assert_eq!(
        events(&h),
        vec![
            "departed pg/0 127.0.0.9".to_string(),
            "broken, 0 db relations left".into()
        ]
    );
    assert!(h.juju().relations.is_empty());
}

#[test]
fn update_config_refuses_undeclared_options_and_wrong_types() {
    use ops_testing::HarnessError;
    let mut h = Harness::<Kit>::new(META).unwrap();
    h.begin();
    assert!(matches!(
        h.update_config([("nope", serde_json::json!(1))]),
        Err(HarnessError::UnknownConfigOption(key)) if key == "nope"
    ));
    for (key, value) in [
        ("port", serde_json::json!("hunter2")),
        ("port", serde_json::json!(1.5)),
        ("mode", serde_json::json!(3)),
        ("tls", serde_json::json!("yes")),
        ("ratio", serde_json::json!("0.5")),
    ] {
        match h.update_config([(key, value.clone())]) {
            Err(err @ HarnessError::ConfigType { .. }) => {
                assert!(!err.to_string().contains("hunter2"), "{err}");
                assert!(err.to_string().contains(key), "{err}");
            }
            other => panic!("{key}={value}: expected ConfigType, got {other:?}"),
        }
    }
    // Nothing of the refused calls reached the model.
    assert_eq!(h.juju().apps["kit"].config.get("mode"), None);
    h.update_config([
        ("port", serde_json::json!(7000)),
        ("ratio", serde_json::json!(1)),
        ("tls", serde_json::json!(true)),
        ("mode", serde_json::Value::Null),
    ])
    .unwrap();
    assert_eq!(h.juju().apps["kit"].config["port"], serde_json::json!(7000));
}

#[test]
fn container_path_is_under_the_container_root() {
    use ops_testing::HarnessError;
    let h = Harness::<Kit>::new(META).unwrap();
    let root = h.container_root("web").unwrap();
    let host = h
        .container_path("web", "/etc/pgbouncer/pgbouncer.ini")
        .unwrap();
    assert_eq!(host, root.join("etc/pgbouncer/pgbouncer.ini"));
    for bad in ["etc/x", "/etc/../../x", ""] {
        assert!(
            matches!(
                h.container_path("web", bad),
                Err(HarnessError::ContainerPath(_))
            ),
            "{bad}"
        );
    }
    assert!(matches!(
        h.container_path("nope", "/etc/x"),
        Err(HarnessError::UnknownContainer(_))
    ));
}

#[test]
fn the_charms_pebble_is_answered_in_process() {
    let mut h = Harness::<Kit>::new(META).unwrap();
    h.begin();
    h.container_pebble_ready("web").unwrap();
    let pebble = h.container_pebble("web").unwrap();
    // The charm's push went to the fake without a socket.
    assert!(
        pebble.requests().iter().any(|r| r == "POST /v1/files"),
        "{:?}",
        pebble.requests()
    );
    assert!(!pebble.socket_path().exists());
    // A container that cannot connect is one whose socket is missing.
    h.set_can_connect("web", false).unwrap();
    let err = h.container_pebble("web").unwrap().client().system_info();
    assert!(
        matches!(err, Err(ops::pebble::PebbleError::SocketMissing { .. })),
        "{err:?}"
    );
}

/// A charm that says which model it runs in.
struct WhichModel;

impl Charm for WhichModel {
    fn new(fw: &mut Framework<Self>) -> Result<Self, HandlerError> {
        fw.observe(Self::on_status)?;
        Ok(Self)
    }
}

impl WhichModel {
    fn on_status(&mut self, _: &CollectUnitStatus, ctx: &mut Ctx) -> HandlerResult<Status> {
        Ok(Status::active(format!("model {}", ctx.model().uuid())))
    }
}

/// The Harness tells the charm its model's uuid (`JUJU_MODEL_UUID`), as
/// Juju, `Context` and the simulator do: one description of a dispatch
/// gives all three their environment.
#[test]
fn the_charm_is_told_its_models_uuid() {
    let mut h = Harness::<WhichModel>::new("name: which\n").unwrap();
    h.begin();
    h.evaluate_status().unwrap();
    assert_eq!(
        h.unit_status(),
        Status::active(format!("model {}", ops_testing::fake_juju::MODEL_UUID))
    );
}
