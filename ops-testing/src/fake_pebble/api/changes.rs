//! `/v1/changes` and `/v1/changes/<id>[/wait]`, as Pebble's
//! `internals/daemon/api_changes.go` serves them.

use std::time::Instant;

use serde::Deserialize;

use crate::fake_pebble::Shared;
use crate::fake_pebble::http::{HttpRequest, Reply};
use crate::fake_pebble::util::{format_go_duration, parse_go_duration};

/// `GET /v1/changes?select=&for=`.
pub(crate) fn list(shared: &Shared, request: &HttpRequest) -> Reply {
    let state = shared.lock();
    match state.changes_json(request.query("select"), request.query("for")) {
        Ok(list) => Reply::sync(list),
        Err(message) => Reply::bad_request(message),
    }
}

/// `GET /v1/changes/<id>`, or with `timeout` (`/wait`) once the change is
/// ready, for at most that long (for ever if it is empty or zero).
pub(crate) fn get(shared: &Shared, id: &str, timeout: Option<&str>) -> Reply {
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
        let deadline = limit.map(|t| Instant::now() + t);
        while state.change_ready(id) == Some(false) {
            state = match deadline {
                None => shared.changed.wait(state),
                Some(deadline) => {
                    let left = deadline.saturating_duration_since(Instant::now());
                    if left.is_zero() {
                        let limit = format_go_duration(limit.unwrap_or_default());
                        return Reply::error(
                            504,
                            format!("timed out waiting for change after {limit}"),
                            None,
                        );
                    }
                    shared.changed.wait_timeout(state, left)
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
struct ChangePayload {
    action: String,
}

/// `POST /v1/changes/<id>` with action `abort`: the change as it is right
/// after the abort (Pebble answers before its task runner has moved on).
pub(crate) fn post(shared: &Shared, id: &str, request: &HttpRequest) -> Reply {
    let mut state = shared.lock();
    if state.change_ready(id).is_none() {
        return Reply::error(404, format!("cannot find change with id {id:?}"), None);
    }
    let payload: ChangePayload = match request.decode_json("data from request body") {
        Ok(p) => p,
        Err(reply) => return reply,
    };
    if payload.action != "abort" {
        return Reply::bad_request(format!("invalid action {:?}", payload.action));
    }
    match state.abort_change(id) {
        Some(change) => Reply::sync(change),
        None => Reply::bad_request(format!("cannot abort change {id} with nothing pending")),
    }
}
