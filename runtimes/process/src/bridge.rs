//! The bridge network: a Linux bridge (`skiff0`) on the node's pod subnet, a veth pair per pod with
//! one end in the pod's network namespace as `eth0`, an address from a persisted allocator and a
//! default route through the bridge. Links are made with iproute2 (`ip -batch`: one process per side).
//! Bridge ports are in hairpin mode (the kubelet's `--hairpin-mode=hairpin-veth`): a pod that reaches
//! itself through its Service's ClusterIP gets its own packet back out of the port it came in by.
//!
//! Addresses are handed out round-robin, after the last one given (as CNI's host-local IPAM does),
//! not lowest-free: a new pod given a just-released address would be unreachable from the node
//! until the node's ARP entry for it, still naming the old pod's interface, went stale and failed
//! (tens of seconds). A released address's neighbour entry is deleted too.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr};
use std::path::{Path, PathBuf};

use async_trait::async_trait;
use skiff_core::runtime::{IpConfig, Network, PodNetworkRef, RuntimeError};
use tokio::io::AsyncWriteExt;
use tokio::sync::Mutex;

use crate::state::{read_json, write_json};

/// A `/24` pod subnet on a bridge. See the [module docs](self).
#[derive(Debug)]
pub struct BridgeNetwork {
    bridge: String,
    subnet: [u8; 3],
    ipam_file: PathBuf,
    lock: Mutex<()>,
}

fn net_err(e: impl std::fmt::Display) -> RuntimeError {
    RuntimeError::Network(e.to_string())
}

/// Runs `ip [-n NS] -batch -` with `commands`; `-force` keeps going past a failing line when asked.
async fn ip_batch(netns: Option<&str>, commands: &str, force: bool) -> Result<(), RuntimeError> {
    let mut cmd = tokio::process::Command::new("ip");
    if let Some(ns) = netns {
        cmd.args(["-n", ns]);
    }
    if force {
        cmd.arg("-force");
    }
    cmd.args(["-batch", "-"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped());
    let mut child = cmd
        .spawn()
        .map_err(|e| net_err(format!("cannot run ip (iproute2): {e}")))?;
    if let Some(mut stdin) = child.stdin.take() {
        stdin
            .write_all(commands.as_bytes())
            .await
            .map_err(net_err)?;
    }
    let out = child.wait_with_output().await.map_err(net_err)?;
    if out.status.success() || force {
        Ok(())
    } else {
        Err(net_err(format!(
            "ip {}: {}",
            commands.lines().next().unwrap_or(""),
            String::from_utf8_lossy(&out.stderr).trim()
        )))
    }
}

impl BridgeNetwork {
    /// A network on bridge `bridge` with subnet `a.b.c.0/24` (gateway `.1` on the bridge); addresses
    /// are recorded in `ipam_file`.
    pub fn new(bridge: &str, subnet: [u8; 3], ipam_file: &Path) -> Self {
        Self {
            bridge: bridge.to_string(),
            subnet,
            ipam_file: ipam_file.to_path_buf(),
            lock: Mutex::new(()),
        }
    }

    fn gateway(&self) -> Ipv4Addr {
        let [a, b, c] = self.subnet;
        Ipv4Addr::new(a, b, c, 1)
    }

    fn host_link(sandbox_id: &str) -> String {
        format!("vsk{}", &sandbox_id[..sandbox_id.len().min(11)])
    }

    async fn ensure_bridge(&self) -> Result<(), RuntimeError> {
        let exists = Path::new("/sys/class/net").join(&self.bridge).exists();
        if !exists {
            ip_batch(
                None,
                &format!(
                    "link add {b} type bridge\naddr add {g}/24 dev {b}\nlink set {b} up\n",
                    b = self.bridge,
                    g = self.gateway()
                ),
                true,
            )
            .await?;
        }
        Ok(())
    }

    /// The allocator's record of the last address handed out (beside its table).
    fn last_file(&self) -> PathBuf {
        self.ipam_file.with_extension("last.json")
    }

    /// Takes a free address for `owner` from the allocator file.
    fn allocate(&self, owner: &str) -> Result<Ipv4Addr, RuntimeError> {
        let mut table: BTreeMap<u8, String> = read_json(&self.ipam_file)
            .map_err(net_err)?
            .unwrap_or_default();
        let [a, b, c] = self.subnet;
        if let Some((host, _)) = table.iter().find(|(_, o)| *o == owner) {
            return Ok(Ipv4Addr::new(a, b, c, *host));
        }
        let last: Option<u8> = read_json(&self.last_file()).map_err(net_err)?;
        let host = next_free(&table, last)
            .ok_or_else(|| net_err("the node's pod subnet is full (253 pods)"))?;
        table.insert(host, owner.to_string());
        write_json(&self.ipam_file, &table).map_err(net_err)?;
        write_json(&self.last_file(), &host).map_err(net_err)?;
        Ok(Ipv4Addr::new(a, b, c, host))
    }

    fn release(&self, owner: &str) -> Result<(), RuntimeError> {
        let mut table: BTreeMap<u8, String> = read_json(&self.ipam_file)
            .map_err(net_err)?
            .unwrap_or_default();
        table.retain(|_, o| o != owner);
        write_json(&self.ipam_file, &table).map_err(net_err)
    }
}

/// The first free host number after `last` (wrapping from 254 to 2), or `None` when all are taken.
fn next_free(table: &BTreeMap<u8, String>, last: Option<u8>) -> Option<u8> {
    let start = last.map_or(2, |l| if l >= 254 { 2 } else { l.max(1) + 1 });
    (start..=254)
        .chain(2..start)
        .find(|h| !table.contains_key(h))
}

fn ns_name(netns: &Path) -> Result<&str, RuntimeError> {
    netns
        .file_name()
        .and_then(|n| n.to_str())
        .ok_or_else(|| net_err(format!("bad network namespace path {}", netns.display())))
}

#[async_trait]
impl Network for BridgeNetwork {
    async fn add(&self, pod: &PodNetworkRef, netns: &Path) -> Result<IpConfig, RuntimeError> {
        let _guard = self.lock.lock().await;
        self.ensure_bridge().await?;
        let ip = self.allocate(&pod.sandbox_id)?;
        let ns = ns_name(netns)?;
        let host = Self::host_link(&pod.sandbox_id);
        let peer = format!("vp{}", &pod.sandbox_id[..pod.sandbox_id.len().min(12)]);
        let wired = async {
            ip_batch(
                None,
                &format!(
                    "link add {host} type veth peer name {peer}\nlink set {peer} netns {ns}\nlink set {host} master {b}\nlink set {host} type bridge_slave hairpin on\nlink set {host} up\n",
                    b = self.bridge
                ),
                false,
            )
            .await?;
            ip_batch(
                Some(ns),
                &format!(
                    "link set {peer} name eth0\naddr add {ip}/24 dev eth0\nlink set eth0 up\nlink set lo up\nroute add default via {g}\n",
                    g = self.gateway()
                ),
                false,
            )
            .await
        }
        .await;
        if let Err(e) = wired {
            let _ = ip_batch(None, &format!("link del {host}\n"), true).await;
            let _ = self.release(&pod.sandbox_id);
            return Err(e);
        }
        Ok(IpConfig {
            ip: IpAddr::V4(ip),
            prefix_len: 24,
            gateway: Some(IpAddr::V4(self.gateway())),
        })
    }

    async fn del(&self, pod: &PodNetworkRef, _netns: &Path) -> Result<(), RuntimeError> {
        let _guard = self.lock.lock().await;
        let host = Self::host_link(&pod.sandbox_id);
        if Path::new("/sys/class/net").join(&host).exists() {
            ip_batch(None, &format!("link del {host}\n"), true).await?;
        }
        let table: BTreeMap<u8, String> = read_json(&self.ipam_file)
            .map_err(net_err)?
            .unwrap_or_default();
        if let Some((h, _)) = table.iter().find(|(_, o)| **o == pod.sandbox_id) {
            let [a, b, c] = self.subnet;
            let ip = Ipv4Addr::new(a, b, c, *h);
            // Best effort: the entry may not exist.
            let _ = ip_batch(None, &format!("neigh del {ip} dev {}\n", self.bridge), true).await;
        }
        self.release(&pod.sandbox_id)
    }

    async fn check(&self, pod: &PodNetworkRef, _netns: &Path) -> Result<(), RuntimeError> {
        let host = Self::host_link(&pod.sandbox_id);
        if Path::new("/sys/class/net").join(&host).exists() {
            Ok(())
        } else {
            Err(net_err(format!(
                "link {host} of pod {}/{} is gone",
                pod.namespace, pod.name
            )))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_go_round_robin_so_a_released_one_is_not_reused_at_once() {
        let mut table = BTreeMap::new();
        assert_eq!(next_free(&table, None), Some(2));
        table.insert(2, "a".to_string());
        table.insert(3, "b".to_string());
        // .2 was released after .4 was handed out: .5 comes next, not .2.
        table.remove(&2);
        assert_eq!(next_free(&table, Some(4)), Some(5));
        // At the end of the range it wraps, skipping what is taken.
        assert_eq!(next_free(&table, Some(254)), Some(2));
        table.insert(2, "c".to_string());
        assert_eq!(next_free(&table, Some(254)), Some(4));
        let full: BTreeMap<u8, String> = (2..=254u8).map(|h| (h, "x".to_string())).collect();
        assert_eq!(next_free(&full, Some(7)), None);
    }
}
