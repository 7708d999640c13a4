//! Layers and the plan: Pebble's configuration, as YAML.
//!
//! Field names are Pebble's (`internals/plan/plan.go`): kebab-case, and
//! unset fields are left out when a layer is rendered, so that a layer
//! combined with `override: merge` changes only what it names.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::layer_values::{LayerWord, unset_if_empty};
use super::{CheckLevel, CheckStartup, Override, ServiceAction, ServiceStartup};
use crate::YamlError;

/// A configuration layer: what [`Client::add_layer`](super::Client::add_layer) sends.
///
/// Every service and check in a layer must say how it combines with the
/// layers below (`override: merge` or `override: replace`).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct Layer {
    /// A one-line summary.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub summary: Option<String>,
    /// A longer description.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Services by name.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub services: BTreeMap<String, Service>,
    /// Health checks by name.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub checks: BTreeMap<String, Check>,
    /// Log forwarding targets by name.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub log_targets: BTreeMap<String, LogTarget>,
}

impl Layer {
    /// The layer as Pebble reads it (YAML).
    pub fn to_yaml(&self) -> Result<String, YamlError> {
        crate::yaml::to_string(self)
    }

    /// Parses a layer from YAML. An empty document is an empty layer.
    ///
    /// This is for layers a charm gives (a file it ships, say), so a word
    /// Pebble does not know in `startup`, `override`, `level` or an action
    /// is an error that names the item and the field (and not the word),
    /// rather than an `Other` that Pebble would refuse or, for a service's
    /// `startup`, silently take as disabled. An empty word is unset, as in
    /// Pebble. What Pebble sends back ([`Plan::from_yaml`]) keeps such
    /// words instead, as the enums' `Other`.
    ///
    /// ```
    /// use ops::pebble::{Layer, ServiceStartup};
    ///
    /// let layer = Layer::from_yaml("services:\n  web: {override: replace, command: web, startup: enabled}\n").unwrap();
    /// assert_eq!(layer.services["web"].startup, Some(ServiceStartup::Enabled));
    /// let err = Layer::from_yaml("services:\n  web: {override: replace, startup: enable}\n").unwrap_err();
    /// assert_eq!(err.to_string(), "service \"web\": unknown startup value (Pebble takes enabled, disabled)");
    /// ```
    pub fn from_yaml(text: &str) -> Result<Self, YamlError> {
        if text.trim().is_empty() {
            return Ok(Self::default());
        }
        let layer: Self = crate::yaml::from_str(text)?;
        layer.check_words()?;
        Ok(layer)
    }

    /// The error for the first field holding a word Pebble does not know.
    fn check_words(&self) -> Result<(), YamlError> {
        for (name, service) in &self.services {
            let item = || format!("service {name:?}");
            known(item, "startup", service.startup.as_ref())?;
            known(item, "override", service.override_.as_ref())?;
            known(item, "on-success", service.on_success.as_ref())?;
            known(item, "on-failure", service.on_failure.as_ref())?;
            for action in service.on_check_failure.values() {
                known(item, "on-check-failure", Some(action))?;
            }
        }
        for (name, check) in &self.checks {
            let item = || format!("check {name:?}");
            known(item, "override", check.override_.as_ref())?;
            known(item, "level", check.level.as_ref())?;
            known(item, "startup", check.startup.as_ref())?;
        }
        for (name, target) in &self.log_targets {
            let item = || format!("log target {name:?}");
            known(item, "override", target.override_.as_ref())?;
        }
        Ok(())
    }
}

/// An error if `value` is a word its enum does not know: named by the item
/// and the field, with the words Pebble takes, but not the word itself.
fn known<T: LayerWord>(
    item: impl Fn() -> String,
    field: &str,
    value: Option<&T>,
) -> Result<(), YamlError> {
    match value {
        Some(value) if value.is_other() => Err(YamlError::invalid(format!(
            "{}: unknown {field} value (Pebble takes {})",
            item(),
            T::WORDS.join(", ")
        ))),
        _ => Ok(()),
    }
}

/// The combined configuration of all layers, as `GET /v1/plan` gives it.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct Plan {
    /// Services by name.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub services: BTreeMap<String, Service>,
    /// Health checks by name.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub checks: BTreeMap<String, Check>,
    /// Log forwarding targets by name.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub log_targets: BTreeMap<String, LogTarget>,
}

impl Plan {
    /// The plan as YAML, in the form Pebble returns it.
    pub fn to_yaml(&self) -> Result<String, YamlError> {
        crate::yaml::to_string(self)
    }

    /// Parses Pebble's plan YAML. An empty document is an empty plan.
    ///
    /// A word this client does not know in `startup`, `override`, `level`
    /// or an action (from a newer Pebble) is kept as the enum's `Other`,
    /// not an error: the rest of the plan stays readable, and a service
    /// read from it can be written back in a layer unchanged.
    pub fn from_yaml(text: &str) -> Result<Self, YamlError> {
        if text.trim().is_empty() {
            return Ok(Self::default());
        }
        crate::yaml::from_str(text)
    }
}

/// A service in a layer (Pebble's `plan.Service`).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct Service {
    /// A one-line summary.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub summary: Option<String>,
    /// A longer description.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Whether replan and autostart start it (unset: they do not).
    #[serde(
        default,
        deserialize_with = "unset_if_empty",
        skip_serializing_if = "Option::is_none"
    )]
    pub startup: Option<ServiceStartup>,
    /// How this combines with lower layers (required in a layer).
    #[serde(
        rename = "override",
        default,
        deserialize_with = "unset_if_empty",
        skip_serializing_if = "Option::is_none"
    )]
    pub override_: Option<Override>,
    /// The command line; `[ ... ]` holds default arguments.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub command: Option<String>,
    /// Start after these services.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub after: Vec<String>,
    /// Start before these services.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub before: Vec<String>,
    /// Services that must run with this one.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub requires: Vec<String>,
    /// The workload (a Pebble section extension) the service belongs to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workload: Option<String>,
    /// Environment variables.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub environment: BTreeMap<String, String>,
    /// Run as this user id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_id: Option<u32>,
    /// Run as this user.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    /// Run with this group id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group_id: Option<u32>,
    /// Run with this group.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
    /// The working directory.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub working_dir: Option<String>,
    /// What to do when it exits 0 (unset: restart; not `success-shutdown`).
    #[serde(
        default,
        deserialize_with = "unset_if_empty",
        skip_serializing_if = "Option::is_none"
    )]
    pub on_success: Option<ServiceAction>,
    /// What to do when it exits otherwise (unset: restart; not
    /// `failure-shutdown`).
    #[serde(
        default,
        deserialize_with = "unset_if_empty",
        skip_serializing_if = "Option::is_none"
    )]
    pub on_failure: Option<ServiceAction>,
    /// What to do when a check fails, by check name (a check not named:
    /// ignore; not `failure-shutdown`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub on_check_failure: BTreeMap<String, ServiceAction>,
    /// The first restart delay (a Go duration such as `500ms`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backoff_delay: Option<String>,
    /// The factor the delay grows by.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backoff_factor: Option<f64>,
    /// The longest restart delay.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backoff_limit: Option<String>,
    /// How long to wait after SIGTERM before SIGKILL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kill_delay: Option<String>,
}

/// A health check in a layer (Pebble's `plan.Check`): exactly one of
/// `http`, `tcp` and `exec` must be set in the combined plan.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct Check {
    /// How this combines with lower layers (required in a layer).
    #[serde(
        rename = "override",
        default,
        deserialize_with = "unset_if_empty",
        skip_serializing_if = "Option::is_none"
    )]
    pub override_: Option<Override>,
    /// What its failure means (unset: neither alive nor ready).
    #[serde(
        default,
        deserialize_with = "unset_if_empty",
        skip_serializing_if = "Option::is_none"
    )]
    pub level: Option<CheckLevel>,
    /// Whether it runs from when it is added (unset: it does).
    #[serde(
        default,
        deserialize_with = "unset_if_empty",
        skip_serializing_if = "Option::is_none"
    )]
    pub startup: Option<CheckStartup>,
    /// How often the check runs (a Go duration; Pebble's default is `10s`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub period: Option<String>,
    /// How long one run may take (default `3s`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<String>,
    /// Failures in a row before the check is down (default 3).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub threshold: Option<u32>,
    /// An HTTP GET that must answer 2xx.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http: Option<HttpCheck>,
    /// A TCP port that must accept connections.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tcp: Option<TcpCheck>,
    /// A command that must exit 0.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exec: Option<ExecCheck>,
}

/// The `http` part of a [`Check`].
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct HttpCheck {
    /// The URL to GET.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// Extra request headers.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub headers: BTreeMap<String, String>,
}

/// The `tcp` part of a [`Check`].
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct TcpCheck {
    /// The port.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<u16>,
    /// The host (default localhost).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
}

/// The `exec` part of a [`Check`].
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct ExecCheck {
    /// The command line.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub command: Option<String>,
    /// Run with this service's environment, user and working directory.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_context: Option<String>,
    /// Environment variables.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub environment: BTreeMap<String, String>,
    /// Run as this user id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_id: Option<u32>,
    /// Run as this user.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    /// Run with this group id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group_id: Option<u32>,
    /// Run with this group.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
    /// The working directory.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub working_dir: Option<String>,
}

/// A log forwarding target in a layer (Pebble's `plan.LogTarget`).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct LogTarget {
    /// `loki`, `opentelemetry` or `syslog`.
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub type_: Option<String>,
    /// Where the logs go (a URL).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<String>,
    /// Service names (`all`, `-name` to exclude).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub services: Vec<String>,
    /// How this combines with lower layers (required in a layer).
    #[serde(
        rename = "override",
        default,
        deserialize_with = "unset_if_empty",
        skip_serializing_if = "Option::is_none"
    )]
    pub override_: Option<Override>,
    /// Labels added to each log line.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layer_yaml_uses_pebble_names_and_skips_unset_fields() {
        let mut layer = Layer {
            summary: Some("web".into()),
            ..Default::default()
        };
        layer.services.insert(
            "srv".into(),
            Service {
                override_: Some(Override::Replace),
                command: Some("/bin/srv --port 80".into()),
                startup: Some(ServiceStartup::Enabled),
                working_dir: Some("/srv".into()),
                user_id: Some(0),
                environment: [("A".to_string(), "1".to_string())].into(),
                ..Default::default()
            },
        );
        layer.checks.insert(
            "up".into(),
            Check {
                override_: Some(Override::Merge),
                level: Some(CheckLevel::Alive),
                tcp: Some(TcpCheck {
                    port: Some(80),
                    host: None,
                }),
                ..Default::default()
            },
        );
        let yaml = layer.to_yaml().unwrap();
        let value: serde_json::Value = crate::yaml::from_str(&yaml).unwrap();
        let srv = &value["services"]["srv"];
        assert_eq!(srv["override"], "replace");
        assert_eq!(srv["working-dir"], "/srv");
        assert_eq!(srv["user-id"], 0);
        assert_eq!(srv["environment"]["A"], "1");
        assert!(srv.get("summary").is_none(), "{yaml}");
        assert!(srv.get("after").is_none(), "{yaml}");
        assert_eq!(value["checks"]["up"]["tcp"]["port"], 80);
        assert!(value.get("description").is_none());
        assert!(value.get("log-targets").is_none());
        assert_eq!(Layer::from_yaml(&yaml).unwrap(), layer);
    }

    #[test]
    fn plan_parses_pebble_yaml_and_ignores_unknown_sections() {
        let text = "services:\n  db:\n    override: replace\n    command: postgres -D /data\n    \
                    startup: enabled\n    on-check-failure:\n      up: restart\n    backoff-factor: 1.5\n\
                    checks:\n  up:\n    override: replace\n    exec:\n      command: pg_isready\n      \
                    service-context: db\nlog-targets:\n  loki:\n    type: loki\n    location: http://l\n    \
                    services: [all]\n    override: merge\nworkloads:\n  w: {}\n";
        let plan = Plan::from_yaml(text).unwrap();
        let db = &plan.services["db"];
        assert_eq!(db.command.as_deref(), Some("postgres -D /data"));
        assert_eq!(db.on_check_failure["up"], ServiceAction::Restart);
        assert_eq!(db.backoff_factor, Some(1.5));
        let exec = plan.checks["up"].exec.as_ref().unwrap();
        assert_eq!(exec.service_context.as_deref(), Some("db"));
        assert_eq!(plan.log_targets["loki"].type_.as_deref(), Some("loki"));
        assert_eq!(Plan::from_yaml("{}\n").unwrap(), Plan::default());
        assert_eq!(Plan::from_yaml("").unwrap(), Plan::default());
    }
}
