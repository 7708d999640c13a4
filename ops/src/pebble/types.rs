//! What Pebble reports: system info, service status, changes.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::{CheckLevel, CheckStartup, ServiceStartup};

/// `GET /v1/system-info`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct SystemInfo {
    /// Pebble's version.
    pub version: String,
    /// The boot id of the machine Pebble runs on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub boot_id: Option<String>,
    /// The HTTP address, if Pebble also listens on TCP.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http_address: Option<String>,
}

/// A service's current state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ServiceStatus {
    /// Running (or starting).
    Active,
    /// Not running: never started, or stopped.
    Inactive,
    /// Exited and waiting to be restarted.
    Backoff,
    /// Exited and not going to be restarted.
    Error,
    /// A value this client does not know.
    #[serde(other)]
    Unknown,
}

impl ServiceStatus {
    /// Pebble's name for it (`active`, `inactive`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::Inactive => "inactive",
            Self::Backoff => "backoff",
            Self::Error => "error",
            Self::Unknown => "unknown",
        }
    }
}

impl fmt::Display for ServiceStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One entry of `GET /v1/services`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct ServiceInfo {
    /// The service name.
    pub name: String,
    /// Its startup setting: Pebble reports an unset one as `disabled`, and
    /// a word this client does not know (from a newer Pebble) as
    /// [`ServiceStartup::Other`], so that the other services still read.
    pub startup: ServiceStartup,
    /// Its current state.
    pub current: ServiceStatus,
    /// When it entered that state (RFC 3339), if Pebble says.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub current_since: Option<String>,
}

impl ServiceInfo {
    /// Whether the service is running.
    pub fn is_running(&self) -> bool {
        self.current == ServiceStatus::Active
    }
}

/// A change: a set of tasks Pebble runs for one request (such as "start these services").
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct Change {
    /// The change id.
    pub id: String,
    /// What it does (`start`, `stop`, `restart`, `replan`, `autostart`, ...).
    pub kind: String,
    /// A human summary.
    pub summary: String,
    /// `Do`, `Doing`, `Done`, `Error`, ...
    pub status: String,
    /// Its tasks.
    #[serde(default)]
    pub tasks: Vec<Task>,
    /// Whether it finished (done or failed).
    pub ready: bool,
    /// Why it failed, if it did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub err: Option<String>,
    /// When it was created (RFC 3339).
    pub spawn_time: String,
    /// When it finished (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ready_time: Option<String>,
    /// Change-specific data.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data: Option<serde_json::Value>,
}

/// One task of a [`Change`].
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct Task {
    /// The task id.
    pub id: String,
    /// What it does (`start`, `stop`, ...).
    pub kind: String,
    /// A human summary, such as `Start service "web"`.
    pub summary: String,
    /// `Do`, `Doing`, `Done`, `Error`, ...
    pub status: String,
    /// Log lines (`<time> <LEVEL> <message>`).
    #[serde(default)]
    pub log: Vec<String>,
    /// Progress.
    #[serde(default)]
    pub progress: TaskProgress,
    /// When it was created (RFC 3339).
    pub spawn_time: String,
    /// When it finished (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ready_time: Option<String>,
    /// Task-specific data.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data: Option<serde_json::Value>,
}

/// A task's progress.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct TaskProgress {
    /// What is being counted.
    #[serde(default)]
    pub label: String,
    /// Units done.
    #[serde(default)]
    pub done: u64,
    /// Units in all.
    #[serde(default)]
    pub total: u64,
}

/// Which changes [`Client::get_changes`](super::Client::get_changes) asks
/// for (Pebble's `select` parameter; Python's `ChangeState`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum ChangeState {
    /// Every change Pebble still remembers.
    All,
    /// Changes not ready yet (Pebble's default).
    #[default]
    InProgress,
    /// Changes that are ready: done, failed, held or undone.
    Ready,
}

impl ChangeState {
    /// Pebble's name for it (`all`, `in-progress`, `ready`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::All => "all",
            Self::InProgress => "in-progress",
            Self::Ready => "ready",
        }
    }
}

impl fmt::Display for ChangeState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A notice's type (Python's `NoticeType`), for
/// [`Client::notify_with`](super::Client::notify_with).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum NoticeType {
    /// Recorded by a client or `pebble notify`; the only type a client may add.
    Custom,
    /// Pebble's own, recorded when a change is spawned or changes status.
    ChangeUpdate,
    /// Pebble's warnings.
    Warning,
}

impl NoticeType {
    /// Pebble's name for it (`custom`, `change-update`, `warning`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Custom => "custom",
            Self::ChangeUpdate => "change-update",
            Self::Warning => "warning",
        }
    }
}

impl fmt::Display for NoticeType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What an identity may do in Pebble (its `access`; Python's
/// `IdentityAccess`). Pebble's levels, from most to least: `admin`,
/// `read`, `metrics`, `untrusted`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(from = "String", into = "String")]
#[non_exhaustive]
pub enum IdentityAccess {
    /// Everything, files and exec included.
    Admin,
    /// Reads (services, checks, changes, logs), no writes.
    Read,
    /// `GET /v1/metrics` only.
    Metrics,
    /// What needs no authentication (`/v1/system-info`, `/v1/health`).
    Untrusted,
    /// A level this client does not know (from a newer Pebble), kept as
    /// sent so that a read identity can be written back unchanged.
    Other(String),
}

impl IdentityAccess {
    /// Pebble's name for it.
    pub fn as_str(&self) -> &str {
        match self {
            Self::Admin => "admin",
            Self::Read => "read",
            Self::Metrics => "metrics",
            Self::Untrusted => "untrusted",
            Self::Other(other) => other,
        }
    }
}

impl From<String> for IdentityAccess {
    fn from(text: String) -> Self {
        match text.as_str() {
            "admin" => Self::Admin,
            "read" => Self::Read,
            "metrics" => Self::Metrics,
            "untrusted" => Self::Untrusted,
            _ => Self::Other(text),
        }
    }
}

impl From<IdentityAccess> for String {
    fn from(access: IdentityAccess) -> Self {
        access.as_str().to_string()
    }
}

impl fmt::Display for IdentityAccess {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A local identity: a client on the unix socket whose user id is this.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub struct LocalIdentity {
    /// The Unix user id.
    pub user_id: u32,
}

impl LocalIdentity {
    /// The identity of Unix user `user_id`.
    pub fn new(user_id: u32) -> Self {
        Self { user_id }
    }
}

/// An HTTP basic-authentication identity.
///
/// `password` is a sha512-crypt hash (`openssl passwd -6`) when written;
/// Pebble never gives it back (reads show `*****`). Its `Debug` hides it
/// all the same: a hash can be attacked offline, so it stays out of logs.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct BasicIdentity {
    /// The sha512-crypt hash of the password.
    pub password: String,
}

impl BasicIdentity {
    /// An identity with this sha512-crypt password hash.
    pub fn new(password_hash: impl Into<String>) -> Self {
        Self {
            password: password_hash.into(),
        }
    }
}

impl fmt::Debug for BasicIdentity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BasicIdentity")
            .field("password", &"<redacted>")
            .finish()
    }
}

/// A TLS client-certificate identity (Pebble's `cert` type).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct CertIdentity {
    /// The PEM-encoded X.509 certificate (Pebble shows `*****` on reads).
    pub pem: String,
}

impl CertIdentity {
    /// An identity for this PEM-encoded certificate.
    pub fn new(pem: impl Into<String>) -> Self {
        Self { pem: pem.into() }
    }
}

/// One entry of `GET /v1/identities` (Python's `Identity`): an access
/// level and at least one way to recognise the client.
///
/// ```
/// use ops::pebble::{Identity, IdentityAccess};
///
/// let alice = Identity::local(IdentityAccess::Admin, 1000);
/// let bob = Identity::basic(IdentityAccess::Read, "$6$salt$hash");
/// assert_eq!(alice.local.as_ref().map(|l| l.user_id), Some(1000));
/// assert!(!format!("{bob:?}").contains("$6$"), "the hash stays out of Debug");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Identity {
    /// What it may do.
    pub access: IdentityAccess,
    /// Recognised by its Unix user id on the socket.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub local: Option<LocalIdentity>,
    /// Recognised by HTTP basic authentication.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub basic: Option<BasicIdentity>,
    /// Recognised by its TLS client certificate.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cert: Option<CertIdentity>,
}

impl Identity {
    /// A local identity: the Unix user `user_id`.
    pub fn local(access: IdentityAccess, user_id: u32) -> Self {
        Self {
            access,
            local: Some(LocalIdentity::new(user_id)),
            basic: None,
            cert: None,
        }
    }

    /// A basic identity with this sha512-crypt password hash.
    pub fn basic(access: IdentityAccess, password_hash: impl Into<String>) -> Self {
        Self {
            access,
            local: None,
            basic: Some(BasicIdentity::new(password_hash)),
            cert: None,
        }
    }

    /// A certificate identity for this PEM-encoded certificate.
    pub fn cert(access: IdentityAccess, pem: impl Into<String>) -> Self {
        Self {
            access,
            local: None,
            basic: None,
            cert: Some(CertIdentity::new(pem)),
        }
    }

    /// Also recognised by its Unix user id.
    pub fn with_local(mut self, user_id: u32) -> Self {
        self.local = Some(LocalIdentity::new(user_id));
        self
    }

    /// Also recognised by HTTP basic authentication.
    pub fn with_basic(mut self, password_hash: impl Into<String>) -> Self {
        self.basic = Some(BasicIdentity::new(password_hash));
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn service_info_tolerates_unknown_states() {
        let infos: Vec<ServiceInfo> = serde_json::from_str(
            r#"[{"name":"a","startup":"enabled","current":"active","current-since":"2024-01-01T00:00:00Z"},
                {"name":"b","startup":"weird","current":"paused"}]"#,
        )
        .unwrap();
        assert!(infos[0].is_running());
        assert_eq!(
            infos[0].current_since.as_deref(),
            Some("2024-01-01T00:00:00Z")
        );
        assert_eq!(infos[1].startup, ServiceStartup::Other("weird".into()));
        assert_eq!(infos[1].current, ServiceStatus::Unknown);
        assert!(!infos[1].is_running());
        assert_eq!(ServiceStatus::Inactive.to_string(), "inactive");
    }

    #[test]
    fn change_parses_pebbles_example() {
        // The example of `GET /v1/changes/{id}/wait` in Pebble's API reference.
        let change: Change = serde_json::from_str(
            r#"{"id":"38","kind":"autostart","summary":"Autostart service \"svc1\" and 1 more",
                "status":"Done","tasks":[{"id":"54","kind":"start","summary":"Start service \"svc1\"",
                "status":"Done","progress":{"label":"","done":1,"total":1},
                "spawn-time":"2024-12-27T12:31:26.673287868+08:00",
                "ready-time":"2024-12-27T12:31:27.681780702+08:00"}],"ready":true,
                "spawn-time":"2024-12-27T12:31:26.673297951+08:00",
                "ready-time":"2024-12-27T12:31:27.686371869+08:00"}"#,
        )
        .unwrap();
        assert!(change.ready);
        assert_eq!(change.err, None);
        assert_eq!(change.tasks[0].progress.total, 1);
        assert!(change.tasks[0].log.is_empty());
    }

    #[test]
    fn identities_round_trip_and_hide_the_hash() {
        let read: std::collections::BTreeMap<String, Identity> = serde_json::from_str(
            r#"{"alice":{"access":"admin","local":{"user-id":1000}},
                "bob":{"access":"read","basic":{"password":"*****"}},
                "eve":{"access":"superuser","local":{"user-id":0}}}"#,
        )
        .unwrap();
        assert_eq!(read["alice"], Identity::local(IdentityAccess::Admin, 1000));
        assert_eq!(read["bob"].basic.as_ref().unwrap().password, "*****");
        assert_eq!(
            read["eve"].access,
            IdentityAccess::Other("superuser".into())
        );
        assert_eq!(
            serde_json::to_value(&read["eve"]).unwrap(),
            serde_json::json!({"access": "superuser", "local": {"user-id": 0}})
        );
        let secret = Identity::basic(IdentityAccess::Read, "$6$salt$secrethash");
        assert_eq!(
            serde_json::to_value(&secret).unwrap(),
            serde_json::json!({"access": "read", "basic": {"password": "$6$salt$secrethash"}})
        );
        assert!(!format!("{secret:?}").contains("secrethash"), "{secret:?}");
    }
}

/// A check's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CheckStatus {
    /// Running, and it has failed fewer times in a row than its threshold.
    Up,
    /// Running, and it has failed at least its threshold times in a row.
    Down,
    /// Not running: stopped, or `startup: disabled` and never started.
    Inactive,
    /// A value this client does not know.
    #[serde(other)]
    Unknown,
}

impl CheckStatus {
    /// Pebble's name for it (`up`, `down`, `inactive`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Up => "up",
            Self::Down => "down",
            Self::Inactive => "inactive",
            Self::Unknown => "unknown",
        }
    }
}

impl fmt::Display for CheckStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

fn enabled() -> CheckStartup {
    CheckStartup::Enabled
}

/// One entry of `GET /v1/checks` (Pebble's `client.CheckInfo`).
///
/// ```
/// let info: ops::pebble::CheckInfo = serde_json::from_str(
///     r#"{"name":"up","level":"alive","startup":"enabled","status":"down",
///         "successes":4,"failures":3,"threshold":3,"change-id":"9","prev-change-id":"2"}"#,
/// ).unwrap();
/// assert_eq!(info.status, ops::pebble::CheckStatus::Down);
/// assert!(!info.is_up());
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct CheckInfo {
    /// The check's name.
    pub name: String,
    /// Its level; `None` when its layer leaves it unset (Pebble leaves it
    /// out then). A word this client does not know is
    /// [`CheckLevel::Other`], not an error.
    #[serde(
        default,
        deserialize_with = "super::layer_values::unset_if_empty",
        skip_serializing_if = "Option::is_none"
    )]
    pub level: Option<CheckLevel>,
    /// Its startup setting: Pebble reports an unset one as `enabled`, and
    /// before 1.14 did not send it (`enabled` then too).
    #[serde(default = "enabled")]
    pub startup: CheckStartup,
    /// Up, down or inactive.
    pub status: CheckStatus,
    /// How many times it succeeded since it was started or last
    /// recovered; `None` from a Pebble too old to say.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub successes: Option<u32>,
    /// How many times in a row it failed (Pebble leaves out zero).
    #[serde(default)]
    pub failures: u32,
    /// After how many failures in a row it is down.
    #[serde(default)]
    pub threshold: u32,
    /// The change running the check (`perform-check` while up,
    /// `recover-check` while down); `None` while inactive.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub change_id: Option<String>,
    /// The change that ran it before the current one, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prev_change_id: Option<String>,
}

impl CheckInfo {
    /// Whether the check is up.
    pub fn is_up(&self) -> bool {
        self.status == CheckStatus::Up
    }
}

/// One entry of `GET /v1/notices` (Pebble's `client.Notice`). `last_data`
/// comes from the workload: treat it as remote data (its `Debug` shows the
/// keys only).
#[derive(Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct PebbleNotice {
    /// The notice's id.
    pub id: String,
    /// The user who may see it; `None` for a public notice (Pebble's own,
    /// such as `change-update`).
    #[serde(default)]
    pub user_id: Option<u32>,
    /// `custom`, `change-update`, `warning`, ...
    #[serde(rename = "type")]
    pub type_: String,
    /// Its key (`example.com/db-ready` for custom notices, the change id
    /// for `change-update`).
    pub key: String,
    /// When it first occurred (RFC 3339).
    #[serde(default)]
    pub first_occurred: String,
    /// When it last occurred.
    #[serde(default)]
    pub last_occurred: String,
    /// When it last repeated: Pebble lists notices in this order, and
    /// an occurrence within `repeat_after` of this time does not move it.
    #[serde(default)]
    pub last_repeated: String,
    /// How many times it occurred.
    #[serde(default)]
    pub occurrences: u64,
    /// The data of its last occurrence.
    #[serde(default)]
    pub last_data: std::collections::BTreeMap<String, String>,
    /// The repeat-after of its last occurrence (a Go duration such as
    /// `1h0m0s`), if it had one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repeat_after: Option<String>,
    /// How long after its last occurrence Pebble drops it (a Go duration;
    /// Pebble's default is `168h0m0s`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expire_after: Option<String>,
}

impl fmt::Debug for PebbleNotice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PebbleNotice")
            .field("id", &self.id)
            .field("user_id", &self.user_id)
            .field("type", &self.type_)
            .field("key", &self.key)
            .field("first_occurred", &self.first_occurred)
            .field("last_occurred", &self.last_occurred)
            .field("last_repeated", &self.last_repeated)
            .field("occurrences", &self.occurrences)
            .field("last_data_keys", &self.last_data.keys().collect::<Vec<_>>())
            .field("repeat_after", &self.repeat_after)
            .field("expire_after", &self.expire_after)
            .finish()
    }
}

/// Which warnings [`Client::get_warnings`](super::Client::get_warnings) lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum WarningState {
    /// Those not acknowledged since they were last raised.
    #[default]
    Pending,
    /// Every warning Pebble holds.
    All,
}

impl WarningState {
    /// The `select` value Pebble takes.
    pub fn as_str(self) -> &'static str {
        match self {
            WarningState::Pending => "pending",
            WarningState::All => "all",
        }
    }
}

/// A warning Pebble raised (`GET /v1/warnings`).
///
/// ```
/// let json = r#"{"message": "disk nearly full", "first-added": "2025-01-31T12:00:00Z",
///     "last-added": "2025-01-31T13:00:00.5Z", "expire-after": "672h0m0s", "repeat-after": "24h0m0s"}"#;
/// let w: ops::pebble::Warning = serde_json::from_str(json).unwrap();
/// assert_eq!(w.message, "disk nearly full");
/// assert!(w.last_added > w.first_added);
/// assert_eq!(w.last_shown, None);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub struct Warning {
    /// What is wrong.
    pub message: String,
    /// When it was first raised.
    #[serde(deserialize_with = "time")]
    pub first_added: std::time::SystemTime,
    /// When it was last raised.
    #[serde(deserialize_with = "time")]
    pub last_added: std::time::SystemTime,
    /// When it was last acknowledged, if it was.
    #[serde(default, deserialize_with = "optional_time")]
    pub last_shown: Option<std::time::SystemTime>,
    /// How long after it was last raised it is dropped (a Go duration).
    #[serde(default)]
    pub expire_after: String,
    /// How long after it is acknowledged it is pending again if raised
    /// again (a Go duration).
    #[serde(default)]
    pub repeat_after: String,
}

fn time<'de, D: serde::Deserializer<'de>>(d: D) -> Result<std::time::SystemTime, D::Error> {
    let text = String::deserialize(d)?;
    crate::rfc3339::parse(&text).map_err(serde::de::Error::custom)
}

fn optional_time<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> Result<Option<std::time::SystemTime>, D::Error> {
    match Option::<String>::deserialize(d)? {
        None => Ok(None),
        Some(text) if text.is_empty() => Ok(None),
        Some(text) => crate::rfc3339::parse(&text)
            .map(Some)
            .map_err(serde::de::Error::custom),
    }
}

/// Whose notices [`NoticeQuery`] asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum NoticeUsers {
    /// The caller's own and public ones (Pebble's default).
    #[default]
    Caller,
    /// Every user's (an admin's request).
    All,
    /// One user's, by id, and public ones (an admin's request).
    Id(u32),
}

/// What [`Client::get_notices_with`](super::Client::get_notices_with)
/// asks for: types, keys, and whose notices.
///
/// ```
/// use ops::pebble::{NoticeQuery, NoticeUsers};
///
/// let q = NoticeQuery::new().with_types(["custom"]).with_keys(["example.com/a"]).with_users(NoticeUsers::All);
/// assert_eq!(q.users, NoticeUsers::All);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct NoticeQuery {
    /// Only these types (`custom`, `change-update`, ...); all if empty.
    pub types: Vec<String>,
    /// Only these keys; all if empty.
    pub keys: Vec<String>,
    /// Whose.
    pub users: NoticeUsers,
}

impl NoticeQuery {
    /// Every notice the caller may see.
    pub fn new() -> Self {
        Self::default()
    }

    /// Only these types.
    pub fn with_types<'a>(mut self, types: impl IntoIterator<Item = &'a str>) -> Self {
        self.types = types.into_iter().map(str::to_string).collect();
        self
    }

    /// Only these keys.
    pub fn with_keys<'a>(mut self, keys: impl IntoIterator<Item = &'a str>) -> Self {
        self.keys = keys.into_iter().map(str::to_string).collect();
        self
    }

    /// Whose notices.
    pub fn with_users(mut self, users: NoticeUsers) -> Self {
        self.users = users;
        self
    }
}
