//! Controllers: informers feed a work queue, workers reconcile.
//!
//! ```text
//!   Informer<K> ──┐ (add/update/delete → key)
//!   Informer<C> ──┼──► WorkQueue<ObjectRef> ──► N workers ──► Reconciler::reconcile(obj, ctx)
//!   Informer<W> ──┘  owns: child → its controller owner         │   Ok(Action)  → forget, maybe requeue after d
//!                    watches: mapper(W) → keys                   └── Err(e)      → rate-limited retry (or not)
//! ```
//!
//! The queue guarantees one worker per key and collapses bursts of changes into one reconcile; the
//! reconciler always reads the latest object from the cache (level-based, not edge-based). See
//! `docs/controllers.md` for a walkthrough and `examples/custom_controller.rs` for a complete controller.
//!
//! ```
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! use std::sync::Arc;
//! use std::sync::atomic::{AtomicUsize, Ordering};
//! use async_trait::async_trait;
//! use skiff_core::client::{Api, InProcessClient};
//! use skiff_core::controller::{Action, Context, Controller, Reconciler};
//! use skiff_core::kinds::ConfigMap;
//! use skiff_core::shutdown::Shutdown;
//! use skiff_core::store::MemoryStore;
//!
//! struct Count(AtomicUsize);
//! #[async_trait]
//! impl Reconciler<ConfigMap> for Count {
//!     type Error = std::convert::Infallible;
//!     async fn reconcile(&self, _cm: Arc<ConfigMap>, _ctx: &Context<ConfigMap>) -> Result<Action, Self::Error> {
//!         self.0.fetch_add(1, Ordering::SeqCst);
//!         Ok(Action::await_change())
//!     }
//! }
//!
//! let client = InProcessClient::shared(Arc::new(MemoryStore::new()));
//! let cms: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
//! cms.create(&ConfigMap::named("a")).await.unwrap();
//! let (stop, shutdown) = Shutdown::new();
//! let counter = Arc::new(Count(AtomicUsize::new(0)));
//! let run = tokio::spawn(Controller::for_api("demo", Api::<ConfigMap>::all(client)).run(counter.clone(), shutdown));
//! while counter.0.load(Ordering::SeqCst) == 0 { tokio::time::sleep(std::time::Duration::from_millis(5)).await; }
//! stop.trigger();
//! run.await.unwrap();
//! # });
//! ```

mod metrics;
mod object_ref;
mod reconciler;

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};

use tokio::time::Instant;
use tracing::Instrument;

pub use metrics::{encode_text, ControllerLabels, ControllerMetrics, ResultLabels};
pub use object_ref::ObjectRef;
pub use reconciler::{Action, Context, ErrorAction, Reconciler};

use crate::client::{Api, Client};
use crate::informer::{EventHandler, Informer};
use crate::shutdown::Shutdown;
use crate::workqueue::WorkQueue;
use crate::Resource;

type Predicate<K> = Arc<dyn Fn(&K, &K) -> bool + Send + Sync>;
type Mapper<W> = Arc<dyn Fn(&W) -> Vec<ObjectRef> + Send + Sync>;
type SyncFuture = Pin<Box<dyn Future<Output = ()> + Send>>;
type Starter = Box<dyn FnOnce(Shutdown) -> SyncFuture + Send + Sync>;

/// Records when keys entered the queue, for the queue-time metric.
#[derive(Default)]
struct Enqueued(Mutex<HashMap<ObjectRef, Instant>>);

/// Enqueues keys for a controller (used by every handler the controller installs).
#[derive(Clone)]
struct Enqueuer {
    queue: WorkQueue<ObjectRef>,
    name: String,
    metrics: Option<Arc<ControllerMetrics>>,
    enqueued: Arc<Enqueued>,
}

impl Enqueuer {
    fn labels(&self) -> ControllerLabels {
        ControllerLabels {
            controller: self.name.clone(),
        }
    }

    fn add(&self, key: ObjectRef) {
        if let Some(m) = &self.metrics {
            m.adds.get_or_create(&self.labels()).inc();
            self.enqueued
                .0
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .entry(key.clone())
                .or_insert_with(Instant::now);
        }
        self.queue.add(key);
    }
}

struct MainHandler<K> {
    enqueue: Enqueuer,
    predicate: Option<Predicate<K>>,
}

impl<K: Resource> EventHandler<K> for MainHandler<K> {
    fn on_add(&self, obj: &Arc<K>) {
        self.enqueue.add(ObjectRef::from_obj(&**obj));
    }
    fn on_update(&self, old: &Arc<K>, new: &Arc<K>) {
        if self.predicate.as_ref().is_none_or(|p| p(old, new)) {
            self.enqueue.add(ObjectRef::from_obj(&**new));
        }
    }
    fn on_delete(&self, obj: &Arc<K>) {
        self.enqueue.add(ObjectRef::from_obj(&**obj));
    }
}

struct MappedHandler<W> {
    enqueue: Enqueuer,
    map: Mapper<W>,
}

impl<W: Resource> EventHandler<W> for MappedHandler<W> {
    fn on_add(&self, obj: &Arc<W>) {
        (self.map)(obj)
            .into_iter()
            .for_each(|k| self.enqueue.add(k));
    }
    fn on_update(&self, old: &Arc<W>, new: &Arc<W>) {
        let mut keys = (self.map)(old);
        for k in (self.map)(new) {
            if !keys.contains(&k) {
                keys.push(k);
            }
        }
        keys.into_iter().for_each(|k| self.enqueue.add(k));
    }
    fn on_delete(&self, obj: &Arc<W>) {
        (self.map)(obj)
            .into_iter()
            .for_each(|k| self.enqueue.add(k));
    }
}

/// The controlling owner of `child` if it is a `K`.
fn owner_of<K: Resource, C: Resource>(child: &C) -> Vec<ObjectRef> {
    child
        .meta()
        .controller_ref()
        .filter(|r| r.kind == K::KIND && r.api_version == K::api_version())
        .map(|r| match K::SCOPE {
            // A cluster-scoped owner (a Node) has no namespace, whatever its child's is.
            crate::Scope::Cluster => ObjectRef::new(None, &r.name),
            crate::Scope::Namespaced => ObjectRef::new(child.namespace(), &r.name),
        })
        .into_iter()
        .collect()
}

/// A controller for kind `K`. See the [module docs](self).
pub struct Controller<K: Resource> {
    name: String,
    client: Arc<dyn Client>,
    main: Arc<Informer<K>>,
    queue: WorkQueue<ObjectRef>,
    concurrency: usize,
    predicate: Option<Predicate<K>>,
    starters: Vec<Starter>,
    metrics: Option<Arc<ControllerMetrics>>,
    enqueued: Arc<Enqueued>,
}

impl<K: Resource> Controller<K> {
    /// A controller driven by an existing (possibly shared) informer of `K`.
    pub fn new(name: &str, informer: Arc<Informer<K>>) -> Self {
        Self {
            name: name.to_string(),
            client: informer.api().client().clone(),
            main: informer,
            queue: WorkQueue::new(),
            concurrency: 1,
            predicate: None,
            starters: Vec::new(),
            metrics: None,
            enqueued: Arc::new(Enqueued::default()),
        }
    }

    /// A controller with its own informer over `api`.
    pub fn for_api(name: &str, api: Api<K>) -> Self {
        Self::new(name, Informer::new(api))
    }

    fn enqueuer(&self) -> Enqueuer {
        Enqueuer {
            queue: self.queue.clone(),
            name: self.name.clone(),
            metrics: self.metrics.clone(),
            enqueued: self.enqueued.clone(),
        }
    }

    fn add_informer<W: Resource>(
        &mut self,
        informer: Arc<Informer<W>>,
        handler: Arc<dyn EventHandler<W>>,
    ) {
        self.starters.push(Box::new(move |shutdown| {
            informer.add_handler(handler);
            informer.start(shutdown);
            Box::pin(async move { informer.wait_for_sync().await })
        }));
    }

    /// Reconciles the owner when an object it controls (`ownerReferences` with `controller: true` naming a
    /// `K`) changes.
    pub fn owns<C: Resource>(mut self, informer: Arc<Informer<C>>) -> Self {
        let handler = Arc::new(MappedHandler::<C> {
            enqueue: self.enqueuer(),
            map: Arc::new(owner_of::<K, C>),
        });
        self.add_informer(informer, handler);
        self
    }

    /// Reconciles the objects `mapper` names when a `W` changes (e.g. every pod on a node that changed).
    pub fn watches<W: Resource>(
        mut self,
        informer: Arc<Informer<W>>,
        mapper: impl Fn(&W) -> Vec<ObjectRef> + Send + Sync + 'static,
    ) -> Self {
        let handler = Arc::new(MappedHandler::<W> {
            enqueue: self.enqueuer(),
            map: Arc::new(mapper),
        });
        self.add_informer(informer, handler);
        self
    }

    /// How many objects are reconciled at once (never the same object twice). Default 1.
    pub fn concurrency(mut self, workers: usize) -> Self {
        self.concurrency = workers.max(1);
        self
    }

    /// Only updates for which `predicate(old, new)` holds trigger a reconcile (adds and deletes always do).
    pub fn with_predicate(
        mut self,
        predicate: impl Fn(&K, &K) -> bool + Send + Sync + 'static,
    ) -> Self {
        self.predicate = Some(Arc::new(predicate));
        self
    }

    /// Only updates that change `metadata.generation` (the spec, or the start of deletion) trigger a
    /// reconcile: a controller's own status writes then do not wake it again.
    pub fn generation_changed(self) -> Self {
        self.with_predicate(|old, new| {
            new.meta().generation.is_none() || old.meta().generation != new.meta().generation
        })
    }

    /// Records reconcile and queue metrics.
    pub fn metrics(mut self, metrics: Arc<ControllerMetrics>) -> Self {
        self.metrics = Some(metrics);
        self
    }

    /// The work queue (to enqueue keys by hand, e.g. from a timer).
    pub fn queue(&self) -> WorkQueue<ObjectRef> {
        self.queue.clone()
    }

    /// The main informer.
    pub fn informer(&self) -> &Arc<Informer<K>> {
        &self.main
    }

    /// Runs until `shutdown`: starts the informers, waits for their caches, then reconciles. On shutdown it
    /// stops taking new work and returns once every reconcile in progress has finished.
    pub async fn run<R: Reconciler<K>>(mut self, reconciler: Arc<R>, shutdown: Shutdown) {
        let main_handler = Arc::new(MainHandler::<K> {
            enqueue: self.enqueuer(),
            predicate: self.predicate.clone(),
        });
        self.main.add_handler(main_handler);
        self.main.start(shutdown.clone());
        let mut syncs: Vec<SyncFuture> = vec![Box::pin({
            let main = self.main.clone();
            async move { main.wait_for_sync().await }
        })];
        for start in std::mem::take(&mut self.starters) {
            syncs.push(start(shutdown.clone()));
        }
        tokio::select! {
            _ = futures::future::join_all(syncs) => {}
            _ = shutdown.wait() => return,
        }
        tracing::info!(controller = %self.name, "caches synced; reconciling");
        let this = Arc::new(self);
        let workers: Vec<_> = (0..this.concurrency)
            .map(|_| tokio::spawn(this.clone().worker(reconciler.clone())))
            .collect();
        shutdown.wait().await;
        this.queue.shutdown_with_drain().await;
        for w in workers {
            let _ = w.await;
        }
    }

    async fn worker<R: Reconciler<K>>(self: Arc<Self>, reconciler: Arc<R>) {
        let labels = ControllerLabels {
            controller: self.name.clone(),
        };
        while let Some(key) = self.queue.get().await {
            if let Some(m) = &self.metrics {
                m.depth.get_or_create(&labels).set(self.queue.len() as i64);
                let since = self
                    .enqueued
                    .0
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .remove(&key);
                if let Some(t) = since {
                    m.queue_time
                        .get_or_create(&labels)
                        .observe(t.elapsed().as_secs_f64());
                }
            }
            let ctx = Context {
                client: self.client.clone(),
                cache: self.main.cache(),
                object: key.clone(),
                retries: self.queue.num_requeues(&key),
            };
            let Some(obj) = self.main.cache().get(&key.cache_key()) else {
                // Gone: the reconciler may clean up (see `Reconciler::cleanup`).
                let span = tracing::info_span!("cleanup", controller = %self.name, object = %key);
                match reconciler.cleanup(&ctx).instrument(span).await {
                    Ok(action) => {
                        self.queue.forget(&key);
                        if let Some(d) = action.requeue_after() {
                            self.queue.add_after(key.clone(), d);
                        }
                    }
                    Err(e) => {
                        tracing::warn!(controller = %self.name, object = %key, error = %e, "cleanup failed");
                        self.queue.add_rate_limited(key.clone());
                    }
                }
                self.queue.done(&key);
                continue;
            };
            let span = tracing::info_span!("reconcile", controller = %self.name, object = %key);
            let started = Instant::now();
            let result = reconciler
                .reconcile(obj.clone(), &ctx)
                .instrument(span)
                .await;
            let outcome = match result {
                Ok(action) => {
                    self.queue.forget(&key);
                    match action.requeue_after() {
                        Some(d) => {
                            self.queue.add_after(key.clone(), d);
                            "requeue"
                        }
                        None => "success",
                    }
                }
                Err(e) => {
                    tracing::warn!(controller = %self.name, object = %key, error = %e, "reconcile failed");
                    match reconciler.error_policy(&obj, &e, &ctx) {
                        ErrorAction::Retry => {
                            if let Some(m) = &self.metrics {
                                m.retries.get_or_create(&labels).inc();
                            }
                            self.queue.add_rate_limited(key.clone());
                        }
                        ErrorAction::RetryAfter(d) => self.queue.add_after(key.clone(), d),
                        ErrorAction::Terminal => self.queue.forget(&key),
                    }
                    "error"
                }
            };
            if let Some(m) = &self.metrics {
                m.duration
                    .get_or_create(&labels)
                    .observe(started.elapsed().as_secs_f64());
                m.reconciles
                    .get_or_create(&ResultLabels {
                        controller: self.name.clone(),
                        result: outcome.to_string(),
                    })
                    .inc();
            }
            self.queue.done(&key);
        }
    }
}
