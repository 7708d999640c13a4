//! What the leader tells each client relation: where to connect
//! (`endpoints`, `read-only-endpoints`) and, once it has a user, its
//! credentials (`username`, `password`, `uris`, `read-only-uris`, and
//! `database`, `version`) — in a Juju secret granted to the relation when
//! the client asked for secrets (data_platform_libs' `requested-secrets`),
//! in the plain databag otherwise; and whether PgBouncer serves TLS, with
//! the CA to verify it (`tls`, `tls-ca`, or `secret-tls`).
//!
//! Below the relation handlers: the client and the peer handlers both
//! answer clients through it.

use std::collections::BTreeMap;

use ops::Model;
use ops::model::{ModelError, Relation, SecretOptions, SecretOwner};

use crate::backend_info;
use crate::error::StepError;
use crate::memory::Memory;
use crate::names::ClientDatabase;
use crate::peers;
use crate::service;
use crate::situation::Situation;

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

/// Where clients connect: the application's Service (every unit behind
/// one address, [`crate::service`]); reads that may go to a replica use the
/// same address and the database's read-only route (`<db>_readonly`),
/// when the backend has replicas.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectionInfo {
    /// `<service hostname>:<port>`.
    pub endpoint: String,
    /// Whether the backend offers read-only endpoints (replicas).
    pub read_only: bool,
}

impl ConnectionInfo {
    /// `endpoints` as the client relation carries it.
    pub fn endpoints(&self) -> String {
        self.endpoint.clone()
    }

    /// `read-only-endpoints`: the same address, when there are replicas
    /// (empty, so not set, otherwise: no read-only route pools to the primary).
    pub fn read_only_endpoints(&self) -> String {
        if self.read_only {
            self.endpoint.clone()
        } else {
            String::new()
        }
    }

    /// `uris`: `postgresql://<user>:<password>@<host>:<port>/<database>`.
    pub fn uris(&self, user: &str, password: &str, database: &str) -> String {
        uri(user, password, &self.endpoint, database)
    }

    /// `read-only-uris`: one URI, to the database's read-only route, when
    /// there is one.
    pub fn read_only_uris(&self, user: &str, password: &str, database: &str) -> String {
        let route = ClientDatabase::parse(database)
            .ok()
            .and_then(|d| d.read_only_entry());
        match route {
            Some(route) if self.read_only => uri(user, password, &self.endpoint, &route),
            _ => String::new(),
        }
    }
}

// Users are `relation_id_<n>`, passwords `[A-Za-z0-9]`, database names
// `[A-Za-z0-9_-]` (checked): nothing in them needs percent-encoding.
fn uri(user: &str, password: &str, host_port: &str, database: &str) -> String {
    format!("postgresql://{user}:{password}@{host_port}/{database}")
}

/// What the leader tells every client: `endpoints` = `<service>:<port>`.
pub fn connection_info(service_hostname: &str, port: u16, read_only: bool) -> ConnectionInfo {
    ConnectionInfo {
        endpoint: format!("{service_hostname}:{port}"),
        read_only,
    }
}

/// This application's connection info, as the leader sees it now (the port
/// of the settings in force, replicas if the backend has them).
pub(crate) fn current_connection_info(
    model: &Model,
    memory: &mut Memory,
) -> Result<ConnectionInfo, ModelError> {
    let port = memory.settings_or_default(model)?.listen_port;
    let read_only = backend_info::info(model)?.is_some_and(|b| b.read_only.is_some());
    Ok(connection_info(
        &service::own_hostname(model),
        port,
        read_only,
    ))
}

/// The credentials the leader gave a client relation.
pub(crate) struct Grant {
    pub(crate) user: String,
    pub(crate) password: String,
    pub(crate) database: String,
}

/// On the leader, writes the connection info into every client relation
/// (and the URIs of those already given a user). Nothing on a follower or
/// on a unit that is leaving.
pub fn update_connection_info(
    model: &Model,
    memory: &mut Memory,
    situation: &Situation,
) -> Result<(), StepError> {
    if memory.departing || !situation.leader {
        return Ok(());
    }
    let clients = model.relations(CLIENT)?;
    if clients.is_empty() {
        return Ok(());
    }
    let info = current_connection_info(model, memory)?;
    let grants = match &situation.peers {
        Some(peers) => grants(model, memory, peers)?,
        None => BTreeMap::new(),
    };
    for client in &clients {
        answer(model, client, &info, grants.get(&client.id.id), None)?;
        write_tls(model, client, memory.client_tls_ca.as_deref())?;
    }
    Ok(())
}

pub(crate) fn grants(
    model: &Model,
    memory: &mut Memory,
    peers: &Relation,
) -> Result<BTreeMap<u32, Grant>, StepError> {
    let records = peers::live_client_records(model, peers)?;
    let passwords = &memory.credentials(model, peers)?.client_passwords;
    Ok(records
        .into_iter()
        .filter_map(|(id, database)| {
            let password = passwords.get(&id)?.clone();
            Some((
                id,
                Grant {
                    user: peers::client_user(id),
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
pub(crate) fn answer(
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
fn wants_secrets(model: &Model, relation: &Relation) -> Result<bool, ModelError> {
    Ok(requested_secrets(model, relation)?
        .iter()
        .any(|f| SECRET_FIELDS.contains(&f.as_str())))
}

/// The fields the client wants in Juju secrets (`requested-secrets`). A
/// value that is not a JSON list of strings counts as no request.
fn requested_secrets(model: &Model, relation: &Relation) -> Result<Vec<String>, ModelError> {
    if relation.app.is_none() {
        return Ok(Vec::new());
    }
    let Some(text) = model.remote_app_data(relation)?.get(REQUESTED_SECRETS)? else {
        return Ok(Vec::new());
    };
    match serde_json::from_str::<Vec<String>>(&text) {
        Ok(fields) => Ok(fields),
        Err(_) => {
            tracing::warn!(
                "ignoring {REQUESTED_SECRETS} of {} relation {}: not a JSON list of strings",
                CLIENT,
                relation.id.id
            );
            Ok(Vec::new())
        }
    }
}

/// Creates (and grants to the relation) or updates in place the user secret.
fn put_user_secret(
    model: &Model,
    relation: &Relation,
    content: BTreeMap<String, String>,
) -> Result<String, ModelError> {
    put_secret(
        model,
        relation,
        SECRET_USER,
        secret_label(relation.id.id),
        content,
    )
}

/// Creates (and grants to the relation) or updates in place the secret
/// whose URI our app databag keeps under `uri_key`.
fn put_secret(
    model: &Model,
    relation: &Relation,
    uri_key: &str,
    label: String,
    content: BTreeMap<String, String>,
) -> Result<String, ModelError> {
    let existing = model.local_app_data(relation).get(uri_key)?;
    if let Some(uri) = existing.filter(|u| !u.is_empty()) {
        let secret = model.get_secret(Some(&uri), None)?;
        if secret.peek_content()?.into_inner() != content {
            secret.set_content(content)?;
        }
        return Ok(uri);
    }
    let secret = model.add_secret(
        content,
        SecretOptions::new()
            .with_label(label)
            .with_owner(SecretOwner::Application),
    )?;
    secret.grant(relation, None)?;
    let id = secret.id().map(str::to_string).unwrap_or_default();
    Ok(id)
}

/// Our app databag (or the TLS secret): whether PgBouncer serves TLS,
/// `True` or `False` (as data_platform_libs writes it).
pub const TLS: &str = "tls";
/// Our app databag (or the TLS secret): the CA (bundle) that signed
/// PgBouncer's certificates, PEM; absent without TLS.
pub const TLS_CA: &str = "tls-ca";
/// Our app databag: the URI of the secret holding `tls` and `tls-ca`, when
/// the client asked for them in secrets.
pub const SECRET_TLS: &str = "secret-tls";

/// The label of client relation `id`'s TLS secret (data_platform_libs':
/// `<endpoint>.<id>.tls.secret`).
pub fn tls_secret_label(id: u32) -> String {
    format!("{CLIENT}.{id}.tls.secret")
}

/// Tells a client whether PgBouncer serves TLS and the CA to verify it by
/// (`ca`: the bundle this unit serves with, `None` without TLS): `tls` and
/// `tls-ca` in the plain databag, or those of them the client listed in
/// `requested-secrets` in the relation's TLS secret (`secret-tls`).
pub(crate) fn write_tls(
    model: &Model,
    relation: &Relation,
    ca: Option<&str>,
) -> Result<(), ModelError> {
    let requested = requested_secrets(model, relation)?;
    let bag = model.local_app_data(relation);
    let fields = [
        (TLS, if ca.is_some() { "True" } else { "False" }),
        (TLS_CA, ca.unwrap_or_default()),
    ];
    let mut in_secret = BTreeMap::new();
    for (key, value) in fields {
        if requested.iter().any(|f| f == key) {
            bag.remove(key)?;
            if !value.is_empty() {
                in_secret.insert(key.to_string(), value.to_string());
            }
        } else {
            // "" deletes: no `tls-ca` without TLS.
            bag.set(key, value)?;
        }
    }
    if !in_secret.is_empty() {
        let label = tls_secret_label(relation.id.id);
        let uri = put_secret(model, relation, SECRET_TLS, label, in_secret)?;
        bag.set(SECRET_TLS, &uri)?;
    } else if let Some(uri) = bag.get(SECRET_TLS)?.filter(|u| !u.is_empty()) {
        // Nothing left to keep in it (a secret cannot be empty).
        model.get_secret(Some(&uri), None)?.remove_all_revisions()?;
        bag.remove(SECRET_TLS)?;
    }
    Ok(())
}

/// Answers the clients [`crate::client::serve_requests`] provisioned, with the server version.
pub fn answer_provisioned(
    model: &Model,
    memory: &mut Memory,
    peers: &Relation,
    provisioned: &[(Relation, String)],
) -> Result<(), StepError> {
    let info = current_connection_info(model, memory)?;
    let grants = grants(model, memory, peers)?;
    for (relation, version) in provisioned {
        answer(
            model,
            relation,
            &info,
            grants.get(&relation.id.id),
            Some(version),
        )?;
        write_tls(model, relation, memory.client_tls_ca.as_deref())?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clients_are_sent_to_the_service_and_reads_to_the_read_only_route() {
        let info = connection_info("app.dev.svc.cluster.local", 6432, true);
        assert_eq!(info.endpoints(), "app.dev.svc.cluster.local:6432");
        assert_eq!(info.read_only_endpoints(), "app.dev.svc.cluster.local:6432");
        assert_eq!(
            info.uris("u", "p", "appdb"),
            "postgresql://u:p@app.dev.svc.cluster.local:6432/appdb"
        );
        assert_eq!(
            info.read_only_uris("u", "p", "appdb"),
            "postgresql://u:p@app.dev.svc.cluster.local:6432/appdb_readonly",
            "one URI, not a list"
        );
        // No replicas: no read-only route is advertised at all.
        let primary_only = connection_info("app.dev.svc.cluster.local", 7000, false);
        assert_eq!(primary_only.endpoints(), "app.dev.svc.cluster.local:7000");
        assert_eq!(primary_only.read_only_endpoints(), "");
        assert_eq!(primary_only.read_only_uris("u", "p", "appdb"), "");
        // A name with no room for the route's suffix: none either.
        assert_eq!(info.read_only_uris("u", "p", &"a".repeat(60)), "");
    }
}
