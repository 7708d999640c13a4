//! The exact databag values of `charms.prometheus_k8s.v0.prometheus_scrape`
//! (LIBPATCH 61, with `cosl` rules): the fixtures are what the library wrote
//! under `ops.testing.Harness` for a charm with the same rule files.

use super::*;
use proptest::prelude::*;

fn topology() -> Topology {
    Topology {
        model: "db".into(),
        model_uuid: "0b7d1071-ded2-4bf5-80a3-10a81aeb1386".into(),
        application: "pgbouncer-k8s".into(),
        unit: "pgbouncer-k8s/0".into(),
        charm_name: "pgbouncer-k8s".into(),
    }
}

const SINGLE: &str = r#"{"alert": "Down", "expr": "my_up{%%juju_topology%%} == 0", "labels": {"severity": "critical", "juju_model": "kept"}}"#;
const MULTI: &str = r#"{"groups": [{"name": "my group", "rules": [{"record": "x:rate", "expr": "rate(x{%%juju_topology%%,a=\"é\"}[5m])"}]}]}"#;

/// The library's `alert_rules` for `multi.rules` and `single.rule` (read in
/// that order: sorted paths) and the generic `HostHealth` group.
const ALERT_RULES: &str = r#"{"groups": [{"name": "db_0b7d1071_pgbouncer_k8s_my_group_rules", "rules": [{"record": "x:rate", "expr": "rate(x{a=\"\u00e9\"}[5m])", "labels": {"juju_model": "db", "juju_model_uuid": "0b7d1071-ded2-4bf5-80a3-10a81aeb1386", "juju_application": "pgbouncer-k8s", "juju_charm": "pgbouncer-k8s"}}]}, {"name": "db_0b7d1071_pgbouncer_k8s_single_rules", "rules": [{"alert": "Down", "expr": "my_up{} == 0", "labels": {"severity": "critical", "juju_model": "kept", "juju_model_uuid": "0b7d1071-ded2-4bf5-80a3-10a81aeb1386", "juju_application": "pgbouncer-k8s", "juju_charm": "pgbouncer-k8s"}}]}, {"name": "db_0b7d1071_pgbouncer_k8s_HostHealth_rules", "rules": [{"alert": "HostDown", "expr": "up < 1", "for": "5m", "labels": {"severity": "critical", "juju_model": "db", "juju_model_uuid": "0b7d1071-ded2-4bf5-80a3-10a81aeb1386", "juju_application": "pgbouncer-k8s", "juju_charm": "pgbouncer-k8s"}, "annotations": {"summary": "Host '{{ $labels.instance }}' is down.", "description": "Juju application '{{ $labels.juju_application }}' in model '{{ $labels.juju_model }}' is down. Prometheus has been unable to scrape it during at least the past five minutes."}}, {"alert": "HostMetricsMissing", "expr": "absent(up)", "for": "5m", "labels": {"severity": "warning", "juju_model": "db", "juju_model_uuid": "0b7d1071-ded2-4bf5-80a3-10a81aeb1386", "juju_application": "pgbouncer-k8s", "juju_charm": "pgbouncer-k8s"}, "annotations": {"summary": "Unit '{{ $labels.juju_unit }}' of application '{{ $labels.juju_application }}' is down or failing to remote write.", "description": "`Up` missing for unit '{{ $labels.juju_unit }}' of application {{ $labels.juju_application }} in model {{ $labels.juju_model }}. Please ensure the unit or the collector scraping it is up and is able to successfully reach the metrics backend."}}]}]}"#;

#[test]
fn app_databag_is_the_librarys_byte_for_byte() {
    let mut rules = AlertRules::new(&topology());
    rules.add_file("multi", MULTI).unwrap();
    rules.add_file("single", SINGLE).unwrap();
    rules.add_generic();
    let provider = MetricsEndpointProvider::new(topology(), vec![ScrapeJob::port(9127)], rules);
    let [metadata, jobs, alert_rules] = provider.app_data();
    assert_eq!(
        metadata,
        (
            "scrape_metadata",
            r#"{"model": "db", "model_uuid": "0b7d1071-ded2-4bf5-80a3-10a81aeb1386", "application": "pgbouncer-k8s", "unit": "pgbouncer-k8s/0", "charm_name": "pgbouncer-k8s"}"#.to_string()
        )
    );
    assert_eq!(
        jobs,
        (
            "scrape_jobs",
            r#"[{"metrics_path": "/metrics", "static_configs": [{"targets": ["*:9127"]}]}]"#
                .to_string()
        )
    );
    assert_eq!(alert_rules, ("alert_rules", ALERT_RULES.to_string()));
}

#[test]
fn unit_databag_has_address_name_and_fqdn_and_no_empty_path() {
    let provider = MetricsEndpointProvider::new(topology(), vec![], AlertRules::new(&topology()));
    let data = provider.unit_data("127.0.0.7", "localhost");
    assert_eq!(
        data,
        [
            ("prometheus_scrape_unit_address", "127.0.0.7".to_string()),
            ("prometheus_scrape_unit_path", String::new()),
            ("prometheus_scrape_unit_name", "pgbouncer-k8s/0".to_string()),
            ("prometheus_scrape_unit_fqdn", "localhost".to_string()),
        ]
    );
}

#[test]
fn no_job_is_the_default_job_and_no_rule_is_an_empty_object() {
    let provider = MetricsEndpointProvider::new(topology(), vec![], AlertRules::new(&topology()));
    let [_, jobs, rules] = provider.app_data();
    assert_eq!(
        jobs.1,
        r#"[{"metrics_path": "/metrics", "static_configs": [{"targets": ["*:80"]}]}]"#
    );
    assert_eq!(rules.1, "{}");
}

#[test]
fn jobs_are_sanitized_as_the_library_does() {
    let job = json::from_str(
        r#"{"job_name": "j", "static_configs": [{"targets": ["*:1"]}], "honor_labels": true, "metrics_path": "/m"}"#,
    )
    .unwrap();
    assert_eq!(
        json::to_string(ScrapeJob::from_json(job).as_json()),
        r#"{"metrics_path": "/m", "static_configs": [{"targets": ["*:1"]}], "job_name": "j"}"#
    );
}

#[test]
fn a_qualified_group_name_is_kept() {
    let mut rules = AlertRules::new(&topology());
    rules
        .add_file(
            "f",
            r#"{"groups": [{"name": "m_0b7d1071_a_x_rules", "rules": [{"alert": "A", "expr": "1"}]}]}"#,
        )
        .unwrap();
    assert_eq!(
        rules.as_json().get("groups").unwrap().as_array().unwrap()[0]
            .get("name")
            .unwrap()
            .as_str(),
        Some("m_0b7d1071_a_x_rules")
    );
}

#[test]
fn invalid_rule_files_are_refused_naming_the_file() {
    let mut rules = AlertRules::new(&topology());
    let cases = [
        ("broken", "{\"groups\": ["),
        ("neither", r#"{"alert": "A"}"#),
        ("noname", r#"{"groups": [{"rules": []}]}"#),
        ("norules", r#"{"groups": [{"name": "g"}]}"#),
        (
            "noexpr",
            r#"{"groups": [{"name": "g", "rules": [{"alert": "A"}]}]}"#,
        ),
        ("notlist", r#"{"groups": {"name": "g"}}"#),
    ];
    for (stem, text) in cases {
        let e = rules.add_file(stem, text).unwrap_err();
        assert!(e.to_string().contains(stem), "{e}");
    }
    assert_eq!(rules.as_json(), Value::object::<String>([]));
}

proptest! {
    /// Rule files come from the charm, but the parser must not panic on
    /// anything, and a group's name is always a Prometheus name.
    #[test]
    fn prop_rule_files_never_panic_and_names_are_prometheus_names(name in "\\PC{0,20}", expr in "\\PC{0,20}", junk in "\\PC{0,40}") {
        let mut rules = AlertRules::new(&topology());
        let _ = rules.add_file("junk", &junk);
        let file = json::to_string(&Value::object([("groups", Value::from(vec![Value::object([
            ("name", Value::from(name.as_str())),
            ("rules", Value::from(vec![Value::object([("alert", Value::from("A")), ("expr", Value::from(expr.as_str()))])])),
        ])]))]));
        rules.add_file("f", &file).unwrap();
        let out = rules.as_json();
        for group in out.get("groups").unwrap().as_array().unwrap() {
            let name = group.get("name").unwrap().as_str().unwrap();
            prop_assert!(name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':'), "{}", name);
            for rule in group.get("rules").unwrap().as_array().unwrap() {
                prop_assert!(!rule.get("expr").unwrap().as_str().unwrap().contains(TOPOLOGY_PLACEHOLDER));
            }
        }
    }
}
