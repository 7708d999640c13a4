//! pgbouncer-k8s in COS (issue 24), as state transitions: what the charm
//! puts in the `metrics-endpoint`, `grafana-dashboard` and `logging`
//! databags (the formats of Canonical's libraries), the Loki log target in
//! the plan while `logging` is related, and the exporter in the plan.

use std::collections::BTreeMap;

use crate::support::APP;
use crate::support::context::{CONTAINER, auth_user, backend_ready, ctx};
use ops::pebble::{LogTarget, Override, Service, ServiceStartup, ServiceStatus};
use ops_testing::context::{Container, Context, File, Relation, State};
use pgbouncer_k8s::PgbouncerK8sCharm;
use pgbouncer_k8s::auth::{AuthFile, SecretKind};
use pgbouncer_k8s::credentials::{SECRET_ID, STATS_PASSWORD_KEY};
use pgbouncer_k8s::observability::{
    CONNECTION_STRING_ENV, EXPORTER_SERVICE, METRICS_PORT, connection_string,
};
use pgbouncer_k8s::peers::PEERS;
use pgbouncer_k8s::pgb_config::{self, PgbConfig, STATS_USER};
use pgbouncer_k8s::settings::PoolMode;

const LOKI_URL: &str = "http://127.0.0.9:3100/loki/api/v1/push";

fn instances() -> usize {
    pgb_config::instance_count(pgb_config::available_cpus())
}

fn config_with_auth() -> PgbConfig {
    let mut c = PgbConfig::default_for(instances(), 100, 6432, PoolMode::Session).unwrap();
    c.set_auth(&auth_user()).unwrap();
    c
}

/// PgBouncer running with its files, and an auth file holding the auth user.
fn running_container() -> Container {
    let config = config_with_auth();
    let auth = crate::support::auth_file(&[(&auth_user(), "pw")]);
    let mut layer = ops::pebble::Layer::default();
    let mut c = Container::new(CONTAINER)
        .with_can_connect(true)
        .with_file(pgb_config::INI_PATH, File::new(config.render()))
        .with_file(
            pgb_config::AUTH_FILE_PATH,
            File::new(auth.render()).with_mode(0o400),
        );
    for n in 0..instances() {
        layer.services.insert(
            format!("pgbouncer_{n}"),
            Service {
                override_: Some(Override::Replace),
                command: Some(format!("pgbouncer {}", pgb_config::instance_ini_path(n))),
                startup: Some(ServiceStartup::Enabled),
                ..Default::default()
            },
        );
        c = c
            .with_file(
                &pgb_config::instance_ini_path(n),
                File::new(config.render_instance(n)),
            )
            .with_service_status(&format!("pgbouncer_{n}"), ServiceStatus::Active);
    }
    c.with_layer("pgbouncer", layer)
}

/// The plan's entries of one kind, the upper layers over the lower.
fn plan_targets(state: &State) -> BTreeMap<String, LogTarget> {
    let mut targets = BTreeMap::new();
    for (_, layer) in &state.container(CONTAINER).unwrap().layers {
        targets.extend(layer.log_targets.clone());
    }
    targets
}

fn plan_service(state: &State, name: &str) -> Option<Service> {
    let mut found = None;
    for (_, layer) in &state.container(CONTAINER).unwrap().layers {
        if let Some(service) = layer.services.get(name) {
            found = Some(service.clone());
        }
    }
    found
}

fn no_error_logged(ctx: &Context<PgbouncerK8sCharm>) {
    for line in ctx.juju_log() {
        assert_ne!(line.level, "ERROR", "{}", line.message);
    }
}

// ---- metrics-endpoint -------------------------------------------------------

fn metrics() -> Relation {
    Relation::new("metrics-endpoint")
        .with_remote_app("prometheus")
        .with_remote_unit(0, [])
}

#[test]
fn metrics_endpoint_gets_the_librarys_scrape_job_metadata_rules_and_address() {
    let mut ctx = ctx(0);
    let relation = metrics();
    let mut state = State::default()
        .with_leader(true)
        .with_relation(relation.clone());
    state.address = "127.0.0.7".into();
    let out = ctx.run(ctx.on.relation_joined(&relation), &state).unwrap();
    let r = out.relation(relation.id).unwrap();
    assert_eq!(
        r.local_app_data["scrape_jobs"],
        format!(
            r#"[{{"metrics_path": "/metrics", "static_configs": [{{"targets": ["*:{METRICS_PORT}"]}}]}}]"#
        )
    );
    assert_eq!(
        r.local_app_data["scrape_metadata"],
        r#"{"model": "context", "model_uuid": "", "application": "pgbouncer-k8s", "unit": "pgbouncer-k8s/0", "charm_name": "pgbouncer-k8s"}"#
    );
    let rules: serde_json::Value = serde_json::from_str(&r.local_app_data["alert_rules"]).unwrap();
    let groups = rules["groups"].as_array().unwrap();
    let names: Vec<&str> = groups.iter().map(|g| g["name"].as_str().unwrap()).collect();
    assert_eq!(
        names,
        [
            "context__pgbouncer_k8s_pgbouncer_rules",
            "context__pgbouncer_k8s_HostHealth_rules"
        ]
    );
    let alerts: Vec<&str> = groups[0]["rules"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["alert"].as_str().unwrap())
        .collect();
    for alert in [
        "PgBouncerDown",
        "PgBouncerClientsWaiting",
        "PgBouncerPoolSaturated",
    ] {
        assert!(alerts.contains(&alert), "{alerts:?}");
    }
    for rule in groups[0]["rules"].as_array().unwrap() {
        assert_eq!(rule["labels"]["juju_application"], APP);
        assert_eq!(rule["labels"]["juju_charm"], APP);
        let expr = rule["expr"].as_str().unwrap();
        assert!(
            expr.contains("pgbouncer_") && !expr.contains("%%"),
            "{expr}"
        );
    }
    assert_eq!(
        r.local_unit_data["prometheus_scrape_unit_address"],
        "127.0.0.7"
    );
    assert_eq!(
        r.local_unit_data["prometheus_scrape_unit_name"],
        "pgbouncer-k8s/0"
    );
    assert!(
        r.local_unit_data
            .contains_key("prometheus_scrape_unit_fqdn")
    );
    assert!(
        !r.local_unit_data
            .contains_key("prometheus_scrape_unit_path")
    );
    no_error_logged(&ctx);
}

#[test]
fn a_follower_publishes_only_its_address() {
    let mut ctx = ctx(0);
    let relation = metrics();
    let state = State::default().with_relation(relation.clone());
    let out = ctx.run(ctx.on.relation_changed(&relation), &state).unwrap();
    let r = out.relation(relation.id).unwrap();
    assert!(r.local_app_data.is_empty(), "{:?}", r.local_app_data);
    assert_eq!(
        r.local_unit_data["prometheus_scrape_unit_name"],
        "pgbouncer-k8s/0"
    );
}

// ---- grafana-dashboard ------------------------------------------------------

fn grafana() -> Relation {
    Relation::new("grafana-dashboard")
        .with_remote_app("grafana")
        .with_remote_unit(0, [])
}

/// `lzma.decompress(base64.b64decode(content))`, by hand: base64 then xz.
fn decode_as_the_library(content: &str) -> String {
    use base64::Engine as _;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(content)
        .unwrap();
    assert_eq!(&bytes[..6], b"\xfd7zXZ\0", "an xz stream");
    grafana_dashboard::decompress(content).unwrap()
}

#[test]
fn grafana_dashboard_gets_the_dashboard_as_the_library_encodes_it() {
    let mut ctx = ctx(0);
    let relation = grafana();
    let state = State::default()
        .with_leader(true)
        .with_relation(relation.clone());
    let out = ctx.run(ctx.on.relation_joined(&relation), &state).unwrap();
    let r = out.relation(relation.id).unwrap();
    let data: serde_json::Value = serde_json::from_str(&r.local_app_data["dashboards"]).unwrap();
    let templates = data["templates"].as_object().unwrap();
    assert_eq!(templates.keys().collect::<Vec<_>>(), ["file:pgbouncer"]);
    let template = &templates["file:pgbouncer"];
    assert_eq!(template["charm"], APP);
    assert_eq!(template["inject_dropdowns"], true);
    assert_eq!(template["juju_topology"]["application"], APP);
    assert_eq!(template["dashboard_alt_uid"].as_str().unwrap().len(), 16);
    assert_eq!(data["uuid"].as_str().unwrap().len(), 36);
    let dashboard: serde_json::Value = serde_json::from_str(&decode_as_the_library(
        template["content"].as_str().unwrap(),
    ))
    .unwrap();
    let uid = dashboard["uid"].as_str().unwrap();
    assert!(
        uid.len() == 40 && uid.bytes().all(|b| b.is_ascii_hexdigit()),
        "{uid}"
    );
    assert!(
        dashboard["tags"]
            .as_array()
            .unwrap()
            .contains(&serde_json::json!("charm: pgbouncer-k8s"))
    );
    let mut queries = 0;
    for panel in dashboard["panels"].as_array().unwrap() {
        for target in panel["targets"].as_array().unwrap() {
            let expr = target["expr"].as_str().unwrap();
            assert!(expr.contains("pgbouncer_"), "{expr}");
            queries += 1;
        }
    }
    assert!(queries >= 8, "{queries}");
    no_error_logged(&ctx);
}

#[test]
fn the_dashboard_is_sent_once_and_only_by_the_leader() {
    let mut ctx = ctx(0);
    let relation = grafana();
    let follower = State::default().with_relation(relation.clone());
    let out = ctx
        .run(ctx.on.relation_joined(&relation), &follower)
        .unwrap();
    assert!(out.relation(relation.id).unwrap().local_app_data.is_empty());
    let leader = State::default()
        .with_leader(true)
        .with_relation(relation.clone());
    let first = ctx.run(ctx.on.relation_joined(&relation), &leader).unwrap();
    let sent = first.relation(relation.id).unwrap().local_app_data["dashboards"].clone();
    // Again, with the same dashboard: the same value (no change for Grafana).
    let again = ctx.run(ctx.on.upgrade_charm(), &first).unwrap();
    assert_eq!(
        again.relation(relation.id).unwrap().local_app_data["dashboards"],
        sent
    );
}

// ---- logging ---------------------------------------------------------------

fn loki(url: &str) -> Relation {
    let endpoint = format!(r#"{{"url": "{url}"}}"#);
    Relation::new("logging")
        .with_remote_app("loki")
        .with_remote_unit(0, [("endpoint", endpoint.as_str())])
}

#[test]
fn logging_adds_a_loki_target_while_related_and_disables_it_when_broken() {
    let mut ctx = ctx(0);
    let relation = loki(LOKI_URL);
    let state = State::default()
        .with_leader(true)
        .with_relation(relation.clone())
        .with_container(running_container());
    let out = ctx.run(ctx.on.relation_changed(&relation), &state).unwrap();
    let targets = plan_targets(&out);
    let target = &targets["loki/0"];
    assert_eq!(target.type_.as_deref(), Some("loki"));
    assert_eq!(target.location.as_deref(), Some(LOKI_URL));
    assert_eq!(target.services, ["all"]);
    assert_eq!(target.override_, Some(Override::Replace));
    assert_eq!(target.labels["juju_unit"], "pgbouncer-k8s/0");
    assert_eq!(target.labels["product"], "Juju");
    let r = out.relation(relation.id).unwrap();
    assert_eq!(r.local_app_data["alert_rules"], "{}");
    assert!(r.local_app_data["metadata"].starts_with(r#"{"model": "context""#));

    let broken = ctx.run(ctx.on.relation_broken(&relation), &out).unwrap();
    let targets = plan_targets(&broken);
    assert_eq!(targets["loki/0"].services, ["-all"], "{targets:?}");
    assert!(!loki_push_api::is_enabled(&targets["loki/0"]));
    no_error_logged(&ctx);
}

#[test]
fn a_new_container_gets_its_target_back_at_pebble_ready() {
    let mut ctx = ctx(0);
    let relation = loki(LOKI_URL);
    let container = running_container();
    let state = State::default()
        .with_relation(relation.clone())
        .with_container(container.clone());
    let out = ctx.run(ctx.on.pebble_ready(&container), &state).unwrap();
    assert_eq!(plan_targets(&out)["loki/0"].services, ["all"]);
}

#[test]
fn a_hostile_loki_url_is_refused_without_being_logged() {
    for url in ["file:///etc/shadow", "http://127.0.0.9/\\u000ainjected: x"] {
        let mut ctx = ctx(0);
        let relation = loki(url);
        let state = State::default()
            .with_relation(relation.clone())
            .with_container(running_container());
        let out = ctx.run(ctx.on.relation_changed(&relation), &state).unwrap();
        assert!(plan_targets(&out).is_empty(), "{url}");
        let logged: Vec<String> = ctx.juju_log().iter().map(|l| l.message.clone()).collect();
        assert!(logged.iter().any(|l| l.contains("loki/0")), "{logged:?}");
        assert!(
            logged
                .iter()
                .all(|l| !l.contains("shadow") && !l.contains("injected")),
            "{logged:?}"
        );
    }
}

// ---- the exporter -------------------------------------------------------------

#[test]
fn the_exporter_runs_with_the_backend_as_the_stats_user() {
    let mut ctx = ctx(0);
    let peers = Relation::peer(PEERS);
    let container = running_container();
    let state = backend_ready(
        State::default()
            .with_leader(true)
            .with_relation(peers.clone()),
    )
    .with_container(container.clone());
    let out = ctx.run(ctx.on.pebble_ready(&container), &state).unwrap();
    let service = plan_service(&out, EXPORTER_SERVICE).expect("the exporter is in the plan");
    assert_eq!(service.startup, Some(ServiceStartup::Enabled));
    let command = service.command.as_deref().unwrap();
    assert!(command.starts_with("pgbouncer_exporter "), "{command}");
    assert!(command.contains(":9127"), "{command}");
    assert_eq!(service.after.len(), instances());
    // The password: in the application's secret and the service's
    // environment, nowhere in its command line.
    let id = out.relation(peers.id).unwrap().local_app_data[SECRET_ID].clone();
    let secret = out
        .secrets
        .iter()
        .find(|s| s.id.ends_with(id.as_str()) || id.ends_with(s.id.as_str()))
        .unwrap();
    let password = secret.latest_content().unwrap()[STATS_PASSWORD_KEY].clone();
    assert!(password.len() >= 16);
    assert!(!command.contains(&password));
    assert_eq!(
        service.environment[CONNECTION_STRING_ENV],
        connection_string(6432, &password)
    );
    // The stats user: in stats_users, and a SCRAM verifier of that password.
    let ini = out
        .container(CONTAINER)
        .unwrap()
        .text(pgb_config::INI_PATH)
        .unwrap();
    let config = PgbConfig::parse(ini).unwrap();
    assert!(
        config.user_list("stats_users").contains(&STATS_USER),
        "{ini}"
    );
    assert!(
        !config.user_list("admin_users").contains(&STATS_USER),
        "{ini}"
    );
    let auth = out
        .container(CONTAINER)
        .unwrap()
        .text(pgb_config::AUTH_FILE_PATH)
        .unwrap();
    let auth = AuthFile::parse(auth).unwrap();
    assert_eq!(auth.kind_of(STATS_USER), Some(SecretKind::Scram));
    assert!(auth.verify(STATS_USER, &password));
    for line in ctx.juju_log() {
        assert!(!line.message.contains(&password), "{}", line.message);
    }
    for bag in out
        .relations
        .iter()
        .flat_map(|r| [&r.local_app_data, &r.local_unit_data])
    {
        assert!(bag.values().all(|v| !v.contains(&password)), "{bag:?}");
    }
    assert!(
        out.container(CONTAINER)
            .unwrap()
            .service_statuses
            .get(EXPORTER_SERVICE)
            == Some(&ServiceStatus::Active)
    );
}

#[test]
fn without_a_backend_the_exporter_is_in_the_plan_but_stopped() {
    let mut ctx = ctx(0);
    let peers = Relation::peer(PEERS);
    let container = running_container();
    let state = State::default()
        .with_leader(true)
        .with_relation(peers)
        .with_container(container.clone());
    let out = ctx.run(ctx.on.pebble_ready(&container), &state).unwrap();
    let service = plan_service(&out, EXPORTER_SERVICE).expect("the exporter is in the plan");
    assert_eq!(service.startup, Some(ServiceStartup::Disabled));
    assert!(service.environment.is_empty());
    assert_ne!(
        out.container(CONTAINER)
            .unwrap()
            .service_statuses
            .get(EXPORTER_SERVICE),
        Some(&ServiceStatus::Active)
    );
}

#[test]
fn a_follower_runs_the_exporter_with_the_password_the_leader_kept() {
    use ops_testing::context::Secret;
    use pgbouncer_k8s::credentials::{AUTH_FILE_KEY, SECRET_REVISION};
    use pgbouncer_k8s::peers::CFG_FILE;

    let mut ctx = ctx(1);
    let auth =
        crate::support::auth_file(&[(&auth_user(), "pw"), (STATS_USER, "stats-pw-of-the-leader")]);
    let secret = Secret::new([
        (AUTH_FILE_KEY, auth.render().as_str()),
        (STATS_PASSWORD_KEY, "stats-pw-of-the-leader"),
    ]);
    let peers = Relation::peer(PEERS).with_local_app_data([
        (CFG_FILE, config_with_auth().render().as_str()),
        (SECRET_ID, secret.id.as_str()),
        (SECRET_REVISION, "1"),
    ]);
    let container = running_container();
    let state = backend_ready(State::default().with_relation(peers))
        .with_secret(secret)
        .with_container(container.clone());
    let out = ctx.run(ctx.on.pebble_ready(&container), &state).unwrap();
    let service = plan_service(&out, EXPORTER_SERVICE).expect("the exporter is in the plan");
    assert_eq!(service.startup, Some(ServiceStartup::Enabled));
    assert_eq!(
        service.environment[CONNECTION_STRING_ENV],
        connection_string(6432, "stats-pw-of-the-leader")
    );
    for line in ctx.juju_log() {
        assert!(
            !line.message.contains("stats-pw-of-the-leader"),
            "{}",
            line.message
        );
    }
}
