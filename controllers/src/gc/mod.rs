//! The garbage collector: `ownerReferences` cascades.
//!
//! It watches every kind it is told about (by default ReplicaSets, Pods, Services, Endpoints and
//! ConfigMaps), keeps an ownership [`Graph`](graph::Graph) of them, and on every change (and every 30 s)
//! makes one pass ([`GarbageCollector::collect`]):
//!
//! ```text
//! owner deleting with `orphan`              → drop its ownerReference from every dependent, then the finalizer
//! owner deleting with `foregroundDeletion`  → delete its dependents (foreground when they own objects
//!                                             themselves); remove the finalizer once no dependent with
//!                                             blockOwnerDeletion: true is left
//! dependent whose owners are all gone       → delete it (background: the default propagation policy)
//! dependent with some owners gone           → drop the dangling ownerReferences
//! ```
//!
//! An owner missing from the cache is confirmed with a live read (by name, comparing the UID) before
//! anything is deleted, so a cache that has not yet seen a new owner never costs its dependents.
//! Owners of kinds the collector does not watch are assumed to exist. Writes are conditional on the
//! resourceVersion seen; a conflict just means another pass.

pub mod graph;

use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use serde_json::{json, Value};
use skiff_core::client::{Api, Client, ClientError, DeleteParams, Patch, PropagationPolicy};
use skiff_core::informer::{EventHandler, Informer};
use skiff_core::kinds::{ConfigMap, Endpoints, Pod, ReplicaSet, Service};
use skiff_core::meta::OwnerReference;
use skiff_core::shutdown::Shutdown;
use skiff_core::{ApiResource, Resource, Scope};
use tokio::sync::Notify;

use graph::{Graph, GraphNode, FOREGROUND, ORPHAN};

/// The shortest time between the starts of two passes woken by changes.
pub const MIN_PASS_INTERVAL: Duration = Duration::from_millis(500);

/// How often a full pass runs even when nothing changed.
pub const RESYNC: Duration = Duration::from_secs(30);

/// How soon a pass that hit an error is retried.
pub const RETRY: Duration = Duration::from_secs(1);

/// Why a pass did not finish its work (the next pass tries again).
#[derive(Debug, thiserror::Error)]
pub enum GcError {
    /// An API call failed.
    #[error("{action} {object}: {source}")]
    Client {
        /// What the collector was doing.
        action: &'static str,
        /// `namespace/name` of the object.
        object: String,
        /// The error.
        #[source]
        source: ClientError,
    },
}

type SyncFuture = Pin<Box<dyn Future<Output = ()> + Send>>;

/// One watched kind, type-erased.
trait Source: Send + Sync {
    fn resource(&self) -> ApiResource;
    fn snapshot(&self) -> Vec<GraphNode>;
    fn start(&self, shutdown: Shutdown) -> SyncFuture;
}

struct Typed<K: Resource>(Arc<Informer<K>>);

impl<K: Resource> Source for Typed<K> {
    fn resource(&self) -> ApiResource {
        K::api_resource()
    }
    fn snapshot(&self) -> Vec<GraphNode> {
        self.0
            .cache()
            .list()
            .iter()
            .map(|o| GraphNode::of(&**o))
            .collect()
    }
    fn start(&self, shutdown: Shutdown) -> SyncFuture {
        let informer = self.0.clone();
        informer.start(shutdown);
        Box::pin(async move { informer.wait_for_sync().await })
    }
}

/// Wakes the collector on any change.
struct Wake(Arc<Notify>);

impl<K> EventHandler<K> for Wake {
    fn on_add(&self, _: &Arc<K>) {
        self.0.notify_one();
    }
    fn on_update(&self, _: &Arc<K>, _: &Arc<K>) {
        self.0.notify_one();
    }
    fn on_delete(&self, _: &Arc<K>) {
        self.0.notify_one();
    }
}

/// The garbage collector. [`run`] starts one over the default kinds.
pub struct GarbageCollector {
    client: Arc<dyn Client>,
    sources: Vec<Box<dyn Source>>,
    wake: Arc<Notify>,
}

/// Runs a garbage collector over ReplicaSets, Pods, Services, Endpoints and ConfigMaps until `shutdown`.
pub async fn run(client: Arc<dyn Client>, shutdown: Shutdown) {
    GarbageCollector::with_default_kinds(client)
        .run(shutdown)
        .await
}

impl GarbageCollector {
    /// A collector that watches nothing yet (add kinds with [`watch`](Self::watch)).
    pub fn new(client: Arc<dyn Client>) -> Self {
        Self {
            client,
            sources: Vec::new(),
            wake: Arc::new(Notify::new()),
        }
    }

    /// A collector over ReplicaSets, Pods, Services, Endpoints and ConfigMaps.
    pub fn with_default_kinds(client: Arc<dyn Client>) -> Self {
        Self::new(client)
            .watch::<ReplicaSet>()
            .watch::<Pod>()
            .watch::<Service>()
            .watch::<Endpoints>()
            .watch::<ConfigMap>()
    }

    /// Also collects objects of kind `K` (as owners and as dependents), with its own informer.
    pub fn watch<K: Resource>(self) -> Self {
        let informer = Informer::new(Api::<K>::all(self.client.clone()));
        self.watch_informer(informer)
    }

    /// Also collects objects of kind `K`, through an existing (e.g. shared) informer.
    pub fn watch_informer<K: Resource>(mut self, informer: Arc<Informer<K>>) -> Self {
        informer.add_handler(Arc::new(Wake(self.wake.clone())));
        self.sources.push(Box::new(Typed(informer)));
        self
    }

    /// Starts the informers and waits until their caches are filled.
    pub async fn start(&self, shutdown: Shutdown) {
        let syncs: Vec<SyncFuture> = self
            .sources
            .iter()
            .map(|s| s.start(shutdown.clone()))
            .collect();
        futures::future::join_all(syncs).await;
    }

    /// Runs until `shutdown`: a pass on every change, every 30 s, and 1 s after a failed pass.
    pub async fn run(self, shutdown: Shutdown) {
        tokio::select! {
            _ = self.start(shutdown.clone()) => {}
            _ = shutdown.wait() => return,
        }
        tracing::info!("garbage collector: caches synced");
        loop {
            let began = tokio::time::Instant::now();
            let delay = match self.collect().await {
                Ok(()) => RESYNC,
                Err(e) => {
                    tracing::warn!(error = %e, "garbage collection pass failed; retrying");
                    RETRY
                }
            };
            tokio::select! {
                _ = self.wake.notified() => {
                    // A pass is O(objects watched): under a stream of changes, at most one per
                    // MIN_PASS_INTERVAL, the changes meanwhile coalesced into the next one.
                    tokio::select! {
                        _ = tokio::time::sleep_until(began + MIN_PASS_INTERVAL) => {}
                        _ = shutdown.wait() => return,
                    }
                }
                _ = tokio::time::sleep(delay) => {}
                _ = shutdown.wait() => return,
            }
        }
    }

    fn resource_of(&self, r: &OwnerReference) -> Option<ApiResource> {
        self.sources
            .iter()
            .map(|s| s.resource())
            .find(|res| res.kind == r.kind && res.api_version() == r.api_version)
    }

    /// One pass over everything watched; returns the first error (the rest of the pass still runs).
    pub async fn collect(&self) -> Result<(), GcError> {
        let graph = Graph::new(self.sources.iter().flat_map(|s| s.snapshot()).collect());
        let mut first_error: Option<GcError> = None;
        let mut note = |r: Result<(), GcError>| {
            if let Err(e) = r {
                first_error.get_or_insert(e);
            }
        };
        for owner in graph.nodes().iter().filter(|n| n.deleting) {
            if owner.has_finalizer(ORPHAN) {
                note(self.orphan_dependents(&graph, owner).await);
            } else if owner.has_finalizer(FOREGROUND) {
                note(self.delete_dependents(&graph, owner).await);
            }
        }
        // Owners confirmed absent (true) or present (false) by a live read, once per pass.
        let mut absent: HashMap<String, bool> = HashMap::new();
        for dependent in graph
            .nodes()
            .iter()
            .filter(|n| !n.owners.is_empty() && !n.deleting)
        {
            note(self.collect_dependent(&graph, dependent, &mut absent).await);
        }
        match first_error {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }

    /// `orphan`: every dependent loses its reference to `owner`; then the finalizer goes.
    async fn orphan_dependents(&self, graph: &Graph, owner: &GraphNode) -> Result<(), GcError> {
        for d in graph.dependents(&owner.uid) {
            let gone: HashSet<&str> = [owner.uid.as_str()].into_iter().collect();
            self.remove_owner_references(d, &gone).await?;
        }
        self.remove_finalizer(owner, ORPHAN).await
    }

    /// `foregroundDeletion`: delete the dependents; remove the finalizer once no blocking one is left.
    async fn delete_dependents(&self, graph: &Graph, owner: &GraphNode) -> Result<(), GcError> {
        let dependents = graph.dependents(&owner.uid);
        for d in dependents.iter().filter(|d| !d.deleting) {
            // Dependents that own objects themselves are deleted in the foreground too, so the whole
            // tree is gone before the owner is.
            let policy = if graph.dependents(&d.uid).is_empty() {
                PropagationPolicy::Background
            } else {
                PropagationPolicy::Foreground
            };
            self.delete(d, policy, false).await?;
        }
        let blocking = dependents.iter().any(|d| {
            d.owners
                .iter()
                .any(|r| r.uid == owner.uid && r.block_owner_deletion == Some(true))
        });
        if blocking {
            return Ok(());
        }
        self.remove_finalizer(owner, FOREGROUND).await
    }

    /// Deletes `dependent` when all its owners are gone; drops the references to those that are gone.
    async fn collect_dependent(
        &self,
        graph: &Graph,
        dependent: &GraphNode,
        absent: &mut HashMap<String, bool>,
    ) -> Result<(), GcError> {
        let mut gone: HashSet<&str> = HashSet::new();
        for r in &dependent.owners {
            if graph.get(&r.uid).is_some() {
                continue;
            }
            match absent.get(&r.uid) {
                Some(true) => {
                    gone.insert(&r.uid);
                    continue;
                }
                Some(false) => continue,
                None => {}
            }
            let Some(res) = self.resource_of(r) else {
                continue; // a kind we do not watch: assume it exists
            };
            let ns = match res.scope {
                Scope::Cluster => None,
                Scope::Namespaced => dependent.namespace.as_deref(),
            };
            match self.client.get(&res, ns, &r.name).await {
                Ok(obj) => {
                    let uid = obj.pointer("/metadata/uid").and_then(Value::as_str);
                    let is_gone = uid != Some(r.uid.as_str());
                    absent.insert(r.uid.clone(), is_gone);
                    if is_gone {
                        gone.insert(&r.uid);
                    }
                }
                Err(e) if e.is_not_found() => {
                    absent.insert(r.uid.clone(), true);
                    gone.insert(&r.uid);
                }
                Err(source) => {
                    return Err(GcError::Client {
                        action: "reading the owner of",
                        object: dependent.key(),
                        source,
                    })
                }
            }
        }
        if gone.is_empty() {
            Ok(())
        } else if gone.len() == dependent.owners.len() {
            tracing::info!(object = %dependent.key(), kind = %dependent.resource.kind, "deleting: owners are gone");
            // Only the version this decision was made on: an orphaning delete may have just removed
            // the owner references (the cache can lag behind the owner's disappearance).
            self.delete(dependent, PropagationPolicy::Background, true)
                .await
        } else {
            self.remove_owner_references(dependent, &gone).await
        }
    }

    /// Deletes `node` (the same object: UID precondition; with `at_version`, only as it was seen).
    async fn delete(
        &self,
        node: &GraphNode,
        policy: PropagationPolicy,
        at_version: bool,
    ) -> Result<(), GcError> {
        let params = DeleteParams {
            propagation_policy: policy,
            precondition_uid: Some(node.uid.clone()),
            precondition_resource_version: at_version
                .then(|| node.resource_version.clone())
                .flatten(),
            ..DeleteParams::default()
        };
        match self
            .client
            .delete(
                &node.resource,
                node.namespace.as_deref(),
                &node.name,
                &params,
            )
            .await
        {
            Ok(_) => Ok(()),
            Err(e) if e.is_not_found() || e.is_conflict() => Ok(()), // gone or replaced meanwhile
            Err(source) => Err(GcError::Client {
                action: "deleting",
                object: node.key(),
                source,
            }),
        }
    }

    async fn remove_owner_references(
        &self,
        node: &GraphNode,
        uids: &HashSet<&str>,
    ) -> Result<(), GcError> {
        let kept: Vec<&OwnerReference> = node
            .owners
            .iter()
            .filter(|r| !uids.contains(r.uid.as_str()))
            .collect();
        self.patch_metadata(
            node,
            json!({"resourceVersion": node.resource_version, "ownerReferences": list_or_null(json!(kept))}),
            "removing owner references of",
        )
        .await
    }

    async fn remove_finalizer(&self, node: &GraphNode, finalizer: &str) -> Result<(), GcError> {
        let kept: Vec<&String> = node.finalizers.iter().filter(|f| *f != finalizer).collect();
        self.patch_metadata(
            node,
            json!({"resourceVersion": node.resource_version, "finalizers": list_or_null(json!(kept))}),
            "removing a finalizer of",
        )
        .await
    }

    /// A merge patch of `metadata`, conditional on the resourceVersion seen; a conflict or a missing
    /// object is left to the next pass.
    async fn patch_metadata(
        &self,
        node: &GraphNode,
        metadata: Value,
        action: &'static str,
    ) -> Result<(), GcError> {
        let patch = Patch::Merge(json!({ "metadata": metadata }));
        match self
            .client
            .patch(
                &node.resource,
                node.namespace.as_deref(),
                &node.name,
                &patch,
            )
            .await
        {
            Ok(_) => Ok(()),
            Err(e) if e.is_not_found() || e.is_conflict() => Ok(()),
            Err(source) => Err(GcError::Client {
                action,
                object: node.key(),
                source,
            }),
        }
    }
}

/// A list for a merge patch; `null` (removing the field, as Kubernetes omits empty lists) when empty.
fn list_or_null(list: Value) -> Value {
    match list.as_array() {
        Some(items) if items.is_empty() => Value::Null,
        _ => list,
    }
}

#[cfg(test)]
mod tests;
