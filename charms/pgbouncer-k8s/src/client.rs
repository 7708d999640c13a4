//! The `database` relation: client applications that connect through PgBouncer.

use ops::model::ModelError;
use ops::{Model, Outcome};

use crate::auth;
use crate::backend_db::{self, BackendDbError};
use crate::peers::{self, PEERS};
use crate::settings::Settings;
use crate::workload::{CONTAINER, Workload, WorkloadError};

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

/// `database` relation-changed, on the leader: once the client asked for a
/// database and the backend is ready, create the client's user (password
/// kept in the peer app databag as `relation_id_<id>`) and database, install
/// `get_auth` there, serve it through PgBouncer, and answer the client.
pub fn on_changed(
    model: &Model,
    relation_id: u32,
    instances: usize,
) -> Result<Outcome, BackendDbError> {
    if !model.is_leader()? {
        return Ok(Outcome::Done);
    }
    update_connection_info(model)?;
    let Some(relation) = model.relation_by_id(CLIENT, relation_id)? else {
        return Ok(Outcome::Done);
    };
    let Some(database) = model
        .remote_app_data(&relation)?
        .get("database")?
        .filter(|d| !d.is_empty())
    else {
        return Ok(Outcome::Done);
    };
    let (Some(backend), Some(peers)) = (backend_db::info(model)?, model.relation(PEERS)?) else {
        tracing::info!(
            "client relation {relation_id} waits for the backend database and the peer relation"
        );
        return Ok(Outcome::Defer);
    };
    let container = model.container(CONTAINER)?;
    let workload = Workload::new(&container, instances);
    let Some(mut config) = workload.current_config()? else {
        return Ok(Outcome::Defer);
    };
    if !config.has_auth_query() {
        return Ok(Outcome::Defer);
    }
    let user = peers::relation_password_key(relation_id);
    let secrets = model.local_app_data(&peers);
    let password = match secrets.get(&user)? {
        Some(password) => password,
        None => {
            let password = auth::generate_password().map_err(|e| WorkloadError::InvalidFile {
                path: user.clone(),
                reason: format!("cannot generate a password: {e}"),
            })?;
            secrets.set(&user, &password)?;
            password
        }
    };
    let access = backend.access()?;
    let mut db = access.connect(&backend.database)?;
    db.ensure_user(&user, &password, &backend.auth_user()?)?;
    let client_database =
        crate::names::ClientDatabase::parse(&database).map_err(crate::sql::SqlError::from)?;
    db.ensure_database(&client_database, &user)?;
    let version = db.version()?;
    let mut client_db = access.connect(&database)?;
    client_db.install_get_auth(&backend.auth_user()?)?;
    client_db.grant_public_schema(&user)?;

    let port = access.port.to_string();
    config
        .add_database(
            &database,
            &[
                ("host", &access.host),
                ("port", &port),
                ("dbname", &database),
            ],
        )
        .map_err(|e| WorkloadError::InvalidFile {
            path: crate::pgb_config::INI_PATH.to_string(),
            reason: e.to_string(),
        })?;
    let changed = workload.write_config(&config)?;
    workload.apply(changed)?;
    let auth = workload.read_auth_file()?;
    backend_db::share(model, &config, auth.as_ref());

    let bag = model.local_app_data(&relation);
    bag.set("username", &user)?;
    bag.set("password", &password)?;
    bag.set("database", &database)?;
    bag.set("version", &version)?;
    Ok(Outcome::Done)
}

/// `database` relation-broken, on the leader: drop the client's user (when
/// the backend still answers), stop serving its database, forget its password.
pub fn on_broken(
    model: &Model,
    relation_id: u32,
    instances: usize,
) -> Result<Outcome, BackendDbError> {
    if !model.is_leader()? {
        return Ok(Outcome::Done);
    }
    let user = peers::relation_password_key(relation_id);
    let database = match model.relation_by_id(CLIENT, relation_id)? {
        Some(relation) if relation.app.is_some() => {
            model.remote_app_data(&relation)?.get("database")?
        }
        _ => None,
    };
    if let Some(backend) = backend_db::info(model)? {
        let dropped = (|| -> Result<(), crate::sql::SqlError> {
            let access = backend.access()?;
            if let Some(database) = &database {
                access.connect(database)?.disown(&user)?;
            }
            let mut db = access.connect(&backend.database)?;
            db.disown(&user)?;
            db.drop_role(&user)
        })();
        if let Err(e) = dropped {
            tracing::warn!("could not drop the user of client relation {relation_id}: {e}");
        }
    }
    let container = model.container(CONTAINER)?;
    if let (Some(database), true) = (&database, container.can_connect()) {
        let workload = Workload::new(&container, instances);
        if let Some(mut config) = workload.read_config()?
            && config.remove_database(database)
        {
            let changed = workload.write_config(&config)?;
            workload.apply(changed)?;
            let auth = workload.read_auth_file()?;
            backend_db::share(model, &config, auth.as_ref());
        }
    }
    if let Some(peers) = model.relation(PEERS)? {
        model.local_app_data(&peers).remove(&user)?;
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
