//! Informers: a local, always-current copy of one kind, and events when it changes.
//!
//! An [`Informer`] lists the kind (pages of 500), then watches from the list's resourceVersion, keeping a
//! [`Cache`] of `Arc<K>` (with indexes) and calling its [`EventHandler`]s on every add, update and delete.
//! When the watch ends it re-watches from the last resourceVersion seen; when that is too old (410
//! `Expired`) it lists again and tells the handlers what changed meanwhile. Failures back off from 0.8 s to
//! 30 s with jitter ([`Backoff`]). Watches are re-opened every 5-10 minutes, as client-go does.
//!
//! An [`InformerFactory`] shares one informer per kind between every controller of a process.
//!
//! ```
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! use std::sync::Arc;
//! use skiff_core::client::{Api, InProcessClient};
//! use skiff_core::informer::Informer;
//! use skiff_core::kinds::ConfigMap;
//! use skiff_core::shutdown::Shutdown;
//! use skiff_core::store::MemoryStore;
//!
//! let client = InProcessClient::shared(Arc::new(MemoryStore::new()));
//! let api: Api<ConfigMap> = Api::namespaced(client, "default");
//! api.create(&ConfigMap::named("a")).await.unwrap();
//! let informer = Informer::new(Api::<ConfigMap>::all(api.client().clone()));
//! let (stop, shutdown) = Shutdown::new();
//! tokio::spawn(informer.clone().run(shutdown));
//! informer.wait_for_sync().await;
//! assert!(informer.cache().get("default/a").is_some());
//! stop.trigger();
//! # });
//! ```

mod backoff;
mod cache;
mod factory;
mod handler;
mod reflector;

pub use backoff::Backoff;
pub use cache::{cache_key, Cache, IndexFn, NAMESPACE_INDEX};
pub use factory::InformerFactory;
pub use handler::{EventHandler, FnHandler};
pub use reflector::{Informer, InformerStats};
