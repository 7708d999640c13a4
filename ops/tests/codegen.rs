//! `ops::codegen`'s output compiled and used: `codegen-fixture/meta.rs` is
//! what codegen makes of `codegen-fixture/charmcraft.yaml` (checked by
//! `meta_rs_is_what_codegen_makes`, which needs the `codegen` feature;
//! regenerate with `OPS_RS_BLESS=1 cargo test -p juju-ops --features codegen
//! --test codegen`, then run the tests again: they were compiled with the
//! old file), and this file includes it as a charm would.

use ops::EndpointRole;
use ops::declared::{ActionName, ContainerName, EndpointName, OptionName, StorageName};
use serde_json::json;

/// The fixture's typed items, as a charm's `pub mod meta` holds them.
// Not every item is used here, as in a charm.
#[allow(dead_code)]
mod meta {
    include!("codegen-fixture/meta.rs");
}

fn config(values: serde_json::Value) -> ops::Config {
    ops::Config::new(values.as_object().unwrap().clone())
}

#[cfg(feature = "codegen")]
#[test]
fn meta_rs_is_what_codegen_makes() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/codegen-fixture");
    let golden = dir.join("meta.rs");
    let made = ops::codegen::render(
        &ops::CharmMeta::from_charm_dir(&dir).unwrap(),
        ops::codegen::Layout::of(&dir),
    )
    .unwrap();
    if std::env::var_os("OPS_RS_BLESS").is_some() {
        std::fs::write(&golden, &made).unwrap();
    }
    let kept = std::fs::read_to_string(&golden).unwrap();
    assert!(
        kept == made,
        "tests/codegen-fixture/meta.rs is not what codegen makes now; regenerate it (see the top of tests/codegen.rs)"
    );
}

#[test]
fn endpoints_know_their_role_and_interface() {
    assert_eq!(
        [
            (
                meta::DEMO_PEERS.name(),
                meta::DEMO_PEERS.role(),
                meta::DEMO_PEERS.interface()
            ),
            (meta::DB.name(), meta::DB.role(), meta::DB.interface()),
            (
                meta::METRICS_ENDPOINT.endpoint_name(),
                meta::METRICS_ENDPOINT.role(),
                meta::METRICS_ENDPOINT.interface()
            ),
        ],
        [
            ("demo-peers", EndpointRole::Peer, "demo_peers"),
            ("db", EndpointRole::Requires, "postgresql_client"),
            (
                "metrics-endpoint",
                EndpointRole::Provides,
                "prometheus_scrape"
            ),
        ]
    );
}

#[test]
fn containers_storage_resources_and_actions_have_their_names() {
    assert_eq!(meta::containers::WORKLOAD.container_name(), "workload");
    assert_eq!(meta::storage::DATA.storage_name(), "data");
    assert_eq!(meta::storage::LOGS.name(), "logs");
    assert_eq!(meta::resources::WORKLOAD_IMAGE.name(), "workload-image");
    assert_eq!(meta::actions::RUN_BACKUP.action_name(), "run-backup");
    assert_eq!(meta::actions::GET_STATUS.name(), "get-status");
}

#[test]
fn config_defaults_are_the_declared_ones() {
    let defaults = meta::Config::default();
    assert_eq!(defaults.listen_port, 8080);
    assert_eq!(defaults.ratio, 0.5);
    assert_eq!(defaults.threshold, 3.0);
    assert!(!defaults.debug);
    assert_eq!(defaults.greeting, "hello \"world\"");
    assert_eq!(defaults.admin_password, None);
    assert_eq!(defaults.r#type, None);
}

#[test]
fn config_parses_from_config_get() {
    let parsed: meta::Config = config(json!({
        "listen-port": 9000, "ratio": 1, "debug": true, "greeting": "hi",
        "admin-password": "secret:abc", "type": "kind", "threshold": 0.25,
    }))
    .parse()
    .unwrap();
    assert_eq!(
        (
            parsed.listen_port,
            parsed.ratio,
            parsed.debug,
            parsed.threshold
        ),
        (9000, 1.0, true, 0.25)
    );
    assert_eq!(parsed.greeting, "hi");
    assert_eq!(parsed.admin_password.as_deref(), Some("secret:abc"));
    assert_eq!(parsed.r#type.as_deref(), Some("kind"));
    // An option config-get leaves out takes its default.
    let partial: meta::Config = config(json!({"debug": true})).parse().unwrap();
    assert_eq!((partial.listen_port, partial.debug), (8080, true));
}

#[test]
fn a_config_value_of_the_wrong_type_names_the_option() {
    let err = config(json!({"listen-port": "80"}))
        .parse::<meta::Config>()
        .unwrap_err();
    assert!(
        matches!(&err, ops::ModelError::ConfigParse { key, .. } if key == "listen-port"),
        "{err}"
    );
}

#[test]
fn typed_option_reads_its_declared_type() {
    let c = config(json!({"listen-port": 9000, "greeting": "hi", "debug": "yes"}));
    assert_eq!(c.get(meta::options::LISTEN_PORT).unwrap(), Some(9000_i64));
    assert_eq!(
        c.get(meta::options::GREETING).unwrap().as_deref(),
        Some("hi")
    );
    assert_eq!(c.get(meta::options::RATIO).unwrap(), None);
    assert_eq!(meta::options::TYPE.option_name(), "type");
    let err = c.get(meta::options::DEBUG).unwrap_err();
    assert!(
        matches!(&err, ops::ModelError::ConfigType { key, expected, .. } if key == "debug" && *expected == "a boolean"),
        "{err}"
    );
    // The string form reads the same option, typed by the caller.
    assert_eq!(c.get::<i64>("listen-port").unwrap(), Some(9000));
    assert_eq!(
        c.get::<serde_json::Value>(meta::options::GREETING.name())
            .unwrap(),
        Some(json!("hi"))
    );
}

#[test]
fn action_params_read_with_defaults() {
    let params: meta::actions::RunBackupParams = serde_json::from_value(
        json!({"target": "s3", "retries": 5, "extra": {"a": 1}, "anything": [1]}),
    )
    .unwrap();
    assert_eq!(params.target.as_deref(), Some("s3"));
    assert_eq!(params.retries, 5);
    assert!(params.compress, "the declared default");
    assert_eq!(params.tags, [json!("daily")]);
    assert_eq!(
        params.extra.as_ref().map(|m| m["a"].clone()),
        Some(json!(1))
    );
    assert_eq!(params.anything, Some(json!([1])));
    assert_eq!(
        meta::actions::RunBackupParams::default().tags,
        [json!("daily")]
    );
    let _: meta::actions::GetStatusParams = serde_json::from_value(json!({})).unwrap();
}

#[test]
fn debug_hides_string_values() {
    let c = meta::Config {
        admin_password: Some("secret:hush".to_string()),
        greeting: "hush".to_string(),
        ..Default::default()
    };
    let shown = format!("{c:?}");
    assert!(!shown.contains("hush"), "{shown}");
    assert!(shown.contains("listen_port: 8080"), "{shown}");
    let p: meta::actions::RunBackupParams =
        serde_json::from_value(json!({"target": "hush"})).unwrap();
    let shown = format!("{p:?}");
    assert!(
        !shown.contains("hush") && shown.contains("retries: 3"),
        "{shown}"
    );
}
