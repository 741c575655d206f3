//! The CNI-shaped network seam: give a pod's network namespace an address, take it back.

use std::path::Path;

use async_trait::async_trait;

use super::RuntimeError;

/// The pod a network call is about.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PodNetworkRef {
    /// Pod namespace.
    pub namespace: String,
    /// Pod name.
    pub name: String,
    /// The sandbox id (the key addresses are held under).
    pub sandbox_id: String,
}

/// The address a pod got.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IpConfig {
    /// The pod's IP.
    pub ip: std::net::IpAddr,
    /// Prefix length of its subnet.
    pub prefix_len: u8,
    /// Its default gateway.
    pub gateway: Option<std::net::IpAddr>,
}

/// A pod network plugin, CNI-shaped: `add` wires a network namespace and returns the pod's address,
/// `del` undoes it (and succeeds when there is nothing to undo), `check` verifies it is still in place.
#[async_trait]
pub trait Network: Send + Sync + 'static {
    /// Connects the namespace at `netns` (a path such as `/run/netns/NAME`) and assigns an address.
    async fn add(&self, pod: &PodNetworkRef, netns: &Path) -> Result<IpConfig, RuntimeError>;
    /// Disconnects it and releases the address.
    async fn del(&self, pod: &PodNetworkRef, netns: &Path) -> Result<(), RuntimeError>;
    /// Verifies the pod still has its address and link.
    async fn check(&self, pod: &PodNetworkRef, netns: &Path) -> Result<(), RuntimeError>;
}
