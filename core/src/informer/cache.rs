//! The informer's cache: objects as `Arc<K>` keyed `namespace/name`, with secondary indexes.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, RwLock, RwLockReadGuard, RwLockWriteGuard};

use crate::Resource;

/// An index function: the index values an object is filed under (e.g. a pod's `spec.nodeName`).
pub type IndexFn<K> = Arc<dyn Fn(&K) -> Vec<String> + Send + Sync>;

/// The name of the index every cache has: objects by namespace.
pub const NAMESPACE_INDEX: &str = "namespace";

/// The cache key of an object: `namespace/name`, or `name` for cluster-scoped objects.
pub fn cache_key<K: Resource>(obj: &K) -> String {
    match obj.namespace() {
        Some(ns) if !ns.is_empty() => format!("{ns}/{}", obj.name()),
        _ => obj.name().to_string(),
    }
}

struct Inner<K> {
    objects: HashMap<String, Arc<K>>,
    indexers: HashMap<String, IndexFn<K>>,
    indexes: HashMap<String, HashMap<String, HashSet<String>>>,
}

/// A read-mostly cache of the objects an informer has seen, shared by every handler and reconciler.
///
/// ```
/// use std::sync::Arc;
/// use skiff_core::informer::Cache;
/// use skiff_core::kinds::Pod;
///
/// let cache: Cache<Pod> = Cache::new();
/// cache.add_index("nodeName", |p: &Pod| p.spec.node_name.clone().into_iter().collect());
/// let mut pod = Pod::named("web");
/// pod.metadata.namespace = Some("default".into());
/// pod.spec.node_name = Some("node-1".into());
/// cache.upsert(Arc::new(pod));
/// assert_eq!(cache.by_index("nodeName", "node-1").len(), 1);
/// assert!(cache.get("default/web").is_some());
/// ```
pub struct Cache<K> {
    inner: RwLock<Inner<K>>,
}

impl<K: Resource> Default for Cache<K> {
    fn default() -> Self {
        Self::new()
    }
}

impl<K: Resource> Cache<K> {
    /// An empty cache with the namespace index.
    pub fn new() -> Self {
        let cache = Self {
            inner: RwLock::new(Inner {
                objects: HashMap::new(),
                indexers: HashMap::new(),
                indexes: HashMap::new(),
            }),
        };
        cache.add_index(NAMESPACE_INDEX, |o: &K| {
            o.namespace().map(str::to_string).into_iter().collect()
        });
        cache
    }

    fn read(&self) -> RwLockReadGuard<'_, Inner<K>> {
        self.inner.read().unwrap_or_else(|p| p.into_inner())
    }

    fn write(&self) -> RwLockWriteGuard<'_, Inner<K>> {
        self.inner.write().unwrap_or_else(|p| p.into_inner())
    }

    /// Adds (or replaces) an index and files every cached object under it.
    pub fn add_index(&self, name: &str, f: impl Fn(&K) -> Vec<String> + Send + Sync + 'static) {
        let f: IndexFn<K> = Arc::new(f);
        let mut inner = self.write();
        let mut index: HashMap<String, HashSet<String>> = HashMap::new();
        for (key, obj) in &inner.objects {
            for v in f(obj) {
                index.entry(v).or_default().insert(key.clone());
            }
        }
        inner.indexes.insert(name.to_string(), index);
        inner.indexers.insert(name.to_string(), f);
    }

    /// The object with this key (`namespace/name` or `name`).
    pub fn get(&self, key: &str) -> Option<Arc<K>> {
        self.read().objects.get(key).cloned()
    }

    /// Every object.
    pub fn list(&self) -> Vec<Arc<K>> {
        self.read().objects.values().cloned().collect()
    }

    /// Every object filed under `value` in index `index` (empty for an unknown index).
    pub fn by_index(&self, index: &str, value: &str) -> Vec<Arc<K>> {
        let inner = self.read();
        inner
            .indexes
            .get(index)
            .and_then(|i| i.get(value))
            .map(|keys| {
                keys.iter()
                    .filter_map(|k| inner.objects.get(k).cloned())
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Number of objects.
    pub fn len(&self) -> usize {
        self.read().objects.len()
    }

    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Inserts or replaces an object; returns the previous version.
    pub fn upsert(&self, obj: Arc<K>) -> Option<Arc<K>> {
        let key = cache_key(&*obj);
        let mut inner = self.write();
        let old = inner.objects.insert(key.clone(), obj.clone());
        let Inner {
            indexers, indexes, ..
        } = &mut *inner;
        for (name, f) in indexers.iter() {
            let index = indexes.entry(name.clone()).or_default();
            if let Some(old) = &old {
                for v in f(old) {
                    if let Some(set) = index.get_mut(&v) {
                        set.remove(&key);
                        if set.is_empty() {
                            index.remove(&v);
                        }
                    }
                }
            }
            for v in f(&obj) {
                index.entry(v).or_default().insert(key.clone());
            }
        }
        old
    }

    /// Removes an object by key; returns it.
    pub fn remove(&self, key: &str) -> Option<Arc<K>> {
        let mut inner = self.write();
        let old = inner.objects.remove(key)?;
        let Inner {
            indexers, indexes, ..
        } = &mut *inner;
        for (name, f) in indexers.iter() {
            if let Some(index) = indexes.get_mut(name) {
                for v in f(&old) {
                    if let Some(set) = index.get_mut(&v) {
                        set.remove(key);
                        if set.is_empty() {
                            index.remove(&v);
                        }
                    }
                }
            }
        }
        Some(old)
    }

    /// Keys of every object.
    pub fn keys(&self) -> Vec<String> {
        self.read().objects.keys().cloned().collect()
    }
}
