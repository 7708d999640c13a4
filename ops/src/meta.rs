//! What a charm declares: its metadata, config options and actions.
//!
//! A packed charm carries `metadata.yaml`, `config.yaml` and `actions.yaml`
//! (charmcraft generates them); a charm directory in development may carry only
//! `charmcraft.yaml`, which holds all three. [`CharmMeta::from_charm_dir`]
//! reads whichever is there, preferring the packed files as Juju does.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// What went wrong reading a charm's metadata.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MetaError {
    /// Neither `metadata.yaml` nor `charmcraft.yaml` is in the charm directory.
    #[error("no metadata.yaml or charmcraft.yaml in charm directory {dir}")]
    NotFound {
        /// The charm directory searched.
        dir: PathBuf,
    },
    /// A file could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// A file is not valid YAML of the expected shape.
    #[error("invalid {what}: {source}")]
    Parse {
        /// Which file or document.
        what: String,
        /// The YAML error, with its line and column.
        #[source]
        source: crate::YamlError,
    },
    /// Compiled-in metadata ([`CharmMeta::to_json`]) is not of the expected shape.
    #[error("invalid compiled-in metadata: {source}")]
    ParseJson {
        /// The JSON error, with its line and column.
        #[source]
        source: serde_json::Error,
    },
    /// A storage, resource or `assumes` entry is not of the shape Juju
    /// takes (see [`CharmMeta::storages`], [`CharmMeta::resource_metas`],
    /// [`CharmMeta::assumes_tree`]).
    #[error("invalid {what}: {reason}")]
    Declaration {
        /// What (`storage "data"`, `assumes`).
        what: String,
        /// Why.
        reason: String,
    },
    /// An endpoint name is declared twice.
    #[error("endpoint {name:?} is declared more than once")]
    DuplicateEndpoint {
        /// The endpoint name.
        name: String,
    },
}

/// A storage declaration ([`CharmMeta::storages`]).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub struct StorageMeta {
    /// Its name.
    #[serde(skip)]
    pub storage_name: String,
    /// `filesystem` or `block`.
    #[serde(rename = "type")]
    pub kind: String,
    /// What it is for.
    #[serde(default)]
    pub description: String,
    /// Whether all units share it.
    #[serde(default)]
    pub shared: bool,
    /// Whether it is mounted read-only.
    #[serde(default)]
    pub read_only: bool,
    /// The smallest size it may have (`1G`).
    #[serde(default)]
    pub minimum_size: Option<String>,
    /// Where a filesystem is mounted.
    #[serde(default)]
    pub location: Option<String>,
    /// How many instances a unit may have, from `multiple.range`: at least
    /// the first, at most the second (`None`: no upper bound); `None` if
    /// the storage is single.
    #[serde(skip)]
    pub multiple_range: Option<(u32, Option<u32>)>,
    /// Further characteristics (`transient`).
    #[serde(default)]
    pub properties: Vec<String>,
}

/// A resource declaration ([`CharmMeta::resource_metas`]).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub struct ResourceMeta {
    /// Its name.
    #[serde(skip)]
    pub resource_name: String,
    /// `file` or `oci-image`.
    #[serde(rename = "type")]
    pub kind: String,
    /// The file's name, for a file resource.
    #[serde(default)]
    pub filename: Option<String>,
    /// What it is for.
    #[serde(default)]
    pub description: String,
}

/// How an [`AssumesGroup`]'s features combine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum AssumesCondition {
    /// Every one must hold (`all-of`, and the top level).
    AllOf,
    /// One must hold (`any-of`).
    AnyOf,
}

/// One entry of `assumes`.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Assumes {
    /// A feature or a version condition (`k8s-api`, `juju >= 3.6`).
    Feature(String),
    /// A nested `all-of` or `any-of` group.
    Group(AssumesGroup),
}

/// `assumes` entries under one condition ([`CharmMeta::assumes_tree`]).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct AssumesGroup {
    /// All of them, or any.
    pub condition: AssumesCondition,
    /// The entries.
    pub features: Vec<Assumes>,
}

fn assumes_group(
    condition: AssumesCondition,
    entries: &[serde_json::Value],
) -> Result<AssumesGroup, MetaError> {
    let features = entries
        .iter()
        .map(|entry| match entry {
            serde_json::Value::String(s) => Ok(Assumes::Feature(s.clone())),
            serde_json::Value::Object(map) if map.len() == 1 => {
                let (key, value) = map.iter().next().expect("one key");
                let condition = match key.as_str() {
                    "all-of" => AssumesCondition::AllOf,
                    "any-of" => AssumesCondition::AnyOf,
                    _ => return Err(invalid_assumes(entry)),
                };
                let list = value.as_array().ok_or_else(|| invalid_assumes(entry))?;
                Ok(Assumes::Group(assumes_group(condition, list)?))
            }
            _ => Err(invalid_assumes(entry)),
        })
        .collect::<Result<_, _>>()?;
    Ok(AssumesGroup {
        condition,
        features,
    })
}

fn invalid_assumes(entry: &serde_json::Value) -> MetaError {
    MetaError::Declaration {
        what: "assumes".to_string(),
        reason: format!("{entry} is not a feature or an all-of/any-of list"),
    }
}

/// `multiple.range`: `n`, `n-m`, `n-` or `n+` (YAML may give `n` as a number).
fn parse_range(range: &serde_json::Value) -> Option<(u32, Option<u32>)> {
    if let Some(n) = range.as_u64() {
        let n = u32::try_from(n).ok()?;
        return Some((n, Some(n)));
    }
    let text = range.as_str()?;
    let number = |s: &str| {
        (!s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()))
            .then(|| s.parse::<u32>().ok())
            .flatten()
    };
    if let Some(low) = text.strip_suffix('+') {
        return Some((number(low)?, None));
    }
    match text.split_once('-') {
        None => number(text).map(|n| (n, Some(n))),
        Some((low, "")) => Some((number(low)?, None)),
        Some((low, high)) => {
            let (low, high) = (number(low)?, number(high)?);
            (low <= high).then_some((low, Some(high)))
        }
    }
}

/// The role of a relation endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EndpointRole {
    /// `peers`: the application's units among themselves.
    Peer,
    /// `requires`
    Requires,
    /// `provides`
    Provides,
}

/// One relation endpoint.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
pub struct Endpoint {
    /// The interface name.
    pub interface: String,
    /// The most relations this endpoint takes, if limited.
    #[serde(default)]
    pub limit: Option<u32>,
    /// Whether the relation is optional.
    #[serde(default)]
    pub optional: bool,
    /// `global` or `container`.
    #[serde(default)]
    pub scope: Option<String>,
    /// Filled in from the section the endpoint came from.
    #[serde(skip, default = "default_role")]
    pub role: EndpointRole,
}

fn default_role() -> EndpointRole {
    EndpointRole::Requires
}

/// A workload container (Kubernetes sidecar charms), as `containers:`
/// declares it.
///
/// ```
/// let meta = ops::CharmMeta::from_charmcraft_yaml(
///     "name: app\n\
///      storage: {data: {type: filesystem}}\n\
///      containers:\n  \
///        app:\n    \
///          resource: app-image\n    \
///          mounts: [{storage: data, location: /data}, {storage: data, location: /backup}]\n  \
///        tools:\n    \
///          bases: [{name: ubuntu, channel: '22.04/stable', architectures: [amd64]}]\n",
/// )
/// .unwrap();
/// let app = &meta.containers["app"];
/// assert_eq!(app.mounts[0].location, "/data");
/// assert_eq!(app.mount_locations()["data"], ["/data", "/backup"]);
/// assert_eq!(meta.containers["tools"].bases[0].channel, "22.04/stable");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize, Serialize)]
pub struct ContainerMeta {
    /// The OCI image resource it runs.
    #[serde(default)]
    pub resource: Option<String>,
    /// The bases its image may be, when it runs no resource.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub bases: Vec<ContainerBase>,
    /// Storage mounts, in the order declared.
    #[serde(default)]
    pub mounts: Vec<ContainerMount>,
}

impl ContainerMeta {
    /// Where each storage is mounted, by storage name (Python ops'
    /// `ContainerMeta.mounts`, whose `locations` these are): a storage
    /// mounted twice (Kubernetes sub-paths) has two locations; a mount
    /// without a location is left out, as Python ops leaves it.
    pub fn mount_locations(&self) -> BTreeMap<&str, Vec<&str>> {
        let mut by_storage: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
        for mount in self.mounts.iter().filter(|m| !m.location.is_empty()) {
            by_storage
                .entry(mount.storage.as_str())
                .or_default()
                .push(mount.location.as_str());
        }
        by_storage
    }
}

/// One storage mount of a container (`mounts: [{storage, location}]`).
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize, Serialize)]
pub struct ContainerMount {
    /// The storage mounted: a key of the charm's `storage:`.
    #[serde(default)]
    pub storage: String,
    /// Where in the container it is mounted.
    #[serde(default)]
    pub location: String,
}

/// A base a container's image may be (`bases: [{name, channel,
/// architectures}]`), for containers that run no resource.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize, Serialize)]
pub struct ContainerBase {
    /// The operating system (`ubuntu`).
    pub name: String,
    /// Its channel (`22.04/stable`).
    pub channel: String,
    /// The architectures, if restricted.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub architectures: Vec<String>,
}

/// One config option.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
pub struct ConfigOption {
    /// Its declared type (`type:`; `string` when not given).
    #[serde(rename = "type", default)]
    pub kind: OptionKind,
    /// The default value, if any.
    #[serde(default)]
    pub default: Option<serde_json::Value>,
    /// What the option means.
    #[serde(default)]
    pub description: Option<String>,
}

/// A config option's declared type, as `config.yaml` or `charmcraft.yaml`
/// spells it. Juju refuses a charm that declares any other, so metadata
/// naming another fails to parse ([`MetaError`]).
///
/// It decides which values the option takes ([`accepts`](Self::accepts)):
/// the Harness, `ops.testing`-style `State` checks and the simulator all
/// ask it, as `juju config` checks a value against the same declaration.
///
/// ```
/// use ops::OptionKind;
/// use serde_json::json;
/// assert!(OptionKind::Float.accepts(&json!(3)));
/// assert!(!OptionKind::Int.accepts(&json!(3.5)));
/// assert!(OptionKind::Secret.accepts(&json!("secret:cu0iqfhq1hvs7bb20l2g")));
/// assert!(!OptionKind::Secret.accepts(&json!("hunter2")));
/// assert_eq!(OptionKind::Boolean.to_string(), "boolean");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum OptionKind {
    /// `string`: any text (the default when no type is given).
    #[default]
    String,
    /// `int`: a whole number.
    Int,
    /// `float`: any number (a whole one included).
    Float,
    /// `boolean`: `true` or `false`.
    Boolean,
    /// `secret` (Juju 3.3+): the URI of a user secret, `secret:<id>`,
    /// `secret://<model-uuid>/<id>`, or the bare id.
    Secret,
}

impl OptionKind {
    /// As `config.yaml` spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::String => "string",
            Self::Int => "int",
            Self::Float => "float",
            Self::Boolean => "boolean",
            Self::Secret => "secret",
        }
    }

    /// Whether an option of this kind takes `value` (JSON, as `config-get`
    /// gives it). Null is not a value of any kind: it means "unset".
    pub fn accepts(self, value: &serde_json::Value) -> bool {
        match self {
            Self::String => value.is_string(),
            Self::Int => value.is_i64() || value.is_u64(),
            Self::Float => value.is_number(),
            Self::Boolean => value.is_boolean(),
            Self::Secret => value
                .as_str()
                .is_some_and(|uri| crate::secret_uri::secret_id_of(uri).is_some()),
        }
    }
}

impl std::fmt::Display for OptionKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One action.
#[derive(Debug, Clone, PartialEq, Default, Deserialize, Serialize)]
pub struct ActionMeta {
    /// What the action does.
    #[serde(default)]
    pub description: Option<String>,
    /// JSON-schema of its parameters, as declared.
    #[serde(default)]
    pub params: BTreeMap<String, serde_json::Value>,
}

/// Who the charm's code runs as (`charm-user`, Juju 3.6+ on Kubernetes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum CharmUser {
    /// `root`: Juju's default.
    #[default]
    Root,
    /// `sudoer`: a user that may use `sudo`.
    Sudoer,
    /// `non-root`: a user without privileges.
    NonRoot,
}

/// Where to read more about the charm (`links`).
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(default)]
#[non_exhaustive]
pub struct CharmLinks {
    /// `documentation`: its documentation's address.
    pub documentation: Option<String>,
    /// `issues`: where to report problems.
    #[serde(deserialize_with = "one_or_many")]
    pub issues: Vec<String>,
    /// `source`: its source code.
    #[serde(deserialize_with = "one_or_many")]
    pub source: Vec<String>,
    /// `website`: its websites.
    #[serde(deserialize_with = "one_or_many")]
    pub website: Vec<String>,
    /// `contact`: who maintains it.
    #[serde(deserialize_with = "one_or_many")]
    pub contact: Vec<String>,
}

/// A string, or a list of strings (YAML lets `links` give either).
fn one_or_many<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum OneOrMany {
        One(String),
        Many(Vec<String>),
    }
    Ok(match Option::<OneOrMany>::deserialize(d)? {
        None => Vec::new(),
        Some(OneOrMany::One(one)) => vec![one],
        Some(OneOrMany::Many(many)) => many,
    })
}

/// Everything a charm declares.
///
/// ```
/// let meta = ops::CharmMeta::from_charmcraft_yaml(r#"
/// name: demo
/// summary: A demo.
/// subordinate: false
/// assumes: [k8s-api, {any-of: [juju >= 3.4, juju < 3]}]
/// extra-bindings: {metrics: null}
/// charm-user: non-root
/// links: {source: https://example.invalid/demo}
/// "#)?;
/// assert_eq!(meta.summary, "A demo.");
/// assert_eq!(meta.assumes.len(), 2);
/// assert_eq!(meta.extra_bindings, ["metrics"]);
/// assert_eq!(meta.charm_user, ops::CharmUser::NonRoot);
/// assert_eq!(meta.links.source, ["https://example.invalid/demo"]);
/// # Ok::<(), ops::MetaError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Default)]
#[non_exhaustive]
pub struct CharmMeta {
    /// The charm's name.
    pub name: String,
    /// `title`: its name for people (`display-name` in older metadata).
    pub title: Option<String>,
    /// `summary`: one line.
    pub summary: String,
    /// `description`: a few paragraphs.
    pub description: String,
    /// `subordinate`: deployed beside a principal charm's units.
    pub subordinate: bool,
    /// `assumes`: what the model must offer (`k8s-api`, `juju >= 3.4`, and
    /// `any-of`/`all-of` groups), as declared.
    pub assumes: Vec<serde_json::Value>,
    /// `min-juju-version` (older metadata; `assumes: [juju >= …]` today).
    pub min_juju_version: Option<String>,
    /// `extra-bindings`: names of bindings that are not endpoints.
    pub extra_bindings: Vec<String>,
    /// `charm-user`: who the charm's code runs as.
    pub charm_user: CharmUser,
    /// `maintainers` (older metadata).
    pub maintainers: Vec<String>,
    /// `terms` a user must accept to deploy it.
    pub terms: Vec<String>,
    /// `tags` (older metadata): categories for the store.
    pub tags: Vec<String>,
    /// `links`.
    pub links: CharmLinks,
    /// Relation endpoints by name (peers, requires and provides together).
    pub endpoints: BTreeMap<String, Endpoint>,
    /// Workload containers by name.
    pub containers: BTreeMap<String, ContainerMeta>,
    /// Storage by name, as declared.
    pub storage: BTreeMap<String, serde_json::Value>,
    /// Resources by name, as declared.
    pub resources: BTreeMap<String, serde_json::Value>,
    /// Config options by name.
    pub config: BTreeMap<String, ConfigOption>,
    /// Actions by name.
    pub actions: BTreeMap<String, ActionMeta>,
}

#[derive(Deserialize)]
#[serde(rename_all = "kebab-case")]
struct RawMetadata {
    #[serde(default)]
    name: String,
    #[serde(default)]
    title: Option<String>,
    #[serde(default)]
    display_name: Option<String>,
    #[serde(default)]
    summary: String,
    #[serde(default)]
    description: String,
    #[serde(default)]
    subordinate: bool,
    #[serde(default)]
    assumes: Vec<serde_json::Value>,
    #[serde(default)]
    min_juju_version: Option<String>,
    #[serde(default)]
    extra_bindings: BTreeMap<String, serde_json::Value>,
    #[serde(default)]
    charm_user: CharmUser,
    #[serde(default)]
    maintainers: Vec<String>,
    #[serde(default)]
    terms: Vec<String>,
    #[serde(default)]
    tags: Vec<String>,
    #[serde(default)]
    links: CharmLinks,
    #[serde(default)]
    peers: BTreeMap<String, Endpoint>,
    #[serde(default)]
    requires: BTreeMap<String, Endpoint>,
    #[serde(default)]
    provides: BTreeMap<String, Endpoint>,
    #[serde(default)]
    containers: BTreeMap<String, ContainerMeta>,
    #[serde(default)]
    storage: BTreeMap<String, serde_json::Value>,
    #[serde(default)]
    resources: BTreeMap<String, serde_json::Value>,
    #[serde(default)]
    config: Option<RawConfig>,
    #[serde(default)]
    actions: Option<BTreeMap<String, ActionMeta>>,
}

#[derive(Deserialize, Default)]
struct RawConfig {
    #[serde(default)]
    options: BTreeMap<String, ConfigOption>,
}

impl CharmMeta {
    /// Reads a charm directory: the packed files (`metadata.yaml`, `config.yaml`,
    /// `actions.yaml`) if `metadata.yaml` is there, else `charmcraft.yaml`.
    pub fn from_charm_dir(dir: &Path) -> Result<Self, MetaError> {
        let read_optional = |name: &str| -> Result<Option<String>, MetaError> {
            let path = dir.join(name);
            match std::fs::read_to_string(&path) {
                Ok(text) => Ok(Some(text)),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
                Err(source) => Err(MetaError::Read { path, source }),
            }
        };
        if let Some(metadata) = read_optional("metadata.yaml")? {
            let config = read_optional("config.yaml")?;
            let actions = read_optional("actions.yaml")?;
            return Self::from_yaml(&metadata, config.as_deref(), actions.as_deref());
        }
        match read_optional("charmcraft.yaml")? {
            Some(charmcraft) => Self::from_charmcraft_yaml(&charmcraft),
            None => Err(MetaError::NotFound {
                dir: dir.to_path_buf(),
            }),
        }
    }

    /// Parses `charmcraft.yaml`, which holds metadata, `config` and `actions` in one.
    ///
    /// ```
    /// let meta = ops::CharmMeta::from_charmcraft_yaml(r#"
    /// name: demo
    /// peers: {replicas: {interface: demo_replicas}}
    /// config: {options: {port: {type: int, default: 80}}}
    /// "#).unwrap();
    /// assert_eq!(meta.name, "demo");
    /// assert!(meta.endpoints.contains_key("replicas"));
    /// assert_eq!(meta.config["port"].default, Some(serde_json::json!(80)));
    /// ```
    pub fn from_charmcraft_yaml(text: &str) -> Result<Self, MetaError> {
        let raw: RawMetadata = parse_yaml(text, "charmcraft.yaml")?;
        Self::from_raw(raw)
    }

    /// Parses the packed form: `metadata.yaml`, and `config.yaml` / `actions.yaml` if present.
    pub fn from_yaml(
        metadata: &str,
        config: Option<&str>,
        actions: Option<&str>,
    ) -> Result<Self, MetaError> {
        let mut raw: RawMetadata = parse_yaml(metadata, "metadata.yaml")?;
        if let Some(config) = config {
            let parsed: Option<RawConfig> = parse_yaml(config, "config.yaml")?;
            raw.config = Some(parsed.unwrap_or_default());
        }
        if let Some(actions) = actions {
            let parsed: Option<BTreeMap<String, ActionMeta>> = parse_yaml(actions, "actions.yaml")?;
            raw.actions = Some(parsed.unwrap_or_default());
        }
        Self::from_raw(raw)
    }

    /// The metadata as compact JSON in `charmcraft.yaml`'s shape, which
    /// [`CharmMeta::from_json`] reads back to the same value. `ops::codegen`
    /// compiles it into a charm (`meta::CHARM_META_JSON`), so that a hook
    /// reads it with the JSON parser instead of scanning the charm
    /// directory's YAML: a third of a small hook's own instructions.
    ///
    /// ```
    /// let meta = ops::CharmMeta::from_charmcraft_yaml(
    ///     "name: demo\npeers: {replicas: {interface: demo_replicas}}\n",
    /// )?;
    /// assert_eq!(ops::CharmMeta::from_json(&meta.to_json())?, meta);
    /// # Ok::<(), ops::MetaError>(())
    /// ```
    pub fn to_json(&self) -> String {
        let section = |role: EndpointRole| -> BTreeMap<&str, &Endpoint> {
            self.endpoints
                .iter()
                .filter(|(_, e)| e.role == role)
                .map(|(name, e)| (name.as_str(), e))
                .collect()
        };
        serde_json::json!({
            "name": self.name,
            "title": self.title,
            "summary": self.summary,
            "description": self.description,
            "subordinate": self.subordinate,
            "assumes": self.assumes,
            "min-juju-version": self.min_juju_version,
            "extra-bindings": self.extra_bindings.iter().map(|b| (b.as_str(), ())).collect::<BTreeMap<_, _>>(),
            "charm-user": self.charm_user,
            "maintainers": self.maintainers,
            "terms": self.terms,
            "tags": self.tags,
            "links": self.links,
            "peers": section(EndpointRole::Peer),
            "requires": section(EndpointRole::Requires),
            "provides": section(EndpointRole::Provides),
            "containers": self.containers,
            "storage": self.storage,
            "resources": self.resources,
            "config": {"options": self.config},
            "actions": self.actions,
        })
        .to_string()
    }

    /// Reads what [`CharmMeta::to_json`] wrote.
    pub fn from_json(text: &str) -> Result<Self, MetaError> {
        let raw: RawMetadata =
            serde_json::from_str(text).map_err(|source| MetaError::ParseJson { source })?;
        Self::from_raw(raw)
    }

    fn from_raw(raw: RawMetadata) -> Result<Self, MetaError> {
        let mut endpoints = BTreeMap::new();
        for (role, section) in [
            (EndpointRole::Peer, raw.peers),
            (EndpointRole::Requires, raw.requires),
            (EndpointRole::Provides, raw.provides),
        ] {
            for (name, mut endpoint) in section {
                endpoint.role = role;
                if endpoints.insert(name.clone(), endpoint).is_some() {
                    return Err(MetaError::DuplicateEndpoint { name });
                }
            }
        }
        Ok(Self {
            name: raw.name,
            title: raw.title.or(raw.display_name),
            summary: raw.summary,
            description: raw.description,
            subordinate: raw.subordinate,
            assumes: raw.assumes,
            min_juju_version: raw.min_juju_version,
            extra_bindings: raw.extra_bindings.into_keys().collect(),
            charm_user: raw.charm_user,
            maintainers: raw.maintainers,
            terms: raw.terms,
            tags: raw.tags,
            links: raw.links,
            endpoints,
            containers: raw.containers,
            storage: raw.storage,
            resources: raw.resources,
            config: raw.config.unwrap_or_default().options,
            actions: raw.actions.unwrap_or_default(),
        })
    }

    /// The storage declarations, typed: Python's `CharmMeta.storages`.
    ///
    /// ```
    /// let meta = ops::CharmMeta::from_charmcraft_yaml(
    ///     "name: db\nstorage:\n  data: {type: filesystem, location: /var/lib/db, multiple: {range: 1-3}}\n  logs: {type: block, shared: true}\n",
    /// )?;
    /// let storages = meta.storages()?;
    /// assert_eq!(storages["data"].kind, "filesystem");
    /// assert_eq!(storages["data"].location.as_deref(), Some("/var/lib/db"));
    /// assert_eq!(storages["data"].multiple_range, Some((1, Some(3))));
    /// assert!(storages["logs"].shared && storages["logs"].multiple_range.is_none());
    /// # Ok::<(), ops::MetaError>(())
    /// ```
    ///
    /// # Errors
    /// [`MetaError::Declaration`] if one is not of the shape Juju takes
    /// (no `type`, a `multiple.range` that is not `n`, `n-m`, `n-` or `n+`).
    pub fn storages(&self) -> Result<BTreeMap<String, StorageMeta>, MetaError> {
        self.storage
            .iter()
            .map(|(name, raw)| {
                let invalid = |reason: String| MetaError::Declaration {
                    what: format!("storage {name:?}"),
                    reason,
                };
                let mut meta: StorageMeta =
                    serde_json::from_value(raw.clone()).map_err(|e| invalid(e.to_string()))?;
                meta.storage_name = name.clone();
                meta.multiple_range = match raw.get("multiple").and_then(|m| m.get("range")) {
                    None => None,
                    Some(range) => Some(parse_range(range).ok_or_else(|| {
                        invalid(format!("multiple.range {range} is not n, n-m, n- or n+"))
                    })?),
                };
                Ok((name.clone(), meta))
            })
            .collect()
    }

    /// The resource declarations, typed: Python's `CharmMeta.resources`.
    ///
    /// ```
    /// let meta = ops::CharmMeta::from_charmcraft_yaml(
    ///     "name: app\nresources:\n  image: {type: oci-image, description: the workload}\n  plugin: {type: file, filename: plugin.tar}\n",
    /// )?;
    /// let resources = meta.resource_metas()?;
    /// assert_eq!(resources["image"].kind, "oci-image");
    /// assert_eq!(resources["plugin"].filename.as_deref(), Some("plugin.tar"));
    /// assert_eq!(resources["plugin"].resource_name, "plugin");
    /// # Ok::<(), ops::MetaError>(())
    /// ```
    ///
    /// # Errors
    /// [`MetaError::Declaration`] if one has no `type`.
    pub fn resource_metas(&self) -> Result<BTreeMap<String, ResourceMeta>, MetaError> {
        self.resources
            .iter()
            .map(|(name, raw)| {
                let mut meta: ResourceMeta =
                    serde_json::from_value(raw.clone()).map_err(|e| MetaError::Declaration {
                        what: format!("resource {name:?}"),
                        reason: e.to_string(),
                    })?;
                meta.resource_name = name.clone();
                Ok((name.clone(), meta))
            })
            .collect()
    }

    /// `assumes` as a tree: Python's `CharmMeta.assumes` (`JujuAssumes`).
    /// The top level is an all-of group.
    ///
    /// ```
    /// use ops::{Assumes, AssumesCondition};
    ///
    /// let meta = ops::CharmMeta::from_charmcraft_yaml(
    ///     "name: app\nassumes:\n  - k8s-api\n  - any-of:\n      - juju >= 3.6\n      - all-of: [juju >= 3.4, juju < 3.5]\n",
    /// )?;
    /// let tree = meta.assumes_tree()?;
    /// assert_eq!(tree.condition, AssumesCondition::AllOf);
    /// assert_eq!(tree.features[0], Assumes::Feature("k8s-api".into()));
    /// let Assumes::Group(any) = &tree.features[1] else { panic!() };
    /// assert_eq!(any.condition, AssumesCondition::AnyOf);
    /// assert_eq!(any.features.len(), 2);
    /// # Ok::<(), ops::MetaError>(())
    /// ```
    ///
    /// # Errors
    /// [`MetaError::Declaration`] for an entry that is not a string or a
    /// one-key `all-of`/`any-of` map of a list.
    pub fn assumes_tree(&self) -> Result<AssumesGroup, MetaError> {
        assumes_group(AssumesCondition::AllOf, &self.assumes)
    }

    /// The endpoint of that name, if declared.
    pub fn endpoint(&self, name: &str) -> Option<&Endpoint> {
        self.endpoints.get(name)
    }

    /// Whether `name` is a peer endpoint.
    pub fn is_peer(&self, name: &str) -> bool {
        self.endpoint(name)
            .is_some_and(|e| e.role == EndpointRole::Peer)
    }

    /// The config options' declared defaults.
    pub fn config_defaults(&self) -> serde_json::Map<String, serde_json::Value> {
        self.config
            .iter()
            .filter_map(|(k, o)| o.default.clone().map(|v| (k.clone(), v)))
            .collect()
    }
}

fn parse_yaml<T: serde::de::DeserializeOwned>(text: &str, what: &str) -> Result<T, MetaError> {
    crate::yaml::from_str(text).map_err(|source| MetaError::Parse {
        what: what.to_string(),
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn descriptive_fields_are_read_and_survive_the_compiled_form() {
        let meta = CharmMeta::from_yaml(
            "name: old\ndisplay-name: Old Charm\nsummary: s\ndescription: d\n\
             subordinate: true\nmin-juju-version: 2.9.0\nmaintainers: [a <a@localhost>]\n\
             terms: [t/1]\ntags: [databases, misc]\nextra-bindings: {metrics: , admin: }\ncharm-user: sudoer\n\
             assumes: [juju >= 3.1]\nlinks: {issues: https://localhost/i, website: [w1, w2]}\n",
            None,
            None,
        )
        .unwrap();
        assert_eq!(meta.title.as_deref(), Some("Old Charm"));
        assert!(meta.subordinate);
        assert_eq!(meta.min_juju_version.as_deref(), Some("2.9.0"));
        assert_eq!(meta.extra_bindings, ["admin", "metrics"]);
        assert_eq!(meta.charm_user, CharmUser::Sudoer);
        assert_eq!(meta.links.issues, ["https://localhost/i"]);
        assert_eq!(meta.links.website, ["w1", "w2"]);
        assert_eq!(meta.terms, ["t/1"]);
        assert_eq!(meta.tags, ["databases", "misc"]);
        assert_eq!(CharmMeta::from_json(&meta.to_json()).unwrap(), meta);
        // Nothing declared: Juju's defaults.
        let bare = CharmMeta::from_charmcraft_yaml("name: bare\n").unwrap();
        assert!(!bare.subordinate && bare.assumes.is_empty() && bare.extra_bindings.is_empty());
        assert_eq!(bare.charm_user, CharmUser::Root);
        assert!(matches!(
            CharmMeta::from_charmcraft_yaml("name: x\ncharm-user: admin\n"),
            Err(MetaError::Parse { .. })
        ));
    }

    const CHARMCRAFT: &str = r#"
name: pgbouncer-k8s
type: charm
containers:
  pgbouncer: {resource: pgbouncer-image}
peers:
  pgb-peers: {interface: pgb_peers}
requires:
  backend-database: {interface: postgresql_client, limit: 1}
provides:
  database: {interface: postgresql_client}
config:
  options:
    listen_port: {type: int, default: 6432, description: port}
    pool_mode: {type: string, default: session}
actions:
  get-password: {description: show it}
"#;

    #[test]
    fn charmcraft_yaml_gives_everything() {
        let meta = CharmMeta::from_charmcraft_yaml(CHARMCRAFT).unwrap();
        assert_eq!(meta.name, "pgbouncer-k8s");
        assert!(meta.is_peer("pgb-peers"));
        assert_eq!(meta.endpoints["backend-database"].limit, Some(1));
        assert_eq!(meta.endpoints["database"].role, EndpointRole::Provides);
        assert_eq!(
            meta.containers["pgbouncer"].resource.as_deref(),
            Some("pgbouncer-image")
        );
        assert_eq!(
            meta.config_defaults()["listen_port"],
            serde_json::json!(6432)
        );
        assert!(meta.actions.contains_key("get-password"));
    }

    #[test]
    fn compiled_json_reads_back_to_the_same_metadata() {
        // Every section and field a charm may declare, each role of endpoint.
        let rich = r#"
name: rich
containers:
  app: {resource: app-image, mounts: [{storage: data, location: /data}]}
  tools:
    bases: [{name: ubuntu, channel: "22.04/stable", architectures: [amd64, arm64]}]
    mounts: [{storage: data, location: /a}, {storage: data, location: /b}, {storage: data}]
peers: {replicas: {interface: rich_replicas}}
requires:
  db: {interface: postgresql_client, limit: 1, optional: true, scope: container}
provides: {metrics: {interface: prometheus_scrape}}
storage: {data: {type: filesystem, minimum-size: 1G}}
resources: {app-image: {type: oci-image, upstream-source: "example/app:1"}}
config:
  options:
    port: {type: int, default: 80, description: the port}
    ratio: {type: float, default: 0.5}
    debug: {type: boolean}
    name: {default: "with \"quotes\" and\nnewline"}
actions:
  backup: {description: back up, params: {to: {type: string}}}
"#;
        for text in [rich, CHARMCRAFT, "name: bare\n"] {
            let meta = CharmMeta::from_charmcraft_yaml(text).unwrap();
            let json = meta.to_json();
            assert_eq!(CharmMeta::from_json(&json).unwrap(), meta, "{json}");
        }
        let meta = CharmMeta::from_json(&CharmMeta::from_charmcraft_yaml(rich).unwrap().to_json())
            .unwrap();
        assert_eq!(meta.endpoints["replicas"].role, EndpointRole::Peer);
        assert_eq!(meta.endpoints["metrics"].role, EndpointRole::Provides);
        assert_eq!(meta.endpoints["db"].scope.as_deref(), Some("container"));
        assert_eq!(meta.config["ratio"].kind, OptionKind::Float);
        let tools = &meta.containers["tools"];
        assert_eq!(tools.resource, None);
        assert_eq!(
            tools.bases,
            [ContainerBase {
                name: "ubuntu".into(),
                channel: "22.04/stable".into(),
                architectures: vec!["amd64".into(), "arm64".into()],
            }]
        );
        assert_eq!(tools.mounts.len(), 3);
        assert_eq!(
            tools.mount_locations(),
            BTreeMap::from([("data", vec!["/a", "/b"])])
        );
        assert_eq!(
            meta.containers["app"].mounts,
            [ContainerMount {
                storage: "data".into(),
                location: "/data".into(),
            }]
        );
        assert!(matches!(
            CharmMeta::from_json("{\"peers\": 3}"),
            Err(MetaError::ParseJson { .. })
        ));
    }

    #[test]
    fn packed_files_are_preferred() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("charmcraft.yaml"), "name: wrong\n").unwrap();
        std::fs::write(
            dir.path().join("metadata.yaml"),
            "name: right\npeers: {p: {interface: x}}\n",
        )
        .unwrap();
        std::fs::write(
            dir.path().join("config.yaml"),
            "options: {a: {type: boolean, default: true}}\n",
        )
        .unwrap();
        let meta = CharmMeta::from_charm_dir(dir.path()).unwrap();
        assert_eq!(meta.name, "right");
        assert_eq!(meta.config["a"].kind, OptionKind::Boolean);
    }

    #[test]
    fn option_kinds_are_juju_types_and_decide_the_values_taken() {
        let meta = CharmMeta::from_charmcraft_yaml(
            "name: x\nconfig:\n  options:\n    s: {}\n    i: {type: int}\n    f: {type: float}\n    \
             b: {type: boolean}\n    k: {type: secret}\n",
        )
        .unwrap();
        let kind = |name: &str| meta.config[name].kind;
        assert_eq!(
            ["s", "i", "f", "b", "k"].map(kind),
            [
                OptionKind::String,
                OptionKind::Int,
                OptionKind::Float,
                OptionKind::Boolean,
                OptionKind::Secret
            ]
        );
        let values = [
            json!("text"),
            json!(3),
            json!(3.5),
            json!(true),
            json!("secret:cu0iqfhq1hvs7bb20l2g"),
            json!("cu0iqfhq1hvs7bb20l2g"),
            json!(null),
            json!([1]),
        ];
        let taken = |kind: OptionKind| values.iter().map(|v| kind.accepts(v)).collect::<Vec<_>>();
        let (t, f) = (true, false);
        assert_eq!(taken(OptionKind::String), [t, f, f, f, t, t, f, f]);
        assert_eq!(taken(OptionKind::Int), [f, t, f, f, f, f, f, f]);
        assert_eq!(taken(OptionKind::Float), [f, t, t, f, f, f, f, f]);
        assert_eq!(taken(OptionKind::Boolean), [f, f, f, t, f, f, f, f]);
        assert_eq!(taken(OptionKind::Secret), [f, f, f, f, t, t, f, f]);
        for kind in ["s", "i", "f", "b", "k"].map(kind) {
            let yaml = format!("name: x\nconfig: {{options: {{o: {{type: {kind}}}}}}}\n");
            assert_eq!(
                CharmMeta::from_charmcraft_yaml(&yaml).unwrap().config["o"].kind,
                kind,
                "{yaml}"
            );
        }
        let err =
            CharmMeta::from_charmcraft_yaml("name: x\nconfig: {options: {a: {type: list}}}\n")
                .unwrap_err()
                .to_string();
        assert!(err.contains("list") && err.contains("options.a"), "{err}");
    }

    #[test]
    fn missing_and_bad_files_are_errors() {
        let dir = tempfile::tempdir().unwrap();
        assert!(matches!(
            CharmMeta::from_charm_dir(dir.path()),
            Err(MetaError::NotFound { .. })
        ));
        std::fs::write(dir.path().join("metadata.yaml"), "name: [unclosed\n").unwrap();
        let err = CharmMeta::from_charm_dir(dir.path()).unwrap_err();
        assert!(
            matches!(&err, MetaError::Parse { what, .. } if what == "metadata.yaml"),
            "{err}"
        );
    }

    #[test]
    fn duplicate_endpoint_is_an_error() {
        let err = CharmMeta::from_charmcraft_yaml(
            "name: x\npeers: {a: {interface: i}}\nrequires: {a: {interface: j}}\n",
        )
        .unwrap_err();
        assert!(matches!(err, MetaError::DuplicateEndpoint { name } if name == "a"));
    }

    #[test]
    fn storages_are_typed_with_their_ranges() {
        let meta = CharmMeta::from_charmcraft_yaml(
            "name: x\nstorage:\n  a: {type: filesystem, multiple: {range: 2}}\n  b: {type: block, multiple: {range: 0-}}\n  c: {type: filesystem, multiple: {range: 1+}, read-only: true, minimum-size: 1G, properties: [transient], description: scratch}\n  d: {type: filesystem, multiple: {range: '3'}}\n  e: {type: filesystem}\n",
        )
        .unwrap();
        let s = meta.storages().unwrap();
        assert_eq!(s["a"].multiple_range, Some((2, Some(2))));
        assert_eq!(s["b"].multiple_range, Some((0, None)));
        assert_eq!(s["c"].multiple_range, Some((1, None)));
        assert_eq!(s["d"].multiple_range, Some((3, Some(3))));
        assert_eq!(s["e"].multiple_range, None);
        assert_eq!(s["e"].storage_name, "e");
        let c = &s["c"];
        assert!(c.read_only && !c.shared);
        assert_eq!(c.minimum_size.as_deref(), Some("1G"));
        assert_eq!(c.properties, ["transient"]);
        assert_eq!(c.description, "scratch");
    }

    #[test]
    fn malformed_storage_resources_and_assumes_are_refused() {
        for storage in [
            "{location: /x}",
            "{type: filesystem, multiple: {range: x}}",
            "{type: filesystem, multiple: {range: 3-1}}",
            "{type: filesystem, multiple: {range: -3}}",
            "{type: filesystem, multiple: {range: 1-2-3}}",
            "{type: filesystem, multiple: {range: ' 1'}}",
        ] {
            let meta =
                CharmMeta::from_charmcraft_yaml(&format!("name: x\nstorage: {{s: {storage}}}\n"))
                    .unwrap();
            let err = meta.storages().unwrap_err();
            assert!(
                matches!(&err, MetaError::Declaration { what, .. } if what == "storage \"s\""),
                "{storage}: {err}"
            );
        }
        let meta =
            CharmMeta::from_charmcraft_yaml("name: x\nresources: {r: {filename: f}}\n").unwrap();
        assert!(matches!(
            meta.resource_metas(),
            Err(MetaError::Declaration { what, .. }) if what == "resource \"r\""
        ));
        for assumes in [
            "[3]",
            "[{some-of: [a]}]",
            "[{any-of: a}]",
            "[{any-of: [a], all-of: [b]}]",
            "[{all-of: [[a]]}]",
        ] {
            let meta =
                CharmMeta::from_charmcraft_yaml(&format!("name: x\nassumes: {assumes}\n")).unwrap();
            assert!(
                matches!(meta.assumes_tree(), Err(MetaError::Declaration { what, .. }) if what == "assumes"),
                "{assumes}"
            );
        }
        let meta = CharmMeta::from_charmcraft_yaml("name: x\n").unwrap();
        assert!(meta.storages().unwrap().is_empty() && meta.resource_metas().unwrap().is_empty());
        assert_eq!(meta.assumes_tree().unwrap().features, []);
    }
}
