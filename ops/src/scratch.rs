//! Temporary directories on a memory filesystem when there is one: the
//! files `secret-add` and `secret-set` read a secret's values from (so
//! that a secret's content never reaches a disk, where deleting a file
//! does not erase it), and the test kit's scratch directories (where
//! creating, renaming and syncing files costs no disk I/O).
//!
//! A `TMPDIR` set by the caller wins; else `/dev/shm` (a tmpfs on Linux)
//! if new directories can be made there; else the system's temporary
//! directory.

use std::io;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

/// The memory filesystem Linux mounts for every process.
const MEMORY_FS: &str = "/dev/shm";

/// A new directory named `<prefix><random>`, only its owner's (`0700`),
/// removed when dropped.
#[doc(hidden)]
pub fn tempdir(prefix: &str) -> io::Result<tempfile::TempDir> {
    let mut builder = tempfile::Builder::new();
    builder
        .prefix(prefix)
        .permissions(std::fs::Permissions::from_mode(0o700));
    let tmpdir_set = std::env::var_os("TMPDIR").is_some_and(|d| !d.is_empty());
    if !tmpdir_set && let Ok(dir) = builder.tempdir_in(Path::new(MEMORY_FS)) {
        return Ok(dir);
    }
    // No memory filesystem we may write: the system's temporary directory.
    builder.tempdir()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scratch_directories_are_private_made_and_removed() {
        let dir = tempdir("ops-test").unwrap();
        let path = dir.path().to_path_buf();
        assert!(path.is_dir());
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o700);
        match std::env::var_os("TMPDIR").filter(|d| !d.is_empty()) {
            Some(tmpdir) => assert!(path.starts_with(tmpdir), "{path:?}"),
            None if tempfile::tempdir_in(MEMORY_FS).is_ok() => {
                assert!(path.starts_with(MEMORY_FS), "{path:?}")
            }
            None => {}
        }
        drop(dir);
        assert!(!path.exists());
    }
}
