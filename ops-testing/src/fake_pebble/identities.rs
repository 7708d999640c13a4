//! Identities as Pebble's identities manager keeps them
//! (`internals/overlord/identities`): a store of plain data with Pebble's
//! checks and its add, update, replace and remove operations. The state
//! holds it; the API (`api::identities`) turns requests into these calls.
//!
//! The fake never authenticates anyone with them (every client is the
//! user running the fake, an admin), so a basic identity's hash and a
//! certificate are only kept, checked for shape, and hidden on reads.

use std::collections::BTreeMap;
use std::fmt;

use serde_json::{Value, json};

/// The access levels Pebble knows, in the order its messages list them.
const ACCESS_LEVELS: [&str; 4] = ["admin", "read", "metrics", "untrusted"];

/// One identity, checked as Pebble's `Identity.Validate` does.
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct Identity {
    pub access: String,
    pub local_user_id: Option<u32>,
    /// The sha512-crypt hash, as given.
    pub basic_password: Option<String>,
    /// The certificate's PEM, as given.
    pub cert_pem: Option<String>,
}

impl fmt::Debug for Identity {
    // A password hash can be attacked offline: not in test output either.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Identity")
            .field("access", &self.access)
            .field("local_user_id", &self.local_user_id)
            .field("basic", &self.basic_password.as_ref().map(|_| "<redacted>"))
            .field("cert", &self.cert_pem.is_some())
            .finish()
    }
}

impl Identity {
    /// The entry of `GET /v1/identities`: secrets (and, as in Pebble,
    /// certificates) shown as `*****`.
    pub fn json(&self) -> Value {
        let mut value = json!({ "access": self.access });
        if let Some(uid) = self.local_user_id {
            value["local"] = json!({ "user-id": uid });
        }
        if self.basic_password.is_some() {
            value["basic"] = json!({ "password": "*****" });
        }
        if self.cert_pem.is_some() {
            value["cert"] = json!({ "pem": "*****" });
        }
        value
    }

    /// Pebble's `Identity.Validate(name)`: the error message, if invalid.
    pub fn validate(&self, name: &str) -> Result<(), String> {
        if !valid_name(name) {
            // Pebble formats the identity's Name field here, which is not
            // set yet when a request is checked: its message shows "".
            return Err(
                "identity name \"\" invalid: must start with an alphabetic character and only \
                 contain alphanumeric characters, underscore, and hyphen"
                    .into(),
            );
        }
        let levels = r#""admin", "read", "metrics", or "untrusted""#;
        if self.access.is_empty() {
            return Err(format!("access value must be specified ({levels})"));
        }
        if !ACCESS_LEVELS.contains(&self.access.as_str()) {
            return Err(format!(
                "invalid access value {:?}, must be {levels}",
                self.access
            ));
        }
        if self.basic_password.as_deref() == Some("") {
            return Err("basic identity must specify password (hashed)".into());
        }
        if self.local_user_id.is_none() && self.basic_password.is_none() && self.cert_pem.is_none()
        {
            return Err(
                r#"identity must have at least one type ("local", "basic", or "cert")"#.into(),
            );
        }
        Ok(())
    }
}

/// Pebble's `^[a-zA-Z][a-zA-Z0-9_\-]*$`.
fn valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

/// Checks a `cert` identity's PEM as Pebble's `identityFromAPI` does: one
/// PEM block and nothing after it, holding a DER certificate. The fake
/// parses no X.509: it checks the DER is one well-formed SEQUENCE, which
/// is what a certificate is on the outside.
pub(crate) fn check_cert_pem(pem: &str) -> Result<(), String> {
    const MISSING: &str = "cert identity must include a PEM-encoded certificate";
    let Some(begin) = pem.find("-----BEGIN ") else {
        return Err(MISSING.into());
    };
    let after_begin = &pem[begin..];
    let Some(header_end) = after_begin.find('\n') else {
        return Err(MISSING.into());
    };
    let body_and_rest = &after_begin[header_end + 1..];
    let Some(end) = body_and_rest.find("-----END ") else {
        return Err(MISSING.into());
    };
    let body: String = body_and_rest[..end]
        .chars()
        .filter(|c| !c.is_ascii_whitespace())
        .collect();
    let end_line = &body_and_rest[end..];
    let rest = match end_line.find('\n') {
        Some(newline) => &end_line[newline + 1..],
        None => "",
    };
    // Standard base64 with padding, as Go's PEM decoder reads it.
    let Some(der) = crate::formats::base64_decode(&body) else {
        return Err(MISSING.into());
    };
    if !rest.is_empty() {
        return Err("cert identity cannot have extra data after the PEM block".into());
    }
    if !is_der_sequence(&der) {
        return Err(
            "cannot parse certificate from cert identity: x509: malformed certificate".into(),
        );
    }
    Ok(())
}

/// Whether `der` is exactly one DER SEQUENCE (tag, definite length, content).
fn is_der_sequence(der: &[u8]) -> bool {
    let [0x30, first, rest @ ..] = der else {
        return false;
    };
    let (length, content) = if first & 0x80 == 0 {
        (usize::from(*first), rest)
    } else {
        let count = usize::from(first & 0x7f);
        if count == 0 || count > 4 || rest.len() < count {
            return false;
        }
        let length = rest[..count]
            .iter()
            .fold(0usize, |acc, b| (acc << 8) | usize::from(*b));
        (length, &rest[count..])
    };
    length == content.len()
}

/// Every identity, by name.
#[derive(Debug, Clone, Default)]
pub(crate) struct Identities {
    identities: BTreeMap<String, Identity>,
}

impl Identities {
    /// Every identity by name.
    pub fn all(&self) -> &BTreeMap<String, Identity> {
        &self.identities
    }

    /// Pebble's `AddIdentities`: none of them may exist yet.
    pub fn add(&mut self, new: BTreeMap<String, Identity>) -> Result<(), String> {
        validate_all(&new)?;
        let existing: Vec<&str> = new
            .keys()
            .filter(|n| self.identities.contains_key(*n))
            .map(String::as_str)
            .collect();
        if !existing.is_empty() {
            return Err(format!("identities already exist: {}", existing.join(", ")));
        }
        let mut next = self.identities.clone();
        next.extend(new);
        self.commit(next)
    }

    /// Pebble's `UpdateIdentities`: all of them must exist.
    pub fn update(&mut self, new: BTreeMap<String, Identity>) -> Result<(), String> {
        validate_all(&new)?;
        self.check_exist(new.keys())?;
        let mut next = self.identities.clone();
        next.extend(new);
        self.commit(next)
    }

    /// Pebble's `ReplaceIdentities`: adds or replaces, and removes those
    /// given as `None`.
    pub fn replace(&mut self, new: BTreeMap<String, Option<Identity>>) -> Result<(), String> {
        for (name, identity) in &new {
            if let Some(identity) = identity {
                identity
                    .validate(name)
                    .map_err(|e| format!("identity {name:?} invalid: {e}"))?;
            }
        }
        let mut next = self.identities.clone();
        for (name, identity) in new {
            match identity {
                Some(identity) => next.insert(name, identity),
                None => next.remove(&name),
            };
        }
        self.commit(next)
    }

    /// Pebble's `RemoveIdentities`: all of them must exist.
    pub fn remove(&mut self, names: &[String]) -> Result<(), String> {
        self.check_exist(names.iter())?;
        for name in names {
            self.identities.remove(name);
        }
        Ok(())
    }

    fn check_exist<'a>(&self, names: impl Iterator<Item = &'a String>) -> Result<(), String> {
        let mut missing: Vec<&str> = names
            .filter(|n| !self.identities.contains_key(*n))
            .map(String::as_str)
            .collect();
        if missing.is_empty() {
            return Ok(());
        }
        missing.sort_unstable();
        missing.dedup();
        Err(format!("identities do not exist: {}", missing.join(", ")))
    }

    /// Takes `next` if no two local identities share a user id (Pebble's
    /// `verifyUniqueUserIDs`); nothing changes otherwise.
    fn commit(&mut self, next: BTreeMap<String, Identity>) -> Result<(), String> {
        let mut by_uid: BTreeMap<u32, Vec<&str>> = BTreeMap::new();
        for (name, identity) in &next {
            if let Some(uid) = identity.local_user_id {
                by_uid.entry(uid).or_default().push(name);
            }
        }
        if let Some((uid, names)) = by_uid.iter().find(|(_, names)| names.len() > 1) {
            return Err(format!(
                "cannot have multiple identities with user ID {uid} ({})",
                names.join(", ")
            ));
        }
        self.identities = next;
        Ok(())
    }
}

fn validate_all(new: &BTreeMap<String, Identity>) -> Result<(), String> {
    new.iter().try_for_each(|(name, identity)| {
        identity
            .validate(name)
            .map_err(|e| format!("identity {name:?} invalid: {e}"))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn local(uid: u32) -> Identity {
        Identity {
            access: "admin".into(),
            local_user_id: Some(uid),
            basic_password: None,
            cert_pem: None,
        }
    }

    #[test]
    fn names_follow_pebbles_pattern() {
        for good in ["a", "alice", "a-b_c9", "Z"] {
            assert!(valid_name(good), "{good}");
        }
        for bad in ["", "1a", "-a", "a b", "a.b", "é"] {
            assert!(!valid_name(bad), "{bad:?}");
        }
    }

    #[test]
    fn user_ids_stay_unique_and_failures_change_nothing() {
        let mut ids = Identities::default();
        ids.add(BTreeMap::from([("a".into(), local(1))])).unwrap();
        assert_eq!(
            ids.add(BTreeMap::from([("b".into(), local(1))])),
            Err("cannot have multiple identities with user ID 1 (a, b)".into())
        );
        assert_eq!(
            ids.add(BTreeMap::from([("a".into(), local(2))])),
            Err("identities already exist: a".into())
        );
        assert_eq!(
            ids.remove(&["a".into(), "zed".into()]),
            Err("identities do not exist: zed".into())
        );
        assert_eq!(ids.all().len(), 1);
        ids.replace(BTreeMap::from([
            ("a".into(), None),
            ("b".into(), Some(local(1))),
        ]))
        .unwrap();
        assert_eq!(ids.all().keys().collect::<Vec<_>>(), ["b"]);
    }

    #[test]
    fn certificates_are_checked_for_shape() {
        // base64 of the DER SEQUENCE 30 03 02 01 01 (INTEGER 1).
        let body = "MAMCAQE=";
        let pem = format!("-----BEGIN CERTIFICATE-----\n{body}\n-----END CERTIFICATE-----\n");
        assert_eq!(check_cert_pem(&pem), Ok(()));
        assert!(
            check_cert_pem("not a pem")
                .unwrap_err()
                .contains("PEM-encoded")
        );
        assert!(
            check_cert_pem(&format!("{pem}junk"))
                .unwrap_err()
                .contains("extra data")
        );
        // 30 05 02: a SEQUENCE that claims more than it holds.
        let short = "MAUC";
        let bad = format!("-----BEGIN CERTIFICATE-----\n{short}\n-----END CERTIFICATE-----\n");
        assert!(check_cert_pem(&bad).unwrap_err().contains("malformed"));
    }
}
