//! The real PgBouncer (Debian's `pgbouncer` package; `.ci/run` installs it)
//! accepts the charm's rendered per-instance config and auth file: it starts,
//! listens, logs no error, reads the connection string as we meant it, and
//! authenticates with the md5 hashes of our auth file.
//!
//! PgBouncer refuses to run as root, so as root the test starts it as the
//! `postgres` user (setuid in the child, so that killing the child kills
//! PgBouncer itself; `runuser` would leave it running).

use std::net::{TcpListener, TcpStream};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use pgbouncer_k8s::auth::AuthFile;
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

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
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
    let program = pgbouncer();
    let (dir, lib, log) = pgbouncer_dirs();
    let port = free_port();

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

    let mut auth = AuthFile::default();
    auth.set_user(AUTH_USER, "auth-user-password").unwrap();
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

    // The admin console: our md5 hash authenticates the admin user, and
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
    let rows: Vec<postgres::SimpleQueryRow> = admin
        .simple_query("SHOW DATABASES")
        .unwrap()
        .into_iter()
        .filter_map(|m| match m {
            postgres::SimpleQueryMessage::Row(row) => Some(row),
            _ => None,
        })
        .collect();
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
            .is_some_and(|m| m.contains("password authentication failed")),
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
// A throwaway PostgreSQL on loopback (`scripts/local-postgres`, which
// `.ci/run` can run: it installs Debian's postgresql), with a SUPERUSER
// backend user as postgresql-k8s gives the charm.

use pgbouncer_k8s::auth::{auth_user_for, md5_password};
use pgbouncer_k8s::names::{BackendUser, ClientDatabase, ExtraUserRoles};
use pgbouncer_k8s::sql::{Backend, BackendAccess, SqlError, clients_role_for};

const BACKEND_USER: &str = "relation_id_3";
const BACKEND_PASSWORD: &str = "backend-pw-5c1d";

fn local_postgres_script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/local-postgres")
}

/// A PostgreSQL cluster for one test, stopped when it ends.
struct Postgres {
    dir: tempfile::TempDir,
    port: u16,
}

impl Postgres {
    fn start() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let out = Command::new(local_postgres_script())
            .arg("start")
            .arg(dir.path().join("pg"))
            .args([BACKEND_USER, BACKEND_PASSWORD])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "cannot start PostgreSQL (.ci/run installs it): {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let port = String::from_utf8_lossy(&out.stdout).trim().parse().unwrap();
        Self { dir, port }
    }

    fn access(&self) -> BackendAccess {
        BackendAccess::new(
            &format!("127.0.0.1:{}", self.port),
            BACKEND_USER,
            BACKEND_PASSWORD,
        )
        .unwrap()
    }

    /// The charm's own connection, to `database`.
    fn backend(&self, database: &str) -> Backend {
        self.access().connect(database).unwrap()
    }

    fn connect(
        &self,
        user: &str,
        password: &str,
        database: &str,
    ) -> Result<postgres::Client, postgres::Error> {
        connect_to(self.port, user, password, database)
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        let _ = Command::new(local_postgres_script())
            .arg("stop")
            .arg(self.dir.path().join("pg"))
            .status();
    }
}

fn connect_to(
    port: u16,
    user: &str,
    password: &str,
    database: &str,
) -> Result<postgres::Client, postgres::Error> {
    postgres::Config::new()
        .host("127.0.0.1")
        .port(port)
        .user(user)
        .password(password)
        .dbname(database)
        .connect_timeout(Duration::from_secs(5))
        .connect(postgres::NoTls)
}

fn the_auth_user() -> String {
    auth_user_for(&BackendUser::parse(BACKEND_USER).unwrap())
}

/// The auth user with its password and `get_auth` in `databases`, as the
/// charm sets it up when the backend relation is ready.
fn set_up_auth_user(pg: &Postgres, password: &str, databases: &[&str]) -> String {
    let auth_user = the_auth_user();
    let mut db = pg.backend("pgbouncer");
    db.ensure_login_role(&auth_user, &md5_password(&auth_user, password))
        .unwrap();
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
    assert_eq!(
        get_auth(&pg, auth_password, "pgbouncer", "relation_id_7"),
        [(
            "relation_id_7".to_string(),
            md5_password("relation_id_7", "client-pw-7")
        )]
    );
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

#[test]
fn a_client_logs_in_through_pgbouncer_until_deactivated() {
    let program = pgbouncer();
    let pg = Postgres::start();
    let auth_password = "auth-pw-4";
    let auth_user = set_up_auth_user(&pg, auth_password, &["pgbouncer"]);
    let database = ClientDatabase::parse("clientdb").unwrap();
    let mut db = pg.backend("pgbouncer");
    db.ensure_user("relation_id_12", "pw-12", &clients_role_for(&auth_user))
        .unwrap();
    db.ensure_database(&database, "relation_id_12").unwrap();
    pg.backend("clientdb")
        .install_get_auth(&auth_user, &clients_role_for(&auth_user))
        .unwrap();

    let (dir, lib, log) = pgbouncer_dirs();
    let port = free_port();
    let mut config = PgbConfig::default_for(2, 10, port, PoolMode::Session).unwrap();
    config.set("pgbouncer", "listen_addr", "127.0.0.1").unwrap();
    config
        .set("pgbouncer", "server_tls_sslmode", "disable")
        .unwrap();
    config.set_auth(&auth_user).unwrap();
    let backend_port = pg.port.to_string();
    config
        .add_database(
            database.as_str(),
            &[
                ("host", "127.0.0.1"),
                ("port", &backend_port),
                ("dbname", database.as_str()),
            ],
        )
        .unwrap();
    // The backend superuser's own database entry: PgBouncer must not let
    // it in by its hash.
    config
        .add_database(
            "pgbouncer_backend",
            &[
                ("host", "127.0.0.1"),
                ("port", &backend_port),
                ("dbname", "pgbouncer"),
            ],
        )
        .unwrap();
    let instance = config
        .instance(0)
        .with_base_dirs(&lib.display().to_string(), &log.display().to_string());
    let rendered = instance.render_validated().unwrap();
    let ini = lib.join("instance_0/pgbouncer.ini");
    std::fs::write(&ini, &rendered).unwrap();
    let mut auth = AuthFile::default();
    auth.set_user(&auth_user, auth_password).unwrap();
    auth.set_user(ADMIN_USER, ADMIN_PASSWORD).unwrap();
    let auth_path = lib.join("userlist.txt");
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

    // The client user, through PgBouncer's auth_query.
    let mut client = connect_to(port, "relation_id_12", "pw-12", "clientdb")
        .unwrap_or_else(|e| panic!("the client cannot log in: {e:?}; {}", output()));
    let who: String = client
        .query_one("SELECT current_user::text", &[])
        .unwrap()
        .get(0);
    assert_eq!(who, "relation_id_12");
    drop(client);
    assert!(connect_to(port, "relation_id_12", "wrong", "clientdb").is_err());
    // The backend superuser is not brokered.
    let refused = connect_to(port, BACKEND_USER, BACKEND_PASSWORD, "pgbouncer_backend");
    assert!(
        refused.is_err(),
        "the backend superuser logged in through PgBouncer"
    );

    // Deactivated: no new login, through PgBouncer or directly.
    pg.backend("pgbouncer")
        .deactivate_role("relation_id_12")
        .unwrap();
    let refused = connect_to(port, "relation_id_12", "pw-12", "clientdb");
    assert!(
        refused.is_err(),
        "a deactivated role logged in through PgBouncer"
    );
    assert!(pg.connect("relation_id_12", "pw-12", "clientdb").is_err());
    drop(pgbouncer);
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
    let program = pgbouncer();
    let (dir, lib, log) = pgbouncer_dirs();
    let port = free_port();
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
        let rows: Vec<postgres::SimpleQueryRow> = admin
            .simple_query("SHOW DATABASES")
            .unwrap()
            .into_iter()
            .filter_map(|m| match m {
                postgres::SimpleQueryMessage::Row(row) => Some(row),
                _ => None,
            })
            .collect();
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
