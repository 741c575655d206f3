//! The finalizer helper: add a finalizer on first sight, run cleanup when the object is being deleted,
//! remove the finalizer once cleanup succeeded (so the API can finish the deletion).

use std::future::Future;
use std::sync::Arc;

use serde_json::json;

use crate::client::{Api, ClientError, Patch};
use crate::controller::Action;
use crate::Resource;

/// What the reconciler must do now.
#[derive(Debug)]
pub enum FinalizerEvent<K> {
    /// The object is live: make the world match it.
    Apply(Arc<K>),
    /// The object is being deleted: release what it holds outside the API.
    Cleanup(Arc<K>),
}

/// A failure of the helper or of the reconciler's own step.
#[derive(Debug, thiserror::Error)]
pub enum FinalizerError<E: std::error::Error + 'static> {
    /// The reconciler's apply or cleanup failed.
    #[error("{0}")]
    Reconcile(#[source] E),
    /// Adding or removing the finalizer failed.
    #[error("cannot update the finalizer: {0}")]
    Client(#[source] ClientError),
    /// The object has no name (it was never created through the API).
    #[error("the object has no name")]
    Unnamed,
}

/// Runs `f` with the right [`FinalizerEvent`], managing the finalizer `name` on `obj`.
///
/// - live object without the finalizer: adds it (compare-and-swap) and returns `await_change` — the update
///   triggers the next reconcile, which applies;
/// - live object with it: `f(Apply)`;
/// - deleting object with it: `f(Cleanup)`, then removes the finalizer (compare-and-swap);
/// - deleting object without it: nothing to do.
///
/// ```no_run
/// # use std::sync::Arc;
/// # use skiff_core::client::Api;
/// # use skiff_core::controller::Action;
/// # use skiff_core::finalizer::{finalizer, FinalizerEvent};
/// # use skiff_core::kinds::ConfigMap;
/// # async fn example(api: Api<ConfigMap>, cm: Arc<ConfigMap>) {
/// let action = finalizer(&api, "example.com/cleanup", cm, |event| async move {
///     match event {
///         FinalizerEvent::Apply(_cm) => Ok::<_, std::io::Error>(Action::await_change()),
///         FinalizerEvent::Cleanup(_cm) => Ok(Action::await_change()),
///     }
/// })
/// .await;
/// # }
/// ```
pub async fn finalizer<K, E, F, Fut>(
    api: &Api<K>,
    name: &str,
    obj: Arc<K>,
    f: F,
) -> Result<Action, FinalizerError<E>>
where
    K: Resource,
    E: std::error::Error + 'static,
    F: FnOnce(FinalizerEvent<K>) -> Fut,
    Fut: Future<Output = Result<Action, E>>,
{
    let meta = obj.meta();
    let obj_name = meta.name.clone().ok_or(FinalizerError::Unnamed)?;
    let has = meta.finalizers.iter().any(|f| f == name);
    let deleting = meta.deletion_timestamp.is_some();
    let api = match (api.namespace(), obj.namespace()) {
        (None, Some(ns)) => api.in_namespace(ns),
        _ => api.clone(),
    };
    let with_precondition = |finalizers: Vec<String>| {
        Patch::Merge(json!({
            "metadata": {
                "resourceVersion": meta.resource_version,
                "finalizers": finalizers,
            }
        }))
    };
    match (deleting, has) {
        (false, false) => {
            let mut finalizers = meta.finalizers.clone();
            finalizers.push(name.to_string());
            api.patch(&obj_name, &with_precondition(finalizers))
                .await
                .map_err(FinalizerError::Client)?;
            Ok(Action::await_change())
        }
        (false, true) => f(FinalizerEvent::Apply(obj.clone()))
            .await
            .map_err(FinalizerError::Reconcile),
        (true, true) => {
            let action = f(FinalizerEvent::Cleanup(obj.clone()))
                .await
                .map_err(FinalizerError::Reconcile)?;
            let finalizers: Vec<String> = meta
                .finalizers
                .iter()
                .filter(|f| *f != name)
                .cloned()
                .collect();
            match api.patch(&obj_name, &with_precondition(finalizers)).await {
                Ok(_) => Ok(action),
                Err(e) if e.is_not_found() => Ok(action),
                Err(e) => Err(FinalizerError::Client(e)),
            }
        }
        (true, false) => Ok(Action::await_change()),
    }
}
