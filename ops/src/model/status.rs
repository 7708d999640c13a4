//! Workload status.

use crate::backend::{StatusInfo, StatusName};

/// A unit or application status: a name and a message.
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

    /// Needs a human.
    pub fn blocked(message: impl Into<String>) -> Self {
        Self::new(StatusName::Blocked, message)
    }

    /// Busy with work that needs no human.
    pub fn maintenance(message: impl Into<String>) -> Self {
        Self::new(StatusName::Maintenance, message)
    }

    /// Waiting for something outside the charm.
    pub fn waiting(message: impl Into<String>) -> Self {
        Self::new(StatusName::Waiting, message)
    }

    /// No status.
    pub fn unknown() -> Self {
        Self::new(StatusName::Unknown, "")
    }

    /// Collect-status picks the highest: error > blocked > maintenance > waiting > active > unknown.
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
}
