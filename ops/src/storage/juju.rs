//! Persisted state in Juju's controller-side unit state.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::sync::Arc;

use super::{PersistedState, StateStore, StorageError};
use crate::backend::Backend;

/// The unit-state key that holds ops-rs' state.
pub const STATE_KEY: &str = "ops-rs-state";

/// Persisted state kept by the Juju controller (`state-get`, `state-set --file -`).
///
/// It survives the loss of the unit's pod, which a file in the charm
/// directory of a Kubernetes charm does not. Juju applies `state-set` only
/// when the hook succeeds, which gives the same commit-or-nothing as the file.
pub struct JujuStateStore {
    backend: Arc<dyn Backend>,
    loaded: RefCell<Option<PersistedState>>,
}

impl JujuStateStore {
    /// State kept through `backend`'s `state-get`/`state-set`.
    pub fn new(backend: Arc<dyn Backend>) -> Self {
        Self {
            backend,
            loaded: RefCell::new(None),
        }
    }
}

impl StateStore for JujuStateStore {
    fn load(&self) -> Result<PersistedState, StorageError> {
        if let Some(state) = self.loaded.borrow().as_ref() {
            return Ok(state.clone());
        }
        let all = self.backend.state_get()?;
        let state = match all.get(STATE_KEY) {
            Some(text) => PersistedState::from_json(text, &format!("juju state key {STATE_KEY}"))?,
            None => PersistedState::default(),
        };
        *self.loaded.borrow_mut() = Some(state.clone());
        Ok(state)
    }

    fn save(&self, state: &PersistedState) -> Result<(), StorageError> {
        let text = serde_json::to_string(state).map_err(|e| StorageError::Corrupt {
            location: format!("juju state key {STATE_KEY}"),
            reason: e.to_string(),
        })?;
        self.backend
            .state_set(&BTreeMap::from([(STATE_KEY.to_string(), text)]))?;
        *self.loaded.borrow_mut() = Some(state.clone());
        Ok(())
    }
}
