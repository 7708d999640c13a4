//! The `backend-database` relation: the PostgreSQL that PgBouncer pools
//! connections to.

use std::fmt;

use ops::model::{ModelError, Relation};
use ops::{Model, Outcome};

use crate::auth::{self, AuthFile};
use crate::peers::{self, AUTH_FILE, CFG_FILE};
use crate::pgb_config::{self, PgbConfig};
use crate::sql::{BackendAccess, SqlError};
use crate::workload::{CONTAINER, Workload, WorkloadError};

/// The backend relation's endpoint.
pub const BACKEND: &str = "backend-database";
/// The database the charm asks the backend for.
pub const DATABASE: &str = "pgbouncer";
/// The extra roles the charm asks for its backend user.
pub const EXTRA_USER_ROLES: &str = "SUPERUSER";

/// What the backend's app databag gives, once it is ready.
#[derive(Clone, PartialEq, Eq)]
pub struct BackendInfo {
    /// `endpoints`: `host:port[,host:port...]`.
    pub endpoints: String,
    /// `username`: the user the backend created for this charm.
    pub username: String,
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
    pub fn auth_user(&self) -> Result<String, SqlError> {
        let user = crate::names::BackendUser::parse(&self.username)?;
        Ok(auth::auth_user_for(&user))
    }

    /// How to reach the backend as the charm's user.
    pub fn access(&self) -> Result<BackendAccess, SqlError> {
        BackendAccess::new(&self.endpoints, &self.username, &self.password)
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

/// The backend's connection data in `relation`, if its app databag has all of it.
pub fn info_in(model: &Model, relation: &Relation) -> Result<Option<BackendInfo>, ModelError> {
    if relation.app.is_none() {
        return Ok(None);
    }
    let bag = model.remote_app_data(relation)?.get_all()?;
    let field = |key: &str| bag.get(key).filter(|v| !v.is_empty()).cloned();
    match (field("endpoints"), field("username"), field("password")) {
        (Some(endpoints), Some(username), Some(password)) => Ok(Some(BackendInfo {
            endpoints,
            username,
            password,
            database: field("database").unwrap_or_else(|| DATABASE.to_string()),
        })),
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
fn request_database(model: &Model) -> Result<(), ModelError> {
    if let Some(relation) = model.relation(BACKEND)? {
        let bag = model.local_app_data(&relation);
        bag.set("database", DATABASE)?;
        bag.set("extra-user-roles", EXTRA_USER_ROLES)?;
    }
    Ok(())
}

/// `backend-database` relation-changed: once the backend is ready, the
/// leader creates the auth user (role, password, `get_auth` in every
/// database PgBouncer serves), writes the auth file, points the config's
/// `auth_query` at it, renders both and shares them with the followers.
pub fn on_changed(model: &Model, instances: usize) -> Result<Outcome, BackendDbError> {
    if !model.is_leader()? {
        return Ok(Outcome::Done);
    }
    request_database(model)?;
    let Some(backend) = info(model)? else {
        return Ok(Outcome::Done);
    };
    let container = model.container(CONTAINER)?;
    let workload = Workload::new(&container, instances);
    let Some(mut config) = workload.current_config()? else {
        return Ok(Outcome::Defer);
    };
    let auth_user = backend.auth_user()?;
    let auth = match workload.read_auth_file()? {
        Some(existing) if existing.contains_user(&auth_user) => existing,
        _ => {
            let password = auth::generate_password().map_err(|e| WorkloadError::InvalidFile {
                path: pgb_config::AUTH_FILE_PATH.to_string(),
                reason: format!("cannot generate a password: {e}"),
            })?;
            let mut auth = AuthFile::default();
            auth.set_user(&auth_user, &password)
                .map_err(|e| WorkloadError::InvalidFile {
                    path: pgb_config::AUTH_FILE_PATH.to_string(),
                    reason: e.to_string(),
                })?;
            auth
        }
    };
    let hash = auth.hash_of(&auth_user).unwrap_or_default().to_string();
    let access = backend.access()?;
    let mut db = access.connect(&backend.database)?;
    db.ensure_login_role(&auth_user, &hash)?;
    db.install_get_auth(&auth_user)?;
    for (name, params) in config.databases() {
        let dbname = params
            .iter()
            .find(|(k, _)| k == "dbname")
            .map(|(_, v)| v.clone())
            .unwrap_or(name);
        access.connect(&dbname)?.install_get_auth(&auth_user)?;
    }
    config
        .set_auth(&auth_user)
        .map_err(|e| WorkloadError::InvalidFile {
            path: pgb_config::INI_PATH.to_string(),
            reason: e.to_string(),
        })?;
    let mut changed = workload.write_auth_file(&auth)?;
    changed |= workload.write_config(&config)?;
    workload.apply(changed)?;
    share(model, &config, Some(&auth));
    Ok(Outcome::Done)
}

/// Puts the config (and auth file) in the peer app databag.
pub fn share(model: &Model, config: &PgbConfig, auth: Option<&AuthFile>) {
    let Ok(Some(peers)) = peers::relation(model) else {
        return;
    };
    let bag = model.local_app_data(&peers);
    let result = bag
        .set(CFG_FILE, &config.render())
        .and_then(|()| match auth {
            Some(auth) => bag.set(AUTH_FILE, &auth.render()),
            None => bag.remove(AUTH_FILE),
        });
    if let Err(e) = result {
        tracing::warn!("cannot share the config with the followers: {e}");
    }
}

/// `backend-database` relation-broken: the auth user and its functions go
/// (when the backend still answers), and the config loses its backend entries.
pub fn on_broken(
    model: &Model,
    relation_id: u32,
    instances: usize,
) -> Result<Outcome, BackendDbError> {
    if !model.is_leader()? {
        return Ok(Outcome::Done);
    }
    let container = model.container(CONTAINER)?;
    if !container.can_connect() {
        return Ok(Outcome::Defer);
    }
    let workload = Workload::new(&container, instances);
    let Some(mut config) = workload.read_config()? else {
        return Ok(Outcome::Done);
    };
    let backend = match model.relation_by_id(BACKEND, relation_id)? {
        Some(relation) => info_in(model, &relation)?,
        None => None,
    };
    if let Some(backend) = backend
        && let Err(e) = remove_auth_user(&backend, &config)
    {
        tracing::warn!("could not remove the auth user from the backend: {e}");
    }
    config.clear_auth();
    for (name, _) in config.databases() {
        config.remove_database(&name);
    }
    let changed = workload.write_config(&config)?;
    workload.apply(changed)?;
    share(model, &config, None);
    Ok(Outcome::Done)
}

fn remove_auth_user(backend: &BackendInfo, config: &PgbConfig) -> Result<(), SqlError> {
    let auth_user = backend.auth_user()?;
    let access = backend.access()?;
    for (name, params) in config.databases() {
        let dbname = params
            .iter()
            .find(|(k, _)| k == "dbname")
            .map(|(_, v)| v.clone())
            .unwrap_or(name);
        let mut db = access.connect(&dbname)?;
        db.remove_get_auth(&auth_user)?;
        db.disown(&auth_user)?;
    }
    let mut db = access.connect(&backend.database)?;
    db.remove_get_auth(&auth_user)?;
    db.disown(&auth_user)?;
    db.drop_role(&auth_user)
}
