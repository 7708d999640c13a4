//! The server side of HTTP/1.1 for the fake Pebble: requests (with
//! `Content-Length` or chunked bodies, keep-alive), replies in Pebble's
//! JSON envelope, and multipart/form-data bodies.

use std::io::{self, BufRead, Read, Write};
use std::sync::LazyLock;

use memchr::memmem;
use serde_json::Value;

/// The longest request line or header line accepted.
const MAX_LINE: u64 = 64 * 1024;

/// One request.
#[derive(Debug, Clone)]
pub(crate) struct HttpRequest {
    pub method: String,
    /// The percent-decoded path, without the query.
    pub path: String,
    /// The decoded query pairs, in order.
    pub query: Vec<(String, String)>,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// Whether the client asked to close the connection after this request.
    pub close: bool,
}

impl HttpRequest {
    /// The first header with this name (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The first value of a query parameter, or "" (Go's `Query().Get`).
    pub fn query(&self, key: &str) -> &str {
        self.query
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
            .unwrap_or("")
    }

    /// Every value of a query parameter.
    pub fn query_all(&self, key: &str) -> Vec<&str> {
        self.query
            .iter()
            .filter(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
            .collect()
    }

    /// Every value of a query parameter, each split at commas, trimmed,
    /// empty ones dropped (Pebble's `strutil.MultiCommaSeparatedList`).
    pub fn query_list(&self, key: &str) -> Vec<String> {
        self.query_all(key)
            .iter()
            .flat_map(|v| v.split(','))
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .map(str::to_string)
            .collect()
    }

    /// The JSON body, or the 400 reply Pebble gives for one it cannot
    /// decode (`cannot decode <what>: ...`).
    pub fn decode_json<T: serde::de::DeserializeOwned>(&self, what: &str) -> Result<T, Reply> {
        serde_json::from_slice(&self.body)
            .map_err(|e| Reply::bad_request(format!("cannot decode {what}: {e}")))
    }
}

/// Reads one request; `Ok(None)` when the client closed the connection
/// cleanly between requests. Answers `Expect: 100-continue` on `writer`.
pub(crate) fn read_request(
    reader: &mut impl BufRead,
    writer: &mut impl Write,
) -> Result<Option<HttpRequest>, String> {
    let line = match read_line(reader)? {
        None => return Ok(None),
        Some(line) => line,
    };
    let mut parts = line.split_whitespace();
    let (Some(method), Some(target), Some(version)) = (parts.next(), parts.next(), parts.next())
    else {
        return Err(format!("bad request line {line:?}"));
    };
    let mut headers = Vec::new();
    loop {
        let line = read_line(reader)?.ok_or("connection closed inside the headers")?;
        if line.is_empty() {
            break;
        }
        let (name, value) = line
            .split_once(':')
            .ok_or_else(|| format!("bad header line {line:?}"))?;
        headers.push((name.trim().to_string(), value.trim().to_string()));
    }
    let header = |name: &str| {
        headers
            .iter()
            .find(|(n, _): &&(String, String)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.to_ascii_lowercase())
    };
    let connection = header("connection").unwrap_or_default();
    let close = if version == "HTTP/1.0" {
        !connection.contains("keep-alive")
    } else {
        connection.contains("close")
    };
    if header("expect").is_some_and(|e| e.contains("100-continue")) {
        writer
            .write_all(b"HTTP/1.1 100 Continue\r\n\r\n")
            .and_then(|()| writer.flush())
            .map_err(|e| e.to_string())?;
    }
    let body = if header("transfer-encoding").is_some_and(|t| t.contains("chunked")) {
        read_chunked(reader)?
    } else if let Some(length) = header("content-length") {
        let length: u64 = length
            .parse()
            .map_err(|_| format!("bad Content-Length {length:?}"))?;
        let mut body = Vec::new();
        reader
            .take(length)
            .read_to_end(&mut body)
            .map_err(|e| e.to_string())?;
        if (body.len() as u64) < length {
            return Err("body shorter than Content-Length".into());
        }
        body
    } else {
        Vec::new()
    };
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    Ok(Some(HttpRequest {
        method: method.to_string(),
        path: percent_decode(path, false),
        query: parse_query(query),
        headers,
        body,
        close,
    }))
}

fn read_chunked(reader: &mut impl BufRead) -> Result<Vec<u8>, String> {
    let mut body = Vec::new();
    loop {
        let line = read_line(reader)?.ok_or("connection closed inside a chunked body")?;
        let size = u64::from_str_radix(line.split(';').next().unwrap_or("").trim(), 16)
            .map_err(|_| format!("bad chunk size {line:?}"))?;
        if size == 0 {
            while !read_line(reader)?
                .ok_or("connection closed inside the trailers")?
                .is_empty()
            {}
            return Ok(body);
        }
        let before = body.len();
        reader
            .take(size)
            .read_to_end(&mut body)
            .map_err(|e| e.to_string())?;
        if ((body.len() - before) as u64) < size {
            return Err("connection closed inside a chunk".into());
        }
        if !read_line(reader)?
            .ok_or("connection closed after a chunk")?
            .is_empty()
        {
            return Err("chunk not followed by CRLF".into());
        }
    }
}

/// A line without its CRLF; `None` at a clean end of stream.
fn read_line(reader: &mut impl BufRead) -> Result<Option<String>, String> {
    let mut buf = Vec::new();
    match reader.take(MAX_LINE).read_until(b'\n', &mut buf) {
        Ok(0) => return Ok(None),
        Ok(_) => {}
        Err(e)
            if matches!(
                e.kind(),
                io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
            ) && buf.is_empty() =>
        {
            return Ok(None);
        }
        Err(e) => return Err(e.to_string()),
    }
    if buf.last() != Some(&b'\n') {
        return Err("line too long or truncated".into());
    }
    buf.pop();
    if buf.last() == Some(&b'\r') {
        buf.pop();
    }
    String::from_utf8(buf)
        .map(Some)
        .map_err(|_| "line is not UTF-8".into())
}

/// `a=1&b=x%2Fy+z` → pairs, decoded as Go's `url.ParseQuery` does.
pub(crate) fn parse_query(query: &str) -> Vec<(String, String)> {
    query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            (percent_decode(k, true), percent_decode(v, true))
        })
        .collect()
}

pub(crate) fn percent_decode(text: &str, plus_is_space: bool) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' if i + 2 < bytes.len() => {
                match (hex_value(bytes[i + 1]), hex_value(bytes[i + 2])) {
                    (Some(high), Some(low)) => {
                        out.push(high * 16 + low);
                        i += 3;
                    }
                    _ => {
                        out.push(b'%');
                        i += 1;
                    }
                }
            }
            b'+' if plus_is_space => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn hex_value(byte: u8) -> Option<u8> {
    (byte as char).to_digit(16).map(|d| d as u8)
}

/// `value` as JSON, written straight into bytes: `Value`'s `Display`
/// (`to_string`) goes through `fmt` a piece at a time and checks that each
/// piece is UTF-8.
fn json(value: &Value) -> Vec<u8> {
    // Serializing a `Value` cannot fail: its map keys are strings.
    serde_json::to_vec(value).unwrap_or_default()
}

/// A reply: status, content type, body.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Reply {
    pub status: u16,
    pub content_type: String,
    pub body: Vec<u8>,
}

impl Reply {
    /// `{"type":"sync","status-code":200,"status":"OK","result":...}`.
    pub fn sync(result: Value) -> Self {
        Self::envelope("sync", 200, None, &json(&result))
    }

    /// `{"type":"async","status-code":202,"status":"Accepted","change":"<id>","result":null}`.
    pub fn async_change(change: &str) -> Self {
        Self::envelope("async", 202, Some(change), b"null")
    }

    /// An async reply that carries a result too (exec's `task-id`).
    pub fn async_result(change: &str, result: Value) -> Self {
        Self::envelope("async", 202, Some(change), &json(&result))
    }

    /// `{"type":"error","status-code":N,"status":...,"result":{"message":...,"kind":...}}`.
    pub fn error(status: u16, message: impl Into<String>, kind: Option<&str>) -> Self {
        let mut result = format!("{{\"message\":{}", Value::String(message.into()));
        if let Some(kind) = kind {
            result.push_str(&format!(",\"kind\":{}", Value::String(kind.into())));
        }
        result.push('}');
        Self::envelope("error", status, None, result.as_bytes())
    }

    /// A sync reply with another status than 200 (`/v1/health` answers
    /// 502 when a check is down, still of type `sync`).
    pub fn sync_status(status: u16, result: Value) -> Self {
        Self::envelope("sync", status, None, &json(&result))
    }

    /// The answer of a route Pebble serves and the fake does not model:
    /// Pebble's error shape, 500 as Pebble's own failures, naming the
    /// route and why, so that a test sees at once what the fake cannot do.
    pub fn not_modelled(request: &HttpRequest, why: &str) -> Self {
        Self::error(
            500,
            format!(
                "{} {} is not modelled by the fake Pebble: {why}",
                request.method, request.path
            ),
            None,
        )
    }

    /// A 400 error without a kind (Pebble's `BadRequest`).
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::error(400, message, None)
    }

    /// Pebble's envelope, fields in Pebble's order.
    fn envelope(kind: &str, status: u16, change: Option<&str>, result: &[u8]) -> Self {
        let mut body = format!(
            "{{\"type\":\"{kind}\",\"status-code\":{status},\"status\":{}",
            Value::String(status_text(status).into())
        )
        .into_bytes();
        if let Some(change) = change {
            body.extend_from_slice(b",\"change\":");
            body.extend_from_slice(&json(&Value::String(change.into())));
        }
        body.extend_from_slice(b",\"result\":");
        body.extend_from_slice(result);
        body.push(b'}');
        Self {
            status,
            content_type: "application/json".into(),
            body,
        }
    }

    /// The envelope JSON of a sync 200 reply with this result (for the
    /// `response` part of a multipart read).
    pub fn sync_json(result: Value) -> Vec<u8> {
        Self::sync(result).body
    }

    /// The bytes on the wire.
    pub fn encode(&self, close: bool) -> Vec<u8> {
        let mut out = format!(
            "HTTP/1.1 {} {}\r\nContent-Type: {}\r\nContent-Length: {}\r\n{}\r\n",
            self.status,
            status_text(self.status),
            self.content_type,
            self.body.len(),
            if close { "Connection: close\r\n" } else { "" }
        )
        .into_bytes();
        out.extend_from_slice(&self.body);
        out
    }
}

/// Go's `http.StatusText` for the codes Pebble uses.
pub(crate) fn status_text(code: u16) -> &'static str {
    match code {
        100 => "Continue",
        200 => "OK",
        202 => "Accepted",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        504 => "Gateway Timeout",
        _ => "",
    }
}

/// A header value's main token (lowercased) and its parameters (keys
/// lowercased, quoted values unescaped), as Go's `mime.ParseMediaType`.
pub(crate) fn media_params(value: &str) -> (String, Vec<(String, String)>) {
    let mut segments = Vec::new();
    let mut current = String::new();
    let mut quoted = false;
    let mut escaped = false;
    for c in value.chars() {
        if escaped {
            current.push(c);
            escaped = false;
            continue;
        }
        match c {
            '\\' if quoted => escaped = true,
            '"' => {
                quoted = !quoted;
                current.push(c);
            }
            ';' if !quoted => segments.push(std::mem::take(&mut current)),
            _ => current.push(c),
        }
    }
    segments.push(current);
    let mut segments = segments.into_iter();
    let main = segments
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    let params = segments
        .filter_map(|segment| {
            let (k, v) = segment.split_once('=')?;
            let v = v.trim();
            let v = v
                .strip_prefix('"')
                .and_then(|v| v.strip_suffix('"'))
                .unwrap_or(v);
            Some((k.trim().to_ascii_lowercase(), v.to_string()))
        })
        .collect();
    (main, params)
}

/// One part of a multipart/form-data body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Part {
    pub name: String,
    pub filename: Option<String>,
    pub body: Vec<u8>,
}

/// Whether `needle` occurs in `haystack`: a boundary must not occur in any
/// part's body.
pub(super) fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && memmem::find(haystack, needle).is_some()
}

/// Where `needle`'s next occurrence in `haystack` starts, at or after
/// `from`. Each searcher is made once per body: making one costs more
/// than a search through a request of a few small files.
fn find_from(needle: &memmem::Finder<'_>, haystack: &[u8], from: usize) -> Option<usize> {
    let found = needle.find(haystack.get(from..)?)?;
    Some(from + found)
}

/// The blank line that ends a part's headers.
static HEADERS_END: LazyLock<memmem::Finder<'static>> =
    LazyLock::new(|| memmem::Finder::new(b"\r\n\r\n"));

/// Splits a multipart body (a preamble before the first boundary is
/// skipped, as Go's `multipart.Reader` does).
pub(crate) fn parse_multipart(body: &[u8], boundary: &str) -> Result<Vec<Part>, String> {
    let opening = format!("--{boundary}");
    let delimiter_text = format!("\r\n--{boundary}");
    let delimiter = memmem::Finder::new(&delimiter_text);
    let mut pos = if body.starts_with(opening.as_bytes()) {
        opening.len()
    } else {
        find_from(&delimiter, body, 0).ok_or("multipart: NextPart: EOF")? + delimiter_text.len()
    };
    let mut parts = Vec::new();
    loop {
        if body[pos..].starts_with(b"--") {
            return Ok(parts);
        }
        while body.get(pos).is_some_and(|b| *b == b' ' || *b == b'\t') {
            pos += 1;
        }
        if !body[pos..].starts_with(b"\r\n") {
            return Err("multipart: boundary not followed by CRLF".into());
        }
        pos += 2;
        let (head, start) = if body[pos..].starts_with(b"\r\n") {
            ("", pos + 2)
        } else {
            let end =
                find_from(&HEADERS_END, body, pos).ok_or("multipart: part headers never end")?;
            let head = std::str::from_utf8(&body[pos..end])
                .map_err(|_| "multipart: headers are not UTF-8")?;
            (head, end + 4)
        };
        let end = find_from(&delimiter, body, start).ok_or("multipart: unexpected EOF")?;
        let mut part = Part {
            name: String::new(),
            filename: None,
            body: body[start..end].to_vec(),
        };
        for line in head.split("\r\n").filter(|l| !l.is_empty()) {
            let (key, value) = line
                .split_once(':')
                .ok_or_else(|| format!("multipart: bad header {line:?}"))?;
            if key.trim().eq_ignore_ascii_case("content-disposition") {
                let (_, params) = media_params(value);
                for (k, v) in params {
                    match k.as_str() {
                        "name" => part.name = v,
                        "filename" => part.filename = Some(v),
                        _ => {}
                    }
                }
            }
        }
        parts.push(part);
        pos = end + delimiter_text.len();
    }
}

/// Writes multipart/form-data parts as Go's `multipart.Writer` does.
pub(crate) struct MultipartWriter {
    pub boundary: String,
    out: Vec<u8>,
    parts: usize,
}

impl MultipartWriter {
    /// A writer whose boundary is `boundary`.
    pub fn new(boundary: String) -> Self {
        Self {
            boundary,
            out: Vec::new(),
            parts: 0,
        }
    }

    /// Adds a part with these headers (already in Go's sorted order).
    pub fn part(&mut self, headers: &[(&str, String)], body: &[u8]) {
        let lead = if self.parts == 0 { "" } else { "\r\n" };
        self.out
            .extend_from_slice(format!("{lead}--{}\r\n", self.boundary).as_bytes());
        for (name, value) in headers {
            self.out
                .extend_from_slice(format!("{name}: {value}\r\n").as_bytes());
        }
        self.out.extend_from_slice(b"\r\n");
        self.out.extend_from_slice(body);
        self.parts += 1;
    }

    /// The body, with the closing boundary.
    pub fn finish(mut self) -> Vec<u8> {
        self.out
            .extend_from_slice(format!("\r\n--{}--\r\n", self.boundary).as_bytes());
        self.out
    }
}

/// A filename for a `Content-Disposition` header, quoted as Go does.
pub(crate) fn quote(text: &str) -> String {
    format!("\"{}\"", text.replace('\\', "\\\\").replace('"', "\\\""))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(raw: &[u8]) -> Result<Option<HttpRequest>, String> {
        let mut sink = Vec::new();
        read_request(&mut &raw[..], &mut sink)
    }

    #[test]
    fn contains_finds_a_boundary_anywhere_in_a_body() {
        let boundary = b"0123abcd";
        assert!(contains(b"0123abcd", boundary));
        assert!(contains(b"xx0123abcdyy", boundary));
        assert!(contains(b"00123abc0123abcd", boundary));
        assert!(!contains(b"0123abc", boundary));
        assert!(!contains(b"0123abce 123abcd", boundary));
        assert!(!contains(b"", boundary));
    }

    #[test]
    fn reads_chunked_and_sized_requests() {
        let r = request(b"POST /v1/files HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n3\r\nabc\r\n2;e=1\r\nde\r\n0\r\n\r\n")
            .unwrap()
            .unwrap();
        assert_eq!(r.body, b"abcde");
        assert!(r.close);
        let r = request(b"GET /v1/files?action=read&path=%2Fa+b&path=/c HTTP/1.1\r\nContent-Length: 2\r\n\r\nhi")
            .unwrap()
            .unwrap();
        assert_eq!(r.path, "/v1/files");
        assert_eq!(r.query_all("path"), vec!["/a b", "/c"]);
        assert_eq!(r.query("action"), "read");
        assert_eq!(r.query("missing"), "");
        assert_eq!(r.body, b"hi");
        assert!(!r.close);
        assert!(request(b"").unwrap().is_none());
        assert!(request(b"GARBAGE\r\n\r\n").is_err());
    }

    #[test]
    fn expect_continue_is_answered() {
        let mut sink = Vec::new();
        let raw = b"POST / HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 1\r\n\r\nx";
        let r = read_request(&mut &raw[..], &mut sink).unwrap().unwrap();
        assert_eq!(r.body, b"x");
        assert_eq!(sink, b"HTTP/1.1 100 Continue\r\n\r\n");
    }

    #[test]
    fn envelopes_match_pebbles() {
        assert_eq!(
            String::from_utf8(Reply::async_change("42").body).unwrap(),
            r#"{"type":"async","status-code":202,"status":"Accepted","change":"42","result":null}"#
        );
        assert_eq!(
            String::from_utf8(Reply::async_result("3", serde_json::json!({"task-id": "7"})).body)
                .unwrap(),
            r#"{"type":"async","status-code":202,"status":"Accepted","change":"3","result":{"task-id":"7"}}"#
        );
        assert_eq!(
            String::from_utf8(Reply::error(404, "x", Some("not-found")).body).unwrap(),
            r#"{"type":"error","status-code":404,"status":"Not Found","result":{"message":"x","kind":"not-found"}}"#
        );
        let wire = String::from_utf8(Reply::sync(Value::Bool(true)).encode(true)).unwrap();
        assert!(wire.starts_with("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"));
        assert!(wire.contains("Connection: close\r\n"));
        assert!(wire.ends_with(
            "\r\n\r\n{\"type\":\"sync\",\"status-code\":200,\"status\":\"OK\",\"result\":true}"
        ));
    }

    #[test]
    fn multipart_round_trip_and_quoted_parameters() {
        let (media, params) = media_params("multipart/form-data; boundary=\"ab;c\"");
        assert_eq!(media, "multipart/form-data");
        assert_eq!(params, vec![("boundary".to_string(), "ab;c".to_string())]);
        let mut w = MultipartWriter::new("B0UNDARY".into());
        w.part(
            &[(
                "Content-Disposition",
                format!("form-data; name=\"files\"; filename={}", quote("/a\"b")),
            )],
            b"x\r\n--B0UNDAR\r\n",
        );
        w.part(
            &[("Content-Disposition", "form-data; name=\"response\"".into())],
            b"{}",
        );
        let body = w.finish();
        let parts = parse_multipart(&body, "B0UNDARY").unwrap();
        assert_eq!(parts[0].filename.as_deref(), Some("/a\"b"));
        assert_eq!(parts[0].body, b"x\r\n--B0UNDAR\r\n");
        assert_eq!(parts[1].name, "response");
        let with_preamble = [b"\r\n".as_slice(), &body].concat();
        assert_eq!(parse_multipart(&with_preamble, "B0UNDARY").unwrap(), parts);
        assert!(parse_multipart(b"no parts", "B0UNDARY").is_err());
    }
}
