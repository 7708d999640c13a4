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

#[test]
fn real_pgbouncer_runs_on_the_rendered_instance_config_and_auth_file() {
    let program = pgbouncer();
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
    let port = free_port();

    let mut config = PgbConfig::default_for(2, 44, port, "session").unwrap();
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

    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(status) = pgbouncer.0.try_wait().unwrap() {
            panic!(
                "pgbouncer exited ({status}) instead of listening; {}",
                output()
            );
        }
        if TcpStream::connect(("127.0.0.1", port)).is_ok() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "pgbouncer did not listen on {port} within 10 s; {}",
            output()
        );
        std::thread::sleep(Duration::from_millis(50));
    }

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
