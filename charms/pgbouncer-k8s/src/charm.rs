//! The charm: which events it observes, and what it does on each.

use ops::events::{
    CollectUnitStatus, ConfigChanged, LeaderElected, PebbleReady, RelationBroken, RelationChanged,
    RelationCreated, RelationDeparted, RelationJoined, Start,
};
use ops::model::Relation;
use ops::{
    Charm, Ctx, Framework, HandlerError, HandlerResult, Model, Outcome, Status, StoredState,
};
use serde::{Deserialize, Serialize};

use crate::backend_db::{self, BACKEND, BackendDbError};
use crate::client::{self, CLIENT};
use crate::peers::{self, AUTH_FILE, CFG_FILE, LEADER_HOSTNAME, PEERS};
use crate::pgb_config::{self, PgbConfig};
use crate::settings::Settings;
use crate::workload::{CONTAINER, Workload, WorkloadError};

/// The status a follower shows once it saw the leader's unit go.
pub const LEADER_REMOVED: &str = "Leader unit removed - waiting for leader_elected event";

/// What the charm remembers between dispatches.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Memory {
    /// The hostname of the leader this follower saw depart, until a new
    /// leader publishes its own.
    pub departed_leader: Option<String>,
    /// Why the last backend step could not finish (a database or Pebble failure).
    pub backend_waiting: Option<String>,
}

/// The pgbouncer-k8s charm.
pub struct PgbouncerK8sCharm {
    memory: StoredState<Memory>,
    instances: usize,
}

impl Charm for PgbouncerK8sCharm {
    fn new(fw: &mut Framework<Self>) -> Result<Self, HandlerError> {
        let memory = fw.stored_state("memory")?;
        fw.observe_container(CONTAINER, Self::on_pebble_ready)?
            .observe(Self::on_start)?
            .observe(Self::on_config_changed)?
            .observe(Self::on_leader_elected)?
            .observe_relation(PEERS, Self::on_peers_created)?
            .observe_relation(PEERS, Self::on_peers_joined)?
            .observe_relation(PEERS, Self::on_peers_changed)?
            .observe_relation(PEERS, Self::on_peers_departed)?
            .observe_relation(BACKEND, Self::on_backend_changed)?
            .observe_relation(BACKEND, Self::on_backend_broken)?
            .observe_relation(CLIENT, Self::on_client_changed)?
            .observe_relation(CLIENT, Self::on_client_broken)?
            .observe(Self::on_collect_unit_status)?;
        Ok(Self {
            memory,
            instances: pgb_config::instance_count(pgb_config::available_cpus()),
        })
    }
}

/// What a Pebble failure means for a handler: log it and try again later.
fn defer_on_pebble(error: WorkloadError) -> HandlerResult<Outcome> {
    tracing::warn!("deferring: {error}");
    Ok(Outcome::Defer)
}

impl PgbouncerK8sCharm {
    fn on_pebble_ready(&mut self, _: &PebbleReady, ctx: &mut Ctx) -> HandlerResult<Outcome> {
        self.configure_workload(ctx.model())
    }

    fn on_start(&mut self, _: &Start, ctx: &mut Ctx) -> HandlerResult<Outcome> {
        self.configure_workload(ctx.model())
    }

    fn on_config_changed(&mut self, _: &ConfigChanged, ctx: &mut Ctx) -> HandlerResult<Outcome> {
        if !ctx.model().is_leader()? {
            // Followers take their config from the leader, through pgb-peers.
            return Ok(Outcome::Done);
        }
        self.configure_workload(ctx.model())
    }

    /// Leader: render the config from the options (starting from the default
    /// on first start) and share it. Follower: take the leader's config and
    /// auth file, or wait for them. Then make Pebble run every instance.
    fn configure_workload(&mut self, model: &Model) -> HandlerResult<Outcome> {
        let settings = match Settings::from_model(model)? {
            Ok(settings) => settings,
            Err(invalid) => {
                tracing::warn!("not rendering the config: {invalid}");
                return Ok(Outcome::Done);
            }
        };
        let container = model.container(CONTAINER)?;
        if !container.can_connect() {
            tracing::info!("Pebble in {CONTAINER} is not ready; deferring");
            return Ok(Outcome::Defer);
        }
        let workload = Workload::new(&container, self.instances);
        let changed = if model.is_leader()? {
            match self.render_leader_config(model, &workload, &settings) {
                Ok(changed) => changed,
                Err(e) => return defer_on_pebble(e),
            }
        } else {
            let Some(peers) = peers::relation(model)? else {
                return Ok(Outcome::Defer);
            };
            let Some(config) = peers::shared_config(model, &peers)? else {
                tracing::info!("the leader has not shared its config yet; deferring");
                return Ok(Outcome::Defer);
            };
            match self.write_shared_files(model, &peers, &workload, &config) {
                Ok(changed) => changed,
                Err(e) => return defer_on_pebble(e),
            }
        };
        match workload.apply(changed) {
            Ok(()) => Ok(Outcome::Done),
            Err(e) => defer_on_pebble(e),
        }
    }

    /// Renders the leader's config from the current one (or the default) and
    /// the options, writes it, and shares it with the followers.
    fn render_leader_config(
        &self,
        model: &Model,
        workload: &Workload,
        settings: &Settings,
    ) -> Result<bool, WorkloadError> {
        let mut config = match workload.read_config()? {
            Some(config) => config,
            None => PgbConfig::default_for(
                self.instances,
                settings.max_db_connections,
                settings.listen_port,
                settings.pool_mode.as_str(),
            )
            .map_err(|e| WorkloadError::InvalidFile {
                path: pgb_config::INI_PATH.to_string(),
                reason: e.to_string(),
            })?,
        };
        config
            .apply_settings(
                self.instances,
                settings.max_db_connections,
                settings.listen_port,
                settings.pool_mode.as_str(),
            )
            .map_err(|e| WorkloadError::InvalidFile {
                path: pgb_config::INI_PATH.to_string(),
                reason: e.to_string(),
            })?;
        let changed = workload.write_config(&config)?;
        if let Ok(Some(peers)) = peers::relation(model) {
            let bag = model.local_app_data(&peers);
            let shared = bag
                .set(CFG_FILE, &config.render())
                .and_then(|()| bag.set(LEADER_HOSTNAME, &peers::own_hostname(model)));
            if let Err(e) = shared {
                tracing::warn!("cannot share the config with the followers: {e}");
            }
        }
        Ok(changed)
    }

    /// Writes the leader's config and (if shared) auth file; true if a file changed.
    fn write_shared_files(
        &self,
        model: &Model,
        peers: &Relation,
        workload: &Workload,
        config: &PgbConfig,
    ) -> Result<bool, WorkloadError> {
        let mut changed = workload.write_config(config)?;
        if let Ok(Some(auth)) = peers::shared_auth_file(model, peers) {
            changed |= workload.write_auth_file(&auth)?;
        }
        Ok(changed)
    }

    fn on_leader_elected(&mut self, _: &LeaderElected, ctx: &mut Ctx) -> HandlerResult<Outcome> {
        let model = ctx.model();
        self.memory.get_mut().departed_leader = None;
        if let Some(peers) = peers::relation(model)? {
            model
                .local_app_data(&peers)
                .set(LEADER_HOSTNAME, &peers::own_hostname(model))?;
        }
        client::update_connection_info(model)?;
        self.configure_workload(model)
    }

    fn on_peers_created(
        &mut self,
        event: &RelationCreated,
        ctx: &mut Ctx,
    ) -> HandlerResult<Outcome> {
        let model = ctx.model();
        let Some(peers) = model.relation_by_id(PEERS, event.relation.id)? else {
            return Ok(Outcome::Done);
        };
        peers::publish_hostname(model, &peers)?;
        if !model.is_leader()? {
            return Ok(Outcome::Done);
        }
        let container = model.container(CONTAINER)?;
        let workload = Workload::new(&container, self.instances);
        let config = match workload.current_config() {
            Ok(Some(config)) => config,
            Ok(None) => return Ok(Outcome::Defer),
            Err(e) => return defer_on_pebble(e),
        };
        let bag = model.local_app_data(&peers);
        bag.set(CFG_FILE, &config.render())?;
        if !backend_db::is_ready(model, &config, &workload)? {
            return Ok(Outcome::Defer);
        }
        match workload.read_auth_file() {
            Ok(Some(auth)) => bag.set(AUTH_FILE, &auth.render())?,
            Ok(None) => return Ok(Outcome::Defer),
            Err(e) => return defer_on_pebble(e),
        }
        Ok(Outcome::Done)
    }

    fn on_peers_joined(&mut self, event: &RelationJoined, ctx: &mut Ctx) -> HandlerResult<Outcome> {
        self.sync_peers(event.relation.id, ctx.model())
    }

    fn on_peers_changed(
        &mut self,
        event: &RelationChanged,
        ctx: &mut Ctx,
    ) -> HandlerResult<Outcome> {
        self.sync_peers(event.relation.id, ctx.model())
    }

    /// relation-joined and relation-changed of pgb-peers.
    fn sync_peers(&mut self, relation_id: u32, model: &Model) -> HandlerResult<Outcome> {
        let Some(peers) = model.relation_by_id(PEERS, relation_id)? else {
            return Ok(Outcome::Done);
        };
        peers::publish_hostname(model, &peers)?;
        client::update_connection_info(model)?;
        let container = model.container(CONTAINER)?;
        let workload = Workload::new(&container, self.instances);
        if model.is_leader()? {
            let config = match workload.current_config() {
                Ok(Some(config)) => config,
                Ok(None) => return Ok(Outcome::Defer),
                Err(e) => return defer_on_pebble(e),
            };
            let bag = model.local_app_data(&peers);
            bag.set(CFG_FILE, &config.render())?;
            bag.set(LEADER_HOSTNAME, &peers::own_hostname(model))?;
            return Ok(Outcome::Done);
        }
        let leader = model.local_app_data(&peers).get(LEADER_HOSTNAME)?;
        let departed = self.memory.get().departed_leader.clone();
        if departed.is_some() && leader.is_some() && leader != departed {
            self.memory.get_mut().departed_leader = None;
        }
        let config = peers::shared_config(model, &peers)?;
        let auth = peers::shared_auth_file(model, &peers)?;
        if config.is_none() && auth.is_none() {
            return Ok(Outcome::Done);
        }
        if !container.can_connect() {
            tracing::info!("Pebble in {CONTAINER} is not ready; deferring");
            return Ok(Outcome::Defer);
        }
        let written = (|| -> Result<bool, WorkloadError> {
            let mut changed = false;
            if let Some(config) = &config {
                changed |= workload.write_config(config)?;
            }
            if let Some(auth) = &auth {
                changed |= workload.write_auth_file(auth)?;
            }
            if changed {
                workload.apply(true)?;
            }
            Ok(changed)
        })();
        match written {
            Ok(_) => Ok(Outcome::Done),
            Err(e) => defer_on_pebble(e),
        }
    }

    fn on_peers_departed(&mut self, event: &RelationDeparted, ctx: &mut Ctx) -> HandlerResult {
        let model = ctx.model();
        let Some(peers) = model.relation_by_id(PEERS, event.relation.id)? else {
            return Ok(());
        };
        if model.is_leader()? {
            model
                .local_app_data(&peers)
                .set(LEADER_HOSTNAME, &peers::own_hostname(model))?;
            client::update_connection_info(model)?;
            return Ok(());
        }
        let departed = event.departing_unit.as_deref().or(event.unit.as_deref());
        let leader = model.local_app_data(&peers).get(LEADER_HOSTNAME)?;
        if let (Some(departed), Some(leader)) = (departed, leader)
            && peers::unit_hostname(departed, model.name()) == leader
        {
            self.memory.get_mut().departed_leader = Some(leader);
        }
        Ok(())
    }

    /// A backend step's result: a database or Pebble failure is shown as
    /// Waiting (saying why) and the event deferred, never a failed hook.
    fn settle(&mut self, result: Result<Outcome, BackendDbError>) -> HandlerResult<Outcome> {
        match result {
            Ok(outcome) => {
                self.memory.get_mut().backend_waiting = None;
                Ok(outcome)
            }
            Err(BackendDbError::Model(e)) => Err(e.into()),
            Err(e) => {
                tracing::warn!("deferring: {e}");
                self.memory.get_mut().backend_waiting = Some(e.to_string());
                Ok(Outcome::Defer)
            }
        }
    }

    fn on_backend_changed(&mut self, _: &RelationChanged, ctx: &mut Ctx) -> HandlerResult<Outcome> {
        let result = backend_db::on_changed(ctx.model(), self.instances);
        self.settle(result)
    }

    fn on_backend_broken(
        &mut self,
        event: &RelationBroken,
        ctx: &mut Ctx,
    ) -> HandlerResult<Outcome> {
        let result = backend_db::on_broken(ctx.model(), event.relation.id, self.instances);
        self.settle(result)
    }

    fn on_client_changed(
        &mut self,
        event: &RelationChanged,
        ctx: &mut Ctx,
    ) -> HandlerResult<Outcome> {
        let result = client::on_changed(ctx.model(), event.relation.id, self.instances);
        self.settle(result)
    }

    fn on_client_broken(
        &mut self,
        event: &RelationBroken,
        ctx: &mut Ctx,
    ) -> HandlerResult<Outcome> {
        let result = client::on_broken(ctx.model(), event.relation.id, self.instances);
        self.settle(result)
    }

    fn on_collect_unit_status(
        &mut self,
        _: &CollectUnitStatus,
        ctx: &mut Ctx,
    ) -> HandlerResult<Status> {
        let model = ctx.model();
        if let Err(invalid) = Settings::from_model(model)? {
            return Ok(Status::blocked(invalid.to_string()));
        }
        if self.memory.get().departed_leader.is_some() {
            return Ok(Status::maintenance(LEADER_REMOVED));
        }
        if !model.container(CONTAINER)?.can_connect() {
            return Ok(Status::waiting(format!(
                "waiting for Pebble in the {CONTAINER} container"
            )));
        }
        if model.relations(BACKEND)?.is_empty() {
            return Ok(Status::blocked("waiting for backend database relation"));
        }
        if let Some(reason) = &self.memory.get().backend_waiting {
            return Ok(Status::waiting(format!(
                "waiting for backend database: {reason}"
            )));
        }
        Ok(Status::active(""))
    }
}
