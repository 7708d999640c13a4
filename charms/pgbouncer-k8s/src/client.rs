//! The `database` relation: client applications that connect through PgBouncer.
//!
//! Everything a client writes in its app databag is outside input: its
//! `database` is checked before it reaches SQL or `pgbouncer.ini`, and a
//! refused request blocks only that relation. What the charm gave a client
//! (user, password, database) is recorded in the peer app databag
//! (`relation_id_<id>`, `client_db_<id>`), so the user is revoked when the
//! relation goes even though the client's databag is gone by then.

use std::collections::{BTreeMap, BTreeSet};

use ops::model::{ModelError, Relation, SecretOptions, SecretOwner};
use ops::{Model, Outcome};

use crate::auth;
use crate::backend_db::{self, BackendDbError, BackendInfo};
use crate::charm::Memory;
use crate::names::{ClientDatabase, ExtraUserRoles};
use crate::peers::{self, PEERS};
use crate::serve;
use crate::settings::Settings;
use crate::sql::SqlError;
use crate::workload::{CONTAINER, Workload, WorkloadError};

/// The client relation's endpoint ([`meta::DATABASE`](crate::meta::DATABASE)).
pub const CLIENT: &str = crate::meta::DATABASE.name();
/// Our app databag: where to connect.
pub const ENDPOINTS: &str = "endpoints";
/// Our app databag: the other units, for read-only traffic (`host:port,...`).
pub const READ_ONLY_ENDPOINTS: &str = "read-only-endpoints";
/// Our app databag (or the user secret): `postgresql://` URI of the leader.
pub const URIS: &str = "uris";
/// Our app databag (or the user secret): URIs of the other units, comma-joined.
pub const READ_ONLY_URIS: &str = "read-only-uris";
/// The client's app databag: which fields it wants in a Juju secret (JSON list).
pub const REQUESTED_SECRETS: &str = "requested-secrets";
/// Our app databag: the URI of the secret holding the user's credentials.
pub const SECRET_USER: &str = "secret-user";
/// The fields that go into the user secret when the client asks for secrets.
pub const SECRET_FIELDS: [&str; 4] = ["username", "password", URIS, READ_ONLY_URIS];

/// The label of client relation `id`'s user secret.
pub fn secret_label(id: u32) -> String {
    format!("{CLIENT}.{id}.user.secret")
}

/// Where clients connect: the leader for writes, every other unit for reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectionInfo {
    /// `<leader hostname>:<port>`.
    pub endpoint: String,
    /// The other units' `<hostname>:<port>`, sorted.
    pub read_only: Vec<String>,
}

impl ConnectionInfo {
    /// `endpoints` as the client relation carries it.
    pub fn endpoints(&self) -> String {
        self.endpoint.clone()
    }

    /// `read-only-endpoints`: comma-joined.
    pub fn read_only_endpoints(&self) -> String {
        self.read_only.join(",")
    }

    /// `uris`: `postgresql://<user>:<password>@<host>:<port>/<database>`.
    pub fn uris(&self, user: &str, password: &str, database: &str) -> String {
        uri(user, password, &self.endpoint, database)
    }

    /// `read-only-uris`: one URI per read-only endpoint, comma-joined.
    pub fn read_only_uris(&self, user: &str, password: &str, database: &str) -> String {
        self.read_only
            .iter()
            .map(|host| uri(user, password, host, database))
            .collect::<Vec<_>>()
            .join(",")
    }
}

// Users are `relation_id_<n>`, passwords `[A-Za-z0-9]`, database names
// `[A-Za-z0-9_-]` (checked): nothing in them needs percent-encoding.
fn uri(user: &str, password: &str, host_port: &str, database: &str) -> String {
    format!("postgresql://{user}:{password}@{host_port}/{database}")
}

/// What the leader tells every client: `endpoints` = `<leader hostname>:<port>`,
/// `read-only-endpoints` = the other units' `<hostname>:<port>`, sorted.
pub fn connection_info(
    leader_hostname: &str,
    port: u16,
    peer_hostnames: &[String],
) -> ConnectionInfo {
    let others: BTreeSet<&str> = peer_hostnames
        .iter()
        .map(String::as_str)
        .filter(|h| *h != leader_hostname)
        .collect();
    ConnectionInfo {
        endpoint: format!("{leader_hostname}:{port}"),
        read_only: others.iter().map(|h| format!("{h}:{port}")).collect(),
    }
}

/// This application's connection info, as the leader sees it now.
fn current_connection_info(model: &Model) -> Result<ConnectionInfo, ModelError> {
    let port = Settings::from_model(model)?.unwrap_or_default().listen_port;
    let leader = peers::own_hostname(model);
    let hosts = match model.relation(PEERS)? {
        Some(peers) => peers::peer_hostnames(model, &peers)?,
        None => vec![leader.clone()],
    };
    Ok(connection_info(&leader, port, &hosts))
}

/// The credentials the leader gave a client relation.
struct Grant {
    user: String,
    password: String,
    database: String,
}

/// On the leader, writes the connection info into every client relation
/// (and the URIs of those already given a user). Nothing on a follower or
/// on a unit that is leaving.
pub fn update_connection_info(model: &Model, memory: &Memory) -> Result<(), ModelError> {
    if memory.departing || !model.is_leader()? {
        return Ok(());
    }
    let clients = model.relations(CLIENT)?;
    if clients.is_empty() {
        return Ok(());
    }
    let info = current_connection_info(model)?;
    let grants = match model.relation(PEERS)? {
        Some(peers) => grants(model, &peers)?,
        None => BTreeMap::new(),
    };
    for client in &clients {
        answer(model, client, &info, grants.get(&client.id.id), None)?;
    }
    Ok(())
}

/// The recorded databases of the client relations that still exist (a
/// record whose relation is gone waits for its user's revocation and is
/// served no more).
pub fn live_records(model: &Model, peers: &Relation) -> Result<BTreeMap<u32, String>, ModelError> {
    let live: BTreeSet<u32> = model.relations(CLIENT)?.iter().map(|r| r.id.id).collect();
    let mut records = peers::client_records(model, peers)?;
    records.retain(|id, _| live.contains(id));
    Ok(records)
}

fn grants(model: &Model, peers: &Relation) -> Result<BTreeMap<u32, Grant>, ModelError> {
    let bag = model.local_app_data(peers).get_all()?;
    Ok(live_records(model, peers)?
        .into_iter()
        .filter_map(|(id, database)| {
            let password = bag.get(&peers::relation_password_key(id))?.clone();
            Some((
                id,
                Grant {
                    user: peers::relation_password_key(id),
                    password,
                    database,
                },
            ))
        })
        .collect())
}

/// Writes what a client reads: endpoints always; once it has a user, the
/// user, password, URIs, database (and `version` when known) — in a Juju
/// secret when the client asked for secrets, in the plain databag otherwise.
fn answer(
    model: &Model,
    relation: &Relation,
    info: &ConnectionInfo,
    grant: Option<&Grant>,
    version: Option<&str>,
) -> Result<(), ModelError> {
    let bag = model.local_app_data(relation);
    bag.set(ENDPOINTS, &info.endpoints())?;
    bag.set(READ_ONLY_ENDPOINTS, &info.read_only_endpoints())?;
    let Some(grant) = grant else {
        return Ok(());
    };
    let fields = BTreeMap::from([
        ("username", grant.user.clone()),
        ("password", grant.password.clone()),
        (
            URIS,
            info.uris(&grant.user, &grant.password, &grant.database),
        ),
        (
            READ_ONLY_URIS,
            info.read_only_uris(&grant.user, &grant.password, &grant.database),
        ),
    ]);
    bag.set("database", &grant.database)?;
    if let Some(version) = version {
        bag.set("version", version)?;
    }
    if wants_secrets(model, relation)? {
        let content: BTreeMap<String, String> = fields
            .iter()
            .filter(|(_, v)| !v.is_empty())
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect();
        let uri = put_user_secret(model, relation, content)?;
        bag.set(SECRET_USER, &uri)?;
        for key in SECRET_FIELDS {
            bag.remove(key)?;
        }
    } else {
        for (key, value) in &fields {
            bag.set(key, value)?;
        }
    }
    Ok(())
}

/// Whether the client listed any of our secret fields in `requested-secrets`.
/// A value that is not a JSON list of strings counts as no request.
fn wants_secrets(model: &Model, relation: &Relation) -> Result<bool, ModelError> {
    if relation.app.is_none() {
        return Ok(false);
    }
    let Some(text) = model.remote_app_data(relation)?.get(REQUESTED_SECRETS)? else {
        return Ok(false);
    };
    match serde_json::from_str::<Vec<String>>(&text) {
        Ok(fields) => Ok(fields.iter().any(|f| SECRET_FIELDS.contains(&f.as_str()))),
        Err(_) => {
            tracing::warn!(
                "ignoring {REQUESTED_SECRETS} of {} relation {}: not a JSON list of strings",
                CLIENT,
                relation.id.id
            );
            Ok(false)
        }
    }
}

/// Creates (and grants to the relation) or updates in place the user secret.
fn put_user_secret(
    model: &Model,
    relation: &Relation,
    content: BTreeMap<String, String>,
) -> Result<String, ModelError> {
    let existing = model.local_app_data(relation).get(SECRET_USER)?;
    if let Some(uri) = existing.filter(|u| !u.is_empty()) {
        let secret = model.get_secret(Some(&uri), None)?;
        if secret.peek_content()?.into_inner() != content {
            secret.set_content(content)?;
        }
        return Ok(uri);
    }
    let secret = model.add_secret(
        content,
        SecretOptions {
            label: Some(secret_label(relation.id.id)),
            owner: SecretOwner::Application,
            ..Default::default()
        },
    )?;
    secret.grant(relation, None)?;
    let id = secret.id().map(str::to_string).unwrap_or_default();
    Ok(id)
}

/// What a client asked for, checked.
struct Request {
    database: ClientDatabase,
    extra_roles: ExtraUserRoles,
}

/// The client's request: `None` until it asked for a database; the reason
/// (shown in the unit status, never quoting the value) if it is refused.
fn read_request(
    model: &Model,
    relation: &Relation,
) -> Result<Option<Result<Request, String>>, ModelError> {
    if relation.app.is_none() {
        return Ok(None);
    }
    let bag = model.remote_app_data(relation)?;
    let Some(database) = bag.get("database")?.filter(|d| !d.is_empty()) else {
        return Ok(None);
    };
    let database = match ClientDatabase::parse(&database) {
        Ok(database) => database,
        Err(e) => return Ok(Some(Err(e.to_string()))),
    };
    let extra_roles = match ExtraUserRoles::parse(&bag.get("extra-user-roles")?.unwrap_or_default())
    {
        Ok(roles) => roles,
        Err(e) => return Ok(Some(Err(e.to_string()))),
    };
    Ok(Some(Ok(Request {
        database,
        extra_roles,
    })))
}

/// `database` relation-changed, on the leader: once the client asked for a
/// valid database and the backend is ready, record the grant in the peer
/// app databag, create the client's user and database (or share the
/// database with the other relations using it), serve it through
/// PgBouncer, and answer the client. Before the backend is ready there is
/// nothing to wait for here: the backend's own relation-changed serves
/// every client that asked ([`serve_requests`]).
pub fn on_changed(
    model: &Model,
    memory: &mut Memory,
    relation_id: u32,
    instances: usize,
) -> Result<Outcome, BackendDbError> {
    if memory.departing || !model.is_leader()? {
        return Ok(Outcome::Done);
    }
    update_connection_info(model, memory)?;
    let Some(relation) = model.relation_by_id(CLIENT, relation_id)? else {
        return Ok(Outcome::Done);
    };
    let (Some(backend), Some(peers)) = (backend_db::info(model)?, model.relation(PEERS)?) else {
        tracing::info!(
            "{CLIENT} relation {relation_id} is served once the backend database is ready"
        );
        return Ok(Outcome::Done);
    };
    let container = model.container(CONTAINER)?;
    if !container.can_connect() {
        return Ok(Outcome::Defer);
    }
    let Some(provisioned) = provision_request(model, memory, &peers, &backend, &relation)? else {
        return Ok(Outcome::Done);
    };
    serve::leader(model, memory, &Workload::new(&container, instances))?;
    let info = current_connection_info(model)?;
    answer(
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

/// Checks a client relation's request and, if it is valid, creates its user
/// and database in the backend and records them. `None` when there is no
/// request yet, or it was refused (the reason is kept for the status).
fn provision_request(
    model: &Model,
    memory: &mut Memory,
    peers: &Relation,
    backend: &BackendInfo,
    relation: &Relation,
) -> Result<Option<Provisioned>, BackendDbError> {
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
    // The password is recorded before the user exists, so a user that was
    // created is never forgotten; the database record (which makes the
    // grant visible to the client and to PgBouncer) only once it is set up.
    let grant = Grant {
        user: peers::relation_password_key(relation_id),
        password: ensure_password(model, peers, relation_id)?,
        database: database.as_str().to_string(),
    };
    let version = match provision(backend, &grant, &request.extra_roles) {
        Err(BackendDbError::Sql(e @ SqlError::ForeignRole { .. })) => {
            // Not a failure to retry: the name is taken by a role that is
            // not ours (a backend in another model naming its users as we
            // do). The password record goes, so nothing ever revokes it.
            tracing::warn!("refusing {CLIENT} relation {relation_id}: {e}");
            model
                .local_app_data(peers)
                .remove(&peers::relation_password_key(relation_id))?;
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
) -> Result<Vec<(Relation, String)>, BackendDbError> {
    let mut versions = Vec::new();
    for relation in model.relations(CLIENT)? {
        if let Some(provisioned) = provision_request(model, memory, peers, backend, &relation)? {
            versions.push((relation, provisioned.version));
        }
    }
    Ok(versions)
}

/// Answers the clients [`serve_requests`] provisioned, with the server version.
pub fn answer_provisioned(
    model: &Model,
    peers: &Relation,
    provisioned: &[(Relation, String)],
) -> Result<(), ModelError> {
    let info = current_connection_info(model)?;
    let grants = grants(model, peers)?;
    for (relation, version) in provisioned {
        answer(
            model,
            relation,
            &info,
            grants.get(&relation.id.id),
            Some(version),
        )?;
    }
    Ok(())
}

/// The password of client relation `relation_id`'s user, made and recorded
/// in the peer app databag the first time.
fn ensure_password(
    model: &Model,
    peers: &Relation,
    relation_id: u32,
) -> Result<String, BackendDbError> {
    let key = peers::relation_password_key(relation_id);
    let bag = model.local_app_data(peers);
    if let Some(password) = bag.get(&key)? {
        return Ok(password);
    }
    let password = auth::generate_password().map_err(|e| WorkloadError::InvalidFile {
        path: key.clone(),
        reason: format!("cannot generate a password: {e}"),
    })?;
    bag.set(&key, &password)?;
    Ok(password)
}

/// Creates the grant's user and database in the backend (idempotent), and
/// lets PgBouncer's auth user look the user up there. Returns the server version.
fn provision(
    backend: &BackendInfo,
    grant: &Grant,
    extra_roles: &ExtraUserRoles,
) -> Result<String, BackendDbError> {
    let database =
        ClientDatabase::parse(&grant.database).map_err(|e| WorkloadError::InvalidFile {
            path: "client database record".to_string(),
            reason: e.to_string(),
        })?;
    let auth_user = backend.auth_user();
    let access = backend.access()?;
    let mut db = access.connect(&backend.database)?;
    db.ensure_clients_role(&auth_user)?;
    db.ensure_user(&grant.user, &grant.password, &auth_user)?;
    db.set_extra_roles(&grant.user, extra_roles)?;
    db.ensure_database(&database, &grant.user)?;
    db.grant_database(&database, &grant.user)?;
    let version = db.version()?;
    let mut client_db = access.connect(database.as_str())?;
    client_db.install_get_auth(&auth_user)?;
    client_db.grant_public_schema(&grant.user)?;
    Ok(version)
}

/// Revokes the users of client relations that went while no backend could
/// be reached (their records stayed for this).
pub fn revoke_departed(
    model: &Model,
    peers: &Relation,
    backend: &BackendInfo,
) -> Result<(), BackendDbError> {
    let live: BTreeSet<u32> = model.relations(CLIENT)?.iter().map(|r| r.id.id).collect();
    let bag = model.local_app_data(peers);
    let records = peers::client_records(model, peers)?;
    for id in peers::password_records(model, peers)? {
        if live.contains(&id) {
            continue;
        }
        let user = peers::relation_password_key(id);
        let database = records.get(&id).map(String::as_str);
        revoke(backend, &user, database, None)?;
        bag.remove(&user)?;
        bag.remove(&peers::client_database_key(id))?;
        tracing::info!("revoked the user of the departed {CLIENT} relation {id}");
    }
    Ok(())
}

/// `database` relation-broken, on the leader (and not on a unit that is
/// itself leaving, for which the relation is not going away): revoke the
/// client's user, stop serving its database when no other relation uses it,
/// and forget the records. A revocation that fails keeps the records and
/// defers, so a user that can still log in is never forgotten.
pub fn on_broken(
    model: &Model,
    memory: &mut Memory,
    relation_id: u32,
    instances: usize,
) -> Result<Outcome, BackendDbError> {
    memory.refused_clients.remove(&relation_id);
    if memory.departing || !model.is_leader()? {
        return Ok(Outcome::Done);
    }
    let Some(peers) = model.relation(PEERS)? else {
        return Ok(Outcome::Done);
    };
    let user = peers::relation_password_key(relation_id);
    if model.local_app_data(&peers).get(&user)?.is_none() {
        // Never given a user: nothing to take back.
        return Ok(Outcome::Done);
    }
    let records = peers::client_records(model, &peers)?;
    let database = records.get(&relation_id).cloned();
    let sharers: Vec<String> = records
        .iter()
        .filter(|(id, db)| **id != relation_id && Some(*db) == database.as_ref())
        .map(|(id, _)| peers::relation_password_key(*id))
        .collect();
    match backend_db::info(model)? {
        Some(backend) => {
            if let Err(e) = revoke(&backend, &user, database.as_deref(), sharers.first()) {
                tracing::warn!(
                    "could not revoke the user of {CLIENT} relation {relation_id}; will retry: {e}"
                );
                // An error, not a quiet deferral: the handler's settle
                // defers it and shows why (Waiting).
                return Err(e.into());
            }
        }
        None => {
            // Kept: the user is revoked when a backend is related again.
            tracing::warn!(
                "no backend database to revoke the user of {CLIENT} relation {relation_id} in \
                 yet; it is revoked once there is one"
            );
            return finish_broken(model, memory, instances, database, &sharers);
        }
    }
    let bag = model.local_app_data(&peers);
    bag.remove(&peers::client_database_key(relation_id))?;
    bag.remove(&user)?;
    if let Ok(secret) = model.get_secret(None, Some(&secret_label(relation_id)))
        && let Err(e) = secret.remove_all_revisions()
    {
        tracing::debug!("no user secret to remove for {CLIENT} relation {relation_id}: {e}");
    }
    finish_broken(model, memory, instances, database, &sharers)
}

/// Stops serving a departed client's database when no other relation uses it.
fn finish_broken(
    model: &Model,
    memory: &mut Memory,
    instances: usize,
    database: Option<String>,
    sharers: &[String],
) -> Result<Outcome, BackendDbError> {
    let container = model.container(CONTAINER)?;
    if !container.can_connect() {
        // The relation is gone: the next render leaves the entry out.
        return Ok(Outcome::Done);
    }
    if let Some(database) = database
        && sharers.is_empty()
    {
        serve::drop_database(
            model,
            memory,
            &Workload::new(&container, instances),
            &database,
        )?;
    }
    Ok(Outcome::Done)
}

/// Takes a client user's login away, hands what it owns to `heir` (another
/// user of the database, or the charm's backend user), and drops it.
fn revoke(
    backend: &BackendInfo,
    user: &str,
    database: Option<&str>,
    heir: Option<&String>,
) -> Result<(), SqlError> {
    let access = backend.access()?;
    let mut db = access.connect(&backend.database)?;
    if !db.is_client_user(user, &backend.auth_user())? {
        // Gone already, or never ours (a name taken by another role): not
        // this charm's to take away.
        return Ok(());
    }
    db.deactivate_role(user)?;
    let heir = heir
        .map(String::as_str)
        .unwrap_or(backend.username.as_str());
    // Every database the user left something in is found by the backend
    // itself (the client's recorded one included), so `database` is not
    // needed to find them.
    let _ = database;
    access.drop_role_everywhere(&backend.database, user, heir)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_name_the_leader_and_the_others_sorted_with_ports() {
        let hosts = vec![
            "c-2.x".to_string(),
            "c-0.x".to_string(),
            "c-1.x".to_string(),
        ];
        let info = connection_info("c-0.x", 6432, &hosts);
        assert_eq!(info.endpoints(), "c-0.x:6432");
        assert_eq!(info.read_only_endpoints(), "c-1.x:6432,c-2.x:6432");
        assert_eq!(
            info.read_only_uris("u", "p", "d"),
            "postgresql://u:p@c-1.x:6432/d,postgresql://u:p@c-2.x:6432/d"
        );
        assert_eq!(info.uris("u", "p", "d"), "postgresql://u:p@c-0.x:6432/d");
        let alone = connection_info("c-0.x", 7000, &[]);
        assert_eq!(alone.endpoints(), "c-0.x:7000");
        assert_eq!(alone.read_only_endpoints(), "");
        assert_eq!(alone.read_only_uris("u", "p", "d"), "");
    }
}
