//! Test Rust charms as Juju runs them.
//!
//! - [`Harness`]: in-process tests, through the same dispatch as Juju, over
//!   a fake model ([`fake_juju`]) and a fake Pebble ([`fake_pebble`]).
//! - [`Context`] and [`State`]: unit tests as state transitions (one event,
//!   a state in, a state out), on the Harness's engine.
//! - [`sim`]: the compiled charm binary, one process per hook, several units,
//!   with the `juju-hook-tool` executables on `PATH` (the `ops-sim` binary).
//!
//! See `docs/testing.md` in the repository for both, with examples.

#![deny(missing_docs)]

pub mod binaries;
pub mod context;
pub mod fake_juju;
pub mod fake_pebble;
mod formats;
pub mod harness;
mod invocation;
pub mod live;
mod memo;
mod memory_store;
pub mod new_charm;
mod scratch;
pub mod sim;

pub use context::{Context, State};
pub use harness::{ActionOutput, Harness, HarnessError, HarnessSnapshot};
