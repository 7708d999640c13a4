//! Typed databags: a struct whose fields are a databag's keys.
//!
//! Strings are stored as they are; every other value as JSON text. Reading
//! gives a field of type `String` the raw value and parses JSON for the rest,
//! so `"123"` reads as both a `String` and a `u32`.

use std::collections::BTreeMap;

use serde::de::{self, DeserializeOwned, IntoDeserializer, MapAccess, Visitor};
use serde::forward_to_deserialize_any;
use serde_json::Value;

/// A struct to string map: strings raw, other values as JSON, `None` as absent.
pub(crate) fn to_map<T: serde::Serialize>(
    value: &T,
) -> Result<BTreeMap<String, Option<String>>, (String, String)> {
    let json = serde_json::to_value(value).map_err(|e| (String::new(), e.to_string()))?;
    let Value::Object(fields) = json else {
        return Err((
            String::new(),
            "a databag can only hold a struct or map".to_string(),
        ));
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

/// A string map to a struct; the error names the key that did not fit.
pub(crate) fn from_map<T: DeserializeOwned>(
    map: &BTreeMap<String, String>,
) -> Result<T, (String, String)> {
    let mut current = None;
    let result = T::deserialize(BagDeserializer {
        entries: map.iter(),
        value: None,
        current: &mut current,
    });
    result.map_err(|e: de::value::Error| (current.unwrap_or_default(), e.to_string()))
}

struct BagDeserializer<'a, 'c> {
    entries: std::collections::btree_map::Iter<'a, String, String>,
    value: Option<&'a str>,
    current: &'c mut Option<String>,
}

impl<'de, 'a, 'c> de::Deserializer<'de> for BagDeserializer<'a, 'c> {
    type Error = de::value::Error;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Self::Error> {
        visitor.visit_map(self)
    }

    forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
        bytes byte_buf option unit unit_struct newtype_struct seq tuple
        tuple_struct map struct enum identifier ignored_any
    }
}

impl<'de, 'a, 'c> MapAccess<'de> for BagDeserializer<'a, 'c> {
    type Error = de::value::Error;

    fn next_key_seed<K: de::DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, Self::Error> {
        match self.entries.next() {
            Some((key, value)) => {
                *self.current = Some(key.clone());
                self.value = Some(value);
                seed.deserialize(key.as_str().into_deserializer()).map(Some)
            }
            None => {
                *self.current = None;
                Ok(None)
            }
        }
    }

    fn next_value_seed<V: de::DeserializeSeed<'de>>(
        &mut self,
        seed: V,
    ) -> Result<V::Value, Self::Error> {
        let raw = self.value.take().unwrap_or_default();
        seed.deserialize(ValueDeserializer { raw })
    }
}

/// One databag value: raw for strings, JSON for the rest.
struct ValueDeserializer<'a> {
    raw: &'a str,
}

impl ValueDeserializer<'_> {
    fn json(&self) -> Result<Value, de::value::Error> {
        serde_json::from_str(self.raw)
            .map_err(|e| de::Error::custom(format!("{:?} is not valid JSON: {e}", self.raw)))
    }
}

macro_rules! via_json {
    ($($method:ident)*) => {
        $(fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Self::Error> {
            self.json()?.$method(visitor).map_err(|e| de::Error::custom(e.to_string()))
        })*
    };
}

impl<'de> de::Deserializer<'de> for ValueDeserializer<'_> {
    type Error = de::value::Error;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Self::Error> {
        match serde_json::from_str::<Value>(self.raw) {
            Ok(value) if !value.is_string() => value
                .deserialize_any(visitor)
                .map_err(|e| de::Error::custom(e.to_string())),
            _ => visitor.visit_string(self.raw.to_string()),
        }
    }

    fn deserialize_str<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Self::Error> {
        visitor.visit_string(self.raw.to_string())
    }

    fn deserialize_string<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Self::Error> {
        visitor.visit_string(self.raw.to_string())
    }

    fn deserialize_char<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Self::Error> {
        visitor.visit_string(self.raw.to_string())
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Self::Error> {
        visitor.visit_some(self)
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _: &'static str,
        visitor: V,
    ) -> Result<V::Value, Self::Error> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _: &'static str,
        _: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Self::Error> {
        match serde_json::from_str::<Value>(self.raw) {
            Ok(value) if !value.is_string() => value
                .deserialize_enum("", &[], visitor)
                .map_err(|e| de::Error::custom(e.to_string())),
            _ => visitor.visit_enum(self.raw.to_string().into_deserializer()),
        }
    }

    via_json! {
        deserialize_bool deserialize_i8 deserialize_i16 deserialize_i32 deserialize_i64 deserialize_i128
        deserialize_u8 deserialize_u16 deserialize_u32 deserialize_u64 deserialize_u128
        deserialize_f32 deserialize_f64 deserialize_bytes deserialize_byte_buf deserialize_unit
        deserialize_seq deserialize_map deserialize_ignored_any
    }

    fn deserialize_unit_struct<V: Visitor<'de>>(
        self,
        _: &'static str,
        visitor: V,
    ) -> Result<V::Value, Self::Error> {
        self.deserialize_unit(visitor)
    }

    fn deserialize_tuple<V: Visitor<'de>>(
        self,
        _: usize,
        visitor: V,
    ) -> Result<V::Value, Self::Error> {
        self.deserialize_seq(visitor)
    }

    fn deserialize_tuple_struct<V: Visitor<'de>>(
        self,
        _: &'static str,
        _: usize,
        visitor: V,
    ) -> Result<V::Value, Self::Error> {
        self.deserialize_seq(visitor)
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _: &'static str,
        _: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Self::Error> {
        self.deserialize_map(visitor)
    }

    fn deserialize_identifier<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Self::Error> {
        self.deserialize_string(visitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::{Deserialize, Serialize};

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct Peer {
        host: String,
        port: u16,
        tags: Vec<String>,
        note: Option<String>,
        #[serde(default)]
        ready: bool,
    }

    #[test]
    fn round_trip_strings_raw_others_json() {
        let peer = Peer {
            host: "db-0".into(),
            port: 5432,
            tags: vec!["a".into()],
            note: None,
            ready: true,
        };
        let map = to_map(&peer).unwrap();
        assert_eq!(map["host"].as_deref(), Some("db-0"));
        assert_eq!(map["port"].as_deref(), Some("5432"));
        assert_eq!(map["tags"].as_deref(), Some("[\"a\"]"));
        assert_eq!(map["note"], None);
        let stored: BTreeMap<String, String> = map
            .into_iter()
            .filter_map(|(k, v)| v.map(|v| (k, v)))
            .collect();
        assert_eq!(from_map::<Peer>(&stored).unwrap(), peer);
    }

    #[test]
    fn numeric_text_reads_as_string_and_number() {
        #[derive(Deserialize)]
        struct A {
            id: String,
        }
        #[derive(Deserialize)]
        struct B {
            id: u32,
        }
        let map = BTreeMap::from([("id".to_string(), "123".to_string())]);
        assert_eq!(from_map::<A>(&map).unwrap().id, "123");
        assert_eq!(from_map::<B>(&map).unwrap().id, 123);
    }

    #[test]
    fn bad_value_names_its_key() {
        let map = BTreeMap::from([
            ("host".to_string(), "h".to_string()),
            ("port".to_string(), "not-a-port".to_string()),
            ("tags".to_string(), "[]".to_string()),
        ]);
        let (key, reason) = from_map::<Peer>(&map).unwrap_err();
        assert_eq!(key, "port");
        assert!(reason.contains("not-a-port"), "{reason}");
    }

    #[test]
    fn missing_required_key_is_an_error() {
        let map = BTreeMap::from([("host".to_string(), "h".to_string())]);
        let (_, reason) = from_map::<Peer>(&map).unwrap_err();
        assert!(reason.contains("missing field"), "{reason}");
    }
}
