//! The charm's config options, validated.

use ops::Model;
use serde::{Deserialize, Serialize};

use crate::meta;

/// One of PgBouncer's pool modes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PoolMode {
    /// A server connection per client connection, for its lifetime.
    Session,
    /// A server connection per transaction.
    Transaction,
    /// A server connection per statement.
    Statement,
}

impl PoolMode {
    /// The value as `pgbouncer.ini` spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            PoolMode::Session => "session",
            PoolMode::Transaction => "transaction",
            PoolMode::Statement => "statement",
        }
    }
}

/// A config option with a value the charm cannot use.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid config option {option}: {reason}")]
pub struct InvalidOption {
    /// The option's name.
    pub option: &'static str,
    /// What is wrong with its value.
    pub reason: String,
}

/// The charm's options, checked. (A field added later reads as its default
/// from settings an older charm remembered.)
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Settings {
    /// `listen_port`: where PgBouncer listens.
    pub listen_port: u16,
    /// `pool_mode`.
    pub pool_mode: PoolMode,
    /// `max_db_connections`; 0 = unlimited.
    pub max_db_connections: u64,
    /// `max_prepared_statements`, 0..=[`MAX_PREPARED_STATEMENTS`]; 0 = off.
    pub max_prepared_statements: u32,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            listen_port: 6432,
            pool_mode: PoolMode::Session,
            max_db_connections: 100,
            max_prepared_statements: 100,
        }
    }
}

/// The most `max_prepared_statements` the charm accepts (as upstream does).
pub const MAX_PREPARED_STATEMENTS: u32 = 1000;

impl Settings {
    /// Checks `max_prepared_statements` (0..=1000); missing takes the default.
    pub fn with_max_prepared_statements(
        mut self,
        value: Option<&serde_json::Value>,
    ) -> Result<Self, InvalidOption> {
        if let Some(v) = value {
            self.max_prepared_statements = v
                .as_i64()
                .and_then(|n| u32::try_from(n).ok())
                .filter(|n| *n <= MAX_PREPARED_STATEMENTS)
                .ok_or_else(|| InvalidOption {
                    option: "max_prepared_statements",
                    reason: format!(
                        "{v} is not a whole number from 0 to {MAX_PREPARED_STATEMENTS}"
                    ),
                })?;
        }
        Ok(self)
    }

    /// Reads and checks the options from `config-get`. The outer error is
    /// Juju's (the hook tool failed); the inner one names a bad option.
    pub fn from_model(
        model: &Model,
    ) -> Result<Result<Self, InvalidOption>, ops::model::ModelError> {
        let config = model.config()?;
        // Raw JSON, so that a value out of range or of the wrong type is the
        // inner `InvalidOption` naming the option, not the outer error.
        let raw = |name: &str| config.get::<serde_json::Value>(name);
        let listen_port = raw(meta::options::LISTEN_PORT.name())?;
        let pool_mode = raw(meta::options::POOL_MODE.name())?;
        let max_db_connections = raw(meta::options::MAX_DB_CONNECTIONS.name())?;
        let max_prepared_statements = raw(meta::options::MAX_PREPARED_STATEMENTS.name())?;
        Ok(Self::from_values(
            listen_port.as_ref(),
            pool_mode.as_ref(),
            max_db_connections.as_ref(),
        )
        .and_then(|settings| {
            settings.with_max_prepared_statements(max_prepared_statements.as_ref())
        }))
    }

    /// Checks raw option values; a missing option takes its default.
    pub fn from_values(
        listen_port: Option<&serde_json::Value>,
        pool_mode: Option<&serde_json::Value>,
        max_db_connections: Option<&serde_json::Value>,
    ) -> Result<Self, InvalidOption> {
        let defaults = Self::default();
        let listen_port = match listen_port {
            None => defaults.listen_port,
            Some(v) => v
                .as_i64()
                .and_then(|p| u16::try_from(p).ok())
                .filter(|p| *p > 0)
                .ok_or_else(|| InvalidOption {
                    option: "listen_port",
                    reason: format!("{v} is not a port number (1-65535)"),
                })?,
        };
        let pool_mode = match pool_mode {
            None => defaults.pool_mode,
            Some(v) => match v.as_str() {
                Some("session") => PoolMode::Session,
                Some("transaction") => PoolMode::Transaction,
                Some("statement") => PoolMode::Statement,
                _ => {
                    return Err(InvalidOption {
                        option: "pool_mode",
                        reason: format!("{v} is not one of session, transaction, statement"),
                    });
                }
            },
        };
        let max_db_connections = match max_db_connections {
            None => defaults.max_db_connections,
            Some(v) => v
                .as_i64()
                .and_then(|m| u64::try_from(m).ok())
                .ok_or_else(|| InvalidOption {
                    option: "max_db_connections",
                    reason: format!("{v} is not a whole number >= 0"),
                })?,
        };
        Ok(Self {
            listen_port,
            pool_mode,
            max_db_connections,
            max_prepared_statements: defaults.max_prepared_statements,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn defaults_when_unset() {
        assert_eq!(
            Settings::from_values(None, None, None),
            Ok(Settings::default())
        );
    }

    #[test]
    fn valid_values() {
        let s = Settings::from_values(
            Some(&json!(7000)),
            Some(&json!("transaction")),
            Some(&json!(0)),
        )
        .unwrap();
        assert_eq!(
            (s.listen_port, s.pool_mode, s.max_db_connections),
            (7000, PoolMode::Transaction, 0)
        );
    }

    #[test]
    fn each_bad_value_names_its_option() {
        let err = Settings::from_values(Some(&json!(70000)), None, None).unwrap_err();
        assert_eq!(err.option, "listen_port");
        let err = Settings::from_values(Some(&json!(0)), None, None).unwrap_err();
        assert_eq!(err.option, "listen_port");
        let err = Settings::from_values(None, Some(&json!("sometimes")), None).unwrap_err();
        assert_eq!(err.option, "pool_mode");
        assert!(err.to_string().contains("sometimes"));
        let err = Settings::from_values(None, None, Some(&json!(-1))).unwrap_err();
        assert_eq!(err.option, "max_db_connections");
        for bad in [json!(-1), json!(1001), json!("100"), json!(1.5)] {
            let err = Settings::default()
                .with_max_prepared_statements(Some(&bad))
                .unwrap_err();
            assert_eq!(err.option, "max_prepared_statements", "{bad}");
        }
        for good in [0, 100, 1000] {
            let s = Settings::default()
                .with_max_prepared_statements(Some(&json!(good)))
                .unwrap();
            assert_eq!(s.max_prepared_statements, good);
        }
        assert_eq!(Settings::default().max_prepared_statements, 100);
    }

    #[test]
    fn settings_remembered_by_an_older_charm_read_with_the_new_default() {
        let old = r#"{"listen_port":7000,"pool_mode":"transaction","max_db_connections":5}"#;
        let s: Settings = serde_json::from_str(old).unwrap();
        assert_eq!((s.listen_port, s.max_prepared_statements), (7000, 100));
    }
}
