//! What the leader does in the backend PostgreSQL: the auth user and its
//! `get_auth` function, client users and databases, and taking them away.
//!
//! Least privilege (issue 10):
//! - `get_auth` gives PgBouncer the hash of a role only if the role is a
//!   client user this application made: a direct member of the NOLOGIN
//!   marker role of the application (named once, kept in the peer app
//!   databag, so it outlives any one backend relation), able to log in, not a superuser,
//!   not a replication role, not `BYPASSRLS`, and not expired. The backend
//!   superuser's hash is never brokered.
//! - A client database is created `OWNER <user> TEMPLATE template0` and
//!   nobody else may connect (`CONNECT` revoked from `PUBLIC`); another
//!   user is let in explicitly ([`Backend::grant_database`]).
//! - Revocation holds: [`Backend::deactivate_role`] stops logins and ends
//!   the role's sessions, [`Backend::release_role`] hands what it owns to an
//!   heir and drops its privileges, [`Backend::drop_role`] removes it. Each
//!   returns its error; the caller keeps its record and retries.
//!
//! Every name put in SQL is validated first (roles `[a-z0-9_]{1,63}`,
//! databases [`ClientDatabase`]) and quoted with [`ident`]; values are bind
//! parameters or [`literal`]s. Passwords are sent already md5-hashed, so no
//! clear-text password reaches the server's statement log, and no error
//! holds a password, a hash, or a remote value.

use std::time::Duration;

use postgres::{Client, NoTls};

use crate::auth::md5_password;
use crate::names::{ClientDatabase, ExtraRole, ExtraUserRoles, NameError};

/// A backend operation that failed.
#[derive(Debug, thiserror::Error)]
pub enum SqlError {
    /// `endpoints` is not `host:port[,host:port...]`.
    #[error("backend endpoints ({len} bytes) are not host:port")]
    BadEndpoints {
        /// The length of what the relation said.
        len: usize,
    },
    /// A name from outside broke its rule.
    #[error(transparent)]
    InvalidName(#[from] NameError),
    /// A role name that is not `[a-z0-9_]{1,63}`.
    #[error("a role name ({len} bytes) must match [a-z0-9_]{{1,63}}")]
    InvalidRole {
        /// The name's length in bytes.
        len: usize,
    },
    /// A password hash that is not `md5` + 32 lowercase hex digits.
    #[error("the password hash of role {role} is not md5 + 32 hex digits")]
    InvalidHash {
        /// The role.
        role: String,
    },
    /// A client's user name is taken by a role this charm did not create.
    #[error("role {role} exists in the backend and is not one this charm created")]
    ForeignRole {
        /// The role.
        role: String,
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

/// A host name or IP address: `[A-Za-z0-9.:-]{1,253}`.
fn is_host(host: &str) -> bool {
    !host.is_empty()
        && host.len() <= 253
        && host
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || b".:-".contains(&c))
}

/// Checks a role name before it is put in SQL: `[a-z0-9_]{1,63}`.
pub fn check_role(role: &str) -> Result<&str, SqlError> {
    let ok = !role.is_empty()
        && role.len() <= crate::names::MAX_IDENTIFIER
        && role
            .bytes()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'_');
    if ok {
        Ok(role)
    } else {
        Err(SqlError::InvalidRole { len: role.len() })
    }
}

/// The marker role older revisions of the charm derived from the auth user
/// (`<auth_user>_clients`): client users made then are members of it, and
/// are adopted into the application's own marker role (see
/// [`Backend::adopt_user`]).
///
/// ```
/// assert_eq!(
///     pgbouncer_k8s::sql::clients_role_for("pgbouncer_auth_relation_id_3"),
///     "pgbouncer_auth_relation_id_3_clients",
/// );
/// ```
pub fn clients_role_for(auth_user: &str) -> String {
    format!("{auth_user}_clients")
}

impl BackendAccess {
    /// From the relation's `endpoints` (the first `host:port` is used) and
    /// the backend user (`[a-z0-9_]{1,40}`, see [`crate::names::BackendUser`]).
    pub fn new(endpoints: &str, user: &str, password: &str) -> Result<Self, SqlError> {
        let bad = || SqlError::BadEndpoints {
            len: endpoints.len(),
        };
        let first = endpoints.split(',').next().map(str::trim).ok_or_else(bad)?;
        let (host, port) = first.rsplit_once(':').ok_or_else(bad)?;
        let port = port.parse().map_err(|_| bad())?;
        let host = host
            .strip_prefix('[')
            .and_then(|h| h.strip_suffix(']'))
            .unwrap_or(host);
        if !is_host(host) {
            return Err(bad());
        }
        let user = crate::names::BackendUser::parse(user)?;
        Ok(Self {
            host: host.to_string(),
            port,
            user: user.as_str().to_string(),
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
                database: if database.len() <= 63 {
                    database.to_string()
                } else {
                    format!("({} bytes)", database.len())
                },
                reason: e
                    .as_db_error()
                    .map(|d| d.message().to_string())
                    .unwrap_or_else(|| e.to_string()),
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

fn is_md5_hash(hash: &str) -> bool {
    hash.len() == 35
        && hash.starts_with("md5")
        && hash[3..]
            .bytes()
            .all(|c| c.is_ascii_digit() || (b'a'..=b'f').contains(&c))
}

/// One connection to the backend.
pub struct Backend {
    client: Client,
}

fn statement_error(what: &str, e: &postgres::Error) -> SqlError {
    SqlError::Statement {
        what: what.to_string(),
        reason: e
            .as_db_error()
            .map(|d| d.message().to_string())
            .unwrap_or_else(|| e.to_string()),
    }
}

impl Backend {
    fn run(&mut self, what: &str, sql: &str) -> Result<(), SqlError> {
        self.client
            .batch_execute(sql)
            .map_err(|e| statement_error(what, &e))
    }

    fn exists(&mut self, what: &str, sql: &str, name: &str) -> Result<bool, SqlError> {
        self.client
            .query_opt(sql, &[&name])
            .map(|row| row.is_some())
            .map_err(|e| statement_error(what, &e))
    }

    fn role_exists(&mut self, role: &str) -> Result<bool, SqlError> {
        self.exists(
            "looking up a role",
            "SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = $1",
            role,
        )
    }

    /// The database this connection is to.
    pub fn current_database(&mut self) -> Result<String, SqlError> {
        let row = self
            .client
            .query_one("SELECT pg_catalog.current_database()::text", &[])
            .map_err(|e| statement_error("reading the current database", &e))?;
        Ok(row.get(0))
    }

    /// The server's version (`SHOW server_version`).
    pub fn version(&mut self) -> Result<String, SqlError> {
        let row = self
            .client
            .query_one("SHOW server_version", &[])
            .map_err(|e| statement_error("reading the server version", &e))?;
        Ok(row.get(0))
    }

    /// Creates a login role, or sets its password and lets it log in again;
    /// `md5_hash` is `md5…` as in the auth file.
    pub fn ensure_login_role(&mut self, role: &str, md5_hash: &str) -> Result<(), SqlError> {
        let role = check_role(role)?;
        if !is_md5_hash(md5_hash) {
            return Err(SqlError::InvalidHash {
                role: role.to_string(),
            });
        }
        let verb = if self.role_exists(role)? {
            "ALTER"
        } else {
            "CREATE"
        };
        self.run(
            &format!("setting up role {role}"),
            &format!(
                "{verb} ROLE {} WITH LOGIN NOSUPERUSER NOCREATEROLE NOREPLICATION NOBYPASSRLS \
                 PASSWORD {} VALID UNTIL 'infinity'",
                ident(role),
                literal(md5_hash)
            ),
        )
    }

    /// Creates the NOLOGIN marker role of this application's client users
    /// if it is missing.
    pub fn ensure_clients_role(&mut self, marker: &str) -> Result<String, SqlError> {
        let marker = check_role(marker)?.to_string();
        let verb = if self.role_exists(&marker)? {
            "ALTER"
        } else {
            "CREATE"
        };
        self.run(
            &format!("setting up role {marker}"),
            &format!(
                "{verb} ROLE {} WITH NOLOGIN NOSUPERUSER NOCREATEROLE NOREPLICATION NOBYPASSRLS",
                ident(&marker)
            ),
        )?;
        Ok(marker)
    }

    /// Adopts a client user made under an older marker (`legacy`, one
    /// derived from an earlier backend user by older revisions): if `user`
    /// is a member of `legacy`, it becomes a member of `marker` too. A role
    /// that is a member of neither stays foreign.
    pub fn adopt_user(&mut self, user: &str, legacy: &str, marker: &str) -> Result<(), SqlError> {
        let user = check_role(user)?;
        let legacy = check_role(legacy)?;
        let marker = check_role(marker)?;
        if legacy == marker
            || !self.role_exists(user)?
            || !self.role_exists(legacy)?
            || self.is_member(user, marker)?
            || !self.is_member(user, legacy)?
        {
            return Ok(());
        }
        self.run(
            &format!("adopting role {user}"),
            &format!("GRANT {} TO {}", ident(marker), ident(user)),
        )
    }

    /// The owner of `database`, or `None` if there is no such database.
    pub fn database_owner(
        &mut self,
        database: &ClientDatabase,
    ) -> Result<Option<String>, SqlError> {
        self.client
            .query_opt(
                "SELECT pg_catalog.pg_get_userbyid(datdba)::text FROM pg_catalog.pg_database \
                 WHERE datname = $1",
                &[&database.as_str()],
            )
            .map(|row| row.map(|row| row.get(0)))
            .map_err(|e| statement_error("looking up a database's owner", &e))
    }

    /// A client user with a password in clear (hashed here before it is
    /// sent), made a member of `auth_user`'s clients role so that `get_auth`
    /// answers for it — created so, in one statement. A role of that name
    /// that exists but is not a member (one this charm did not create: the
    /// backend's own user, another application's) is never taken over:
    /// [`SqlError::ForeignRole`].
    pub fn ensure_user(
        &mut self,
        user: &str,
        password: &str,
        marker: &str,
    ) -> Result<(), SqlError> {
        let user = check_role(user)?;
        let marker = self.ensure_clients_role(marker)?;
        let hash = md5_password(user, password);
        if self.role_exists(user)? {
            if !self.is_member(user, &marker)? {
                return Err(SqlError::ForeignRole {
                    role: user.to_string(),
                });
            }
            return self.ensure_login_role(user, &hash);
        }
        self.run(
            &format!("creating role {user}"),
            &format!(
                "CREATE ROLE {} WITH LOGIN NOSUPERUSER NOCREATEROLE NOREPLICATION NOBYPASSRLS \
                 PASSWORD {} VALID UNTIL 'infinity' IN ROLE {}",
                ident(user),
                literal(&hash),
                ident(&marker)
            ),
        )
    }

    /// Whether `user` is one of this application's client users (a member
    /// of its clients role `marker`): only those may be changed or revoked
    /// for a client.
    pub fn is_client_user(&mut self, user: &str, marker: &str) -> Result<bool, SqlError> {
        self.is_member(check_role(user)?, check_role(marker)?)
    }

    /// Whether `role` is a direct member of `group`.
    fn is_member(&mut self, role: &str, group: &str) -> Result<bool, SqlError> {
        self.client
            .query_opt(
                "SELECT 1 FROM pg_catalog.pg_auth_members m \
                 JOIN pg_catalog.pg_roles g ON g.oid = m.roleid \
                 JOIN pg_catalog.pg_roles r ON r.oid = m.member \
                 WHERE g.rolname = $1 AND r.rolname = $2",
                &[&group, &role],
            )
            .map(|row| row.is_some())
            .map_err(|e| statement_error("looking up a role membership", &e))
    }

    /// Gives `user` exactly the role attributes a client asked for in
    /// `extra-user-roles` (validated: only `CREATEDB` exists), taking away
    /// one it no longer asks for.
    pub fn set_extra_roles(&mut self, user: &str, roles: &ExtraUserRoles) -> Result<(), SqlError> {
        let user = check_role(user)?;
        let createdb = if roles.roles().contains(&ExtraRole::CreateDb) {
            "CREATEDB"
        } else {
            "NOCREATEDB"
        };
        self.run(
            &format!("setting the extra roles of {user}"),
            &format!("ALTER ROLE {} WITH {createdb}", ident(user)),
        )
    }

    /// Installs `<auth_user>.get_auth(username)` in the database this
    /// connection is to: a `SECURITY DEFINER` function over `pg_authid` that
    /// only `auth_user` may call and that answers only for `auth_user`'s
    /// client users (see the [module](self)). The schema is owned by the
    /// connected user (so `auth_user` cannot replace the function), and
    /// `auth_user` may connect to this database (PgBouncer runs its
    /// `auth_query` in the database a client asks for).
    pub fn install_get_auth(&mut self, auth_user: &str, marker: &str) -> Result<(), SqlError> {
        let auth_user = check_role(auth_user)?;
        let marker = self.ensure_clients_role(marker)?;
        let database = self.current_database()?;
        let schema = ident(auth_user);
        self.run(
            &format!("installing {auth_user}.get_auth"),
            &format!(
                "CREATE SCHEMA IF NOT EXISTS {schema};
                 ALTER SCHEMA {schema} OWNER TO CURRENT_USER;
                 REVOKE ALL ON SCHEMA {schema} FROM PUBLIC;
                 GRANT USAGE ON SCHEMA {schema} TO {schema};
                 CREATE OR REPLACE FUNCTION {schema}.get_auth(uname TEXT)
                     RETURNS TABLE (username name, password text)
                     LANGUAGE sql STABLE SECURITY DEFINER
                     SET search_path = pg_catalog
                     AS $$ SELECT a.rolname, a.rolpassword FROM pg_catalog.pg_authid a
                           WHERE a.rolname = $1
                             AND a.rolcanlogin
                             AND NOT a.rolsuper
                             AND NOT a.rolreplication
                             AND NOT a.rolbypassrls
                             AND (a.rolvaliduntil IS NULL OR a.rolvaliduntil > pg_catalog.now())
                             AND EXISTS (
                                 SELECT 1 FROM pg_catalog.pg_auth_members m
                                 JOIN pg_catalog.pg_roles r ON r.oid = m.roleid
                                 WHERE m.member = a.oid AND r.rolname = {marker}) $$;
                 REVOKE ALL ON FUNCTION {schema}.get_auth(text) FROM PUBLIC;
                 GRANT EXECUTE ON FUNCTION {schema}.get_auth(text) TO {schema};
                 GRANT CONNECT ON DATABASE {database} TO {schema};",
                marker = literal(&marker),
                database = ident(&database),
            ),
        )
    }

    /// Removes the auth user's schema and function from this database.
    pub fn remove_get_auth(&mut self, auth_user: &str) -> Result<(), SqlError> {
        let auth_user = check_role(auth_user)?;
        self.run(
            &format!("removing {auth_user}.get_auth"),
            &format!("DROP SCHEMA IF EXISTS {} CASCADE", ident(auth_user)),
        )
    }

    /// Creates a client's database if it is missing (`OWNER owner TEMPLATE
    /// template0`, so nothing put in `template1` leaks in), then closes it
    /// to everyone but those granted (`REVOKE ALL ... FROM PUBLIC`) and lets
    /// `owner` connect. An existing database keeps its owner: let another
    /// user in with [`grant_database`](Self::grant_database).
    pub fn ensure_database(
        &mut self,
        database: &ClientDatabase,
        owner: &str,
    ) -> Result<(), SqlError> {
        let owner = check_role(owner)?;
        let exists = self.exists(
            "looking up a database",
            "SELECT 1 FROM pg_catalog.pg_database WHERE datname = $1",
            database.as_str(),
        )?;
        if !exists {
            self.run(
                &format!("creating database {database}"),
                &format!(
                    "CREATE DATABASE {} OWNER {} TEMPLATE template0",
                    ident(database.as_str()),
                    ident(owner)
                ),
            )?;
        }
        self.run(
            &format!("closing database {database} to PUBLIC"),
            &format!(
                "REVOKE ALL ON DATABASE {} FROM PUBLIC",
                ident(database.as_str())
            ),
        )?;
        self.grant_database(database, owner)
    }

    /// Lets `user` connect to `database` and make temporary tables there
    /// (another relation sharing it). Run
    /// [`grant_public_schema`](Self::grant_public_schema) in the database
    /// too, for its objects.
    pub fn grant_database(
        &mut self,
        database: &ClientDatabase,
        user: &str,
    ) -> Result<(), SqlError> {
        let user = check_role(user)?;
        self.run(
            &format!("granting database {database} to {user}"),
            &format!(
                "GRANT CONNECT, TEMPORARY ON DATABASE {} TO {}",
                ident(database.as_str()),
                ident(user)
            ),
        )
    }

    /// In the database this connection is to: lets `user` use and create
    /// in schema `public` (since PostgreSQL 15 only the database owner may
    /// by default) and use every table, sequence and function in it.
    pub fn grant_public_schema(&mut self, user: &str) -> Result<(), SqlError> {
        let user = ident(check_role(user)?);
        self.run(
            &format!("granting schema public to {user}"),
            &format!(
                "GRANT USAGE, CREATE ON SCHEMA public TO {user};
                 GRANT ALL ON ALL TABLES IN SCHEMA public TO {user};
                 GRANT ALL ON ALL SEQUENCES IN SCHEMA public TO {user};
                 GRANT ALL ON ALL FUNCTIONS IN SCHEMA public TO {user};"
            ),
        )
    }

    /// Stops `role` from logging in (`NOLOGIN PASSWORD NULL`) and ends its
    /// open sessions. Nothing to do if it is gone.
    pub fn deactivate_role(&mut self, role: &str) -> Result<(), SqlError> {
        let role = check_role(role)?;
        if !self.role_exists(role)? {
            return Ok(());
        }
        self.run(
            &format!("deactivating role {role}"),
            &format!("ALTER ROLE {} WITH NOLOGIN PASSWORD NULL", ident(role)),
        )?;
        self.client
            .execute(
                "SELECT pg_catalog.pg_terminate_backend(pid) FROM pg_catalog.pg_stat_activity \
                 WHERE usename = $1 AND pid <> pg_catalog.pg_backend_pid()",
                &[&role],
            )
            .map(|_| ())
            .map_err(|e| statement_error(&format!("ending the sessions of {role}"), &e))
    }

    /// In the database this connection is to (run it in each database the
    /// role used, and in one more for what it owns cluster-wide): hands what
    /// `role` owns to `heir` (`REASSIGN OWNED`; databases included) and drops
    /// its privileges (`DROP OWNED`). Nothing to do if it is gone.
    pub fn release_role(&mut self, role: &str, heir: &str) -> Result<(), SqlError> {
        let role = check_role(role)?;
        let heir = check_role(heir)?;
        if !self.role_exists(role)? {
            return Ok(());
        }
        self.run(
            &format!("releasing what {role} owns to {heir}"),
            &format!(
                "REASSIGN OWNED BY {r} TO {h}; DROP OWNED BY {r}",
                r = ident(role),
                h = ident(heir)
            ),
        )
    }

    /// [`release_role`](Self::release_role) to the connected user.
    pub fn disown(&mut self, role: &str) -> Result<(), SqlError> {
        let role = check_role(role)?;
        if !self.role_exists(role)? {
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

    /// Drops a role (after [`release_role`](Self::release_role) in each
    /// database it used).
    pub fn drop_role(&mut self, role: &str) -> Result<(), SqlError> {
        let role = check_role(role)?;
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
        for bad in [
            "",
            "host",
            "host:port",
            ":5432",
            "a b:5432",
            "h'ost:1",
            "host\n:1",
        ] {
            match BackendAccess::new(bad, "u", "p") {
                Err(SqlError::BadEndpoints { len }) => assert_eq!(len, bad.len()),
                other => panic!("{bad:?}: {other:?}"),
            }
        }
        let err = BackendAccess::new(&format!("{}:1", "s3cr3t".repeat(9000)), "u", "p")
            .unwrap_err()
            .to_string();
        assert!(err.len() < 100 && !err.contains("s3cr3t"), "{err}");
    }

    #[test]
    fn the_backend_user_is_validated() {
        for bad in ["", "U", "a\"b", "x; DROP ROLE postgres"] {
            assert!(
                matches!(
                    BackendAccess::new("h:1", bad, "p"),
                    Err(SqlError::InvalidName(NameError {
                        field: "username",
                        ..
                    }))
                ),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn role_names_are_checked_before_sql() {
        for good in ["relation_id_3", "pgbouncer_auth_x_clients", &"r".repeat(63)] {
            assert_eq!(check_role(good).unwrap(), good);
        }
        for bad in ["", "A", "a-b", "a\"b", "a b", &"r".repeat(64)] {
            assert!(
                matches!(check_role(bad), Err(SqlError::InvalidRole { len }) if len == bad.len()),
                "{bad:?}"
            );
        }
        assert!(is_md5_hash(&md5_password("u", "p")));
        for bad in ["", "md5", "md5x", "SCRAM-SHA-256$4096:abc", "md5' OR '1"] {
            assert!(!is_md5_hash(bad), "{bad}");
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
