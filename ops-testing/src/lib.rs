//! Test support for ops-rs charms.
