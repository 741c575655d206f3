//! The answers of cluster DNS, computed from Services and EndpointSlices alone (no I/O), per the
//! kubernetes/dns specification as CoreDNS's kubernetes plugin serves it:
//!
//! | name | type | answer |
//! |---|---|---|
//! | `<svc>.<ns>.svc.<zone>` | A | the ClusterIP; for a headless Service one per ready endpoint |
//! | `<svc>.<ns>.svc.<zone>` | any | CNAME `externalName` for an ExternalName Service |
//! | `<host>.<svc>.<ns>.svc.<zone>` | A | a headless Service's endpoint (its hostname, or its IP with `-`) |
//! | `_<port>._<proto>.<svc>.<ns>.svc.<zone>` | SRV | per named port: the Service, or each endpoint |
//! | `<a-b-c-d>.<ns>.pod.<zone>` | A | `a.b.c.d` |
//! | `d.c.b.a.in-addr.arpa` | PTR | the Service (or headless endpoint) with that address |
//! | `dns-version.<zone>` | TXT | `1.1.0` |
//!
//! Other names in the zone are NXDOMAIN (a name with records of other types only: no data);
//! names outside it, and reverse names of addresses nobody has, are [`Lookup::NotOurs`] (forwarded).

use std::net::Ipv4Addr;
use std::sync::Arc;

use skiff_core::kinds::{EndpointSlice, Service};
use skiff_core::Resource;

/// Seconds answers may be cached (CoreDNS's default).
pub const TTL: u32 = 5;

/// The record types the zone answers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum QueryType {
    /// Addresses.
    A,
    /// IPv6 addresses (never present: the cluster is IPv4; answered with no data).
    Aaaa,
    /// Services' named ports.
    Srv,
    /// Reverse lookups.
    Ptr,
    /// Text (`dns-version`).
    Txt,
    /// Aliases.
    Cname,
    /// Anything else (answered with no data, or the CNAME of an ExternalName).
    Other,
}

/// One record's data.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RecordData {
    /// An address.
    A(Ipv4Addr),
    /// A named port: port and target host.
    Srv {
        /// Port number.
        port: u16,
        /// The host serving it (fully qualified, with the final dot).
        target: String,
    },
    /// A name for an address.
    Ptr(String),
    /// An alias.
    Cname(String),
    /// Text.
    Txt(String),
}

/// One answer record: its (fully qualified) name and data.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Answer {
    /// The owner name, ending in a dot.
    pub name: String,
    /// The data.
    pub data: RecordData,
}

/// What the zone says about a question.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Lookup {
    /// Records (empty: the name exists, without records of this type).
    Records(Vec<Answer>),
    /// The name does not exist in the zone.
    NxDomain,
    /// Not a name of the zone: forward it.
    NotOurs,
}

/// The cluster's zone (`cluster.local`) over a view of Services and EndpointSlices.
pub struct Zone<'a> {
    /// The cluster domain, without dots at the ends.
    pub domain: &'a str,
    /// Every Service.
    pub services: &'a [Arc<Service>],
    /// Every EndpointSlice.
    pub slices: &'a [Arc<EndpointSlice>],
}

fn dashed(ip: &str) -> String {
    ip.replace('.', "-")
}

/// A ready endpoint of a headless Service: its address, DNS label and ports.
struct Ready<'a> {
    ip: Ipv4Addr,
    label: String,
    slice: &'a EndpointSlice,
}

impl Zone<'_> {
    fn fqdn(&self, rel: &str) -> String {
        format!("{rel}.{}.", self.domain)
    }

    fn service(&self, ns: &str, name: &str) -> Option<&Service> {
        self.services
            .iter()
            .find(|s| s.name() == name && s.namespace() == Some(ns))
            .map(|s| &**s)
    }

    fn ready(&self, svc: &Service) -> Vec<Ready<'_>> {
        let ns = svc.namespace();
        let mut out = Vec::new();
        for slice in self.slices.iter().filter(|s| {
            s.namespace() == ns && s.service_name() == Some(svc.name()) && s.address_type == "IPv4"
        }) {
            for e in &slice.endpoints {
                let publish = svc.spec.publish_not_ready_addresses == Some(true);
                if !(publish || e.conditions.ready != Some(false)) {
                    continue;
                }
                let Some(addr) = e.addresses.first() else {
                    continue;
                };
                let Ok(ip) = addr.parse() else { continue };
                let label = e.hostname.clone().unwrap_or_else(|| dashed(addr));
                out.push(Ready { ip, label, slice });
            }
        }
        out.sort_by_key(|r| r.ip);
        out.dedup_by_key(|r| r.ip);
        out
    }

    fn cluster_ip(svc: &Service) -> Option<Ipv4Addr> {
        svc.spec
            .cluster_ip
            .as_deref()
            .and_then(|ip| ip.parse().ok())
    }

    /// Answers `qtype` for `qname` (case-insensitive, with or without the final dot).
    pub fn lookup(&self, qname: &str, qtype: QueryType) -> Lookup {
        let name = qname.trim_end_matches('.').to_ascii_lowercase();
        if let Some(rev) = name.strip_suffix(".in-addr.arpa") {
            return self.reverse(rev, qtype);
        }
        let Some(rel) = name
            .strip_suffix(self.domain)
            .and_then(|r| r.strip_suffix('.'))
            .or_else(|| (name == self.domain).then_some(""))
        else {
            return Lookup::NotOurs;
        };
        let owner = format!("{name}.");
        let labels: Vec<&str> = if rel.is_empty() {
            Vec::new()
        } else {
            rel.split('.').collect()
        };
        match labels.as_slice() {
            [] | ["svc"] | ["pod"] | [_, "svc"] | [_, "pod"] => Lookup::Records(Vec::new()),
            ["dns-version"] => match qtype {
                QueryType::Txt => Lookup::Records(vec![Answer {
                    name: owner,
                    data: RecordData::Txt("1.1.0".into()),
                }]),
                _ => Lookup::Records(Vec::new()),
            },
            [ip, ns, "pod"] => {
                let Ok(addr) = ip.replace('-', ".").parse::<Ipv4Addr>() else {
                    return Lookup::NxDomain;
                };
                let _ = ns;
                match qtype {
                    QueryType::A => Lookup::Records(vec![Answer {
                        name: owner,
                        data: RecordData::A(addr),
                    }]),
                    _ => Lookup::Records(Vec::new()),
                }
            }
            [svc, ns, "svc"] => self.service_records(ns, svc, &owner, qtype),
            [host, svc, ns, "svc"] => {
                let Some(s) = self.service(ns, svc) else {
                    return Lookup::NxDomain;
                };
                if !s.spec.is_headless() {
                    return Lookup::NxDomain;
                }
                let found: Vec<Answer> = self
                    .ready(s)
                    .into_iter()
                    .filter(|r| r.label == *host)
                    .map(|r| Answer {
                        name: owner.clone(),
                        data: RecordData::A(r.ip),
                    })
                    .collect();
                match (found.is_empty(), qtype) {
                    (true, _) => Lookup::NxDomain,
                    (false, QueryType::A) => Lookup::Records(found),
                    (false, _) => Lookup::Records(Vec::new()),
                }
            }
            [port, proto, svc, ns, "svc"] if port.starts_with('_') && proto.starts_with('_') => {
                self.srv(ns, svc, &port[1..], &proto[1..], &owner, qtype)
            }
            _ => Lookup::NxDomain,
        }
    }

    fn service_records(&self, ns: &str, name: &str, owner: &str, qtype: QueryType) -> Lookup {
        let Some(svc) = self.service(ns, name) else {
            return Lookup::NxDomain;
        };
        if svc.spec.type_name() == "ExternalName" {
            let target = svc.spec.external_name.clone().unwrap_or_default();
            let target = format!("{}.", target.trim_end_matches('.'));
            return Lookup::Records(vec![Answer {
                name: owner.to_string(),
                data: RecordData::Cname(target),
            }]);
        }
        let addrs: Vec<Ipv4Addr> = if svc.spec.is_headless() {
            let ready = self.ready(svc);
            if ready.is_empty() {
                return Lookup::NxDomain;
            }
            ready.iter().map(|r| r.ip).collect()
        } else {
            Self::cluster_ip(svc).into_iter().collect()
        };
        match qtype {
            QueryType::A => Lookup::Records(
                addrs
                    .into_iter()
                    .map(|ip| Answer {
                        name: owner.to_string(),
                        data: RecordData::A(ip),
                    })
                    .collect(),
            ),
            _ => Lookup::Records(Vec::new()),
        }
    }

    fn srv(
        &self,
        ns: &str,
        name: &str,
        port: &str,
        proto: &str,
        owner: &str,
        qtype: QueryType,
    ) -> Lookup {
        let Some(svc) = self.service(ns, name) else {
            return Lookup::NxDomain;
        };
        let Some(sp) = svc.spec.ports.iter().find(|p| {
            p.name.as_deref() == Some(port)
                && p.protocol
                    .as_deref()
                    .unwrap_or("TCP")
                    .eq_ignore_ascii_case(proto)
        }) else {
            return Lookup::NxDomain;
        };
        if qtype != QueryType::Srv {
            return Lookup::Records(Vec::new());
        }
        let base = format!("{name}.{ns}.svc");
        let answers = if svc.spec.is_headless() {
            self.ready(svc)
                .into_iter()
                .filter_map(|r| {
                    let p = r
                        .slice
                        .ports
                        .iter()
                        .find(|p| p.name.as_deref().unwrap_or("") == port)?
                        .port?;
                    Some(Answer {
                        name: owner.to_string(),
                        data: RecordData::Srv {
                            port: u16::try_from(p).ok()?,
                            target: self.fqdn(&format!("{}.{base}", r.label)),
                        },
                    })
                })
                .collect()
        } else {
            vec![Answer {
                name: owner.to_string(),
                data: RecordData::Srv {
                    port: u16::try_from(sp.port).unwrap_or(0),
                    target: self.fqdn(&base),
                },
            }]
        };
        Lookup::Records(answers)
    }

    fn reverse(&self, rev: &str, qtype: QueryType) -> Lookup {
        let octets: Vec<&str> = rev.split('.').rev().collect();
        let Ok(ip) = octets.join(".").parse::<Ipv4Addr>() else {
            return Lookup::NotOurs;
        };
        let owner = format!("{rev}.in-addr.arpa.");
        for svc in self.services {
            let ns = svc.namespace().unwrap_or("default");
            if Self::cluster_ip(svc) == Some(ip) && !svc.spec.is_headless() {
                let target = self.fqdn(&format!("{}.{ns}.svc", svc.name()));
                return ptr(owner, target, qtype);
            }
            if svc.spec.is_headless() {
                if let Some(r) = self.ready(svc).into_iter().find(|r| r.ip == ip) {
                    let target = self.fqdn(&format!("{}.{}.{ns}.svc", r.label, svc.name()));
                    return ptr(owner, target, qtype);
                }
            }
        }
        Lookup::NotOurs
    }
}

fn ptr(owner: String, target: String, qtype: QueryType) -> Lookup {
    match qtype {
        QueryType::Ptr => Lookup::Records(vec![Answer {
            name: owner,
            data: RecordData::Ptr(target),
        }]),
        _ => Lookup::Records(Vec::new()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use skiff_core::kinds::{
        Endpoint, EndpointConditions, EndpointSlicePort, ServicePort, SERVICE_NAME_LABEL,
    };

    fn svc(name: &str, ip: &str) -> Arc<Service> {
        let mut s = Service::named(name);
        s.metadata.namespace = Some("default".into());
        s.spec.cluster_ip = Some(ip.into());
        s.spec.ports = vec![ServicePort {
            name: Some("http".into()),
            port: 80,
            protocol: Some("TCP".into()),
            ..ServicePort::default()
        }];
        Arc::new(s)
    }

    fn slice(svc: &str, eps: &[(&str, Option<&str>, bool)]) -> Arc<EndpointSlice> {
        let mut s = EndpointSlice::named(format!("{svc}-a"));
        s.metadata.namespace = Some("default".into());
        s.metadata
            .labels
            .insert(SERVICE_NAME_LABEL.into(), svc.into());
        s.address_type = "IPv4".into();
        s.ports = vec![EndpointSlicePort {
            name: Some("http".into()),
            protocol: Some("TCP".into()),
            port: Some(8080),
            app_protocol: None,
        }];
        s.endpoints = eps
            .iter()
            .map(|(ip, host, ready)| Endpoint {
                addresses: vec![(*ip).into()],
                hostname: host.map(str::to_string),
                conditions: EndpointConditions {
                    ready: Some(*ready),
                    ..Default::default()
                },
                ..Endpoint::default()
            })
            .collect();
        Arc::new(s)
    }

    fn a(ip: &str) -> RecordData {
        RecordData::A(ip.parse().unwrap())
    }

    #[test]
    fn the_kubernetes_dns_specification() {
        let mut ext = Service::named("db");
        ext.metadata.namespace = Some("default".into());
        ext.spec.type_ = Some("ExternalName".into());
        ext.spec.external_name = Some("db.example.com".into());
        let services = vec![
            svc("web", "10.96.0.20"),
            svc("peers", "None"),
            svc("empty", "None"),
            Arc::new(ext),
        ];
        let slices = vec![slice(
            "peers",
            &[
                ("10.244.0.5", Some("p0"), true),
                ("10.244.0.6", None, true),
                ("10.244.0.7", None, false),
            ],
        )];
        let zone = Zone {
            domain: "cluster.local",
            services: &services,
            slices: &slices,
        };
        let records = |name: &str, t| match zone.lookup(name, t) {
            Lookup::Records(r) => r.into_iter().map(|a| a.data).collect::<Vec<_>>(),
            other => panic!("{name}: {other:?}"),
        };
        assert_eq!(
            records("web.default.svc.cluster.local.", QueryType::A),
            vec![a("10.96.0.20")]
        );
        assert_eq!(
            records("WEB.default.svc.cluster.local", QueryType::A),
            vec![a("10.96.0.20")]
        );
        assert!(records("web.default.svc.cluster.local", QueryType::Aaaa).is_empty());
        assert_eq!(
            records("_http._tcp.web.default.svc.cluster.local", QueryType::Srv),
            vec![RecordData::Srv {
                port: 80,
                target: "web.default.svc.cluster.local.".into()
            }]
        );
        assert_eq!(
            records("peers.default.svc.cluster.local", QueryType::A),
            vec![a("10.244.0.5"), a("10.244.0.6")]
        );
        assert_eq!(
            records("p0.peers.default.svc.cluster.local", QueryType::A),
            vec![a("10.244.0.5")]
        );
        assert_eq!(
            records("10-244-0-6.peers.default.svc.cluster.local", QueryType::A),
            vec![a("10.244.0.6")]
        );
        assert_eq!(
            records("_http._tcp.peers.default.svc.cluster.local", QueryType::Srv),
            vec![
                RecordData::Srv {
                    port: 8080,
                    target: "p0.peers.default.svc.cluster.local.".into()
                },
                RecordData::Srv {
                    port: 8080,
                    target: "10-244-0-6.peers.default.svc.cluster.local.".into()
                },
            ]
        );
        assert_eq!(
            zone.lookup("empty.default.svc.cluster.local", QueryType::A),
            Lookup::NxDomain
        );
        assert_eq!(
            zone.lookup("nope.default.svc.cluster.local", QueryType::A),
            Lookup::NxDomain
        );
        assert_eq!(
            records("db.default.svc.cluster.local", QueryType::A),
            vec![RecordData::Cname("db.example.com.".into())]
        );
        assert_eq!(
            records("20.0.96.10.in-addr.arpa", QueryType::Ptr),
            vec![RecordData::Ptr("web.default.svc.cluster.local.".into())]
        );
        assert_eq!(
            records("5.0.244.10.in-addr.arpa", QueryType::Ptr),
            vec![RecordData::Ptr(
                "p0.peers.default.svc.cluster.local.".into()
            )]
        );
        assert_eq!(
            zone.lookup("9.9.9.9.in-addr.arpa", QueryType::Ptr),
            Lookup::NotOurs
        );
        assert_eq!(
            records("10-244-3-4.default.pod.cluster.local", QueryType::A),
            vec![a("10.244.3.4")]
        );
        assert_eq!(
            records("dns-version.cluster.local", QueryType::Txt),
            vec![RecordData::Txt("1.1.0".into())]
        );
        assert_eq!(zone.lookup("example.com", QueryType::A), Lookup::NotOurs);
        assert_eq!(
            zone.lookup("notcluster.local", QueryType::A),
            Lookup::NotOurs
        );
    }
}
