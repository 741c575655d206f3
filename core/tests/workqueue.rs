//! Every rule of the work queue, on paused time (deterministic).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use skiff_core::workqueue::{Bucket, ItemExponential, RateLimiter, WorkQueue};
use tokio::time::Instant;

async fn get_now<T: Clone + Eq + std::hash::Hash + Send + Sync + 'static>(
    q: &WorkQueue<T>,
) -> Option<T> {
    tokio::time::timeout(Duration::from_millis(1), q.get())
        .await
        .ok()
        .flatten()
}

#[tokio::test(start_paused = true)]
async fn dedup_while_dirty_and_fifo() {
    let q = WorkQueue::new();
    for item in ["a", "b", "a", "c", "b"] {
        q.add(item);
    }
    assert_eq!(q.len(), 3);
    assert_eq!(q.get().await, Some("a"));
    assert_eq!(q.get().await, Some("b"));
    assert_eq!(q.get().await, Some("c"));
    assert_eq!(q.metrics().adds.load(Ordering::SeqCst), 3);
}

#[tokio::test(start_paused = true)]
async fn an_item_added_while_processing_is_queued_once_after_done() {
    let q = WorkQueue::new();
    q.add("a");
    let a = q.get().await.unwrap();
    q.add("a");
    q.add("a");
    assert_eq!(get_now(&q).await, None, "not handed out while processing");
    q.done(&a);
    assert_eq!(q.len(), 1, "re-queued once");
    assert_eq!(q.get().await, Some("a"));
    q.done(&"a");
    assert_eq!(get_now(&q).await, None);
}

#[tokio::test(start_paused = true)]
async fn never_two_workers_on_one_key() {
    let q: WorkQueue<u32> = WorkQueue::new();
    let in_progress: Arc<Mutex<HashMap<u32, usize>>> = Arc::default();
    let violations = Arc::new(AtomicUsize::new(0));
    let processed = Arc::new(AtomicUsize::new(0));
    let workers: Vec<_> = (0..8)
        .map(|_| {
            let (q, in_progress, violations, processed) = (
                q.clone(),
                in_progress.clone(),
                violations.clone(),
                processed.clone(),
            );
            tokio::spawn(async move {
                while let Some(k) = q.get().await {
                    {
                        let mut m = in_progress.lock().unwrap();
                        let n = m.entry(k).or_insert(0);
                        *n += 1;
                        if *n > 1 {
                            violations.fetch_add(1, Ordering::SeqCst);
                        }
                    }
                    tokio::time::sleep(Duration::from_millis(3)).await;
                    *in_progress.lock().unwrap().get_mut(&k).unwrap() -= 1;
                    processed.fetch_add(1, Ordering::SeqCst);
                    q.done(&k);
                }
            })
        })
        .collect();
    for round in 0..50 {
        for k in 0..4 {
            q.add(k);
        }
        tokio::time::sleep(Duration::from_millis(1 + round % 3)).await;
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    q.shutdown_with_drain().await;
    for w in workers {
        w.await.unwrap();
    }
    assert_eq!(violations.load(Ordering::SeqCst), 0);
    assert!(processed.load(Ordering::SeqCst) >= 4);
}

#[tokio::test(start_paused = true)]
async fn add_after_keeps_the_earliest_deadline() {
    let q = WorkQueue::new();
    let start = Instant::now();
    q.add_after("a", Duration::from_secs(10));
    q.add_after("a", Duration::from_secs(1));
    q.add_after("b", Duration::from_secs(1));
    q.add_after("b", Duration::from_secs(10));
    assert_eq!(q.waiting(), 2);
    assert_eq!(get_now(&q).await, None);
    let first = q.get().await.unwrap();
    let second = q.get().await.unwrap();
    assert_eq!(
        start.elapsed(),
        Duration::from_secs(1),
        "both ready at the earlier time"
    );
    let mut got = [first, second];
    got.sort();
    assert_eq!(got, ["a", "b"]);
    assert_eq!(q.waiting(), 0, "the later deadlines are gone");
}

#[tokio::test(start_paused = true)]
async fn add_after_zero_is_immediate_and_add_cancels_a_wait() {
    let q = WorkQueue::new();
    q.add_after("a", Duration::ZERO);
    assert_eq!(q.len(), 1);
    q.add_after("b", Duration::from_secs(60));
    q.add("b");
    assert_eq!(q.len(), 2);
    assert_eq!(q.waiting(), 0);
}

#[tokio::test(start_paused = true)]
async fn per_item_backoff_doubles_caps_and_resets_on_forget() {
    let l = ItemExponential::new(Duration::from_millis(5), Duration::from_secs(1000));
    let delays: Vec<Duration> = (0..5).map(|_| l.when(&"k")).collect();
    assert_eq!(delays, [5, 10, 20, 40, 80].map(Duration::from_millis));
    assert_eq!(l.num_requeues(&"k"), 5);
    assert_eq!(l.when(&"other"), Duration::from_millis(5), "per item");
    for _ in 0..30 {
        l.when(&"k");
    }
    assert_eq!(l.when(&"k"), Duration::from_secs(1000), "capped");
    l.forget(&"k");
    assert_eq!(l.num_requeues(&"k"), 0);
    assert_eq!(l.when(&"k"), Duration::from_millis(5), "reset by forget");
}

#[tokio::test(start_paused = true)]
async fn the_bucket_allows_a_burst_of_100_then_10_per_second() {
    let b = Bucket::new(10.0, 100);
    for i in 0..100 {
        assert_eq!(
            RateLimiter::<u32>::when(&b, &i),
            Duration::ZERO,
            "request {i} within the burst"
        );
    }
    assert_eq!(
        RateLimiter::<u32>::when(&b, &100),
        Duration::from_millis(100)
    );
    let d = RateLimiter::<u32>::when(&b, &101);
    assert!((d.as_secs_f64() - 0.2).abs() < 1e-9, "{d:?}");
    tokio::time::advance(Duration::from_secs(10)).await;
    assert_eq!(
        RateLimiter::<u32>::when(&b, &102),
        Duration::ZERO,
        "refilled"
    );
}

#[tokio::test(start_paused = true)]
async fn rate_limited_adds_wait_the_longest_of_both_limiters() {
    let q = WorkQueue::new();
    let start = Instant::now();
    q.add_rate_limited("k"); // 5 ms
    assert_eq!(q.get().await, Some("k"));
    assert_eq!(start.elapsed(), Duration::from_millis(5));
    q.done(&"k");
    q.add_rate_limited("k"); // 10 ms
    assert_eq!(q.get().await, Some("k"));
    assert_eq!(start.elapsed(), Duration::from_millis(15));
    q.done(&"k");
    assert_eq!(q.num_requeues(&"k"), 2);
    assert_eq!(q.metrics().retries.load(Ordering::SeqCst), 2);
    q.forget(&"k");
    assert_eq!(q.num_requeues(&"k"), 0);
}

#[tokio::test(start_paused = true)]
async fn shutdown_wakes_waiting_getters_with_none() {
    let q: WorkQueue<u32> = WorkQueue::new();
    let getter = tokio::spawn({
        let q = q.clone();
        async move { q.get().await }
    });
    tokio::time::sleep(Duration::from_millis(10)).await;
    q.shutdown();
    assert_eq!(getter.await.unwrap(), None);
    q.add(1);
    assert_eq!(q.get().await, None, "nothing is handed out after shutdown");
    assert!(q.is_shutting_down());
}

#[tokio::test(start_paused = true)]
async fn shutdown_with_drain_waits_for_in_flight_items() {
    let q: WorkQueue<u32> = WorkQueue::new();
    q.add(1);
    let finished = Arc::new(AtomicBool::new(false));
    let worker = tokio::spawn({
        let (q, finished) = (q.clone(), finished.clone());
        async move {
            let item = q.get().await.unwrap();
            tokio::time::sleep(Duration::from_secs(5)).await;
            finished.store(true, Ordering::SeqCst);
            q.done(&item);
        }
    });
    tokio::time::sleep(Duration::from_millis(10)).await;
    let start = Instant::now();
    q.shutdown_with_drain().await;
    assert!(
        finished.load(Ordering::SeqCst),
        "drain returned before the in-flight item was done"
    );
    assert!(start.elapsed() >= Duration::from_millis(4990));
    worker.await.unwrap();
}
