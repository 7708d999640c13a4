//! ops
pub mod backend;
