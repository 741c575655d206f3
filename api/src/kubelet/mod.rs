//! The node agent's own HTTP endpoint (the kubelet's port): container logs and exec, which the API
//! server proxies `pods/log` and `pods/exec` to.
//!
//! - `GET /containerLogs/{namespace}/{pod}/{container}?follow=&tailLines=&limitBytes=&previous=` streams
//!   the log (`text/plain`, chunked, flushed as written).
//! - `GET /exec/{namespace}/{pod}/{container}?command=..&command=..&stdin=&stdout=&stderr=` upgrades to a
//!   WebSocket speaking Kubernetes' channel protocol (`v5.channel.k8s.io`, or `v4`): binary frames whose
//!   first byte is the channel — 0 stdin, 1 stdout, 2 stderr, 3 the final status, 255 (v5) stdin closed.
//! - `GET /attach/{namespace}/{pod}/{container}?stdin=&stdout=&stderr=` speaks the same protocol,
//!   attached to the container's own process ([`Runtime::attach`]): its output from now on, and its
//!   stdin when the container has `stdin: true`. It ends when the container exits.
//! - `GET /portForward/{namespace}/{pod}` upgrades to a WebSocket that forwards connections to the
//!   pod's ports ([`port_forward`]: SPDY in a WebSocket for kubectl, channels for the client
//!   libraries).
//!
//! Only the API server may call it: every request needs `Authorization: Bearer <token>` with the token
//! the agent publishes on its Node (annotation [`TOKEN_ANNOTATION`]; a cluster administrator can read it
//! there — client certificates would be the next step). `tty` is accepted but no terminal is allocated.

use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use futures::{SinkExt, StreamExt};
use skiff_core::runtime::{
    labels, ContainerInfo, ContainerState, ExecIo, LabelFilter, LogOptions, Runtime,
};
use skiff_core::shutdown::Shutdown;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

pub mod port_forward;
pub use port_forward::PORT_FORWARD_PROTOCOLS;

/// The Node annotation holding the token the API server presents to the agent.
pub const TOKEN_ANNOTATION: &str = "skiff.io/kubelet-token";

/// The WebSocket subprotocols of exec, most preferred first.
pub const EXEC_PROTOCOLS: [&str; 2] = ["v5.channel.k8s.io", "v4.channel.k8s.io"];

/// The agent's endpoint. See the [module docs](self).
pub struct KubeletServer {
    runtime: Arc<dyn Runtime>,
    token: String,
}

/// A request's query, repeated keys kept (`command=ls&command=-l`).
pub(crate) type Pairs = Vec<(String, String)>;

/// The first value of `key`.
pub(crate) fn param<'a>(q: &'a Pairs, key: &str) -> Option<&'a str> {
    q.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
}

fn flag(q: &Pairs, key: &str) -> bool {
    matches!(param(q, key), Some("true" | "1"))
}

fn error(code: StatusCode, message: impl Into<String>) -> Response {
    (code, message.into()).into_response()
}

impl KubeletServer {
    /// A server for `runtime`'s containers accepting `token`.
    pub fn new(runtime: Arc<dyn Runtime>, token: impl Into<String>) -> Arc<Self> {
        Arc::new(Self {
            runtime,
            token: token.into(),
        })
    }

    /// The routes.
    pub fn router(self: Arc<Self>) -> Router {
        Router::new()
            .route("/containerLogs/{ns}/{pod}/{container}", get(logs))
            .route("/exec/{ns}/{pod}/{container}", get(exec).post(exec))
            .route("/attach/{ns}/{pod}/{container}", get(attach).post(attach))
            .route("/portForward/{ns}/{pod}", get(forward).post(forward))
            .route("/healthz", get(|| async { "ok" }))
            .with_state(self)
    }

    /// Serves until `shutdown`.
    pub async fn serve(
        self: Arc<Self>,
        listener: tokio::net::TcpListener,
        shutdown: Shutdown,
    ) -> std::io::Result<()> {
        axum::serve(listener, self.router().into_make_service())
            .with_graceful_shutdown(async move { shutdown.wait().await })
            .await
    }

    fn authorized(&self, headers: &HeaderMap) -> bool {
        let given = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .unwrap_or("");
        crate::auth::constant_time_eq(given.as_bytes(), self.token.as_bytes())
    }

    /// The newest instance of a container (or the one before it, for `previous`).
    async fn find(
        &self,
        ns: &str,
        pod: &str,
        container: &str,
        previous: bool,
    ) -> Result<ContainerInfo, Response> {
        let filter = LabelFilter::new()
            .with(labels::POD_NAMESPACE, ns)
            .with(labels::POD_NAME, pod)
            .with(labels::CONTAINER_NAME, container);
        let mut all = self
            .runtime
            .list_containers(&filter)
            .await
            .map_err(|e| error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?;
        all.sort_by_key(|c| std::cmp::Reverse((labels::attempt(&c.labels), c.created_at)));
        let index = usize::from(previous);
        all.into_iter().nth(index).ok_or_else(|| {
            let what = if previous {
                format!("previous terminated container {container:?} in pod {pod:?} not found")
            } else {
                format!("container {container:?} in pod {pod:?} is waiting to start")
            };
            error(StatusCode::BAD_REQUEST, what)
        })
    }
}

impl KubeletServer {
    /// The runtime id of the running instance of a container: the kubelet finds only running
    /// containers to exec into or attach to, and says so before any upgrade.
    async fn find_running(&self, ns: &str, pod: &str, container: &str) -> Result<String, Response> {
        let found = self.find(ns, pod, container, false).await?;
        if found.state != ContainerState::Running {
            return Err(error(
                StatusCode::BAD_REQUEST,
                format!("container not found ({container:?})"),
            ));
        }
        Ok(found.id)
    }
}

async fn logs(
    State(s): State<Arc<KubeletServer>>,
    Path((ns, pod, container)): Path<(String, String, String)>,
    Query(q): Query<Pairs>,
    headers: HeaderMap,
) -> Response {
    if !s.authorized(&headers) {
        return error(StatusCode::UNAUTHORIZED, "Unauthorized");
    }
    let found = match s.find(&ns, &pod, &container, flag(&q, "previous")).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    let options = LogOptions {
        follow: flag(&q, "follow"),
        tail_lines: param(&q, "tailLines").and_then(|v| v.parse().ok()),
        limit_bytes: param(&q, "limitBytes").and_then(|v| v.parse().ok()),
    };
    match s.runtime.logs(&found.id, &options).await {
        Ok(stream) => Response::builder()
            .header(header::CONTENT_TYPE, "text/plain")
            .body(Body::from_stream(
                stream.map(|r| r.map_err(std::io::Error::other)),
            ))
            .unwrap_or_else(|e| error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string())),
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    }
}

async fn exec(
    State(s): State<Arc<KubeletServer>>,
    Path((ns, pod, container)): Path<(String, String, String)>,
    Query(q): Query<Pairs>,
    headers: HeaderMap,
    ws: WebSocketUpgrade,
) -> Response {
    let command: Vec<String> = q
        .iter()
        .filter(|(k, _)| k == "command")
        .map(|(_, v)| v.clone())
        .collect();
    let target = (ns, pod, container);
    start_session(s, target, q, headers, ws, Session::Exec(command)).await
}

async fn attach(
    State(s): State<Arc<KubeletServer>>,
    Path((ns, pod, container)): Path<(String, String, String)>,
    Query(q): Query<Pairs>,
    headers: HeaderMap,
    ws: WebSocketUpgrade,
) -> Response {
    let target = (ns, pod, container);
    start_session(s, target, q, headers, ws, Session::Attach).await
}

/// The first of `supported` that a request offers as its WebSocket subprotocol, if any.
pub fn offered_protocol<'a>(headers: &HeaderMap, supported: &[&'a str]) -> Option<&'a str> {
    let offered = headers
        .get(header::SEC_WEBSOCKET_PROTOCOL)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    supported
        .iter()
        .find(|p| offered.split(',').any(|o| o.trim() == **p))
        .copied()
}

async fn forward(
    State(s): State<Arc<KubeletServer>>,
    Path((ns, pod)): Path<(String, String)>,
    Query(q): Query<Pairs>,
    headers: HeaderMap,
    ws: WebSocketUpgrade,
) -> Response {
    if !s.authorized(&headers) {
        return error(StatusCode::UNAUTHORIZED, "Unauthorized");
    }
    let Some(protocol) = offered_protocol(&headers, &PORT_FORWARD_PROTOCOLS) else {
        return error(
            StatusCode::BAD_REQUEST,
            format!("port-forward supports the WebSocket subprotocols {PORT_FORWARD_PROTOCOLS:?}"),
        );
    };
    let values: Vec<&str> = q
        .iter()
        .filter(|(k, _)| k == "ports" || k == "port")
        .map(|(_, v)| v.as_str())
        .collect();
    let ports = match port_forward::parse_ports(&values) {
        Ok(p) => p,
        Err(e) => return error(StatusCode::BAD_REQUEST, e),
    };
    if protocol == port_forward::CHANNELS && ports.is_empty() {
        return error(
            StatusCode::BAD_REQUEST,
            "query parameter \"ports\" is required",
        );
    }
    let filter = LabelFilter::new()
        .with(labels::POD_NAMESPACE, &ns)
        .with(labels::POD_NAME, &pod);
    let sandboxes = match s.runtime.list_sandboxes(&filter).await {
        Ok(list) => list,
        Err(e) => return error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    };
    let Some(sandbox) = sandboxes
        .into_iter()
        .filter(|b| b.state == skiff_core::runtime::SandboxState::Ready)
        .max_by_key(|b| b.created_at)
    else {
        return error(
            StatusCode::NOT_FOUND,
            format!("pod {ns}/{pod} has no running sandbox on this node"),
        );
    };
    let namespace = match s.runtime.network_namespace(&sandbox.id).await {
        Ok(n) => n,
        Err(e) => return error(StatusCode::BAD_REQUEST, e.to_string()),
    };
    let target = port_forward::PodNetwork {
        namespace,
        pod: format!("{ns}/{pod}"),
        uid: sandbox
            .labels
            .get(labels::POD_UID)
            .cloned()
            .unwrap_or_default(),
    };
    ws.protocols([protocol])
        .on_upgrade(move |socket| port_forward::serve(socket, protocol, target, ports))
}

/// Exec and attach: the checks a kubelet makes before the upgrade, then the session.
async fn start_session(
    s: Arc<KubeletServer>,
    (ns, pod, container): (String, String, String),
    q: Pairs,
    headers: HeaderMap,
    ws: WebSocketUpgrade,
    session: Session,
) -> Response {
    if !s.authorized(&headers) {
        return error(StatusCode::UNAUTHORIZED, "Unauthorized");
    }
    if matches!(&session, Session::Exec(command) if command.is_empty()) {
        return error(
            StatusCode::BAD_REQUEST,
            "you must specify at least 1 command",
        );
    }
    let id = match s.find_running(&ns, &pod, &container).await {
        Ok(id) => id,
        Err(r) => return r,
    };
    let stdin = flag(&q, "stdin");
    let runtime = s.runtime.clone();
    ws.protocols(EXEC_PROTOCOLS)
        .on_upgrade(move |socket| run_session(socket, runtime, id, session, stdin))
}

/// What a channel-protocol session runs.
enum Session {
    /// A command in the container ([`Runtime::exec`]).
    Exec(Vec<String>),
    /// The container's own process ([`Runtime::attach`]); its end is reported as success.
    Attach,
}

/// How often a running exec checks that its container still runs.
const EXEC_CONTAINER_CHECK: std::time::Duration = std::time::Duration::from_millis(500);

/// The exit code reported for a command killed because its container stopped (SIGKILL).
const EXIT_KILLED: i32 = 137;

/// The channel-protocol status frame for an exit code.
pub fn exit_status(code: i32) -> Vec<u8> {
    let status = if code == 0 {
        serde_json::json!({"metadata": {}, "status": "Success"})
    } else {
        serde_json::json!({
            "metadata": {}, "status": "Failure", "reason": "NonZeroExitCode",
            "message": format!("command terminated with non-zero exit code: error executing command [..], exit code {code}"),
            "details": {"causes": [{"reason": "ExitCode", "message": code.to_string()}]}
        })
    };
    let mut frame = vec![3u8];
    frame.extend_from_slice(status.to_string().as_bytes());
    frame
}

async fn run_session(
    socket: WebSocket,
    runtime: Arc<dyn Runtime>,
    id: String,
    session: Session,
    stdin: bool,
) {
    let (mut sink, mut source) = socket.split();
    let (out_w, out_r) = tokio::io::duplex(64 * 1024);
    let (err_w, err_r) = tokio::io::duplex(64 * 1024);
    let (in_w, in_r) = tokio::io::duplex(64 * 1024);
    let io = ExecIo {
        stdin: stdin.then(|| Box::new(in_r) as Box<dyn tokio::io::AsyncRead + Send + Unpin>),
        stdout: Box::new(out_w),
        stderr: Box::new(err_w),
    };
    let (tx, mut rx) = tokio::sync::mpsc::channel::<Vec<u8>>(64);
    let pump = |mut r: tokio::io::DuplexStream,
                channel: u8,
                tx: tokio::sync::mpsc::Sender<Vec<u8>>| async move {
        let mut buf = vec![0u8; 32 * 1024];
        loop {
            match r.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    let mut frame = Vec::with_capacity(n + 1);
                    frame.push(channel);
                    frame.extend_from_slice(&buf[..n]);
                    if tx.send(frame).await.is_err() {
                        break;
                    }
                }
            }
        }
    };
    let out_task = tokio::spawn(pump(out_r, 1, tx.clone()));
    let err_task = tokio::spawn(pump(err_r, 2, tx.clone()));
    drop(tx);
    // stdin: channel 0 data; channel 255 (v5) closes it; the socket closing closes it too. Frames
    // may be binary or text (the Python client sends a `str` as a text frame): the kubelet reads
    // both as bytes.
    let input = tokio::spawn(async move {
        let mut in_w = Some(in_w);
        while let Some(Ok(msg)) = source.next().await {
            let data: Bytes = match msg {
                Message::Binary(b) => b,
                Message::Text(t) => Bytes::copy_from_slice(t.as_str().as_bytes()),
                Message::Close(_) => break,
                _ => continue,
            };
            match data.first() {
                Some(0) => {
                    if let Some(w) = in_w.as_mut() {
                        if w.write_all(&data[1..]).await.is_err() {
                            in_w = None;
                        }
                    }
                }
                Some(255) if data.get(1) == Some(&0) => in_w = None,
                _ => {}
            }
        }
    });
    let exec_runtime = runtime.clone();
    let exec_id = id.clone();
    let attached = matches!(session, Session::Attach);
    let mut exec = tokio::spawn(async move {
        match session {
            Session::Exec(command) => exec_runtime.exec(&exec_id, &command, io).await,
            Session::Attach => exec_runtime.attach(&exec_id, io).await.map(|()| 0),
        }
    });
    // A command outlives nothing: when its container stops, it is killed (dropping the runtime's
    // exec kills its process) and the client gets its status and a closed connection. (An attach
    // ends by itself when the container exits: the runtime's contract.)
    let container_gone = async {
        if attached {
            futures::future::pending::<()>().await;
        }
        loop {
            tokio::time::sleep(EXEC_CONTAINER_CHECK).await;
            match runtime.container_status(&id).await {
                Ok(info) if info.state == ContainerState::Running => {}
                _ => return,
            }
        }
    };
    // Output goes to the client as it comes (an interactive `cat` echoes each line); it ends when
    // the command's streams close, that is when the command ends or is killed.
    let forward = async {
        while let Some(frame) = rx.recv().await {
            if sink.send(Message::Binary(frame.into())).await.is_err() {
                break;
            }
        }
    };
    let outcome = async {
        tokio::select! {
            joined = &mut exec => joined,
            _ = container_gone => {
                exec.abort();
                Ok(Ok(EXIT_KILLED))
            }
        }
    };
    let ((), outcome) = tokio::join!(forward, outcome);
    out_task.abort();
    err_task.abort();
    let code = match outcome {
        Ok(Ok(code)) => code,
        Ok(Err(e)) => {
            let mut frame = vec![2u8];
            frame.extend_from_slice(format!("{e}\n").as_bytes());
            let _ = sink.send(Message::Binary(frame.into())).await;
            126
        }
        Err(_) => 126,
    };
    let _ = sink.send(Message::Binary(exit_status(code).into())).await;
    let _ = sink
        .send(Message::Close(Some(axum::extract::ws::CloseFrame {
            code: 1000,
            reason: "".into(),
        })))
        .await;
    input.abort();
}

/// Where the API server reaches a node's agent, read from the Node object.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KubeletTarget {
    /// `host:port`.
    pub address: String,
    /// The bearer token.
    pub token: String,
}

impl KubeletTarget {
    /// From a Node (as JSON): InternalIP (else the first address), `daemonEndpoints.kubeletEndpoint.Port`
    /// and the token annotation; `None` when the node publishes no endpoint.
    pub fn from_node(node: &serde_json::Value) -> Option<Self> {
        let port = node
            .pointer("/status/daemonEndpoints/kubeletEndpoint/Port")
            .and_then(serde_json::Value::as_i64)
            .filter(|p| *p > 0)?;
        let addresses = node.pointer("/status/addresses")?.as_array()?;
        let addr = addresses
            .iter()
            .find(|a| a["type"] == "InternalIP")
            .or_else(|| addresses.first())?["address"]
            .as_str()?;
        let token = node
            .pointer("/metadata/annotations")
            .and_then(|a| a.get(TOKEN_ANNOTATION))
            .and_then(serde_json::Value::as_str)?;
        let host = if addr.contains(':') {
            format!("[{addr}]")
        } else {
            addr.to_string()
        };
        Some(Self {
            address: format!("{host}:{port}"),
            token: token.to_string(),
        })
    }
}
