//! The hook tools as real processes: one executable, `juju-hook-tool`, acts
//! as the tool its `argv[0]` names, over the model in the JSON file named by
//! `$OPS_FAKE_JUJU_STATE`.
//!
//! It reads its command line as Juju's tools do (flags before or after
//! positionals, `--flag=value` or `--flag value`, `-r 3` or `-r db:3`,
//! `--app=True`, `--`, `--file -` with YAML or JSON on stdin), answers as
//! they do (`--format smart|yaml|json`), and fails as they do: `ERROR
//! <message>` on stderr, exit status 2 for a bad command line, 1 otherwise.
//!
//! The hook context comes from the environment Juju sets: `JUJU_UNIT_NAME`
//! (required), `JUJU_RELATION_ID` (the default of `-r`, `name:id` or `id`),
//! `JUJU_REMOTE_UNIT` and `JUJU_REMOTE_APP` (the default member of
//! `relation-get`), `JUJU_DEPARTING_UNIT` (left out of `relation-list`),
//! `JUJU_ACTION_NAME` (set in an action's hook: the `action-*` tools then
//! work on the action [`FakeJuju::start_action`] started), `JUJU_HOOK_NAME`
//! (in a restricted hook, [`RESTRICTED_HOOKS`], the [`RESTRICTED_TOOLS`]
//! refuse with Juju's [`RESTRICTED_CONTEXT`] message, exit status 1).
//!
//! The model file is shared by every unit's processes: each call holds a
//! lock for its read-modify-write ([`with_state`]). A hook's pending writes
//! live in the model too (by unit), so whoever runs the hooks calls
//! [`FakeJuju::begin_hook`] and [`FakeJuju::end_hook`] around each one.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use ops::backend::RelationRef;

use super::cmd::Fail;
use super::restricted::refusal;
pub use super::store::{create_state, load_state, lock_path, save_state, with_state};
use super::tools;
use super::{FakeJuju, HookContext, app_of};
#[cfg(doc)]
use super::{RESTRICTED_CONTEXT, RESTRICTED_HOOKS, RESTRICTED_TOOLS};

/// The environment variable naming the model's state file.
pub const STATE_VAR: &str = "OPS_FAKE_JUJU_STATE";

/// Every tool name the executable answers to.
pub const TOOLS: &[&str] = &[
    "relation-get",
    "relation-set",
    "relation-ids",
    "relation-list",
    "relation-model-get",
    "is-leader",
    "config-get",
    "status-set",
    "status-get",
    "juju-log",
    "state-get",
    "state-set",
    "state-delete",
    "secret-add",
    "secret-get",
    "secret-info-get",
    "secret-set",
    "secret-grant",
    "secret-revoke",
    "secret-remove",
    "secret-ids",
    "application-version-set",
    "add-metric",
    "open-port",
    "close-port",
    "opened-ports",
    "network-get",
    "goal-state",
    "resource-get",
    "action-get",
    "action-set",
    "action-fail",
    "action-log",
    "leader-get",
    "leader-set",
    "credential-get",
    "juju-reboot",
    "storage-list",
    "storage-get",
    "storage-add",
];

/// Makes every tool name in [`TOOLS`] a symlink in `dir` (created if
/// needed) to the `juju-hook-tool` executable `exe`; put `dir` on `PATH`.
pub fn install_hook_tools(exe: &Path, dir: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    for tool in TOOLS {
        let link = dir.join(tool);
        if std::fs::symlink_metadata(&link).is_ok() {
            std::fs::remove_file(&link)?;
        }
        std::os::unix::fs::symlink(exe, &link)?;
    }
    Ok(())
}

/// What one tool run ends with.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Outcome {
    /// The exit status: 0, 1 (Juju refused or failed), 2 (bad command line).
    pub status: i32,
    /// What it prints on stdout.
    pub stdout: String,
    /// What it prints on stderr (`ERROR <message>` on failure).
    pub stderr: String,
}

/// Runs one tool invocation of `ctx.unit` against the model: `tool` as
/// named by `argv[0]`, `argv` its arguments, `stdin` what it was given on
/// standard input.
pub fn run_tool(
    juju: &mut FakeJuju,
    ctx: &HookContext,
    tool: &str,
    argv: &[String],
    stdin: &[u8],
) -> Outcome {
    match tools::run(juju, ctx, tool, argv, stdin) {
        Ok(reply) => Outcome {
            status: 0,
            stdout: reply.stdout,
            stderr: reply.stderr,
        },
        Err(Fail::Usage(message)) => Outcome {
            status: 2,
            stdout: String::new(),
            stderr: format!("ERROR {message}\n"),
        },
        Err(Fail::Run(message)) => Outcome {
            status: 1,
            stdout: String::new(),
            stderr: format!("ERROR {message}\n"),
        },
    }
}

/// The hook context from the environment Juju sets (see the module doc).
pub fn context_from_env(juju: &FakeJuju) -> Result<HookContext, String> {
    context_from(juju, |k| std::env::var(k).ok())
}

/// The hook context from `var` (an environment lookup).
pub fn context_from(
    juju: &FakeJuju,
    var: impl Fn(&str) -> Option<String>,
) -> Result<HookContext, String> {
    let var = |k: &str| var(k).filter(|v| !v.is_empty());
    let unit = var("JUJU_UNIT_NAME").ok_or("JUJU_UNIT_NAME is not set")?;
    let relation = var("JUJU_RELATION_ID").and_then(|raw| {
        let id: u32 = raw.rsplit(':').next()?.parse().ok()?;
        let endpoint = juju.relations.get(&id)?.endpoint_of(app_of(&unit))?;
        Some(RelationRef::new(endpoint, id))
    });
    Ok(HookContext {
        unit,
        relation,
        remote_unit: var("JUJU_REMOTE_UNIT"),
        remote_app: var("JUJU_REMOTE_APP"),
        departing_unit: var("JUJU_DEPARTING_UNIT"),
    })
}

/// A process runs in an action's hook exactly when Juju set
/// `JUJU_ACTION_NAME`: the unit's started action runs then, and only then.
fn set_action_running(juju: &mut FakeJuju, unit: &str, in_action: bool) {
    if let Some(action) = juju.units.get_mut(unit).and_then(|u| u.action.as_mut()) {
        action.running = in_action;
    }
}

/// Whether a tool invocation reads stdin (`--file -`): it is read before
/// the model is locked.
fn reads_stdin(argv: &[String]) -> bool {
    argv.iter()
        .zip(argv.iter().skip(1).map(Some).chain([None]))
        .any(|(a, next)| a == "--file=-" || (a == "--file" && next.is_some_and(|n| n == "-")))
}

/// The executable's whole life, given its tool name and arguments: returns
/// the exit status.
pub fn main_with(
    tool: &str,
    argv: &[String],
    stdin: &mut dyn Read,
    stdout: &mut dyn Write,
    stderr: &mut dyn Write,
) -> i32 {
    let Some(state) = std::env::var_os(STATE_VAR) else {
        let _ = writeln!(
            stderr,
            "ERROR {STATE_VAR} is not set: this fake hook tool needs a model state file"
        );
        return 1;
    };
    let state = PathBuf::from(state);
    let hook = std::env::var("JUJU_HOOK_NAME").unwrap_or_default();
    if let Some(message) = refusal(&hook, tool) {
        let _ = writeln!(stderr, "ERROR {message}");
        return 1;
    }
    let mut input = Vec::new();
    if reads_stdin(argv)
        && let Err(e) = stdin.read_to_end(&mut input)
    {
        let _ = writeln!(stderr, "ERROR cannot read stdin: {e}");
        return 1;
    }
    let in_action = std::env::var_os("JUJU_ACTION_NAME").is_some_and(|v| !v.is_empty());
    let result = with_state(&state, |juju| match context_from_env(juju) {
        Ok(ctx) => {
            set_action_running(juju, &ctx.unit, in_action);
            run_tool(juju, &ctx, tool, argv, &input)
        }
        Err(e) => Outcome {
            status: 1,
            stdout: String::new(),
            stderr: format!("ERROR {e}\n"),
        },
    });
    match result {
        Ok(outcome) => {
            let _ = stdout.write_all(outcome.stdout.as_bytes());
            let _ = stderr.write_all(outcome.stderr.as_bytes());
            outcome.status
        }
        Err(e) => {
            let _ = writeln!(
                stderr,
                "ERROR cannot use model state {}: {e}",
                state.display()
            );
            1
        }
    }
}
