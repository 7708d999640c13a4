//! `hello`: the smallest charm. Its unit status is the `greeting` config
//! option; an empty greeting blocks the unit until one is set.

use ops::events::CollectUnitStatus;
use ops::{Charm, Ctx, Framework, HandlerError, HandlerResult, Status};

/// The charm.
pub struct Hello;

impl Charm for Hello {
    fn new(fw: &mut Framework<Self>) -> Result<Self, HandlerError> {
        fw.observe(Self::on_collect_status)?;
        Ok(Hello)
    }
}

impl Hello {
    /// Runs at the end of every dispatch, whatever the event.
    fn on_collect_status(&mut self, _: &CollectUnitStatus, ctx: &mut Ctx) -> HandlerResult<Status> {
        let config = ctx.model().config()?;
        let greeting = config.get::<String>("greeting")?;
        Ok(match greeting.as_deref().map(str::trim) {
            Some(greeting) if !greeting.is_empty() => Status::active(greeting),
            _ => Status::blocked("set the greeting config option"),
        })
    }
}
