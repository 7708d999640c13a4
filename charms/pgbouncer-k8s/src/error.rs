//! The error of a step that talks to the backend, the workload or Juju.

use ops::model::ModelError;

use crate::credentials::CredentialsError;
use crate::peers::{self, ClientsRoleError};
use crate::sql::SqlError;
use crate::workload::WorkloadError;

/// Why a step did not finish: the handler shows Waiting with the reason
/// and defers (a Juju failure fails the hook instead).
#[derive(Debug, thiserror::Error)]
pub enum StepError {
    /// Juju refused or failed.
    #[error(transparent)]
    Model(#[from] ModelError),
    /// PostgreSQL refused, or could not be reached.
    #[error(transparent)]
    Sql(#[from] SqlError),
    /// Pebble, or a file in the container.
    #[error(transparent)]
    Workload(#[from] WorkloadError),
    /// The application's secret could not be read (boxed: it is rare, and
    /// large beside the others).
    #[error(transparent)]
    Credentials(Box<CredentialsError>),
}

impl From<CredentialsError> for StepError {
    fn from(e: CredentialsError) -> Self {
        Self::Credentials(Box::new(e))
    }
}

impl From<ClientsRoleError> for StepError {
    fn from(e: ClientsRoleError) -> Self {
        match e {
            ClientsRoleError::Model(e) => e.into(),
            ClientsRoleError::Random(e) => WorkloadError::InvalidFile {
                path: peers::CLIENTS_ROLE.to_string(),
                reason: format!("cannot name the clients role: {e}"),
            }
            .into(),
        }
    }
}
