//! The fake hook tools as real processes, called the way ops-rs and Python
//! ops call Juju's, answering and failing as Juju's do.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use ops::CharmMeta;
use ops_testing::fake_juju::cli::{STATE_VAR, TOOLS, create_state, load_state, with_state};
use ops_testing::fake_juju::{FakeJuju, install_hook_tools};
use serde_json::{Value, json};

struct Env {
    dir: tempfile::TempDir,
    tools: PathBuf,
    state: PathBuf,
    peers: u32,
    db: u32,
}

/// app (app/0 leads, app/1) with peers and a db relation to pg (pg/0).
fn env() -> Env {
    let dir = tempfile::tempdir().unwrap();
    let tools = dir.path().join("tools");
    install_hook_tools(Path::new(env!("CARGO_BIN_EXE_juju-hook-tool")), &tools).unwrap();
    let meta = CharmMeta::from_charmcraft_yaml(
        "name: app\npeers: {peers: {interface: p}}\nrequires: {db: {interface: pgsql}}\n\
         config: {options: {port: {type: int, default: 6432}, mode: {type: string, default: rw}, \
         name: {type: string}}}\n",
    )
    .unwrap();
    let pg =
        CharmMeta::from_charmcraft_yaml("name: pg\nprovides: {database: {interface: pgsql}}\n")
            .unwrap();
    let mut juju = FakeJuju::new("m");
    juju.deploy("app", &meta, 2);
    juju.deploy("pg", &pg, 1);
    juju.set_leader("app", Some("app/0"));
    juju.set_leader("pg", Some("pg/0"));
    let peers = juju.add_relation("app", "peers", "app", "peers");
    let db = juju.add_relation("app", "db", "pg", "database");
    for u in ["app/0", "app/1"] {
        juju.join_unit(peers, u);
        juju.join_unit(db, u);
    }
    juju.join_unit(db, "pg/0");
    juju.attach_storage("app/0", "data/0", "filesystem", "/srv/data/0");
    juju.attach_storage("app/1", "data/1", "filesystem", "/srv/data/1");
    juju.set_bag(
        db,
        "pg",
        [("endpoints".to_string(), "pg:5432".to_string())].into(),
    );
    juju.set_bag(
        db,
        "pg/0",
        [("ingress-address".to_string(), "127.0.2.9".to_string())].into(),
    );
    let state = dir.path().join("model.json");
    create_state(&state, &juju).unwrap();
    Env {
        dir,
        tools,
        state,
        peers,
        db,
    }
}

#[derive(Debug)]
struct Run {
    status: i32,
    stdout: String,
    stderr: String,
}

impl Run {
    fn ok(&self) -> &str {
        assert_eq!(self.status, 0, "{self:?}");
        &self.stdout
    }

    fn json(&self) -> Value {
        serde_json::from_str(self.ok()).unwrap_or_else(|e| panic!("{e}: {self:?}"))
    }

    fn err(&self) -> (i32, &str) {
        (self.status, self.stderr.trim_end())
    }
}

impl Env {
    fn command(&self, unit: &str, tool: &str, args: &[&str], vars: &[(&str, &str)]) -> Command {
        let mut command = Command::new(self.tools.join(tool));
        command
            .args(args)
            .env_clear()
            .env(STATE_VAR, &self.state)
            .env("JUJU_UNIT_NAME", unit)
            .envs(vars.iter().copied())
            .current_dir(self.dir.path())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        command
    }

    fn run_in(
        &self,
        unit: &str,
        tool: &str,
        args: &[&str],
        stdin: &str,
        vars: &[(&str, &str)],
    ) -> Run {
        let mut child = self.command(unit, tool, args, vars).spawn().unwrap();
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

    fn run(&self, unit: &str, tool: &str, args: &[&str]) -> Run {
        self.run_in(unit, tool, args, "", &[])
    }

    fn juju(&self) -> FakeJuju {
        load_state(&self.state).unwrap()
    }

    fn end_hook(&self, unit: &str) {
        with_state(&self.state, |j| j.end_hook(unit, true)).unwrap();
    }
}

#[test]
fn every_tool_name_is_installed_and_reinstalling_is_harmless() {
    let e = env();
    install_hook_tools(Path::new(env!("CARGO_BIN_EXE_juju-hook-tool")), &e.tools).unwrap();
    for tool in TOOLS {
        assert!(e.tools.join(tool).exists(), "{tool}");
    }
    let r = e.run("app/0", "relation-ids", &["--help"]);
    assert!(r.ok().starts_with("Usage: relation-ids"));
}

/// Every row of DESIGN.md's hook-tool table, as ops-rs' `HookTools` calls it.
#[test]
fn ops_rs_argv_forms() {
    let e = env();
    let (db, peers) = (format!("db:{}", e.db), format!("peers:{}", e.peers));
    let r = e.run("app/0", "relation-ids", &["db", "--format=json"]);
    assert_eq!(r.json(), json!([db]));
    let r = e.run("app/0", "relation-list", &["--format=json", "-r", &db]);
    assert_eq!(r.json(), json!(["pg/0"]));
    let r = e.run(
        "app/0",
        "relation-list",
        &["--format=json", "-r", &db, "--app"],
    );
    assert_eq!(r.json(), json!("pg"));
    let r = e.run(
        "app/0",
        "relation-get",
        &["--format=json", "-r", &db, "--app", "-", "pg"],
    );
    assert_eq!(r.json(), json!({"endpoints": "pg:5432"}));
    let r = e.run(
        "app/0",
        "relation-get",
        &["--format=json", "-r", &db, "-", "pg/0"],
    );
    assert_eq!(r.json(), json!({"ingress-address": "127.0.2.9"}));
    let r = e.run_in(
        "app/0",
        "relation-set",
        &["-r", &peers, "--app", "--file", "-"],
        r#"{"a": "1", "b": ""}"#,
        &[],
    );
    r.ok();
    let r = e.run("app/0", "is-leader", &["--format=json"]);
    assert_eq!(r.json(), json!(true));
    let r = e.run("app/0", "config-get", &["--format=json"]);
    assert_eq!(r.json(), json!({"mode": "rw", "port": 6432}));
    e.run(
        "app/0",
        "status-set",
        &["--application=False", "active", "--", "-all good-"],
    )
    .ok();
    e.run(
        "app/0",
        "status-set",
        &["--application=True", "blocked", "--", "need db"],
    )
    .ok();
    let r = e.run(
        "app/0",
        "status-get",
        &["--include-data", "--format=json", "--application=false"],
    );
    assert_eq!(
        r.json(),
        json!({"message": "-all good-", "status": "active", "status-data": {}})
    );
    let r = e.run(
        "app/0",
        "status-get",
        &["--include-data", "--format=json", "--application=true"],
    );
    assert_eq!(
        r.json(),
        json!({"application-status": {
            "message": "need db", "status": "blocked", "status-data": {},
            "units": {
                "app/0": {"message": "-all good-", "status": "active", "status-data": {}},
                "app/1": {"message": "", "status": "unknown", "status-data": {}},
            },
        }})
    );
    e.run(
        "app/0",
        "juju-log",
        &["--log-level", "WARNING", "--", "-careful-"],
    )
    .ok();
    e.run_in(
        "app/0",
        "state-set",
        &["--file", "-"],
        r#"{"k": "v", "gone": "x"}"#,
        &[],
    )
    .ok();
    e.run("app/0", "state-delete", &["gone"]).ok();
    let r = e.run("app/0", "state-get", &["--format=json"]);
    assert_eq!(r.json(), json!({"k": "v"}));
    e.run("app/0", "application-version-set", &["--", "-1.21-"])
        .ok();
    e.run("app/0", "open-port", &["6432/tcp"]).ok();
    let r = e.run("app/0", "network-get", &["--format=json", "db"]);
    assert_eq!(r.json()["ingress-addresses"], json!(["127.0.2.2"]));
    let r = e.run("app/0", "goal-state", &["--format=json"]);
    assert_eq!(r.json()["units"]["app/1"]["status"], "waiting");
    with_state(&e.state, |j| j.set_resource("app", "image", "/res/image")).unwrap();
    assert_eq!(
        e.run("app/0", "resource-get", &["image"]).ok(),
        "/res/image"
    );

    e.end_hook("app/0");
    let juju = e.juju();
    assert_eq!(
        juju.bag(e.peers, "app"),
        [("a".to_string(), "1".to_string())].into()
    );
    assert_eq!(
        juju.units["app/0"].state,
        [("k".to_string(), "v".to_string())].into()
    );
    assert_eq!(juju.logs_of("app/0")[0].message, "-careful-");
    assert_eq!(juju.logs_of("app/0")[0].level, "WARNING");
    assert_eq!(juju.apps["app"].workload_version, "-1.21-");
    assert_eq!(juju.opened_ports("app/0")[0].to_string(), "6432/tcp");
    let r = e.run("app/0", "opened-ports", &["--format=json"]);
    assert_eq!(r.json(), json!(["6432/tcp"]));
}

#[test]
fn ops_rs_secret_and_action_forms() {
    let e = env();
    let file = e.dir.path().join("pw");
    std::fs::write(&file, "s3cret").unwrap();
    let content = format!("password#file={}", file.display());
    let r = e.run(
        "app/0",
        "secret-add",
        &[
            "--label",
            "db",
            "--description",
            "D",
            "--owner",
            "application",
            &content,
        ],
    );
    let id = r.ok().trim().to_string();
    assert!(id.starts_with("secret:") && id.len() == 27, "{id}");
    let r = e.run("app/0", "secret-get", &["--format=json", &id]);
    assert_eq!(r.json(), json!({"password": "s3cret"}));
    let r = e.run(
        "app/0",
        "secret-get",
        &["--format=json", "--label", "db", "--peek"],
    );
    assert_eq!(r.json(), json!({"password": "s3cret"}));
    let r = e.run("app/0", "secret-info-get", &["--format=json", &id]);
    let xid = id.trim_start_matches("secret:");
    assert_eq!(
        r.json(),
        json!({xid: {"revision": 1, "label": "db", "owner": "application", "description": "D"}})
    );
    std::fs::write(&file, "n3w").unwrap();
    e.run("app/0", "secret-set", &[&id, "--rotate", "daily", &content])
        .ok();
    let db = e.db.to_string();
    e.run(
        "app/0",
        "secret-grant",
        &["--relation", &db, "--unit", "pg/0", &id],
    )
    .ok();
    let r = e.run(
        "pg/0",
        "secret-get",
        &["--format=json", &id, "--label", "pg-creds", "--refresh"],
    );
    assert_eq!(r.json(), json!({"password": "n3w"}));
    let r = e.run("pg/0", "secret-get", &[&id, "password"]);
    assert_eq!(r.ok(), "n3w\n", "one key, YAML by default");
    let r = e.run("pg/0", "secret-get", &["--label", "pg-creds", "password"]);
    assert_eq!(r.err(), (2, "ERROR secret URI \"password\" not valid"));
    let r = e.run(
        "app/0",
        "secret-info-get",
        &["--format=json", "--label", "db"],
    );
    let info = &r.json()[xid];
    assert_eq!(
        (info["revision"].clone(), info["rotation"].clone()),
        (json!(2), json!("daily"))
    );
    assert_eq!(info["access"][0]["target"], "unit-pg-0");
    e.run("app/0", "secret-remove", &[&id, "--revision", "1"])
        .ok();
    e.run("app/0", "secret-remove", &[&id]).ok();
    let r = e.run("app/0", "secret-get", &["--format=json", &id]);
    assert_eq!(
        r.err(),
        (1, format!("ERROR secret \"{xid}\" not found").as_str())
    );

    with_state(&e.state, |j| {
        j.start_action(
            "app/1",
            "backup",
            [("to".to_string(), json!("s3"))].into_iter().collect(),
        )
    })
    .unwrap();
    let action = [("JUJU_ACTION_NAME", "backup")];
    // Another hook of the unit ends first: the action's hook still has it.
    assert_eq!(
        e.run("app/1", "action-get", &[]).err(),
        (1, "ERROR not running an action")
    );
    e.end_hook("app/1");
    let r = e.run_in("app/1", "action-get", &["--format=json"], "", &action);
    assert_eq!(r.json(), json!({"to": "s3"}));
    assert_eq!(
        e.run_in("app/1", "action-get", &["to"], "", &action).ok(),
        "s3\n"
    );
    e.run_in("app/1", "action-set", &["a.b=1", "size=10G"], "", &action)
        .ok();
    e.run_in("app/1", "action-log", &["--", "step -1-"], "", &action)
        .ok();
    e.run_in("app/1", "action-fail", &["--", "-bad-"], "", &action)
        .ok();
    e.end_hook("app/1");
    let juju = e.juju();
    let action = juju.action("app/1").unwrap();
    assert_eq!(action.results["a.b"], "1");
    assert_eq!(action.log, ["step -1-"]);
    assert_eq!(action.failure.as_deref(), Some("-bad-"));
    let r = e.run("app/1", "action-get", &[]);
    assert_eq!(r.err(), (1, "ERROR not running an action"));
}

/// The forms Python ops sends: flags after positionals, `-r <id>` without
/// the endpoint name, YAML on stdin, `--application=True`, `--format=json`
/// last, smart output where it reads plain text.
#[test]
fn python_ops_argv_forms() {
    let e = env();
    let (id, db) = (e.peers.to_string(), e.db.to_string());
    let r = e.run_in(
        "app/0",
        "relation-set",
        &["-r", &id, "--app", "--file", "-"],
        "leader_hostname: h0\nport: '6432'\n",
        &[],
    );
    r.ok();
    let r = e.run(
        "app/0",
        "relation-get",
        &["-r", &id, "-", "app", "--app", "--format=json"],
    );
    assert_eq!(r.json(), json!({"leader_hostname": "h0", "port": "6432"}));
    let r = e.run(
        "app/0",
        "relation-get",
        &[
            "--format=json",
            "-r",
            &format!("db:{db}"),
            "--app",
            "-",
            "pg",
        ],
    );
    assert_eq!(r.json(), json!({"endpoints": "pg:5432"}));
    let r = e.run("app/0", "relation-list", &["-r", &db, "--format=json"]);
    assert_eq!(r.json(), json!(["pg/0"]));
    let r = e.run(
        "app/0",
        "relation-list",
        &["--format=json", "--app", "-r", &db],
    );
    assert_eq!(r.json(), json!("pg"));
    let r = e.run("app/0", "relation-ids", &["peers", "--format=json"]);
    assert_eq!(r.json(), json!([format!("peers:{id}")]));
    let r = e.run("app/0", "relation-model-get", &["--format=json", "-r", &db]);
    assert_eq!(
        r.json(),
        json!({"uuid": "00000000-0000-4000-8000-000000000000"})
    );
    e.run(
        "app/0",
        "status-set",
        &["--application=True", "maintenance", "busy"],
    )
    .ok();
    e.run(
        "app/1",
        "status-set",
        &["--application=False", "active", ""],
    )
    .ok();
    let r = e.run(
        "app/0",
        "status-get",
        &["--include-data", "--application=True", "--format=json"],
    );
    assert_eq!(r.json()["application-status"]["status"], "maintenance");
    assert_eq!(
        r.json()["application-status"]["units"]["app/1"]["status"],
        "active"
    );
    // Python ops' Juju storage backend: YAML in, plain text out.
    let r = e.run_in(
        "app/0",
        "state-set",
        &["--file", "-"],
        "\"StoredStateData\": |-\n  {a: 1}\n",
        &[],
    );
    r.ok();
    assert_eq!(
        e.run("app/0", "state-get", &["StoredStateData"]).ok(),
        "{a: 1}\n"
    );
    assert_eq!(e.run("app/0", "state-get", &["missing"]).ok(), "");
    let r = e.run("app/0", "state-get", &["--format=json", "missing"]);
    assert_eq!(r.json(), json!(""));
    assert_eq!(
        e.run("app/0", "state-get", &["--strict", "missing"]).err(),
        (1, "ERROR \"missing\" not found")
    );
    e.run(
        "app/0",
        "juju-log",
        &["--log-level", "CRITICAL", "--", "boom"],
    )
    .ok();
    e.run("app/0", "juju-log", &["-l", "WARN", "two", "words"])
        .ok();
    let r = e.run("app/0", "network-get", &["db", "-r", &db, "--format=json"]);
    assert_eq!(r.json()["bind-addresses"][0]["interface-name"], "eth0");
    let r = e.run("app/0", "goal-state", &["--format=json"]);
    assert_eq!(r.json()["relations"]["db"]["pg/0"]["status"], "joined");
    e.run(
        "app/0",
        "open-port",
        &["--endpoints", "db", "8080-8081/udp"],
    )
    .ok();
    e.run("app/0", "open-port", &["icmp"]).ok();
    e.end_hook("app/0");
    let r = e.run("app/0", "opened-ports", &["--format=json"]);
    assert_eq!(r.json(), json!(["icmp", "8080-8081/udp"]));
    assert_eq!(
        e.run("app/0", "opened-ports", &["--endpoints"]).ok(),
        "icmp (*)\n8080-8081/udp (*)\n"
    );
    // secret-grant and secret-revoke with the id first, flags after.
    let r = e.run("app/0", "secret-add", &["--owner", "unit", "token=abc"]);
    let secret = r.ok().trim().to_string();
    e.run(
        "app/0",
        "secret-grant",
        &[&secret, "--relation", &db, "--unit", "pg/0"],
    )
    .ok();
    let r = e.run("pg/0", "secret-get", &[&secret, "--format=json"]);
    assert_eq!(r.json(), json!({"token": "abc"}));
    e.run("app/0", "secret-revoke", &[&secret, "--relation", &db])
        .ok();
    assert_eq!(
        e.run("pg/0", "secret-get", &[&secret]).err(),
        (1, "ERROR permission denied")
    );
    let r = e.run("app/0", "secret-ids", &["--format=json"]);
    assert_eq!(r.json(), json!([secret.trim_start_matches("secret:")]));

    let juju = e.juju();
    assert_eq!(juju.units["app/0"].state["StoredStateData"], "{a: 1}");
    let logs: Vec<(&str, &str)> = juju
        .logs_of("app/0")
        .iter()
        .map(|l| (l.level.as_str(), l.message.as_str()))
        .collect();
    assert_eq!(logs, [("CRITICAL", "boom"), ("WARNING", "two words")]);
}

/// What Juju prints without `--format`, where charms read plain text.
#[test]
fn plain_output_as_juju_prints_it() {
    let e = env();
    let db = format!("db:{}", e.db);
    assert_eq!(e.run("app/0", "is-leader", &[]).ok(), "True\n");
    assert_eq!(e.run("app/1", "is-leader", &[]).ok(), "False\n");
    assert_eq!(e.run("app/0", "config-get", &["port"]).ok(), "6432\n");
    assert_eq!(e.run("app/0", "config-get", &["mode"]).ok(), "rw\n");
    assert_eq!(e.run("app/0", "config-get", &["name"]).ok(), "");
    assert_eq!(
        e.run("app/0", "config-get", &["name", "--format=json"])
            .ok(),
        "null\n"
    );
    assert_eq!(
        e.run("app/0", "config-get", &[]).ok(),
        "mode: rw\nport: 6432\n"
    );
    let r = e.run("app/0", "config-get", &["--all", "--format", "json"]);
    assert_eq!(r.json(), json!({"mode": "rw", "name": null, "port": 6432}));
    assert_eq!(
        e.run(
            "app/0",
            "relation-get",
            &["-r", &db, "ingress-address", "pg/0"]
        )
        .ok(),
        "127.0.2.9\n"
    );
    assert_eq!(
        e.run("app/0", "relation-get", &["-r", &db, "nope", "pg/0"])
            .ok(),
        ""
    );
    assert_eq!(
        e.run("app/0", "relation-ids", &["db"]).ok(),
        format!("{db}\n")
    );
    assert_eq!(e.run("app/0", "relation-ids", &["nope"]).ok(), "");
    assert_eq!(e.run("app/0", "relation-list", &["-r", &db]).ok(), "pg/0\n");
    assert_eq!(e.run("app/0", "status-get", &[]).ok(), "unknown\n");
    assert_eq!(
        e.run("app/0", "status-get", &["--include-data"]).ok(),
        "message: ''\nstatus: unknown\nstatus-data: {}\n"
    );
    assert_eq!(
        e.run(
            "app/0",
            "relation-get",
            &["-r", &db, "-", "pg/0", "--format", "yaml"]
        )
        .ok(),
        "ingress-address: 127.0.2.9\n"
    );
    // -o writes the answer to a file.
    e.run("app/0", "relation-list", &["-r", &db, "-o", "out.txt"])
        .ok();
    assert_eq!(
        std::fs::read_to_string(e.dir.path().join("out.txt")).unwrap(),
        "pg/0\n"
    );
}

/// In a relation hook, `-r` and the member default to the hook's own.
#[test]
fn the_hook_environment_gives_the_defaults() {
    let e = env();
    let rel = format!("db:{}", e.db);
    let vars = [
        ("JUJU_RELATION_ID", rel.as_str()),
        ("JUJU_REMOTE_UNIT", "pg/0"),
        ("JUJU_REMOTE_APP", "pg"),
    ];
    let r = e.run_in("app/1", "relation-get", &["--format=json"], "", &vars);
    assert_eq!(r.json(), json!({"ingress-address": "127.0.2.9"}));
    let r = e.run_in("app/1", "relation-get", &["--app", "endpoints"], "", &vars);
    assert_eq!(r.ok(), "pg:5432\n");
    let r = e.run_in("app/1", "relation-ids", &[], "", &vars);
    assert_eq!(r.ok(), format!("{rel}\n"));
    // Without a remote unit (relation-created), the remote application's bag.
    let r = e.run_in(
        "app/1",
        "relation-get",
        &["--format=json"],
        "",
        &[vars[0], vars[2]],
    );
    assert_eq!(r.json(), json!({"endpoints": "pg:5432"}));
    let r = e.run_in("app/1", "relation-set", &["k=v"], "", &vars);
    r.ok();
    let departing = [vars[0], ("JUJU_DEPARTING_UNIT", "app/1")];
    let r = e.run_in("pg/0", "relation-list", &[], "", &departing);
    assert_eq!(r.ok(), "app/0\n");
    e.end_hook("app/1");
    assert_eq!(e.juju().bag(e.db, "app/1")["k"], "v");
    let r = e.run("app/1", "relation-get", &["--format=json"]);
    assert_eq!(r.err(), (2, "ERROR no relation id specified"));
}

#[test]
fn relation_writes_are_pending_until_the_hook_commits() {
    let e = env();
    let peers = format!("peers:{}", e.peers);
    e.run_in(
        "app/0",
        "relation-set",
        &["-r", &peers, "--app", "--file", "-"],
        r#"{"cfg": "x"}"#,
        &[],
    )
    .ok();
    e.run(
        "app/0",
        "relation-set",
        &["-r", &peers, "mine=1", "--file=-"],
    )
    .ok();
    let read = |unit: &str, args: &[&str]| e.run(unit, "relation-get", args).json();
    assert_eq!(
        read(
            "app/0",
            &["--format=json", "-r", &peers, "--app", "-", "app"]
        ),
        json!({"cfg": "x"})
    );
    assert_eq!(
        read("app/0", &["--format=json", "-r", &peers, "-", "app/0"]),
        json!({"mine": "1"})
    );
    assert_eq!(
        read(
            "app/1",
            &["--format=json", "-r", &peers, "--app", "-", "app"]
        ),
        json!({})
    );
    assert_eq!(
        read("app/1", &["--format=json", "-r", &peers, "-", "app/0"]),
        json!({})
    );
    let changes = with_state(&e.state, |j| j.end_hook("app/0", true)).unwrap();
    assert_eq!(
        changes.changed_bags,
        [(e.peers, "app".to_string()), (e.peers, "app/0".to_string())]
    );
    assert_eq!(
        read(
            "app/1",
            &["--format=json", "-r", &peers, "--app", "-", "app"]
        ),
        json!({"cfg": "x"})
    );
}

#[test]
fn juju_errors_and_exit_codes() {
    let e = env();
    let (peers, db) = (format!("peers:{}", e.peers), format!("db:{}", e.db));
    let cases: Vec<(&str, &str, Vec<&str>, i32, String)> = vec![
        ("app/1", "relation-set", vec!["-r", &peers, "--app", "k=v"], 1, "cannot write relation settings".into()),
        ("app/0", "relation-get", vec!["--format=json", "-r", "db:9", "-", "pg/0"], 2, "invalid value \"db:9\" for option -r: relation not found".into()),
        ("app/0", "relation-list", vec!["-r", "x"], 2, "invalid value \"x\" for option -r: invalid relation id".into()),
        ("app/0", "relation-get", vec!["--relation=9", "-", "pg/0"], 2, "invalid value \"9\" for option --relation: relation not found".into()),
        ("pg/0", "relation-list", vec!["-r", &peers], 2, format!("invalid value \"{peers}\" for option -r: relation not found")),
        ("app/1", "relation-get", vec!["-r", &db, "--app", "-", "app"], 1, "permission denied".into()),
        ("app/0", "relation-get", vec!["-r", &db, "-", "pg"], 2, "expected unit name, got application name \"pg\"".into()),
        ("app/0", "relation-get", vec!["-r", &db, "-", "pg/3"], 1, "cannot read settings for unit \"pg/3\" in relation \"app:db pg:database\": unit \"pg/3\": settings not found".into()),
        ("app/0", "relation-get", vec!["-r", &db, "-", "pg/0", "extra"], 2, "unrecognized args: [\"extra\"]".into()),
        ("app/1", "status-set", vec!["--application=True", "active", "--", "x"], 1, "this unit is not the leader".into()),
        ("app/1", "status-get", vec!["--application"], 1, "finding application status: this unit is not the leader".into()),
        ("app/0", "status-set", vec!["sleepy"], 2, "invalid status \"sleepy\", expected one of [maintenance blocked waiting active]".into()),
        ("app/0", "status-set", vec![], 2, "invalid args, require <status> [message]".into()),
        ("app/0", "status-set", vec!["--application=yes", "active"], 2, "invalid value \"yes\" for option --application: strconv.ParseBool: parsing \"yes\": invalid syntax".into()),
        ("app/0", "is-leader", vec!["--format=xml"], 2, "invalid value \"xml\" for option --format: unknown format \"xml\"".into()),
        ("app/0", "is-leader", vec!["--nope"], 2, "option provided but not defined: --nope".into()),
        ("app/0", "relation-list", vec!["-r"], 2, "option needs an argument: -r".into()),
        ("app/1", "secret-add", vec!["password=x"], 1, "this unit is not the leader".into()),
        ("app/0", "secret-add", vec!["pw=x"], 2, "key \"pw\" not valid".into()),
        ("app/0", "secret-add", vec![], 2, "missing secret value or filename".into()),
        ("app/0", "secret-get", vec!["secret:d1e2c3b4a5f6g7h8i9j0", "--format=json"], 1, "secret \"d1e2c3b4a5f6g7h8i9j0\" not found".into()),
        ("app/0", "secret-get", vec!["--label", "nope"], 1, "secret with label \"nope\" not found".into()),
        ("app/0", "secret-get", vec!["--peek", "--refresh", "--label", "x"], 2, "specify one of --peek or --refresh but not both".into()),
        ("app/0", "secret-get", vec![], 2, "require either a secret URI or label".into()),
        ("app/0", "secret-remove", vec!["x", "--revision", "one"], 2, "invalid value \"one\" for option --revision: strconv.ParseInt: parsing \"one\": invalid syntax".into()),
        ("app/1", "leader-set", vec!["k=v"], 1, "cannot write leadership settings: cannot write settings: not the leader".into()),
        ("app/0", "network-get", vec!["nope"], 1, "no network config found for binding \"nope\"".into()),
        ("app/0", "resource-get", vec!["image"], 1, "could not download resource: resource#app/image not found".into()),
        ("app/0", "credential-get", vec![], 1, "cannot access cloud credentials: permission denied".into()),
        ("app/0", "action-log", vec![], 2, "no message specified".into()),
        ("app/0", "juju-log", vec![], 2, "no message specified".into()),
        ("app/0", "open-port", vec!["80/sctp"], 2, "invalid protocol \"sctp\", expected \"tcp\", \"udp\", or \"icmp\"".into()),
        ("app/0", "config-get", vec!["port", "--all"], 2, "cannot use argument --all together with key \"port\"".into()),
        ("app/0", "state-set", vec!["novalue"], 2, "expected \"key=value\", got \"novalue\"".into()),
        ("app/0", "action-set", vec!["k"], 2, "argument \"k\" must be of the form key...=value".into()),
    ];
    for (unit, tool, args, status, message) in &cases {
        let r = e.run(unit, tool, args);
        assert_eq!(
            r.err(),
            (*status, format!("ERROR {message}").as_str()),
            "{tool} {args:?}"
        );
        assert!(r.stdout.is_empty(), "{tool} {args:?}: {r:?}");
    }
    let r = e.run_in(
        "app/0",
        "relation-set",
        &["-r", &db, "--file", "-"],
        "- not\n- a map\n",
        &[],
    );
    assert_eq!(r.status, 1);
    assert!(
        r.stderr.starts_with("ERROR yaml: unmarshal errors"),
        "{r:?}"
    );
    // Deprecated, but accepted.
    let r = e.run(
        "app/0",
        "relation-set",
        &["-r", &db, "--format=json", "a=b"],
    );
    assert_eq!(
        (r.status, r.stderr.as_str()),
        (0, "--format flag deprecated for command \"relation-set\"")
    );
    // Outside any unit, or without a model.
    let r = e.run("", "is-leader", &[]);
    assert_eq!(r.err(), (1, "ERROR JUJU_UNIT_NAME is not set"));
    let out = Command::new(e.tools.join("is-leader"))
        .env_clear()
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains(STATE_VAR));
    // Nothing a failed tool did reached the model.
    e.end_hook("app/1");
    assert!(e.juju().bag(e.peers, "app").is_empty());
}

/// Several units' processes writing at once: the lock keeps every update.
#[test]
fn concurrent_writers_lose_no_update() {
    let e = env();
    let peers = format!("peers:{}", e.peers);
    let mut children = Vec::new();
    for i in 0..12 {
        let unit = ["app/0", "app/1", "pg/0"][i % 3];
        let (tool, args): (&str, Vec<String>) = if unit == "pg/0" {
            ("state-set", vec!["--file".into(), "-".into()])
        } else {
            (
                "relation-set",
                vec!["-r".into(), peers.clone(), "--file".into(), "-".into()],
            )
        };
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let mut child = e.command(unit, tool, &args, &[]).spawn().unwrap();
        let stdin = format!("{{\"k{i}\": \"v{i}\"}}");
        child
            .stdin
            .take()
            .unwrap()
            .write_all(stdin.as_bytes())
            .unwrap();
        children.push(child);
    }
    for child in children {
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    for unit in ["app/0", "app/1", "pg/0"] {
        e.end_hook(unit);
    }
    let juju = e.juju();
    let count = |i: usize| match i % 3 {
        0 => juju.bag(e.peers, "app/0").contains_key(&format!("k{i}")),
        1 => juju.bag(e.peers, "app/1").contains_key(&format!("k{i}")),
        _ => juju.units["pg/0"].state.contains_key(&format!("k{i}")),
    };
    assert!((0..12).all(count), "{:?}", juju.relations[&e.peers].bags);
    assert_eq!(juju.units["pg/0"].state.len(), 4);
    // The state file is valid JSON throughout and no temporary file is left.
    let leftovers: Vec<_> = std::fs::read_dir(e.dir.path())
        .unwrap()
        .filter_map(|d| d.ok())
        .filter(|d| d.file_name().to_string_lossy().contains(".tmp."))
        .collect();
    assert!(leftovers.is_empty());
}

/// A tool directory for one unit's hook: a script per tool that sets the
/// hook environment and runs the real tool, so that `ops`' `HookTools` can
/// call the executables without touching this process's environment.
fn hook_dir(e: &Env, name: &str, vars: &[(&str, &str)]) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let dir = e.dir.path().join(name);
    std::fs::create_dir_all(&dir).unwrap();
    let mut exports = format!("export {STATE_VAR}='{}'\n", e.state.display());
    for (k, v) in vars {
        exports.push_str(&format!("export {k}='{v}'\n"));
    }
    for tool in TOOLS {
        let script = dir.join(tool);
        let text = format!(
            "#!/bin/sh\n{exports}exec '{}' \"$@\"\n",
            e.tools.join(tool).display()
        );
        std::fs::write(&script, text).unwrap();
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    dir
}

/// The variant and stderr of a failure, or the answer, for comparing.
fn outcome<T: std::fmt::Debug>(r: ops::backend::Result<T>) -> String {
    use ops::backend::BackendError as E;
    match r {
        Ok(v) => format!("Ok({v:?})"),
        Err(E::RelationNotFound { stderr, .. }) => format!("RelationNotFound: {stderr}"),
        Err(E::SecretNotFound { stderr, .. }) => format!("SecretNotFound: {stderr}"),
        Err(E::PermissionDenied { stderr, .. }) => format!("PermissionDenied: {stderr}"),
        Err(E::ToolFailed { status, stderr, .. }) => format!("ToolFailed({status}): {stderr}"),
        Err(other) => format!("unexpected: {other}"),
    }
}

/// `ops`' real `HookTools` over the executables (a process per call, the
/// model in a state file, the hook from the environment) and over
/// `FakeTools` (the same tool table in process, the model in memory): the
/// same answers, the same failures (variant and Juju's message), and in
/// the end the same model.
#[test]
fn hook_tools_over_the_executables_and_in_process_agree() {
    use ops::backend::{
        Backend, HookTools, LogLevel, OpenedPort, PortProtocol, RelationRef, SecretAddArgs,
        SecretOwner, SecretSetArgs, StatusInfo, StatusName,
    };
    use ops_testing::fake_juju::{FakeTools, HookContext};
    use std::collections::BTreeMap;
    use std::sync::{Arc, Mutex};

    let e = env();
    let memory = Arc::new(Mutex::new(e.juju()));
    let db = RelationRef::new("db", e.db);
    let peers = RelationRef::new("peers", e.peers);
    let rel = db.to_string();
    let hooks = [
        (
            HookContext::unit("app/0"),
            hook_dir(&e, "hook-app-0", &[("JUJU_UNIT_NAME", "app/0")]),
        ),
        (
            HookContext::in_relation("app/1", db.clone(), Some("pg/0"), "pg"),
            hook_dir(
                &e,
                "hook-app-1",
                &[
                    ("JUJU_UNIT_NAME", "app/1"),
                    ("JUJU_RELATION_ID", &rel),
                    ("JUJU_REMOTE_UNIT", "pg/0"),
                    ("JUJU_REMOTE_APP", "pg"),
                ],
            ),
        ),
    ];
    let map = |pairs: &[(&str, &str)]| -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    };
    let mut compared = 0;
    for (ctx, dir) in hooks {
        let unit = ctx.unit.clone();
        let real = HookTools::with_tool_dir(&dir);
        memory.lock().unwrap().begin_hook(&ctx);
        with_state(&e.state, |j| j.begin_hook(&ctx)).unwrap();
        let fake = FakeTools::new(memory.clone(), ctx).hook_tools();
        // Each call runs through both; a spawn that hit a script another
        // test thread's fork briefly held open (ETXTBSY) is retried.
        let mut same = |what: &str, f: &dyn Fn(&dyn Backend) -> String| -> String {
            let mut a = f(&real);
            for _ in 0..50 {
                if !a.contains("(os error 26)") {
                    break;
                }
                std::thread::sleep(std::time::Duration::from_millis(20));
                a = f(&real);
            }
            let b = f(&fake);
            assert_eq!(a, b, "{unit}: {what}");
            compared += 1;
            a
        };
        same("b.relation_ids(\"db\")", &|b| outcome(b.relation_ids("db")));
        same("b.relation_ids(\"nope\")", &|b| {
            outcome(b.relation_ids("nope"))
        });
        same("b.relation_list(&db)", &|b| outcome(b.relation_list(&db)));
        same("b.relation_list(&peers)", &|b| {
            outcome(b.relation_list(&peers))
        });
        same("b.relation_list(&RelationRef::new(\"db\", 9))", &|b| {
            outcome(b.relation_list(&RelationRef::new("db", 9)))
        });
        same("b.relation_remote_app(&db)", &|b| {
            outcome(b.relation_remote_app(&db))
        });
        same("b.relation_get(&db, \"pg/0\", false)", &|b| {
            outcome(b.relation_get(&db, "pg/0", false))
        });
        same("b.relation_get(&db, \"pg\", true)", &|b| {
            outcome(b.relation_get(&db, "pg", true))
        });
        same("b.relation_get(&db, \"app\", true)", &|b| {
            outcome(b.relation_get(&db, "app", true))
        });
        same("b.relation_get(&db, \"pg\", false)", &|b| {
            outcome(b.relation_get(&db, "pg", false))
        });
        same("b.relation_get(&db, \"pg/5\", false)", &|b| {
            outcome(b.relation_get(&db, "pg/5", false))
        });
        same("relation_get", &|b| {
            outcome(b.relation_get(&RelationRef::new("db", 9), "pg/0", false))
        });
        same("relation_set", &|b| {
            outcome(b.relation_set(&db, false, &map(&[("database", "app"), ("gone", "")])))
        });
        same(
            "b.relation_set(&peers, true, &map(&[(\"leader\", \"me\")]))",
            &|b| outcome(b.relation_set(&peers, true, &map(&[("leader", "me")]))),
        );
        same("b.relation_get(&peers, \"app\", true)", &|b| {
            outcome(b.relation_get(&peers, "app", true))
        });
        same("b.relation_get(&db, &unit, false)", &|b| {
            outcome(b.relation_get(&db, &unit, false))
        });
        same("b.is_leader()", &|b| outcome(b.is_leader()));
        same("b.config_get()", &|b| outcome(b.config_get()));
        same("status_set", &|b| {
            outcome(b.status_set(false, &StatusInfo::new(StatusName::Active, "-fine-")))
        });
        same("status_set", &|b| {
            outcome(b.status_set(true, &StatusInfo::new(StatusName::Blocked, "app")))
        });
        same("b.status_get(false)", &|b| outcome(b.status_get(false)));
        same("b.status_get(true)", &|b| outcome(b.status_get(true)));
        same("b.application_version_set(\"--1.0\")", &|b| {
            outcome(b.application_version_set("--1.0"))
        });
        same("b.juju_log(LogLevel::Error, \"-oops-\")", &|b| {
            outcome(b.juju_log(LogLevel::Error, "-oops-"))
        });
        same(
            "b.state_set(&map(&[(\"k\", \"v\"), (\"empty\", \"\")]))",
            &|b| outcome(b.state_set(&map(&[("k", "v"), ("empty", "")]))),
        );
        same("b.state_delete(\"k\")", &|b| outcome(b.state_delete("k")));
        same("b.state_get()", &|b| outcome(b.state_get()));
        let secret = same("secret_add", &|b| {
            outcome(b.secret_add(&SecretAddArgs {
                content: map(&[("password", "hunter2")]),
                label: Some(format!("pw-{}", unit.replace('/', "-"))),
                owner: SecretOwner::Unit,
                ..Default::default()
            }))
        });
        let id = secret
            .trim_start_matches("Ok(\"")
            .trim_end_matches("\")")
            .to_string();
        same("b.secret_get(Some(&id), None, false, false)", &|b| {
            outcome(b.secret_get(Some(&id), None, false, false))
        });
        same("b.secret_info_get(Some(&id), None)", &|b| {
            outcome(b.secret_info_get(Some(&id), None))
        });
        same("secret_set", &|b| {
            outcome(b.secret_set(
                &id,
                &SecretSetArgs {
                    content: Some(map(&[("password", "n3w")])),
                    ..Default::default()
                },
            ))
        });
        same("b.secret_grant(&id, e.db, Some(\"pg/0\"))", &|b| {
            outcome(b.secret_grant(&id, e.db, Some("pg/0")))
        });
        same("b.secret_revoke(&id, e.db, Some(\"pg/0\"))", &|b| {
            outcome(b.secret_revoke(&id, e.db, Some("pg/0")))
        });
        same("b.secret_get(None, Some(\"nope\"), false, false)", &|b| {
            outcome(b.secret_get(None, Some("nope"), false, false))
        });
        same("secret_get", &|b| {
            outcome(b.secret_get(Some("secret:d1e2c3b4a5f6g7h8i9j0"), None, false, false))
        });
        same("secret_add", &|b| {
            outcome(b.secret_add(&SecretAddArgs {
                content: map(&[("password", "x")]),
                ..Default::default()
            }))
        });
        same("b.secret_remove(&id, Some(1))", &|b| {
            outcome(b.secret_remove(&id, Some(1)))
        });
        let port = OpenedPort {
            protocol: PortProtocol::Tcp,
            port: Some(6432),
            to_port: None,
        };
        same("b.open_port(&port)", &|b| outcome(b.open_port(&port, &[])));
        same("b.opened_ports()", &|b| outcome(b.opened_ports()));
        same("b.network_get(\"db\")", &|b| {
            outcome(b.network_get("db", None))
        });
        same("b.network_get(\"nope\")", &|b| {
            outcome(b.network_get("nope", None))
        });
        same("b.resource_get(\"image\")", &|b| {
            outcome(b.resource_get("image"))
        });
        same("b.action_get()", &|b| outcome(b.action_get()));
        same("b.action_log(\"step\")", &|b| outcome(b.action_log("step")));
        let range = OpenedPort::range(PortProtocol::Udp, 8000, 8010);
        same("open a range on an endpoint", &|b| {
            outcome(b.open_port(&range, &["db".to_string()]))
        });
        same("network_get from the db relation", &|b| {
            outcome(b.network_get("db", Some(e.db)))
        });
        same("network_get from an unknown relation", &|b| {
            outcome(b.network_get("db", Some(999)))
        });
        same("b.secret_ids()", &|b| outcome(b.secret_ids()));
        same("relation_model_get(db)", &|b| {
            outcome(b.relation_model_get(&RelationRef::new("db", e.db)))
        });
        same("b.credential_get()", &|b| outcome(b.credential_get()));
        same("b.juju_reboot(false)", &|b| outcome(b.juju_reboot(false)));
        same("b.storage_list(None)", &|b| outcome(b.storage_list(None)));
        same("b.storage_list(Some(\"logs\"))", &|b| {
            outcome(b.storage_list(Some("logs")))
        });
        same("b.storage_get_location(\"data/0\")", &|b| {
            outcome(b.storage_get_location("data/0"))
        });
        same("b.storage_add(\"data\", 2)", &|b| {
            outcome(b.storage_add("data", 2))
        });
        memory.lock().unwrap().end_hook(&unit, true);
        e.end_hook(&unit);
    }
    assert_eq!(compared, 2 * 55, "every call ran through both");
    let on_disk = e.juju();
    let in_memory = memory.lock().unwrap().clone();
    assert_eq!(on_disk, in_memory);
    assert_eq!(on_disk.opened_ports("app/0")[0].to_string(), "6432/tcp");
}

/// In `collect-metrics` and `meter-status-changed` (named by
/// `JUJU_HOOK_NAME`, as Juju and ops-sim set it) the restricted tools
/// refuse with Juju's message and exit status 1, before touching the model;
/// the others still answer, and in other hooks nothing is refused.
#[test]
fn restricted_hooks_refuse_the_restricted_tools() {
    use ops_testing::fake_juju::{RESTRICTED_CONTEXT, RESTRICTED_TOOLS};
    let e = env();
    let db = format!("db:{}", e.db);
    let args = |tool: &str| -> Vec<&str> {
        match tool {
            "relation-get" => vec!["-r", &db, "-", "pg/0"],
            "relation-ids" => vec!["db"],
            "relation-list" | "relation-model-get" => vec!["-r", &db],
            "relation-set" => vec!["-r", &db, "k=v"],
            "status-set" => vec!["active", "fine"],
            _ => vec![],
        }
    };
    let refused = format!("ERROR {RESTRICTED_CONTEXT}");
    for hook in ["collect-metrics", "meter-status-changed"] {
        for tool in RESTRICTED_TOOLS {
            let run = e.run_in("app/0", tool, &args(tool), "", &[("JUJU_HOOK_NAME", hook)]);
            assert_eq!(run.err(), (1, refused.as_str()), "{tool} in {hook}");
            assert!(run.stdout.is_empty());
        }
        let log = e.run_in(
            "app/0",
            "juju-log",
            &["metered"],
            "",
            &[("JUJU_HOOK_NAME", hook)],
        );
        log.ok();
        // Juju's restricted context lists no ports rather than refusing.
        let ports = e.run_in(
            "app/0",
            "opened-ports",
            &[],
            "",
            &[("JUJU_HOOK_NAME", hook)],
        );
        ports.ok();
    }
    assert!(
        !e.juju().bag(e.db, "app/0").contains_key("k"),
        "refused before the write"
    );
    let juju = e.juju();
    assert!(
        juju.unit_status("app/0")
            .is_none_or(|s| s.message != "fine"),
        "status-set refused"
    );
    for tool in RESTRICTED_TOOLS {
        let vars = [("JUJU_HOOK_NAME", "update-status")];
        let run = e.run_in("app/0", tool, &args(tool), "", &vars);
        // Outside a restricted hook no tool is refused as restricted (some
        // fail for want of an action, a secret or arguments).
        assert!(
            !run.stderr.contains(RESTRICTED_CONTEXT),
            "{tool} in update-status: {run:?}"
        );
        if !args(tool).is_empty() || ["config-get", "is-leader", "state-get"].contains(tool) {
            assert_eq!(run.status, 0, "{tool} in update-status: {run:?}");
        }
    }
}

/// `add-metric` is taken in `collect-metrics` only, as Juju's metrics
/// context is the only one that records: through the executable (the argv
/// `ops`' `HookTools` builds) and through the in-process `FakeTools`.
#[test]
fn add_metric_is_taken_in_collect_metrics_only() {
    use ops::backend::{Backend, HookTools};
    use ops_testing::fake_juju::{AddedMetrics, FakeTools, HookContext, METRICS_NOT_ALLOWED};
    use std::sync::{Arc, Mutex};

    let e = env();
    let refused = format!("ERROR {METRICS_NOT_ALLOWED}");
    let metrics = vec![("clients".to_string(), "12".to_string())];
    let labels = vec![("pool".to_string(), "main".to_string())];
    let added = AddedMetrics {
        metrics: metrics.clone(),
        labels: labels.clone(),
    };
    for hook in ["update-status", "meter-status-changed"] {
        let run = e.run_in(
            "app/0",
            "add-metric",
            &["clients=12"],
            "",
            &[("JUJU_HOOK_NAME", hook)],
        );
        assert_eq!(run.err(), (1, refused.as_str()), "in {hook}");
    }
    assert!(e.juju().units["app/0"].metrics.is_empty());

    let dir = hook_dir(
        &e,
        "hook-add-metric",
        &[
            ("JUJU_UNIT_NAME", "app/0"),
            ("JUJU_HOOK_NAME", "collect-metrics"),
        ],
    );
    HookTools::with_tool_dir(&dir)
        .add_metric(&metrics, &labels)
        .unwrap();
    assert!(
        e.juju().units["app/0"].metrics.is_empty(),
        "recorded when the hook succeeds, as Juju sends them"
    );
    e.end_hook("app/0");
    assert_eq!(
        e.juju().units["app/0"].metrics,
        std::slice::from_ref(&added)
    );
    let bad = e.run_in(
        "app/0",
        "add-metric",
        &["clients=-1"],
        "",
        &[("JUJU_HOOK_NAME", "collect-metrics")],
    );
    assert_eq!(bad.status, 1, "{bad:?}");

    let juju = Arc::new(Mutex::new(e.juju()));
    let unit = || HookContext::unit("app/0");
    let elsewhere =
        FakeTools::in_dispatch(juju.clone(), unit(), "hooks/update-status").hook_tools();
    let err = elsewhere.add_metric(&metrics, &labels).unwrap_err();
    assert!(err.to_string().contains(METRICS_NOT_ALLOWED), "{err}");
    let collecting =
        FakeTools::in_dispatch(juju.clone(), unit(), "hooks/collect-metrics").hook_tools();
    collecting.add_metric(&metrics, &labels).unwrap();
    juju.lock().unwrap().end_hook("app/0", true);
    assert_eq!(
        juju.lock().unwrap().units["app/0"].metrics,
        [added.clone(), added]
    );
}

/// `ops`' `HookTools` over the executables in a restricted hook and over
/// `FakeTools` in the same hook: the same refusals, the same answers.
#[test]
fn restricted_hook_tools_over_the_executables_and_in_process_agree() {
    use ops::backend::{Backend, HookTools, LogLevel, RelationRef, StatusInfo, StatusName};
    use ops_testing::fake_juju::{FakeTools, HookContext};
    use std::sync::{Arc, Mutex};

    let e = env();
    let db = RelationRef::new("db", e.db);
    let dir = hook_dir(
        &e,
        "hook-metrics",
        &[
            ("JUJU_UNIT_NAME", "app/0"),
            ("JUJU_HOOK_NAME", "collect-metrics"),
        ],
    );
    let real = HookTools::with_tool_dir(&dir);
    let fake = FakeTools::in_dispatch(
        Arc::new(Mutex::new(e.juju())),
        HookContext::unit("app/0"),
        "hooks/collect-metrics",
    )
    .hook_tools();
    type Call<'a> = Box<dyn Fn(&dyn Backend) -> String + 'a>;
    let calls: Vec<(&str, Call)> = vec![
        ("config-get", Box::new(|b| outcome(b.config_get()))),
        ("is-leader", Box::new(|b| outcome(b.is_leader()))),
        ("relation-ids", Box::new(|b| outcome(b.relation_ids("db")))),
        ("relation-list", Box::new(|b| outcome(b.relation_list(&db)))),
        (
            "relation-get",
            Box::new(|b| outcome(b.relation_get(&db, "pg/0", false))),
        ),
        (
            "relation-set",
            Box::new(|b| outcome(b.relation_set(&db, false, &Default::default()))),
        ),
        (
            "relation-model-get",
            Box::new(|b| outcome(b.relation_model_get(&db))),
        ),
        ("state-get", Box::new(|b| outcome(b.state_get()))),
        (
            "status-set",
            Box::new(|b| outcome(b.status_set(false, &StatusInfo::new(StatusName::Active, "")))),
        ),
        ("status-get", Box::new(|b| outcome(b.status_get(false)))),
        (
            "juju-log",
            Box::new(|b| outcome(b.juju_log(LogLevel::Info, "metered"))),
        ),
    ];
    for (tool, call) in &calls {
        let (a, b) = (call(&real), call(&fake));
        assert_eq!(a, b, "{tool}");
        let is_refused = a.contains(ops_testing::fake_juju::RESTRICTED_CONTEXT);
        assert_eq!(
            is_refused,
            ops_testing::fake_juju::is_restricted_tool(tool),
            "{tool}: {a}"
        );
    }
}
