//! The provider: answers every valid request (leader only). It makes no
//! database; a real provider creates the database and its user first.

use std::io::Read;

use ops::events::{CollectUnitStatus, ConfigChanged, RelationChanged};
use ops::{Charm, Ctx, Framework, HandlerError, HandlerResult, Model, Relation, Status};
use postgresql_client::{Answer, Credentials, DatabaseRequest, Endpoint, Received, keys};

use crate::ENDPOINT;

/// The provider charm.
pub struct Provider;

impl Charm for Provider {
    fn new(fw: &mut Framework<Self>) -> Result<Self, HandlerError> {
        fw.observe_relation(ENDPOINT, Self::on_database_changed)?
            .observe(Self::on_config_changed)?
            .observe(Self::on_collect_status)?;
        Ok(Provider)
    }
}

/// The user made for relation `id`, named as PostgreSQL's charms name them.
pub fn user_for(relation_id: u32) -> String {
    format!("relation_id_{relation_id}")
}

/// A random password: 32 hex digits from the kernel's random source.
fn new_password() -> Result<String, std::io::Error> {
    let mut bytes = [0u8; 16];
    std::fs::File::open("/dev/urandom")?.read_exact(&mut bytes)?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

/// Answers one relation's request, if it has a valid one (leader only):
/// where to connect always, the user the first time (a real provider keeps
/// its users' passwords; this one hands each out once and leaves it).
fn answer(model: &Model, relation: &Relation) -> Result<(), HandlerError> {
    if !model.is_leader()? {
        return Ok(());
    }
    let Received::Ready(request) = DatabaseRequest::read(model, relation)? else {
        return Ok(()); // nothing to answer; the status says why
    };
    let config = model.config()?;
    let Ok(port) = u16::try_from(config.get::<i64>("port")?.unwrap_or(5432)) else {
        return Ok(()); // blocked on the config; the status says why
    };
    let host = config
        .get::<String>("host")?
        .unwrap_or_else(|| "127.0.0.1".to_string());
    let ca = config.get::<String>("tls-ca")?.filter(|c| !c.is_empty());
    let mut answer = Answer::new(vec![Endpoint::new(&host, port)])
        .with_database(&request.database)
        .with_tls(ca);
    let ours = model.local_app_data(relation);
    let answered = ours.get(keys::SECRET_USER)?.is_some() || ours.get(keys::USERNAME)?.is_some();
    if !answered {
        let user = user_for(relation.id.id);
        let password = new_password()?;
        let uri = format!(
            "postgresql://{user}:{password}@{host}:{port}/{}",
            request.database
        );
        answer = answer.with_credentials(Credentials::new(user, password).with_uris(uri));
    }
    answer.write(model, relation)?;
    Ok(())
}

impl Provider {
    fn on_database_changed(&mut self, event: &RelationChanged, ctx: &mut Ctx) -> HandlerResult {
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
            return Ok(Status::blocked("config port is not a port"));
        }
        let relations = model.relations(ENDPOINT)?;
        for relation in &relations {
            if let Received::Invalid(e) = DatabaseRequest::read(model, relation)? {
                return Ok(Status::blocked(format!(
                    "refusing the request of relation {}: {e}",
                    relation.id.id
                )));
            }
        }
        Ok(Status::active(format!(
            "answering {} clients",
            relations.len()
        )))
    }
}
