//! The scheduler over the in-process client: pods are bound honouring nodeSelector and capacity; a pod
//! no node fits gets Kubernetes' condition and event, and is bound once a fitting node appears.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use skiff_controllers::scheduler::{self, Scheduler};
use skiff_core::client::{Api, Client, InProcessClient, ListParams};
use skiff_core::kinds::{Container, Event, Node, NodeCondition, NodeStatus, Pod};
use skiff_core::shutdown::Shutdown;
use skiff_core::store::MemoryStore;
use skiff_core::Quantity;

fn node(name: &str, cpu: &str, labels: &[(&str, &str)]) -> Node {
    let mut n = Node::named(name);
    for (k, v) in labels {
        n.metadata.labels.insert(k.to_string(), v.to_string());
    }
    let alloc: BTreeMap<String, Quantity> = [("cpu", cpu), ("memory", "8Gi"), ("pods", "110")]
        .into_iter()
        .map(|(k, v)| (k.to_string(), Quantity::parse(v).unwrap()))
        .collect();
    n.status = Some(NodeStatus {
        capacity: alloc.clone(),
        allocatable: alloc,
        conditions: vec![NodeCondition {
            type_: "Ready".into(),
            status: "True".into(),
            ..Default::default()
        }],
        ..Default::default()
    });
    n
}

fn pod(name: &str, cpu: &str, selector: &[(&str, &str)]) -> Pod {
    let mut p = Pod::named(name);
    let mut c = Container::new("c", "busybox");
    c.resources
        .requests
        .insert("cpu".into(), Quantity::parse(cpu).unwrap());
    p.spec.containers.push(c);
    for (k, v) in selector {
        p.spec.node_selector.insert(k.to_string(), v.to_string());
    }
    p
}

async fn wait_for<T>(mut f: impl AsyncFnMut() -> Option<T>) -> T {
    for _ in 0..500 {
        if let Some(v) = f().await {
            return v;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("timed out");
}

async fn node_of(pods: &Api<Pod>, name: &str) -> Option<String> {
    pods.get(name).await.unwrap().spec.node_name
}

/// The first event with `reason`, once there is one.
async fn event_with_reason(events: &Api<Event>, reason: &str) -> Event {
    wait_for(async || {
        events
            .list(&ListParams::default())
            .await
            .unwrap()
            .items
            .into_iter()
            .find(|e| e.reason.as_deref() == Some(reason))
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn binds_honouring_selector_and_capacity_and_retries_unschedulable_pods() {
    let client: Arc<dyn Client> = InProcessClient::shared(Arc::new(MemoryStore::new()));
    let nodes: Api<Node> = Api::all(client.clone());
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    nodes
        .create(&node("n1", "2", &[("disk", "ssd")]))
        .await
        .unwrap();
    nodes.create(&node("n2", "1", &[])).await.unwrap();
    nodes.create(&node("n3", "1", &[])).await.unwrap();

    let (stop, shutdown) = Shutdown::new();
    let sched = Scheduler::new(client.clone());
    let stats = sched.stats();
    tokio::spawn(sched.run(shutdown));

    // nodeSelector: only n1 has disk=ssd.
    pods.create(&pod("ssd", "500m", &[("disk", "ssd")]))
        .await
        .unwrap();
    let n = wait_for(async || node_of(&pods, "ssd").await).await;
    assert_eq!(n, "n1");
    let bound = pods.get("ssd").await.unwrap();
    let cond = bound.status.unwrap().conditions;
    assert!(cond
        .iter()
        .any(|c| c.type_ == "PodScheduled" && c.status == "True"));
    // The Scheduled event `kubectl describe pod` shows.
    let events: Api<Event> = Api::namespaced(client.clone(), "default");
    let scheduled = event_with_reason(&events, "Scheduled").await;
    assert_eq!(
        scheduled.message.as_deref(),
        Some("Successfully assigned default/ssd to n1")
    );
    assert_eq!(scheduled.involved_object.name.as_deref(), Some("ssd"));
    assert_eq!(
        scheduled.source.and_then(|s| s.component).as_deref(),
        Some("default-scheduler")
    );

    // Capacity: n1 has 1.5 cpu left, n2 and n3 1 each: a 1500m pod fits n1 only.
    pods.create(&pod("big", "1500m", &[])).await.unwrap();
    assert_eq!(wait_for(async || node_of(&pods, "big").await).await, "n1");

    // Nothing fits 1200m now: 1 node lacks cpu... all 3 do; with a selector, n2/n3 don't match.
    pods.create(&pod("huge", "1200m", &[("disk", "ssd")]))
        .await
        .unwrap();
    let message = "0/3 nodes are available: 1 Insufficient cpu, 2 node(s) didn't match Pod's node affinity/selector.";
    let cond = wait_for(async || {
        let p = pods.get("huge").await.unwrap();
        p.status?
            .conditions
            .into_iter()
            .find(|c| c.type_ == "PodScheduled")
    })
    .await;
    assert_eq!(cond.status, "False");
    assert_eq!(cond.reason.as_deref(), Some("Unschedulable"));
    assert_eq!(cond.message.as_deref(), Some(message));
    let ev = event_with_reason(&events, "FailedScheduling").await;
    assert_eq!(ev.message.as_deref(), Some(message));
    assert_eq!(ev.type_.as_deref(), Some("Warning"));
    assert_eq!(ev.involved_object.name.as_deref(), Some("huge"));

    // Not a hot loop: without a change it is not retried.
    let attempts = stats
        .unschedulable_attempts
        .load(std::sync::atomic::Ordering::Relaxed);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        stats
            .unschedulable_attempts
            .load(std::sync::atomic::Ordering::Relaxed),
        attempts
    );

    // A fitting node appears: the pod is bound (after its 1 s backoff).
    nodes
        .create(&node("n4", "4", &[("disk", "ssd")]))
        .await
        .unwrap();
    assert_eq!(wait_for(async || node_of(&pods, "huge").await).await, "n4");
    let cond = pods.get("huge").await.unwrap().status.unwrap().conditions;
    assert!(cond
        .iter()
        .any(|c| c.type_ == "PodScheduled" && c.status == "True"));

    // Pods of another scheduler are left alone.
    let mut other = pod("other", "100m", &[]);
    other.spec.scheduler_name = Some("my-scheduler".into());
    pods.create(&other).await.unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(node_of(&pods, "other").await, None);
    stop.trigger();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deleted_pod_frees_room_for_a_waiting_one() {
    let client: Arc<dyn Client> = InProcessClient::shared(Arc::new(MemoryStore::new()));
    let nodes: Api<Node> = Api::all(client.clone());
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    nodes.create(&node("n1", "1", &[])).await.unwrap();
    let (stop, shutdown) = Shutdown::new();
    tokio::spawn(scheduler::run(client.clone(), shutdown));
    pods.create(&pod("a", "800m", &[])).await.unwrap();
    assert_eq!(wait_for(async || node_of(&pods, "a").await).await, "n1");
    pods.create(&pod("b", "800m", &[])).await.unwrap();
    wait_for(async || {
        pods.get("b")
            .await
            .unwrap()
            .status?
            .conditions
            .into_iter()
            .find(|c| c.reason.as_deref() == Some("Unschedulable"))
    })
    .await;
    pods.delete("a", &Default::default()).await.unwrap();
    // `a` may be held by graceful deletion; finish it as its node agent would.
    let _ = pods
        .delete(
            "a",
            &skiff_core::client::DeleteParams {
                grace_period_seconds: Some(0),
                ..Default::default()
            },
        )
        .await;
    assert_eq!(wait_for(async || node_of(&pods, "b").await).await, "n1");
    stop.trigger();
}
