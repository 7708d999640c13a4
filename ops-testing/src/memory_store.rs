//! Persisted state (stored state, deferred notices) kept in memory: what
//! `.unit-state.json` would hold, without a file.

use std::sync::{Arc, Mutex};

use ops::storage::{PersistedState, StateStore, StorageError};

/// A [`StateStore`] over shared memory: clones see the same state, so a
/// test face keeps one across dispatches and hands each dispatch a clone.
#[derive(Clone, Default)]
pub(crate) struct MemoryStore(Arc<Mutex<PersistedState>>);

impl MemoryStore {
    pub(crate) fn new(state: PersistedState) -> Self {
        Self(Arc::new(Mutex::new(state)))
    }

    pub(crate) fn get(&self) -> PersistedState {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

impl StateStore for MemoryStore {
    fn load(&self) -> Result<PersistedState, StorageError> {
        Ok(self.get())
    }

    fn save(&self, state: &PersistedState) -> Result<(), StorageError> {
        *self.0.lock().unwrap_or_else(|e| e.into_inner()) = state.clone();
        Ok(())
    }
}
