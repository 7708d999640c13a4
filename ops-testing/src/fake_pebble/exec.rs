//! `exec` in the fake Pebble: `POST /v1/exec` validated as Pebble's
//! `api_exec.go` and `cmdstate` do, the exec change and its task, the
//! task's WebSockets, and the exit code in the task's data. What "runs" is
//! a handler the test registered ([`FakePebble::handle_exec`](super::FakePebble::handle_exec)),
//! like Python's `Harness.handle_exec`.

use std::collections::BTreeMap;
use std::fmt;
use std::io::{BufReader, Write};
use std::os::unix::net::UnixStream;
use std::sync::{Arc, Condvar, Mutex, OnceLock};
use std::time::Duration;

use ops::pebble::websocket::{Message, Receiver, Role, Sender, accept_key};
use serde::Deserialize;
use serde_json::{Value, json};

use super::Shared;
use super::files;
use super::http::{HttpRequest, Reply};
use super::util::{format_go_duration, parse_go_duration};

/// Pebble's `PATH` when the environment has none.
const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
/// Output is sent in messages of at most this size, as Pebble's
/// `ReaderToChannel` does.
const OUTPUT_CHUNK: usize = 128 * 1024;
/// How long Pebble waits for an exec's I/O WebSockets before failing it
/// (`cmdstate`'s `connectTimeout`).
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// The most standard input (or one message of it) the fake takes.
const MAX_STDIN: u64 = 64 * 1024 * 1024;
/// The largest control message the fake takes (commands are a few bytes).
const MAX_CONTROL: u64 = 64 * 1024;

/// One exec as the process would have seen it: Pebble's merged
/// environment and working directory, the ids it resolved, standard input
/// ([`stdin`](Self::stdin)) and the signals sent to it
/// ([`signals`](Self::signals)).
#[derive(Clone, PartialEq, Eq, Default)]
pub struct ExecArgs {
    /// The command and its arguments.
    pub command: Vec<String>,
    /// The environment: the request's (over the context service's), plus
    /// Pebble's defaults for `PATH`, `HOME`, `USER` and `LANG`.
    pub environment: BTreeMap<String, String>,
    /// The working directory in the container.
    pub working_dir: String,
    /// The timeout asked for.
    pub timeout: Option<Duration>,
    /// The user id it runs as (resolved from `user`), if one was asked for.
    pub user_id: Option<u32>,
    /// The user name asked for.
    pub user: Option<String>,
    /// The group id it runs as (the user's primary group unless given).
    pub group_id: Option<u32>,
    /// The group name asked for.
    pub group: Option<String>,
    /// The service whose context it runs in.
    pub service_context: Option<String>,
    /// Whether stderr is sent into stdout.
    pub combine_stderr: bool,
    stdin: Stdin,
    signals: Signals,
    output: Outputs,
}

impl ExecArgs {
    /// All of standard input, read on the first call until the client ends
    /// it, as a process reading to end of file would. A handler that never
    /// calls it is a command that does not read its input (`false`,
    /// `pg_isready`): that matters to clients that keep stdin open while
    /// the command runs, as Python ops' does without `stdin=`. In
    /// [`FakePebble::execs`](super::FakePebble::execs), what the handler
    /// read (empty if it read nothing).
    pub fn stdin(&self) -> &[u8] {
        self.stdin.read.get_or_init(|| {
            let stream = self.stdin.stream();
            while stream.next().is_some() {}
            stream.so_far()
        })
    }

    /// The signals the client sent to the process over the control
    /// WebSocket, by name (`"SIGTERM"`), in order: only those Pebble
    /// accepts (it ignores unknown names). A control connection dropped
    /// without a close frame is a `"SIGKILL"`, as Pebble kills the process
    /// then. In [`FakePebble::execs`](super::FakePebble::execs), those that
    /// arrived while the handler ran.
    ///
    /// ```
    /// use ops_testing::fake_pebble::{ExecArgs, ExecResult};
    /// // A command that runs until it is signalled, and dies of it.
    /// fn daemon(args: &ExecArgs) -> ExecResult {
    ///     let signals = args.wait_for_signals(1, std::time::Duration::from_secs(60));
    ///     match signals.first() {
    ///         Some(signal) => ExecResult::killed_by(signal),
    ///         None => ExecResult::exit(0),
    ///     }
    /// }
    /// assert!(ExecArgs::default().signals().is_empty());
    /// ```
    pub fn signals(&self) -> Vec<String> {
        lock(&self.signals.inner.0).clone()
    }

    /// Waits until at least `count` signals have arrived, or `timeout` has
    /// passed, and returns those that have ([`signals`](Self::signals)).
    ///
    /// ```
    /// use std::time::Duration;
    /// let args = ops_testing::fake_pebble::ExecArgs::default();
    /// assert!(args.wait_for_signals(1, Duration::from_millis(1)).is_empty());
    /// ```
    pub fn wait_for_signals(&self, count: usize, timeout: Duration) -> Vec<String> {
        let (list, arrived) = &*self.signals.inner;
        let guard = lock(list);
        let (guard, _) = arrived
            .wait_timeout_while(guard, timeout, |signals| signals.len() < count)
            .unwrap_or_else(|p| p.into_inner());
        guard.clone()
    }

    /// Standard input as it comes, for a handler that streams it.
    pub(crate) fn stdin_stream(&self) -> StdinStream {
        self.stdin.stream()
    }

    /// Where output goes as it is written, for a handler that streams it;
    /// `None` in a record.
    pub(crate) fn output(&self) -> Option<Arc<Streams>> {
        self.output.0.clone()
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|p| p.into_inner())
}

/// Standard input: read from the stdio WebSocket when asked for, all at
/// once ([`ExecArgs::stdin`]) or as it comes ([`StdinStream`]).
#[derive(Default)]
struct Stdin {
    read: OnceLock<Vec<u8>>,
    inner: Arc<StdinInner>,
}

#[derive(Default)]
struct StdinInner {
    /// Held while a message is awaited.
    source: Mutex<Option<StdinSource>>,
    /// Everything read so far (apart from `source`, so that a record can be
    /// taken while a reader waits).
    so_far: Mutex<Vec<u8>>,
}

impl Stdin {
    fn stream(&self) -> StdinStream {
        StdinStream(Arc::clone(&self.inner))
    }
}

/// A handle on an exec's standard input that another thread may own.
pub(crate) struct StdinStream(Arc<StdinInner>);

impl StdinStream {
    /// The next piece of input, as the client sent it; `None` once the
    /// client ended it (or closed, or sent more than the fake takes).
    pub(crate) fn next(&self) -> Option<Vec<u8>> {
        let mut source = lock(&self.0.source);
        let bytes = read_stdin(source.as_mut()?);
        if bytes.is_none() {
            *source = None;
        }
        let bytes = bytes?;
        let mut so_far = lock(&self.0.so_far);
        if so_far.len() as u64 + bytes.len() as u64 > MAX_STDIN {
            *source = None;
            return None;
        }
        so_far.extend_from_slice(&bytes);
        Some(bytes)
    }

    fn so_far(&self) -> Vec<u8> {
        lock(&self.0.so_far).clone()
    }
}

/// The stdio WebSocket's reading side, and where its pings are answered.
struct StdinSource {
    receiver: Receiver<BufReader<UnixStream>>,
    pong: Arc<Streams>,
}

/// A copy keeps what was read, not the stream.
impl Clone for Stdin {
    fn clone(&self) -> Self {
        let read = match self.read.get() {
            Some(all) => all.clone(),
            None => lock(&self.inner.so_far).clone(),
        };
        Self {
            read: OnceLock::from(read),
            inner: Arc::default(),
        }
    }
}

impl PartialEq for Stdin {
    fn eq(&self, other: &Self) -> bool {
        *lock(&self.inner.so_far) == *lock(&other.inner.so_far)
            && self.read.get() == other.read.get()
    }
}

impl Eq for Stdin {}

/// The next binary message, until the `end` command (or a close).
fn read_stdin(source: &mut StdinSource) -> Option<Vec<u8>> {
    loop {
        match source.receiver.recv() {
            Ok(Message::Binary(bytes)) => return Some(bytes),
            Ok(Message::Text(text)) => {
                let command = serde_json::from_str::<Value>(&text)
                    .ok()
                    .and_then(|v| v.get("command")?.as_str().map(str::to_string));
                if command.as_deref() == Some("end") {
                    return None;
                }
            }
            Ok(Message::Ping(payload)) => source.pong.pong(payload),
            Ok(Message::Pong(_)) => {}
            Ok(Message::Close(..)) | Err(_) => return None,
        }
    }
}

/// The signals an exec received, and a wake-up for those waiting for one.
#[derive(Default)]
struct Signals {
    inner: Arc<(Mutex<Vec<String>>, Condvar)>,
}

impl Signals {
    fn push(&self, name: &str) {
        lock(&self.inner.0).push(name.to_string());
        self.inner.1.notify_all();
    }
}

/// A copy keeps those received so far.
impl Clone for Signals {
    fn clone(&self) -> Self {
        let list = lock(&self.inner.0).clone();
        Self {
            inner: Arc::new((Mutex::new(list), Condvar::new())),
        }
    }
}

impl PartialEq for Signals {
    fn eq(&self, other: &Self) -> bool {
        *lock(&self.inner.0) == *lock(&other.inner.0)
    }
}

impl Eq for Signals {}

/// The exec's output WebSockets while it runs; none in a record.
#[derive(Default)]
struct Outputs(Option<Arc<Streams>>);

impl Clone for Outputs {
    fn clone(&self) -> Self {
        Self(None)
    }
}

impl PartialEq for Outputs {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

impl Eq for Outputs {}

/// The writing sides of `stdio` and `stderr`, each shared by whoever
/// writes output and by the stdin reader answering pings (one frame at a
/// time on a connection).
pub(crate) struct Streams {
    stdio: Mutex<Sink>,
    stderr: Option<Mutex<Sink>>,
}

struct Sink {
    sender: Sender<UnixStream>,
    /// Whether the end marker went: output written after it (by a command
    /// whose output was not waited for) is dropped.
    ended: bool,
}

impl Streams {
    /// Sends `bytes` as output on stdout, or on stderr (stdout when
    /// combined), in messages of Pebble's size; an error if the client is
    /// gone.
    pub(crate) fn write(&self, to_stderr: bool, bytes: &[u8]) -> std::io::Result<()> {
        let sink = match (&self.stderr, to_stderr) {
            (Some(stderr), true) => stderr,
            _ => &self.stdio,
        };
        let mut sink = lock(sink);
        if sink.ended {
            return Ok(());
        }
        for chunk in bytes.chunks(OUTPUT_CHUNK) {
            sink.sender.send(&Message::Binary(chunk.to_vec()))?;
        }
        Ok(())
    }

    /// Sends the end markers (stderr's first, as Pebble's streams end).
    fn end(&self) {
        let end = Message::Text(r#"{"command":"end"}"#.into());
        for sink in self.stderr.iter().chain([&self.stdio]) {
            let mut sink = lock(sink);
            if !sink.ended {
                sink.ended = true;
                let _ = sink.sender.send(&end);
            }
        }
    }

    fn pong(&self, payload: Vec<u8>) {
        let _ = lock(&self.stdio).sender.send(&Message::Pong(payload));
    }
}

/// Shows the environment's names, not values, and stdin's length: tests
/// print these on failure, and charms pass secrets this way.
impl fmt::Debug for ExecArgs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ExecArgs")
            .field("command", &self.command.first())
            .field("args", &self.command.len().saturating_sub(1))
            .field("environment", &self.environment.keys().collect::<Vec<_>>())
            .field("working_dir", &self.working_dir)
            .field("timeout", &self.timeout)
            .field("user_id", &self.user_id)
            .field("group_id", &self.group_id)
            .field("stdin_len", &self.stdin.read.get().map(Vec::len))
            .field("signals", &self.signals())
            .finish()
    }
}

/// What a handled command does: its exit code and output, or being killed
/// by its timeout.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct ExecResult {
    /// The exit code (0 unless set).
    pub exit_code: i32,
    /// What it writes to stdout.
    pub stdout: Vec<u8>,
    /// What it writes to stderr (sent after stdout when combined).
    pub stderr: Vec<u8>,
    /// Whether it runs past its timeout: the change then fails as Pebble's
    /// does (`timed out after 1s: context deadline exceeded`), with exit
    /// code -1 and the output written so far.
    pub timed_out: bool,
}

impl fmt::Debug for ExecResult {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ExecResult")
            .field("exit_code", &self.exit_code)
            .field("stdout_len", &self.stdout.len())
            .field("stderr_len", &self.stderr.len())
            .field("timed_out", &self.timed_out)
            .finish()
    }
}

impl ExecResult {
    /// Exits with `code` and no output.
    pub fn exit(code: i32) -> Self {
        Self {
            exit_code: code,
            ..Self::default()
        }
    }

    /// Exits 0 after writing `stdout`.
    pub fn stdout(stdout: impl Into<Vec<u8>>) -> Self {
        Self {
            stdout: stdout.into(),
            ..Self::default()
        }
    }

    /// Dies of `signal` (a name such as `"SIGTERM"`): exit code 128 plus
    /// its number, as Pebble reports a process killed by a signal (143 for
    /// `SIGTERM`); -1 for a name Pebble does not know.
    ///
    /// ```
    /// use ops_testing::fake_pebble::ExecResult;
    /// assert_eq!(ExecResult::killed_by("SIGTERM").exit_code, 143);
    /// assert_eq!(ExecResult::killed_by("SIGKILL").exit_code, 137);
    /// ```
    pub fn killed_by(signal: &str) -> Self {
        Self::exit(ops::pebble::signal_number(signal).map_or(-1, |n| 128 + n))
    }

    /// Runs past its timeout.
    pub fn timed_out() -> Self {
        Self {
            timed_out: true,
            ..Self::default()
        }
    }

    /// The same, writing `stderr` too.
    pub fn with_stderr(mut self, stderr: impl Into<Vec<u8>>) -> Self {
        self.stderr = stderr.into();
        self
    }

    /// The same, exiting with `code`.
    pub fn with_exit_code(mut self, code: i32) -> Self {
        self.exit_code = code;
        self
    }
}

/// What runs a command: given the exec's arguments, what it does.
pub type ExecHandler = Arc<dyn Fn(&ExecArgs) -> ExecResult + Send + Sync>;

/// A user the fake Pebble can run commands as.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct User {
    pub name: String,
    pub uid: u32,
    pub gid: u32,
    pub home: String,
}

/// An exec whose WebSockets are (being) connected.
struct Pending {
    change_id: String,
    args: ExecArgs,
    handler: ExecHandler,
    control: Option<(BufReader<UnixStream>, UnixStream)>,
    stdio: Option<(BufReader<UnixStream>, UnixStream)>,
    stderr: Option<UnixStream>,
}

/// Handlers, users, and the execs under way and done.
#[derive(Default)]
pub(crate) struct Execs {
    /// Command prefixes and their handlers, in registration order.
    handlers: Vec<(Vec<String>, ExecHandler)>,
    /// By task id.
    pending: BTreeMap<String, Pending>,
    /// Every exec that ran, in order.
    pub records: Vec<ExecArgs>,
    /// Users beyond root, and their primary groups (named as the user).
    pub users: Vec<User>,
}

impl Execs {
    /// The handlers, users and records of these execs, without the ones
    /// under way (their streams belong to the clients that started them).
    pub fn fork(&self) -> Self {
        Self {
            handlers: self.handlers.clone(),
            pending: BTreeMap::new(),
            records: self.records.clone(),
            users: self.users.clone(),
        }
    }

    /// Registers `handler` for commands starting with `prefix` (an empty
    /// prefix matches every command); a later one for the same prefix
    /// replaces the earlier.
    pub fn handle(&mut self, prefix: &[&str], handler: ExecHandler) {
        let prefix: Vec<String> = prefix.iter().map(|s| s.to_string()).collect();
        self.handlers.retain(|(p, _)| *p != prefix);
        self.handlers.push((prefix, handler));
    }

    /// The handler of the longest prefix of `command`.
    fn handler_for(&self, command: &[String]) -> Option<ExecHandler> {
        self.handlers
            .iter()
            .filter(|(prefix, _)| command.starts_with(prefix))
            .max_by_key(|(prefix, _)| prefix.len())
            .map(|(_, handler)| Arc::clone(handler))
    }

    fn users(&self) -> impl Iterator<Item = User> + '_ {
        std::iter::once(User {
            name: "root".into(),
            uid: 0,
            gid: 0,
            home: "/root".into(),
        })
        .chain(self.users.iter().cloned())
    }
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "kebab-case")]
struct ExecPayload {
    command: Vec<String>,
    service_context: Option<String>,
    environment: Option<BTreeMap<String, String>>,
    working_dir: Option<String>,
    timeout: Option<String>,
    user_id: Option<u32>,
    user: Option<String>,
    group_id: Option<u32>,
    group: Option<String>,
    terminal: bool,
    interactive: bool,
    split_stderr: bool,
}

/// `POST /v1/exec`.
pub(crate) fn post_exec(shared: &Shared, request: &HttpRequest) -> Reply {
    let payload: ExecPayload = match serde_json::from_slice(&request.body) {
        Ok(p) => p,
        Err(e) => return Reply::bad_request(format!("cannot decode request body: {e}")),
    };
    let Some(executable) = payload.command.first().cloned() else {
        return Reply::bad_request("must specify command");
    };
    let timeout = match payload.timeout.as_deref().unwrap_or("") {
        "" => None,
        text => match parse_go_duration(text) {
            Ok(t) if t.is_zero() => None,
            Ok(t) => Some(t),
            Err(e) => return Reply::bad_request(format!("invalid timeout: {e}")),
        },
    };
    let mut execs = shared.lock_execs();
    // Pebble looks the executable up first: an unhandled command is one
    // that is not installed.
    let Some(handler) = execs.handler_for(&payload.command) else {
        return Reply::bad_request(format!("cannot find executable {executable:?}"));
    };
    let mut state = shared.lock();
    // The context service's settings, under the request's.
    let mut environment = BTreeMap::new();
    let (mut user_id, mut user, mut group_id, mut group, mut working_dir) =
        (None, None, None, None, None);
    if let Some(name) = payload.service_context.as_deref().filter(|n| !n.is_empty()) {
        let Some(service) = state.plan.services.get(name) else {
            return Reply::bad_request(format!("context service {name:?} not found"));
        };
        environment.extend(service.environment.clone());
        (user_id, user, group_id, group) = (
            service.user_id,
            service.user.clone(),
            service.group_id,
            service.group.clone(),
        );
        working_dir = service.working_dir.clone();
    }
    environment.extend(payload.environment.unwrap_or_default());
    user_id = payload.user_id.or(user_id);
    user = payload.user.filter(|u| !u.is_empty()).or(user);
    group_id = payload.group_id.or(group_id);
    group = payload.group.filter(|g| !g.is_empty()).or(group);
    working_dir = payload
        .working_dir
        .filter(|d| !d.is_empty())
        .or(working_dir);
    let (uid, gid) =
        match normalize_ids(&execs, user_id, user.as_deref(), group_id, group.as_deref()) {
            Ok(ids) => ids,
            Err(message) => return Reply::bad_request(message),
        };
    if payload.interactive && !payload.terminal {
        return Reply::error(
            500,
            "cannot call exec: cannot use interactive mode without a terminal",
            None,
        );
    }
    if payload.terminal {
        return Reply::error(
            500,
            "cannot call exec: the fake Pebble has no terminals (use terminal: false)",
            None,
        );
    }
    // Pebble's defaults, as `cmdstate.Exec` sets them.
    let runs_as = execs.users().find(|u| u.uid == uid.unwrap_or(0));
    environment
        .entry("PATH".into())
        .or_insert_with(|| DEFAULT_PATH.into());
    if let Some(u) = &runs_as {
        if environment.get("HOME").is_none_or(String::is_empty) {
            environment.insert("HOME".into(), u.home.clone());
        }
        if environment.get("USER").is_none_or(String::is_empty) {
            environment.insert("USER".into(), u.name.clone());
        }
    }
    environment
        .entry("LANG".into())
        .or_insert_with(|| "C.UTF-8".into());
    let working_dir = match working_dir {
        Some(dir) => match check_dir(&shared.root, &mut state, &dir, "working directory") {
            Ok(()) => dir,
            Err(message) => return Reply::error(500, format!("cannot call exec: {message}"), None),
        },
        // Pebble would fail on a missing home directory; the fake's root
        // is often bare, so it falls back to `/`.
        None => environment
            .get("HOME")
            .filter(|home| check_dir(&shared.root, &mut state, home, "home directory").is_ok())
            .cloned()
            .unwrap_or_else(|| "/".into()),
    };
    let summary = format!("Execute command {executable:?}");
    let (change_id, task_id) = state.begin_change("exec", "exec", summary);
    drop(state);
    let args = ExecArgs {
        command: payload.command,
        environment: environment.clone(),
        working_dir: working_dir.clone(),
        timeout,
        user_id: uid,
        user,
        group_id: gid,
        group,
        service_context: payload.service_context.filter(|s| !s.is_empty()),
        combine_stderr: !payload.split_stderr,
        stdin: Stdin::default(),
        signals: Signals::default(),
        output: Outputs::default(),
    };
    execs.pending.insert(
        task_id.clone(),
        Pending {
            change_id: change_id.clone(),
            args,
            handler,
            control: None,
            stdio: None,
            stderr: None,
        },
    );
    drop(execs);
    fail_if_not_connected(shared, &task_id, CONNECT_TIMEOUT);
    Reply::async_result(
        &change_id,
        json!({"environment": environment, "task-id": task_id, "working-dir": working_dir}),
    )
}

/// After `timeout`, fails the exec if its I/O WebSockets are not all
/// connected by then, as Pebble's `waitIOConnected` does.
fn fail_if_not_connected(shared: &Shared, task: &str, timeout: Duration) {
    let me = shared.me.clone();
    let task = task.to_string();
    let spawned = std::thread::Builder::new()
        .name("fake-pebble-exec-connect".into())
        .spawn(move || {
            std::thread::sleep(timeout);
            let Some(shared) = me.upgrade() else { return };
            let Some(pending) = shared.lock_execs().pending.remove(&task) else {
                return; // it ran (or is running)
            };
            let error = format!(
                "exec {task}: timeout waiting for websocket connections: context deadline exceeded"
            );
            shared
                .lock()
                .finish_task(&pending.change_id, &task, None, Some(&error));
            shared.changed.notify();
        });
    if let Err(e) = spawned {
        tracing::warn!("fake Pebble cannot start an exec's connect timer: {e}");
    }
}

/// The id of the user or group (`what`) called `name`, which must match
/// `given` if that is set: Pebble's lookups and their 400 messages.
fn named_id(
    execs: &Execs,
    what: &str,
    name: &str,
    given: Option<u32>,
    id_of: fn(&User) -> u32,
) -> Result<u32, String> {
    let found = execs
        .users()
        .find(|u| u.name == name)
        .map(|u| id_of(&u))
        .ok_or_else(|| format!("{what}: unknown {what} {name}"))?;
    let (id, label) = if what == "user" {
        ("UID", "user-id")
    } else {
        ("GID", "group-id")
    };
    match given {
        Some(given) if given != found => Err(format!(
            "{what} {name:?} {id} ({found}) does not match {label} ({given})"
        )),
        _ => Ok(found),
    }
}

/// Pebble's `osutil.NormalizeUidGid` over the fake's users: the uid and
/// gid to run as, or the 400 message.
fn normalize_ids(
    execs: &Execs,
    mut uid: Option<u32>,
    user: Option<&str>,
    mut gid: Option<u32>,
    group: Option<&str>,
) -> Result<(Option<u32>, Option<u32>), String> {
    if uid.is_none() && user.is_none() && gid.is_none() && group.is_none() {
        return Ok((None, None));
    }
    if let Some(name) = user {
        uid = Some(named_id(execs, "user", name, uid, |u| u.uid)?);
    }
    if let Some(name) = group {
        gid = Some(named_id(execs, "group", name, gid, |u| u.gid)?);
    }
    match (uid, gid) {
        (None, Some(_)) => Err("must specify user, not just group".into()),
        (Some(id), None) => {
            let found = execs
                .users()
                .find(|u| u.uid == id)
                .ok_or_else(|| format!("user: unknown userid {id}"))?;
            Ok((Some(id), Some(found.gid)))
        }
        ids => Ok(ids),
    }
}

/// Pebble's check that a working (or home) directory exists.
fn check_dir(
    root: &std::path::Path,
    state: &mut super::state::State,
    dir: &str,
    what: &str,
) -> Result<(), String> {
    let clean = files::clean(dir).unwrap_or_else(|| dir.to_string());
    match files::Fs::of(root, state).disk.stat(&clean) {
        Ok(stat) if stat.kind == super::disk::Kind::Dir => Ok(()),
        Ok(_) => Err(format!("{what} {dir:?} not a directory")),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            Err(format!("{what} {dir:?} does not exist"))
        }
        Err(e) => Err(format!("cannot stat {what} {dir:?}: {e}")),
    }
}

/// The task and WebSocket of `GET /v1/tasks/<task>/websocket/<id>`.
pub(crate) fn websocket_route(request: &HttpRequest) -> Option<(String, String)> {
    let segments: Vec<&str> = request.path.split('/').skip(1).collect();
    match (segments.as_slice(), request.method.as_str()) {
        (["v1", "tasks", task, "websocket", id], "GET") => Some((task.to_string(), id.to_string())),
        _ => None,
    }
}

/// Serves `GET /v1/tasks/<task>/websocket/<id>`: refuses it as Pebble
/// does, or switches the connection to WebSocket and hands it to the exec,
/// which runs once its I/O WebSockets are all connected.
pub(crate) fn connect_websocket(
    shared: &Shared,
    request: &HttpRequest,
    task: &str,
    id: &str,
    reader: BufReader<UnixStream>,
    mut writer: UnixStream,
) {
    let refuse = |mut writer: UnixStream, reply: Reply| {
        let _ = writer.write_all(&reply.encode(true));
    };
    match shared.lock().task_kind(task) {
        None => {
            return refuse(
                writer,
                Reply::error(404, format!("cannot find task {task:?}"), None),
            );
        }
        Some("exec") => {}
        Some(kind) => {
            return refuse(
                writer,
                Reply::bad_request(format!("{kind:?} tasks do not have websockets")),
            );
        }
    }
    let not_found = || {
        Reply::error(
            404,
            format!("cannot find {id} websocket for task {task:?}"),
            None,
        )
    };
    let mut execs = shared.lock_execs();
    let Some(pending) = execs.pending.get_mut(task) else {
        drop(execs);
        return refuse(writer, not_found());
    };
    let slot_taken = match id {
        "control" => pending.control.is_some(),
        "stdio" => pending.stdio.is_some(),
        "stderr" if !pending.args.combine_stderr => pending.stderr.is_some(),
        _ => {
            drop(execs);
            return refuse(writer, not_found());
        }
    };
    if slot_taken {
        drop(execs);
        return refuse(
            writer,
            Reply::error(500, format!("{id} websocket already connected"), None),
        );
    }
    // The handshake, as gorilla/websocket checks it (its refusals are
    // plain text, not Pebble's JSON).
    let token = |name: &str, token: &str| {
        request
            .header(name)
            .is_some_and(|v| v.split(',').any(|t| t.trim().eq_ignore_ascii_case(token)))
    };
    let key = request.header("sec-websocket-key").unwrap_or("").trim();
    let problem = if !token("connection", "upgrade") {
        Some(
            "websocket: the client is not using the websocket protocol: 'upgrade' token not found in 'Connection' header",
        )
    } else if !token("upgrade", "websocket") {
        Some(
            "websocket: the client is not using the websocket protocol: 'websocket' token not found in 'Upgrade' header",
        )
    } else if request.header("sec-websocket-version") != Some("13") {
        Some("websocket: unsupported version: 13 not found in 'Sec-Websocket-Version' header")
    } else if key.is_empty() {
        Some(
            "websocket: not a websocket handshake: 'Sec-WebSocket-Key' header must be Base64 encoded value of 16-byte length",
        )
    } else {
        None
    };
    if let Some(problem) = problem {
        drop(execs);
        let reply = Reply {
            status: 400,
            content_type: "text/plain; charset=utf-8".into(),
            body: format!("{problem}\n").into_bytes(),
        };
        return refuse(writer, reply);
    }
    let switched = format!(
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: {}\r\n\r\n",
        accept_key(key)
    );
    if writer
        .write_all(switched.as_bytes())
        .and_then(|()| writer.flush())
        .is_err()
    {
        return;
    }
    // Frames have no idle timeout: the exec decides when they end.
    let _ = writer.set_read_timeout(None);
    match id {
        "control" => pending.control = Some((reader, writer)),
        "stdio" => pending.stdio = Some((reader, writer)),
        _ => pending.stderr = Some(writer),
    }
    let ready =
        pending.stdio.is_some() && (pending.args.combine_stderr || pending.stderr.is_some());
    if !ready {
        return;
    }
    let Some(pending) = execs.pending.remove(task) else {
        return;
    };
    drop(execs);
    run(shared, task, pending);
}

/// Runs the exec on this thread: calls the handler (which reads stdin if
/// it asks, and may stream output), sends the rest of the output and its
/// end markers, closes the control WebSocket and finishes the change with
/// the exit code. Signals on the control WebSocket reach the handler
/// meanwhile.
fn run(shared: &Shared, task: &str, mut pending: Pending) {
    let Some((reader, stdio_writer)) = pending.stdio.take() else {
        return;
    };
    let streams = Arc::new(Streams {
        stdio: Mutex::new(Sink {
            sender: Sender::new(stdio_writer, Role::Server),
            ended: false,
        }),
        stderr: pending.stderr.take().map(|s| {
            Mutex::new(Sink {
                sender: Sender::new(s, Role::Server),
                ended: false,
            })
        }),
    });
    *lock(&pending.args.stdin.inner.source) = Some(StdinSource {
        receiver: Receiver::new(reader, Role::Server, MAX_STDIN),
        pong: Arc::clone(&streams),
    });
    pending.args.output = Outputs(Some(Arc::clone(&streams)));
    let control = pending
        .control
        .take()
        .map(|(reader, writer)| Control::start(reader, writer, &pending.args.signals));
    // A handler that panics fails the change (a test's own bug should not
    // leave the charm waiting for its change timeout).
    let handler = Arc::clone(&pending.handler);
    let args = &pending.args;
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| handler(args)));
    let panicked = outcome.is_err();
    let result = outcome.unwrap_or_else(|_| ExecResult::exit(-1));
    let timeout = pending.args.timeout;
    let _ = streams.write(false, &result.stdout);
    let _ = streams.write(true, &result.stderr);
    streams.end();
    // The process is gone: Pebble closes the control connection, and
    // signals no longer reach anything.
    if let Some(control) = control {
        control.stop();
    }
    // Unread input stays unread (the stream goes with the exec).
    let record = pending.args.clone();
    shared.lock_execs().records.push(record);
    let (exit_code, error) = if panicked {
        (
            -1,
            Some("the fake Pebble's exec handler panicked".to_string()),
        )
    } else if result.timed_out {
        let after = format_go_duration(timeout.unwrap_or_default());
        (
            -1,
            Some(format!(
                "timed out after {after}: context deadline exceeded"
            )),
        )
    } else {
        (i64::from(result.exit_code), None)
    };
    shared.lock().finish_task(
        &pending.change_id,
        task,
        Some(json!({"exit-code": exit_code})),
        error.as_deref(),
    );
    shared.changed.notify();
}

/// The control WebSocket while the process runs: a thread taking its
/// commands, as Pebble's `controlLoop` does.
struct Control {
    stream: UnixStream,
    /// Set once the process is gone, so that the connection's end is not
    /// taken for the client's.
    stopped: Arc<std::sync::atomic::AtomicBool>,
    reader: Option<std::thread::JoinHandle<()>>,
}

impl Control {
    fn start(reading: BufReader<UnixStream>, stream: UnixStream, signals: &Signals) -> Self {
        let stopped = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let reader = match stream.try_clone() {
            Ok(writing) => {
                let signals = Signals {
                    inner: Arc::clone(&signals.inner),
                };
                let stopped = Arc::clone(&stopped);
                std::thread::Builder::new()
                    .name("fake-pebble-exec-control".into())
                    .spawn(move || control_loop(reading, writing, &signals, &stopped))
                    .map_err(|e| tracing::warn!("fake Pebble cannot read an exec's control: {e}"))
                    .ok()
            }
            Err(e) => {
                tracing::warn!("fake Pebble cannot read an exec's control: {e}");
                None
            }
        };
        Self {
            stream,
            stopped,
            reader,
        }
    }

    /// Closes the connection (with a close frame) and ends the reader.
    fn stop(mut self) {
        self.stopped
            .store(true, std::sync::atomic::Ordering::SeqCst);
        if let Ok(writer) = self.stream.try_clone() {
            let _ =
                Sender::new(writer, Role::Server).send(&Message::Close(Some(1000), String::new()));
        }
        let _ = self.stream.shutdown(std::net::Shutdown::Both);
        if let Some(reader) = self.reader.take() {
            let _ = reader.join();
        }
    }
}

/// A control command: `{"command":"signal","signal":{"name":"SIGTERM"}}`
/// or `{"command":"resize","resize":{"width":80,"height":25}}`.
#[derive(Deserialize)]
struct ControlCommand {
    command: String,
    signal: Option<SignalArgs>,
}

#[derive(Deserialize)]
struct SignalArgs {
    name: String,
}

/// The signal a control message asks for, if Pebble would send it: a
/// `signal` command with a name it knows. Anything else it logs and
/// ignores (`resize` included: the fake has no terminals).
fn signal_asked(text: &str) -> Option<String> {
    let command: ControlCommand = match serde_json::from_str(text) {
        Ok(c) => c,
        Err(e) => {
            tracing::debug!("fake Pebble: cannot decode control websocket command: {e}");
            return None;
        }
    };
    if command.command != "signal" {
        tracing::debug!("fake Pebble: control command {:?} ignored", command.command);
        return None;
    }
    let Some(SignalArgs { name }) = command.signal else {
        tracing::debug!(r#"fake Pebble: control command "signal" requires signal name"#);
        return None;
    };
    if ops::pebble::signal_number(&name).is_none() {
        tracing::debug!("fake Pebble: invalid signal name {name:?}");
        return None;
    }
    Some(name)
}

/// Records the signals asked for until the connection ends; one that ends
/// without a close frame (the client gone) is a `SIGKILL`, as Pebble kills
/// the process then.
fn control_loop(
    reading: BufReader<UnixStream>,
    writing: UnixStream,
    signals: &Signals,
    stopped: &std::sync::atomic::AtomicBool,
) {
    let mut receiver = Receiver::new(reading, Role::Server, MAX_CONTROL);
    let mut pong = Sender::new(writing, Role::Server);
    loop {
        match receiver.recv() {
            Ok(Message::Text(text)) => {
                if let Some(name) = signal_asked(&text) {
                    signals.push(&name);
                }
            }
            Ok(Message::Ping(payload)) => {
                let _ = pong.send(&Message::Pong(payload));
            }
            Ok(Message::Binary(_) | Message::Pong(_)) => {}
            Ok(Message::Close(..)) => return,
            Err(_) => {
                if !stopped.load(std::sync::atomic::Ordering::SeqCst) {
                    signals.push("SIGKILL");
                }
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_signal_commands_with_known_names_are_taken() {
        assert_eq!(
            signal_asked(r#"{"command":"signal","signal":{"name":"SIGTERM"}}"#).as_deref(),
            Some("SIGTERM")
        );
        for ignored in [
            r#"{"command":"signal","signal":{"name":"SIGBOGUS"}}"#,
            r#"{"command":"signal","signal":{"name":"sigterm"}}"#,
            r#"{"command":"signal"}"#,
            r#"{"command":"resize","resize":{"width":80,"height":25}}"#,
            r#"{"command":"kill"}"#,
            "not json",
        ] {
            assert_eq!(signal_asked(ignored), None, "{ignored}");
        }
    }
}
