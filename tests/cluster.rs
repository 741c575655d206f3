//! The whole cluster end to end, as the notes Skiff started from promise it: state the desired state,
//! and the system places pods on nodes and brings them back when they die. `skiff up` runs the API
//! server, the scheduler, the ReplicaSet controller, the garbage collector, the node lifecycle controller
//! and a node agent; more nodes join with `skiff node`. Needs root (see `common`).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{can_run, is_running, pid_alive, Cluster};
use skiff_core::client::{Api, ListParams};
use skiff_core::kinds::{Node, Pod};

const RS: &str = r#"
apiVersion: apps/v1
kind: ReplicaSet
metadata: {name: web}
spec:
  replicas: 3
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      nodeSelector: {disktype: ssd}
      terminationGracePeriodSeconds: 2
      containers:
      - name: main
        image: sleep
        args: ["600"]
        resources: {requests: {cpu: 100m, memory: 32Mi}}
"#;

fn pods_api(cluster: &Cluster) -> Api<Pod> {
    cluster.pods()
}

/// Pods of `app=web` that are not being deleted.
async fn live_pods(cluster: &Cluster) -> Vec<Pod> {
    pods_api(cluster)
        .list(&ListParams::default().labels("app=web"))
        .await
        .unwrap()
        .items
        .into_iter()
        .filter(|p| p.metadata.deletion_timestamp.is_none())
        .collect()
}

async fn wait_until<F, Fut>(what: &str, secs: u64, mut f: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<(), String>>,
{
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        match f().await {
            Ok(()) => return,
            Err(state) if Instant::now() > deadline => {
                panic!("timed out waiting for {what}: {state}")
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(250)).await,
        }
    }
}

/// `n` live pods of the set, all Running.
async fn running(cluster: &Cluster, n: usize) -> Result<(), String> {
    let pods = live_pods(cluster).await;
    let up = pods.iter().filter(|p| is_running(p, "main")).count();
    if pods.len() == n && up == n {
        Ok(())
    } else {
        Err(format!("{} pods, {up} running", pods.len()))
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_replicaset_is_placed_kept_healed_scaled_and_cascaded() {
    if !can_run() {
        return;
    }
    let cluster = Cluster::start("heal", "disktype=ssd");
    let file = cluster.dir.join("rs.yaml");
    std::fs::write(&file, RS).unwrap();
    let (ok, out) = cluster.kubectl(&["apply", "-f", file.to_str().unwrap()]);
    assert!(ok && out.contains("replicaset.apps/web created"), "{out}");
    wait_until("3 running pods", 60, || running(&cluster, 3)).await;
    let pods = live_pods(&cluster).await;
    assert!(pods
        .iter()
        .all(|p| p.spec.node_name.as_deref() == Some(cluster.node.as_str())));

    // Kill a pod's process: the node agent restarts the container.
    let victim = pods[0].clone();
    let name = victim.metadata.name.clone().unwrap();
    let id = victim.status.as_ref().unwrap().container_statuses[0]
        .container_id
        .clone()
        .unwrap();
    let pid = cluster.pid(&id);
    nix_kill(pid);
    cluster
        .wait_for(&name, "a restart after kill -9", |p| {
            is_running(p, "main")
                && p.status.as_ref().unwrap().container_statuses[0].restart_count >= 1
        })
        .await;

    // Delete a pod: the ReplicaSet replaces it.
    let (ok, out) = cluster.kubectl(&["delete", "pod", &name]);
    assert!(ok, "{out}");
    wait_until("a replacement", 60, || async {
        running(&cluster, 3).await?;
        let names: Vec<String> = live_pods(&cluster)
            .await
            .into_iter()
            .filter_map(|p| p.metadata.name)
            .collect();
        if names.contains(&name) {
            Err(format!("{name} still there"))
        } else {
            Ok(())
        }
    })
    .await;
    assert!(!pid_alive(pid));

    // Scale up and down with kubectl.
    let (ok, out) = cluster.kubectl(&["scale", "rs", "web", "--replicas=5"]);
    assert!(ok, "{out}");
    wait_until("5 running pods", 60, || running(&cluster, 5)).await;
    let (ok, out) = cluster.kubectl(&["scale", "rs", "web", "--replicas=2"]);
    assert!(ok, "{out}");
    wait_until("2 running pods", 60, || running(&cluster, 2)).await;
    let (_, out) = cluster.kubectl(&["get", "rs", "web"]);
    let row: Vec<&str> = out
        .lines()
        .nth(1)
        .unwrap_or("")
        .split_whitespace()
        .collect();
    assert_eq!(row[..4], ["web", "2", "2", "2"], "{out}");

    // A pod that fits nowhere: Kubernetes' words.
    let huge = cluster.dir.join("huge.yaml");
    std::fs::write(
        &huge,
        "apiVersion: v1\nkind: Pod\nmetadata: {name: huge}\nspec:\n  containers:\n  - {name: main, image: sleep, args: [\"600\"], resources: {requests: {cpu: \"64\"}}}\n",
    )
    .unwrap();
    cluster.kubectl(&["apply", "-f", huge.to_str().unwrap()]);
    wait_until("FailedScheduling", 30, || async {
        let (_, out) = cluster.kubectl(&[
            "get",
            "events",
            "--field-selector",
            "involvedObject.name=huge",
        ]);
        if out.contains("FailedScheduling")
            && out.contains("0/1 nodes are available: 1 Insufficient cpu.")
        {
            Ok(())
        } else {
            Err(out)
        }
    })
    .await;
    let pending = pods_api(&cluster).get("huge").await.unwrap();
    let scheduled = pending
        .status
        .unwrap()
        .conditions
        .into_iter()
        .find(|c| c.type_ == "PodScheduled")
        .unwrap();
    assert_eq!(
        (scheduled.status.as_str(), scheduled.reason.as_deref()),
        ("False", Some("Unschedulable"))
    );
    cluster.kubectl(&["delete", "pod", "huge", "--wait=false"]);

    // Deleting the ReplicaSet deletes its pods (background cascade) and their processes.
    let pids: Vec<i32> = live_pods(&cluster)
        .await
        .iter()
        .map(|p| {
            cluster.pid(
                p.status.as_ref().unwrap().container_statuses[0]
                    .container_id
                    .as_deref()
                    .unwrap(),
            )
        })
        .collect();
    let (ok, out) = cluster.kubectl(&["delete", "rs", "web"]);
    assert!(ok, "{out}");
    wait_until("the pods gone", 60, || async {
        let left = pods_api(&cluster)
            .list(&ListParams::default().labels("app=web"))
            .await
            .unwrap()
            .items
            .len();
        if left == 0 {
            Ok(())
        } else {
            Err(format!("{left} pods left"))
        }
    })
    .await;
    for pid in pids {
        assert!(!pid_alive(pid), "process {pid} of a deleted pod still runs");
    }
    cluster.stop().await;
}

fn nix_kill(pid: i32) {
    std::process::Command::new("kill")
        .args(["-9", &pid.to_string()])
        .status()
        .unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn nodes_joining_over_http_share_the_pods_and_a_lost_node_is_replaced() {
    if !can_run() {
        return;
    }
    let cluster = Cluster::start_with(
        "multi",
        "zone=a",
        &[
            "--node-monitor-grace-period",
            "12s",
            "--pod-eviction-timeout",
            "1s",
        ],
    );
    let other = format!("node-multi-b-{}", cluster.subnet);
    let subnet_b = cluster.subnet + 40;
    let mut agent_b = second_node_with_labels(&cluster, &other, subnet_b, "zone=b,disktype=ssd");
    let client = Arc::new(skiff_api::HttpClient::from_kubeconfig(&cluster.kubeconfig()).unwrap());
    let nodes: Api<Node> = Api::all(client.clone());
    wait_until("the second node", 30, || async {
        nodes
            .get_opt(&other)
            .await
            .unwrap()
            .map(|_| ())
            .ok_or_else(|| "not yet".to_string())
    })
    .await;

    // Without a nodeSelector the scheduler spreads 4 equal pods over both nodes.
    let spread = RS
        .replace("replicas: 3", "replicas: 4")
        .replace("      nodeSelector: {disktype: ssd}\n", "");
    let file = cluster.dir.join("rs.yaml");
    std::fs::write(&file, spread).unwrap();
    assert!(cluster.kubectl(&["apply", "-f", file.to_str().unwrap()]).0);
    wait_until("4 running pods", 60, || running(&cluster, 4)).await;
    let on = |pods: &[Pod], node: &str| {
        pods.iter()
            .filter(|p| p.spec.node_name.as_deref() == Some(node))
            .count()
    };
    let pods = live_pods(&cluster).await;
    assert_eq!(
        (on(&pods, &cluster.node), on(&pods, &other)),
        (2, 2),
        "least-allocated spreads them"
    );

    // nodeSelector: only node B has disktype=ssd.
    let picky = cluster.dir.join("picky.yaml");
    std::fs::write(
        &picky,
        "apiVersion: v1\nkind: Pod\nmetadata: {name: picky}\nspec:\n  nodeSelector: {disktype: ssd}\n  containers:\n  - {name: main, image: sleep, args: [\"600\"]}\n",
    )
    .unwrap();
    assert!(cluster.kubectl(&["apply", "-f", picky.to_str().unwrap()]).0);
    let picky = cluster
        .wait_for("picky", "running", |p| is_running(p, "main"))
        .await;
    assert_eq!(picky.spec.node_name.as_deref(), Some(other.as_str()));

    // Node B is lost: after the grace period and the eviction timeout its pods are evicted and the
    // ReplicaSet's are replaced on node A.
    agent_b.kill().unwrap();
    agent_b.wait().unwrap();
    wait_until("replacements on node A", 90, || async {
        let pods = live_pods(&cluster).await;
        let up_on_a = pods
            .iter()
            .filter(|p| {
                p.spec.node_name.as_deref() == Some(cluster.node.as_str()) && is_running(p, "main")
            })
            .count();
        if pods.len() == 4 && up_on_a == 4 {
            Ok(())
        } else {
            Err(format!("{} live pods, {up_on_a} running on A", pods.len()))
        }
    })
    .await;

    // B comes back: Ready again, and its agent stops what was evicted meanwhile.
    let mut agent_b = second_node_with_labels(&cluster, &other, subnet_b, "zone=b,disktype=ssd");
    wait_until("node B back and clean", 60, || async {
        let all = pods_api(&cluster)
            .list(&ListParams::default())
            .await
            .unwrap()
            .items;
        let left_on_b = all
            .iter()
            .filter(|p| {
                p.spec.node_name.as_deref() == Some(other.as_str())
                    && p.metadata.name.as_deref() != Some("picky")
            })
            .count();
        let n = nodes.get(&other).await.unwrap();
        let ready = n
            .status
            .unwrap()
            .conditions
            .into_iter()
            .any(|c| c.type_ == "Ready" && c.status == "True");
        if left_on_b == 0 && ready && n.spec.taints.is_empty() {
            Ok(())
        } else {
            Err(format!(
                "{left_on_b} evicted pods left on B, ready {ready}, taints {:?}",
                n.spec.taints
            ))
        }
    })
    .await;
    let (ok, out) = cluster.kubectl(&["delete", "rs", "web"]);
    assert!(ok, "{out}");
    cluster.kubectl(&["delete", "pod", "picky"]);
    wait_until("everything gone", 60, || async {
        let left = pods_api(&cluster)
            .list(&ListParams::default())
            .await
            .unwrap()
            .items
            .len();
        if left == 0 {
            Ok(())
        } else {
            Err(format!("{left} pods left"))
        }
    })
    .await;
    agent_b.kill().unwrap();
    agent_b.wait().unwrap();
    let _ = std::process::Command::new("ip")
        .args(["link", "del", &format!("skiff{subnet_b}")])
        .status();
    cluster.stop().await;
}

fn second_node_with_labels(
    cluster: &Cluster,
    name: &str,
    subnet: u8,
    labels: &str,
) -> std::process::Child {
    std::process::Command::new(env!("CARGO_BIN_EXE_skiff"))
        .args(["node", "--kubeconfig"])
        .arg(cluster.kubeconfig())
        .args(["--node-name", name, "--node-labels", labels, "--pod-cidr"])
        .arg(format!("10.244.{subnet}.0/24"))
        .arg("--data-dir")
        .arg(cluster.dir.join(name))
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap()
}
