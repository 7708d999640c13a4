//! The `[databases]` section of a [`PgbConfig`]: one entry per database,
//! its connection string a [`ConnParams`].

use super::conninfo::ConnParams;
use super::ini::PgbConfig;
use super::rules::{DATABASES, PgbConfigError, check_database_name};

impl PgbConfig {
    /// Adds or replaces a `[databases]` entry (in place if it is there); a
    /// later pair replaces an earlier one with the same key. Refuses,
    /// changing nothing, a name or parameter that breaks a rule.
    pub fn add_database(
        &mut self,
        name: &str,
        params: &[(&str, &str)],
    ) -> Result<(), PgbConfigError> {
        let params = ConnParams::from_pairs(params.iter().copied()).map_err(|source| {
            match check_database_name(name) {
                Err(bad_name) => bad_name,
                Ok(()) => PgbConfigError::InvalidDatabaseEntry {
                    name: name.to_string(),
                    source,
                },
            }
        })?;
        self.set_database(name, &params)
    }

    /// Adds or replaces a `[databases]` entry (in place if it is there).
    /// Refuses, changing nothing, a name or parameter that breaks a rule.
    pub fn set_database(&mut self, name: &str, params: &ConnParams) -> Result<(), PgbConfigError> {
        check_database_name(name)?;
        params
            .validate()
            .map_err(|source| PgbConfigError::InvalidDatabaseEntry {
                name: name.to_string(),
                source,
            })?;
        self.put(DATABASES, name, params.render());
        Ok(())
    }

    /// Removes a `[databases]` entry; true if it was there.
    pub fn remove_database(&mut self, name: &str) -> bool {
        self.remove(DATABASES, name)
    }

    /// A `[databases]` entry's parameters, if it is there (and parses, which
    /// it does in every config that validates).
    pub fn database(&self, name: &str) -> Option<ConnParams> {
        ConnParams::parse(self.get(DATABASES, name)?).ok()
    }

    /// The `[databases]` entries and their parameters, in order (an entry
    /// that does not parse, which [`validate`](Self::validate) reports, comes
    /// with no parameters).
    pub fn databases(&self) -> Vec<(String, ConnParams)> {
        self.options(DATABASES)
            .map(|(name, value)| {
                (
                    name.to_string(),
                    ConnParams::parse(value).unwrap_or_default(),
                )
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::super::conninfo::{ConnParamsError, Param};
    use super::super::ini::tests::valid_base;
    use super::*;

    /// A valid config's text with one more `[databases]` line.
    fn with_database_line(line: &str) -> String {
        format!("[databases]\n{line}\n\n[pgbouncer]\nlogfile = /l\npidfile = /p\n")
    }

    #[test]
    fn database_names() {
        for good in ["a", "A-b_9", "x-y", &"d".repeat(63)] {
            let mut config = valid_base();
            config.add_database(good, &[("host", "h")]).unwrap();
            assert_eq!(config.validate(), Ok(()), "{good}");
            assert_eq!(PgbConfig::parse(&config.render()).unwrap(), config);
        }
        for bad in [
            "bad name!",
            "a.b",
            "*",
            "",
            "\"\"",
            "\"my db\"",
            "\"a",
            "é",
            "a\nb",
            "appdb = host=127.0.0.66 port=5999\n;",
            &"d".repeat(64),
        ] {
            let mut config = valid_base();
            let before = config.clone();
            let want = PgbConfigError::InvalidDatabaseName { len: bad.len() };
            assert_eq!(
                config.add_database(bad, &[("host", "h")]),
                Err(want.clone()),
                "{bad:?}"
            );
            assert_eq!(
                config.set_database(bad, &ConnParams::new()),
                Err(want.clone())
            );
            assert_eq!(config.set(DATABASES, bad, "host=h"), Err(want.clone()));
            assert_eq!(config, before, "a refused name changed nothing");
            // The same name in a parsed file is refused by validate.
            if !bad.contains(['\n', '=']) && !bad.is_empty() && !bad.starts_with('"') {
                let parsed = PgbConfig::parse(&with_database_line(&format!("{bad} = host=h")))
                    .unwrap_or_else(|e| panic!("{bad:?}: {e}"));
                assert_eq!(parsed.validate(), Err(want.clone()), "{bad:?}");
                assert!(parsed.render_validated().is_err());
            }
        }
        for reserved in ["pgbouncer", "PgBouncer"] {
            let mut config = valid_base();
            let err = config.add_database(reserved, &[]).unwrap_err();
            assert_eq!(err, PgbConfigError::ReservedDatabaseName);
            assert!(err.to_string().contains("reserved"));
            let parsed = PgbConfig::parse(&with_database_line(&format!("{reserved} ="))).unwrap();
            assert_eq!(parsed.validate(), Err(PgbConfigError::ReservedDatabaseName));
        }
    }

    /// Issue 10: a client's `database` written verbatim as a `[databases]`
    /// key once added a second entry pointing elsewhere.
    #[test]
    fn a_hostile_database_name_adds_no_entry() {
        let hostile = "appdb = host=127.0.0.66 port=5999\n;";
        let mut config = valid_base();
        assert!(
            config
                .add_database(hostile, &[("host", "127.0.0.1"), ("dbname", hostile)])
                .is_err()
        );
        assert!(config.set(DATABASES, hostile, "host=127.0.0.1").is_err());
        assert_eq!(config, valid_base());
        assert!(!config.render().contains("127.0.0.66"));
        // As a value, it is refused too (a line break, a `;`).
        let err = config
            .add_database("appdb", &[("host", "127.0.0.1"), ("dbname", hostile)])
            .unwrap_err();
        assert_eq!(
            err,
            PgbConfigError::InvalidDatabaseEntry {
                name: "appdb".into(),
                source: ConnParamsError::ForbiddenCharacter {
                    param: Param {
                        index: 1,
                        known: Some("dbname")
                    }
                }
            }
        );
        assert!(!err.to_string().contains("127.0.0.66"), "{err}");
        assert_eq!(config, valid_base());
    }

    #[test]
    fn unsound_entries_are_refused() {
        let entry = |params: &[(&str, &str)]| {
            let mut config = valid_base();
            let err = config.add_database("db", params).unwrap_err();
            assert_eq!(config, valid_base());
            match err {
                PgbConfigError::InvalidDatabaseEntry { name, source } => {
                    assert_eq!(name, "db");
                    source
                }
                other => panic!("{other:?}"),
            }
        };
        let host = |index| Param {
            index,
            known: Some("host"),
        };
        assert_eq!(
            entry(&[("host", "")]),
            ConnParamsError::EmptyValue { param: host(0) }
        );
        for bad in ["a\nb", "a\tb", "a\\b", "a\"b", "a;b", "a#b", "é", "a\u{7f}"] {
            assert_eq!(
                entry(&[("port", "1"), ("host", bad)]),
                ConnParamsError::ForbiddenCharacter { param: host(1) },
                "{bad:?}"
            );
        }
        for key in ["a b", "", "hostx", "HOST", "host=x"] {
            assert_eq!(
                entry(&[(key, "x")]),
                ConnParamsError::UnknownKey {
                    param: Param {
                        index: 0,
                        known: None
                    },
                    len: key.len()
                },
                "{key:?}"
            );
        }

        // A parsed file: validate finds what the API refuses.
        let mut raw = valid_base();
        raw.put(DATABASES, "db", "host='unclosed".to_string());
        assert_eq!(raw.get(DATABASES, "db"), Some("host='unclosed"));
        assert!(raw.databases()[0].1.is_empty());
        assert_eq!(raw.database("db"), None);
        assert_eq!(
            raw.validate(),
            Err(PgbConfigError::InvalidDatabaseEntry {
                name: "db".into(),
                source: ConnParamsError::UnterminatedQuote { param: host(0) }
            })
        );
        let parsed =
            PgbConfig::parse(&with_database_line("db = host=h bogus=1 user='a\\b'")).unwrap();
        assert!(matches!(
            parsed.validate(),
            Err(PgbConfigError::InvalidDatabaseEntry {
                source: ConnParamsError::UnknownKey { .. },
                ..
            })
        ));
    }

    #[test]
    fn databases_are_added_replaced_and_removed() {
        let mut config = valid_base();
        config
            .add_database("one", &[("host", "h1"), ("dbname", "one")])
            .unwrap();
        config
            .add_database("two", &[("host", "h2"), ("dbname", "my two")])
            .unwrap();
        config
            .add_database("one", &[("host", "h3"), ("host", "h4"), ("port", "1")])
            .unwrap();
        let dbs = config.databases();
        assert_eq!(dbs.len(), 2);
        assert_eq!(dbs[0].0, "one");
        assert_eq!(
            dbs[0].1.iter().cloned().collect::<Vec<_>>(),
            [
                ("host".to_string(), "h4".to_string()),
                ("port".into(), "1".into())
            ]
        );
        assert_eq!(
            config.get(DATABASES, "two"),
            Some("host=h2 dbname='my two'")
        );
        let dbname = dbs[1]
            .1
            .iter()
            .find(|(k, _)| k == "dbname")
            .map(|(_, v)| v.clone());
        assert_eq!(dbname.as_deref(), Some("my two"));

        let mut params = ConnParams::new();
        params.insert("host", "h5").unwrap();
        config.set_database("three", &params).unwrap();
        assert_eq!(config.database("three"), Some(params));
        assert_eq!(config.database("four"), None);

        assert!(config.remove_database("one"));
        assert!(!config.remove_database("one"));
        assert_eq!(
            config
                .databases()
                .into_iter()
                .map(|(n, _)| n)
                .collect::<Vec<_>>(),
            ["two", "three"]
        );
        config.validate().unwrap();
    }
}
