//! A throwaway PostgreSQL on loopback for one test (`scripts/local-postgres`),
//! stopped when the guard is dropped.

use std::path::{Path, PathBuf};
use std::process::Command;

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
        let dir = tempfile::tempdir().unwrap();
        let out = Command::new(script())
            .arg("start")
            .arg(dir.path().join("pg"))
            .args([BACKEND_USER, BACKEND_PASSWORD])
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

    /// A session as `user`.
    pub fn connect(
        &self,
        user: &str,
        password: &str,
        database: &str,
    ) -> Result<postgres::Client, postgres::Error> {
        postgres::Config::new()
            .host("127.0.0.1")
            .port(self.port)
            .user(user)
            .password(password)
            .dbname(database)
            .connect(postgres::NoTls)
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
