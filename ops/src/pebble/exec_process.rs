//! A command running in the workload container with its streams open
//! (Python ops' `ExecProcess`): standard input written and output read
//! while it runs, signals sent to it, and its exit waited for.
//!
//! Pebble's side (`internals/overlord/cmdstate/handlers.go`): the control
//! WebSocket takes `{"command":"signal","signal":{"name":"SIGTERM"}}`,
//! ignoring (and only logging) a name it does not know; a process killed by
//! a signal exits with 128 plus the signal's number; and the control
//! connection dropped without a close frame is taken as the client gone,
//! and the process is killed (`SIGKILL`).

use std::io::{self, BufReader, Read, Write};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::client::{Client, api_error, change_failed};
use super::error::{ExecError, PebbleError};
use super::exec::{
    self, ExecOptions, ExecOutput, MAX_OUTPUT, OpenError, Socket, close_sender, exec_body,
    exec_deadline, lock, ws_error,
};
use super::http::{Deadlined, Request};
use super::websocket::{Message, Receiver, Sender, WebSocketError};

/// Standard input is sent in messages of at most this size.
const STDIN_CHUNK: usize = 64 * 1024;
/// The end of a stream, in both directions.
pub(crate) const END: &str = r#"{"command":"end"}"#;

/// The signal names Pebble's exec control accepts (Go's `unix.SignalNum`
/// on Linux: exact, upper case, with the `SIG` prefix), by number.
const SIGNALS: [&str; 31] = [
    "SIGHUP",
    "SIGINT",
    "SIGQUIT",
    "SIGILL",
    "SIGTRAP",
    "SIGABRT",
    "SIGBUS",
    "SIGFPE",
    "SIGKILL",
    "SIGUSR1",
    "SIGSEGV",
    "SIGUSR2",
    "SIGPIPE",
    "SIGALRM",
    "SIGTERM",
    "SIGSTKFLT",
    "SIGCHLD",
    "SIGCONT",
    "SIGSTOP",
    "SIGTSTP",
    "SIGTTIN",
    "SIGTTOU",
    "SIGURG",
    "SIGXCPU",
    "SIGXFSZ",
    "SIGVTALRM",
    "SIGPROF",
    "SIGWINCH",
    "SIGIO",
    "SIGPWR",
    "SIGSYS",
];

/// The Linux number of the signal Pebble knows as `name`, or `None` for a
/// name Pebble's exec control ignores. Public for ops-testing's fake
/// Pebble, which must accept the same names; not part of the API.
///
/// ```
/// assert_eq!(ops::pebble::signal_number("SIGTERM"), Some(15));
/// assert_eq!(ops::pebble::signal_number("TERM"), None);
/// ```
#[doc(hidden)]
pub fn signal_number(name: &str) -> Option<i32> {
    let index = SIGNALS.iter().position(|known| *known == name)?;
    i32::try_from(index + 1).ok()
}

/// The stdio connection's writing side, shared: standard input goes up it,
/// and pings that arrive on it (read by [`ExecStdout`]) are answered on it.
type SharedSender = Arc<Mutex<Sender<Deadlined>>>;

/// A command started with [`Client::exec_process`] (or
/// [`Container::exec_process`](crate::model::Container::exec_process)),
/// still running: shaped like [`std::process::Child`].
///
/// Its streams are public fields, to [`take`](Option::take) and use from
/// any thread:
/// - [`stdin`](Self::stdin): standard input to write, ended by
///   [`ExecStdin::close`] or by dropping it; `None` if
///   [`ExecOptions::stdin`](super::ExecOptions::stdin) was given (the
///   process sends that itself).
/// - [`stdout`](Self::stdout), [`stderr`](Self::stderr): output to read as
///   it comes; `stderr` is `None` when combined into stdout.
///
/// [`wait`](Self::wait) ends standard input, reads and discards the output
/// the process still holds, and waits for the exit;
/// [`wait_output`](Self::wait_output) keeps that output instead. A stream
/// taken is the caller's: a command blocks when its output is not read, as
/// with a pipe, and one that reads to the end of its input waits until the
/// taken `stdin` is closed.
///
/// Dropping it without waiting drops its connections, which Pebble takes as
/// the client gone: it kills the command (`SIGKILL`).
///
/// Its `Debug` shows the executable and which streams it holds, never
/// what went through them.
///
/// ```no_run
/// use std::io::{BufRead, BufReader, Write};
/// use ops::pebble::{Client, ExecOptions, PebbleError};
/// # fn demo(client: &Client) -> Result<(), Box<dyn std::error::Error>> {
/// let mut process = client.exec_process(&["psql", "-qAt"], &ExecOptions::new())?;
/// let mut stdin = process.stdin.take().expect("no stdin was given in the options");
/// let mut lines = BufReader::new(process.stdout.take().expect("stdout is always there"));
/// for query in ["SELECT 1;", "SELECT 2;"] {
///     writeln!(stdin, "{query}")?;
///     let mut answer = String::new();
///     lines.read_line(&mut answer)?;
///     println!("{query} -> {}", answer.trim_end());
/// }
/// stdin.close()?;
/// process.wait()?;
/// # Ok(()) }
/// ```
pub struct ExecProcess {
    /// Standard input, to write while the command runs; `None` when
    /// [`ExecOptions::stdin`](super::ExecOptions::stdin) was given.
    pub stdin: Option<ExecStdin>,
    /// Standard output (with stderr, if combined), to read as it comes.
    pub stdout: Option<ExecStdout>,
    /// Standard error, to read as it comes; `None` if combined into stdout.
    pub stderr: Option<ExecStderr>,
    client: Client,
    change_id: String,
    /// The command's first item, for [`ExecError`].
    executable: String,
    /// When the streams and the wait give up (the command's timeout and
    /// some slack, or none).
    deadline: Instant,
    control: Socket,
    /// Handles on the stdio and stderr connections, to end them (and wake
    /// whatever blocks on them) once the command is done, whoever holds
    /// the streams then.
    stdio_conn: Deadlined,
    stderr_conn: Option<Deadlined>,
    stdio_sender: SharedSender,
    /// Sends [`ExecOptions::stdin`](super::ExecOptions::stdin), apart from
    /// the caller, so that a command writing before it reads cannot block
    /// on a caller blocked writing.
    feeder: Option<JoinHandle<io::Result<()>>>,
}

// The client's exec methods stand here, beside the process they start:
// the process waits through the client, so the import runs one way only.
impl Client {
    /// Runs a command in the container and waits for it to exit (Pebble's
    /// `exec`; Python ops' `Client.exec(...).wait_output()`): all of
    /// [`ExecOptions::stdin`] in (none is an empty one), all of the output
    /// out. [`exec_process`](Self::exec_process) streams them instead.
    ///
    /// Exit code 0 gives the command's output; any other code is
    /// [`PebbleError::Exec`], which carries the code and the output. A
    /// command that Pebble cannot find is [`PebbleError::Api`] (`cannot find
    /// executable "..."`); one killed by [`ExecOptions::timeout`] is
    /// [`PebbleError::Change`] (`timed out after ...`).
    ///
    /// The whole call (streams and the wait for the change) ends by the
    /// command's timeout plus a few seconds; without one it waits however
    /// long the command runs. If the client gives up first, it drops the
    /// connections, and Pebble kills the command.
    ///
    /// ```no_run
    /// use ops::pebble::{Client, ExecOptions, PebbleError};
    /// # fn demo(client: &Client) -> Result<(), PebbleError> {
    /// let output = client.exec(
    ///     &["psql", "--version"],
    ///     &ExecOptions::new().with_timeout(std::time::Duration::from_secs(10)),
    /// )?;
    /// println!("{}", output.stdout_text());
    ///
    /// match client.exec(&["pg_isready"], &ExecOptions::default()) {
    ///     Ok(_) => {}
    ///     Err(PebbleError::Exec(e)) if e.exit_code == 2 => { /* not accepting connections */ }
    ///     Err(e) => return Err(e),
    /// }
    /// # Ok(()) }
    /// ```
    pub fn exec<S: AsRef<str>>(
        &self,
        command: &[S],
        options: &ExecOptions,
    ) -> Result<ExecOutput, PebbleError> {
        self.exec_process(command, options)?.wait_output()
    }

    /// Starts a command in the container and returns it running, its
    /// streams open (Pebble's `exec`; Python ops' `Client.exec`): write its
    /// standard input and read its output as it runs, send it signals, then
    /// [`wait`](ExecProcess::wait) for it. See [`ExecProcess`].
    ///
    /// With [`ExecOptions::stdin`], the process sends that input itself and
    /// has no [`stdin`](ExecProcess::stdin) stream. A command that Pebble
    /// cannot find is [`PebbleError::Api`] here; its exit code, a
    /// timeout's failure, and the output are the wait's.
    ///
    /// ```no_run
    /// use std::io::{BufRead, BufReader};
    /// use ops::pebble::{Client, ExecOptions, PebbleError};
    /// # fn demo(client: &Client) -> Result<(), Box<dyn std::error::Error>> {
    /// let options = ExecOptions::new().with_stdin(b"SELECT 1;\n".to_vec());
    /// let mut process = client.exec_process(&["psql", "-qAt"], &options)?;
    /// assert!(process.stdin.is_none()); // the options' input is sent for us
    /// for line in BufReader::new(process.stdout.take().unwrap()).lines() {
    ///     println!("{}", line?);
    /// }
    /// process.wait()?;
    /// # Ok(()) }
    /// ```
    pub fn exec_process<S: AsRef<str>>(
        &self,
        command: &[S],
        options: &ExecOptions,
    ) -> Result<ExecProcess, PebbleError> {
        let command: Vec<String> = command.iter().map(|s| s.as_ref().to_string()).collect();
        let Some(executable) = command.first().cloned() else {
            return Err(PebbleError::InvalidRequest {
                what: "exec needs a command; an empty one was given".into(),
            });
        };
        let deadline = exec_deadline(options);
        let request = Request::post_json("/v1/exec".into(), &exec_body(&command, options));
        let (change_id, result) = self.async_change_with_result(request)?;
        let task_id = result
            .get("task-id")
            .and_then(Value::as_str)
            .filter(|id| !id.is_empty())
            .ok_or_else(|| PebbleError::malformed("POST /v1/exec: no task-id in the result"))?
            .to_string();
        self.transport.prepare_upgrade()?;
        let socket = self.transport.socket();
        let open = |id: &str| {
            exec::open(socket, deadline, &task_id, id, |response| {
                api_error(response, serde_json::from_slice(&response.body).ok())
            })
        };
        let opened = (|| {
            let control = open("control")?;
            let stdio = open("stdio")?;
            let stderr = if options.combine_stderr {
                None
            } else {
                Some(open("stderr")?)
            };
            Ok(Sockets {
                control,
                stdio,
                stderr,
            })
        })();
        let sockets = match opened {
            Ok(sockets) => sockets,
            Err(OpenError::Refused(e)) => {
                // The task may have failed already; its error says why.
                let left = deadline.saturating_duration_since(Instant::now());
                if let Ok(change) = self.wait_change(&change_id, left)
                    && let Err(failed) = change_failed(&change_id, &change)
                {
                    return Err(failed);
                }
                return Err(e);
            }
            Err(OpenError::Other(e)) => return Err(e),
        };
        ExecProcess::start(
            self.clone(),
            change_id,
            executable,
            deadline,
            sockets,
            options.stdin.as_deref(),
        )
    }
}

/// The opened WebSockets of an exec task.
pub(crate) struct Sockets {
    pub control: Socket,
    pub stdio: Socket,
    pub stderr: Option<Socket>,
}

impl ExecProcess {
    /// Takes over the task's open WebSockets; sends `stdin`, if given, from
    /// a thread of its own.
    pub(crate) fn start(
        client: Client,
        change_id: String,
        executable: String,
        deadline: Instant,
        sockets: Sockets,
        stdin: Option<&[u8]>,
    ) -> Result<Self, PebbleError> {
        let socket_path = client.socket().to_path_buf();
        let io_error = |what: &str, source| PebbleError::Io {
            socket: socket_path.clone(),
            what: what.to_string(),
            source,
        };
        let Sockets {
            control,
            stdio,
            stderr,
        } = sockets;
        let stdio_conn = stdio
            .receiver
            .get_ref()
            .get_ref()
            .try_clone()
            .map_err(|e| io_error("keeping a handle on the exec stdio WebSocket", e))?;
        let stderr_conn =
            match &stderr {
                Some(s) => {
                    Some(s.receiver.get_ref().get_ref().try_clone().map_err(|e| {
                        io_error("keeping a handle on the exec stderr WebSocket", e)
                    })?)
                }
                None => None,
            };
        let stdio_sender: SharedSender = Arc::new(Mutex::new(stdio.sender));
        let stdout = ExecStdout(Output::new(
            stdio.receiver,
            Arc::clone(&stdio_sender),
            "stdio",
            socket_path.clone(),
        ));
        let stderr = stderr.map(|s| {
            ExecStderr(Output::new(
                s.receiver,
                Arc::new(Mutex::new(s.sender)),
                "stderr",
                socket_path.clone(),
            ))
        });
        let (stdin, feeder) = match stdin {
            None => (
                Some(ExecStdin {
                    sender: Arc::clone(&stdio_sender),
                    ended: false,
                }),
                None,
            ),
            Some(bytes) => {
                let sender = Arc::clone(&stdio_sender);
                let bytes = bytes.to_vec();
                let feeder = std::thread::Builder::new()
                    .name("pebble-exec-stdin".into())
                    .spawn(move || send_all(&sender, &bytes))
                    .map_err(|e| io_error("starting the exec stdin writer", e))?;
                (None, Some(feeder))
            }
        };
        Ok(Self {
            stdin,
            stdout: Some(stdout),
            stderr,
            client,
            change_id,
            executable,
            deadline,
            control,
            stdio_conn,
            stderr_conn,
            stdio_sender,
            feeder,
        })
    }

    /// Sends `signal` (a name such as `"SIGTERM"` or `"SIGHUP"`) to the
    /// command, over the control WebSocket (Python ops'
    /// `ExecProcess.send_signal`). A command killed by a signal exits with
    /// 128 plus the signal's number (143 for `SIGTERM`), which
    /// [`wait`](Self::wait) reports as [`PebbleError::Exec`].
    ///
    /// Pebble ignores a name it does not know, without an error, so this
    /// checks the name first: one that is not a Linux signal name as Pebble
    /// spells it (`"SIGTERM"`, not `"TERM"` or `"sigterm"`) is
    /// [`PebbleError::InvalidRequest`], and nothing is sent. A command that
    /// has already exited is not an error, as with
    /// [`Child::kill`](std::process::Child::kill).
    ///
    /// ```no_run
    /// use ops::pebble::{Client, ExecOptions, PebbleError};
    /// # fn demo(client: &Client) -> Result<(), PebbleError> {
    /// let mut process = client.exec_process(&["sleep", "3600"], &ExecOptions::new())?;
    /// process.send_signal("SIGTERM")?;
    /// match process.wait() {
    ///     Err(PebbleError::Exec(e)) if e.exit_code == 128 + 15 => {} // terminated
    ///     other => other?,
    /// }
    /// # Ok(()) }
    /// ```
    pub fn send_signal(&mut self, signal: &str) -> Result<(), PebbleError> {
        if signal_number(signal).is_none() {
            return Err(PebbleError::InvalidRequest {
                what: format!(
                    "{signal:?} is not a signal name Pebble knows (such as \"SIGTERM\"); \
                     Pebble would ignore it"
                ),
            });
        }
        let command = json!({"command": "signal", "signal": {"name": signal}});
        match self
            .control
            .sender
            .send(&Message::Text(command.to_string()))
        {
            Ok(()) => Ok(()),
            // Pebble closes the control connection once the command exits.
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::BrokenPipe | io::ErrorKind::ConnectionReset
                ) =>
            {
                tracing::debug!("exec {:?} has exited; {signal} not sent", self.executable);
                Ok(())
            }
            Err(source) => Err(PebbleError::Io {
                socket: self.client.socket().to_path_buf(),
                what: format!("sending {signal} on the exec control WebSocket"),
                source,
            }),
        }
    }

    /// Waits for the command to exit (Python ops' `ExecProcess.wait`):
    /// ends standard input if it is still held here, reads and discards the
    /// output still held here (so that the command never blocks writing
    /// it), and waits for Pebble's change.
    ///
    /// Exit code 0 is `Ok`; any other is [`PebbleError::Exec`] with the
    /// code and empty output (use [`wait_output`](Self::wait_output) to keep
    /// it). A command killed by [`ExecOptions::timeout`](super::ExecOptions::timeout)
    /// is [`PebbleError::Change`]. Without a timeout this waits however
    /// long the command runs.
    ///
    /// ```no_run
    /// use ops::pebble::{Client, ExecOptions, PebbleError};
    /// # fn demo(client: &Client) -> Result<(), PebbleError> {
    /// let process = client.exec_process(&["pg_isready", "-q"], &ExecOptions::new())?;
    /// match process.wait() {
    ///     Ok(()) => println!("accepting connections"),
    ///     Err(PebbleError::Exec(e)) => println!("not ready: exit code {}", e.exit_code),
    ///     Err(e) => return Err(e),
    /// }
    /// # Ok(()) }
    /// ```
    pub fn wait(self) -> Result<(), PebbleError> {
        self.finish(false).map(|_| ())
    }

    /// Waits for the command to exit and returns what it wrote to the
    /// streams still held here (Python ops' `ExecProcess.wait_output`;
    /// [`Child::wait_with_output`](std::process::Child::wait_with_output)):
    /// a stream taken out of the process reads as empty. Standard input
    /// still held here is ended first.
    ///
    /// Exit code 0 gives the output; any other is [`PebbleError::Exec`],
    /// with the code and the output. Each stream may hold up to 64 MiB.
    ///
    /// ```no_run
    /// use std::io::Write;
    /// use ops::pebble::{Client, ExecOptions, PebbleError};
    /// # fn demo(client: &Client) -> Result<(), Box<dyn std::error::Error>> {
    /// let mut process = client.exec_process(&["sort"], &ExecOptions::new())?;
    /// if let Some(mut stdin) = process.stdin.take() {
    ///     stdin.write_all(b"pear\napple\n")?;
    ///     stdin.close()?;
    /// }
    /// let output = process.wait_output()?;
    /// assert_eq!(output.stdout_text(), "apple\npear\n");
    /// # Ok(()) }
    /// ```
    pub fn wait_output(self) -> Result<ExecOutput, PebbleError> {
        let (stdout, stderr) = self.finish(true)?;
        Ok(ExecOutput { stdout, stderr })
    }

    /// Ends stdin, reads the held output (kept if `keep`), waits for the
    /// change, ends the connections; `Ok((stdout, stderr))` on exit code 0.
    fn finish(mut self, keep: bool) -> Result<(Vec<u8>, Vec<u8>), PebbleError> {
        // As `Child::wait` does: a command reading to the end of its input
        // could not exit otherwise.
        drop(self.stdin.take());
        let stdout = self.stdout.take();
        let stderr = self.stderr.take();
        let (stdout, stderr) = std::thread::scope(|scope| {
            // Both at once: a command blocked writing one stream would
            // never end the other.
            let errors = stderr.map(|mut s| scope.spawn(move || s.0.collect(keep)));
            let stdout = stdout.map_or(Ok(Vec::new()), |mut s| s.0.collect(keep));
            if stdout.is_err() {
                // Abandoned: wake the stderr reader (its stream fails at
                // once); the dropped control connection then makes Pebble
                // kill the command.
                self.shutdown();
            }
            let stderr = match errors {
                Some(handle) => handle.join().unwrap_or_else(|_| {
                    Err(PebbleError::malformed(
                        "exec stderr WebSocket: its reader panicked",
                    ))
                }),
                None => Ok(Vec::new()),
            };
            (stdout, stderr)
        });
        let stdout = stdout?;
        let stderr = stderr.inspect_err(|_| self.shutdown())?;
        let left = self
            .deadline
            .saturating_duration_since(Instant::now())
            .max(Duration::from_millis(1));
        let change = self.client.wait_change(&self.change_id, left);
        self.end_connections();
        let change = change?;
        change_failed(&self.change_id, &change)?;
        let exit_code = change
            .tasks
            .first()
            .and_then(|task| task.data.as_ref()?.get("exit-code")?.as_i64())
            .unwrap_or(-1);
        if exit_code != 0 {
            return Err(PebbleError::Exec(Box::new(ExecError {
                command: std::mem::take(&mut self.executable),
                exit_code,
                stdout,
                stderr,
            })));
        }
        Ok((stdout, stderr))
    }

    /// Closes every connection at once (no close frames).
    fn shutdown(&self) {
        self.stdio_conn.shutdown();
        if let Some(conn) = &self.stderr_conn {
            conn.shutdown();
        }
        self.control.receiver.get_ref().get_ref().shutdown();
    }

    /// Ends the connections politely once the command is done, and the
    /// stdin feeder with them.
    fn end_connections(&mut self) {
        close_sender(&mut self.control.sender);
        // The feeder may hold the sender, blocked on a command that never
        // read its input: the shutdown fails its write, as a pipe whose
        // reader exited does (EPIPE).
        self.stdio_conn.shutdown();
        if let Some(feeder) = self.feeder.take() {
            match feeder.join() {
                Ok(Ok(())) => {}
                // The command may exit before reading its input: not an
                // error, as with a pipe.
                Ok(Err(e)) => tracing::debug!("exec stdin not fully sent: {e}"),
                Err(_) => tracing::debug!("the exec stdin writer panicked"),
            }
        }
        close_sender(&mut lock(&self.stdio_sender));
        if let Some(conn) = &self.stderr_conn {
            conn.shutdown();
        }
    }
}

/// Shows the executable, the change and which streams are held; never
/// their content.
impl std::fmt::Debug for ExecProcess {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ExecProcess")
            .field("executable", &self.executable)
            .field("change_id", &self.change_id)
            .field("stdin", &self.stdin)
            .field("stdout", &self.stdout)
            .field("stderr", &self.stderr)
            .field("stdin_given", &self.feeder.is_some())
            .finish()
    }
}

/// Sends `bytes` and the end marker up `stdio`.
fn send_all(sender: &Mutex<Sender<Deadlined>>, bytes: &[u8]) -> io::Result<()> {
    for chunk in bytes.chunks(STDIN_CHUNK) {
        lock(sender).send(&Message::Binary(chunk.to_vec()))?;
    }
    lock(sender).send(&Message::Text(END.into()))
}

/// A running command's standard input ([`ExecProcess::stdin`]): each
/// write goes to Pebble as it is made. [`close`](Self::close) it, or drop
/// it, to end the input (the command reads end of file).
///
/// ```no_run
/// use std::io::Write;
/// # fn demo(client: &ops::pebble::Client) -> Result<(), Box<dyn std::error::Error>> {
/// let mut process = client.exec_process(&["tee", "/tmp/log"], &Default::default())?;
/// let mut stdin = process.stdin.take().unwrap();
/// stdin.write_all(b"one\n")?;
/// stdin.write_all(b"two\n")?;
/// stdin.close()?;
/// process.wait()?;
/// # Ok(()) }
/// ```
pub struct ExecStdin {
    sender: SharedSender,
    ended: bool,
}

impl ExecStdin {
    /// Ends the input, as closing a pipe does, and says whether the end
    /// marker reached Pebble (dropping it does the same, ignoring errors).
    ///
    /// ```no_run
    /// # fn demo(client: &ops::pebble::Client) -> Result<(), Box<dyn std::error::Error>> {
    /// let mut process = client.exec_process(&["cat"], &Default::default())?;
    /// process.stdin.take().unwrap().close()?; // cat reads end of file and exits
    /// process.wait()?;
    /// # Ok(()) }
    /// ```
    pub fn close(mut self) -> io::Result<()> {
        self.end()
    }

    fn end(&mut self) -> io::Result<()> {
        if self.ended {
            return Ok(());
        }
        self.ended = true;
        let mut sender = lock(&self.sender);
        sender.send(&Message::Text(END.into()))?;
        sender.get_mut().flush()
    }
}

impl Write for ExecStdin {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if self.ended {
            return Err(io::Error::new(
                io::ErrorKind::BrokenPipe,
                "the exec's standard input is already ended",
            ));
        }
        if buf.is_empty() {
            return Ok(0);
        }
        let chunk = &buf[..buf.len().min(STDIN_CHUNK)];
        lock(&self.sender).send(&Message::Binary(chunk.to_vec()))?;
        Ok(chunk.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        lock(&self.sender).get_mut().flush()
    }
}

impl Drop for ExecStdin {
    fn drop(&mut self) {
        if let Err(e) = self.end() {
            tracing::debug!("exec stdin: the end marker was not sent: {e}");
        }
    }
}

impl std::fmt::Debug for ExecStdin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ExecStdin")
            .field("ended", &self.ended)
            .finish()
    }
}

/// A running command's standard output ([`ExecProcess::stdout`]; with
/// stderr, if combined), read as Pebble sends it. It reads end of file
/// once the command's output ends.
///
/// ```no_run
/// use std::io::{BufRead, BufReader};
/// # fn demo(client: &ops::pebble::Client) -> Result<(), Box<dyn std::error::Error>> {
/// let mut process = client.exec_process(&["journalctl", "-f"], &Default::default())?;
/// let lines = BufReader::new(process.stdout.take().unwrap()).lines();
/// for line in lines.take(10) {
///     println!("{}", line?);
/// }
/// process.send_signal("SIGTERM")?;
/// let _ = process.wait();
/// # Ok(()) }
/// ```
pub struct ExecStdout(Output);

/// A running command's standard error ([`ExecProcess::stderr`]), read as
/// Pebble sends it; there is none when stderr is combined into stdout.
///
/// ```no_run
/// use std::io::Read;
/// # fn demo(client: &ops::pebble::Client) -> Result<(), Box<dyn std::error::Error>> {
/// let mut process = client.exec_process(&["make"], &Default::default())?;
/// let mut errors = String::new();
/// let mut stderr = process.stderr.take().unwrap();
/// let reader = std::thread::spawn(move || stderr.read_to_string(&mut errors).map(|_| errors));
/// let output = process.wait_output()?; // stdout only: stderr was taken
/// let errors = reader.join().unwrap()?;
/// # Ok(()) }
/// ```
pub struct ExecStderr(Output);

impl Read for ExecStdout {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.0.read(buf)
    }
}

impl Read for ExecStderr {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.0.read(buf)
    }
}

/// Shows how much is buffered, not what.
impl std::fmt::Debug for ExecStdout {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.debug("ExecStdout", f)
    }
}

/// Shows how much is buffered, not what.
impl std::fmt::Debug for ExecStderr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.debug("ExecStderr", f)
    }
}

/// One output WebSocket, read message by message.
struct Output {
    receiver: Receiver<BufReader<Deadlined>>,
    /// Where pings are answered: the same connection's writing side.
    pong: SharedSender,
    /// The WebSocket's name, for errors.
    name: &'static str,
    socket: PathBuf,
    /// The message being read, and how far.
    message: Vec<u8>,
    at: usize,
    ended: bool,
}

impl Output {
    fn new(
        receiver: Receiver<BufReader<Deadlined>>,
        pong: SharedSender,
        name: &'static str,
        socket: PathBuf,
    ) -> Self {
        Self {
            receiver,
            pong,
            name,
            socket,
            message: Vec::new(),
            at: 0,
            ended: false,
        }
    }

    /// The next output message, or `None` at the end marker (or a close).
    fn next_message(&mut self) -> Result<Option<Vec<u8>>, WebSocketError> {
        while !self.ended {
            match self.receiver.recv()? {
                Message::Binary(bytes) => return Ok(Some(bytes)),
                Message::Text(text) => {
                    // Pebble ignores commands it does not know; so does this.
                    let command = serde_json::from_str::<Value>(&text)
                        .ok()
                        .and_then(|v| v.get("command")?.as_str().map(str::to_string));
                    if command.as_deref() == Some("end") {
                        self.ended = true;
                    }
                }
                Message::Ping(payload) => lock(&self.pong).send(&Message::Pong(payload))?,
                Message::Pong(_) => {}
                Message::Close(..) => self.ended = true,
            }
        }
        Ok(None)
    }

    /// Reads to the end: everything, up to [`MAX_OUTPUT`], if `keep`; else
    /// nothing (the output is discarded as it comes).
    fn collect(&mut self, keep: bool) -> Result<Vec<u8>, PebbleError> {
        let mut out = if keep {
            self.message.split_off(self.at)
        } else {
            Vec::new()
        };
        self.message.clear();
        self.at = 0;
        loop {
            match self.next_message() {
                Ok(Some(bytes)) if keep => {
                    if out.len() as u64 + bytes.len() as u64 > MAX_OUTPUT {
                        let e = WebSocketError::TooLarge { limit: MAX_OUTPUT };
                        return Err(ws_error(&self.socket, self.name, e));
                    }
                    out.extend_from_slice(&bytes);
                }
                Ok(Some(_)) => {}
                Ok(None) => return Ok(out),
                Err(e) => return Err(ws_error(&self.socket, self.name, e)),
            }
        }
    }

    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.at == self.message.len() {
            match self.next_message() {
                Ok(Some(bytes)) => {
                    self.message = bytes;
                    self.at = 0;
                }
                Ok(None) => return Ok(0),
                Err(WebSocketError::Io(e)) => return Err(e),
                Err(e) => {
                    return Err(io::Error::new(
                        io::ErrorKind::InvalidData,
                        format!("exec {} WebSocket: {e}", self.name),
                    ));
                }
            }
        }
        let n = buf.len().min(self.message.len() - self.at);
        buf[..n].copy_from_slice(&self.message[self.at..self.at + n]);
        self.at += n;
        Ok(n)
    }

    fn debug(&self, name: &str, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct(name)
            .field("buffered_len", &(self.message.len() - self.at))
            .field("ended", &self.ended)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signal_names_are_pebbles() {
        assert_eq!(signal_number("SIGHUP"), Some(1));
        assert_eq!(signal_number("SIGKILL"), Some(9));
        assert_eq!(signal_number("SIGTERM"), Some(15));
        assert_eq!(signal_number("SIGSYS"), Some(31));
        for unknown in ["", "TERM", "sigterm", "SIGTERM ", "SIGRTMIN", "15"] {
            assert_eq!(signal_number(unknown), None, "{unknown:?}");
        }
    }
}
