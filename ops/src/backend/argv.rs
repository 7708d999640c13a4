//! The argv of each hook-tool call, built without running anything.
//!
//! One function per operation, so that every flag is covered by a test and
//! `HookTools` only has to run what these return.

use super::{OpenedPort, RelationRef, SecretOwner, StatusInfo};

/// A hook-tool call: the executable's name and its arguments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Call {
    /// The tool, e.g. `relation-get`.
    pub tool: &'static str,
    /// Its arguments.
    pub args: Vec<String>,
}

fn call(tool: &'static str, args: &[&str]) -> Call {
    Call {
        tool,
        args: args.iter().map(|a| a.to_string()).collect(),
    }
}

/// `relation-ids <name> --format=json`
pub fn relation_ids(endpoint: &str) -> Call {
    call("relation-ids", &[endpoint, "--format=json"])
}

/// `relation-list --format=json -r <name>:<id> [--app]`
pub fn relation_list(relation: &RelationRef, app: bool) -> Call {
    let r = relation.to_string();
    let mut c = call("relation-list", &["--format=json", "-r", &r]);
    if app {
        c.args.push("--app".into());
    }
    c
}

/// `relation-get --format=json -r <name>:<id> [--app] - <member>`
pub fn relation_get(relation: &RelationRef, member: &str, app: bool) -> Call {
    let r = relation.to_string();
    let mut c = call("relation-get", &["--format=json", "-r", &r]);
    if app {
        c.args.push("--app".into());
    }
    c.args.push("-".into());
    c.args.push(member.into());
    c
}

/// `relation-set -r <name>:<id> [--app] --file -` (a JSON map on stdin)
pub fn relation_set(relation: &RelationRef, app: bool) -> Call {
    let r = relation.to_string();
    let mut c = call("relation-set", &["-r", &r]);
    if app {
        c.args.push("--app".into());
    }
    c.args.push("--file".into());
    c.args.push("-".into());
    c
}

/// `is-leader --format=json`
pub fn is_leader() -> Call {
    call("is-leader", &["--format=json"])
}

/// `config-get --format=json`
pub fn config_get() -> Call {
    call("config-get", &["--format=json"])
}

fn py_bool(b: bool) -> &'static str {
    if b { "True" } else { "False" }
}

/// `status-set --application=True|False <status> -- <message>`
pub fn status_set(app: bool, status: &StatusInfo) -> Call {
    let flag = format!("--application={}", py_bool(app));
    call(
        "status-set",
        &[&flag, status.name.as_str(), "--", &status.message],
    )
}

/// `status-get --include-data --format=json --application=true|false`
pub fn status_get(app: bool) -> Call {
    let flag = format!("--application={app}");
    call("status-get", &["--include-data", "--format=json", &flag])
}

/// `application-version-set -- <version>`
pub fn application_version_set(version: &str) -> Call {
    call("application-version-set", &["--", version])
}

/// `juju-log --log-level <LEVEL> -- <message>`
pub fn juju_log(level: super::LogLevel, message: &str) -> Call {
    call("juju-log", &["--log-level", level.as_str(), "--", message])
}

/// `state-get --format=json`
pub fn state_get() -> Call {
    call("state-get", &["--format=json"])
}

/// `state-set --file -` (a JSON map on stdin)
pub fn state_set() -> Call {
    call("state-set", &["--file", "-"])
}

/// `state-delete <key>`
pub fn state_delete(key: &str) -> Call {
    call("state-delete", &[key])
}

/// `secret-add [--label L] [--description D] [--expire E] [--rotate R] --owner O k#file=<path>...`
///
/// `files` pairs each content key with the file holding its value.
pub fn secret_add(
    label: Option<&str>,
    description: Option<&str>,
    expire: Option<&str>,
    rotate: Option<&str>,
    owner: SecretOwner,
    files: &[(String, String)],
) -> Call {
    let mut c = call("secret-add", &[]);
    push_secret_options(&mut c, label, description, expire, rotate);
    c.args.push("--owner".into());
    c.args.push(owner.as_str().into());
    c.args
        .extend(files.iter().map(|(k, path)| format!("{k}#file={path}")));
    c
}

fn push_secret_options(
    c: &mut Call,
    label: Option<&str>,
    description: Option<&str>,
    expire: Option<&str>,
    rotate: Option<&str>,
) {
    for (flag, value) in [
        ("--label", label),
        ("--description", description),
        ("--expire", expire),
        ("--rotate", rotate),
    ] {
        if let Some(v) = value {
            c.args.push(flag.into());
            c.args.push(v.into());
        }
    }
}

/// `secret-get --format=json [<id>] [--label L] [--refresh|--peek]`
pub fn secret_get(id: Option<&str>, label: Option<&str>, refresh: bool, peek: bool) -> Call {
    let mut c = call("secret-get", &["--format=json"]);
    if let Some(id) = id {
        c.args.push(id.into());
    }
    if let Some(label) = label {
        c.args.push("--label".into());
        c.args.push(label.into());
    }
    if refresh {
        c.args.push("--refresh".into());
    } else if peek {
        c.args.push("--peek".into());
    }
    c
}

/// `secret-info-get --format=json (<id> | --label L)`
pub fn secret_info_get(id: Option<&str>, label: Option<&str>) -> Call {
    let mut c = call("secret-info-get", &["--format=json"]);
    match (id, label) {
        (Some(id), _) => c.args.push(id.into()),
        (None, Some(label)) => {
            c.args.push("--label".into());
            c.args.push(label.into());
        }
        (None, None) => {}
    }
    c
}

/// `secret-set <id> [--label L] [--description D] [--expire E] [--rotate R] [k#file=<path>...]`
pub fn secret_set(
    id: &str,
    label: Option<&str>,
    description: Option<&str>,
    expire: Option<&str>,
    rotate: Option<&str>,
    files: &[(String, String)],
) -> Call {
    let mut c = call("secret-set", &[id]);
    push_secret_options(&mut c, label, description, expire, rotate);
    c.args
        .extend(files.iter().map(|(k, path)| format!("{k}#file={path}")));
    c
}

fn grant_or_revoke(tool: &'static str, id: &str, relation_id: u32, unit: Option<&str>) -> Call {
    let r = relation_id.to_string();
    let mut c = call(tool, &["--relation", &r]);
    if let Some(unit) = unit {
        c.args.push("--unit".into());
        c.args.push(unit.into());
    }
    c.args.push(id.into());
    c
}

/// `secret-grant --relation <id> [--unit U] <secret-id>`
pub fn secret_grant(id: &str, relation_id: u32, unit: Option<&str>) -> Call {
    grant_or_revoke("secret-grant", id, relation_id, unit)
}

/// `secret-revoke --relation <id> [--unit U] <secret-id>`
pub fn secret_revoke(id: &str, relation_id: u32, unit: Option<&str>) -> Call {
    grant_or_revoke("secret-revoke", id, relation_id, unit)
}

/// `secret-remove <id> [--revision N]`
pub fn secret_remove(id: &str, revision: Option<u64>) -> Call {
    let mut c = call("secret-remove", &[id]);
    if let Some(rev) = revision {
        c.args.push("--revision".into());
        c.args.push(rev.to_string());
    }
    c
}

/// `open-port <port>/<protocol>`
pub fn open_port(port: &OpenedPort) -> Call {
    call("open-port", &[&port.to_string()])
}

/// `close-port <port>/<protocol>`
pub fn close_port(port: &OpenedPort) -> Call {
    call("close-port", &[&port.to_string()])
}

/// `opened-ports --format=json`
pub fn opened_ports() -> Call {
    call("opened-ports", &["--format=json"])
}

/// `network-get --format=json <binding>`
pub fn network_get(binding: &str) -> Call {
    call("network-get", &["--format=json", binding])
}

/// `goal-state --format=json`
pub fn goal_state() -> Call {
    call("goal-state", &["--format=json"])
}

/// `resource-get <name>`
pub fn resource_get(name: &str) -> Call {
    call("resource-get", &[name])
}

/// `action-get --format=json`
pub fn action_get() -> Call {
    call("action-get", &["--format=json"])
}

/// `action-set k=v...`
pub fn action_set(results: &super::StringMap) -> Call {
    let mut c = call("action-set", &[]);
    c.args
        .extend(results.iter().map(|(k, v)| format!("{k}={v}")));
    c
}

/// `action-fail -- <message>`
pub fn action_fail(message: &str) -> Call {
    call("action-fail", &["--", message])
}

/// `action-log -- <message>`
pub fn action_log(message: &str) -> Call {
    call("action-log", &["--", message])
}

#[cfg(test)]
mod tests {
    use super::super::{LogLevel, PortProtocol, StatusName};
    use super::*;

    fn argv(c: Call) -> String {
        format!("{} {}", c.tool, c.args.join(" "))
    }

    #[test]
    fn every_call_has_jujus_flags() {
        let r = RelationRef::new("pgb-peers", 2);
        let cases = [
            (
                relation_ids("pgb-peers"),
                "relation-ids pgb-peers --format=json",
            ),
            (
                relation_list(&r, false),
                "relation-list --format=json -r pgb-peers:2",
            ),
            (
                relation_list(&r, true),
                "relation-list --format=json -r pgb-peers:2 --app",
            ),
            (
                relation_get(&r, "pgbouncer-k8s/1", false),
                "relation-get --format=json -r pgb-peers:2 - pgbouncer-k8s/1",
            ),
            (
                relation_get(&r, "pgbouncer-k8s", true),
                "relation-get --format=json -r pgb-peers:2 --app - pgbouncer-k8s",
            ),
            (
                relation_set(&r, false),
                "relation-set -r pgb-peers:2 --file -",
            ),
            (
                relation_set(&r, true),
                "relation-set -r pgb-peers:2 --app --file -",
            ),
            (is_leader(), "is-leader --format=json"),
            (config_get(), "config-get --format=json"),
            (
                status_set(false, &StatusInfo::new(StatusName::Active, "ok")),
                "status-set --application=False active -- ok",
            ),
            (
                status_set(true, &StatusInfo::new(StatusName::Blocked, "-x")),
                "status-set --application=True blocked -- -x",
            ),
            (
                status_get(false),
                "status-get --include-data --format=json --application=false",
            ),
            (
                status_get(true),
                "status-get --include-data --format=json --application=true",
            ),
            (
                application_version_set("1.21"),
                "application-version-set -- 1.21",
            ),
            (
                juju_log(LogLevel::Warning, "-m"),
                "juju-log --log-level WARNING -- -m",
            ),
            (state_get(), "state-get --format=json"),
            (state_set(), "state-set --file -"),
            (state_delete("k"), "state-delete k"),
            (
                secret_add(
                    Some("L"),
                    Some("D"),
                    None,
                    Some("daily"),
                    SecretOwner::Unit,
                    &[("password".into(), "/tmp/f".into())],
                ),
                "secret-add --label L --description D --rotate daily --owner unit password#file=/tmp/f",
            ),
            (
                secret_get(Some("secret:1"), None, false, false),
                "secret-get --format=json secret:1",
            ),
            (
                secret_get(Some("secret:1"), Some("L"), true, false),
                "secret-get --format=json secret:1 --label L --refresh",
            ),
            (
                secret_get(None, Some("L"), false, true),
                "secret-get --format=json --label L --peek",
            ),
            (
                secret_info_get(Some("secret:1"), None),
                "secret-info-get --format=json secret:1",
            ),
            (
                secret_info_get(None, Some("L")),
                "secret-info-get --format=json --label L",
            ),
            (
                secret_set(
                    "secret:1",
                    Some("L"),
                    None,
                    None,
                    None,
                    &[("a".into(), "/f".into())],
                ),
                "secret-set secret:1 --label L a#file=/f",
            ),
            (
                secret_grant("secret:1", 3, None),
                "secret-grant --relation 3 secret:1",
            ),
            (
                secret_grant("secret:1", 3, Some("app/1")),
                "secret-grant --relation 3 --unit app/1 secret:1",
            ),
            (
                secret_revoke("secret:1", 3, None),
                "secret-revoke --relation 3 secret:1",
            ),
            (
                secret_remove("secret:1", Some(2)),
                "secret-remove secret:1 --revision 2",
            ),
            (secret_remove("secret:1", None), "secret-remove secret:1"),
            (
                open_port(&OpenedPort {
                    protocol: PortProtocol::Tcp,
                    port: Some(6432),
                }),
                "open-port 6432/tcp",
            ),
            (
                close_port(&OpenedPort {
                    protocol: PortProtocol::Udp,
                    port: Some(53),
                }),
                "close-port 53/udp",
            ),
            (opened_ports(), "opened-ports --format=json"),
            (
                network_get("database"),
                "network-get --format=json database",
            ),
            (goal_state(), "goal-state --format=json"),
            (
                resource_get("pgbouncer-image"),
                "resource-get pgbouncer-image",
            ),
            (action_get(), "action-get --format=json"),
            (
                action_set(&[("a.b".to_string(), "1".to_string())].into()),
                "action-set a.b=1",
            ),
            (action_fail("bad"), "action-fail -- bad"),
            (action_log("step"), "action-log -- step"),
        ];
        for (c, expected) in cases {
            assert_eq!(argv(c), expected);
        }
    }
}
