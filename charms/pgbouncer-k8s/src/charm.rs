//! The charm: which events it observes, and what it does on each.
//!
//! Two facts of Juju on Kubernetes shape it (see `docs/pgbouncer-k8s.md`,
//! "What happens when…"):
//! - the workload container's files go with the pod (churn, `juju refresh`):
//!   the peer app databag and Juju's unit state are the charm's memory, so
//!   the leader restores its files from the databag before anything else;
//! - a unit that is being removed runs `relation-departed` and
//!   `relation-broken` for every relation while still the leader: those do
//!   not mean the relation is going, so a departing unit never tears down
//!   application-wide state.

use ops::events::{
    CollectUnitStatus, ConfigChanged, LeaderElected, PebbleReady, RelationBroken, RelationChanged,
    RelationCreated, RelationDeparted, RelationJoined, SecretExpired, SecretRemove, Start,
    UpdateStatus, UpgradeCharm,
};
use ops::model::{Container, ModelError};
use ops::{
    Charm, Ctx, Framework, HandlerError, HandlerResult, Model, Outcome, Status, StoredState,
};

use crate::answers;
use crate::backend_db::{self, BackendStep};
use crate::backend_info::{BACKEND, BackendState};
use crate::client::{self, CLIENT};
use crate::client_tls::{self, CERTIFICATES};
use crate::credentials::CredentialsError;
use crate::error::StepError;
use crate::memory::Memory;
use crate::meta;
use crate::observability;
use crate::peer_relation;
use crate::peers::{self, CFG_FILE};
use crate::pgb_config;
use crate::probe;
use crate::serve;
use crate::service;
use crate::situation::Situation;
use crate::workload::{CONTAINER, Pending, SeenContainer, Workload};

/// The status a follower shows once it saw the leader's unit go.
pub const LEADER_REMOVED: &str = "Leader unit removed - waiting for leader_elected event";
/// The status while the backend relation exists but has given no credentials.
pub const BACKEND_NOT_READY: &str = "backend database relation not ready";
/// The status without a backend relation.
pub const NO_BACKEND: &str = "waiting for backend database relation";
/// A follower's status until the leader shared its config.
pub const WAITING_FOR_LEADER: &str = "waiting for the leader's config";

/// The pgbouncer-k8s charm.
pub struct PgbouncerK8sCharm {
    memory: StoredState<Memory>,
    instances: usize,
    /// What update-status just asked Pebble, for the collect-status of the
    /// same dispatch (which takes it): update-status runs on every unit
    /// every few minutes, and asking twice doubled its Pebble requests.
    seen: Seen,
}

/// Pebble's answers in this dispatch, taken by collect-status.
#[derive(Debug, Default)]
struct Seen {
    /// Whether Pebble answered (asked once a dispatch, by the first
    /// handler that needs to know).
    pebble_up: Option<bool>,
    /// The instances that were not running.
    stopped: Option<Vec<String>>,
    /// The workload container as this dispatch read or changed it.
    container: SeenContainer,
}

impl Seen {
    /// Whether Pebble in `container` answers, asked once a dispatch: each
    /// ask is a request to Pebble, and a dispatch's handlers (the deferred
    /// ones re-emitted, then the hook's) run within moments of each other.
    fn pebble_up(&mut self, container: &Container) -> bool {
        *self
            .pebble_up
            .get_or_insert_with(|| container.can_connect())
    }
}

impl Charm for PgbouncerK8sCharm {
    fn new(fw: &mut Framework<Self>) -> Result<Self, HandlerError> {
        let memory = fw.stored_state("memory")?;
        // Typed items from charmcraft.yaml (build.rs): a misspelt name does not compile.
        fw.observe_container(meta::containers::PGBOUNCER, Self::on_pebble_ready)?
            .observe_container(meta::containers::PGBOUNCER, Self::on_pebble_ready_configure)?
            .observe(Self::on_start)?
            .observe(Self::on_upgrade_charm)?
            .observe(Self::on_config_changed)?
            .observe(Self::on_update_status)?
            .observe(Self::on_leader_elected)?
            .observe_relation(meta::PGB_PEERS, Self::on_peers_created)?
            .observe_relation(meta::PGB_PEERS, Self::on_peers_joined)?
            .observe_relation(meta::PGB_PEERS, Self::on_peers_changed)?
            .observe_relation(meta::PGB_PEERS, Self::on_peers_departed)?
            .observe_relation(meta::BACKEND_DATABASE, Self::on_backend_changed)?
            .observe_relation(meta::BACKEND_DATABASE, Self::on_backend_departed)?
            .observe_relation(meta::BACKEND_DATABASE, Self::on_backend_broken)?
            .observe_relation(meta::DATABASE, Self::on_client_changed)?
            .observe_relation(meta::DATABASE, Self::on_client_departed)?
            .observe_relation(meta::DATABASE, Self::on_client_broken)?
            .observe_relation(meta::METRICS_ENDPOINT, Self::on_metrics_joined)?
            .observe_relation(meta::METRICS_ENDPOINT, Self::on_metrics_changed)?
            .observe_relation(meta::GRAFANA_DASHBOARD, Self::on_dashboard_joined)?
            .observe_relation(meta::LOGGING, Self::on_logging_joined)?
            .observe_relation(meta::LOGGING, Self::on_logging_changed)?
            .observe_relation(meta::LOGGING, Self::on_logging_departed)?
            .observe_relation(meta::LOGGING, Self::on_logging_broken)?
            .observe_relation(meta::CERTIFICATES, Self::on_certificates_created)?
            .observe_relation(meta::CERTIFICATES, Self::on_certificates_changed)?
            .observe_relation(meta::CERTIFICATES, Self::on_certificates_broken)?
            .observe(Self::on_secret_expired)?
            .observe(Self::on_secret_remove)?
            .observe(Self::on_collect_unit_status)?;
        Ok(Self {
            memory,
            instances: pgb_config::instance_count(pgb_config::available_cpus()),
            seen: Seen::default(),
        })
    }
}

impl PgbouncerK8sCharm {
    /// A new or restarted workload container: its plan's log targets, its
    /// metrics address, and the workload version from its PgBouncer (asked
    /// here, once per container start: a refresh with a new image comes
    /// with a pebble-ready). Never deferred, so that a pebble-ready Juju
    /// re-emits (a follower waiting for the leader's files) runs
    /// [`on_pebble_ready_configure`](Self::on_pebble_ready_configure)
    /// alone and does not ask PgBouncer again in every hook.
    fn on_pebble_ready(&mut self, _: &PebbleReady, ctx: &mut Ctx) -> HandlerResult<()> {
        let model = ctx.model();
        let container = Situation::container(model)?;
        // A new container has a new plan (no log target) and maybe a new
        // address.
        self.forward_logs(model, &container)?;
        observability::publish_metrics(model)?;
        match self.workload(&container).version() {
            Ok(version) if self.memory.get().workload_version.as_ref() != Some(&version) => {
                model.set_workload_version(&version)?;
                self.memory.get_mut().workload_version = Some(version);
            }
            Ok(_) => {}
            Err(e) => tracing::debug!("no PgBouncer version yet: {e}"),
        }
        Ok(())
    }

    /// Then the container is configured: observed after
    /// [`on_pebble_ready`](Self::on_pebble_ready), so that the files are
    /// written for this PgBouncer (settings an older one refuses are left
    /// out). Deferred while they cannot be.
    fn on_pebble_ready_configure(
        &mut self,
        _: &PebbleReady,
        ctx: &mut Ctx,
    ) -> HandlerResult<Outcome> {
        self.configure_workload(ctx.model())
    }

    fn on_start(&mut self, _: &Start, ctx: &mut Ctx) -> HandlerResult<Outcome> {
        self.configure_workload(ctx.model())
    }

    fn on_upgrade_charm(&mut self, _: &UpgradeCharm, ctx: &mut Ctx) -> HandlerResult<Outcome> {
        let model = ctx.model();
        let outcome = self.configure_workload(model)?;
        // A new revision may ship new rules or a new dashboard.
        observability::publish_metrics(model)?;
        observability::publish_dashboard(model)?;
        Ok(outcome)
    }

    fn on_config_changed(&mut self, _: &ConfigChanged, ctx: &mut Ctx) -> HandlerResult<Outcome> {
        let model = ctx.model();
        let (container, situation) = self.situation(model)?;
        if !situation.leader {
            // Followers take their config from the leader, through pgb-peers.
            return Ok(Outcome::Done);
        }
        let outcome = self.configure(model, &container, &situation)?;
        // listen_port reaches every client.
        let answered =
            answers::update_connection_info(model, &mut self.memory.get_mut(), &situation);
        self.settle(answered.map(|()| outcome))
    }

    /// The workload in `container`, sharing what this dispatch's handlers
    /// already read from it.
    fn workload<'c>(&self, container: &'c Container) -> Workload<'c> {
        Workload::new(container, self.instances, self.seen.container.clone())
    }

    /// The workload container and this handler's situation, asked once.
    fn situation(&mut self, model: &Model) -> Result<(Container, Situation), ModelError> {
        let container = Situation::container(model)?;
        let pebble_up = self.seen.pebble_up(&container);
        let situation = Situation::of(model, &mut self.memory.get_mut(), pebble_up)?;
        Ok((container, situation))
    }

    /// A restart or reload that failed is retried here until it succeeds;
    /// and, once PgBouncer runs for a ready backend, whether it answers.
    fn on_update_status(&mut self, _: &UpdateStatus, ctx: &mut Ctx) -> HandlerResult {
        let model = ctx.model();
        let container = model.container(CONTAINER)?;
        if !self.seen.pebble_up(&container) {
            return Ok(());
        }
        let workload = self.workload(&container);
        let settled = {
            let memory = self.memory.get();
            memory.pending == Pending::None && memory.reload_failure.is_none()
        };
        if !settled {
            // A failure is logged and kept for the next hook.
            if serve::take(&mut self.memory.get_mut(), &workload).is_ok() {
                // PgBouncer took what an earlier hook wrote (a new port?):
                // the exporter follows.
                self.ensure_exporter(model, &container)?;
            }
        }
        let serving = self.memory.get_mut().backend_info(model)?.is_some() && {
            let stopped = workload.stopped_services();
            let none_stopped = matches!(&stopped, Ok(stopped) if stopped.is_empty());
            self.seen.stopped = stopped.ok();
            none_stopped
        };
        let unanswered = if serving {
            let port = self
                .memory
                .get_mut()
                .settings_or_default(model)?
                .listen_port;
            probe::answers(port).err()
        } else {
            None
        };
        self.memory.get_mut().unanswered = unanswered;
        self.retry_revocations(model)
    }

    /// Leader: revokes the users of client relations that went and could not
    /// be revoked then (kept, and shown in the status, until they are).
    fn retry_revocations(&mut self, model: &Model) -> HandlerResult {
        let mut memory = self.memory.get_mut();
        if memory.unrevoked.is_empty() || memory.departing || !model.is_leader()? {
            return Ok(());
        }
        let (Some(backend), Some(peers)) = (memory.backend_info(model)?, peers::relation(model)?)
        else {
            return Ok(());
        };
        match client::revoke_departed(model, &mut memory, &peers, &backend) {
            Ok(()) => Ok(()),
            Err(StepError::Model(e)) => Err(e.into()),
            Err(e) => {
                tracing::warn!("revocations not finished: {e}");
                Ok(())
            }
        }
    }

    /// Leader: render the files (restoring them from the peer databag
    /// first), write and share them. Follower: take the leader's files, or
    /// wait for them. Then make Pebble run every instance.
    fn configure_workload(&mut self, model: &Model) -> HandlerResult<Outcome> {
        let (container, situation) = self.situation(model)?;
        self.configure(model, &container, &situation)
    }

    fn configure(
        &mut self,
        model: &Model,
        container: &Container,
        situation: &Situation,
    ) -> HandlerResult<Outcome> {
        if let Some(invalid) = &situation.settings.invalid {
            tracing::warn!("keeping the last valid settings: {invalid}");
        }
        if situation.settings.settings.is_none() {
            return Ok(Outcome::Done);
        }
        if !situation.pebble_up {
            tracing::info!("Pebble in {CONTAINER} is not ready; deferring");
            return Ok(Outcome::Defer);
        }
        let workload = self.workload(container);
        let mut memory = self.memory.get_mut();
        if let Some(settings) = &situation.settings.settings {
            // Every unit: PgBouncer's port on the application's Service.
            service::open_listen_port(model, &mut memory, settings.listen_port)?;
        }
        if memory.client_tls_ca.is_some() {
            // A new pod has none of the TLS files this unit served with:
            // back before the config that turns TLS on is written.
            if let Err(e) = client_tls::sync_files(model, &mut memory, &workload) {
                drop(memory);
                return self.settle(Err(e));
            }
        }
        let result = if situation.leader {
            serve::leader(model, &mut memory, &workload).map(|()| Outcome::Done)
        } else {
            let Some(peers) = &situation.peers else {
                return Ok(Outcome::Defer);
            };
            match serve::follower(model, &mut memory, peers, &workload) {
                Ok(true) => Ok(Outcome::Done),
                Ok(false) => {
                    tracing::info!("the leader has not shared its config yet; deferring");
                    Ok(Outcome::Defer)
                }
                Err(e) => Err(e),
            }
        };
        drop(memory);
        let outcome = self.settle(result)?;
        if outcome == Outcome::Done {
            self.ensure_exporter(model, container)?;
        }
        Ok(outcome)
    }

    /// Puts the exporter in the plan: running, with the stats user's
    /// password, while the backend is ready; stopped otherwise. A Pebble
    /// failure is logged (the next hook that serves tries again).
    fn ensure_exporter(&mut self, model: &Model, container: &Container) -> HandlerResult {
        if !self.seen.pebble_up(container) {
            return Ok(());
        }
        let listen_port = self
            .memory
            .get_mut()
            .settings_or_default(model)?
            .listen_port;
        let password = match peers::relation(model)? {
            Some(peers) => match self.memory.get_mut().credentials(model, &peers) {
                Ok(credentials) => credentials.stats_password.clone(),
                Err(CredentialsError::Model(e)) => return Err(e.into()),
                Err(e) => {
                    tracing::warn!("exporter: {e}");
                    None
                }
            },
            None => None,
        };
        let ready = self.memory.get_mut().backend_info(model)?.is_some();
        let service = observability::exporter_service(
            self.instances,
            listen_port,
            password.as_deref(),
            ready,
        );
        if let Err(e) = observability::apply_exporter(container, &self.seen.container, &service) {
            tracing::warn!("the exporter's service was not updated: {e}");
        }
        Ok(())
    }

    fn on_metrics_joined(&mut self, _: &RelationJoined, ctx: &mut Ctx) -> HandlerResult {
        Ok(observability::publish_metrics(ctx.model())?)
    }

    fn on_metrics_changed(&mut self, _: &RelationChanged, ctx: &mut Ctx) -> HandlerResult {
        Ok(observability::publish_metrics(ctx.model())?)
    }

    fn on_dashboard_joined(&mut self, _: &RelationJoined, ctx: &mut Ctx) -> HandlerResult {
        Ok(observability::publish_dashboard(ctx.model())?)
    }

    fn on_logging_joined(&mut self, _: &RelationJoined, ctx: &mut Ctx) -> HandlerResult {
        self.update_logging(ctx.model())
    }

    fn on_logging_changed(&mut self, _: &RelationChanged, ctx: &mut Ctx) -> HandlerResult {
        self.update_logging(ctx.model())
    }

    fn on_logging_departed(&mut self, _: &RelationDeparted, ctx: &mut Ctx) -> HandlerResult {
        self.update_logging(ctx.model())
    }

    fn on_logging_broken(&mut self, _: &RelationBroken, ctx: &mut Ctx) -> HandlerResult {
        self.update_logging(ctx.model())
    }

    fn update_logging(&mut self, model: &Model) -> HandlerResult {
        let container = Situation::container(model)?;
        Ok(self.forward_logs(model, &container)?)
    }

    /// [`observability::update_logging`] with what this dispatch knows of
    /// Pebble and the targets it forwarded to before.
    fn forward_logs(&mut self, model: &Model, container: &Container) -> Result<(), ModelError> {
        let pebble_up = self.seen.pebble_up(container);
        observability::update_logging(
            model,
            container,
            pebble_up,
            &mut self.memory.get_mut().loki_targets,
        )
    }

    fn on_certificates_created(
        &mut self,
        _: &RelationCreated,
        ctx: &mut Ctx,
    ) -> HandlerResult<Outcome> {
        self.sync_client_tls(ctx.model())
    }

    fn on_certificates_changed(
        &mut self,
        _: &RelationChanged,
        ctx: &mut Ctx,
    ) -> HandlerResult<Outcome> {
        self.sync_client_tls(ctx.model())
    }

    fn on_certificates_broken(
        &mut self,
        _: &RelationBroken,
        ctx: &mut Ctx,
    ) -> HandlerResult<Outcome> {
        self.sync_client_tls(ctx.model())
    }

    /// The `certificates` relation's hooks: this unit's TLS files, PgBouncer
    /// reloaded, clients told (leader).
    fn sync_client_tls(&mut self, model: &Model) -> HandlerResult<Outcome> {
        let (container, situation) = self.situation(model)?;
        if !situation.pebble_up {
            // The CSR goes out now; the files wait for Pebble.
            if let Err(tls_certificates::TlsError::Model(e)) =
                client_tls::requirer(model).sync(model)
            {
                return Err(e.into());
            }
            tracing::info!("Pebble in {CONTAINER} is not ready: TLS files deferred");
            return Ok(Outcome::Defer);
        }
        let workload = self.workload(&container);
        let result =
            client_tls::on_changed(model, &mut self.memory.get_mut(), &situation, &workload);
        self.settle(result.map(|()| Outcome::Done))
    }

    /// A certificate's secret expired: a new CSR (renewal).
    fn on_secret_expired(&mut self, event: &SecretExpired, ctx: &mut Ctx) -> HandlerResult {
        Ok(client_tls::on_secret_expired(
            ctx.model(),
            event.label.as_deref(),
        )?)
    }

    /// An old revision of a TLS secret is no longer tracked: removed.
    fn on_secret_remove(&mut self, event: &SecretRemove, ctx: &mut Ctx) -> HandlerResult {
        Ok(client_tls::on_secret_remove(
            ctx.model(),
            &event.id,
            event.label.as_deref(),
            event.revision,
        )?)
    }

    fn on_leader_elected(&mut self, _: &LeaderElected, ctx: &mut Ctx) -> HandlerResult<Outcome> {
        let model = ctx.model();
        self.memory.get_mut().departed_leader = None;
        let (container, situation) = self.situation(model)?;
        let outcome = self.configure(model, &container, &situation)?;
        let answered =
            answers::update_connection_info(model, &mut self.memory.get_mut(), &situation);
        // The new leader speaks for the application.
        observability::publish_metrics(model)?;
        observability::publish_dashboard(model)?;
        self.forward_logs(model, &container)?;
        self.settle(answered.map(|()| outcome))
    }

    fn on_peers_created(&mut self, _: &RelationCreated, ctx: &mut Ctx) -> HandlerResult<Outcome> {
        let model = ctx.model();
        let container = Situation::container(model)?;
        let workload = self.workload(&container);
        let mut memory = self.memory.get_mut();
        let situation = Situation::of(model, &mut memory, self.seen.pebble_up(&container))?;
        let result = peer_relation::on_created(model, &mut memory, &situation, &workload);
        drop(memory);
        self.settle(result)
    }

    fn on_peers_joined(&mut self, _: &RelationJoined, ctx: &mut Ctx) -> HandlerResult<Outcome> {
        self.sync_peers(ctx.model())
    }

    fn on_peers_changed(&mut self, _: &RelationChanged, ctx: &mut Ctx) -> HandlerResult<Outcome> {
        self.sync_peers(ctx.model())
    }

    /// relation-joined and relation-changed of pgb-peers.
    fn sync_peers(&mut self, model: &Model) -> HandlerResult<Outcome> {
        let container = Situation::container(model)?;
        let workload = self.workload(&container);
        let mut memory = self.memory.get_mut();
        let situation = Situation::of(model, &mut memory, self.seen.pebble_up(&container))?;
        let result = peer_relation::on_joined_or_changed(model, &mut memory, &situation, &workload);
        drop(memory);
        let outcome = self.settle(result)?;
        // A follower learns the stats user's password from the secret (the
        // leader does not touch its workload here).
        if outcome == Outcome::Done && !situation.leader {
            self.ensure_exporter(model, &container)?;
        }
        Ok(outcome)
    }

    /// Remembers that this unit is being removed, when it sees itself as the
    /// departing unit (Juju does not say so in relation-broken).
    fn note_departing(&mut self, model: &Model, departing_unit: Option<&str>) {
        if departing_unit == Some(model.unit().name()) && !self.memory.get().departing {
            tracing::info!("this unit is being removed: application-wide state is left alone");
            self.memory.get_mut().departing = true;
        }
    }

    fn on_peers_departed(&mut self, event: &RelationDeparted, ctx: &mut Ctx) -> HandlerResult {
        let model = ctx.model();
        self.note_departing(model, event.departing_unit.as_deref());
        if self.memory.get().departing {
            return Ok(());
        }
        let container = Situation::container(model)?;
        let mut memory = self.memory.get_mut();
        let situation = Situation::of(model, &mut memory, self.seen.pebble_up(&container))?;
        let departed = event.departing_unit.as_deref().or(event.unit.as_deref());
        let result = peer_relation::on_departed(model, &mut memory, &situation, departed);
        drop(memory);
        // Shown as Waiting; the next hook that answers clients retries.
        let _ = self.settle(result.map(|()| Outcome::Done))?;
        Ok(())
    }

    fn on_backend_departed(&mut self, event: &RelationDeparted, ctx: &mut Ctx) -> HandlerResult {
        let model = ctx.model();
        self.note_departing(model, event.departing_unit.as_deref());
        let (container, situation) = self.situation(model)?;
        let workload = self.workload(&container);
        let result = backend_db::on_departed(
            model,
            &mut self.memory.get_mut(),
            &situation,
            event.relation.id,
            &workload,
        );
        match result {
            Err(StepError::Model(e)) => Err(e.into()),
            Err(e) => {
                tracing::warn!("auth user cleanup: {e}");
                Ok(())
            }
            Ok(()) => Ok(()),
        }
    }

    fn on_client_departed(&mut self, event: &RelationDeparted, ctx: &mut Ctx) -> HandlerResult {
        let model = ctx.model();
        self.note_departing(model, event.departing_unit.as_deref());
        Ok(())
    }

    /// A step's result: a database or Pebble failure is shown as Waiting
    /// (saying why) and the event deferred, never a failed hook.
    fn settle(&mut self, result: Result<Outcome, StepError>) -> HandlerResult<Outcome> {
        match result {
            Ok(outcome) => {
                self.memory.get_mut().backend_waiting = None;
                Ok(outcome)
            }
            Err(StepError::Model(e)) => Err(e.into()),
            Err(e) => {
                tracing::warn!("deferring: {e}");
                self.memory.get_mut().backend_waiting = Some(e.to_string());
                Ok(Outcome::Defer)
            }
        }
    }

    /// The backend's side first (the auth user), then the clients'.
    fn on_backend_changed(&mut self, _: &RelationChanged, ctx: &mut Ctx) -> HandlerResult<Outcome> {
        let model = ctx.model();
        let (container, situation) = self.situation(model)?;
        if !situation.pebble_up {
            backend_db::ask(model, &self.memory.get(), &situation)?;
            return Ok(Outcome::Defer);
        }
        let workload = self.workload(&container);
        let mut memory = self.memory.get_mut();
        let result = match backend_db::on_changed(model, &mut memory, &situation, &workload) {
            Ok(BackendStep::Done(outcome)) => Ok(outcome),
            Ok(BackendStep::Ready(ready)) => {
                let (peers, backend) = (&ready.peers, &ready.backend);
                client::serve_all(model, &mut memory, &situation, peers, backend, &workload)
                    .map(|()| Outcome::Done)
            }
            Err(e) => Err(e),
        };
        drop(memory);
        let outcome = self.settle(result)?;
        if outcome == Outcome::Done {
            self.ensure_exporter(model, &container)?;
        }
        Ok(outcome)
    }

    fn on_backend_broken(
        &mut self,
        event: &RelationBroken,
        ctx: &mut Ctx,
    ) -> HandlerResult<Outcome> {
        let model = ctx.model();
        let (container, situation) = self.situation(model)?;
        let workload = self.workload(&container);
        let result = backend_db::on_broken(
            model,
            &mut self.memory.get_mut(),
            &situation,
            event.relation.id,
            &workload,
        );
        let outcome = self.settle(result)?;
        if outcome == Outcome::Done {
            self.ensure_exporter(model, &container)?;
        }
        Ok(outcome)
    }

    fn on_client_changed(
        &mut self,
        event: &RelationChanged,
        ctx: &mut Ctx,
    ) -> HandlerResult<Outcome> {
        let model = ctx.model();
        let (container, situation) = self.situation(model)?;
        let workload = self.workload(&container);
        let result = client::on_changed(
            model,
            &mut self.memory.get_mut(),
            &situation,
            event.relation.id,
            &workload,
        );
        self.settle(result)
    }

    fn on_client_broken(
        &mut self,
        event: &RelationBroken,
        ctx: &mut Ctx,
    ) -> HandlerResult<Outcome> {
        let model = ctx.model();
        let (container, situation) = self.situation(model)?;
        let workload = self.workload(&container);
        let result = client::on_broken(
            model,
            &mut self.memory.get_mut(),
            &situation,
            event.relation.id,
            &workload,
        );
        self.settle(result)
    }

    fn on_collect_unit_status(
        &mut self,
        _: &CollectUnitStatus,
        ctx: &mut Ctx,
    ) -> HandlerResult<Status> {
        let model = ctx.model();
        let stopped = self.seen.stopped.take();
        let in_force = self.memory.get_mut().settings_in_force(model)?;
        let memory = self.memory.get();
        if let Some(invalid) = in_force.invalid {
            return Ok(Status::blocked(invalid.to_string()));
        }
        if memory.departed_leader.is_some() {
            return Ok(Status::maintenance(LEADER_REMOVED));
        }
        let container = model.container(CONTAINER)?;
        if !self.seen.pebble_up(&container) {
            return Ok(Status::waiting(format!(
                "waiting for Pebble in the {CONTAINER} container"
            )));
        }
        if let Some(reason) = &memory.secret_unreadable {
            return Ok(Status::blocked(reason.clone()));
        }
        if let Some(reason) = &memory.reload_failure {
            return Ok(Status::blocked(format!(
                "PgBouncer did not take its files: {reason}"
            )));
        }
        let workload = self.workload(&container);
        let stopped = match stopped {
            Some(stopped) => Ok(stopped),
            None => workload.stopped_services(),
        };
        match stopped {
            Ok(stopped) if !stopped.is_empty() => {
                return Ok(Status::blocked(format!(
                    "{} not running",
                    stopped.join(", ")
                )));
            }
            Ok(_) => {}
            Err(e) => return Ok(Status::waiting(format!("cannot ask Pebble: {e}"))),
        }
        if let Some(reason) = &memory.unanswered {
            return Ok(Status::blocked(reason.clone()));
        }
        if let Some(reason) = &memory.client_tls_problem {
            return Ok(Status::blocked(format!("{CERTIFICATES}: {reason}")));
        }
        let Some(backend) = model.relation(BACKEND)? else {
            return Ok(Status::blocked(NO_BACKEND));
        };
        drop(memory);
        let backend = self.memory.get_mut().backend_state(model, &backend)?;
        let memory = self.memory.get();
        match backend {
            BackendState::Ready(_) => {}
            BackendState::NotReady => return Ok(Status::blocked(BACKEND_NOT_READY)),
            BackendState::Refused(reason) => {
                return Ok(Status::blocked(format!(
                    "backend database refused: {reason}"
                )));
            }
        }
        if !model.is_leader()?
            && let Some(peers) = peers::relation(model)?
            && model.local_app_data(&peers).get(CFG_FILE)?.is_none()
        {
            return Ok(Status::waiting(WAITING_FOR_LEADER));
        }
        if let Some((id, reason)) = memory.refused_clients.iter().next() {
            return Ok(Status::blocked(format!(
                "{CLIENT} relation {id} refused: {reason}"
            )));
        }
        if let Some((id, reason)) = memory.unrevoked.iter().next() {
            return Ok(Status::waiting(format!(
                "the user of the removed {CLIENT} relation {id} is not revoked yet: {reason}"
            )));
        }
        if let Some(reason) = &memory.auth_user_cleanup {
            return Ok(Status::waiting(format!(
                "the auth user could not be removed from the departing backend: {reason}"
            )));
        }
        if let Some(reason) = &memory.backend_waiting {
            return Ok(Status::waiting(format!(
                "waiting for backend database: {reason}"
            )));
        }
        Ok(Status::active(""))
    }
}
