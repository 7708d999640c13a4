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
//!   the role's sessions, [`BackendAccess::drop_role_everywhere`] hands what
//!   it owns in every database to an heir, drops its privileges and removes
//!   it. Each returns its error; the caller keeps its record and retries.
//!
//! Every name put in SQL is validated first (roles `[a-z0-9_]{1,63}`,
//! databases [`ClientDatabase`]) and quoted with [`ident`]; values are bind
//! parameters or [`literal`]s.
//!
//! Passwords: roles get SCRAM-SHA-256 verifiers, made here
//! ([`crate::auth::scram_verifier`]), so no clear-text password is sent.
//! A verifier is still a secret (it lets one log in through PgBouncer, and
//! be attacked offline), so every statement that carries one runs in a
//! transaction of its own that first sets `log_statement = 'none'`,
//! `log_min_duration_statement = -1` and `log_min_error_statement =
//! 'panic'` locally: the server logs neither the statement nor, if it
//! fails, its text. No error holds a password, a verifier, or a remote
//! value other than a database name.

use std::time::Duration;

use postgres::Client;

use crate::auth::{scram_matches, scram_verifier};
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
    /// A role's password verifier could not be made.
    #[error(transparent)]
    Password(crate::auth::PasswordError),
    /// TLS to the backend could not be set up.
    #[error(transparent)]
    Tls(#[from] crate::backend_tls::TlsError),
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
    /// A role could not be dropped and some databases it depends on could
    /// not be released, as they do not accept connections.
    #[error(
        "backend dropping role {role} failed: {reason}; not released in databases that \
         do not accept connections: {}",
        databases.join(", ")
    )]
    Unreleased {
        /// The role.
        role: String,
        /// The databases skipped (each shown as [`shown_database`] does).
        databases: Vec<String>,
        /// The server's message.
        reason: String,
    },
}

/// A database's name as errors show it: double-quoted with escapes, or its
/// length alone if it is longer than PostgreSQL's 63 bytes.
pub fn shown_database(name: &str) -> String {
    if name.len() <= crate::names::MAX_IDENTIFIER {
        format!("{name:?}")
    } else {
        format!("({} bytes)", name.len())
    }
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
    /// The CA the backend's certificate is verified against (PEM), when
    /// the backend relation gives one ([`crate::backend_tls`]).
    pub ca: Option<String>,
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
            ca: None,
        })
    }

    /// The same, verifying the server against `ca` (PEM).
    pub fn with_ca(mut self, ca: Option<&str>) -> Self {
        self.ca = ca.map(str::to_string);
        self
    }

    /// Connects to one database.
    pub fn connect(&self, database: &str) -> Result<Backend, SqlError> {
        let (tls, ssl_mode) = crate::backend_tls::connector(self.ca.as_deref())?;
        let client = postgres::Config::new()
            .host(&self.host)
            .port(self.port)
            .user(&self.user)
            .password(&self.password)
            .dbname(database)
            .ssl_mode(ssl_mode)
            .connect_timeout(Duration::from_secs(5))
            .connect(tls)
            .map_err(|e| SqlError::Connect {
                host: self.host.clone(),
                port: self.port,
                user: self.user.clone(),
                database: if database.len() <= crate::names::MAX_IDENTIFIER {
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

impl BackendAccess {
    /// Takes `role` away for good (revocation always ends, whatever the role
    /// made): in every database where it owns objects or holds privileges
    /// (`pg_shdepend`), hands what it owns to `heir` and drops its
    /// privileges (`REASSIGN OWNED BY role TO heir; DROP OWNED BY role`),
    /// then does the same in `home` (the charm's database, for the shared
    /// objects too: databases the role owns go to `heir`) and drops the
    /// role. Nothing to do if it is gone; run
    /// [`Backend::deactivate_role`] first to end its sessions.
    ///
    /// A database that does not accept connections (`datallowconn` false)
    /// cannot be visited: it is skipped, and named in the error
    /// ([`SqlError::Unreleased`]) if the role then cannot be dropped. Every
    /// other error names the database and the step.
    pub fn drop_role_everywhere(&self, home: &str, role: &str, heir: &str) -> Result<(), SqlError> {
        let role = check_role(role)?;
        let heir = check_role(heir)?;
        let mut db = self.connect(home)?;
        if !db.role_exists(role)? {
            return Ok(());
        }
        let home_name = db.current_database()?;
        let mut skipped = Vec::new();
        for (database, accepts_connections) in db.databases_depending_on(role)? {
            if database == home_name {
                continue;
            }
            if !accepts_connections {
                skipped.push(shown_database(&database));
                continue;
            }
            self.connect(&database)?
                .release_role_here(role, heir, &database)?;
        }
        db.release_role_here(role, heir, &home_name)?;
        match db.drop_role(role) {
            Err(SqlError::Statement { reason, .. }) if !skipped.is_empty() => {
                Err(SqlError::Unreleased {
                    role: role.to_string(),
                    databases: skipped,
                    reason,
                })
            }
            other => other,
        }
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

/// Set first, locally, in the transaction of a statement that carries a
/// password verifier: the server logs neither the statement (whatever
/// `log_statement` or `log_min_duration_statement` say) nor, if it fails,
/// its text (`log_min_error_statement`).
pub const QUIET_LOGGING: &str = "SET LOCAL log_statement = 'none'; \
     SET LOCAL log_min_duration_statement = -1; \
     SET LOCAL log_min_error_statement = 'panic'";

/// The attributes of every login role the charm makes.
const LOGIN_ATTRIBUTES: &str = "LOGIN NOSUPERUSER NOCREATEROLE NOREPLICATION NOBYPASSRLS";

/// A server version up to its first space (distributions add their build).
///
/// ```
/// assert_eq!(pgbouncer_k8s::sql::bare_version("15.18 (Debian 15.18-0+deb12u1)"), "15.18");
/// assert_eq!(pgbouncer_k8s::sql::bare_version("16.4"), "16.4");
/// ```
pub fn bare_version(version: &str) -> String {
    version
        .split_whitespace()
        .next()
        .unwrap_or_default()
        .to_string()
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

    /// Runs `sql`, which carries a password verifier, in a transaction of
    /// its own that starts with [`QUIET_LOGGING`] (sent on its own first:
    /// the server logs a query's text before it runs it, so the `SET`s must
    /// take effect before the statement arrives).
    fn run_quietly(&mut self, what: &str, sql: &str) -> Result<(), SqlError> {
        let fail = |e: postgres::Error| statement_error(what, &e);
        let mut transaction = self.client.transaction().map_err(fail)?;
        transaction.batch_execute(QUIET_LOGGING).map_err(fail)?;
        transaction.batch_execute(sql).map_err(fail)?;
        transaction.commit().map_err(fail)
    }

    /// A role's stored password (a verifier, or none) and whether it has
    /// the attributes of [`LOGIN_ATTRIBUTES`] and never expires; `None` if
    /// there is no such role. Reads `pg_authid`: the backend user is a
    /// superuser.
    fn login_state(&mut self, role: &str) -> Result<Option<(Option<String>, bool)>, SqlError> {
        let row = self
            .client
            .query_opt(
                "SELECT rolpassword, rolcanlogin AND NOT rolsuper AND NOT rolcreaterole \
                     AND NOT rolreplication AND NOT rolbypassrls \
                     AND rolvaliduntil IS NOT DISTINCT FROM 'infinity' \
                 FROM pg_catalog.pg_authid WHERE rolname = $1",
                &[&role],
            )
            .map_err(|e| statement_error(&format!("reading the login state of {role}"), &e))?;
        Ok(row.map(|row| (row.get(0), row.get(1))))
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

    /// Whether this connection is encrypted (TLS).
    pub fn encrypted(&mut self) -> Result<bool, SqlError> {
        let row = self
            .client
            .query_one(
                "SELECT coalesce((SELECT ssl FROM pg_catalog.pg_stat_ssl \
                 WHERE pid = pg_catalog.pg_backend_pid()), false)",
                &[],
            )
            .map_err(|e| statement_error("reading whether the connection is encrypted", &e))?;
        Ok(row.get(0))
    }

    /// The database this connection is to.
    pub fn current_database(&mut self) -> Result<String, SqlError> {
        let row = self
            .client
            .query_one("SELECT pg_catalog.current_database()::text", &[])
            .map_err(|e| statement_error("reading the current database", &e))?;
        Ok(row.get(0))
    }

    /// The server's version, bare (`SHOW server_version` up to its first
    /// space: `15.18`, not `15.18 (Debian 15.18-0+deb12u1)`).
    pub fn version(&mut self) -> Result<String, SqlError> {
        let row = self
            .client
            .query_one("SHOW server_version", &[])
            .map_err(|e| statement_error("reading the server version", &e))?;
        Ok(bare_version(row.get(0)))
    }

    /// Creates a login role with a SCRAM-SHA-256 verifier of `password`
    /// (made here; the password itself is never sent), or lets an existing
    /// one log in again. An existing role whose stored password already is
    /// a SCRAM verifier of `password` keeps it (no statement carries a
    /// verifier then); any other (an md5 hash an older revision set, none,
    /// another password) is replaced by a new SCRAM verifier. Checking a
    /// verifier costs a few milliseconds ([`scram_matches`]).
    pub fn ensure_login_role(&mut self, role: &str, password: &str) -> Result<(), SqlError> {
        self.ensure_login_role_in(role, password, None)
    }

    /// [`ensure_login_role`](Self::ensure_login_role), creating a missing
    /// role as a member of `group`.
    fn ensure_login_role_in(
        &mut self,
        role: &str,
        password: &str,
        group: Option<&str>,
    ) -> Result<(), SqlError> {
        let role = check_role(role)?;
        let what = format!("setting up role {role}");
        let verifier = || scram_verifier(password).map_err(SqlError::Password);
        let Some((stored, attributes_ok)) = self.login_state(role)? else {
            let in_role = group.map(|g| format!(" IN ROLE {}", ident(g)));
            return self.run_quietly(
                &what,
                &format!(
                    "CREATE ROLE {} WITH {LOGIN_ATTRIBUTES} PASSWORD {} \
                     VALID UNTIL 'infinity'{}",
                    ident(role),
                    literal(&verifier()?),
                    in_role.unwrap_or_default()
                ),
            );
        };
        if stored.is_some_and(|stored| scram_matches(&stored, password)) {
            if attributes_ok {
                return Ok(());
            }
            return self.run(
                &what,
                &format!(
                    "ALTER ROLE {} WITH {LOGIN_ATTRIBUTES} VALID UNTIL 'infinity'",
                    ident(role)
                ),
            );
        }
        self.run_quietly(
            &what,
            &format!(
                "ALTER ROLE {} WITH {LOGIN_ATTRIBUTES} PASSWORD {} VALID UNTIL 'infinity'",
                ident(role),
                literal(&verifier()?)
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

    /// A client user with a password in clear (sent as a SCRAM-SHA-256
    /// verifier made here, as [`ensure_login_role`](Self::ensure_login_role)
    /// does, which also says when an existing user keeps its verifier), made
    /// a member of the application's clients role `marker` so that `get_auth` answers for
    /// it — created so, in one statement. A user an older revision made
    /// with an md5 hash gets a SCRAM verifier of its password here. A role
    /// of that name that exists but is not a member (one this charm did not
    /// create: the backend's own user, another application's) is never
    /// taken over: [`SqlError::ForeignRole`].
    pub fn ensure_user(
        &mut self,
        user: &str,
        password: &str,
        marker: &str,
    ) -> Result<(), SqlError> {
        let user = check_role(user)?;
        let marker = self.ensure_clients_role(marker)?;
        if self.role_exists(user)? && !self.is_member(user, &marker)? {
            return Err(SqlError::ForeignRole {
                role: user.to_string(),
            });
        }
        self.ensure_login_role_in(user, password, Some(&marker))
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

    /// The databases in which `role` owns objects or holds privileges, and
    /// whether each accepts connections, sorted by name. Shared objects
    /// (`dbid = 0`: databases it owns, privileges on databases) are
    /// released from any database, so they add none.
    fn databases_depending_on(&mut self, role: &str) -> Result<Vec<(String, bool)>, SqlError> {
        let rows = self
            .client
            .query(
                "SELECT DISTINCT d.datname::text, d.datallowconn \
                 FROM pg_catalog.pg_shdepend s \
                 JOIN pg_catalog.pg_database d ON d.oid = s.dbid \
                 WHERE s.refclassid = 'pg_catalog.pg_authid'::regclass \
                   AND s.refobjid = (SELECT oid FROM pg_catalog.pg_roles WHERE rolname = $1) \
                 ORDER BY 1",
                &[&role],
            )
            .map_err(|e| {
                statement_error(&format!("finding the databases {role} depends on"), &e)
            })?;
        Ok(rows.iter().map(|row| (row.get(0), row.get(1))).collect())
    }

    /// [`release_role`](Self::release_role), its error naming `database`
    /// (the one this connection is to).
    fn release_role_here(
        &mut self,
        role: &str,
        heir: &str,
        database: &str,
    ) -> Result<(), SqlError> {
        self.run(
            &format!(
                "releasing what {role} owns to {heir} in database {}",
                shown_database(database)
            ),
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
    }

    #[test]
    fn database_names_in_errors_are_quoted_or_measured() {
        assert_eq!(shown_database("own30"), "\"own30\"");
        assert_eq!(shown_database("a\"b\nc"), "\"a\\\"b\\nc\"");
        assert_eq!(shown_database(&"d".repeat(64)), "(64 bytes)");
        let err = SqlError::Unreleased {
            role: "relation_id_3".to_string(),
            databases: vec![shown_database("a"), shown_database("b")],
            reason: "role cannot be dropped".to_string(),
        };
        assert_eq!(
            err.to_string(),
            "backend dropping role relation_id_3 failed: role cannot be dropped; not released \
             in databases that do not accept connections: \"a\", \"b\""
        );
    }

    #[test]
    fn quiet_logging_turns_off_every_statement_log() {
        let statements: Vec<&str> = QUIET_LOGGING.split(';').map(str::trim).collect();
        assert_eq!(
            statements,
            [
                "SET LOCAL log_statement = 'none'",
                "SET LOCAL log_min_duration_statement = -1",
                "SET LOCAL log_min_error_statement = 'panic'",
            ]
        );
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
