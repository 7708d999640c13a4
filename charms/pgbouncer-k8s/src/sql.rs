//! What the leader does in the backend PostgreSQL: the auth user and its
//! `get_auth` function, client users and databases.
//!
//! Identifiers are always double-quoted and passwords are sent already
//! md5-hashed, so nothing a relation says is run as SQL, and no password in
//! clear text reaches the server's statement log.

use std::time::Duration;

use postgres::{Client, NoTls};

use crate::auth::md5_password;

/// A backend operation that failed.
#[derive(Debug, thiserror::Error)]
pub enum SqlError {
    /// `endpoints` is not `host:port[,host:port...]`.
    #[error("backend endpoints {endpoints:?} are not host:port")]
    BadEndpoints {
        /// What the relation said.
        endpoints: String,
    },
    /// Connecting failed (unreachable, refused, bad credentials).
    #[error(
        "cannot connect to the backend at {host}:{port} as {user}, database {database}: {reason}"
    )]
    Connect {
        /// The host.
        host: String,
        /// The port.
        port: u16,
        /// The user.
        user: String,
        /// The database.
        database: String,
        /// The driver's message.
        reason: String,
    },
    /// A statement failed.
    #[error("backend {what} failed: {reason}")]
    Statement {
        /// What was being done.
        what: String,
        /// The server's message.
        reason: String,
    },
}

/// Where and as whom to reach the backend.
#[derive(Clone)]
pub struct BackendAccess {
    /// The first endpoint's host.
    pub host: String,
    /// Its port.
    pub port: u16,
    /// The charm's backend user.
    pub user: String,
    /// Its password (never logged: `Debug` hides it).
    pub password: String,
}

impl std::fmt::Debug for BackendAccess {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BackendAccess")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("user", &self.user)
            .finish_non_exhaustive()
    }
}

impl BackendAccess {
    /// From the relation's `endpoints` (the first `host:port` is used).
    pub fn new(endpoints: &str, user: &str, password: &str) -> Result<Self, SqlError> {
        let bad = || SqlError::BadEndpoints {
            endpoints: endpoints.to_string(),
        };
        let first = endpoints.split(',').next().map(str::trim).ok_or_else(bad)?;
        let (host, port) = first.rsplit_once(':').ok_or_else(bad)?;
        let port = port.parse().map_err(|_| bad())?;
        if host.is_empty() {
            return Err(bad());
        }
        Ok(Self {
            host: host.trim_matches(['[', ']']).to_string(),
            port,
            user: user.to_string(),
            password: password.to_string(),
        })
    }

    /// Connects to one database.
    pub fn connect(&self, database: &str) -> Result<Backend, SqlError> {
        let client = postgres::Config::new()
            .host(&self.host)
            .port(self.port)
            .user(&self.user)
            .password(&self.password)
            .dbname(database)
            .connect_timeout(Duration::from_secs(5))
            .connect(NoTls)
            .map_err(|e| SqlError::Connect {
                host: self.host.clone(),
                port: self.port,
                user: self.user.clone(),
                database: database.to_string(),
                reason: e.to_string(),
            })?;
        Ok(Backend { client })
    }
}

/// `"name"`, with inner quotes doubled.
pub fn ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// `'text'`, with inner quotes doubled.
pub fn literal(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

/// One connection to the backend.
pub struct Backend {
    client: Client,
}

impl Backend {
    fn run(&mut self, what: &str, sql: &str) -> Result<(), SqlError> {
        self.client
            .batch_execute(sql)
            .map_err(|e| SqlError::Statement {
                what: what.to_string(),
                reason: e
                    .as_db_error()
                    .map(|d| d.message().to_string())
                    .unwrap_or_else(|| e.to_string()),
            })
    }

    fn exists(&mut self, what: &str, sql: &str, name: &str) -> Result<bool, SqlError> {
        self.client
            .query_opt(sql, &[&name])
            .map(|row| row.is_some())
            .map_err(|e| SqlError::Statement {
                what: what.to_string(),
                reason: e.to_string(),
            })
    }

    /// The server's version (`SHOW server_version`).
    pub fn version(&mut self) -> Result<String, SqlError> {
        let row = self
            .client
            .query_one("SHOW server_version", &[])
            .map_err(|e| SqlError::Statement {
                what: "reading the server version".to_string(),
                reason: e.to_string(),
            })?;
        Ok(row.get(0))
    }

    /// Creates a login role, or sets its password; `md5_hash` is `md5…` as in the auth file.
    pub fn ensure_login_role(&mut self, role: &str, md5_hash: &str) -> Result<(), SqlError> {
        let exists = self.exists(
            "looking up a role",
            "SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = $1",
            role,
        )?;
        let verb = if exists { "ALTER" } else { "CREATE" };
        self.run(
            &format!("setting up role {role}"),
            &format!(
                "{verb} ROLE {} WITH LOGIN PASSWORD {}",
                ident(role),
                literal(md5_hash)
            ),
        )
    }

    /// A login role with a password in clear (hashed here before it is sent).
    pub fn ensure_user(&mut self, user: &str, password: &str) -> Result<(), SqlError> {
        self.ensure_login_role(user, &md5_password(user, password))
    }

    /// Installs `<auth_user>.get_auth(username)`, a `SECURITY DEFINER`
    /// function over `pg_authid` that only `auth_user` may call, in the
    /// database this connection is to.
    pub fn install_get_auth(&mut self, auth_user: &str) -> Result<(), SqlError> {
        let schema = ident(auth_user);
        self.run(
            &format!("installing {auth_user}.get_auth"),
            &format!(
                "CREATE SCHEMA IF NOT EXISTS {schema} AUTHORIZATION {schema};
                 CREATE OR REPLACE FUNCTION {schema}.get_auth(uname TEXT)
                     RETURNS TABLE (username name, password text)
                     LANGUAGE sql SECURITY DEFINER
                     SET search_path = pg_catalog
                     AS $$ SELECT rolname, rolpassword FROM pg_catalog.pg_authid
                           WHERE rolname = $1 AND rolcanlogin $$;
                 REVOKE ALL ON FUNCTION {schema}.get_auth(text) FROM PUBLIC;
                 GRANT EXECUTE ON FUNCTION {schema}.get_auth(text) TO {schema};"
            ),
        )
    }

    /// Removes the auth user's schema and function from this database.
    pub fn remove_get_auth(&mut self, auth_user: &str) -> Result<(), SqlError> {
        self.run(
            &format!("removing {auth_user}.get_auth"),
            &format!("DROP SCHEMA IF EXISTS {} CASCADE", ident(auth_user)),
        )
    }

    /// Creates a database if it is missing and lets `user` use it fully.
    pub fn ensure_database(&mut self, database: &str, user: &str) -> Result<(), SqlError> {
        let exists = self.exists(
            "looking up a database",
            "SELECT 1 FROM pg_catalog.pg_database WHERE datname = $1",
            database,
        )?;
        if !exists {
            self.run(
                &format!("creating database {database}"),
                &format!("CREATE DATABASE {}", ident(database)),
            )?;
        }
        self.run(
            &format!("granting {database} to {user}"),
            &format!(
                "GRANT ALL PRIVILEGES ON DATABASE {} TO {}",
                ident(database),
                ident(user)
            ),
        )
    }

    /// Lets `user` create objects in this database's `public` schema (since
    /// PostgreSQL 15 only the database owner may by default).
    pub fn grant_public_schema(&mut self, user: &str) -> Result<(), SqlError> {
        self.run(
            &format!("granting schema public to {user}"),
            &format!("GRANT ALL ON SCHEMA public TO {}", ident(user)),
        )
    }

    /// Hands what `role` owns in this database to the connected user and drops its privileges here.
    pub fn disown(&mut self, role: &str) -> Result<(), SqlError> {
        let exists = self.exists(
            "looking up a role",
            "SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = $1",
            role,
        )?;
        if !exists {
            return Ok(());
        }
        self.run(
            &format!("releasing what {role} owns"),
            &format!(
                "REASSIGN OWNED BY {r} TO CURRENT_USER; DROP OWNED BY {r}",
                r = ident(role)
            ),
        )
    }

    /// Drops a role (after `disown` in each database it used).
    pub fn drop_role(&mut self, role: &str) -> Result<(), SqlError> {
        self.run(
            &format!("dropping role {role}"),
            &format!("DROP ROLE IF EXISTS {}", ident(role)),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_parse() {
        let a = BackendAccess::new("db-0.svc:5432,db-1.svc:5432", "u", "p").unwrap();
        assert_eq!((a.host.as_str(), a.port), ("db-0.svc", 5432));
        let a = BackendAccess::new("[::1]:6000", "u", "p").unwrap();
        assert_eq!((a.host.as_str(), a.port), ("::1", 6000));
        for bad in ["", "host", "host:port", ":5432"] {
            assert!(
                matches!(
                    BackendAccess::new(bad, "u", "p"),
                    Err(SqlError::BadEndpoints { .. })
                ),
                "{bad}"
            );
        }
    }

    #[test]
    fn quoting_doubles_quotes() {
        assert_eq!(ident("we\"ird"), "\"we\"\"ird\"");
        assert_eq!(literal("it's"), "'it''s'");
    }

    #[test]
    fn debug_hides_the_password() {
        let a = BackendAccess::new("h:1", "u", "sekrit").unwrap();
        assert!(!format!("{a:?}").contains("sekrit"));
    }

    #[test]
    fn unreachable_backend_is_a_connect_error() {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let a = BackendAccess::new(&format!("127.0.0.1:{port}"), "u", "p").unwrap();
        match a.connect("pgbouncer") {
            Err(SqlError::Connect { port: p, .. }) => assert_eq!(p, port),
            Err(other) => panic!("{other}"),
            Ok(_) => panic!("connected to a closed port"),
        }
    }
}
