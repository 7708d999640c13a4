//! The fake Pebble's health checks and notices, through `ops::pebble::Client`
//! (and raw HTTP for what the client does not ask), held to Pebble's
//! `api_checks.go`, `api_notices.go`, `checkstate` and `state/notices.go`.

use std::collections::BTreeMap;

use ops::pebble::{CheckLevel, CheckStartup, CheckStatus, Layer, PebbleNotice};
use ops_testing::fake_pebble::{CheckRunError, FakePebble, NoticeKeyError, ServiceEvent};
use serde_json::{Value, json};

use crate::common;
use common::{PebbleSetup, api_error, raw_json, setup};

/// `up`: an alive HTTP check (threshold 2); `db`: a ready TCP check,
/// `startup: disabled`; `web`: a service restarted when `up` fails.
const LAYER: &str = "\
services:
  web:
    override: replace
    command: web --port 8080
    startup: enabled
    on-check-failure:
      up: restart
checks:
  up:
    override: replace
    level: alive
    threshold: 2
    http:
      url: http://127.0.0.1:8080/
  db:
    override: replace
    level: ready
    startup: disabled
    tcp:
      port: 5432
";

fn add(s: &PebbleSetup, label: &str, yaml: &str) {
    s.client
        .add_layer(label, &Layer::from_yaml(yaml).unwrap(), true)
        .unwrap();
}

/// A raw request's 400 message.
fn bad_request(pebble: &FakePebble, method: &str, target: &str, body: Option<&str>) -> String {
    let (status, reply) = raw_json(pebble, method, target, body);
    assert_eq!(status, 400, "{reply}");
    reply["result"]["message"].as_str().unwrap().to_string()
}

fn names(infos: &[ops::pebble::CheckInfo]) -> Vec<&str> {
    infos.iter().map(|i| i.name.as_str()).collect()
}

#[test]
fn checks_start_with_their_layer_unless_disabled() {
    let s = setup();
    assert!(s.client.get_checks(None, &[]).unwrap().is_empty());
    add(&s, "base", LAYER);
    let checks = s.client.get_checks(None, &[]).unwrap();
    assert_eq!(names(&checks), ["db", "up"]);
    let (db, up) = (&checks[0], &checks[1]);
    assert_eq!(db.status, CheckStatus::Inactive);
    assert_eq!(db.startup, CheckStartup::Disabled);
    assert_eq!(db.level, Some(CheckLevel::Ready));
    assert_eq!(db.threshold, 3, "Pebble's default threshold");
    assert_eq!(db.change_id, None);
    assert_eq!(up.status, CheckStatus::Up);
    assert_eq!(up.startup, CheckStartup::Enabled);
    assert_eq!((up.successes, up.failures, up.threshold), (Some(0), 0, 2));
    let change = s
        .client
        .get_change(up.change_id.as_deref().unwrap())
        .unwrap();
    assert_eq!(change.kind, "perform-check");
    assert_eq!(change.summary, "Perform HTTP check \"up\"");
    assert_eq!((change.status.as_str(), change.ready), ("Doing", false));
    // The plan shows the default threshold, as Pebble's does.
    assert_eq!(s.client.get_plan().unwrap().checks["db"].threshold, Some(3));

    // Filters: a level, names (comma-separated or repeated), both.
    assert_eq!(
        names(&s.client.get_checks(Some(CheckLevel::Alive), &[]).unwrap()),
        ["up"]
    );
    assert_eq!(names(&s.client.get_checks(None, &["db"]).unwrap()), ["db"]);
    assert_eq!(
        names(&s.client.get_checks(None, &["db", "up", "ghost"]).unwrap()),
        ["db", "up"]
    );
    assert!(
        s.client
            .get_checks(Some(CheckLevel::Ready), &["up"])
            .unwrap()
            .is_empty()
    );
    let (_, reply) = raw_json(&s.pebble, "GET", "/v1/checks?names=up&names=db", None);
    assert_eq!(reply["result"].as_array().unwrap().len(), 2);
    assert_eq!(
        api_error(s.client.get_checks(Some(CheckLevel::from("dead")), &[])),
        (400, "level must be \"alive\" or \"ready\"".into())
    );

    // The wire form: `successes` always, `failures` and `level` only if set.
    let (status, reply) = raw_json(&s.pebble, "GET", "/v1/checks?names=db", None);
    assert_eq!(status, 200);
    assert_eq!(
        reply["result"],
        json!([{"name": "db", "level": "ready", "startup": "disabled", "status": "inactive",
                "successes": 0, "threshold": 3}])
    );
}

#[test]
fn start_and_stop_say_which_checks_changed() {
    let s = setup();
    add(&s, "base", LAYER);
    // `up` runs already: only `db` starts.
    assert_eq!(s.client.start_checks(&["up", "db"]).unwrap(), ["db"]);
    let db = s.pebble.check_info("db").unwrap();
    assert_eq!(db.status, CheckStatus::Up);
    let db_change = db.change_id.unwrap();
    assert_eq!(
        s.client.get_change(&db_change).unwrap().summary,
        "Perform TCP check \"db\""
    );
    assert!(s.client.start_checks(&["db"]).unwrap().is_empty());

    s.pebble.fail_check("up", 1).unwrap();
    assert_eq!(s.client.stop_checks(&["up", "db"]).unwrap(), ["db", "up"]);
    let up = s.pebble.check_info("up").unwrap();
    assert_eq!(up.status, CheckStatus::Inactive);
    assert_eq!(up.change_id, None);
    assert_eq!(up.failures, 1, "a stopped check keeps its counts");
    // The stopped check's change was aborted in flight: Hold.
    let change = s.client.get_change(&db_change).unwrap();
    assert_eq!((change.status.as_str(), change.ready), ("Hold", true));
    assert!(s.client.stop_checks(&["up"]).unwrap().is_empty());
    assert_eq!(
        s.pebble.fail_check("up", 1),
        Err(CheckRunError::NotRunning("up".into()))
    );
    assert_eq!(
        s.pebble.pass_check("ghost", 1),
        Err(CheckRunError::NotInPlan("ghost".into()))
    );

    // Starting again begins afresh.
    assert_eq!(s.client.start_checks(&["up"]).unwrap(), ["up"]);
    let up = s.pebble.check_info("up").unwrap();
    assert_eq!(
        (up.status, up.failures, up.successes),
        (CheckStatus::Up, 0, Some(0))
    );

    assert_eq!(
        api_error(s.client.start_checks(&["up", "nope", "ghost"])),
        (
            400,
            "cannot start checks: cannot find checks in plan: ghost, nope".into()
        )
    );
    assert_eq!(
        api_error(s.client.stop_checks(&[])),
        (400, "must specify checks for stop action".into())
    );
    assert_eq!(
        bad_request(
            &s.pebble,
            "POST",
            "/v1/checks",
            Some(r#"{"action":"pause","checks":["up"]}"#)
        ),
        "invalid action \"pause\""
    );
    assert!(
        bad_request(&s.pebble, "POST", "/v1/checks", Some("{"))
            .starts_with("cannot decode data from request body: ")
    );
}

#[test]
fn failures_in_a_row_take_a_check_down_and_one_success_brings_it_up() {
    let s = setup();
    add(&s, "base", LAYER);
    s.client.replan_services().unwrap();
    s.pebble.clear_service_events();
    let perform = s.pebble.check_info("up").unwrap().change_id.unwrap();

    s.pebble.pass_check("up", 2).unwrap();
    s.pebble.fail_check("up", 1).unwrap();
    let up = s.pebble.check_info("up").unwrap();
    assert_eq!(
        (up.status, up.successes, up.failures),
        (CheckStatus::Up, Some(2), 1)
    );
    // A success clears the failures in a row.
    s.pebble.pass_check("up", 1).unwrap();
    let up = s.pebble.check_info("up").unwrap();
    assert_eq!((up.successes, up.failures), (Some(3), 0));
    let log = &s.client.get_change(&perform).unwrap().tasks[0].log;
    assert!(
        log.last()
            .unwrap()
            .ends_with(" INFO succeeded after 1 failure"),
        "{log:?}"
    );
    assert!(s.pebble.service_events().is_empty());

    // Two failures in a row reach the threshold of 2.
    s.pebble.fail_check("up", 2).unwrap();
    let up = s.client.get_checks(None, &["up"]).unwrap().remove(0);
    assert_eq!(
        (up.status, up.successes, up.failures),
        (CheckStatus::Down, Some(3), 2)
    );
    let recover = up.change_id.unwrap();
    assert_ne!(recover, perform);
    assert_eq!(up.prev_change_id.as_deref(), Some(perform.as_str()));
    let failed = s.client.get_change(&perform).unwrap();
    assert_eq!((failed.status.as_str(), failed.ready), ("Error", true));
    assert_eq!(
        failed.err.as_deref(),
        Some(
            "cannot perform the following tasks:\n\
             - Perform HTTP check \"up\" (non-2xx status code 500)\n\
             - Perform HTTP check \"up\" (non-2xx status code 500)\n\
             - Perform HTTP check \"up\" (non-2xx status code 500)"
        )
    );
    let recovering = s.client.get_change(&recover).unwrap();
    assert_eq!(
        (
            recovering.kind.as_str(),
            recovering.summary.as_str(),
            recovering.ready
        ),
        ("recover-check", "Recover HTTP check \"up\"", false)
    );
    // `on-check-failure: {up: restart}` restarted the running service, once.
    assert_eq!(
        s.pebble.service_events(),
        [ServiceEvent::Restart("web".into())]
    );

    // Still failing: still down, counted, no second restart.
    s.pebble.fail_check("up", 2).unwrap();
    let up = s.pebble.check_info("up").unwrap();
    assert_eq!((up.status, up.failures), (CheckStatus::Down, 4));
    assert_eq!(s.pebble.service_events().len(), 1);

    // One success: up again, in a new perform-check change.
    s.pebble.pass_check("up", 1).unwrap();
    let up = s.pebble.check_info("up").unwrap();
    assert_eq!(
        (up.status, up.successes, up.failures),
        (CheckStatus::Up, Some(1), 0)
    );
    assert_eq!(up.prev_change_id.as_deref(), Some(recover.as_str()));
    let recovered = s.client.get_change(&recover).unwrap();
    assert_eq!((recovered.status.as_str(), recovered.err), ("Done", None));
    let next = s
        .client
        .get_change(up.change_id.as_deref().unwrap())
        .unwrap();
    assert_eq!((next.kind.as_str(), next.ready), ("perform-check", false));
}

#[test]
fn layers_restart_changed_checks_and_replan_starts_stopped_ones() {
    let s = setup();
    add(&s, "base", LAYER);
    s.pebble.fail_check("up", 1).unwrap();
    let before = s.pebble.check_info("up").unwrap().change_id;

    // A layer that leaves `up` as it is: it keeps running, counts kept.
    add(
        &s,
        "other",
        "checks:\n  extra:\n    override: replace\n    exec: {command: 'true'}\n",
    );
    let up = s.pebble.check_info("up").unwrap();
    assert_eq!((up.change_id.clone(), up.failures), (before.clone(), 1));
    assert!(s.pebble.check_info("extra").unwrap().is_up());

    // A layer that changes it: a new change, counts reset; the old change held.
    add(
        &s,
        "faster",
        "checks:\n  up:\n    override: merge\n    period: 1s\n",
    );
    let up = s.pebble.check_info("up").unwrap();
    assert_ne!(up.change_id, before);
    assert_eq!(up.failures, 0);
    assert_eq!(
        s.client
            .get_change(before.as_deref().unwrap())
            .unwrap()
            .status,
        "Hold"
    );

    // Replan starts stopped checks whose startup is enabled, not disabled ones.
    s.client.stop_checks(&["up"]).unwrap();
    s.client.replan_services().unwrap();
    assert!(s.pebble.check_info("up").unwrap().is_up());
    assert_eq!(
        s.pebble.check_info("db").unwrap().status,
        CheckStatus::Inactive
    );
}

#[test]
fn custom_notices_count_repeats_and_filter() {
    let s = setup();
    let data = |v: &str| BTreeMap::from([("reason".to_string(), v.to_string())]);
    let ready = s
        .client
        .notify("example.com/db-ready", &data("first"))
        .unwrap();
    let reload = s
        .client
        .notify("example.com/reload", &BTreeMap::new())
        .unwrap();
    assert_ne!(ready, reload);
    // The same key again: the same notice, one more occurrence, new data.
    assert_eq!(
        s.client
            .notify("example.com/db-ready", &data("second"))
            .unwrap(),
        ready
    );

    let notices = s.client.get_notices(&["custom"], &[]).unwrap();
    let keys: Vec<&str> = notices.iter().map(|n| n.key.as_str()).collect();
    assert_eq!(
        keys,
        ["example.com/reload", "example.com/db-ready"],
        "by last repeat"
    );
    let n = &notices[1];
    assert_eq!(
        (n.id.as_str(), n.type_.as_str(), n.occurrences),
        (ready.as_str(), "custom", 2)
    );
    assert_eq!(n.user_id, Some(s.uid()));
    assert_eq!(n.last_data, data("second"));
    assert_ne!(n.first_occurred, n.last_occurred);
    assert_eq!(n.last_repeated, n.last_occurred);
    assert_eq!(n.expire_after.as_deref(), Some("168h0m0s"));
    assert_eq!(n.repeat_after, None);
    assert_eq!(s.pebble.notices(), notices);

    // Filters: keys, types (unknown ones ignored, only unknown ones: none).
    let only = s.client.get_notices(&[], &["example.com/reload"]).unwrap();
    assert_eq!(only.len(), 1);
    assert_eq!(only[0].id, reload);
    assert!(s.client.get_notices(&["warning"], &[]).unwrap().is_empty());
    assert!(s.client.get_notices(&["bogus"], &[]).unwrap().is_empty());
    assert_eq!(
        s.client
            .get_notices(&["bogus", "custom"], &[])
            .unwrap()
            .len(),
        2
    );

    // `after`: only those last repeated after the time given.
    let after = notices[0].last_repeated.replace(':', "%3A");
    let (_, reply) = raw_json(
        &s.pebble,
        "GET",
        &format!("/v1/notices?after={after}"),
        None,
    );
    let later: Vec<&str> = reply["result"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["key"].as_str().unwrap())
        .collect();
    assert_eq!(later, ["example.com/db-ready"]);
    assert_eq!(
        bad_request(&s.pebble, "GET", "/v1/notices?after=yesterday", None),
        "invalid \"after\" timestamp: parsing time \"yesterday\" as \"2006-01-02T15:04:05Z07:00\""
    );

    // `user-id`: that user's and public ones; `users=all`: everyone's.
    let other = s.uid().wrapping_add(1);
    let (_, reply) = raw_json(
        &s.pebble,
        "GET",
        &format!("/v1/notices?user-id={other}"),
        None,
    );
    assert_eq!(reply["result"], json!([]));
    let (_, reply) = raw_json(
        &s.pebble,
        "GET",
        &format!("/v1/notices?user-id={}", s.uid()),
        None,
    );
    assert_eq!(reply["result"].as_array().unwrap().len(), 2);
    let (_, reply) = raw_json(&s.pebble, "GET", "/v1/notices?users=all", None);
    assert_eq!(reply["result"].as_array().unwrap().len(), 2);
    for (query, message) in [
        (
            "user-id=x",
            "invalid \"user-id\" filter: strconv.ParseInt: parsing \"x\": invalid syntax",
        ),
        (
            "user-id=1,2",
            "invalid \"user-id\" filter: must only include one \"user-id\"",
        ),
        (
            "user-id=-1",
            "invalid \"user-id\" filter: user ID is not a valid uint32: -1",
        ),
        (
            "users=all&user-id=1",
            "cannot use both \"users\" and \"user-id\" parameters",
        ),
        ("users=mine", "invalid \"users\" filter: must be \"all\""),
        (
            "timeout=soon",
            "invalid timeout: time: invalid duration \"soon\"",
        ),
    ] {
        assert_eq!(
            bad_request(&s.pebble, "GET", &format!("/v1/notices?{query}"), None),
            message,
            "{query}"
        );
    }

    // One notice by id: Pebble's fields, ids as strings.
    let (status, reply) = raw_json(&s.pebble, "GET", &format!("/v1/notices/{ready}"), None);
    assert_eq!(status, 200);
    let one = &reply["result"];
    assert_eq!(one["id"], json!(ready));
    assert_eq!(one["user-id"], json!(s.uid()));
    assert_eq!(one["last-data"], json!({"reason": "second"}));
    assert_eq!(one["occurrences"], json!(2));
    assert!(one.get("repeat-after").is_none());
    let parsed: PebbleNotice = serde_json::from_value(one.clone()).unwrap();
    assert_eq!(parsed, notices[1]);
    let (status, reply) = raw_json(&s.pebble, "GET", "/v1/notices/999", None);
    assert_eq!(status, 404);
    assert_eq!(
        reply["result"]["message"],
        "cannot find notice with ID \"999\""
    );
}

#[test]
fn a_repeat_within_repeat_after_counts_but_does_not_move_the_notice() {
    let s = setup();
    let add = |key: &str, repeat_after: &str| {
        let body =
            json!({"action": "add", "type": "custom", "key": key, "repeat-after": repeat_after});
        let (status, reply) = raw_json(&s.pebble, "POST", "/v1/notices", Some(&body.to_string()));
        assert_eq!(status, 200, "{reply}");
        reply["result"]["id"].as_str().unwrap().to_string()
    };
    let quiet = add("example.com/quiet", "1h");
    add("example.com/loud", "");
    assert_eq!(add("example.com/quiet", "1h"), quiet);
    let notices = s.pebble.notices();
    assert_eq!(notices[0].key, "example.com/quiet", "not moved to the end");
    assert_eq!(notices[0].occurrences, 2);
    assert_eq!(notices[0].repeat_after.as_deref(), Some("1h0m0s"));
    assert_ne!(notices[0].last_repeated, notices[0].last_occurred);
    // Without repeat-after a repeat moves it.
    add("example.com/quiet", "");
    let quiet = &s.pebble.notices()[1];
    assert_eq!(quiet.key, "example.com/quiet");
    assert_eq!(quiet.repeat_after, None, "each occurrence sets it");
}

#[test]
fn adding_a_notice_is_checked_as_pebble_checks_it() {
    let s = setup();
    let post = |body: Value| bad_request(&s.pebble, "POST", "/v1/notices", Some(&body.to_string()));
    let key = "example.com/k";
    assert_eq!(
        post(json!({"action": "remove", "type": "custom", "key": key})),
        "invalid action \"remove\""
    );
    assert_eq!(
        post(json!({"action": "add", "type": "warning", "key": key})),
        "invalid type \"warning\" (can only add \"custom\" notices)"
    );
    for bad in [
        "example.com",
        "Example.com/k",
        "example.com/k/",
        "a.b/c.d",
        "example/k",
    ] {
        assert_eq!(
            post(json!({"action": "add", "type": "custom", "key": bad})),
            format!("invalid key {bad:?} (must be in \"example.com/path\" format)")
        );
    }
    let long = format!("example.com/{}", "k".repeat(250));
    assert_eq!(
        post(json!({"action": "add", "type": "custom", "key": long})),
        "key must be 256 bytes or less"
    );
    assert_eq!(
        post(json!({"action": "add", "type": "custom", "key": key, "repeat-after": "often"})),
        "invalid repeat-after: time: invalid duration \"often\""
    );
    let big = "x".repeat(4100);
    assert_eq!(
        post(json!({"action": "add", "type": "custom", "key": key, "data": {"k": big}})),
        "total size of data must be 4096 bytes or less"
    );
    assert!(
        post(json!({"action": "add", "type": "custom", "key": key, "data": {"k": 1}}))
            .starts_with("cannot decode notice data: ")
    );
    // The client's errors are the API's.
    assert_eq!(
        api_error(s.client.notify("nodomain", &BTreeMap::new())),
        (
            400,
            "invalid key \"nodomain\" (must be in \"example.com/path\" format)".into()
        )
    );
    assert!(s.pebble.notices().is_empty());
    // The in-container `pebble notify` checks the same.
    assert_eq!(
        s.pebble.notify("nodomain", &BTreeMap::new()),
        Err(NoticeKeyError::Format("nodomain".into()))
    );
    let id = s.pebble.notify(key, &BTreeMap::new()).unwrap();
    assert_eq!(s.client.get_notices(&[], &[key]).unwrap()[0].id, id);
}

#[test]
fn changes_record_change_update_notices() {
    let s = setup();
    add(&s, "base", LAYER);
    let perform = s.pebble.check_info("up").unwrap().change_id.unwrap();
    let change = s.client.start_services(&["web"]).unwrap();
    let notices = s.client.get_notices(&["change-update"], &[]).unwrap();
    let by_key: BTreeMap<&str, &PebbleNotice> =
        notices.iter().map(|n| (n.key.as_str(), n)).collect();
    let start = by_key[change.id.as_str()];
    assert_eq!(start.user_id, None, "Pebble's own notices are public");
    assert_eq!(
        start.last_data,
        BTreeMap::from([("kind".to_string(), "start".to_string())])
    );
    assert_eq!(start.occurrences, 3, "spawned, doing, done");
    let check = by_key[perform.as_str()];
    assert_eq!(
        check.last_data,
        BTreeMap::from([
            ("check-name".to_string(), "up".to_string()),
            ("kind".to_string(), "perform-check".to_string()),
        ])
    );
    assert_eq!(check.occurrences, 2, "spawned, doing");
    s.pebble.fail_check("up", 2).unwrap();
    let failed = s
        .client
        .get_notices(&["change-update"], &[&perform])
        .unwrap();
    assert_eq!(failed[0].occurrences, 3, "and failed");
    // Public notices are seen whatever user-id asks.
    let (_, reply) = raw_json(
        &s.pebble,
        "GET",
        &format!(
            "/v1/notices?types=change-update&user-id={}",
            s.uid().wrapping_add(1)
        ),
        None,
    );
    assert_eq!(reply["result"].as_array().unwrap().len(), 3);
}

#[test]
fn a_timeout_waits_for_a_matching_notice() {
    let s = setup();
    // Nothing matches: an empty list once the timeout is over.
    let (_, reply) = raw_json(&s.pebble, "GET", "/v1/notices?timeout=1ms", None);
    assert_eq!(reply["result"], json!([]));
    std::thread::scope(|scope| {
        let waiting = scope.spawn(|| {
            raw_json(
                &s.pebble,
                "GET",
                "/v1/notices?keys=example.com/late&timeout=60s",
                None,
            )
        });
        // Give the request time to start waiting (it also passes if not).
        std::thread::sleep(std::time::Duration::from_millis(200));
        s.client
            .notify("example.com/other", &BTreeMap::new())
            .unwrap();
        s.client
            .notify("example.com/late", &BTreeMap::new())
            .unwrap();
        let (status, reply) = waiting.join().unwrap();
        assert_eq!(status, 200);
        assert_eq!(reply["result"][0]["key"], "example.com/late");
        assert_eq!(reply["result"].as_array().unwrap().len(), 1);
    });
}
