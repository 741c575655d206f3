//! `pods/exec` as clients drive it by hand over the channel protocols, against a real `skiff up` on the
//! process runtime (root needed; skipped with a printed reason otherwise, unless SKIFF_REQUIRE_ENGINES=1):
//! an interactive `cat` echoes each line while stdin is open; v5's CLOSE signal ends its stdin, so it
//! exits and its status arrives; text frames (how the Python client sends a `str`) are stdin too; a
//! command whose container stops gets its status and a closed connection; a completed pod and a
//! container that is not running are refused with Kubernetes' words before any upgrade.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{can_run, is_running, status_of, Cluster};

use std::time::Duration;

use futures::{SinkExt, StreamExt};
use serde_json::Value;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message;

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// How long a step may take before the test calls it a hang.
const PATIENCE: Duration = Duration::from_secs(20);

async fn connect(cluster: &Cluster, pod: &str, command: &[&str], protocol: &str) -> Ws {
    let server = skiff_api::kubeconfig::Access::load(&cluster.kubeconfig())
        .unwrap()
        .server
        .replacen("http", "ws", 1);
    let commands: String = command.iter().map(|c| format!("&command={c}")).collect();
    let url = format!(
        "{server}/api/v1/namespaces/default/pods/{pod}/exec?container=main&stdin=true&stdout=true&stderr=true{commands}"
    );
    let mut request = url.into_client_request().unwrap();
    request
        .headers_mut()
        .insert("sec-websocket-protocol", protocol.parse().unwrap());
    let (ws, _) = tokio_tungstenite::connect_async(request).await.unwrap();
    ws
}

/// Reads frames until stdout has carried `want`; returns false if the socket ends first.
async fn read_stdout(ws: &mut Ws, want: &str) -> bool {
    let mut out = String::new();
    tokio::time::timeout(PATIENCE, async {
        while let Some(Ok(msg)) = ws.next().await {
            if let Message::Binary(b) = msg {
                if b.first() == Some(&1) {
                    out.push_str(&String::from_utf8_lossy(&b[1..]));
                    if out.contains(want) {
                        return true;
                    }
                }
            }
        }
        false
    })
    .await
    .unwrap_or_else(|_| panic!("no {want:?} on stdout within {PATIENCE:?} (got {out:?})"))
}

/// Reads frames to the status (channel 3) and then the end of the connection.
async fn read_status_and_close(ws: &mut Ws) -> Value {
    tokio::time::timeout(PATIENCE, async {
        let mut status = None;
        while let Some(Ok(msg)) = ws.next().await {
            match msg {
                Message::Binary(b) if b.first() == Some(&3) => {
                    status = Some(serde_json::from_slice(&b[1..]).unwrap())
                }
                Message::Close(_) => break,
                _ => {}
            }
        }
        status.expect("a status frame before the connection closed")
    })
    .await
    .expect("the status and the close, not a hang")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exec_is_interactive_and_always_ends() {
    if !can_run() {
        return;
    }
    let cluster = Cluster::start_with("exec", "", &["--insecure-http"]);
    cluster
        .create(
            r#"
apiVersion: v1
kind: Pod
metadata: {name: shell}
spec:
  restartPolicy: Never
  containers:
  - name: main
    image: sh
    command: ["sleep", "3600"]
"#,
        )
        .await;
    let pod = cluster
        .wait_for("shell", "running", |p| is_running(p, "main"))
        .await;

    // v5, binary frames: each line comes back while stdin is still open.
    let mut ws = connect(&cluster, "shell", &["cat"], "v5.channel.k8s.io").await;
    for line in ["hello\n", "again\n"] {
        let mut frame = vec![0u8];
        frame.extend_from_slice(line.as_bytes());
        ws.send(Message::Binary(frame.into())).await.unwrap();
        assert!(
            read_stdout(&mut ws, line).await,
            "the socket ended before {line:?}"
        );
    }
    // CLOSE (255) of stdin (channel 0): cat sees end of file, exits 0, the status arrives.
    ws.send(Message::Binary(vec![255u8, 0].into()))
        .await
        .unwrap();
    let status = read_status_and_close(&mut ws).await;
    assert_eq!(status["status"], "Success", "{status}");

    // v4 with text frames, as the Python client writes a `str`.
    let mut ws = connect(&cluster, "shell", &["cat"], "v4.channel.k8s.io").await;
    ws.send(Message::Text("\u{0}typed\n".into())).await.unwrap();
    assert!(read_stdout(&mut ws, "typed\n").await);
    ws.close(None).await.unwrap();

    // A command whose container stops meanwhile: its status (killed) and a closed connection.
    let mut ws = connect(&cluster, "shell", &["sleep", "600"], "v5.channel.k8s.io").await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let main = status_of(&pod, "main").unwrap();
    let pid = cluster.pid(main.container_id.as_deref().unwrap());
    std::process::Command::new("kill")
        .args(["-9", &pid.to_string()])
        .status()
        .unwrap();
    let status = read_status_and_close(&mut ws).await;
    assert_eq!(status["status"], "Failure", "{status}");
    assert_eq!(status["details"]["causes"][0]["message"], "137", "{status}");

    // A container that is not running, in a pod that is: the kubelet's "container not found".
    cluster
        .create(
            r#"
apiVersion: v1
kind: Pod
metadata: {name: pair}
spec:
  restartPolicy: Never
  containers:
  - name: main
    image: sh
    command: ["sleep", "3600"]
  - name: done
    image: sh
    command: ["true"]
"#,
        )
        .await;
    cluster
        .wait_for("pair", "done to exit", |p| {
            is_running(p, "main")
                && status_of(p, "done")
                    .is_some_and(|c| c.state.as_ref().is_some_and(|s| s.terminated.is_some()))
        })
        .await;
    let (ok, text) = cluster.kubectl(&["exec", "pair", "-c", "done", "--", "true"]);
    assert!(!ok, "{text}");
    assert!(text.contains("container not found (\"done\")"), "{text}");

    // The pod has completed now (restartPolicy Never): exec is refused at once, with a 400.
    cluster
        .wait_for("shell", "Failed", |p| {
            p.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Failed")
        })
        .await;
    let (ok, text) = cluster.kubectl(&["exec", "shell", "--", "true"]);
    assert!(!ok, "{text}");
    assert!(
        text.contains("cannot exec into a container in a completed pod; current phase is Failed"),
        "{text}"
    );
    cluster.stop().await;
}
