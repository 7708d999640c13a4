//! ops
pub mod backend;
mod context;
mod meta;

pub use context::{ContextError, JujuContext};
pub use meta::{
    ActionMeta, CharmMeta, ConfigOption, ContainerMeta, Endpoint, EndpointRole, MetaError,
};
