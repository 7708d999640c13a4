//! The real PgBouncer (Debian's `pgbouncer` package; `.ci/run` installs it)
//! accepts the charm's rendered per-instance config and auth file: it starts,
//! listens, logs no error, reads the connection string as we meant it, and
//! authenticates with `auth_type = scram-sha-256`: the SCRAM verifiers of our
//! auth file, and those `get_auth` brokers from a real PostgreSQL 15 whose
//! `pg_hba` requires SCRAM too.
//!
//! PgBouncer refuses to run as root, so as root the test starts it as the
//! `postgres` user (setuid in the child, so that killing the child kills
//! PgBouncer itself; `runuser` would leave it running).

use std::net::TcpStream;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use pgbouncer_k8s::auth::AuthFile;

use crate::support::closed_port;
use pgbouncer_k8s::pgb_config::{ADMIN_USER, AUTH_FILE_PATH, PgbConfig};
use pgbouncer_k8s::settings::PoolMode;

const AUTH_USER: &str = "pgbouncer_auth_relation_id_3";
const ADMIN_PASSWORD: &str = "admin-password";

fn pgbouncer() -> PathBuf {
    ["/usr/sbin/pgbouncer", "/usr/bin/pgbouncer"]
        .iter()
        .map(PathBuf::from)
        .find(|p| p.exists())
        .unwrap_or_else(|| {
            panic!(
                "pgbouncer is not installed, so this test cannot check our config against it. \
                 `.ci/run` installs it; by hand: apt-get install -y pgbouncer"
            )
        })
}

/// The uid and gid of `user`, from /etc/passwd.
fn user_ids(user: &str) -> (u32, u32) {
    let passwd = std::fs::read_to_string("/etc/passwd").unwrap();
    passwd
        .lines()
        .map(|line| line.split(':').collect::<Vec<_>>())
        .find(|fields| fields.len() > 3 && fields[0] == user)
        .map(|fields| (fields[2].parse().unwrap(), fields[3].parse().unwrap()))
        .unwrap_or_else(|| {
            panic!("no user {user:?} to run pgbouncer as (the pgbouncer package creates it)")
        })
}

/// Kills PgBouncer when the test ends, however it ends.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start(program: &Path, ini: &Path, stderr: &Path) -> Running {
    let mut command = Command::new(program);
    command
        .arg(ini)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(stderr).unwrap());
    if std::fs::metadata("/proc/self").unwrap().uid() == 0 {
        let (uid, gid) = user_ids("postgres");
        command.uid(uid).gid(gid);
    }
    Running(command.spawn().unwrap())
}

fn open_to_all(path: &Path, mode: u32) {
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

/// A temp dir for one PgBouncer with its `lib/` and `log/` trees (instance
/// 0's too), open to the postgres user it runs as.
fn pgbouncer_dirs() -> (tempfile::TempDir, PathBuf, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let lib = dir.path().join("lib");
    let log = dir.path().join("log");
    for d in [
        dir.path().to_path_buf(),
        lib.clone(),
        lib.join("instance_0"),
        log.clone(),
        log.join("instance_0"),
    ] {
        std::fs::create_dir_all(&d).unwrap();
        open_to_all(&d, 0o777);
    }
    (dir, lib, log)
}

#[test]
fn real_pgbouncer_runs_on_the_rendered_instance_config_and_auth_file() {
    ops_testing::require_live!("PgBouncer and PostgreSQL (bash .ci/run installs them)");
    let program = pgbouncer();
    let (dir, lib, log) = pgbouncer_dirs();
    let port = closed_port();

    let mut config = PgbConfig::default_for(2, 44, port, PoolMode::Session).unwrap();
    config.set("pgbouncer", "listen_addr", "127.0.0.1").unwrap();
    config.set_auth(AUTH_USER).unwrap();
    // A value with a space and one with a quote: PgBouncer must read them
    // as we wrote them.
    config
        .add_database(
            "appdb",
            &[
                ("host", "127.0.0.1"),
                ("port", "5432"),
                ("dbname", "app db"),
                ("application_name", "it's"),
            ],
        )
        .unwrap();
    config.validate().unwrap();
    let instance = config
        .instance(0)
        .with_base_dirs(&lib.display().to_string(), &log.display().to_string());
    let rendered = instance.render();
    assert_eq!(PgbConfig::parse(&rendered).unwrap(), instance);
    assert!(
        rendered.contains(&format!(
            "\nunix_socket_dir = {}/instance_0\n",
            lib.display()
        )),
        "{rendered}"
    );
    assert!(!rendered.contains("/var/lib/pgbouncer") && !rendered.contains("/var/log/pgbouncer"));
    let ini = lib.join("instance_0/pgbouncer.ini");
    std::fs::write(&ini, &rendered).unwrap();

    assert_eq!(
        instance.get("pgbouncer", "auth_type"),
        Some("scram-sha-256")
    );
    let mut auth = AuthFile::default();
    auth.set_plain(AUTH_USER, "auth-user-password").unwrap();
    auth.set_user(ADMIN_USER, ADMIN_PASSWORD).unwrap();
    auth.set_user("wé ird", "other").unwrap();
    auth.validate().unwrap();
    let auth_path = lib.join(AUTH_FILE_PATH.rsplit('/').next().unwrap());
    assert_eq!(
        instance.get("pgbouncer", "auth_file"),
        Some(auth_path.display().to_string().as_str())
    );
    std::fs::write(&auth_path, auth.render()).unwrap();
    open_to_all(&auth_path, 0o644);

    let stderr = dir.path().join("stderr");
    let logfile = log.join("instance_0/pgbouncer.log");
    let output = || {
        format!(
            "log:\n{}\nstderr:\n{}\nconfig:\n{rendered}",
            std::fs::read_to_string(&logfile).unwrap_or_default(),
            std::fs::read_to_string(&stderr).unwrap_or_default()
        )
    };
    let mut pgbouncer = start(&program, &ini, &stderr);
    wait_until_listening(&mut pgbouncer, port, &output);

    // The admin console: our SCRAM verifier authenticates the admin user, and
    // PgBouncer read the database entry as we meant it.
    let connect = |password: &str| {
        postgres::Config::new()
            .host("127.0.0.1")
            .port(port)
            .user(ADMIN_USER)
            .password(password)
            .dbname("pgbouncer")
            .connect_timeout(Duration::from_secs(5))
            .connect(postgres::NoTls)
    };
    let mut admin = connect(ADMIN_PASSWORD)
        .unwrap_or_else(|e| panic!("the admin user cannot log in: {e}; {}", output()));
    let rows = show_databases(&mut admin);
    let appdb = rows
        .iter()
        .find(|row| row.get("name") == Some("appdb"))
        .unwrap_or_else(|| panic!("appdb is not among PgBouncer's databases; {}", output()));
    assert_eq!(appdb.get("database"), Some("app db"));
    assert_eq!(appdb.get("host"), Some("127.0.0.1"));
    assert_eq!(appdb.get("port"), Some("5432"));
    drop(admin);
    let refused = connect("wrong-password").map(|_| ()).unwrap_err();
    let message = refused.as_db_error().map(|e| e.message().to_string());
    assert!(
        message
            .as_deref()
            .is_some_and(|m| m.contains("SASL authentication failed")),
        "a wrong password: {refused:?}"
    );

    drop(pgbouncer);
    let text = output();
    let complaints: Vec<&str> = text
        .lines()
        .filter(|l| l.contains("ERROR") || l.contains("FATAL"))
        .filter(|l| !l.contains("password authentication failed"))
        .collect();
    assert!(
        complaints.is_empty(),
        "pgbouncer complained: {complaints:#?}\n{text}"
    );
}

// ---- Least privilege against a real PostgreSQL (issue 10) ----
//
// A throwaway PostgreSQL on loopback (`support::live_pg`).

use pgbouncer_k8s::auth::{auth_user_for, md5_password, scram_matches};
use pgbouncer_k8s::names::{BackendUser, ClientDatabase, ExtraUserRoles};
use pgbouncer_k8s::sql::{SqlError, clients_role_for};

use crate::support::live_pg::{BACKEND_PASSWORD, BACKEND_USER, Postgres, connect_to};

/// PgBouncer's `SHOW DATABASES`, a row per database, on its admin console.
fn show_databases(admin: &mut postgres::Client) -> Vec<postgres::SimpleQueryRow> {
    admin
        .simple_query("SHOW DATABASES")
        .unwrap()
        .into_iter()
        .filter_map(|m| match m {
            postgres::SimpleQueryMessage::Row(row) => Some(row),
            _ => None,
        })
        .collect()
}

fn the_auth_user() -> String {
    auth_user_for(&BackendUser::parse(BACKEND_USER).unwrap())
}

/// The auth user with its password and `get_auth` in `databases`, as the
/// charm sets it up when the backend relation is ready.
fn set_up_auth_user(pg: &Postgres, password: &str, databases: &[&str]) -> String {
    let auth_user = the_auth_user();
    let mut db = pg.backend("pgbouncer");
    db.ensure_login_role(&auth_user, password).unwrap();
    for database in databases {
        pg.backend(database)
            .install_get_auth(&auth_user, &clients_role_for(&auth_user))
            .unwrap();
    }
    auth_user
}

/// What `get_auth` answers for `user`, called as the auth user.
fn get_auth(
    pg: &Postgres,
    auth_password: &str,
    database: &str,
    user: &str,
) -> Vec<(String, String)> {
    let auth_user = the_auth_user();
    let mut client = pg.connect(&auth_user, auth_password, database).unwrap();
    let query = pgbouncer_k8s::pgb_config::auth_query_for(&auth_user);
    client
        .query(query.as_str(), &[&user])
        .unwrap()
        .into_iter()
        .map(|row| {
            let name: String = row.get(0);
            let hash: Option<String> = row.get(1);
            (name, hash.unwrap_or_default())
        })
        .collect()
}

fn sql(pg: &Postgres, database: &str, statements: &str) {
    pg.connect(BACKEND_USER, BACKEND_PASSWORD, database)
        .unwrap()
        .batch_execute(statements)
        .unwrap();
}

#[test]
fn get_auth_answers_for_client_users_only() {
    ops_testing::require_live!("PgBouncer and PostgreSQL (bash .ci/run installs them)");
    let pg = Postgres::start();
    let auth_password = "auth-pw-1";
    let auth_user = set_up_auth_user(&pg, auth_password, &["pgbouncer"]);
    let marker = clients_role_for(&auth_user);
    pg.backend("pgbouncer")
        .ensure_user(
            "relation_id_7",
            "client-pw-7",
            &clients_role_for(&auth_user),
        )
        .unwrap();
    // Roles that must never be brokered, even as members of the marker.
    sql(
        &pg,
        "pgbouncer",
        &format!(
            "CREATE ROLE repl LOGIN REPLICATION PASSWORD 'repl-pw';
             CREATE ROLE expired LOGIN PASSWORD 'old-pw' VALID UNTIL '2000-01-01';
             CREATE ROLE other_su LOGIN SUPERUSER PASSWORD 'su-pw';
             CREATE ROLE bypass LOGIN BYPASSRLS PASSWORD 'bypass-pw';
             CREATE ROLE outsider LOGIN PASSWORD 'outsider-pw';
             CREATE ROLE nologin_member NOLOGIN;
             GRANT \"{marker}\" TO repl, expired, other_su, bypass, nologin_member, \"{BACKEND_USER}\";"
        ),
    );
    for user in [
        BACKEND_USER,
        "postgres",
        "repl",
        "expired",
        "other_su",
        "bypass",
        "outsider",
        "nologin_member",
        &auth_user,
        &marker,
        "nobody",
    ] {
        assert_eq!(
            get_auth(&pg, auth_password, "pgbouncer", user),
            [],
            "get_auth answered for {user}"
        );
    }
    // The client user's SCRAM verifier, as PostgreSQL stores it.
    let answer = get_auth(&pg, auth_password, "pgbouncer", "relation_id_7");
    assert_eq!(answer.len(), 1);
    assert_eq!(answer[0].0, "relation_id_7");
    assert!(answer[0].1.starts_with("SCRAM-SHA-256$4096:"));
    assert!(scram_matches(&answer[0].1, "client-pw-7"));
    assert!(!scram_matches(&answer[0].1, "client-pw-8"));
    // Nobody else may call it.
    let mut outsider = pg.connect("outsider", "outsider-pw", "pgbouncer").unwrap();
    let refused = outsider
        .query(
            pgbouncer_k8s::pgb_config::auth_query_for(&auth_user).as_str(),
            &[&"relation_id_7"],
        )
        .unwrap_err();
    assert!(
        refused
            .as_db_error()
            .is_some_and(|e| e.message().contains("permission denied")),
        "{refused:?}"
    );
    // And the auth user cannot swap the function for its own.
    let mut as_auth = pg.connect(&auth_user, auth_password, "pgbouncer").unwrap();
    assert!(
        as_auth
            .batch_execute(&format!("DROP FUNCTION \"{auth_user}\".get_auth(text)"))
            .is_err()
    );
}

#[test]
fn a_client_name_taken_by_a_role_not_ours_is_never_taken_over() {
    ops_testing::require_live!("PgBouncer and PostgreSQL (bash .ci/run installs them)");
    let pg = Postgres::start();
    let auth_user = set_up_auth_user(&pg, "auth-pw-2", &["pgbouncer"]);
    let mut db = pg.backend("pgbouncer");
    // The backend's own user, named as a client user would be (a backend in
    // another model numbering its relations as ours are numbered).
    let taken = db.ensure_user(BACKEND_USER, "client-pw", &clients_role_for(&auth_user));
    assert!(
        matches!(taken, Err(SqlError::ForeignRole { .. })),
        "{taken:?}"
    );
    assert!(
        !db.is_client_user(BACKEND_USER, &clients_role_for(&auth_user))
            .unwrap()
    );
    let mut still = pg
        .connect(BACKEND_USER, BACKEND_PASSWORD, "pgbouncer")
        .unwrap();
    let row = still
        .query_one(
            "SELECT rolsuper FROM pg_roles WHERE rolname = current_user",
            &[],
        )
        .unwrap();
    assert!(
        row.get::<_, bool>(0),
        "the backend user keeps its password and rights"
    );
    // A user this charm made is its own: changed again without complaint.
    db.ensure_user("relation_id_8", "pw-8", &clients_role_for(&auth_user))
        .unwrap();
    db.ensure_user("relation_id_8", "pw-8b", &clients_role_for(&auth_user))
        .unwrap();
    assert!(
        db.is_client_user("relation_id_8", &clients_role_for(&auth_user))
            .unwrap()
    );
    assert!(pg.connect("relation_id_8", "pw-8b", "pgbouncer").is_ok());
}

#[test]
fn a_created_database_is_closed_to_everyone_not_granted() {
    ops_testing::require_live!("PgBouncer and PostgreSQL (bash .ci/run installs them)");
    let pg = Postgres::start();
    let auth_password = "auth-pw-2";
    let auth_user = set_up_auth_user(&pg, auth_password, &["pgbouncer"]);
    let database = ClientDatabase::parse("appdb").unwrap();
    let mut db = pg.backend("pgbouncer");
    db.ensure_user(
        "relation_id_8",
        "client-pw-8",
        &clients_role_for(&auth_user),
    )
    .unwrap();
    db.ensure_database(&database, "relation_id_8").unwrap();
    // Idempotent.
    db.ensure_database(&database, "relation_id_8").unwrap();
    pg.backend("appdb")
        .install_get_auth(&auth_user, &clients_role_for(&auth_user))
        .unwrap();
    sql(
        &pg,
        "pgbouncer",
        "CREATE ROLE other LOGIN PASSWORD 'other-pw'",
    );
    // Put something in template1: a database made from template0 has none of it.
    sql(
        &pg,
        "template1",
        "CREATE TABLE leaked_from_template1 (x int)",
    );
    let mut check = pg
        .connect(BACKEND_USER, BACKEND_PASSWORD, "pgbouncer")
        .unwrap();
    let can = |check: &mut postgres::Client, role: &str, privilege: &str| -> bool {
        check
            .query_one(
                "SELECT has_database_privilege($1, 'appdb', $2)",
                &[&role, &privilege],
            )
            .unwrap()
            .get(0)
    };
    assert!(!can(&mut check, "other", "CONNECT"));
    assert!(!can(&mut check, "other", "TEMPORARY"));
    assert!(can(&mut check, "relation_id_8", "CONNECT"));
    assert!(can(&mut check, &auth_user, "CONNECT"));
    let owner: String = check
        .query_one(
            "SELECT pg_get_userbyid(datdba)::text FROM pg_database WHERE datname = 'appdb'",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(owner, "relation_id_8");
    let refused = pg
        .connect("other", "other-pw", "appdb")
        .map(|_| ())
        .unwrap_err();
    assert!(
        refused
            .as_db_error()
            .is_some_and(|e| e.message().contains("permission denied")),
        "{refused:?}"
    );
    let mut owner = pg.connect("relation_id_8", "client-pw-8", "appdb").unwrap();
    let inherited: i64 = owner
        .query_one(
            "SELECT count(*) FROM pg_tables WHERE tablename = 'leaked_from_template1'",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(inherited, 0);
    owner.batch_execute("CREATE TABLE t (x int)").unwrap();
    // A client user cannot make databases unless it asked for CREATEDB.
    assert!(owner.batch_execute("CREATE DATABASE mine").is_err());
    drop(owner);
    let createdb = ExtraUserRoles::parse("createdb").unwrap();
    db.set_extra_roles("relation_id_8", &createdb).unwrap();
    let mut owner = pg.connect("relation_id_8", "client-pw-8", "appdb").unwrap();
    owner.batch_execute("CREATE DATABASE mine").unwrap();
    db.set_extra_roles("relation_id_8", &ExtraUserRoles::default())
        .unwrap();
    assert!(owner.batch_execute("CREATE DATABASE mine2").is_err());
    // Still a client user get_auth answers for, and nothing more.
    assert_eq!(
        get_auth(&pg, auth_password, "appdb", "relation_id_8").len(),
        1
    );
}

#[test]
fn a_shared_database_outlives_the_first_users_release() {
    ops_testing::require_live!("PgBouncer and PostgreSQL (bash .ci/run installs them)");
    let pg = Postgres::start();
    let auth_user = set_up_auth_user(&pg, "auth-pw-3", &["pgbouncer"]);
    let database = ClientDatabase::parse("shared").unwrap();
    let mut db = pg.backend("pgbouncer");
    db.ensure_user("relation_id_10", "pw-10", &clients_role_for(&auth_user))
        .unwrap();
    db.ensure_user("relation_id_11", "pw-11", &clients_role_for(&auth_user))
        .unwrap();
    db.ensure_database(&database, "relation_id_10").unwrap();
    let mut first = pg.connect("relation_id_10", "pw-10", "shared").unwrap();
    first
        .batch_execute("CREATE TABLE notes (x int); INSERT INTO notes VALUES (1)")
        .unwrap();
    drop(first);
    // The second relation asks for the same database.
    db.grant_database(&database, "relation_id_11").unwrap();
    pg.backend("shared")
        .grant_public_schema("relation_id_11")
        .unwrap();
    let read = |user: &str, password: &str| -> i64 {
        let mut c = pg.connect(user, password, "shared").unwrap();
        c.query_one("SELECT count(*) FROM notes", &[])
            .unwrap()
            .get(0)
    };
    assert_eq!(read("relation_id_11", "pw-11"), 1);

    // The first relation goes: deactivated, released to the second, dropped.
    db.deactivate_role("relation_id_10").unwrap();
    pg.backend("shared")
        .release_role("relation_id_10", "relation_id_11")
        .unwrap();
    db.release_role("relation_id_10", "relation_id_11").unwrap();
    db.drop_role("relation_id_10").unwrap();
    // Idempotent once gone.
    db.deactivate_role("relation_id_10").unwrap();
    db.release_role("relation_id_10", "relation_id_11").unwrap();
    db.drop_role("relation_id_10").unwrap();

    assert!(pg.connect("relation_id_10", "pw-10", "shared").is_err());
    assert_eq!(read("relation_id_11", "pw-11"), 1);
    let mut second = pg.connect("relation_id_11", "pw-11", "shared").unwrap();
    second
        .batch_execute("INSERT INTO notes VALUES (2)")
        .unwrap();
    let owner: String = second
        .query_one(
            "SELECT pg_get_userbyid(datdba)::text FROM pg_database WHERE datname = 'shared'",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(owner, "relation_id_11");
}

/// A real PgBouncer in front of `pg`, as the charm renders it: `auth_type =
/// scram-sha-256`, `auth_query` through `auth_user`, an auth file with the
/// auth user's clear line and the admin user's SCRAM line, and one
/// `[databases]` entry per `(name, dbname)`.
struct Bouncer {
    _dir: tempfile::TempDir,
    running: Running,
    port: u16,
    output: Box<dyn Fn() -> String>,
}

impl Bouncer {
    fn start(
        pg: &Postgres,
        auth_user: &str,
        auth_password: &str,
        databases: &[(&str, &str)],
    ) -> Self {
        let program = pgbouncer();
        let (dir, lib, log) = pgbouncer_dirs();
        let port = closed_port();
        let mut config = PgbConfig::default_for(2, 10, port, PoolMode::Session).unwrap();
        config.set("pgbouncer", "listen_addr", "127.0.0.1").unwrap();
        config
            .set("pgbouncer", "server_tls_sslmode", "disable")
            .unwrap();
        config.set_auth(auth_user).unwrap();
        let backend_port = pg.port.to_string();
        for (name, dbname) in databases {
            config
                .add_database(
                    name,
                    &[
                        ("host", "127.0.0.1"),
                        ("port", &backend_port),
                        ("dbname", dbname),
                    ],
                )
                .unwrap();
        }
        let instance = config
            .instance(0)
            .with_base_dirs(&lib.display().to_string(), &log.display().to_string());
        assert_eq!(
            instance.get("pgbouncer", "auth_type"),
            Some("scram-sha-256")
        );
        let rendered = instance.render_validated().unwrap();
        let ini = lib.join("instance_0/pgbouncer.ini");
        std::fs::write(&ini, &rendered).unwrap();
        let mut auth = AuthFile::default();
        auth.set_plain(auth_user, auth_password).unwrap();
        auth.set_user(ADMIN_USER, ADMIN_PASSWORD).unwrap();
        let text = auth.render();
        assert!(text.contains(&format!("\"{auth_user}\" \"{auth_password}\"\n")));
        assert!(text.contains(&format!("\"{ADMIN_USER}\" \"SCRAM-SHA-256$4096:")));
        let auth_path = lib.join("userlist.txt");
        std::fs::write(&auth_path, text).unwrap();
        open_to_all(&auth_path, 0o644);

        let stderr = dir.path().join("stderr");
        let logfile = log.join("instance_0/pgbouncer.log");
        let output = Box::new(move || {
            format!(
                "log:\n{}\nstderr:\n{}\nconfig:\n{rendered}",
                std::fs::read_to_string(&logfile).unwrap_or_default(),
                std::fs::read_to_string(&stderr).unwrap_or_default()
            )
        });
        let mut running = start(&program, &ini, &dir.path().join("stderr"));
        wait_until_listening(&mut running, port, &*output);
        Self {
            _dir: dir,
            running,
            port,
            output,
        }
    }

    fn connect(
        &self,
        user: &str,
        password: &str,
        database: &str,
    ) -> Result<postgres::Client, postgres::Error> {
        connect_to(self.port, user, password, database)
    }

    /// Logs in as `user` and checks who PostgreSQL says it is (on the
    /// admin console, `pgbouncer`, that it answers).
    fn logs_in(&self, user: &str, password: &str, database: &str) {
        let mut client = self
            .connect(user, password, database)
            .unwrap_or_else(|e| panic!("{user} cannot log in: {e:?}; {}", (self.output)()));
        if database == "pgbouncer" {
            client.simple_query("SHOW VERSION").unwrap();
            return;
        }
        let who: String = client
            .query_one("SELECT current_user::text", &[])
            .unwrap()
            .get(0);
        assert_eq!(who, user);
    }

    /// A login of `user` with `password` is refused.
    fn refuses(&self, user: &str, password: &str, database: &str) {
        match self.connect(user, password, database) {
            Ok(_) => panic!("{user} logged in through PgBouncer; {}", (self.output)()),
            Err(e) => assert!(e.as_db_error().is_some(), "not refused by a server: {e:?}"),
        }
    }
}

impl Drop for Bouncer {
    fn drop(&mut self) {
        let _ = self.running.0.kill();
    }
}

#[test]
fn a_client_logs_in_through_pgbouncer_until_deactivated() {
    ops_testing::require_live!("PgBouncer and PostgreSQL (bash .ci/run installs them)");
    let auth_password = "auth-pw-4";
    let (pg, auth_user) = a_client_of_the_backend(12, auth_password);
    // The backend superuser's own database entry: PgBouncer must not let
    // it in by its verifier.
    let bouncer = Bouncer::start(
        &pg,
        &auth_user,
        auth_password,
        &[("clientdb", "clientdb"), ("pgbouncer_backend", "pgbouncer")],
    );

    // The client user, through PgBouncer's auth_query, with SCRAM.
    bouncer.logs_in("relation_id_12", "pw-12", "clientdb");
    bouncer.refuses("relation_id_12", "wrong", "clientdb");
    bouncer.refuses("relation_id_12", "", "clientdb");
    // The backend superuser is not brokered.
    bouncer.refuses(BACKEND_USER, BACKEND_PASSWORD, "pgbouncer_backend");
    // The admin console, by the auth file's SCRAM line.
    bouncer.logs_in(ADMIN_USER, ADMIN_PASSWORD, "pgbouncer");
    bouncer.refuses(ADMIN_USER, "wrong", "pgbouncer");

    // Deactivated: no new login, through PgBouncer or directly.
    pg.backend("pgbouncer")
        .deactivate_role("relation_id_12")
        .unwrap();
    bouncer.refuses("relation_id_12", "pw-12", "clientdb");
    assert!(pg.connect("relation_id_12", "pw-12", "clientdb").is_err());
}

/// The stored password of `role` (`pg_authid.rolpassword`).
fn stored_password(pg: &Postgres, role: &str) -> Option<String> {
    pg.connect(BACKEND_USER, BACKEND_PASSWORD, "pgbouncer")
        .unwrap()
        .query_one(
            "SELECT rolpassword FROM pg_authid WHERE rolname = $1",
            &[&role],
        )
        .unwrap()
        .get(0)
}

/// Runs `statements` as the backend user with the statement log off for
/// the session (what an older revision did, replayed without its secrets
/// reaching the log the test reads).
fn sql_unlogged(pg: &Postgres, database: &str, statements: &str) {
    let mut client = pg
        .connect(BACKEND_USER, BACKEND_PASSWORD, database)
        .unwrap();
    client.batch_execute("SET log_statement = 'none'").unwrap();
    client
        .batch_execute("SET log_min_duration_statement = -1")
        .unwrap();
    client.batch_execute(statements).unwrap();
}

#[test]
fn a_user_made_under_md5_logs_in_with_scram_once_provisioned_again() {
    ops_testing::require_live!("PgBouncer and PostgreSQL (bash .ci/run installs them)");
    let pg = Postgres::start();
    let auth_password = "auth-pw-5";
    let auth_user = set_up_auth_user(&pg, auth_password, &["pgbouncer"]);
    let marker = clients_role_for(&auth_user);
    // A client user as an older revision made it: an md5 hash.
    let old_hash = md5_password("relation_id_13", "pw-13");
    sql_unlogged(
        &pg,
        "pgbouncer",
        &format!(
            "CREATE ROLE relation_id_13 WITH LOGIN NOSUPERUSER NOCREATEROLE NOREPLICATION \
             NOBYPASSRLS PASSWORD '{old_hash}' VALID UNTIL 'infinity' IN ROLE \"{marker}\""
        ),
    );
    assert_eq!(stored_password(&pg, "relation_id_13"), Some(old_hash));
    let database = ClientDatabase::parse("olddb").unwrap();
    let mut db = pg.backend("pgbouncer");
    db.ensure_database(&database, "relation_id_13").unwrap();
    pg.backend("olddb")
        .install_get_auth(&auth_user, &clients_role_for(&auth_user))
        .unwrap();
    let bouncer = Bouncer::start(&pg, &auth_user, auth_password, &[("olddb", "olddb")]);

    // Until the leader provisions it again, its client cannot log in with
    // SCRAM (PgBouncer cannot check a SCRAM login against an md5 hash).
    bouncer.refuses("relation_id_13", "pw-13", "olddb");

    db.ensure_user("relation_id_13", "pw-13", &clients_role_for(&auth_user))
        .unwrap();
    let verifier = stored_password(&pg, "relation_id_13").unwrap();
    assert!(verifier.starts_with("SCRAM-SHA-256$4096:"));
    assert!(scram_matches(&verifier, "pw-13"));
    assert!(
        db.is_client_user("relation_id_13", &clients_role_for(&auth_user))
            .unwrap()
    );
    bouncer.logs_in("relation_id_13", "pw-13", "olddb");
    bouncer.refuses("relation_id_13", "pw-14", "olddb");

    // Provisioned again with the same password: the verifier stays as it is.
    db.ensure_user("relation_id_13", "pw-13", &clients_role_for(&auth_user))
        .unwrap();
    assert_eq!(
        stored_password(&pg, "relation_id_13"),
        Some(verifier.clone())
    );
    // Deactivated, then provisioned again: it may log in again.
    db.deactivate_role("relation_id_13").unwrap();
    assert_eq!(stored_password(&pg, "relation_id_13"), None);
    db.ensure_user("relation_id_13", "pw-13", &clients_role_for(&auth_user))
        .unwrap();
    bouncer.logs_in("relation_id_13", "pw-13", "olddb");
    // A new password replaces the verifier.
    db.ensure_user("relation_id_13", "pw-13b", &clients_role_for(&auth_user))
        .unwrap();
    bouncer.refuses("relation_id_13", "pw-13", "olddb");
    bouncer.logs_in("relation_id_13", "pw-13b", "olddb");

    // The auth user made under md5 too: ensure_login_role moves it to SCRAM,
    // and then leaves it alone; its attributes are put back without a new
    // verifier.
    sql_unlogged(
        &pg,
        "pgbouncer",
        &format!(
            "ALTER ROLE \"{auth_user}\" PASSWORD '{}'",
            md5_password(&auth_user, auth_password)
        ),
    );
    db.ensure_login_role(&auth_user, auth_password).unwrap();
    let auth_verifier = stored_password(&pg, &auth_user).unwrap();
    assert!(scram_matches(&auth_verifier, auth_password));
    sql(
        &pg,
        "pgbouncer",
        &format!("ALTER ROLE \"{auth_user}\" NOLOGIN CREATEROLE"),
    );
    db.ensure_login_role(&auth_user, auth_password).unwrap();
    assert_eq!(stored_password(&pg, &auth_user), Some(auth_verifier));
    let attributes: (bool, bool) = {
        let row = pg
            .connect(BACKEND_USER, BACKEND_PASSWORD, "pgbouncer")
            .unwrap()
            .query_one(
                "SELECT rolcanlogin, rolcreaterole FROM pg_roles WHERE rolname = $1",
                &[&auth_user],
            )
            .unwrap();
        (row.get(0), row.get(1))
    };
    assert_eq!(attributes, (true, false));
    bouncer.logs_in("relation_id_13", "pw-13b", "olddb");
}

#[test]
fn no_password_or_verifier_reaches_the_server_log() {
    ops_testing::require_live!("PgBouncer and PostgreSQL (bash .ci/run installs them)");
    let pg = Postgres::start_logging(true);
    let auth_password = "auth-pw-6-Zq81";
    let auth_user = set_up_auth_user(&pg, auth_password, &["pgbouncer"]);
    let marker = clients_role_for(&auth_user);
    let mut db = pg.backend("pgbouncer");
    // A client user made, then given a new password.
    db.ensure_user(
        "relation_id_20",
        "client-pw-20-Xk2",
        &clients_role_for(&auth_user),
    )
    .unwrap();
    db.ensure_user(
        "relation_id_20",
        "client-pw-20b-Xk2",
        &clients_role_for(&auth_user),
    )
    .unwrap();
    // A client user an older revision made with an md5 hash, upgraded.
    let old_hash = md5_password("relation_id_21", "client-pw-21-Jw7");
    sql_unlogged(
        &pg,
        "pgbouncer",
        &format!("CREATE ROLE relation_id_21 LOGIN PASSWORD '{old_hash}' IN ROLE \"{marker}\""),
    );
    db.ensure_user(
        "relation_id_21",
        "client-pw-21-Jw7",
        &clients_role_for(&auth_user),
    )
    .unwrap();
    // A statement carrying a verifier that fails after the SET LOCALs: in a
    // read-only database, ALTER ROLE is refused.
    sql(&pg, "pgbouncer", "CREATE DATABASE readonly");
    sql(
        &pg,
        "pgbouncer",
        "ALTER DATABASE readonly SET default_transaction_read_only = on",
    );
    let failed = pg
        .backend("readonly")
        .ensure_login_role("relation_id_21", "client-pw-21b-Jw7")
        .unwrap_err();
    let shown = failed.to_string();
    assert!(shown.contains("read-only transaction"), "{shown}");
    assert!(
        !shown.contains("pw-21") && !shown.contains("SCRAM"),
        "{shown}"
    );

    let log = pg.log();
    // And nothing secret.
    let verifiers: Vec<String> = ["relation_id_20", "relation_id_21", &auth_user]
        .iter()
        .map(|role| stored_password(&pg, role).unwrap())
        .collect();
    for secret in [
        auth_password,
        "client-pw-20-Xk2",
        "client-pw-20b-Xk2",
        "client-pw-21-Jw7",
        "client-pw-21b-Jw7",
        &old_hash,
        &md5_password(&auth_user, auth_password),
        &md5_password("relation_id_20", "client-pw-20-Xk2"),
        &md5_password("relation_id_20", "client-pw-20b-Xk2"),
        &md5_password("relation_id_21", "client-pw-21b-Jw7"),
        "SCRAM-SHA-256$",
        "PASSWORD",
    ]
    .into_iter()
    .chain(verifiers.iter().map(String::as_str))
    {
        assert!(
            !log.contains(secret),
            "{secret:?} is in the server log:\n{log}"
        );
    }
    // The log is on and holds the other statements and the failure.
    assert!(
        log.contains("statement: CREATE SCHEMA IF NOT EXISTS"),
        "{log}"
    );
    assert!(log.contains("statement: SET LOCAL "), "{log}");
    assert!(
        log.contains("ERROR:  cannot execute ALTER ROLE in a read-only transaction"),
        "{log}"
    );
}

#[test]
fn revocation_ends_for_a_user_with_databases_and_tables_of_its_own() {
    ops_testing::require_live!("PgBouncer and PostgreSQL (bash .ci/run installs them)");
    let pg = Postgres::start();
    let auth_password = "auth-pw-7";
    let auth_user = set_up_auth_user(&pg, auth_password, &["pgbouncer"]);
    let shared = ClientDatabase::parse("shared30").unwrap();
    let mut db = pg.backend("pgbouncer");
    db.ensure_user("relation_id_30", "pw-30", &clients_role_for(&auth_user))
        .unwrap();
    db.ensure_user("relation_id_31", "pw-31", &clients_role_for(&auth_user))
        .unwrap();
    db.ensure_database(&shared, "relation_id_31").unwrap();
    db.grant_database(&shared, "relation_id_30").unwrap();
    pg.backend("shared30")
        .grant_public_schema("relation_id_30")
        .unwrap();
    db.set_extra_roles(
        "relation_id_30",
        &ExtraUserRoles::parse("createdb").unwrap(),
    )
    .unwrap();
    // The user makes a database of its own with a table in it, a table in
    // the shared database, and one in a database that will not accept
    // connections.
    let mut user = pg.connect("relation_id_30", "pw-30", "shared30").unwrap();
    user.batch_execute("CREATE TABLE mine_in_shared (x int)")
        .unwrap();
    user.batch_execute("CREATE DATABASE own30").unwrap();
    user.batch_execute("CREATE DATABASE closed30").unwrap();
    drop(user);
    for database in ["own30", "closed30"] {
        pg.connect("relation_id_30", "pw-30", database)
            .unwrap()
            .batch_execute("CREATE TABLE t (x int); INSERT INTO t VALUES (1)")
            .unwrap();
    }
    sql(
        &pg,
        "pgbouncer",
        "ALTER DATABASE closed30 ALLOW_CONNECTIONS false",
    );

    let access = pg.access();
    db.deactivate_role("relation_id_30").unwrap();
    // A database that cannot be visited keeps the role: the error names it
    // and the step, and no secret.
    match access.drop_role_everywhere("pgbouncer", "relation_id_30", BACKEND_USER) {
        Err(SqlError::Unreleased {
            role,
            databases,
            reason,
        }) => {
            assert_eq!(role, "relation_id_30");
            assert_eq!(databases, ["\"closed30\""]);
            assert!(reason.contains("cannot be dropped"), "{reason}");
        }
        other => panic!("{other:?}"),
    }
    let err = access
        .drop_role_everywhere("pgbouncer", "relation_id_30", BACKEND_USER)
        .unwrap_err()
        .to_string();
    assert!(err.contains("closed30") && !err.contains("pw-30"), "{err}");
    sql(
        &pg,
        "pgbouncer",
        "ALTER DATABASE closed30 ALLOW_CONNECTIONS true",
    );

    // Now it ends: every database released, the role dropped.
    access
        .drop_role_everywhere("pgbouncer", "relation_id_30", BACKEND_USER)
        .unwrap();
    let exists = |role: &str| -> bool {
        pg.connect(BACKEND_USER, BACKEND_PASSWORD, "pgbouncer")
            .unwrap()
            .query_opt("SELECT 1 FROM pg_roles WHERE rolname = $1", &[&role])
            .unwrap()
            .is_some()
    };
    assert!(!exists("relation_id_30"));
    assert!(pg.connect("relation_id_30", "pw-30", "shared30").is_err());
    // Gone: nothing to do again.
    access
        .drop_role_everywhere("pgbouncer", "relation_id_30", BACKEND_USER)
        .unwrap();
    // What it made is the heir's now, data included.
    let owner = |database: &str, sql: &str| -> String {
        pg.connect(BACKEND_USER, BACKEND_PASSWORD, database)
            .unwrap()
            .query_one(sql, &[])
            .unwrap()
            .get(0)
    };
    for database in ["own30", "closed30"] {
        assert_eq!(
            owner(
                "pgbouncer",
                &format!(
                    "SELECT pg_get_userbyid(datdba)::text FROM pg_database WHERE datname = '{database}'"
                )
            ),
            BACKEND_USER
        );
        assert_eq!(
            owner(
                database,
                "SELECT tableowner::text FROM pg_tables WHERE tablename = 't'"
            ),
            BACKEND_USER
        );
    }
    assert_eq!(
        owner(
            "shared30",
            "SELECT tableowner::text FROM pg_tables WHERE tablename = 'mine_in_shared'"
        ),
        BACKEND_USER
    );
    // The other user of the shared database is untouched.
    assert!(exists("relation_id_31"));
    assert!(pg.connect("relation_id_31", "pw-31", "shared30").is_ok());

    // The auth user too, once its get_auth is gone from every database it
    // was installed in (its CONNECT grant on them is a shared dependency).
    pg.backend("shared30")
        .install_get_auth(&auth_user, &clients_role_for(&auth_user))
        .unwrap();
    for database in ["pgbouncer", "shared30"] {
        pg.backend(database).remove_get_auth(&auth_user).unwrap();
    }
    access
        .drop_role_everywhere("pgbouncer", &auth_user, BACKEND_USER)
        .unwrap();
    assert!(!exists(&auth_user));
}

/// Waits for a PgBouncer just started to listen on `port` (it daemonizes
/// nothing and says nothing when ready, so the port is the only sign);
/// fails the test with its output if it exits or takes over 10 s.
fn wait_until_listening(pgbouncer: &mut Running, port: u16, output: &dyn Fn() -> String) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(status) = pgbouncer.0.try_wait().unwrap() {
            panic!(
                "pgbouncer exited ({status}) instead of listening; {}",
                output()
            );
        }
        if TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "pgbouncer did not listen on {port} within 10 s; {}",
            output()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

// ---- Differential: what PgBouncer reads is what we parsed (issue 15 item 13) ----

use pgbouncer_k8s::pgb_config::ConnParams;
use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::TestRunner;

/// A connection string value: any character the model accepts (printable
/// ASCII and spaces, quotes and `=` included), so quoting is exercised.
fn any_value() -> impl Strategy<Value = String> {
    "[ -~]{1,12}".prop_filter("accepted by the model", |v| {
        ConnParams::from_pairs([("dbname", v.as_str())]).is_ok()
    })
}

/// `[databases]` entries with the parameters SHOW DATABASES reports.
fn entries(round: usize) -> impl Strategy<Value = Vec<(String, Vec<(String, String)>)>> {
    let params = (
        any_value(),
        prop::option::of(any_value()),
        "[a-z0-9-]{1,10}(\\.[a-z]{1,5})?",
        1u16..65535,
        prop::option::of(1u32..500),
        prop::option::of(0u32..50),
        prop::option::of(0u32..50),
        prop::option::of(prop::sample::select(vec![
            "session",
            "transaction",
            "statement",
        ])),
        prop::option::of(1u32..1000),
    )
        .prop_map(
            |(dbname, user, host, port, pool, min, reserve, mode, max)| {
                let mut pairs = vec![
                    ("host".to_string(), host),
                    ("port".to_string(), port.to_string()),
                    ("dbname".to_string(), dbname),
                ];
                let optional = [
                    ("user", user),
                    ("pool_size", pool.map(|n| n.to_string())),
                    ("min_pool_size", min.map(|n| n.to_string())),
                    ("reserve_pool", reserve.map(|n| n.to_string())),
                    ("pool_mode", mode.map(str::to_string)),
                    ("max_db_connections", max.map(|n| n.to_string())),
                ];
                for (key, value) in optional {
                    if let Some(value) = value {
                        pairs.push((key.to_string(), value));
                    }
                }
                pairs
            },
        );
    prop::collection::vec(params, 1..12).prop_map(move |all| {
        all.into_iter()
            .enumerate()
            .map(|(i, pairs)| (format!("r{round}-db_{i}"), pairs))
            .collect()
    })
}

/// SHOW DATABASES' column for a connection parameter.
fn show_column(key: &str) -> &str {
    match key {
        "dbname" => "database",
        "user" => "force_user",
        "max_db_connections" => "max_connections",
        other => other,
    }
}

#[test]
fn pgbouncer_reads_generated_configs_as_we_parse_them() {
    ops_testing::require_live!("PgBouncer and PostgreSQL (bash .ci/run installs them)");
    let program = pgbouncer();
    let (dir, lib, log) = pgbouncer_dirs();
    let port = closed_port();
    let ini = lib.join("instance_0/pgbouncer.ini");
    let mut auth = AuthFile::default();
    auth.set_user(ADMIN_USER, ADMIN_PASSWORD).unwrap();
    let auth_path = lib.join("userlist.txt");
    std::fs::write(&auth_path, auth.render()).unwrap();
    open_to_all(&auth_path, 0o644);

    let mut runner = TestRunner::deterministic();
    let mut seen_names = vec!["pgbouncer".to_string()];
    let mut running: Option<Running> = None;
    let mut admin: Option<postgres::Client> = None;
    let stderr = dir.path().join("stderr");
    let logfile = log.join("instance_0/pgbouncer.log");
    for round in 0..4 {
        let generated = entries(round).new_tree(&mut runner).unwrap().current();
        let mut config = PgbConfig::default_for(2, 0, port, PoolMode::Session).unwrap();
        config.set("pgbouncer", "listen_addr", "127.0.0.1").unwrap();
        config
            .set("pgbouncer", "auth_file", AUTH_FILE_PATH)
            .unwrap();
        for (name, pairs) in &generated {
            let pairs: Vec<(&str, &str)> = pairs
                .iter()
                .map(|(k, v)| (k.as_str(), v.as_str()))
                .collect();
            config.add_database(name, &pairs).unwrap();
            seen_names.push(name.clone());
        }
        let instance = config
            .instance(0)
            .with_base_dirs(&lib.display().to_string(), &log.display().to_string());
        let rendered = instance.render_validated().unwrap();
        // What we parse back from the text is what we meant.
        let parsed = PgbConfig::parse(&rendered).unwrap();
        assert_eq!(parsed, instance);
        std::fs::write(&ini, &rendered).unwrap();
        let output = || {
            format!(
                "log:\n{}\nstderr:\n{}\nconfig:\n{rendered}",
                std::fs::read_to_string(&logfile).unwrap_or_default(),
                std::fs::read_to_string(&stderr).unwrap_or_default()
            )
        };
        let admin = match (&mut running, &mut admin) {
            (Some(_), Some(admin)) => {
                admin
                    .simple_query("RELOAD")
                    .unwrap_or_else(|e| panic!("RELOAD: {e:?}; {}", output()));
                admin
            }
            _ => {
                let mut pgbouncer = start(&program, &ini, &stderr);
                wait_until_listening(&mut pgbouncer, port, &output);
                running = Some(pgbouncer);
                admin.insert(
                    connect_to(port, ADMIN_USER, ADMIN_PASSWORD, "pgbouncer")
                        .unwrap_or_else(|e| panic!("admin login: {e:?}; {}", output())),
                )
            }
        };
        let rows = show_databases(admin);
        // No entry we did not write (nothing injected).
        for row in &rows {
            let name = row.get("name").unwrap_or_default();
            assert!(
                seen_names.iter().any(|n| n == name),
                "PgBouncer has a database {name:?} we never wrote; {}",
                output()
            );
        }
        for (name, params) in parsed.databases() {
            let row = rows
                .iter()
                .find(|row| row.get("name") == Some(name.as_str()))
                .unwrap_or_else(|| {
                    panic!("{name} is not among PgBouncer's databases; {}", output())
                });
            for (key, value) in params.iter() {
                assert_eq!(
                    row.get(show_column(key)),
                    Some(value.as_str()),
                    "round {round}, database {name}, {key}; {}",
                    output()
                );
            }
        }
    }
    drop(admin);
    drop(running);
}

/// A PgBouncer with peering and prepared-statement tracking (1.21 and
/// later): `$PGBOUNCER_BIN` (`.ci/run` sets it to what
/// `scripts/pgbouncer-from-source` builds when the system's is older), or
/// the system's when it is new enough.
fn newer_pgbouncer() -> (PathBuf, String) {
    let candidates = std::env::var_os("PGBOUNCER_BIN")
        .map(PathBuf::from)
        .into_iter()
        .chain([pgbouncer()]);
    for program in candidates {
        let out = Command::new(&program).arg("--version").output().unwrap();
        let text = String::from_utf8_lossy(&out.stdout).to_string();
        if let Some(version) = pgbouncer_k8s::workload::parse_version(&text)
            && pgbouncer_k8s::pgb_config::major_minor(&version)
                .is_some_and(|v| v >= pgbouncer_k8s::pgb_config::PREPARED_STATEMENTS_SINCE)
        {
            return (program, version);
        }
    }
    panic!(
        "this test needs PgBouncer 1.21 or later (the charm's image ships it; Debian 12's is \
         1.18): `.ci/run` builds one; by hand: PGBOUNCER_BIN=$(scripts/pgbouncer-from-source)"
    )
}

/// `count` instances of the charm's rendered config on one port
/// (`so_reuseport`), fitted to the PgBouncer's version, in transaction
/// pooling with pools of up to 20 server connections.
fn instances(
    pg: &Postgres,
    auth_user: &str,
    auth_password: &str,
    count: usize,
) -> (Vec<Running>, u16, tempfile::TempDir) {
    let (program, version) = newer_pgbouncer();
    let (dir, lib, log) = pgbouncer_dirs();
    for n in 0..count {
        for d in [
            lib.join(format!("instance_{n}")),
            log.join(format!("instance_{n}")),
        ] {
            std::fs::create_dir_all(&d).unwrap();
            open_to_all(&d, 0o777);
        }
    }
    let port = closed_port();
    let mut config = PgbConfig::default_for(count, 0, port, PoolMode::Transaction).unwrap();
    config.set("pgbouncer", "listen_addr", "127.0.0.1").unwrap();
    config
        .set("pgbouncer", "server_tls_sslmode", "disable")
        .unwrap();
    config.set_auth(auth_user).unwrap();
    config.set_max_prepared_statements(100);
    config.set_peers(count, port);
    config
        .add_database(
            "clientdb",
            &[
                ("host", "127.0.0.1"),
                ("port", &pg.port.to_string()),
                ("dbname", "clientdb"),
            ],
        )
        .unwrap();
    let config = config.fitted_to(Some(&version));
    assert!(config.get("peers", "1").is_some(), "peering for {version}");
    let mut auth = AuthFile::default();
    auth.set_plain(auth_user, auth_password).unwrap();
    let auth_path = lib.join("userlist.txt");
    std::fs::write(&auth_path, auth.render()).unwrap();
    open_to_all(&auth_path, 0o644);
    let lib_text = lib.display().to_string();
    let mut running = Vec::new();
    for n in 0..count {
        let mut instance = config
            .instance(n)
            .with_base_dirs(&lib_text, &log.display().to_string());
        // The peers' sockets, where this test puts them.
        for peer in 0..count {
            instance
                .set(
                    "peers",
                    &(peer + 1).to_string(),
                    &format!("host={lib_text}/instance_{peer} port={port}"),
                )
                .unwrap();
        }
        let ini = lib.join(format!("instance_{n}/pgbouncer.ini"));
        std::fs::write(&ini, instance.render_validated().unwrap()).unwrap();
        let stderr = dir.path().join(format!("stderr_{n}"));
        let mut process = start(&program, &ini, &stderr);
        let shown = stderr.clone();
        wait_until_listening(&mut process, port, &move || {
            std::fs::read_to_string(&shown).unwrap_or_default()
        });
        running.push(process);
    }
    (running, port, dir)
}

/// A backend with the auth user (password `auth_password`) and a client,
/// `relation_id_<n>` with password `pw-<n>`, owning `clientdb`, where
/// `get_auth` is installed; and the auth user's name.
fn a_client_of_the_backend(n: u32, auth_password: &str) -> (Postgres, String) {
    let pg = Postgres::start();
    let auth_user = set_up_auth_user(&pg, auth_password, &["pgbouncer"]);
    let database = ClientDatabase::parse("clientdb").unwrap();
    let user = format!("relation_id_{n}");
    let mut db = pg.backend("pgbouncer");
    db.ensure_user(&user, &format!("pw-{n}"), &clients_role_for(&auth_user))
        .unwrap();
    db.ensure_database(&database, &user).unwrap();
    pg.backend("clientdb")
        .install_get_auth(&auth_user, &clients_role_for(&auth_user))
        .unwrap();
    (pg, auth_user)
}

/// Issue: 2-4 PgBouncer processes share the port with no peering, so a
/// cancel request landed on a process that did not know the key, (n-1)/n
/// of the time. With `[peers]` and a `peer_id` per instance, every cancel
/// reaches the query.
#[test]
fn a_cancel_request_reaches_the_instance_that_holds_the_query() {
    ops_testing::require_live!("PgBouncer and PostgreSQL (bash .ci/run installs them)");
    let (pg, auth_user) = a_client_of_the_backend(40, "auth-pw-40");
    let (_running, port, _dir) = instances(&pg, &auth_user, "auth-pw-40", 2);
    for round in 0..8 {
        let mut client = connect_to(port, "relation_id_40", "pw-40", "clientdb").unwrap();
        let cancel = client.cancel_token();
        let (done_tx, done_rx) = std::sync::mpsc::channel();
        let query = std::thread::spawn(move || {
            let result = client.simple_query("SELECT pg_sleep(20)");
            let _ = done_tx.send(());
            result
        });
        std::thread::sleep(Duration::from_millis(300));
        cancel.cancel_query(postgres::NoTls).unwrap();
        assert!(
            done_rx.recv_timeout(Duration::from_secs(8)).is_ok(),
            "round {round}: the cancel request did not reach the query"
        );
        let error = query.join().unwrap().unwrap_err();
        assert_eq!(
            error.code(),
            Some(&postgres::error::SqlState::QUERY_CANCELED),
            "round {round}: {error}"
        );
    }
}

/// Issue: under transaction pooling, drivers that prepare statements got
/// "prepared statement does not exist" when their next transaction ran on
/// another server connection. PgBouncer tracks them with
/// `max_prepared_statements`.
#[test]
fn prepared_statements_work_across_transactions_under_transaction_pooling() {
    ops_testing::require_live!("PgBouncer and PostgreSQL (bash .ci/run installs them)");
    let (pg, auth_user) = a_client_of_the_backend(40, "auth-pw-40");
    let (_running, port, _dir) = instances(&pg, &auth_user, "auth-pw-40", 1);
    let connect = || connect_to(port, "relation_id_40", "pw-40", "clientdb").unwrap();
    let mut client = connect();
    let statement = client.prepare("SELECT $1::int + 1").unwrap();
    // Other clients hold server connections in open transactions, so the
    // client's next transactions run on server connections its statement
    // was never prepared on.
    let mut holders = Vec::new();
    for round in 0..5 {
        let mut holder = connect();
        holder.batch_execute("BEGIN; SELECT 1").unwrap();
        holders.push(holder);
        let value: i32 = client
            .query_one(&statement, &[&round])
            .unwrap_or_else(|e| panic!("round {round}: {e}"))
            .get(0);
        assert_eq!(value, round + 1);
    }
}

/// Issue: the charm's own SQL to the backend was always plaintext: against
/// a PostgreSQL with TLS on, whose `pg_hba` allows only `hostssl` (Charmed
/// PostgreSQL's production set-up), nothing was ever provisioned.
#[test]
fn the_charms_sql_reaches_a_backend_that_allows_only_tls() {
    ops_testing::require_live!("PgBouncer and PostgreSQL (bash .ci/run installs them)");
    let pg = Postgres::start_with(false, true);
    // No CA from the relation: TLS as libpq's sslmode=prefer.
    let mut db = pg.access().connect("pgbouncer").expect("TLS when offered");
    assert!(db.encrypted().unwrap());
    // The CA the backend relation gives: the server is verified.
    let ca = pg.ca();
    let mut verified = pg
        .access()
        .with_ca(Some(&ca))
        .connect("pgbouncer")
        .expect("verified against the backend's CA");
    assert!(verified.encrypted().unwrap());
    // A CA that did not sign the server's certificate: refused.
    let foreign = tempfile::tempdir().unwrap();
    let status = Command::new("openssl")
        .args([
            "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
        ])
        .args([
            "-subj",
            "/CN=someone else",
            "-addext",
            "basicConstraints=critical,CA:TRUE",
        ])
        .arg("-keyout")
        .arg(foreign.path().join("key.pem"))
        .arg("-out")
        .arg(foreign.path().join("ca.pem"))
        .stderr(Stdio::null())
        .status()
        .unwrap();
    assert!(status.success());
    let other = std::fs::read_to_string(foreign.path().join("ca.pem")).unwrap();
    match pg.access().with_ca(Some(&other)).connect("pgbouncer") {
        Err(SqlError::Connect { reason, .. }) => {
            assert!(!reason.contains(BACKEND_PASSWORD), "{reason}")
        }
        Err(e) => panic!("{e}"),
        Ok(_) => panic!("a server not signed by the CA was trusted"),
    }
    // The whole provisioning works over it.
    let auth_user = set_up_auth_user(&pg, "auth-pw-50", &["pgbouncer"]);
    let mut db = pg.access().with_ca(Some(&ca)).connect("pgbouncer").unwrap();
    db.ensure_user("relation_id_50", "pw-50", &clients_role_for(&auth_user))
        .unwrap();
}

// ---- Client TLS (issue 23): the unit's own files, served by the real PgBouncer ----

use ops_testing::Harness;
use pgbouncer_k8s::PgbouncerK8sCharm;
use pgbouncer_k8s::pgb_config::{TLS_CA_PATH, TLS_CERT_PATH, TLS_KEY_PATH, instance_ini_path};
use tls_certificates::databag::{CERTIFICATE_SIGNING_REQUESTS, CERTIFICATES};
use tls_certificates::testing::{TestCa, requested_csrs};
use tls_certificates::{Csr, LIBID};

const TLS_PROVIDER: &str = "self-signed-certificates";

/// The provider answers the unit's CSRs, signed by `ca`, in the exact v4
/// shape (`certificates` in its app databag).
fn sign_unit_csrs(h: &mut Harness<PgbouncerK8sCharm>, relation: u32, ca: &TestCa) -> Vec<Csr> {
    let bag = h.get_relation_data(relation, "pgbouncer-k8s/0");
    let csrs = requested_csrs(bag.get(CERTIFICATE_SIGNING_REQUESTS).map(String::as_str));
    let value = ca.provider_value(&csrs.iter().collect::<Vec<_>>());
    h.update_relation_data(relation, TLS_PROVIDER, &[(CERTIFICATES, &value)])
        .unwrap();
    csrs
}

/// The unit's file at `path` in its workload container, if there.
fn unit_file(h: &Harness<PgbouncerK8sCharm>, path: &str) -> Option<String> {
    std::fs::read_to_string(h.container_path("pgbouncer", path).unwrap()).ok()
}

/// Writes `content` at `path`, readable by its owner only, owned by the
/// user PgBouncer runs as (as Pebble writes the unit's files).
fn write_private(path: &Path, content: &str) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    open_to_all(path.parent().unwrap(), 0o755);
    std::fs::write(path, content).unwrap();
    open_to_all(path, 0o600);
    if std::fs::metadata("/proc/self").unwrap().uid() == 0 {
        let (uid, gid) = user_ids("postgres");
        std::os::unix::fs::chown(path, Some(uid), Some(gid)).unwrap();
    }
}

/// Puts what the unit has in its container where the test's PgBouncer
/// reads it: instance 0's config (paths under `lib` and `log`, listening
/// on 127.0.0.1:`port`, its peers' sockets here), the auth file and the
/// TLS files, the latter only while the unit has them.
fn install_unit_files(
    h: &Harness<PgbouncerK8sCharm>,
    lib: &Path,
    log: &Path,
    port: u16,
) -> PathBuf {
    let lib_text = lib.display().to_string();
    let config = PgbConfig::parse(&unit_file(h, &instance_ini_path(0)).unwrap()).unwrap();
    let mut instance = config.with_base_dirs(&lib_text, &log.display().to_string());
    instance
        .set("pgbouncer", "listen_addr", "127.0.0.1")
        .unwrap();
    instance
        .set("pgbouncer", "listen_port", &port.to_string())
        .unwrap();
    let peers: Vec<String> = instance
        .options("peers")
        .map(|(k, _)| k.to_string())
        .collect();
    for peer in peers {
        let n: usize = peer.parse::<usize>().unwrap() - 1;
        instance
            .set(
                "peers",
                &peer,
                &format!("host={lib_text}/instance_{n} port={port}"),
            )
            .unwrap();
    }
    let ini = lib.join("instance_0/pgbouncer.ini");
    std::fs::write(&ini, instance.render_validated().unwrap()).unwrap();
    open_to_all(&ini, 0o644);
    write_private(
        &lib.join("userlist.txt"),
        &unit_file(h, AUTH_FILE_PATH).unwrap(),
    );
    let tls_dir = lib.join("tls");
    let _ = std::fs::remove_dir_all(&tls_dir);
    for path in [TLS_KEY_PATH, TLS_CERT_PATH, TLS_CA_PATH] {
        if let Some(content) = unit_file(h, path) {
            let name = Path::new(path).file_name().unwrap();
            write_private(&tls_dir.join(name), &content);
        }
    }
    ini
}

/// `psql` through PgBouncer with `sslmode` (and `sslrootcert`, a file
/// with that CA), the password in the environment; its output or error.
fn psql(
    port: u16,
    user: &str,
    password: &str,
    sslmode: &str,
    ca: Option<&Path>,
) -> Result<String, String> {
    let mut conninfo = format!(
        "host=127.0.0.1 port={port} dbname=appdb user={user} sslmode={sslmode} connect_timeout=5"
    );
    if let Some(ca) = ca {
        conninfo.push_str(&format!(" sslrootcert={}", ca.display()));
    }
    let out = Command::new("psql")
        .arg(&conninfo)
        .args(["-XtAc", "SELECT current_user"])
        .env("PGPASSWORD", password)
        .stdin(Stdio::null())
        .output()
        .expect("psql is installed (postgresql-client)");
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).to_string())
    }
}

/// PgBouncer took a `SIGHUP` once `check` holds (a reload is asynchronous).
fn after_reload(running: &Running, check: &dyn Fn() -> Result<(), String>) {
    let status = Command::new("kill")
        .args(["-HUP", &running.0.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        match check() {
            Ok(()) => return,
            Err(e) if Instant::now() >= deadline => panic!("after a reload: {e}"),
            Err(_) => std::thread::sleep(Duration::from_millis(100)),
        }
    }
}

/// Issue 23: a unit's certificate, from a v4 provider through the charm's
/// handlers, is served by the real PgBouncer from the unit's own files:
/// `psql sslmode=verify-ca` with the provider's CA connects, through
/// PgBouncer, to PostgreSQL; TLS comes on, is renewed (a new CA's
/// certificate) and goes off again, each by a reload.
#[test]
fn the_real_pgbouncer_serves_the_units_certificate_to_verify_ca_clients() {
    ops_testing::require_live!("PgBouncer and PostgreSQL (bash .ci/run installs them)");
    let (program, _) = newer_pgbouncer();
    let pg = Postgres::start();
    let mut h = Harness::<PgbouncerK8sCharm>::from_charm_dir(env!("CARGO_MANIFEST_DIR")).unwrap();
    h.set_leader(true).unwrap();
    h.set_can_connect("pgbouncer", true).unwrap();
    h.begin_with_initial_hooks().unwrap();
    h.add_relation_with_app_data(
        "backend-database",
        "postgresql",
        &[
            ("endpoints", &format!("127.0.0.1:{}", pg.port)),
            ("username", BACKEND_USER),
            ("password", BACKEND_PASSWORD),
            ("database", "pgbouncer"),
        ],
    )
    .unwrap();
    let client = h.add_relation("database", "client-app").unwrap();
    h.add_relation_unit(client, "client-app/0").unwrap();
    h.update_relation_data(client, "client-app", &[("database", "appdb")])
        .unwrap();
    let bag = h.get_relation_data(client, "pgbouncer-k8s");
    let (user, password) = (bag["username"].clone(), bag["password"].clone());
    assert_eq!(bag["tls"], "False");

    // PgBouncer on the unit's files, before any certificate: no TLS.
    let (dir, lib, log) = pgbouncer_dirs();
    let port = closed_port();
    let ini = install_unit_files(&h, &lib, &log, port);
    let stderr = dir.path().join("stderr");
    let shown = stderr.clone();
    let output = move || std::fs::read_to_string(&shown).unwrap_or_default();
    let mut running = start(&program, &ini, &stderr);
    wait_until_listening(&mut running, port, &output);
    assert_eq!(
        psql(port, &user, &password, "disable", None),
        Ok(user.clone())
    );
    assert!(psql(port, &user, &password, "require", None).is_err());

    // The certificates relation; the provider signs the unit's CSR.
    let relation = h.add_relation("certificates", TLS_PROVIDER).unwrap();
    h.add_relation_unit(relation, &format!("{TLS_PROVIDER}/0"))
        .unwrap();
    let first_ca = TestCa::new("first test CA");
    let csrs = sign_unit_csrs(&mut h, relation, &first_ca);
    let first_ca_file = dir.path().join("first-ca.pem");
    std::fs::write(
        &first_ca_file,
        h.get_relation_data(client, "pgbouncer-k8s")["tls-ca"].clone(),
    )
    .unwrap();
    install_unit_files(&h, &lib, &log, port);
    after_reload(&running, &|| {
        psql(port, &user, &password, "verify-ca", Some(&first_ca_file))
            .map(|who| assert_eq!(who, user))
    });
    // Another CA's clients do not trust it.
    let other_ca = TestCa::new("another CA");
    let other_ca_file = dir.path().join("other-ca.pem");
    std::fs::write(&other_ca_file, other_ca.pem()).unwrap();
    let refused = psql(port, &user, &password, "verify-ca", Some(&other_ca_file)).unwrap_err();
    assert!(refused.contains("certificate verify failed"), "{refused}");

    // Renewal: the certificate's secret expires, a new CSR goes out and a
    // new CA signs it; PgBouncer takes the new files on reload.
    let label = format!("{LIBID}-certificate-0-{}", csrs[0].sha256_hex());
    let secret = h
        .juju()
        .secrets
        .values()
        .find(|s| s.label.as_deref() == Some(label.as_str()))
        .map(|s| s.id.clone())
        .expect("the certificate's secret");
    h.trigger_secret_expiration(&secret, 1).unwrap();
    sign_unit_csrs(&mut h, relation, &other_ca);
    install_unit_files(&h, &lib, &log, port);
    after_reload(&running, &|| {
        psql(port, &user, &password, "verify-ca", Some(&other_ca_file))
            .map(|who| assert_eq!(who, user))
    });
    assert!(psql(port, &user, &password, "verify-ca", Some(&first_ca_file)).is_err());

    // The relation removed: TLS off, by reload; plaintext still served.
    h.remove_relation(relation).unwrap();
    assert_eq!(unit_file(&h, TLS_CERT_PATH), None);
    install_unit_files(&h, &lib, &log, port);
    after_reload(
        &running,
        &|| match psql(port, &user, &password, "require", None) {
            Ok(_) => Err("TLS still served".to_string()),
            Err(_) => Ok(()),
        },
    );
    assert_eq!(
        psql(port, &user, &password, "disable", None),
        Ok(user.clone())
    );
    assert!(running.0.try_wait().unwrap().is_none(), "{}", output());
}
