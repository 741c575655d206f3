//! The node agent (kubelet): desired pods in, running processes out.
//!
//! [`NodeAgent::run`] registers the Node (capacity from the host, labels from the config), renews its
//! Lease in `kube-node-lease` every 10 s, and reconciles every pod whose `spec.nodeName` is this node.
//! Reconciling a pod is level-based — it looks at the pod and at what the runtime has, and takes the
//! next step ([`sync`]):
//!
//! ```text
//! deletionTimestamp set ─────────────► stop containers (SIGTERM, grace, SIGKILL) → remove sandbox → delete pod
//! no ready sandbox ──────────────────► run sandbox (network namespace, pod IP, cgroup)
//! next init container not done ──────► start it; it must exit 0 before the next (restartPolicy on failure)
//! app container missing ─────────────► pull policy check → create → start
//! app container exited ──────────────► restart per restartPolicy, CrashLoopBackOff 10 s doubling to 300 s
//! liveness failed ───────────────────► kill, then restart as above
//! always ────────────────────────────► write status (phase, conditions, containerStatuses) when it changed
//! ```
//!
//! Containers are found again by their labels ([`labels`](skiff_core::runtime::labels)), so an agent
//! that restarts adopts running containers (restartCount unchanged) and removes leftovers of deleted
//! pods. A relister ("PLEG") notices containers that exit and requeues their pods; [`probes`] run
//! liveness, readiness and startup probes and requeue a pod when a result changes.

pub mod dns_config;
mod node;
pub mod probes;
pub mod service_env;
mod status;
pub mod sync;
mod volumes;

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use skiff_core::client::{Api, Client, ClientError};
use skiff_core::controller::{Controller, ObjectRef};
use skiff_core::events::Recorder;
use skiff_core::informer::Informer;
use skiff_core::kinds::Pod;
use skiff_core::runtime::{labels, LabelFilter, Runtime, RuntimeError};
use skiff_core::shutdown::Shutdown;
use skiff_core::Resource;

/// Errors of the node agent.
#[derive(Debug, thiserror::Error)]
pub enum AgentError {
    /// The API refused or failed a call.
    #[error(transparent)]
    Client(#[from] ClientError),
    /// The runtime failed.
    #[error(transparent)]
    Runtime(#[from] RuntimeError),
    /// A local file operation failed.
    #[error("{context}: {source}")]
    Io {
        /// What was being done.
        context: String,
        /// The error.
        #[source]
        source: std::io::Error,
    },
}

/// How a node agent is set up.
#[derive(Clone, Debug)]
pub struct NodeConfig {
    /// The Node's name.
    pub name: String,
    /// Labels added to the Node (besides hostname, os and arch).
    pub labels: BTreeMap<String, String>,
    /// The node's address (InternalIP; the host IP of its pods).
    pub address: String,
    /// Where the agent keeps pod directories (emptyDir volumes).
    pub root: PathBuf,
    /// Lease renewal interval (10 s).
    pub heartbeat: Duration,
    /// First CrashLoopBackOff delay (10 s).
    pub backoff_initial: Duration,
    /// Largest CrashLoopBackOff delay (300 s).
    pub backoff_max: Duration,
    /// How often the runtime is relisted to notice exits (1 s).
    pub relist_period: Duration,
    /// Pods reconciled at once.
    pub workers: usize,
    /// What the runtime cannot do here (shown in a Node condition and events).
    pub limitations: Vec<String>,
    /// The node's pod subnet (`spec.podCIDR`).
    pub pod_cidr: Option<String>,
    /// Where the agent serves logs and exec (published as `daemonEndpoints.kubeletEndpoint.Port`).
    pub endpoint_port: Option<u16>,
    /// Annotations put on the Node (e.g. the token the API server presents to the agent's endpoint).
    pub annotations: BTreeMap<String, String>,
    /// The cluster DNS address pods with `dnsPolicy: ClusterFirst` use (the kubelet's `--cluster-dns`);
    /// without one they get the node's resolv.conf.
    pub cluster_dns: Option<String>,
    /// The cluster domain (`cluster.local`).
    pub cluster_domain: String,
}

impl NodeConfig {
    /// Kubernetes' defaults for a node named `name` keeping its files under `root`.
    pub fn new(name: &str, root: impl Into<PathBuf>) -> Self {
        Self {
            name: name.to_string(),
            labels: BTreeMap::new(),
            address: "127.0.0.1".into(),
            root: root.into(),
            heartbeat: Duration::from_secs(10),
            backoff_initial: Duration::from_secs(10),
            backoff_max: Duration::from_secs(300),
            relist_period: Duration::from_secs(1),
            workers: 4,
            limitations: Vec::new(),
            pod_cidr: None,
            endpoint_port: None,
            annotations: BTreeMap::new(),
            cluster_dns: None,
            cluster_domain: "cluster.local".into(),
        }
    }
}

/// Restart back-off of one container: how many quick restarts in a row.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct BackoffEntry {
    pub streak: u32,
}

/// Image pull back-off of one image of one pod: failures in a row, when the last one was, and why.
#[derive(Clone, Debug)]
pub(crate) struct PullBackoff {
    pub streak: u32,
    pub at: std::time::Instant,
    pub message: String,
}

/// The node agent. See the [module docs](self).
pub struct NodeAgent {
    pub(crate) client: Arc<dyn Client>,
    pub(crate) runtime: Arc<dyn Runtime>,
    pub(crate) config: NodeConfig,
    pub(crate) recorder: Arc<Recorder>,
    pub(crate) probes: probes::ProbeManager,
    pub(crate) backoff: Mutex<HashMap<(String, String), BackoffEntry>>,
    /// Pull back-off per (pod uid, image), as the kubelet keeps it.
    pub(crate) pull_backoff: Mutex<HashMap<(String, String), PullBackoff>>,
    pub(crate) runtime_name: std::sync::OnceLock<String>,
    registered: tokio::sync::watch::Sender<bool>,
}

impl std::fmt::Debug for NodeAgent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NodeAgent")
            .field("node", &self.config.name)
            .finish()
    }
}

impl NodeAgent {
    /// An agent for node `config.name` talking to the API through `client` and running pods on `runtime`.
    pub fn new(
        client: Arc<dyn Client>,
        runtime: Arc<dyn Runtime>,
        config: NodeConfig,
    ) -> Arc<Self> {
        let recorder = Arc::new(Recorder::new(client.clone(), "kubelet", Some(&config.name)));
        Arc::new(Self {
            client,
            runtime,
            recorder,
            probes: probes::ProbeManager::default(),
            backoff: Mutex::new(HashMap::new()),
            pull_backoff: Mutex::new(HashMap::new()),
            runtime_name: std::sync::OnceLock::new(),
            registered: tokio::sync::watch::channel(false).0,
            config,
        })
    }

    pub(crate) fn runtime_name(&self) -> &str {
        self.runtime_name.get().map_or("process", String::as_str)
    }

    /// Turns true once the Node is registered and pods are being watched.
    pub fn registered(&self) -> tokio::sync::watch::Receiver<bool> {
        self.registered.subscribe()
    }

    /// The node's name.
    pub fn node_name(&self) -> &str {
        &self.config.name
    }

    /// Runs until `shutdown`: registers the node, heartbeats, and keeps this node's pods as specified.
    /// Containers keep running when the agent stops (a new agent adopts them).
    pub async fn run(self: Arc<Self>, shutdown: Shutdown) -> Result<(), AgentError> {
        let version = self.runtime.version().await?;
        let _ = self.runtime_name.set(version.name.clone());
        let this = self;
        node::register(&this, &version).await?;
        tokio::spawn(node::heartbeat(this.clone(), shutdown.clone()));

        let api: Api<Pod> = Api::all(this.client.clone());
        let informer = Informer::with_selectors(
            api,
            None,
            Some(format!("spec.nodeName={}", this.config.name)),
        );
        let controller =
            Controller::new("node-agent", informer.clone()).concurrency(this.config.workers);
        let queue = controller.queue();
        this.probes.set_queue(queue.clone());
        tokio::spawn(container_events(
            this.clone(),
            informer.clone(),
            queue.clone(),
            shutdown.clone(),
        ));
        tokio::spawn(relist(
            this.clone(),
            informer.clone(),
            queue,
            shutdown.clone(),
        ));
        {
            let informer = informer.clone();
            let agent = this.clone();
            tokio::spawn(async move {
                informer.wait_for_sync().await;
                agent.registered.send_replace(true);
            });
        }
        controller
            .run(Arc::new(sync::PodSync::new(this.clone())), shutdown)
            .await;
        this.probes.stop_all();
        Ok(())
    }
}

/// The runtime's event stream, where it has one (Docker, Podman): a pod whose container started
/// or exited is synced at once, not at the next relist. A stream that ends (the engine restarted)
/// is asked for again; a runtime without one leaves it all to [`relist`].
async fn container_events(
    agent: Arc<NodeAgent>,
    informer: Arc<Informer<Pod>>,
    queue: skiff_core::workqueue::WorkQueue<ObjectRef>,
    shutdown: Shutdown,
) {
    use futures::StreamExt;
    informer.wait_for_sync().await;
    loop {
        let stream = tokio::select! {
            s = agent.runtime.events() => s,
            _ = shutdown.wait() => return,
        };
        match stream {
            Ok(None) => return,
            Ok(Some(mut events)) => loop {
                let next = tokio::select! {
                    e = events.next() => e,
                    _ = shutdown.wait() => return,
                };
                let Some(event) = next else { break };
                let Some(uid) = event.labels.get(labels::POD_UID) else {
                    continue;
                };
                let pod = informer
                    .cache()
                    .list()
                    .into_iter()
                    .find(|p| p.meta().uid.as_deref() == Some(uid.as_str()));
                if let Some(p) = pod {
                    queue.add(ObjectRef::from_obj(p.as_ref()));
                }
            },
            Err(e) => tracing::debug!(error = %e, "no container events from the runtime yet"),
        }
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_secs(1)) => {}
            _ = shutdown.wait() => return,
        }
    }
}

/// Every `relist_period`: requeue pods whose containers changed state, and remove what belongs to
/// pods this node no longer has.
async fn relist(
    agent: Arc<NodeAgent>,
    informer: Arc<Informer<Pod>>,
    queue: skiff_core::workqueue::WorkQueue<ObjectRef>,
    shutdown: Shutdown,
) {
    informer.wait_for_sync().await;
    let mut last: HashMap<String, String> = HashMap::new();
    loop {
        let cache = informer.cache();
        let pods: HashMap<String, Arc<Pod>> = cache
            .list()
            .into_iter()
            .filter_map(|p| p.meta().uid.clone().map(|u| (u, p)))
            .collect();
        if let Ok(containers) = agent.runtime.list_containers(&LabelFilter::new()).await {
            let mut now: HashMap<String, String> = HashMap::new();
            for c in &containers {
                let Some(uid) = c.labels.get(labels::POD_UID) else {
                    continue;
                };
                let sig = now.entry(uid.clone()).or_default();
                sig.push_str(&format!("{}:{:?}:{:?};", c.id, c.state, c.exit_code));
            }
            for (uid, sig) in &now {
                if last.get(uid) != Some(sig) {
                    if let Some(p) = pods.get(uid) {
                        queue.add(ObjectRef::from_obj(p.as_ref()));
                    }
                }
            }
            last = now;
        }
        if let Ok(sandboxes) = agent.runtime.list_sandboxes(&LabelFilter::new()).await {
            for sb in sandboxes {
                let Some(uid) = sb.labels.get(labels::POD_UID) else {
                    continue;
                };
                if !pods.contains_key(uid) {
                    sync::remove_pod_leftovers(&agent, uid).await;
                }
            }
        }
        tokio::select! {
            _ = tokio::time::sleep(agent.config.relist_period) => {}
            _ = shutdown.wait() => return,
        }
    }
}
