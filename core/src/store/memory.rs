//! `MemoryStore`: the engine alone, nothing on disk. For tests, examples and teaching.

use async_trait::async_trait;

use super::engine::{Engine, Op};
use super::{
    KeyValue, ListOptions, ListResult, Store, StoreConfig, StoreError, WatchFilter, WatchStream,
};

/// A store that lives in memory only: same semantics as the durable and etcd stores, gone on exit.
pub struct MemoryStore {
    engine: Engine,
}

impl MemoryStore {
    /// An empty store with the default history window.
    pub fn new() -> Self {
        Self::with_config(StoreConfig::default())
    }

    /// An empty store with a chosen history window and watch buffer.
    pub fn with_config(config: StoreConfig) -> Self {
        Self {
            engine: Engine::new(config),
        }
    }

    /// The engine underneath (for introspection in tests).
    pub fn engine(&self) -> &Engine {
        &self.engine
    }
}

impl Default for MemoryStore {
    fn default() -> Self {
        Self::new()
    }
}

#[async_trait]
impl Store for MemoryStore {
    async fn create(&self, key: &str, value: Vec<u8>) -> Result<i64, StoreError> {
        let op = Op::Create {
            key: key.to_string(),
            value: super::stored_bytes(value),
        };
        self.engine.commit(op).map(|e| e.revision())
    }

    async fn get(&self, key: &str) -> Result<Option<KeyValue>, StoreError> {
        Ok(self.engine.get(key))
    }

    async fn list(&self, prefix: &str, opts: ListOptions) -> Result<ListResult, StoreError> {
        self.engine.list(prefix, &opts)
    }

    async fn update(
        &self,
        key: &str,
        value: Vec<u8>,
        expected: Option<i64>,
    ) -> Result<i64, StoreError> {
        let op = Op::Update {
            key: key.to_string(),
            value: super::stored_bytes(value),
            expected,
        };
        self.engine.commit(op).map(|e| e.revision())
    }

    async fn delete(&self, key: &str, expected: Option<i64>) -> Result<KeyValue, StoreError> {
        let op = Op::Delete {
            key: key.to_string(),
            expected,
        };
        self.engine.commit(op).map(|e| e.kv)
    }

    async fn watch(&self, prefix: &str, from_revision: i64) -> Result<WatchStream, StoreError> {
        self.engine.watch(prefix, from_revision)
    }

    async fn watch_filtered(
        &self,
        prefix: &str,
        from_revision: i64,
        filter: WatchFilter,
    ) -> Result<WatchStream, StoreError> {
        self.engine
            .watch_filtered(prefix, from_revision, Some(filter))
    }

    async fn current_revision(&self) -> Result<i64, StoreError> {
        Ok(self.engine.revision())
    }

    async fn compact(&self, revision: i64) -> Result<(), StoreError> {
        self.engine.compact(revision);
        Ok(())
    }
}
