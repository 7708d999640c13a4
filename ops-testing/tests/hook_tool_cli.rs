//! The fake hook tools as real processes, called the way ops-rs and Python
//! ops call Juju's.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use ops::CharmMeta;
use ops_testing::fake_juju::cli::{STATE_VAR, create_state, load_state};
use ops_testing::fake_juju::{FakeJuju, install_hook_tools};

struct Env {
    _dir: tempfile::TempDir,
    tools: PathBuf,
    state: PathBuf,
    peers: u32,
    db: u32,
}

fn env() -> Env {
    let dir = tempfile::tempdir().unwrap();
    let tools = dir.path().join("tools");
    install_hook_tools(Path::new(env!("CARGO_BIN_EXE_juju-hook-tool")), &tools).unwrap();
    let meta = CharmMeta::from_charmcraft_yaml(
        "name: app\npeers: {peers: {interface: p}}\nrequires: {db: {interface: pgsql}}\nconfig: {options: {port: {type: int, default: 6432}}}\n",
    )
    .unwrap();
    let pg =
        CharmMeta::from_charmcraft_yaml("name: pg\nprovides: {database: {interface: pgsql}}\n")
            .unwrap();
    let mut juju = FakeJuju::new("m");
    juju.deploy("app", &meta, 2);
    juju.deploy("pg", &pg, 1);
    juju.set_leader("app", Some("app/0"));
    let peers = juju.add_relation("app", "peers", "app", "peers");
    let db = juju.add_relation("app", "db", "pg", "database");
    for u in ["app/0", "app/1"] {
        juju.join_unit(peers, u);
        juju.join_unit(db, u);
    }
    juju.join_unit(db, "pg/0");
    juju.set_bag(
        db,
        "pg",
        [("endpoints".to_string(), "pg:5432".to_string())].into(),
    );
    let state = dir.path().join("model.json");
    create_state(&state, &juju).unwrap();
    Env {
        _dir: dir,
        tools,
        state,
        peers,
        db,
    }
}

struct Run {
    status: i32,
    stdout: String,
    stderr: String,
}

fn run(
    env: &Env,
    unit: &str,
    tool: &str,
    args: &[&str],
    stdin: &str,
    extra: &[(&str, &str)],
) -> Run {
    let mut child = Command::new(env.tools.join(tool))
        .args(args)
        .env(STATE_VAR, &env.state)
        .env("JUJU_UNIT_NAME", unit)
        .envs(extra.iter().copied())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    Run {
        status: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

#[test]
fn ops_rs_argv_forms() {
    let e = env();
    let db = format!("db:{}", e.db);
    let r = run(
        &e,
        "app/0",
        "relation-ids",
        &["db", "--format=json"],
        "",
        &[],
    );
    assert_eq!(
        (r.status, r.stdout.trim()),
        (0, format!("[\"{db}\"]").as_str())
    );
    let r = run(
        &e,
        "app/0",
        "relation-list",
        &["--format=json", "-r", &db],
        "",
        &[],
    );
    assert_eq!(r.stdout.trim(), "[\"pg/0\"]");
    let r = run(
        &e,
        "app/0",
        "relation-list",
        &["--format=json", "-r", &db, "--app"],
        "",
        &[],
    );
    assert_eq!(r.stdout.trim(), "\"pg\"");
    let r = run(
        &e,
        "app/0",
        "relation-get",
        &["--format=json", "-r", &db, "--app", "-", "pg"],
        "",
        &[],
    );
    assert_eq!(r.stdout.trim(), r#"{"endpoints":"pg:5432"}"#);
    let r = run(&e, "app/0", "is-leader", &["--format=json"], "", &[]);
    assert_eq!(r.stdout.trim(), "true");
    let r = run(&e, "app/0", "config-get", &["--format=json"], "", &[]);
    assert_eq!(r.stdout.trim(), r#"{"port":6432}"#);
    let r = run(
        &e,
        "app/0",
        "status-set",
        &["--application=False", "active", "--", "all good"],
        "",
        &[],
    );
    assert_eq!(r.status, 0, "{}", r.stderr);
    let r = run(
        &e,
        "app/0",
        "status-get",
        &["--include-data", "--format=json", "--application=false"],
        "",
        &[],
    );
    assert_eq!(
        r.stdout.trim(),
        r#"{"message":"all good","status":"active","status-data":{}}"#
    );
    let r = run(
        &e,
        "app/0",
        "juju-log",
        &["--log-level", "WARNING", "--", "-careful-"],
        "",
        &[],
    );
    assert_eq!(r.status, 0);
    assert_eq!(
        load_state(&e.state).unwrap().logs_of("app/0")[0].message,
        "-careful-"
    );
}

#[test]
fn relation_set_is_pending_until_the_hook_commits() {
    let e = env();
    let peers = format!("peers:{}", e.peers);
    let r = run(
        &e,
        "app/0",
        "relation-set",
        &["-r", &peers, "--app", "--file", "-"],
        r#"{"cfg_file": "x", "gone": ""}"#,
        &[],
    );
    assert_eq!(r.status, 0, "{}", r.stderr);
    let r = run(
        &e,
        "app/0",
        "relation-get",
        &["--format=json", "-r", &peers, "--app", "-", "app"],
        "",
        &[],
    );
    assert_eq!(
        r.stdout.trim(),
        r#"{"cfg_file":"x"}"#,
        "the writer sees its own write"
    );
    let r = run(
        &e,
        "app/1",
        "relation-get",
        &["--format=json", "-r", &peers, "--app", "-", "app"],
        "",
        &[],
    );
    assert_eq!(r.stdout.trim(), "{}", "others do not, until the hook ends");
    let mut juju = load_state(&e.state).unwrap();
    let changes = juju.end_hook("app/0", true);
    assert_eq!(changes.changed_bags, vec![(e.peers, "app".to_string())]);
}

#[test]
fn python_ops_argv_forms() {
    let e = env();
    let id = e.peers.to_string();
    let r = run(
        &e,
        "app/0",
        "relation-set",
        &["-r", &id, "--app", "--file", "-"],
        "leader_hostname: h0\n",
        &[],
    );
    assert_eq!(r.status, 0, "{}", r.stderr);
    let r = run(
        &e,
        "app/0",
        "relation-get",
        &["-r", &id, "-", "app", "--app", "--format=json"],
        "",
        &[],
    );
    assert_eq!(r.stdout.trim(), r#"{"leader_hostname":"h0"}"#);
    let r = run(
        &e,
        "app/0",
        "status-set",
        &["--application=True", "maintenance", "busy"],
        "",
        &[],
    );
    assert_eq!(r.status, 0, "{}", r.stderr);
    let r = run(
        &e,
        "app/0",
        "status-get",
        &["--include-data", "--application=True", "--format=json"],
        "",
        &[],
    );
    let v: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(v["application-status"]["status"], "maintenance");
    let r = run(&e, "app/0", "state-set", &["--file", "-"], "a: '1'\n", &[]);
    assert_eq!(r.status, 0, "{}", r.stderr);
    let r = run(&e, "app/0", "state-get", &["--format=json", "a"], "", &[]);
    assert_eq!(r.stdout.trim(), "\"1\"");
    let r = run(
        &e,
        "app/0",
        "relation-get",
        &["--format=json", "-", "app/1"],
        "",
        &[("JUJU_RELATION_ID", &format!("peers:{id}"))],
    );
    assert_eq!((r.status, r.stdout.trim()), (0, "{}"), "{}", r.stderr);
    let r = run(&e, "app/0", "is-leader", &[], "", &[]);
    assert_eq!(r.stdout.trim(), "True");
}

#[test]
fn juju_errors_and_exit_codes() {
    let e = env();
    let peers = format!("peers:{}", e.peers);
    let r = run(
        &e,
        "app/1",
        "relation-set",
        &["-r", &peers, "--app", "--file", "-"],
        "{\"k\": \"v\"}",
        &[],
    );
    assert_eq!(
        (r.status, r.stderr.trim()),
        (1, "ERROR cannot write relation settings")
    );
    let r = run(
        &e,
        "app/0",
        "relation-get",
        &["--format=json", "-r", "db:9", "-", "pg/0"],
        "",
        &[],
    );
    assert_eq!(r.status, 2);
    assert_eq!(
        r.stderr.trim(),
        r#"ERROR invalid value "db:9" for option -r: relation not found"#
    );
    let db = format!("db:{}", e.db);
    let r = run(
        &e,
        "app/1",
        "relation-get",
        &["--format=json", "-r", &db, "--app", "-", "app"],
        "",
        &[],
    );
    assert_eq!((r.status, r.stderr.trim()), (1, "ERROR permission denied"));
    let r = run(
        &e,
        "app/1",
        "status-set",
        &["--application=True", "active", "--", "x"],
        "",
        &[],
    );
    assert_eq!(
        (r.status, r.stderr.trim()),
        (1, "ERROR this unit is not the leader")
    );
    let r = run(
        &e,
        "app/0",
        "secret-get",
        &["--format=json", "secret:nope"],
        "",
        &[],
    );
    assert_eq!((r.status, r.stderr.trim()), (1, "ERROR secret not found"));
    let r = run(&e, "app/0", "status-set", &["sleepy"], "", &[]);
    assert_eq!(r.status, 2);
    let r = Command::new(e.tools.join("is-leader"))
        .env_remove(STATE_VAR)
        .output()
        .unwrap();
    assert_eq!(r.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&r.stderr).contains(STATE_VAR));
}

#[test]
fn secrets_by_file_never_in_argv() {
    let e = env();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("pw");
    std::fs::write(&file, "s3cret").unwrap();
    let arg = format!("password#file={}", file.display());
    let r = run(
        &e,
        "app/0",
        "secret-add",
        &["--label", "db", "--owner", "application", &arg],
        "",
        &[],
    );
    assert_eq!(r.status, 0, "{}", r.stderr);
    let id = r.stdout.trim().to_string();
    let r = run(&e, "app/0", "secret-get", &["--format=json", &id], "", &[]);
    assert_eq!(r.stdout.trim(), r#"{"password":"s3cret"}"#);
    let r = run(
        &e,
        "app/0",
        "secret-get",
        &["--format=json", "--label", "db"],
        "",
        &[],
    );
    assert_eq!(r.stdout.trim(), r#"{"password":"s3cret"}"#);
}

#[test]
fn concurrent_writers_lose_no_update() {
    let e = env();
    let children: Vec<_> = (0..8)
        .map(|i| {
            let mut child = Command::new(e.tools.join("state-set"))
                .args(["--file", "-"])
                .env(STATE_VAR, &e.state)
                .env("JUJU_UNIT_NAME", "app/0")
                .stdin(Stdio::piped())
                .spawn()
                .unwrap();
            child
                .stdin
                .take()
                .unwrap()
                .write_all(format!("{{\"k{i}\": \"v\"}}").as_bytes())
                .unwrap();
            child
        })
        .collect();
    for mut child in children {
        assert!(child.wait().unwrap().success());
    }
    let juju = load_state(&e.state).unwrap();
    assert_eq!(juju.pending["app/0"].state.len(), 8);
}
