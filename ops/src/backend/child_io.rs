//! Feeding a child process its input and collecting its output on the
//! calling thread, under one deadline.
//!
//! A hook runs a dozen hook tools; a reader thread per pipe would cost two
//! or three thread starts (and their stacks) per tool, more than the rest
//! of the call on our side. One `poll(2)` loop over non-blocking pipes does
//! the same job: no pipe can fill up and block the child while we wait on
//! another, and the deadline covers the whole exchange.

use std::io::{self, ErrorKind, Read, Write};
use std::os::fd::AsFd;
use std::process::{ChildStderr, ChildStdin, ChildStdout};
use std::time::Instant;

use rustix::event::{PollFd, PollFlags, Timespec, poll};

/// What a child printed before closing both its output pipes.
#[derive(Debug, Default)]
pub(crate) struct Exchange {
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
    /// Writing the input failed (the child closed its stdin early, say):
    /// reported only if the child otherwise succeeded.
    pub input_error: Option<io::Error>,
}

/// Why an exchange ended early.
#[derive(Debug)]
pub(crate) enum ExchangeError {
    /// The deadline passed with a pipe still open.
    TimedOut,
    /// `poll` or a read failed.
    Io(io::Error),
}

/// Writes `input` to `stdin` (then closes it) and reads `stdout` and
/// `stderr` to their ends, whichever is ready first, until both are closed
/// or `deadline` passes.
pub(crate) fn exchange(
    mut stdin: Option<ChildStdin>,
    mut input: &[u8],
    mut stdout: Option<ChildStdout>,
    mut stderr: Option<ChildStderr>,
    deadline: Instant,
) -> Result<Exchange, ExchangeError> {
    let mut out = Exchange::default();
    if input.is_empty() {
        stdin = None;
    }
    for fd in [
        stdin.as_ref().map(|p| p.as_fd()),
        stdout.as_ref().map(|p| p.as_fd()),
        stderr.as_ref().map(|p| p.as_fd()),
    ]
    .into_iter()
    .flatten()
    {
        rustix::io::ioctl_fionbio(fd, true).map_err(|e| ExchangeError::Io(e.into()))?;
    }
    while stdin.is_some() || stdout.is_some() || stderr.is_some() {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(ExchangeError::TimedOut);
        }
        let timeout = Timespec {
            tv_sec: left.as_secs().try_into().unwrap_or(i64::MAX),
            tv_nsec: left.subsec_nanos().into(),
        };
        // Which pipe each poll entry is: 0 stdin, 1 stdout, 2 stderr.
        let mut which = Vec::with_capacity(3);
        let mut fds = Vec::with_capacity(3);
        if let Some(p) = &stdin {
            which.push(0);
            fds.push(PollFd::new(p, PollFlags::OUT));
        }
        if let Some(p) = &stdout {
            which.push(1);
            fds.push(PollFd::new(p, PollFlags::IN));
        }
        if let Some(p) = &stderr {
            which.push(2);
            fds.push(PollFd::new(p, PollFlags::IN));
        }
        match poll(&mut fds, Some(&timeout)) {
            Ok(_) => {}
            Err(rustix::io::Errno::INTR) => continue,
            Err(e) => return Err(ExchangeError::Io(e.into())),
        }
        let ready: Vec<usize> = fds
            .iter()
            .zip(&which)
            .filter(|(fd, _)| !fd.revents().is_empty())
            .map(|(_, w)| *w)
            .collect();
        drop(fds);
        for w in ready {
            match w {
                0 => {
                    let Some(pipe) = stdin.as_mut() else {
                        continue;
                    };
                    match pipe.write(input) {
                        Ok(n) => input = &input[n..],
                        Err(e) if e.kind() == ErrorKind::WouldBlock => {}
                        Err(e) if e.kind() == ErrorKind::Interrupted => {}
                        Err(e) => {
                            out.input_error = Some(e);
                            input = &[];
                        }
                    }
                    if input.is_empty() {
                        // Dropping the pipe closes it: the child sees its end.
                        stdin = None;
                    }
                }
                1 => {
                    if read_some(&mut stdout, &mut out.stdout)? {
                        stdout = None;
                    }
                }
                _ => {
                    if read_some(&mut stderr, &mut out.stderr)? {
                        stderr = None;
                    }
                }
            }
        }
    }
    Ok(out)
}

/// Reads what `pipe` has into `into`; true at its end. (`read_to_end`
/// keeps what it read before a `WouldBlock`, and reads into the vector's
/// spare room: no buffer to zero and copy.)
fn read_some(pipe: &mut Option<impl Read>, into: &mut Vec<u8>) -> Result<bool, ExchangeError> {
    let Some(pipe) = pipe.as_mut() else {
        return Ok(true);
    };
    loop {
        match pipe.read_to_end(into) {
            Ok(_) => return Ok(true),
            Err(e) if e.kind() == ErrorKind::WouldBlock => return Ok(false),
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) => return Err(ExchangeError::Io(e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::{Command, Stdio};
    use std::time::Duration;

    fn sh(script: &str, input: &[u8], within: Duration) -> Result<Exchange, ExchangeError> {
        let mut child = Command::new("sh")
            .args(["-c", script])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let result = exchange(
            child.stdin.take(),
            input,
            child.stdout.take(),
            child.stderr.take(),
            Instant::now() + within,
        );
        let _ = child.kill();
        let _ = child.wait();
        result
    }

    #[test]
    fn input_larger_than_a_pipe_goes_through_while_both_outputs_fill() {
        // 1 MiB in, echoed back on stdout, and 200 kB on stderr first: a
        // blocking writer or a single reader would deadlock here.
        let input: Vec<u8> = (0..1 << 20).map(|i| (i % 251) as u8).collect();
        let done = sh(
            "head -c 200000 /dev/zero >&2; cat",
            &input,
            Duration::from_secs(30),
        )
        .unwrap();
        assert_eq!(done.stdout, input);
        assert_eq!(done.stderr.len(), 200_000);
        assert!(done.input_error.is_none());
    }

    #[test]
    fn a_child_that_keeps_its_pipes_open_times_out() {
        let result = sh("sleep 5", b"", Duration::from_millis(100));
        assert!(matches!(result, Err(ExchangeError::TimedOut)), "{result:?}");
    }

    #[test]
    fn a_child_that_never_reads_its_input_is_an_input_error_not_a_hang() {
        let input = vec![b'x'; 1 << 20];
        let done = sh("exec 0<&-; echo done", &input, Duration::from_secs(30)).unwrap();
        assert_eq!(done.stdout, b"done\n");
        assert!(done.input_error.is_some());
    }
}
