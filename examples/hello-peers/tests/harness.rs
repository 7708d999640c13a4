//! hello-peers through the Harness: the same dispatch Juju runs, in-process.

use hello_peers::{HelloPeers, PEERS};
use ops::Status;
use ops_testing::Harness;
use serde_json::json;

fn harness() -> Harness<HelloPeers> {
    Harness::from_charm_dir(env!("CARGO_MANIFEST_DIR")).unwrap()
}

#[test]
fn leader_defers_the_greeting_until_the_peer_relation_exists() {
    let mut h = harness();
    h.set_leader(true).unwrap();
    h.begin();
    h.update_config([("greeting", json!("hi"))]).unwrap();
    assert_eq!(
        h.notices().len(),
        1,
        "config-changed deferred: no peer relation yet"
    );
    assert_eq!(h.unit_status(), Status::waiting("no greeting yet"));
    let peers = h.add_relation(PEERS, "hello-peers").unwrap();
    assert!(
        h.notices().is_empty(),
        "re-emitted before relation-created, and done"
    );
    assert_eq!(h.get_relation_data(peers, "hello-peers")["greeting"], "hi");
    assert_eq!(h.unit_status(), Status::active("greeting: hi"));
}

#[test]
fn follower_copies_the_greeting_once_the_leader_shares_it() {
    let mut h = harness();
    h.begin_with_initial_hooks().unwrap();
    let peers = h.juju().relations_of("hello-peers", PEERS)[0];
    h.add_relation_unit(peers, "hello-peers/1").unwrap();
    assert_eq!(h.notices().len(), 1, "no greeting yet: deferred");
    h.update_relation_data(peers, "hello-peers", &[("greeting", "hey")])
        .unwrap();
    assert!(h.notices().is_empty());
    assert_eq!(
        h.get_relation_data(peers, "hello-peers/0")["seen-greeting"],
        "hey"
    );
    assert_eq!(h.unit_status(), Status::active("greeting: hey"));
}

#[test]
fn stored_state_counts_events_and_the_action_reports_it() {
    let mut h = harness();
    h.begin_with_initial_hooks().unwrap();
    // install, relation-created, config-changed, start.
    let out = h.run_action("events-seen", Default::default()).unwrap();
    assert_eq!(out.results["events-seen"], "4");
    assert_eq!(out.failure, None);
}
