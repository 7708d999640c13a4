//! The charm's config, as `config-get` gives it.

use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use super::{Model, ModelError, typed};
use crate::declared::{DeclaredOption, OptionName, OptionValue};

/// The config options that have a value (set by the user, or their defaults).
///
/// ```
/// use serde_json::json;
///
/// let config = ops::model::Config::new(
///     json!({"listen_port": 6432, "pool_mode": "session"}).as_object().unwrap().clone(),
/// );
/// assert_eq!(config.get_int("listen_port")?, Some(6432));
/// assert!(config.get_str("listen_port").is_err(), "an int is not a string");
///
/// #[derive(serde::Deserialize)]
/// struct Options {
///     listen_port: u16,
///     pool_mode: String,
/// }
/// let options: Options = config.parse()?;
/// assert_eq!((options.listen_port, options.pool_mode.as_str()), (6432, "session"));
/// # Ok::<(), ops::model::ModelError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Config {
    values: Map<String, Value>,
}

impl Config {
    /// Config from `config-get`'s answer.
    pub fn new(values: Map<String, Value>) -> Self {
        Self { values }
    }

    /// An option's value, as JSON. `key` is a generated
    /// [`DeclaredOption`] or a string; so are the typed getters'.
    pub fn get(&self, key: impl OptionName) -> Option<&Value> {
        self.values.get(key.option_name())
    }

    /// A declared option's value as its declared type (a generated
    /// [`DeclaredOption`]: `config.value(meta::options::LISTEN_PORT)` is an
    /// `i64`); [`ModelError::ConfigType`] if it holds something else, `None`
    /// if it has no value.
    ///
    /// ```
    /// use ops::declared::DeclaredOption;
    ///
    /// const LISTEN_PORT: DeclaredOption<i64> = DeclaredOption::new("listen_port");
    /// let config = ops::Config::new(
    ///     serde_json::json!({"listen_port": 6432}).as_object().unwrap().clone(),
    /// );
    /// assert_eq!(config.value(LISTEN_PORT)?, Some(6432));
    /// # Ok::<(), ops::ModelError>(())
    /// ```
    pub fn value<T: OptionValue>(
        &self,
        option: DeclaredOption<T>,
    ) -> Result<Option<T>, ModelError> {
        self.typed(option.name(), T::EXPECTED, T::from_json)
    }

    /// All options that have a value.
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
                    value: crate::redact::json_kind(value).to_string(),
                }),
        }
    }

    /// A string option; [`ModelError::ConfigType`] if it holds something else.
    pub fn get_str(&self, key: impl OptionName) -> Result<Option<&str>, ModelError> {
        self.typed(key.option_name(), "a string", Value::as_str)
    }

    /// An integer option; [`ModelError::ConfigType`] if it holds something else.
    pub fn get_int(&self, key: impl OptionName) -> Result<Option<i64>, ModelError> {
        self.typed(key.option_name(), "an integer", Value::as_i64)
    }

    /// A float option (an integer value is accepted); [`ModelError::ConfigType`]
    /// if it holds something else.
    pub fn get_float(&self, key: impl OptionName) -> Result<Option<f64>, ModelError> {
        self.typed(key.option_name(), "a number", Value::as_f64)
    }

    /// A boolean option; [`ModelError::ConfigType`] if it holds something else.
    pub fn get_bool(&self, key: impl OptionName) -> Result<Option<bool>, ModelError> {
        self.typed(key.option_name(), "a boolean", Value::as_bool)
    }

    /// The whole config as a typed struct. [`ModelError::ConfigParse`] names
    /// the option that did not fit, or that is missing.
    pub fn parse<T: DeserializeOwned>(&self) -> Result<T, ModelError> {
        typed::from_json_map(&self.values).map_err(|e| ModelError::ConfigParse {
            type_name: std::any::type_name::<T>(),
            key: e.key,
            reason: e.reason,
        })
    }
}

impl Model {
    /// The config (one `config-get` per dispatch).
    pub fn config(&self) -> Result<Config, ModelError> {
        if let Some(config) = self.config.borrow().as_ref() {
            return Ok(config.clone());
        }
        let values = self
            .backend
            .config_get()
            .map_err(ModelError::backend("reading the config"))?;
        let config = Config::new(values);
        *self.config.borrow_mut() = Some(config.clone());
        Ok(config)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn config() -> Config {
        Config::new(
            json!({"port": 6432, "mode": "session", "on": true, "ratio": 0.5, "unset": null})
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
        assert_eq!(c.get_float("port").unwrap(), Some(6432.0));
        assert_eq!(c.get_str("missing").unwrap(), None);
        assert_eq!(c.get_int("unset").unwrap(), None);
        assert_eq!(c.get("port"), Some(&json!(6432)));
    }

    #[test]
    fn a_value_of_the_wrong_type_names_key_type_and_kind_not_value() {
        let c = config();
        for (err, key, expected, value) in [
            (
                c.get_int("mode").unwrap_err(),
                "mode",
                "an integer",
                "a string",
            ),
            (
                c.get_str("port").unwrap_err(),
                "port",
                "a string",
                "a number",
            ),
            (
                c.get_bool("ratio").unwrap_err(),
                "ratio",
                "a boolean",
                "a number",
            ),
            (
                c.get_int("ratio").unwrap_err(),
                "ratio",
                "an integer",
                "a number",
            ),
            (
                c.get_float("on").unwrap_err(),
                "on",
                "a number",
                "a boolean",
            ),
        ] {
            match err {
                ModelError::ConfigType {
                    key: k,
                    expected: e,
                    value: v,
                } => assert_eq!((k.as_str(), e, v.as_str()), (key, expected, value)),
                other => panic!("expected ConfigType, got {other:?}"),
            }
        }
    }

    #[test]
    fn parse_names_the_option_that_does_not_fit() {
        #[derive(Debug, serde::Deserialize)]
        #[allow(dead_code)]
        struct Options {
            port: String,
        }
        match config().parse::<Options>().unwrap_err() {
            ModelError::ConfigParse {
                key,
                reason,
                type_name,
            } => {
                assert_eq!(key, "port");
                assert!(reason.contains("invalid type"), "{reason}");
                assert!(type_name.ends_with("Options"), "{type_name}");
            }
            other => panic!("expected ConfigParse, got {other:?}"),
        }
    }

    #[test]
    fn parse_names_a_missing_option() {
        #[derive(Debug, serde::Deserialize)]
        #[allow(dead_code)]
        struct Options {
            port: u16,
            listen_address: String,
        }
        let err = config().parse::<Options>().unwrap_err();
        assert!(
            matches!(&err, ModelError::ConfigParse { key, .. } if key == "listen_address"),
            "{err}"
        );
    }

    #[test]
    fn parse_into_a_struct_with_optional_and_defaulted_options() {
        #[derive(Debug, serde::Deserialize)]
        struct Options {
            port: u16,
            on: bool,
            ratio: f32,
            unset: Option<String>,
            #[serde(default)]
            absent: Option<u8>,
        }
        let o = config().parse::<Options>().unwrap();
        assert_eq!((o.port, o.on, o.ratio), (6432, true, 0.5));
        assert_eq!((o.unset, o.absent), (None, None));
    }
}
