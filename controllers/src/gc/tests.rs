//! Garbage collector tests on the in-process client: background, foreground and orphan deletion.

use std::sync::Arc;
use std::time::Duration;

use serde_json::json;
use skiff_core::client::{
    Api, Client, DeleteParams, InProcessClient, ListParams, Patch, PropagationPolicy,
};
use skiff_core::kinds::{ConfigMap, Container, Pod, ReplicaSet};
use skiff_core::meta::OwnerReference;
use skiff_core::selector::LabelSelector;
use skiff_core::shutdown::{Shutdown, ShutdownTrigger};
use skiff_core::store::MemoryStore;

use super::*;
use crate::replicaset::owner_reference;

fn client() -> Arc<dyn Client> {
    InProcessClient::shared(Arc::new(MemoryStore::new()))
}

fn start_gc(client: &Arc<dyn Client>) -> ShutdownTrigger {
    let (stop, shutdown) = Shutdown::new();
    tokio::spawn(run(client.clone(), shutdown));
    stop
}

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

async fn replica_set(client: &Arc<dyn Client>, name: &str) -> ReplicaSet {
    let mut rs = ReplicaSet::named(name);
    rs.spec.replicas = Some(0);
    rs.spec.selector = LabelSelector::from_labels([("app".to_string(), name.to_string())].into());
    rs.spec
        .template
        .metadata
        .labels
        .insert("app".into(), name.into());
    rs.spec.template.spec.containers = vec![Container::new("main", "busybox")];
    Api::<ReplicaSet>::namespaced(client.clone(), "default")
        .create(&rs)
        .await
        .expect("create rs")
}

async fn pod_owned_by(client: &Arc<dyn Client>, name: &str, owners: Vec<OwnerReference>) -> Pod {
    let mut pod = Pod::named(name);
    pod.metadata.owner_references = owners;
    pod.spec.containers = vec![Container::new("main", "busybox")];
    Api::<Pod>::namespaced(client.clone(), "default")
        .create(&pod)
        .await
        .expect("create pod")
}

fn pods(client: &Arc<dyn Client>) -> Api<Pod> {
    Api::namespaced(client.clone(), "default")
}

fn sets(client: &Arc<dyn Client>) -> Api<ReplicaSet> {
    Api::namespaced(client.clone(), "default")
}

async fn exists<K: skiff_core::Resource>(api: &Api<K>, name: &str) -> bool {
    api.get_opt(name).await.expect("get").is_some()
}

#[tokio::test]
async fn background_deletion_deletes_dependents_of_a_deleted_owner() {
    let client = client();
    let rs = replica_set(&client, "web").await;
    pod_owned_by(&client, "a", vec![owner_reference(&rs)]).await;
    pod_owned_by(&client, "b", vec![owner_reference(&rs)]).await;
    let other = replica_set(&client, "other").await;
    // Two owners, one of which stays: only the dangling reference goes.
    pod_owned_by(
        &client,
        "shared",
        vec![owner_reference(&rs), owner_reference(&other)],
    )
    .await;
    // An owner of a kind the collector does not watch is assumed to exist.
    let mut foreign = owner_reference(&rs);
    foreign.kind = "Widget".into();
    foreign.api_version = "example.com/v1".into();
    foreign.uid = "widget-uid".into();
    pod_owned_by(&client, "foreign", vec![foreign]).await;
    let stop = start_gc(&client);
    sets(&client)
        .delete("web", &DeleteParams::default())
        .await
        .expect("delete rs");
    let p = pods(&client);
    eventually("dependents deleted", || async {
        !exists(&p, "a").await && !exists(&p, "b").await
    })
    .await;
    eventually("dangling reference dropped", || async {
        p.get("shared").await.is_ok_and(|s| {
            s.metadata.owner_references.len() == 1
                && s.metadata.owner_references[0].uid
                    == other.metadata.uid.clone().unwrap_or_default()
        })
    })
    .await;
    assert!(exists(&p, "foreign").await);
    stop.trigger();
}

#[tokio::test]
async fn a_dependent_of_an_owner_recreated_with_another_uid_is_deleted() {
    let client = client();
    let rs = replica_set(&client, "web").await;
    pod_owned_by(&client, "a", vec![owner_reference(&rs)]).await;
    sets(&client)
        .delete("web", &DeleteParams::default())
        .await
        .expect("delete");
    replica_set(&client, "web").await; // same name, new UID
    let stop = start_gc(&client);
    let p = pods(&client);
    eventually("stale dependent deleted", || async {
        !exists(&p, "a").await
    })
    .await;
    stop.trigger();
}

#[tokio::test]
async fn foreground_deletion_waits_for_blocking_dependents() {
    let client = client();
    let rs = replica_set(&client, "web").await;
    let mut non_blocking = owner_reference(&rs);
    non_blocking.block_owner_deletion = None;
    pod_owned_by(&client, "a", vec![owner_reference(&rs)]).await;
    pod_owned_by(&client, "b", vec![non_blocking]).await;
    // A blocking dependent whose own deletion is held by a finalizer.
    let mut held = Pod::named("held");
    held.metadata.owner_references = vec![owner_reference(&rs)];
    held.metadata.finalizers = vec!["example.com/hold".into()];
    held.spec.containers = vec![Container::new("main", "busybox")];
    pods(&client).create(&held).await.expect("held pod");
    let stop = start_gc(&client);
    sets(&client)
        .delete(
            "web",
            &DeleteParams {
                propagation_policy: PropagationPolicy::Foreground,
                ..DeleteParams::default()
            },
        )
        .await
        .expect("delete rs");
    let p = pods(&client);
    eventually("dependents deleted", || async {
        !exists(&p, "a").await
            && !exists(&p, "b").await
            && p.get("held")
                .await
                .is_ok_and(|h| h.metadata.deletion_timestamp.is_some())
    })
    .await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    let waiting = sets(&client).get("web").await.expect("owner still there");
    assert!(waiting
        .metadata
        .finalizers
        .contains(&"foregroundDeletion".to_string()));
    assert!(waiting.metadata.deletion_timestamp.is_some());
    p.patch(
        "held",
        &Patch::Merge(json!({"metadata": {"finalizers": null}})),
    )
    .await
    .expect("release held pod");
    let s = sets(&client);
    eventually("owner gone", || async { !exists(&s, "web").await }).await;
    stop.trigger();
}

#[tokio::test]
async fn orphan_deletion_keeps_dependents_without_the_reference() {
    let client = client();
    let rs = replica_set(&client, "web").await;
    let other = replica_set(&client, "other").await;
    pod_owned_by(&client, "a", vec![owner_reference(&rs)]).await;
    pod_owned_by(
        &client,
        "b",
        vec![owner_reference(&rs), owner_reference(&other)],
    )
    .await;
    let stop = start_gc(&client);
    sets(&client)
        .delete(
            "web",
            &DeleteParams {
                propagation_policy: PropagationPolicy::Orphan,
                ..DeleteParams::default()
            },
        )
        .await
        .expect("delete rs");
    let s = sets(&client);
    eventually("owner gone", || async { !exists(&s, "web").await }).await;
    let p = pods(&client);
    let a = p.get("a").await.expect("a kept");
    assert!(a.metadata.owner_references.is_empty());
    let b = p.get("b").await.expect("b kept");
    assert_eq!(b.metadata.owner_references.len(), 1);
    assert_eq!(
        Some(&b.metadata.owner_references[0].uid),
        other.metadata.uid.as_ref()
    );
    stop.trigger();
}

#[tokio::test]
async fn collects_across_kinds() {
    let client = client();
    let rs = replica_set(&client, "web").await;
    let mut cm = ConfigMap::named("settings");
    cm.metadata.owner_references = vec![owner_reference(&rs)];
    Api::<ConfigMap>::namespaced(client.clone(), "default")
        .create(&cm)
        .await
        .expect("configmap");
    sets(&client)
        .delete("web", &DeleteParams::default())
        .await
        .expect("delete");
    let stop = start_gc(&client);
    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
    eventually("configmap deleted", || async {
        !exists(&cms, "settings").await
    })
    .await;
    stop.trigger();
}

#[tokio::test]
async fn deleting_a_replica_set_deletes_its_pods_unless_orphaned() {
    let client = client();
    let (stop, shutdown) = Shutdown::new();
    tokio::spawn(crate::replicaset::run(client.clone(), shutdown.clone()));
    tokio::spawn(run(client.clone(), shutdown));
    for (name, policy) in [
        ("cascade", PropagationPolicy::Background),
        ("keep", PropagationPolicy::Orphan),
    ] {
        let mut rs = replica_set(&client, name).await;
        rs.spec.replicas = Some(2);
        sets(&client).replace(name, &rs).await.expect("scale");
        let selector = format!("app={name}");
        let listed = || async {
            pods(&client)
                .list(&ListParams::default().labels(&selector))
                .await
                .expect("list")
                .items
        };
        eventually("2 pods", || async { listed().await.len() == 2 }).await;
        sets(&client)
            .delete(
                name,
                &DeleteParams {
                    propagation_policy: policy,
                    ..DeleteParams::default()
                },
            )
            .await
            .expect("delete rs");
        let s = sets(&client);
        eventually("rs gone", || async { !exists(&s, name).await }).await;
        match policy {
            PropagationPolicy::Orphan => {
                tokio::time::sleep(Duration::from_millis(200)).await;
                let left = listed().await;
                assert_eq!(left.len(), 2);
                assert!(left.iter().all(|p| p.metadata.owner_references.is_empty()));
            }
            _ => eventually("pods gone", || async { listed().await.is_empty() }).await,
        }
    }
    stop.trigger();
}
