//! pgbouncer-k8s: a Kubernetes sidecar charm for PgBouncer, written with ops-rs.
//!
//! The leader renders PgBouncer's config and auth file and shares them, with
//! its hostname, through the `pgb-peers` peer relation; every unit publishes
//! its hostname; followers write what the leader shares into their workload
//! container and restart PgBouncer when a file changed.

#![deny(missing_docs)]

pub mod auth;
pub mod backend_db;
pub mod charm;
pub mod client;
pub mod names;
pub mod peers;
pub mod pgb_config;
pub mod probe;
pub mod serve;
pub mod settings;
pub mod sql;
pub mod workload;

pub use charm::PgbouncerK8sCharm;
