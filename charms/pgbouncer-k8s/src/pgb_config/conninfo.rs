//! The connection string of a `[databases]` entry, [`ConnParams`]: parse
//! it as PgBouncer does, quote and render it, and check its parameters.

use std::fmt;

/// The parameters PgBouncer accepts in a `[databases]` connection string
/// (PgBouncer 1.18 and later); any other key is refused.
pub const CONN_PARAM_KEYS: [&str; 17] = [
    "dbname",
    "host",
    "port",
    "user",
    "password",
    "auth_user",
    "pool_size",
    "min_pool_size",
    "reserve_pool",
    "connect_query",
    "pool_mode",
    "max_db_connections",
    "client_encoding",
    "datestyle",
    "timezone",
    "application_name",
    "auth_dbname",
];

/// Which connection parameter an error is about: its name when it is one of
/// [`CONN_PARAM_KEYS`], else only its position (the text may be anything).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Param {
    /// The pair's position, from 0.
    pub index: usize,
    /// The key, if it is one PgBouncer knows.
    pub known: Option<&'static str>,
}

impl Param {
    fn new(index: usize, key: &str) -> Self {
        Self {
            index,
            known: known_param(key),
        }
    }
}

impl fmt::Display for Param {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.known {
            Some(key) => f.write_str(key),
            None => write!(f, "parameter {}", self.index + 1),
        }
    }
}

fn known_param(key: &str) -> Option<&'static str> {
    CONN_PARAM_KEYS.iter().copied().find(|k| *k == key)
}

/// What is wrong with a `[databases]` connection string. Messages name
/// known keys and positions, never values (a value may be a password) nor
/// unknown keys (they may be anything).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConnParamsError {
    /// Text that is not `key=value`.
    #[error("expected key=value at byte {at}")]
    NotKeyValue {
        /// Where the pair starts, in bytes from the start of the string.
        at: usize,
    },
    /// A single-quoted value without its closing quote.
    #[error("the quoted value of {param} is not closed")]
    UnterminatedQuote {
        /// The parameter.
        param: Param,
    },
    /// Text right after a closing quote.
    #[error("the quoted value of {param} is followed by text without a space")]
    TextAfterQuote {
        /// The parameter.
        param: Param,
    },
    /// An empty value, which PgBouncer rejects.
    #[error("{param} has an empty value")]
    EmptyValue {
        /// The parameter.
        param: Param,
    },
    /// The same key twice.
    #[error("{param} is given twice")]
    RepeatedKey {
        /// The parameter.
        param: Param,
    },
    /// A key PgBouncer does not know (see [`CONN_PARAM_KEYS`]).
    #[error("{param} ({len} bytes) is not a parameter PgBouncer knows")]
    UnknownKey {
        /// The parameter.
        param: Param,
        /// The key's length in bytes.
        len: usize,
    },
    /// A value with a character PgBouncer would read otherwise: a control
    /// character, non-ASCII, `\`, `"`, `;` or `#`.
    #[error("the value of {param} holds a character that is not allowed")]
    ForbiddenCharacter {
        /// The parameter.
        param: Param,
    },
}

/// The connection string of one `[databases]` entry: an ordered map of
/// parameter to value (`host=127.0.0.5 port=5432 dbname=app`).
///
/// Values with spaces or quotes are written single-quoted, with `''` for a
/// quote, as PgBouncer reads them. `Debug` hides the `password` value.
/// [`insert`](Self::insert) refuses what [`validate`](Self::validate) would.
///
/// ```
/// use pgbouncer_k8s::pgb_config::ConnParams;
///
/// let mut params = ConnParams::parse("host=127.0.0.5  dbname='my app'").unwrap();
/// assert_eq!(params.get("dbname"), Some("my app"));
/// params.insert("port", "5432").unwrap();
/// assert_eq!(params.render(), "host=127.0.0.5 dbname='my app' port=5432");
/// assert!(params.insert("port", "5432 host=127.0.0.66").is_ok()); // one quoted value
/// assert_eq!(params.get("port"), Some("5432 host=127.0.0.66"));
/// assert!(params.insert("port", "1\n[pgbouncer]").is_err());
/// assert!(params.insert("host x", "h").is_err());
/// ```
#[derive(Clone, PartialEq, Eq, Default)]
pub struct ConnParams {
    pairs: Vec<(String, String)>,
}

impl fmt::Debug for ConnParams {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map()
            .entries(self.pairs.iter().map(|(k, v)| {
                let shown = if k == "password" { "<hidden>" } else { v };
                (k, shown)
            }))
            .finish()
    }
}

fn quote_value(value: &str) -> String {
    if value.is_empty() || value.contains(|c: char| c.is_ascii_whitespace() || c == '\'') {
        format!("'{}'", value.replace('\'', "''"))
    } else {
        value.to_string()
    }
}

/// Whether a character may be in a connection parameter's value: printable
/// ASCII or a space, but not `\`, `"`, `;` or `#`.
fn is_value_char(c: char) -> bool {
    (c == ' ' || c.is_ascii_graphic()) && !matches!(c, '\\' | '"' | ';' | '#')
}

fn check_pair(index: usize, key: &str, value: &str) -> Result<(), ConnParamsError> {
    let param = Param::new(index, key);
    if param.known.is_none() {
        return Err(ConnParamsError::UnknownKey {
            param,
            len: key.len(),
        });
    }
    if value.is_empty() {
        return Err(ConnParamsError::EmptyValue { param });
    }
    if !value.chars().all(is_value_char) {
        return Err(ConnParamsError::ForbiddenCharacter { param });
    }
    Ok(())
}

impl ConnParams {
    /// No parameters.
    pub fn new() -> Self {
        Self::default()
    }

    /// Parameters from pairs, each checked as [`insert`](Self::insert) does;
    /// a later pair replaces an earlier one with the same key, in place.
    ///
    /// ```
    /// use pgbouncer_k8s::pgb_config::ConnParams;
    ///
    /// let params = ConnParams::from_pairs([("host", "h"), ("port", "1"), ("host", "i")]).unwrap();
    /// assert_eq!(params.render(), "host=i port=1");
    /// assert!(ConnParams::from_pairs([("hst", "h")]).is_err());
    /// ```
    pub fn from_pairs<K: AsRef<str>, V: AsRef<str>>(
        pairs: impl IntoIterator<Item = (K, V)>,
    ) -> Result<Self, ConnParamsError> {
        let mut params = Self::new();
        for (k, v) in pairs {
            params.insert(k.as_ref(), v.as_ref())?;
        }
        Ok(params)
    }

    /// Parses a connection string as PgBouncer does: pairs separated by
    /// whitespace, a value single-quoted (with `''` for a quote) or running
    /// to the next whitespace. Stricter than PgBouncer where it would guess:
    /// repeated keys and text glued to a closing quote are errors. It does
    /// not check keys and characters: [`validate`](Self::validate) does.
    pub fn parse(text: &str) -> Result<Self, ConnParamsError> {
        let mut params = Self::new();
        let mut rest = text;
        loop {
            rest = rest.trim_start_matches(|c: char| c.is_ascii_whitespace());
            if rest.is_empty() {
                return Ok(params);
            }
            let at = text.len() - rest.len();
            let key_end = rest
                .find(|c: char| c == '=' || c.is_ascii_whitespace())
                .unwrap_or(rest.len());
            let key = &rest[..key_end];
            let param = Param::new(params.pairs.len(), key);
            let after_key = rest[key_end..].trim_start_matches(|c: char| c.is_ascii_whitespace());
            let after_eq = match after_key.strip_prefix('=') {
                Some(after_eq) if !key.is_empty() => {
                    after_eq.trim_start_matches(|c: char| c.is_ascii_whitespace())
                }
                _ => return Err(ConnParamsError::NotKeyValue { at }),
            };
            let (value, remainder) = match after_eq.strip_prefix('\'') {
                Some(quoted) => unquote(param, quoted)?,
                None => {
                    let end = after_eq
                        .find(|c: char| c.is_ascii_whitespace())
                        .unwrap_or(after_eq.len());
                    (after_eq[..end].to_string(), &after_eq[end..])
                }
            };
            if value.is_empty() {
                return Err(ConnParamsError::EmptyValue { param });
            }
            if params.get(key).is_some() {
                return Err(ConnParamsError::RepeatedKey { param });
            }
            params.pairs.push((key.to_string(), value));
            rest = remainder;
        }
    }

    /// The connection string: `key=value` pairs in order, one space apart.
    pub fn render(&self) -> String {
        self.pairs
            .iter()
            .map(|(k, v)| format!("{k}={}", quote_value(v)))
            .collect::<Vec<_>>()
            .join(" ")
    }

    /// Whether every pair is one PgBouncer reads as meant: keys among
    /// [`CONN_PARAM_KEYS`], values non-empty printable ASCII without `\`,
    /// `"`, `;` or `#`.
    pub fn validate(&self) -> Result<(), ConnParamsError> {
        for (index, (key, value)) in self.pairs.iter().enumerate() {
            check_pair(index, key, value)?;
        }
        Ok(())
    }

    /// A parameter's value.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.pairs
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// Sets a parameter, in place if it is there (keeping the order), last
    /// otherwise; returns the value it replaced. Refuses (changing nothing)
    /// a key PgBouncer does not know or a value it would not read as meant.
    pub fn insert(&mut self, key: &str, value: &str) -> Result<Option<String>, ConnParamsError> {
        let index = self
            .pairs
            .iter()
            .position(|(k, _)| k == key)
            .unwrap_or(self.pairs.len());
        check_pair(index, key, value)?;
        Ok(match self.pairs.get_mut(index) {
            Some((_, v)) => Some(std::mem::replace(v, value.to_string())),
            None => {
                self.pairs.push((key.to_string(), value.to_string()));
                None
            }
        })
    }

    /// Removes a parameter; returns its value.
    pub fn remove(&mut self, key: &str) -> Option<String> {
        let i = self.pairs.iter().position(|(k, _)| k == key)?;
        Some(self.pairs.remove(i).1)
    }

    /// The pairs, in order.
    pub fn iter(&self) -> std::slice::Iter<'_, (String, String)> {
        self.pairs.iter()
    }

    /// How many parameters.
    pub fn len(&self) -> usize {
        self.pairs.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.pairs.is_empty()
    }
}

/// The value after an opening quote, and the text after the closing one.
fn unquote(param: Param, quoted: &str) -> Result<(String, &str), ConnParamsError> {
    let mut value = String::new();
    let mut chars = quoted.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        if c != '\'' {
            value.push(c);
        } else if chars.next_if(|&(_, next)| next == '\'').is_some() {
            value.push('\'');
        } else {
            let remainder = &quoted[i + 1..];
            if remainder.starts_with(|c: char| !c.is_ascii_whitespace()) {
                return Err(ConnParamsError::TextAfterQuote { param });
            }
            return Ok((value, remainder));
        }
    }
    Err(ConnParamsError::UnterminatedQuote { param })
}

impl<'a> IntoIterator for &'a ConnParams {
    type Item = &'a (String, String);
    type IntoIter = std::slice::Iter<'a, (String, String)>;

    fn into_iter(self) -> Self::IntoIter {
        self.iter()
    }
}

/// Inputs for the property tests of this file and of the ini files: text
/// with what PgBouncer's parsers care about, and the check that an error
/// holds none of it.
#[cfg(test)]
pub(super) mod strategies {
    use super::CONN_PARAM_KEYS;
    use crate::test_support::matching;
    use proptest::prelude::*;

    /// An 8-byte window of `input` (at char boundaries) found in `message`
    /// once the names of known parameters are taken out of it (those are the
    /// charm's vocabulary, not the input's).
    pub(crate) fn leaked<'a>(input: &'a str, message: &str) -> Option<&'a str> {
        let mut message = message.to_string();
        for key in CONN_PARAM_KEYS {
            message = message.replace(key, "");
        }
        crate::test_support::leaked(input, &message)
    }

    /// Text with what matters to PgBouncer's parsers: line breaks, `;`, `#`,
    /// `=`, brackets, both quotes, backslashes, blanks, unicode.
    pub(crate) fn tricky() -> impl Strategy<Value = String> {
        prop::collection::vec(
            prop_oneof![
                4 => matching("[a-z_]{1,6}"),
                1 => Just("\n".to_string()),
                1 => Just("\r".to_string()),
                1 => Just("\t".to_string()),
                1 => Just("\u{1}".to_string()),
                1 => Just("\u{7f}".to_string()),
                1 => Just("\u{85}".to_string()),
                1 => Just(";".to_string()),
                1 => Just("#".to_string()),
                1 => Just("=".to_string()),
                1 => Just("[".to_string()),
                1 => Just("]".to_string()),
                1 => Just("'".to_string()),
                1 => Just("\"".to_string()),
                1 => Just("\\".to_string()),
                1 => Just(" ".to_string()),
                1 => Just("é".to_string()),
                1 => Just("%".to_string()),
                1 => matching("\\PC"),
            ],
            0..10,
        )
        .prop_map(|parts| parts.concat())
    }

    pub(crate) fn param_key() -> impl Strategy<Value = String> {
        prop_oneof![
            3 => prop::sample::select(CONN_PARAM_KEYS.to_vec()).prop_map(str::to_string),
            1 => tricky(),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::strategies::{leaked, param_key, tricky};
    use super::*;
    use crate::test_support::matching;
    use proptest::prelude::*;

    #[test]
    fn conn_params_parse_like_pgbouncer() {
        let params =
            ConnParams::parse(" host = h\tport=5432  dbname='a b' password='it''s' x=''''")
                .unwrap();
        assert_eq!(
            params
                .iter()
                .map(|(k, v)| (k.as_str(), v.as_str()))
                .collect::<Vec<_>>(),
            [
                ("host", "h"),
                ("port", "5432"),
                ("dbname", "a b"),
                ("password", "it's"),
                ("x", "'")
            ]
        );
        assert_eq!(
            params.render(),
            "host=h port=5432 dbname='a b' password='it''s' x=''''"
        );
        // As in PgBouncer, whitespace after = is skipped.
        assert_eq!(ConnParams::parse("a= b").unwrap().get("a"), Some("b"));
        assert_eq!(ConnParams::parse("").unwrap(), ConnParams::new());
        assert_eq!(ConnParams::parse("   ").unwrap().len(), 0);
        assert_eq!(ConnParams::parse("a=x=y").unwrap().get("a"), Some("x=y"));
    }

    #[test]
    fn conn_params_errors() {
        let param = |index, known| Param { index, known };
        for (text, want) in [
            ("host", ConnParamsError::NotKeyValue { at: 0 }),
            ("a=1 =2", ConnParamsError::NotKeyValue { at: 4 }),
            ("a=1 b c=2", ConnParamsError::NotKeyValue { at: 4 }),
            (
                "host='x",
                ConnParamsError::UnterminatedQuote {
                    param: param(0, Some("host")),
                },
            ),
            (
                "port=1 unknown='x''",
                ConnParamsError::UnterminatedQuote {
                    param: param(1, None),
                },
            ),
            (
                "user='x'y",
                ConnParamsError::TextAfterQuote {
                    param: param(0, Some("user")),
                },
            ),
            (
                "a=",
                ConnParamsError::EmptyValue {
                    param: param(0, None),
                },
            ),
            (
                "dbname=''",
                ConnParamsError::EmptyValue {
                    param: param(0, Some("dbname")),
                },
            ),
            (
                "port=1 port=2",
                ConnParamsError::RepeatedKey {
                    param: param(1, Some("port")),
                },
            ),
        ] {
            assert_eq!(ConnParams::parse(text), Err(want), "{text:?}");
        }
        let parsed = ConnParams::parse("host='x\u{1}'").unwrap();
        assert_eq!(
            parsed.validate(),
            Err(ConnParamsError::ForbiddenCharacter {
                param: param(0, Some("host"))
            })
        );
        assert_eq!(
            ConnParamsError::UnknownKey {
                param: param(2, None),
                len: 5
            }
            .to_string(),
            "parameter 3 (5 bytes) is not a parameter PgBouncer knows"
        );
        assert_eq!(
            ConnParamsError::EmptyValue {
                param: param(0, Some("host"))
            }
            .to_string(),
            "host has an empty value"
        );
    }

    #[test]
    fn conn_params_are_an_ordered_map() {
        let mut params = ConnParams::from_pairs([("port", "1"), ("host", "2")]).unwrap();
        assert_eq!(params.insert("port", "3"), Ok(Some("1".to_string())));
        assert_eq!(params.insert("dbname", "4"), Ok(None));
        assert_eq!(params.render(), "port=3 host=2 dbname=4");
        let before = params.clone();
        assert!(params.insert("port", "5\n").is_err());
        assert!(params.insert("nope", "5").is_err());
        assert_eq!(params, before);
        assert_eq!(params.remove("host"), Some("2".to_string()));
        assert_eq!(params.remove("host"), None);
        assert_eq!(params.get("dbname"), Some("4"));
        assert_eq!(params.len(), 2);
        assert!(!params.is_empty());
        let keys: Vec<&str> = (&params).into_iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(keys, ["port", "dbname"]);
        params.insert("password", "pw").unwrap();
        assert_eq!(
            format!("{params:?}"),
            r#"{"port": "3", "dbname": "4", "password": "<hidden>"}"#
        );
    }

    proptest! {
        #![proptest_config(crate::test_support::proptest_config())]

        #[test]
        fn prop_connparams_roundtrip(pairs in prop::collection::vec((param_key(), prop_oneof![matching("[ -~]{0,10}"), tricky()]), 0..5)) {
            match ConnParams::from_pairs(pairs.iter().map(|(k, v)| (k.as_str(), v.as_str()))) {
                Ok(params) => {
                    params.validate().unwrap();
                    let rendered = params.render();
                    prop_assert!(!rendered.contains(|c: char| c.is_control()));
                    let back = ConnParams::parse(&rendered).unwrap();
                    prop_assert_eq!(&back, &params);
                    prop_assert_eq!(back.render(), rendered);
                }
                Err(e) => {
                    for (k, v) in &pairs {
                        prop_assert_eq!(leaked(k, &e.to_string()), None, "{}", e);
                        prop_assert_eq!(leaked(v, &e.to_string()), None, "{}", e);
                    }
                }
            }
        }
    }
}
