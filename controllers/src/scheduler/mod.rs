//! The scheduler: binds every pending pod (empty `spec.nodeName`, `schedulerName` empty or
//! `default-scheduler`) to a node.
//!
//! One scheduling loop takes pods from a work queue and places each over an in-memory [`ClusterView`]
//! fed by a pod informer and a node informer — no store round-trip per filter. Placing a pod:
//!
//! 1. **Filters** ([`filter`]), in kube-scheduler's order, the first failure naming the node's reason:
//!    cordoned (`spec.unschedulable`), untolerated `NoSchedule`/`NoExecute` taint (a node that is not
//!    `Ready` carries an implied `node.kubernetes.io/not-ready` taint), `nodeSelector`, host ports,
//!    resources (`pods`, `cpu`, `memory` requests against allocatable minus the requests of the node's
//!    pods).
//! 2. Filtering stops once [`num_feasible_nodes_to_find`] nodes fit (all nodes up to 100; 10 % of 5,000),
//!    each search starting where the last one stopped, as kube-scheduler's `percentageOfNodesToScore`.
//! 3. **Scores** ([`score`]): least-allocated (weight 1) + balanced-allocation (weight 1); the best wins.
//! 4. The pod is *assumed* on that node in the view (so the next pod sees its requests), and bound
//!    through the `pods/binding` subresource ([`Client::bind`]) by one of up to
//!    [`SchedulerConfig::bind_concurrency`] concurrent binders while the loop goes on.
//!
//! A pod no node fits gets `PodScheduled=False` reason `Unschedulable` and a `FailedScheduling` warning
//! event, both with kube-scheduler's message (`0/3 nodes are available: 1 Insufficient cpu, 2 node(s)
//! didn't match Pod's node affinity/selector.`). It waits, not in a loop: it is retried when a node is
//! added or changes in a way that matters, or a pod leaves a node — after its backoff (1 s doubling to
//! 10 s per attempt, kube-scheduler's `podInitialBackoffSeconds`/`podMaxBackoffSeconds`) — and at the
//! latest after 5 minutes (`podMaxInUnschedulablePodsDuration`).
//!
//! ```no_run
//! # async fn example(client: std::sync::Arc<dyn skiff_core::client::Client>, shutdown: skiff_core::shutdown::Shutdown) {
//! tokio::spawn(skiff_controllers::scheduler::run(client, shutdown));
//! # }
//! ```

pub mod filter;
mod fit_error;
mod node_info;
pub mod score;
mod view;

#[cfg(test)]
mod tests;

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::json;
use skiff_core::client::{Api, Client, ClientError, Patch};
use skiff_core::events::{EventType, Recorder};
use skiff_core::informer::{cache_key, EventHandler, Informer, InformerFactory};
use skiff_core::kinds::{Node, ObjectReference, Pod, PodCondition};
use skiff_core::meta::Time;
use skiff_core::shutdown::Shutdown;
use skiff_core::workqueue::{ItemExponential, WorkQueue};
use tokio::sync::Semaphore;
use tokio::time::Instant;

pub use filter::{fits, Reason};
pub use fit_error::FitError;
pub use node_info::{
    HostPort, NodeInfo, NodeUsage, PodDemand, Resources, DEFAULT_MEMORY_REQUEST,
    DEFAULT_MILLI_CPU_REQUEST, TAINT_NOT_READY, TAINT_UNREACHABLE, TAINT_UNSCHEDULABLE,
};
pub use score::{
    balanced_allocation, least_allocated, BALANCED_ALLOCATION_WEIGHT, LEAST_ALLOCATED_WEIGHT,
};
pub use view::{num_feasible_nodes_to_find, ClusterView, MIN_FEASIBLE_NODES_TO_FIND};

/// The scheduler name pods get by default, and the one this scheduler answers to (besides empty).
pub const DEFAULT_SCHEDULER_NAME: &str = "default-scheduler";

/// Errors of the scheduler.
#[derive(Debug, thiserror::Error)]
pub enum SchedulerError {
    /// The API refused or failed a call.
    #[error(transparent)]
    Client(#[from] ClientError),
}

/// How the scheduler behaves; [`Default`] gives kube-scheduler's numbers.
#[derive(Clone, Debug)]
pub struct SchedulerConfig {
    /// The `spec.schedulerName` served (besides empty): `default-scheduler`.
    pub name: String,
    /// Bindings in flight at once (64).
    pub bind_concurrency: usize,
    /// First retry delay of an unschedulable pod or a failed binding (1 s).
    pub initial_backoff: Duration,
    /// Largest retry delay (10 s).
    pub max_backoff: Duration,
    /// An unschedulable pod is retried after this long even without a cluster change (5 min).
    pub max_unschedulable: Duration,
}

impl Default for SchedulerConfig {
    fn default() -> Self {
        Self {
            name: DEFAULT_SCHEDULER_NAME.into(),
            bind_concurrency: 64,
            initial_backoff: Duration::from_secs(1),
            max_backoff: Duration::from_secs(10),
            max_unschedulable: Duration::from_secs(300),
        }
    }
}

/// Counters of a running scheduler.
#[derive(Debug, Default)]
pub struct SchedulerStats {
    /// Pods bound.
    pub bound: AtomicU64,
    /// Scheduling attempts that found no node.
    pub unschedulable_attempts: AtomicU64,
    /// Bindings the API refused or failed.
    pub bind_errors: AtomicU64,
}

struct Shared {
    config: SchedulerConfig,
    client: Arc<dyn Client>,
    view: Mutex<ClusterView>,
    queue: WorkQueue<String>,
    /// Pods no node fits: attempts so far and when the last one ended.
    unschedulable: Mutex<HashMap<String, (u32, Instant)>>,
    recorder: Recorder,
    stats: Arc<SchedulerStats>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Shared {
    fn responsible(&self, pod: &Pod) -> bool {
        match pod.spec.scheduler_name.as_deref() {
            None | Some("") => true,
            Some(n) => n == self.config.name,
        }
    }

    fn backoff(&self, attempts: u32) -> Duration {
        let factor = 2u32.saturating_pow(attempts.saturating_sub(1).min(16));
        (self.config.initial_backoff * factor).min(self.config.max_backoff)
    }

    /// A cluster change that may let waiting pods fit: queue each once its backoff has passed.
    fn move_unschedulable(&self) {
        let waiting: Vec<(String, (u32, Instant))> = lock(&self.unschedulable).drain().collect();
        let now = Instant::now();
        for (key, (attempts, at)) in waiting {
            let wait = self
                .backoff(attempts)
                .saturating_sub(now.saturating_duration_since(at));
            self.queue.add_after(key, wait);
        }
    }

    fn is_waiting(&self, key: &str) -> bool {
        lock(&self.unschedulable).contains_key(key)
    }
}

/// Whether `pod` no longer takes resources on its node.
fn finished(pod: &Pod) -> bool {
    matches!(pod.phase(), "Succeeded" | "Failed")
}

fn bound_node(pod: &Pod) -> Option<&str> {
    pod.spec.node_name.as_deref().filter(|n| !n.is_empty())
}

struct PodHandler(Arc<Shared>);

impl PodHandler {
    fn observe(&self, old: Option<&Pod>, pod: &Pod) {
        let s = &self.0;
        let key = cache_key(pod);
        match bound_node(pod) {
            Some(node) if !finished(pod) => {
                lock(&s.view).add_pod(&key, node, PodDemand::of(pod));
                lock(&s.unschedulable).remove(&key);
            }
            Some(_) => {
                if lock(&s.view).remove_pod(&key) {
                    s.move_unschedulable();
                }
            }
            None => {
                if pod.metadata.deletion_timestamp.is_some() || !s.responsible(pod) {
                    return;
                }
                if s.is_waiting(&key) {
                    // Our own status write changes nothing; a new spec is worth a try.
                    if old.is_some_and(|o| o.spec != pod.spec) {
                        lock(&s.unschedulable).remove(&key);
                        s.queue.add(key);
                    }
                } else {
                    s.queue.add(key);
                }
            }
        }
    }
}

impl EventHandler<Pod> for PodHandler {
    fn on_add(&self, obj: &Arc<Pod>) {
        self.observe(None, obj);
    }
    fn on_update(&self, old: &Arc<Pod>, new: &Arc<Pod>) {
        self.observe(Some(old), new);
    }
    fn on_delete(&self, obj: &Arc<Pod>) {
        let s = &self.0;
        let key = cache_key(obj.as_ref());
        lock(&s.unschedulable).remove(&key);
        if lock(&s.view).remove_pod(&key) {
            s.move_unschedulable();
        }
    }
}

struct NodeHandler(Arc<Shared>);

impl EventHandler<Node> for NodeHandler {
    fn on_add(&self, obj: &Arc<Node>) {
        lock(&self.0.view).upsert_node(NodeInfo::of(obj));
        self.0.move_unschedulable();
    }
    fn on_update(&self, _old: &Arc<Node>, new: &Arc<Node>) {
        // Heartbeats change nothing the scheduler looks at; only real changes wake waiting pods.
        if lock(&self.0.view).upsert_node(NodeInfo::of(new)) {
            self.0.move_unschedulable();
        }
    }
    fn on_delete(&self, obj: &Arc<Node>) {
        lock(&self.0.view).remove_node(obj.metadata.name.as_deref().unwrap_or_default());
    }
}

/// The scheduler. [`Scheduler::run`] runs it until shutdown; [`run`] does both in one line.
///
/// ```no_run
/// # async fn example(client: std::sync::Arc<dyn skiff_core::client::Client>, shutdown: skiff_core::shutdown::Shutdown) {
/// use skiff_controllers::scheduler::Scheduler;
/// let scheduler = Scheduler::new(client);
/// let stats = scheduler.stats();
/// tokio::spawn(scheduler.run(shutdown));
/// // ... later
/// println!("{} pods bound", stats.bound.load(std::sync::atomic::Ordering::Relaxed));
/// # }
/// ```
pub struct Scheduler {
    shared: Arc<Shared>,
    pods: Arc<Informer<Pod>>,
    nodes: Arc<Informer<Node>>,
}

/// Runs a [`Scheduler`] with the default configuration over `client` until `shutdown`.
pub async fn run(client: Arc<dyn Client>, shutdown: Shutdown) {
    Scheduler::new(client).run(shutdown).await
}

impl Scheduler {
    /// A scheduler with kube-scheduler's defaults, watching pods and nodes through `client`.
    pub fn new(client: Arc<dyn Client>) -> Self {
        Self::with_config(client, SchedulerConfig::default())
    }

    /// A scheduler configured by `config`.
    pub fn with_config(client: Arc<dyn Client>, config: SchedulerConfig) -> Self {
        let queue = WorkQueue::with_rate_limiter(ItemExponential::new(
            config.initial_backoff,
            config.max_backoff,
        ));
        let shared = Arc::new(Shared {
            recorder: Recorder::new(client.clone(), &config.name, None),
            config,
            client: client.clone(),
            view: Mutex::new(ClusterView::new()),
            queue,
            unschedulable: Mutex::new(HashMap::new()),
            stats: Arc::new(SchedulerStats::default()),
        });
        let pods = Informer::new(Api::<Pod>::all(client.clone()));
        let nodes = Informer::new(Api::<Node>::all(client));
        Self {
            shared,
            pods,
            nodes,
        }
    }

    /// A scheduler on the shared pod and node informers of `factory` (one watch per kind per process,
    /// e.g. shared with the other controllers of `skiff up`).
    ///
    /// ```no_run
    /// # async fn example(client: std::sync::Arc<dyn skiff_core::client::Client>, shutdown: skiff_core::shutdown::Shutdown) {
    /// use skiff_controllers::scheduler::{Scheduler, SchedulerConfig};
    /// use skiff_core::informer::InformerFactory;
    /// let factory = InformerFactory::new(client, shutdown.clone());
    /// tokio::spawn(Scheduler::from_factory(&factory, SchedulerConfig::default()).run(shutdown));
    /// # }
    /// ```
    pub fn from_factory(factory: &InformerFactory, config: SchedulerConfig) -> Self {
        let mut s = Self::with_config(factory.client().clone(), config);
        s.pods = factory.informer::<Pod>();
        s.nodes = factory.informer::<Node>();
        s
    }

    /// The scheduler's counters (shared: they keep counting while it runs).
    pub fn stats(&self) -> Arc<SchedulerStats> {
        self.shared.stats.clone()
    }

    /// Watches nodes and pods and binds pending pods until `shutdown`.
    pub async fn run(self, shutdown: Shutdown) {
        let s = self.shared.clone();
        self.nodes.add_handler(Arc::new(NodeHandler(s.clone())));
        self.pods.add_handler(Arc::new(PodHandler(s.clone())));
        self.nodes.start(shutdown.clone());
        self.nodes.wait_for_sync().await;
        self.pods.start(shutdown.clone());
        tokio::select! {
            _ = self.pods.wait_for_sync() => {}
            _ = shutdown.wait() => return,
        }
        let queue = s.queue.clone();
        let stop = shutdown.clone();
        tokio::spawn(async move {
            stop.wait().await;
            queue.shutdown();
        });
        let binders = Arc::new(Semaphore::new(s.config.bind_concurrency.max(1)));
        let cache = self.pods.cache();
        while let Some(key) = s.queue.get().await {
            schedule_one(&s, &cache, &binders, &key).await;
            s.queue.done(&key);
        }
    }
}

async fn schedule_one(
    s: &Arc<Shared>,
    cache: &Arc<skiff_core::informer::Cache<Pod>>,
    binders: &Arc<Semaphore>,
    key: &str,
) {
    let Some(pod) = cache.get(key) else {
        s.queue.forget(&key.to_string());
        return;
    };
    if bound_node(&pod).is_some()
        || pod.metadata.deletion_timestamp.is_some()
        || !s.responsible(&pod)
        || lock(&s.view).is_assumed(key)
    {
        return;
    }
    let demand = PodDemand::of(&pod);
    let placed = lock(&s.view).schedule(key, &pod, &demand);
    match placed {
        Ok(node) => {
            let Ok(permit) = binders.clone().acquire_owned().await else {
                return;
            };
            let s = s.clone();
            let key = key.to_string();
            tokio::spawn(async move {
                let ns = pod.metadata.namespace.as_deref().unwrap_or("default");
                let name = pod.metadata.name.as_deref().unwrap_or_default();
                match s.client.bind(ns, name, &node).await {
                    Ok(()) => {
                        s.stats.bound.fetch_add(1, Ordering::Relaxed);
                        s.queue.forget(&key);
                        s.recorder.record(
                            ObjectReference::to(pod.as_ref()),
                            EventType::Normal,
                            "Scheduled",
                            &format!("Successfully assigned {ns}/{name} to {node}"),
                        );
                    }
                    Err(e) => {
                        s.stats.bind_errors.fetch_add(1, Ordering::Relaxed);
                        tracing::warn!(pod = %key, node = %node, error = %e, "binding failed");
                        lock(&s.view).forget_assumed(&key);
                        if !e.is_not_found() {
                            s.queue.add_rate_limited(key);
                        }
                    }
                }
                drop(permit);
            });
        }
        Err(fit) => {
            s.stats
                .unschedulable_attempts
                .fetch_add(1, Ordering::Relaxed);
            let message = fit.to_string();
            tracing::debug!(pod = %key, %message, "unschedulable");
            {
                let mut waiting = lock(&s.unschedulable);
                let entry = waiting
                    .entry(key.to_string())
                    .or_insert((0, Instant::now()));
                entry.0 += 1;
                entry.1 = Instant::now();
            }
            // The periodic flush; a cluster change brings the retry earlier.
            s.queue
                .add_after(key.to_string(), s.config.max_unschedulable);
            let s = s.clone();
            tokio::spawn(async move {
                if let Err(e) = report_unschedulable(&s, &pod, &message).await {
                    tracing::warn!(error = %e, "cannot report an unschedulable pod");
                }
            });
        }
    }
}

/// Writes `PodScheduled=False`/`Unschedulable` (when it changed) and a `FailedScheduling` event.
async fn report_unschedulable(s: &Shared, pod: &Pod, message: &str) -> Result<(), SchedulerError> {
    let mut conditions = pod
        .status
        .as_ref()
        .map(|st| st.conditions.clone())
        .unwrap_or_default();
    let current = conditions.iter().position(|c| c.type_ == "PodScheduled");
    let same = current.is_some_and(|i| {
        let c = &conditions[i];
        c.status == "False"
            && c.reason.as_deref() == Some("Unschedulable")
            && c.message.as_deref() == Some(message)
    });
    if !same {
        let transition = match current.map(|i| &conditions[i]) {
            Some(c) if c.status == "False" => c.last_transition_time,
            _ => None,
        };
        let condition = PodCondition {
            type_: "PodScheduled".into(),
            status: "False".into(),
            last_probe_time: None,
            last_transition_time: transition.or_else(|| Some(Time::now())),
            reason: Some("Unschedulable".into()),
            message: Some(message.to_string()),
        };
        match current {
            Some(i) => conditions[i] = condition,
            None => conditions.push(condition),
        }
        let ns = pod.metadata.namespace.as_deref().unwrap_or("default");
        let api: Api<Pod> = Api::namespaced(s.client.clone(), ns);
        let patch = Patch::Merge(json!({"status": {"conditions": conditions}}));
        match api
            .patch_status(pod.metadata.name.as_deref().unwrap_or_default(), &patch)
            .await
        {
            Ok(_) => {}
            Err(e) if e.is_not_found() => return Ok(()),
            Err(e) => return Err(e.into()),
        }
    }
    s.recorder
        .publish(
            &ObjectReference::to(pod),
            EventType::Warning,
            "FailedScheduling",
            message,
        )
        .await?;
    Ok(())
}
