//! YAML, behind ops' own types: `charmcraft.yaml`, `metadata.yaml` and
//! Pebble layers are read and written here, and no YAML crate's type is
//! part of ops' API (the crate underneath can change without breaking a
//! charm).

/// A YAML document that could not be read or written: what was wrong and,
/// when known, where (1-based line and column).
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct YamlError {
    message: String,
    location: Option<(usize, usize)>,
}

impl YamlError {
    /// The 1-based line and column where reading stopped, when known.
    pub fn location(&self) -> Option<(usize, usize)> {
        self.location
    }

    /// A document that parsed but holds what its reader does not allow
    /// (such as a word a layer field does not take); no location.
    pub(crate) fn invalid(message: String) -> Self {
        Self {
            message,
            location: None,
        }
    }

    fn new(error: serde_norway::Error) -> Self {
        Self {
            message: error.to_string(),
            location: error.location().map(|l| (l.line(), l.column())),
        }
    }
}

/// Parses one YAML document into `T`.
pub(crate) fn from_str<T: serde::de::DeserializeOwned>(text: &str) -> Result<T, YamlError> {
    serde_norway::from_str(text).map_err(YamlError::new)
}

/// Renders `value` as a YAML document.
pub(crate) fn to_string<T: serde::Serialize>(value: &T) -> Result<String, YamlError> {
    serde_norway::to_string(value).map_err(YamlError::new)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_parse_error_says_where() {
        let err = from_str::<serde_json::Value>("a: 1\nb: [unclosed\n").unwrap_err();
        let (line, column) = err.location().expect("a location");
        assert!(line >= 2, "line {line}, column {column}: {err}");
        assert!(!err.to_string().is_empty());
    }

    #[test]
    fn a_type_error_names_what_was_expected() {
        let err = from_str::<std::collections::BTreeMap<String, u16>>("port: many\n").unwrap_err();
        assert!(err.to_string().contains("u16"), "{err}");
    }

    #[test]
    fn round_trip() {
        let value: serde_json::Value = from_str("a: [1, two]\n").unwrap();
        assert_eq!(value, serde_json::json!({"a": [1, "two"]}));
        assert_eq!(to_string(&value).unwrap(), "a:\n- 1\n- two\n");
    }
}
