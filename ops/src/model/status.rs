//! Workload status: this unit's, and (on the leader) the application's.

use std::fmt;

use super::{Model, ModelError};
use crate::backend::{StatusInfo, StatusName};
use crate::redact::{MAX_TEXT, bounded_text};

/// A unit or application status: a name and a message.
///
/// ```
/// use ops::Status;
///
/// let worst = [Status::active(""), Status::blocked("needs a db"), Status::waiting("db")]
///     .into_iter()
///     .max_by_key(Status::priority);
/// assert_eq!(worst, Some(Status::blocked("needs a db")));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Status {
    /// Which status.
    pub name: StatusName,
    /// The message beside it.
    pub message: String,
}

impl Status {
    fn new(name: StatusName, message: impl Into<String>) -> Self {
        Self {
            name,
            message: message.into(),
        }
    }

    /// Serving.
    pub fn active(message: impl Into<String>) -> Self {
        Self::new(StatusName::Active, message)
    }

    /// Needs a human to act (bad config, a missing relation).
    pub fn blocked(message: impl Into<String>) -> Self {
        Self::new(StatusName::Blocked, message)
    }

    /// Busy with work that needs no human.
    pub fn maintenance(message: impl Into<String>) -> Self {
        Self::new(StatusName::Maintenance, message)
    }

    /// Waiting for something outside the charm (another application).
    pub fn waiting(message: impl Into<String>) -> Self {
        Self::new(StatusName::Waiting, message)
    }

    /// No status yet. Juju's, read back; a charm cannot set it.
    pub fn unknown() -> Self {
        Self::new(StatusName::Unknown, "")
    }

    /// How much this status matters when several are collected; the highest
    /// wins: error > blocked > maintenance > waiting > active > unknown.
    pub fn priority(&self) -> u8 {
        match self.name {
            StatusName::Error => 5,
            StatusName::Blocked => 4,
            StatusName::Maintenance => 3,
            StatusName::Waiting => 2,
            StatusName::Active => 1,
            StatusName::Unknown => 0,
        }
    }

    /// The same status with its message fit for argv.
    fn bounded(self) -> Self {
        Self {
            message: bounded_text(&self.message, MAX_TEXT),
            ..self
        }
    }

    /// Whether a charm may set this status (`error` and `unknown` are Juju's).
    pub fn is_settable(&self) -> bool {
        !matches!(self.name, StatusName::Error | StatusName::Unknown)
    }
}

impl fmt::Display for Status {
    /// `blocked: needs a db`, or just `active` without a message.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.message.is_empty() {
            write!(f, "{}", self.name)
        } else {
            write!(f, "{}: {}", self.name, self.message)
        }
    }
}

impl From<StatusInfo> for Status {
    fn from(info: StatusInfo) -> Self {
        Self::new(info.name, info.message)
    }
}

impl From<Status> for StatusInfo {
    fn from(status: Status) -> Self {
        StatusInfo::new(status.name, status.message)
    }
}

impl Model {
    fn check_settable(status: &Status) -> Result<(), ModelError> {
        if status.is_settable() {
            Ok(())
        } else {
            Err(ModelError::InvalidStatus {
                status: status.name,
            })
        }
    }

    fn require_leader(&self, operation: &str) -> Result<(), ModelError> {
        if self.is_leader()? {
            Ok(())
        } else {
            Err(ModelError::NotLeader {
                operation: operation.to_string(),
            })
        }
    }

    /// Sets this unit's status (`status-set`). Charms that collect status
    /// with a `CollectUnitStatus` handler rarely need this. The message is
    /// cut to [`MAX_TEXT`] bytes and loses control
    /// characters other than newline and tab.
    pub fn set_unit_status(&self, status: Status) -> Result<(), ModelError> {
        Self::check_settable(&status)?;
        let status = status.bounded();
        self.backend
            .status_set(false, &status.clone().into())
            .map_err(ModelError::backend("setting the unit status"))?;
        *self.unit_status.borrow_mut() = Some(status);
        Ok(())
    }

    /// This unit's status: what this dispatch set, or else `status-get` (once).
    pub fn unit_status(&self) -> Result<Status, ModelError> {
        if let Some(status) = self.unit_status.borrow().as_ref() {
            return Ok(status.clone());
        }
        let status = Status::from(
            self.backend
                .status_get(false)
                .map_err(ModelError::backend("reading the unit status"))?,
        );
        *self.unit_status.borrow_mut() = Some(status.clone());
        Ok(status)
    }

    /// Sets the application's status. Only the leader may:
    /// [`ModelError::NotLeader`] otherwise, and `status-set` is not called.
    pub fn set_app_status(&self, status: Status) -> Result<(), ModelError> {
        Self::check_settable(&status)?;
        let status = status.bounded();
        self.require_leader("set the application status")?;
        self.backend
            .status_set(true, &status.clone().into())
            .map_err(ModelError::backend("setting the application status"))?;
        *self.app_status.borrow_mut() = Some(status);
        Ok(())
    }

    /// The application's status (leader only, as in Juju): what this dispatch
    /// set, or else `status-get --application` (once).
    pub fn app_status(&self) -> Result<Status, ModelError> {
        self.require_leader("read the application status")?;
        if let Some(status) = self.app_status.borrow().as_ref() {
            return Ok(status.clone());
        }
        let status = Status::from(
            self.backend
                .status_get(true)
                .map_err(ModelError::backend("reading the application status"))?,
        );
        *self.app_status.borrow_mut() = Some(status.clone());
        Ok(status)
    }

    /// Sets the workload version `juju status` shows (`application-version-set`),
    /// cut to [`MAX_TEXT`] bytes, control characters removed.
    pub fn set_workload_version(&self, version: &str) -> Result<(), ModelError> {
        self.backend
            .application_version_set(&bounded_text(version, MAX_TEXT))
            .map_err(ModelError::backend("setting the workload version"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn priority_order() {
        let order = [
            Status::unknown(),
            Status::active(""),
            Status::waiting(""),
            Status::maintenance(""),
            Status::blocked(""),
            Status::from(StatusInfo::new(StatusName::Error, "")),
        ];
        for pair in order.windows(2) {
            assert!(pair[0].priority() < pair[1].priority(), "{pair:?}");
        }
    }

    #[test]
    fn converts_to_and_from_status_info() {
        let info: StatusInfo = Status::blocked("needs a db").into();
        assert_eq!(info, StatusInfo::new(StatusName::Blocked, "needs a db"));
        assert_eq!(Status::from(info), Status::blocked("needs a db"));
    }

    #[test]
    fn displays_name_and_message() {
        assert_eq!(
            Status::blocked("needs a db").to_string(),
            "blocked: needs a db"
        );
        assert_eq!(Status::active("").to_string(), "active");
    }

    #[test]
    fn only_four_statuses_are_settable() {
        assert!(Status::active("").is_settable());
        assert!(Status::maintenance("").is_settable());
        assert!(!Status::unknown().is_settable());
        assert!(!Status::from(StatusInfo::new(StatusName::Error, "x")).is_settable());
    }
}
