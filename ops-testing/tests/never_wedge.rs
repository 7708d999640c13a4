//! Never leak, never wedge: panics, restricted hooks and the unit-state
//! store, through the Harness (which runs the real `ops::dispatch`).

use ops::events::{CollectUnitStatus, ConfigChanged};
use ops::{Charm, Ctx, DispatchError, Framework, HandlerError, HandlerResult, Status, StoredState};
use ops_testing::{Harness, HarnessError};
use serde::{Deserialize, Serialize};
use serde_json::json;

const META: &str = r#"
name: wedge
config:
  options:
    panic: {type: boolean, default: false}
"#;

#[derive(Debug, Default, Serialize, Deserialize)]
struct Counter {
    changes: u32,
}

struct Wedge {
    counter: StoredState<Counter>,
}

impl Charm for Wedge {
    fn new(fw: &mut Framework<Self>) -> Result<Self, HandlerError> {
        let counter = fw.stored_state("counter")?;
        fw.observe(Self::on_config_changed)?
            .observe(Self::on_collect)?;
        Ok(Self { counter })
    }
}

impl Wedge {
    fn on_config_changed(&mut self, _: &ConfigChanged, ctx: &mut Ctx) -> HandlerResult {
        self.counter.get_mut().changes += 1;
        if ctx.model().config()?.get_bool("panic")?.unwrap_or(false) {
            panic!("index out of range in on_config_changed");
        }
        Ok(())
    }

    fn on_collect(&mut self, _: &CollectUnitStatus, _: &mut Ctx) -> HandlerResult<Status> {
        Ok(Status::active(""))
    }
}

#[test]
fn a_panicking_handler_is_logged_at_error_and_commits_nothing() {
    let mut harness = Harness::<Wedge>::new(META).unwrap();
    harness.begin();
    harness.update_config([("panic", json!(false))]).unwrap();
    assert_eq!(harness.charm().unwrap().counter.get().changes, 1);

    let err = harness.update_config([("panic", json!(true))]).unwrap_err();
    match &err {
        HarnessError::Dispatch(DispatchError::Panicked { message }) => {
            assert!(message.contains("index out of range"), "{message}");
        }
        other => panic!("expected a panic error, got {other:?}"),
    }
    let errors: Vec<_> = harness
        .logs()
        .into_iter()
        .filter(|l| l.level == "ERROR")
        .collect();
    assert!(
        errors.iter().any(|l| l
            .message
            .contains("index out of range in on_config_changed")),
        "{errors:?}"
    );
    // Nothing of the failed dispatch was committed: the counter is as the
    // last successful dispatch left it.
    harness.update_config([("panic", json!(false))]).unwrap();
    assert_eq!(harness.charm().unwrap().counter.get().changes, 2);
}
