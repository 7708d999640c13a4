//! ops' WebSocket code against an independent implementation
//! (tungstenite), both ways round: a framing bug that our client and our
//! server (the fake Pebble uses the same module) shared would pass every
//! test between the two of them, but not these.
//!
//! The two ends talk over a socket pair: nothing leaves the process.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::thread;
use std::time::Duration;

use ops::pebble::websocket::{Message, Opcode, Receiver, Role, Sender, accept_key, new_key};
use tungstenite::Message as TMessage;
use tungstenite::protocol::frame::coding::{Data, OpCode};
use tungstenite::protocol::frame::{Frame, Utf8Bytes};
use tungstenite::protocol::{CloseFrame, frame::coding::CloseCode};

/// Larger than 64 KiB: its length needs the 64-bit form.
fn big(seed: u8) -> Vec<u8> {
    (0..200_000u32)
        .map(|i| (i as u8).wrapping_mul(31) ^ seed)
        .collect()
}

fn pair() -> (UnixStream, UnixStream) {
    let (a, b) = UnixStream::pair().unwrap();
    for s in [&a, &b] {
        s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    }
    (a, b)
}

/// Our client (handshake key, masking, lengths, fragments, close) against
/// a tungstenite server that echoes data messages back.
#[test]
fn our_client_talks_to_a_tungstenite_server() {
    let (client, server) = pair();
    let echo = thread::spawn(move || {
        let mut ws = tungstenite::accept(server).unwrap();
        let mut seen = Vec::new();
        loop {
            match ws.read().unwrap() {
                TMessage::Close(frame) => {
                    let frame = frame.map(|f| (u16::from(f.code), f.reason.to_string()));
                    seen.push(format!("close {frame:?}"));
                    // tungstenite has queued the answering close; send it.
                    let _ = ws.flush();
                    break;
                }
                TMessage::Ping(p) => seen.push(format!("ping {}", p.len())),
                m @ (TMessage::Text(_) | TMessage::Binary(_)) => {
                    seen.push(format!("data {}", m.len()));
                    ws.send(m).unwrap();
                }
                other => seen.push(format!("other {other:?}")),
            }
        }
        seen
    });

    // The opening handshake as ops' client writes it, and its check of the
    // server's accept value (SHA-1 and base64 of ours against theirs).
    let key = new_key();
    let mut writer = client.try_clone().unwrap();
    write!(
        writer,
        "GET /v1/tasks/1/websocket/stdio HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
    )
    .unwrap();
    let mut reader = BufReader::new(client);
    let mut accept = None;
    loop {
        let mut line = String::new();
        reader.read_line(&mut line).unwrap();
        if let Some((name, value)) = line.split_once(':')
            && name.eq_ignore_ascii_case("sec-websocket-accept")
        {
            accept = Some(value.trim().to_string());
        }
        if line == "\r\n" {
            break;
        }
    }
    assert_eq!(accept.as_deref(), Some(accept_key(&key).as_str()));

    let mut sender = Sender::new(writer, Role::Client);
    let mut receiver = Receiver::new(reader, Role::Client, 1 << 20);
    sender.send(&Message::Text("héllo".into())).unwrap();
    assert_eq!(receiver.recv().unwrap(), Message::Text("héllo".into()));
    sender.send(&Message::Binary(big(1))).unwrap();
    assert_eq!(receiver.recv().unwrap(), Message::Binary(big(1)));
    // 126..=65535 bytes: the 16-bit length.
    sender.send(&Message::Binary(vec![7; 300])).unwrap();
    assert_eq!(receiver.recv().unwrap(), Message::Binary(vec![7; 300]));
    // A fragmented message, with a ping between its fragments.
    sender
        .send_frame(false, Opcode::Binary, &big(2)[..70_000])
        .unwrap();
    sender
        .send(&Message::Ping(b"are you there".to_vec()))
        .unwrap();
    sender
        .send_frame(false, Opcode::Continuation, &big(2)[70_000..100_000])
        .unwrap();
    sender
        .send_frame(true, Opcode::Continuation, &big(2)[100_000..])
        .unwrap();
    // tungstenite answers the ping first, then echoes the whole message.
    assert_eq!(
        receiver.recv().unwrap(),
        Message::Pong(b"are you there".to_vec())
    );
    assert_eq!(receiver.recv().unwrap(), Message::Binary(big(2)));
    // The close handshake: ours, then theirs with the same code.
    sender
        .send(&Message::Close(Some(1000), "done".into()))
        .unwrap();
    assert_eq!(
        receiver.recv().unwrap(),
        Message::Close(Some(1000), "done".into())
    );
    let seen = echo.join().unwrap();
    assert_eq!(
        seen,
        [
            "data 6",
            "data 200000",
            "data 300",
            "ping 13",
            "data 200000",
            "close Some((1000, \"done\"))",
        ]
    );
}

/// Our server side (as the fake Pebble uses it: accept value, unmasked
/// frames, reading masked ones) against a tungstenite client.
#[test]
fn our_server_talks_to_a_tungstenite_client() {
    let (client, server) = pair();
    let ours = thread::spawn(move || {
        // The handshake as the fake Pebble answers it.
        let mut reader = BufReader::new(server.try_clone().unwrap());
        let mut key = String::new();
        loop {
            let mut line = String::new();
            reader.read_line(&mut line).unwrap();
            if let Some((name, value)) = line.split_once(':')
                && name.eq_ignore_ascii_case("sec-websocket-key")
            {
                key = value.trim().to_string();
            }
            if line == "\r\n" {
                break;
            }
        }
        let mut writer = server;
        write!(
            writer,
            "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: {}\r\n\r\n",
            accept_key(&key)
        )
        .unwrap();
        let mut sender = Sender::new(writer, Role::Server);
        let mut receiver = Receiver::new(reader, Role::Server, 1 << 20);
        let mut seen = Vec::new();
        loop {
            let message = receiver.recv().unwrap();
            seen.push(message.clone());
            match message {
                Message::Text(_) | Message::Binary(_) => sender.send(&message).unwrap(),
                Message::Ping(p) => sender.send(&Message::Pong(p)).unwrap(),
                Message::Pong(_) => {}
                Message::Close(code, reason) => {
                    sender.send(&Message::Close(code, reason)).unwrap();
                    break;
                }
            }
        }
        seen
    });

    let (mut ws, response) =
        tungstenite::client("ws://localhost/v1/tasks/1/websocket/stdio", client).unwrap();
    assert_eq!(response.status(), 101);
    ws.send(TMessage::text("héllo")).unwrap();
    assert_eq!(ws.read().unwrap(), TMessage::text("héllo"));
    ws.send(TMessage::binary(big(3))).unwrap();
    assert_eq!(ws.read().unwrap(), TMessage::binary(big(3)));
    // A fragmented text message, written frame by frame (masked by
    // tungstenite as a client's must be).
    let text = "fragmented ".repeat(10_000);
    let (a, b) = text.as_bytes().split_at(60_000);
    ws.write(TMessage::Frame(Frame::message(
        a.to_vec(),
        OpCode::Data(Data::Text),
        false,
    )))
    .unwrap();
    ws.write(TMessage::Frame(Frame::message(
        b.to_vec(),
        OpCode::Data(Data::Continue),
        true,
    )))
    .unwrap();
    ws.flush().unwrap();
    assert_eq!(ws.read().unwrap(), TMessage::text(text.clone()));
    ws.send(TMessage::Ping(b"ping".to_vec().into())).unwrap();
    assert_eq!(ws.read().unwrap(), TMessage::Pong(b"ping".to_vec().into()));
    ws.close(Some(CloseFrame {
        code: CloseCode::Normal,
        reason: Utf8Bytes::from_static("bye"),
    }))
    .unwrap();
    // Our answering close completes the handshake: tungstenite then
    // reports the connection closed.
    loop {
        match ws.read() {
            Ok(TMessage::Close(Some(frame))) => {
                assert_eq!(frame.code, CloseCode::Normal);
                assert_eq!(frame.reason.as_str(), "bye");
            }
            Ok(other) => panic!("after the close: {other:?}"),
            Err(tungstenite::Error::ConnectionClosed) => break,
            Err(e) => panic!("{e}"),
        }
    }
    let seen = ours.join().unwrap();
    assert_eq!(
        seen,
        [
            Message::Text("héllo".into()),
            Message::Binary(big(3)),
            Message::Text(text),
            Message::Ping(b"ping".to_vec()),
            Message::Close(Some(1000), "bye".into()),
        ]
    );
}
