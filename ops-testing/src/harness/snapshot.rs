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
    /// that were on the host, copied here.
    workdir: tempfile::TempDir,
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

/// A fresh scratch directory holding a copy of `workdir`'s charm
/// directory (when it is in use) and a copy of each fake Pebble, serving
/// from it.
fn copy_world(
    workdir: &Path,
    pebbles: &BTreeMap<String, FakePebble>,
    charm_dir_used: bool,
) -> Result<(tempfile::TempDir, BTreeMap<String, FakePebble>), HarnessError> {
    let copy = crate::scratch::tempdir()?;
    let charm_dir = crate::scratch::charm_dir(copy.path());
    if charm_dir_used {
        crate::scratch::copy_tree(&crate::scratch::charm_dir(workdir), &charm_dir)?;
    } else {
        std::fs::create_dir_all(&charm_dir)?;
    }
    let mut forks = BTreeMap::new();
    for (name, pebble) in pebbles {
        let (socket, root) = crate::scratch::pebble_paths(copy.path(), name);
        forks.insert(name.clone(), pebble.fork(socket, root)?);
    }
    Ok((copy, forks))
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
        let (workdir, pebbles) = copy_world(self.workdir.path(), &self.pebbles, charm_dir_used)?;
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
        let (workdir, pebbles) = copy_world(
            snapshot.workdir.path(),
            &snapshot.pebbles,
            snapshot.charm_dir_used,
        )?;
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
