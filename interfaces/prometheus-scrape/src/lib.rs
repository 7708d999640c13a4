//! The provider side of Juju's `prometheus_scrape` interface: a charm whose
//! workload serves Prometheus metrics tells the related Prometheus what to
//! scrape, with which alert rules.
//!
//! The databags are written as Canonical's charm library
//! `charms.prometheus_k8s.v0.prometheus_scrape` (`MetricsEndpointProvider`,
//! LIBPATCH 61) writes them:
//!
//! | databag | key | value |
//! |---|---|---|
//! | app (leader) | `scrape_metadata` | the topology, [`Topology::as_json`] |
//! | app (leader) | `scrape_jobs` | the jobs, each merged over `{"metrics_path": "/metrics", "static_configs": [{"targets": ["*:80"]}]}` and limited to the library's allowed keys |
//! | app (leader) | `alert_rules` | `{"groups": [...]}` ([`AlertRules`]), `{}` without rules |
//! | unit | `prometheus_scrape_unit_address` | the unit's bind address |
//! | unit | `prometheus_scrape_unit_path` | `""`, so never set (Juju deletes a key set to `""`) |
//! | unit | `prometheus_scrape_unit_name` | the unit's name |
//! | unit | `prometheus_scrape_unit_fqdn` | the unit's FQDN |
//!
//! Every value is JSON as Python's `json.dumps` writes it
//! ([`juju_topology::json`]). `*:<port>` in a target means "each unit, on
//! this port": Prometheus puts the unit addresses in.
//!
//! ```
//! use juju_topology::Topology;
//! use prometheus_scrape::{AlertRules, MetricsEndpointProvider, ScrapeJob};
//!
//! let topology = Topology {
//!     model: "db".into(),
//!     model_uuid: "0b7d1071-ded2-4bf5-80a3-10a81aeb1386".into(),
//!     application: "pgbouncer-k8s".into(),
//!     unit: "pgbouncer-k8s/0".into(),
//!     charm_name: "pgbouncer-k8s".into(),
//! };
//! let mut rules = AlertRules::new(&topology);
//! rules
//!     .add_file("pgbouncer", r#"{"groups": [{"name": "pgbouncer", "rules": [
//!         {"alert": "PgBouncerDown", "expr": "pgbouncer_up{%%juju_topology%%} == 0"}]}]}"#)
//!     .unwrap();
//! let provider = MetricsEndpointProvider::new(topology, vec![ScrapeJob::port(9127)], rules);
//! let app = provider.app_data();
//! assert_eq!(app[1], (
//!     "scrape_jobs",
//!     r#"[{"metrics_path": "/metrics", "static_configs": [{"targets": ["*:9127"]}]}]"#.to_string(),
//! ));
//! assert!(app[2].1.contains(r#""expr": "pgbouncer_up{} == 0""#));
//! assert!(app[2].1.contains(r#""name": "db_0b7d1071_pgbouncer_k8s_pgbouncer_rules""#));
//! ```
//!
//! In a charm, [`MetricsEndpointProvider::publish`] writes every relation
//! of the endpoint (the app databag on the leader only); call it when the
//! relation joins, on the leader's hooks and whenever the address may have
//! changed (`update-status` on Kubernetes: a pod can come back with a new IP).

#![deny(missing_docs)]

use juju_topology::Topology;
use juju_topology::json::{self, Value};
use ops::Model;
use ops::model::ModelError;

/// The endpoint name the library defaults to.
pub const DEFAULT_ENDPOINT: &str = "metrics-endpoint";
/// The interface name.
pub const INTERFACE: &str = "prometheus_scrape";

/// The databag keys.
pub mod keys {
    /// App: the jobs.
    pub const SCRAPE_JOBS: &str = "scrape_jobs";
    /// App: the topology.
    pub const SCRAPE_METADATA: &str = "scrape_metadata";
    /// App: the alert rules.
    pub const ALERT_RULES: &str = "alert_rules";
    /// Unit: its address.
    pub const UNIT_ADDRESS: &str = "prometheus_scrape_unit_address";
    /// Unit: a path prefix (behind an ingress); empty here.
    pub const UNIT_PATH: &str = "prometheus_scrape_unit_path";
    /// Unit: its name.
    pub const UNIT_NAME: &str = "prometheus_scrape_unit_name";
    /// Unit: its FQDN.
    pub const UNIT_FQDN: &str = "prometheus_scrape_unit_fqdn";
}

/// The keys a job may have (the library's `ALLOWED_KEYS`); others are
/// dropped.
pub const ALLOWED_KEYS: [&str; 17] = [
    "job_name",
    "metrics_path",
    "static_configs",
    "scrape_interval",
    "scrape_timeout",
    "proxy_url",
    "relabel_configs",
    "metric_relabel_configs",
    "sample_limit",
    "label_limit",
    "label_name_length_limit",
    "label_value_length_limit",
    "scheme",
    "basic_auth",
    "tls_config",
    "authorization",
    "params",
];

/// The placeholder a rule's expression carries where the topology's label
/// matchers go (as in the library's rule files).
pub const TOPOLOGY_PLACEHOLDER: &str = "%%juju_topology%%";

/// One scrape job: a Prometheus `scrape_config` limited to
/// [`ALLOWED_KEYS`], over the library's default job.
#[derive(Debug, Clone, PartialEq)]
pub struct ScrapeJob(Value);

impl ScrapeJob {
    /// Every unit on `port`, at `/metrics`.
    pub fn port(port: u16) -> Self {
        Self::from_json(Value::object([(
            "static_configs",
            Value::from(vec![Value::object([(
                "targets",
                Value::from(vec![Value::from(format!("*:{port}"))]),
            )])]),
        )]))
    }

    /// A job from its JSON (an object; anything else is the default job),
    /// merged over the default job as the library's `sanitize_scrape_config`
    /// does: `metrics_path` and `static_configs` first, then the other
    /// allowed keys in their order; keys not allowed are dropped.
    pub fn from_json(job: Value) -> Self {
        let mut sanitized = Value::object([
            ("metrics_path", Value::from("/metrics")),
            (
                "static_configs",
                Value::from(vec![Value::object([(
                    "targets",
                    Value::from(vec![Value::from("*:80")]),
                )])]),
            ),
        ]);
        if let Value::Object(entries) = job {
            for (key, value) in entries {
                if ALLOWED_KEYS.contains(&key.as_str()) {
                    sanitized.insert(key, value);
                }
            }
        }
        Self(sanitized)
    }

    /// The job as written.
    pub fn as_json(&self) -> &Value {
        &self.0
    }
}

/// Why a rule file was refused (named by its file stem, never its content).
#[derive(Debug, thiserror::Error)]
pub enum RulesError {
    /// Not JSON (the charm ships its rule files as JSON, which is YAML too).
    #[error("alert rule file {file}: {source}")]
    Json {
        /// The file's stem.
        file: String,
        /// Where the JSON is invalid.
        source: json::JsonError,
    },
    /// Neither the official format (`groups`) nor a single rule
    /// (`alert`/`record` with `expr`).
    #[error("alert rule file {file}: neither `groups` nor a single rule with `expr`")]
    Format {
        /// The file's stem.
        file: String,
    },
    /// A group without a name or a list of rules, or a rule without `expr`.
    #[error("alert rule file {file}: group {group} is invalid: {reason}")]
    Group {
        /// The file's stem.
        file: String,
        /// The group's index.
        group: usize,
        /// What is missing.
        reason: &'static str,
    },
}

/// Alert rules with the topology put in, as the library's `AlertRules`
/// (from `cosl.rules`) makes them from a charm's rule files: each group
/// named `<identifier>_<name>_rules` (characters outside `[a-zA-Z0-9_:]`
/// made `_`), each rule given the `juju_*` labels it does not have, and
/// [`TOPOLOGY_PLACEHOLDER`] (with a comma after it) taken out of each
/// expression.
///
/// The library then asks `cos-tool`, when the charm ships it, to add the
/// topology's matchers to every selector; without it (the usual case, and
/// here) the expressions go as they are, and the Prometheus charm, which
/// ships `cos-tool`, qualifies every rule from its `juju_*` labels when it
/// loads them (`MetricsEndpointConsumer._inject_alert_expr_labels`).
#[derive(Debug, Clone, PartialEq)]
pub struct AlertRules {
    topology: Topology,
    groups: Vec<Value>,
}

impl AlertRules {
    /// No rules yet.
    pub fn new(topology: &Topology) -> Self {
        Self {
            topology: topology.clone(),
            groups: Vec::new(),
        }
    }

    /// Adds the rules of one file, `stem` being its name without the
    /// extension: the official format (`{"groups": [...]}`) or a single
    /// rule (a group named after the file).
    pub fn add_file(&mut self, stem: &str, text: &str) -> Result<(), RulesError> {
        let value = json::from_str(text).map_err(|source| RulesError::Json {
            file: stem.to_string(),
            source,
        })?;
        self.add(stem, value)
    }

    /// Adds rules already read (see [`add_file`](Self::add_file)).
    pub fn add(&mut self, stem: &str, rules: Value) -> Result<(), RulesError> {
        let groups = if let Some(groups) = rules.get("groups") {
            groups.as_array().cloned().ok_or(RulesError::Format {
                file: stem.to_string(),
            })?
        } else if rules.get("expr").is_some()
            && (rules.get("alert").is_some() || rules.get("record").is_some())
        {
            vec![Value::object([
                ("name", Value::from(stem)),
                ("rules", Value::from(vec![rules])),
            ])]
        } else {
            return Err(RulesError::Format {
                file: stem.to_string(),
            });
        };
        let mut done = Vec::with_capacity(groups.len());
        for (index, group) in groups.into_iter().enumerate() {
            done.push(self.qualify(stem, index, group)?);
        }
        self.groups.extend(done);
        Ok(())
    }

    /// Adds the library's generic rules for an application (`cosl`'s
    /// `generic_alert_groups.application_rules`, group `HostHealth`): the
    /// target down for 5 minutes, and its `up` metric missing.
    pub fn add_generic(&mut self) {
        let rule = |alert: &str, expr: &str, severity: &str, summary: &str, description: &str| {
            Value::object([
                ("alert", Value::from(alert)),
                ("expr", Value::from(expr)),
                ("for", Value::from("5m")),
                (
                    "labels",
                    Value::object([("severity", Value::from(severity))]),
                ),
                (
                    "annotations",
                    Value::object([
                        ("summary", Value::from(summary)),
                        ("description", Value::from(description)),
                    ]),
                ),
            ])
        };
        let group = Value::object([
            ("name", Value::from("HostHealth")),
            (
                "rules",
                Value::from(vec![
                    rule(
                        "HostDown",
                        "up < 1",
                        "critical",
                        "Host '{{ $labels.instance }}' is down.",
                        "Juju application '{{ $labels.juju_application }}' in model '{{ $labels.juju_model }}' is down. Prometheus has been unable to scrape it during at least the past five minutes.",
                    ),
                    rule(
                        "HostMetricsMissing",
                        "absent(up)",
                        "warning",
                        "Unit '{{ $labels.juju_unit }}' of application '{{ $labels.juju_application }}' is down or failing to remote write.",
                        "`Up` missing for unit '{{ $labels.juju_unit }}' of application {{ $labels.juju_application }} in model {{ $labels.juju_model }}. Please ensure the unit or the collector scraping it is up and is able to successfully reach the metrics backend.",
                    ),
                ]),
            ),
        ]);
        // Valid by construction: it has a name and rules with `expr`.
        if let Ok(group) = self.qualify("generic", 0, group) {
            self.groups.push(group);
        }
    }

    fn qualify(&self, stem: &str, index: usize, mut group: Value) -> Result<Value, RulesError> {
        let bad = |reason| RulesError::Group {
            file: stem.to_string(),
            group: index,
            reason,
        };
        if !group.is_object() {
            return Err(bad("not an object"));
        }
        let name = group
            .get("name")
            .and_then(Value::as_str)
            .ok_or(bad("no name"))?
            .to_string();
        let name = if already_qualified(&name) {
            name
        } else {
            let mut qualified = format!("{}_{name}", self.topology.identifier());
            if !qualified.ends_with("_rules") {
                qualified.push_str("_rules");
            }
            qualified
        };
        let name: String = name
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '_' || c == ':' {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        group.insert("name", Value::from(name));
        let labels = self.topology.label_matchers();
        let rules = group
            .get_mut("rules")
            .and_then(Value::as_array_mut)
            .ok_or(bad("no list of rules"))?;
        for rule in rules.iter_mut() {
            let expr = rule
                .get("expr")
                .and_then(Value::as_str)
                .ok_or(bad("a rule without expr"))?
                .to_string();
            if rule.get("labels").is_none_or(|l| !l.is_object()) {
                rule.insert("labels", Value::object::<String>([]));
            }
            if let Some(rule_labels) = rule.get_mut("labels") {
                for (label, value) in &labels {
                    if rule_labels.get(label).is_none() {
                        rule_labels.insert(*label, Value::from(*value));
                    }
                }
            }
            rule.insert("expr", Value::from(strip_placeholder(&expr)));
        }
        Ok(group)
    }

    /// `{"groups": [...]}`, or `{}` without any group (the library's
    /// `as_dict`).
    pub fn as_json(&self) -> Value {
        if self.groups.is_empty() {
            Value::object::<String>([])
        } else {
            Value::object([("groups", Value::from(self.groups.clone()))])
        }
    }
}

/// A name the library already qualified (`…_<8 hex>_…rules`).
fn already_qualified(name: &str) -> bool {
    if !name.ends_with("rules") {
        return false;
    }
    let bytes = name.as_bytes();
    (0..bytes.len()).any(|i| {
        bytes[i] == b'_'
            && bytes.len() > i + 10
            && bytes[i + 1..i + 9]
                .iter()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(b))
            && bytes[i + 9] == b'_'
    })
}

/// `re.sub(r"%%juju_topology%%,?", "", expr)`.
fn strip_placeholder(expr: &str) -> String {
    expr.replace(&format!("{TOPOLOGY_PLACEHOLDER},"), "")
        .replace(TOPOLOGY_PLACEHOLDER, "")
}

/// What a charm publishes on its `metrics-endpoint` relations.
#[derive(Debug, Clone, PartialEq)]
pub struct MetricsEndpointProvider {
    endpoint: String,
    topology: Topology,
    jobs: Vec<ScrapeJob>,
    rules: AlertRules,
}

impl MetricsEndpointProvider {
    /// On [`DEFAULT_ENDPOINT`]; without a job, the library's default job
    /// (every unit on port 80).
    pub fn new(topology: Topology, jobs: Vec<ScrapeJob>, rules: AlertRules) -> Self {
        Self {
            endpoint: DEFAULT_ENDPOINT.to_string(),
            topology,
            jobs,
            rules,
        }
    }

    /// On another endpoint of the charm.
    pub fn on_endpoint(mut self, endpoint: &str) -> Self {
        self.endpoint = endpoint.to_string();
        self
    }

    /// The leader's app databag: `scrape_metadata`, `scrape_jobs`,
    /// `alert_rules`, in that order, as the library writes them.
    pub fn app_data(&self) -> [(&'static str, String); 3] {
        let jobs: Vec<Value> = if self.jobs.is_empty() {
            vec![ScrapeJob::from_json(Value::Null).0]
        } else {
            self.jobs.iter().map(|j| j.0.clone()).collect()
        };
        [
            (
                keys::SCRAPE_METADATA,
                json::to_string(&self.topology.as_json()),
            ),
            (keys::SCRAPE_JOBS, json::to_string(&Value::from(jobs))),
            (keys::ALERT_RULES, json::to_string(&self.rules.as_json())),
        ]
    }

    /// Each unit's databag: its `address` (an IP address, or its FQDN when
    /// it has none) and `fqdn`. An empty value is no key (Juju deletes a
    /// key set to `""`): `prometheus_scrape_unit_path` is never there.
    pub fn unit_data(&self, address: &str, fqdn: &str) -> [(&'static str, String); 4] {
        [
            (keys::UNIT_ADDRESS, address.to_string()),
            (keys::UNIT_PATH, String::new()),
            (keys::UNIT_NAME, self.topology.unit.clone()),
            (keys::UNIT_FQDN, fqdn.to_string()),
        ]
    }

    /// Writes every relation of the endpoint: this unit's databag, and the
    /// app databag on the leader. Nothing is sent for a value already there.
    pub fn publish(&self, model: &Model, address: &str, fqdn: &str) -> Result<(), ModelError> {
        let relations = model.relations(self.endpoint.as_str())?;
        if relations.is_empty() {
            return Ok(());
        }
        let leader = model.is_leader()?;
        let app = leader.then(|| self.app_data());
        let unit = self.unit_data(address, fqdn);
        for relation in relations.iter().filter(|r| r.active) {
            update(&model.local_unit_data(relation), &unit)?;
            if let Some(app) = &app {
                update(&model.local_app_data(relation), app)?;
            }
        }
        Ok(())
    }
}

fn update(bag: &ops::model::Databag<'_>, entries: &[(&str, String)]) -> Result<(), ModelError> {
    for (key, value) in entries {
        let present = bag.get(key)?;
        if value.is_empty() {
            if present.is_some() {
                bag.remove(key)?;
            }
        } else if present.as_deref() != Some(value.as_str()) {
            bag.set(key, value)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests;
