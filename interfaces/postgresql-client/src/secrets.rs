//! The library's Juju secrets: which field goes into which secret (its
//! group), how the provider labels the secret it creates, where the URI is
//! put (`secret-<group>`), and both sides' handling of them.

use std::collections::BTreeMap;

use ops::Model;
use ops::backend::BackendError;
use ops::model::{ModelError, Relation, SecretOptions, SecretOwner};

use crate::fields::{self, FieldError};
use crate::{Received, keys};

/// A secret of the relation, holding a group of fields (the library's
/// `SECRET_GROUPS` and `SECRET_LABEL_MAP`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[non_exhaustive]
pub enum SecretGroup {
    /// `username`, `password`, `uris`, `read-only-uris`.
    User,
    /// `tls`, `tls-ca`.
    Tls,
    /// `mtls-cert` (written by a requirer, never by a database).
    Mtls,
    /// `entity-name`, `entity-password`.
    Entity,
    /// Any other field a requirer asked to have in a secret.
    Extra,
}

impl SecretGroup {
    /// Every group, in the library's order.
    pub const ALL: [SecretGroup; 5] = [
        SecretGroup::User,
        SecretGroup::Tls,
        SecretGroup::Mtls,
        SecretGroup::Entity,
        SecretGroup::Extra,
    ];

    /// The group's name: `user`, `tls`, `mtls`, `entity`, `extra`.
    pub fn as_str(self) -> &'static str {
        match self {
            SecretGroup::User => "user",
            SecretGroup::Tls => "tls",
            SecretGroup::Mtls => "mtls",
            SecretGroup::Entity => "entity",
            SecretGroup::Extra => "extra",
        }
    }

    /// The group a field belongs to (the library's `SECRET_LABEL_MAP`;
    /// a field it does not name is [`SecretGroup::Extra`]).
    pub fn of(field: &str) -> SecretGroup {
        match field {
            keys::USERNAME | keys::PASSWORD | keys::URIS | keys::READ_ONLY_URIS => {
                SecretGroup::User
            }
            keys::TLS | keys::TLS_CA => SecretGroup::Tls,
            "mtls-cert" => SecretGroup::Mtls,
            "entity-name" | "entity-password" => SecretGroup::Entity,
            _ => SecretGroup::Extra,
        }
    }

    /// The databag key that holds the secret's URI: `secret-<group>`.
    pub fn field(self) -> &'static str {
        match self {
            SecretGroup::User => keys::SECRET_USER,
            SecretGroup::Tls => keys::SECRET_TLS,
            SecretGroup::Mtls => "secret-mtls",
            SecretGroup::Entity => "secret-entity",
            SecretGroup::Extra => keys::SECRET_EXTRA,
        }
    }

    /// The label the library gives the secret of this group in relation
    /// `relation_id` of `endpoint`: `<endpoint>.<id>.<group>.secret`. The
    /// provider creates its secret with it; the requirer puts it on the
    /// secret it reads (its own label for the same secret, by its own
    /// endpoint's name), so that a `secret-changed` names the relation.
    ///
    /// ```
    /// use postgresql_client::SecretGroup;
    ///
    /// assert_eq!(SecretGroup::User.label("database", 5), "database.5.user.secret");
    /// assert_eq!(SecretGroup::Tls.label("backend-database", 2), "backend-database.2.tls.secret");
    /// ```
    pub fn label(self, endpoint: &str, relation_id: u32) -> String {
        format!("{endpoint}.{relation_id}.{}.secret", self.as_str())
    }
}

/// The fields that hold the user's password.
pub const HOLDS_PASSWORD: [&str; 3] = [keys::PASSWORD, keys::URIS, keys::READ_ONLY_URIS];

/// The longest secret URI accepted from a databag.
const MAX_URI: usize = 256;

/// A secret URI from a remote databag: `secret:<id>` or
/// `secret://<model uuid>/<id>`, nothing else (it becomes an argument of
/// `secret-get`, so a value such as `--label` must never get there).
fn secret_uri(field: &'static str, value: &str) -> Result<(), FieldError> {
    fields::text(field, value, MAX_URI, false)?;
    let rest = value.strip_prefix("secret:").ok_or(FieldError::Format {
        field,
        len: value.len(),
        expected: "a secret URI",
    })?;
    let allowed = |b: u8| b.is_ascii_alphanumeric() || matches!(b, b'/' | b'-' | b'_' | b'.');
    if rest.is_empty() || !rest.bytes().all(allowed) {
        return Err(FieldError::Format {
            field,
            len: value.len(),
            expected: "a secret URI",
        });
    }
    Ok(())
}

/// Whether a secret error means "not there for us (yet)": not found, or
/// not granted. The provider grants before it writes the URI, but a
/// requirer must not fail its hook (and wedge) if it reads too early.
fn is_absent(error: &ModelError) -> bool {
    matches!(
        error.backend_error(),
        Some(BackendError::SecretNotFound { .. } | BackendError::PermissionDenied { .. })
    )
}

/// What a requirer reads: the remote app databag, with the fields of each
/// group the provider put in a secret (`secret-<group>`) taken from that
/// secret instead (the latest revision, which it then tracks), labelled
/// as the library labels it. A group whose secret holds nothing stays in
/// the databag (a provider without secrets). [`Received::NotYet`]: a
/// secret is not readable yet.
pub(crate) fn remote_view(
    model: &Model,
    relation: &Relation,
) -> Result<Received<BTreeMap<String, String>>, ModelError> {
    let mut bag = model.remote_app_data(relation)?.get_all()?;
    for group in SecretGroup::ALL {
        let Some(uri) = bag.remove(group.field()).filter(|u| !u.is_empty()) else {
            continue;
        };
        if let Err(e) = secret_uri(group.field(), &uri) {
            return Ok(Received::Invalid(e));
        }
        let label = group.label(relation.name(), relation.id.id);
        // The latest revision, tracked from now on: one `secret-get --refresh`.
        let content = match model
            .get_secret_refreshed(Some(&uri), Some(&label))
            .and_then(|secret| secret.get_content(false))
        {
            Ok(content) => content,
            Err(e) if is_absent(&e) => return Ok(Received::NotYet),
            Err(e) => return Err(e),
        };
        if content.is_empty() {
            continue;
        }
        // A group's fields come from its secret only; the extra group is
        // whatever was asked beyond the known groups, so only the keys the
        // secret holds are replaced.
        if group != SecretGroup::Extra {
            bag.retain(|key, _| SecretGroup::of(key) != group);
        }
        for (key, value) in content.iter() {
            if SecretGroup::of(key) == group {
                bag.insert(key.to_string(), value.to_string());
            }
        }
    }
    Ok(Received::Ready(bag))
}

/// Writes `entries` (an empty value removes its key) into our app
/// databag of `relation` as the library's provider does: the fields the
/// requirer listed in `requested` into one application-owned secret per
/// group (created with the library's label and granted to the relation,
/// its URI in `secret-<group>`; updated in place, with no new revision
/// when nothing changed; removed once empty), every other field plainly.
///
/// A relation that started on the databag stays there: when any requested
/// field is already in the databag, every field is written plainly (the
/// library's `fallback_to_databag`, for requirers that began without
/// secrets).
///
/// One deliberate difference from the library: a requirer that asks for
/// any secret at all gets the fields that hold the password
/// ([`HOLDS_PASSWORD`]) in the user secret even if it did not list them
/// (the library would write an unlisted `uris` plainly, password and all).
/// The library's requirer lists them all, so it reads the same answer.
pub(crate) fn write(
    model: &Model,
    relation: &Relation,
    requested: &[String],
    entries: &[(&'static str, String)],
) -> Result<(), ModelError> {
    let bag = model.local_app_data(relation);
    let current = bag.get_all()?;
    let fallback = requested.iter().any(|field| current.contains_key(field));
    let in_secret = |key: &str| {
        !fallback
            && (requested.iter().any(|r| r == key)
                || (!requested.is_empty() && HOLDS_PASSWORD.contains(&key)))
    };
    let mut groups: BTreeMap<SecretGroup, Vec<(&str, &str)>> = BTreeMap::new();
    for (key, value) in entries {
        if in_secret(key) {
            groups
                .entry(SecretGroup::of(key))
                .or_default()
                .push((key, value));
        } else {
            bag.set(key, value)?;
        }
    }
    for (group, entries) in groups {
        write_group(model, relation, group, &entries)?;
    }
    Ok(())
}

/// Merges `entries` into the group's secret, as the library's
/// `_add_or_update_relation_secret` and `_delete_relation_secret` do.
fn write_group(
    model: &Model,
    relation: &Relation,
    group: SecretGroup,
    entries: &[(&str, &str)],
) -> Result<(), ModelError> {
    let bag = model.local_app_data(relation);
    let label = group.label(relation.name(), relation.id.id);
    let uri = bag.get(group.field())?.filter(|u| !u.is_empty());
    let found = match &uri {
        Some(uri) => model.get_secret(Some(uri), None),
        None => model.get_secret(None, Some(&label)),
    }
    .and_then(|secret| {
        let content = secret.peek_content()?;
        Ok((secret, content.into_inner()))
    });
    let (secret, existing) = match found {
        Ok((secret, content)) => (Some(secret), Some(content)),
        Err(e) if is_absent(&e) => (None, None),
        Err(e) => return Err(e),
    };
    let mut content = existing.clone().unwrap_or_default();
    for (key, value) in entries {
        if value.is_empty() {
            content.remove(*key);
        } else {
            content.insert(key.to_string(), value.to_string());
        }
    }
    match (existing, secret) {
        (Some(_), Some(secret)) if content.is_empty() => {
            secret.remove_all_revisions()?;
            bag.remove(group.field())?;
        }
        (Some(old), Some(secret)) => {
            if old != content {
                secret.set_content(content)?;
            }
            if uri.is_none() {
                // Found by its label: its URI is put back in the databag.
                bag.set(group.field(), &secret.info()?.id)?;
            }
        }
        (_, _) if content.is_empty() => {}
        (_, _) => {
            let secret = model.add_secret(
                content,
                SecretOptions::new()
                    .with_label(label)
                    .with_owner(SecretOwner::Application),
            )?;
            secret.grant(relation, None)?;
            let id = secret.id().unwrap_or_default().to_string();
            bag.set(group.field(), &id)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_fall_in_the_librarys_groups() {
        for (field, group) in [
            ("username", SecretGroup::User),
            ("password", SecretGroup::User),
            ("uris", SecretGroup::User),
            ("read-only-uris", SecretGroup::User),
            ("tls", SecretGroup::Tls),
            ("tls-ca", SecretGroup::Tls),
            ("mtls-cert", SecretGroup::Mtls),
            ("entity-name", SecretGroup::Entity),
            ("entity-password", SecretGroup::Entity),
            ("endpoints", SecretGroup::Extra),
            ("version", SecretGroup::Extra),
        ] {
            assert_eq!(SecretGroup::of(field), group, "{field}");
        }
        assert_eq!(SecretGroup::Extra.field(), "secret-extra");
        assert_eq!(SecretGroup::Extra.label("db", 1), "db.1.extra.secret");
    }

    #[test]
    fn only_secret_uris_are_passed_to_secret_get() {
        for good in [
            "secret:cs1s7jvmp25c7bqvq3m0",
            "secret://0b7d1071-ded2-4bf5-80a3-10a81aeb1386/cs1s7jvmp25c7bqvq3m0",
        ] {
            assert_eq!(secret_uri("secret-user", good), Ok(()), "{good}");
        }
        for bad in [
            "",
            "--label",
            "secret:",
            "cs1s7jvmp25c7bqvq3m0",
            "secret:a b",
            "secret:x\n--peek",
        ] {
            let err = secret_uri("secret-user", bad).unwrap_err();
            assert!(err.to_string().starts_with("secret-user ("), "{err}");
        }
    }
}
