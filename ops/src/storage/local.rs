//! Persisted state in a file in the charm directory.

use std::cell::RefCell;
use std::fs;
use std::io::{ErrorKind, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use super::{PersistedState, StateStore, StorageError};

/// The file name in the charm directory.
pub const STATE_FILE_NAME: &str = ".unit-state.json";

/// Persisted state in one JSON file, replaced atomically (temporary file,
/// fsync, rename, fsync of the directory) and readable by its owner only.
///
/// A save whose notices and stored state are those last loaded or saved
/// writes nothing: no temporary file, no fsync.
#[derive(Debug, Clone)]
pub struct LocalStateFile {
    path: PathBuf,
    loaded: RefCell<Option<PersistedState>>,
}

impl LocalStateFile {
    /// State kept at `path`.
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Self {
            path: path.into(),
            loaded: RefCell::new(None),
        }
    }

    /// State kept in `<charm_dir>/.unit-state.json`.
    pub fn in_charm_dir(charm_dir: &Path) -> Self {
        Self::new(charm_dir.join(STATE_FILE_NAME))
    }

    /// The file.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl StateStore for LocalStateFile {
    fn load(&self) -> Result<PersistedState, StorageError> {
        let state = self.read()?;
        *self.loaded.borrow_mut() = Some(state.clone());
        Ok(state)
    }

    fn save(&self, state: &PersistedState) -> Result<(), StorageError> {
        if let Some(loaded) = self.loaded.borrow().as_ref()
            && state.same_content(loaded)
        {
            return Ok(());
        }
        self.write(state)?;
        *self.loaded.borrow_mut() = Some(state.clone());
        Ok(())
    }
}

impl LocalStateFile {
    fn read(&self) -> Result<PersistedState, StorageError> {
        match fs::read_to_string(&self.path) {
            Ok(text) => PersistedState::from_json(&text, &self.path.display().to_string()),
            Err(e) if e.kind() == ErrorKind::NotFound => Ok(PersistedState::default()),
            Err(source) if source.kind() == ErrorKind::InvalidData => Err(StorageError::Corrupt {
                location: self.path.display().to_string(),
                reason: source.to_string(),
            }),
            Err(source) => Err(StorageError::Read {
                path: self.path.clone(),
                source,
            }),
        }
    }

    fn write(&self, state: &PersistedState) -> Result<(), StorageError> {
        let write_err = |source| StorageError::Write {
            path: self.path.clone(),
            source,
        };
        let dir = match self.path.parent() {
            Some(d) if !d.as_os_str().is_empty() => d,
            _ => Path::new("."),
        };
        let json = serde_json::to_vec_pretty(state).map_err(|e| write_err(e.into()))?;
        let mut tmp = tempfile::Builder::new()
            .prefix(".unit-state.")
            .suffix(".tmp")
            .permissions(fs::Permissions::from_mode(0o600))
            .tempfile_in(dir)
            .map_err(write_err)?;
        tmp.write_all(&json).map_err(write_err)?;
        tmp.as_file().sync_all().map_err(write_err)?;
        tmp.persist(&self.path).map_err(|e| write_err(e.error))?;
        fs::File::open(dir)
            .and_then(|d| d.sync_all())
            .map_err(write_err)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::Notice;

    fn sample() -> PersistedState {
        let mut state = PersistedState {
            event_count: 7,
            ..Default::default()
        };
        state.notices.push(Notice {
            handle: "C/on/start[6]".into(),
            observer: "c::C::on_start".into(),
            event: "start".into(),
            snapshot: serde_json::json!({}),
        });
        state
            .stored
            .insert("C/StoredState[s]".into(), serde_json::json!({"n": 1}));
        state
    }

    #[test]
    fn missing_file_is_empty_state() {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalStateFile::in_charm_dir(dir.path());
        assert_eq!(store.load().unwrap(), PersistedState::default());
    }

    #[test]
    fn save_then_load_round_trips_with_private_mode() {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalStateFile::in_charm_dir(dir.path());
        store.save(&sample()).unwrap();
        assert_eq!(store.load().unwrap(), sample());
        let mode = fs::metadata(store.path()).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let leftovers: Vec<_> = fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .filter(|n| n != STATE_FILE_NAME)
            .collect();
        assert!(leftovers.is_empty(), "temporary files left: {leftovers:?}");
    }

    #[test]
    fn corrupt_file_is_an_error_not_a_reset() {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalStateFile::in_charm_dir(dir.path());
        fs::write(store.path(), "{\"format\": 1, \"event_count\": ").unwrap();
        let err = store.load().unwrap_err();
        assert!(matches!(err, StorageError::Corrupt { .. }), "{err}");
        assert!(err.to_string().contains(".unit-state.json"));
        fs::write(store.path(), [0xff, 0xfe, 0x00]).unwrap();
        assert!(matches!(
            store.load().unwrap_err(),
            StorageError::Corrupt { .. }
        ));
    }

    #[test]
    fn newer_format_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalStateFile::in_charm_dir(dir.path());
        let mut state = sample();
        state.format = 99;
        fs::write(store.path(), serde_json::to_string(&state).unwrap()).unwrap();
        assert!(store.load().unwrap_err().to_string().contains("newer"));
    }

    #[test]
    fn unreadable_file_is_a_read_error() {
        let dir = tempfile::tempdir().unwrap();
        // A directory where the file should be cannot be read as a file.
        let store = LocalStateFile::new(dir.path().to_path_buf());
        assert!(matches!(
            store.load().unwrap_err(),
            StorageError::Read { .. }
        ));
    }

    #[test]
    fn failed_save_keeps_the_previous_state() {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalStateFile::in_charm_dir(dir.path());
        store.save(&sample()).unwrap();
        let target_is_dir = LocalStateFile::new(dir.path().join("sub"));
        fs::create_dir(dir.path().join("sub")).unwrap();
        fs::write(dir.path().join("sub/x"), "x").unwrap();
        assert!(matches!(
            target_is_dir.save(&sample()),
            Err(StorageError::Write { .. })
        ));
        assert_eq!(store.load().unwrap(), sample());
    }
}

#[cfg(test)]
mod write_tests {
    use std::os::unix::fs::MetadataExt;

    use super::*;

    #[test]
    fn a_save_that_changes_nothing_writes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let first = LocalStateFile::in_charm_dir(dir.path());
        let mut state = first.load().unwrap();
        // Nothing was ever saved and nothing changed: no file appears.
        first.save(&state).unwrap();
        assert!(!first.path().exists());
        state
            .stored
            .insert("C/StoredState[s]".into(), serde_json::json!({"n": 1}));
        first.save(&state).unwrap();
        let inode = fs::metadata(first.path()).unwrap().ino();

        // The next dispatch: only the event counter moved.
        let next = LocalStateFile::in_charm_dir(dir.path());
        let mut state = next.load().unwrap();
        state.event_count += 5;
        next.save(&state).unwrap();
        assert_eq!(fs::metadata(next.path()).unwrap().ino(), inode, "rewritten");

        // A real change is written (a new file renamed over the old one).
        state
            .stored
            .insert("C/StoredState[s]".into(), serde_json::json!({"n": 2}));
        next.save(&state).unwrap();
        assert_ne!(fs::metadata(next.path()).unwrap().ino(), inode);
        assert_eq!(
            LocalStateFile::in_charm_dir(dir.path()).load().unwrap(),
            state
        );
    }
}
