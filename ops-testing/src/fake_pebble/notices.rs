//! Notices as Pebble's state keeps them (`internals/overlord/state/notices.go`)
//! and its API serves them (`internals/daemon/api_notices.go`): one notice
//! per user, type and key, counting its occurrences.

use std::collections::BTreeMap;
use std::time::{Duration, Instant, SystemTime};

use ops::pebble::PebbleNotice;
use serde_json::{Value, json};

use super::Shared;
use super::api::decode;
use super::http::{HttpRequest, Reply};
use super::util::{format_go_duration, parse_go_duration, parse_rfc3339, rfc3339};

/// Recorded whenever a change is spawned or changes status; keyed by change id.
pub(crate) const CHANGE_UPDATE: &str = "change-update";
/// Added by clients (`pebble notify`); the only type clients may add.
pub(crate) const CUSTOM: &str = "custom";
/// The types Pebble knows; requests naming others are not errors.
const TYPES: [&str; 3] = [CHANGE_UPDATE, CUSTOM, "warning"];

const MAX_KEY_LENGTH: usize = 256;
const MAX_DATA_SIZE: usize = 4 * 1024;
/// How long after its last occurrence Pebble drops a notice.
const EXPIRE_AFTER: Duration = Duration::from_secs(7 * 24 * 3600);

/// A custom notice key Pebble refuses.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum NoticeKeyError {
    /// Not `<domain>/<path>` in lowercase letters, digits and single dashes.
    #[error("invalid key {0:?} (must be in \"example.com/path\" format)")]
    Format(String),
    /// Longer than Pebble's limit.
    #[error("key must be {MAX_KEY_LENGTH} bytes or less")]
    TooLong,
}

/// One notice: every occurrence of the same user, type and key.
#[derive(Debug, Clone)]
pub(crate) struct Notice {
    id: u64,
    /// `None`: public (Pebble's own notices).
    user_id: Option<u32>,
    type_: String,
    key: String,
    first_occurred: SystemTime,
    last_occurred: SystemTime,
    last_repeated: SystemTime,
    occurrences: u64,
    last_data: BTreeMap<String, String>,
    repeat_after: Duration,
    expire_after: Duration,
}

impl Notice {
    fn expired(&self, now: SystemTime) -> bool {
        self.last_occurred + self.expire_after < now
    }

    /// The notice as Pebble marshals it.
    fn json(&self) -> Value {
        let mut value = json!({
            "id": self.id.to_string(),
            "user-id": self.user_id,
            "type": self.type_,
            "key": self.key,
            "first-occurred": rfc3339(self.first_occurred, true),
            "last-occurred": rfc3339(self.last_occurred, true),
            "last-repeated": rfc3339(self.last_repeated, true),
            "occurrences": self.occurrences,
        });
        if !self.last_data.is_empty() {
            value["last-data"] = json!(self.last_data);
        }
        if !self.repeat_after.is_zero() {
            value["repeat-after"] = format_go_duration(self.repeat_after).into();
        }
        if !self.expire_after.is_zero() {
            value["expire-after"] = format_go_duration(self.expire_after).into();
        }
        value
    }

    fn to_ops(&self) -> PebbleNotice {
        PebbleNotice {
            id: self.id.to_string(),
            user_id: self.user_id,
            type_: self.type_.clone(),
            key: self.key.clone(),
            first_occurred: rfc3339(self.first_occurred, true),
            last_occurred: rfc3339(self.last_occurred, true),
            last_repeated: rfc3339(self.last_repeated, true),
            occurrences: self.occurrences,
            last_data: self.last_data.clone(),
            repeat_after: (!self.repeat_after.is_zero())
                .then(|| format_go_duration(self.repeat_after)),
            expire_after: (!self.expire_after.is_zero())
                .then(|| format_go_duration(self.expire_after)),
        }
    }
}

/// Which notices a `GET /v1/notices` wants (Pebble's `NoticeFilter`).
#[derive(Debug, Default)]
struct Filter {
    /// Only this user's and public ones; `None`: everyone's.
    user_id: Option<u32>,
    types: Vec<String>,
    keys: Vec<String>,
    /// Only those last repeated after this.
    after: Option<SystemTime>,
}

impl Filter {
    fn matches(&self, n: &Notice) -> bool {
        self.user_id
            .is_none_or(|uid| n.user_id.is_none_or(|owner| owner == uid))
            && (self.types.is_empty() || self.types.contains(&n.type_))
            && (self.keys.is_empty() || self.keys.contains(&n.key))
            && self.after.is_none_or(|after| n.last_repeated > after)
    }
}

/// Every notice the fake Pebble recorded.
#[derive(Debug, Clone, Default)]
pub(crate) struct Notices {
    notices: Vec<Notice>,
    last_id: u64,
    /// The last occurrence time handed out.
    clock: Option<SystemTime>,
}

impl Notices {
    /// Records an occurrence (Pebble's `State.AddNotice`); the notice's id.
    pub fn add(
        &mut self,
        user_id: Option<u32>,
        type_: &str,
        key: &str,
        data: BTreeMap<String, String>,
        repeat_after: Duration,
    ) -> String {
        let now = self.now();
        let existing = self
            .notices
            .iter()
            .position(|n| n.user_id == user_id && n.type_ == type_ && n.key == key);
        let index = match existing {
            Some(index) if !self.notices[index].expired(now) => {
                let notice = &mut self.notices[index];
                notice.occurrences += 1;
                if repeat_after.is_zero() || now > notice.last_repeated + repeat_after {
                    notice.last_repeated = now;
                }
                index
            }
            _ => {
                if let Some(expired) = existing {
                    self.notices.remove(expired);
                }
                self.last_id += 1;
                self.notices.push(Notice {
                    id: self.last_id,
                    user_id,
                    type_: type_.to_string(),
                    key: key.to_string(),
                    first_occurred: now,
                    last_occurred: now,
                    last_repeated: now,
                    occurrences: 1,
                    last_data: BTreeMap::new(),
                    repeat_after,
                    expire_after: EXPIRE_AFTER,
                });
                self.notices.len() - 1
            }
        };
        let notice = &mut self.notices[index];
        notice.last_occurred = now;
        notice.last_data = data;
        notice.repeat_after = repeat_after;
        notice.id.to_string()
    }

    /// The time of an occurrence: the clock, but always later than the
    /// previous one, so that an `after` filter set to a notice's time
    /// never hides a later notice that happened in the same nanosecond.
    fn now(&mut self) -> SystemTime {
        let mut now = SystemTime::now();
        if let Some(last) = self.clock
            && now <= last
        {
            now = last + Duration::from_nanos(1);
        }
        self.clock = Some(now);
        now
    }

    /// The notices matching `filter`, by last-repeated time.
    fn matching(&self, filter: &Filter) -> Vec<&Notice> {
        let now = SystemTime::now();
        let mut found: Vec<&Notice> = self
            .notices
            .iter()
            .filter(|n| !n.expired(now) && filter.matches(n))
            .collect();
        found.sort_by_key(|n| (n.last_repeated, n.id));
        found
    }

    /// Every notice, of every user, by last-repeated time.
    pub fn all(&self) -> Vec<PebbleNotice> {
        self.matching(&Filter::default())
            .into_iter()
            .map(Notice::to_ops)
            .collect()
    }
}

/// Checks a custom notice key as Pebble does: `<domain>/<path>`, the
/// domain two or more dot-separated labels, the path one or more
/// slash-separated segments, each made of `[a-z0-9]` runs joined by
/// single dashes.
pub(crate) fn check_custom_key(key: &str) -> Result<(), NoticeKeyError> {
    fn word(text: &str) -> bool {
        !text.is_empty()
            && text.split('-').all(|run| {
                !run.is_empty()
                    && run
                        .bytes()
                        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
            })
    }
    let valid = key.split_once('/').is_some_and(|(domain, path)| {
        domain.split('.').count() >= 2 && domain.split('.').all(word) && path.split('/').all(word)
    });
    if !valid {
        return Err(NoticeKeyError::Format(key.to_string()));
    }
    if key.len() > MAX_KEY_LENGTH {
        return Err(NoticeKeyError::TooLong);
    }
    Ok(())
}

/// Pebble's `strutil.MultiCommaSeparatedList`.
fn comma_list(values: &[&str]) -> Vec<String> {
    values
        .iter()
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .map(str::to_string)
        .collect()
}

/// `GET /v1/notices`. Every client counts as the user running the fake,
/// an admin (as the user Pebble runs as is), so `user-id` and `users` are
/// allowed.
pub(super) fn list(shared: &Shared, request: &HttpRequest) -> Reply {
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
    let requested_types = comma_list(&request.query_all("types"));
    for type_ in &requested_types {
        if TYPES.contains(&type_.as_str()) && !filter.types.contains(type_) {
            filter.types.push(type_.clone());
        }
    }
    if filter.types.is_empty() && !requested_types.is_empty() {
        // Only unknown types: none match (rather than all).
        return Reply::sync(json!([]));
    }
    filter.keys = comma_list(&request.query_all("keys"));
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
        state = shared
            .changed
            .wait_timeout(state, remaining)
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .0;
    }
}

/// Pebble's `sanitizeUserIDFilter`.
fn parse_user_id(values: &[&str]) -> Result<u32, String> {
    let ids = comma_list(values);
    let [id] = ids.as_slice() else {
        return Err("must only include one \"user-id\"".into());
    };
    let number: i64 = id
        .parse()
        .map_err(|_| format!("strconv.ParseInt: parsing {id:?}: invalid syntax"))?;
    u32::try_from(number).map_err(|_| format!("user ID is not a valid uint32: {number}"))
}

/// `GET /v1/notices/<id>`.
pub(super) fn one(shared: &Shared, id: &str) -> Reply {
    let state = shared.lock();
    let now = SystemTime::now();
    match state
        .notices
        .notices
        .iter()
        .find(|n| n.id.to_string() == id && !n.expired(now))
    {
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
pub(super) fn add(shared: &Shared, request: &HttpRequest) -> Reply {
    let payload: AddPayload = match decode(request, "request body") {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn custom_keys_follow_pebbles_pattern() {
        for good in [
            "example.com/db-ready",
            "a.b/c",
            "canonical.com/x/y-z/0",
            "my-site.example.org/p",
        ] {
            assert_eq!(check_custom_key(good), Ok(()), "{good}");
        }
        for bad in [
            "",
            "example.com",
            "example/path",
            "example.com/",
            "example.com//x",
            "Example.com/x",
            "exa--mple.com/x",
            "-example.com/x",
            "example.com/x-",
            "example.com/a.b",
            ".example.com/x",
            "example..com/x",
            "example.com/x y",
        ] {
            assert!(check_custom_key(bad).is_err(), "{bad:?}");
        }
        let long = format!("example.com/{}", "a".repeat(MAX_KEY_LENGTH));
        assert_eq!(check_custom_key(&long), Err(NoticeKeyError::TooLong));
    }

    #[test]
    fn repeats_count_and_move_only_after_repeat_after() {
        let mut notices = Notices::default();
        let data = |v: &str| BTreeMap::from([("k".to_string(), v.to_string())]);
        let first = notices.add(Some(1), CUSTOM, "a.b/c", data("1"), Duration::ZERO);
        let other = notices.add(Some(1), CUSTOM, "a.b/d", BTreeMap::new(), Duration::ZERO);
        assert_ne!(first, other);
        // A repeat with no repeat-after moves the notice to the end.
        assert_eq!(
            notices.add(Some(1), CUSTOM, "a.b/c", data("2"), Duration::ZERO),
            first
        );
        let all = notices.all();
        assert_eq!(all[1].id, first);
        assert_eq!(all[1].occurrences, 2);
        assert_eq!(all[1].last_data, data("2"));
        // Within its repeat-after, an occurrence counts but does not move it.
        notices.add(
            Some(1),
            CUSTOM,
            "a.b/d",
            BTreeMap::new(),
            Duration::from_secs(3600),
        );
        let all = notices.all();
        assert_eq!(all[0].id, other);
        assert_eq!(all[0].occurrences, 2);
        assert_eq!(all[0].repeat_after.as_deref(), Some("1h0m0s"));
        assert_ne!(all[0].last_repeated, all[0].last_occurred);
        // Another user's notice with the same key is another notice.
        assert_ne!(
            notices.add(Some(2), CUSTOM, "a.b/c", BTreeMap::new(), Duration::ZERO),
            first
        );
    }
}
