//! `Client::exec` against `FakePebble::handle_exec`, over real WebSockets
//! on a unix socket, and the fake's `/v1/exec` held to Pebble's contract.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::net::UnixStream;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use ops::pebble::{Client, ExecOptions, Layer, Override, PebbleError, Service};
use ops_testing::fake_pebble::{ExecArgs, ExecResult, FakePebble};
use serde_json::{Value, json};

use crate::common;
use common::setup;

/// One raw HTTP exchange: status and the JSON body (or the text).
fn raw(pebble: &FakePebble, request: &str) -> (u16, String) {
    let mut stream = UnixStream::connect(pebble.socket_path()).unwrap();
    stream.write_all(request.as_bytes()).unwrap();
    let mut reader = BufReader::new(stream);
    let mut status = String::new();
    reader.read_line(&mut status).unwrap();
    let code: u16 = status.split(' ').nth(1).unwrap().parse().unwrap();
    let mut length = 0;
    loop {
        let mut line = String::new();
        reader.read_line(&mut line).unwrap();
        if let Some(n) = line.to_ascii_lowercase().strip_prefix("content-length:") {
            length = n.trim().parse().unwrap();
        }
        if line == "\r\n" || line.is_empty() {
            break;
        }
    }
    let mut body = vec![0; length];
    reader.read_exact(&mut body).unwrap();
    (code, String::from_utf8(body).unwrap())
}

fn post_exec(pebble: &FakePebble, body: &Value) -> (u16, Value) {
    let body = body.to_string();
    let (code, text) = raw(
        pebble,
        &format!(
            "POST /v1/exec HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        ),
    );
    (code, serde_json::from_str(&text).unwrap())
}

fn echo_stdin(args: &ExecArgs) -> ExecResult {
    ExecResult::stdout(args.stdin())
}

#[test]
fn stdin_round_trips_through_the_command() {
    let s = setup();
    s.pebble.handle_exec(&["cat"], echo_stdin);
    // Binary, and larger than one WebSocket message each way.
    let stdin: Vec<u8> = (0..300_000u32).map(|i| (i * 7 % 256) as u8).collect();
    let output = s
        .client
        .exec(&["cat"], &ExecOptions::new().with_stdin(stdin.clone()))
        .unwrap();
    assert_eq!(output.stdout, stdin);
    assert!(output.stderr.is_empty());
    let execs = s.pebble.execs();
    assert_eq!(execs.len(), 1);
    assert_eq!(execs[0].stdin(), stdin);
    // No stdin is an empty one, ended at once.
    let output = s.client.exec(&["cat"], &ExecOptions::default()).unwrap();
    assert!(output.stdout.is_empty());
}

#[test]
fn environment_working_dir_user_and_timeout_reach_the_handler() {
    let s = setup();
    std::fs::create_dir_all(s.pebble.host_path("/srv/app")).unwrap();
    s.pebble.add_user("app", 1000, 1001);
    let seen = Arc::new(Mutex::new(None));
    let keep = Arc::clone(&seen);
    s.pebble.handle_exec(&[], move |args| {
        *keep.lock().unwrap() = Some(args.clone());
        ExecResult::stdout("ok")
    });
    let options = ExecOptions::new()
        .with_env("DB_URL", "postgres://x")
        .with_working_dir("/srv/app")
        .with_timeout(Duration::from_secs(30))
        .with_user("app");
    s.client.exec(&["migrate", "--all"], &options).unwrap();
    let args = seen.lock().unwrap().clone().unwrap();
    assert_eq!(args.command, ["migrate", "--all"]);
    assert_eq!(args.environment["DB_URL"], "postgres://x");
    assert_eq!(args.environment["HOME"], "/home/app");
    assert_eq!(args.environment["USER"], "app");
    assert_eq!(args.environment["LANG"], "C.UTF-8");
    assert!(args.environment["PATH"].contains("/usr/bin"));
    assert_eq!(args.working_dir, "/srv/app");
    assert_eq!(args.timeout, Some(Duration::from_secs(30)));
    assert_eq!((args.user_id, args.group_id), (Some(1000), Some(1001)));
    assert!(!args.combine_stderr);
    // The Debug of what was recorded keeps values out.
    assert!(!format!("{args:?}").contains("postgres://x"));
}

#[test]
fn the_service_context_is_merged_under_the_request() {
    let s = setup();
    std::fs::create_dir_all(s.pebble.host_path("/var/lib/db")).unwrap();
    let mut layer = Layer::default();
    layer.services.insert(
        "db".into(),
        Service {
            override_: Some(Override::Replace),
            command: Some("db".into()),
            environment: BTreeMap::from([
                ("A".into(), "service".into()),
                ("B".into(), "service".into()),
            ]),
            working_dir: Some("/var/lib/db".into()),
            ..Default::default()
        },
    );
    s.client.add_layer("db", &layer, false).unwrap();
    s.pebble.handle_exec(&["env"], |args| {
        let text: String = args
            .environment
            .iter()
            .filter(|(k, _)| k.len() == 1)
            .map(|(k, v)| format!("{k}={v}\n"))
            .collect();
        ExecResult::stdout(format!("{}{text}", args.working_dir))
    });
    let options = ExecOptions::new()
        .with_service_context("db")
        .with_env("B", "request");
    let output = s.client.exec(&["env"], &options).unwrap();
    assert_eq!(output.stdout_text(), "/var/lib/dbA=service\nB=request\n");
    let err = s
        .client
        .exec(&["env"], &ExecOptions::new().with_service_context("nope"))
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("context service \"nope\" not found"),
        "{err}"
    );
}

#[test]
fn a_non_zero_exit_is_an_exec_error_with_code_and_output() {
    let s = setup();
    s.pebble.handle_exec(&["ls"], |_| {
        ExecResult::stdout("partial\n")
            .with_stderr("ls: cannot access 'x': No such file or directory\n")
            .with_exit_code(2)
    });
    let err = s
        .client
        .exec(&["ls", "secret-arg"], &ExecOptions::default())
        .unwrap_err();
    assert_eq!(err.exit_code(), Some(2));
    let PebbleError::Exec(exec) = &err else {
        panic!("expected an exec error, got {err:?}");
    };
    assert_eq!(exec.command, "ls");
    assert_eq!(exec.stdout, b"partial\n");
    assert!(exec.stderr.starts_with(b"ls: cannot access"));
    assert_eq!(err.to_string(), "\"ls\" returned exit code 2");
    assert!(!format!("{err:?}").contains("secret-arg"));
}

#[test]
fn stderr_is_apart_unless_combined() {
    let s = setup();
    s.pebble.handle_exec(&["both"], |_| {
        ExecResult::stdout("out\n").with_stderr("err\n")
    });
    let split = s.client.exec(&["both"], &ExecOptions::default()).unwrap();
    assert_eq!(
        (split.stdout_text(), split.stderr_text()),
        ("out\n".into(), "err\n".into())
    );
    let combined = s
        .client
        .exec(&["both"], &ExecOptions::new().with_combine_stderr(true))
        .unwrap();
    assert_eq!(combined.stdout_text(), "out\nerr\n");
    assert!(combined.stderr.is_empty());
    let execs = s.pebble.execs();
    assert!(!execs[0].combine_stderr && execs[1].combine_stderr);
}

#[test]
fn a_timeout_fails_the_change_as_pebble_words_it() {
    let s = setup();
    s.pebble
        .handle_exec(&["sleep"], |_| ExecResult::timed_out());
    // Go's Duration formatting: "1.5s", "1m30s".
    for (timeout, text) in [
        (Duration::from_millis(1500), "1.5s"),
        (Duration::from_secs(90), "1m30s"),
    ] {
        let options = ExecOptions::new().with_timeout(timeout);
        let err = s.client.exec(&["sleep", "600"], &options).unwrap_err();
        let PebbleError::Change { id, err: message } = &err else {
            panic!("expected a change error, got {err:?}");
        };
        assert_eq!(
            message,
            &format!(
                "cannot perform the following tasks:\n- Execute command \"sleep\" (timed out after {text}: context deadline exceeded)"
            )
        );
        let change = s.client.get_change(id).unwrap();
        assert_eq!(change.kind, "exec");
        assert_eq!(change.status, "Error");
        assert_eq!(change.tasks[0].data.as_ref().unwrap()["exit-code"], -1);
    }
}

#[test]
fn a_panicking_handler_fails_the_change() {
    let s = setup();
    s.pebble
        .handle_exec(&["boom"], |_| panic!("a bug in the test"));
    let err = s
        .client
        .exec(&["boom"], &ExecOptions::default())
        .unwrap_err();
    assert!(
        matches!(&err, PebbleError::Change { err, .. } if err.contains("exec handler panicked")),
        "{err}"
    );
    // The fake still serves.
    s.pebble.handle_exec(&["ok"], |_| ExecResult::exit(0));
    s.client.exec(&["ok"], &ExecOptions::default()).unwrap();
}

#[test]
fn an_unhandled_command_is_a_missing_executable() {
    let s = setup();
    s.pebble
        .handle_exec(&["git", "status"], |_| ExecResult::exit(0));
    for command in [&["nope"][..], &["git", "log"]] {
        let err = s.client.exec(command, &ExecOptions::default()).unwrap_err();
        match &err {
            PebbleError::Api {
                status_code: 400,
                message,
                ..
            } => assert_eq!(message, &format!("cannot find executable {:?}", command[0])),
            other => panic!("expected a 400, got {other:?}"),
        }
    }
    assert!(s.pebble.execs().is_empty());
    let err = s
        .client
        .exec::<&str>(&[], &ExecOptions::default())
        .unwrap_err();
    assert!(matches!(err, PebbleError::InvalidRequest { .. }), "{err}");
}

#[test]
fn the_longest_prefix_wins() {
    let s = setup();
    s.pebble.handle_exec(&[], |_| ExecResult::stdout("any"));
    s.pebble
        .handle_exec(&["git"], |_| ExecResult::stdout("git"));
    s.pebble
        .handle_exec(&["git", "log"], |_| ExecResult::stdout("git log"));
    let run = |cmd: &[&str]| {
        s.client
            .exec(cmd, &ExecOptions::default())
            .unwrap()
            .stdout_text()
    };
    assert_eq!(run(&["git", "log", "-1"]), "git log");
    assert_eq!(run(&["git", "status"]), "git");
    assert_eq!(run(&["ls"]), "any");
    // A prefix registered again replaces its handler.
    s.pebble
        .handle_exec(&["git"], |_| ExecResult::stdout("git 2"));
    assert_eq!(run(&["git", "status"]), "git 2");
    let commands: Vec<Vec<String>> = s.pebble.execs().into_iter().map(|e| e.command).collect();
    assert_eq!(commands.len(), 4);
    assert_eq!(commands[0], ["git", "log", "-1"]);
}

#[test]
fn large_output_on_both_streams_arrives_whole() {
    let s = setup();
    let out: Vec<u8> = (0..3 * 1024 * 1024u32).map(|i| (i % 251) as u8).collect();
    let err: Vec<u8> = (0..2 * 1024 * 1024u32).map(|i| (i % 13) as u8).collect();
    let (o, e) = (out.clone(), err.clone());
    s.pebble.handle_exec(&["dump"], move |_| {
        ExecResult::stdout(o.clone()).with_stderr(e.clone())
    });
    let output = s.client.exec(&["dump"], &ExecOptions::default()).unwrap();
    assert!(
        output.stdout == out,
        "stdout differs ({} bytes)",
        output.stdout.len()
    );
    assert!(
        output.stderr == err,
        "stderr differs ({} bytes)",
        output.stderr.len()
    );
}

#[test]
fn exec_requests_are_validated_with_pebbles_messages() {
    let s = setup();
    s.pebble.handle_exec(&["ls"], |_| ExecResult::exit(0));
    std::fs::create_dir_all(s.pebble.root().join("etc")).unwrap();
    std::fs::write(s.pebble.host_path("/etc/file"), "").unwrap();
    let cases = [
        (
            json!({"command": []}),
            400,
            "must specify command".to_string(),
        ),
        (
            json!({"command": ["ls"], "timeout": "soon"}),
            400,
            "invalid timeout: time: invalid duration \"soon\"".into(),
        ),
        (
            json!({"command": ["ls"], "user": "bob"}),
            400,
            "user: unknown user bob".into(),
        ),
        (
            json!({"command": ["ls"], "user": "root", "group": "staff"}),
            400,
            "group: unknown group staff".into(),
        ),
        (
            json!({"command": ["ls"], "group-id": 0}),
            400,
            "must specify user, not just group".into(),
        ),
        (
            json!({"command": ["ls"], "user": "root", "user-id": 5}),
            400,
            "user \"root\" UID (0) does not match user-id (5)".into(),
        ),
        (
            json!({"command": ["ls"], "user-id": 4242}),
            400,
            "user: unknown userid 4242".into(),
        ),
        (
            json!({"command": ["ls"], "working-dir": "/nope"}),
            500,
            "cannot call exec: working directory \"/nope\" does not exist".into(),
        ),
        (
            json!({"command": ["ls"], "working-dir": "/etc/file"}),
            500,
            "cannot call exec: working directory \"/etc/file\" not a directory".into(),
        ),
        (
            json!({"command": ["ls"], "interactive": true}),
            500,
            "cannot call exec: cannot use interactive mode without a terminal".into(),
        ),
    ];
    for (body, status, message) in cases {
        let (code, reply) = post_exec(&s.pebble, &body);
        assert_eq!(code, status, "{body}: {reply}");
        assert_eq!(reply["type"], "error");
        assert_eq!(reply["result"]["message"], message.as_str(), "{body}");
    }
    // An accepted exec: an async change whose result names the task.
    let (code, reply) = post_exec(&s.pebble, &json!({"command": ["ls"], "split-stderr": true}));
    assert_eq!(code, 202, "{reply}");
    assert_eq!(reply["type"], "async");
    let task = reply["result"]["task-id"].as_str().unwrap().to_string();
    assert_eq!(reply["result"]["working-dir"], "/");
    assert_eq!(reply["result"]["environment"]["USER"], "root");
    let change = s
        .client
        .get_change(reply["change"].as_str().unwrap())
        .unwrap();
    assert_eq!((change.status.as_str(), change.ready), ("Doing", false));
    assert_eq!(change.summary, "Execute command \"ls\"");
    assert_eq!(change.tasks[0].id, task);
    // A wait with a timeout ends in Pebble's 504 while the exec waits for
    // its WebSockets.
    let wait = s
        .client
        .with_change_timeout(Duration::from_millis(10))
        .wait_change(&change.id, Duration::from_millis(50))
        .unwrap_err();
    assert!(matches!(wait, PebbleError::Timeout { .. }), "{wait}");
    let (code, body) = raw(
        &s.pebble,
        &format!(
            "GET /v1/changes/{}/wait?timeout=20ms HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
            change.id
        ),
    );
    assert_eq!(code, 504, "{body}");
    assert!(
        body.contains("timed out waiting for change after 20ms"),
        "{body}"
    );
}

#[test]
fn task_websockets_are_refused_as_pebble_refuses_them() {
    let s = setup();
    s.pebble.handle_exec(&["ls"], |_| ExecResult::exit(0));
    let (_, reply) = post_exec(&s.pebble, &json!({"command": ["ls"]}));
    let task = reply["result"]["task-id"].as_str().unwrap().to_string();
    let upgrade = |path: &str, headers: &str| {
        raw(
            &s.pebble,
            &format!("GET {path} HTTP/1.1\r\nHost: x\r\n{headers}\r\n"),
        )
    };
    let ws = "Connection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n";
    let (code, body) = upgrade("/v1/tasks/999/websocket/control", ws);
    assert_eq!(
        (code, body.contains("cannot find task \\\"999\\\"")),
        (404, true),
        "{body}"
    );
    let (code, body) = upgrade(&format!("/v1/tasks/{task}/websocket/stderr"), ws);
    assert_eq!(code, 404, "combined stderr has no stderr WebSocket: {body}");
    assert!(
        body.contains(&format!(
            "cannot find stderr websocket for task \\\"{task}\\\""
        )),
        "{body}"
    );
    let (code, body) = upgrade(
        &format!("/v1/tasks/{task}/websocket/control"),
        "Connection: close\r\n",
    );
    assert_eq!(code, 400, "{body}");
    assert!(body.contains("not using the websocket protocol"), "{body}");
    // Tasks of other kinds have no WebSockets.
    let mut layer = Layer::default();
    layer.services.insert(
        "a".into(),
        Service {
            override_: Some(Override::Replace),
            command: Some("a".into()),
            ..Default::default()
        },
    );
    s.client.add_layer("a", &layer, false).unwrap();
    let change = s.client.start_services(&["a"]).unwrap();
    let (code, body) = upgrade(
        &format!("/v1/tasks/{}/websocket/control", change.tasks[0].id),
        ws,
    );
    assert_eq!(code, 400, "{body}");
    assert!(
        body.contains("\\\"start\\\" tasks do not have websockets"),
        "{body}"
    );
}

/// A handshake answered by the fake, checked byte for byte against RFC
/// 6455's example key, then a second connect of the same WebSocket refused.
#[test]
fn the_fake_answers_the_rfc_handshake() {
    let s = setup();
    s.pebble.handle_exec(&["ls"], |_| ExecResult::exit(0));
    let (_, reply) = post_exec(&s.pebble, &json!({"command": ["ls"]}));
    let task = reply["result"]["task-id"].as_str().unwrap().to_string();
    let mut stream = UnixStream::connect(s.pebble.socket_path()).unwrap();
    write!(
        stream,
        "GET /v1/tasks/{task}/websocket/control HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n"
    )
    .unwrap();
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut head = String::new();
    loop {
        let mut line = String::new();
        reader.read_line(&mut line).unwrap();
        head.push_str(&line);
        if line == "\r\n" {
            break;
        }
    }
    assert!(
        head.starts_with("HTTP/1.1 101 Switching Protocols\r\n"),
        "{head}"
    );
    assert!(
        head.contains("Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"),
        "{head}"
    );
    let (code, body) = raw(
        &s.pebble,
        &format!(
            "GET /v1/tasks/{task}/websocket/control HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n"
        ),
    );
    assert_eq!(code, 500, "{body}");
    assert!(
        body.contains("control websocket already connected"),
        "{body}"
    );
}

/// A command that does not read its input (`false`, `pg_isready`) exits
/// without it, however much is sent, and its record has none.
#[test]
fn a_command_that_reads_no_input_exits_without_it() {
    let s = setup();
    s.pebble
        .handle_exec(&["true"], |_| ExecResult::stdout("done"));
    let options = ExecOptions::new().with_stdin(vec![7; 8 * 1024 * 1024]);
    let output = s.client.exec(&["true"], &options).unwrap();
    assert_eq!(output.stdout, b"done");
    assert!(s.pebble.execs()[0].stdin().is_empty());
}

#[test]
fn a_host_command_runs_in_the_mapped_working_dir_with_the_exec_environment() {
    let s = setup();
    std::fs::create_dir_all(s.pebble.host_path("/srv")).unwrap();
    std::fs::write(
        s.pebble.host_path("/srv/greeting"),
        "hello from the container\n",
    )
    .unwrap();
    s.pebble.run_on_host(&["sh"]);
    let options = ExecOptions::new()
        .with_env("NAME", "db")
        .with_working_dir("/srv")
        .with_stdin(b"from stdin\n".to_vec());
    let err = s
        .client
        .exec(
            &[
                "sh",
                "-c",
                "cat greeting; echo \"$NAME $LANG\"; cat; echo oops >&2; exit 3",
            ],
            &options,
        )
        .unwrap_err();
    let PebbleError::Exec(e) = err else {
        panic!("expected an exec error");
    };
    assert_eq!(e.exit_code, 3);
    assert_eq!(
        String::from_utf8_lossy(&e.stdout),
        "hello from the container\ndb C.UTF-8\nfrom stdin\n"
    );
    assert_eq!(e.stderr, b"oops\n");
    // A command the host does not have exits 127.
    s.pebble.run_on_host(&["no-such-tool-here"]);
    let err = s
        .client
        .exec(&["no-such-tool-here"], &ExecOptions::default())
        .unwrap_err();
    assert_eq!(err.exit_code(), Some(127));
}

#[test]
fn a_host_command_past_its_timeout_is_killed() {
    let s = setup();
    s.pebble.run_on_host(&["sleep"]);
    let options = ExecOptions::new().with_timeout(Duration::from_millis(200));
    let err = s.client.exec(&["sleep", "30"], &options).unwrap_err();
    assert!(
        matches!(&err, PebbleError::Change { err, .. } if err.contains("timed out after 200ms")),
        "{err}"
    );
}

#[test]
fn a_command_without_a_timeout_may_outlast_the_change_timeout() {
    // Python ops waits for such a command however long it runs; the
    // client's change timeout (here 100 ms) is not the command's.
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("pebble.socket");
    let pebble = FakePebble::start(&socket, dir.path().join("root")).unwrap();
    pebble.run_on_host(&["sleep"]);
    let client = Client::new(&socket).with_change_timeout(Duration::from_millis(100));
    let output = client.exec(&["sleep", "0.5"], &ExecOptions::new());
    assert!(output.is_ok(), "{output:?}");
}

/// Pebble fails an exec whose I/O WebSockets are not connected within 5 s
/// (this test waits that long).
#[test]
fn an_exec_never_connected_fails_after_pebbles_connect_timeout() {
    let s = setup();
    s.pebble.handle_exec(&["ls"], |_| ExecResult::exit(0));
    let (_, reply) = post_exec(&s.pebble, &json!({"command": ["ls"], "split-stderr": true}));
    let change_id = reply["change"].as_str().unwrap();
    let task = reply["result"]["task-id"].as_str().unwrap();
    let change = s
        .client
        .wait_change(change_id, Duration::from_secs(60))
        .unwrap();
    assert_eq!(change.status, "Error");
    assert_eq!(
        change.err.as_deref(),
        Some(
            format!(
                "cannot perform the following tasks:\n- Execute command \"ls\" (exec {task}: timeout waiting for websocket connections: context deadline exceeded)"
            )
            .as_str()
        )
    );
    assert!(s.pebble.execs().is_empty());
}
