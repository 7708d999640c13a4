//! The request: what the requirer asks for in its app databag (written by
//! [`DatabaseRequest::write`], read and checked by [`DatabaseRequest::read`]).

use ops::Model;
use ops::model::{ModelError, Relation};

use crate::fields::{self, FieldError};
use crate::{Received, keys};

/// The fields the library's `DatabaseRequires` asks to have in secrets
/// (`RequirerData.SECRET_FIELDS`), in its order.
pub const DEFAULT_REQUESTED_SECRETS: [&str; 8] = [
    keys::USERNAME,
    keys::PASSWORD,
    keys::TLS,
    keys::TLS_CA,
    keys::URIS,
    keys::READ_ONLY_URIS,
    "entity-name",
    "entity-password",
];

/// The fields the library's requirer says it would put in secrets of its
/// own (`provided-secrets`): the secret fields it does not request. A
/// database requirer never sends any, but writes the list all the same.
pub const DEFAULT_PROVIDED_SECRETS: [&str; 1] = ["mtls-cert"];

/// What a requirer asks for: a database (by name), extra roles for its
/// user, and which of the answer's fields it wants in Juju secrets.
///
/// ```
/// use postgresql_client::DatabaseRequest;
///
/// let request = DatabaseRequest::new("pgbouncer").with_extra_user_roles("SUPERUSER");
/// let app = request.app_data();
/// assert_eq!(app[0], ("database", "pgbouncer".to_string()));
/// assert_eq!(app[1], ("extra-user-roles", "SUPERUSER".to_string()));
/// assert_eq!(app[3].1, r#"["username", "password", "tls", "tls-ca", "uris", "read-only-uris", "entity-name", "entity-password"]"#);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct DatabaseRequest {
    /// `database`: the database's name.
    pub database: String,
    /// `extra-user-roles`: roles for the user, as the provider understands
    /// them (PostgreSQL's charms: `SUPERUSER`, `CREATEDB`, ...).
    pub extra_user_roles: Option<String>,
    /// `external-node-connectivity`: the client runs outside the cluster.
    pub external_node_connectivity: bool,
    /// `requested-secrets`: the answer's fields wanted in Juju secrets.
    /// Empty: everything plainly in the databag (a requirer that does not
    /// know secrets).
    pub requested_secrets: Vec<String>,
}

impl DatabaseRequest {
    /// A request for `database`, asking for the library's default secret
    /// fields ([`DEFAULT_REQUESTED_SECRETS`]).
    pub fn new(database: impl Into<String>) -> Self {
        Self {
            database: database.into(),
            extra_user_roles: None,
            external_node_connectivity: false,
            requested_secrets: DEFAULT_REQUESTED_SECRETS.map(str::to_string).to_vec(),
        }
    }

    /// With `extra-user-roles`.
    pub fn with_extra_user_roles(mut self, roles: impl Into<String>) -> Self {
        self.extra_user_roles = Some(roles.into());
        self
    }

    /// With `external-node-connectivity: "true"`.
    pub fn with_external_node_connectivity(mut self) -> Self {
        self.external_node_connectivity = true;
        self
    }

    /// Asking for these fields in secrets instead of the defaults (none:
    /// everything in the plain databag).
    pub fn with_requested_secrets<S: Into<String>>(
        mut self,
        fields: impl IntoIterator<Item = S>,
    ) -> Self {
        self.requested_secrets = fields.into_iter().map(Into::into).collect();
        self
    }

    /// The requirer's app databag (leader), as the library writes it; an
    /// empty value is no key (the library leaves unset fields out).
    pub fn app_data(&self) -> [(&'static str, String); 5] {
        let [requested, provided] = self.unit_data();
        [
            (keys::DATABASE, self.database.clone()),
            (
                keys::EXTRA_USER_ROLES,
                self.extra_user_roles.clone().unwrap_or_default(),
            ),
            (
                keys::EXTERNAL_NODE_CONNECTIVITY,
                if self.external_node_connectivity {
                    "true".to_string()
                } else {
                    String::new()
                },
            ),
            requested,
            provided,
        ]
    }

    /// The requirer leader's unit databag: the library writes the secret
    /// lists there too.
    pub fn unit_data(&self) -> [(&'static str, String); 2] {
        let list = |fields: &[String]| {
            if fields.is_empty() {
                String::new()
            } else {
                fields::python_json_list(fields)
            }
        };
        let provided: Vec<String> = if self.requested_secrets.is_empty() {
            Vec::new()
        } else {
            DEFAULT_PROVIDED_SECRETS.map(str::to_string).to_vec()
        };
        [
            (keys::REQUESTED_SECRETS, list(&self.requested_secrets)),
            (keys::PROVIDED_SECRETS, list(&provided)),
        ]
    }

    /// Writes the request into `relation` on the leader (the app databag,
    /// and its own unit databag); nothing on other units, which may not
    /// write the app databag. Nothing is sent for a value already there.
    pub fn write(&self, model: &Model, relation: &Relation) -> Result<(), ModelError> {
        if !model.is_leader()? {
            return Ok(());
        }
        model.local_app_data(relation).update(self.app_data())?;
        model.local_unit_data(relation).update(self.unit_data())
    }

    /// The requirer's request in `relation`, read from its app databag and
    /// checked: [`Received::NotYet`] until it names a database;
    /// [`Received::Invalid`] (naming the field) for a value that is not one
    /// the interface allows. A charm's own rules (which names, which
    /// roles) are the charm's to add.
    pub fn read(model: &Model, relation: &Relation) -> Result<Received<Self>, ModelError> {
        if relation.app.is_none() {
            return Ok(Received::NotYet);
        }
        let bag = model.remote_app_data(relation)?.get_all()?;
        Ok(match Self::from_bag(&bag) {
            Ok(Some(request)) => Received::Ready(request),
            Ok(None) => Received::NotYet,
            Err(e) => Received::Invalid(e),
        })
    }

    /// [`read`](Self::read) from the databag's contents.
    pub fn from_bag(
        bag: &std::collections::BTreeMap<String, String>,
    ) -> Result<Option<Self>, FieldError> {
        let field = |key: &str| bag.get(key).filter(|v| !v.is_empty());
        let Some(database) = field(keys::DATABASE) else {
            return Ok(None);
        };
        fields::name(keys::DATABASE, database, fields::MAX_IDENTIFIER)?;
        let extra_user_roles = match field(keys::EXTRA_USER_ROLES) {
            Some(roles) => {
                fields::text(keys::EXTRA_USER_ROLES, roles, fields::MAX_SHORT_TEXT, false)?;
                Some(roles.clone())
            }
            None => None,
        };
        let requested_secrets = match field(keys::REQUESTED_SECRETS) {
            Some(list) => fields::string_list(keys::REQUESTED_SECRETS, list)?,
            None => Vec::new(),
        };
        Ok(Some(Self {
            database: database.clone(),
            extra_user_roles,
            external_node_connectivity: field(keys::EXTERNAL_NODE_CONNECTIVITY)
                .is_some_and(|v| v == "true"),
            requested_secrets,
        }))
    }
}
