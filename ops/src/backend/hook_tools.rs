//! `Backend` over the real Juju hook tools.

use std::collections::BTreeMap;
use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::process::{Command, Stdio};

use serde::de::DeserializeOwned;
use serde_json::Value;

use super::argv::{self, Call};
use super::{
    Backend, BackendError, LogLevel, OpenedPort, RelationRef, Result, SecretAddArgs, SecretInfo,
    SecretSetArgs, StatusInfo, StatusName, StringMap,
};

/// The Juju hook tools, run as processes.
///
/// ```no_run
/// use ops::backend::{Backend, HookTools};
///
/// let tools = HookTools::new();
/// if tools.is_leader()? {
///     tools.juju_log(ops::backend::LogLevel::Info, "I lead")?;
/// }
/// # Ok::<(), ops::backend::BackendError>(())
/// ```
#[derive(Debug, Clone, Default)]
pub struct HookTools {
    dir: Option<PathBuf>,
}

/// What a finished tool printed.
struct Output {
    stdout: String,
}

const OUTPUT_SHOWN: usize = 300;

fn cut(text: &str) -> String {
    match text.char_indices().nth(OUTPUT_SHOWN) {
        Some((i, _)) => format!("{}...", &text[..i]),
        None => text.to_string(),
    }
}

/// Turns a failed tool's exit status and stderr into a typed error: the one
/// place where Juju's messages are read.
pub(crate) fn classify_failure(call: &Call, status: i32, stderr: &str) -> BackendError {
    let stderr = stderr.trim().to_string();
    let command = call.tool.to_string();
    let lower = stderr.to_ascii_lowercase();
    if lower.contains("relation not found") {
        let relation = call
            .args
            .iter()
            .position(|a| a == "-r" || a == "--relation")
            .and_then(|i| call.args.get(i + 1))
            .cloned()
            .unwrap_or_default();
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
            .cloned()
            .or_else(|| {
                call.args
                    .iter()
                    .position(|a| a == "--label")
                    .and_then(|i| call.args.get(i + 1))
                    .cloned()
            })
            .unwrap_or_default();
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
            args: call.args.clone(),
            stderr,
        };
    }
    BackendError::ToolFailed {
        command,
        args: call.args.clone(),
        status,
        stderr,
    }
}

fn malformed(call: &Call, reason: impl Into<String>, output: &str) -> BackendError {
    BackendError::MalformedOutput {
        command: call.tool.to_string(),
        reason: reason.into(),
        output: cut(output),
    }
}

/// Parses JSON output; empty output or `null` reads as the type's empty value.
fn parse_json<T: DeserializeOwned + Default>(call: &Call, output: &str) -> Result<T> {
    let trimmed = output.trim();
    if trimmed.is_empty() || trimmed == "null" {
        return Ok(T::default());
    }
    serde_json::from_str(trimmed).map_err(|e| malformed(call, e.to_string(), output))
}

/// A databag or secret content: every value must be a string.
fn parse_string_map(call: &Call, output: &str) -> Result<StringMap> {
    let map: BTreeMap<String, Value> = parse_json(call, output)?;
    map.into_iter()
        .map(|(k, v)| match v {
            Value::String(s) => Ok((k, s)),
            other => Err(malformed(
                call,
                format!("value of {k:?} is not a string: {other}"),
                output,
            )),
        })
        .collect()
}

/// Secret values written to private files, removed when dropped.
struct SecretFiles {
    _dir: tempfile::TempDir,
    args: Vec<(String, String)>,
}

fn secret_files(tool: &str, content: &BTreeMap<String, String>) -> Result<SecretFiles> {
    let io = |source| BackendError::Io {
        command: tool.to_string(),
        source,
    };
    let dir = tempfile::Builder::new()
        .prefix("ops-secret-")
        .tempdir()
        .map_err(io)?;
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o700)).map_err(io)?;
    let mut args = Vec::with_capacity(content.len());
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
    Ok(SecretFiles { _dir: dir, args })
}

use std::os::unix::fs::OpenOptionsExt;

impl HookTools {
    /// The tools found on `PATH`, as Juju provides them.
    pub fn new() -> Self {
        Self { dir: None }
    }

    /// The tools in `dir` (`<dir>/relation-get`, ...): for tests.
    pub fn with_tool_dir(dir: impl Into<PathBuf>) -> Self {
        Self {
            dir: Some(dir.into()),
        }
    }

    fn run(&self, call: &Call, stdin: Option<&[u8]>) -> Result<Output> {
        let program = match &self.dir {
            Some(dir) => dir.join(call.tool),
            None => PathBuf::from(call.tool),
        };
        let mut command = Command::new(&program);
        command
            .args(&call.args)
            .stdin(if stdin.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = command.spawn().map_err(|source| BackendError::Spawn {
            command: call.tool.to_string(),
            source,
        })?;
        if let (Some(input), Some(mut pipe)) = (stdin, child.stdin.take()) {
            pipe.write_all(input).map_err(|source| BackendError::Io {
                command: call.tool.to_string(),
                source,
            })?;
        }
        let output = child
            .wait_with_output()
            .map_err(|source| BackendError::Spawn {
                command: call.tool.to_string(),
                source,
            })?;
        if !output.status.success() {
            let status = output.status.code().unwrap_or(-1);
            return Err(classify_failure(
                call,
                status,
                &String::from_utf8_lossy(&output.stderr),
            ));
        }
        let stdout = String::from_utf8(output.stdout)
            .map_err(|e| malformed(call, "not UTF-8", &String::from_utf8_lossy(e.as_bytes())))?;
        Ok(Output { stdout })
    }

    fn run_json<T: DeserializeOwned + Default>(&self, call: Call) -> Result<T> {
        let out = self.run(&call, None)?;
        parse_json(&call, &out.stdout)
    }

    fn run_map(&self, call: Call) -> Result<StringMap> {
        let out = self.run(&call, None)?;
        parse_string_map(&call, &out.stdout)
    }

    fn run_with_map(&self, call: Call, data: &StringMap) -> Result<()> {
        let json = serde_json::to_vec(data).map_err(|e| BackendError::Io {
            command: call.tool.to_string(),
            source: std::io::Error::other(e),
        })?;
        self.run(&call, Some(&json)).map(|_| ())
    }

    fn run_plain(&self, call: Call) -> Result<()> {
        self.run(&call, None).map(|_| ())
    }
}

/// `status-get`'s answer: the unit shape, or the application shape.
fn parse_status(call: &Call, output: &str) -> Result<StatusInfo> {
    let value: Value = parse_json(call, output)?;
    let body = value.get("application-status").unwrap_or(&value);
    let name = body
        .get("status")
        .and_then(Value::as_str)
        .ok_or_else(|| malformed(call, "no status field", output))?;
    let message = body
        .get("message")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let name = name
        .parse::<StatusName>()
        .map_err(|e| malformed(call, e.to_string(), output))?;
    Ok(StatusInfo::new(name, message))
}

impl Backend for HookTools {
    fn relation_ids(&self, endpoint: &str) -> Result<Vec<RelationRef>> {
        let call = argv::relation_ids(endpoint);
        let ids: Vec<String> = self.run_json(call)?;
        ids.iter().map(|id| id.parse()).collect()
    }

    fn relation_list(&self, relation: &RelationRef) -> Result<Vec<String>> {
        self.run_json(argv::relation_list(relation, false))
    }

    fn relation_remote_app(&self, relation: &RelationRef) -> Result<Option<String>> {
        let call = argv::relation_list(relation, true);
        let out = self.run(&call, None)?;
        let value: Value = parse_json(&call, &out.stdout)?;
        match value {
            Value::Null => Ok(None),
            Value::String(s) if s.is_empty() => Ok(None),
            Value::String(s) => Ok(Some(s)),
            other => Err(malformed(
                &call,
                format!("expected an application name, got {other}"),
                &out.stdout,
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
        serde_json::from_str(out.stdout.trim())
            .map_err(|e| malformed(&call, e.to_string(), &out.stdout))
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
        parse_status(&call, &out.stdout)
    }

    fn application_version_set(&self, version: &str) -> Result<()> {
        self.run_plain(argv::application_version_set(version))
    }

    fn juju_log(&self, level: LogLevel, message: &str) -> Result<()> {
        self.run_plain(argv::juju_log(level, message))
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
        let files = secret_files("secret-add", &args.content)?;
        let call = argv::secret_add(
            args.label.as_deref(),
            args.description.as_deref(),
            args.expire.as_deref(),
            args.rotate.as_deref(),
            args.owner,
            &files.args,
        );
        let out = self.run(&call, None)?;
        let id = out.stdout.trim().to_string();
        if id.is_empty() {
            return Err(malformed(&call, "no secret id printed", &out.stdout));
        }
        Ok(id)
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
        let map: BTreeMap<String, Value> = parse_json(&call, &out.stdout)?;
        let (key, mut info) = map
            .into_iter()
            .next()
            .ok_or_else(|| malformed(&call, "no secret in the answer", &out.stdout))?;
        if let Value::Object(fields) = &mut info {
            let id = if key.starts_with("secret:") {
                key
            } else {
                format!("secret:{key}")
            };
            fields.insert("id".into(), Value::String(id));
        }
        serde_json::from_value(info).map_err(|e| malformed(&call, e.to_string(), &out.stdout))
    }

    fn secret_set(&self, id: &str, args: &SecretSetArgs) -> Result<()> {
        let files = match &args.content {
            Some(content) => Some(secret_files("secret-set", content)?),
            None => None,
        };
        let call = argv::secret_set(
            id,
            args.label.as_deref(),
            args.description.as_deref(),
            args.expire.as_deref(),
            args.rotate.as_deref(),
            files
                .as_ref()
                .map(|f| f.args.as_slice())
                .unwrap_or_default(),
        );
        self.run_plain(call)
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

    fn open_port(&self, port: &OpenedPort) -> Result<()> {
        self.run_plain(argv::open_port(port))
    }

    fn close_port(&self, port: &OpenedPort) -> Result<()> {
        self.run_plain(argv::close_port(port))
    }

    fn opened_ports(&self) -> Result<Vec<OpenedPort>> {
        let call = argv::opened_ports();
        let out = self.run(&call, None)?;
        let ports: Vec<String> = parse_json(&call, &out.stdout)?;
        ports.iter().map(|p| p.parse()).collect()
    }

    fn network_get(&self, binding: &str) -> Result<Value> {
        self.run_json(argv::network_get(binding))
    }

    fn goal_state(&self) -> Result<Value> {
        self.run_json(argv::goal_state())
    }

    fn resource_get(&self, name: &str) -> Result<PathBuf> {
        let call = argv::resource_get(name);
        let out = self.run(&call, None)?;
        let path = out.stdout.trim();
        if path.is_empty() {
            return Err(malformed(&call, "no path printed", &out.stdout));
        }
        Ok(PathBuf::from(path))
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
}
