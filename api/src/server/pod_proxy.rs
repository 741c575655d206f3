//! `pods/log`, `pods/exec`, `pods/attach` and `pods/portforward`: found on the pod's node and
//! proxied to that node's agent ([`crate::kubelet`]), as the real API server proxies them to the
//! kubelet. The WebSocket ones are relayed message by message, whatever their subprotocol.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::ws::{Message as AxMessage, WebSocket, WebSocketUpgrade};
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap};
use axum::response::{IntoResponse, Response};
use futures::{SinkExt, StreamExt};
use serde_json::Value;
use skiff_core::kinds::{Node, Pod};
use skiff_core::Resource;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message as TMessage;

use super::response::ApiError;
use super::ApiServer;
use crate::kubelet::{offered_protocol, KubeletTarget, EXEC_PROTOCOLS, PORT_FORWARD_PROTOCOLS};

use crate::kubelet::{param, Pairs};

/// The names of the containers at `pointer` (`/spec/containers`, `/spec/initContainers`).
fn container_names(pod: &Value, pointer: &str) -> Vec<String> {
    pod.pointer(pointer)
        .and_then(Value::as_array)
        .map(|cs| {
            cs.iter()
                .filter_map(|c| c["name"].as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

/// Whether the pod's status shows `container` running.
fn running(pod: &Value, container: &str) -> bool {
    [
        "/status/containerStatuses",
        "/status/initContainerStatuses",
        "/status/ephemeralContainerStatuses",
    ]
    .iter()
    .filter_map(|p| pod.pointer(p).and_then(Value::as_array))
    .flatten()
    .any(|c| c["name"] == container && c.pointer("/state/running").is_some())
}

/// Which subresource a request is for.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Proxied {
    Log,
    Exec,
    Attach,
    PortForward,
}

impl Proxied {
    /// Whether it needs a running container (exec and attach do, logs do not).
    fn needs_running(self) -> bool {
        matches!(self, Self::Exec | Self::Attach)
    }

    /// Whether it is about one container (port-forward is about the pod's network).
    fn per_container(self) -> bool {
        !matches!(self, Self::PortForward)
    }

    /// The WebSocket subprotocols it speaks.
    fn protocols(self) -> &'static [&'static str] {
        match self {
            Self::PortForward => &PORT_FORWARD_PROTOCOLS,
            _ => &EXEC_PROTOCOLS,
        }
    }

    /// The agent's path segment and the verb in messages.
    fn verb(self) -> &'static str {
        match self {
            Self::Log => "log",
            Self::Exec => "exec",
            Self::Attach => "attach",
            Self::PortForward => "port-forward",
        }
    }
}

/// The container a request names (or the pod's default), checked against the pod's spec and, for
/// exec and attach, its status.
fn pick_container(pod: &Value, name: &str, q: &Pairs, what: Proxied) -> Result<String, ApiError> {
    let containers = container_names(pod, "/spec/containers");
    let inits = container_names(pod, "/spec/initContainers");
    let ephemerals = container_names(pod, "/spec/ephemeralContainers");
    let default = pod
        .pointer("/metadata/annotations/kubectl.kubernetes.io~1default-container")
        .and_then(Value::as_str)
        .map(str::to_string);
    let container = match (param(q, "container").filter(|c| !c.is_empty()), default) {
        (Some(c), _) => c.to_string(),
        (None, Some(d)) => d,
        (None, None) if containers.len() == 1 => containers[0].clone(),
        (None, None) => {
            return Err(ApiError::bad_request(format!(
                "a container name must be specified for pod {name}, choose one of: [{}]",
                containers.join(" ")
            )))
        }
    };
    if ![&containers, &inits, &ephemerals]
        .iter()
        .any(|list| list.contains(&container))
    {
        return Err(ApiError::bad_request(format!(
            "container {container} is not valid for pod {name}"
        )));
    }
    if what.needs_running() && !running(pod, &container) {
        // What the kubelet answers: it finds only running containers to exec into or attach to.
        return Err(ApiError::bad_request(format!(
            "container not found ({container:?})"
        )));
    }
    Ok(container)
}

/// The container a request is about (as Kubernetes picks it) and where its pod's agent listens.
async fn locate(
    s: &ApiServer,
    ns: &str,
    name: &str,
    q: &Pairs,
    what: Proxied,
) -> Result<(String, KubeletTarget), ApiError> {
    let pod = s
        .client
        .get(&Pod::api_resource(), Some(ns), name)
        .await
        .map_err(ApiError::from)?;
    let phase = pod
        .pointer("/status/phase")
        .and_then(Value::as_str)
        .unwrap_or("");
    if what.needs_running() && matches!(phase, "Succeeded" | "Failed") {
        let verb = what.verb();
        return Err(ApiError::bad_request(format!(
            "cannot {verb} into a container in a completed pod; current phase is {phase}"
        )));
    }
    let container = if what.per_container() {
        pick_container(&pod, name, q, what)?
    } else {
        String::new()
    };
    let node_name = pod
        .pointer("/spec/nodeName")
        .and_then(Value::as_str)
        .filter(|n| !n.is_empty())
        .ok_or_else(|| {
            ApiError::bad_request(format!("pod {name} does not have a host assigned"))
        })?;
    let node = s
        .client
        .get(&Node::api_resource(), None, node_name)
        .await
        .map_err(ApiError::from)?;
    let target = KubeletTarget::from_node(&node).ok_or_else(|| {
        ApiError::new(
            503,
            "ServiceUnavailable",
            format!("node {node_name} publishes no agent endpoint for logs and exec"),
        )
    })?;
    Ok((container, target))
}

/// The request's query minus `skip`, encoded again for the agent.
fn forward_query(q: &Pairs, skip: &[&str]) -> String {
    let kept = q.iter().filter(|(k, _)| !skip.contains(&k.as_str()));
    reqwest::Url::parse("http://agent/")
        .map(|mut url| {
            url.query_pairs_mut().extend_pairs(kept);
            url.query().unwrap_or_default().to_string()
        })
        .unwrap_or_default()
}

/// `GET .../pods/{name}/log`.
pub(super) async fn log(
    State(s): State<Arc<ApiServer>>,
    Path((ns, name)): Path<(String, String)>,
    Query(q): Query<Pairs>,
) -> Response {
    let (container, target) = match locate(&s, &ns, &name, &q, Proxied::Log).await {
        Ok(x) => x,
        Err(e) => return e.into_response(),
    };
    let url = format!(
        "http://{}/containerLogs/{ns}/{name}/{container}?{}",
        target.address,
        forward_query(&q, &["container"])
    );
    crate::tls::install_crypto_provider();
    let resp = reqwest::Client::new()
        .get(&url)
        .bearer_auth(&target.token)
        .send()
        .await;
    match resp {
        Ok(r) if r.status().is_success() => Response::builder()
            .header(header::CONTENT_TYPE, "text/plain")
            .body(Body::from_stream(r.bytes_stream()))
            .unwrap_or_else(|e| ApiError::new(500, "InternalError", e.to_string()).into_response()),
        Ok(r) => {
            let code = r.status().as_u16();
            let text = r.text().await.unwrap_or_default();
            ApiError::new(
                code,
                if code == 400 {
                    "BadRequest"
                } else {
                    "InternalError"
                },
                text,
            )
            .into_response()
        }
        Err(e) => ApiError::new(
            503,
            "ServiceUnavailable",
            format!(
                "cannot reach the agent of pod {name} at {}: {e}",
                target.address
            ),
        )
        .into_response(),
    }
}

/// A WebSocket upgrade, or why there is none.
type Upgrade = Result<WebSocketUpgrade, axum::extract::ws::rejection::WebSocketUpgradeRejection>;

/// `GET|POST .../pods/{name}/exec`: a WebSocket relayed to the agent.
pub(super) async fn exec(
    State(s): State<Arc<ApiServer>>,
    Path((ns, name)): Path<(String, String)>,
    Query(q): Query<Pairs>,
    headers: HeaderMap,
    ws: Upgrade,
) -> Response {
    stream(s, Proxied::Exec, ns, name, q, headers, ws).await
}

/// `GET|POST .../pods/{name}/attach`: a WebSocket relayed to the agent, attached to the container's
/// own streams.
pub(super) async fn attach(
    State(s): State<Arc<ApiServer>>,
    Path((ns, name)): Path<(String, String)>,
    Query(q): Query<Pairs>,
    headers: HeaderMap,
    ws: Upgrade,
) -> Response {
    stream(s, Proxied::Attach, ns, name, q, headers, ws).await
}

/// `GET|POST .../pods/{name}/portforward`: a WebSocket relayed to the agent, which forwards the
/// connections it carries to the pod's ports.
pub(super) async fn port_forward(
    State(s): State<Arc<ApiServer>>,
    Path((ns, name)): Path<(String, String)>,
    Query(q): Query<Pairs>,
    headers: HeaderMap,
    ws: Upgrade,
) -> Response {
    stream(s, Proxied::PortForward, ns, name, q, headers, ws).await
}

/// Exec, attach and port-forward: a WebSocket relayed message by message.
async fn stream(
    s: Arc<ApiServer>,
    what: Proxied,
    ns: String,
    name: String,
    q: Pairs,
    headers: HeaderMap,
    ws: Upgrade,
) -> Response {
    // The pod and container first: a client that falls back from WebSocket to SPDY (kubectl does
    // on any failed upgrade) gets the same refusal twice.
    let (container, target) = match locate(&s, &ns, &name, &q, what).await {
        Ok(x) => x,
        Err(e) => return e.into_response(),
    };
    let verb = what.verb();
    let protocols = what.protocols();
    let Ok(ws) = ws else {
        return ApiError::bad_request(format!(
            "{verb} needs a WebSocket upgrade ({}); SPDY is not supported",
            protocols.join(", ")
        ))
        .into_response();
    };
    let Some(protocol) = offered_protocol(&headers, protocols) else {
        let offered = headers
            .get(header::SEC_WEBSOCKET_PROTOCOL)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        return ApiError::bad_request(format!(
            "{verb} supports the WebSocket subprotocols {protocols:?}, the client offered {offered:?}"
        ))
        .into_response();
    };
    let path = match what {
        Proxied::PortForward => format!("portForward/{ns}/{name}"),
        _ => format!("{verb}/{ns}/{name}/{container}"),
    };
    let url = format!(
        "ws://{}/{path}?{}",
        target.address,
        forward_query(&q, &["container"])
    );
    let mut request = match url.as_str().into_client_request() {
        Ok(r) => r,
        Err(e) => return ApiError::new(500, "InternalError", e.to_string()).into_response(),
    };
    let auth = format!("Bearer {}", target.token);
    if let (Ok(a), Ok(p)) = (auth.parse(), protocol.parse()) {
        request.headers_mut().insert(header::AUTHORIZATION, a);
        request
            .headers_mut()
            .insert(header::SEC_WEBSOCKET_PROTOCOL, p);
    }
    let upstream = match tokio_tungstenite::connect_async(request).await {
        Ok((u, _)) => u,
        Err(tokio_tungstenite::tungstenite::Error::Http(r)) => {
            let body = r
                .body()
                .as_ref()
                .map(|b| String::from_utf8_lossy(b).into_owned())
                .unwrap_or_default();
            return ApiError::new(r.status().as_u16(), "BadRequest", body).into_response();
        }
        Err(e) => {
            return ApiError::new(
                503,
                "ServiceUnavailable",
                format!(
                    "cannot reach the agent of pod {name} at {}: {e}",
                    target.address
                ),
            )
            .into_response()
        }
    };
    ws.protocols([protocol])
        .on_upgrade(move |socket| relay(socket, upstream))
}

async fn relay(
    client: WebSocket,
    upstream: tokio_tungstenite::WebSocketStream<
        tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>,
    >,
) {
    let (mut c_tx, mut c_rx) = client.split();
    let (mut u_tx, mut u_rx) = upstream.split();
    let up = async {
        while let Some(Ok(m)) = c_rx.next().await {
            let m = match m {
                AxMessage::Binary(b) => TMessage::Binary(b),
                AxMessage::Text(t) => TMessage::Text(t.as_str().into()),
                AxMessage::Close(_) => {
                    let _ = u_tx.send(TMessage::Close(None)).await;
                    break;
                }
                _ => continue,
            };
            if u_tx.send(m).await.is_err() {
                break;
            }
        }
    };
    let down = async {
        while let Some(Ok(m)) = u_rx.next().await {
            let m = match m {
                TMessage::Binary(b) => AxMessage::Binary(b),
                TMessage::Text(t) => AxMessage::Text(t.as_str().into()),
                TMessage::Close(f) => {
                    let frame = f.map(|f| axum::extract::ws::CloseFrame {
                        code: f.code.into(),
                        reason: f.reason.as_str().into(),
                    });
                    let _ = c_tx.send(AxMessage::Close(frame)).await;
                    break;
                }
                _ => continue,
            };
            if c_tx.send(m).await.is_err() {
                break;
            }
        }
    };
    // Output ends the session: the agent closes after the status frame.
    tokio::select! {
        _ = down => {}
        _ = async { up.await; futures::future::pending::<()>().await } => {}
    }
}
