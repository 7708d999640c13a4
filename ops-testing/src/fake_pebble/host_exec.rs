//! An exec handler that runs the real command on the host, for tests that
//! want a real tool's behaviour (`sh`, `sed`, `openssl`, `cat` fed line by
//! line) rather than a canned answer.

use std::io::{Read, Write};
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::exec::{ExecArgs, ExecHandler, ExecResult, Streams};
use super::files;

/// How often a running command is checked for having exited (between
/// signals, which wake the check at once).
const POLL: Duration = Duration::from_millis(5);
/// Output is read from the command's pipes in pieces of this size, and
/// sent on as each arrives.
const READ_CHUNK: usize = 64 * 1024;

/// A handler running each command on the host under `root`.
pub(crate) fn handler(root: PathBuf) -> ExecHandler {
    Arc::new(move |args: &ExecArgs| run(&root, args))
}

/// Runs `args.command` with exactly the exec's environment, in the working
/// directory mapped under `root`: standard input passed on and output sent
/// back as they come, signals from the control WebSocket delivered, killed
/// after its timeout. A command that cannot be started exits 127 with the
/// reason on stderr, as a shell reports it; one killed by a signal exits
/// 128 plus its number, as Pebble reports it.
fn run(root: &Path, args: &ExecArgs) -> ExecResult {
    let Some((program, rest)) = args.command.split_first() else {
        return ExecResult::exit(127);
    };
    let clean = files::clean(&args.working_dir).unwrap_or_else(|| "/".to_string());
    let mut command = Command::new(program);
    command
        .args(rest)
        .env_clear()
        .envs(&args.environment)
        .current_dir(super::disk::host_path(root, &clean))
        .stdin(Stdio::piped());
    // Combined, both go to one pipe, as Pebble does: the command's own
    // order is kept, which two pipes read apart would lose.
    let combined = if args.combine_stderr {
        match std::io::pipe().and_then(|(reader, writer)| Ok((reader, writer.try_clone()?, writer)))
        {
            Ok((reader, out, err)) => {
                command.stdout(out).stderr(err);
                Some(reader)
            }
            Err(e) => return ExecResult::exit(127).with_stderr(format!("{program}: {e}\n")),
        }
    } else {
        command.stdout(Stdio::piped()).stderr(Stdio::piped());
        None
    };
    let spawned = command.spawn();
    // The command's copies of the combined pipe's writing end: the output
    // ends once the process (and any child holding it) has let it go.
    drop(command);
    let mut child = match spawned {
        Ok(child) => child,
        Err(e) => return ExecResult::exit(127).with_stderr(format!("{program}: {e}\n")),
    };
    if let Some(mut pipe) = child.stdin.take() {
        let input = args.stdin_stream();
        // Not joined: it waits on the client, who may keep its input open
        // past the command's exit; the connection's end ends it. A command
        // that exits without reading its input ends it too (EPIPE).
        let _ = std::thread::Builder::new()
            .name("fake-pebble-host-stdin".into())
            .spawn(move || {
                while let Some(bytes) = input.next() {
                    if pipe.write_all(&bytes).is_err() {
                        return;
                    }
                }
            });
    }
    let output = args.output();
    let stdout = match combined {
        Some(reader) => pump(Some(reader), false, output.clone()),
        None => pump(child.stdout.take(), false, output.clone()),
    };
    let stderr = pump(child.stderr.take(), true, output);
    let Some(status) = wait(&mut child, args) else {
        // Killed by its timeout. Its output is not waited for: a child it
        // started may hold the pipes open for long after.
        return ExecResult::timed_out();
    };
    let stdout = stdout.map(|t| t.join().unwrap_or_default());
    let stderr = stderr.map(|t| t.join().unwrap_or_default());
    let code = status
        .code()
        .or_else(|| status.signal().map(|n| 128 + n))
        .unwrap_or(-1);
    ExecResult::stdout(stdout.unwrap_or_default())
        .with_stderr(stderr.unwrap_or_default())
        .with_exit_code(code)
}

/// Sends what the command writes to `pipe` on as it comes (to stderr if
/// `to_stderr`), or keeps it when there is nowhere to send it (a handler
/// called outside an exec); the thread's result is what it kept.
fn pump(
    pipe: Option<impl Read + Send + 'static>,
    to_stderr: bool,
    output: Option<Arc<Streams>>,
) -> Option<JoinHandle<Vec<u8>>> {
    let mut pipe = pipe?;
    let spawned = std::thread::Builder::new()
        .name("fake-pebble-host-output".into())
        .spawn(move || {
            let mut kept = Vec::new();
            let mut buf = vec![0; READ_CHUNK];
            loop {
                let n = match pipe.read(&mut buf) {
                    Ok(0) | Err(_) => return kept,
                    Ok(n) => n,
                };
                match &output {
                    // A client gone: the rest is read and dropped, so that
                    // the command is not blocked on a full pipe.
                    Some(streams) => {
                        let _ = streams.write(to_stderr, &buf[..n]);
                    }
                    None => kept.extend_from_slice(&buf[..n]),
                }
            }
        });
    spawned
        .map_err(|e| tracing::warn!("fake Pebble cannot read a host command's output: {e}"))
        .ok()
}

/// Waits for the command to exit, delivering the signals the exec
/// receives meanwhile; `None` if it ran past its timeout (then killed) or
/// could not be waited for.
fn wait(child: &mut Child, args: &ExecArgs) -> Option<std::process::ExitStatus> {
    let deadline = args.timeout.map(|t| Instant::now() + t);
    let mut delivered = 0;
    loop {
        if let Some(status) = child.try_wait().ok()? {
            return Some(status);
        }
        if deadline.is_some_and(|d| Instant::now() >= d) {
            let _ = child.kill();
            let _ = child.wait();
            return None;
        }
        let signals = args.wait_for_signals(delivered + 1, POLL);
        for name in signals.iter().skip(delivered) {
            deliver(child.id(), name);
        }
        delivered = signals.len();
    }
}

/// `kill(pid, signal)`, as Pebble forwards a control `signal` command (to
/// the process, not its group); a failure is logged, as Pebble's is.
fn deliver(pid: u32, name: &str) {
    let pid = i32::try_from(pid)
        .ok()
        .and_then(rustix::process::Pid::from_raw);
    let signal = ops::pebble::signal_number(name).and_then(rustix::process::Signal::from_named_raw);
    let (Some(pid), Some(signal)) = (pid, signal) else {
        tracing::debug!("fake Pebble: cannot forward {name} to PID {pid:?}");
        return;
    };
    if let Err(e) = rustix::process::kill_process(pid, signal) {
        tracing::debug!("fake Pebble: cannot forward {name} to PID {pid:?}: {e}");
    }
}
