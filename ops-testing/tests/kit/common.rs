//! What the test files share: a fake Pebble serving on a real unix socket
//! in a scratch directory and a client of it, raw requests to it, and the
//! metadata of the shell charms the simulator tests run.

use std::io::{Read, Write};
use std::os::unix::fs::MetadataExt;
use std::os::unix::net::UnixStream;

use ops::pebble::{Client, PebbleError};
use ops_testing::fake_pebble::FakePebble;
use serde_json::Value;

/// A served fake Pebble and a client of it.
pub struct PebbleSetup {
    pub pebble: FakePebble,
    pub client: Client,
    /// Holds the socket, the container's `/` (`root`) and whatever else a
    /// test puts there; removed when the set-up is dropped.
    pub dir: tempfile::TempDir,
}

impl PebbleSetup {
    /// The user the fake Pebble runs as: the owner of its files.
    pub fn uid(&self) -> u32 {
        std::fs::metadata(self.dir.path()).unwrap().uid()
    }
}

/// Starts a fake Pebble on the socket Juju gives container `app`, its
/// container's `/` at `root`, and a client made with `Client::new` as a
/// charm makes it.
pub fn setup() -> PebbleSetup {
    let dir = tempfile::tempdir().unwrap();
    let socket = ops::pebble::socket_path(dir.path().join("containers"), "app");
    let pebble = FakePebble::start(&socket, dir.path().join("root")).unwrap();
    let client = Client::new(&socket);
    PebbleSetup {
        pebble,
        client,
        dir,
    }
}

/// One raw request on its own connection: the status, the Content-Type
/// and the body.
pub fn raw(
    pebble: &FakePebble,
    method: &str,
    target: &str,
    body: Option<&str>,
) -> (u16, String, String) {
    let mut stream = UnixStream::connect(pebble.socket_path()).unwrap();
    let body = body.unwrap_or("");
    write!(
        stream,
        "{method} {target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut reply = String::new();
    stream.read_to_string(&mut reply).unwrap();
    let (head, body) = reply.split_once("\r\n\r\n").unwrap();
    let status = head.split(' ').nth(1).unwrap().parse().unwrap();
    let content_type = head
        .lines()
        .find_map(|l| l.strip_prefix("Content-Type: "))
        .unwrap_or("")
        .to_string();
    (status, content_type, body.to_string())
}

/// [`raw`], its body read as JSON.
pub fn raw_json(
    pebble: &FakePebble,
    method: &str,
    target: &str,
    body: Option<&str>,
) -> (u16, Value) {
    let (status, _, body) = raw(pebble, method, target, body);
    (status, serde_json::from_str(&body).unwrap())
}

/// The metadata of the shell charms the simulator tests run (their
/// `dispatch` is a script of each test file's own).
pub const SHELL_META: &str = "\
name: shell
type: charm
peers:
  replicas: {interface: shell_replicas}
requires:
  database: {interface: pgsql}
containers:
  web: {resource: web-image}
resources:
  web-image: {type: oci-image}
";

/// The status, message and kind of the Pebble API error `result` holds;
/// anything else fails the test.
pub fn api_error_kind(
    result: Result<impl std::fmt::Debug, PebbleError>,
) -> (u16, String, Option<String>) {
    match result {
        Err(PebbleError::Api {
            status_code,
            message,
            kind,
            ..
        }) => (status_code, message, kind),
        other => panic!("expected an API error, got {other:?}"),
    }
}

/// [`api_error_kind`] without the kind.
pub fn api_error(result: Result<impl std::fmt::Debug, PebbleError>) -> (u16, String) {
    let (status, message, _) = api_error_kind(result);
    (status, message)
}
