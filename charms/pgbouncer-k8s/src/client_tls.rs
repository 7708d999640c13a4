//! TLS for PgBouncer's clients, through the `certificates` relation
//! (`tls-certificates` v4, [`tls_certificates`]): each unit asks for its
//! own certificate, for the names clients reach it by; once the provider
//! signed it, the key, certificate and CA go into the workload container
//! and PgBouncer's instances serve TLS (`client_tls_sslmode = prefer`);
//! the leader tells clients `tls` and `tls-ca` ([`crate::answers`]).
//!
//! The key is made by the charm and kept in a Juju secret this unit owns;
//! it reaches only the workload's file. A new certificate (a renewal) is
//! taken by a reload, never a restart: clients stay connected. While a
//! renewal is pending, the certificate in use stays. The relation removed
//! (or the certificate revoked): the files go and TLS is off, by reload.

use ops::Model;
use ops::model::ModelError;
use tls_certificates::{CertificateRequest, Requirer, TlsError, TlsState};

use crate::answers;
use crate::error::StepError;
use crate::memory::Memory;
use crate::serve;
use crate::service;
use crate::situation::Situation;
use crate::workload::{Pending, TlsFiles, Workload};

/// The endpoint ([`meta::CERTIFICATES`](crate::meta::CERTIFICATES)).
pub const CERTIFICATES: &str = crate::meta::CERTIFICATES.name();

/// What this unit asks a certificate for: common name its pod's name
/// (`<app>-<n>`); DNS names the application's Service (where clients are
/// sent, [`service::hostname`]) and the pod's own names in the headless
/// `<app>-endpoints` service, short and fully qualified, as upstream
/// pgbouncer-k8s asks. No IP address: a pod's changes with every new pod,
/// and clients are given names.
///
/// ```
/// let request = pgbouncer_k8s::client_tls::request("pgbouncer-k8s/1", "dev");
/// assert_eq!(request.common_name, "pgbouncer-k8s-1");
/// assert!(request.sans_dns.contains("pgbouncer-k8s.dev.svc.cluster.local"));
/// assert!(request.sans_dns.contains("pgbouncer-k8s-1.pgbouncer-k8s-endpoints.dev.svc.cluster.local"));
/// ```
pub fn request(unit_name: &str, model_name: &str) -> CertificateRequest {
    let (app, number) = unit_name.split_once('/').unwrap_or((unit_name, "0"));
    let pod = format!("{app}-{number}");
    let endpoints = format!("{app}-endpoints");
    let cluster = format!("{model_name}.svc.cluster.local");
    CertificateRequest::new(pod.clone()).with_sans_dns([
        service::hostname(unit_name, model_name),
        format!("{pod}.{endpoints}.{cluster}"),
        format!("{pod}.{endpoints}"),
        pod,
        format!("{endpoints}.{cluster}"),
        endpoints,
        app.to_string(),
    ])
}

/// This unit's requirer.
pub fn requirer(model: &Model) -> Requirer {
    Requirer::new(CERTIFICATES, request(model.unit().name(), model.name()))
}

/// Brings this unit's TLS files in line with the relation; says what
/// PgBouncer must do to take them. The provider's data that cannot be used
/// is remembered for the status (the files in use stay).
pub fn sync_files(
    model: &Model,
    memory: &mut Memory,
    workload: &Workload,
) -> Result<Pending, StepError> {
    match requirer(model).sync(model) {
        Ok(TlsState::Issued(assigned)) => {
            memory.client_tls_problem = None;
            let ca = assigned.issued.ca_bundle();
            let files = TlsFiles {
                key: with_newline(assigned.private_key.to_pem()),
                certificate: assigned.issued.certificate_chain_pem(),
                ca: ca.clone(),
            };
            let pending = workload.write_tls(&files)?;
            memory.client_tls_ca = Some(ca);
            Ok(pending)
        }
        Ok(TlsState::NoRelation | TlsState::Revoked) => {
            memory.client_tls_problem = None;
            memory.client_tls_ca = None;
            Ok(workload.remove_tls()?)
        }
        // Requested (first time, or a renewal): what is served stays.
        Ok(_) => Ok(Pending::None),
        Err(TlsError::Model(e)) => Err(e.into()),
        Err(e) => {
            tracing::warn!("client TLS: {e}");
            memory.client_tls_problem = Some(e.to_string());
            Ok(Pending::None)
        }
    }
}

fn with_newline(mut pem: String) -> String {
    pem.push('\n');
    pem
}

/// The `certificates` relation's hooks: sync the files; when they changed,
/// rewrite the instances' configs (TLS on or off) and make PgBouncer
/// reload; then the leader tells every client.
pub fn on_changed(
    model: &Model,
    memory: &mut Memory,
    situation: &Situation,
    workload: &Workload,
) -> Result<(), StepError> {
    let mut pending = sync_files(model, memory, workload)?;
    if pending != Pending::None {
        // Before the first config there is nothing to rewrite nor to
        // reload: the first serve renders with TLS.
        if let Some(config) = workload.read_config()? {
            pending = pending.max(workload.write_config(&config)?);
            memory.pending = memory.pending.max(pending);
            serve::take(memory, workload)?;
        }
    }
    answers::update_connection_info(model, memory, situation)
}

/// `secret-remove`: an old revision of the key's or a certificate's
/// secret goes.
pub fn on_secret_remove(
    model: &Model,
    id: &str,
    label: Option<&str>,
    revision: Option<u64>,
) -> Result<(), ModelError> {
    match requirer(model).remove_revision(model, id, label, revision) {
        Ok(_) => Ok(()),
        Err(TlsError::Model(e)) => Err(e),
        Err(e) => {
            tracing::warn!("client TLS: {e}");
            Ok(())
        }
    }
}

/// `secret-expired`: when it is this unit's certificate secret, a new CSR
/// is sent (the certificate in use stays until the new one comes).
pub fn on_secret_expired(model: &Model, label: Option<&str>) -> Result<(), ModelError> {
    match requirer(model).renew(model, label) {
        Ok(renewed) => {
            if renewed {
                tracing::info!("client TLS: certificate due for renewal; new CSR sent");
            }
            Ok(())
        }
        Err(TlsError::Model(e)) => Err(e),
        Err(e) => {
            tracing::warn!("client TLS renewal: {e}");
            Ok(())
        }
    }
}
