//! The `backend-database` relation's handlers: the PostgreSQL that
//! PgBouncer pools connections to. What the relation gives is read in
//! [`crate::backend_info`]; serving the clients once the backend is ready
//! is [`crate::client`]'s, which the charm calls next (relation modules
//! call down, never each other).

use ops::model::{ModelError, Relation};
use ops::{Model, Outcome};
use postgresql_client::DatabaseRequest;

use crate::auth::{self, AuthFile};
use crate::backend_info::{BACKEND, BackendInfo, BackendState, DATABASE, EXTRA_USER_ROLES};
use crate::error::StepError;
use crate::memory::Memory;
use crate::peers;
use crate::pgb_config::{self, PgbConfig};
use crate::serve;
use crate::situation::Situation;
use crate::sql::SqlError;
use crate::workload::{Workload, WorkloadError};

/// Where [`on_changed`] left things.
pub enum BackendStep {
    /// Finished (or nothing to do on this unit).
    Done(Outcome),
    /// The auth user is in place and the auth file is the application's:
    /// the clients are to be served from this backend next.
    Ready(Box<Ready>),
}

/// A backend ready to serve the clients from.
pub struct Ready {
    /// The backend's connection data.
    pub backend: BackendInfo,
    /// The peer relation.
    pub peers: Relation,
}

/// Asks the backend for the charm's database (leader: app databag, and
/// its own unit databag), as data_platform_libs' `DatabaseRequires` asks:
/// with the library's `requested-secrets`, so that the backend's
/// credentials and TLS come in Juju secrets ([`postgresql_client`]).
fn request_database(model: &Model, relation: &Relation) -> Result<(), ModelError> {
    DatabaseRequest::new(DATABASE)
        .with_extra_user_roles(EXTRA_USER_ROLES)
        .write(model, relation)
}

/// Leader (not leaving): asks the backend for the charm's database, which
/// needs nothing of the workload (done even while Pebble is down).
pub fn ask(model: &Model, memory: &Memory, situation: &Situation) -> Result<(), ModelError> {
    if memory.departing || !situation.leader {
        return Ok(());
    }
    match model.relation(BACKEND)? {
        Some(relation) => request_database(model, &relation),
        None => Ok(()),
    }
}

/// `backend-database` relation-changed, on the leader: ask for the
/// database; once the backend is ready, create the auth user (role,
/// password, `get_auth` with the application's clients role) — keeping the
/// auth user's password from the auth file the application already has —
/// and make the auth file the application's. [`BackendStep::Ready`] then
/// says the clients are to be served.
pub fn on_changed(
    model: &Model,
    memory: &mut Memory,
    situation: &Situation,
    workload: &Workload,
) -> Result<BackendStep, StepError> {
    let done = |outcome| Ok(BackendStep::Done(outcome));
    if memory.departing || !situation.leader {
        return done(Outcome::Done);
    }
    let Some(relation) = model.relation(BACKEND)? else {
        return done(Outcome::Done);
    };
    request_database(model, &relation)?;
    memory.auth_user_cleanup = None;
    let backend = match memory.backend_state(model, &relation)? {
        BackendState::Ready(backend) => backend,
        BackendState::NotReady => return done(Outcome::Done),
        BackendState::Refused(reason) => {
            tracing::warn!("not using the backend database: {reason}");
            return done(Outcome::Done);
        }
    };
    let Some(settings) = situation.settings.settings.clone() else {
        return done(Outcome::Done);
    };
    let files = serve::leader_files(model, memory, workload, &settings)?;
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
    let Some(peers) = situation.peers.clone() else {
        // No peer relation (yet): nowhere to keep the application's
        // secret or records; the files only.
        memory.pending = memory.pending.max(workload.write_auth_file(&auth)?);
        serve::leader(model, memory, workload)?;
        return done(Outcome::Done);
    };
    let marker = peers::clients_role(model, &peers)?;
    db.ensure_clients_role(&marker)?;
    db.install_get_auth(&auth_user, &marker)?;
    // The auth file is the application's (its secret) before the files
    // are rendered: the config points its auth_query at the auth user
    // only once the auth file has it.
    memory.credentials(model, &peers)?.auth_file = Some(auth.render());
    memory.pending = memory.pending.max(workload.write_auth_file(&auth)?);
    Ok(BackendStep::Ready(Box::new(Ready { backend, peers })))
}

/// `backend-database` relation-broken, on the leader (not on a unit that is
/// itself leaving): the auth user goes (when the backend still answers), and
/// PgBouncer serves nothing until a new backend comes. The client records
/// stay: their users are put back in the next backend.
pub fn on_broken(
    model: &Model,
    memory: &mut Memory,
    situation: &Situation,
    relation_id: u32,
    workload: &Workload,
) -> Result<Outcome, StepError> {
    if memory.departing || !situation.leader {
        return Ok(Outcome::Done);
    }
    if !situation.pebble_up {
        return Ok(Outcome::Defer);
    }
    let backend = match model.relation_by_id(BACKEND, relation_id)? {
        Some(relation) => memory.backend_info_in(model, &relation)?,
        None => None,
    };
    // Done at relation-departed when the backend still answered; tried
    // again here when it did not.
    if let Some(backend) = backend {
        let config = workload.read_config().ok().flatten();
        match remove_auth_user(&backend, config.as_ref()) {
            Ok(()) => memory.auth_user_cleanup = None,
            // Only a failure at relation-departed too is one to show: once
            // removed there, the backend may well have dropped our user.
            Err(e) if memory.auth_user_cleanup.is_some() => {
                tracing::warn!("could not remove the auth user from the backend: {e}");
                memory.auth_user_cleanup = Some(e.to_string());
            }
            Err(e) => tracing::debug!("auth user cleanup at relation-broken: {e}"),
        }
    }
    serve::drop_backend(model, memory, workload)?;
    Ok(Outcome::Done)
}

/// `backend-database` relation-departed, on the leader (not on a unit that
/// is itself leaving): when the last backend unit went, the relation is
/// being removed, and the backend may drop the user the charm connects as
/// right after: the auth user goes now, while that user can still do it.
/// A failure is kept for the status (and tried again at relation-broken).
pub fn on_departed(
    model: &Model,
    memory: &mut Memory,
    situation: &Situation,
    relation_id: u32,
    workload: &Workload,
) -> Result<(), StepError> {
    if memory.departing || !situation.leader {
        return Ok(());
    }
    let Some(relation) = model.relation_by_id(BACKEND, relation_id)? else {
        return Ok(());
    };
    if !relation.units.is_empty() {
        return Ok(());
    }
    let Some(backend) = memory.backend_info_in(model, &relation)? else {
        return Ok(());
    };
    let config = if situation.pebble_up {
        workload.read_config().ok().flatten()
    } else {
        None
    };
    match remove_auth_user(&backend, config.as_ref()) {
        Ok(()) => {
            tracing::info!("removed the auth user from the departing backend");
            memory.auth_user_cleanup = None;
        }
        Err(e) => {
            tracing::warn!("could not remove the auth user from the backend: {e}");
            memory.auth_user_cleanup = Some(e.to_string());
        }
    }
    Ok(())
}

fn remove_auth_user(backend: &BackendInfo, config: Option<&PgbConfig>) -> Result<(), SqlError> {
    let auth_user = backend.auth_user();
    let access = backend.access()?;
    for (name, params) in config.map(PgbConfig::databases).unwrap_or_default() {
        let dbname = params.get("dbname").unwrap_or(&name).to_string();
        let mut db = access.connect(&dbname)?;
        db.remove_get_auth(&auth_user)?;
    }
    let mut db = access.connect(&backend.database)?;
    db.remove_get_auth(&auth_user)?;
    access.drop_role_everywhere(&backend.database, &auth_user, backend.username.as_str())?;
    // The marker role older revisions derived from the auth user.
    db.drop_role(&crate::sql::clients_role_for(&auth_user))
}
