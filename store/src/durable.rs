//! `DurableStore`: the embedded default. Memory-speed reads, fsynced group-committed writes in a redb file.

use std::path::{Path, PathBuf};
use std::sync::mpsc as std_mpsc;
use std::sync::Arc;
use std::thread::JoinHandle;

use async_trait::async_trait;
use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition, TableHandle};
use skiff_core::store::engine::{Engine, Op};
use skiff_core::store::{
    EventKind, KeyValue, ListOptions, ListResult, Store, StoreConfig, StoreError, WatchEvent,
    WatchFilter, WatchStream,
};
use tokio::sync::oneshot;

use crate::codec::{decode_event, decode_version, encode_event, encode_version, FORMAT_VERSION};

const OBJECTS: TableDefinition<&str, &[u8]> = TableDefinition::new("objects");
const EVENTS: TableDefinition<u64, &[u8]> = TableDefinition::new("events");
const META: TableDefinition<&str, u64> = TableDefinition::new("meta");

/// Tuning of a [`DurableStore`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DurableConfig {
    /// History window and watch buffer, as for every engine-backed store.
    pub store: StoreConfig,
    /// Most writes committed together under one fsync (default 1,024).
    pub max_batch: usize,
    /// Memory redb may use to cache the file's pages (default 16 MiB; redb's own default is 1 GiB).
    ///
    /// Reads are served from the engine's in-memory state, so the file is read only at start-up and
    /// by redb itself on the way to the pages it rewrites: a larger cache buys little but resident memory.
    pub cache_bytes: usize,
}

impl Default for DurableConfig {
    fn default() -> Self {
        Self {
            store: StoreConfig::default(),
            max_batch: 1024,
            cache_bytes: 16 << 20,
        }
    }
}

enum Request {
    Write(Op, oneshot::Sender<Result<WatchEvent, StoreError>>),
    Compact(i64, oneshot::Sender<Result<(), StoreError>>),
}

/// The embedded durable store. See the [crate docs](crate).
///
/// ```
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// use skiff_core::store::Store;
/// use skiff_store::DurableStore;
///
/// let dir = tempfile::tempdir().unwrap();
/// let path = dir.path().join("skiff.db");
/// let rev = {
///     let store = DurableStore::open(&path).unwrap();
///     store.create("/registry/core/pods/default/web", b"{}".to_vec()).await.unwrap()
/// };
/// let store = DurableStore::open(&path).unwrap(); // as after a crash or restart
/// assert_eq!(store.current_revision().await.unwrap(), rev);
/// assert!(store.get("/registry/core/pods/default/web").await.unwrap().is_some());
/// # });
/// ```
pub struct DurableStore {
    engine: Arc<Engine>,
    requests: Option<std_mpsc::Sender<Request>>,
    committer: Option<JoinHandle<()>>,
    path: PathBuf,
}

fn backend(e: impl std::fmt::Display) -> StoreError {
    StoreError::Backend(e.to_string())
}

impl DurableStore {
    /// Opens (or creates) the store file at `path` with the default configuration.
    ///
    /// A file that is not a Skiff store (corrupt, or another program's) is an [`StoreError::Open`] naming
    /// the path, and is left untouched. Blocking: call it at start-up, or from `spawn_blocking`.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, StoreError> {
        Self::open_with(path, DurableConfig::default())
    }

    /// Opens (or creates) the store file at `path`.
    pub fn open_with(path: impl AsRef<Path>, config: DurableConfig) -> Result<Self, StoreError> {
        let path = path.as_ref().to_path_buf();
        let open_err = |message: String| StoreError::Open {
            path: path.display().to_string(),
            message,
        };
        check_ownership(&path).map_err(open_err)?;
        let db = Database::builder()
            .set_cache_size(config.cache_bytes)
            .create(&path)
            .map_err(|e| open_err(e.to_string()))?;
        let (revision, compacted, objects, events) = load(&db).map_err(open_err)?;
        let engine = Arc::new(Engine::restore(
            config.store.clone(),
            revision,
            compacted,
            objects,
            events,
        ));
        let (tx, rx) = std_mpsc::channel();
        let committer = Committer {
            db,
            engine: engine.clone(),
            window: config.store.history_window,
            max_batch: config.max_batch.max(1),
            compacted,
        };
        let handle = std::thread::Builder::new()
            .name("skiff-store-commit".into())
            .spawn(move || committer.run(rx))
            .map_err(|e| open_err(format!("cannot start the commit thread: {e}")))?;
        Ok(Self {
            engine,
            requests: Some(tx),
            committer: Some(handle),
            path,
        })
    }

    /// The file this store lives in.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Number of keys.
    pub fn len(&self) -> usize {
        self.engine.len()
    }

    /// True when there are no keys.
    pub fn is_empty(&self) -> bool {
        self.engine.is_empty()
    }

    async fn write(&self, op: Op) -> Result<WatchEvent, StoreError> {
        let (tx, rx) = oneshot::channel();
        self.requests
            .as_ref()
            .ok_or(StoreError::Closed)?
            .send(Request::Write(op, tx))
            .map_err(|_| StoreError::Closed)?;
        rx.await.map_err(|_| StoreError::Closed)?
    }
}

impl Drop for DurableStore {
    fn drop(&mut self) {
        // Closing the queue stops the committer after the writes already queued; wait for it so the
        // file is closed (and its lock released) when `drop` returns.
        self.requests.take();
        if let Some(handle) = self.committer.take() {
            let _ = handle.join();
        }
    }
}

type Loaded = (i64, i64, Vec<KeyValue>, Vec<WatchEvent>);

/// The bytes every redb file starts with.
const REDB_MAGIC: &[u8] = b"redb\x1a\x0a\xa9\x0d\x0a";

/// Refuses, without writing a byte, a file that is not a Skiff store: not a redb file at all, or a
/// redb database of another program. (Opening read-write lets redb update its header, so look first.)
/// A Skiff store that was not closed cleanly cannot be opened read-only; redb repairs it on the
/// read-write open, and [`load`] still refuses it if it turns out not to be ours.
fn check_ownership(path: &Path) -> Result<(), String> {
    let meta = match std::fs::metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e.to_string()),
    };
    if meta.is_dir() {
        return Err("it is a directory; give the path of a file".into());
    }
    if meta.len() == 0 {
        return Ok(());
    }
    let mut head = [0u8; 9];
    let n = std::io::Read::read(
        &mut std::fs::File::open(path).map_err(|e| e.to_string())?,
        &mut head,
    )
    .map_err(|e| e.to_string())?;
    if n < head.len() || head != REDB_MAGIC {
        return Err("not a Skiff store (not a redb database file); refusing to touch it".into());
    }
    let Ok(db) = redb::ReadOnlyDatabase::open(path) else {
        return Ok(());
    };
    let read = db.begin_read().map_err(|e| e.to_string())?;
    let tables: Vec<String> = read
        .list_tables()
        .map_err(|e| e.to_string())?
        .map(|t| t.name().to_string())
        .collect();
    if tables.is_empty() {
        return Ok(());
    }
    let format = read
        .open_table(META)
        .ok()
        .and_then(|t| t.get("format").ok().flatten().map(|v| v.value()));
    match format {
        Some(FORMAT_VERSION) => Ok(()),
        Some(other) => Err(format!(
            "store format {other} is not supported (want {FORMAT_VERSION})"
        )),
        None => Err(format!(
            "not a Skiff store (it holds tables {tables:?}); refusing to touch it"
        )),
    }
}

/// Reads the whole store back, or initializes an empty file. Never writes to a file that is not ours.
fn load(db: &Database) -> Result<Loaded, String> {
    let read = db.begin_read().map_err(|e| e.to_string())?;
    let tables: Vec<String> = read
        .list_tables()
        .map_err(|e| e.to_string())?
        .map(|t| t.name().to_string())
        .collect();
    if tables.is_empty() {
        drop(read);
        let txn = db.begin_write().map_err(|e| e.to_string())?;
        {
            let mut meta = txn.open_table(META).map_err(|e| e.to_string())?;
            meta.insert("format", FORMAT_VERSION)
                .map_err(|e| e.to_string())?;
            meta.insert("revision", 0).map_err(|e| e.to_string())?;
            meta.insert("compacted", 0).map_err(|e| e.to_string())?;
            txn.open_table(OBJECTS).map_err(|e| e.to_string())?;
            txn.open_table(EVENTS).map_err(|e| e.to_string())?;
        }
        txn.commit().map_err(|e| e.to_string())?;
        return Ok((0, 0, Vec::new(), Vec::new()));
    }
    let not_ours =
        || format!("not a Skiff store (it holds tables {tables:?}); refusing to touch it");
    let meta = read.open_table(META).map_err(|_| not_ours())?;
    let get = |k: &str| -> Result<Option<u64>, String> {
        Ok(meta.get(k).map_err(|e| e.to_string())?.map(|v| v.value()))
    };
    match get("format")? {
        Some(FORMAT_VERSION) => {}
        Some(other) => {
            return Err(format!(
                "store format {other} is not supported (want {FORMAT_VERSION})"
            ))
        }
        None => return Err(not_ours()),
    }
    let revision = get("revision")?.unwrap_or(0) as i64;
    let compacted = get("compacted")?.unwrap_or(0) as i64;
    let corrupt = |what: &str| format!("corrupt record in {what}");
    let mut objects = Vec::new();
    for item in read
        .open_table(OBJECTS)
        .map_err(|_| not_ours())?
        .iter()
        .map_err(|e| e.to_string())?
    {
        let (k, v) = item.map_err(|e| e.to_string())?;
        objects.push(decode_version(k.value(), v.value()).ok_or_else(|| corrupt("objects"))?);
    }
    let mut events = Vec::new();
    for item in read
        .open_table(EVENTS)
        .map_err(|_| not_ours())?
        .iter()
        .map_err(|e| e.to_string())?
    {
        let (_, v) = item.map_err(|e| e.to_string())?;
        events.push(decode_event(v.value()).ok_or_else(|| corrupt("events"))?);
    }
    Ok((revision, compacted, objects, events))
}

/// The single writer: batches whatever is queued, writes it in one transaction (one fsync), then applies it.
struct Committer {
    db: Database,
    engine: Arc<Engine>,
    window: i64,
    max_batch: usize,
    compacted: i64,
}

impl Committer {
    fn run(mut self, rx: std_mpsc::Receiver<Request>) {
        while let Ok(first) = rx.recv() {
            let mut ops = Vec::new();
            let mut replies = Vec::new();
            let mut compactions = Vec::new();
            let mut next = Some(first);
            while let Some(req) = next {
                match req {
                    Request::Write(op, reply) => {
                        ops.push(op);
                        replies.push(reply);
                    }
                    Request::Compact(rev, reply) => compactions.push((rev, reply)),
                }
                next = if ops.len() < self.max_batch {
                    rx.try_recv().ok()
                } else {
                    None
                };
            }
            if !ops.is_empty() {
                let engine = self.engine.clone();
                let results = engine.commit_batch(&ops, |changes| self.persist(changes));
                for (reply, result) in replies.into_iter().zip(results) {
                    let _ = reply.send(result);
                }
            }
            for (rev, reply) in compactions {
                let _ = reply.send(self.compact(rev));
            }
        }
    }

    fn persist(&mut self, changes: &[WatchEvent]) -> Result<(), StoreError> {
        let txn = self.db.begin_write().map_err(backend)?;
        let mut new_floor = None;
        {
            let mut objects = txn.open_table(OBJECTS).map_err(backend)?;
            let mut events = txn.open_table(EVENTS).map_err(backend)?;
            let mut meta = txn.open_table(META).map_err(backend)?;
            for ev in changes {
                match ev.kind {
                    EventKind::Delete => {
                        objects.remove(ev.kv.key.as_str()).map_err(backend)?;
                    }
                    _ => {
                        objects
                            .insert(ev.kv.key.as_str(), encode_version(&ev.kv).as_slice())
                            .map_err(backend)?;
                    }
                }
                events
                    .insert(ev.revision() as u64, encode_event(ev).as_slice())
                    .map_err(backend)?;
            }
            let last = changes.last().map(WatchEvent::revision).unwrap_or(0);
            meta.insert("revision", last as u64).map_err(backend)?;
            let floor = last - self.window;
            if floor > self.compacted {
                events
                    .retain_in(..=(floor as u64), |_, _| false)
                    .map_err(backend)?;
                meta.insert("compacted", floor as u64).map_err(backend)?;
                new_floor = Some(floor);
            }
        }
        txn.commit().map_err(backend)?;
        if let Some(f) = new_floor {
            self.compacted = f;
        }
        Ok(())
    }

    fn compact(&mut self, revision: i64) -> Result<(), StoreError> {
        let revision = revision.min(self.engine.revision());
        if revision <= self.compacted {
            return Ok(());
        }
        let txn = self.db.begin_write().map_err(backend)?;
        {
            let mut events = txn.open_table(EVENTS).map_err(backend)?;
            events
                .retain_in(..=(revision as u64), |_, _| false)
                .map_err(backend)?;
            let mut meta = txn.open_table(META).map_err(backend)?;
            meta.insert("compacted", revision as u64).map_err(backend)?;
        }
        txn.commit().map_err(backend)?;
        self.compacted = revision;
        self.engine.compact(revision);
        Ok(())
    }
}

#[async_trait]
impl Store for DurableStore {
    async fn create(&self, key: &str, value: Vec<u8>) -> Result<i64, StoreError> {
        let op = Op::Create {
            key: key.to_string(),
            value: skiff_core::store::stored_bytes(value),
        };
        self.write(op).await.map(|e| e.revision())
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
            value: skiff_core::store::stored_bytes(value),
            expected,
        };
        self.write(op).await.map(|e| e.revision())
    }

    async fn delete(&self, key: &str, expected: Option<i64>) -> Result<KeyValue, StoreError> {
        let op = Op::Delete {
            key: key.to_string(),
            expected,
        };
        self.write(op).await.map(|e| e.kv)
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
        let (tx, rx) = oneshot::channel();
        self.requests
            .as_ref()
            .ok_or(StoreError::Closed)?
            .send(Request::Compact(revision, tx))
            .map_err(|_| StoreError::Closed)?;
        rx.await.map_err(|_| StoreError::Closed)?
    }
}
