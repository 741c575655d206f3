//! Where the ClusterIPs live on a node: /32 addresses on the loopback interface under a label of
//! the proxy's own (`lo:skiff-svc0`), so the kernel delivers traffic to them locally, from the host
//! and from pods routed through it, and the proxy can find and remove exactly its own addresses
//! (`ip addr flush dev lo label lo:skiff-svc0`) after a crash.
//!
//! kube-proxy's IPVS mode uses a dummy interface for the same purpose; these machines' kernels
//! have no `dummy` module, and a labelled loopback address needs nothing but iproute2's `ip`
//! (which the process runtime's bridge uses too): `ip addr show dev lo` shows them.

use std::collections::BTreeSet;
use std::net::Ipv4Addr;
use std::sync::Mutex;

use async_trait::async_trait;

use super::ProxyError;

/// The node's ClusterIP addresses.
#[async_trait]
pub trait Addresses: Send + Sync + 'static {
    /// Holds exactly `ips`.
    async fn sync(&self, ips: &[Ipv4Addr]) -> Result<(), ProxyError>;
    /// Holds none.
    async fn cleanup(&self) -> Result<(), ProxyError>;
}

/// Labelled addresses on `lo`. See the [module docs](self).
pub struct LoopbackAddresses {
    label: String,
    held: Mutex<Option<BTreeSet<Ipv4Addr>>>,
}

async fn ip(args: &[&str]) -> Result<String, ProxyError> {
    let command = || format!("ip {}", args.join(" "));
    let out = tokio::process::Command::new("ip")
        .args(args)
        .output()
        .await
        .map_err(|e| ProxyError::Command {
            command: command(),
            message: e.to_string(),
        })?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(ProxyError::Command {
            command: command(),
            message: String::from_utf8_lossy(&out.stderr).trim().to_string(),
        })
    }
}

impl LoopbackAddresses {
    /// Addresses labelled `lo:<name>` (`name` at most 12 characters).
    pub fn new(name: &str) -> Self {
        Self {
            label: format!("lo:{name}"),
            held: Mutex::new(None),
        }
    }

    /// The label, e.g. `lo:skiff-svc0`.
    pub fn label(&self) -> &str {
        &self.label
    }

    fn held(&self) -> std::sync::MutexGuard<'_, Option<BTreeSet<Ipv4Addr>>> {
        self.held.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[async_trait]
impl Addresses for LoopbackAddresses {
    async fn sync(&self, ips: &[Ipv4Addr]) -> Result<(), ProxyError> {
        let wanted: BTreeSet<Ipv4Addr> = ips.iter().copied().collect();
        let known = self.held().clone();
        let held = match known {
            Some(h) => h,
            None => {
                ip(&["addr", "flush", "dev", "lo", "label", &self.label]).await?;
                BTreeSet::new()
            }
        };
        let mut now = held.clone();
        let mut result = Ok(());
        for addr in wanted.difference(&held) {
            let cidr = format!("{addr}/32");
            match ip(&["addr", "add", &cidr, "dev", "lo", "label", &self.label]).await {
                Ok(_) => {
                    now.insert(*addr);
                }
                // Ours already, or another node's on this host (the kernel delivers it locally either way).
                Err(ProxyError::Command { message, .. })
                    if message.contains("File exists") || message.contains("already assigned") =>
                {
                    now.insert(*addr);
                }
                Err(e) => {
                    result = Err(e);
                    break;
                }
            }
        }
        for addr in held.difference(&wanted) {
            let _ = ip(&["addr", "del", &format!("{addr}/32"), "dev", "lo"]).await;
            now.remove(addr);
        }
        *self.held() = Some(now);
        result
    }

    async fn cleanup(&self) -> Result<(), ProxyError> {
        *self.held() = None;
        ip(&["addr", "flush", "dev", "lo", "label", &self.label])
            .await
            .map(|_| ())
    }
}
