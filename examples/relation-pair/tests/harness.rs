//! Both halves through the Harness, each alone and then wired together:
//! the bag one side wrote is what the other side reads.

use std::path::Path;

use ops::Status;
use ops_testing::Harness;
use relation_pair::ENDPOINT;
use relation_pair::provider::Provider;
use relation_pair::requirer::Requirer;
use serde_json::json;

fn dir(name: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(name)
}

fn provider() -> Harness<Provider> {
    let mut h = Harness::from_charm_dir(dir("provider")).unwrap();
    h.set_leader(true).unwrap();
    h.begin_with_initial_hooks().unwrap();
    h
}

fn requirer() -> Harness<Requirer> {
    let mut h = Harness::from_charm_dir(dir("requirer")).unwrap();
    h.set_leader(true).unwrap();
    h.begin_with_initial_hooks().unwrap();
    h
}

fn pairs(pairs: &[(String, String)]) -> Vec<(&str, &str)> {
    pairs
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect()
}

fn bag_pairs(bag: &std::collections::BTreeMap<String, String>) -> Vec<(String, String)> {
    bag.iter().map(|(k, v)| (k.clone(), v.clone())).collect()
}

#[test]
fn the_provider_answers_a_request_with_typed_fields() {
    let mut h = provider();
    assert_eq!(h.unit_status(), Status::active("serving 0 requirers"));
    let id = h.add_relation(ENDPOINT, "pair-requirer").unwrap();
    h.update_relation_data(
        id,
        "pair-requirer",
        &[("database", "orders"), ("read-only", "true")],
    )
    .unwrap();
    let grant = h.get_relation_data(id, "pair-provider");
    assert_eq!(grant["database"], "orders");
    assert_eq!(grant["host"], "127.0.0.1");
    assert_eq!(grant["port"], "5432", "a u16 is stored as JSON text");
    assert_eq!(grant["read-only"], "true");
    assert_eq!(h.unit_status(), Status::active("serving 1 requirers"));

    // A config change is answered on every relation.
    h.update_config([("port", json!(6432))]).unwrap();
    assert_eq!(h.get_relation_data(id, "pair-provider")["port"], "6432");
}

#[test]
fn a_request_that_does_not_fit_blocks_the_provider_and_names_the_key() {
    let mut h = provider();
    let id = h.add_relation(ENDPOINT, "pair-requirer").unwrap();
    h.update_relation_data(
        id,
        "pair-requirer",
        &[("database", "orders"), ("read-only", "sometimes")],
    )
    .unwrap();
    let status = h.unit_status();
    assert_eq!(
        status,
        Status::blocked(format!(
            "relation db:{id}: the request's \"read-only\" does not fit"
        ))
    );
    assert!(
        !status.message.contains("sometimes"),
        "no remote value in the status"
    );
    assert!(
        h.get_relation_data(id, "pair-provider").is_empty(),
        "nothing granted"
    );
    // Fixed by the requirer: answered.
    h.update_relation_data(id, "pair-requirer", &[("read-only", "false")])
        .unwrap();
    assert_eq!(
        h.get_relation_data(id, "pair-provider")["read-only"],
        "false"
    );
}

#[test]
fn a_follower_provider_reads_but_does_not_answer() {
    let mut h = Harness::<Provider>::from_charm_dir(dir("provider")).unwrap();
    h.begin_with_initial_hooks().unwrap();
    let id = h.add_relation(ENDPOINT, "pair-requirer").unwrap();
    h.update_relation_data(id, "pair-requirer", &[("database", "orders")])
        .unwrap();
    assert!(h.get_relation_data(id, "pair-provider").is_empty());
    assert_eq!(h.unit_status(), Status::active("serving 1 requirers"));
}

#[test]
fn the_requirer_asks_then_shows_the_grant() {
    let mut h = requirer();
    assert_eq!(
        h.unit_status(),
        Status::blocked("relate to a pair_db provider")
    );
    h.update_config([("database", json!("orders"))]).unwrap();
    let id = h.add_relation(ENDPOINT, "pair-provider").unwrap();
    let request = h.get_relation_data(id, "pair-requirer");
    assert_eq!(request["database"], "orders");
    assert_eq!(request["read-only"], "false");
    assert_eq!(
        h.unit_status(),
        Status::waiting("waiting for the provider's grant")
    );

    h.update_relation_data(
        id,
        "pair-provider",
        &[
            ("database", "orders"),
            ("host", "127.0.0.9"),
            ("port", "6432"),
            ("read-only", "false"),
        ],
    )
    .unwrap();
    assert_eq!(
        h.unit_status(),
        Status::active("using orders at 127.0.0.9:6432")
    );

    // A bad port from the provider: blocked, naming the key only.
    h.update_relation_data(id, "pair-provider", &[("port", "70000")])
        .unwrap();
    assert_eq!(
        h.unit_status(),
        Status::blocked(format!(
            "relation db:{id}: the grant's \"port\" does not fit"
        ))
    );
}

#[test]
fn both_sides_wired_together() {
    let mut req = requirer();
    let mut prov = provider();
    let req_id = req.add_relation(ENDPOINT, "pair-provider").unwrap();
    let prov_id = prov.add_relation(ENDPOINT, "pair-requirer").unwrap();

    // What the requirer wrote reaches the provider as it is ...
    let request = bag_pairs(&req.get_relation_data(req_id, "pair-requirer"));
    assert!(!request.is_empty());
    prov.update_relation_data(prov_id, "pair-requirer", &pairs(&request))
        .unwrap();
    // ... and the provider's answer reaches the requirer.
    let grant = bag_pairs(&prov.get_relation_data(prov_id, "pair-provider"));
    assert!(!grant.is_empty());
    req.update_relation_data(req_id, "pair-provider", &pairs(&grant))
        .unwrap();
    assert_eq!(
        req.unit_status(),
        Status::active("using app at 127.0.0.1:5432")
    );

    // The requirer asks for something else: the old grant no longer fits.
    req.update_config([("database", json!("reports")), ("read-only", json!(true))])
        .unwrap();
    assert_eq!(
        req.unit_status(),
        Status::waiting("waiting for a grant of reports")
    );
    let request = bag_pairs(&req.get_relation_data(req_id, "pair-requirer"));
    prov.update_relation_data(prov_id, "pair-requirer", &pairs(&request))
        .unwrap();
    let grant = bag_pairs(&prov.get_relation_data(prov_id, "pair-provider"));
    req.update_relation_data(req_id, "pair-provider", &pairs(&grant))
        .unwrap();
    assert_eq!(
        req.unit_status(),
        Status::active("using reports at 127.0.0.1:5432 (read-only)")
    );
}

#[test]
fn a_port_that_is_not_one_blocks_the_provider_without_failing_hooks() {
    let mut h = provider();
    let id = h.add_relation(ENDPOINT, "pair-requirer").unwrap();
    h.update_config([("port", json!(70000))]).unwrap();
    h.update_relation_data(id, "pair-requirer", &[("database", "orders")])
        .unwrap();
    assert_eq!(h.unit_status(), Status::blocked("port 70000 is not a port"));
    assert!(h.get_relation_data(id, "pair-provider").is_empty());
    h.update_config([("port", json!(6432))]).unwrap();
    assert_eq!(h.get_relation_data(id, "pair-provider")["port"], "6432");
}
