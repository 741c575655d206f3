//! The informer itself: list, then watch, keeping the cache and telling handlers.

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use futures::StreamExt;
use tokio::sync::watch;

use super::backoff::{jitter, Backoff};
use super::cache::{cache_key, Cache};
use super::handler::EventHandler;
use crate::client::{Api, ClientError, Event, ListParams, WatchParams};
use crate::shutdown::Shutdown;
use crate::Resource;

/// Page size of the informer's lists (client-go's).
pub const LIST_PAGE_SIZE: usize = 500;
/// Shortest watch before it is re-opened (client-go re-opens watches after 5-10 minutes).
pub const MIN_WATCH_TIMEOUT: Duration = Duration::from_secs(300);

/// Counters an informer keeps (for metrics and tests).
#[derive(Debug, Default)]
pub struct InformerStats {
    /// Complete lists done (the first one, and every relist after `Expired` or an error).
    pub lists: AtomicU64,
    /// Watches opened.
    pub watches: AtomicU64,
    /// Events applied from watches.
    pub events: AtomicU64,
    /// Failures (list or watch errors other than `Expired`).
    pub errors: AtomicU64,
}

/// A list+watch loop keeping a [`Cache`] of `K`. See the [module docs](super).
pub struct Informer<K: Resource> {
    api: Api<K>,
    label_selector: Option<String>,
    field_selector: Option<String>,
    cache: Arc<Cache<K>>,
    handlers: RwLock<Vec<Arc<dyn EventHandler<K>>>>,
    synced: watch::Sender<bool>,
    started: AtomicBool,
    stats: InformerStats,
}

impl<K: Resource> Informer<K> {
    /// An informer over every object `api` can see.
    pub fn new(api: Api<K>) -> Arc<Self> {
        Self::with_selectors(api, None, None)
    }

    /// An informer over the objects matching label and field selectors.
    pub fn with_selectors(
        api: Api<K>,
        label_selector: Option<String>,
        field_selector: Option<String>,
    ) -> Arc<Self> {
        Arc::new(Self {
            api,
            label_selector,
            field_selector,
            cache: Arc::new(Cache::new()),
            handlers: RwLock::new(Vec::new()),
            synced: watch::channel(false).0,
            started: AtomicBool::new(false),
            stats: InformerStats::default(),
        })
    }

    /// The cache (shared; always the latest state this informer has seen).
    pub fn cache(&self) -> Arc<Cache<K>> {
        self.cache.clone()
    }

    /// The API handle the informer lists and watches through.
    pub fn api(&self) -> &Api<K> {
        &self.api
    }

    /// Counters.
    pub fn stats(&self) -> &InformerStats {
        &self.stats
    }

    /// Adds a handler. A handler added after the informer has synced first gets an `on_add` for every
    /// cached object, so late handlers miss nothing.
    pub fn add_handler(&self, handler: Arc<dyn EventHandler<K>>) {
        let mut handlers = self.handlers.write().unwrap_or_else(|p| p.into_inner());
        for obj in self.cache.list() {
            handler.on_add(&obj);
        }
        handlers.push(handler);
    }

    /// True once the first list has been applied.
    pub fn has_synced(&self) -> bool {
        *self.synced.borrow()
    }

    /// Resolves once the first list has been applied (wait for this before reconciling).
    pub async fn wait_for_sync(&self) {
        let mut rx = self.synced.subscribe();
        let _ = rx.wait_for(|s| *s).await;
    }

    /// Runs the informer until `shutdown` unless it is already running (used by the factory and controllers
    /// so that one informer is never run twice).
    pub fn start(self: &Arc<Self>, shutdown: Shutdown) {
        if !self.started.swap(true, Ordering::SeqCst) {
            tokio::spawn(self.clone().run_loop(shutdown));
        }
    }

    /// Runs the list+watch loop until `shutdown`.
    pub async fn run(self: Arc<Self>, shutdown: Shutdown) {
        if self.started.swap(true, Ordering::SeqCst) {
            return;
        }
        self.run_loop(shutdown).await
    }

    async fn run_loop(self: Arc<Self>, shutdown: Shutdown) {
        tokio::select! {
            _ = self.reflect() => {}
            _ = shutdown.wait() => {}
        }
    }

    fn apply_upsert(&self, obj: K) {
        let obj = Arc::new(obj);
        // Hold the handler lock across the cache change so a handler added concurrently sees it exactly once.
        let handlers = self.handlers.read().unwrap_or_else(|p| p.into_inner());
        match self.cache.upsert(obj.clone()) {
            Some(old) => handlers.iter().for_each(|h| h.on_update(&old, &obj)),
            None => handlers.iter().for_each(|h| h.on_add(&obj)),
        }
    }

    fn apply_delete(&self, obj: &K) {
        let handlers = self.handlers.read().unwrap_or_else(|p| p.into_inner());
        if let Some(old) = self.cache.remove(&cache_key(obj)) {
            handlers.iter().for_each(|h| h.on_delete(&old));
        }
    }

    /// Lists everything (in pages) and replaces the cache, telling handlers the differences.
    async fn list_and_replace(&self) -> Result<String, ClientError> {
        let mut params = ListParams {
            label_selector: self.label_selector.clone(),
            field_selector: self.field_selector.clone(),
            limit: Some(LIST_PAGE_SIZE),
            continue_token: None,
        };
        let mut items = Vec::new();
        let mut resource_version = String::new();
        loop {
            let page = self.api.list(&params).await?;
            if resource_version.is_empty() {
                resource_version = page.metadata.resource_version.clone().unwrap_or_default();
            }
            items.extend(page.items);
            match page.metadata.continue_ {
                Some(t) => params.continue_token = Some(t),
                None => break,
            }
        }
        let mut seen = HashSet::with_capacity(items.len());
        for obj in items {
            seen.insert(cache_key(&obj));
            let unchanged = self
                .cache
                .get(&cache_key(&obj))
                .is_some_and(|cur| cur.meta().resource_version == obj.meta().resource_version);
            if !unchanged {
                self.apply_upsert(obj);
            }
        }
        for key in self.cache.keys() {
            if !seen.contains(&key) {
                if let Some(old) = self.cache.get(&key) {
                    self.apply_delete(&old);
                }
            }
        }
        self.stats.lists.fetch_add(1, Ordering::Relaxed);
        self.synced.send_replace(true);
        Ok(resource_version)
    }

    async fn reflect(&self) {
        let mut backoff = Backoff::default();
        let mut resource_version: Option<String> = None;
        loop {
            let rv = match resource_version.clone() {
                Some(rv) => rv,
                None => match self.list_and_replace().await {
                    Ok(rv) => rv,
                    Err(e) => {
                        self.stats.errors.fetch_add(1, Ordering::Relaxed);
                        tracing::warn!(kind = K::KIND, error = %e, "list failed; backing off");
                        tokio::time::sleep(backoff.next_delay()).await;
                        continue;
                    }
                },
            };
            resource_version = Some(rv.clone());
            let params = WatchParams {
                label_selector: self.label_selector.clone(),
                field_selector: self.field_selector.clone(),
                resource_version: Some(rv),
                timeout: Some(MIN_WATCH_TIMEOUT.mul_f64(1.0 + (jitter() - 0.8) * 2.5)),
            };
            let mut stream = match self.api.watch(&params).await {
                Ok(s) => s,
                Err(e) if e.is_expired() => {
                    resource_version = None;
                    continue;
                }
                Err(e) => {
                    self.stats.errors.fetch_add(1, Ordering::Relaxed);
                    tracing::warn!(kind = K::KIND, error = %e, "watch failed; backing off");
                    tokio::time::sleep(backoff.next_delay()).await;
                    continue;
                }
            };
            self.stats.watches.fetch_add(1, Ordering::Relaxed);
            while let Some(item) = stream.next().await {
                match item {
                    Ok(Event::Added(obj)) | Ok(Event::Modified(obj)) => {
                        resource_version = obj.meta().resource_version.clone().or(resource_version);
                        self.apply_upsert(obj);
                    }
                    Ok(Event::Deleted(obj)) => {
                        resource_version = obj.meta().resource_version.clone().or(resource_version);
                        self.apply_delete(&obj);
                    }
                    Ok(Event::Bookmark(rv)) => resource_version = Some(rv),
                    Err(e) if e.is_expired() => {
                        tracing::info!(kind = K::KIND, "watch expired; relisting");
                        resource_version = None;
                        break;
                    }
                    Err(e) => {
                        self.stats.errors.fetch_add(1, Ordering::Relaxed);
                        tracing::warn!(kind = K::KIND, error = %e, "watch broke; backing off");
                        tokio::time::sleep(backoff.next_delay()).await;
                        break;
                    }
                }
                self.stats.events.fetch_add(1, Ordering::Relaxed);
            }
        }
    }
}
