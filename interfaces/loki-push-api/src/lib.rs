//! The requirer side of Juju's `loki_push_api` interface: a charm sends its
//! workload's logs to the related Loki through Pebble's log forwarding.
//!
//! What Loki's units publish, and what this crate does with it, follows
//! Canonical's `charms.loki_k8s.v1.loki_push_api` (`LogForwarder`,
//! LIBPATCH 30):
//!
//! - each Loki unit's databag has `endpoint`, `{"url": "http://…/loki/api/v1/push"}`;
//!   [`endpoints`] reads them, one per remote unit, and checks each URL
//!   ([`PushUrl::parse`]: `http` or `https`, a host, no control character
//!   or space): a URL is outside input, and it goes into Pebble's plan;
//! - the workload container gets a layer labelled
//!   `<container>-log-forwarding` ([`layer_label`]) whose `log-targets`
//!   has, per Loki unit (named after it), a target of type `loki`,
//!   `override: replace`, `services: [all]`, the URL as `location`, and the
//!   labels `product`, `charm`, `juju_model`, `juju_model_uuid`,
//!   `juju_application`, `juju_unit` and `job: juju_<identifier>`
//!   ([`log_target`]);
//! - a target whose Loki unit went is disabled (`services: [-all]`,
//!   `location: (removed)`, no labels), since a layer cannot delete an
//!   entry of the plan ([`forwarding_layer`], from the plan;
//!   [`forwarding_layer_since`], from the names the charm enabled before,
//!   which spares reading the plan). (The library leaves the last target
//!   forwarding when the last relation goes; this does not.)
//! - the leader's app databag gets `metadata` (the topology) and
//!   `alert_rules` (`{}`: no LogQL rules), as the library's
//!   `_handle_alert_rules` writes them ([`publish_metadata`]).
//!
//! ```
//! use juju_topology::Topology;
//! use loki_push_api::{Endpoints, PushUrl, forwarding_layer};
//! use ops::pebble::Plan;
//!
//! let topology = Topology {
//!     model: "db".into(),
//!     model_uuid: "0b7d1071-ded2-4bf5-80a3-10a81aeb1386".into(),
//!     application: "pgbouncer-k8s".into(),
//!     unit: "pgbouncer-k8s/0".into(),
//!     charm_name: "pgbouncer-k8s".into(),
//! };
//! let url = loki_push_api::parse_endpoint(r#"{"url": "http://127.0.0.9:3100/loki/api/v1/push"}"#).unwrap();
//! let mut endpoints = Endpoints::default();
//! endpoints.urls.insert("loki/0".into(), url);
//! let layer = forwarding_layer(&endpoints, &Plan::default(), &topology).unwrap();
//! let target = &layer.log_targets["loki/0"];
//! assert_eq!(target.type_.as_deref(), Some("loki"));
//! assert_eq!(target.services, ["all"]);
//! assert_eq!(target.labels["job"], "juju_db_0b7d1071_pgbouncer-k8s");
//! // Nothing to change: no layer.
//! let plan = Plan { log_targets: layer.log_targets.clone(), ..Default::default() };
//! assert!(forwarding_layer(&endpoints, &plan, &topology).is_none());
//! assert!(PushUrl::parse("file:///etc/passwd").is_err());
//! ```

#![deny(missing_docs)]

use std::collections::BTreeMap;
use std::fmt;

use juju_topology::Topology;
use juju_topology::json::{self, Value};
use ops::Model;
use ops::model::{Container, ModelError};
use ops::pebble::{Layer, LogTarget, Override, PebbleError, Plan};

/// The endpoint name the library defaults to.
pub const DEFAULT_ENDPOINT: &str = "logging";
/// The interface name.
pub const INTERFACE: &str = "loki_push_api";
/// A Loki unit's databag: its push endpoint.
pub const ENDPOINT_KEY: &str = "endpoint";
/// The requirer's app databag: its topology.
pub const METADATA_KEY: &str = "metadata";
/// The requirer's app databag: its LogQL alert rules.
pub const ALERT_RULES_KEY: &str = "alert_rules";
/// The longest URL taken.
pub const MAX_URL_LEN: usize = 2048;
/// The `location` of a disabled target (as the library writes it).
pub const REMOVED_LOCATION: &str = "(removed)";

/// Why a push URL was refused (never the URL: it is remote data).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UrlError {
    /// Empty.
    #[error("the URL is empty")]
    Empty,
    /// Longer than [`MAX_URL_LEN`].
    #[error("the URL is longer than {MAX_URL_LEN} bytes")]
    TooLong,
    /// Not `http://` or `https://`.
    #[error("the URL is not http or https")]
    Scheme,
    /// A control character or whitespace.
    #[error("the URL has a control character or a space")]
    Character,
    /// No host after the scheme.
    #[error("the URL has no host")]
    NoHost,
    /// A port that is not a number up to 65535.
    #[error("the URL's port is invalid")]
    Port,
}

/// Why a Loki unit's `endpoint` was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EndpointError {
    /// Not a JSON object with a string `url`.
    #[error("`endpoint` is not a JSON object with a string `url`")]
    Shape,
    /// The URL was refused.
    #[error("`endpoint`: {0}")]
    Url(#[from] UrlError),
}

/// A Loki push URL that passed [`PushUrl::parse`].
#[derive(Clone, PartialEq, Eq)]
pub struct PushUrl(String);

impl fmt::Debug for PushUrl {
    /// The scheme and host only: a URL may carry credentials.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (scheme, rest) = self.0.split_once("://").unwrap_or(("", &self.0));
        let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
        let host = authority.rsplit('@').next().unwrap_or("");
        write!(f, "PushUrl({scheme}://{host}/…)")
    }
}

impl PushUrl {
    /// Takes `url` if it is `http://` or `https://` (any case), has a
    /// host, a numeric port if any, at most [`MAX_URL_LEN`] bytes, and no
    /// control character or whitespace.
    pub fn parse(url: &str) -> Result<Self, UrlError> {
        if url.is_empty() {
            return Err(UrlError::Empty);
        }
        if url.len() > MAX_URL_LEN {
            return Err(UrlError::TooLong);
        }
        if url.chars().any(|c| c.is_control() || c.is_whitespace()) {
            return Err(UrlError::Character);
        }
        let (scheme, rest) = url.split_once("://").ok_or(UrlError::Scheme)?;
        if !scheme.eq_ignore_ascii_case("http") && !scheme.eq_ignore_ascii_case("https") {
            return Err(UrlError::Scheme);
        }
        let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
        let host_port = authority.rsplit('@').next().unwrap_or("");
        let (host, port) = if let Some(bracketed) = host_port.strip_prefix('[') {
            let (host, after) = bracketed.split_once(']').ok_or(UrlError::NoHost)?;
            match after {
                "" => (host, None),
                _ => (host, Some(after.strip_prefix(':').ok_or(UrlError::Port)?)),
            }
        } else {
            match host_port.split_once(':') {
                Some((host, port)) => (host, Some(port)),
                None => (host_port, None),
            }
        };
        if host.is_empty() {
            return Err(UrlError::NoHost);
        }
        if let Some(port) = port
            && (port.is_empty()
                || !port.bytes().all(|b| b.is_ascii_digit())
                || port.parse::<u16>().is_err())
        {
            return Err(UrlError::Port);
        }
        Ok(Self(url.to_string()))
    }

    /// The URL.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A Loki unit's `endpoint` value (`{"url": "…"}`), checked.
pub fn parse_endpoint(value: &str) -> Result<PushUrl, EndpointError> {
    let value = json::from_str(value).map_err(|_| EndpointError::Shape)?;
    let url = value
        .get("url")
        .and_then(Value::as_str)
        .ok_or(EndpointError::Shape)?;
    Ok(PushUrl::parse(url)?)
}

/// The Loki endpoints of every relation of an endpoint.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Endpoints {
    /// Remote unit name to its push URL.
    pub urls: BTreeMap<String, PushUrl>,
    /// The remote units whose `endpoint` was refused, and why.
    pub refused: Vec<(String, EndpointError)>,
}

/// Reads the `endpoint` of every remote unit of every live relation of
/// `endpoint_name`. A unit that published none yet is left out; one whose
/// value is refused is in [`Endpoints::refused`].
pub fn endpoints(model: &Model, endpoint_name: &str) -> Result<Endpoints, ModelError> {
    let mut found = Endpoints::default();
    let own_app = model.app().name();
    for relation in model.relations(endpoint_name)? {
        if !relation.active {
            continue;
        }
        for unit in &relation.units {
            if unit.split('/').next() == Some(own_app) {
                continue;
            }
            let Some(value) = model.remote_unit_data(&relation, unit).get(ENDPOINT_KEY)? else {
                continue;
            };
            match parse_endpoint(&value) {
                Ok(url) => {
                    found.urls.insert(unit.clone(), url);
                }
                Err(e) => found.refused.push((unit.clone(), e)),
            }
        }
    }
    Ok(found)
}

/// The label of the log forwarding layer in `container`.
pub fn layer_label(container: &str) -> String {
    format!("{container}-log-forwarding")
}

/// The target forwarding every service's logs to `url`.
pub fn log_target(url: &PushUrl, topology: &Topology) -> LogTarget {
    let labels = [
        ("product", "Juju".to_string()),
        ("charm", topology.charm_name.clone()),
        ("juju_model", topology.model.clone()),
        ("juju_model_uuid", topology.model_uuid.clone()),
        ("juju_application", topology.application.clone()),
        ("juju_unit", topology.unit.clone()),
        ("job", format!("juju_{}", topology.identifier())),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    LogTarget {
        type_: Some("loki".to_string()),
        location: Some(url.as_str().to_string()),
        services: vec!["all".to_string()],
        override_: Some(Override::Replace),
        labels,
    }
}

/// A target that forwards nothing (its Loki unit went).
pub fn disabled_target() -> LogTarget {
    LogTarget {
        type_: Some("loki".to_string()),
        location: Some(REMOVED_LOCATION.to_string()),
        services: vec!["-all".to_string()],
        override_: Some(Override::Replace),
        labels: BTreeMap::new(),
    }
}

/// Whether a target of the plan forwards anything.
pub fn is_enabled(target: &LogTarget) -> bool {
    target.type_.as_deref() == Some("loki") && !target.services.iter().any(|s| s == "-all")
}

/// The layer that makes `plan` forward to `endpoints` and to nothing else:
/// a target per endpoint, and every other enabled `loki` target of the
/// plan disabled. `None` when the plan already does.
pub fn forwarding_layer(endpoints: &Endpoints, plan: &Plan, topology: &Topology) -> Option<Layer> {
    let mut targets = BTreeMap::new();
    for (unit, url) in &endpoints.urls {
        let target = log_target(url, topology);
        if plan.log_targets.get(unit) != Some(&target) {
            targets.insert(unit.clone(), target);
        }
    }
    for (name, target) in &plan.log_targets {
        if !endpoints.urls.contains_key(name) && is_enabled(target) {
            targets.insert(name.clone(), disabled_target());
        }
    }
    (!targets.is_empty()).then(|| Layer {
        log_targets: targets,
        ..Default::default()
    })
}

/// The layer that makes Pebble forward to `endpoints` and stop forwarding
/// to the targets named in `previous` (those this charm enabled before)
/// that are not among them, without reading the plan: for a charm that
/// keeps the names it enabled (in its stored state), this spares the plan's
/// YAML parser in its binary and a Pebble request per hook. `None` when
/// there is nothing to add.
pub fn forwarding_layer_since<'a>(
    endpoints: &Endpoints,
    previous: impl IntoIterator<Item = &'a str>,
    topology: &Topology,
) -> Option<Layer> {
    let mut targets: BTreeMap<String, LogTarget> = endpoints
        .urls
        .iter()
        .map(|(unit, url)| (unit.clone(), log_target(url, topology)))
        .collect();
    for name in previous {
        if !endpoints.urls.contains_key(name) {
            targets.insert(name.to_string(), disabled_target());
        }
    }
    (!targets.is_empty()).then(|| Layer {
        log_targets: targets,
        ..Default::default()
    })
}

/// Makes `container` forward its services' logs to `endpoints` (and stop
/// forwarding to any other Loki); true if the plan changed. Pebble applies
/// log targets without a replan.
pub fn update_forwarding(
    container: &Container,
    endpoints: &Endpoints,
    topology: &Topology,
) -> Result<bool, PebbleError> {
    let plan = container.get_plan()?;
    match forwarding_layer(endpoints, &plan, topology) {
        Some(layer) => {
            container.add_layer(&layer_label(container.name()), &layer, true)?;
            Ok(true)
        }
        None => Ok(false),
    }
}

/// `metadata` and `alert_rules` of the requirer's app databag.
pub fn app_data(topology: &Topology) -> [(&'static str, String); 2] {
    [
        (METADATA_KEY, json::to_string(&topology.as_json())),
        (
            ALERT_RULES_KEY,
            json::to_string_sorted(&Value::object::<String>([])),
        ),
    ]
}

/// Leader: writes [`app_data`] on every live relation of `endpoint_name`
/// where it is not there yet.
pub fn publish_metadata(
    model: &Model,
    endpoint_name: &str,
    topology: &Topology,
) -> Result<(), ModelError> {
    if !model.is_leader()? {
        return Ok(());
    }
    let data = app_data(topology);
    for relation in model.relations(endpoint_name)? {
        if !relation.active {
            continue;
        }
        let bag = model.local_app_data(&relation);
        for (key, value) in &data {
            if bag.get(key)?.as_deref() != Some(value.as_str()) {
                bag.set(key, value)?;
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests;
