//! The argv of each hook-tool call, built without running anything.
//!
//! One function per operation, so that every flag is covered by a test and
//! [`HookTools`](super::HookTools) only has to run what these return. Where
//! DESIGN.md is silent the flags follow Juju's `jujuc` commands and Python
//! ops' `_ModelBackend`: `--format=json` wherever the tool has it, `--`
//! before free text (messages, versions) so that text starting with a dash
//! is not read as a flag, and secret values only as `key#file=<path>`.

use super::{
    LogLevel, OpenedPort, RelationRef, SecretAddArgs, SecretSetArgs, StatusInfo, StringMap,
};

/// A hook-tool call: the executable's name and its arguments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Call {
    /// The tool, e.g. `relation-get`.
    pub tool: &'static str,
    /// Its arguments.
    pub args: Vec<String>,
}

impl Call {
    fn new(tool: &'static str, args: &[&str]) -> Self {
        Self {
            tool,
            args: args.iter().map(|a| a.to_string()).collect(),
        }
    }

    fn push(&mut self, arg: impl Into<String>) -> &mut Self {
        self.args.push(arg.into());
        self
    }

    fn push_if(&mut self, cond: bool, flag: &str) -> &mut Self {
        if cond {
            self.args.push(flag.to_string());
        }
        self
    }

    fn push_option(&mut self, flag: &str, value: Option<&str>) -> &mut Self {
        if let Some(value) = value {
            self.args.push(flag.to_string());
            self.args.push(value.to_string());
        }
        self
    }

    /// Whether what the tool prints is secret content, which must not be
    /// copied into an error message (and from there into a log).
    pub fn output_is_secret(&self) -> bool {
        matches!(self.tool, "secret-get" | "credential-get")
    }

    /// What the tool's JSON output is, in words, for an error that may not
    /// quote it (see [`output_is_secret`](Self::output_is_secret)).
    pub fn output_shape(&self) -> &'static str {
        match self.tool {
            "credential-get" => "a cloud spec",
            "secret-get" => "a JSON map of strings",
            _ => "the expected JSON",
        }
    }

    /// Whether what the tool prints holds values (databags, unit state,
    /// config, action parameters, secret content) that must not be quoted
    /// in an error message.
    pub fn output_has_values(&self) -> bool {
        matches!(
            self.tool,
            "relation-get"
                | "state-get"
                | "config-get"
                | "action-get"
                | "secret-get"
                | "credential-get"
        )
    }

    /// The arguments as an error may show them: free text (after `--`) and
    /// `action-set` values are withheld; flags, ids, keys and labels stay.
    pub fn shown_args(&self) -> Vec<String> {
        let mut shown = Vec::with_capacity(self.args.len());
        let mut after_dashes = false;
        for arg in &self.args {
            if after_dashes {
                shown.push(TEXT_WITHHELD.to_string());
            } else if arg == "--" {
                after_dashes = true;
                shown.push(arg.clone());
            } else if self.tool == "action-set" {
                let key = arg.split_once('=').map_or(arg.as_str(), |(k, _)| k);
                shown.push(format!("{key}={TEXT_WITHHELD}"));
            } else {
                shown.push(arg.clone());
            }
        }
        shown
    }
}

/// What an error shows instead of free text or a value from argv.
pub const TEXT_WITHHELD: &str = "<withheld>";

/// `relation-ids <name> --format=json`
pub fn relation_ids(endpoint: &str) -> Call {
    Call::new("relation-ids", &[endpoint, "--format=json"])
}

/// `relation-list --format=json -r <name>:<id> [--app]`
pub fn relation_list(relation: &RelationRef, app: bool) -> Call {
    let mut c = Call::new(
        "relation-list",
        &["--format=json", "-r", &relation.to_string()],
    );
    c.push_if(app, "--app");
    c
}

/// `relation-get --format=json -r <name>:<id> [--app] - <member>`
///
/// `-` is the key: the whole bag.
pub fn relation_get(relation: &RelationRef, member: &str, app: bool) -> Call {
    let mut c = Call::new(
        "relation-get",
        &["--format=json", "-r", &relation.to_string()],
    );
    c.push_if(app, "--app").push("-").push(member);
    c
}

/// `relation-set -r <name>:<id> [--app] --file -` (a JSON map on stdin)
pub fn relation_set(relation: &RelationRef, app: bool) -> Call {
    let mut c = Call::new("relation-set", &["-r", &relation.to_string()]);
    c.push_if(app, "--app").push("--file").push("-");
    c
}

/// `is-leader --format=json`
pub fn is_leader() -> Call {
    Call::new("is-leader", &["--format=json"])
}

/// `config-get --format=json`
pub fn config_get() -> Call {
    Call::new("config-get", &["--format=json"])
}

/// Python's spelling of a boolean, as Python ops passes it to `status-set`
/// (Juju's flag parser takes `True` and `true` alike).
fn py_bool(b: bool) -> &'static str {
    if b { "True" } else { "False" }
}

/// `status-set --application=True|False <status> -- <message>`
pub fn status_set(app: bool, status: &StatusInfo) -> Call {
    let flag = format!("--application={}", py_bool(app));
    Call::new(
        "status-set",
        &[&flag, status.name.as_str(), "--", &status.message],
    )
}

/// `status-get --include-data --format=json --application=true|false`
pub fn status_get(app: bool) -> Call {
    let flag = format!("--application={app}");
    Call::new("status-get", &["--include-data", "--format=json", &flag])
}

/// `application-version-set -- <version>`
pub fn application_version_set(version: &str) -> Call {
    Call::new("application-version-set", &["--", version])
}

/// `juju-log --log-level <LEVEL> -- <message>`
pub fn juju_log(level: LogLevel, message: &str) -> Call {
    Call::new("juju-log", &["--log-level", level.as_str(), "--", message])
}

/// The most bytes of one `juju-log` message: Linux takes at most 128 KiB
/// (with its terminating NUL) per argument, as Python ops' `MAX_LOG_LINE_LEN`.
pub const MAX_LOG_CHUNK: usize = 131_071;

/// `juju-log` calls for a message of any length: NUL characters removed
/// (no argument may hold one) and the rest cut, on character boundaries,
/// into chunks of at most [`MAX_LOG_CHUNK`] bytes, in order.
pub fn juju_log_chunks(level: LogLevel, message: &str) -> Vec<Call> {
    let clean: String = message.chars().filter(|c| *c != '\0').collect();
    let mut calls = Vec::new();
    let mut rest = clean.as_str();
    loop {
        let mut end = rest.len().min(MAX_LOG_CHUNK);
        while !rest.is_char_boundary(end) {
            end -= 1;
        }
        let (chunk, tail) = rest.split_at(end);
        calls.push(juju_log(level, chunk));
        if tail.is_empty() {
            return calls;
        }
        rest = tail;
    }
}

/// `state-get --format=json`
pub fn state_get() -> Call {
    Call::new("state-get", &["--format=json"])
}

/// `state-set --file -` (a JSON map on stdin)
pub fn state_set() -> Call {
    Call::new("state-set", &["--file", "-"])
}

/// `state-delete <key>`
pub fn state_delete(key: &str) -> Call {
    Call::new("state-delete", &[key])
}

/// `key#file=<path>` for each content key and the file holding its value.
fn push_files(c: &mut Call, files: &[(String, String)]) {
    c.args
        .extend(files.iter().map(|(key, path)| format!("{key}#file={path}")));
}

/// `secret-add [--label L] [--description D] [--expire E] [--rotate R] --owner O k#file=<path>...`
///
/// `files` pairs each content key with the file holding its value; the
/// content of `args` itself is never read here.
pub fn secret_add(args: &SecretAddArgs, files: &[(String, String)]) -> Call {
    let mut c = Call::new("secret-add", &[]);
    c.push_option("--label", args.label.as_deref())
        .push_option("--description", args.description.as_deref())
        .push_option("--expire", args.expire.as_deref())
        .push_option("--rotate", args.rotate.as_deref())
        .push_option("--owner", Some(args.owner.as_str()));
    push_files(&mut c, files);
    c
}

/// `secret-get --format=json [<id>] [--label L] [--refresh|--peek]`
///
/// `--refresh` wins over `--peek`: Juju refuses both at once.
pub fn secret_get(id: Option<&str>, label: Option<&str>, refresh: bool, peek: bool) -> Call {
    let mut c = Call::new("secret-get", &["--format=json"]);
    if let Some(id) = id {
        c.push(id);
    }
    c.push_option("--label", label)
        .push_if(refresh, "--refresh")
        .push_if(peek && !refresh, "--peek");
    c
}

/// `secret-info-get --format=json (<id> | --label L)`
///
/// Juju refuses both at once, so the id wins when both are given.
pub fn secret_info_get(id: Option<&str>, label: Option<&str>) -> Call {
    let mut c = Call::new("secret-info-get", &["--format=json"]);
    match id {
        Some(id) => c.push(id),
        None => c.push_option("--label", label),
    };
    c
}

/// `secret-set <id> [--label L] [--description D] [--expire E] [--rotate R] [k#file=<path>...]`
///
/// `files` is empty when the content does not change.
pub fn secret_set(id: &str, args: &SecretSetArgs, files: &[(String, String)]) -> Call {
    let mut c = Call::new("secret-set", &[id]);
    c.push_option("--label", args.label.as_deref())
        .push_option("--description", args.description.as_deref())
        .push_option("--expire", args.expire.as_deref())
        .push_option("--rotate", args.rotate.as_deref());
    push_files(&mut c, files);
    c
}

fn grant_or_revoke(tool: &'static str, id: &str, relation_id: u32, unit: Option<&str>) -> Call {
    let mut c = Call::new(tool, &["--relation", &relation_id.to_string()]);
    c.push_option("--unit", unit).push(id);
    c
}

/// `secret-grant --relation <relation id> [--unit U] <secret id>`
pub fn secret_grant(id: &str, relation_id: u32, unit: Option<&str>) -> Call {
    grant_or_revoke("secret-grant", id, relation_id, unit)
}

/// `secret-revoke --relation <relation id> [--unit U] <secret id>`
pub fn secret_revoke(id: &str, relation_id: u32, unit: Option<&str>) -> Call {
    grant_or_revoke("secret-revoke", id, relation_id, unit)
}

/// `secret-remove <id> [--revision N]`
pub fn secret_remove(id: &str, revision: Option<u64>) -> Call {
    let mut c = Call::new("secret-remove", &[id]);
    c.push_option("--revision", revision.map(|r| r.to_string()).as_deref());
    c
}

fn port_call(tool: &'static str, port: &OpenedPort, endpoints: &[String]) -> Call {
    let mut c = Call::new(tool, &[&port.to_string()]);
    if !endpoints.is_empty() {
        c.push("--endpoints").push(endpoints.join(","));
    }
    c
}

/// `open-port <port>[-<to>]/<protocol> [--endpoints e1,e2]` (`open-port icmp`)
pub fn open_port(port: &OpenedPort, endpoints: &[String]) -> Call {
    port_call("open-port", port, endpoints)
}

/// `add-metric [--labels k=v,k2=v2] key=value...` (collect-metrics only).
/// The metrics and labels are already checked and formatted.
pub fn add_metric(metrics: &[(String, String)], labels: &[(String, String)]) -> Call {
    let mut c = Call::new("add-metric", &[]);
    if !labels.is_empty() {
        let joined: Vec<String> = labels.iter().map(|(k, v)| format!("{k}={v}")).collect();
        c.push("--labels").push(joined.join(","));
    }
    for (key, value) in metrics {
        c.push(format!("{key}={value}"));
    }
    c
}

/// `close-port <port>[-<to>]/<protocol> [--endpoints e1,e2]` (`close-port icmp`)
pub fn close_port(port: &OpenedPort, endpoints: &[String]) -> Call {
    port_call("close-port", port, endpoints)
}

/// `opened-ports --format=json`
pub fn opened_ports() -> Call {
    Call::new("opened-ports", &["--format=json"])
}

/// `network-get --format=json <binding> [-r <relation id>]`
pub fn network_get(binding: &str, relation_id: Option<u32>) -> Call {
    let mut c = Call::new("network-get", &["--format=json", binding]);
    if let Some(id) = relation_id {
        c.push("-r").push(id.to_string());
    }
    c
}

/// `goal-state --format=json`
pub fn goal_state() -> Call {
    Call::new("goal-state", &["--format=json"])
}

/// `resource-get <name>` (it prints a path, and has no `--format`)
pub fn resource_get(name: &str) -> Call {
    Call::new("resource-get", &[name])
}

/// `action-get --format=json`
pub fn action_get() -> Call {
    Call::new("action-get", &["--format=json"])
}

/// `action-set k=v...`, the keys already flattened with dots (`a.b=v`).
pub fn action_set(results: &StringMap) -> Call {
    let mut c = Call::new("action-set", &[]);
    c.args
        .extend(results.iter().map(|(k, v)| format!("{k}={v}")));
    c
}

/// `credential-get --format=json`
pub fn credential_get() -> Call {
    Call::new("credential-get", &["--format=json"])
}

/// `secret-ids --format=json`
pub fn secret_ids() -> Call {
    Call::new("secret-ids", &["--format=json"])
}

/// `juju-reboot [--now]`
pub fn juju_reboot(now: bool) -> Call {
    let mut c = Call::new("juju-reboot", &[]);
    c.push_if(now, "--now");
    c
}

/// `relation-model-get --format=json -r <name>:<id>`
pub fn relation_model_get(relation: &RelationRef) -> Call {
    Call::new(
        "relation-model-get",
        &["--format=json", "-r", &relation.to_string()],
    )
}

/// `storage-list --format=json [<name>]`
pub fn storage_list(name: Option<&str>) -> Call {
    let mut c = Call::new("storage-list", &["--format=json"]);
    if let Some(name) = name {
        c.push(name);
    }
    c
}

/// `storage-get --format=json -s <id> location`
pub fn storage_get_location(id: &str) -> Call {
    Call::new("storage-get", &["--format=json", "-s", id, "location"])
}

/// `storage-add <name>=<count>`
pub fn storage_add(name: &str, count: u32) -> Call {
    Call::new("storage-add", &[&format!("{name}={count}")])
}

/// `action-fail -- <message>`
pub fn action_fail(message: &str) -> Call {
    Call::new("action-fail", &["--", message])
}

/// `action-log -- <message>`
pub fn action_log(message: &str) -> Call {
    Call::new("action-log", &["--", message])
}

#[cfg(test)]
mod tests {
    use super::super::{PortProtocol, SecretOwner, StatusName};
    use super::*;

    #[track_caller]
    fn assert_argv(call: Call, tool: &str, args: &[&str]) {
        assert_eq!(call.tool, tool);
        assert_eq!(call.args, args, "argv of {tool}");
    }

    fn rel() -> RelationRef {
        RelationRef::new("pgb-peers", 2)
    }

    fn files() -> Vec<(String, String)> {
        vec![
            ("password".into(), "/tmp/s/value-0".into()),
            ("user".into(), "/tmp/s/value-1".into()),
        ]
    }

    #[test]
    fn relation_ids_argv() {
        assert_argv(
            relation_ids("pgb-peers"),
            "relation-ids",
            &["pgb-peers", "--format=json"],
        );
    }

    #[test]
    fn relation_list_argv() {
        assert_argv(
            relation_list(&rel(), false),
            "relation-list",
            &["--format=json", "-r", "pgb-peers:2"],
        );
    }

    #[test]
    fn relation_remote_app_argv() {
        assert_argv(
            relation_list(&rel(), true),
            "relation-list",
            &["--format=json", "-r", "pgb-peers:2", "--app"],
        );
    }

    #[test]
    fn relation_get_argv() {
        assert_argv(
            relation_get(&rel(), "pgbouncer-k8s/1", false),
            "relation-get",
            &["--format=json", "-r", "pgb-peers:2", "-", "pgbouncer-k8s/1"],
        );
        assert_argv(
            relation_get(&rel(), "pgbouncer-k8s", true),
            "relation-get",
            &[
                "--format=json",
                "-r",
                "pgb-peers:2",
                "--app",
                "-",
                "pgbouncer-k8s",
            ],
        );
    }

    #[test]
    fn relation_set_argv() {
        assert_argv(
            relation_set(&rel(), false),
            "relation-set",
            &["-r", "pgb-peers:2", "--file", "-"],
        );
        assert_argv(
            relation_set(&rel(), true),
            "relation-set",
            &["-r", "pgb-peers:2", "--app", "--file", "-"],
        );
    }

    #[test]
    fn is_leader_and_config_get_argv() {
        assert_argv(is_leader(), "is-leader", &["--format=json"]);
        assert_argv(config_get(), "config-get", &["--format=json"]);
    }

    #[test]
    fn status_set_argv() {
        assert_argv(
            status_set(false, &StatusInfo::new(StatusName::Active, "message")),
            "status-set",
            &["--application=False", "active", "--", "message"],
        );
        assert_argv(
            status_set(true, &StatusInfo::new(StatusName::Blocked, "--not a flag")),
            "status-set",
            &["--application=True", "blocked", "--", "--not a flag"],
        );
        assert_argv(
            status_set(false, &StatusInfo::new(StatusName::Waiting, "")),
            "status-set",
            &["--application=False", "waiting", "--", ""],
        );
    }

    #[test]
    fn add_metric_argv() {
        let pairs = |list: &[(&str, &str)]| -> Vec<(String, String)> {
            list.iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        };
        assert_argv(
            add_metric(&pairs(&[("clients", "12"), ("waiting", "0.5")]), &[]),
            "add-metric",
            &["clients=12", "waiting=0.5"],
        );
        assert_argv(
            add_metric(
                &pairs(&[("clients", "12")]),
                &pairs(&[("pool", "main"), ("db", "app")]),
            ),
            "add-metric",
            &["--labels", "pool=main,db=app", "clients=12"],
        );
    }

    #[test]
    fn status_get_argv() {
        assert_argv(
            status_get(false),
            "status-get",
            &["--include-data", "--format=json", "--application=false"],
        );
        assert_argv(
            status_get(true),
            "status-get",
            &["--include-data", "--format=json", "--application=true"],
        );
    }

    #[test]
    fn application_version_set_argv() {
        assert_argv(
            application_version_set("1.21.0"),
            "application-version-set",
            &["--", "1.21.0"],
        );
    }

    #[test]
    fn juju_log_argv() {
        for (level, name) in [
            (LogLevel::Debug, "DEBUG"),
            (LogLevel::Info, "INFO"),
            (LogLevel::Warning, "WARNING"),
            (LogLevel::Error, "ERROR"),
        ] {
            assert_argv(
                juju_log(level, "-m two\nlines"),
                "juju-log",
                &["--log-level", name, "--", "-m two\nlines"],
            );
        }
    }

    #[test]
    fn long_log_messages_are_chunked_and_lose_nul() {
        let message = format!("a\0b{}", "é".repeat(MAX_LOG_CHUNK));
        let calls = juju_log_chunks(LogLevel::Info, &message);
        assert_eq!(calls.len(), 3);
        let mut joined = String::new();
        for call in &calls {
            assert_eq!(&call.args[..3], ["--log-level", "INFO", "--"]);
            assert!(call.args[3].len() <= MAX_LOG_CHUNK);
            joined.push_str(&call.args[3]);
        }
        assert_eq!(joined, message.replace('\0', ""));
        assert_eq!(juju_log_chunks(LogLevel::Debug, "").len(), 1);
    }

    #[test]
    fn unit_state_argv() {
        assert_argv(state_get(), "state-get", &["--format=json"]);
        assert_argv(state_set(), "state-set", &["--file", "-"]);
        assert_argv(state_delete("k"), "state-delete", &["k"]);
    }

    #[test]
    fn secret_add_argv() {
        let all = SecretAddArgs {
            content: [("password".to_string(), "hunter2".to_string())].into(),
            label: Some("L".into()),
            description: Some("D".into()),
            expire: Some("2030-01-01T00:00:00Z".into()),
            rotate: Some("daily".into()),
            owner: SecretOwner::Unit,
        };
        let call = secret_add(&all, &files());
        assert!(call.args.iter().all(|a| !a.contains("hunter2")));
        assert_argv(
            call,
            "secret-add",
            &[
                "--label",
                "L",
                "--description",
                "D",
                "--expire",
                "2030-01-01T00:00:00Z",
                "--rotate",
                "daily",
                "--owner",
                "unit",
                "password#file=/tmp/s/value-0",
                "user#file=/tmp/s/value-1",
            ],
        );
        assert_argv(
            secret_add(&SecretAddArgs::default(), &files()[..1]),
            "secret-add",
            &["--owner", "application", "password#file=/tmp/s/value-0"],
        );
    }

    #[test]
    fn secret_get_argv() {
        assert_argv(
            secret_get(Some("secret:1"), None, false, false),
            "secret-get",
            &["--format=json", "secret:1"],
        );
        assert_argv(
            secret_get(Some("secret:1"), Some("L"), true, false),
            "secret-get",
            &["--format=json", "secret:1", "--label", "L", "--refresh"],
        );
        assert_argv(
            secret_get(None, Some("L"), false, true),
            "secret-get",
            &["--format=json", "--label", "L", "--peek"],
        );
        assert_argv(
            secret_get(Some("secret:1"), None, true, true),
            "secret-get",
            &["--format=json", "secret:1", "--refresh"],
        );
    }

    #[test]
    fn secret_info_get_argv() {
        assert_argv(
            secret_info_get(Some("secret:1"), None),
            "secret-info-get",
            &["--format=json", "secret:1"],
        );
        assert_argv(
            secret_info_get(None, Some("L")),
            "secret-info-get",
            &["--format=json", "--label", "L"],
        );
        assert_argv(
            secret_info_get(Some("secret:1"), Some("L")),
            "secret-info-get",
            &["--format=json", "secret:1"],
        );
    }

    #[test]
    fn secret_set_argv() {
        let args = SecretSetArgs {
            content: Some([("password".to_string(), "hunter2".to_string())].into()),
            label: Some("L".into()),
            description: Some("D".into()),
            expire: Some("2030-01-01T00:00:00Z".into()),
            rotate: Some("never".into()),
        };
        assert_argv(
            secret_set("secret:1", &args, &files()[..1]),
            "secret-set",
            &[
                "secret:1",
                "--label",
                "L",
                "--description",
                "D",
                "--expire",
                "2030-01-01T00:00:00Z",
                "--rotate",
                "never",
                "password#file=/tmp/s/value-0",
            ],
        );
        assert_argv(
            secret_set("secret:1", &SecretSetArgs::default(), &[]),
            "secret-set",
            &["secret:1"],
        );
    }

    #[test]
    fn secret_grant_and_revoke_argv() {
        assert_argv(
            secret_grant("secret:1", 3, None),
            "secret-grant",
            &["--relation", "3", "secret:1"],
        );
        assert_argv(
            secret_grant("secret:1", 3, Some("app/1")),
            "secret-grant",
            &["--relation", "3", "--unit", "app/1", "secret:1"],
        );
        assert_argv(
            secret_revoke("secret:1", 3, None),
            "secret-revoke",
            &["--relation", "3", "secret:1"],
        );
        assert_argv(
            secret_revoke("secret:1", 3, Some("app/1")),
            "secret-revoke",
            &["--relation", "3", "--unit", "app/1", "secret:1"],
        );
    }

    #[test]
    fn secret_remove_argv() {
        assert_argv(
            secret_remove("secret:1", None),
            "secret-remove",
            &["secret:1"],
        );
        assert_argv(
            secret_remove("secret:1", Some(2)),
            "secret-remove",
            &["secret:1", "--revision", "2"],
        );
    }

    #[test]
    fn only_secret_get_prints_secret_content() {
        assert!(secret_get(Some("secret:1"), None, false, false).output_is_secret());
        assert!(!secret_info_get(Some("secret:1"), None).output_is_secret());
        assert!(!relation_get(&rel(), "a/0", false).output_is_secret());
    }

    #[test]
    fn port_argv() {
        let tcp = OpenedPort {
            protocol: PortProtocol::Tcp,
            port: Some(6432),
            to_port: None,
        };
        let udp = OpenedPort {
            protocol: PortProtocol::Udp,
            port: Some(53),
            to_port: None,
        };
        let icmp = OpenedPort {
            protocol: PortProtocol::Icmp,
            port: None,
            to_port: None,
        };
        assert_argv(open_port(&tcp, &[]), "open-port", &["6432/tcp"]);
        assert_argv(open_port(&icmp, &[]), "open-port", &["icmp"]);
        assert_argv(close_port(&udp, &[]), "close-port", &["53/udp"]);
        let range = OpenedPort::range(PortProtocol::Tcp, 8000, 8010);
        let endpoints = ["db".to_string(), "admin".to_string()];
        assert_argv(
            open_port(&range, &endpoints),
            "open-port",
            &["8000-8010/tcp", "--endpoints", "db,admin"],
        );
        assert_argv(
            close_port(&range, &endpoints[..1]),
            "close-port",
            &["8000-8010/tcp", "--endpoints", "db"],
        );
        assert_argv(opened_ports(), "opened-ports", &["--format=json"]);
    }

    #[test]
    fn network_goal_state_and_resource_argv() {
        assert_argv(
            network_get("database", None),
            "network-get",
            &["--format=json", "database"],
        );
        assert_argv(
            network_get("database", Some(7)),
            "network-get",
            &["--format=json", "database", "-r", "7"],
        );
        assert_argv(goal_state(), "goal-state", &["--format=json"]);
        assert_argv(
            resource_get("pgbouncer-image"),
            "resource-get",
            &["pgbouncer-image"],
        );
    }

    #[test]
    fn credential_secret_ids_reboot_and_relation_model_argv() {
        assert_argv(credential_get(), "credential-get", &["--format=json"]);
        assert!(credential_get().output_is_secret());
        assert_eq!(credential_get().output_shape(), "a cloud spec");
        assert_eq!(
            secret_get(Some("secret:1"), None, false, false).output_shape(),
            "a JSON map of strings"
        );
        assert_argv(secret_ids(), "secret-ids", &["--format=json"]);
        assert_argv(juju_reboot(false), "juju-reboot", &[]);
        assert_argv(juju_reboot(true), "juju-reboot", &["--now"]);
        assert_argv(
            relation_model_get(&rel()),
            "relation-model-get",
            &["--format=json", "-r", "pgb-peers:2"],
        );
    }

    #[test]
    fn storage_argv() {
        assert_argv(storage_list(None), "storage-list", &["--format=json"]);
        assert_argv(
            storage_list(Some("data")),
            "storage-list",
            &["--format=json", "data"],
        );
        assert_argv(
            storage_get_location("data/0"),
            "storage-get",
            &["--format=json", "-s", "data/0", "location"],
        );
        assert_argv(storage_add("data", 2), "storage-add", &["data=2"]);
    }

    #[test]
    fn action_argv() {
        assert_argv(action_get(), "action-get", &["--format=json"]);
        let results = [
            ("a.b".to_string(), "1".to_string()),
            ("out".to_string(), "x=y z".to_string()),
        ]
        .into();
        assert_argv(action_set(&results), "action-set", &["a.b=1", "out=x=y z"]);
        assert_argv(action_fail("-bad"), "action-fail", &["--", "-bad"]);
        assert_argv(action_log("step 1"), "action-log", &["--", "step 1"]);
    }
}
