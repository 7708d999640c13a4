//! `/v1/checks`, as Pebble's `internals/daemon/api_checks.go` serves it.

use ops::pebble::CheckLevel;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::fake_pebble::Shared;
use crate::fake_pebble::http::{HttpRequest, Reply};

/// The `level` parameter of `/v1/checks` and `/v1/health`: none, or a
/// level Pebble knows.
pub(super) fn level_query(request: &HttpRequest) -> Result<Option<CheckLevel>, Reply> {
    match request.query("level") {
        "" => Ok(None),
        word => match CheckLevel::from(word) {
            CheckLevel::Other(_) => Err(Reply::bad_request("level must be \"alive\" or \"ready\"")),
            level => Ok(Some(level)),
        },
    }
}

/// `GET /v1/checks?level=&names=`.
pub(crate) fn list(shared: &Shared, request: &HttpRequest) -> Reply {
    let level = match level_query(request) {
        Ok(level) => level,
        Err(reply) => return reply,
    };
    let names = request.query_list("names");
    let state = shared.lock();
    let infos: Vec<Value> = state
        .checks
        .iter()
        .filter(|(name, record)| {
            (level.is_none() || record.config.level == level)
                && (names.is_empty() || names.contains(name))
        })
        .map(|(name, record)| record.json(name))
        .collect();
    Reply::sync(Value::Array(infos))
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct ChecksPayload {
    action: String,
    checks: Vec<String>,
}

/// `POST /v1/checks` with action `start` or `stop`.
pub(crate) fn action(shared: &Shared, request: &HttpRequest) -> Reply {
    let payload: ChecksPayload = match request.decode_json("data from request body") {
        Ok(p) => p,
        Err(reply) => return reply,
    };
    if payload.checks.is_empty() {
        return Reply::bad_request(format!("must specify checks for {} action", payload.action));
    }
    match shared
        .lock()
        .checks_action(&payload.action, &payload.checks)
    {
        Ok(changed) => Reply::sync(json!({ "changed": changed })),
        Err(reply) => reply,
    }
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct RefreshPayload {
    name: String,
}

/// `POST /v1/checks/refresh`: Pebble runs the check once, now. The fake
/// runs no probes, so past Pebble's own checks of the request it answers
/// that it cannot.
pub(crate) fn refresh(shared: &Shared, request: &HttpRequest) -> Reply {
    let payload: RefreshPayload = match request.decode_json("data from request body") {
        Ok(p) => p,
        Err(reply) => return reply,
    };
    if payload.name.is_empty() {
        return Reply::bad_request("must specify check name");
    }
    if !shared.lock().plan.checks.contains_key(&payload.name) {
        return Reply::error(
            404,
            format!("cannot find check with name {:?}", payload.name),
            None,
        );
    }
    Reply::not_modelled(
        request,
        "it runs no probes (report runs with FakePebble::fail_check and pass_check)",
    )
}
