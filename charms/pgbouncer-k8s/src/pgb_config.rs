//! `pgbouncer.ini`: parse, validate, render, and the charm's defaults.
//!
//! Rendering is deterministic (sections and keys in order, user lists
//! sorted, database parameters as `key=value` joined by single spaces), so
//! that rendering a parsed file gives back the same text, and a databag
//! holding the config only changes when the config does.

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

/// Options that hold comma-separated user lists, rendered sorted.
const USER_LISTS: &[&str] = &["admin_users", "stats_users"];

/// The directory of instance `n`.
pub fn instance_dir(n: usize) -> String {
    format!("{LIB_DIR}/instance_{n}")
}

/// The config file of instance `n`.
pub fn instance_ini_path(n: usize) -> String {
    format!("{}/pgbouncer.ini", instance_dir(n))
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

/// What is wrong with a config.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PgbConfigError {
    /// A line that is not a section, an option or a comment.
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
        section: &'static str,
    },
    /// A required option is missing.
    #[error("option {option} is missing from [{section}]")]
    MissingOption {
        /// The section.
        section: &'static str,
        /// The option.
        option: &'static str,
    },
    /// A database name PgBouncer would not accept unquoted.
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
    /// A database entry that is not `key=value` pairs.
    #[error("database {name:?}: {reason}")]
    InvalidDatabaseEntry {
        /// The database.
        name: String,
        /// What is wrong.
        reason: String,
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
/// and min = reserve = ⌈e/4⌉.
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
    let effective = max_db_connections as f64 / instances as f64;
    let quarter = (effective / 4.0).ceil() as u64;
    Ok(PoolSizes {
        default: (effective / 2.0).ceil() as u64,
        min: quarter,
        reserve: quarter,
    })
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
/// config.validate().unwrap();
/// let text = config.render();
/// assert_eq!(PgbConfig::parse(&text).unwrap(), config);
/// assert!(text.contains("appdb = host=10.0.0.5 dbname=appdb"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PgbConfig {
    sections: Vec<Section>,
}

fn normalise(key: &str, value: &str) -> String {
    if USER_LISTS.contains(&key) {
        let mut users: Vec<&str> = value
            .split(',')
            .map(str::trim)
            .filter(|u| !u.is_empty())
            .collect();
        users.sort_unstable();
        users.dedup();
        users.join(",")
    } else {
        value.trim().to_string()
    }
}

/// `host=a port=5 dbname=x` into pairs.
fn parse_database_params(name: &str, value: &str) -> Result<Vec<(String, String)>, PgbConfigError> {
    value
        .split_whitespace()
        .map(|pair| {
            pair.split_once('=')
                .filter(|(k, _)| !k.is_empty())
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .ok_or_else(|| PgbConfigError::InvalidDatabaseEntry {
                    name: name.to_string(),
                    reason: format!("{pair:?} is not key=value"),
                })
        })
        .collect()
}

fn render_database_params(params: &[(String, String)]) -> String {
    params
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(" ")
}

impl PgbConfig {
    /// Parses a config; `;` and `#` start comments.
    pub fn parse(text: &str) -> Result<Self, PgbConfigError> {
        let mut sections: Vec<Section> = Vec::new();
        for (i, raw) in text.lines().enumerate() {
            let line = raw.trim();
            if line.is_empty() || line.starts_with(';') || line.starts_with('#') {
                continue;
            }
            if let Some(rest) = line.strip_prefix('[') {
                let name = rest
                    .strip_suffix(']')
                    .ok_or_else(|| PgbConfigError::Parse {
                        line: i + 1,
                        reason: "a section header must end with ]".to_string(),
                    })?;
                let name = name.trim();
                if name.is_empty() || sections.iter().any(|s| s.name == name) {
                    return Err(PgbConfigError::Parse {
                        line: i + 1,
                        reason: format!("section [{name}] is empty-named or repeated"),
                    });
                }
                sections.push(Section {
                    name: name.to_string(),
                    entries: Vec::new(),
                });
                continue;
            }
            let (key, value) = line.split_once('=').ok_or_else(|| PgbConfigError::Parse {
                line: i + 1,
                reason: "expected key = value".to_string(),
            })?;
            let key = key.trim();
            let section = sections.last_mut().ok_or_else(|| PgbConfigError::Parse {
                line: i + 1,
                reason: "an option outside any section".to_string(),
            })?;
            if key.is_empty() {
                return Err(PgbConfigError::Parse {
                    line: i + 1,
                    reason: "an option without a name".to_string(),
                });
            }
            let value = if section.name == "databases" {
                render_database_params(&parse_database_params(key, value)?)
            } else {
                normalise(key, value)
            };
            if let Some(existing) = section.entries.iter_mut().find(|(k, _)| k == key) {
                existing.1 = value;
            } else {
                section.entries.push((key.to_string(), value));
            }
        }
        Ok(Self { sections })
    }

    /// The text, deterministic: sections in order, a blank line between them.
    pub fn render(&self) -> String {
        self.to_string()
    }

    /// PgBouncer's own checks, plus the charm's.
    pub fn validate(&self) -> Result<(), PgbConfigError> {
        let databases = self
            .section("databases")
            .ok_or(PgbConfigError::MissingSection {
                section: "databases",
            })?;
        let pgbouncer = self
            .section("pgbouncer")
            .ok_or(PgbConfigError::MissingSection {
                section: "pgbouncer",
            })?;
        for option in ["logfile", "pidfile"] {
            if !pgbouncer.entries.iter().any(|(k, _)| k == option) {
                return Err(PgbConfigError::MissingOption {
                    section: "pgbouncer",
                    option,
                });
            }
        }
        for (name, _) in &databases.entries {
            let quoted = name.len() >= 2 && name.starts_with('"') && name.ends_with('"');
            let plain = !name.is_empty()
                && name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
            if !quoted && !plain {
                return Err(PgbConfigError::InvalidDatabaseName { name: name.clone() });
            }
            if name.trim_matches('"') == "pgbouncer" {
                return Err(PgbConfigError::ReservedDatabaseName { name: name.clone() });
            }
        }
        Ok(())
    }

    fn section(&self, name: &str) -> Option<&Section> {
        self.sections.iter().find(|s| s.name == name)
    }

    fn section_mut(&mut self, name: &str) -> &mut Section {
        if let Some(i) = self.sections.iter().position(|s| s.name == name) {
            return &mut self.sections[i];
        }
        self.sections.push(Section {
            name: name.to_string(),
            entries: Vec::new(),
        });
        self.sections.last_mut().expect("just pushed")
    }

    /// An option's value.
    pub fn get(&self, section: &str, key: &str) -> Option<&str> {
        self.section(section)?
            .entries
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// Sets an option (adding the section if needed); user lists are sorted.
    pub fn set(&mut self, section: &str, key: &str, value: &str) {
        let value = normalise(key, value);
        let entries = &mut self.section_mut(section).entries;
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

    /// Adds or replaces a `[databases]` entry.
    pub fn add_database(&mut self, name: &str, params: &[(&str, &str)]) {
        let params: Vec<(String, String)> = params
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let value = render_database_params(&params);
        let entries = &mut self.section_mut("databases").entries;
        match entries.iter_mut().find(|(k, _)| k == name) {
            Some(entry) => entry.1 = value,
            None => entries.push((name.to_string(), value)),
        }
    }

    /// Removes a `[databases]` entry; true if it was there.
    pub fn remove_database(&mut self, name: &str) -> bool {
        self.remove("databases", name)
    }

    /// The `[databases]` entries and their parameters.
    pub fn databases(&self) -> Vec<(String, Vec<(String, String)>)> {
        self.section("databases")
            .map(|s| {
                s.entries
                    .iter()
                    .map(|(name, value)| {
                        (
                            name.clone(),
                            parse_database_params(name, value).unwrap_or_default(),
                        )
                    })
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The charm's default config for `instances` PgBouncer processes.
    pub fn default_for(
        instances: usize,
        max_db_connections: u64,
        listen_port: u16,
        pool_mode: &str,
    ) -> Result<Self, PgbConfigError> {
        let mut config = Self {
            sections: vec![
                Section {
                    name: "databases".to_string(),
                    entries: Vec::new(),
                },
                Section {
                    name: "pgbouncer".to_string(),
                    entries: Vec::new(),
                },
            ],
        };
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
            config.set("pgbouncer", key, &value);
        }
        config.apply_settings(instances, max_db_connections, listen_port, pool_mode)?;
        Ok(config)
    }

    /// Sets the options the charm's config controls: port, pool mode, the
    /// connection limit and the pool sizes derived from it.
    pub fn apply_settings(
        &mut self,
        instances: usize,
        max_db_connections: u64,
        listen_port: u16,
        pool_mode: &str,
    ) -> Result<(), PgbConfigError> {
        let sizes = pool_sizes(max_db_connections, instances)?;
        self.set("pgbouncer", "listen_port", &listen_port.to_string());
        self.set("pgbouncer", "pool_mode", pool_mode);
        self.set(
            "pgbouncer",
            "max_db_connections",
            &max_db_connections.to_string(),
        );
        self.set("pgbouncer", "default_pool_size", &sizes.default.to_string());
        self.set("pgbouncer", "min_pool_size", &sizes.min.to_string());
        self.set("pgbouncer", "reserve_pool_size", &sizes.reserve.to_string());
        Ok(())
    }

    /// Instance `n`'s config: its own socket directory, pid file and log.
    pub fn render_instance(&self, n: usize) -> String {
        let mut config = self.clone();
        config.set("pgbouncer", "unix_socket_dir", &instance_dir(n));
        config.set(
            "pgbouncer",
            "pidfile",
            &format!("{}/pgbouncer.pid", instance_dir(n)),
        );
        config.set(
            "pgbouncer",
            "logfile",
            &format!("{LOG_DIR}/instance_{n}/pgbouncer.log"),
        );
        config.render()
    }

    /// Whether PgBouncer authenticates through an `auth_query`.
    pub fn has_auth_query(&self) -> bool {
        self.get("pgbouncer", "auth_query").is_some()
    }

    /// Authenticates clients through `auth_user`'s `get_auth` function and the auth file.
    pub fn set_auth(&mut self, auth_user: &str) {
        self.set(
            "pgbouncer",
            "auth_query",
            &format!("SELECT username, password FROM {auth_user}.get_auth($1)"),
        );
        self.set("pgbouncer", "auth_file", AUTH_FILE_PATH);
        self.set("pgbouncer", "auth_user", auth_user);
    }

    /// Drops the backend authentication settings.
    pub fn clear_auth(&mut self) {
        for key in ["auth_query", "auth_file", "auth_user"] {
            self.remove("pgbouncer", key);
        }
    }

    /// The same config with the `/var/lib/pgbouncer` and `/var/log/pgbouncer`
    /// prefixes moved (to run a real PgBouncer on it outside a container).
    pub fn with_base_dirs(&self, lib_dir: &str, log_dir: &str) -> Self {
        let mut config = self.clone();
        for section in &mut config.sections {
            for (_, value) in &mut section.entries {
                *value = value.replace(LIB_DIR, lib_dir).replace(LOG_DIR, log_dir);
            }
        }
        config
    }
}

impl fmt::Display for PgbConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, section) in self.sections.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            writeln!(f, "[{}]", section.name)?;
            for (key, value) in &section.entries {
                writeln!(f, "{key} = {value}")?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pool_sizes_follow_the_spec() {
        assert_eq!(
            pool_sizes(44, 2).unwrap(),
            PoolSizes {
                default: 11,
                min: 6,
                reserve: 6
            }
        );
        assert_eq!(
            pool_sizes(0, 3).unwrap(),
            PoolSizes {
                default: 20,
                min: 10,
                reserve: 10
            }
        );
        assert_eq!(
            pool_sizes(100, 3).unwrap(),
            PoolSizes {
                default: 17,
                min: 9,
                reserve: 9
            }
        );
        assert_eq!(
            pool_sizes(1, 4).unwrap(),
            PoolSizes {
                default: 1,
                min: 1,
                reserve: 1
            }
        );
        assert_eq!(
            pool_sizes(10, 0),
            Err(PgbConfigError::NoInstances { instances: 0 })
        );
    }

    #[test]
    fn instance_count_is_clamped() {
        assert_eq!([1, 2, 3, 4, 64].map(instance_count), [2, 2, 3, 4, 4]);
    }

    #[test]
    fn default_config_is_valid_and_round_trips() {
        let config = PgbConfig::default_for(2, 100, 6432, "session").unwrap();
        config.validate().unwrap();
        let text = config.render();
        assert!(
            text.starts_with("[databases]\n\n[pgbouncer]\nlisten_addr = *\n"),
            "{text}"
        );
        assert_eq!(PgbConfig::parse(&text).unwrap(), config);
        assert_eq!(PgbConfig::parse(&text).unwrap().render(), text);
        assert_eq!(config.get("pgbouncer", "default_pool_size"), Some("25"));
        assert_eq!(config.get("pgbouncer", "auth_type"), Some("md5"));
    }

    #[test]
    fn parse_normalises_and_render_is_stable() {
        let text = "; comment\n[databases]\nappdb =  host=h   port=5432 dbname=appdb\n\"my db\" = host=h\n\n[pgbouncer]\nlogfile=/l\npidfile = /p\nadmin_users = zoe, amy ,amy\n";
        let config = PgbConfig::parse(text).unwrap();
        config.validate().unwrap();
        assert_eq!(config.get("pgbouncer", "admin_users"), Some("amy,zoe"));
        assert_eq!(
            config.get("databases", "appdb"),
            Some("host=h port=5432 dbname=appdb")
        );
        let rendered = config.render();
        assert_eq!(PgbConfig::parse(&rendered).unwrap().render(), rendered);
        assert_eq!(
            config.databases()[0].1[1],
            ("port".to_string(), "5432".to_string())
        );
    }

    #[test]
    fn parse_errors_name_the_line() {
        for (text, line) in [
            ("[pgbouncer\n", 1),
            ("key = value\n", 1),
            ("[pgbouncer]\nno equals sign\n", 2),
            ("[databases]\n[databases]\n", 2),
            ("[pgbouncer]\n = x\n", 2),
        ] {
            match PgbConfig::parse(text) {
                Err(PgbConfigError::Parse { line: l, .. }) => assert_eq!(l, line, "{text:?}"),
                other => panic!("{text:?}: {other:?}"),
            }
        }
        assert!(matches!(
            PgbConfig::parse("[databases]\ndb = host\n"),
            Err(PgbConfigError::InvalidDatabaseEntry { .. })
        ));
    }

    #[test]
    fn validation_failures() {
        let missing = PgbConfig::parse("[pgbouncer]\nlogfile = a\npidfile = b\n").unwrap();
        assert_eq!(
            missing.validate(),
            Err(PgbConfigError::MissingSection {
                section: "databases"
            })
        );
        let no_pid = PgbConfig::parse("[databases]\n[pgbouncer]\nlogfile = a\n").unwrap();
        assert_eq!(
            no_pid.validate(),
            Err(PgbConfigError::MissingOption {
                section: "pgbouncer",
                option: "pidfile"
            })
        );
        let mut bad = PgbConfig::default_for(2, 0, 6432, "session").unwrap();
        bad.add_database("bad name!", &[("host", "h")]);
        assert!(matches!(
            bad.validate(),
            Err(PgbConfigError::InvalidDatabaseName { .. })
        ));
        let mut reserved = PgbConfig::default_for(2, 0, 6432, "session").unwrap();
        reserved.add_database("pgbouncer", &[("host", "h")]);
        assert!(matches!(
            reserved.validate(),
            Err(PgbConfigError::ReservedDatabaseName { .. })
        ));
    }

    #[test]
    fn instance_files_override_paths() {
        let config = PgbConfig::default_for(2, 44, 6432, "session").unwrap();
        let instance = PgbConfig::parse(&config.render_instance(1)).unwrap();
        assert_eq!(
            instance.get("pgbouncer", "unix_socket_dir"),
            Some("/var/lib/pgbouncer/instance_1")
        );
        assert_eq!(
            instance.get("pgbouncer", "pidfile"),
            Some("/var/lib/pgbouncer/instance_1/pgbouncer.pid")
        );
        assert_eq!(
            instance.get("pgbouncer", "logfile"),
            Some("/var/log/pgbouncer/instance_1/pgbouncer.log")
        );
        assert_eq!(instance.get("pgbouncer", "listen_port"), Some("6432"));
    }

    #[test]
    fn auth_settings_come_and_go() {
        let mut config = PgbConfig::default_for(2, 44, 6432, "session").unwrap();
        assert!(!config.has_auth_query());
        config.set_auth("pgbouncer_auth_relation_id_3");
        assert_eq!(
            config.get("pgbouncer", "auth_query"),
            Some("SELECT username, password FROM pgbouncer_auth_relation_id_3.get_auth($1)")
        );
        assert_eq!(config.get("pgbouncer", "auth_file"), Some(AUTH_FILE_PATH));
        let text = config.render();
        assert_eq!(PgbConfig::parse(&text).unwrap(), config);
        config.clear_auth();
        assert!(!config.has_auth_query());
    }

    #[test]
    fn base_dirs_move() {
        let config = PgbConfig::default_for(2, 44, 6432, "session")
            .unwrap()
            .with_base_dirs("/tmp/lib", "/tmp/log");
        assert_eq!(
            config.get("pgbouncer", "logfile"),
            Some("/tmp/log/pgbouncer.log")
        );
        assert_eq!(config.get("pgbouncer", "unix_socket_dir"), Some("/tmp/lib"));
    }
}
