//! Client TLS through the `certificates` relation (tls-certificates v4),
//! on the Harness: the CSR each unit sends, the certificate a v4 provider
//! answers with (a test CA, in the library's exact databag shape), the
//! files and config that follow, what clients are told, renewal by reload,
//! the relation removed, and a provider that sends garbage.

use std::os::unix::fs::PermissionsExt;
use std::sync::OnceLock;

use crate::support::*;
use ops::Status;
use ops::model::StatusName;
use ops_testing::{Harness, HarnessSnapshot};
use pgbouncer_k8s::PgbouncerK8sCharm;
use pgbouncer_k8s::pgb_config::{self, PGBOUNCER, PgbConfig};
use tls_certificates::databag::{CERTIFICATE_SIGNING_REQUESTS, CERTIFICATES};
use tls_certificates::testing::{TestCa, requested_csrs};
use tls_certificates::{Csr, LIBID, PRIVATE_KEY_FIELD};

const PROVIDER: &str = "self-signed-certificates";
const UNIT: &str = "pgbouncer-k8s/0";

/// A leader with Pebble up, its files rendered, and a certificates relation.
/// Set up once per test binary and copied for each test
/// ([`set_up_once`]).
fn leader_with_certificates() -> (Harness<PgbouncerK8sCharm>, u32) {
    static SET_UP: OnceLock<(HarnessSnapshot, u32)> = OnceLock::new();
    set_up_once(&SET_UP, || {
        let mut h = started(true);
        let relation = h.add_relation("certificates", PROVIDER).unwrap();
        h.add_relation_unit(relation, &format!("{PROVIDER}/0"))
            .unwrap();
        (h, relation)
    })
}

/// The CSRs this unit lists.
fn requested(h: &Harness<PgbouncerK8sCharm>, relation: u32) -> Vec<Csr> {
    let bag = h.get_relation_data(relation, UNIT);
    requested_csrs(bag.get(CERTIFICATE_SIGNING_REQUESTS).map(String::as_str))
}

/// The provider answers every CSR the unit lists.
fn answer(h: &mut Harness<PgbouncerK8sCharm>, relation: u32, ca: &TestCa) {
    let csrs = requested(h, relation);
    let csrs: Vec<&Csr> = csrs.iter().collect();
    let value = ca.provider_value(&csrs);
    h.update_relation_data(relation, PROVIDER, &[(CERTIFICATES, &value)])
        .unwrap();
}

fn instance_config(h: &Harness<PgbouncerK8sCharm>) -> PgbConfig {
    PgbConfig::parse(&file(h, &pgb_config::instance_ini_path(0)).unwrap()).unwrap()
}

fn mode(h: &Harness<PgbouncerK8sCharm>, path: &str) -> u32 {
    std::fs::metadata(host_path(h, path))
        .unwrap()
        .permissions()
        .mode()
        & 0o777
}

#[test]
fn each_unit_sends_a_csr_for_its_names_and_keeps_its_key_in_a_secret() {
    let (h, relation) = leader_with_certificates();
    let csrs = requested(&h, relation);
    assert_eq!(csrs.len(), 1);
    let request = csrs[0].request();
    assert_eq!(request.common_name, "pgbouncer-k8s-0");
    for name in [
        "pgbouncer-k8s.harness.svc.cluster.local",
        "pgbouncer-k8s-0.pgbouncer-k8s-endpoints.harness.svc.cluster.local",
        "pgbouncer-k8s-0.pgbouncer-k8s-endpoints",
        "pgbouncer-k8s-0",
    ] {
        assert!(request.sans_dns.contains(name), "{name}: {request:?}");
    }
    assert!(!request.is_ca);
    // The key: in a secret owned by this unit, labelled as the library
    // labels it, and in no databag.
    let label = format!("{LIBID}-private-key-0-certificates");
    let juju = h.juju();
    let secret = juju
        .secrets
        .values()
        .find(|s| s.label.as_deref() == Some(label.as_str()))
        .expect("the private key's secret");
    assert_eq!(secret.owner_kind, "unit");
    let key = secret.revisions.values().next_back().unwrap()[PRIVATE_KEY_FIELD].clone();
    drop(juju);
    assert!(key.starts_with("-----BEGIN PRIVATE KEY-----"));
    let key_line = key.lines().nth(1).unwrap().to_string();
    for bag in [UNIT, APP] {
        assert!(
            h.get_relation_data(relation, bag)
                .values()
                .all(|v| !v.contains(&key_line))
        );
    }
    assert!(h.logs().iter().all(|l| !l.message.contains(&key_line)));
    // No certificate yet: no TLS files, no TLS in the config.
    assert_eq!(file(&h, pgb_config::TLS_CERT_PATH), None);
    assert_eq!(
        instance_config(&h).get(PGBOUNCER, "client_tls_sslmode"),
        None
    );
}

#[test]
fn the_certificate_turns_tls_on_by_reload_and_clients_are_told() {
    let (mut h, relation) = leader_with_certificates();
    let client = h.add_relation("database", "client-app").unwrap();
    h.add_relation_unit(client, "client-app/0").unwrap();
    // Nothing of TLS before the client asked (the library's requirer
    // sends `database` with `requested-secrets`).
    assert!(!h.get_relation_data(client, APP).contains_key("tls"));
    ask_for_a_database(&mut h, client, &[]);
    assert_eq!(h.get_relation_data(client, APP)["tls"], "False");
    assert!(!h.get_relation_data(client, APP).contains_key("tls-ca"));
    let (restarts_before, reloads_before) = (restarts(&h), reloads(&h));
    let ca = TestCa::new("test CA");
    answer(&mut h, relation, &ca);
    // The files, private, PgBouncer's user's.
    let key = file(&h, pgb_config::TLS_KEY_PATH).expect("the key");
    assert!(key.starts_with("-----BEGIN PRIVATE KEY-----\n"));
    let certificate = file(&h, pgb_config::TLS_CERT_PATH).expect("the certificate");
    assert!(certificate.starts_with("-----BEGIN CERTIFICATE-----\n"));
    assert_eq!(
        file(&h, pgb_config::TLS_CA_PATH).unwrap(),
        format!("{}\n", ca.pem())
    );
    for path in [
        pgb_config::TLS_KEY_PATH,
        pgb_config::TLS_CERT_PATH,
        pgb_config::TLS_CA_PATH,
    ] {
        assert_eq!(mode(&h, path), 0o600, "{path}");
        let owner = h.container_pebble("pgbouncer").unwrap().file_owner(path);
        assert_eq!(
            owner.and_then(|o| o.user).as_deref(),
            Some("postgres"),
            "{path}"
        );
    }
    // Every instance serves TLS; the shared main config does not carry it.
    let config = instance_config(&h);
    assert_eq!(config.get(PGBOUNCER, "client_tls_sslmode"), Some("prefer"));
    assert_eq!(
        config.get(PGBOUNCER, "client_tls_key_file"),
        Some(pgb_config::TLS_KEY_PATH)
    );
    assert_eq!(
        config.get(PGBOUNCER, "client_tls_cert_file"),
        Some(pgb_config::TLS_CERT_PATH)
    );
    assert_eq!(
        config.get(PGBOUNCER, "client_tls_ca_file"),
        Some(pgb_config::TLS_CA_PATH)
    );
    let main = PgbConfig::parse(&file(&h, pgb_config::INI_PATH).unwrap()).unwrap();
    assert_eq!(main.get(PGBOUNCER, "client_tls_sslmode"), None);
    assert_eq!(restarts(&h), restarts_before, "TLS on is a reload");
    assert!(reloads(&h) > reloads_before);
    // Clients: TLS, and the CA to verify PgBouncer by.
    let bag = h.get_relation_data(client, APP);
    assert_eq!(bag["tls"], "True");
    assert_eq!(bag["tls-ca"], format!("{}\n", ca.pem()));
    assert_eq!(
        h.unit_status(),
        Status::blocked("waiting for backend database relation")
    );
}

#[test]
fn a_client_that_asked_for_secrets_gets_tls_in_secret_tls() {
    let (mut h, relation) = leader_with_certificates();
    let client = h.add_relation("database", "client-app").unwrap();
    h.add_relation_unit(client, "client-app/0").unwrap();
    ask_for_a_database(
        &mut h,
        client,
        &[(
            "requested-secrets",
            r#"["username", "password", "tls", "tls-ca", "uris"]"#,
        )],
    );
    let ca = TestCa::new("test CA");
    answer(&mut h, relation, &ca);
    let bag = h.get_relation_data(client, APP);
    assert!(!bag.contains_key("tls"), "{bag:?}");
    assert!(!bag.contains_key("tls-ca"), "{bag:?}");
    let uri = bag["secret-tls"].clone();
    let juju = h.juju();
    let secret = juju
        .secrets
        .values()
        .find(|s| uri.ends_with(&s.id) || s.id.ends_with(&uri))
        .expect("the TLS secret");
    assert_eq!(
        secret.label.as_deref(),
        Some(format!("database.{client}.tls.secret").as_str())
    );
    assert_eq!(secret.owner_kind, "application");
    assert!(secret.grants.iter().any(|g| g.relation == client));
    let content = secret.revisions.values().next_back().unwrap();
    assert_eq!(content["tls"], "True");
    assert_eq!(content["tls-ca"], format!("{}\n", ca.pem()));
}

#[test]
fn a_renewed_certificate_is_taken_by_reload_not_restart() {
    let (mut h, relation) = leader_with_certificates();
    let ca = TestCa::new("test CA");
    answer(&mut h, relation, &ca);
    let first = file(&h, pgb_config::TLS_CERT_PATH).unwrap();
    // The certificate's secret, labelled after the CSR, expires at 90%.
    let csr = requested(&h, relation).remove(0);
    let label = format!("{LIBID}-certificate-0-{}", csr.sha256_hex());
    let secret_id = {
        let juju = h.juju();
        let secret = juju
            .secrets
            .values()
            .find(|s| s.label.as_deref() == Some(label.as_str()))
            .expect("the certificate's secret");
        assert!(secret.expire.is_some(), "expiry set for renewal");
        secret.id.clone()
    };
    let (restarts_before, reloads_before) = (restarts(&h), reloads(&h));
    h.trigger_secret_expiration(&secret_id, 1).unwrap();
    // A new CSR; the certificate in use stays until the new one comes.
    let renewed = requested(&h, relation);
    assert_eq!(renewed.len(), 1);
    assert_ne!(renewed[0].pem(), csr.pem());
    // A relation-changed before the provider answers the new CSR.
    h.update_relation_data(
        relation,
        &format!("{PROVIDER}/0"),
        &[("egress-subnets", "127.0.0.0/8")],
    )
    .unwrap();
    assert_eq!(file(&h, pgb_config::TLS_CERT_PATH).unwrap(), first);
    assert_eq!(
        instance_config(&h).get(PGBOUNCER, "client_tls_sslmode"),
        Some("prefer")
    );
    answer(&mut h, relation, &ca);
    let second = file(&h, pgb_config::TLS_CERT_PATH).unwrap();
    assert_ne!(second, first);
    assert_eq!(restarts(&h), restarts_before, "a renewal restarts nothing");
    assert!(reloads(&h) > reloads_before, "a renewal is a reload");
}

#[test]
fn the_relation_removed_turns_tls_off() {
    let (mut h, relation) = leader_with_certificates();
    let client = h.add_relation("database", "client-app").unwrap();
    h.add_relation_unit(client, "client-app/0").unwrap();
    ask_for_a_database(&mut h, client, &[]);
    let ca = TestCa::new("test CA");
    answer(&mut h, relation, &ca);
    assert!(file(&h, pgb_config::TLS_CERT_PATH).is_some());
    let (restarts_before, reloads_before) = (restarts(&h), reloads(&h));
    h.remove_relation(relation).unwrap();
    for path in [
        pgb_config::TLS_KEY_PATH,
        pgb_config::TLS_CERT_PATH,
        pgb_config::TLS_CA_PATH,
    ] {
        assert_eq!(file(&h, path), None, "{path}");
    }
    let config = instance_config(&h);
    for key in [
        "client_tls_sslmode",
        "client_tls_key_file",
        "client_tls_cert_file",
        "client_tls_ca_file",
    ] {
        assert_eq!(config.get(PGBOUNCER, key), None, "{key}");
    }
    assert_eq!(restarts(&h), restarts_before);
    assert!(reloads(&h) > reloads_before);
    let bag = h.get_relation_data(client, APP);
    assert_eq!(bag["tls"], "False");
    assert!(!bag.contains_key("tls-ca"));
}

#[test]
fn hostile_provider_data_blocks_without_failing_the_hook() {
    let (mut h, relation) = leader_with_certificates();
    let ca = TestCa::new("test CA");
    let csr = requested(&h, relation).remove(0);
    // A certificate for another key, for our CSR.
    let other_key = tls_certificates::PrivateKey::generate().unwrap();
    let other = Csr::generate(csr.request(), &other_key).unwrap();
    let signed = ca.sign(&other);
    let entry = ca.entry(csr.pem(), &signed);
    let value = juju_json(&[entry]);
    h.update_relation_data(relation, PROVIDER, &[(CERTIFICATES, &value)])
        .unwrap();
    assert_eq!(file(&h, pgb_config::TLS_CERT_PATH), None);
    let status = h.unit_status();
    assert!(
        status.name == StatusName::Blocked
            && status.message.contains("does not match our private key"),
        "{status:?}"
    );
    // Not JSON at all.
    h.update_relation_data(relation, PROVIDER, &[(CERTIFICATES, "{not json")])
        .unwrap();
    let status = h.unit_status();
    assert!(
        status.name == StatusName::Blocked && status.message.contains("not a JSON list"),
        "{status:?}"
    );
    assert!(!format!("{status:?}").contains("not json"));
    // Then a good answer: TLS on, the status clear of it.
    answer(&mut h, relation, &ca);
    assert!(file(&h, pgb_config::TLS_CERT_PATH).is_some());
    assert!(!h.unit_status().message.contains("certificates"));
}

#[test]
fn a_new_pod_gets_its_tls_files_back() {
    let (mut h, relation) = leader_with_certificates();
    let ca = TestCa::new("test CA");
    answer(&mut h, relation, &ca);
    let certificate = file(&h, pgb_config::TLS_CERT_PATH).unwrap();
    lose_the_pod(&h);
    h.container_pebble_ready("pgbouncer").unwrap();
    assert_every_instance_runs(&h);
    assert_eq!(file(&h, pgb_config::TLS_CERT_PATH).unwrap(), certificate);
    assert_eq!(
        instance_config(&h).get(PGBOUNCER, "client_tls_sslmode"),
        Some("prefer")
    );
}

fn juju_json(entries: &[juju_topology::json::Value]) -> String {
    juju_topology::json::to_string(&juju_topology::json::Value::from(entries.to_vec()))
}

#[test]
fn an_untracked_revision_of_a_tls_secret_is_removed() {
    let (mut h, relation) = leader_with_certificates();
    let ca = TestCa::new("test CA");
    answer(&mut h, relation, &ca);
    // The provider re-issues for the same CSR: the certificate's secret
    // gets a second revision.
    answer(&mut h, relation, &ca);
    let csr = requested(&h, relation).remove(0);
    let label = format!("{LIBID}-certificate-0-{}", csr.sha256_hex());
    let id = {
        let juju = h.juju();
        let secret = juju
            .secrets
            .values()
            .find(|s| s.label.as_deref() == Some(label.as_str()))
            .unwrap();
        assert_eq!(secret.revisions.len(), 2);
        secret.id.clone()
    };
    h.trigger_secret_removal(&id, 1).unwrap();
    let juju = h.juju();
    let secret = juju.secrets.values().find(|s| s.id == id).unwrap();
    assert_eq!(secret.revisions.keys().copied().collect::<Vec<_>>(), [2]);
}

/// The client's request, as the library's requirer sends it: `database`
/// (and `extra`, e.g. its `requested-secrets`) in one write.
fn ask_for_a_database(h: &mut Harness<PgbouncerK8sCharm>, client: u32, extra: &[(&str, &str)]) {
    let mut fields = vec![("database", "appdb")];
    fields.extend_from_slice(extra);
    h.update_relation_data(client, "client-app", &fields)
        .unwrap();
}
