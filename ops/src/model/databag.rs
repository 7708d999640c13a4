//! Relation databags, with Juju's access rules, read caching and buffered writes.

use std::collections::BTreeMap;
use std::fmt;

use serde::Serialize;
use serde::de::DeserializeOwned;

use super::{Model, ModelError, Relation, typed};
use crate::backend::RelationRef;

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

    fn is_app(&self) -> bool {
        matches!(self, Member::App(_))
    }
}

/// One bag's cache for the dispatch: what was read, what is to be written.
#[derive(Debug, Default)]
pub(crate) struct BagState {
    /// The bag as read with `relation-get`, once.
    pub(crate) read: Option<BTreeMap<String, String>>,
    /// Writes not yet flushed; `None` deletes.
    pub(crate) pending: BTreeMap<String, Option<String>>,
}

impl BagState {
    /// What the bag holds now, for this unit: read plus pending writes.
    fn view(&self) -> BTreeMap<String, String> {
        let mut view = self.read.clone().unwrap_or_default();
        for (k, v) in &self.pending {
            match v {
                Some(v) => view.insert(k.clone(), v.clone()),
                None => view.remove(k),
            };
        }
        view
    }

    /// The changes to send: pending writes that differ from what was read.
    pub(crate) fn changes(&self) -> BTreeMap<String, String> {
        self.pending
            .iter()
            .filter(|(k, v)| match &self.read {
                Some(read) => read.get(*k) != v.as_ref(),
                None => true,
            })
            .map(|(k, v)| (k.clone(), v.clone().unwrap_or_default()))
            .collect()
    }
}

/// A relation databag as this unit sees it.
///
/// Reads are cached for the dispatch (one `relation-get` per bag); writes are
/// buffered, visible to later reads, and sent with one `relation-set` per bag
/// when the dispatch commits.
///
/// ```no_run
/// # fn demo(model: &ops::Model) -> Result<(), ops::model::ModelError> {
/// let peers = model.relation("pgb-peers")?.expect("peer relation");
/// let bag = model.local_unit_data(&peers);
/// bag.set("private-address", "pgbouncer-k8s-0.pgbouncer-k8s-endpoints.dev.svc.cluster.local")?;
/// assert!(bag.get("private-address")?.is_some());
/// # Ok(()) }
/// ```
pub struct Databag<'m> {
    model: &'m Model,
    relation: RelationRef,
    member: Member,
    peer: bool,
}

impl fmt::Debug for Databag<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.describe())
    }
}

impl<'m> Databag<'m> {
    pub(crate) fn new(model: &'m Model, relation: &Relation, member: Member) -> Self {
        Self {
            model,
            peer: model.meta().is_peer(&relation.id.name),
            relation: relation.id.clone(),
            member,
        }
    }

    fn describe(&self) -> String {
        let kind = if self.member.is_app() { "app" } else { "unit" };
        format!("{kind} {} in {}", self.member.name(), self.relation)
    }

    fn denied(&self, operation: &'static str) -> ModelError {
        ModelError::AccessDenied {
            bag: self.describe(),
            unit: self.model.unit().name().to_string(),
            operation,
        }
    }

    fn check_read(&self) -> Result<(), ModelError> {
        match &self.member {
            Member::App(app) if app == self.model.app().name() => {
                if self.peer || self.model.is_leader()? {
                    Ok(())
                } else {
                    Err(self.denied("read"))
                }
            }
            _ => Ok(()),
        }
    }

    fn check_write(&self) -> Result<(), ModelError> {
        match &self.member {
            Member::Unit(unit) if unit == self.model.unit().name() => Ok(()),
            Member::App(app) if app == self.model.app().name() => {
                if self.model.is_leader()? {
                    Ok(())
                } else {
                    Err(self.denied("write"))
                }
            }
            _ => Err(self.denied("write")),
        }
    }

    fn key(&self) -> (RelationRef, Member) {
        (self.relation.clone(), self.member.clone())
    }

    fn load(&self) -> Result<(), ModelError> {
        let key = self.key();
        if self
            .model
            .bags
            .borrow()
            .get(&key)
            .is_some_and(|b| b.read.is_some())
        {
            return Ok(());
        }
        let read = self
            .model
            .backend()
            .relation_get(&self.relation, self.member.name(), self.member.is_app())
            .map_err(ModelError::backend(format!(
                "reading the {} databag",
                self.describe()
            )))?;
        self.model.bags.borrow_mut().entry(key).or_default().read = Some(read);
        Ok(())
    }

    /// Every key and value.
    pub fn get_all(&self) -> Result<BTreeMap<String, String>, ModelError> {
        self.check_read()?;
        self.load()?;
        Ok(self
            .model
            .bags
            .borrow()
            .get(&self.key())
            .map(BagState::view)
            .unwrap_or_default())
    }

    /// One value, if set.
    pub fn get(&self, key: &str) -> Result<Option<String>, ModelError> {
        Ok(self.get_all()?.remove(key))
    }

    /// Sets a value; an empty value deletes the key, as in Juju.
    pub fn set(&self, key: &str, value: &str) -> Result<(), ModelError> {
        self.check_write()?;
        let value = (!value.is_empty()).then(|| value.to_string());
        self.model
            .bags
            .borrow_mut()
            .entry(self.key())
            .or_default()
            .pending
            .insert(key.to_string(), value);
        Ok(())
    }

    /// Deletes a key.
    pub fn remove(&self, key: &str) -> Result<(), ModelError> {
        self.set(key, "")
    }

    /// Sets several values at once (empty values delete).
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

    /// The bag as a typed struct: each field a key; strings raw, other values JSON.
    pub fn load_as<T: DeserializeOwned>(&self) -> Result<T, ModelError> {
        let map = self.get_all()?;
        typed::from_map(&map).map_err(|(key, reason)| ModelError::DatabagField {
            bag: self.describe(),
            key,
            reason,
        })
    }

    /// Writes a typed struct: each field a key; `None` fields delete their key.
    pub fn save<T: Serialize>(&self, value: &T) -> Result<(), ModelError> {
        self.check_write()?;
        let map = typed::to_map(value).map_err(|(key, reason)| ModelError::DatabagField {
            bag: self.describe(),
            key,
            reason,
        })?;
        self.update(map.into_iter().map(|(k, v)| (k, v.unwrap_or_default())))
    }
}
