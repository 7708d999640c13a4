//! The `backend-database` relation: the PostgreSQL that PgBouncer pools
//! connections to.

use std::fmt;

use ops::model::{ModelError, Relation};
use ops::{Model, Outcome};

use crate::auth::{self, AuthFile};
use crate::charm::Memory;
use crate::client;
use crate::names::BackendUser;
use crate::peers;
use crate::pgb_config::{self, PgbConfig};
use crate::serve;
use crate::settings::Settings;
use crate::sql::{BackendAccess, SqlError};
use crate::workload::{CONTAINER, Workload, WorkloadError};

/// The backend relation's endpoint ([`meta::BACKEND_DATABASE`](crate::meta::BACKEND_DATABASE)).
pub const BACKEND: &str = crate::meta::BACKEND_DATABASE.name();
/// The database the charm asks the backend for.
pub const DATABASE: &str = "pgbouncer";
/// The extra roles the charm asks for its backend user.
pub const EXTRA_USER_ROLES: &str = "SUPERUSER";

/// What the backend's app databag gives, once it is ready.
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
        BackendAccess::new(&self.endpoints, self.username.as_str(), &self.password)
    }
}

/// Why a backend operation did not finish: the handler waits and defers.
#[derive(Debug, thiserror::Error)]
pub enum BackendDbError {
    /// Juju refused or failed.
    #[error(transparent)]
    Model(#[from] ModelError),
    /// PostgreSQL refused, or could not be reached.
    #[error(transparent)]
    Sql(#[from] SqlError),
    /// Pebble, or a file in the container.
    #[error(transparent)]
    Workload(#[from] WorkloadError),
}

/// What the backend relation's app databag gives.
pub enum BackendState {
    /// Endpoints, username and password, all usable.
    Ready(BackendInfo),
    /// Something is missing: the backend has not answered yet.
    NotReady,
    /// The backend answered with something the charm must not use (the
    /// reason names the field, never its value).
    Refused(String),
}

/// The backend's connection data in `relation`, read and checked.
pub fn state_in(model: &Model, relation: &Relation) -> Result<BackendState, ModelError> {
    if relation.app.is_none() {
        return Ok(BackendState::NotReady);
    }
    let bag = model.remote_app_data(relation)?.get_all()?;
    let field = |key: &str| bag.get(key).filter(|v| !v.is_empty()).cloned();
    let (Some(endpoints), Some(username), Some(password)) =
        (field("endpoints"), field("username"), field("password"))
    else {
        return Ok(BackendState::NotReady);
    };
    let username = match BackendUser::parse(&username) {
        Ok(username) => username,
        Err(e) => return Ok(BackendState::Refused(e.to_string())),
    };
    let database = field("database").unwrap_or_else(|| DATABASE.to_string());
    let info = BackendInfo {
        endpoints,
        username,
        password,
        database,
    };
    if info.access().is_err() {
        return Ok(BackendState::Refused(
            "backend endpoints are not host:port".to_string(),
        ));
    }
    Ok(BackendState::Ready(info))
}

/// The backend's connection data in `relation`, if its app databag has all of it
/// and it is usable.
pub fn info_in(model: &Model, relation: &Relation) -> Result<Option<BackendInfo>, ModelError> {
    match state_in(model, relation)? {
        BackendState::Ready(info) => Ok(Some(info)),
        _ => Ok(None),
    }
}

/// The backend's connection data, if the relation exists and is complete.
pub fn info(model: &Model) -> Result<Option<BackendInfo>, ModelError> {
    match model.relation(BACKEND)? {
        Some(relation) => info_in(model, &relation),
        None => Ok(None),
    }
}

/// "Backend ready": the relation gives endpoints, username and password, the
/// config has `auth_query`, and the auth file exists.
pub fn is_ready(
    model: &Model,
    config: &PgbConfig,
    workload: &Workload,
) -> Result<bool, ModelError> {
    if info(model)?.is_none() || !config.has_auth_query() {
        return Ok(false);
    }
    Ok(matches!(workload.read_auth_file(), Ok(Some(_))))
}

/// Asks the backend for the charm's database (leader, app databag).
fn request_database(model: &Model, relation: &Relation) -> Result<(), ModelError> {
    let bag = model.local_app_data(relation);
    bag.set("database", DATABASE)?;
    bag.set("extra-user-roles", EXTRA_USER_ROLES)
}

/// `backend-database` relation-changed, on the leader: once the backend is
/// ready, create the auth user (role, password, `get_auth` in every database
/// PgBouncer serves) — keeping the auth user's password from the auth file
/// the application already has — put back every recorded client's user and
/// database, then render, write and share the files.
pub fn on_changed(
    model: &Model,
    memory: &mut Memory,
    instances: usize,
) -> Result<Outcome, BackendDbError> {
    if memory.departing || !model.is_leader()? {
        return Ok(Outcome::Done);
    }
    let Some(relation) = model.relation(BACKEND)? else {
        return Ok(Outcome::Done);
    };
    request_database(model, &relation)?;
    let backend = match state_in(model, &relation)? {
        BackendState::Ready(backend) => backend,
        BackendState::NotReady => return Ok(Outcome::Done),
        BackendState::Refused(reason) => {
            tracing::warn!("not using the backend database: {reason}");
            return Ok(Outcome::Done);
        }
    };
    let container = model.container(CONTAINER)?;
    if !container.can_connect() {
        return Ok(Outcome::Defer);
    }
    let workload = Workload::new(&container, instances);
    let settings = Settings::from_model(model)?.unwrap_or_default();
    let files = serve::leader_files(model, &workload, &settings)?;
    let auth_user = backend.auth_user();
    let auth = match files.auth {
        Some(existing) if existing.plain_password(&auth_user).is_some() => existing,
        _ => {
            let password = auth::generate_password().map_err(|e| WorkloadError::InvalidFile {
                path: pgb_config::AUTH_FILE_PATH.to_string(),
                reason: format!("cannot generate a password: {e}"),
            })?;
            let mut auth = AuthFile::default();
            auth.set_plain(&auth_user, &password)
                .map_err(|e| WorkloadError::InvalidFile {
                    path: pgb_config::AUTH_FILE_PATH.to_string(),
                    reason: e.to_string(),
                })?;
            auth
        }
    };
    let password = auth
        .plain_password(&auth_user)
        .unwrap_or_default()
        .to_string();
    let access = backend.access()?;
    let mut db = access.connect(&backend.database)?;
    db.ensure_login_role(&auth_user, &password)?;
    db.ensure_clients_role(&auth_user)?;
    db.install_get_auth(&auth_user)?;
    // The auth file must be in place before the files are rendered: the
    // config points its auth_query at the auth user only once it is.
    memory.pending = memory.pending.max(workload.write_auth_file(&auth)?);
    let Some(peers) = peers::relation(model)? else {
        serve::leader(model, memory, &workload)?;
        return Ok(Outcome::Done);
    };
    client::revoke_departed(model, &peers, &backend)?;
    // Every client that asked, put back or served for the first time.
    let provisioned = client::serve_requests(model, memory, &peers, &backend)?;
    serve::leader(model, memory, &workload)?;
    client::update_connection_info(model, memory)?;
    client::answer_provisioned(model, &peers, &provisioned)?;
    Ok(Outcome::Done)
}

/// `backend-database` relation-broken, on the leader (not on a unit that is
/// itself leaving): the auth user goes (when the backend still answers), and
/// PgBouncer serves nothing until a new backend comes. The client records
/// stay: their users are put back in the next backend.
pub fn on_broken(
    model: &Model,
    memory: &mut Memory,
    relation_id: u32,
    instances: usize,
) -> Result<Outcome, BackendDbError> {
    if memory.departing || !model.is_leader()? {
        return Ok(Outcome::Done);
    }
    let container = model.container(CONTAINER)?;
    if !container.can_connect() {
        return Ok(Outcome::Defer);
    }
    let workload = Workload::new(&container, instances);
    let backend = match model.relation_by_id(BACKEND, relation_id)? {
        Some(relation) => info_in(model, &relation)?,
        None => None,
    };
    if let (Some(backend), Ok(Some(config))) = (backend, workload.read_config())
        && let Err(e) = remove_auth_user(&backend, &config)
    {
        tracing::warn!("could not remove the auth user from the backend: {e}");
    }
    serve::drop_backend(model, memory, &workload)?;
    Ok(Outcome::Done)
}

fn remove_auth_user(backend: &BackendInfo, config: &PgbConfig) -> Result<(), SqlError> {
    let auth_user = backend.auth_user();
    let access = backend.access()?;
    for (name, params) in config.databases() {
        let dbname = params.get("dbname").unwrap_or(&name).to_string();
        let mut db = access.connect(&dbname)?;
        db.remove_get_auth(&auth_user)?;
    }
    let mut db = access.connect(&backend.database)?;
    db.remove_get_auth(&auth_user)?;
    access.drop_role_everywhere(&backend.database, &auth_user, backend.username.as_str())?;
    // The clients' marker role: without an auth user, nothing looks it up.
    db.drop_role(&crate::sql::clients_role_for(&auth_user))
}
