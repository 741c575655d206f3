//! The kube crate (kube-rs 2, k8s-openapi) against a Skiff API server, as an operator built on it runs:
//! create answers with the pod's status, metadata-only list, get, patch and watch
//! (`metadata_watcher`, what kube-rs's metadata reflectors use), dry-run creates, and the Status of a
//! refusal decoded as kube's `ErrorResponse`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::core::v1::{ConfigMap, Pod};
use kube::api::{Api, ListParams, Patch, PatchParams, PostParams};
use kube::runtime::{metadata_watcher, watcher, WatchStreamExt};
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kube_rs_reads_objects_and_metadata_as_from_kubernetes() {
    let served = common::start().await;
    let config = kube::Config::new(served.url().parse().unwrap());
    let client = kube::Client::try_from(config).unwrap();
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");

    let pod: Pod = serde_json::from_value(json!({
        "metadata": {"name": "web"},
        "spec": {"containers": [{"name": "web", "image": "nginx"}]},
    }))
    .unwrap();
    let created = pods.create(&PostParams::default(), &pod).await.unwrap();
    let status = created.status.unwrap();
    assert_eq!(status.phase.as_deref(), Some("Pending"));
    assert_eq!(status.qos_class.as_deref(), Some("BestEffort"));

    // Metadata only: list, get, patch.
    let metas = pods.list_metadata(&ListParams::default()).await.unwrap();
    assert_eq!(metas.items.len(), 1);
    assert_eq!(metas.items[0].metadata.name.as_deref(), Some("web"));
    assert_eq!(
        metas.items[0].types.as_ref().unwrap().kind,
        "PartialObjectMetadata"
    );
    let one = pods.get_metadata("web").await.unwrap();
    assert_eq!(one.metadata.uid, created.metadata.uid);
    let patched = pods
        .patch_metadata(
            "web",
            &PatchParams::default(),
            &Patch::Merge(json!({"metadata": {"labels": {"seen": "yes"}}})),
        )
        .await
        .unwrap();
    assert_eq!(patched.metadata.labels.unwrap()["seen"], "yes");

    // A metadata watcher sees the pod, then a change to it.
    let mut seen = metadata_watcher(pods.clone(), watcher::Config::default())
        .applied_objects()
        .boxed();
    let first = tokio::time::timeout(Duration::from_secs(10), seen.try_next())
        .await
        .expect("the metadata watcher's first object")
        .unwrap()
        .unwrap();
    assert_eq!(first.metadata.name.as_deref(), Some("web"));
    pods.patch_metadata(
        "web",
        &PatchParams::default(),
        &Patch::Merge(json!({"metadata": {"labels": {"seen": "twice"}}})),
    )
    .await
    .unwrap();
    let changed = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            let m = seen.try_next().await.unwrap().unwrap();
            if m.metadata
                .labels
                .as_ref()
                .and_then(|l| l.get("seen"))
                .map(String::as_str)
                == Some("twice")
            {
                return m;
            }
        }
    })
    .await
    .expect("the change, through the metadata watch");
    assert_eq!(changed.metadata.uid, created.metadata.uid);

    // A dry-run create answers in full and stores nothing; a NotFound decodes as kube's ErrorResponse.
    let cms: Api<ConfigMap> = Api::namespaced(client, "default");
    let cm: ConfigMap = serde_json::from_value(json!({"metadata": {"name": "dry"}})).unwrap();
    let dry = PostParams {
        dry_run: true,
        ..PostParams::default()
    };
    let answered = cms.create(&dry, &cm).await.unwrap();
    assert!(answered.metadata.uid.is_some());
    match cms.get("dry").await {
        Err(kube::Error::Api(e)) => {
            assert_eq!((e.code, e.reason.as_str()), (404, "NotFound"));
            assert_eq!(e.message, "configmaps \"dry\" not found");
        }
        other => panic!("expected NotFound, got {other:?}"),
    }
}
