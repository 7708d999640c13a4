//! `pgbouncer.ini`: parse, validate, render, and the charm's defaults.
//!
//! A [`PgbConfig`] is an ordered list of sections (`[databases]`,
//! `[pgbouncer]`, `[users]`, any other), each an ordered list of options.
//! `[databases]` values are PgBouncer connection strings, `key=value` pairs
//! modelled by [`ConnParams`].
//!
//! Rendering is deterministic: sections and options in order, one blank line
//! between sections, `key = value` lines, user lists (`admin_users`,
//! `stats_users`) sorted and comma-joined, connection strings as `key=value`
//! joined by single spaces with values quoted only when they must be. So
//! rendering a parsed file gives back the same text, and a databag holding
//! the config changes only when the config does.
//!
//! The contract (issue 10: names and values may come from a remote
//! application): every mutator ([`PgbConfig::set`],
//! [`PgbConfig::add_database`], [`PgbConfig::set_database`],
//! [`PgbConfig::set_auth`], [`ConnParams::insert`], ...) refuses what could
//! not be written as exactly one entry that PgBouncer reads as meant, so a
//! value can never add a line, a section, a comment or a parameter.
//! [`PgbConfig::validate`] checks the same rules on a whole (say, parsed)
//! config, and for every config that validates,
//! `PgbConfig::parse(&c.render()) == c`; [`PgbConfig::render_validated`] is
//! the render to write to disk. The rules, from PgBouncer's ini and
//! connection-string parsers (a line is `key = value` to the end of the
//! line, a line starting with `;` or `#` is a comment, `[` starts a section,
//! a connection string is `key=value` pairs split at whitespace with
//! single-quoted values and `''` for a quote):
//!
//! - section names: `[A-Za-z0-9_-]{1,64}`;
//! - option names outside `[databases]`: `[A-Za-z0-9_.*-]{1,64}`;
//! - option values: no control character (anything below 0x20, 0x7f, and
//!   the C1 controls), no whitespace at either end;
//! - database names: `[A-Za-z0-9_-]{1,63}`, bare (never quoted), not
//!   `pgbouncer` (the admin console), in any case;
//! - connection parameters: one of PgBouncer's ([`CONN_PARAM_KEYS`]), each
//!   once; values non-empty printable ASCII without `\`, `"`, `;` or `#`
//!   (a space or `'` is written single-quoted, as PgBouncer reads it).
//!
//! Errors never hold a value, and name a key or section only once it is
//! known to be well-formed; [`PgbConfig::parse`] errors name a line number.
//!
//! # Where things are
//!
//! Four concepts, each in its own files. The files are private and their
//! public items are re-exported here, so every path is `pgb_config::X`.
//!
//! - The container layout, `layout.rs`: [`LIB_DIR`], [`LOG_DIR`],
//!   [`INI_PATH`], [`AUTH_FILE_PATH`], each instance's directory, config
//!   and pid file, [`instance_count`] and [`available_cpus`].
//! - The connection string of a `[databases]` entry, `conninfo.rs`:
//!   [`ConnParams`], its parser and quoting, [`ConnParamsError`].
//! - The ini document, in three files: `rules.rs`, the rules above as the
//!   checks the other two call, and [`PgbConfigError`]; `ini.rs`,
//!   [`PgbConfig`] itself (sections of options: parse, render, validate,
//!   get, set); `databases.rs`, its `[databases]` entries
//!   ([`PgbConfig::add_database`] and its kin).
//! - The charm's defaults, `defaults.rs`: [`PgbConfig::default_for`] and
//!   [`PgbConfig::apply_settings`] (both take the checked
//!   [`PoolMode`](crate::settings::PoolMode) of the charm's settings),
//!   [`pool_sizes`], [`PgbConfig::instance`], [`PgbConfig::set_auth`] and
//!   [`auth_query_for`], [`ADMIN_USER`], [`PgbConfig::with_base_dirs`].
//!
//! A file imports only files named before it in this list, never this
//! one, so the imports go one way: no circle.

mod conninfo;
mod databases;
mod defaults;
mod ini;
mod layout;
mod rules;

pub use conninfo::{CONN_PARAM_KEYS, ConnParams, ConnParamsError, Param};
pub use defaults::{
    ADMIN_USER, AUTH_TYPE, PEERING_SINCE, PEERS, PREPARED_STATEMENTS_SINCE, PoolSizes, STATS_USER,
    auth_query_for, major_minor, pool_sizes,
};
pub use ini::PgbConfig;
pub use layout::{
    AUTH_FILE_PATH, INI_PATH, LIB_DIR, LOG_DIR, TLS_CA_PATH, TLS_CERT_PATH, TLS_KEY_PATH,
    available_cpus, instance_count, instance_dir, instance_ini_path, instance_pidfile,
};
pub use rules::{
    DATABASES, MAX_DATABASE_NAME_LEN, MAX_NAME_LEN, PGBOUNCER, PgbConfigError, USER_LIST_OPTIONS,
};

/// The contract of the [module](self), over the whole API.
#[cfg(test)]
mod tests {
    use super::conninfo::strategies::{leaked, param_key, tricky};
    use super::ini::tests::valid_base;
    use super::*;
    use crate::test_support::matching;
    use proptest::prelude::*;

    /// Every entry of every section, counted.
    fn entry_count(config: &PgbConfig) -> usize {
        config.sections.iter().map(|s| s.entries.len()).sum()
    }

    #[derive(Debug, Clone)]
    enum Op {
        Set(String, String, String),
        AddDatabase(String, Vec<(String, String)>),
        SetAuth(String),
        Remove(String),
    }

    fn op() -> impl Strategy<Value = Op> {
        let section = prop_oneof![
            3 => Just(PGBOUNCER.to_string()),
            2 => Just(DATABASES.to_string()),
            1 => Just("users".to_string()),
            1 => tricky(),
        ];
        let name = prop_oneof![3 => matching("[A-Za-z0-9_-]{1,8}"), 2 => tricky()];
        let value = prop_oneof![2 => matching("[ -~]{0,10}"), 2 => tricky()];
        prop_oneof![
            (section, name.clone(), value.clone()).prop_map(|(s, k, v)| Op::Set(s, k, v)),
            (
                name.clone(),
                prop::collection::vec((param_key(), value), 0..4)
            )
                .prop_map(|(n, p)| Op::AddDatabase(n, p)),
            prop_oneof![matching("[a-z0-9_]{1,10}"), tricky()].prop_map(Op::SetAuth),
            name.prop_map(Op::Remove),
        ]
    }

    proptest! {
        #![proptest_config(crate::test_support::proptest_config())]

        /// Issue 15 item 5: whatever the API is given, either it refuses
        /// (changing nothing, saying nothing of the value) or the rendered
        /// text has one line per entry and parses back equal.
        #[test]
        fn prop_pgbconfig_api_one_line_per_entry(ops in prop::collection::vec(op(), 1..8)) {
            let mut config = valid_base();
            for op in ops {
                let before = config.clone();
                let (result, input) = match &op {
                    Op::Set(s, k, v) => (config.set(s, k, v), format!("{s}{k}{v}")),
                    Op::AddDatabase(n, pairs) => {
                        let pairs: Vec<(&str, &str)> =
                            pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
                        let input = pairs.iter().map(|(k, v)| format!("{k}{v}")).collect::<String>();
                        (config.add_database(n, &pairs), format!("{n}{input}"))
                    }
                    Op::SetAuth(user) => (config.set_auth(user), user.clone()),
                    Op::Remove(n) => {
                        config.remove_database(n);
                        (Ok(()), String::new())
                    }
                };
                if let Err(e) = result {
                    prop_assert_eq!(&config, &before, "{:?} was refused but changed the config", op);
                    // Names are only in errors once valid; values never.
                    if let Op::Set(_, _, v) | Op::SetAuth(v) = &op {
                        prop_assert_eq!(leaked(v, &e.to_string()), None, "{}", e);
                    }
                    if let Op::AddDatabase(_, pairs) = &op {
                        for (_, v) in pairs {
                            prop_assert_eq!(leaked(v, &e.to_string()), None, "{}", e);
                        }
                    }
                    let _ = input;
                }
                prop_assert_eq!(config.validate(), Ok(()));
            }
            let rendered = config.render_validated().unwrap();
            let headers = rendered.lines().filter(|l| l.starts_with('[')).count();
            let entries = rendered
                .lines()
                .filter(|l| !l.is_empty() && !l.starts_with('['))
                .count();
            prop_assert_eq!(headers, config.sections.len(), "{}", rendered);
            prop_assert_eq!(entries, entry_count(&config), "{}", rendered);
            prop_assert!(!rendered.lines().any(|l| l.starts_with([';', '#', '%'])));
            let parsed = PgbConfig::parse(&rendered).unwrap();
            prop_assert_eq!(&parsed, &config);
            prop_assert_eq!(parsed.render(), rendered);
        }
    }
}
