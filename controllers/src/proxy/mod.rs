//! The service proxy on every node: Services' ClusterIPs and NodePorts forwarded to their ready
//! endpoints. A controller like the others: informers in (Services, EndpointSlices), rules out.
//!
//! ```text
//! Informer<Service> ──┐
//!                     ├─ any change ─► model::build (pure) ─► Proxy::sync(state) ─► listeners / rules
//! Informer<EndpointSlice> ┘            one ProxiedPort per Service port, ready endpoints
//! ```
//!
//! Changes are coalesced: a burst of events makes one sync of the latest state, as kube-proxy's
//! bounded-frequency runner does. The data path is a [`Proxy`] backend chosen by `--proxy-mode`:
//! [`nftables`] (kernel DNAT from one private table; the default where root and `nft` are available)
//! or [`userspace`] (tokio listeners). Backends see the kernel only through traits
//! ([`Addresses`]: the labelled loopback addresses that hold userspace ClusterIPs;
//! [`nftables::Netfilter`]: `nft` transactions), so their logic is tested without root.
//!
//! On start the proxy replaces what a crashed predecessor left (its labelled addresses are flushed);
//! on stop it removes its listeners and addresses.

pub mod addresses;
pub mod conntrack;
pub mod model;
pub mod nftables;
pub mod userspace;

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use skiff_core::informer::{FnHandler, Informer};
use skiff_core::kinds::{EndpointSlice, Service};
use skiff_core::shutdown::Shutdown;
use tokio::sync::Notify;

pub use addresses::{Addresses, LoopbackAddresses};
pub use model::{ProxiedPort, ProxyState};

/// Why the proxy could not program its data path.
#[derive(Debug, thiserror::Error)]
pub enum ProxyError {
    /// A command that changes the kernel's state failed.
    #[error("{command}: {message}")]
    Command {
        /// The command line.
        command: String,
        /// What it said.
        message: String,
    },
    /// Listeners could not be opened (the address or port is taken).
    #[error("cannot listen: {0}")]
    Listen(String),
}

/// A data path for Services.
#[async_trait]
pub trait Proxy: Send + Sync + 'static {
    /// The `--proxy-mode` name.
    fn mode(&self) -> &'static str;
    /// Makes the data path forward exactly `state`.
    async fn sync(&self, state: &ProxyState) -> Result<(), ProxyError>;
    /// Removes everything the proxy made.
    async fn cleanup(&self) -> Result<(), ProxyError>;
}

/// How long a failed sync waits before it is tried again.
const RETRY: Duration = Duration::from_secs(1);

/// The proxy controller: feeds `backend` the state of the informers until `shutdown`, then cleans up.
pub async fn run(
    services: Arc<Informer<Service>>,
    slices: Arc<Informer<EndpointSlice>>,
    backend: Arc<dyn Proxy>,
    shutdown: Shutdown,
) {
    let changed = Arc::new(Notify::new());
    let n = changed.clone();
    services.add_handler(Arc::new(FnHandler(
        move |_: Option<&Arc<Service>>, _: Option<&Arc<Service>>| n.notify_one(),
    )));
    let n = changed.clone();
    slices.add_handler(Arc::new(FnHandler(
        move |_: Option<&Arc<EndpointSlice>>, _: Option<&Arc<EndpointSlice>>| n.notify_one(),
    )));
    services.start(shutdown.clone());
    slices.start(shutdown.clone());
    tokio::select! {
        _ = async { services.wait_for_sync().await; slices.wait_for_sync().await } => {}
        _ = shutdown.wait() => return,
    }
    // A predecessor's leftovers go before the first sync.
    if let Err(e) = backend.cleanup().await {
        tracing::warn!(mode = backend.mode(), error = %e, "proxy: cannot remove leftovers");
    }
    let mut last: Option<ProxyState> = None;
    loop {
        let state = model::build(&services.cache().list(), &slices.cache().list());
        if last.as_ref() != Some(&state) {
            match backend.sync(&state).await {
                Ok(()) => last = Some(state),
                Err(e @ ProxyError::Listen(_)) => {
                    // A taken address or port does not free itself: wait for the next change.
                    tracing::warn!(mode = backend.mode(), error = %e, "proxy: some ports are not served");
                    last = Some(state);
                }
                Err(e) => {
                    tracing::warn!(mode = backend.mode(), error = %e, "proxy sync failed; retrying");
                    last = None;
                    tokio::select! {
                        _ = tokio::time::sleep(RETRY) => continue,
                        _ = shutdown.wait() => break,
                    }
                }
            }
        }
        tokio::select! {
            _ = changed.notified() => {}
            _ = shutdown.wait() => break,
        }
    }
    if let Err(e) = backend.cleanup().await {
        tracing::warn!(mode = backend.mode(), error = %e, "proxy: cleanup on stop failed");
    }
}
