//! What Pebble reports: system info, service status, changes.

use std::fmt;

use serde::{Deserialize, Serialize};

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

/// Whether a service starts on replan and autostart.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ServiceStartup {
    /// `enabled`.
    Enabled,
    /// `disabled` (also what Pebble reports when the layer leaves it unset).
    Disabled,
    /// A value this client does not know.
    #[serde(other)]
    Unknown,
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
    /// Its startup setting.
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
        assert_eq!(infos[1].startup, ServiceStartup::Unknown);
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
}

/// Whether a check is started on replan and when its layer is added.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CheckStartup {
    /// `enabled` (also what Pebble reports when the layer leaves it unset).
    Enabled,
    /// `disabled`: inactive until started with [`Client::start_checks`](super::Client::start_checks).
    Disabled,
    /// A value this client does not know.
    #[serde(other)]
    Unknown,
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
    /// `alive`, `ready` or empty (Pebble leaves it out when unset).
    #[serde(default)]
    pub level: String,
    /// Its startup setting (Pebble before 1.14 did not send it: `enabled`).
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
