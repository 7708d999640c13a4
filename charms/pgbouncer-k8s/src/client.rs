//! The `database` relation: client applications that connect through PgBouncer.
//!
//! Everything a client writes in its app databag is outside input: its
//! `database` is checked before it reaches SQL or `pgbouncer.ini`, and a
//! refused request blocks only that relation. What the charm gave a client
//! is recorded by the application: its user's password in the application's
//! secret ([`crate::credentials`]), its database in the peer app databag
//! (`client_db_<id>`), so the user is revoked when the relation goes even
//! though the client's databag is gone by then.
//!
//! Tenants: a client is served a database only if this application created
//! it for one of its own client relations (a `client_db_<id>` record) or
//! creates it now; a database that exists in the backend and is not this
//! application's is refused before anything in the backend changes.

use std::collections::BTreeSet;

use ops::model::{ModelError, Relation};
use ops::{Model, Outcome};
use postgresql_client::{DatabaseRequest, Received};

use crate::answers::{self, Grant, secret_label};
use crate::auth;
use crate::backend_info::BackendInfo;
use crate::error::StepError;
use crate::memory::Memory;
use crate::names::{ClientDatabase, ExtraUserRoles};
use crate::peers;
use crate::serve;
use crate::situation::Situation;
use crate::sql::{self, SqlError};
use crate::workload::{CONTAINER, Workload, WorkloadError};

pub use crate::answers::CLIENT;
/// What a client asked for, checked.
struct Request {
    database: ClientDatabase,
    extra_roles: ExtraUserRoles,
}

/// The client's request: `None` until it asked for a database; the reason
/// (shown in the unit status, never quoting the value) if it is refused.
/// The interface's checks first ([`DatabaseRequest::read`]: one-line values
/// of bounded length, a readable `requested-secrets`), then the charm's
/// stricter ones: a database name PgBouncer's config and SQL can hold
/// ([`ClientDatabase`]), only roles the charm grants ([`ExtraUserRoles`]).
fn read_request(
    model: &Model,
    relation: &Relation,
) -> Result<Option<Result<Request, String>>, ModelError> {
    let request = match DatabaseRequest::read(model, relation)? {
        Received::Ready(request) => request,
        Received::Invalid(e) => return Ok(Some(Err(e.to_string()))),
        _ => return Ok(None),
    };
    let database = match ClientDatabase::parse(&request.database) {
        Ok(database) => database,
        Err(e) => return Ok(Some(Err(e.to_string()))),
    };
    let roles = request.extra_user_roles.unwrap_or_default();
    let extra_roles = match ExtraUserRoles::parse(&roles) {
        Ok(roles) => roles,
        Err(e) => return Ok(Some(Err(e.to_string()))),
    };
    Ok(Some(Ok(Request {
        database,
        extra_roles,
    })))
}

/// `database` relation-changed, on the leader: once the client asked for a
/// valid database and the backend is ready, record the grant, create the
/// client's user and database (or share the database with the other
/// relations of this application using it), serve it through PgBouncer,
/// and answer the client. Before the backend is ready there is nothing to
/// wait for here: the backend's own relation-changed serves every client
/// that asked ([`serve_requests`]). Pebble is not needed to provision:
/// while it is down the files are rendered at pebble-ready, from the records.
pub fn on_changed(
    model: &Model,
    memory: &mut Memory,
    situation: &Situation,
    relation_id: u32,
    workload: &Workload,
) -> Result<Outcome, StepError> {
    if memory.departing || !situation.leader {
        return Ok(Outcome::Done);
    }
    answers::update_connection_info(model, memory, situation)?;
    let Some(relation) = model.relation_by_id(CLIENT, relation_id)? else {
        return Ok(Outcome::Done);
    };
    let (Some(backend), Some(peers)) = (memory.backend_info(model)?, situation.peers.clone())
    else {
        tracing::info!(
            "{CLIENT} relation {relation_id} is served once the backend database is ready"
        );
        return Ok(Outcome::Done);
    };
    let Some(provisioned) = provision_request(model, memory, &peers, &backend, &relation)? else {
        return Ok(Outcome::Done);
    };
    if situation.pebble_up {
        serve::leader(model, memory, workload)?;
    } else {
        tracing::info!(
            "Pebble in {CONTAINER} is not ready: the files are rendered at pebble-ready"
        );
    }
    let info = answers::current_connection_info(model, memory)?;
    answers::answer(
        model,
        &relation,
        &info,
        Some(&provisioned.grant),
        Some(&provisioned.version),
    )?;
    Ok(Outcome::Done)
}

/// A client relation given its user and database.
struct Provisioned {
    grant: Grant,
    version: String,
}

/// Why a client's database is refused: it exists and this application did
/// not make it for one of its client relations.
pub const FOREIGN_DATABASE: &str =
    "the database it asks for exists in the backend and was not created by this application";

/// Checks a client relation's request and, if it is valid, creates its user
/// and database in the backend and records them. `None` when there is no
/// request yet, or it was refused (the reason is kept for the status).
fn provision_request(
    model: &Model,
    memory: &mut Memory,
    peers: &Relation,
    backend: &BackendInfo,
    relation: &Relation,
) -> Result<Option<Provisioned>, StepError> {
    let relation_id = relation.id.id;
    let request = match read_request(model, relation)? {
        None => return Ok(None),
        Some(Err(reason)) => {
            tracing::warn!("refusing the request of {CLIENT} relation {relation_id}: {reason}");
            memory.refused_clients.insert(relation_id, reason);
            return Ok(None);
        }
        Some(Ok(request)) => request,
    };
    memory.refused_clients.remove(&relation_id);
    let database = &request.database;
    let records = peers::client_records(model, peers)?;
    if let Some(previous) = records.get(&relation_id)
        && previous != database.as_str()
    {
        // A client that changes its database keeps its first one: moving a
        // tenant's data is not something to do behind its back.
        tracing::warn!(
            "{CLIENT} relation {relation_id} asked for another database; keeping the one it was given"
        );
        return Ok(None);
    }
    let user = peers::client_user(relation_id);
    let marker = peers::clients_role(model, peers)?;
    let access = backend.access()?;
    let mut db = access.connect(&backend.database)?;
    // Tenants first, before anything in the backend changes: a database
    // that exists is served only if this application made it for one of
    // its client relations (recorded), or made it for this very relation
    // in a hook that did not live to record it (owned by its user).
    let ours = records.values().any(|d| d == database.as_str());
    match db.database_owner(database)? {
        Some(owner) if !ours && owner != user => {
            tracing::warn!("refusing {CLIENT} relation {relation_id}: {FOREIGN_DATABASE}");
            memory
                .refused_clients
                .insert(relation_id, FOREIGN_DATABASE.to_string());
            return Ok(None);
        }
        _ => {}
    }
    // The password is recorded before the user exists, so a user that was
    // created is never forgotten; the database record (which makes the
    // grant visible to the client and to PgBouncer) only once it is set up.
    let grant = Grant {
        user,
        password: ensure_password(model, memory, peers, relation_id)?,
        database: database.as_str().to_string(),
    };
    let legacy_marker = sql::clients_role_for(&backend.auth_user());
    db.adopt_user(&grant.user, &legacy_marker, &marker)?;
    let version = match provision(backend, &mut db, &grant, &request.extra_roles, &marker) {
        Err(StepError::Sql(e @ SqlError::ForeignRole { .. })) => {
            // Not a failure to retry: the name is taken by a role that is
            // not ours (a backend in another model naming its users as we
            // do). Its password record goes: it never was this role's.
            tracing::warn!("refusing {CLIENT} relation {relation_id}: {e}");
            memory
                .credentials(model, peers)?
                .client_passwords
                .remove(&relation_id);
            memory.save_credentials(model, peers)?;
            memory.refused_clients.insert(relation_id, e.to_string());
            return Ok(None);
        }
        result => result?,
    };
    model
        .local_app_data(peers)
        .set(&peers::client_database_key(relation_id), &grant.database)?;
    Ok(Some(Provisioned { grant, version }))
}

/// Gives every client relation that asked its user and database (after the
/// backend became ready, or changed), then answers them all. The caller
/// renders and serves the files.
pub fn serve_requests(
    model: &Model,
    memory: &mut Memory,
    peers: &Relation,
    backend: &BackendInfo,
) -> Result<Vec<(Relation, String)>, StepError> {
    let mut versions = Vec::new();
    for relation in model.relations(CLIENT)? {
        if let Some(provisioned) = provision_request(model, memory, peers, backend, &relation)? {
            versions.push((relation, provisioned.version));
        }
    }
    Ok(versions)
}

/// Leader, once the backend is ready ([`crate::backend_db::BackendStep::Ready`]):
/// revokes the users of client relations that went, gives every client
/// that asked its user and database (put back, or made for the first
/// time), renders and serves the files, and answers every client.
pub fn serve_all(
    model: &Model,
    memory: &mut Memory,
    situation: &Situation,
    peers: &Relation,
    backend: &BackendInfo,
    workload: &Workload,
) -> Result<(), StepError> {
    revoke_departed(model, memory, peers, backend)?;
    let provisioned = serve_requests(model, memory, peers, backend)?;
    serve::leader(model, memory, workload)?;
    answers::update_connection_info(model, memory, situation)?;
    answers::answer_provisioned(model, memory, peers, &provisioned)
}

/// The password of client relation `relation_id`'s user, made and kept in
/// the application's secret the first time.
fn ensure_password(
    model: &Model,
    memory: &mut Memory,
    peers: &Relation,
    relation_id: u32,
) -> Result<String, StepError> {
    let credentials = memory.credentials(model, peers)?;
    if let Some(password) = credentials.client_passwords.get(&relation_id) {
        return Ok(password.clone());
    }
    let password = auth::generate_password().map_err(|e| WorkloadError::InvalidFile {
        path: crate::credentials::client_key(relation_id),
        reason: format!("cannot generate a password: {e}"),
    })?;
    credentials
        .client_passwords
        .insert(relation_id, password.clone());
    memory.save_credentials(model, peers)?;
    Ok(password)
}

/// Creates the grant's user and database in the backend (idempotent), and
/// lets PgBouncer's auth user look the user up there. Returns the server version.
fn provision(
    backend: &BackendInfo,
    db: &mut sql::Backend,
    grant: &Grant,
    extra_roles: &ExtraUserRoles,
    marker: &str,
) -> Result<String, StepError> {
    let database =
        ClientDatabase::parse(&grant.database).map_err(|e| WorkloadError::InvalidFile {
            path: "client database record".to_string(),
            reason: e.to_string(),
        })?;
    let auth_user = backend.auth_user();
    db.ensure_user(&grant.user, &grant.password, marker)?;
    db.set_extra_roles(&grant.user, extra_roles)?;
    db.ensure_database(&database, &grant.user)?;
    db.grant_database(&database, &grant.user)?;
    let version = db.version()?;
    let mut client_db = backend.access()?.connect(database.as_str())?;
    client_db.install_get_auth(&auth_user, marker)?;
    client_db.grant_public_schema(&grant.user)?;
    Ok(version)
}

/// Revokes the users of client relations that are gone (their records
/// stayed for this: no backend could be reached then, or the revocation
/// failed), and forgets them. Each failure is kept for the status
/// ([`Memory::unrevoked`]) and retried at the next call (update-status).
pub fn revoke_departed(
    model: &Model,
    memory: &mut Memory,
    peers: &Relation,
    backend: &BackendInfo,
) -> Result<(), StepError> {
    let live: BTreeSet<u32> = model.relations(CLIENT)?.iter().map(|r| r.id.id).collect();
    let records = peers::client_records(model, peers)?;
    let departed: Vec<u32> = memory
        .credentials(model, peers)?
        .client_passwords
        .keys()
        .copied()
        .filter(|id| !live.contains(id))
        .collect();
    let marker = peers::clients_role(model, peers)?;
    for id in departed {
        let user = peers::client_user(id);
        let database = records.get(&id).map(String::as_str);
        let sharers: Vec<String> = records
            .iter()
            .filter(|(other, db)| **other != id && Some(db.as_str()) == database)
            .map(|(other, _)| peers::client_user(*other))
            .collect();
        if let Err(e) = revoke(backend, &marker, &user, sharers.first()) {
            tracing::warn!("could not revoke the user of {CLIENT} relation {id}; will retry: {e}");
            memory.unrevoked.insert(id, e.to_string());
            continue;
        }
        forget(model, memory, peers, id)?;
        tracing::info!("revoked the user of the departed {CLIENT} relation {id}");
    }
    Ok(())
}

/// Forgets a client relation whose user is revoked: its password, its
/// database record, its user secret.
fn forget(
    model: &Model,
    memory: &mut Memory,
    peers: &Relation,
    relation_id: u32,
) -> Result<(), StepError> {
    memory.unrevoked.remove(&relation_id);
    model
        .local_app_data(peers)
        .remove(&peers::client_database_key(relation_id))?;
    memory
        .credentials(model, peers)?
        .client_passwords
        .remove(&relation_id);
    memory.save_credentials(model, peers)?;
    if let Ok(secret) = model.get_secret(None, Some(&secret_label(relation_id)))
        && let Err(e) = secret.remove_all_revisions()
    {
        tracing::debug!("no user secret to remove for {CLIENT} relation {relation_id}: {e}");
    }
    Ok(())
}

/// `database` relation-broken, on the leader (and not on a unit that is
/// itself leaving, for which the relation is not going away): revoke the
/// client's user, stop serving its database when no other relation uses it,
/// and forget the records. A revocation that fails keeps the records and is
/// shown in the status; update-status retries it ([`revoke_departed`]): it
/// is never a deferred event that runs its SQL again at every hook.
pub fn on_broken(
    model: &Model,
    memory: &mut Memory,
    situation: &Situation,
    relation_id: u32,
    workload: &Workload,
) -> Result<Outcome, StepError> {
    memory.refused_clients.remove(&relation_id);
    if memory.departing || !situation.leader {
        return Ok(Outcome::Done);
    }
    let Some(peers) = situation.peers.clone() else {
        return Ok(Outcome::Done);
    };
    if !memory
        .credentials(model, &peers)?
        .client_passwords
        .contains_key(&relation_id)
    {
        // Never given a user: nothing to take back.
        return Ok(Outcome::Done);
    }
    let records = peers::client_records(model, &peers)?;
    let database = records.get(&relation_id).cloned();
    let sharers: Vec<String> = records
        .iter()
        .filter(|(id, db)| **id != relation_id && Some(*db) == database.as_ref())
        .map(|(id, _)| peers::client_user(*id))
        .collect();
    match memory.backend_info(model)? {
        Some(backend) => revoke_departed(model, memory, &peers, &backend)?,
        None => {
            // Kept: the user is revoked when a backend is related again.
            tracing::warn!(
                "no backend database to revoke the user of {CLIENT} relation {relation_id} in \
                 yet; it is revoked once there is one"
            );
        }
    }
    finish_broken(model, memory, situation, workload, database, &sharers)
}

/// Stops serving a departed client's database when no other relation uses it.
fn finish_broken(
    model: &Model,
    memory: &mut Memory,
    situation: &Situation,
    workload: &Workload,
    database: Option<String>,
    sharers: &[String],
) -> Result<Outcome, StepError> {
    if !situation.pebble_up {
        // The relation is gone: the next render leaves the entry out.
        return Ok(Outcome::Done);
    }
    if let Some(database) = database
        && sharers.is_empty()
    {
        serve::drop_database(model, memory, workload, &database)?;
    }
    Ok(Outcome::Done)
}

/// Takes a client user's login away, hands what it owns to `heir` (another
/// user of the database, or the charm's backend user), and drops it.
fn revoke(
    backend: &BackendInfo,
    marker: &str,
    user: &str,
    heir: Option<&String>,
) -> Result<(), SqlError> {
    let access = backend.access()?;
    let mut db = access.connect(&backend.database)?;
    if !db.is_client_user(user, marker)?
        && !db.is_client_user(user, &sql::clients_role_for(&backend.auth_user()))?
    {
        // Gone already, or never ours (a name taken by another role): not
        // this charm's to take away.
        return Ok(());
    }
    db.deactivate_role(user)?;
    let heir = heir
        .map(String::as_str)
        .unwrap_or(backend.username.as_str());
    // Every database the user left something in is found by the backend
    // itself (the client's recorded one included).
    access.drop_role_everywhere(&backend.database, user, heir)
}
