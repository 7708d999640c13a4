//! `ops::pebble::Client` against a Pebble that misbehaves: it never
//! accepts, never answers, answers part of a response and stalls or hangs
//! up, answers garbage, or sends a body without end. Every call returns
//! (an error, or what the bytes said) by its deadline, and a body without
//! end is refused at the client's cap instead of filling memory.

use std::io::{ErrorKind, Read, Write};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use ops::pebble::{Client, PebbleError};
use proptest::prelude::*;

/// Short, so that the cases that run into it keep the test quick.
const DEADLINE: Duration = Duration::from_millis(40);

/// For a Pebble that answers and hangs up: the call ends when it does, and
/// a loaded machine must not turn that into a timeout.
const GENEROUS: Duration = Duration::from_secs(10);

/// What the fake Pebble does with each connection.
#[derive(Debug, Clone)]
enum Behaviour {
    /// Reads the request, sends `bytes`, then hangs up.
    SendAndClose(Vec<u8>),
    /// Reads the request, sends `bytes`, then keeps the connection open
    /// (reading, so it notices when the client gives up).
    SendAndStall(Vec<u8>),
    /// Reads the request, then sends a body far over any cap (160 MiB)
    /// unless the client hangs up first.
    Endless,
}

/// A listener on a unix socket in a temp dir, served by one thread.
struct Server {
    _dir: tempfile::TempDir,
    socket: PathBuf,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

fn read_request(stream: &mut UnixStream) {
    // The head, up to the blank line; the calls used here send no body.
    let mut seen = Vec::new();
    let mut byte = [0u8; 1];
    while !seen.ends_with(b"\r\n\r\n") {
        match stream.read(&mut byte) {
            Ok(1) => seen.push(byte[0]),
            _ => return,
        }
    }
}

fn drain(stream: &mut UnixStream) {
    let mut buf = [0u8; 4096];
    while matches!(stream.read(&mut buf), Ok(n) if n > 0) {}
}

fn serve(mut stream: UnixStream, behaviour: &Behaviour) {
    read_request(&mut stream);
    match behaviour {
        Behaviour::SendAndClose(bytes) => {
            let _ = stream.write_all(bytes);
        }
        Behaviour::SendAndStall(bytes) => {
            let _ = stream.write_all(bytes);
            drain(&mut stream);
        }
        Behaviour::Endless => {
            let head = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n\r\n";
            if stream.write_all(head).is_err() {
                return;
            }
            // Far past the client's cap (64 MiB), then a hang-up, so that
            // a client without a cap gets a huge body rather than hanging.
            let block = vec![b' '; 64 * 1024];
            for _ in 0..(160 * 16) {
                if stream.write_all(&block).is_err() {
                    return;
                }
            }
        }
    }
}

impl Server {
    /// A listener that is bound (connections queue in its backlog) and
    /// never accepts.
    fn silent() -> (Self, UnixListener) {
        let dir = tempfile::tempdir().unwrap();
        let socket = dir.path().join("pebble.socket");
        let listener = UnixListener::bind(&socket).unwrap();
        let server = Self {
            _dir: dir,
            socket,
            stop: Arc::new(AtomicBool::new(true)),
            thread: None,
        };
        (server, listener)
    }

    fn start(behaviour: Behaviour) -> Self {
        let (mut server, listener) = Self::silent();
        server.stop.store(false, Ordering::SeqCst);
        let stop = server.stop.clone();
        server.thread = Some(std::thread::spawn(move || {
            for stream in listener.incoming() {
                if stop.load(Ordering::SeqCst) {
                    return;
                }
                if let Ok(stream) = stream {
                    let behaviour = behaviour.clone();
                    std::thread::spawn(move || serve(stream, &behaviour));
                }
            }
        }));
        server
    }

    fn client(&self) -> Client {
        self.client_with(DEADLINE)
    }

    fn client_with(&self, deadline: Duration) -> Client {
        Client::new(&self.socket)
            .with_timeout(deadline)
            .with_change_timeout(deadline)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(thread) = self.thread.take() {
            self.stop.store(true, Ordering::SeqCst);
            // Wake the accept loop so that it sees the flag.
            let _ = UnixStream::connect(&self.socket);
            let _ = thread.join();
        }
    }
}

/// One client call, by number; what it gave, as `Ok(())` or its error.
fn call(client: &Client, which: u8) -> Result<(), PebbleError> {
    match which % 7 {
        0 => client.system_info().map(drop),
        1 => client.get_plan().map(drop),
        2 => client.get_services(&["svc"]).map(drop),
        3 => client.pull("/etc/app.conf").map(drop),
        4 => client.list_files("/etc", None, false).map(drop),
        5 => client.get_change("1").map(drop),
        _ => client.start_services(&["svc"]).map(drop),
    }
}

/// Whether `err` is the request's deadline passing.
fn is_deadline(err: &PebbleError) -> bool {
    match err {
        PebbleError::Io { source, .. } | PebbleError::Connection { source, .. } => {
            source.kind() == ErrorKind::TimedOut
        }
        PebbleError::Timeout { .. } => true,
        _ => false,
    }
}

fn response(status: &str, headers: &[String], body: &[u8]) -> Vec<u8> {
    let mut raw = format!("HTTP/1.1 {status}\r\n").into_bytes();
    for h in headers {
        raw.extend_from_slice(h.as_bytes());
        raw.extend_from_slice(b"\r\n");
    }
    raw.extend_from_slice(b"\r\n");
    raw.extend_from_slice(body);
    raw
}

/// Responses as Pebble sends them, or nearly.
fn plausible() -> impl Strategy<Value = Vec<u8>> {
    let body = prop_oneof![
        Just(br#"{"type":"sync","status-code":200,"status":"OK","result":{"version":"1.0"}}"#.to_vec()),
        Just(br#"{"type":"sync","status-code":200,"status":"OK","result":"services: {}\n"}"#.to_vec()),
        Just(br#"{"type":"sync","status-code":200,"status":"OK","result":[]}"#.to_vec()),
        Just(br#"{"type":"async","status-code":202,"status":"Accepted","change":"1","result":null}"#.to_vec()),
        Just(br#"{"type":"error","status-code":404,"status":"Not Found","result":{"message":"no","kind":"not-found"}}"#.to_vec()),
        proptest::collection::vec(any::<u8>(), 0..64),
    ];
    (body, any::<bool>(), proptest::option::of(0u64..200)).prop_map(|(body, chunked, length)| {
        let mut headers = vec!["Content-Type: application/json".to_string()];
        let payload = if chunked {
            headers.push("Transfer-Encoding: chunked".to_string());
            let mut c = format!("{:x}\r\n", body.len()).into_bytes();
            c.extend_from_slice(&body);
            c.extend_from_slice(b"\r\n0\r\n\r\n");
            c
        } else {
            headers.push(format!(
                "Content-Length: {}",
                length.unwrap_or(body.len() as u64)
            ));
            body
        };
        response("200 OK", &headers, &payload)
    })
}

fn behaviour() -> impl Strategy<Value = Behaviour> {
    let bytes = prop_oneof![
        plausible(),
        proptest::collection::vec(any::<u8>(), 0..128),
        Just(response(
            "200 OK",
            &[format!("Content-Length: {}", 1u64 << 40)],
            b"{}"
        )),
    ];
    (bytes, 0usize..400, any::<bool>()).prop_map(|(bytes, cut, stall)| {
        let mut bytes = bytes;
        bytes.truncate(cut);
        if stall {
            Behaviour::SendAndStall(bytes)
        } else {
            Behaviour::SendAndClose(bytes)
        }
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    /// Whatever the fake Pebble sends (or does not), every call returns,
    /// and a call that got only part of a response back from a Pebble
    /// that went quiet fails with the deadline, not any other way.
    #[test]
    fn prop_pebble_client_calls_return_by_their_deadline(
        behaviour in behaviour(),
        which in any::<u8>(),
    ) {
        let server = Server::start(behaviour.clone());
        let deadline = match behaviour {
            Behaviour::SendAndClose(_) => GENEROUS,
            _ => DEADLINE,
        };
        let result = call(&server.client_with(deadline), which);
        if let (Behaviour::SendAndStall(_), Err(err @ PebbleError::Io { .. })) = (&behaviour, &result) {
            // A Pebble that stalls without hanging up fails a read only by
            // the deadline (a malformed or complete response ends before).
            prop_assert!(is_deadline(err), "{:?}", err);
        }
        if let (Behaviour::SendAndClose(_), Err(err)) = (&behaviour, &result) {
            prop_assert!(!is_deadline(err), "a Pebble that hung up is not a timeout: {:?}", err);
        }
        drop(server);
    }
}

#[test]
fn a_listener_that_never_accepts_fails_calls_by_their_deadline() {
    let (server, listener) = Server::silent();
    for which in 0..7 {
        let err = call(&server.client(), which).unwrap_err();
        assert!(is_deadline(&err), "call {which}: {err:?}");
    }
    drop(listener);
}

#[test]
fn a_pebble_that_answers_nothing_fails_calls_by_their_deadline() {
    let server = Server::start(Behaviour::SendAndStall(Vec::new()));
    for which in 0..7 {
        let err = call(&server.client(), which).unwrap_err();
        assert!(is_deadline(&err), "call {which}: {err:?}");
    }
}

#[test]
fn a_body_without_end_is_refused_at_the_cap() {
    let server = Server::start(Behaviour::Endless);
    // A long deadline: the cap, not the deadline, must end this call.
    let client = Client::new(&server.socket).with_timeout(Duration::from_secs(120));
    match client.system_info() {
        Err(PebbleError::Malformed { what }) => assert!(what.contains("over"), "{what}"),
        other => panic!("expected the body cap, got {other:?}"),
    }
}

#[test]
fn a_missing_socket_is_told_apart() {
    let dir = tempfile::tempdir().unwrap();
    let socket: &Path = &dir.path().join("pebble.socket");
    let err = Client::new(socket)
        .with_timeout(DEADLINE)
        .system_info()
        .unwrap_err();
    assert!(matches!(err, PebbleError::SocketMissing { .. }), "{err:?}");
}
