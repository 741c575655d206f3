//! OpenAPI v3 schemas of a [`Scheme`]'s kinds, generated from their Rust types with `schemars`: what
//! `kubectl explain` renders (descriptions from doc comments, types, required fields, nested types).
//!
//! Each kind's schema is named like Kubernetes names it (`io.k8s.api.core.v1.Pod`, `com.example.v1.Greeting`)
//! and carries `x-kubernetes-group-version-kind`; the types it uses keep their Rust names (`PodSpec`,
//! `Container`), made unique by `schemars`. References point at `#/components/schemas/<name>`, through
//! `allOf` when the field has its own description, as Kubernetes' documents do.
//!
//! ```
//! use skiff_core::codec::Scheme;
//! use skiff_core::openapi::Schemas;
//!
//! let schemas = Schemas::generate(&Scheme::builtin());
//! let pod = &schemas.for_group_version("", "v1")["io.k8s.api.core.v1.Pod"];
//! assert_eq!(pod["x-kubernetes-group-version-kind"][0]["kind"], "Pod");
//! assert!(pod["properties"]["spec"]["description"].is_string());
//! ```

use std::collections::{BTreeMap, BTreeSet};

use schemars::generate::SchemaSettings;
use serde_json::{json, Map, Value};

use crate::codec::Scheme;
use crate::ApiResource;

/// Where schemas live in an OpenAPI v3 document; every `$ref` starts with it.
pub const REF_PREFIX: &str = "#/components/schemas/";

/// The schemas of every registered kind and of the types they use, by name.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Schemas {
    schemas: BTreeMap<String, Value>,
    kinds: Vec<(ApiResource, String)>,
}

/// The schema name of a kind, as Kubernetes names it: `io.k8s.api.core.v1.Pod`,
/// `io.k8s.api.coordination.v1.Lease`, `com.example.v1.Greeting`.
pub fn kind_schema_name(res: &ApiResource) -> String {
    let group = if res.group.is_empty() {
        "io.k8s.api.core".to_string()
    } else if let Some(short) = res.group.strip_suffix(".k8s.io") {
        format!("io.k8s.api.{short}")
    } else if !res.group.contains('.') {
        format!("io.k8s.api.{}", res.group)
    } else {
        res.group.split('.').rev().collect::<Vec<_>>().join(".")
    };
    format!("{group}.{}.{}", res.version, res.kind)
}

impl Schemas {
    /// Generates the schemas of every kind registered in `scheme`.
    pub fn generate(scheme: &Scheme) -> Self {
        let mut generator = SchemaSettings::openapi3()
            .with(|s| s.meta_schema = None)
            .into_generator();
        let roots: Vec<(ApiResource, Value)> = scheme
            .schemas()
            .map(|(res, schema_fn)| (res.clone(), schema_fn(&mut generator).to_value()))
            .collect();
        let mut schemas: BTreeMap<String, Value> =
            generator.take_definitions(true).into_iter().collect();

        // Rename each kind's schema to its Kubernetes name.
        let mut renames: BTreeMap<String, String> = BTreeMap::new();
        let mut bodies = Vec::new();
        for (res, root) in &roots {
            let name = kind_schema_name(res);
            let body = match ref_target(root) {
                Some(old) => {
                    renames.entry(old.clone()).or_insert_with(|| name.clone());
                    schemas.get(&old).cloned().unwrap_or_else(|| json!({}))
                }
                None => root.clone(),
            };
            bodies.push((name, body));
        }
        for old in renames.keys() {
            schemas.remove(old);
        }
        let mut kinds = Vec::new();
        for ((res, _), (name, mut body)) in roots.into_iter().zip(bodies) {
            if let Some(obj) = body.as_object_mut() {
                obj.insert(
                    "x-kubernetes-group-version-kind".into(),
                    json!([{"group": res.group, "kind": res.kind, "version": res.version}]),
                );
            }
            schemas.insert(name.clone(), body);
            kinds.push((res, name));
        }
        for schema in schemas.values_mut() {
            normalize(schema, &renames);
        }
        Self { schemas, kinds }
    }

    /// Every schema, by name.
    pub fn all(&self) -> &BTreeMap<String, Value> {
        &self.schemas
    }

    /// The schema name of each registered kind.
    pub fn kinds(&self) -> impl Iterator<Item = (&ApiResource, &str)> {
        self.kinds.iter().map(|(r, n)| (r, n.as_str()))
    }

    /// The schemas of one group-version's kinds and of everything they reference: the
    /// `components.schemas` of that group-version's document.
    pub fn for_group_version(&self, group: &str, version: &str) -> Map<String, Value> {
        let mut todo: Vec<&str> = self
            .kinds
            .iter()
            .filter(|(r, _)| r.group == group && r.version == version)
            .map(|(_, n)| n.as_str())
            .collect();
        let mut seen = BTreeSet::new();
        let mut out = Map::new();
        while let Some(name) = todo.pop() {
            if !seen.insert(name.to_string()) {
                continue;
            }
            let Some(schema) = self.schemas.get(name) else {
                continue;
            };
            let mut refs = Vec::new();
            collect_refs(schema, &mut refs);
            todo.extend(refs);
            out.insert(name.to_string(), schema.clone());
        }
        out
    }
}

/// The schema name a `{"$ref": "#/components/schemas/<name>"}` points at.
fn ref_target(schema: &Value) -> Option<String> {
    schema
        .get("$ref")
        .and_then(Value::as_str)
        .and_then(|r| r.strip_prefix(REF_PREFIX))
        .map(|n| n.replace("~1", "/").replace("~0", "~"))
}

fn collect_refs<'a>(v: &'a Value, out: &mut Vec<&'a str>) {
    match v {
        Value::Object(m) => {
            for (k, v) in m {
                match (k.as_str(), v) {
                    ("$ref", Value::String(r)) => {
                        if let Some(name) = r.strip_prefix(REF_PREFIX) {
                            out.push(name);
                        }
                    }
                    _ => collect_refs(v, out),
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|i| collect_refs(i, out)),
        _ => {}
    }
}

/// Shapes a generated schema the way Kubernetes' documents are shaped (and `kubectl explain` reads them):
/// renamed references, `Option<T>` as plain `T`, `$ref` with siblings wrapped in `allOf`, descriptions
/// without Rust code examples, no `default` taken from Rust's `Default`.
fn normalize(schema: &mut Value, renames: &BTreeMap<String, String>) {
    if schema.as_bool() == Some(true) {
        *schema = json!({});
    }
    let Some(obj) = schema.as_object_mut() else {
        return;
    };
    if let Some(Value::Object(props)) = obj.get_mut("properties") {
        props.values_mut().for_each(|p| normalize(p, renames));
    }
    for key in ["additionalProperties", "items", "not"] {
        if let Some(v) = obj.get_mut(key).filter(|v| v.is_object()) {
            normalize(v, renames);
        }
    }
    for key in ["allOf", "anyOf", "oneOf"] {
        if let Some(Value::Array(items)) = obj.get_mut(key) {
            items.iter_mut().for_each(|i| normalize(i, renames));
        }
    }
    if let Some(Value::String(r)) = obj.get_mut("$ref") {
        // Hand-written schemas may still point at JSON Schema's `$defs` or `definitions`.
        let target = ["#/$defs/", "#/definitions/", REF_PREFIX]
            .iter()
            .find_map(|p| r.strip_prefix(p))
            .map(str::to_string);
        if let Some(target) = target {
            let name = renames.get(&target).cloned().unwrap_or(target);
            *r = format!("{REF_PREFIX}{name}");
        }
    }
    collapse_nullable(obj);
    // Rust's `Default` is not Kubernetes' default (defaulting fills those), so it is not advertised.
    obj.remove("default");
    if obj.contains_key("$ref") && obj.len() > 1 {
        if let Some(r) = obj.remove("$ref") {
            obj.insert("allOf".into(), json!([{"$ref": r}]));
        }
    }
    if let Some(title) = obj.remove("title") {
        obj.entry("description").or_insert(title);
    }
    if let Some(Value::String(d)) = obj.get_mut("description") {
        *d = clean_description(d);
    }
}

fn is_null_schema(v: &Value) -> bool {
    v.get("type").and_then(Value::as_str) == Some("null")
        || (v.get("const") == Some(&Value::Null) && v.get("$ref").is_none())
        || v.get("enum") == Some(&json!([null]))
}

/// `anyOf: [T, null]` (an `Option<T>`) becomes `T`; other keys of the outer schema win.
fn collapse_nullable(obj: &mut Map<String, Value>) {
    for key in ["anyOf", "oneOf"] {
        let Some(Value::Array(items)) = obj.get_mut(key) else {
            continue;
        };
        if !items.iter().any(is_null_schema) {
            continue;
        }
        items.retain(|i| !is_null_schema(i));
        if items.len() == 1 {
            if let Some(Value::Object(inner)) = items.pop() {
                obj.remove(key);
                for (k, v) in inner {
                    obj.entry(k).or_insert(v);
                }
            }
        }
    }
    if obj.get("nullable") == Some(&Value::Bool(true)) {
        obj.remove("nullable");
    }
}

/// A doc comment as a description: without fenced code blocks (doc tests), trimmed.
fn clean_description(doc: &str) -> String {
    let mut out = Vec::new();
    let mut in_code = false;
    for line in doc.lines() {
        if line.trim_start().starts_with("```") {
            in_code = !in_code;
            continue;
        }
        if !in_code {
            out.push(line);
        }
    }
    let text = out.join("\n");
    let mut text = text.trim().to_string();
    while text.contains("\n\n\n") {
        text = text.replace("\n\n\n", "\n\n");
    }
    text
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::Resource;

    fn walk<'a>(v: &'a Value, out: &mut Vec<&'a Value>) {
        out.push(v);
        match v {
            Value::Object(m) => m.values().for_each(|v| walk(v, out)),
            Value::Array(a) => a.iter().for_each(|v| walk(v, out)),
            _ => {}
        }
    }

    #[test]
    fn every_builtin_kind_has_a_schema_with_its_group_version_kind() {
        let scheme = Scheme::builtin();
        let schemas = Schemas::generate(&scheme);
        for res in scheme.resources() {
            let doc = schemas.for_group_version(&res.group, &res.version);
            let name = kind_schema_name(res);
            let schema = doc.get(&name).unwrap_or_else(|| panic!("no schema {name}"));
            assert_eq!(
                schema["x-kubernetes-group-version-kind"],
                json!([{"group": res.group, "kind": res.kind, "version": res.version}]),
                "{name}"
            );
            assert_eq!(schema["type"], "object", "{name}");
            assert!(schema["description"].is_string(), "{name}");
            for field in ["apiVersion", "kind", "metadata"] {
                assert!(schema["properties"][field].is_object(), "{name}.{field}");
            }
            // Every reference resolves inside the group-version's own document.
            let mut refs = Vec::new();
            for s in doc.values() {
                collect_refs(s, &mut refs);
            }
            for r in refs {
                assert!(doc.contains_key(r), "{name}: dangling $ref {r}");
            }
        }
        assert_eq!(
            schemas.kinds().count(),
            scheme.resources().count(),
            "one schema per kind"
        );
    }

    #[test]
    fn pod_schema_reads_like_kubernetes() {
        let schemas = Schemas::generate(&Scheme::builtin());
        let all = schemas.all();
        let pod = &all["io.k8s.api.core.v1.Pod"];
        assert!(pod["description"]
            .as_str()
            .unwrap()
            .starts_with("A Pod: the smallest deployable unit"));
        assert!(!pod["description"].as_str().unwrap().contains("```"));
        // A described field referencing a type goes through allOf.
        let spec = &pod["properties"]["spec"];
        assert_eq!(spec["description"], "Desired state.");
        let spec_ref = spec["allOf"][0]["$ref"].as_str().unwrap();
        let spec_schema = &all[spec_ref.strip_prefix(REF_PREFIX).unwrap()];
        assert!(spec_schema["properties"]["containers"]["description"].is_string());
        // `status: Option<PodStatus>` is a plain reference, not anyOf with null.
        assert!(pod["properties"]["status"]["allOf"][0]["$ref"].is_string());
        let containers = &spec_schema["properties"]["containers"];
        assert_eq!(containers["type"], "array");
        let container = &all[containers["items"]["$ref"]
            .as_str()
            .unwrap()
            .strip_prefix(REF_PREFIX)
            .unwrap()];
        assert!(container["properties"]["image"]["description"].is_string());
        // No schemars leftovers anywhere.
        let mut nodes = Vec::new();
        for s in all.values() {
            walk(s, &mut nodes);
        }
        for n in nodes {
            if let Some(m) = n.as_object() {
                assert!(!m.contains_key("$defs") && !m.contains_key("definitions"));
                if let Some(r) = m.get("$ref").and_then(Value::as_str) {
                    assert!(r.starts_with(REF_PREFIX), "{r}");
                    assert_eq!(m.len(), 1, "$ref with siblings: {n}");
                }
            }
        }
    }

    #[test]
    fn special_types_have_kubernetes_schemas() {
        let all = Schemas::generate(&Scheme::builtin()).all().clone();
        let text = serde_json::to_string(&all).unwrap();
        assert!(text.contains("\"format\":\"date-time\""));
        let ios = &all["IntOrString"];
        assert_eq!(ios["x-kubernetes-int-or-string"], true);
        let container = &all["Container"];
        let limits = &all[container["properties"]["resources"]["allOf"][0]["$ref"]
            .as_str()
            .unwrap()
            .strip_prefix(REF_PREFIX)
            .unwrap()]["properties"]["limits"];
        assert_eq!(limits["additionalProperties"]["type"], "string");
    }

    #[test]
    fn user_kinds_are_named_by_reversed_group() {
        let res = ApiResource {
            group: "example.com".into(),
            version: "v1".into(),
            kind: "Greeting".into(),
            plural: "greetings".into(),
            singular: "greeting".into(),
            short_names: vec![],
            scope: crate::Scope::Namespaced,
            selectable_fields: &[],
        };
        assert_eq!(kind_schema_name(&res), "com.example.v1.Greeting");
        let lease = crate::kinds::Lease::api_resource();
        assert_eq!(kind_schema_name(&lease), "io.k8s.api.coordination.v1.Lease");
    }

    #[test]
    fn refs_to_defs_and_definitions_point_at_components() {
        let mut s = json!({"properties": {
            "a": {"$ref": "#/$defs/A"},
            "b": {"$ref": "#/definitions/B", "description": "b"}
        }});
        normalize(&mut s, &BTreeMap::new());
        assert_eq!(
            s["properties"]["a"],
            json!({"$ref": "#/components/schemas/A"})
        );
        assert_eq!(
            s["properties"]["b"],
            json!({"allOf": [{"$ref": "#/components/schemas/B"}], "description": "b"})
        );
    }

    #[test]
    fn descriptions_lose_code_blocks() {
        assert_eq!(
            clean_description("A thing.\n\n```\nlet x = 1;\n```\n\nMore."),
            "A thing.\n\nMore."
        );
    }
}
