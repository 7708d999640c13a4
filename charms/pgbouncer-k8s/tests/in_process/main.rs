//! pgbouncer-k8s' in-process tests (Harness and `Context`), in one test
//! binary: each file is a module of it, on a subject of its own.
//!
//! One binary, not one per file. Each test target is a crate that
//! compiles the generic code it uses (the Harness and the dispatch of
//! this charm, serde, the fakes) over again, and is a process that starts
//! and builds its own set-ups. One binary builds that code once, starts
//! once, and builds each set-up `support` keeps (a started leader, a
//! started follower) once for every module that asks for it.

#[path = "../support/mod.rs"]
mod support;

mod client_tls;
mod harness;
mod hostile_clients;
mod lifecycle;
mod observability;
mod state_transitions;
