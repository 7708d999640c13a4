//! Juju secrets. Content never travels in argv and never reaches a log.

use std::collections::BTreeMap;
use std::fmt;

use super::{Model, ModelError, Relation};
use crate::backend::{SecretAddArgs, SecretInfo, SecretOwner, SecretSetArgs};

/// How to create a secret.
#[derive(Debug, Clone, Default)]
pub struct SecretOptions {
    /// A label to find it by.
    pub label: Option<String>,
    /// A description.
    pub description: Option<String>,
    /// Expiry, RFC 3339.
    pub expire: Option<String>,
    /// Rotation policy (`hourly`, `daily`, ...).
    pub rotate: Option<String>,
    /// Owned by the application (leader only) or by this unit.
    pub owner: SecretOwner,
}

/// A handle on a secret. It holds no content, so it may be logged.
pub struct Secret<'m> {
    model: &'m Model,
    id: Option<String>,
    label: Option<String>,
}

impl fmt::Debug for Secret<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Secret")
            .field("id", &self.id)
            .field("label", &self.label)
            .finish()
    }
}

/// Juju's rule for content keys.
fn check_keys(content: &BTreeMap<String, String>) -> Result<(), ModelError> {
    for key in content.keys() {
        let ok = key.len() >= 3
            && key.starts_with(|c: char| c.is_ascii_lowercase())
            && key
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
            && !key.ends_with('-');
        if !ok {
            return Err(ModelError::InvalidSecretKey { key: key.clone() });
        }
    }
    Ok(())
}

pub(super) fn add<'m>(
    model: &'m Model,
    content: BTreeMap<String, String>,
    options: SecretOptions,
) -> Result<Secret<'m>, ModelError> {
    check_keys(&content)?;
    if options.owner == SecretOwner::Application && !model.is_leader()? {
        return Err(ModelError::NotLeader {
            operation: "create an application secret".to_string(),
        });
    }
    let label = options.label.clone();
    let id = model
        .backend()
        .secret_add(&SecretAddArgs {
            content,
            label: options.label,
            description: options.description,
            expire: options.expire,
            rotate: options.rotate,
            owner: options.owner,
        })
        .map_err(ModelError::backend("adding a secret"))?;
    Ok(Secret::new(model, Some(id), label))
}

impl<'m> Secret<'m> {
    pub(super) fn new(model: &'m Model, id: Option<String>, label: Option<String>) -> Self {
        Self { model, id, label }
    }

    /// The secret id, if known.
    pub fn id(&self) -> Option<&str> {
        self.id.as_deref()
    }

    /// The label, if known.
    pub fn label(&self) -> Option<&str> {
        self.label.as_deref()
    }

    fn require_id(&self) -> Result<String, ModelError> {
        if let Some(id) = &self.id {
            return Ok(id.clone());
        }
        Ok(self.info()?.id)
    }

    fn get(&self, refresh: bool, peek: bool) -> Result<BTreeMap<String, String>, ModelError> {
        self.model
            .backend()
            .secret_get(self.id.as_deref(), self.label.as_deref(), refresh, peek)
            .map_err(ModelError::backend("reading a secret"))
    }

    /// The content of the tracked revision; with `refresh`, track the latest first.
    pub fn get_content(&self, refresh: bool) -> Result<BTreeMap<String, String>, ModelError> {
        self.get(refresh, false)
    }

    /// The latest revision's content, without tracking it.
    pub fn peek_content(&self) -> Result<BTreeMap<String, String>, ModelError> {
        self.get(false, true)
    }

    /// The owner's view of the secret.
    pub fn info(&self) -> Result<SecretInfo, ModelError> {
        self.model
            .backend()
            .secret_info_get(self.id.as_deref(), self.label.as_deref())
            .map_err(ModelError::backend("reading secret info"))
    }

    /// Sets new content: a new revision.
    pub fn set_content(&self, content: BTreeMap<String, String>) -> Result<(), ModelError> {
        check_keys(&content)?;
        let id = self.require_id()?;
        self.model
            .backend()
            .secret_set(
                &id,
                &SecretSetArgs {
                    content: Some(content),
                    ..Default::default()
                },
            )
            .map_err(ModelError::backend("setting secret content"))
    }

    /// Changes label, description, expiry or rotation.
    pub fn set_info(&self, args: SecretSetArgs) -> Result<(), ModelError> {
        let id = self.require_id()?;
        self.model
            .backend()
            .secret_set(
                &id,
                &SecretSetArgs {
                    content: None,
                    ..args
                },
            )
            .map_err(ModelError::backend("setting secret info"))
    }

    /// Lets the remote side of a relation (or one unit of it) read the secret.
    pub fn grant(&self, relation: &Relation, unit: Option<&str>) -> Result<(), ModelError> {
        let id = self.require_id()?;
        self.model
            .backend()
            .secret_grant(&id, relation.id.id, unit)
            .map_err(ModelError::backend("granting a secret"))
    }

    /// Takes a grant back.
    pub fn revoke(&self, relation: &Relation, unit: Option<&str>) -> Result<(), ModelError> {
        let id = self.require_id()?;
        self.model
            .backend()
            .secret_revoke(&id, relation.id.id, unit)
            .map_err(ModelError::backend("revoking a secret"))
    }

    /// Removes one revision.
    pub fn remove_revision(&self, revision: u64) -> Result<(), ModelError> {
        let id = self.require_id()?;
        self.model
            .backend()
            .secret_remove(&id, Some(revision))
            .map_err(ModelError::backend("removing a secret revision"))
    }

    /// Removes the secret.
    pub fn remove_all_revisions(&self) -> Result<(), ModelError> {
        let id = self.require_id()?;
        self.model
            .backend()
            .secret_remove(&id, None)
            .map_err(ModelError::backend("removing a secret"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_keys_follow_juju() {
        for good in ["password", "tls-key", "a12"] {
            check_keys(&BTreeMap::from([(good.to_string(), "v".to_string())])).unwrap();
        }
        for bad in ["pw", "Password", "1abc", "with_underscore", "dash-"] {
            let err =
                check_keys(&BTreeMap::from([(bad.to_string(), "v".to_string())])).unwrap_err();
            assert!(matches!(err, ModelError::InvalidSecretKey { key } if key == bad));
        }
    }
}
