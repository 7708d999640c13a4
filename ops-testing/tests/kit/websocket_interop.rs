//! The fake Pebble's exec WebSockets against an independent client
//! (tungstenite): its handshake and frames must work with a client that
//! is not ops' (which shares the fake's frame code), as Pebble's do with
//! any client. Everything goes over the fake's unix socket.

use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::Duration;

use ops_testing::fake_pebble::{ExecResult, FakePebble};
use serde_json::Value;
use tungstenite::Message;
use tungstenite::protocol::frame::Frame;
use tungstenite::protocol::frame::coding::{Data, OpCode};

/// One HTTP request on its own connection; the JSON answer.
fn http(socket: &Path, method: &str, target: &str, body: &str) -> Value {
    let mut stream = UnixStream::connect(socket).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    write!(
        stream,
        "{method} {target} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut reader = BufReader::new(stream);
    let mut length = None;
    loop {
        let mut line = String::new();
        reader.read_line(&mut line).unwrap();
        if let Some((name, value)) = line.split_once(':')
            && name.eq_ignore_ascii_case("content-length")
        {
            length = Some(value.trim().parse::<usize>().unwrap());
        }
        if line == "\r\n" {
            break;
        }
    }
    let mut body = vec![0; length.expect("a Content-Length")];
    reader.read_exact(&mut body).unwrap();
    serde_json::from_slice(&body).unwrap()
}

fn connect(socket: &Path, task: &str, id: &str) -> tungstenite::WebSocket<UnixStream> {
    let stream = UnixStream::connect(socket).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    let url = format!("ws://localhost/v1/tasks/{task}/websocket/{id}");
    let (ws, response) = tungstenite::client(url.as_str(), stream).unwrap();
    assert_eq!(response.status(), 101);
    ws
}

/// Output messages up to the `end` command.
fn read_output(ws: &mut tungstenite::WebSocket<UnixStream>) -> (Vec<u8>, Vec<usize>) {
    let (mut out, mut sizes) = (Vec::new(), Vec::new());
    loop {
        match ws.read().unwrap() {
            Message::Binary(bytes) => {
                sizes.push(bytes.len());
                out.extend_from_slice(&bytes);
            }
            Message::Text(text) if text.as_str() == r#"{"command":"end"}"# => {
                return (out, sizes);
            }
            other => panic!("unexpected {other:?}"),
        }
    }
}

#[test]
fn the_fake_pebbles_exec_talks_to_a_tungstenite_client() {
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("pebble.socket");
    let pebble = FakePebble::start(&socket, dir.path().join("root")).unwrap();
    // `cat`, with something on stderr.
    pebble.handle_exec(&["cat"], |args| {
        ExecResult::stdout(args.stdin().to_vec()).with_stderr("warning\n")
    });
    let answer = http(
        &socket,
        "POST",
        "/v1/exec",
        r#"{"command":["cat"],"split-stderr":true}"#,
    );
    let change = answer["change"].as_str().unwrap().to_string();
    let task = answer["result"]["task-id"].as_str().unwrap().to_string();

    let mut control = connect(&socket, &task, "control");
    let mut stdio = connect(&socket, &task, "stdio");
    let mut stderr = connect(&socket, &task, "stderr");
    // Over 64 KiB in one message (the 64-bit length), then a message in
    // fragments, with a ping between them, then the end of input.
    let input: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
    stdio
        .send(Message::binary(input[..200_000].to_vec()))
        .unwrap();
    stdio
        .write(Message::Frame(Frame::message(
            input[200_000..250_000].to_vec(),
            OpCode::Data(Data::Binary),
            false,
        )))
        .unwrap();
    stdio
        .send(Message::Ping(b"still there?".to_vec().into()))
        .unwrap();
    stdio
        .write(Message::Frame(Frame::message(
            input[250_000..].to_vec(),
            OpCode::Data(Data::Continue),
            true,
        )))
        .unwrap();
    stdio.send(Message::text(r#"{"command":"end"}"#)).unwrap();

    // The pong comes first (the handler reads all of stdin before it
    // writes), then the echo in Pebble's 128 KiB messages.
    assert_eq!(
        stdio.read().unwrap(),
        Message::Pong(b"still there?".to_vec().into())
    );
    let (out, sizes) = read_output(&mut stdio);
    assert_eq!(out, input);
    assert_eq!(sizes, [131_072, 131_072, 37_856]);
    assert_eq!(read_output(&mut stderr).0, b"warning\n");
    // The control WebSocket ends with a close, which tungstenite answers.
    match control.read().unwrap() {
        Message::Close(Some(frame)) => assert_eq!(u16::from(frame.code), 1000),
        other => panic!("expected a close, got {other:?}"),
    }
    let _ = control.flush();

    let done = http(
        &socket,
        "GET",
        &format!("/v1/changes/{change}/wait?timeout=10s"),
        "",
    );
    assert_eq!(done["result"]["status"], "Done", "{done}");
    assert_eq!(done["result"]["tasks"][0]["data"]["exit-code"], 0);
    assert_eq!(pebble.execs()[0].stdin(), input);
}
