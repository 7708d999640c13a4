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

/// `value` as JSON that a YAML reader (libyaml's; Go's yaml.v3, with
/// which Juju reads a tool's `--file` and Pebble a layer) reads as JSON
/// does. JSON is YAML, and much cheaper to write than block YAML, but some
/// characters JSON writes raw YAML refuses ("control characters are not
/// allowed": DEL, the C1 controls, U+FFFE, U+FFFF) or reads as a line
/// break folded into a space (NEL, U+2028, U+2029); those are written as
/// `\uXXXX` escapes, which both read as the character. (JSON already
/// escapes the C0 controls.)
pub(crate) fn json_readable_as_yaml<T: serde::Serialize>(value: &T) -> serde_json::Result<String> {
    let json = serde_json::to_string(value)?;
    if yaml_readable_text(&json) {
        return Ok(json);
    }
    let mut escaped = String::with_capacity(json.len() + 16);
    for c in json.chars() {
        if yaml_readable(c) {
            escaped.push(c);
        } else {
            // Every refused character is below U+10000: one escape each.
            escaped.push_str(&format!("\\u{:04x}", u32::from(c)));
        }
    }
    Ok(escaped)
}

/// Whether YAML's reader (libyaml's, Go's) reads `c` raw in JSON text as
/// JSON does: in YAML 1.1's printable set and not one of its line breaks
/// that JSON does not escape (NEL, U+2028, U+2029). Shared with the test
/// kit's fake Juju, which reads `--file` as Juju does.
#[doc(hidden)]
pub fn yaml_readable(c: char) -> bool {
    matches!(
        u32::from(c),
        0x09 | 0x0A | 0x0D | 0x20..=0x7E | 0xA0..=0x2027 | 0x202A..=0xD7FF | 0xE000..=0xFFFD | 0x10000..
    )
}

/// Whether every character of `text` is [`yaml_readable`]. Printable ASCII,
/// tab, newline and carriage return are checked a byte at a time, the
/// usual case for state and layers sent as JSON (tens of kilobytes a
/// dispatch); decoding starts at the first other byte, which begins a
/// character since all before it are ASCII.
#[doc(hidden)]
pub fn yaml_readable_text(text: &str) -> bool {
    let ascii_readable = |b: u8| matches!(b, 0x20..=0x7E | b'\t' | b'\n' | b'\r');
    match text.bytes().position(|b| !ascii_readable(b)) {
        None => true,
        Some(at) => text[at..].chars().all(yaml_readable),
    }
}

/// Text for property tests of what is written for a YAML reader: often
/// the characters YAML refuses raw or reads as line breaks, and those
/// that mean something in YAML or JSON.
#[cfg(test)]
pub(crate) fn yaml_special_text() -> impl proptest::strategy::Strategy<Value = String> {
    use proptest::prelude::*;
    proptest::collection::vec(
        prop_oneof![
            Just('\u{7f}'),
            Just('\u{85}'),
            Just('\u{9f}'),
            Just('\u{2028}'),
            Just('\u{2029}'),
            Just('\u{feff}'),
            Just('\u{fffe}'),
            Just('\u{ffff}'),
            Just(':'),
            Just('"'),
            Just('\\'),
            Just('\n'),
            Just('\t'),
            Just('#'),
            Just('-'),
            any::<char>(),
        ],
        0..24,
    )
    .prop_map(|chars| chars.into_iter().collect())
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
    fn readable_text_is_checked_past_its_ascii() {
        assert!(yaml_readable_text(""));
        assert!(yaml_readable_text("a: 1\n\tb\r\n"));
        assert!(yaml_readable_text("caf\u{e9} \u{1f600}"));
        assert!(!yaml_readable_text("a\u{7f}"));
        assert!(!yaml_readable_text("\u{1}"));
        assert!(!yaml_readable_text("caf\u{e9}\u{85}"));
        assert!(!yaml_readable_text("\u{e9}abc\u{2028}"));
    }

    proptest::proptest! {
        #[test]
        fn prop_readable_text_is_every_character_readable(
            text in proptest::prop_oneof![yaml_special_text(), ".{0,40}"],
        ) {
            proptest::prop_assert_eq!(yaml_readable_text(&text), text.chars().all(yaml_readable));
        }
    }

    #[test]
    fn round_trip() {
        let value: serde_json::Value = from_str("a: [1, two]\n").unwrap();
        assert_eq!(value, serde_json::json!({"a": [1, "two"]}));
        assert_eq!(to_string(&value).unwrap(), "a:\n- 1\n- two\n");
    }

    /// A layer as Pebble is sent it (JSON for YAML) reads back as the same
    /// layer through a YAML reader, whatever its strings hold.
    mod layers_as_json {
        use super::*;
        use crate::pebble::{Layer, Service, ServiceStartup};
        use proptest::prelude::*;

        proptest! {
            #[test]
            fn prop_a_layer_written_as_json_reads_back_as_yaml(
                summary in yaml_special_text(),
                command in yaml_special_text(),
                environment in proptest::collection::btree_map(yaml_special_text(), yaml_special_text(), 0..4),
                user_id in proptest::option::of(any::<u32>()),
            ) {
                let mut layer = Layer { summary: Some(summary), ..Default::default() };
                layer.services.insert(
                    "svc".to_string(),
                    Service {
                        command: Some(command),
                        startup: Some(ServiceStartup::Enabled),
                        environment,
                        user_id,
                        ..Default::default()
                    },
                );
                let sent = json_readable_as_yaml(&layer).unwrap();
                prop_assert!(sent.chars().all(yaml_readable), "{sent:?}");
                prop_assert_eq!(Layer::from_yaml(&sent).unwrap(), layer);
            }
        }
    }
}
