//! `observed`: a workload in Canonical's observability stack, with the
//! interface crates. Prometheus scrapes every unit on port 8080 and gets one
//! alert rule ([`prometheus_scrape`]); Grafana gets its dashboard
//! ([`grafana_dashboard`]); Pebble forwards the workload's logs to each
//! related Loki unit ([`loki_push_api`]).

use grafana_dashboard::{Dashboard, GrafanaDashboardProvider};
use juju_topology::Topology;
use ops::events::{PebbleReady, RelationBroken, RelationChanged, RelationJoined};
use ops::{Charm, Ctx, Framework, HandlerError, HandlerResult, Model};
use prometheus_scrape::{AlertRules, MetricsEndpointProvider, ScrapeJob};

/// The workload container.
pub const CONTAINER: &str = "workload";
/// The port the workload serves its metrics on.
pub const METRICS_PORT: u16 = 8080;
/// The charm's one alert rule (JSON, the libraries' rule format).
pub const ALERT_RULE: &str = r#"{"alert": "WorkloadDown", "expr": "up{%%juju_topology%%} < 1", "for": "5m", "labels": {"severity": "critical"}}"#;

/// The dashboard shipped with the charm.
pub const DASHBOARD: &str = include_str!("grafana_dashboards/workload.json");
/// Where the dashboard is in the charm: its uid derives from the path.
pub const DASHBOARD_PATH: &str = "src/grafana_dashboards/workload.json";

/// The charm.
pub struct Observed;

impl Charm for Observed {
    fn new(fw: &mut Framework<Self>) -> Result<Self, HandlerError> {
        fw.observe_container(CONTAINER, Self::on_pebble_ready)?
            .observe_relation("metrics-endpoint", Self::on_metrics_joined)?
            .observe_relation("grafana-dashboard", Self::on_dashboard_joined)?
            .observe_relation("logging", Self::on_logging_changed)?
            .observe_relation("logging", Self::on_logging_broken)?;
        Ok(Observed)
    }
}

impl Observed {
    fn topology(model: &Model) -> Topology {
        Topology::of(model, "observed")
    }

    fn publish_metrics(model: &Model) -> HandlerResult {
        let topology = Self::topology(model);
        let mut rules = AlertRules::new(&topology);
        rules.add_file("workload", ALERT_RULE)?;
        let address = model
            .network_get("metrics-endpoint")?
            .bind_address()
            .unwrap_or_default()
            .to_string();
        MetricsEndpointProvider::new(topology, vec![ScrapeJob::port(METRICS_PORT)], rules)
            .publish(model, &address, &address)?;
        Ok(())
    }

    /// The leader's: compressed only here, where a relation wants it.
    fn publish_dashboard(model: &Model) -> HandlerResult {
        let dashboard = Dashboard::from_file("workload", DASHBOARD_PATH, DASHBOARD)?;
        GrafanaDashboardProvider::new(Self::topology(model), vec![dashboard]).publish(model)?;
        Ok(())
    }

    fn forward_logs(model: &Model) -> HandlerResult {
        let container = model.container(CONTAINER)?;
        let endpoints = loki_push_api::endpoints(model, "logging")?;
        if container.can_connect() {
            loki_push_api::update_forwarding(&container, &endpoints, &Self::topology(model))?;
        }
        Ok(())
    }

    fn on_pebble_ready(&mut self, _: &PebbleReady, ctx: &mut Ctx) -> HandlerResult {
        Self::publish_metrics(ctx.model())?;
        Self::forward_logs(ctx.model())
    }

    fn on_metrics_joined(&mut self, _: &RelationJoined, ctx: &mut Ctx) -> HandlerResult {
        Self::publish_metrics(ctx.model())
    }

    fn on_dashboard_joined(&mut self, _: &RelationJoined, ctx: &mut Ctx) -> HandlerResult {
        Self::publish_dashboard(ctx.model())
    }

    fn on_logging_changed(&mut self, _: &RelationChanged, ctx: &mut Ctx) -> HandlerResult {
        Self::forward_logs(ctx.model())
    }

    fn on_logging_broken(&mut self, _: &RelationBroken, ctx: &mut Ctx) -> HandlerResult {
        Self::forward_logs(ctx.model())
    }
}
