//! Pod start benchmark (real processes, real cgroups and network namespaces; needs root):
//! `skiff server` (embedded store) and `skiff node` as two processes, pods created one at a time with
//! `spec.nodeName` set, latency from the API create to `Running` seen by a watch; beside it, the
//! engine's own cost for the same command; then the agent's memory with the pods running.
//!
//! - `cargo bench --bench pod_start`: the process runtime, 100 pods, beside a bare `spawn()`.
//! - `POD_START_RUNTIME=docker cargo bench --bench pod_start`: the Docker runtime (Docker running,
//!   `scripts/test-images.sh` run), 50 pods of busybox `sleep 3600`, beside `docker run -d` of the same.
//! - `POD_START_RUNTIME=podman cargo bench --bench pod_start`: the Podman runtime (Podman's REST
//!   service running), the same 50 pods, beside `podman run -d` of the same, and beside `podman run
//!   -d --pod new:` (a pod with its infra container and the app: what a Skiff pod is on Podman).
//!
//! Prints a table; not a test.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::collections::HashMap;
use std::io::BufRead;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::StreamExt;
use skiff_core::client::{Api, DeleteParams, Event, WatchParams};
use skiff_core::kinds::{Container, Node, Pod};

/// Which runtime the node runs, and what the baseline is.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Backend {
    Process,
    Docker,
    Podman,
}

impl Backend {
    fn from_env() -> Self {
        match std::env::var("POD_START_RUNTIME").as_deref() {
            Ok("docker") => Self::Docker,
            Ok("podman") => Self::Podman,
            _ => Self::Process,
        }
    }

    fn pods(self) -> usize {
        match self {
            Self::Process => 100,
            Self::Docker | Self::Podman => 50,
        }
    }

    /// The node's extra flags.
    fn node_args(self) -> Vec<&'static str> {
        match self {
            Self::Process => vec!["--pod-cidr", "10.244.250.0/24"],
            Self::Docker => vec![
                "--runtime",
                "docker",
                "--pod-cidr",
                "10.250.10.0/24",
                "--pod-infra-image",
                "127.0.0.1:5000/pause:3.10",
            ],
            Self::Podman => vec!["--runtime", "podman", "--pod-cidr", "10.250.30.0/24"],
        }
    }

    /// The pod's container: `sleep 3600`.
    fn container(self) -> Container {
        let mut c = match self {
            Self::Process => Container::new("main", "sleep"),
            Self::Docker | Self::Podman => {
                let mut c = Container::new("main", "busybox");
                c.command = vec!["sleep".into()];
                c.image_pull_policy = Some("IfNotPresent".into());
                c
            }
        };
        c.args = vec!["3600".into()];
        c
    }

    /// Starts the same command the engine's own way; returns its cost in ms and something that
    /// stops it when dropped.
    fn baseline(self) -> (f64, Box<dyn std::any::Any>) {
        let t0 = Instant::now();
        match self {
            Self::Process => {
                let child = Command::new("sleep").arg("3600").spawn().unwrap();
                (t0.elapsed().as_secs_f64() * 1000.0, Box::new(Proc(child)))
            }
            Self::Docker => {
                let out = Command::new("docker")
                    .args(["run", "-d", "--network", "skiff-10-250-10-0-24"])
                    .args(["127.0.0.1:5000/library/busybox:latest", "sleep", "3600"])
                    .output()
                    .unwrap();
                let ms = t0.elapsed().as_secs_f64() * 1000.0;
                let id = String::from_utf8_lossy(&out.stdout).trim().to_string();
                (ms, Box::new(EngineContainer("docker", id)))
            }
            Self::Podman => {
                let out = Command::new("podman")
                    .args(["run", "-d", "--network", "skiff-10-250-30-0-24"])
                    .args(["docker.io/library/busybox:latest", "sleep", "3600"])
                    .output()
                    .unwrap();
                let ms = t0.elapsed().as_secs_f64() * 1000.0;
                let id = String::from_utf8_lossy(&out.stdout).trim().to_string();
                (ms, Box::new(EngineContainer("podman", id)))
            }
        }
    }

    /// Podman's own pod: `podman run -d --pod new:NAME` (the infra container and the app).
    fn podman_pod(i: usize) -> (f64, Box<dyn std::any::Any>) {
        let name = format!("bench-pod-{i}");
        let t0 = Instant::now();
        let _ = Command::new("podman")
            .args(["run", "-d", "--network", "skiff-10-250-30-0-24"])
            .arg(format!("--pod=new:{name}"))
            .args(["docker.io/library/busybox:latest", "sleep", "3600"])
            .output()
            .unwrap();
        let ms = t0.elapsed().as_secs_f64() * 1000.0;
        (ms, Box::new(PodmanPod(name)))
    }

    fn label(self) -> (&'static str, &'static str) {
        match self {
            Self::Process => ("process runtime", "bare spawn"),
            Self::Docker => ("Docker runtime", "docker run -d"),
            Self::Podman => ("Podman runtime", "podman run -d"),
        }
    }
}

/// A container of the baseline (engine CLI, id), removed when dropped.
struct EngineContainer(&'static str, String);

impl Drop for EngineContainer {
    fn drop(&mut self) {
        // Podman waits 10 s for a stop unless told not to; Docker's `rm -f` kills at once.
        let now: &[&str] = if self.0 == "podman" {
            &["-t", "0"]
        } else {
            &[]
        };
        let _ = Command::new(self.0)
            .args(["rm", "-f"])
            .args(now)
            .arg(&self.1)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}

/// A Podman pod of the baseline, removed when dropped.
struct PodmanPod(String);

impl Drop for PodmanPod {
    fn drop(&mut self) {
        let _ = Command::new("podman")
            .args(["pod", "rm", "-f", "-t", "0", &self.0])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}

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

fn main() {
    if !skiff::is_root() {
        println!(
            "pod_start: skipped (the process runtime's cgroups and network namespaces need root)"
        );
        return;
    }
    let backend = Backend::from_env();
    let pods_n = backend.pods();
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
            .args(["node", "--server", &url, "--node-name", "bench"])
            .args(backend.node_args())
            .arg("--data-dir")
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
                            seen.lock()
                                .unwrap()
                                .entry(name)
                                .or_insert_with(Instant::now);
                            notify.notify_waiters();
                        }
                    }
                }
            });
        }
        let mut latencies = Vec::new();
        for i in 0..pods_n {
            let name = format!("p{i}");
            let mut pod = Pod::named(&name);
            pod.spec.node_name = Some("bench".into());
            pod.spec.containers.push(backend.container());
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
        // The engine's own cost for the same command.
        let mut bare = Vec::new();
        let mut children = Vec::new();
        for _ in 0..pods_n {
            let (ms, handle) = backend.baseline();
            bare.push(ms);
            children.push(handle);
        }
        drop(children);
        let mut podman_pods = Vec::new();
        if backend == Backend::Podman {
            let mut held = Vec::new();
            for i in 0..pods_n {
                let (ms, handle) = Backend::podman_pod(i);
                podman_pods.push(ms);
                held.push(handle);
            }
            drop(held);
            podman_pods.sort_by(|a, b| a.partial_cmp(b).unwrap());
        }
        let mut slowest: Vec<(usize, f64)> = latencies.iter().copied().enumerate().collect();
        slowest.sort_by(|a, b| b.1.partial_cmp(&a.1).unwrap());
        let slowest: Vec<String> = slowest
            .iter()
            .take(3)
            .map(|(i, ms)| format!("p{i} {ms:.0} ms"))
            .collect();
        latencies.sort_by(|a, b| a.partial_cmp(b).unwrap());
        bare.sort_by(|a, b| a.partial_cmp(b).unwrap());
        let (p50, p99) = (percentile(&latencies, 0.5), percentile(&latencies, 0.99));
        let (b50, b99) = (percentile(&bare, 0.5), percentile(&bare, 0.99));
        let (what, baseline) = backend.label();
        let (t50, t99) = match backend {
            Backend::Process => ("<= 50 ms", "<= 200 ms"),
            Backend::Docker | Backend::Podman => ("ratio <= 1.3", "ratio <= 1.3"),
        };
        println!(
            "pod start, {what}, {pods_n} pods one at a time (create -> Running seen by a watch)"
        );
        println!("| measure | skiff pod | {baseline} | ratio | target |");
        println!("|---|---|---|---|---|");
        println!(
            "| p50 | {p50:.1} ms | {b50:.2} ms | {:.2}x | {t50} |",
            p50 / b50
        );
        println!(
            "| p99 | {p99:.1} ms | {b99:.2} ms | {:.2}x | {t99} |",
            p99 / b99
        );
        if !podman_pods.is_empty() {
            let (q50, q99) = (
                percentile(&podman_pods, 0.5),
                percentile(&podman_pods, 0.99),
            );
            println!(
                "| p50 vs `podman run -d --pod new:` | {p50:.1} ms | {q50:.2} ms | {:.2}x | |",
                p50 / q50
            );
            println!(
                "| p99 vs `podman run -d --pod new:` | {p99:.1} ms | {q99:.2} ms | {:.2}x | |",
                p99 / q99
            );
        }
        println!(
            "| agent RSS with {pods_n} pods | {:.1} MB | | | <= 30 MB |",
            agent_rss as f64 / 1024.0
        );
        println!("slowest skiff pods: {}", slowest.join(", "));
        // Clean up: graceful deletes, the agent stops every process.
        for i in 0..pods_n {
            let _ = pods
                .delete(
                    &format!("p{i}"),
                    &DeleteParams {
                        grace_period_seconds: Some(1),
                        ..DeleteParams::default()
                    },
                )
                .await;
        }
        // A pod's teardown waits its grace period (1 s: `sleep` as PID 1 ignores SIGTERM).
        let deadline = Instant::now() + Duration::from_secs(180);
        while Instant::now() < deadline {
            let left = pods
                .list(&Default::default())
                .await
                .map(|l| l.items.len())
                .unwrap_or(0);
            if left == 0 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    });
    drop(node);
    if backend == Backend::Process {
        let _ = Command::new("ip")
            .args(["link", "del", "skiff250"])
            .status();
    }
}
