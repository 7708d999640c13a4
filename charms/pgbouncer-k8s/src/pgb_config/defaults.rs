//! The charm's choices for `pgbouncer.ini`: its default `[pgbouncer]`
//! settings and those it derives from its config options (pool sizes), the
//! overrides of each PgBouncer instance, the `auth_query` setup, the admin
//! user.

use super::ini::PgbConfig;
use super::layout::{
    AUTH_FILE_PATH, LIB_DIR, LOG_DIR, TLS_CA_PATH, TLS_CERT_PATH, TLS_KEY_PATH, instance_dir,
    instance_pidfile,
};
use super::rules::{DATABASES, PGBOUNCER, PgbConfigError, check_auth_user};
use crate::settings::PoolMode;

/// The admin and stats user the charm uses.
pub const ADMIN_USER: &str = "juju_admin";
/// The stats user: in `stats_users` only (read-only `SHOW` commands on the
/// admin console, no `RELOAD`, `PAUSE` or `KILL`), for the metrics exporter.
pub const STATS_USER: &str = "juju_stats";

/// How PgBouncer authenticates clients: with SCRAM-SHA-256 against the
/// verifiers of the auth file and of `auth_query` (see [`crate::auth`]).
/// Older revisions used `md5`; [`PgbConfig::apply_settings`] moves it.
pub const AUTH_TYPE: &str = "scram-sha-256";

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
    /// The charm's default config for `instances` PgBouncer processes:
    /// `[databases]` empty, then `[pgbouncer]` with the charm's settings and
    /// those [`apply_settings`](Self::apply_settings) derives from the options.
    ///
    /// The pool mode is the checked [`PoolMode`] of the charm's settings, not
    /// text, so a mode PgBouncer does not know cannot be asked for:
    ///
    /// ```compile_fail
    /// use pgbouncer_k8s::pgb_config::PgbConfig;
    ///
    /// let config = PgbConfig::default_for(2, 44, 6432, "session");
    /// ```
    pub fn default_for(
        instances: usize,
        max_db_connections: u64,
        listen_port: u16,
        pool_mode: PoolMode,
    ) -> Result<Self, PgbConfigError> {
        let mut config = Self::new();
        config.entries_mut(DATABASES);
        for (key, value) in [
            ("listen_addr", "*".to_string()),
            ("listen_port", listen_port.to_string()),
            ("logfile", format!("{LOG_DIR}/pgbouncer.log")),
            ("pidfile", format!("{LIB_DIR}/pgbouncer.pid")),
            ("admin_users", ADMIN_USER.to_string()),
            ("stats_users", format!("{ADMIN_USER},{STATS_USER}")),
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
    /// [`AUTH_TYPE`]. Changes nothing on error (no instance).
    pub fn apply_settings(
        &mut self,
        instances: usize,
        max_db_connections: u64,
        listen_port: u16,
        pool_mode: PoolMode,
    ) -> Result<(), PgbConfigError> {
        let sizes = pool_sizes(max_db_connections, instances)?;
        for (key, value) in [
            ("listen_port", listen_port.to_string()),
            ("pool_mode", pool_mode.as_str().to_string()),
            ("max_db_connections", max_db_connections.to_string()),
            ("default_pool_size", sizes.default.to_string()),
            ("min_pool_size", sizes.min.to_string()),
            ("reserve_pool_size", sizes.reserve.to_string()),
        ] {
            self.put(PGBOUNCER, key, value);
        }
        // What older revisions rendered, moved in place; another value (set
        // by hand) is not the charm's to change.
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
        if config.section(PEERS).is_some() {
            config.put(PGBOUNCER, "peer_id", peer_id(n).to_string());
        }
        config
    }

    /// The same config with client TLS on, from this unit's files
    /// ([`TLS_KEY_PATH`], [`TLS_CERT_PATH`], [`TLS_CA_PATH`]): `prefer`, as
    /// upstream pgbouncer-k8s, so that a client without TLS still connects
    /// and one that asks (`sslmode=require`, `verify-ca`, `verify-full`)
    /// gets it. PgBouncer takes all four on reload.
    pub fn with_client_tls(&self) -> Self {
        let mut config = self.clone();
        config.put(PGBOUNCER, "client_tls_sslmode", "prefer".to_string());
        config.put(PGBOUNCER, "client_tls_key_file", TLS_KEY_PATH.to_string());
        config.put(PGBOUNCER, "client_tls_cert_file", TLS_CERT_PATH.to_string());
        config.put(PGBOUNCER, "client_tls_ca_file", TLS_CA_PATH.to_string());
        config
    }

    /// Instance `n`'s config file: [`instance`](Self::instance), rendered.
    pub fn render_instance(&self, n: usize) -> String {
        self.instance(n).render()
    }

    /// Instance `n`'s file ([`render_instance`](Self::render_instance)),
    /// only if the config validates.
    pub fn render_instance_validated(&self, n: usize) -> Result<String, PgbConfigError> {
        let instance = self.instance(n);
        instance.validate()?;
        Ok(instance.render())
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

/// The section of PgBouncer's peers (the other instances of this unit).
pub const PEERS: &str = "peers";

/// The first PgBouncer that takes `[peers]` and `peer_id`.
pub const PEERING_SINCE: (u32, u32) = (1, 19);

/// Instance `n`'s `peer_id` (from 1).
fn peer_id(n: usize) -> usize {
    n + 1
}

/// The first PgBouncer that takes `max_prepared_statements` (older ones
/// refuse to start on it).
pub const PREPARED_STATEMENTS_SINCE: (u32, u32) = (1, 21);

/// `major.minor` of a PgBouncer version (`1.21.0` is `(1, 21)`).
///
/// ```
/// use pgbouncer_k8s::pgb_config::major_minor;
/// assert_eq!(major_minor("1.21.0"), Some((1, 21)));
/// assert_eq!(major_minor("1.9"), Some((1, 9)));
/// assert_eq!(major_minor("git"), None);
/// ```
pub fn major_minor(version: &str) -> Option<(u32, u32)> {
    let mut parts = version.split('.');
    let major = parts.next()?.parse().ok()?;
    let minor = parts.next()?.parse().ok()?;
    Some((major, minor))
}

impl PgbConfig {
    /// `[peers]`: every instance of this unit by its `peer_id`, at its own
    /// unix socket (its `unix_socket_dir` and the listen port); each
    /// instance's file gets its `peer_id` ([`instance`](Self::instance)).
    /// The instances share one TCP port (`so_reuseport`), so a cancel
    /// request lands on any of them; with peering, PgBouncer forwards it to
    /// the instance that holds the query (psql's Ctrl-C, JDBC's query
    /// timeouts).
    pub fn set_peers(&mut self, instances: usize, listen_port: u16) {
        self.sections.retain(|s| s.name != PEERS);
        for n in 0..instances {
            self.put(
                PEERS,
                &peer_id(n).to_string(),
                format!("host={} port={listen_port}", instance_dir(n)),
            );
        }
    }

    /// Sets `max_prepared_statements` (0: PgBouncer does not track them).
    pub fn set_max_prepared_statements(&mut self, n: u32) {
        self.put(PGBOUNCER, "max_prepared_statements", n.to_string());
    }

    /// This config as the PgBouncer of `version` takes it: a setting an
    /// older PgBouncer refuses (it would not start) is left out; so is any
    /// when the version is not known yet. The leader shares the whole
    /// config; each unit writes it fitted to its own PgBouncer.
    pub fn fitted_to(&self, version: Option<&str>) -> PgbConfig {
        let mut fitted = self.clone();
        let known = version.and_then(major_minor);
        if known.is_none_or(|v| v < PREPARED_STATEMENTS_SINCE) {
            fitted.remove(PGBOUNCER, "max_prepared_statements");
        }
        if known.is_none_or(|v| v < PEERING_SINCE) {
            fitted.sections.retain(|s| s.name != PEERS);
            fitted.remove(PGBOUNCER, "peer_id");
        }
        fitted
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
            PgbConfig::default_for(0, 10, 6432, PoolMode::Session),
            Err(PgbConfigError::NoInstances { instances: 0 })
        );
    }

    #[test]
    fn default_config_text() {
        let config = PgbConfig::default_for(2, 44, 6432, PoolMode::Session).unwrap();
        let want = "\
[databases]

[pgbouncer]
listen_addr = *
listen_port = 6432
logfile = /var/log/pgbouncer/pgbouncer.log
pidfile = /var/lib/pgbouncer/pgbouncer.pid
admin_users = juju_admin
stats_users = juju_admin,juju_stats
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
    fn default_config_writes_each_pool_mode() {
        for (mode, text) in [
            (PoolMode::Session, "session"),
            (PoolMode::Transaction, "transaction"),
            (PoolMode::Statement, "statement"),
        ] {
            let config = PgbConfig::default_for(2, 10, 6432, mode).unwrap();
            assert_eq!(config.get(PGBOUNCER, "pool_mode"), Some(text));
            config.validate().unwrap();
        }
    }

    #[test]
    fn settings_a_pgbouncer_does_not_know_are_left_out_for_it() {
        let mut config = PgbConfig::default_for(2, 44, 6432, PoolMode::Session).unwrap();
        config.set_max_prepared_statements(100);
        let get = |c: &PgbConfig| {
            c.get(PGBOUNCER, "max_prepared_statements")
                .map(str::to_string)
        };
        assert_eq!(
            get(&config.fitted_to(Some("1.21.0"))).as_deref(),
            Some("100")
        );
        assert_eq!(
            get(&config.fitted_to(Some("1.24.1"))).as_deref(),
            Some("100")
        );
        assert_eq!(get(&config.fitted_to(Some("2.0"))).as_deref(), Some("100"));
        assert_eq!(
            get(&config.fitted_to(Some("1.18.0"))),
            None,
            "Debian 12's refuses it"
        );
        assert_eq!(get(&config.fitted_to(None)), None, "not known yet");
        assert_eq!(get(&config.fitted_to(Some("garbage"))), None);
        assert_eq!(
            get(&config).as_deref(),
            Some("100"),
            "the shared config keeps it"
        );
    }

    #[test]
    fn each_instance_knows_its_peers_where_pgbouncer_has_peering() {
        let mut config = PgbConfig::default_for(3, 44, 6432, PoolMode::Session).unwrap();
        config.set_peers(3, 7000);
        let fitted = config.fitted_to(Some("1.21.0"));
        fitted.validate().unwrap();
        for n in 0..3 {
            let instance = fitted.instance(n);
            assert_eq!(
                instance.get(PGBOUNCER, "peer_id"),
                Some((n + 1).to_string().as_str())
            );
            assert_eq!(
                instance.get(PEERS, &(n + 1).to_string()),
                Some(format!("host={} port=7000", instance_dir(n)).as_str())
            );
            instance.validate().unwrap();
        }
        // Fewer instances: the peers that went go from the section.
        config.set_peers(2, 7000);
        assert_eq!(config.get(PEERS, "3"), None);
        // A PgBouncer without peering gets neither.
        for old in [Some("1.18.0"), None] {
            let fitted = config.fitted_to(old);
            assert!(fitted.section(PEERS).is_none(), "{old:?}");
            assert_eq!(fitted.instance(0).get(PGBOUNCER, "peer_id"), None);
        }
    }

    #[test]
    fn apply_settings_moves_an_older_md5_auth_type_to_scram() {
        let mut config = PgbConfig::default_for(2, 44, 6432, PoolMode::Session).unwrap();
        assert_eq!(config.get(PGBOUNCER, "auth_type"), Some("scram-sha-256"));
        let keys = |c: &PgbConfig| -> Vec<String> {
            c.options(PGBOUNCER).map(|(k, _)| k.to_string()).collect()
        };
        let order = keys(&config);
        // A config an older revision rendered, read back.
        config.set(PGBOUNCER, "auth_type", "md5").unwrap();
        let mut old = PgbConfig::parse(&config.render()).unwrap();
        // Refused settings change nothing, the auth type included.
        assert!(old.apply_settings(0, 10, 1, PoolMode::Session).is_err());
        assert_eq!(old.get(PGBOUNCER, "auth_type"), Some("md5"));
        old.apply_settings(2, 44, 6432, PoolMode::Session).unwrap();
        assert_eq!(old.get(PGBOUNCER, "auth_type"), Some(AUTH_TYPE));
        assert_eq!(keys(&old), order, "moved in place");
        // Another value, set by hand, is not the charm's to change.
        old.set(PGBOUNCER, "auth_type", "hba").unwrap();
        old.apply_settings(2, 44, 6432, PoolMode::Session).unwrap();
        assert_eq!(old.get(PGBOUNCER, "auth_type"), Some("hba"));
    }

    #[test]
    fn apply_settings_changes_values_in_place() {
        let mut config = PgbConfig::default_for(2, 44, 6432, PoolMode::Session).unwrap();
        let before: Vec<String> = config
            .options(PGBOUNCER)
            .map(|(k, _)| k.to_string())
            .collect();
        config
            .apply_settings(4, 0, 7000, PoolMode::Transaction)
            .unwrap();
        let after: Vec<&str> = config.options(PGBOUNCER).map(|(k, _)| k).collect();
        assert_eq!(before, after);
        assert_eq!(config.get(PGBOUNCER, "listen_port"), Some("7000"));
        assert_eq!(config.get(PGBOUNCER, "pool_mode"), Some("transaction"));
        assert_eq!(config.get(PGBOUNCER, "max_db_connections"), Some("0"));
        assert_eq!(config.get(PGBOUNCER, "default_pool_size"), Some("20"));
        assert_eq!(config.get(PGBOUNCER, "min_pool_size"), Some("10"));
        assert_eq!(config.get(PGBOUNCER, "reserve_pool_size"), Some("10"));

        let unchanged = config.clone();
        assert!(config.apply_settings(0, 10, 1, PoolMode::Session).is_err());
        assert_eq!(config, unchanged);
    }

    #[test]
    fn instance_files_override_paths() {
        let config = PgbConfig::default_for(2, 44, 6432, PoolMode::Session).unwrap();
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
        let mut config = PgbConfig::default_for(2, 44, 6432, PoolMode::Session).unwrap();
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
        let mut config = PgbConfig::default_for(2, 44, 6432, PoolMode::Session)
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
        let main = PgbConfig::default_for(2, 44, 6432, PoolMode::Session)
            .unwrap()
            .with_base_dirs("/b", "/l");
        assert_eq!(main.get(PGBOUNCER, "unix_socket_dir"), Some("/b"));
    }
}
