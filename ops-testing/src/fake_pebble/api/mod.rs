//! Routes a request to the fake Pebble's state and filesystem, and shapes
//! the reply as Pebble's `internals/daemon/api_*.go` do.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use super::files::{FileError, Fs, MakeDirItem, RemoveItem, WriteItem, result_entry};
use super::http::{HttpRequest, MultipartWriter, Reply, media_params, parse_multipart, quote};
use super::util::{format_go_duration, parse_go_duration, random_hex};
use super::{Shared, checks, notices};

/// The version the fake reports in `/v1/system-info`.
pub(crate) const VERSION: &str = "1.32.1-ops-testing";

/// Pebble's smallest accepted multipart boundary.
const MIN_BOUNDARY: usize = 32;

/// Answers one request.
pub(crate) fn handle(shared: &Shared, request: &HttpRequest) -> Reply {
    let path = request.path.trim_end_matches('/');
    let segments: Vec<&str> = path.split('/').skip(1).collect();
    let method = request.method.as_str();
    let not_allowed = || Reply::error(405, format!("method {method:?} not allowed"), None);
    match (segments.as_slice(), method) {
        (["v1", "system-info"], "GET") => {
            Reply::sync(json!({"boot-id": shared.boot_id, "version": VERSION}))
        }
        (["v1", "plan"], "GET") => plan(shared, request),
        (["v1", "layers"], "POST") => layers(shared, request),
        (["v1", "services"], "GET") => services(shared, request),
        (["v1", "services"], "POST") => services_action(shared, request),
        (["v1", "changes"], "GET") => {
            let state = shared.lock();
            match state.changes_json(request.query("select"), request.query("for")) {
                Ok(list) => Reply::sync(list),
                Err(message) => Reply::bad_request(message),
            }
        }
        (["v1", "changes", id], "GET") => change(shared, id, None),
        (["v1", "changes", id, "wait"], "GET") => {
            change(shared, id, Some(request.query("timeout")))
        }
        (["v1", "signals"], "POST") => signals(shared, request),
        (["v1", "files"], "GET") => get_files(shared, request),
        (["v1", "files"], "POST") => post_files(shared, request),
        (["v1", "checks"], "GET") => checks::list(shared, request),
        (["v1", "checks"], "POST") => checks::action(shared, request),
        (["v1", "notices"], "GET") => notices::list(shared, request),
        (["v1", "notices"], "POST") => notices::add(shared, request),
        (["v1", "notices", id], "GET") => notices::one(shared, id),
        (["v1", "exec"], "POST") => super::exec::post_exec(shared, request),
        (
            [
                "v1",
                "system-info" | "plan" | "layers" | "services" | "changes" | "signals" | "files"
                | "checks" | "notices" | "exec",
            ]
            | ["v1", "changes" | "notices", _]
            | ["v1", "changes", _, "wait"],
            _,
        ) => not_allowed(),
        _ => Reply::error(404, "invalid API endpoint requested", None),
    }
}

/// Decodes a JSON body, or the 400 reply Pebble gives.
pub(super) fn decode<T: DeserializeOwned>(request: &HttpRequest, what: &str) -> Result<T, Reply> {
    serde_json::from_slice(&request.body)
        .map_err(|e| Reply::bad_request(format!("cannot decode {what}: {e}")))
}

fn plan(shared: &Shared, request: &HttpRequest) -> Reply {
    let format = request.query("format");
    if format != "yaml" {
        return Reply::bad_request(format!("invalid format {format:?}"));
    }
    let state = shared.lock();
    match serde_norway::to_string(&state.plan) {
        Ok(yaml) => Reply::sync(Value::String(yaml)),
        Err(e) => Reply::error(500, format!("cannot serialize plan: {e}"), None),
    }
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct LayersPayload {
    action: String,
    combine: bool,
    label: String,
    format: String,
    layer: String,
}

fn layers(shared: &Shared, request: &HttpRequest) -> Reply {
    let payload: LayersPayload = match decode(request, "request body") {
        Ok(p) => p,
        Err(reply) => return reply,
    };
    if payload.action != "add" {
        return Reply::bad_request(format!("invalid action {:?}", payload.action));
    }
    if payload.label.is_empty() {
        return Reply::bad_request("label must be set");
    }
    if payload.format != "yaml" {
        return Reply::bad_request(format!("invalid format {:?}", payload.format));
    }
    match shared
        .lock()
        .add_layer(&payload.label, payload.combine, &payload.layer)
    {
        Ok(()) => Reply::sync(Value::Bool(true)),
        Err(message) => Reply::bad_request(message),
    }
}

fn services(shared: &Shared, request: &HttpRequest) -> Reply {
    let names: Vec<String> = request
        .query_all("names")
        .iter()
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .map(str::to_string)
        .collect();
    Reply::sync(shared.lock().service_infos(&names))
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct ServicesPayload {
    action: String,
    services: Vec<String>,
}

fn services_action(shared: &Shared, request: &HttpRequest) -> Reply {
    let payload: ServicesPayload = match decode(request, "data from request body") {
        Ok(p) => p,
        Err(reply) => return reply,
    };
    match shared
        .lock()
        .services_action(&payload.action, payload.services)
    {
        Ok(id) => Reply::async_change(&id),
        Err(reply) => reply,
    }
}

/// `GET /v1/changes/<id>`, or with `timeout` (`/wait`) once the change is
/// ready, for at most that long (for ever if it is empty or zero).
fn change(shared: &Shared, id: &str, timeout: Option<&str>) -> Reply {
    let mut state = shared.lock();
    if state.change_ready(id).is_none() {
        return Reply::error(404, format!("cannot find change with id {id:?}"), None);
    }
    if let Some(timeout) = timeout {
        let limit = match timeout {
            "" => None,
            text => match parse_go_duration(text) {
                Ok(t) if t.is_zero() => None,
                Ok(t) => Some(t),
                Err(e) => return Reply::bad_request(format!("invalid timeout: {e}")),
            },
        };
        let deadline = limit.map(|t| std::time::Instant::now() + t);
        while state.change_ready(id) == Some(false) {
            state = match deadline {
                None => shared
                    .changed
                    .wait(state)
                    .unwrap_or_else(|p| p.into_inner()),
                Some(deadline) => {
                    let left = deadline.saturating_duration_since(std::time::Instant::now());
                    if left.is_zero() {
                        let limit = format_go_duration(limit.unwrap_or_default());
                        return Reply::error(
                            504,
                            format!("timed out waiting for change after {limit}"),
                            None,
                        );
                    }
                    shared
                        .changed
                        .wait_timeout(state, left)
                        .unwrap_or_else(|p| p.into_inner())
                        .0
                }
            };
        }
    }
    match state.change_json(id) {
        Some(change) => Reply::sync(change),
        None => Reply::error(404, format!("cannot find change with id {id:?}"), None),
    }
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct SignalsPayload {
    signal: String,
    services: Vec<String>,
}

fn signals(shared: &Shared, request: &HttpRequest) -> Reply {
    let payload: SignalsPayload = match decode(request, "request body") {
        Ok(p) => p,
        Err(reply) => return reply,
    };
    if payload.services.is_empty() {
        return Reply::bad_request("must specify one or more services");
    }
    match shared.lock().signal(&payload.signal, &payload.services) {
        Ok(()) => Reply::sync(Value::Bool(true)),
        Err(message) => Reply::error(500, message, None),
    }
}

fn get_files(shared: &Shared, request: &HttpRequest) -> Reply {
    let action = request.query("action");
    match action {
        "read" => {
            let paths = request.query_all("path");
            if paths.is_empty() {
                return Reply::bad_request("must specify one or more paths");
            }
            if request.header("accept") != Some("multipart/form-data") {
                return Reply::bad_request("must accept multipart/form-data");
            }
            let mut state = shared.lock();
            let fs = Fs {
                root: &shared.root,
                owners: &mut state.owners,
            };
            read_files(&fs, &paths)
        }
        "list" => {
            let path = request.query("path");
            if path.is_empty() {
                return Reply::bad_request("must specify path");
            }
            let itself = request.query("itself");
            if !matches!(itself, "true" | "false" | "") {
                return Reply::bad_request("itself parameter must be \"true\" or \"false\"");
            }
            if !path.starts_with('/') {
                return Reply::bad_request(format!("path must be absolute, got {path:?}"));
            }
            let mut state = shared.lock();
            let fs = Fs {
                root: &shared.root,
                owners: &mut state.owners,
            };
            match fs.list(path, request.query("pattern"), itself == "true") {
                Ok(entries) => Reply::sync(Value::Array(entries)),
                Err(e) => Reply::error(e.status(), e.message, Some(e.kind)),
            }
        }
        _ => Reply::bad_request(format!("invalid action {action:?}")),
    }
}

/// The multipart read response: a `files` part per readable file, then
/// the `response` part with a result per path.
fn read_files(fs: &Fs<'_>, paths: &[&str]) -> Reply {
    let outcomes: Vec<(&str, Result<Vec<u8>, FileError>)> =
        paths.iter().map(|p| (*p, fs.read(p))).collect();
    let boundary = loop {
        let candidate = random_hex(60);
        let clash = outcomes.iter().any(|(_, o)| {
            o.as_ref().is_ok_and(|bytes| {
                bytes
                    .windows(candidate.len())
                    .any(|w| w == candidate.as_bytes())
            })
        });
        if !clash {
            break candidate;
        }
    };
    let mut writer = MultipartWriter::new(boundary);
    let mut results = Vec::new();
    for (path, outcome) in &outcomes {
        if let Ok(content) = outcome {
            writer.part(
                &[
                    (
                        "Content-Disposition",
                        format!("form-data; name=\"files\"; filename={}", quote(path)),
                    ),
                    ("Content-Type", "application/octet-stream".to_string()),
                ],
                content,
            );
        }
        results.push(result_entry(
            path,
            &outcome.as_ref().map(drop).map_err(Clone::clone),
        ));
    }
    let mut meta = Reply::sync_json(Value::Array(results));
    meta.push(b'\n');
    writer.part(
        &[
            (
                "Content-Disposition",
                "form-data; name=\"response\"".to_string(),
            ),
            ("Content-Type", "application/json".to_string()),
        ],
        &meta,
    );
    let content_type = format!("multipart/form-data; boundary={}", writer.boundary);
    Reply {
        status: 200,
        content_type,
        body: writer.finish(),
    }
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct FilesPayload {
    action: String,
    dirs: Vec<MakeDirItem>,
    paths: Vec<RemoveItem>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct WritePayload {
    action: String,
    files: Vec<WriteItem>,
}

fn post_files(shared: &Shared, request: &HttpRequest) -> Reply {
    let content_type = request.header("content-type").unwrap_or("");
    let (media, params) = media_params(content_type);
    if media.is_empty() || !media.contains('/') {
        return Reply::bad_request(format!("invalid Content-Type {content_type:?}"));
    }
    let mut state = shared.lock();
    let mut fs = Fs {
        root: &shared.root,
        owners: &mut state.owners,
    };
    match media.as_str() {
        "multipart/form-data" => {
            let boundary = params
                .iter()
                .find(|(k, _)| k == "boundary")
                .map(|(_, v)| v.as_str())
                .unwrap_or("");
            if boundary.len() < MIN_BOUNDARY {
                return Reply::bad_request(format!("invalid boundary {boundary:?}"));
            }
            write_files(&mut fs, &request.body, boundary)
        }
        "application/json" => {
            let payload: FilesPayload = match decode(request, "request body") {
                Ok(p) => p,
                Err(reply) => return reply,
            };
            match payload.action.as_str() {
                "make-dirs" => Reply::sync(Value::Array(
                    payload
                        .dirs
                        .iter()
                        .map(|d| result_entry(&d.path, &fs.make_dir(d)))
                        .collect(),
                )),
                "remove" => Reply::sync(Value::Array(
                    payload
                        .paths
                        .iter()
                        .map(|p| result_entry(&p.path, &fs.remove(p)))
                        .collect(),
                )),
                "write" => Reply::bad_request("must use multipart with \"write\" action"),
                other => Reply::bad_request(format!("invalid action {other:?}")),
            }
        }
        other => Reply::bad_request(format!("invalid media type {other:?}")),
    }
}

fn write_files(fs: &mut Fs<'_>, body: &[u8], boundary: &str) -> Reply {
    let parts = match parse_multipart(body, boundary) {
        Ok(parts) if !parts.is_empty() => parts,
        Ok(_) => return Reply::bad_request("cannot read request metadata: EOF"),
        Err(e) => return Reply::bad_request(format!("cannot read request metadata: {e}")),
    };
    if parts[0].name != "request" {
        return Reply::bad_request(format!(
            "metadata field name must be \"request\", got {:?}",
            parts[0].name
        ));
    }
    let payload: WritePayload = match serde_json::from_slice(&parts[0].body) {
        Ok(p) => p,
        Err(e) => return Reply::bad_request(format!("cannot decode request metadata: {e}")),
    };
    if payload.action != "write" {
        return Reply::bad_request(format!(
            "multipart action must be \"write\", got {:?}",
            payload.action
        ));
    }
    if payload.files.is_empty() {
        return Reply::bad_request("must specify one or more files");
    }
    let infos: BTreeMap<&str, &WriteItem> =
        payload.files.iter().map(|f| (f.path.as_str(), f)).collect();
    let mut outcomes: BTreeMap<String, Result<(), FileError>> = BTreeMap::new();
    for part in &parts[1..] {
        if part.name != "files" {
            return Reply::bad_request(format!(
                "field name must be \"files\", got {:?}",
                part.name
            ));
        }
        let path = part.filename.clone().unwrap_or_default();
        let Some(info) = infos.get(path.as_str()) else {
            return Reply::bad_request(format!("no metadata for path {path:?}"));
        };
        let outcome = fs.write(info, &part.body);
        outcomes.insert(path, outcome);
    }
    let results = payload
        .files
        .iter()
        .map(|f| {
            let outcome = outcomes.get(&f.path).cloned().unwrap_or_else(|| {
                Err(FileError {
                    kind: "generic-file-error",
                    message: format!("no file content for path {:?}", f.path),
                })
            });
            result_entry(&f.path, &outcome)
        })
        .collect();
    Reply::sync(Value::Array(results))
}
