//! UDP flows that outlive their endpoint.
//!
//! The kernel's NAT decision for a flow is made on its first packet and kept in conntrack: a UDP
//! client that keeps its source port (a DNS resolver, a game, a metrics agent) goes on sending to an
//! endpoint after it left the Service, until the entry idles out (`nf_conntrack_udp_timeout_stream`:
//! 120 s). So, as kube-proxy does, after each sync the proxy deletes the entries that are stale:
//!
//! ```text
//! a UDP endpoint removed from a port   → entries to the port's addresses (ClusterIP, external and
//!                                         load-balancer IPs) translated to that endpoint, and entries
//!                                         to its NodePort translated to it
//! a UDP port that had no endpoints     → every entry to its addresses and NodePort (made before a
//!   and has some now                      rule existed, they bypass the Service)
//! ```
//!
//! [`stale_flows`] decides (pure); the backend's [`Netfilter`](super::nftables::Netfilter) deletes
//! them (`conntrack -D`). TCP needs nothing: a connection to a gone endpoint is reset or times out,
//! and the client's next connection is a new flow.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr};

use super::model::{Protocol, ProxiedPort};

/// Conntrack entries to delete: UDP, to `dst` (any address when `None`) port `port`, translated to
/// `nat` (whatever the translation when `None`).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct StaleFlow {
    /// The original destination address.
    pub dst: Option<Ipv4Addr>,
    /// The original destination port.
    pub port: u16,
    /// The endpoint address the entries were translated to.
    pub nat: Option<Ipv4Addr>,
}

impl StaleFlow {
    /// The `conntrack` arguments that delete these entries.
    ///
    /// ```
    /// use skiff_controllers::proxy::conntrack::StaleFlow;
    /// let flow = StaleFlow { dst: Some([10, 96, 0, 10].into()), port: 53, nat: Some([10, 244, 0, 7].into()) };
    /// assert_eq!(flow.args().join(" "), "-D -p udp --orig-dst 10.96.0.10 --orig-port-dst 53 --dst-nat 10.244.0.7");
    /// ```
    pub fn args(&self) -> Vec<String> {
        let mut args = vec!["-D".into(), "-p".into(), "udp".into()];
        if let Some(dst) = self.dst {
            args.extend(["--orig-dst".into(), dst.to_string()]);
        }
        args.extend(["--orig-port-dst".into(), self.port.to_string()]);
        if let Some(nat) = self.nat {
            args.extend(["--dst-nat".into(), nat.to_string()]);
        }
        args
    }
}

fn ipv4s(port: &ProxiedPort) -> Vec<Ipv4Addr> {
    port.endpoints
        .iter()
        .filter_map(|e| match e.ip() {
            IpAddr::V4(ip) => Some(ip),
            IpAddr::V6(_) => None,
        })
        .collect()
}

/// The UDP flows made stale by going from `before` to `after` (see the [module docs](self)).
pub fn stale_flows(before: &[ProxiedPort], after: &[ProxiedPort]) -> Vec<StaleFlow> {
    let udp = |ports: &[ProxiedPort]| -> BTreeMap<String, ProxiedPort> {
        ports
            .iter()
            .filter(|p| p.protocol == Protocol::Udp)
            .map(|p| (p.name.clone(), p.clone()))
            .collect()
    };
    let (before, after) = (udp(before), udp(after));
    let mut out = Vec::new();
    let flows_of = |port: &ProxiedPort, nat: Option<Ipv4Addr>, out: &mut Vec<StaleFlow>| {
        for dst in std::iter::once(port.cluster_ip).chain(port.external_ips.iter().copied()) {
            out.push(StaleFlow {
                dst: Some(dst),
                port: port.port,
                nat,
            });
        }
        if let Some(node_port) = port.node_port {
            out.push(StaleFlow {
                dst: None,
                port: node_port,
                nat,
            });
        }
    };
    for (name, old) in &before {
        let now = after.get(name);
        let kept = now.map(ipv4s).unwrap_or_default();
        // Where the port's addresses changed, the old ones are the ones with entries.
        for ep in ipv4s(old).into_iter().filter(|ep| !kept.contains(ep)) {
            flows_of(old, Some(ep), &mut out);
        }
    }
    for (name, new) in &after {
        let had = before.get(name).is_some_and(|p| !p.endpoints.is_empty());
        if !had && !new.endpoints.is_empty() {
            flows_of(new, None, &mut out);
        }
    }
    out.sort();
    out.dedup();
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::SocketAddr;

    fn port(name: &str, protocol: Protocol, eps: &[&str]) -> ProxiedPort {
        ProxiedPort {
            name: name.into(),
            cluster_ip: Ipv4Addr::new(10, 96, 0, 10),
            port: 53,
            protocol,
            node_port: Some(30053),
            external_ips: vec![Ipv4Addr::new(192, 168, 1, 9)],
            endpoints: eps
                .iter()
                .map(|e| format!("{e}:5353").parse::<SocketAddr>().unwrap())
                .collect(),
            affinity: None,
        }
    }

    #[test]
    fn a_removed_udp_endpoint_stales_its_flows_on_every_address() {
        let before = [port("dns", Protocol::Udp, &["10.0.0.1", "10.0.0.2"])];
        let after = [port("dns", Protocol::Udp, &["10.0.0.2"])];
        let gone = Some(Ipv4Addr::new(10, 0, 0, 1));
        assert_eq!(
            stale_flows(&before, &after),
            vec![
                StaleFlow {
                    dst: None,
                    port: 30053,
                    nat: gone
                },
                StaleFlow {
                    dst: Some(Ipv4Addr::new(10, 96, 0, 10)),
                    port: 53,
                    nat: gone
                },
                StaleFlow {
                    dst: Some(Ipv4Addr::new(192, 168, 1, 9)),
                    port: 53,
                    nat: gone
                },
            ]
        );
        // The whole Service gone: the same for each of its endpoints.
        assert_eq!(stale_flows(&before, &[]).len(), 6);
        // Nothing removed, or TCP: nothing.
        assert!(stale_flows(&after, &after).is_empty());
        let tcp = [port("web", Protocol::Tcp, &["10.0.0.1"])];
        assert!(stale_flows(&tcp, &[]).is_empty());
    }

    #[test]
    fn a_port_gaining_its_first_endpoints_stales_everything_sent_to_it() {
        let empty = [port("dns", Protocol::Udp, &[])];
        let served = [port("dns", Protocol::Udp, &["10.0.0.1"])];
        let flows = stale_flows(&empty, &served);
        assert_eq!(flows.len(), 3);
        assert!(flows.iter().all(|f| f.nat.is_none()));
        assert_eq!(stale_flows(&[], &served).len(), 3, "new Service");
        assert!(stale_flows(&served, &served).is_empty());
    }
}
