//! The fake model's data: applications, units, relations, secrets, and the
//! writes of hooks still running.
//!
//! Every type here is plain data (serde), so that the whole model can live in
//! a JSON file shared by the hook-tool processes of several units.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::str::FromStr;

use ops::backend::{OpenedPort, PortProtocol, StatusInfo, StatusName};
use serde::{Deserialize, Serialize};

/// A string map: a databag, unit state, leader settings, secret content.
pub type Bag = BTreeMap<String, String>;

/// An endpoint of a deployed application, from its charm's metadata.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EndpointState {
    /// `peer`, `requires` or `provides`.
    pub role: String,
    /// The interface name.
    pub interface: String,
}

/// A deployed application.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AppState {
    /// Its endpoints by name.
    pub endpoints: BTreeMap<String, EndpointState>,
    /// Its units, in the order they were added.
    pub units: Vec<String>,
    /// The number the next unit gets.
    pub next_unit: u32,
    /// The leader unit, if any.
    pub leader: Option<String>,
    /// Config values that are set (defaults included); unset options are absent.
    pub config: serde_json::Map<String, serde_json::Value>,
    /// Every option the charm declares (`config-get --all` shows unset ones as null).
    #[serde(default)]
    pub config_options: BTreeSet<String>,
    /// Application status (set by the leader).
    pub status: StatusInfo,
    /// What `application-version-set` set last.
    pub workload_version: String,
    /// Resource files by resource name (`resource-get`).
    pub resources: BTreeMap<String, String>,
    /// Leadership settings (`leader-set`, deprecated but still answered).
    #[serde(default)]
    pub leader_settings: Bag,
    /// Whether the application is trusted (`juju trust`): `credential-get` works.
    #[serde(default)]
    pub trusted: bool,
    /// Its extra bindings (`network-get` answers them as it does endpoints).
    #[serde(default)]
    pub extra_bindings: BTreeSet<String>,
}

/// One unit.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UnitState {
    /// Workload status.
    pub status: StatusInfo,
    /// Controller-side unit state (`state-get`), as committed.
    pub state: Bag,
    /// Opened ports, as committed.
    pub ports: BTreeSet<PortRange>,
    /// The unit's action, running or ended (kept for assertions).
    pub action: Option<ActionState>,
    /// The address `network-get` reports.
    #[serde(default)]
    pub address: String,
    /// Whether the charm asked for a reboot (`juju-reboot`).
    #[serde(default)]
    pub reboot_requested: bool,
    /// Attached storage instances by id (`data/0`).
    #[serde(default)]
    pub storage: BTreeMap<String, StorageState>,
    /// Instances asked for with `storage-add`, by storage name.
    #[serde(default)]
    pub storage_requests: BTreeMap<String, u32>,
    /// What `add-metric` sent, one entry a call, oldest first.
    #[serde(default)]
    pub metrics: Vec<AddedMetrics>,
}

/// One `add-metric` call: its `key=value` pairs and `--labels`, in order.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct AddedMetrics {
    /// The metrics, as `(key, value)` in the order given.
    pub metrics: Vec<(String, String)>,
    /// The labels, as `(name, value)` in the order given.
    pub labels: Vec<(String, String)>,
}

/// One attached storage instance.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct StorageState {
    /// `filesystem` or `block`.
    pub kind: String,
    /// Where it is mounted (or the block device).
    pub location: String,
}

impl Default for UnitState {
    fn default() -> Self {
        Self {
            status: StatusInfo::new(StatusName::Unknown, ""),
            state: Bag::new(),
            ports: BTreeSet::new(),
            action: None,
            address: String::new(),
            reboot_requested: false,
            storage: BTreeMap::new(),
            storage_requests: BTreeMap::new(),
            metrics: Vec::new(),
        }
    }
}

/// An action run on a unit.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct ActionState {
    /// The action name.
    pub name: String,
    /// Its parameters.
    pub params: serde_json::Map<String, serde_json::Value>,
    /// `action-set` results, keys flattened with dots (`a.b`).
    pub results: Bag,
    /// The `action-fail` message, if the action failed.
    pub failure: Option<String>,
    /// `action-log` lines.
    pub log: Vec<String>,
    /// Whether the action's hook is still to end: the `action-*` tools work only then.
    #[serde(default)]
    pub running: bool,
}

/// A relation between two applications (or one, for peers).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RelationState {
    /// The relation id.
    pub id: u32,
    /// The first application.
    pub app: String,
    /// The first application's endpoint.
    pub endpoint: String,
    /// The second application (the same as `app` for peers).
    pub remote_app: String,
    /// The second application's endpoint.
    pub remote_endpoint: String,
    /// Units that have joined (entered scope), of both sides.
    pub joined: BTreeSet<String>,
    /// Databags by member (unit or application name), as committed.
    pub bags: BTreeMap<String, Bag>,
    /// Units each unit has already seen depart (its relation-departed ran
    /// or is running), by viewer: gone from that viewer's `relation-list`
    /// though still joined, as a dying unit sees its peers go one by one.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub departed_from: BTreeMap<String, BTreeSet<String>>,
}

impl RelationState {
    /// Whether this is a peer relation.
    pub fn is_peer(&self) -> bool {
        self.app == self.remote_app
    }

    /// The endpoint name `app` uses, if `app` is in the relation.
    pub fn endpoint_of(&self, app: &str) -> Option<&str> {
        if app == self.app {
            Some(&self.endpoint)
        } else if app == self.remote_app {
            Some(&self.remote_endpoint)
        } else {
            None
        }
    }

    /// The application on the other side from `app`.
    pub fn other_app(&self, app: &str) -> &str {
        if app == self.app {
            &self.remote_app
        } else {
            &self.app
        }
    }
}

/// Who may see a secret besides its owner: the remote side of a relation.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct SecretGrant {
    /// The relation the grant belongs to (it ends with the relation).
    pub relation: u32,
    /// The application granted.
    pub app: String,
    /// Only this unit of it, if set.
    pub unit: Option<String>,
}

/// A secret.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SecretState {
    /// `secret:<xid>`.
    pub id: String,
    /// The owning application or unit.
    pub owner: String,
    /// `application` or `unit`.
    pub owner_kind: String,
    /// The owner's label.
    pub label: Option<String>,
    /// Description.
    pub description: Option<String>,
    /// Expiry time, RFC 3339.
    pub expire: Option<String>,
    /// Rotation policy (`never`, `hourly`, ...).
    pub rotate: Option<String>,
    /// Content by revision.
    pub revisions: BTreeMap<u64, Bag>,
    /// Who else may read it.
    pub grants: Vec<SecretGrant>,
    /// The revision each consumer unit tracks.
    pub tracked: BTreeMap<String, u64>,
    /// The label each consumer unit gave it.
    pub consumer_labels: BTreeMap<String, String>,
}

impl SecretState {
    /// The latest revision.
    pub fn latest(&self) -> u64 {
        self.revisions.keys().next_back().copied().unwrap_or(0)
    }

    /// The bare id, without `secret:` (as `secret-info-get` and `secret-ids` print it).
    pub fn xid(&self) -> &str {
        self.id.strip_prefix("secret:").unwrap_or(&self.id)
    }
}

/// One `juju-log` line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogRecord {
    /// The unit that logged.
    pub unit: String,
    /// `TRACE`, `DEBUG`, `INFO`, `WARNING`, `ERROR` or `CRITICAL`.
    pub level: String,
    /// The message.
    pub message: String,
}

/// The writes of one unit's running hook, applied only if the hook succeeds.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Pending {
    /// Databag writes, one entry per bag.
    pub bags: Vec<PendingBag>,
    /// Unit-state writes: key → new value (`None` deletes).
    pub state: BTreeMap<String, Option<String>>,
    /// `open-port` (`true`) and `close-port` (`false`) requests, in order.
    #[serde(default)]
    pub ports: Vec<(PortRange, bool)>,
    /// Each secret this hook changed, as it was before its first change
    /// (`None`: the hook created it). Juju keeps a hook's secret changes
    /// (creates, updates, grants, revokes, removals, labels, tracked
    /// revisions) in the hook context and sends them only when the hook
    /// succeeds, so a failed hook's are undone by putting these back; the
    /// secrets other units' hooks changed meanwhile are left as they are.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub secrets_before: BTreeMap<String, Option<SecretState>>,
    /// `storage-add` requests, by storage name: sent when the hook succeeds.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub storage_requests: BTreeMap<String, u32>,
    /// `add-metric` calls, in order: recorded when the hook succeeds.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub metrics: Vec<AddedMetrics>,
}

/// Pending writes to one databag.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct PendingBag {
    /// The relation.
    pub relation: u32,
    /// The unit or application whose bag it is.
    pub member: String,
    /// key → new value (`None` deletes).
    pub changes: BTreeMap<String, Option<String>>,
}

/// A port or port range as Juju keeps it: `80/tcp`, `8000-8010/udp`, `icmp`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct PortRange {
    /// First port (`-1` for ICMP). Ordered first, as Juju sorts ranges.
    pub from: i32,
    /// Last port (`-1` for ICMP).
    pub to: i32,
    /// `tcp`, `udp` or `icmp`.
    pub protocol: String,
}

impl fmt::Display for PortRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.protocol == "icmp" {
            f.write_str("icmp")
        } else if self.from == self.to {
            write!(f, "{}/{}", self.from, self.protocol)
        } else {
            write!(f, "{}-{}/{}", self.from, self.to, self.protocol)
        }
    }
}

impl FromStr for PortRange {
    type Err = String;

    /// Parses what `open-port` takes: `<port>[/<protocol>]`,
    /// `<from>-<to>[/<protocol>]` or `icmp` (the protocol defaults to tcp).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let lower = s.to_ascii_lowercase();
        let (ports, protocol) = match lower.split_once('/') {
            Some((ports, protocol)) => (ports, protocol.to_string()),
            None => (lower.as_str(), "tcp".to_string()),
        };
        if ports == "icmp" {
            return Ok(Self {
                from: -1,
                to: -1,
                protocol: "icmp".to_string(),
            });
        }
        let number = |p: &str| {
            p.parse::<i32>()
                .map_err(|_| format!("invalid port range {s:?}"))
        };
        let (from, to) = match ports.split_once('-') {
            Some((a, b)) => (number(a)?, number(b)?),
            None => (number(ports)?, number(ports)?),
        };
        if !matches!(protocol.as_str(), "tcp" | "udp") {
            return Err(format!(
                "invalid protocol {protocol:?}, expected \"tcp\", \"udp\", or \"icmp\""
            ));
        }
        if !(1..=65535).contains(&from) || !(1..=65535).contains(&to) || from > to {
            return Err(format!(
                "port range bounds must be between 1 and 65535, got {from}-{to}"
            ));
        }
        Ok(Self { from, to, protocol })
    }
}

impl From<&OpenedPort> for PortRange {
    fn from(port: &OpenedPort) -> Self {
        let number = |p: Option<u16>| p.map_or(-1, i32::from);
        let (protocol, from, to) = match port.protocol {
            PortProtocol::Icmp => ("icmp", -1, -1),
            PortProtocol::Tcp => ("tcp", number(port.port), number(port.last_port())),
            PortProtocol::Udp => ("udp", number(port.port), number(port.last_port())),
        };
        Self {
            from,
            to,
            protocol: protocol.to_string(),
        }
    }
}

impl PortRange {
    /// The range as `ops` sees it (ranges kept).
    pub fn to_opened_port(&self) -> OpenedPort {
        let protocol = match self.protocol.as_str() {
            "udp" => PortProtocol::Udp,
            "icmp" => return OpenedPort::icmp(),
            _ => PortProtocol::Tcp,
        };
        match (u16::try_from(self.from), u16::try_from(self.to)) {
            (Ok(from), Ok(to)) => OpenedPort::range(protocol, from, to),
            _ => OpenedPort {
                protocol,
                port: None,
                to_port: None,
            },
        }
    }
}
