//! [`State`]: everything Juju and the workload hold about one unit, as plain
//! immutable data that goes into [`Context::run`](super::Context::run) and
//! comes out changed.
//!
//! Every component is built with `Default` and `with_*` builders; every
//! field is public, so that a test can also write the struct out or change
//! one field of an output state for the next run.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};

use ops::Status;
use ops::pebble::{CheckInfo, Layer, Plan, ServiceInfo, ServiceStartup, ServiceStatus};
use ops::storage::Notice;

use crate::fake_pebble::ExecResult;

pub use crate::fake_juju::{Bag, PortRange};

/// The address a [`State`] gives the unit unless told otherwise (loopback:
/// nothing a test does reaches the network).
pub const DEFAULT_ADDRESS: &str = "127.0.0.1";

/// The keys Juju puts in every unit's databag, for `address`:
/// `egress-subnets`, `ingress-address` and `private-address`.
///
/// ```
/// let bag = ops_testing::context::default_unit_data("127.0.0.2");
/// assert_eq!(bag["ingress-address"], "127.0.0.2");
/// assert_eq!(bag["egress-subnets"], "127.0.0.2/32");
/// ```
pub fn default_unit_data(address: &str) -> Bag {
    Bag::from([
        ("egress-subnets".to_string(), format!("{address}/32")),
        ("ingress-address".to_string(), address.to_string()),
        ("private-address".to_string(), address.to_string()),
    ])
}

static NEXT_RELATION_ID: AtomicU32 = AtomicU32::new(1);
static NEXT_SECRET: AtomicU64 = AtomicU64::new(1);
static NEXT_STORAGE: AtomicU32 = AtomicU32::new(0);

/// What kind of relation a [`Relation`] is; it must match the endpoint's
/// declaration (the consistency checker says so if not).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RelationKind {
    /// A `requires` or `provides` endpoint with global scope.
    #[default]
    Regular,
    /// A `peers` endpoint: the remote units are this application's.
    Peer,
    /// A `requires`/`provides` endpoint with `scope: container`: exactly one
    /// remote unit, the principal (or subordinate) on the same machine.
    Subordinate,
}

/// A relation this unit is in, with both sides' databags.
///
/// ```
/// use ops_testing::context::Relation;
///
/// let db = Relation::new("backend-database")
///     .with_remote_app("postgresql")
///     .with_remote_app_data([("endpoints", "127.0.0.1:5432")])
///     .with_remote_unit(0, [("ready", "yes")]);
/// assert_eq!(db.remote_unit_names("pgbouncer-k8s"), vec!["postgresql/0"]);
/// // Juju's own keys are in every unit bag.
/// assert!(db.local_unit_data.contains_key("ingress-address"));
/// assert_eq!(db.remote_units_data[&0]["ready"], "yes");
/// // Debug shows keys, never values.
/// assert!(!format!("{db:?}").contains("127.0.0.1:5432"));
/// ```
#[derive(Clone, PartialEq)]
pub struct Relation {
    /// The relation id (unique in the model; a new relation gets the next
    /// one of a process-wide counter).
    pub id: u32,
    /// This charm's endpoint.
    pub endpoint: String,
    /// The interface, if the test wants it checked against the metadata.
    pub interface: Option<String>,
    /// Regular, peer or subordinate.
    pub kind: RelationKind,
    /// The application on the other side (ignored for peers: it is this one).
    pub remote_app: String,
    /// This application's databag.
    pub local_app_data: Bag,
    /// This unit's databag (Juju's default keys included).
    pub local_unit_data: Bag,
    /// The remote application's databag (for peers: unused, the app bag is
    /// `local_app_data`).
    pub remote_app_data: Bag,
    /// The remote units' databags by unit number (for peers: the other
    /// units of this application).
    pub remote_units_data: BTreeMap<u32, Bag>,
    /// At most this many relations on this endpoint, if the test says so
    /// (checked with the metadata's `limit` before a run); `None` leaves
    /// the metadata's alone.
    pub limit: Option<u32>,
    /// The uuid of the model the remote application is in, for a
    /// cross-model relation (`relation-model-get`); `None` is this model.
    pub remote_model_uuid: Option<String>,
}

/// A databag as `Debug` shows it: keys and value lengths, never values
/// (a databag may carry an auth file or a password).
struct Redacted<'a>(&'a Bag);

impl fmt::Debug for Redacted<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut map = f.debug_map();
        for (k, v) in self.0 {
            map.entry(k, &format_args!("<{} bytes>", v.len()));
        }
        map.finish()
    }
}

/// Shows databag keys and value lengths, never values.
impl fmt::Debug for Relation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let units: BTreeMap<&u32, Redacted<'_>> = self
            .remote_units_data
            .iter()
            .map(|(n, bag)| (n, Redacted(bag)))
            .collect();
        f.debug_struct("Relation")
            .field("id", &self.id)
            .field("endpoint", &self.endpoint)
            .field("interface", &self.interface)
            .field("kind", &self.kind)
            .field("remote_app", &self.remote_app)
            .field("local_app_data", &Redacted(&self.local_app_data))
            .field("local_unit_data", &Redacted(&self.local_unit_data))
            .field("remote_app_data", &Redacted(&self.remote_app_data))
            .field("remote_units_data", &units)
            .field("limit", &self.limit)
            .field("remote_model_uuid", &self.remote_model_uuid)
            .finish()
    }
}

impl Relation {
    /// A regular relation on `endpoint` with a remote application `remote`,
    /// no remote units yet, and empty databags (but for Juju's keys in this
    /// unit's bag).
    pub fn new(endpoint: &str) -> Self {
        Self {
            id: NEXT_RELATION_ID.fetch_add(1, Ordering::Relaxed),
            endpoint: endpoint.to_string(),
            interface: None,
            kind: RelationKind::Regular,
            remote_app: "remote".to_string(),
            local_app_data: Bag::new(),
            local_unit_data: default_unit_data(DEFAULT_ADDRESS),
            remote_app_data: Bag::new(),
            remote_units_data: BTreeMap::new(),
            limit: None,
            remote_model_uuid: None,
        }
    }

    /// A peer relation on `endpoint`.
    pub fn peer(endpoint: &str) -> Self {
        Self {
            kind: RelationKind::Peer,
            remote_app: String::new(),
            ..Self::new(endpoint)
        }
    }

    /// A subordinate relation on `endpoint` with `remote_app`'s unit `unit`.
    pub fn subordinate(endpoint: &str, remote_app: &str, unit: u32) -> Self {
        Self {
            kind: RelationKind::Subordinate,
            ..Self::new(endpoint).with_remote_app(remote_app)
        }
        .with_remote_unit(unit, Vec::<(&str, &str)>::new())
    }

    /// The same relation with another id.
    pub fn with_id(mut self, id: u32) -> Self {
        self.id = id;
        self
    }

    /// The interface the test expects (checked against the metadata).
    pub fn with_interface(mut self, interface: &str) -> Self {
        self.interface = Some(interface.to_string());
        self
    }

    /// The remote application's name.
    pub fn with_remote_app(mut self, app: &str) -> Self {
        self.remote_app = app.to_string();
        self
    }

    /// At most `limit` relations on this endpoint: a state with more is
    /// inconsistent (as with the metadata's `limit`).
    ///
    /// ```
    /// use ops_testing::context::Relation;
    ///
    /// let db = Relation::new("db").with_limit(2);
    /// assert_eq!(db.limit, Some(2));
    /// ```
    pub fn with_limit(mut self, limit: u32) -> Self {
        self.limit = Some(limit);
        self
    }

    /// The remote application is in the model with this uuid: what
    /// `relation-model-get` answers for this relation.
    ///
    /// ```
    /// use ops_testing::context::Relation;
    ///
    /// let db = Relation::new("db").with_remote_model_uuid("5f0b5d2c-1c57-4b1e-9a43-1e2d3c4b5a69");
    /// assert!(db.remote_model_uuid.is_some());
    /// ```
    pub fn with_remote_model_uuid(mut self, uuid: &str) -> Self {
        self.remote_model_uuid = Some(uuid.to_string());
        self
    }

    /// Adds to this application's databag.
    pub fn with_local_app_data<'a>(
        mut self,
        data: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> Self {
        extend(&mut self.local_app_data, data);
        self
    }

    /// Adds to this unit's databag.
    pub fn with_local_unit_data<'a>(
        mut self,
        data: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> Self {
        extend(&mut self.local_unit_data, data);
        self
    }

    /// Adds to the remote application's databag.
    pub fn with_remote_app_data<'a>(
        mut self,
        data: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> Self {
        extend(&mut self.remote_app_data, data);
        self
    }

    /// Adds remote unit number `unit` (a peer, for a peer relation) with
    /// Juju's default keys and `data` in its databag.
    pub fn with_remote_unit<'a>(
        mut self,
        unit: u32,
        data: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> Self {
        let bag = self
            .remote_units_data
            .entry(unit)
            .or_insert_with(|| default_unit_data(DEFAULT_ADDRESS));
        extend(bag, data);
        self
    }

    /// The application on the other side, for this charm's application `app`.
    pub fn remote_app_name<'a>(&'a self, app: &'a str) -> &'a str {
        if self.kind == RelationKind::Peer {
            app
        } else {
            &self.remote_app
        }
    }

    /// The remote units' names (`<remote app>/<n>`), for this charm's
    /// application `app`.
    pub fn remote_unit_names(&self, app: &str) -> Vec<String> {
        let remote = self.remote_app_name(app);
        self.remote_units_data
            .keys()
            .map(|n| format!("{remote}/{n}"))
            .collect()
    }
}

fn extend<'a>(bag: &mut Bag, data: impl IntoIterator<Item = (&'a str, &'a str)>) {
    bag.extend(
        data.into_iter()
            .map(|(k, v)| (k.to_string(), v.to_string())),
    );
}

/// A file in a container: its content and mode.
#[derive(Clone, PartialEq, Eq)]
pub struct File {
    /// The bytes.
    pub content: Vec<u8>,
    /// The permission bits (`0o644`).
    pub mode: u32,
}

impl File {
    /// A file with `content`, mode `0o644`.
    pub fn new(content: impl Into<Vec<u8>>) -> Self {
        Self {
            content: content.into(),
            mode: 0o644,
        }
    }

    /// The same file with another mode.
    pub fn with_mode(mut self, mode: u32) -> Self {
        self.mode = mode;
        self
    }

    /// The content as text, if it is UTF-8.
    pub fn text(&self) -> Option<&str> {
        std::str::from_utf8(&self.content).ok()
    }
}

/// Never shows the content: a container file may be an auth file or a key.
impl fmt::Debug for File {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "File({} bytes, mode {:o})",
            self.content.len(),
            self.mode
        )
    }
}

/// A workload container: whether Pebble answers, its layers, which services
/// run, and its filesystem.
///
/// ```
/// use ops::pebble::{Layer, Service, ServiceStatus};
/// use ops_testing::context::{Container, File};
///
/// let mut layer = Layer::default();
/// layer.services.insert("app".into(), Service {
///     command: Some("app".into()),
///     ..Default::default()
/// });
/// let c = Container::new("workload")
///     .with_can_connect(true)
///     .with_layer("base", layer)
///     .with_service_status("app", ServiceStatus::Active)
///     .with_file("/etc/app.conf", File::new("port = 80\n"));
/// assert_eq!(c.files["/etc/app.conf"].text(), Some("port = 80\n"));
/// ```
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Container {
    /// The container's name, from the metadata.
    pub name: String,
    /// Whether Pebble answers.
    pub can_connect: bool,
    /// The layers by label, lowest first.
    pub layers: Vec<(String, Layer)>,
    /// The services that run (`Active`) or not (`Inactive`); a service in the
    /// plan and not here is inactive.
    pub service_statuses: BTreeMap<String, ServiceStatus>,
    /// Files by absolute path in the container.
    pub files: BTreeMap<String, File>,
    /// Empty directories by absolute path (one holding a file or a
    /// directory is implied; see [`Container::has_dir`]).
    pub dirs: BTreeSet<String>,
    /// Services whose (re)start fails, with the error Pebble reports (the
    /// change fails): how a test makes a Pebble change error.
    pub service_start_errors: BTreeMap<String, String>,
    /// What the commands the charm runs (`exec`) do, by command prefix
    /// (Scenario's `Container(execs={Exec([...], ...)})`); the longest
    /// matching prefix wins, and a command none matches is not installed.
    /// What ran is in [`Context::exec_history`](super::Context::exec_history).
    pub execs: BTreeMap<Vec<String>, ExecResult>,
    /// Custom notices (`pebble notify`) by key, with their last data: in
    /// the container's Pebble before the run; after it, every custom notice
    /// there (the charm's own too). Python's `Container(notices=...)`.
    pub notices: BTreeMap<String, BTreeMap<String, String>>,
    /// Failed runs in a row of health checks, by name: reported to the
    /// container's Pebble before the run (a check that reaches its
    /// threshold is `down`); after it, each check's failures as Pebble
    /// counts them. Python's `Container(check_infos=...)`, by failure count.
    pub check_failures: BTreeMap<String, u32>,
    /// After a run, every health check as the container's Pebble reports it
    /// (`GET /v1/checks`: level, startup, status, failures, threshold, the
    /// change running it), by name: Python's `Container.check_infos` and
    /// `get_check_info(name)` (`check_infos.get(name)`). Not read before a
    /// run: what a test sets goes in through the layers and
    /// [`check_failures`](Self::check_failures).
    pub check_infos: BTreeMap<String, CheckInfo>,
    /// Host directories mounted in the container, by container location
    /// (Python's `Container(mounts={...: Mount(location, source)})`): what
    /// the charm reads and writes there is the host directory's, and stays
    /// out of [`files`](Self::files).
    pub mounts: BTreeMap<String, PathBuf>,
}

impl Container {
    /// A container that Pebble does not answer in yet, with nothing in it.
    pub fn new(name: &str) -> Self {
        Self {
            name: name.to_string(),
            ..Default::default()
        }
    }

    /// Whether Pebble answers.
    pub fn with_can_connect(mut self, can_connect: bool) -> Self {
        self.can_connect = can_connect;
        self
    }

    /// Adds a layer (on top of the others).
    pub fn with_layer(mut self, label: &str, layer: Layer) -> Self {
        self.layers.push((label.to_string(), layer));
        self
    }

    /// Sets a service's status.
    pub fn with_service_status(mut self, service: &str, status: ServiceStatus) -> Self {
        self.service_statuses.insert(service.to_string(), status);
        self
    }

    /// Adds a file at an absolute container path.
    pub fn with_file(mut self, path: &str, file: File) -> Self {
        self.files.insert(path.to_string(), file);
        self
    }

    /// Adds a directory at an absolute container path.
    pub fn with_dir(mut self, path: &str) -> Self {
        self.dirs.insert(path.to_string());
        self
    }

    /// Makes every later start (or restart) of `service` fail with `error`.
    pub fn with_service_start_error(mut self, service: &str, error: &str) -> Self {
        self.service_start_errors
            .insert(service.to_string(), error.to_string());
        self
    }

    /// Makes commands starting with `command_prefix` do `result`.
    ///
    /// ```
    /// use ops_testing::context::Container;
    /// use ops_testing::fake_pebble::ExecResult;
    ///
    /// let c = Container::new("db")
    ///     .with_can_connect(true)
    ///     .with_exec(&["pg_isready"], ExecResult::exit(2))
    ///     .with_exec(&["psql", "--version"], ExecResult::stdout("psql (PostgreSQL) 16.4\n"));
    /// assert_eq!(c.execs.len(), 2);
    /// ```
    pub fn with_exec(mut self, command_prefix: &[&str], result: ExecResult) -> Self {
        self.execs.insert(
            command_prefix.iter().map(|s| s.to_string()).collect(),
            result,
        );
        self
    }

    /// A custom notice of `key` with `data`, in Pebble before the run.
    ///
    /// ```
    /// use ops_testing::context::Container;
    ///
    /// let c = Container::new("workload")
    ///     .with_can_connect(true)
    ///     .with_notice("example.com/db-ready", &[("host", "127.0.0.1")]);
    /// assert_eq!(c.notices["example.com/db-ready"]["host"], "127.0.0.1");
    /// ```
    pub fn with_notice(mut self, key: &str, data: &[(&str, &str)]) -> Self {
        let data = data
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        self.notices.insert(key.to_string(), data);
        self
    }

    /// `failures` failed runs in a row of the health check `name` (declared
    /// by one of the layers), reported before the run.
    ///
    /// ```
    /// use ops_testing::context::Container;
    ///
    /// let c = Container::new("workload").with_check_failures("up", 3);
    /// assert_eq!(c.check_failures["up"], 3);
    /// ```
    pub fn with_check_failures(mut self, name: &str, failures: u32) -> Self {
        self.check_failures.insert(name.to_string(), failures);
        self
    }

    /// Mounts the host directory `source` at `location` in the container
    /// (Python's `Mount(location=..., source=...)`): the charm's reads and
    /// writes there go to `source`, where the test reads them.
    ///
    /// ```
    /// use ops_testing::context::Container;
    ///
    /// let config = tempfile::tempdir().unwrap();
    /// let c = Container::new("workload").with_mount("/etc/app", config.path());
    /// assert_eq!(c.mounts["/etc/app"], config.path());
    /// ```
    pub fn with_mount(mut self, location: &str, source: impl AsRef<Path>) -> Self {
        let source = source.as_ref();
        // The container's Pebble resolves it from another directory.
        let source = std::path::absolute(source).unwrap_or_else(|_| source.to_path_buf());
        self.mounts.insert(location.to_string(), source);
        self
    }

    /// The text of the file at `path`, if there is one and it is UTF-8.
    pub fn text(&self, path: &str) -> Option<&str> {
        self.files.get(path).and_then(File::text)
    }

    /// Whether `path` is a directory: empty, or holding a file or directory.
    pub fn has_dir(&self, path: &str) -> bool {
        let prefix = format!("{}/", path.trim_end_matches('/'));
        self.dirs.contains(path)
            || self
                .files
                .keys()
                .chain(self.dirs.iter())
                .any(|p| p.starts_with(&prefix))
    }

    /// The plan Pebble makes of [`layers`](Self::layers): each service,
    /// check and log target merged or replaced layer by layer, as its
    /// `override` says, with Pebble's default check threshold filled in.
    /// Assert on this rather than on the layers the charm added.
    ///
    /// ```
    /// use ops::pebble::Layer;
    /// use ops_testing::context::Container;
    ///
    /// let base = Layer::from_yaml(
    ///     "services: {app: {override: replace, command: app, environment: {A: '1'}}}",
    /// ).unwrap();
    /// let top = Layer::from_yaml(
    ///     "services: {app: {override: merge, environment: {B: '2'}}}",
    /// ).unwrap();
    /// let c = Container::new("workload").with_layer("base", base).with_layer("top", top);
    /// let plan = c.plan().unwrap();
    /// let app = &plan.services["app"];
    /// assert_eq!(app.command.as_deref(), Some("app"));
    /// assert_eq!(app.environment.len(), 2);
    /// ```
    ///
    /// # Errors
    /// [`PlanError`] if a layer does not combine (an `override` missing or
    /// not `merge`/`replace`) or the result is not a valid plan, with
    /// Pebble's message.
    pub fn plan(&self) -> Result<Plan, PlanError> {
        crate::fake_pebble::plan_of(&self.layers).map_err(PlanError)
    }

    /// The plan's services as the container's Pebble reports them (Python's
    /// `Container.services`): startup from the plan (`disabled` where no
    /// layer sets it), status from [`service_statuses`](Self::service_statuses)
    /// (`inactive` where the test gives none). An error if the layers do not
    /// make a plan.
    ///
    /// ```
    /// use ops::pebble::{Layer, ServiceStartup, ServiceStatus};
    /// use ops_testing::context::Container;
    ///
    /// let layer = Layer::from_yaml(
    ///     "services:\n  web: {override: replace, command: web, startup: enabled}\n  \
    ///      cron: {override: replace, command: cron}\n",
    /// )
    /// .unwrap();
    /// let container = Container::new("app")
    ///     .with_layer("base", layer)
    ///     .with_service_status("web", ServiceStatus::Active);
    /// let services = container.services().unwrap();
    /// assert_eq!(services["web"].startup, ServiceStartup::Enabled);
    /// assert!(services["web"].is_running());
    /// assert_eq!(services["cron"].startup, ServiceStartup::Disabled);
    /// assert_eq!(services["cron"].current, ServiceStatus::Inactive);
    /// ```
    pub fn services(&self) -> Result<BTreeMap<String, ServiceInfo>, PlanError> {
        let plan = self.plan()?;
        Ok(plan
            .services
            .iter()
            .map(|(name, service)| {
                let info = ServiceInfo {
                    name: name.clone(),
                    startup: service.startup.clone().unwrap_or(ServiceStartup::Disabled),
                    current: self
                        .service_statuses
                        .get(name)
                        .cloned()
                        .unwrap_or(ServiceStatus::Inactive),
                    current_since: None,
                };
                (name.clone(), info)
            })
            .collect())
    }

    /// The names of the services any layer defines, plan or not.
    pub(crate) fn service_names(&self) -> BTreeSet<String> {
        self.layers
            .iter()
            .flat_map(|(_, l)| l.services.keys().cloned())
            .collect()
    }
}

/// The layers of a [`Container`] do not make a plan: Pebble's message
/// (layer labels, service and check names; no values).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the layers do not make a plan: {0}")]
pub struct PlanError(pub String);

/// One address on a network interface, as `network-get` reports it.
///
/// ```
/// use ops_testing::context::Address;
///
/// let a = Address::new("127.1.2.3");
/// assert_eq!(a.cidr, "127.1.2.0/24");
/// let b = Address::new("127.1.2.3").with_cidr("127.1.0.0/16").with_hostname("db-0");
/// assert_eq!((b.cidr.as_str(), b.hostname.as_str()), ("127.1.0.0/16", "db-0"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Address {
    /// The IP address.
    pub value: String,
    /// A host name that resolves to it (empty if none).
    pub hostname: String,
    /// The subnet it is in.
    pub cidr: String,
}

impl Address {
    /// `value` in its `/24` (IPv4) or as a `/128` (anything else), without
    /// a host name: what the fake Juju gives a unit's address.
    pub fn new(value: &str) -> Self {
        let cidr = match value.rsplit_once('.') {
            Some((net, _)) if value.parse::<std::net::Ipv4Addr>().is_ok() => format!("{net}.0/24"),
            _ => format!("{value}/128"),
        };
        Self {
            value: value.to_string(),
            hostname: String::new(),
            cidr,
        }
    }

    /// The same address in another subnet.
    pub fn with_cidr(mut self, cidr: &str) -> Self {
        self.cidr = cidr.to_string();
        self
    }

    /// The same address with a host name.
    pub fn with_hostname(mut self, hostname: &str) -> Self {
        self.hostname = hostname.to_string();
        self
    }
}

/// A network interface and the addresses bound to it.
///
/// ```
/// use ops_testing::context::{Address, BindAddress};
///
/// let eth1 = BindAddress::new("eth1", [Address::new("127.1.2.3")]).with_mac_address("00:16:3e:00:00:01");
/// assert_eq!(eth1.addresses[0].value, "127.1.2.3");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct BindAddress {
    /// The interface's name (`eth0`).
    pub interface_name: String,
    /// Its MAC address (empty if unknown).
    pub mac_address: String,
    /// The addresses on it.
    pub addresses: Vec<Address>,
}

impl BindAddress {
    /// `addresses` on interface `interface_name`, no MAC address.
    pub fn new(interface_name: &str, addresses: impl IntoIterator<Item = Address>) -> Self {
        Self {
            interface_name: interface_name.to_string(),
            mac_address: String::new(),
            addresses: addresses.into_iter().collect(),
        }
    }

    /// The same interface with a MAC address.
    pub fn with_mac_address(mut self, mac: &str) -> Self {
        self.mac_address = mac.to_string();
        self
    }
}

/// What `network-get` answers for one binding (a relation endpoint or an
/// extra binding): Python's `ops.testing.Network`. A binding without one
/// in [`State::networks`] is answered from [`State::address`].
///
/// ```
/// use ops_testing::context::{Address, BindAddress, Network, State};
///
/// let db = Network::new("db", "127.1.2.3")
///     .with_bind_address(BindAddress::new("eth1", [Address::new("127.0.2.7")]))
///     .with_ingress_addresses(["db.example.com"])
///     .with_egress_subnets(["127.1.0.0/16"]);
/// let state = State::default().with_network(db);
/// let db = state.network("db").unwrap();
/// assert_eq!(db.bind_addresses.len(), 2);
/// assert_eq!(db.ingress_addresses, ["db.example.com"]);
/// assert_eq!(db.to_json()["egress-subnets"][0], "127.1.0.0/16");
/// assert!(state.network("metrics").is_none());
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Network {
    /// The binding: an endpoint, an extra binding or `juju-info`.
    pub binding_name: String,
    /// The interfaces and their addresses the unit binds to.
    pub bind_addresses: Vec<BindAddress>,
    /// The addresses other units reach this one at.
    pub ingress_addresses: Vec<String>,
    /// The subnets this unit's traffic comes from.
    pub egress_subnets: Vec<String>,
}

impl Network {
    /// Binding `binding_name` on `address`, as the fake Juju answers for a
    /// unit's address: interface `eth0` with the [`Address::new`] of it,
    /// ingress at it, egress from `<address>/32`.
    pub fn new(binding_name: &str, address: &str) -> Self {
        Self {
            binding_name: binding_name.to_string(),
            bind_addresses: vec![BindAddress::new("eth0", [Address::new(address)])],
            ingress_addresses: vec![address.to_string()],
            egress_subnets: vec![format!("{address}/32")],
        }
    }

    /// Adds an interface.
    pub fn with_bind_address(mut self, bind: BindAddress) -> Self {
        self.bind_addresses.push(bind);
        self
    }

    /// Replaces the ingress addresses.
    pub fn with_ingress_addresses<'a>(
        mut self,
        addresses: impl IntoIterator<Item = &'a str>,
    ) -> Self {
        self.ingress_addresses = addresses.into_iter().map(str::to_string).collect();
        self
    }

    /// Replaces the egress subnets.
    pub fn with_egress_subnets<'a>(mut self, subnets: impl IntoIterator<Item = &'a str>) -> Self {
        self.egress_subnets = subnets.into_iter().map(str::to_string).collect();
        self
    }

    /// The answer of `network-get <binding> --format=json`.
    pub fn to_json(&self) -> serde_json::Value {
        let binds: Vec<serde_json::Value> = self
            .bind_addresses
            .iter()
            .map(|b| {
                let addresses: Vec<serde_json::Value> = b
                    .addresses
                    .iter()
                    .map(|a| {
                        serde_json::json!({"hostname": a.hostname, "value": a.value, "cidr": a.cidr})
                    })
                    .collect();
                serde_json::json!({
                    "mac-address": b.mac_address,
                    "interface-name": b.interface_name,
                    "addresses": addresses,
                })
            })
            .collect();
        serde_json::json!({
            "bind-addresses": binds,
            "egress-subnets": self.egress_subnets,
            "ingress-addresses": self.ingress_addresses,
        })
    }
}

/// Who owns a [`Secret`].
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum SecretOwner {
    /// This application (its leader changes it).
    #[default]
    App,
    /// This unit.
    Unit,
    /// Another application, which granted it over a relation: this unit
    /// observes it.
    Remote {
        /// The owning application.
        app: String,
        /// The relation the grant was made in.
        relation: u32,
    },
}

/// A grant of an owned secret to the other side of a relation.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Grant {
    /// The relation the grant belongs to.
    pub relation: u32,
    /// Only this unit of the remote application, if set (`app/<n>`).
    pub unit: Option<String>,
}

/// A secret this unit owns or observes.
///
/// ```
/// use ops_testing::context::{Relation, Secret};
///
/// let db = Relation::new("db").with_remote_app("postgresql");
/// let creds = Secret::new([("password", "pw")])
///     .observed_from(&db)
///     .with_revision(2, [("password", "pw2")])
///     .with_label("creds");
/// assert_eq!(creds.latest_revision(), 2);
/// assert_eq!(creds.tracked_revision, 1);
/// // Debug never shows the content.
/// assert!(!format!("{creds:?}").contains("pw2"));
/// ```
#[derive(Clone, PartialEq)]
pub struct Secret {
    /// `secret:<id>` (a new secret gets a unique one).
    pub id: String,
    /// Its owner.
    pub owner: SecretOwner,
    /// Content by revision.
    pub revisions: BTreeMap<u64, Bag>,
    /// The revision this unit tracks (an observer's; owners see the latest).
    pub tracked_revision: u64,
    /// The owner's label for an owned secret, this unit's label for an
    /// observed one.
    pub label: Option<String>,
    /// Description (owned secrets).
    pub description: Option<String>,
    /// Expiry time, RFC 3339 (owned secrets).
    pub expire: Option<String>,
    /// Rotation policy: `never`, `hourly`, ... (owned secrets).
    pub rotate: Option<String>,
    /// Grants to other applications (owned secrets).
    pub grants: BTreeSet<Grant>,
}

/// Shows revisions and keys, never values.
impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let revisions: BTreeMap<&u64, Vec<&String>> = self
            .revisions
            .iter()
            .map(|(r, bag)| (r, bag.keys().collect()))
            .collect();
        f.debug_struct("Secret")
            .field("id", &self.id)
            .field("owner", &self.owner)
            .field("revisions (keys only)", &revisions)
            .field("tracked_revision", &self.tracked_revision)
            .field("label", &self.label)
            .field("description", &self.description)
            .field("expire", &self.expire)
            .field("rotate", &self.rotate)
            .field("grants", &self.grants)
            .finish()
    }
}

impl Secret {
    /// A secret owned by this application, revision 1 holding `content`.
    pub fn new<'a>(content: impl IntoIterator<Item = (&'a str, &'a str)>) -> Self {
        let n = NEXT_SECRET.fetch_add(1, Ordering::Relaxed);
        let mut bag = Bag::new();
        extend(&mut bag, content);
        Self {
            // Twenty lowercase letters and digits, as Juju's ids; "ctx" keeps
            // them apart from the ids the fake model gives `secret-add`.
            id: format!("secret:ctx{n:017}"),
            owner: SecretOwner::App,
            revisions: BTreeMap::from([(1, bag)]),
            tracked_revision: 1,
            label: None,
            description: None,
            expire: None,
            rotate: None,
            grants: BTreeSet::new(),
        }
    }

    /// The same secret with another id.
    pub fn with_id(mut self, id: &str) -> Self {
        self.id = id.to_string();
        self
    }

    /// Owned by this unit instead.
    pub fn owned_by_unit(mut self) -> Self {
        self.owner = SecretOwner::Unit;
        self
    }

    /// Owned by the remote application of `relation`, granted to this
    /// application over it.
    pub fn observed_from(mut self, relation: &Relation) -> Self {
        self.owner = SecretOwner::Remote {
            app: relation.remote_app.clone(),
            relation: relation.id,
        };
        self
    }

    /// Adds revision `revision` holding `content`.
    pub fn with_revision<'a>(
        mut self,
        revision: u64,
        content: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> Self {
        let mut bag = Bag::new();
        extend(&mut bag, content);
        self.revisions.insert(revision, bag);
        self
    }

    /// The revision this unit tracks.
    pub fn with_tracked_revision(mut self, revision: u64) -> Self {
        self.tracked_revision = revision;
        self
    }

    /// The label (the owner's, or this observer's).
    pub fn with_label(mut self, label: &str) -> Self {
        self.label = Some(label.to_string());
        self
    }

    /// The description.
    pub fn with_description(mut self, description: &str) -> Self {
        self.description = Some(description.to_string());
        self
    }

    /// The rotation policy.
    pub fn with_rotate(mut self, policy: &str) -> Self {
        self.rotate = Some(policy.to_string());
        self
    }

    /// The expiry time (RFC 3339).
    pub fn with_expire(mut self, expire: &str) -> Self {
        self.expire = Some(expire.to_string());
        self
    }

    /// Grants the secret to the other side of `relation` (or one unit of it).
    pub fn with_grant(mut self, relation: u32, unit: Option<&str>) -> Self {
        self.grants.insert(Grant {
            relation,
            unit: unit.map(str::to_string),
        });
        self
    }

    /// The latest revision.
    pub fn latest_revision(&self) -> u64 {
        self.revisions.keys().next_back().copied().unwrap_or(0)
    }

    /// The latest revision's content.
    pub fn latest_content(&self) -> Option<&Bag> {
        self.revisions.values().next_back()
    }

    /// Whether this unit observes (does not own) it.
    pub fn is_observed(&self) -> bool {
        matches!(self.owner, SecretOwner::Remote { .. })
    }
}

/// A charm's [`ops::StoredState`]: its name (as given to
/// `Framework::stored_state`) and its content as JSON.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredState {
    /// The name (`memory` for `fw.stored_state("memory")`).
    pub name: String,
    /// The content, as serde JSON.
    pub content: serde_json::Value,
}

impl StoredState {
    /// A stored state with content.
    pub fn new(name: &str, content: serde_json::Value) -> Self {
        Self {
            name: name.to_string(),
            content,
        }
    }
}

/// A storage instance attached to this unit (`<name>/<index>`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Storage {
    /// The storage name from the metadata.
    pub name: String,
    /// The instance number.
    pub index: u32,
}

impl Storage {
    /// An instance of storage `name` (the next number of a process-wide counter).
    pub fn new(name: &str) -> Self {
        Self {
            name: name.to_string(),
            index: NEXT_STORAGE.fetch_add(1, Ordering::Relaxed),
        }
    }

    /// `<name>/<index>`, as `JUJU_STORAGE_ID` names it.
    pub fn id(&self) -> String {
        format!("{}/{}", self.name, self.index)
    }
}

/// One unit's world before or after an event.
///
/// ```
/// use ops_testing::context::{Container, Relation, State};
/// use serde_json::json;
///
/// let state = State::default()
///     .with_leader(true)
///     .with_config([("listen_port", json!(6432))])
///     .with_relation(Relation::peer("pgb-peers").with_remote_unit(1, []))
///     .with_container(Container::new("pgbouncer").with_can_connect(true));
/// assert!(state.relation_on("pgb-peers").is_some());
/// assert!(state.container("pgbouncer").unwrap().can_connect);
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct State {
    /// Whether this unit leads its application.
    pub leader: bool,
    /// Config values set by the user (over the charm's defaults).
    pub config: serde_json::Map<String, serde_json::Value>,
    /// The relations this unit is in.
    pub relations: Vec<Relation>,
    /// The unit's address (`network-get` answers it for every binding
    /// without a [`Network`] in [`networks`](Self::networks)).
    pub address: String,
    /// What `network-get` answers, by binding name.
    pub networks: BTreeMap<String, Network>,
    /// Workload containers (a declared container not here cannot connect).
    pub containers: Vec<Container>,
    /// Secrets this unit owns or observes.
    pub secrets: Vec<Secret>,
    /// The charm's stored state.
    pub stored_states: Vec<StoredState>,
    /// Events deferred by earlier dispatches, in queue order (re-emitted
    /// before the event).
    pub deferred: Vec<Notice>,
    /// Opened ports.
    pub opened_ports: BTreeSet<PortRange>,
    /// Attached storage.
    pub storages: Vec<Storage>,
    /// Resource files by resource name (`resource-get`).
    pub resources: BTreeMap<String, PathBuf>,
    /// How many units the application has (this one included); at least
    /// one more than the highest peer unit number if not set.
    pub planned_units: Option<usize>,
    /// This unit's status.
    pub unit_status: Status,
    /// The application's status.
    pub app_status: Status,
    /// What `application-version-set` set.
    pub workload_version: String,
    /// Controller-side unit state (`state-get`), other than what ops keeps.
    pub unit_state: Bag,
}

impl Default for State {
    fn default() -> Self {
        Self {
            leader: false,
            config: Default::default(),
            relations: Vec::new(),
            address: DEFAULT_ADDRESS.to_string(),
            networks: BTreeMap::new(),
            containers: Vec::new(),
            secrets: Vec::new(),
            stored_states: Vec::new(),
            deferred: Vec::new(),
            opened_ports: BTreeSet::new(),
            storages: Vec::new(),
            resources: BTreeMap::new(),
            planned_units: None,
            unit_status: Status::unknown(),
            app_status: Status::unknown(),
            workload_version: String::new(),
            unit_state: Bag::new(),
        }
    }
}

impl State {
    /// Leader or not.
    pub fn with_leader(mut self, leader: bool) -> Self {
        self.leader = leader;
        self
    }

    /// Sets config values.
    pub fn with_config<'a>(
        mut self,
        values: impl IntoIterator<Item = (&'a str, serde_json::Value)>,
    ) -> Self {
        self.config
            .extend(values.into_iter().map(|(k, v)| (k.to_string(), v)));
        self
    }

    /// Adds a relation (replacing one with the same id).
    pub fn with_relation(mut self, relation: Relation) -> Self {
        self.relations.retain(|r| r.id != relation.id);
        self.relations.push(relation);
        self
    }

    /// The unit's address.
    pub fn with_address(mut self, address: &str) -> Self {
        self.address = address.to_string();
        self
    }

    /// Sets what `network-get` answers for the network's binding.
    pub fn with_network(mut self, network: Network) -> Self {
        self.networks.insert(network.binding_name.clone(), network);
        self
    }

    /// Adds a container (replacing one with the same name).
    pub fn with_container(mut self, container: Container) -> Self {
        self.containers.retain(|c| c.name != container.name);
        self.containers.push(container);
        self
    }

    /// Adds a secret (replacing one with the same id).
    pub fn with_secret(mut self, secret: Secret) -> Self {
        self.secrets.retain(|s| s.id != secret.id);
        self.secrets.push(secret);
        self
    }

    /// Sets a stored state.
    pub fn with_stored_state(mut self, stored: StoredState) -> Self {
        self.stored_states.retain(|s| s.name != stored.name);
        self.stored_states.push(stored);
        self
    }

    /// Adds a deferred event (see [`Context::deferred`](super::Context::deferred)).
    pub fn with_deferred(mut self, notice: Notice) -> Self {
        self.deferred.push(notice);
        self
    }

    /// Opens a port (`"80/tcp"`, `"8000-8010/udp"`, `"icmp"`).
    ///
    /// # Panics
    /// If `port` is not in `open-port`'s form (a test's mistake).
    pub fn with_opened_port(mut self, port: &str) -> Self {
        let parsed = port
            .parse()
            .unwrap_or_else(|e| panic!("with_opened_port({port:?}): {e}"));
        self.opened_ports.insert(parsed);
        self
    }

    /// Attaches a storage instance.
    pub fn with_storage(mut self, storage: Storage) -> Self {
        self.storages.push(storage);
        self
    }

    /// Sets the file `resource-get <name>` answers.
    pub fn with_resource(mut self, name: &str, path: impl Into<PathBuf>) -> Self {
        self.resources.insert(name.to_string(), path.into());
        self
    }

    /// Sets how many units the application has.
    pub fn with_planned_units(mut self, units: usize) -> Self {
        self.planned_units = Some(units);
        self
    }

    /// Sets this unit's status.
    pub fn with_unit_status(mut self, status: Status) -> Self {
        self.unit_status = status;
        self
    }

    /// Sets the application's status.
    pub fn with_app_status(mut self, status: Status) -> Self {
        self.app_status = status;
        self
    }

    /// Sets the workload version.
    pub fn with_workload_version(mut self, version: &str) -> Self {
        self.workload_version = version.to_string();
        self
    }

    /// The relation with this id.
    pub fn relation(&self, id: u32) -> Option<&Relation> {
        self.relations.iter().find(|r| r.id == id)
    }

    /// The first relation on `endpoint`.
    pub fn relation_on(&self, endpoint: &str) -> Option<&Relation> {
        self.relations.iter().find(|r| r.endpoint == endpoint)
    }

    /// Every relation on `endpoint`, in state order.
    ///
    /// ```
    /// use ops_testing::context::{Relation, State};
    ///
    /// let state = State::default()
    ///     .with_relation(Relation::new("db").with_remote_app("a"))
    ///     .with_relation(Relation::new("cache"))
    ///     .with_relation(Relation::new("db").with_remote_app("b"));
    /// let apps: Vec<&str> = state.relations_on("db").iter().map(|r| r.remote_app.as_str()).collect();
    /// assert_eq!(apps, ["a", "b"]);
    /// assert!(state.relations_on("nope").is_empty());
    /// ```
    pub fn relations_on(&self, endpoint: &str) -> Vec<&Relation> {
        self.relations
            .iter()
            .filter(|r| r.endpoint == endpoint)
            .collect()
    }

    /// The network set for `binding` (see [`with_network`](Self::with_network)).
    pub fn network(&self, binding: &str) -> Option<&Network> {
        self.networks.get(binding)
    }

    /// Storage instance `<name>/<index>`, if attached.
    ///
    /// ```
    /// use ops_testing::context::{State, Storage};
    ///
    /// let data = Storage::new("data");
    /// let state = State::default().with_storage(data.clone());
    /// assert_eq!(state.storage("data", data.index), Some(&data));
    /// assert_eq!(state.storage("data", data.index + 1), None);
    /// assert_eq!(state.storage("logs", data.index), None);
    /// ```
    pub fn storage(&self, name: &str, index: u32) -> Option<&Storage> {
        self.storages
            .iter()
            .find(|s| s.name == name && s.index == index)
    }

    /// The container of that name.
    pub fn container(&self, name: &str) -> Option<&Container> {
        self.containers.iter().find(|c| c.name == name)
    }

    /// The secret with this id.
    pub fn secret(&self, id: &str) -> Option<&Secret> {
        self.secrets.iter().find(|s| s.id == id)
    }

    /// The secret with this label.
    pub fn secret_by_label(&self, label: &str) -> Option<&Secret> {
        self.secrets
            .iter()
            .find(|s| s.label.as_deref() == Some(label))
    }

    /// The stored state of that name.
    pub fn stored_state(&self, name: &str) -> Option<&StoredState> {
        self.stored_states.iter().find(|s| s.name == name)
    }

    /// The full names of the deferred events, in queue order.
    pub fn deferred_events(&self) -> Vec<&str> {
        self.deferred.iter().map(|n| n.event.as_str()).collect()
    }
}
