//! Stored state across charm upgrades: fields added to a `StoredState<T>`
//! struct take their default, removed ones are ignored, and a value that no
//! longer fits is an error naming its key (and no value). In Juju's unit
//! state, what ops-rs kept before one key per deferred notice still loads.

use ops::StoredState;
use ops::events::ConfigChanged;
use ops::{Charm, Ctx, DispatchError, Framework, FrameworkError, HandlerError, HandlerResult};
use ops_testing::{Harness, HarnessError};
use serde::{Deserialize, Serialize};
use serde_json::json;

const META: &str = "name: upgraded\n";

/// Version 2 of the charm's stored struct: `port` and `peers` are new.
#[derive(Debug, Serialize, Deserialize)]
struct Settings {
    changes: u32,
    port: u16,
    peers: Vec<String>,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            changes: 0,
            port: 6432,
            peers: vec!["none".into()],
        }
    }
}

struct Upgraded {
    settings: StoredState<Settings>,
}

impl Charm for Upgraded {
    fn new(fw: &mut Framework<Self>) -> Result<Self, HandlerError> {
        let settings = fw.stored_state("settings")?;
        fw.observe(Self::on_config_changed)?;
        Ok(Self { settings })
    }
}

impl Upgraded {
    fn on_config_changed(&mut self, _: &ConfigChanged, _: &mut Ctx) -> HandlerResult {
        self.settings.get_mut().changes += 1;
        Ok(())
    }
}

/// A Harness whose state file holds `stored` as the settings, as version 1
/// of the charm left it.
fn harness_with_saved(stored: serde_json::Value) -> Harness<Upgraded> {
    let mut harness = Harness::<Upgraded>::new(META).unwrap();
    harness.begin();
    let state = json!({
        "format": 1,
        "event_count": 3,
        "notices": [],
        "stored": { "Upgraded/StoredState[settings]": stored },
    });
    std::fs::create_dir_all(harness.charm_dir()).unwrap();
    std::fs::write(
        harness.charm_dir().join(ops::storage::STATE_FILE_NAME),
        state.to_string(),
    )
    .unwrap();
    harness
}

#[test]
fn a_field_added_in_an_upgrade_takes_its_default_and_removed_ones_are_ignored() {
    let mut harness = harness_with_saved(json!({"changes": 4, "legacy_flag": true}));
    harness.fire_hook("upgrade-charm").unwrap();
    harness.fire_hook("config-changed").unwrap();
    let settings = harness.charm().unwrap().settings.get();
    assert_eq!(settings.changes, 5);
    assert_eq!(settings.port, 6432);
    assert_eq!(settings.peers, ["none"]);
}

#[test]
fn a_saved_value_of_another_type_names_the_key_and_not_the_value() {
    let mut harness = harness_with_saved(json!({"changes": "hunter2"}));
    match harness.fire_hook("config-changed").unwrap_err() {
        HarnessError::Dispatch(DispatchError::Construct(err)) => {
            let err = err
                .downcast_ref::<FrameworkError>()
                .expect("a framework error");
            assert!(
                matches!(err, FrameworkError::StoredStateType { .. }),
                "{err}"
            );
            let shown = format!("{err} {err:?}");
            assert!(shown.contains("Upgraded/StoredState[settings]"), "{shown}");
            assert!(!shown.contains("hunter2"), "{shown}");
        }
        other => panic!("expected StoredStateType, got {other:?}"),
    }
}
