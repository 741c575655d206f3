//! Whole control plane benchmark, with SIMULATED nodes: one process runs the embedded durable store,
//! the scheduler, the ReplicaSet controller, the garbage collector and 100 node agents whose runtime is
//! an in-memory fake (`SimRuntime`: containers are Running as soon as they are started, no process is
//! spawned). A ReplicaSet of 10,000 replicas is created; the clock stops when a watch has seen all
//! 10,000 pods Running. Real-process pod starts are measured by `cargo bench --bench pod_start`.
//!
//! Run: `cargo bench --bench control_plane`. Prints a table; not a test.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use bytes::Bytes;
use futures::stream::BoxStream;
use futures::StreamExt;
use skiff_controllers::node_agent::{NodeAgent, NodeConfig};
use skiff_core::client::{Api, Client, Event, InProcessClient, WatchParams};
use skiff_core::kinds::{Container, Pod, ReplicaSet};
use skiff_core::runtime::{
    ContainerConfig, ContainerInfo, ContainerState, ExecIo, ImageInfo, ImageRequest, LabelFilter,
    LogOptions, Runtime, RuntimeError, RuntimeVersion, SandboxConfig, SandboxInfo, SandboxState,
};
use skiff_core::shutdown::Shutdown;
use skiff_store::DurableStore;

const NODES: usize = 100;
const REPLICAS: i32 = 10_000;

/// A runtime that only keeps records (SIMULATED: no processes).
#[derive(Default)]
struct SimRuntime {
    sandboxes: Mutex<HashMap<String, SandboxInfo>>,
    containers: Mutex<HashMap<String, ContainerInfo>>,
    next: std::sync::atomic::AtomicU64,
}

impl SimRuntime {
    fn id(&self) -> String {
        format!(
            "sim{}",
            self.next.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
        )
    }
}

#[async_trait]
impl Runtime for SimRuntime {
    async fn version(&self) -> Result<RuntimeVersion, RuntimeError> {
        Ok(RuntimeVersion {
            name: "sim".into(),
            version: "0".into(),
        })
    }
    async fn run_pod_sandbox(&self, c: &SandboxConfig) -> Result<String, RuntimeError> {
        let id = self.id();
        self.sandboxes.lock().unwrap().insert(
            id.clone(),
            SandboxInfo {
                id: id.clone(),
                state: SandboxState::Ready,
                ip: Some("10.0.0.1".into()),
                labels: c.labels.clone(),
                created_at: chrono::Utc::now(),
                network_note: None,
            },
        );
        Ok(id)
    }
    async fn stop_pod_sandbox(&self, id: &str) -> Result<(), RuntimeError> {
        if let Some(s) = self.sandboxes.lock().unwrap().get_mut(id) {
            s.state = SandboxState::NotReady;
        }
        Ok(())
    }
    async fn remove_pod_sandbox(&self, id: &str) -> Result<(), RuntimeError> {
        self.sandboxes.lock().unwrap().remove(id);
        self.containers
            .lock()
            .unwrap()
            .retain(|_, c| c.sandbox_id != id);
        Ok(())
    }
    async fn sandbox_status(&self, id: &str) -> Result<SandboxInfo, RuntimeError> {
        self.sandboxes
            .lock()
            .unwrap()
            .get(id)
            .cloned()
            .ok_or(RuntimeError::NotFound {
                what: "sandbox",
                id: id.into(),
            })
    }
    async fn list_sandboxes(&self, f: &LabelFilter) -> Result<Vec<SandboxInfo>, RuntimeError> {
        Ok(self
            .sandboxes
            .lock()
            .unwrap()
            .values()
            .filter(|s| f.matches(&s.labels))
            .cloned()
            .collect())
    }
    async fn ensure_image(&self, r: &ImageRequest) -> Result<ImageInfo, RuntimeError> {
        Ok(ImageInfo {
            id: format!("sim://{}", r.image),
        })
    }
    async fn create_container(
        &self,
        sandbox: &str,
        c: &ContainerConfig,
    ) -> Result<String, RuntimeError> {
        let id = self.id();
        self.containers.lock().unwrap().insert(
            id.clone(),
            ContainerInfo {
                id: id.clone(),
                sandbox_id: sandbox.into(),
                name: c.name.clone(),
                image: c.image.clone(),
                image_id: format!("sim://{}", c.image),
                labels: c.labels.clone(),
                state: ContainerState::Created,
                created_at: chrono::Utc::now(),
                started_at: None,
                finished_at: None,
                exit_code: None,
                reason: None,
                message: None,
            },
        );
        Ok(id)
    }
    async fn start_container(&self, id: &str) -> Result<(), RuntimeError> {
        if let Some(c) = self.containers.lock().unwrap().get_mut(id) {
            c.state = ContainerState::Running;
            c.started_at = Some(chrono::Utc::now());
        }
        Ok(())
    }
    async fn stop_container(&self, id: &str, _t: Duration) -> Result<(), RuntimeError> {
        if let Some(c) = self.containers.lock().unwrap().get_mut(id) {
            if c.state == ContainerState::Running {
                c.state = ContainerState::Exited;
                c.exit_code = Some(143);
                c.reason = Some("Error".into());
                c.finished_at = Some(chrono::Utc::now());
            }
        }
        Ok(())
    }
    async fn remove_container(&self, id: &str) -> Result<(), RuntimeError> {
        self.containers.lock().unwrap().remove(id);
        Ok(())
    }
    async fn container_status(&self, id: &str) -> Result<ContainerInfo, RuntimeError> {
        self.containers
            .lock()
            .unwrap()
            .get(id)
            .cloned()
            .ok_or(RuntimeError::NotFound {
                what: "container",
                id: id.into(),
            })
    }
    async fn list_containers(&self, f: &LabelFilter) -> Result<Vec<ContainerInfo>, RuntimeError> {
        Ok(self
            .containers
            .lock()
            .unwrap()
            .values()
            .filter(|c| f.matches(&c.labels))
            .cloned()
            .collect())
    }
    async fn logs(
        &self,
        _id: &str,
        _o: &LogOptions,
    ) -> Result<BoxStream<'static, Result<Bytes, RuntimeError>>, RuntimeError> {
        Ok(futures::stream::empty().boxed())
    }
    async fn exec(&self, _id: &str, _c: &[String], _io: ExecIo) -> Result<i32, RuntimeError> {
        Ok(0)
    }
}

fn rss_mb() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .unwrap_or(0.0)
        / 1024.0
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(DurableStore::open(dir.path().join("skiff.db")).unwrap());
        let client: Arc<dyn Client> = InProcessClient::shared(store);
        let (stop, shutdown) = Shutdown::new();
        let mut registered = Vec::new();
        for i in 0..NODES {
            let mut config = NodeConfig::new(&format!("sim-{i:03}"), dir.path().join("nodes"));
            // The simulated nodes' relist and heartbeat at Kubernetes' pace.
            config.labels = BTreeMap::from([("skiff.io/simulated".to_string(), "true".to_string())]);
            let agent = NodeAgent::new(client.clone(), Arc::new(SimRuntime::default()), config);
            registered.push(agent.registered());
            tokio::spawn(agent.run(shutdown.clone()));
        }
        for mut r in registered {
            let _ = r.wait_for(|v| *v).await;
        }
        // What `skiff up` runs: scheduler, ReplicaSet controller, GC, node lifecycle, on shared informers.
        skiff_controllers::control_plane::start(
            client.clone(),
            skiff_controllers::node_lifecycle::NodeLifecycleConfig::default(),
            shutdown.clone(),
        );
        let rss_before = rss_mb();

        let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
        let mut watch = pods.watch(&WatchParams::default()).await.unwrap();
        let mut rs = ReplicaSet::named("big");
        rs.metadata.namespace = Some("default".into());
        rs.spec.replicas = Some(REPLICAS);
        let labels = BTreeMap::from([("app".to_string(), "big".to_string())]);
        rs.spec.selector.match_labels = labels.clone();
        rs.spec.template.metadata.labels = labels;
        rs.spec.template.spec.containers.push(Container::new("main", "sleep"));
        let t0 = Instant::now();
        Api::<ReplicaSet>::namespaced(client.clone(), "default").create(&rs).await.unwrap();
        let mut running: HashSet<String> = HashSet::new();
        let mut created: HashSet<String> = HashSet::new();
        let mut first_running = None;
        let mut bound: HashSet<String> = HashSet::new();
        let mut report = Instant::now();
        while running.len() < REPLICAS as usize {
            if report.elapsed() > Duration::from_secs(2) {
                report = Instant::now();
                eprintln!(
                    "  {:5.1} s: {} pods created, {} bound, {} running",
                    t0.elapsed().as_secs_f64(),
                    created.len(),
                    bound.len(),
                    running.len()
                );
            }
            match tokio::time::timeout(Duration::from_secs(120), watch.next()).await {
                Ok(Some(Ok(Event::Added(p) | Event::Modified(p)))) => {
                    let name = p.metadata.name.clone().unwrap_or_default();
                    created.insert(name.clone());
                    if p.spec.node_name.is_some() {
                        bound.insert(name.clone());
                    }
                    if p.phase() == "Running" {
                        running.insert(name);
                        first_running.get_or_insert_with(|| t0.elapsed());
                    }
                }
                Ok(Some(_)) => {}
                _ => break,
            }
        }
        let elapsed = t0.elapsed();
        let rss_after = rss_mb();
        println!("control plane, SIMULATED nodes: ReplicaSet of {REPLICAS} on {NODES} nodes, embedded durable store, one process");
        println!("| measure | figure | target |");
        println!("|---|---|---|");
        println!("| apply -> all {} Running seen by a watch | {:.2} s | <= 10 s |", running.len(), elapsed.as_secs_f64());
        println!("| first pod Running | {:.3} s | |", first_running.unwrap_or_default().as_secs_f64());
        println!("| pods/s end to end | {:.0} | |", running.len() as f64 / elapsed.as_secs_f64());
        println!("| process RSS holding {} pods (store, API client caches, scheduler, RS, GC, {NODES} agents) | {:.0} MB (before: {:.0} MB) | <= 200 MB |", running.len(), rss_after, rss_before);
        stop.trigger();
    });
}
