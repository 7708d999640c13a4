//! Write Juju charms in Rust.
//!
//! Start with [`main`] and [`Framework::observe`]: a charm is a type that
//! implements [`Charm`]; its `new` registers handlers for the events it cares
//! about, and its binary's `main` calls `ops::main::<MyCharm>()`. Juju runs
//! that binary once per event; ops reads the event from the environment,
//! re-emits deferred events, calls the handlers, collects status and commits.
//!
//! ```no_run
//! use ops::events::{CollectUnitStatus, PebbleReady};
//! use ops::{Charm, Ctx, Framework, HandlerError, HandlerResult, Outcome, Status};
//!
//! struct MyCharm;
//!
//! impl Charm for MyCharm {
//!     fn new(fw: &mut Framework<Self>) -> Result<Self, HandlerError> {
//!         fw.observe_container("workload", Self::on_pebble_ready)?
//!             .observe(Self::on_collect_status)?;
//!         Ok(MyCharm)
//!     }
//! }
//!
//! impl MyCharm {
//!     fn on_pebble_ready(&mut self, _: &PebbleReady, ctx: &mut Ctx) -> HandlerResult<Outcome> {
//!         let container = ctx.model().container("workload")?;
//!         if !container.can_connect() {
//!             return Ok(Outcome::Defer);
//!         }
//!         container.push("/etc/app.conf", b"port = 80\n", &Default::default())?;
//!         Ok(Outcome::Done)
//!     }
//!
//!     fn on_collect_status(&mut self, _: &CollectUnitStatus, _: &mut Ctx) -> HandlerResult<Status> {
//!         Ok(Status::active(""))
//!     }
//! }
//!
//! fn main() -> std::process::ExitCode {
//!     ops::main::<MyCharm>()
//! }
//! ```
//!
//! The modules, in the order data flows through a dispatch:
//! [`JujuContext`] (the `JUJU_*` environment) → [`dispatch()`] (the engine) →
//! [`framework`] (observers, outcomes, stored state) → [`model`] (relations,
//! config, status, secrets, containers) → [`backend`] (the hook tools) and
//! [`pebble`] (the workload) → [`storage`] (what survives the process).
//! `ops-testing` plugs a fake backend and a fake Pebble into the same engine.

#![deny(missing_docs)]

pub mod backend;
mod charm;
#[cfg(feature = "codegen")]
pub mod codegen;
mod context;
pub mod declared;
mod dispatch;
pub mod framework;
mod juju_version;
mod log;
mod meta;
pub mod model;
pub mod pebble;
pub mod redact;
#[doc(hidden)]
pub mod rfc3339;
#[doc(hidden)]
pub mod scratch;
mod secret_uri;
pub mod storage;
mod yaml;

pub use charm::Charm;
pub use context::{ContextError, JujuContext, OPERATOR_DISPATCH_VAR};
pub use dispatch::{
    CONTAINERS_DIR_VAR, DispatchError, DispatchSetup, Dispatched, MainOptions, StateLocation,
    dispatch, main, main_with,
};
pub use framework::events;
pub use framework::events::CustomEvent;
pub use framework::{
    AnyEvent, Ctx, EmittedEvent, Framework, FrameworkError, HandlerError, HandlerResult, Outcome,
    StoredState,
};
pub use juju_version::{JujuVersion, JujuVersionError};
pub use log::JujuLogSubscriber;
pub use meta::{
    ActionMeta, Assumes, AssumesCondition, AssumesGroup, CharmLinks, CharmMeta, CharmUser,
    ConfigOption, ContainerBase, ContainerMeta, ContainerMount, Endpoint, EndpointRole, MetaError,
    OptionKind, ResourceMeta, StorageMeta,
};
pub use model::{
    Config, Container, Databag, Member, Model, ModelError, Relation, Secret, SecretContent,
    SecretOptions, Status,
};
/// `tracing`, re-exported: its macros inside a dispatch reach `juju-log`.
pub use tracing;
pub use yaml::YamlError;
