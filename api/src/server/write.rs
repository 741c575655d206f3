//! The write verbs: create, update, patch, and writes of the status subresource; decoding,
//! defaulting, the kind's strategy and validation (admission), and the dry-run client.

use std::sync::Arc;

use axum::http::{header, HeaderMap};
use serde_json::Value;
use skiff_core::client::{Client, Patch};
use skiff_core::codec::{DecodeError, DecodeOptions, Object, Strictness};
use skiff_core::kinds::Namespace;
use skiff_core::managed_fields::record_update;
use skiff_core::meta::Time;
use skiff_core::{ApiResource, Resource, Scope};

use super::request::{decode_error, dry_run, field_manager, parse_body, strictness};
use super::response::{ApiError, Json};
use super::subresources::scale_of;
use super::{ApiServer, Q};

/// Whether a write makes a new object or changes a stored one (given as JSON): the kind's create
/// strategy and create-only validation run on the first, its update strategy on the second.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Intent<'a> {
    Create,
    Update(&'a Value),
}

impl ApiServer {
    /// The client a write goes through: the store's, or with `dryRun=All` its dry-run twin, which runs
    /// the whole write and stores nothing (see [`Client::dry_run`]).
    pub(super) fn writer(&self, q: &Q) -> Result<Arc<dyn Client>, ApiError> {
        if !dry_run(q)? {
            return Ok(self.client.clone());
        }
        self.client.dry_run().ok_or_else(|| {
            ApiError::bad_request("dryRun is not supported: this server's client cannot run writes without storing them")
        })
    }

    /// Decodes a body as `res`'s kind (strictly, or with warnings, as `fieldValidation` asks): the URL
    /// decides `apiVersion` and `kind` when the body leaves them out.
    pub(super) fn decode(
        &self,
        res: &ApiResource,
        q: &Q,
        mut value: Value,
    ) -> Result<(Object, Vec<String>), ApiError> {
        if let Some(obj) = value.as_object_mut() {
            // kubectl may omit them for the URL's kind; the URL decides.
            obj.entry("apiVersion")
                .or_insert_with(|| Value::String(res.api_version()));
            obj.entry("kind")
                .or_insert_with(|| Value::String(res.kind.clone()));
        } else {
            return Err(ApiError::bad_request(
                "the request body must be a JSON object",
            ));
        }
        let kind = value
            .get("kind")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let api_version = value
            .get("apiVersion")
            .and_then(Value::as_str)
            .unwrap_or_default();
        if kind != res.kind || api_version != res.api_version() {
            return Err(ApiError::bad_request(format!(
                "the body is a {kind} ({api_version}); this URL serves {} ({})",
                res.kind,
                res.api_version()
            )));
        }
        let decoded = self
            .scheme
            .decode_value(
                &value,
                DecodeOptions {
                    strictness: strictness(q)?,
                },
            )
            .map_err(decode_error)?;
        Ok((decoded.object, decoded.warnings))
    }

    /// A write's body as JSON (see [`parse_body`]). A protobuf body loses the fields the kind does
    /// not have whose value is a zero value: Go's protobuf encoder writes every non-pointer field
    /// (`healthCheckNodePort: 0` in every Service kubectl creates), where its JSON encoder would
    /// leave them out. Non-zero values of such fields stay, and are reported as JSON's are.
    pub(super) fn body(&self, headers: &HeaderMap, body: &[u8]) -> Result<Value, ApiError> {
        let mut value = parse_body(headers, body)?;
        let protobuf = headers.get(header::CONTENT_TYPE).is_some_and(|v| {
            v.as_bytes()
                .starts_with(b"application/vnd.kubernetes.protobuf")
        });
        if protobuf {
            let strict = DecodeOptions {
                strictness: Strictness::Strict,
            };
            if let Err(DecodeError::UnknownFields { fields, .. }) =
                self.scheme.decode_value(&value, strict)
            {
                for field in fields {
                    remove_if_zero(&mut value, &field);
                }
            }
        }
        Ok(value)
    }

    /// Decodes, defaults, runs the kind's strategy and validates a body for `res`; returns the object
    /// JSON and unknown-field warnings.
    pub(super) fn admit(
        &self,
        res: &ApiResource,
        q: &Q,
        value: Value,
        intent: Intent<'_>,
    ) -> Result<(Value, Vec<String>), ApiError> {
        let (mut obj, warnings) = self.decode(res, q, value)?;
        obj.apply_defaults();
        let errs = match intent {
            Intent::Create => {
                obj.prepare_for_create();
                obj.validate_create()
            }
            Intent::Update(stored) => {
                let old = self
                    .scheme
                    .decode_value(stored, DecodeOptions::default())
                    .map_err(decode_error)?
                    .object;
                obj.prepare_for_update(&old);
                obj.validate_update(&old)
            }
        };
        if !errs.is_empty() {
            return Err(ApiError::from(errs.to_status(res, obj.name())));
        }
        let out = obj
            .to_json()
            .map_err(|e| ApiError::new(500, "InternalError", e.to_string()))?;
        Ok((out, warnings))
    }

    /// Writes the status subresource of `name`: `make` turns the stored object into the new one (the
    /// body of a PUT, the patched object of a PATCH). The result is decoded as the kind, its status
    /// strategy runs against the stored object (a Pod keeps its `qosClass`), and the write is a
    /// compare-and-swap: on the resourceVersion the new object names, else on the one read (retried).
    pub(super) async fn write_status(
        &self,
        res: &ApiResource,
        ns: Option<&str>,
        name: &str,
        q: &Q,
        make: impl Fn(&Value) -> Result<Value, ApiError>,
    ) -> Result<Json, ApiError> {
        for _ in 0..8 {
            let current = self.client.get(res, ns, name).await?;
            let new = make(&current)?;
            let rv_given = new.pointer("/metadata/resourceVersion").is_some()
                && new.pointer("/metadata/resourceVersion")
                    != current.pointer("/metadata/resourceVersion");
            let (mut obj, warnings) = self.decode(res, q, new)?;
            let old = self
                .scheme
                .decode_value(&current, DecodeOptions::default())
                .map_err(decode_error)?
                .object;
            obj.prepare_for_status_update(&old);
            let mut value = obj
                .to_json()
                .map_err(|e| ApiError::new(500, "InternalError", e.to_string()))?;
            if !rv_given {
                pin_resource_version(&mut value, &current);
            }
            match self.writer(q)?.replace_status(res, ns, name, value).await {
                Ok(v) => return Ok(Json::ok(v).with_warnings(warnings)),
                Err(e) if e.is_conflict() && !rv_given => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Err(too_many_writers(res, name))
    }

    pub(super) async fn namespace_exists(
        &self,
        res: &ApiResource,
        ns: Option<&str>,
    ) -> Result<(), ApiError> {
        if res.scope == Scope::Namespaced {
            if let Some(ns) = ns {
                let nsr = Namespace::api_resource();
                match self.client.get(&nsr, None, ns).await {
                    Ok(_) => {}
                    Err(e) if e.is_not_found() => {
                        return Err(ApiError::not_found(format!("namespaces {ns:?} not found")))
                    }
                    Err(e) => return Err(e.into()),
                }
            }
        }
        Ok(())
    }

    pub(super) async fn create(
        &self,
        res: &ApiResource,
        ns: Option<&str>,
        q: &Q,
        headers: &HeaderMap,
        body: &[u8],
    ) -> Result<Json, ApiError> {
        let manager = field_manager(q, headers)?;
        let (mut value, warnings) =
            self.admit(res, q, self.body(headers, body)?, Intent::Create)?;
        record_update(None, &mut value, &manager, &res.api_version(), &Time::now());
        let ns = match (res.scope, ns) {
            (Scope::Namespaced, Some(ns)) => Some(ns.to_string()),
            (Scope::Namespaced, None) => value
                .pointer("/metadata/namespace")
                .and_then(Value::as_str)
                .map(str::to_string)
                .or_else(|| Some("default".into())),
            (Scope::Cluster, _) => None,
        };
        self.namespace_exists(res, ns.as_deref()).await?;
        let writer = self.writer(q)?;
        let created = self
            .store_create(writer.as_ref(), res, ns.as_deref(), value)
            .await?;
        Ok(Json::created(created).with_warnings(warnings))
    }

    #[allow(clippy::too_many_arguments)]
    pub(super) async fn replace(
        &self,
        res: &ApiResource,
        ns: Option<&str>,
        name: &str,
        sub: Option<&str>,
        q: &Q,
        headers: &HeaderMap,
        body: &[u8],
    ) -> Result<Json, ApiError> {
        let body = self.body(headers, body)?;
        match sub {
            Some("status") => {
                self.write_status(res, ns, name, q, |_| Ok(body.clone()))
                    .await
            }
            Some("ephemeralcontainers") => {
                self.write_ephemeral_containers(ns.unwrap_or_default(), name, q, |_| {
                    Ok(body.clone())
                })
                .await
            }
            Some("scale") => {
                let replicas = body
                    .pointer("/spec/replicas")
                    .and_then(Value::as_i64)
                    .unwrap_or(0);
                let rv = body
                    .pointer("/metadata/resourceVersion")
                    .and_then(Value::as_str)
                    .map(str::to_string);
                self.set_replicas(res, ns, name, q, replicas, rv).await
            }
            Some(other) => Err(ApiError::not_found(format!(
                "subresource {other:?} of {} is not served",
                res.plural
            ))),
            None => {
                let manager = field_manager(q, headers)?;
                let rv_given = body.pointer("/metadata/resourceVersion").is_some();
                for _ in 0..8 {
                    let current = self.client.get(res, ns, name).await?;
                    let (mut value, warnings) =
                        self.admit(res, q, body.clone(), Intent::Update(&current))?;
                    record_update(
                        Some(&current),
                        &mut value,
                        &manager,
                        &res.api_version(),
                        &Time::now(),
                    );
                    if !rv_given {
                        // Ownership was computed against `current`: write over exactly that.
                        pin_resource_version(&mut value, &current);
                    }
                    let writer = self.writer(q)?;
                    match self
                        .store_replace(writer.as_ref(), res, ns, name, &current, value)
                        .await
                    {
                        Ok(v) => return Ok(Json::ok(v).with_warnings(warnings)),
                        Err(e) if e.is_conflict() && !rv_given => continue,
                        Err(e) => return Err(e.into()),
                    }
                }
                Err(too_many_writers(res, name))
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    pub(super) async fn patch(
        &self,
        res: &ApiResource,
        ns: Option<&str>,
        name: &str,
        sub: Option<&str>,
        q: &Q,
        headers: &HeaderMap,
        body: &[u8],
    ) -> Result<Json, ApiError> {
        let content_type = headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_string();
        if content_type == "application/apply-patch+yaml" {
            return match sub {
                None => self.apply(res, ns, name, q, body).await,
                Some(other) => Err(ApiError::new(
                    415,
                    "UnsupportedMediaType",
                    format!("server-side apply of the {other:?} subresource is not supported"),
                )),
            };
        }
        let patch = match content_type.as_str() {
            "application/merge-patch+json" => Patch::Merge(
                serde_json::from_slice(body).map_err(|e| ApiError::bad_request(format!("invalid merge patch: {e}")))?,
            ),
            "application/strategic-merge-patch+json" => Patch::Strategic(
                serde_json::from_slice(body).map_err(|e| ApiError::bad_request(format!("invalid strategic merge patch: {e}")))?,
            ),
            "application/json-patch+json" => Patch::Json(
                serde_json::from_slice(body).map_err(|e| ApiError::bad_request(format!("invalid JSON patch: {e}")))?,
            ),
            other => {
                return Err(ApiError::new(
                    415,
                    "UnsupportedMediaType",
                    format!(
                        "the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/strategic-merge-patch+json, application/apply-patch+yaml (got {other:?})"
                    ),
                ))
            }
        };
        // A subresource's write: the stored object, patched.
        let patched = |current: &Value| {
            let mut doc = current.clone();
            patch.apply(&mut doc).map_err(|e| {
                ApiError::new(422, "Invalid", format!("the patch cannot be applied: {e}"))
            })?;
            Ok(doc)
        };
        match sub {
            Some("status") => return self.write_status(res, ns, name, q, patched).await,
            Some("ephemeralcontainers") => {
                return self
                    .write_ephemeral_containers(ns.unwrap_or_default(), name, q, patched)
                    .await
            }
            Some("scale") => {
                let current = self.client.get(res, ns, name).await?;
                let mut scale = scale_of(res, &current)?;
                let before_rv = scale.pointer("/metadata/resourceVersion").cloned();
                patch.apply(&mut scale).map_err(|e| {
                    ApiError::new(422, "Invalid", format!("the patch cannot be applied: {e}"))
                })?;
                let replicas = scale
                    .pointer("/spec/replicas")
                    .and_then(Value::as_i64)
                    .unwrap_or(0);
                let rv = match scale.pointer("/metadata/resourceVersion") {
                    Some(v) if Some(v) != before_rv.as_ref() => v.as_str().map(str::to_string),
                    _ => current
                        .pointer("/metadata/resourceVersion")
                        .and_then(Value::as_str)
                        .map(str::to_string),
                };
                return self.set_replicas(res, ns, name, q, replicas, rv).await;
            }
            Some(other) => {
                return Err(ApiError::not_found(format!(
                    "subresource {other:?} of {} is not served",
                    res.plural
                )))
            }
            None => {}
        }
        // Apply the patch here so the result is validated like any write; replace with compare-and-swap.
        let manager = field_manager(q, headers)?;
        for _ in 0..8 {
            let current = self.client.get(res, ns, name).await?;
            let mut doc = current.clone();
            patch.apply(&mut doc).map_err(|e| {
                ApiError::new(422, "Invalid", format!("the patch cannot be applied: {e}"))
            })?;
            let rv_precondition = doc.pointer("/metadata/resourceVersion")
                != current.pointer("/metadata/resourceVersion");
            let (mut value, warnings) = self.admit(res, q, doc, Intent::Update(&current))?;
            record_update(
                Some(&current),
                &mut value,
                &manager,
                &res.api_version(),
                &Time::now(),
            );
            let writer = self.writer(q)?;
            match self
                .store_replace(writer.as_ref(), res, ns, name, &current, value)
                .await
            {
                Ok(v) => return Ok(Json::ok(v).with_warnings(warnings)),
                Err(e) if e.is_conflict() && !rv_precondition => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Err(too_many_writers(res, name))
    }
}

/// Whether a JSON value is what Go writes for a field never set: 0, false, "", and lists and objects
/// holding only such values.
fn is_zero(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::Bool(b) => !b,
        Value::Number(n) => n.as_f64() == Some(0.0),
        Value::String(s) => s.is_empty(),
        Value::Array(a) => a.iter().all(is_zero),
        Value::Object(o) => o.values().all(is_zero),
    }
}

/// Removes the field at `path` (`spec.ports[0].appProtocol`, as unknown fields are named) if its
/// value [is zero](is_zero).
fn remove_if_zero(value: &mut Value, path: &str) {
    let mut steps: Vec<(&str, Vec<usize>)> = Vec::new();
    for segment in path.split('.') {
        let (name, rest) = segment.split_once('[').unwrap_or((segment, ""));
        let indexes = rest
            .split('[')
            .filter_map(|i| i.trim_end_matches(']').parse().ok())
            .collect();
        steps.push((name, indexes));
    }
    let Some(((leaf, leaf_indexes), parents)) = steps.split_last() else {
        return;
    };
    if !leaf_indexes.is_empty() {
        return;
    }
    let mut node = value;
    for (name, indexes) in parents {
        let Some(mut next) = node.get_mut(*name) else {
            return;
        };
        for i in indexes {
            let Some(item) = next.get_mut(*i) else { return };
            next = item;
        }
        node = next;
    }
    if let Some(obj) = node.as_object_mut() {
        if obj.get(*leaf).is_some_and(is_zero) {
            obj.remove(*leaf);
        }
    }
}

/// 409 after losing every compare-and-swap retry.
pub(super) fn too_many_writers(res: &ApiResource, name: &str) -> ApiError {
    ApiError::new(
        409,
        "Conflict",
        format!(
            "{} {name:?}: too many concurrent writers; retry",
            res.plural
        ),
    )
}

/// Makes a write a compare-and-swap on the version it was computed from: `current`'s resourceVersion.
pub(super) fn pin_resource_version(value: &mut Value, current: &Value) {
    if let (Some(meta), Some(rv)) = (
        value.get_mut("metadata").and_then(Value::as_object_mut),
        current.pointer("/metadata/resourceVersion"),
    ) {
        meta.insert("resourceVersion".into(), rv.clone());
    }
}
