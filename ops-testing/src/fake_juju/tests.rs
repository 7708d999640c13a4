//! The fake model's rules, each against what Juju does.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, UNIX_EPOCH};

use ops::backend::{
    Backend, BackendError, RelationRef, SecretAddArgs, SecretOwner, SecretSetArgs, StatusInfo,
    StatusName,
};
use serde_json::json;

use super::secrets::{parse_expire, valid_secret_key};
use super::*;
use crate::formats::{base64_decode, base64_encode};

/// A time as the fake Juju writes one: RFC 3339 in UTC, to the second.
fn rfc3339(time: std::time::SystemTime) -> String {
    crate::formats::format_rfc3339(time, false)
}

struct World {
    juju: FakeJuju,
    peers: u32,
    db: u32,
}

fn bag(pairs: &[(&str, &str)]) -> Bag {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// app (2 units, app/0 leads) with a peer relation, related to pg (1 unit)
/// over app:db (requires) and pg:database (provides).
fn world() -> World {
    let meta = ops::CharmMeta::from_charmcraft_yaml(
        "name: app\npeers: {peers: {interface: p}}\nrequires: {db: {interface: pgsql}}\n\
         config: {options: {port: {type: int, default: 6432}, name: {type: string}}}\n",
    )
    .unwrap();
    let pg = ops::CharmMeta::from_charmcraft_yaml(
        "name: pg\nprovides: {database: {interface: pgsql}}\n",
    )
    .unwrap();
    let mut juju = FakeJuju::new("m");
    juju.deploy("app", &meta, 2);
    juju.deploy("pg", &pg, 1);
    juju.set_leader("app", Some("app/0"));
    juju.set_leader("pg", Some("pg/0"));
    let peers = juju.add_relation("app", "peers", "app", "peers");
    let db = juju.add_relation("pg", "database", "app", "db");
    for u in ["app/0", "app/1"] {
        juju.join_unit(peers, u);
        juju.join_unit(db, u);
    }
    juju.join_unit(db, "pg/0");
    juju.set_bag(db, "pg", bag(&[("endpoints", "pg:5432")]));
    juju.set_bag(db, "pg/0", bag(&[("ingress-address", "127.0.2.9")]));
    World { juju, peers, db }
}

fn ctx(unit: &str) -> HookContext {
    HookContext::unit(unit)
}

fn r(name: &str, id: u32) -> RelationRef {
    RelationRef::new(name, id)
}

#[test]
fn unit_bag_writes_are_pending_until_the_hook_succeeds() {
    let World {
        mut juju, peers, ..
    } = world();
    let (a0, a1) = (ctx("app/0"), ctx("app/1"));
    juju.begin_hook(&a1);
    juju.hook_relation_set(&a1, &r("peers", peers), false, &bag(&[("k", "v")]))
        .unwrap();
    let own = juju
        .hook_relation_get(&a1, &r("peers", peers), "app/1", false)
        .unwrap();
    assert_eq!(own, bag(&[("k", "v")]), "the writer reads its own write");
    let other = juju
        .hook_relation_get(&a0, &r("peers", peers), "app/1", false)
        .unwrap();
    assert!(other.is_empty(), "others see the committed bag");
    let changes = juju.end_hook("app/1", true);
    assert_eq!(changes.changed_bags, vec![(peers, "app/1".to_string())]);
    assert_eq!(juju.bag(peers, "app/1"), bag(&[("k", "v")]));

    // A failed hook's writes are dropped, and so are a stale hook's.
    juju.hook_relation_set(&a1, &r("peers", peers), false, &bag(&[("k", "lost")]))
        .unwrap();
    assert_eq!(juju.end_hook("app/1", false), HookChanges::default());
    juju.hook_relation_set(&a1, &r("peers", peers), false, &bag(&[("k", "stale")]))
        .unwrap();
    juju.begin_hook(&a1);
    assert_eq!(juju.end_hook("app/1", true), HookChanges::default());
    assert_eq!(juju.bag(peers, "app/1")["k"], "v");
}

#[test]
fn an_empty_value_deletes_and_an_unchanged_bag_is_not_reported() {
    let World {
        mut juju, peers, ..
    } = world();
    juju.set_bag(peers, "app/0", bag(&[("a", "1"), ("b", "2")]));
    let a0 = ctx("app/0");
    juju.hook_relation_set(
        &a0,
        &r("peers", peers),
        false,
        &bag(&[("a", ""), ("c", "3")]),
    )
    .unwrap();
    assert_eq!(
        juju.hook_relation_get(&a0, &r("peers", peers), "app/0", false)
            .unwrap(),
        bag(&[("b", "2"), ("c", "3")])
    );
    juju.end_hook("app/0", true);
    assert_eq!(juju.bag(peers, "app/0"), bag(&[("b", "2"), ("c", "3")]));
    juju.hook_relation_set(&a0, &r("peers", peers), false, &bag(&[("b", "2")]))
        .unwrap();
    assert!(juju.end_hook("app/0", true).changed_bags.is_empty());
}

#[test]
fn only_the_leader_writes_the_app_bag_and_reads_it_outside_peers() {
    let World {
        mut juju,
        peers,
        db,
    } = world();
    let (a0, a1) = (ctx("app/0"), ctx("app/1"));
    let err = juju
        .hook_relation_set(&a1, &r("peers", peers), true, &bag(&[("k", "v")]))
        .unwrap_err();
    assert_eq!(
        (err.kind, err.message.as_str()),
        (HookErrorKind::Permission, "cannot write relation settings")
    );
    juju.hook_relation_set(&a0, &r("db", db), true, &bag(&[("database", "x")]))
        .unwrap();
    juju.hook_relation_set(&a0, &r("peers", peers), true, &bag(&[("leader", "a0")]))
        .unwrap();
    assert_eq!(
        juju.hook_relation_get(&a0, &r("db", db), "app", true)
            .unwrap()["database"],
        "x",
        "the leader reads its pending app write"
    );
    juju.end_hook("app/0", true);
    assert_eq!(
        juju.hook_relation_get(&a1, &r("peers", peers), "app", true)
            .unwrap()["leader"],
        "a0",
        "a follower reads the peer app bag"
    );
    let err = juju
        .hook_relation_get(&a1, &r("db", db), "app", true)
        .unwrap_err();
    assert_eq!(
        (err.kind, err.message.as_str()),
        (HookErrorKind::Permission, "permission denied")
    );
    // A unit name stands for its application with --app.
    assert_eq!(
        juju.hook_relation_get(&a1, &r("db", db), "pg/0", true)
            .unwrap()["endpoints"],
        "pg:5432"
    );
}

#[test]
fn remote_bags_are_read_only_and_other_apps_bags_refused() {
    let World { mut juju, db, .. } = world();
    let a1 = ctx("app/1");
    assert_eq!(
        juju.hook_relation_get(&a1, &r("db", db), "pg/0", false)
            .unwrap()["ingress-address"],
        "127.0.2.9"
    );
    assert_eq!(
        juju.hook_relation_get(&a1, &r("db", db), "pg", true)
            .unwrap()["endpoints"],
        "pg:5432"
    );
    assert_eq!(
        juju.hook_relation_get(&a1, &r("db", db), "other", true)
            .unwrap_err()
            .message,
        "permission denied"
    );
    // relation-set has no way to name a remote bag: it writes the unit's own.
    juju.hook_relation_set(&a1, &r("db", db), false, &bag(&[("k", "v")]))
        .unwrap();
    juju.end_hook("app/1", true);
    assert_eq!(
        juju.bag(db, "pg/0"),
        bag(&[("ingress-address", "127.0.2.9")])
    );
    assert_eq!(juju.bag(db, "app/1")["k"], "v");
}

#[test]
fn relation_get_names_members_as_juju_does() {
    let World { juju, db, .. } = world();
    let a0 = ctx("app/0");
    let err = juju
        .hook_relation_get(&a0, &r("db", db), "pg", false)
        .unwrap_err();
    assert_eq!(
        (err.kind, err.message.as_str()),
        (
            HookErrorKind::Usage,
            "expected unit name, got application name \"pg\""
        )
    );
    let err = juju
        .hook_relation_get(&a0, &r("db", db), "pg/7", false)
        .unwrap_err();
    assert_eq!(
        err.message,
        "cannot read settings for unit \"pg/7\" in relation \"app:db pg:database\": unit \"pg/7\": settings not found",
        "the requirer comes first in the relation key"
    );
    assert_eq!(juju.relation_key(0).unwrap(), "app:peers");
}

#[test]
fn relations_are_found_by_id_as_juju_reads_dash_r() {
    let World { juju, db, peers } = world();
    let a0 = ctx("app/0");
    assert_eq!(juju.resolve_relation(&a0, &db.to_string()), Ok(r("db", db)));
    assert_eq!(
        juju.resolve_relation(&a0, &format!("peers:{db}")),
        Ok(r("db", db)),
        "Juju reads only the id after the last colon"
    );
    assert_eq!(
        juju.resolve_relation(&a0, "db:9"),
        Err("relation not found".to_string())
    );
    assert_eq!(
        juju.resolve_relation(&a0, "db:x"),
        Err("invalid relation id".to_string())
    );
    let err = juju.hook_relation_list(&a0, &r("db", 9)).unwrap_err();
    assert_eq!(
        (err.kind, err.message.as_str()),
        (
            HookErrorKind::RelationNotFound,
            "invalid value \"db:9\" for option -r: relation not found"
        )
    );
    // pg is not in the peer relation.
    assert!(
        juju.resolve_relation(&ctx("pg/0"), &peers.to_string())
            .is_err()
    );
}

#[test]
fn relation_ids_and_lists() {
    let World {
        mut juju,
        peers,
        db,
    } = world();
    for _ in 0..9 {
        juju.add_relation("app", "db", "pg", "database");
    }
    let a0 = ctx("app/0");
    let ids: Vec<String> = juju
        .hook_relation_ids(&a0, "db")
        .unwrap()
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(ids[..3], ["db:1", "db:10", "db:2"], "sorted as strings");
    assert_eq!(
        juju.hook_relation_list(&a0, &r("peers", peers)).unwrap(),
        ["app/1"]
    );
    assert_eq!(
        juju.hook_relation_list(&ctx("pg/0"), &r("database", db))
            .unwrap(),
        ["app/0", "app/1"]
    );
    let departing = HookContext {
        departing_unit: Some("app/1".into()),
        ..ctx("pg/0")
    };
    assert_eq!(
        juju.hook_relation_list(&departing, &r("database", db))
            .unwrap(),
        ["app/0"]
    );
    assert_eq!(
        juju.hook_relation_remote_app(&a0, &r("db", db)).unwrap(),
        "pg"
    );
    juju.remove_unit("pg/0");
    assert!(
        juju.hook_relation_list(&a0, &r("db", db))
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        juju.hook_relation_get(&a0, &r("db", db), "pg/0", false)
            .unwrap()["ingress-address"],
        "127.0.2.9",
        "a departed unit's bag stays readable for the relation's lifetime"
    );
}

#[test]
fn state_is_transactional_and_keeps_empty_values() {
    let World { mut juju, .. } = world();
    let a0 = ctx("app/0");
    juju.units.get_mut("app/0").unwrap().state = bag(&[("old", "1")]);
    juju.begin_hook(&a0);
    juju.hook_state_set(&a0, &bag(&[("a", "x"), ("empty", "")]))
        .unwrap();
    juju.hook_state_delete(&a0, "old");
    assert_eq!(juju.hook_state_get(&a0), bag(&[("a", "x"), ("empty", "")]));
    assert_eq!(juju.units["app/0"].state, bag(&[("old", "1")]));
    let changes = juju.end_hook("app/0", true);
    assert!(changes.state_changed);
    assert_eq!(juju.units["app/0"].state, bag(&[("a", "x"), ("empty", "")]));
}

#[test]
fn status_rules() {
    let World { mut juju, .. } = world();
    let (a0, a1) = (ctx("app/0"), ctx("app/1"));
    let active = StatusInfo::new(StatusName::Active, "ok");
    assert_eq!(
        juju.hook_status_set(&a1, true, &active).unwrap_err(),
        HookError::new(HookErrorKind::Permission, "this unit is not the leader")
    );
    juju.hook_status_set(&a1, false, &active).unwrap();
    juju.hook_status_set(&a0, true, &active).unwrap();
    assert_eq!(juju.app_status("app"), Some(&active), "applies at once");
    assert_eq!(
        juju.hook_status_get(&a1, true).unwrap_err().message,
        "finding application status: this unit is not the leader"
    );
    let (app, units) = juju.hook_app_status(&a0).unwrap();
    assert_eq!(app, active);
    assert_eq!(units[1], ("app/1".to_string(), active.clone()));
    let err = juju
        .hook_status_set(&a0, false, &StatusInfo::new(StatusName::Error, ""))
        .unwrap_err();
    assert_eq!(
        (err.kind, err.message.as_str()),
        (
            HookErrorKind::Usage,
            "invalid status \"error\", expected one of [maintenance blocked waiting active]"
        )
    );
}

#[test]
fn config_leader_settings_and_logs() {
    let World { mut juju, .. } = world();
    let (a0, a1) = (ctx("app/0"), ctx("app/1"));
    assert_eq!(json!(juju.hook_config_get(&a1)), json!({"port": 6432}));
    assert_eq!(
        json!(juju.hook_config_get_all(&a1)),
        json!({"name": null, "port": 6432})
    );
    assert_eq!(
        juju.hook_leader_set(&a1, &bag(&[("k", "v")]))
            .unwrap_err()
            .message,
        "cannot write leadership settings: cannot write settings: not the leader"
    );
    juju.hook_leader_set(&a0, &bag(&[("k", "v"), ("j", "w")]))
        .unwrap();
    juju.hook_leader_set(&a0, &bag(&[("j", "")])).unwrap();
    assert_eq!(juju.hook_leader_get(&a1), bag(&[("k", "v")]));
    juju.hook_juju_log(&a1, ops::backend::LogLevel::Warning, "careful");
    assert_eq!(juju.logs_of("app/1")[0].level, "WARNING");
}

#[test]
fn ports_open_when_the_hook_succeeds() {
    let World { mut juju, .. } = world();
    let a0 = ctx("app/0");
    let range: PortRange = "8000-8010/udp".parse().unwrap();
    let tcp: PortRange = "6432".parse().unwrap();
    assert_eq!(
        (range.to_string(), tcp.to_string()),
        ("8000-8010/udp".into(), "6432/tcp".into())
    );
    assert!("0/tcp".parse::<PortRange>().is_err());
    assert!("80/sctp".parse::<PortRange>().is_err());
    juju.hook_open_port(&a0, &range);
    juju.hook_open_port(&a0, &tcp);
    juju.hook_open_port(&a0, &"icmp".parse().unwrap());
    assert!(
        juju.hook_opened_ports(&a0).is_empty(),
        "not before the hook ends"
    );
    assert!(juju.end_hook("app/0", true).ports_changed);
    let opened: Vec<String> = juju
        .hook_opened_ports(&a0)
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(opened, ["icmp", "6432/tcp", "8000-8010/udp"]);
    juju.hook_close_port(&a0, &tcp);
    juju.end_hook("app/0", false);
    assert_eq!(juju.opened_ports("app/0").len(), 3);
}

#[test]
fn actions_run_until_their_hook_ends() {
    let World { mut juju, .. } = world();
    let a0 = ctx("app/0");
    assert_eq!(
        juju.hook_action_get(&a0).unwrap_err().message,
        "not running an action"
    );
    juju.start_action(
        "app/0",
        "backup",
        serde_json::Map::from_iter([("to".into(), json!("s3"))]),
    );
    assert_eq!(juju.hook_action_get(&a0).unwrap()["to"], "s3");
    juju.hook_action_set(&a0, &bag(&[("result.size", "10G")]))
        .unwrap();
    for bad in ["Bad", "a..b", "-a", "stdout"] {
        let err = juju.hook_action_set(&a0, &bag(&[(bad, "x")])).unwrap_err();
        assert_eq!(err.kind, HookErrorKind::Usage, "{bad}");
    }
    juju.hook_action_log(&a0, "step 1").unwrap();
    juju.hook_action_fail(&a0, "disk full").unwrap();
    juju.end_hook("app/0", true);
    let action = juju.action("app/0").unwrap();
    assert_eq!(
        (
            action.results["result.size"].as_str(),
            action.log[0].as_str()
        ),
        ("10G", "step 1")
    );
    assert_eq!(action.failure.as_deref(), Some("disk full"));
    assert!(
        juju.hook_action_log(&a0, "late").is_err(),
        "the action has ended"
    );
}

#[test]
fn network_goal_state_resources_and_credentials() {
    let World { mut juju, .. } = world();
    let a1 = ctx("app/1");
    let net = juju.hook_network_get(&a1, "db").unwrap();
    assert_eq!(net["ingress-addresses"], json!(["127.0.2.3"]));
    assert_eq!(
        juju.units["pg/0"].address, "127.0.2.4",
        "one address per unit of the model"
    );
    assert_eq!(
        net["bind-addresses"][0]["addresses"][0]["cidr"],
        "127.0.2.0/24"
    );
    assert_eq!(
        juju.hook_network_get(&a1, "nope").unwrap_err().message,
        "no network config found for binding \"nope\""
    );
    let goal = juju.hook_goal_state(&a1);
    assert_eq!(goal["units"]["app/0"]["status"], "waiting");
    assert!(
        goal["units"]["app/0"]["since"]
            .as_str()
            .unwrap()
            .ends_with('Z')
    );
    assert_eq!(goal["relations"]["db"]["pg"]["status"], "joined");
    assert_eq!(goal["relations"]["db"]["pg/0"]["status"], "joined");
    assert_eq!(goal["relations"]["peers"]["app/0"]["status"], "joined");
    assert!(goal["relations"]["peers"].get("app/1").is_none());
    assert_eq!(
        juju.hook_resource_get(&a1, "image").unwrap_err().message,
        "could not download resource: resource#app/image not found"
    );
    juju.set_resource("app", "image", "/res/image.tar");
    assert_eq!(
        juju.hook_resource_get(&a1, "image").unwrap(),
        "/res/image.tar"
    );
    juju.cloud_spec = Some(json!({"type": "lxd", "name": "localhost"}));
    assert_eq!(
        juju.hook_credential_get(&a1).unwrap_err().message,
        "cannot access cloud credentials: permission denied"
    );
    juju.set_trusted("app", true);
    assert_eq!(juju.hook_credential_get(&a1).unwrap()["type"], "lxd");
}

#[test]
fn the_backend_reads_the_cloud_spec_as_hook_tools_do() {
    let World { mut juju, .. } = world();
    juju.set_trusted("app", true);
    juju.cloud_spec = Some(json!({
        "type": "lxd",
        "name": "localhost",
        "credential": {"auth-type": "certificate", "attrs": {"client-key": "hunter2"}}
    }));
    let juju = Arc::new(Mutex::new(juju));
    let backend = FakeTools::new(juju.clone(), ctx("app/0")).hook_tools();
    let spec = backend.credential_get().unwrap();
    assert_eq!(spec.type_, "lxd");
    assert_eq!(spec.credential.unwrap().attributes["client-key"], "hunter2");
    // A spec Juju would not print (no type) is refused without showing it.
    juju.lock().unwrap().cloud_spec = Some(json!({
        "name": "localhost",
        "credential": {"auth-type": "certificate", "attrs": {"client-key": "hunter2"}}
    }));
    let err = backend.credential_get().unwrap_err();
    let shown = format!("{err} {err:?}");
    assert!(
        matches!(err, BackendError::MalformedOutput { .. }),
        "{shown}"
    );
    assert!(!shown.contains("hunter2"), "{shown}");
}

fn add(juju: &mut FakeJuju, unit: &str, owner: SecretOwner, label: Option<&str>) -> String {
    juju.hook_secret_add(
        &ctx(unit),
        &SecretAddArgs {
            content: bag(&[("password", "one")]),
            label: label.map(str::to_string),
            owner,
            ..Default::default()
        },
    )
    .unwrap()
}

#[test]
fn secret_ids_are_xids() {
    let World { mut juju, .. } = world();
    let a = add(&mut juju, "app/0", SecretOwner::Application, None);
    let b = add(&mut juju, "app/0", SecretOwner::Application, None);
    assert_ne!(a, b);
    for id in [&a, &b] {
        let xid = id.strip_prefix("secret:").unwrap();
        assert_eq!(xid.len(), 20);
        assert!(
            xid.bytes()
                .all(|c| c.is_ascii_digit() || (b'a'..=b'v').contains(&c))
        );
        assert!(
            xid.ends_with(['0', 'g']),
            "xid's last character holds 1 bit: {xid}"
        );
    }
}

#[test]
fn secret_owners_and_leadership() {
    let World { mut juju, .. } = world();
    let err = juju
        .hook_secret_add(
            &ctx("app/1"),
            &SecretAddArgs {
                content: bag(&[("password", "x")]),
                ..Default::default()
            },
        )
        .unwrap_err();
    assert_eq!(err.message, "this unit is not the leader");
    let app_owned = add(&mut juju, "app/0", SecretOwner::Application, Some("db-pw"));
    let unit_owned = add(&mut juju, "app/1", SecretOwner::Unit, Some("mine"));
    let a1 = ctx("app/1");
    // Every unit of the owning app reads it; only the leader changes it.
    assert_eq!(
        juju.hook_secret_get(&a1, None, Some("db-pw"), false, false)
            .unwrap()["password"],
        "one"
    );
    let set = SecretSetArgs {
        content: Some(bag(&[("password", "two")])),
        ..Default::default()
    };
    assert_eq!(
        juju.hook_secret_set(&a1, &app_owned, &set)
            .unwrap_err()
            .message,
        "this unit is not the leader"
    );
    juju.hook_secret_set(&ctx("app/0"), &app_owned, &set)
        .unwrap();
    juju.hook_secret_set(&ctx("app/0"), &app_owned, &set)
        .unwrap();
    assert_eq!(
        juju.hook_secret_info_get(&a1, Some(&app_owned), None)
            .unwrap()
            .revision,
        2,
        "the same content makes no new revision"
    );
    // A unit-owned secret is its unit's alone.
    let err = juju
        .hook_secret_get(&ctx("app/0"), Some(&unit_owned), None, false, false)
        .unwrap_err();
    assert_eq!(err.message, "permission denied");
    let xid = unit_owned.strip_prefix("secret:").unwrap();
    assert_eq!(
        juju.hook_secret_info(&ctx("app/0"), Some(&unit_owned), None)
            .unwrap_err()
            .message,
        format!("secret \"{xid}\" not found")
    );
    assert_eq!(juju.hook_secret_ids(&a1).len(), 2);
    assert_eq!(juju.hook_secret_ids(&ctx("app/0")).len(), 1);
    assert_eq!(
        juju.hook_secret_get(&a1, None, Some("nope"), false, false)
            .unwrap_err(),
        HookError::new(
            HookErrorKind::SecretNotFound,
            "secret with label \"nope\" not found"
        )
    );
    // Labels are unique per owner.
    let again = juju.hook_secret_add(
        &ctx("app/0"),
        &SecretAddArgs {
            content: bag(&[("password", "x")]),
            label: Some("db-pw".into()),
            ..Default::default()
        },
    );
    assert_eq!(
        again.unwrap_err().message,
        "secret with label \"db-pw\" already exists"
    );
}

#[test]
fn consumers_track_revisions_and_keep_their_own_labels() {
    let World { mut juju, db, .. } = world();
    let (p0, a0, a1) = (ctx("pg/0"), ctx("app/0"), ctx("app/1"));
    let id = add(&mut juju, "pg/0", SecretOwner::Application, None);
    assert_eq!(
        juju.hook_secret_get(&a0, Some(&id), None, false, false)
            .unwrap_err()
            .message,
        "permission denied",
        "not granted yet"
    );
    juju.hook_secret_grant(&p0, &id, db, Some("app/0")).unwrap();
    assert!(
        juju.hook_secret_get(&a1, Some(&id), None, false, false)
            .is_err()
    );
    assert_eq!(
        juju.hook_secret_grant(&p0, &id, db, Some("other/0"))
            .unwrap_err()
            .message,
        "cannot specify unit \"other/0\" in relation to application \"app\""
    );
    let first = juju
        .hook_secret_get(&a0, Some(&id), Some("creds"), false, false)
        .unwrap();
    assert_eq!(first["password"], "one");
    juju.hook_secret_set(
        &p0,
        &id,
        &SecretSetArgs {
            content: Some(bag(&[("password", "two")])),
            ..Default::default()
        },
    )
    .unwrap();
    let get = |juju: &mut FakeJuju, refresh, peek| {
        juju.hook_secret_get(&a0, None, Some("creds"), refresh, peek)
            .unwrap()["password"]
            .clone()
    };
    assert_eq!(get(&mut juju, false, false), "one", "tracked revision");
    assert_eq!(get(&mut juju, false, true), "two", "--peek");
    assert_eq!(get(&mut juju, false, false), "one", "peek does not track");
    assert_eq!(get(&mut juju, true, false), "two", "--refresh");
    assert_eq!(get(&mut juju, false, false), "two", "refresh tracks");
    assert_eq!(
        juju.secrets[&id].consumer_labels["app/0"], "creds",
        "the consumer's label, not the owner's"
    );
    assert_eq!(juju.secrets[&id].label, None);
    // Grants end with a revoke, or with the relation.
    juju.hook_secret_revoke(&p0, &id, None, None, Some("app/0"))
        .unwrap();
    assert!(
        juju.hook_secret_get(&a0, Some(&id), None, false, false)
            .is_err()
    );
    juju.hook_secret_grant(&p0, &id, db, None).unwrap();
    assert!(
        juju.hook_secret_get(&a1, Some(&id), None, false, false)
            .is_ok()
    );
    juju.remove_relation(db);
    assert!(
        juju.hook_secret_get(&a1, Some(&id), None, false, false)
            .is_err()
    );
}

#[test]
fn secret_removal_and_bad_references() {
    let World { mut juju, .. } = world();
    let a0 = ctx("app/0");
    let id = add(&mut juju, "app/0", SecretOwner::Application, None);
    juju.hook_secret_set(
        &a0,
        &id,
        &SecretSetArgs {
            content: Some(bag(&[("password", "two")])),
            ..Default::default()
        },
    )
    .unwrap();
    juju.hook_secret_remove(&a0, &id, Some(1)).unwrap();
    assert_eq!(juju.secrets[&id].revisions.keys().collect::<Vec<_>>(), [&2]);
    let xid = id.strip_prefix("secret:").unwrap();
    let long = format!("secret://{MODEL_UUID}/{xid}");
    assert!(
        juju.hook_secret_get(&a0, Some(&long), None, false, false)
            .is_ok()
    );
    assert!(
        juju.hook_secret_get(&a0, Some(xid), None, false, false)
            .is_ok()
    );
    juju.hook_secret_remove(&a0, &id, None).unwrap();
    let err = juju
        .hook_secret_get(&a0, Some(&id), None, false, false)
        .unwrap_err();
    assert_eq!(
        (err.kind, err.message),
        (
            HookErrorKind::SecretNotFound,
            format!("secret \"{xid}\" not found")
        )
    );
    assert_eq!(
        juju.hook_secret_get(&a0, Some("secret:"), None, false, false)
            .unwrap_err()
            .kind,
        HookErrorKind::Usage
    );
    assert_eq!(
        juju.hook_secret_get(&a0, None, None, false, false)
            .unwrap_err()
            .message,
        "require either a secret URI or label"
    );
}

#[test]
fn secret_helpers() {
    for key in ["password", "tls-key", "a1b"] {
        assert!(valid_secret_key(key), "{key}");
    }
    for key in ["pw", "Password", "a--b", "a-", "1ab", ""] {
        assert!(!valid_secret_key(key), "{key}");
    }
    assert_eq!(rfc3339(UNIX_EPOCH), "1970-01-01T00:00:00Z");
    assert_eq!(
        rfc3339(UNIX_EPOCH + Duration::from_secs(1_700_000_000)),
        "2023-11-14T22:13:20Z"
    );
    assert_eq!(
        rfc3339(UNIX_EPOCH + Duration::from_secs(951_782_400)),
        "2000-02-29T00:00:00Z"
    );
    assert_eq!(
        parse_expire("2030-01-02T03:04:05").unwrap(),
        "2030-01-02T03:04:05Z"
    );
    assert_eq!(
        parse_expire("2030-01-02T03:04:05+02:00").unwrap(),
        "2030-01-02T03:04:05+02:00"
    );
    assert!(parse_expire("24h").unwrap() > rfc3339(std::time::SystemTime::now()));
    assert!(parse_expire("-1h").is_err());
    assert!(parse_expire("soon").is_err());
    for text in ["", "a", "ab", "abc", "hello world", "\u{e9}t\u{e9}"] {
        assert_eq!(
            base64_decode(&base64_encode(text.as_bytes())).unwrap(),
            text.as_bytes()
        );
    }
    assert_eq!(base64_encode(b"s3cret"), "czNjcmV0");
    assert_eq!(base64_encode(b"ab"), "YWI=");
    assert!(base64_decode("a").is_none());
}

#[test]
fn the_model_round_trips_through_json() {
    let World {
        mut juju, peers, ..
    } = world();
    add(&mut juju, "app/0", SecretOwner::Application, Some("x"));
    juju.hook_relation_set(&ctx("app/0"), &r("peers", peers), true, &bag(&[("k", "v")]))
        .unwrap();
    let text = serde_json::to_string(&juju).unwrap();
    let back: FakeJuju = serde_json::from_str(&text).unwrap();
    assert_eq!(back, juju);
}

/// The variant `ops`' `HookTools` makes of Juju's stderr (its rules,
/// restated): what the fake backend must produce for the same message.
fn hook_tools_variant(tool: &str, stderr: &str) -> &'static str {
    let lower = stderr.to_ascii_lowercase();
    if lower.contains("relation not found") {
        "RelationNotFound"
    } else if tool.starts_with("secret-") && lower.contains("not found") {
        "SecretNotFound"
    } else if lower.contains("permission denied")
        || lower.contains("cannot write relation settings")
        || lower.contains("not the leader")
    {
        "PermissionDenied"
    } else {
        "ToolFailed"
    }
}

fn variant(e: &BackendError) -> &'static str {
    match e {
        BackendError::RelationNotFound { .. } => "RelationNotFound",
        BackendError::SecretNotFound { .. } => "SecretNotFound",
        BackendError::PermissionDenied { .. } => "PermissionDenied",
        BackendError::ToolFailed { .. } => "ToolFailed",
        _ => "other",
    }
}

#[test]
fn the_backend_fails_as_hook_tools_would() {
    let World {
        mut juju,
        peers,
        db,
    } = world();
    let secret = add(&mut juju, "pg/0", SecretOwner::Application, None);
    let juju = Arc::new(Mutex::new(juju));
    let follower_tools = FakeTools::new(juju.clone(), ctx("app/1"));
    let follower = follower_tools.clone().hook_tools();
    let one = BTreeMap::from([("k".to_string(), "v".to_string())]);
    let failures: Vec<(&str, BackendError)> = vec![
        (
            "relation-get",
            follower
                .relation_get(&r("db", 9), "pg/0", false)
                .unwrap_err(),
        ),
        (
            "relation-set",
            follower
                .relation_set(&r("peers", peers), true, &one)
                .unwrap_err(),
        ),
        (
            "relation-get",
            follower
                .relation_get(&r("db", db), "app", true)
                .unwrap_err(),
        ),
        (
            "relation-get",
            follower
                .relation_get(&r("db", db), "pg", false)
                .unwrap_err(),
        ),
        (
            "status-set",
            follower
                .status_set(true, &StatusInfo::new(StatusName::Active, ""))
                .unwrap_err(),
        ),
        ("status-get", follower.status_get(true).unwrap_err()),
        (
            "secret-get",
            follower
                .secret_get(Some(&secret), None, false, false)
                .unwrap_err(),
        ),
        (
            "secret-get",
            follower
                .secret_get(Some("secret:missing"), None, false, false)
                .unwrap_err(),
        ),
        (
            "secret-info-get",
            follower.secret_info_get(None, Some("nope")).unwrap_err(),
        ),
        (
            "secret-add",
            follower
                .secret_add(&SecretAddArgs {
                    content: one.clone(),
                    ..Default::default()
                })
                .unwrap_err(),
        ),
        ("action-get", follower.action_get().unwrap_err()),
        (
            "network-get",
            follower.network_get("nope", None).unwrap_err(),
        ),
    ];
    for (tool, e) in &failures {
        let stderr = match e {
            BackendError::RelationNotFound { stderr, .. }
            | BackendError::SecretNotFound { stderr, .. }
            | BackendError::PermissionDenied { stderr, .. }
            | BackendError::ToolFailed { stderr, .. } => stderr.clone(),
            other => panic!("{tool}: unexpected {other}"),
        };
        assert!(stderr.starts_with("ERROR "), "{stderr}");
        assert_eq!(
            variant(e),
            hook_tools_variant(tool, &stderr),
            "{tool}: {stderr}"
        );
    }
    assert!(matches!(
        &failures[0].1,
        BackendError::RelationNotFound { relation, .. } if relation == "db:9"
    ));
    assert!(matches!(
        &failures[3].1,
        BackendError::ToolFailed { status: 2, .. }
    ));
    assert_eq!(follower_tools.count("relation-get"), 3);
}

#[test]
fn the_backend_reads_and_writes_through_the_hook_rules() {
    let World { juju, peers, db } = world();
    let juju = Arc::new(Mutex::new(juju));
    let leader = FakeTools::new(
        juju.clone(),
        HookContext::in_relation("app/0", r("db", db), Some("pg/0"), "pg"),
    )
    .hook_tools();
    assert_eq!(leader.relation_ids("db").unwrap(), [r("db", db)]);
    assert_eq!(leader.relation_list(&r("db", db)).unwrap(), ["pg/0"]);
    assert_eq!(
        leader.relation_remote_app(&r("db", db)).unwrap().as_deref(),
        Some("pg")
    );
    leader
        .relation_set(&r("peers", peers), true, &bag(&[("k", "v")]))
        .unwrap();
    assert_eq!(
        leader
            .relation_get(&r("peers", peers), "app", true)
            .unwrap()["k"],
        "v"
    );
    let port = ops::backend::OpenedPort {
        protocol: ops::backend::PortProtocol::Tcp,
        port: Some(6432),
        to_port: None,
    };
    leader.open_port(&port, &[]).unwrap();
    assert!(leader.opened_ports().unwrap().is_empty());
    leader.state_set(&bag(&[("s", "1")])).unwrap();
    assert_eq!(leader.state_get().unwrap()["s"], "1");
    let changes = juju.lock().unwrap().end_hook("app/0", true);
    assert_eq!(changes.changed_bags, [(peers, "app".to_string())]);
    assert_eq!(leader.opened_ports().unwrap(), [port]);
}

#[test]
fn a_failed_hooks_secret_changes_are_undone_and_a_successful_ones_kept() {
    let World { mut juju, .. } = world();
    let a0 = ctx("app/0");
    let add = |juju: &mut FakeJuju, password: &str| {
        juju.hook_secret_add(
            &a0,
            &SecretAddArgs {
                content: bag(&[("password", password)]),
                owner: SecretOwner::Application,
                ..Default::default()
            },
        )
        .unwrap()
    };
    juju.begin_hook(&a0);
    let kept = add(&mut juju, "one");
    juju.end_hook("app/0", true);

    juju.begin_hook(&a0);
    let lost = add(&mut juju, "lost");
    juju.hook_secret_set(
        &a0,
        &kept,
        &SecretSetArgs {
            content: Some(bag(&[("password", "two")])),
            label: Some("renamed".into()),
            ..Default::default()
        },
    )
    .unwrap();
    // Within the hook, its own changes are seen, as Juju's hook context
    // answers its pending ones.
    let seen = juju
        .hook_secret_get(&a0, Some(&kept), None, false, false)
        .unwrap();
    assert_eq!(seen["password"], "two");
    juju.end_hook("app/0", false);

    assert!(
        juju.hook_secret_get(&a0, Some(&lost), None, false, false)
            .is_err(),
        "a secret added by a failed hook does not exist"
    );
    let content = juju
        .hook_secret_get(&a0, Some(&kept), None, false, false)
        .unwrap();
    assert_eq!(
        content["password"], "one",
        "a failed hook's new revision is gone"
    );
    assert!(
        juju.hook_secret_get(&a0, None, Some("renamed"), false, false)
            .is_err(),
        "and so is its label"
    );
    juju.end_hook("app/0", true);

    // A hook that never ended is undone when the unit's next hook begins.
    juju.begin_hook(&a0);
    juju.hook_secret_remove(&a0, &kept, None).unwrap();
    juju.begin_hook(&a0);
    assert!(
        juju.hook_secret_get(&a0, Some(&kept), None, false, false)
            .is_ok()
    );
    juju.end_hook("app/0", true);
}

#[test]
fn storage_requests_and_metrics_count_only_when_the_hook_succeeds() {
    let World { mut juju, .. } = world();
    let a0 = ctx("app/0");
    let metric = [("requests".to_string(), "3".to_string())];
    for success in [false, true] {
        juju.begin_hook(&a0);
        juju.hook_storage_add(&a0, "data", 2).unwrap();
        juju.hook_add_metric(&a0, &metric, &[]);
        let unit = &juju.units["app/0"];
        assert!(unit.storage_requests.is_empty(), "not before the hook ends");
        assert!(unit.metrics.is_empty(), "not before the hook ends");
        juju.end_hook("app/0", success);
    }
    let unit = &juju.units["app/0"];
    assert_eq!(
        unit.storage_requests,
        BTreeMap::from([("data".to_string(), 2)])
    );
    assert_eq!(unit.metrics.len(), 1);
    assert_eq!(unit.metrics[0].metrics, metric);
}

#[test]
fn a_failed_hook_undoes_only_its_own_secret_changes() {
    // Juju runs the hooks of different units at once: what another unit's
    // hook committed while this one ran stays when this one fails.
    let World { mut juju, .. } = world();
    let (a0, a1) = (ctx("app/0"), ctx("app/1"));
    let unit_secret = |juju: &mut FakeJuju, unit: &HookContext, password: &str| {
        juju.hook_secret_add(
            unit,
            &SecretAddArgs {
                content: bag(&[("password", password)]),
                owner: SecretOwner::Unit,
                ..Default::default()
            },
        )
        .unwrap()
    };
    juju.begin_hook(&a0);
    let mine = unit_secret(&mut juju, &a0, "mine");
    juju.begin_hook(&a1);
    let theirs = unit_secret(&mut juju, &a1, "theirs");
    juju.end_hook("app/1", true);
    juju.end_hook("app/0", false);
    assert!(
        juju.hook_secret_get(&a0, Some(&mine), None, false, false)
            .is_err()
    );
    let content = juju
        .hook_secret_get(&a1, Some(&theirs), None, false, false)
        .unwrap();
    assert_eq!(content["password"], "theirs");
}
