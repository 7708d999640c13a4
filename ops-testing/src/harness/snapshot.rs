//! A Harness' world kept at one moment, to start many tests from.
//!
//! A test file whose tests all begin the same way (a leader, its initial
//! hooks, a backend related) pays that set-up once per test: a dozen
//! dispatches before the one the test is about. A [`HarnessSnapshot`] is
//! that set-up done once and copied for each test, as a pytest fixture
//! that is built once and deep-copied would be. Each copy is a world of
//! its own: the fake model, every container's fake Pebble (plan,
//! services, files, notices, exec handlers), the charm's stored state and
//! deferred events, the charm directory if a test used it. Nothing one
//! copy does is seen by the snapshot or by another copy.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use ops::storage::{Notice, PersistedState};
use ops::{Charm, CharmMeta, EmittedEvent, StateLocation};

use super::{Harness, HarnessError};
use crate::fake_juju::FakeJuju;
use crate::fake_pebble::FakePebble;
use crate::memory_store::MemoryStore;

/// A Harness' world at one moment ([`Harness::snapshot`]), from which
/// [`Harness::from_snapshot`] makes as many independent Harnesses as
/// tests need. It can be kept in a `static` (it is `Send` and `Sync`) and
/// holds no charm instance: the first dispatch of each copy makes one, as
/// every dispatch does.
///
/// ```
/// use std::sync::OnceLock;
///
/// use ops::{Charm, Framework, HandlerError};
/// use ops_testing::{Harness, HarnessSnapshot};
///
/// struct Demo;
/// impl Charm for Demo {
///     fn new(_: &mut Framework<Self>) -> Result<Self, HandlerError> {
///         Ok(Demo)
///     }
/// }
///
/// /// A leader after its initial hooks, set up once per test binary.
/// fn leader() -> Harness<Demo> {
///     static SET_UP: OnceLock<HarnessSnapshot> = OnceLock::new();
///     let snapshot = SET_UP.get_or_init(|| {
///         let mut harness = Harness::<Demo>::new("name: demo\n").unwrap();
///         harness.set_leader(true).unwrap();
///         harness.begin_with_initial_hooks().unwrap();
///         harness.snapshot().unwrap()
///     });
///     Harness::from_snapshot(snapshot).unwrap()
/// }
///
/// let mut one = leader();
/// let other = leader();
/// one.set_leader(false).unwrap();
/// assert_eq!(one.juju().apps["demo"].leader, None);
/// assert_eq!(other.juju().apps["demo"].leader.as_deref(), Some("demo/0"));
/// ```
pub struct HarnessSnapshot {
    juju: FakeJuju,
    meta: Arc<CharmMeta>,
    unit: String,
    /// The charm directory (if a test used it) and the containers' files
    /// that were on the host, copied here; `None` when there were none.
    /// A snapshot is often kept in a `static` for a whole test binary, and
    /// a static is never dropped: a directory of its own was left behind
    /// on the memory filesystem at every run (five a run of the charm's
    /// in-process tests, thousands on this machine).
    workdir: Option<crate::scratch::ScratchDir>,
    pebbles: BTreeMap<String, FakePebble>,
    connectable: BTreeMap<String, bool>,
    begun: bool,
    hooks_enabled: bool,
    emitted: Vec<EmittedEvent>,
    notices: Vec<Notice>,
    state: StateLocation,
    persisted: PersistedState,
    charm_dir_used: bool,
}

impl std::fmt::Debug for HarnessSnapshot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HarnessSnapshot")
            .field("unit", &self.unit)
            .field("containers", &self.pebbles.keys().collect::<Vec<_>>())
            .field("begun", &self.begun)
            .finish_non_exhaustive()
    }
}

/// A copy of each fake Pebble serving from under `to`, and of the charm
/// directory `charm_dir` (when a test used one) there.
fn copy_world(
    charm_dir: Option<&Path>,
    pebbles: &BTreeMap<String, FakePebble>,
    to: &Path,
) -> Result<BTreeMap<String, FakePebble>, HarnessError> {
    let copy = crate::scratch::charm_dir(to);
    match charm_dir {
        Some(charm_dir) => crate::scratch::copy_tree(charm_dir, &copy)?,
        None => std::fs::create_dir_all(&copy)?,
    }
    fork_all(pebbles, to)
}

/// A copy of each fake Pebble, serving (if ever served) from under `under`.
fn fork_all(
    pebbles: &BTreeMap<String, FakePebble>,
    under: &Path,
) -> Result<BTreeMap<String, FakePebble>, HarnessError> {
    let mut forks = BTreeMap::new();
    for (name, pebble) in pebbles {
        let (socket, root) = crate::scratch::pebble_paths(under, name);
        forks.insert(name.clone(), pebble.fork(socket, root)?);
    }
    Ok(forks)
}

impl<C: Charm> Harness<C> {
    /// This Harness' world as it is now, to start other Harnesses from
    /// ([`from_snapshot`](Self::from_snapshot)): the fake model, the
    /// containers' fake Pebbles, the charm's stored state and deferred
    /// events, the record of handler calls. This Harness is not changed.
    ///
    /// # Errors
    ///
    /// [`HarnessError::Io`] if the scratch directory of the copy cannot be
    /// made or the files on the host cannot be copied into it.
    pub fn snapshot(&self) -> Result<HarnessSnapshot, HarnessError> {
        let charm_dir_used = self.charm_dir_used.load(Ordering::SeqCst);
        let on_host = charm_dir_used || self.pebbles.values().any(|p| !p.files_in_memory());
        let (workdir, pebbles) = if on_host {
            let workdir = crate::scratch::ScratchDir::new()?;
            let charm_dir = crate::scratch::charm_dir(self.workdir.path());
            let pebbles = copy_world(
                charm_dir_used.then_some(charm_dir.as_path()),
                &self.pebbles,
                workdir.path(),
            )?;
            (Some(workdir), pebbles)
        } else {
            // Nothing on the host: the copies keep their files in memory,
            // and the paths they are given here are never used (a snapshot
            // serves no one; each Harness made from it gets its own).
            (None, fork_all(&self.pebbles, self.workdir.path())?)
        };
        Ok(HarnessSnapshot {
            juju: self.juju().clone(),
            meta: Arc::clone(&self.meta),
            unit: self.unit.clone(),
            workdir,
            pebbles,
            connectable: self.connectable.clone(),
            begun: self.begun,
            hooks_enabled: self.hooks_enabled,
            emitted: self.emitted.clone(),
            notices: self.notices.clone(),
            state: self.state,
            persisted: self.memory.get(),
            charm_dir_used,
        })
    }

    /// A Harness whose world is a copy of `snapshot`'s, as independent of
    /// it as a new Harness is of any other. It has no charm instance
    /// ([`charm`](Self::charm) is `None`) until its first dispatch.
    ///
    /// # Errors
    ///
    /// [`HarnessError::Io`] if its scratch directory cannot be made or the
    /// snapshot's files on the host cannot be copied into it.
    pub fn from_snapshot(snapshot: &HarnessSnapshot) -> Result<Self, HarnessError> {
        let workdir = crate::scratch::ScratchDir::new()?;
        let charm_dir = snapshot
            .workdir
            .as_ref()
            .filter(|_| snapshot.charm_dir_used)
            .map(|dir| crate::scratch::charm_dir(dir.path()));
        let pebbles = copy_world(charm_dir.as_deref(), &snapshot.pebbles, workdir.path())?;
        Ok(Self {
            juju: Arc::new(Mutex::new(snapshot.juju.clone())),
            meta: Arc::clone(&snapshot.meta),
            unit: snapshot.unit.clone(),
            workdir,
            pebbles,
            connectable: snapshot.connectable.clone(),
            charm: None,
            begun: snapshot.begun,
            hooks_enabled: snapshot.hooks_enabled,
            emitted: snapshot.emitted.clone(),
            notices: snapshot.notices.clone(),
            state: snapshot.state,
            memory: MemoryStore::new(snapshot.persisted.clone()),
            charm_dir_used: AtomicBool::new(snapshot.charm_dir_used),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ops::{Framework, HandlerError};

    struct Quiet;

    impl Charm for Quiet {
        fn new(_: &mut Framework<Self>) -> Result<Self, HandlerError> {
            Ok(Quiet)
        }
    }

    const META: &str = "name: quiet\ncontainers:\n  web: {}\n";

    /// A snapshot kept in a `static` is never dropped: it holds a
    /// directory only while something of its world is on the host, and
    /// that directory goes with it.
    #[test]
    fn a_snapshot_has_a_directory_only_for_what_is_on_the_host() {
        let h = Harness::<Quiet>::new(META).unwrap();
        assert!(h.snapshot().unwrap().workdir.is_none());

        let files = Harness::<Quiet>::new(META).unwrap();
        files.container_pebble("web").unwrap().root();
        assert!(
            files.snapshot().unwrap().workdir.is_some(),
            "a root on the host"
        );

        let charm_dir = Harness::<Quiet>::new(META).unwrap();
        charm_dir.charm_dir();
        let kept = charm_dir.snapshot().unwrap();
        let dir = kept.workdir.as_ref().map(|d| d.path().to_path_buf());
        let dir = dir.expect("the charm directory is on the host");
        assert!(dir.is_dir());
        drop(kept);
        assert!(!dir.exists(), "{dir:?} left behind");
    }
}
