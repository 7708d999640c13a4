//! The Pebble client: talk to the Pebble daemon of a workload container.
//!
//! Juju runs Pebble as PID 1 of each workload container and mounts its
//! socket into the charm container at
//! `/charm/containers/<container>/pebble.socket` ([`socket_path`]). A
//! [`Client`] speaks Pebble's HTTP API over that socket:
//!
//! | call | Pebble API |
//! |---|---|
//! | [`Client::system_info`], [`Client::can_connect`] | `GET /v1/system-info` |
//! | [`Client::add_layer`] | `POST /v1/layers` (action `add`, format `yaml`) |
//! | [`Client::get_plan`] | `GET /v1/plan?format=yaml` |
//! | [`Client::get_services`] | `GET /v1/services?names=...` |
//! | [`Client::start_services`], [`stop`](Client::stop_services), [`restart`](Client::restart_services), [`replan`](Client::replan_services) | `POST /v1/services`, then `GET /v1/changes/<id>/wait` |
//! | [`Client::send_signal`] | `POST /v1/signals` |
//! | [`Client::push`] | `POST /v1/files` (multipart: `request` JSON, then `files`) |
//! | [`Client::pull`] | `GET /v1/files?action=read` (multipart response) |
//! | [`Client::list_files`], [`Client::exists`] | `GET /v1/files?action=list` |
//! | [`Client::make_dir`], [`Client::remove_path`] | `POST /v1/files` (actions `make-dirs`, `remove`) |
//! | [`Client::get_changes`], [`Client::get_change`], [`Client::wait_change`] | `GET /v1/changes?select=...&for=...`, `GET /v1/changes/<id>`, `GET /v1/changes/<id>/wait` |
//! | [`Client::abort_change`] | `POST /v1/changes/<id>` (action `abort`) |
//! | [`Client::get_checks`], [`start_checks`](Client::start_checks), [`stop_checks`](Client::stop_checks) | `GET /v1/checks`, `POST /v1/checks` |
//! | [`Client::notify`], [`Client::notify_with`] | `POST /v1/notices` (action `add`) |
//! | [`Client::get_notices`], [`Client::get_notice`] | `GET /v1/notices`, `GET /v1/notices/<id>` |
//! | [`Client::get_identities`] | `GET /v1/identities` |
//! | [`Client::replace_identities`], [`remove_identities`](Client::remove_identities) | `POST /v1/identities` (actions `replace`, `remove`) |
//! | [`Client::exec`], [`Client::exec_process`] | `POST /v1/exec`, WebSockets `GET /v1/tasks/<task-id>/websocket/{control,stdio,stderr}`, then `GET /v1/changes/<id>/wait` |
//!
//! Every response is an envelope `{type, status-code, status, result,
//! change}`; errors carry `result.message` and `result.kind` and become
//! [`PebbleError::Api`]. File operations report per-path failures inside a
//! successful response; those become [`PebbleError::Path`].
//!
//! The client is synchronous, uses only the standard library for I/O, and
//! opens one connection per call, with a read/write timeout
//! ([`Client::with_timeout`]). Requests go through a [`Transport`]: the
//! unix socket ([`UnixSocketTransport`]) in production, or one a test kit
//! gives ([`Client::with_transport`]) to answer in process.

mod client;
mod error;
mod exec;
mod exec_process;
mod files;
mod http;
mod layer;
mod layer_values;
mod transport;
mod types;
// Public only for ops-testing's fake Pebble, which serves the other end
// with the same frame code; not part of the API, no semver promise.
#[doc(hidden)]
pub mod websocket;

#[cfg(test)]
mod scripted_tests;

pub use client::{Client, DEFAULT_CONTAINERS_DIR, socket_path};
pub use error::{ExecError, PebbleError};
pub use exec::{ExecOptions, ExecOutput};
pub use exec_process::{ExecProcess, ExecStderr, ExecStdin, ExecStdout, signal_number};
pub use files::{FileInfo, FileType, MakeDirOptions, PushOptions};
pub use http::Response as TransportResponse;
pub use http::TransportRequest;
pub use layer::{Check, ExecCheck, HttpCheck, Layer, LogTarget, Plan, Service, TcpCheck};
pub use layer_values::{CheckLevel, CheckStartup, Override, ServiceAction, ServiceStartup};
pub use transport::{Transport, UnixSocketTransport};
pub use types::{
    BasicIdentity, CertIdentity, Change, ChangeState, CheckInfo, CheckStatus, Identity,
    IdentityAccess, LocalIdentity, NoticeQuery, NoticeType, NoticeUsers, PebbleNotice, ServiceInfo,
    ServiceStatus, SystemInfo, Task, TaskProgress, Warning, WarningState,
};
