//! observed as state transitions: the scrape job and alert rule Prometheus
//! gets, and the Loki target in the plan while `logging` is related.

use observed::{CONTAINER, Observed};
use ops_testing::context::{Container, Context, Relation, State};

fn ctx() -> Context<Observed> {
    Context::from_charm_dir(env!("CARGO_MANIFEST_DIR")).unwrap()
}

#[test]
fn prometheus_gets_the_job_and_the_rule() {
    let mut ctx = ctx();
    let relation = Relation::new("metrics-endpoint")
        .with_remote_app("prometheus")
        .with_remote_unit(0, []);
    let mut state = State::default()
        .with_leader(true)
        .with_relation(relation.clone());
    state.address = "127.0.0.5".into();
    let out = ctx.run(ctx.on.relation_joined(&relation), &state).unwrap();
    let r = out.relation(relation.id).unwrap();
    assert_eq!(
        r.local_app_data["scrape_jobs"],
        r#"[{"metrics_path": "/metrics", "static_configs": [{"targets": ["*:8080"]}]}]"#
    );
    let rules: serde_json::Value = serde_json::from_str(&r.local_app_data["alert_rules"]).unwrap();
    assert_eq!(
        rules["groups"][0]["name"],
        "context__observed_workload_rules"
    );
    assert_eq!(rules["groups"][0]["rules"][0]["alert"], "WorkloadDown");
    assert_eq!(rules["groups"][0]["rules"][0]["expr"], "up{} < 1");
    assert_eq!(
        r.local_unit_data["prometheus_scrape_unit_address"],
        "127.0.0.5"
    );
}

#[test]
fn logs_go_to_loki_while_related() {
    let mut ctx = ctx();
    let relation = Relation::new("logging")
        .with_remote_app("loki")
        .with_remote_unit(
            0,
            [(
                "endpoint",
                r#"{"url": "http://127.0.0.9:3100/loki/api/v1/push"}"#,
            )],
        );
    let state = State::default()
        .with_relation(relation.clone())
        .with_container(Container::new(CONTAINER).with_can_connect(true));
    let out = ctx.run(ctx.on.relation_changed(&relation), &state).unwrap();
    let layers = &out.container(CONTAINER).unwrap().layers;
    assert_eq!(layers.len(), 1);
    assert_eq!(layers[0].0, "workload-log-forwarding");
    assert_eq!(layers[0].1.log_targets["loki/0"].services, ["all"]);
    let gone = ctx.run(ctx.on.relation_broken(&relation), &out).unwrap();
    let layers = &gone.container(CONTAINER).unwrap().layers;
    assert_eq!(
        layers.last().unwrap().1.log_targets["loki/0"].services,
        ["-all"]
    );
}

#[test]
fn grafana_gets_the_dashboard_from_the_leader_only() {
    let mut ctx = ctx();
    let relation = Relation::new("grafana-dashboard")
        .with_remote_app("grafana")
        .with_remote_unit(0, []);
    let state = State::default()
        .with_leader(true)
        .with_relation(relation.clone());
    let out = ctx.run(ctx.on.relation_joined(&relation), &state).unwrap();
    let data: serde_json::Value =
        serde_json::from_str(&out.relation(relation.id).unwrap().local_app_data["dashboards"])
            .unwrap();
    let template = &data["templates"]["file:workload"];
    assert_eq!(template["charm"], "observed");
    // Decoded as Grafana's side decodes it: base64, then xz.
    let content = grafana_dashboard::decompress(template["content"].as_str().unwrap()).unwrap();
    let dashboard: serde_json::Value = serde_json::from_str(&content).unwrap();
    assert_eq!(dashboard["title"], "Observed workload");
    assert_eq!(
        dashboard["tags"],
        serde_json::json!(["observed", "charm: observed"])
    );
    assert_eq!(dashboard["uid"].as_str().unwrap().len(), 40);

    let follower = State::default().with_relation(relation.clone());
    let out = ctx
        .run(ctx.on.relation_joined(&relation), &follower)
        .unwrap();
    assert!(
        !out.relation(relation.id)
            .unwrap()
            .local_app_data
            .contains_key("dashboards")
    );
}
