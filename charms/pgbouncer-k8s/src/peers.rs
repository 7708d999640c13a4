//! The `pgb-peers` relation: what its databags hold, and reading them safely.
//!
//! App databag (written by the leader): `cfg_file`, `auth_file`,
//! `leader_hostname`, `relation_id_<id>` (the password of client relation
//! `<id>`'s user) and `client_db_<id>` (the database it was given). Unit
//! databags: `private-address`.
//!
//! The app databag is the application's memory: it survives pod churn and a
//! change of leader, which the workload container's files do not. Cleanup of
//! a client reads its record here, never the client's own (by then possibly
//! gone) databag.

use std::collections::BTreeMap;

use ops::Model;
use ops::model::{ModelError, Relation};

use crate::auth::AuthFile;
use crate::pgb_config::PgbConfig;

/// The peer relation's endpoint ([`meta::PGB_PEERS`](crate::meta::PGB_PEERS)).
pub const PEERS: &str = crate::meta::PGB_PEERS.name();
/// App databag: the leader's rendered `pgbouncer.ini`.
pub const CFG_FILE: &str = "cfg_file";
/// App databag: the leader's auth file.
pub const AUTH_FILE: &str = "auth_file";
/// App databag: the leader's hostname.
pub const LEADER_HOSTNAME: &str = "leader_hostname";
/// App databag: the password of PgBouncer's admin console user
/// ([`ADMIN_USER`](crate::pgb_config::ADMIN_USER)), for the charm and the
/// operator; its hash is in the auth file.
pub const ADMIN_PASSWORD: &str = "admin_password";
/// Unit databag: the unit's hostname.
pub const PRIVATE_ADDRESS: &str = "private-address";

/// The prefix of [`relation_password_key`] (and the client user's name).
pub const RELATION_PASSWORD_PREFIX: &str = "relation_id_";

/// The app databag key that holds the password for client relation `id`;
/// also the name of that relation's user.
pub fn relation_password_key(id: u32) -> String {
    format!("{RELATION_PASSWORD_PREFIX}{id}")
}

/// The client relations a user was made (or is being made) for: the ids of
/// the `relation_id_<id>` records of the app databag.
pub fn password_records(model: &Model, peers: &Relation) -> Result<Vec<u32>, ModelError> {
    Ok(ids_with_prefix(
        &model.local_app_data(peers).get_all()?,
        RELATION_PASSWORD_PREFIX,
    )
    .map(|(id, _)| id)
    .collect())
}

fn ids_with_prefix<'a>(
    bag: &'a BTreeMap<String, String>,
    prefix: &'a str,
) -> impl Iterator<Item = (u32, &'a String)> + 'a {
    bag.iter().filter_map(move |(key, value)| {
        let id = key.strip_prefix(prefix)?.parse().ok()?;
        Some((id, value))
    })
}

/// The app databag key that records the database client relation `id` uses.
pub fn client_database_key(id: u32) -> String {
    format!("{CLIENT_DB_PREFIX}{id}")
}

/// The prefix of [`client_database_key`].
pub const CLIENT_DB_PREFIX: &str = "client_db_";

/// The client relations the leader provisioned: relation id to database,
/// from the `client_db_<id>` records of the app databag.
pub fn client_records(
    model: &Model,
    peers: &Relation,
) -> Result<BTreeMap<u32, String>, ModelError> {
    let bag = model.local_app_data(peers).get_all()?;
    Ok(ids_with_prefix(&bag, CLIENT_DB_PREFIX)
        .map(|(id, database)| (id, database.clone()))
        .collect())
}

/// A unit's pod FQDN: `<app>-<n>.<app>-endpoints.<model>.svc.cluster.local`.
///
/// ```
/// assert_eq!(
///     pgbouncer_k8s::peers::unit_hostname("pgbouncer-k8s/1", "dev"),
///     "pgbouncer-k8s-1.pgbouncer-k8s-endpoints.dev.svc.cluster.local",
/// );
/// ```
pub fn unit_hostname(unit_name: &str, model_name: &str) -> String {
    let (app, number) = unit_name.split_once('/').unwrap_or((unit_name, "0"));
    format!("{app}-{number}.{app}-endpoints.{model_name}.svc.cluster.local")
}

/// This unit's hostname.
pub fn own_hostname(model: &Model) -> String {
    unit_hostname(model.unit().name(), model.name())
}

/// The peer relation, if it exists yet.
pub fn relation(model: &Model) -> Result<Option<Relation>, ModelError> {
    model.relation(PEERS)
}

/// Publishes this unit's hostname in its unit databag.
pub fn publish_hostname(model: &Model, peers: &Relation) -> Result<(), ModelError> {
    model
        .local_unit_data(peers)
        .set(PRIVATE_ADDRESS, &own_hostname(model))
}

/// The config the leader shares, if it is there and valid. An invalid one is
/// logged and ignored.
pub fn shared_config(model: &Model, peers: &Relation) -> Result<Option<PgbConfig>, ModelError> {
    let Some(text) = model.local_app_data(peers).get(CFG_FILE)? else {
        return Ok(None);
    };
    match PgbConfig::parse(&text).and_then(|c| c.validate().map(|()| c)) {
        Ok(config) => Ok(Some(config)),
        Err(e) => {
            tracing::warn!("ignoring invalid {CFG_FILE} in the {PEERS} app databag: {e}");
            Ok(None)
        }
    }
}

/// The auth file the leader shares, if it is there and valid. An invalid one
/// is logged (without its content) and ignored.
pub fn shared_auth_file(model: &Model, peers: &Relation) -> Result<Option<AuthFile>, ModelError> {
    let Some(text) = model.local_app_data(peers).get(AUTH_FILE)? else {
        return Ok(None);
    };
    match AuthFile::parse(&text) {
        Ok(auth) => Ok(Some(auth)),
        Err(e) => {
            tracing::warn!(
                "ignoring invalid {AUTH_FILE} in the {PEERS} app databag ({} bytes): {}",
                text.len(),
                e.kind_without_content()
            );
            Ok(None)
        }
    }
}

/// The hostnames the peers published (this unit's own included), sorted.
pub fn peer_hostnames(model: &Model, peers: &Relation) -> Result<Vec<String>, ModelError> {
    let mut hosts = vec![own_hostname(model)];
    for unit in &peers.units {
        match model.remote_unit_data(peers, unit).get(PRIVATE_ADDRESS)? {
            Some(host) if !host.is_empty() => hosts.push(host),
            _ => {}
        }
    }
    hosts.sort();
    hosts.dedup();
    Ok(hosts)
}
