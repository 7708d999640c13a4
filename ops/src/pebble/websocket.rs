//! WebSocket (RFC 6455), the small part Pebble's exec uses: the opening
//! handshake's key and accept values, frames, and messages assembled from
//! fragments, with pings and closes in between.
//!
//! Both ends are here: [`Client::exec`](super::Client::exec) masks what it
//! sends and refuses masked frames; a server (such as ops-testing's fake
//! Pebble) does the opposite. Every message is capped
//! ([`Receiver::new`]), checked before anything is allocated, so a peer
//! cannot make either end hold more than the cap.
//!
//! Not part of ops' API (hidden from its documentation, no semver
//! promise): it is public only so that ops-testing's fake Pebble serves
//! the other end with this same code, and its tests against an
//! independent implementation (tungstenite) cover both ends.
//!
//! ```
//! use ops::pebble::websocket::{Message, Receiver, Role, Sender};
//!
//! let mut wire = Vec::new();
//! let mut client = Sender::new(&mut wire, Role::Client);
//! client.send(&Message::Binary(b"stdin bytes".to_vec())).unwrap();
//! client.send(&Message::Text(r#"{"command":"end"}"#.into())).unwrap();
//!
//! let mut server = Receiver::new(&wire[..], Role::Server, 1 << 20);
//! assert_eq!(server.recv().unwrap(), Message::Binary(b"stdin bytes".to_vec()));
//! assert_eq!(server.recv().unwrap(), Message::Text(r#"{"command":"end"}"#.into()));
//! ```

use std::io::{self, Read, Write};

/// The GUID RFC 6455 appends to the client's key (section 1.3).
const ACCEPT_GUID: &str = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

/// The largest payload of a control frame (ping, pong, close).
const MAX_CONTROL: u64 = 125;

/// Which end of the connection this is: clients mask every frame they send
/// and must get unmasked frames; servers the other way round.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// The end that opened the connection (masks its frames).
    Client,
    /// The end that accepted it (never masks).
    Server,
}

/// A frame's opcode (RFC 6455 section 5.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Opcode {
    /// `0x0`: the next fragment of a text or binary message.
    Continuation,
    /// `0x1`: UTF-8 text.
    Text,
    /// `0x2`: bytes.
    Binary,
    /// `0x8`: the end of the connection.
    Close,
    /// `0x9`: a ping, answered by a pong with the same payload.
    Ping,
    /// `0xA`: a pong.
    Pong,
}

impl Opcode {
    fn from_bits(bits: u8) -> Option<Self> {
        Some(match bits {
            0x0 => Self::Continuation,
            0x1 => Self::Text,
            0x2 => Self::Binary,
            0x8 => Self::Close,
            0x9 => Self::Ping,
            0xA => Self::Pong,
            _ => return None,
        })
    }

    fn bits(self) -> u8 {
        match self {
            Self::Continuation => 0x0,
            Self::Text => 0x1,
            Self::Binary => 0x2,
            Self::Close => 0x8,
            Self::Ping => 0x9,
            Self::Pong => 0xA,
        }
    }

    fn is_control(self) -> bool {
        matches!(self, Self::Close | Self::Ping | Self::Pong)
    }
}

/// A whole message: data (assembled from its fragments) or a control frame.
#[derive(Clone, PartialEq, Eq)]
pub enum Message {
    /// A text message.
    Text(String),
    /// A binary message.
    Binary(Vec<u8>),
    /// A ping's payload.
    Ping(Vec<u8>),
    /// A pong's payload.
    Pong(Vec<u8>),
    /// A close: the status code (none if the frame had no payload) and reason.
    Close(Option<u16>, String),
}

/// Shows the kind and length of a message, not its content (which may be a
/// command's input or output).
impl std::fmt::Debug for Message {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Text(t) => write!(f, "Text({} bytes)", t.len()),
            Self::Binary(b) => write!(f, "Binary({} bytes)", b.len()),
            Self::Ping(b) => write!(f, "Ping({} bytes)", b.len()),
            Self::Pong(b) => write!(f, "Pong({} bytes)", b.len()),
            Self::Close(code, reason) => write!(f, "Close({code:?}, {} bytes)", reason.len()),
        }
    }
}

/// Why reading or writing WebSocket frames failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum WebSocketError {
    /// The stream failed (including a deadline passing).
    #[error("WebSocket I/O error: {0}")]
    Io(#[from] io::Error),
    /// The peer broke RFC 6455.
    #[error("WebSocket protocol error: {0}")]
    Protocol(String),
    /// A message is larger than this end accepts.
    #[error("WebSocket message over {limit} bytes")]
    TooLarge {
        /// The cap, in bytes.
        limit: u64,
    },
}

fn protocol(what: impl Into<String>) -> WebSocketError {
    WebSocketError::Protocol(what.into())
}

/// One frame as read from the wire, unmasked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    /// Whether this is the last fragment of its message.
    pub fin: bool,
    /// What the frame carries.
    pub opcode: Opcode,
    /// The payload, unmasked.
    pub payload: Vec<u8>,
}

/// Reads one frame. `role` is the reader's: a server requires masked
/// frames, a client unmasked ones. A payload longer than `max_payload` is
/// refused before it is read.
pub fn read_frame(
    reader: &mut impl Read,
    role: Role,
    max_payload: u64,
) -> Result<Frame, WebSocketError> {
    let mut head = [0u8; 2];
    reader.read_exact(&mut head)?;
    let fin = head[0] & 0x80 != 0;
    if head[0] & 0x70 != 0 {
        return Err(protocol("reserved bits set without a negotiated extension"));
    }
    let opcode = Opcode::from_bits(head[0] & 0x0F)
        .ok_or_else(|| protocol(format!("unknown opcode {:#x}", head[0] & 0x0F)))?;
    let masked = head[1] & 0x80 != 0;
    match (role, masked) {
        (Role::Server, false) => return Err(protocol("a client frame is not masked")),
        (Role::Client, true) => return Err(protocol("a server frame is masked")),
        _ => {}
    }
    let length = match head[1] & 0x7F {
        126 => {
            let mut bytes = [0u8; 2];
            reader.read_exact(&mut bytes)?;
            u64::from(u16::from_be_bytes(bytes))
        }
        127 => {
            let mut bytes = [0u8; 8];
            reader.read_exact(&mut bytes)?;
            let length = u64::from_be_bytes(bytes);
            if length >> 63 != 0 {
                return Err(protocol("a 64-bit length with its high bit set"));
            }
            length
        }
        short => u64::from(short),
    };
    if opcode.is_control() {
        if !fin {
            return Err(protocol("a fragmented control frame"));
        }
        if length > MAX_CONTROL {
            return Err(protocol(format!(
                "a control frame of {length} bytes (at most {MAX_CONTROL})"
            )));
        }
    }
    if length > max_payload {
        return Err(WebSocketError::TooLarge { limit: max_payload });
    }
    let mut mask = [0u8; 4];
    if masked {
        reader.read_exact(&mut mask)?;
    }
    let mut payload = Vec::new();
    reader.take(length).read_to_end(&mut payload)?;
    if (payload.len() as u64) < length {
        return Err(WebSocketError::Io(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            format!(
                "the connection closed after {} of a frame's {length} bytes",
                payload.len()
            ),
        )));
    }
    if masked {
        apply_mask(&mut payload, mask);
    }
    Ok(Frame {
        fin,
        opcode,
        payload,
    })
}

/// Writes one frame, masked with `mask` if given (a client's frames must be).
pub fn write_frame(
    writer: &mut impl Write,
    fin: bool,
    opcode: Opcode,
    payload: &[u8],
    mask: Option<[u8; 4]>,
) -> io::Result<()> {
    let mut frame = Vec::with_capacity(payload.len() + 14);
    frame.push(if fin { 0x80 } else { 0 } | opcode.bits());
    let mask_bit = if mask.is_some() { 0x80 } else { 0 };
    match payload.len() {
        n if n < 126 => frame.push(mask_bit | n as u8),
        n if n <= usize::from(u16::MAX) => {
            frame.push(mask_bit | 126);
            frame.extend_from_slice(&(n as u16).to_be_bytes());
        }
        n => {
            frame.push(mask_bit | 127);
            frame.extend_from_slice(&(n as u64).to_be_bytes());
        }
    }
    let start = frame.len();
    if let Some(mask) = mask {
        frame.extend_from_slice(&mask);
    }
    frame.extend_from_slice(payload);
    if let Some(mask) = mask {
        apply_mask(&mut frame[start + 4..], mask);
    }
    writer.write_all(&frame)?;
    writer.flush()
}

fn apply_mask(bytes: &mut [u8], mask: [u8; 4]) {
    for (i, byte) in bytes.iter_mut().enumerate() {
        *byte ^= mask[i % 4];
    }
}

/// Reads whole messages from one end of a connection.
pub struct Receiver<R> {
    reader: R,
    role: Role,
    max_message: u64,
    /// The data message being assembled from fragments.
    partial: Option<(Opcode, Vec<u8>)>,
}

impl<R: Read> Receiver<R> {
    /// Reads from `reader` as `role`, refusing any message (all its
    /// fragments together) over `max_message` bytes.
    pub fn new(reader: R, role: Role, max_message: u64) -> Self {
        Self {
            reader,
            role,
            max_message,
            partial: None,
        }
    }

    /// The next message. Control frames arriving between the fragments of a
    /// data message are returned as they come; the data message follows
    /// once its last fragment is in. Pings are returned, not answered: the
    /// caller answers them on its [`Sender`].
    pub fn recv(&mut self) -> Result<Message, WebSocketError> {
        loop {
            let assembled = self.partial.as_ref().map_or(0, |(_, p)| p.len() as u64);
            let room = self.max_message.saturating_sub(assembled);
            let frame = match read_frame(&mut self.reader, self.role, room.max(MAX_CONTROL)) {
                Err(WebSocketError::TooLarge { .. }) => {
                    return Err(WebSocketError::TooLarge {
                        limit: self.max_message,
                    });
                }
                other => other?,
            };
            match frame.opcode {
                Opcode::Ping => return Ok(Message::Ping(frame.payload)),
                Opcode::Pong => return Ok(Message::Pong(frame.payload)),
                Opcode::Close => return close_message(frame.payload),
                Opcode::Text | Opcode::Binary => {
                    if self.partial.is_some() {
                        return Err(protocol("a new message began inside a fragmented one"));
                    }
                    if !frame.is_data_within(self.max_message) {
                        return Err(WebSocketError::TooLarge {
                            limit: self.max_message,
                        });
                    }
                    if frame.fin {
                        return data_message(frame.opcode, frame.payload);
                    }
                    self.partial = Some((frame.opcode, frame.payload));
                }
                Opcode::Continuation => {
                    let Some((opcode, mut payload)) = self.partial.take() else {
                        return Err(protocol(
                            "a continuation frame without a message to continue",
                        ));
                    };
                    if payload.len() as u64 + frame.payload.len() as u64 > self.max_message {
                        return Err(WebSocketError::TooLarge {
                            limit: self.max_message,
                        });
                    }
                    payload.extend_from_slice(&frame.payload);
                    if frame.fin {
                        return data_message(opcode, payload);
                    }
                    self.partial = Some((opcode, payload));
                }
            }
        }
    }

    /// The reader, for example to close the stream.
    pub fn get_ref(&self) -> &R {
        &self.reader
    }
}

impl Frame {
    fn is_data_within(&self, limit: u64) -> bool {
        self.payload.len() as u64 <= limit
    }
}

fn data_message(opcode: Opcode, payload: Vec<u8>) -> Result<Message, WebSocketError> {
    if opcode == Opcode::Text {
        String::from_utf8(payload)
            .map(Message::Text)
            .map_err(|_| protocol("a text message is not UTF-8"))
    } else {
        Ok(Message::Binary(payload))
    }
}

fn close_message(payload: Vec<u8>) -> Result<Message, WebSocketError> {
    match payload.len() {
        0 => Ok(Message::Close(None, String::new())),
        1 => Err(protocol("a close frame with a one-byte payload")),
        _ => {
            let code = u16::from_be_bytes([payload[0], payload[1]]);
            let reason = String::from_utf8(payload[2..].to_vec())
                .map_err(|_| protocol("a close reason is not UTF-8"))?;
            Ok(Message::Close(Some(code), reason))
        }
    }
}

/// Writes messages on one end of a connection, masking them if it is the
/// client's.
pub struct Sender<W> {
    writer: W,
    role: Role,
}

impl<W: Write> Sender<W> {
    /// Writes to `writer` as `role`.
    pub fn new(writer: W, role: Role) -> Self {
        Self { writer, role }
    }

    /// Sends a message as one frame (control payloads are cut at 125 bytes).
    pub fn send(&mut self, message: &Message) -> io::Result<()> {
        let close_payload;
        let (opcode, payload): (Opcode, &[u8]) = match message {
            Message::Text(text) => (Opcode::Text, text.as_bytes()),
            Message::Binary(bytes) => (Opcode::Binary, bytes),
            Message::Ping(bytes) => (Opcode::Ping, cut(bytes)),
            Message::Pong(bytes) => (Opcode::Pong, cut(bytes)),
            Message::Close(code, reason) => {
                close_payload = match code {
                    Some(code) => [&code.to_be_bytes()[..], reason.as_bytes()].concat(),
                    None => Vec::new(),
                };
                (Opcode::Close, cut(&close_payload))
            }
        };
        self.send_frame(true, opcode, payload)
    }

    /// Sends one frame as it is (for fragments).
    pub fn send_frame(&mut self, fin: bool, opcode: Opcode, payload: &[u8]) -> io::Result<()> {
        let mask = match self.role {
            Role::Client => Some(random_mask()?),
            Role::Server => None,
        };
        write_frame(&mut self.writer, fin, opcode, payload, mask)
    }

    /// The writer.
    pub fn get_mut(&mut self) -> &mut W {
        &mut self.writer
    }
}

fn cut(bytes: &[u8]) -> &[u8] {
    &bytes[..bytes.len().min(MAX_CONTROL as usize)]
}

/// A fresh masking key from the OS's generator: RFC 6455 section 5.3 wants
/// it unpredictable (so that a sender cannot choose the bytes a proxy
/// sees), which a seeded generator is not. A failing generator fails the
/// send rather than masking with something guessable.
fn random_mask() -> io::Result<[u8; 4]> {
    let mut mask = [0u8; 4];
    getrandom::fill(&mut mask)
        .map_err(|e| io::Error::other(format!("no randomness for a WebSocket mask: {e}")))?;
    Ok(mask)
}

/// A fresh `Sec-WebSocket-Key`: 16 random bytes, base64. The key only
/// shows that the server understood the handshake (section 4.1), so it
/// needs to be fresh, not secret: fastrand's generator serves.
pub fn new_key() -> String {
    let mut key = [0u8; 16];
    fastrand::fill(&mut key);
    base64(&key)
}

/// The `Sec-WebSocket-Accept` a server answers to `key`: base64 of the
/// SHA-1 of the key followed by RFC 6455's GUID.
///
/// ```
/// // RFC 6455 section 1.3's example.
/// assert_eq!(
///     ops::pebble::websocket::accept_key("dGhlIHNhbXBsZSBub25jZQ=="),
///     "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
/// );
/// ```
pub fn accept_key(key: &str) -> String {
    let mut input = key.trim().as_bytes().to_vec();
    input.extend_from_slice(ACCEPT_GUID.as_bytes());
    base64(&sha1(&input))
}

/// SHA-1 (FIPS 180-4), for the handshake only: it is not used for anything
/// that needs a secure hash.
fn sha1(data: &[u8]) -> [u8; 20] {
    let mut h: [u32; 5] = [
        0x6745_2301,
        0xEFCD_AB89,
        0x98BA_DCFE,
        0x1032_5476,
        0xC3D2_E1F0,
    ];
    let mut message = data.to_vec();
    message.push(0x80);
    while message.len() % 64 != 56 {
        message.push(0);
    }
    message.extend_from_slice(&((data.len() as u64).wrapping_mul(8)).to_be_bytes());
    for block in message.chunks_exact(64) {
        let mut w = [0u32; 80];
        for (i, word) in block.chunks_exact(4).enumerate() {
            w[i] = u32::from_be_bytes([word[0], word[1], word[2], word[3]]);
        }
        for i in 16..80 {
            w[i] = (w[i - 3] ^ w[i - 8] ^ w[i - 14] ^ w[i - 16]).rotate_left(1);
        }
        let [mut a, mut b, mut c, mut d, mut e] = h;
        for (i, word) in w.iter().enumerate() {
            let (f, k) = match i {
                0..=19 => ((b & c) | (!b & d), 0x5A82_7999),
                20..=39 => (b ^ c ^ d, 0x6ED9_EBA1),
                40..=59 => ((b & c) | (b & d) | (c & d), 0x8F1B_BCDC),
                _ => (b ^ c ^ d, 0xCA62_C1D6),
            };
            let temp = a
                .rotate_left(5)
                .wrapping_add(f)
                .wrapping_add(e)
                .wrapping_add(k)
                .wrapping_add(*word);
            e = d;
            d = c;
            c = b.rotate_left(30);
            b = a;
            a = temp;
        }
        for (state, value) in h.iter_mut().zip([a, b, c, d, e]) {
            *state = state.wrapping_add(value);
        }
    }
    let mut digest = [0u8; 20];
    for (i, word) in h.iter().enumerate() {
        digest[i * 4..i * 4 + 4].copy_from_slice(&word.to_be_bytes());
    }
    digest
}

/// Base64 with the standard alphabet and padding (RFC 4648 section 4).
/// The one encoder of the workspace: ops-testing's formats use it too.
pub fn base64(data: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(data.len().div_ceil(3) * 4);
    for chunk in data.chunks(3) {
        let bytes = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let group = u32::from(bytes[0]) << 16 | u32::from(bytes[1]) << 8 | u32::from(bytes[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[(group >> (18 - 6 * i) & 0x3F) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(bytes: &[u8]) -> String {
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }

    #[test]
    fn sha1_matches_fips_vectors() {
        assert_eq!(hex(&sha1(b"")), "da39a3ee5e6b4b0d3255bfef95601890afd80709");
        assert_eq!(
            hex(&sha1(b"abc")),
            "a9993e364706816aba3e25717850c26c9cd0d89d"
        );
        assert_eq!(
            hex(&sha1(
                b"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"
            )),
            "84983e441c3bd26ebaae4aa1f95129e5e54670f1"
        );
        let million = vec![b'a'; 1_000_000];
        assert_eq!(
            hex(&sha1(&million)),
            "34aa973cd4c4daa4f61eeb2bdbad27316534016f"
        );
    }

    #[test]
    fn base64_matches_rfc_4648_vectors() {
        for (input, output) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ] {
            assert_eq!(base64(input.as_bytes()), output, "{input:?}");
        }
        assert_eq!(base64(&[0xfb, 0xff]), "+/8=");
    }

    #[test]
    fn accept_key_matches_rfc_6455() {
        assert_eq!(
            accept_key("dGhlIHNhbXBsZSBub25jZQ=="),
            "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
        );
        let key = new_key();
        assert_eq!(key.len(), 24);
        assert_ne!(key, new_key());
    }

    /// The frames of RFC 6455 section 5.7, byte for byte.
    #[test]
    fn frames_match_rfc_6455_examples() {
        let mut wire = Vec::new();
        write_frame(&mut wire, true, Opcode::Text, b"Hello", None).unwrap();
        assert_eq!(wire, [0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f]);
        let mut wire = Vec::new();
        write_frame(
            &mut wire,
            true,
            Opcode::Text,
            b"Hello",
            Some([0x37, 0xfa, 0x21, 0x3d]),
        )
        .unwrap();
        let masked = [
            0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58,
        ];
        assert_eq!(wire, masked);
        let frame = read_frame(&mut &masked[..], Role::Server, 1024).unwrap();
        assert_eq!(frame.payload, b"Hello");
        // A fragmented unmasked text message, "Hel" then "lo".
        let fragments = [0x01, 0x03, 0x48, 0x65, 0x6c, 0x80, 0x02, 0x6c, 0x6f];
        let mut receiver = Receiver::new(&fragments[..], Role::Client, 1024);
        assert_eq!(receiver.recv().unwrap(), Message::Text("Hello".into()));
        // An unmasked ping with "Hello".
        let ping = [0x89, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f];
        let mut receiver = Receiver::new(&ping[..], Role::Client, 1024);
        assert_eq!(receiver.recv().unwrap(), Message::Ping(b"Hello".to_vec()));
        // 256 bytes and 64 KiB: 16- and 64-bit lengths.
        let mut wire = Vec::new();
        write_frame(&mut wire, true, Opcode::Binary, &[0; 256], None).unwrap();
        assert_eq!(wire[..4], [0x82, 0x7E, 0x01, 0x00]);
        let mut wire = Vec::new();
        write_frame(&mut wire, true, Opcode::Binary, &[0; 65536], None).unwrap();
        assert_eq!(
            wire[..10],
            [0x82, 0x7F, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00]
        );
    }

    #[test]
    fn a_ping_between_fragments_comes_first() {
        let mut wire = Vec::new();
        let mut sender = Sender::new(&mut wire, Role::Client);
        sender.send_frame(false, Opcode::Binary, b"ab").unwrap();
        sender.send(&Message::Ping(b"p".to_vec())).unwrap();
        sender
            .send_frame(false, Opcode::Continuation, b"cd")
            .unwrap();
        sender.send_frame(true, Opcode::Continuation, b"e").unwrap();
        sender
            .send(&Message::Close(Some(1000), "bye".into()))
            .unwrap();
        let mut receiver = Receiver::new(&wire[..], Role::Server, 1024);
        assert_eq!(receiver.recv().unwrap(), Message::Ping(b"p".to_vec()));
        assert_eq!(receiver.recv().unwrap(), Message::Binary(b"abcde".to_vec()));
        assert_eq!(
            receiver.recv().unwrap(),
            Message::Close(Some(1000), "bye".into())
        );
    }

    #[test]
    fn masking_is_enforced_by_role() {
        let mut unmasked = Vec::new();
        Sender::new(&mut unmasked, Role::Server)
            .send(&Message::Binary(b"x".to_vec()))
            .unwrap();
        let err = Receiver::new(&unmasked[..], Role::Server, 1024)
            .recv()
            .unwrap_err();
        assert!(err.to_string().contains("not masked"), "{err}");
        let mut masked = Vec::new();
        Sender::new(&mut masked, Role::Client)
            .send(&Message::Binary(b"x".to_vec()))
            .unwrap();
        let err = Receiver::new(&masked[..], Role::Client, 1024)
            .recv()
            .unwrap_err();
        assert!(err.to_string().contains("is masked"), "{err}");
    }

    #[test]
    fn oversize_messages_are_refused_before_reading() {
        // A header claiming 1 GiB followed by nothing: refused by its length.
        let mut wire = vec![0x82, 0x7F];
        wire.extend_from_slice(&(1u64 << 30).to_be_bytes());
        let err = Receiver::new(&wire[..], Role::Client, 1 << 20)
            .recv()
            .unwrap_err();
        assert!(matches!(err, WebSocketError::TooLarge { limit } if limit == 1 << 20));
        // Fragments that are small one by one but over the cap together.
        let mut wire = Vec::new();
        let mut sender = Sender::new(&mut wire, Role::Server);
        sender.send_frame(false, Opcode::Binary, &[1; 600]).unwrap();
        sender
            .send_frame(true, Opcode::Continuation, &[2; 600])
            .unwrap();
        let err = Receiver::new(&wire[..], Role::Client, 1000)
            .recv()
            .unwrap_err();
        assert!(matches!(err, WebSocketError::TooLarge { .. }), "{err}");
        // A last fragment that a control frame's size would let through.
        let mut wire = Vec::new();
        let mut sender = Sender::new(&mut wire, Role::Server);
        sender.send_frame(false, Opcode::Binary, &[1; 950]).unwrap();
        sender
            .send_frame(true, Opcode::Continuation, &[2; 100])
            .unwrap();
        let err = Receiver::new(&wire[..], Role::Client, 1000)
            .recv()
            .unwrap_err();
        assert!(matches!(err, WebSocketError::TooLarge { .. }), "{err}");
    }

    #[test]
    fn protocol_violations_are_errors() {
        for (bytes, what) in [
            (&[0x83, 0x00][..], "unknown opcode"),
            (&[0xC2, 0x00][..], "reserved bits"),
            (&[0x09, 0x00][..], "fragmented control"),
            (&[0x80, 0x00][..], "continuation frame without"),
            (&[0x88, 0x01, 0x03][..], "one-byte"),
            (&[0x81, 0x01, 0xff][..], "not UTF-8"),
            (&[0x01, 0x01, 0x61, 0x82, 0x00][..], "new message began"),
        ] {
            let err = Receiver::new(bytes, Role::Client, 1024).recv().unwrap_err();
            assert!(err.to_string().contains(what), "{what}: {err}");
        }
        let mut long_ping = vec![0x89, 126, 0, 126];
        long_ping.extend_from_slice(&[0; 126]);
        let err = Receiver::new(&long_ping[..], Role::Client, 1024)
            .recv()
            .unwrap_err();
        assert!(err.to_string().contains("control frame of 126"), "{err}");
    }

    #[test]
    fn message_debug_hides_content() {
        let debug = format!("{:?}", Message::Text("hunter2".into()));
        assert!(!debug.contains("hunter2"), "{debug}");
    }
}

#[cfg(test)]
mod prop_tests {
    //! Frames written are the frames read; garbage never panics.

    use super::*;
    use proptest::prelude::*;

    #[derive(Debug, Clone)]
    enum Item {
        /// A data message sent in fragments of these sizes.
        Data {
            text: bool,
            payload: Vec<u8>,
            cuts: Vec<usize>,
        },
        Ping(Vec<u8>),
        Pong(Vec<u8>),
    }

    fn item() -> impl Strategy<Value = Item> {
        prop_oneof![
            (
                any::<bool>(),
                proptest::collection::vec(any::<u8>(), 0..70_000),
                proptest::collection::vec(0usize..70_000, 0..4)
            )
                .prop_map(|(text, payload, cuts)| {
                    let payload = if text {
                        String::from_utf8_lossy(&payload).into_owned().into_bytes()
                    } else {
                        payload
                    };
                    Item::Data {
                        text,
                        payload,
                        cuts,
                    }
                }),
            proptest::collection::vec(any::<u8>(), 0..126).prop_map(Item::Ping),
            proptest::collection::vec(any::<u8>(), 0..126).prop_map(Item::Pong),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(128))]

        /// Random messages, fragmented at random points, with control frames
        /// between them, written by one role, read back by the other.
        #[test]
        fn prop_websocket_frames_round_trip(
            items in proptest::collection::vec(item(), 0..8),
            client_writes in any::<bool>(),
        ) {
            let (writer_role, reader_role) = if client_writes {
                (Role::Client, Role::Server)
            } else {
                (Role::Server, Role::Client)
            };
            let mut wire = Vec::new();
            let mut expected = Vec::new();
            let mut sender = Sender::new(&mut wire, writer_role);
            for item in &items {
                match item {
                    Item::Data { text, payload, cuts } => {
                        let mut points: Vec<usize> =
                            cuts.iter().map(|c| c % (payload.len() + 1)).collect();
                        points.sort_unstable();
                        points.push(payload.len());
                        let mut start = 0;
                        let mut first = true;
                        for (i, end) in points.iter().enumerate() {
                            let fin = i == points.len() - 1;
                            let opcode = match (first, text) {
                                (false, _) => Opcode::Continuation,
                                (true, true) => Opcode::Text,
                                (true, false) => Opcode::Binary,
                            };
                            sender.send_frame(fin, opcode, &payload[start..*end]).unwrap();
                            start = *end;
                            first = false;
                        }
                        expected.push(if *text {
                            Message::Text(String::from_utf8(payload.clone()).unwrap())
                        } else {
                            Message::Binary(payload.clone())
                        });
                    }
                    Item::Ping(p) => {
                        sender.send(&Message::Ping(p.clone())).unwrap();
                        expected.push(Message::Ping(p.clone()));
                    }
                    Item::Pong(p) => {
                        sender.send(&Message::Pong(p.clone())).unwrap();
                        expected.push(Message::Pong(p.clone()));
                    }
                }
            }
            let mut receiver = Receiver::new(&wire[..], reader_role, 1 << 20);
            for message in expected {
                prop_assert_eq!(receiver.recv().unwrap(), message);
            }
            // And then the end of the stream, not another message.
            prop_assert!(matches!(receiver.recv(), Err(WebSocketError::Io(_))));
        }

        /// Any bytes are messages or errors, never a panic, and no message is
        /// over the cap.
        #[test]
        fn prop_websocket_garbage_never_panics(
            bytes in proptest::collection::vec(any::<u8>(), 0..512),
            server in any::<bool>(),
        ) {
            let role = if server { Role::Server } else { Role::Client };
            let mut receiver = Receiver::new(&bytes[..], role, 64);
            for _ in 0..64 {
                match receiver.recv() {
                    Ok(Message::Binary(b)) => prop_assert!(b.len() <= 64),
                    Ok(Message::Text(t)) => prop_assert!(t.len() <= 64),
                    Ok(_) => {}
                    Err(_) => break,
                }
            }
        }
    }
}
