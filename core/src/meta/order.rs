//! Key order on the wire: kube-apiserver writes an object's fields in its Go struct's order (`kind`,
//! `apiVersion`, `metadata`, `spec`, `status`; `metadata` as `ObjectMeta` declares them), and clients
//! that compare bodies as text depend on it.
//!
//! Typed objects get that order from their Rust field order (serde_json's `preserve_order` keeps it in
//! a [`Value`]). What the store layer adds to an object as JSON (uid, creationTimestamp,
//! resourceVersion...) would land at the end; [`canonical_order`] puts the envelope back in place.
//!
//! ```
//! use serde_json::json;
//! use skiff_core::meta::canonical_order;
//!
//! let mut pod = json!({"apiVersion": "v1", "status": {}, "metadata": {"uid": "u", "name": "web"},
//!                      "kind": "Pod", "spec": {}});
//! canonical_order(&mut pod);
//! assert_eq!(
//!     serde_json::to_string(&pod).unwrap(),
//!     r#"{"kind":"Pod","apiVersion":"v1","metadata":{"name":"web","uid":"u"},"spec":{},"status":{}}"#
//! );
//! ```

use serde_json::{Map, Value};

/// The envelope's keys, first, in this order; `status` goes last; other keys keep their order.
const TOP: [&str; 3] = ["kind", "apiVersion", "metadata"];

/// `metav1.ObjectMeta`'s fields in Go's order.
const META: [&str; 15] = [
    "name",
    "generateName",
    "namespace",
    "selfLink",
    "uid",
    "resourceVersion",
    "generation",
    "creationTimestamp",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
    "labels",
    "annotations",
    "ownerReferences",
    "finalizers",
    "managedFields",
];

fn top_rank(key: &str) -> usize {
    match TOP.iter().position(|k| *k == key) {
        Some(i) => i,
        None if key == "status" => TOP.len() + 1,
        None => TOP.len(),
    }
}

fn meta_rank(key: &str) -> usize {
    META.iter().position(|k| *k == key).unwrap_or(META.len())
}

/// Reorders `map` by `rank`, keeping the order of keys of equal rank; free when already in order.
fn sort_by_rank(map: &mut Map<String, Value>, rank: fn(&str) -> usize) {
    if map.keys().map(|k| rank(k)).is_sorted() {
        return;
    }
    let mut entries: Vec<(String, Value)> = std::mem::take(map).into_iter().collect();
    entries.sort_by_key(|(k, _)| rank(k));
    map.extend(entries);
}

/// Puts an object's envelope in kube-apiserver's order: `kind`, `apiVersion`, `metadata` (its fields
/// in `ObjectMeta`'s order), the kind's own fields as they are, `status` last. See the
/// [module docs](self).
pub fn canonical_order(obj: &mut Value) {
    let Some(top) = obj.as_object_mut() else {
        return;
    };
    sort_by_rank(top, top_rank);
    if let Some(meta) = top.get_mut("metadata").and_then(Value::as_object_mut) {
        sort_by_rank(meta, meta_rank);
    }
}

/// Sets `key` in an object's `metadata` map at its place in `ObjectMeta`'s order (in place when present).
///
/// ```
/// use serde_json::json;
/// use skiff_core::meta::insert_meta_ordered;
///
/// let mut meta = json!({"name": "web", "uid": "u", "generation": 1});
/// insert_meta_ordered(meta.as_object_mut().unwrap(), "resourceVersion", json!("7"));
/// assert_eq!(
///     serde_json::to_string(&meta).unwrap(),
///     r#"{"name":"web","uid":"u","resourceVersion":"7","generation":1}"#
/// );
/// ```
pub fn insert_meta_ordered(meta: &mut Map<String, Value>, key: &str, value: Value) {
    if let Some(slot) = meta.get_mut(key) {
        *slot = value;
        return;
    }
    let rank = meta_rank(key);
    let at = meta
        .keys()
        .position(|k| meta_rank(k) > rank)
        .unwrap_or(meta.len());
    meta.shift_insert(at, key.to_string(), value);
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn keeps_the_kinds_own_order_and_moves_status_last() {
        let mut cm = json!({"data": {"b": "1"}, "binaryData": {}, "apiVersion": "v1", "kind": "ConfigMap",
                            "metadata": {"managedFields": [], "name": "c", "resourceVersion": "3"}});
        canonical_order(&mut cm);
        assert_eq!(
            serde_json::to_string(&cm).unwrap(),
            r#"{"kind":"ConfigMap","apiVersion":"v1","metadata":{"name":"c","resourceVersion":"3","managedFields":[]},"data":{"b":"1"},"binaryData":{}}"#
        );
    }

    #[test]
    fn inserts_at_the_end_after_the_last_known_field() {
        let mut meta = Map::new();
        insert_meta_ordered(&mut meta, "labels", json!({}));
        insert_meta_ordered(&mut meta, "name", json!("x"));
        insert_meta_ordered(&mut meta, "finalizers", json!([]));
        insert_meta_ordered(&mut meta, "uid", json!("u"));
        let keys: Vec<&str> = meta.keys().map(String::as_str).collect();
        assert_eq!(keys, ["name", "uid", "labels", "finalizers"]);
    }
}
