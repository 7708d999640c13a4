//! `HookTools` against fake hook tools that record their argv and stdin and
//! answer as Juju would, failures included.
//!
//! Every fake tool is a symlink to one shell script, written once per test
//! process before any tool runs: writing an executable while another test
//! thread forks would let the child inherit the open file and make running it
//! fail with "Text file busy". What a tool prints and how it exits comes from
//! plain files beside the symlink, which the tests write freely.

use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use ops::backend::{
    Backend, BackendError, HookTools, LogLevel, OpenedPort, PortProtocol, RelationRef,
    SecretAddArgs, SecretOwner, SecretSetArgs, StatusInfo, StatusName,
};

/// The fake tool. For `<dir>/<tool>` it writes its arguments, each followed
/// by a NUL, to `<dir>/<tool>.argv`; for each `key#file=<path>` argument the
/// file's mode, a newline, its content and a NUL to `<dir>/<tool>.files`; its
/// stdin to `<dir>/<tool>.stdin` (unless `<dir>/<tool>.ignore-stdin` exists).
/// Then it prints `<dir>/<tool>.out` and `<dir>/<tool>.err` (to stderr) and
/// exits with the number in `<dir>/<tool>.status` (0 without it).
const FAKE_TOOL: &str = r#"#!/bin/sh
rec="$(dirname "$0")/$(basename "$0")"
for a in "$@"; do printf '%s\0' "$a"; done > "$rec.argv"
printf '%s' "${OPERATOR_DISPATCH-<unset>}" > "$rec.env"
[ -p "$rec.block" ] && exec cat "$rec.block"
: > "$rec.files"
for a in "$@"; do
  case "$a" in
    *'#file='*) f=${a#*#file=}; { stat -c %a "$f"; cat "$f"; printf '\0'; } >> "$rec.files" ;;
  esac
done
[ -e "$rec.ignore-stdin" ] || cat > "$rec.stdin"
[ -e "$rec.out" ] && cat "$rec.out"
[ -e "$rec.err" ] && cat "$rec.err" >&2
[ -e "$rec.status" ] && exit "$(cat "$rec.status")"
exit 0
"#;

fn fake_tool() -> &'static Path {
    static PATH: OnceLock<PathBuf> = OnceLock::new();
    PATH.get_or_init(|| {
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR"));
        let path = dir.join("ops-fake-hook-tool");
        let tmp = dir.join(format!("ops-fake-hook-tool.{}", std::process::id()));
        std::fs::write(&tmp, FAKE_TOOL).unwrap();
        std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o755)).unwrap();
        std::fs::rename(&tmp, &path).unwrap();
        path
    })
}

/// A directory of fake tools and what they recorded.
struct Tools {
    dir: tempfile::TempDir,
}

impl Tools {
    fn new() -> Self {
        fake_tool();
        Self {
            dir: tempfile::tempdir().unwrap(),
        }
    }

    fn file(&self, tool: &str, suffix: &str) -> PathBuf {
        self.dir.path().join(format!("{tool}.{suffix}"))
    }

    /// Installs `tool`: it prints `stdout` and `stderr` and exits `status`.
    fn script(&self, tool: &str, stdout: &str, stderr: &str, status: i32) {
        let link = self.dir.path().join(tool);
        if !link.exists() {
            std::os::unix::fs::symlink(fake_tool(), &link).unwrap();
        }
        std::fs::write(self.file(tool, "out"), stdout).unwrap();
        std::fs::write(self.file(tool, "err"), stderr).unwrap();
        std::fs::write(self.file(tool, "status"), status.to_string()).unwrap();
    }

    fn ok(&self, tool: &str, stdout: &str) {
        self.script(tool, stdout, "", 0);
    }

    fn fail(&self, tool: &str, stderr: &str, status: i32) {
        self.script(tool, "", stderr, status);
    }

    /// The arguments of the last run of `tool`.
    fn argv(&self, tool: &str) -> Vec<String> {
        let raw = std::fs::read(self.file(tool, "argv")).unwrap();
        let text = String::from_utf8(raw).unwrap();
        let mut args: Vec<String> = text.split('\0').map(str::to_string).collect();
        assert_eq!(args.pop().as_deref(), Some(""), "NUL-terminated");
        args
    }

    /// `(mode, content)` of each `k#file=` argument of the last run of `tool`.
    fn files(&self, tool: &str) -> Vec<(String, String)> {
        let text = std::fs::read_to_string(self.file(tool, "files")).unwrap();
        text.split_terminator('\0')
            .map(|entry| {
                let (mode, content) = entry.split_once('\n').unwrap();
                (mode.to_string(), content.to_string())
            })
            .collect()
    }

    fn stdin(&self, tool: &str) -> String {
        std::fs::read_to_string(self.file(tool, "stdin")).unwrap()
    }

    fn backend(&self) -> HookTools {
        HookTools::with_tool_dir(self.dir.path())
    }
}

fn rel() -> RelationRef {
    RelationRef::new("pgb-peers", 2)
}

fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

#[test]
fn relation_ids_and_relation_list_parse_json() {
    let t = Tools::new();
    let b = t.backend();
    t.ok("relation-ids", "[\"pgb-peers:2\",\"pgb-peers:5\"]\n");
    assert_eq!(
        b.relation_ids("pgb-peers").unwrap(),
        [rel(), RelationRef::new("pgb-peers", 5)]
    );
    assert_eq!(t.argv("relation-ids"), ["pgb-peers", "--format=json"]);
    t.ok("relation-ids", "[]\n");
    assert!(b.relation_ids("pgb-peers").unwrap().is_empty());

    t.ok(
        "relation-list",
        "[\"pgbouncer-k8s/1\",\"pgbouncer-k8s/2\"]\n",
    );
    assert_eq!(
        b.relation_list(&rel()).unwrap(),
        ["pgbouncer-k8s/1", "pgbouncer-k8s/2"]
    );
    assert_eq!(
        t.argv("relation-list"),
        ["--format=json", "-r", "pgb-peers:2"]
    );
    t.ok("relation-list", "\"postgresql-k8s\"\n");
    assert_eq!(
        b.relation_remote_app(&rel()).unwrap().as_deref(),
        Some("postgresql-k8s")
    );
    assert_eq!(
        t.argv("relation-list"),
        ["--format=json", "-r", "pgb-peers:2", "--app"]
    );
    t.ok("relation-list", "\"\"\n");
    assert_eq!(b.relation_remote_app(&rel()).unwrap(), None);
}

#[test]
fn relation_get_parses_unit_and_app_bags() {
    let t = Tools::new();
    let b = t.backend();
    t.ok(
        "relation-get",
        "{\"cfg_file\":\"[databases]\\n\",\"egress-subnets\":\"127.1.0.0/32\"}\n",
    );
    let bag = b.relation_get(&rel(), "pgbouncer-k8s", true).unwrap();
    assert_eq!(
        bag,
        map(&[
            ("cfg_file", "[databases]\n"),
            ("egress-subnets", "127.1.0.0/32")
        ])
    );
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
    b.relation_get(&rel(), "pgbouncer-k8s/1", false).unwrap();
    assert_eq!(
        t.argv("relation-get"),
        ["--format=json", "-r", "pgb-peers:2", "-", "pgbouncer-k8s/1"]
    );
    for empty in ["", "{}\n", "null\n"] {
        t.ok("relation-get", empty);
        assert!(
            b.relation_get(&rel(), "pgbouncer-k8s/1", false)
                .unwrap()
                .is_empty(),
            "{empty:?}"
        );
    }
}

#[test]
fn relation_set_sends_a_json_map_on_stdin() {
    let t = Tools::new();
    let b = t.backend();
    t.ok("relation-set", "");
    let data = map(&[
        ("a", "1"),
        ("gone", ""),
        ("multi", "line one\nline \"two\""),
    ]);
    b.relation_set(&rel(), true, &data).unwrap();
    assert_eq!(
        t.argv("relation-set"),
        ["-r", "pgb-peers:2", "--app", "--file", "-"]
    );
    let sent: BTreeMap<String, String> = serde_json::from_str(&t.stdin("relation-set")).unwrap();
    assert_eq!(sent, data);
    b.relation_set(&rel(), false, &map(&[("k", "v")])).unwrap();
    assert_eq!(t.argv("relation-set"), ["-r", "pgb-peers:2", "--file", "-"]);
    assert_eq!(t.stdin("relation-set"), r#"{"k":"v"}"#);
}

#[test]
fn large_input_and_output_do_not_block() {
    let t = Tools::new();
    let b = t.backend();
    // Far beyond a pipe's buffer in both directions.
    let big = "x".repeat(1 << 20);
    t.ok("relation-set", &"y".repeat(1 << 20));
    b.relation_set(&rel(), false, &map(&[("cfg", &big)]))
        .unwrap();
    let sent: BTreeMap<String, String> = serde_json::from_str(&t.stdin("relation-set")).unwrap();
    assert_eq!(sent["cfg"].len(), big.len());
}

#[test]
fn a_tool_that_fails_without_reading_stdin_reports_its_own_error() {
    let t = Tools::new();
    let b = t.backend();
    t.fail("relation-set", "ERROR cannot write relation settings\n", 1);
    std::fs::write(t.file("relation-set", "ignore-stdin"), "").unwrap();
    let big = "x".repeat(1 << 20);
    assert!(matches!(
        b.relation_set(&rel(), true, &map(&[("cfg", &big)])),
        Err(BackendError::PermissionDenied { .. })
    ));
}

#[test]
fn is_leader_and_config_get() {
    let t = Tools::new();
    let b = t.backend();
    t.ok("is-leader", "true\n");
    assert!(b.is_leader().unwrap());
    assert_eq!(t.argv("is-leader"), ["--format=json"]);
    t.ok("is-leader", "false\n");
    assert!(!b.is_leader().unwrap());
    t.ok(
        "config-get",
        "{\"listen_port\":6432,\"pool_mode\":\"session\",\"verbose\":false}\n",
    );
    let config = b.config_get().unwrap();
    assert_eq!(config["listen_port"], 6432);
    assert_eq!(config["pool_mode"], "session");
    assert_eq!(config["verbose"], false);
    assert_eq!(t.argv("config-get"), ["--format=json"]);
}

#[test]
fn status_set_and_both_status_get_shapes() {
    let t = Tools::new();
    let b = t.backend();
    t.ok("status-set", "");
    b.status_set(
        true,
        &StatusInfo::new(StatusName::Blocked, "--weird\nmessage"),
    )
    .unwrap();
    assert_eq!(
        t.argv("status-set"),
        ["--application=True", "blocked", "--", "--weird\nmessage"]
    );
    b.status_set(false, &StatusInfo::new(StatusName::Active, ""))
        .unwrap();
    assert_eq!(
        t.argv("status-set"),
        ["--application=False", "active", "--", ""]
    );

    t.ok(
        "status-get",
        "{\"message\":\"m\",\"status\":\"waiting\",\"status-data\":{}}\n",
    );
    assert_eq!(
        b.status_get(false).unwrap(),
        StatusInfo::new(StatusName::Waiting, "m")
    );
    assert_eq!(
        t.argv("status-get"),
        ["--include-data", "--format=json", "--application=false"]
    );
    t.ok(
        "status-get",
        "{\"application-status\":{\"message\":\"a\",\"status\":\"active\",\"status-data\":{},\
         \"units\":{\"pgbouncer-k8s/0\":{\"message\":\"\",\"status\":\"maintenance\",\"status-data\":{}}}}}\n",
    );
    assert_eq!(
        b.status_get(true).unwrap(),
        StatusInfo::new(StatusName::Active, "a")
    );
    assert_eq!(
        t.argv("status-get"),
        ["--include-data", "--format=json", "--application=true"]
    );
}

#[test]
fn juju_log_and_application_version() {
    let t = Tools::new();
    let b = t.backend();
    t.ok("juju-log", "");
    b.juju_log(LogLevel::Warning, "-starts with a dash\nand has two lines")
        .unwrap();
    assert_eq!(
        t.argv("juju-log"),
        [
            "--log-level",
            "WARNING",
            "--",
            "-starts with a dash\nand has two lines"
        ]
    );
    t.ok("application-version-set", "");
    b.application_version_set("1.21.0").unwrap();
    assert_eq!(t.argv("application-version-set"), ["--", "1.21.0"]);
}

#[test]
fn unit_state_get_set_delete() {
    let t = Tools::new();
    let b = t.backend();
    t.ok(
        "state-get",
        "{\"k\":\"v\",\"snapshot\":\"{\\\"a\\\":1}\"}\n",
    );
    assert_eq!(
        b.state_get().unwrap(),
        map(&[("k", "v"), ("snapshot", "{\"a\":1}")])
    );
    assert_eq!(t.argv("state-get"), ["--format=json"]);
    // Juju prints a nil map as `null`.
    t.ok("state-get", "null\n");
    assert!(b.state_get().unwrap().is_empty());
    t.ok("state-set", "");
    b.state_set(&map(&[("k", "v2")])).unwrap();
    assert_eq!(t.argv("state-set"), ["--file", "-"]);
    assert_eq!(t.stdin("state-set"), r#"{"k":"v2"}"#);
    t.ok("state-delete", "");
    b.state_delete("k").unwrap();
    assert_eq!(t.argv("state-delete"), ["k"]);
}

#[test]
fn secret_add_passes_values_in_private_files_removed_after() {
    let t = Tools::new();
    let b = t.backend();
    t.ok("secret-add", "secret:cs7abc\n");
    let id = b
        .secret_add(&SecretAddArgs {
            content: map(&[("password", "hunter2"), ("user", "pgbouncer")]),
            label: Some("auth".into()),
            description: Some("PgBouncer admin".into()),
            owner: SecretOwner::Application,
            ..Default::default()
        })
        .unwrap();
    assert_eq!(id, "secret:cs7abc");
    let argv = t.argv("secret-add");
    assert_eq!(
        argv[..6],
        [
            "--label",
            "auth",
            "--description",
            "PgBouncer admin",
            "--owner",
            "application"
        ]
    );
    assert_eq!(argv.len(), 8, "{argv:?}");
    assert!(argv.iter().all(|a| !a.contains("hunter2")), "{argv:?}");
    let paths: Vec<&str> = argv[6..]
        .iter()
        .zip(["password#file=", "user#file="])
        .map(|(arg, prefix)| arg.strip_prefix(prefix).unwrap())
        .collect();
    for path in paths {
        assert!(
            !Path::new(path).exists(),
            "{path} is removed after the call"
        );
    }
    assert_eq!(
        t.files("secret-add"),
        [
            ("600".to_string(), "hunter2".to_string()),
            ("600".to_string(), "pgbouncer".to_string())
        ],
        "the tool read each value from a file only its owner may read"
    );
}

#[test]
fn secret_files_are_removed_when_the_tool_fails() {
    let t = Tools::new();
    let b = t.backend();
    t.fail("secret-add", "ERROR this unit is not the leader\n", 1);
    let err = b
        .secret_add(&SecretAddArgs {
            content: map(&[("password", "hunter2")]),
            ..Default::default()
        })
        .unwrap_err();
    assert!(
        matches!(err, BackendError::PermissionDenied { .. }),
        "{err:?}"
    );
    assert!(!err.to_string().contains("hunter2"), "{err}");
    let argv = t.argv("secret-add");
    let path = argv[2].strip_prefix("password#file=").unwrap();
    assert!(!Path::new(path).exists());
}

#[test]
fn secret_get_set_info_grant_revoke_remove() {
    let t = Tools::new();
    let b = t.backend();
    t.ok("secret-get", "{\"password\":\"hunter2\"}\n");
    assert_eq!(
        b.secret_get(Some("secret:cs7abc"), Some("auth"), true, false)
            .unwrap(),
        map(&[("password", "hunter2")])
    );
    assert_eq!(
        t.argv("secret-get"),
        [
            "--format=json",
            "secret:cs7abc",
            "--label",
            "auth",
            "--refresh"
        ]
    );
    b.secret_get(None, Some("auth"), false, true).unwrap();
    assert_eq!(
        t.argv("secret-get"),
        ["--format=json", "--label", "auth", "--peek"]
    );

    t.ok("secret-set", "");
    b.secret_set(
        "secret:cs7abc",
        &SecretSetArgs {
            content: Some(map(&[("password", "s3cret")])),
            label: Some("auth".into()),
            ..Default::default()
        },
    )
    .unwrap();
    let argv = t.argv("secret-set");
    assert_eq!(argv[..3], ["secret:cs7abc", "--label", "auth"]);
    assert!(argv[3].starts_with("password#file="), "{argv:?}");
    assert!(argv.iter().all(|a| !a.contains("s3cret")));
    assert_eq!(
        t.files("secret-set"),
        [("600".to_string(), "s3cret".to_string())]
    );
    b.secret_set(
        "secret:cs7abc",
        &SecretSetArgs {
            description: Some("d".into()),
            ..Default::default()
        },
    )
    .unwrap();
    assert_eq!(
        t.argv("secret-set"),
        ["secret:cs7abc", "--description", "d"]
    );

    t.ok(
        "secret-info-get",
        "{\"cs7abc\":{\"revision\":2,\"label\":\"auth\",\"owner\":\"application\"}}\n",
    );
    let info = b.secret_info_get(None, Some("auth")).unwrap();
    assert_eq!(
        (info.id.as_str(), info.revision, info.label.as_deref()),
        ("secret:cs7abc", 2, Some("auth"))
    );
    assert_eq!(
        t.argv("secret-info-get"),
        ["--format=json", "--label", "auth"]
    );

    t.ok("secret-grant", "");
    b.secret_grant("secret:cs7abc", 4, Some("pgbouncer-k8s/1"))
        .unwrap();
    assert_eq!(
        t.argv("secret-grant"),
        [
            "--relation",
            "4",
            "--unit",
            "pgbouncer-k8s/1",
            "secret:cs7abc"
        ]
    );
    t.ok("secret-revoke", "");
    b.secret_revoke("secret:cs7abc", 4, None).unwrap();
    assert_eq!(
        t.argv("secret-revoke"),
        ["--relation", "4", "secret:cs7abc"]
    );
    t.ok("secret-remove", "");
    b.secret_remove("secret:cs7abc", Some(1)).unwrap();
    assert_eq!(
        t.argv("secret-remove"),
        ["secret:cs7abc", "--revision", "1"]
    );
}

#[test]
fn action_tools() {
    let t = Tools::new();
    let b = t.backend();
    t.ok(
        "action-get",
        "{\"user\":\"x\",\"count\":3,\"opts\":{\"a\":true}}\n",
    );
    let params = b.action_get().unwrap();
    assert_eq!(params["user"], "x");
    assert_eq!(params["count"], 3);
    assert_eq!(params["opts"]["a"], true);
    assert_eq!(t.argv("action-get"), ["--format=json"]);
    t.ok("action-set", "");
    b.action_set(&map(&[("a.b", "1"), ("out", "x = y")]))
        .unwrap();
    assert_eq!(t.argv("action-set"), ["a.b=1", "out=x = y"]);
    t.ok("action-fail", "");
    b.action_fail("-nope").unwrap();
    assert_eq!(t.argv("action-fail"), ["--", "-nope"]);
    t.ok("action-log", "");
    b.action_log("step 1").unwrap();
    assert_eq!(t.argv("action-log"), ["--", "step 1"]);
}

#[test]
fn ports_network_resources_goal_state() {
    let t = Tools::new();
    let b = t.backend();
    let pg = OpenedPort {
        protocol: PortProtocol::Tcp,
        port: Some(6432),
        to_port: None,
    };
    t.ok("open-port", "");
    b.open_port(&pg, &[]).unwrap();
    assert_eq!(t.argv("open-port"), ["6432/tcp"]);
    t.ok("close-port", "");
    b.close_port(&pg, &[]).unwrap();
    assert_eq!(t.argv("close-port"), ["6432/tcp"]);
    t.ok(
        "opened-ports",
        "[\"6432/tcp\",\"8000-8010/udp\",\"icmp\"]\n",
    );
    let ports = b.opened_ports().unwrap();
    assert_eq!(
        ports,
        [
            pg,
            OpenedPort {
                protocol: PortProtocol::Udp,
                port: Some(8000),
                to_port: Some(8010),
            },
            OpenedPort {
                protocol: PortProtocol::Icmp,
                port: None,
                to_port: None,
            },
        ]
    );
    assert_eq!(t.argv("opened-ports"), ["--format=json"]);
    t.ok(
        "network-get",
        "{\"bind-addresses\":[{\"interface-name\":\"eth0\",\"addresses\":[{\"value\":\"127.1.1.1\",\"cidr\":\"127.1.1.0/24\"}]}],\
         \"egress-subnets\":[\"127.1.1.1/32\"],\"ingress-addresses\":[\"127.1.1.1\"]}\n",
    );
    let net = b.network_get("database", None).unwrap();
    assert_eq!(net["ingress-addresses"][0], "127.1.1.1");
    assert_eq!(net["bind-addresses"][0]["interface-name"], "eth0");
    assert_eq!(t.argv("network-get"), ["--format=json", "database"]);
    t.ok(
        "resource-get",
        "/var/lib/juju/agents/unit-pg-0/resources/img\n",
    );
    assert_eq!(
        b.resource_get("img").unwrap(),
        PathBuf::from("/var/lib/juju/agents/unit-pg-0/resources/img")
    );
    assert_eq!(t.argv("resource-get"), ["img"]);
    t.ok("goal-state", "{\"units\":{},\"relations\":{}}\n");
    assert!(b.goal_state().unwrap()["units"].is_object());
    assert_eq!(t.argv("goal-state"), ["--format=json"]);
}

#[test]
fn relation_not_found() {
    let t = Tools::new();
    t.fail(
        "relation-get",
        "ERROR invalid value \"db:9\" for option -r: relation not found\n",
        2,
    );
    let err = t
        .backend()
        .relation_get(&RelationRef::new("db", 9), "pg/0", false)
        .unwrap_err();
    match err {
        BackendError::RelationNotFound {
            relation,
            command,
            stderr,
        } => {
            assert_eq!(relation, "db:9");
            assert_eq!(command, "relation-get");
            assert_eq!(
                stderr,
                "ERROR invalid value \"db:9\" for option -r: relation not found"
            );
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn cannot_write_relation_settings_is_permission_denied() {
    let t = Tools::new();
    t.fail("relation-set", "ERROR cannot write relation settings\n", 1);
    match t
        .backend()
        .relation_set(&rel(), true, &map(&[("k", "v")]))
        .unwrap_err()
    {
        BackendError::PermissionDenied {
            command,
            args,
            stderr,
        } => {
            assert_eq!(command, "relation-set");
            assert_eq!(args, ["-r", "pgb-peers:2", "--app", "--file", "-"]);
            assert_eq!(stderr, "ERROR cannot write relation settings");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn reading_a_forbidden_bag_is_permission_denied() {
    let t = Tools::new();
    t.fail("relation-get", "ERROR permission denied\n", 1);
    assert!(matches!(
        t.backend().relation_get(&rel(), "pgbouncer-k8s", true),
        Err(BackendError::PermissionDenied { command, .. }) if command == "relation-get"
    ));
}

#[test]
fn not_the_leader_is_permission_denied() {
    let t = Tools::new();
    t.fail("status-set", "ERROR this unit is not the leader\n", 1);
    assert!(matches!(
        t.backend()
            .status_set(true, &StatusInfo::new(StatusName::Active, "")),
        Err(BackendError::PermissionDenied { command, .. }) if command == "status-set"
    ));
}

#[test]
fn secret_not_found() {
    let t = Tools::new();
    t.fail("secret-get", "ERROR secret not found\n", 1);
    match t
        .backend()
        .secret_get(Some("secret:zz"), None, false, false)
        .unwrap_err()
    {
        BackendError::SecretNotFound {
            secret,
            command,
            stderr,
        } => {
            assert_eq!(secret, "secret:zz");
            assert_eq!(command, "secret-get");
            assert_eq!(stderr, "ERROR secret not found");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn any_other_failure_is_tool_failed() {
    let t = Tools::new();
    t.fail("config-get", "ERROR something else broke\n", 3);
    match t.backend().config_get().unwrap_err() {
        BackendError::ToolFailed {
            command,
            args,
            status,
            stderr,
        } => {
            assert_eq!(command, "config-get");
            assert_eq!(args, ["--format=json"]);
            assert_eq!(status, 3);
            assert_eq!(stderr, "ERROR something else broke");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn malformed_json_is_malformed_output() {
    let t = Tools::new();
    let b = t.backend();
    t.ok("is-leader", "maybe\n");
    assert!(matches!(
        b.is_leader(),
        Err(BackendError::MalformedOutput { command, output, .. })
            if command == "is-leader" && output == "maybe\n"
    ));
    t.ok("relation-get", "{\"k\": 1}");
    assert!(matches!(
        b.relation_get(&rel(), "x/0", false),
        Err(BackendError::MalformedOutput { .. })
    ));
    t.ok("relation-ids", "[\"no-id\"]");
    assert!(matches!(
        b.relation_ids("db"),
        Err(BackendError::MalformedRelationId { value }) if value == "no-id"
    ));
    t.ok("config-get", &format!("{{{}", "x".repeat(100_000)));
    match b.config_get().unwrap_err() {
        BackendError::MalformedOutput { output, .. } => {
            assert!(output.len() < 400, "cut to a few hundred chars");
        }
        other => panic!("{other:?}"),
    }
    t.ok("secret-get", "{\"password\": [\"hunter2\"]}");
    let err = b
        .secret_get(Some("secret:1"), None, false, false)
        .unwrap_err();
    assert!(
        matches!(err, BackendError::MalformedOutput { .. }),
        "{err:?}"
    );
    assert!(!format!("{err} {err:?}").contains("hunter2"), "{err:?}");
    t.ok("resource-get", "\n");
    assert!(matches!(
        b.resource_get("img"),
        Err(BackendError::MalformedOutput { .. })
    ));
}

#[test]
fn a_missing_tool_is_a_spawn_error() {
    let t = Tools::new();
    let missing = HookTools::with_tool_dir(t.dir.path().join("nowhere"));
    assert!(matches!(
        missing.is_leader(),
        Err(BackendError::Spawn { command, .. }) if command == "is-leader"
    ));
    // Present but not executable.
    std::fs::write(t.dir.path().join("config-get"), "not a program").unwrap();
    assert!(matches!(
        t.backend().config_get(),
        Err(BackendError::Spawn { command, .. }) if command == "config-get"
    ));
}

#[test]
fn tools_run_with_operator_dispatch_set_to_the_dispatch_path() {
    let tools = Tools::new();
    tools.script("is-leader", "true", "", 0);
    let plain = HookTools::with_tool_dir(tools.dir.path());
    assert!(plain.is_leader().unwrap());
    let env = |t: &Tools| std::fs::read_to_string(t.file("is-leader", "env")).unwrap();
    assert_eq!(env(&tools), "<unset>");
    let marked = plain.with_operator_dispatch("hooks/install");
    assert!(marked.is_leader().unwrap());
    assert_eq!(env(&tools), "hooks/install");
}

#[test]
fn a_tool_that_never_ends_is_killed_at_its_deadline() {
    let tools = Tools::new();
    tools.script("is-leader", "true", "", 0);
    // Opening a FIFO nobody writes blocks for ever: the tool never ends.
    let fifo = tools.file("is-leader", "block");
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap();
    assert!(made.success());
    let hook_tools = HookTools::with_tool_dir(tools.dir.path())
        .with_deadline(std::time::Duration::from_millis(200));
    match hook_tools.is_leader() {
        Err(BackendError::Timeout { command, .. }) => assert_eq!(command, "is-leader"),
        other => panic!("expected a timeout, got {other:?}"),
    }
    std::fs::remove_file(&fifo).unwrap();
    assert!(hook_tools.is_leader().unwrap());
}
