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

use std::fmt;

/// Where PgBouncer's files live in the workload container.
pub const LIB_DIR: &str = "/var/lib/pgbouncer";
/// Where PgBouncer logs.
pub const LOG_DIR: &str = "/var/log/pgbouncer";
/// The main config.
pub const INI_PATH: &str = "/var/lib/pgbouncer/pgbouncer.ini";
/// The auth file.
pub const AUTH_FILE_PATH: &str = "/var/lib/pgbouncer/userlist.txt";
/// How PgBouncer authenticates clients: with SCRAM-SHA-256 against the
/// verifiers of the auth file and of `auth_query` (see [`crate::auth`]).
/// Older revisions used `md5`; [`PgbConfig::apply_settings`] moves it.
pub const AUTH_TYPE: &str = "scram-sha-256";
/// The admin and stats user the charm uses.
pub const ADMIN_USER: &str = "juju_admin";
/// The section of database definitions.
pub const DATABASES: &str = "databases";
/// The section of PgBouncer's own settings.
pub const PGBOUNCER: &str = "pgbouncer";
/// `[pgbouncer]` options that hold comma-separated user lists, rendered sorted.
pub const USER_LIST_OPTIONS: [&str; 2] = ["admin_users", "stats_users"];
/// The values `pool_mode` accepts.
pub const POOL_MODES: [&str; 3] = ["session", "transaction", "statement"];

/// The directory of instance `n`: its config, pid file and Unix socket.
///
/// ```
/// use pgbouncer_k8s::pgb_config::{instance_dir, instance_ini_path};
///
/// assert_eq!(instance_dir(2), "/var/lib/pgbouncer/instance_2");
/// assert_eq!(instance_ini_path(2), "/var/lib/pgbouncer/instance_2/pgbouncer.ini");
/// ```
pub fn instance_dir(n: usize) -> String {
    format!("{LIB_DIR}/instance_{n}")
}

/// The config file of instance `n`.
pub fn instance_ini_path(n: usize) -> String {
    format!("{}/pgbouncer.ini", instance_dir(n))
}

/// The pid file of instance `n`.
pub fn instance_pidfile(n: usize) -> String {
    format!("{}/pgbouncer.pid", instance_dir(n))
}

/// How many PgBouncer processes for a CPU count: one per core, 2 to 4.
pub fn instance_count(cpus: usize) -> usize {
    cpus.clamp(2, 4)
}

/// The CPU count of this machine (1 if it cannot be read).
pub fn available_cpus() -> usize {
    std::thread::available_parallelism()
        .map(usize::from)
        .unwrap_or(1)
}

/// The parameters PgBouncer accepts in a `[databases]` connection string
/// (PgBouncer 1.18 and later); any other key is refused.
pub const CONN_PARAM_KEYS: [&str; 17] = [
    "dbname",
    "host",
    "port",
    "user",
    "password",
    "auth_user",
    "pool_size",
    "min_pool_size",
    "reserve_pool",
    "connect_query",
    "pool_mode",
    "max_db_connections",
    "client_encoding",
    "datestyle",
    "timezone",
    "application_name",
    "auth_dbname",
];

/// The longest section or option name accepted.
pub const MAX_NAME_LEN: usize = 64;
/// The longest database name accepted (PostgreSQL's identifier limit).
pub const MAX_DATABASE_NAME_LEN: usize = 63;

/// Which connection parameter an error is about: its name when it is one of
/// [`CONN_PARAM_KEYS`], else only its position (the text may be anything).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Param {
    /// The pair's position, from 0.
    pub index: usize,
    /// The key, if it is one PgBouncer knows.
    pub known: Option<&'static str>,
}

impl Param {
    fn new(index: usize, key: &str) -> Self {
        Self {
            index,
            known: known_param(key),
        }
    }
}

impl fmt::Display for Param {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.known {
            Some(key) => f.write_str(key),
            None => write!(f, "parameter {}", self.index + 1),
        }
    }
}

fn known_param(key: &str) -> Option<&'static str> {
    CONN_PARAM_KEYS.iter().copied().find(|k| *k == key)
}

/// What is wrong with a `[databases]` connection string. Messages name
/// known keys and positions, never values (a value may be a password) nor
/// unknown keys (they may be anything).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConnParamsError {
    /// Text that is not `key=value`.
    #[error("expected key=value at byte {at}")]
    NotKeyValue {
        /// Where the pair starts, in bytes from the start of the string.
        at: usize,
    },
    /// A single-quoted value without its closing quote.
    #[error("the quoted value of {param} is not closed")]
    UnterminatedQuote {
        /// The parameter.
        param: Param,
    },
    /// Text right after a closing quote.
    #[error("the quoted value of {param} is followed by text without a space")]
    TextAfterQuote {
        /// The parameter.
        param: Param,
    },
    /// An empty value, which PgBouncer rejects.
    #[error("{param} has an empty value")]
    EmptyValue {
        /// The parameter.
        param: Param,
    },
    /// The same key twice.
    #[error("{param} is given twice")]
    RepeatedKey {
        /// The parameter.
        param: Param,
    },
    /// A key PgBouncer does not know (see [`CONN_PARAM_KEYS`]).
    #[error("{param} ({len} bytes) is not a parameter PgBouncer knows")]
    UnknownKey {
        /// The parameter.
        param: Param,
        /// The key's length in bytes.
        len: usize,
    },
    /// A value with a character PgBouncer would read otherwise: a control
    /// character, non-ASCII, `\`, `"`, `;` or `#`.
    #[error("the value of {param} holds a character that is not allowed")]
    ForbiddenCharacter {
        /// The parameter.
        param: Param,
    },
}

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

/// The three pool sizes derived from `max_db_connections`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolSizes {
    /// `default_pool_size`
    pub default: u64,
    /// `min_pool_size`
    pub min: u64,
    /// `reserve_pool_size`
    pub reserve: u64,
}

/// Pool sizes for `max_db_connections` shared by `instances` processes:
/// 0 (unlimited) gives 20/10/10; otherwise, with e = m / n, default = ⌈e/2⌉
/// and min = reserve = ⌈e/4⌉. Computed exactly, in integers.
///
/// ```
/// let sizes = pgbouncer_k8s::pgb_config::pool_sizes(44, 2).unwrap();
/// assert_eq!((sizes.default, sizes.min, sizes.reserve), (11, 6, 6));
/// ```
pub fn pool_sizes(max_db_connections: u64, instances: usize) -> Result<PoolSizes, PgbConfigError> {
    if instances < 1 {
        return Err(PgbConfigError::NoInstances { instances });
    }
    if max_db_connections == 0 {
        return Ok(PoolSizes {
            default: 20,
            min: 10,
            reserve: 10,
        });
    }
    // ⌈(m/n)/k⌉ = ⌈m/(n·k)⌉; u128 so that n·k cannot overflow, and the
    // quotient is at most m, so it fits back in a u64.
    let m = u128::from(max_db_connections);
    let n = instances as u128;
    let share = |k: u128| u64::try_from(m.div_ceil(n * k)).unwrap_or(u64::MAX);
    let quarter = share(4);
    Ok(PoolSizes {
        default: share(2),
        min: quarter,
        reserve: quarter,
    })
}

/// The connection string of one `[databases]` entry: an ordered map of
/// parameter to value (`host=127.0.0.5 port=5432 dbname=app`).
///
/// Values with spaces or quotes are written single-quoted, with `''` for a
/// quote, as PgBouncer reads them. `Debug` hides the `password` value.
/// [`insert`](Self::insert) refuses what [`validate`](Self::validate) would.
///
/// ```
/// use pgbouncer_k8s::pgb_config::ConnParams;
///
/// let mut params = ConnParams::parse("host=127.0.0.5  dbname='my app'").unwrap();
/// assert_eq!(params.get("dbname"), Some("my app"));
/// params.insert("port", "5432").unwrap();
/// assert_eq!(params.render(), "host=127.0.0.5 dbname='my app' port=5432");
/// assert!(params.insert("port", "5432 host=127.0.0.66").is_ok()); // one quoted value
/// assert_eq!(params.get("port"), Some("5432 host=127.0.0.66"));
/// assert!(params.insert("port", "1\n[pgbouncer]").is_err());
/// assert!(params.insert("host x", "h").is_err());
/// ```
#[derive(Clone, PartialEq, Eq, Default)]
pub struct ConnParams {
    pairs: Vec<(String, String)>,
}

impl fmt::Debug for ConnParams {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map()
            .entries(self.pairs.iter().map(|(k, v)| {
                let shown = if k == "password" { "<hidden>" } else { v };
                (k, shown)
            }))
            .finish()
    }
}

fn quote_value(value: &str) -> String {
    if value.is_empty() || value.contains(|c: char| c.is_ascii_whitespace() || c == '\'') {
        format!("'{}'", value.replace('\'', "''"))
    } else {
        value.to_string()
    }
}

/// Whether a character may be in a connection parameter's value: printable
/// ASCII or a space, but not `\`, `"`, `;` or `#`.
fn is_value_char(c: char) -> bool {
    (c == ' ' || c.is_ascii_graphic()) && !matches!(c, '\\' | '"' | ';' | '#')
}

fn check_pair(index: usize, key: &str, value: &str) -> Result<(), ConnParamsError> {
    let param = Param::new(index, key);
    if param.known.is_none() {
        return Err(ConnParamsError::UnknownKey {
            param,
            len: key.len(),
        });
    }
    if value.is_empty() {
        return Err(ConnParamsError::EmptyValue { param });
    }
    if !value.chars().all(is_value_char) {
        return Err(ConnParamsError::ForbiddenCharacter { param });
    }
    Ok(())
}

impl ConnParams {
    /// No parameters.
    pub fn new() -> Self {
        Self::default()
    }

    /// Parameters from pairs, each checked as [`insert`](Self::insert) does;
    /// a later pair replaces an earlier one with the same key, in place.
    ///
    /// ```
    /// use pgbouncer_k8s::pgb_config::ConnParams;
    ///
    /// let params = ConnParams::from_pairs([("host", "h"), ("port", "1"), ("host", "i")]).unwrap();
    /// assert_eq!(params.render(), "host=i port=1");
    /// assert!(ConnParams::from_pairs([("hst", "h")]).is_err());
    /// ```
    pub fn from_pairs<K: AsRef<str>, V: AsRef<str>>(
        pairs: impl IntoIterator<Item = (K, V)>,
    ) -> Result<Self, ConnParamsError> {
        let mut params = Self::new();
        for (k, v) in pairs {
            params.insert(k.as_ref(), v.as_ref())?;
        }
        Ok(params)
    }

    /// Parses a connection string as PgBouncer does: pairs separated by
    /// whitespace, a value single-quoted (with `''` for a quote) or running
    /// to the next whitespace. Stricter than PgBouncer where it would guess:
    /// repeated keys and text glued to a closing quote are errors. It does
    /// not check keys and characters: [`validate`](Self::validate) does.
    pub fn parse(text: &str) -> Result<Self, ConnParamsError> {
        let mut params = Self::new();
        let mut rest = text;
        loop {
            rest = rest.trim_start_matches(|c: char| c.is_ascii_whitespace());
            if rest.is_empty() {
                return Ok(params);
            }
            let at = text.len() - rest.len();
            let key_end = rest
                .find(|c: char| c == '=' || c.is_ascii_whitespace())
                .unwrap_or(rest.len());
            let key = &rest[..key_end];
            let param = Param::new(params.pairs.len(), key);
            let after_key = rest[key_end..].trim_start_matches(|c: char| c.is_ascii_whitespace());
            let after_eq = match after_key.strip_prefix('=') {
                Some(after_eq) if !key.is_empty() => {
                    after_eq.trim_start_matches(|c: char| c.is_ascii_whitespace())
                }
                _ => return Err(ConnParamsError::NotKeyValue { at }),
            };
            let (value, remainder) = match after_eq.strip_prefix('\'') {
                Some(quoted) => unquote(param, quoted)?,
                None => {
                    let end = after_eq
                        .find(|c: char| c.is_ascii_whitespace())
                        .unwrap_or(after_eq.len());
                    (after_eq[..end].to_string(), &after_eq[end..])
                }
            };
            if value.is_empty() {
                return Err(ConnParamsError::EmptyValue { param });
            }
            if params.get(key).is_some() {
                return Err(ConnParamsError::RepeatedKey { param });
            }
            params.pairs.push((key.to_string(), value));
            rest = remainder;
        }
    }

    /// The connection string: `key=value` pairs in order, one space apart.
    pub fn render(&self) -> String {
        self.pairs
            .iter()
            .map(|(k, v)| format!("{k}={}", quote_value(v)))
            .collect::<Vec<_>>()
            .join(" ")
    }

    /// Whether every pair is one PgBouncer reads as meant: keys among
    /// [`CONN_PARAM_KEYS`], values non-empty printable ASCII without `\`,
    /// `"`, `;` or `#`.
    pub fn validate(&self) -> Result<(), ConnParamsError> {
        for (index, (key, value)) in self.pairs.iter().enumerate() {
            check_pair(index, key, value)?;
        }
        Ok(())
    }

    /// A parameter's value.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.pairs
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// Sets a parameter, in place if it is there (keeping the order), last
    /// otherwise; returns the value it replaced. Refuses (changing nothing)
    /// a key PgBouncer does not know or a value it would not read as meant.
    pub fn insert(&mut self, key: &str, value: &str) -> Result<Option<String>, ConnParamsError> {
        let index = self
            .pairs
            .iter()
            .position(|(k, _)| k == key)
            .unwrap_or(self.pairs.len());
        check_pair(index, key, value)?;
        Ok(match self.pairs.get_mut(index) {
            Some((_, v)) => Some(std::mem::replace(v, value.to_string())),
            None => {
                self.pairs.push((key.to_string(), value.to_string()));
                None
            }
        })
    }

    /// Removes a parameter; returns its value.
    pub fn remove(&mut self, key: &str) -> Option<String> {
        let i = self.pairs.iter().position(|(k, _)| k == key)?;
        Some(self.pairs.remove(i).1)
    }

    /// The pairs, in order.
    pub fn iter(&self) -> std::slice::Iter<'_, (String, String)> {
        self.pairs.iter()
    }

    /// How many parameters.
    pub fn len(&self) -> usize {
        self.pairs.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.pairs.is_empty()
    }
}

/// The value after an opening quote, and the text after the closing one.
fn unquote(param: Param, quoted: &str) -> Result<(String, &str), ConnParamsError> {
    let mut value = String::new();
    let mut chars = quoted.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        if c != '\'' {
            value.push(c);
        } else if chars.next_if(|&(_, next)| next == '\'').is_some() {
            value.push('\'');
        } else {
            let remainder = &quoted[i + 1..];
            if remainder.starts_with(|c: char| !c.is_ascii_whitespace()) {
                return Err(ConnParamsError::TextAfterQuote { param });
            }
            return Ok((value, remainder));
        }
    }
    Err(ConnParamsError::UnterminatedQuote { param })
}

impl<'a> IntoIterator for &'a ConnParams {
    type Item = &'a (String, String);
    type IntoIter = std::slice::Iter<'a, (String, String)>;

    fn into_iter(self) -> Self::IntoIter {
        self.iter()
    }
}
#[derive(Debug, Clone, PartialEq, Eq)]
struct Section {
    name: String,
    entries: Vec<(String, String)>,
}

/// A parsed `pgbouncer.ini`.
///
/// ```
/// use pgbouncer_k8s::pgb_config::PgbConfig;
///
/// let mut config = PgbConfig::default_for(2, 44, 6432, "session").unwrap();
/// config.add_database("appdb", &[("host", "127.0.0.5"), ("dbname", "appdb")]).unwrap();
/// config.set_auth("pgbouncer_auth_app").unwrap();
/// config.validate().unwrap();
/// let text = config.render();
/// assert!(text.contains("\nappdb = host=127.0.0.5 dbname=appdb\n"));
/// assert!(text.contains("\ndefault_pool_size = 11\n"));
/// assert_eq!(PgbConfig::parse(&text).unwrap(), config);
///
/// // Instance 1 of this unit runs with its own socket and pid file, and
/// // logs to its stderr (which Pebble keeps, bounded).
/// let instance = config.render_instance(1);
/// assert!(instance.contains("\npidfile = /var/lib/pgbouncer/instance_1/pgbouncer.pid\n"));
/// assert!(instance.contains("\nlogfile =\n") || instance.contains("\nlogfile = \n"));
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct PgbConfig {
    sections: Vec<Section>,
}

impl fmt::Debug for PgbConfig {
    /// Sections and options, with database passwords hidden.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        struct Options<'a>(&'a Section);
        impl fmt::Debug for Options<'_> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                let mut map = f.debug_map();
                for (key, value) in &self.0.entries {
                    if self.0.name == DATABASES {
                        match ConnParams::parse(value) {
                            Ok(params) => map.entry(key, &params),
                            Err(_) => map.entry(key, &"<unparsed>"),
                        };
                    } else {
                        map.entry(key, value);
                    }
                }
                map.finish()
            }
        }
        f.debug_map()
            .entries(self.sections.iter().map(|s| (&s.name, Options(s))))
            .finish()
    }
}

fn is_database_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= MAX_DATABASE_NAME_LEN
        && name
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || c == b'_' || c == b'-')
}

fn check_database_name(name: &str) -> Result<(), PgbConfigError> {
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

fn is_section_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= MAX_NAME_LEN
        && name
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || c == b'_' || c == b'-')
}

fn check_section_name(name: &str) -> Result<(), PgbConfigError> {
    if is_section_name(name) {
        Ok(())
    } else {
        Err(PgbConfigError::InvalidSectionName { len: name.len() })
    }
}

fn check_option_name(section: &str, key: &str) -> Result<(), PgbConfigError> {
    if is_option_name(key) {
        Ok(())
    } else {
        Err(PgbConfigError::InvalidOptionName {
            section: section.to_string(),
            len: key.len(),
        })
    }
}

/// An option value (outside `[databases]`) as it is kept: no control
/// character, no whitespace at either end.
fn check_option_value(section: &str, key: &str, value: &str) -> Result<(), PgbConfigError> {
    let reason = if value.contains(char::is_control) {
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

fn check_auth_user(auth_user: &str) -> Result<(), PgbConfigError> {
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
fn check_database_entry(name: &str, value: &str) -> Result<ConnParams, PgbConfigError> {
    ConnParams::parse(value)
        .and_then(|params| params.validate().map(|()| params))
        .map_err(|source| PgbConfigError::InvalidDatabaseEntry {
            name: name.to_string(),
            source,
        })
}

/// Splits a `[databases]` line into the name (as written, quotes included)
/// and the connection string. Never echoes the line: it may hold a password.
fn split_database_line(line: &str) -> Result<(&str, &str), String> {
    let (name, rest) = if line.starts_with('"') {
        let mut close = None;
        let mut chars = line.char_indices().skip(1).peekable();
        while let Some((i, c)) = chars.next() {
            if c == '"' && chars.next_if(|&(_, next)| next == '"').is_none() {
                close = Some(i);
                break;
            }
        }
        let close = close.ok_or("a quoted database name is not closed")?;
        (&line[..=close], &line[close + 1..])
    } else {
        let eq = line
            .find('=')
            .ok_or("expected \"<database> = <connection string>\"")?;
        (line[..eq].trim_end(), &line[eq..])
    };
    if name.is_empty() {
        return Err("a database entry without a name".to_string());
    }
    let value = rest
        .trim_start()
        .strip_prefix('=')
        .ok_or("expected = after the database name")?;
    Ok((name, value.trim()))
}

/// `key = value`, for sections other than `[databases]`.
fn split_option_line(line: &str) -> Result<(&str, &str), String> {
    let (key, value) = line.split_once('=').ok_or("expected \"key = value\"")?;
    let key = key.trim();
    if key.is_empty() {
        return Err("an option without a name".to_string());
    }
    Ok((key, value.trim()))
}

/// The form a value is kept in: trimmed; user lists sorted and deduplicated;
/// connection strings in their canonical form when they parse.
fn normalise(section: &str, key: &str, value: &str) -> String {
    let value = value.trim();
    if section == DATABASES {
        return ConnParams::parse(value)
            .map(|params| params.render())
            .unwrap_or_else(|_| value.to_string());
    }
    if section == PGBOUNCER && USER_LIST_OPTIONS.contains(&key) {
        let mut users: Vec<&str> = value
            .split(',')
            .map(str::trim)
            .filter(|u| !u.is_empty())
            .collect();
        users.sort_unstable();
        users.dedup();
        return users.join(",");
    }
    value.to_string()
}

/// `path` with its `from` directory prefix replaced by `to`, if it has it.
fn move_path(path: &str, from: &str, to: &str) -> Option<String> {
    let rest = path.strip_prefix(from)?;
    (rest.is_empty() || rest.starts_with('/')).then(|| format!("{to}{rest}"))
}

/// The `auth_query` that reads passwords through `auth_user`'s `get_auth`,
/// the schema double-quoted as an SQL identifier (inner quotes doubled).
///
/// ```
/// assert_eq!(
///     pgbouncer_k8s::pgb_config::auth_query_for("pgbouncer_auth_x"),
///     "SELECT username, password FROM \"pgbouncer_auth_x\".get_auth($1)",
/// );
/// ```
pub fn auth_query_for(auth_user: &str) -> String {
    format!(
        "SELECT username, password FROM \"{}\".get_auth($1)",
        auth_user.replace('"', "\"\"")
    )
}

impl PgbConfig {
    /// A config without sections.
    pub fn new() -> Self {
        Self {
            sections: Vec::new(),
        }
    }

    /// Parses a config. Lines starting with `;` or `#` are comments (dropped);
    /// blank lines and the whitespace around names and values do not matter.
    /// Errors give the line, never its text; a repeated section or option is
    /// an error, and so is `%include`. Parsing checks structure only:
    /// [`validate`](Self::validate) checks the names and values.
    pub fn parse(text: &str) -> Result<Self, PgbConfigError> {
        let mut config = Self::new();
        // The line each option of the current section was first seen on.
        let mut first_lines: Vec<usize> = Vec::new();
        for (index, raw) in text.lines().enumerate() {
            let line_no = index + 1;
            let fail = |reason: String| PgbConfigError::Parse {
                line: line_no,
                reason,
            };
            let line = raw.trim();
            if line.is_empty() || line.starts_with([';', '#']) {
                continue;
            }
            if line.starts_with('%') {
                return Err(fail("directives such as %include are not supported".into()));
            }
            if let Some(rest) = line.strip_prefix('[') {
                let name = rest
                    .strip_suffix(']')
                    .ok_or_else(|| fail("a section header must end with ]".into()))?;
                if !is_section_name(name) {
                    return Err(fail(format!(
                        "a section name ({} bytes) must match [A-Za-z0-9_-]{{1,64}}",
                        name.len()
                    )));
                }
                if config.section(name).is_some() {
                    return Err(fail(format!("section [{name}] is repeated")));
                }
                config.sections.push(Section {
                    name: name.to_string(),
                    entries: Vec::new(),
                });
                first_lines.clear();
                continue;
            }
            let Some(section) = config.sections.last_mut() else {
                return Err(fail("an option outside any section".into()));
            };
            let (key, value) = if section.name == DATABASES {
                let (name, value) = split_database_line(line).map_err(&fail)?;
                let params =
                    ConnParams::parse(value).map_err(|e| fail(format!("database entry: {e}")))?;
                (name, params.render())
            } else {
                let (key, value) = split_option_line(line).map_err(&fail)?;
                (key, normalise(&section.name, key, value))
            };
            if let Some(i) = section.entries.iter().position(|(k, _)| k == key) {
                return Err(fail(format!(
                    "an entry of [{}] is repeated (first on line {})",
                    section.name, first_lines[i]
                )));
            }
            section.entries.push((key.to_string(), value));
            first_lines.push(line_no);
        }
        Ok(config)
    }

    /// The text: sections in order, a blank line between them, one
    /// `key = value` line per option. To write a file, use
    /// [`render_validated`](Self::render_validated).
    pub fn render(&self) -> String {
        let mut text = String::new();
        for (i, section) in self.sections.iter().enumerate() {
            if i > 0 {
                text.push('\n');
            }
            text.push('[');
            text.push_str(&section.name);
            text.push_str("]\n");
            for (key, value) in &section.entries {
                text.push_str(key);
                if value.is_empty() {
                    text.push_str(" =\n");
                } else {
                    text.push_str(" = ");
                    text.push_str(value);
                    text.push('\n');
                }
            }
        }
        text
    }

    /// The text, only if the config [validates](Self::validate): what
    /// `Workload::write_config` should write.
    ///
    /// ```
    /// use pgbouncer_k8s::pgb_config::PgbConfig;
    ///
    /// let config = PgbConfig::default_for(2, 44, 6432, "session").unwrap();
    /// assert_eq!(config.render_validated().unwrap(), config.render());
    /// let parsed = PgbConfig::parse("[databases]\n\"x\" = host=h\n[pgbouncer]\n").unwrap();
    /// assert!(parsed.render_validated().is_err());
    /// ```
    pub fn render_validated(&self) -> Result<String, PgbConfigError> {
        self.validate()?;
        Ok(self.render())
    }

    /// Instance `n`'s file ([`render_instance`](Self::render_instance)),
    /// only if the config validates.
    pub fn render_instance_validated(&self, n: usize) -> Result<String, PgbConfigError> {
        let instance = self.instance(n);
        instance.validate()?;
        Ok(instance.render())
    }

    /// Checks what the charm requires (`[databases]` and `[pgbouncer]`
    /// present, `logfile` and `pidfile` in `[pgbouncer]`), then every rule of
    /// the [module](self): section and option names, one-line values,
    /// bare database names other than `pgbouncer`, sound connection strings,
    /// and an `auth_user` of `[a-z0-9_]{1,63}`.
    pub fn validate(&self) -> Result<(), PgbConfigError> {
        for section in &self.sections {
            check_section_name(&section.name)?;
            for (key, value) in &section.entries {
                if section.name == DATABASES {
                    check_database_name(key)?;
                    check_database_entry(key, value)?;
                    continue;
                }
                check_option_name(&section.name, key)?;
                check_option_value(&section.name, key, value)?;
                if section.name == PGBOUNCER && key == "auth_user" {
                    check_auth_user(value)?;
                }
            }
        }
        if self.section(DATABASES).is_none() {
            return Err(PgbConfigError::MissingSection {
                section: DATABASES.to_string(),
            });
        }
        let pgbouncer = self
            .section(PGBOUNCER)
            .ok_or_else(|| PgbConfigError::MissingSection {
                section: PGBOUNCER.to_string(),
            })?;
        for option in ["logfile", "pidfile"] {
            if !pgbouncer.entries.iter().any(|(k, _)| k == option) {
                return Err(PgbConfigError::MissingOption {
                    section: PGBOUNCER.to_string(),
                    option: option.to_string(),
                });
            }
        }
        Ok(())
    }

    fn section(&self, name: &str) -> Option<&Section> {
        self.sections.iter().find(|s| s.name == name)
    }

    fn entries_mut(&mut self, name: &str) -> &mut Vec<(String, String)> {
        let i = match self.sections.iter().position(|s| s.name == name) {
            Some(i) => i,
            None => {
                self.sections.push(Section {
                    name: name.to_string(),
                    entries: Vec::new(),
                });
                self.sections.len() - 1
            }
        };
        &mut self.sections[i].entries
    }

    /// Stores an entry, in place if it is there; the caller has checked it.
    fn put(&mut self, section: &str, key: &str, value: String) {
        let entries = self.entries_mut(section);
        match entries.iter_mut().find(|(k, _)| k == key) {
            Some(entry) => entry.1 = value,
            None => entries.push((key.to_string(), value)),
        }
    }

    /// The section names, in order.
    pub fn section_names(&self) -> impl Iterator<Item = &str> {
        self.sections.iter().map(|s| s.name.as_str())
    }

    /// A section's options, in order (none if the section is missing).
    /// `[databases]` values are connection strings.
    pub fn options(&self, section: &str) -> impl Iterator<Item = (&str, &str)> {
        self.section(section)
            .into_iter()
            .flat_map(|s| s.entries.iter().map(|(k, v)| (k.as_str(), v.as_str())))
    }

    /// An option's value (for `[databases]`, the connection string).
    pub fn get(&self, section: &str, key: &str) -> Option<&str> {
        self.options(section)
            .find(|(k, _)| *k == key)
            .map(|(_, v)| v)
    }

    /// Sets an option, in place if it is there, last otherwise, adding the
    /// section (last) if needed. The value is trimmed; user lists are sorted
    /// and deduplicated; `[databases]` connection strings are put in their
    /// canonical form. Refuses, changing nothing, a section, key or value
    /// that breaks a rule of the [module](self) (a control character
    /// anywhere in the value included).
    ///
    /// ```
    /// use pgbouncer_k8s::pgb_config::{PgbConfig, PGBOUNCER};
    ///
    /// let mut config = PgbConfig::new();
    /// config.set(PGBOUNCER, "listen_addr", " 127.0.0.1 ").unwrap();
    /// assert_eq!(config.get(PGBOUNCER, "listen_addr"), Some("127.0.0.1"));
    /// assert!(config.set(PGBOUNCER, "listen_addr", "*\n[databases]").is_err());
    /// assert!(config.set("databases", "appdb", "host=h\nx = y").is_err());
    /// assert_eq!(config.get(PGBOUNCER, "listen_addr"), Some("127.0.0.1"));
    /// ```
    pub fn set(&mut self, section: &str, key: &str, value: &str) -> Result<(), PgbConfigError> {
        check_section_name(section)?;
        if section == DATABASES {
            check_database_name(key)?;
            let params = check_database_entry(key, value)?;
            self.put(DATABASES, key, params.render());
            return Ok(());
        }
        check_option_name(section, key)?;
        if value.contains(char::is_control) {
            return Err(PgbConfigError::InvalidValue {
                section: section.to_string(),
                key: key.to_string(),
                reason: "it holds a control character",
            });
        }
        let value = normalise(section, key, value);
        check_option_value(section, key, &value)?;
        if section == PGBOUNCER && key == "auth_user" {
            check_auth_user(&value)?;
        }
        self.put(section, key, value);
        Ok(())
    }

    /// Removes an option; true if it was there.
    pub fn remove(&mut self, section: &str, key: &str) -> bool {
        let Some(s) = self.sections.iter_mut().find(|s| s.name == section) else {
            return false;
        };
        let before = s.entries.len();
        s.entries.retain(|(k, _)| k != key);
        s.entries.len() != before
    }

    /// A `[pgbouncer]` user list (`admin_users`, `stats_users`), sorted.
    pub fn user_list(&self, option: &str) -> Vec<&str> {
        self.get(PGBOUNCER, option)
            .map(|v| {
                let mut users: Vec<&str> = v
                    .split(',')
                    .map(str::trim)
                    .filter(|u| !u.is_empty())
                    .collect();
                users.sort_unstable();
                users
            })
            .unwrap_or_default()
    }

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

    /// The charm's default config for `instances` PgBouncer processes:
    /// `[databases]` empty, then `[pgbouncer]` with the charm's settings and
    /// those [`apply_settings`](Self::apply_settings) derives from the options.
    pub fn default_for(
        instances: usize,
        max_db_connections: u64,
        listen_port: u16,
        pool_mode: &str,
    ) -> Result<Self, PgbConfigError> {
        let mut config = Self::new();
        config.entries_mut(DATABASES);
        for (key, value) in [
            ("listen_addr", "*".to_string()),
            ("listen_port", listen_port.to_string()),
            ("logfile", format!("{LOG_DIR}/pgbouncer.log")),
            ("pidfile", format!("{LIB_DIR}/pgbouncer.pid")),
            ("admin_users", ADMIN_USER.to_string()),
            ("stats_users", ADMIN_USER.to_string()),
            ("auth_type", AUTH_TYPE.to_string()),
            ("user", "postgres".to_string()),
            ("max_client_conn", "10000".to_string()),
            (
                "ignore_startup_parameters",
                "extra_float_digits,options".to_string(),
            ),
            ("server_tls_sslmode", "prefer".to_string()),
            ("so_reuseport", "1".to_string()),
            ("unix_socket_dir", LIB_DIR.to_string()),
        ] {
            config.set(PGBOUNCER, key, &value)?;
        }
        config.apply_settings(instances, max_db_connections, listen_port, pool_mode)?;
        Ok(config)
    }

    /// Sets the options the charm's config controls: `listen_port`,
    /// `pool_mode`, `max_db_connections` and the pool sizes derived from it;
    /// and moves `auth_type = md5`, which older revisions rendered, to
    /// [`AUTH_TYPE`] (in place; another value is left as it is). Changes
    /// nothing on error (no instance, unknown pool mode).
    pub fn apply_settings(
        &mut self,
        instances: usize,
        max_db_connections: u64,
        listen_port: u16,
        pool_mode: &str,
    ) -> Result<(), PgbConfigError> {
        if !POOL_MODES.contains(&pool_mode) {
            return Err(PgbConfigError::InvalidValue {
                section: PGBOUNCER.to_string(),
                key: "pool_mode".to_string(),
                reason: "expected session, transaction or statement",
            });
        }
        let sizes = pool_sizes(max_db_connections, instances)?;
        for (key, value) in [
            ("listen_port", listen_port.to_string()),
            ("pool_mode", pool_mode.to_string()),
            ("max_db_connections", max_db_connections.to_string()),
            ("default_pool_size", sizes.default.to_string()),
            ("min_pool_size", sizes.min.to_string()),
            ("reserve_pool_size", sizes.reserve.to_string()),
        ] {
            self.put(PGBOUNCER, key, value);
        }
        if self.get(PGBOUNCER, "auth_type") == Some("md5") {
            self.put(PGBOUNCER, "auth_type", AUTH_TYPE.to_string());
        }
        Ok(())
    }

    /// Instance `n`'s config: this one with its own `unix_socket_dir`
    /// ([`instance_dir`]) and `pidfile` (in it), and an empty `logfile`.
    ///
    /// An instance logs to its stderr only, which Pebble keeps in a bounded
    /// buffer per service (and, on Kubernetes, passes on to the container's
    /// log, which the kubelet rotates). A log file in the workload
    /// container would grow for as long as the pod lives: nothing there
    /// rotates it, and PgBouncer only reopens it on `SIGHUP`.
    pub fn instance(&self, n: usize) -> Self {
        let mut config = self.clone();
        config.put(PGBOUNCER, "unix_socket_dir", instance_dir(n));
        config.put(PGBOUNCER, "pidfile", instance_pidfile(n));
        config.put(PGBOUNCER, "logfile", String::new());
        config
    }

    /// Instance `n`'s config file: [`instance`](Self::instance), rendered.
    pub fn render_instance(&self, n: usize) -> String {
        self.instance(n).render()
    }

    /// Whether PgBouncer authenticates through an `auth_query`.
    pub fn has_auth_query(&self) -> bool {
        self.get(PGBOUNCER, "auth_query").is_some()
    }

    /// Authenticates clients through `auth_user` (`[a-z0-9_]{1,63}`, else
    /// refused, changing nothing): sets `auth_query` ([`auth_query_for`]),
    /// `auth_file` ([`AUTH_FILE_PATH`], where `auth_user`'s own password
    /// is) and `auth_user`.
    pub fn set_auth(&mut self, auth_user: &str) -> Result<(), PgbConfigError> {
        check_auth_user(auth_user)?;
        self.put(PGBOUNCER, "auth_query", auth_query_for(auth_user));
        self.put(PGBOUNCER, "auth_file", AUTH_FILE_PATH.to_string());
        self.put(PGBOUNCER, "auth_user", auth_user.to_string());
        Ok(())
    }

    /// Drops what [`set_auth`](Self::set_auth) set.
    pub fn clear_auth(&mut self) {
        for key in ["auth_query", "auth_file", "auth_user"] {
            self.remove(PGBOUNCER, key);
        }
    }

    /// The same config with paths under [`LIB_DIR`] and [`LOG_DIR`] moved
    /// under `lib_dir` and `log_dir` (to run a real PgBouncer on it outside
    /// a container). Only option values that are one of those directories or
    /// a path in them change. Apply it after [`instance`](Self::instance).
    pub fn with_base_dirs(&self, lib_dir: &str, log_dir: &str) -> Self {
        let lib_dir = lib_dir.trim_end_matches('/');
        let log_dir = log_dir.trim_end_matches('/');
        let mut config = self.clone();
        for section in config.sections.iter_mut().filter(|s| s.name != DATABASES) {
            for (_, value) in &mut section.entries {
                if let Some(moved) = move_path(value, LIB_DIR, lib_dir)
                    .or_else(|| move_path(value, LOG_DIR, log_dir))
                {
                    *value = moved;
                }
            }
        }
        config
    }
}

impl Default for PgbConfig {
    fn default() -> Self {
        Self::new()
    }
}
#[cfg(test)]
mod tests {
    use super::*;

    fn sizes(default: u64, min: u64, reserve: u64) -> PoolSizes {
        PoolSizes {
            default,
            min,
            reserve,
        }
    }

    fn parse_error_line(text: &str) -> (usize, String) {
        match PgbConfig::parse(text) {
            Err(PgbConfigError::Parse { line, reason }) => (line, reason),
            other => panic!("{text:?}: expected a parse error, got {other:?}"),
        }
    }

    fn valid_base() -> PgbConfig {
        PgbConfig::default_for(2, 0, 6432, "session").unwrap()
    }

    #[test]
    fn pool_sizes_follow_the_spec() {
        assert_eq!(pool_sizes(44, 2).unwrap(), sizes(11, 6, 6));
        assert_eq!(pool_sizes(0, 1).unwrap(), sizes(20, 10, 10));
        assert_eq!(pool_sizes(0, 4).unwrap(), sizes(20, 10, 10));
        assert_eq!(pool_sizes(100, 3).unwrap(), sizes(17, 9, 9));
        assert_eq!(pool_sizes(8, 1).unwrap(), sizes(4, 2, 2));
        assert_eq!(pool_sizes(1, 4).unwrap(), sizes(1, 1, 1));
        assert_eq!(
            pool_sizes(u64::MAX, 1).unwrap(),
            sizes(u64::MAX / 2 + 1, u64::MAX / 4 + 1, u64::MAX / 4 + 1)
        );
        assert_eq!(pool_sizes(u64::MAX, usize::MAX).unwrap(), sizes(1, 1, 1));
    }

    #[test]
    fn pool_sizes_match_the_real_valued_formula() {
        for m in 1..=300u64 {
            for n in 1..=4usize {
                let e = m as f64 / n as f64;
                let want = sizes(
                    (e / 2.0).ceil() as u64,
                    (e / 4.0).ceil() as u64,
                    (e / 4.0).ceil() as u64,
                );
                assert_eq!(pool_sizes(m, n).unwrap(), want, "{m} over {n}");
            }
        }
    }

    #[test]
    fn pool_sizes_need_an_instance() {
        let err = pool_sizes(10, 0).unwrap_err();
        assert_eq!(err, PgbConfigError::NoInstances { instances: 0 });
        assert_eq!(err.to_string(), "cannot share connections over 0 instances");
        assert_eq!(
            PgbConfig::default_for(0, 10, 6432, "session"),
            Err(PgbConfigError::NoInstances { instances: 0 })
        );
    }

    #[test]
    fn instance_count_is_clamped() {
        assert_eq!(
            [0, 1, 2, 3, 4, 5, 64].map(instance_count),
            [2, 2, 2, 3, 4, 4, 4]
        );
        assert!(available_cpus() >= 1);
        assert!((2..=4).contains(&instance_count(available_cpus())));
    }

    #[test]
    fn paths() {
        assert_eq!(INI_PATH, format!("{LIB_DIR}/pgbouncer.ini"));
        assert_eq!(AUTH_FILE_PATH, format!("{LIB_DIR}/userlist.txt"));
        assert_eq!(instance_dir(0), "/var/lib/pgbouncer/instance_0");
        assert_eq!(
            instance_ini_path(3),
            "/var/lib/pgbouncer/instance_3/pgbouncer.ini"
        );
        assert_eq!(
            instance_pidfile(3),
            "/var/lib/pgbouncer/instance_3/pgbouncer.pid"
        );
    }

    #[test]
    fn default_config_text() {
        let config = PgbConfig::default_for(2, 44, 6432, "session").unwrap();
        let want = "\
[databases]

[pgbouncer]
listen_addr = *
listen_port = 6432
logfile = /var/log/pgbouncer/pgbouncer.log
pidfile = /var/lib/pgbouncer/pgbouncer.pid
admin_users = juju_admin
stats_users = juju_admin
auth_type = scram-sha-256
user = postgres
max_client_conn = 10000
ignore_startup_parameters = extra_float_digits,options
server_tls_sslmode = prefer
so_reuseport = 1
unix_socket_dir = /var/lib/pgbouncer
pool_mode = session
max_db_connections = 44
default_pool_size = 11
min_pool_size = 6
reserve_pool_size = 6
";
        assert_eq!(config.render(), want);
        config.validate().unwrap();
        assert_eq!(PgbConfig::parse(want).unwrap(), config);
        assert_eq!(
            config.section_names().collect::<Vec<_>>(),
            ["databases", "pgbouncer"]
        );
        assert_eq!(config.user_list("admin_users"), [ADMIN_USER]);
        assert!(config.databases().is_empty());
    }

    #[test]
    fn default_config_rejects_an_unknown_pool_mode() {
        let err = PgbConfig::default_for(2, 10, 6432, "sessions").unwrap_err();
        assert!(
            matches!(&err, PgbConfigError::InvalidValue { key, .. } if key == "pool_mode"),
            "{err:?}"
        );
        for mode in POOL_MODES {
            let config = PgbConfig::default_for(2, 10, 6432, mode).unwrap();
            assert_eq!(config.get(PGBOUNCER, "pool_mode"), Some(mode));
        }
    }

    #[test]
    fn apply_settings_changes_values_in_place() {
        let mut config = PgbConfig::default_for(2, 44, 6432, "session").unwrap();
        let before: Vec<String> = config
            .options(PGBOUNCER)
            .map(|(k, _)| k.to_string())
            .collect();
        config.apply_settings(4, 0, 7000, "transaction").unwrap();
        let after: Vec<&str> = config.options(PGBOUNCER).map(|(k, _)| k).collect();
        assert_eq!(before, after);
        assert_eq!(config.get(PGBOUNCER, "listen_port"), Some("7000"));
        assert_eq!(config.get(PGBOUNCER, "pool_mode"), Some("transaction"));
        assert_eq!(config.get(PGBOUNCER, "max_db_connections"), Some("0"));
        assert_eq!(config.get(PGBOUNCER, "default_pool_size"), Some("20"));
        assert_eq!(config.get(PGBOUNCER, "min_pool_size"), Some("10"));
        assert_eq!(config.get(PGBOUNCER, "reserve_pool_size"), Some("10"));

        let unchanged = config.clone();
        assert!(config.apply_settings(0, 10, 1, "session").is_err());
        assert!(config.apply_settings(2, 10, 1, "bogus").is_err());
        assert_eq!(config, unchanged);
    }

    #[test]
    fn apply_settings_moves_an_older_md5_auth_type_to_scram() {
        let mut config = PgbConfig::default_for(2, 44, 6432, "session").unwrap();
        assert_eq!(config.get(PGBOUNCER, "auth_type"), Some("scram-sha-256"));
        let keys = |c: &PgbConfig| -> Vec<String> {
            c.options(PGBOUNCER).map(|(k, _)| k.to_string()).collect()
        };
        let order = keys(&config);
        // A config an older revision rendered, read back.
        config.set(PGBOUNCER, "auth_type", "md5").unwrap();
        let mut old = PgbConfig::parse(&config.render()).unwrap();
        // Refused settings change nothing, the auth type included.
        assert!(old.apply_settings(2, 10, 1, "bogus").is_err());
        assert_eq!(old.get(PGBOUNCER, "auth_type"), Some("md5"));
        old.apply_settings(2, 44, 6432, "session").unwrap();
        assert_eq!(old.get(PGBOUNCER, "auth_type"), Some(AUTH_TYPE));
        assert_eq!(keys(&old), order, "moved in place");
        // Another value, set by hand, is not the charm's to change.
        old.set(PGBOUNCER, "auth_type", "hba").unwrap();
        old.apply_settings(2, 44, 6432, "session").unwrap();
        assert_eq!(old.get(PGBOUNCER, "auth_type"), Some("hba"));
    }

    #[test]
    fn parse_errors_name_the_line() {
        for (text, line, reason) in [
            ("[pgbouncer\n", 1, "must end with ]"),
            ("[]\n", 1, "must match"),
            ("[ pgbouncer ]\n", 1, "must match"),
            ("[a]b]\n", 1, "must match"),
            ("[pgbouncer] x\n", 1, "must end with ]"),
            ("key = value\n", 1, "outside any section"),
            (
                "[pgbouncer]\nno equals sign\n",
                2,
                "expected \"key = value\"",
            ),
            ("[databases]\n\n[databases]\n", 3, "[databases] is repeated"),
            ("[pgbouncer]\n = x\n", 2, "without a name"),
            (
                "[pgbouncer]\nlogfile = a\n\nlogfile = b\n",
                4,
                "an entry of [pgbouncer] is repeated (first on line 2)",
            ),
            ("[databases]\na = host=h\na = host=i\n", 3, "is repeated"),
            ("%include other.ini\n", 1, "%include"),
            ("[databases]\n\"unclosed = host=h\n", 2, "not closed"),
            ("[databases]\n\"db\" host=h\n", 2, "expected = after"),
            ("[databases]\n= host=h\n", 2, "without a name"),
            ("[databases]\nno-equals\n", 2, "<connection string>"),
            (
                "[databases]\ndb = host\n",
                2,
                "database entry: expected key=value at byte 0",
            ),
            ("[databases]\ndb = host=a port=5 =x\n", 2, "at byte 14"),
            (
                "[databases]\ndb = host='a\n",
                2,
                "the quoted value of host is not closed",
            ),
            ("[databases]\ndb = host='a'b\n", 2, "followed by text"),
            ("[databases]\ndb = host=''\n", 2, "host has an empty value"),
            (
                "[databases]\ndb = host=a host=b\n",
                2,
                "host is given twice",
            ),
        ] {
            let (got_line, got_reason) = parse_error_line(text);
            assert_eq!(got_line, line, "{text:?}");
            assert!(got_reason.contains(reason), "{text:?}: {got_reason}");
        }
    }

    #[test]
    fn parse_errors_never_show_connection_string_values() {
        for text in [
            "[databases]\ndb = password='s3cr3t\n",
            "[databases]\ndb = password=s3cr3t s3cr3t\n",
            "[databases]\ndb = password='s3cr3t'x\n",
            "[databases]\ndb = password=s3cr3t password=s3cr3t\n",
            "[databases]\ns3cr3t\n",
        ] {
            let err = PgbConfig::parse(text).unwrap_err().to_string();
            assert!(!err.contains("s3cr3t"), "{err}");
        }
        let mut config = valid_base();
        let err = config
            .add_database("db", &[("password", "s3cr3t\n")])
            .unwrap_err()
            .to_string();
        assert!(!err.contains("s3cr3t"), "{err}");
        assert!(!format!("{config:?}").contains("s3cr3t"));
        config
            .add_database("db", &[("password", "s3cr3t")])
            .unwrap();
        assert!(!format!("{config:?}").contains("s3cr3t"));
        assert!(format!("{config:?}").contains("<hidden>"));
    }

    #[test]
    fn validation_follows_the_spec() {
        let missing = PgbConfig::parse("[pgbouncer]\nlogfile = a\npidfile = b\n").unwrap();
        assert_eq!(
            missing.validate(),
            Err(PgbConfigError::MissingSection {
                section: "databases".into()
            })
        );
        let no_pgbouncer = PgbConfig::parse("[databases]\n").unwrap();
        assert_eq!(
            no_pgbouncer.validate(),
            Err(PgbConfigError::MissingSection {
                section: "pgbouncer".into()
            })
        );
        for (text, option) in [
            ("[databases]\n[pgbouncer]\nlogfile = a\n", "pidfile"),
            ("[databases]\n[pgbouncer]\npidfile = a\n", "logfile"),
        ] {
            let err = PgbConfig::parse(text).unwrap().validate().unwrap_err();
            assert_eq!(
                err,
                PgbConfigError::MissingOption {
                    section: "pgbouncer".into(),
                    option: option.into()
                }
            );
            assert_eq!(
                err.to_string(),
                format!("option {option} is missing from [pgbouncer]")
            );
        }
    }

    #[test]
    fn conn_params_parse_like_pgbouncer() {
        let params =
            ConnParams::parse(" host = h\tport=5432  dbname='a b' password='it''s' x=''''")
                .unwrap();
        assert_eq!(
            params
                .iter()
                .map(|(k, v)| (k.as_str(), v.as_str()))
                .collect::<Vec<_>>(),
            [
                ("host", "h"),
                ("port", "5432"),
                ("dbname", "a b"),
                ("password", "it's"),
                ("x", "'")
            ]
        );
        assert_eq!(
            params.render(),
            "host=h port=5432 dbname='a b' password='it''s' x=''''"
        );
        // As in PgBouncer, whitespace after = is skipped.
        assert_eq!(ConnParams::parse("a= b").unwrap().get("a"), Some("b"));
        assert_eq!(ConnParams::parse("").unwrap(), ConnParams::new());
        assert_eq!(ConnParams::parse("   ").unwrap().len(), 0);
        assert_eq!(ConnParams::parse("a=x=y").unwrap().get("a"), Some("x=y"));
    }

    #[test]
    fn instance_files_override_paths() {
        let config = PgbConfig::default_for(2, 44, 6432, "session").unwrap();
        for n in 0..4 {
            let instance = PgbConfig::parse(&config.render_instance(n)).unwrap();
            assert_eq!(instance, config.instance(n));
            assert_eq!(
                instance.get(PGBOUNCER, "unix_socket_dir"),
                Some(instance_dir(n).as_str())
            );
            assert_eq!(
                instance.get(PGBOUNCER, "pidfile"),
                Some(format!("/var/lib/pgbouncer/instance_{n}/pgbouncer.pid").as_str())
            );
            assert_eq!(
                instance.get(PGBOUNCER, "logfile"),
                Some(""),
                "instances log to stderr, which Pebble bounds"
            );
            // Everything else is the main config's, in the same order.
            let mut back = instance.clone();
            for key in ["unix_socket_dir", "pidfile", "logfile"] {
                back.set(PGBOUNCER, key, config.get(PGBOUNCER, key).unwrap())
                    .unwrap();
            }
            assert_eq!(back, config);
            instance.validate().unwrap();
        }
    }

    #[test]
    fn auth_settings_come_and_go() {
        let mut config = PgbConfig::default_for(2, 44, 6432, "session").unwrap();
        let plain = config.clone();
        assert!(!config.has_auth_query());
        config.set_auth("pgbouncer_auth_relation_id_3").unwrap();
        assert!(config.has_auth_query());
        assert_eq!(
            config.get(PGBOUNCER, "auth_query"),
            Some("SELECT username, password FROM \"pgbouncer_auth_relation_id_3\".get_auth($1)")
        );
        assert_eq!(config.get(PGBOUNCER, "auth_file"), Some(AUTH_FILE_PATH));
        assert_eq!(
            config.get(PGBOUNCER, "auth_user"),
            Some("pgbouncer_auth_relation_id_3")
        );
        config.validate().unwrap();
        assert_eq!(PgbConfig::parse(&config.render()).unwrap(), config);
        config.clear_auth();
        assert!(!config.has_auth_query());
        assert_eq!(config, plain);
    }

    #[test]
    fn base_dirs_move() {
        let mut config = PgbConfig::default_for(2, 44, 6432, "session")
            .unwrap()
            .instance(1);
        config.set_auth("u").unwrap();
        config
            .set(
                PGBOUNCER,
                "logfile",
                "/var/log/pgbouncer/instance_1/pgbouncer.log",
            )
            .unwrap();
        config
            .set(PGBOUNCER, "other", "/var/lib/pgbouncerX/file")
            .unwrap();
        config
            .add_database("db", &[("host", "/var/lib/pgbouncer")])
            .unwrap();
        let moved = config.with_base_dirs("/tmp/lib/", "/tmp/log");
        assert_eq!(
            moved.get(PGBOUNCER, "logfile"),
            Some("/tmp/log/instance_1/pgbouncer.log")
        );
        assert_eq!(
            moved.get(PGBOUNCER, "pidfile"),
            Some("/tmp/lib/instance_1/pgbouncer.pid")
        );
        assert_eq!(
            moved.get(PGBOUNCER, "unix_socket_dir"),
            Some("/tmp/lib/instance_1")
        );
        assert_eq!(
            moved.get(PGBOUNCER, "auth_file"),
            Some("/tmp/lib/userlist.txt")
        );
        assert_eq!(
            moved.get(PGBOUNCER, "other"),
            Some("/var/lib/pgbouncerX/file")
        );
        assert_eq!(moved.get(DATABASES, "db"), Some("host=/var/lib/pgbouncer"));
        let main = PgbConfig::default_for(2, 44, 6432, "session")
            .unwrap()
            .with_base_dirs("/b", "/l");
        assert_eq!(main.get(PGBOUNCER, "unix_socket_dir"), Some("/b"));
    }

    #[test]
    fn parse_normalises_and_render_is_stable() {
        let text = "; a comment\r\n# another\r\n  [databases]\r\n\
                    appdb =  host=h   port=5432 dbname=appdb\r\n\
                    my-db= host=h dbname='my db'\r\n\
                    \r\n[pgbouncer]\r\nlogfile=/l\r\n   pidfile = /p   \r\n\
                    admin_users = zoe, amy ,amy,,\r\nunix_socket_dir =\r\n\
                    [users]\r\nadmin_users = b,a\r\n";
        let config = PgbConfig::parse(text).unwrap();
        config.validate().unwrap();
        assert_eq!(config.get(PGBOUNCER, "admin_users"), Some("amy,zoe"));
        assert_eq!(config.user_list("admin_users"), ["amy", "zoe"]);
        assert_eq!(config.user_list("stats_users"), Vec::<&str>::new());
        // Only [pgbouncer] options are user lists.
        assert_eq!(config.get("users", "admin_users"), Some("b,a"));
        assert_eq!(config.get(PGBOUNCER, "pidfile"), Some("/p"));
        assert_eq!(config.get(PGBOUNCER, "unix_socket_dir"), Some(""));
        assert_eq!(
            config.get(DATABASES, "appdb"),
            Some("host=h port=5432 dbname=appdb")
        );
        assert_eq!(
            config.database("my-db").unwrap().get("dbname"),
            Some("my db")
        );
        let rendered = config.render();
        assert_eq!(
            rendered,
            "[databases]\n\
             appdb = host=h port=5432 dbname=appdb\n\
             my-db = host=h dbname='my db'\n\
             \n[pgbouncer]\nlogfile = /l\npidfile = /p\nadmin_users = amy,zoe\nunix_socket_dir =\n\
             \n[users]\nadmin_users = b,a\n"
        );
        assert_eq!(PgbConfig::parse(&rendered).unwrap(), config);
        assert_eq!(PgbConfig::parse(&rendered).unwrap().render(), rendered);
        assert_eq!(config.render_validated().unwrap(), rendered);
    }

    #[test]
    fn round_trips_on_handwritten_configs() {
        for (text, valid) in [
            (
                "[databases]\n\n[pgbouncer]\nlogfile = /l\npidfile = /p\n",
                true,
            ),
            (
                "[pgbouncer]\nlogfile = /l\npidfile = /p\n\n[databases]\n",
                true,
            ),
            (
                "[databases]\nweird = dbname='it''s' password='a b'\nx-y_1 =\n\
                 \n[pgbouncer]\nlogfile = /l\npidfile = /p\nauth_query = SELECT a = b FROM x($1)\n\
                 \n[users]\nalice = pool_mode=session\n\n[empty]\n",
                true,
            ),
            // Parsed, but refused: quoted names, the `*` fallback.
            (
                "[databases]\n\"we\"\"ird\" = host=h\n\n[pgbouncer]\nlogfile = /l\npidfile = /p\n",
                false,
            ),
            (
                "[databases]\n* = host=fallback\n\n[pgbouncer]\nlogfile = /l\npidfile = /p\n",
                false,
            ),
        ] {
            let config = PgbConfig::parse(text).unwrap();
            assert_eq!(config.render(), text);
            assert_eq!(PgbConfig::parse(&config.render()).unwrap(), config);
            assert_eq!(config.validate().is_ok(), valid, "{text}");
            assert_eq!(config.render_validated().is_ok(), valid, "{text}");
        }
    }

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
    fn unwritable_names_and_values_are_refused() {
        let mut config = valid_base();
        assert_eq!(
            config.set(PGBOUNCER, "bad key", "x"),
            Err(PgbConfigError::InvalidOptionName {
                section: "pgbouncer".into(),
                len: 7
            })
        );
        for value in ["SELECT 1\nSELECT 2", "x\r", "\ty", "a\u{0}b", "a\u{85}b"] {
            let err = config.set(PGBOUNCER, "auth_query", value).unwrap_err();
            assert_eq!(
                err,
                PgbConfigError::InvalidValue {
                    section: "pgbouncer".into(),
                    key: "auth_query".into(),
                    reason: "it holds a control character"
                },
                "{value:?}"
            );
        }
        for name in ["", " x", "a]b", "a\nb", "a b", "a.b", &"s".repeat(65)] {
            assert_eq!(
                config.set(name, "k", "v"),
                Err(PgbConfigError::InvalidSectionName { len: name.len() }),
                "{name:?}"
            );
        }
        for user in ["", "Upper", "a-b", "a\"b", &"u".repeat(64)] {
            assert_eq!(
                config.set_auth(user),
                Err(PgbConfigError::InvalidAuthUser { len: user.len() })
            );
            assert!(config.set(PGBOUNCER, "auth_user", user).is_err());
        }
        assert_eq!(config, valid_base());

        // The same in a config built around the API.
        let mut raw = valid_base();
        raw.put(PGBOUNCER, "auth_query", "SELECT 1\nSELECT 2".into());
        assert!(matches!(
            raw.validate(),
            Err(PgbConfigError::InvalidValue { .. })
        ));
        let mut raw = valid_base();
        raw.put(PGBOUNCER, "auth_user", "x y".into());
        assert_eq!(
            raw.validate(),
            Err(PgbConfigError::InvalidAuthUser { len: 3 })
        );
        let mut raw = valid_base();
        raw.put("a b", "k", "v".into());
        assert_eq!(
            raw.validate(),
            Err(PgbConfigError::InvalidSectionName { len: 3 })
        );
    }

    #[test]
    fn set_get_and_remove() {
        let mut config = PgbConfig::new();
        assert_eq!(config, PgbConfig::default());
        config.set(PGBOUNCER, "listen_addr", "  *  ").unwrap();
        config.set(PGBOUNCER, "stats_users", "b,a, c ,a").unwrap();
        config.set("users", "alice", "pool_mode=session").unwrap();
        config.set(DATABASES, "db", "  host=h   port=1 ").unwrap();
        assert_eq!(
            config.section_names().collect::<Vec<_>>(),
            ["pgbouncer", "users", "databases"]
        );
        assert_eq!(config.get(PGBOUNCER, "listen_addr"), Some("*"));
        assert_eq!(config.get(PGBOUNCER, "stats_users"), Some("a,b,c"));
        assert_eq!(config.user_list("stats_users"), ["a", "b", "c"]);
        assert_eq!(config.get(DATABASES, "db"), Some("host=h port=1"));
        assert_eq!(config.get("nowhere", "db"), None);
        assert_eq!(config.get(PGBOUNCER, "nothing"), None);

        config.set(PGBOUNCER, "listen_addr", "127.0.0.1").unwrap();
        assert_eq!(
            config.options(PGBOUNCER).collect::<Vec<_>>(),
            [("listen_addr", "127.0.0.1"), ("stats_users", "a,b,c")]
        );
        assert!(config.remove(PGBOUNCER, "listen_addr"));
        assert!(!config.remove(PGBOUNCER, "listen_addr"));
        assert!(!config.remove("nowhere", "listen_addr"));
        assert_eq!(config.options("nowhere").count(), 0);
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

    #[test]
    fn conn_params_errors() {
        let param = |index, known| Param { index, known };
        for (text, want) in [
            ("host", ConnParamsError::NotKeyValue { at: 0 }),
            ("a=1 =2", ConnParamsError::NotKeyValue { at: 4 }),
            ("a=1 b c=2", ConnParamsError::NotKeyValue { at: 4 }),
            (
                "host='x",
                ConnParamsError::UnterminatedQuote {
                    param: param(0, Some("host")),
                },
            ),
            (
                "port=1 unknown='x''",
                ConnParamsError::UnterminatedQuote {
                    param: param(1, None),
                },
            ),
            (
                "user='x'y",
                ConnParamsError::TextAfterQuote {
                    param: param(0, Some("user")),
                },
            ),
            (
                "a=",
                ConnParamsError::EmptyValue {
                    param: param(0, None),
                },
            ),
            (
                "dbname=''",
                ConnParamsError::EmptyValue {
                    param: param(0, Some("dbname")),
                },
            ),
            (
                "port=1 port=2",
                ConnParamsError::RepeatedKey {
                    param: param(1, Some("port")),
                },
            ),
        ] {
            assert_eq!(ConnParams::parse(text), Err(want), "{text:?}");
        }
        let parsed = ConnParams::parse("host='x\u{1}'").unwrap();
        assert_eq!(
            parsed.validate(),
            Err(ConnParamsError::ForbiddenCharacter {
                param: param(0, Some("host"))
            })
        );
        assert_eq!(
            ConnParamsError::UnknownKey {
                param: param(2, None),
                len: 5
            }
            .to_string(),
            "parameter 3 (5 bytes) is not a parameter PgBouncer knows"
        );
        assert_eq!(
            ConnParamsError::EmptyValue {
                param: param(0, Some("host"))
            }
            .to_string(),
            "host has an empty value"
        );
    }

    #[test]
    fn conn_params_are_an_ordered_map() {
        let mut params = ConnParams::from_pairs([("port", "1"), ("host", "2")]).unwrap();
        assert_eq!(params.insert("port", "3"), Ok(Some("1".to_string())));
        assert_eq!(params.insert("dbname", "4"), Ok(None));
        assert_eq!(params.render(), "port=3 host=2 dbname=4");
        let before = params.clone();
        assert!(params.insert("port", "5\n").is_err());
        assert!(params.insert("nope", "5").is_err());
        assert_eq!(params, before);
        assert_eq!(params.remove("host"), Some("2".to_string()));
        assert_eq!(params.remove("host"), None);
        assert_eq!(params.get("dbname"), Some("4"));
        assert_eq!(params.len(), 2);
        assert!(!params.is_empty());
        let keys: Vec<&str> = (&params).into_iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(keys, ["port", "dbname"]);
        params.insert("password", "pw").unwrap();
        assert_eq!(
            format!("{params:?}"),
            r#"{"port": "3", "dbname": "4", "password": "<hidden>"}"#
        );
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

    // ---- property tests (issue 15 items 3, 4, 5) ----

    use proptest::prelude::*;

    /// Every entry of every section, counted.
    fn entry_count(config: &PgbConfig) -> usize {
        config.sections.iter().map(|s| s.entries.len()).sum()
    }

    /// An 8-byte window of `input` (at char boundaries) found in `message`
    /// once the names of known parameters are taken out of it (those are the
    /// charm's vocabulary, not the input's).
    fn leaked<'a>(input: &'a str, message: &str) -> Option<&'a str> {
        let mut message = message.to_string();
        for key in CONN_PARAM_KEYS {
            message = message.replace(key, "");
        }
        crate::test_support::leaked(input, &message)
    }

    /// Text with what matters to PgBouncer's parsers: line breaks, `;`, `#`,
    /// `=`, brackets, both quotes, backslashes, blanks, unicode.
    fn tricky() -> impl Strategy<Value = String> {
        prop::collection::vec(
            prop_oneof![
                4 => "[a-z_]{1,6}",
                1 => Just("\n".to_string()),
                1 => Just("\r".to_string()),
                1 => Just("\t".to_string()),
                1 => Just("\u{1}".to_string()),
                1 => Just("\u{7f}".to_string()),
                1 => Just("\u{85}".to_string()),
                1 => Just(";".to_string()),
                1 => Just("#".to_string()),
                1 => Just("=".to_string()),
                1 => Just("[".to_string()),
                1 => Just("]".to_string()),
                1 => Just("'".to_string()),
                1 => Just("\"".to_string()),
                1 => Just("\\".to_string()),
                1 => Just(" ".to_string()),
                1 => Just("é".to_string()),
                1 => Just("%".to_string()),
                1 => "\\PC",
            ],
            0..10,
        )
        .prop_map(|parts| parts.concat())
    }

    fn param_key() -> impl Strategy<Value = String> {
        prop_oneof![
            3 => prop::sample::select(CONN_PARAM_KEYS.to_vec()).prop_map(str::to_string),
            1 => tricky(),
        ]
    }

    /// Config-like text: section headers, options, database lines, comments.
    fn config_text() -> impl Strategy<Value = String> {
        let line = prop_oneof![
            2 => prop::sample::select(vec!["databases", "pgbouncer", "users", "x-y"])
                .prop_map(|s| format!("[{s}]")),
            1 => tricky().prop_map(|s| format!("[{s}]")),
            4 => ("[A-Za-z0-9_-]{1,8}|[a-z_.*]{1,6}", prop::collection::vec((param_key(), "[ -~]{0,6}"), 0..3))
                .prop_map(|(name, pairs)| {
                    let params: Vec<String> = pairs
                        .iter()
                        .map(|(k, v)| format!("{k}='{}'", v.replace('\'', "''")))
                        .collect();
                    format!("{name} = {}", params.join(" "))
                }),
            2 => ("[a-z_]{1,8}", "[ -~]{0,12}").prop_map(|(k, v)| format!("{k} = {v}")),
            1 => tricky(),
            1 => Just("logfile = /l\npidfile = /p".to_string()),
        ];
        prop::collection::vec(line, 0..12).prop_map(|lines| lines.join("\n"))
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
        let name = prop_oneof![3 => "[A-Za-z0-9_-]{1,8}", 2 => tricky()];
        let value = prop_oneof![2 => "[ -~]{0,10}", 2 => tricky()];
        prop_oneof![
            (section, name.clone(), value.clone()).prop_map(|(s, k, v)| Op::Set(s, k, v)),
            (
                name.clone(),
                prop::collection::vec((param_key(), value), 0..4)
            )
                .prop_map(|(n, p)| Op::AddDatabase(n, p)),
            prop_oneof!["[a-z0-9_]{1,10}", tricky()].prop_map(Op::SetAuth),
            name.prop_map(Op::Remove),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        /// Issue 15 item 3 (and 4 on what parses and validates).
        #[test]
        fn prop_pgbconfig_parse_never_panics(text in "\\PC{0,200}|[\\[\\]=;#\"' a-z\n\r\t%]{0,200}") {
            if let Ok(config) = PgbConfig::parse(&text)
                && config.validate().is_ok()
            {
                let rendered = config.render();
                prop_assert_eq!(PgbConfig::parse(&rendered).unwrap(), config);
            }
        }

        /// Issue 15 item 4.
        #[test]
        fn prop_pgbconfig_roundtrip(text in config_text()) {
            let Ok(config) = PgbConfig::parse(&text) else {
                return Ok(());
            };
            if config.validate().is_err() {
                prop_assert!(config.render_validated().is_err());
                return Ok(());
            }
            let rendered = config.render_validated().unwrap();
            let again = PgbConfig::parse(&rendered).unwrap();
            prop_assert_eq!(&again, &config);
            prop_assert_eq!(again.render(), rendered);
        }

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

        #[test]
        fn prop_connparams_roundtrip(pairs in prop::collection::vec((param_key(), prop_oneof!["[ -~]{0,10}", tricky()]), 0..5)) {
            match ConnParams::from_pairs(pairs.iter().map(|(k, v)| (k.as_str(), v.as_str()))) {
                Ok(params) => {
                    params.validate().unwrap();
                    let rendered = params.render();
                    prop_assert!(!rendered.contains(|c: char| c.is_control()));
                    let back = ConnParams::parse(&rendered).unwrap();
                    prop_assert_eq!(&back, &params);
                    prop_assert_eq!(back.render(), rendered);
                }
                Err(e) => {
                    for (k, v) in &pairs {
                        prop_assert_eq!(leaked(k, &e.to_string()), None, "{}", e);
                        prop_assert_eq!(leaked(v, &e.to_string()), None, "{}", e);
                    }
                }
            }
        }

        #[test]
        fn prop_connparams_errors_never_hold_the_input(text in "\\PC{0,80}|[a-z_=' \t\n]{0,80}|(password='[ -~]{8,16}' ?){1,3}") {
            match ConnParams::parse(&text) {
                Ok(params) => {
                    if let Err(e) = params.validate() {
                        prop_assert_eq!(leaked(&text, &e.to_string()), None, "{}", e);
                    } else {
                        prop_assert_eq!(ConnParams::parse(&params.render()).unwrap(), params);
                    }
                }
                Err(e) => prop_assert_eq!(leaked(&text, &e.to_string()), None, "{}", e),
            }
            let config = format!("[databases]\ndb = {text}\n[pgbouncer]\nlogfile = /l\npidfile = /p\n");
            match PgbConfig::parse(&config).and_then(|c| c.validate()) {
                Ok(()) => {}
                Err(e) => prop_assert_eq!(leaked(&text, &e.to_string()), None, "{}", e),
            }
        }
    }
}
