//! What a handler returns.

use super::events::{CollectsStatus, Deferrable, Event};
use crate::model::Status;

/// Any error a handler may give up with; `?` works on every error type.
///
/// A handler error fails the dispatch: nothing is committed, the process exits
/// non-zero, and Juju runs the hook again later with the state as it was.
pub type HandlerError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// What a handler returns: `HandlerResult` (nothing to say), `HandlerResult<Outcome>`
/// (deferrable events), `HandlerResult<Status>` (collect-status).
pub type HandlerResult<T = ()> = Result<T, HandlerError>;

/// How a handler of a deferrable event ended.
///
/// Returning the outcome, rather than calling `defer()` and carrying on as in
/// Python ops, makes it impossible to defer and then keep changing things.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[must_use]
pub enum Outcome {
    /// The event is handled.
    #[default]
    Done,
    /// Not now: hand this event back to this handler at the start of the next
    /// dispatch (before the event Juju sends then).
    Defer,
}

/// What the framework does with a handler's return value.
#[derive(Debug, Default)]
pub(crate) struct Returned {
    pub(crate) defer: bool,
    pub(crate) statuses: Vec<Status>,
}

/// The types a handler of event `E` may return.
#[diagnostic::on_unimplemented(
    message = "a handler of `{E}` cannot return `{Self}`",
    label = "this handler's return type",
    note = "only deferrable events may return `Outcome`; collect-status handlers return `Status`, `Option<Status>` or `Vec<Status>`; every handler may return `()`"
)]
pub trait HandlerOutcome<E: Event> {
    #[doc(hidden)]
    fn into_returned(self) -> ReturnedValue;
}

/// The return value, type-erased (opaque to charm code).
#[doc(hidden)]
#[derive(Debug, Default)]
pub struct ReturnedValue(pub(crate) Returned);

impl<E: Event> HandlerOutcome<E> for () {
    fn into_returned(self) -> ReturnedValue {
        ReturnedValue::default()
    }
}

impl<E: Deferrable> HandlerOutcome<E> for Outcome {
    fn into_returned(self) -> ReturnedValue {
        ReturnedValue(Returned {
            defer: self == Outcome::Defer,
            statuses: Vec::new(),
        })
    }
}

impl<E: CollectsStatus> HandlerOutcome<E> for Status {
    fn into_returned(self) -> ReturnedValue {
        ReturnedValue(Returned {
            defer: false,
            statuses: vec![self],
        })
    }
}

impl<E: CollectsStatus> HandlerOutcome<E> for Option<Status> {
    fn into_returned(self) -> ReturnedValue {
        ReturnedValue(Returned {
            defer: false,
            statuses: self.into_iter().collect(),
        })
    }
}

impl<E: CollectsStatus> HandlerOutcome<E> for Vec<Status> {
    fn into_returned(self) -> ReturnedValue {
        ReturnedValue(Returned {
            defer: false,
            statuses: self,
        })
    }
}
