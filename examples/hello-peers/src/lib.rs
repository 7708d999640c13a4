//! `hello-peers`: the leader shares its `greeting` config with its followers
//! through the `replicas` peer relation.
//!
//! - `config_changed` on the leader: put the greeting in the app databag; if
//!   the peer relation does not exist yet, defer until it does.
//! - `replicas_relation_changed` on a follower: copy the greeting into the
//!   unit databag as `seen-greeting`; if the leader has not shared one yet,
//!   defer.
//! - Stored state counts the events handled and keeps the last greeting.

use ops::events::{
    ActionEvent, CollectUnitStatus, ConfigChanged, Install, RelationChanged, RelationCreated, Start,
};
use ops::{Charm, Ctx, Framework, HandlerError, HandlerResult, Outcome, Status, StoredState};
use serde::{Deserialize, Serialize};

/// The peer relation's name.
pub const PEERS: &str = "replicas";

/// What the charm remembers between dispatches.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Memory {
    /// Events handled by this unit (install, start, config-changed, relation events).
    pub events_seen: u32,
    /// The greeting this unit last shared or copied.
    pub last_greeting: Option<String>,
}

/// The charm.
pub struct HelloPeers {
    memory: StoredState<Memory>,
}

impl Charm for HelloPeers {
    fn new(fw: &mut Framework<Self>) -> Result<Self, HandlerError> {
        let memory = fw.stored_state("memory")?;
        fw.observe(Self::on_install)?
            .observe(Self::on_start)?
            .observe(Self::on_config_changed)?
            .observe_relation(PEERS, Self::on_peers_created)?
            .observe_relation(PEERS, Self::on_peers_changed)?
            .observe_action("events-seen", Self::on_events_seen)?
            .observe(Self::on_collect_status)?;
        Ok(Self { memory })
    }
}

impl HelloPeers {
    fn count(&mut self) {
        self.memory.get_mut().events_seen += 1;
    }

    fn on_install(&mut self, _: &Install, _: &mut Ctx) -> HandlerResult {
        self.count();
        Ok(())
    }

    fn on_start(&mut self, _: &Start, _: &mut Ctx) -> HandlerResult {
        self.count();
        Ok(())
    }

    fn on_config_changed(&mut self, _: &ConfigChanged, ctx: &mut Ctx) -> HandlerResult<Outcome> {
        self.count();
        let model = ctx.model();
        if !model.is_leader()? {
            return Ok(Outcome::Done);
        }
        let Some(peers) = model.relation(PEERS)? else {
            ops::tracing::info!("no peer relation yet; deferring the greeting");
            return Ok(Outcome::Defer);
        };
        let greeting = model
            .config()?
            .get::<String>("greeting")?
            .unwrap_or_else(|| "hello".to_string());
        model.local_app_data(&peers).set("greeting", &greeting)?;
        self.memory.get_mut().last_greeting = Some(greeting);
        Ok(Outcome::Done)
    }

    fn on_peers_created(&mut self, _: &RelationCreated, _: &mut Ctx) -> HandlerResult {
        self.count();
        Ok(())
    }

    fn on_peers_changed(
        &mut self,
        event: &RelationChanged,
        ctx: &mut Ctx,
    ) -> HandlerResult<Outcome> {
        self.count();
        let model = ctx.model();
        if model.is_leader()? {
            return Ok(Outcome::Done);
        }
        let Some(peers) = model.relation_by_id(PEERS, event.relation.id)? else {
            return Ok(Outcome::Done);
        };
        let Some(greeting) = model.local_app_data(&peers).get("greeting")? else {
            return Ok(Outcome::Defer);
        };
        model
            .local_unit_data(&peers)
            .set("seen-greeting", &greeting)?;
        self.memory.get_mut().last_greeting = Some(greeting);
        Ok(Outcome::Done)
    }

    fn on_events_seen(&mut self, _: &ActionEvent, ctx: &mut Ctx) -> HandlerResult {
        let mut results = serde_json::Map::new();
        results.insert(
            "events-seen".into(),
            self.memory.get().events_seen.to_string().into(),
        );
        ctx.model().action_set_results(results)?;
        Ok(())
    }

    fn on_collect_status(&mut self, _: &CollectUnitStatus, _: &mut Ctx) -> HandlerResult<Status> {
        Ok(match &self.memory.get().last_greeting {
            Some(greeting) => Status::active(format!("greeting: {greeting}")),
            None => Status::waiting("no greeting yet"),
        })
    }
}
