//! The requirer over a charm's `Model`: the private key in a Juju secret,
//! the CSR in the databag, the provider's answer checked, renewal when the
//! certificate's secret expires.

use std::collections::BTreeMap;

use ops::Model;
use ops::model::{
    ModelError, Relation, SecretExpiry, SecretInfoUpdate, SecretOptions, SecretOwner,
};

use crate::databag::{self, Answer, Issued, ProviderDataError};
use crate::x509::{self, CertificateRequest, Csr, PrivateKey, X509Error};
use crate::{LIBID, PRIVATE_KEY_FIELD};

/// Who requests: each unit for itself, or the leader for the application
/// (the library's `Mode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Mode {
    /// Each unit has its own key, CSR (in its unit databag) and certificate.
    #[default]
    Unit,
    /// The leader has the application's key, CSR (in the application
    /// databag) and certificate; other units take no part.
    App,
}

/// Why a sync or a renewal did not finish. Never carries a key, nor the
/// provider's data.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TlsError {
    /// A hook tool failed.
    #[error(transparent)]
    Model(#[from] ModelError),
    /// Our own request could not be made into a CSR (a bad common name or
    /// alternative name), or the system gave no randomness.
    #[error("the certificate request on {endpoint}: {source}")]
    Request {
        /// The endpoint.
        endpoint: String,
        /// Why.
        source: X509Error,
    },
    /// The provider's data is invalid (bad JSON, a certificate that does
    /// not read, is not for our key, or is not the kind asked for).
    #[error("the provider on {endpoint} relation {relation}: {source}")]
    Provider {
        /// The endpoint.
        endpoint: String,
        /// The relation id.
        relation: u32,
        /// What is wrong.
        source: ProviderDataError,
    },
}

/// Where the requirer stands after [`Requirer::sync`].
#[derive(Debug)]
#[non_exhaustive]
pub enum TlsState {
    /// No relation on the endpoint.
    NoRelation,
    /// App mode, and this unit is not the leader.
    NotLeader,
    /// Our CSR is in the databag; the provider has not answered it.
    Requested,
    /// The provider revoked the certificate for our CSR.
    Revoked,
    /// The certificate for our current CSR, checked, with our key.
    Issued(Box<Assigned>),
}

/// A certificate issued for our current CSR, and the key it certifies.
#[derive(Debug)]
pub struct Assigned {
    /// The certificate, its CA and chain.
    pub issued: Issued,
    /// The key (never in a databag; `Debug` redacts it).
    pub private_key: PrivateKey,
    /// The CSR it answers.
    pub csr: Csr,
}

/// The requirer side of `tls-certificates` v4 for one endpoint.
///
/// Call [`sync`](Self::sync) in the endpoint's relation-created and
/// relation-changed, and wherever the request may have changed (an
/// address, a config option); it makes the key once, (re)writes the CSR
/// when the request or the key changed, and returns the provider's
/// certificate when there is one for the current CSR. Call
/// [`renew`](Self::renew) from `secret-expired`: the certificate's secret
/// expires at [`renewal_fraction`](Self::with_renewal_fraction) of its
/// validity, and a new CSR is sent then. Call
/// [`remove_revision`](Self::remove_revision) from `secret-remove`.
#[derive(Debug, Clone)]
pub struct Requirer {
    endpoint: String,
    request: CertificateRequest,
    mode: Mode,
    renewal_fraction: f64,
}

impl Requirer {
    /// A unit-mode requirer on `endpoint` for `request`, renewing at 90%.
    pub fn new(endpoint: impl Into<String>, request: CertificateRequest) -> Self {
        Self {
            endpoint: endpoint.into(),
            request,
            mode: Mode::Unit,
            renewal_fraction: 0.9,
        }
    }

    /// In `mode`.
    pub fn with_mode(mut self, mode: Mode) -> Self {
        self.mode = mode;
        self
    }

    /// Renews at `fraction` of the way to the certificate's end (the
    /// library's `renewal_relative_time`; clamped to 0.5..=1.0).
    pub fn with_renewal_fraction(mut self, fraction: f64) -> Self {
        self.renewal_fraction = fraction.clamp(0.5, 1.0);
        self
    }

    /// The request.
    pub fn request(&self) -> &CertificateRequest {
        &self.request
    }

    /// The label of the secret that keeps the private key (the library's:
    /// `<LIBID>-private-key-<unit number>-<endpoint>`, or without the unit
    /// number in app mode).
    pub fn private_key_label(&self, model: &Model) -> String {
        match self.mode {
            Mode::Unit => format!(
                "{LIBID}-private-key-{}-{}",
                unit_number(model),
                self.endpoint
            ),
            Mode::App => format!("{LIBID}-private-key-{}", self.endpoint),
        }
    }

    /// The label of the secret that records the certificate for `csr`
    /// (and expires when it is due for renewal).
    pub fn certificate_label(&self, model: &Model, csr: &Csr) -> String {
        match self.mode {
            Mode::Unit => format!(
                "{}{}-{}",
                certificate_label_prefix(),
                unit_number(model),
                csr.sha256_hex()
            ),
            Mode::App => format!("{}{}", certificate_label_prefix(), csr.sha256_hex()),
        }
    }

    fn owner(&self) -> SecretOwner {
        match self.mode {
            Mode::Unit => SecretOwner::Unit,
            Mode::App => SecretOwner::Application,
        }
    }

    fn own_bag<'m>(&self, model: &'m Model, relation: &Relation) -> ops::model::Databag<'m> {
        match self.mode {
            Mode::Unit => model.local_unit_data(relation),
            Mode::App => model.local_app_data(relation),
        }
    }

    fn request_error(&self, source: X509Error) -> TlsError {
        TlsError::Request {
            endpoint: self.endpoint.clone(),
            source,
        }
    }

    /// Brings the relation in line with the request (see the type's doc)
    /// and says where it stands.
    pub fn sync(&self, model: &Model) -> Result<TlsState, TlsError> {
        let Some(relation) = model.relation(self.endpoint.as_str())? else {
            return Ok(TlsState::NoRelation);
        };
        if self.mode == Mode::App && !model.is_leader()? {
            return Ok(TlsState::NotLeader);
        }
        self.request.validate().map_err(|e| self.request_error(e))?;
        let key = self.ensure_key(model)?;
        let csr = self.ensure_csr(model, &relation, &key)?;
        let Some(value) = provider_value(model, &relation)? else {
            return Ok(TlsState::Requested);
        };
        let provider_error = |source| TlsError::Provider {
            endpoint: self.endpoint.clone(),
            relation: relation.id.id,
            source,
        };
        let entries = databag::parse_provider_value(&value).map_err(provider_error)?;
        match databag::answer_for(&entries, &csr, &key).map_err(provider_error)? {
            Answer::Pending => Ok(TlsState::Requested),
            Answer::Revoked => {
                self.forget_certificate(model, &csr)?;
                Ok(TlsState::Revoked)
            }
            Answer::Issued(issued) => {
                self.record_certificate(model, &csr, &issued)?;
                Ok(TlsState::Issued(Box::new(Assigned {
                    issued: *issued,
                    private_key: key,
                    csr,
                })))
            }
        }
    }

    /// In `secret-expired`: when `label` is one of this requirer's
    /// certificate secrets, replaces its CSR with a new one (same key) and
    /// removes the secret; true if it was ours.
    pub fn renew(&self, model: &Model, label: Option<&str>) -> Result<bool, TlsError> {
        let Some(label) = label else {
            return Ok(false);
        };
        let ours = match self.mode {
            Mode::Unit => format!("{}{}-", certificate_label_prefix(), unit_number(model)),
            Mode::App => certificate_label_prefix(),
        };
        if !label.starts_with(&ours) {
            return Ok(false);
        }
        let found = model.get_secret(None, Some(label)).and_then(|secret| {
            let content = secret.get_content(true)?;
            Ok((secret, content))
        });
        let (secret, expired_csr) = match found {
            Ok((secret, content)) => (secret, content.get("csr").map(str::to_string)),
            Err(e) if e.is_secret_not_found() => return Ok(false),
            Err(e) => return Err(e.into()),
        };
        if let (Some(relation), Some(expired)) =
            (model.relation(self.endpoint.as_str())?, expired_csr)
        {
            let bag = self.own_bag(model, &relation);
            let listed = bag
                .get(databag::CERTIFICATE_SIGNING_REQUESTS)?
                .and_then(|v| databag::parse_requirer_value(&v))
                .unwrap_or_default();
            let kept: Vec<(String, bool)> = listed
                .into_iter()
                .filter(|r| r.certificate_signing_request.trim() != expired.trim())
                .map(|r| (r.certificate_signing_request, r.ca.unwrap_or(false)))
                .collect();
            let kept: Vec<(&str, bool)> = kept.iter().map(|(p, c)| (p.as_str(), *c)).collect();
            bag.set(
                databag::CERTIFICATE_SIGNING_REQUESTS,
                &databag::requirer_value(&kept),
            )?;
            tracing::info!("certificate on {} due for renewal: new CSR", self.endpoint);
            let key = self.ensure_key(model)?;
            self.ensure_csr(model, &relation, &key)?;
        }
        secret.remove_all_revisions()?;
        Ok(true)
    }

    /// In `secret-remove`: a revision of one of the library's secrets (the
    /// key's, a certificate's) that nobody tracks any more is removed, as
    /// the library does (else every new revision stays in Juju); true if it
    /// was one of them.
    pub fn remove_revision(
        &self,
        model: &Model,
        id: &str,
        label: Option<&str>,
        revision: Option<u64>,
    ) -> Result<bool, TlsError> {
        let (Some(label), Some(revision)) = (label, revision) else {
            return Ok(false);
        };
        if !label.starts_with(LIBID) {
            return Ok(false);
        }
        match model
            .get_secret(Some(id), None)
            .and_then(|secret| secret.remove_revision(revision))
        {
            Err(e) if !e.is_secret_not_found() => Err(e.into()),
            _ => Ok(true),
        }
    }

    /// The private key from its secret; a new one (kept in a new secret,
    /// or a new revision when the one kept does not read) otherwise.
    fn ensure_key(&self, model: &Model) -> Result<PrivateKey, TlsError> {
        let label = self.private_key_label(model);
        let secret = match model.get_secret(None, Some(&label)) {
            Ok(secret) => Some(secret),
            Err(e) if e.is_secret_not_found() => None,
            Err(e) => return Err(e.into()),
        };
        let kept = match secret.as_ref().map(|s| s.get_content(true)) {
            Some(Ok(content)) => Some(content.get(PRIVATE_KEY_FIELD).map(PrivateKey::from_pem)),
            Some(Err(e)) if e.is_secret_not_found() => None,
            Some(Err(e)) => return Err(e.into()),
            None => None,
        };
        if let Some(Some(Ok(key))) = kept {
            return Ok(key);
        }
        let key = PrivateKey::generate().map_err(|e| self.request_error(e))?;
        let content = BTreeMap::from([(PRIVATE_KEY_FIELD.to_string(), key.to_pem())]);
        if let (Some(_), Some(secret)) = (&kept, &secret) {
            tracing::warn!(
                "the private key for {} does not read as an ECDSA P-256 key: replaced",
                self.endpoint
            );
            secret.set_content(content)?;
        } else {
            model.add_secret(
                content,
                SecretOptions::new()
                    .with_label(label)
                    .with_owner(self.owner()),
            )?;
            tracing::info!("private key for {} generated", self.endpoint);
        }
        Ok(key)
    }

    /// The CSR in our databag for the request and key; a new one, written
    /// in place of those that are not, when there is none.
    fn ensure_csr(
        &self,
        model: &Model,
        relation: &Relation,
        key: &PrivateKey,
    ) -> Result<Csr, TlsError> {
        let bag = self.own_bag(model, relation);
        let listed = bag
            .get(databag::CERTIFICATE_SIGNING_REQUESTS)?
            .and_then(|value| databag::parse_requirer_value(&value))
            .unwrap_or_default();
        let current = listed.iter().rev().find_map(|entry| {
            let csr = Csr::from_pem(&entry.certificate_signing_request).ok()?;
            let is_ca = entry.ca.unwrap_or(false);
            (csr.request() == &self.request && is_ca == self.request.is_ca && csr.matches_key(key))
                .then_some(csr)
        });
        let (csr, changed) = match current {
            Some(csr) => {
                let changed = listed.len() != 1;
                (csr, changed)
            }
            None => {
                let csr = Csr::generate(&self.request, key).map_err(|e| self.request_error(e))?;
                tracing::info!("certificate signing request on {} sent", self.endpoint);
                (csr, true)
            }
        };
        if changed {
            // Only the current request stays: the others are for another
            // request or another key (the library's cleanup).
            bag.set(
                databag::CERTIFICATE_SIGNING_REQUESTS,
                &databag::requirer_value(&[(csr.pem(), self.request.is_ca)]),
            )?;
        }
        Ok(csr)
    }

    /// Keeps the certificate in its secret (content `certificate` and
    /// `csr`), expiring when it is due for renewal; nothing when the
    /// secret already has it.
    fn record_certificate(
        &self,
        model: &Model,
        csr: &Csr,
        issued: &Issued,
    ) -> Result<(), TlsError> {
        let label = self.certificate_label(model, csr);
        let certificate = issued.certificate.pem().to_string();
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let renew_at = issued.certificate.renewal_time(now, self.renewal_fraction);
        // None past the year 9999 (beyond RFC 3339): such a certificate is
        // never renewed.
        let expire = x509::rfc3339(renew_at)
            .map(|_| std::time::UNIX_EPOCH + std::time::Duration::from_secs(renew_at));
        let content = BTreeMap::from([
            ("certificate".to_string(), certificate.clone()),
            ("csr".to_string(), csr.pem().to_string()),
        ]);
        let found = model.get_secret(None, Some(&label)).and_then(|secret| {
            let content = secret.get_content(true)?;
            Ok((secret, content))
        });
        match found {
            Ok((_, kept)) if kept.get("certificate") == Some(certificate.as_str()) => Ok(()),
            Ok((secret, _)) => {
                secret.set_content(content)?;
                secret.set_info(SecretInfoUpdate {
                    expire: expire.map(SecretExpiry::At),
                    ..SecretInfoUpdate::default()
                })?;
                Ok(())
            }
            Err(e) if e.is_secret_not_found() => {
                let mut options = SecretOptions::new()
                    .with_label(label)
                    .with_owner(self.owner());
                if let Some(expire) = expire {
                    options = options.with_expire(expire);
                }
                model.add_secret(content, options)?;
                Ok(())
            }
            Err(e) => Err(e.into()),
        }
    }

    fn forget_certificate(&self, model: &Model, csr: &Csr) -> Result<(), TlsError> {
        match model
            .get_secret(None, Some(&self.certificate_label(model, csr)))
            .and_then(|secret| secret.remove_all_revisions())
        {
            Err(e) if !e.is_secret_not_found() => Err(e.into()),
            _ => Ok(()),
        }
    }
}

fn provider_value(model: &Model, relation: &Relation) -> Result<Option<String>, ModelError> {
    if relation.app.is_none() {
        return Ok(None);
    }
    model.remote_app_data(relation)?.get(databag::CERTIFICATES)
}

fn certificate_label_prefix() -> String {
    format!("{LIBID}-certificate-")
}

fn unit_number(model: &Model) -> String {
    model
        .unit()
        .name()
        .rsplit_once('/')
        .map_or("0", |(_, n)| n)
        .to_string()
}
