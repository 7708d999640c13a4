//! Managing the fake model from tests and the simulator: no access rules.

use std::collections::BTreeMap;

use ops::backend::{StatusInfo, StatusName};
use ops::{CharmMeta, EndpointRole};

use super::secrets::new_secret_id;
use super::{
    ActionState, AppState, Bag, EndpointState, FakeJuju, LogRecord, MODEL_UUID, PortRange,
    RelationState, SecretGrant, SecretState, UnitState, app_of,
};

impl FakeJuju {
    /// An empty model.
    pub fn new(model_name: &str) -> Self {
        Self {
            model_name: model_name.to_string(),
            model_uuid: MODEL_UUID.to_string(),
            ..Default::default()
        }
    }

    /// Deploys an application of the charm `meta` with `units` units: its
    /// endpoints and config defaults come from the metadata. Returns the
    /// units' names.
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
                config_options: meta.config.keys().cloned().collect(),
                status: StatusInfo::new(StatusName::Unknown, ""),
                workload_version: String::new(),
                resources: BTreeMap::new(),
                leader_settings: Bag::new(),
                trusted: false,
                extra_bindings: meta.extra_bindings.iter().cloned().collect(),
            },
        );
        (0..units).map(|_| self.add_unit(app)).collect()
    }

    /// Adds a unit to an application; returns its name (`app/<n>`, numbers
    /// never reused).
    ///
    /// # Panics
    /// If the application is not deployed (a test's mistake).
    pub fn add_unit(&mut self, app: &str) -> String {
        let state = self
            .apps
            .get_mut(app)
            .unwrap_or_else(|| panic!("application {app} is not deployed"));
        let number = state.next_unit;
        let name = format!("{app}/{number}");
        state.next_unit += 1;
        state.units.push(name.clone());
        // Addresses from the loopback range 127.0.2.0/24 (tests stay on loopback), one per unit
        // of the model.
        let host = self.next_address % 250 + 2;
        self.next_address += 1;
        let unit = UnitState {
            address: format!("127.0.2.{host}"),
            ..UnitState::default()
        };
        self.units.insert(name.clone(), unit);
        name
    }

    /// Removes a unit from the model and leaves every relation; as in Juju
    /// its bags stay readable for the relations' lifetime. A leader removed
    /// leaves the application without one.
    pub fn remove_unit(&mut self, unit: &str) {
        if let Some(state) = self.apps.get_mut(app_of(unit)) {
            state.units.retain(|u| u != unit);
            if state.leader.as_deref() == Some(unit) {
                state.leader = None;
            }
        }
        self.units.remove(unit);
        for relation in self.relations.values_mut() {
            relation.joined.remove(unit);
            relation.departed_from.remove(unit);
        }
        self.pending.remove(unit);
    }

    /// Makes `unit` the leader of `app` (or leaves `app` without one).
    pub fn set_leader(&mut self, app: &str, unit: Option<&str>) {
        if let Some(state) = self.apps.get_mut(app) {
            state.leader = unit.map(str::to_string);
        }
    }

    /// The leader of `app`.
    pub fn leader(&self, app: &str) -> Option<&str> {
        self.apps.get(app).and_then(|a| a.leader.as_deref())
    }

    /// Relates `app:endpoint` to `remote_app:remote_endpoint` (the same
    /// application for a peer relation); both application bags start empty.
    /// Returns the new relation's id. The remote application need not be
    /// deployed (a Harness test plays it).
    pub fn add_relation(
        &mut self,
        app: &str,
        endpoint: &str,
        remote_app: &str,
        remote_endpoint: &str,
    ) -> u32 {
        let id = self.next_relation_id;
        self.next_relation_id += 1;
        let bags = BTreeMap::from([
            (app.to_string(), Bag::new()),
            (remote_app.to_string(), Bag::new()),
        ]);
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
                departed_from: BTreeMap::new(),
            },
        );
        id
    }

    /// A unit joins (enters the scope of) a relation; its bag starts empty.
    pub fn join_unit(&mut self, relation: u32, unit: &str) {
        if let Some(r) = self.relations.get_mut(&relation) {
            r.joined.insert(unit.to_string());
            r.bags.entry(unit.to_string()).or_default();
        }
    }

    /// A unit leaves a relation; its bag stays readable for the relation's
    /// lifetime, as in Juju.
    pub fn depart_unit(&mut self, relation: u32, unit: &str) {
        if let Some(r) = self.relations.get_mut(&relation) {
            r.joined.remove(unit);
        }
    }

    /// `unit` leaves the view of `viewer` only: `viewer`'s `relation-list`
    /// no longer shows it though it is still joined. How Juju's dying unit
    /// sees its relations empty one remote unit at a time, before it leaves
    /// them itself.
    pub fn depart_from_view(&mut self, relation: u32, viewer: &str, unit: &str) {
        if let Some(r) = self.relations.get_mut(&relation) {
            r.departed_from
                .entry(viewer.to_string())
                .or_default()
                .insert(unit.to_string());
        }
    }

    /// Removes a relation, and the secret grants made in it; returns it.
    pub fn remove_relation(&mut self, relation: u32) -> Option<RelationState> {
        for secret in self.secrets.values_mut() {
            secret.grants.retain(|g| g.relation != relation);
        }
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

    /// Juju's key of a relation, as its error messages show it: the requirer
    /// first (`wordpress:db mysql:server`), or `app:endpoint` for peers.
    pub fn relation_key(&self, relation: u32) -> Option<String> {
        let r = self.relations.get(&relation)?;
        if r.is_peer() {
            return Some(format!("{}:{}", r.app, r.endpoint));
        }
        let role = |app: &str, endpoint: &str| {
            self.apps
                .get(app)
                .and_then(|a| a.endpoints.get(endpoint))
                .map(|e| e.role.clone())
        };
        let first_provides = role(&r.app, &r.endpoint).as_deref() == Some("provides")
            || role(&r.remote_app, &r.remote_endpoint).as_deref() == Some("requires");
        let first = format!("{}:{}", r.app, r.endpoint);
        let second = format!("{}:{}", r.remote_app, r.remote_endpoint);
        Some(if first_provides {
            format!("{second} {first}")
        } else {
            format!("{first} {second}")
        })
    }

    /// A databag as committed (no access rules, no pending writes); empty if
    /// there is none.
    pub fn bag(&self, relation: u32, member: &str) -> Bag {
        self.relations
            .get(&relation)
            .and_then(|r| r.bags.get(member))
            .cloned()
            .unwrap_or_default()
    }

    /// Replaces a databag (no access rules): how a test plays the remote side.
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

    /// An application's config values (unset options absent).
    pub fn config(&self, app: &str) -> serde_json::Map<String, serde_json::Value> {
        self.apps
            .get(app)
            .map(|a| a.config.clone())
            .unwrap_or_default()
    }

    /// A unit's workload status.
    pub fn unit_status(&self, unit: &str) -> Option<&StatusInfo> {
        self.units.get(unit).map(|u| &u.status)
    }

    /// An application's status.
    pub fn app_status(&self, app: &str) -> Option<&StatusInfo> {
        self.apps.get(app).map(|a| &a.status)
    }

    /// The ports a unit has opened (committed).
    pub fn opened_ports(&self, unit: &str) -> Vec<PortRange> {
        self.units
            .get(unit)
            .map(|u| u.ports.iter().cloned().collect())
            .unwrap_or_default()
    }

    /// Sets the file `resource-get <name>` answers for an application.
    pub fn set_resource(&mut self, app: &str, name: &str, path: &str) {
        if let Some(a) = self.apps.get_mut(app) {
            a.resources.insert(name.to_string(), path.to_string());
        }
    }

    /// Trusts an application or not (`juju trust`): `credential-get` then
    /// answers [`FakeJuju::cloud_spec`].
    pub fn set_trusted(&mut self, app: &str, trusted: bool) {
        if let Some(a) = self.apps.get_mut(app) {
            a.trusted = trusted;
        }
    }

    /// The address `network-get` reports for a unit.
    pub fn set_unit_address(&mut self, unit: &str, address: &str) {
        if let Some(u) = self.units.get_mut(unit) {
            u.address = address.to_string();
        }
    }

    /// Adds a secret owned by `owner` (an application or a unit name) with
    /// revision 1 holding `content`; returns its id (`secret:<xid>`).
    pub fn add_secret(&mut self, owner: &str, content: Bag, label: Option<&str>) -> String {
        self.next_secret += 1;
        let id = new_secret_id(self.next_secret);
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
                grants: Vec::new(),
                tracked: BTreeMap::new(),
                consumer_labels: BTreeMap::new(),
            },
        );
        id
    }

    /// Lets the other side of `relation` (or only `unit` of it) read a secret.
    pub fn grant_secret(&mut self, id: &str, relation: u32, unit: Option<&str>) {
        let Some(r) = self.relations.get(&relation) else {
            return;
        };
        let Some(s) = self.secrets.get_mut(id) else {
            return;
        };
        let app = match unit {
            Some(unit) => app_of(unit).to_string(),
            None => r.other_app(app_of(&s.owner)).to_string(),
        };
        let grant = SecretGrant {
            relation,
            app,
            unit: unit.map(str::to_string),
        };
        if !s.grants.contains(&grant) {
            s.grants.push(grant);
        }
    }

    /// Adds a revision holding `content` to a secret.
    pub fn set_secret_content(&mut self, id: &str, content: Bag) {
        if let Some(s) = self.secrets.get_mut(id) {
            let next = s.latest() + 1;
            s.revisions.insert(next, content);
        }
    }

    /// Starts an action on a unit: the `action-*` tools work until the next
    /// [`FakeJuju::end_hook`] of that unit.
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
                running: true,
                ..Default::default()
            });
        }
    }

    /// A unit's action (running, or as it ended).
    pub fn action(&self, unit: &str) -> Option<&ActionState> {
        self.units.get(unit).and_then(|u| u.action.as_ref())
    }

    /// The `juju-log` lines of one unit, in order.
    pub fn logs_of(&self, unit: &str) -> Vec<&LogRecord> {
        self.logs.iter().filter(|l| l.unit == unit).collect()
    }
}
