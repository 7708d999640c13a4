//! pgbouncer-k8s through what Juju does to a unit on Kubernetes: pod churn
//! and refresh (the workload's files are gone), the leader's own removal
//! (departed and broken for every relation while still leader), a port
//! change, a restart that fails. The peer app databag is the application's
//! memory; these tests check nothing is lost from it, or from the workload.

use crate::support::*;

use ops::model::StatusName;
use ops_testing::{Harness, HarnessSnapshot};
use pgbouncer_k8s::PgbouncerK8sCharm;
use pgbouncer_k8s::auth::AuthFile;
use pgbouncer_k8s::charm::{BACKEND_NOT_READY, LEADER_REMOVED, WAITING_FOR_LEADER};
use pgbouncer_k8s::credentials::{
    ADMIN_PASSWORD_KEY, AUTH_FILE_KEY, SECRET_ID, SECRET_REVISION, client_key, legacy,
};
use pgbouncer_k8s::peers::{CFG_FILE, LEADER_HOSTNAME, PEERS, client_database_key, client_user};
use pgbouncer_k8s::pgb_config::{self, PgbConfig};
use pgbouncer_k8s::settings::PoolMode;
use serde_json::json;
use std::sync::OnceLock;

const AUTH_USER: &str = "pgbouncer_auth_relation_id_3";

/// What a leader of a serving application has shared: a config with a
/// client's database and the auth query, and the auth file.
fn served_files(port: u16) -> (PgbConfig, AuthFile) {
    let instances = pgb_config::instance_count(pgb_config::available_cpus());
    let mut config = PgbConfig::default_for(instances, 100, 6432, PoolMode::Session).unwrap();
    config
        .add_database(
            "appdb",
            &[
                ("host", "127.0.0.1"),
                ("port", &port.to_string()),
                ("dbname", "appdb"),
            ],
        )
        .unwrap();
    // An entry no client record names (a charm before records kept one):
    // only the shared config has it.
    config
        .add_database(
            "legacydb",
            &[("host", "127.0.0.1"), ("port", &port.to_string())],
        )
        .unwrap();
    config.set_auth(AUTH_USER).unwrap();
    let mut auth = AuthFile::default();
    auth.set_plain(AUTH_USER, "auth-user-password-0").unwrap();
    (config, auth)
}

/// A leader whose application serves client relation `client` (database
/// `appdb`) through a backend on a closed loopback port: the peer app
/// databag holds the shared files and the client's records.
struct Serving {
    h: Harness<PgbouncerK8sCharm>,
    peers: u32,
    backend: u32,
    client: u32,
    config: PgbConfig,
    auth: AuthFile,
}

/// The serving leader after its first hook with the backend (a
/// config-changed): it ran the pgb-peers relation-created it had deferred,
/// served its files with the backend, moved the older revision's
/// credentials into the application's secret and made the console users.
/// Set up once per test binary and copied for each test
/// ([`set_up_once`]), so that those steps, SCRAM verifiers included, are
/// paid once and not in each test.
fn serving_leader() -> Serving {
    static SET_UP: OnceLock<(HarnessSnapshot, (u32, u32, u32, u16))> = OnceLock::new();
    serving(set_up_once(&SET_UP, || {
        let (mut h, ids) = as_an_older_revision_left_it();
        h.fire_hook("config-changed").unwrap();
        (h, ids)
    }))
}

/// The serving leader before any hook since an older revision left the
/// peer databag (the shared files and the client's password in plain keys):
/// for the tests of that first hook. Set up once per test binary and
/// copied for each test ([`set_up_once`]).
fn serving_leader_as_an_older_revision_left_it() -> Serving {
    serving(as_an_older_revision_left_it())
}

/// A copy of [`set_up_serving_leader`]'s leader, set up once.
fn as_an_older_revision_left_it() -> (Harness<PgbouncerK8sCharm>, (u32, u32, u32, u16)) {
    static SET_UP: OnceLock<(HarnessSnapshot, (u32, u32, u32, u16))> = OnceLock::new();
    set_up_once(&SET_UP, set_up_serving_leader)
}

/// A copy of a serving leader's set-up, with the files it serves.
fn serving(
    (h, (peers, backend, client, port)): (Harness<PgbouncerK8sCharm>, (u32, u32, u32, u16)),
) -> Serving {
    let (config, auth) = served_files(port);
    Serving {
        h,
        peers,
        backend,
        client,
        config,
        auth,
    }
}

/// The serving leaders' set-up, with its relation ids (peers, backend,
/// client) and the backend's port.
fn set_up_serving_leader() -> (Harness<PgbouncerK8sCharm>, (u32, u32, u32, u16)) {
    let mut h = started(true);
    let peers = h.juju().relations_of(APP, PEERS)[0];
    add_peer_unit(&mut h, peers, "pgbouncer-k8s/1");
    let port = closed_port();
    let (config, auth) = served_files(port);
    let client = h.hooks_disabled(|h| {
        let client = h.add_relation("database", "client-app").unwrap();
        h.add_relation_unit(client, "client-app/0").unwrap();
        h.update_relation_data(client, "client-app", &[("database", "appdb")])
            .unwrap();
        client
    });
    h.update_relation_data(
        peers,
        APP,
        &[
            // As an older revision of the charm left them: the leader
            // moves the secret ones into the application's secret.
            (CFG_FILE, &config.render()),
            (legacy::AUTH_FILE, &auth.render()),
            (&client_user(client), "client-password-0"),
            (&client_database_key(client), "appdb"),
        ],
    )
    .unwrap();
    let backend = h.hooks_disabled(|h| {
        add_backend(
            h,
            &[
                ("endpoints", &format!("127.0.0.1:{port}")),
                ("username", "relation_id_3"),
                ("password", "backend-password"),
            ],
        )
    });
    (h, (peers, backend, client, port))
}

/// The password of client relation `client`'s user in the application's
/// secret, if the secret is there and keeps one.
fn kept_client_password(h: &Harness<PgbouncerK8sCharm>, peers: u32, client: u32) -> Option<String> {
    app_secret(h, peers)?.get(&client_key(client)).cloned()
}

#[test]
fn a_leader_without_files_restores_them_from_the_peer_databag() {
    let Serving {
        mut h,
        peers,
        config,
        auth,
        ..
    } = serving_leader_as_an_older_revision_left_it();
    lose_the_pod(&h);
    for hook in ["stop", "upgrade-charm", "config-changed", "start"] {
        h.fire_hook(hook).unwrap();
    }
    h.container_pebble_ready("pgbouncer").unwrap();
    assert_every_instance_runs(&h);
    let local =
        PgbConfig::parse(&file(&h, pgb_config::INI_PATH).expect("config restored")).unwrap();
    assert_eq!(local.database("appdb"), config.database("appdb"));
    assert_eq!(local.database("legacydb"), config.database("legacydb"));
    assert!(local.has_auth_query(), "auth_query kept");
    let local_auth =
        AuthFile::parse(&file(&h, pgb_config::AUTH_FILE_PATH).expect("auth file")).unwrap();
    assert_eq!(
        local_auth.plain_password(AUTH_USER),
        auth.plain_password(AUTH_USER),
        "auth file restored: the auth user keeps its password"
    );
    let shared = PgbConfig::parse(&h.get_relation_data(peers, APP)[CFG_FILE]).unwrap();
    assert!(
        shared.database("appdb").is_some(),
        "never shares a poorer config"
    );
    assert!(
        shared.database("legacydb").is_some(),
        "never shares a poorer config"
    );
    assert!(shared.has_auth_query());
    assert_eq!(
        app_secret(&h, peers).unwrap()[AUTH_FILE_KEY],
        local_auth.render()
    );
}

#[test]
fn the_default_config_is_rendered_only_when_the_application_never_had_one() {
    let h = started(true);
    let peers = h.juju().relations_of(APP, PEERS)[0];
    let shared = h.get_relation_data(peers, APP)[CFG_FILE].clone();
    let config = PgbConfig::parse(&shared).unwrap();
    assert!(config.databases().is_empty());
    assert!(!config.has_auth_query());
}

#[test]
fn a_follower_without_files_takes_them_back_from_the_leader() {
    let mut h = started(false);
    let peers = h.juju().relations_of(APP, PEERS)[0];
    let (config, auth) = served_files(5432);
    let secret = h.add_secret(APP, &[(AUTH_FILE_KEY, &auth.render())]);
    h.update_relation_data(
        peers,
        APP,
        &[
            (CFG_FILE, &config.render()),
            (SECRET_ID, &secret),
            (SECRET_REVISION, "1"),
        ],
    )
    .unwrap();
    lose_the_pod(&h);
    for hook in ["stop", "upgrade-charm", "config-changed", "start"] {
        h.fire_hook(hook).unwrap();
    }
    assert_eq!(file(&h, pgb_config::INI_PATH), Some(config.render()));
    assert_eq!(file(&h, pgb_config::AUTH_FILE_PATH), Some(auth.render()));
    assert_every_instance_runs(&h);
}

#[test]
fn the_leader_leaving_tears_nothing_down() {
    let Serving {
        mut h,
        peers,
        client,
        config,
        auth,
        ..
    } = serving_leader();
    h.remove_this_unit().unwrap();
    let app = h.get_relation_data(peers, APP);
    assert_eq!(
        kept_client_password(&h, peers, client).as_deref(),
        Some("client-password-0"),
        "the client's user is kept"
    );
    assert_eq!(
        app.get(&client_database_key(client)).map(String::as_str),
        Some("appdb")
    );
    let shared_auth = AuthFile::parse(&app_secret(&h, peers).unwrap()[AUTH_FILE_KEY]).unwrap();
    assert_eq!(
        shared_auth.plain_password(AUTH_USER),
        auth.plain_password(AUTH_USER)
    );
    let shared = PgbConfig::parse(&app[CFG_FILE]).unwrap();
    assert_eq!(shared.database("appdb"), config.database("appdb"));
    assert!(shared.has_auth_query());
    assert_eq!(
        app[LEADER_HOSTNAME],
        hostname("pgbouncer-k8s/0"),
        "unchanged until a new leader takes over"
    );
    if let Some(local) = file(&h, pgb_config::INI_PATH) {
        let local = PgbConfig::parse(&local).unwrap();
        assert!(local.database("appdb").is_some() && local.has_auth_query());
    }
    assert!(
        !h.logs()
            .iter()
            .any(|l| l.message.contains("could not revoke") || l.message.contains("auth user")),
        "no attempt to drop users: {:?}",
        h.logs()
    );
}

/// As Juju hands leadership over: the leader's unit goes, and no unit
/// leads until its lease runs out. A follower in that gap sees the leader
/// depart, then runs update-status with no leader: it changes nothing the
/// leader shared, keeps its files and says it waits for a new leader; once
/// elected itself, it takes over.
#[test]
fn a_follower_waits_through_the_leaderless_gap_then_takes_over() {
    let mut h = started(false);
    let leader = "pgbouncer-k8s/1";
    h.juju().set_leader(APP, Some(leader));
    let peers = h.juju().relations_of(APP, PEERS)[0];
    h.add_relation_unit(peers, leader).unwrap();
    let (config, auth) = served_files(5432);
    h.update_relation_data(
        peers,
        APP,
        &[
            // As an older revision left them (the credentials in plain
            // keys): the unit elected at the end moves them into the secret.
            (CFG_FILE, config.render().as_str()),
            (legacy::AUTH_FILE, auth.render().as_str()),
            (LEADER_HOSTNAME, hostname(leader).as_str()),
            (client_user(7).as_str(), "client-password-7"),
        ],
    )
    .unwrap();
    assert_eq!(file(&h, pgb_config::INI_PATH), Some(config.render()));
    let shared = h.get_relation_data(peers, APP);

    // The leader's unit goes: its departure, then no leader at all.
    h.remove_relation_unit(peers, leader).unwrap();
    h.juju().set_leader(APP, None);
    for hook in ["update-status", "update-status"] {
        h.fire_hook(hook).unwrap();
        assert_eq!(h.get_relation_data(peers, APP), shared, "in the gap");
        let status = h.unit_status();
        assert_eq!(
            (status.name, status.message.as_str()),
            (StatusName::Maintenance, LEADER_REMOVED),
            "{status:?}"
        );
        assert_eq!(file(&h, pgb_config::INI_PATH), Some(config.render()));
        assert_eq!(file(&h, pgb_config::AUTH_FILE_PATH), Some(auth.render()));
    }

    // The lease runs out: this unit is elected and takes over.
    h.set_leader(true).unwrap();
    let app = h.get_relation_data(peers, APP);
    assert_eq!(app[LEADER_HOSTNAME], hostname("pgbouncer-k8s/0"));
    assert_eq!(
        kept_client_password(&h, peers, 7).as_deref(),
        Some("client-password-7"),
        "the client's record is kept"
    );
    assert_ne!(h.unit_status().message, LEADER_REMOVED);
}

#[test]
fn a_client_leaving_while_there_is_no_backend_is_revoked_later() {
    let Serving {
        mut h,
        peers,
        client,
        backend,
        ..
    } = serving_leader();
    h.hooks_disabled(|h| h.remove_relation(backend).unwrap());
    h.remove_relation(client).unwrap();
    assert!(
        !h.notices()
            .iter()
            .any(|n| n.event == "database_relation_broken"),
        "nothing to retry against: not deferred"
    );
    let app = h.get_relation_data(peers, APP);
    assert_eq!(
        kept_client_password(&h, peers, client).as_deref(),
        Some("client-password-0"),
        "kept until a backend can revoke it"
    );
    let shared = PgbConfig::parse(&app[CFG_FILE]).unwrap();
    assert_eq!(
        shared.database("appdb"),
        None,
        "its database is served no more"
    );
}

#[test]
fn a_revocation_that_fails_keeps_the_record_and_retries() {
    let Serving {
        mut h,
        peers,
        client,
        ..
    } = serving_leader();
    h.remove_relation(client).unwrap();
    assert!(
        !h.notices()
            .iter()
            .any(|n| n.event == "database_relation_broken"),
        "retried from update-status, never a deferred event: {:?}",
        h.notices()
    );
    let app = h.get_relation_data(peers, APP);
    assert_eq!(
        kept_client_password(&h, peers, client).as_deref(),
        Some("client-password-0"),
        "a user that may still log in is never forgotten"
    );
    assert_eq!(
        PgbConfig::parse(&app[CFG_FILE]).unwrap().database("appdb"),
        None,
        "a removed client is served no more, revoked or not"
    );
    // And the unit says why it waits, naming the relation.
    let status = h.unit_status();
    assert_eq!(status.name, StatusName::Waiting, "{status:?}");
    assert!(
        status.message.starts_with(&format!(
            "the user of the removed database relation {client} is not revoked yet:"
        )),
        "{status:?}"
    );
    // update-status tries again (the backend still does not answer).
    let tries = |h: &Harness<PgbouncerK8sCharm>| {
        h.logs()
            .iter()
            .filter(|l| l.message.contains("could not revoke the user"))
            .count()
    };
    let before = tries(&h);
    h.fire_hook("update-status").unwrap();
    assert_eq!(tries(&h), before + 1, "retried at update-status");
    assert!(
        app_secret(&h, peers)
            .unwrap()
            .contains_key(&client_key(client))
    );
    h.fire_hook("config-changed").unwrap();
    assert_eq!(tries(&h), before + 1, "and at no other hook");
}

#[test]
fn listen_port_reaches_every_client_with_ports_and_uris() {
    let Serving { mut h, client, .. } = serving_leader();
    h.update_config([("listen_port", json!(7001))]).unwrap();
    let bag = h.get_relation_data(client, APP);
    let service = "pgbouncer-k8s.harness.svc.cluster.local";
    assert_eq!(bag["endpoints"], format!("{service}:7001"));
    let user = client_user(client);
    assert_eq!(
        bag["uris"],
        format!("postgresql://{user}:client-password-0@{service}:7001/appdb")
    );
    // The backend has no replicas here: no read-only route is advertised.
    assert!(!bag.contains_key("read-only-endpoints"), "{bag:?}");
    assert!(!bag.contains_key("read-only-uris"), "{bag:?}");
    assert_eq!(bag["username"], user);
    assert_eq!(bag["database"], "appdb");
}

#[test]
fn a_client_that_requests_secrets_gets_its_credentials_in_one() {
    let Serving { mut h, client, .. } = serving_leader_as_an_older_revision_left_it();
    h.update_relation_data(
        client,
        "client-app",
        &[(
            "requested-secrets",
            r#"["username", "password", "tls", "tls-ca", "uris", "read-only-uris"]"#,
        )],
    )
    .unwrap();
    h.update_config([("listen_port", json!(7002))]).unwrap();
    let bag = h.get_relation_data(client, APP);
    for plain in ["username", "password", "uris", "read-only-uris"] {
        assert!(
            !bag.contains_key(plain),
            "{plain} in the plain databag: {bag:?}"
        );
    }
    let uri = bag.get("secret-user").expect("secret-user field").clone();
    let juju = h.juju();
    let secret = juju
        .secrets
        .values()
        .find(|s| uri.ends_with(s.id.trim_start_matches("secret:")))
        .expect("the secret exists");
    assert_eq!(secret.owner, APP);
    assert_eq!(secret.owner_kind, "application");
    assert_eq!(
        secret.label.as_deref(),
        Some(format!("database.{client}.user.secret").as_str())
    );
    assert!(
        secret
            .grants
            .iter()
            .any(|g| g.relation == client && g.app == "client-app"),
        "{:?}",
        secret.grants
    );
    let content = &secret.revisions[&secret.latest()];
    assert_eq!(content["username"], client_user(client));
    assert_eq!(content["password"], "client-password-0");
    assert!(content["uris"].ends_with(":7002/appdb"), "{content:?}");
}

#[test]
fn a_failed_restart_is_retried_until_it_succeeds() {
    let Serving { mut h, .. } = serving_leader();
    h.fire_hook("config-changed").unwrap();
    assert!(
        h.notices().is_empty(),
        "nothing deferred: {:?}",
        h.notices()
    );
    let pebble = h.container_pebble("pgbouncer").unwrap();
    pebble.set_service_start_error("pgbouncer_0", Some("address already in use"));
    h.update_config([("listen_port", json!(7003))]).unwrap();
    let status = h.unit_status();
    assert_eq!(status.name, StatusName::Blocked, "{status:?}");
    assert!(
        status.message.contains("PgBouncer did not take its files"),
        "{status:?}"
    );
    h.container_pebble("pgbouncer")
        .unwrap()
        .set_service_start_error("pgbouncer_0", None);
    h.fire_hook("update-status").unwrap();
    let started = h
        .container_pebble("pgbouncer")
        .unwrap()
        .service_status("pgbouncer_0");
    assert!(
        matches!(started, Some(s) if s.to_string() == "active"),
        "{started:?}"
    );
    let status = h.unit_status();
    assert!(
        !status.message.contains("did not take") && !status.message.contains("not running"),
        "{status:?}"
    );
}

#[test]
fn status_names_a_backend_relation_without_credentials() {
    let mut h = started(true);
    h.add_relation("backend-database", "postgresql").unwrap();
    assert_eq!(
        h.unit_status(),
        ops::Status::blocked(BACKEND_NOT_READY),
        "{:?}",
        h.unit_status()
    );
}

#[test]
fn a_follower_without_the_leaders_config_waits() {
    let mut h = started(false);
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
    h.evaluate_status().unwrap();
    assert_eq!(h.unit_status(), ops::Status::waiting(WAITING_FOR_LEADER));
}

#[test]
fn the_admin_console_user_is_in_the_auth_file_with_a_kept_password() {
    let Serving { mut h, peers, .. } = serving_leader();
    h.fire_hook("config-changed").unwrap();
    let password = app_secret(&h, peers)
        .unwrap()
        .get(ADMIN_PASSWORD_KEY)
        .expect("admin password kept")
        .clone();
    assert_eq!(password.len(), 24);
    let auth = AuthFile::parse(&file(&h, pgb_config::AUTH_FILE_PATH).unwrap()).unwrap();
    assert!(auth.verify(pgb_config::ADMIN_USER, &password));
    assert_eq!(
        app_secret(&h, peers).unwrap()[AUTH_FILE_KEY],
        auth.render(),
        "shared with the followers"
    );
    let config = PgbConfig::parse(&file(&h, pgb_config::INI_PATH).unwrap()).unwrap();
    assert_eq!(config.user_list("admin_users"), [pgb_config::ADMIN_USER]);
    // Stable: another hook neither changes the password nor the file.
    h.fire_hook("config-changed").unwrap();
    assert_eq!(app_secret(&h, peers).unwrap()[ADMIN_PASSWORD_KEY], password);
    assert!(
        h.logs().iter().all(|l| !l.message.contains(&password)),
        "never logged"
    );
}

#[test]
fn a_pgbouncer_that_does_not_answer_blocks_until_it_does() {
    let Serving { mut h, .. } = serving_leader();
    let silent = closed_port();
    h.update_config([("listen_port", json!(silent))]).unwrap();
    h.fire_hook("update-status").unwrap();
    let status = h.unit_status();
    assert_eq!(status.name, StatusName::Blocked, "{status:?}");
    assert!(
        status
            .message
            .contains(&format!("PgBouncer does not answer on 127.0.0.1:{silent}")),
        "{status:?}"
    );
    // Something answers where PgBouncer listens now.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    h.update_config([("listen_port", json!(port))]).unwrap();
    h.fire_hook("update-status").unwrap();
    let status = h.unit_status();
    assert!(!status.message.contains("does not answer"), "{status:?}");
}

/// update-status, which runs on every unit every few minutes, asks Pebble
/// once whether it answers and once for the services: collect-status takes
/// what the handler saw.
#[test]
fn update_status_asks_pebble_once_for_each_thing() {
    let Serving { mut h, .. } = serving_leader();
    h.fire_hook("update-status").unwrap();
    h.container_pebble("pgbouncer").unwrap().clear_requests();
    h.fire_hook("update-status").unwrap();
    let requests = h.container_pebble("pgbouncer").unwrap().requests();
    let count = |line: &str| requests.iter().filter(|r| *r == line).count();
    assert_eq!(count("GET /v1/system-info"), 1, "{requests:?}");
    assert_eq!(count("GET /v1/services"), 1, "{requests:?}");
    // And the status still reflects them: PgBouncer does not listen here.
    let status = h.unit_status();
    assert!(status.message.contains("does not answer"), "{status:?}");
}

#[test]
fn a_restart_owed_survives_a_write_that_failed_half_way() {
    let Serving { mut h, .. } = serving_leader();
    h.fire_hook("config-changed").unwrap();
    let instances = pgb_config::instance_count(pgb_config::available_cpus());
    assert!(instances >= 2);
    // The last instance's file cannot be written (a directory stands in
    // its place): the port change is half-written when the hook gives up.
    let last = host_path(&h, &pgb_config::instance_ini_path(instances - 1));
    std::fs::remove_file(&last).unwrap();
    std::fs::create_dir(&last).unwrap();
    let before = restarts(&h);
    h.update_config([("listen_port", json!(7010))]).unwrap();
    assert_eq!(restarts(&h), before, "nothing restarted yet");
    std::fs::remove_dir(&last).unwrap();
    // The next hook finds what the first one left and restarts every
    // instance: PgBouncer must not stay on the old port.
    h.fire_hook("update-status").unwrap();
    assert_eq!(
        restarts(&h),
        before + instances,
        "{:?}",
        h.container_pebble("pgbouncer").unwrap().service_events()
    );
    for n in 0..instances {
        let text = file(&h, &pgb_config::instance_ini_path(n)).unwrap();
        assert!(text.contains("listen_port = 7010"), "instance {n}");
        assert!(
            !text.contains(pgbouncer_k8s::workload::RESTART_MARKER),
            "instance {n}: the marker goes once it restarted"
        );
    }
}

#[test]
fn a_restart_recorded_in_the_files_is_done_even_when_nothing_else_changed() {
    let Serving { mut h, .. } = serving_leader();
    h.fire_hook("config-changed").unwrap();
    // As a hook killed after writing every file left them: the new config
    // everywhere, each instance still owing its restart.
    h.update_config([("listen_port", json!(7011))]).unwrap();
    let instances = pgb_config::instance_count(pgb_config::available_cpus());
    for n in 0..instances {
        let path = host_path(&h, &pgb_config::instance_ini_path(n));
        let mut text = std::fs::read_to_string(&path).unwrap();
        text.push_str(pgbouncer_k8s::workload::RESTART_MARKER);
        std::fs::write(&path, text).unwrap();
    }
    let before = restarts(&h);
    h.fire_hook("config-changed").unwrap();
    assert_eq!(restarts(&h), before + instances);
    h.fire_hook("config-changed").unwrap();
    assert_eq!(restarts(&h), before + instances, "once");
}

#[test]
fn a_bad_option_keeps_the_last_good_settings_everywhere() {
    let Serving {
        mut h,
        peers,
        client,
        ..
    } = serving_leader();
    h.update_config([("listen_port", json!(7000))]).unwrap();
    let leader = "pgbouncer-k8s.harness.svc.cluster.local";
    assert_eq!(
        h.get_relation_data(client, APP)["endpoints"],
        format!("{leader}:7000")
    );
    // A misspelt pool_mode (and a new port in the same change): nothing
    // of it is taken until the option is fixed.
    h.update_config([("pool_mode", json!("sesion")), ("listen_port", json!(7001))])
        .unwrap();
    let status = h.unit_status();
    assert_eq!(status.name, StatusName::Blocked, "{status:?}");
    assert!(status.message.contains("pool_mode"), "{status:?}");
    let local = PgbConfig::parse(&file(&h, pgb_config::INI_PATH).unwrap()).unwrap();
    assert_eq!(
        local.get(pgb_config::PGBOUNCER, "listen_port"),
        Some("7000")
    );
    assert_eq!(
        h.get_relation_data(client, APP)["endpoints"],
        format!("{leader}:7000"),
        "clients are told the port PgBouncer is on"
    );
    // A client leaving makes the leader render again: with the settings
    // in force, not the defaults.
    h.remove_relation(client).unwrap();
    let shared = PgbConfig::parse(&h.get_relation_data(peers, APP)[CFG_FILE]).unwrap();
    assert_eq!(
        shared.get(pgb_config::PGBOUNCER, "listen_port"),
        Some("7000")
    );
    assert_eq!(
        shared.get(pgb_config::PGBOUNCER, "pool_mode"),
        Some("session")
    );
    let local = PgbConfig::parse(&file(&h, pgb_config::INI_PATH).unwrap()).unwrap();
    assert_eq!(
        local.get(pgb_config::PGBOUNCER, "listen_port"),
        Some("7000")
    );
    // Fixed: the new values are taken.
    h.update_config([("pool_mode", json!("transaction"))])
        .unwrap();
    let local = PgbConfig::parse(&file(&h, pgb_config::INI_PATH).unwrap()).unwrap();
    assert_eq!(
        local.get(pgb_config::PGBOUNCER, "listen_port"),
        Some("7001")
    );
    assert_eq!(
        local.get(pgb_config::PGBOUNCER, "pool_mode"),
        Some("transaction")
    );
}

/// Every value of every databag of every relation in the model.
fn all_databag_values(h: &Harness<PgbouncerK8sCharm>) -> Vec<(String, String)> {
    let juju = h.juju();
    juju.relations
        .values()
        .flat_map(|r| {
            r.bags.iter().flat_map(move |(member, bag)| {
                bag.iter().map(move |(key, value)| {
                    (format!("{}:{member}:{key}", r.endpoint), value.clone())
                })
            })
        })
        .collect()
}

#[test]
fn upgrading_moves_every_credential_from_the_databag_into_the_secret() {
    // The peer databag is as an older revision left it: the
    // auth file and the client's password in plain keys.
    let Serving {
        mut h,
        peers,
        client,
        auth,
        ..
    } = serving_leader_as_an_older_revision_left_it();
    // The older revision's admin console line, md5 as it made them.
    let mut old_auth = AuthFile::parse(&format!(
        "\"{}\" \"{}\"\n",
        pgb_config::ADMIN_USER,
        pgbouncer_k8s::auth::md5_password(pgb_config::ADMIN_USER, "old-admin-pw-1234")
    ))
    .unwrap();
    for user in auth.users() {
        if let Some(password) = auth.plain_password(user) {
            old_auth.set_plain(user, password).unwrap();
        }
    }
    h.update_relation_data(
        peers,
        APP,
        &[
            (legacy::AUTH_FILE, &old_auth.render()),
            (legacy::ADMIN_PASSWORD, "old-admin-pw-1234"),
        ],
    )
    .unwrap();
    h.fire_hook("upgrade-charm").unwrap();
    let app = h.get_relation_data(peers, APP);
    for key in app.keys() {
        assert!(
            key != legacy::AUTH_FILE
                && key != legacy::ADMIN_PASSWORD
                && !key.starts_with(legacy::RELATION_PASSWORD_PREFIX),
            "{key} left in the databag: {app:?}"
        );
    }
    let secret = app_secret(&h, peers).unwrap();
    assert_eq!(secret[&client_key(client)], "client-password-0");
    let moved = AuthFile::parse(&secret[AUTH_FILE_KEY]).unwrap();
    assert!(moved.plain_password(AUTH_USER).is_some());
    assert_eq!(
        moved.plain_password(AUTH_USER),
        auth.plain_password(AUTH_USER)
    );
    let admin = secret[ADMIN_PASSWORD_KEY].clone();
    assert_eq!(admin, "old-admin-pw-1234", "the admin password is kept");
    assert_eq!(
        moved.kind_of(pgb_config::ADMIN_USER),
        Some(pgbouncer_k8s::auth::SecretKind::Scram),
        "the admin line is SCRAM now (auth_type = scram-sha-256)"
    );
    assert!(moved.verify(pgb_config::ADMIN_USER, &admin));
    // The secret belongs to the application, and no databag holds any of it.
    {
        let juju = h.juju();
        let owned = juju
            .secrets
            .values()
            .find(|s| s.label.as_deref() == Some(pgbouncer_k8s::credentials::SECRET_LABEL))
            .expect("labelled secret");
        assert_eq!(owned.owner, APP);
        assert_eq!(owned.owner_kind, "application");
        assert!(
            owned.grants.is_empty(),
            "granted to nobody: {:?}",
            owned.grants
        );
    }
    let mut secrets = vec![
        "client-password-0".to_string(),
        admin,
        secret[AUTH_FILE_KEY].clone(),
        "SCRAM-SHA-256$".to_string(),
    ];
    // Each verifier in the auth file too.
    secrets.extend(
        moved
            .users()
            .filter_map(|user| moved.hash_of(user))
            .map(str::to_string),
    );
    let values = all_databag_values(&h);
    assert!(!values.is_empty());
    for (place, value) in &values {
        for secret in &secrets {
            assert!(!value.contains(secret.as_str()), "a credential in {place}");
        }
    }
}

#[test]
fn a_follower_that_cannot_read_the_secret_says_so() {
    let mut h = started(false);
    let peers = h.juju().relations_of(APP, PEERS)[0];
    let (config, _) = served_files(5432);
    h.update_relation_data(
        peers,
        APP,
        &[
            (CFG_FILE, &config.render()),
            (SECRET_ID, "secret:d1gcnkfmp25c7a9dmcq0"),
            (SECRET_REVISION, "1"),
        ],
    )
    .unwrap();
    let status = h.unit_status();
    assert_eq!(status.name, StatusName::Blocked, "{status:?}");
    assert!(
        status
            .message
            .starts_with("cannot read the application secret secret:"),
        "{status:?}"
    );
    assert_eq!(file(&h, pgb_config::AUTH_FILE_PATH), None);
}

#[test]
fn reads_are_routed_to_the_backends_replicas_only_when_it_has_them() {
    let Serving {
        mut h,
        backend,
        client,
        ..
    } = serving_leader();
    h.hooks_disabled(|h| {
        h.update_relation_data(
            backend,
            "postgresql",
            &[("read-only-endpoints", "127.0.0.1:6999,127.0.0.2:6999")],
        )
        .unwrap()
    });
    h.update_config([("listen_port", json!(7002))]).unwrap();
    let config = PgbConfig::parse(&file(&h, pgb_config::INI_PATH).unwrap()).unwrap();
    let route = config.database("appdb_readonly").expect("read-only route");
    assert_eq!(route.get("host"), Some("127.0.0.1"));
    assert_eq!(route.get("port"), Some("6999"));
    assert_eq!(route.get("dbname"), Some("appdb"));
    let primary = config.database("appdb").unwrap();
    assert_ne!(
        primary.get("port"),
        Some("6999"),
        "the primary stays the primary"
    );
    let bag = h.get_relation_data(client, APP);
    let service = "pgbouncer-k8s.harness.svc.cluster.local:7002";
    assert_eq!(bag["read-only-endpoints"], service);
    assert_eq!(
        bag["read-only-uris"],
        format!(
            "postgresql://{}:client-password-0@{service}/appdb_readonly",
            client_user(client)
        ),
        "one URI, not a list"
    );
    // The replicas go: so does every read-only route.
    h.hooks_disabled(|h| {
        h.update_relation_data(backend, "postgresql", &[("read-only-endpoints", "")])
            .unwrap()
    });
    h.update_config([("listen_port", json!(7003))]).unwrap();
    let config = PgbConfig::parse(&file(&h, pgb_config::INI_PATH).unwrap()).unwrap();
    assert_eq!(config.database("appdb_readonly"), None);
    assert!(config.database("appdb").is_some());
    let bag = h.get_relation_data(client, APP);
    assert!(!bag.contains_key("read-only-endpoints") && !bag.contains_key("read-only-uris"));
}
