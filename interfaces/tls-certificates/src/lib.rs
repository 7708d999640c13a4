//! The requirer side of Juju's `tls-certificates` interface, version 4: a
//! charm asks a certificate provider (`self-signed-certificates`,
//! `lego`, `manual-tls-certificates`, ...) for a certificate, and gets it
//! with its CA and chain.
//!
//! Everything on the wire and in Juju is as Canonical's charm library
//! `charms.tls_certificates_interface.v4.tls_certificates`
//! (`TLSCertificatesRequiresV4`, LIBPATCH 27) keeps it, so that a Rust
//! requirer and the library's providers understand each other, and a charm
//! rewritten from Python finds its key where the library left it:
//!
//! | where | key | value |
//! |---|---|---|
//! | our unit databag (unit mode) or app databag (app mode, leader) | `certificate_signing_requests` | `[{"certificate_signing_request": "<PEM>", "ca": false}]` ([`databag::requirer_value`]) |
//! | the provider's app databag | `certificates` | `[{"ca": "<PEM>", "certificate_signing_request": "<PEM>", "certificate": "<PEM>", "chain": ["<PEM>", ...], "revoked": false}]` (`chain`, `revoked` optional) |
//! | a secret this unit owns (the application, in app mode), label `<LIBID>-private-key-<unit number>-<endpoint>` (`<LIBID>-private-key-<endpoint>`) | `private-key` | the private key, PEM |
//! | a secret labelled `<LIBID>-certificate-<unit number>-<sha256 of the CSR>` (`<LIBID>-certificate-<sha256>`), expiring 90% of the way from when it was recorded to the certificate's end (the library's `calculate_relative_datetime`) | `certificate`, `csr` | the certificate and the CSR it answers |
//!
//! The private key never leaves its secret but for the charm that asks
//! ([`Assigned::private_key`], whose `Debug` is redacted): it is in no
//! databag, log or error. Keys made here are ECDSA P-256 (the library
//! makes RSA; providers sign either, see [`x509`]). A new CSR is sent when
//! there is none for the current request and key: at the first sync, when
//! the request changed (a new address in the alternative names), when the
//! key changed, and when the certificate's secret expired ([`Requirer::renew`]).
//!
//! What the provider sends is checked before it is used: JSON that is not
//! the list the library writes, a certificate or CA that is not PEM or not
//! X.509, a certificate for another key, a CA certificate where none was
//! asked for: each is a [`TlsError::Provider`] that names what is wrong,
//! never a panic and never the data itself.
//!
//! ```
//! use ops::events::RelationChanged;
//! use ops::{Charm, Ctx, Framework, HandlerError, HandlerResult};
//! use tls_certificates::{CertificateRequest, Requirer, TlsState};
//!
//! struct MyCharm;
//!
//! impl Charm for MyCharm {
//!     fn new(fw: &mut Framework<Self>) -> Result<Self, HandlerError> {
//!         fw.observe_relation("certificates", Self::on_certificates_changed)?;
//!         Ok(MyCharm)
//!     }
//! }
//!
//! impl MyCharm {
//!     fn on_certificates_changed(&mut self, _: &RelationChanged, ctx: &mut Ctx) -> HandlerResult {
//!         let model = ctx.model();
//!         let request = CertificateRequest::new("my-app-0")
//!             .with_sans_dns([format!("my-app.{}.svc.cluster.local", model.name())]);
//!         match Requirer::new("certificates", request).sync(model)? {
//!             TlsState::Issued(assigned) => {
//!                 let _certificate: &str = assigned.issued.certificate.pem();
//!                 let _key_pem = assigned.private_key.to_pem(); // for the workload's file only
//!                 let _trust: String = assigned.issued.ca_bundle();
//!             }
//!             _ => {} // requested, revoked, or no relation: no TLS yet
//!         }
//!         Ok(())
//!     }
//! }
//! ```

#![deny(missing_docs)]

pub mod databag;
pub mod pem;
mod requirer;
#[cfg(any(test, feature = "testing"))]
pub mod testing;
pub mod x509;

pub use databag::{Issued, ProviderDataError};
pub use requirer::{Assigned, Mode, Requirer, TlsError, TlsState};
pub use x509::{Certificate, CertificateRequest, Csr, PrivateKey, X509Error};

/// The interface name.
pub const INTERFACE: &str = "tls-certificates";
/// The endpoint name the library's users mostly pick.
pub const DEFAULT_ENDPOINT: &str = "certificates";
/// The library's id (`LIBID`): its secrets' labels start with it.
pub const LIBID: &str = "afd8c2bccf834997afce12c2706d2ede";
/// The field of the private key's secret.
pub const PRIVATE_KEY_FIELD: &str = "private-key";

#[cfg(test)]
mod harness_tests;
#[cfg(test)]
mod tests;
