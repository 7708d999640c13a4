//! hello through the Harness: the same dispatch Juju runs, in-process.

use hello::Hello;
use ops::Status;
use ops_testing::Harness;
use serde_json::json;

fn harness() -> Harness<Hello> {
    Harness::from_charm_dir(env!("CARGO_MANIFEST_DIR")).unwrap()
}

#[test]
fn the_status_is_the_greeting() {
    let mut h = harness();
    h.begin_with_initial_hooks().unwrap();
    assert_eq!(h.unit_status(), Status::active("hello"));
    h.update_config([("greeting", json!("bonjour"))]).unwrap();
    assert_eq!(h.unit_status(), Status::active("bonjour"));
}

#[test]
fn an_empty_greeting_blocks_the_unit() {
    let mut h = harness();
    h.begin_with_initial_hooks().unwrap();
    h.update_config([("greeting", json!("  "))]).unwrap();
    assert_eq!(
        h.unit_status(),
        Status::blocked("set the greeting config option")
    );
}
