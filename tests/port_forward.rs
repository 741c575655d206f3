//! `kubectl port-forward` against a real `skiff up` on the process runtime (root needed; skipped
//! with a printed reason otherwise, unless SKIFF_REQUIRE_ENGINES=1): kubectl 1.32 tunnels SPDY
//! through a WebSocket to the API server, which relays it to the node, which dials the port from
//! inside the pod's network namespace. The web server here listens on the pod's loopback only, so
//! nothing but that path reaches it.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{can_run, is_ready, Cluster, Forward};

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::Command;
use std::time::Duration;

/// An HTTP/1.0 GET through `port`: the status line's code and the body.
fn get(port: u16, path: &str) -> std::io::Result<(u16, Vec<u8>)> {
    let mut conn = TcpStream::connect(("127.0.0.1", port))?;
    conn.set_read_timeout(Some(Duration::from_secs(20)))?;
    write!(conn, "GET {path} HTTP/1.0\r\nHost: pod\r\n\r\n")?;
    let mut all = Vec::new();
    conn.read_to_end(&mut all)?;
    let split = all
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or_else(|| {
            std::io::Error::other(format!(
                "no HTTP response: {:?}",
                String::from_utf8_lossy(&all)
            ))
        })?;
    let code = String::from_utf8_lossy(&all[..split])
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    Ok((code, all[split + 4..].to_vec()))
}

/// GET `path` on `port` of `pod` over `v4.channel.k8s.io`: the bytes of the data channel.
async fn channel_get(cluster: &Cluster, pod: &str, port: u16, path: &str) -> Vec<u8> {
    use futures::{SinkExt, StreamExt};
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;
    use tokio_tungstenite::tungstenite::Message;

    let server = skiff_api::kubeconfig::Access::load(&cluster.kubeconfig())
        .unwrap()
        .server
        .replacen("http", "ws", 1);
    let url = format!("{server}/api/v1/namespaces/default/pods/{pod}/portforward?ports={port}");
    let mut request = url.into_client_request().unwrap();
    request.headers_mut().insert(
        "sec-websocket-protocol",
        "v4.channel.k8s.io".parse().unwrap(),
    );
    let (mut ws, _) = tokio_tungstenite::connect_async(request).await.unwrap();
    let [lo, hi] = port.to_le_bytes();
    let mut announced = Vec::new();
    while announced.len() < 2 {
        match ws.next().await {
            Some(Ok(Message::Binary(b))) => announced.push(b.to_vec()),
            other => panic!("expected the port announcements, got {other:?}"),
        }
    }
    assert_eq!(announced, [vec![0, lo, hi], vec![1, lo, hi]]);
    let mut frame = vec![0u8];
    frame.extend_from_slice(format!("GET {path} HTTP/1.0\r\nHost: pod\r\n\r\n").as_bytes());
    ws.send(Message::Binary(frame.into())).await.unwrap();
    let mut body = Vec::new();
    let read = async {
        while let Some(Ok(m)) = ws.next().await {
            match m {
                Message::Binary(b) if b.first() == Some(&0) => body.extend_from_slice(&b[1..]),
                Message::Binary(b) if b.first() == Some(&1) => {
                    panic!("error channel: {}", String::from_utf8_lossy(&b[1..]))
                }
                Message::Close(_) => break,
                _ => {}
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(20), read)
        .await
        .expect("the connection's bytes and then the end of the session");
    body
}

/// The official Python client's `portforward`, reading one file through a forwarded socket.
const PYTHON_PORT_FORWARD: &str = r#"
import sys
from kubernetes import client, config
from kubernetes.stream import portforward
config.load_kube_config(sys.argv[1])
api = client.CoreV1Api()
pf = portforward(api.connect_get_namespaced_pod_portforward, "web", "default", ports="8080")
s = pf.socket(8080)
s.setblocking(True)
s.sendall(b"GET /name HTTP/1.0\r\nHost: pod\r\n\r\n")
data = b""
while True:
    chunk = s.recv(65536)
    if not chunk:
        break
    data += chunk
s.close()
err = pf.error(8080)
if err:
    sys.exit("error channel: " + err)
print(data.decode())
"#;

/// `$SKIFF_PYTHON` (else `python3`) when it has the Kubernetes client; `None` (with a printed
/// reason) when it has not, which fails under SKIFF_REQUIRE_ENGINES=1.
fn python() -> Option<String> {
    let python = std::env::var("SKIFF_PYTHON").unwrap_or_else(|_| "python3".into());
    let has_client = Command::new(&python)
        .args(["-c", "import kubernetes"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !has_client {
        assert!(
            std::env::var("SKIFF_REQUIRE_ENGINES").as_deref() != Ok("1"),
            "{python} cannot import the kubernetes client and SKIFF_REQUIRE_ENGINES=1 (set SKIFF_PYTHON)"
        );
        eprintln!("skipping the Python client's part: {python} cannot import kubernetes");
    }
    has_client.then_some(python)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_port_forward_reaches_the_pods_loopback() {
    if !can_run() {
        return;
    }
    let cluster = Cluster::start_with("portfwd", "", &["--insecure-http"]);
    let site = cluster.dir.join("site");
    std::fs::create_dir_all(&site).unwrap();
    std::fs::write(site.join("name"), "web-0\n").unwrap();
    // 8 MiB that are not all alike, to catch a lost or reordered frame.
    let big: Vec<u8> = (0..8u32 << 20)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    std::fs::write(site.join("big"), &big).unwrap();
    let manifest = format!(
        r#"
apiVersion: v1
kind: Pod
metadata:
  name: web
  labels: {{app: web}}
spec:
  containers:
  - name: web
    image: python3
    command: ["python3", "-m", "http.server", "8080", "--bind", "127.0.0.1", "--directory", "{}"]
    ports:
    - {{name: http, containerPort: 8080}}
    readinessProbe:
      exec: {{command: ["python3", "-c", "import socket; socket.create_connection(('127.0.0.1', 8080))"]}}
      periodSeconds: 1
"#,
        site.display()
    );
    cluster.create(&manifest).await;
    let pod = cluster.wait_for("web", "ready", is_ready).await;
    let ip = pod.status.as_ref().and_then(|s| s.pod_ip.clone()).unwrap();
    assert!(
        TcpStream::connect_timeout(
            &format!("{ip}:8080").parse().unwrap(),
            Duration::from_secs(2)
        )
        .is_err(),
        "the server listens on the pod's loopback only: its pod IP must not answer"
    );

    // pod/NAME: a small file, a big one byte for byte, and connections side by side (one pair of
    // SPDY streams each).
    let forward = Forward::start(&cluster, "pod/web", "8080");
    let (code, body) = get(forward.port, "/name").unwrap();
    assert_eq!(
        (code, body.as_slice()),
        (200, b"web-0\n".as_slice()),
        "{}",
        forward.said()
    );
    let (code, body) = get(forward.port, "/big").unwrap();
    assert_eq!(code, 200);
    assert!(
        body == big,
        "the 8 MiB file arrived changed ({} bytes)",
        body.len()
    );
    let port = forward.port;
    let parallel: Vec<_> = (0..6)
        .map(|_| std::thread::spawn(move || get(port, "/name").map(|(c, b)| (c, b.len()))))
        .collect();
    for t in parallel {
        assert_eq!(t.join().unwrap().unwrap(), (200, 6));
    }
    drop(forward);

    // svc/NAME: kubectl picks a pod behind the Service and maps the port to the named targetPort.
    let (ok, out) = cluster.kubectl(&[
        "expose",
        "pod",
        "web",
        "--name",
        "web",
        "--port",
        "80",
        "--target-port",
        "http",
    ]);
    assert!(ok, "{out}");
    let forward = Forward::start(&cluster, "svc/web", "80");
    let (code, body) = get(forward.port, "/name").unwrap();
    assert_eq!(
        (code, body.as_slice()),
        (200, b"web-0\n".as_slice()),
        "{}",
        forward.said()
    );
    drop(forward);

    // A port nothing listens on: the connection fails, and kubectl prints the node's reason.
    let mut forward = Forward::start(&cluster, "pod/web", "9999");
    assert!(get(forward.port, "/").is_err() || get(forward.port, "/").is_err());
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    let mut said = String::new();
    while !said.contains("error forwarding port 9999") && std::time::Instant::now() < deadline {
        said.push_str(&forward.said());
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(
        said.contains("error forwarding port 9999 to pod default/web")
            && said.contains("Connection refused"),
        "kubectl said: {said}"
    );
    let _ = forward.child.kill();

    // The channel protocol of the client libraries, by hand: each port's two channels announced,
    // then the bytes of channel 0 are the connection's.
    let body = channel_get(&cluster, "web", 8080, "/name").await;
    assert!(
        body.ends_with(b"web-0\n"),
        "{:?}",
        String::from_utf8_lossy(&body)
    );
    // ... and as the official Python client drives it.
    if let Some(python) = python() {
        let out = Command::new(python)
            .args(["-c", PYTHON_PORT_FORWARD])
            .arg(cluster.kubeconfig())
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout).into_owned()
            + &String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success() && text.contains("web-0"), "{text}");
    }

    // A pod that does not exist: kubectl's own check, with the server's 404.
    let (ok, out) = cluster.kubectl(&["port-forward", "pod/nope", ":80"]);
    assert!(!ok && out.contains("pods \"nope\" not found"), "{out}");

    cluster.stop().await;
}
