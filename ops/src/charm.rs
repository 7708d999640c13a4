//! The `Charm` trait.

use crate::framework::{Framework, HandlerError};

/// A charm: built once per dispatch, where it registers its observers.
///
/// ```
/// use ops::{Charm, Ctx, Framework, HandlerError, HandlerResult, Outcome, Status};
/// use ops::events::{CollectUnitStatus, ConfigChanged};
///
/// struct Demo;
///
/// impl Charm for Demo {
///     fn new(fw: &mut Framework<Self>) -> Result<Self, HandlerError> {
///         fw.observe(Self::on_config_changed)?
///             .observe(Self::on_collect_status)?;
///         Ok(Demo)
///     }
/// }
///
/// impl Demo {
///     fn on_config_changed(&mut self, _: &ConfigChanged, ctx: &mut Ctx) -> HandlerResult<Outcome> {
///         let config = ctx.model().config()?;
///         if config.get::<i64>("port")?.is_none() {
///             return Ok(Outcome::Defer);
///         }
///         Ok(Outcome::Done)
///     }
///
///     fn on_collect_status(&mut self, _: &CollectUnitStatus, _: &mut Ctx) -> HandlerResult<Status> {
///         Ok(Status::active(""))
///     }
/// }
/// ```
pub trait Charm: Sized + 'static {
    /// Builds the charm and registers its observers and stored state.
    ///
    /// An error here fails the dispatch before any event is emitted.
    fn new(framework: &mut Framework<Self>) -> Result<Self, HandlerError>;
}
