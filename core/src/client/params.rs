//! Parameters of client calls, named as in the Kubernetes API.

use std::time::Duration;

/// `list` options.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ListParams {
    /// `labelSelector`, e.g. `app=web,tier!=db`.
    pub label_selector: Option<String>,
    /// `fieldSelector`, e.g. `spec.nodeName=node-1`.
    pub field_selector: Option<String>,
    /// `limit`: page size.
    pub limit: Option<usize>,
    /// `continue`: the token of the previous page.
    pub continue_token: Option<String>,
}

impl ListParams {
    /// Only objects whose labels match.
    pub fn labels(mut self, selector: &str) -> Self {
        self.label_selector = Some(selector.to_string());
        self
    }

    /// Only objects whose fields match.
    pub fn fields(mut self, selector: &str) -> Self {
        self.field_selector = Some(selector.to_string());
        self
    }

    /// Pages of at most `limit` objects.
    pub fn limit(mut self, limit: usize) -> Self {
        self.limit = Some(limit);
        self
    }
}

/// `watch` options.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct WatchParams {
    /// `labelSelector`.
    pub label_selector: Option<String>,
    /// `fieldSelector`.
    pub field_selector: Option<String>,
    /// Changes after this `resourceVersion`; `None` or `"0"` first sends every current object as `Added`.
    pub resource_version: Option<String>,
    /// Close the watch after this long (the informer re-opens it).
    pub timeout: Option<Duration>,
}

/// How dependents are treated when their owner is deleted (`propagationPolicy`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum PropagationPolicy {
    /// Delete the owner now; the garbage collector deletes dependents afterwards (the default).
    #[default]
    Background,
    /// Keep the owner (with the `foregroundDeletion` finalizer) until blocking dependents are gone.
    Foreground,
    /// Keep the dependents, removing their owner references (with the `orphan` finalizer).
    Orphan,
}

/// `delete` options.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DeleteParams {
    /// Seconds of graceful termination (pods); 0 deletes at once.
    pub grace_period_seconds: Option<i64>,
    /// What happens to dependents.
    pub propagation_policy: PropagationPolicy,
    /// Delete only if the object still has this UID.
    pub precondition_uid: Option<String>,
    /// Delete only if the object is still at this resourceVersion.
    pub precondition_resource_version: Option<String>,
}

/// A patch body.
#[derive(Clone, Debug, PartialEq)]
pub enum Patch {
    /// RFC 7386 JSON merge patch (`application/merge-patch+json`): objects merge, `null` deletes.
    Merge(serde_json::Value),
    /// RFC 6902 JSON patch (`application/json-patch+json`): a list of operations.
    Json(json_patch::Patch),
    /// Strategic merge patch (`application/strategic-merge-patch+json`), for built-in kinds: keyed lists
    /// merge by key (see [`strategic_merge`](super::strategic_merge)).
    Strategic(serde_json::Value),
}

/// What a delete did.
#[derive(Clone, Debug, PartialEq)]
pub enum DeleteOutcome<K> {
    /// The object is gone; this was its last state.
    Deleted(K),
    /// The object is being deleted (finalizers or graceful termination pending); this is its state now.
    Pending(K),
}

impl Patch {
    /// Applies this patch to `doc`.
    pub fn apply(&self, doc: &mut serde_json::Value) -> Result<(), json_patch::PatchError> {
        match self {
            Patch::Merge(p) => json_patch::merge(doc, p),
            Patch::Json(p) => json_patch::patch(doc, &p.0)?,
            Patch::Strategic(p) => super::strategic_merge(doc, p),
        }
        Ok(())
    }
}
