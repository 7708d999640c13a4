//! Finding (and building) the executables that process-level tests run:
//! a charm's binary and the fake hook tools.

use std::path::PathBuf;
use std::process::Command;

/// A binary could not be built or found.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BinaryError {
    /// `cargo build` failed.
    #[error("cargo build -p {package} --bin {bin} failed: {message}")]
    Build {
        /// The package.
        package: String,
        /// The binary.
        bin: String,
        /// cargo's stderr, or why it could not run.
        message: String,
    },
    /// No target directory could be worked out.
    #[error("cannot find cargo's target directory: {0}")]
    TargetDir(String),
}

/// Cargo's target directory: `$CARGO_TARGET_DIR`, else the one the running
/// test executable lives in (`<target>/<profile>/deps/<test>`).
pub fn target_dir() -> Result<PathBuf, BinaryError> {
    if let Some(dir) = std::env::var_os("CARGO_TARGET_DIR") {
        return Ok(PathBuf::from(dir));
    }
    let exe = std::env::current_exe().map_err(|e| BinaryError::TargetDir(e.to_string()))?;
    exe.ancestors()
        .find(|p| p.file_name().is_some_and(|n| n == "target"))
        .map(PathBuf::from)
        .ok_or_else(|| {
            BinaryError::TargetDir(format!("{} is not under a target directory", exe.display()))
        })
}

/// Builds (if needed) a binary of a workspace package in the debug profile and
/// returns its path. Cargo's own lock makes concurrent calls safe.
///
/// It builds into `<target>/bins`, not the test run's own directory: a
/// nested build there would replace libraries that the running `cargo test`
/// still links doctests against.
pub fn cargo_bin(package: &str, bin: &str) -> Result<PathBuf, BinaryError> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_string());
    let target = target_dir()?.join("bins");
    let output = Command::new(cargo)
        .args(["build", "--quiet", "-p", package, "--bin", bin])
        .env("CARGO_TARGET_DIR", &target)
        .output()
        .map_err(|e| BinaryError::Build {
            package: package.to_string(),
            bin: bin.to_string(),
            message: e.to_string(),
        })?;
    if !output.status.success() {
        return Err(BinaryError::Build {
            package: package.to_string(),
            bin: bin.to_string(),
            message: String::from_utf8_lossy(&output.stderr).into_owned(),
        });
    }
    Ok(target.join("debug").join(bin))
}

/// The `juju-hook-tool` executable, built if needed.
pub fn hook_tool() -> Result<PathBuf, BinaryError> {
    cargo_bin("juju-ops-testing", "juju-hook-tool")
}
