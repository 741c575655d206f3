//! What the proxy must do, computed from Services and EndpointSlices alone (no I/O): one
//! [`ProxiedPort`] per port of every Service with a ClusterIP, with the endpoints traffic may go to.
//!
//! Endpoints are the ready ones of the Service's slices; when none is ready, the serving ones that
//! are terminating (so connections drain during a rolling update), as kube-proxy does. Headless and
//! ExternalName Services get nothing: DNS answers for them.

use std::collections::BTreeMap;
use std::fmt;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::sync::Arc;
use std::time::Duration;

use skiff_core::kinds::{EndpointSlice, Service};
use skiff_core::Resource;

/// A transport protocol the proxy forwards.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Protocol {
    /// TCP.
    Tcp,
    /// UDP.
    Udp,
}

impl Protocol {
    fn parse(s: Option<&str>) -> Option<Self> {
        match s.unwrap_or("TCP") {
            "TCP" => Some(Self::Tcp),
            "UDP" => Some(Self::Udp),
            _ => None,
        }
    }
}

impl fmt::Display for Protocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Tcp => "tcp",
            Self::Udp => "udp",
        })
    }
}

/// One Service port, and where its traffic goes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProxiedPort {
    /// `namespace/name:port-name` (port name empty for a single unnamed port).
    pub name: String,
    /// The ClusterIP.
    pub cluster_ip: Ipv4Addr,
    /// The Service port.
    pub port: u16,
    /// The protocol.
    pub protocol: Protocol,
    /// The NodePort, for NodePort and LoadBalancer Services.
    pub node_port: Option<u16>,
    /// Other addresses served at `port`: `spec.externalIPs` and a LoadBalancer's ingress IPs
    /// (sorted).
    pub external_ips: Vec<Ipv4Addr>,
    /// Where connections go (sorted).
    pub endpoints: Vec<SocketAddr>,
    /// How long a client sticks to its endpoint (`sessionAffinity: ClientIP`).
    pub affinity: Option<Duration>,
}

impl ProxiedPort {
    /// The ClusterIP address and port.
    pub fn cluster_addr(&self) -> SocketAddr {
        SocketAddr::V4(SocketAddrV4::new(self.cluster_ip, self.port))
    }
}

/// Everything the proxy forwards, sorted by name.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ProxyState {
    /// The Service ports.
    pub ports: Vec<ProxiedPort>,
}

/// The endpoints of one Service port in `slices`: ready ones, else serving-and-terminating ones.
fn endpoints_for(
    slices: &[&EndpointSlice],
    port_name: &str,
    protocol: Protocol,
) -> Vec<SocketAddr> {
    let mut ready = Vec::new();
    let mut draining = Vec::new();
    for slice in slices.iter().filter(|s| s.address_type == "IPv4") {
        let Some(port) = slice
            .ports
            .iter()
            .find(|p| {
                p.name.as_deref().unwrap_or("") == port_name
                    && Protocol::parse(p.protocol.as_deref()) == Some(protocol)
            })
            .and_then(|p| p.port)
            .and_then(|p| u16::try_from(p).ok())
        else {
            continue;
        };
        for e in &slice.endpoints {
            let Some(ip) = e.addresses.first().and_then(|a| a.parse::<Ipv4Addr>().ok()) else {
                continue;
            };
            let addr = SocketAddr::V4(SocketAddrV4::new(ip, port));
            let c = &e.conditions;
            if c.ready != Some(false) {
                ready.push(addr);
            } else if c.serving == Some(true) && c.terminating == Some(true) {
                draining.push(addr);
            }
        }
    }
    let mut out = if ready.is_empty() { draining } else { ready };
    out.sort();
    out.dedup();
    out
}

/// The state for `services` and `slices` (see the module docs).
pub fn build(services: &[Arc<Service>], slices: &[Arc<EndpointSlice>]) -> ProxyState {
    let mut by_service: BTreeMap<(String, String), Vec<&EndpointSlice>> = BTreeMap::new();
    for s in slices {
        if let (Some(ns), Some(svc)) = (s.namespace(), s.service_name()) {
            by_service
                .entry((ns.to_string(), svc.to_string()))
                .or_default()
                .push(s);
        }
    }
    let mut ports = Vec::new();
    for svc in services {
        if !svc.spec.needs_cluster_ip() {
            continue;
        }
        let Some(ip) = svc
            .spec
            .cluster_ip
            .as_deref()
            .and_then(|ip| ip.parse::<Ipv4Addr>().ok())
        else {
            continue;
        };
        let ns = svc.namespace().unwrap_or("default").to_string();
        let key = (ns.clone(), svc.name().to_string());
        let slices = by_service.get(&key).map(Vec::as_slice).unwrap_or(&[]);
        let affinity = (svc.spec.session_affinity.as_deref() == Some("ClientIP")).then(|| {
            let secs = svc
                .spec
                .session_affinity_config
                .as_ref()
                .and_then(|c| c.client_ip.as_ref())
                .and_then(|c| c.timeout_seconds)
                .unwrap_or(10_800);
            Duration::from_secs(u64::try_from(secs).unwrap_or(10_800))
        });
        let mut external_ips: Vec<Ipv4Addr> = svc
            .spec
            .external_ips
            .iter()
            .chain(
                svc.status
                    .iter()
                    .filter(|_| svc.spec.type_name() == "LoadBalancer")
                    .flat_map(|s| s.load_balancer.iter())
                    .flat_map(|l| l.ingress.iter())
                    .filter_map(|i| i.ip.as_ref()),
            )
            .filter_map(|ip| ip.parse().ok())
            .collect();
        external_ips.sort();
        external_ips.dedup();
        for p in &svc.spec.ports {
            let (Some(protocol), Ok(port)) = (
                Protocol::parse(p.protocol.as_deref()),
                u16::try_from(p.port),
            ) else {
                continue;
            };
            let port_name = p.name.clone().unwrap_or_default();
            ports.push(ProxiedPort {
                name: format!("{ns}/{}:{port_name}", svc.name()),
                cluster_ip: ip,
                port,
                protocol,
                node_port: p
                    .node_port
                    .filter(|_| svc.spec.needs_node_ports())
                    .and_then(|n| u16::try_from(n).ok())
                    .filter(|n| *n != 0),
                external_ips: external_ips.clone(),
                endpoints: endpoints_for(slices, &port_name, protocol),
                affinity,
            });
        }
    }
    ports.sort_by(|a, b| a.name.cmp(&b.name).then(a.protocol.cmp(&b.protocol)));
    ProxyState { ports }
}

#[cfg(test)]
mod tests {
    use super::*;
    use skiff_core::kinds::{
        Endpoint, EndpointConditions, EndpointSlicePort, ServicePort, SERVICE_NAME_LABEL,
    };

    /// An endpoint's address and (ready, serving, terminating).
    type Ep<'a> = (&'a str, Option<bool>, Option<bool>, Option<bool>);

    fn slice(svc: &str, eps: &[Ep<'_>]) -> Arc<EndpointSlice> {
        let mut s = EndpointSlice::named(format!("{svc}-x"));
        s.metadata.namespace = Some("default".into());
        s.metadata
            .labels
            .insert(SERVICE_NAME_LABEL.into(), svc.into());
        s.address_type = "IPv4".into();
        s.ports = vec![EndpointSlicePort {
            name: Some(String::new()),
            protocol: Some("TCP".into()),
            port: Some(8080),
            app_protocol: None,
        }];
        s.endpoints = eps
            .iter()
            .map(|(ip, ready, serving, terminating)| Endpoint {
                addresses: vec![(*ip).into()],
                conditions: EndpointConditions {
                    ready: *ready,
                    serving: *serving,
                    terminating: *terminating,
                },
                ..Endpoint::default()
            })
            .collect();
        Arc::new(s)
    }

    fn service(name: &str, ip: &str) -> Arc<Service> {
        let mut s = Service::named(name);
        s.metadata.namespace = Some("default".into());
        s.spec.cluster_ip = Some(ip.into());
        s.spec.ports = vec![ServicePort {
            port: 80,
            protocol: Some("TCP".into()),
            ..ServicePort::default()
        }];
        Arc::new(s)
    }

    #[test]
    fn ready_endpoints_then_draining_ones() {
        let services = vec![service("web", "10.96.0.20"), service("db", "None")];
        let slices = vec![slice(
            "web",
            &[
                ("10.244.0.2", Some(true), Some(true), Some(false)),
                ("10.244.0.3", Some(false), Some(false), Some(false)),
                ("10.244.0.4", Some(false), Some(true), Some(true)),
            ],
        )];
        let state = build(&services, &slices);
        assert_eq!(state.ports.len(), 1, "headless Services are not proxied");
        let p = &state.ports[0];
        assert_eq!(p.cluster_addr().to_string(), "10.96.0.20:80");
        assert_eq!(p.endpoints, vec!["10.244.0.2:8080".parse().unwrap()]);
        let draining = vec![slice(
            "web",
            &[("10.244.0.4", Some(false), Some(true), Some(true))],
        )];
        let state = build(&services, &draining);
        assert_eq!(
            state.ports[0].endpoints,
            vec!["10.244.0.4:8080".parse().unwrap()]
        );
        assert!(build(&services, &[]).ports[0].endpoints.is_empty());
    }
}
