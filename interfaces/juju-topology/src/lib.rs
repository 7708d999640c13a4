//! The Juju topology of a unit, and JSON written byte for byte as Python's
//! `json.dumps` writes it: what the observability interface crates
//! (`prometheus-scrape`, `grafana-dashboard`, `loki-push-api`) share.
//!
//! The topology is what Canonical's `cosl.JujuTopology` carries: the
//! model's name and UUID, the application, the unit and the charm's name.
//! Its forms are those of `cosl`: [`Topology::as_json`] (`as_dict`, keys in
//! the order `model`, `model_uuid`, `application`, `unit`, `charm_name`),
//! [`Topology::identifier`] (`<model>_<uuid first 8>_<application>`) and
//! [`Topology::label_matchers`] (`juju_model`, `juju_model_uuid`,
//! `juju_application`, `juju_charm`, empty values left out).
//!
//! ```
//! use juju_topology::Topology;
//!
//! let topology = Topology {
//!     model: "db".into(),
//!     model_uuid: "0b7d1071-ded2-4bf5-80a3-10a81aeb1386".into(),
//!     application: "pgbouncer-k8s".into(),
//!     unit: "pgbouncer-k8s/0".into(),
//!     charm_name: "pgbouncer-k8s".into(),
//! };
//! assert_eq!(topology.identifier(), "db_0b7d1071_pgbouncer-k8s");
//! assert_eq!(
//!     juju_topology::json::to_string(&topology.as_json()),
//!     r#"{"model": "db", "model_uuid": "0b7d1071-ded2-4bf5-80a3-10a81aeb1386", "application": "pgbouncer-k8s", "unit": "pgbouncer-k8s/0", "charm_name": "pgbouncer-k8s"}"#
//! );
//! ```

#![deny(missing_docs)]

pub mod json;

use json::Value;

/// Where a unit is: model, application, unit and charm.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Topology {
    /// The model's name.
    pub model: String,
    /// The model's UUID (`JUJU_MODEL_UUID`).
    pub model_uuid: String,
    /// The application's name.
    pub application: String,
    /// The unit's name, `<application>/<n>`.
    pub unit: String,
    /// The charm's name (its metadata's `name`).
    pub charm_name: String,
}

impl Topology {
    /// The topology of this unit: model, application and unit from `model`;
    /// the model's UUID from `JUJU_MODEL_UUID` (empty outside a hook).
    pub fn of(model: &ops::Model, charm_name: &str) -> Self {
        Self {
            model: model.name().to_string(),
            model_uuid: std::env::var("JUJU_MODEL_UUID").unwrap_or_default(),
            application: model.app().name().to_string(),
            unit: model.unit().name().to_string(),
            charm_name: charm_name.to_string(),
        }
    }

    /// The first 8 characters of the model's UUID.
    pub fn model_uuid_short(&self) -> &str {
        let end = self
            .model_uuid
            .char_indices()
            .nth(8)
            .map_or(self.model_uuid.len(), |(i, _)| i);
        &self.model_uuid[..end]
    }

    /// `cosl`'s `as_dict()`: model, model_uuid, application, unit, charm_name.
    pub fn as_json(&self) -> Value {
        Value::object([
            ("model", Value::from(self.model.as_str())),
            ("model_uuid", Value::from(self.model_uuid.as_str())),
            ("application", Value::from(self.application.as_str())),
            ("unit", Value::from(self.unit.as_str())),
            ("charm_name", Value::from(self.charm_name.as_str())),
        ])
    }

    /// `cosl`'s `identifier`: `<model>_<uuid first 8>_<application>`, any
    /// `/` made `_`.
    pub fn identifier(&self) -> String {
        format!(
            "{}_{}_{}",
            self.model,
            self.model_uuid_short(),
            self.application
        )
        .replace('/', "_")
    }

    /// `cosl`'s `label_matcher_dict`: the `juju_` labels of every metric
    /// and alert of the application (no unit), empty values left out.
    pub fn label_matchers(&self) -> Vec<(&'static str, &str)> {
        [
            ("juju_model", self.model.as_str()),
            ("juju_model_uuid", self.model_uuid.as_str()),
            ("juju_application", self.application.as_str()),
            ("juju_charm", self.charm_name.as_str()),
        ]
        .into_iter()
        .filter(|(_, value)| !value.is_empty())
        .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn topology() -> Topology {
        Topology {
            model: "m/x".into(),
            model_uuid: "abcdef0123456789".into(),
            application: "app".into(),
            unit: "app/3".into(),
            charm_name: String::new(),
        }
    }

    #[test]
    fn identifier_crops_the_uuid_and_replaces_slashes() {
        assert_eq!(topology().identifier(), "m_x_abcdef01_app");
        let short = Topology {
            model_uuid: "abc".into(),
            ..topology()
        };
        assert_eq!(short.identifier(), "m_x_abc_app");
    }

    #[test]
    fn label_matchers_leave_out_the_unit_and_empty_values() {
        assert_eq!(
            topology().label_matchers(),
            [
                ("juju_model", "m/x"),
                ("juju_model_uuid", "abcdef0123456789"),
                ("juju_application", "app")
            ]
        );
    }
}
