//! Why a dispatch failed: what the framework's running of handlers and the
//! dispatch around it (context, metadata, stored state) can each report.
//! Here, in the framework, so that the framework need not import the
//! dispatch that drives it; `ops::DispatchError` is the public path.

use super::resolve::ResolveError;
use super::{FrameworkError, HandlerError};
use crate::context::ContextError;
use crate::meta::MetaError;
use crate::model::ModelError;
use crate::storage::StorageError;

/// Why a dispatch failed. Nothing was committed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DispatchError {
    /// The `JUJU_*` environment is missing or malformed.
    #[error(transparent)]
    Context(#[from] ContextError),
    /// The charm's metadata cannot be read.
    #[error(transparent)]
    Meta(#[from] MetaError),
    /// Persisted state cannot be loaded or saved.
    #[error(transparent)]
    Storage(#[from] StorageError),
    /// The event lacks data Juju should have given.
    #[error(transparent)]
    Resolve(#[from] ResolveError),
    /// Observer or stored-state registration went wrong.
    #[error(transparent)]
    Framework(#[from] FrameworkError),
    /// `Charm::new` failed.
    #[error("building the charm failed: {0}")]
    Construct(#[source] HandlerError),
    /// A handler returned an error.
    #[error("handler {observer} failed on {handle}: {source}")]
    Handler {
        /// The event's handle path.
        handle: String,
        /// The observer.
        observer: String,
        /// The handler's error.
        #[source]
        source: HandlerError,
    },
    /// Setting status or flushing relation data failed.
    #[error(transparent)]
    Model(#[from] ModelError),
    /// The charm panicked (in `Charm::new` or a handler). The message was
    /// logged at ERROR through `juju-log`; nothing was committed.
    #[error("the charm panicked: {message}")]
    Panicked {
        /// The panic's message (`<non-string panic payload>` if it had none).
        message: String,
    },
}
