//! `Api<K>`: the typed view of one kind, in one namespace or across all.

use std::marker::PhantomData;
use std::sync::Arc;

use futures::stream::{BoxStream, StreamExt};
use serde_json::Value;

use super::{
    Client, ClientError, DeleteOutcome, DeleteParams, EventType, ListParams, Patch, RawEvent,
    WatchParams,
};
use crate::meta::{ListMeta, ObjectList};
use crate::{ApiResource, Resource, Scope};

/// A typed watch event.
#[derive(Clone, Debug, PartialEq)]
pub enum Event<K> {
    /// New, or newly matching the selectors.
    Added(K),
    /// Changed.
    Modified(K),
    /// Gone, or no longer matching the selectors; the object's last state.
    Deleted(K),
    /// Progress marker: the resourceVersion the watch has reached.
    Bookmark(String),
}

/// Typed access to objects of kind `K`.
///
/// ```
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// use std::sync::Arc;
/// use skiff_core::client::{Api, InProcessClient, Patch};
/// use skiff_core::kinds::Node;
/// use skiff_core::store::MemoryStore;
///
/// let client = InProcessClient::shared(Arc::new(MemoryStore::new()));
/// let nodes: Api<Node> = Api::all(client);
/// nodes.create(&Node::named("node-1")).await.unwrap();
/// let patched = nodes
///     .patch("node-1", &Patch::Merge(serde_json::json!({"metadata": {"labels": {"disktype": "ssd"}}})))
///     .await
///     .unwrap();
/// assert_eq!(patched.metadata.labels["disktype"], "ssd");
/// # });
/// ```
pub struct Api<K> {
    client: Arc<dyn Client>,
    namespace: Option<String>,
    resource: ApiResource,
    _kind: PhantomData<fn() -> K>,
}

impl<K> Clone for Api<K> {
    fn clone(&self) -> Self {
        Self {
            client: self.client.clone(),
            namespace: self.namespace.clone(),
            resource: self.resource.clone(),
            _kind: PhantomData,
        }
    }
}

fn decode<K: Resource>(v: Value) -> Result<K, ClientError> {
    serde_json::from_value(v).map_err(|e| ClientError::Decode(format!("{}: {e}", K::KIND)))
}

fn encode<K: Resource>(obj: &K) -> Result<Value, ClientError> {
    serde_json::to_value(obj).map_err(|e| ClientError::Decode(format!("{}: {e}", K::KIND)))
}

impl<K: Resource> Api<K> {
    /// Objects of `K` in namespace `ns`.
    pub fn namespaced(client: Arc<dyn Client>, ns: &str) -> Self {
        Self {
            client,
            namespace: Some(ns.to_string()),
            resource: K::api_resource(),
            _kind: PhantomData,
        }
    }

    /// Objects of `K` in every namespace (or cluster-scoped objects).
    pub fn all(client: Arc<dyn Client>) -> Self {
        Self {
            client,
            namespace: None,
            resource: K::api_resource(),
            _kind: PhantomData,
        }
    }

    /// The namespace this handle is bound to, if any.
    pub fn namespace(&self) -> Option<&str> {
        self.namespace.as_deref()
    }

    /// The client underneath.
    pub fn client(&self) -> &Arc<dyn Client> {
        &self.client
    }

    /// The same kind in another namespace (for objects found through an all-namespaces handle).
    pub fn in_namespace(&self, ns: &str) -> Self {
        Self::namespaced(self.client.clone(), ns)
    }

    fn ns_for(&self, obj: Option<&K>) -> Option<String> {
        if K::SCOPE == Scope::Cluster {
            return None;
        }
        self.namespace
            .clone()
            .or_else(|| obj.and_then(|o| o.meta().namespace.clone()))
    }

    /// Reads one object.
    pub async fn get(&self, name: &str) -> Result<K, ClientError> {
        decode(
            self.client
                .get(&self.resource, self.namespace.as_deref(), name)
                .await?,
        )
    }

    /// Reads one object, `None` when it does not exist.
    pub async fn get_opt(&self, name: &str) -> Result<Option<K>, ClientError> {
        match self.get(name).await {
            Ok(o) => Ok(Some(o)),
            Err(e) if e.is_not_found() => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Lists objects (one page when `params.limit` is set).
    pub async fn list(&self, params: &ListParams) -> Result<ObjectList<K>, ClientError> {
        let raw = self
            .client
            .list(&self.resource, self.namespace.as_deref(), params)
            .await?;
        let items = raw
            .items
            .into_iter()
            .map(decode)
            .collect::<Result<Vec<K>, _>>()?;
        Ok(ObjectList::new(
            items,
            ListMeta {
                resource_version: Some(raw.resource_version),
                continue_: raw.continue_token,
                remaining_item_count: None,
            },
        ))
    }

    /// Creates an object (in this handle's namespace, or the object's own for an all-namespaces handle).
    pub async fn create(&self, obj: &K) -> Result<K, ClientError> {
        let ns = self.ns_for(Some(obj));
        decode(
            self.client
                .create(&self.resource, ns.as_deref(), encode(obj)?)
                .await?,
        )
    }

    /// Replaces an object; compare-and-swap when `obj.metadata.resourceVersion` is set. `status` is kept.
    pub async fn replace(&self, name: &str, obj: &K) -> Result<K, ClientError> {
        let ns = self.ns_for(Some(obj));
        decode(
            self.client
                .replace(&self.resource, ns.as_deref(), name, encode(obj)?)
                .await?,
        )
    }

    /// Replaces only the status (the status subresource: `generation` does not change).
    pub async fn replace_status(&self, name: &str, obj: &K) -> Result<K, ClientError> {
        let ns = self.ns_for(Some(obj));
        decode(
            self.client
                .replace_status(&self.resource, ns.as_deref(), name, encode(obj)?)
                .await?,
        )
    }

    /// Patches an object.
    pub async fn patch(&self, name: &str, patch: &Patch) -> Result<K, ClientError> {
        decode(
            self.client
                .patch(&self.resource, self.namespace.as_deref(), name, patch)
                .await?,
        )
    }

    /// Patches only the status (the status subresource: `generation` does not change).
    pub async fn patch_status(&self, name: &str, patch: &Patch) -> Result<K, ClientError> {
        decode(
            self.client
                .patch_status(&self.resource, self.namespace.as_deref(), name, patch)
                .await?,
        )
    }

    /// Deletes an object, or starts its deletion while finalizers remain.
    pub async fn delete(
        &self,
        name: &str,
        params: &DeleteParams,
    ) -> Result<DeleteOutcome<K>, ClientError> {
        Ok(
            match self
                .client
                .delete(&self.resource, self.namespace.as_deref(), name, params)
                .await?
            {
                DeleteOutcome::Deleted(v) => DeleteOutcome::Deleted(decode(v)?),
                DeleteOutcome::Pending(v) => DeleteOutcome::Pending(decode(v)?),
            },
        )
    }

    /// Streams typed changes.
    pub async fn watch(
        &self,
        params: &WatchParams,
    ) -> Result<BoxStream<'static, Result<Event<K>, ClientError>>, ClientError> {
        let raw = self
            .client
            .watch(&self.resource, self.namespace.as_deref(), params)
            .await?;
        Ok(raw
            .map(|item| {
                item.and_then(|RawEvent { event_type, object }| {
                    Ok(match event_type {
                        EventType::Added => Event::Added(decode(object)?),
                        EventType::Modified => Event::Modified(decode(object)?),
                        EventType::Deleted => Event::Deleted(decode(object)?),
                        EventType::Bookmark => Event::Bookmark(
                            object
                                .pointer("/metadata/resourceVersion")
                                .and_then(Value::as_str)
                                .unwrap_or_default()
                                .to_string(),
                        ),
                    })
                })
            })
            .boxed())
    }
}

impl Api<crate::kinds::Pod> {
    /// Binds pod `name` (in this handle's namespace) to `node` through the `binding` subresource; see
    /// [`Client::bind`].
    pub async fn bind(&self, name: &str, node: &str) -> Result<(), ClientError> {
        let ns = self.namespace.as_deref().ok_or_else(|| {
            ClientError::api(400, "BadRequest", "binding a pod needs its namespace")
        })?;
        self.client.bind(ns, name, node).await
    }
}
