// A handler of `stop` (which Juju does not let a charm defer) returns
// `Outcome`: the compiler must say so in ops' own words.
use ops::events::Stop;
use ops::{Charm, Ctx, Framework, HandlerError, HandlerResult, Outcome};

pub struct C;

impl Charm for C {
    fn new(fw: &mut Framework<Self>) -> Result<Self, HandlerError> {
        fw.observe(C::on_stop)?;
        Ok(C)
    }
}

impl C {
    fn on_stop(&mut self, _: &Stop, _: &mut Ctx) -> HandlerResult<Outcome> {
        Ok(Outcome::Defer)
    }
}
