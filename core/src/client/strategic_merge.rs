//! Strategic merge patch (`application/strategic-merge-patch+json`), as `kubectl apply` sends it.
//!
//! Like a JSON merge patch (objects merge recursively, `null` deletes a key), except that lists of objects
//! with a *merge key* (containers by `name`, container ports by `containerPort`, volume mounts by
//! `mountPath`...) merge item by item instead of being replaced, and these directives are understood:
//!
//! - `{"$patch": "delete", "name": "x"}` in a keyed list removes item `x`; `{"$patch": "replace"}` in a map
//!   or list replaces it whole; `"$patch": "delete"` in a map deletes that map;
//! - `"$setElementOrder/<list>": [{"name": "a"}, ...]` orders the merged list;
//! - `"$deleteFromPrimitiveList/<list>": [...]` removes values from a merged list of scalars (finalizers);
//! - `"$retainKeys": [...]` keeps only these keys of the map.
//!
//! Lists of scalars are replaced whole (`command`, `args`), except `finalizers`, which merge as a set.

use serde_json::{Map, Value};

/// The merge key of list `field` under `path` (the names of the enclosing fields), if it merges by key.
pub(crate) fn merge_key(path: &[String], field: &str) -> Option<&'static str> {
    let parent = path.last().map(String::as_str);
    match field {
        "containers"
        | "initContainers"
        | "ephemeralContainers"
        | "env"
        | "volumes"
        | "imagePullSecrets" => Some("name"),
        "volumeMounts" => Some("mountPath"),
        "ownerReferences" => Some("uid"),
        "conditions" => Some("type"),
        "addresses" if parent == Some("status") => Some("type"),
        "ports" => match parent {
            Some("containers") | Some("initContainers") | Some("ephemeralContainers") => {
                Some("containerPort")
            }
            Some("spec") => Some("port"),
            _ => None,
        },
        _ => None,
    }
}

/// Lists of scalars that merge as sets.
pub(crate) fn merges_as_set(field: &str) -> bool {
    field == "finalizers"
}

/// Applies a strategic merge patch to `doc`.
///
/// ```
/// use serde_json::json;
/// use skiff_core::client::strategic_merge;
///
/// let mut pod = json!({"spec": {"containers": [
///     {"name": "web", "image": "nginx:1.26", "env": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}]},
///     {"name": "sidecar", "image": "busybox"}
/// ]}});
/// let patch = json!({"spec": {
///     "$setElementOrder/containers": [{"name": "web"}],
///     "containers": [
///         {"name": "web", "image": "nginx:1.27", "env": [{"$patch": "delete", "name": "B"}]},
///         {"$patch": "delete", "name": "sidecar"}
///     ]
/// }});
/// strategic_merge(&mut pod, &patch);
/// assert_eq!(pod, json!({"spec": {"containers": [
///     {"name": "web", "image": "nginx:1.27", "env": [{"name": "A", "value": "1"}]}
/// ]}}));
/// ```
pub fn strategic_merge(doc: &mut Value, patch: &Value) {
    let mut path = Vec::new();
    merge_value(doc, patch, &mut path);
}

fn merge_value(doc: &mut Value, patch: &Value, path: &mut Vec<String>) {
    match (doc.as_object_mut(), patch.as_object()) {
        (Some(target), Some(p)) => merge_map(target, p, path),
        _ => *doc = strip(patch),
    }
}

/// A patch value with every directive removed (what ends up in the object when nothing is merged).
fn strip(v: &Value) -> Value {
    match v {
        Value::Object(m) => Value::Object(
            m.iter()
                .filter(|(k, _)| !k.starts_with('$'))
                .filter(|(_, v)| !v.is_null())
                .map(|(k, v)| (k.clone(), strip(v)))
                .collect(),
        ),
        Value::Array(items) => Value::Array(
            items
                .iter()
                .filter(|i| i.get("$patch").is_none())
                .map(strip)
                .collect(),
        ),
        other => other.clone(),
    }
}

fn merge_map(target: &mut Map<String, Value>, patch: &Map<String, Value>, path: &mut Vec<String>) {
    if patch.get("$patch").and_then(Value::as_str) == Some("replace") {
        if let Value::Object(m) = strip(&Value::Object(patch.clone())) {
            *target = m;
        }
        return;
    }
    for (k, v) in patch {
        if k.starts_with('$') {
            continue;
        }
        if v.is_null() || v.get("$patch").and_then(Value::as_str) == Some("delete") {
            target.remove(k);
            continue;
        }
        path.push(k.clone());
        match (target.get_mut(k), v) {
            (Some(Value::Object(t)), Value::Object(p)) => merge_map(t, p, path),
            (Some(Value::Array(t)), Value::Array(p)) => {
                path.pop();
                merge_list(t, p, path, k);
                path.push(k.clone());
            }
            (_, v) => {
                target.insert(k.clone(), strip(v));
            }
        }
        path.pop();
    }
    for (k, v) in patch {
        if let (Some(field), Some(values)) =
            (k.strip_prefix("$deleteFromPrimitiveList/"), v.as_array())
        {
            if let Some(Value::Array(list)) = target.get_mut(field) {
                list.retain(|item| !values.contains(item));
            }
        }
    }
    for (k, v) in patch {
        if let (Some(field), Some(order)) = (k.strip_prefix("$setElementOrder/"), v.as_array()) {
            let key = merge_key(path, field);
            if let Some(Value::Array(list)) = target.get_mut(field) {
                reorder(list, order, key);
            }
        }
    }
    if let Some(keep) = patch.get("$retainKeys").and_then(Value::as_array) {
        target.retain(|k, _| keep.iter().any(|v| v.as_str() == Some(k)));
    }
}

fn merge_list(target: &mut Vec<Value>, patch: &[Value], path: &mut Vec<String>, field: &str) {
    if patch
        .iter()
        .any(|i| i.get("$patch").and_then(Value::as_str) == Some("replace"))
    {
        *target = patch
            .iter()
            .filter(|i| i.get("$patch").is_none())
            .map(strip)
            .collect();
        return;
    }
    if merges_as_set(field) {
        for v in patch {
            if !target.contains(v) {
                target.push(v.clone());
            }
        }
        return;
    }
    let Some(key) = merge_key(path, field) else {
        *target = patch.iter().map(strip).collect();
        return;
    };
    path.push(field.to_string());
    for item in patch {
        let Some(id) = item.get(key) else { continue };
        let pos = target.iter().position(|t| t.get(key) == Some(id));
        match (item.get("$patch").and_then(Value::as_str), pos) {
            (Some("delete"), Some(i)) => {
                target.remove(i);
            }
            (Some("delete"), None) => {}
            (_, Some(i)) => merge_value(&mut target[i], item, path),
            (_, None) => target.push(strip(item)),
        }
    }
    path.pop();
}

/// Orders `list` as `order` says (items it does not name keep their relative order, at the end).
fn reorder(list: &mut Vec<Value>, order: &[Value], key: Option<&str>) {
    let id = |v: &Value| -> Value {
        match key {
            Some(k) => v.get(k).cloned().unwrap_or(Value::Null),
            None => v.clone(),
        }
    };
    let mut rest = std::mem::take(list);
    for o in order {
        let want = id(o);
        if let Some(i) = rest.iter().position(|v| id(v) == want) {
            list.push(rest.remove(i));
        }
    }
    list.extend(rest);
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn apply(mut doc: Value, patch: Value) -> Value {
        strategic_merge(&mut doc, &patch);
        doc
    }

    #[test]
    fn maps_merge_and_null_deletes() {
        let d = apply(
            json!({"metadata": {"labels": {"a": "1", "b": "2"}}}),
            json!({"metadata": {"labels": {"a": null, "c": "3"}}}),
        );
        assert_eq!(d, json!({"metadata": {"labels": {"b": "2", "c": "3"}}}));
    }

    #[test]
    fn keyed_lists_merge_by_key_and_new_items_append() {
        let d = apply(
            json!({"spec": {"containers": [{"name": "a", "image": "1", "ports": [{"containerPort": 80, "name": "http"}]}]}}),
            json!({"spec": {"containers": [
                {"name": "a", "ports": [{"containerPort": 80, "protocol": "TCP"}, {"containerPort": 443}]},
                {"name": "b", "image": "2"}
            ]}}),
        );
        assert_eq!(
            d,
            json!({"spec": {"containers": [
                {"name": "a", "image": "1", "ports": [{"containerPort": 80, "name": "http", "protocol": "TCP"}, {"containerPort": 443}]},
                {"name": "b", "image": "2"}
            ]}})
        );
    }

    #[test]
    fn scalar_lists_are_replaced_and_finalizers_merge_as_a_set() {
        let d = apply(
            json!({"metadata": {"finalizers": ["a"]}, "spec": {"containers": [{"name": "c", "args": ["x", "y"]}]}}),
            json!({"metadata": {"finalizers": ["b", "a"]}, "spec": {"containers": [{"name": "c", "args": ["z"]}]}}),
        );
        assert_eq!(d["metadata"]["finalizers"], json!(["a", "b"]));
        assert_eq!(d["spec"]["containers"][0]["args"], json!(["z"]));
        let d = apply(
            d,
            json!({"metadata": {"$deleteFromPrimitiveList/finalizers": ["a"]}}),
        );
        assert_eq!(d["metadata"]["finalizers"], json!(["b"]));
    }

    #[test]
    fn delete_replace_order_and_retain_directives() {
        let base = json!({"spec": {"volumes": [{"name": "a", "emptyDir": {}}, {"name": "b", "emptyDir": {}}, {"name": "c", "emptyDir": {}}]}});
        let d = apply(
            base.clone(),
            json!({"spec": {"volumes": [{"$patch": "delete", "name": "b"}]}}),
        );
        assert_eq!(
            d["spec"]["volumes"],
            json!([{"name": "a", "emptyDir": {}}, {"name": "c", "emptyDir": {}}])
        );
        let d = apply(
            base.clone(),
            json!({"spec": {"$setElementOrder/volumes": [{"name": "c"}, {"name": "a"}, {"name": "b"}]}}),
        );
        let names: Vec<&str> = d["spec"]["volumes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v["name"].as_str().unwrap())
            .collect();
        assert_eq!(names, ["c", "a", "b"]);
        let d = apply(
            base,
            json!({"spec": {"volumes": [{"name": "z", "emptyDir": {}}, {"$patch": "replace"}]}}),
        );
        assert_eq!(d["spec"]["volumes"], json!([{"name": "z", "emptyDir": {}}]));
        let d = apply(
            json!({"spec": {"a": 1, "b": 2, "c": 3}}),
            json!({"spec": {"$retainKeys": ["a", "c"], "c": 4}}),
        );
        assert_eq!(d, json!({"spec": {"a": 1, "c": 4}}));
        let d = apply(
            json!({"spec": {"selector": {"a": "b"}, "x": 1}}),
            json!({"spec": {"selector": {"$patch": "replace", "c": "d"}}}),
        );
        assert_eq!(d["spec"]["selector"], json!({"c": "d"}));
    }

    #[test]
    fn service_ports_merge_by_port() {
        let d = apply(
            json!({"spec": {"ports": [{"port": 80, "targetPort": 8080}, {"port": 443}]}}),
            json!({"spec": {"ports": [{"port": 80, "targetPort": 9090}]}}),
        );
        assert_eq!(
            d["spec"]["ports"],
            json!([{"port": 80, "targetPort": 9090}, {"port": 443}])
        );
    }
}
