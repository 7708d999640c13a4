//! The Juju model as a charm sees it: this unit and application, leadership,
//! relations and their databags, config, status, secrets, networking,
//! actions and workload containers.
//!
//! One [`Model`] lives for one dispatch. Every read is made at most once and
//! kept for the dispatch (`is-leader`, `relation-ids`, `relation-list`, each
//! bag's `relation-get`, `config-get`, `action-get`, `network-get`). Databag
//! writes are checked against Juju's access rules, buffered, visible to later
//! reads, and sent by [`Model::flush`] (one `relation-set` per changed bag)
//! when the dispatch commits.
//!
//! | file | what |
//! |---|---|
//! | `relation.rs` | [`Relation`], [`Model::relations`], [`Model::relation`], [`Model::relation_by_id`] |
//! | `databag.rs`, `typed.rs` | [`Databag`] and its access rules, buffering and flush; typed bags via serde |
//! | `config.rs` | [`Config`] |
//! | `status.rs` | [`Status`], unit and application status, workload version |
//! | `secret.rs` | [`Secret`], [`SecretContent`] (values redacted in `Debug`) |
//! | `network.rs` | [`Network`] (`network-get`), open ports |
//! | `action.rs` | action parameters, results, failure, progress |
//! | `container.rs` | [`Container`]: a Pebble client on the container's socket |
//! | `error.rs` | [`ModelError`] |

mod action;
mod config;
mod container;
mod databag;
mod error;
mod network;
mod relation;
mod secret;
mod status;
pub(crate) mod typed;

#[cfg(test)]
mod tests;

#[doc(hidden)]
pub use crate::secret_uri::secret_id_of;
pub use config::Config;
pub use container::Container;
pub use databag::{Databag, Member};
pub use error::ModelError;
pub use network::{InterfaceAddress, Network, NetworkInterface};
pub use relation::Relation;
pub use secret::{
    Secret, SecretContent, SecretExpiry, SecretInfoError, SecretInfoUpdate, SecretOptions,
    SecretRotate,
};
pub use status::Status;

pub use crate::backend::{
    CloudCredential, CloudSpec, OpenedPort, PortProtocol, SecretInfo, SecretOwner, StatusName,
};

use std::cell::{Cell, RefCell};
use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{Map, Value};

use crate::backend::{Backend, BackendError, RelationRef};
use crate::declared::{ResourceName, StorageName};
use crate::meta::CharmMeta;
use databag::BagState;

/// How long an `is-leader` answer is trusted: Juju's leadership lease
/// lasts at least this long after it is confirmed.
pub const LEASE_RENEWAL_PERIOD: Duration = Duration::from_secs(30);

/// What [`Model::new`] needs: the backend, the metadata, and what the
/// dispatch knows about the unit and the event.
pub struct ModelParts {
    /// The hook tools.
    pub backend: Arc<dyn Backend>,
    /// The charm's metadata.
    pub meta: Arc<CharmMeta>,
    /// This unit (`app/0`).
    pub unit_name: String,
    /// The Juju model's name.
    pub model_name: String,
    /// The Juju model's UUID (`JUJU_MODEL_UUID`; empty if unknown): secret
    /// ids given without `secret:` become `secret://<uuid>/<id>`.
    pub model_uuid: String,
    /// The Juju version (`JUJU_VERSION`; empty if unknown).
    pub juju_version: String,
    /// The charm's directory (`JUJU_CHARM_DIR`): its metadata, its files.
    pub charm_dir: PathBuf,
    /// Where the workload containers' Pebble sockets are (`/charm/containers`).
    pub containers_dir: PathBuf,
    /// The relation of a relation event.
    pub hook_relation: Option<RelationRef>,
    /// The remote application of the hook's relation (`JUJU_REMOTE_APP`).
    pub remote_app: Option<String>,
    /// The unit leaving, in relation-departed.
    pub departing_unit: Option<String>,
    /// The relation being broken, in relation-broken: not in [`Model::relations`].
    pub broken_relation: Option<RelationRef>,
}

/// Where the unit runs: what `JUJU_MACHINE_ID`, `JUJU_AVAILABILITY_ZONE`
/// and `JUJU_PRINCIPAL_UNIT` said.
#[derive(Debug, Clone, Default)]
pub(crate) struct Placement {
    pub machine_id: Option<String>,
    pub availability_zone: Option<String>,
    pub principal_unit: Option<String>,
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

    /// The unit number (`0` for `app/0`).
    pub fn number(&self) -> Option<u32> {
        self.name.rsplit_once('/').and_then(|(_, n)| n.parse().ok())
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

/// The Juju model, for one dispatch.
///
/// Handlers get it as `&Model` (`ctx.model()`); everything it reads is kept
/// for the dispatch, and databag writes wait for [`Model::flush`], which the
/// dispatch calls before it commits.
///
/// ```no_run
/// use ops::model::{Model, ModelError};
/// use ops::Status;
///
/// fn on_database_changed(model: &Model) -> Result<(), ModelError> {
///     let Some(db) = model.relation("backend-database")? else {
///         return Ok(());
///     };
///     // Remote bags are read-only; one relation-get per bag per dispatch.
///     let endpoints = model.remote_app_data(&db)?.get("endpoints")?;
///     // This unit's bag: buffered, sent with one relation-set at commit.
///     model.local_unit_data(&db).set("database", "pgbouncer")?;
///     if model.is_leader()? {
///         // Only the leader may write the application's bag.
///         model.local_app_data(&db).set("extra-user-roles", "SUPERUSER")?;
///     }
///     let port = model.config()?.get::<i64>("listen_port")?.unwrap_or(6432);
///     model.set_unit_status(match endpoints {
///         Some(e) => Status::active(format!("{e} on :{port}")),
///         None => Status::waiting("waiting for the database"),
///     })
/// }
/// ```
pub struct Model {
    backend: Arc<dyn Backend>,
    meta: Arc<CharmMeta>,
    unit: Unit,
    app: App,
    name: String,
    uuid: String,
    juju_version: String,
    charm_dir: PathBuf,
    containers_dir: PathBuf,
    pebble_transports: BTreeMap<String, Arc<dyn crate::pebble::Transport>>,
    placement: Placement,
    hook_relation: Option<RelationRef>,
    departing_unit: Option<String>,
    remote_app: Option<String>,
    broken_relation: Option<RelationRef>,
    leader: Cell<Option<(bool, Instant)>>,
    lease_period: Cell<Duration>,
    relation_ids: RefCell<HashMap<String, Vec<RelationRef>>>,
    relations: RefCell<HashMap<RelationRef, Relation>>,
    bags: RefCell<BTreeMap<(RelationRef, Member), BagState>>,
    config: RefCell<Option<Config>>,
    unit_status: RefCell<Option<Status>>,
    app_status: RefCell<Option<Status>>,
    networks: RefCell<HashMap<String, Network>>,
    resources: RefCell<HashMap<String, PathBuf>>,
    action_params: RefCell<Option<Map<String, Value>>>,
    secret_reads: RefCell<HashMap<secret::SecretLookup, secret::SecretRead>>,
}

impl fmt::Debug for Model {
    /// Names only: the model caches databags, which may hold credentials.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Model")
            .field("name", &self.name)
            .field("unit", &self.unit.name)
            .field("hook_relation", &self.hook_relation)
            .finish_non_exhaustive()
    }
}

impl Model {
    /// A model over a backend, for one dispatch.
    pub fn new(parts: ModelParts) -> Self {
        let app = parts
            .unit_name
            .rsplit_once('/')
            .map_or(parts.unit_name.as_str(), |(app, _)| app)
            .to_string();
        Self {
            backend: parts.backend,
            meta: parts.meta,
            unit: Unit {
                name: parts.unit_name,
            },
            app: App { name: app },
            name: parts.model_name,
            uuid: parts.model_uuid,
            juju_version: parts.juju_version,
            charm_dir: parts.charm_dir,
            containers_dir: parts.containers_dir,
            pebble_transports: BTreeMap::new(),
            placement: Placement::default(),
            hook_relation: parts.hook_relation,
            departing_unit: parts.departing_unit,
            remote_app: parts.remote_app,
            broken_relation: parts.broken_relation,
            leader: Cell::new(None),
            lease_period: Cell::new(LEASE_RENEWAL_PERIOD),
            relation_ids: RefCell::default(),
            relations: RefCell::default(),
            bags: RefCell::default(),
            config: RefCell::default(),
            unit_status: RefCell::default(),
            app_status: RefCell::default(),
            networks: RefCell::default(),
            resources: RefCell::default(),
            action_params: RefCell::default(),
            secret_reads: RefCell::default(),
        }
    }

    /// Containers whose Pebble is reached through these transports (by
    /// container name) rather than over their sockets: what
    /// [`DispatchSetup::pebble_transports`](crate::DispatchSetup::pebble_transports) gives.
    pub(crate) fn with_pebble_transports(
        mut self,
        transports: BTreeMap<String, Arc<dyn crate::pebble::Transport>>,
    ) -> Self {
        self.pebble_transports = transports;
        self
    }

    /// Where the unit runs, as Juju said in the environment.
    pub(crate) fn with_placement(mut self, placement: Placement) -> Self {
        self.placement = placement;
        self
    }

    /// The machine this unit is on (`JUJU_MACHINE_ID`), on a machine
    /// model; `None` where Juju does not say (Kubernetes).
    pub fn machine_id(&self) -> Option<&str> {
        self.placement.machine_id.as_deref()
    }

    /// The availability zone this unit is in (`JUJU_AVAILABILITY_ZONE`),
    /// if the cloud has zones.
    pub fn availability_zone(&self) -> Option<&str> {
        self.placement.availability_zone.as_deref()
    }

    /// The principal unit of this subordinate unit (`JUJU_PRINCIPAL_UNIT`),
    /// such as `mysql/0`; `None` for a principal.
    pub fn principal_unit(&self) -> Option<&str> {
        self.placement.principal_unit.as_deref()
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

    /// The Juju model's UUID (`JUJU_MODEL_UUID`).
    pub fn uuid(&self) -> &str {
        &self.uuid
    }

    /// The version of Juju running the charm (`JUJU_VERSION`), to ask what
    /// it supports ([`JujuVersion::has_secrets`](crate::JujuVersion::has_secrets), ...).
    /// [`ModelError::JujuVersion`] if Juju gave none or not a version.
    pub fn juju_version(&self) -> Result<crate::JujuVersion, ModelError> {
        self.juju_version
            .parse()
            .map_err(|source| ModelError::JujuVersion { source })
    }

    /// The charm's directory (`JUJU_CHARM_DIR`): where its metadata and the
    /// files it was packed with are.
    pub fn charm_dir(&self) -> &Path {
        &self.charm_dir
    }

    /// The charm's metadata.
    pub fn meta(&self) -> &CharmMeta {
        &self.meta
    }

    /// The hook tools, for the model's own modules: charm code goes through
    /// the model's methods, which check Juju's rules and keep what they read.
    pub(crate) fn backend(&self) -> &dyn Backend {
        self.backend.as_ref()
    }

    /// How long an `is-leader` answer is kept; [`LEASE_RENEWAL_PERIOD`]
    /// unless a test shortens it.
    #[cfg(test)]
    pub(crate) fn set_lease_period(&self, period: Duration) {
        self.lease_period.set(period);
    }

    fn check_storage(&self, name: &str) -> Result<(), ModelError> {
        if self.meta.storage.contains_key(name) {
            Ok(())
        } else {
            Err(ModelError::UnknownStorage {
                name: name.to_string(),
            })
        }
    }

    /// The ids (`data/0`) of this unit's instances of a storage (`storage-list`).
    pub fn storage_ids(&self, name: impl StorageName) -> Result<Vec<String>, ModelError> {
        let name = name.storage_name();
        self.check_storage(name)?;
        self.backend
            .storage_list(Some(name))
            .map_err(ModelError::backend(format!("listing storage {name}")))
    }

    /// Where a storage instance is mounted (`storage-get -s <id> location`).
    pub fn storage_location(&self, id: &str) -> Result<PathBuf, ModelError> {
        self.backend
            .storage_get_location(id)
            .map_err(ModelError::backend(format!("locating storage {id}")))
    }

    /// Asks Juju for `count` more instances of a storage (`storage-add`);
    /// they attach after the hook (`StorageAttached`).
    pub fn add_storage(&self, name: impl StorageName, count: u32) -> Result<(), ModelError> {
        let name = name.storage_name();
        self.check_storage(name)?;
        self.backend
            .storage_add(name, count)
            .map_err(ModelError::backend(format!("adding storage {name}")))
    }

    /// The cloud spec, credentials included (`credential-get`; the
    /// application must be trusted: `juju trust`), as Python ops'
    /// `Model.get_cloud_spec`. Never log its credential.
    pub fn cloud_spec(&self) -> Result<CloudSpec, ModelError> {
        self.backend
            .credential_get()
            .map_err(ModelError::backend("reading the cloud credentials"))
    }

    /// The ids of the secrets this unit or its application owns (`secret-ids`).
    pub fn secret_ids(&self) -> Result<Vec<String>, ModelError> {
        self.backend
            .secret_ids()
            .map_err(ModelError::backend("listing the owned secrets"))
    }

    /// Sends metrics of this unit (`add-metric`), in the `collect-metrics`
    /// hook (Python ops' `CollectMetricsEvent.add_metrics`); Juju refuses it
    /// in any other. Each metric is `(key, value)`, each label
    /// `(name, value)`. Checked first, as Python ops checks them: keys and
    /// label names start with a letter, then letters, digits, `-` or `_`,
    /// and end with a letter or digit; values are finite and not negative;
    /// label values are not empty and hold no `,` or `=` (the tool's
    /// separators). [`ModelError::InvalidMetric`] names what did not fit.
    ///
    /// ```no_run
    /// # fn demo(model: &ops::Model) -> Result<(), ops::ModelError> {
    /// model.add_metrics(&[("active-clients", 12.0)], &[("pool", "main")])?;
    /// # Ok(()) }
    /// ```
    pub fn add_metrics(
        &self,
        metrics: &[(&str, f64)],
        labels: &[(&str, &str)],
    ) -> Result<(), ModelError> {
        let invalid = |key: &str, reason: &'static str| ModelError::InvalidMetric {
            key: key.to_string(),
            reason,
        };
        let mut label_args = Vec::with_capacity(labels.len());
        for (name, value) in labels {
            if !is_metric_name(name) {
                return Err(invalid(
                    name,
                    "a label name must be a letter, then letters, digits, '-' or '_', ending in a letter or digit",
                ));
            }
            if value.is_empty() || value.contains([',', '=']) {
                return Err(invalid(
                    name,
                    "a label value must not be empty nor hold ',' or '='",
                ));
            }
            label_args.push((name.to_string(), value.to_string()));
        }
        let mut metric_args = Vec::with_capacity(metrics.len());
        for (key, value) in metrics {
            if !is_metric_name(key) {
                return Err(invalid(
                    key,
                    "a metric key must be a letter, then letters, digits, '-' or '_', ending in a letter or digit",
                ));
            }
            if !value.is_finite() || *value < 0.0 {
                return Err(invalid(
                    key,
                    "a metric value must be a finite number, not negative",
                ));
            }
            metric_args.push((key.to_string(), value.to_string()));
        }
        self.backend
            .add_metric(&metric_args, &label_args)
            .map_err(ModelError::backend("adding metrics"))
    }

    /// Asks Juju to reboot the machine (`juju-reboot`): after the hook, or at
    /// once with `now` (then the hook ends with the reboot, as in Juju).
    pub fn request_reboot(&self, now: bool) -> Result<(), ModelError> {
        self.backend
            .juju_reboot(now)
            .map_err(ModelError::backend("requesting a reboot"))
    }

    /// Whether this unit is the leader. The answer of `is-leader` is kept
    /// for [`LEASE_RENEWAL_PERIOD`] (Juju's leadership lease, as Python ops'
    /// `LEASE_RENEWAL_PERIOD`), then asked again: a long hook does not act
    /// on a lease that may have passed to another unit.
    pub fn is_leader(&self) -> Result<bool, ModelError> {
        if let Some((leader, checked)) = self.leader.get()
            && checked.elapsed() < self.lease_period.get()
        {
            return Ok(leader);
        }
        let leader = self
            .backend
            .is_leader()
            .map_err(ModelError::backend("checking leadership"))?;
        self.leader.set(Some((leader, Instant::now())));
        Ok(leader)
    }

    /// How many units Juju plans for this application: the units in
    /// `goal-state` that are not dying (this one included).
    pub fn planned_units(&self) -> Result<usize, ModelError> {
        let goal = self
            .backend
            .goal_state()
            .map_err(ModelError::backend("reading the goal state"))?;
        let units = goal
            .get("units")
            .and_then(Value::as_object)
            .ok_or_else(|| ModelError::Backend {
                operation: "reading the goal state".to_string(),
                source: BackendError::MalformedOutput {
                    command: "goal-state".to_string(),
                    reason: "no \"units\" map".to_string(),
                    output: goal.to_string().chars().take(300).collect(),
                },
            })?;
        Ok(units
            .values()
            .filter(|u| u.get("status").and_then(Value::as_str) != Some("dying"))
            .count())
    }

    /// The path of a resource's file (`resource-get`, once per resource per
    /// dispatch); [`ModelError::UnknownResource`] if the metadata does not
    /// declare it.
    pub fn resource_get(&self, name: impl ResourceName) -> Result<PathBuf, ModelError> {
        let name = name.resource_name();
        if !self.meta.resources.contains_key(name) {
            return Err(ModelError::UnknownResource {
                name: name.to_string(),
            });
        }
        if let Some(path) = self.resources.borrow().get(name) {
            return Ok(path.clone());
        }
        let path = self
            .backend
            .resource_get(name)
            .map_err(ModelError::backend(format!("getting resource {name}")))?;
        self.resources
            .borrow_mut()
            .insert(name.to_string(), path.clone());
        Ok(path)
    }
}

/// Python ops' rule for metric keys and label names:
/// `^[a-zA-Z](?:[a-zA-Z0-9-_]*[a-zA-Z0-9])?$`.
fn is_metric_name(name: &str) -> bool {
    let bytes = name.as_bytes();
    match (bytes.first(), bytes.last()) {
        (Some(first), Some(last)) => {
            first.is_ascii_alphabetic()
                && last.is_ascii_alphanumeric()
                && bytes
                    .iter()
                    .all(|b| b.is_ascii_alphanumeric() || *b == b'-' || *b == b'_')
        }
        _ => false,
    }
}
