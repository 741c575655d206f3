//! The delete verbs: one object (graceful, with propagation policy and preconditions) and a collection.

use serde_json::{json, Value};
use skiff_core::client::{DeleteOutcome, DeleteParams, PropagationPolicy};
use skiff_core::ApiResource;

use super::request::{dry_run_value, list_params};
use super::response::{ApiError, Json};
use super::service_alloc::is_services;
use super::{ApiServer, Q};

/// The body's DeleteOptions (`null` when there is no body).
fn delete_options(body: &[u8]) -> Result<Value, ApiError> {
    if body.is_empty() {
        return Ok(Value::Null);
    }
    serde_json::from_slice(body)
        .map_err(|e| ApiError::bad_request(format!("invalid DeleteOptions: {e}")))
}

/// The query with DeleteOptions' `dryRun` folded in: kubectl sends `delete --dry-run=server` as
/// `{"dryRun": ["All"]}` in the body, other clients as `?dryRun=All`.
fn with_body_dry_run(q: &Q, opts: &Value) -> Result<Q, ApiError> {
    let mut q = q.clone();
    for v in opts
        .get("dryRun")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        dry_run_value(v.as_str().unwrap_or_default())?;
        q.insert("dryRun".into(), "All".into());
    }
    Ok(q)
}

impl ApiServer {
    pub(super) fn delete_params(q: &Q, opts: &Value) -> Result<DeleteParams, ApiError> {
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
        let opts = delete_options(body)?;
        let params = Self::delete_params(q, &opts)?;
        let q = with_body_dry_run(q, &opts)?;
        let writer = self.writer(&q)?;
        match writer.delete(res, ns, name, &params).await? {
            DeleteOutcome::Deleted(obj) => {
                if is_services(res) {
                    self.release_service(writer.as_ref(), ns.unwrap_or("default"), &obj)
                        .await;
                }
                Ok(Json::ok(obj))
            }
            DeleteOutcome::Pending(obj) => Ok(Json::ok(obj)),
        }
    }

    pub(super) async fn delete_collection(
        &self,
        res: &ApiResource,
        ns: Option<&str>,
        q: &Q,
        body: &[u8],
    ) -> Result<Json, ApiError> {
        let opts = delete_options(body)?;
        let params = Self::delete_params(q, &opts)?;
        let writer = self.writer(&with_body_dry_run(q, &opts)?)?;
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
                Ok(DeleteOutcome::Deleted(o)) => {
                    if is_services(res) {
                        let svc_ns = item_ns.as_deref().unwrap_or("default");
                        self.release_service(writer.as_ref(), svc_ns, &o).await;
                    }
                    deleted.push(o)
                }
                Ok(DeleteOutcome::Pending(o)) => deleted.push(o),
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
