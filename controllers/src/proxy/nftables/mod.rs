//! The nftables proxy: ClusterIPs and NodePorts translated by the kernel (DNAT to a ready endpoint
//! picked at random), the way kube-proxy's nftables mode does it. No byte passes through user
//! space, so a connection through a ClusterIP costs what a direct one costs.
//!
//! - One private table per proxy ([`ruleset`] shows its layout), so nothing else on the host is
//!   touched and removing it removes everything.
//! - Every sync is one `nft -f -` transaction holding only what changed since the last one
//!   ([`Ruleset::diff`]); the first (and any after a failure) replaces the whole table, which is
//!   also how a crashed predecessor's table is replaced.
//! - A Service port whose endpoints listen on loopback (in `skiff up` the API server behind the
//!   `kubernetes` Service and the cluster DNS behind `kube-dns`) cannot be reached by DNAT from a
//!   pod: the kernel drops a routed packet to 127.0.0.1 as a martian, and lifting that
//!   (`route_localnet`) is the hole of CVE-2020-8558. Those ports are served by the
//!   [`userspace`](super::userspace) proxy instead, at the same ClusterIP.
//! - Hosts where Docker set the `FORWARD` policy to drop would drop a pod's connection to a
//!   ClusterIP once it is translated to another pod; [`Netfilter::allow_forwarding`] then inserts
//!   one iptables rule accepting translated connections (`-m conntrack --ctstate DNAT`, with a
//!   comment naming the table), and removes it on cleanup. iptables owns that chain, so the rule
//!   goes through `iptables`, not nft.
//!
//! - UDP flows tracked before a change keep their translation until conntrack forgets them; after
//!   each sync the proxy deletes the stale ones ([`conntrack`](super::conntrack), `conntrack -D`, as
//!   kube-proxy does).

pub mod ruleset;

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;

use async_trait::async_trait;
use tokio::sync::Mutex;

pub use ruleset::Ruleset;

use super::conntrack::{stale_flows, StaleFlow};
use super::model::{ProxiedPort, ProxyState};
use super::userspace::UserspaceProxy;
use super::{Proxy, ProxyError};

/// The kernel's packet filter as the nftables proxy uses it (so its logic is tested without root).
#[async_trait]
pub trait Netfilter: Send + Sync + 'static {
    /// Applies an nft script as one transaction.
    async fn apply(&self, script: String) -> Result<(), ProxyError>;
    /// Makes sure (or, with `false`, no longer) a `FORWARD` policy of drop lets translated
    /// connections through; `tag` names the rule.
    async fn allow_forwarding(&self, tag: &str, allow: bool) -> Result<(), ProxyError>;
    /// Deletes the conntrack entries of stale UDP flows ([`crate::proxy::conntrack`]).
    async fn forget_flows(&self, flows: &[StaleFlow]) -> Result<(), ProxyError>;
}

/// The real thing: the `nft` program and `iptables`.
#[derive(Debug, Default)]
pub struct Kernel;

impl Kernel {
    /// Whether `nft` runs here and may change the ruleset (root, nft >= 1.0).
    pub async fn available() -> bool {
        tokio::process::Command::new("nft")
            .args(["list", "tables"])
            .output()
            .await
            .is_ok_and(|o| o.status.success())
    }
}

/// The iptables rule (after `-I`, `-C` or `-D`) that lets translated connections through a
/// `FORWARD` policy of drop; `tag` is its comment.
///
/// ```
/// let rule = skiff_controllers::proxy::nftables::forward_rule("skiff t services");
/// assert_eq!(rule.join(" "), "FORWARD -m conntrack --ctstate DNAT -m comment --comment skiff t services -j ACCEPT");
/// ```
pub fn forward_rule(tag: &str) -> [&str; 11] {
    [
        "FORWARD",
        "-m",
        "conntrack",
        "--ctstate",
        "DNAT",
        "-m",
        "comment",
        "--comment",
        tag,
        "-j",
        "ACCEPT",
    ]
}

/// The iptables comment of the forwarding rule of the proxy owning `table`.
pub fn forward_tag(table: &str) -> String {
    format!("skiff {table} services")
}

async fn iptables(args: &[&str]) -> Result<std::process::Output, std::io::Error> {
    tokio::process::Command::new("iptables")
        .args(args)
        .output()
        .await
}

#[async_trait]
impl Netfilter for Kernel {
    async fn apply(&self, script: String) -> Result<(), ProxyError> {
        use tokio::io::AsyncWriteExt;
        let failed = |message: String| ProxyError::Command {
            command: "nft -f -".into(),
            message,
        };
        let mut child = tokio::process::Command::new("nft")
            .args(["-f", "-"])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .map_err(|e| failed(e.to_string()))?;
        if let Some(mut stdin) = child.stdin.take() {
            stdin
                .write_all(script.as_bytes())
                .await
                .map_err(|e| failed(e.to_string()))?;
        }
        let out = child
            .wait_with_output()
            .await
            .map_err(|e| failed(e.to_string()))?;
        if out.status.success() {
            Ok(())
        } else {
            Err(failed(
                String::from_utf8_lossy(&out.stderr).trim().to_string(),
            ))
        }
    }

    async fn allow_forwarding(&self, tag: &str, allow: bool) -> Result<(), ProxyError> {
        let rule = forward_rule(tag);
        let Ok(listed) = iptables(&["-S", "FORWARD"]).await else {
            return Ok(()); // no iptables: nothing set a FORWARD policy
        };
        let present = || async {
            let mut check = vec!["-C"];
            check.extend(rule);
            iptables(&check).await.is_ok_and(|o| o.status.success())
        };
        if allow {
            let drops = String::from_utf8_lossy(&listed.stdout)
                .lines()
                .any(|l| l.trim() == "-P FORWARD DROP");
            if !drops || present().await {
                return Ok(());
            }
            let mut insert = vec!["-I"];
            insert.extend(rule);
            let command = format!("iptables {}", insert.join(" "));
            let out = iptables(&insert).await.map_err(|e| ProxyError::Command {
                command: command.clone(),
                message: e.to_string(),
            })?;
            if !out.status.success() {
                return Err(ProxyError::Command {
                    command,
                    message: String::from_utf8_lossy(&out.stderr).trim().to_string(),
                });
            }
        } else {
            let mut delete = vec!["-D"];
            delete.extend(rule);
            while present().await {
                if !iptables(&delete).await.is_ok_and(|o| o.status.success()) {
                    break;
                }
            }
        }
        Ok(())
    }

    async fn forget_flows(&self, flows: &[StaleFlow]) -> Result<(), ProxyError> {
        let mut result = Ok(());
        for flow in flows {
            let args = flow.args();
            let command = format!("conntrack {}", args.join(" "));
            match tokio::process::Command::new("conntrack")
                .args(&args)
                .output()
                .await
            {
                // No entry matched: conntrack says so and exits 1; that is no failure.
                Ok(out)
                    if out.status.success()
                        || String::from_utf8_lossy(&out.stderr).contains("0 flow entries") => {}
                Ok(out) => {
                    result = Err(ProxyError::Command {
                        command,
                        message: String::from_utf8_lossy(&out.stderr).trim().to_string(),
                    })
                }
                Err(e) => {
                    return Err(ProxyError::Command {
                        command,
                        message: format!("{e} (the conntrack program: Debian's conntrack package)"),
                    })
                }
            }
        }
        result
    }
}

/// The nftables proxy. See the [module docs](self).
pub struct NftablesProxy {
    table: String,
    netfilter: Arc<dyn Netfilter>,
    loopback: UserspaceProxy,
    applied: Mutex<Option<Applied>>,
}

/// What the kernel holds: the ports it forwards (sorted by name and protocol), the pick chains
/// its skeleton has, and how many ports name each endpoint address (its hairpin element goes with
/// the last).
struct Applied {
    ports: Vec<ProxiedPort>,
    picks: usize,
    hairpin: BTreeMap<Ipv4Addr, usize>,
}

fn endpoint_ips(port: &ProxiedPort) -> impl Iterator<Item = Ipv4Addr> + '_ {
    port.endpoints.iter().filter_map(|e| match e.ip() {
        IpAddr::V4(ip) => Some(ip),
        IpAddr::V6(_) => None,
    })
}

impl Applied {
    /// The whole table for `ports`, replacing what is there.
    fn full(table: &str, ports: Vec<ProxiedPort>) -> (String, Applied) {
        let rules = Ruleset::build(table, &ports);
        let mut hairpin = BTreeMap::new();
        for ip in ports.iter().flat_map(endpoint_ips) {
            *hairpin.entry(ip).or_insert(0) += 1;
        }
        let script = rules.diff(None);
        let picks = rules.picks;
        (
            script,
            Applied {
                ports,
                picks,
                hairpin,
            },
        )
    }

    /// The script for going to `ports`: the rules of the ports that changed only, diffed against
    /// what they were. None when a port needs more pick chains than the table has.
    fn update(&mut self, table: &str, ports: &[ProxiedPort]) -> Option<String> {
        let (removed, added) = ruleset::sorted_changes(self.ports.iter(), ports.iter(), |p| {
            (p.name.as_str(), p.protocol)
        });
        let removed: Vec<ProxiedPort> = removed.into_iter().cloned().collect();
        let added: Vec<ProxiedPort> = added.into_iter().cloned().collect();
        let mut before = Ruleset::build(table, &removed);
        let mut after = Ruleset::build(table, &added);
        if after.picks > self.picks {
            return None;
        }
        before.picks = self.picks;
        after.picks = self.picks;
        // Hairpin elements by reference count: added with an address's first port, removed with
        // its last.
        before.hairpin.clear();
        after.hairpin.clear();
        for ip in removed.iter().flat_map(endpoint_ips) {
            if let Some(n) = self.hairpin.get_mut(&ip) {
                *n -= 1;
                if *n == 0 {
                    self.hairpin.remove(&ip);
                    before.hairpin.insert(ip);
                }
            }
        }
        for ip in added.iter().flat_map(endpoint_ips) {
            let n = self.hairpin.entry(ip).or_insert(0);
            *n += 1;
            if *n == 1 {
                after.hairpin.insert(ip);
            }
        }
        // An address that left one port and joined another in this change stays.
        let both: Vec<Ipv4Addr> = before
            .hairpin
            .intersection(&after.hairpin)
            .copied()
            .collect();
        for ip in both {
            before.hairpin.remove(&ip);
            after.hairpin.remove(&ip);
        }
        self.ports = ports.to_vec();
        Some(after.diff(Some(&before)))
    }
}

impl NftablesProxy {
    /// A proxy programming table `table` through `netfilter`, serving loopback endpoints with
    /// `loopback`.
    ///
    /// ```no_run
    /// use std::sync::Arc;
    /// use skiff_controllers::proxy::nftables::{Kernel, NftablesProxy};
    /// use skiff_controllers::proxy::{userspace::UserspaceProxy, LoopbackAddresses};
    ///
    /// let loopback = UserspaceProxy::new(Arc::new(LoopbackAddresses::new("skiff-svc0")));
    /// let proxy = NftablesProxy::new("skiff-proxy0", Arc::new(Kernel), loopback);
    /// assert_eq!(proxy.table(), "skiff-proxy0");
    /// ```
    pub fn new(table: &str, netfilter: Arc<dyn Netfilter>, loopback: UserspaceProxy) -> Self {
        Self {
            table: table.to_string(),
            netfilter,
            loopback,
            applied: Mutex::new(None),
        }
    }

    /// The table this proxy owns.
    pub fn table(&self) -> &str {
        &self.table
    }

    /// The iptables comment of this proxy's forwarding rule.
    fn tag(&self) -> String {
        forward_tag(&self.table)
    }
}

/// Whether the port's endpoints are on loopback (served by user space, see the module docs).
fn on_loopback(port: &ProxiedPort) -> bool {
    port.endpoints.iter().any(|e| match e.ip() {
        IpAddr::V4(ip) => ip.is_loopback(),
        IpAddr::V6(ip) => ip.is_loopback(),
    })
}

#[async_trait]
impl Proxy for NftablesProxy {
    fn mode(&self) -> &'static str {
        "nftables"
    }

    async fn sync(&self, state: &ProxyState) -> Result<(), ProxyError> {
        let (local, mut kernel): (Vec<_>, Vec<_>) =
            state.ports.iter().cloned().partition(on_loopback);
        kernel.sort_by(|a, b| (&a.name, a.protocol).cmp(&(&b.name, b.protocol)));
        let mut applied = self.applied.lock().await;
        let udp = |ports: &[ProxiedPort]| -> Vec<ProxiedPort> {
            ports
                .iter()
                .filter(|p| p.protocol == crate::proxy::model::Protocol::Udp)
                .cloned()
                .collect()
        };
        let udp_before = applied.as_ref().map(|a| udp(&a.ports)).unwrap_or_default();
        let udp_after = udp(&kernel);
        let script = match applied.as_mut() {
            Some(prev) => match prev.update(&self.table, &kernel) {
                Some(script) => script,
                None => {
                    // More endpoints than the table's pick chains serve: a new table.
                    let (script, fresh) = Applied::full(&self.table, kernel);
                    *prev = fresh;
                    script
                }
            },
            None => {
                self.netfilter.allow_forwarding(&self.tag(), true).await?;
                let (script, fresh) = Applied::full(&self.table, kernel);
                *applied = Some(fresh);
                script
            }
        };
        if !script.is_empty() {
            let started = std::time::Instant::now();
            let count = script.lines().count();
            if let Err(e) = self.netfilter.apply(script).await {
                // Unknown kernel state: the next sync replaces the whole table.
                *applied = None;
                return Err(e);
            }
            tracing::debug!(table = %self.table, commands = count, elapsed = ?started.elapsed(), "nftables: applied");
        }
        drop(applied);
        // The rules are in place: UDP flows still bound to gone endpoints are forgotten. A failure
        // here leaves them to idle out; the rules stand, so the sync counts as done.
        let stale = stale_flows(&udp_before, &udp_after);
        if !stale.is_empty() {
            if let Err(e) = self.netfilter.forget_flows(&stale).await {
                tracing::warn!(error = %e, "nftables: stale UDP flows not cleared");
            }
        }
        self.loopback.sync(&ProxyState { ports: local }).await
    }

    async fn cleanup(&self) -> Result<(), ProxyError> {
        let mut applied = self.applied.lock().await;
        *applied = None;
        let table = self.netfilter.apply(ruleset::teardown(&self.table)).await;
        let forwarding = self.netfilter.allow_forwarding(&self.tag(), false).await;
        let loopback = self.loopback.cleanup().await;
        table.and(forwarding).and(loopback)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::proxy::model::Protocol;
    use crate::proxy::Addresses;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Mutex as StdMutex;

    #[derive(Default)]
    struct Recorder {
        documents: StdMutex<Vec<String>>,
        forwarding: StdMutex<Vec<bool>>,
        flows: StdMutex<Vec<StaleFlow>>,
        fail: AtomicBool,
    }

    #[async_trait]
    impl Netfilter for Recorder {
        async fn apply(&self, script: String) -> Result<(), ProxyError> {
            self.documents.lock().unwrap().push(script);
            if self.fail.swap(false, Ordering::SeqCst) {
                return Err(ProxyError::Command {
                    command: "nft".into(),
                    message: "refused".into(),
                });
            }
            Ok(())
        }
        async fn allow_forwarding(&self, _: &str, allow: bool) -> Result<(), ProxyError> {
            self.forwarding.lock().unwrap().push(allow);
            Ok(())
        }
        async fn forget_flows(&self, flows: &[StaleFlow]) -> Result<(), ProxyError> {
            self.flows.lock().unwrap().extend_from_slice(flows);
            Ok(())
        }
    }

    #[derive(Default)]
    struct NoAddresses(StdMutex<Vec<Ipv4Addr>>);

    #[async_trait]
    impl Addresses for NoAddresses {
        async fn sync(&self, ips: &[Ipv4Addr]) -> Result<(), ProxyError> {
            *self.0.lock().unwrap() = ips.to_vec();
            Ok(())
        }
        async fn cleanup(&self) -> Result<(), ProxyError> {
            self.0.lock().unwrap().clear();
            Ok(())
        }
    }

    fn port(name: &str, ip: &str, ep: &str) -> ProxiedPort {
        ProxiedPort {
            name: name.into(),
            cluster_ip: ip.parse().unwrap(),
            port: 18_080,
            protocol: Protocol::Tcp,
            node_port: None,
            external_ips: vec![],
            endpoints: vec![ep.parse().unwrap()],
            affinity: None,
        }
    }

    #[tokio::test]
    async fn kernel_ports_become_rules_loopback_ones_listeners_and_failures_rebuild() {
        let nf = Arc::new(Recorder::default());
        let addresses = Arc::new(NoAddresses::default());
        let proxy = NftablesProxy::new("t", nf.clone(), UserspaceProxy::new(addresses.clone()));
        let state = ProxyState {
            ports: vec![
                port("default/web:", "10.96.0.20", "10.244.0.2:8080"),
                ProxiedPort {
                    port: 0,
                    ..port("default/kubernetes:https", "127.0.0.1", "127.0.0.1:6443")
                },
            ],
        };
        proxy.sync(&state).await.unwrap();
        let docs = nf.documents.lock().unwrap().clone();
        assert_eq!(docs.len(), 1);
        assert!(
            docs[0].contains("10.96.0.20 . tcp . 18080 : goto pick-tcp-1"),
            "{}",
            docs[0]
        );
        assert!(
            !docs[0].contains("kubernetes"),
            "loopback endpoints stay out of the table"
        );
        assert_eq!(
            *addresses.0.lock().unwrap(),
            ["127.0.0.1".parse::<Ipv4Addr>().unwrap()]
        );
        assert_eq!(*nf.forwarding.lock().unwrap(), [true]);
        // Nothing changed: nothing sent.
        proxy.sync(&state).await.unwrap();
        assert_eq!(nf.documents.lock().unwrap().len(), 1);
        // One endpoint changes: only its elements are sent.
        let mut moved = state.clone();
        moved.ports[0].endpoints = vec!["10.244.0.7:8080".parse().unwrap()];
        proxy.sync(&moved).await.unwrap();
        let last = nf.documents.lock().unwrap().last().cloned().unwrap();
        assert_eq!(
            last,
            "delete element ip t endpoints-tcp { 10.96.0.20 . 18080 . 0 }
add element ip t endpoints-tcp { 10.96.0.20 . 18080 . 0 : 10.244.0.7 . 8080 }
delete element ip t hairpin { 10.244.0.2 . 10.244.0.2 }
add element ip t hairpin { 10.244.0.7 . 10.244.0.7 }
"
        );
        // A failed transaction: the next sync starts from a fresh table.
        let mut changed = state.clone();
        changed.ports[0].endpoints = vec!["10.244.0.3:8080".parse().unwrap()];
        nf.fail.store(true, Ordering::SeqCst);
        assert!(proxy.sync(&changed).await.is_err());
        proxy.sync(&changed).await.unwrap();
        let last = nf.documents.lock().unwrap().last().cloned().unwrap();
        assert!(
            last.starts_with("add table ip t\ndelete table ip t\n"),
            "{last}"
        );
        proxy.cleanup().await.unwrap();
        assert_eq!(nf.forwarding.lock().unwrap().last(), Some(&false));
    }

    #[tokio::test]
    async fn udp_flows_of_a_removed_endpoint_are_forgotten_after_the_rules_change() {
        let nf = Arc::new(Recorder::default());
        let addresses = Arc::new(NoAddresses::default());
        let proxy = NftablesProxy::new("t", nf.clone(), UserspaceProxy::new(addresses));
        let mut dns = port("kube-system/dns:dns", "10.96.0.10", "10.244.0.2:5353");
        dns.protocol = Protocol::Udp;
        dns.endpoints.push("10.244.0.3:5353".parse().unwrap());
        let web = port("default/web:", "10.96.0.20", "10.244.0.9:8080");
        proxy
            .sync(&ProxyState {
                ports: vec![dns.clone(), web.clone()],
            })
            .await
            .unwrap();
        // The first sync: whatever reached the new UDP port before its rule is forgotten.
        let first = std::mem::take(&mut *nf.flows.lock().unwrap());
        assert_eq!(
            first,
            [StaleFlow {
                dst: Some("10.96.0.10".parse().unwrap()),
                port: 18_080,
                nat: None
            }]
        );
        // One UDP endpoint goes (and the TCP one): the UDP one's flows, after the new rules.
        let mut fewer = dns.clone();
        fewer.endpoints.remove(0);
        let mut moved = web;
        moved.endpoints = vec!["10.244.0.8:8080".parse().unwrap()];
        proxy
            .sync(&ProxyState {
                ports: vec![fewer, moved],
            })
            .await
            .unwrap();
        assert_eq!(
            *nf.flows.lock().unwrap(),
            [StaleFlow {
                dst: Some("10.96.0.10".parse().unwrap()),
                port: 18_080,
                nat: Some("10.244.0.2".parse().unwrap())
            }]
        );
    }

    /// The documents are accepted by the real `nft` (root and nftables needed).
    #[tokio::test]
    async fn the_kernel_accepts_the_table_and_its_updates() {
        if !Kernel::available().await {
            assert!(
                std::env::var("SKIFF_REQUIRE_ENGINES").as_deref() != Ok("1"),
                "nft is required (SKIFF_REQUIRE_ENGINES=1)"
            );
            eprintln!("skipped: nft unavailable (root and the nftables package needed)");
            return;
        }
        let table = format!("skiff-selftest{}", std::process::id());
        let mut web = port("default/web:http", "10.250.0.20", "10.250.1.2:8080");
        web.node_port = Some(31_999);
        let mut sticky = port("default/sticky:", "10.250.0.21", "10.250.1.3:8080");
        sticky.affinity = Some(std::time::Duration::from_secs(60));
        let idle = ProxiedPort {
            endpoints: vec![],
            ..port("default/idle:", "10.250.0.22", "10.250.1.4:1")
        };
        let first = Ruleset::build(&table, &[web.clone(), sticky, idle]);
        let kernel = Kernel;
        kernel.apply(first.diff(None)).await.unwrap();
        web.endpoints.push("10.250.1.5:8080".parse().unwrap());
        let second = Ruleset::build(&table, &[web]);
        kernel.apply(second.diff(Some(&first))).await.unwrap();
        let listed = tokio::process::Command::new("nft")
            .args(["list", "table", "ip", &table])
            .output()
            .await
            .unwrap();
        let listed = String::from_utf8_lossy(&listed.stdout).to_string();
        kernel.apply(ruleset::teardown(&table)).await.unwrap();
        assert!(
            listed.contains("10.250.0.20 . 18080 . 1 : 10.250.1.5 . 8080")
                && listed.contains("numgen random mod 2 map @endpoints-tcp"),
            "{listed}"
        );
        assert!(
            !listed.contains("sticky") && !listed.contains("10.250.0.22"),
            "{listed}"
        );
        assert!(
            listed.contains("tcp . 31999 : goto pick-np-tcp-2"),
            "{listed}"
        );
        let tables = tokio::process::Command::new("nft")
            .args(["list", "tables"])
            .output()
            .await
            .unwrap();
        assert!(!String::from_utf8_lossy(&tables.stdout).contains(&table));
    }
}
