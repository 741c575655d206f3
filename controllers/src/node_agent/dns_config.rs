//! The resolv.conf every container of a pod gets, as the kubelet writes it for `dnsPolicy`:
//!
//! - `ClusterFirst` (the default): the cluster DNS (`nameserver 10.96.0.10`), the search path
//!   `<ns>.svc.<domain> svc.<domain> <domain>` followed by the host's, and `options ndots:5`. Without a
//!   cluster DNS configured on the node, or with `hostNetwork` (unless `ClusterFirstWithHostNet`),
//!   it falls back to `Default`, as the kubelet does.
//! - `Default`: the node's own resolv.conf.
//! - `None`: only `spec.dnsConfig`.
//!
//! `spec.dnsConfig` is merged in every case: its nameservers and searches are appended (at most 3
//! nameservers, 32 searches), its options override options of the same name.
//!
//! ```
//! use skiff_controllers::node_agent::dns_config::resolv_conf;
//! use skiff_core::kinds::Pod;
//!
//! let mut pod = Pod::named("web");
//! pod.metadata.namespace = Some("shop".into());
//! let conf = resolv_conf(&pod, Some("10.96.0.10"), "cluster.local", "nameserver 192.0.2.1\nsearch corp.example\n");
//! assert_eq!(conf, "nameserver 10.96.0.10\nsearch shop.svc.cluster.local svc.cluster.local cluster.local corp.example\noptions ndots:5\n");
//! ```

use skiff_core::kinds::Pod;
use skiff_core::Resource;

/// What a resolv.conf says.
#[derive(Default)]
struct Resolv {
    nameservers: Vec<String>,
    searches: Vec<String>,
    options: Vec<(String, Option<String>)>,
}

fn parse(text: &str) -> Resolv {
    let mut r = Resolv::default();
    for line in text.lines() {
        let mut words = line.split_whitespace();
        match words.next() {
            Some("nameserver") => r.nameservers.extend(words.next().map(str::to_string)),
            Some("search") | Some("domain") => r.searches = words.map(str::to_string).collect(),
            Some("options") => {
                for o in words {
                    let (k, v) = match o.split_once(':') {
                        Some((k, v)) => (k.to_string(), Some(v.to_string())),
                        None => (o.to_string(), None),
                    };
                    set_option(&mut r.options, k, v);
                }
            }
            _ => {}
        }
    }
    r
}

fn set_option(options: &mut Vec<(String, Option<String>)>, name: String, value: Option<String>) {
    match options.iter_mut().find(|(k, _)| *k == name) {
        Some(o) => o.1 = value,
        None => options.push((name, value)),
    }
}

/// The resolv.conf for `pod` (see the module docs); `host` is the node's own resolv.conf.
pub fn resolv_conf(pod: &Pod, cluster_dns: Option<&str>, domain: &str, host: &str) -> String {
    let policy = pod.spec.dns_policy.as_deref().unwrap_or("ClusterFirst");
    let host_net = pod.spec.host_network == Some(true);
    let cluster = match (policy, cluster_dns) {
        ("ClusterFirstWithHostNet", Some(ip)) => Some(ip),
        ("ClusterFirst", Some(ip)) if !host_net => Some(ip),
        _ => None,
    };
    let mut r = match (policy, cluster) {
        ("None", _) => Resolv::default(),
        (_, Some(ip)) => {
            let ns = pod.namespace().unwrap_or("default");
            let host = parse(host);
            let mut searches = vec![
                format!("{ns}.svc.{domain}"),
                format!("svc.{domain}"),
                domain.to_string(),
            ];
            searches.extend(host.searches);
            Resolv {
                nameservers: vec![ip.to_string()],
                searches,
                options: vec![("ndots".into(), Some("5".into()))],
            }
        }
        _ => parse(host),
    };
    if let Some(c) = &pod.spec.dns_config {
        r.nameservers.extend(c.nameservers.iter().cloned());
        r.searches.extend(c.searches.iter().cloned());
        for o in &c.options {
            set_option(&mut r.options, o.name.clone(), o.value.clone());
        }
    }
    r.nameservers.truncate(3);
    r.searches.dedup();
    r.searches.truncate(32);
    let mut out = String::new();
    for ns in &r.nameservers {
        out.push_str(&format!("nameserver {ns}\n"));
    }
    if !r.searches.is_empty() {
        out.push_str(&format!("search {}\n", r.searches.join(" ")));
    }
    if !r.options.is_empty() {
        let opts: Vec<String> = r
            .options
            .iter()
            .map(|(k, v)| match v {
                Some(v) => format!("{k}:{v}"),
                None => k.clone(),
            })
            .collect();
        out.push_str(&format!("options {}\n", opts.join(" ")));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use skiff_core::kinds::{PodDnsConfig, PodDnsConfigOption};

    const HOST: &str = "nameserver 192.0.2.1\nsearch corp.example\noptions timeout:2\n";

    #[test]
    fn every_policy_and_the_merge() {
        let mut pod = Pod::named("p");
        pod.metadata.namespace = Some("default".into());
        pod.spec.dns_policy = Some("Default".into());
        assert_eq!(
            resolv_conf(&pod, Some("10.96.0.10"), "cluster.local", HOST),
            HOST
        );
        pod.spec.dns_policy = Some("ClusterFirst".into());
        pod.spec.host_network = Some(true);
        assert_eq!(
            resolv_conf(&pod, Some("10.96.0.10"), "cluster.local", HOST),
            HOST
        );
        pod.spec.dns_policy = Some("ClusterFirstWithHostNet".into());
        assert!(resolv_conf(&pod, Some("10.96.0.10"), "cluster.local", HOST)
            .starts_with("nameserver 10.96.0.10\n"));
        pod.spec.host_network = None;
        pod.spec.dns_policy = None;
        assert_eq!(
            resolv_conf(&pod, None, "cluster.local", HOST),
            HOST,
            "no cluster DNS: Default"
        );
        pod.spec.dns_policy = Some("None".into());
        pod.spec.dns_config = Some(PodDnsConfig {
            nameservers: vec!["1.2.3.4".into()],
            searches: vec!["ns1.svc.cluster-domain.example".into()],
            options: vec![
                PodDnsConfigOption {
                    name: "ndots".into(),
                    value: Some("2".into()),
                },
                PodDnsConfigOption {
                    name: "edns0".into(),
                    value: None,
                },
            ],
        });
        assert_eq!(
            resolv_conf(&pod, Some("10.96.0.10"), "cluster.local", HOST),
            "nameserver 1.2.3.4\nsearch ns1.svc.cluster-domain.example\noptions ndots:2 edns0\n"
        );
        pod.spec.dns_policy = Some("ClusterFirst".into());
        let conf = resolv_conf(&pod, Some("10.96.0.10"), "cluster.local", HOST);
        assert!(
            conf.starts_with("nameserver 10.96.0.10\nnameserver 1.2.3.4\n"),
            "{conf}"
        );
        assert!(conf.ends_with("options ndots:2 edns0\n"), "{conf}");
    }
}
