//! A throwaway PostgreSQL on loopback for one test (`scripts/local-postgres`,
//! which `.ci/run` can run: it installs Debian's postgresql), with a
//! SUPERUSER backend user as postgresql-k8s gives the charm, SCRAM-SHA-256
//! in pg_hba and `password_encryption`; stopped when the guard is dropped.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use pgbouncer_k8s::sql::{Backend, BackendAccess};

/// The superuser the backend relation gives the charm in these tests.
pub const BACKEND_USER: &str = "relation_id_3";
/// Its password.
pub const BACKEND_PASSWORD: &str = "backend-pw-5c1d";

fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/local-postgres")
}

/// A running cluster.
pub struct Postgres {
    dir: tempfile::TempDir,
    /// Its port on 127.0.0.1.
    pub port: u16,
}

impl Postgres {
    /// Starts one, with [`BACKEND_USER`] as a superuser and a `pgbouncer` database.
    pub fn start() -> Self {
        Self::start_logging(false)
    }

    /// With `log_all`, the server logs every statement and its duration
    /// (`log_statement = all`, `log_min_duration_statement = 0`) to
    /// [`log`](Self::log).
    pub fn start_logging(log_all: bool) -> Self {
        Self::start_with(log_all, false)
    }

    /// With `tls`, the server takes TCP connections over TLS only
    /// (`hostssl`), its certificate signed by [`ca`](Self::ca).
    pub fn start_with(log_all: bool, tls: bool) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let out = Command::new(script())
            .arg("start")
            .arg(dir.path().join("pg"))
            .args([BACKEND_USER, BACKEND_PASSWORD])
            .env("LOCAL_POSTGRES_AUTH", "scram-sha-256")
            .env("LOCAL_POSTGRES_LOG_ALL", if log_all { "1" } else { "0" })
            .env("LOCAL_POSTGRES_TLS", if tls { "1" } else { "0" })
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "cannot start PostgreSQL (.ci/run installs it): {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let port = String::from_utf8_lossy(&out.stdout).trim().parse().unwrap();
        Self { dir, port }
    }

    /// The backend as the charm reaches it, as [`BACKEND_USER`].
    pub fn access(&self) -> BackendAccess {
        BackendAccess::new(
            &format!("127.0.0.1:{}", self.port),
            BACKEND_USER,
            BACKEND_PASSWORD,
        )
        .unwrap()
    }

    /// The CA of a server started with TLS (PEM).
    pub fn ca(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("pg/ca.pem")).unwrap()
    }

    /// The server's log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("pg/postgres.log")).unwrap()
    }

    /// The charm's own connection, to `database`.
    pub fn backend(&self, database: &str) -> Backend {
        self.access().connect(database).unwrap()
    }

    /// A session as `user`.
    pub fn connect(
        &self,
        user: &str,
        password: &str,
        database: &str,
    ) -> Result<postgres::Client, postgres::Error> {
        connect_to(self.port, user, password, database)
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        let _ = Command::new(script())
            .arg("stop")
            .arg(self.dir.path().join("pg"))
            .status();
    }
}

/// A session as `user` with whatever listens on `port` of 127.0.0.1 (a
/// PostgreSQL, or a PgBouncer in front of one), without TLS.
pub fn connect_to(
    port: u16,
    user: &str,
    password: &str,
    database: &str,
) -> Result<postgres::Client, postgres::Error> {
    postgres::Config::new()
        .host("127.0.0.1")
        .port(port)
        .user(user)
        .password(password)
        .dbname(database)
        .connect_timeout(Duration::from_secs(5))
        .connect(postgres::NoTls)
}
