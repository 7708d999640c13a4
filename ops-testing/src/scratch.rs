//! Where the in-process test faces keep what must be a real file: the
//! fake Pebble's container roots (a test reads them with `std::fs`), the
//! charm directory when a test asks for it, an exec socket.
//!
//! A test's scratch directory goes on a memory filesystem (`/dev/shm`, a
//! tmpfs on Linux) when there is one: creating, renaming and syncing files
//! there costs no disk I/O, and on a disk filesystem those calls were most
//! of an in-process test's time (docs/performance.md, "Unit tests").
//! A `TMPDIR` set by the caller wins (`.ci/run` sets one, so that it can
//! find what a test left behind); without either, the system's temporary
//! directory.

use std::io;
use std::path::Path;
use std::sync::OnceLock;

/// The memory filesystem Linux mounts for every process.
const MEMORY_FS: &str = "/dev/shm";

/// Whether `MEMORY_FS` takes new directories, found out once per process.
fn memory_fs_usable() -> bool {
    static USABLE: OnceLock<bool> = OnceLock::new();
    *USABLE.get_or_init(|| {
        tempfile::Builder::new()
            .prefix("ops-testing-probe")
            .tempdir_in(MEMORY_FS)
            .is_ok()
    })
}

/// A new scratch directory, removed when dropped: in `TMPDIR` if it is
/// set, else on the memory filesystem if there is one, else in the
/// system's temporary directory.
pub(crate) fn tempdir() -> io::Result<tempfile::TempDir> {
    let builder = {
        let mut b = tempfile::Builder::new();
        b.prefix("ops-testing");
        b
    };
    let tmpdir_set = std::env::var_os("TMPDIR").is_some_and(|d| !d.is_empty());
    if !tmpdir_set && memory_fs_usable() {
        builder.tempdir_in(Path::new(MEMORY_FS))
    } else {
        builder.tempdir()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scratch_directories_are_made_and_removed() {
        let dir = tempdir().unwrap();
        let path = dir.path().to_path_buf();
        assert!(path.is_dir());
        match std::env::var_os("TMPDIR").filter(|d| !d.is_empty()) {
            Some(tmpdir) => assert!(path.starts_with(tmpdir), "{path:?}"),
            None if memory_fs_usable() => assert!(path.starts_with(MEMORY_FS), "{path:?}"),
            None => {}
        }
        drop(dir);
        assert!(!path.exists());
    }
}
