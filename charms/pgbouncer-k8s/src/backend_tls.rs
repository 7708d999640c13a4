//! TLS for the charm's own connections to the backend PostgreSQL.
//!
//! Charmed PostgreSQL with TLS on allows only `hostssl` connections, so the
//! charm's SQL must encrypt whenever the server offers it:
//! - with the CA the backend relation gives (`tls-ca`), the server's
//!   certificate is verified against it, host name included, and TLS is
//!   required;
//! - without one, as libpq's `sslmode=prefer`: TLS when the server offers
//!   it (its certificate not verified: nothing to verify it against), plain
//!   when it does not.
//!
//! rustls with the `ring` provider: no OpenSSL to link into a static
//! per-hook binary (measured in `docs/performance.md`).

use std::sync::Arc;

use postgres::config::SslMode;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, verify_tls12_signature, verify_tls13_signature};
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, ServerName, UnixTime};
use tokio_postgres_rustls::MakeRustlsConnect;

/// Why a CA could not be used.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// `tls-ca` holds no certificate that reads as one.
    #[error("the backend's tls-ca ({len} bytes) holds no usable certificate")]
    BadCa {
        /// Its length.
        len: usize,
    },
    /// rustls refused the configuration.
    #[error("cannot set up TLS to the backend: {0}")]
    Config(String),
}

/// Checks a CA (PEM) as the backend relation gives it: at least one
/// certificate, and nothing else that fails to read.
pub fn check_ca(pem: &str) -> Result<(), TlsError> {
    let mut certificates = 0;
    for cert in CertificateDer::pem_slice_iter(pem.as_bytes()) {
        cert.map_err(|_| TlsError::BadCa { len: pem.len() })?;
        certificates += 1;
    }
    if certificates == 0 {
        return Err(TlsError::BadCa { len: pem.len() });
    }
    Ok(())
}

/// The connector and the `sslmode` for a backend with `ca` (PEM), if any.
pub fn connector(ca: Option<&str>) -> Result<(MakeRustlsConnect, SslMode), TlsError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| TlsError::Config(e.to_string()))?;
    let (config, mode) = match ca {
        Some(pem) => {
            let mut roots = RootCertStore::empty();
            for cert in CertificateDer::pem_slice_iter(pem.as_bytes()).flatten() {
                roots
                    .add(cert)
                    .map_err(|_| TlsError::BadCa { len: pem.len() })?;
            }
            if roots.is_empty() {
                return Err(TlsError::BadCa { len: pem.len() });
            }
            (
                builder.with_root_certificates(roots).with_no_client_auth(),
                SslMode::Require,
            )
        }
        None => (
            builder
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(Unverified(provider)))
                .with_no_client_auth(),
            SslMode::Prefer,
        ),
    };
    Ok((MakeRustlsConnect::new(config), mode))
}

/// `sslmode=prefer`'s check of the server: none of its certificate (there
/// is no CA to check it against), but the handshake's signatures are
/// checked, so the session is encrypted to whoever holds the key.
#[derive(Debug)]
struct Unverified(Arc<CryptoProvider>);

impl ServerCertVerifier for Unverified {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_ca_that_is_not_one_is_a_clear_error_without_its_text() {
        for bad in [
            "",
            "not a certificate",
            "-----BEGIN CERTIFICATE-----\nzz\n-----END CERTIFICATE-----\n",
        ] {
            match connector(Some(bad)) {
                Err(e @ TlsError::BadCa { .. }) => assert!(!e.to_string().contains("zz")),
                Err(e) => panic!("{bad:?}: {e}"),
                Ok(_) => panic!("{bad:?} accepted"),
            }
        }
        assert!(matches!(connector(None), Ok((_, SslMode::Prefer))));
    }
}
