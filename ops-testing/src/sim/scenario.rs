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
    #[serde(with = "serde_norway::with::singleton_map_recursive")]
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
    /// departing unit; then `stop` and `remove` on the dying unit.
    ///
    /// If it led, no unit leads afterwards, as under Juju: the dead
    /// leader's lease is held until it runs out, so `is-leader` is false
    /// on every unit left, and the hooks of the following steps run with no
    /// leader, until an [`Step::ExpireLease`] step (or `expire-lease: true`
    /// here, which ends the lease at once after `remove`).
    ///
    /// ```yaml
    /// - remove-unit: {unit: hello-peers/0}
    /// - update-status: {}      # no unit leads
    /// - expire-lease: {}       # hello-peers/1 is elected
    /// ```
    RemoveUnit {
        /// The unit, e.g. `pgbouncer-k8s/0`.
        unit: String,
        /// End the removed leader's lease at once (as `expire-lease` right
        /// after it), instead of leaving the application without a leader.
        #[serde(default, rename = "expire-lease")]
        expire_lease: bool,
    },
    /// The lease of a leader that is gone (`remove-unit`) runs out: Juju
    /// elects the lowest-numbered unit left, which runs `leader-elected`;
    /// the others run `leader-settings-changed`. It is an error while a
    /// unit leads (a living leader renews its lease) or when no unit is left.
    ///
    /// ```yaml
    /// - expire-lease: {}
    /// ```
    ExpireLease {},
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
    ///
    /// `app-secrets` gives the simulated application secrets it owns and
    /// grants over the relation, each URI under its key in its app databag:
    ///
    /// ```yaml
    /// - relate: {endpoint: backend-database, app: postgresql, remote-endpoint: database,
    ///            app-data: {endpoints: "127.0.0.1:5432"},
    ///            app-secrets: {secret-user: {username: "relation_id_{relation-id}", password: x}}}
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
    /// The workload runs `pebble notify <key> [<k>=<v> ...]` in a unit's
    /// container: its Pebble records a custom notice (a key it has seen
    /// before is another occurrence of the same notice, with the new data),
    /// and Juju runs `<container>-pebble-custom-notice` with
    /// `JUJU_WORKLOAD_NAME`, `JUJU_NOTICE_ID`, `JUJU_NOTICE_TYPE` (`custom`)
    /// and `JUJU_NOTICE_KEY`. The key is checked as Pebble checks it
    /// (`example.com/path`), and that Pebble must be up.
    ///
    /// ```yaml
    /// - pebble-notify: {unit: app/0, container: web, key: example.com/db-ready, data: {path: /srv}}
    /// ```
    PebbleNotify {
        /// The unit.
        unit: String,
        /// The container; may be left out when the charm has only one.
        #[serde(default)]
        container: Option<String>,
        /// The notice key, `<domain>/<path>`.
        key: String,
        /// The occurrence's data.
        #[serde(default)]
        data: BTreeMap<String, String>,
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
    /// Secrets it owns and grants over the new relation, each named in its
    /// app databag: `key: {content}` adds a secret with that content
    /// (`{relation-id}` as in `app-data`) and sets `key` to its URI, as a
    /// database answers `secret-user` when asked for secrets.
    #[serde(default)]
    pub app_secrets: BTreeMap<String, BTreeMap<String, String>>,
}

/// One field of a step, for error messages and the docs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FieldDoc {
    /// Its name (`remote-endpoint`).
    pub name: &'static str,
    /// Whether the step needs it.
    pub required: bool,
    /// What it holds.
    pub what: &'static str,
}

/// One kind of step, for error messages and the docs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StepDoc {
    /// Its key in the scenario (`set-leader`).
    pub key: &'static str,
    /// A step of this kind, as written in a scenario.
    pub example: &'static str,
    /// Its fields (none for `config`, whose keys are the charm's options).
    pub fields: &'static [FieldDoc],
}

const fn field(name: &'static str, required: bool, what: &'static str) -> FieldDoc {
    FieldDoc {
        name,
        required,
        what,
    }
}

const UNIT: FieldDoc = field("unit", true, "a unit of the charm, like app/1");

/// Every kind of [`Step`], in the order of the enum.
pub const STEPS: &[StepDoc] = &[
    StepDoc {
        key: "deploy",
        example: "deploy: {units: 3}",
        fields: &[field("units", true, "how many units")],
    },
    StepDoc {
        key: "add-unit",
        example: "add-unit: {}",
        fields: &[],
    },
    StepDoc {
        key: "remove-unit",
        example: "remove-unit: {unit: app/1}",
        fields: &[
            UNIT,
            field(
                "expire-lease",
                false,
                "true: if it led, its lease runs out at once (else no unit leads until expire-lease)",
            ),
        ],
    },
    StepDoc {
        key: "expire-lease",
        example: "expire-lease: {}",
        fields: &[],
    },
    StepDoc {
        key: "set-leader",
        example: "set-leader: {unit: app/1}",
        fields: &[UNIT],
    },
    StepDoc {
        key: "config",
        example: "config: {max_db_connections: 44, pool_mode: null}",
        fields: &[],
    },
    StepDoc {
        key: "relate",
        example: "relate: {endpoint: db, app: pg, remote-endpoint: database, app-data: {user: \"relation_id_{relation-id}\"}}",
        fields: &[
            field("endpoint", true, "the charm's endpoint"),
            field("app", true, "a simulated application (under apps)"),
            field("remote-endpoint", true, "that application's endpoint"),
            field(
                "app-data",
                false,
                "its app databag, key: string ({relation-id} becomes the relation's id)",
            ),
            field(
                "unit-data",
                false,
                "its units' databags, unit: {key: string} ({relation-id} as in app-data)",
            ),
            field(
                "app-secrets",
                false,
                "secrets it owns, granted over the relation, key: {key: string} (the key gets the secret's URI in its app databag)",
            ),
        ],
    },
    StepDoc {
        key: "set-remote-data",
        example: "set-remote-data: {endpoint: db, app: pg, unit: pg/0, data: {host: 127.0.0.1}}",
        fields: &[
            field("endpoint", true, "the charm's endpoint of the relation"),
            field("app", true, "the simulated application"),
            field(
                "unit",
                false,
                "one of its units, for that unit's bag (else the app bag)",
            ),
            field("data", true, "key: string to set; \"\" deletes the key"),
        ],
    },
    StepDoc {
        key: "remove-relation",
        example: "remove-relation: {endpoint: db, app: pg}",
        fields: &[
            field("endpoint", true, "the charm's endpoint"),
            field("app", true, "the simulated application"),
        ],
    },
    StepDoc {
        key: "pebble-ready",
        example: "pebble-ready: {unit: app/0}",
        fields: &[field(
            "unit",
            false,
            "a unit of the charm (every unit if none)",
        )],
    },
    StepDoc {
        key: "pebble-notify",
        example: "pebble-notify: {unit: app/0, container: web, key: example.com/db-ready, data: {path: /srv}}",
        fields: &[
            UNIT,
            field(
                "container",
                false,
                "one of the charm's containers (may be left out if it has one)",
            ),
            field("key", true, "the notice key, like example.com/db-ready"),
            field("data", false, "the occurrence's data, key: string"),
        ],
    },
    StepDoc {
        key: "update-status",
        example: "update-status: {}",
        fields: &[],
    },
    StepDoc {
        key: "churn",
        example: "churn: {unit: app/1}",
        fields: &[UNIT],
    },
    StepDoc {
        key: "refresh",
        example: "refresh: {}",
        fields: &[],
    },
    StepDoc {
        key: "run-action",
        example: "run-action: {unit: app/0, action: backup, params: {full: true}}",
        fields: &[
            UNIT,
            field("action", true, "the action's name"),
            field("params", false, "its parameters, name: value"),
        ],
    },
];

impl Step {
    /// The step's key in a scenario (`set-leader`).
    pub fn key(&self) -> &'static str {
        match self {
            Step::Deploy { .. } => "deploy",
            Step::AddUnit {} => "add-unit",
            Step::RemoveUnit { .. } => "remove-unit",
            Step::ExpireLease {} => "expire-lease",
            Step::SetLeader { .. } => "set-leader",
            Step::Config(_) => "config",
            Step::Relate(_) => "relate",
            Step::SetRemoteData { .. } => "set-remote-data",
            Step::RemoveRelation { .. } => "remove-relation",
            Step::PebbleReady { .. } => "pebble-ready",
            Step::PebbleNotify { .. } => "pebble-notify",
            Step::UpdateStatus {} => "update-status",
            Step::Churn { .. } => "churn",
            Step::Refresh {} => "refresh",
            Step::RunAction { .. } => "run-action",
        }
    }

    /// What [`STEPS`] says of steps with `key`.
    pub fn doc(key: &str) -> Option<&'static StepDoc> {
        STEPS.iter().find(|d| d.key == key)
    }
}

/// A scenario file that cannot be used; the message names the line and
/// field, and for a step its number, its key and the field's path.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
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
    /// A step that is not valid.
    #[error("invalid scenario {path}: step {step}{problem}")]
    Step {
        /// The file.
        path: PathBuf,
        /// The step's number, from 1.
        step: usize,
        /// What is wrong, where.
        problem: Box<StepProblem>,
    },
}

/// What is wrong with a step, and where: shown as
/// ` (set-leader): field unit: expected ... (line 4 column 24)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StepProblem {
    /// The step's key (`set-leader`), when it has one.
    pub key: Option<String>,
    /// The path of the field inside the step (`unit`, `app-data.host`).
    pub field: Option<String>,
    /// What is wrong.
    pub message: String,
    /// Where in the file (line, column).
    pub line: Option<(usize, usize)>,
}

impl std::fmt::Display for StepProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if let Some(key) = &self.key {
            write!(f, " ({key})")?;
        }
        f.write_str(": ")?;
        if let Some(field) = &self.field {
            write!(f, "field {field}: ")?;
        }
        f.write_str(&self.message)?;
        if let Some((line, column)) = self.line {
            write!(f, " (line {line} column {column})")?;
        }
        Ok(())
    }
}

/// serde's name for a type, as a person says it.
fn plain_type(serde: &str) -> String {
    let serde = serde.trim();
    match serde {
        "usize" | "u8" | "u16" | "u32" | "u64" | "isize" | "i32" | "i64" => {
            "a whole number".to_string()
        }
        "sequence" => "a list".to_string(),
        "map" => "a map".to_string(),
        "unit" => "nothing".to_string(),
        "unit variant" => "a bare name".to_string(),
        "a sequence" => "a list".to_string(),
        _ => {
            if let Some(rest) = serde.strip_prefix("string ") {
                format!("the string {rest}")
            } else if let Some(rest) = serde.strip_prefix("integer ") {
                format!("the number {}", rest.trim_matches('`'))
            } else if let Some(rest) = serde.strip_prefix("floating point ") {
                format!("the number {}", rest.trim_matches('`'))
            } else if let Some(rest) = serde.strip_prefix("boolean ") {
                format!("the boolean {}", rest.trim_matches('`'))
            } else {
                serde.to_string()
            }
        }
    }
}

/// A step's error, from serde's message (path and location taken off),
/// said plainly: what was expected, with the step's or field's doc, and
/// what was found.
fn plain_step_message(
    message: &str,
    key: Option<&str>,
    field: Option<&str>,
    value: Option<&serde_norway::Value>,
) -> String {
    let doc = key.and_then(Step::doc);
    let shape = "a step is a map with one key, the step's name, like `- deploy: {units: 3}`";
    let names = || STEPS.iter().map(|d| d.key).collect::<Vec<_>>().join(", ");
    let fields_of = |doc: &StepDoc| {
        if doc.fields.is_empty() {
            "it has no fields".to_string()
        } else {
            let names: Vec<&str> = doc.fields.iter().map(|f| f.name).collect();
            format!("its fields are {}", names.join(", "))
        }
    };
    if message.starts_with("unknown variant") {
        return format!("no such step; the steps are {}", names());
    }
    if message.contains("expected map with a single key") {
        let keys: Vec<String> = value
            .and_then(serde_norway::Value::as_mapping)
            .map(|m| {
                m.keys()
                    .map(|k| k.as_str().unwrap_or("?").to_string())
                    .collect()
            })
            .unwrap_or_default();
        return format!("{shape}; this one has {}: {}", keys.len(), keys.join(", "));
    }
    if message.contains("expected enum Step") {
        let found = message
            .strip_prefix("invalid type: ")
            .and_then(|m| m.split_once(", expected"))
            .map(|(found, _)| plain_type(found))
            .unwrap_or_else(|| "something else".to_string());
        return format!("{shape}, not {found}");
    }
    if let Some(rest) = message.strip_prefix("unknown field ") {
        let name = rest.split('`').nth(1).unwrap_or(rest);
        return match doc {
            Some(doc) => format!("unknown field {name}; {}", fields_of(doc)),
            None => format!("unknown field {name}"),
        };
    }
    if let Some(rest) = message.strip_prefix("missing field ") {
        let name = rest.trim_matches('`');
        let what = doc
            .and_then(|d| d.fields.iter().find(|f| f.name == name))
            .map(|f| format!(" ({})", f.what))
            .unwrap_or_default();
        let example = doc
            .map(|d| format!(", as in `{}`", d.example))
            .unwrap_or_default();
        return format!("missing field {name}{what}{example}");
    }
    if let Some(rest) = message.strip_prefix("invalid type: ")
        && let Some((found, expected)) = rest.split_once(", expected ")
    {
        let found = plain_type(found);
        if expected.starts_with("struct variant") || expected.starts_with("a map") {
            let example = doc.map(|d| d.example).unwrap_or("deploy: {units: 3}");
            if field.is_none() {
                return format!("expected its fields as a map, like `{example}`, got {found}");
            }
        }
        let what = match (doc, field) {
            (Some(doc), Some(field)) => {
                let first = field.split('.').next().unwrap_or(field);
                doc.fields
                    .iter()
                    .find(|f| f.name == first)
                    .map(|f| format!(" ({})", f.what))
                    .unwrap_or_default()
            }
            _ => String::new(),
        };
        return format!("expected {}{what}, got {found}", plain_type(expected));
    }
    message.to_string()
}

impl Scenario {
    /// Parses scenario YAML; `path` is only used in error messages.
    ///
    /// An error in a step names the step's number (from 1), its key and
    /// the field, and says what was expected:
    ///
    /// ```
    /// use ops_testing::sim::Scenario;
    /// let err = Scenario::parse(
    ///     "charm: {dir: x}\nsteps:\n  - deploy: {units: 1}\n  - set-leader: {unit: [a]}\n",
    ///     "s.yaml".as_ref(),
    /// )
    /// .unwrap_err();
    /// assert_eq!(
    ///     err.to_string(),
    ///     "invalid scenario s.yaml: step 2 (set-leader): field unit: expected a string \
    ///      (a unit of the charm, like app/1), got a list (line 4 column 24)"
    /// );
    /// ```
    pub fn parse(text: &str, path: &std::path::Path) -> Result<Self, ScenarioError> {
        serde_norway::from_str(text).map_err(|e| {
            let line = e.location().map(|l| (l.line(), l.column()));
            let full = e.to_string();
            let message = match line {
                Some((l, c)) => full
                    .strip_suffix(&format!(" at line {l} column {c}"))
                    .unwrap_or(&full)
                    .to_string(),
                None => full.clone(),
            };
            if let Some(error) = Self::step_error(text, path, &message, line) {
                return error;
            }
            let location = line
                .map(|(l, c)| format!("line {l} column {c}: "))
                .unwrap_or_default();
            ScenarioError::Invalid {
                path: path.to_path_buf(),
                message: format!("{location}{message}"),
            }
        })
    }

    /// A [`ScenarioError::Step`] from serde's `steps[N].key.field: message`.
    fn step_error(
        text: &str,
        path: &std::path::Path,
        message: &str,
        line: Option<(usize, usize)>,
    ) -> Option<ScenarioError> {
        let rest = message.strip_prefix("steps[")?;
        let (index, rest) = rest.split_once(']')?;
        let index: usize = index.parse().ok()?;
        let (location, message) = rest.split_once(": ")?;
        let mut segments = location.strip_prefix('.').unwrap_or(location).split('.');
        let value = serde_norway::from_str::<serde_norway::Value>(text)
            .ok()
            .and_then(|v| v.get("steps").and_then(|s| s.get(index)).cloned());
        let key = match segments.next().filter(|s| !s.is_empty()) {
            Some(key) => Some(key.to_string()),
            None => match &value {
                Some(serde_norway::Value::String(s)) => Some(s.clone()),
                Some(serde_norway::Value::Mapping(m)) if m.len() == 1 => {
                    m.keys().next().and_then(|k| k.as_str()).map(str::to_string)
                }
                _ => None,
            },
        };
        let field: Vec<&str> = segments.collect();
        let field = (!field.is_empty()).then(|| field.join("."));
        let mut plain =
            plain_step_message(message, key.as_deref(), field.as_deref(), value.as_ref());
        if message.starts_with("invalid type: unit variant")
            && let Some(doc) = key.as_deref().and_then(Step::doc)
        {
            plain = format!("a step is a map: write `- {}`", doc.example);
        }
        Some(ScenarioError::Step {
            path: path.to_path_buf(),
            step: index + 1,
            problem: Box::new(StepProblem {
                key,
                field,
                message: plain,
                line,
            }),
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
  - expire-lease: {}
  - remove-unit: {unit: c/1, expire-lease: true}
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
        assert_eq!(s.steps.len(), 15);
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

    /// The error for a scenario whose second step is `step`.
    fn second_step_error(step: &str) -> String {
        let text = format!("charm: {{dir: x}}\nsteps:\n  - deploy: {{units: 1}}\n  - {step}\n");
        match Scenario::parse(&text, Path::new("bad.yaml")) {
            Ok(s) => panic!("{step:?} parsed: {s:?}"),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn step_errors_name_the_step_its_key_and_the_field() {
        for (step, expected) in [
            (
                "set-leader: pgbouncer-k8s/0",
                "step 2 (set-leader): expected its fields as a map, like `set-leader: {unit: app/1}`, got the string \"pgbouncer-k8s/0\" (line 4 column 17)",
            ),
            (
                "set-leader: {unit: [1]}",
                "step 2 (set-leader): field unit: expected a string (a unit of the charm, like app/1), got a list (line 4 column 24)",
            ),
            (
                "set-leader: {}",
                "step 2 (set-leader): missing field unit (a unit of the charm, like app/1), as in `set-leader: {unit: app/1}` (line 4 column 17)",
            ),
            (
                "set-leader: {unit: a/0, x: 1}",
                "step 2 (set-leader): unknown field x; its fields are unit (line 4 column 29)",
            ),
            (
                "deploy: {units: three}",
                "step 2 (deploy): field units: expected a whole number (how many units), got the string \"three\" (line 4 column 21)",
            ),
            (
                "relate: {endpoint: db, app: pg, remote-endpoint: d, app-data: {host: [1]}}",
                "step 2 (relate): field app-data.host: expected a string (its app databag, key: string ({relation-id} becomes the relation's id)), got a list (line 4 column 74)",
            ),
            (
                "add-unit",
                "step 2 (add-unit): a step is a map: write `- add-unit: {}` (line 4 column 5)",
            ),
            (
                "[deploy]",
                "step 2: a step is a map with one key, the step's name, like `- deploy: {units: 3}`, not a list (line 4 column 5)",
            ),
            (
                "{deploy: {units: 1}, add-unit: {}}",
                "step 2: a step is a map with one key, the step's name, like `- deploy: {units: 3}`; this one has 2: deploy, add-unit (line 4 column 5)",
            ),
            (
                "config: [1]",
                "step 2 (config): expected its fields as a map, like `config: {max_db_connections: 44, pool_mode: null}`, got a list (line 4 column 13)",
            ),
        ] {
            assert_eq!(
                second_step_error(step),
                format!("invalid scenario bad.yaml: {expected}"),
                "{step}"
            );
        }
        let unknown = second_step_error("explode: {}");
        assert!(
            unknown.starts_with("invalid scenario bad.yaml: step 2 (explode): no such step; the steps are deploy, add-unit, remove-unit,"),
            "{unknown}"
        );
        // Outside the steps, serde's message stays, with its line.
        let err = Scenario::parse(
            "charm: {dir: x, bin: y}\nsteps: []\n",
            Path::new("bad.yaml"),
        )
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("line 1") && err.contains("unknown field `bin`"),
            "{err}"
        );
    }

    #[test]
    fn every_step_kind_is_documented_and_its_example_parses() {
        let all: Vec<&str> = STEPS.iter().map(|d| d.key).collect();
        let mut yaml = String::from("charm: {dir: x}\nsteps:\n");
        for doc in STEPS {
            yaml.push_str(&format!("  - {}\n", doc.example));
        }
        let parsed = Scenario::parse(&yaml, Path::new("s.yaml")).unwrap();
        let keys: Vec<&str> = parsed.steps.iter().map(Step::key).collect();
        assert_eq!(keys, all);
        // Step::key's match lists every variant: each must have its doc.
        for step in &parsed.steps {
            assert!(Step::doc(step.key()).is_some(), "{}", step.key());
        }
        assert_eq!(all.len(), 15);
    }
}
