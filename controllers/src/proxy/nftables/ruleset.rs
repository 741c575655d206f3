//! The nftables proxy's rules as data: [`Ruleset::build`] turns the proxied ports into the chains,
//! map elements and set elements one private table must hold, and [`Ruleset::diff`] turns two
//! rulesets into the nft commands that change the first into the second — only what changed, in an
//! order the kernel accepts, applied as one transaction (`nft -f -`). No I/O here.
//!
//! The table (family `ip`):
//!
//! ```text
//! map service-ips           { ipv4_addr . inet_proto . inet_service : verdict }  ClusterIP -> goto pick-tcp-N,
//!                                                                               external/LB IP -> goto pick-ext-tcp-N
//! map service-nodeports     { inet_proto . inet_service : verdict }              NodePort  -> goto pick-np-tcp-N
//! map endpoints-tcp         { typeof ip daddr . tcp dport . numgen : ip daddr . tcp dport }  (and -udp)
//! map nodeport-endpoints-tcp { typeof tcp dport . numgen : ip daddr . tcp dport }         (and -udp)
//! map no-endpoint-services  { ipv4_addr . inet_proto . inet_service : verdict }  -> goto reject-chain
//! map no-endpoint-nodeports { inet_proto . inet_service : verdict }              -> goto reject-chain
//! set hairpin               { ipv4_addr . ipv4_addr }                            endpoint . endpoint
//!
//! chain nat-prerouting  { type nat hook prerouting priority dstnat; jump services }
//! chain nat-output      { type nat hook output priority -100; jump services }
//! chain nat-postrouting { type nat hook postrouting priority srcnat; jump masquerading }
//! chain filter-{input,forward,output} { type filter hook … priority -110; ct state new jump endpoints-check }
//! chain services {
//!     ip daddr . meta l4proto . th dport vmap @service-ips
//!     ip daddr != 127.0.0.0/8 fib daddr type local meta l4proto . th dport vmap @service-nodeports
//! }
//! chain endpoints-check { the same two lookups in the no-endpoint maps }
//! chain pick-{tcp,udp}-{1..64}, pick-ext-…, pick-np-… (external and NodePort traffic, marked), e.g.
//! chain pick-tcp-3 { meta l4proto tcp dnat ip to ip daddr . tcp dport . numgen random mod 3 map @endpoints-tcp }
//! chain pick-np-tcp-3 { jump mark-for-masquerade; meta l4proto tcp dnat ip to tcp dport . numgen random mod 3 map @nodeport-endpoints-tcp }
//! chain masquerading {
//!     ip saddr . ip daddr @hairpin masquerade          a pod reaching itself through its Service
//!     meta mark & 0x4000 == 0 return
//!     meta mark set meta mark ^ 0x4000
//!     masquerade                                       NodePort traffic
//! }
//! ```
//!
//! kube-proxy's nftables mode gives every Service a chain and every endpoint a chain, the pick being
//! an anonymous `numgen … vmap` per Service. Measured here (kernel 6.x, nft 1.0.6), 10,000 such
//! anonymous maps take 46 s of kernel time to load, and a one-rule change 200 ms (nft reads them
//! all back). So Skiff keys every endpoint of every Service in one map per protocol, `(ClusterIP,
//! port, index)`, and a handful of shared chains do the pick — one per protocol and endpoint count N,
//! hashing `numgen random mod N` into the key (the skeleton has them for N up to 64, or the next
//! power of two a Service needs). A Service costs one element in `service-ips` and N
//! in `endpoints`; an endpoint change rewrites only its elements; 10,000 Services load in about a
//! second. Only `sessionAffinity: ClientIP` needs per-endpoint state, so only those Services get
//! kube-proxy's chains (`svc-…`, `ep-…`) and recent-client sets (`aff-…`, with the timeout).
//!
//! Written in nft's own syntax (as kube-proxy's knftables writes it), not its JSON: the JSON of
//! nft 1.0.6 (Debian 12) has no `typeof` for map declarations, and its parser refuses (or crashes
//! on) the numgen-keyed maps and concatenated NAT data this layout needs, which the `nftables` crate
//! can therefore not express either. The model below is typed; only [`Ruleset::diff`] writes text.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use super::super::model::{Protocol, ProxiedPort};

/// The packet mark bit that asks postrouting to masquerade (kube-proxy's 0x4000).
pub const MASQUERADE_MARK: u32 = 0x4000;

/// The endpoint counts a table has pick chains for, at least.
pub const MIN_PICKS: usize = 64;

/// An endpoint's address and port.
type Target = (Ipv4Addr, u16);

/// Everything the table holds beyond its fixed [`skeleton`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Ruleset {
    /// The table's name.
    pub table: String,
    /// The skeleton's pick chains serve 1..=`picks` endpoints (a power of two, at least
    /// [`MIN_PICKS`]; more means a new skeleton).
    pub picks: usize,
    /// Chains beyond the skeleton (`svc-`, `ep-`, `ext-` for affinity) and their rules.
    pub chains: BTreeMap<String, Vec<String>>,
    /// ClusterIP . protocol . port -> the chain that picks an endpoint.
    pub service_ips: BTreeMap<(Ipv4Addr, Protocol, u16), String>,
    /// protocol . NodePort -> the chain that marks for masquerade and picks an endpoint.
    pub node_ports: BTreeMap<(Protocol, u16), String>,
    /// ClusterIP . protocol . port . index -> endpoint.
    pub endpoints: BTreeMap<(Ipv4Addr, Protocol, u16, u32), Target>,
    /// protocol . NodePort . index -> endpoint.
    pub node_port_endpoints: BTreeMap<(Protocol, u16, u32), Target>,
    /// ClusterIP ports without endpoints: rejected.
    pub no_endpoints: BTreeSet<(Ipv4Addr, Protocol, u16)>,
    /// NodePorts without endpoints: rejected.
    pub no_endpoint_node_ports: BTreeSet<(Protocol, u16)>,
    /// Endpoint addresses (for hairpin masquerade).
    pub hairpin: BTreeSet<Ipv4Addr>,
    /// Affinity sets and their timeout in seconds.
    pub affinity_sets: BTreeMap<String, u64>,
}

/// The chain name of a Service port: namespace/name/protocol/port-name after `prefix` (as
/// kube-proxy's `service-…-ns/name/proto/port`, readable in `nft list table`).
fn chain_name(prefix: &str, port: &ProxiedPort) -> String {
    let (service, port_name) = port.name.split_once(':').unwrap_or((&port.name, ""));
    format!("{prefix}-{service}/{}/{port_name}", port.protocol)
}

fn v4(addr: &SocketAddr) -> Option<Target> {
    match addr.ip() {
        IpAddr::V4(ip) => Some((ip, addr.port())),
        IpAddr::V6(_) => None,
    }
}

fn index(i: usize) -> u32 {
    u32::try_from(i).unwrap_or(u32::MAX)
}

impl Ruleset {
    /// The rules that forward `ports` in table `table`.
    ///
    /// ```
    /// use skiff_controllers::proxy::model::{Protocol, ProxiedPort};
    /// use skiff_controllers::proxy::nftables::Ruleset;
    ///
    /// let web = ProxiedPort {
    ///     name: "default/web:".into(),
    ///     cluster_ip: "10.96.0.20".parse().unwrap(),
    ///     port: 80,
    ///     protocol: Protocol::Tcp,
    ///     node_port: None,
    ///     external_ips: vec![],
    ///     endpoints: vec!["10.244.0.2:8080".parse().unwrap(), "10.244.0.3:8080".parse().unwrap()],
    ///     affinity: None,
    /// };
    /// let rules = Ruleset::build("skiff-proxy0", &[web]);
    /// assert_eq!(rules.service_ips.values().next().unwrap(), "pick-tcp-2");
    /// assert_eq!(rules.endpoints.len(), 2);
    /// let script = rules.diff(None);
    /// assert!(script.contains("numgen random mod 2 map @endpoints-tcp"));
    /// ```
    pub fn build(table: &str, ports: &[ProxiedPort]) -> Self {
        let mut r = Ruleset {
            table: table.to_string(),
            picks: MIN_PICKS,
            ..Ruleset::default()
        };
        // Collected, then built in bulk (sorting once is cheaper than 100,000 tree inserts).
        let mut endpoints = Vec::new();
        let mut node_port_endpoints = Vec::new();
        let mut hairpin = Vec::new();
        for port in ports {
            let key = (port.cluster_ip, port.protocol, port.port);
            let targets: Vec<Target> = port.endpoints.iter().filter_map(v4).collect();
            let externals = port
                .external_ips
                .iter()
                .map(|ip| (*ip, port.protocol, port.port));
            if targets.is_empty() {
                r.no_endpoints.insert(key);
                r.no_endpoints.extend(externals);
                if let Some(np) = port.node_port {
                    r.no_endpoint_node_ports.insert((port.protocol, np));
                }
                continue;
            }
            hairpin.extend(targets.iter().map(|t| t.0));
            if let Some(timeout) = port.affinity {
                let svc = r.affinity_chains(port, &targets, timeout.as_secs());
                r.service_ips.insert(key, svc.clone());
                if port.node_port.is_some() || !port.external_ips.is_empty() {
                    // Traffic from outside: marked for masquerade, then the Service's chain.
                    let ext = chain_name("ext", port);
                    r.chains.insert(
                        ext.clone(),
                        vec!["jump mark-for-masquerade".into(), format!("goto {svc}")],
                    );
                    for k in externals {
                        r.service_ips.insert(k, ext.clone());
                    }
                    if let Some(np) = port.node_port {
                        r.node_ports.insert((port.protocol, np), ext);
                    }
                }
                continue;
            }
            let n = targets.len();
            let p = port.protocol;
            r.picks = r.picks.max(n.next_power_of_two());
            r.service_ips.insert(key, format!("pick-{p}-{n}"));
            for (i, t) in targets.iter().enumerate() {
                endpoints.push(((port.cluster_ip, p, port.port, index(i)), *t));
            }
            // External and load balancer addresses: the same endpoints under their own keys,
            // marked for masquerade like NodePort traffic.
            for ip in &port.external_ips {
                r.service_ips
                    .insert((*ip, p, port.port), format!("pick-ext-{p}-{n}"));
                for (i, t) in targets.iter().enumerate() {
                    endpoints.push(((*ip, p, port.port, index(i)), *t));
                }
            }
            if let Some(np) = port.node_port {
                r.node_ports.insert((p, np), format!("pick-np-{p}-{n}"));
                for (i, t) in targets.iter().enumerate() {
                    node_port_endpoints.push(((p, np, index(i)), *t));
                }
            }
        }
        r.endpoints = endpoints.into_iter().collect();
        r.node_port_endpoints = node_port_endpoints.into_iter().collect();
        r.hairpin = hairpin.into_iter().collect();
        r
    }

    /// ClientIP affinity: a recent client goes back to its endpoint; a new one is spread at random
    /// and remembered by its endpoint's chain (kube-proxy's layout). Returns the Service's chain.
    fn affinity_chains(&mut self, port: &ProxiedPort, targets: &[Target], timeout: u64) -> String {
        let svc = chain_name("svc", port);
        let tail = svc.trim_start_matches("svc-").to_string();
        let mut rules = Vec::new();
        let mut picks = Vec::new();
        for (i, (ip, ep_port)) in targets.iter().enumerate() {
            let ep_chain = format!("ep-{ip}-{ep_port}-{tail}");
            let set = format!("aff-{ip}-{ep_port}-{tail}");
            self.affinity_sets.insert(set.clone(), timeout.max(1));
            rules.push(format!("ip saddr @{set} goto {ep_chain}"));
            picks.push(format!("{i} : goto {ep_chain}"));
            self.chains.insert(
                ep_chain,
                vec![
                    format!("update @{set} {{ ip saddr }}"),
                    format!("meta l4proto {} dnat to {ip}:{ep_port}", port.protocol),
                ],
            );
        }
        rules.push(format!(
            "numgen random mod {} vmap {{ {} }}",
            targets.len(),
            picks.join(", ")
        ));
        self.chains.insert(svc.clone(), rules);
        svc
    }

    /// The nft script that turns `old` (None: whatever a predecessor left, replaced whole) into
    /// `self`; empty when nothing changed. A Service with more endpoints than `old`'s pick chains
    /// serve makes a new skeleton (the whole table again).
    pub fn diff(&self, old: Option<&Ruleset>) -> String {
        let mut out = String::new();
        let empty = Ruleset {
            table: self.table.clone(),
            ..Ruleset::default()
        };
        let old = match old {
            Some(old) if old.picks >= self.picks => old,
            _ => {
                out.push_str(&skeleton(&self.table, self.picks));
                &empty
            }
        };
        let t = &self.table;
        // New affinity sets and chains first: rules and elements may name them.
        for (set, timeout) in &self.affinity_sets {
            if !old.affinity_sets.contains_key(set) {
                let _ = writeln!(
                    out,
                    "add set ip {t} {set} {{ type ipv4_addr ; flags dynamic,timeout ; timeout {timeout}s ; }}"
                );
            }
        }
        for name in self.chains.keys() {
            if !old.chains.contains_key(name) {
                let _ = writeln!(out, "add chain ip {t} {name}");
            }
        }
        // Changed chains are rewritten; new ones filled.
        for (name, rules) in &self.chains {
            match old.chains.get(name) {
                Some(before) if before == rules => continue,
                Some(_) => {
                    let _ = writeln!(out, "flush chain ip {t} {name}");
                }
                None => {}
            }
            for rule in rules {
                let _ = writeln!(out, "add rule ip {t} {name} {rule}");
            }
        }
        // Map and set elements: removed and changed ones out, new and changed ones in.
        let ip_key = |(ip, p, port): &(Ipv4Addr, Protocol, u16)| format!("{ip} . {p} . {port}");
        let np_key = |(p, port): &(Protocol, u16)| format!("{p} . {port}");
        let goto = |chain: &String| format!("goto {chain}");
        let target = |(ip, port): &Target| format!("{ip} . {port}");
        elements(
            &mut out,
            t,
            "service-ips",
            &old.service_ips,
            &self.service_ips,
            ip_key,
            goto,
        );
        elements(
            &mut out,
            t,
            "service-nodeports",
            &old.node_ports,
            &self.node_ports,
            np_key,
            goto,
        );
        // One endpoints map per protocol: three-field keys parse a quarter faster than four.
        for proto in [Protocol::Tcp, Protocol::Udp] {
            merge_elements(
                &mut out,
                t,
                &format!("endpoints-{proto}"),
                old.endpoints.iter().filter(|(k, _)| k.1 == proto),
                self.endpoints.iter().filter(|(k, _)| k.1 == proto),
                |(ip, _, port, i)| format!("{ip} . {port} . {i}"),
                target,
            );
            merge_elements(
                &mut out,
                t,
                &format!("nodeport-endpoints-{proto}"),
                old.node_port_endpoints.iter().filter(|(k, _)| k.0 == proto),
                self.node_port_endpoints
                    .iter()
                    .filter(|(k, _)| k.0 == proto),
                |(_, port, i)| format!("{port} . {i}"),
                target,
            );
        }
        let reject = |_: &()| "goto reject-chain".to_string();
        elements(
            &mut out,
            t,
            "no-endpoint-services",
            &unit(&old.no_endpoints),
            &unit(&self.no_endpoints),
            ip_key,
            reject,
        );
        elements(
            &mut out,
            t,
            "no-endpoint-nodeports",
            &unit(&old.no_endpoint_node_ports),
            &unit(&self.no_endpoint_node_ports),
            np_key,
            reject,
        );
        let pair = |ip: &Ipv4Addr| format!("{ip} . {ip}");
        let gone: Vec<String> = old.hairpin.difference(&self.hairpin).map(pair).collect();
        let new: Vec<String> = self.hairpin.difference(&old.hairpin).map(pair).collect();
        if !gone.is_empty() {
            let _ = writeln!(
                out,
                "delete element ip {t} hairpin {{ {} }}",
                gone.join(", ")
            );
        }
        if !new.is_empty() {
            let _ = writeln!(out, "add element ip {t} hairpin {{ {} }}", new.join(", "));
        }
        // Chains no longer wanted: emptied first (they may jump to one another), then deleted.
        let removed: Vec<&String> = old
            .chains
            .keys()
            .filter(|c| !self.chains.contains_key(*c))
            .collect();
        for name in &removed {
            let _ = writeln!(out, "flush chain ip {t} {name}");
        }
        for name in &removed {
            let _ = writeln!(out, "delete chain ip {t} {name}");
        }
        for set in old.affinity_sets.keys() {
            if !self.affinity_sets.contains_key(set) {
                let _ = writeln!(out, "delete set ip {t} {set}");
            }
        }
        out
    }
}

fn unit<K: Ord + Copy>(set: &BTreeSet<K>) -> BTreeMap<K, ()> {
    set.iter().map(|k| (*k, ())).collect()
}

/// The element commands for map `map`: keys gone or changed deleted, new or changed ones added.
fn elements<K: Ord, V: PartialEq>(
    out: &mut String,
    table: &str,
    map: &str,
    old: &BTreeMap<K, V>,
    new: &BTreeMap<K, V>,
    key: impl Fn(&K) -> String,
    value: impl Fn(&V) -> String,
) {
    merge_elements(out, table, map, old.iter(), new.iter(), key, value);
}

/// [`elements`] over two iterators sorted by key.
fn merge_elements<'a, K: Ord + 'a, V: PartialEq + 'a>(
    out: &mut String,
    table: &str,
    map: &str,
    old: impl Iterator<Item = (&'a K, &'a V)>,
    new: impl Iterator<Item = (&'a K, &'a V)>,
    key: impl Fn(&K) -> String,
    value: impl Fn(&V) -> String,
) {
    let (gone, added) = sorted_changes(old, new, |(k, _)| k);
    let gone: Vec<String> = gone.into_iter().map(|(k, _)| key(k)).collect();
    let added: Vec<String> = added
        .into_iter()
        .map(|(k, v)| format!("{} : {}", key(k), value(v)))
        .collect();
    if !gone.is_empty() {
        let _ = writeln!(
            out,
            "delete element ip {table} {map} {{ {} }}",
            gone.join(", ")
        );
    }
    if !added.is_empty() {
        let _ = writeln!(
            out,
            "add element ip {table} {map} {{ {} }}",
            added.join(", ")
        );
    }
}

/// One walk over two sequences sorted by `key`: the entries only in `old` or changed (`gone`), and
/// those only in `new` or changed (`added`). Linear, no lookups.
pub(super) fn sorted_changes<T: Copy + PartialEq, K: Ord>(
    old: impl Iterator<Item = T>,
    new: impl Iterator<Item = T>,
    key: impl Fn(T) -> K,
) -> (Vec<T>, Vec<T>) {
    let (mut gone, mut added) = (Vec::new(), Vec::new());
    let (mut a, mut b) = (old.peekable(), new.peekable());
    loop {
        let order = match (a.peek(), b.peek()) {
            (None, None) => break,
            (Some(_), None) => std::cmp::Ordering::Less,
            (None, Some(_)) => std::cmp::Ordering::Greater,
            (Some(&x), Some(&y)) => key(x).cmp(&key(y)),
        };
        match order {
            std::cmp::Ordering::Less => gone.extend(a.next()),
            std::cmp::Ordering::Greater => added.extend(b.next()),
            std::cmp::Ordering::Equal => {
                if let (Some(x), Some(y)) = (a.next(), b.next()) {
                    if x != y {
                        gone.push(x);
                        added.push(y);
                    }
                }
            }
        }
    }
    (gone, added)
}

/// The fixed part of the table, replacing whatever a predecessor left: `add table` then `delete
/// table` (so the delete never fails on a table that is absent), then the table afresh, with pick
/// chains for 1..=`picks` endpoints. The pick chains are written here, next to the `typeof` maps
/// they read: nft 1.0.6 cannot add a rule reading a `typeof` map that it loads back from the
/// kernel ("conflicting protocols specified"), only one declared in the same transaction.
pub fn skeleton(table: &str, picks: usize) -> String {
    let t = table;
    let mark = MASQUERADE_MARK;
    let service = "ip daddr . meta l4proto . th dport";
    let local = "ip daddr != 127.0.0.0/8 fib daddr type local meta l4proto . th dport";
    let mut out = format!(
        "add table ip {t}\ndelete table ip {t}\nadd table ip {t}
add map ip {t} service-ips {{ type ipv4_addr . inet_proto . inet_service : verdict ; }}
add map ip {t} service-nodeports {{ type inet_proto . inet_service : verdict ; }}
add map ip {t} no-endpoint-services {{ type ipv4_addr . inet_proto . inet_service : verdict ; }}
add map ip {t} no-endpoint-nodeports {{ type inet_proto . inet_service : verdict ; }}
add map ip {t} endpoints-tcp {{ typeof ip daddr . tcp dport . numgen random mod 1 : ip daddr . tcp dport ; }}
add map ip {t} endpoints-udp {{ typeof ip daddr . udp dport . numgen random mod 1 : ip daddr . udp dport ; }}
add map ip {t} nodeport-endpoints-tcp {{ typeof tcp dport . numgen random mod 1 : ip daddr . tcp dport ; }}
add map ip {t} nodeport-endpoints-udp {{ typeof udp dport . numgen random mod 1 : ip daddr . udp dport ; }}
add set ip {t} hairpin {{ type ipv4_addr . ipv4_addr ; }}
add chain ip {t} services
add chain ip {t} endpoints-check
add chain ip {t} reject-chain
add chain ip {t} mark-for-masquerade
add chain ip {t} masquerading
add rule ip {t} services {service} vmap @service-ips
add rule ip {t} services {local} vmap @service-nodeports
add rule ip {t} endpoints-check {service} vmap @no-endpoint-services
add rule ip {t} endpoints-check {local} vmap @no-endpoint-nodeports
add rule ip {t} reject-chain reject
add rule ip {t} mark-for-masquerade meta mark set meta mark | {mark:#x}
add rule ip {t} masquerading ip saddr . ip daddr @hairpin masquerade
add rule ip {t} masquerading meta mark & {mark:#x} == 0 return
add rule ip {t} masquerading meta mark set meta mark ^ {mark:#x}
add rule ip {t} masquerading masquerade
"
    );
    for (name, kind, hook, prio, to) in [
        (
            "nat-prerouting",
            "nat",
            "prerouting",
            "dstnat",
            "jump services",
        ),
        ("nat-output", "nat", "output", "-100", "jump services"),
        (
            "nat-postrouting",
            "nat",
            "postrouting",
            "srcnat",
            "jump masquerading",
        ),
        // Only a connection's first packet is checked.
        (
            "filter-input",
            "filter",
            "input",
            "-110",
            "ct state new jump endpoints-check",
        ),
        (
            "filter-forward",
            "filter",
            "forward",
            "-110",
            "ct state new jump endpoints-check",
        ),
        (
            "filter-output",
            "filter",
            "output",
            "-110",
            "ct state new jump endpoints-check",
        ),
    ] {
        let _ = writeln!(
            out,
            "add chain ip {t} {name} {{ type {kind} hook {hook} priority {prio} ; policy accept ; }}\nadd rule ip {t} {name} {to}"
        );
    }
    for p in [Protocol::Tcp, Protocol::Udp] {
        for n in 1..=picks {
            let _ = writeln!(
                out,
                "add chain ip {t} pick-{p}-{n}
add rule ip {t} pick-{p}-{n} meta l4proto {p} dnat ip to ip daddr . {p} dport . numgen random mod {n} map @endpoints-{p}
add chain ip {t} pick-ext-{p}-{n}
add rule ip {t} pick-ext-{p}-{n} jump mark-for-masquerade
add rule ip {t} pick-ext-{p}-{n} meta l4proto {p} dnat ip to ip daddr . {p} dport . numgen random mod {n} map @endpoints-{p}
add chain ip {t} pick-np-{p}-{n}
add rule ip {t} pick-np-{p}-{n} jump mark-for-masquerade
add rule ip {t} pick-np-{p}-{n} meta l4proto {p} dnat ip to {p} dport . numgen random mod {n} map @nodeport-endpoints-{p}"
            );
        }
    }
    out
}

/// The script that removes the table (whether or not it exists).
pub fn teardown(table: &str) -> String {
    format!("add table ip {table}\ndelete table ip {table}\n")
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use std::time::Duration;

    fn port(name: &str, ip: &str, eps: &[&str], node_port: Option<u16>) -> ProxiedPort {
        ProxiedPort {
            name: name.into(),
            cluster_ip: ip.parse().unwrap(),
            port: 80,
            protocol: Protocol::Tcp,
            node_port,
            external_ips: vec![],
            endpoints: eps.iter().map(|e| e.parse().unwrap()).collect(),
            affinity: None,
        }
    }

    /// The verbs and objects of a script, e.g. `add element endpoints`.
    fn kinds(script: &str) -> Vec<String> {
        script
            .lines()
            .map(|l| {
                let w: Vec<&str> = l.split_whitespace().collect();
                format!("{} {} {}", w[0], w[1], w[4])
            })
            .collect()
    }

    #[test]
    fn services_share_pick_chains_and_their_endpoints_are_map_elements() {
        let a = port(
            "default/a:",
            "10.96.0.20",
            &["10.244.0.2:8080", "10.244.0.3:8080"],
            None,
        );
        let b = port(
            "default/b:",
            "10.96.0.21",
            &["10.244.0.4:80", "10.244.0.5:80"],
            Some(30080),
        );
        let r = Ruleset::build("t", &[a, b]);
        assert!(
            r.chains.is_empty(),
            "the pick chains are shared, in the skeleton"
        );
        assert_eq!(
            r.service_ips.values().collect::<Vec<_>>(),
            ["pick-tcp-2", "pick-tcp-2"]
        );
        assert_eq!(r.picks, MIN_PICKS);
        assert_eq!(r.endpoints.len(), 4);
        assert_eq!(r.node_port_endpoints.len(), 2);
        assert_eq!(r.node_ports[&(Protocol::Tcp, 30080)], "pick-np-tcp-2");
        assert_eq!(r.hairpin.len(), 4);
        let script = r.diff(None);
        assert!(
            script.starts_with("add table ip t\ndelete table ip t\n"),
            "{script}"
        );
        assert!(
            script.contains("add element ip t endpoints-tcp { 10.96.0.20 . 80 . 0 : 10.244.0.2 . 8080, 10.96.0.20 . 80 . 1 : 10.244.0.3 . 8080, 10.96.0.21"),
            "{script}"
        );
        assert!(
            script.contains("pick-np-tcp-2 jump mark-for-masquerade"),
            "{script}"
        );
        assert!(script.contains("add chain ip t pick-udp-64\n"), "{script}");
        // A Service with more endpoints than the pick chains serve: the table is made again.
        let many: Vec<String> = (0..100).map(|i| format!("10.244.1.{i}:80")).collect();
        let many: Vec<&str> = many.iter().map(String::as_str).collect();
        let big = Ruleset::build("t", &[port("default/big:", "10.96.0.22", &many, None)]);
        assert_eq!(big.picks, 128);
        assert!(big
            .diff(Some(&r))
            .starts_with("add table ip t\ndelete table ip t\n"));
    }

    #[test]
    fn one_endpoint_change_rewrites_its_elements_only() {
        let a = port(
            "default/a:",
            "10.96.0.20",
            &["10.244.0.2:8080", "10.244.0.3:8080"],
            None,
        );
        let b = port("default/b:", "10.96.0.21", &["10.244.0.5:8080"], None);
        let before = Ruleset::build("t", &[a.clone(), b.clone()]);
        let mut a2 = a.clone();
        a2.endpoints[1] = "10.244.0.9:8080".parse().unwrap();
        let after = Ruleset::build("t", &[a2, b.clone()]);
        let script = after.diff(Some(&before));
        assert_eq!(
            kinds(&script),
            [
                "delete element endpoints-tcp",
                "add element endpoints-tcp",
                "delete element hairpin",
                "add element hairpin",
            ]
        );
        assert!(
            script.contains("{ 10.96.0.20 . 80 . 1 : 10.244.0.9 . 8080 }"),
            "{script}"
        );
        assert!(
            after.diff(Some(&after)).is_empty(),
            "nothing changed, nothing sent"
        );
        // Its last endpoints gone: the ClusterIP rejects; the unused pick chain goes last.
        let mut a3 = a;
        a3.endpoints.clear();
        let none = Ruleset::build("t", &[a3, b]);
        assert_eq!(
            kinds(&none.diff(Some(&before))),
            [
                "delete element service-ips",
                "delete element endpoints-tcp",
                "add element no-endpoint-services",
                "delete element hairpin",
            ]
        );
    }

    #[test]
    fn affinity_remembers_clients_per_endpoint() {
        let mut p = port(
            "default/web:http",
            "10.96.0.20",
            &["10.244.0.2:8080", "10.244.0.3:8080"],
            Some(30080),
        );
        p.affinity = Some(Duration::from_secs(600));
        let r = Ruleset::build("t", &[p]);
        assert_eq!(
            r.node_ports[&(Protocol::Tcp, 30080)],
            "ext-default/web/tcp/http"
        );
        assert_eq!(
            r.service_ips.values().next().unwrap(),
            "svc-default/web/tcp/http"
        );
        assert_eq!(r.affinity_sets.len(), 2);
        assert!(r.affinity_sets.values().all(|t| *t == 600));
        // svc chain: one sticky rule per endpoint and the random pick; two endpoint chains; ext.
        assert_eq!(r.chains["svc-default/web/tcp/http"].len(), 3);
        assert_eq!(r.chains.len(), 4);
        assert!(r.endpoints.is_empty());
        let script = r.diff(None);
        assert!(
            script.contains("update @aff-10.244.0.2-8080-default/web/tcp/http { ip saddr }"),
            "{script}"
        );
        assert!(script.contains("timeout 600s"), "{script}");
    }

    #[test]
    fn load_balancer_addresses_are_keys_of_their_own() {
        let mut p = port(
            "default/lb:",
            "10.96.0.40",
            &["10.244.0.2:8080"],
            Some(30100),
        );
        p.external_ips = vec!["10.244.7.1".parse().unwrap()];
        let r = Ruleset::build("t", &[p]);
        assert_eq!(
            r.service_ips[&("10.244.7.1".parse().unwrap(), Protocol::Tcp, 80)],
            "pick-ext-tcp-1"
        );
        assert_eq!(
            r.endpoints[&("10.244.7.1".parse().unwrap(), Protocol::Tcp, 80, 0)],
            ("10.244.0.2".parse().unwrap(), 8080)
        );
        assert!(r
            .diff(None)
            .contains("add rule ip t pick-ext-tcp-1 jump mark-for-masquerade"));
    }

    #[test]
    fn ports_without_endpoints_are_rejected_not_forwarded() {
        let r = Ruleset::build(
            "t",
            &[port("default/idle:", "10.96.0.30", &[], Some(30090))],
        );
        assert!(r.chains.is_empty() && r.service_ips.is_empty() && r.endpoints.is_empty());
        assert_eq!(r.no_endpoints.len(), 1);
        assert_eq!(r.no_endpoint_node_ports.len(), 1);
        assert!(r.diff(None).contains(
            "add element ip t no-endpoint-nodeports { tcp . 30090 : goto reject-chain }"
        ));
    }
}
