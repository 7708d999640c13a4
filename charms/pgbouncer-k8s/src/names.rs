//! Names that come from outside the charm (a remote application's databag),
//! validated once, at the edge, into types the rest of the charm can trust.
//!
//! - [`ClientDatabase`]: the `database` a client asks for. It becomes a
//!   `[databases]` key in `pgbouncer.ini`, a PostgreSQL database name and a
//!   `dbname=` connection parameter, so it is held to what all three read
//!   the same way: `[A-Za-z0-9_-]{1,63}`, and none of PostgreSQL's or
//!   PgBouncer's own databases.
//! - [`BackendUser`]: the `username` the backend gives us. The auth user
//!   (`pgbouncer_auth_<user>`) and the clients' marker role
//!   (`pgbouncer_auth_<user>_clients`) are built from it and must fit
//!   PostgreSQL's 63-byte identifiers (PostgreSQL would silently truncate a
//!   longer one), so it is `[a-z0-9_]{1,40}`.
//! - [`ExtraUserRoles`]: a client's `extra-user-roles`. Least privilege: the
//!   only role attribute a client may ask for is `CREATEDB` (it lets the
//!   client make more databases of its own, owned by it, and nothing on
//!   other tenants' data). `SUPERUSER`, `CREATEROLE`, `REPLICATION`,
//!   `BYPASSRLS`, predefined roles such as `pg_read_all_data`, and anything
//!   else are refused.
//!
//! A [`NameError`] names the field and the rule broken, and the value's
//! length — never the value itself, so a hostile 200 kB value gives a short
//! error and nothing from a databag reaches a log.

use std::fmt;

/// The longest PostgreSQL identifier, in bytes (`NAMEDATALEN` - 1).
pub const MAX_IDENTIFIER: usize = 63;
/// The longest backend user name: `pgbouncer_auth_` + user + `_clients`
/// fits in [`MAX_IDENTIFIER`].
pub const MAX_BACKEND_USER: usize = 40;
/// Database names a client may not ask for (compared case-insensitively):
/// PostgreSQL's own databases and PgBouncer's admin console.
pub const RESERVED_DATABASES: [&str; 4] = ["postgres", "template0", "template1", "pgbouncer"];
/// The suffix of a client database's read-only route in `[databases]`
/// (`appdb_readonly` goes to the backend's read-only endpoints); a client
/// may not ask for a database that ends in it.
pub const READ_ONLY_SUFFIX: &str = "_readonly";

/// Which rule a refused name broke.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NameRule {
    /// The value is empty.
    Empty,
    /// The value is longer than `max` bytes.
    TooLong {
        /// The limit.
        max: usize,
    },
    /// A character outside the allowed set (described).
    Charset(&'static str),
    /// One of [`RESERVED_DATABASES`].
    Reserved,
    /// An `extra-user-roles` entry that is not allowed: a role of
    /// [`REFUSED_ROLES`] (named, with why), or one this charm does not know
    /// (never echoed: it is remote text).
    RoleNotAllowed(Option<&'static RefusedRole>),
    /// A database name ending in [`READ_ONLY_SUFFIX`], which names the
    /// read-only routes of the clients' databases.
    ReadOnlySuffix,
}

impl fmt::Display for NameRule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Empty => f.write_str("it is empty"),
            Self::TooLong { max } => write!(f, "it is longer than {max} bytes"),
            Self::Charset(set) => write!(f, "it must consist of {set}"),
            Self::ReadOnlySuffix => write!(
                f,
                "it ends in {READ_ONLY_SUFFIX}, which names the read-only route of a database"
            ),
            Self::Reserved => write!(
                f,
                "it is reserved ({} are PostgreSQL's and PgBouncer's own)",
                RESERVED_DATABASES.join(", ")
            ),
            Self::RoleNotAllowed(Some(role)) => {
                write!(f, "{} is not granted: {}", role.name, role.why)
            }
            Self::RoleNotAllowed(None) => f.write_str(
                "it names a role this charm does not grant (only CREATEDB may be asked for: \
                 a comma-separated list, or nothing)",
            ),
        }
    }
}

/// A name from outside that was refused. The message names the field, the
/// rule and the length, never the value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("{field} ({len} bytes) is refused: {rule}")]
pub struct NameError {
    /// The databag field (`database`, `username`, `extra-user-roles`).
    pub field: &'static str,
    /// The value's length in bytes.
    pub len: usize,
    /// The rule it broke.
    pub rule: NameRule,
}

const CLIENT_DATABASE_CHARSET: &str = "ASCII letters, digits, _ and -";
const BACKEND_USER_CHARSET: &str = "lowercase ASCII letters, digits and _";

fn check(
    field: &'static str,
    value: &str,
    max: usize,
    charset: &'static str,
    allowed: fn(u8) -> bool,
) -> Result<(), NameError> {
    let fail = |rule| NameError {
        field,
        len: value.len(),
        rule,
    };
    if value.is_empty() {
        return Err(fail(NameRule::Empty));
    }
    if value.len() > max {
        return Err(fail(NameRule::TooLong { max }));
    }
    if !value.bytes().all(allowed) {
        return Err(fail(NameRule::Charset(charset)));
    }
    Ok(())
}

/// A database a client asked for: `[A-Za-z0-9_-]{1,63}`, not one of
/// [`RESERVED_DATABASES`] (in any case).
///
/// ```
/// use pgbouncer_k8s::names::ClientDatabase;
///
/// let db = ClientDatabase::parse("app-db_1").unwrap();
/// assert_eq!(db.as_str(), "app-db_1");
/// assert!(ClientDatabase::parse("Template1").is_err());
/// let err = ClientDatabase::parse("appdb = host=127.0.0.66\n;").unwrap_err();
/// assert!(!err.to_string().contains("host"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ClientDatabase(String);

impl ClientDatabase {
    /// The field name used in errors.
    pub const FIELD: &'static str = "database";

    /// Validates a client's `database`.
    pub fn parse(value: &str) -> Result<Self, NameError> {
        check(
            Self::FIELD,
            value,
            MAX_IDENTIFIER,
            CLIENT_DATABASE_CHARSET,
            |b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-',
        )?;
        if RESERVED_DATABASES
            .iter()
            .any(|r| r.eq_ignore_ascii_case(value))
        {
            return Err(NameError {
                field: Self::FIELD,
                len: value.len(),
                rule: NameRule::Reserved,
            });
        }
        if value.to_ascii_lowercase().ends_with(READ_ONLY_SUFFIX) {
            return Err(NameError {
                field: Self::FIELD,
                len: value.len(),
                rule: NameRule::ReadOnlySuffix,
            });
        }
        Ok(Self(value.to_string()))
    }

    /// The `[databases]` entry of this database's read-only route
    /// (`<name>_readonly`), if the name leaves room for the suffix in
    /// PostgreSQL's 63 bytes.
    ///
    /// ```
    /// use pgbouncer_k8s::names::ClientDatabase;
    /// let db = ClientDatabase::parse("appdb").unwrap();
    /// assert_eq!(db.read_only_entry().as_deref(), Some("appdb_readonly"));
    /// assert_eq!(ClientDatabase::parse(&"a".repeat(60)).unwrap().read_only_entry(), None);
    /// ```
    pub fn read_only_entry(&self) -> Option<String> {
        let entry = format!("{}{READ_ONLY_SUFFIX}", self.0);
        (entry.len() <= MAX_IDENTIFIER).then_some(entry)
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ClientDatabase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl AsRef<str> for ClientDatabase {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

/// The backend's `username`: `[a-z0-9_]{1,40}` (see [`MAX_BACKEND_USER`]).
///
/// ```
/// use pgbouncer_k8s::names::BackendUser;
///
/// assert_eq!(BackendUser::parse("relation_id_3").unwrap().as_str(), "relation_id_3");
/// assert!(BackendUser::parse("x\"; DROP ROLE postgres; --").is_err());
/// ```
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct BackendUser(String);

impl BackendUser {
    /// The field name used in errors.
    pub const FIELD: &'static str = "username";

    /// Validates the backend's `username`.
    pub fn parse(value: &str) -> Result<Self, NameError> {
        check(
            Self::FIELD,
            value,
            MAX_BACKEND_USER,
            BACKEND_USER_CHARSET,
            |b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_',
        )?;
        Ok(Self(value.to_string()))
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for BackendUser {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl AsRef<str> for BackendUser {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

/// A role or attribute a client may ask for and is refused, with why: what
/// it would reach beyond the client's own database.
#[derive(Debug, PartialEq, Eq)]
pub struct RefusedRole {
    /// Its name, as PostgreSQL spells it.
    pub name: &'static str,
    /// What it would let a client do to the other tenants or the server.
    pub why: &'static str,
}

/// The roles and attributes PostgreSQL clients ask for that this charm
/// refuses (`docs/pgbouncer-k8s.md` has the table, beside upstream's).
pub const REFUSED_ROLES: &[RefusedRole] = &[
    RefusedRole {
        name: "SUPERUSER",
        why: "bypasses every permission check, on every tenant's data",
    },
    RefusedRole {
        name: "CREATEROLE",
        why: "can make roles and manage other roles' memberships",
    },
    RefusedRole {
        name: "REPLICATION",
        why: "can stream the whole cluster's WAL, every tenant's data",
    },
    RefusedRole {
        name: "BYPASSRLS",
        why: "bypasses row-level security",
    },
    RefusedRole {
        name: "admin",
        why: "upstream's alias of superuser-like rights",
    },
    RefusedRole {
        name: "pg_read_all_data",
        why: "reads every table of every tenant",
    },
    RefusedRole {
        name: "pg_write_all_data",
        why: "writes every table of every tenant",
    },
    RefusedRole {
        name: "pg_read_server_files",
        why: "reads the server's files",
    },
    RefusedRole {
        name: "pg_write_server_files",
        why: "writes the server's files",
    },
    RefusedRole {
        name: "pg_execute_server_program",
        why: "runs programs on the server",
    },
    RefusedRole {
        name: "pg_monitor",
        why: "sees every session's queries and statistics",
    },
    RefusedRole {
        name: "pg_read_all_stats",
        why: "sees every session's queries and statistics",
    },
    RefusedRole {
        name: "pg_read_all_settings",
        why: "reads every server setting",
    },
    RefusedRole {
        name: "pg_stat_scan_tables",
        why: "locks and scans other tenants' tables",
    },
    RefusedRole {
        name: "pg_signal_backend",
        why: "cancels and ends other tenants' sessions",
    },
    RefusedRole {
        name: "pg_checkpoint",
        why: "runs checkpoints for the whole server",
    },
    RefusedRole {
        name: "pg_create_subscription",
        why: "opens connections from the server to anywhere",
    },
    RefusedRole {
        name: "pg_use_reserved_connections",
        why: "takes the connections kept for administrators",
    },
];

/// A role attribute a client may ask for in `extra-user-roles`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ExtraRole {
    /// `CREATEDB`: the client may create databases (owned by it).
    CreateDb,
}

impl ExtraRole {
    /// The SQL role option (`CREATEDB`).
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::CreateDb => "CREATEDB",
        }
    }
}

/// A client's `extra-user-roles`: comma-separated, case-insensitive, blanks
/// around entries ignored, empty for none; only `CREATEDB` is accepted.
///
/// ```
/// use pgbouncer_k8s::names::{ExtraRole, ExtraUserRoles};
///
/// assert!(ExtraUserRoles::parse("").unwrap().roles().is_empty());
/// assert_eq!(ExtraUserRoles::parse(" createdb ").unwrap().roles(), [ExtraRole::CreateDb]);
/// assert_eq!(ExtraUserRoles::parse("CREATEDB").unwrap().to_string(), "CREATEDB");
/// assert!(ExtraUserRoles::parse("SUPERUSER").is_err());
/// assert!(ExtraUserRoles::parse("createdb,pg_read_all_data").is_err());
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct ExtraUserRoles(Vec<ExtraRole>);

impl ExtraUserRoles {
    /// The field name used in errors.
    pub const FIELD: &'static str = "extra-user-roles";
    /// The longest field accepted, in bytes.
    pub const MAX_LEN: usize = 256;

    /// Validates a client's `extra-user-roles`.
    pub fn parse(value: &str) -> Result<Self, NameError> {
        let fail = |rule| NameError {
            field: Self::FIELD,
            len: value.len(),
            rule,
        };
        if value.len() > Self::MAX_LEN {
            return Err(fail(NameRule::TooLong { max: Self::MAX_LEN }));
        }
        let mut roles = Vec::new();
        for entry in value.split(',').map(str::trim) {
            if entry.is_empty() {
                continue;
            }
            let role = if entry.eq_ignore_ascii_case("CREATEDB") {
                ExtraRole::CreateDb
            } else {
                let known = REFUSED_ROLES
                    .iter()
                    .find(|r| r.name.eq_ignore_ascii_case(entry));
                return Err(fail(NameRule::RoleNotAllowed(known)));
            };
            if !roles.contains(&role) {
                roles.push(role);
            }
        }
        roles.sort_unstable();
        Ok(Self(roles))
    }

    /// The roles, sorted, each once.
    pub fn roles(&self) -> &[ExtraRole] {
        &self.0
    }
}

impl fmt::Display for ExtraUserRoles {
    /// Comma-joined (`CREATEDB`), empty for none.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<&str> = self.0.iter().map(ExtraRole::as_str).collect();
        f.write_str(&names.join(","))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::matching;
    use proptest::prelude::*;

    #[test]
    fn client_databases() {
        for good in ["a", "A-b_9", "appdb", &"x".repeat(63), "postgres1", "-"] {
            assert_eq!(ClientDatabase::parse(good).unwrap().as_str(), good);
        }
        for (bad, rule) in [
            ("", NameRule::Empty),
            (&"x".repeat(64), NameRule::TooLong { max: 63 }),
            ("a b", NameRule::Charset(CLIENT_DATABASE_CHARSET)),
            ("a.b", NameRule::Charset(CLIENT_DATABASE_CHARSET)),
            ("\"a\"", NameRule::Charset(CLIENT_DATABASE_CHARSET)),
            ("é", NameRule::Charset(CLIENT_DATABASE_CHARSET)),
            ("*", NameRule::Charset(CLIENT_DATABASE_CHARSET)),
            (
                "appdb = host=127.0.0.66 port=5999\n;",
                NameRule::Charset(CLIENT_DATABASE_CHARSET),
            ),
            ("postgres", NameRule::Reserved),
            ("Postgres", NameRule::Reserved),
            ("TEMPLATE0", NameRule::Reserved),
            ("template1", NameRule::Reserved),
            ("pgBouncer", NameRule::Reserved),
            ("appdb_readonly", NameRule::ReadOnlySuffix),
            ("APPDB_READONLY", NameRule::ReadOnlySuffix),
        ] {
            let err = ClientDatabase::parse(bad).unwrap_err();
            assert_eq!(
                err,
                NameError {
                    field: "database",
                    len: bad.len(),
                    rule
                },
                "{bad:?}"
            );
        }
    }

    #[test]
    fn backend_users() {
        for good in ["relation_id_3", "a", &"u".repeat(40)] {
            assert_eq!(BackendUser::parse(good).unwrap().to_string(), good);
        }
        for bad in ["", "Relation", "relation-3", "a b", "a\"b", &"u".repeat(41)] {
            assert_eq!(BackendUser::parse(bad).unwrap_err().field, "username");
        }
    }

    #[test]
    fn extra_user_roles() {
        assert_eq!(
            ExtraUserRoles::parse("").unwrap(),
            ExtraUserRoles::default()
        );
        assert_eq!(ExtraUserRoles::parse(" , ").unwrap().roles(), []);
        assert_eq!(
            ExtraUserRoles::parse("CreateDB,createdb").unwrap().roles(),
            [ExtraRole::CreateDb]
        );
        for bad in [
            "SUPERUSER",
            "superuser",
            "CREATEROLE",
            "REPLICATION",
            "BYPASSRLS",
            "admin",
            "pg_read_all_data",
            "createdb superuser",
            "createdb;superuser",
        ] {
            let err = ExtraUserRoles::parse(bad).unwrap_err();
            assert!(matches!(err.rule, NameRule::RoleNotAllowed(_)), "{bad}");
            assert_eq!(err.field, "extra-user-roles");
            let shown = err.to_string();
            assert!(!shown.contains(';'), "no remote text: {shown}");
        }
        // A known role is named in the status, with why; an unknown one is not echoed.
        let err = ExtraUserRoles::parse("createdb, pg_read_all_data").unwrap_err();
        assert_eq!(
            err.to_string(),
            "extra-user-roles (26 bytes) is refused: pg_read_all_data is not granted: reads every \
             table of every tenant"
        );
        let err = ExtraUserRoles::parse("SuperUser").unwrap_err();
        assert!(
            err.to_string().contains("SUPERUSER is not granted"),
            "{err}"
        );
        let err = ExtraUserRoles::parse("\u{1b}[31mevil").unwrap_err();
        assert!(!err.to_string().contains("evil"), "{err}");
        let long = "createdb,".repeat(100);
        assert_eq!(
            ExtraUserRoles::parse(&long).unwrap_err().rule,
            NameRule::TooLong { max: 256 }
        );
    }

    #[test]
    fn errors_are_short_and_never_hold_the_value() {
        let huge = "s3cr3t-".repeat(30_000);
        for err in [
            ClientDatabase::parse(&huge).unwrap_err(),
            BackendUser::parse(&huge).unwrap_err(),
            ExtraUserRoles::parse(&huge).unwrap_err(),
        ] {
            let text = err.to_string();
            assert!(text.len() < 200, "{text}");
            assert!(!text.contains("s3cr3t"), "{text}");
            assert!(text.contains("210000 bytes"), "{text}");
        }
        assert_eq!(
            ClientDatabase::parse("a b").unwrap_err().to_string(),
            "database (3 bytes) is refused: it must consist of ASCII letters, digits, _ and -"
        );
        assert_eq!(
            ClientDatabase::parse("template0").unwrap_err().to_string(),
            "database (9 bytes) is refused: it is reserved (postgres, template0, template1, \
             pgbouncer are PostgreSQL's and PgBouncer's own)"
        );
    }

    /// An 8-byte window of `input` (at char boundaries) that the error's
    /// message holds outside its fixed rule text (which names, say, the
    /// reserved databases).
    fn leaked<'a>(input: &'a str, e: &NameError) -> Option<&'a str> {
        let text = e.to_string().replace(&e.rule.to_string(), "");
        crate::test_support::leaked(input, &text)
    }

    proptest! {
        #![proptest_config(crate::test_support::proptest_config())]

        #[test]
        fn prop_client_database_accepts_exactly_the_rule(value in matching("\\PC{0,80}|[A-Za-z0-9_-]{0,70}")) {
            let want = !value.is_empty()
                && value.len() <= 63
                && value.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
                && !["postgres", "template0", "template1", "pgbouncer"]
                    .contains(&value.to_ascii_lowercase().as_str());
            match ClientDatabase::parse(&value) {
                Ok(db) => {
                    prop_assert!(want);
                    prop_assert_eq!(db.as_str(), value.as_str());
                }
                Err(e) => {
                    prop_assert!(!want);
                    prop_assert_eq!(e.len, value.len());
                    prop_assert_eq!(leaked(&value, &e), None);
                }
            }
        }

        #[test]
        fn prop_backend_user_accepts_exactly_the_rule(value in matching("\\PC{0,60}|[a-z0-9_]{0,45}")) {
            let want = !value.is_empty()
                && value.len() <= 40
                && value.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
            match BackendUser::parse(&value) {
                Ok(user) => {
                    prop_assert!(want);
                    prop_assert_eq!(user.as_str(), value.as_str());
                }
                Err(e) => {
                    prop_assert!(!want);
                    prop_assert_eq!(leaked(&value, &e), None);
                }
            }
        }

        #[test]
        fn prop_extra_user_roles_only_createdb(value in matching("((?i:createdb|superuser|createrole|x)[ ,]{0,2}){0,4}|\\PC{0,40}")) {
            match ExtraUserRoles::parse(&value) {
                Ok(roles) => {
                    for entry in value.split(',').map(str::trim).filter(|e| !e.is_empty()) {
                        prop_assert!(entry.eq_ignore_ascii_case("createdb"), "{entry:?} accepted");
                    }
                    let again = ExtraUserRoles::parse(&roles.to_string()).unwrap();
                    prop_assert_eq!(again, roles);
                }
                Err(e) => {
                    prop_assert!(value
                        .split(',')
                        .map(str::trim)
                        .any(|entry| !entry.is_empty() && !entry.eq_ignore_ascii_case("createdb")));
                    prop_assert_eq!(leaked(&value, &e), None);
                }
            }
        }
    }
}
