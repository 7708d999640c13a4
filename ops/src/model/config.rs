//! The charm's config, as `config-get` gives it.

use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use super::ModelError;

/// The config options that have a value.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Config {
    values: Map<String, Value>,
}

impl Config {
    /// Config from `config-get`'s answer.
    pub fn new(values: Map<String, Value>) -> Self {
        Self { values }
    }

    /// An option's raw value.
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.values.get(key)
    }

    /// All options.
    pub fn values(&self) -> &Map<String, Value> {
        &self.values
    }

    fn typed<'a, T>(
        &'a self,
        key: &str,
        expected: &'static str,
        convert: impl FnOnce(&'a Value) -> Option<T>,
    ) -> Result<Option<T>, ModelError> {
        match self.values.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(value) => convert(value)
                .map(Some)
                .ok_or_else(|| ModelError::ConfigType {
                    key: key.to_string(),
                    expected,
                    value: value.to_string(),
                }),
        }
    }

    /// A string option.
    pub fn get_str(&self, key: &str) -> Result<Option<&str>, ModelError> {
        self.typed(key, "a string", Value::as_str)
    }

    /// An integer option.
    pub fn get_int(&self, key: &str) -> Result<Option<i64>, ModelError> {
        self.typed(key, "an integer", Value::as_i64)
    }

    /// A float option (integers are accepted).
    pub fn get_float(&self, key: &str) -> Result<Option<f64>, ModelError> {
        self.typed(key, "a number", Value::as_f64)
    }

    /// A boolean option.
    pub fn get_bool(&self, key: &str) -> Result<Option<bool>, ModelError> {
        self.typed(key, "a boolean", Value::as_bool)
    }

    /// The whole config as a typed struct; the error names the option that did not fit.
    ///
    /// ```
    /// #[derive(serde::Deserialize)]
    /// struct Options { listen_port: u16 }
    /// let config = ops::model::Config::new(serde_json::json!({"listen_port": 6432}).as_object().unwrap().clone());
    /// assert_eq!(config.parse::<Options>().unwrap().listen_port, 6432);
    /// ```
    pub fn parse<T: DeserializeOwned>(&self) -> Result<T, ModelError> {
        serde_json::from_value(Value::Object(self.values.clone())).map_err(|e| {
            ModelError::ConfigParse {
                type_name: std::any::type_name::<T>(),
                reason: e.to_string(),
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn config() -> Config {
        Config::new(
            json!({"port": 6432, "mode": "session", "on": true, "ratio": 0.5})
                .as_object()
                .unwrap()
                .clone(),
        )
    }

    #[test]
    fn typed_getters() {
        let c = config();
        assert_eq!(c.get_int("port").unwrap(), Some(6432));
        assert_eq!(c.get_str("mode").unwrap(), Some("session"));
        assert_eq!(c.get_bool("on").unwrap(), Some(true));
        assert_eq!(c.get_float("ratio").unwrap(), Some(0.5));
        assert_eq!(c.get_str("missing").unwrap(), None);
    }

    #[test]
    fn wrong_type_names_the_key() {
        let err = config().get_int("mode").unwrap_err();
        assert!(
            matches!(&err, ModelError::ConfigType { key, .. } if key == "mode"),
            "{err}"
        );
    }

    #[test]
    fn parse_names_the_option() {
        #[derive(Debug, serde::Deserialize)]
        #[allow(dead_code)]
        struct Options {
            port: String,
        }
        let err = config().parse::<Options>().unwrap_err();
        assert!(err.to_string().contains("invalid type"), "{err}");
    }
}
