//! `tracing` events forwarded to `juju-log`.

use std::fmt::Write as _;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Level, Metadata, Subscriber};

use crate::backend::{Backend, LogLevel};

/// A `tracing` subscriber that sends every event at or above a level to
/// `juju-log`, so that a charm's logs land in `juju debug-log`.
///
/// Installed by the dispatch for the length of one dispatch. If `juju-log`
/// itself fails, the line goes to stderr (which Juju also captures).
pub struct JujuLogSubscriber {
    backend: Arc<dyn Backend>,
    max_level: Level,
    next_span: AtomicU64,
}

impl JujuLogSubscriber {
    /// Forwards events at `max_level` and above (`Level::DEBUG` forwards all but trace).
    pub fn new(backend: Arc<dyn Backend>, max_level: Level) -> Self {
        Self {
            backend,
            max_level,
            next_span: AtomicU64::new(1),
        }
    }
}

/// Juju's level for a `tracing` level.
pub fn juju_level(level: &Level) -> LogLevel {
    match *level {
        Level::ERROR => LogLevel::Error,
        Level::WARN => LogLevel::Warning,
        Level::INFO => LogLevel::Info,
        _ => LogLevel::Debug,
    }
}

#[derive(Default)]
struct MessageVisitor {
    message: String,
    fields: String,
}

impl Visit for MessageVisitor {
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.message.push_str(value);
        } else {
            let _ = write!(self.fields, " {}={value}", field.name());
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            let _ = write!(self.message, "{value:?}");
        } else {
            let _ = write!(self.fields, " {}={value:?}", field.name());
        }
    }
}

impl Subscriber for JujuLogSubscriber {
    fn enabled(&self, metadata: &Metadata<'_>) -> bool {
        *metadata.level() <= self.max_level
    }

    fn new_span(&self, _: &Attributes<'_>) -> Id {
        Id::from_u64(self.next_span.fetch_add(1, Ordering::Relaxed))
    }

    fn record(&self, _: &Id, _: &Record<'_>) {}

    fn record_follows_from(&self, _: &Id, _: &Id) {}

    fn event(&self, event: &Event<'_>) {
        let mut visitor = MessageVisitor::default();
        event.record(&mut visitor);
        let line = format!("{}{}", visitor.message, visitor.fields);
        let level = juju_level(event.metadata().level());
        if let Err(e) = self.backend.juju_log(level, &line) {
            eprintln!("{}: {line} (juju-log failed: {e})", level.as_str());
        }
    }

    fn enter(&self, _: &Id) {}

    fn exit(&self, _: &Id) {}
}
