//! A minimal OpenAPI v3 document: enough for kubectl to see that the server validates fields itself
//! (`fieldValidation` on every kind's `patch`), so `kubectl create` and `apply` send `fieldValidation=Strict`
//! and leave validation to the server. Schemas for `kubectl explain` are still to come.

use std::collections::BTreeMap;

use serde_json::{json, Value};
use skiff_core::{ApiResource, Scope};

fn gv_path(r: &ApiResource) -> String {
    if r.group.is_empty() {
        format!("api/{}", r.version)
    } else {
        format!("apis/{}/{}", r.group, r.version)
    }
}

/// A hash that changes when the served kinds change (kubectl caches documents by it).
fn hash<'a>(resources: impl Iterator<Item = &'a ApiResource>) -> String {
    let mut h: u64 = 0xcbf29ce484222325;
    for r in resources {
        for b in r.api_version().bytes().chain(r.plural.bytes()) {
            h = (h ^ u64::from(b)).wrapping_mul(0x100000001b3);
        }
    }
    format!("{h:016X}")
}

/// `/openapi/v3`: the index of group-version documents.
pub fn index<'a>(resources: impl Iterator<Item = &'a ApiResource>) -> Value {
    let resources: Vec<&ApiResource> = resources.collect();
    let h = hash(resources.iter().copied());
    let mut paths = BTreeMap::new();
    for r in resources {
        let p = gv_path(r);
        paths.insert(
            p.clone(),
            json!({"serverRelativeURL": format!("/openapi/v3/{p}?hash={h}")}),
        );
    }
    json!({"paths": paths})
}

/// `/openapi/v3/<gv path>`: one path per kind with a `patch` operation taking `fieldValidation`.
pub fn group_version<'a>(
    gv: &str,
    resources: impl Iterator<Item = &'a ApiResource>,
) -> Option<Value> {
    let mut paths = BTreeMap::new();
    for r in resources.filter(|r| gv_path(r) == gv) {
        let object_path = match r.scope {
            Scope::Namespaced => format!("/{gv}/namespaces/{{namespace}}/{}/{{name}}", r.plural),
            Scope::Cluster => format!("/{gv}/{}/{{name}}", r.plural),
        };
        let gvk = json!({"group": r.group, "version": r.version, "kind": r.kind});
        let op = json!({
            "x-kubernetes-group-version-kind": gvk,
            "parameters": [{"name": "fieldValidation", "in": "query", "schema": {"type": "string"}}],
            "responses": {"200": {"description": "OK"}},
        });
        paths.insert(object_path, json!({"patch": op.clone(), "put": op}));
    }
    if paths.is_empty() {
        return None;
    }
    Some(json!({"openapi": "3.0.0", "info": {"title": "Skiff", "version": "v1"}, "paths": paths}))
}
