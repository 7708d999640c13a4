//! The running action: its parameters, results, failure and progress messages.

use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use super::{Model, ModelError, typed};
use crate::backend::StringMap;
use crate::declared::DeclaredAction;
use crate::redact::{MAX_TEXT, bounded_text};

// Declared beside the model's action methods, so that `declared` (below
// the model) need not know the model.
impl<P: DeserializeOwned> DeclaredAction<P> {
    /// The running action's parameters as `P`
    /// ([`Model::action_params_as`]); [`ModelError::ActionParams`] names
    /// the parameter that did not fit.
    pub fn params(&self, model: &Model) -> Result<P, ModelError> {
        model.action_params_as::<P>()
    }
}

/// Keys Juju keeps for itself in action results.
const RESERVED_KEYS: [&str; 4] = ["stdout", "stderr", "stdout-encoding", "stderr-encoding"];

/// Juju's rule for one segment of an action result key: lowercase letters,
/// digits, dashes and dots, starting and ending with a letter or digit.
fn is_valid_key(key: &str) -> bool {
    let ends_ok = |c: Option<char>| c.is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
    ends_ok(key.chars().next())
        && ends_ok(key.chars().last())
        && key
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '.')
}

/// Flattens nested maps into dotted keys (`{"a": {"b": 1}}` → `a.b=1`), as
/// `action-set` wants. Strings are kept raw; other values become JSON text.
fn flatten_results(results: &Map<String, Value>) -> Result<StringMap, ModelError> {
    fn walk(prefix: &str, map: &Map<String, Value>, out: &mut StringMap) -> Result<(), ModelError> {
        for (key, value) in map {
            let full = if prefix.is_empty() {
                key.clone()
            } else {
                format!("{prefix}.{key}")
            };
            let invalid = |reason| ModelError::InvalidActionResultKey {
                key: full.clone(),
                reason,
            };
            if !is_valid_key(key) {
                return Err(invalid(
                    "keys are lowercase letters, digits, dashes and dots, \
                     starting and ending with a letter or digit",
                ));
            }
            match value {
                Value::Object(inner) => walk(&full, inner, out)?,
                other => {
                    let text = match other {
                        Value::String(s) => bounded_text(s, MAX_TEXT),
                        v => bounded_text(&v.to_string(), MAX_TEXT),
                    };
                    if out.insert(full.clone(), text).is_some() {
                        return Err(invalid("the key is given twice (nested and dotted)"));
                    }
                }
            }
        }
        Ok(())
    }
    let mut out = StringMap::new();
    walk("", results, &mut out)?;
    if let Some(key) = out.keys().find(|k| {
        let top = k.split('.').next().unwrap_or(k);
        RESERVED_KEYS.contains(&top)
    }) {
        return Err(ModelError::InvalidActionResultKey {
            key: key.clone(),
            reason: "Juju reserves stdout, stderr, stdout-encoding and stderr-encoding",
        });
    }
    Ok(out)
}

impl Model {
    /// The running action's parameters (one `action-get` per dispatch).
    pub fn action_params(&self) -> Result<Map<String, Value>, ModelError> {
        if let Some(params) = self.action_params.borrow().as_ref() {
            return Ok(params.clone());
        }
        let params = self
            .backend
            .action_get()
            .map_err(ModelError::backend("reading the action parameters"))?;
        *self.action_params.borrow_mut() = Some(params.clone());
        Ok(params)
    }

    /// The running action's parameters as a typed struct;
    /// [`ModelError::ActionParams`] names the parameter that did not fit.
    pub fn action_params_as<T: DeserializeOwned>(&self) -> Result<T, ModelError> {
        typed::from_json_map(&self.action_params()?).map_err(|e| ModelError::ActionParams {
            type_name: std::any::type_name::<T>(),
            key: e.key,
            reason: e.reason,
        })
    }

    /// Reports results (`action-set`). Nested maps are flattened with dots, as
    /// Juju wants (`{"db": {"port": 5432}}` → `db.port=5432`); strings are
    /// kept as they are, other values become JSON text. Keys Juju would
    /// refuse (bad characters, a key given twice, a reserved key) are
    /// [`ModelError::InvalidActionResultKey`], and nothing is sent. Each
    /// value is cut to [`MAX_TEXT`] bytes and loses control characters other
    /// than newline and tab, so no value can make `action-set`'s argv too long.
    pub fn action_set_results(&self, results: Map<String, Value>) -> Result<(), ModelError> {
        let flat = flatten_results(&results)?;
        self.backend
            .action_set(&flat)
            .map_err(ModelError::backend("setting the action results"))
    }

    /// Fails the running action with a message (`action-fail`); the handler
    /// still returns normally. The message is bounded as results are.
    pub fn action_fail(&self, message: &str) -> Result<(), ModelError> {
        self.backend
            .action_fail(&bounded_text(message, MAX_TEXT))
            .map_err(ModelError::backend("failing the action"))
    }

    /// Sends a progress message the user sees while the action runs
    /// (`action-log`), bounded as results are.
    pub fn action_log(&self, message: &str) -> Result<(), ModelError> {
        self.backend
            .action_log(&bounded_text(message, MAX_TEXT))
            .map_err(ModelError::backend("logging action progress"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn results(value: Value) -> Result<StringMap, ModelError> {
        flatten_results(value.as_object().unwrap())
    }

    fn pairs(map: &StringMap) -> Vec<(&str, &str)> {
        map.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect()
    }

    #[test]
    fn nested_maps_are_flattened_with_dots() {
        let flat = results(json!({
            "user": "app_user",
            "db": {"port": 5432, "tls": false, "hosts": ["a", "b"], "meta": {"v": 1.5}},
            "a.b": "dotted",
            "none": null,
        }))
        .unwrap();
        assert_eq!(
            pairs(&flat),
            [
                ("a.b", "dotted"),
                ("db.hosts", r#"["a","b"]"#),
                ("db.meta.v", "1.5"),
                ("db.port", "5432"),
                ("db.tls", "false"),
                ("none", "null"),
                ("user", "app_user"),
            ]
        );
    }

    #[test]
    fn a_key_given_nested_and_dotted_is_refused() {
        let err = results(json!({"a": {"b": 1}, "a.b": 2})).unwrap_err();
        assert!(
            matches!(&err, ModelError::InvalidActionResultKey { key, .. } if key == "a.b"),
            "{err}"
        );
    }

    #[test]
    fn keys_follow_juju() {
        for good in ["a", "key", "some-key2", "some.key", "9lives"] {
            assert!(is_valid_key(good), "{good}");
        }
        for bad in [
            "",
            "Key",
            "-a",
            "a-",
            ".a",
            "a.",
            "with_underscore",
            "spa ce",
        ] {
            assert!(!is_valid_key(bad), "{bad}");
        }
        let err = results(json!({"outer": {"Bad": 1}})).unwrap_err();
        assert!(
            matches!(&err, ModelError::InvalidActionResultKey { key, .. } if key == "outer.Bad"),
            "{err}"
        );
    }

    #[test]
    fn reserved_keys_are_refused() {
        for reserved in [json!({"stdout": "x"}), json!({"stderr": {"more": 1}})] {
            assert!(matches!(
                results(reserved),
                Err(ModelError::InvalidActionResultKey { .. })
            ));
        }
        assert!(results(json!({"stdout-lines": "3"})).is_ok());
    }
}
