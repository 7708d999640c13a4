//! pebble-workload through the Harness, against a fake Pebble on a real
//! unix socket: the layer, the pushed file, and restarts only on change.

use ops::Status;
use ops::pebble::{CheckLevel, ServiceAction, ServiceStartup};
use ops_testing::Harness;
use ops_testing::fake_pebble::ServiceEvent;
use pebble_workload::{CONTAINER, INDEX, PebbleWorkload, SERVICE, render_index};
use serde_json::json;

fn ready() -> Harness<PebbleWorkload> {
    let mut h = Harness::from_charm_dir(env!("CARGO_MANIFEST_DIR")).unwrap();
    h.begin_with_initial_hooks().unwrap();
    h.container_pebble_ready(CONTAINER).unwrap();
    h
}

fn index(h: &Harness<PebbleWorkload>) -> String {
    let pebble = h.container_pebble(CONTAINER).unwrap();
    std::fs::read_to_string(pebble.host_path(INDEX)).unwrap()
}

fn events(h: &Harness<PebbleWorkload>) -> Vec<ServiceEvent> {
    h.container_pebble(CONTAINER).unwrap().service_events()
}

#[test]
fn nothing_is_touched_until_pebble_is_ready() {
    let mut h = Harness::<PebbleWorkload>::from_charm_dir(env!("CARGO_MANIFEST_DIR")).unwrap();
    h.begin_with_initial_hooks().unwrap();
    assert_eq!(h.unit_status(), Status::waiting("waiting for Pebble"));
    h.update_config([("message", json!("early"))]).unwrap();
    let pebble = h.container_pebble(CONTAINER).unwrap();
    assert!(pebble.plan().services.is_empty());
    assert!(!pebble.host_path(INDEX).exists());

    h.container_pebble_ready(CONTAINER).unwrap();
    assert_eq!(index(&h), render_index("early"));
    assert_eq!(events(&h), [ServiceEvent::Start(SERVICE.into())]);
    assert_eq!(h.unit_status(), Status::active("serving on port 8080"));
}

#[test]
fn the_layer_has_the_service_and_its_check() {
    let h = ready();
    let plan = h.container_pebble(CONTAINER).unwrap().plan();
    let web = &plan.services[SERVICE];
    assert_eq!(
        web.command.as_deref(),
        Some("python3 -m http.server 8080 --bind 127.0.0.1 --directory /srv/site")
    );
    assert_eq!(web.startup, Some(ServiceStartup::Enabled));
    assert_eq!(web.on_check_failure["up"], ServiceAction::Restart);
    let up = &plan.checks["up"];
    assert_eq!(up.level, Some(CheckLevel::Alive));
    assert_eq!(
        up.http.as_ref().and_then(|h| h.url.as_deref()),
        Some("http://127.0.0.1:8080/")
    );
}

#[test]
fn a_changed_file_restarts_the_service_and_an_unchanged_one_does_not() {
    let mut h = ready();
    assert_eq!(index(&h), render_index("hello"));
    h.container_pebble(CONTAINER)
        .unwrap()
        .clear_service_events();

    // The same config again, and other events: no restart.
    h.update_config([("message", json!("hello"))]).unwrap();
    h.fire_hook("update-status").unwrap();
    h.container_pebble_ready(CONTAINER).unwrap();
    assert_eq!(events(&h), []);

    h.update_config([("message", json!("<b>new</b> & improved"))])
        .unwrap();
    assert_eq!(index(&h), render_index("<b>new</b> & improved"));
    assert!(index(&h).contains("&lt;b&gt;new&lt;/b&gt; &amp; improved"));
    assert_eq!(events(&h), [ServiceEvent::Restart(SERVICE.into())]);
}

#[test]
fn a_new_port_changes_the_layer_and_restarts_once() {
    let mut h = ready();
    h.container_pebble(CONTAINER)
        .unwrap()
        .clear_service_events();
    h.update_config([("port", json!(9090))]).unwrap();
    let plan = h.container_pebble(CONTAINER).unwrap().plan();
    assert!(
        plan.services[SERVICE]
            .command
            .as_deref()
            .unwrap()
            .contains(" 9090 ")
    );
    assert_eq!(
        plan.checks["up"].http.as_ref().unwrap().url.as_deref(),
        Some("http://127.0.0.1:9090/")
    );
    assert_eq!(events(&h), [ServiceEvent::Restart(SERVICE.into())]);
    assert_eq!(h.unit_status(), Status::active("serving on port 9090"));
}

#[test]
fn a_port_that_is_not_one_blocks_and_leaves_the_workload_alone() {
    let mut h = ready();
    h.container_pebble(CONTAINER)
        .unwrap()
        .clear_service_events();
    h.update_config([("port", json!(70000))]).unwrap();
    assert_eq!(
        h.unit_status(),
        Status::blocked("port must be between 1 and 65535")
    );
    assert_eq!(events(&h), []);
    assert!(
        h.container_pebble(CONTAINER).unwrap().plan().services[SERVICE]
            .command
            .as_deref()
            .unwrap()
            .contains(" 8080 ")
    );
}
