//! The private key, the certificate signing request made with it, and the
//! certificates a provider sends back: made and read with `ring` and the
//! `x509-cert` types, checked against each other.
//!
//! Keys are ECDSA P-256 (PKCS#8): `ring` signs with them, every TLS peer
//! that speaks TLS 1.2 or 1.3 takes them, and a provider signs whatever
//! public key a CSR carries. (The Python library makes RSA 2048 keys; it
//! reads ours as any PEM key, and so do OpenSSL and PgBouncer.)

use std::collections::BTreeSet;
use std::fmt;
use std::net::IpAddr;
use std::time::Duration;

use ring::rand::{SecureRandom, SystemRandom};
use ring::signature::{ECDSA_P256_SHA256_ASN1_SIGNING, EcdsaKeyPair, KeyPair};
use rustls_pki_types::{CertificateDer, CertificateSigningRequestDer, PrivatePkcs8KeyDer};
use x509_cert::attr::{Attribute, AttributeTypeAndValue};
use x509_cert::der::asn1::{BitString, Ia5String, ObjectIdentifier, OctetString, SetOfVec};
use x509_cert::der::{Any, DateTime, Decode, Encode, Tag, Tagged};
use x509_cert::ext::Extension;
use x509_cert::ext::pkix::name::GeneralName;
use x509_cert::ext::pkix::{BasicConstraints, SubjectAltName};
use x509_cert::name::{RdnSequence, RelativeDistinguishedName};
use x509_cert::request::{CertReq, CertReqInfo, ExtensionReq, Version};
use x509_cert::spki::{AlgorithmIdentifierOwned, SubjectPublicKeyInfoOwned};

use crate::pem::{self, PemError};

const COMMON_NAME: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.4.3");
const UNIQUE_IDENTIFIER: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.4.45");
const EC_PUBLIC_KEY: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.2.1");
const PRIME256V1: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.3.1.7");
const ECDSA_WITH_SHA256: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.4.3.2");
const EXTENSION_REQUEST: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.14");
const SUBJECT_ALT_NAME: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.17");
const BASIC_CONSTRAINTS: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.19");

/// The longest common name X.509 allows (`ub-common-name`), as the
/// library's `cryptography` enforces.
pub const MAX_COMMON_NAME: usize = 64;

/// Why a key, CSR or certificate could not be made or read. Never carries
/// key material nor the remote text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum X509Error {
    /// Not PEM of the expected kind.
    #[error(transparent)]
    Pem(#[from] PemError),
    /// The DER inside is not a valid object of its kind.
    #[error("{what} is not valid DER")]
    Der {
        /// `certificate`, `CSR`, ...
        what: &'static str,
    },
    /// The private key is not an ECDSA P-256 PKCS#8 key.
    #[error("the private key is not an ECDSA P-256 PKCS#8 key")]
    UnsupportedKey,
    /// A request that cannot be made into a CSR.
    #[error("invalid certificate request: {0}")]
    InvalidRequest(&'static str),
    /// The system's random source failed.
    #[error("no randomness from the system")]
    Random,
}

/// What a certificate is requested for: the library's
/// `CertificateRequestAttributes` (subject common name and alternative
/// names; a CA certificate or not). Two requests are the same request when
/// these are equal, as the library compares them.
///
/// ```
/// use tls_certificates::CertificateRequest;
///
/// let request = CertificateRequest::new("pgbouncer-k8s-0")
///     .with_sans_dns(["pgbouncer-k8s.dev.svc.cluster.local"])
///     .with_sans_ip(["127.0.0.1".parse().unwrap()]);
/// assert!(request.validate().is_ok());
/// assert!(CertificateRequest::new("").validate().is_err());
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct CertificateRequest {
    /// The subject's common name (1 to 64 characters).
    pub common_name: String,
    /// DNS subject alternative names.
    pub sans_dns: BTreeSet<String>,
    /// IP subject alternative names.
    pub sans_ip: BTreeSet<IpAddr>,
    /// A CA certificate is asked for (the library's `is_ca`).
    pub is_ca: bool,
}

impl CertificateRequest {
    /// A request for `common_name`, without alternative names.
    pub fn new(common_name: impl Into<String>) -> Self {
        Self {
            common_name: common_name.into(),
            ..Self::default()
        }
    }

    /// Adds DNS alternative names.
    pub fn with_sans_dns<S: Into<String>>(mut self, names: impl IntoIterator<Item = S>) -> Self {
        self.sans_dns.extend(names.into_iter().map(Into::into));
        self
    }

    /// Adds IP alternative names.
    pub fn with_sans_ip(mut self, addresses: impl IntoIterator<Item = IpAddr>) -> Self {
        self.sans_ip.extend(addresses);
        self
    }

    /// Asks for a CA certificate.
    pub fn with_ca(mut self, is_ca: bool) -> Self {
        self.is_ca = is_ca;
        self
    }

    /// Whether a CSR can be made of it: a common name of 1 to
    /// [`MAX_COMMON_NAME`] characters, DNS names that are non-empty ASCII.
    pub fn validate(&self) -> Result<(), X509Error> {
        let length = self.common_name.chars().count();
        if length == 0 || length > MAX_COMMON_NAME {
            return Err(X509Error::InvalidRequest(
                "the common name must have 1 to 64 characters",
            ));
        }
        if self
            .sans_dns
            .iter()
            .any(|name| name.is_empty() || !name.is_ascii())
        {
            return Err(X509Error::InvalidRequest(
                "a DNS name must be non-empty ASCII",
            ));
        }
        Ok(())
    }
}

/// The unit's (or application's) private key: ECDSA P-256, PKCS#8.
/// `Debug` never shows it; [`PrivateKey::to_pem`] is for the secret that
/// keeps it and the workload file that uses it, nothing else.
pub struct PrivateKey {
    pkcs8: PrivatePkcs8KeyDer<'static>,
    pair: EcdsaKeyPair,
    /// The DER of its public key's `SubjectPublicKeyInfo`.
    public_key: Vec<u8>,
}

impl fmt::Debug for PrivateKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PrivateKey(<redacted>)")
    }
}

impl PrivateKey {
    /// A new key from the system's random source.
    pub fn generate() -> Result<Self, X509Error> {
        let rng = SystemRandom::new();
        let document = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, &rng)
            .map_err(|_| X509Error::Random)?;
        Self::from_pkcs8(document.as_ref().to_vec())
    }

    /// A key from its PEM (`-----BEGIN PRIVATE KEY-----`, PKCS#8).
    pub fn from_pem(text: &str) -> Result<Self, X509Error> {
        let der: PrivatePkcs8KeyDer<'static> = pem::decode(text, "PRIVATE KEY")?;
        Self::from_pkcs8(der.secret_pkcs8_der().to_vec())
    }

    fn from_pkcs8(der: Vec<u8>) -> Result<Self, X509Error> {
        let rng = SystemRandom::new();
        let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, &der, &rng)
            .map_err(|_| X509Error::UnsupportedKey)?;
        let info = SubjectPublicKeyInfoOwned {
            algorithm: AlgorithmIdentifierOwned {
                oid: EC_PUBLIC_KEY,
                parameters: Some(Any::from(&PRIME256V1)),
            },
            subject_public_key: BitString::from_bytes(pair.public_key().as_ref())
                .map_err(|_| X509Error::UnsupportedKey)?,
        };
        let public_key = info.to_der().map_err(|_| X509Error::UnsupportedKey)?;
        Ok(Self {
            pkcs8: PrivatePkcs8KeyDer::from(der),
            pair,
            public_key,
        })
    }

    /// The key as PEM, for the secret that keeps it and the file that uses it.
    pub fn to_pem(&self) -> String {
        pem::encode("PRIVATE KEY", self.pkcs8.secret_pkcs8_der())
    }

    /// The DER of the public key's `SubjectPublicKeyInfo`, as a CSR or a
    /// certificate for this key carries it.
    pub fn public_key_der(&self) -> &[u8] {
        &self.public_key
    }

    fn sign(&self, message: &[u8]) -> Result<Vec<u8>, X509Error> {
        let rng = SystemRandom::new();
        self.pair
            .sign(&rng, message)
            .map(|signature| signature.as_ref().to_vec())
            .map_err(|_| X509Error::Random)
    }
}

/// A certificate signing request (PKCS#10), as PEM and as what it asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Csr {
    pem: String,
    request: CertificateRequest,
    public_key: Vec<u8>,
}

impl Csr {
    /// A new CSR for `request`, signed with `key`. Its subject is the
    /// common name and, as the library adds by default, a random unique
    /// identifier, so that no two CSRs are the same.
    pub fn generate(request: &CertificateRequest, key: &PrivateKey) -> Result<Self, X509Error> {
        request.validate()?;
        let der_error = |_| X509Error::InvalidRequest("cannot be encoded");
        let common_name = AttributeTypeAndValue {
            oid: COMMON_NAME,
            value: Any::new(Tag::Utf8String, request.common_name.as_bytes()).map_err(der_error)?,
        };
        let unique = AttributeTypeAndValue {
            oid: UNIQUE_IDENTIFIER,
            value: Any::encode_from(
                &BitString::from_bytes(uuid_v4()?.as_bytes()).map_err(der_error)?,
            )
            .map_err(der_error)?,
        };
        let subject = RdnSequence(vec![
            RelativeDistinguishedName(SetOfVec::try_from(vec![common_name]).map_err(der_error)?),
            RelativeDistinguishedName(SetOfVec::try_from(vec![unique]).map_err(der_error)?),
        ]);
        let mut extensions = Vec::new();
        let mut names = Vec::new();
        for address in &request.sans_ip {
            let octets = match address {
                IpAddr::V4(v4) => v4.octets().to_vec(),
                IpAddr::V6(v6) => v6.octets().to_vec(),
            };
            names.push(GeneralName::IpAddress(
                OctetString::new(octets).map_err(der_error)?,
            ));
        }
        for name in &request.sans_dns {
            names.push(GeneralName::DnsName(
                Ia5String::new(name).map_err(der_error)?,
            ));
        }
        if !names.is_empty() {
            extensions.push(Extension {
                extn_id: SUBJECT_ALT_NAME,
                critical: false,
                extn_value: OctetString::new(SubjectAltName(names).to_der().map_err(der_error)?)
                    .map_err(der_error)?,
            });
        }
        if request.is_ca {
            let constraints = BasicConstraints {
                ca: true,
                path_len_constraint: None,
            };
            extensions.push(Extension {
                extn_id: BASIC_CONSTRAINTS,
                critical: true,
                extn_value: OctetString::new(constraints.to_der().map_err(der_error)?)
                    .map_err(der_error)?,
            });
        }
        let mut attributes = SetOfVec::new();
        if !extensions.is_empty() {
            let attribute = Attribute::try_from(ExtensionReq(extensions)).map_err(der_error)?;
            attributes.insert(attribute).map_err(der_error)?;
        }
        let info = CertReqInfo {
            version: Version::V1,
            subject,
            public_key: SubjectPublicKeyInfoOwned::from_der(key.public_key_der())
                .map_err(der_error)?,
            attributes,
        };
        let signature = key.sign(&info.to_der().map_err(der_error)?)?;
        let csr = CertReq {
            info,
            algorithm: AlgorithmIdentifierOwned {
                oid: ECDSA_WITH_SHA256,
                parameters: None,
            },
            signature: BitString::from_bytes(&signature).map_err(der_error)?,
        };
        let der = csr.to_der().map_err(der_error)?;
        Self::from_der(&der)
    }

    /// A CSR from its PEM (a remote application's, or our own databag's).
    pub fn from_pem(text: &str) -> Result<Self, X509Error> {
        let der: CertificateSigningRequestDer<'static> = pem::decode(text, "CERTIFICATE REQUEST")?;
        Self::from_der(der.as_ref())
    }

    fn from_der(der: &[u8]) -> Result<Self, X509Error> {
        let bad = |_| X509Error::Der { what: "CSR" };
        let csr = CertReq::from_der(der).map_err(bad)?;
        let common_name = common_name_of(&csr.info.subject).unwrap_or_default();
        let mut request = CertificateRequest::new(common_name);
        for attribute in csr.info.attributes.iter() {
            if attribute.oid != EXTENSION_REQUEST {
                continue;
            }
            for value in attribute.values.iter() {
                let extensions: ExtensionReq = value.decode_as().map_err(bad)?;
                read_extensions(&extensions.0, &mut request)?;
            }
        }
        Ok(Self {
            pem: pem::encode("CERTIFICATE REQUEST", der),
            request,
            public_key: csr.info.public_key.to_der().map_err(bad)?,
        })
    }

    /// The PEM, without a trailing newline (what the databag carries).
    pub fn pem(&self) -> &str {
        &self.pem
    }

    /// What it asks for.
    pub fn request(&self) -> &CertificateRequest {
        &self.request
    }

    /// Whether it was made with `key`.
    pub fn matches_key(&self, key: &PrivateKey) -> bool {
        self.public_key == key.public_key_der()
    }

    /// The DER of the public key's `SubjectPublicKeyInfo` (what a CA signs).
    pub fn public_key_der(&self) -> &[u8] {
        &self.public_key
    }

    /// The SHA-256 of its PEM, in hex: the library names a certificate's
    /// secret after it.
    pub fn sha256_hex(&self) -> String {
        let digest = ring::digest::digest(&ring::digest::SHA256, self.pem.as_bytes());
        digest.as_ref().iter().map(|b| format!("{b:02x}")).collect()
    }
}

/// An X.509 certificate: its PEM and what the requirer checks in it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Certificate {
    pem: String,
    public_key: Vec<u8>,
    not_before: u64,
    not_after: u64,
    is_ca: bool,
    request: CertificateRequest,
}

impl Certificate {
    /// The first certificate in a PEM text.
    pub fn from_pem(text: &str) -> Result<Self, X509Error> {
        let der: CertificateDer<'static> = pem::decode(text, "CERTIFICATE")?;
        Self::from_der(der.as_ref())
    }

    /// Every certificate in a PEM bundle, in order.
    pub fn all_from_pem(text: &str) -> Result<Vec<Self>, X509Error> {
        let all: Vec<CertificateDer<'static>> = pem::decode_all(text, "CERTIFICATE")?;
        all.iter().map(|der| Self::from_der(der.as_ref())).collect()
    }

    fn from_der(der: &[u8]) -> Result<Self, X509Error> {
        let bad = |_| X509Error::Der {
            what: "certificate",
        };
        let certificate = x509_cert::Certificate::from_der(der).map_err(bad)?;
        let tbs = &certificate.tbs_certificate;
        let mut request = CertificateRequest::new(common_name_of(&tbs.subject).unwrap_or_default());
        read_extensions(tbs.extensions.as_deref().unwrap_or_default(), &mut request)?;
        Ok(Self {
            pem: pem::encode("CERTIFICATE", der),
            public_key: tbs.subject_public_key_info.to_der().map_err(bad)?,
            not_before: tbs.validity.not_before.to_unix_duration().as_secs(),
            not_after: tbs.validity.not_after.to_unix_duration().as_secs(),
            is_ca: request.is_ca,
            request,
        })
    }

    /// The PEM (re-encoded from the DER: 64-character lines, no trailing newline).
    pub fn pem(&self) -> &str {
        &self.pem
    }

    /// Whether it certifies `key`'s public key.
    pub fn matches_key(&self, key: &PrivateKey) -> bool {
        self.public_key == key.public_key_der()
    }

    /// Whether it is a CA certificate (basic constraints `cA`).
    pub fn is_ca(&self) -> bool {
        self.is_ca
    }

    /// Its subject's common name and alternative names.
    pub fn subject(&self) -> &CertificateRequest {
        &self.request
    }

    /// Start of validity, seconds since the Unix epoch.
    pub fn not_before(&self) -> u64 {
        self.not_before
    }

    /// End of validity, seconds since the Unix epoch.
    pub fn not_after(&self) -> u64 {
        self.not_after
    }

    /// When to ask for a new one: `fraction` (0.5 to 1.0) of the way from
    /// `now` to the end of validity, as the library's
    /// `calculate_relative_datetime` (`now` is seconds since the epoch).
    pub fn renewal_time(&self, now: u64, fraction: f64) -> u64 {
        let fraction = fraction.clamp(0.5, 1.0);
        let left = self.not_after.saturating_sub(now);
        now + Duration::from_secs(left).mul_f64(fraction).as_secs()
    }
}

fn common_name_of(name: &RdnSequence) -> Option<String> {
    name.0
        .iter()
        .flat_map(|rdn| rdn.0.iter())
        .find(|atv| atv.oid == COMMON_NAME)
        .and_then(|atv| match atv.value.tag() {
            Tag::Utf8String | Tag::PrintableString | Tag::Ia5String => {
                String::from_utf8(atv.value.value().to_vec()).ok()
            }
            _ => None,
        })
}

/// Reads the alternative names and basic constraints of `extensions` into `request`.
fn read_extensions(
    extensions: &[Extension],
    request: &mut CertificateRequest,
) -> Result<(), X509Error> {
    let bad = |_| X509Error::Der { what: "extension" };
    for extension in extensions {
        if extension.extn_id == SUBJECT_ALT_NAME {
            let names = SubjectAltName::from_der(extension.extn_value.as_bytes()).map_err(bad)?;
            for name in names.0 {
                match name {
                    GeneralName::DnsName(dns) => {
                        request.sans_dns.insert(dns.to_string());
                    }
                    GeneralName::IpAddress(octets) => {
                        let bytes = octets.as_bytes();
                        if let Ok(v4) = <[u8; 4]>::try_from(bytes) {
                            request.sans_ip.insert(IpAddr::from(v4));
                        } else if let Ok(v6) = <[u8; 16]>::try_from(bytes) {
                            request.sans_ip.insert(IpAddr::from(v6));
                        }
                    }
                    _ => {}
                }
            }
        } else if extension.extn_id == BASIC_CONSTRAINTS {
            let constraints =
                BasicConstraints::from_der(extension.extn_value.as_bytes()).map_err(bad)?;
            request.is_ca = constraints.ca;
        }
    }
    Ok(())
}

/// A random (version 4) UUID, in its text form.
fn uuid_v4() -> Result<String, X509Error> {
    let mut bytes = [0u8; 16];
    SystemRandom::new()
        .fill(&mut bytes)
        .map_err(|_| X509Error::Random)?;
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    Ok(format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    ))
}

/// Seconds since the Unix epoch as RFC 3339 (`2025-01-01T00:00:00Z`), the
/// form Juju takes for a secret's expiry (`None` past the year 9999).
pub(crate) fn rfc3339(seconds: u64) -> Option<String> {
    DateTime::from_unix_duration(Duration::from_secs(seconds))
        .ok()
        .map(|time| time.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn rfc3339_dates() {
        assert_eq!(rfc3339(0).unwrap(), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(951_782_400).unwrap(), "2000-02-29T00:00:00Z");
        assert_eq!(rfc3339(1_735_689_599).unwrap(), "2024-12-31T23:59:59Z");
        assert_eq!(rfc3339(4_102_444_800).unwrap(), "2100-01-01T00:00:00Z");
        assert_eq!(rfc3339(u64::MAX / 2), None);
    }

    #[test]
    fn uuids_are_version_4() {
        let id = uuid_v4().unwrap();
        assert_eq!(id.len(), 36);
        assert_eq!(&id[14..15], "4");
        assert_ne!(id, uuid_v4().unwrap());
    }

    #[test]
    fn a_csr_carries_the_request_and_the_key() {
        let key = PrivateKey::generate().unwrap();
        let request = CertificateRequest::new("unit-0")
            .with_sans_dns(["a.example", "b.example"])
            .with_sans_ip(["127.0.0.1".parse().unwrap(), "::1".parse().unwrap()]);
        let csr = Csr::generate(&request, &key).unwrap();
        assert!(
            csr.pem()
                .starts_with("-----BEGIN CERTIFICATE REQUEST-----\n")
        );
        assert!(csr.pem().ends_with("-----END CERTIFICATE REQUEST-----"));
        assert_eq!(csr.request(), &request);
        assert!(csr.matches_key(&key));
        assert!(!csr.matches_key(&PrivateKey::generate().unwrap()));
        let again = Csr::from_pem(csr.pem()).unwrap();
        assert_eq!(again, csr);
        // A unique identifier in each subject: two CSRs never match.
        assert_ne!(Csr::generate(&request, &key).unwrap().pem(), csr.pem());
        assert_eq!(csr.sha256_hex().len(), 64);
    }

    /// OpenSSL (what PgBouncer and most providers' tools use) checks the
    /// CSR's signature and reads the key, where it is installed.
    #[test]
    fn openssl_verifies_the_csr_and_reads_the_key() {
        let Ok(dir) = tempfile_dir() else { return };
        let key = PrivateKey::generate().unwrap();
        let request = CertificateRequest::new("unit-0").with_sans_dns(["localhost"]);
        let csr = Csr::generate(&request, &key).unwrap();
        let csr_path = dir.join("csr.pem");
        let key_path = dir.join("key.pem");
        std::fs::write(&csr_path, csr.pem()).unwrap();
        std::fs::write(&key_path, key.to_pem()).unwrap();
        let run = |args: &[&str]| std::process::Command::new("openssl").args(args).output();
        let Ok(verify) = run(&[
            "req",
            "-verify",
            "-noout",
            "-in",
            csr_path.to_str().unwrap(),
        ]) else {
            return; // no openssl here
        };
        // `openssl req -verify` exits 0 on a bad signature too: its words count.
        let said = format!(
            "{}{}",
            String::from_utf8_lossy(&verify.stdout),
            String::from_utf8_lossy(&verify.stderr)
        );
        assert!(
            verify.status.success() && said.contains("verify OK"),
            "{said}"
        );
        let read = run(&["pkey", "-noout", "-in", key_path.to_str().unwrap()]).unwrap();
        assert!(
            read.status.success(),
            "{}",
            String::from_utf8_lossy(&read.stderr)
        );
        let _ = std::fs::remove_dir_all(&dir);
    }

    fn tempfile_dir() -> std::io::Result<std::path::PathBuf> {
        let dir = std::env::temp_dir().join(format!("tls-certificates-{}", std::process::id()));
        std::fs::create_dir_all(&dir)?;
        Ok(dir)
    }

    #[test]
    fn the_key_round_trips_and_never_shows() {
        let key = PrivateKey::generate().unwrap();
        let pem = key.to_pem();
        assert!(pem.starts_with("-----BEGIN PRIVATE KEY-----\n"));
        let back = PrivateKey::from_pem(&pem).unwrap();
        assert_eq!(back.public_key_der(), key.public_key_der());
        assert_eq!(format!("{key:?}"), "PrivateKey(<redacted>)");
        let base64_line = pem.lines().nth(1).unwrap();
        assert!(!format!("{key:?}").contains(base64_line));
    }

    #[test]
    fn bad_requests_and_keys_are_refused() {
        let key = PrivateKey::generate().unwrap();
        assert!(Csr::generate(&CertificateRequest::new(""), &key).is_err());
        assert!(Csr::generate(&CertificateRequest::new("x".repeat(65)), &key).is_err());
        let unicode = CertificateRequest::new("u").with_sans_dns(["é.example"]);
        assert!(Csr::generate(&unicode, &key).is_err());
        let rsa_like = pem::encode("PRIVATE KEY", &[0x30, 0x03, 0x02, 0x01, 0x00]);
        assert_eq!(
            PrivateKey::from_pem(&rsa_like).unwrap_err(),
            X509Error::UnsupportedKey
        );
        assert!(Certificate::from_pem("not pem").is_err());
    }

    proptest! {
        #[test]
        fn prop_csr_and_certificate_parsers_never_panic(der in proptest::collection::vec(any::<u8>(), 0..400)) {
            let _ = Csr::from_pem(&pem::encode("CERTIFICATE REQUEST", &der));
            let _ = Certificate::from_pem(&pem::encode("CERTIFICATE", &der));
            let _ = PrivateKey::from_pem(&pem::encode("PRIVATE KEY", &der));
        }

        #[test]
        fn prop_csrs_keep_their_names(
            cn in "[a-z0-9-]{1,64}",
            dns in proptest::collection::btree_set("[a-z0-9.-]{1,40}", 0..5),
            ips in proptest::collection::btree_set(any::<std::net::Ipv4Addr>(), 0..3),
        ) {
            let key = PrivateKey::generate().unwrap();
            let request = CertificateRequest::new(cn)
                .with_sans_dns(dns)
                .with_sans_ip(ips.into_iter().map(IpAddr::V4));
            let csr = Csr::generate(&request, &key).unwrap();
            let back = Csr::from_pem(csr.pem()).unwrap();
            prop_assert_eq!(back.request(), &request);
        }
    }
}
