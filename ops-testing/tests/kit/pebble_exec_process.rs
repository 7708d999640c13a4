//! `Client::exec_process` (streaming exec) against the fake Pebble, with
//! real commands on the host (`FakePebble::run_on_host`): standard input
//! and output as they come, signals over the control WebSocket, and the
//! waits. Unix sockets only.
//!
//! Each test runs under a generous upper bound, so that a hang (the bug
//! most of these guard against) fails the test instead of the run; none
//! asserts how fast anything is.

use std::io::{BufRead, BufReader, Read, Write};
use std::sync::mpsc;
use std::time::Duration;

use ops::pebble::{ExecOptions, ExecProcess, PebbleError};
use ops_testing::fake_pebble::ExecResult;

use crate::common;
use common::{PebbleSetup, setup};

/// A fake Pebble that runs `executable` on the host.
fn running_on_host(executable: &str) -> PebbleSetup {
    let s = setup();
    s.pebble.run_on_host(&[executable]);
    s
}

/// A fake Pebble running `command` on the host, and the command started.
fn start_on_host(command: &[&str], options: &ExecOptions) -> (PebbleSetup, ExecProcess) {
    let s = running_on_host(command[0]);
    let process = s.client.exec_process(command, options).unwrap();
    (s, process)
}

/// Runs `test` on a thread of its own; fails if it is still running after
/// `limit` (a hang), passes its panic on otherwise.
fn within<T: Send + 'static>(limit: Duration, test: impl FnOnce() -> T + Send + 'static) -> T {
    let (done, result) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = done.send(std::panic::catch_unwind(std::panic::AssertUnwindSafe(test)));
    });
    match result.recv_timeout(limit) {
        Ok(Ok(value)) => value,
        Ok(Err(panic)) => std::panic::resume_unwind(panic),
        Err(_) => panic!("still running after {limit:?}: hung"),
    }
}

const LIMIT: Duration = Duration::from_secs(60);

/// All of a stream taken from the process, as text.
fn read_all(stream: Option<impl Read>) -> String {
    let mut text = String::new();
    stream
        .expect("the stream is there")
        .read_to_string(&mut text)
        .unwrap();
    text
}

#[test]
fn stdin_and_stdout_stream_line_by_line_through_a_host_cat() {
    within(LIMIT, || {
        let (s, mut process) = start_on_host(&["cat"], &ExecOptions::new());
        let mut stdin = process.stdin.take().unwrap();
        let mut stdout = BufReader::new(process.stdout.take().unwrap());
        // Each line is read back before the next is written: cat only
        // answers what it was given, so this passes only if both
        // directions move while the command runs.
        for i in 0..5 {
            writeln!(stdin, "line {i}").unwrap();
            stdin.flush().unwrap();
            let mut line = String::new();
            stdout.read_line(&mut line).unwrap();
            assert_eq!(line, format!("line {i}\n"));
        }
        stdin.close().unwrap();
        let mut rest = String::new();
        stdout.read_to_string(&mut rest).unwrap();
        assert_eq!(rest, "", "cat ends once its input does");
        process.wait().unwrap();
        let execs = s.pebble.execs();
        assert_eq!(execs.len(), 1);
        assert_eq!(
            execs[0].stdin(),
            b"line 0\nline 1\nline 2\nline 3\nline 4\n"
        );
    });
}

#[test]
fn dropping_stdin_ends_the_input() {
    within(LIMIT, || {
        let (_pebble, mut process) = start_on_host(&["cat"], &ExecOptions::new());
        let mut stdin = process.stdin.take().unwrap();
        stdin.write_all(b"bye\n").unwrap();
        drop(stdin);
        // End of file on stdout only comes once cat has read its input's.
        let out = read_all(process.stdout.take());
        assert_eq!(out, "bye\n");
        process.wait().unwrap();
    });
}

#[test]
fn stderr_is_a_stream_of_its_own_unless_combined() {
    within(LIMIT, || {
        let s = running_on_host("sh");
        let script = ["sh", "-c", "echo out; echo err >&2"];
        for (combine, stdout, stderr) in
            [(false, "out\n", Some("err\n")), (true, "out\nerr\n", None)]
        {
            let options = ExecOptions::new().with_combine_stderr(combine);
            let mut process = s.client.exec_process(&script, &options).unwrap();
            assert_eq!(process.stderr.is_some(), stderr.is_some());
            assert_eq!(read_all(process.stdout.take()), stdout);
            if let Some(stderr) = stderr {
                assert_eq!(read_all(process.stderr.take()), stderr);
            }
            process.wait().unwrap();
        }
    });
}

#[test]
fn wait_drains_output_nobody_reads() {
    within(LIMIT, || {
        let s = running_on_host("sh");
        // Far more than a socket's buffer on each stream: the command
        // blocks writing until the output is read, so wait must read it.
        let script = [
            "sh",
            "-c",
            "head -c 2097152 /dev/zero; head -c 1048576 /dev/zero >&2",
        ];
        let process = s.client.exec_process(&script, &ExecOptions::new()).unwrap();
        process.wait().unwrap();

        let process = s.client.exec_process(&script, &ExecOptions::new()).unwrap();
        let output = process.wait_output().unwrap();
        assert_eq!(
            (output.stdout.len(), output.stderr.len()),
            (2 << 20, 1 << 20)
        );
    });
}

#[test]
fn a_non_zero_exit_is_an_exec_error_from_either_wait() {
    within(LIMIT, || {
        let s = running_on_host("sh");
        let script = ["sh", "-c", "echo partial; echo oops >&2; exit 3"];

        let process = s.client.exec_process(&script, &ExecOptions::new()).unwrap();
        match process.wait() {
            Err(PebbleError::Exec(e)) => {
                assert_eq!(e.exit_code, 3);
                assert_eq!(e.command, "sh");
                assert!(e.stdout.is_empty() && e.stderr.is_empty(), "{e:?}");
            }
            other => panic!("expected an exec error, got {other:?}"),
        }

        let process = s.client.exec_process(&script, &ExecOptions::new()).unwrap();
        match process.wait_output() {
            Err(PebbleError::Exec(e)) => {
                assert_eq!(e.exit_code, 3);
                assert_eq!(
                    (&e.stdout[..], &e.stderr[..]),
                    (&b"partial\n"[..], &b"oops\n"[..])
                );
            }
            other => panic!("expected an exec error, got {other:?}"),
        }
    });
}

#[test]
fn sigterm_ends_a_host_sleep_with_pebbles_exit_code() {
    // Well under the sleep: a signal that never arrives fails here.
    within(Duration::from_secs(20), || {
        let (s, mut process) = start_on_host(&["sleep", "30"], &ExecOptions::new());
        process.send_signal("SIGTERM").unwrap();
        match process.wait() {
            // Pebble reports a process killed by a signal as 128 + its number.
            Err(PebbleError::Exec(e)) => assert_eq!(e.exit_code, 128 + 15),
            other => panic!("expected an exec error, got {other:?}"),
        }
        assert_eq!(s.pebble.execs()[0].signals(), ["SIGTERM"]);
    });
}

#[test]
fn a_signal_reaches_a_handler_that_waits_for_one() {
    within(LIMIT, || {
        let s = setup();
        s.pebble.handle_exec(&["daemon"], |args| {
            match args.wait_for_signals(1, Duration::from_secs(50)).first() {
                Some(signal) => ExecResult::killed_by(signal),
                None => ExecResult::exit(0),
            }
        });
        let mut process = s
            .client
            .exec_process(&["daemon"], &ExecOptions::new())
            .unwrap();
        process.send_signal("SIGHUP").unwrap();
        assert_eq!(process.wait().unwrap_err().exit_code(), Some(128 + 1));
        assert_eq!(s.pebble.execs()[0].signals(), ["SIGHUP"]);
    });
}

#[test]
fn a_signal_name_pebble_would_ignore_is_refused_and_not_sent() {
    within(LIMIT, || {
        let (s, mut process) = start_on_host(&["cat"], &ExecOptions::new());
        for bad in ["SIGBOGUS", "TERM", "sigterm", ""] {
            match process.send_signal(bad) {
                Err(PebbleError::InvalidRequest { what }) => {
                    assert!(what.contains(&format!("{bad:?}")), "{what}");
                }
                other => panic!("{bad:?}: expected InvalidRequest, got {other:?}"),
            }
        }
        // The command is untouched: it ends as its input does.
        process.wait().unwrap();
        assert!(s.pebble.execs()[0].signals().is_empty());
    });
}

#[test]
fn stdin_given_in_the_options_is_sent_by_the_process() {
    within(LIMIT, || {
        let s = running_on_host("cat");
        // More than a socket's buffer, so it is sent while output is read.
        let stdin: Vec<u8> = (0..3_000_000u32).map(|i| (i % 251) as u8).collect();
        let options = ExecOptions::new().with_stdin(stdin.clone());
        let process = s.client.exec_process(&["cat"], &options).unwrap();
        assert!(process.stdin.is_none());
        let output = process.wait_output().unwrap();
        assert!(output.stdout == stdin, "{} bytes back", output.stdout.len());
    });
}

#[test]
fn dropping_the_process_unwaited_kills_the_command_as_pebble_does() {
    within(LIMIT, || {
        let (s, process) = start_on_host(&["sleep", "30"], &ExecOptions::new());
        drop(process);
        // Recorded once the handler returns: the sleep was killed.
        let record = loop {
            if let Some(record) = s.pebble.execs().pop() {
                break record;
            }
            std::thread::sleep(Duration::from_millis(10));
        };
        assert_eq!(record.signals(), ["SIGKILL"]);
    });
}

#[test]
fn debug_shows_no_stream_content() {
    within(LIMIT, || {
        let s = running_on_host("sh");
        let options = ExecOptions::new().with_env("PASSWORD", "hunter2");
        let mut process = s
            .client
            .exec_process(&["sh", "-c", "echo \"$PASSWORD\"; cat"], &options)
            .unwrap();
        let mut stdin = process.stdin.take().unwrap();
        stdin.write_all(b"s3cret-input\n").unwrap();
        let mut stdout = process.stdout.take().unwrap();
        // One byte read: the rest of the message is buffered in the stream.
        let mut first = [0; 1];
        stdout.read_exact(&mut first).unwrap();
        assert_eq!(&first, b"h");
        for debug in [
            format!("{process:?}"),
            format!("{stdin:?}"),
            format!("{stdout:?}"),
        ] {
            assert!(
                !debug.contains("unter2") && !debug.contains("s3cret"),
                "{debug}"
            );
        }
        assert!(format!("{stdout:?}").contains("buffered_len"));
        drop(stdin);
        let mut rest = String::new();
        stdout.read_to_string(&mut rest).unwrap();
        assert_eq!(rest, "unter2\ns3cret-input\n");
        process.wait().unwrap();
    });
}
