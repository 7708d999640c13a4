//! pgbouncer-k8s doing PgBouncer's real job: a real PostgreSQL on loopback
//! as the backend, the compiled charm under the simulator (one unit, then
//! three), and the real PgBouncer started from the files the charm rendered
//! into a unit's container. A client connects through it with the
//! credentials the charm gave in the client relation; a wrong password is
//! refused; once the relation is gone, the user no longer connects.

use std::net::{TcpListener, TcpStream};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use ops_testing::binaries::{cargo_bin, hook_tool};
use ops_testing::sim::scenario::RemoteApp;
use ops_testing::sim::{Report, Scenario, Simulator};
use pgbouncer_k8s::pgb_config::PgbConfig;

// Not a relation id the simulator hands out here: in one Juju model relation
// ids are unique, so a backend user never shares a client user's name.
const BACKEND_USER: &str = "relation_id_99";
const BACKEND_PASSWORD: &str = "backend-pw-7f3a";

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

struct Postgres {
    dir: tempfile::TempDir,
    port: u16,
}

impl Postgres {
    fn start() -> Self {
        // The guard exists before the server does: if `start` fails half
        // way (the server up, the role not made), dropping it still stops it.
        let mut pg = Self {
            dir: tempfile::tempdir().unwrap(),
            port: 0,
        };
        let out = Command::new(root().join("scripts/local-postgres"))
            .args(["start"])
            .arg(pg.dir.path().join("pg"))
            .args([BACKEND_USER, BACKEND_PASSWORD])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "cannot start PostgreSQL (.ci/run installs it): {}",
            String::from_utf8_lossy(&out.stderr)
        );
        pg.port = String::from_utf8_lossy(&out.stdout).trim().parse().unwrap();
        pg
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        let _ = Command::new(root().join("scripts/local-postgres"))
            .arg("stop")
            .arg(self.dir.path().join("pg"))
            .status();
        assert_none_left(self.dir.path());
    }
}

/// The processes whose command line names `dir` (read from /proc), as
/// `(pid, command line)`.
fn processes_naming(dir: &Path) -> Vec<(String, String)> {
    let needle = dir.display().to_string();
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|pid| pid.bytes().all(|b| b.is_ascii_digit()))
        .filter_map(|pid| {
            let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).ok()?;
            let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
            cmdline
                .contains(&needle)
                .then(|| (pid, cmdline.trim().to_string()))
        })
        .collect()
}

/// Once a guard has stopped its server, nothing it started may be left:
/// whatever still names the guard's dir is killed, and (unless the test is
/// already failing: a panic in a drop while unwinding aborts the test
/// binary) the test fails.
fn assert_none_left(dir: &Path) {
    let left = processes_naming(dir);
    for (pid, _) in &left {
        let _ = Command::new("kill").args(["-9", pid]).status();
    }
    if !std::thread::panicking() {
        assert!(left.is_empty(), "still running after the test: {left:#?}");
    }
}

struct PgBouncer {
    child: Child,
    port: u16,
    dir: tempfile::TempDir,
}

impl PgBouncer {
    fn log(&self) -> String {
        // Instances log to stderr (Pebble keeps it in the charm's container).
        std::fs::read_to_string(self.dir.path().join("stderr")).unwrap_or_default()
    }
}

impl Drop for PgBouncer {
    fn drop(&mut self) {
        // The child is PgBouncer itself (no runuser in between, no -d), so
        // killing it and reaping it leaves nothing behind.
        let _ = self.child.kill();
        let _ = self.child.wait();
        assert_none_left(self.dir.path());
    }
}

/// The uid and gid of `user`, from /etc/passwd.
fn user_ids(user: &str) -> (u32, u32) {
    let passwd = std::fs::read_to_string("/etc/passwd").unwrap();
    passwd
        .lines()
        .map(|line| line.split(':').collect::<Vec<_>>())
        .find(|fields| fields.len() > 3 && fields[0] == user)
        .map(|fields| (fields[2].parse().unwrap(), fields[3].parse().unwrap()))
        .unwrap_or_else(|| panic!("no user {user:?} to run pgbouncer as"))
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Writes one unit's rendered instance 0 config and auth file under `dir`,
/// moved out of the container's paths and listening on 127.0.0.1:`port`;
/// returns the config file.
fn place_files(report: &Report, unit: &str, dir: &Path, port: u16) -> PathBuf {
    let files = &report.units[unit].containers["pgbouncer"].files;
    let (lib, log) = (dir.join("lib"), dir.join("log"));
    for d in [
        dir.to_path_buf(),
        lib.join("instance_0"),
        log.join("instance_0"),
        lib.clone(),
        log.clone(),
    ] {
        std::fs::create_dir_all(&d).unwrap();
        std::fs::set_permissions(&d, std::fs::Permissions::from_mode(0o777)).unwrap();
    }
    let mut config = PgbConfig::parse(&files["/var/lib/pgbouncer/instance_0/pgbouncer.ini"])
        .unwrap()
        .with_base_dirs(&lib.display().to_string(), &log.display().to_string());
    config.set("pgbouncer", "listen_addr", "127.0.0.1").unwrap();
    config
        .set("pgbouncer", "listen_port", &port.to_string())
        .unwrap();
    let ini = lib.join("instance_0/pgbouncer.ini");
    std::fs::write(&ini, config.render()).unwrap();
    std::fs::write(
        lib.join("userlist.txt"),
        &files["/var/lib/pgbouncer/userlist.txt"],
    )
    .unwrap();
    std::fs::set_permissions(
        lib.join("userlist.txt"),
        std::fs::Permissions::from_mode(0o644),
    )
    .unwrap();
    ini
}

impl PgBouncer {
    /// Replaces PgBouncer's files with `unit`'s as they are now (what the
    /// charm pushes through Pebble before it signals).
    fn take_files_from(&self, report: &Report, unit: &str) {
        place_files(report, unit, self.dir.path(), self.port);
    }
}

/// Starts the real PgBouncer from one unit's rendered instance 0 config and auth file.
fn start_pgbouncer(report: &Report, unit: &str) -> PgBouncer {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let ini = place_files(report, unit, dir.path(), port);
    // PgBouncer refuses to run as root: as root, the child itself takes the
    // postgres user's ids, so the child we hold (and kill) is PgBouncer.
    let mut command = Command::new("/usr/sbin/pgbouncer");
    command
        .arg(&ini)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(dir.path().join("stderr")).unwrap());
    if std::fs::metadata("/proc/self").unwrap().uid() == 0 {
        let (uid, gid) = user_ids("postgres");
        command.uid(uid).gid(gid);
    }
    let child = command.spawn().unwrap();
    let mut bouncer = PgBouncer { child, port, dir };
    let deadline = Instant::now() + Duration::from_secs(10);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        if let Some(status) = bouncer.child.try_wait().unwrap() {
            panic!("pgbouncer exited ({status}); log:\n{}", bouncer.log());
        }
        assert!(Instant::now() < deadline, "pgbouncer did not listen");
        std::thread::sleep(Duration::from_millis(100));
    }
    bouncer
}

fn psql(
    port: u16,
    user: &str,
    password: &str,
    database: &str,
    sql: &str,
) -> Result<String, String> {
    let out = Command::new("psql")
        .args([
            "-h",
            "127.0.0.1",
            "-p",
            &port.to_string(),
            "-U",
            user,
            "-d",
            database,
            "-tAc",
            sql,
        ])
        .env("PGPASSWORD", password)
        .env("PGCONNECT_TIMEOUT", "5")
        .output()
        .unwrap();
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).trim().to_string())
    }
}

fn simulator(work: &Path) -> Simulator {
    let binary = cargo_bin("pgbouncer-k8s", "pgbouncer-k8s").unwrap();
    let mut sim = Simulator::new(
        work,
        "live",
        &root().join("charms/pgbouncer-k8s"),
        Some(&binary),
        None,
        &hook_tool().unwrap(),
    )
    .unwrap();
    let app = |role: &str| -> RemoteApp {
        serde_norway::from_str(&format!(
            "units: 1\nendpoints: {{database: {{role: {role}, interface: postgresql_client}}}}\n"
        ))
        .unwrap()
    };
    sim.add_remote_app("postgresql", &app("provides")).unwrap();
    sim.add_remote_app("client-app", &app("requires")).unwrap();
    sim
}

fn steps(sim: &mut Simulator, yaml: &str) {
    let scenario = Scenario::parse(
        &format!("charm: {{dir: .}}\nsteps:\n{yaml}"),
        Path::new("live.yaml"),
    )
    .unwrap();
    for (i, step) in scenario.steps.iter().enumerate() {
        sim.step(i + 1, step).unwrap();
    }
    let failed: Vec<_> = sim.records().iter().filter(|h| h.exit_code != 0).collect();
    assert!(failed.is_empty(), "{failed:#?}");
}

/// The scenario steps that relate the charm to the throwaway PostgreSQL,
/// answering as postgresql-k8s does when asked for secrets (the charm
/// asks): the credentials in a secret it grants, named by `secret-user`.
fn relate_backend(pg: &Postgres) -> String {
    format!(
        "  - relate: {{endpoint: backend-database, app: postgresql, remote-endpoint: database,
              app-data: {{endpoints: \"127.0.0.1:{port}\", database: pgbouncer}},
              app-secrets: {{secret-user: {{username: {BACKEND_USER}, password: {BACKEND_PASSWORD}}}}}}}
",
        port = pg.port
    )
}

/// `units` units, related to the backend and to client-app asking for appdb.
fn deploy_serving(sim: &mut Simulator, pg: &Postgres, units: usize) {
    steps(
        sim,
        &format!(
            "  - deploy: {{units: {units}}}\n{}  - relate: {{endpoint: database, app: client-app, remote-endpoint: database, app-data: {{database: appdb}}}}\n",
            relate_backend(pg)
        ),
    );
}

fn client_bag(report: &Report) -> std::collections::BTreeMap<String, String> {
    let relation = report
        .relations
        .iter()
        .find(|r| r.endpoint == "database")
        .expect("client relation");
    relation.databags["pgbouncer-k8s"].clone()
}

fn run_live(units: usize, serve_from: &str) {
    let pg = Postgres::start();
    let work = tempfile::tempdir().unwrap();
    let mut sim = simulator(work.path());
    deploy_serving(&mut sim, &pg, units);
    let report = sim.report().unwrap();
    let bag = client_bag(&report);
    let (user, password) = (bag["username"].clone(), bag["password"].clone());
    assert_eq!(bag["database"], "appdb");
    assert!(bag["endpoints"].ends_with(":6432"), "{bag:?}");
    assert!(bag["version"].starts_with("15") || !bag["version"].is_empty());
    for (unit, state) in &report.units {
        assert_eq!(state.status, "active: ", "{unit}");
    }
    let peers = report
        .relations
        .iter()
        .find(|r| r.endpoint == "pgb-peers")
        .unwrap();
    // Credentials live in the application's secret: no databag of the
    // peer relation holds the client's password, or any password key.
    assert!(!password.is_empty());
    for (bag, data) in &peers.databags {
        for (key, value) in data {
            assert!(
                !value.contains(&password),
                "the client's password in the {bag} peer databag, key {key}"
            );
            assert!(
                !key.starts_with("relation_id_") && key != "auth_file" && key != "admin_password",
                "a credential key in the {bag} peer databag: {key}"
            );
        }
    }

    let bouncer = start_pgbouncer(&report, serve_from);
    let who = psql(
        bouncer.port,
        &user,
        &password,
        "appdb",
        "SELECT current_user",
    );
    assert_eq!(
        who.as_deref(),
        Ok(user.as_str()),
        "pgbouncer log:\n{}",
        bouncer.log()
    );
    assert_eq!(
        psql(
            bouncer.port,
            &user,
            &password,
            "appdb",
            "CREATE TABLE t (x int); INSERT INTO t VALUES (42); SELECT x FROM t"
        )
        .unwrap()
        .lines()
        .last(),
        Some("42")
    );
    let refused = psql(bouncer.port, &user, "wrong-password", "appdb", "SELECT 1").unwrap_err();
    assert!(refused.contains("SASL authentication failed"), "{refused}");
    drop(bouncer);

    steps(
        &mut sim,
        "  - remove-relation: {endpoint: database, app: client-app}\n",
    );
    let report = sim.report().unwrap();
    let peers = report
        .relations
        .iter()
        .find(|r| r.endpoint == "pgb-peers")
        .unwrap();
    assert!(
        peers.databags["pgbouncer-k8s"]
            .keys()
            .all(|k| !k.starts_with("relation_id_"))
    );
    let bouncer = start_pgbouncer(&report, serve_from);
    let gone = psql(bouncer.port, &user, &password, "appdb", "SELECT 1").unwrap_err();
    assert!(!gone.is_empty());
    let direct = psql(pg.port, &user, &password, "appdb", "SELECT 1").unwrap_err();
    assert!(
        direct.contains("password authentication failed") || direct.contains("does not exist"),
        "{direct}"
    );
}

#[test]
fn one_unit_serves_a_client_through_real_pgbouncer() {
    ops_testing::require_live!("PgBouncer and PostgreSQL (bash .ci/run installs them)");
    run_live(1, "pgbouncer-k8s/0");
}

#[test]
fn three_units_a_follower_serves_with_the_leaders_files() {
    ops_testing::require_live!("PgBouncer and PostgreSQL (bash .ci/run installs them)");
    run_live(3, "pgbouncer-k8s/2");
}

fn peer_app_bag(report: &Report) -> std::collections::BTreeMap<String, String> {
    report
        .relations
        .iter()
        .find(|r| r.endpoint == "pgb-peers")
        .expect("peer relation")
        .databags["pgbouncer-k8s"]
        .clone()
}

/// The latest content of the application's secret (named in the peer app databag).
fn app_secret(sim: &Simulator, report: &Report) -> std::collections::BTreeMap<String, String> {
    let id = peer_app_bag(report)[pgbouncer_k8s::credentials::SECRET_ID].clone();
    let juju = ops_testing::fake_juju::cli::load_state(sim.state_path()).unwrap();
    let secret = juju
        .secrets
        .values()
        .find(|s| id.ends_with(&s.id) || s.id.ends_with(&id))
        .expect("the application's secret");
    secret.revisions.values().next_back().cloned().unwrap()
}

/// The client logs in through the real PgBouncer started from `unit`'s files.
fn serves(report: &Report, unit: &str, user: &str, password: &str, step: &str) {
    let bouncer = start_pgbouncer(report, unit);
    let who = psql(bouncer.port, user, password, "appdb", "SELECT current_user");
    assert_eq!(
        who.as_deref(),
        Ok(user),
        "after {step}, through {unit}'s PgBouncer; its log:\n{}",
        bouncer.log()
    );
}

/// What Juju does to a deployment on Kubernetes, one thing after another,
/// with a client served after each: a port change, the leader's pod lost,
/// a follower's pod lost, the leader unit removed.
#[test]
fn three_units_keep_serving_through_port_change_churn_and_leader_removal() {
    ops_testing::require_live!("PgBouncer and PostgreSQL (bash .ci/run installs them)");
    let pg = Postgres::start();
    let work = tempfile::tempdir().unwrap();
    let mut sim = simulator(work.path());
    deploy_serving(&mut sim, &pg, 3);
    let report = sim.report().unwrap();
    let bag = client_bag(&report);
    let (user, password) = (bag["username"].clone(), bag["password"].clone());
    serves(&report, "pgbouncer-k8s/2", &user, &password, "deploy");

    steps(&mut sim, "  - config: {listen_port: 7000}\n");
    let report = sim.report().unwrap();
    let bag = client_bag(&report);
    // One address for every unit (the application's Service), and no
    // read-only route: this backend has no replicas.
    assert_eq!(
        bag["endpoints"], "pgbouncer-k8s.live.svc.cluster.local:7000",
        "{bag:?}"
    );
    assert!(!bag.contains_key("read-only-endpoints"), "{bag:?}");
    assert!(
        bag["uris"].starts_with(&format!("postgresql://{user}:")),
        "{bag:?}"
    );
    assert!(bag["uris"].ends_with(":7000/appdb"), "{bag:?}");
    serves(
        &report,
        "pgbouncer-k8s/1",
        &user,
        &password,
        "listen_port change",
    );

    steps(&mut sim, "  - churn: {unit: pgbouncer-k8s/0}\n");
    let report = sim.report().unwrap();
    let shared = PgbConfig::parse(&peer_app_bag(&report)["cfg_file"]).unwrap();
    assert!(
        shared.database("appdb").is_some(),
        "the leader shared a poorer config"
    );
    assert!(shared.has_auth_query());
    serves(&report, "pgbouncer-k8s/0", &user, &password, "leader churn");
    serves(&report, "pgbouncer-k8s/2", &user, &password, "leader churn");

    steps(&mut sim, "  - churn: {unit: pgbouncer-k8s/1}\n");
    let report = sim.report().unwrap();
    serves(
        &report,
        "pgbouncer-k8s/1",
        &user,
        &password,
        "follower churn",
    );

    steps(
        &mut sim,
        "  - remove-unit: {unit: pgbouncer-k8s/0}\n  - expire-lease: {}\n",
    );
    let report = sim.report().unwrap();
    assert!(!report.units.contains_key("pgbouncer-k8s/0"));
    let id: u32 = user.strip_prefix("relation_id_").unwrap().parse().unwrap();
    assert_eq!(
        app_secret(&sim, &report).get(&pgbouncer_k8s::credentials::client_key(id)),
        Some(&password),
        "the client's record is kept"
    );
    let bag = client_bag(&report);
    assert!(
        !bag["endpoints"].starts_with("pgbouncer-k8s-0."),
        "the new leader answers the client: {bag:?}"
    );
    serves(
        &report,
        "pgbouncer-k8s/2",
        &user,
        &password,
        "leader removal",
    );
    assert_eq!(
        psql(pg.port, &user, &password, "appdb", "SELECT current_user").as_deref(),
        Ok(user.as_str()),
        "the client's PostgreSQL user still logs in"
    );
}

fn relation_bag(report: &Report, app: &str) -> std::collections::BTreeMap<String, String> {
    report
        .relations
        .iter()
        .find(|r| r.endpoint == "database" && r.remote_app == app)
        .unwrap_or_else(|| panic!("no client relation with {app}"))
        .databags["pgbouncer-k8s"]
        .clone()
}

/// Hostile and sharing clients against the real PostgreSQL and PgBouncer:
/// what PgBouncer serves and what PostgreSQL grants, not what the charm says.
#[test]
fn hostile_clients_are_refused_and_sharing_clients_are_isolated() {
    ops_testing::require_live!("PgBouncer and PostgreSQL (bash .ci/run installs them)");
    let pg = Postgres::start();
    let work = tempfile::tempdir().unwrap();
    let mut sim = simulator(work.path());
    let requirer: RemoteApp = serde_norway::from_str(
        "units: 1\nendpoints: {database: {role: requires, interface: postgresql_client}}\n",
    )
    .unwrap();
    for app in ["client-b", "injector", "huge", "templater"] {
        sim.add_remote_app(app, &requirer).unwrap();
    }
    let huge = "h".repeat(200 * 1024);
    deploy_serving(&mut sim, &pg, 1);
    steps(
        &mut sim,
        &format!(
            "  - relate: {{endpoint: database, app: client-b, remote-endpoint: database, app-data: {{database: appdb}}}}
  - relate: {{endpoint: database, app: injector, remote-endpoint: database, app-data: {{database: \"appdb = host=127.0.0.66 port=5999\\n;\"}}}}
  - relate: {{endpoint: database, app: huge, remote-endpoint: database, app-data: {{database: {huge}}}}}
  - relate: {{endpoint: database, app: templater, remote-endpoint: database, app-data: {{database: template1}}}}
"
        ),
    );
    let report = sim.report().unwrap();
    let unit = &report.units["pgbouncer-k8s/0"];
    assert!(unit.status.starts_with("blocked"), "{}", unit.status);
    assert!(unit.status.len() < 1024, "a short status");
    for refused in ["injector", "huge", "templater"] {
        let bag = relation_bag(&report, refused);
        assert!(!bag.contains_key("username"), "{refused} got a user");
    }
    let ini = &unit.containers["pgbouncer"].files["/var/lib/pgbouncer/pgbouncer.ini"];
    let served: Vec<String> = PgbConfig::parse(ini)
        .unwrap()
        .databases()
        .into_iter()
        .map(|(name, _)| name)
        .collect();
    assert_eq!(served, ["appdb"], "{ini}");
    assert!(!ini.contains("127.0.0.66"));

    let a = relation_bag(&report, "client-app");
    let b = relation_bag(&report, "client-b");
    assert_ne!(a["username"], b["username"], "each relation its own user");
    let bouncer = start_pgbouncer(&report, "pgbouncer-k8s/0");
    for bag in [&a, &b] {
        let who = psql(
            bouncer.port,
            &bag["username"],
            &bag["password"],
            "appdb",
            "SELECT current_user",
        );
        assert_eq!(
            who.as_deref(),
            Ok(bag["username"].as_str()),
            "log:\n{}",
            bouncer.log()
        );
    }
    let superuser =
        |sql: &str| psql(pg.port, BACKEND_USER, BACKEND_PASSWORD, "postgres", sql).unwrap();
    superuser("CREATE ROLE outsider LOGIN PASSWORD 'outsider-pw'");
    assert_eq!(
        superuser("SELECT has_database_privilege('outsider', 'appdb', 'CONNECT')"),
        "f"
    );
    assert_eq!(
        superuser(&format!(
            "SELECT has_database_privilege('{}', 'template1', 'CREATE')",
            a["username"]
        )),
        "f"
    );
    let superuser_login = psql(
        bouncer.port,
        BACKEND_USER,
        BACKEND_PASSWORD,
        "appdb",
        "SELECT 1",
    );
    assert!(
        superuser_login.is_err(),
        "PgBouncer does not log in the backend superuser: {superuser_login:?}"
    );
    drop(bouncer);

    steps(
        &mut sim,
        "  - remove-relation: {endpoint: database, app: client-app}\n",
    );
    let report = sim.report().unwrap();
    let bouncer = start_pgbouncer(&report, "pgbouncer-k8s/0");
    assert_eq!(
        psql(
            bouncer.port,
            &b["username"],
            &b["password"],
            "appdb",
            "SELECT current_user"
        )
        .as_deref(),
        Ok(b["username"].as_str()),
        "the other client of appdb is still served; log:\n{}",
        bouncer.log()
    );
    assert!(
        psql(
            bouncer.port,
            &a["username"],
            &a["password"],
            "appdb",
            "SELECT 1"
        )
        .is_err()
    );
    assert!(
        psql(pg.port, &a["username"], &a["password"], "appdb", "SELECT 1").is_err(),
        "the departed client's user no longer logs in"
    );
}

fn session(port: u16, user: &str, password: &str, database: &str) -> postgres::Client {
    postgres::Config::new()
        .host("127.0.0.1")
        .port(port)
        .user(user)
        .password(password)
        .dbname(database)
        .connect_timeout(Duration::from_secs(5))
        .connect(postgres::NoTls)
        .unwrap()
}

/// A column of an admin console `SHOW` (PgBouncer's console speaks the
/// simple query protocol only).
fn console_column(console: &mut postgres::Client, show: &str, column: &str) -> Vec<String> {
    console
        .simple_query(show)
        .unwrap()
        .into_iter()
        .filter_map(|m| match m {
            postgres::SimpleQueryMessage::Row(row) => row.get(column).map(str::to_string),
            _ => None,
        })
        .collect()
}

fn signals_and_restarts(report: &Report, unit: &str) -> (usize, usize) {
    let services = &report.units[unit].containers["pgbouncer"].services;
    (
        services.values().map(|s| s.signals.len()).sum(),
        services.values().map(|s| s.restarts).sum(),
    )
}

/// A new client relation and a max_db_connections change reach PgBouncer by
/// SIGHUP: an open client session stays connected and sees the change; a
/// listen_port change is a restart.
#[test]
fn reloads_keep_client_sessions_and_a_port_change_restarts() {
    ops_testing::require_live!("PgBouncer and PostgreSQL (bash .ci/run installs them)");
    let pg = Postgres::start();
    let work = tempfile::tempdir().unwrap();
    let mut sim = simulator(work.path());
    let requirer: RemoteApp = serde_norway::from_str(
        "units: 1\nendpoints: {database: {role: requires, interface: postgresql_client}}\n",
    )
    .unwrap();
    sim.add_remote_app("client-b", &requirer).unwrap();
    deploy_serving(&mut sim, &pg, 1);
    let report = sim.report().unwrap();
    let unit = "pgbouncer-k8s/0";
    let a = relation_bag(&report, "client-app");
    let bouncer = start_pgbouncer(&report, unit);
    let mut held = session(bouncer.port, &a["username"], &a["password"], "appdb");
    let pid: i32 = held
        .query_one("SELECT pg_backend_pid()", &[])
        .unwrap()
        .get(0);
    let (signals_before, restarts_before) = signals_and_restarts(&report, unit);

    steps(
        &mut sim,
        "  - relate: {endpoint: database, app: client-b, remote-endpoint: database, app-data: {database: otherdb}}
  - config: {max_db_connections: 44}
",
    );
    let report = sim.report().unwrap();
    let (signals, restarts) = signals_and_restarts(&report, unit);
    assert!(signals > signals_before, "the changes are signalled");
    assert_eq!(restarts, restarts_before, "no instance restarted for them");
    bouncer.take_files_from(&report, unit);
    let admin = app_secret(&sim, &report)[pgbouncer_k8s::credentials::ADMIN_PASSWORD_KEY].clone();
    let mut console = session(
        bouncer.port,
        pgbouncer_k8s::pgb_config::ADMIN_USER,
        &admin,
        "pgbouncer",
    );
    // RELOAD on the console runs the handler SIGHUP runs, and answers when
    // it is done: no waiting on an asynchronous signal.
    console.simple_query("RELOAD").unwrap();
    let databases = console_column(&mut console, "SHOW DATABASES", "name");
    assert!(databases.iter().any(|d| d == "otherdb"), "{databases:?}");
    let config = console
        .simple_query("SHOW CONFIG")
        .unwrap()
        .into_iter()
        .filter_map(|m| match m {
            postgres::SimpleQueryMessage::Row(row) => {
                Some((row.get("key")?.to_string(), row.get("value")?.to_string()))
            }
            _ => None,
        })
        .collect::<std::collections::BTreeMap<_, _>>();
    assert_eq!(config["max_db_connections"], "44");
    let still: i32 = held
        .query_one("SELECT pg_backend_pid()", &[])
        .unwrap()
        .get(0);
    assert_eq!(still, pid, "the held session kept its server connection");
    let b = relation_bag(&report, "client-b");
    assert_eq!(
        psql(
            bouncer.port,
            &b["username"],
            &b["password"],
            "otherdb",
            "SELECT current_user"
        )
        .as_deref(),
        Ok(b["username"].as_str())
    );

    steps(&mut sim, "  - config: {listen_port: 7010}\n");
    let report = sim.report().unwrap();
    let (_, restarts_after_port) = signals_and_restarts(&report, unit);
    let instances = report.units[unit].containers["pgbouncer"].services.len();
    assert_eq!(
        restarts_after_port,
        restarts + instances,
        "each instance restarted once for the port"
    );
}

/// A client that asks before there is a backend is served when the backend
/// comes, without a deferred event standing in for it.
#[test]
fn a_client_that_asked_first_is_served_when_the_backend_comes() {
    ops_testing::require_live!("PgBouncer and PostgreSQL (bash .ci/run installs them)");
    let pg = Postgres::start();
    let work = tempfile::tempdir().unwrap();
    let mut sim = simulator(work.path());
    steps(
        &mut sim,
        "  - deploy: {units: 1}
  - relate: {endpoint: database, app: client-app, remote-endpoint: database, app-data: {database: appdb}}
",
    );
    let report = sim.report().unwrap();
    assert!(!client_bag(&report).contains_key("username"));
    steps(&mut sim, &relate_backend(&pg));
    let report = sim.report().unwrap();
    let bag = client_bag(&report);
    assert!(bag.contains_key("version"), "{bag:?}");
    serves(
        &report,
        "pgbouncer-k8s/0",
        &bag["username"],
        &bag["password"],
        "backend after client",
    );
}

/// A superuser session on the throwaway server (as the backend's own user).
fn superuser(pg: &Postgres, database: &str) -> postgres::Client {
    session(pg.port, BACKEND_USER, BACKEND_PASSWORD, database)
}

fn one_value(client: &mut postgres::Client, sql: &str) -> Option<String> {
    client
        .query_opt(sql, &[])
        .unwrap()
        .map(|row| row.get::<_, Option<String>>(0).unwrap_or_default())
}

/// Issue: a client named `evil` asked for a database another application
/// made directly on PostgreSQL, and was given ALL on its tables while the
/// owner's other roles were locked out. Now it is refused, the refusal is
/// visible, and nothing in the backend changes.
#[test]
fn a_client_cannot_take_a_database_this_application_did_not_create() {
    ops_testing::require_live!("PgBouncer and PostgreSQL (bash .ci/run installs them)");
    let pg = Postgres::start();
    let mut admin = superuser(&pg, "postgres");
    admin
        .batch_execute("CREATE ROLE victim LOGIN PASSWORD 'victim-pw-1'")
        .unwrap();
    admin
        .batch_execute("CREATE DATABASE victimdb OWNER victim")
        .unwrap();
    let mut victim = session(pg.port, "victim", "victim-pw-1", "victimdb");
    victim
        .batch_execute("CREATE TABLE private (x int); INSERT INTO private VALUES (7);")
        .unwrap();
    let acl = "SELECT datacl::text FROM pg_database WHERE datname = 'victimdb'";
    let acl_before = one_value(&mut admin, acl);
    let work = tempfile::tempdir().unwrap();
    let mut sim = simulator(work.path());
    let requirer: RemoteApp = serde_norway::from_str(
        "units: 1\nendpoints: {database: {role: requires, interface: postgresql_client}}\n",
    )
    .unwrap();
    sim.add_remote_app("evil", &requirer).unwrap();
    deploy_serving(&mut sim, &pg, 1);
    steps(
        &mut sim,
        "  - relate: {endpoint: database, app: evil, remote-endpoint: database, app-data: {database: victimdb}}\n",
    );
    let report = sim.report().unwrap();
    let evil = report
        .relations
        .iter()
        .find(|r| r.remote_app == "evil")
        .unwrap();
    let status = &report.units["pgbouncer-k8s/0"].status;
    assert!(
        status.starts_with("blocked")
            && status.contains(&format!("database relation {} refused", evil.id))
            && status.contains("not created by this application"),
        "{status}"
    );
    let bag = relation_bag(&report, "evil");
    assert!(
        !bag.contains_key("username") && !bag.contains_key("secret-user"),
        "{bag:?}"
    );
    let role = format!("relation_id_{}", evil.id);
    assert_eq!(
        one_value(
            &mut admin,
            &format!("SELECT rolname::text FROM pg_roles WHERE rolname = '{role}'")
        ),
        None,
        "no user made for the refused client"
    );
    assert_eq!(
        one_value(&mut admin, acl),
        acl_before,
        "no grant, no REVOKE"
    );
    let ini = &report.units["pgbouncer-k8s/0"].containers["pgbouncer"].files["/var/lib/pgbouncer/pgbouncer.ini"];
    assert!(!ini.contains("victimdb"), "{ini}");
    // The owner's application still has its database to itself.
    let mut victim = session(pg.port, "victim", "victim-pw-1", "victimdb");
    let x: i32 = victim
        .query_one("SELECT x FROM private", &[])
        .unwrap()
        .get(0);
    assert_eq!(x, 7);
    // The application's own client is served as before.
    let a = relation_bag(&report, "client-app");
    serves(
        &report,
        "pgbouncer-k8s/0",
        &a["username"],
        &a["password"],
        "evil refused",
    );
}

/// Issue: the backend relation removed and related again (a new relation
/// id and backend user, as postgresql-k8s gives) refused every existing
/// client as "not one this charm created" and left their roles able to
/// log in for ever. Now the clients are adopted and served, and a client
/// removed afterwards is revoked.
#[test]
fn re_relating_the_backend_keeps_every_client_served() {
    ops_testing::require_live!("PgBouncer and PostgreSQL (bash .ci/run installs them)");
    let pg = Postgres::start();
    let work = tempfile::tempdir().unwrap();
    let mut sim = simulator(work.path());
    deploy_serving(&mut sim, &pg, 2);
    let report = sim.report().unwrap();
    let a = relation_bag(&report, "client-app");
    let (user, password) = (a["username"].clone(), a["password"].clone());
    serves(&report, "pgbouncer-k8s/1", &user, &password, "before");
    let mut admin = superuser(&pg, "postgres");
    admin
        .batch_execute("CREATE ROLE relation_id_100 WITH SUPERUSER LOGIN PASSWORD 'backend-pw-2'")
        .unwrap();
    steps(
        &mut sim,
        "  - remove-relation: {endpoint: backend-database, app: postgresql}\n",
    );
    // The auth user went while the old backend user could still remove it.
    assert_eq!(
        one_value(
            &mut admin,
            "SELECT rolname::text FROM pg_roles WHERE rolname = 'pgbouncer_auth_relation_id_99'"
        ),
        None,
        "the old auth user is removed at relation-departed"
    );
    // What postgresql-k8s does with the old relation's user. The new
    // backend answers plainly (a provider without secrets: the fallback
    // the library keeps).
    admin
        .batch_execute("ALTER ROLE relation_id_99 WITH NOLOGIN")
        .unwrap();
    steps(
        &mut sim,
        &format!(
            "  - relate: {{endpoint: backend-database, app: postgresql, remote-endpoint: database,
              app-data: {{endpoints: \"127.0.0.1:{port}\", username: relation_id_100, password: backend-pw-2, database: pgbouncer}}}}
",
            port = pg.port
        ),
    );
    let report = sim.report().unwrap();
    for (unit, state) in &report.units {
        assert_eq!(state.status, "active: ", "{unit}");
    }
    let b = relation_bag(&report, "client-app");
    assert_eq!((&b["username"], &b["password"]), (&user, &password));
    serves(
        &report,
        "pgbouncer-k8s/0",
        &user,
        &password,
        "re-related, leader",
    );
    serves(
        &report,
        "pgbouncer-k8s/1",
        &user,
        &password,
        "re-related, follower",
    );
    steps(
        &mut sim,
        "  - remove-relation: {endpoint: database, app: client-app}\n",
    );
    let direct = psql(pg.port, &user, &password, "appdb", "SELECT 1").unwrap_err();
    assert!(
        direct.contains("password authentication failed") || direct.contains("does not exist"),
        "{direct}"
    );
}
