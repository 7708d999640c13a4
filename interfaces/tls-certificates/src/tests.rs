//! The databag values of `charms.tls_certificates_interface.v4` (LIBPATCH
//! 27): what the requirer writes, what the provider writes back (the shape
//! of its `_Certificate` dump, from a test CA), and each transition of the
//! requirer's view of it: pending, issued, revoked, and hostile data.

use super::databag::{self, Answer, ProviderDataError, answer_for, parse_provider_value};
use super::testing::TestCa;
use super::*;
use juju_topology::json::{self, Value};
use proptest::prelude::*;

fn request() -> CertificateRequest {
    CertificateRequest::new("pgbouncer-k8s-0")
        .with_sans_dns(["pgbouncer-k8s.dev.svc.cluster.local"])
        .with_sans_ip(["127.0.0.1".parse().unwrap()])
}

fn csr_and_key() -> (Csr, PrivateKey) {
    let key = PrivateKey::generate().unwrap();
    (Csr::generate(&request(), &key).unwrap(), key)
}

#[test]
fn the_requirer_writes_the_librarys_list() {
    // `_RequirerData(certificate_signing_requests=[...]).dump(...)`: a JSON
    // list (json.dumps separators), `ca` always present.
    assert_eq!(
        databag::requirer_value(&[("A", false), ("B", true)]),
        r#"[{"certificate_signing_request": "A", "ca": false}, {"certificate_signing_request": "B", "ca": true}]"#
    );
    let (csr, _) = csr_and_key();
    let value = databag::requirer_value(&[(csr.pem(), false)]);
    let back = databag::parse_requirer_value(&value).unwrap();
    assert_eq!(back[0].certificate_signing_request, csr.pem());
    assert_eq!(back[0].ca, Some(false));
    // What the library itself wrote with `ca: null` still reads.
    let null = r#"[{"certificate_signing_request": "A", "ca": null}]"#;
    assert_eq!(databag::parse_requirer_value(null).unwrap()[0].ca, None);
    assert!(databag::parse_requirer_value("{").is_none());
}

#[test]
fn pending_until_the_provider_answers_our_csr() {
    let ca = TestCa::new("test CA");
    let (csr, key) = csr_and_key();
    let (other, _) = csr_and_key();
    assert!(matches!(
        answer_for(&[], &csr, &key).unwrap(),
        Answer::Pending
    ));
    let value = ca.provider_value(&[&other]);
    let entries = parse_provider_value(&value).unwrap();
    assert!(matches!(
        answer_for(&entries, &csr, &key).unwrap(),
        Answer::Pending
    ));
}

#[test]
fn an_issued_certificate_is_checked_and_carries_its_ca() {
    let ca = TestCa::new("test CA");
    let (csr, key) = csr_and_key();
    let (other, _) = csr_and_key();
    let value = ca.provider_value(&[&other, &csr]);
    assert!(value.contains(r#", "chain": ["-----BEGIN CERTIFICATE-----\n"#));
    let entries = parse_provider_value(&value).unwrap();
    let Answer::Issued(issued) = answer_for(&entries, &csr, &key).unwrap() else {
        panic!("not issued");
    };
    assert!(issued.certificate.matches_key(&key));
    assert_eq!(issued.certificate.subject().sans_dns, request().sans_dns);
    assert_eq!(issued.certificate.subject().sans_ip, request().sans_ip);
    assert!(!issued.certificate.is_ca());
    assert!(issued.ca.is_ca());
    assert_eq!(issued.ca.pem(), ca.pem());
    // The chain without the leaf: the CA.
    assert_eq!(issued.ca_bundle(), format!("{}\n", ca.pem()));
    // What the server presents: the leaf alone (no intermediate here).
    assert_eq!(
        issued.certificate_chain_pem(),
        format!("{}\n", issued.certificate.pem())
    );
    // Without a chain, the CA alone.
    let certificate = ca.sign(&csr);
    let entry = Value::object([
        ("ca", Value::from(ca.pem())),
        ("certificate_signing_request", Value::from(csr.pem())),
        ("certificate", Value::from(certificate.as_str())),
    ]);
    let entries = parse_provider_value(&json::to_string(&Value::from(vec![entry]))).unwrap();
    let Answer::Issued(issued) = answer_for(&entries, &csr, &key).unwrap() else {
        panic!("not issued");
    };
    assert!(issued.chain.is_empty());
    assert_eq!(issued.ca_bundle(), format!("{}\n", ca.pem()));
}

#[test]
fn a_revoked_certificate_is_not_used() {
    let ca = TestCa::new("test CA");
    let (csr, key) = csr_and_key();
    let mut entry = ca.entry(csr.pem(), &ca.sign(&csr));
    entry.insert("revoked", Value::from(true));
    let entries = parse_provider_value(&json::to_string(&Value::from(vec![entry]))).unwrap();
    assert!(matches!(
        answer_for(&entries, &csr, &key).unwrap(),
        Answer::Revoked
    ));
}

#[test]
fn hostile_provider_data_is_a_typed_error_without_the_data() {
    let ca = TestCa::new("test CA");
    let (csr, key) = csr_and_key();
    for bad in ["", "{", "{}", "[1]", r#"[{"ca": "x"}]"#, "null"] {
        assert_eq!(
            parse_provider_value(bad).unwrap_err(),
            ProviderDataError::NotAList,
            "{bad}"
        );
    }
    let one = |certificate: &str, ca_pem: &str| {
        let entry = Value::object([
            ("ca", Value::from(ca_pem)),
            ("certificate_signing_request", Value::from(csr.pem())),
            ("certificate", Value::from(certificate)),
        ]);
        let entries = parse_provider_value(&json::to_string(&Value::from(vec![entry]))).unwrap();
        answer_for(&entries, &csr, &key)
    };
    let garbage = "-----BEGIN CERTIFICATE-----\nc2VjcmV0LWRhdGE=\n-----END CERTIFICATE-----";
    let e = one(garbage, ca.pem()).unwrap_err();
    assert!(
        matches!(
            e,
            ProviderDataError::Unreadable {
                field: "certificate",
                ..
            }
        ),
        "{e:?}"
    );
    assert!(!e.to_string().contains("c2VjcmV0"));
    let e = one(&ca.sign(&csr), "no pem here").unwrap_err();
    assert!(
        matches!(e, ProviderDataError::Unreadable { field: "ca", .. }),
        "{e:?}"
    );
    // A certificate for somebody else's key, sent for our CSR.
    let (other, _) = csr_and_key();
    let e = one(&ca.sign(&other), ca.pem()).unwrap_err();
    assert_eq!(e, ProviderDataError::KeyMismatch);
    // A CA certificate where none was asked for.
    let ca_request = request().with_ca(true);
    let ca_csr = Csr::generate(&ca_request, &key).unwrap();
    let e = one(&ca.sign(&ca_csr), ca.pem()).unwrap_err();
    assert_eq!(e, ProviderDataError::CaMismatch { is_ca: true });
    assert!(e.to_string().contains("is a CA certificate"));
}

#[test]
fn renewal_is_due_at_the_fraction_of_what_is_left() {
    let ca = TestCa::new("test CA");
    let (csr, _) = csr_and_key();
    let certificate =
        Certificate::from_pem(&ca.sign_valid(&csr, (2025, 1, 1), (2025, 1, 11))).unwrap();
    let start = 1_735_689_600; // 2025-01-01T00:00:00Z
    assert_eq!(certificate.not_before(), start);
    assert_eq!(certificate.not_after(), start + 10 * 86_400);
    assert_eq!(certificate.renewal_time(start, 0.9), start + 9 * 86_400);
    assert_eq!(
        x509::rfc3339(certificate.renewal_time(start, 0.9)).unwrap(),
        "2025-01-10T00:00:00Z"
    );
    // Past the end: now.
    assert_eq!(
        certificate.renewal_time(start + 20 * 86_400, 0.9),
        start + 20 * 86_400
    );
}

proptest! {
    #[test]
    fn prop_provider_value_never_panics(text in ".{0,400}") {
        let (csr, key) = csr_and_key();
        if let Ok(entries) = parse_provider_value(&text) {
            let _ = answer_for(&entries, &csr, &key);
        }
        let _ = databag::parse_requirer_value(&text);
    }

    #[test]
    fn prop_entries_with_junk_pem_are_errors_or_pending(
        certificate in ".{0,200}",
        ca in ".{0,200}",
        chain in proptest::collection::vec(".{0,100}", 0..3),
        ours in any::<bool>(),
    ) {
        let (csr, key) = csr_and_key();
        let csr_pem = if ours { csr.pem().to_string() } else { "x".to_string() };
        let entry = Value::object([
            ("ca", Value::from(ca)),
            ("certificate_signing_request", Value::from(csr_pem)),
            ("certificate", Value::from(certificate)),
            ("chain", Value::from(chain.into_iter().map(Value::from).collect::<Vec<_>>())),
        ]);
        let entries = parse_provider_value(&json::to_string(&Value::from(vec![entry]))).unwrap();
        match answer_for(&entries, &csr, &key) {
            Ok(Answer::Pending) => prop_assert!(!ours),
            Ok(_) => prop_assert!(false, "junk was taken as a certificate"),
            Err(_) => prop_assert!(ours),
        }
    }
}

#[test]
fn intermediates_go_with_the_certificate_and_to_clients() {
    let ca = TestCa::new("root CA");
    let intermediate = TestCa::new("intermediate CA");
    let (csr, key) = csr_and_key();
    let certificate = intermediate.sign(&csr);
    let entry = Value::object([
        ("ca", Value::from(ca.pem())),
        ("certificate_signing_request", Value::from(csr.pem())),
        ("certificate", Value::from(certificate.as_str())),
        (
            "chain",
            Value::from(vec![
                Value::from(certificate.as_str()),
                Value::from(intermediate.pem()),
                Value::from(ca.pem()),
            ]),
        ),
    ]);
    let entries = parse_provider_value(&json::to_string(&Value::from(vec![entry]))).unwrap();
    let Answer::Issued(issued) = answer_for(&entries, &csr, &key).unwrap() else {
        panic!("not issued");
    };
    assert_eq!(
        issued.certificate_chain_pem(),
        format!("{}\n{}\n", issued.certificate.pem(), intermediate.pem())
    );
    assert_eq!(
        issued.ca_bundle(),
        format!("{}\n{}\n", intermediate.pem(), ca.pem())
    );
}
