//! Pod start benchmark (real processes, real cgroups and network namespaces; needs root):
//! `skiff server` (embedded store) and `skiff node` (process runtime) as two processes, pods created one
//! at a time with `spec.nodeName` set, latency from the API create to `Running` seen by a watch; beside
//! it, the bare cost of spawning the same command; then the agent's memory with 100 pods running.
//!
//! Run: `cargo bench --bench pod_start`. Prints a table; not a test.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::collections::HashMap;
use std::io::BufRead;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::StreamExt;
use skiff_core::client::{Api, DeleteParams, Event, WatchParams};
use skiff_core::kinds::{Container, Node, Pod};

const PODS: usize = 100;

struct Proc(Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .any(|l| l.starts_with("Uid:") && l.split_whitespace().nth(1) == Some("0"))
}

fn main() {
    if !is_root() {
        println!(
            "pod_start: skipped (the process runtime's cgroups and network namespaces need root)"
        );
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let exe = env!("CARGO_BIN_EXE_skiff");
    let mut server = Command::new(exe)
        .args(["server", "--port", "0", "--insecure-http", "--data-dir"])
        .arg(dir.path().join("server"))
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut reader = std::io::BufReader::new(server.stdout.take().unwrap());
    let mut first = String::new();
    reader.read_line(&mut first).unwrap();
    std::thread::spawn(move || std::io::copy(&mut reader, &mut std::io::sink()));
    let _server = Proc(server);
    let url = first
        .split_whitespace()
        .find(|w| w.starts_with("http://"))
        .unwrap()
        .to_string();
    let node = Proc(
        Command::new(exe)
            .args([
                "node",
                "--server",
                &url,
                "--node-name",
                "bench",
                "--pod-cidr",
                "10.244.250.0/24",
                "--data-dir",
            ])
            .arg(dir.path().join("node"))
            .stdout(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let node_pid = node.0.id();
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let client = Arc::new(skiff_api::HttpClient::new(&url));
        let nodes: Api<Node> = Api::all(client.clone());
        while nodes.get_opt("bench").await.ok().flatten().is_none() {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
        let seen: Arc<Mutex<HashMap<String, Instant>>> = Arc::default();
        let notify = Arc::new(tokio::sync::Notify::new());
        let mut stream = pods.watch(&WatchParams::default()).await.unwrap();
        {
            let seen = seen.clone();
            let notify = notify.clone();
            tokio::spawn(async move {
                while let Some(Ok(ev)) = stream.next().await {
                    if let Event::Added(p) | Event::Modified(p) = ev {
                        if p.phase() == "Running" {
                            let name = p.metadata.name.clone().unwrap_or_default();
                            seen.lock().unwrap().entry(name).or_insert_with(Instant::now);
                            notify.notify_waiters();
                        }
                    }
                }
            });
        }
        let mut latencies = Vec::new();
        for i in 0..PODS {
            let name = format!("p{i}");
            let mut pod = Pod::named(&name);
            pod.spec.node_name = Some("bench".into());
            let mut c = Container::new("main", "sleep");
            c.args = vec!["3600".into()];
            pod.spec.containers.push(c);
            let t0 = Instant::now();
            pods.create(&pod).await.unwrap();
            loop {
                let wait = notify.notified();
                if let Some(t) = seen.lock().unwrap().get(&name) {
                    latencies.push(t.duration_since(t0).as_secs_f64() * 1000.0);
                    break;
                }
                let _ = tokio::time::timeout(Duration::from_millis(100), wait).await;
            }
        }
        tokio::time::sleep(Duration::from_secs(2)).await;
        let agent_rss = rss_kib(node_pid);
        // The bare cost: spawning the same command directly.
        let mut bare = Vec::new();
        let mut children = Vec::new();
        for _ in 0..PODS {
            let t0 = Instant::now();
            let child = Command::new("sleep").arg("3600").spawn().unwrap();
            bare.push(t0.elapsed().as_secs_f64() * 1000.0);
            children.push(Proc(child));
        }
        drop(children);
        latencies.sort_by(|a, b| a.partial_cmp(b).unwrap());
        bare.sort_by(|a, b| a.partial_cmp(b).unwrap());
        let (p50, p99) = (percentile(&latencies, 0.5), percentile(&latencies, 0.99));
        let (b50, b99) = (percentile(&bare, 0.5), percentile(&bare, 0.99));
        println!("pod start, process runtime, {PODS} pods one at a time (create -> Running seen by a watch)");
        println!("| measure | skiff pod | bare spawn | ratio | target |");
        println!("|---|---|---|---|---|");
        println!("| p50 | {p50:.1} ms | {b50:.2} ms | {:.0}x | <= 50 ms |", p50 / b50);
        println!("| p99 | {p99:.1} ms | {b99:.2} ms | {:.0}x | <= 200 ms |", p99 / b99);
        println!(
            "| agent RSS with {PODS} pods | {:.1} MB | | | <= 30 MB |",
            agent_rss as f64 / 1024.0
        );
        // Clean up: graceful deletes, the agent stops every process.
        for i in 0..PODS {
            let _ = pods
                .delete(&format!("p{i}"), &DeleteParams { grace_period_seconds: Some(1), ..DeleteParams::default() })
                .await;
        }
        let deadline = Instant::now() + Duration::from_secs(60);
        while Instant::now() < deadline {
            let left = pods.list(&Default::default()).await.map(|l| l.items.len()).unwrap_or(0);
            if left == 0 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    });
    drop(node);
    let _ = Command::new("ip")
        .args(["link", "del", "skiff250"])
        .status();
}
