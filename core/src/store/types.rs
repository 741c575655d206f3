//! The values the store trades in.

use bytes::Bytes;

/// One key's value and revisions.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyValue {
    /// The key.
    pub key: String,
    /// The value (the serialized object).
    pub value: Bytes,
    /// Revision of the write that created the key.
    pub create_revision: i64,
    /// Revision of the last write to the key (the object's `resourceVersion`).
    pub mod_revision: i64,
}

/// What a change did.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum EventKind {
    /// A new key.
    Create,
    /// A new value for an existing key.
    Update,
    /// The key was removed.
    Delete,
}

/// One change, as a watch delivers it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WatchEvent {
    /// What happened.
    pub kind: EventKind,
    /// For create/update the new version; for a delete the last version with `mod_revision` set to the
    /// revision of the delete.
    pub kv: KeyValue,
    /// The version before the change (none for a create).
    pub prev: Option<KeyValue>,
}

impl WatchEvent {
    /// The revision of the change.
    pub fn revision(&self) -> i64 {
        self.kv.mod_revision
    }
}

/// Paging for [`Store::list`](super::Store::list).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ListOptions {
    /// Most items to return; a continue token is returned when more remain.
    pub limit: Option<usize>,
    /// The token of the previous page; the page is read at that page's revision.
    pub continue_token: Option<String>,
}

impl ListOptions {
    /// At most `limit` items per page.
    pub fn limit(limit: usize) -> Self {
        Self {
            limit: Some(limit),
            continue_token: None,
        }
    }
}

/// A page of a list.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ListResult {
    /// The items, in key order.
    pub items: Vec<KeyValue>,
    /// The revision the items reflect (watch from it to see every later change).
    pub revision: i64,
    /// Pass this to get the next page; `None` on the last page.
    pub continue_token: Option<String>,
    /// How many items follow this page, when the backend knows it cheaply (etcd does; the engine-backed
    /// stores report `None`: counting would make paging quadratic).
    pub remaining: Option<usize>,
}

/// Tuning shared by the backends that keep history in memory.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoreConfig {
    /// How many revisions of history are kept for watches and paged lists (default 10,000); older
    /// history is compacted automatically.
    pub history_window: i64,
    /// Events buffered per watcher before it is closed with `Expired` (default 10,000).
    pub watch_buffer: usize,
}

impl Default for StoreConfig {
    fn default() -> Self {
        Self {
            history_window: 10_000,
            watch_buffer: 10_000,
        }
    }
}

/// `value` as the bytes a store keeps, without the spare capacity a serializer left in it.
///
/// `Bytes::from(Vec)` keeps the vector's whole allocation: a 1,250-byte object serialized into a
/// `Vec` grown by doubling holds 2,048 bytes for as long as it is stored.
///
/// ```
/// let mut v = Vec::with_capacity(4096);
/// v.extend_from_slice(b"{}");
/// let b = skiff_core::store::stored_bytes(v);
/// assert_eq!(&b[..], b"{}");
/// ```
pub fn stored_bytes(mut value: Vec<u8>) -> Bytes {
    value.shrink_to_fit();
    Bytes::from(value)
}
