//! # skiff-store
//!
//! The store backends that do I/O, behind `skiff_core::store::Store`:
//!
//! - [`DurableStore`]: the embedded default of `skiff up`. The current state and a window of history are
//!   served from memory (the same engine as `MemoryStore`); every write is on disk in a redb file, fsynced,
//!   before it is acknowledged, and concurrent writes are group-committed (one fsync per batch) so throughput
//!   grows with concurrency. It restarts from the file with the same revision, objects and watch history.
//! - [`EtcdStore`]: real etcd (v3 API). Revisions are etcd's `mod_revision`; compare-and-swap is a Txn on
//!   `mod_revision`; watches are etcd watches from a revision; compaction errors become `Expired`.
//!
//! `MemoryStore` lives in `skiff-core` because it needs no I/O.

mod codec;
mod durable;
mod etcd;

pub use durable::{DurableConfig, DurableStore};
pub use etcd::EtcdStore;
