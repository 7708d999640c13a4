//! The `backend-database` relation: the PostgreSQL that PgBouncer pools
//! connections to.

use std::fmt;

use ops::model::ModelError;
use ops::{HandlerResult, Model, Outcome};

use crate::auth::{self, AuthFile};
use crate::peers::{self, AUTH_FILE, CFG_FILE};
use crate::pgb_config::{self, PgbConfig};
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
}

impl fmt::Debug for BackendInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BackendInfo")
            .field("endpoints", &self.endpoints)
            .field("username", &self.username)
            .field("password", &"<redacted>")
            .finish()
    }
}

impl BackendInfo {
    /// The auth user PgBouncer queries the backend as.
    pub fn auth_user(&self) -> String {
        auth::auth_user_for(&self.username)
    }
}

/// The backend's connection data, if its app databag has all of it.
pub fn info(model: &Model) -> Result<Option<BackendInfo>, ModelError> {
    let Some(relation) = model.relation(BACKEND)? else {
        return Ok(None);
    };
    if relation.app.is_none() {
        return Ok(None);
    }
    let bag = model.remote_app_data(&relation)?;
    let field = |key: &str| -> Result<Option<String>, ModelError> {
        Ok(bag.get(key)?.filter(|v| !v.is_empty()))
    };
    match (field("endpoints")?, field("username")?, field("password")?) {
        (Some(endpoints), Some(username), Some(password)) => Ok(Some(BackendInfo {
            endpoints,
            username,
            password,
        })),
        _ => Ok(None),
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

/// `backend-database` relation-changed: once the backend is ready, the leader
/// creates the auth user's password and auth file, points the config's
/// `auth_query` at it, renders both and shares them with the followers.
pub fn on_changed(model: &Model, instances: usize) -> HandlerResult<Outcome> {
    if !model.is_leader()? {
        return Ok(Outcome::Done);
    }
    request_database(model)?;
    let Some(backend) = info(model)? else {
        return Ok(Outcome::Done);
    };
    let container = model.container(CONTAINER)?;
    if !container.can_connect() {
        return Ok(Outcome::Defer);
    }
    let workload = Workload::new(&container, instances);
    match install_auth(model, &workload, &backend) {
        Ok(true) => Ok(Outcome::Done),
        Ok(false) => Ok(Outcome::Defer),
        Err(e) => {
            tracing::warn!("deferring: {e}");
            Ok(Outcome::Defer)
        }
    }
}

/// Writes the auth file and the config's auth settings; false if the config
/// is not there yet.
fn install_auth(
    model: &Model,
    workload: &Workload,
    backend: &BackendInfo,
) -> Result<bool, WorkloadError> {
    let Some(mut config) = workload.read_config()? else {
        return Ok(false);
    };
    let auth_user = backend.auth_user();
    let auth = match workload.read_auth_file()? {
        Some(existing) if existing.contains_user(&auth_user) && config.has_auth_query() => existing,
        _ => {
            let password = auth::generate_password().map_err(|e| WorkloadError::InvalidFile {
                path: pgb_config::AUTH_FILE_PATH.to_string(),
                reason: e.to_string(),
            })?;
            let mut auth = AuthFile::default();
            auth.set_user(&auth_user, &password);
            auth
        }
    };
    config.set_auth(&auth_user);
    let mut changed = workload.write_auth_file(&auth)?;
    changed |= workload.write_config(&config)?;
    workload.apply(changed)?;
    share(model, &config, Some(&auth));
    Ok(true)
}

/// Puts the config (and auth file) in the peer app databag.
fn share(model: &Model, config: &PgbConfig, auth: Option<&AuthFile>) {
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

/// `backend-database` relation-broken: the config loses its auth settings.
pub fn on_broken(model: &Model, instances: usize) -> HandlerResult<Outcome> {
    if !model.is_leader()? {
        return Ok(Outcome::Done);
    }
    let container = model.container(CONTAINER)?;
    if !container.can_connect() {
        return Ok(Outcome::Defer);
    }
    let workload = Workload::new(&container, instances);
    let result = (|| -> Result<(), WorkloadError> {
        if let Some(mut config) = workload.read_config()? {
            config.clear_auth();
            let changed = workload.write_config(&config)?;
            workload.apply(changed)?;
            share(model, &config, None);
        }
        Ok(())
    })();
    match result {
        Ok(()) => Ok(Outcome::Done),
        Err(e) => {
            tracing::warn!("deferring: {e}");
            Ok(Outcome::Defer)
        }
    }
}
