//! Whole control plane benchmark, with SIMULATED nodes, shaped like Kubernetes' kubemark:
//!
//! - the control plane process (this one) runs the embedded durable store, the API server on a
//!   loopback port, and the scheduler, ReplicaSet controller, garbage collector and node lifecycle
//!   controller of `skiff up`;
//! - a second process (this program again, started with `SKIFF_BENCH_SIMULATED_NODES=<url>`) runs 100
//!   node agents that talk to the API server over HTTP, exactly as `skiff node` does, but whose
//!   runtime is SIMULATED ([`sim::SimRuntime`]: containers are Running as soon as they are started,
//!   no process is spawned). Real-process pod starts are measured by `cargo bench --bench pod_start`.
//!
//! A ReplicaSet of 10,000 replicas is created; the clock stops when a watch has seen all 10,000 pods
//! Running. The RSS of each process is printed separately: the target is the control plane's.
//!
//! Run: `cargo bench --bench control_plane`. Prints a table; not a test.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod sim;

use std::collections::{BTreeMap, HashSet};
use std::io::{BufRead, BufReader, Write};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::StreamExt;
use skiff_api::{ApiServer, HttpClient};
use skiff_controllers::node_agent::{NodeAgent, NodeConfig};
use skiff_core::client::{Api, Client, Event, InProcessClient, WatchParams};
use skiff_core::codec::Scheme;
use skiff_core::kinds::{Container, Pod, ReplicaSet};
use skiff_core::shutdown::Shutdown;
use skiff_store::DurableStore;

const NODES: usize = 100;
const REPLICAS: i32 = 10_000;
/// Set (to the API server's URL) in the simulated nodes' process.
const NODES_ROLE: &str = "SKIFF_BENCH_SIMULATED_NODES";

fn rss_mb(pid: &str) -> f64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .unwrap_or(0.0)
        / 1024.0
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    match std::env::var(NODES_ROLE) {
        Ok(url) => rt.block_on(simulated_nodes(&url)),
        Err(_) => rt.block_on(control_plane()),
    }
}

/// The second process: 100 node agents over HTTP on the simulated runtime. Prints `ready` once all
/// are registered, and exits when its stdin closes (the control plane process is done or gone).
async fn simulated_nodes(url: &str) {
    let dir = tempfile::tempdir().unwrap();
    let (stop, shutdown) = Shutdown::new();
    let mut registered = Vec::new();
    for i in 0..NODES {
        let mut config = NodeConfig::new(&format!("sim-{i:03}"), dir.path().join("nodes"));
        config.labels = BTreeMap::from([("skiff.io/simulated".to_string(), "true".to_string())]);
        // Each agent has its own client and connections, as separate `skiff node` processes do.
        let client: Arc<dyn Client> = HttpClient::shared(url);
        let agent = NodeAgent::new(client, Arc::new(sim::SimRuntime::default()), config);
        registered.push(agent.registered());
        tokio::spawn(agent.run(shutdown.clone()));
    }
    for mut r in registered {
        let _ = r.wait_for(|v| *v).await;
    }
    println!("ready");
    std::io::stdout().flush().unwrap();
    let _ = tokio::task::spawn_blocking(|| {
        let mut sink = String::new();
        while std::io::stdin()
            .read_line(&mut sink)
            .map(|n| n > 0)
            .unwrap_or(false)
        {}
    })
    .await;
    stop.trigger();
}

/// Starts the simulated nodes' process against `url` and waits until its agents are registered.
fn start_simulated_nodes(url: &str) -> Child {
    let mut child = Command::new(std::env::current_exe().unwrap())
        .env(NODES_ROLE, url)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.as_mut().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert_eq!(line.trim(), "ready", "the simulated nodes did not start");
    child
}

async fn control_plane() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(DurableStore::open(dir.path().join("skiff.db")).unwrap());
    let client: Arc<dyn Client> = InProcessClient::shared(store.clone());
    let (stop, shutdown) = Shutdown::new();
    let server = ApiServer::new(client.clone(), Scheme::builtin());
    server.ensure_namespaces().await.unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(server.serve(listener, shutdown.clone()));
    // What `skiff up` runs: scheduler, ReplicaSet controller, GC, node lifecycle, on shared informers.
    skiff_controllers::control_plane::start(
        client.clone(),
        skiff_controllers::node_lifecycle::NodeLifecycleConfig::default(),
        shutdown.clone(),
    );
    let nodes = tokio::task::spawn_blocking(move || start_simulated_nodes(&url))
        .await
        .unwrap();
    let nodes_pid = nodes.id().to_string();
    let rss_before = rss_mb("self");

    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    let mut watch = pods.watch(&WatchParams::default()).await.unwrap();
    let mut rs = ReplicaSet::named("big");
    rs.metadata.namespace = Some("default".into());
    rs.spec.replicas = Some(REPLICAS);
    let labels = BTreeMap::from([("app".to_string(), "big".to_string())]);
    rs.spec.selector.match_labels = labels.clone();
    rs.spec.template.metadata.labels = labels;
    rs.spec
        .template
        .spec
        .containers
        .push(Container::new("main", "sleep"));
    let t0 = Instant::now();
    Api::<ReplicaSet>::namespaced(client.clone(), "default")
        .create(&rs)
        .await
        .unwrap();
    let mut running: HashSet<String> = HashSet::new();
    let mut created: HashSet<String> = HashSet::new();
    let mut bound: HashSet<String> = HashSet::new();
    let mut first_running = None;
    let mut report = Instant::now();
    while running.len() < REPLICAS as usize {
        if report.elapsed() > Duration::from_secs(2) {
            report = Instant::now();
            eprintln!(
                "  {:5.1} s: {} pods created, {} bound, {} running",
                t0.elapsed().as_secs_f64(),
                created.len(),
                bound.len(),
                running.len()
            );
        }
        match tokio::time::timeout(Duration::from_secs(120), watch.next()).await {
            Ok(Some(Ok(Event::Added(p) | Event::Modified(p)))) => {
                let name = p.metadata.name.clone().unwrap_or_default();
                created.insert(name.clone());
                if p.spec.node_name.is_some() {
                    bound.insert(name.clone());
                }
                if p.phase() == "Running" {
                    running.insert(name);
                    first_running.get_or_insert_with(|| t0.elapsed());
                }
            }
            Ok(Some(_)) => {}
            _ => break,
        }
    }
    let elapsed = t0.elapsed();
    let (rss_after, nodes_rss) = (rss_mb("self"), rss_mb(&nodes_pid));
    // Events are written in the background (one writer per recorder) and lag behind the pods: wait
    // until the number of stored objects has not changed for 2 s, then measure again.
    let (mut keys, mut still_since) = (store.len(), Instant::now());
    while still_since.elapsed() < Duration::from_secs(2) && t0.elapsed() < Duration::from_secs(120)
    {
        tokio::time::sleep(Duration::from_millis(250)).await;
        if store.len() != keys {
            (keys, still_since) = (store.len(), Instant::now());
        }
    }
    let (rss_settled, nodes_rss_settled) = (rss_mb("self"), rss_mb(&nodes_pid));
    // Counted from the store's keys: a typed list of every event would weigh on the process.
    let events = skiff_core::store::Store::list(
        store.as_ref(),
        &skiff_core::store::resource_prefix("", "events", None),
        Default::default(),
    )
    .await
    .unwrap()
    .items
    .len();
    println!(
        "control plane, SIMULATED nodes: ReplicaSet of {REPLICAS} on {NODES} nodes over HTTP, embedded durable store"
    );
    println!("| measure | figure | target |");
    println!("|---|---|---|");
    println!(
        "| apply -> all {} Running seen by a watch | {:.2} s | <= 10 s |",
        running.len(),
        elapsed.as_secs_f64()
    );
    println!(
        "| first pod Running | {:.3} s | |",
        first_running.unwrap_or_default().as_secs_f64()
    );
    println!(
        "| pods/s end to end | {:.0} | |",
        running.len() as f64 / elapsed.as_secs_f64()
    );
    println!(
        "| control plane process RSS holding {} pods (store, API server, scheduler, RS, GC, node lifecycle) | {:.0} MB (before: {:.0} MB) | <= 200 MB |",
        running.len(),
        rss_after,
        rss_before
    );
    println!(
        "| control plane process RSS once the events are written too ({events} events, {keys} objects) | {rss_settled:.0} MB | <= 200 MB |"
    );
    println!(
        "| simulated nodes process RSS ({NODES} agents, SIMULATED runtime): at all Running / settled | {nodes_rss:.0} MB / {nodes_rss_settled:.0} MB | |"
    );
    stop.trigger();
    drop(nodes);
}
