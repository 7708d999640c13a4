//! State a charm keeps across dispatches.

use std::cell::{Ref, RefCell, RefMut};
use std::rc::Rc;

use serde::Serialize;
use serde::de::DeserializeOwned;

/// A value kept across dispatches, saved when the dispatch commits.
///
/// One handle, not `Clone`: reading it while it is being changed is a
/// compile error, not a panic.
///
/// ```compile_fail,E0502
/// # use serde::{Deserialize, Serialize};
/// # #[derive(Default, Serialize, Deserialize)]
/// # struct Counters { started: u32 }
/// # fn demo(mut stored: ops::StoredState<Counters>) {
/// let read = stored.get();
/// stored.get_mut().started += 1; // error: `stored` is also borrowed by `read`
/// assert_eq!(read.started, 0);
/// # }
/// ```
///
/// Get one with [`Framework::stored_state`](super::Framework::stored_state) in
/// [`Charm::new`](crate::Charm::new) and keep it in the charm. A dispatch that
/// fails saves nothing: the next one sees the value as the last successful
/// dispatch left it.
///
/// ```
/// # use serde::{Deserialize, Serialize};
/// #[derive(Default, Serialize, Deserialize)]
/// struct Counters { started: u32 }
///
/// # fn demo(mut stored: ops::StoredState<Counters>) {
/// stored.get_mut().started += 1;
/// assert!(stored.get().started > 0);
/// # }
/// ```
pub struct StoredState<T> {
    key: Rc<str>,
    value: Rc<RefCell<T>>,
}

/// The key only: stored state may hold credentials.
impl<T> std::fmt::Debug for StoredState<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoredState")
            .field("key", &self.key)
            .finish_non_exhaustive()
    }
}

impl<T: Serialize + DeserializeOwned + Default + 'static> StoredState<T> {
    pub(crate) fn new(key: String, value: T) -> Self {
        Self {
            key: key.into(),
            value: Rc::new(RefCell::new(value)),
        }
    }

    /// Where it is kept, e.g. `MyCharm/StoredState[counters]`.
    pub fn key(&self) -> &str {
        &self.key
    }

    /// Borrows the value.
    pub fn get(&self) -> Ref<'_, T> {
        // Cannot fail: the one other holder, the framework, borrows only
        // at commit, after every handler returned, and a mutable borrow
        // needs `&mut self` (the compiler keeps it apart from this one).
        self.value.borrow()
    }

    /// Borrows the value mutably: `&mut self`, so that no read of the
    /// same handle can be alive meanwhile (checked by the compiler, not
    /// at run time).
    pub fn get_mut(&mut self) -> RefMut<'_, T> {
        self.value.borrow_mut()
    }

    /// Replaces the value, returning the old one.
    pub fn replace(&mut self, value: T) -> T {
        self.value.replace(value)
    }

    /// The framework's own handle on the value, for the commit's snapshot.
    pub(crate) fn framework_handle(&self) -> Self {
        Self {
            key: self.key.clone(),
            value: self.value.clone(),
        }
    }

    pub(crate) fn snapshot(&self) -> Result<serde_json::Value, serde_json::Error> {
        serde_json::to_value(&*self.value.borrow())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_shows_the_key_not_the_value() {
        let stored = StoredState::new("C/StoredState[s]".into(), "hunter2".to_string());
        let shown = format!("{stored:?}");
        assert!(shown.contains("C/StoredState[s]"), "{shown}");
        assert!(!shown.contains("hunter2"), "{shown}");
    }
}
