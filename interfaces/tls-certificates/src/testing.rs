//! For tests (feature `testing`): a CA that answers CSRs as a v4 provider
//! does, with the provider's databag value in the library's exact shape.
//!
//! ```
//! use tls_certificates::testing::TestCa;
//! use tls_certificates::{CertificateRequest, Csr, PrivateKey};
//!
//! let ca = TestCa::new("test CA");
//! let key = PrivateKey::generate().unwrap();
//! let csr = Csr::generate(&CertificateRequest::new("unit-0").with_sans_dns(["localhost"]), &key).unwrap();
//! let value = ca.provider_value(&[&csr]);
//! assert!(value.starts_with(r#"[{"ca": "-----BEGIN CERTIFICATE-----\n"#));
//! ```

use std::net::IpAddr;

use juju_topology::json::{self, Value};
use rcgen::{
    BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, PublicKeyData, SanType,
    SignatureAlgorithm,
};
use x509_cert::der::Decode;
use x509_cert::spki::SubjectPublicKeyInfoOwned;

use crate::databag::parse_requirer_value;
use crate::x509::Csr;

/// The CSRs a requirer's `certificate_signing_requests` value lists, in
/// order; none without a value.
///
/// # Panics
/// If the list or a CSR in it does not read (a test helper).
pub fn requested_csrs(value: Option<&str>) -> Vec<Csr> {
    let Some(value) = value else {
        return Vec::new();
    };
    parse_requirer_value(value)
        .expect("the library's list")
        .iter()
        .map(|entry| Csr::from_pem(&entry.certificate_signing_request).expect("a CSR"))
        .collect()
}

/// A self-signed CA (ECDSA P-256) that signs CSRs.
pub struct TestCa {
    issuer: Issuer<'static, KeyPair>,
    pem: String,
}

impl std::fmt::Debug for TestCa {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestCa").finish_non_exhaustive()
    }
}

impl TestCa {
    /// A new CA named `common_name`.
    ///
    /// # Panics
    /// If rcgen cannot make it (a test helper: a failure is the test's).
    pub fn new(common_name: &str) -> Self {
        let key = KeyPair::generate().expect("a CA key");
        let mut params = CertificateParams::new(Vec::<String>::new()).expect("CA params");
        params
            .distinguished_name
            .push(DnType::CommonName, common_name);
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        let pem = params.self_signed(&key).expect("a CA certificate").pem();
        Self {
            issuer: Issuer::new(params, key),
            pem: pem.trim().to_string(),
        }
    }

    /// The CA's certificate, PEM.
    pub fn pem(&self) -> &str {
        &self.pem
    }

    /// A certificate for `csr`'s key, common name and alternative names,
    /// valid from `not_before` to `not_after` (`(year, month, day)`).
    ///
    /// # Panics
    /// If rcgen refuses (a test helper).
    pub fn sign_valid(
        &self,
        csr: &Csr,
        not_before: (i32, u8, u8),
        not_after: (i32, u8, u8),
    ) -> String {
        let request = csr.request();
        let mut params = CertificateParams::new(Vec::<String>::new()).expect("params");
        params
            .distinguished_name
            .push(DnType::CommonName, request.common_name.as_str());
        for name in &request.sans_dns {
            params.subject_alt_names.push(SanType::DnsName(
                name.as_str().try_into().expect("a DNS name"),
            ));
        }
        for address in &request.sans_ip {
            params
                .subject_alt_names
                .push(SanType::IpAddress(IpAddr::clone(address)));
        }
        if request.is_ca {
            params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        }
        params.not_before = rcgen::date_time_ymd(not_before.0, not_before.1, not_before.2);
        params.not_after = rcgen::date_time_ymd(not_after.0, not_after.1, not_after.2);
        let info = SubjectPublicKeyInfoOwned::from_der(csr.public_key_der()).expect("an SPKI");
        let public_key = P256(info.subject_public_key.raw_bytes().to_vec());
        let certificate = params
            .signed_by(&public_key, &self.issuer)
            .expect("a signed certificate");
        certificate.pem().trim().to_string()
    }

    /// [`sign_valid`](Self::sign_valid) from 2020 to 2120.
    pub fn sign(&self, csr: &Csr) -> String {
        self.sign_valid(csr, (2020, 1, 1), (2120, 1, 1))
    }

    /// One entry of the provider's `certificates`, as the library's
    /// `_Certificate` dumps it: `ca`, `certificate_signing_request`,
    /// `certificate`, `chain` (leaf first, then the CA).
    pub fn entry(&self, csr_pem: &str, certificate: &str) -> Value {
        Value::object([
            ("ca", Value::from(self.pem.as_str())),
            ("certificate_signing_request", Value::from(csr_pem)),
            ("certificate", Value::from(certificate)),
            (
                "chain",
                Value::from(vec![
                    Value::from(certificate),
                    Value::from(self.pem.as_str()),
                ]),
            ),
        ])
    }

    /// The provider's `certificates` value answering every CSR in `csrs`.
    pub fn provider_value(&self, csrs: &[&Csr]) -> String {
        let entries = csrs
            .iter()
            .map(|csr| self.entry(csr.pem(), &self.sign(csr)))
            .collect::<Vec<_>>();
        json::to_string(&Value::from(entries))
    }
}

/// An ECDSA P-256 public key (the point), as rcgen signs for it.
struct P256(Vec<u8>);

impl PublicKeyData for P256 {
    fn der_bytes(&self) -> &[u8] {
        &self.0
    }

    fn algorithm(&self) -> &'static SignatureAlgorithm {
        &rcgen::PKCS_ECDSA_P256_SHA256
    }
}
