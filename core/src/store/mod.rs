//! The store: Skiff's etcd. One trait, with etcd v3's semantics, so that every backend behaves the same.
//!
//! - One global **revision**, strictly increasing; every successful write gets the next one, and an object's
//!   `resourceVersion` is the revision of its last write ([`KeyValue::mod_revision`]).
//! - [`Store::create`] fails with [`StoreError::AlreadyExists`]; [`Store::update`] and [`Store::delete`] may
//!   carry the revision the caller last saw and fail with [`StoreError::Conflict`] when it is stale
//!   (compare-and-swap). [`guaranteed_update`] wraps read-modify-write with retries.
//! - [`Store::list`] returns the items under a prefix and the revision they reflect; with a `limit` it returns a
//!   continue token, and every later page is read **at the same revision**, so pages are consistent.
//! - [`Store::watch`] streams every change after a revision, in order, each with the previous value; a
//!   revision older than the kept history gives [`StoreError::Expired`], and so does a watcher that falls
//!   too far behind (its buffer is bounded: slow watchers never stall writers or other watchers).
//! - History older than a window is compacted; current state never is.
//!
//! Backends: [`MemoryStore`] here (tests, teaching); the durable embedded store (redb) and the etcd store
//! live in the `skiff-store` crate. All of them pass one conformance suite.
//!
//! ```
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! use skiff_core::store::{MemoryStore, Store, StoreError};
//!
//! let store = MemoryStore::new();
//! let rev = store.create("/registry/core/pods/default/web", b"v1".to_vec()).await?;
//! let err = store.update("/registry/core/pods/default/web", b"v2".to_vec(), Some(rev - 1)).await.unwrap_err();
//! assert!(matches!(err, StoreError::Conflict { .. }));
//! let rev2 = store.update("/registry/core/pods/default/web", b"v2".to_vec(), Some(rev)).await?;
//! assert!(rev2 > rev);
//! # Ok::<(), StoreError>(()) }).unwrap();
//! ```

mod dry_run;
pub mod engine;
mod error;
mod keys;
mod memory;
mod types;
mod watch;

use async_trait::async_trait;
use bytes::Bytes;

pub use dry_run::DryRunStore;
pub use error::StoreError;
pub use keys::{object_key, resource_prefix};
pub use memory::MemoryStore;
pub use types::{
    stored_bytes, EventKind, KeyValue, ListOptions, ListResult, StoreConfig, WatchEvent,
};
pub use watch::{WatchFilter, WatchStream};

/// What every backend implements. All methods are safe to call concurrently.
#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// Stores `value` under a new `key`; returns the revision of the write.
    /// Fails with [`StoreError::AlreadyExists`] when the key is present.
    async fn create(&self, key: &str, value: Vec<u8>) -> Result<i64, StoreError>;

    /// The current value of `key`, if any.
    async fn get(&self, key: &str) -> Result<Option<KeyValue>, StoreError>;

    /// Items under `prefix` (in key order) and the revision they reflect; see [`ListOptions`] for paging.
    async fn list(&self, prefix: &str, opts: ListOptions) -> Result<ListResult, StoreError>;

    /// Replaces the value of an existing `key`; returns the revision of the write.
    /// With `expected`, fails with [`StoreError::Conflict`] unless the key's `mod_revision` equals it.
    async fn update(
        &self,
        key: &str,
        value: Vec<u8>,
        expected: Option<i64>,
    ) -> Result<i64, StoreError>;

    /// Removes `key` and returns its last version (whose `mod_revision` is now the delete's revision).
    /// With `expected`, fails with [`StoreError::Conflict`] unless the key's `mod_revision` equals it.
    async fn delete(&self, key: &str, expected: Option<i64>) -> Result<KeyValue, StoreError>;

    /// Every change under `prefix` after `from_revision` (0 = from now), in revision order.
    async fn watch(&self, prefix: &str, from_revision: i64) -> Result<WatchStream, StoreError>;

    /// Like [`watch`](Self::watch), with only the events `filter` accepts. Backends that fan events out
    /// themselves (the engine-backed stores) apply it before queueing an event for the watcher, so a
    /// watcher interested in a small part of a busy prefix costs little; the default filters the stream.
    async fn watch_filtered(
        &self,
        prefix: &str,
        from_revision: i64,
        filter: WatchFilter,
    ) -> Result<WatchStream, StoreError> {
        use futures::StreamExt;
        let stream = self.watch(prefix, from_revision).await?;
        Ok(WatchStream::new(stream.filter(move |item| {
            futures::future::ready(item.as_ref().map_or(true, |ev| filter(ev)))
        })))
    }

    /// The revision of the last write.
    async fn current_revision(&self) -> Result<i64, StoreError>;

    /// Forgets history at and before `revision` (watches and paged lists from there get `Expired`).
    async fn compact(&self, revision: i64) -> Result<(), StoreError>;
}

/// Read-modify-write with retry on conflict: `f` gets the current value (or `None`) and returns the new
/// value, or `None` to delete; it is called again whenever another writer got in between. Returns the
/// revision of the write (for a delete of a missing key, the current revision).
///
/// ```
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// use skiff_core::store::{guaranteed_update, MemoryStore, Store};
/// let store = MemoryStore::new();
/// store.create("/counter", b"1".to_vec()).await?;
/// guaranteed_update(&store, "/counter", |old| {
///     let n: i64 = std::str::from_utf8(&old.unwrap().value).unwrap().parse().unwrap();
///     Ok(Some((n + 1).to_string().into_bytes()))
/// }).await?;
/// assert_eq!(&store.get("/counter").await?.unwrap().value[..], b"2");
/// # Ok::<(), skiff_core::store::StoreError>(()) }).unwrap();
/// ```
pub async fn guaranteed_update<S, F>(store: &S, key: &str, mut f: F) -> Result<i64, StoreError>
where
    S: Store + ?Sized,
    F: FnMut(Option<&KeyValue>) -> Result<Option<Vec<u8>>, StoreError> + Send,
{
    loop {
        let current = store.get(key).await?;
        let next = f(current.as_ref())?;
        let result = match (current, next) {
            (None, None) => return store.current_revision().await,
            (None, Some(v)) => store.create(key, v).await,
            (Some(kv), Some(v)) => store.update(key, v, Some(kv.mod_revision)).await,
            (Some(kv), None) => store
                .delete(key, Some(kv.mod_revision))
                .await
                .map(|d| d.mod_revision),
        };
        match result {
            Err(StoreError::Conflict { .. })
            | Err(StoreError::AlreadyExists { .. })
            | Err(StoreError::NotFound { .. }) => continue,
            other => return other,
        }
    }
}

/// Values are shared, immutable bytes.
pub type Value = Bytes;
