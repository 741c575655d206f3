//! The `scale` subresource of ReplicaSets and the `binding` subresource of pods.

use axum::http::HeaderMap;
use serde_json::{json, Value};
use skiff_core::ApiResource;

use super::request::parse_body;
use super::response::{ApiError, Json};
use super::write::Intent;
use super::{ApiServer, Q};

impl ApiServer {
    /// `POST pods/{name}/binding`: a core/v1 `Binding` naming the node in `target.name`.
    pub(super) async fn bind(
        &self,
        ns: &str,
        name: &str,
        q: &Q,
        headers: &HeaderMap,
        body: &[u8],
    ) -> Result<Json, ApiError> {
        let binding = parse_body(headers, body)?;
        if let Some(given) = binding.pointer("/metadata/name").and_then(Value::as_str) {
            if given != name {
                return Err(ApiError::new(
                    400,
                    "BadRequest",
                    format!("the name of the object ({given}) does not match the name on the URL ({name})"),
                ));
            }
        }
        let node = binding
            .pointer("/target/name")
            .and_then(Value::as_str)
            .unwrap_or("");
        self.writer(q)?.bind(ns, name, node).await?;
        let mut status = skiff_core::meta::Status::success();
        status.code = Some(201);
        Ok(Json::created(
            serde_json::to_value(status).unwrap_or_default(),
        ))
    }

    /// Writes `spec.replicas` through the scale subresource (compare-and-swap on `rv` when given).
    pub(super) async fn set_replicas(
        &self,
        res: &ApiResource,
        ns: Option<&str>,
        name: &str,
        q: &Q,
        replicas: i64,
        rv: Option<String>,
    ) -> Result<Json, ApiError> {
        let mut obj = self.client.get(res, ns, name).await?;
        scale_of(res, &obj)?;
        obj["spec"]["replicas"] = json!(replicas);
        if let Some(rv) = rv {
            obj["metadata"]["resourceVersion"] = json!(rv);
        }
        let (value, _) = self.admit(res, q, obj, Intent::Update)?;
        let updated = self.writer(q)?.replace(res, ns, name, value).await?;
        Ok(Json::ok(scale_of(res, &updated)?))
    }
}

/// The `autoscaling/v1` Scale of a ReplicaSet.
pub(super) fn scale_of(res: &ApiResource, obj: &Value) -> Result<Value, ApiError> {
    if res.plural != "replicasets" {
        return Err(ApiError::not_found(format!(
            "subresource \"scale\" of {} is not served",
            res.plural
        )));
    }
    let selector: Vec<String> = obj
        .pointer("/spec/selector/matchLabels")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
        .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or("")))
        .collect();
    let meta = &obj["metadata"];
    Ok(json!({
        "kind": "Scale",
        "apiVersion": "autoscaling/v1",
        "metadata": {
            "name": meta["name"], "namespace": meta["namespace"], "uid": meta["uid"],
            "resourceVersion": meta["resourceVersion"], "creationTimestamp": meta["creationTimestamp"],
        },
        "spec": {"replicas": obj.pointer("/spec/replicas").cloned().unwrap_or(json!(1))},
        "status": {
            "replicas": obj.pointer("/status/replicas").cloned().unwrap_or(json!(0)),
            "selector": selector.join(","),
        },
    }))
}
