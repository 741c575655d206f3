//! Expectations: what a ReplicaSet's last sync asked for and the pod informer has not shown yet.
//!
//! Before creating N pods the controller expects N creations; before deleting pods it expects the
//! deletion of each (by pod key). The pod informer's handler lowers the expectations as it sees the
//! pods appear and disappear. Until they are met (or 5 minutes have passed, in case an event was
//! lost) the controller does not create or delete again, so a cache that lags behind its own writes
//! never makes it create twice.

use std::collections::{HashMap, HashSet};
use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;

/// How long expectations hold before they are ignored (Kubernetes' `ExpectationsTimeout`).
pub const EXPECTATIONS_TIMEOUT: Duration = Duration::from_secs(5 * 60);

#[derive(Debug)]
struct Expected {
    adds: i64,
    deletes: HashSet<String>,
    set_at: Instant,
}

/// Expectations of every ReplicaSet, keyed by the ReplicaSet's cache key (`namespace/name`).
#[derive(Debug, Default)]
pub struct Expectations {
    inner: Mutex<HashMap<String, Expected>>,
    timeout: Option<Duration>,
}

impl Expectations {
    /// Expectations that expire after [`EXPECTATIONS_TIMEOUT`].
    pub fn new() -> Self {
        Self::default()
    }

    /// Expectations that expire after `timeout` (tests).
    pub fn with_timeout(timeout: Duration) -> Self {
        Self {
            inner: Mutex::default(),
            timeout: Some(timeout),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Expected>> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// True when the set may create or delete again: nothing is expected, everything expected was
    /// observed, or the expectations are older than the timeout.
    pub fn satisfied(&self, key: &str) -> bool {
        let timeout = self.timeout.unwrap_or(EXPECTATIONS_TIMEOUT);
        match self.lock().get(key) {
            None => true,
            Some(e) => (e.adds <= 0 && e.deletes.is_empty()) || e.set_at.elapsed() >= timeout,
        }
    }

    /// Expects `n` pod creations for `key` (replacing whatever was expected).
    pub fn expect_creations(&self, key: &str, n: usize) {
        self.lock().insert(
            key.to_string(),
            Expected {
                adds: i64::try_from(n).unwrap_or(i64::MAX),
                deletes: HashSet::new(),
                set_at: Instant::now(),
            },
        );
    }

    /// Expects the deletion of these pods (by `namespace/name`) for `key`.
    pub fn expect_deletions(&self, key: &str, pods: impl IntoIterator<Item = String>) {
        self.lock().insert(
            key.to_string(),
            Expected {
                adds: 0,
                deletes: pods.into_iter().collect(),
                set_at: Instant::now(),
            },
        );
    }

    /// One creation for `key` was observed (or will never happen because it failed).
    pub fn creation_observed(&self, key: &str) {
        if let Some(e) = self.lock().get_mut(key) {
            e.adds -= 1;
        }
    }

    /// The deletion of `pod` for `key` was observed (or will never happen because it failed).
    pub fn deletion_observed(&self, key: &str, pod: &str) {
        if let Some(e) = self.lock().get_mut(key) {
            e.deletes.remove(pod);
        }
    }

    /// Forgets `key` (its ReplicaSet is gone).
    pub fn forget(&self, key: &str) {
        self.lock().remove(key);
    }

    /// What is still expected for `key`: (creations, deletions).
    pub fn pending(&self, key: &str) -> (i64, usize) {
        self.lock()
            .get(key)
            .map(|e| (e.adds.max(0), e.deletes.len()))
            .unwrap_or((0, 0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn creations_must_all_be_observed() {
        let e = Expectations::new();
        assert!(e.satisfied("ns/a"));
        e.expect_creations("ns/a", 2);
        assert!(!e.satisfied("ns/a"));
        e.creation_observed("ns/a");
        assert!(!e.satisfied("ns/a"));
        e.creation_observed("ns/a");
        assert!(e.satisfied("ns/a"));
    }

    #[test]
    fn deletions_are_tracked_by_pod_key() {
        let e = Expectations::new();
        e.expect_deletions("ns/a", ["ns/p1".to_string(), "ns/p2".to_string()]);
        e.deletion_observed("ns/a", "ns/p1");
        e.deletion_observed("ns/a", "ns/p1");
        assert!(!e.satisfied("ns/a"), "observing one pod twice is not two");
        e.deletion_observed("ns/a", "ns/p2");
        assert!(e.satisfied("ns/a"));
    }

    #[tokio::test]
    async fn expectations_expire() {
        let e = Expectations::with_timeout(Duration::from_millis(50));
        e.expect_creations("ns/a", 3);
        assert!(!e.satisfied("ns/a"));
        tokio::time::sleep(Duration::from_millis(60)).await;
        assert!(e.satisfied("ns/a"));
        assert_eq!(
            Expectations::new().timeout.unwrap_or(EXPECTATIONS_TIMEOUT),
            Duration::from_secs(300)
        );
    }
}
