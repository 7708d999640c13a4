//! What a handler needs to know before it acts, asked once: whether this
//! unit leads, the settings in force, whether Pebble answers, and the peer
//! relation. Steps take it instead of asking Juju and Pebble again.

use ops::Model;
use ops::model::{Container, ModelError, Relation};

use crate::memory::{InForce, Memory};
use crate::peers;
use crate::workload::CONTAINER;

/// This unit's situation in this dispatch.
#[derive(Debug)]
pub struct Situation {
    /// `is-leader`.
    pub leader: bool,
    /// The settings in force (and the bad option, if one is).
    pub settings: InForce,
    /// Whether Pebble in the workload container answers.
    pub pebble_up: bool,
    /// The peer relation, once it exists.
    pub peers: Option<Relation>,
}

impl Situation {
    /// Asks Juju, once; `pebble_up` is what Pebble answered in this
    /// dispatch (each ask is a request to it).
    pub fn of(model: &Model, memory: &mut Memory, pebble_up: bool) -> Result<Self, ModelError> {
        Ok(Self {
            leader: model.is_leader()?,
            settings: memory.settings_in_force(model)?,
            pebble_up,
            peers: peers::relation(model)?,
        })
    }

    /// The workload container of `model`.
    pub fn container(model: &Model) -> Result<Container, ModelError> {
        model.container(CONTAINER)
    }
}
