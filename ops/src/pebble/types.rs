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

/// One entry of `GET /v1/checks`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct CheckInfo {
    /// The check's name.
    pub name: String,
    /// `alive`, `ready` or empty.
    #[serde(default)]
    pub level: String,
    /// `up`, `down` or `inactive` (a stopped check).
    pub status: String,
    /// How many times in a row it failed.
    #[serde(default)]
    pub failures: u32,
    /// After how many failures it is `down`.
    #[serde(default)]
    pub threshold: u32,
    /// The change running the check, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub change_id: Option<String>,
}

impl CheckInfo {
    /// Whether the check is up.
    pub fn is_up(&self) -> bool {
        self.status == "up"
    }
}

/// One entry of `GET /v1/notices`. `last_data` comes from the workload:
/// treat it as remote data (its `Debug` shows the keys only).
#[derive(Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct PebbleNotice {
    /// The notice's id.
    pub id: String,
    /// `custom`, `change-update`, `warning`, ...
    #[serde(rename = "type")]
    pub type_: String,
    /// Its key (`example.com/db-ready` for custom notices).
    pub key: String,
    /// When it first occurred (RFC 3339).
    #[serde(default)]
    pub first_occurred: String,
    /// When it last occurred.
    #[serde(default)]
    pub last_occurred: String,
    /// How many times it occurred.
    #[serde(default)]
    pub occurrences: u64,
    /// The data of its last occurrence.
    #[serde(default)]
    pub last_data: std::collections::BTreeMap<String, String>,
}

impl fmt::Debug for PebbleNotice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PebbleNotice")
            .field("id", &self.id)
            .field("type", &self.type_)
            .field("key", &self.key)
            .field("occurrences", &self.occurrences)
            .field("last_data_keys", &self.last_data.keys().collect::<Vec<_>>())
            .finish()
    }
}
