//! The checks every remote value goes through before it is handed to a
//! charm: each is outside input (the other application wrote it), so a
//! refusal names the field and the value's length, never the value.

use std::fmt;

/// Why a remote value was refused. Names the field, never its value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FieldError {
    /// Longer than the interface allows.
    #[error("{field} ({len} bytes) is longer than {max} bytes")]
    TooLong {
        /// The databag key (or secret key).
        field: &'static str,
        /// The value's length.
        len: usize,
        /// The longest allowed.
        max: usize,
    },
    /// Holds a control character (a line break where one is not allowed,
    /// a NUL, an escape sequence).
    #[error("{field} ({len} bytes) holds a control character")]
    ControlCharacter {
        /// The databag key (or secret key).
        field: &'static str,
        /// The value's length.
        len: usize,
    },
    /// Not in the field's format.
    #[error("{field} ({len} bytes) is not {expected}")]
    Format {
        /// The databag key (or secret key).
        field: &'static str,
        /// The value's length.
        len: usize,
        /// What it should be.
        expected: &'static str,
    },
}

/// One `host:port` of `endpoints` or `read-only-endpoints`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Endpoint {
    /// A host name, an IPv4 address, or an IPv6 address in brackets.
    pub host: String,
    /// The port.
    pub port: u16,
}

impl Endpoint {
    /// `host:port`.
    pub fn new(host: impl Into<String>, port: u16) -> Self {
        Self {
            host: host.into(),
            port,
        }
    }
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.host, self.port)
    }
}

/// The longest host name DNS allows.
const MAX_HOST: usize = 253;
/// How many endpoints a list may hold (a database with more replicas than
/// this is not one a charm can list in a databag anyway).
const MAX_ENDPOINTS: usize = 256;

/// `host:port[,host:port...]` as the library's providers write it
/// (`set_endpoints`, `set_read_only_endpoints`). An empty value is no
/// endpoint.
pub(crate) fn endpoints(field: &'static str, value: &str) -> Result<Vec<Endpoint>, FieldError> {
    let bad = || FieldError::Format {
        field,
        len: value.len(),
        expected: "a comma-separated list of host:port",
    };
    if value.is_empty() {
        return Ok(Vec::new());
    }
    let list: Vec<&str> = value.split(',').map(str::trim).collect();
    if list.len() > MAX_ENDPOINTS {
        return Err(FieldError::Format {
            field,
            len: value.len(),
            expected: "a list of at most 256 host:port",
        });
    }
    list.into_iter()
        .map(|one| {
            let (host, port) = one.rsplit_once(':').ok_or_else(bad)?;
            let port: u16 = port
                .parse()
                .ok()
                .filter(|p| *p != 0 && port.bytes().all(|b| b.is_ascii_digit()))
                .ok_or_else(bad)?;
            if !is_host(host) {
                return Err(bad());
            }
            Ok(Endpoint::new(host, port))
        })
        .collect()
}

/// A DNS name or IPv4 address (`[A-Za-z0-9._-]`, not starting with `-`), or
/// an IPv6 address in brackets.
fn is_host(host: &str) -> bool {
    if let Some(inner) = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
        return !inner.is_empty()
            && inner.len() <= 45
            && inner
                .bytes()
                .all(|b| b.is_ascii_hexdigit() || b == b':' || b == b'.');
    }
    !host.is_empty()
        && host.len() <= MAX_HOST
        && !host.starts_with('-')
        && host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_'))
}

/// A value of at most `max` bytes without control characters (a PEM
/// certificate may have `multiline`: line breaks and tabs are allowed).
pub(crate) fn text(
    field: &'static str,
    value: &str,
    max: usize,
    multiline: bool,
) -> Result<(), FieldError> {
    if value.len() > max {
        return Err(FieldError::TooLong {
            field,
            len: value.len(),
            max,
        });
    }
    let allowed = |c: char| multiline && matches!(c, '\n' | '\r' | '\t');
    if value.chars().any(|c| c.is_control() && !allowed(c)) {
        return Err(FieldError::ControlCharacter {
            field,
            len: value.len(),
        });
    }
    Ok(())
}

/// A non-empty [`text`] on one line.
pub(crate) fn name(field: &'static str, value: &str, max: usize) -> Result<(), FieldError> {
    if value.is_empty() {
        return Err(FieldError::Format {
            field,
            len: 0,
            expected: "a non-empty name",
        });
    }
    text(field, value, max, false)
}

/// A JSON list of strings (`requested-secrets`), as the library encodes it.
pub(crate) fn string_list(field: &'static str, value: &str) -> Result<Vec<String>, FieldError> {
    text(field, value, MAX_LIST, false)?;
    let list: Vec<String> = serde_json::from_str(value).map_err(|_| FieldError::Format {
        field,
        len: value.len(),
        expected: "a JSON list of strings",
    })?;
    for item in &list {
        text(field, item, MAX_LIST, false)?;
    }
    Ok(list)
}

/// The longest JSON list accepted.
const MAX_LIST: usize = 4096;

/// A list of strings as Python's `json.dumps` writes it (`["a", "b"]`),
/// so that the databag holds what the library would have written.
pub(crate) fn python_json_list(items: &[String]) -> String {
    let quoted: Vec<String> = items
        .iter()
        .map(|item| serde_json::Value::from(item.as_str()).to_string())
        .collect();
    format!("[{}]", quoted.join(", "))
}

/// A PostgreSQL identifier's longest length in bytes (`NAMEDATALEN` - 1):
/// a database or user name.
pub(crate) const MAX_IDENTIFIER: usize = 63;
/// The longest password accepted.
pub(crate) const MAX_PASSWORD: usize = 1024;
/// The longest URI list, role list or version accepted.
pub(crate) const MAX_SHORT_TEXT: usize = 4096;
/// The longest CA bundle accepted.
pub(crate) const MAX_CA: usize = 64 * 1024;
