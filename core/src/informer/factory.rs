//! `InformerFactory`: one informer per kind, shared by every controller of a process.

use std::any::{Any, TypeId};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use super::Informer;
use crate::client::{Api, Client};
use crate::shutdown::Shutdown;
use crate::Resource;

/// Hands out one shared [`Informer`] per kind (over all namespaces), started on first use.
///
/// ```
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// use std::sync::Arc;
/// use skiff_core::client::InProcessClient;
/// use skiff_core::informer::InformerFactory;
/// use skiff_core::kinds::Pod;
/// use skiff_core::shutdown::Shutdown;
/// use skiff_core::store::MemoryStore;
///
/// let factory = InformerFactory::new(InProcessClient::shared(Arc::new(MemoryStore::new())), Shutdown::never());
/// let a = factory.informer::<Pod>();
/// let b = factory.informer::<Pod>();
/// assert!(Arc::ptr_eq(&a, &b), "one watch per kind");
/// # });
/// ```
pub struct InformerFactory {
    client: Arc<dyn Client>,
    shutdown: Shutdown,
    informers: Mutex<HashMap<TypeId, Arc<dyn Any + Send + Sync>>>,
}

impl InformerFactory {
    /// A factory whose informers run until `shutdown`.
    pub fn new(client: Arc<dyn Client>, shutdown: Shutdown) -> Arc<Self> {
        Arc::new(Self {
            client,
            shutdown,
            informers: Mutex::new(HashMap::new()),
        })
    }

    /// The client informers are built on.
    pub fn client(&self) -> &Arc<dyn Client> {
        &self.client
    }

    /// The shared informer of `K`, started (on the current tokio runtime) the first time it is asked for.
    pub fn informer<K: Resource>(&self) -> Arc<Informer<K>> {
        let mut map = self.informers.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(existing) = map.get(&TypeId::of::<K>()) {
            if let Ok(inf) = existing.clone().downcast::<Informer<K>>() {
                return inf;
            }
        }
        let inf = Informer::new(Api::<K>::all(self.client.clone()));
        inf.start(self.shutdown.clone());
        map.insert(TypeId::of::<K>(), inf.clone());
        inf
    }
}
