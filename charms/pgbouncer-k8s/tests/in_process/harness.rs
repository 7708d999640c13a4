//! pgbouncer-k8s through the Harness: each branch of the pgb-peers flowcharts.

use crate::support::*;

use ops::Status;
use ops_testing::Harness;
use pgbouncer_k8s::PgbouncerK8sCharm;
use pgbouncer_k8s::charm::LEADER_REMOVED;
use pgbouncer_k8s::credentials::{AUTH_FILE_KEY, SECRET_ID, SECRET_REVISION};
use pgbouncer_k8s::peers::{CFG_FILE, LEADER_HOSTNAME, PEERS, PRIVATE_ADDRESS};
use pgbouncer_k8s::pgb_config::{self, PgbConfig};
use pgbouncer_k8s::settings::PoolMode;
use serde_json::json;

/// As the leader shares an auth file: in the application's secret, with
/// the revision counter moved on in the peer app databag.
fn share_auth_file(h: &mut Harness<PgbouncerK8sCharm>, peers: u32, text: &str) {
    let existing = h.get_relation_data(peers, APP).get(SECRET_ID).cloned();
    let id = match existing {
        Some(id) => {
            h.juju()
                .set_secret_content(&id, [(AUTH_FILE_KEY.to_string(), text.to_string())].into());
            id
        }
        None => h.add_secret(APP, &[(AUTH_FILE_KEY, text)]),
    };
    let revision = h
        .get_relation_data(peers, APP)
        .get(SECRET_REVISION)
        .map_or(0, |r| r.parse::<u64>().unwrap());
    h.update_relation_data(
        peers,
        APP,
        &[
            (SECRET_ID, &id),
            (SECRET_REVISION, &(revision + 1).to_string()),
        ],
    )
    .unwrap();
}

/// A leader with Pebble up and the peer relation in place.
fn leader() -> (Harness<PgbouncerK8sCharm>, u32) {
    let h = started(true);
    let peers = h.juju().relations_of(APP, PEERS)[0];
    (h, peers)
}

/// The leader (`pgbouncer-k8s/1`) shares the default config and its
/// hostname in the peer app databag.
fn share_default_config(h: &mut Harness<PgbouncerK8sCharm>, peers: u32) {
    h.update_relation_data(
        peers,
        APP,
        &[
            (CFG_FILE, &rendered_default()),
            (LEADER_HOSTNAME, &hostname("pgbouncer-k8s/1")),
        ],
    )
    .unwrap();
}

/// A follower (unit 1 of a pair) with Pebble up.
fn follower() -> (Harness<PgbouncerK8sCharm>, u32) {
    let h = started(false);
    let peers = h.juju().relations_of(APP, PEERS)[0];
    (h, peers)
}

fn rendered_default() -> String {
    PgbConfig::default_for(2, 100, 6432, PoolMode::Session)
        .unwrap()
        .render()
}

#[test]
fn leader_renders_the_default_config_and_shares_it() {
    let (h, peers) = leader();
    let ini = file(&h, pgb_config::INI_PATH).expect("pgbouncer.ini written");
    let config = PgbConfig::parse(&ini).unwrap();
    config.validate().unwrap();
    assert!(file(&h, &pgb_config::instance_ini_path(0)).is_some());
    let app = h.get_relation_data(peers, APP);
    assert_eq!(app[CFG_FILE], ini);
    assert_eq!(app[LEADER_HOSTNAME], hostname("pgbouncer-k8s/0"));
    let plan = h.container_pebble("pgbouncer").unwrap().plan();
    assert!(plan.services.contains_key("pgbouncer_0"));
    let service = &plan.services["pgbouncer_0"];
    assert_eq!(
        service.command.as_deref(),
        Some(format!("pgbouncer {}", pgb_config::instance_ini_path(0)).as_str())
    );
    assert_eq!(service.user.as_deref(), Some("postgres"));
}

#[test]
fn every_unit_publishes_its_hostname() {
    let (h, peers) = leader();
    assert_eq!(
        h.get_relation_data(peers, "pgbouncer-k8s/0")[PRIVATE_ADDRESS],
        hostname("pgbouncer-k8s/0")
    );
    let (h, peers) = follower();
    assert_eq!(
        h.get_relation_data(peers, "pgbouncer-k8s/0")[PRIVATE_ADDRESS],
        hostname("pgbouncer-k8s/0")
    );
}

#[test]
fn start_without_pebble_defers() {
    let mut h = harness();
    h.set_leader(true).unwrap();
    h.begin_with_initial_hooks().unwrap();
    assert!(
        h.notices().iter().any(|n| n.event == "start"),
        "{:?}",
        h.notices()
    );
    assert_eq!(file(&h, pgb_config::INI_PATH), None);
    h.container_pebble_ready("pgbouncer").unwrap();
    assert!(file(&h, pgb_config::INI_PATH).is_some());
    assert!(
        !h.notices().iter().any(|n| n.event == "start"),
        "{:?}",
        h.notices()
    );
    // relation-created still waits for the backend database, as the
    // flowchart says: it, and only it, is still deferred.
    let waiting: Vec<&str> = h.notices().iter().map(|n| n.event.as_str()).collect();
    assert_eq!(waiting, ["pgb_peers_relation_created"]);
}

#[test]
fn leader_relation_created_defers_without_config_then_without_backend() {
    let mut h = harness();
    h.set_leader(true).unwrap();
    h.begin();
    h.set_can_connect("pgbouncer", true).unwrap();
    let peers = h.add_relation(PEERS, APP).unwrap();
    assert_eq!(
        h.get_relation_data(peers, "pgbouncer-k8s/0")[PRIVATE_ADDRESS],
        hostname("pgbouncer-k8s/0")
    );
    let created = |h: &Harness<PgbouncerK8sCharm>| {
        h.notices()
            .iter()
            .filter(|n| n.event == "pgb_peers_relation_created")
            .count()
    };
    assert_eq!(created(&h), 1, "no config yet: deferred");
    assert!(!h.get_relation_data(peers, APP).contains_key(CFG_FILE));

    // The config appears in the container (no hook of ours wrote it), and
    // the next dispatch re-emits relation-created alone: it shares the
    // config, and the backend is not ready, so it defers again.
    let mut config = PgbConfig::parse(&rendered_default()).unwrap();
    config.set_auth("pgbouncer_auth_relation_id_3").unwrap();
    let root = h.container_root("pgbouncer").unwrap();
    let ini = root.join(pgb_config::INI_PATH.trim_start_matches('/'));
    std::fs::create_dir_all(ini.parent().unwrap()).unwrap();
    std::fs::write(&ini, config.render()).unwrap();
    h.fire_hook("update-status").unwrap();
    let app = h.get_relation_data(peers, APP);
    assert_eq!(
        app.get(CFG_FILE),
        Some(&config.render()),
        "the local config, shared"
    );
    assert!(
        app_secret(&h, peers).is_none_or(|s| !s.contains_key(AUTH_FILE_KEY)),
        "no backend yet: no auth file"
    );
    assert_eq!(created(&h), 1, "backend not ready: deferred again");

    // The backend answers and the auth file is there: the re-emitted
    // relation-created shares the auth file and is done.
    h.hooks_disabled(|h| {
        add_backend(
            h,
            &[
                ("endpoints", "127.0.0.1:5432"),
                ("username", "relation_id_3"),
                ("password", "pw"),
            ],
        )
    });
    let auth = auth_file(&[("pgbouncer_auth_relation_id_3", "auth-pw")]);
    std::fs::write(
        root.join(pgb_config::AUTH_FILE_PATH.trim_start_matches('/')),
        auth.render(),
    )
    .unwrap();
    h.fire_hook("update-status").unwrap();
    let shared = app_secret(&h, peers).expect("the application's secret");
    let shared_auth = pgbouncer_k8s::auth::AuthFile::parse(&shared[AUTH_FILE_KEY]).unwrap();
    assert_eq!(
        shared_auth.hash_of("pgbouncer_auth_relation_id_3"),
        auth.hash_of("pgbouncer_auth_relation_id_3")
    );
    assert_eq!(created(&h), 0, "backend ready: done");
}

/// While the backend is not ready, every hook re-emits the leader's
/// deferred relation-created first. Its config is in the app databag
/// already: the re-run finds it there and changes nothing, in Pebble or in
/// the databag, before deferring again.
#[test]
fn a_re_emitted_relation_created_finds_the_config_shared_and_writes_nothing() {
    let (mut h, peers) = leader();
    let deferred = |h: &Harness<PgbouncerK8sCharm>| {
        h.notices()
            .iter()
            .any(|n| n.event == "pgb_peers_relation_created")
    };
    assert!(deferred(&h), "no backend: deferred");
    let shared = h.get_relation_data(peers, APP)[CFG_FILE].clone();
    assert_eq!(file(&h, pgb_config::INI_PATH), Some(shared.clone()));
    h.container_pebble("pgbouncer").unwrap().clear_requests();
    h.fire_hook("update-status").unwrap();
    let requests = h.container_pebble("pgbouncer").unwrap().requests();
    for write in ["POST /v1/files", "POST /v1/layers", "POST /v1/services"] {
        assert!(
            !requests.iter().any(|r| r == write),
            "{write}: {requests:?}"
        );
    }
    assert_eq!(h.get_relation_data(peers, APP)[CFG_FILE], shared);
    assert!(deferred(&h), "backend still not ready: deferred again");
}

/// The same config in the container and in the databag is not enough to
/// keep it: one that does not validate (here without `pidfile`) is
/// replaced by the re-emitted relation-created, in both places.
#[test]
fn a_re_emitted_relation_created_replaces_an_invalid_config_found_in_both_places() {
    let (mut h, peers) = leader();
    let invalid = "[databases]\n\n[pgbouncer]\nlisten_port = 6432\nlogfile = /var/log/pgbouncer/pgbouncer.log\n";
    assert!(PgbConfig::parse(invalid).unwrap().validate().is_err());
    let ini = host_path(&h, pgb_config::INI_PATH);
    std::fs::write(&ini, invalid).unwrap();
    h.hooks_disabled(|h| {
        h.update_relation_data(peers, APP, &[(CFG_FILE, invalid)])
            .unwrap()
    });
    h.fire_hook("update-status").unwrap();
    let local = file(&h, pgb_config::INI_PATH).unwrap();
    assert_ne!(local, invalid, "the local file is replaced");
    PgbConfig::parse(&local).unwrap().validate().unwrap();
    assert_eq!(h.get_relation_data(peers, APP)[CFG_FILE], local);
}

/// The backend answers with its credentials in `secret-user` (as
/// postgresql-k8s does when asked) or, a provider without secrets, plainly:
/// either way the charm reads them, tries the backend, and waits.
#[test]
fn unreachable_backend_waits_and_defers_without_failing_the_hook() {
    type Relate = fn(&mut Harness<PgbouncerK8sCharm>, &[(&str, &str)]) -> u32;
    for (how, relate) in [
        ("in a secret", add_backend as Relate),
        ("plainly", add_plain_backend as Relate),
    ] {
        let (mut h, peers) = leader();
        let closed = closed_port();
        let endpoints = format!("127.0.0.1:{closed}");
        let backend = relate(
            &mut h,
            &[
                ("endpoints", &endpoints),
                ("username", "relation_id_3"),
                ("password", "pw-never-logged"),
            ],
        );
        let request = h.get_relation_data(backend, APP);
        assert_eq!(request["database"], "pgbouncer");
        assert_eq!(request["extra-user-roles"], "SUPERUSER");
        assert_eq!(
            request["requested-secrets"],
            r#"["username", "password", "tls", "tls-ca", "uris", "read-only-uris", "entity-name", "entity-password"]"#,
            "asked as data_platform_libs' DatabaseRequires asks"
        );
        let status = h.unit_status();
        assert_eq!(
            status.name,
            ops::model::StatusName::Waiting,
            "{how}: {status:?}"
        );
        assert!(
            status.message.contains("cannot connect to the backend"),
            "{how}: {status:?}"
        );
        assert!(
            h.notices()
                .iter()
                .any(|n| n.event == "backend_database_relation_changed")
        );
        assert_eq!(
            file(&h, pgb_config::AUTH_FILE_PATH),
            None,
            "nothing rendered before the backend answers"
        );
        assert!(app_secret(&h, peers).is_none_or(|s| !s.contains_key(AUTH_FILE_KEY)));
        assert!(
            h.logs()
                .iter()
                .all(|l| !l.message.contains("pw-never-logged"))
        );
    }
}

#[test]
fn follower_writes_the_leaders_files_and_restarts_only_on_change() {
    let (mut h, peers) = follower();
    assert!(
        h.notices().iter().any(|n| n.event == "start"),
        "no shared config yet: deferred"
    );
    let cfg = rendered_default();
    h.update_relation_data(
        peers,
        APP,
        &[
            (CFG_FILE, &cfg),
            (LEADER_HOSTNAME, &hostname("pgbouncer-k8s/1")),
        ],
    )
    .unwrap();
    assert_eq!(
        file(&h, pgb_config::INI_PATH).as_deref(),
        Some(cfg.as_str())
    );
    assert!(file(&h, &pgb_config::instance_ini_path(1)).is_some());
    let after_first = restarts(&h) + reloads(&h);
    // The same databag again: no reload.
    h.update_relation_data(
        peers,
        "pgbouncer-k8s/1",
        &[(PRIVATE_ADDRESS, &hostname("pgbouncer-k8s/1"))],
    )
    .unwrap();
    assert_eq!(
        restarts(&h) + reloads(&h),
        after_first,
        "unchanged files: no restart, no reload"
    );
    // A changed pool mode: a reload (SIGHUP), not a restart.
    let restarts_before = restarts(&h);
    let mut changed = PgbConfig::parse(&cfg).unwrap();
    changed
        .apply_settings(2, 44, 6432, PoolMode::Transaction)
        .unwrap();
    h.update_relation_data(peers, APP, &[(CFG_FILE, &changed.render())])
        .unwrap();
    assert_eq!(file(&h, pgb_config::INI_PATH).unwrap(), changed.render());
    let after_config = reloads(&h);
    assert!(after_config > 0, "changed files: reload");
    assert_eq!(
        restarts(&h),
        restarts_before,
        "a reloadable change restarts nothing"
    );
    // A changed listen_port: PgBouncer must restart to take it.
    let mut moved = changed.clone();
    moved
        .apply_settings(2, 44, 7100, PoolMode::Transaction)
        .unwrap();
    h.update_relation_data(peers, APP, &[(CFG_FILE, &moved.render())])
        .unwrap();
    assert!(restarts(&h) > restarts_before, "listen_port: restart");
    // A valid shared auth file: written, owner-only, and PgBouncer reloaded.
    let auth = auth_file(&[("pgbouncer_auth_relation_id_3", "pw")]);
    share_auth_file(&mut h, peers, &auth.render());
    assert_eq!(file(&h, pgb_config::AUTH_FILE_PATH), Some(auth.render()));
    let path = h
        .container_root("pgbouncer")
        .unwrap()
        .join(pgb_config::AUTH_FILE_PATH.trim_start_matches('/'));
    let mode =
        std::os::unix::fs::PermissionsExt::mode(&std::fs::metadata(path).unwrap().permissions())
            & 0o777;
    assert_eq!(mode, 0o400);
    assert!(reloads(&h) > after_config, "a new auth file: reload");
}

/// Each "is Pebble up?" is a request to Pebble (`GET /v1/system-info`),
/// and so is each file read: a dispatch that writes the leader's files,
/// reloads and sees to the exporter (its deferred handlers re-emitted
/// first) asks the one once and reads the charm's files in one request,
/// however many steps and handlers need them; the same layer is added once.
#[test]
fn a_dispatch_asks_pebble_each_thing_once() {
    let (mut h, peers) = follower();
    h.container_pebble("pgbouncer").unwrap().clear_requests();
    share_default_config(&mut h, peers);
    let requests = h.container_pebble("pgbouncer").unwrap().requests();
    assert!(
        requests.iter().any(|r| r == "POST /v1/layers"),
        "the hook configured the workload: {requests:?}"
    );
    let asked = requests
        .iter()
        .filter(|r| *r == "GET /v1/system-info")
        .count();
    assert_eq!(asked, 1, "{requests:?}");
    // pgbouncer.ini, the TLS certificate (is TLS on?) and each instance's
    // file: the first read brings the charm's other files with it.
    let reads = requests.iter().filter(|r| *r == "GET /v1/files").count();
    assert_eq!(reads, 1, "{requests:?}");
    // PgBouncer's layer and the exporter's, each added once.
    let layers = requests.iter().filter(|r| *r == "POST /v1/layers").count();
    assert_eq!(layers, 2, "{requests:?}");
    // PgBouncer's services asked about once (then made to run), the
    // exporter's once: not again by a later handler or the status.
    let services = requests.iter().filter(|r| *r == "GET /v1/services").count();
    assert_eq!(services, 2, "{requests:?}");
}

/// Pebble keeps its plan until the container restarts: PgBouncer's layer
/// is put there by the first hook that serves, not again by each later one
/// that makes PgBouncer take new files (unit state keeps its digest).
#[test]
fn a_layer_already_in_the_plan_is_not_added_again() {
    let (mut h, peers) = follower();
    share_default_config(&mut h, peers);
    let pebble = h.container_pebble("pgbouncer").unwrap();
    assert!(
        pebble
            .layers()
            .iter()
            .any(|(label, _)| label == "pgbouncer")
    );
    pebble.clear_requests();
    let reloads_before = reloads(&h);
    let mut changed = PgbConfig::parse(&rendered_default()).unwrap();
    changed
        .apply_settings(2, 44, 6432, PoolMode::Transaction)
        .unwrap();
    h.update_relation_data(peers, APP, &[(CFG_FILE, &changed.render())])
        .unwrap();
    assert_eq!(file(&h, pgb_config::INI_PATH), Some(changed.render()));
    assert!(reloads(&h) > reloads_before, "changed files: reload");
    let requests = h.container_pebble("pgbouncer").unwrap().requests();
    // The one layer added is the exporter's: it carries the stats user's
    // password, so unit state keeps nothing of it.
    let layers = requests.iter().filter(|r| *r == "POST /v1/layers").count();
    assert_eq!(layers, 1, "{requests:?}");
}

/// The first file a dispatch reads brings the charm's other files with it;
/// one of those that cannot be used (here the clients' CA, not UTF-8)
/// fails nothing while no step needs it.
#[test]
fn an_unusable_file_read_alongside_fails_no_step_that_does_not_need_it() {
    let (mut h, peers) = follower();
    let pebble = h.container_pebble("pgbouncer").unwrap();
    pebble
        .client()
        .push(
            pgb_config::TLS_CA_PATH,
            [0xff, 0xfe, 0x00],
            &ops::pebble::PushOptions::new().with_make_dirs(true),
        )
        .unwrap();
    pebble.clear_requests();
    share_default_config(&mut h, peers);
    let requests = h.container_pebble("pgbouncer").unwrap().requests();
    let reads = requests.iter().filter(|r| *r == "GET /v1/files").count();
    assert_eq!(reads, 1, "the dispatch read its files: {requests:?}");
    assert_eq!(
        file(&h, pgb_config::INI_PATH).as_deref(),
        Some(rendered_default().as_str())
    );
}

/// A dispatch that made PgBouncer run knows it runs; one that did not asks
/// Pebble, and names an instance that stopped in between.
#[test]
fn a_stopped_instance_is_named_by_the_next_dispatch() {
    let (mut h, peers) = follower();
    share_default_config(&mut h, peers);
    assert!(
        !h.unit_status().message.contains("not running"),
        "{:?}",
        h.unit_status()
    );
    h.container_pebble("pgbouncer")
        .unwrap()
        .client()
        .stop_services(&["pgbouncer_0"])
        .unwrap();
    h.fire_hook("update-status").unwrap();
    let status = h.unit_status();
    assert_eq!(status.name, ops::model::StatusName::Blocked, "{status:?}");
    assert!(
        status.message.contains("pgbouncer_0 not running"),
        "{status:?}"
    );
}

#[test]
fn invalid_shared_files_are_ignored_and_the_hook_succeeds() {
    let (mut h, peers) = follower();
    let cfg = rendered_default();
    h.update_relation_data(peers, APP, &[(CFG_FILE, &cfg)])
        .unwrap();
    h.update_relation_data(
        peers,
        APP,
        &[(CFG_FILE, "[pgbouncer]\nthis is = not [valid")],
    )
    .unwrap();
    share_auth_file(&mut h, peers, "garbage-secret-line");
    assert_eq!(
        file(&h, pgb_config::INI_PATH).as_deref(),
        Some(cfg.as_str()),
        "the local file stays"
    );
    assert_eq!(file(&h, pgb_config::AUTH_FILE_PATH), None);
    let logs = h.logs();
    assert!(
        logs.iter()
            .any(|l| l.level == "WARNING" && l.message.contains(CFG_FILE)),
        "{logs:?}"
    );
    assert!(
        logs.iter()
            .any(|l| l.level == "WARNING" && l.message.contains("auth file")),
        "{logs:?}"
    );
    assert!(
        logs.iter()
            .all(|l| !l.message.contains("garbage-secret-line")),
        "auth content leaked: {logs:?}"
    );
}

#[test]
fn leader_sets_its_hostname_on_joined_and_changed() {
    let (mut h, peers) = leader();
    h.update_relation_data(peers, APP, &[(LEADER_HOSTNAME, "")])
        .unwrap();
    h.add_relation_unit(peers, "pgbouncer-k8s/1").unwrap();
    assert_eq!(
        h.get_relation_data(peers, APP)[LEADER_HOSTNAME],
        hostname("pgbouncer-k8s/0")
    );
}

#[test]
fn follower_seeing_the_leader_depart_waits_for_a_new_leader() {
    let (mut h, peers) = follower();
    h.add_relation_unit(peers, "pgbouncer-k8s/1").unwrap();
    share_default_config(&mut h, peers);
    h.remove_relation_unit(peers, "pgbouncer-k8s/1").unwrap();
    assert_eq!(h.unit_status(), Status::maintenance(LEADER_REMOVED));
    h.set_leader(true).unwrap();
    assert_ne!(h.unit_status(), Status::maintenance(LEADER_REMOVED));
    assert_eq!(
        h.get_relation_data(peers, APP)[LEADER_HOSTNAME],
        hostname("pgbouncer-k8s/0")
    );
}

#[test]
fn invalid_config_blocks_naming_the_option_and_renders_nothing() {
    let (mut h, _) = leader();
    let before = file(&h, pgb_config::INI_PATH);
    h.update_config([("pool_mode", json!("sometimes"))])
        .unwrap();
    let status = h.unit_status();
    assert_eq!(status.name, ops::model::StatusName::Blocked);
    assert!(status.message.contains("pool_mode"), "{status:?}");
    assert_eq!(file(&h, pgb_config::INI_PATH), before);
}

#[test]
fn max_db_connections_sets_pool_sizes() {
    let (mut h, peers) = leader();
    h.update_config([("max_db_connections", json!(44))])
        .unwrap();
    let config = PgbConfig::parse(&file(&h, pgb_config::INI_PATH).unwrap()).unwrap();
    // 44 over n instances, by hand from the spec: e = 44 / n, default =
    // ceil(e / 2), min = reserve = ceil(e / 4).
    let instances = pgb_config::instance_count(pgb_config::available_cpus());
    let (default, min, reserve) = match instances {
        2 => ("11", "6", "6"),
        3 => ("8", "4", "4"),
        4 => ("6", "3", "3"),
        n => panic!("{n} instances: the charm runs 2 to 4"),
    };
    assert_eq!(config.get("pgbouncer", "default_pool_size"), Some(default));
    assert_eq!(config.get("pgbouncer", "min_pool_size"), Some(min));
    assert_eq!(config.get("pgbouncer", "reserve_pool_size"), Some(reserve));
    assert_eq!(config.get("pgbouncer", "max_db_connections"), Some("44"));
    assert_eq!(h.get_relation_data(peers, APP)[CFG_FILE], config.render());
}

#[test]
fn client_relation_gets_the_services_address_whatever_the_units() {
    let (mut h, peers) = leader();
    add_peer_unit(&mut h, peers, "pgbouncer-k8s/2");
    add_peer_unit(&mut h, peers, "pgbouncer-k8s/1");
    let client = h.add_relation("database", "client-app").unwrap();
    h.add_relation_unit(client, "client-app/0").unwrap();
    let bag = h.get_relation_data(client, APP);
    // One address for every unit: the application's Kubernetes Service,
    // not a pod; no backend replicas, so no read-only route advertised.
    assert_eq!(
        bag["endpoints"],
        "pgbouncer-k8s.harness.svc.cluster.local:6432"
    );
    assert!(!bag.contains_key("read-only-endpoints"), "{bag:?}");
    // The port is opened on the unit, so Juju puts it on the Service.
    let opened = h.juju().units["pgbouncer-k8s/0"].ports.clone();
    assert!(
        opened
            .iter()
            .any(|p| p.protocol == "tcp" && p.from == 6432 && p.to == 6432),
        "{opened:?}"
    );
    // A new port replaces it.
    h.update_config([("listen_port", json!(7100))]).unwrap();
    let opened = h.juju().units["pgbouncer-k8s/0"].ports.clone();
    assert_eq!(
        opened.iter().map(|p| (p.from, p.to)).collect::<Vec<_>>(),
        [(7100, 7100)],
        "{opened:?}"
    );
    assert_eq!(
        h.get_relation_data(client, APP)["endpoints"],
        "pgbouncer-k8s.harness.svc.cluster.local:7100"
    );
}

#[test]
fn instances_log_to_stderr_so_their_logs_stay_bounded() {
    let (h, _) = leader();
    for n in 0..pgb_config::instance_count(pgb_config::available_cpus()) {
        let instance =
            PgbConfig::parse(&file(&h, &pgb_config::instance_ini_path(n)).unwrap()).unwrap();
        assert_eq!(
            instance.get("pgbouncer", "logfile"),
            Some(""),
            "instance {n} writes no log file that would grow in the container"
        );
        assert_eq!(instance.get("pgbouncer", "syslog"), None);
    }
}

/// The metadata `main` compiles in is what the charm directory declares.
#[test]
fn compiled_in_metadata_is_the_charm_directorys() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    assert_eq!(
        ops::CharmMeta::from_json(pgbouncer_k8s::meta::CHARM_META_JSON).unwrap(),
        ops::CharmMeta::from_charm_dir(dir).unwrap()
    );
}

/// Answers `pgbouncer --version` in the container with `stdout`; the
/// counter says how many times it was asked.
fn answer_version(
    h: &Harness<PgbouncerK8sCharm>,
    stdout: &'static str,
) -> std::sync::Arc<std::sync::atomic::AtomicUsize> {
    let asked = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counter = asked.clone();
    h.container_pebble("pgbouncer")
        .unwrap()
        .handle_exec(&["pgbouncer", "--version"], move |_| {
            counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            ops_testing::fake_pebble::ExecResult::stdout(stdout)
        });
    asked
}

#[test]
fn the_workload_version_is_pgbouncers_asked_at_pebble_ready() {
    let (mut h, _) = leader();
    let asked = answer_version(&h, "PgBouncer 1.21.0\nlibevent 2.1.12-stable\n");
    h.container_pebble_ready("pgbouncer").unwrap();
    assert_eq!(h.juju().apps[APP].workload_version, "1.21.0");
    // Asked at pebble-ready only, not at every hook.
    h.fire_hook("update-status").unwrap();
    h.fire_hook("config-changed").unwrap();
    assert_eq!(asked.load(std::sync::atomic::Ordering::SeqCst), 1);
}

/// A follower's pebble-ready waits for the leader's files (deferred, and
/// re-emitted by every hook until then); PgBouncer's version is still
/// asked once, at the container's start, not by each re-emission.
#[test]
fn a_waiting_follower_asks_pgbouncers_version_once_per_container_start() {
    let (mut h, peers) = follower();
    let asked = answer_version(&h, "PgBouncer 1.21.0\n");
    h.container_pebble_ready("pgbouncer").unwrap();
    let waiting = |h: &Harness<PgbouncerK8sCharm>| {
        h.notices()
            .iter()
            .any(|n| n.event == "pgbouncer_pebble_ready")
    };
    assert!(waiting(&h), "nothing shared yet: deferred");
    h.fire_hook("update-status").unwrap();
    h.fire_hook("update-status").unwrap();
    assert!(waiting(&h), "still nothing shared");
    assert_eq!(asked.load(std::sync::atomic::Ordering::SeqCst), 1);
    assert_eq!(h.juju().apps[APP].workload_version, "1.21.0");
    // The leader shares: the re-emitted pebble-ready configures the unit.
    share_default_config(&mut h, peers);
    assert!(!waiting(&h), "{:?}", h.notices());
    assert_eq!(file(&h, pgb_config::INI_PATH), Some(rendered_default()));
}

#[test]
fn prepared_statements_are_tracked_where_pgbouncer_knows_how() {
    let (mut h, _) = leader();
    h.container_pebble("pgbouncer")
        .unwrap()
        .handle_exec(&["pgbouncer", "--version"], |_| {
            ops_testing::fake_pebble::ExecResult::stdout("PgBouncer 1.24.1\n")
        });
    h.container_pebble_ready("pgbouncer").unwrap();
    let rendered = |h: &ops_testing::Harness<pgbouncer_k8s::PgbouncerK8sCharm>| {
        PgbConfig::parse(&file(h, pgb_config::INI_PATH).unwrap())
            .unwrap()
            .get("pgbouncer", "max_prepared_statements")
            .map(str::to_string)
    };
    assert_eq!(rendered(&h).as_deref(), Some("100"), "upstream's default");
    h.update_config([("max_prepared_statements", json!(250))])
        .unwrap();
    assert_eq!(rendered(&h).as_deref(), Some("250"));
    h.update_config([("max_prepared_statements", json!(5000))])
        .unwrap();
    assert_eq!(
        rendered(&h).as_deref(),
        Some("250"),
        "a bad value changes nothing"
    );
    assert!(h.unit_status().message.contains("max_prepared_statements"));
}

#[test]
fn an_older_pgbouncer_is_not_given_settings_it_refuses() {
    let (mut h, _) = leader();
    h.container_pebble("pgbouncer")
        .unwrap()
        .handle_exec(&["pgbouncer", "--version"], |_| {
            ops_testing::fake_pebble::ExecResult::stdout("PgBouncer 1.18.0\n")
        });
    h.container_pebble_ready("pgbouncer").unwrap();
    let config = PgbConfig::parse(&file(&h, pgb_config::INI_PATH).unwrap()).unwrap();
    assert_eq!(config.get("pgbouncer", "max_prepared_statements"), None);
}
