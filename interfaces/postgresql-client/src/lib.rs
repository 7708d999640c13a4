//! Both sides of Juju's `postgresql_client` interface: a requirer asks for a
//! database, a provider (a PostgreSQL, or a PgBouncer in front of one)
//! makes it and a user, and answers where to connect and as whom — the
//! credentials and TLS in Juju secrets when the requirer asks for that.
//!
//! The databags and secrets are those of Canonical's charm library
//! `charms.data_platform_libs.v0.data_interfaces` (`DatabaseRequires`,
//! `DatabaseProvides`, LIBPATCH 59), so either side can be a Python charm.
//!
//! | who writes | where | keys |
//! |---|---|---|
//! | requirer (leader) | its app databag | `database`, `extra-user-roles`, `external-node-connectivity` (`"true"`), `requested-secrets`, `provided-secrets` ([`DatabaseRequest::app_data`]) |
//! | requirer (leader) | its unit databag | `requested-secrets`, `provided-secrets` |
//! | provider (leader) | its app databag | `endpoints`, `read-only-endpoints`, `database`, `version`, `subordinated`; `username`, `password`, `uris`, `read-only-uris`, `tls` (`"True"`/`"False"`), `tls-ca` plainly, or instead `secret-user`, `secret-tls` (and `secret-extra`) holding secret URIs ([`Answer::fields`]) |
//!
//! `requested-secrets` is a JSON list of field names; the library's
//! requirer asks for [`DEFAULT_REQUESTED_SECRETS`]. A provider puts each
//! listed field into the secret of its [`SecretGroup`] (`username`,
//! `password`, `uris`, `read-only-uris` into `user`; `tls`, `tls-ca` into
//! `tls`; any other into `extra`): an application-owned secret labelled
//! `<endpoint>.<relation id>.<group>.secret`, granted to the relation, its
//! URI in `secret-<group>`. It is updated in place, without a new revision
//! when nothing changed, and removed when it would be empty. A requirer
//! that lists nothing gets everything plainly, and so does one whose
//! relation started on the databag (a listed field is already there
//! plainly: the library's fallback for requirers that learnt secrets later).
//! Where this crate is stricter than the library: a requirer that lists
//! any field gets `password`, `uris` and `read-only-uris` in the user
//! secret even if it did not list them ([`HOLDS_PASSWORD`]), so a password
//! never goes plainly to a requirer that knows secrets.
//!
//! A requirer reads each group from its secret (the latest revision, which
//! it then tracks, labelled `<its endpoint>.<relation id>.<group>.secret` as
//! the library labels it) and the other fields from the databag; a group
//! without a secret, or with an empty one, is read plainly (a provider
//! without secrets).
//!
//! Not written: the library's `data` key (each side's copy of the other's
//! databag, for its own change detection: handlers here read the current
//! state instead), aliases, prefix matching and entities, and the
//! cross-model encryption of `mtls-cert`.
//!
//! Everything read from the other side is checked ([`FieldError`] names the
//! field and the value's length, never the value): names on one line and at
//! most 63 bytes, `endpoints` as `host:port` lists, secret URIs as
//! `secret:...` only; `read-only-endpoints` that cannot be read are left
//! out (with a warning) rather than refusing the answer, since replicas only
//! add routes. `Debug` never shows a password or a URI.
//!
//! The requirer:
//!
//! ```no_run
//! use ops::Model;
//! use ops::model::{ModelError, Relation};
//! use postgresql_client::{Answer, DatabaseRequest, Received};
//!
//! fn on_changed(model: &Model, relation: &Relation) -> Result<(), ModelError> {
//!     DatabaseRequest::new("app").write(model, relation)?;
//!     match Answer::read(model, relation)? {
//!         // A ready answer has endpoints and credentials.
//!         Received::Ready(answer) => {
//!             if let (Some(at), Some(credentials)) = (answer.endpoints.first(), &answer.credentials) {
//!                 println!("connect to {at} as {}", credentials.username);
//!             }
//!         }
//!         Received::NotYet => {}
//!         Received::Invalid(e) => eprintln!("refusing the answer: {e}"),
//!         _ => {}
//!     }
//!     Ok(())
//! }
//! ```
//!
//! The provider:
//!
//! ```no_run
//! use ops::Model;
//! use ops::model::{ModelError, Relation};
//! use postgresql_client::{Answer, Credentials, DatabaseRequest, Endpoint, Received};
//!
//! fn on_changed(model: &Model, relation: &Relation) -> Result<(), ModelError> {
//!     let Received::Ready(request) = DatabaseRequest::read(model, relation)? else {
//!         return Ok(());
//!     };
//!     // ... create request.database and a user for it ...
//!     Answer::new(vec![Endpoint::new("127.0.0.1", 5432)])
//!         .with_database(request.database)
//!         .with_credentials(Credentials::new("relation_id_5", "generated-password"))
//!         .with_tls(None)
//!         .write(model, relation)
//! }
//! ```

#![deny(missing_docs)]

mod answer;
mod fields;
mod request;
mod secrets;

pub use answer::{Answer, Credentials, Tls};
pub use fields::{Endpoint, FieldError};
pub use request::{DEFAULT_PROVIDED_SECRETS, DEFAULT_REQUESTED_SECRETS, DatabaseRequest};
pub use secrets::{HOLDS_PASSWORD, SecretGroup};

/// The interface name.
pub const INTERFACE: &str = "postgresql_client";

/// The databag keys.
pub mod keys {
    /// Request and answer: the database's name.
    pub const DATABASE: &str = "database";
    /// Request: roles for the user.
    pub const EXTRA_USER_ROLES: &str = "extra-user-roles";
    /// Request: `"true"` when the client runs outside the cluster.
    pub const EXTERNAL_NODE_CONNECTIVITY: &str = "external-node-connectivity";
    /// Request (app and unit databag): the answer's fields wanted in secrets.
    pub const REQUESTED_SECRETS: &str = "requested-secrets";
    /// Request (app and unit databag): the requirer's own secret fields.
    pub const PROVIDED_SECRETS: &str = "provided-secrets";
    /// Answer: read/write `host:port`s, comma-separated.
    pub const ENDPOINTS: &str = "endpoints";
    /// Answer: read-only `host:port`s, comma-separated.
    pub const READ_ONLY_ENDPOINTS: &str = "read-only-endpoints";
    /// Answer: the server's version.
    pub const VERSION: &str = "version";
    /// Answer (or the user secret): the user.
    pub const USERNAME: &str = "username";
    /// Answer (or the user secret): its password.
    pub const PASSWORD: &str = "password";
    /// Answer (or the user secret): connection URIs.
    pub const URIS: &str = "uris";
    /// Answer (or the user secret): read-only connection URIs.
    pub const READ_ONLY_URIS: &str = "read-only-uris";
    /// Answer (or the TLS secret): `"True"` or `"False"`.
    pub const TLS: &str = "tls";
    /// Answer (or the TLS secret): the CA, PEM.
    pub const TLS_CA: &str = "tls-ca";
    /// Answer: `"true"` when the provider is a subordinate.
    pub const SUBORDINATED: &str = "subordinated";
    /// Answer: the URI of the user secret.
    pub const SECRET_USER: &str = "secret-user";
    /// Answer: the URI of the TLS secret.
    pub const SECRET_TLS: &str = "secret-tls";
    /// Answer: the URI of the secret of the other requested fields.
    pub const SECRET_EXTRA: &str = "secret-extra";
}

/// What the other side has written, read and checked.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Received<T> {
    /// Not there yet (or not complete, or a secret not readable yet).
    NotYet,
    /// There, and every value fits the interface.
    Ready(T),
    /// There, with a value the interface does not allow (named, not quoted).
    Invalid(FieldError),
}

#[cfg(test)]
mod tests;
