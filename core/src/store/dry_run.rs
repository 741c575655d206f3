//! A dry-run view of a store: reads go through, writes are checked and then dropped.
//!
//! kube-apiserver honours `?dryRun=All` at its storage layer: the whole request runs (admission,
//! defaulting, validation, the registry's own logic) and only the final write to etcd is skipped, with
//! the same refusals a real write would get (AlreadyExists, Conflict, NotFound). [`DryRunStore`] is that
//! layer here: an [`InProcessClient`](crate::client::InProcessClient) over it answers every verb as it
//! would, and stores nothing.
//!
//! A write that would happen reports revision `0` ("not written"): the client then leaves a created
//! object without a `resourceVersion`, as kube-apiserver's dry-run create does; an update or delete
//! reports the key's current revision, so the object keeps the resourceVersion it has.
//!
//! ```
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! use std::sync::Arc;
//! use skiff_core::store::{DryRunStore, MemoryStore, Store, StoreError};
//!
//! let real = Arc::new(MemoryStore::new());
//! real.create("/a", b"1".to_vec()).await?;
//! let dry = DryRunStore::new(real.clone());
//! assert_eq!(dry.create("/b", b"2".to_vec()).await?, 0);
//! assert!(matches!(dry.create("/a", b"2".to_vec()).await, Err(StoreError::AlreadyExists { .. })));
//! dry.delete("/a", None).await?;
//! assert!(real.get("/a").await?.is_some());
//! assert!(real.get("/b").await?.is_none());
//! # Ok::<(), StoreError>(()) }).unwrap();
//! ```

use std::sync::Arc;

use async_trait::async_trait;

use super::{KeyValue, ListOptions, ListResult, Store, StoreError, WatchFilter, WatchStream};

/// Reads from the store underneath; writes checked as the real store would check them, not made.
/// See the [module docs](self).
pub struct DryRunStore {
    inner: Arc<dyn Store>,
}

impl DryRunStore {
    /// A dry-run view of `inner`.
    pub fn new(inner: Arc<dyn Store>) -> Self {
        Self { inner }
    }

    /// The key's current version, checked against `expected` as a compare-and-swap would be.
    async fn checked(&self, key: &str, expected: Option<i64>) -> Result<KeyValue, StoreError> {
        let kv = self
            .inner
            .get(key)
            .await?
            .ok_or_else(|| StoreError::NotFound { key: key.into() })?;
        match expected {
            Some(expected) if expected != kv.mod_revision => Err(StoreError::Conflict {
                key: key.into(),
                expected,
                actual: kv.mod_revision,
            }),
            _ => Ok(kv),
        }
    }
}

#[async_trait]
impl Store for DryRunStore {
    async fn create(&self, key: &str, _value: Vec<u8>) -> Result<i64, StoreError> {
        match self.inner.get(key).await? {
            Some(_) => Err(StoreError::AlreadyExists { key: key.into() }),
            None => Ok(0),
        }
    }

    async fn get(&self, key: &str) -> Result<Option<KeyValue>, StoreError> {
        self.inner.get(key).await
    }

    async fn list(&self, prefix: &str, opts: ListOptions) -> Result<ListResult, StoreError> {
        self.inner.list(prefix, opts).await
    }

    async fn update(
        &self,
        key: &str,
        _value: Vec<u8>,
        expected: Option<i64>,
    ) -> Result<i64, StoreError> {
        Ok(self.checked(key, expected).await?.mod_revision)
    }

    async fn delete(&self, key: &str, expected: Option<i64>) -> Result<KeyValue, StoreError> {
        self.checked(key, expected).await
    }

    async fn watch(&self, prefix: &str, from_revision: i64) -> Result<WatchStream, StoreError> {
        self.inner.watch(prefix, from_revision).await
    }

    async fn watch_filtered(
        &self,
        prefix: &str,
        from_revision: i64,
        filter: WatchFilter,
    ) -> Result<WatchStream, StoreError> {
        self.inner
            .watch_filtered(prefix, from_revision, filter)
            .await
    }

    async fn current_revision(&self) -> Result<i64, StoreError> {
        self.inner.current_revision().await
    }

    /// Compaction is a write too: nothing happens.
    async fn compact(&self, _revision: i64) -> Result<(), StoreError> {
        Ok(())
    }
}
