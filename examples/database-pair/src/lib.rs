//! `database-pair`: two charms, a client and a provider of Juju's
//! `postgresql_client` interface, through the interface crate
//! [`postgresql_client`]: the client's leader writes a
//! [`DatabaseRequest`](postgresql_client::DatabaseRequest), the provider
//! reads it and its leader writes an [`Answer`](postgresql_client::Answer)
//! (credentials and TLS in Juju secrets, as the client asked), and every
//! client unit reads the answer. Either side talks to a Python charm that
//! uses `data_platform_libs` as well.
//!
//! One crate, two binaries (`database-pair-provider`,
//! `database-pair-requirer`), two charm directories (`provider/`,
//! `requirer/`), each with its own `charmcraft.yaml`.

pub mod provider;
pub mod requirer;

/// The relation's endpoint name, on both sides.
pub const ENDPOINT: &str = "database";
