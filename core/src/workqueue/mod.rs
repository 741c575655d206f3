//! The work queue between informers and reconcilers, with client-go's semantics.
//!
//! - **Dedup.** An item added while it waits (`dirty`) is not queued twice.
//! - **One worker per item.** An item handed out by [`WorkQueue::get`] is `processing`; if it is added again
//!   meanwhile it is held back and queued once [`WorkQueue::done`] is called. Two workers never hold the
//!   same item.
//! - **Delays.** [`WorkQueue::add_after`] queues later; an item already waiting keeps the earlier time.
//! - **Rate limiting.** [`WorkQueue::add_rate_limited`] waits as long as the [`RateLimiter`] says: by
//!   default the longest of 5 ms doubling per failure of that item (up to 1000 s) and a 10/s, burst-100
//!   bucket over all items. [`WorkQueue::forget`] resets an item's failures after a success.
//! - **Shutdown.** [`WorkQueue::shutdown`] stops handing out items; [`WorkQueue::shutdown_with_drain`] also
//!   waits for every item being processed to be `done`.
//!
//! All timing uses `tokio::time`, so tests can pause and advance time.
//!
//! ```
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! use skiff_core::workqueue::WorkQueue;
//! let q: WorkQueue<&str> = WorkQueue::new();
//! q.add("a");
//! q.add("a"); // deduplicated
//! q.add("b");
//! assert_eq!(q.len(), 2);
//! let item = q.get().await.unwrap();
//! q.add(item); // held back while processing...
//! assert_eq!(q.len(), 1);
//! q.done(&item); // ...and queued again now
//! assert_eq!(q.len(), 2);
//! # });
//! ```

mod rate_limiter;

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::hash::Hash;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tokio::sync::Notify;
use tokio::time::Instant;

pub use rate_limiter::{default_rate_limiter, Bucket, ItemExponential, MaxOf, RateLimiter};

/// Counters of a queue.
#[derive(Debug, Default)]
pub struct QueueMetrics {
    /// Items added (including re-adds, excluding deduplicated ones).
    pub adds: AtomicU64,
    /// Rate-limited re-adds (retries after failures).
    pub retries: AtomicU64,
    /// Items handed to workers.
    pub gets: AtomicU64,
}

struct State<T> {
    queue: VecDeque<T>,
    dirty: HashSet<T>,
    processing: HashSet<T>,
    /// Delayed items: ready time -> items, and item -> its ready time.
    waiting: BTreeMap<(Instant, u64), T>,
    waiting_index: HashMap<T, (Instant, u64)>,
    seq: u64,
    shutting_down: bool,
}

struct Inner<T> {
    state: Mutex<State<T>>,
    /// Wakes getters when an item is queued or the queue shuts down.
    ready: Notify,
    /// Wakes a draining shutdown when processing items are done.
    idle: Notify,
    limiter: Box<dyn RateLimiter<T>>,
    metrics: QueueMetrics,
}

/// A work queue; clone it freely (clones share the queue). See the [module docs](self).
pub struct WorkQueue<T> {
    inner: Arc<Inner<T>>,
}

impl<T> Clone for WorkQueue<T> {
    fn clone(&self) -> Self {
        Self {
            inner: self.inner.clone(),
        }
    }
}

impl<T: Clone + Eq + Hash + Send + Sync + 'static> Default for WorkQueue<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T: Clone + Eq + Hash + Send + Sync + 'static> WorkQueue<T> {
    /// A queue with client-go's default rate limiter.
    pub fn new() -> Self {
        Self::with_rate_limiter(default_rate_limiter())
    }

    /// A queue with a chosen rate limiter.
    pub fn with_rate_limiter(limiter: impl RateLimiter<T> + 'static) -> Self {
        Self {
            inner: Arc::new(Inner {
                state: Mutex::new(State {
                    queue: VecDeque::new(),
                    dirty: HashSet::new(),
                    processing: HashSet::new(),
                    waiting: BTreeMap::new(),
                    waiting_index: HashMap::new(),
                    seq: 0,
                    shutting_down: false,
                }),
                ready: Notify::new(),
                idle: Notify::new(),
                limiter: Box::new(limiter),
                metrics: QueueMetrics::default(),
            }),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State<T>> {
        self.inner.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Queues `item` now (a no-op if it is already queued; held back if it is being processed).
    pub fn add(&self, item: T) {
        let mut s = self.lock();
        if Self::add_locked(&mut s, item) {
            self.inner.metrics.adds.fetch_add(1, Ordering::Relaxed);
            drop(s);
            self.inner.ready.notify_one();
        }
    }

    /// Returns true when the item became queued (and a getter should wake).
    fn add_locked(s: &mut State<T>, item: T) -> bool {
        if s.shutting_down || s.dirty.contains(&item) {
            return false;
        }
        if let Some(at) = s.waiting_index.remove(&item) {
            s.waiting.remove(&at);
        }
        s.dirty.insert(item.clone());
        if s.processing.contains(&item) {
            return false;
        }
        s.queue.push_back(item);
        true
    }

    /// Queues `item` after `delay`; if it is already waiting, the earlier time wins.
    pub fn add_after(&self, item: T, delay: Duration) {
        if delay.is_zero() {
            return self.add(item);
        }
        let at = Instant::now() + delay;
        let mut s = self.lock();
        if s.shutting_down || s.dirty.contains(&item) {
            return;
        }
        if let Some(&(old, seq)) = s.waiting_index.get(&item) {
            if old <= at {
                return;
            }
            s.waiting.remove(&(old, seq));
        }
        s.seq += 1;
        let key = (at, s.seq);
        s.waiting.insert(key, item.clone());
        s.waiting_index.insert(item, key);
        drop(s);
        // A getter may be sleeping until a later deadline.
        self.inner.ready.notify_waiters();
    }

    /// Queues `item` after the delay the rate limiter gives it (a retry after a failure).
    pub fn add_rate_limited(&self, item: T) {
        let delay = self.inner.limiter.when(&item);
        self.inner.metrics.retries.fetch_add(1, Ordering::Relaxed);
        self.add_after(item, delay);
    }

    /// Resets `item`'s failure count (call after it was processed successfully).
    pub fn forget(&self, item: &T) {
        self.inner.limiter.forget(item);
    }

    /// How many times in a row `item` has been re-added after failures.
    pub fn num_requeues(&self, item: &T) -> u32 {
        self.inner.limiter.num_requeues(item)
    }

    /// The next item, waiting until one is ready; `None` once the queue is shut down.
    /// Call [`WorkQueue::done`] when finished with it.
    pub async fn get(&self) -> Option<T> {
        loop {
            let notified = self.inner.ready.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            let next_deadline = {
                let mut s = self.lock();
                if s.shutting_down {
                    return None;
                }
                let now = Instant::now();
                while let Some((&(at, seq), _)) = s.waiting.iter().next() {
                    if at > now {
                        break;
                    }
                    if let Some(item) = s.waiting.remove(&(at, seq)) {
                        s.waiting_index.remove(&item);
                        if Self::add_locked(&mut s, item) {
                            self.inner.metrics.adds.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                }
                if let Some(item) = s.queue.pop_front() {
                    s.dirty.remove(&item);
                    s.processing.insert(item.clone());
                    self.inner.metrics.gets.fetch_add(1, Ordering::Relaxed);
                    let more = !s.queue.is_empty();
                    drop(s);
                    if more {
                        self.inner.ready.notify_one();
                    }
                    return Some(item);
                }
                s.waiting.keys().next().map(|(at, _)| *at)
            };
            match next_deadline {
                Some(at) => {
                    tokio::select! {
                        _ = &mut notified => {}
                        _ = tokio::time::sleep_until(at) => {}
                    }
                }
                None => notified.await,
            }
        }
    }

    /// Marks `item` finished; if it was added while processing, it is queued again now.
    pub fn done(&self, item: &T) {
        let mut s = self.lock();
        s.processing.remove(item);
        let requeue = s.dirty.contains(item) && !s.shutting_down;
        if requeue {
            s.queue.push_back(item.clone());
        }
        let idle = s.processing.is_empty();
        drop(s);
        if requeue {
            self.inner.ready.notify_one();
        }
        if idle {
            self.inner.idle.notify_waiters();
        }
    }

    /// Stops handing out items: every `get` returns `None` from now on.
    pub fn shutdown(&self) {
        self.lock().shutting_down = true;
        self.inner.ready.notify_waiters();
    }

    /// Stops handing out items and waits until every item being processed is `done`.
    pub async fn shutdown_with_drain(&self) {
        self.shutdown();
        loop {
            let idle = self.inner.idle.notified();
            tokio::pin!(idle);
            idle.as_mut().enable();
            if self.lock().processing.is_empty() {
                return;
            }
            idle.await;
        }
    }

    /// True after shutdown.
    pub fn is_shutting_down(&self) -> bool {
        self.lock().shutting_down
    }

    /// Items queued and ready (not counting delayed or processing ones).
    pub fn len(&self) -> usize {
        self.lock().queue.len()
    }

    /// True when no item is queued and ready.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Items waiting for a delay to pass.
    pub fn waiting(&self) -> usize {
        self.lock().waiting.len()
    }

    /// Counters.
    pub fn metrics(&self) -> &QueueMetrics {
        &self.inner.metrics
    }
}
