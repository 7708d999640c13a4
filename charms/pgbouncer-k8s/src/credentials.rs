//! The application's credentials: one application-owned Juju secret, shared
//! with every unit through the `pgb-peers` relation.
//!
//! What is secret never goes into a databag (an app databag is readable by
//! anyone who can read the model: `juju show-unit`). The leader keeps, in
//! one secret owned by the application:
//!
//! | content key | value |
//! |---|---|
//! | [`AUTH_FILE_KEY`] | PgBouncer's auth file, as rendered |
//! | [`ADMIN_PASSWORD_KEY`] | the admin console user's password |
//! | [`STATS_PASSWORD_KEY`] | the stats user's password (the exporter's) |
//! | `client-<id>` ([`client_key`]) | the password of client relation `<id>`'s user |
//!
//! Units of the owning application get no `secret-changed` when the leader
//! sets a new revision, so the peer app databag carries two plain records:
//! [`SECRET_ID`] (where the secret is) and [`SECRET_REVISION`] (a counter the
//! leader moves on with every new revision). A change of the counter is a
//! `pgb-peers` relation-changed on every follower, which then reads the
//! secret again (`secret-get --peek`: the latest revision, whatever this
//! unit tracked before).
//!
//! Deployments of older revisions of this charm kept these values in the
//! peer app databag (`auth_file`, `admin_password`, `relation_id_<id>`); the
//! leader moves them into the secret ([`Credentials::load`] reads them,
//! [`Credentials::save`] deletes them from the databag).

use std::collections::BTreeMap;
use std::fmt;

use ops::Model;
use ops::model::{ModelError, Relation, SecretOptions, SecretOwner};

use crate::auth::AuthFile;

/// Peer app databag: the id of the application's secret.
pub const SECRET_ID: &str = "secret_id";
/// Peer app databag: the number of the secret's content the leader last
/// set; followers read the secret again when it moves.
pub const SECRET_REVISION: &str = "secret_revision";
/// The label the leader gives the secret.
pub const SECRET_LABEL: &str = "pgb-peers.app";
/// Content key: the auth file.
pub const AUTH_FILE_KEY: &str = "auth-file";
/// Content key: the admin console user's password.
pub const ADMIN_PASSWORD_KEY: &str = "admin-password";
/// Content key: the stats user's password, which the metrics exporter
/// connects with.
pub const STATS_PASSWORD_KEY: &str = "stats-password";
/// The prefix of [`client_key`].
pub const CLIENT_KEY_PREFIX: &str = "client-";

/// Older revisions' peer app databag keys, moved into the secret.
pub mod legacy {
    /// The auth file.
    pub const AUTH_FILE: &str = "auth_file";
    /// The admin password.
    pub const ADMIN_PASSWORD: &str = "admin_password";
    /// The prefix of a client relation's password (`relation_id_<id>`).
    pub const RELATION_PASSWORD_PREFIX: &str = "relation_id_";
}

/// The content key of client relation `id`'s password.
///
/// ```
/// assert_eq!(pgbouncer_k8s::credentials::client_key(4), "client-4");
/// ```
pub fn client_key(id: u32) -> String {
    format!("{CLIENT_KEY_PREFIX}{id}")
}

/// What the application keeps secret. `Debug` shows which values are
/// there, never a value.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Credentials {
    /// The auth file's text.
    pub auth_file: Option<String>,
    /// The admin console user's password.
    pub admin_password: Option<String>,
    /// The stats user's password (the metrics exporter's).
    pub stats_password: Option<String>,
    /// Client relation id to its user's password.
    pub client_passwords: BTreeMap<u32, String>,
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("auth_file", &self.auth_file.as_ref().map(|_| "<redacted>"))
            .field(
                "admin_password",
                &self.admin_password.as_ref().map(|_| "<redacted>"),
            )
            .field(
                "stats_password",
                &self.stats_password.as_ref().map(|_| "<redacted>"),
            )
            .field(
                "client_passwords",
                &self.client_passwords.keys().collect::<Vec<_>>(),
            )
            .finish()
    }
}

/// Where the credentials came from, and so what [`Credentials::save`] must do.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Source {
    /// The secret's id, when there is one.
    pub secret_id: Option<String>,
    /// The content as read (to set a new revision only when it changed).
    read: Credentials,
    /// Older revisions' databag keys found (to delete once moved).
    legacy_keys: Vec<String>,
}

/// Why the credentials could not be read.
#[derive(Debug, thiserror::Error)]
pub enum CredentialsError {
    /// Juju refused or failed (the secret is gone, or not readable here).
    #[error("cannot read the application secret {id}: {source}")]
    Unreadable {
        /// The secret id from the peer databag.
        id: String,
        /// Juju's error (boxed: rare, and large).
        source: Box<ModelError>,
    },
    /// Reading or writing a databag failed.
    #[error(transparent)]
    Model(#[from] ModelError),
}

impl Credentials {
    /// The credentials as the application keeps them: the secret named in
    /// the peer app databag, with any value an older revision left in the
    /// databag (leader: moved at the next [`save`](Self::save)).
    pub fn load(model: &Model, peers: &Relation) -> Result<(Self, Source), CredentialsError> {
        let bag = model.local_app_data(peers).get_all()?;
        let mut source = Source::default();
        let mut credentials = Credentials::default();
        if let Some(id) = bag.get(SECRET_ID).filter(|id| !id.is_empty()) {
            let content = model
                .get_secret(Some(id), None)
                .and_then(|secret| secret.peek_content())
                .map_err(|source| CredentialsError::Unreadable {
                    id: id.clone(),
                    source: Box::new(source),
                })?;
            credentials = Self::from_content(content.iter());
            source.secret_id = Some(id.clone());
        }
        source.read = credentials.clone();
        // Older revisions' keys: taken when the secret lacks them.
        if let Some(text) = bag.get(legacy::AUTH_FILE) {
            credentials.auth_file.get_or_insert_with(|| text.clone());
            source.legacy_keys.push(legacy::AUTH_FILE.to_string());
        }
        if let Some(password) = bag.get(legacy::ADMIN_PASSWORD) {
            credentials
                .admin_password
                .get_or_insert_with(|| password.clone());
            source.legacy_keys.push(legacy::ADMIN_PASSWORD.to_string());
        }
        for (key, password) in &bag {
            let Some(id) = key
                .strip_prefix(legacy::RELATION_PASSWORD_PREFIX)
                .and_then(|id| id.parse::<u32>().ok())
            else {
                continue;
            };
            credentials
                .client_passwords
                .entry(id)
                .or_insert_with(|| password.clone());
            source.legacy_keys.push(key.clone());
        }
        Ok((credentials, source))
    }

    fn from_content<'a>(content: impl Iterator<Item = (&'a str, &'a str)>) -> Self {
        let mut credentials = Credentials::default();
        for (key, value) in content {
            match key {
                AUTH_FILE_KEY => credentials.auth_file = Some(value.to_string()),
                ADMIN_PASSWORD_KEY => credentials.admin_password = Some(value.to_string()),
                STATS_PASSWORD_KEY => credentials.stats_password = Some(value.to_string()),
                _ => {
                    if let Some(id) = key
                        .strip_prefix(CLIENT_KEY_PREFIX)
                        .and_then(|id| id.parse().ok())
                    {
                        credentials.client_passwords.insert(id, value.to_string());
                    }
                }
            }
        }
        credentials
    }

    fn to_content(&self) -> BTreeMap<String, String> {
        let mut content = BTreeMap::new();
        if let Some(text) = self.auth_file.as_ref().filter(|t| !t.is_empty()) {
            content.insert(AUTH_FILE_KEY.to_string(), text.clone());
        }
        if let Some(password) = &self.admin_password {
            content.insert(ADMIN_PASSWORD_KEY.to_string(), password.clone());
        }
        if let Some(password) = &self.stats_password {
            content.insert(STATS_PASSWORD_KEY.to_string(), password.clone());
        }
        for (id, password) in &self.client_passwords {
            content.insert(client_key(*id), password.clone());
        }
        content
    }

    /// The auth file, if there is one and it reads as one. One that does
    /// not is logged (never its content) and ignored.
    pub fn auth(&self) -> Option<AuthFile> {
        let text = self.auth_file.as_ref()?;
        match AuthFile::parse(text) {
            Ok(auth) => Some(auth),
            Err(e) => {
                tracing::warn!(
                    "ignoring the auth file in the application secret ({} bytes): {}",
                    text.len(),
                    e.kind_without_content()
                );
                None
            }
        }
    }

    /// Leader: keeps these credentials, creating the secret the first time
    /// or setting a new revision when the content changed, moves the
    /// counter in the peer app databag on, and deletes what older revisions
    /// left in the databag. Nothing is sent when nothing changed.
    pub fn save(
        &self,
        model: &Model,
        peers: &Relation,
        source: &mut Source,
    ) -> Result<(), ModelError> {
        let bag = model.local_app_data(peers);
        for key in source.legacy_keys.drain(..) {
            bag.remove(&key)?;
        }
        if *self == source.read && source.secret_id.is_some() {
            return Ok(());
        }
        let content = self.to_content();
        if content.is_empty() {
            return Ok(());
        }
        match &source.secret_id {
            Some(id) => model.get_secret(Some(id), None)?.set_content(content)?,
            None => {
                let secret = model.add_secret(
                    content,
                    SecretOptions::new()
                        .with_label(SECRET_LABEL.to_string())
                        .with_owner(SecretOwner::Application)
                        .with_description(
                            "pgbouncer-k8s: the auth file and the users' passwords".to_string(),
                        ),
                )?;
                let id = secret.id().unwrap_or_default().to_string();
                bag.set(SECRET_ID, &id)?;
                source.secret_id = Some(id);
            }
        }
        let revision = bag
            .get(SECRET_REVISION)?
            .and_then(|r| r.parse::<u64>().ok())
            .unwrap_or(0);
        bag.set(SECRET_REVISION, &(revision + 1).to_string())?;
        source.read = self.clone();
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_round_trips_and_keys_are_juju_keys() {
        let credentials = Credentials {
            auth_file: Some("\"u\" \"p\"\n".to_string()),
            admin_password: Some("admin-pw".to_string()),
            stats_password: Some("stats-pw".to_string()),
            client_passwords: BTreeMap::from([(4, "c4".to_string()), (12, "c12".to_string())]),
        };
        let content = credentials.to_content();
        for key in content.keys() {
            // Juju: ^[a-z](?:-?[a-z0-9]){2,}$
            assert!(key.chars().next().unwrap().is_ascii_lowercase(), "{key}");
            assert!(!key.contains("--") && !key.ends_with('-'), "{key}");
            assert!(
                key.chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-'),
                "{key}"
            );
        }
        let back = Credentials::from_content(content.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        assert_eq!(back, credentials);
    }

    #[test]
    fn debug_shows_no_value() {
        let credentials = Credentials {
            auth_file: Some("auth-file-text".to_string()),
            admin_password: Some("admin-pw-text".to_string()),
            stats_password: Some("stats-pw-text".to_string()),
            client_passwords: BTreeMap::from([(4, "client-pw-text".to_string())]),
        };
        let shown = format!("{credentials:?}");
        for value in [
            "auth-file-text",
            "admin-pw-text",
            "stats-pw-text",
            "client-pw-text",
        ] {
            assert!(!shown.contains(value), "{shown}");
        }
        assert!(shown.contains('4'), "{shown}");
    }
}
