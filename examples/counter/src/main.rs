//! The binary Juju runs as `dispatch`. State lives in Juju's unit state
//! (`state-get`/`state-set`), which survives a new pod; a file in the
//! charm directory would not.

use ops::{MainOptions, StateLocation};

fn main() -> std::process::ExitCode {
    ops::main_with::<counter::Counter>(MainOptions::new().with_state(StateLocation::Juju))
}
