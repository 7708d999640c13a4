//! [`Backend`] over the real Juju hook tools.
//!
//! Each method builds its argv with a pure function from [`argv`], runs the
//! tool, and parses what it prints. Failures are read in one place,
//! [`classify_failure`].

use std::collections::BTreeMap;
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::Arc;

use serde::de::DeserializeOwned;
use serde_json::Value;

use super::argv::{self, Call};
use super::child_io::{self, Exchange, ExchangeError};
use super::{
    Backend, BackendError, CloudSpec, LogLevel, OpenedPort, RelationRef, Result, SecretAddArgs,
    SecretInfo, SecretSetArgs, StatusInfo, StatusName, StringMap,
};
use crate::redact::{json_kind, serde_reason};
use crate::yaml::json_readable_as_yaml;

/// The Juju hook tools, run as processes.
///
/// [`HookTools::new`] runs the tools Juju puts on `PATH` for the length of a
/// hook; [`HookTools::with_tool_dir`] runs them from one directory, which
/// lets tests supply fake tools without touching `PATH`. Every call waits for
/// its process; a non-zero exit becomes a [`BackendError`].
///
/// ```no_run
/// use ops::backend::{Backend, HookTools, LogLevel, RelationRef};
///
/// let tools = HookTools::new();
/// if tools.is_leader()? {
///     let peers = RelationRef::new("pgb-peers", 2);
///     let bag = tools.relation_get(&peers, "pgbouncer-k8s", true)?;
///     tools.juju_log(LogLevel::Info, &format!("app bag has {} keys", bag.len()))?;
/// }
/// # Ok::<(), ops::backend::BackendError>(())
/// ```
#[derive(Debug, Clone)]
pub struct HookTools {
    dir: Option<PathBuf>,
    operator_dispatch: Option<String>,
    deadline: std::time::Duration,
    /// Runs the tools instead of processes, when set.
    runner: Option<Arc<dyn ToolRunner>>,
}

/// What runs a hook tool for [`HookTools`] in place of a process: a test
/// kit's in-memory tool table (`ops_testing`'s fake Juju), so that an
/// in-process test builds the same argv and reads the same output as a
/// charm under Juju does. Production runs processes and needs none.
///
/// ```
/// use std::sync::Arc;
/// use ops::backend::{Backend, HookTools, ToolOutput, ToolRunner};
///
/// /// Every unit leads.
/// #[derive(Debug)]
/// struct AlwaysLeader;
///
/// impl ToolRunner for AlwaysLeader {
///     fn run(&self, tool: &str, args: &[String], _stdin: Option<&[u8]>) -> std::io::Result<ToolOutput> {
///         assert_eq!((tool, args), ("is-leader", &["--format=json".to_string()][..]));
///         Ok(ToolOutput::success("true"))
///     }
/// }
///
/// let tools = HookTools::with_runner(Arc::new(AlwaysLeader));
/// assert!(tools.is_leader().unwrap());
/// ```
pub trait ToolRunner: std::fmt::Debug + Send + Sync {
    /// Runs `tool` with `args`, given `stdin` if any: its exit status and
    /// output, as the process would have given them. An `Err` is a tool
    /// that could not be run at all.
    fn run(&self, tool: &str, args: &[String], stdin: Option<&[u8]>)
    -> std::io::Result<ToolOutput>;
}

/// What a hook tool gave back. Its `Debug` shows the lengths of the
/// output, which may hold secret content.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct ToolOutput {
    /// The exit status: 0 for success.
    pub status: i32,
    /// What it printed on stdout.
    pub stdout: Vec<u8>,
    /// What it printed on stderr.
    pub stderr: Vec<u8>,
}

impl ToolOutput {
    /// Exit status 0 and this on stdout.
    pub fn success(stdout: impl Into<Vec<u8>>) -> Self {
        Self {
            status: 0,
            stdout: stdout.into(),
            stderr: Vec::new(),
        }
    }
}

impl std::fmt::Debug for ToolOutput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ToolOutput")
            .field("status", &self.status)
            .field("stdout_len", &self.stdout.len())
            .field("stderr_len", &self.stderr.len())
            .finish()
    }
}

/// How long one hook-tool call may take by default, all of it.
pub const DEFAULT_TOOL_DEADLINE: std::time::Duration = std::time::Duration::from_secs(120);

impl Default for HookTools {
    fn default() -> Self {
        Self {
            dir: None,
            operator_dispatch: None,
            deadline: DEFAULT_TOOL_DEADLINE,
            runner: None,
        }
    }
}

/// How much of a tool's unexpected output an error keeps.
const OUTPUT_SHOWN: usize = 300;

/// What a malformed-output error shows instead of secret content.
const WITHHELD: &str = "<secret content withheld>";

/// What a malformed-output error shows instead of output that holds values.
const VALUES_WITHHELD: &str = "<output withheld: it holds values>";

/// `text` cut to [`OUTPUT_SHOWN`] characters.
fn cut(text: &str) -> String {
    match text.char_indices().nth(OUTPUT_SHOWN) {
        Some((i, _)) => format!("{}...", &text[..i]),
        None => text.to_string(),
    }
}

/// The value following `flag` in a call's arguments.
fn flag_value<'a>(call: &'a Call, flag: &str) -> Option<&'a str> {
    call.args
        .iter()
        .position(|a| a == flag)
        .and_then(|i| call.args.get(i + 1))
        .map(String::as_str)
}

/// Turns a failed tool's exit status and stderr into a typed error: the one
/// place where Juju's messages are read.
///
/// - `relation not found` → [`BackendError::RelationNotFound`]
/// - `not found` from a `secret-*` tool → [`BackendError::SecretNotFound`]
/// - `permission denied`, `cannot write relation settings`, `not the leader`
///   → [`BackendError::PermissionDenied`]
/// - anything else → [`BackendError::ToolFailed`]
pub(crate) fn classify_failure(call: &Call, status: i32, stderr: &str) -> BackendError {
    // Juju's messages name keys and ids; cut anyway, so no echo can be long.
    let stderr = cut(stderr.trim());
    let command = call.tool.to_string();
    let lower = stderr.to_ascii_lowercase();
    if lower.contains("relation not found") {
        let relation = flag_value(call, "-r")
            .or_else(|| flag_value(call, "--relation"))
            .unwrap_or_default()
            .to_string();
        return BackendError::RelationNotFound {
            relation,
            command,
            stderr,
        };
    }
    if call.tool.starts_with("secret-") && lower.contains("not found") {
        let secret = call
            .args
            .iter()
            .find(|a| a.starts_with("secret:"))
            .map(String::as_str)
            .or_else(|| flag_value(call, "--label"))
            .unwrap_or_default()
            .to_string();
        return BackendError::SecretNotFound {
            secret,
            command,
            stderr,
        };
    }
    if lower.contains("permission denied")
        || lower.contains("cannot write relation settings")
        || lower.contains("not the leader")
    {
        return BackendError::PermissionDenied {
            command,
            args: call.shown_args(),
            stderr,
        };
    }
    BackendError::ToolFailed {
        command,
        args: call.shown_args(),
        status,
        stderr,
    }
}

/// A [`BackendError::MalformedOutput`] for `call`'s output. For tools that
/// print secret content neither the output nor the parser's reason is kept;
/// for tools that print other values (databags, state, config, action
/// parameters) the output is withheld and the reason loses the values serde
/// quotes in it.
fn malformed(call: &Call, reason: impl Into<String>, output: &str) -> BackendError {
    let reason = reason.into();
    let reason = if call.output_has_values() {
        serde_reason(&reason)
    } else {
        reason
    };
    malformed_because(call, reason, output)
}

/// [`malformed`] with a reason ops wrote itself, which quotes no value.
fn malformed_because(call: &Call, reason: String, output: &str) -> BackendError {
    let (reason, output) = if call.output_is_secret() {
        // Serde's reason would quote the secret; say only what was expected.
        (format!("not {}", call.output_shape()), WITHHELD.to_string())
    } else if call.output_has_values() {
        (reason, VALUES_WITHHELD.to_string())
    } else {
        (reason, cut(output))
    };
    BackendError::MalformedOutput {
        command: call.tool.to_string(),
        reason,
        output,
    }
}

/// A tool's stdout, or the error its exit status and stderr make.
fn answer(
    call: &Call,
    status: i32,
    stdout: Vec<u8>,
    stderr: &[u8],
    traced: bool,
) -> Result<String> {
    if status != 0 {
        if traced {
            tracing::debug!(tool = call.tool, status, "hook tool failed");
        }
        return Err(classify_failure(
            call,
            status,
            &String::from_utf8_lossy(stderr),
        ));
    }
    String::from_utf8(stdout)
        .map_err(|e| malformed(call, "not UTF-8", &String::from_utf8_lossy(e.as_bytes())))
}

/// Parses JSON output. Empty output or `null` (what Juju prints for an empty
/// Go map or list) reads as the type's empty value.
fn parse_json<T: DeserializeOwned + Default>(call: &Call, output: &str) -> Result<T> {
    let trimmed = output.trim();
    if trimmed.is_empty() || trimmed == "null" {
        return Ok(T::default());
    }
    serde_json::from_str(trimmed).map_err(|e| malformed(call, e.to_string(), output))
}

/// A databag, unit state or secret content: every value must be a string.
fn parse_string_map(call: &Call, output: &str) -> Result<StringMap> {
    let map: BTreeMap<String, Value> = parse_json(call, output)?;
    map.into_iter()
        .map(|(k, v)| match v {
            Value::String(s) => Ok((k, s)),
            other => Err(malformed_because(
                call,
                format!("value of {k:?} is {}, not a string", json_kind(&other)),
                output,
            )),
        })
        .collect()
}

/// `status-get --include-data --format=json`'s answer, in any of its shapes:
/// `{"status", "message", "status-data"}` for the unit,
/// `{"application-status": {"status", "message", "status-data", "units"}}`
/// for the application, or a bare `"unknown"` when Juju has no status.
fn parse_status(call: &Call, output: &str) -> Result<StatusInfo> {
    let value: Value = parse_json(call, output)?;
    let body = value.get("application-status").unwrap_or(&value);
    let (name, message) = match body {
        Value::String(name) => (name.as_str(), ""),
        Value::Object(fields) => (
            fields
                .get("status")
                .and_then(Value::as_str)
                .ok_or_else(|| malformed(call, "no status field", output))?,
            fields
                .get("message")
                .and_then(Value::as_str)
                .unwrap_or_default(),
        ),
        _ => return Err(malformed(call, "expected a status object", output)),
    };
    let name = name
        .parse::<StatusName>()
        .map_err(|e| malformed(call, e.to_string(), output))?;
    Ok(StatusInfo::new(name, message))
}

/// `secret-info-get --format=json`'s answer: `{"<id>": {metadata}}`, where
/// Juju prints the id without its `secret:` prefix.
fn parse_secret_info(call: &Call, output: &str) -> Result<SecretInfo> {
    let map: BTreeMap<String, Value> = parse_json(call, output)?;
    let mut entries = map.into_iter();
    let (Some((key, mut info)), None) = (entries.next(), entries.next()) else {
        return Err(malformed(call, "expected exactly one secret", output));
    };
    let Value::Object(fields) = &mut info else {
        return Err(malformed(call, "expected the secret's metadata", output));
    };
    let id = if key.starts_with("secret:") {
        key
    } else {
        format!("secret:{key}")
    };
    fields.insert("id".into(), Value::String(id));
    serde_json::from_value(info).map_err(|e| malformed(call, e.to_string(), output))
}

/// Secret values written to private files (the directory 0700, each file
/// 0600), for `key#file=<path>` arguments. Dropping it removes them.
struct SecretFiles {
    _dir: tempfile::TempDir,
    args: Vec<(String, String)>,
}

impl SecretFiles {
    fn write(tool: &str, content: &BTreeMap<String, String>) -> Result<Self> {
        let io = |source| BackendError::Io {
            command: tool.to_string(),
            source,
        };
        // On a memory filesystem where there is one: a secret's values
        // never reach a disk.
        let dir = crate::scratch::tempdir("ops-secret-").map_err(io)?;
        let mut args = Vec::with_capacity(content.len());
        // Files are numbered, not named after keys: a key never becomes a path.
        for (i, (key, value)) in content.iter().enumerate() {
            let path = dir.path().join(format!("value-{i}"));
            let mut file = std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(&path)
                .map_err(io)?;
            file.write_all(value.as_bytes()).map_err(io)?;
            args.push((key.clone(), path.display().to_string()));
        }
        Ok(Self { _dir: dir, args })
    }
}

impl HookTools {
    /// The tools found on `PATH`, as Juju provides them during a hook.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets how long one tool call may take, all of it (default
    /// [`DEFAULT_TOOL_DEADLINE`]); past it the tool is killed and the call
    /// is [`BackendError::Timeout`].
    pub fn with_deadline(mut self, deadline: std::time::Duration) -> Self {
        self.deadline = deadline;
        self
    }

    /// Runs every tool with `OPERATOR_DISPATCH=<dispatch_path>` in its
    /// environment, as Python ops does for the processes a charm starts, so
    /// that a charm binary run by one of them knows it is a re-entry.
    pub fn with_operator_dispatch(mut self, dispatch_path: &str) -> Self {
        self.operator_dispatch = Some(dispatch_path.to_string());
        self
    }

    /// The tools in `dir` (`<dir>/relation-get`, ...), whatever `PATH` says:
    /// for tests with fake tools.
    pub fn with_tool_dir(dir: impl Into<PathBuf>) -> Self {
        Self {
            dir: Some(dir.into()),
            ..Self::default()
        }
    }

    /// The tools `runner` runs, with the argv and output of the real ones:
    /// for test kits (see [`ToolRunner`]).
    pub fn with_runner(runner: Arc<dyn ToolRunner>) -> Self {
        Self {
            runner: Some(runner),
            ..Self::default()
        }
    }

    fn program(&self, tool: &str) -> PathBuf {
        match &self.dir {
            Some(dir) => dir.join(tool),
            None => PathBuf::from(tool),
        }
    }

    /// Runs `call`, feeding it `stdin` if given, and returns its stdout.
    ///
    /// The input is written and the output and errors read on this thread,
    /// by one `poll` loop ([`child_io`]), so no side can block another, and
    /// the child is always waited for. The whole call has one deadline
    /// ([`HookTools::with_deadline`]): past it the tool is killed and the
    /// call is [`BackendError::Timeout`]. When the tool fails, its exit
    /// status and stderr decide the error, even if it stopped reading its
    /// input early.
    fn run(&self, call: &Call, stdin: Option<&[u8]>) -> Result<String> {
        // No tracing for juju-log: the juju-log subscriber would call us again.
        let traced = call.tool != "juju-log";
        if traced {
            // The tool's name only: argv may hold action results or messages.
            tracing::trace!(tool = call.tool, "running hook tool");
        }
        let io = |source| BackendError::Io {
            command: call.tool.to_string(),
            source,
        };
        if let Some(runner) = &self.runner {
            let out = runner.run(call.tool, &call.args, stdin).map_err(io)?;
            return answer(call, out.status, out.stdout, &out.stderr, traced);
        }
        let deadline = std::time::Instant::now() + self.deadline;
        let mut command = Command::new(self.program(call.tool));
        if let Some(path) = &self.operator_dispatch {
            command.env(crate::context::OPERATOR_DISPATCH_VAR, path);
        }
        let mut child = command
            .args(&call.args)
            .stdin(if stdin.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|source| BackendError::Spawn {
                command: call.tool.to_string(),
                source,
            })?;
        let exchanged = child_io::exchange(
            child.stdin.take(),
            stdin.unwrap_or_default(),
            child.stdout.take(),
            child.stderr.take(),
            deadline,
        );
        let Exchange {
            stdout,
            stderr,
            input_error,
        } = match exchanged {
            Ok(exchange) => exchange,
            Err(failure) => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(match failure {
                    ExchangeError::TimedOut => BackendError::Timeout {
                        command: call.tool.to_string(),
                        seconds: self.deadline.as_secs_f64(),
                    },
                    ExchangeError::Io(e) => io(e),
                });
            }
        };
        let status = child.wait().map_err(io)?;
        let code = if status.success() {
            0
        } else {
            status.code().unwrap_or(-1)
        };
        if code == 0
            && let Some(e) = input_error
        {
            return Err(io(e));
        }
        answer(call, code, stdout, &stderr, traced)
    }

    fn run_json<T: DeserializeOwned + Default>(&self, call: Call) -> Result<T> {
        let out = self.run(&call, None)?;
        parse_json(&call, &out)
    }

    fn run_map(&self, call: Call) -> Result<StringMap> {
        let out = self.run(&call, None)?;
        parse_string_map(&call, &out)
    }

    /// Runs a `--file -` tool with `data` as a JSON map on its stdin (Juju
    /// reads the file as YAML, of which JSON is a subset).
    fn run_with_map(&self, call: Call, data: &StringMap) -> Result<()> {
        let json = json_readable_as_yaml(data).map_err(|e| BackendError::Io {
            command: call.tool.to_string(),
            source: std::io::Error::other(e),
        })?;
        self.run(&call, Some(json.as_bytes())).map(drop)
    }

    fn run_plain(&self, call: Call) -> Result<()> {
        self.run(&call, None).map(drop)
    }

    /// Runs a tool that prints one line of text (an id, a path).
    fn run_line(&self, call: Call, what: &str) -> Result<String> {
        let out = self.run(&call, None)?;
        let line = out.trim();
        if line.is_empty() {
            return Err(malformed(&call, format!("no {what} printed"), &out));
        }
        Ok(line.to_string())
    }
}

impl Backend for HookTools {
    fn relation_ids(&self, endpoint: &str) -> Result<Vec<RelationRef>> {
        let ids: Vec<String> = self.run_json(argv::relation_ids(endpoint))?;
        ids.iter().map(|id| id.parse()).collect()
    }

    fn relation_list(&self, relation: &RelationRef) -> Result<Vec<String>> {
        self.run_json(argv::relation_list(relation, false))
    }

    fn relation_remote_app(&self, relation: &RelationRef) -> Result<Option<String>> {
        let call = argv::relation_list(relation, true);
        let out = self.run(&call, None)?;
        match parse_json::<Value>(&call, &out)? {
            Value::Null => Ok(None),
            Value::String(s) if s.is_empty() => Ok(None),
            Value::String(s) => Ok(Some(s)),
            other => Err(malformed(
                &call,
                format!("expected an application name, got {other}"),
                &out,
            )),
        }
    }

    fn relation_get(&self, relation: &RelationRef, member: &str, app: bool) -> Result<StringMap> {
        self.run_map(argv::relation_get(relation, member, app))
    }

    fn relation_set(&self, relation: &RelationRef, app: bool, data: &StringMap) -> Result<()> {
        self.run_with_map(argv::relation_set(relation, app), data)
    }

    fn is_leader(&self) -> Result<bool> {
        let call = argv::is_leader();
        let out = self.run(&call, None)?;
        serde_json::from_str(out.trim()).map_err(|e| malformed(&call, e.to_string(), &out))
    }

    fn config_get(&self) -> Result<serde_json::Map<String, Value>> {
        self.run_json(argv::config_get())
    }

    fn status_set(&self, app: bool, status: &StatusInfo) -> Result<()> {
        self.run_plain(argv::status_set(app, status))
    }

    fn status_get(&self, app: bool) -> Result<StatusInfo> {
        let call = argv::status_get(app);
        let out = self.run(&call, None)?;
        parse_status(&call, &out)
    }

    fn application_version_set(&self, version: &str) -> Result<()> {
        self.run_plain(argv::application_version_set(version))
    }

    fn add_metric(&self, metrics: &[(String, String)], labels: &[(String, String)]) -> Result<()> {
        self.run_plain(argv::add_metric(metrics, labels))
    }

    fn juju_log(&self, level: LogLevel, message: &str) -> Result<()> {
        for call in argv::juju_log_chunks(level, message) {
            self.run_plain(call)?;
        }
        Ok(())
    }

    fn state_get(&self) -> Result<StringMap> {
        self.run_map(argv::state_get())
    }

    fn state_set(&self, data: &StringMap) -> Result<()> {
        self.run_with_map(argv::state_set(), data)
    }

    fn state_delete(&self, key: &str) -> Result<()> {
        self.run_plain(argv::state_delete(key))
    }

    fn secret_add(&self, args: &SecretAddArgs) -> Result<String> {
        let files = SecretFiles::write("secret-add", &args.content)?;
        self.run_line(argv::secret_add(args, &files.args), "secret id")
    }

    fn secret_get(
        &self,
        id: Option<&str>,
        label: Option<&str>,
        refresh: bool,
        peek: bool,
    ) -> Result<StringMap> {
        self.run_map(argv::secret_get(id, label, refresh, peek))
    }

    fn secret_info_get(&self, id: Option<&str>, label: Option<&str>) -> Result<SecretInfo> {
        let call = argv::secret_info_get(id, label);
        let out = self.run(&call, None)?;
        parse_secret_info(&call, &out)
    }

    fn secret_set(&self, id: &str, args: &SecretSetArgs) -> Result<()> {
        let files = match &args.content {
            Some(content) => Some(SecretFiles::write("secret-set", content)?),
            None => None,
        };
        let file_args = files.as_ref().map(|f| f.args.as_slice()).unwrap_or(&[]);
        self.run_plain(argv::secret_set(id, args, file_args))
    }

    fn secret_grant(&self, id: &str, relation_id: u32, unit: Option<&str>) -> Result<()> {
        self.run_plain(argv::secret_grant(id, relation_id, unit))
    }

    fn secret_revoke(&self, id: &str, relation_id: u32, unit: Option<&str>) -> Result<()> {
        self.run_plain(argv::secret_revoke(id, relation_id, unit))
    }

    fn secret_remove(&self, id: &str, revision: Option<u64>) -> Result<()> {
        self.run_plain(argv::secret_remove(id, revision))
    }

    fn open_port(&self, port: &OpenedPort, endpoints: &[String]) -> Result<()> {
        self.run_plain(argv::open_port(port, endpoints))
    }

    fn close_port(&self, port: &OpenedPort, endpoints: &[String]) -> Result<()> {
        self.run_plain(argv::close_port(port, endpoints))
    }

    fn opened_ports(&self) -> Result<Vec<OpenedPort>> {
        let ports: Vec<String> = self.run_json(argv::opened_ports())?;
        ports.iter().map(|p| p.parse()).collect()
    }

    fn network_get(&self, binding: &str, relation_id: Option<u32>) -> Result<Value> {
        self.run_json(argv::network_get(binding, relation_id))
    }

    fn goal_state(&self) -> Result<Value> {
        self.run_json(argv::goal_state())
    }

    fn resource_get(&self, name: &str) -> Result<PathBuf> {
        self.run_line(argv::resource_get(name), "path")
            .map(PathBuf::from)
    }

    fn action_get(&self) -> Result<serde_json::Map<String, Value>> {
        self.run_json(argv::action_get())
    }

    fn action_set(&self, results: &StringMap) -> Result<()> {
        self.run_plain(argv::action_set(results))
    }

    fn action_fail(&self, message: &str) -> Result<()> {
        self.run_plain(argv::action_fail(message))
    }

    fn action_log(&self, message: &str) -> Result<()> {
        self.run_plain(argv::action_log(message))
    }

    fn credential_get(&self) -> Result<CloudSpec> {
        self.run_json(argv::credential_get())
    }

    fn secret_ids(&self) -> Result<Vec<String>> {
        let ids: Vec<String> = self.run_json(argv::secret_ids())?;
        Ok(ids
            .into_iter()
            .map(|id| {
                if id.starts_with("secret:") {
                    id
                } else {
                    format!("secret:{id}")
                }
            })
            .collect())
    }

    fn juju_reboot(&self, now: bool) -> Result<()> {
        self.run_plain(argv::juju_reboot(now))
    }

    fn storage_list(&self, name: Option<&str>) -> Result<Vec<String>> {
        self.run_json(argv::storage_list(name))
    }

    fn storage_get_location(&self, id: &str) -> Result<PathBuf> {
        let call = argv::storage_get_location(id);
        let out = self.run(&call, None)?;
        match parse_json::<Value>(&call, &out)? {
            Value::String(path) if !path.is_empty() => Ok(PathBuf::from(path)),
            _ => Err(malformed_because(
                &call,
                "expected the location as a string".to_string(),
                &out,
            )),
        }
    }

    fn storage_add(&self, name: &str, count: u32) -> Result<()> {
        self.run_plain(argv::storage_add(name, count))
    }

    fn relation_model_get(&self, relation: &RelationRef) -> Result<String> {
        let call = argv::relation_model_get(relation);
        let out = self.run(&call, None)?;
        let value: Value = parse_json(&call, &out)?;
        value
            .get("uuid")
            .and_then(Value::as_str)
            .map(str::to_string)
            .ok_or_else(|| malformed_because(&call, "no uuid field".to_string(), &out))
    }
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    fn rel() -> RelationRef {
        RelationRef::new("db", 9)
    }

    #[test]
    fn relation_not_found_names_the_relation() {
        let call = argv::relation_get(&rel(), "pg/0", false);
        let err = classify_failure(
            &call,
            2,
            "ERROR invalid value \"db:9\" for option -r: relation not found\n",
        );
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
        let grant = argv::secret_grant("secret:1", 9, None);
        assert!(matches!(
            classify_failure(&grant, 1, "ERROR relation not found"),
            BackendError::RelationNotFound { relation, .. } if relation == "9"
        ));
    }

    #[test]
    fn secret_not_found_names_the_secret_by_id_or_label() {
        let by_id = argv::secret_get(Some("secret:zz"), None, false, false);
        assert!(matches!(
            classify_failure(&by_id, 1, "ERROR secret not found"),
            BackendError::SecretNotFound { secret, command, .. }
                if secret == "secret:zz" && command == "secret-get"
        ));
        let by_label = argv::secret_info_get(None, Some("db"));
        assert!(matches!(
            classify_failure(&by_label, 1, "ERROR secret \"db\" not found"),
            BackendError::SecretNotFound { secret, .. } if secret == "db"
        ));
        // "not found" from a tool that is not about secrets is not a secret error.
        let config = argv::config_get();
        assert!(matches!(
            classify_failure(&config, 1, "ERROR key not found"),
            BackendError::ToolFailed { .. }
        ));
    }

    #[test]
    fn refusals_are_permission_denied() {
        for (call, stderr) in [
            (
                argv::relation_set(&rel(), true),
                "ERROR cannot write relation settings",
            ),
            (
                argv::relation_get(&rel(), "pg", true),
                "ERROR permission denied",
            ),
            (
                argv::status_set(true, &StatusInfo::new(StatusName::Active, "")),
                "ERROR this unit is not the leader",
            ),
        ] {
            match classify_failure(&call, 1, stderr) {
                BackendError::PermissionDenied {
                    command,
                    args,
                    stderr: seen,
                } => {
                    assert_eq!(command, call.tool);
                    assert_eq!(args, call.shown_args());
                    assert_eq!(seen, stderr);
                }
                other => panic!("{stderr}: {other:?}"),
            }
        }
    }

    #[test]
    fn anything_else_is_tool_failed_with_trimmed_stderr() {
        let call = argv::state_delete("k");
        match classify_failure(&call, 3, "\n  ERROR something else broke \n") {
            BackendError::ToolFailed {
                command,
                args,
                status,
                stderr,
            } => {
                assert_eq!(command, "state-delete");
                assert_eq!(args, ["k"]);
                assert_eq!(status, 3);
                assert_eq!(stderr, "ERROR something else broke");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn empty_output_and_null_read_as_empty() {
        let call = argv::relation_get(&rel(), "pg/0", false);
        for out in ["", "\n", "null\n"] {
            assert!(parse_string_map(&call, out).unwrap().is_empty(), "{out:?}");
        }
        let ids: Vec<String> = parse_json(&argv::relation_ids("db"), "null").unwrap();
        assert!(ids.is_empty());
    }

    #[test]
    fn malformed_output_is_cut() {
        let call = argv::network_get("db", None);
        let garbage = "x".repeat(10_000);
        match parse_json::<Value>(&call, &garbage).unwrap_err() {
            BackendError::MalformedOutput {
                command, output, ..
            } => {
                assert_eq!(command, "network-get");
                assert_eq!(output.len(), OUTPUT_SHOWN + "...".len());
            }
            other => panic!("{other:?}"),
        }
        let call = argv::relation_get(&rel(), "pg/0", false);
        assert!(matches!(
            parse_string_map(&call, r#"{"k": 1}"#),
            Err(BackendError::MalformedOutput { reason, .. }) if reason.contains("\"k\"")
        ));
    }

    #[test]
    fn malformed_output_of_value_tools_shows_no_value() {
        let calls = [
            argv::relation_get(&rel(), "pg/0", false),
            argv::state_get(),
            argv::config_get(),
            argv::action_get(),
        ];
        for call in calls {
            for out in [
                r#"{"password": ["hunter2"]}"#,
                r#"{"password": {"nested": "hunter2"}}"#,
                r#"["hunter2"]"#,
                r#""hunter2""#,
                "hunter2 {",
            ] {
                let err = parse_string_map(&call, out).unwrap_err();
                let shown = format!("{err} {err:?}");
                assert!(!shown.contains("hunter2"), "{}: {shown}", call.tool);
                assert!(shown.contains(call.tool), "{shown}");
            }
        }
    }

    #[test]
    fn failed_tool_errors_show_no_free_text_or_results() {
        let mut results = StringMap::new();
        results.insert("password".into(), "hunter2".into());
        for call in [
            argv::action_set(&results),
            argv::action_fail("hunter2"),
            argv::action_log("hunter2"),
            argv::juju_log(LogLevel::Info, "hunter2"),
            argv::status_set(false, &StatusInfo::new(StatusName::Active, "hunter2")),
            argv::application_version_set("hunter2"),
        ] {
            for err in [
                classify_failure(&call, 1, "ERROR something broke"),
                classify_failure(&call, 1, "ERROR permission denied"),
            ] {
                let shown = format!("{err} {err:?}");
                assert!(!shown.contains("hunter2"), "{}: {shown}", call.tool);
                assert!(shown.contains(call.tool), "{shown}");
            }
        }
        let err = classify_failure(&argv::action_set(&results), 1, "ERROR x");
        assert!(err.to_string().contains("password="), "{err}");
    }

    #[test]
    fn malformed_secret_content_is_withheld() {
        let call = argv::secret_get(Some("secret:1"), None, false, false);
        for out in [r#"{"password": ["hunter2"]}"#, r#""hunter2""#, "hunter2 {"] {
            let err = parse_string_map(&call, out).unwrap_err();
            let shown = format!("{err} {err:?}");
            assert!(!shown.contains("hunter2"), "{shown}");
            assert!(shown.contains(WITHHELD), "{shown}");
        }
    }

    /// What Juju's `credential-get --format=json` prints (`params.CloudSpec`,
    /// omitempty fields left out) on an LXD model.
    const LXD_SPEC: &str = r#"{"type":"lxd","name":"localhost","region":"default","endpoint":"https://127.0.0.1:8443","credential":{"auth-type":"certificate","attrs":{"client-cert":"cert-pem","client-key":"key-pem","server-cert":"server-pem"}},"is-controller-cloud":true}"#;

    #[test]
    fn credential_get_reads_jujus_cloud_spec() {
        let spec: CloudSpec = parse_json(&argv::credential_get(), LXD_SPEC).unwrap();
        assert_eq!(
            (spec.type_.as_str(), spec.name.as_str()),
            ("lxd", "localhost")
        );
        assert_eq!(spec.region.as_deref(), Some("default"));
        assert_eq!(spec.endpoint.as_deref(), Some("https://127.0.0.1:8443"));
        assert_eq!(spec.identity_endpoint, None);
        assert_eq!(spec.storage_endpoint, None);
        assert!(spec.ca_certificates.is_empty() && !spec.skip_tls_verify);
        assert!(spec.is_controller_cloud);
        let credential = spec.credential.as_ref().unwrap();
        assert_eq!(credential.auth_type, "certificate");
        assert_eq!(credential.attributes["client-key"], "key-pem");
        assert_eq!(credential.attributes.len(), 3);
        let shown = format!("{spec:?}");
        assert!(
            shown.contains("client-key") && !shown.contains("key-pem"),
            "{shown}"
        );
        // Written back in the same shape (what the test kit hands its fake Juju).
        let again: CloudSpec =
            serde_json::from_value(serde_json::to_value(&spec).unwrap()).unwrap();
        assert_eq!(again, spec);
        let full = r#"{"type":"openstack","name":"os","identity-endpoint":"https://127.0.0.1:5000","storage-endpoint":"https://127.0.0.1:8080","cacertificates":["ca-pem"],"skip-tls-verify":true,"credential":{"auth-type":"userpass","redacted":["password"]}}"#;
        let spec: CloudSpec = parse_json(&argv::credential_get(), full).unwrap();
        assert_eq!(
            spec.identity_endpoint.as_deref(),
            Some("https://127.0.0.1:5000")
        );
        assert_eq!(
            spec.storage_endpoint.as_deref(),
            Some("https://127.0.0.1:8080")
        );
        assert_eq!(spec.ca_certificates, ["ca-pem"]);
        assert!(spec.skip_tls_verify && !spec.is_controller_cloud);
        assert_eq!(spec.credential.unwrap().redacted, ["password"]);
    }

    #[test]
    fn a_malformed_cloud_spec_is_refused_without_showing_it() {
        let call = argv::credential_get();
        for out in [
            // No type; a credential attribute that is not a string; not a map.
            r#"{"name":"localhost","credential":{"auth-type":"x","attrs":{"k":"hunter2"}}}"#,
            r#"{"type":"lxd","name":"l","credential":{"auth-type":"x","attrs":{"k":["hunter2"]}}}"#,
            r#""hunter2""#,
        ] {
            let err = parse_json::<CloudSpec>(&call, out).unwrap_err();
            let shown = format!("{err} {err:?}");
            assert!(!shown.contains("hunter2"), "{shown}");
            assert!(shown.contains("not a cloud spec"), "{shown}");
            assert!(shown.contains(WITHHELD), "{shown}");
        }
    }

    #[test]
    fn status_get_shapes() {
        let call = argv::status_get(false);
        assert_eq!(
            parse_status(
                &call,
                r#"{"message":"m","status":"waiting","status-data":{}}"#
            )
            .unwrap(),
            StatusInfo::new(StatusName::Waiting, "m")
        );
        let app = r#"{"application-status":{"message":"a","status":"active","status-data":{},
            "units":{"pgbouncer-k8s/0":{"message":"","status":"active","status-data":{}}}}}"#;
        assert_eq!(
            parse_status(&argv::status_get(true), app).unwrap(),
            StatusInfo::new(StatusName::Active, "a")
        );
        assert_eq!(
            parse_status(&call, "\"unknown\"\n").unwrap(),
            StatusInfo::new(StatusName::Unknown, "")
        );
        for bad in [r#"{"message":"m"}"#, r#"{"status":"sleepy"}"#, "[1]"] {
            assert!(
                matches!(
                    parse_status(&call, bad),
                    Err(BackendError::MalformedOutput { .. })
                ),
                "{bad}"
            );
        }
    }

    #[test]
    fn secret_info_is_keyed_by_id() {
        let call = argv::secret_info_get(None, Some("db"));
        let info = parse_secret_info(
            &call,
            r#"{"cs7abc":{"revision":2,"label":"db","owner":"application","rotation":"daily",
                "rotates":"2030-01-01T00:00:00Z","access":[]}}"#,
        )
        .unwrap();
        assert_eq!(info.id, "secret:cs7abc");
        assert_eq!(info.revision, 2);
        assert_eq!(info.label.as_deref(), Some("db"));
        assert_eq!(info.owner.as_deref(), Some("application"));
        assert_eq!(info.rotation.as_deref(), Some("daily"));
        assert_eq!(info.rotates.as_deref(), Some("2030-01-01T00:00:00Z"));
        let prefixed = parse_secret_info(&call, r#"{"secret:cs7abc":{"revision":1}}"#).unwrap();
        assert_eq!(prefixed.id, "secret:cs7abc");
        for bad in ["{}", r#"{"a":{},"b":{}}"#, r#"{"a":3}"#] {
            assert!(
                matches!(
                    parse_secret_info(&call, bad),
                    Err(BackendError::MalformedOutput { .. })
                ),
                "{bad}"
            );
        }
    }

    #[test]
    fn secret_files_are_private_and_removed_on_drop() {
        let content = BTreeMap::from([
            ("password".to_string(), "hunter2".to_string()),
            ("user".to_string(), "pgbouncer".to_string()),
        ]);
        let files = SecretFiles::write("secret-add", &content).unwrap();
        let paths: Vec<PathBuf> = files.args.iter().map(|(_, p)| p.into()).collect();
        assert_eq!(
            files
                .args
                .iter()
                .map(|(k, _)| k.as_str())
                .collect::<Vec<_>>(),
            ["password", "user"]
        );
        for (path, value) in paths.iter().zip(["hunter2", "pgbouncer"]) {
            assert_eq!(std::fs::read_to_string(path).unwrap(), value);
            let mode = std::fs::metadata(path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600, "{}", path.display());
        }
        let dir = paths[0].parent().unwrap().to_path_buf();
        let mode = std::fs::metadata(&dir).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o700);
        drop(files);
        assert!(!dir.exists());
    }
}

#[cfg(test)]
mod prop_tests {
    //! Properties of the parsers of hook-tool output, over arbitrary output.

    use super::*;
    use crate::yaml::yaml_readable;
    use proptest::prelude::*;

    /// Every call whose output ops parses, with the parser `HookTools` uses
    /// for it; the result is thrown away, the error kept.
    fn parse(call: &Call, out: &str) -> std::result::Result<(), BackendError> {
        match call.tool {
            "relation-get" | "state-get" | "secret-get" => parse_string_map(call, out).map(drop),
            "config-get" | "action-get" => {
                parse_json::<serde_json::Map<String, Value>>(call, out).map(drop)
            }
            "status-get" => parse_status(call, out).map(drop),
            "secret-info-get" => parse_secret_info(call, out).map(drop),
            "relation-ids" => {
                let ids: Vec<String> = parse_json(call, out)?;
                ids.iter()
                    .try_for_each(|id| id.parse::<RelationRef>().map(drop))
            }
            "opened-ports" => {
                let ports: Vec<String> = parse_json(call, out)?;
                ports
                    .iter()
                    .try_for_each(|p| p.parse::<OpenedPort>().map(drop))
            }
            "relation-list" | "secret-ids" | "storage-list" => {
                parse_json::<Vec<String>>(call, out).map(drop)
            }
            _ => parse_json::<Value>(call, out).map(drop),
        }
    }

    fn calls() -> Vec<Call> {
        let rel = RelationRef::new("db", 9);
        vec![
            argv::relation_get(&rel, "pg/0", false),
            argv::relation_get(&rel, "pg", true),
            argv::state_get(),
            argv::secret_get(Some("secret:1"), None, false, false),
            argv::config_get(),
            argv::action_get(),
            argv::credential_get(),
            argv::status_get(false),
            argv::status_get(true),
            argv::secret_info_get(Some("secret:1"), None),
            argv::relation_ids("db"),
            argv::relation_list(&rel, false),
            argv::opened_ports(),
            argv::network_get("db", Some(9)),
            argv::goal_state(),
            argv::secret_ids(),
            argv::storage_list(None),
        ]
    }

    /// Values: from an alphabet disjoint from the keys' (ops names keys in
    /// its errors, by design; it must never show a value).
    fn value_text() -> impl Strategy<Value = String> {
        "[a-z0-9 ]{8,24}"
    }

    fn key() -> impl Strategy<Value = String> {
        "[A-Z_]{1,10}"
    }

    fn json_value() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            value_text().prop_map(Value::String),
            (10_000_000u64..u64::MAX).prop_map(Value::from),
            any::<bool>().prop_map(Value::Bool),
            Just(Value::Null),
        ];
        leaf.prop_recursive(3, 24, 4, |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
                proptest::collection::btree_map(key(), inner, 0..4)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    /// Output shaped like what the tools print (an object of values, or
    /// something else), whole, cut short, or with garbage after it.
    fn json_output() -> impl Strategy<Value = (Value, String)> {
        (
            prop_oneof![
                3 => proptest::collection::btree_map(key(), json_value(), 0..5)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
                1 => json_value(),
            ],
            prop_oneof![Just(None), (0usize..400).prop_map(Some)],
            prop_oneof![Just(""), Just(" x"), Just("}"), Just("\n")],
        )
            .prop_map(|(value, cut, tail)| {
                let mut text = value.to_string();
                if let Some(cut) = cut {
                    let mut at = cut.min(text.len());
                    while !text.is_char_boundary(at) {
                        at -= 1;
                    }
                    text.truncate(at);
                }
                text.push_str(tail);
                (value, text)
            })
    }

    /// Every value in `value` as text (strings, and numbers as printed).
    fn leaf_texts(value: &Value, out: &mut Vec<String>) {
        match value {
            Value::String(s) => out.push(s.clone()),
            Value::Number(n) => out.push(n.to_string()),
            Value::Array(items) => items.iter().for_each(|v| leaf_texts(v, out)),
            Value::Object(map) => map.values().for_each(|v| leaf_texts(v, out)),
            Value::Bool(_) | Value::Null => {}
        }
    }

    /// The first 8-byte piece of `text` that `shown` contains.
    fn leaked<'a>(text: &'a str, shown: &str) -> Option<&'a str> {
        let bytes = text.as_bytes();
        (0..bytes.len().saturating_sub(7))
            .filter_map(|i| text.get(i..i + 8))
            .find(|piece| shown.contains(piece))
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        /// Arbitrary bytes from any tool parse or fail, never panic.
        #[test]
        fn prop_hook_tool_output_parsers_never_panic(
            raw in prop_oneof![
                proptest::collection::vec(any::<u8>(), 0..256),
                "[ -~\n]{0,200}".prop_map(String::into_bytes),
            ],
        ) {
            let out = String::from_utf8_lossy(&raw);
            for call in calls() {
                let _ = parse(&call, &out);
            }
        }

        /// For the tools that print values (databags, unit state, secrets,
        /// config, action parameters, credentials), no error holds 8 bytes
        /// of any value in the output, however the output is broken.
        #[test]
        fn prop_value_tool_errors_hold_no_value((value, out) in json_output()) {
            let mut values = Vec::new();
            leaf_texts(&value, &mut values);
            for call in calls().into_iter().filter(Call::output_has_values) {
                let Err(err) = parse(&call, &out) else { continue };
                let shown = format!("{err} {err:?}");
                prop_assert!(shown.contains(call.tool), "{}", shown);
                for text in &values {
                    prop_assert!(
                        leaked(text, &shown).is_none(),
                        "{} error shows {:?} of a value: {}",
                        call.tool,
                        leaked(text, &shown),
                        shown
                    );
                }
            }
        }

        /// Output that is not JSON at all: the same tools show no 8 bytes of it.
        #[test]
        fn prop_value_tool_errors_hold_no_output(out in "[a-z0-9 {}\\[\\]:,]{8,120}") {
            prop_assume!(serde_json::from_str::<Value>(out.trim()).is_err());
            for call in calls().into_iter().filter(Call::output_has_values) {
                let err = parse(&call, &out).expect_err("not JSON");
                let shown = format!("{err} {err:?}");
                prop_assert!(
                    leaked(&out, &shown).is_none(),
                    "{} error shows {:?} of its output: {}",
                    call.tool,
                    leaked(&out, &shown),
                    shown
                );
            }
        }

        /// Any stderr of a failed tool becomes a typed error without panicking.
        #[test]
        fn prop_classify_failure_never_panics(stderr in "\\PC{0,400}", status in any::<i32>()) {
            for call in calls() {
                let err = classify_failure(&call, status, &stderr);
                prop_assert!(err.to_string().contains(call.tool));
            }
        }

        /// Whatever a databag holds, what relation-set and state-set send
        /// on stdin reads back the same through a YAML reader (Juju reads
        /// `--file` as YAML), and holds no character that reader refuses.
        #[test]
        fn prop_settings_sent_read_back_as_yaml(
            data in proptest::collection::btree_map(".{0,8}", any::<String>(), 0..5),
        ) {
            let sent = json_readable_as_yaml(&data).unwrap();
            prop_assert!(sent.chars().all(yaml_readable), "{sent:?}");
            let read: StringMap = serde_norway::from_str(&sent).unwrap();
            prop_assert_eq!(read, data);
        }

        /// The same with the characters YAML treats apart, often.
        #[test]
        fn prop_settings_with_yaml_special_characters_read_back(
            value in crate::yaml::yaml_special_text(),
        ) {
            let data = StringMap::from([("k".to_string(), value)]);
            let read: StringMap = serde_norway::from_str(&json_readable_as_yaml(&data).unwrap()).unwrap();
            prop_assert_eq!(read, data);
        }
    }

    #[test]
    fn settings_with_characters_yaml_refuses_raw_are_escaped() {
        let data = StringMap::from([(
            "k".to_string(),
            "del\u{7f} c1\u{80}\u{9f} nel\u{85} ls\u{2028} nbsp\u{a0} \u{fffe}\u{ffff} \u{1f600}"
                .to_string(),
        )]);
        let sent = json_readable_as_yaml(&data).unwrap();
        assert!(
            sent.contains("\\u007f") && sent.contains("\\u0080") && sent.contains("\\uffff"),
            "{sent}"
        );
        assert!(
            sent.contains("\\u0085") && sent.contains("\\u2028"),
            "{sent}"
        );
        assert!(
            sent.contains('\u{a0}') && sent.contains('\u{1f600}'),
            "{sent}"
        );
        let read: StringMap = serde_norway::from_str(&sent).unwrap();
        assert_eq!(read, data);
        // Raw, YAML refuses it, as Juju would.
        let raw = serde_json::to_string(&data).unwrap();
        assert!(serde_norway::from_str::<StringMap>(&raw).is_err());
    }
}
