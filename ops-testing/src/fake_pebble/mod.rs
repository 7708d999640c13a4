//! A fake Pebble on a real unix socket, for tests of charm code that talks
//! to workload containers.
//!
//! [`FakePebble`] answers every route of Pebble's HTTP API with the same
//! JSON envelopes, field names, status codes, error messages and
//! multipart bodies as Pebble, so that both `ops::pebble::Client` and
//! Python ops' Pebble client can talk to it: system info and health,
//! layers and plan, services, changes (and aborting them), signals,
//! files, exec, checks, notices and identities. Logs are empty (nothing
//! runs); metrics and `checks/refresh` answer Pebble's error shape naming
//! the route (the fake keeps no metrics and runs no probes); pairing is
//! refused as Pebble refuses it on its unix socket. It does not run processes:
//! services only change state, and every start, stop, restart and signal
//! is recorded as a [`ServiceEvent`]; `exec` runs a handler the test
//! registers ([`FakePebble::handle_exec`]) over the same WebSockets as
//! Pebble's, and records what ran ([`FakePebble::execs`]). Health checks
//! (`/v1/checks`) are started and stopped as Pebble does but run no probes:
//! tests report their runs ([`FakePebble::fail_check`],
//! [`FakePebble::pass_check`]). Notices (`/v1/notices`) are kept as Pebble
//! keeps them: custom ones clients add, and a `change-update` one per
//! change. Files live under a root directory on
//! the host (`/etc/x` in the container is `<root>/etc/x`), or, for a fake
//! made [`in_memory`](FakePebble::in_memory), in memory until a test asks
//! for them on the host; modes are applied, owners are recorded (files
//! are not chowned).
//!
//! ```
//! use ops_testing::fake_pebble::{FakePebble, ServiceEvent};
//! use ops::pebble::{Layer, Override, PushOptions, Service, ServiceStartup};
//!
//! let dir = tempfile::tempdir().unwrap();
//! let pebble = FakePebble::start(dir.path().join("pebble.socket"), dir.path().join("root")).unwrap();
//! let client = pebble.client();
//! client.push("/etc/app.conf", "debug = true\n", &PushOptions::new().with_make_dirs(true)).unwrap();
//! assert!(dir.path().join("root/etc/app.conf").exists());
//! let mut layer = Layer::default();
//! layer.services.insert("app".into(), Service {
//!     override_: Some(Override::Replace),
//!     command: Some("app --config /etc/app.conf".into()),
//!     startup: Some(ServiceStartup::Enabled),
//!     ..Default::default()
//! });
//! client.add_layer("app", &layer, true).unwrap();
//! client.replan_services().unwrap();
//! assert_eq!(pebble.service_events(), vec![ServiceEvent::Start("app".into())]);
//! ```

mod api;
mod checks;
mod disk;
mod exec;
mod files;
mod host_exec;
mod http;
mod identities;
mod in_process;
mod notices;
mod plan;
pub(crate) use self::plan::plan_of;
mod state;
mod util;
mod wakeup;

use std::fmt;
use std::io::{self, BufReader, Write};
use std::os::unix::fs::MetadataExt;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::thread::JoinHandle;
use std::time::Duration;

use ops::pebble::{CheckInfo, Client, Layer, PebbleNotice, Plan, ServiceStatus};

pub use self::checks::CheckRunError;
pub use self::notices::NoticeKeyError;
use self::state::State;

pub use self::exec::{ExecArgs, ExecHandler, ExecResult};

/// How long an idle keep-alive connection is kept open.
const IDLE_TIMEOUT: Duration = Duration::from_secs(30);

/// Something that happened to a service, in the order it happened.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ServiceEvent {
    /// The service was started (it was not running).
    Start(String),
    /// The service was stopped (it was running).
    Stop(String),
    /// The service was stopped and started again by one change (restart,
    /// or a replan after its configuration changed), or because a check
    /// it has `on-check-failure: {<check>: restart}` for went down.
    Restart(String),
    /// A signal was sent to the running service.
    Signal {
        /// The service.
        service: String,
        /// The signal name, such as `SIGHUP`.
        signal: String,
    },
}

impl ServiceEvent {
    /// The service this event is about.
    pub fn service(&self) -> &str {
        match self {
            Self::Start(s) | Self::Stop(s) | Self::Restart(s) => s,
            Self::Signal { service, .. } => service,
        }
    }
}

impl fmt::Display for ServiceEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Start(s) => write!(f, "start {s}"),
            Self::Stop(s) => write!(f, "stop {s}"),
            Self::Restart(s) => write!(f, "restart {s}"),
            Self::Signal { service, signal } => write!(f, "signal {signal} {service}"),
        }
    }
}

/// The owner a push or make-dir asked for (recorded, not applied).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct FileOwner {
    /// The user id, if given.
    pub user_id: Option<u32>,
    /// The user name, if given.
    pub user: Option<String>,
    /// The group id, if given.
    pub group_id: Option<u32>,
    /// The group name, if given.
    pub group: Option<String>,
}

/// What the server threads share.
pub(crate) struct Shared {
    /// Itself, for timers that outlive a request (an exec's connect timeout).
    me: Weak<Shared>,
    root: PathBuf,
    socket: PathBuf,
    boot_id: String,
    state: Mutex<State>,
    /// Woken (with `state`) after every change to the state: a `GET
    /// /v1/notices` with a timeout waits on it for a matching notice, a
    /// change's `/wait` for the change to be ready.
    changed: wakeup::Wakeup,
    /// The user every client counts as: the one running the fake.
    user_id: u32,
    /// Exec handlers, users and execs; locked before `state` when both are.
    execs: Mutex<exec::Execs>,
    online: AtomicBool,
    /// The accept loop while the socket is served. In process
    /// ([`FakePebble::in_process`]) there is none until an exec needs
    /// its WebSockets.
    listener: Mutex<Option<Listener>>,
    /// Whether requests are answered in process, the socket only serving
    /// exec's WebSockets.
    in_process: bool,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic in a request thread must not wedge every later test step.
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Runs `f` on the state, then wakes whoever waits for a change.
    fn update<T>(&self, f: impl FnOnce(&mut State) -> T) -> T {
        let result = f(&mut self.lock());
        self.changed.notify();
        result
    }

    fn lock_listener(&self) -> MutexGuard<'_, Option<Listener>> {
        self.listener.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn lock_execs(&self) -> MutexGuard<'_, exec::Execs> {
        self.execs
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// The accept loop of one listening period.
struct Listener {
    stop: Arc<AtomicBool>,
    thread: JoinHandle<()>,
    /// The inode of the socket file it bound: another server may have
    /// replaced the file since.
    inode: u64,
}

/// A fake Pebble serving on a unix socket in background threads.
///
/// Dropping it (or [`stop`](Self::stop)) shuts the server down and removes
/// the socket.
pub struct FakePebble {
    shared: Arc<Shared>,
}

impl fmt::Debug for FakePebble {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FakePebble")
            .field("socket", &self.shared.socket)
            .field("root", &self.shared.root)
            .field("can_connect", &self.can_connect())
            .finish()
    }
}

impl FakePebble {
    /// Starts serving on `socket_path` (created, with its directory; a stale
    /// socket file there is replaced), with the container filesystem under
    /// `root_dir` (created if missing).
    pub fn start(
        socket_path: impl Into<PathBuf>,
        root_dir: impl Into<PathBuf>,
    ) -> io::Result<Self> {
        let pebble = Self::new(socket_path.into(), root_dir.into(), false)?;
        let listener = listen(&pebble.shared)?;
        *pebble.shared.lock_listener() = Some(listener);
        Ok(pebble)
    }

    /// A fake Pebble that answers in process: clients from
    /// [`client`](Self::client) (and [`transport`](Self::transport)) call
    /// its request handler directly, with no socket, thread or copy through
    /// the kernel. Only `exec` uses `socket_path`: the first exec starts
    /// serving its WebSockets there. The container filesystem is under
    /// `root_dir` (created if missing), as with [`start`](Self::start).
    ///
    /// ```
    /// use ops_testing::fake_pebble::FakePebble;
    /// use ops::pebble::PushOptions;
    ///
    /// let dir = tempfile::tempdir().unwrap();
    /// let socket = dir.path().join("pebble.socket");
    /// let pebble = FakePebble::in_process(&socket, dir.path().join("root")).unwrap();
    /// pebble.client().push("/etc/app.conf", "x = 1\n", &PushOptions::new().with_make_dirs(true)).unwrap();
    /// assert_eq!(pebble.requests(), ["POST /v1/files"]);
    /// assert!(!socket.exists(), "no socket until an exec needs one");
    /// ```
    pub fn in_process(
        socket_path: impl Into<PathBuf>,
        root_dir: impl Into<PathBuf>,
    ) -> io::Result<Self> {
        let pebble = Self::new(socket_path.into(), root_dir.into(), true)?;
        pebble.shared.online.store(true, Ordering::SeqCst);
        Ok(pebble)
    }

    /// A fake Pebble that answers in process, as [`in_process`](Self::in_process),
    /// with the container's files in memory: nothing is made on the host
    /// until a test asks for the files there ([`root`](Self::root),
    /// [`host_path`](Self::host_path), [`run_on_host`](Self::run_on_host)).
    /// Then they are written under `root_dir`, which holds them from there
    /// on. The Harness and `Context` start their containers this way.
    ///
    /// ```
    /// use ops_testing::fake_pebble::FakePebble;
    /// use ops::pebble::PushOptions;
    ///
    /// let dir = tempfile::tempdir().unwrap();
    /// let root = dir.path().join("root");
    /// let pebble = FakePebble::in_memory(dir.path().join("pebble.socket"), &root).unwrap();
    /// pebble.client().push("/etc/app.conf", "x = 1\n", &PushOptions::new().with_make_dirs(true)).unwrap();
    /// assert_eq!(pebble.read_file("/etc/app.conf").unwrap(), b"x = 1\n");
    /// assert!(!root.exists(), "nothing on the host yet");
    /// assert_eq!(std::fs::read_to_string(pebble.host_path("/etc/app.conf")).unwrap(), "x = 1\n");
    /// ```
    pub fn in_memory(
        socket_path: impl Into<PathBuf>,
        root_dir: impl Into<PathBuf>,
    ) -> io::Result<Self> {
        let mut state = State::default();
        state.memory = Some(disk::MemoryTree::default());
        let pebble = Self::with_state(
            socket_path.into(),
            root_dir.into(),
            true,
            state,
            util::random_hex(32),
        )?;
        pebble.shared.online.store(true, Ordering::SeqCst);
        Ok(pebble)
    }

    /// A copy of this in-process fake that serves under `socket_path`, with
    /// its container's `/` at `root_dir` on the host: the plan, services,
    /// checks, notices, exec handlers and records, and the files (copied
    /// under `root_dir` if this fake's are on the host already). The two
    /// share nothing from then on. Execs under way are not copied.
    ///
    /// A fake serving on a socket cannot be copied (its clients are other
    /// processes): that is an [`io::ErrorKind::Unsupported`] error.
    pub(crate) fn fork(&self, socket_path: PathBuf, root_dir: PathBuf) -> io::Result<Self> {
        if !self.shared.in_process {
            return Err(io::Error::new(
                io::ErrorKind::Unsupported,
                "only an in-process fake Pebble can be copied",
            ));
        }
        let state = self.shared.lock().clone();
        if state.memory.is_none() {
            crate::scratch::copy_tree(&self.shared.root, &root_dir)?;
        }
        // The same container, so the same node's boot id.
        let boot_id = self.shared.boot_id.clone();
        let copy = Self::with_state(socket_path, root_dir, true, state, boot_id)?;
        *copy.shared.lock_execs() = self.shared.lock_execs().fork();
        copy.shared
            .online
            .store(self.can_connect(), Ordering::SeqCst);
        Ok(copy)
    }

    fn new(socket: PathBuf, root: PathBuf, in_process: bool) -> io::Result<Self> {
        // The socket's directory is made when it is served (`listen`).
        std::fs::create_dir_all(&root)?;
        Self::with_state(
            socket,
            root,
            in_process,
            State::default(),
            util::random_hex(32),
        )
    }

    fn with_state(
        socket: PathBuf,
        root: PathBuf,
        in_process: bool,
        state: State,
        boot_id: String,
    ) -> io::Result<Self> {
        // Every client counts as the user running the fake.
        let user_id = rustix::process::getuid().as_raw();
        let shared = Arc::new_cyclic(|me| Shared {
            me: me.clone(),
            root,
            socket,
            boot_id,
            state: Mutex::new(state),
            changed: wakeup::Wakeup::default(),
            user_id,
            execs: Mutex::new(exec::Execs::default()),
            online: AtomicBool::new(false),
            listener: Mutex::new(None),
            in_process,
        });
        Ok(Self { shared })
    }

    /// The transport a client of this Pebble uses: in process for one
    /// made by [`in_process`](Self::in_process), the unix socket otherwise.
    /// It does not keep the fake alive: once the fake is dropped, requests
    /// fail as they would on a removed socket.
    pub fn transport(&self) -> Arc<dyn ops::pebble::Transport> {
        if self.shared.in_process {
            Arc::new(in_process::InProcess::new(&self.shared))
        } else {
            Arc::new(ops::pebble::UnixSocketTransport::new(&self.shared.socket))
        }
    }

    /// The socket path.
    pub fn socket_path(&self) -> &Path {
        &self.shared.socket
    }

    /// The host directory that is the container's `/`. The files of a fake
    /// made [`in_memory`](Self::in_memory) are written there first, and
    /// stay there from then on.
    ///
    /// # Panics
    ///
    /// If they cannot be written (the disk is full, the directory is not
    /// writable); [`files_on_host`](Self::files_on_host) says so instead.
    pub fn root(&self) -> &Path {
        match self.files_on_host() {
            Ok(root) => root,
            Err(e) => panic!(
                "the fake Pebble's files could not be written under {}: {e}",
                self.shared.root.display()
            ),
        }
    }

    /// The host directory that is the container's `/`, the files written
    /// there first if they were in memory.
    pub fn files_on_host(&self) -> io::Result<&Path> {
        let mut state = self.shared.lock();
        if let Some(tree) = &state.memory {
            tree.write_out(&self.shared.root)?;
            state.memory = None;
        }
        Ok(&self.shared.root)
    }

    /// Where a container path is on the host (under [`root`](Self::root),
    /// with what that does).
    pub fn host_path(&self, container_path: &str) -> PathBuf {
        let clean = files::clean(container_path).unwrap_or_else(|| format!("/{container_path}"));
        disk::host_path(self.root(), &clean)
    }

    /// Whether the container's files are in memory (a fake made
    /// [`in_memory`](Self::in_memory) whose files no one asked for on the
    /// host yet).
    pub fn files_in_memory(&self) -> bool {
        self.shared.lock().memory.is_some()
    }

    /// The content of a file in the container, wherever the files are
    /// (nothing is written to the host). Errors are Pebble's: a missing
    /// file is [`io::ErrorKind::NotFound`], the message as Pebble gives it.
    pub fn read_file(&self, container_path: &str) -> io::Result<Vec<u8>> {
        let mut state = self.shared.lock();
        Ok(files::Fs::of(&self.shared.root, &mut state).read(container_path)?)
    }

    /// Puts a file (and its missing parent directories, as `make-dirs`
    /// makes them) in the container as a test sets it up: no owner
    /// recorded, no Pebble request.
    pub(crate) fn put_file(
        &self,
        container_path: &str,
        content: &[u8],
        mode: u32,
    ) -> io::Result<()> {
        let clean = files::clean(container_path)
            .ok_or_else(|| io::Error::other(format!("{container_path:?} is not absolute")))?;
        self.put_dir(disk::parent_of(&clean))?;
        let mut state = self.shared.lock();
        let mut fs = files::Fs::of(&self.shared.root, &mut state);
        fs.disk.write(&clean, content)?;
        fs.disk.set_mode(&clean, mode)
    }

    /// Puts a directory (and its missing parents) in the container, as
    /// `make-dirs` with `make-parents` makes them.
    pub(crate) fn put_dir(&self, container_path: &str) -> io::Result<()> {
        let mut state = self.shared.lock();
        let item = files::MakeDirItem {
            path: container_path.to_string(),
            make_parents: true,
            ..Default::default()
        };
        Ok(files::Fs::of(&self.shared.root, &mut state).make_dir(&item)?)
    }

    /// Every file in the container (path, content, mode) and every empty
    /// directory, wherever they are; links (mounts) are left out.
    pub(crate) fn contents(&self) -> io::Result<disk::Contents> {
        let mut state = self.shared.lock();
        files::Fs::of(&self.shared.root, &mut state).disk.contents()
    }

    /// An `ops` client for this Pebble (over [`transport`](Self::transport)).
    pub fn client(&self) -> Client {
        Client::with_transport(self.transport())
    }

    /// The combined plan.
    pub fn plan(&self) -> Plan {
        self.shared.lock().plan.clone()
    }

    /// The layers by label, lowest first.
    pub fn layers(&self) -> Vec<(String, Layer)> {
        self.shared.lock().layers.clone()
    }

    /// Every service event so far, in order.
    pub fn service_events(&self) -> Vec<ServiceEvent> {
        self.shared.lock().events.clone()
    }

    /// Forgets the recorded service events.
    pub fn clear_service_events(&self) {
        self.shared.lock().events.clear();
    }

    /// Every request served so far, as `<METHOD> <path>` without the query
    /// (`GET /v1/services`), in order: what a test counts to hold a charm
    /// to the Pebble round trips it needs.
    pub fn requests(&self) -> Vec<String> {
        self.shared.lock().requests.clone()
    }

    /// Forgets the recorded requests.
    pub fn clear_requests(&self) {
        self.shared.lock().requests.clear();
    }

    /// A service's state, or `None` if it is not in the plan.
    pub fn service_status(&self, name: &str) -> Option<ServiceStatus> {
        self.shared.lock().service_status(name)
    }

    /// Makes starting `service` fail with `error` (the task's error, as in
    /// `cannot start service: exited quickly with code 1`), or succeed
    /// again with `None`. A failed start makes the change fail.
    pub fn set_service_start_error(&self, service: &str, error: Option<&str>) {
        let mut state = self.shared.lock();
        match error {
            Some(error) => state
                .start_errors
                .insert(service.to_string(), error.to_string()),
            None => state.start_errors.remove(service),
        };
    }

    /// A check's status as `GET /v1/checks` reports it, or `None` if it is
    /// not in the plan. Checks in a layer start when the layer is added,
    /// unless they are `startup: disabled`.
    pub fn check_info(&self, name: &str) -> Option<CheckInfo> {
        self.shared.lock().check_info(name)
    }

    /// Reports `times` failed runs of a running check (the fake runs no
    /// probes), as Pebble would see them: once its failures in a row reach
    /// its threshold (3 unless the layer says) it is `down`, its
    /// `perform-check` change fails, the running services with
    /// `on-check-failure: {<name>: restart}` are restarted (a
    /// [`ServiceEvent::Restart`]) and a `recover-check` change starts.
    ///
    /// ```
    /// # use ops_testing::fake_pebble::FakePebble;
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let pebble = FakePebble::start(dir.path().join("pebble.socket"), dir.path().join("root")).unwrap();
    /// let layer = "checks:\n  up:\n    override: replace\n    threshold: 2\n    http: {url: 'http://127.0.0.1:8080/'}\n";
    /// pebble.client().add_layer("l", &ops::pebble::Layer::from_yaml(layer).unwrap(), false).unwrap();
    /// pebble.fail_check("up", 1).unwrap();
    /// assert!(pebble.check_info("up").unwrap().is_up());
    /// pebble.fail_check("up", 1).unwrap();
    /// assert_eq!(pebble.check_info("up").unwrap().status, ops::pebble::CheckStatus::Down);
    /// pebble.pass_check("up", 1).unwrap();
    /// assert!(pebble.check_info("up").unwrap().is_up());
    /// ```
    pub fn fail_check(&self, name: &str, times: u32) -> Result<(), CheckRunError> {
        self.shared
            .update(|state| (0..times).try_for_each(|_| state.fail_check(name)))
    }

    /// Reports `times` successful runs of a running check: the first
    /// brings a `down` check back `up`, and clears the failures in a row.
    pub fn pass_check(&self, name: &str, times: u32) -> Result<(), CheckRunError> {
        self.shared
            .update(|state| (0..times).try_for_each(|_| state.run_check(name, Ok(()))))
    }

    /// Raises a warning (`GET /v1/warnings` lists it until a client
    /// acknowledges it); one with the same message is raised again.
    ///
    /// ```
    /// # use ops_testing::fake_pebble::FakePebble;
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let pebble = FakePebble::in_process(dir.path().join("pebble.socket"), dir.path().join("root")).unwrap();
    /// pebble.warn("disk nearly full");
    /// let client = pebble.client();
    /// let pending = client.get_warnings(ops::pebble::WarningState::Pending).unwrap();
    /// assert_eq!(pending[0].message, "disk nearly full");
    /// assert_eq!(client.ack_warnings(std::time::SystemTime::now()).unwrap(), 1);
    /// assert!(client.get_warnings(ops::pebble::WarningState::Pending).unwrap().is_empty());
    /// ```
    pub fn warn(&self, message: &str) {
        let now = std::time::SystemTime::now();
        self.shared.update(|state| {
            match state.warnings.iter_mut().find(|w| w.message == message) {
                Some(w) => w.last_added = now,
                None => state.warnings.push(api::warnings::WarningRecord {
                    message: message.to_string(),
                    first_added: now,
                    last_added: now,
                    last_shown: None,
                }),
            }
        });
    }

    /// Every notice, of every user, ordered by last-repeated time:
    /// custom ones and Pebble's own `change-update` ones.
    pub fn notices(&self) -> Vec<PebbleNotice> {
        self.shared.lock().notices.all()
    }

    /// Records a custom notice as `pebble notify <key> [k=v ...]` run in the
    /// container would; its id. A key seen before counts another occurrence
    /// of the same notice.
    pub fn notify(
        &self,
        key: &str,
        data: &std::collections::BTreeMap<String, String>,
    ) -> Result<String, NoticeKeyError> {
        notices::check_custom_key(key)?;
        let user = self.shared.user_id;
        Ok(self.shared.update(|state| {
            state.notices.add(
                Some(user),
                notices::CUSTOM,
                key,
                data.clone(),
                Duration::ZERO,
            )
        }))
    }

    /// Records a custom notice as user `uid` would with `pebble notify`:
    /// one that only that user and admins see (an admin lists it with
    /// `users=all` or `user-id=<uid>`).
    pub fn notify_as(
        &self,
        uid: u32,
        key: &str,
        data: &std::collections::BTreeMap<String, String>,
    ) -> Result<String, NoticeKeyError> {
        notices::check_custom_key(key)?;
        Ok(self.shared.update(|state| {
            state.notices.add(
                Some(uid),
                notices::CUSTOM,
                key,
                data.clone(),
                Duration::ZERO,
            )
        }))
    }

    /// The owner last asked for at `path` (by a push or make-dir), if any.
    pub fn file_owner(&self, path: &str) -> Option<FileOwner> {
        let clean = files::clean(path)?;
        self.shared.lock().owners.get(&clean).cloned()
    }

    /// Makes commands starting with `command_prefix` run `handler`, as
    /// Python's `Harness.handle_exec`: the handler gets what the process
    /// would (arguments, environment, working directory, ids, and standard
    /// input if it reads it: [`ExecArgs::stdin`]) and says what it does
    /// ([`ExecResult`]). The longest matching
    /// prefix wins; an empty prefix matches every command; registering a
    /// prefix again replaces its handler. A command no handler matches
    /// fails as one that is not installed does in Pebble: `POST /v1/exec`
    /// answers 400 `cannot find executable "<name>"`.
    ///
    /// ```
    /// use ops_testing::fake_pebble::{FakePebble, ExecResult};
    /// use ops::pebble::{ExecOptions, PebbleError};
    ///
    /// let dir = tempfile::tempdir().unwrap();
    /// let pebble = FakePebble::start(dir.path().join("pebble.socket"), dir.path().join("root")).unwrap();
    /// pebble.handle_exec(&["psql"], |args| {
    ///     ExecResult::stdout(format!("{} bytes of SQL\n", args.stdin().len()))
    /// });
    /// pebble.handle_exec(&["psql", "--version"], |_| ExecResult::stdout("psql (PostgreSQL) 16.4\n"));
    /// pebble.handle_exec(&["false"], |_| ExecResult::exit(1));
    ///
    /// let client = pebble.client();
    /// let version = client.exec(&["psql", "--version"], &ExecOptions::default()).unwrap();
    /// assert_eq!(version.stdout_text(), "psql (PostgreSQL) 16.4\n");
    /// let run = ExecOptions::new().with_stdin(b"SELECT 1;".to_vec());
    /// assert_eq!(client.exec(&["psql", "-f", "-"], &run).unwrap().stdout_text(), "9 bytes of SQL\n");
    /// let err = client.exec(&["false"], &ExecOptions::default()).unwrap_err();
    /// assert_eq!(err.exit_code(), Some(1));
    /// assert_eq!(pebble.execs().len(), 3);
    /// ```
    pub fn handle_exec(
        &self,
        command_prefix: &[&str],
        handler: impl Fn(&ExecArgs) -> ExecResult + Send + Sync + 'static,
    ) {
        self.shared
            .lock_execs()
            .handle(command_prefix, Arc::new(handler));
    }

    /// Makes commands starting with `command_prefix` run for real on the
    /// host: with exactly the exec's environment, in its working directory
    /// mapped under [`root`](Self::root) (`/srv` is `<root>/srv`), its
    /// standard input passed on and its output sent back as they come (a
    /// client may stream both, as with `exec_process`), the signals sent
    /// over the exec's control WebSocket delivered to it (one killed by a
    /// signal exits 128 plus its number, as Pebble reports it), and killed
    /// after its timeout (then failing as Pebble's do). Paths in the
    /// arguments are not mapped, and the user and group are not applied. A
    /// command that cannot be started exits 127, its reason on stderr.
    ///
    /// ```
    /// use ops_testing::fake_pebble::FakePebble;
    /// use ops::pebble::ExecOptions;
    ///
    /// let dir = tempfile::tempdir().unwrap();
    /// let pebble = FakePebble::start(dir.path().join("pebble.socket"), dir.path().join("root")).unwrap();
    /// pebble.run_on_host(&["tr"]);
    /// let upper = ExecOptions::new().with_stdin(b"quiet\n".to_vec());
    /// let output = pebble.client().exec(&["tr", "a-z", "A-Z"], &upper).unwrap();
    /// assert_eq!(output.stdout_text(), "QUIET\n");
    /// ```
    pub fn run_on_host(&self, command_prefix: &[&str]) {
        let handler = host_exec::handler(self.root().to_path_buf());
        self.shared.lock_execs().handle(command_prefix, handler);
    }

    /// Every exec that ran (had a handler and connected its WebSockets),
    /// in order, with the standard input its handler read.
    pub fn execs(&self) -> Vec<ExecArgs> {
        self.shared.lock_execs().records.clone()
    }

    /// Adds a user that execs may run as (`user`, `user-id`), whose primary
    /// group has the same name and id `gid`, and whose home is
    /// `/home/<name>`. Only `root` (0:0, `/root`) is there from the start.
    pub fn add_user(&self, name: &str, uid: u32, gid: u32) {
        let mut execs = self.shared.lock_execs();
        execs.users.retain(|u| u.name != name);
        execs.users.push(exec::User {
            name: name.to_string(),
            uid,
            gid,
            home: format!("/home/{name}"),
        });
    }

    /// Whether clients can connect.
    pub fn can_connect(&self) -> bool {
        self.shared.online.load(Ordering::SeqCst)
    }

    /// With `false` the server stops listening and removes the socket, so
    /// clients get "socket not found"; with `true` it listens again (in
    /// process: answers again). The plan, services and files are kept.
    pub fn set_can_connect(&self, can_connect: bool) {
        let mut listener = self.shared.lock_listener();
        if self.shared.in_process && can_connect {
            self.shared.online.store(true, Ordering::SeqCst);
            return;
        }
        if !can_connect {
            self.shared.online.store(false, Ordering::SeqCst);
        }
        match (can_connect, listener.is_some()) {
            (true, false) => match listen(&self.shared) {
                Ok(l) => *listener = Some(l),
                Err(e) => tracing::error!(
                    "fake Pebble cannot listen on {}: {e}",
                    self.shared.socket.display()
                ),
            },
            (false, true) => {
                if let Some(l) = listener.take() {
                    shut_down(&self.shared, l);
                }
            }
            _ => {}
        }
    }

    /// Pebble starts again as in a new pod: Juju on Kubernetes replaces it
    /// (churn, `juju refresh`), and Pebble comes up with no layers (those
    /// added over the API live in its memory only), so no plan, services
    /// or checks, and none of its changes, notices or identities. (A
    /// workload container that restarts in the same pod also comes back
    /// with an empty plan.) The container's files are left as they are: a
    /// test of pod churn removes them too. An exec under way finishes into
    /// nothing.
    ///
    /// ```
    /// use ops_testing::fake_pebble::FakePebble;
    /// use ops::pebble::Layer;
    ///
    /// let dir = tempfile::tempdir().unwrap();
    /// let pebble = FakePebble::in_memory(dir.path().join("pebble.socket"), dir.path().join("root")).unwrap();
    /// let layer = Layer::from_yaml("services: {app: {override: replace, command: app}}").unwrap();
    /// pebble.client().add_layer("base", &layer, true).unwrap();
    /// pebble.start_afresh();
    /// assert!(pebble.layers().is_empty());
    /// assert!(pebble.client().get_services(&[]).unwrap().is_empty());
    /// ```
    pub fn start_afresh(&self) {
        self.shared.lock().start_afresh();
        self.shared.changed.notify();
    }

    /// Shuts the server down and removes the socket.
    pub fn stop(self) {
        drop(self);
    }
}

impl Drop for FakePebble {
    fn drop(&mut self) {
        let listener = self.shared.lock_listener().take();
        self.shared.online.store(false, Ordering::SeqCst);
        if let Some(listener) = listener {
            shut_down(&self.shared, listener);
        }
    }
}

fn listen(shared: &Arc<Shared>) -> io::Result<Listener> {
    if let Some(parent) = shared.socket.parent() {
        std::fs::create_dir_all(parent)?;
    }
    if std::fs::symlink_metadata(&shared.socket).is_ok() {
        std::fs::remove_file(&shared.socket)?;
    }
    let socket = UnixListener::bind(&shared.socket)?;
    let inode = std::fs::metadata(&shared.socket)?.ino();
    shared.online.store(true, Ordering::SeqCst);
    let stop = Arc::new(AtomicBool::new(false));
    let thread = {
        let stop = Arc::clone(&stop);
        let shared = Arc::clone(shared);
        std::thread::Builder::new()
            .name("fake-pebble".into())
            .spawn(move || accept_loop(&shared, &socket, &stop))?
    };
    Ok(Listener {
        stop,
        thread,
        inode,
    })
}

/// Accepts connections (blocking) until [`shut_down`] sets `stop` and wakes
/// the accept with a connection of its own.
fn accept_loop(shared: &Arc<Shared>, socket: &UnixListener, stop: &AtomicBool) {
    for stream in socket.incoming() {
        if stop.load(Ordering::SeqCst) {
            return;
        }
        match stream {
            Ok(stream) => {
                let shared = Arc::clone(shared);
                let spawned = std::thread::Builder::new()
                    .name("fake-pebble-conn".into())
                    .spawn(move || serve(&shared, stream));
                if let Err(e) = spawned {
                    tracing::error!("fake Pebble cannot spawn a connection thread: {e}");
                }
            }
            Err(e) => {
                // EMFILE and the like: the next accept may succeed once a
                // connection closes; `incoming` never ends on its own.
                tracing::warn!("fake Pebble accept failed: {e}");
            }
        }
    }
}

fn shut_down(shared: &Shared, listener: Listener) {
    shared.online.store(false, Ordering::SeqCst);
    listener.stop.store(true, Ordering::SeqCst);
    let ours = std::fs::metadata(&shared.socket).is_ok_and(|m| m.ino() == listener.inode);
    if !ours {
        // The file is gone or another server's: nobody can reach this accept
        // any more, so its thread stays blocked; leave it (and the file).
        tracing::warn!(
            "fake Pebble's socket {} was removed or replaced; its accept thread is left behind",
            shared.socket.display()
        );
        return;
    }
    // Wake the blocking accept: it sees `stop` and returns.
    match UnixStream::connect(&shared.socket) {
        Ok(wake) => {
            drop(wake);
            let _ = listener.thread.join();
        }
        Err(e) => tracing::warn!(
            "fake Pebble cannot wake its accept loop on {}: {e}",
            shared.socket.display()
        ),
    }
    let _ = std::fs::remove_file(&shared.socket);
}

/// Serves the requests of one connection until it closes.
fn serve(shared: &Shared, stream: UnixStream) {
    let setup = stream
        .set_nonblocking(false)
        .and_then(|()| stream.set_read_timeout(Some(IDLE_TIMEOUT)))
        .and_then(|()| stream.try_clone());
    let Ok(read_half) = setup else { return };
    let mut reader = BufReader::new(read_half);
    let mut writer = stream;
    loop {
        let request = match http::read_request(&mut reader, &mut writer) {
            Ok(Some(request)) => request,
            Ok(None) => return,
            Err(e) => {
                let reply = http::Reply::bad_request(format!("malformed HTTP request: {e}"));
                let _ = writer.write_all(&reply.encode(true));
                return;
            }
        };
        if !shared.online.load(Ordering::SeqCst) {
            return; // Pebble went away: drop the connection unanswered.
        }
        shared
            .lock()
            .requests
            .push(format!("{} {}", request.method, request.path));
        if let Some((task, id)) = exec::websocket_route(&request) {
            // The connection becomes a WebSocket (or is refused and closed).
            exec::connect_websocket(shared, &request, &task, &id, reader, writer);
            return;
        }
        let reply = api::handle(shared, &request);
        shared.changed.notify();
        if writer.write_all(&reply.encode(request.close)).is_err() || request.close {
            return;
        }
    }
}
