//! A [`State`] from a running unit: the fake model a Harness or the
//! simulator keeps, the unit's fake Pebbles, and its persisted state.

use std::collections::BTreeMap;
use std::path::Path;

use ops::storage::{PersistedState, STATE_FILE_NAME, decode_unit_state};
use ops::{Charm, Status};

use super::consistency::declared_kind;
use super::engine;
use super::state::{Relation, RelationKind, Secret, SecretOwner, State};
use super::{Context, RunError};
use crate::fake_juju::{FakeJuju, app_of};
use crate::fake_pebble::FakePebble;
use crate::sim::Simulator;

/// Why a unit's state could not be read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FromModelError {
    /// The unit is not in the model.
    #[error("unit {0} is not in the model")]
    UnknownUnit(String),
    /// The model or the persisted state could not be read.
    #[error("cannot read {what}: {source}")]
    Read {
        /// What.
        what: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The persisted state is not valid JSON of ops' form.
    #[error("persisted state in {location} is corrupt: {reason}")]
    Corrupt {
        /// Where it was.
        location: String,
        /// What is wrong.
        reason: String,
    },
    /// A container's files could not be read.
    #[error(transparent)]
    Container(#[from] RunError),
}

impl<C: Charm> Context<C> {
    /// The state of `unit` (one of this context's application's units) in a
    /// fake model: leadership, config, its relations with both sides'
    /// bags, its secrets, status, ports, workload version, resources and
    /// planned units. Containers can be added with
    /// [`with_container_from`](Self::with_container_from); stored state and
    /// deferred events come from Juju's unit state if the charm keeps them
    /// there, else with [`with_persisted_file`](Self::with_persisted_file).
    ///
    /// The context must run as that unit (same application and number)
    /// for the state to be consistent.
    pub fn state_from_model(&self, juju: &FakeJuju, unit: &str) -> Result<State, FromModelError> {
        let u = juju
            .units
            .get(unit)
            .ok_or_else(|| FromModelError::UnknownUnit(unit.to_string()))?;
        let app = app_of(unit);
        let a = juju
            .apps
            .get(app)
            .ok_or_else(|| FromModelError::UnknownUnit(unit.to_string()))?;
        let defaults = self.meta().config_defaults();
        let mut state = State {
            leader: a.leader.as_deref() == Some(unit),
            config: a
                .config
                .iter()
                .filter(|(k, v)| defaults.get(*k) != Some(*v))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
            address: if u.address.is_empty() {
                super::DEFAULT_ADDRESS.to_string()
            } else {
                u.address.clone()
            },
            opened_ports: u.ports.clone(),
            unit_status: Status::from(u.status.clone()),
            app_status: Status::from(a.status.clone()),
            workload_version: a.workload_version.clone(),
            resources: a
                .resources
                .iter()
                .map(|(k, v)| (k.clone(), v.into()))
                .collect(),
            planned_units: Some(a.units.len()),
            unit_state: u.state.clone(),
            ..State::default()
        };
        for r in juju.relations.values() {
            let Some(endpoint) = r.endpoint_of(app) else {
                continue;
            };
            if !r.joined.contains(unit) {
                continue;
            }
            let remote_app = r.other_app(app).to_string();
            let bag = |member: &str| r.bags.get(member).cloned().unwrap_or_default();
            let mut relation = Relation::new(endpoint).with_id(r.id);
            relation.kind = declared_kind(self.meta(), endpoint).unwrap_or_default();
            relation.remote_app = if relation.kind == RelationKind::Peer {
                String::new()
            } else {
                remote_app.clone()
            };
            relation.local_app_data = bag(app);
            relation.local_unit_data = bag(unit);
            if remote_app != app {
                relation.remote_app_data = bag(&remote_app);
            }
            relation.remote_units_data = r
                .joined
                .iter()
                .filter(|j| app_of(j) == remote_app && *j != unit)
                .filter_map(|j| {
                    let n = j.rsplit_once('/')?.1.parse().ok()?;
                    Some((n, bag(j)))
                })
                .collect();
            state.relations.push(relation);
        }
        for s in juju.secrets.values() {
            let owned = s.owner == unit || s.owner == app;
            let grant = s.grants.iter().find(|g| {
                g.app == app
                    && g.unit.as_deref().is_none_or(|u| u == unit)
                    && state.relation(g.relation).is_some()
            });
            let owner = if s.owner == unit {
                SecretOwner::Unit
            } else if owned {
                SecretOwner::App
            } else if let Some(g) = grant {
                SecretOwner::Remote {
                    app: s.owner.clone(),
                    relation: g.relation,
                }
            } else {
                continue;
            };
            let observed = matches!(owner, SecretOwner::Remote { .. });
            let mut secret = Secret::new(Vec::<(&str, &str)>::new()).with_id(&s.id);
            secret.owner = owner;
            secret.revisions = s.revisions.clone();
            secret.tracked_revision = if observed {
                s.tracked.get(unit).copied().unwrap_or(s.latest())
            } else {
                s.latest()
            };
            secret.label = if observed {
                s.consumer_labels.get(unit).cloned()
            } else {
                s.label.clone()
            };
            secret.description = s.description.clone();
            secret.expire = s.expire.clone();
            secret.rotate = s.rotate.clone();
            if !observed {
                secret.grants = s
                    .grants
                    .iter()
                    .map(|g| super::Grant {
                        relation: g.relation,
                        unit: g.unit.clone(),
                    })
                    .collect();
            }
            state.secrets.push(secret);
        }
        let (persisted, ours) =
            decode_unit_state(&state.unit_state).map_err(|e| FromModelError::Corrupt {
                location: "juju unit state".to_string(),
                reason: e.to_string(),
            })?;
        if !ours.is_empty() {
            state.unit_state.retain(|key, _| !ours.contains_key(key));
            state = self.with_persisted(state, &persisted);
        }
        Ok(state)
    }

    /// `state` with the stored state and deferred events of `persisted`.
    pub fn with_persisted(&self, mut state: State, persisted: &PersistedState) -> State {
        state.stored_states = engine::stored_states(persisted, &Self::charm_name());
        state.deferred = persisted.notices.clone();
        state
    }

    /// `state` with the stored state and deferred events of the unit's
    /// `.unit-state.json` in `charm_dir` (unchanged if there is none).
    pub fn with_persisted_file(
        &self,
        state: State,
        charm_dir: &Path,
    ) -> Result<State, FromModelError> {
        let path = charm_dir.join(STATE_FILE_NAME);
        match std::fs::read_to_string(&path) {
            Ok(json) => {
                let persisted = parse_persisted(&json, &path.display().to_string())?;
                Ok(self.with_persisted(state, &persisted))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(state),
            Err(source) => Err(FromModelError::Read {
                what: path.display().to_string(),
                source,
            }),
        }
    }

    /// `state` with container `name` as the fake Pebble `pebble` holds it:
    /// whether it answers, its layers, service statuses and files.
    pub fn with_container_from(
        &self,
        mut state: State,
        name: &str,
        pebble: &FakePebble,
    ) -> Result<State, FromModelError> {
        let mut container = engine::read_container(name, pebble)?;
        container.can_connect = pebble.can_connect();
        state = state.with_container(container);
        Ok(state)
    }

    /// The state of simulated `unit`: the simulator's saved model, and each
    /// container's Pebble (layers, services, files). Stored state and
    /// deferred events are included when the charm keeps them in Juju's
    /// unit state; a charm-directory state file is not reachable through
    /// the simulator's public API (see [`with_persisted_file`](Self::with_persisted_file)).
    pub fn state_from_simulator(
        &self,
        sim: &Simulator,
        unit: &str,
    ) -> Result<State, FromModelError> {
        let juju = crate::fake_juju::cli::load_state(sim.state_path()).map_err(|source| {
            FromModelError::Read {
                what: sim.state_path().display().to_string(),
                source,
            }
        })?;
        let mut state = self.state_from_model(&juju, unit)?;
        let mut containers = BTreeMap::new();
        for name in self.meta().containers.keys() {
            if let Some(pebble) = sim.pebble(unit, name) {
                let mut container = engine::read_container(name, pebble)?;
                container.can_connect = pebble.can_connect();
                containers.insert(name.clone(), container);
            }
        }
        for (_, c) in containers {
            state = state.with_container(c);
        }
        Ok(state)
    }
}

fn parse_persisted(json: &str, location: &str) -> Result<PersistedState, FromModelError> {
    serde_json::from_str(json).map_err(|e| FromModelError::Corrupt {
        location: location.to_string(),
        reason: e.to_string(),
    })
}
