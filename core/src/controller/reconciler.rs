//! The `Reconciler` trait and what a reconcile returns.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;

use super::ObjectRef;
use crate::client::Client;
use crate::informer::Cache;
use crate::Resource;

/// What to do after a successful reconcile.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Action {
    requeue_after: Option<Duration>,
}

impl Action {
    /// Reconcile again after `d` even if nothing changes (periodic checks, waiting on something external).
    pub fn requeue(d: Duration) -> Self {
        Self {
            requeue_after: Some(d),
        }
    }

    /// Nothing more to do until the object (or something it owns or watches) changes.
    pub fn await_change() -> Self {
        Self {
            requeue_after: None,
        }
    }

    /// The requested requeue delay, if any.
    pub fn requeue_after(&self) -> Option<Duration> {
        self.requeue_after
    }
}

/// What to do after a failed reconcile.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorAction {
    /// Retry with the queue's rate limit (5 ms doubling per failure up to 1000 s, and 10/s overall).
    Retry,
    /// Retry after exactly this long.
    RetryAfter(Duration),
    /// Do not retry (the error is terminal); a later change of the object triggers a new reconcile.
    Terminal,
}

/// What a reconcile gets besides the object.
pub struct Context<K: Resource> {
    pub(crate) client: Arc<dyn Client>,
    pub(crate) cache: Arc<Cache<K>>,
    pub(crate) object: ObjectRef,
    pub(crate) retries: u32,
}

impl<K: Resource> Context<K> {
    /// The client (to read and write other objects).
    pub fn client(&self) -> &Arc<dyn Client> {
        &self.client
    }

    /// The controller's cache of `K`.
    pub fn cache(&self) -> &Arc<Cache<K>> {
        &self.cache
    }

    /// Which object this reconcile is about.
    pub fn object_ref(&self) -> &ObjectRef {
        &self.object
    }

    /// How many times in a row this object has failed to reconcile.
    pub fn retries(&self) -> u32 {
        self.retries
    }
}

/// Brings the world in line with one object. Level-based: it gets the object as it is now (not the event
/// that triggered it), and must be safe to call any number of times.
#[async_trait]
pub trait Reconciler<K: Resource>: Send + Sync + 'static {
    /// Why a reconcile failed.
    type Error: std::error::Error + Send + Sync + 'static;

    /// Observes `obj`, compares desired with current state, acts, and says when to come back.
    async fn reconcile(&self, obj: Arc<K>, ctx: &Context<K>) -> Result<Action, Self::Error>;

    /// Called instead of [`reconcile`](Self::reconcile) when the key's object is gone from the cache
    /// (deleted): the place for cleanup of what the controller made without an ownerReference (the
    /// Endpoints controller deletes the Endpoints of a deleted Service). `ctx.object_ref()` names it.
    /// The default does nothing; a failure is retried with backoff. Cleanup that must happen even
    /// when the controller is not running belongs in a finalizer instead.
    async fn cleanup(&self, _ctx: &Context<K>) -> Result<Action, Self::Error> {
        Ok(Action::await_change())
    }

    /// What to do about a failure (default: retry with backoff).
    fn error_policy(&self, _obj: &Arc<K>, _error: &Self::Error, _ctx: &Context<K>) -> ErrorAction {
        ErrorAction::Retry
    }
}
