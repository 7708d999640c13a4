//! Scenario files: what the simulator deploys and the steps it takes.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// A scenario: a charm, the other applications it relates to, and steps.
///
/// ```yaml
/// model: demo
/// charm: {dir: charms/pgbouncer-k8s}
/// apps:
///   postgresql:
///     units: 1
///     endpoints: {database: {role: provides, interface: postgresql_client}}
/// steps:
///   - deploy: {units: 3}
///   - config: {max_db_connections: 44}
///   - relate: {endpoint: backend-database, app: postgresql, remote-endpoint: database,
///              app-data: {endpoints: "pg:5432", username: u, password: p}}
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Scenario {
    /// The Juju model's name.
    #[serde(default = "default_model")]
    pub model: String,
    /// The charm under test.
    pub charm: CharmSpec,
    /// Other applications: data only, no charm runs for them.
    #[serde(default)]
    pub apps: BTreeMap<String, RemoteApp>,
    /// What happens, in order: each step a one-key map (`- deploy: {units: 3}`).
    #[serde(with = "serde_yaml::with::singleton_map_recursive")]
    pub steps: Vec<Step>,
}

fn default_model() -> String {
    "sim".to_string()
}

/// Where the charm is.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct CharmSpec {
    /// The charm directory: `charmcraft.yaml` or packed metadata, and `dispatch`
    /// unless `binary` is given. Relative to the scenario file.
    pub dir: PathBuf,
    /// The compiled charm to run as `dispatch` (relative to the working directory).
    #[serde(default)]
    pub binary: Option<PathBuf>,
    /// The application name (default: the charm's name).
    #[serde(default)]
    pub app: Option<String>,
}

/// A simulated application that only holds relation data.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct RemoteApp {
    /// How many units it has.
    #[serde(default = "one")]
    pub units: usize,
    /// Its endpoints.
    #[serde(default)]
    pub endpoints: BTreeMap<String, RemoteEndpoint>,
}

fn one() -> usize {
    1
}

/// An endpoint of a simulated application.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct RemoteEndpoint {
    /// `requires` or `provides`.
    pub role: String,
    /// The interface.
    pub interface: String,
}

/// One step of a scenario.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub enum Step {
    /// Deploy the charm with N units (the first is the leader).
    Deploy {
        /// How many units.
        units: usize,
    },
    /// Add one unit.
    AddUnit {},
    /// `juju remove-unit`, as Juju runs it. On the dying unit, for each of
    /// its relations (peers and every other, by id): `relation-departed` for
    /// each remote unit, with `JUJU_DEPARTING_UNIT` the dying unit itself
    /// (each remote unit leaves its `relation-list` as its hook runs, so the
    /// list is empty in the last); then `relation-broken` for each relation
    /// (`is-leader` still true if it led); then the other units see
    /// `<peer>-relation-departed` with the dying unit as remote and
    /// departing unit; then `stop` and `remove` on the dying unit. Only then,
    /// if it led, the lowest unit left gets `leader-elected` (the others
    /// `leader-settings-changed`).
    ///
    /// ```yaml
    /// - remove-unit: {unit: hello-peers/0}
    /// ```
    RemoveUnit {
        /// The unit, e.g. `pgbouncer-k8s/0`.
        unit: String,
    },
    /// Make a unit the leader.
    SetLeader {
        /// The unit.
        unit: String,
    },
    /// `juju config`: set options (`null` resets one to its default), then
    /// config-changed on every unit. As `juju config` does, it refuses an
    /// option the charm does not declare and a value of the wrong type
    /// (`string`, `int`, `float`, `boolean`, `secret`: a `secret:` URI).
    Config(BTreeMap<String, serde_json::Value>),
    /// Relate the charm to a simulated application. Relation ids are unique
    /// in the model and increase; `{relation-id}` in any `app-data` or
    /// `unit-data` value is replaced by the new relation's id, so a simulated
    /// database can name its user after the relation as the real one does:
    ///
    /// ```yaml
    /// - relate: {endpoint: backend-database, app: postgresql, remote-endpoint: database,
    ///            app-data: {username: "relation_id_{relation-id}", password: x}}
    /// ```
    Relate(RelateStep),
    /// Change a simulated application's (or unit's) databag.
    SetRemoteData {
        /// The charm's endpoint of the relation.
        endpoint: String,
        /// The simulated app.
        app: String,
        /// A unit of it, for a unit bag; none for the app bag.
        #[serde(default)]
        unit: Option<String>,
        /// Keys to set; `""` deletes.
        data: BTreeMap<String, String>,
    },
    /// Remove the relation to a simulated application.
    RemoveRelation {
        /// The charm's endpoint.
        endpoint: String,
        /// The simulated app.
        app: String,
    },
    /// Pebble comes up in a unit's container (all units if none named).
    PebbleReady {
        /// The unit.
        #[serde(default)]
        unit: Option<String>,
    },
    /// update-status on every unit.
    UpdateStatus {},
    /// Kubernetes replaces the unit's pod. `stop` runs in the old pod; then
    /// the workload containers' filesystems, the Pebble plans and services
    /// and the charm directory (so a local state file such as
    /// `.unit-state.json`) are new; Juju's unit state (`state-get`), relation
    /// data, config, leadership and secrets survive. The new pod runs
    /// `upgrade-charm`, `config-changed`, `leader-settings-changed` (not on
    /// the leader), `start` and `<container>-pebble-ready` for each
    /// container, as Juju documents for a Kubernetes charm's refresh.
    ///
    /// ```yaml
    /// - churn: {unit: hello-peers/1}
    /// ```
    Churn {
        /// The unit.
        unit: String,
    },
    /// `juju refresh`: every unit's pod is replaced as in `churn`, one unit
    /// after the other (each unit's hooks run before the next unit's pod goes).
    ///
    /// ```yaml
    /// - refresh: {}
    /// ```
    Refresh {},
    /// Run an action on a unit.
    RunAction {
        /// The unit.
        unit: String,
        /// The action.
        action: String,
        /// Its parameters.
        #[serde(default)]
        params: serde_json::Map<String, serde_json::Value>,
    },
}

/// What a `relate` step's `app-data` and `unit-data` values may contain to
/// stand for the new relation's id.
pub const RELATION_ID_PLACEHOLDER: &str = "{relation-id}";

/// `relate`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct RelateStep {
    /// The charm's endpoint.
    pub endpoint: String,
    /// The simulated application.
    pub app: String,
    /// Its endpoint.
    pub remote_endpoint: String,
    /// Its app databag; `{relation-id}` in a value becomes the relation's id.
    #[serde(default)]
    pub app_data: BTreeMap<String, String>,
    /// Its units' databags; `{relation-id}` in a value becomes the relation's id.
    #[serde(default)]
    pub unit_data: BTreeMap<String, BTreeMap<String, String>>,
}

/// A scenario file that cannot be used; the message names the line and field.
#[derive(Debug, thiserror::Error)]
pub enum ScenarioError {
    /// Not readable.
    #[error("cannot read scenario {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// Not a valid scenario.
    #[error("invalid scenario {path}: {message}")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// serde's message with line and column, and the field.
        message: String,
    },
}

impl Scenario {
    /// Parses scenario YAML; `path` is only used in error messages.
    pub fn parse(text: &str, path: &std::path::Path) -> Result<Self, ScenarioError> {
        serde_yaml::from_str(text).map_err(|e| {
            let location = e
                .location()
                .map(|l| format!("line {} column {}: ", l.line(), l.column()))
                .unwrap_or_default();
            ScenarioError::Invalid {
                path: path.to_path_buf(),
                message: format!("{location}{e}"),
            }
        })
    }

    /// Reads and parses a scenario file.
    pub fn load(path: &std::path::Path) -> Result<Self, ScenarioError> {
        let text = std::fs::read_to_string(path).map_err(|source| ScenarioError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        Self::parse(&text, path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    #[test]
    fn parses_every_step() {
        let s = Scenario::parse(
            r#"
charm: {dir: x}
apps: {pg: {endpoints: {database: {role: provides, interface: pgsql}}}}
steps:
  - deploy: {units: 3}
  - add-unit: {}
  - remove-unit: {unit: c/0}
  - set-leader: {unit: c/1}
  - config: {a: 1}
  - relate: {endpoint: db, app: pg, remote-endpoint: database, app-data: {k: v}}
  - set-remote-data: {endpoint: db, app: pg, data: {k: w}}
  - remove-relation: {endpoint: db, app: pg}
  - pebble-ready: {}
  - update-status: {}
  - run-action: {unit: c/1, action: a}
  - churn: {unit: c/1}
  - refresh: {}
"#,
            Path::new("s.yaml"),
        )
        .unwrap();
        assert_eq!(s.steps.len(), 13);
        assert_eq!(s.apps["pg"].units, 1);
    }

    #[test]
    fn errors_name_line_and_field() {
        let err = Scenario::parse(
            "charm: {dir: x}\nsteps:\n  - deploy: {unit: 3}\n",
            Path::new("bad.yaml"),
        )
        .unwrap_err();
        let message = err.to_string();
        assert!(
            message.contains("bad.yaml") && message.contains("line 3"),
            "{message}"
        );
        assert!(message.contains("unit"), "{message}");
        let err = Scenario::parse(
            "charm: {dir: x}\nsteps:\n  - explode: {}\n",
            Path::new("bad.yaml"),
        )
        .unwrap_err();
        assert!(err.to_string().contains("explode"), "{err}");
    }
}
