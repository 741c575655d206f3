//! Server-side apply: `PATCH` with `Content-Type: application/apply-patch+yaml`, as `kubectl apply
//! --server-side` sends it. The merge and field ownership live in [`skiff_core::managed_fields`]; this
//! module reads the request, creates or updates the object and answers 201 or 200 (`dryRun=All`: the same
//! answer through the dry-run client, nothing stored).

use axum::http::HeaderMap;
use serde_json::Value;
use skiff_core::managed_fields::{self, ApplyOptions};
use skiff_core::meta::Time;
use skiff_core::ApiResource;

use super::request::field_manager;
use super::response::{ApiError, Json};
use super::write::{too_many_writers, Intent};
use super::{ApiServer, Q};

/// `force=true|false` (absent: false).
fn force(q: &Q) -> Result<bool, ApiError> {
    match q.get("force").map(String::as_str) {
        None | Some("") | Some("false") => Ok(false),
        Some("true") => Ok(true),
        Some(other) => Err(ApiError::bad_request(format!(
            "force {other:?} is not a boolean"
        ))),
    }
}

/// Parses the applied configuration (YAML, which includes JSON) and checks it names the URL's object.
fn config(body: &[u8], ns: Option<&str>, name: &str) -> Result<Value, ApiError> {
    let mut config: Value = serde_yaml::from_slice(body).map_err(|e| {
        ApiError::bad_request(format!("the applied configuration is not valid YAML: {e}"))
    })?;
    let obj = config
        .as_object_mut()
        .ok_or_else(|| ApiError::bad_request("the applied configuration must be an object"))?;
    let meta = obj
        .entry("metadata")
        .or_insert_with(|| Value::Object(Default::default()))
        .as_object_mut()
        .ok_or_else(|| ApiError::bad_request("metadata must be an object"))?;
    match meta.get("name").and_then(Value::as_str) {
        Some(n) if n != name => {
            return Err(ApiError::bad_request(format!(
                "the name of the object ({n}) does not match the name on the URL ({name})"
            )))
        }
        Some(_) => {}
        None => {
            meta.insert("name".into(), Value::String(name.into()));
        }
    }
    if let (Some(url_ns), Some(n)) = (ns, meta.get("namespace").and_then(Value::as_str)) {
        if n != url_ns {
            return Err(ApiError::bad_request(format!(
                "the namespace of the object ({n}) does not match the namespace on the URL ({url_ns})"
            )));
        }
    }
    Ok(config)
}

impl ApiServer {
    /// Server-side apply of the body to `name`: creates it (201) or merges into it (200).
    pub(super) async fn apply(
        &self,
        res: &ApiResource,
        ns: Option<&str>,
        name: &str,
        q: &Q,
        body: &[u8],
    ) -> Result<Json, ApiError> {
        if q.get("fieldManager").is_none_or(|m| m.is_empty()) {
            return Err(ApiError::bad_request(
                "fieldManager is required for apply requests",
            ));
        }
        let manager = &field_manager(q, &HeaderMap::new())?;
        let force = force(q)?;
        let writer = self.writer(q)?;
        let config = config(body, ns, name)?;
        let rv_given = config.pointer("/metadata/resourceVersion").is_some();
        let api_version = res.api_version();
        for _ in 0..8 {
            let live = match self.client.get(res, ns, name).await {
                Ok(v) => Some(v),
                Err(e) if e.is_not_found() => None,
                Err(e) => return Err(e.into()),
            };
            let opts = ApplyOptions {
                manager,
                api_version: &api_version,
                time: Time::now(),
                force,
            };
            let merged = managed_fields::apply(live.as_ref(), &config, &opts)
                .map_err(|e| ApiError::from(e.to_status()))?;
            let intent = match &live {
                None => Intent::Create,
                Some(stored) => Intent::Update(stored),
            };
            let (mut value, warnings) = self.admit(res, q, merged, intent)?;
            if live.is_none() {
                if rv_given {
                    return Err(ApiError::not_found(format!(
                        "{} {name:?} not found",
                        res.plural
                    )));
                }
                if let Some(meta) = value.get_mut("metadata").and_then(Value::as_object_mut) {
                    meta.remove("resourceVersion");
                }
                self.namespace_exists(res, ns).await?;
                match self.store_create(writer.as_ref(), res, ns, value).await {
                    Ok(v) => return Ok(Json::created(v).with_warnings(warnings)),
                    Err(e) if e.is_already_exists() => continue,
                    Err(e) => return Err(e.into()),
                }
            }
            let Some(stored) = live.as_ref() else {
                continue;
            };
            match self
                .store_replace(writer.as_ref(), res, ns, name, stored, value)
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
