//! The rules a `pgbouncer.ini` keeps (listed in the [module doc](super)):
//! which section, option and database names and which option values
//! PgBouncer reads as meant, and [`PgbConfigError`], what breaking one is
//! called.

use super::conninfo::{ConnParams, ConnParamsError};

/// The section of database definitions.
pub const DATABASES: &str = "databases";
/// The section of PgBouncer's own settings.
pub const PGBOUNCER: &str = "pgbouncer";
/// `[pgbouncer]` options that hold comma-separated user lists, rendered sorted.
pub const USER_LIST_OPTIONS: [&str; 2] = ["admin_users", "stats_users"];

/// The longest section or option name accepted.
pub const MAX_NAME_LEN: usize = 64;
/// The longest database name accepted (PostgreSQL's identifier limit).
pub const MAX_DATABASE_NAME_LEN: usize = 63;

/// What is wrong with a config. Never holds a value; names a section or key
/// only when it is well-formed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PgbConfigError {
    /// Text that is not a config: the line and what is wrong with it.
    #[error("line {line}: {reason}")]
    Parse {
        /// The line, from 1.
        line: usize,
        /// What is wrong (never text from the line).
        reason: String,
    },
    /// A required section is missing.
    #[error("section [{section}] is missing")]
    MissingSection {
        /// The section.
        section: String,
    },
    /// A required option is missing.
    #[error("option {option} is missing from [{section}]")]
    MissingOption {
        /// The section.
        section: String,
        /// The option.
        option: String,
    },
    /// A database name that is not `[A-Za-z0-9_-]{1,63}`.
    #[error("a database name ({len} bytes) must match [A-Za-z0-9_-]{{1,63}}")]
    InvalidDatabaseName {
        /// The name's length in bytes.
        len: usize,
    },
    /// `pgbouncer` is PgBouncer's own admin database.
    #[error("database name pgbouncer is reserved by PgBouncer")]
    ReservedDatabaseName,
    /// A `[databases]` entry whose connection string is not sound.
    #[error("database {name}: {source}")]
    InvalidDatabaseEntry {
        /// The database (a valid name).
        name: String,
        /// What is wrong with its connection string.
        source: ConnParamsError,
    },
    /// A section name that is not `[A-Za-z0-9_-]{1,64}`.
    #[error("a section name ({len} bytes) must match [A-Za-z0-9_-]{{1,64}}")]
    InvalidSectionName {
        /// The name's length in bytes.
        len: usize,
    },
    /// An option name PgBouncer would not read.
    #[error("an option name ({len} bytes) in [{section}] must match [A-Za-z0-9_.*-]{{1,64}}")]
    InvalidOptionName {
        /// The section.
        section: String,
        /// The name's length in bytes.
        len: usize,
    },
    /// An option value that cannot be written on one line, or that PgBouncer
    /// would not accept.
    #[error("option {key} in [{section}] has an invalid value: {reason}")]
    InvalidValue {
        /// The section.
        section: String,
        /// The option.
        key: String,
        /// What is wrong.
        reason: &'static str,
    },
    /// An `auth_user` that is not `[a-z0-9_]{1,63}`.
    #[error("the auth user ({len} bytes) must match [a-z0-9_]{{1,63}}")]
    InvalidAuthUser {
        /// The name's length in bytes.
        len: usize,
    },
    /// Pool sizes need at least one instance.
    #[error("cannot share connections over {instances} instances")]
    NoInstances {
        /// The instance count given.
        instances: usize,
    },
}

fn is_database_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= MAX_DATABASE_NAME_LEN
        && name
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || c == b'_' || c == b'-')
}

pub(super) fn check_database_name(name: &str) -> Result<(), PgbConfigError> {
    if !is_database_name(name) {
        return Err(PgbConfigError::InvalidDatabaseName { len: name.len() });
    }
    if name.eq_ignore_ascii_case("pgbouncer") {
        return Err(PgbConfigError::ReservedDatabaseName);
    }
    Ok(())
}

fn is_option_name(key: &str) -> bool {
    !key.is_empty()
        && key.len() <= MAX_NAME_LEN
        && key
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || b"_.*-".contains(&c))
}

pub(super) fn is_section_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= MAX_NAME_LEN
        && name
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || c == b'_' || c == b'-')
}

pub(super) fn check_section_name(name: &str) -> Result<(), PgbConfigError> {
    if is_section_name(name) {
        Ok(())
    } else {
        Err(PgbConfigError::InvalidSectionName { len: name.len() })
    }
}

pub(super) fn check_option_name(section: &str, key: &str) -> Result<(), PgbConfigError> {
    if is_option_name(key) {
        Ok(())
    } else {
        Err(PgbConfigError::InvalidOptionName {
            section: section.to_string(),
            len: key.len(),
        })
    }
}

/// Whether `text` holds a control character (`char::is_control`: C0,
/// DEL and C1), found a byte at a time: each is a byte below 0x20, 0x7F,
/// or 0xC2 followed by 0x80..=0x9F (C1's UTF-8; 0xC2 only ever starts a
/// character). Every option value of every config a dispatch validates
/// goes through here: decoding each character took a tenth of validating.
pub(super) fn has_control(text: &str) -> bool {
    let bytes = text.as_bytes();
    bytes.iter().enumerate().any(|(i, &b)| {
        b < 0x20
            || b == 0x7f
            || (b == 0xc2
                && bytes
                    .get(i + 1)
                    .is_some_and(|next| (0x80..=0x9f).contains(next)))
    })
}

/// An option value (outside `[databases]`) as it is kept: no control
/// character, no whitespace at either end.
pub(super) fn check_option_value(
    section: &str,
    key: &str,
    value: &str,
) -> Result<(), PgbConfigError> {
    let reason = if has_control(value) {
        "it holds a control character"
    } else if value != value.trim() {
        "it starts or ends with whitespace"
    } else {
        return Ok(());
    };
    Err(PgbConfigError::InvalidValue {
        section: section.to_string(),
        key: key.to_string(),
        reason,
    })
}

pub(super) fn check_auth_user(auth_user: &str) -> Result<(), PgbConfigError> {
    let ok = !auth_user.is_empty()
        && auth_user.len() <= 63
        && auth_user
            .bytes()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'_');
    if ok {
        Ok(())
    } else {
        Err(PgbConfigError::InvalidAuthUser {
            len: auth_user.len(),
        })
    }
}

/// A `[databases]` value, parsed and checked.
pub(super) fn check_database_entry(name: &str, value: &str) -> Result<ConnParams, PgbConfigError> {
    ConnParams::parse(value)
        .and_then(|params| params.validate().map(|()| params))
        .map_err(|source| PgbConfigError::InvalidDatabaseEntry {
            name: name.to_string(),
            source,
        })
}

#[cfg(test)]
mod tests {
    use super::super::conninfo::Param;
    use super::*;
    use crate::test_support::matching;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(crate::test_support::proptest_config())]

        #[test]
        fn prop_has_control_is_chars_is_control(
            text in matching("[\\x00-\\x{a0}]{1,4}|\\PC{0,12}|.{0,12}"),
        ) {
            prop_assert_eq!(has_control(&text), text.contains(char::is_control));
        }
    }

    #[test]
    fn has_control_finds_c0_del_and_c1_only() {
        for control in ['\0', '\n', '\x1f', '\x7f', '\u{80}', '\u{9f}'] {
            assert!(has_control(&format!("a{control}b")), "{:?}", control);
            assert!(has_control(&control.to_string()), "{:?}", control);
        }
        for plain in ["", " ", "~", "\u{a0}", "\u{100}", "é", "\u{c2}x", "日本"] {
            assert!(!has_control(plain), "{plain:?}");
        }
    }

    #[test]
    fn error_messages() {
        let cases = [
            (
                PgbConfigError::InvalidDatabaseName { len: 3 },
                "a database name (3 bytes) must match [A-Za-z0-9_-]{1,63}",
            ),
            (
                PgbConfigError::InvalidDatabaseEntry {
                    name: "db".into(),
                    source: ConnParamsError::EmptyValue {
                        param: Param {
                            index: 0,
                            known: Some("host"),
                        },
                    },
                },
                "database db: host has an empty value",
            ),
            (
                PgbConfigError::InvalidOptionName {
                    section: "pgbouncer".into(),
                    len: 3,
                },
                "an option name (3 bytes) in [pgbouncer] must match [A-Za-z0-9_.*-]{1,64}",
            ),
            (
                PgbConfigError::Parse {
                    line: 7,
                    reason: "x".into(),
                },
                "line 7: x",
            ),
            (
                PgbConfigError::MissingSection {
                    section: "databases".into(),
                },
                "section [databases] is missing",
            ),
            (
                PgbConfigError::InvalidAuthUser { len: 2 },
                "the auth user (2 bytes) must match [a-z0-9_]{1,63}",
            ),
        ];
        for (err, text) in cases {
            assert_eq!(err.to_string(), text);
        }
    }
}
