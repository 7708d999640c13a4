//! An exec handler that runs the real command on the host, for tests that
//! want a real tool's behaviour (`sh`, `sed`, `openssl`) rather than a
//! canned answer.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::exec::{ExecArgs, ExecHandler, ExecResult};
use super::files;

/// How often a command with a timeout is checked for having exited.
const POLL: Duration = Duration::from_millis(5);

/// A handler running each command on the host under `root`.
pub(crate) fn handler(root: PathBuf) -> ExecHandler {
    Arc::new(move |args: &ExecArgs| run(&root, args))
}

/// Runs `args.command` with exactly the exec's environment, in the working
/// directory mapped under `root`, with its standard input; killed after
/// its timeout. A command that cannot be started exits 127 with the reason
/// on stderr, as a shell reports it.
fn run(root: &Path, args: &ExecArgs) -> ExecResult {
    let Some((program, rest)) = args.command.split_first() else {
        return ExecResult::exit(127);
    };
    let clean = files::clean(&args.working_dir).unwrap_or_else(|| "/".to_string());
    let spawned = Command::new(program)
        .args(rest)
        .env_clear()
        .envs(&args.environment)
        .current_dir(files::host_path(root, &clean))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn();
    let mut child = match spawned {
        Ok(child) => child,
        Err(e) => return ExecResult::exit(127).with_stderr(format!("{program}: {e}\n")),
    };
    let stdin = args.stdin().to_vec();
    let writer = child.stdin.take().map(|mut pipe| {
        // A command that exits without reading its input ends this (EPIPE).
        std::thread::spawn(move || {
            let _ = pipe.write_all(&stdin);
        })
    });
    let drain = |pipe: Option<Box<dyn Read + Send>>| {
        std::thread::spawn(move || {
            let mut bytes = Vec::new();
            if let Some(mut pipe) = pipe {
                let _ = pipe.read_to_end(&mut bytes);
            }
            bytes
        })
    };
    let stdout = drain(
        child
            .stdout
            .take()
            .map(|p| Box::new(p) as Box<dyn Read + Send>),
    );
    let stderr = drain(
        child
            .stderr
            .take()
            .map(|p| Box::new(p) as Box<dyn Read + Send>),
    );
    let deadline = args.timeout.map(|t| Instant::now() + t);
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break Some(status),
            Ok(None) if deadline.is_some_and(|d| Instant::now() >= d) => {
                let _ = child.kill();
                let _ = child.wait();
                break None;
            }
            Ok(None) if deadline.is_some() => std::thread::sleep(POLL),
            Ok(None) => break child.wait().ok(),
            Err(_) => break None,
        }
    };
    let Some(status) = status else {
        // Killed by its timeout. Its output is not waited for: a child it
        // started may hold the pipes open for long after.
        return ExecResult::timed_out();
    };
    if let Some(writer) = writer {
        let _ = writer.join();
    }
    let stdout = stdout.join().unwrap_or_default();
    let stderr = stderr.join().unwrap_or_default();
    // Killed by a signal: -1, as Pebble reports a process without an exit code.
    let code = status.code().unwrap_or(-1);
    ExecResult::stdout(stdout)
        .with_stderr(stderr)
        .with_exit_code(code)
}
