//! tls-requirer through the Harness: the CSR sent, the certificate a v4
//! provider answers with (a test CA, in the library's exact databag shape)
//! written for the workload, renewal, hostile data, the relation removed.

use std::os::unix::fs::PermissionsExt;

use ops::model::StatusName;
use ops_testing::Harness;
use tls_certificates::databag::{CERTIFICATE_SIGNING_REQUESTS, CERTIFICATES};
use tls_certificates::testing::{TestCa, requested_csrs};
use tls_certificates::{Csr, LIBID};
use tls_requirer::{CA_PATH, CERT_PATH, CONTAINER, KEY_PATH, TlsRequirer};

const PROVIDER: &str = "self-signed-certificates";
const UNIT: &str = "tls-requirer/0";

fn related() -> (Harness<TlsRequirer>, u32) {
    let mut h = Harness::from_charm_dir(env!("CARGO_MANIFEST_DIR")).unwrap();
    h.set_can_connect(CONTAINER, true).unwrap();
    h.begin_with_initial_hooks().unwrap();
    let relation = h.add_relation("certificates", PROVIDER).unwrap();
    h.add_relation_unit(relation, &format!("{PROVIDER}/0"))
        .unwrap();
    (h, relation)
}

fn csrs(h: &Harness<TlsRequirer>, relation: u32) -> Vec<Csr> {
    let bag = h.get_relation_data(relation, UNIT);
    requested_csrs(bag.get(CERTIFICATE_SIGNING_REQUESTS).map(String::as_str))
}

fn answer(h: &mut Harness<TlsRequirer>, relation: u32, ca: &TestCa) {
    let csrs = csrs(h, relation);
    let value = ca.provider_value(&csrs.iter().collect::<Vec<_>>());
    h.update_relation_data(relation, PROVIDER, &[(CERTIFICATES, &value)])
        .unwrap();
}

fn file(h: &Harness<TlsRequirer>, path: &str) -> Option<String> {
    std::fs::read_to_string(h.container_path(CONTAINER, path).unwrap()).ok()
}

#[test]
fn a_csr_is_sent_and_the_key_stays_in_a_unit_secret() {
    let (h, relation) = related();
    let csrs = csrs(&h, relation);
    assert_eq!(csrs.len(), 1);
    assert_eq!(csrs[0].request().common_name, "tls-requirer-0");
    let label = format!("{LIBID}-private-key-0-certificates");
    assert!(
        h.juju()
            .secrets
            .values()
            .any(|s| s.label.as_deref() == Some(label.as_str()) && s.owner_kind == "unit")
    );
    assert_eq!(h.unit_status().name, StatusName::Waiting);
    assert_eq!(file(&h, CERT_PATH), None);
}

#[test]
fn the_certificate_is_written_for_the_workload() {
    let (mut h, relation) = related();
    let ca = TestCa::new("test CA");
    answer(&mut h, relation, &ca);
    assert!(
        file(&h, KEY_PATH)
            .unwrap()
            .starts_with("-----BEGIN PRIVATE KEY-----")
    );
    assert!(
        file(&h, CERT_PATH)
            .unwrap()
            .starts_with("-----BEGIN CERTIFICATE-----")
    );
    assert_eq!(file(&h, CA_PATH).unwrap(), format!("{}\n", ca.pem()));
    let mode = std::fs::metadata(h.container_path(CONTAINER, KEY_PATH).unwrap())
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
    assert_eq!(h.unit_status().name, StatusName::Active);
}

#[test]
fn an_expired_certificate_secret_sends_a_new_csr() {
    let (mut h, relation) = related();
    let ca = TestCa::new("test CA");
    answer(&mut h, relation, &ca);
    let first = file(&h, CERT_PATH).unwrap();
    let csr = csrs(&h, relation).remove(0);
    let label = format!("{LIBID}-certificate-0-{}", csr.sha256_hex());
    let id = h
        .juju()
        .secrets
        .values()
        .find(|s| s.label.as_deref() == Some(label.as_str()))
        .map(|s| s.id.clone())
        .unwrap();
    h.trigger_secret_expiration(&id, 1).unwrap();
    let renewed = csrs(&h, relation);
    assert_eq!(renewed.len(), 1);
    assert_ne!(renewed[0], csr);
    assert!(
        h.juju()
            .secrets
            .values()
            .all(|s| s.label.as_deref() != Some(label.as_str()))
    );
    answer(&mut h, relation, &ca);
    assert_ne!(file(&h, CERT_PATH).unwrap(), first);
}

#[test]
fn garbage_from_the_provider_blocks() {
    let (mut h, relation) = related();
    h.update_relation_data(relation, PROVIDER, &[(CERTIFICATES, "[{\"ca\": 1}]")])
        .unwrap();
    let status = h.unit_status();
    assert_eq!(status.name, StatusName::Blocked);
    assert!(status.message.contains("not a JSON list"), "{status:?}");
}

#[test]
fn the_relation_removed_removes_the_files() {
    let (mut h, relation) = related();
    answer(&mut h, relation, &TestCa::new("test CA"));
    assert!(file(&h, CERT_PATH).is_some());
    h.remove_relation(relation).unwrap();
    assert_eq!(file(&h, CERT_PATH), None);
    assert_eq!(file(&h, KEY_PATH), None);
    assert_eq!(h.unit_status().name, StatusName::Blocked);
}

#[test]
fn an_untracked_revision_of_the_certificates_secret_is_removed() {
    let (mut h, relation) = related();
    let ca = TestCa::new("test CA");
    answer(&mut h, relation, &ca);
    let csr = csrs(&h, relation).remove(0);
    let label = format!("{LIBID}-certificate-0-{}", csr.sha256_hex());
    // The provider re-issues for the same CSR: a second revision.
    answer(&mut h, relation, &ca);
    let (id, revisions) = {
        let juju = h.juju();
        let secret = juju
            .secrets
            .values()
            .find(|s| s.label.as_deref() == Some(label.as_str()))
            .unwrap();
        (
            secret.id.clone(),
            secret.revisions.keys().copied().collect::<Vec<_>>(),
        )
    };
    assert_eq!(revisions, [1, 2]);
    h.trigger_secret_removal(&id, 1).unwrap();
    let juju = h.juju();
    let secret = juju.secrets.values().find(|s| s.id == id).unwrap();
    assert_eq!(secret.revisions.keys().copied().collect::<Vec<_>>(), [2]);
}
