//! pgbouncer-k8s: a Kubernetes sidecar charm for PgBouncer, written with ops-rs.
//!
//! The leader renders PgBouncer's config and auth file and shares them, with
//! its hostname, through the `pgb-peers` peer relation; every unit publishes
//! its hostname; followers write what the leader shares into their workload
//! container and restart PgBouncer when a file changed.

#![deny(missing_docs)]

pub mod answers;
pub mod auth;
pub mod backend_db;
pub mod backend_info;
pub mod backend_tls;
pub mod charm;
pub mod client;
pub mod client_tls;
pub mod credentials;
pub mod error;
/// The charm's metadata as typed items, generated from `charmcraft.yaml` by
/// `build.rs` (`ops::codegen`): endpoints (`meta::PGB_PEERS`, with their role
/// and interface), `meta::containers`, `meta::resources`, `meta::actions`,
/// `meta::options` and the typed [`meta::Config`]. `Framework::observe_relation`,
/// `Model::relation`, `Model::container`, `Config::get` and the
/// action observers take them, so a misspelt name is a build error:
///
/// ```
/// use ops::events::RelationChanged;
/// use ops::{Charm, Ctx, Framework, HandlerError, HandlerResult};
/// use pgbouncer_k8s::meta;
///
/// struct Probe;
///
/// impl Charm for Probe {
///     fn new(fw: &mut Framework<Self>) -> Result<Self, HandlerError> {
///         fw.observe_relation(meta::PGB_PEERS, Self::on_changed)?;
///         Ok(Probe)
///     }
/// }
///
/// impl Probe {
///     fn on_changed(&mut self, _: &RelationChanged, _: &mut Ctx) -> HandlerResult {
///         Ok(())
///     }
/// }
///
/// assert_eq!(meta::PGB_PEERS.name(), "pgb-peers");
/// assert_eq!(meta::PGB_PEERS.role(), ops::EndpointRole::Peer);
/// assert_eq!(meta::PGB_PEERS.interface(), "pgb_peers");
/// assert_eq!(meta::Config::default().listen_port, 6432);
/// ```
///
/// The same charm with the endpoint misspelt does not build:
///
/// ```compile_fail
/// use ops::events::RelationChanged;
/// use ops::{Charm, Ctx, Framework, HandlerError, HandlerResult};
/// use pgbouncer_k8s::meta;
///
/// struct Probe;
///
/// impl Charm for Probe {
///     fn new(fw: &mut Framework<Self>) -> Result<Self, HandlerError> {
///         fw.observe_relation(meta::PGB_PEER, Self::on_changed)?;
///         Ok(Probe)
///     }
/// }
///
/// impl Probe {
///     fn on_changed(&mut self, _: &RelationChanged, _: &mut Ctx) -> HandlerResult {
///         Ok(())
///     }
/// }
/// ```
pub mod meta {
    include!(concat!(env!("OUT_DIR"), "/meta.rs"));
}
pub mod memory;
pub mod names;
pub mod observability;
pub mod peer_relation;
pub mod peers;
pub mod pgb_config;
pub mod probe;
pub mod serve;
pub mod service;
pub mod settings;
pub mod situation;
pub mod sql;
pub mod workload;

#[cfg(test)]
mod test_support;

/// The crate's unit tests allocate as its in-process tests do (their
/// property tests above all: strings and collections for every value
/// generated), and take the same allocator (`tests/support/mod.rs` says
/// why). The charm's binary keeps the system's.
#[cfg(test)]
#[global_allocator]
static TEST_ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

pub use charm::PgbouncerK8sCharm;
