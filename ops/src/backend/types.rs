//! The values the hook tools take and give.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use super::BackendError;

/// A relation as the hook tools name it: endpoint name and relation id (`db:3`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct RelationRef {
    /// The endpoint (relation) name from the charm's metadata, e.g. `pgb-peers`.
    pub name: String,
    /// Juju's relation id.
    pub id: u32,
}

impl RelationRef {
    /// A relation reference from its parts.
    pub fn new(name: impl Into<String>, id: u32) -> Self {
        Self {
            name: name.into(),
            id,
        }
    }
}

impl fmt::Display for RelationRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.name, self.id)
    }
}

impl FromStr for RelationRef {
    type Err = BackendError;

    /// Parses Juju's `name:id` form, as `relation-ids` prints it.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let malformed = || BackendError::MalformedRelationId {
            value: s.to_string(),
        };
        let (name, id) = s.rsplit_once(':').ok_or_else(malformed)?;
        if name.is_empty() {
            return Err(malformed());
        }
        let id = id.parse().map_err(|_| malformed())?;
        Ok(Self::new(name, id))
    }
}

/// A workload status name, as `status-set` takes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StatusName {
    /// The workload is up and serving.
    Active,
    /// The charm needs a human to act (a bad config, a missing relation).
    Blocked,
    /// The charm is busy with work that needs no human.
    Maintenance,
    /// The charm waits for something outside it (another application).
    Waiting,
    /// Set by Juju when a hook fails; charms cannot set it.
    Error,
    /// No status has been set.
    Unknown,
}

impl StatusName {
    /// The name as the hook tools spell it.
    pub fn as_str(self) -> &'static str {
        match self {
            StatusName::Active => "active",
            StatusName::Blocked => "blocked",
            StatusName::Maintenance => "maintenance",
            StatusName::Waiting => "waiting",
            StatusName::Error => "error",
            StatusName::Unknown => "unknown",
        }
    }
}

impl fmt::Display for StatusName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for StatusName {
    type Err = BackendError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(match s {
            "active" => StatusName::Active,
            "blocked" => StatusName::Blocked,
            "maintenance" => StatusName::Maintenance,
            "waiting" => StatusName::Waiting,
            "error" => StatusName::Error,
            "unknown" => StatusName::Unknown,
            other => {
                return Err(BackendError::UnknownStatus {
                    value: other.to_string(),
                });
            }
        })
    }
}

/// A status and its message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatusInfo {
    /// Which status.
    pub name: StatusName,
    /// The message shown beside it (may be empty).
    pub message: String,
}

impl StatusInfo {
    /// A status with a message.
    pub fn new(name: StatusName, message: impl Into<String>) -> Self {
        Self {
            name,
            message: message.into(),
        }
    }
}

/// `juju-log` levels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum LogLevel {
    /// `DEBUG`
    Debug,
    /// `INFO`
    Info,
    /// `WARNING`
    Warning,
    /// `ERROR`
    Error,
}

impl LogLevel {
    /// The level as `juju-log --log-level` takes it.
    pub fn as_str(self) -> &'static str {
        match self {
            LogLevel::Debug => "DEBUG",
            LogLevel::Info => "INFO",
            LogLevel::Warning => "WARNING",
            LogLevel::Error => "ERROR",
        }
    }
}

/// Who owns a new secret.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SecretOwner {
    /// The application (only the leader may create or change it).
    #[default]
    Application,
    /// This unit.
    Unit,
}

impl SecretOwner {
    /// The owner as `secret-add --owner` takes it.
    pub fn as_str(self) -> &'static str {
        match self {
            SecretOwner::Application => "application",
            SecretOwner::Unit => "unit",
        }
    }
}

/// What `secret-add` takes. Its `Debug` shows the content's keys, never values.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct SecretAddArgs {
    /// The secret's content; keys are lowercase letters, digits and dashes.
    pub content: BTreeMap<String, String>,
    /// A label the owner can find the secret by.
    pub label: Option<String>,
    /// A human description.
    pub description: Option<String>,
    /// Expiry time, RFC 3339.
    pub expire: Option<String>,
    /// Rotation policy (`hourly`, `daily`, ...).
    pub rotate: Option<String>,
    /// Who owns the secret.
    pub owner: SecretOwner,
}

/// What `secret-set` takes: only the given fields change. Its `Debug` shows
/// the content's keys, never values.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct SecretSetArgs {
    /// New content (a new revision), if any.
    pub content: Option<BTreeMap<String, String>>,
    /// New label.
    pub label: Option<String>,
    /// New description.
    pub description: Option<String>,
    /// New expiry time, RFC 3339.
    pub expire: Option<String>,
    /// New rotation policy.
    pub rotate: Option<String>,
}

/// The owner's metadata of a secret (`secret-info-get`).
///
/// Juju may report more: a [`Backend`](super::Backend) outside ops makes one
/// with [`SecretInfo::new`] and sets the fields it knows.
///
/// ```compile_fail
/// let info = ops::model::SecretInfo {
///     id: "secret:x".into(),
///     label: None,
///     description: None,
///     revision: 1,
///     rotation: None,
///     expiry: None,
///     rotates: None,
///     owner: None,
/// };
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct SecretInfo {
    /// The secret id (`secret:...`).
    pub id: String,
    /// Its label, if any.
    #[serde(default)]
    pub label: Option<String>,
    /// Its description, if any.
    #[serde(default)]
    pub description: Option<String>,
    /// Its latest revision.
    #[serde(default)]
    pub revision: u64,
    /// Its rotation policy, if any.
    #[serde(default)]
    pub rotation: Option<String>,
    /// Its expiry time, if any.
    #[serde(default)]
    pub expiry: Option<String>,
    /// When it is next due for rotation (RFC 3339), if it rotates.
    #[serde(default)]
    pub rotates: Option<String>,
    /// `application` or `unit`.
    #[serde(default)]
    pub owner: Option<String>,
}

impl SecretInfo {
    /// The secret `id` at revision 0, with nothing else known.
    pub fn new(id: impl Into<String>) -> Self {
        Self {
            id: id.into(),
            label: None,
            description: None,
            revision: 0,
            rotation: None,
            expiry: None,
            rotates: None,
            owner: None,
        }
    }

    /// The UUID of the model the secret belongs to, when its id names one
    /// (`secret://<model uuid>/<id>`), as Python ops' `SecretInfo.model_uuid`.
    ///
    /// ```
    /// let info = ops::model::SecretInfo::new("secret://0b7d1071-ded2-4bf5-80a3-10a81aeb1386/cd2ku2fmp25c76be1bq0");
    /// assert_eq!(info.model_uuid(), Some("0b7d1071-ded2-4bf5-80a3-10a81aeb1386"));
    /// assert_eq!(ops::model::SecretInfo::new("secret:cd2ku2fmp25c76be1bq0").model_uuid(), None);
    /// ```
    pub fn model_uuid(&self) -> Option<&str> {
        let rest = self.id.strip_prefix("secret://")?;
        rest.split_once('/')
            .map(|(uuid, _)| uuid)
            .filter(|u| !u.is_empty())
    }
}

/// The cloud the model runs on, with the credential Juju holds for it:
/// what `credential-get --format=json` prints for a trusted application
/// (Juju's `params.CloudSpec`; Python ops' `CloudSpec`).
///
/// It holds a credential: never log it. Its `Debug` shows the credential's
/// attribute names, never their values.
///
/// ```
/// let spec: ops::model::CloudSpec = serde_json::from_str(r#"{
///     "type": "lxd", "name": "localhost", "region": "default",
///     "endpoint": "https://127.0.0.1:8443",
///     "credential": {"auth-type": "certificate", "attrs": {"client-key": "k"}},
///     "cacertificates": ["-----BEGIN CERTIFICATE-----..."],
///     "is-controller-cloud": true
/// }"#).unwrap();
/// assert_eq!(spec.type_, "lxd");
/// assert_eq!(spec.credential.as_ref().unwrap().auth_type, "certificate");
/// assert!(spec.is_controller_cloud && !spec.skip_tls_verify);
/// assert!(!format!("{spec:?}").contains("\"k\""));
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub struct CloudSpec {
    /// The cloud's type (`lxd`, `kubernetes`, `openstack`, `ec2`, ...).
    #[serde(rename = "type")]
    pub type_: String,
    /// The cloud's name.
    pub name: String,
    /// The region, if the cloud has regions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    /// The cloud's API endpoint.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoint: Option<String>,
    /// The identity service's endpoint.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identity_endpoint: Option<String>,
    /// The storage service's endpoint.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub storage_endpoint: Option<String>,
    /// The credential, if Juju has one for the model.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credential: Option<CloudCredential>,
    /// CA certificates (PEM) to trust when reaching the cloud.
    #[serde(
        rename = "cacertificates",
        default,
        skip_serializing_if = "Vec::is_empty"
    )]
    pub ca_certificates: Vec<String>,
    /// Whether the cloud's certificates are not to be verified.
    #[serde(default)]
    pub skip_tls_verify: bool,
    /// Whether the controller runs on this cloud.
    #[serde(default)]
    pub is_controller_cloud: bool,
}

impl CloudSpec {
    /// A spec of cloud `name` of type `type_`, nothing else known (for tests:
    /// `ops_testing::Context::with_cloud_spec`).
    ///
    /// ```
    /// let spec = ops::model::CloudSpec::new("lxd", "localhost")
    ///     .with_endpoint("https://127.0.0.1:8443");
    /// assert_eq!(spec.endpoint.as_deref(), Some("https://127.0.0.1:8443"));
    /// ```
    pub fn new(type_: impl Into<String>, name: impl Into<String>) -> Self {
        Self {
            type_: type_.into(),
            name: name.into(),
            ..Self::default()
        }
    }

    /// With this API endpoint.
    pub fn with_endpoint(mut self, endpoint: impl Into<String>) -> Self {
        self.endpoint = Some(endpoint.into());
        self
    }

    /// With this region.
    pub fn with_region(mut self, region: impl Into<String>) -> Self {
        self.region = Some(region.into());
        self
    }

    /// With this credential.
    pub fn with_credential(mut self, credential: CloudCredential) -> Self {
        self.credential = Some(credential);
        self
    }
}

/// The credential in a [`CloudSpec`] (Juju's `params.CloudCredential`;
/// Python ops' `CloudCredential`): how it authenticates and its
/// attributes. Its `Debug` shows the attributes' names only.
#[derive(Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub struct CloudCredential {
    /// The authentication type (`certificate`, `userpass`, `access-key`,
    /// `oauth2`, ...).
    pub auth_type: String,
    /// The credential's attributes (keys, passwords, tokens).
    #[serde(rename = "attrs", default, skip_serializing_if = "BTreeMap::is_empty")]
    pub attributes: BTreeMap<String, String>,
    /// The names of the attributes Juju left out.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub redacted: Vec<String>,
}

impl CloudCredential {
    /// A credential of `auth_type` with these attributes.
    pub fn new(
        auth_type: impl Into<String>,
        attributes: impl IntoIterator<Item = (String, String)>,
    ) -> Self {
        Self {
            auth_type: auth_type.into(),
            attributes: attributes.into_iter().collect(),
            redacted: Vec::new(),
        }
    }
}

impl fmt::Debug for CloudCredential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CloudCredential")
            .field("auth_type", &self.auth_type)
            .field("attributes", &self.attributes.keys().collect::<Vec<_>>())
            .field("redacted", &self.redacted)
            .finish()
    }
}

/// A port protocol for `open-port`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PortProtocol {
    /// TCP
    Tcp,
    /// UDP
    Udp,
    /// ICMP (no port number)
    Icmp,
}

/// A port, a port range (or ICMP) opened on the unit.
///
/// ```
/// use ops::backend::OpenedPort;
///
/// let range: OpenedPort = "8000-8010/udp".parse().unwrap();
/// assert_eq!(range, OpenedPort::range(ops::backend::PortProtocol::Udp, 8000, 8010));
/// assert_eq!(range.to_string(), "8000-8010/udp");
/// assert_eq!(OpenedPort::tcp(5432).to_string(), "5432/tcp");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct OpenedPort {
    /// The protocol.
    pub protocol: PortProtocol,
    /// The (first) port number; `None` for ICMP.
    pub port: Option<u16>,
    /// The last port of a range (`8000-8010/tcp`); `None` for one port.
    #[serde(default)]
    pub to_port: Option<u16>,
}

impl OpenedPort {
    /// One TCP port.
    pub fn tcp(port: u16) -> Self {
        Self::range(PortProtocol::Tcp, port, port)
    }

    /// One UDP port.
    pub fn udp(port: u16) -> Self {
        Self::range(PortProtocol::Udp, port, port)
    }

    /// ICMP.
    pub fn icmp() -> Self {
        Self {
            protocol: PortProtocol::Icmp,
            port: None,
            to_port: None,
        }
    }

    /// The ports `from` to `to` (one port when they are equal).
    pub fn range(protocol: PortProtocol, from: u16, to: u16) -> Self {
        Self {
            protocol,
            port: Some(from),
            to_port: (to != from).then_some(to),
        }
    }

    /// The last port: `to_port`, or `port` for a single port.
    pub fn last_port(&self) -> Option<u16> {
        self.to_port.or(self.port)
    }
}

impl fmt::Display for OpenedPort {
    /// The form `open-port` takes: `5432/tcp`, `8000-8010/udp`, `icmp`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let proto = match self.protocol {
            PortProtocol::Icmp => return f.write_str("icmp"),
            PortProtocol::Tcp => "tcp",
            PortProtocol::Udp => "udp",
        };
        match (self.port, self.to_port) {
            (Some(p), Some(to)) if to != p => write!(f, "{p}-{to}/{proto}"),
            (Some(p), _) => write!(f, "{p}/{proto}"),
            (None, _) => f.write_str(proto),
        }
    }
}

impl FromStr for OpenedPort {
    type Err = BackendError;

    /// Parses `5432/tcp`, `8000-8010/udp` (the range kept) or `icmp`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let malformed = || BackendError::MalformedPort {
            value: s.to_string(),
        };
        if s == "icmp" {
            return Ok(Self::icmp());
        }
        let (port, proto) = s.split_once('/').ok_or_else(malformed)?;
        let protocol = match proto {
            "tcp" => PortProtocol::Tcp,
            "udp" => PortProtocol::Udp,
            _ => return Err(malformed()),
        };
        let (first, last) = port.split_once('-').unwrap_or((port, port));
        let from: u16 = first.parse().map_err(|_| malformed())?;
        let to: u16 = last.parse().map_err(|_| malformed())?;
        if to < from {
            return Err(malformed());
        }
        Ok(Self::range(protocol, from, to))
    }
}

/// The keys of secret content, for `Debug`.
struct ContentKeys<'a>(&'a BTreeMap<String, String>);

impl fmt::Debug for ContentKeys<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set().entries(self.0.keys()).finish()
    }
}

impl fmt::Debug for SecretAddArgs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SecretAddArgs")
            .field("content_keys", &ContentKeys(&self.content))
            .field("label", &self.label)
            .field("description", &self.description)
            .field("expire", &self.expire)
            .field("rotate", &self.rotate)
            .field("owner", &self.owner)
            .finish()
    }
}

impl fmt::Debug for SecretSetArgs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SecretSetArgs")
            .field("content_keys", &self.content.as_ref().map(ContentKeys))
            .field("label", &self.label)
            .field("description", &self.description)
            .field("expire", &self.expire)
            .field("rotate", &self.rotate)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relation_ref_parses_and_prints_juju_form() {
        let r: RelationRef = "pgb-peers:3".parse().unwrap();
        assert_eq!(r, RelationRef::new("pgb-peers", 3));
        assert_eq!(r.to_string(), "pgb-peers:3");
    }

    #[test]
    fn relation_ref_rejects_malformed() {
        for bad in ["db", "db:x", ":3", "db:-1", ""] {
            let err = bad.parse::<RelationRef>().unwrap_err();
            assert!(
                matches!(&err, BackendError::MalformedRelationId { value } if value == bad),
                "{bad}: {err}"
            );
        }
    }

    #[test]
    fn status_names_round_trip() {
        for name in [
            "active",
            "blocked",
            "maintenance",
            "waiting",
            "error",
            "unknown",
        ] {
            assert_eq!(name.parse::<StatusName>().unwrap().as_str(), name);
        }
        assert!(matches!(
            "sleepy".parse::<StatusName>(),
            Err(BackendError::UnknownStatus { value }) if value == "sleepy"
        ));
    }

    #[test]
    fn ports_parse_and_print() {
        let p: OpenedPort = "6432/tcp".parse().unwrap();
        assert_eq!(p.port, Some(6432));
        assert_eq!(p.to_string(), "6432/tcp");
        assert_eq!("icmp".parse::<OpenedPort>().unwrap().to_string(), "icmp");
        assert_eq!(
            "8000-8010/udp".parse::<OpenedPort>().unwrap().port,
            Some(8000)
        );
        assert!(matches!(
            "6432/sctp".parse::<OpenedPort>(),
            Err(BackendError::MalformedPort { .. })
        ));
    }
}
