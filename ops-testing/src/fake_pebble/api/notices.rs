//! `/v1/notices` and `/v1/notices/<id>`, as Pebble's
//! `internals/daemon/api_notices.go` serves them.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::fake_pebble::Shared;
use crate::fake_pebble::http::{HttpRequest, Reply};
use crate::fake_pebble::notices::{CUSTOM, Filter, MAX_DATA_SIZE, Notice, TYPES, check_custom_key};
use crate::fake_pebble::util::{parse_go_duration, parse_rfc3339};

/// `GET /v1/notices`. Every client counts as the user running the fake,
/// an admin (as the user Pebble runs as is), so `user-id` and `users` are
/// allowed.
pub(crate) fn list(shared: &Shared, request: &HttpRequest) -> Reply {
    let mut filter = Filter {
        user_id: Some(shared.user_id),
        ..Default::default()
    };
    let user_ids = request.query_all("user-id");
    if !user_ids.is_empty() {
        match parse_user_id(&user_ids) {
            Ok(uid) => filter.user_id = Some(uid),
            Err(e) => return Reply::bad_request(format!("invalid \"user-id\" filter: {e}")),
        }
    }
    let users = request.query_all("users");
    if !users.is_empty() {
        if !user_ids.is_empty() {
            return Reply::bad_request("cannot use both \"users\" and \"user-id\" parameters");
        }
        if request.query("users") != "all" {
            return Reply::bad_request("invalid \"users\" filter: must be \"all\"");
        }
        filter.user_id = None;
    }
    let requested_types = request.query_list("types");
    for type_ in &requested_types {
        if TYPES.contains(&type_.as_str()) && !filter.types.contains(type_) {
            filter.types.push(type_.clone());
        }
    }
    if filter.types.is_empty() && !requested_types.is_empty() {
        // Only unknown types: none match (rather than all).
        return Reply::sync(json!([]));
    }
    filter.keys = request.query_list("keys");
    let after = request.query("after");
    if !after.is_empty() {
        match parse_rfc3339(after) {
            Ok(time) => filter.after = Some(time),
            Err(e) => return Reply::bad_request(format!("invalid \"after\" timestamp: {e}")),
        }
    }
    let timeout = match request.query("timeout") {
        "" => Duration::ZERO,
        text => match parse_go_duration(text) {
            Ok(timeout) => timeout,
            Err(e) => return Reply::bad_request(format!("invalid timeout: {e}")),
        },
    };
    // With a timeout, wait for a matching notice (Pebble's WaitNotices).
    let deadline = Instant::now() + timeout;
    let mut state = shared.lock();
    loop {
        let found = state.notices.matching(&filter);
        let remaining = deadline.saturating_duration_since(Instant::now());
        if !found.is_empty() || remaining.is_zero() {
            return Reply::sync(Value::Array(found.into_iter().map(Notice::json).collect()));
        }
        state = shared.changed.wait_timeout(state, remaining);
    }
}

/// Pebble's `sanitizeUserIDFilter`.
fn parse_user_id(values: &[&str]) -> Result<u32, String> {
    let ids: Vec<&str> = values
        .iter()
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .collect();
    let [id] = ids.as_slice() else {
        return Err("must only include one \"user-id\"".into());
    };
    let number: i64 = id
        .parse()
        .map_err(|_| format!("strconv.ParseInt: parsing {id:?}: invalid syntax"))?;
    u32::try_from(number).map_err(|_| format!("user ID is not a valid uint32: {number}"))
}

/// `GET /v1/notices/<id>`.
pub(crate) fn one(shared: &Shared, id: &str) -> Reply {
    match shared.lock().notices.get(id) {
        Some(notice) => Reply::sync(notice.json()),
        None => Reply::error(404, format!("cannot find notice with ID {id:?}"), None),
    }
}

#[derive(serde::Deserialize, Default)]
#[serde(default, rename_all = "kebab-case")]
struct AddPayload {
    action: String,
    #[serde(rename = "type")]
    type_: String,
    key: String,
    repeat_after: String,
    data: Option<Value>,
}

/// `POST /v1/notices`: adds a custom notice for the requesting user.
pub(crate) fn add(shared: &Shared, request: &HttpRequest) -> Reply {
    let payload: AddPayload = match request.decode_json("request body") {
        Ok(p) => p,
        Err(reply) => return reply,
    };
    if payload.action != "add" {
        return Reply::bad_request(format!("invalid action {:?}", payload.action));
    }
    if payload.type_ != CUSTOM {
        return Reply::bad_request(format!(
            "invalid type {:?} (can only add \"custom\" notices)",
            payload.type_
        ));
    }
    if let Err(e) = check_custom_key(&payload.key) {
        return Reply::bad_request(e.to_string());
    }
    let repeat_after = match payload.repeat_after.as_str() {
        "" => Duration::ZERO,
        text => match parse_go_duration(text) {
            Ok(d) => d,
            Err(e) => return Reply::bad_request(format!("invalid repeat-after: {e}")),
        },
    };
    // Pebble measures the raw JSON; this is its compact form.
    let data_json = payload
        .data
        .as_ref()
        .map(Value::to_string)
        .unwrap_or_default();
    if data_json.len() > MAX_DATA_SIZE {
        return Reply::bad_request(format!(
            "total size of data must be {MAX_DATA_SIZE} bytes or less"
        ));
    }
    let data: BTreeMap<String, String> = match payload.data {
        None | Some(Value::Null) => BTreeMap::new(),
        Some(value) => match serde_json::from_value(value) {
            Ok(data) => data,
            Err(e) => return Reply::bad_request(format!("cannot decode notice data: {e}")),
        },
    };
    let id = shared.lock().notices.add(
        Some(shared.user_id),
        CUSTOM,
        &payload.key,
        data,
        repeat_after,
    );
    Reply::sync(json!({ "id": id }))
}
