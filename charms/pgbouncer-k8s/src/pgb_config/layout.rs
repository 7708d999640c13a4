//! Where PgBouncer's files live in the workload container, and how many
//! PgBouncer processes a unit runs.

/// Where PgBouncer's files live in the workload container.
pub const LIB_DIR: &str = "/var/lib/pgbouncer";
/// Where PgBouncer logs.
pub const LOG_DIR: &str = "/var/log/pgbouncer";
/// The main config.
pub const INI_PATH: &str = "/var/lib/pgbouncer/pgbouncer.ini";
/// The auth file.
pub const AUTH_FILE_PATH: &str = "/var/lib/pgbouncer/userlist.txt";
/// This unit's TLS private key for clients (from the `certificates` relation).
pub const TLS_KEY_PATH: &str = "/var/lib/pgbouncer/tls/key.pem";
/// This unit's TLS certificate for clients.
pub const TLS_CERT_PATH: &str = "/var/lib/pgbouncer/tls/cert.pem";
/// The CA (or chain) that signed it.
pub const TLS_CA_PATH: &str = "/var/lib/pgbouncer/tls/ca.pem";

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
///
/// Read once per process: the standard library reads the cgroup's CPU
/// quota from `/proc` and `/sys` on every call (five files), and the charm
/// asks at every dispatch; a hook is one dispatch, a test process hundreds.
pub fn available_cpus() -> usize {
    static CPUS: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
    *CPUS.get_or_init(|| {
        std::thread::available_parallelism()
            .map(usize::from)
            .unwrap_or(1)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
