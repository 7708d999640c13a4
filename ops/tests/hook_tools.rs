//! `HookTools` against fake hook-tool scripts that record their argv and
//! stdin and answer as Juju would, failures included.

use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use ops::backend::{
    Backend, BackendError, HookTools, LogLevel, OpenedPort, PortProtocol, RelationRef,
    SecretAddArgs, SecretOwner, StatusInfo, StatusName,
};

struct Tools {
    dir: tempfile::TempDir,
}

impl Tools {
    fn new() -> Self {
        Self {
            dir: tempfile::tempdir().unwrap(),
        }
    }

    /// A tool that records argv (one per line), the content of `k#file=`
    /// arguments, and stdin, then prints `stdout`, `stderr` and exits `status`.
    fn script(&self, tool: &str, stdout: &str, stderr: &str, status: i32) {
        let log = self.dir.path().join(format!("{tool}.argv"));
        let input = self.dir.path().join(format!("{tool}.stdin"));
        let body = format!(
            "#!/bin/sh\nfor a in \"$@\"; do printf '%s\\n' \"$a\"; done > '{log}'\n\
             for a in \"$@\"; do case \"$a\" in *'#file='*) cat \"${{a#*#file=}}\" >> '{log}.files';; esac; done\n\
             cat > '{input}'\nprintf '%s' '{stdout}'\nprintf '%s' '{stderr}' >&2\nexit {status}\n",
            log = log.display(),
            input = input.display(),
            stdout = stdout.replace('\'', "'\\''"),
            stderr = stderr.replace('\'', "'\\''"),
        );
        let path = self.dir.path().join(tool);
        std::fs::write(&path, body).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    }

    fn ok(&self, tool: &str, stdout: &str) {
        self.script(tool, stdout, "", 0);
    }

    fn argv(&self, tool: &str) -> Vec<String> {
        std::fs::read_to_string(self.dir.path().join(format!("{tool}.argv")))
            .unwrap()
            .lines()
            .map(str::to_string)
            .collect()
    }

    fn stdin(&self, tool: &str) -> String {
        std::fs::read_to_string(self.dir.path().join(format!("{tool}.stdin"))).unwrap()
    }

    fn backend(&self) -> HookTools {
        HookTools::with_tool_dir(self.dir.path())
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }
}

fn rel() -> RelationRef {
    RelationRef::new("pgb-peers", 2)
}

#[test]
fn relation_tools_parse_json_and_send_stdin() {
    let t = Tools::new();
    let b = t.backend();
    t.ok("relation-ids", "[\"pgb-peers:2\",\"pgb-peers:5\"]\n");
    assert_eq!(
        b.relation_ids("pgb-peers").unwrap(),
        vec![rel(), RelationRef::new("pgb-peers", 5)]
    );
    assert_eq!(t.argv("relation-ids"), ["pgb-peers", "--format=json"]);
    t.ok("relation-list", "[\"pgbouncer-k8s/1\"]");
    assert_eq!(b.relation_list(&rel()).unwrap(), ["pgbouncer-k8s/1"]);
    t.ok("relation-list", "\"postgresql\"");
    assert_eq!(
        b.relation_remote_app(&rel()).unwrap().as_deref(),
        Some("postgresql")
    );
    assert_eq!(
        t.argv("relation-list"),
        ["--format=json", "-r", "pgb-peers:2", "--app"]
    );
    t.ok("relation-get", "{\"cfg_file\":\"[databases]\\n\"}");
    let bag = b.relation_get(&rel(), "pgbouncer-k8s", true).unwrap();
    assert_eq!(bag["cfg_file"], "[databases]\n");
    assert_eq!(
        t.argv("relation-get"),
        [
            "--format=json",
            "-r",
            "pgb-peers:2",
            "--app",
            "-",
            "pgbouncer-k8s"
        ]
    );
    t.ok("relation-get", "");
    assert!(
        b.relation_get(&rel(), "pgbouncer-k8s/1", false)
            .unwrap()
            .is_empty()
    );
    t.ok("relation-set", "");
    let data = BTreeMap::from([
        ("a".to_string(), "1".to_string()),
        ("gone".to_string(), String::new()),
    ]);
    b.relation_set(&rel(), true, &data).unwrap();
    assert_eq!(
        t.argv("relation-set"),
        ["-r", "pgb-peers:2", "--app", "--file", "-"]
    );
    assert_eq!(t.stdin("relation-set"), r#"{"a":"1","gone":""}"#);
}

#[test]
fn leadership_config_status_and_log() {
    let t = Tools::new();
    let b = t.backend();
    t.ok("is-leader", "true\n");
    assert!(b.is_leader().unwrap());
    t.ok(
        "config-get",
        "{\"listen_port\":6432,\"pool_mode\":\"session\"}",
    );
    assert_eq!(b.config_get().unwrap()["listen_port"], 6432);
    t.ok("status-set", "");
    b.status_set(
        true,
        &StatusInfo::new(StatusName::Blocked, "--weird message"),
    )
    .unwrap();
    assert_eq!(
        t.argv("status-set"),
        ["--application=True", "blocked", "--", "--weird message"]
    );
    t.ok(
        "status-get",
        "{\"message\":\"m\",\"status\":\"waiting\",\"status-data\":{}}",
    );
    assert_eq!(
        b.status_get(false).unwrap(),
        StatusInfo::new(StatusName::Waiting, "m")
    );
    t.ok("status-get", "{\"application-status\":{\"message\":\"a\",\"status\":\"active\",\"status-data\":{},\"units\":{}}}");
    assert_eq!(
        b.status_get(true).unwrap(),
        StatusInfo::new(StatusName::Active, "a")
    );
    assert_eq!(
        t.argv("status-get"),
        ["--include-data", "--format=json", "--application=true"]
    );
    t.ok("juju-log", "");
    b.juju_log(LogLevel::Warning, "-starts with a dash")
        .unwrap();
    assert_eq!(
        t.argv("juju-log"),
        ["--log-level", "WARNING", "--", "-starts with a dash"]
    );
    t.ok("application-version-set", "");
    b.application_version_set("1.21.0").unwrap();
    assert_eq!(t.argv("application-version-set"), ["--", "1.21.0"]);
}

#[test]
fn unit_state_tools() {
    let t = Tools::new();
    let b = t.backend();
    t.ok("state-get", "{\"k\":\"v\"}");
    assert_eq!(b.state_get().unwrap()["k"], "v");
    t.ok("state-set", "");
    b.state_set(&BTreeMap::from([("k".to_string(), "v2".to_string())]))
        .unwrap();
    assert_eq!(t.argv("state-set"), ["--file", "-"]);
    assert_eq!(t.stdin("state-set"), r#"{"k":"v2"}"#);
    t.ok("state-delete", "");
    b.state_delete("k").unwrap();
    assert_eq!(t.argv("state-delete"), ["k"]);
}

#[test]
fn secret_values_travel_in_files_that_are_removed_after() {
    let t = Tools::new();
    let b = t.backend();
    t.ok("secret-add", "secret:cs7abc\n");
    let id = b
        .secret_add(&SecretAddArgs {
            content: BTreeMap::from([("password".to_string(), "hunter2".to_string())]),
            label: Some("db".into()),
            owner: SecretOwner::Application,
            ..Default::default()
        })
        .unwrap();
    assert_eq!(id, "secret:cs7abc");
    let argv = t.argv("secret-add");
    assert_eq!(&argv[..4], ["--label", "db", "--owner", "application"]);
    assert!(argv.iter().all(|a| !a.contains("hunter2")), "{argv:?}");
    let file = argv[4].strip_prefix("password#file=").unwrap();
    assert!(
        !PathBuf::from(file).exists(),
        "the value file is removed after the call"
    );
    let seen = std::fs::read_to_string(t.path().join("secret-add.argv.files")).unwrap();
    assert_eq!(seen, "hunter2", "the tool read the value from the file");
    t.ok("secret-get", "{\"password\":\"hunter2\"}");
    assert_eq!(
        b.secret_get(Some(&id), None, true, false).unwrap()["password"],
        "hunter2"
    );
    assert_eq!(
        t.argv("secret-get"),
        ["--format=json", "secret:cs7abc", "--refresh"]
    );
    t.ok(
        "secret-info-get",
        "{\"cs7abc\":{\"revision\":2,\"label\":\"db\",\"owner\":\"application\"}}",
    );
    let info = b.secret_info_get(Some(&id), None).unwrap();
    assert_eq!((info.id.as_str(), info.revision), ("secret:cs7abc", 2));
}

#[test]
fn actions_ports_network_resources() {
    let t = Tools::new();
    let b = t.backend();
    t.ok("action-get", "{\"user\":\"x\"}");
    assert_eq!(b.action_get().unwrap()["user"], "x");
    t.ok("action-set", "");
    b.action_set(&BTreeMap::from([("a.b".to_string(), "1".to_string())]))
        .unwrap();
    assert_eq!(t.argv("action-set"), ["a.b=1"]);
    t.ok("action-fail", "");
    b.action_fail("nope").unwrap();
    assert_eq!(t.argv("action-fail"), ["--", "nope"]);
    t.ok("action-log", "");
    b.action_log("step 1").unwrap();
    assert_eq!(t.argv("action-log"), ["--", "step 1"]);
    t.ok("open-port", "");
    b.open_port(&OpenedPort {
        protocol: PortProtocol::Tcp,
        port: Some(6432),
    })
    .unwrap();
    assert_eq!(t.argv("open-port"), ["6432/tcp"]);
    t.ok("opened-ports", "[\"6432/tcp\"]");
    assert_eq!(b.opened_ports().unwrap()[0].port, Some(6432));
    t.ok("network-get", "{\"ingress-addresses\":[\"10.1.1.1\"]}");
    assert_eq!(
        b.network_get("database").unwrap()["ingress-addresses"][0],
        "10.1.1.1"
    );
    t.ok("resource-get", "/var/lib/juju/resources/img\n");
    assert_eq!(
        b.resource_get("img").unwrap(),
        PathBuf::from("/var/lib/juju/resources/img")
    );
    t.ok("goal-state", "{\"units\":{}}");
    assert!(b.goal_state().unwrap()["units"].is_object());
}

#[test]
fn jujus_failures_become_typed_errors() {
    let t = Tools::new();
    let b = t.backend();
    t.script(
        "relation-get",
        "",
        "ERROR invalid value \"db:9\" for option -r: relation not found\n",
        2,
    );
    match b
        .relation_get(&RelationRef::new("db", 9), "pg/0", false)
        .unwrap_err()
    {
        BackendError::RelationNotFound {
            relation, command, ..
        } => {
            assert_eq!(
                (relation.as_str(), command.as_str()),
                ("db:9", "relation-get")
            )
        }
        other => panic!("{other:?}"),
    }
    t.script(
        "relation-set",
        "",
        "ERROR cannot write relation settings\n",
        1,
    );
    assert!(matches!(
        b.relation_set(&rel(), true, &BTreeMap::new()),
        Err(BackendError::PermissionDenied { .. })
    ));
    t.script("relation-get", "", "ERROR permission denied\n", 1);
    assert!(matches!(
        b.relation_get(&rel(), "x", true),
        Err(BackendError::PermissionDenied { .. })
    ));
    t.script("status-set", "", "ERROR this unit is not the leader\n", 1);
    assert!(matches!(
        b.status_set(true, &StatusInfo::new(StatusName::Active, "")),
        Err(BackendError::PermissionDenied { .. })
    ));
    t.script("secret-get", "", "ERROR secret not found\n", 1);
    match b
        .secret_get(Some("secret:zz"), None, false, false)
        .unwrap_err()
    {
        BackendError::SecretNotFound { secret, .. } => assert_eq!(secret, "secret:zz"),
        other => panic!("{other:?}"),
    }
    t.script("config-get", "", "ERROR something else broke\n", 3);
    match b.config_get().unwrap_err() {
        BackendError::ToolFailed {
            command,
            status,
            stderr,
            ..
        } => {
            assert_eq!(
                (command.as_str(), status, stderr.as_str()),
                ("config-get", 3, "ERROR something else broke")
            )
        }
        other => panic!("{other:?}"),
    }
    t.ok("is-leader", "maybe");
    assert!(matches!(
        b.is_leader(),
        Err(BackendError::MalformedOutput { .. })
    ));
    t.ok("relation-get", "{\"k\": 1}");
    assert!(matches!(
        b.relation_get(&rel(), "x", false),
        Err(BackendError::MalformedOutput { .. })
    ));
    let missing = HookTools::with_tool_dir(t.path().join("nowhere"));
    assert!(matches!(
        missing.is_leader(),
        Err(BackendError::Spawn { .. })
    ));
}
