//! What the API tests share: a Skiff API server over a memory store on a free loopback port.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::net::SocketAddr;
use std::sync::Arc;

use skiff_api::ApiServer;
use skiff_core::client::InProcessClient;
use skiff_core::codec::Scheme;
use skiff_core::shutdown::{Shutdown, ShutdownTrigger};
use skiff_core::store::MemoryStore;

/// A running server and what stops it (dropping the trigger).
pub struct Served {
    pub addr: SocketAddr,
    pub stop: ShutdownTrigger,
}

impl Served {
    /// `http://<addr>`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }
}

/// Serves `server` (plain HTTP, no tokens) until the returned trigger is dropped.
pub async fn serve(server: Arc<ApiServer>) -> Served {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, shutdown) = Shutdown::new();
    tokio::spawn(server.serve(listener, shutdown));
    skiff_api::tls::install_crypto_provider();
    Served { addr, stop }
}

/// A server of the built-in kinds over a fresh memory store, with the system namespaces.
pub fn builtin() -> Arc<ApiServer> {
    ApiServer::new(
        InProcessClient::shared(Arc::new(MemoryStore::new())),
        Scheme::builtin(),
    )
}

/// [`builtin`], with its namespaces, served.
pub async fn start() -> Served {
    let server = builtin();
    server.ensure_namespaces().await.unwrap();
    serve(server).await
}
