//! The ReplicaSet controller and the garbage collector behind the API server, driven by the real
//! kubectl: `kubectl scale rs`, `kubectl delete rs` (background, orphan and foreground cascades).
//! No node agent runs: pods stay Pending, which is all these tests need. Skipped (with a printed
//! reason) when kubectl is not installed, unless SKIFF_REQUIRE_ENGINES=1.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use skiff_api::ApiServer;
use skiff_core::client::InProcessClient;
use skiff_core::codec::Scheme;
use skiff_core::shutdown::Shutdown;
use skiff_core::store::MemoryStore;

fn kubectl_present() -> bool {
    let ok = Command::new("kubectl")
        .args(["version", "--client"])
        .output()
        .is_ok();
    if !ok {
        let required = std::env::var("SKIFF_REQUIRE_ENGINES").is_ok_and(|v| v == "1");
        assert!(
            !required,
            "kubectl is not on PATH and SKIFF_REQUIRE_ENGINES=1"
        );
        eprintln!("SKIPPED: kubectl is not on PATH");
    }
    ok
}

fn kubectl(dir: &Path, args: &[&str]) -> String {
    let home = dir.join("home");
    std::fs::create_dir_all(&home).unwrap();
    let out = Command::new("kubectl")
        .args(args)
        .env("KUBECONFIG", dir.join("kubeconfig"))
        .env("HOME", &home)
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "kubectl {args:?} failed:\n{text}");
    text
}

fn eventually(what: &str, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        if f() {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("timed out waiting for: {what}");
}

fn pod_names(dir: &Path, selector: &str) -> Vec<String> {
    kubectl(
        dir,
        &[
            "get",
            "pods",
            "-l",
            selector,
            "-o",
            "jsonpath={.items[*].metadata.name}",
        ],
    )
    .split_whitespace()
    .map(str::to_string)
    .collect()
}

const MANIFEST: &str = "apiVersion: apps/v1
kind: ReplicaSet
metadata: {name: NAME}
spec:
  replicas: 2
  selector: {matchLabels: {app: NAME}}
  template:
    metadata: {labels: {app: NAME}}
    spec:
      containers: [{name: main, image: busybox}]
";

#[test]
fn kubectl_scale_and_delete_replica_sets() {
    if !kubectl_present() {
        return;
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let (stop, shutdown) = Shutdown::new();
    let addr = rt.block_on(async {
        let client = InProcessClient::shared(Arc::new(MemoryStore::new()));
        let server = ApiServer::new(client.clone(), Scheme::builtin());
        server.ensure_namespaces().await.unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(server.serve(listener, shutdown.clone()));
        tokio::spawn(skiff_controllers::replicaset::run(
            client.clone(),
            shutdown.clone(),
        ));
        tokio::spawn(skiff_controllers::gc::run(client, shutdown));
        addr
    });
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    skiff_api::kubeconfig::write(&dir.join("kubeconfig"), &format!("http://{addr}")).unwrap();

    for name in ["web", "kept", "fg"] {
        let file = dir.join(format!("{name}.yaml"));
        std::fs::write(&file, MANIFEST.replace("NAME", name)).unwrap();
        kubectl(dir, &["apply", "-f", file.to_str().unwrap()]);
    }
    eventually("2 web pods", || pod_names(dir, "app=web").len() == 2);

    kubectl(dir, &["scale", "rs", "web", "--replicas=4"]);
    eventually("4 web pods", || pod_names(dir, "app=web").len() == 4);
    eventually("status.replicas 4", || {
        kubectl(
            dir,
            &["get", "rs", "web", "-o", "jsonpath={.status.replicas}"],
        )
        .trim()
            == "4"
    });
    kubectl(dir, &["scale", "rs", "web", "--replicas=1"]);
    eventually("1 web pod", || pod_names(dir, "app=web").len() == 1);

    // Cascading delete: the garbage collector removes the pods.
    kubectl(dir, &["delete", "rs", "web"]);
    eventually("web pods gone", || pod_names(dir, "app=web").is_empty());

    // Orphaning delete: the pods stay, without an owner.
    eventually("2 kept pods", || pod_names(dir, "app=kept").len() == 2);
    kubectl(dir, &["delete", "rs", "kept", "--cascade=orphan"]);
    eventually("kept rs gone", || {
        !kubectl(dir, &["get", "rs", "-o", "name"]).contains("kept")
    });
    let owners = kubectl(
        dir,
        &[
            "get",
            "pods",
            "-l",
            "app=kept",
            "-o",
            "jsonpath={.items[*].metadata.ownerReferences}",
        ],
    );
    assert_eq!(pod_names(dir, "app=kept").len(), 2);
    assert!(owners.trim().is_empty(), "orphans keep no owner: {owners}");

    // Foreground delete: kubectl waits until the set is gone, which is after its pods.
    eventually("2 fg pods", || pod_names(dir, "app=fg").len() == 2);
    kubectl(
        dir,
        &[
            "delete",
            "rs",
            "fg",
            "--cascade=foreground",
            "--timeout=20s",
        ],
    );
    assert!(
        pod_names(dir, "app=fg").is_empty(),
        "pods go before their owner"
    );
    let events = kubectl(dir, &["get", "events", "-o", "jsonpath={.items[*].reason}"]);
    assert!(
        events.contains("SuccessfulCreate") && events.contains("SuccessfulDelete"),
        "{events}"
    );
    stop.trigger();
}
