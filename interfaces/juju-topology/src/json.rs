//! JSON values that keep their keys in order, written as Python's
//! `json.dumps` writes them (`", "` and `": "` separators, every character
//! outside printable ASCII escaped as `\uXXXX`), so that what a Rust charm
//! puts in a databag is byte for byte what the Python library would.
//!
//! ```
//! use juju_topology::json::{self, Value};
//!
//! let value: Value = json::from_str(r#"{"b": [1, "é"], "a": null}"#).unwrap();
//! assert_eq!(json::to_string(&value), r#"{"b": [1, "\u00e9"], "a": null}"#);
//! assert_eq!(json::to_string_sorted(&value), r#"{"a": null, "b": [1, "\u00e9"]}"#);
//! ```

use std::fmt::{self, Write as _};

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::ser::{Serialize, SerializeMap, SerializeSeq, Serializer};

/// A JSON value whose objects keep their keys in the order read or built.
#[derive(Debug, Clone, PartialEq, Default)]
pub enum Value {
    /// `null`.
    #[default]
    Null,
    /// `true` or `false`.
    Bool(bool),
    /// A number, as `serde_json` reads it.
    Number(serde_json::Number),
    /// A string.
    String(String),
    /// An array.
    Array(Vec<Value>),
    /// An object, keys in order (a later `insert` of a present key replaces
    /// the value in place, as a Python dict does).
    Object(Vec<(String, Value)>),
}

impl Value {
    /// An object of these entries, in this order.
    pub fn object<K: Into<String>>(entries: impl IntoIterator<Item = (K, Value)>) -> Self {
        let mut object = Value::Object(Vec::new());
        for (key, value) in entries {
            object.insert(key, value);
        }
        object
    }

    /// The value at `key`, if this is an object that has it.
    pub fn get(&self, key: &str) -> Option<&Value> {
        match self {
            Value::Object(entries) => entries.iter().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }

    /// The value at `key`, mutably.
    pub fn get_mut(&mut self, key: &str) -> Option<&mut Value> {
        match self {
            Value::Object(entries) => entries.iter_mut().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }

    /// Sets `key` in an object: in place when present, at the end when
    /// not. Does nothing to a value that is not an object.
    pub fn insert(&mut self, key: impl Into<String>, value: Value) {
        let key = key.into();
        if let Value::Object(entries) = self {
            match entries.iter_mut().find(|(k, _)| *k == key) {
                Some((_, slot)) => *slot = value,
                None => entries.push((key, value)),
            }
        }
    }

    /// The string, if this is one.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::String(s) => Some(s),
            _ => None,
        }
    }

    /// The items, if this is an array.
    pub fn as_array(&self) -> Option<&Vec<Value>> {
        match self {
            Value::Array(items) => Some(items),
            _ => None,
        }
    }

    /// The items, mutably, if this is an array.
    pub fn as_array_mut(&mut self) -> Option<&mut Vec<Value>> {
        match self {
            Value::Array(items) => Some(items),
            _ => None,
        }
    }

    /// Whether this is an object.
    pub fn is_object(&self) -> bool {
        matches!(self, Value::Object(_))
    }
}

impl From<&str> for Value {
    fn from(s: &str) -> Self {
        Value::String(s.to_string())
    }
}

impl From<String> for Value {
    fn from(s: String) -> Self {
        Value::String(s)
    }
}

impl From<bool> for Value {
    fn from(b: bool) -> Self {
        Value::Bool(b)
    }
}

impl From<Vec<Value>> for Value {
    fn from(items: Vec<Value>) -> Self {
        Value::Array(items)
    }
}

/// Why a JSON text could not be read (never the text itself).
#[derive(Debug, thiserror::Error)]
#[error("invalid JSON at line {line}, column {column}")]
pub struct JsonError {
    /// The line of the first error.
    pub line: usize,
    /// Its column.
    pub column: usize,
}

/// Reads a JSON text, keeping the order of every object's keys.
pub fn from_str(text: &str) -> Result<Value, JsonError> {
    serde_json::from_str(text).map_err(|e| JsonError {
        line: e.line(),
        column: e.column(),
    })
}

/// Writes `value` as `json.dumps(value)` does.
pub fn to_string(value: &Value) -> String {
    let mut out = String::new();
    write(&mut out, value, false);
    out
}

/// Writes `value` as `json.dumps(value, sort_keys=True)` does.
pub fn to_string_sorted(value: &Value) -> String {
    let mut out = String::new();
    write(&mut out, value, true);
    out
}

fn write(out: &mut String, value: &Value, sort: bool) {
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(true) => out.push_str("true"),
        Value::Bool(false) => out.push_str("false"),
        Value::Number(n) => out.push_str(&n.to_string()),
        Value::String(s) => write_str(out, s),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                write(out, item, sort);
            }
            out.push(']');
        }
        Value::Object(entries) => {
            let mut entries: Vec<&(String, Value)> = entries.iter().collect();
            if sort {
                entries.sort_by(|a, b| a.0.cmp(&b.0));
            }
            out.push('{');
            for (i, (key, item)) in entries.into_iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                write_str(out, key);
                out.push_str(": ");
                write(out, item, sort);
            }
            out.push('}');
        }
    }
}

/// A string as Python's `json.dumps` (`ensure_ascii=True`) writes it.
/// Runs of printable ASCII, nearly all of a PEM certificate or a
/// databag's text, are copied whole (issue 25: a character at a time this
/// was 13% of a TLS test's instructions).
fn write_str(out: &mut String, s: &str) {
    out.push('"');
    let bytes = s.as_bytes();
    // Where the run of characters copied as they are began.
    let mut plain = 0;
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if (b' '..=b'~').contains(&b) && b != b'"' && b != b'\\' {
            i += 1;
            continue;
        }
        out.push_str(&s[plain..i]);
        // `i` is at a character boundary: every byte before it in this
        // loop was ASCII or a whole character.
        let c = s[i..].chars().next().unwrap_or_default();
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            _ => {
                let mut units = [0u16; 2];
                for unit in c.encode_utf16(&mut units) {
                    let _ = write!(out, "\\u{unit:04x}");
                }
            }
        }
        i += c.len_utf8();
        plain = i;
    }
    out.push_str(&s[plain..]);
    out.push('"');
}

impl Serialize for Value {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Value::Null => serializer.serialize_unit(),
            Value::Bool(b) => serializer.serialize_bool(*b),
            Value::Number(n) => n.serialize(serializer),
            Value::String(s) => serializer.serialize_str(s),
            Value::Array(items) => {
                let mut seq = serializer.serialize_seq(Some(items.len()))?;
                for item in items {
                    seq.serialize_element(item)?;
                }
                seq.end()
            }
            Value::Object(entries) => {
                let mut map = serializer.serialize_map(Some(entries.len()))?;
                for (key, item) in entries {
                    map.serialize_entry(key, item)?;
                }
                map.end()
            }
        }
    }
}

impl<'de> Deserialize<'de> for Value {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(ValueVisitor)
    }
}

struct ValueVisitor;

impl<'de> Visitor<'de> for ValueVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_bool<E>(self, b: bool) -> Result<Value, E> {
        Ok(Value::Bool(b))
    }

    fn visit_i64<E>(self, n: i64) -> Result<Value, E> {
        Ok(Value::Number(n.into()))
    }

    fn visit_u64<E>(self, n: u64) -> Result<Value, E> {
        Ok(Value::Number(n.into()))
    }

    fn visit_f64<E: de::Error>(self, n: f64) -> Result<Value, E> {
        serde_json::Number::from_f64(n)
            .map(Value::Number)
            .ok_or_else(|| E::custom("a number that is not finite"))
    }

    fn visit_str<E>(self, s: &str) -> Result<Value, E> {
        Ok(Value::String(s.to_string()))
    }

    fn visit_string<E>(self, s: String) -> Result<Value, E> {
        Ok(Value::String(s))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element()? {
            items.push(item);
        }
        Ok(Value::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut object = Value::Object(Vec::new());
        while let Some((key, item)) = map.next_entry::<String, Value>()? {
            object.insert(key, item);
        }
        Ok(object)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn strings_are_escaped_as_python_escapes_them() {
        let value = Value::from("a\"b\\c\n\t\u{1}\u{7f}é😀/");
        assert_eq!(
            to_string(&value),
            r#""a\"b\\c\n\t\u0001\u007f\u00e9\ud83d\ude00/""#
        );
    }

    #[test]
    fn objects_keep_their_order_and_a_repeated_key_stays_in_place() {
        let value = from_str(r#"{"z": 1, "a": {"y": [true, false], "b": 2.5}, "z": 3}"#).unwrap();
        assert_eq!(
            to_string(&value),
            r#"{"z": 3, "a": {"y": [true, false], "b": 2.5}}"#
        );
        assert_eq!(
            to_string_sorted(&value),
            r#"{"a": {"b": 2.5, "y": [true, false]}, "z": 3}"#
        );
    }

    #[test]
    fn invalid_json_is_an_error_naming_where() {
        let e = from_str("{\"a\": ").unwrap_err();
        assert_eq!(e.line, 1);
    }

    /// Python's `json.dumps` escaping by another road, as the reference
    /// for [`write_str`]: serde_json's escapes (the same as Python's for the
    /// quote, the backslash and the control characters), then DEL and every
    /// non-ASCII character as `\uXXXX` UTF-16 units.
    fn write_str_through_serde_json(out: &mut String, s: &str) {
        let escaped = serde_json::to_string(s).unwrap();
        for c in escaped.chars() {
            if c.is_ascii() && c != '\u{7f}' {
                out.push(c);
            } else {
                let mut units = [0u16; 2];
                for unit in c.encode_utf16(&mut units) {
                    let _ = write!(out, "\\u{unit:04x}");
                }
            }
        }
    }

    proptest! {
        #[test]
        fn prop_write_str_agrees_with_serde_json_made_ascii(
            s in "(\\PC|[\"\\\\\n\r\t\u{8}\u{c}\u{0}-\u{1f}\u{7f}]|[ -~]{0,40})*"
        ) {
            let (mut fast, mut reference) = (String::new(), String::new());
            write_str(&mut fast, &s);
            write_str_through_serde_json(&mut reference, &s);
            prop_assert_eq!(fast, reference);
        }

        #[test]
        fn prop_written_json_reads_back_the_same(s in "\\PC*", key in "\\PC{0,8}") {
            let value = Value::object([(key.as_str(), Value::from(vec![Value::from(s.as_str()), Value::Null]))]);
            let text = to_string(&value);
            prop_assert!(text.is_ascii());
            prop_assert_eq!(from_str(&text).unwrap(), value.clone());
            let via_serde: serde_json::Value = serde_json::from_str(&text).unwrap();
            prop_assert_eq!(via_serde[key.as_str()][0].as_str(), Some(s.as_str()));
        }
    }
}
