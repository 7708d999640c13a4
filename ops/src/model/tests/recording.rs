//! An in-memory [`Backend`] that answers from a canned [`World`] and records
//! every call. It enforces none of Juju's rules: whatever the model lets
//! through, it accepts, so the tests see exactly what the model refuses.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};

use serde_json::{Map, Value};

use crate::backend::{
    Backend, BackendError, LogLevel, OpenedPort, RelationRef, Result, SecretAddArgs, SecretInfo,
    SecretSetArgs, StatusInfo, StatusName, StringMap,
};
use crate::meta::CharmMeta;
use crate::model::{Model, ModelParts};

/// One hook-tool call: the tool and its arguments as text. Secret values are
/// never recorded, only their keys.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Call {
    pub tool: &'static str,
    pub args: Vec<String>,
}

/// A secret as the recording backend keeps it.
#[derive(Debug, Clone, Default)]
pub struct StoredSecret {
    pub content: StringMap,
    pub label: Option<String>,
    pub revision: u64,
}

/// What the backend answers with.
#[derive(Debug, Clone)]
pub struct World {
    pub leader: bool,
    /// Relation ids by endpoint, as `relation-ids` lists them.
    pub relation_ids: BTreeMap<String, Vec<RelationRef>>,
    /// Remote units by relation, as `relation-list` lists them.
    pub units: BTreeMap<RelationRef, Vec<String>>,
    /// `relation-list --app` answers.
    pub remote_apps: BTreeMap<RelationRef, String>,
    /// Bags by relation and member (unit or app name).
    pub bags: BTreeMap<(RelationRef, String), StringMap>,
    pub config: Map<String, Value>,
    pub unit_status: StatusInfo,
    pub app_status: StatusInfo,
    pub action_params: Map<String, Value>,
    pub secrets: BTreeMap<String, StoredSecret>,
    pub network: Value,
    pub goal_state: Value,
    pub resources: BTreeMap<String, PathBuf>,
    pub opened_ports: Vec<OpenedPort>,
    /// Make `relation-set` fail for this relation.
    pub fail_relation_set: Option<RelationRef>,
}

impl Default for World {
    fn default() -> Self {
        Self {
            leader: false,
            relation_ids: BTreeMap::new(),
            units: BTreeMap::new(),
            remote_apps: BTreeMap::new(),
            bags: BTreeMap::new(),
            config: Map::new(),
            unit_status: StatusInfo::new(StatusName::Unknown, ""),
            app_status: StatusInfo::new(StatusName::Unknown, ""),
            action_params: Map::new(),
            secrets: BTreeMap::new(),
            network: Value::Object(Map::new()),
            goal_state: Value::Object(Map::new()),
            resources: BTreeMap::new(),
            opened_ports: Vec::new(),
            fail_relation_set: None,
        }
    }
}

impl World {
    /// Adds a relation with its remote units.
    pub fn relate(&mut self, relation: &RelationRef, units: &[&str]) {
        self.relation_ids
            .entry(relation.name.clone())
            .or_default()
            .push(relation.clone());
        self.units.insert(
            relation.clone(),
            units.iter().map(|u| u.to_string()).collect(),
        );
    }

    /// Fills a bag.
    pub fn bag(&mut self, relation: &RelationRef, member: &str, pairs: &[(&str, &str)]) {
        self.bags.insert(
            (relation.clone(), member.to_string()),
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        );
    }
}

/// The recording backend.
#[derive(Debug)]
pub struct Recording {
    /// The unit the model runs as: `relation-set` writes its bags.
    unit: String,
    calls: Mutex<Vec<Call>>,
    world: Mutex<World>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Recording {
    pub fn new(world: World, unit: &str) -> Self {
        Self {
            unit: unit.to_string(),
            calls: Mutex::new(Vec::new()),
            world: Mutex::new(world),
        }
    }

    fn record(&self, tool: &'static str, args: &[&dyn ToString]) {
        lock(&self.calls).push(Call {
            tool,
            args: args.iter().map(|a| a.to_string()).collect(),
        });
    }

    /// Every call so far, in order.
    pub fn calls(&self) -> Vec<Call> {
        lock(&self.calls).clone()
    }

    /// The tools called so far, in order.
    pub fn tools(&self) -> Vec<&'static str> {
        lock(&self.calls).iter().map(|c| c.tool).collect()
    }

    /// How many times a tool was called.
    pub fn count(&self, tool: &str) -> usize {
        lock(&self.calls).iter().filter(|c| c.tool == tool).count()
    }

    /// The calls of one tool.
    pub fn calls_of(&self, tool: &str) -> Vec<Vec<String>> {
        lock(&self.calls)
            .iter()
            .filter(|c| c.tool == tool)
            .map(|c| c.args.clone())
            .collect()
    }

    /// The world as it is now.
    pub fn world(&self) -> World {
        lock(&self.world).clone()
    }

    fn relation_known(&self, relation: &RelationRef, command: &str) -> Result<()> {
        if lock(&self.world).units.contains_key(relation) {
            Ok(())
        } else {
            Err(BackendError::RelationNotFound {
                relation: relation.to_string(),
                command: command.to_string(),
                stderr: format!(
                    "ERROR invalid value \"{relation}\" for option -r: relation not found"
                ),
            })
        }
    }

    fn secret_not_found(id: Option<&str>, label: Option<&str>, command: &str) -> BackendError {
        BackendError::SecretNotFound {
            secret: id.or(label).unwrap_or_default().to_string(),
            command: command.to_string(),
            stderr: "ERROR secret not found".to_string(),
        }
    }

    fn find_secret(&self, id: Option<&str>, label: Option<&str>) -> Option<String> {
        let world = lock(&self.world);
        match id {
            Some(id) => world.secrets.contains_key(id).then(|| id.to_string()),
            None => world
                .secrets
                .iter()
                .find(|(_, s)| s.label.as_deref() == label)
                .map(|(id, _)| id.clone()),
        }
    }
}

fn keys_of(map: &StringMap) -> String {
    map.keys().cloned().collect::<Vec<_>>().join(",")
}

impl Backend for Recording {
    fn relation_ids(&self, endpoint: &str) -> Result<Vec<RelationRef>> {
        self.record("relation-ids", &[&endpoint]);
        Ok(lock(&self.world)
            .relation_ids
            .get(endpoint)
            .cloned()
            .unwrap_or_default())
    }

    fn relation_list(&self, relation: &RelationRef) -> Result<Vec<String>> {
        self.record("relation-list", &[relation]);
        self.relation_known(relation, "relation-list")?;
        Ok(lock(&self.world).units[relation].clone())
    }

    fn relation_remote_app(&self, relation: &RelationRef) -> Result<Option<String>> {
        self.record("relation-list", &[relation, &"--app"]);
        self.relation_known(relation, "relation-list")?;
        Ok(lock(&self.world).remote_apps.get(relation).cloned())
    }

    fn relation_get(&self, relation: &RelationRef, member: &str, app: bool) -> Result<StringMap> {
        self.record("relation-get", &[relation, &app, &member]);
        self.relation_known(relation, "relation-get")?;
        Ok(lock(&self.world)
            .bags
            .get(&(relation.clone(), member.to_string()))
            .cloned()
            .unwrap_or_default())
    }

    fn relation_set(&self, relation: &RelationRef, app: bool, data: &StringMap) -> Result<()> {
        let json = serde_json::to_string(data).unwrap_or_default();
        self.record("relation-set", &[relation, &app, &json]);
        self.relation_known(relation, "relation-set")?;
        let mut world = lock(&self.world);
        if world.fail_relation_set.as_ref() == Some(relation) {
            return Err(BackendError::ToolFailed {
                command: "relation-set".to_string(),
                args: vec!["-r".to_string(), relation.to_string()],
                status: 1,
                stderr: "ERROR cannot write relation settings".to_string(),
            });
        }
        let member = match (app, self.unit.split_once('/')) {
            (true, Some((app, _))) => app,
            _ => self.unit.as_str(),
        };
        let bag = world
            .bags
            .entry((relation.clone(), member.to_string()))
            .or_default();
        for (k, v) in data {
            if v.is_empty() {
                bag.remove(k);
            } else {
                bag.insert(k.clone(), v.clone());
            }
        }
        Ok(())
    }

    fn is_leader(&self) -> Result<bool> {
        self.record("is-leader", &[]);
        Ok(lock(&self.world).leader)
    }

    fn config_get(&self) -> Result<Map<String, Value>> {
        self.record("config-get", &[]);
        Ok(lock(&self.world).config.clone())
    }

    fn status_set(&self, app: bool, status: &StatusInfo) -> Result<()> {
        self.record("status-set", &[&app, &status.name, &status.message]);
        let mut world = lock(&self.world);
        if app {
            world.app_status = status.clone();
        } else {
            world.unit_status = status.clone();
        }
        Ok(())
    }

    fn status_get(&self, app: bool) -> Result<StatusInfo> {
        self.record("status-get", &[&app]);
        let world = lock(&self.world);
        Ok(if app {
            world.app_status.clone()
        } else {
            world.unit_status.clone()
        })
    }

    fn application_version_set(&self, version: &str) -> Result<()> {
        self.record("application-version-set", &[&version]);
        Ok(())
    }

    fn add_metric(&self, metrics: &[(String, String)], labels: &[(String, String)]) -> Result<()> {
        let pairs = |list: &[(String, String)]| {
            list.iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join(",")
        };
        self.record("add-metric", &[&pairs(metrics), &pairs(labels)]);
        Ok(())
    }

    fn juju_log(&self, level: LogLevel, message: &str) -> Result<()> {
        self.record("juju-log", &[&level.as_str(), &message]);
        Ok(())
    }

    fn state_get(&self) -> Result<StringMap> {
        self.record("state-get", &[]);
        Ok(StringMap::new())
    }

    fn state_set(&self, data: &StringMap) -> Result<()> {
        self.record("state-set", &[&keys_of(data)]);
        Ok(())
    }

    fn state_delete(&self, key: &str) -> Result<()> {
        self.record("state-delete", &[&key]);
        Ok(())
    }

    fn secret_add(&self, args: &SecretAddArgs) -> Result<String> {
        self.record(
            "secret-add",
            &[
                &args.owner.as_str(),
                &args.label.clone().unwrap_or_default(),
                &args.rotate.clone().unwrap_or_default(),
                &keys_of(&args.content),
            ],
        );
        let mut world = lock(&self.world);
        let id = format!("secret:s{}", world.secrets.len() + 1);
        world.secrets.insert(
            id.clone(),
            StoredSecret {
                content: args.content.clone(),
                label: args.label.clone(),
                revision: 1,
            },
        );
        Ok(id)
    }

    fn secret_get(
        &self,
        id: Option<&str>,
        label: Option<&str>,
        refresh: bool,
        peek: bool,
    ) -> Result<StringMap> {
        self.record(
            "secret-get",
            &[
                &id.unwrap_or_default(),
                &label.unwrap_or_default(),
                &refresh,
                &peek,
            ],
        );
        let id = self
            .find_secret(id, label)
            .ok_or_else(|| Self::secret_not_found(id, label, "secret-get"))?;
        Ok(lock(&self.world).secrets[&id].content.clone())
    }

    fn secret_info_get(&self, id: Option<&str>, label: Option<&str>) -> Result<SecretInfo> {
        self.record(
            "secret-info-get",
            &[&id.unwrap_or_default(), &label.unwrap_or_default()],
        );
        let found = self
            .find_secret(id, label)
            .ok_or_else(|| Self::secret_not_found(id, label, "secret-info-get"))?;
        let world = lock(&self.world);
        let secret = &world.secrets[&found];
        Ok(SecretInfo {
            id: found.clone(),
            label: secret.label.clone(),
            description: None,
            revision: secret.revision,
            rotation: None,
            expiry: None,
            rotates: None,
            owner: Some("application".to_string()),
        })
    }

    fn secret_set(&self, id: &str, args: &SecretSetArgs) -> Result<()> {
        self.record(
            "secret-set",
            &[
                &id,
                &args.label.clone().unwrap_or_default(),
                &args.rotate.clone().unwrap_or_default(),
                &args.content.as_ref().map(keys_of).unwrap_or_default(),
            ],
        );
        let mut world = lock(&self.world);
        let secret = world
            .secrets
            .get_mut(id)
            .ok_or_else(|| Self::secret_not_found(Some(id), None, "secret-set"))?;
        if let Some(content) = &args.content {
            secret.content = content.clone();
            secret.revision += 1;
        }
        if args.label.is_some() {
            secret.label = args.label.clone();
        }
        Ok(())
    }

    fn secret_grant(&self, id: &str, relation_id: u32, unit: Option<&str>) -> Result<()> {
        self.record(
            "secret-grant",
            &[&id, &relation_id, &unit.unwrap_or_default()],
        );
        Ok(())
    }

    fn secret_revoke(&self, id: &str, relation_id: u32, unit: Option<&str>) -> Result<()> {
        self.record(
            "secret-revoke",
            &[&id, &relation_id, &unit.unwrap_or_default()],
        );
        Ok(())
    }

    fn secret_remove(&self, id: &str, revision: Option<u64>) -> Result<()> {
        let revision = revision.map(|r| r.to_string()).unwrap_or_default();
        self.record("secret-remove", &[&id, &revision]);
        Ok(())
    }

    fn open_port(&self, port: &OpenedPort, endpoints: &[String]) -> Result<()> {
        self.record("open-port", &[port, &endpoints.join(",")]);
        lock(&self.world).opened_ports.push(*port);
        Ok(())
    }

    fn close_port(&self, port: &OpenedPort, endpoints: &[String]) -> Result<()> {
        self.record("close-port", &[port, &endpoints.join(",")]);
        lock(&self.world).opened_ports.retain(|p| p != port);
        Ok(())
    }

    fn opened_ports(&self) -> Result<Vec<OpenedPort>> {
        self.record("opened-ports", &[]);
        Ok(lock(&self.world).opened_ports.clone())
    }

    fn network_get(&self, binding: &str, relation_id: Option<u32>) -> Result<Value> {
        self.record("network-get", &[&binding, &format!("{relation_id:?}")]);
        Ok(lock(&self.world).network.clone())
    }

    fn goal_state(&self) -> Result<Value> {
        self.record("goal-state", &[]);
        Ok(lock(&self.world).goal_state.clone())
    }

    fn resource_get(&self, name: &str) -> Result<PathBuf> {
        self.record("resource-get", &[&name]);
        lock(&self.world)
            .resources
            .get(name)
            .cloned()
            .ok_or_else(|| BackendError::ToolFailed {
                command: "resource-get".to_string(),
                args: vec![name.to_string()],
                status: 1,
                stderr: format!("ERROR could not download resource: {name}"),
            })
    }

    fn action_get(&self) -> Result<Map<String, Value>> {
        self.record("action-get", &[]);
        Ok(lock(&self.world).action_params.clone())
    }

    fn action_set(&self, results: &StringMap) -> Result<()> {
        let pairs: Vec<String> = results.iter().map(|(k, v)| format!("{k}={v}")).collect();
        self.record("action-set", &[&pairs.join(" ")]);
        Ok(())
    }

    fn action_fail(&self, message: &str) -> Result<()> {
        self.record("action-fail", &[&message]);
        Ok(())
    }

    fn action_log(&self, message: &str) -> Result<()> {
        self.record("action-log", &[&message]);
        Ok(())
    }

    fn credential_get(&self) -> Result<crate::backend::CloudSpec> {
        self.record("credential-get", &[]);
        Ok(crate::backend::CloudSpec::new("test", "test-cloud"))
    }

    fn secret_ids(&self) -> Result<Vec<String>> {
        self.record("secret-ids", &[]);
        Ok(lock(&self.world).secrets.keys().cloned().collect())
    }

    fn juju_reboot(&self, now: bool) -> Result<()> {
        self.record("juju-reboot", &[&now]);
        Ok(())
    }

    fn storage_list(&self, name: Option<&str>) -> Result<Vec<String>> {
        self.record("storage-list", &[&name.unwrap_or("")]);
        Ok(vec!["data/0".to_string()])
    }

    fn storage_get_location(&self, id: &str) -> Result<PathBuf> {
        self.record("storage-get", &[&id]);
        Ok(PathBuf::from(format!("/srv/{id}")))
    }

    fn storage_add(&self, name: &str, count: u32) -> Result<()> {
        self.record("storage-add", &[&name, &count]);
        Ok(())
    }

    fn relation_model_get(&self, relation: &RelationRef) -> Result<String> {
        self.record("relation-model-get", &[relation]);
        self.relation_known(relation, "relation-model-get")?;
        Ok("test-model-uuid".to_string())
    }
}

/// The charm the tests run as: `app`, with a peer relation, a requirer, a
/// provider, a container and a resource.
pub const META: &str = r#"
name: app
peers:
  peers: {interface: app_peers}
requires:
  db: {interface: postgresql_client}
provides:
  website: {interface: http}
containers:
  workload: {resource: image}
  sidecar: {resource: image}
resources:
  image: {type: oci-image}
storage:
  data: {type: filesystem}
"#;

/// What the dispatch knows about the event.
#[derive(Debug, Default, Clone)]
pub struct Hook {
    pub relation: Option<RelationRef>,
    pub departing_unit: Option<String>,
    pub remote_app: Option<String>,
    pub broken: bool,
}

/// A model for `unit` over a recording backend answering from `world`.
pub fn model_for(world: World, unit: &str, hook: Hook) -> (Model, Arc<Recording>) {
    let backend = Arc::new(Recording::new(world, unit));
    let meta = CharmMeta::from_charmcraft_yaml(META).expect("test metadata parses");
    let model = Model::new(ModelParts {
        backend: backend.clone(),
        meta: Arc::new(meta),
        unit_name: unit.to_string(),
        model_name: "test-model".to_string(),
        model_uuid: String::new(),
        juju_version: "3.6.0".to_string(),
        charm_dir: PathBuf::from("/var/lib/juju/agents/unit-app-0/charm"),
        containers_dir: PathBuf::from("/charm/containers"),
        broken_relation: hook.relation.clone().filter(|_| hook.broken),
        hook_relation: hook.relation,
        departing_unit: hook.departing_unit,
        remote_app: hook.remote_app,
    });
    (model, backend)
}
