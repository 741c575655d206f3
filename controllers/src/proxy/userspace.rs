//! The userspace proxy: a tokio listener per Service port (on its ClusterIP, and on `0.0.0.0` at its
//! NodePort) that accepts each connection and copies bytes to an endpoint, the way kube-proxy's first
//! mode did. Portable and easy to watch (every connection is a log line at debug level); it costs a
//! copy through user space, which the nftables mode avoids.
//!
//! - TCP: round-robin over the ready endpoints (or the client's sticky one under ClientIP affinity),
//!   `copy_bidirectional`; a Service without endpoints resets the connection at once.
//! - UDP: one upstream socket per client address, replies relayed back, forgotten after 60 s idle.
//! - The ClusterIPs are local addresses ([`Addresses`]), so the kernel delivers traffic from the
//!   host and from pods (through their gateway) to the listeners.
//!
//! Changing a Service's endpoints swaps them under its running listener; only added or removed
//! ports open or close listeners.

use std::collections::HashMap;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use tokio::net::{TcpListener, TcpStream, UdpSocket};
use tokio::task::JoinHandle;

use super::model::{Protocol, ProxiedPort, ProxyState};
use super::{Addresses, Proxy, ProxyError};

/// Closes `stream` with a reset (SO_LINGER 0): the client learns at once that nobody serves it.
/// A zero linger never blocks on close, which is what tokio's deprecation warns about.
#[allow(deprecated)]
fn reset(stream: TcpStream) {
    let _ = stream.set_linger(Some(Duration::ZERO));
}

/// How long a connection to an endpoint may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);
/// Bytes copied per read in each direction (tokio's default of 8 KiB costs a third of the throughput).
const COPY_BUFFER: usize = 256 << 10;
/// How long an idle UDP flow is remembered.
const UDP_IDLE: Duration = Duration::from_secs(60);

/// Where a listener listens: (address, port, protocol).
type ListenKey = (SocketAddr, Protocol);

/// A UDP listener's flows: per client, its upstream socket, when it was last used and its endpoint.
type Flows = Arc<Mutex<HashMap<SocketAddr, (Arc<UdpSocket>, Instant, SocketAddr)>>>;

/// The endpoints of one Service port, shared with its listeners.
#[derive(Default)]
struct Backends {
    endpoints: RwLock<Vec<SocketAddr>>,
    affinity: RwLock<Option<Duration>>,
    next: AtomicUsize,
    sticky: Mutex<HashMap<std::net::IpAddr, (SocketAddr, Instant)>>,
}

impl Backends {
    /// Whether `ep` is still one of the endpoints.
    fn has(&self, ep: &SocketAddr) -> bool {
        self.endpoints
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .contains(ep)
    }

    /// The endpoint for a connection from `client`.
    fn pick(&self, client: SocketAddr) -> Option<SocketAddr> {
        let eps = self
            .endpoints
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        if eps.is_empty() {
            return None;
        }
        let affinity = *self.affinity.read().unwrap_or_else(|p| p.into_inner());
        if let Some(timeout) = affinity {
            let mut sticky = self.sticky.lock().unwrap_or_else(|p| p.into_inner());
            if let Some((ep, at)) = sticky.get(&client.ip()) {
                if at.elapsed() < timeout && eps.contains(ep) {
                    let ep = *ep;
                    sticky.insert(client.ip(), (ep, Instant::now()));
                    return Some(ep);
                }
            }
            let ep = eps[self.next.fetch_add(1, Ordering::Relaxed) % eps.len()];
            sticky.insert(client.ip(), (ep, Instant::now()));
            return Some(ep);
        }
        Some(eps[self.next.fetch_add(1, Ordering::Relaxed) % eps.len()])
    }
}

struct Listener {
    task: JoinHandle<()>,
    backends: Arc<Backends>,
}

impl Drop for Listener {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// The userspace proxy. See the [module docs](self).
pub struct UserspaceProxy {
    addresses: Arc<dyn Addresses>,
    listeners: Mutex<HashMap<ListenKey, Listener>>,
}

async fn serve_tcp(listener: TcpListener, backends: Arc<Backends>, name: String) {
    loop {
        let Ok((client, from)) = listener.accept().await else {
            tokio::time::sleep(Duration::from_millis(50)).await;
            continue;
        };
        let backends = backends.clone();
        let name = name.clone();
        tokio::spawn(async move {
            let Some(ep) = backends.pick(from) else {
                // No endpoint: reset now rather than leave the client waiting.
                reset(client);
                tracing::debug!(service = %name, %from, "no endpoints: connection reset");
                return;
            };
            let upstream = tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect(ep)).await;
            let Ok(Ok(mut upstream)) = upstream else {
                reset(client);
                tracing::debug!(service = %name, %from, endpoint = %ep, "endpoint unreachable");
                return;
            };
            tracing::debug!(service = %name, %from, endpoint = %ep, "connection");
            let _ = client.set_nodelay(true);
            let _ = upstream.set_nodelay(true);
            let mut client = client;
            let _ = tokio::io::copy_bidirectional_with_sizes(
                &mut client,
                &mut upstream,
                COPY_BUFFER,
                COPY_BUFFER,
            )
            .await;
        });
    }
}

async fn serve_udp(socket: UdpSocket, backends: Arc<Backends>) {
    let socket = Arc::new(socket);
    let flows: Flows = Arc::default();
    let mut buf = vec![0u8; 65_535];
    loop {
        let Ok((n, from)) = socket.recv_from(&mut buf).await else {
            continue;
        };
        // A flow whose endpoint was removed is forgotten, so the client's next datagram picks a
        // live one (what clearing conntrack entries does for the kernel's NAT).
        let existing = {
            let mut table = flows.lock().unwrap_or_else(|p| p.into_inner());
            match table.get(&from) {
                Some((s, _, ep)) if backends.has(ep) => Some(s.clone()),
                Some(_) => {
                    table.remove(&from);
                    None
                }
                None => None,
            }
        };
        let upstream = match existing {
            Some(s) => s,
            None => {
                let Some(ep) = backends.pick(from) else {
                    continue;
                };
                let Ok(up) = UdpSocket::bind((Ipv4Addr::UNSPECIFIED, 0)).await else {
                    continue;
                };
                if up.connect(ep).await.is_err() {
                    continue;
                }
                let up = Arc::new(up);
                flows
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .insert(from, (up.clone(), Instant::now(), ep));
                // Replies go back to the client until the flow is idle.
                let (reply, down, table) = (up.clone(), socket.clone(), flows.clone());
                tokio::spawn(async move {
                    let mut buf = vec![0u8; 65_535];
                    while let Ok(Ok(n)) = tokio::time::timeout(UDP_IDLE, reply.recv(&mut buf)).await
                    {
                        let _ = down.send_to(&buf[..n], from).await;
                    }
                    // Only this flow's entry: a newer flow of the same client stays.
                    let mut table = table.lock().unwrap_or_else(|p| p.into_inner());
                    if table
                        .get(&from)
                        .is_some_and(|(s, _, _)| Arc::ptr_eq(s, &reply))
                    {
                        table.remove(&from);
                    }
                });
                up
            }
        };
        if let Some(entry) = flows
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get_mut(&from)
        {
            entry.1 = Instant::now();
        }
        let _ = upstream.send(&buf[..n]).await;
    }
}

impl UserspaceProxy {
    /// A proxy whose ClusterIPs are held by `addresses`.
    pub fn new(addresses: Arc<dyn Addresses>) -> Self {
        Self {
            addresses,
            listeners: Mutex::new(HashMap::new()),
        }
    }

    /// Opens a listener at `key` for `port`.
    async fn open(
        key: ListenKey,
        port: &ProxiedPort,
        backends: Arc<Backends>,
    ) -> Result<Listener, std::io::Error> {
        let task = match key.1 {
            Protocol::Tcp => {
                let socket = tokio::net::TcpSocket::new_v4()?;
                socket.set_reuseaddr(true)?;
                socket.bind(key.0)?;
                let listener = socket.listen(1024)?;
                tokio::spawn(serve_tcp(listener, backends.clone(), port.name.clone()))
            }
            Protocol::Udp => {
                let socket = UdpSocket::bind(key.0).await?;
                tokio::spawn(serve_udp(socket, backends.clone()))
            }
        };
        Ok(Listener { task, backends })
    }
}

#[async_trait]
impl Proxy for UserspaceProxy {
    fn mode(&self) -> &'static str {
        "userspace"
    }

    async fn sync(&self, state: &ProxyState) -> Result<(), ProxyError> {
        let ips: Vec<Ipv4Addr> = state.ports.iter().map(|p| p.cluster_ip).collect();
        self.addresses.sync(&ips).await?;
        let mut wanted: Vec<(ListenKey, &ProxiedPort)> = Vec::new();
        for p in &state.ports {
            wanted.push(((p.cluster_addr(), p.protocol), p));
            for ip in &p.external_ips {
                wanted.push(((SocketAddr::from((*ip, p.port)), p.protocol), p));
            }
            if let Some(np) = p.node_port {
                wanted.push((
                    (SocketAddr::from((Ipv4Addr::UNSPECIFIED, np)), p.protocol),
                    p,
                ));
            }
        }
        let mut failures = Vec::new();
        let mut listeners =
            std::mem::take(&mut *self.listeners.lock().unwrap_or_else(|e| e.into_inner()));
        let mut next = HashMap::new();
        for (key, port) in wanted {
            if next.contains_key(&key) {
                continue;
            }
            let listener = match listeners.remove(&key) {
                Some(l) => l,
                None => match Self::open(key, port, Arc::new(Backends::default())).await {
                    Ok(l) => l,
                    Err(e) => {
                        failures.push(format!("{} {}/{}: {e}", port.name, key.0, key.1));
                        continue;
                    }
                },
            };
            *listener
                .backends
                .endpoints
                .write()
                .unwrap_or_else(|p| p.into_inner()) = port.endpoints.clone();
            *listener
                .backends
                .affinity
                .write()
                .unwrap_or_else(|p| p.into_inner()) = port.affinity;
            next.insert(key, listener);
        }
        // What is left in `listeners` is no longer wanted: dropping closes it.
        drop(listeners);
        *self.listeners.lock().unwrap_or_else(|e| e.into_inner()) = next;
        if failures.is_empty() {
            Ok(())
        } else {
            Err(ProxyError::Listen(failures.join("; ")))
        }
    }

    async fn cleanup(&self) -> Result<(), ProxyError> {
        self.listeners
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clear();
        self.addresses.cleanup().await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_robin_and_client_affinity() {
        let b = Backends::default();
        let eps: Vec<SocketAddr> = vec![
            "10.0.0.1:80".parse().unwrap(),
            "10.0.0.2:80".parse().unwrap(),
        ];
        *b.endpoints.write().unwrap() = eps.clone();
        let client: SocketAddr = "10.9.9.9:5000".parse().unwrap();
        let picks: Vec<SocketAddr> = (0..4).map(|_| b.pick(client).unwrap()).collect();
        assert_eq!(picks, vec![eps[0], eps[1], eps[0], eps[1]]);
        *b.affinity.write().unwrap() = Some(Duration::from_secs(60));
        let first = b.pick(client).unwrap();
        assert!((0..5).all(|_| b.pick(client) == Some(first)));
        b.endpoints.write().unwrap().clear();
        assert_eq!(b.pick(client), None);
    }
}
