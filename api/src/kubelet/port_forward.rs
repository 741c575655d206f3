//! `GET /portForward/{namespace}/{pod}`: `kubectl port-forward` and the client libraries'
//! `pods/portforward`, ended at the node as the kubelet ends them.
//!
//! Two WebSocket subprotocols, one per kind of client:
//! - `SPDY/3.1+portforward.k8s.io` (kubectl 1.30+, client-go's tunneling dialer): a SPDY/3
//!   session inside the WebSocket ([`crate::spdy`]). For every local connection the client opens
//!   an `error` stream and a `data` stream carrying the same `port` and `requestID` headers; each
//!   gets a `SYN_REPLY` at once. When both are there the agent dials the port inside the pod and
//!   copies bytes between the data stream and the connection; the client's FIN on the data stream
//!   half-closes the connection, the pod's end of it closes the data stream, and the error stream
//!   is closed last, carrying the reason when the dial failed (kubectl prints it and drops that
//!   connection only). Pings are answered. The session ends with the WebSocket or a `GOAWAY`.
//! - `v4.channel.k8s.io` (the Python and JavaScript clients): the ports are in the query
//!   (`ports=80,8080`); port number *i* owns channel 2*i* (data) and 2*i*+1 (errors), each
//!   announced by a first frame holding the port (two bytes, little endian); every frame's first
//!   byte is its channel. The connections are dialled at once; the session ends when all are done.
//!
//! Dialling is what the CRI's `PortForward` does: `127.0.0.1:PORT` from inside the pod's network
//! namespace ([`Runtime::network_namespace`]), so a port bound to the pod's loopback is reached
//! too. Entering a namespace changes the calling thread: a short-lived thread of its own does it.

use std::collections::HashMap;
use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::ws::{Message, WebSocket};
use futures::{SinkExt, StreamExt};
use skiff_core::runtime::NetworkNamespace;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tokio::task::JoinSet;

use crate::spdy::{Decoder, Encoder, Frame};

/// The SPDY tunnel's subprotocol.
pub const SPDY_TUNNEL: &str = "SPDY/3.1+portforward.k8s.io";
/// The channel protocol's.
pub const CHANNELS: &str = "v4.channel.k8s.io";
/// Both, most preferred first.
pub const PORT_FORWARD_PROTOCOLS: [&str; 2] = [SPDY_TUNNEL, CHANNELS];

/// How long one dial may take.
const DIAL_TIMEOUT: Duration = Duration::from_secs(10);
/// After the pod's side of a connection ends, how long the client's side has to finish (as
/// containerd's port-forward allows).
const LINGER: Duration = Duration::from_secs(1);
/// Bytes read from the pod per frame.
const CHUNK: usize = 32 * 1024;

/// The pod a session forwards into: where its network is, and its name for messages.
#[derive(Clone, Debug)]
pub struct PodNetwork {
    /// Its network namespace.
    pub namespace: NetworkNamespace,
    /// `namespace/name`, for error messages.
    pub pod: String,
    /// Its uid, for error messages (the kubelet names it too).
    pub uid: String,
}

impl PodNetwork {
    /// A connection to `port` on the pod's loopback.
    pub async fn dial(&self, port: u16) -> std::io::Result<TcpStream> {
        let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
        match &self.namespace {
            NetworkNamespace::Host => tokio::time::timeout(DIAL_TIMEOUT, TcpStream::connect(addr))
                .await
                .map_err(|_| std::io::Error::from(std::io::ErrorKind::TimedOut))?,
            NetworkNamespace::Path(path) => {
                let path = path.clone();
                let (tx, rx) = tokio::sync::oneshot::channel();
                std::thread::Builder::new()
                    .name("port-forward-dial".into())
                    .spawn(move || {
                        let _ = tx.send(dial_in(&path, addr));
                    })?;
                let stream = rx
                    .await
                    .map_err(|_| std::io::Error::other("the dialling thread died"))??;
                stream.set_nonblocking(true)?;
                TcpStream::from_std(stream)
            }
        }
    }

    fn failure(&self, port: u16, e: &std::io::Error) -> String {
        // The kubelet's wording, so that what kubectl prints reads the same.
        format!(
            "error forwarding port {port} to pod {}, uid {}: failed to connect to localhost:{port} inside namespace of pod {}: {e}",
            self.pod, self.uid, self.pod
        )
    }
}

/// Enters the namespace at `path` (this thread only) and connects.
fn dial_in(path: &std::path::Path, addr: SocketAddr) -> std::io::Result<std::net::TcpStream> {
    let ns = std::fs::File::open(path)?;
    nix::sched::setns(&ns, nix::sched::CloneFlags::CLONE_NEWNET).map_err(std::io::Error::from)?;
    std::net::TcpStream::connect_timeout(&addr, DIAL_TIMEOUT)
}

/// Runs a session of the negotiated `protocol`.
pub async fn serve(socket: WebSocket, protocol: &str, pod: PodNetwork, ports: Vec<u16>) {
    if protocol == CHANNELS {
        channels(socket, pod, ports).await;
    } else {
        spdy(socket, pod).await;
    }
}

/// The two streams of one forwarded connection, as they arrive.
#[derive(Default)]
struct Pair {
    port: Option<String>,
    error: Option<u32>,
    data: Option<u32>,
}

/// A SPDY session: see the [module docs](self).
async fn spdy(socket: WebSocket, pod: PodNetwork) {
    let (mut sink, mut source) = socket.split();
    let (out, mut out_rx) = mpsc::channel::<Frame>(64);
    let writer = tokio::spawn(async move {
        let mut encoder = Encoder::new();
        while let Some(frame) = out_rx.recv().await {
            let Ok(bytes) = encoder.encode(&frame) else {
                break;
            };
            if sink.send(Message::Binary(bytes.into())).await.is_err() {
                break;
            }
        }
        let _ = sink.close().await;
    });
    let mut decoder = Decoder::new();
    let mut pairs: HashMap<String, Pair> = HashMap::new();
    // Client bytes for each data stream, to its connection's writer; dropped on the client's FIN.
    let mut inbound: HashMap<u32, mpsc::Sender<Bytes>> = HashMap::new();
    let mut waiting: HashMap<u32, mpsc::Receiver<Bytes>> = HashMap::new();
    let mut forwards = JoinSet::new();
    // Each running connection's task and error stream, by its data stream.
    let mut by_stream: HashMap<u32, (tokio::task::AbortHandle, u32)> = HashMap::new();
    'session: while let Some(Ok(message)) = source.next().await {
        let bytes = match message {
            Message::Binary(b) => b,
            Message::Close(_) => break,
            _ => continue,
        };
        decoder.push(&bytes);
        loop {
            let frame = match decoder.next_frame() {
                Ok(Some(f)) => f,
                Ok(None) => break,
                Err(e) => {
                    tracing::debug!(error = %e, "port-forward: bad SPDY; ending the session");
                    let _ = out
                        .send(Frame::GoAway {
                            last_good: 0,
                            status: 1,
                        })
                        .await;
                    break 'session;
                }
            };
            tracing::trace!(?frame, "port-forward: frame in");
            match frame {
                Frame::SynStream {
                    stream_id, headers, ..
                } => {
                    let _ = out
                        .send(Frame::SynReply {
                            stream_id,
                            fin: false,
                            headers: Vec::new(),
                        })
                        .await;
                    let get = |key: &str| {
                        headers
                            .iter()
                            .find(|(k, _)| k.eq_ignore_ascii_case(key))
                            .map(|(_, v)| v.clone())
                    };
                    let kind = get("streamtype").unwrap_or_default();
                    // Clients without a requestID pair error stream N with data stream N+2
                    // (what the kubelet assumes of them).
                    let request = get("requestid").unwrap_or_else(|| {
                        let base = if kind == "data" {
                            stream_id.saturating_sub(2)
                        } else {
                            stream_id
                        };
                        format!("stream-{base}")
                    });
                    let pair = pairs.entry(request.clone()).or_default();
                    pair.port = pair.port.take().or(get("port"));
                    match kind.as_str() {
                        "error" => pair.error = Some(stream_id),
                        "data" => {
                            pair.data = Some(stream_id);
                            let (tx, rx) = mpsc::channel(64);
                            inbound.insert(stream_id, tx);
                            waiting.insert(stream_id, rx);
                        }
                        _ => {
                            let _ = out
                                .send(Frame::RstStream {
                                    stream_id,
                                    status: 1,
                                })
                                .await;
                            continue;
                        }
                    }
                    if let Some(Pair {
                        port,
                        error: Some(error),
                        data: Some(data),
                    }) = pairs.get(&request)
                    {
                        let (port, error, data) = (port.clone(), *error, *data);
                        pairs.remove(&request);
                        let Some(rx) = waiting.remove(&data) else {
                            continue;
                        };
                        let task = forwards.spawn(forward(
                            pod.clone(),
                            port,
                            error,
                            data,
                            rx,
                            out.clone(),
                        ));
                        by_stream.insert(data, (task, error));
                    }
                }
                Frame::Data {
                    stream_id,
                    fin,
                    data,
                } => {
                    if let Some(tx) = inbound.get(&stream_id) {
                        if !data.is_empty() && tx.send(data).await.is_err() {
                            inbound.remove(&stream_id);
                        }
                    }
                    if fin {
                        inbound.remove(&stream_id);
                    }
                }
                Frame::RstStream { stream_id, .. } => {
                    // kubectl resets the data stream once it has read the pod's end: the copying
                    // stops, and the error stream still closes (kubectl waits for that).
                    inbound.remove(&stream_id);
                    if let Some((task, error)) = by_stream.remove(&stream_id) {
                        task.abort();
                        let _ = out
                            .send(Frame::Data {
                                stream_id: error,
                                fin: true,
                                data: Bytes::new(),
                            })
                            .await;
                    }
                }
                Frame::Ping { id } => {
                    let _ = out.send(Frame::Ping { id }).await;
                }
                Frame::GoAway { .. } => break 'session,
                _ => {}
            }
        }
        // Forget finished connections' abort handles.
        while let Some(done) = forwards.try_join_next() {
            let _ = done;
        }
        by_stream.retain(|_, (t, _)| !t.is_finished());
    }
    forwards.abort_all();
    drop(out);
    let _ = writer.await;
}

/// One forwarded connection of a SPDY session.
async fn forward(
    pod: PodNetwork,
    port: Option<String>,
    error: u32,
    data: u32,
    mut from_client: mpsc::Receiver<Bytes>,
    out: mpsc::Sender<Frame>,
) {
    let fin = |stream_id| Frame::Data {
        stream_id,
        fin: true,
        data: Bytes::new(),
    };
    let port = match port.as_deref().map(str::parse::<u16>) {
        Some(Ok(p)) if p > 0 => p,
        _ => {
            let message = format!("invalid port header {:?}", port.unwrap_or_default());
            let _ = out
                .send(Frame::Data {
                    stream_id: error,
                    fin: true,
                    data: message.into(),
                })
                .await;
            let _ = out.send(fin(data)).await;
            return;
        }
    };
    let conn = match pod.dial(port).await {
        Ok(c) => c,
        Err(e) => {
            let _ = out.send(fin(data)).await;
            let _ = out
                .send(Frame::Data {
                    stream_id: error,
                    fin: true,
                    data: pod.failure(port, &e).into(),
                })
                .await;
            return;
        }
    };
    let (mut read, mut write) = conn.into_split();
    let mut upstream = tokio::spawn(async move {
        while let Some(chunk) = from_client.recv().await {
            if write.write_all(&chunk).await.is_err() {
                return;
            }
        }
        // The client is done sending: so is the connection (its read half stays open).
        let _ = write.shutdown().await;
    });
    let downstream = async {
        let mut buf = vec![0u8; CHUNK];
        loop {
            match read.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    let frame = Frame::Data {
                        stream_id: data,
                        fin: false,
                        data: Bytes::copy_from_slice(&buf[..n]),
                    };
                    if out.send(frame).await.is_err() {
                        return;
                    }
                }
            }
        }
        let _ = out.send(fin(data)).await;
    };
    downstream.await;
    tracing::debug!(data, error, "port-forward: the pod's side ended");
    let _ = tokio::time::timeout(LINGER, &mut upstream).await;
    tracing::debug!(data, error, "port-forward: closing the error stream");
    upstream.abort();
    let _ = out.send(fin(error)).await;
}

/// A `v4.channel.k8s.io` session: see the [module docs](self).
async fn channels(socket: WebSocket, pod: PodNetwork, ports: Vec<u16>) {
    let (mut sink, mut source) = socket.split();
    let (out, mut out_rx) = mpsc::channel::<Vec<u8>>(64);
    let writer = async move {
        while let Some(frame) = out_rx.recv().await {
            if sink.send(Message::Binary(frame.into())).await.is_err() {
                break;
            }
        }
        let _ = sink
            .send(Message::Close(Some(axum::extract::ws::CloseFrame {
                code: 1000,
                reason: "".into(),
            })))
            .await;
    };
    let mut to_pod: Vec<Option<mpsc::Sender<Bytes>>> = Vec::new();
    let mut forwards = JoinSet::new();
    for (i, port) in ports.iter().copied().enumerate() {
        let (data, error) = ((2 * i) as u8, (2 * i + 1) as u8);
        let [lo, hi] = port.to_le_bytes();
        let _ = out.send(vec![data, lo, hi]).await;
        let _ = out.send(vec![error, lo, hi]).await;
        let (tx, rx) = mpsc::channel(64);
        to_pod.push(Some(tx));
        forwards.spawn(channel_forward(
            pod.clone(),
            port,
            data,
            error,
            rx,
            out.clone(),
        ));
    }
    drop(out);
    let input = async {
        while let Some(Ok(message)) = source.next().await {
            let frame: Bytes = match message {
                Message::Binary(b) => b,
                Message::Text(t) => Bytes::copy_from_slice(t.as_str().as_bytes()),
                Message::Close(_) => break,
                _ => continue,
            };
            let Some((&channel, payload)) = frame.split_first() else {
                continue;
            };
            let index = usize::from(channel / 2);
            if channel % 2 == 0 && !payload.is_empty() {
                if let Some(Some(tx)) = to_pod.get(index) {
                    if tx.send(frame.slice(1..)).await.is_err() {
                        to_pod[index] = None;
                    }
                }
            }
        }
    };
    let all_done = async { while forwards.join_next().await.is_some() {} };
    tokio::select! {
        // The client left: the connections go with it.
        () = input => {}
        // Every connection ended: the writer closes the socket once their frames are out.
        ((), ()) = async { tokio::join!(all_done, writer) } => {}
    }
}

/// One port of a channel session.
async fn channel_forward(
    pod: PodNetwork,
    port: u16,
    data: u8,
    error: u8,
    mut from_client: mpsc::Receiver<Bytes>,
    out: mpsc::Sender<Vec<u8>>,
) {
    let conn = match pod.dial(port).await {
        Ok(c) => c,
        Err(e) => {
            let mut frame = vec![error];
            frame.extend_from_slice(pod.failure(port, &e).as_bytes());
            let _ = out.send(frame).await;
            return;
        }
    };
    let (mut read, mut write) = conn.into_split();
    let upstream = tokio::spawn(async move {
        while let Some(chunk) = from_client.recv().await {
            if write.write_all(&chunk).await.is_err() {
                return;
            }
        }
    });
    let mut buf = vec![0u8; CHUNK];
    loop {
        match read.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                let mut frame = Vec::with_capacity(n + 1);
                frame.push(data);
                frame.extend_from_slice(&buf[..n]);
                if out.send(frame).await.is_err() {
                    break;
                }
            }
        }
    }
    // No half-close in this protocol: the pod's end is the connection's end.
    upstream.abort();
}

/// The ports of a channel-protocol request: `ports=80,8080` or `ports=80&ports=8080`.
pub fn parse_ports(values: &[&str]) -> Result<Vec<u16>, String> {
    let mut out = Vec::new();
    for value in values {
        for part in value.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            match part.parse::<u16>() {
                Ok(p) if p > 0 => out.push(p),
                _ => {
                    return Err(format!(
                        "unable to parse {part:?} as a port: it must be 1-65535"
                    ))
                }
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ports_parse_both_ways_and_name_the_bad_one() {
        assert_eq!(parse_ports(&["80,8080"]).unwrap(), vec![80, 8080]);
        assert_eq!(parse_ports(&["80", "443"]).unwrap(), vec![80, 443]);
        let e = parse_ports(&["80,http"]).unwrap_err();
        assert!(e.contains("\"http\""), "{e}");
        assert!(parse_ports(&["0"]).is_err());
    }
}
