//! `secrets`: credentials shared with another application through a Juju
//! secret. The charm plays both sides, so it is deployed twice.
//!
//! The owner side (`credentials` endpoint, leader only):
//! - `credentials-relation-created`: adds an application-owned secret
//!   labelled `credentials-<relation id>` holding `username` and a random
//!   `password`, with a daily rotation policy; grants it to the relation's
//!   other application; puts its id in the relation as `secret-id`.
//! - `secret-rotate`: sets a new revision with a new password.
//! - `credentials-relation-broken`: removes the secret.
//!
//! The other side (`upstream` endpoint):
//! - `upstream-relation-changed`: reads the secret named by `secret-id`
//!   (the revision it tracks);
//! - `secret-changed`: the owner rotated it: reads the latest revision.
//!
//! Secret values are never logged or put in a status: the status names the
//! user only.

use std::collections::BTreeMap;
use std::io::Read;

use ops::backend::BackendError;
use ops::events::{
    CollectUnitStatus, RelationBroken, RelationChanged, RelationCreated, SecretChanged,
    SecretRotate,
};
use ops::model::{SecretOwner, SecretRotate as Rotation};
use ops::{
    Charm, Ctx, Framework, HandlerError, HandlerResult, Model, ModelError, Outcome, Relation,
    SecretContent, SecretOptions, Status,
};

/// The owner's endpoint.
pub const CREDENTIALS: &str = "credentials";
/// The other side's endpoint.
pub const UPSTREAM: &str = "upstream";
/// The key of the relation's application databag that holds the secret id.
pub const SECRET_ID_KEY: &str = "secret-id";

/// The owner's label for the secret of one relation.
pub fn label_for(relation_id: u32) -> String {
    format!("credentials-{relation_id}")
}

/// A random password: 32 hex digits from the kernel's random source.
fn new_password() -> Result<String, std::io::Error> {
    let mut bytes = [0u8; 16];
    std::fs::File::open("/dev/urandom")?.read_exact(&mut bytes)?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

fn content(username: &str) -> Result<BTreeMap<String, String>, std::io::Error> {
    Ok(BTreeMap::from([
        ("username".to_string(), username.to_string()),
        ("password".to_string(), new_password()?),
    ]))
}

/// The charm.
pub struct Secrets {
    in_use: Option<SecretContent>,
}

impl Charm for Secrets {
    fn new(fw: &mut Framework<Self>) -> Result<Self, HandlerError> {
        fw.observe_relation(CREDENTIALS, Self::on_credentials_created)?
            .observe_relation(CREDENTIALS, Self::on_credentials_broken)?
            .observe(Self::on_secret_rotate)?
            .observe_relation(UPSTREAM, Self::on_upstream_changed)?
            .observe(Self::on_secret_changed)?
            .observe(Self::on_collect_status)?;
        Ok(Self { in_use: None })
    }
}

/// What the other side sees of the upstream secret.
enum Upstream {
    NotRelated,
    NoSecretYet,
    NotGranted,
    Read(SecretContent),
}

/// Reads the upstream secret: the tracked revision, or with `refresh` the latest.
fn read_upstream(model: &Model, refresh: bool) -> Result<Upstream, ModelError> {
    let Some(relation) = model.relation(UPSTREAM)? else {
        return Ok(Upstream::NotRelated);
    };
    let Some(id) = model.remote_app_data(&relation)?.get(SECRET_ID_KEY)? else {
        return Ok(Upstream::NoSecretYet);
    };
    // get_secret reads the content at once (not found or not granted fails
    // there); with `refresh`, the latest revision is read and tracked.
    match model
        .get_secret(Some(&id), None)
        .and_then(|secret| secret.get_content(refresh))
    {
        Ok(content) => Ok(Upstream::Read(content)),
        Err(e)
            if matches!(
                e.backend_error(),
                Some(BackendError::SecretNotFound { .. } | BackendError::PermissionDenied { .. })
            ) =>
        {
            Ok(Upstream::NotGranted)
        }
        Err(e) => Err(e),
    }
}

impl Secrets {
    /// The credentials this unit read from upstream in this dispatch.
    pub fn credentials(&self) -> Option<&SecretContent> {
        self.in_use.as_ref()
    }

    fn on_credentials_created(
        &mut self,
        event: &RelationCreated,
        ctx: &mut Ctx,
    ) -> HandlerResult<Outcome> {
        let model = ctx.model();
        if !model.is_leader()? {
            return Ok(Outcome::Done);
        }
        let Some(relation) = model.relation_by_id(CREDENTIALS, event.relation.id)? else {
            return Ok(Outcome::Done);
        };
        let label = label_for(relation.id.id);
        // A retried hook finds the secret it added before it failed.
        let secret = match model.get_secret(None, Some(&label)) {
            Ok(existing) => existing,
            Err(e) if e.is_secret_not_found() => model.add_secret(
                content(&format!("relation-{}", relation.id.id))?,
                SecretOptions::new()
                    .with_label(label)
                    .with_description(format!("credentials for relation {}", relation.id))
                    .with_rotate(Rotation::Daily)
                    .with_owner(SecretOwner::Application),
            )?,
            Err(e) => return Err(e.into()),
        };
        secret.grant(&relation, None)?;
        let id = secret.id().ok_or("secret-add gave no secret id")?;
        model.local_app_data(&relation).set(SECRET_ID_KEY, id)?;
        ops::tracing::info!("shared a secret with {:?} on {}", relation.app, relation.id);
        Ok(Outcome::Done)
    }

    fn on_secret_rotate(&mut self, event: &SecretRotate, ctx: &mut Ctx) -> HandlerResult {
        let model = ctx.model();
        // Ours are labelled `credentials-<relation id>`; the user is `relation-<id>`.
        let Some(label) = event.label.as_deref() else {
            return Ok(());
        };
        let Some(relation_id) = label.strip_prefix("credentials-") else {
            return Ok(());
        };
        let secret = model.get_secret(Some(&event.id), Some(label))?;
        secret.set_content(content(&format!("relation-{relation_id}"))?)?;
        ops::tracing::info!("rotated the password of secret {label}");
        Ok(())
    }

    fn on_credentials_broken(&mut self, event: &RelationBroken, ctx: &mut Ctx) -> HandlerResult {
        let model = ctx.model();
        if !model.is_leader()? {
            return Ok(());
        }
        match model
            .get_secret(None, Some(&label_for(event.relation.id)))
            .and_then(|secret| secret.remove_all_revisions())
        {
            Ok(()) => Ok(()),
            // Already gone (a retried hook): nothing to remove.
            Err(e) if e.is_secret_not_found() => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    fn on_upstream_changed(
        &mut self,
        _: &RelationChanged,
        ctx: &mut Ctx,
    ) -> HandlerResult<Outcome> {
        if let Upstream::Read(content) = read_upstream(ctx.model(), false)? {
            self.in_use = Some(content);
        }
        Ok(Outcome::Done)
    }

    fn on_secret_changed(&mut self, _: &SecretChanged, ctx: &mut Ctx) -> HandlerResult<Outcome> {
        if let Upstream::Read(content) = read_upstream(ctx.model(), true)? {
            self.in_use = Some(content);
        }
        Ok(Outcome::Done)
    }

    fn on_collect_status(&mut self, _: &CollectUnitStatus, ctx: &mut Ctx) -> HandlerResult<Status> {
        let model = ctx.model();
        let upstream = match self.in_use.clone() {
            Some(content) => Upstream::Read(content),
            None => read_upstream(model, false)?,
        };
        Ok(match upstream {
            Upstream::NotRelated => {
                let shared: Vec<Relation> = model.relations(CREDENTIALS)?;
                Status::active(format!("sharing credentials on {} relations", shared.len()))
            }
            Upstream::NoSecretYet => Status::waiting("waiting for upstream's secret id"),
            Upstream::NotGranted => Status::waiting("waiting for upstream to grant its secret"),
            Upstream::Read(content) => match content.get("username") {
                Some(user) => Status::active(format!("using the credentials of {user}")),
                None => Status::blocked("upstream's secret has no username"),
            },
        })
    }
}
