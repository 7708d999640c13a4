//! What `ops-sim` shows a person: the account of a run (hooks per step and
//! unit, databag writes with secrets hidden, service events, failures with
//! their stderr, statuses), the Mermaid sequence diagram and the Markdown
//! report, read as a person reads them.
//!
//! The charm is a POSIX shell charm written here: it writes a secret and a
//! file-like value to the peer app bag, answers the database relation with
//! a DSN that carries the database's password, plans and signals a service
//! through its Pebble (with curl), deletes a key, and fails update-status
//! once on its second unit.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use crate::common;
use ops_testing::binaries::hook_tool;
use ops_testing::sim::{Report, Scenario, Simulator, account, mermaid};

const DISPATCH: &str = r#"#!/bin/sh
set -e
hook="${JUJU_DISPATCH_PATH#hooks/}"
sock=/charm/containers/web/pebble.socket
if [ -n "${OPS_CONTAINERS_DIR:-}" ]; then sock="$OPS_CONTAINERS_DIR/web/pebble.socket"; fi
pebble() {
    curl -sf --unix-socket "$sock" -X POST -H 'Content-Type: application/json' \
        -d "$2" "http://localhost$1" >/dev/null
}
peers=$(relation-ids replicas | head -n 1)
leader=$(is-leader --format=json)
case "$hook" in
replicas-relation-created)
    relation-set -r "$JUJU_RELATION_ID" host=127.0.0.1 ;;
leader-elected)
    relation-set --app -r "$peers" admin-password=TOPSECRET-admin-pw \
        "cfg_file=$(printf 'line one\nline two')" ;;
web-pebble-ready)
    pebble /v1/layers '{"action":"add","label":"base","format":"yaml","layer":"services:\n  svc:\n    override: replace\n    command: sleep 1000\n    startup: enabled\n"}'
    pebble /v1/services '{"action":"replan","services":[]}' ;;
database-relation-changed)
    if [ "$leader" = true ]; then
        pw=$(relation-get --app -r "$JUJU_RELATION_ID" password db)
        relation-set --app -r "$JUJU_RELATION_ID" username=relation_user \
            "dsn=host=127.0.0.1 password=$pw"
    fi ;;
update-status)
    if [ "$JUJU_UNIT_NAME" = shell/1 ] && [ ! -e "$JUJU_CHARM_DIR/failed-once" ]; then
        touch "$JUJU_CHARM_DIR/failed-once"
        pw=$(relation-get --app -r "$(relation-ids database)" password db)
        echo "starting update-status with $pw" >&2
        echo "boom: update-status broke" >&2
        exit 3
    fi
    pebble /v1/signals '{"signal":"SIGHUP","services":["svc"]}'
    if [ "$leader" = true ]; then relation-set --app -r "$peers" cfg_file=; fi ;;
esac
status-set active ready
"#;

const SCENARIO: &str = "\
model: acct
charm: {dir: shell}
apps:
  db:
    endpoints: {server: {role: provides, interface: pgsql}}
steps:
  - deploy: {units: 2}
  - relate: {endpoint: database, app: db, remote-endpoint: server,
             app-data: {password: TOPSECRET-db-pw, endpoints: '127.0.0.1:5432'}}
  - update-status: {}
  - update-status: {}
";

/// Writes the charm and `scenario` under `dir`; returns the scenario's path.
fn write_charm(dir: &Path, scenario_text: &str) -> PathBuf {
    write_charm_with(dir, DISPATCH, scenario_text)
}

/// The same, with another `dispatch`.
fn write_charm_with(dir: &Path, dispatch_text: &str, scenario_text: &str) -> PathBuf {
    let charm = dir.join("shell");
    std::fs::create_dir_all(&charm).unwrap();
    std::fs::write(charm.join("charmcraft.yaml"), common::SHELL_META).unwrap();
    let dispatch = charm.join("dispatch");
    std::fs::write(&dispatch, dispatch_text).unwrap();
    std::fs::set_permissions(&dispatch, std::fs::Permissions::from_mode(0o755)).unwrap();
    let scenario = dir.join("scenario.yaml");
    std::fs::write(&scenario, scenario_text).unwrap();
    scenario
}

/// The scenario and its report, run once for every test that reads them.
fn run() -> &'static (Scenario, Report) {
    static RUN: OnceLock<(Scenario, Report)> = OnceLock::new();
    RUN.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let path = write_charm(dir.path(), SCENARIO);
        let scenario = Scenario::load(&path).unwrap();
        let report = Simulator::run_scenario(
            &scenario,
            dir.path(),
            &dir.path().join("work"),
            &hook_tool().unwrap(),
            None,
        )
        .unwrap();
        (scenario, report)
    })
}

/// The account's block for step `n`: from its heading to the blank line
/// after it (its last line's newline included).
fn step_block(account: &str, n: usize) -> String {
    let heading = format!("\nstep {n}: ");
    let start = account
        .find(&heading)
        .unwrap_or_else(|| panic!("no {heading:?} in\n{account}"))
        + 1;
    let rest = &account[start..];
    rest[..rest.find("\n\n").map_or(rest.len(), |end| end + 1)].to_string()
}

#[test]
fn the_account_tells_each_step_and_hides_secrets() {
    let (scenario, report) = run();
    let text = account::account(scenario, report);
    let total = report.hooks.len();
    assert!(
        text.starts_with(&format!(
            "model acct: 4 steps, {total} hooks run, 1 failed\n"
        )),
        "{text}"
    );
    assert!(!text.contains("TOPSECRET"), "a secret leaked:\n{text}");

    let deploy = step_block(&text, 1);
    assert!(deploy.starts_with("step 1: deploy 2 units\n"), "{deploy}");
    assert!(
        deploy.contains(
            "      wrote replicas:0 shell: admin-password=(secret), cfg_file=(17 bytes)\n"
        ),
        "{deploy}"
    );
    assert!(
        deploy.contains("    web-pebble-ready\n      pebble: start svc\n"),
        "{deploy}"
    );
    assert!(
        deploy.contains("wrote replicas:0 shell/1: host=127.0.0.1"),
        "{deploy}"
    );

    let relate = step_block(&text, 2);
    assert!(
        relate.starts_with(
            "step 2: relate database to db:server with endpoints=127.0.0.1:5432, password=(secret)\n"
        ),
        "{relate}"
    );
    assert!(
        relate.contains(
            "      wrote database:1 shell: dsn=host=127.0.0.1 password=***, username=relation_user\n"
        ),
        "{relate}"
    );

    let failing = step_block(&text, 3);
    assert!(
        failing.contains("  ! update-status FAILED (exit 3); its writes were dropped\n"),
        "{failing}"
    );
    assert!(
        failing.contains(
            "      | starting update-status with ***\n      | boom: update-status broke\n"
        ),
        "{failing}"
    );
    assert!(failing.contains("cfg_file=(deleted)"), "{failing}");

    let retry = step_block(&text, 4);
    assert!(
        retry.contains("  shell/1\n    update-status (retried)\n      pebble: SIGHUP svc\n"),
        "{retry}"
    );
    assert!(!retry.contains("FAILED"), "{retry}");

    let end = &text[text.find("\nat the end\n").expect("no end section")..];
    assert!(
        end.contains("  shell/0 (leader): active: ready; services: svc 1 start 2 SIGHUP\n"),
        "{end}"
    );
    assert!(
        end.contains("  shell/1: active: ready; services: svc 1 start 2 SIGHUP\n"),
        "{end}"
    );
}

#[test]
fn each_hook_record_says_what_it_wrote_and_did() {
    let (_, report) = run();
    let elected = report
        .hooks
        .iter()
        .find(|h| h.unit == "shell/0" && h.hook == "leader-elected")
        .expect("leader-elected on shell/0");
    assert_eq!(elected.step, 1);
    assert_eq!(elected.writes.len(), 1, "{elected:#?}");
    let write = &elected.writes[0];
    assert_eq!((write.relation, write.endpoint.as_str()), (0, "replicas"));
    assert_eq!(write.bag, "shell");
    assert_eq!(write.keys, ["admin-password", "cfg_file"]);
    assert_eq!(
        write.values["cfg_file"].as_deref(),
        Some("line one\nline two")
    );
    // Serialized, a write names its keys, never their values.
    let yaml = serde_norway::to_string(&elected.writes).unwrap();
    assert!(yaml.contains("admin-password"), "{yaml}");
    assert!(!yaml.contains("TOPSECRET"), "{yaml}");

    let failed = report
        .hooks
        .iter()
        .find(|h| h.exit_code != 0)
        .expect("a failed hook");
    assert_eq!(
        (failed.unit.as_str(), failed.hook.as_str(), failed.step),
        ("shell/1", "update-status", 3)
    );
    assert!(failed.writes.is_empty() && failed.service_events.is_empty());
    let ready: Vec<_> = report
        .hooks
        .iter()
        .filter(|h| h.hook == "web-pebble-ready")
        .map(|h| (h.unit.as_str(), h.service_events.clone()))
        .collect();
    assert_eq!(
        ready,
        [
            ("shell/0", vec!["web: start svc".to_string()]),
            ("shell/1", vec!["web: start svc".to_string()])
        ]
    );
}

#[test]
fn the_diagram_is_mermaid_with_writes_as_messages() {
    let (scenario, report) = run();
    let diagram = mermaid::sequence(scenario, report);
    assert_eq!(mermaid::check(&diagram), Ok(()), "{diagram}");
    assert!(!diagram.contains("TOPSECRET"), "{diagram}");
    let lines: Vec<&str> = diagram.lines().map(str::trim).collect();
    assert_eq!(
        &lines[..4],
        [
            "sequenceDiagram",
            "participant u0 as shell/0",
            "participant u1 as shell/1",
            "participant a0 as db",
        ]
    );
    for expected in [
        "Note over u0,a0: step 1: deploy 2 units",
        "u0->>u1: replicas:0 shell: admin-password, cfg_file",
        "u1->>u0: replicas:0 shell/1: host",
        "a0-->>u0: database:1 db: endpoints, password",
        "a0-->>u1: database:1 db: endpoints, password",
        "u0->>a0: database:1 shell: dsn, username",
        "Note over u1: update-status FAILED (exit 3)<br/>boom: update-status broke",
        "Note over u0: at the end: leader, active: ready",
    ] {
        assert!(lines.contains(&expected), "no {expected:?} in\n{diagram}");
    }
    let failure = lines
        .iter()
        .position(|l| l.starts_with("Note over u1: update-status FAILED"))
        .unwrap();
    assert_eq!(lines[failure - 1], "rect rgb(255, 221, 221)");
    assert_eq!(lines[failure + 1], "end");

    let markdown = mermaid::markdown("run", scenario, report);
    assert!(markdown.starts_with("# run\n"), "{markdown}");
    assert!(
        markdown.contains(&format!("```mermaid\n{diagram}```\n")),
        "{markdown}"
    );
    assert!(
        markdown.contains(&format!(
            "```text\n{}```",
            account::account(scenario, report)
        )),
        "{markdown}"
    );
}

#[test]
fn ops_sim_prints_the_account_by_default_and_other_formats_on_request() {
    let dir = tempfile::tempdir().unwrap();
    let one_step =
        SCENARIO.split("steps:").next().unwrap().to_string() + "steps:\n  - deploy: {units: 1}\n";
    let scenario = write_charm(dir.path(), &one_step);
    let ops_sim = env!("CARGO_BIN_EXE_ops-sim");
    let run = |args: &[&str]| {
        let output = Command::new(ops_sim)
            .arg(&scenario)
            .args(args)
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "ops-sim {args:?}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8(output.stdout).unwrap()
    };
    let text = run(&[]);
    assert!(text.starts_with("model acct: 1 step, "), "{text}");
    assert!(text.contains("\nat the end\n"), "{text}");
    assert!(run(&["--format", "mermaid"]).starts_with("sequenceDiagram\n"));
    assert!(run(&["--format", "markdown"]).starts_with("# ops-sim: scenario.yaml (model acct)\n"));
    let yaml = run(&["--format", "yaml"]);
    assert!(yaml.starts_with("model: acct\n"), "{yaml}");
    let json: serde_json::Value = serde_json::from_str(&run(&["--format", "json"])).unwrap();
    assert_eq!(json["model"], "acct");

    let bad = Command::new(ops_sim)
        .arg(&scenario)
        .args(["--format", "svg"])
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&bad.stderr);
    assert!(
        stderr.contains("--format must be one of account, yaml, json, mermaid, markdown, not svg"),
        "{stderr}"
    );
}

#[test]
fn the_docs_table_has_every_step_and_its_fields() {
    let docs =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/testing.md"))
            .unwrap();
    assert_eq!(ops_testing::sim::STEPS.len(), 15);
    for step in ops_testing::sim::STEPS {
        let start = format!("| `{}: ", step.key);
        let row = docs
            .lines()
            .find(|l| l.starts_with(&start))
            .unwrap_or_else(|| panic!("docs/testing.md has no row for {}", step.key));
        for field in step.fields {
            assert!(
                row.contains(&format!("`{}`", field.name)),
                "the {} row does not name its field {}: {row}",
                step.key,
                field.name
            );
        }
    }
}

/// `ops-sim` with `args`: (exit code, stdout, stderr).
fn ops_sim(args: &[&std::ffi::OsStr]) -> (Option<i32>, String, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_ops-sim"))
        .args(args)
        .output()
        .unwrap();
    (
        output.status.code(),
        String::from_utf8(output.stdout).unwrap(),
        String::from_utf8(output.stderr).unwrap(),
    )
}

#[test]
fn ops_sim_exits_non_zero_when_a_hook_failed() {
    let dir = tempfile::tempdir().unwrap();
    // The whole scenario: shell/1's update-status fails once, then its
    // retry succeeds. A hook failed: the run failed.
    let scenario = write_charm(dir.path(), SCENARIO);
    let (code, stdout, stderr) = ops_sim(&[scenario.as_os_str()]);
    assert_eq!(code, Some(1), "{stderr}");
    assert!(
        stdout.contains("\nat the end\n"),
        "the account is printed: {stdout}"
    );
    assert!(
        stderr.contains(
            "ops-sim: shell/1 update-status (step 3) exited 3: boom: update-status broke\n"
        ),
        "{stderr}"
    );
    assert!(stderr.contains(" hooks failed\n"), "{stderr}");
    assert!(stderr.starts_with("ops-sim: shell/1") || stderr.contains("\nops-sim: shell/1"));
    assert!(!stderr.contains("TOPSECRET") && !stdout.contains("TOPSECRET"));
    for format in ["yaml", "json", "mermaid", "markdown"] {
        let (code, _, stderr) =
            ops_sim(&[scenario.as_os_str(), "--format".as_ref(), format.as_ref()]);
        assert_eq!(code, Some(1), "--format {format}: {stderr}");
        assert!(stderr.contains("1 of "), "--format {format}: {stderr}");
    }
}

#[test]
fn a_unit_whose_hook_failed_is_in_error_until_a_retry_succeeds() {
    let dir = tempfile::tempdir().unwrap();
    // Without the last step, shell/1's update-status is never retried.
    let three_steps = SCENARIO.rsplit_once("  - update-status: {}\n").unwrap().0;
    let scenario = write_charm(dir.path(), three_steps);
    let (code, stdout, stderr) =
        ops_sim(&[scenario.as_os_str(), "--format".as_ref(), "yaml".as_ref()]);
    assert_eq!(code, Some(1), "{stderr}");
    let model: serde_norway::Value = serde_norway::from_str(&stdout).unwrap();
    assert_eq!(
        model["units"]["shell/1"]["status"].as_str(),
        Some("error: hook failed: \"update-status\"")
    );
    assert_eq!(
        model["units"]["shell/0"]["status"].as_str(),
        Some("active: ready")
    );
    let (_, account, _) = ops_sim(&[scenario.as_os_str()]);
    assert!(
        account.contains("\n  shell/1: error: hook failed: \"update-status\"; services:"),
        "{account}"
    );
    // With the retry that succeeds, the unit shows its own status again.
    let (_, report) = run();
    assert_eq!(report.units["shell/1"].status, "active: ready");
}

#[test]
fn ops_sim_help_goes_to_stdout_and_exits_zero() {
    for flag in ["--help", "-h"] {
        let (code, stdout, stderr) = ops_sim(&[flag.as_ref()]);
        assert_eq!(code, Some(0), "{flag}: {stderr}");
        assert!(
            stdout.starts_with("usage: ops-sim SCENARIO.yaml"),
            "{stdout}"
        );
        assert!(stdout.contains("--format FORMAT"), "{stdout}");
        assert!(stdout.contains("Exit status"), "{stdout}");
        assert_eq!(stderr, "", "{flag}");
    }
    // A usage error still goes to stderr, with status 2.
    let (code, stdout, stderr) = ops_sim(&["--bogus".as_ref()]);
    assert_eq!(code, Some(2));
    assert_eq!(stdout, "");
    assert!(stderr.contains("unknown option --bogus"), "{stderr}");
}

/// A charm whose status message and failure message are long, with
/// characters of several bytes.
const LONG_DISPATCH: &str = r#"#!/bin/sh
set -e
hook="${JUJU_DISPATCH_PATH#hooks/}"
msg="état: $(printf 'données répliquées %.0s' 1 2 3 4 5 6 7 8 9 10) — fin"
if [ "$hook" = update-status ]; then
    echo "échec: $(printf 'connexion refusée %.0s' 1 2 3 4 5 6 7 8) — fin" >&2
    exit 1
fi
status-set active "$msg"
"#;

#[test]
fn status_and_failure_messages_are_never_cut() {
    let dir = tempfile::tempdir().unwrap();
    let scenario_text =
        "model: long\ncharm: {dir: shell}\nsteps:\n  - deploy: {units: 1}\n  - update-status: {}\n";
    let scenario = write_charm_with(dir.path(), LONG_DISPATCH, scenario_text);
    let status = format!("état: {} — fin", "données répliquées ".repeat(10));
    let failure = format!("échec: {} — fin", "connexion refusée ".repeat(8));
    let (code, account, stderr) = ops_sim(&[scenario.as_os_str()]);
    assert_eq!(code, Some(1), "{stderr}");
    assert!(
        account.contains(&format!("      | {failure}\n")),
        "{account}"
    );
    // The unit is in error at the end; the status it set shows whole in
    // the step that set it (the final model) before the failure.
    let (_, mermaid, _) = ops_sim(&[
        scenario.as_os_str(),
        "--format".as_ref(),
        "mermaid".as_ref(),
    ]);
    assert!(
        mermaid.contains("at the end: leader, error: hook failed: \"update-status\""),
        "{mermaid}"
    );
    // In the diagram a failure's line is cut at a character, marked `…`.
    let note = mermaid
        .lines()
        .find(|l| l.contains("update-status FAILED"))
        .unwrap();
    assert!(note.ends_with('…'), "{note}");
    // A status message is never shortened, in any format.
    let three_steps = scenario_text.replace("  - update-status: {}\n", "");
    let scenario = write_charm_with(dir.path(), LONG_DISPATCH, &three_steps);
    let (code, account, _) = ops_sim(&[scenario.as_os_str()]);
    assert_eq!(code, Some(0));
    assert!(
        account.contains(&format!("  shell/0 (leader): active: {status}\n")),
        "{account}"
    );
    let (_, mermaid, _) = ops_sim(&[
        scenario.as_os_str(),
        "--format".as_ref(),
        "mermaid".as_ref(),
    ]);
    assert!(
        mermaid.contains(&format!("at the end: leader, active: {status}")),
        "{mermaid}"
    );
}

/// A charm whose `boom` action fails.
const ACTION_DISPATCH: &str = r#"#!/bin/sh
set -e
case "$JUJU_DISPATCH_PATH" in
actions/boom) echo "boom failed" >&2; exit 4 ;;
esac
status-set active ready
"#;

#[test]
fn a_failed_action_fails_the_run_but_not_the_unit() {
    let dir = tempfile::tempdir().unwrap();
    let text = "model: act\ncharm: {dir: shell}\nsteps:\n  - deploy: {units: 1}\n  - run-action: {unit: shell/0, action: boom}\n  - update-status: {}\n";
    let scenario = write_charm_with(dir.path(), ACTION_DISPATCH, text);
    let (code, stdout, stderr) = ops_sim(&[
        scenario.as_os_str(),
        "--format".as_ref(),
        "yaml".as_ref(),
        "--hooks".as_ref(),
    ]);
    assert_eq!(code, Some(1), "{stderr}");
    assert!(
        stderr.contains("ops-sim: shell/0 actions/boom (step 2) exited 4: boom failed\n"),
        "{stderr}"
    );
    let model: serde_norway::Value = serde_norway::from_str(&stdout).unwrap();
    assert_eq!(
        model["units"]["shell/0"]["status"].as_str(),
        Some("active: ready")
    );
    // Not retried, and the unit goes on running hooks.
    let hooks: Vec<(u64, &str)> = model["hooks"]
        .as_sequence()
        .unwrap()
        .iter()
        .filter(|h| h["step"].as_u64() > Some(1))
        .map(|h| (h["step"].as_u64().unwrap(), h["hook"].as_str().unwrap()))
        .collect();
    assert_eq!(hooks, [(2, "actions/boom"), (3, "update-status")]);
}
