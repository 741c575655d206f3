//! Scheduler benchmark: 10,000 pods onto 5,000 simulated nodes (Node objects only) through the
//! in-process client on the MemoryStore. Prints pods/s of each run and the median of 3; not a test.
//!
//! Each run starts from a fresh store holding the nodes and the pending pods, then times the scheduler
//! from its start (initial list of nodes and pods included) until it has bound every pod.
//!
//! Run: `cargo bench -p skiff-controllers --bench scheduler`.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::collections::BTreeMap;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use skiff_controllers::scheduler::Scheduler;
use skiff_core::client::{Api, Client, InProcessClient};
use skiff_core::kinds::{Container, Node, NodeCondition, NodeStatus, Pod};
use skiff_core::shutdown::Shutdown;
use skiff_core::store::MemoryStore;
use skiff_core::Quantity;

const NODES: usize = 5_000;
const PODS: usize = 10_000;
const RUNS: usize = 3;

fn node(i: usize) -> Node {
    let mut n = Node::named(format!("node-{i}"));
    n.metadata
        .labels
        .insert("kubernetes.io/hostname".into(), format!("node-{i}"));
    let alloc: BTreeMap<String, Quantity> = [("cpu", "4"), ("memory", "32Gi"), ("pods", "110")]
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

fn pod(i: usize) -> Pod {
    let mut p = Pod::named(format!("pod-{i}"));
    let mut c = Container::new("c", "registry.k8s.io/pause:3.10");
    c.resources
        .requests
        .insert("cpu".into(), Quantity::parse("100m").unwrap());
    c.resources
        .requests
        .insert("memory".into(), Quantity::parse("128Mi").unwrap());
    p.spec.containers.push(c);
    p
}

async fn one_run() -> (f64, Duration) {
    let client: Arc<dyn Client> = InProcessClient::shared(Arc::new(MemoryStore::new()));
    let nodes: Api<Node> = Api::all(client.clone());
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    for i in 0..NODES {
        nodes.create(&node(i)).await.unwrap();
    }
    for i in 0..PODS {
        pods.create(&pod(i)).await.unwrap();
    }
    let scheduler = Scheduler::new(client.clone());
    let stats = scheduler.stats();
    let (stop, shutdown) = Shutdown::new();
    let start = Instant::now();
    let task = tokio::spawn(scheduler.run(shutdown));
    while stats.bound.load(Ordering::Relaxed) < PODS as u64 {
        tokio::time::sleep(Duration::from_millis(1)).await;
        assert!(
            start.elapsed() < Duration::from_secs(300),
            "timed out at {} bound",
            stats.bound.load(Ordering::Relaxed)
        );
    }
    let elapsed = start.elapsed();
    stop.trigger();
    let _ = task.await;
    assert_eq!(stats.bind_errors.load(Ordering::Relaxed), 0);
    (PODS as f64 / elapsed.as_secs_f64(), elapsed)
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    println!("scheduler: {PODS} pods onto {NODES} nodes, in-process client on MemoryStore, 2 worker threads");
    let mut rates = Vec::new();
    for run in 1..=RUNS {
        let (rate, elapsed) = rt.block_on(one_run());
        println!(
            "run {run}: {PODS} pods bound in {:.3} s = {rate:.0} pods/s",
            elapsed.as_secs_f64()
        );
        rates.push(rate);
    }
    rates.sort_by(f64::total_cmp);
    println!("median of {RUNS}: {:.0} pods/s", rates[RUNS / 2]);
}
