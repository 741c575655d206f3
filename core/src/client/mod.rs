//! The client: how controllers, the scheduler and node agents talk to the API.
//!
//! [`Client`] is the untyped, object-safe interface (JSON objects of any registered kind); [`Api<K>`] is the
//! typed view users work with. [`InProcessClient`] implements the client directly over a
//! [`Store`](crate::store::Store) — the way `skiff up` runs its controllers in the API server's process
//! and the way tests run; the HTTP implementation lives in `skiff-api`. Both behave alike: server-set
//! metadata (`uid`, `creationTimestamp`, `generation`, `resourceVersion`), compare-and-swap updates, a
//! `status` subresource that does not bump `generation`, finalizers holding deletion, and watches that
//! start with the current objects.
//!
//! ```
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! use std::sync::Arc;
//! use skiff_core::client::{Api, InProcessClient, ListParams};
//! use skiff_core::kinds::{ConfigMap};
//! use skiff_core::store::MemoryStore;
//!
//! let client = InProcessClient::shared(Arc::new(MemoryStore::new()));
//! let cms: Api<ConfigMap> = Api::namespaced(client, "default");
//! let mut cm = ConfigMap::named("settings");
//! cm.data.insert("color".into(), "blue".into());
//! let created = cms.create(&cm).await.unwrap();
//! assert!(created.metadata.uid.is_some());
//! assert_eq!(cms.list(&ListParams::default()).await.unwrap().items.len(), 1);
//! # });
//! ```

mod api;
mod error;
mod fields;
mod filter;
mod in_process;
mod params;
mod stored;
pub(crate) mod strategic_merge;

use async_trait::async_trait;
use futures::stream::BoxStream;
use serde_json::Value;

pub use api::{Api, Event};
pub use error::ClientError;
pub use fields::field_value;
pub use in_process::{random_suffix, InProcessClient};
pub use params::{DeleteOutcome, DeleteParams, ListParams, Patch, PropagationPolicy, WatchParams};
pub use strategic_merge::strategic_merge;

use crate::ApiResource;

/// One page of a list, untyped.
#[derive(Clone, Debug, PartialEq)]
pub struct RawList {
    /// The objects (JSON, with `apiVersion`, `kind`, `metadata.resourceVersion`).
    pub items: Vec<Value>,
    /// The revision the list reflects.
    pub resource_version: String,
    /// Token of the next page.
    pub continue_token: Option<String>,
}

/// What a watch event says happened.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum EventType {
    /// `ADDED`: new, or newly matching the selectors.
    Added,
    /// `MODIFIED`.
    Modified,
    /// `DELETED`, or no longer matching the selectors.
    Deleted,
    /// `BOOKMARK`: only `metadata.resourceVersion` is meaningful.
    Bookmark,
}

/// One watch event, untyped.
#[derive(Clone, Debug, PartialEq)]
pub struct RawEvent {
    /// What happened.
    pub event_type: EventType,
    /// The object (for `Deleted`, its last state).
    pub object: Value,
}

/// The API, untyped: every call names the kind through its [`ApiResource`].
#[async_trait]
pub trait Client: Send + Sync + 'static {
    /// Reads one object.
    async fn get(
        &self,
        res: &ApiResource,
        ns: Option<&str>,
        name: &str,
    ) -> Result<Value, ClientError>;
    /// Lists objects (in one namespace, or all).
    async fn list(
        &self,
        res: &ApiResource,
        ns: Option<&str>,
        params: &ListParams,
    ) -> Result<RawList, ClientError>;
    /// Creates an object; the server fills `uid`, `creationTimestamp`, `generation`, `resourceVersion`.
    async fn create(
        &self,
        res: &ApiResource,
        ns: Option<&str>,
        obj: Value,
    ) -> Result<Value, ClientError>;
    /// Replaces an object (compare-and-swap when `metadata.resourceVersion` is set); `status` is kept.
    async fn replace(
        &self,
        res: &ApiResource,
        ns: Option<&str>,
        name: &str,
        obj: Value,
    ) -> Result<Value, ClientError>;
    /// Replaces only the `status` of an object (the status subresource); `generation` does not change.
    async fn replace_status(
        &self,
        res: &ApiResource,
        ns: Option<&str>,
        name: &str,
        obj: Value,
    ) -> Result<Value, ClientError>;
    /// Patches an object (merge patch or JSON patch).
    async fn patch(
        &self,
        res: &ApiResource,
        ns: Option<&str>,
        name: &str,
        patch: &Patch,
    ) -> Result<Value, ClientError>;
    /// Patches only the `status` of an object (the status subresource).
    async fn patch_status(
        &self,
        res: &ApiResource,
        ns: Option<&str>,
        name: &str,
        patch: &Patch,
    ) -> Result<Value, ClientError>;
    /// Deletes an object, or marks it for deletion while finalizers remain.
    async fn delete(
        &self,
        res: &ApiResource,
        ns: Option<&str>,
        name: &str,
        params: &DeleteParams,
    ) -> Result<DeleteOutcome<Value>, ClientError>;
    /// Binds pod `ns/pod` to node `node` (the `pods/binding` subresource, what a scheduler writes): sets
    /// `spec.nodeName` and the `PodScheduled=True` condition in one write. `409 Conflict` when the pod is
    /// already bound (or being deleted), `404` when it is gone.
    ///
    /// ```
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// use std::sync::Arc;
    /// use skiff_core::client::{Api, InProcessClient};
    /// use skiff_core::kinds::{Container, Pod};
    /// use skiff_core::store::MemoryStore;
    ///
    /// let client = InProcessClient::shared(Arc::new(MemoryStore::new()));
    /// let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    /// let mut pod = Pod::named("web");
    /// pod.spec.containers.push(Container::new("web", "nginx"));
    /// pods.create(&pod).await.unwrap();
    /// client.bind("default", "web", "node-1").await.unwrap();
    /// assert_eq!(pods.get("web").await.unwrap().spec.node_name.as_deref(), Some("node-1"));
    /// assert_eq!(client.bind("default", "web", "node-2").await.unwrap_err().code(), Some(409));
    /// # });
    /// ```
    async fn bind(&self, ns: &str, pod: &str, node: &str) -> Result<(), ClientError>;
    /// A client whose writes run in full (every check, every server-set field) and store nothing, as
    /// kube-apiserver's `dryRun=All`; `None` when this client cannot do that (the default).
    ///
    /// ```
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// use std::sync::Arc;
    /// use skiff_core::client::{Api, InProcessClient};
    /// use skiff_core::kinds::ConfigMap;
    /// use skiff_core::store::MemoryStore;
    ///
    /// let client = InProcessClient::shared(Arc::new(MemoryStore::new()));
    /// let dry: Api<ConfigMap> = Api::namespaced(client.dry_run().unwrap(), "default");
    /// let answered = dry.create(&ConfigMap::named("c")).await.unwrap();
    /// assert!(answered.metadata.uid.is_some());
    /// let real: Api<ConfigMap> = Api::namespaced(client, "default");
    /// assert!(real.get("c").await.unwrap_err().is_not_found());
    /// # });
    /// ```
    fn dry_run(&self) -> Option<std::sync::Arc<dyn Client>> {
        None
    }
    /// Streams changes. An `Err` with code 410 means the resourceVersion is too old: list again.
    async fn watch(
        &self,
        res: &ApiResource,
        ns: Option<&str>,
        params: &WatchParams,
    ) -> Result<BoxStream<'static, Result<RawEvent, ClientError>>, ClientError>;
}
