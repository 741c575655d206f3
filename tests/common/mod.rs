//! The harness of the end-to-end tests that run `skiff up` with its node agent: real processes in real
//! cgroups and network namespaces (root needed; without root the tests skip with a printed reason, unless
//! SKIFF_REQUIRE_ENGINES=1).
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use skiff_core::client::Api;
use skiff_core::kinds::Pod;
use skiff_core::runtime::{LabelFilter, Runtime};
use skiff_runtime_process::{ProcessConfig, ProcessRuntime};

/// Distinct pod subnets (and bridges) for clusters running at the same time.
static SUBNET: AtomicU8 = AtomicU8::new(0);

pub fn can_run() -> bool {
    let root = skiff::is_root();
    if !root {
        assert!(
            std::env::var("SKIFF_REQUIRE_ENGINES").as_deref() != Ok("1"),
            "SKIFF_REQUIRE_ENGINES=1 but the process runtime tests need root"
        );
        eprintln!("skipping: the process runtime's cgroups and network namespaces need root");
    }
    root
}

pub struct Cluster {
    pub dir: PathBuf,
    pub child: Option<Child>,
    pub node: String,
    pub subnet: u8,
    pub extra: Vec<String>,
}

impl Cluster {
    pub fn start(tag: &str, labels: &str) -> Self {
        Self::start_with(tag, labels, &[])
    }

    pub fn start_with(tag: &str, labels: &str, extra: &[&str]) -> Self {
        let subnet =
            100 + SUBNET.fetch_add(1, Ordering::SeqCst) * 2 + (std::process::id() % 2) as u8;
        let dir = std::env::temp_dir().join(format!("skiff-node-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let mut c = Self {
            dir,
            child: None,
            node: format!("node-{tag}"),
            subnet,
            extra: extra.iter().map(|s| s.to_string()).collect(),
        };
        c.launch(labels);
        c
    }

    pub fn launch(&mut self, labels: &str) {
        let mut child = Command::new(env!("CARGO_BIN_EXE_skiff"))
            .args(["up", "--port", "0", "--data-dir"])
            .arg(&self.dir)
            .args(["--node-name", &self.node])
            .args(if self.extra.iter().any(|a| a == "--pod-cidr") {
                vec![]
            } else {
                vec![
                    "--pod-cidr".to_string(),
                    format!("10.244.{}.0/24", self.subnet),
                ]
            })
            .args(if labels.is_empty() {
                vec![]
            } else {
                vec!["--node-labels", labels]
            })
            .args(&self.extra)
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let mut reader = std::io::BufReader::new(child.stdout.take().unwrap());
        let mut first = String::new();
        reader.read_line(&mut first).unwrap();
        assert!(first.contains("is up"), "skiff up said {first:?}");
        std::thread::spawn(move || std::io::copy(&mut reader, &mut std::io::sink()));
        self.child = Some(child);
    }

    pub fn kubeconfig(&self) -> PathBuf {
        self.dir.join("kubeconfig.yaml")
    }

    pub fn pods(&self) -> Api<Pod> {
        let client = skiff_api::HttpClient::from_kubeconfig(&self.kubeconfig()).unwrap();
        Api::namespaced(Arc::new(client), "default")
    }

    pub fn kubectl(&self, args: &[&str]) -> (bool, String) {
        let home = self.dir.join("home");
        std::fs::create_dir_all(&home).unwrap();
        let out = Command::new("kubectl")
            .args(args)
            .env("KUBECONFIG", self.kubeconfig())
            .env("HOME", home)
            .output()
            .expect("kubectl on PATH");
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        (out.status.success(), text)
    }

    /// Creates a pod from YAML, bound to this node.
    pub async fn create(&self, yaml: &str) -> Pod {
        let mut pod: Pod = serde_yaml::from_str(yaml).unwrap();
        pod.spec.node_name = Some(self.node.clone());
        self.pods().create(&pod).await.unwrap()
    }

    pub async fn wait_for(&self, name: &str, what: &str, f: impl Fn(&Pod) -> bool) -> Pod {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Ok(p) = self.pods().get(name).await {
                if f(&p) {
                    return p;
                }
                if Instant::now() > deadline {
                    panic!(
                        "pod {name}: timed out waiting for {what}; status: {}",
                        serde_json::to_string_pretty(&p.status).unwrap()
                    );
                }
            } else if Instant::now() > deadline {
                panic!("pod {name}: timed out waiting for {what} (pod not found)");
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    pub fn runtime(&self) -> ProcessRuntime {
        let mut config = ProcessConfig::new(self.dir.join("runtime"));
        config.pod_subnet = [10, 244, self.subnet];
        config.bridge = format!("skiff{}", self.subnet);
        ProcessRuntime::new(config).unwrap()
    }

    /// The main pid of a container, from the runtime's records.
    pub fn pid(&self, container_id: &str) -> i32 {
        let id = container_id.trim_start_matches("process://");
        let started: serde_json::Value = serde_json::from_slice(
            &std::fs::read(
                self.dir
                    .join("runtime/containers")
                    .join(id)
                    .join("started.json"),
            )
            .unwrap(),
        )
        .unwrap();
        started["pid"].as_i64().unwrap() as i32
    }

    pub fn kill_agent(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Removes what a killed `skiff up`'s service proxy leaves: its ClusterIPs on lo, its nftables
    /// table and its FORWARD rule.
    pub fn forget_proxy(&self) {
        // The service proxy's ClusterIPs (a killed `skiff up` leaves them).
        let label = format!("lo:skiff-svc{}", self.subnet);
        let _ = Command::new("ip")
            .args(["addr", "flush", "dev", "lo", "label", &label])
            .stderr(Stdio::null())
            .status();
        // And its nftables table and FORWARD rule.
        let table = format!("skiff-proxy-{}", self.node);
        let _ = Command::new("nft")
            .args(["delete", "table", "ip", &table])
            .stderr(Stdio::null())
            .status();
        let tag = skiff_controllers::proxy::nftables::forward_tag(&table);
        let rule = skiff_controllers::proxy::nftables::forward_rule(&tag);
        while Command::new("iptables")
            .arg("-D")
            .args(rule)
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
        {}
    }

    /// Stops skiff as a service manager does (SIGTERM) and waits up to 20 s; true once it exited.
    pub fn terminate(&mut self) -> bool {
        match self.child.take() {
            Some(mut child) => terminate(&mut child),
            None => true,
        }
    }

    /// Stops skiff and removes every pod it ran (processes, cgroups, namespaces).
    pub async fn stop(mut self) {
        // Gracefully, so the proxy removes its table and addresses (then forcibly, and by hand).
        self.terminate();
        let rt = self.runtime();
        for sb in rt.list_sandboxes(&LabelFilter::new()).await.unwrap() {
            rt.remove_pod_sandbox(&sb.id).await.unwrap();
        }
        let _ = Command::new("ip")
            .args(["link", "del", &format!("skiff{}", self.subnet)])
            .stderr(Stdio::null())
            .status();
        self.forget_proxy();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        if self.child.is_some() {
            self.terminate();
            self.forget_proxy();
        }
    }
}

pub fn status_of<'a>(pod: &'a Pod, name: &str) -> Option<&'a skiff_core::kinds::ContainerStatus> {
    pod.status
        .as_ref()?
        .container_statuses
        .iter()
        .find(|c| c.name == name)
}

/// Whether the pod's Ready condition is True.
pub fn is_ready(pod: &Pod) -> bool {
    pod.status.as_ref().is_some_and(|s| {
        s.conditions
            .iter()
            .any(|c| c.type_ == "Ready" && c.status == "True")
    })
}

pub fn is_running(pod: &Pod, name: &str) -> bool {
    status_of(pod, name).is_some_and(|c| c.state.as_ref().is_some_and(|s| s.running.is_some()))
}

pub fn pid_alive(pid: i32) -> bool {
    Path::new(&format!("/proc/{pid}")).exists()
        && !std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .unwrap_or_default()
            .contains(") Z")
}

/// A second node agent in its own process (`skiff node`), joining `cluster` over HTTPS.
pub fn second_node(cluster: &Cluster, name: &str, subnet: u8) -> Child {
    let cidr = format!("10.244.{subnet}.0/24");
    node_with(cluster, name, &["--pod-cidr", &cidr])
}

/// A node agent `skiff node` with flags `args`, joining `cluster` over HTTPS.
#[allow(dead_code)]
/// Sends `child` SIGTERM and waits up to 20 s for it (then SIGKILL); true if it exited by itself.
pub fn terminate(child: &mut Child) -> bool {
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        if let Ok(Some(_)) = child.try_wait() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let _ = child.kill();
    let _ = child.wait();
    false
}

pub fn node_with(cluster: &Cluster, name: &str, args: &[&str]) -> Child {
    Command::new(env!("CARGO_BIN_EXE_skiff"))
        .args(["node", "--kubeconfig"])
        .arg(cluster.kubeconfig())
        .args(["--node-name", name])
        .args(args)
        .arg("--data-dir")
        .arg(cluster.dir.join(name))
        .stdout(Stdio::null())
        .spawn()
        .unwrap()
}

/// A `kubectl port-forward` running in the background, and the local port it listens on.
pub struct Forward {
    pub child: Child,
    pub port: u16,
    /// What kubectl printed after its "Forwarding from" lines.
    rest: std::sync::mpsc::Receiver<String>,
}

impl Forward {
    pub fn start(cluster: &Cluster, target: &str, remote: &str) -> Self {
        let home = cluster.dir.join("home");
        std::fs::create_dir_all(&home).unwrap();
        let mut child = Command::new("kubectl")
            .args(["port-forward", target, &format!(":{remote}")])
            .env("KUBECONFIG", cluster.kubeconfig())
            .env("HOME", home)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("kubectl on PATH");
        let mut out = std::io::BufReader::new(child.stdout.take().unwrap());
        let mut line = String::new();
        out.read_line(&mut line).unwrap();
        // "Forwarding from 127.0.0.1:41234 -> 8080"
        let port = line
            .split_whitespace()
            .nth(2)
            .and_then(|a| a.rsplit(':').next())
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| panic!("kubectl port-forward said {line:?}"));
        let (tx, rest) = std::sync::mpsc::channel();
        let err = child.stderr.take().unwrap();
        for reader in [
            Box::new(out) as Box<dyn BufRead + Send>,
            Box::new(std::io::BufReader::new(err)),
        ] {
            let tx = tx.clone();
            std::thread::spawn(move || {
                for line in reader.lines().map_while(Result::ok) {
                    let _ = tx.send(line);
                }
            });
        }
        Self { child, port, rest }
    }

    /// Everything kubectl printed so far.
    pub fn said(&self) -> String {
        self.rest.try_iter().collect::<Vec<_>>().join("\n")
    }
}

impl Drop for Forward {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
