//! The delete verbs: one object (graceful, with propagation policy and preconditions) and a collection.

use serde_json::{json, Value};
use skiff_core::client::{DeleteOutcome, DeleteParams, PropagationPolicy};
use skiff_core::ApiResource;

use super::request::list_params;
use super::response::{ApiError, Json};
use super::{ApiServer, Q};

/// The query with the body's `DeleteOptions.dryRun` folded in: kubectl sends `delete --dry-run=server`
/// as `{"dryRun": ["All"]}` in the body, other clients as `?dryRun=All`.
fn with_body_dry_run(q: &Q, body: &[u8]) -> Result<Q, ApiError> {
    let mut q = q.clone();
    let opts: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    if let Some(values) = opts.get("dryRun").and_then(Value::as_array) {
        for v in values {
            match v.as_str() {
                Some("All") => {
                    q.insert("dryRun".into(), "All".into());
                }
                other => {
                    return Err(ApiError::bad_request(format!(
                        "Invalid dryRun value: {:?}: supported values: \"All\"",
                        other.unwrap_or_default()
                    )))
                }
            }
        }
    }
    Ok(q)
}

impl ApiServer {
    pub(super) fn delete_params(q: &Q, body: &[u8]) -> Result<DeleteParams, ApiError> {
        let opts: Value = if body.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(body)
                .map_err(|e| ApiError::bad_request(format!("invalid DeleteOptions: {e}")))?
        };
        let policy = q
            .get("propagationPolicy")
            .map(String::as_str)
            .or_else(|| opts.get("propagationPolicy").and_then(Value::as_str));
        let propagation_policy = match policy {
            None | Some("Background") => PropagationPolicy::Background,
            Some("Foreground") => PropagationPolicy::Foreground,
            Some("Orphan") => PropagationPolicy::Orphan,
            Some(other) => {
                return Err(ApiError::bad_request(format!(
                    "propagationPolicy {other:?} is not supported (want Background, Foreground or Orphan)"
                )))
            }
        };
        let grace = q
            .get("gracePeriodSeconds")
            .and_then(|g| g.parse().ok())
            .or_else(|| opts.get("gracePeriodSeconds").and_then(Value::as_i64));
        Ok(DeleteParams {
            grace_period_seconds: grace,
            propagation_policy,
            precondition_uid: opts
                .pointer("/preconditions/uid")
                .and_then(Value::as_str)
                .map(str::to_string),
            precondition_resource_version: opts
                .pointer("/preconditions/resourceVersion")
                .and_then(Value::as_str)
                .map(str::to_string),
        })
    }

    pub(super) async fn delete(
        &self,
        res: &ApiResource,
        ns: Option<&str>,
        name: &str,
        q: &Q,
        body: &[u8],
    ) -> Result<Json, ApiError> {
        let params = Self::delete_params(q, body)?;
        let q = with_body_dry_run(q, body)?;
        match self.writer(&q)?.delete(res, ns, name, &params).await? {
            DeleteOutcome::Deleted(obj) | DeleteOutcome::Pending(obj) => Ok(Json::ok(obj)),
        }
    }

    pub(super) async fn delete_collection(
        &self,
        res: &ApiResource,
        ns: Option<&str>,
        q: &Q,
        body: &[u8],
    ) -> Result<Json, ApiError> {
        let params = Self::delete_params(q, body)?;
        let writer = self.writer(&with_body_dry_run(q, body)?)?;
        let list = self.client.list(res, ns, &list_params(q)?).await?;
        let mut deleted = Vec::new();
        for item in list.items {
            let name = item
                .pointer("/metadata/name")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string();
            let item_ns = item
                .pointer("/metadata/namespace")
                .and_then(Value::as_str)
                .map(str::to_string);
            match writer.delete(res, item_ns.as_deref(), &name, &params).await {
                Ok(DeleteOutcome::Deleted(o)) | Ok(DeleteOutcome::Pending(o)) => deleted.push(o),
                Err(e) if e.is_not_found() => {}
                Err(e) => return Err(e.into()),
            }
        }
        Ok(Json::ok(json!({
            "kind": format!("{}List", res.kind),
            "apiVersion": res.api_version(),
            "metadata": {},
            "items": deleted,
        })))
    }
}
