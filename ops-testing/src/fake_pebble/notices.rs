//! Notices as Pebble's state keeps them (`internals/overlord/state/notices.go`):
//! one notice per user, type and key, counting its occurrences. A store of
//! plain data: the state holds it, and the API (`api::notices`) serves it.

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};

use ops::pebble::PebbleNotice;
use serde_json::{Value, json};

use super::util::{format_go_duration, rfc3339};

/// Recorded whenever a change is spawned or changes status; keyed by change id.
pub(crate) const CHANGE_UPDATE: &str = "change-update";
/// Added by clients (`pebble notify`); the only type clients may add.
pub(crate) const CUSTOM: &str = "custom";
/// The types Pebble knows; requests naming others are not errors.
pub(crate) const TYPES: [&str; 3] = [CHANGE_UPDATE, CUSTOM, "warning"];

const MAX_KEY_LENGTH: usize = 256;
pub(crate) const MAX_DATA_SIZE: usize = 4 * 1024;
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
    pub(crate) fn json(&self) -> Value {
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
pub(crate) struct Filter {
    /// Only this user's and public ones; `None`: everyone's.
    pub user_id: Option<u32>,
    pub types: Vec<String>,
    pub keys: Vec<String>,
    /// Only those last repeated after this.
    pub after: Option<SystemTime>,
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

    /// The notice with this id, unless it expired.
    pub fn get(&self, id: &str) -> Option<&Notice> {
        let now = SystemTime::now();
        self.notices
            .iter()
            .find(|n| n.id.to_string() == id && !n.expired(now))
    }

    /// The notices matching `filter`, by last-repeated time.
    pub fn matching(&self, filter: &Filter) -> Vec<&Notice> {
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
