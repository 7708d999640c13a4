//! `pebble-workload`: a workload run by Pebble.
//!
//! On `workload-pebble-ready` and `config-changed` the charm reconciles the
//! container with its config:
//!
//! 1. renders the site (`/srv/site/index.html`) and pushes it only if it
//!    differs from what is there (read back with `pull`);
//! 2. adds its layer (`combine`, so the same layer again changes nothing):
//!    the `web` service, and an `up` HTTP check that Pebble runs itself
//!    (`on-check-failure: {up: restart}` restarts the service when it fails);
//! 3. restarts `web` if the file changed while it ran; otherwise replans,
//!    which starts it if it is not running and restarts it only if the
//!    layer changed (a new port).
//!
//! Status: blocked on a port that is not one, waiting while Pebble cannot be
//! reached, active with the port while the service runs.
//!
//! ops has no Pebble `exec`, so the example does not use one; nor does it
//! ask Pebble how its checks are doing (the client has no `/v1/checks`).

use std::collections::BTreeMap;

use ops::events::{CollectUnitStatus, ConfigChanged, PebbleReady};
use ops::pebble::{
    Check, CheckLevel, HttpCheck, Layer, Override, PushOptions, Service, ServiceAction,
    ServiceStartup,
};
use ops::{Charm, Container, Ctx, Framework, HandlerError, HandlerResult, Model, Outcome, Status};

/// The workload container.
pub const CONTAINER: &str = "workload";
/// The service in the layer.
pub const SERVICE: &str = "web";
/// The file the charm pushes.
pub const INDEX: &str = "/srv/site/index.html";

/// The charm.
pub struct PebbleWorkload;

impl Charm for PebbleWorkload {
    fn new(fw: &mut Framework<Self>) -> Result<Self, HandlerError> {
        fw.observe_container(CONTAINER, Self::on_pebble_ready)?
            .observe(Self::on_config_changed)?
            .observe(Self::on_collect_status)?;
        Ok(PebbleWorkload)
    }
}

/// The configured port, if it is one.
fn port(model: &Model) -> Result<Option<u16>, HandlerError> {
    let port = model.config()?.get::<i64>("port")?.unwrap_or(8080);
    Ok(u16::try_from(port).ok().filter(|p| *p > 0))
}

/// The page the server shows.
pub fn render_index(message: &str) -> String {
    let escaped = message
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;");
    format!("<!doctype html>\n<title>{escaped}</title>\n<h1>{escaped}</h1>\n")
}

/// The layer for a port: the service and its health check.
pub fn layer(port: u16) -> Layer {
    let service = Service {
        override_: Some(Override::Replace),
        summary: Some("a small web server".into()),
        command: Some(format!(
            "python3 -m http.server {port} --bind 127.0.0.1 --directory /srv/site"
        )),
        startup: Some(ServiceStartup::Enabled),
        on_check_failure: BTreeMap::from([("up".to_string(), ServiceAction::Restart)]),
        ..Default::default()
    };
    let check = Check {
        override_: Some(Override::Replace),
        level: Some(CheckLevel::Alive),
        period: Some("10s".into()),
        threshold: Some(3),
        http: Some(HttpCheck {
            url: Some(format!("http://127.0.0.1:{port}/")),
            ..Default::default()
        }),
        ..Default::default()
    };
    Layer {
        summary: Some("the web server and its health check".into()),
        services: BTreeMap::from([(SERVICE.to_string(), service)]),
        checks: BTreeMap::from([("up".to_string(), check)]),
        ..Default::default()
    }
}

/// Brings the container in line with the config.
fn reconcile(model: &Model, container: &Container) -> Result<(), HandlerError> {
    let Some(port) = port(model)? else {
        return Ok(()); // blocked; the status says why
    };
    let config = model.config()?;
    let index = render_index(
        config
            .get::<String>("message")?
            .as_deref()
            .unwrap_or("hello"),
    );
    let current = match container.pull(INDEX) {
        Ok(bytes) => Some(bytes),
        Err(e) if e.is_not_found() => None,
        Err(e) => return Err(e.into()),
    };
    let changed = current.as_deref() != Some(index.as_bytes());
    if changed {
        let options = PushOptions::new().with_make_dirs(true);
        container.push(INDEX, &index, &options)?;
    }
    container.add_layer("web-server", &layer(port), true)?;
    let running = container
        .get_services(&[SERVICE])?
        .first()
        .is_some_and(|s| s.is_running());
    if changed && running {
        ops::tracing::info!("{INDEX} changed: restarting {SERVICE}");
        container.restart_services(&[SERVICE])?;
    } else {
        container.replan_services()?;
    }
    Ok(())
}

impl PebbleWorkload {
    fn on_pebble_ready(&mut self, _: &PebbleReady, ctx: &mut Ctx) -> HandlerResult<Outcome> {
        let container = ctx.model().container(CONTAINER)?;
        reconcile(ctx.model(), &container)?;
        Ok(Outcome::Done)
    }

    fn on_config_changed(&mut self, _: &ConfigChanged, ctx: &mut Ctx) -> HandlerResult<Outcome> {
        let container = ctx.model().container(CONTAINER)?;
        if !container.can_connect() {
            // Nothing to do yet: pebble-ready will reconcile.
            return Ok(Outcome::Done);
        }
        reconcile(ctx.model(), &container)?;
        Ok(Outcome::Done)
    }

    fn on_collect_status(&mut self, _: &CollectUnitStatus, ctx: &mut Ctx) -> HandlerResult<Status> {
        let Some(port) = port(ctx.model())? else {
            return Ok(Status::blocked("port must be between 1 and 65535"));
        };
        let container = ctx.model().container(CONTAINER)?;
        if !container.can_connect() {
            return Ok(Status::waiting("waiting for Pebble"));
        }
        let running = container
            .get_services(&[SERVICE])?
            .first()
            .is_some_and(|s| s.is_running());
        Ok(if running {
            Status::active(format!("serving on port {port}"))
        } else {
            Status::waiting(format!("{SERVICE} is not running"))
        })
    }
}
