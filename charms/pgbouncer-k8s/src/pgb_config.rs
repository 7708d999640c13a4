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
//! The contract: mutators ([`PgbConfig::set`], [`PgbConfig::add_database`],
//! ...) never fail; [`PgbConfig::validate`] says whether the result is sound,
//! and for every config that validates, `PgbConfig::parse(&c.render()) == c`.
//! [`PgbConfig::parse`] is strict about structure (it never guesses) and
//! never puts a connection string's values in an error message, since they
//! may hold a password.

use std::fmt;

/// Where PgBouncer's files live in the workload container.
pub const LIB_DIR: &str = "/var/lib/pgbouncer";
/// Where PgBouncer logs.
pub const LOG_DIR: &str = "/var/log/pgbouncer";
/// The main config.
pub const INI_PATH: &str = "/var/lib/pgbouncer/pgbouncer.ini";
/// The auth file.
pub const AUTH_FILE_PATH: &str = "/var/lib/pgbouncer/userlist.txt";
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

/// The log directory of instance `n`. PgBouncer does not create it: it
/// refuses to start when its log file's directory is missing.
pub fn instance_log_dir(n: usize) -> String {
    format!("{LOG_DIR}/instance_{n}")
}

/// The log file of instance `n`.
pub fn instance_logfile(n: usize) -> String {
    format!("{}/pgbouncer.log", instance_log_dir(n))
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

/// What is wrong with a `[databases]` connection string. Messages name keys
/// and positions, never values (a value may be a password).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConnParamsError {
    /// Text that is not `key=value`.
    #[error("expected key=value at byte {at}")]
    NotKeyValue {
        /// Where the pair starts, in bytes from the start of the string.
        at: usize,
    },
    /// A single-quoted value without its closing quote.
    #[error("the quoted value of {key} is not closed")]
    UnterminatedQuote {
        /// The parameter.
        key: String,
    },
    /// Text right after a closing quote.
    #[error("the quoted value of {key} is followed by text without a space")]
    TextAfterQuote {
        /// The parameter.
        key: String,
    },
    /// An empty value, which PgBouncer rejects.
    #[error("{key} has an empty value")]
    EmptyValue {
        /// The parameter.
        key: String,
    },
    /// The same key twice.
    #[error("{key} is given twice")]
    RepeatedKey {
        /// The parameter.
        key: String,
    },
    /// A key that is empty or holds whitespace, `=` or control characters.
    #[error("{key:?} is not a valid parameter name")]
    InvalidKey {
        /// The parameter.
        key: String,
    },
    /// A value with a control character (a line break would split the entry).
    #[error("the value of {key} holds a control character")]
    ControlCharacter {
        /// The parameter.
        key: String,
    },
}

/// What is wrong with a config.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PgbConfigError {
    /// Text that is not a config: the line and what is wrong with it.
    #[error("line {line}: {reason}")]
    Parse {
        /// The line, from 1.
        line: usize,
        /// What is wrong.
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
    /// A database name that is neither plain nor double-quoted.
    #[error("database name {name:?} must match [A-Za-z0-9_-]+ or be double-quoted")]
    InvalidDatabaseName {
        /// The name.
        name: String,
    },
    /// `pgbouncer` is PgBouncer's own admin database.
    #[error("database name {name:?} is reserved by PgBouncer")]
    ReservedDatabaseName {
        /// The name.
        name: String,
    },
    /// A `[databases]` entry whose connection string is not sound.
    #[error("database {name:?}: {source}")]
    InvalidDatabaseEntry {
        /// The database.
        name: String,
        /// What is wrong with its connection string.
        source: ConnParamsError,
    },
    /// A section name that cannot be written as `[name]`.
    #[error("section name {name:?} is not valid: {reason}")]
    InvalidSectionName {
        /// The name.
        name: String,
        /// What is wrong.
        reason: &'static str,
    },
    /// An option name PgBouncer would not read.
    #[error("option name {key:?} in [{section}] must match [A-Za-z0-9_.*-]+")]
    InvalidOptionName {
        /// The section.
        section: String,
        /// The option.
        key: String,
    },
    /// An option value that cannot be written on one line, or that PgBouncer
    /// would not accept.
    #[error("option {key} in [{section}] has an invalid value {value:?}: {reason}")]
    InvalidValue {
        /// The section.
        section: String,
        /// The option.
        key: String,
        /// The value.
        value: String,
        /// What is wrong.
        reason: &'static str,
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
/// parameter to value (`host=10.0.0.5 port=5432 dbname=app`).
///
/// Values with spaces or quotes are written single-quoted, with `''` for a
/// quote, as PgBouncer reads them. `Debug` hides the `password` value.
///
/// ```
/// use pgbouncer_k8s::pgb_config::ConnParams;
///
/// let mut params = ConnParams::parse("host=10.0.0.5  dbname='my app'").unwrap();
/// assert_eq!(params.get("dbname"), Some("my app"));
/// params.insert("port", "5432");
/// assert_eq!(params.render(), "host=10.0.0.5 dbname='my app' port=5432");
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

impl ConnParams {
    /// No parameters.
    pub fn new() -> Self {
        Self::default()
    }

    /// Parses a connection string as PgBouncer does: pairs separated by
    /// whitespace, a value single-quoted (with `''` for a quote) or running
    /// to the next whitespace. Stricter than PgBouncer where it would guess:
    /// repeated keys and text glued to a closing quote are errors.
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
            let after_key = rest[key_end..].trim_start_matches(|c: char| c.is_ascii_whitespace());
            let after_eq = match after_key.strip_prefix('=') {
                Some(after_eq) if !key.is_empty() => {
                    after_eq.trim_start_matches(|c: char| c.is_ascii_whitespace())
                }
                _ => return Err(ConnParamsError::NotKeyValue { at }),
            };
            let (value, remainder) = match after_eq.strip_prefix('\'') {
                Some(quoted) => unquote(key, quoted)?,
                None => {
                    let end = after_eq
                        .find(|c: char| c.is_ascii_whitespace())
                        .unwrap_or(after_eq.len());
                    (after_eq[..end].to_string(), &after_eq[end..])
                }
            };
            if value.is_empty() {
                return Err(ConnParamsError::EmptyValue {
                    key: key.to_string(),
                });
            }
            if value.contains(char::is_control) {
                return Err(ConnParamsError::ControlCharacter {
                    key: key.to_string(),
                });
            }
            if params.get(key).is_some() {
                return Err(ConnParamsError::RepeatedKey {
                    key: key.to_string(),
                });
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

    /// Whether every pair can be written and read back: keys non-empty
    /// without whitespace, `=` or control characters; values non-empty
    /// without control characters.
    pub fn validate(&self) -> Result<(), ConnParamsError> {
        for (key, value) in &self.pairs {
            if key.is_empty()
                || key.contains(|c: char| c == '=' || c.is_whitespace() || c.is_control())
            {
                return Err(ConnParamsError::InvalidKey { key: key.clone() });
            }
            if value.is_empty() {
                return Err(ConnParamsError::EmptyValue { key: key.clone() });
            }
            if value.contains(char::is_control) {
                return Err(ConnParamsError::ControlCharacter { key: key.clone() });
            }
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
    /// otherwise; returns the value it replaced.
    pub fn insert(&mut self, key: &str, value: &str) -> Option<String> {
        match self.pairs.iter_mut().find(|(k, _)| k == key) {
            Some((_, v)) => Some(std::mem::replace(v, value.to_string())),
            None => {
                self.pairs.push((key.to_string(), value.to_string()));
                None
            }
        }
    }

    /// Removes a parameter; returns its value.
    pub fn remove(&mut self, key: &str) -> Option<String> {
        let i = self.pairs.iter().position(|(k, _)| k == key)?;
        Some(self.pairs.remove(i).1)
    }

    /// The parameters, in order.
    pub fn iter(&self) -> std::slice::Iter<'_, (String, String)> {
        self.pairs.iter()
    }

    /// How many parameters.
    pub fn len(&self) -> usize {
        self.pairs.len()
    }

    /// Whether there are no parameters.
    pub fn is_empty(&self) -> bool {
        self.pairs.is_empty()
    }
}

/// The value after an opening quote, and the text after the closing one.
fn unquote<'t>(key: &str, quoted: &'t str) -> Result<(String, &'t str), ConnParamsError> {
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
                return Err(ConnParamsError::TextAfterQuote {
                    key: key.to_string(),
                });
            }
            return Ok((value, remainder));
        }
    }
    Err(ConnParamsError::UnterminatedQuote {
        key: key.to_string(),
    })
}

impl<'a> IntoIterator for &'a ConnParams {
    type Item = &'a (String, String);
    type IntoIter = std::slice::Iter<'a, (String, String)>;

    fn into_iter(self) -> Self::IntoIter {
        self.iter()
    }
}

impl<K: AsRef<str>, V: AsRef<str>> FromIterator<(K, V)> for ConnParams {
    /// Later pairs replace earlier ones with the same key, in place.
    fn from_iter<I: IntoIterator<Item = (K, V)>>(iter: I) -> Self {
        let mut params = Self::new();
        for (k, v) in iter {
            params.insert(k.as_ref(), v.as_ref());
        }
        params
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
/// config.add_database("appdb", &[("host", "10.0.0.5"), ("dbname", "appdb")]);
/// config.set_auth("pgbouncer_auth_app");
/// config.validate().unwrap();
/// let text = config.render();
/// assert!(text.contains("\nappdb = host=10.0.0.5 dbname=appdb\n"));
/// assert!(text.contains("\ndefault_pool_size = 11\n"));
/// assert_eq!(PgbConfig::parse(&text).unwrap(), config);
///
/// // Instance 1 of this unit runs with its own socket, pid file and log.
/// let instance = config.render_instance(1);
/// assert!(instance.contains("\nlogfile = /var/log/pgbouncer/instance_1/pgbouncer.log\n"));
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

fn is_plain_database_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

/// `"..."` with `""` for each quote inside, and something inside.
fn is_quoted_database_name(name: &str) -> bool {
    let Some(inner) = name
        .strip_prefix('"')
        .and_then(|rest| rest.strip_suffix('"'))
    else {
        return false;
    };
    !inner.is_empty()
        && !inner.contains(char::is_control)
        && !inner.replace("\"\"", "").contains('"')
}

fn is_option_name(key: &str) -> bool {
    !key.is_empty()
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_.*-".contains(c))
}

fn section_name_problem(name: &str) -> Option<&'static str> {
    if name.is_empty() {
        Some("it is empty")
    } else if name != name.trim() {
        Some("it starts or ends with whitespace")
    } else if name.contains(['[', ']']) || name.contains(char::is_control) {
        Some("it holds a bracket or a control character")
    } else {
        None
    }
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
        .ok_or_else(|| format!("expected = after the database name {name}"))?;
    Ok((name, value.trim()))
}

/// `key = value`, for sections other than `[databases]`.
fn split_option_line(line: &str) -> Result<(&str, &str), String> {
    let (key, value) = line
        .split_once('=')
        .ok_or_else(|| format!("expected \"key = value\", got {line:?}"))?;
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

/// The `auth_query` that reads passwords through `auth_user`'s `get_auth`.
pub fn auth_query_for(auth_user: &str) -> String {
    format!("SELECT username, password FROM {auth_user}.get_auth($1)")
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
    /// Errors give the line; a repeated section or option is an error, and so
    /// is `%include`.
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
                if let Some(problem) = section_name_problem(name) {
                    return Err(fail(format!("section name [{name}]: {problem}")));
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
                    ConnParams::parse(value).map_err(|e| fail(format!("database {name}: {e}")))?;
                (name, params.render())
            } else {
                let (key, value) = split_option_line(line).map_err(&fail)?;
                (key, normalise(&section.name, key, value))
            };
            if let Some(i) = section.entries.iter().position(|(k, _)| k == key) {
                return Err(fail(format!(
                    "{key} is repeated in [{}] (first on line {})",
                    section.name, first_lines[i]
                )));
            }
            section.entries.push((key.to_string(), value));
            first_lines.push(line_no);
        }
        Ok(config)
    }

    /// The text: sections in order, a blank line between them, one
    /// `key = value` line per option.
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

    /// Checks what the charm requires (`[databases]` present; `logfile` and
    /// `pidfile` in `[pgbouncer]`; database names plain (`[A-Za-z0-9_-]+`) or
    /// double-quoted, and not `pgbouncer`), then that everything can be
    /// written and read back: section and option names, one-line values,
    /// sound connection strings.
    ///
    /// Note that PgBouncer 1.18 (Debian bookworm, Ubuntu jammy) itself
    /// rejects double-quoted database names; later versions accept them.
    pub fn validate(&self) -> Result<(), PgbConfigError> {
        let databases = self
            .section(DATABASES)
            .ok_or_else(|| PgbConfigError::MissingSection {
                section: DATABASES.to_string(),
            })?;
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
        for (name, _) in &databases.entries {
            if !is_plain_database_name(name) && !is_quoted_database_name(name) {
                return Err(PgbConfigError::InvalidDatabaseName { name: name.clone() });
            }
            if name == "pgbouncer" || name == "\"pgbouncer\"" {
                return Err(PgbConfigError::ReservedDatabaseName { name: name.clone() });
            }
        }
        for section in &self.sections {
            if let Some(reason) = section_name_problem(&section.name) {
                return Err(PgbConfigError::InvalidSectionName {
                    name: section.name.clone(),
                    reason,
                });
            }
            for (key, value) in &section.entries {
                if section.name == DATABASES {
                    ConnParams::parse(value)
                        .and_then(|params| params.validate())
                        .map_err(|source| PgbConfigError::InvalidDatabaseEntry {
                            name: key.clone(),
                            source,
                        })?;
                    continue;
                }
                if !is_option_name(key) {
                    return Err(PgbConfigError::InvalidOptionName {
                        section: section.name.clone(),
                        key: key.clone(),
                    });
                }
                let reason = if value.contains(char::is_control) {
                    Some("it holds a control character")
                } else if value != value.trim() {
                    Some("it starts or ends with whitespace")
                } else {
                    None
                };
                if let Some(reason) = reason {
                    return Err(PgbConfigError::InvalidValue {
                        section: section.name.clone(),
                        key: key.clone(),
                        value: value.clone(),
                        reason,
                    });
                }
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
    /// canonical form. Never fails: [`validate`](Self::validate) reports a
    /// name or value that cannot be written.
    pub fn set(&mut self, section: &str, key: &str, value: &str) {
        let value = normalise(section, key, value);
        let entries = self.entries_mut(section);
        match entries.iter_mut().find(|(k, _)| k == key) {
            Some(entry) => entry.1 = value,
            None => entries.push((key.to_string(), value)),
        }
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

    /// Adds or replaces a `[databases]` entry (in place if it is there).
    /// Values are quoted as needed when rendered; [`validate`](Self::validate)
    /// checks the name and that every parameter can be written.
    pub fn add_database(&mut self, name: &str, params: &[(&str, &str)]) {
        let params: ConnParams = params.iter().copied().collect();
        self.set_database(name, &params);
    }

    /// Adds or replaces a `[databases]` entry (in place if it is there).
    pub fn set_database(&mut self, name: &str, params: &ConnParams) {
        let value = params.render();
        let entries = self.entries_mut(DATABASES);
        match entries.iter_mut().find(|(k, _)| k == name) {
            Some(entry) => entry.1 = value,
            None => entries.push((name.to_string(), value)),
        }
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
            ("auth_type", "md5".to_string()),
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
            config.set(PGBOUNCER, key, &value);
        }
        config.apply_settings(instances, max_db_connections, listen_port, pool_mode)?;
        Ok(config)
    }

    /// Sets the options the charm's config controls: `listen_port`,
    /// `pool_mode`, `max_db_connections` and the pool sizes derived from it.
    /// Changes nothing on error (no instance, unknown pool mode).
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
                value: pool_mode.to_string(),
                reason: "expected session, transaction or statement",
            });
        }
        let sizes = pool_sizes(max_db_connections, instances)?;
        self.set(PGBOUNCER, "listen_port", &listen_port.to_string());
        self.set(PGBOUNCER, "pool_mode", pool_mode);
        self.set(
            PGBOUNCER,
            "max_db_connections",
            &max_db_connections.to_string(),
        );
        self.set(PGBOUNCER, "default_pool_size", &sizes.default.to_string());
        self.set(PGBOUNCER, "min_pool_size", &sizes.min.to_string());
        self.set(PGBOUNCER, "reserve_pool_size", &sizes.reserve.to_string());
        Ok(())
    }

    /// Instance `n`'s config: this one with its own `unix_socket_dir`
    /// ([`instance_dir`]), `pidfile` (in it) and `logfile`
    /// ([`instance_logfile`]).
    pub fn instance(&self, n: usize) -> Self {
        let mut config = self.clone();
        config.set(PGBOUNCER, "unix_socket_dir", &instance_dir(n));
        config.set(PGBOUNCER, "pidfile", &instance_pidfile(n));
        config.set(PGBOUNCER, "logfile", &instance_logfile(n));
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

    /// Authenticates clients through `auth_user`: sets `auth_query`
    /// ([`auth_query_for`]), `auth_file` ([`AUTH_FILE_PATH`], where
    /// `auth_user`'s own password is) and `auth_user`.
    pub fn set_auth(&mut self, auth_user: &str) {
        self.set(PGBOUNCER, "auth_query", &auth_query_for(auth_user));
        self.set(PGBOUNCER, "auth_file", AUTH_FILE_PATH);
        self.set(PGBOUNCER, "auth_user", auth_user);
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
        assert_eq!(instance_log_dir(1), "/var/log/pgbouncer/instance_1");
        assert_eq!(
            instance_logfile(1),
            "/var/log/pgbouncer/instance_1/pgbouncer.log"
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
auth_type = md5
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
            matches!(&err, PgbConfigError::InvalidValue { key, value, .. } if key == "pool_mode" && value == "sessions"),
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
    fn parse_normalises_and_render_is_stable() {
        let text = "; a comment\r\n# another\r\n  [databases]\r\n\
                    appdb =  host=h   port=5432 dbname=appdb\r\n\
                    \"my db\"= host=h dbname='my db'\r\n\
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
            config.database("\"my db\"").unwrap().get("dbname"),
            Some("my db")
        );
        let rendered = config.render();
        assert_eq!(
            rendered,
            "[databases]\n\
             appdb = host=h port=5432 dbname=appdb\n\
             \"my db\" = host=h dbname='my db'\n\
             \n[pgbouncer]\nlogfile = /l\npidfile = /p\nadmin_users = amy,zoe\nunix_socket_dir =\n\
             \n[users]\nadmin_users = b,a\n"
        );
        assert_eq!(PgbConfig::parse(&rendered).unwrap(), config);
        assert_eq!(PgbConfig::parse(&rendered).unwrap().render(), rendered);
    }

    #[test]
    fn round_trips_on_handwritten_configs() {
        for text in [
            "[databases]\n\n[pgbouncer]\nlogfile = /l\npidfile = /p\n",
            "[pgbouncer]\nlogfile = /l\npidfile = /p\n\n[databases]\n",
            "[databases]\n\"we\"\"ird\" = dbname='it''s' password='a b'\nx-y_1 =\n\
             \n[pgbouncer]\nlogfile = /l\npidfile = /p\nauth_query = SELECT a = b FROM x($1)\n\
             \n[users]\nalice = pool_mode=session\n\n[empty]\n",
            "[databases]\n* = host=fallback\n\n[pgbouncer]\nlogfile = /l\npidfile = /p\n",
        ] {
            let config = PgbConfig::parse(text).unwrap();
            assert_eq!(config.render(), text);
            assert_eq!(PgbConfig::parse(&config.render()).unwrap(), config);
        }
    }

    /// A small deterministic generator of configs built through the API.
    struct XorShift(u64);

    impl XorShift {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }

        fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
            items[(self.next() % items.len() as u64) as usize]
        }
    }

    #[test]
    fn round_trips_on_generated_configs() {
        let names = ["a", "app-db", "db_2", "\"my db\"", "\"q\"\"uote\"", "X"];
        let keys = [
            "host",
            "port",
            "dbname",
            "password",
            "application_name",
            "user",
        ];
        let values = [
            "h", "5432", "it's", "a b", "''", "x=y", "ünï", "\"q\"", "a  b ", "#;",
        ];
        let options = [
            "listen_addr",
            "auth_query",
            "admin_users",
            "stats_users",
            "x.y",
            "*",
        ];
        let option_values = [
            "",
            "*",
            "b, a,a",
            "SELECT 1 = 1",
            "  padded  ",
            ";not a comment",
        ];
        let mut rng = XorShift(0x5eed_1234_abcd_0001);
        for _ in 0..500 {
            let mut config = PgbConfig::default_for(
                1 + (rng.next() % 4) as usize,
                rng.next() % 1000,
                (rng.next() % 65536) as u16,
                rng.pick(&POOL_MODES),
            )
            .unwrap();
            for _ in 0..rng.next() % 5 {
                let params: Vec<(&str, &str)> = (0..rng.next() % 4)
                    .map(|_| (rng.pick(&keys), rng.pick(&values)))
                    .collect();
                config.add_database(rng.pick(&names), &params);
            }
            for _ in 0..rng.next() % 5 {
                let section = rng.pick(&[PGBOUNCER, "users", "extra"]);
                config.set(section, rng.pick(&options), rng.pick(&option_values));
            }
            if rng.next().is_multiple_of(2) {
                config.set_auth("pgbouncer_auth_x");
            }
            if rng.next().is_multiple_of(3) {
                config.remove_database(rng.pick(&names));
            }
            config.validate().unwrap();
            let text = config.render();
            let parsed = PgbConfig::parse(&text).unwrap();
            assert_eq!(parsed, config, "{text}");
            assert_eq!(parsed.render(), text);
            let instance = config.instance(1);
            assert_eq!(PgbConfig::parse(&instance.render()).unwrap(), instance);
        }
    }

    #[test]
    fn parse_errors_name_the_line() {
        for (text, line, reason) in [
            ("[pgbouncer\n", 1, "must end with ]"),
            ("[]\n", 1, "it is empty"),
            ("[ pgbouncer ]\n", 1, "whitespace"),
            ("[a]b]\n", 1, "bracket"),
            ("[pgbouncer] x\n", 1, "must end with ]"),
            ("key = value\n", 1, "outside any section"),
            ("[pgbouncer]\nno equals sign\n", 2, "\"no equals sign\""),
            ("[databases]\n\n[databases]\n", 3, "[databases] is repeated"),
            ("[pgbouncer]\n = x\n", 2, "without a name"),
            (
                "[pgbouncer]\nlogfile = a\n\nlogfile = b\n",
                4,
                "logfile is repeated in [pgbouncer] (first on line 2)",
            ),
            ("[databases]\na = host=h\na = host=i\n", 3, "a is repeated"),
            ("%include other.ini\n", 1, "%include"),
            ("[databases]\n\"unclosed = host=h\n", 2, "not closed"),
            ("[databases]\n\"db\" host=h\n", 2, "expected = after"),
            ("[databases]\n= host=h\n", 2, "without a name"),
            ("[databases]\nno-equals\n", 2, "<connection string>"),
            (
                "[databases]\ndb = host\n",
                2,
                "database db: expected key=value at byte 0",
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
        config.add_database("db", &[("password", "s3cr3t\n")]);
        let err = config.validate().unwrap_err().to_string();
        assert!(!err.contains("s3cr3t"), "{err}");
        assert!(!format!("{config:?}").contains("s3cr3t"));
        config.add_database("db", &[("password", "s3cr3t")]);
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
    fn database_names() {
        for good in [
            "a",
            "A-b_9",
            "\"my db\"",
            "\"we\"\"ird\"",
            "\"=\"",
            "\"\"\"\"",
        ] {
            let mut config = valid_base();
            config.add_database(good, &[("host", "h")]);
            assert_eq!(config.validate(), Ok(()), "{good}");
            assert_eq!(PgbConfig::parse(&config.render()).unwrap(), config);
        }
        for bad in [
            "bad name!",
            "a.b",
            "*",
            "",
            "\"\"",
            "\"a\"b\"",
            "\"a",
            "a\"",
            "é",
            "\"a\nb\"",
        ] {
            let mut config = valid_base();
            config.add_database(bad, &[("host", "h")]);
            assert_eq!(
                config.validate(),
                Err(PgbConfigError::InvalidDatabaseName { name: bad.into() }),
                "{bad:?}"
            );
        }
        for reserved in ["pgbouncer", "\"pgbouncer\""] {
            let mut config = valid_base();
            config.add_database(reserved, &[]);
            let err = config.validate().unwrap_err();
            assert_eq!(
                err,
                PgbConfigError::ReservedDatabaseName {
                    name: reserved.into()
                }
            );
            assert!(err.to_string().contains("reserved"));
        }
    }

    #[test]
    fn unsound_entries_fail_validation() {
        let entry = |params: &[(&str, &str)]| {
            let mut config = valid_base();
            config.add_database("db", params);
            config.validate().unwrap_err()
        };
        let source = |e: PgbConfigError| match e {
            PgbConfigError::InvalidDatabaseEntry { name, source } => {
                assert_eq!(name, "db");
                source
            }
            other => panic!("{other:?}"),
        };
        assert_eq!(
            source(entry(&[("host", "")])),
            ConnParamsError::EmptyValue { key: "host".into() }
        );
        assert_eq!(
            source(entry(&[("host", "a\nb")])),
            ConnParamsError::ControlCharacter { key: "host".into() }
        );
        // Keys that cannot be written change meaning when read back; they
        // are caught either by the parse or by the key check.
        assert!(matches!(
            source(entry(&[("a b", "x")])),
            ConnParamsError::NotKeyValue { .. }
        ));
        assert!(matches!(
            source(entry(&[("", "x")])),
            ConnParamsError::NotKeyValue { .. }
        ));

        let mut raw = valid_base();
        raw.set(DATABASES, "db", "host='unclosed");
        assert_eq!(raw.get(DATABASES, "db"), Some("host='unclosed"));
        assert!(raw.databases()[0].1.is_empty());
        assert_eq!(raw.database("db"), None);
        assert_eq!(
            source(raw.validate().unwrap_err()),
            ConnParamsError::UnterminatedQuote { key: "host".into() }
        );
    }

    #[test]
    fn unwritable_names_and_values_fail_validation() {
        let mut config = valid_base();
        config.set(PGBOUNCER, "bad key", "x");
        assert_eq!(
            config.validate(),
            Err(PgbConfigError::InvalidOptionName {
                section: "pgbouncer".into(),
                key: "bad key".into()
            })
        );

        let mut config = valid_base();
        config.set(PGBOUNCER, "auth_query", "SELECT 1\nSELECT 2");
        let err = config.validate().unwrap_err();
        assert!(
            matches!(&err, PgbConfigError::InvalidValue { key, reason, .. } if key == "auth_query" && reason.contains("control")),
            "{err:?}"
        );

        for (name, reason) in [
            ("", "empty"),
            (" x", "whitespace"),
            ("a]b", "bracket"),
            ("a\nb", "control"),
        ] {
            let mut config = valid_base();
            config.set(name, "k", "v");
            match config.validate() {
                Err(PgbConfigError::InvalidSectionName { name: n, reason: r }) => {
                    assert_eq!(n, name);
                    assert!(r.contains(reason), "{r}");
                }
                other => panic!("{name:?}: {other:?}"),
            }
        }
    }

    #[test]
    fn set_get_and_remove() {
        let mut config = PgbConfig::new();
        assert_eq!(config, PgbConfig::default());
        config.set(PGBOUNCER, "listen_addr", "  *  ");
        config.set(PGBOUNCER, "stats_users", "b,a, c ,a");
        config.set("users", "alice", "pool_mode=session");
        config.set(DATABASES, "db", "  host=h   port=1 ");
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

        config.set(PGBOUNCER, "listen_addr", "127.0.0.1");
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
        config.add_database("one", &[("host", "h1"), ("dbname", "one")]);
        config.add_database("two", &[("host", "h2"), ("dbname", "my two")]);
        config.add_database("one", &[("host", "h3"), ("host", "h4"), ("port", "1")]);
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
        // The form backend_db uses to find a database's real name.
        let dbname = dbs[1]
            .1
            .iter()
            .find(|(k, _)| k == "dbname")
            .map(|(_, v)| v.clone());
        assert_eq!(dbname.as_deref(), Some("my two"));

        let mut params = ConnParams::new();
        params.insert("host", "h5");
        config.set_database("three", &params);
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
    fn conn_params_errors() {
        for (text, want) in [
            ("host", ConnParamsError::NotKeyValue { at: 0 }),
            ("a=1 =2", ConnParamsError::NotKeyValue { at: 4 }),
            ("a=1 b c=2", ConnParamsError::NotKeyValue { at: 4 }),
            (
                "a='x",
                ConnParamsError::UnterminatedQuote { key: "a".into() },
            ),
            (
                "a='x''",
                ConnParamsError::UnterminatedQuote { key: "a".into() },
            ),
            (
                "a='x'y",
                ConnParamsError::TextAfterQuote { key: "a".into() },
            ),
            ("a=", ConnParamsError::EmptyValue { key: "a".into() }),
            ("a=''", ConnParamsError::EmptyValue { key: "a".into() }),
            ("a=1 a=2", ConnParamsError::RepeatedKey { key: "a".into() }),
            (
                "a='x\u{1}'",
                ConnParamsError::ControlCharacter { key: "a".into() },
            ),
        ] {
            assert_eq!(ConnParams::parse(text), Err(want), "{text:?}");
        }
        for (key, value, want) in [
            ("", "x", ConnParamsError::InvalidKey { key: "".into() }),
            (
                "a b",
                "x",
                ConnParamsError::InvalidKey { key: "a b".into() },
            ),
            (
                "a=b",
                "x",
                ConnParamsError::InvalidKey { key: "a=b".into() },
            ),
            ("a", "", ConnParamsError::EmptyValue { key: "a".into() }),
            (
                "a",
                "x\ry",
                ConnParamsError::ControlCharacter { key: "a".into() },
            ),
        ] {
            let params: ConnParams = [(key, value)].into_iter().collect();
            assert_eq!(params.validate(), Err(want.clone()), "{key:?}");
            assert!(!want.to_string().is_empty());
        }
    }

    #[test]
    fn conn_params_are_an_ordered_map() {
        let mut params: ConnParams = [("b", "1"), ("a", "2")].into_iter().collect();
        assert_eq!(params.insert("b", "3"), Some("1".to_string()));
        assert_eq!(params.insert("c", "4"), None);
        assert_eq!(params.render(), "b=3 a=2 c=4");
        assert_eq!(params.remove("a"), Some("2".to_string()));
        assert_eq!(params.remove("a"), None);
        assert_eq!(params.get("c"), Some("4"));
        assert_eq!(params.len(), 2);
        assert!(!params.is_empty());
        let keys: Vec<&str> = (&params).into_iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(keys, ["b", "c"]);
        params.insert("password", "pw");
        assert_eq!(
            format!("{params:?}"),
            r#"{"b": "3", "c": "4", "password": "<hidden>"}"#
        );
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
                Some(format!("/var/log/pgbouncer/instance_{n}/pgbouncer.log").as_str())
            );
            // Everything else is the main config's, in the same order.
            let mut back = instance.clone();
            for key in ["unix_socket_dir", "pidfile", "logfile"] {
                back.set(PGBOUNCER, key, config.get(PGBOUNCER, key).unwrap());
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
        config.set_auth("pgbouncer_auth_relation_id_3");
        assert!(config.has_auth_query());
        assert_eq!(
            config.get(PGBOUNCER, "auth_query"),
            Some("SELECT username, password FROM pgbouncer_auth_relation_id_3.get_auth($1)")
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
        config.set_auth("u");
        config.set(PGBOUNCER, "other", "/var/lib/pgbouncerX/file");
        config.add_database("db", &[("host", "/var/lib/pgbouncer")]);
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
    fn error_messages_name_the_value() {
        let cases = [
            (
                PgbConfigError::InvalidDatabaseName { name: "a b".into() },
                "database name \"a b\" must match [A-Za-z0-9_-]+ or be double-quoted",
            ),
            (
                PgbConfigError::InvalidDatabaseEntry {
                    name: "db".into(),
                    source: ConnParamsError::EmptyValue { key: "host".into() },
                },
                "database \"db\": host has an empty value",
            ),
            (
                PgbConfigError::InvalidOptionName {
                    section: "pgbouncer".into(),
                    key: "a b".into(),
                },
                "option name \"a b\" in [pgbouncer] must match [A-Za-z0-9_.*-]+",
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
        ];
        for (err, text) in cases {
            assert_eq!(err.to_string(), text);
        }
    }
}
