//! Store errors.

/// What a store operation can fail with. Each variant says what the caller can do about it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    /// The key does not exist (update, delete).
    #[error("key {key:?} not found")]
    NotFound {
        /// The key.
        key: String,
    },
    /// The key exists already (create).
    #[error("key {key:?} already exists")]
    AlreadyExists {
        /// The key.
        key: String,
    },
    /// Compare-and-swap failed: the key changed since the caller read it. Read again and retry.
    #[error("key {key:?} was modified: expected revision {expected}, found {actual}")]
    Conflict {
        /// The key.
        key: String,
        /// The revision the caller expected.
        expected: i64,
        /// The key's current revision (0 when the key is gone).
        actual: i64,
    },
    /// The requested revision's history was compacted, or a watcher fell too far behind: list again and
    /// watch from the list's revision.
    #[error(
        "revision {requested} is no longer available (history compacted up to {compacted}); relist"
    )]
    Expired {
        /// The revision asked for.
        requested: i64,
        /// History at and before this revision is gone.
        compacted: i64,
    },
    /// A continue token that this store did not issue.
    #[error("invalid continue token {token:?}")]
    InvalidContinue {
        /// The token.
        token: String,
    },
    /// The store's file cannot be used (corrupt, foreign, or locked); it was left untouched.
    #[error("cannot open the store at {path}: {message}")]
    Open {
        /// The file.
        path: String,
        /// Why.
        message: String,
    },
    /// The backend failed (disk, network, etcd down).
    #[error("store backend failed: {0}")]
    Backend(String),
    /// The store was shut down.
    #[error("the store is closed")]
    Closed,
}
