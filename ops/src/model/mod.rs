//! The Juju model as a charm sees it: this unit and application, relations
//! and their databags, config, leadership, status, secrets, ports, actions
//! and workload containers.
//!
//! Every read is made at most once per dispatch and cached; databag writes
//! are buffered and sent, one `relation-set` per changed bag, when the
//! dispatch commits. Reads see the dispatch's own writes.

mod config;
mod container;
mod databag;
mod error;
mod secret;
mod status;
mod typed;

pub use config::Config;
pub use container::Container;
pub use databag::{Databag, Member};
pub use error::ModelError;
pub use secret::{Secret, SecretOptions};
pub use status::Status;

pub use crate::backend::{OpenedPort, PortProtocol, SecretOwner, StatusName};

use std::cell::{Cell, RefCell};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::PathBuf;
use std::sync::Arc;

use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use crate::backend::{Backend, RelationRef, StringMap};
use crate::meta::CharmMeta;
use databag::BagState;

/// What [`Model::new`] needs.
pub struct ModelParts {
    /// The hook tools.
    pub backend: Arc<dyn Backend>,
    /// The charm's metadata.
    pub meta: Arc<CharmMeta>,
    /// This unit (`app/0`).
    pub unit_name: String,
    /// The Juju model's name.
    pub model_name: String,
    /// Where the Pebble sockets are.
    pub containers_dir: PathBuf,
    /// The relation of a relation event.
    pub hook_relation: Option<RelationRef>,
    /// The unit leaving, in relation-departed.
    pub departing_unit: Option<String>,
    /// The relation being broken, in relation-broken: not in `relations()`.
    pub broken_relation: Option<RelationRef>,
}

/// This unit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unit {
    name: String,
}

impl Unit {
    /// `app/0`.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The unit number.
    pub fn number(&self) -> Option<u32> {
        self.name.rsplit('/').next().and_then(|n| n.parse().ok())
    }
}

/// This application.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct App {
    name: String,
}

impl App {
    /// The application name.
    pub fn name(&self) -> &str {
        &self.name
    }
}

/// A relation this unit takes part in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Relation {
    /// Endpoint name and relation id.
    pub id: RelationRef,
    /// The remote application (this application, for a peer relation), if known.
    pub app: Option<String>,
    /// The remote units in the relation.
    pub units: BTreeSet<String>,
}

impl Relation {
    /// The endpoint name.
    pub fn name(&self) -> &str {
        &self.id.name
    }
}

/// A network binding as `network-get` describes it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Network {
    /// The addresses the unit binds to.
    pub bind_addresses: Vec<String>,
    /// The addresses others reach the unit on.
    pub ingress_addresses: Vec<String>,
    /// The subnets outgoing traffic comes from.
    pub egress_subnets: Vec<String>,
}

/// The Juju model, for one dispatch.
///
/// ```no_run
/// # fn demo(model: &ops::Model) -> Result<(), ops::model::ModelError> {
/// if model.is_leader()? {
///     for relation in model.relations("database")? {
///         model.local_app_data(&relation).set("endpoints", "host:6432")?;
///     }
/// }
/// model.set_unit_status(ops::Status::active(""))?;
/// # Ok(()) }
/// ```
pub struct Model {
    backend: Arc<dyn Backend>,
    meta: Arc<CharmMeta>,
    unit: Unit,
    app: App,
    name: String,
    containers_dir: PathBuf,
    hook_relation: Option<RelationRef>,
    departing_unit: Option<String>,
    broken_relation: Option<RelationRef>,
    leader: Cell<Option<bool>>,
    relation_ids: RefCell<HashMap<String, Vec<RelationRef>>>,
    relations: RefCell<HashMap<RelationRef, Relation>>,
    pub(crate) bags: RefCell<BTreeMap<(RelationRef, Member), BagState>>,
    config: RefCell<Option<Config>>,
    action_params: RefCell<Option<Map<String, Value>>>,
}

impl Model {
    /// A model over a backend.
    pub fn new(parts: ModelParts) -> Self {
        let app = parts
            .unit_name
            .split('/')
            .next()
            .unwrap_or(&parts.unit_name)
            .to_string();
        Self {
            backend: parts.backend,
            meta: parts.meta,
            unit: Unit {
                name: parts.unit_name,
            },
            app: App { name: app },
            name: parts.model_name,
            containers_dir: parts.containers_dir,
            hook_relation: parts.hook_relation,
            departing_unit: parts.departing_unit,
            broken_relation: parts.broken_relation,
            leader: Cell::new(None),
            relation_ids: RefCell::default(),
            relations: RefCell::default(),
            bags: RefCell::default(),
            config: RefCell::default(),
            action_params: RefCell::default(),
        }
    }

    /// This unit.
    pub fn unit(&self) -> &Unit {
        &self.unit
    }

    /// This application.
    pub fn app(&self) -> &App {
        &self.app
    }

    /// The Juju model's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The charm's metadata.
    pub fn meta(&self) -> &CharmMeta {
        &self.meta
    }

    /// The hook tools.
    pub fn backend(&self) -> &dyn Backend {
        self.backend.as_ref()
    }

    /// The relation of the current relation event, if any.
    pub fn hook_relation(&self) -> Option<&RelationRef> {
        self.hook_relation.as_ref()
    }

    /// The unit leaving, in relation-departed.
    pub fn departing_unit(&self) -> Option<&str> {
        self.departing_unit.as_deref()
    }

    /// Whether this unit is the leader (one `is-leader` per dispatch).
    pub fn is_leader(&self) -> Result<bool, ModelError> {
        if let Some(leader) = self.leader.get() {
            return Ok(leader);
        }
        let leader = self
            .backend
            .is_leader()
            .map_err(ModelError::backend("checking leadership"))?;
        self.leader.set(Some(leader));
        Ok(leader)
    }

    fn check_endpoint(&self, endpoint: &str) -> Result<(), ModelError> {
        if self.meta.endpoint(endpoint).is_none() {
            return Err(ModelError::UnknownEndpoint {
                endpoint: endpoint.to_string(),
            });
        }
        Ok(())
    }

    fn relation_ids(&self, endpoint: &str) -> Result<Vec<RelationRef>, ModelError> {
        if let Some(ids) = self.relation_ids.borrow().get(endpoint) {
            return Ok(ids.clone());
        }
        let ids = self
            .backend
            .relation_ids(endpoint)
            .map_err(ModelError::backend(format!("listing {endpoint} relations")))?;
        self.relation_ids
            .borrow_mut()
            .insert(endpoint.to_string(), ids.clone());
        Ok(ids)
    }

    fn load_relation(&self, id: &RelationRef) -> Result<Relation, ModelError> {
        if let Some(relation) = self.relations.borrow().get(id) {
            return Ok(relation.clone());
        }
        let units: BTreeSet<String> = self
            .backend
            .relation_list(id)
            .map_err(ModelError::backend(format!("listing the units of {id}")))?
            .into_iter()
            .collect();
        let app = if self.meta.is_peer(&id.name) {
            Some(self.app.name.clone())
        } else {
            let named = self
                .backend
                .relation_remote_app(id)
                .map_err(ModelError::backend(format!(
                    "getting the remote app of {id}"
                )))?;
            named.or_else(|| {
                units
                    .iter()
                    .chain(self.departing_unit.iter())
                    .next()
                    .and_then(|u| u.split('/').next())
                    .map(str::to_string)
            })
        };
        let relation = Relation {
            id: id.clone(),
            app,
            units,
        };
        self.relations
            .borrow_mut()
            .insert(id.clone(), relation.clone());
        Ok(relation)
    }

    /// The relations of an endpoint; the relation being broken is not among them.
    pub fn relations(&self, endpoint: &str) -> Result<Vec<Relation>, ModelError> {
        self.check_endpoint(endpoint)?;
        self.relation_ids(endpoint)?
            .iter()
            .filter(|id| self.broken_relation.as_ref() != Some(*id))
            .map(|id| self.load_relation(id))
            .collect()
    }

    /// The one relation of an endpoint, if any; an error if there are several.
    pub fn relation(&self, endpoint: &str) -> Result<Option<Relation>, ModelError> {
        let mut relations = self.relations(endpoint)?;
        match relations.len() {
            0 | 1 => Ok(relations.pop()),
            count => Err(ModelError::TooManyRelations {
                endpoint: endpoint.to_string(),
                count,
            }),
        }
    }

    /// A relation by id, if this unit is in it (the broken relation included,
    /// so that relation-broken handlers can still read its remote data).
    pub fn relation_by_id(&self, endpoint: &str, id: u32) -> Result<Option<Relation>, ModelError> {
        self.check_endpoint(endpoint)?;
        let relation = RelationRef::new(endpoint, id);
        let known = self.relation_ids(endpoint)?.contains(&relation)
            || self.broken_relation.as_ref() == Some(&relation);
        if !known {
            return Ok(None);
        }
        self.load_relation(&relation).map(Some)
    }

    /// A databag of a relation.
    pub fn databag(&self, relation: &Relation, member: Member) -> Databag<'_> {
        Databag::new(self, relation, member)
    }

    /// This unit's databag (read and write).
    pub fn local_unit_data(&self, relation: &Relation) -> Databag<'_> {
        self.databag(relation, Member::Unit(self.unit.name.clone()))
    }

    /// This application's databag (write on the leader; read on the leader or on a peer relation).
    pub fn local_app_data(&self, relation: &Relation) -> Databag<'_> {
        self.databag(relation, Member::App(self.app.name.clone()))
    }

    /// The remote application's databag (read only), or an error if the app is unknown.
    pub fn remote_app_data(&self, relation: &Relation) -> Result<Databag<'_>, ModelError> {
        let app = relation.app.clone().ok_or_else(|| ModelError::Backend {
            operation: format!("finding the remote application of {}", relation.id),
            source: crate::backend::BackendError::RelationNotFound {
                relation: relation.id.to_string(),
                command: "relation-list".to_string(),
                stderr: "no remote application".to_string(),
            },
        })?;
        Ok(self.databag(relation, Member::App(app)))
    }

    /// A remote unit's databag (read only).
    pub fn remote_unit_data(&self, relation: &Relation, unit: &str) -> Databag<'_> {
        self.databag(relation, Member::Unit(unit.to_string()))
    }

    /// Sends the buffered databag writes: one `relation-set` per changed bag.
    /// The dispatch calls it once, before it saves state.
    pub fn flush(&self) -> Result<(), ModelError> {
        let bags = std::mem::take(&mut *self.bags.borrow_mut());
        for ((relation, member), state) in bags {
            let changes = state.changes();
            if changes.is_empty() {
                continue;
            }
            let app = matches!(member, Member::App(_));
            self.backend
                .relation_set(&relation, app, &changes)
                .map_err(ModelError::backend(format!(
                    "writing the {} databag of {relation}",
                    member.name()
                )))?;
        }
        Ok(())
    }

    /// The config (one `config-get` per dispatch).
    pub fn config(&self) -> Result<Config, ModelError> {
        if let Some(config) = self.config.borrow().as_ref() {
            return Ok(config.clone());
        }
        let values = self
            .backend
            .config_get()
            .map_err(ModelError::backend("reading config"))?;
        let config = Config::new(values);
        *self.config.borrow_mut() = Some(config.clone());
        Ok(config)
    }

    /// Sets this unit's status.
    pub fn set_unit_status(&self, status: Status) -> Result<(), ModelError> {
        self.backend
            .status_set(false, &status.into())
            .map_err(ModelError::backend("setting unit status"))
    }

    /// This unit's status.
    pub fn unit_status(&self) -> Result<Status, ModelError> {
        self.backend
            .status_get(false)
            .map(Status::from)
            .map_err(ModelError::backend("reading unit status"))
    }

    /// Sets the application's status (leader only).
    pub fn set_app_status(&self, status: Status) -> Result<(), ModelError> {
        if !self.is_leader()? {
            return Err(ModelError::NotLeader {
                operation: "set the application status".to_string(),
            });
        }
        self.backend
            .status_set(true, &status.into())
            .map_err(ModelError::backend("setting application status"))
    }

    /// The application's status (leader only).
    pub fn app_status(&self) -> Result<Status, ModelError> {
        if !self.is_leader()? {
            return Err(ModelError::NotLeader {
                operation: "read the application status".to_string(),
            });
        }
        self.backend
            .status_get(true)
            .map(Status::from)
            .map_err(ModelError::backend("reading application status"))
    }

    /// Sets the workload version shown by `juju status`.
    pub fn set_workload_version(&self, version: &str) -> Result<(), ModelError> {
        self.backend
            .application_version_set(version)
            .map_err(ModelError::backend("setting the workload version"))
    }

    /// Opens a port (`None` for ICMP).
    pub fn open_port(&self, protocol: PortProtocol, port: Option<u16>) -> Result<(), ModelError> {
        self.backend
            .open_port(&OpenedPort { protocol, port })
            .map_err(ModelError::backend("opening a port"))
    }

    /// Closes a port.
    pub fn close_port(&self, protocol: PortProtocol, port: Option<u16>) -> Result<(), ModelError> {
        self.backend
            .close_port(&OpenedPort { protocol, port })
            .map_err(ModelError::backend("closing a port"))
    }

    /// The ports this unit has opened.
    pub fn opened_ports(&self) -> Result<Vec<OpenedPort>, ModelError> {
        self.backend
            .opened_ports()
            .map_err(ModelError::backend("listing opened ports"))
    }

    /// A binding's addresses.
    pub fn network_get(&self, binding: &str) -> Result<Network, ModelError> {
        let raw = self
            .backend
            .network_get(binding)
            .map_err(ModelError::backend(format!("getting network of {binding}")))?;
        let strings = |v: Option<&Value>| -> Vec<String> {
            v.and_then(Value::as_array)
                .map(|a| {
                    a.iter()
                        .filter_map(|s| s.as_str().map(str::to_string))
                        .collect()
                })
                .unwrap_or_default()
        };
        let bind_addresses = raw
            .get("bind-addresses")
            .and_then(Value::as_array)
            .map(|interfaces| {
                interfaces
                    .iter()
                    .flat_map(|i| {
                        i.get("addresses")
                            .and_then(Value::as_array)
                            .cloned()
                            .unwrap_or_default()
                    })
                    .filter_map(|a| {
                        a.get("value")
                            .or_else(|| a.get("address"))
                            .and_then(Value::as_str)
                            .map(str::to_string)
                    })
                    .collect()
            })
            .unwrap_or_default();
        Ok(Network {
            bind_addresses,
            ingress_addresses: strings(raw.get("ingress-addresses")),
            egress_subnets: strings(raw.get("egress-subnets")),
        })
    }

    /// The path of a resource's file.
    pub fn resource_get(&self, name: &str) -> Result<PathBuf, ModelError> {
        self.backend
            .resource_get(name)
            .map_err(ModelError::backend(format!("getting resource {name}")))
    }

    /// A workload container declared in the metadata.
    pub fn container(&self, name: &str) -> Result<Container, ModelError> {
        if !self.meta.containers.contains_key(name) {
            return Err(ModelError::UnknownContainer {
                name: name.to_string(),
            });
        }
        Ok(Container::new(name, &self.containers_dir))
    }

    /// The current action's parameters (one `action-get` per dispatch).
    pub fn action_params(&self) -> Result<Map<String, Value>, ModelError> {
        if let Some(params) = self.action_params.borrow().as_ref() {
            return Ok(params.clone());
        }
        let params = self
            .backend
            .action_get()
            .map_err(ModelError::backend("reading action parameters"))?;
        *self.action_params.borrow_mut() = Some(params.clone());
        Ok(params)
    }

    /// The current action's parameters as a typed struct.
    pub fn action_params_as<T: DeserializeOwned>(&self) -> Result<T, ModelError> {
        serde_json::from_value(Value::Object(self.action_params()?)).map_err(|e| {
            ModelError::ActionParams {
                type_name: std::any::type_name::<T>(),
                reason: e.to_string(),
            }
        })
    }

    /// Sets action results; nested maps are flattened with dots, as Juju wants.
    pub fn action_set_results(&self, results: Map<String, Value>) -> Result<(), ModelError> {
        let mut flat = StringMap::new();
        flatten("", &Value::Object(results), &mut flat);
        self.backend
            .action_set(&flat)
            .map_err(ModelError::backend("setting action results"))
    }

    /// Fails the current action with a message.
    pub fn action_fail(&self, message: &str) -> Result<(), ModelError> {
        self.backend
            .action_fail(message)
            .map_err(ModelError::backend("failing the action"))
    }

    /// Logs a progress message for the current action.
    pub fn action_log(&self, message: &str) -> Result<(), ModelError> {
        self.backend
            .action_log(message)
            .map_err(ModelError::backend("logging action progress"))
    }

    /// Creates a secret owned by this application (leader only) or unit.
    pub fn add_secret(
        &self,
        content: BTreeMap<String, String>,
        options: SecretOptions,
    ) -> Result<Secret<'_>, ModelError> {
        secret::add(self, content, options)
    }

    /// A secret by id or label.
    pub fn get_secret(
        &self,
        id: Option<&str>,
        label: Option<&str>,
    ) -> Result<Secret<'_>, ModelError> {
        if id.is_none() && label.is_none() {
            return Err(ModelError::SecretWithoutId);
        }
        Ok(Secret::new(
            self,
            id.map(str::to_string),
            label.map(str::to_string),
        ))
    }
}

fn flatten(prefix: &str, value: &Value, out: &mut StringMap) {
    match value {
        Value::Object(map) => {
            for (k, v) in map {
                let key = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                flatten(&key, v, out);
            }
        }
        Value::String(s) => {
            out.insert(prefix.to_string(), s.clone());
        }
        other => {
            out.insert(prefix.to_string(), other.to_string());
        }
    }
}
