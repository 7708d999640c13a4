//! A fake Juju: one in-memory model that the Harness and the fake hook-tool
//! executables share.
//!
//! [`FakeJuju`] holds the whole model (applications, units, relations and
//! their databags, config, status, secrets, actions, logs). Tests and the
//! simulator change it freely through its management methods; charm code
//! reaches it only through the hook operations in [`hook`], which apply
//! Juju's access rules, speak Juju's error messages, and keep a hook's
//! relation and state writes pending until the hook ends successfully.

mod backend;
pub mod cli;
pub mod hook;
mod state;

pub use backend::FakeBackend;
pub use cli::install_hook_tools;
pub use hook::{HookChanges, HookContext, HookError, HookErrorKind};
pub use state::{
    ActionState, AppState, Bag, EndpointState, LogRecord, Pending, PendingBag, RelationState,
    SecretState, UnitState,
};

use std::collections::BTreeMap;

use ops::backend::{StatusInfo, StatusName};
use ops::{CharmMeta, EndpointRole};
use serde::{Deserialize, Serialize};

/// The whole fake model.
///
/// ```
/// use ops_testing::fake_juju::FakeJuju;
///
/// let meta = ops::CharmMeta::from_charmcraft_yaml(
///     "name: demo\npeers: {replicas: {interface: demo}}\n",
/// ).unwrap();
/// let mut juju = FakeJuju::new("test");
/// let units = juju.deploy("demo", &meta, 2);
/// juju.set_leader("demo", Some(&units[0]));
/// let peers = juju.add_relation("demo", "replicas", "demo", "replicas");
/// juju.join_unit(peers, &units[0]);
/// juju.join_unit(peers, &units[1]);
/// assert_eq!(juju.leader("demo"), Some("demo/0"));
/// ```
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct FakeJuju {
    /// The model's name.
    pub model_name: String,
    /// Applications by name.
    pub apps: BTreeMap<String, AppState>,
    /// Units by name.
    pub units: BTreeMap<String, UnitState>,
    /// Relations by id.
    pub relations: BTreeMap<u32, RelationState>,
    /// Secrets by id.
    pub secrets: BTreeMap<String, SecretState>,
    /// Every `juju-log` line.
    pub logs: Vec<LogRecord>,
    /// Writes of hooks still running, by unit.
    pub pending: BTreeMap<String, Pending>,
    next_relation_id: u32,
    next_secret: u64,
}

impl FakeJuju {
    /// An empty model.
    pub fn new(model_name: &str) -> Self {
        Self {
            model_name: model_name.to_string(),
            ..Default::default()
        }
    }

    /// Deploys an application with `units` units; returns their names.
    pub fn deploy(&mut self, app: &str, meta: &CharmMeta, units: usize) -> Vec<String> {
        let endpoints = meta
            .endpoints
            .iter()
            .map(|(name, e)| {
                let role = match e.role {
                    EndpointRole::Peer => "peer",
                    EndpointRole::Requires => "requires",
                    EndpointRole::Provides => "provides",
                };
                (
                    name.clone(),
                    EndpointState {
                        role: role.to_string(),
                        interface: e.interface.clone(),
                    },
                )
            })
            .collect();
        self.apps.insert(
            app.to_string(),
            AppState {
                endpoints,
                units: Vec::new(),
                next_unit: 0,
                leader: None,
                config: meta.config_defaults(),
                status: StatusInfo::new(StatusName::Unknown, ""),
                workload_version: String::new(),
                resources: BTreeMap::new(),
            },
        );
        (0..units).map(|_| self.add_unit(app)).collect()
    }

    /// Adds a unit to an application; returns its name.
    ///
    /// # Panics
    /// If the application is not deployed (a test's mistake).
    pub fn add_unit(&mut self, app: &str) -> String {
        let state = self
            .apps
            .get_mut(app)
            .unwrap_or_else(|| panic!("application {app} is not deployed"));
        let name = format!("{app}/{}", state.next_unit);
        state.next_unit += 1;
        state.units.push(name.clone());
        self.units.insert(name.clone(), UnitState::default());
        name
    }

    /// Removes a unit from the model and from every relation; a leader
    /// removed leaves the application without one.
    pub fn remove_unit(&mut self, unit: &str) {
        let app = app_of(unit).to_string();
        if let Some(state) = self.apps.get_mut(&app) {
            state.units.retain(|u| u != unit);
            if state.leader.as_deref() == Some(unit) {
                state.leader = None;
            }
        }
        self.units.remove(unit);
        for relation in self.relations.values_mut() {
            relation.joined.remove(unit);
            relation.bags.remove(unit);
        }
        self.pending.remove(unit);
    }

    /// Makes `unit` the leader of `app` (or leaves it without one).
    pub fn set_leader(&mut self, app: &str, unit: Option<&str>) {
        if let Some(state) = self.apps.get_mut(app) {
            state.leader = unit.map(str::to_string);
        }
    }

    /// The leader of `app`.
    pub fn leader(&self, app: &str) -> Option<&str> {
        self.apps.get(app).and_then(|a| a.leader.as_deref())
    }

    /// Relates two applications (the same one, for a peer relation); returns the id.
    pub fn add_relation(
        &mut self,
        app: &str,
        endpoint: &str,
        remote_app: &str,
        remote_endpoint: &str,
    ) -> u32 {
        let id = self.next_relation_id;
        self.next_relation_id += 1;
        let mut bags = BTreeMap::new();
        bags.insert(app.to_string(), Bag::new());
        bags.insert(remote_app.to_string(), Bag::new());
        self.relations.insert(
            id,
            RelationState {
                id,
                app: app.to_string(),
                endpoint: endpoint.to_string(),
                remote_app: remote_app.to_string(),
                remote_endpoint: remote_endpoint.to_string(),
                joined: Default::default(),
                bags,
            },
        );
        id
    }

    /// A unit joins a relation (its bag starts empty).
    pub fn join_unit(&mut self, relation: u32, unit: &str) {
        if let Some(r) = self.relations.get_mut(&relation) {
            r.joined.insert(unit.to_string());
            r.bags.entry(unit.to_string()).or_default();
        }
    }

    /// A unit leaves a relation; its bag is kept (readable in relation-departed).
    pub fn depart_unit(&mut self, relation: u32, unit: &str) {
        if let Some(r) = self.relations.get_mut(&relation) {
            r.joined.remove(unit);
        }
    }

    /// Removes a relation.
    pub fn remove_relation(&mut self, relation: u32) -> Option<RelationState> {
        self.relations.remove(&relation)
    }

    /// The relations of `app` on `endpoint`, by id.
    pub fn relations_of(&self, app: &str, endpoint: &str) -> Vec<u32> {
        self.relations
            .values()
            .filter(|r| r.endpoint_of(app) == Some(endpoint))
            .map(|r| r.id)
            .collect()
    }

    /// A databag as committed (no access rules).
    pub fn bag(&self, relation: u32, member: &str) -> Bag {
        self.relations
            .get(&relation)
            .and_then(|r| r.bags.get(member))
            .cloned()
            .unwrap_or_default()
    }

    /// Replaces a databag (no access rules).
    pub fn set_bag(&mut self, relation: u32, member: &str, bag: Bag) {
        if let Some(r) = self.relations.get_mut(&relation) {
            r.bags.insert(member.to_string(), bag);
        }
    }

    /// Updates config values; `null` unsets an option.
    pub fn set_config(&mut self, app: &str, values: serde_json::Map<String, serde_json::Value>) {
        if let Some(state) = self.apps.get_mut(app) {
            for (k, v) in values {
                if v.is_null() {
                    state.config.remove(&k);
                } else {
                    state.config.insert(k, v);
                }
            }
        }
    }

    /// An application's config.
    pub fn config(&self, app: &str) -> serde_json::Map<String, serde_json::Value> {
        self.apps
            .get(app)
            .map(|a| a.config.clone())
            .unwrap_or_default()
    }

    /// A unit's status.
    pub fn unit_status(&self, unit: &str) -> Option<&StatusInfo> {
        self.units.get(unit).map(|u| &u.status)
    }

    /// An application's status.
    pub fn app_status(&self, app: &str) -> Option<&StatusInfo> {
        self.apps.get(app).map(|a| &a.status)
    }

    /// Adds a secret owned by `owner` (an app or a unit name); returns its id.
    pub fn add_secret(&mut self, owner: &str, content: Bag, label: Option<&str>) -> String {
        self.next_secret += 1;
        let id = format!(
            "secret:{:020x}",
            0x5ec7_0000_0000_0000_u64 + self.next_secret
        );
        self.secrets.insert(
            id.clone(),
            SecretState {
                id: id.clone(),
                owner: owner.to_string(),
                owner_kind: if owner.contains('/') {
                    "unit"
                } else {
                    "application"
                }
                .to_string(),
                label: label.map(str::to_string),
                description: None,
                expire: None,
                rotate: None,
                revisions: BTreeMap::from([(1, content)]),
                grants: BTreeMap::new(),
                tracked: BTreeMap::new(),
                consumer_labels: BTreeMap::new(),
            },
        );
        id
    }

    /// Grants a secret to the remote side of a relation (or one unit).
    pub fn grant_secret(&mut self, id: &str, relation: u32, unit: Option<&str>) {
        if let Some(s) = self.secrets.get_mut(id) {
            s.grants.insert(relation, unit.map(str::to_string));
        }
    }

    /// Adds a revision with new content.
    pub fn set_secret_content(&mut self, id: &str, content: Bag) {
        if let Some(s) = self.secrets.get_mut(id) {
            let next = s.latest() + 1;
            s.revisions.insert(next, content);
        }
    }

    /// Starts an action on a unit.
    pub fn start_action(
        &mut self,
        unit: &str,
        name: &str,
        params: serde_json::Map<String, serde_json::Value>,
    ) {
        if let Some(u) = self.units.get_mut(unit) {
            u.action = Some(ActionState {
                name: name.to_string(),
                params,
                ..Default::default()
            });
        }
    }

    /// A unit's action, as it ended.
    pub fn action(&self, unit: &str) -> Option<&ActionState> {
        self.units.get(unit).and_then(|u| u.action.as_ref())
    }

    /// The `juju-log` lines of one unit.
    pub fn logs_of(&self, unit: &str) -> Vec<&LogRecord> {
        self.logs.iter().filter(|l| l.unit == unit).collect()
    }
}

/// The application of a unit name.
pub fn app_of(unit: &str) -> &str {
    unit.split('/').next().unwrap_or(unit)
}
