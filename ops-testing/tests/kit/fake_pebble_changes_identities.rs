//! Changes (listing, aborting), identities, `notify` with `repeat_after`,
//! and the fake Pebble's answer on every route of Pebble's `api.go`,
//! through `ops::pebble::Client` and raw HTTP, held to Pebble's
//! `api_changes.go`, `api_identities.go`, `identities.go` and `daemon.go`.

use std::collections::BTreeMap;
use std::time::Duration;

use ops::pebble::{ChangeState, Identity, IdentityAccess, Layer, NoticeType};
use ops_testing::fake_pebble::CheckRunError;
use serde_json::{Value, json};

use crate::common;
use common::{PebbleSetup, api_error, raw, raw_json, setup};

/// `web` and `db` services; `up`, a check whose `perform-check` change
/// stays in progress while it runs.
const LAYER: &str = "\
services:
  web:
    override: replace
    command: web
  db:
    override: replace
    command: db
checks:
  up:
    override: replace
    level: alive
    http:
      url: http://127.0.0.1:8080/
";

fn add_layer(s: &PebbleSetup) {
    s.client
        .add_layer("base", &Layer::from_yaml(LAYER).unwrap(), false)
        .unwrap();
}

/// Asserts `reply` is Pebble's error envelope with this status and message.
fn assert_pebble_error(reply: &(u16, Value), status: u16, message: &str) {
    let (code, body) = reply;
    assert_eq!(*code, status, "{body}");
    assert_eq!(body["type"], "error", "{body}");
    assert_eq!(body["status-code"], status, "{body}");
    assert!(
        body["status"].as_str().is_some_and(|s| !s.is_empty()),
        "{body}"
    );
    assert_eq!(body["result"]["message"], message, "{body}");
}

#[test]
fn get_changes_selects_by_state_and_service() {
    let s = setup();
    add_layer(&s);
    let start_web = s.client.start_services(&["web"]).unwrap();
    let start_db = s.client.start_services(&["db"]).unwrap();

    let ids = |changes: Vec<ops::pebble::Change>| -> Vec<String> {
        changes.into_iter().map(|c| c.id).collect()
    };
    let ready = ids(s.client.get_changes(ChangeState::Ready, None).unwrap());
    assert_eq!(ready, [start_web.id.clone(), start_db.id.clone()]);
    // The check's perform-check change runs for as long as the check.
    let running = s.client.get_changes(ChangeState::InProgress, None).unwrap();
    assert_eq!(running.len(), 1, "{running:?}");
    assert_eq!(running[0].kind, "perform-check");
    assert!(!running[0].ready);
    let all = ids(s.client.get_changes(ChangeState::All, None).unwrap());
    assert_eq!(all.len(), 3);
    assert_eq!(
        ids(s.client.get_changes(ChangeState::All, Some("web")).unwrap()),
        [start_web.id]
    );
    assert!(
        s.client
            .get_changes(ChangeState::All, Some("nope"))
            .unwrap()
            .is_empty()
    );
    // Pebble's default select is in-progress, and it refuses others.
    let (status, body) = raw_json(&s.pebble, "GET", "/v1/changes", None);
    assert_eq!(
        (status, body["result"].as_array().map(Vec::len)),
        (200, Some(1))
    );
    assert_pebble_error(
        &raw_json(&s.pebble, "GET", "/v1/changes?select=done", None),
        400,
        "select should be one of: all,in-progress,ready",
    );
}

#[test]
fn abort_change_holds_a_running_change() {
    let s = setup();
    add_layer(&s);
    let check = s.pebble.check_info("up").unwrap();
    let change_id = check.change_id.clone().unwrap();

    let aborted = s.client.abort_change(&change_id).unwrap();
    // Pebble answers as the change is right after the abort.
    assert_eq!(aborted.status, "Abort");
    assert!(!aborted.ready);
    assert_eq!(aborted.tasks[0].status, "Abort");
    // Then its runner holds what it cannot undo.
    let later = s.client.get_change(&change_id).unwrap();
    assert_eq!((later.status.as_str(), later.ready), ("Hold", true));
    assert!(
        s.client
            .get_changes(ChangeState::InProgress, None)
            .unwrap()
            .is_empty()
    );
    // Pebble runs the check no more.
    assert_eq!(
        s.pebble.fail_check("up", 1),
        Err(CheckRunError::NotRunning("up".into()))
    );
}

#[test]
fn abort_change_errors_as_pebble() {
    let s = setup();
    add_layer(&s);
    let done = s.client.start_services(&["web"]).unwrap();
    assert_eq!(
        api_error(s.client.abort_change(&done.id)),
        (
            400,
            format!("cannot abort change {} with nothing pending", done.id)
        )
    );
    assert_eq!(
        api_error(s.client.abort_change("999")),
        (404, "cannot find change with id \"999\"".into())
    );
    let running = s.pebble.check_info("up").unwrap().change_id.unwrap();
    let target = format!("/v1/changes/{running}");
    assert_pebble_error(
        &raw_json(&s.pebble, "POST", &target, Some(r#"{"action":"undo"}"#)),
        400,
        "invalid action \"undo\"",
    );
    let (status, body) = raw_json(&s.pebble, "POST", &target, Some("{"));
    assert_eq!(status, 400);
    assert!(
        body["result"]["message"]
            .as_str()
            .unwrap()
            .starts_with("cannot decode data from request body: "),
        "{body}"
    );
    // Neither bad request aborted it.
    assert!(!s.client.get_change(&running).unwrap().ready);
}

#[test]
fn identities_replace_read_and_remove() {
    let s = setup();
    assert!(s.client.get_identities().unwrap().is_empty());
    let hash = "$6$salt$0123456789abcdef";
    s.client
        .replace_identities(&BTreeMap::from([
            (
                "alice".to_string(),
                Some(Identity::local(IdentityAccess::Admin, 1000)),
            ),
            (
                "bob".to_string(),
                Some(Identity::basic(IdentityAccess::Read, hash).with_local(1001)),
            ),
        ]))
        .unwrap();
    let read = s.client.get_identities().unwrap();
    assert_eq!(read["alice"], Identity::local(IdentityAccess::Admin, 1000));
    assert_eq!(read["bob"].access, IdentityAccess::Read);
    assert_eq!(read["bob"].local.as_ref().unwrap().user_id, 1001);
    // Pebble never gives a password hash back.
    assert_eq!(read["bob"].basic.as_ref().unwrap().password, "*****");
    let (_, _, body) = raw(&s.pebble, "GET", "/v1/identities", None);
    assert!(!body.contains(hash), "{body}");

    // Replace: `None` removes, others are added or replaced.
    s.client
        .replace_identities(&BTreeMap::from([
            ("alice".to_string(), None),
            (
                "bob".to_string(),
                Some(Identity::local(IdentityAccess::Metrics, 1001)),
            ),
            (
                "carol".to_string(),
                Some(Identity::local(IdentityAccess::Untrusted, 1002)),
            ),
        ]))
        .unwrap();
    let read = s.client.get_identities().unwrap();
    assert_eq!(read.keys().collect::<Vec<_>>(), ["bob", "carol"]);
    assert_eq!(read["bob"], Identity::local(IdentityAccess::Metrics, 1001));

    s.client.remove_identities(&["bob"]).unwrap();
    assert_eq!(
        s.client
            .get_identities()
            .unwrap()
            .keys()
            .collect::<Vec<_>>(),
        ["carol"]
    );
}

#[test]
fn invalid_identities_change_nothing() {
    let s = setup();
    let alice = BTreeMap::from([(
        "alice".to_string(),
        Some(Identity::local(IdentityAccess::Admin, 1000)),
    )]);
    s.client.replace_identities(&alice).unwrap();
    let replace = |name: &str, identity: Identity| {
        let mut all = BTreeMap::from([(
            "dave".to_string(),
            Some(Identity::local(IdentityAccess::Read, 2000)),
        )]);
        all.insert(name.to_string(), Some(identity));
        api_error(s.client.replace_identities(&all))
    };
    assert_eq!(
        replace("eve", Identity::local(IdentityAccess::Admin, 1000)),
        (
            400,
            "cannot have multiple identities with user ID 1000 (alice, eve)".into()
        )
    );
    assert_eq!(
        replace("eve", Identity::basic(IdentityAccess::Read, "")),
        (
            400,
            "invalid identity for \"eve\": basic identity must specify password (hashed)".into()
        )
    );
    assert_eq!(
        replace(
            "eve",
            Identity::local(IdentityAccess::Other("root".into()), 3000)
        ),
        (
            400,
            "invalid identity for \"eve\": invalid access value \"root\", must be \"admin\", \
             \"read\", \"metrics\", or \"untrusted\""
                .into()
        )
    );
    let (status, message) = replace("9lives", Identity::local(IdentityAccess::Read, 3000));
    assert_eq!(status, 400);
    assert!(
        message.contains("must start with an alphabetic character"),
        "{message}"
    );
    let (status, message) = replace("eve", Identity::cert(IdentityAccess::Read, "not PEM"));
    assert_eq!(
        (status, message.as_str()),
        (
            400,
            "invalid identity for \"eve\": cert identity must include a PEM-encoded certificate"
        )
    );
    assert_eq!(
        api_error(s.client.remove_identities(&["alice", "zed"])),
        (400, "identities do not exist: zed".into())
    );
    // None of it changed anything: dave was never added, alice stays.
    let read = s.client.get_identities().unwrap();
    assert_eq!(read.keys().collect::<Vec<_>>(), ["alice"]);
}

#[test]
fn identity_actions_and_their_errors_as_pebble() {
    let s = setup();
    let post = |body: Value| raw_json(&s.pebble, "POST", "/v1/identities", Some(&body.to_string()));
    let alice = json!({"access": "admin", "local": {"user-id": 1000}});
    let (status, body) = post(json!({"action": "add", "identities": {"alice": alice}}));
    assert_eq!((status, &body["result"]), (200, &Value::Null), "{body}");
    assert_pebble_error(
        &post(json!({"action": "add", "identities": {"alice": alice}})),
        400,
        "identities already exist: alice",
    );
    assert_pebble_error(
        &post(json!({"action": "add", "identities": {"bob": null}})),
        400,
        "identity value for \"bob\" must not be null for add operation",
    );
    assert_pebble_error(
        &post(json!({"action": "update", "identities": {"bob": alice}})),
        400,
        "identities do not exist: bob",
    );
    let read_only = json!({"access": "read", "local": {"user-id": 1000}});
    let (status, _) = post(json!({"action": "update", "identities": {"alice": read_only}}));
    assert_eq!(status, 200);
    assert_pebble_error(
        &post(json!({"action": "remove", "identities": {"alice": alice}})),
        400,
        "identity value for \"alice\" must be null for remove operation",
    );
    assert_pebble_error(
        &post(json!({"action": "rename", "identities": {}})),
        400,
        "invalid action \"rename\", must be \"add\", \"update\", \"replace\", or \"remove\"",
    );
    assert_pebble_error(
        &post(json!({"action": "add", "identities": {"bob": {"access": "read", "local": {}}}})),
        400,
        "invalid identity for \"bob\": local identity must specify user-id",
    );
    assert_pebble_error(
        &post(json!({"action": "add", "identities": {"bob": {"local": {"user-id": 5}}}})),
        400,
        "invalid identity for \"bob\": access value must be specified (\"admin\", \"read\", \
         \"metrics\", or \"untrusted\")",
    );
    assert_pebble_error(
        &post(json!({"action": "add", "identities": {"bob": {"access": "read"}}})),
        400,
        "invalid identity for \"bob\": identity must have at least one type (\"local\", \
         \"basic\", or \"cert\")",
    );
    assert_eq!(
        s.client.get_identities().unwrap()["alice"].access,
        IdentityAccess::Read
    );
}

#[test]
fn notify_with_repeat_after_and_get_notice() {
    let s = setup();
    let data = BTreeMap::from([("host".to_string(), "db-0".to_string())]);
    let id = s
        .client
        .notify_with(
            NoticeType::Custom,
            "example.com/db-ready",
            &data,
            Some(Duration::from_secs(3600)),
        )
        .unwrap();
    let first = s.client.get_notice(&id).unwrap();
    assert_eq!(first.repeat_after.as_deref(), Some("1h0m0s"));
    assert_eq!(first.last_data, data);
    // Within repeat-after: counted, but not repeated.
    let again = s
        .client
        .notify_with(
            NoticeType::Custom,
            "example.com/db-ready",
            &BTreeMap::new(),
            Some(Duration::from_secs(3600)),
        )
        .unwrap();
    assert_eq!(again, id);
    let second = s.client.get_notice(&id).unwrap();
    assert_eq!(second.occurrences, 2);
    assert_eq!(second.last_repeated, first.last_repeated);
    assert_ne!(second.last_occurred, first.last_occurred);
    // Only custom notices may be added, and unknown ids are 404.
    assert_eq!(
        api_error(s.client.notify_with(
            NoticeType::Warning,
            "example.com/x",
            &BTreeMap::new(),
            None
        )),
        (
            400,
            "invalid type \"warning\" (can only add \"custom\" notices)".into()
        )
    );
    assert_eq!(
        api_error(s.client.get_notice("999")),
        (404, "cannot find notice with ID \"999\"".into())
    );
}

#[test]
fn every_pebble_route_answers_in_pebbles_shape() {
    let s = setup();
    add_layer(&s);
    let done = s.client.start_services(&["web"]).unwrap().id;
    let (change, wait) = (
        format!("/v1/changes/{done}"),
        format!("/v1/changes/{done}/wait"),
    );
    // (method, target, body, status): each route of Pebble's api.go but
    // the exec WebSockets (held to Pebble in pebble_exec.rs).
    let routes: &[(&str, &str, Option<&str>, u16)] = &[
        ("GET", "/v1/system-info", None, 200),
        ("GET", "/v1/health", None, 200),
        ("GET", "/v1/changes", None, 200),
        ("GET", &change, None, 200),
        ("POST", &change, Some(r#"{"action":"abort"}"#), 400),
        (
            "POST",
            "/v1/changes/999",
            Some(r#"{"action":"abort"}"#),
            404,
        ),
        ("GET", &wait, None, 200),
        ("GET", "/v1/services", None, 200),
        ("POST", "/v1/services", Some(r#"{"action":"start"}"#), 400),
        ("GET", "/v1/services/web", None, 400),
        ("POST", "/v1/services/web", Some("{}"), 400),
        ("GET", "/v1/plan?format=yaml", None, 200),
        ("POST", "/v1/layers", Some(r#"{"action":"x"}"#), 400),
        ("GET", "/v1/files?action=list&path=/", None, 200),
        ("POST", "/v1/files", Some("{}"), 400),
        ("POST", "/v1/exec", Some("{}"), 400),
        ("POST", "/v1/signals", Some("{}"), 400),
        ("GET", "/v1/checks", None, 200),
        ("POST", "/v1/checks", Some(r#"{"action":"start"}"#), 400),
        (
            "POST",
            "/v1/checks/refresh",
            Some(r#"{"name":"nope"}"#),
            404,
        ),
        ("GET", "/v1/notices", None, 200),
        ("POST", "/v1/notices", Some(r#"{"action":"x"}"#), 400),
        ("GET", "/v1/notices/999", None, 404),
        ("GET", "/v1/identities", None, 200),
        ("POST", "/v1/identities", Some(r#"{"action":"x"}"#), 400),
        ("POST", "/v1/pairing", Some(r#"{"action":"pair"}"#), 401),
        ("GET", "/v1/metrics", None, 500),
    ];
    for &(method, target, body, status) in routes {
        let (code, reply) = raw_json(&s.pebble, method, target, body);
        assert_eq!(code, status, "{method} {target}: {reply}");
        assert_eq!(reply["status-code"], status, "{method} {target}: {reply}");
        let kind = if status < 400 { "sync" } else { "error" };
        assert_eq!(reply["type"], kind, "{method} {target}: {reply}");
        if status >= 400 {
            assert!(
                reply["result"]["message"]
                    .as_str()
                    .is_some_and(|m| !m.is_empty()),
                "{method} {target}: {reply}"
            );
        }
    }
    // The not-modelled routes name themselves.
    let (_, metrics) = raw_json(&s.pebble, "GET", "/v1/metrics", None);
    assert!(
        metrics["result"]["message"]
            .as_str()
            .unwrap()
            .starts_with("GET /v1/metrics is not modelled by the fake Pebble"),
        "{metrics}"
    );
    let (status, refresh) = raw_json(
        &s.pebble,
        "POST",
        "/v1/checks/refresh",
        Some(r#"{"name":"up"}"#),
    );
    assert_eq!(status, 500);
    assert!(
        refresh["result"]["message"]
            .as_str()
            .unwrap()
            .starts_with("POST /v1/checks/refresh is not modelled"),
        "{refresh}"
    );
    // Logs: an empty JSON Lines stream (nothing runs), parameters checked.
    let (status, content_type, body) = raw(&s.pebble, "GET", "/v1/logs?n=10", None);
    assert_eq!(
        (status, content_type.as_str(), body.as_str()),
        (200, "application/x-ndjson", "")
    );
    assert_pebble_error(
        &raw_json(&s.pebble, "GET", "/v1/logs?n=-2", None),
        400,
        "n must be -1, 0, or a positive integer",
    );
    // Pairing is refused as Pebble refuses it on its unix socket.
    let (_, pairing) = raw_json(&s.pebble, "POST", "/v1/pairing", Some("{}"));
    assert_eq!(pairing["result"]["kind"], "login-required");
}

#[test]
fn unknown_routes_and_methods_answer_as_pebbles_router() {
    let s = setup();
    for target in [
        "/v1/nope",
        "/v2/system-info",
        "/",
        "/v1/changes/1/wait/more",
    ] {
        assert_pebble_error(
            &raw_json(&s.pebble, "GET", target, None),
            404,
            "invalid API endpoint requested",
        );
    }
    assert_pebble_error(
        &raw_json(&s.pebble, "DELETE", "/v1/identities", None),
        405,
        "method \"DELETE\" not allowed",
    );
    assert_pebble_error(
        &raw_json(&s.pebble, "GET", "/v1/pairing", None),
        405,
        "method \"GET\" not allowed",
    );
    assert_pebble_error(
        &raw_json(&s.pebble, "POST", "/v1/health", Some("{}")),
        405,
        "method \"POST\" not allowed",
    );
}

#[test]
fn health_follows_the_checks() {
    let s = setup();
    add_layer(&s);
    let health = |target: &str| raw_json(&s.pebble, "GET", target, None);
    assert_eq!(health("/v1/health").1["result"], json!({"healthy": true}));
    s.pebble.fail_check("up", 3).unwrap();
    let (status, body) = health("/v1/health");
    assert_eq!((status, body["type"].as_str()), (502, Some("sync")));
    assert_eq!(body["result"], json!({"healthy": false}));
    // `ready` includes `alive` checks; other names do not count.
    assert_eq!(health("/v1/health?level=ready").0, 502);
    assert_eq!(health("/v1/health?names=other").0, 200);
    assert_pebble_error(
        &health("/v1/health?level=bogus"),
        400,
        "level must be \"alive\" or \"ready\"",
    );
}
