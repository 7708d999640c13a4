//! The charm's config, as `config-get` gives it.

use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use super::{Model, ModelError, typed};
use crate::declared::{OptionKey, OptionValue};

/// The config options that have a value (set by the user, or their defaults).
///
/// One option is read with [`get`](Config::get), as its type: a generated
/// [`DeclaredOption`](crate::declared::DeclaredOption) gives the type, a
/// string key is given it. The whole config is read with
/// [`parse`](Config::parse), as the charm's own struct. [`iter`](Config::iter)
/// lists the options that have a value, as JSON.
///
/// ```
/// use ops::declared::DeclaredOption;
/// use serde_json::json;
///
/// // What codegen writes for `options: {listen_port: {type: int}}`:
/// const LISTEN_PORT: DeclaredOption<i64> = DeclaredOption::new("listen_port");
///
/// let config = ops::model::Config::new(
///     json!({"listen_port": 6432, "pool_mode": "session"}).as_object().unwrap().clone(),
/// );
/// // One option, typed by its declaration...
/// assert_eq!(config.get(LISTEN_PORT)?, Some(6432));
/// // ...or by a string key and the type asked for.
/// assert_eq!(config.get::<String>("pool_mode")?.as_deref(), Some("session"));
/// assert!(config.get::<String>("listen_port").is_err(), "an int is not a string");
///
/// // The whole config, as the charm's struct.
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

    /// One option's value, as a `T`: `i64`, `f64` (which also takes an
    /// integer), `bool`, `String`, or [`serde_json::Value`] for the raw
    /// JSON. `key` is a generated
    /// [`DeclaredOption`](crate::declared::DeclaredOption), whose declared
    /// type is `T` (`config.get(meta::options::LISTEN_PORT)?` is an
    /// `Option<i64>`), or a string, with `T` given
    /// (`config.get::<i64>("listen_port")?`).
    ///
    /// `Ok(None)` if the option has no value (absent or null);
    /// [`ModelError::ConfigType`] if it holds another type, naming the
    /// option, the type expected and the JSON kind found, never the value
    /// (it may be a credential). For the whole config as a struct, see
    /// [`parse`](Config::parse).
    ///
    /// ```
    /// use ops::declared::DeclaredOption;
    /// use serde_json::{Value, json};
    ///
    /// const LISTEN_PORT: DeclaredOption<i64> = DeclaredOption::new("listen_port");
    /// let config = ops::Config::new(
    ///     json!({"listen_port": 6432, "tls": true, "pool_mode": "session"})
    ///         .as_object()
    ///         .unwrap()
    ///         .clone(),
    /// );
    /// assert_eq!(config.get(LISTEN_PORT)?, Some(6432));
    /// let tls: Option<bool> = config.get("tls")?;
    /// assert_eq!(tls, Some(true));
    /// assert_eq!(config.get::<f64>("listen_port")?, Some(6432.0));
    /// assert_eq!(config.get::<Value>("pool_mode")?, Some(json!("session")));
    /// assert_eq!(config.get::<String>("not-set")?, None);
    /// assert!(config.get::<bool>("pool_mode").is_err());
    /// # Ok::<(), ops::ModelError>(())
    /// ```
    pub fn get<T: OptionValue>(&self, key: impl OptionKey<T>) -> Result<Option<T>, ModelError> {
        let key = key.option_name();
        match self.values.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(value) => T::from_json(value)
                .map(Some)
                .ok_or_else(|| ModelError::ConfigType {
                    key: key.to_string(),
                    expected: T::EXPECTED,
                    value: crate::redact::json_kind(value).to_string(),
                }),
        }
    }

    /// The options that have a value (not null), as `(name, JSON value)`:
    /// to log or pass the config on. To read an option, [`get`](Config::get)
    /// it.
    ///
    /// ```
    /// let config = ops::Config::new(
    ///     serde_json::json!({"port": 6432, "mode": "session", "unset": null})
    ///         .as_object()
    ///         .unwrap()
    ///         .clone(),
    /// );
    /// let mut names: Vec<&str> = config.iter().map(|(name, _)| name).collect();
    /// names.sort();
    /// assert_eq!(names, ["mode", "port"]);
    /// ```
    pub fn iter(&self) -> impl Iterator<Item = (&str, &Value)> + '_ {
        self.values
            .iter()
            .filter(|(_, value)| !value.is_null())
            .map(|(name, value)| (name.as_str(), value))
    }

    /// The whole config as the charm's own struct (codegen writes one:
    /// `meta::Config`); for one option, see [`get`](Config::get).
    /// [`ModelError::ConfigParse`] names the option that did not fit, or
    /// that is missing.
    ///
    /// ```
    /// #[derive(serde::Deserialize)]
    /// struct Options {
    ///     listen_port: u16,
    ///     #[serde(default)]
    ///     pool_mode: Option<String>,
    /// }
    /// let config = ops::Config::new(
    ///     serde_json::json!({"listen_port": 6432}).as_object().unwrap().clone(),
    /// );
    /// let options = config.parse::<Options>()?;
    /// assert_eq!((options.listen_port, options.pool_mode), (6432, None));
    /// # Ok::<(), ops::ModelError>(())
    /// ```
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
            json!({
                "port": 6432,
                "mode": "session",
                "on": true,
                "ratio": 0.5,
                "unset": null,
                "password": "hunter2-s3cret",
            })
            .as_object()
            .unwrap()
            .clone(),
        )
    }

    use crate::declared::DeclaredOption;

    const PORT: DeclaredOption<i64> = DeclaredOption::new("port");
    const MODE: DeclaredOption<String> = DeclaredOption::new("mode");
    const ON: DeclaredOption<bool> = DeclaredOption::new("on");
    const RATIO: DeclaredOption<f64> = DeclaredOption::new("ratio");
    const UNSET: DeclaredOption<String> = DeclaredOption::new("unset");
    const MISSING: DeclaredOption<i64> = DeclaredOption::new("missing");

    #[test]
    fn each_type_reads_through_a_declared_option() {
        let c = config();
        // No annotations: the declared option gives the type.
        let (port, mode, on, ratio) = (
            c.get(PORT).unwrap(),
            c.get(MODE).unwrap(),
            c.get(ON).unwrap(),
            c.get(RATIO).unwrap(),
        );
        assert_eq!(port, Some(6432_i64));
        assert_eq!(mode.as_deref(), Some("session"));
        assert_eq!(on, Some(true));
        assert_eq!(ratio, Some(0.5_f64));
        // By reference too.
        let port: &DeclaredOption<i64> = &PORT;
        assert_eq!(c.get(port).unwrap(), Some(6432));
    }

    #[test]
    fn each_type_reads_through_a_string_key() {
        let c = config();
        assert_eq!(c.get::<i64>("port").unwrap(), Some(6432));
        let mode: Option<String> = c.get("mode").unwrap();
        assert_eq!(mode.as_deref(), Some("session"));
        assert_eq!(c.get::<bool>(String::from("on")).unwrap(), Some(true));
        let ratio = String::from("ratio");
        let by_ref: &String = &ratio;
        assert_eq!(c.get::<f64>(by_ref).unwrap(), Some(0.5));
        assert_eq!(
            c.get::<f64>(std::borrow::Cow::Borrowed("ratio")).unwrap(),
            Some(0.5)
        );
        assert_eq!(c.get::<Value>("port").unwrap(), Some(json!(6432)));
        assert_eq!(c.get::<Value>("mode").unwrap(), Some(json!("session")));
    }

    #[test]
    fn an_integer_reads_as_a_float() {
        let c = config();
        assert_eq!(c.get::<f64>("port").unwrap(), Some(6432.0));
        const PORT_AS_FLOAT: DeclaredOption<f64> = DeclaredOption::new("port");
        assert_eq!(c.get(PORT_AS_FLOAT).unwrap(), Some(6432.0));
    }

    #[test]
    fn null_or_absent_is_none_for_every_type() {
        let c = config();
        assert_eq!(c.get(UNSET).unwrap(), None);
        assert_eq!(c.get(MISSING).unwrap(), None);
        for key in ["unset", "missing"] {
            assert_eq!(c.get::<i64>(key).unwrap(), None, "{key}");
            assert_eq!(c.get::<f64>(key).unwrap(), None, "{key}");
            assert_eq!(c.get::<bool>(key).unwrap(), None, "{key}");
            assert_eq!(c.get::<String>(key).unwrap(), None, "{key}");
            assert_eq!(c.get::<Value>(key).unwrap(), None, "{key}");
        }
    }

    #[test]
    fn a_value_of_the_wrong_type_names_key_type_and_kind_not_value() {
        let c = config();
        const PASSWORD: DeclaredOption<i64> = DeclaredOption::new("password");
        for (err, key, expected, value) in [
            (
                c.get::<i64>("mode").unwrap_err(),
                "mode",
                "an integer",
                "a string",
            ),
            (
                c.get(PASSWORD).unwrap_err(),
                "password",
                "an integer",
                "a string",
            ),
            (
                c.get::<String>("port").unwrap_err(),
                "port",
                "a string",
                "an integer",
            ),
            (
                c.get::<bool>("ratio").unwrap_err(),
                "ratio",
                "a boolean",
                "a float",
            ),
            (
                c.get::<i64>("ratio").unwrap_err(),
                "ratio",
                "an integer",
                "a float",
            ),
            (
                c.get::<f64>("on").unwrap_err(),
                "on",
                "a number",
                "a boolean",
            ),
        ] {
            let rendered = format!("{err} {err:?}");
            for secret in ["hunter2-s3cret", "session", "6432", "0.5", "true"] {
                assert!(!rendered.contains(secret), "{rendered:?} shows {secret:?}");
            }
            assert!(rendered.contains(key), "{rendered}");
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
    fn iter_lists_the_options_that_have_a_value() {
        let c = config();
        let mut listed: Vec<(&str, &Value)> = c.iter().collect();
        listed.sort_by_key(|(name, _)| *name);
        assert_eq!(
            listed,
            [
                ("mode", &json!("session")),
                ("on", &json!(true)),
                ("password", &json!("hunter2-s3cret")),
                ("port", &json!(6432)),
                ("ratio", &json!(0.5)),
            ]
        );
        assert_eq!(Config::default().iter().count(), 0);
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
