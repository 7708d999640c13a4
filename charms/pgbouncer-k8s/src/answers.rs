//! What the leader tells each client relation: where to connect
//! (`endpoints`, `read-only-endpoints`) and, once it has a user, its
//! credentials (`username`, `password`, `uris`, `read-only-uris`, and
//! `database`, `version`) — in a Juju secret granted to the relation when
//! the client asked for secrets (data_platform_libs' `requested-secrets`),
//! in the plain databag otherwise; and whether PgBouncer serves TLS, with
//! the CA to verify it (`tls`, `tls-ca`, or `secret-tls` likewise). The
//! databags and the secrets are the
//! interface crate's ([`postgresql_client::Answer`]), as the library's
//! `DatabaseProvides` writes them.
//!
//! Below the relation handlers: the client and the peer handlers both
//! answer clients through it.

use std::collections::BTreeMap;

use ops::Model;
use ops::model::{ModelError, Relation};
use postgresql_client::{Answer, Credentials, Endpoint, SecretGroup, keys};

use crate::error::StepError;
use crate::memory::Memory;
use crate::names::ClientDatabase;
use crate::peers;
use crate::service;
use crate::situation::Situation;

/// The client relation's endpoint ([`meta::DATABASE`](crate::meta::DATABASE)).
pub const CLIENT: &str = crate::meta::DATABASE.name();
/// Our app databag: where to connect.
pub const ENDPOINTS: &str = keys::ENDPOINTS;
/// Our app databag: the other units, for read-only traffic (`host:port,...`).
pub const READ_ONLY_ENDPOINTS: &str = keys::READ_ONLY_ENDPOINTS;
/// Our app databag (or the user secret): `postgresql://` URI of the leader.
pub const URIS: &str = keys::URIS;
/// Our app databag (or the user secret): URIs of the other units, comma-joined.
pub const READ_ONLY_URIS: &str = keys::READ_ONLY_URIS;
/// The client's app databag: which fields it wants in a Juju secret (JSON list).
pub const REQUESTED_SECRETS: &str = keys::REQUESTED_SECRETS;
/// Our app databag: the URI of the secret holding the user's credentials.
pub const SECRET_USER: &str = keys::SECRET_USER;

/// The label of client relation `id`'s user secret.
pub fn secret_label(id: u32) -> String {
    SecretGroup::User.label(CLIENT, id)
}

/// Where clients connect: the application's Service (every unit behind
/// one address, [`crate::service`]); reads that may go to a replica use the
/// same address and the database's read-only route (`<db>_readonly`),
/// when the backend has replicas.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectionInfo {
    /// The Service's host name.
    pub host: String,
    /// The port PgBouncer listens on.
    pub port: u16,
    /// Whether the backend offers read-only endpoints (replicas).
    pub read_only: bool,
    /// The CA of this unit's client certificate while PgBouncer serves TLS
    /// ([`crate::client_tls`]); `None`: no TLS.
    pub tls_ca: Option<String>,
}

impl ConnectionInfo {
    /// The one endpoint clients are given.
    pub fn endpoint(&self) -> Endpoint {
        Endpoint::new(&self.host, self.port)
    }

    /// `endpoints` as the client relation carries it.
    pub fn endpoints(&self) -> String {
        self.endpoint().to_string()
    }

    /// `read-only-endpoints`: the same address, when there are replicas
    /// (empty, so not set, otherwise: no read-only route pools to the primary).
    pub fn read_only_endpoints(&self) -> String {
        if self.read_only {
            self.endpoints()
        } else {
            String::new()
        }
    }

    /// `uris`: `postgresql://<user>:<password>@<host>:<port>/<database>`.
    pub fn uris(&self, user: &str, password: &str, database: &str) -> String {
        uri(user, password, &self.endpoints(), database)
    }

    /// `read-only-uris`: one URI, to the database's read-only route, when
    /// there is one.
    pub fn read_only_uris(&self, user: &str, password: &str, database: &str) -> String {
        let route = ClientDatabase::parse(database)
            .ok()
            .and_then(|d| d.read_only_entry());
        match route {
            Some(route) if self.read_only => uri(user, password, &self.endpoints(), &route),
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
        host: service_hostname.to_string(),
        port,
        read_only,
        tls_ca: None,
    }
}

/// This application's connection info, as the leader sees it now (the port
/// of the settings in force, replicas if the backend has them).
pub(crate) fn current_connection_info(
    model: &Model,
    memory: &mut Memory,
) -> Result<ConnectionInfo, ModelError> {
    let port = memory.settings_or_default(model)?.listen_port;
    let read_only = memory
        .backend_info(model)?
        .is_some_and(|b| b.read_only.is_some());
    Ok(ConnectionInfo {
        tls_ca: memory.client_tls_ca.clone(),
        ..connection_info(&service::own_hostname(model), port, read_only)
    })
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
/// secret when the client asked for secrets, in the plain databag otherwise
/// ([`Answer::write`]); once the client asked, `tls` and `tls-ca` (or
/// `secret-tls`).
pub(crate) fn answer(
    model: &Model,
    relation: &Relation,
    info: &ConnectionInfo,
    grant: Option<&Grant>,
    version: Option<&str>,
) -> Result<(), ModelError> {
    let read_only = if info.read_only {
        vec![info.endpoint()]
    } else {
        Vec::new()
    };
    let mut answer = Answer::new(vec![info.endpoint()]).with_read_only_endpoints(read_only);
    // TLS once the client has asked (its `database`, which the library's
    // requirer sends with `requested-secrets`): a `tls` written plainly
    // before that would keep TLS out of `secret-tls` for good (the
    // library's fallback: a field already in the databag stays there).
    if relation.app.is_some()
        && model
            .remote_app_data(relation)?
            .get(keys::DATABASE)?
            .is_some()
    {
        answer = answer.with_tls(info.tls_ca.clone());
    }
    if let Some(grant) = grant {
        let (user, password, database) = (&grant.user, &grant.password, &grant.database);
        answer = answer.with_database(database).with_credentials(
            Credentials::new(user, password)
                .with_uris(info.uris(user, password, database))
                .with_read_only_uris(info.read_only_uris(user, password, database)),
        );
        if let Some(version) = version {
            answer = answer.with_version(version);
        }
    }
    answer.write(model, relation)
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
