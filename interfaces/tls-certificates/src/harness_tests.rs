//! The requirer over a charm's model, on the Harness: what it writes and
//! keeps in unit and app mode, a new CSR when the request or the key
//! changed, and the provider's answer.

use crate::databag::{CERTIFICATE_SIGNING_REQUESTS, CERTIFICATES};
use crate::testing::{TestCa, requested_csrs};
use crate::{CertificateRequest, Csr, LIBID, Mode, PRIVATE_KEY_FIELD, Requirer, TlsState};
use ops::events::{ConfigChanged, RelationChanged, RelationCreated};
use ops::{Charm, Ctx, Framework, HandlerError, HandlerResult, Model};
use ops_testing::Harness;

const META: &str = r#"
name: probe
type: charm
summary: s
description: d
requires:
  certificates:
    interface: tls-certificates
config:
  options:
    extra-san:
      type: string
      default: ""
      description: one more DNS name
"#;
const PROVIDER: &str = "provider";

/// A charm that syncs the requirer on every event it sees (`APP`: app mode)
/// and remembers what sync said.
#[derive(Default)]
struct Probe<const APP: bool> {
    issued: bool,
}

impl<const APP: bool> Charm for Probe<APP> {
    fn new(fw: &mut Framework<Self>) -> Result<Self, HandlerError> {
        fw.observe_relation("certificates", Self::on_created)?
            .observe_relation("certificates", Self::on_changed)?
            .observe(Self::on_config_changed)?;
        Ok(Self::default())
    }
}

impl<const APP: bool> Probe<APP> {
    fn sync(&mut self, model: &Model) -> HandlerResult {
        let mut request = CertificateRequest::new("probe-0").with_sans_dns(["probe.example"]);
        if let Some(extra) = model
            .config()?
            .get::<String>("extra-san")?
            .filter(|s| !s.is_empty())
        {
            request = request.with_sans_dns([extra]);
        }
        let mode = if APP { Mode::App } else { Mode::Unit };
        let state = Requirer::new("certificates", request)
            .with_mode(mode)
            .sync(model)?;
        self.issued = matches!(state, TlsState::Issued(_));
        Ok(())
    }

    fn on_created(&mut self, _: &RelationCreated, ctx: &mut Ctx) -> HandlerResult {
        self.sync(ctx.model())
    }

    fn on_changed(&mut self, _: &RelationChanged, ctx: &mut Ctx) -> HandlerResult {
        self.sync(ctx.model())
    }

    fn on_config_changed(&mut self, _: &ConfigChanged, ctx: &mut Ctx) -> HandlerResult {
        self.sync(ctx.model())
    }
}

fn related<const APP: bool>(leader: bool) -> (Harness<Probe<APP>>, u32) {
    let mut h = Harness::new(META).unwrap();
    h.set_leader(leader).unwrap();
    h.begin_with_initial_hooks().unwrap();
    let relation = h.add_relation("certificates", PROVIDER).unwrap();
    h.add_relation_unit(relation, "provider/0").unwrap();
    (h, relation)
}

fn listed<C: Charm>(h: &Harness<C>, relation: u32, member: &str) -> Vec<Csr> {
    let bag = h.get_relation_data(relation, member);
    requested_csrs(bag.get(CERTIFICATE_SIGNING_REQUESTS).map(String::as_str))
}

fn secret_by_label<C: Charm>(h: &Harness<C>, label: &str) -> Option<(String, String, String)> {
    let juju = h.juju();
    let secret = juju
        .secrets
        .values()
        .find(|s| s.label.as_deref() == Some(label))?;
    let key = secret
        .revisions
        .values()
        .next_back()?
        .get(PRIVATE_KEY_FIELD)
        .cloned()
        .unwrap_or_default();
    Some((secret.id.clone(), secret.owner_kind.clone(), key))
}

#[test]
fn unit_mode_writes_the_units_bag_and_keeps_a_unit_key() {
    let (h, relation) = related::<false>(false);
    assert_eq!(listed(&h, relation, "probe/0").len(), 1);
    assert!(listed(&h, relation, "probe").is_empty());
    let label = format!("{LIBID}-private-key-0-certificates");
    let (_, owner, key) = secret_by_label(&h, &label).expect("the key's secret");
    assert_eq!(owner, "unit");
    assert!(key.starts_with("-----BEGIN PRIVATE KEY-----"));
    // The exact value the library writes: a list of one, `ca` false.
    let value = h.get_relation_data(relation, "probe/0")[CERTIFICATE_SIGNING_REQUESTS].clone();
    assert!(
        value.starts_with(
            r#"[{"certificate_signing_request": "-----BEGIN CERTIFICATE REQUEST-----\n"#
        ),
        "{value}"
    );
    assert!(
        value.ends_with(r#"-----END CERTIFICATE REQUEST-----", "ca": false}]"#),
        "{value}"
    );
}

#[test]
fn app_mode_is_the_leaders_with_an_application_key() {
    let (h, relation) = related::<true>(true);
    assert_eq!(listed(&h, relation, "probe").len(), 1);
    assert!(listed(&h, relation, "probe/0").is_empty());
    let (_, owner, _) = secret_by_label(&h, &format!("{LIBID}-private-key-certificates"))
        .expect("the key's secret");
    assert_eq!(owner, "application");
    // A follower takes no part.
    let (h, relation) = related::<true>(false);
    assert!(listed(&h, relation, "probe").is_empty());
    assert!(listed(&h, relation, "probe/0").is_empty());
    assert!(h.juju().secrets.is_empty());
}

#[test]
fn a_changed_request_replaces_the_csr() {
    let (mut h, relation) = related::<false>(false);
    let first = listed(&h, relation, "probe/0");
    // Nothing changed: the same CSR stays.
    h.update_relation_data(relation, "provider/0", &[("x", "1")])
        .unwrap();
    assert_eq!(listed(&h, relation, "probe/0"), first);
    h.update_config([("extra-san", serde_json::json!("more.example"))])
        .unwrap();
    let second = listed(&h, relation, "probe/0");
    assert_eq!(second.len(), 1);
    assert_ne!(second, first);
    assert!(second[0].request().sans_dns.contains("more.example"));
}

#[test]
fn a_key_that_does_not_read_is_replaced_and_a_new_csr_sent() {
    let (mut h, relation) = related::<false>(false);
    let first = listed(&h, relation, "probe/0");
    let label = format!("{LIBID}-private-key-0-certificates");
    let (id, _, old_key) = secret_by_label(&h, &label).unwrap();
    h.juju().set_secret_content(
        &id,
        [(PRIVATE_KEY_FIELD.to_string(), "not a key".to_string())].into(),
    );
    h.update_relation_data(relation, "provider/0", &[("x", "1")])
        .unwrap();
    let (_, _, new_key) = secret_by_label(&h, &label).unwrap();
    assert!(new_key.starts_with("-----BEGIN PRIVATE KEY-----"));
    assert_ne!(new_key, old_key);
    let second = listed(&h, relation, "probe/0");
    assert_eq!(second.len(), 1);
    assert_ne!(second, first);
    let key = crate::PrivateKey::from_pem(&new_key).unwrap();
    assert!(second[0].matches_key(&key));
}

#[test]
fn the_providers_certificate_for_our_csr_is_issued() {
    let (mut h, relation) = related::<false>(false);
    let csrs = listed(&h, relation, "probe/0");
    let ca = TestCa::new("test CA");
    let value = ca.provider_value(&csrs.iter().collect::<Vec<_>>());
    h.update_relation_data(relation, PROVIDER, &[(CERTIFICATES, &value)])
        .unwrap();
    assert!(h.charm().unwrap().issued);
    // Its record, expiring for renewal.
    let label = format!("{LIBID}-certificate-0-{}", csrs[0].sha256_hex());
    let juju = h.juju();
    let secret = juju
        .secrets
        .values()
        .find(|s| s.label.as_deref() == Some(label.as_str()))
        .unwrap();
    assert_eq!(secret.owner_kind, "unit");
    assert!(secret.expire.as_deref().is_some_and(|e| e.ends_with('Z')));
    let content = secret.revisions.values().next_back().unwrap();
    assert_eq!(content["csr"], csrs[0].pem());
}
