//! Store benchmark: the durable embedded store against real etcd (and the memory store for reference),
//! side by side in one run. Prints a markdown table; not a test.
//!
//! Run: `cargo bench -p skiff-store --bench store` (needs `etcd` on PATH; etcd is started on free loopback
//! ports with a temporary data dir, exactly like the conformance suite starts it).
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

#[path = "../tests/common/mod.rs"]
mod common;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::future::join_all;
use skiff_core::store::{ListOptions, Store, StoreConfig};
use skiff_store::DurableStore;

const VALUE_LEN: usize = 600; // about a small Pod's JSON
const REPS: usize = 3;

fn value(i: u64) -> Vec<u8> {
    let mut v =
        format!("{{\"kind\":\"Pod\",\"metadata\":{{\"name\":\"p-{i}\"}},\"spec\":\"").into_bytes();
    v.resize(VALUE_LEN - 2, b'x');
    v.extend_from_slice(b"\"}");
    v
}

fn median(mut xs: Vec<f64>) -> f64 {
    xs.sort_by(|a, b| a.partial_cmp(b).unwrap());
    xs[xs.len() / 2]
}

fn percentile(mut xs: Vec<Duration>, p: f64) -> Duration {
    xs.sort();
    let idx = ((xs.len() as f64 - 1.0) * p).round() as usize;
    xs[idx]
}

/// Creates per second with `writers` concurrent writers during `secs`.
async fn create_throughput(s: Arc<dyn Store>, tag: &str, writers: usize, secs: f64) -> f64 {
    let counter = Arc::new(AtomicU64::new(0));
    let deadline = Instant::now() + Duration::from_secs_f64(secs);
    let tasks = (0..writers).map(|w| {
        let (s, counter, tag) = (s.clone(), counter.clone(), tag.to_string());
        tokio::spawn(async move {
            let mut i = 0u64;
            while Instant::now() < deadline {
                s.create(&format!("/bench/{tag}/{w}/{i}"), value(i))
                    .await
                    .unwrap();
                counter.fetch_add(1, Ordering::Relaxed);
                i += 1;
            }
        })
    });
    let start = Instant::now();
    join_all(tasks).await;
    counter.load(Ordering::Relaxed) as f64 / start.elapsed().as_secs_f64()
}

async fn fill(s: &Arc<dyn Store>, prefix: &str, n: u64) {
    let next = Arc::new(AtomicU64::new(0));
    let tasks = (0..64).map(|_| {
        let (s, next, prefix) = (s.clone(), next.clone(), prefix.to_string());
        tokio::spawn(async move {
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= n {
                    break;
                }
                s.create(&format!("{prefix}{i:08}"), value(i))
                    .await
                    .unwrap();
            }
        })
    });
    join_all(tasks).await;
}

async fn get_latency(s: &Arc<dyn Store>, prefix: &str, n: u64) -> (Duration, Duration) {
    let mut lat = Vec::new();
    let mut x = 12345u64;
    for _ in 0..3000 {
        x = x
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let key = format!("{prefix}{:08}", (x >> 33) % n);
        let t = Instant::now();
        assert!(s.get(&key).await.unwrap().is_some());
        lat.push(t.elapsed());
    }
    (percentile(lat.clone(), 0.5), percentile(lat, 0.99))
}

async fn list_time(s: &Arc<dyn Store>, prefix: &str, n: usize) -> Duration {
    let mut times = Vec::new();
    for _ in 0..5 {
        let t = Instant::now();
        let res = s.list(prefix, ListOptions::default()).await.unwrap();
        times.push(t.elapsed());
        assert_eq!(res.items.len(), n);
    }
    percentile(times, 0.5)
}

/// p99 of write-start to delivery, over 100 watchers and 200 writes.
async fn watch_latency(s: &Arc<dyn Store>, tag: &str) -> Duration {
    let prefix = format!("/watchbench/{tag}/");
    let start_rev = s.current_revision().await.unwrap();
    let mut watchers = Vec::new();
    for _ in 0..100 {
        watchers.push(s.watch(&prefix, start_rev).await.unwrap());
    }
    let writes = 200;
    let sent: Arc<std::sync::Mutex<Vec<Option<Instant>>>> =
        Arc::new(std::sync::Mutex::new(vec![None; writes]));
    let receivers = watchers.into_iter().map(|mut w| {
        let sent = sent.clone();
        tokio::spawn(async move {
            let mut lat = Vec::new();
            for _ in 0..writes {
                let ev = w.next().await.unwrap().unwrap();
                let now = Instant::now();
                let i: usize = ev.kv.key.rsplit('/').next().unwrap().parse().unwrap();
                let t0 = sent.lock().unwrap()[i].unwrap();
                lat.push(now - t0);
            }
            lat
        })
    });
    let receivers: Vec<_> = receivers.collect();
    for i in 0..writes {
        sent.lock().unwrap()[i] = Some(Instant::now());
        s.create(&format!("{prefix}{i}"), value(i as u64))
            .await
            .unwrap();
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    let mut all = Vec::new();
    for r in join_all(receivers).await {
        all.extend(r.unwrap());
    }
    percentile(all, 0.99)
}

struct Row {
    name: &'static str,
    creates: Vec<f64>,
    get: (Duration, Duration),
    list: Duration,
    watch_p99: Duration,
}

async fn measure(name: &'static str, s: Arc<dyn Store>) -> Row {
    eprintln!("measuring {name}...");
    let mut creates = Vec::new();
    for writers in [1, 16, 128] {
        let mut reps = Vec::new();
        for r in 0..REPS {
            reps.push(create_throughput(s.clone(), &format!("c{writers}r{r}"), writers, 1.0).await);
        }
        creates.push(median(reps));
    }
    fill(&s, "/bench/list/", 10_000).await;
    let get = get_latency(&s, "/bench/list/", 10_000).await;
    let list = list_time(&s, "/bench/list/", 10_000).await;
    let watch_p99 = watch_latency(&s, name).await;
    Row {
        name,
        creates,
        get,
        list,
        watch_p99,
    }
}

fn us(d: Duration) -> String {
    format!("{:.0} µs", d.as_secs_f64() * 1e6)
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let etcd = common::etcd().await.expect("the benchmark needs etcd on PATH");
        let durable = common::durable(StoreConfig::default());
        let memory = common::memory(StoreConfig::default());
        let rows = [
            measure("durable (redb)", durable.store.clone()).await,
            measure("etcd 3.4", etcd.store.clone()).await,
            measure("memory", memory.store.clone()).await,
        ];
        let (d, e) = (&rows[0], &rows[1]);

        // Restart of the durable store with 100,000 objects.
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("restart.db");
        {
            let s: Arc<dyn Store> = Arc::new(DurableStore::open(&path).unwrap());
            fill(&s, "/restart/", 100_000).await;
        }
        let mut opens = Vec::new();
        for _ in 0..3 {
            let t = Instant::now();
            let s = DurableStore::open(&path).unwrap();
            opens.push(t.elapsed().as_secs_f64());
            assert_eq!(s.len(), 100_000);
        }
        let restart = median(opens);

        println!("\n### Store benchmark ({} cores, one run; medians of {REPS} runs of 1 s for throughput)\n", std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0));
        println!("| measure | {} | {} | {} | durable / etcd |", rows[0].name, rows[1].name, rows[2].name);
        println!("|---|---|---|---|---|");
        for (i, writers) in [1, 16, 128].iter().enumerate() {
            println!(
                "| creates/s, {writers} writer(s) | {:.0} | {:.0} | {:.0} | {:.2} |",
                rows[0].creates[i], rows[1].creates[i], rows[2].creates[i], d.creates[i] / e.creates[i]
            );
        }
        println!(
            "| get p50 | {} | {} | {} | {:.1}x faster |",
            us(rows[0].get.0), us(rows[1].get.0), us(rows[2].get.0),
            e.get.0.as_secs_f64() / d.get.0.as_secs_f64()
        );
        println!(
            "| get p99 | {} | {} | {} | {:.1}x faster |",
            us(rows[0].get.1), us(rows[1].get.1), us(rows[2].get.1),
            e.get.1.as_secs_f64() / d.get.1.as_secs_f64()
        );
        println!(
            "| list 10,000 objects (median of 5) | {} | {} | {} | {:.1}x faster |",
            us(rows[0].list), us(rows[1].list), us(rows[2].list),
            e.list.as_secs_f64() / d.list.as_secs_f64()
        );
        println!(
            "| watch delivery p99, 100 watchers | {} | {} | {} | {:.1}x faster |",
            us(rows[0].watch_p99), us(rows[1].watch_p99), us(rows[2].watch_p99),
            e.watch_p99.as_secs_f64() / d.watch_p99.as_secs_f64()
        );
        println!("| restart with 100,000 objects (median of 3) | {:.2} s | | | |", restart);
        drop(etcd);
    });
}
