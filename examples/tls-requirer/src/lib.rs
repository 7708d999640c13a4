//! `tls-requirer`: each unit asks a related `tls-certificates` (v4)
//! provider for a certificate, with the interface crate
//! [`tls_certificates`], and writes the key, certificate and CA into its
//! workload container when it comes. The key is made by the crate and kept
//! in a Juju secret this unit owns; only the workload's file has it too.

use ops::events::{
    CollectUnitStatus, PebbleReady, RelationBroken, RelationChanged, RelationCreated,
    SecretExpired, SecretRemove,
};
use ops::pebble::PushOptions;
use ops::{Charm, Ctx, Framework, HandlerError, HandlerResult, Model, Status};
use tls_certificates::{CertificateRequest, Requirer, TlsState};

/// The workload container.
pub const CONTAINER: &str = "workload";
/// The endpoint.
pub const CERTIFICATES: &str = "certificates";
/// Where the workload finds its key.
pub const KEY_PATH: &str = "/etc/workload/tls/key.pem";
/// Its certificate.
pub const CERT_PATH: &str = "/etc/workload/tls/cert.pem";
/// The CA that signed it.
pub const CA_PATH: &str = "/etc/workload/tls/ca.pem";

/// The charm. `status` is what the last sync found, for collect-status.
#[derive(Default)]
pub struct TlsRequirer {
    status: Option<Status>,
}

impl Charm for TlsRequirer {
    fn new(fw: &mut Framework<Self>) -> Result<Self, HandlerError> {
        fw.observe_container(CONTAINER, Self::on_pebble_ready)?
            .observe_relation(CERTIFICATES, Self::on_created)?
            .observe_relation(CERTIFICATES, Self::on_changed)?
            .observe_relation(CERTIFICATES, Self::on_broken)?
            .observe(Self::on_secret_expired)?
            .observe(Self::on_secret_remove)?
            .observe(Self::on_collect_status)?;
        Ok(Self::default())
    }
}

/// What this unit asks for: its own name, and the application's Service.
pub fn request(model: &Model) -> CertificateRequest {
    let unit = model.unit().name().replace('/', "-");
    let app = model.app().name();
    CertificateRequest::new(unit)
        .with_sans_dns([format!("{app}.{}.svc.cluster.local", model.name())])
}

impl TlsRequirer {
    fn requirer(model: &Model) -> Requirer {
        Requirer::new(CERTIFICATES, request(model))
    }

    /// Syncs the relation; writes (or removes) the workload's files.
    fn sync(&mut self, model: &Model) -> HandlerResult {
        let container = model.container(CONTAINER)?;
        let state = match Self::requirer(model).sync(model) {
            Ok(state) => state,
            Err(tls_certificates::TlsError::Model(e)) => return Err(e.into()),
            Err(e) => {
                // The provider's data (or our request) is unusable: say
                // so, keep whatever the workload has.
                self.status = Some(Status::blocked(e.to_string()));
                return Ok(());
            }
        };
        self.status = Some(match state {
            TlsState::Issued(assigned) if container.can_connect() => {
                let options = PushOptions::new()
                    .with_permissions(0o600)
                    .with_make_dirs(true);
                container.push(KEY_PATH, assigned.private_key.to_pem().as_bytes(), &options)?;
                container.push(
                    CERT_PATH,
                    assigned.issued.certificate_chain_pem().as_bytes(),
                    &options,
                )?;
                container.push(CA_PATH, assigned.issued.ca_bundle().as_bytes(), &options)?;
                Status::active(format!(
                    "serving TLS as {}",
                    assigned.csr.request().common_name
                ))
            }
            TlsState::Issued(_) => Status::waiting("waiting for Pebble to write the certificate"),
            TlsState::NoRelation | TlsState::Revoked => {
                if container.can_connect() {
                    for path in [CERT_PATH, KEY_PATH, CA_PATH] {
                        match container.remove_path(path, false) {
                            Err(e) if !e.is_not_found() => return Err(e.into()),
                            _ => {}
                        }
                    }
                }
                Status::blocked("no certificate: relate to a tls-certificates provider")
            }
            _ => Status::waiting("waiting for the provider to sign the certificate"),
        });
        Ok(())
    }

    fn on_pebble_ready(&mut self, _: &PebbleReady, ctx: &mut Ctx) -> HandlerResult {
        self.sync(ctx.model())
    }

    fn on_created(&mut self, _: &RelationCreated, ctx: &mut Ctx) -> HandlerResult {
        self.sync(ctx.model())
    }

    fn on_changed(&mut self, _: &RelationChanged, ctx: &mut Ctx) -> HandlerResult {
        self.sync(ctx.model())
    }

    fn on_broken(&mut self, _: &RelationBroken, ctx: &mut Ctx) -> HandlerResult {
        self.sync(ctx.model())
    }

    /// The certificate is due for renewal: a new CSR.
    fn on_secret_expired(&mut self, event: &SecretExpired, ctx: &mut Ctx) -> HandlerResult {
        Self::requirer(ctx.model()).renew(ctx.model(), event.label.as_deref())?;
        Ok(())
    }

    /// An old revision of the key's or a certificate's secret: removed.
    fn on_secret_remove(&mut self, event: &SecretRemove, ctx: &mut Ctx) -> HandlerResult {
        let label = event.label.as_deref();
        Self::requirer(ctx.model()).remove_revision(
            ctx.model(),
            &event.id,
            label,
            event.revision,
        )?;
        Ok(())
    }

    fn on_collect_status(&mut self, _: &CollectUnitStatus, ctx: &mut Ctx) -> HandlerResult<Status> {
        if let Some(status) = self.status.take() {
            return Ok(status);
        }
        // A hook that did not sync (update-status, ...): ask once.
        self.sync(ctx.model())?;
        Ok(self.status.take().unwrap_or_else(|| Status::active("")))
    }
}
