//! `FakePebble::in_process`: the fake's request handler answering a
//! client directly (no socket, no thread), alike to the socket server, with
//! a socket only for exec's WebSockets.

use std::time::Duration;

use ops::pebble::{
    Client, ExecOptions, Layer, PebbleError, PushOptions, TransportRequest, TransportResponse,
};
use ops_testing::fake_pebble::{ExecResult, FakePebble, ServiceEvent};
use serde_json::Value;

const LAYER: &str =
    "services:\n  app:\n    override: replace\n    command: app\n    startup: enabled\n";

fn in_process(dir: &tempfile::TempDir) -> FakePebble {
    FakePebble::in_process(dir.path().join("pebble.socket"), dir.path().join("root")).unwrap()
}

#[test]
fn requests_are_answered_without_a_socket() {
    let dir = tempfile::tempdir().unwrap();
    let pebble = in_process(&dir);
    let client = pebble.client();
    assert!(client.can_connect());
    client
        .push(
            "/etc/app/app.conf",
            "port = 1\n",
            &PushOptions::new().with_make_dirs(true),
        )
        .unwrap();
    assert_eq!(client.pull("/etc/app/app.conf").unwrap(), b"port = 1\n");
    client
        .add_layer("base", &Layer::from_yaml(LAYER).unwrap(), true)
        .unwrap();
    client.replan_services().unwrap();
    assert!(client.get_services(&["app"]).unwrap()[0].is_running());
    assert_eq!(pebble.service_events(), [ServiceEvent::Start("app".into())]);
    assert_eq!(
        std::fs::read_to_string(pebble.host_path("/etc/app/app.conf")).unwrap(),
        "port = 1\n"
    );
    assert!(!pebble.socket_path().exists(), "no socket was bound");
    let requests = pebble.requests();
    assert_eq!(
        requests[..3],
        ["GET /v1/system-info", "POST /v1/files", "GET /v1/files"]
    );
    assert!(requests.iter().any(|r| r.starts_with("GET /v1/changes/")));
}

#[test]
fn a_pebble_that_cannot_connect_is_a_missing_socket_then_answers_again() {
    let dir = tempfile::tempdir().unwrap();
    let pebble = in_process(&dir);
    let client = pebble.client();
    pebble.set_can_connect(false);
    assert!(!pebble.can_connect());
    match client.system_info() {
        Err(PebbleError::SocketMissing { socket }) => assert_eq!(socket, pebble.socket_path()),
        other => panic!("expected a missing socket, got {other:?}"),
    }
    assert!(pebble.requests().is_empty(), "nothing reached the fake");
    pebble.set_can_connect(true);
    assert!(pebble.can_connect());
    assert!(client.can_connect());
    assert!(!pebble.socket_path().exists());
}

#[test]
fn a_client_that_outlives_its_pebble_finds_the_socket_missing() {
    let dir = tempfile::tempdir().unwrap();
    let pebble = in_process(&dir);
    let client = pebble.client();
    assert!(client.can_connect());
    drop(pebble);
    assert!(matches!(
        client.system_info(),
        Err(PebbleError::SocketMissing { .. })
    ));
}

#[test]
fn exec_serves_its_websockets_on_the_socket_from_the_first_exec() {
    let dir = tempfile::tempdir().unwrap();
    let pebble = in_process(&dir);
    pebble.handle_exec(&["echo"], |args| {
        ExecResult::stdout(format!("{}\n", args.command[1..].join(" ")))
    });
    let client = pebble.client();
    assert!(!pebble.socket_path().exists());
    let output = client
        .exec(&["echo", "hello"], &ExecOptions::default())
        .unwrap();
    assert_eq!(output.stdout_text(), "hello\n");
    assert!(pebble.socket_path().exists(), "exec's WebSockets need it");
    // Again, on the same listener; and without a handler, Pebble's error.
    let again = client.exec(&["echo", "again"], &ExecOptions::default());
    assert_eq!(again.unwrap().stdout_text(), "again\n");
    match client.exec(&["nope"], &ExecOptions::default()) {
        Err(PebbleError::Api { message, .. }) => {
            assert!(message.contains("cannot find executable"), "{message}")
        }
        other => panic!("expected Pebble's error, got {other:?}"),
    }
    assert_eq!(pebble.execs().len(), 2);
    // Once it cannot connect, neither requests nor WebSockets get through.
    pebble.set_can_connect(false);
    assert!(!pebble.socket_path().exists());
    assert!(matches!(
        client.exec(&["echo", "x"], &ExecOptions::default()),
        Err(PebbleError::SocketMissing { .. })
    ));
}

/// The same requests, to a fake answering in process and one on its
/// socket: the same status, content type and JSON (the boot id aside).
#[test]
fn in_process_answers_as_the_socket_server_does() {
    let dir_a = tempfile::tempdir().unwrap();
    let dir_b = tempfile::tempdir().unwrap();
    let inner = in_process(&dir_a);
    let outer = FakePebble::start(
        dir_b.path().join("pebble.socket"),
        dir_b.path().join("root"),
    )
    .unwrap();
    let layer =
        serde_json::json!({"action": "add", "label": "l", "format": "yaml", "layer": LAYER})
            .to_string();
    let json = [("Content-Type", "application/json".to_string())];
    let no_headers: &[(&'static str, String)] = &[];
    let request = |method, path, query, headers, body| TransportRequest {
        method,
        path,
        query,
        headers,
        body,
    };
    let requests = [
        request("GET", "/v1/plan", "format=yaml", no_headers, None),
        request("POST", "/v1/layers", "", &json, Some(layer.as_bytes())),
        request("GET", "/v1/services", "names=app", no_headers, None),
        request(
            "GET",
            "/v1/files",
            "action=list&path=%2Fnowhere",
            no_headers,
            None,
        ),
        request(
            "GET",
            "/v1/files",
            "action=frobnicate&path=/",
            no_headers,
            None,
        ),
        request("DELETE", "/v1/plan", "", no_headers, None),
        request("GET", "/v1/nonsense", "", no_headers, None),
        request("POST", "/v1/services", "", &json, Some(&b"{not json"[..])),
        request(
            "GET",
            "/v1/changes/99/wait",
            "timeout=1ms",
            no_headers,
            None,
        ),
    ];
    for request in requests {
        let method = request.method;
        let a = inner
            .transport()
            .round_trip(&request, Duration::from_secs(5));
        let b = outer
            .transport()
            .round_trip(&request, Duration::from_secs(5));
        let (a, b) = (a.unwrap(), b.unwrap());
        let what = request.target();
        assert_eq!(a.status, b.status, "{method} {what}");
        assert_eq!(a.reason, b.reason, "{method} {what}");
        assert_eq!(a.media_type(), b.media_type(), "{method} {what}");
        assert_eq!(json_of(&a), json_of(&b), "{method} {what}");
    }
    assert_eq!(inner.requests(), outer.requests());
    assert_eq!(inner.plan(), outer.plan());
}

fn json_of(response: &TransportResponse) -> Value {
    serde_json::from_slice(&response.body).unwrap()
}

#[test]
fn the_transport_of_a_socket_pebble_uses_its_socket() {
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("pebble.socket");
    let pebble = FakePebble::start(&socket, dir.path().join("root")).unwrap();
    assert_eq!(pebble.transport().socket(), socket);
    assert!(Client::new(&socket).can_connect());
    assert!(pebble.client().can_connect());
    pebble.set_can_connect(false);
    assert!(matches!(
        pebble.client().system_info(),
        Err(PebbleError::SocketMissing { .. })
    ));
}

/// A WebSocket handshake sent as an ordinary request is refused: only the
/// socket serves WebSockets (`Client::exec` opens them there).
#[test]
fn a_websocket_route_is_refused_in_process() {
    let dir = tempfile::tempdir().unwrap();
    let pebble = in_process(&dir);
    let request = TransportRequest {
        method: "GET",
        path: "/v1/tasks/1/websocket/stdio",
        query: "",
        headers: &[],
        body: None,
    };
    let response = pebble
        .transport()
        .round_trip(&request, Duration::from_secs(5))
        .unwrap();
    assert_eq!(response.status, 400);
    let message = json_of(&response)["result"]["message"].clone();
    assert!(
        message.as_str().unwrap().contains("socket only"),
        "{message}"
    );
    assert!(pebble.requests().is_empty());
    assert!(!pebble.socket_path().exists());
}
