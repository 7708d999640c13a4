//! The fake model's data: applications, units, relations, secrets.

use std::collections::{BTreeMap, BTreeSet};

use ops::backend::{OpenedPort, StatusInfo, StatusName};
use serde::{Deserialize, Serialize};

/// A string map: a databag, unit state, secret content.
pub type Bag = BTreeMap<String, String>;

/// An endpoint of a deployed application.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EndpointState {
    /// `peer`, `requires` or `provides`.
    pub role: String,
    /// The interface name.
    pub interface: String,
}

/// A deployed application.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AppState {
    /// Its endpoints by name.
    pub endpoints: BTreeMap<String, EndpointState>,
    /// Its units, in the order they were added.
    pub units: Vec<String>,
    /// The next unit number.
    pub next_unit: u32,
    /// The leader unit.
    pub leader: Option<String>,
    /// Config values (defaults included).
    pub config: serde_json::Map<String, serde_json::Value>,
    /// Application status.
    pub status: StatusInfo,
    /// `application-version-set`.
    pub workload_version: String,
    /// Resource files by name.
    pub resources: BTreeMap<String, String>,
}

/// One unit.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UnitState {
    /// Unit status.
    pub status: StatusInfo,
    /// Controller-side unit state (`state-get`).
    pub state: Bag,
    /// Opened ports.
    pub ports: BTreeSet<OpenedPort>,
    /// The running action, if any.
    pub action: Option<ActionState>,
}

impl Default for UnitState {
    fn default() -> Self {
        Self {
            status: StatusInfo::new(StatusName::Unknown, ""),
            state: Bag::new(),
            ports: BTreeSet::new(),
            action: None,
        }
    }
}

/// An action run on a unit.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct ActionState {
    /// The action name.
    pub name: String,
    /// Its parameters.
    pub params: serde_json::Map<String, serde_json::Value>,
    /// `action-set` results, flattened keys.
    pub results: Bag,
    /// `action-fail` message.
    pub failure: Option<String>,
    /// `action-log` lines.
    pub log: Vec<String>,
}

/// A relation between two applications (or one, for peers).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RelationState {
    /// The relation id.
    pub id: u32,
    /// The first application and its endpoint.
    pub app: String,
    /// The first application's endpoint.
    pub endpoint: String,
    /// The second application (the same for peers).
    pub remote_app: String,
    /// The second application's endpoint.
    pub remote_endpoint: String,
    /// Units that have joined.
    pub joined: BTreeSet<String>,
    /// Databags by member (unit or application name).
    pub bags: BTreeMap<String, Bag>,
}

impl RelationState {
    /// Whether this is a peer relation.
    pub fn is_peer(&self) -> bool {
        self.app == self.remote_app
    }

    /// The endpoint name `app` uses, if `app` is in the relation.
    pub fn endpoint_of(&self, app: &str) -> Option<&str> {
        if app == self.app {
            Some(&self.endpoint)
        } else if app == self.remote_app {
            Some(&self.remote_endpoint)
        } else {
            None
        }
    }

    /// The application on the other side from `app`.
    pub fn other_app(&self, app: &str) -> &str {
        if app == self.app {
            &self.remote_app
        } else {
            &self.app
        }
    }
}

/// A secret.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SecretState {
    /// `secret:...`
    pub id: String,
    /// The owning application or unit.
    pub owner: String,
    /// `application` or `unit`.
    pub owner_kind: String,
    /// The owner's label.
    pub label: Option<String>,
    /// Description.
    pub description: Option<String>,
    /// Expiry.
    pub expire: Option<String>,
    /// Rotation policy.
    pub rotate: Option<String>,
    /// Content by revision.
    pub revisions: BTreeMap<u64, Bag>,
    /// Relation id → the unit granted (None = the whole remote app).
    pub grants: BTreeMap<u32, Option<String>>,
    /// Revision tracked by each consumer unit.
    pub tracked: BTreeMap<String, u64>,
    /// Labels consumers gave it.
    pub consumer_labels: BTreeMap<String, String>,
}

impl SecretState {
    /// The latest revision.
    pub fn latest(&self) -> u64 {
        self.revisions.keys().next_back().copied().unwrap_or(0)
    }
}

/// One `juju-log` line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogRecord {
    /// The unit that logged.
    pub unit: String,
    /// `DEBUG`, `INFO`, `WARNING`, `ERROR`.
    pub level: String,
    /// The message.
    pub message: String,
}

/// Writes made in a running hook, applied only if it succeeds.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Pending {
    /// Databag writes: (relation id, member, key) → value (None deletes).
    pub bags: Vec<PendingBag>,
    /// Unit-state writes (None deletes).
    pub state: BTreeMap<String, Option<String>>,
}

/// Pending writes to one bag.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct PendingBag {
    /// The relation.
    pub relation: u32,
    /// The unit or application whose bag it is.
    pub member: String,
    /// key → value (None deletes).
    pub changes: BTreeMap<String, Option<String>>,
}
