//! `standalone-charm`, a charm written with ops-rs.
//!
//! It shows its `motd` config option as the unit status, and is blocked
//! while it is empty. The binary is what Juju runs as `dispatch`.

use ops::events::CollectUnitStatus;
use ops::{Charm, Ctx, Framework, HandlerError, HandlerResult, Status};

/// The charm: no state, one status.
pub struct StandaloneCharm;

impl Charm for StandaloneCharm {
    fn new(fw: &mut Framework<Self>) -> Result<Self, HandlerError> {
        fw.observe(Self::on_collect_status)?;
        Ok(Self)
    }
}

impl StandaloneCharm {
    fn on_collect_status(&mut self, _: &CollectUnitStatus, ctx: &mut Ctx) -> HandlerResult<Status> {
        let config = ctx.model().config()?;
        let motd = config.get::<String>("motd")?;
        Ok(match motd.as_deref().map(str::trim) {
            None | Some("") => Status::blocked("set the motd config option"),
            Some(motd) => Status::active(motd),
        })
    }
}

fn main() -> std::process::ExitCode {
    ops::main::<StandaloneCharm>()
}

#[cfg(test)]
mod tests {
    use super::StandaloneCharm;
    use ops::Status;
    use ops_testing::Harness;
    use serde_json::json;

    #[test]
    fn blocked_until_the_motd_is_set_then_shows_it() {
        let charm_dir = env!("CARGO_MANIFEST_DIR");
        let mut h = Harness::<StandaloneCharm>::from_charm_dir(charm_dir).unwrap();
        h.begin_with_initial_hooks().unwrap();
        assert_eq!(
            h.unit_status(),
            Status::blocked("set the motd config option")
        );
        h.update_config([("motd", json!("hello from a repo of its own"))])
            .unwrap();
        assert_eq!(
            h.unit_status(),
            Status::active("hello from a repo of its own")
        );
        h.update_config([("motd", json!("  "))]).unwrap();
        assert_eq!(
            h.unit_status(),
            Status::blocked("set the motd config option")
        );
    }
}
