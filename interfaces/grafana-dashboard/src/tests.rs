//! What `charms.grafana_k8s.v0.grafana_dashboard` (LIBPATCH 48, `cosl`)
//! wrote under `ops.testing.Harness` for a charm shipping
//! `src/grafana_dashboards/small.json`: the fixtures below.

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

const SMALL: &str = r#"{"title": "Small", "uid": "", "tags": ["mine"], "panels": [{"targets": [{"expr": "my_up"}]}]}"#;
/// The library's content for `small.json`, decoded. The uid is
/// `shake_256("pgbouncer-k8s-src/grafana_dashboards/small.json")`, the
/// path relative to the charm's directory as in a deployed charm.
const SMALL_SENT: &str = r#"{"title": "Small", "uid": "ad483caa3a06607e0de04b6f7aa3e2c973aaf0e7", "tags": ["mine", "charm: pgbouncer-k8s"], "panels": [{"targets": [{"expr": "my_up"}]}]}"#;
/// What the library sent under the Harness, whose charm directory was not
/// the file's: the uid hashes the absolute path
/// (`/tmp/wt-cos-py/fake2/src/grafana_dashboards/small.json`).
const SMALL_SENT_HARNESS: &str = r#"{"title": "Small", "uid": "8162ce57da265466fd079ef151ce48926a3cf47f", "tags": ["mine", "charm: pgbouncer-k8s"], "panels": [{"targets": [{"expr": "my_up"}]}]}"#;
/// The library's content for `small.json`, as Python's `lzma` compressed it.
const SMALL_PYTHON: &str = "/Td6WFoAAATm1rRGAgAhARYAAAB0L+Wj4ACcAIldAD2IiobUVOndN3jT8g03bHuIQ+06jqeB+5ai49HYOxAKNLTjSi4t7SV65KeSb5Ey4Npcm239wlWh98aVJhYkCAYsZqHhyL5iktklN3LTcS8pSidRgtWL5rjGsNtNW4qh+/9y65dtVAGltgfnBpVKjj8LLXRDJjqc7wFY+854UIHXFn7s7kBL22TgAAAAADIlrl/Rz+q/AAGlAZ0BAAB+Lgz5scRn+wIAAAAABFla";

fn provider() -> GrafanaDashboardProvider {
    let dashboard =
        Dashboard::from_file("small", "src/grafana_dashboards/small.json", SMALL).unwrap();
    GrafanaDashboardProvider::new(topology(), vec![dashboard])
}

#[test]
fn the_template_is_the_librarys_and_the_content_decodes_to_its_dashboard() {
    let data = json::from_str(&provider().app_data().unwrap()).unwrap();
    let Value::Object(top) = &data else {
        panic!("not an object")
    };
    assert_eq!(
        top.iter().map(|(k, _)| k.as_str()).collect::<Vec<_>>(),
        ["templates", "uuid"]
    );
    let mut template = data
        .get("templates")
        .unwrap()
        .get("file:small")
        .unwrap()
        .clone();
    let content = template
        .get("content")
        .unwrap()
        .as_str()
        .unwrap()
        .to_string();
    // The xz stream magic and flags (CRC64) of Python's `lzma.compress`.
    assert!(content.starts_with("/Td6WFoAAATm1rRG"), "{content}");
    // Compressed, not only stored: a dashboard-sized text shrinks.
    let big = SMALL_SENT.repeat(64);
    assert!(compress(&big).unwrap().len() < big.len() / 8);
    assert_eq!(decompress(&content).unwrap(), SMALL_SENT);
    template.insert("content", Value::from("C"));
    assert_eq!(
        json::to_string(&template),
        r#"{"charm": "pgbouncer-k8s", "content": "C", "juju_topology": {"model": "db", "model_uuid": "0b7d1071-ded2-4bf5-80a3-10a81aeb1386", "application": "pgbouncer-k8s", "unit": "pgbouncer-k8s/0"}, "inject_dropdowns": true, "dashboard_alt_uid": "e9ac9fe9766755c3"}"#
    );
}

#[test]
fn pythons_encoding_decodes_to_the_same_dashboard() {
    assert_eq!(decompress(SMALL_PYTHON).unwrap(), SMALL_SENT_HARNESS);
    let absolute = Dashboard::from_file(
        "small",
        "/tmp/wt-cos-py/fake2/src/grafana_dashboards/small.json",
        SMALL,
    )
    .unwrap();
    assert_eq!(
        json::to_string(&absolute.rendered("pgbouncer-k8s")),
        SMALL_SENT_HARNESS
    );
}

/// `provider()`'s data with the content of `file:small` replaced.
fn data_with_content(content: &str) -> String {
    let mut data = json::from_str(&provider().app_data().unwrap()).unwrap();
    let template = data
        .get_mut("templates")
        .and_then(|t| t.get_mut("file:small"))
        .unwrap();
    template.insert("content", Value::from(content));
    json::to_string(&data)
}

#[test]
fn what_a_bag_holds_is_compared_without_compressing() {
    let provider = provider();
    assert!(
        provider
            .holds_templates(&provider.app_data().unwrap())
            .unwrap()
    );
    // Another compressor's stream of the same text is the same dashboard
    // (Python's: the Harness' path, so the same text as an absolute one).
    let absolute = Dashboard::from_file(
        "small",
        "/tmp/wt-cos-py/fake2/src/grafana_dashboards/small.json",
        SMALL,
    )
    .unwrap();
    let python = GrafanaDashboardProvider::new(topology(), vec![absolute]);
    let written = data_with_content(SMALL_PYTHON);
    assert!(python.holds_templates(&written).unwrap());
    assert!(!provider.holds_templates(&written).unwrap(), "another uid");
    // Content that is another dashboard, or not a stream at all.
    let other = compress(&SMALL_SENT.replace("my_up", "their_up")).unwrap();
    assert!(
        !provider
            .holds_templates(&data_with_content(&other))
            .unwrap()
    );
    assert!(
        !provider
            .holds_templates(&data_with_content("junk"))
            .unwrap()
    );
    // Another unit's topology, no templates, not JSON.
    let mut moved = topology();
    moved.unit = "pgbouncer-k8s/1".into();
    let elsewhere = GrafanaDashboardProvider::new(moved, provider.dashboards.clone());
    assert!(
        !elsewhere
            .holds_templates(&provider.app_data().unwrap())
            .unwrap()
    );
    assert!(!provider.holds_templates(r#"{"uuid": "x"}"#).unwrap());
    assert!(!provider.holds_templates("{").unwrap());
}

#[test]
fn the_uuid_follows_the_templates() {
    let a = json::from_str(&provider().app_data().unwrap()).unwrap();
    let b = json::from_str(&provider().app_data().unwrap()).unwrap();
    assert_eq!(a.get("uuid"), b.get("uuid"));
    let uuid = a.get("uuid").unwrap().as_str().unwrap();
    assert_eq!(uuid.len(), 36);
    assert_eq!(&uuid[14..15], "4");
    let other = Dashboard::from_file("other", "src/grafana_dashboards/other.json", SMALL).unwrap();
    let c = GrafanaDashboardProvider::new(topology(), vec![other]);
    let c = json::from_str(&c.app_data().unwrap()).unwrap();
    assert_ne!(a.get("uuid"), c.get("uuid"));
}

#[test]
fn a_path40_uid_and_a_charm_tag_are_kept() {
    let text = r#"{"uid": "0123456789abcdef0123456789abcdef01234567", "tags": ["charm: x"]}"#;
    let dashboard = Dashboard::from_file("k", "k.json", text).unwrap();
    assert_eq!(json::to_string(&dashboard.rendered("c")), text);
}

#[test]
fn invalid_dashboards_and_contents_are_refused() {
    let e = Dashboard::from_file("bad", "bad.json", "{").unwrap_err();
    assert!(e.to_string().contains("file:bad"), "{e}");
    let e = Dashboard::from_file("list", "list.json", "[]").unwrap_err();
    assert!(matches!(e, DashboardError::NotAnObject { .. }), "{e}");
    assert!(matches!(decompress("%%%"), Err(DecodeError::Base64)));
    assert!(matches!(decompress("aGVsbG8="), Err(DecodeError::Lzma)));
}

#[test]
fn shake256_is_pythons() {
    // hashlib.shake_256(b"pgbouncer-k8s-file:small").hexdigest(8)
    assert_eq!(
        shake256_hex(&["pgbouncer-k8s-file:small"], 8),
        "e9ac9fe9766755c3"
    );
}

proptest! {
    /// Content comes from the remote side for a consumer: decoding never
    /// panics, and what we encode decodes back.
    #[test]
    fn prop_decompress_never_panics_and_round_trips(junk in "\\PC{0,64}", text in "\\PC{0,200}") {
        let _ = decompress(&junk);
        prop_assert_eq!(decompress(&compress(&text).unwrap()).unwrap(), text);
    }
}
