//! How the in-process client stores an object: its key, its JSON without `resourceVersion` (the
//! store's revision is that) in wire order, and the metadata helpers the writes share.

use serde_json::{Map, Value};

use super::ClientError;
use crate::meta::{canonical_order, insert_meta_ordered};
use crate::store::{object_key, KeyValue};
use crate::ApiResource;

pub(super) fn key(res: &ApiResource, ns: Option<&str>, name: &str) -> String {
    object_key(&res.group, &res.plural, ns, name)
}

pub(super) fn meta(obj: &Value) -> Option<&Map<String, Value>> {
    obj.get("metadata").and_then(Value::as_object)
}

pub(super) fn meta_mut(obj: &mut Value) -> Result<&mut Map<String, Value>, ClientError> {
    let map = obj
        .as_object_mut()
        .ok_or_else(|| ClientError::bad_request("the body must be a JSON object"))?;
    let meta = map
        .entry("metadata")
        .or_insert_with(|| Value::Object(Map::new()));
    if !meta.is_object() {
        *meta = Value::Object(Map::new());
    }
    meta.as_object_mut()
        .ok_or_else(|| ClientError::bad_request("metadata must be an object"))
}

pub(super) fn meta_str<'a>(obj: &'a Value, field: &str) -> Option<&'a str> {
    meta(obj).and_then(|m| m.get(field)).and_then(Value::as_str)
}

/// Decodes a stored value and stamps its resourceVersion.
pub(super) fn decode(kv: &KeyValue, res: &ApiResource) -> Result<Value, ClientError> {
    let mut obj: Value = serde_json::from_slice(&kv.value)
        .map_err(|e| ClientError::Decode(format!("stored {} {}: {e}", res.kind, kv.key)))?;
    // Stored bytes are in wire order already; only the resourceVersion needs its place.
    insert_meta_ordered(
        meta_mut(&mut obj)?,
        "resourceVersion",
        Value::String(kv.mod_revision.to_string()),
    );
    Ok(obj)
}

/// Stamps `rev` as the object's resourceVersion and puts its envelope in wire order
/// ([`canonical_order`]): what this client added to the metadata went in at the end. Revision 0 is
/// a write a [`DryRunStore`](crate::store::DryRunStore) did not make: no resourceVersion, as kube-apiserver's dry-run create.
pub(super) fn stamp(obj: &mut Value, rev: i64) {
    if let Ok(m) = meta_mut(obj) {
        if rev > 0 {
            m.insert("resourceVersion".into(), Value::String(rev.to_string()));
        } else {
            m.shift_remove("resourceVersion");
        }
    }
    canonical_order(obj);
}

/// What is stored: the object in wire order without its resourceVersion (which is the store
/// revision). `obj` is left so, without a copy: the writer [`stamp`]s it with the new revision.
pub(super) fn encode(obj: &mut Value) -> Result<Vec<u8>, ClientError> {
    meta_mut(obj)?.shift_remove("resourceVersion");
    canonical_order(obj);
    serde_json::to_vec(obj).map_err(|e| ClientError::Decode(e.to_string()))
}

pub(super) fn parse_rv(rv: &str) -> Result<i64, ClientError> {
    rv.parse()
        .map_err(|_| ClientError::bad_request(format!("invalid resourceVersion {rv:?}")))
}

/// Everything but metadata and status: what `generation` counts changes of.
pub(super) fn desired(obj: &Value) -> Value {
    let mut v = obj.clone();
    if let Some(m) = v.as_object_mut() {
        m.remove("metadata");
        m.remove("status");
    }
    v
}
