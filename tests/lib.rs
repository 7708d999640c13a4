//! Workspace-level tests live in `tests/tests/`.
//!
//! The pages of `docs/` below are also compiled by rustdoc, so that their
//! `rust` blocks run as doctests (`cargo test -p workspace-tests --doc`).
//! `tests/tests/docs_blocks.rs` checks that every page with a `rust` block
//! that is not a copy of a file is listed here.

/// `docs/concepts.md`.
#[cfg(doctest)]
#[doc = include_str!("../docs/concepts.md")]
pub struct ConceptsMd;

/// `docs/testing.md`.
#[cfg(doctest)]
#[doc = include_str!("../docs/testing.md")]
pub struct TestingMd;
