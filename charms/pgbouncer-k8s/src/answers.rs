//! What the leader tells each client relation: where to connect
//! (`endpoints`, `read-only-endpoints`) and, once it has a user, its
//! credentials (`username`, `password`, `uris`, `read-only-uris`, and
//! `database`, `version`) — in a Juju secret granted to the relation when
//! the client asked for secrets (data_platform_libs' `requested-secrets`),
//! in the plain databag otherwise.
//!
//! Below the relation handlers: the client and the peer handlers both
//! answer clients through it.

use std::collections::{BTreeMap, BTreeSet};

use ops::Model;
use ops::model::{ModelError, Relation, SecretOptions, SecretOwner};

use crate::error::StepError;
use crate::memory::Memory;
use crate::peers::{self, PEERS};

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

/// This application's connection info, as the leader sees it now (the port
/// of the settings in force).
pub(crate) fn current_connection_info(
    model: &Model,
    memory: &mut Memory,
) -> Result<ConnectionInfo, ModelError> {
    let port = memory.settings_or_default(model)?.listen_port;
    let leader = peers::own_hostname(model);
    let hosts = match model.relation(PEERS)? {
        Some(peers) => peers::peer_hostnames(model, &peers)?,
        None => vec![leader.clone()],
    };
    Ok(connection_info(&leader, port, &hosts))
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
pub fn update_connection_info(model: &Model, memory: &mut Memory) -> Result<(), StepError> {
    if memory.departing || !model.is_leader()? {
        return Ok(());
    }
    let clients = model.relations(CLIENT)?;
    if clients.is_empty() {
        return Ok(());
    }
    let info = current_connection_info(model, memory)?;
    let grants = match model.relation(PEERS)? {
        Some(peers) => grants(model, memory, &peers)?,
        None => BTreeMap::new(),
    };
    for client in &clients {
        answer(model, client, &info, grants.get(&client.id.id), None)?;
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
        SecretOptions::new()
            .with_label(secret_label(relation.id.id))
            .with_owner(SecretOwner::Application),
    )?;
    secret.grant(relation, None)?;
    let id = secret.id().map(str::to_string).unwrap_or_default();
    Ok(id)
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
    }
    Ok(())
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
