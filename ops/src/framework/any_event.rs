//! One observer for every event: the reconcile pattern.

use serde_json::Value;

use super::events::{Event, event_key};

/// What an observer of every event
/// ([`Framework::observe_every`](super::Framework::observe_every)) is given:
/// the event's name and its data, to be read as its type when it matters.
///
/// ```
/// use ops::events::{ConfigChanged, RelationChanged};
/// use ops::AnyEvent;
///
/// let event = AnyEvent::new("db_relation_changed", serde_json::json!({
///     "relation": {"id": 3, "name": "db"}, "app": "postgresql", "unit": "postgresql/0",
/// }));
/// assert_eq!(event.name(), "db_relation_changed");
/// assert!(event.is::<RelationChanged>());
/// assert!(!event.is::<ConfigChanged>());
/// assert!(event.get::<ConfigChanged>().is_none());
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct AnyEvent {
    name: String,
    snapshot: Value,
}

impl AnyEvent {
    /// An event by its name (`config_changed`, `db_relation_changed`, a
    /// custom event's `namespace.kind`) and its data as the dispatch saves
    /// it; for tests of a reconcile handler.
    pub fn new(name: impl Into<String>, snapshot: Value) -> Self {
        Self {
            name: name.into(),
            snapshot,
        }
    }

    /// The event's name: the Juju hook's with `_` for `-`
    /// (`db_relation_changed`, `pgbouncer_pebble_ready`), or a custom
    /// event's `namespace.kind`.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Whether it is an `E`, on whichever endpoint, container or storage
    /// (`is::<RelationChanged>()` for `db_relation_changed`).
    pub fn is<E: Event>(&self) -> bool {
        let key = event_key::<E>();
        self.name == key
            || (E::NAMESPACE.is_empty()
                && self
                    .name
                    .strip_suffix(key.as_str())
                    .is_some_and(|scope| scope.len() > 1 && scope.ends_with('_')))
    }

    /// The event as an `E`, if it is one and its data fits the type.
    pub fn get<E: Event>(&self) -> Option<E> {
        if self.is::<E>() {
            E::deserialize(&self.snapshot).ok()
        } else {
            None
        }
    }

    /// Whether an observer of every event sees this event: not the
    /// collect-status events (status comes from their own observers), nor
    /// actions (an action is asked for, not a change to reconcile), nor the
    /// framework's own `pre_commit` and `commit` (the end of the dispatch,
    /// not an event in the model).
    pub(crate) fn observes(event: &str) -> bool {
        let action = !event.contains('.') && event.ends_with("_action");
        !(action
            || matches!(
                event,
                "collect_unit_status" | "collect_app_status" | "pre_commit" | "commit"
            ))
    }
}
