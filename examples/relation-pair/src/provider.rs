//! The provider: answers every valid request with a grant.

use ops::events::{CollectUnitStatus, ConfigChanged, RelationChanged};
use ops::{Charm, Ctx, Framework, HandlerError, HandlerResult, Model, Relation, Status};

use crate::ENDPOINT;
use crate::interface::{Grant, Remote, Request, read_remote};

/// The provider charm.
pub struct Provider;

impl Charm for Provider {
    fn new(fw: &mut Framework<Self>) -> Result<Self, HandlerError> {
        fw.observe_relation(ENDPOINT, Self::on_db_changed)?
            .observe(Self::on_config_changed)?
            .observe(Self::on_collect_status)?;
        Ok(Provider)
    }
}

/// Answers one relation's request, if it has a valid one (leader only).
fn answer(model: &Model, relation: &Relation) -> Result<(), HandlerError> {
    if !model.is_leader()? {
        return Ok(());
    }
    let Remote::Valid(request) = read_remote::<Request>(model, relation)? else {
        return Ok(()); // nothing to answer; the status says why
    };
    let config = model.config()?;
    let Ok(port) = u16::try_from(config.get::<i64>("port")?.unwrap_or(5432)) else {
        return Ok(()); // blocked on the config; the status says why
    };
    let grant = Grant {
        database: request.database,
        host: config
            .get::<String>("host")?
            .unwrap_or_else(|| "127.0.0.1".to_string()),
        port,
        read_only: request.read_only,
    };
    model.local_app_data(relation).save(&grant)?;
    Ok(())
}

impl Provider {
    fn on_db_changed(&mut self, event: &RelationChanged, ctx: &mut Ctx) -> HandlerResult {
        let model = ctx.model();
        if let Some(relation) = model.relation_by_id(ENDPOINT, event.relation.id)? {
            answer(model, &relation)?;
        }
        Ok(())
    }

    fn on_config_changed(&mut self, _: &ConfigChanged, ctx: &mut Ctx) -> HandlerResult {
        let model = ctx.model();
        for relation in model.relations(ENDPOINT)? {
            answer(model, &relation)?;
        }
        Ok(())
    }

    fn on_collect_status(&mut self, _: &CollectUnitStatus, ctx: &mut Ctx) -> HandlerResult<Status> {
        let model = ctx.model();
        let port = model.config()?.get::<i64>("port")?.unwrap_or(5432);
        if u16::try_from(port).is_err() {
            return Ok(Status::blocked(format!("port {port} is not a port")));
        }
        let mut serving = 0;
        for relation in model.relations(ENDPOINT)? {
            match read_remote::<Request>(model, &relation)? {
                Remote::Empty => {}
                Remote::Valid(_) => serving += 1,
                Remote::Invalid { key } => {
                    return Ok(Status::blocked(format!(
                        "relation {}: the request's {key:?} does not fit",
                        relation.id
                    )));
                }
            }
        }
        Ok(Status::active(format!("serving {serving} requirers")))
    }
}
