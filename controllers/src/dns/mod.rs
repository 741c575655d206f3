//! Cluster DNS: `<service>.<namespace>.svc.cluster.local` and the rest of the kubernetes/dns
//! specification, answered from the Service and EndpointSlice informers ([`records`], pure), served
//! over UDP and TCP ([`server`]), other names forwarded to the host's resolvers.
//!
//! In `skiff up` the server listens on the API server's address at a port of its own; the
//! `kube-dns` Service in `kube-system` (the 10th address of the service range, 53/UDP and 53/TCP,
//! no selector) gets an EndpointSlice pointing there ([`endpoints_for`]), so every node's proxy
//! routes `10.96.0.10:53` to it like any other Service. Pods with `dnsPolicy: ClusterFirst` get a
//! resolv.conf naming that address (see the node agent's `dns_config`).

pub mod records;
pub mod server;

use std::net::SocketAddr;

use skiff_core::kinds::{
    Endpoint, EndpointConditions, EndpointSlice, EndpointSlicePort, SERVICE_NAME_LABEL,
};

pub use server::DnsServer;

/// The cluster domain Skiff serves.
pub const CLUSTER_DOMAIN: &str = "cluster.local";
/// The DNS Service's name (in `kube-system`), as kubeadm names CoreDNS's.
pub const SERVICE_NAME: &str = "kube-dns";

/// The EndpointSlice that sends the `kube-dns` Service's traffic to the server at `addr`.
pub fn endpoints_for(addr: SocketAddr) -> EndpointSlice {
    let mut slice = EndpointSlice::named(format!("{SERVICE_NAME}-skiff"));
    slice.metadata.namespace = Some("kube-system".into());
    slice
        .metadata
        .labels
        .insert(SERVICE_NAME_LABEL.into(), SERVICE_NAME.into());
    slice.address_type = "IPv4".into();
    slice.endpoints = vec![Endpoint {
        addresses: vec![addr.ip().to_string()],
        conditions: EndpointConditions {
            ready: Some(true),
            serving: Some(true),
            terminating: Some(false),
        },
        ..Endpoint::default()
    }];
    slice.ports = ["dns", "dns-tcp"]
        .iter()
        .zip(["UDP", "TCP"])
        .map(|(name, proto)| EndpointSlicePort {
            name: Some((*name).into()),
            protocol: Some(proto.into()),
            port: Some(i32::from(addr.port())),
            app_protocol: None,
        })
        .collect();
    slice
}
