//! The ReplicaSet controller: keeps `spec.replicas` pods of each ReplicaSet running.
//!
//! One sync of a ReplicaSet ([`ReplicaSetController::sync`]):
//!
//! ```text
//! active pods of the namespace (not Succeeded/Failed, not being deleted)
//!   └─ claim: ours and matching → keep; ours, not matching → release (drop our ownerReference);
//!             orphan, matching → adopt (add a controller ownerReference with blockOwnerDeletion)
//! expectations met? ── no ──► only write status
//!   └─ too few  → create min(missing, 500) from spec.template in slow-start batches 1, 2, 4, ...
//!                 stopping at the first batch with an error
//!      too many → delete min(extra, 500), ranked by [`ranking::compare_for_deletion`]
//! status: replicas, fullyLabeledReplicas, readyReplicas, availableReplicas (minReadySeconds),
//!         observedGeneration, ReplicaFailure condition
//! ```
//!
//! [`Expectations`](expectations::Expectations) remember what a sync asked for until the pod informer
//! has shown it, so a lagging cache never causes a second round of creations. Pods are found by an
//! index of the pod cache on their controller's UID ([`POD_OWNER_INDEX`]); changes to pods wake
//! their controlling ReplicaSet, or for orphans every ReplicaSet of the namespace whose selector
//! matches. Five workers sync different ReplicaSets at once. `kubectl scale rs` works through the
//! API server's `scale` subresource, which changes `spec.replicas`.

pub mod expectations;
pub mod ranking;
pub mod status;

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use futures::future::join_all;
use serde_json::{json, Value};
use skiff_core::client::{Api, Client, ClientError, DeleteParams, Patch};
use skiff_core::controller::{Action, Context, Controller, ErrorAction, ObjectRef, Reconciler};
use skiff_core::events::{EventType, Recorder};
use skiff_core::informer::{cache_key, Cache, EventHandler, FnHandler, Informer, NAMESPACE_INDEX};
use skiff_core::kinds::{ObjectReference, Pod, ReplicaSet};
use skiff_core::meta::OwnerReference;
use skiff_core::selector::SelectorError;
use skiff_core::shutdown::Shutdown;
use skiff_core::Resource;

use expectations::Expectations;

/// Most pods one sync creates or deletes (Kubernetes' `BurstReplicas`).
pub const BURST_REPLICAS: usize = 500;

/// ReplicaSets synced at once.
pub const WORKERS: usize = 5;

/// Name of the pod-cache index on the controlling owner's UID (orphans are filed under
/// [`orphans_of`]`(namespace)`).
pub const POD_OWNER_INDEX: &str = "controllerUid";

/// The [`POD_OWNER_INDEX`] value under which the orphans of a namespace are filed.
pub fn orphans_of(namespace: &str) -> String {
    format!("orphan:{namespace}")
}

/// The index function of [`POD_OWNER_INDEX`]: the controller's UID, or [`orphans_of`] the namespace.
pub fn owner_index(pod: &Pod) -> Vec<String> {
    match pod.metadata.controller_ref() {
        Some(r) => vec![r.uid.clone()],
        None => vec![orphans_of(pod.namespace().unwrap_or_default())],
    }
}

/// Why a sync failed.
#[derive(Debug, thiserror::Error)]
pub enum ReplicaSetError {
    /// An API call failed.
    #[error(transparent)]
    Client(#[from] ClientError),
    /// The ReplicaSet's selector cannot be parsed; it is not retried until the set changes.
    #[error("invalid selector of ReplicaSet {rs}: {source}")]
    Selector {
        /// `namespace/name` of the set.
        rs: String,
        /// What is wrong.
        #[source]
        source: SelectorError,
    },
    /// Some pods could not be created; later batches were not tried.
    #[error("created {created} of {wanted} pods for ReplicaSet {rs}: {source}")]
    Create {
        /// `namespace/name` of the set.
        rs: String,
        /// Pods created.
        created: usize,
        /// Pods this sync wanted to create.
        wanted: usize,
        /// The first error.
        #[source]
        source: ClientError,
    },
    /// Some pods could not be deleted.
    #[error("deleting pods of ReplicaSet {rs}: {source}")]
    Delete {
        /// `namespace/name` of the set.
        rs: String,
        /// The first error.
        #[source]
        source: ClientError,
    },
}

/// The key of the ReplicaSet controlling `pod`, if a ReplicaSet does.
fn controlling_set(pod: &Pod) -> Option<String> {
    let r = pod.metadata.controller_ref()?;
    (r.kind == ReplicaSet::KIND && r.api_version == ReplicaSet::api_version()).then(|| {
        match pod.namespace() {
            Some(ns) if !ns.is_empty() => format!("{ns}/{}", r.name),
            _ => r.name.clone(),
        }
    })
}

/// Lowers expectations as the pod informer sees pods appear and go.
struct ObservePods(Arc<Expectations>);

impl EventHandler<Pod> for ObservePods {
    fn on_add(&self, pod: &Arc<Pod>) {
        if let Some(rs) = controlling_set(pod) {
            if pod.metadata.deletion_timestamp.is_some() {
                self.0.deletion_observed(&rs, &cache_key(&**pod));
            } else {
                self.0.creation_observed(&rs);
            }
        }
    }
    fn on_update(&self, old: &Arc<Pod>, new: &Arc<Pod>) {
        if new.metadata.deletion_timestamp.is_some() && old.metadata.deletion_timestamp.is_none() {
            if let Some(rs) = controlling_set(new) {
                self.0.deletion_observed(&rs, &cache_key(&**new));
            }
        }
    }
    fn on_delete(&self, pod: &Arc<Pod>) {
        if let Some(rs) = controlling_set(pod) {
            self.0.deletion_observed(&rs, &cache_key(&**pod));
        }
    }
}

/// True for pods that count: not Succeeded, not Failed, not being deleted.
pub fn is_active(pod: &Pod) -> bool {
    !matches!(pod.phase(), "Succeeded" | "Failed") && pod.metadata.deletion_timestamp.is_none()
}

/// True when `rs`'s selector selects `pod` (an empty or invalid selector selects nothing).
fn selects(rs: &ReplicaSet, pod: &Pod) -> bool {
    !rs.spec.selector.is_empty() && rs.spec.selector.matches(&pod.metadata.labels)
}

/// The ReplicaSets to sync when `pod` changes: its controller, or for an orphan every set that selects it.
fn sets_for_pod(sets: &Cache<ReplicaSet>, pod: &Pod) -> Vec<ObjectRef> {
    if let Some(r) = pod.metadata.controller_ref() {
        if r.kind == ReplicaSet::KIND && r.api_version == ReplicaSet::api_version() {
            return vec![ObjectRef::new(pod.namespace(), &r.name)];
        }
        return Vec::new();
    }
    if pod.metadata.deletion_timestamp.is_some() {
        return Vec::new();
    }
    let Some(ns) = pod.namespace() else {
        return Vec::new();
    };
    sets.by_index(NAMESPACE_INDEX, ns)
        .iter()
        .filter(|rs| selects(rs, pod))
        .map(|rs| ObjectRef::from_obj(&**rs))
        .collect()
}

/// The controller ownerReference a ReplicaSet puts on its pods.
pub fn owner_reference(rs: &ReplicaSet) -> OwnerReference {
    OwnerReference {
        api_version: ReplicaSet::api_version(),
        kind: ReplicaSet::KIND.to_string(),
        name: rs.name().to_string(),
        uid: rs.metadata.uid.clone().unwrap_or_default(),
        controller: Some(true),
        block_owner_deletion: Some(true),
    }
}

/// A new pod of `rs`: its template, `generateName: <rs>-`, and the controller ownerReference.
pub fn pod_from_template(rs: &ReplicaSet) -> Pod {
    let template = &rs.spec.template;
    let mut pod = Pod::default();
    pod.metadata.generate_name = Some(format!("{}-", rs.name()));
    pod.metadata.namespace = rs.metadata.namespace.clone();
    pod.metadata.labels = template.metadata.labels.clone();
    pod.metadata.annotations = template.metadata.annotations.clone();
    pod.metadata.finalizers = template.metadata.finalizers.clone();
    pod.metadata.owner_references = vec![owner_reference(rs)];
    pod.spec = template.spec.clone();
    pod
}

/// Runs `op` `count` times in batches of 1, 2, 4, ... (each batch concurrently), stopping after the first
/// batch with an error. Returns how many succeeded and the first error.
pub async fn slow_start<F, Fut, T>(count: usize, op: F) -> (usize, Option<ClientError>)
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = Result<T, ClientError>>,
{
    let mut remaining = count;
    let mut batch = count.min(1);
    let mut succeeded = 0;
    while batch > 0 {
        let results = join_all((0..batch).map(|_| op())).await;
        let mut first_error = None;
        for r in results {
            match r {
                Ok(_) => succeeded += 1,
                Err(e) => {
                    first_error.get_or_insert(e);
                }
            }
        }
        if first_error.is_some() {
            return (succeeded, first_error);
        }
        remaining -= batch;
        batch = (batch * 2).min(remaining);
    }
    (succeeded, None)
}

/// The ReplicaSet controller. [`run`] starts one with its own informers.
pub struct ReplicaSetController {
    client: Arc<dyn Client>,
    sets: Arc<Informer<ReplicaSet>>,
    pods: Arc<Informer<Pod>>,
    expectations: Arc<Expectations>,
    recorder: Arc<Recorder>,
    burst: usize,
}

/// Runs a ReplicaSet controller until `shutdown` (for `skiff up` and `skiff controllers`).
pub async fn run(client: Arc<dyn Client>, shutdown: Shutdown) {
    Arc::new(ReplicaSetController::new(client))
        .run(shutdown)
        .await
}

impl ReplicaSetController {
    /// A controller with its own ReplicaSet and pod informers over `client`.
    pub fn new(client: Arc<dyn Client>) -> Self {
        Self::with_informers(
            client.clone(),
            Informer::new(Api::<ReplicaSet>::all(client.clone())),
            Informer::new(Api::<Pod>::all(client)),
        )
    }

    /// A controller over existing (e.g. shared) informers; adds the owner-UID index and the
    /// expectations handler to the pod informer.
    pub fn with_informers(
        client: Arc<dyn Client>,
        sets: Arc<Informer<ReplicaSet>>,
        pods: Arc<Informer<Pod>>,
    ) -> Self {
        let expectations = Arc::new(Expectations::new());
        pods.cache().add_index(POD_OWNER_INDEX, owner_index);
        pods.add_handler(Arc::new(ObservePods(expectations.clone())));
        let forget = expectations.clone();
        sets.add_handler(Arc::new(FnHandler(
            move |old: Option<&Arc<ReplicaSet>>, new: Option<&Arc<ReplicaSet>>| {
                if let (Some(old), None) = (old, new) {
                    forget.forget(&cache_key(&**old));
                }
            },
        )));
        Self {
            recorder: Arc::new(Recorder::new(client.clone(), "replicaset-controller", None)),
            client,
            sets,
            pods,
            expectations,
            burst: BURST_REPLICAS,
        }
    }

    /// The pod informer (started by [`run`](Self::run)).
    pub fn pod_informer(&self) -> &Arc<Informer<Pod>> {
        &self.pods
    }

    /// The ReplicaSet informer (started by [`run`](Self::run)).
    pub fn set_informer(&self) -> &Arc<Informer<ReplicaSet>> {
        &self.sets
    }

    /// The expectations of every set.
    pub fn expectations(&self) -> &Arc<Expectations> {
        &self.expectations
    }

    /// Records an event about `rs` without waiting for it (events are best effort).
    fn event(&self, rs: &ReplicaSet, type_: EventType, reason: &'static str, message: String) {
        self.recorder
            .record(ObjectReference::to(rs), type_, reason, &message);
    }

    /// Runs with [`WORKERS`] workers until `shutdown`.
    pub async fn run(self: Arc<Self>, shutdown: Shutdown) {
        let set_cache = self.sets.cache();
        Controller::new("replicaset", self.sets.clone())
            .watches(self.pods.clone(), move |pod: &Pod| {
                sets_for_pod(&set_cache, pod)
            })
            .concurrency(WORKERS)
            .run(self, shutdown)
            .await
    }

    /// Syncs one ReplicaSet: claims pods, creates or deletes some, writes status.
    pub async fn sync(&self, rs: &ReplicaSet) -> Result<Action, ReplicaSetError> {
        let key = cache_key(rs);
        rs.spec
            .selector
            .to_selector()
            .map_err(|source| ReplicaSetError::Selector {
                rs: key.clone(),
                source,
            })?;
        let needs_sync = self.expectations.satisfied(&key);
        let ns = rs.namespace().unwrap_or("default");
        // Our pods and the namespace's orphans: nobody else's pods need looking at.
        let cache = self.pods.cache();
        let uid = rs.metadata.uid.as_deref().unwrap_or_default();
        let active: Vec<Arc<Pod>> = cache
            .by_index(POD_OWNER_INDEX, uid)
            .into_iter()
            .filter(|p| p.namespace() == Some(ns))
            .chain(cache.by_index(POD_OWNER_INDEX, &orphans_of(ns)))
            .filter(|p| is_active(p))
            .collect();
        let owned = self.claim(rs, active).await?;
        let manage = if needs_sync && rs.metadata.deletion_timestamp.is_none() {
            self.manage(rs, &key, &owned).await
        } else {
            Ok(())
        };
        let now = chrono::Utc::now();
        let new_status = status::calculate(rs, &owned, manage.as_ref().err(), now);
        let min_ready = rs.spec.min_ready_seconds.unwrap_or(0).max(0);
        let wait_for_available = min_ready > 0
            && new_status.ready_replicas.unwrap_or(0) > new_status.available_replicas.unwrap_or(0);
        self.write_status(rs, new_status).await?;
        manage?;
        Ok(if wait_for_available {
            Action::requeue(Duration::from_secs(u64::try_from(min_ready).unwrap_or(0)))
        } else {
            Action::await_change()
        })
    }

    /// Adopts matching orphans, releases our pods that stopped matching; returns the pods the set owns.
    async fn claim(
        &self,
        rs: &ReplicaSet,
        pods: Vec<Arc<Pod>>,
    ) -> Result<Vec<Arc<Pod>>, ReplicaSetError> {
        let uid = rs.metadata.uid.clone().unwrap_or_default();
        let deleting = rs.metadata.deletion_timestamp.is_some();
        let api: Api<Pod> =
            Api::namespaced(self.client.clone(), rs.namespace().unwrap_or("default"));
        let mut owned = Vec::new();
        let mut can_adopt: Option<bool> = None;
        let mut first_error: Option<ClientError> = None;
        for pod in pods {
            let matches = selects(rs, &pod);
            match pod.metadata.controller_ref() {
                Some(r) if r.uid == uid => {
                    if matches {
                        owned.push(pod);
                    } else if !deleting {
                        let refs: Vec<_> = pod
                            .metadata
                            .owner_references
                            .iter()
                            .filter(|r| r.uid != uid)
                            .cloned()
                            .collect();
                        if let Err(e) = patch_owners(&api, &pod, &refs).await {
                            if !e.is_not_found() {
                                first_error.get_or_insert(e);
                            }
                        }
                    }
                }
                Some(_) => {}
                None if matches && !deleting => {
                    if can_adopt.is_none() {
                        // Re-read the set: never adopt for a set that was deleted or recreated meanwhile.
                        let fresh = Api::<ReplicaSet>::namespaced(
                            self.client.clone(),
                            rs.namespace().unwrap_or("default"),
                        )
                        .get_opt(rs.name())
                        .await?;
                        can_adopt = Some(fresh.is_some_and(|f| {
                            f.metadata.uid.as_deref() == Some(uid.as_str())
                                && f.metadata.deletion_timestamp.is_none()
                        }));
                    }
                    if can_adopt != Some(true) {
                        continue;
                    }
                    let mut refs = pod.metadata.owner_references.clone();
                    refs.push(owner_reference(rs));
                    match patch_owners(&api, &pod, &refs).await {
                        Ok(p) => owned.push(Arc::new(p)),
                        Err(e) if e.is_not_found() => {}
                        Err(e) => {
                            first_error.get_or_insert(e);
                        }
                    }
                }
                None => {}
            }
        }
        match first_error {
            Some(e) => Err(e.into()),
            None => Ok(owned),
        }
    }

    /// Creates or deletes pods so that `owned` moves toward `spec.replicas`.
    async fn manage(
        &self,
        rs: &ReplicaSet,
        key: &str,
        owned: &[Arc<Pod>],
    ) -> Result<(), ReplicaSetError> {
        let wanted = usize::try_from(rs.spec.replicas.unwrap_or(1).max(0)).unwrap_or(0);
        let api: Api<Pod> =
            Api::namespaced(self.client.clone(), rs.namespace().unwrap_or("default"));
        if owned.len() < wanted {
            let n = (wanted - owned.len()).min(self.burst);
            self.expectations.expect_creations(key, n);
            let template = pod_from_template(rs);
            let (created, error) = slow_start(n, || async {
                let result = api.create(&template).await;
                match &result {
                    Ok(p) => self.event(
                        rs,
                        EventType::Normal,
                        "SuccessfulCreate",
                        format!("Created pod: {}", p.name()),
                    ),
                    Err(e) => self.event(
                        rs,
                        EventType::Warning,
                        "FailedCreate",
                        format!("Error creating: {e}"),
                    ),
                }
                result
            })
            .await;
            // Creations that failed or were never tried will not be observed.
            for _ in created..n {
                self.expectations.creation_observed(key);
            }
            tracing::debug!(rs = %key, created, wanted = n, "created pods");
            if let Some(source) = error {
                return Err(ReplicaSetError::Create {
                    rs: key.to_string(),
                    created,
                    wanted: n,
                    source,
                });
            }
        } else if owned.len() > wanted {
            let n = (owned.len() - wanted).min(self.burst);
            let victims: Vec<Arc<Pod>> =
                ranking::deletion_order(owned).into_iter().take(n).collect();
            self.expectations
                .expect_deletions(key, victims.iter().map(|p| cache_key(&**p)));
            let api = &api;
            let results = join_all(victims.iter().map(|p| async move {
                let result = api
                    .delete(
                        p.name(),
                        &DeleteParams {
                            precondition_uid: p.metadata.uid.clone(),
                            ..DeleteParams::default()
                        },
                    )
                    .await;
                (p, result)
            }))
            .await;
            let mut first_error = None;
            for (p, r) in results {
                match &r {
                    Ok(_) => self.event(
                        rs,
                        EventType::Normal,
                        "SuccessfulDelete",
                        format!("Deleted pod: {}", p.name()),
                    ),
                    Err(e) if !e.is_not_found() => self.event(
                        rs,
                        EventType::Warning,
                        "FailedDelete",
                        format!("Error deleting: {e}"),
                    ),
                    Err(_) => {}
                }
                if let Err(e) = r {
                    // The informer will not see this deletion.
                    self.expectations.deletion_observed(key, &cache_key(&**p));
                    if !e.is_not_found() {
                        first_error.get_or_insert(e);
                    }
                }
            }
            tracing::debug!(rs = %key, deleted = n, "deleted pods");
            if let Some(source) = first_error {
                return Err(ReplicaSetError::Delete {
                    rs: key.to_string(),
                    source,
                });
            }
        }
        Ok(())
    }

    /// Writes `new` as the set's status unless it is already that; retries once on a conflict.
    async fn write_status(
        &self,
        rs: &ReplicaSet,
        new: skiff_core::kinds::ReplicaSetStatus,
    ) -> Result<(), ClientError> {
        if rs.status.as_ref() == Some(&new) {
            return Ok(());
        }
        let api: Api<ReplicaSet> =
            Api::namespaced(self.client.clone(), rs.namespace().unwrap_or("default"));
        let mut updated = rs.clone();
        updated.status = Some(new.clone());
        match api.replace_status(rs.name(), &updated).await {
            Ok(_) => Ok(()),
            Err(e) if e.is_not_found() => Ok(()),
            Err(e) if e.is_conflict() => {
                let Some(mut fresh) = api.get_opt(rs.name()).await? else {
                    return Ok(());
                };
                if fresh.metadata.uid != rs.metadata.uid {
                    return Ok(());
                }
                fresh.status = Some(new);
                api.replace_status(rs.name(), &fresh).await.map(|_| ())
            }
            Err(e) => Err(e),
        }
    }
}

/// Sets a pod's ownerReferences with a merge patch that only applies to the version we saw.
async fn patch_owners(
    api: &Api<Pod>,
    pod: &Pod,
    refs: &[OwnerReference],
) -> Result<Pod, ClientError> {
    let patch = json!({
        "metadata": {
            "resourceVersion": pod.metadata.resource_version,
            // An empty list removes the field, as Kubernetes omits empty lists.
            "ownerReferences": if refs.is_empty() { Value::Null } else { json!(refs) },
        }
    });
    api.patch(pod.name(), &Patch::Merge(patch)).await
}

#[async_trait]
impl Reconciler<ReplicaSet> for ReplicaSetController {
    type Error = ReplicaSetError;

    async fn reconcile(
        &self,
        rs: Arc<ReplicaSet>,
        _ctx: &Context<ReplicaSet>,
    ) -> Result<Action, ReplicaSetError> {
        self.sync(&rs).await
    }

    fn error_policy(
        &self,
        _rs: &Arc<ReplicaSet>,
        error: &ReplicaSetError,
        _ctx: &Context<ReplicaSet>,
    ) -> ErrorAction {
        match error {
            ReplicaSetError::Selector { .. } => ErrorAction::Terminal,
            _ => ErrorAction::Retry,
        }
    }
}

#[cfg(test)]
mod tests;
