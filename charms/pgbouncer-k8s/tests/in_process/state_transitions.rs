//! pgbouncer-k8s as state transitions (`Context`/`State`): one test per
//! branch of the pgb-peers flowcharts (docs/pgbouncer-k8s.md), asserting
//! only what the flowchart fixes: databag keys, files in the container,
//! deferred events, and whether PgBouncer was reloaded at all.

use std::collections::BTreeMap;

use crate::support::APP;
use crate::support::context::{
    CONTAINER, auth_user, backend_ready, ctx, file, pgbouncer_layer, reloaded,
};
use ops::pebble::ServiceStatus;
use ops_testing::context::Secret;
use ops_testing::context::{Container, Context, File, Relation, State};
use pgbouncer_k8s::PgbouncerK8sCharm;
use pgbouncer_k8s::answers::{ENDPOINTS, READ_ONLY_ENDPOINTS};
use pgbouncer_k8s::auth::AuthFile;
use pgbouncer_k8s::credentials::{AUTH_FILE_KEY, SECRET_ID, SECRET_REVISION};
use pgbouncer_k8s::peers::{CFG_FILE, LEADER_HOSTNAME, PEERS, PRIVATE_ADDRESS, unit_hostname};
use pgbouncer_k8s::pgb_config::{self, PgbConfig};
use pgbouncer_k8s::settings::PoolMode;

fn host(n: u32) -> String {
    unit_hostname(&format!("{APP}/{n}"), "context")
}

fn instances() -> usize {
    pgb_config::instance_count(pgb_config::available_cpus())
}

fn config(max_db_connections: u64) -> PgbConfig {
    PgbConfig::default_for(instances(), max_db_connections, 6432, PoolMode::Session).unwrap()
}

/// A config with `auth_query` pointed at the backend's auth user.
fn config_with_auth() -> PgbConfig {
    let mut c = config(100);
    c.set_auth(&auth_user()).unwrap();
    c
}

fn auth_file(password: &str) -> AuthFile {
    crate::support::auth_file(&[(&auth_user(), password)])
}

/// The container, Pebble up, with nothing in it.
fn empty_container() -> Container {
    Container::new(CONTAINER).with_can_connect(true)
}

/// The container with `config` rendered (main and instance files), the auth
/// file if given, and PgBouncer running.
fn running_container(config: &PgbConfig, auth: Option<&AuthFile>) -> Container {
    let mut c = empty_container()
        .with_file(pgb_config::INI_PATH, File::new(config.render()))
        .with_layer("pgbouncer", pgbouncer_layer(instances()));
    for n in 0..instances() {
        c = c
            .with_file(
                &pgb_config::instance_ini_path(n),
                File::new(config.render_instance(n)),
            )
            .with_service_status(&format!("pgbouncer_{n}"), ServiceStatus::Active);
    }
    if let Some(auth) = auth {
        c = c.with_file(
            pgb_config::AUTH_FILE_PATH,
            File::new(auth.render()).with_mode(0o400),
        );
    }
    c
}

/// The peer relation seen from unit `own`, with the other unit `peer`.
fn peers_with(peer: u32) -> Relation {
    Relation::peer(PEERS).with_remote_unit(peer, [(PRIVATE_ADDRESS, host(peer).as_str())])
}

fn deferred(state: &State, event: &str) -> bool {
    state.deferred_events().contains(&event)
}

fn peer_bag<'a>(
    state: &'a State,
    peers: &Relation,
) -> (&'a BTreeMap<String, String>, &'a BTreeMap<String, String>) {
    let r = state.relation(peers.id).expect("peer relation kept");
    (&r.local_app_data, &r.local_unit_data)
}

/// The auth file the leader shared, from the application's secret named in
/// the peer app databag.
fn shared_auth<'a>(state: &'a State, peers: &Relation) -> Option<&'a String> {
    let (app, _) = peer_bag(state, peers);
    let id = app.get(SECRET_ID)?;
    let secret = state
        .secrets
        .iter()
        .find(|s| s.id.ends_with(id.as_str()) || id.ends_with(s.id.as_str()))?;
    secret.latest_content()?.get(AUTH_FILE_KEY)
}

/// What a leader shares with its followers: `cfg_file` in the peer app
/// databag, and the auth file in the application's secret (named there).
fn shared(peers: Relation, cfg: Option<&str>, auth: Option<&str>) -> (Relation, Option<Secret>) {
    let mut data: Vec<(&str, String)> = Vec::new();
    if let Some(cfg) = cfg {
        data.push((CFG_FILE, cfg.to_string()));
    }
    let secret = auth.map(|auth| Secret::new([(AUTH_FILE_KEY, auth)]));
    if let Some(secret) = &secret {
        data.push((SECRET_ID, secret.id.clone()));
        data.push((SECRET_REVISION, "1".to_string()));
    }
    let peers = peers.with_local_app_data(data.iter().map(|(k, v)| (*k, v.as_str())));
    (peers, secret)
}

fn with_secret(state: State, secret: &Option<Secret>) -> State {
    match secret {
        Some(secret) => state.with_secret(secret.clone()),
        None => state,
    }
}

// ---- pgb-peers relation-created -------------------------------------------

/// Branch: "save own hostname in own unit databag", on the leader and on a follower.
#[test]
fn created_publishes_own_hostname_on_every_unit() {
    for leader in [true, false] {
        let mut ctx = ctx(2);
        let peers = Relation::peer(PEERS);
        let state = State::default()
            .with_leader(leader)
            .with_relation(peers.clone())
            .with_container(empty_container());
        let out = ctx.run(ctx.on.relation_created(&peers), &state).unwrap();
        let (_, unit) = peer_bag(&out, &peers);
        assert_eq!(unit[PRIVATE_ADDRESS], host(2), "leader: {leader}");
    }
}

/// Branch: "if not leader: return": nothing shared, nothing written, nothing deferred.
#[test]
fn created_on_a_follower_returns() {
    let mut ctx = ctx(1);
    let peers = peers_with(0);
    let state = State::default()
        .with_relation(peers.clone())
        .with_container(running_container(&config(100), None));
    let out = ctx.run(ctx.on.relation_created(&peers), &state).unwrap();
    let (app, _) = peer_bag(&out, &peers);
    assert!(
        app.is_empty(),
        "a follower shares nothing: {:?}",
        app.keys()
    );
    assert!(out.deferred.is_empty(), "{:?}", out.deferred_events());
    assert_eq!(out.container(CONTAINER), state.container(CONTAINER));
}

/// Branch: leader, "if the local pgbouncer config is not there yet: defer; return".
#[test]
fn created_on_a_leader_without_local_config_defers() {
    let mut ctx = ctx(0);
    let peers = Relation::peer(PEERS);
    let state = State::default()
        .with_leader(true)
        .with_relation(peers.clone())
        .with_container(empty_container());
    let out = ctx.run(ctx.on.relation_created(&peers), &state).unwrap();
    assert!(
        deferred(&out, "pgb_peers_relation_created"),
        "{:?}",
        out.deferred_events()
    );
    let (app, _) = peer_bag(&out, &peers);
    assert!(!app.contains_key(CFG_FILE));
    assert!(shared_auth(&out, &peers).is_none());
}

/// Branches: leader, "put the config (rendered) into the app databag as
/// cfg_file", then "if the backend database is not ready: defer; return" —
/// once for each way the backend is not ready. (A config without
/// `auth_query` while the backend relation and the auth file are both there
/// is not one of them: the leader renders the auth query in itself.)
#[test]
fn created_on_a_leader_shares_the_config_and_defers_until_the_backend_is_ready() {
    let cases: [(&str, State); 2] = [
        (
            "no backend relation",
            State::default().with_container(running_container(
                &config_with_auth(),
                Some(&auth_file("pw")),
            )),
        ),
        (
            "no auth file",
            backend_ready(State::default())
                .with_container(running_container(&config_with_auth(), None)),
        ),
    ];
    for (why, state) in cases {
        let mut ctx = ctx(0);
        let peers = Relation::peer(PEERS);
        let state = state.with_leader(true).with_relation(peers.clone());
        let local = file(&state, pgb_config::INI_PATH).unwrap().to_string();
        let out = ctx.run(ctx.on.relation_created(&peers), &state).unwrap();
        let (app, _) = peer_bag(&out, &peers);
        assert_eq!(
            app.get(CFG_FILE),
            Some(&local),
            "{why}: cfg_file is the local config"
        );
        assert!(
            shared_auth(&out, &peers).is_none(),
            "{why}: no auth file yet"
        );
        assert!(
            deferred(&out, "pgb_peers_relation_created"),
            "{why}: {:?}",
            out.deferred_events()
        );
    }
}

/// Branch: leader, backend ready: "put the auth file into the app databag as auth_file".
#[test]
fn created_on_a_leader_with_the_backend_ready_shares_the_auth_file() {
    let mut ctx = ctx(0);
    let peers = Relation::peer(PEERS);
    let auth = auth_file("pw");
    let state = backend_ready(
        State::default()
            .with_leader(true)
            .with_relation(peers.clone()),
    )
    .with_container(running_container(&config_with_auth(), Some(&auth)));
    let out = ctx.run(ctx.on.relation_created(&peers), &state).unwrap();
    let (app, _) = peer_bag(&out, &peers);
    // The auth file as the leader serves it: the auth user's line as it
    // was, beside the admin console user the charm adds.
    let shared = AuthFile::parse(shared_auth(&out, &peers).expect("auth file shared")).unwrap();
    assert_eq!(shared.hash_of(&auth_user()), auth.hash_of(&auth_user()));
    assert_eq!(
        file(&out, pgb_config::AUTH_FILE_PATH),
        Some(shared.render().as_str()),
        "what is shared is what the leader serves"
    );
    assert_eq!(app.get(CFG_FILE), Some(&config_with_auth().render()));
    assert!(
        !deferred(&out, "pgb_peers_relation_created"),
        "{:?}",
        out.deferred_events()
    );
    assert!(
        ctx.juju_log()
            .iter()
            .all(|l| !l.message.contains("backend-pw-never-logged")),
        "the backend password reached juju-log"
    );
}

// ---- pgb-peers relation-joined and relation-changed -------------------------

/// The two events the second flowchart is about, from peer unit `peer`.
fn joined_and_changed(
    peers: &Relation,
    peer: u32,
) -> Vec<(&'static str, ops_testing::context::Event)> {
    let on = ops_testing::context::On;
    vec![
        (
            "pgb_peers_relation_joined",
            on.relation_joined(peers).with_remote_unit(peer),
        ),
        (
            "pgb_peers_relation_changed",
            on.relation_changed(peers).with_remote_unit(peer),
        ),
    ]
}

/// Branch: "save own hostname in own unit databag", leader and follower,
/// joined and changed.
#[test]
fn joined_and_changed_publish_own_hostname() {
    for leader in [true, false] {
        let peers = peers_with(3);
        for (name, event) in joined_and_changed(&peers, 3) {
            let mut ctx = ctx(1);
            let state = State::default()
                .with_leader(leader)
                .with_relation(peers.clone())
                .with_container(empty_container());
            let out = ctx.run(event, &state).unwrap();
            let (_, unit) = peer_bag(&out, &peers);
            assert_eq!(unit[PRIVATE_ADDRESS], host(1), "{name}, leader: {leader}");
        }
    }
}

/// Branch: "update client relations' connection info" (the leader answers
/// its clients with the application's Service: one address for every unit).
#[test]
fn joined_and_changed_update_the_clients_connection_info() {
    let peers = peers_with(1).with_remote_unit(2, [(PRIVATE_ADDRESS, host(2).as_str())]);
    for (name, event) in joined_and_changed(&peers, 2) {
        let mut ctx = ctx(0);
        let client = Relation::new("database").with_remote_app("client-app");
        let state = State::default()
            .with_leader(true)
            .with_relation(peers.clone())
            .with_relation(client.clone())
            .with_container(running_container(&config(100), None));
        let out = ctx.run(event, &state).unwrap();
        let bag = &out.relation(client.id).unwrap().local_app_data;
        assert_eq!(
            bag[ENDPOINTS],
            format!("{APP}.context.svc.cluster.local:6432"),
            "{name}"
        );
        assert!(
            !bag.contains_key(READ_ONLY_ENDPOINTS),
            "{name}: no replicas"
        );
    }
}

/// Branch: leader, "if the local config is not there: defer; return".
#[test]
fn joined_and_changed_on_a_leader_without_local_config_defer() {
    let peers = peers_with(1);
    for (name, event) in joined_and_changed(&peers, 1) {
        let mut ctx = ctx(0);
        let state = State::default()
            .with_leader(true)
            .with_relation(peers.clone())
            .with_container(empty_container());
        let out = ctx.run(event, &state).unwrap();
        assert!(deferred(&out, name), "{name}: {:?}", out.deferred_events());
        let (app, _) = peer_bag(&out, &peers);
        assert!(!app.contains_key(CFG_FILE), "{name}");
    }
}

/// Branch: leader, "put the config into the app databag as cfg_file; set
/// leader_hostname to own hostname; return": a stale shared config is
/// replaced by the local one, and nothing local changes (a stale shared
/// auth file is not written locally either: the leader returns before the
/// follower's steps).
#[test]
fn joined_and_changed_on_a_leader_share_the_local_config_and_return() {
    let stale = config(44).render();
    let stale_auth = auth_file("stale").render();
    let (peers, stale_secret) = shared(peers_with(1), Some(&stale), Some(&stale_auth));
    let peers = peers.with_local_app_data([(LEADER_HOSTNAME, "gone")]);
    for (name, event) in joined_and_changed(&peers, 1) {
        let mut ctx = ctx(0);
        let state = with_secret(State::default(), &stale_secret)
            .with_leader(true)
            .with_relation(peers.clone())
            .with_container(running_container(&config(100), Some(&auth_file("current"))));
        let out = ctx.run(event, &state).unwrap();
        let (app, _) = peer_bag(&out, &peers);
        assert_eq!(app[CFG_FILE], config(100).render(), "{name}");
        assert_eq!(app[LEADER_HOSTNAME], host(0), "{name}");
        assert!(
            out.deferred.is_empty(),
            "{name}: {:?}",
            out.deferred_events()
        );
        assert_eq!(
            out.container(CONTAINER),
            state.container(CONTAINER),
            "{name}: local files kept"
        );
        assert!(
            !reloaded(&ctx),
            "{name}: {:?}",
            ctx.service_events(CONTAINER)
        );
    }
}

/// Branches: follower, "if the app databag holds a valid cfg_file: write it
/// locally (all instance files)" and "if the app databag holds a valid
/// auth_file: write it locally"; an invalid one is not written.
#[test]
fn followers_write_only_valid_shared_files() {
    let cfg = config(100).render();
    let auth = auth_file("pw").render();
    struct Case {
        name: &'static str,
        app_data: Vec<(&'static str, String)>,
        config_written: bool,
        auth_written: bool,
    }
    let cases = [
        Case {
            name: "valid cfg_file",
            app_data: vec![(CFG_FILE, cfg.clone())],
            config_written: true,
            auth_written: false,
        },
        Case {
            name: "valid auth file",
            app_data: vec![(AUTH_FILE_KEY, auth.clone())],
            config_written: false,
            auth_written: true,
        },
        Case {
            name: "both",
            app_data: vec![(CFG_FILE, cfg.clone()), (AUTH_FILE_KEY, auth.clone())],
            config_written: true,
            auth_written: true,
        },
        Case {
            name: "invalid cfg_file",
            app_data: vec![(CFG_FILE, "[pgbouncer]\nthis is = not [valid".into())],
            config_written: false,
            auth_written: false,
        },
        Case {
            name: "invalid auth file",
            app_data: vec![(AUTH_FILE_KEY, "garbage-secret-line".into())],
            config_written: false,
            auth_written: false,
        },
    ];
    for case in cases {
        let find = |key: &str| {
            case.app_data
                .iter()
                .find(|(k, _)| *k == key)
                .map(|(_, v)| v.as_str())
        };
        let (peers, secret) = shared(peers_with(0), find(CFG_FILE), find(AUTH_FILE_KEY));
        for (event_name, event) in joined_and_changed(&peers, 0) {
            let what = format!("{}, {event_name}", case.name);
            let mut ctx = ctx(1);
            let state = with_secret(State::default(), &secret)
                .with_relation(peers.clone())
                .with_container(empty_container());
            let out = ctx.run(event, &state).unwrap();
            assert_eq!(
                file(&out, pgb_config::INI_PATH),
                case.config_written.then_some(cfg.as_str()),
                "{what}: pgbouncer.ini"
            );
            for n in 0..instances() {
                let expected = config(100).render_instance(n);
                assert_eq!(
                    file(&out, &pgb_config::instance_ini_path(n)),
                    case.config_written.then_some(expected.as_str()),
                    "{what}: instance {n}"
                );
            }
            assert_eq!(
                file(&out, pgb_config::AUTH_FILE_PATH),
                case.auth_written.then_some(auth.as_str()),
                "{what}: auth file"
            );
            assert!(
                ctx.juju_log()
                    .iter()
                    .all(|l| !l.message.contains("garbage-secret-line")),
                "{what}: auth content reached juju-log"
            );
        }
    }
}

/// Branch: follower, "if the config or the auth file changed on disk: reload
/// PgBouncer"; unchanged files: no reload.
#[test]
fn followers_reload_pgbouncer_only_when_a_file_changed() {
    let old = config(100);
    let new = config(44);
    let old_auth = auth_file("old");
    let new_auth = auth_file("new");
    let cases = [
        ("changed cfg_file", new.render(), old_auth.render(), true),
        ("changed auth_file", old.render(), new_auth.render(), true),
        ("same files", old.render(), old_auth.render(), false),
    ];
    for (name, cfg, auth, reload) in cases {
        let (peers, secret) = shared(peers_with(0), Some(&cfg), Some(&auth));
        for (event_name, event) in joined_and_changed(&peers, 0) {
            let mut ctx = ctx(1);
            let state = with_secret(State::default(), &secret)
                .with_relation(peers.clone())
                .with_container(running_container(&old, Some(&old_auth)));
            let out = ctx.run(event, &state).unwrap();
            assert_eq!(
                file(&out, pgb_config::INI_PATH),
                Some(cfg.as_str()),
                "{name}, {event_name}"
            );
            assert_eq!(
                file(&out, pgb_config::AUTH_FILE_PATH),
                Some(auth.as_str()),
                "{name}, {event_name}"
            );
            assert_eq!(
                reloaded(&ctx),
                reload,
                "{name}, {event_name}: {:?}",
                ctx.service_events(CONTAINER)
            );
            assert!(
                out.deferred.is_empty(),
                "{name}, {event_name}: {:?}",
                out.deferred_events()
            );
        }
    }
}

/// Branch: follower, "a Pebble connection or change error: log and defer":
/// Pebble not answering, a file Pebble cannot read or write (a directory
/// where the config goes), and PgBouncer that cannot be (re)started (its
/// services stopped and failing to start, so that a reload by restart,
/// by replan or by signal all fail).
#[test]
fn followers_log_and_defer_on_pebble_errors() {
    let old = config(100);
    let changed = config(44).render();
    let peers = peers_with(0).with_local_app_data([(CFG_FILE, changed.as_str())]);
    let mut failing = running_container(&old, None);
    for n in 0..instances() {
        let service = format!("pgbouncer_{n}");
        failing = failing
            .with_service_status(&service, ServiceStatus::Inactive)
            .with_service_start_error(&service, "exited quickly with code 1");
    }
    let cases = [
        ("Pebble does not answer", Container::new(CONTAINER)),
        (
            "the config path is a directory",
            empty_container().with_dir(pgb_config::INI_PATH),
        ),
        ("PgBouncer cannot start", failing),
    ];
    for (name, container) in cases {
        for (event_name, event) in joined_and_changed(&peers, 0) {
            let mut ctx = ctx(1);
            let state = State::default()
                .with_relation(peers.clone())
                .with_container(container.clone());
            let out = ctx.run(event, &state).unwrap();
            assert!(
                deferred(&out, event_name),
                "{name}: {:?}",
                out.deferred_events()
            );
            assert!(
                ctx.juju_log()
                    .iter()
                    .any(|l| l.message.to_lowercase().contains("pebble")
                        && matches!(l.level.as_str(), "INFO" | "WARNING" | "ERROR")),
                "{name}, {event_name}: {:?}",
                ctx.juju_log()
            );
        }
    }
}

/// A new pod's Pebble starts with an empty plan, while unit state still
/// holds the digest of the layer the unit put in the old one: the layer is
/// put back and PgBouncer started, not taken for being there.
#[test]
fn a_new_pods_empty_plan_gets_the_layer_back() {
    let shared_config = config(44).render();
    let peers = peers_with(0).with_local_app_data([(CFG_FILE, shared_config.as_str())]);
    let state = State::default()
        .with_relation(peers.clone())
        .with_container(running_container(&config(100), None));
    let on = ops_testing::context::On;
    let out = ctx(1)
        .run(on.relation_changed(&peers).with_remote_unit(0), &state)
        .unwrap();
    assert_eq!(
        file(&out, pgb_config::INI_PATH),
        Some(shared_config.as_str())
    );
    // The pod is replaced: no files, no plan; the databags and unit state stay.
    let new_pod = out.clone().with_container(empty_container());
    let out = ctx(1)
        .run(on.relation_changed(&peers).with_remote_unit(0), &new_pod)
        .unwrap();
    let container = out.container(CONTAINER).unwrap();
    assert!(
        container
            .layers
            .iter()
            .any(|(label, _)| label == "pgbouncer"),
        "{:?}",
        container.layers
    );
    let services = container.services().unwrap();
    for n in 0..instances() {
        let name = format!("pgbouncer_{n}");
        assert_eq!(
            services.get(&name).map(|s| s.current),
            Some(ServiceStatus::Active),
            "{name}: {services:?}"
        );
    }
}

/// The example at the top of docs/testing.md, kept honest.
#[test]
fn docs_testing_md_example() {
    let mut ctx = Context::<PgbouncerK8sCharm>::from_charm_dir(env!("CARGO_MANIFEST_DIR"))
        .unwrap()
        .with_unit_id(1);
    let instances = pgb_config::instance_count(pgb_config::available_cpus());
    let cfg = PgbConfig::default_for(instances, 100, 6432, PoolMode::Session)
        .unwrap()
        .render();
    let peers = Relation::peer(PEERS)
        .with_remote_unit(0, [])
        .with_local_app_data([(CFG_FILE, cfg.as_str())]);
    let state = State::default()
        .with_relation(peers.clone())
        .with_container(Container::new("pgbouncer").with_can_connect(true));
    let out = ctx.run(ctx.on.relation_changed(&peers), &state).unwrap();
    let container = out.container("pgbouncer").unwrap();
    assert_eq!(container.text(pgb_config::INI_PATH), Some(cfg.as_str()));
    assert!(out.deferred.is_empty());
    assert!(!ctx.service_events("pgbouncer").is_empty());
}
