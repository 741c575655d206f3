//! Field paths and sets of them, in Kubernetes' `FieldsV1` encoding (`f:spec`, `k:{"name":"main"}`, `v:"x"`).

use std::collections::BTreeSet;
use std::fmt;

use serde_json::{json, Map, Value};

use super::FieldsV1Error;
use crate::client::strategic_merge::{merge_key, merges_as_set};

/// One step of a field path.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum PathElement {
    /// A field of an object (`f:image`).
    Field(String),
    /// The item of a keyed list whose merge key has this value (`k:{"name":"main"}`); the compact JSON of the key.
    Key(String),
    /// A value of a list merged as a set (`v:"example.com/x"`); its compact JSON.
    Value(String),
    /// The item at an index of a list (`i:0`).
    Index(usize),
}

impl PathElement {
    /// The `FieldsV1` key: `f:name`, `k:{...}`, `v:...`, `i:N`.
    pub fn encode(&self) -> String {
        match self {
            PathElement::Field(f) => format!("f:{f}"),
            PathElement::Key(k) => format!("k:{k}"),
            PathElement::Value(v) => format!("v:{v}"),
            PathElement::Index(i) => format!("i:{i}"),
        }
    }

    /// Parses a `FieldsV1` key.
    pub fn decode(s: &str) -> Result<Self, FieldsV1Error> {
        let bad = || FieldsV1Error(format!("invalid key {s:?}"));
        let (kind, rest) = s.split_once(':').ok_or_else(bad)?;
        match kind {
            "f" => Ok(PathElement::Field(rest.to_string())),
            "k" => {
                let key: Map<String, Value> = serde_json::from_str(rest).map_err(|_| bad())?;
                Ok(PathElement::Key(Value::Object(key).to_string()))
            }
            "v" => {
                let v: Value = serde_json::from_str(rest).map_err(|_| bad())?;
                Ok(PathElement::Value(v.to_string()))
            }
            "i" => rest.parse().map(PathElement::Index).map_err(|_| bad()),
            _ => Err(bad()),
        }
    }

    /// Whether `item` (a list item) is the one this element names.
    fn matches(&self, index: usize, item: &Value) -> bool {
        match self {
            PathElement::Field(_) => false,
            PathElement::Index(i) => *i == index,
            PathElement::Value(v) => serde_json::from_str::<Value>(v).is_ok_and(|v| &v == item),
            PathElement::Key(k) => match serde_json::from_str::<Map<String, Value>>(k) {
                Ok(key) => key.iter().all(|(f, v)| item.get(f) == Some(v)),
                Err(_) => false,
            },
        }
    }
}

/// A path from the object's root, e.g. `.spec.containers[name="main"].image`.
#[derive(Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct FieldPath(pub Vec<PathElement>);

impl fmt::Display for FieldPath {
    /// As Kubernetes prints paths in conflict messages.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for e in &self.0 {
            match e {
                PathElement::Field(name) => write!(f, ".{name}")?,
                PathElement::Index(i) => write!(f, "[{i}]")?,
                PathElement::Value(v) => write!(f, "[={v}]")?,
                PathElement::Key(k) => {
                    let key: Map<String, Value> = serde_json::from_str(k).unwrap_or_default();
                    let parts: Vec<String> = key.iter().map(|(k, v)| format!("{k}={v}")).collect();
                    write!(f, "[{}]", parts.join(","))?
                }
            }
        }
        Ok(())
    }
}

impl FieldPath {
    /// Whether `self` is `other` or inside it.
    pub fn starts_with(&self, other: &FieldPath) -> bool {
        self.0.starts_with(&other.0)
    }

    /// Whether the path names a list item (keyed, set value or index) rather than a field.
    pub fn is_item(&self) -> bool {
        !matches!(self.0.last(), Some(PathElement::Field(_)) | None)
    }

    /// Whether the path is a merge key field of a keyed list item (`name` of `[name="main"]`): it identifies
    /// the item and goes only with it.
    pub fn is_merge_key(&self) -> bool {
        match self.0.as_slice() {
            [.., PathElement::Key(k), PathElement::Field(f)] => {
                serde_json::from_str::<Map<String, Value>>(k).is_ok_and(|k| k.contains_key(f))
            }
            _ => false,
        }
    }

    /// The value at this path in `v`.
    pub fn get<'a>(&self, v: &'a Value) -> Option<&'a Value> {
        let mut cur = v;
        for e in &self.0 {
            cur = match (e, cur) {
                (PathElement::Field(name), Value::Object(m)) => m.get(name)?,
                (_, Value::Array(items)) => items
                    .iter()
                    .enumerate()
                    .find(|(i, item)| e.matches(*i, item))
                    .map(|(_, item)| item)?,
                _ => return None,
            };
        }
        Some(cur)
    }

    /// Removes the field or list item at this path from `v`; false when it is not there.
    pub fn remove(&self, v: &mut Value) -> bool {
        let Some((last, parent)) = self.0.split_last() else {
            return false;
        };
        let Some(container) = FieldPath(parent.to_vec()).get_mut(v) else {
            return false;
        };
        match (last, container) {
            (PathElement::Field(name), Value::Object(m)) => m.remove(name).is_some(),
            (e, Value::Array(items)) => {
                match items
                    .iter()
                    .enumerate()
                    .position(|(i, item)| e.matches(i, item))
                {
                    Some(i) => {
                        items.remove(i);
                        true
                    }
                    None => false,
                }
            }
            _ => false,
        }
    }

    fn get_mut<'a>(&self, v: &'a mut Value) -> Option<&'a mut Value> {
        let mut cur = v;
        for e in &self.0 {
            cur = match (e, cur) {
                (PathElement::Field(name), Value::Object(m)) => m.get_mut(name)?,
                (_, Value::Array(items)) => {
                    let i = items
                        .iter()
                        .enumerate()
                        .position(|(i, item)| e.matches(i, item))?;
                    items.get_mut(i)?
                }
                _ => return None,
            };
        }
        Some(cur)
    }
}

/// Fields no manager owns: set by the server, or identifying the object.
fn ignored(path: &[PathElement], field: &str) -> bool {
    match path {
        [] => matches!(field, "apiVersion" | "kind" | "status"),
        [PathElement::Field(m)] if m == "metadata" => matches!(
            field,
            "name"
                | "namespace"
                | "uid"
                | "resourceVersion"
                | "generation"
                | "creationTimestamp"
                | "deletionTimestamp"
                | "deletionGracePeriodSeconds"
                | "managedFields"
                | "selfLink"
        ),
        _ => false,
    }
}

/// A set of field paths: what one manager owns.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FieldSet(pub BTreeSet<FieldPath>);

impl FieldSet {
    /// The fields an object (or an applied configuration) sets: every leaf value, every item of a keyed or
    /// set-like list (lists merged by key as in [`strategic_merge`](crate::client::strategic_merge)), and
    /// other lists as a whole. Server-set metadata, `apiVersion`, `kind` and `status` are left out.
    pub fn of(object: &Value) -> Self {
        let mut out = BTreeSet::new();
        walk(object, &mut Vec::new(), &mut Vec::new(), &mut out);
        Self(out)
    }

    /// Whether the set holds no path.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Whether `path`, or a path inside it, is in the set.
    pub fn touches(&self, path: &FieldPath) -> bool {
        self.0
            .range(path.clone()..)
            .next()
            .is_some_and(|p| p.starts_with(path))
    }

    /// Parses `fieldsV1`.
    pub fn from_fields_v1(v: &Value) -> Result<Self, FieldsV1Error> {
        let mut out = BTreeSet::new();
        decode_node(v, &mut Vec::new(), &mut out)?;
        Ok(Self(out))
    }

    /// Encodes as `fieldsV1`: nested objects keyed `f:`/`k:`/`v:`/`i:`, `{}` for a leaf, `".": {}` for a
    /// member that also has members inside it.
    pub fn to_fields_v1(&self) -> Value {
        let mut root = Map::new();
        for path in &self.0 {
            insert_member(&mut root, &path.0);
        }
        let mut v = Value::Object(root);
        drop_lone_dots(&mut v);
        v
    }
}

/// Marks `path` (below `node`) as a member: `".": {}` in its node.
fn insert_member(node: &mut Map<String, Value>, path: &[PathElement]) {
    match path.split_first() {
        None => {
            node.insert(".".into(), json!({}));
        }
        Some((e, rest)) => {
            if let Value::Object(child) = node.entry(e.encode()).or_insert_with(|| json!({})) {
                insert_member(child, rest);
            }
        }
    }
}

/// `{".": {}}` alone is written `{}`.
fn drop_lone_dots(v: &mut Value) {
    if let Value::Object(m) = v {
        if m.len() == 1 && m.contains_key(".") {
            m.clear();
            return;
        }
        for (k, child) in m.iter_mut() {
            if k != "." {
                drop_lone_dots(child);
            }
        }
    }
}

fn decode_node(
    v: &Value,
    path: &mut Vec<PathElement>,
    out: &mut BTreeSet<FieldPath>,
) -> Result<(), FieldsV1Error> {
    let Value::Object(m) = v else {
        return Err(FieldsV1Error(format!(
            "expected an object at {}",
            FieldPath(path.clone())
        )));
    };
    if m.is_empty() && !path.is_empty() {
        out.insert(FieldPath(path.clone()));
    }
    for (k, child) in m {
        if k == "." {
            if !path.is_empty() {
                out.insert(FieldPath(path.clone()));
            }
            continue;
        }
        path.push(PathElement::decode(k)?);
        decode_node(child, path, out)?;
        path.pop();
    }
    Ok(())
}

fn walk(
    v: &Value,
    path: &mut Vec<PathElement>,
    names: &mut Vec<String>,
    out: &mut BTreeSet<FieldPath>,
) {
    match v {
        Value::Object(m) if !m.is_empty() => {
            for (k, child) in m {
                if ignored(path, k) {
                    continue;
                }
                path.push(PathElement::Field(k.clone()));
                match child {
                    Value::Array(items) if !items.is_empty() => {
                        walk_list(items, k, path, names, out)
                    }
                    _ => {
                        names.push(k.clone());
                        walk(child, path, names, out);
                        names.pop();
                    }
                }
                path.pop();
            }
        }
        _ if path.is_empty() => {}
        _ => {
            out.insert(FieldPath(path.clone()));
        }
    }
}

fn walk_list(
    items: &[Value],
    field: &str,
    path: &mut Vec<PathElement>,
    names: &mut Vec<String>,
    out: &mut BTreeSet<FieldPath>,
) {
    let key = merge_key(names, field).filter(|k| items.iter().all(|i| i.get(*k).is_some()));
    if let Some(key) = key {
        names.push(field.to_string());
        for item in items {
            let id = json!({ key: item.get(key) }).to_string();
            path.push(PathElement::Key(id));
            out.insert(FieldPath(path.clone()));
            walk(item, path, names, out);
            path.pop();
        }
        names.pop();
    } else if merges_as_set(field) && items.iter().all(|i| !i.is_object() && !i.is_array()) {
        for item in items {
            path.push(PathElement::Value(item.to_string()));
            out.insert(FieldPath(path.clone()));
            path.pop();
        }
    } else {
        out.insert(FieldPath(path.clone()));
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn fields_of_a_pod_in_fields_v1() {
        let pod = json!({
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": "x", "labels": {"app": "web"}, "finalizers": ["a/b"]},
            "spec": {"containers": [{"name": "main", "image": "nginx", "args": ["-x"],
                                     "ports": [{"containerPort": 80}]}]},
            "status": {"phase": "Running"}
        });
        let set = FieldSet::of(&pod);
        assert_eq!(
            set.to_fields_v1(),
            json!({
                "f:metadata": {"f:labels": {"f:app": {}}, "f:finalizers": {"v:\"a/b\"": {}}},
                "f:spec": {"f:containers": {"k:{\"name\":\"main\"}": {
                    ".": {}, "f:name": {}, "f:image": {}, "f:args": {},
                    "f:ports": {"k:{\"containerPort\":80}": {".": {}, "f:containerPort": {}}}
                }}}
            })
        );
        assert_eq!(FieldSet::from_fields_v1(&set.to_fields_v1()).unwrap(), set);
    }

    #[test]
    fn paths_print_find_and_remove() {
        let mut pod = json!({"spec": {"containers": [{"name": "a", "image": "1"}, {"name": "b", "image": "2"}]}});
        let image_b = FieldPath(vec![
            PathElement::Field("spec".into()),
            PathElement::Field("containers".into()),
            PathElement::Key(r#"{"name":"b"}"#.into()),
            PathElement::Field("image".into()),
        ]);
        assert_eq!(image_b.to_string(), r#".spec.containers[name="b"].image"#);
        assert_eq!(image_b.get(&pod), Some(&json!("2")));
        let item_b = FieldPath(image_b.0[..3].to_vec());
        assert!(item_b.is_item() && !image_b.is_item());
        assert!(item_b.remove(&mut pod));
        assert_eq!(
            pod,
            json!({"spec": {"containers": [{"name": "a", "image": "1"}]}})
        );
        assert!(!image_b.remove(&mut pod));
    }

    #[test]
    fn bad_fields_v1_is_an_error() {
        assert!(FieldSet::from_fields_v1(&json!({"x:y": {}})).is_err());
        assert!(FieldSet::from_fields_v1(&json!({"k:notjson": {}})).is_err());
        assert!(FieldSet::from_fields_v1(&json!({"f:a": 3})).is_err());
    }
}
