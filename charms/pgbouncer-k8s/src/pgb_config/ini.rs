//! The `pgbouncer.ini` document, [`PgbConfig`]: sections of options in
//! order, parsed, validated against the [rules](super) and rendered.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::fmt;

use super::conninfo::ConnParams;
use super::rules::{
    DATABASES, PGBOUNCER, PgbConfigError, USER_LIST_OPTIONS, check_auth_user, check_database_entry,
    check_database_name, check_option_name, check_option_value, check_section_name, has_control,
    is_section_name,
};

/// How many texts [`PgbConfig::parse_cached`] remembers: a dispatch parses
/// the main config before and after it writes it, and the shared one.
const REMEMBERED_TEXTS: usize = 4;

thread_local! {
    /// The texts [`PgbConfig::parse_cached`] parsed last on this thread,
    /// newest first.
    static RECENTLY_PARSED: RefCell<VecDeque<Parsed>> =
        const { RefCell::new(VecDeque::new()) };
}

/// A text [`PgbConfig::parse_cached`] remembers.
struct Parsed {
    text: String,
    config: PgbConfig,
    /// [`PgbConfig::validate`] passed on it.
    valid: bool,
}

/// One `[name]` section: its options, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Section {
    pub(super) name: String,
    pub(super) entries: Vec<(String, String)>,
}

/// A parsed `pgbouncer.ini`.
///
/// ```
/// use pgbouncer_k8s::pgb_config::PgbConfig;
/// use pgbouncer_k8s::settings::PoolMode;
///
/// let mut config = PgbConfig::default_for(2, 44, 6432, PoolMode::Session).unwrap();
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
    pub(super) sections: Vec<Section>,
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

impl PgbConfig {
    /// A config without sections.
    pub fn new() -> Self {
        Self {
            sections: Vec::new(),
        }
    }

    /// [`parse`](Self::parse), remembering the last few texts this thread
    /// parsed and their configs, so that the same text is parsed once.
    ///
    /// A dispatch reads the same config many times: each of its handlers
    /// reads the container's `pgbouncer.ini` and the config the leader
    /// shares (on a leader, the same text again), and parsing them was a
    /// seventh of a leader's dispatch. Parsing is a pure function of the
    /// text, so a remembered config is the one `parse` would give; a text
    /// that does not parse is not remembered (its error comes again).
    ///
    /// ```
    /// use pgbouncer_k8s::pgb_config::PgbConfig;
    ///
    /// let text = "[databases]\n[pgbouncer]\nlisten_port = 6432\n";
    /// let first = PgbConfig::parse_cached(text).unwrap();
    /// assert_eq!(PgbConfig::parse_cached(text).unwrap(), first);
    /// assert_eq!(first, PgbConfig::parse(text).unwrap());
    /// assert!(PgbConfig::parse_cached("[pgbouncer\n").is_err());
    /// ```
    pub fn parse_cached(text: &str) -> Result<Self, PgbConfigError> {
        Ok(Self::remembered(text)?.0)
    }

    /// [`parse_cached`](Self::parse_cached), then [`validate`](Self::validate);
    /// a remembered text that validated is not checked again (a leader's
    /// serve checks its own file and the shared one, often the same text).
    ///
    /// ```
    /// use pgbouncer_k8s::pgb_config::PgbConfig;
    ///
    /// let valid = "[databases]\n[pgbouncer]\nlogfile = /l\npidfile = /p\n";
    /// assert_eq!(PgbConfig::parse_valid_cached(valid).unwrap(), PgbConfig::parse(valid).unwrap());
    /// assert_eq!(PgbConfig::parse_valid_cached(valid).unwrap(), PgbConfig::parse(valid).unwrap());
    /// // Parsed and remembered, but not valid (no pidfile): refused each time.
    /// let invalid = "[databases]\n[pgbouncer]\nlogfile = /l\n";
    /// assert!(PgbConfig::parse_cached(invalid).is_ok());
    /// assert!(PgbConfig::parse_valid_cached(invalid).is_err());
    /// assert!(PgbConfig::parse_valid_cached(invalid).is_err());
    /// ```
    pub fn parse_valid_cached(text: &str) -> Result<Self, PgbConfigError> {
        let (config, valid) = Self::remembered(text)?;
        if !valid {
            config.validate()?;
            RECENTLY_PARSED.with_borrow_mut(|recent| {
                if let Some(parsed) = recent.iter_mut().find(|p| p.text == text) {
                    parsed.valid = true;
                }
            });
        }
        Ok(config)
    }

    /// The config of `text` and whether it validated, from the texts
    /// remembered (parsed, and remembered, if it is not one of them).
    fn remembered(text: &str) -> Result<(Self, bool), PgbConfigError> {
        let remembered = RECENTLY_PARSED.with_borrow(|recent| {
            recent
                .iter()
                .find(|p| p.text == text)
                .map(|p| (p.config.clone(), p.valid))
        });
        if let Some(remembered) = remembered {
            return Ok(remembered);
        }
        let config = Self::parse(text)?;
        RECENTLY_PARSED.with_borrow_mut(|recent| {
            if recent.len() == REMEMBERED_TEXTS {
                recent.pop_back();
            }
            recent.push_front(Parsed {
                text: text.to_string(),
                config: config.clone(),
                valid: false,
            });
        });
        Ok((config, false))
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
    /// use pgbouncer_k8s::settings::PoolMode;
    ///
    /// let config = PgbConfig::default_for(2, 44, 6432, PoolMode::Session).unwrap();
    /// assert_eq!(config.render_validated().unwrap(), config.render());
    /// let parsed = PgbConfig::parse("[databases]\n\"x\" = host=h\n[pgbouncer]\n").unwrap();
    /// assert!(parsed.render_validated().is_err());
    /// ```
    pub fn render_validated(&self) -> Result<String, PgbConfigError> {
        self.validate()?;
        Ok(self.render())
    }

    /// Checks what the charm requires (`[databases]` and `[pgbouncer]`
    /// present, `logfile` and `pidfile` in `[pgbouncer]`), then every rule of
    /// the [module](super): section and option names, one-line values,
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

    pub(super) fn section(&self, name: &str) -> Option<&Section> {
        self.sections.iter().find(|s| s.name == name)
    }

    pub(super) fn entries_mut(&mut self, name: &str) -> &mut Vec<(String, String)> {
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
    pub(super) fn put(&mut self, section: &str, key: &str, value: String) {
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
    /// that breaks a rule of the [module](super) (a control character
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
        if has_control(value) {
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
}

impl Default for PgbConfig {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
pub(super) mod tests {
    use super::super::conninfo::strategies::{leaked, param_key, tricky};
    use super::*;
    use crate::test_support::matching;
    use proptest::prelude::*;

    fn parse_error_line(text: &str) -> (usize, String) {
        match PgbConfig::parse(text) {
            Err(PgbConfigError::Parse { line, reason }) => (line, reason),
            other => panic!("{text:?}: expected a parse error, got {other:?}"),
        }
    }

    /// The charm's default config, which validates.
    pub(crate) fn valid_base() -> PgbConfig {
        PgbConfig::default_for(2, 0, 6432, crate::settings::PoolMode::Session).unwrap()
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
    fn parse_cached_gives_each_text_its_own_config() {
        let text = |port: usize| format!("[databases]\n[pgbouncer]\nlisten_port = {port}\n");
        let port = |config: &PgbConfig| config.get(PGBOUNCER, "listen_port").map(str::to_string);
        // More texts than are remembered, then each again, newest first.
        let texts: Vec<String> = (0..REMEMBERED_TEXTS + 2).map(|n| text(6000 + n)).collect();
        for text in texts.iter().chain(texts.iter().rev()) {
            let config = PgbConfig::parse_cached(text).unwrap();
            assert_eq!(config, PgbConfig::parse(text).unwrap());
            assert!(text.contains(&port(&config).unwrap()));
        }
        // A text that does not parse is refused each time, even right after
        // one that did.
        let broken = "[pgbouncer]\nlisten_port\n";
        for _ in 0..2 {
            PgbConfig::parse_cached(&texts[0]).unwrap();
            assert!(PgbConfig::parse_cached(broken).is_err());
        }
    }

    /// Config-like text: section headers, options, database lines, comments.
    fn config_text() -> impl Strategy<Value = String> {
        let line = prop_oneof![
            2 => prop::sample::select(vec!["databases", "pgbouncer", "users", "x-y"])
                .prop_map(|s| format!("[{s}]")),
            1 => tricky().prop_map(|s| format!("[{s}]")),
            4 => (matching("[A-Za-z0-9_-]{1,8}|[a-z_.*]{1,6}"), prop::collection::vec((param_key(), matching("[ -~]{0,6}")), 0..3))
                .prop_map(|(name, pairs)| {
                    let params: Vec<String> = pairs
                        .iter()
                        .map(|(k, v)| format!("{k}='{}'", v.replace('\'', "''")))
                        .collect();
                    format!("{name} = {}", params.join(" "))
                }),
            2 => (matching("[a-z_]{1,8}"), matching("[ -~]{0,12}")).prop_map(|(k, v)| format!("{k} = {v}")),
            1 => tricky(),
            1 => Just("logfile = /l\npidfile = /p".to_string()),
        ];
        prop::collection::vec(line, 0..12).prop_map(|lines| lines.join("\n"))
    }

    proptest! {
        #![proptest_config(crate::test_support::proptest_config())]

        /// Issue 15 item 3 (and 4 on what parses and validates).
        #[test]
        fn prop_pgbconfig_parse_never_panics(text in matching("\\PC{0,200}|[\\[\\]=;#\"' a-z\n\r\t%]{0,200}")) {
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

        /// Whatever texts came before, a remembered config is the one
        /// `parse` gives for this text, and an error is given again.
        #[test]
        fn prop_parse_cached_is_parse(texts in prop::collection::vec(config_text(), 1..8), picks in prop::collection::vec(0usize..8, 1..16)) {
            for pick in picks {
                let text = &texts[pick % texts.len()];
                match (PgbConfig::parse_cached(text), PgbConfig::parse(text)) {
                    (Ok(cached), Ok(parsed)) => prop_assert_eq!(cached, parsed),
                    (Err(cached), Err(parsed)) => prop_assert_eq!(cached.to_string(), parsed.to_string()),
                    (cached, parsed) => prop_assert!(false, "{:?} against {:?}", cached.is_ok(), parsed.is_ok()),
                }
            }
        }

        #[test]
        fn prop_connparams_errors_never_hold_the_input(text in matching("\\PC{0,80}|[a-z_=' \t\n]{0,80}|(password='[ -~]{8,16}' ?){1,3}")) {
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
