//! ReplicaSet controller tests on the in-process client.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use futures::stream::BoxStream;
use serde_json::{json, Value};
use skiff_core::client::{
    Api, Client, ClientError, DeleteOutcome, DeleteParams, InProcessClient, ListParams, Patch,
    RawEvent, RawList, WatchParams,
};
use skiff_core::kinds::{Container, Pod, ReplicaSet};
use skiff_core::selector::LabelSelector;
use skiff_core::shutdown::Shutdown;
use skiff_core::store::MemoryStore;
use skiff_core::ApiResource;

use super::*;

fn client() -> Arc<dyn Client> {
    InProcessClient::shared(Arc::new(MemoryStore::new()))
}

fn replica_set(name: &str, replicas: i32) -> ReplicaSet {
    let mut rs = ReplicaSet::named(name);
    rs.metadata.namespace = Some("default".into());
    rs.spec.replicas = Some(replicas);
    let labels = [("app".to_string(), name.to_string())]
        .into_iter()
        .collect();
    rs.spec.selector = LabelSelector::from_labels(labels);
    rs.spec
        .template
        .metadata
        .labels
        .insert("app".into(), name.into());
    rs.spec
        .template
        .metadata
        .labels
        .insert("extra".into(), "yes".into());
    rs.spec.template.spec.containers = vec![Container::new("main", "busybox")];
    rs
}

async fn pods_of(client: &Arc<dyn Client>) -> Vec<Pod> {
    Api::<Pod>::namespaced(client.clone(), "default")
        .list(&ListParams::default())
        .await
        .expect("list pods")
        .items
}

/// Polls `check` every 10 ms for up to 10 s.
async fn eventually<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    for _ in 0..1000 {
        if check().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("timed out waiting for: {what}");
}

async fn count_pods(client: &Arc<dyn Client>, n: usize) -> bool {
    pods_of(client)
        .await
        .iter()
        .filter(|p| is_active(p))
        .count()
        == n
}

fn start(client: &Arc<dyn Client>) -> skiff_core::shutdown::ShutdownTrigger {
    let (stop, shutdown) = Shutdown::new();
    tokio::spawn(run(client.clone(), shutdown));
    stop
}

async fn set_ready(client: &Arc<dyn Client>, name: &str, since: chrono::DateTime<chrono::Utc>) {
    Api::<Pod>::namespaced(client.clone(), "default")
        .patch_status(
            name,
            &Patch::Merge(json!({"status": {"phase": "Running", "conditions": [
                {"type": "Ready", "status": "True", "lastTransitionTime": skiff_core::meta::Time(since)}
            ]}})),
        )
        .await
        .expect("set pod ready");
}

#[tokio::test]
async fn scale_up_creates_pods_with_owner_references_and_labels() {
    let client = client();
    let sets: Api<ReplicaSet> = Api::namespaced(client.clone(), "default");
    let rs = sets
        .create(&replica_set("web", 3))
        .await
        .expect("create rs");
    let stop = start(&client);
    eventually("3 pods", || count_pods(&client, 3)).await;
    for pod in pods_of(&client).await {
        assert!(pod
            .metadata
            .name
            .as_deref()
            .is_some_and(|n| n.starts_with("web-")));
        assert_eq!(
            pod.metadata.labels.get("app").map(String::as_str),
            Some("web")
        );
        assert_eq!(
            pod.metadata.labels.get("extra").map(String::as_str),
            Some("yes")
        );
        let r = pod.metadata.controller_ref().expect("controller ref");
        assert_eq!(r.api_version, "apps/v1");
        assert_eq!(r.kind, "ReplicaSet");
        assert_eq!(r.name, "web");
        assert_eq!(Some(&r.uid), rs.metadata.uid.as_ref());
        assert_eq!(r.block_owner_deletion, Some(true));
    }
    eventually("status", || async {
        let s = sets.get("web").await.ok().and_then(|r| r.status);
        s.is_some_and(|s| {
            s.replicas == 3
                && s.fully_labeled_replicas == Some(3)
                && s.observed_generation == Some(1)
        })
    })
    .await;
    eventually("SuccessfulCreate events", || async {
        Api::<skiff_core::kinds::Event>::namespaced(client.clone(), "default")
            .list(&ListParams::default())
            .await
            .is_ok_and(|l| {
                l.items
                    .iter()
                    .filter(|e| e.reason.as_deref() == Some("SuccessfulCreate"))
                    .count()
                    == 3
            })
    })
    .await;
    // Scaling up again through spec.replicas (what the scale subresource writes).
    sets.patch("web", &Patch::Merge(json!({"spec": {"replicas": 5}})))
        .await
        .expect("scale");
    eventually("5 pods", || count_pods(&client, 5)).await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(pods_of(&client).await.len(), 5, "no extra pods");
    stop.trigger();
}

#[tokio::test]
async fn scale_down_deletes_not_ready_pods_first() {
    let client = client();
    let sets: Api<ReplicaSet> = Api::namespaced(client.clone(), "default");
    sets.create(&replica_set("web", 3))
        .await
        .expect("create rs");
    let stop = start(&client);
    eventually("3 pods", || count_pods(&client, 3)).await;
    let pods = pods_of(&client).await;
    let names: Vec<String> = pods
        .iter()
        .filter_map(|p| p.metadata.name.clone())
        .collect();
    let now = chrono::Utc::now();
    set_ready(&client, &names[0], now).await;
    set_ready(&client, &names[1], now).await;
    sets.patch("web", &Patch::Merge(json!({"spec": {"replicas": 2}})))
        .await
        .expect("scale");
    eventually("2 pods", || count_pods(&client, 2)).await;
    let left: Vec<String> = pods_of(&client)
        .await
        .iter()
        .filter_map(|p| p.metadata.name.clone())
        .collect();
    assert!(
        !left.contains(&names[2]),
        "the not-ready pod goes first: {left:?}"
    );
    stop.trigger();
}

#[tokio::test]
async fn a_deleted_pod_is_replaced() {
    let client = client();
    let sets: Api<ReplicaSet> = Api::namespaced(client.clone(), "default");
    sets.create(&replica_set("web", 2))
        .await
        .expect("create rs");
    let stop = start(&client);
    eventually("2 pods", || count_pods(&client, 2)).await;
    let victim = pods_of(&client).await[0]
        .metadata
        .name
        .clone()
        .expect("name");
    Api::<Pod>::namespaced(client.clone(), "default")
        .delete(&victim, &DeleteParams::default())
        .await
        .expect("delete");
    eventually("a replacement", || async {
        let pods = pods_of(&client).await;
        pods.len() == 2
            && pods
                .iter()
                .all(|p| p.metadata.name.as_deref() != Some(victim.as_str()))
    })
    .await;
    stop.trigger();
}

#[tokio::test]
async fn orphans_are_adopted_and_non_matching_pods_released() {
    let client = client();
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    let mut orphan = Pod::named("orphan");
    orphan.metadata.labels.insert("app".into(), "web".into());
    orphan.spec.containers = vec![Container::new("main", "busybox")];
    pods.create(&orphan).await.expect("orphan");
    let sets: Api<ReplicaSet> = Api::namespaced(client.clone(), "default");
    let rs = sets
        .create(&replica_set("web", 2))
        .await
        .expect("create rs");
    let stop = start(&client);
    eventually("orphan adopted", || async {
        pods.get("orphan").await.ok().is_some_and(|p| {
            p.metadata.controller_ref().is_some_and(|r| {
                Some(&r.uid) == rs.metadata.uid.as_ref() && r.block_owner_deletion == Some(true)
            })
        })
    })
    .await;
    eventually("2 pods", || count_pods(&client, 2)).await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(
        pods_of(&client).await.len(),
        2,
        "the orphan counts: one pod created"
    );
    pods.patch(
        "orphan",
        &Patch::Merge(json!({"metadata": {"labels": {"app": "other"}}})),
    )
    .await
    .expect("relabel");
    eventually("orphan released", || async {
        pods.get("orphan")
            .await
            .ok()
            .is_some_and(|p| p.metadata.owner_references.is_empty())
    })
    .await;
    eventually("a replacement", || count_pods(&client, 3)).await;
    stop.trigger();
}

#[tokio::test]
async fn status_counts_ready_and_available_with_min_ready_seconds() {
    let client = client();
    let sets: Api<ReplicaSet> = Api::namespaced(client.clone(), "default");
    let mut rs = replica_set("web", 2);
    rs.spec.min_ready_seconds = Some(100);
    sets.create(&rs).await.expect("create rs");
    let stop = start(&client);
    eventually("2 pods", || count_pods(&client, 2)).await;
    let names: Vec<String> = pods_of(&client)
        .await
        .iter()
        .filter_map(|p| p.metadata.name.clone())
        .collect();
    let now = chrono::Utc::now();
    set_ready(&client, &names[0], now - chrono::Duration::seconds(1000)).await;
    set_ready(&client, &names[1], now).await;
    eventually("status", || async {
        let s = sets.get("web").await.ok().and_then(|r| r.status);
        s.is_some_and(|s| {
            s.replicas == 2
                && s.ready_replicas == Some(2)
                && s.available_replicas == Some(1)
                && s.fully_labeled_replicas == Some(2)
                && s.observed_generation == Some(1)
        })
    })
    .await;
    stop.trigger();
}

/// A client whose pod creations fail after `allowed` successes.
struct FailingCreates {
    inner: Arc<dyn Client>,
    allowed: usize,
    attempts: AtomicUsize,
}

#[async_trait]
impl Client for FailingCreates {
    async fn get(
        &self,
        res: &ApiResource,
        ns: Option<&str>,
        name: &str,
    ) -> Result<Value, ClientError> {
        self.inner.get(res, ns, name).await
    }
    async fn list(
        &self,
        res: &ApiResource,
        ns: Option<&str>,
        p: &ListParams,
    ) -> Result<RawList, ClientError> {
        self.inner.list(res, ns, p).await
    }
    async fn create(
        &self,
        res: &ApiResource,
        ns: Option<&str>,
        obj: Value,
    ) -> Result<Value, ClientError> {
        if res.plural == "pods" && self.attempts.fetch_add(1, Ordering::SeqCst) >= self.allowed {
            return Err(ClientError::api(403, "Forbidden", "exceeded quota: pods"));
        }
        self.inner.create(res, ns, obj).await
    }
    async fn replace(
        &self,
        res: &ApiResource,
        ns: Option<&str>,
        name: &str,
        obj: Value,
    ) -> Result<Value, ClientError> {
        self.inner.replace(res, ns, name, obj).await
    }
    async fn replace_status(
        &self,
        res: &ApiResource,
        ns: Option<&str>,
        name: &str,
        obj: Value,
    ) -> Result<Value, ClientError> {
        self.inner.replace_status(res, ns, name, obj).await
    }
    async fn patch(
        &self,
        res: &ApiResource,
        ns: Option<&str>,
        name: &str,
        p: &Patch,
    ) -> Result<Value, ClientError> {
        self.inner.patch(res, ns, name, p).await
    }
    async fn patch_status(
        &self,
        res: &ApiResource,
        ns: Option<&str>,
        name: &str,
        p: &Patch,
    ) -> Result<Value, ClientError> {
        self.inner.patch_status(res, ns, name, p).await
    }
    async fn delete(
        &self,
        res: &ApiResource,
        ns: Option<&str>,
        name: &str,
        p: &DeleteParams,
    ) -> Result<DeleteOutcome<Value>, ClientError> {
        self.inner.delete(res, ns, name, p).await
    }
    async fn bind(&self, ns: &str, pod: &str, node: &str) -> Result<(), ClientError> {
        self.inner.bind(ns, pod, node).await
    }
    async fn watch(
        &self,
        res: &ApiResource,
        ns: Option<&str>,
        p: &WatchParams,
    ) -> Result<BoxStream<'static, Result<RawEvent, ClientError>>, ClientError> {
        self.inner.watch(res, ns, p).await
    }
}

/// A controller whose informers run (but no workers), for calling `sync` by hand.
async fn synced_controller(
    client: Arc<dyn Client>,
) -> (ReplicaSetController, skiff_core::shutdown::ShutdownTrigger) {
    let ctl = ReplicaSetController::new(client);
    let (stop, shutdown) = Shutdown::new();
    ctl.pod_informer().start(shutdown.clone());
    ctl.set_informer().start(shutdown);
    ctl.pod_informer().wait_for_sync().await;

    ctl.set_informer().wait_for_sync().await;
    (ctl, stop)
}

#[tokio::test]
async fn slow_start_stops_at_the_first_failing_batch() {
    let failing = Arc::new(FailingCreates {
        inner: client(),
        allowed: 3,
        attempts: AtomicUsize::new(0),
    });
    let client: Arc<dyn Client> = failing.clone();
    let rs = Api::<ReplicaSet>::namespaced(client.clone(), "default")
        .create(&replica_set("web", 10))
        .await
        .expect("create rs");
    let (ctl, stop) = synced_controller(client.clone()).await;
    let err = ctl.sync(&rs).await.expect_err("creations fail");
    assert!(
        matches!(
            err,
            ReplicaSetError::Create {
                created: 3,
                wanted: 10,
                ..
            }
        ),
        "{err}"
    );
    // Batches 1 and 2 succeed, the batch of 4 fails, the last batch of 3 is never tried.
    assert_eq!(failing.attempts.load(Ordering::SeqCst), 1 + 2 + 4);
    assert_eq!(pods_of(&client).await.len(), 3);
    // The failed and skipped creations are not waited for; the 3 real ones are observed.
    eventually("expectations met", || async {
        ctl.expectations().satisfied("default/web")
    })
    .await;
    let status = Api::<ReplicaSet>::namespaced(client.clone(), "default")
        .get("web")
        .await
        .expect("rs")
        .status
        .expect("status");
    assert!(status
        .conditions
        .iter()
        .any(|c| c.type_ == "ReplicaFailure" && c.reason.as_deref() == Some("FailedCreate")));
    stop.trigger();
}

#[tokio::test]
async fn one_sync_creates_at_most_500_pods_and_waits_for_them() {
    let client = client();
    let rs = Api::<ReplicaSet>::namespaced(client.clone(), "default")
        .create(&replica_set("big", 600))
        .await
        .expect("create rs");
    let (ctl, stop) = synced_controller(client.clone()).await;
    ctl.sync(&rs).await.expect("sync");
    assert_eq!(pods_of(&client).await.len(), 500);
    // Until the informer has shown all 500, a second sync creates nothing.
    if !ctl.expectations().satisfied("default/big") {
        ctl.sync(&rs).await.expect("sync");
        assert_eq!(pods_of(&client).await.len(), 500);
    }
    stop.trigger();
}

#[tokio::test]
async fn sets_for_pod_maps_controller_and_orphans() {
    let cache: Cache<ReplicaSet> = Cache::new();
    cache.upsert(Arc::new(replica_set("web", 1)));
    cache.upsert(Arc::new(replica_set("db", 1)));
    let mut orphan = Pod::named("p");
    orphan.metadata.namespace = Some("default".into());
    orphan.metadata.labels.insert("app".into(), "web".into());
    assert_eq!(
        sets_for_pod(&cache, &orphan),
        vec![ObjectRef::new(Some("default"), "web")]
    );
    let mut owned = orphan.clone();
    owned.metadata.owner_references = vec![owner_reference(&replica_set("db", 1))];
    assert_eq!(
        sets_for_pod(&cache, &owned),
        vec![ObjectRef::new(Some("default"), "db")]
    );
}

#[test]
fn pods_are_indexed_by_controller_uid_or_as_orphans_of_their_namespace() {
    let cache: Cache<Pod> = Cache::new();
    cache.add_index(POD_OWNER_INDEX, owner_index);
    let mut rs = replica_set("web", 1);
    rs.metadata.uid = Some("uid-1".into());
    let mut owned = Pod::named("owned");
    owned.metadata.namespace = Some("default".into());
    owned.metadata.owner_references = vec![owner_reference(&rs)];
    let mut orphan = Pod::named("orphan");
    orphan.metadata.namespace = Some("default".into());
    cache.upsert(Arc::new(owned));
    cache.upsert(Arc::new(orphan));
    assert_eq!(cache.by_index(POD_OWNER_INDEX, "uid-1").len(), 1);
    assert_eq!(
        cache
            .by_index(POD_OWNER_INDEX, &orphans_of("default"))
            .len(),
        1
    );
    assert!(cache
        .by_index(POD_OWNER_INDEX, &orphans_of("other"))
        .is_empty());
}
