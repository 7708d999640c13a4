//! What the `backend-database` relation gives: the backend's connection
//! data, read from the remote app databag and the secrets it names
//! (`secret-user`, `secret-tls`) through [`postgresql_client`], and checked
//! at the edge (every value is outside input; a refusal names the field,
//! never its text).

use std::fmt;

use ops::Model;
use ops::model::{ModelError, Relation};
use postgresql_client::{Answer, Received};

use crate::auth;
use crate::names::BackendUser;
use crate::sql::{BackendAccess, SqlError};

/// The backend relation's endpoint ([`meta::BACKEND_DATABASE`](crate::meta::BACKEND_DATABASE)).
pub const BACKEND: &str = crate::meta::BACKEND_DATABASE.name();
/// The database the charm asks the backend for.
pub const DATABASE: &str = "pgbouncer";
/// The extra roles the charm asks for its backend user.
pub const EXTRA_USER_ROLES: &str = "SUPERUSER";

/// What the backend gives (its app databag and secrets), once it is ready.
#[derive(Clone, PartialEq, Eq)]
pub struct BackendInfo {
    /// `endpoints`: `host:port[,host:port...]`.
    pub endpoints: String,
    /// `username`: the user the backend created for this charm (checked).
    pub username: BackendUser,
    /// `password`: its password.
    pub password: String,
    /// `database`: the database the backend made for the charm.
    pub database: String,
    /// `read-only-endpoints`, its first `host:port`, when the backend has
    /// replicas (and the value is one: anything else is ignored).
    pub read_only: Option<(String, u16)>,
    /// `tls-ca`, when the backend says `tls: True`: the charm's own
    /// connections verify the server against it ([`crate::backend_tls`]).
    pub tls_ca: Option<String>,
}

impl fmt::Debug for BackendInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BackendInfo")
            .field("endpoints", &self.endpoints)
            .field("username", &self.username)
            .field("database", &self.database)
            .finish_non_exhaustive()
    }
}

impl BackendInfo {
    /// The auth user PgBouncer queries the backend as.
    pub fn auth_user(&self) -> String {
        auth::auth_user_for(&self.username)
    }

    /// The first endpoint's host and port, if `endpoints` can be read.
    pub fn primary(&self) -> Option<(String, u16)> {
        let access = self.access().ok()?;
        Some((access.host, access.port))
    }

    /// How to reach the backend as the charm's user.
    pub fn access(&self) -> Result<BackendAccess, SqlError> {
        Ok(
            BackendAccess::new(&self.endpoints, self.username.as_str(), &self.password)?
                .with_ca(self.tls_ca.as_deref()),
        )
    }
}

/// What the backend relation gives.
#[derive(Debug, Clone)]
pub enum BackendState {
    /// Endpoints, username and password, all usable.
    Ready(BackendInfo),
    /// Something is missing: the backend has not answered yet (or a secret
    /// it named is not readable yet).
    NotReady,
    /// The backend answered with something the charm must not use (the
    /// reason names the field, never its value).
    Refused(String),
}

/// The backend's connection data in `relation`, read and checked: the
/// interface's checks ([`postgresql_client::Answer::read`]: the credentials
/// from `secret-user` and TLS from `secret-tls` when the backend put them
/// there, plainly otherwise), then the charm's own, stricter ones (a user
/// named as PostgreSQL's charms name them, a database name PgBouncer's
/// config can hold, a CA that reads as one, an endpoint to connect to).
pub fn state_in(model: &Model, relation: &Relation) -> Result<BackendState, ModelError> {
    let answer = match Answer::read(model, relation)? {
        Received::Ready(answer) => answer,
        Received::Invalid(e) => {
            return Ok(BackendState::Refused(format!("the backend's answer: {e}")));
        }
        _ => return Ok(BackendState::NotReady),
    };
    let Some(credentials) = answer.credentials else {
        return Ok(BackendState::NotReady);
    };
    let username = match BackendUser::parse(&credentials.username) {
        Ok(username) => username,
        Err(e) => return Ok(BackendState::Refused(e.to_string())),
    };
    let database = answer.database.unwrap_or_else(|| DATABASE.to_string());
    if !is_backend_database(&database) {
        return Ok(BackendState::Refused(format!(
            "backend database name ({} bytes) must match [A-Za-z0-9_-]{{1,63}}",
            database.len()
        )));
    }
    let read_only = answer
        .read_only_endpoints
        .first()
        .map(|e| (e.host.clone(), e.port));
    let tls_on = answer.tls.as_ref().is_some_and(|t| t.enabled);
    let tls_ca = match answer.tls.and_then(|t| t.ca).filter(|_| tls_on) {
        Some(ca) => match crate::backend_tls::check_ca(&ca) {
            Ok(()) => Some(ca),
            Err(e) => return Ok(BackendState::Refused(e.to_string())),
        },
        None => None,
    };
    let endpoints: Vec<String> = answer.endpoints.iter().map(ToString::to_string).collect();
    let info = BackendInfo {
        endpoints: endpoints.join(","),
        username,
        password: credentials.password,
        database,
        read_only,
        tls_ca,
    };
    if info.access().is_err() {
        return Ok(BackendState::Refused(
            "backend endpoints are not host:port".to_string(),
        ));
    }
    Ok(BackendState::Ready(info))
}

/// A database name the backend may give: `[A-Za-z0-9_-]{1,63}` (it becomes
/// a connection parameter, and is shown nowhere).
fn is_backend_database(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= crate::names::MAX_IDENTIFIER
        && name
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || c == b'_' || c == b'-')
}

impl BackendState {
    /// The connection data, if the backend is ready.
    pub fn info(self) -> Option<BackendInfo> {
        match self {
            BackendState::Ready(info) => Some(info),
            _ => None,
        }
    }
}
