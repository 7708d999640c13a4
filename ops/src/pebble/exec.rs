//! Running a command in the workload container: Pebble's `exec`.
//!
//! The wire contract (Pebble's `internals/daemon/api_exec.go`,
//! `internals/overlord/cmdstate`): `POST /v1/exec` answers with an async
//! change whose result names the exec task (`task-id`). The client then
//! opens the task's WebSockets, `GET /v1/tasks/<task-id>/websocket/<id>`
//! for `control`, `stdio` and (with `split-stderr`) `stderr`; Pebble starts
//! the process once the I/O ones are connected. Standard input goes up
//! `stdio` as binary messages, ended by the text message
//! `{"command":"end"}`; output comes down `stdio` and `stderr` the same
//! way. The exit code is in the change's task data (`exit-code`); a
//! timeout makes the change fail.

use std::collections::BTreeMap;
use std::io::{BufReader, Write};
use std::time::{Duration, Instant};

use serde_json::{Map, Value, json};

use super::error::PebbleError;
use super::http::{self, Deadlined, Request, Upgrade};
use super::websocket::{Message, Receiver, Role, Sender, WebSocketError, new_key};

/// The largest WebSocket message taken from Pebble (it sends at most
/// 128 KiB of output per message).
const MAX_MESSAGE: u64 = 16 * 1024 * 1024;
/// The most output kept per stream: as much as a response body may be.
pub(crate) const MAX_OUTPUT: u64 = http::MAX_BODY;
/// How much longer than the command's own timeout the client waits, so
/// that Pebble's timeout (and its error) comes first.
const TIMEOUT_SLACK: Duration = Duration::from_secs(5);

/// How to run a command with [`Client::exec`](super::Client::exec) or
/// [`Client::exec_process`](super::Client::exec_process).
///
/// Pebble's defaults: its own environment (plus `PATH`, `HOME`, `USER`,
/// `LANG` when unset), the user's home directory as working directory,
/// Pebble's user, no timeout, stderr apart from stdout.
///
/// Its `Debug` names the environment's variables, not their values, and
/// the length of standard input, not its content: both may hold secrets.
///
/// Built with [`ExecOptions::new`] and the `with_*` methods, so that
/// Pebble's next option is not a breaking change:
///
/// ```
/// use std::time::Duration;
/// let options = ops::pebble::ExecOptions::new()
///     .with_env("PGHOST", "127.0.0.1")
///     .with_working_dir("/srv")
///     .with_timeout(Duration::from_secs(30))
///     .with_stdin(b"SELECT 1;".to_vec());
/// assert_eq!(options.environment["PGHOST"], "127.0.0.1");
/// ```
///
/// ```compile_fail
/// let options = ops::pebble::ExecOptions { combine_stderr: true, ..Default::default() };
/// ```
#[derive(Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ExecOptions {
    /// Run in the context of this service of the plan: its environment,
    /// user, group and working directory, which the options below override
    /// (`environment` is merged on top of the service's).
    pub service_context: Option<String>,
    /// Extra environment variables.
    pub environment: BTreeMap<String, String>,
    /// The working directory (it must exist).
    pub working_dir: Option<String>,
    /// Kill the command after this long; the call then fails with
    /// [`PebbleError::Change`]. Without it the call waits for the command
    /// however long it runs, as Python ops' `exec(...).wait()` does (the
    /// client's change timeout is for changes, not for a command's run).
    pub timeout: Option<Duration>,
    /// The user id to run as.
    pub user_id: Option<u32>,
    /// The user name to run as.
    pub user: Option<String>,
    /// The group id to run as.
    pub group_id: Option<u32>,
    /// The group name to run as.
    pub group: Option<String>,
    /// Standard input, all of it. Without it, [`Client::exec`](super::Client::exec)
    /// sends an empty one, and [`Client::exec_process`](super::Client::exec_process)
    /// gives a stream to write ([`ExecProcess::stdin`](super::ExecProcess::stdin)).
    pub stdin: Option<Vec<u8>>,
    /// Send stderr into stdout (one stream, as a terminal shows it), rather
    /// than apart.
    pub combine_stderr: bool,
}

impl ExecOptions {
    /// Pebble's defaults.
    pub fn new() -> Self {
        Self::default()
    }

    /// In the context of this service of the plan.
    pub fn with_service_context(mut self, service: impl Into<String>) -> Self {
        self.service_context = Some(service.into());
        self
    }

    /// With the environment variable `key` set to `value` (added to those
    /// already given).
    pub fn with_env(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.environment.insert(key.into(), value.into());
        self
    }

    /// In this working directory (it must exist).
    pub fn with_working_dir(mut self, dir: impl Into<String>) -> Self {
        self.working_dir = Some(dir.into());
        self
    }

    /// Killed after this long.
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// As this user id.
    pub fn with_user_id(mut self, user_id: u32) -> Self {
        self.user_id = Some(user_id);
        self
    }

    /// As this user name.
    pub fn with_user(mut self, user: impl Into<String>) -> Self {
        self.user = Some(user.into());
        self
    }

    /// In this group id.
    pub fn with_group_id(mut self, group_id: u32) -> Self {
        self.group_id = Some(group_id);
        self
    }

    /// In this group name.
    pub fn with_group(mut self, group: impl Into<String>) -> Self {
        self.group = Some(group.into());
        self
    }

    /// With this standard input.
    pub fn with_stdin(mut self, stdin: impl Into<Vec<u8>>) -> Self {
        self.stdin = Some(stdin.into());
        self
    }

    /// With stderr sent into stdout (or not).
    pub fn with_combine_stderr(mut self, combine: bool) -> Self {
        self.combine_stderr = combine;
        self
    }
}

impl std::fmt::Debug for ExecOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ExecOptions")
            .field("service_context", &self.service_context)
            .field("environment", &self.environment.keys().collect::<Vec<_>>())
            .field("working_dir", &self.working_dir)
            .field("timeout", &self.timeout)
            .field("user_id", &self.user_id)
            .field("user", &self.user)
            .field("group_id", &self.group_id)
            .field("group", &self.group)
            .field("stdin_len", &self.stdin.as_ref().map(Vec::len))
            .field("combine_stderr", &self.combine_stderr)
            .finish()
    }
}

/// What a command that exited with code 0 wrote.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct ExecOutput {
    /// Its standard output (with stderr, if combined).
    pub stdout: Vec<u8>,
    /// Its standard error; empty if combined into stdout.
    pub stderr: Vec<u8>,
}

impl ExecOutput {
    /// Standard output as text (invalid UTF-8 replaced).
    pub fn stdout_text(&self) -> String {
        String::from_utf8_lossy(&self.stdout).into_owned()
    }

    /// Standard error as text (invalid UTF-8 replaced).
    pub fn stderr_text(&self) -> String {
        String::from_utf8_lossy(&self.stderr).into_owned()
    }
}

/// Shows the output's lengths, not its content.
impl std::fmt::Debug for ExecOutput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ExecOutput")
            .field("stdout_len", &self.stdout.len())
            .field("stderr_len", &self.stderr.len())
            .finish()
    }
}

/// The `POST /v1/exec` body.
pub(crate) fn exec_body(command: &[String], options: &ExecOptions) -> Value {
    let mut body = Map::new();
    body.insert("command".into(), json!(command));
    if let Some(service) = &options.service_context {
        body.insert("service-context".into(), service.clone().into());
    }
    body.insert("environment".into(), json!(options.environment));
    if let Some(dir) = &options.working_dir {
        body.insert("working-dir".into(), dir.clone().into());
    }
    if let Some(timeout) = options.timeout {
        body.insert(
            "timeout".into(),
            format!("{:.3}s", timeout.as_secs_f64()).into(),
        );
    }
    if let Some(id) = options.user_id {
        body.insert("user-id".into(), id.into());
    }
    if let Some(user) = &options.user {
        body.insert("user".into(), user.clone().into());
    }
    if let Some(id) = options.group_id {
        body.insert("group-id".into(), id.into());
    }
    if let Some(group) = &options.group {
        body.insert("group".into(), group.clone().into());
    }
    body.insert("terminal".into(), false.into());
    body.insert("interactive".into(), false.into());
    body.insert("split-stderr".into(), (!options.combine_stderr).into());
    Value::Object(body)
}

/// How long the exec's streams and its change wait may take in all: the
/// command's timeout and some slack for Pebble to report it, or no limit
/// (a day, which no hook outlives) when it has none.
pub(crate) fn exec_deadline(options: &ExecOptions) -> Instant {
    http::deadline_in(
        options
            .timeout
            .map_or(Duration::MAX, |t| t.saturating_add(TIMEOUT_SLACK)),
    )
}

/// One open WebSocket of the exec task.
pub(crate) struct Socket {
    pub receiver: Receiver<BufReader<Deadlined>>,
    pub sender: Sender<Deadlined>,
}

/// Why a WebSocket could not be opened.
pub(crate) enum OpenError {
    /// Pebble answered the handshake with an error (the task may have
    /// failed already).
    Refused(PebbleError),
    /// Anything else.
    Other(PebbleError),
}

/// Opens `/v1/tasks/<task>/websocket/<id>`.
pub(crate) fn open(
    socket: &std::path::Path,
    deadline: Instant,
    task: &str,
    id: &str,
    refused: impl FnOnce(&http::Response) -> PebbleError,
) -> Result<Socket, OpenError> {
    let request = Request {
        method: "GET",
        target: format!("/v1/tasks/{}/websocket/{id}", encode_task(task)),
        headers: vec![
            ("Upgrade", "websocket".into()),
            ("Connection", "Upgrade".into()),
            ("Sec-WebSocket-Key", new_key()),
            ("Sec-WebSocket-Version", "13".into()),
        ],
        body: None,
    };
    match http::upgrade(socket, deadline, &request) {
        Ok(Upgrade::Switched(reader)) => {
            let writer = reader.get_ref().try_clone().map_err(|source| {
                OpenError::Other(PebbleError::Io {
                    socket: socket.to_path_buf(),
                    what: format!("opening the {id} WebSocket"),
                    source,
                })
            })?;
            Ok(Socket {
                receiver: Receiver::new(reader, Role::Client, MAX_MESSAGE),
                sender: Sender::new(writer, Role::Client),
            })
        }
        Ok(Upgrade::Refused(response)) => Err(OpenError::Refused(refused(&response))),
        Err(e) => Err(OpenError::Other(e)),
    }
}

fn encode_task(task: &str) -> String {
    http::encode_query(&[("", task)])
        .trim_start_matches('=')
        .replace('/', "%2F")
}

/// Turns a WebSocket failure on stream `what` into the client's error.
pub(crate) fn ws_error(socket: &std::path::Path, what: &str, e: WebSocketError) -> PebbleError {
    match e {
        WebSocketError::Io(source) => PebbleError::Io {
            socket: socket.to_path_buf(),
            what: format!("exec {what} WebSocket"),
            source,
        },
        other => PebbleError::malformed(format!("exec {what} WebSocket: {other}")),
    }
}

/// A lock whose holder panicked is still taken: what it guards is a
/// connection, whose next write fails if the panic broke it.
pub(crate) fn lock<'a, T>(mutex: &'a std::sync::Mutex<T>) -> std::sync::MutexGuard<'a, T> {
    mutex.lock().unwrap_or_else(|p| p.into_inner())
}

/// Ends a WebSocket politely (a close frame), without waiting for the
/// answer: Pebble ends its side when the process exits.
pub(crate) fn close_sender(sender: &mut Sender<Deadlined>) {
    let _ = sender.send(&Message::Close(Some(1000), String::new()));
    let _ = sender.get_mut().flush();
    sender.get_mut().shutdown();
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pebble::ExecError;

    #[test]
    fn body_has_pebbles_field_names() {
        let options = ExecOptions {
            environment: BTreeMap::from([("K".into(), "v".into())]),
            working_dir: Some("/srv".into()),
            timeout: Some(Duration::from_millis(1500)),
            user: Some("app".into()),
            group_id: Some(7),
            combine_stderr: true,
            ..Default::default()
        };
        let body = exec_body(&["ls".into(), "-l".into()], &options);
        assert_eq!(
            body,
            json!({
                "command": ["ls", "-l"], "environment": {"K": "v"}, "working-dir": "/srv",
                "timeout": "1.500s", "user": "app", "group-id": 7,
                "terminal": false, "interactive": false, "split-stderr": false,
            })
        );
    }

    #[test]
    fn debug_hides_secrets() {
        let options = ExecOptions {
            environment: BTreeMap::from([("PASSWORD".into(), "hunter2".into())]),
            stdin: Some(b"s3cret".to_vec()),
            ..Default::default()
        };
        let debug = format!("{options:?}");
        assert!(
            debug.contains("PASSWORD") && !debug.contains("hunter2"),
            "{debug}"
        );
        assert!(!debug.contains("s3cret"), "{debug}");
        let error = ExecError {
            command: "psql".into(),
            exit_code: 2,
            stdout: b"hunter2".to_vec(),
            stderr: Vec::new(),
        };
        assert_eq!(error.to_string(), "\"psql\" returned exit code 2");
        assert!(!format!("{error:?}").contains("hunter2"));
    }
}
