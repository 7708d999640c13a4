//! The `database` relation: client applications that connect through PgBouncer.

use ops::model::ModelError;
use ops::{HandlerResult, Model, Outcome};

use crate::peers::{self, PEERS};
use crate::settings::Settings;

/// The client relation's endpoint.
pub const CLIENT: &str = "database";
/// Client app databag: where to connect.
pub const ENDPOINTS: &str = "endpoints";
/// Client app databag: the followers, for read-only traffic.
pub const READ_ONLY_ENDPOINTS: &str = "read-only-endpoints";

/// What the leader tells every client: `endpoints` = `<leader hostname>:<port>`,
/// `read-only-endpoints` = the other units' hostnames, sorted, comma-joined.
pub fn connection_info(
    leader_hostname: &str,
    port: u16,
    peer_hostnames: &[String],
) -> (String, String) {
    let mut others: Vec<&str> = peer_hostnames
        .iter()
        .map(String::as_str)
        .filter(|h| *h != leader_hostname)
        .collect();
    others.sort_unstable();
    others.dedup();
    (format!("{leader_hostname}:{port}"), others.join(","))
}

/// On the leader, writes the connection info into every client relation.
pub fn update_connection_info(model: &Model) -> Result<(), ModelError> {
    if !model.is_leader()? {
        return Ok(());
    }
    let clients = model.relations(CLIENT)?;
    if clients.is_empty() {
        return Ok(());
    }
    let port = Settings::from_model(model)?.unwrap_or_default().listen_port;
    let leader = peers::own_hostname(model);
    let hosts = match model.relation(PEERS)? {
        Some(peers) => peers::peer_hostnames(model, &peers)?,
        None => vec![leader.clone()],
    };
    let (endpoints, read_only) = connection_info(&leader, port, &hosts);
    for client in &clients {
        let bag = model.local_app_data(client);
        bag.set(ENDPOINTS, &endpoints)?;
        bag.set(READ_ONLY_ENDPOINTS, &read_only)?;
    }
    Ok(())
}

/// `database` relation-changed: refresh the connection info.
pub fn on_changed(model: &Model, _relation_id: u32) -> HandlerResult<Outcome> {
    update_connection_info(model)?;
    Ok(Outcome::Done)
}

/// `database` relation-broken: forget the relation's password.
pub fn on_broken(model: &Model, relation_id: u32) -> HandlerResult<Outcome> {
    if !model.is_leader()? {
        return Ok(Outcome::Done);
    }
    if let Some(peers) = model.relation(PEERS)? {
        model
            .local_app_data(&peers)
            .remove(&peers::relation_password_key(relation_id))?;
    }
    Ok(Outcome::Done)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_name_the_leader_and_the_others_sorted() {
        let hosts = vec![
            "c-2.x".to_string(),
            "c-0.x".to_string(),
            "c-1.x".to_string(),
        ];
        assert_eq!(
            connection_info("c-0.x", 6432, &hosts),
            ("c-0.x:6432".to_string(), "c-1.x,c-2.x".to_string())
        );
        assert_eq!(
            connection_info("c-0.x", 7000, &[]),
            ("c-0.x:7000".to_string(), String::new())
        );
    }
}
