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

/// The variable naming a directory whose binaries are current: set by
/// whoever built them, as `.ci/run` does for `cargo test --workspace`.
pub const BIN_DIR_VAR: &str = "OPS_RS_BIN_DIR";

/// Builds (if needed) a binary of a workspace package in the debug profile and
/// returns its path. Cargo's own lock makes concurrent calls safe.
///
/// It builds into `<target>/bins`, not the test run's own directory: a
/// nested build there would replace libraries that the running `cargo test`
/// still links doctests against.
///
/// When [`BIN_DIR_VAR`] (`OPS_RS_BIN_DIR`) names a directory that holds
/// `bin`, that file is returned and nothing is built. Setting it is a
/// promise that the binaries there are current: `cargo test --workspace`
/// builds the binaries of every workspace package that has integration
/// tests into `<target>/debug` before it runs a test (each package whose
/// binary this workspace's tests ask for has some), so `.ci/run` sets it
/// to that directory for that command, and its tests do not build the
/// dependencies a second time into `<target>/bins` (3 to 4 minutes from a
/// clean clone). A plain `cargo test -p <package>` does not build other
/// packages' binaries, so it is not set by default.
///
/// ```no_run
/// let charm = ops_testing::binaries::cargo_bin("my-charm", "my-charm").unwrap();
/// assert!(charm.ends_with("my-charm"));
/// ```
pub fn cargo_bin(package: &str, bin: &str) -> Result<PathBuf, BinaryError> {
    if let Some(built) = prebuilt(std::env::var_os(BIN_DIR_VAR).as_deref(), bin) {
        return Ok(built);
    }
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_string());
    let target = target_dir()?.join("bins");
    let mut build = Command::new(cargo);
    build
        .args(["build", "--quiet", "-p", package, "--bin", bin])
        .env("CARGO_TARGET_DIR", &target);
    // The variables cargo sets for the test that calls this name that test's
    // package; build scripts that watch one (ring's watches
    // CARGO_MANIFEST_DIR) would rebuild everything above them whenever
    // another package's tests called this, 25 s each time.
    for (name, _) in std::env::vars_os() {
        if name.to_str().is_some_and(set_by_cargo_for_a_crate) {
            build.env_remove(name);
        }
    }
    let output = build.output().map_err(|e| BinaryError::Build {
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
    Ok(executable(&target.join("debug"), bin))
}

/// `bin` in `dir` when `dir` is given, not empty, and holds a file of
/// that name (with the platform's executable suffix).
fn prebuilt(dir: Option<&std::ffi::OsStr>, bin: &str) -> Option<PathBuf> {
    let dir = dir.filter(|d| !d.is_empty())?;
    let path = executable(std::path::Path::new(dir), bin);
    path.is_file().then_some(path)
}

/// Where cargo puts binary `bin` in `dir` (with the platform's executable
/// suffix).
fn executable(dir: &std::path::Path, bin: &str) -> PathBuf {
    dir.join(format!("{bin}{}", std::env::consts::EXE_SUFFIX))
}

/// Whether `name` is one of the variables cargo sets for the crate it
/// builds or the test it runs (`CARGO_MANIFEST_DIR`, `CARGO_PKG_NAME`, ...),
/// as opposed to those that configure cargo itself (`CARGO_HOME`,
/// `CARGO_TARGET_DIR`, `CARGO_PROFILE_*`) or say which cargo it is
/// (`CARGO`).
fn set_by_cargo_for_a_crate(name: &str) -> bool {
    matches!(
        name,
        "CARGO_MANIFEST_DIR"
            | "CARGO_MANIFEST_PATH"
            | "CARGO_CRATE_NAME"
            | "CARGO_BIN_NAME"
            | "CARGO_PRIMARY_PACKAGE"
            | "CARGO_TARGET_TMPDIR"
            | "CARGO_RUSTC_CURRENT_DIR"
            | "OUT_DIR"
    ) || name.starts_with("CARGO_PKG_")
        || name.starts_with("CARGO_BIN_EXE_")
}

/// The `juju-hook-tool` executable, built if needed.
pub fn hook_tool() -> Result<PathBuf, BinaryError> {
    cargo_bin("juju-ops-testing", "juju-hook-tool")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_binary_in_the_named_directory_is_taken_as_it_is() {
        let dir = tempfile::tempdir().unwrap();
        let bin = format!("some-tool{}", std::env::consts::EXE_SUFFIX);
        std::fs::write(dir.path().join(&bin), b"").unwrap();
        std::fs::create_dir(dir.path().join("a-directory")).unwrap();
        let named = Some(dir.path().as_os_str());
        assert_eq!(prebuilt(named, "some-tool"), Some(dir.path().join(&bin)));
        // Not there, not a file, no directory named: built as before.
        assert_eq!(prebuilt(named, "other-tool"), None);
        assert_eq!(prebuilt(named, "a-directory"), None);
        assert_eq!(prebuilt(None, "some-tool"), None);
        assert_eq!(prebuilt(Some(std::ffi::OsStr::new("")), "some-tool"), None);
    }

    #[test]
    fn a_nested_build_drops_what_names_the_calling_package_and_keeps_cargos_own() {
        for name in [
            "CARGO_MANIFEST_DIR",
            "CARGO_MANIFEST_PATH",
            "CARGO_PKG_NAME",
            "CARGO_PKG_VERSION_MAJOR",
            "CARGO_CRATE_NAME",
            "CARGO_BIN_EXE_pgbouncer-k8s",
            "CARGO_PRIMARY_PACKAGE",
            "CARGO_TARGET_TMPDIR",
            "OUT_DIR",
        ] {
            assert!(set_by_cargo_for_a_crate(name), "{name}");
        }
        for name in [
            "CARGO",
            "CARGO_HOME",
            "CARGO_TARGET_DIR",
            "CARGO_PROFILE_DEV_OPT_LEVEL",
            "CARGO_BUILD_JOBS",
            "CARGO_REGISTRIES_CRATES_IO_PROTOCOL",
            "RUSTFLAGS",
            "PATH",
        ] {
            assert!(!set_by_cargo_for_a_crate(name), "{name}");
        }
    }
}
