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

/// A new scratch directory, removed when dropped: in `TMPDIR` if it is
/// set, else on the memory filesystem if there is one, else in the
/// system's temporary directory (`ops`' rule, which its secret files
/// follow too).
pub(crate) fn tempdir() -> io::Result<tempfile::TempDir> {
    ops::scratch::tempdir("ops-testing")
}

/// Copies the directory tree at `from` to `to` (made, with its parents):
/// directories, files with their permission bits, and symlinks as links.
/// A directory gets its permissions last, so a read-only one is filled
/// first.
pub(crate) fn copy_tree(from: &Path, to: &Path) -> io::Result<()> {
    std::fs::create_dir_all(to)?;
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let (source, target) = (entry.path(), to.join(entry.file_name()));
        let kind = entry.file_type()?;
        if kind.is_symlink() {
            std::os::unix::fs::symlink(std::fs::read_link(&source)?, &target)?;
        } else if kind.is_dir() {
            copy_tree(&source, &target)?;
        } else {
            std::fs::copy(&source, &target)?;
        }
    }
    std::fs::set_permissions(to, std::fs::metadata(from)?.permissions())
}
