//! The in-memory MVCC engine every local backend is built on: current state, a window of history,
//! and the watchers.
//!
//! [`MemoryStore`](super::MemoryStore) is this engine alone. The durable store of `skiff-store` keeps the
//! same engine in front of its file: [`Engine::commit_batch`] validates a batch of writes, hands the
//! changes to a persist function (one fsync for the whole batch), and only then makes them visible, so
//! readers and watchers only ever see acknowledged writes.

use std::collections::{BTreeMap, VecDeque};
use std::ops::Bound;
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex, MutexGuard};

use bytes::Bytes;
use tokio::sync::mpsc;

use super::watch::{LocalWatch, WatchFilter, WatcherHandle};
use super::{
    EventKind, KeyValue, ListOptions, ListResult, StoreConfig, StoreError, WatchEvent, WatchStream,
};

/// One write, as the engine validates it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Op {
    /// Create a key that must not exist.
    Create {
        /// The key.
        key: String,
        /// The value.
        value: Bytes,
    },
    /// Replace the value of a key that must exist (at `expected`, when given).
    Update {
        /// The key.
        key: String,
        /// The value.
        value: Bytes,
        /// The `mod_revision` the key must have.
        expected: Option<i64>,
    },
    /// Remove a key that must exist (at `expected`, when given).
    Delete {
        /// The key.
        key: String,
        /// The `mod_revision` the key must have.
        expected: Option<i64>,
    },
}

#[derive(Default)]
struct State {
    revision: i64,
    compacted: i64,
    current: BTreeMap<String, KeyValue>,
    log: VecDeque<WatchEvent>,
    watchers: Vec<WatcherHandle>,
}

/// Current state + history window + watchers, behind one lock. See the [module docs](self).
pub struct Engine {
    state: Mutex<State>,
    writer: Mutex<()>,
    config: StoreConfig,
}

impl Engine {
    /// An empty engine at revision 0.
    pub fn new(config: StoreConfig) -> Self {
        Self {
            state: Mutex::new(State::default()),
            writer: Mutex::new(()),
            config,
        }
    }

    /// An engine holding state read back from disk: the last revision, the compacted revision, the
    /// current keys and the history after `compacted` (in revision order).
    pub fn restore(
        config: StoreConfig,
        revision: i64,
        compacted: i64,
        current: impl IntoIterator<Item = KeyValue>,
        log: impl IntoIterator<Item = WatchEvent>,
    ) -> Self {
        let state = State {
            revision,
            compacted,
            current: current.into_iter().map(|kv| (kv.key.clone(), kv)).collect(),
            log: log.into_iter().collect(),
            watchers: Vec::new(),
        };
        Self {
            state: Mutex::new(state),
            writer: Mutex::new(()),
            config,
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock cannot leave the maps half-updated in a way later calls would
        // misread (every update is a single insert/remove), so recover from poisoning.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The revision of the last write.
    pub fn revision(&self) -> i64 {
        self.lock().revision
    }

    /// History at and before this revision is gone.
    pub fn compacted(&self) -> i64 {
        self.lock().compacted
    }

    /// Number of keys.
    pub fn len(&self) -> usize {
        self.lock().current.len()
    }

    /// True when there are no keys.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The current version of `key`.
    pub fn get(&self, key: &str) -> Option<KeyValue> {
        self.lock().current.get(key).cloned()
    }

    /// Commits a batch: validates `ops` in order (each as if the previous ones were applied), passes the
    /// resulting changes to `persist`, and, if it succeeds, makes them visible and hands them to watchers.
    /// Returns, per op, its change (with its revision) or why it failed; if `persist` fails, every op
    /// that would have succeeded fails with its error and nothing changes. Batches are serialized.
    pub fn commit_batch<E>(
        &self,
        ops: &[Op],
        persist: impl FnOnce(&[WatchEvent]) -> Result<(), E>,
    ) -> Vec<Result<WatchEvent, StoreError>>
    where
        E: Into<StoreError>,
    {
        let _writer = self.writer.lock().unwrap_or_else(|p| p.into_inner());
        let results = self.prepare(ops);
        let changes: Vec<WatchEvent> = results
            .iter()
            .filter_map(|r| r.as_ref().ok().cloned())
            .collect();
        if changes.is_empty() {
            return results;
        }
        match persist(&changes) {
            Ok(()) => {
                self.apply(&changes);
                results
            }
            Err(e) => {
                let e: StoreError = e.into();
                results.into_iter().map(|r| r.and(Err(e.clone()))).collect()
            }
        }
    }

    /// Commits one write (what [`MemoryStore`](super::MemoryStore) does for each call).
    pub fn commit(&self, op: Op) -> Result<WatchEvent, StoreError> {
        self.commit_batch(std::slice::from_ref(&op), |_| Ok::<(), StoreError>(()))
            .pop()
            .unwrap_or(Err(StoreError::Closed))
    }

    fn prepare(&self, ops: &[Op]) -> Vec<Result<WatchEvent, StoreError>> {
        let state = self.lock();
        let mut overlay: BTreeMap<&str, Option<KeyValue>> = BTreeMap::new();
        let mut revision = state.revision;
        let mut out = Vec::with_capacity(ops.len());
        for op in ops {
            let key = match op {
                Op::Create { key, .. } | Op::Update { key, .. } | Op::Delete { key, .. } => key,
            };
            let existing = match overlay.get(key.as_str()) {
                Some(v) => v.clone(),
                None => state.current.get(key).cloned(),
            };
            let result = change(op, existing, revision + 1);
            if let Ok(ev) = &result {
                revision += 1;
                let after = match ev.kind {
                    EventKind::Delete => None,
                    _ => Some(ev.kv.clone()),
                };
                overlay.insert(key, after);
            }
            out.push(result);
        }
        out
    }

    fn apply(&self, events: &[WatchEvent]) {
        let mut state = self.lock();
        for ev in events {
            match ev.kind {
                EventKind::Delete => {
                    state.current.remove(&ev.kv.key);
                }
                _ => {
                    state.current.insert(ev.kv.key.clone(), ev.kv.clone());
                }
            }
            state.revision = ev.revision();
            state.log.push_back(ev.clone());
            state.watchers.retain_mut(|w| w.offer(ev));
        }
        let floor = state.revision - self.config.history_window;
        if floor > state.compacted {
            compact_locked(&mut state, floor);
        }
    }

    /// Forgets history at and before `revision` (clamped to the current revision).
    pub fn compact(&self, revision: i64) {
        let mut state = self.lock();
        let revision = revision.min(state.revision);
        if revision > state.compacted {
            compact_locked(&mut state, revision);
        }
    }

    /// A page of the keys under `prefix`, read at the revision of the first page.
    pub fn list(&self, prefix: &str, opts: &ListOptions) -> Result<ListResult, StoreError> {
        let state = self.lock();
        let (revision, start_after) = match &opts.continue_token {
            Some(token) => parse_continue(token)?,
            None => (state.revision, None),
        };
        if revision < state.compacted || revision > state.revision {
            return Err(StoreError::Expired {
                requested: revision,
                compacted: state.compacted,
            });
        }
        let lower = match &start_after {
            Some(k) => Bound::Excluded(k.clone()),
            None => Bound::Included(prefix.to_string()),
        };
        let in_range =
            |k: &str| k.starts_with(prefix) && start_after.as_deref().is_none_or(|s| k > s);
        // Undo the changes made after `revision`, newest first: what remains is the state at `revision`.
        let mut past: BTreeMap<&str, Option<&KeyValue>> = BTreeMap::new();
        for ev in state
            .log
            .iter()
            .rev()
            .take_while(|ev| ev.revision() > revision)
        {
            if in_range(&ev.kv.key) {
                past.insert(&ev.kv.key, ev.prev.as_ref());
            }
        }
        let current = state
            .current
            .range::<String, _>((lower, Bound::Unbounded))
            .take_while(|(k, _)| k.starts_with(prefix));
        let limit = opts.limit.filter(|l| *l > 0).unwrap_or(usize::MAX);
        // Collect one item past the limit to know whether more remain (counting all of them would make
        // paging through n keys cost O(n^2)).
        let items: Vec<KeyValue> = if past.is_empty() {
            current
                .take(limit.saturating_add(1))
                .map(|(_, kv)| kv.clone())
                .collect()
        } else {
            let mut merged: BTreeMap<&str, &KeyValue> = BTreeMap::new();
            for (k, kv) in current {
                merged.insert(k, kv);
            }
            for (k, old) in &past {
                match old {
                    Some(kv) => merged.insert(k, kv),
                    None => merged.remove(k),
                };
            }
            merged
                .values()
                .take(limit.saturating_add(1))
                .map(|kv| (*kv).clone())
                .collect()
        };
        let mut items = items;
        let more = items.len() > limit;
        items.truncate(limit);
        let continue_token = more
            .then(|| items.last().map(|kv| format!("{revision}:{}", kv.key)))
            .flatten();
        Ok(ListResult {
            items,
            revision,
            continue_token,
            remaining: None,
        })
    }

    /// Every change under `prefix` after `from_revision` (0 = from now).
    pub fn watch(&self, prefix: &str, from_revision: i64) -> Result<WatchStream, StoreError> {
        self.watch_filtered(prefix, from_revision, None)
    }

    /// Like [`watch`](Self::watch), delivering only the events `filter` accepts (the others are never
    /// queued for this watcher).
    pub fn watch_filtered(
        &self,
        prefix: &str,
        from_revision: i64,
        filter: Option<WatchFilter>,
    ) -> Result<WatchStream, StoreError> {
        let mut state = self.lock();
        let from = if from_revision <= 0 {
            state.revision
        } else {
            from_revision
        };
        if from < state.compacted {
            return Err(StoreError::Expired {
                requested: from,
                compacted: state.compacted,
            });
        }
        let start = state.log.partition_point(|ev| ev.revision() <= from);
        let replay = state
            .log
            .range(start..)
            .filter(|ev| ev.kv.key.starts_with(prefix))
            .filter(|ev| filter.as_ref().is_none_or(|f| f(ev)))
            .cloned()
            .collect();
        let (tx, rx) = mpsc::channel(self.config.watch_buffer.max(1));
        let lagged = Arc::new(AtomicBool::new(false));
        let last_revision = from.max(state.revision);
        state.watchers.push(WatcherHandle {
            prefix: prefix.to_string(),
            filter,
            tx,
            lagged: lagged.clone(),
            last_revision,
            after: from,
        });
        Ok(WatchStream::new(LocalWatch {
            replay,
            rx,
            lagged,
            last_revision: from,
            done: false,
        }))
    }

    /// Number of live watchers (for metrics and tests).
    pub fn watcher_count(&self) -> usize {
        let mut state = self.lock();
        state.watchers.retain(|w| !w.tx.is_closed());
        state.watchers.len()
    }
}

fn compact_locked(state: &mut State, revision: i64) {
    while state
        .log
        .front()
        .is_some_and(|ev| ev.revision() <= revision)
    {
        state.log.pop_front();
    }
    state.compacted = revision;
}

fn change(op: &Op, existing: Option<KeyValue>, revision: i64) -> Result<WatchEvent, StoreError> {
    let check = |key: &str, existing: &Option<KeyValue>, expected: Option<i64>| match (
        existing, expected,
    ) {
        (None, _) => Err(StoreError::NotFound {
            key: key.to_string(),
        }),
        (Some(kv), Some(want)) if kv.mod_revision != want => Err(StoreError::Conflict {
            key: key.to_string(),
            expected: want,
            actual: kv.mod_revision,
        }),
        _ => Ok(()),
    };
    match op {
        Op::Create { key, value } => match existing {
            Some(_) => Err(StoreError::AlreadyExists { key: key.clone() }),
            None => Ok(WatchEvent {
                kind: EventKind::Create,
                kv: KeyValue {
                    key: key.clone(),
                    value: value.clone(),
                    create_revision: revision,
                    mod_revision: revision,
                },
                prev: None,
            }),
        },
        Op::Update {
            key,
            value,
            expected,
        } => {
            check(key, &existing, *expected)?;
            let prev = existing.ok_or_else(|| StoreError::NotFound { key: key.clone() })?;
            Ok(WatchEvent {
                kind: EventKind::Update,
                kv: KeyValue {
                    key: key.clone(),
                    value: value.clone(),
                    create_revision: prev.create_revision,
                    mod_revision: revision,
                },
                prev: Some(prev),
            })
        }
        Op::Delete { key, expected } => {
            check(key, &existing, *expected)?;
            let prev = existing.ok_or_else(|| StoreError::NotFound { key: key.clone() })?;
            Ok(WatchEvent {
                kind: EventKind::Delete,
                kv: KeyValue {
                    mod_revision: revision,
                    ..prev.clone()
                },
                prev: Some(prev),
            })
        }
    }
}

fn parse_continue(token: &str) -> Result<(i64, Option<String>), StoreError> {
    let invalid = || StoreError::InvalidContinue {
        token: token.to_string(),
    };
    let (rev, key) = token.split_once(':').ok_or_else(invalid)?;
    let rev: i64 = rev.parse().map_err(|_| invalid())?;
    if key.is_empty() {
        return Err(invalid());
    }
    Ok((rev, Some(key.to_string())))
}
