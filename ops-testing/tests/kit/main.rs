//! ops-testing's integration tests, in one test binary: each file is a
//! module of it, on a subject of its own.
//!
//! One binary, not one per file: the test kit is built at opt-level 2
//! (Cargo.toml), and so are its test targets, each of which compiled the
//! generic code it uses (serde, the Harness, the fake Juju and Pebble)
//! over again. As 27 binaries they took 3 min 2 s to build (5 min 37 s
//! of CPU) after `touch ops-testing/tests/*.rs` with `CARGO_INCREMENTAL=0`,
//! as `.ci/run` builds from a clean clone; as one, 1 min 25 s (2 min 34 s).

mod common;
mod context_consistency;
mod context_exec;
mod context_model_faces;
mod context_notices_checks;
mod context_run;
mod dispatch_contract;
mod fake_pebble_changes_identities;
mod fake_pebble_checks_notices;
mod fake_pebble_in_process;
mod fake_pebble_server;
mod harness_api;
mod harness_snapshot;
mod hook_tool_cli;
mod juju_state;
mod model_rules;
mod never_wedge;
mod new_charm;
mod observe_every;
mod pebble_client;
mod pebble_exec;
mod pebble_exec_process;
mod prop_dispatch_faults;
mod prop_juju_state_store;
mod prop_pebble_faults;
mod sim_account;
mod sim_lifecycle;
mod stored_upgrade;
mod websocket_interop;
