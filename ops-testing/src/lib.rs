//! Test Rust charms as Juju runs them.
//!
//! - [`Harness`]: in-process tests, through the same dispatch as Juju, over
//!   a fake model ([`fake_juju`]) and a fake Pebble ([`fake_pebble`]).
//! - [`sim`]: the compiled charm binary, one process per hook, several units,
//!   with the `juju-hook-tool` executables on `PATH` (the `ops-sim` binary).
//!
//! See `docs/testing.md` in the repository for both, with examples.

#![deny(missing_docs)]

pub mod binaries;
pub mod fake_juju;
pub mod fake_pebble;
pub mod harness;
pub mod sim;

pub use harness::{ActionOutput, Harness, HarnessError};
