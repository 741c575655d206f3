//! The in-process client: the API server's bookkeeping, over a store.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use skiff_core::client::{
    Api, Client, DeleteOutcome, DeleteParams, Event, InProcessClient, ListParams, Patch,
    PropagationPolicy, WatchParams,
};
use skiff_core::kinds::{ConfigMap, Container, Node, Pod, PodStatus};
use skiff_core::store::MemoryStore;

fn client() -> Arc<dyn Client> {
    InProcessClient::shared(Arc::new(MemoryStore::new()))
}

fn pod(name: &str) -> Pod {
    let mut p = Pod::named(name);
    p.spec.containers.push(Container::new("c", "nginx"));
    p
}

#[tokio::test]
async fn create_sets_server_fields_and_refuses_duplicates() {
    let pods: Api<Pod> = Api::namespaced(client(), "default");
    let p = pods.create(&pod("web")).await.unwrap();
    let m = &p.metadata;
    assert!(m.uid.is_some() && m.creation_timestamp.is_some());
    assert_eq!(
        (m.generation, m.namespace.as_deref()),
        (Some(1), Some("default"))
    );
    assert!(
        m.resource_version
            .as_deref()
            .unwrap()
            .parse::<i64>()
            .unwrap()
            > 0
    );
    let err = pods.create(&pod("web")).await.unwrap_err();
    assert!(err.is_already_exists(), "{err}");
    assert_eq!(err.code(), Some(409));

    let mut gen = Pod::default();
    gen.metadata.generate_name = Some("web-".into());
    let g = pods.create(&gen).await.unwrap();
    let name = g.metadata.name.unwrap();
    assert!(name.starts_with("web-") && name.len() == 9, "{name}");

    let err = pods.create(&Pod::default()).await.unwrap_err();
    assert_eq!(err.code(), Some(422));
    let err = Api::<Pod>::all(pods.client().clone())
        .create(&pod("x"))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some(400), "a namespaced kind needs a namespace");
}

/// Five random characters give 14.3 million names: among 20,000 generated ones about 14 collide, and
/// each collision is generated again instead of failing with AlreadyExists (Kubernetes' RetryGenerateName).
#[tokio::test]
async fn generated_names_that_collide_are_generated_again() {
    let maps: Api<ConfigMap> = Api::namespaced(client(), "default");
    let mut gen = ConfigMap::default();
    gen.metadata.generate_name = Some("c-".into());
    let mut names = std::collections::HashSet::new();
    for _ in 0..20_000 {
        let created = maps.create(&gen).await.unwrap();
        assert!(names.insert(created.metadata.name.unwrap()));
    }
}

#[tokio::test]
async fn spec_changes_bump_generation_status_changes_do_not() {
    let pods: Api<Pod> = Api::namespaced(client(), "default");
    let p = pods.create(&pod("web")).await.unwrap();
    let mut with_status = p.clone();
    with_status.status = Some(PodStatus {
        phase: Some("Running".into()),
        ..PodStatus::default()
    });
    let s = pods.replace_status("web", &with_status).await.unwrap();
    assert_eq!(
        s.metadata.generation,
        Some(1),
        "status writes keep the generation"
    );
    assert_eq!(s.status.as_ref().unwrap().phase.as_deref(), Some("Running"));

    // A main-resource update ignores status and bumps generation only for spec changes.
    let mut labelled = s.clone();
    labelled.metadata.labels.insert("a".into(), "b".into());
    labelled.status = None;
    let l = pods.replace("web", &labelled).await.unwrap();
    assert_eq!(l.metadata.generation, Some(1));
    assert_eq!(
        l.status.unwrap().phase.as_deref(),
        Some("Running"),
        "status is kept by a spec update"
    );
    let mut spec = s.clone();
    spec.metadata.resource_version = None;
    spec.spec.containers[0].image = Some("nginx:1.27".into());
    let u = pods.replace("web", &spec).await.unwrap();
    assert_eq!(u.metadata.generation, Some(2));
    // A no-op update does not write.
    let same = pods.replace("web", &u).await.unwrap();
    assert_eq!(same.metadata.resource_version, u.metadata.resource_version);
}

#[tokio::test]
async fn updates_compare_and_swap_on_resource_version() {
    let cms: Api<ConfigMap> = Api::namespaced(client(), "default");
    let v1 = cms.create(&ConfigMap::named("c")).await.unwrap();
    let mut a = v1.clone();
    a.data.insert("k".into(), "a".into());
    cms.replace("c", &a).await.unwrap();
    let mut b = v1.clone();
    b.data.insert("k".into(), "b".into());
    let err = cms.replace("c", &b).await.unwrap_err();
    assert!(err.is_conflict(), "{err}");
    assert_eq!(cms.get("c").await.unwrap().data["k"], "a");
    let err = cms.replace("missing", &b).await.unwrap_err();
    assert!(err.is_not_found());
}

#[tokio::test]
async fn merge_and_json_patches() {
    let cms: Api<ConfigMap> = Api::namespaced(client(), "default");
    let mut cm = ConfigMap::named("c");
    cm.data.insert("a".into(), "1".into());
    cm.data.insert("b".into(), "2".into());
    cms.create(&cm).await.unwrap();
    let p = cms
        .patch(
            "c",
            &Patch::Merge(serde_json::json!({"data": {"a": null, "c": "3"}})),
        )
        .await
        .unwrap();
    assert_eq!(
        p.data.keys().collect::<Vec<_>>(),
        ["b", "c"],
        "null deletes a key"
    );
    let ops: json_patch::Patch = serde_json::from_value(serde_json::json!([
        {"op": "test", "path": "/data/b", "value": "2"},
        {"op": "replace", "path": "/data/b", "value": "20"}
    ]))
    .unwrap();
    assert_eq!(
        cms.patch("c", &Patch::Json(ops)).await.unwrap().data["b"],
        "20"
    );
    let failing: json_patch::Patch = serde_json::from_value(
        serde_json::json!([{"op": "test", "path": "/data/b", "value": "nope"}]),
    )
    .unwrap();
    assert_eq!(
        cms.patch("c", &Patch::Json(failing))
            .await
            .unwrap_err()
            .code(),
        Some(422)
    );
    let stale =
        Patch::Merge(serde_json::json!({"metadata": {"resourceVersion": "1"}, "data": {"x": "y"}}));
    assert!(
        cms.patch("c", &stale).await.unwrap_err().is_conflict(),
        "a resourceVersion in a patch is a precondition"
    );
}

#[tokio::test]
async fn finalizers_hold_deletion_until_removed() {
    let cms: Api<ConfigMap> = Api::namespaced(client(), "default");
    let mut cm = ConfigMap::named("c");
    cm.metadata.finalizers.push("example.com/cleanup".into());
    cms.create(&cm).await.unwrap();
    let pending = match cms.delete("c", &DeleteParams::default()).await.unwrap() {
        DeleteOutcome::Pending(p) => p,
        other => panic!("want pending, got {other:?}"),
    };
    assert!(pending.metadata.deletion_timestamp.is_some());
    assert!(
        cms.get("c").await.is_ok(),
        "still there while the finalizer remains"
    );
    let mut done = pending.clone();
    done.metadata.finalizers.clear();
    cms.replace("c", &done).await.unwrap();
    assert!(
        cms.get("c").await.unwrap_err().is_not_found(),
        "gone once the last finalizer is removed"
    );
}

#[tokio::test]
async fn delete_policies_and_preconditions() {
    let cms: Api<ConfigMap> = Api::namespaced(client(), "default");
    let c = cms.create(&ConfigMap::named("a")).await.unwrap();
    let wrong_uid = DeleteParams {
        precondition_uid: Some("nope".into()),
        ..DeleteParams::default()
    };
    assert!(cms.delete("a", &wrong_uid).await.unwrap_err().is_conflict());
    let right = DeleteParams {
        precondition_uid: c.metadata.uid.clone(),
        ..DeleteParams::default()
    };
    assert!(matches!(
        cms.delete("a", &right).await.unwrap(),
        DeleteOutcome::Deleted(_)
    ));
    assert!(cms.delete("a", &right).await.unwrap_err().is_not_found());

    cms.create(&ConfigMap::named("f")).await.unwrap();
    let fg = DeleteParams {
        propagation_policy: PropagationPolicy::Foreground,
        ..DeleteParams::default()
    };
    match cms.delete("f", &fg).await.unwrap() {
        DeleteOutcome::Pending(p) => assert_eq!(p.metadata.finalizers, ["foregroundDeletion"]),
        other => panic!("{other:?}"),
    }
    cms.create(&ConfigMap::named("o")).await.unwrap();
    let orphan = DeleteParams {
        propagation_policy: PropagationPolicy::Orphan,
        ..DeleteParams::default()
    };
    match cms.delete("o", &orphan).await.unwrap() {
        DeleteOutcome::Pending(p) => assert_eq!(p.metadata.finalizers, ["orphan"]),
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn list_with_selectors_namespaces_and_pages() {
    let c = client();
    for ns in ["a", "b"] {
        let pods: Api<Pod> = Api::namespaced(c.clone(), ns);
        for i in 0..5 {
            let mut p = pod(&format!("p{i}"));
            p.metadata
                .labels
                .insert("tier".into(), if i % 2 == 0 { "web" } else { "db" }.into());
            p.spec.node_name = Some(format!("n{}", i % 2));
            pods.create(&p).await.unwrap();
        }
    }
    let all: Api<Pod> = Api::all(c.clone());
    assert_eq!(
        all.list(&ListParams::default()).await.unwrap().items.len(),
        10
    );
    let a: Api<Pod> = Api::namespaced(c.clone(), "a");
    assert_eq!(a.list(&ListParams::default()).await.unwrap().items.len(), 5);
    assert_eq!(
        all.list(&ListParams::default().labels("tier=web"))
            .await
            .unwrap()
            .items
            .len(),
        6
    );
    assert_eq!(
        all.list(&ListParams::default().fields("spec.nodeName=n1"))
            .await
            .unwrap()
            .items
            .len(),
        4
    );
    assert_eq!(
        all.list(&ListParams::default().fields("metadata.namespace=b,spec.nodeName=n0"))
            .await
            .unwrap()
            .items
            .len(),
        3
    );
    let first = all
        .list(&ListParams::default().labels("tier=web").limit(4))
        .await
        .unwrap();
    assert_eq!(first.items.len(), 4);
    let token = first.metadata.continue_.clone().expect("a continue token");
    let rest = all
        .list(&ListParams {
            label_selector: Some("tier=web".into()),
            continue_token: Some(token),
            limit: Some(4),
            ..ListParams::default()
        })
        .await
        .unwrap();
    assert_eq!(rest.items.len(), 2);
    let err = all
        .list(&ListParams::default().labels("bad key=x"))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some(400));
}

async fn next<K>(
    w: &mut futures::stream::BoxStream<'static, Result<Event<K>, skiff_core::client::ClientError>>,
) -> Event<K> {
    tokio::time::timeout(Duration::from_secs(5), w.next())
        .await
        .unwrap()
        .unwrap()
        .unwrap()
}

#[tokio::test]
async fn watch_starts_with_current_objects_and_follows_selector_transitions() {
    let nodes: Api<Node> = Api::all(client());
    let mut n = Node::named("n1");
    n.metadata.labels.insert("pool".into(), "gpu".into());
    nodes.create(&n).await.unwrap();
    nodes.create(&Node::named("n2")).await.unwrap();
    let mut w = nodes
        .watch(&WatchParams {
            label_selector: Some("pool=gpu".into()),
            ..WatchParams::default()
        })
        .await
        .unwrap();
    assert!(
        matches!(next(&mut w).await, Event::Added(n) if n.metadata.name.as_deref() == Some("n1"))
    );
    // n2 joins the pool: ADDED; n1 leaves it: DELETED; n2 changes within it: MODIFIED; n2 deleted: DELETED.
    nodes
        .patch(
            "n2",
            &Patch::Merge(serde_json::json!({"metadata": {"labels": {"pool": "gpu"}}})),
        )
        .await
        .unwrap();
    assert!(
        matches!(next(&mut w).await, Event::Added(n) if n.metadata.name.as_deref() == Some("n2"))
    );
    nodes
        .patch(
            "n1",
            &Patch::Merge(serde_json::json!({"metadata": {"labels": {"pool": "cpu"}}})),
        )
        .await
        .unwrap();
    assert!(
        matches!(next(&mut w).await, Event::Deleted(n) if n.metadata.name.as_deref() == Some("n1"))
    );
    nodes
        .patch(
            "n2",
            &Patch::Merge(serde_json::json!({"spec": {"unschedulable": true}})),
        )
        .await
        .unwrap();
    assert!(matches!(next(&mut w).await, Event::Modified(n) if n.spec.unschedulable == Some(true)));
    nodes.delete("n2", &DeleteParams::default()).await.unwrap();
    assert!(
        matches!(next(&mut w).await, Event::Deleted(n) if n.metadata.name.as_deref() == Some("n2"))
    );
}

#[tokio::test]
async fn watch_from_a_resource_version_and_expired() {
    let store = Arc::new(MemoryStore::new());
    let cms: Api<ConfigMap> = Api::namespaced(InProcessClient::shared(store.clone()), "default");
    let a = cms.create(&ConfigMap::named("a")).await.unwrap();
    cms.create(&ConfigMap::named("b")).await.unwrap();
    let mut w = cms
        .watch(&WatchParams {
            resource_version: a.metadata.resource_version.clone(),
            ..WatchParams::default()
        })
        .await
        .unwrap();
    assert!(
        matches!(next(&mut w).await, Event::Added(c) if c.metadata.name.as_deref() == Some("b"))
    );
    use skiff_core::store::Store;
    store
        .compact(store.current_revision().await.unwrap())
        .await
        .unwrap();
    let err = cms
        .watch(&WatchParams {
            resource_version: a.metadata.resource_version.clone(),
            ..WatchParams::default()
        })
        .await
        .err()
        .expect("a compacted resourceVersion");
    assert!(err.is_expired(), "{err}");
}

#[tokio::test]
async fn a_field_selected_watch_sees_pods_arrive_change_and_leave_its_node() {
    let c = client();
    let pods: Api<Pod> = Api::namespaced(c.clone(), "default");
    let params = WatchParams {
        field_selector: Some("spec.nodeName=n1".into()),
        resource_version: Some(
            pods.list(&ListParams::default())
                .await
                .unwrap()
                .metadata
                .resource_version
                .unwrap(),
        ),
        ..WatchParams::default()
    };
    let mut events = Api::<Pod>::all(c.clone()).watch(&params).await.unwrap();
    pods.create(&pod("unbound")).await.unwrap();
    let mut elsewhere = pod("elsewhere");
    elsewhere.spec.node_name = Some("n10".into()); // "n1" is a prefix: still not a match
    pods.create(&elsewhere).await.unwrap();
    pods.patch(
        "unbound",
        &Patch::Merge(serde_json::json!({"spec": {"nodeName": "n1"}})),
    )
    .await
    .unwrap();
    pods.patch_status(
        "unbound",
        &Patch::Merge(serde_json::json!({"status": {"phase": "Running"}})),
    )
    .await
    .unwrap();
    pods.patch(
        "unbound",
        &Patch::Merge(serde_json::json!({"spec": {"nodeName": "n2"}})),
    )
    .await
    .unwrap();
    let mut seen = Vec::new();
    for _ in 0..3 {
        let ev = tokio::time::timeout(Duration::from_secs(2), events.next())
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        seen.push(match ev {
            Event::Added(p) => format!("added {}", p.metadata.name.unwrap()),
            Event::Modified(p) => format!("modified {}", p.phase()),
            Event::Deleted(p) => format!("deleted {}", p.spec.node_name.unwrap()),
            Event::Bookmark(_) => "bookmark".into(),
        });
    }
    // Moving off the node is a DELETED for this watch (carrying the object as it is now).
    assert_eq!(seen, ["added unbound", "modified Running", "deleted n2"]);
    assert!(
        tokio::time::timeout(Duration::from_millis(200), events.next())
            .await
            .is_err(),
        "nothing about the pod on n10"
    );
}
