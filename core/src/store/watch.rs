//! `WatchStream`: the stream of changes a watch delivers.

use std::collections::VecDeque;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};

use futures::Stream;
use tokio::sync::mpsc;

use super::{StoreError, WatchEvent};

/// Changes in revision order. It ends with one `Err(StoreError::Expired)` when the watcher fell too far
/// behind (relist and watch again), and ends plainly when the store shuts down.
pub struct WatchStream {
    inner: Pin<Box<dyn Stream<Item = Result<WatchEvent, StoreError>> + Send>>,
}

impl WatchStream {
    /// Wraps any stream of events (what backends such as etcd return).
    pub fn new(
        stream: impl Stream<Item = Result<WatchEvent, StoreError>> + Send + 'static,
    ) -> Self {
        Self {
            inner: Box::pin(stream),
        }
    }

    /// The next event, or `None` when the stream ended.
    pub async fn next(&mut self) -> Option<Result<WatchEvent, StoreError>> {
        futures::StreamExt::next(self).await
    }
}

impl Stream for WatchStream {
    type Item = Result<WatchEvent, StoreError>;
    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.inner.as_mut().poll_next(cx)
    }
}

impl std::fmt::Debug for WatchStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("WatchStream")
    }
}

/// A predicate on events a watcher wants; the others are never queued for it (see
/// [`Store::watch_filtered`](super::Store::watch_filtered)).
pub type WatchFilter = Arc<dyn Fn(&WatchEvent) -> bool + Send + Sync>;

/// The writer's end of one watcher: a bounded channel and a flag set when it overflowed.
pub(crate) struct WatcherHandle {
    pub prefix: String,
    /// Events failing it are skipped at the source.
    pub filter: Option<WatchFilter>,
    pub tx: mpsc::Sender<WatchEvent>,
    pub lagged: Arc<AtomicBool>,
    pub last_revision: i64,
    /// Events at or before this revision are not delivered (a watch from a future revision).
    pub after: i64,
}

impl WatcherHandle {
    /// Delivers an event without blocking; returns false when the watcher must be dropped
    /// (its buffer is full, or it went away).
    pub fn offer(&mut self, event: &WatchEvent) -> bool {
        if event.revision() <= self.after
            || !event.kv.key.starts_with(&self.prefix)
            || self.filter.as_ref().is_some_and(|f| !f(event))
        {
            return true;
        }
        match self.tx.try_send(event.clone()) {
            Ok(()) => {
                self.last_revision = event.revision();
                true
            }
            Err(mpsc::error::TrySendError::Full(_)) => {
                self.lagged.store(true, Ordering::SeqCst);
                false
            }
            Err(mpsc::error::TrySendError::Closed(_)) => false,
        }
    }
}

/// The reader's end: history first, then live events.
pub(crate) struct LocalWatch {
    pub replay: VecDeque<WatchEvent>,
    pub rx: mpsc::Receiver<WatchEvent>,
    pub lagged: Arc<AtomicBool>,
    pub last_revision: i64,
    pub done: bool,
}

impl Stream for LocalWatch {
    type Item = Result<WatchEvent, StoreError>;
    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if self.done {
            return Poll::Ready(None);
        }
        if let Some(ev) = self.replay.pop_front() {
            self.last_revision = ev.revision();
            return Poll::Ready(Some(Ok(ev)));
        }
        match self.rx.poll_recv(cx) {
            Poll::Ready(Some(ev)) => {
                self.last_revision = ev.revision();
                Poll::Ready(Some(Ok(ev)))
            }
            Poll::Ready(None) => {
                self.done = true;
                if self.lagged.load(Ordering::SeqCst) {
                    let requested = self.last_revision;
                    Poll::Ready(Some(Err(StoreError::Expired {
                        requested,
                        compacted: requested,
                    })))
                } else {
                    Poll::Ready(None)
                }
            }
            Poll::Pending => Poll::Pending,
        }
    }
}
