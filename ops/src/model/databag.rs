//! Relation databags, with Juju's access rules, read caching and buffered writes.

use std::collections::BTreeMap;
use std::fmt;

use serde::Serialize;
use serde::de::DeserializeOwned;

use super::{Model, ModelError, Relation, typed};
use crate::backend::{BackendError, RelationRef, StringMap};

/// Whose databag: a unit's or an application's.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Member {
    /// A unit's bag (`app/0`).
    Unit(String),
    /// An application's bag.
    App(String),
}

impl Member {
    /// The unit or application name.
    pub fn name(&self) -> &str {
        match self {
            Member::Unit(n) | Member::App(n) => n,
        }
    }

    /// Whether this is an application's bag.
    pub fn is_app(&self) -> bool {
        matches!(self, Member::App(_))
    }
}

impl fmt::Display for Member {
    /// `unit app/0` or `application app`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Member::Unit(n) => write!(f, "unit {n}"),
            Member::App(n) => write!(f, "application {n}"),
        }
    }
}

/// One bag's cache for the dispatch: what was read, what is to be written.
#[derive(Debug, Default)]
pub(super) struct BagState {
    /// The bag as `relation-get` gave it (read at most once).
    read: Option<StringMap>,
    /// Writes not yet flushed; `None` deletes the key.
    pending: BTreeMap<String, Option<String>>,
}

impl BagState {
    fn get(&self, key: &str) -> Option<String> {
        match self.pending.get(key) {
            Some(pending) => pending.clone(),
            None => self.read.as_ref().and_then(|r| r.get(key).cloned()),
        }
    }

    /// What the bag holds now, for this unit: what was read, then the pending writes.
    fn view(&self) -> StringMap {
        let mut view = self.read.clone().unwrap_or_default();
        for (k, v) in &self.pending {
            match v {
                Some(v) => view.insert(k.clone(), v.clone()),
                None => view.remove(k),
            };
        }
        view
    }

    /// What `relation-set` must send: pending writes that change what was read
    /// (all of them if the bag was never read); deletions as `""`.
    fn changes(&self) -> StringMap {
        self.pending
            .iter()
            .filter(|(k, v)| match &self.read {
                Some(read) => read.get(*k) != v.as_ref(),
                None => true,
            })
            .map(|(k, v)| (k.clone(), v.clone().unwrap_or_default()))
            .collect()
    }

    /// The writes were sent: they become what was read, and the buffer empties.
    fn settle(&mut self) {
        let pending = std::mem::take(&mut self.pending);
        if let Some(read) = &mut self.read {
            for (k, v) in pending {
                match v {
                    Some(v) => read.insert(k, v),
                    None => read.remove(&k),
                };
            }
        }
    }

    pub(super) fn has_pending(&self) -> bool {
        !self.pending.is_empty()
    }
}

/// A relation databag as this unit sees it.
///
/// Juju's access rules are checked before anything is read or buffered: this
/// unit's own bag is read-write; its application's bag is writable only on
/// the leader and readable on the leader or, on a peer relation, by every
/// unit; remote bags are read-only. A violation is
/// [`ModelError::AccessDenied`].
///
/// Each bag is read at most once per dispatch (one `relation-get`). Writes are
/// buffered, visible to later reads through any handle on the same bag, and
/// sent with one `relation-set` per changed bag when the dispatch commits
/// ([`Model::flush`]). Setting a value to `""` deletes its key, as in Juju.
///
/// ```no_run
/// # fn demo(model: &ops::Model) -> Result<(), ops::model::ModelError> {
/// #[derive(serde::Serialize, serde::Deserialize)]
/// struct Endpoint {
///     host: String,
///     port: u16,
///     tls: Option<bool>,
/// }
///
/// let Some(db) = model.relation("database")? else {
///     return Ok(());
/// };
/// let mine = model.local_unit_data(&db);
/// mine.set("host", "pgbouncer-k8s-0.pgbouncer-k8s-endpoints")?;
/// assert_eq!(mine.get("host")?.as_deref(), Some("pgbouncer-k8s-0.pgbouncer-k8s-endpoints"));
///
/// // Typed: `port` is stored as "6432", `host` raw, and `tls: None` deletes its key.
/// mine.save(&Endpoint { host: "h".into(), port: 6432, tls: None })?;
/// let endpoint: Endpoint = mine.load()?;
/// assert_eq!(endpoint.port, 6432);
/// # Ok(()) }
/// ```
pub struct Databag<'m> {
    model: &'m Model,
    relation: RelationRef,
    member: Member,
}

impl fmt::Debug for Databag<'_> {
    /// The bag's name only: databags may hold credentials.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Databag({})", self.describe())
    }
}

impl<'m> Databag<'m> {
    pub(super) fn new(model: &'m Model, relation: &Relation, member: Member) -> Self {
        Self {
            model,
            relation: relation.id.clone(),
            member,
        }
    }

    /// The relation this bag belongs to.
    pub fn relation(&self) -> &RelationRef {
        &self.relation
    }

    /// Whose bag this is.
    pub fn member(&self) -> &Member {
        &self.member
    }

    fn describe(&self) -> String {
        format!("{} on {}", self.member, self.relation)
    }

    fn denied(&self, operation: &'static str) -> ModelError {
        ModelError::AccessDenied {
            bag: self.describe(),
            unit: self.model.unit().name().to_string(),
            operation,
        }
    }

    fn is_own_app(&self) -> bool {
        matches!(&self.member, Member::App(app) if app == self.model.app().name())
    }

    fn check_read(&self) -> Result<(), ModelError> {
        if self.is_own_app()
            && !self.model.meta().is_peer(&self.relation.name)
            && !self.model.is_leader()?
        {
            return Err(self.denied("read"));
        }
        Ok(())
    }

    fn check_write(&self) -> Result<(), ModelError> {
        let allowed = match &self.member {
            Member::Unit(unit) => unit == self.model.unit().name(),
            Member::App(_) => self.is_own_app() && self.model.is_leader()?,
        };
        if allowed {
            Ok(())
        } else {
            Err(self.denied("write"))
        }
    }

    fn key(&self) -> (RelationRef, Member) {
        (self.relation.clone(), self.member.clone())
    }

    /// Reads the bag with `relation-get` unless this dispatch already has.
    fn load_once(&self) -> Result<(), ModelError> {
        let key = self.key();
        let loaded = self
            .model
            .bags
            .borrow()
            .get(&key)
            .is_some_and(|b| b.read.is_some());
        if loaded {
            return Ok(());
        }
        let read = match self.model.backend().relation_get(
            &self.relation,
            self.member.name(),
            self.member.is_app(),
        ) {
            Ok(read) => read,
            // Dead relations tell no tales (Python ops): a relation Juju no
            // longer knows reads as empty.
            Err(BackendError::RelationNotFound { .. }) => {
                tracing::debug!("{} is gone; its databag reads as empty", self.relation);
                Default::default()
            }
            Err(e) => {
                return Err(ModelError::backend(format!(
                    "reading the databag of {}",
                    self.describe()
                ))(e));
            }
        };
        self.model.bags.borrow_mut().entry(key).or_default().read = Some(read);
        Ok(())
    }

    /// One value, if set.
    pub fn get(&self, key: &str) -> Result<Option<String>, ModelError> {
        self.check_read()?;
        self.load_once()?;
        Ok(self
            .model
            .bags
            .borrow()
            .get(&self.key())
            .and_then(|b| b.get(key)))
    }

    /// Every key and value.
    pub fn get_all(&self) -> Result<BTreeMap<String, String>, ModelError> {
        self.check_read()?;
        self.load_once()?;
        Ok(self
            .model
            .bags
            .borrow()
            .get(&self.key())
            .map(BagState::view)
            .unwrap_or_default())
    }

    /// Sets a value; an empty value deletes the key, as in Juju.
    pub fn set(&self, key: &str, value: &str) -> Result<(), ModelError> {
        self.update([(key, value)])
    }

    /// Deletes a key.
    pub fn remove(&self, key: &str) -> Result<(), ModelError> {
        self.update([(key, "")])
    }

    /// Sets several values at once (empty values delete their keys).
    pub fn update<K: AsRef<str>, V: AsRef<str>>(
        &self,
        values: impl IntoIterator<Item = (K, V)>,
    ) -> Result<(), ModelError> {
        self.check_write()?;
        let mut bags = self.model.bags.borrow_mut();
        let state = bags.entry(self.key()).or_default();
        for (k, v) in values {
            let v = v.as_ref();
            state.pending.insert(
                k.as_ref().to_string(),
                (!v.is_empty()).then(|| v.to_string()),
            );
        }
        Ok(())
    }

    /// The bag as a typed struct: each field a key. A `String` field gets the
    /// raw value; any other field's value is parsed as JSON (so `"123"` is fine
    /// for both a `String` and a `u32`). Keys the struct does not name are
    /// ignored. A value that does not fit is [`ModelError::DatabagField`],
    /// naming the key.
    pub fn load<T: DeserializeOwned>(&self) -> Result<T, ModelError> {
        let map = self.get_all()?;
        typed::from_bag(&map).map_err(|e| ModelError::DatabagField {
            bag: self.describe(),
            key: e.key,
            reason: e.reason,
        })
    }

    /// Writes a typed struct: each field a key; `String` fields raw, other
    /// values as JSON text; `None` fields delete their key. Keys the struct
    /// does not name are left as they are.
    pub fn save<T: Serialize>(&self, value: &T) -> Result<(), ModelError> {
        self.check_write()?;
        let map = typed::to_map(value).map_err(|e| ModelError::DatabagField {
            bag: self.describe(),
            key: e.key,
            reason: e.reason,
        })?;
        self.update(map.into_iter().map(|(k, v)| (k, v.unwrap_or_default())))
    }
}

impl Model {
    /// A databag of a relation. Access rules are checked on each operation
    /// (see [`Databag`]), not here.
    pub fn databag(&self, relation: &Relation, member: Member) -> Databag<'_> {
        Databag::new(self, relation, member)
    }

    /// This unit's databag (read and write).
    pub fn local_unit_data(&self, relation: &Relation) -> Databag<'_> {
        self.databag(relation, Member::Unit(self.unit.name().to_string()))
    }

    /// This application's databag: written only on the leader; read on the
    /// leader, or by any unit on a peer relation.
    pub fn local_app_data(&self, relation: &Relation) -> Databag<'_> {
        self.databag(relation, Member::App(self.app.name().to_string()))
    }

    /// The remote application's databag (read only); for a peer relation,
    /// this application's. [`ModelError::NoRemoteApp`] if the remote
    /// application is not known.
    pub fn remote_app_data(&self, relation: &Relation) -> Result<Databag<'_>, ModelError> {
        let app = relation
            .app
            .clone()
            .ok_or_else(|| ModelError::NoRemoteApp {
                relation: relation.id.to_string(),
            })?;
        Ok(self.databag(relation, Member::App(app)))
    }

    /// A remote unit's databag (read only). In relation-departed the departing
    /// unit's bag is still readable, though it is no longer in
    /// [`Relation::units`].
    pub fn remote_unit_data(&self, relation: &Relation, unit: &str) -> Databag<'_> {
        self.databag(relation, Member::Unit(unit.to_string()))
    }

    /// Sends the buffered databag writes: one `relation-set` per changed bag,
    /// with only the changed keys (deleted keys as `""`), then empties the
    /// buffer. The dispatch calls it once, before it commits; charm code does
    /// not need to.
    ///
    /// If a `relation-set` fails, the bags not yet sent keep their writes and
    /// the error is returned (the dispatch then fails, and Juju discards the
    /// hook's relation changes).
    pub fn flush(&self) -> Result<(), ModelError> {
        let mut bags = self.bags.borrow_mut();
        for ((relation, member), state) in bags.iter_mut() {
            let changes = state.changes();
            if !changes.is_empty() {
                self.backend
                    .relation_set(relation, member.is_app(), &changes)
                    .map_err(ModelError::backend(format!(
                        "writing the databag of {member} on {relation}"
                    )))?;
            }
            state.settle();
        }
        Ok(())
    }

    /// Whether any databag write is buffered, waiting for [`Model::flush`].
    pub fn has_pending_writes(&self) -> bool {
        self.bags.borrow().values().any(BagState::has_pending)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state(read: Option<&[(&str, &str)]>, pending: &[(&str, Option<&str>)]) -> BagState {
        BagState {
            read: read.map(|r| {
                r.iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect()
            }),
            pending: pending
                .iter()
                .map(|(k, v)| (k.to_string(), v.map(str::to_string)))
                .collect(),
        }
    }

    fn map(pairs: &[(&str, &str)]) -> StringMap {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn reads_see_pending_writes() {
        let s = state(
            Some(&[("a", "1"), ("b", "2")]),
            &[("b", None), ("c", Some("3"))],
        );
        assert_eq!(s.get("a").as_deref(), Some("1"));
        assert_eq!(s.get("b"), None);
        assert_eq!(s.view(), map(&[("a", "1"), ("c", "3")]));
    }

    #[test]
    fn changes_leave_out_writes_that_change_nothing() {
        let s = state(
            Some(&[("same", "s"), ("old", "1")]),
            &[
                ("same", Some("s")),
                ("old", None),
                ("never", None),
                ("new", Some("2")),
            ],
        );
        assert_eq!(s.changes(), map(&[("new", "2"), ("old", "")]));
    }

    #[test]
    fn an_unread_bag_sends_every_write() {
        let s = state(None, &[("gone", None), ("new", Some("2"))]);
        assert_eq!(s.changes(), map(&[("gone", ""), ("new", "2")]));
    }

    #[test]
    fn settling_folds_writes_into_what_was_read() {
        let mut s = state(
            Some(&[("a", "1"), ("b", "2")]),
            &[("b", None), ("c", Some("3"))],
        );
        s.settle();
        assert!(!s.has_pending());
        assert_eq!(s.view(), map(&[("a", "1"), ("c", "3")]));
        assert!(s.changes().is_empty());
    }
}
