//! Controller-runtime benchmark: initial sync + no-op reconcile of 100,000 objects, steady-state
//! reconciles/s by worker count, and raw work-queue throughput. Prints a table; not a test.
//!
//! Run: `cargo bench -p skiff-core --bench controller`. In-process client over the memory store: this
//! measures the controller runtime (informer, cache, queue, workers), not a network or a disk.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use skiff_core::client::{Api, InProcessClient};
use skiff_core::controller::{Action, Context, Controller, ObjectRef, Reconciler};
use skiff_core::kinds::ConfigMap;
use skiff_core::shutdown::Shutdown;
use skiff_core::store::{object_key, MemoryStore, Store};
use skiff_core::workqueue::WorkQueue;

const OBJECTS: usize = 100_000;

struct Noop(AtomicUsize);

#[async_trait]
impl Reconciler<ConfigMap> for Noop {
    type Error = std::convert::Infallible;
    async fn reconcile(
        &self,
        _o: Arc<ConfigMap>,
        _c: &Context<ConfigMap>,
    ) -> Result<Action, Self::Error> {
        self.0.fetch_add(1, Ordering::Relaxed);
        Ok(Action::await_change())
    }
}

async fn filled_store() -> Arc<MemoryStore> {
    let store = Arc::new(MemoryStore::new());
    for i in 0..OBJECTS {
        let name = format!("cm-{i:06}");
        let obj = serde_json::json!({
            "apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": name, "namespace": "default", "uid": format!("uid-{i}")},
            "data": {"key": "value"}
        });
        store
            .create(
                &object_key("", "configmaps", Some("default"), &name),
                serde_json::to_vec(&obj).unwrap(),
            )
            .await
            .unwrap();
    }
    store
}

async fn wait_count(n: &AtomicUsize, want: usize) {
    while n.load(Ordering::Relaxed) < want {
        tokio::time::sleep(Duration::from_micros(500)).await;
    }
}

/// Seconds from controller start until every object was reconciled once.
async fn initial_sync(store: Arc<MemoryStore>, workers: usize) -> f64 {
    let client = InProcessClient::shared(store);
    let rec = Arc::new(Noop(AtomicUsize::new(0)));
    let (stop, shutdown) = Shutdown::new();
    let started = Instant::now();
    let run = tokio::spawn(
        Controller::for_api("bench", Api::<ConfigMap>::all(client))
            .concurrency(workers)
            .run(rec.clone(), shutdown),
    );
    wait_count(&rec.0, OBJECTS).await;
    let secs = started.elapsed().as_secs_f64();
    stop.trigger();
    run.await.unwrap();
    secs
}

/// Reconciles per second once synced: every key enqueued again, processed by `workers`.
async fn steady_state(store: Arc<MemoryStore>, workers: usize) -> f64 {
    let client = InProcessClient::shared(store);
    let rec = Arc::new(Noop(AtomicUsize::new(0)));
    let (stop, shutdown) = Shutdown::new();
    let controller =
        Controller::for_api("bench", Api::<ConfigMap>::all(client)).concurrency(workers);
    let queue = controller.queue();
    let run = tokio::spawn(controller.run(rec.clone(), shutdown));
    wait_count(&rec.0, OBJECTS).await;
    let started = Instant::now();
    for i in 0..OBJECTS {
        queue.add(ObjectRef::new(Some("default"), &format!("cm-{i:06}")));
    }
    wait_count(&rec.0, 2 * OBJECTS).await;
    let rate = OBJECTS as f64 / started.elapsed().as_secs_f64();
    stop.trigger();
    run.await.unwrap();
    rate
}

/// add+get+done cycles per second on one task.
async fn queue_single(n: u64) -> f64 {
    let q: WorkQueue<u64> = WorkQueue::new();
    let started = Instant::now();
    for i in 0..n {
        q.add(i);
        let item = q.get().await.unwrap();
        q.done(&item);
    }
    n as f64 / started.elapsed().as_secs_f64()
}

/// add+get+done cycles per second with 4 producers and 4 workers.
async fn queue_parallel(n: u64) -> f64 {
    let q: WorkQueue<u64> = WorkQueue::new();
    let done = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let workers: Vec<_> = (0..4)
        .map(|_| {
            let (q, done) = (q.clone(), done.clone());
            tokio::spawn(async move {
                while let Some(i) = q.get().await {
                    q.done(&i);
                    done.fetch_add(1, Ordering::Relaxed);
                }
            })
        })
        .collect();
    let producers: Vec<_> = (0..4u64)
        .map(|p| {
            let q = q.clone();
            tokio::spawn(async move {
                for i in 0..n / 4 {
                    q.add(p * n + i);
                }
            })
        })
        .collect();
    for p in producers {
        p.await.unwrap();
    }
    wait_count(&done, n as usize).await;
    let rate = n as f64 / started.elapsed().as_secs_f64();
    q.shutdown();
    for w in workers {
        w.await.unwrap();
    }
    rate
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[v.len() / 2]
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let store = filled_store().await;
        let mut syncs = Vec::new();
        for _ in 0..3 {
            syncs.push(initial_sync(store.clone(), 2).await);
        }
        let mut steady = Vec::new();
        for workers in [1, 2, 4, 8] {
            let mut runs = Vec::new();
            for _ in 0..3 {
                runs.push(steady_state(store.clone(), workers).await);
            }
            steady.push((workers, median(runs)));
        }
        let single = median(vec![queue_single(1_000_000).await, queue_single(1_000_000).await, queue_single(1_000_000).await]);
        let parallel = median(vec![queue_parallel(1_000_000).await, queue_parallel(1_000_000).await, queue_parallel(1_000_000).await]);

        println!("\n### Controller runtime benchmark ({} cores; in-process client over the memory store; medians of 3)\n",
            std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0));
        println!("| measure | figure | target |");
        println!("|---|---|---|");
        println!("| initial list+watch sync and one no-op reconcile of {OBJECTS} objects (2 workers) | {:.2} s | < 1 s |", median(syncs));
        for (w, r) in steady {
            println!("| steady-state no-op reconciles/s, {w} worker(s) | {r:.0} | |");
        }
        println!("| work queue add+get+done cycles/s, 1 task | {single:.0} ({:.0} ops/s counting add, get, done) | >= 1,000,000 ops/s |", single * 3.0);
        println!("| work queue add+get+done cycles/s, 4 producers + 4 workers | {parallel:.0} ({:.0} ops/s) | |", parallel * 3.0);
    });
}
