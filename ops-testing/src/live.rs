//! Tests that need more than Rust: a real PostgreSQL or PgBouncer, charmcraft,
//! the network. They run when [`ENABLE_VAR`] is set (`bash .ci/run` sets it),
//! and otherwise end at once, saying what they would have needed, so that a
//! plain `cargo test --workspace` passes on a machine with only a Rust
//! toolchain.
//!
//! ```
//! // In a test (under `#[test]`):
//! fn my_charm_serves_through_the_real_workload() {
//!     ops_testing::require_live!("PostgreSQL (apt-get install postgresql)");
//!     // ... start the real server, dispatch, connect ...
//! }
//! # my_charm_serves_through_the_real_workload();
//! ```

/// The environment variable that turns the live tests on (any value but
/// empty or `0`).
pub const ENABLE_VAR: &str = "OPS_RS_LIVE_TESTS";

/// Whether the live tests are on. When they are not, says on stderr (shown
/// with `--nocapture`, or for a failing test) that a test needing `needs`
/// was skipped and how to run it.
pub fn enabled(needs: &str) -> bool {
    let on = turns_on(std::env::var_os(ENABLE_VAR).as_deref());
    if !on {
        eprintln!(
            "skipped: this test needs {needs}; set {ENABLE_VAR}=1 to run it (bash .ci/run does)"
        );
    }
    on
}

/// Whether a value of [`ENABLE_VAR`] turns the live tests on.
fn turns_on(value: Option<&std::ffi::OsStr>) -> bool {
    value.is_some_and(|v| !v.is_empty() && v != "0")
}

/// Ends the test at once unless live tests are on ([`enabled`]); `needs` says
/// what the test needs, for the message.
#[macro_export]
macro_rules! require_live {
    ($needs:expr) => {
        if !$crate::live::enabled($needs) {
            return;
        }
    };
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::OsStr;

    #[test]
    fn unset_empty_and_zero_leave_the_live_tests_off() {
        assert!(!turns_on(None));
        assert!(!turns_on(Some(OsStr::new(""))));
        assert!(!turns_on(Some(OsStr::new("0"))));
        assert!(turns_on(Some(OsStr::new("1"))));
        assert!(turns_on(Some(OsStr::new("yes"))));
    }
}
