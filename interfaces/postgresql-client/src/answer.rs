//! The answer: what the provider tells the requirer (written by
//! [`Answer::write`], read and checked by [`Answer::read`]). Credentials and
//! TLS go into Juju secrets when the requirer asked for them.

use std::collections::BTreeMap;
use std::fmt;

use ops::Model;
use ops::model::{ModelError, Relation};

use crate::fields::{self, Endpoint, FieldError};
use crate::request::DatabaseRequest;
use crate::{Received, keys, secrets};

/// The user the provider made for the requirer. `Debug` never shows the
/// password or the URIs (which hold it).
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Credentials {
    /// `username`.
    pub username: String,
    /// `password`.
    pub password: String,
    /// `uris`: connection URIs (`postgresql://user:password@host:port/db`).
    pub uris: Option<String>,
    /// `read-only-uris`: the same, for read-only connections.
    pub read_only_uris: Option<String>,
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("username", &self.username)
            .field("password", &"<redacted>")
            .field("uris", &self.uris.as_ref().map(|_| "<redacted>"))
            .field(
                "read_only_uris",
                &self.read_only_uris.as_ref().map(|_| "<redacted>"),
            )
            .finish()
    }
}

impl Credentials {
    /// A user and its password, without URIs.
    pub fn new(username: impl Into<String>, password: impl Into<String>) -> Self {
        Self {
            username: username.into(),
            password: password.into(),
            uris: None,
            read_only_uris: None,
        }
    }

    /// With `uris` (an empty value is none).
    pub fn with_uris(mut self, uris: impl Into<String>) -> Self {
        self.uris = Some(uris.into()).filter(|u| !u.is_empty());
        self
    }

    /// With `read-only-uris` (an empty value is none).
    pub fn with_read_only_uris(mut self, uris: impl Into<String>) -> Self {
        self.read_only_uris = Some(uris.into()).filter(|u| !u.is_empty());
        self
    }
}

/// TLS as the provider announces it: `tls` (`"True"` or `"False"`, as
/// Python's `str(bool)` writes it) and `tls-ca`, the CA (PEM) its server
/// certificate chains to.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Tls {
    /// Whether the server requires (or offers) TLS.
    pub enabled: bool,
    /// The CA, PEM.
    pub ca: Option<String>,
}

/// What the provider answers: where to connect, and (once the database and
/// its user exist) the credentials; TLS when the provider has it.
///
/// A provider builds one and [`write`](Self::write)s it; a requirer
/// [`read`](Self::read)s it, checked.
///
/// ```
/// use postgresql_client::{Answer, Credentials, Endpoint};
///
/// let answer = Answer::new(vec![Endpoint::new("pgbouncer.dev.svc.cluster.local", 6432)])
///     .with_database("appdb")
///     .with_version("16.4")
///     .with_credentials(Credentials::new("relation_id_5", "s3cret")
///         .with_uris("postgresql://relation_id_5:s3cret@pgbouncer.dev.svc.cluster.local:6432/appdb"))
///     .with_tls(Some("-----BEGIN CERTIFICATE-----\n...".to_string()));
/// let fields = answer.fields();
/// assert!(fields.contains(&("endpoints", "pgbouncer.dev.svc.cluster.local:6432".to_string())));
/// assert!(fields.contains(&("tls", "True".to_string())));
/// assert!(!format!("{answer:?}").contains("s3cret"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Answer {
    /// `endpoints`: the read/write `host:port`s.
    pub endpoints: Vec<Endpoint>,
    /// `read-only-endpoints`: replicas (none: the key is not there, or
    /// cannot be read: it is then left out, not refused).
    pub read_only_endpoints: Vec<Endpoint>,
    /// `database`: the database made for the requirer.
    pub database: Option<String>,
    /// `version`: the server's version.
    pub version: Option<String>,
    /// The user and its URIs (`secret-user`, or plainly).
    pub credentials: Option<Credentials>,
    /// `tls`, `tls-ca` (`secret-tls`, or plainly).
    pub tls: Option<Tls>,
    /// `subordinated`: the provider is a subordinate (`"true"`).
    pub subordinated: bool,
}

impl Answer {
    /// An answer that gives where to connect only.
    pub fn new(endpoints: Vec<Endpoint>) -> Self {
        Self {
            endpoints,
            read_only_endpoints: Vec::new(),
            database: None,
            version: None,
            credentials: None,
            tls: None,
            subordinated: false,
        }
    }

    /// With `read-only-endpoints`.
    pub fn with_read_only_endpoints(mut self, endpoints: Vec<Endpoint>) -> Self {
        self.read_only_endpoints = endpoints;
        self
    }

    /// With `database`.
    pub fn with_database(mut self, database: impl Into<String>) -> Self {
        self.database = Some(database.into());
        self
    }

    /// With `version`.
    pub fn with_version(mut self, version: impl Into<String>) -> Self {
        self.version = Some(version.into());
        self
    }

    /// With the user made for the requirer.
    pub fn with_credentials(mut self, credentials: Credentials) -> Self {
        self.credentials = Some(credentials);
        self
    }

    /// With TLS: `Some(ca)` is `tls: "True"` and `tls-ca`; `None` is
    /// `tls: "False"` and no CA (as the library's providers write it when
    /// TLS is off). Without this call the TLS fields are left as they are.
    pub fn with_tls(mut self, ca: Option<String>) -> Self {
        self.tls = Some(Tls {
            enabled: ca.is_some(),
            ca,
        });
        self
    }

    /// With `subordinated: "true"`.
    pub fn with_subordinated(mut self) -> Self {
        self.subordinated = true;
        self
    }

    /// The fields [`write`](Self::write) sets, before any goes into a
    /// secret; an empty value removes its key. Parts of the answer that are
    /// not given (`None`) are not here, so a write leaves them as they are;
    /// the credentials and TLS are each written whole (a URI that is gone
    /// is removed).
    pub fn fields(&self) -> Vec<(&'static str, String)> {
        let join = |list: &[Endpoint]| {
            list.iter()
                .map(Endpoint::to_string)
                .collect::<Vec<_>>()
                .join(",")
        };
        let mut fields = vec![
            (keys::ENDPOINTS, join(&self.endpoints)),
            (keys::READ_ONLY_ENDPOINTS, join(&self.read_only_endpoints)),
        ];
        if let Some(database) = &self.database {
            fields.push((keys::DATABASE, database.clone()));
        }
        if let Some(version) = &self.version {
            fields.push((keys::VERSION, version.clone()));
        }
        if let Some(c) = &self.credentials {
            fields.extend([
                (keys::USERNAME, c.username.clone()),
                (keys::PASSWORD, c.password.clone()),
                (keys::URIS, c.uris.clone().unwrap_or_default()),
                (
                    keys::READ_ONLY_URIS,
                    c.read_only_uris.clone().unwrap_or_default(),
                ),
            ]);
        }
        if let Some(tls) = &self.tls {
            let enabled = if tls.enabled { "True" } else { "False" };
            fields.extend([
                (keys::TLS, enabled.to_string()),
                (keys::TLS_CA, tls.ca.clone().unwrap_or_default()),
            ]);
        }
        fields.push((
            keys::SUBORDINATED,
            if self.subordinated { "true" } else { "" }.to_string(),
        ));
        fields
    }

    /// Writes the answer into `relation` on the leader (nothing on other
    /// units, which may not write the app databag). The fields the
    /// requirer listed in `requested-secrets` go into application-owned
    /// secrets, one per group, labelled `<endpoint>.<relation id>.<group>.secret`
    /// and granted to the relation, their URIs in `secret-user`,
    /// `secret-tls`, `secret-extra`; the others, and all of them for a
    /// requirer that asked for none, plainly (see [`crate`] for the rules).
    ///
    /// `requested-secrets` is read from the requirer's app databag; one
    /// that cannot be read is taken as the library's default list, so a
    /// garbled request never sends credentials plainly.
    pub fn write(&self, model: &Model, relation: &Relation) -> Result<(), ModelError> {
        if !model.is_leader()? {
            return Ok(());
        }
        let requested = requested_secrets(model, relation)?;
        secrets::write(model, relation, &requested, &self.fields())
    }

    /// What the provider answered in `relation`, read and checked (the
    /// secrets' fields from the secrets, the others from the databag):
    /// [`Received::NotYet`] until it gives endpoints, a username and a
    /// password (and while a secret it names is not readable yet);
    /// [`Received::Invalid`] for a value the interface does not allow.
    pub fn read(model: &Model, relation: &Relation) -> Result<Received<Self>, ModelError> {
        if relation.app.is_none() {
            return Ok(Received::NotYet);
        }
        Ok(match secrets::remote_view(model, relation)? {
            Received::Ready(bag) => match Self::from_bag(&bag) {
                Ok(Some(answer)) => Received::Ready(answer),
                Ok(None) => Received::NotYet,
                Err(e) => Received::Invalid(e),
            },
            Received::NotYet => Received::NotYet,
            Received::Invalid(e) => Received::Invalid(e),
        })
    }

    /// [`read`](Self::read) from the fields, secrets' fields in place:
    /// `None` until endpoints, username and password are all there.
    pub fn from_bag(bag: &BTreeMap<String, String>) -> Result<Option<Self>, FieldError> {
        let field = |key: &str| bag.get(key).filter(|v| !v.is_empty());
        let (Some(endpoints), Some(username), Some(password)) = (
            field(keys::ENDPOINTS),
            field(keys::USERNAME),
            field(keys::PASSWORD),
        ) else {
            return Ok(None);
        };
        let endpoints = fields::endpoints(keys::ENDPOINTS, endpoints)?;
        fields::name(keys::USERNAME, username, fields::MAX_IDENTIFIER)?;
        fields::name(keys::PASSWORD, password, fields::MAX_PASSWORD)?;
        let optional = |key: &'static str, max: usize, multiline: bool| match field(key) {
            Some(value) => fields::text(key, value, max, multiline).map(|()| Some(value.clone())),
            None => Ok(None),
        };
        let database = match field(keys::DATABASE) {
            Some(name) => {
                fields::name(keys::DATABASE, name, fields::MAX_IDENTIFIER)?;
                Some(name.clone())
            }
            None => None,
        };
        let tls = match (
            field(keys::TLS),
            optional(keys::TLS_CA, fields::MAX_CA, true)?,
        ) {
            (None, None) => None,
            (enabled, ca) => Some(Tls {
                enabled: enabled.is_some_and(|t| t.eq_ignore_ascii_case("true")),
                ca,
            }),
        };
        Ok(Some(Self {
            endpoints,
            read_only_endpoints: read_only_endpoints(field(keys::READ_ONLY_ENDPOINTS)),
            database,
            version: optional(keys::VERSION, fields::MAX_SHORT_TEXT, false)?,
            credentials: Some(Credentials {
                username: username.clone(),
                password: password.clone(),
                uris: optional(keys::URIS, fields::MAX_SHORT_TEXT, false)?,
                read_only_uris: optional(keys::READ_ONLY_URIS, fields::MAX_SHORT_TEXT, false)?,
            }),
            tls,
            subordinated: field(keys::SUBORDINATED).is_some_and(|s| s == "true"),
        }))
    }
}

/// `read-only-endpoints`: replicas only add routes (the primary serves
/// reads too), so a list that cannot be read is left out, with a warning
/// that names the field, rather than refusing the whole answer.
fn read_only_endpoints(value: Option<&String>) -> Vec<Endpoint> {
    let value = value.map_or("", String::as_str);
    fields::endpoints(keys::READ_ONLY_ENDPOINTS, value).unwrap_or_else(|e| {
        ops::tracing::warn!("ignoring the provider's read-only endpoints: {e}");
        Vec::new()
    })
}

/// The fields the requirer wants in secrets: its `requested-secrets`, none
/// when it has not listed any, the library's defaults when the list cannot
/// be read or the requirer is not known (never the plain databag because
/// the request could not be read).
fn requested_secrets(model: &Model, relation: &Relation) -> Result<Vec<String>, ModelError> {
    if relation.app.is_none() {
        return Ok(DatabaseRequest::new("").requested_secrets);
    }
    let Some(text) = model
        .remote_app_data(relation)?
        .get(keys::REQUESTED_SECRETS)?
        .filter(|t| !t.is_empty())
    else {
        return Ok(Vec::new());
    };
    Ok(match fields::string_list(keys::REQUESTED_SECRETS, &text) {
        Ok(list) => list,
        Err(e) => {
            ops::tracing::warn!("taking the library's default secret fields: {e}");
            DatabaseRequest::new("").requested_secrets
        }
    })
}
