//! Files in the container: what `/v1/files` takes and returns, and the
//! multipart/form-data bodies Pebble uses to move file content.

use std::sync::LazyLock;

use memchr::memmem;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::error::PebbleError;

/// Options for [`Client::push`](super::Client::push).
///
/// Pebble's defaults: mode `0o644`, owned by Pebble's user, parent
/// directories must exist. A group may only be given with a user.
///
/// Built with [`PushOptions::new`] and the `with_*` methods, so that
/// Pebble's next option is not a breaking change:
///
/// ```
/// let options = ops::pebble::PushOptions::new()
///     .with_make_dirs(true)
///     .with_permissions(0o600)
///     .with_user("postgres")
///     .with_group("postgres");
/// assert_eq!(options.permissions, Some(0o600));
/// ```
///
/// ```compile_fail
/// let options = ops::pebble::PushOptions { make_dirs: true, ..Default::default() };
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct PushOptions {
    /// Create missing parent directories (mode `0o755`, same owner).
    pub make_dirs: bool,
    /// The file mode, such as `0o600`.
    pub permissions: Option<u32>,
    /// The owner's user id.
    pub user_id: Option<u32>,
    /// The owner's user name.
    pub user: Option<String>,
    /// The group id.
    pub group_id: Option<u32>,
    /// The group name.
    pub group: Option<String>,
}

impl PushOptions {
    /// Pebble's defaults.
    pub fn new() -> Self {
        Self::default()
    }

    /// Create missing parent directories (or not).
    pub fn with_make_dirs(mut self, make_dirs: bool) -> Self {
        self.make_dirs = make_dirs;
        self
    }

    /// With this file mode, such as `0o600`.
    pub fn with_permissions(mut self, permissions: u32) -> Self {
        self.permissions = Some(permissions);
        self
    }

    /// Owned by this user id.
    pub fn with_user_id(mut self, user_id: u32) -> Self {
        self.user_id = Some(user_id);
        self
    }

    /// Owned by this user name.
    pub fn with_user(mut self, user: impl Into<String>) -> Self {
        self.user = Some(user.into());
        self
    }

    /// In this group id.
    pub fn with_group_id(mut self, group_id: u32) -> Self {
        self.group_id = Some(group_id);
        self
    }

    /// In this group name.
    pub fn with_group(mut self, group: impl Into<String>) -> Self {
        self.group = Some(group.into());
        self
    }
}

/// Options for [`Client::make_dir`](super::Client::make_dir).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct MakeDirOptions {
    /// Create missing parents too (and succeed if the directory exists).
    pub make_parents: bool,
    /// The directory mode (Pebble's default is `0o755`).
    pub permissions: Option<u32>,
    /// The owner's user id.
    pub user_id: Option<u32>,
    /// The owner's user name.
    pub user: Option<String>,
    /// The group id.
    pub group_id: Option<u32>,
    /// The group name.
    pub group: Option<String>,
}

/// What kind of file a [`FileInfo`] describes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum FileType {
    /// A regular file.
    File,
    /// A directory.
    Directory,
    /// A symbolic link.
    Symlink,
    /// A unix socket.
    Socket,
    /// A FIFO.
    NamedPipe,
    /// A device node.
    Device,
    /// Anything else.
    #[serde(other)]
    Unknown,
}

/// One entry of [`Client::list_files`](super::Client::list_files).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct FileInfo {
    /// The full path.
    pub path: String,
    /// The last path element.
    pub name: String,
    /// File, directory, ...
    #[serde(rename = "type")]
    pub file_type: FileType,
    /// The size in bytes (regular files only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size: Option<u64>,
    /// The permission bits, such as `0o644` (Pebble sends `"644"`).
    #[serde(serialize_with = "octal_out", deserialize_with = "octal_in")]
    pub permissions: u32,
    /// The modification time (RFC 3339).
    pub last_modified: String,
    /// The owner's user id.
    #[serde(default)]
    pub user_id: Option<u32>,
    /// The owner's user name (empty if Pebble could not look it up).
    #[serde(default)]
    pub user: Option<String>,
    /// The group id.
    #[serde(default)]
    pub group_id: Option<u32>,
    /// The group name (empty if Pebble could not look it up).
    #[serde(default)]
    pub group: Option<String>,
}

impl FileInfo {
    /// Whether this is a directory.
    pub fn is_dir(&self) -> bool {
        self.file_type == FileType::Directory
    }
}

fn octal_out<S: Serializer>(mode: &u32, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&format!("{mode:03o}"))
}

fn octal_in<'de, D: Deserializer<'de>>(d: D) -> Result<u32, D::Error> {
    let text = String::deserialize(d)?;
    u32::from_str_radix(&text, 8).map_err(|_| {
        serde::de::Error::custom(format!("permissions {text:?} are not an octal number"))
    })
}

/// One entry of the `result` list of a files request.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct FileResult {
    pub path: String,
    #[serde(default)]
    pub error: Option<FileError>,
}

/// The `error` of a [`FileResult`].
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct FileError {
    #[serde(default)]
    pub message: String,
    #[serde(default)]
    pub kind: String,
}

/// The per-path error for `path` in a files `result`, if any.
pub(crate) fn check_file_results(results: &[FileResult], path: &str) -> Result<(), PebbleError> {
    let entry = results.iter().find(|r| r.path == path).ok_or_else(|| {
        PebbleError::malformed(format!("path {path:?} is missing from the files result"))
    })?;
    match &entry.error {
        None => Ok(()),
        Some(e) => Err(PebbleError::Path {
            path: path.to_string(),
            kind: if e.kind.is_empty() {
                "generic-file-error".to_string()
            } else {
                e.kind.clone()
            },
            message: e.message.clone(),
        }),
    }
}

/// The owner and mode fields Pebble takes for a write or a mkdir.
pub(crate) fn owner_fields(
    map: &mut serde_json::Map<String, serde_json::Value>,
    permissions: Option<u32>,
    user_id: Option<u32>,
    user: Option<&str>,
    group_id: Option<u32>,
    group: Option<&str>,
) {
    if let Some(mode) = permissions {
        map.insert("permissions".into(), format!("{mode:03o}").into());
    }
    if let Some(id) = user_id {
        map.insert("user-id".into(), id.into());
    }
    if let Some(name) = user {
        map.insert("user".into(), name.into());
    }
    if let Some(id) = group_id {
        map.insert("group-id".into(), id.into());
    }
    if let Some(name) = group {
        map.insert("group".into(), name.into());
    }
}

/// A boundary of 64 random hex digits that does not occur in `content`
/// (a boundary need not be secret, only absent from the parts: fastrand's
/// generator serves, and the check makes a clash impossible).
pub(crate) fn new_boundary(content: &[u8]) -> String {
    loop {
        let boundary: String = (0..64)
            .map(|_| char::from_digit(fastrand::u32(..16), 16).unwrap_or('0'))
            .collect();
        if !contains(content, boundary.as_bytes()) {
            return boundary;
        }
    }
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && memmem::find(haystack, needle).is_some()
}

/// Where `needle`'s next occurrence in `haystack` starts, at or after
/// `from`. A searcher is made once per needle and body, not per search:
/// making one costs more than running it over a body of a few files.
fn find_from(needle: &memmem::Finder<'_>, haystack: &[u8], from: usize) -> Option<usize> {
    let found = needle.find(haystack.get(from..)?)?;
    Some(from + found)
}

/// The blank line that ends a part's headers.
static HEADERS_END: LazyLock<memmem::Finder<'static>> =
    LazyLock::new(|| memmem::Finder::new(b"\r\n\r\n"));

/// The multipart body of a write: the `request` JSON part, then one
/// `files` part whose filename is the path.
pub(crate) fn encode_write(
    boundary: &str,
    request: &serde_json::Value,
    path: &str,
    content: &[u8],
) -> Vec<u8> {
    let escaped = path.replace('\\', "\\\\").replace('"', "\\\"");
    let mut body = Vec::with_capacity(content.len() + 512);
    body.extend_from_slice(
        format!(
            "--{boundary}\r\nContent-Type: application/json\r\n\
             Content-Disposition: form-data; name=\"request\"\r\n\r\n{request}\r\n\
             --{boundary}\r\nContent-Type: application/octet-stream\r\n\
             Content-Disposition: form-data; name=\"files\"; filename=\"{escaped}\"\r\n\r\n"
        )
        .as_bytes(),
    );
    body.extend_from_slice(content);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    body
}

/// One part of a multipart/form-data body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Part {
    /// The form field name (`files`, `response`).
    pub name: String,
    /// The filename parameter, if any.
    pub filename: Option<String>,
    /// The content.
    pub body: Vec<u8>,
}

/// Splits a multipart body into its parts.
pub(crate) fn parse_multipart(body: &[u8], boundary: &str) -> Result<Vec<Part>, String> {
    let dash = format!("--{boundary}").into_bytes();
    let delimiter_text = format!("\r\n--{boundary}").into_bytes();
    let delimiter = memmem::Finder::new(&delimiter_text);
    let mut pos = if body.starts_with(&dash) {
        0
    } else {
        find_from(&delimiter, body, 0).ok_or("no opening boundary")? + 2
    };
    let mut parts = Vec::new();
    loop {
        pos += dash.len();
        let rest = &body[pos..];
        if rest.starts_with(b"--") {
            return Ok(parts);
        }
        let blanks = rest
            .iter()
            .take_while(|b| **b == b' ' || **b == b'\t')
            .count();
        if !rest[blanks..].starts_with(b"\r\n") {
            return Err("boundary not followed by CRLF".into());
        }
        pos += blanks + 2;
        let (header_text, content_start) = if body[pos..].starts_with(b"\r\n") {
            (String::new(), pos + 2)
        } else {
            let end = find_from(&HEADERS_END, body, pos).ok_or("part headers never end")?;
            let text =
                std::str::from_utf8(&body[pos..end]).map_err(|_| "part headers are not UTF-8")?;
            (text.to_string(), end + 4)
        };
        let end = find_from(&delimiter, body, content_start).ok_or("no closing boundary")?;
        let mut name = None;
        let mut filename = None;
        for line in header_text.split("\r\n") {
            let Some((key, value)) = line.split_once(':') else {
                return Err(format!("bad part header {line:?}"));
            };
            if key.trim().eq_ignore_ascii_case("content-disposition") {
                let (disposition, params) = header_params(value);
                if disposition != "form-data" {
                    return Err(format!("unexpected content disposition {disposition:?}"));
                }
                for (k, v) in params {
                    match k.as_str() {
                        "name" => name = Some(v),
                        "filename" => filename = Some(v),
                        _ => {}
                    }
                }
            }
        }
        parts.push(Part {
            name: name.ok_or("part without a form-data name")?,
            filename,
            body: body[content_start..end].to_vec(),
        });
        pos = end + 2;
    }
}

/// A header value's main token (lowercased) and its `;`-separated
/// parameters (keys lowercased; quoted values unescaped). A `;` inside a
/// quoted value does not separate; text after a closing quote, up to the
/// next `;`, is dropped. Sliced rather than read a character at a time:
/// every part of every file pulled or pushed has one.
pub(crate) fn header_params(value: &str) -> (String, Vec<(String, String)>) {
    let (main, mut rest) = match value.split_once(';') {
        Some((main, rest)) => (main, Some(rest)),
        None => (value, None),
    };
    let mut params = Vec::new();
    while let Some(text) = rest {
        let key_end = text.find(['=', ';']).unwrap_or(text.len());
        let (key, mut after) = text.split_at(key_end);
        let mut val = String::new();
        if let Some(assigned) = after.strip_prefix('=') {
            let assigned = assigned.trim_start_matches([' ', '\t']);
            if let Some(quoted) = assigned.strip_prefix('"') {
                let mut chars = quoted.char_indices();
                let mut closed_at = quoted.len();
                while let Some((i, c)) = chars.next() {
                    match c {
                        '\\' => val.extend(chars.next().map(|(_, escaped)| escaped)),
                        '"' => {
                            closed_at = i + 1;
                            break;
                        }
                        _ => val.push(c),
                    }
                }
                let tail = &quoted[closed_at..];
                after = &tail[tail.find(';').unwrap_or(tail.len())..];
            } else {
                let end = assigned.find(';').unwrap_or(assigned.len());
                val = assigned[..end].trim().to_string();
                after = &assigned[end..];
            }
        }
        let key = key.trim().to_ascii_lowercase();
        if !key.is_empty() {
            params.push((key, val));
        }
        rest = after.strip_prefix(';');
    }
    (main.trim().to_ascii_lowercase(), params)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn write_body_round_trips_through_the_parser() {
        let content = b"line one\r\n--not-the-boundary\r\n\x00\xff binary";
        let boundary = new_boundary(content);
        assert_eq!(boundary.len(), 64);
        let request = serde_json::json!({"action": "write", "files": [{"path": "/a \"q\".txt"}]});
        let body = encode_write(&boundary, &request, "/a \"q\".txt", content);
        let parts = parse_multipart(&body, &boundary).unwrap();
        assert_eq!(parts.len(), 2);
        assert_eq!(parts[0].name, "request");
        let json: serde_json::Value = serde_json::from_slice(&parts[0].body).unwrap();
        assert_eq!(json, request);
        assert_eq!(parts[1].name, "files");
        assert_eq!(parts[1].filename.as_deref(), Some("/a \"q\".txt"));
        assert_eq!(parts[1].body, content);
    }

    #[test]
    fn boundaries_avoid_the_content() {
        let first = new_boundary(b"");
        let content = format!("x\r\n--{first}\r\n");
        assert_ne!(new_boundary(content.as_bytes()), first);
        assert_ne!(new_boundary(b""), new_boundary(b""));
    }

    #[test]
    fn parses_a_go_style_response_with_preamble_and_empty_file() {
        let body = b"preamble\r\n--XYZ\r\nContent-Disposition: form-data; name=\"files\"; filename=\"/e\"\r\n\
Content-Type: application/octet-stream\r\n\r\n\r\n--XYZ \t\r\nContent-Disposition: form-data; name=response\r\n\
Content-Type: application/json\r\n\r\n{\"result\":[]}\n\r\n--XYZ--\r\n";
        let parts = parse_multipart(body, "XYZ").unwrap();
        assert_eq!(parts[0].filename.as_deref(), Some("/e"));
        assert!(parts[0].body.is_empty());
        assert_eq!(parts[1].name, "response");
        assert_eq!(parts[1].body, b"{\"result\":[]}\n");
    }

    #[test]
    fn malformed_multipart_bodies() {
        for body in [
            &b"nothing here"[..],
            b"--B\r\nContent-Disposition: form-data; name=\"files\"\r\n\r\nno end",
            b"--B\r\nContent-Disposition: attachment\r\n\r\nx\r\n--B--",
            b"--B\r\nno colon\r\n\r\nx\r\n--B--",
            b"--B\r\nContent-Type: text/plain\r\n\r\nx\r\n--B--",
            b"--Bjunk\r\n",
        ] {
            assert!(
                parse_multipart(body, "B").is_err(),
                "{:?}",
                String::from_utf8_lossy(body)
            );
        }
    }

    #[test]
    fn header_parameters() {
        let (main, params) = header_params("multipart/form-data; boundary=\"a;b\\\"c\"; X=1 ");
        assert_eq!(main, "multipart/form-data");
        assert_eq!(
            params,
            vec![
                ("boundary".into(), "a;b\"c".into()),
                ("x".into(), "1".into())
            ]
        );
    }

    #[test]
    fn file_info_permissions_are_octal_text() {
        let info: FileInfo = serde_json::from_str(
            r#"{"path":"/etc/hosts","name":"hosts","type":"file","size":12,"permissions":"644",
                "last-modified":"2024-12-27T11:13:31+08:00","user-id":0,"user":"root","group-id":0,"group":"root"}"#,
        )
        .unwrap();
        assert_eq!(info.permissions, 0o644);
        assert_eq!(info.size, Some(12));
        assert!(!info.is_dir());
        let json = serde_json::to_value(&info).unwrap();
        assert_eq!(json["permissions"], "644");
        let bad = serde_json::from_str::<FileInfo>(
            r#"{"path":"/","name":"/","type":"directory","permissions":"rwx","last-modified":""}"#,
        );
        assert!(bad.is_err());
    }

    #[test]
    fn path_errors_come_from_the_matching_entry() {
        let results: Vec<FileResult> = serde_json::from_str(
            r#"[{"path":"/ok"},{"path":"/x","error":{"message":"stat /x: no such file or directory","kind":"not-found"}}]"#,
        )
        .unwrap();
        assert!(check_file_results(&results, "/ok").is_ok());
        let err = check_file_results(&results, "/x").unwrap_err();
        assert!(err.is_not_found(), "{err}");
        assert!(matches!(
            check_file_results(&results, "/y"),
            Err(PebbleError::Malformed { .. })
        ));
    }
}

#[cfg(test)]
mod prop_tests {
    //! Properties of the multipart bodies Pebble's file calls carry.

    use super::*;
    use proptest::prelude::*;

    /// Paths without CR or LF (what a header line can carry), with the
    /// characters that need escaping or look like multipart syntax.
    fn path() -> impl Strategy<Value = String> {
        prop_oneof![
            "/[ -~]{0,40}",
            "/[a-z\"\\\\;=: -]{0,24}",
            proptest::collection::vec(
                any::<char>().prop_filter("no CR/LF", |c| *c != '\r' && *c != '\n'),
                0..24
            )
            .prop_map(|cs| cs.into_iter().collect()),
        ]
    }

    /// Content, including multipart-looking lines and bytes that are not UTF-8.
    fn content() -> impl Strategy<Value = Vec<u8>> {
        prop_oneof![
            proptest::collection::vec(any::<u8>(), 0..512),
            proptest::collection::vec(
                prop_oneof![
                    Just(b"\r\n".to_vec()),
                    Just(b"--".to_vec()),
                    Just(b"\r\n--".to_vec()),
                    Just(b"\r\n\r\n".to_vec()),
                    Just(b"Content-Disposition: form-data; name=\"files\"".to_vec()),
                    proptest::collection::vec(any::<u8>(), 0..8),
                ],
                0..16
            )
            .prop_map(|parts| parts.concat()),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        /// What a push sends parses back to the same request, path and content.
        #[test]
        fn prop_multipart_write_round_trips(path in path(), content in content()) {
            let boundary = new_boundary(&content);
            let request = serde_json::json!({
                "action": "write",
                "files": [{"path": path.clone()}],
            });
            let body = encode_write(&boundary, &request, &path, &content);
            let parts = parse_multipart(&body, &boundary)
                .map_err(|e| TestCaseError::fail(format!("does not parse back: {e}")))?;
            prop_assert_eq!(parts.len(), 2);
            prop_assert_eq!(&parts[0].name, "request");
            prop_assert_eq!(parts[0].filename.as_deref(), None);
            let sent: serde_json::Value = serde_json::from_slice(&parts[0].body)
                .map_err(|e| TestCaseError::fail(format!("request part: {e}")))?;
            prop_assert_eq!(sent, request);
            prop_assert_eq!(&parts[1].name, "files");
            prop_assert_eq!(parts[1].filename.as_deref(), Some(path.as_str()));
            prop_assert_eq!(&parts[1].body, &content);
        }

        /// Any body, with any boundary, is parts or an error, never a panic;
        /// a part's content is a piece of the body.
        #[test]
        fn prop_parse_multipart_never_panics(
            body in prop_oneof![
                proptest::collection::vec(any::<u8>(), 0..512),
                (path(), content(), 0usize..600).prop_map(|(p, c, cut)| {
                    let mut b = encode_write("b0undary", &serde_json::json!({}), &p, &c);
                    b.truncate(cut);
                    b
                }),
            ],
            boundary in prop_oneof![Just("b0undary".to_string()), "[ -~]{0,8}"],
        ) {
            if let Ok(parts) = parse_multipart(&body, &boundary) {
                let total: usize = parts.iter().map(|p| p.body.len()).sum();
                prop_assert!(total <= body.len());
            }
        }

        /// Header parameters never panic, whatever the text.
        #[test]
        fn prop_header_params_never_panics(value in "\\PC{0,60}") {
            let (main, params) = header_params(&value);
            prop_assert!(main.len() <= value.len());
            for (key, _) in &params {
                prop_assert!(!key.is_empty());
            }
        }

        /// The sliced parser reads every header as the first one, which
        /// read a character at a time, did: headers shaped like
        /// parameters, with blanks, quoted values holding escapes and
        /// `;`, unclosed quotes and text after a closing quote.
        #[test]
        fn prop_header_params_agree_with_a_char_at_a_time(
            value in r#"[a-zA-Z/ -]{0,6}(;[ \t]{0,2}[A-Za-z ]{0,3}(=[ \t]{0,2}("([^"\\]|\\[\s\S]|;){0,4}"?|[a-z; \t]{0,4}))?[a-z"; \t]{0,2}){0,4}"#,
        ) {
            prop_assert_eq!(header_params(&value), header_params_a_char_at_a_time(&value));
        }
    }

    /// `header_params` as it was written first, reading a character at a
    /// time: what the sliced one must agree with.
    fn header_params_a_char_at_a_time(value: &str) -> (String, Vec<(String, String)>) {
        let mut chars = value.chars().peekable();
        let mut main = String::new();
        while let Some(&c) = chars.peek() {
            if c == ';' {
                break;
            }
            main.push(c);
            chars.next();
        }
        let mut params = Vec::new();
        while chars.next() == Some(';') {
            let mut key = String::new();
            while let Some(&c) = chars.peek() {
                if c == '=' || c == ';' {
                    break;
                }
                key.push(c);
                chars.next();
            }
            let mut val = String::new();
            if chars.peek() == Some(&'=') {
                chars.next();
                while chars.peek().is_some_and(|c| *c == ' ' || *c == '\t') {
                    chars.next();
                }
                if chars.peek() == Some(&'"') {
                    chars.next();
                    while let Some(c) = chars.next() {
                        match c {
                            '\\' => val.extend(chars.next()),
                            '"' => break,
                            _ => val.push(c),
                        }
                    }
                    while chars.peek().is_some_and(|c| *c != ';') {
                        chars.next();
                    }
                } else {
                    while let Some(&c) = chars.peek() {
                        if c == ';' {
                            break;
                        }
                        val.push(c);
                        chars.next();
                    }
                    val = val.trim().to_string();
                }
            }
            let key = key.trim().to_ascii_lowercase();
            if !key.is_empty() {
                params.push((key, val));
            }
        }
        (main.trim().to_ascii_lowercase(), params)
    }
}
