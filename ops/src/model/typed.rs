//! Typed views of string-keyed maps: databags, config, action parameters.
//!
//! A databag holds strings. A typed databag stores a `String` field as it is
//! and every other value (numbers, booleans, lists, maps) as JSON text; `None`
//! deletes its key. Reading is a serde [`Deserializer`](de::Deserializer) over
//! the map whose per-value deserializer hands the raw text to
//! `deserialize_str`/`deserialize_string` and parses JSON for everything else,
//! so `"123"` reads as both a `String` and a `u32`.
//!
//! Config and action parameters are JSON already; they go through the same
//! map deserializer so that every error names the key that did not fit.

use std::collections::BTreeMap;
use std::fmt;

use serde::de::{self, DeserializeOwned, DeserializeSeed, IntoDeserializer, MapAccess, Visitor};
use serde::forward_to_deserialize_any;
use serde_json::Value;

/// A deserialization error, and the field serde reported missing, if that was it.
#[derive(Debug)]
pub(crate) struct FieldError {
    message: String,
    missing: Option<&'static str>,
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for FieldError {}

impl de::Error for FieldError {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        Self {
            message: msg.to_string(),
            missing: None,
        }
    }

    fn missing_field(field: &'static str) -> Self {
        Self {
            message: format!("missing field `{field}`"),
            missing: Some(field),
        }
    }
}

/// Which key a failed deserialization was about, and why.
#[derive(Debug, PartialEq)]
pub(crate) struct KeyError {
    /// The key; empty when no key is to blame.
    pub(crate) key: String,
    /// serde's message.
    pub(crate) reason: String,
}

/// A struct as a databag: strings raw, other values JSON; `None` for a key to delete.
pub(crate) fn to_map<T: serde::Serialize>(
    value: &T,
) -> Result<BTreeMap<String, Option<String>>, KeyError> {
    let json = serde_json::to_value(value).map_err(|e| KeyError {
        key: String::new(),
        reason: crate::redact::serde_reason(&e.to_string()),
    })?;
    let Value::Object(fields) = json else {
        return Err(KeyError {
            key: String::new(),
            reason: format!(
                "a databag holds a struct or a map, not {}",
                crate::redact::json_kind(&json)
            ),
        });
    };
    Ok(fields
        .into_iter()
        .map(|(k, v)| {
            let text = match v {
                Value::Null => None,
                Value::String(s) => Some(s),
                other => Some(other.to_string()),
            };
            (k, text)
        })
        .collect())
}

/// A databag as a struct; the error names the key that did not fit.
pub(crate) fn from_bag<T: DeserializeOwned>(map: &BTreeMap<String, String>) -> Result<T, KeyError> {
    from_entries(map.iter().map(|(k, v)| (k.as_str(), RawText(v))))
}

/// A JSON map (config, action parameters) as a struct; the error names the key.
pub(crate) fn from_json_map<T: DeserializeOwned>(
    map: &serde_json::Map<String, Value>,
) -> Result<T, KeyError> {
    from_entries(map.iter().map(|(k, v)| (k.as_str(), v)))
}

fn from_entries<'a, T, V, I>(entries: I) -> Result<T, KeyError>
where
    T: DeserializeOwned,
    V: FieldValue<'a>,
    I: Iterator<Item = (&'a str, V)>,
{
    let mut current = None;
    let result = T::deserialize(KeyedMap {
        entries,
        value: None,
        current: &mut current,
    });
    result.map_err(|e| KeyError {
        key: current
            .map(str::to_string)
            .or(e.missing.map(str::to_string))
            .unwrap_or_default(),
        // serde quotes values in its messages; a databag value may be a credential.
        reason: crate::redact::serde_reason(&e.message),
    })
}

/// One value of a keyed map, able to deserialize itself into a field.
trait FieldValue<'de> {
    fn deserialize_seed<S: DeserializeSeed<'de>>(self, seed: S) -> Result<S::Value, FieldError>;
}

/// A databag value: raw for strings, JSON for the rest.
struct RawText<'a>(&'a str);

impl<'de> FieldValue<'de> for RawText<'de> {
    fn deserialize_seed<S: DeserializeSeed<'de>>(self, seed: S) -> Result<S::Value, FieldError> {
        seed.deserialize(RawValue { raw: self.0 })
    }
}

impl<'de> FieldValue<'de> for &'de Value {
    fn deserialize_seed<S: DeserializeSeed<'de>>(self, seed: S) -> Result<S::Value, FieldError> {
        seed.deserialize(self).map_err(de::Error::custom)
    }
}

/// The whole map, remembering the key being read.
struct KeyedMap<'a, 'c, I, F> {
    entries: I,
    value: Option<F>,
    current: &'c mut Option<&'a str>,
}

impl<'de, 'c, I, F> de::Deserializer<'de> for KeyedMap<'de, 'c, I, F>
where
    I: Iterator<Item = (&'de str, F)>,
    F: FieldValue<'de>,
{
    type Error = FieldError;

    fn deserialize_any<W: Visitor<'de>>(self, visitor: W) -> Result<W::Value, FieldError> {
        visitor.visit_map(self)
    }

    forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
        bytes byte_buf option unit unit_struct newtype_struct seq tuple
        tuple_struct map struct enum identifier ignored_any
    }
}

impl<'de, 'c, I, F> MapAccess<'de> for KeyedMap<'de, 'c, I, F>
where
    I: Iterator<Item = (&'de str, F)>,
    F: FieldValue<'de>,
{
    type Error = FieldError;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, FieldError> {
        match self.entries.next() {
            Some((key, value)) => {
                *self.current = Some(key);
                self.value = Some(value);
                seed.deserialize(key.into_deserializer()).map(Some)
            }
            None => {
                // Errors after the last key (a missing field) blame no read key.
                *self.current = None;
                Ok(None)
            }
        }
    }

    fn next_value_seed<S: DeserializeSeed<'de>>(
        &mut self,
        seed: S,
    ) -> Result<S::Value, FieldError> {
        let value = self
            .value
            .take()
            .ok_or_else(|| de::Error::custom("a value was asked for before its key"))?;
        // A nested "missing field" is about the value of this key, not a key of the map.
        value
            .deserialize_seed(seed)
            .map_err(|e| FieldError { missing: None, ..e })
    }
}

/// One databag value.
struct RawValue<'a> {
    raw: &'a str,
}

impl RawValue<'_> {
    fn json(&self) -> Result<Value, FieldError> {
        serde_json::from_str(self.raw)
            .map_err(|e| de::Error::custom(format!("the value is not valid JSON: {e}")))
    }

    /// The JSON value, unless the text is not JSON or is a JSON string (a raw string then).
    fn non_string_json(&self) -> Option<Value> {
        serde_json::from_str::<Value>(self.raw)
            .ok()
            .filter(|v| !v.is_string())
    }
}

macro_rules! via_json {
    ($($method:ident)*) => {
        $(fn $method<W: Visitor<'de>>(self, visitor: W) -> Result<W::Value, FieldError> {
            self.json()?.$method(visitor).map_err(de::Error::custom)
        })*
    };
}

impl<'de> de::Deserializer<'de> for RawValue<'de> {
    type Error = FieldError;

    fn deserialize_any<W: Visitor<'de>>(self, visitor: W) -> Result<W::Value, FieldError> {
        match self.non_string_json() {
            Some(value) => value.deserialize_any(visitor).map_err(de::Error::custom),
            None => visitor.visit_borrowed_str(self.raw),
        }
    }

    fn deserialize_str<W: Visitor<'de>>(self, visitor: W) -> Result<W::Value, FieldError> {
        visitor.visit_borrowed_str(self.raw)
    }

    fn deserialize_string<W: Visitor<'de>>(self, visitor: W) -> Result<W::Value, FieldError> {
        visitor.visit_borrowed_str(self.raw)
    }

    fn deserialize_char<W: Visitor<'de>>(self, visitor: W) -> Result<W::Value, FieldError> {
        visitor.visit_borrowed_str(self.raw)
    }

    fn deserialize_identifier<W: Visitor<'de>>(self, visitor: W) -> Result<W::Value, FieldError> {
        visitor.visit_borrowed_str(self.raw)
    }

    fn deserialize_option<W: Visitor<'de>>(self, visitor: W) -> Result<W::Value, FieldError> {
        // A stored key is always a value: `None` is stored by deleting the key.
        visitor.visit_some(self)
    }

    fn deserialize_newtype_struct<W: Visitor<'de>>(
        self,
        _: &'static str,
        visitor: W,
    ) -> Result<W::Value, FieldError> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_enum<W: Visitor<'de>>(
        self,
        name: &'static str,
        variants: &'static [&'static str],
        visitor: W,
    ) -> Result<W::Value, FieldError> {
        match self.non_string_json() {
            Some(value) => value
                .deserialize_enum(name, variants, visitor)
                .map_err(de::Error::custom),
            // A unit variant is stored as its name, raw.
            None => visitor.visit_enum(self.raw.into_deserializer()),
        }
    }

    fn deserialize_f64<W: Visitor<'de>>(self, visitor: W) -> Result<W::Value, FieldError> {
        let value = self.json()?;
        // serde_json's float parsing may land one unit in the last place
        // off what `to_map` printed; Rust's own parsing is exact.
        let exact = self.raw.trim().parse::<f64>().ok();
        if let Some(exact) = exact.filter(|f| value.is_number() && f.is_finite()) {
            return visitor.visit_f64(exact);
        }
        value.deserialize_f64(visitor).map_err(de::Error::custom)
    }

    fn deserialize_ignored_any<W: Visitor<'de>>(self, visitor: W) -> Result<W::Value, FieldError> {
        // Keys the struct does not know may hold anything, JSON or not.
        visitor.visit_unit()
    }

    fn deserialize_unit_struct<W: Visitor<'de>>(
        self,
        _: &'static str,
        visitor: W,
    ) -> Result<W::Value, FieldError> {
        self.deserialize_unit(visitor)
    }

    fn deserialize_tuple<W: Visitor<'de>>(
        self,
        _: usize,
        visitor: W,
    ) -> Result<W::Value, FieldError> {
        self.deserialize_seq(visitor)
    }

    fn deserialize_tuple_struct<W: Visitor<'de>>(
        self,
        _: &'static str,
        _: usize,
        visitor: W,
    ) -> Result<W::Value, FieldError> {
        self.deserialize_seq(visitor)
    }

    fn deserialize_struct<W: Visitor<'de>>(
        self,
        _: &'static str,
        _: &'static [&'static str],
        visitor: W,
    ) -> Result<W::Value, FieldError> {
        self.deserialize_map(visitor)
    }

    via_json! {
        deserialize_bool deserialize_i8 deserialize_i16 deserialize_i32 deserialize_i64
        deserialize_i128 deserialize_u8 deserialize_u16 deserialize_u32 deserialize_u64
        deserialize_u128 deserialize_f32 deserialize_bytes deserialize_byte_buf
        deserialize_unit deserialize_seq deserialize_map
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::{Deserialize, Serialize};
    use serde_json::json;

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    #[serde(rename_all = "kebab-case")]
    enum Mode {
        Session,
        Transaction,
    }

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct Peer {
        host: String,
        port: u16,
        tags: Vec<String>,
        note: Option<String>,
        #[serde(default)]
        ready: bool,
        mode: Mode,
        ratio: f64,
    }

    fn peer() -> Peer {
        Peer {
            host: "db-0".into(),
            port: 5432,
            tags: vec!["a".into(), "b c".into()],
            note: None,
            ready: true,
            mode: Mode::Transaction,
            ratio: 0.25,
        }
    }

    fn stored(map: BTreeMap<String, Option<String>>) -> BTreeMap<String, String> {
        map.into_iter()
            .filter_map(|(k, v)| v.map(|v| (k, v)))
            .collect()
    }

    fn bag(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn strings_are_stored_raw_and_other_values_as_json() {
        let map = to_map(&peer()).unwrap();
        assert_eq!(map["host"].as_deref(), Some("db-0"));
        assert_eq!(map["port"].as_deref(), Some("5432"));
        assert_eq!(map["tags"].as_deref(), Some(r#"["a","b c"]"#));
        assert_eq!(map["ready"].as_deref(), Some("true"));
        assert_eq!(map["mode"].as_deref(), Some("transaction"));
        assert_eq!(map["ratio"].as_deref(), Some("0.25"));
        assert_eq!(map["note"], None, "None is a key to delete");
    }

    /// Found by `prop_typed_flat_struct_round_trips`: serde_json read
    /// this back one unit in the last place off.
    #[test]
    fn floats_read_back_exactly() {
        #[derive(Debug, PartialEq, Serialize, Deserialize)]
        struct Ratio {
            ratio: f64,
        }
        let value = Ratio {
            ratio: 1.1651153129638516e287,
        };
        let map = stored(to_map(&value).unwrap());
        assert_eq!(from_bag::<Ratio>(&map).unwrap(), value);
    }

    #[test]
    fn round_trip() {
        assert_eq!(
            from_bag::<Peer>(&stored(to_map(&peer()).unwrap())).unwrap(),
            peer()
        );
        let with_note = Peer {
            note: Some("42".into()),
            ..peer()
        };
        let map = stored(to_map(&with_note).unwrap());
        assert_eq!(map["note"], "42");
        assert_eq!(from_bag::<Peer>(&map).unwrap(), with_note);
    }

    #[test]
    fn numeric_text_reads_as_string_and_as_number() {
        #[derive(Deserialize)]
        struct AsString {
            id: String,
            flag: String,
        }
        #[derive(Deserialize)]
        struct AsNumber {
            id: u32,
            flag: bool,
        }
        let map = bag(&[("id", "123"), ("flag", "true")]);
        let s = from_bag::<AsString>(&map).unwrap();
        assert_eq!((s.id.as_str(), s.flag.as_str()), ("123", "true"));
        let n = from_bag::<AsNumber>(&map).unwrap();
        assert_eq!((n.id, n.flag), (123, true));
    }

    #[test]
    fn json_looking_strings_stay_raw() {
        #[derive(Debug, PartialEq, Serialize, Deserialize)]
        struct Quoted {
            text: String,
        }
        let value = Quoted {
            text: r#""quoted" {not json"#.into(),
        };
        let map = stored(to_map(&value).unwrap());
        assert_eq!(map["text"], r#""quoted" {not json"#);
        assert_eq!(from_bag::<Quoted>(&map).unwrap(), value);
    }

    #[test]
    fn a_bad_value_names_its_key() {
        let mut map = stored(to_map(&peer()).unwrap());
        map.insert("port".into(), "not-a-port".into());
        let err = from_bag::<Peer>(&map).unwrap_err();
        assert_eq!(err.key, "port");
        assert!(!err.reason.contains("not-a-port"), "{}", err.reason);

        let mut map = stored(to_map(&peer()).unwrap());
        map.insert("mode".into(), "statement".into());
        assert_eq!(from_bag::<Peer>(&map).unwrap_err().key, "mode");
    }

    #[test]
    fn a_missing_key_is_named() {
        let mut map = stored(to_map(&peer()).unwrap());
        map.remove("port");
        let err = from_bag::<Peer>(&map).unwrap_err();
        assert_eq!(err.key, "port");
        assert!(err.reason.contains("missing field"), "{}", err.reason);
    }

    #[test]
    fn unknown_keys_with_any_text_are_ignored() {
        let mut map = stored(to_map(&peer()).unwrap());
        map.insert("ingress-address".into(), "127.0.0.1".into());
        map.insert("egress-subnets".into(), "{not json".into());
        assert_eq!(from_bag::<Peer>(&map).unwrap(), peer());
    }

    #[test]
    fn a_map_of_strings_and_values() {
        let map = bag(&[("a", "1"), ("b", "x")]);
        let strings: BTreeMap<String, String> = from_bag(&map).unwrap();
        assert_eq!(strings, map);
        let values: BTreeMap<String, Value> = from_bag(&map).unwrap();
        assert_eq!(values["a"], json!(1));
        assert_eq!(values["b"], json!("x"));
    }

    #[test]
    fn only_structs_and_maps_are_stored() {
        let err = to_map(&5).unwrap_err();
        assert_eq!(err.key, "");
        assert!(err.reason.contains("struct or a map"), "{}", err.reason);
    }

    #[test]
    fn json_maps_name_the_key_that_does_not_fit() {
        #[derive(Debug, Deserialize)]
        #[allow(dead_code)]
        struct Options {
            port: u16,
            mode: String,
        }
        let bad = json!({"port": "6432", "mode": "session"});
        let err = from_json_map::<Options>(bad.as_object().unwrap()).unwrap_err();
        assert_eq!(err.key, "port");
        assert!(err.reason.contains("invalid type"), "{}", err.reason);
        let missing = json!({"port": 6432});
        let err = from_json_map::<Options>(missing.as_object().unwrap()).unwrap_err();
        assert_eq!(err.key, "mode");
    }

    #[test]
    fn a_nested_missing_field_blames_the_outer_key() {
        #[derive(Debug, Deserialize)]
        #[allow(dead_code)]
        struct Inner {
            x: u8,
        }
        #[derive(Debug, Deserialize)]
        #[allow(dead_code)]
        struct Outer {
            inner: Inner,
        }
        let map = bag(&[("inner", "{}")]);
        let err = from_bag::<Outer>(&map).unwrap_err();
        assert_eq!(err.key, "inner");
        assert!(err.reason.contains("missing field `x`"), "{}", err.reason);
    }
}

#[cfg(test)]
mod prop_tests {
    //! Properties of typed databags: what `to_map` stores, `from_bag` reads
    //! back, and a bag that does not fit is an error that shows no value.

    use super::*;
    use proptest::prelude::*;
    use serde::{Deserialize, Serialize};

    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
    #[serde(rename_all = "kebab-case")]
    enum Mode {
        Session,
        Transaction,
        Statement,
    }

    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
    struct Flat {
        name: String,
        port: u16,
        offset: i64,
        ratio: f64,
        ready: bool,
        initial: char,
        note: Option<String>,
        count: Option<u64>,
        mode: Mode,
    }

    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
    struct Inner {
        host: String,
        ports: Vec<u16>,
        labels: BTreeMap<String, String>,
    }

    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
    #[serde(rename_all = "kebab-case")]
    struct Nested {
        tags: Vec<String>,
        inner: Inner,
        maybe_inner: Option<Inner>,
        by_name: BTreeMap<String, Vec<bool>>,
        maybe_list: Option<Vec<String>>,
        pair: (String, u32),
    }

    /// Strings that look like JSON, or like nothing, or are empty.
    fn text() -> impl Strategy<Value = String> {
        prop_oneof![
            Just(String::new()),
            Just("null".to_string()),
            Just("true".to_string()),
            Just("123".to_string()),
            Just("-1.5e3".to_string()),
            Just("[1,2]".to_string()),
            Just("{\"a\":1}".to_string()),
            Just("\"quoted\"".to_string()),
            "[ -~]{0,20}",
            "\\PC{0,12}",
        ]
    }

    fn finite() -> impl Strategy<Value = f64> {
        prop_oneof![
            any::<f64>().prop_filter("finite", |f| f.is_finite()),
            (-1000i32..1000).prop_map(|n| f64::from(n) / 8.0),
        ]
    }

    fn mode() -> impl Strategy<Value = Mode> {
        prop_oneof![
            Just(Mode::Session),
            Just(Mode::Transaction),
            Just(Mode::Statement)
        ]
    }

    fn flat() -> impl Strategy<Value = Flat> {
        (
            (text(), any::<u16>(), any::<i64>(), finite(), any::<bool>()),
            (
                any::<char>(),
                proptest::option::of(text()),
                proptest::option::of(any::<u64>()),
                mode(),
            ),
        )
            .prop_map(
                |((name, port, offset, ratio, ready), (initial, note, count, mode))| Flat {
                    name,
                    port,
                    offset,
                    ratio,
                    ready,
                    initial,
                    note,
                    count,
                    mode,
                },
            )
    }

    fn inner() -> impl Strategy<Value = Inner> {
        (
            text(),
            proptest::collection::vec(any::<u16>(), 0..4),
            proptest::collection::btree_map(text(), text(), 0..4),
        )
            .prop_map(|(host, ports, labels)| Inner {
                host,
                ports,
                labels,
            })
    }

    fn nested() -> impl Strategy<Value = Nested> {
        (
            proptest::collection::vec(text(), 0..4),
            inner(),
            proptest::option::of(inner()),
            proptest::collection::btree_map(
                text(),
                proptest::collection::vec(any::<bool>(), 0..3),
                0..3,
            ),
            proptest::option::of(proptest::collection::vec(text(), 0..3)),
            (text(), any::<u32>()),
        )
            .prop_map(
                |(tags, inner, maybe_inner, by_name, maybe_list, pair)| Nested {
                    tags,
                    inner,
                    maybe_inner,
                    by_name,
                    maybe_list,
                    pair,
                },
            )
    }

    /// The bag Juju would hold after `to_map`: `None` deletes its key.
    fn stored(map: BTreeMap<String, Option<String>>) -> BTreeMap<String, String> {
        map.into_iter()
            .filter_map(|(k, v)| v.map(|v| (k, v)))
            .collect()
    }

    /// Value text for the error property, from an alphabet no key or
    /// serde message is made of.
    fn secret() -> impl Strategy<Value = String> {
        "[a-z0-9]{8,20}"
    }

    /// A stored value that holds `secret` somewhere: raw, as a JSON string,
    /// inside a list or a map, or as a cut-short JSON text.
    fn hostile(secret: String) -> impl Strategy<Value = String> {
        prop_oneof![
            Just(secret.clone()),
            Just(format!("\"{secret}\"")),
            Just(format!("[\"{secret}\"]")),
            Just(format!("[1,\"{secret}\"]")),
            Just(format!("{{\"host\":\"{secret}\"}}")),
            Just(format!("{{\"host\":1,\"ports\":[\"{secret}\"]}}")),
            Just(format!("[\"{secret}")),
            Just(format!("1{secret}")),
        ]
    }

    fn hostile_bag(
        fields: &'static [&'static str],
    ) -> impl Strategy<Value = (Vec<String>, BTreeMap<String, String>)> {
        proptest::collection::vec(
            (
                proptest::sample::select(fields),
                secret().prop_flat_map(|s| (Just(s.clone()), hostile(s))),
            ),
            1..6,
        )
        .prop_map(|entries| {
            let mut secrets = Vec::new();
            let mut bag = BTreeMap::new();
            for (key, (secret, value)) in entries {
                secrets.push(secret);
                bag.insert(key.to_string(), value);
            }
            (secrets, bag)
        })
    }

    const FLAT_FIELDS: &[&str] = &[
        "name", "port", "offset", "ratio", "ready", "initial", "note", "count", "mode",
    ];
    const NESTED_FIELDS: &[&str] = &[
        "tags",
        "inner",
        "maybe-inner",
        "by-name",
        "maybe-list",
        "pair",
    ];

    fn assert_no_secret(
        err: &KeyError,
        secrets: &[String],
    ) -> std::result::Result<(), TestCaseError> {
        let shown = format!("{} {}", err.key, err.reason);
        for secret in secrets {
            for i in 0..=secret.len() - 8 {
                let piece = &secret[i..i + 8];
                prop_assert!(!shown.contains(piece), "error shows {piece:?}: {shown}");
            }
        }
        Ok(())
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        #[test]
        fn prop_typed_flat_struct_round_trips(value in flat()) {
            let bag = stored(to_map(&value).map_err(|e| TestCaseError::fail(e.reason))?);
            let back: Flat = from_bag(&bag)
                .map_err(|e| TestCaseError::fail(format!("{}: {}", e.key, e.reason)))?;
            prop_assert_eq!(back, value);
        }

        #[test]
        fn prop_typed_nested_struct_round_trips(value in nested()) {
            let bag = stored(to_map(&value).map_err(|e| TestCaseError::fail(e.reason))?);
            let back: Nested = from_bag(&bag)
                .map_err(|e| TestCaseError::fail(format!("{}: {}", e.key, e.reason)))?;
            prop_assert_eq!(back, value);
        }

        /// A bag of hostile values read as either struct: an error (or,
        /// by luck, a value), and no error shows a value.
        #[test]
        fn prop_typed_errors_never_quote_values(
            (flat_secrets, flat_bag) in hostile_bag(FLAT_FIELDS),
            (nested_secrets, nested_bag) in hostile_bag(NESTED_FIELDS),
        ) {
            if let Err(err) = from_bag::<Flat>(&flat_bag) {
                assert_no_secret(&err, &flat_secrets)?;
            }
            if let Err(err) = from_bag::<Nested>(&nested_bag) {
                assert_no_secret(&err, &nested_secrets)?;
            }
            let json: serde_json::Map<String, Value> = nested_bag
                .iter()
                .map(|(k, v)| (k.clone(), serde_json::from_str(v).unwrap_or(Value::String(v.clone()))))
                .collect();
            if let Err(err) = from_json_map::<Nested>(&json) {
                assert_no_secret(&err, &nested_secrets)?;
            }
        }
    }
}
