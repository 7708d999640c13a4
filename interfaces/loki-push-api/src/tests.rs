//! What `charms.loki_k8s.v1.loki_push_api` (`LogForwarder`, LIBPATCH 30)
//! put in the plan and the app databag under `ops.testing.Harness`, for a
//! Loki unit `loki/0` publishing `{"url": "http://127.0.0.9:3100/loki/api/v1/push"}`.

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

const URL: &str = "http://127.0.0.9:3100/loki/api/v1/push";

/// The library's plan, `log-targets` part.
const PLAN: &str = "log-targets:
  loki/0:
    labels:
      charm: pgbouncer-k8s
      job: juju_db_0b7d1071_pgbouncer-k8s
      juju_application: pgbouncer-k8s
      juju_model: db
      juju_model_uuid: 0b7d1071-ded2-4bf5-80a3-10a81aeb1386
      juju_unit: pgbouncer-k8s/0
      product: Juju
    location: http://127.0.0.9:3100/loki/api/v1/push
    override: replace
    services:
    - all
    type: loki
";

fn endpoints() -> Endpoints {
    let mut endpoints = Endpoints::default();
    endpoints.urls.insert(
        "loki/0".into(),
        parse_endpoint(&format!(r#"{{"url": "{URL}"}}"#)).unwrap(),
    );
    endpoints
}

#[test]
fn the_layer_is_the_librarys_target() {
    let layer = forwarding_layer(&endpoints(), &Plan::default(), &topology()).unwrap();
    assert_eq!(
        layer.log_targets,
        Plan::from_yaml(PLAN).unwrap().log_targets
    );
    assert_eq!(layer_label("pgbouncer"), "pgbouncer-log-forwarding");
}

#[test]
fn a_gone_endpoint_is_disabled_once() {
    let plan = Plan::from_yaml(PLAN).unwrap();
    assert!(forwarding_layer(&endpoints(), &plan, &topology()).is_none());
    let layer = forwarding_layer(&Endpoints::default(), &plan, &topology()).unwrap();
    let target = &layer.log_targets["loki/0"];
    assert_eq!(target.services, ["-all"]);
    assert_eq!(target.location.as_deref(), Some(REMOVED_LOCATION));
    assert!(!is_enabled(target));
    let disabled = Plan {
        log_targets: layer.log_targets.clone(),
        ..Default::default()
    };
    assert!(forwarding_layer(&Endpoints::default(), &disabled, &topology()).is_none());
    // It comes back with its Loki.
    let back = forwarding_layer(&endpoints(), &disabled, &topology()).unwrap();
    assert!(is_enabled(&back.log_targets["loki/0"]));
}

#[test]
fn without_the_plan_the_previous_targets_are_disabled() {
    let layer = forwarding_layer_since(&endpoints(), ["gone/1", "loki/0"], &topology()).unwrap();
    assert_eq!(
        layer.log_targets["loki/0"],
        Plan::from_yaml(PLAN).unwrap().log_targets["loki/0"]
    );
    assert_eq!(layer.log_targets["gone/1"], disabled_target());
    assert!(forwarding_layer_since(&Endpoints::default(), [], &topology()).is_none());
    let layer = forwarding_layer_since(&Endpoints::default(), ["loki/0"], &topology()).unwrap();
    assert_eq!(layer.log_targets["loki/0"].services, ["-all"]);
}

#[test]
fn app_databag_is_the_librarys() {
    assert_eq!(
        app_data(&topology()),
        [
            (
                "metadata",
                r#"{"model": "db", "model_uuid": "0b7d1071-ded2-4bf5-80a3-10a81aeb1386", "application": "pgbouncer-k8s", "unit": "pgbouncer-k8s/0", "charm_name": "pgbouncer-k8s"}"#.to_string()
            ),
            ("alert_rules", "{}".to_string()),
        ]
    );
}

#[test]
fn urls_are_checked() {
    for ok in [
        URL,
        "https://loki.example:443/loki/api/v1/push",
        "HTTP://[::1]:3100/x",
        "http://u:p@127.0.0.1/",
        "http://127.0.0.1",
    ] {
        assert!(PushUrl::parse(ok).is_ok(), "{ok}");
    }
    for (bad, why) in [
        ("", UrlError::Empty),
        ("file:///etc/passwd", UrlError::Scheme),
        ("ftp://127.0.0.1/", UrlError::Scheme),
        ("127.0.0.1:3100", UrlError::Scheme),
        ("http://127.0.0.1/\nx", UrlError::Character),
        ("http://127.0.0.1/ x", UrlError::Character),
        ("http://127.0.0.1/\u{7f}", UrlError::Character),
        ("http:///loki", UrlError::NoHost),
        ("http://u@:1/", UrlError::NoHost),
        ("http://127.0.0.1:99999/", UrlError::Port),
        ("http://127.0.0.1:x/", UrlError::Port),
        ("http://[::1/", UrlError::NoHost),
    ] {
        assert_eq!(PushUrl::parse(bad), Err(why), "{bad:?}");
    }
    assert_eq!(
        PushUrl::parse(&format!("http://h/{}", "a".repeat(MAX_URL_LEN))),
        Err(UrlError::TooLong)
    );
    for bad in ["", "{}", "[]", r#"{"url": 1}"#, "not json"] {
        assert_eq!(parse_endpoint(bad), Err(EndpointError::Shape), "{bad}");
    }
}

#[test]
fn debug_and_errors_never_show_the_url() {
    let url = PushUrl::parse("http://user:hunter2@127.0.0.1:3100/push?token=t0k").unwrap();
    let shown = format!("{url:?}");
    assert!(
        !shown.contains("hunter2") && !shown.contains("t0k"),
        "{shown}"
    );
    let e = parse_endpoint(r#"{"url": "gopher://secret-host/"}"#).unwrap_err();
    assert!(!e.to_string().contains("secret-host"), "{e}");
}

proptest! {
    /// A Loki unit's databag is outside input: never a panic, and what is
    /// taken is http(s) without control characters or spaces.
    #[test]
    fn prop_endpoint_values_never_panic_and_accepted_urls_are_safe(value in "\\PC{0,80}", url in "[a-zA-Z]{0,6}://\\PC{0,40}") {
        let _ = parse_endpoint(&value);
        for candidate in [value.as_str(), url.as_str()] {
            if let Ok(url) = PushUrl::parse(candidate) {
                let lower = url.as_str().to_ascii_lowercase();
                prop_assert!(lower.starts_with("http://") || lower.starts_with("https://"));
                prop_assert!(!url.as_str().chars().any(|c| c.is_control() || c.is_whitespace()));
            }
        }
        let wrapped = juju_topology::json::to_string(&Value::object([("url", Value::from(url.as_str()))]));
        prop_assert_eq!(parse_endpoint(&wrapped).is_ok(), PushUrl::parse(&url).is_ok());
    }
}
