//! The application's Kubernetes Service: one address for every unit.
//!
//! Juju makes a Service named after each sidecar application
//! (`<app>.<model>.svc.cluster.local`), over every unit's pod, and puts
//! the ports the units open on it. Clients are sent there, not to a pod:
//! adding units adds capacity behind the one address, and a pod that
//! restarts (churn, `juju refresh`, a node drain) neither changes nor cuts
//! it. Nothing here needs `juju trust`.

use ops::Model;
use ops::model::{ModelError, PortProtocol};

use crate::memory::Memory;

/// The Service's name in the cluster's DNS: `<app>.<model>.svc.cluster.local`.
///
/// ```
/// assert_eq!(
///     pgbouncer_k8s::service::hostname("pgbouncer-k8s/1", "dev"),
///     "pgbouncer-k8s.dev.svc.cluster.local",
/// );
/// ```
pub fn hostname(unit_name: &str, model_name: &str) -> String {
    let app = unit_name.split_once('/').map_or(unit_name, |(app, _)| app);
    format!("{app}.{model_name}.svc.cluster.local")
}

/// This application's Service.
pub fn own_hostname(model: &Model) -> String {
    hostname(model.unit().name(), model.name())
}

/// Opens `port` (TCP) on this unit and closes the one opened before, so
/// that the Service carries PgBouncer's port. Remembered in unit state:
/// nothing is sent while the port stays the same.
pub fn open_listen_port(model: &Model, memory: &mut Memory, port: u16) -> Result<(), ModelError> {
    if memory.opened_port == Some(port) {
        return Ok(());
    }
    if let Some(old) = memory.opened_port {
        model.close_port(PortProtocol::Tcp, Some(old))?;
    }
    model.open_port(PortProtocol::Tcp, Some(port))?;
    memory.opened_port = Some(port);
    Ok(())
}
