//! What client-go's `EventCorrelator` does before an event is written, without I/O so it can be tested
//! with a hand-driven clock:
//!
//! 1. **Aggregation.** Events that differ only in their message (same source, object, type and reason)
//!    are combined once more than [`AGGREGATE_MAX_EVENTS`] distinct messages arrive within
//!    [`AGGREGATE_INTERVAL`]: the rest update one event whose message starts with
//!    `(combined from similar events): `. A ReplicaSet creating 10,000 pods writes a handful of
//!    `SuccessfulCreate` events, not 10,000.
//! 2. **Spam filter.** Each source gets a token bucket per object, type and reason: a burst of
//!    [`SPAM_BURST`] events, then one more every [`SPAM_REFILL`]. Events over the budget are dropped.
//! 3. **Deduplication** of identical events (the count goes up) is done by the [`Recorder`](super::Recorder),
//!    which knows the names of the events it wrote.
//!
//! Every table remembers at most [`MAX_REMEMBERED`](super::MAX_REMEMBERED) keys, as 64-bit hashes.

use std::collections::hash_map::DefaultHasher;
use std::collections::{HashMap, HashSet};
use std::hash::{Hash, Hasher};
use std::time::{Duration, Instant};

use super::MAX_REMEMBERED;

/// Distinct messages about one object and reason, within [`AGGREGATE_INTERVAL`], before they are combined.
pub const AGGREGATE_MAX_EVENTS: usize = 10;
/// How long distinct messages count towards [`AGGREGATE_MAX_EVENTS`].
pub const AGGREGATE_INTERVAL: Duration = Duration::from_secs(600);
/// Events a source may publish at once about one object, type and reason.
pub const SPAM_BURST: f64 = 25.0;
/// After the burst, one more event per this interval.
pub const SPAM_REFILL: Duration = Duration::from_secs(300);
/// The prefix of a combined event's message.
pub const COMBINED_PREFIX: &str = "(combined from similar events): ";

/// The fields of an event the correlator looks at.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Draft<'a> {
    /// Source component and host, involved object kind, namespace, name, uid and API version.
    pub source_and_object: [&'a str; 7],
    /// `spec.containers{main}` and the like.
    pub field_path: &'a str,
    pub type_: &'a str,
    pub reason: &'a str,
    pub message: &'a str,
}

/// What to do with a draft.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Correlation {
    /// Over the spam budget: write nothing.
    Skip,
    /// Write (or count again, if `key` was written before) an event with this message.
    Write {
        /// Identity of the event for deduplication.
        key: u64,
        /// The draft's message, or the combined one.
        combined: bool,
    },
}

fn hash_of(parts: &[&str]) -> u64 {
    let mut h = DefaultHasher::new();
    for p in parts {
        p.hash(&mut h);
    }
    h.finish()
}

/// A map holding at most `cap` keys, forgetting the least recently used half when full (two
/// generations: a lookup moves a key to the young one).
#[derive(Debug)]
pub(crate) struct Remembered<V> {
    young: HashMap<u64, V>,
    old: HashMap<u64, V>,
    cap: usize,
}

impl<V> Remembered<V> {
    pub(crate) fn new(cap: usize) -> Self {
        Self {
            young: HashMap::new(),
            old: HashMap::new(),
            cap: cap.max(2),
        }
    }

    /// The value for `key`, made young.
    pub(crate) fn get_mut(&mut self, key: u64) -> Option<&mut V> {
        if !self.young.contains_key(&key) {
            let v = self.old.remove(&key)?;
            self.insert(key, v);
        }
        self.young.get_mut(&key)
    }

    /// The value for `key`, made young; made by `make` when absent.
    pub(crate) fn get_or_insert_with(&mut self, key: u64, make: impl FnOnce() -> V) -> &mut V {
        if !self.young.contains_key(&key) && self.young.len() >= self.cap / 2 {
            // Make room, carrying the key over if it was in the generation being forgotten.
            let carried = self.old.remove(&key);
            self.old = std::mem::take(&mut self.young);
            if let Some(v) = carried {
                self.young.insert(key, v);
            }
        }
        let old = &mut self.old;
        self.young
            .entry(key)
            .or_insert_with(|| old.remove(&key).unwrap_or_else(make))
    }

    pub(crate) fn insert(&mut self, key: u64, value: V) {
        if !self.young.contains_key(&key) && self.young.len() >= self.cap / 2 {
            self.old = std::mem::take(&mut self.young);
        }
        self.old.remove(&key);
        self.young.insert(key, value);
    }

    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.young.len() + self.old.len()
    }
}

#[derive(Debug)]
struct Aggregate {
    messages: HashSet<u64>,
    last: Instant,
}

#[derive(Debug)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

/// Aggregation and spam filter state of one recorder.
#[derive(Debug)]
pub(crate) struct Correlator {
    aggregates: Remembered<Aggregate>,
    buckets: Remembered<Bucket>,
}

impl Default for Correlator {
    fn default() -> Self {
        Self {
            aggregates: Remembered::new(MAX_REMEMBERED),
            buckets: Remembered::new(MAX_REMEMBERED),
        }
    }
}

impl Correlator {
    /// Decides what becomes of `draft` at time `now`.
    pub(crate) fn correlate(&mut self, draft: &Draft<'_>, now: Instant) -> Correlation {
        let [component, host, kind, namespace, name, uid, api_version] = draft.source_and_object;
        let aggregate_key = hash_of(&[
            component,
            host,
            kind,
            namespace,
            name,
            uid,
            api_version,
            draft.type_,
            draft.reason,
        ]);
        let combined = self.aggregate(aggregate_key, draft.message, now);
        if !self.spend(aggregate_key, now) {
            return Correlation::Skip;
        }
        let key = if combined {
            aggregate_key
        } else {
            hash_of(&[
                component,
                host,
                kind,
                namespace,
                name,
                draft.field_path,
                uid,
                api_version,
                draft.type_,
                draft.reason,
                draft.message,
            ])
        };
        Correlation::Write { key, combined }
    }

    /// Records `message` under `key`; true when the event is to be combined with its similar ones.
    fn aggregate(&mut self, key: u64, message: &str, now: Instant) -> bool {
        let record = self.aggregates.get_or_insert_with(key, || Aggregate {
            messages: HashSet::new(),
            last: now,
        });
        if now.saturating_duration_since(record.last) > AGGREGATE_INTERVAL {
            record.messages.clear();
        }
        record.last = now;
        record.messages.insert(hash_of(&[message]));
        if record.messages.len() < AGGREGATE_MAX_EVENTS {
            return false;
        }
        // Keep the set at its threshold: from here on every new message is combined.
        if let Some(any) = record.messages.iter().next().copied() {
            record.messages.remove(&any);
        }
        true
    }

    /// Takes a token from the bucket of `key`; false when it is empty.
    fn spend(&mut self, key: u64, now: Instant) -> bool {
        let bucket = self.buckets.get_or_insert_with(key, || Bucket {
            tokens: SPAM_BURST,
            at: now,
        });
        let refill =
            now.saturating_duration_since(bucket.at).as_secs_f64() / SPAM_REFILL.as_secs_f64();
        bucket.tokens = (bucket.tokens + refill).min(SPAM_BURST);
        bucket.at = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn draft<'a>(name: &'a str, reason: &'a str, message: &'a str) -> Draft<'a> {
        Draft {
            source_and_object: [
                "replicaset-controller",
                "",
                "ReplicaSet",
                "default",
                name,
                "u1",
                "apps/v1",
            ],
            field_path: "",
            type_: "Normal",
            reason,
            message,
        }
    }

    #[test]
    fn identical_events_share_a_key_and_distinct_ones_do_not() {
        let mut c = Correlator::default();
        let t = Instant::now();
        let a = c.correlate(&draft("web", "SuccessfulCreate", "Created pod: web-1"), t);
        let b = c.correlate(&draft("web", "SuccessfulCreate", "Created pod: web-1"), t);
        let other = c.correlate(&draft("web", "SuccessfulCreate", "Created pod: web-2"), t);
        assert_eq!(a, b);
        assert_ne!(a, other);
        assert!(matches!(
            a,
            Correlation::Write {
                combined: false,
                ..
            }
        ));
    }

    #[test]
    fn the_tenth_distinct_message_is_combined_and_later_ones_share_its_key() {
        let mut c = Correlator::default();
        let t = Instant::now();
        let messages: Vec<String> = (0..12).map(|i| format!("Created pod: web-{i}")).collect();
        let results: Vec<Correlation> = messages
            .iter()
            .map(|m| c.correlate(&draft("web", "SuccessfulCreate", m), t))
            .collect();
        for r in &results[..AGGREGATE_MAX_EVENTS - 1] {
            assert!(
                matches!(
                    r,
                    Correlation::Write {
                        combined: false,
                        ..
                    }
                ),
                "{r:?}"
            );
        }
        let combined: Vec<&Correlation> = results[AGGREGATE_MAX_EVENTS - 1..].iter().collect();
        assert!(combined
            .iter()
            .all(|r| matches!(r, Correlation::Write { combined: true, .. })));
        assert!(
            combined.windows(2).all(|w| w[0] == w[1]),
            "one combined event"
        );
        // Another reason about the same object is not affected.
        assert!(matches!(
            c.correlate(&draft("web", "SuccessfulDelete", "Deleted pod: web-0"), t),
            Correlation::Write {
                combined: false,
                ..
            }
        ));
    }

    #[test]
    fn aggregation_starts_over_after_the_interval() {
        let mut c = Correlator::default();
        let t = Instant::now();
        for i in 0..AGGREGATE_MAX_EVENTS {
            c.correlate(&draft("web", "R", &format!("m{i}")), t);
        }
        let later = t + AGGREGATE_INTERVAL + Duration::from_secs(1);
        assert!(matches!(
            c.correlate(&draft("web", "R", "new"), later),
            Correlation::Write {
                combined: false,
                ..
            }
        ));
    }

    #[test]
    fn spam_filter_allows_a_burst_of_25_then_one_per_five_minutes() {
        let mut c = Correlator::default();
        let t = Instant::now();
        let written = (0..40)
            .filter(|_| c.correlate(&draft("web", "BackOff", "Back-off"), t) != Correlation::Skip)
            .count();
        assert_eq!(written, 25);
        assert_eq!(
            c.correlate(
                &draft("web", "BackOff", "Back-off"),
                t + Duration::from_secs(299)
            ),
            Correlation::Skip
        );
        assert_ne!(
            c.correlate(&draft("web", "BackOff", "Back-off"), t + SPAM_REFILL),
            Correlation::Skip
        );
        // Another object has its own budget.
        assert_ne!(
            c.correlate(&draft("api", "BackOff", "Back-off"), t),
            Correlation::Skip
        );
    }

    #[test]
    fn remembered_keeps_at_most_its_capacity_and_the_recently_used() {
        let mut r = Remembered::new(10);
        for k in 0..100u64 {
            r.insert(k, k);
            assert!(r.get_mut(0).is_some(), "key 0 kept while used");
            assert!(r.len() <= 10);
        }
        assert!(
            r.get_mut(0).is_some(),
            "used on every round, so never forgotten"
        );
        assert!(r.get_mut(50).is_none());
        assert_eq!(r.get_mut(99).copied(), Some(99));

        let mut r = Remembered::new(4);
        for k in 0..50u64 {
            *r.get_or_insert_with(0, || 0) += 1;
            assert_eq!(*r.get_or_insert_with(k + 1, || k), k);
            assert!(r.len() <= 4);
        }
        assert_eq!(*r.get_or_insert_with(0, || 0), 50, "kept, and made once");
    }
}
