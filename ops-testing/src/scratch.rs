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
use std::path::{Path, PathBuf};

/// A test face's scratch directory, removed when dropped: in `TMPDIR` if
/// it is set, else on the memory filesystem if there is one, else in the
/// system's temporary directory (`ops`' rule, which its secret files
/// follow too).
///
/// Most are dropped as they were made: empty, or holding an empty charm
/// directory. `tempfile`'s removal walks the tree (each directory opened,
/// read and closed before it is removed: 14 system calls for that one),
/// which was 2.7% of the charm's in-process tests' CPU (`perf record`),
/// most of what dropping a Harness cost. Removing the empty charm
/// directory and then the scratch directory is two calls; the walk comes
/// only when something is left in them.
#[derive(Debug)]
pub(crate) struct ScratchDir {
    path: PathBuf,
}

impl ScratchDir {
    /// A new, empty scratch directory, private to this user (0700).
    pub(crate) fn new() -> io::Result<Self> {
        let dir = ops::scratch::tempdir("ops-testing")?;
        Ok(Self { path: dir.keep() })
    }

    /// Where it is.
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for ScratchDir {
    fn drop(&mut self) {
        // Fails, changing nothing, when there is no charm directory or
        // something is in it; the walk below then removes what is left.
        let _ = std::fs::remove_dir(charm_dir(&self.path));
        if std::fs::remove_dir(&self.path).is_err() {
            // As `tempfile`'s own drop: a scratch directory that cannot be
            // removed is left, not a panic in a destructor.
            let _ = std::fs::remove_dir_all(&self.path);
        }
    }
}

// The layout of a test face's scratch directory, and of a simulated
// unit's directory: the charm directory, the Pebble sockets, and each
// container's `/` on the host.

/// The charm directory under a scratch directory.
pub(crate) fn charm_dir(scratch: &Path) -> PathBuf {
    scratch.join("charm")
}

/// Where the containers' Pebble sockets are under a scratch directory
/// (`DispatchSetup::containers_dir`).
pub(crate) fn containers_dir(scratch: &Path) -> PathBuf {
    scratch.join("containers")
}

/// Container `name`'s fake Pebble under a scratch directory: its socket,
/// and the host directory that is the container's `/`.
pub(crate) fn pebble_paths(scratch: &Path, name: &str) -> (PathBuf, PathBuf) {
    (
        ops::pebble::socket_path(containers_dir(scratch), name),
        scratch.join("roots").join(name),
    )
}

/// Copies the directory tree at `from` to `to` (made, with its parents):
/// directories, files with their permission bits, and symlinks as links.
/// A directory gets its permissions last, so a read-only one is filled
/// first. Anything else (a FIFO, a socket, a device a test made) is an
/// [`io::ErrorKind::Unsupported`] error naming it: copying a FIFO would
/// wait for a writer for ever.
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
        } else if kind.is_file() {
            std::fs::copy(&source, &target)?;
        } else {
            return Err(io::Error::new(
                io::ErrorKind::Unsupported,
                format!("{} is not a file, directory or symlink", source.display()),
            ));
        }
    }
    std::fs::set_permissions(to, std::fs::metadata(from)?.permissions())
}

#[cfg(test)]
mod tests {
    use super::{ScratchDir, charm_dir, copy_tree, pebble_paths};
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn a_scratch_directory_is_private_and_removed_whatever_it_holds() {
        // As made; with an empty charm directory; with files in the charm
        // directory and a container's root beside it.
        for fill in 0..3 {
            let dir = ScratchDir::new().unwrap();
            let path = dir.path().to_path_buf();
            let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o700);
            if fill >= 1 {
                std::fs::create_dir(charm_dir(&path)).unwrap();
            }
            if fill >= 2 {
                std::fs::write(charm_dir(&path).join(".unit-state.json"), "{}").unwrap();
                let (_, root) = pebble_paths(&path, "workload");
                std::fs::create_dir_all(root.join("etc")).unwrap();
                std::fs::write(root.join("etc/app.conf"), "x = 1\n").unwrap();
            }
            drop(dir);
            assert!(!path.exists(), "{path:?} left behind (fill {fill})");
        }
    }

    #[test]
    fn copy_tree_copies_files_modes_links_and_refuses_a_fifo() {
        let from = tempfile::tempdir().unwrap();
        let dir = from.path().join("etc/app");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("a.conf"), "x = 1\n").unwrap();
        std::fs::set_permissions(dir.join("a.conf"), std::fs::Permissions::from_mode(0o600))
            .unwrap();
        std::os::unix::fs::symlink("a.conf", dir.join("link")).unwrap();
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o555)).unwrap();
        let to = tempfile::tempdir().unwrap();
        let copy = to.path().join("copy");
        copy_tree(from.path(), &copy).unwrap();
        let copied = copy.join("etc/app");
        assert_eq!(
            std::fs::read_to_string(copied.join("a.conf")).unwrap(),
            "x = 1\n"
        );
        let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&copied.join("a.conf")), 0o600);
        assert_eq!(mode(&copied), 0o555);
        assert_eq!(
            std::fs::read_link(copied.join("link")).unwrap(),
            std::path::Path::new("a.conf")
        );
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
        std::fs::set_permissions(&copied, std::fs::Permissions::from_mode(0o755)).unwrap();

        let made = std::process::Command::new("mkfifo")
            .arg(dir.join("fifo"))
            .status()
            .unwrap();
        assert!(made.success());
        let err = copy_tree(from.path(), &to.path().join("again")).unwrap_err();
        assert_eq!(err.kind(), std::io::ErrorKind::Unsupported);
        assert!(err.to_string().contains("fifo"), "{err}");
    }
}
