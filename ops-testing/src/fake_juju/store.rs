//! The model in a JSON file that several units' hook-tool processes share.
//!
//! Every read-modify-write holds an exclusive lock on a sibling file
//! (`<state>.lock`, `std::fs::File::lock`), and every write replaces the
//! file atomically (a temporary file in the same directory, synced, then
//! renamed), so a reader never sees half a model and no update is lost.

use std::ffi::OsString;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use super::FakeJuju;

/// The lock file beside a state file: `<state>.lock`.
pub fn lock_path(state: &Path) -> PathBuf {
    let mut name = OsString::from(state.as_os_str());
    name.push(".lock");
    PathBuf::from(name)
}

fn open_lock(state: &Path) -> io::Result<File> {
    OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(lock_path(state))
}

fn read(path: &Path) -> io::Result<FakeJuju> {
    let bytes = fs::read(path)?;
    serde_json::from_slice(&bytes).map_err(|e| {
        io::Error::new(
            io::ErrorKind::InvalidData,
            format!("{}: {e}", path.display()),
        )
    })
}

fn write(path: &Path, juju: &FakeJuju) -> io::Result<()> {
    let json = serde_json::to_vec_pretty(juju).map_err(io::Error::other)?;
    let mut tmp_name = OsString::from(path.as_os_str());
    tmp_name.push(format!(".tmp.{}", std::process::id()));
    let tmp = PathBuf::from(tmp_name);
    let mut file = File::create(&tmp)?;
    file.write_all(&json)?;
    file.sync_all()?;
    drop(file);
    fs::rename(&tmp, path)
}

/// Writes a new state file for `juju` (and its lock file). For setting up a
/// model before any tool runs; later changes go through [`with_state`].
pub fn create_state(path: &Path, juju: &FakeJuju) -> io::Result<()> {
    let lock = open_lock(path)?;
    lock.lock()?;
    write(path, juju)
}

/// Replaces the model in a state file, under the lock.
pub fn save_state(path: &Path, juju: &FakeJuju) -> io::Result<()> {
    let lock = open_lock(path)?;
    lock.lock()?;
    write(path, juju)
}

/// Reads the model from a state file, under a shared lock.
pub fn load_state(path: &Path) -> io::Result<FakeJuju> {
    let lock = open_lock(path)?;
    lock.lock_shared()?;
    read(path)
}

/// Runs `f` on the model in `path` under the exclusive lock, and saves the
/// model afterwards if `f` changed it. This is the one way the hook tools
/// and the simulator change a shared model.
pub fn with_state<T>(path: &Path, f: impl FnOnce(&mut FakeJuju) -> T) -> io::Result<T> {
    let lock = open_lock(path)?;
    lock.lock()?;
    let mut juju = read(path)?;
    let before = juju.clone();
    let out = f(&mut juju);
    if juju != before {
        write(path, &juju)?;
    }
    drop(lock);
    Ok(out)
}
