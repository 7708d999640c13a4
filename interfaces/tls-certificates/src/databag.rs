//! The two databag values of the interface, read and written as the
//! library's pydantic models (`_RequirerData`, `_ProviderApplicationData`)
//! dump and load them.

use juju_topology::json::{self, Value};
use serde::Deserialize;

use crate::x509::{Certificate, Csr, PrivateKey, X509Error};

/// The requirer's databag key (its unit's bag in unit mode, its
/// application's in app mode): a JSON list of
/// `{"certificate_signing_request": <PEM>, "ca": <bool>}`.
pub const CERTIFICATE_SIGNING_REQUESTS: &str = "certificate_signing_requests";
/// The provider's application databag key: a JSON list of
/// `{"ca", "certificate_signing_request", "certificate", "chain"?, "revoked"?}`.
pub const CERTIFICATES: &str = "certificates";

/// One CSR as the requirer lists it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct RequestedCsr {
    /// The CSR, PEM.
    pub certificate_signing_request: String,
    /// Whether a CA certificate is asked for (`null` reads as false).
    #[serde(default)]
    pub ca: Option<bool>,
}

/// The requirer's list, as JSON the way the library writes it
/// (`json.dumps`: `", "` and `": "`).
///
/// ```
/// use tls_certificates::databag::requirer_value;
/// assert_eq!(
///     requirer_value(&[("-----BEGIN CERTIFICATE REQUEST-----\n...", false)]),
///     r#"[{"certificate_signing_request": "-----BEGIN CERTIFICATE REQUEST-----\n...", "ca": false}]"#,
/// );
/// ```
pub fn requirer_value(csrs: &[(&str, bool)]) -> String {
    let list = csrs
        .iter()
        .map(|(pem, ca)| {
            Value::object([
                ("certificate_signing_request", Value::from(*pem)),
                ("ca", Value::from(*ca)),
            ])
        })
        .collect::<Vec<_>>();
    json::to_string(&Value::from(list))
}

/// The requirer's list from its databag value. `None` for a value the
/// library would not load either (it then starts a new list).
pub fn parse_requirer_value(value: &str) -> Option<Vec<RequestedCsr>> {
    serde_json::from_str(value).ok()
}

/// One certificate as the provider lists it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct ProviderEntry {
    /// The CA's certificate, PEM.
    pub ca: String,
    /// The CSR it answers, PEM.
    pub certificate_signing_request: String,
    /// The certificate, PEM.
    pub certificate: String,
    /// The chain, PEM each (the library's provider puts the certificate
    /// and its CA in it).
    #[serde(default)]
    pub chain: Option<Vec<String>>,
    /// Revoked by the provider.
    #[serde(default)]
    pub revoked: Option<bool>,
}

/// What is wrong with the provider's data. Never carries the data.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ProviderDataError {
    /// `certificates` is not a JSON list of certificate objects.
    #[error("`certificates` is not a JSON list of certificates")]
    NotAList,
    /// Our entry's certificate, CA or chain does not read.
    #[error("the {field} for our CSR: {source}")]
    Unreadable {
        /// `certificate`, `ca` or `chain`.
        field: &'static str,
        /// Why.
        source: X509Error,
    },
    /// The certificate is for another key than ours.
    #[error("the certificate for our CSR does not match our private key")]
    KeyMismatch,
    /// A CA certificate where none was asked for, or the reverse.
    #[error("the certificate for our CSR is {}a CA certificate, which was not asked for", if *.is_ca { "" } else { "not " })]
    CaMismatch {
        /// Whether the certificate is a CA's.
        is_ca: bool,
    },
}

/// The provider's list from its databag value.
pub fn parse_provider_value(value: &str) -> Result<Vec<ProviderEntry>, ProviderDataError> {
    serde_json::from_str(value).map_err(|_| ProviderDataError::NotAList)
}

/// A certificate the provider issued for our CSR, checked: it reads, it is
/// for our key, it is a CA's exactly when one was asked for.
#[derive(Debug, Clone)]
pub struct Issued {
    /// The certificate.
    pub certificate: Certificate,
    /// The CA that signed it.
    pub ca: Certificate,
    /// The chain, as the provider gave it (may be empty).
    pub chain: Vec<Certificate>,
}

impl Issued {
    /// What a server presents, PEM: our certificate, then the chain's
    /// certificates between it and the CA (intermediates), so that a client
    /// that trusts only the CA can build the path.
    pub fn certificate_chain_pem(&self) -> String {
        let mut pems = vec![self.certificate.pem()];
        pems.extend(
            self.chain
                .iter()
                .map(Certificate::pem)
                .filter(|pem| *pem != self.certificate.pem() && *pem != self.ca.pem()),
        );
        let mut bundle = pems.join("\n");
        bundle.push('\n');
        bundle
    }

    /// The certificates a client needs to trust ours, PEM: the chain
    /// without our certificate when there is one, else the CA. (The chain's
    /// order is the provider's.)
    pub fn ca_bundle(&self) -> String {
        let mut pems: Vec<&str> = self
            .chain
            .iter()
            .filter(|c| c.pem() != self.certificate.pem())
            .map(Certificate::pem)
            .collect();
        if pems.is_empty() {
            pems.push(self.ca.pem());
        }
        let mut bundle = pems.join("\n");
        bundle.push('\n');
        bundle
    }
}

/// The provider's answer to `csr`.
#[derive(Debug, Clone)]
pub enum Answer {
    /// Nothing for it yet.
    Pending,
    /// Revoked.
    Revoked,
    /// Issued and checked.
    Issued(Box<Issued>),
}

/// Finds the provider's answer to `csr` in `entries` and checks it against `key`.
pub fn answer_for(
    entries: &[ProviderEntry],
    csr: &Csr,
    key: &PrivateKey,
) -> Result<Answer, ProviderDataError> {
    let ours = entries.iter().find(|entry| {
        entry.certificate_signing_request.trim() == csr.pem()
            || Csr::from_pem(&entry.certificate_signing_request).is_ok_and(|c| c.pem() == csr.pem())
    });
    let Some(entry) = ours else {
        return Ok(Answer::Pending);
    };
    if entry.revoked == Some(true) {
        return Ok(Answer::Revoked);
    }
    let read = |field, text: &str| {
        Certificate::from_pem(text)
            .map_err(|source| ProviderDataError::Unreadable { field, source })
    };
    let certificate = read("certificate", &entry.certificate)?;
    let ca = read("ca", &entry.ca)?;
    let chain = entry
        .chain
        .iter()
        .flatten()
        .map(|pem| read("chain", pem))
        .collect::<Result<Vec<_>, _>>()?;
    if !certificate.matches_key(key) {
        return Err(ProviderDataError::KeyMismatch);
    }
    if certificate.is_ca() != csr.request().is_ca {
        return Err(ProviderDataError::CaMismatch {
            is_ca: certificate.is_ca(),
        });
    }
    Ok(Answer::Issued(Box::new(Issued {
        certificate,
        ca,
        chain,
    })))
}
