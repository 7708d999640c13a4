//! Whether PgBouncer answers where its clients connect.
//!
//! The charm's container and the workload's share the pod's network, so
//! the charm reaches PgBouncer on loopback at `listen_port`, as a client in
//! the pod would. Pebble saying a service runs is not enough: a PgBouncer
//! that runs but does not listen (a port taken, a listener stuck) serves
//! nobody.

use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::time::Duration;

/// How long a connection attempt may take before PgBouncer counts as not
/// answering.
pub const TIMEOUT: Duration = Duration::from_secs(2);

/// `Ok` if something accepts a connection on 127.0.0.1:`port`; otherwise
/// the reason, as the unit status shows it.
///
/// ```
/// let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
/// let port = listener.local_addr().unwrap().port();
/// assert!(pgbouncer_k8s::probe::answers(port).is_ok());
/// drop(listener);
/// assert!(pgbouncer_k8s::probe::answers(port).unwrap_err().contains("does not answer"));
/// ```
pub fn answers(port: u16) -> Result<(), String> {
    let address = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    TcpStream::connect_timeout(&address, TIMEOUT)
        .map(drop)
        .map_err(|e| format!("PgBouncer does not answer on {address}: {}", e.kind()))
}
