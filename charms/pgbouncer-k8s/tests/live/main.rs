//! pgbouncer-k8s against the real PgBouncer and PostgreSQL (Debian's
//! packages; `.ci/run` installs them): one test binary, each file a module
//! of it. The in-process tests, which need neither, are `in_process`.

#[path = "../support/mod.rs"]
mod support;

mod clients;
mod pgbouncer;
