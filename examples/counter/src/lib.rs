//! `counter`: stored state and deferral.
//!
//! - Every `update-status` adds one to `ticks`, a field of [`Tally`] kept
//!   in [`StoredState`]: it is saved when the dispatch commits and read back
//!   by the next process.
//! - While the `paused` config option is true, the handler returns
//!   [`Outcome::Defer`]: the tick waits in the deferred queue, and every
//!   later dispatch hands it back to this handler first. Once `paused` is
//!   false again the waiting ticks are counted, oldest first.
//! - The binary keeps all of this in Juju's unit state
//!   ([`ops::StateLocation::Juju`]), so neither the count nor the waiting
//!   tick is lost when Kubernetes replaces the pod.

use ops::events::{CollectUnitStatus, UpdateStatus};
use ops::{Charm, Ctx, Framework, HandlerError, HandlerResult, Outcome, Status, StoredState};
use serde::{Deserialize, Serialize};

/// What the charm remembers between dispatches.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Tally {
    /// Ticks counted so far.
    pub ticks: u64,
}

/// The charm.
pub struct Counter {
    tally: StoredState<Tally>,
}

impl Charm for Counter {
    fn new(fw: &mut Framework<Self>) -> Result<Self, HandlerError> {
        let tally = fw.stored_state("tally")?;
        fw.observe(Self::on_update_status)?
            .observe(Self::on_collect_status)?;
        Ok(Self { tally })
    }
}

fn paused(ctx: &Ctx) -> Result<bool, HandlerError> {
    Ok(ctx
        .model()
        .config()?
        .get::<bool>("paused")?
        .unwrap_or(false))
}

impl Counter {
    /// The ticks counted so far (as this dispatch left them).
    pub fn ticks(&self) -> u64 {
        self.tally.get().ticks
    }

    fn on_update_status(&mut self, _: &UpdateStatus, ctx: &mut Ctx) -> HandlerResult<Outcome> {
        if paused(ctx)? {
            return Ok(Outcome::Defer);
        }
        self.tally.get_mut().ticks += 1;
        Ok(Outcome::Done)
    }

    fn on_collect_status(&mut self, _: &CollectUnitStatus, ctx: &mut Ctx) -> HandlerResult<Status> {
        let ticks = self.ticks();
        Ok(if paused(ctx)? {
            Status::maintenance(format!("paused after {ticks} ticks"))
        } else {
            Status::active(format!("{ticks} ticks"))
        })
    }
}
