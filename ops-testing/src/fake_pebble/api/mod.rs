//! Routes a request to the fake Pebble's state and filesystem, and shapes
//! the reply as Pebble's `internals/daemon/api_*.go` do.
//!
//! The top of the fake's layers: the handlers here and in the child
//! modules (one per Pebble `api_*.go`) read requests and drive the state
//! (`state`, with `checks`, `notices`, `identities` operating on it);
//! nothing below calls back up here.

use std::collections::BTreeMap;

use ops::pebble::CheckLevel;
use serde::Deserialize;
use serde_json::{Value, json};

use super::Shared;
use super::files::{FileError, Fs, MakeDirItem, RemoveItem, WriteItem, result_entry};
use super::http::{
    HttpRequest, MultipartWriter, Reply, contains, media_params, parse_multipart, quote,
};
use super::util::random_hex;

mod changes;
mod checks;
mod identities;
mod notices;
pub(crate) mod warnings;

/// The version the fake reports in `/v1/system-info`.
pub(crate) const VERSION: &str = "1.32.1-ops-testing";

/// Pebble's smallest accepted multipart boundary.
const MIN_BOUNDARY: usize = 32;

/// Answers one request: every route Pebble's `internals/daemon/api.go`
/// has. A route whose behaviour the fake does not model answers Pebble's
/// error shape naming it ([`Reply::not_modelled`]); a path Pebble does not have
/// answers as Pebble's router does (404 `invalid API endpoint requested`),
/// and a method a route does not take 405.
pub(crate) fn handle(shared: &Shared, request: &HttpRequest) -> Reply {
    let path = request.path.trim_end_matches('/');
    let segments: Vec<&str> = path.split('/').skip(1).collect();
    let method = request.method.as_str();
    match (segments.as_slice(), method) {
        (["v1", "system-info"], "GET") => {
            Reply::sync(json!({"boot-id": shared.boot_id, "version": VERSION}))
        }
        (["v1", "health"], "GET") => health(shared, request),
        (["v1", "changes"], "GET") => changes::list(shared, request),
        (["v1", "changes", id], "GET") => changes::get(shared, id, None),
        (["v1", "changes", id], "POST") => changes::post(shared, id, request),
        (["v1", "changes", id, "wait"], "GET") => {
            changes::get(shared, id, Some(request.query("timeout")))
        }
        (["v1", "services"], "GET") => services(shared, request),
        (["v1", "services"], "POST") => services_action(shared, request),
        // Pebble routes these and answers every call so.
        (["v1", "services", _], "GET" | "POST") => Reply::bad_request("not implemented"),
        (["v1", "plan"], "GET") => plan(shared, request),
        (["v1", "layers"], "POST") => layers(shared, request),
        (["v1", "files"], "GET") => get_files(shared, request),
        (["v1", "files"], "POST") => post_files(shared, request),
        (["v1", "logs"], "GET") => logs(request),
        (["v1", "exec"], "POST") => super::exec::post_exec(shared, request),
        // Served before routing where there is a socket (the connection
        // becomes the WebSocket); in process there is none to upgrade.
        (["v1", "tasks", _, "websocket", _], "GET") => {
            Reply::bad_request("WebSockets are served on the socket only")
        }
        (["v1", "signals"], "POST") => signals(shared, request),
        (["v1", "checks"], "GET") => checks::list(shared, request),
        (["v1", "checks"], "POST") => checks::action(shared, request),
        (["v1", "checks", "refresh"], "POST") => checks::refresh(shared, request),
        (["v1", "notices"], "GET") => notices::list(shared, request),
        (["v1", "notices"], "POST") => notices::add(shared, request),
        (["v1", "notices", id], "GET") => notices::one(shared, id),
        (["v1", "warnings"], "GET") => warnings::list(shared, request),
        (["v1", "warnings"], "POST") => warnings::ack(shared, request),
        (["v1", "identities"], "GET") => identities::list(shared),
        (["v1", "identities"], "POST") => identities::post(shared, request),
        // Pebble pairs only over HTTPS during a pairing window; on its
        // unix socket its access check refuses every pairing request.
        (["v1", "pairing"], "POST") => Reply::error(401, "access denied", Some("login-required")),
        (["v1", "metrics"], "GET") => Reply::not_modelled(request, "it keeps no metrics"),
        (
            [
                "v1",
                "system-info" | "health" | "changes" | "services" | "plan" | "layers" | "files"
                | "logs" | "exec" | "signals" | "checks" | "notices" | "identities" | "pairing"
                | "metrics" | "warnings",
            ]
            | ["v1", "changes" | "services" | "notices", _]
            | ["v1", "checks", "refresh"]
            | ["v1", "changes", _, "wait"]
            | ["v1", "tasks", _, "websocket", _],
            _,
        ) => Reply::error(405, format!("method {method:?} not allowed"), None),
        _ => Reply::error(404, "invalid API endpoint requested", None),
    }
}

/// `GET /v1/health`: unhealthy (502, still a sync response) if a check
/// of the level asked (`ready` includes `alive`) or of the names asked
/// is down; inactive checks do not count.
fn health(shared: &Shared, request: &HttpRequest) -> Reply {
    let level = match checks::level_query(request) {
        Ok(level) => level,
        Err(reply) => return reply,
    };
    let names = request.query_list("names");
    let state = shared.lock();
    let healthy = !state.checks.iter().any(|(name, record)| {
        let check_level = record.config.level.as_ref();
        let level_match = match &level {
            None => true,
            Some(CheckLevel::Ready) => {
                matches!(check_level, Some(CheckLevel::Ready | CheckLevel::Alive))
            }
            Some(level) => check_level == Some(level),
        };
        let name_match = names.is_empty() || names.contains(name);
        level_match && name_match && record.status == ops::pebble::CheckStatus::Down
    });
    let status = if healthy { 200 } else { 502 };
    Reply::sync_status(status, json!({ "healthy": healthy }))
}

/// `GET /v1/logs`: the fake runs no processes, so there are no lines; the
/// parameters are checked as Pebble does, and the stream (JSON Lines) is
/// empty. With `follow=true` Pebble would keep it open for new lines; the
/// fake ends it, as none will come.
fn logs(request: &HttpRequest) -> Reply {
    if !matches!(request.query("follow"), "" | "true" | "false") {
        return Reply::bad_request("follow parameter must be \"true\" or \"false\"");
    }
    let n = request.query("n");
    if !n.is_empty() && n.parse::<i64>().map_or(true, |n| n < -1) {
        return Reply::bad_request("n must be -1, 0, or a positive integer");
    }
    Reply {
        status: 200,
        content_type: "application/x-ndjson".into(),
        body: Vec::new(),
    }
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
    let payload: LayersPayload = match request.decode_json("request body") {
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
    let mut state = shared.lock();
    match state.add_layer(&payload.label, payload.combine, &payload.layer) {
        Ok(()) => {
            // Pebble's check manager hears of every plan change.
            state.checks_plan_changed();
            Reply::sync(Value::Bool(true))
        }
        Err(message) => Reply::bad_request(message),
    }
}

fn services(shared: &Shared, request: &HttpRequest) -> Reply {
    let names = request.query_list("names");
    Reply::sync(shared.lock().service_infos(&names))
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct ServicesPayload {
    action: String,
    services: Vec<String>,
}

fn services_action(shared: &Shared, request: &HttpRequest) -> Reply {
    let payload: ServicesPayload = match request.decode_json("data from request body") {
        Ok(p) => p,
        Err(reply) => return reply,
    };
    let mut state = shared.lock();
    let planned = match state.plan_services_change(&payload.action, payload.services) {
        Ok(planned) => planned,
        Err(reply) => return reply,
    };
    if payload.action == "replan" {
        // As Pebble's v1PostServices: checks replan before the change is made.
        state.checks_replan();
    }
    Reply::async_change(&state.run_services_change(planned))
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct SignalsPayload {
    signal: String,
    services: Vec<String>,
}

fn signals(shared: &Shared, request: &HttpRequest) -> Reply {
    let payload: SignalsPayload = match request.decode_json("request body") {
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
            let fs = Fs::of(&shared.root, &mut state);
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
            let fs = Fs::of(&shared.root, &mut state);
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
            o.as_ref()
                .is_ok_and(|bytes| contains(bytes, candidate.as_bytes()))
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
    let mut fs = Fs::of(&shared.root, &mut state);
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
            let payload: FilesPayload = match request.decode_json("request body") {
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
