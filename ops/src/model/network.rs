//! Networking: a binding's addresses (`network-get`) and the unit's open ports.

use std::net::IpAddr;

use serde::Deserialize;

use super::{Model, ModelError};
use crate::backend::{BackendError, OpenedPort, PortProtocol};

/// A network binding (an endpoint or extra-binding) as `network-get` describes it.
///
/// ```
/// let juju = serde_json::json!({
///     "bind-addresses": [{
///         "interface-name": "eth0",
///         "addresses": [{"value": "127.1.2.3", "cidr": "127.1.2.0/24"}]
///     }],
///     "ingress-addresses": ["127.1.2.3"],
///     "egress-subnets": ["127.1.2.3/32"]
/// });
/// let network = ops::model::Network::from_juju(juju).unwrap();
/// assert_eq!(network.bind_address(), Some("127.1.2.3"));
/// assert_eq!(network.ingress_address(), Some("127.1.2.3"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct Network {
    /// The interfaces the unit binds to, each with its addresses.
    #[serde(default, rename = "bind-addresses")]
    pub interfaces: Vec<NetworkInterface>,
    /// The addresses other units reach this unit on (IP addresses, or host names).
    #[serde(default)]
    pub ingress_addresses: Vec<String>,
    /// The subnets (CIDRs) other units see this unit's traffic come from.
    #[serde(default)]
    pub egress_subnets: Vec<String>,
}

/// One network interface of a binding.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
pub struct NetworkInterface {
    /// The interface name (`eth0`).
    #[serde(default, rename = "interface-name")]
    pub name: String,
    /// Its hardware address, if Juju gives it.
    #[serde(default, rename = "mac-address")]
    pub mac_address: Option<String>,
    /// Its addresses.
    #[serde(default)]
    pub addresses: Vec<InterfaceAddress>,
}

/// One address of an interface.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
pub struct InterfaceAddress {
    /// The address (Juju before 2.9 called it `address`; it may be empty).
    #[serde(default, alias = "address")]
    pub value: String,
    /// Its subnet, if Juju gives it (`127.1.2.0/24`).
    #[serde(default)]
    pub cidr: Option<String>,
    /// A host name for it, if Juju gives one.
    #[serde(default)]
    pub hostname: Option<String>,
}

impl InterfaceAddress {
    /// The address as an IP address, if it is one.
    pub fn ip(&self) -> Option<IpAddr> {
        self.value.parse().ok()
    }
}

impl Network {
    /// Parses `network-get --format=json`'s answer.
    pub fn from_juju(value: serde_json::Value) -> Result<Self, serde_json::Error> {
        serde_json::from_value(value)
    }

    /// Every non-empty bind address, interface by interface.
    pub fn bind_addresses(&self) -> impl Iterator<Item = &str> {
        self.interfaces
            .iter()
            .flat_map(|i| &i.addresses)
            .map(|a| a.value.as_str())
            .filter(|a| !a.is_empty())
    }

    /// The address to bind a server to: the first bind address, if any.
    pub fn bind_address(&self) -> Option<&str> {
        self.bind_addresses().next()
    }

    /// The address to tell other units about: the first ingress address, if any.
    pub fn ingress_address(&self) -> Option<&str> {
        self.ingress_addresses.first().map(String::as_str)
    }
}

fn check_port(protocol: PortProtocol, port: Option<u16>) -> Result<OpenedPort, ModelError> {
    check_range(protocol, port, port)
}

fn check_range(
    protocol: PortProtocol,
    port: Option<u16>,
    to: Option<u16>,
) -> Result<OpenedPort, ModelError> {
    let invalid = |reason| ModelError::InvalidPort {
        protocol,
        port,
        reason,
    };
    match (protocol, port, to) {
        (PortProtocol::Icmp, None, None) => Ok(OpenedPort::icmp()),
        (PortProtocol::Icmp, _, _) => Err(invalid("ICMP takes no port number")),
        (_, None, _) | (_, _, None) => Err(invalid("TCP and UDP need a port number")),
        (_, Some(0), _) | (_, _, Some(0)) => Err(invalid("port numbers run from 1 to 65535")),
        (_, Some(from), Some(to)) if to < from => {
            Err(invalid("a range ends at or after its first port"))
        }
        (_, Some(from), Some(to)) => Ok(OpenedPort::range(protocol, from, to)),
    }
}

impl Model {
    /// A binding's addresses (`network-get`, once per binding per dispatch).
    pub fn network_get(&self, binding: &str) -> Result<Network, ModelError> {
        self.network_get_for(binding, None)
    }

    /// A binding's addresses as seen from one relation (`network-get -r <id>`,
    /// as Python ops' `Model.get_binding(relation)`): a cross-model relation
    /// may have other ingress addresses. Kept per binding and relation.
    pub fn network_get_for(
        &self,
        binding: &str,
        relation: Option<&super::Relation>,
    ) -> Result<Network, ModelError> {
        let relation_id = relation.map(|r| r.id.id);
        let cache_key = match relation_id {
            Some(id) => format!("{binding} -r {id}"),
            None => binding.to_string(),
        };
        if let Some(network) = self.networks.borrow().get(&cache_key) {
            return Ok(network.clone());
        }
        let operation = || format!("getting the network of binding {binding}");
        let raw = self
            .backend
            .network_get(binding, relation_id)
            .map_err(ModelError::backend(operation()))?;
        let shown = raw.to_string();
        let network = Network::from_juju(raw).map_err(|e| ModelError::Backend {
            operation: operation(),
            source: BackendError::MalformedOutput {
                command: "network-get".to_string(),
                reason: e.to_string(),
                output: shown.chars().take(300).collect(),
            },
        })?;
        self.networks
            .borrow_mut()
            .insert(cache_key, network.clone());
        Ok(network)
    }

    /// Opens a port on this unit (`open-port`): TCP and UDP need a port, ICMP takes none.
    pub fn open_port(&self, protocol: PortProtocol, port: Option<u16>) -> Result<(), ModelError> {
        let opened = check_port(protocol, port)?;
        self.open_ports(&opened, &[])
    }

    /// Closes a port on this unit (`close-port`).
    pub fn close_port(&self, protocol: PortProtocol, port: Option<u16>) -> Result<(), ModelError> {
        let closed = check_port(protocol, port)?;
        self.close_ports(&closed, &[])
    }

    /// Opens a port or a range (`OpenedPort::range(Tcp, 8000, 8010)`) on
    /// some endpoints only (`open-port --endpoints`; none: all of them).
    ///
    /// ```no_run
    /// # fn demo(model: &ops::Model) -> Result<(), ops::ModelError> {
    /// use ops::backend::{OpenedPort, PortProtocol};
    /// model.open_ports(&OpenedPort::range(PortProtocol::Tcp, 8000, 8010), &["website"])?;
    /// # Ok(()) }
    /// ```
    pub fn open_ports(&self, ports: &OpenedPort, endpoints: &[&str]) -> Result<(), ModelError> {
        let opened = check_range(ports.protocol, ports.port, ports.last_port())?;
        let endpoints = self.check_port_endpoints(endpoints)?;
        self.backend
            .open_port(&opened, &endpoints)
            .map_err(ModelError::backend(format!("opening port {opened}")))
    }

    /// Closes a port or a range, on some endpoints only (none: all of them).
    pub fn close_ports(&self, ports: &OpenedPort, endpoints: &[&str]) -> Result<(), ModelError> {
        let closed = check_range(ports.protocol, ports.port, ports.last_port())?;
        let endpoints = self.check_port_endpoints(endpoints)?;
        self.backend
            .close_port(&closed, &endpoints)
            .map_err(ModelError::backend(format!("closing port {closed}")))
    }

    fn check_port_endpoints(&self, endpoints: &[&str]) -> Result<Vec<String>, ModelError> {
        endpoints
            .iter()
            .map(|e| {
                if self.meta.endpoint(e).is_none() {
                    return Err(ModelError::UnknownEndpoint {
                        endpoint: e.to_string(),
                    });
                }
                Ok(e.to_string())
            })
            .collect()
    }

    /// The ports this unit has opened (`opened-ports`).
    pub fn opened_ports(&self) -> Result<Vec<OpenedPort>, ModelError> {
        self.backend
            .opened_ports()
            .map_err(ModelError::backend("listing the opened ports"))
    }

    /// Makes `ports` exactly the ports this unit has open, on all endpoints
    /// (Python ops' `Unit.set_ports`): one `opened-ports`, then `close-port`
    /// for each open port not wanted and `open-port` for each wanted one not
    /// open, nothing when they already agree. Every port is checked before
    /// any tool runs, so a bad one changes nothing.
    ///
    /// ```no_run
    /// # fn demo(model: &ops::Model) -> Result<(), ops::ModelError> {
    /// use ops::backend::OpenedPort;
    /// // PgBouncer's port, and the exporter's; any other port is closed.
    /// model.set_ports(&[OpenedPort::tcp(6432), OpenedPort::tcp(9127)])?;
    /// # Ok(()) }
    /// ```
    pub fn set_ports(&self, ports: &[OpenedPort]) -> Result<(), ModelError> {
        let wanted = ports
            .iter()
            .map(|p| check_range(p.protocol, p.port, p.last_port()))
            .collect::<Result<std::collections::BTreeSet<_>, _>>()?;
        let open: std::collections::BTreeSet<OpenedPort> =
            self.opened_ports()?.into_iter().collect();
        for gone in open.difference(&wanted) {
            self.backend
                .close_port(gone, &[])
                .map_err(ModelError::backend(format!("closing port {gone}")))?;
        }
        for new in wanted.difference(&open) {
            self.backend
                .open_port(new, &[])
                .map_err(ModelError::backend(format!("opening port {new}")))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn parses_juju_network_get() {
        let network = Network::from_juju(json!({
            "bind-addresses": [
                {
                    "mac-address": "00:16:3e:aa:bb:cc",
                    "interface-name": "eth0",
                    "addresses": [
                        {"hostname": "", "value": "127.1.2.3", "cidr": "127.1.2.0/24"},
                        {"address": "::1", "cidr": ""}
                    ],
                    "macaddress": "00:16:3e:aa:bb:cc",
                    "interfacename": "eth0"
                },
                {"interface-name": "lo", "addresses": [{"value": "", "cidr": ""}]}
            ],
            "egress-subnets": ["127.1.2.3/32"],
            "ingress-addresses": ["127.1.2.3", "db-0.example"]
        }))
        .unwrap();
        assert_eq!(network.interfaces.len(), 2);
        assert_eq!(network.interfaces[0].name, "eth0");
        assert_eq!(
            network.interfaces[0].mac_address.as_deref(),
            Some("00:16:3e:aa:bb:cc")
        );
        assert_eq!(
            network.bind_addresses().collect::<Vec<_>>(),
            ["127.1.2.3", "::1"]
        );
        assert_eq!(network.bind_address(), Some("127.1.2.3"));
        assert_eq!(
            network.interfaces[0].addresses[1].ip(),
            Some("::1".parse().unwrap())
        );
        assert_eq!(network.ingress_address(), Some("127.1.2.3"));
        assert_eq!(network.ingress_addresses[1], "db-0.example");
        assert_eq!(network.egress_subnets, ["127.1.2.3/32"]);
    }

    #[test]
    fn an_empty_answer_is_an_empty_network() {
        let network = Network::from_juju(json!({})).unwrap();
        assert_eq!(network, Network::default());
        assert_eq!(network.bind_address(), None);
        assert_eq!(network.ingress_address(), None);
    }

    #[test]
    fn ports_follow_the_protocol() {
        assert!(check_port(PortProtocol::Tcp, Some(6432)).is_ok());
        assert!(check_port(PortProtocol::Icmp, None).is_ok());
        for (protocol, port) in [
            (PortProtocol::Icmp, Some(1)),
            (PortProtocol::Udp, None),
            (PortProtocol::Tcp, Some(0)),
        ] {
            assert!(
                matches!(
                    check_port(protocol, port),
                    Err(ModelError::InvalidPort { protocol: p, port: n, .. }) if p == protocol && n == port
                ),
                "{protocol:?} {port:?}"
            );
        }
    }
}
