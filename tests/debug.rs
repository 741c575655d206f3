//! `kubectl debug -i pod/x --image=... --target=c` against a real `skiff up` on the process runtime
//! (root needed; skipped with a printed reason otherwise, unless SKIFF_REQUIRE_ENGINES=1): kubectl
//! patches `pods/x/ephemeralcontainers`, waits for the agent to run the container, and attaches to
//! it through `pods/x/attach`. What it types reaches the shell's stdin, what the shell prints comes
//! back, and the shell sees the target's volume (it joined the target's mount namespace). The
//! container's end is in `ephemeralContainerStatuses`, its output in `kubectl logs -c`, and it is
//! never restarted.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::Duration;

use common::{can_run, is_running, Cluster};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_debug_attaches_an_ephemeral_container_in_the_targets_namespaces() {
    if !can_run() {
        return;
    }
    let cluster = Cluster::start("debug", "");
    // A volume only the target's mount namespace has: its mount point is empty on the host.
    let data = cluster.dir.join("target-data");
    let yaml = format!(
        r#"
apiVersion: v1
kind: Pod
metadata: {{name: shell}}
spec:
  volumes: [{{name: data, emptyDir: {{}}}}]
  containers:
  - name: main
    image: sh
    command: ["sh", "-c", "echo seen-only-by-main > {data}/marker; exec sleep 3600"]
    volumeMounts: [{{name: data, mountPath: {data}}}]
"#,
        data = data.display()
    );
    cluster.create(&yaml).await;
    cluster
        .wait_for("shell", "running", |p| is_running(p, "main"))
        .await;
    assert!(
        !data.join("marker").exists(),
        "the marker must live in main's mount namespace only"
    );

    let home = cluster.dir.join("home");
    std::fs::create_dir_all(&home).unwrap();
    let mut kubectl = Command::new("kubectl")
        .args([
            "debug",
            "shell",
            "-i",
            "--image=busybox",
            "--target=main",
            "--container=debugger",
            "--",
            "sh",
        ])
        .env("KUBECONFIG", cluster.kubeconfig())
        .env("HOME", &home)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("kubectl on PATH");
    let script = format!(
        "cat {}/marker\necho debugger-was-here\nexit 3\n",
        data.display()
    );
    kubectl
        .stdin
        .take()
        .unwrap()
        .write_all(script.as_bytes())
        .unwrap();
    let out = tokio::task::spawn_blocking(move || kubectl.wait_with_output())
        .await
        .unwrap()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(
        stdout.contains("seen-only-by-main") && stdout.contains("debugger-was-here"),
        "kubectl debug: stdout {stdout:?}, stderr {stderr:?}"
    );

    // The end is reported, once, and the container stays as it ended.
    let pod = cluster
        .wait_for("shell", "the debugger's end", |p| {
            p.status.as_ref().is_some_and(|s| {
                s.ephemeral_container_statuses.iter().any(|c| {
                    c.name == "debugger"
                        && c.state
                            .as_ref()
                            .and_then(|st| st.terminated.as_ref())
                            .is_some_and(|t| t.exit_code == 3)
                })
            })
        })
        .await;
    let spec = &pod.spec.ephemeral_containers[0];
    assert_eq!(spec.target_container_name.as_deref(), Some("main"));
    assert_eq!(spec.stdin, Some(true));
    let status = pod.status.as_ref().unwrap();
    assert_eq!(status.phase.as_deref(), Some("Running"));
    assert!(
        status
            .conditions
            .iter()
            .any(|c| c.type_ == "Ready" && c.status == "True"),
        "an ended ephemeral container does not make the pod unready: {:?}",
        status.conditions
    );
    let (ok, logs) = cluster.kubectl(&["logs", "shell", "-c", "debugger"]);
    assert!(ok && logs.contains("debugger-was-here"), "{logs}");
    tokio::time::sleep(Duration::from_secs(2)).await;
    let pod = cluster.pods().get("shell").await.unwrap();
    let ec = &pod.status.as_ref().unwrap().ephemeral_container_statuses[0];
    assert_eq!(
        ec.restart_count, 0,
        "ephemeral containers are never restarted"
    );
    assert!(ec.state.as_ref().unwrap().terminated.is_some());

    // Attaching to an ended container is refused at once with the kubelet's words.
    let (ok, text) = cluster.kubectl(&["attach", "shell", "-c", "debugger"]);
    assert!(!ok && text.contains("container not found"), "{text}");
    cluster.stop().await;
}
