//! Parses a test process repeats, done once: a charm's metadata (every
//! Harness and Context of a test binary reads the same `charmcraft.yaml`)
//! and the fake Pebble's layers (a charm adds the same layer at every
//! hook of every test). Each is a pure function of its text, so the
//! result kept for a text is the result a fresh parse would give; the key
//! is the whole text, never a path or a time.
//!
//! YAML parsing was a tenth of a pgbouncer-k8s unit test's CPU
//! (docs/performance.md, "Unit tests against Python's").

use std::collections::HashMap;
use std::path::Path;
use std::sync::Mutex;

use ops::{CharmMeta, MetaError};

/// A bounded map from a text to what parsing it gave.
pub(crate) struct Memo<V> {
    entries: Mutex<Option<HashMap<String, V>>>,
}

/// More distinct texts than a test binary has charms and layers: past it
/// the map starts again rather than grow without bound (a property test
/// may parse thousands of generated layers).
const CAPACITY: usize = 512;

impl<V: Clone> Memo<V> {
    pub(crate) const fn new() -> Self {
        Self {
            entries: Mutex::new(None),
        }
    }

    /// What `parse` gives for `key`, parsed at most once while kept. A
    /// failure is not kept: it is rare, and made again with its own
    /// source each time.
    pub(crate) fn get_or_try<E>(
        &self,
        key: String,
        parse: impl FnOnce() -> Result<V, E>,
    ) -> Result<V, E> {
        if let Some(value) = self.lock().as_ref().and_then(|map| map.get(&key)) {
            return Ok(value.clone());
        }
        // Parsed without the lock: two threads may both parse a new text,
        // and both get the same answer.
        let value = parse()?;
        let mut entries = self.lock();
        let map = entries.get_or_insert_with(HashMap::new);
        if map.len() >= CAPACITY {
            map.clear();
        }
        map.insert(key, value.clone());
        Ok(value)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Option<HashMap<String, V>>> {
        // A panic elsewhere cannot leave a half-made entry: values are
        // inserted whole. So a poisoned map is still good.
        self.entries
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

static CHARM_META: Memo<CharmMeta> = Memo::new();

/// [`CharmMeta::from_charmcraft_yaml`], once per text.
pub(crate) fn charmcraft_yaml(text: &str) -> Result<CharmMeta, MetaError> {
    CHARM_META.get_or_try(format!("charmcraft.yaml\0{text}"), || {
        CharmMeta::from_charmcraft_yaml(text)
    })
}

/// The files [`CharmMeta::from_charm_dir`] reads.
const META_FILES: [&str; 4] = [
    "metadata.yaml",
    "config.yaml",
    "actions.yaml",
    "charmcraft.yaml",
];

/// [`CharmMeta::from_charm_dir`], once per content of the directory's
/// metadata files: a test that rewrites one is read afresh.
pub(crate) fn charm_dir(dir: &Path) -> Result<CharmMeta, MetaError> {
    let mut key = String::from("dir");
    for name in META_FILES {
        match std::fs::read_to_string(dir.join(name)) {
            Ok(text) => {
                key.push('\0');
                key.push_str(name);
                key.push('\0');
                key.push_str(&text);
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            // Unreadable: ops says how, with the path.
            Err(_) => return CharmMeta::from_charm_dir(dir),
        }
    }
    CHARM_META.get_or_try(key, || CharmMeta::from_charm_dir(dir))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_text_is_parsed_once_and_a_new_text_afresh() {
        let memo: Memo<usize> = Memo::new();
        let mut parses = 0;
        for _ in 0..3 {
            let parsed = memo.get_or_try("a".into(), || {
                parses += 1;
                Ok::<_, ()>(1)
            });
            assert_eq!(parsed, Ok(1));
        }
        assert_eq!(parses, 1);
        assert_eq!(memo.get_or_try("b".into(), || Ok::<_, ()>(2)), Ok(2));
        assert_eq!(memo.get_or_try("c".into(), || Err(())), Err(()));
        assert_eq!(
            memo.get_or_try("c".into(), || Ok::<_, ()>(3)),
            Ok(3),
            "a failure is not kept"
        );
    }

    #[test]
    fn the_memo_starts_again_when_full() {
        let memo: Memo<usize> = Memo::new();
        for n in 0..CAPACITY {
            memo.get_or_try(n.to_string(), || Ok::<_, ()>(n)).unwrap();
        }
        memo.get_or_try("one more".into(), || Ok::<_, ()>(0))
            .unwrap();
        let mut parsed_again = false;
        memo.get_or_try("0".into(), || {
            parsed_again = true;
            Ok::<_, ()>(0)
        })
        .unwrap();
        assert!(parsed_again, "the first text was dropped with the rest");
    }

    #[test]
    fn a_rewritten_charm_directory_is_read_afresh() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("charmcraft.yaml");
        std::fs::write(&file, "name: first\n").unwrap();
        assert_eq!(charm_dir(dir.path()).unwrap().name, "first");
        assert_eq!(charm_dir(dir.path()).unwrap().name, "first");
        std::fs::write(&file, "name: second\n").unwrap();
        assert_eq!(charm_dir(dir.path()).unwrap().name, "second");
        std::fs::write(dir.path().join("metadata.yaml"), "name: packed\n").unwrap();
        assert_eq!(charm_dir(dir.path()).unwrap().name, "packed");
    }

    #[test]
    fn errors_are_ops_own_every_time() {
        for _ in 0..2 {
            let e = charmcraft_yaml("name: [").unwrap_err();
            assert!(matches!(e, MetaError::Parse { .. }), "{e:?}");
        }
        let dir = tempfile::tempdir().unwrap();
        for _ in 0..2 {
            let e = charm_dir(dir.path()).unwrap_err();
            assert!(matches!(e, MetaError::NotFound { .. }), "{e:?}");
        }
    }
}
