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
    /// An endpoint name is declared twice.
    #[error("endpoint {name:?} is declared more than once")]
    DuplicateEndpoint {
        /// The endpoint name.
        name: String,
    },
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

/// A workload container (Kubernetes sidecar charms).
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize, Serialize)]
pub struct ContainerMeta {
    /// The OCI image resource it runs.
    #[serde(default)]
    pub resource: Option<String>,
    /// Storage mounts, as declared.
    #[serde(default)]
    pub mounts: Vec<serde_json::Value>,
}

/// One config option.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
pub struct ConfigOption {
    /// `string`, `int`, `float`, `boolean` or `secret`.
    #[serde(rename = "type", default = "default_option_type")]
    pub kind: String,
    /// The default value, if any.
    #[serde(default)]
    pub default: Option<serde_json::Value>,
    /// What the option means.
    #[serde(default)]
    pub description: Option<String>,
}

fn default_option_type() -> String {
    "string".to_string()
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

/// Everything a charm declares.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct CharmMeta {
    /// The charm's name.
    pub name: String,
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
struct RawMetadata {
    #[serde(default)]
    name: String,
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
            endpoints,
            containers: raw.containers,
            storage: raw.storage,
            resources: raw.resources,
            config: raw.config.unwrap_or_default().options,
            actions: raw.actions.unwrap_or_default(),
        })
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
        assert_eq!(meta.config["ratio"].kind, "float");
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
        assert_eq!(meta.config["a"].kind, "boolean");
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
}
