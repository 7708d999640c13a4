//! `relation-pair`: two charms, a provider and a requirer of the `pair_db`
//! interface, that talk through typed application databags.
//!
//! - The requirer's leader saves a [`interface::Request`] in its
//!   application databag: `bag.save(&request)`.
//! - The provider reads it with `bag.load::<Request>()` and its leader
//!   answers with a [`interface::Grant`] in its own application databag.
//! - The requirer reads the grant with `load::<Grant>()` and shows it.
//!
//! A value that does not fit its field (say `port: "many"`) is a
//! `ModelError::DatabagField` naming the key: each side blocks with a status
//! that names the relation and the key, never the remote value, and the
//! hook does not fail.
//!
//! One crate, two binaries (`relation-pair-provider`,
//! `relation-pair-requirer`), two charm directories (`provider/`,
//! `requirer/`), each with its own `charmcraft.yaml`.

pub mod interface;
pub mod provider;
pub mod requirer;

/// The relation's endpoint name, on both sides.
pub const ENDPOINT: &str = "db";
