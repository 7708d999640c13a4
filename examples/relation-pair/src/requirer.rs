//! The requirer: asks for a database and shows what it was granted.

use ops::events::{CollectUnitStatus, ConfigChanged, RelationCreated};
use ops::{Charm, Ctx, Framework, HandlerError, HandlerResult, Model, Relation, Status};

use crate::ENDPOINT;
use crate::interface::{Grant, Remote, Request, read_remote};

/// The requirer charm.
pub struct Requirer;

impl Charm for Requirer {
    fn new(fw: &mut Framework<Self>) -> Result<Self, HandlerError> {
        fw.observe_relation(ENDPOINT, Self::on_db_created)?
            .observe(Self::on_config_changed)?
            .observe(Self::on_collect_status)?;
        Ok(Requirer)
    }
}

/// The request the config asks for.
fn request(model: &Model) -> Result<Request, HandlerError> {
    let config = model.config()?;
    Ok(Request {
        database: config
            .get::<String>("database")?
            .unwrap_or_else(|| "app".to_string()),
        read_only: config.get::<bool>("read-only")?.unwrap_or(false),
    })
}

/// Puts the request in the relation's application databag (leader only).
fn ask(model: &Model, relation: &Relation) -> Result<(), HandlerError> {
    if model.is_leader()? {
        model.local_app_data(relation).save(&request(model)?)?;
    }
    Ok(())
}

impl Requirer {
    fn on_db_created(&mut self, event: &RelationCreated, ctx: &mut Ctx) -> HandlerResult {
        let model = ctx.model();
        if let Some(relation) = model.relation_by_id(ENDPOINT, event.relation.id)? {
            ask(model, &relation)?;
        }
        Ok(())
    }

    fn on_config_changed(&mut self, _: &ConfigChanged, ctx: &mut Ctx) -> HandlerResult {
        let model = ctx.model();
        for relation in model.relations(ENDPOINT)? {
            ask(model, &relation)?;
        }
        Ok(())
    }

    fn on_collect_status(&mut self, _: &CollectUnitStatus, ctx: &mut Ctx) -> HandlerResult<Status> {
        let model = ctx.model();
        let Some(relation) = model.relation(ENDPOINT)? else {
            return Ok(Status::blocked("relate to a pair_db provider"));
        };
        let wanted = request(model)?;
        Ok(match read_remote::<Grant>(model, &relation)? {
            Remote::Empty => Status::waiting("waiting for the provider's grant"),
            Remote::Invalid { key } => Status::blocked(format!(
                "relation {}: the grant's {key:?} does not fit",
                relation.id
            )),
            Remote::Valid(grant) if grant.database != wanted.database => {
                Status::waiting(format!("waiting for a grant of {}", wanted.database))
            }
            Remote::Valid(grant) => Status::active(format!(
                "using {} at {}:{}{}",
                grant.database,
                grant.host,
                grant.port,
                if grant.read_only { " (read-only)" } else { "" }
            )),
        })
    }
}
