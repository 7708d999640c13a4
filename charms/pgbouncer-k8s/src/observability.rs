//! PgBouncer in Canonical's observability stack (COS): the metrics
//! exporter, and what the charm tells Prometheus, Grafana and Loki.
//!
//! - **Exporter**: prometheus-community's `pgbouncer_exporter`, which the
//!   workload image ships (as upstream's rock does), runs as the Pebble
//!   service [`EXPORTER_SERVICE`] in the layer [`EXPORTER_LAYER`], on port
//!   [`METRICS_PORT`], after every PgBouncer instance. It reads PgBouncer's
//!   admin console (`SHOW STATS`, `SHOW POOLS`…) as
//!   [`pgb_config::STATS_USER`], a user of `stats_users` only, whose
//!   password is kept in the application's secret like the others
//!   ([`crate::credentials`]). It is enabled once the backend relation is
//!   ready and the password is known, and stopped without a backend.
//!
//!   The connection string, which carries the password, reaches it by the
//!   environment variable [`CONNECTION_STRING_ENV`] of the service (the
//!   exporter reads the flag's value from it), not by its command line: a
//!   process's argv is readable by every user of the pod (`ps`), its
//!   environment only by its own user and root; and the exporter reads no
//!   password file in every version the image may ship. Pebble's plan,
//!   which holds it, is served on Pebble's socket, for root and the charm.
//! - **`metrics-endpoint`** ([`prometheus_scrape`]): a job on `*:9127`, the
//!   alert rules in `src/prometheus_alert_rules/` and the library's
//!   generic ones, each unit's address.
//! - **`grafana-dashboard`** ([`grafana_dashboard`]): the dashboard in
//!   `src/grafana_dashboards/`, compressed only when the relation exists.
//! - **`logging`** ([`loki_push_api`]): every Pebble service's output
//!   forwarded by Pebble to each Loki unit while the relation is there,
//!   and disabled when it goes.

use std::collections::{BTreeMap, BTreeSet};

use grafana_dashboard::{Dashboard, GrafanaDashboardProvider};
use juju_topology::Topology;
use ops::Model;
use ops::model::{Container, ModelError};
use ops::pebble::{Layer, Override, PebbleError, Service, ServiceStartup};
use prometheus_scrape::{AlertRules, MetricsEndpointProvider, ScrapeJob};

use crate::pgb_config;
use crate::workload::{SeenContainer, WORKLOAD_USER};

/// The exporter's port (the exporter's default, upstream's too).
pub const METRICS_PORT: u16 = 9127;
/// The exporter's Pebble service (upstream's name).
pub const EXPORTER_SERVICE: &str = "metrics_server";
/// The label of the exporter's layer.
pub const EXPORTER_LAYER: &str = "pgbouncer-exporter";
/// The variable the exporter takes its connection string from.
pub const CONNECTION_STRING_ENV: &str = "PGBOUNCER_EXPORTER_CONNECTION_STRING";
/// The `metrics-endpoint` endpoint.
pub const METRICS_ENDPOINT: &str = crate::meta::METRICS_ENDPOINT.name();
/// The `grafana-dashboard` endpoint.
pub const GRAFANA_DASHBOARD: &str = crate::meta::GRAFANA_DASHBOARD.name();
/// The `logging` endpoint.
pub const LOGGING: &str = crate::meta::LOGGING.name();
/// The charm's name, for the topology.
pub const CHARM_NAME: &str = "pgbouncer-k8s";

/// The alert rules shipped with the charm (JSON, which is YAML too, so the
/// Python library would read the same file).
pub const ALERT_RULES: &str = include_str!("prometheus_alert_rules/pgbouncer.rules");
/// The dashboard shipped with the charm.
pub const DASHBOARD: &str = include_str!("grafana_dashboards/pgbouncer.json");
/// Where the dashboard is in the charm (its uid derives from it).
pub const DASHBOARD_PATH: &str = "src/grafana_dashboards/pgbouncer.json";

/// The exporter's command line: no secret in it.
pub fn exporter_command() -> String {
    format!("pgbouncer_exporter --web.listen-address=:{METRICS_PORT}")
}

/// `postgresql://<stats user>:<password>@127.0.0.1:<port>/pgbouncer?sslmode=disable`,
/// the password percent-encoded.
pub fn connection_string(listen_port: u16, password: &str) -> String {
    let mut encoded = String::with_capacity(password.len());
    for b in password.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            encoded.push(char::from(b));
        } else {
            encoded.push_str(&format!("%{b:02X}"));
        }
    }
    format!(
        "postgresql://{}:{encoded}@127.0.0.1:{listen_port}/pgbouncer?sslmode=disable",
        pgb_config::STATS_USER
    )
}

/// The exporter's service: enabled, with its connection string, when
/// `password` is known and `enabled`; disabled otherwise (in the plan, so
/// that every unit shows it, but not started).
pub fn exporter_service(
    instances: usize,
    listen_port: u16,
    password: Option<&str>,
    enabled: bool,
) -> Service {
    let run = enabled && password.is_some();
    let environment = match password.filter(|_| run) {
        Some(password) => BTreeMap::from([(
            CONNECTION_STRING_ENV.to_string(),
            connection_string(listen_port, password),
        )]),
        None => BTreeMap::new(),
    };
    Service {
        override_: Some(Override::Replace),
        summary: Some("pgbouncer_exporter: PgBouncer's metrics for Prometheus".to_string()),
        command: Some(exporter_command()),
        startup: Some(if run {
            ServiceStartup::Enabled
        } else {
            ServiceStartup::Disabled
        }),
        after: (0..instances).map(|n| format!("pgbouncer_{n}")).collect(),
        user: Some(WORKLOAD_USER.to_string()),
        group: Some(WORKLOAD_USER.to_string()),
        environment,
        ..Default::default()
    }
}

/// Puts `service` in the plan (its layer is combined: the same service
/// changes nothing) and makes Pebble run it or not as its `startup` says:
/// a replan starts it, or restarts it if its definition changed, and
/// leaves it alone otherwise. The plan is not read (its YAML parser would
/// cost the binary 160 kB). Pebble errors are returned, for the caller to
/// log (never the service: it holds the password). Done once a dispatch
/// for the same service (`seen`).
pub fn apply_exporter(
    container: &Container,
    seen: &SeenContainer,
    service: &Service,
) -> Result<(), PebbleError> {
    let layer = Layer {
        summary: Some("pgbouncer exporter".to_string()),
        services: BTreeMap::from([(EXPORTER_SERVICE.to_string(), service.clone())]),
        ..Default::default()
    };
    if seen.has_layer(EXPORTER_LAYER, &layer) {
        // Put there, and started or stopped, earlier in this dispatch.
        return Ok(());
    }
    container.add_layer(EXPORTER_LAYER, &layer, true)?;
    if service.startup == Some(ServiceStartup::Enabled) {
        container.replan_services()?;
    } else if container
        .get_services(&[EXPORTER_SERVICE])?
        .into_iter()
        .any(|s| s.is_running())
    {
        container.stop_services(&[EXPORTER_SERVICE])?;
    }
    seen.record_layer(EXPORTER_LAYER, &layer);
    Ok(())
}

/// This unit's topology.
pub fn topology(model: &Model) -> Topology {
    Topology::of(model, CHARM_NAME)
}

/// The `metrics-endpoint` provider: the exporter's job and the rules.
pub fn metrics_provider(topology: &Topology) -> MetricsEndpointProvider {
    let mut rules = AlertRules::new(topology);
    if let Err(e) = rules.add_file("pgbouncer", ALERT_RULES) {
        // Shipped with the charm and tested: only a broken build gets here.
        tracing::error!("the charm's alert rules are invalid: {e}");
    }
    rules.add_generic();
    MetricsEndpointProvider::new(topology.clone(), vec![ScrapeJob::port(METRICS_PORT)], rules)
        .on_endpoint(METRICS_ENDPOINT)
}

/// Publishes the scrape job, metadata and rules (leader) and this unit's
/// address on every `metrics-endpoint` relation.
pub fn publish_metrics(model: &Model) -> Result<(), ModelError> {
    if model.relations(METRICS_ENDPOINT)?.is_empty() {
        return Ok(());
    }
    let fqdn = crate::peers::own_hostname(model);
    // As the library: the bind address, else the FQDN.
    let address = match model.network_get(METRICS_ENDPOINT) {
        Ok(network) => network.bind_address().map(str::to_string),
        Err(e) => {
            tracing::warn!("no bind address for {METRICS_ENDPOINT}, using the FQDN: {e}");
            None
        }
    }
    .unwrap_or_else(|| fqdn.clone());
    metrics_provider(&topology(model)).publish(model, &address, &fqdn)
}

/// Leader: publishes the dashboard on every `grafana-dashboard` relation
/// (compressed only then).
pub fn publish_dashboard(model: &Model) -> Result<(), ModelError> {
    if model.relations(GRAFANA_DASHBOARD)?.is_empty() {
        return Ok(());
    }
    let dashboard = match Dashboard::from_file("pgbouncer", DASHBOARD_PATH, DASHBOARD) {
        Ok(dashboard) => dashboard,
        Err(e) => {
            tracing::error!("the charm's dashboard is invalid: {e}");
            return Ok(());
        }
    };
    let provider = GrafanaDashboardProvider::new(topology(model), vec![dashboard])
        .on_endpoint(GRAFANA_DASHBOARD);
    match provider.publish(model) {
        Ok(_) => Ok(()),
        Err(grafana_dashboard::PublishError::Model(e)) => Err(e),
        Err(e) => {
            tracing::error!("the dashboard was not published: {e}");
            Ok(())
        }
    }
}

/// Makes Pebble forward the workload's logs to the related Loki units, and
/// stop forwarding to those in `enabled` (the ones this unit enabled
/// before) that went; `enabled` is then the units forwarded to. The leader
/// also publishes its topology. Loki units whose endpoint is refused are
/// logged (by name, never their URL). Pebble is left alone unless
/// `pebble_up` (what it answered in this dispatch).
pub fn update_logging(
    model: &Model,
    container: &Container,
    pebble_up: bool,
    enabled: &mut BTreeSet<String>,
) -> Result<(), ModelError> {
    let endpoints = loki_push_api::endpoints(model, LOGGING)?;
    for (unit, e) in &endpoints.refused {
        tracing::warn!("ignoring the Loki endpoint of {unit}: {e}");
    }
    let topology = topology(model);
    if pebble_up {
        let layer = loki_push_api::forwarding_layer_since(
            &endpoints,
            enabled.iter().map(String::as_str),
            &topology,
        );
        let applied = match layer {
            Some(layer) => container
                .add_layer(&loki_push_api::layer_label(container.name()), &layer, true)
                .map_err(|e| tracing::warn!("log forwarding not updated: {e}"))
                .is_ok(),
            None => true,
        };
        if applied {
            *enabled = endpoints.urls.keys().cloned().collect();
        }
    }
    loki_push_api::publish_metadata(model, LOGGING, &topology)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_password_is_in_the_environment_only_and_encoded() {
        let service = exporter_service(2, 6432, Some("p@ss/w:rd"), true);
        assert_eq!(service.startup, Some(ServiceStartup::Enabled));
        assert_eq!(
            service.environment[CONNECTION_STRING_ENV],
            "postgresql://juju_stats:p%40ss%2Fw%3Ard@127.0.0.1:6432/pgbouncer?sslmode=disable"
        );
        assert_eq!(
            service.command.as_deref(),
            Some("pgbouncer_exporter --web.listen-address=:9127")
        );
        assert_eq!(service.after, ["pgbouncer_0", "pgbouncer_1"]);
    }

    #[test]
    fn without_a_password_or_a_backend_the_exporter_is_disabled() {
        for service in [
            exporter_service(1, 6432, None, true),
            exporter_service(1, 6432, Some("pw"), false),
        ] {
            assert_eq!(service.startup, Some(ServiceStartup::Disabled));
            assert!(service.environment.is_empty());
        }
    }

    #[test]
    fn the_shipped_rules_and_dashboard_are_valid() {
        let topology = Topology {
            model: "m".into(),
            model_uuid: "0b7d1071-ded2-4bf5-80a3-10a81aeb1386".into(),
            application: "pgbouncer-k8s".into(),
            unit: "pgbouncer-k8s/0".into(),
            charm_name: CHARM_NAME.into(),
        };
        let mut rules = AlertRules::new(&topology);
        rules.add_file("pgbouncer", ALERT_RULES).unwrap();
        let text = juju_topology::json::to_string(&rules.as_json());
        for alert in [
            "PgBouncerDown",
            "PgBouncerClientsWaiting",
            "PgBouncerPoolSaturated",
        ] {
            assert!(text.contains(alert), "{alert}");
        }
        assert!(!text.contains("%%juju_topology%%"));
        Dashboard::from_file("pgbouncer", DASHBOARD_PATH, DASHBOARD).unwrap();
    }
}
