//! The client: its leader asks for a database; every unit reads the answer.

use ops::events::{CollectUnitStatus, ConfigChanged, RelationChanged, RelationCreated};
use ops::{Charm, Ctx, Framework, HandlerError, HandlerResult, Model, Status};
use postgresql_client::{Answer, DatabaseRequest, Received};

use crate::ENDPOINT;

/// The requirer charm.
pub struct Requirer;

impl Charm for Requirer {
    fn new(fw: &mut Framework<Self>) -> Result<Self, HandlerError> {
        fw.observe_relation(ENDPOINT, Self::on_database_created)?
            .observe_relation(ENDPOINT, Self::on_database_changed)?
            .observe(Self::on_config_changed)?
            .observe(Self::on_collect_status)?;
        Ok(Requirer)
    }
}

/// Writes the request (the leader only: the crate does nothing elsewhere).
fn ask(model: &Model) -> HandlerResult {
    let Some(relation) = model.relation(ENDPOINT)? else {
        return Ok(());
    };
    let database = model
        .config()?
        .get::<String>("database")?
        .unwrap_or_else(|| "app".to_string());
    DatabaseRequest::new(database).write(model, &relation)?;
    Ok(())
}

impl Requirer {
    fn on_database_created(&mut self, _: &RelationCreated, ctx: &mut Ctx) -> HandlerResult {
        ask(ctx.model())
    }

    fn on_database_changed(&mut self, _: &RelationChanged, ctx: &mut Ctx) -> HandlerResult {
        // Asked again: a request written before a failed hook is written now.
        ask(ctx.model())
    }

    fn on_config_changed(&mut self, _: &ConfigChanged, ctx: &mut Ctx) -> HandlerResult {
        ask(ctx.model())
    }

    fn on_collect_status(&mut self, _: &CollectUnitStatus, ctx: &mut Ctx) -> HandlerResult<Status> {
        let model = ctx.model();
        let Some(relation) = model.relation(ENDPOINT)? else {
            return Ok(Status::blocked("needs a database relation"));
        };
        Ok(match Answer::read(model, &relation)? {
            Received::Ready(answer) => {
                let user = answer.credentials.map(|c| c.username).unwrap_or_default();
                let tls = match answer.tls {
                    Some(tls) if tls.enabled => "TLS",
                    _ => "no TLS",
                };
                let at = answer.endpoints.first().map(ToString::to_string);
                Status::active(format!(
                    "using {} at {} as {user} ({tls})",
                    answer.database.unwrap_or_default(),
                    at.unwrap_or_default(),
                ))
            }
            Received::Invalid(e) => Status::blocked(format!(
                "refusing the answer on relation {}: {e}",
                relation.id.id
            )),
            _ => Status::waiting("waiting for the database"),
        })
    }
}
