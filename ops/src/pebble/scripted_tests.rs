//! The client against a scripted unix-socket server: each test gives the
//! raw responses, and checks the raw requests and the errors the client
//! makes of the answers, independently of any fake Pebble.

use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::net::UnixListener;
use std::path::PathBuf;
use std::thread::JoinHandle;
use std::time::Duration;

use super::files::{header_params, parse_multipart};
use super::*;

/// A request as the server saw it.
struct Seen {
    head: String,
    body: Vec<u8>,
}

impl Seen {
    fn request_line(&self) -> &str {
        self.head.lines().next().unwrap_or("")
    }

    fn header(&self, name: &str) -> Option<String> {
        self.head.lines().skip(1).find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.trim()
                .eq_ignore_ascii_case(name)
                .then(|| v.trim().to_string())
        })
    }

    fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap()
    }
}

struct Scripted {
    _dir: tempfile::TempDir,
    socket: PathBuf,
    thread: JoinHandle<Vec<Seen>>,
}

impl Scripted {
    /// Serves one connection per response, in order.
    fn new(responses: Vec<Vec<u8>>) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let socket = dir.path().join("pebble.socket");
        let listener = UnixListener::bind(&socket).unwrap();
        let thread = std::thread::spawn(move || {
            let mut seen = Vec::new();
            for response in responses {
                let (stream, _) = listener.accept().unwrap();
                let mut reader = BufReader::new(stream);
                let mut head = String::new();
                loop {
                    let mut line = String::new();
                    reader.read_line(&mut line).unwrap();
                    head.push_str(&line);
                    if line == "\r\n" || line.is_empty() {
                        break;
                    }
                }
                let length = head
                    .lines()
                    .find_map(|l| l.strip_prefix("Content-Length: "))
                    .map(|n| n.trim().parse::<usize>().unwrap())
                    .unwrap_or(0);
                let mut body = vec![0; length];
                reader.read_exact(&mut body).unwrap();
                let mut stream = reader.into_inner();
                stream.write_all(&response).unwrap();
                seen.push(Seen { head, body });
            }
            seen
        });
        Self {
            _dir: dir,
            socket,
            thread,
        }
    }

    fn client(&self) -> Client {
        Client::new(&self.socket)
    }

    fn requests(self) -> Vec<Seen> {
        self.thread.join().unwrap()
    }
}

fn json_response(status: &str, body: &str) -> Vec<u8> {
    format!(
        "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

fn multipart_response(boundary: &str, body: &[u8]) -> Vec<u8> {
    let mut out = format!(
        "HTTP/1.1 200 OK\r\nContent-Type: multipart/form-data; boundary={boundary}\r\nContent-Length: {}\r\n\r\n",
        body.len()
    )
    .into_bytes();
    out.extend_from_slice(body);
    out
}

#[test]
fn system_info_over_a_chunked_response() {
    let body = r#"{"type":"sync","status-code":200,"status":"OK","result":{"boot-id":"b","version":"1.19.0"}}"#;
    let (a, b) = body.split_at(20);
    let raw = format!(
        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n{:x}\r\n{a}\r\n{:x}\r\n{b}\r\n0\r\n\r\n",
        a.len(),
        b.len()
    );
    let server = Scripted::new(vec![raw.into_bytes()]);
    let info = server.client().system_info().unwrap();
    assert_eq!(info.version, "1.19.0");
    assert_eq!(info.boot_id.as_deref(), Some("b"));
    let seen = server.requests();
    assert_eq!(seen[0].request_line(), "GET /v1/system-info HTTP/1.1");
    assert_eq!(seen[0].header("Connection").as_deref(), Some("close"));
}

#[test]
fn api_errors_carry_status_message_and_kind() {
    let server = Scripted::new(vec![
        json_response(
            "400 Bad Request",
            r#"{"type":"error","status-code":400,"status":"Bad Request","result":{"message":"cannot start services: service \"x\" does not exist"}}"#,
        ),
        json_response(
            "404 Not Found",
            r#"{"type":"error","status-code":404,"status":"Not Found","result":{"message":"stat /nope: no such file or directory","kind":"not-found"}}"#,
        ),
        json_response(
            "404 Not Found",
            r#"{"type":"error","status-code":404,"status":"Not Found","result":{"message":"stat /gone: no such file or directory","kind":"not-found"}}"#,
        ),
        b"HTTP/1.1 502 Bad Gateway\r\nContent-Type: text/plain\r\nContent-Length: 7\r\n\r\nupstrm!"
            .to_vec(),
    ]);
    let client = server.client();
    match client.start_services(&["x"]) {
        Err(PebbleError::Api {
            status_code: 400,
            status,
            message,
            kind: None,
        }) => {
            assert_eq!(status, "Bad Request");
            assert_eq!(
                message,
                "cannot start services: service \"x\" does not exist"
            );
        }
        other => panic!("expected an API error, got {other:?}"),
    }
    let err = client.list_files("/nope", None, false).unwrap_err();
    assert!(err.is_not_found(), "{err}");
    assert_eq!(err.kind(), Some("not-found"));
    assert!(!client.exists("/gone").unwrap());
    match client.get_plan() {
        Err(PebbleError::Api {
            status_code: 502,
            message,
            ..
        }) => assert!(message.contains("upstrm!"), "{message}"),
        other => panic!("expected an API error, got {other:?}"),
    }
    let seen = server.requests();
    assert_eq!(
        seen[0].json(),
        serde_json::json!({"action": "start", "services": ["x"]})
    );
    assert_eq!(
        seen[1].request_line(),
        "GET /v1/files?action=list&path=/nope HTTP/1.1"
    );
    assert_eq!(
        seen[2].request_line(),
        "GET /v1/files?action=list&path=/gone&itself=true HTTP/1.1"
    );
}

/// An error envelope is an error whatever the HTTP status says, and even
/// when the rest of it is not what an envelope holds.
#[test]
fn an_error_envelope_under_a_200_is_an_api_error() {
    let server = Scripted::new(vec![
        json_response(
            "200 OK",
            r#"{"type":"error","status-code":409,"status":"Conflict","result":{"message":"busy"}}"#,
        ),
        json_response(
            "200 OK",
            r#"{"type":"error","status-code":400,"change":5,"result":{"message":"odd","kind":"k"}}"#,
        ),
    ]);
    let client = server.client();
    for (expected_code, expected_message, expected_kind) in
        [(409, "busy", None), (400, "odd", Some("k"))]
    {
        match client.system_info() {
            Err(PebbleError::Api {
                status_code,
                message,
                kind,
                ..
            }) => {
                assert_eq!(status_code, expected_code);
                assert_eq!(message, expected_message);
                assert_eq!(kind.as_deref(), expected_kind);
            }
            other => panic!("expected an API error, got {other:?}"),
        }
    }
}

#[test]
fn malformed_responses_say_what_was_wrong() {
    let server = Scripted::new(vec![
        b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n\r\nhello".to_vec(),
        json_response("200 OK", "{not json"),
        json_response("200 OK", r#"{"status-code":200,"result":{}}"#),
        json_response(
            "200 OK",
            r#"{"type":"sync","status-code":200,"result":"not a list"}"#,
        ),
        json_response(
            "202 Accepted",
            r#"{"type":"async","status-code":202,"status":"Accepted","result":null}"#,
        ),
        json_response(
            "200 OK",
            r#"{"type":"sync","status-code":200,"result":"services: [unclosed"}"#,
        ),
        b"".to_vec(),
        b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nshort".to_vec(),
    ]);
    let client = server.client();
    let cases: Vec<(Result<(), PebbleError>, &str)> = vec![
        (
            client.system_info().map(drop),
            "expected Content-Type application/json",
        ),
        (client.system_info().map(drop), "the body is not JSON"),
        (client.system_info().map(drop), "not a Pebble response"),
        (client.get_services(&[]).map(drop), "unexpected result"),
        (
            client.replan_services().map(drop),
            "expected an async response with a change id",
        ),
        (client.get_plan().map(drop), "the plan is not valid YAML"),
        (
            client.system_info().map(drop),
            "connection closed before the status line",
        ),
        (
            client.system_info().map(drop),
            "body ended after 5 of 100 bytes",
        ),
    ];
    for (result, expected) in cases {
        match result {
            Err(PebbleError::Malformed { what }) => {
                assert!(what.contains(expected), "{what:?} lacks {expected:?}")
            }
            other => panic!("expected a malformed-response error with {expected:?}, got {other:?}"),
        }
    }
    server.requests();
}

#[test]
fn a_failed_change_is_an_error_with_its_text() {
    let err_text = "cannot perform the following tasks:\n- Start service \"web\" (cannot start service: exited quickly with code 1)";
    let change = serde_json::json!({
        "type": "sync", "status-code": 200, "status": "OK",
        "result": {
            "id": "7", "kind": "start", "summary": "Start service \"web\"", "status": "Error",
            "tasks": [], "ready": true, "err": err_text,
            "spawn-time": "2024-01-01T00:00:00Z", "ready-time": "2024-01-01T00:00:01Z"
        }
    });
    let server = Scripted::new(vec![
        json_response(
            "202 Accepted",
            r#"{"type":"async","status-code":202,"status":"Accepted","change":"7","result":null}"#,
        ),
        json_response(
            "504 Gateway Timeout",
            r#"{"type":"error","status-code":504,"status":"Gateway Timeout","result":{"message":"timed out waiting for change after 4s"}}"#,
        ),
        json_response("200 OK", &change.to_string()),
    ]);
    match server.client().start_services(&["web"]) {
        Err(PebbleError::Change { id, err }) => {
            assert_eq!(id, "7");
            assert_eq!(err, err_text);
        }
        other => panic!("expected a change error, got {other:?}"),
    }
    let seen = server.requests();
    assert_eq!(seen[0].request_line(), "POST /v1/services HTTP/1.1");
    assert!(
        seen[1]
            .request_line()
            .starts_with("GET /v1/changes/7/wait?timeout=4000ms "),
        "{}",
        seen[1].request_line()
    );
    assert!(
        seen[2]
            .request_line()
            .starts_with("GET /v1/changes/7/wait?timeout=")
    );
}

#[test]
fn add_layer_sends_yaml_with_label_and_combine() {
    let server = Scripted::new(vec![json_response(
        "200 OK",
        r#"{"type":"sync","status-code":200,"status":"OK","result":true}"#,
    )]);
    let mut layer = Layer::default();
    layer.services.insert(
        "web".into(),
        Service {
            override_: Some(Override::Merge),
            command: Some("web --port 80".into()),
            ..Default::default()
        },
    );
    server.client().add_layer("base", &layer, true).unwrap();
    let seen = server.requests();
    assert_eq!(seen[0].request_line(), "POST /v1/layers HTTP/1.1");
    assert_eq!(
        seen[0].header("Content-Type").as_deref(),
        Some("application/json")
    );
    let body = seen[0].json();
    assert_eq!(body["action"], "add");
    assert_eq!(body["combine"], true);
    assert_eq!(body["label"], "base");
    assert_eq!(body["format"], "yaml");
    // JSON, which YAML readers read: Pebble's too.
    let text = body["layer"].as_str().unwrap();
    assert!(text.starts_with('{'), "{text}");
    let sent = Layer::from_yaml(text).unwrap();
    assert_eq!(sent, layer);
}

#[test]
fn push_sends_request_then_files_parts_and_reports_path_errors() {
    let server = Scripted::new(vec![json_response(
        "200 OK",
        r#"{"type":"sync","status-code":200,"status":"OK","result":[{"path":"/etc/app/conf","error":{"message":"open /etc/app/conf.x~: no such file or directory","kind":"not-found"}}]}"#,
    )]);
    let options = PushOptions {
        make_dirs: true,
        permissions: Some(0o600),
        user: Some("app".into()),
        group_id: Some(42),
        ..Default::default()
    };
    let content = b"a=1\r\nb=2\x00\xff";
    match server.client().push("/etc/app/conf", content, &options) {
        Err(PebbleError::Path {
            path,
            kind,
            message,
        }) => {
            assert_eq!(path, "/etc/app/conf");
            assert_eq!(kind, "not-found");
            assert!(message.contains("no such file"));
        }
        other => panic!("expected a path error, got {other:?}"),
    }
    let seen = server.requests();
    let content_type = seen[0].header("Content-Type").unwrap();
    let (media, params) = header_params(&content_type);
    assert_eq!(media, "multipart/form-data");
    let boundary = &params.iter().find(|(k, _)| k == "boundary").unwrap().1;
    assert!(
        boundary.len() >= 32,
        "Pebble wants a boundary of 32 characters or more"
    );
    let parts = parse_multipart(&seen[0].body, boundary).unwrap();
    assert_eq!(parts[0].name, "request");
    let request: serde_json::Value = serde_json::from_slice(&parts[0].body).unwrap();
    assert_eq!(
        request,
        serde_json::json!({"action": "write", "files": [{
            "path": "/etc/app/conf", "make-dirs": true, "permissions": "600",
            "user": "app", "group-id": 42
        }]})
    );
    assert_eq!(parts[1].name, "files");
    assert_eq!(parts[1].filename.as_deref(), Some("/etc/app/conf"));
    assert_eq!(parts[1].body, content);
}

#[test]
fn pull_many_reads_every_path_in_one_request_each_with_its_own_outcome() {
    // As Pebble answers two paths of which the second is missing: one
    // file part, and a result per path.
    let two = b"--BBB\r\nContent-Disposition: form-data; name=\"files\"; filename=\"/a\"\r\n\r\nA\r\n--BBB\r\nContent-Disposition: form-data; name=\"response\"\r\n\r\n{\"type\":\"sync\",\"status-code\":200,\"status\":\"OK\",\"result\":[{\"path\":\"/a\"},{\"path\":\"/b\",\"error\":{\"message\":\"stat /b: no such file or directory\",\"kind\":\"not-found\"}}]}\r\n--BBB--\r\n";
    let twice = b"--BBB\r\nContent-Disposition: form-data; name=\"files\"; filename=\"/a\"\r\n\r\nA\r\n--BBB\r\nContent-Disposition: form-data; name=\"files\"; filename=\"/a\"\r\n\r\nA\r\n--BBB\r\nContent-Disposition: form-data; name=\"response\"\r\n\r\n{\"type\":\"sync\",\"result\":[{\"path\":\"/a\"}]}\r\n--BBB--\r\n";
    let no_content = b"--BBB\r\nContent-Disposition: form-data; name=\"response\"\r\n\r\n{\"type\":\"sync\",\"result\":[{\"path\":\"/a\"},{\"path\":\"/b\"}]}\r\n--BBB--\r\n";
    let server = Scripted::new(vec![
        multipart_response("BBB", two),
        multipart_response("BBB", two),
        multipart_response("BBB", twice),
        multipart_response("BBB", no_content),
    ]);
    let client = server.client();
    let results = client.pull_many(&["/b", "/a"]).unwrap();
    assert_eq!(results.len(), 2);
    assert!(
        results[0].as_ref().unwrap_err().is_not_found(),
        "{results:?}"
    );
    assert_eq!(results[1].as_deref().unwrap(), b"A");
    // A path given twice is asked for once and answered for both.
    let results = client.pull_many(&["/a", "/b", "/a"]).unwrap();
    assert_eq!(results[0].as_deref().unwrap(), b"A");
    assert!(results[1].as_ref().unwrap_err().is_not_found());
    assert_eq!(results[2].as_deref().unwrap(), b"A");
    // Two contents for one path: not what Pebble sends.
    assert!(
        matches!(client.pull_many(&["/a"]), Err(PebbleError::Malformed { what }) if what.contains("several contents"))
    );
    // A path without an error and without content is that path's problem.
    let results = client.pull_many(&["/a", "/b"]).unwrap();
    assert!(
        matches!(&results[0], Err(PebbleError::Malformed { what }) if what.contains("no file content"))
    );
    let seen = server.requests();
    assert_eq!(
        seen[0].request_line(),
        "GET /v1/files?action=read&path=/b&path=/a HTTP/1.1"
    );
    assert_eq!(
        seen[1].request_line(),
        "GET /v1/files?action=read&path=/a&path=/b HTTP/1.1"
    );
}

#[test]
fn pull_reads_the_multipart_response() {
    let ok = b"--BBB\r\nContent-Disposition: form-data; name=\"files\"; filename=\"/f\"\r\nContent-Type: application/octet-stream\r\n\r\nline\r\n--B\r\n\r\n--BBB\r\nContent-Disposition: form-data; name=\"response\"\r\nContent-Type: application/json\r\n\r\n{\"type\":\"sync\",\"status-code\":200,\"status\":\"OK\",\"result\":[{\"path\":\"/f\"}]}\n\r\n--BBB--\r\n";
    let missing = b"--BBB\r\nContent-Disposition: form-data; name=\"response\"\r\n\r\n{\"type\":\"sync\",\"status-code\":200,\"status\":\"OK\",\"result\":[{\"path\":\"/f\",\"error\":{\"message\":\"stat /f: no such file or directory\",\"kind\":\"not-found\"}}]}\r\n--BBB--\r\n";
    let no_response = b"--BBB\r\nContent-Disposition: form-data; name=\"files\"; filename=\"/f\"\r\n\r\nx\r\n--BBB--\r\n";
    let wrong_name = b"--BBB\r\nContent-Disposition: form-data; name=\"files\"; filename=\"/g\"\r\n\r\nx\r\n--BBB\r\nContent-Disposition: form-data; name=\"response\"\r\n\r\n{\"type\":\"sync\",\"result\":[{\"path\":\"/f\"}]}\r\n--BBB--\r\n";
    let server = Scripted::new(vec![
        multipart_response("BBB", ok),
        multipart_response("BBB", missing),
        multipart_response("BBB", no_response),
        multipart_response("BBB", wrong_name),
        json_response(
            "400 Bad Request",
            r#"{"type":"error","status-code":400,"status":"Bad Request","result":{"message":"must accept multipart/form-data"}}"#,
        ),
        json_response(
            "200 OK",
            r#"{"type":"sync","status-code":200,"status":"OK","result":[]}"#,
        ),
    ]);
    let client = server.client();
    assert_eq!(client.pull("/f").unwrap(), b"line\r\n--B\r\n");
    let err = client.pull("/f").unwrap_err();
    assert!(
        matches!(&err, PebbleError::Path { kind, .. } if kind == "not-found"),
        "{err:?}"
    );
    assert!(err.is_not_found());
    assert!(
        matches!(client.pull("/f"), Err(PebbleError::Malformed { what }) if what.contains("\"response\" part"))
    );
    assert!(
        matches!(client.pull("/f"), Err(PebbleError::Malformed { what }) if what.contains("not asked for"))
    );
    assert!(matches!(
        client.pull("/f"),
        Err(PebbleError::Api {
            status_code: 400,
            ..
        })
    ));
    assert!(
        matches!(client.pull("/f"), Err(PebbleError::Malformed { what }) if what.contains("multipart/form-data"))
    );
    let seen = server.requests();
    assert_eq!(
        seen[0].request_line(),
        "GET /v1/files?action=read&path=/f HTTP/1.1"
    );
    assert_eq!(
        seen[0].header("Accept").as_deref(),
        Some("multipart/form-data")
    );
}

#[test]
fn signals_services_and_files_requests_have_pebbles_shapes() {
    let ok_true = json_response(
        "200 OK",
        r#"{"type":"sync","status-code":200,"status":"OK","result":true}"#,
    );
    let ok_path = |p: &str| {
        json_response(
            "200 OK",
            &format!(
                r#"{{"type":"sync","status-code":200,"status":"OK","result":[{{"path":"{p}"}}]}}"#
            ),
        )
    };
    let server = Scripted::new(vec![
        ok_true,
        json_response(
            "200 OK",
            r#"{"type":"sync","status-code":200,"status":"OK","result":[{"name":"a","startup":"enabled","current":"active"}]}"#,
        ),
        ok_path("/d"),
        ok_path("/d"),
    ]);
    let client = server.client();
    client.send_signal("SIGHUP", &["a", "b"]).unwrap();
    let services = client.get_services(&["a", "b"]).unwrap();
    assert_eq!(services[0].current, ServiceStatus::Active);
    client
        .make_dir(
            "/d",
            &MakeDirOptions {
                make_parents: true,
                permissions: Some(0o750),
                user_id: Some(1000),
                ..Default::default()
            },
        )
        .unwrap();
    client.remove_path("/d", true).unwrap();
    let seen = server.requests();
    assert_eq!(seen[0].request_line(), "POST /v1/signals HTTP/1.1");
    assert_eq!(
        seen[0].json(),
        serde_json::json!({"signal": "SIGHUP", "services": ["a", "b"]})
    );
    assert_eq!(
        seen[1].request_line(),
        "GET /v1/services?names=a,b HTTP/1.1"
    );
    assert_eq!(
        seen[2].json(),
        serde_json::json!({"action": "make-dirs", "dirs": [{"path": "/d", "make-parents": true, "permissions": "750", "user-id": 1000}]})
    );
    assert_eq!(
        seen[3].json(),
        serde_json::json!({"action": "remove", "paths": [{"path": "/d", "recursive": true}]})
    );
}

#[test]
fn connection_errors_name_the_socket() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nothing.socket");
    let client = Client::new(&missing);
    match client.system_info() {
        Err(PebbleError::SocketMissing { socket }) => assert_eq!(socket, missing),
        other => panic!("expected a missing socket, got {other:?}"),
    }
    assert!(!client.can_connect());
    let err = client.pull("/x").unwrap_err();
    assert!(
        err.to_string().contains(&missing.display().to_string()),
        "{err}"
    );

    // A socket file nobody listens on any more: connecting is refused.
    let stale = dir.path().join("stale.socket");
    drop(UnixListener::bind(&stale).unwrap());
    match Client::new(&stale).system_info() {
        Err(e @ PebbleError::Connection { .. }) => {
            assert!(e.is_connection_error());
            assert!(e.to_string().contains("stale.socket"), "{e}");
        }
        other => panic!("expected a refused connection, got {other:?}"),
    }
}

#[test]
fn a_silent_server_times_out() {
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("slow.socket");
    let listener = UnixListener::bind(&socket).unwrap();
    let holder = std::thread::spawn(move || {
        let (stream, _) = listener.accept().unwrap();
        std::thread::sleep(Duration::from_millis(600));
        drop(stream);
    });
    let client = Client::new(&socket).with_timeout(Duration::from_millis(100));
    match client.system_info() {
        Err(PebbleError::Io { source, .. }) => assert!(
            matches!(
                source.kind(),
                std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
            ),
            "{source:?}"
        ),
        other => panic!("expected a timeout, got {other:?}"),
    }
    holder.join().unwrap();
}

#[test]
fn an_endless_change_timeout_does_not_panic() {
    let dir = tempfile::tempdir().unwrap();
    let client = super::Client::new(dir.path().join("missing.socket"))
        .with_change_timeout(std::time::Duration::MAX);
    assert!(client.wait_change("1", std::time::Duration::MAX).is_err());
}

/// A newer Pebble may send words this client does not know: the plan,
/// services and checks still read, the word kept, and a service read from
/// the plan goes back into a layer as it came.
#[test]
fn words_from_a_newer_pebble_are_kept_not_refused() {
    let plan = "services:\n  web:\n    override: replace\n    command: web\n    startup: later\n    \
                on-failure: restart-all\n    on-check-failure:\n      up: page\n\
                checks:\n  up:\n    override: overlay\n    level: critical\n    startup: paused\n    \
                tcp:\n      port: 80\n";
    let server = Scripted::new(vec![
        json_response(
            "200 OK",
            &serde_json::json!({"type": "sync", "status-code": 200, "status": "OK", "result": plan})
                .to_string(),
        ),
        json_response(
            "200 OK",
            r#"{"type":"sync","status-code":200,"status":"OK","result":[{"name":"web","startup":"later","current":"active"}]}"#,
        ),
        json_response(
            "200 OK",
            r#"{"type":"sync","status-code":200,"status":"OK","result":[{"name":"up","level":"critical","startup":"paused","status":"up","threshold":3}]}"#,
        ),
    ]);
    let client = server.client();
    let plan = client.get_plan().unwrap();
    let web = &plan.services["web"];
    assert_eq!(web.startup, Some(ServiceStartup::Other("later".into())));
    assert_eq!(web.override_, Some(Override::Replace));
    assert_eq!(
        web.on_failure,
        Some(ServiceAction::Other("restart-all".into()))
    );
    assert_eq!(
        web.on_check_failure["up"],
        ServiceAction::Other("page".into())
    );
    let up = &plan.checks["up"];
    assert_eq!(up.override_, Some(Override::Other("overlay".into())));
    assert_eq!(up.level, Some(CheckLevel::Other("critical".into())));
    assert_eq!(up.startup, Some(CheckStartup::Other("paused".into())));
    let layer = Layer {
        services: [("web".to_string(), web.clone())].into(),
        ..Default::default()
    };
    let yaml = layer.to_yaml().unwrap();
    assert!(
        yaml.contains("startup: later") && yaml.contains("on-failure: restart-all"),
        "{yaml}"
    );
    let services = client.get_services(&["web"]).unwrap();
    assert_eq!(services[0].startup, ServiceStartup::Other("later".into()));
    assert!(services[0].is_running());
    let checks = client.get_checks(None, &[]).unwrap();
    assert_eq!(checks[0].level, Some(CheckLevel::Other("critical".into())));
    assert_eq!(checks[0].startup, CheckStartup::Other("paused".into()));
    assert!(checks[0].is_up());
}

#[test]
fn checks_are_listed_started_and_stopped() {
    let list = r#"{"type":"sync","status-code":200,"status":"OK","result":[
        {"name":"alive","level":"alive","status":"up","failures":0,"threshold":3,"change-id":"7"},
        {"name":"db","status":"down","failures":3,"threshold":3}]}"#;
    let changed = r#"{"type":"sync","status-code":200,"status":"OK","result":{"changed":["db"]}}"#;
    let server = Scripted::new(vec![
        json_response("200 OK", list),
        json_response("200 OK", changed),
        json_response("200 OK", changed),
    ]);
    let client = server.client();
    let checks = client
        .get_checks(Some(CheckLevel::Alive), &["alive", "db"])
        .unwrap();
    assert_eq!(checks.len(), 2);
    assert_eq!(checks[0].level, Some(CheckLevel::Alive));
    assert_eq!(checks[1].level, None, "Pebble leaves an unset level out");
    assert!(checks[0].is_up());
    assert_eq!(checks[0].change_id.as_deref(), Some("7"));
    assert!(!checks[1].is_up());
    assert_eq!(checks[1].failures, 3);
    assert_eq!(client.start_checks(&["db"]).unwrap(), ["db"]);
    assert_eq!(client.stop_checks(&["db"]).unwrap(), ["db"]);
    let seen = server.requests();
    assert_eq!(
        seen[0].request_line(),
        "GET /v1/checks?level=alive&names=alive,db HTTP/1.1"
    );
    assert_eq!(seen[1].request_line(), "POST /v1/checks HTTP/1.1");
    assert_eq!(
        seen[1].json(),
        serde_json::json!({"action": "start", "checks": ["db"]})
    );
    assert_eq!(seen[2].json()["action"], "stop");
}

#[test]
fn notices_are_listed_and_custom_ones_recorded() {
    let list = r#"{"type":"sync","status-code":200,"status":"OK","result":[
        {"id":"1","type":"custom","key":"example.com/db-ready","first-occurred":"t0",
         "last-occurred":"t1","occurrences":2,"last-data":{"password":"hunter2"}}]}"#;
    let added = r#"{"type":"sync","status-code":200,"status":"OK","result":{"id":"2"}}"#;
    let server = Scripted::new(vec![
        json_response("200 OK", list),
        json_response("200 OK", added),
    ]);
    let client = server.client();
    let notices = client
        .get_notices(&["custom"], &["example.com/db-ready"])
        .unwrap();
    assert_eq!(notices[0].key, "example.com/db-ready");
    assert_eq!(notices[0].occurrences, 2);
    assert!(!format!("{:?}", notices[0]).contains("hunter2"));
    let data = [("k".to_string(), "v".to_string())].into();
    assert_eq!(client.notify("example.com/reload", &data).unwrap(), "2");
    let seen = server.requests();
    assert_eq!(
        seen[0].request_line(),
        "GET /v1/notices?types=custom&keys=example.com/db-ready HTTP/1.1"
    );
    assert_eq!(
        seen[1].json(),
        serde_json::json!({"action": "add", "type": "custom", "key": "example.com/reload", "data": {"k": "v"}})
    );
}

const EXEC_ACCEPTED: &str = r#"{"type":"async","status-code":202,"status":"Accepted","change":"3","result":{"environment":{"PATH":"/bin"},"task-id":"7","working-dir":"/"}}"#;

/// RFC 6455 section 4.1: a client must fail the connection if the server's
/// accept value is not the one of its key.
#[test]
fn exec_refuses_a_wrong_websocket_accept() {
    let switched = b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n";
    let server = Scripted::new(vec![
        json_response("202 Accepted", EXEC_ACCEPTED),
        switched.to_vec(),
    ]);
    let options = ExecOptions {
        environment: [("TOKEN".to_string(), "hunter2".to_string())].into(),
        ..Default::default()
    };
    let err = server.client().exec(&["ls", "-l"], &options).unwrap_err();
    assert!(
        matches!(&err, PebbleError::Malformed { what } if what.contains("Sec-WebSocket-Accept")),
        "{err}"
    );
    assert!(!format!("{err} {err:?}").contains("hunter2"));
    let seen = server.requests();
    assert_eq!(seen[0].request_line(), "POST /v1/exec HTTP/1.1");
    assert_eq!(seen[0].json()["command"], serde_json::json!(["ls", "-l"]));
    assert_eq!(seen[0].json()["split-stderr"], true);
    assert_eq!(
        seen[1].request_line(),
        "GET /v1/tasks/7/websocket/control HTTP/1.1"
    );
    assert_eq!(seen[1].header("Connection").as_deref(), Some("Upgrade"));
    assert_eq!(seen[1].header("Upgrade").as_deref(), Some("websocket"));
    assert_eq!(
        seen[1].header("Sec-WebSocket-Version").as_deref(),
        Some("13")
    );
    assert_eq!(
        seen[1].header("Sec-WebSocket-Key").map(|k| k.len()),
        Some(24)
    );
}

#[test]
fn exec_refuses_a_switch_without_upgrade_header() {
    let switched = b"HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\n\r\n";
    let server = Scripted::new(vec![
        json_response("202 Accepted", EXEC_ACCEPTED),
        switched.to_vec(),
    ]);
    let err = server
        .client()
        .exec(&["ls"], &ExecOptions::default())
        .unwrap_err();
    assert!(err.to_string().contains("Upgrade: websocket"), "{err}");
}

#[test]
fn exec_without_a_task_id_is_malformed() {
    let server = Scripted::new(vec![json_response(
        "202 Accepted",
        r#"{"type":"async","status-code":202,"status":"Accepted","change":"3","result":{}}"#,
    )]);
    let err = server
        .client()
        .exec(&["ls"], &ExecOptions::default())
        .unwrap_err();
    assert!(err.to_string().contains("task-id"), "{err}");
}
