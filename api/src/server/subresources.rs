//! The `scale` subresource of ReplicaSets, and the `binding` and `ephemeralcontainers` subresources
//! of pods.

use axum::http::HeaderMap;
use serde_json::{json, Value};
use skiff_core::codec::DecodeOptions;
use skiff_core::kinds::Pod;
use skiff_core::validation::pod::validate_ephemeral_containers_update;
use skiff_core::{ApiResource, Resource};

use super::request::{decode_error, parse_body};
use super::response::{ApiError, Json};
use super::write::{pin_resource_version, too_many_writers, Intent};
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

    /// Writes `pods/{name}/ephemeralcontainers` (what `kubectl debug` patches): `make` turns the stored
    /// pod into the requested one, of which only `spec.ephemeralContainers` is taken (as Kubernetes'
    /// ephemeral-containers strategy does); they are defaulted, may only be added
    /// ([`validate_ephemeral_containers_update`]), and the write is a compare-and-swap as for status.
    pub(super) async fn write_ephemeral_containers(
        &self,
        ns: &str,
        name: &str,
        q: &Q,
        make: impl Fn(&Value) -> Result<Value, ApiError>,
    ) -> Result<Json, ApiError> {
        let res = Pod::api_resource();
        for _ in 0..8 {
            let current = self.client.get(&res, Some(ns), name).await?;
            let requested = make(&current)?;
            let rv = requested.pointer("/metadata/resourceVersion");
            let rv_given = rv.is_some() && rv != current.pointer("/metadata/resourceVersion");
            let mut candidate = current.clone();
            candidate["spec"]["ephemeralContainers"] = requested
                .pointer("/spec/ephemeralContainers")
                .cloned()
                .unwrap_or_else(|| json!([]));
            if let Some(rv) = rv.filter(|_| rv_given) {
                candidate["metadata"]["resourceVersion"] = rv.clone();
            }
            let (decoded, warnings) = self.decode(&res, q, candidate)?;
            let old = self
                .scheme
                .decode_value(&current, DecodeOptions::default())
                .map_err(decode_error)?
                .object;
            let (Ok(mut new), Some(old)) = (decoded.downcast::<Pod>(), old.downcast_ref::<Pod>())
            else {
                return Err(ApiError::new(
                    500,
                    "InternalError",
                    "a pod decoded as another kind",
                ));
            };
            skiff_core::defaults::ApplyDefaults::apply_defaults(&mut new);
            let errs = validate_ephemeral_containers_update(&new, old);
            if !errs.is_empty() {
                return Err(ApiError::from(errs.to_status(&res, name)));
            }
            let mut value = serde_json::to_value(&new)
                .map_err(|e| ApiError::new(500, "InternalError", e.to_string()))?;
            if !rv_given {
                pin_resource_version(&mut value, &current);
            }
            match self.writer(q)?.replace(&res, Some(ns), name, value).await {
                Ok(v) => return Ok(Json::ok(v).with_warnings(warnings)),
                Err(e) if e.is_conflict() && !rv_given => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Err(too_many_writers(&res, name))
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
        let stored = self.client.get(res, ns, name).await?;
        scale_of(res, &stored)?;
        let mut obj = stored.clone();
        obj["spec"]["replicas"] = json!(replicas);
        if let Some(rv) = rv {
            obj["metadata"]["resourceVersion"] = json!(rv);
        }
        let (value, _) = self.admit(res, q, obj, Intent::Update(&stored))?;
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
