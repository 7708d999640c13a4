//! pgbouncer-k8s through what Juju does to a unit on Kubernetes: pod churn
//! and refresh (the workload's files are gone), the leader's own removal
//! (departed and broken for every relation while still leader), a port
//! change, a restart that fails. The peer app databag is the application's
//! memory; these tests check nothing is lost from it, or from the workload.

use std::path::PathBuf;

use ops::model::StatusName;
use ops_testing::Harness;
use pgbouncer_k8s::PgbouncerK8sCharm;
use pgbouncer_k8s::auth::AuthFile;
use pgbouncer_k8s::charm::{BACKEND_NOT_READY, LEADER_REMOVED, WAITING_FOR_LEADER};
use pgbouncer_k8s::peers::{
    AUTH_FILE, CFG_FILE, LEADER_HOSTNAME, PEERS, PRIVATE_ADDRESS, client_database_key,
    relation_password_key, unit_hostname,
};
use pgbouncer_k8s::pgb_config::{self, PgbConfig};
use serde_json::json;

const APP: &str = "pgbouncer-k8s";
const AUTH_USER: &str = "pgbouncer_auth_relation_id_3";

fn harness() -> Harness<PgbouncerK8sCharm> {
    Harness::from_charm_dir(env!("CARGO_MANIFEST_DIR")).unwrap()
}

fn hostname(unit: &str) -> String {
    unit_hostname(unit, "harness")
}

fn host_path(h: &Harness<PgbouncerK8sCharm>, path: &str) -> PathBuf {
    h.container_root("pgbouncer")
        .unwrap()
        .join(path.trim_start_matches('/'))
}

fn file(h: &Harness<PgbouncerK8sCharm>, path: &str) -> Option<String> {
    std::fs::read_to_string(host_path(h, path)).ok()
}

/// A port nothing listens on: a backend there never answers.
fn closed_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// What a leader of a serving application has shared: a config with a
/// client's database and the auth query, and the auth file.
fn served_files(port: u16) -> (PgbConfig, AuthFile) {
    let instances = pgb_config::instance_count(pgb_config::available_cpus());
    let mut config = PgbConfig::default_for(instances, 100, 6432, "session").unwrap();
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
    auth.set_user(AUTH_USER, "auth-user-password-0").unwrap();
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

fn serving_leader() -> Serving {
    let mut h = harness();
    h.set_leader(true).unwrap();
    h.set_can_connect("pgbouncer", true).unwrap();
    h.begin_with_initial_hooks().unwrap();
    let peers = h.juju().relations_of(APP, PEERS)[0];
    h.add_relation_unit(peers, "pgbouncer-k8s/1").unwrap();
    h.update_relation_data(
        peers,
        "pgbouncer-k8s/1",
        &[(PRIVATE_ADDRESS, &hostname("pgbouncer-k8s/1"))],
    )
    .unwrap();
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
            (CFG_FILE, &config.render()),
            (AUTH_FILE, &auth.render()),
            (&relation_password_key(client), "client-password-0"),
            (&client_database_key(client), "appdb"),
        ],
    )
    .unwrap();
    let backend = h.hooks_disabled(|h| {
        h.add_relation_with_app_data(
            "backend-database",
            "postgresql",
            &[
                ("endpoints", &format!("127.0.0.1:{port}")),
                ("username", "relation_id_3"),
                ("password", "backend-password"),
            ],
        )
        .unwrap()
    });
    Serving {
        h,
        peers,
        backend,
        client,
        config,
        auth,
    }
}

/// The workload container as a new pod has it: no files.
fn lose_the_pod(h: &Harness<PgbouncerK8sCharm>) {
    for dir in [pgb_config::LIB_DIR, pgb_config::LOG_DIR] {
        let _ = std::fs::remove_dir_all(host_path(h, dir));
    }
    assert_eq!(file(h, pgb_config::INI_PATH), None);
}

#[test]
fn a_leader_without_files_restores_them_from_the_peer_databag() {
    let Serving {
        mut h,
        peers,
        config,
        auth,
        ..
    } = serving_leader();
    lose_the_pod(&h);
    for hook in ["stop", "upgrade-charm", "config-changed", "start"] {
        h.fire_hook(hook).unwrap();
    }
    h.container_pebble_ready("pgbouncer").unwrap();
    let local =
        PgbConfig::parse(&file(&h, pgb_config::INI_PATH).expect("config restored")).unwrap();
    assert_eq!(local.database("appdb"), config.database("appdb"));
    assert_eq!(local.database("legacydb"), config.database("legacydb"));
    assert!(local.has_auth_query(), "auth_query kept");
    let local_auth =
        AuthFile::parse(&file(&h, pgb_config::AUTH_FILE_PATH).expect("auth file")).unwrap();
    assert_eq!(
        local_auth.hash_of(AUTH_USER),
        auth.hash_of(AUTH_USER),
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
        h.get_relation_data(peers, APP)[AUTH_FILE],
        local_auth.render()
    );
}

#[test]
fn the_default_config_is_rendered_only_when_the_application_never_had_one() {
    let mut h = harness();
    h.set_leader(true).unwrap();
    h.set_can_connect("pgbouncer", true).unwrap();
    h.begin_with_initial_hooks().unwrap();
    let peers = h.juju().relations_of(APP, PEERS)[0];
    let shared = h.get_relation_data(peers, APP)[CFG_FILE].clone();
    let config = PgbConfig::parse(&shared).unwrap();
    assert!(config.databases().is_empty());
    assert!(!config.has_auth_query());
}

#[test]
fn a_follower_without_files_takes_them_back_from_the_leader() {
    let mut h = harness();
    h.set_can_connect("pgbouncer", true).unwrap();
    h.begin_with_initial_hooks().unwrap();
    let peers = h.juju().relations_of(APP, PEERS)[0];
    let (config, auth) = served_files(5432);
    h.update_relation_data(
        peers,
        APP,
        &[(CFG_FILE, &config.render()), (AUTH_FILE, &auth.render())],
    )
    .unwrap();
    lose_the_pod(&h);
    for hook in ["stop", "upgrade-charm", "config-changed", "start"] {
        h.fire_hook(hook).unwrap();
    }
    assert_eq!(file(&h, pgb_config::INI_PATH), Some(config.render()));
    assert_eq!(file(&h, pgb_config::AUTH_FILE_PATH), Some(auth.render()));
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
        app.get(&relation_password_key(client)).map(String::as_str),
        Some("client-password-0"),
        "the client's user is kept"
    );
    assert_eq!(
        app.get(&client_database_key(client)).map(String::as_str),
        Some("appdb")
    );
    let shared_auth = AuthFile::parse(&app[AUTH_FILE]).unwrap();
    assert_eq!(shared_auth.hash_of(AUTH_USER), auth.hash_of(AUTH_USER));
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
    let mut h = harness();
    h.set_can_connect("pgbouncer", true).unwrap();
    h.begin_with_initial_hooks().unwrap();
    let leader = "pgbouncer-k8s/1";
    h.juju().set_leader(APP, Some(leader));
    let peers = h.juju().relations_of(APP, PEERS)[0];
    h.add_relation_unit(peers, leader).unwrap();
    let (config, auth) = served_files(5432);
    h.update_relation_data(
        peers,
        APP,
        &[
            (CFG_FILE, config.render().as_str()),
            (AUTH_FILE, auth.render().as_str()),
            (LEADER_HOSTNAME, hostname(leader).as_str()),
            (relation_password_key(7).as_str(), "client-password-7"),
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
        app.get(&relation_password_key(7)).map(String::as_str),
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
        app.get(&relation_password_key(client)).map(String::as_str),
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
        h.notices()
            .iter()
            .any(|n| n.event == "database_relation_broken"),
        "{:?}",
        h.notices()
    );
    let app = h.get_relation_data(peers, APP);
    assert_eq!(
        app.get(&relation_password_key(client)).map(String::as_str),
        Some("client-password-0"),
        "a user that may still log in is never forgotten"
    );
    assert!(
        PgbConfig::parse(&app[CFG_FILE])
            .unwrap()
            .database("appdb")
            .is_some()
    );
    // And the unit says why it waits.
    let status = h.unit_status();
    assert_eq!(status.name, StatusName::Waiting, "{status:?}");
    assert!(
        status.message.starts_with("waiting for backend database:"),
        "{status:?}"
    );
}

#[test]
fn listen_port_reaches_every_client_with_ports_and_uris() {
    let Serving { mut h, client, .. } = serving_leader();
    h.update_config([("listen_port", json!(7001))]).unwrap();
    let bag = h.get_relation_data(client, APP);
    let leader = hostname("pgbouncer-k8s/0");
    let follower = hostname("pgbouncer-k8s/1");
    assert_eq!(bag["endpoints"], format!("{leader}:7001"));
    assert_eq!(bag["read-only-endpoints"], format!("{follower}:7001"));
    let user = relation_password_key(client);
    assert_eq!(
        bag["uris"],
        format!("postgresql://{user}:client-password-0@{leader}:7001/appdb")
    );
    assert_eq!(
        bag["read-only-uris"],
        format!("postgresql://{user}:client-password-0@{follower}:7001/appdb")
    );
    assert_eq!(bag["username"], user);
    assert_eq!(bag["database"], "appdb");
}

#[test]
fn a_client_that_requests_secrets_gets_its_credentials_in_one() {
    let Serving { mut h, client, .. } = serving_leader();
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
    assert_eq!(content["username"], relation_password_key(client));
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
    let mut h = harness();
    h.set_leader(true).unwrap();
    h.set_can_connect("pgbouncer", true).unwrap();
    h.begin_with_initial_hooks().unwrap();
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
    let mut h = harness();
    h.set_can_connect("pgbouncer", true).unwrap();
    h.begin_with_initial_hooks().unwrap();
    h.hooks_disabled(|h| {
        h.add_relation_with_app_data(
            "backend-database",
            "postgresql",
            &[
                ("endpoints", "127.0.0.1:5432"),
                ("username", "relation_id_3"),
                ("password", "pw"),
            ],
        )
        .unwrap()
    });
    h.evaluate_status().unwrap();
    assert_eq!(h.unit_status(), ops::Status::waiting(WAITING_FOR_LEADER));
}

#[test]
fn the_admin_console_user_is_in_the_auth_file_with_a_kept_password() {
    let Serving { mut h, peers, .. } = serving_leader();
    h.fire_hook("config-changed").unwrap();
    let app = h.get_relation_data(peers, APP);
    let password = app
        .get(pgbouncer_k8s::peers::ADMIN_PASSWORD)
        .expect("admin password kept")
        .clone();
    assert_eq!(password.len(), 24);
    let auth = AuthFile::parse(&file(&h, pgb_config::AUTH_FILE_PATH).unwrap()).unwrap();
    assert!(auth.verify(pgb_config::ADMIN_USER, &password));
    assert_eq!(app[AUTH_FILE], auth.render(), "shared with the followers");
    let config = PgbConfig::parse(&file(&h, pgb_config::INI_PATH).unwrap()).unwrap();
    assert_eq!(config.user_list("admin_users"), [pgb_config::ADMIN_USER]);
    // Stable: another hook neither changes the password nor the file.
    h.fire_hook("config-changed").unwrap();
    assert_eq!(
        h.get_relation_data(peers, APP)[pgbouncer_k8s::peers::ADMIN_PASSWORD],
        password
    );
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
