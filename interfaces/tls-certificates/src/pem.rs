//! PEM: reading one object of a kind (decoding is rustls-pki-types'), and
//! writing one as OpenSSL and Python's `cryptography` do (64 base64
//! characters a line, `\n` line ends).

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use rustls_pki_types::pem::{self, PemObject};

/// Why a PEM text could not be read. Never carries the text: it may be a
/// remote application's, or a key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PemError {
    /// No `-----BEGIN <label>-----` section of the expected kind.
    #[error("no {label} in PEM")]
    Missing {
        /// The label looked for (`CERTIFICATE`, ...).
        label: &'static str,
    },
    /// A section is cut off, has a bad header or bad base64.
    #[error("malformed PEM ({label} expected)")]
    Malformed {
        /// The label looked for.
        label: &'static str,
    },
}

/// The DER of the first `label` object in `text`.
pub(crate) fn decode<T>(text: &str, label: &'static str) -> Result<T, PemError>
where
    T: PemObject,
{
    T::from_pem_slice(text.as_bytes()).map_err(|e| match e {
        pem::Error::NoItemsFound => PemError::Missing { label },
        _ => PemError::Malformed { label },
    })
}

/// Every `label` object in `text`, in order (a bundle).
pub(crate) fn decode_all<T>(text: &str, label: &'static str) -> Result<Vec<T>, PemError>
where
    T: PemObject,
{
    let all = T::pem_slice_iter(text.as_bytes())
        .collect::<Result<Vec<T>, _>>()
        .map_err(|_| PemError::Malformed { label })?;
    if all.is_empty() {
        return Err(PemError::Missing { label });
    }
    Ok(all)
}

/// `der` as a PEM section labelled `label`, without a trailing newline
/// (as the library's `str()` of a certificate or CSR: stripped).
pub(crate) fn encode(label: &str, der: &[u8]) -> String {
    let body = STANDARD.encode(der);
    let mut out = String::with_capacity(body.len() + body.len() / 64 + 2 * label.len() + 40);
    out.push_str("-----BEGIN ");
    out.push_str(label);
    out.push_str("-----\n");
    for line in body.as_bytes().chunks(64) {
        // base64 is ASCII: every chunk is valid UTF-8.
        out.push_str(std::str::from_utf8(line).unwrap_or_default());
        out.push('\n');
    }
    out.push_str("-----END ");
    out.push_str(label);
    out.push_str("-----");
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use rustls_pki_types::CertificateDer;

    #[test]
    fn lines_are_64_characters() {
        let text = encode("CERTIFICATE", &[7u8; 100]);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], "-----BEGIN CERTIFICATE-----");
        assert_eq!(lines[1].len(), 64);
        assert_eq!(lines.last(), Some(&"-----END CERTIFICATE-----"));
        let back: CertificateDer<'static> = decode(&text, "CERTIFICATE").unwrap();
        assert_eq!(back.as_ref(), &[7u8; 100]);
    }

    #[test]
    fn errors_name_the_kind_never_the_text() {
        let missing = decode::<CertificateDer<'static>>("hello", "CERTIFICATE").unwrap_err();
        assert_eq!(
            missing,
            PemError::Missing {
                label: "CERTIFICATE"
            }
        );
        let cut = "-----BEGIN CERTIFICATE-----\nAAAA\n";
        let e = decode::<CertificateDer<'static>>(cut, "CERTIFICATE").unwrap_err();
        assert_eq!(
            e,
            PemError::Malformed {
                label: "CERTIFICATE"
            }
        );
        assert!(!e.to_string().contains("AAAA"));
        assert!(decode_all::<CertificateDer<'static>>("", "CERTIFICATE").is_err());
    }

    proptest! {
        #[test]
        fn prop_pem_round_trips(der in proptest::collection::vec(any::<u8>(), 1..600)) {
            let text = encode("CERTIFICATE", &der);
            let back: CertificateDer<'static> = decode(&text, "CERTIFICATE").unwrap();
            prop_assert_eq!(back.as_ref(), der.as_slice());
            let two = format!("{text}\n{text}\n");
            let all: Vec<CertificateDer<'static>> = decode_all(&two, "CERTIFICATE").unwrap();
            prop_assert_eq!(all.len(), 2);
        }

        #[test]
        fn prop_pem_decode_never_panics(text in ".{0,300}") {
            let _ = decode::<CertificateDer<'static>>(&text, "CERTIFICATE");
            let _ = decode_all::<CertificateDer<'static>>(&text, "CERTIFICATE");
        }
    }
}
