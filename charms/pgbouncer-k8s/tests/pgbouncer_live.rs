//! The real PgBouncer (Debian's package; `.ci/run` installs it) accepts the
//! charm's rendered per-instance config and auth file and listens.

use std::net::{TcpListener, TcpStream};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use pgbouncer_k8s::auth::AuthFile;
use pgbouncer_k8s::pgb_config::PgbConfig;

fn pgbouncer() -> PathBuf {
    ["/usr/sbin/pgbouncer", "/usr/bin/pgbouncer"]
        .iter()
        .map(PathBuf::from)
        .find(|p| p.exists())
        .expect("pgbouncer is not installed: `.ci/run` installs it (apt-get install pgbouncer)")
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// PgBouncer refuses to run as root: run it as `postgres` when we are root.
fn run_as_postgres(program: &Path, arg: &Path) -> Child {
    let root = Command::new("id")
        .arg("-u")
        .output()
        .map(|o| o.stdout == b"0\n")
        .unwrap_or(false);
    let mut command = if root {
        let mut c = Command::new("runuser");
        c.args(["-u", "postgres", "--"]).arg(program);
        c
    } else {
        Command::new(program)
    };
    command
        .arg(arg)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn real_pgbouncer_starts_with_the_rendered_instance_config() {
    let program = pgbouncer();
    let dir = tempfile::tempdir().unwrap();
    let lib = dir.path().join("lib");
    let log = dir.path().join("log");
    std::fs::create_dir_all(lib.join("instance_0")).unwrap();
    std::fs::create_dir_all(log.join("instance_0")).unwrap();
    let port = free_port();

    let mut config = PgbConfig::default_for(2, 44, port, "session").unwrap();
    config.set("pgbouncer", "listen_addr", "127.0.0.1");
    config.set_auth("pgbouncer_auth_relation_id_3");
    config.add_database(
        "appdb",
        &[("host", "127.0.0.1"), ("port", "5432"), ("dbname", "appdb")],
    );
    config.validate().unwrap();
    let rendered = PgbConfig::parse(&config.render_instance(0))
        .unwrap()
        .with_base_dirs(&lib.display().to_string(), &log.display().to_string())
        .render();
    assert!(rendered.contains(&format!("unix_socket_dir = {}/instance_0", lib.display())));
    let instance = lib.join("instance_0/pgbouncer.ini");
    std::fs::write(&instance, rendered).unwrap();
    let mut auth = AuthFile::default();
    auth.set_user("pgbouncer_auth_relation_id_3", "a-password");
    std::fs::write(lib.join("userlist.txt"), auth.render()).unwrap();

    for path in [
        dir.path(),
        &lib,
        &lib.join("instance_0"),
        &log,
        &log.join("instance_0"),
    ] {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o777)).unwrap();
    }
    std::fs::set_permissions(
        lib.join("userlist.txt"),
        std::fs::Permissions::from_mode(0o644),
    )
    .unwrap();

    let child = Killed(run_as_postgres(&program, &instance));
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut listening = false;
    while Instant::now() < deadline {
        if TcpStream::connect(("127.0.0.1", port)).is_ok() {
            listening = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let log_text =
        std::fs::read_to_string(log.join("instance_0/pgbouncer.log")).unwrap_or_default();
    drop(child);
    assert!(
        listening,
        "pgbouncer did not listen on {port}; its log:\n{log_text}"
    );
    let complaints: Vec<&str> = log_text
        .lines()
        .filter(|l| l.contains("ERROR") || l.contains("FATAL"))
        .collect();
    assert!(
        complaints.is_empty(),
        "pgbouncer complained about the config: {complaints:#?}"
    );
}
