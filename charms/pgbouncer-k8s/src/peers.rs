//! The `pgb-peers` relation: what its databags hold, and reading them safely.
//!
//! App databag (written by the leader), nothing secret in it: `cfg_file`,
//! `leader_hostname`, `client_db_<id>` (the database client relation `<id>`
//! was given), `clients_role` (the marker role of this application's client
//! users), and where the application's secret is with the number of its
//! last content (`secret_id`, `secret_revision`: see [`crate::credentials`],
//! which holds the auth file and every password). Unit databags:
//! `private-address`.
//!
//! The app databag and the secret are the application's memory: they
//! survive pod churn and a change of leader, which the workload container's
//! files do not. Cleanup of a client reads its record here, never the
//! client's own (by then possibly gone) databag.

use std::collections::{BTreeMap, BTreeSet};

use ops::Model;
use ops::model::{ModelError, Relation};

use crate::pgb_config::PgbConfig;

/// The peer relation's endpoint ([`meta::PGB_PEERS`](crate::meta::PGB_PEERS)).
pub const PEERS: &str = crate::meta::PGB_PEERS.name();
/// App databag: the leader's rendered `pgbouncer.ini`.
pub const CFG_FILE: &str = "cfg_file";
/// App databag: the leader's hostname.
pub const LEADER_HOSTNAME: &str = "leader_hostname";
/// App databag: the NOLOGIN role whose members are this application's
/// client users (made once, kept as long as the application).
pub const CLIENTS_ROLE: &str = "clients_role";
/// Unit databag: the unit's hostname.
pub const PRIVATE_ADDRESS: &str = "private-address";

/// The prefix of [`client_user`].
pub const CLIENT_USER_PREFIX: &str = "relation_id_";

/// The name of client relation `id`'s user, as PostgreSQL charms name
/// relation users.
pub fn client_user(id: u32) -> String {
    format!("{CLIENT_USER_PREFIX}{id}")
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

/// The recorded databases of the client relations that still exist (a
/// record whose relation is gone waits for its user's revocation and is
/// served no more).
pub fn live_client_records(
    model: &Model,
    peers: &Relation,
) -> Result<BTreeMap<u32, String>, ModelError> {
    let live: BTreeSet<u32> = model
        .relations(crate::meta::DATABASE.name())?
        .iter()
        .map(|r| r.id.id)
        .collect();
    let mut records = client_records(model, peers)?;
    records.retain(|id, _| live.contains(id));
    Ok(records)
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
    match PgbConfig::parse_valid_cached(&text) {
        Ok(config) => Ok(Some(config)),
        Err(e) => {
            tracing::warn!("ignoring invalid {CFG_FILE} in the {PEERS} app databag: {e}");
            Ok(None)
        }
    }
}

/// Whether the leader shared anything a follower takes: the config, or the
/// application's secret (or an older revision's auth file in the databag).
pub fn leader_shared_anything(model: &Model, peers: &Relation) -> Result<bool, ModelError> {
    let bag = model.local_app_data(peers);
    Ok(bag.get(CFG_FILE)?.is_some()
        || bag.get(crate::credentials::SECRET_ID)?.is_some()
        || bag.get(crate::credentials::legacy::AUTH_FILE)?.is_some())
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

/// The prefix of [`CLIENTS_ROLE`]'s value.
pub const CLIENTS_ROLE_PREFIX: &str = "pgbouncer_clients_";

/// Why the application's clients role could not be named.
#[derive(Debug, thiserror::Error)]
pub enum ClientsRoleError {
    /// Juju refused or failed.
    #[error(transparent)]
    Model(#[from] ModelError),
    /// No random bytes for a new name.
    #[error(transparent)]
    Random(#[from] crate::auth::PasswordError),
}

/// Leader: the NOLOGIN role whose members are this application's client
/// users, named once (`pgbouncer_clients_<24 random [a-z0-9]>`) and kept in
/// the peer app databag, so that it outlives any backend relation and no
/// other application's roles share it. A recorded value that is not such a
/// name (edited by hand) is replaced.
pub fn clients_role(model: &Model, peers: &Relation) -> Result<String, ClientsRoleError> {
    let bag = model.local_app_data(peers);
    if let Some(role) = bag.get(CLIENTS_ROLE)?
        && is_clients_role(&role)
    {
        return Ok(role);
    }
    let suffix = crate::auth::generate_password()?.to_ascii_lowercase();
    let role = format!("{CLIENTS_ROLE_PREFIX}{suffix}");
    bag.set(CLIENTS_ROLE, &role)?;
    Ok(role)
}

fn is_clients_role(role: &str) -> bool {
    role.strip_prefix(CLIENTS_ROLE_PREFIX)
        .is_some_and(|suffix| {
            !suffix.is_empty()
                && role.len() <= crate::names::MAX_IDENTIFIER
                && suffix
                    .bytes()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_our_clients_role_names_are_taken_from_the_databag() {
        assert!(is_clients_role("pgbouncer_clients_abc123"));
        for bad in [
            "",
            "pgbouncer_clients_",
            "postgres",
            "pgbouncer_clients_ABC",
            "pgbouncer_clients_a\"b",
            &format!("pgbouncer_clients_{}", "a".repeat(60)),
        ] {
            assert!(!is_clients_role(bad), "{bad:?}");
        }
    }
}
