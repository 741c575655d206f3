//! The scheduler in another process than the API server: over `HttpClient` it watches nodes and pods and
//! binds through `POST pods/{name}/binding`, with the same messages as in-process.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use skiff_api::{ApiServer, HttpClient};
use skiff_controllers::scheduler;
use skiff_core::client::{Api, InProcessClient};
use skiff_core::codec::Scheme;
use skiff_core::kinds::{Container, Node, NodeCondition, NodeStatus, Pod};
use skiff_core::shutdown::Shutdown;
use skiff_core::store::MemoryStore;
use skiff_core::Quantity;

fn ready_node(name: &str, cpu: &str) -> Node {
    let mut n = Node::named(name);
    let alloc: BTreeMap<String, Quantity> = [("cpu", cpu), ("memory", "4Gi"), ("pods", "110")]
        .into_iter()
        .map(|(k, v)| (k.to_string(), Quantity::parse(v).unwrap()))
        .collect();
    n.status = Some(NodeStatus {
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

fn pod(name: &str, cpu: &str) -> Pod {
    let mut p = Pod::named(name);
    let mut c = Container::new("c", "busybox");
    c.resources
        .requests
        .insert("cpu".into(), Quantity::parse(cpu).unwrap());
    p.spec.containers.push(c);
    p
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_scheduler_binds_over_http() {
    let server = ApiServer::new(
        InProcessClient::shared(Arc::new(MemoryStore::new())),
        Scheme::builtin(),
    );
    server.ensure_namespaces().await.unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, shutdown) = Shutdown::new();
    tokio::spawn(server.serve(listener, shutdown.clone()));
    let client = HttpClient::shared(&format!("http://{addr}"));
    let nodes: Api<Node> = Api::all(client.clone());
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    nodes.create(&ready_node("n1", "1")).await.unwrap();
    tokio::spawn(scheduler::run(client.clone(), shutdown));

    pods.create(&pod("fits", "500m")).await.unwrap();
    pods.create(&pod("too-big", "2")).await.unwrap();
    let mut bound = None;
    let mut message = None;
    for _ in 0..250 {
        bound = pods.get("fits").await.unwrap().spec.node_name;
        message = pods
            .get("too-big")
            .await
            .unwrap()
            .status
            .and_then(|s| s.conditions.into_iter().find(|c| c.type_ == "PodScheduled"))
            .and_then(|c| c.message);
        if bound.is_some() && message.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(bound.as_deref(), Some("n1"));
    assert_eq!(
        message.as_deref(),
        Some("0/1 nodes are available: 1 Insufficient cpu.")
    );
    stop.trigger();
}
