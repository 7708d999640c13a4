//! `/v1/warnings`, as Pebble serves it: the warnings the daemon raised
//! (a test raises them with [`FakePebble::warn`](crate::fake_pebble::FakePebble::warn)),
//! all or those not yet acknowledged, and acknowledging them up to a time.

use std::time::SystemTime;

use serde::Deserialize;
use serde_json::{Value, json};

use crate::fake_pebble::Shared;
use crate::fake_pebble::http::{HttpRequest, Reply};
use crate::fake_pebble::util::{parse_rfc3339, rfc3339};

/// One warning the fake Pebble holds.
#[derive(Debug, Clone)]
pub(crate) struct WarningRecord {
    pub message: String,
    pub first_added: SystemTime,
    pub last_added: SystemTime,
    pub last_shown: Option<SystemTime>,
}

impl WarningRecord {
    /// Not acknowledged since it was last raised.
    fn pending(&self) -> bool {
        self.last_shown.is_none_or(|shown| shown < self.last_added)
    }

    fn json(&self) -> Value {
        let mut value = json!({
            "message": self.message,
            "first-added": rfc3339(self.first_added, true),
            "last-added": rfc3339(self.last_added, true),
            // Pebble's defaults: a warning expires after four weeks and is
            // shown again after a day.
            "expire-after": "672h0m0s",
            "repeat-after": "24h0m0s",
        });
        if let Some(shown) = self.last_shown {
            value["last-shown"] = rfc3339(shown, true).into();
        }
        value
    }
}

/// `GET /v1/warnings?select=pending|all`.
pub(crate) fn list(shared: &Shared, request: &HttpRequest) -> Reply {
    let all = match request.query("select") {
        "all" => true,
        "pending" | "" => false,
        other => return Reply::bad_request(format!("invalid select parameter: {other:?}")),
    };
    let state = shared.lock();
    let warnings: Vec<Value> = state
        .warnings
        .iter()
        .filter(|w| all || w.pending())
        .map(WarningRecord::json)
        .collect();
    Reply::sync(Value::Array(warnings))
}

#[derive(Deserialize)]
struct AckPayload {
    #[serde(default)]
    action: String,
    timestamp: String,
}

/// `POST /v1/warnings` with action `okay`: every warning raised up to
/// `timestamp` is acknowledged; the answer is how many.
pub(crate) fn ack(shared: &Shared, request: &HttpRequest) -> Reply {
    let payload: AckPayload = match request.decode_json("request body into warnings operation") {
        Ok(p) => p,
        Err(reply) => return reply,
    };
    if payload.action != "okay" {
        return Reply::bad_request(format!("unknown warning action {:?}", payload.action));
    }
    let Ok(until) = parse_rfc3339(&payload.timestamp) else {
        return Reply::bad_request(format!(
            "cannot decode request body into warnings operation: invalid timestamp {:?}",
            payload.timestamp
        ));
    };
    let count = shared.update(|state| {
        let mut count = 0;
        for w in state.warnings.iter_mut().filter(|w| w.last_added <= until) {
            w.last_shown = Some(until);
            count += 1;
        }
        count
    });
    Reply::sync(json!(count))
}
