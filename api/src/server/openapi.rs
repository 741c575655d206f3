//! OpenAPI v3 documents: per group-version, the paths kubectl looks at to see that the server validates
//! fields itself (`fieldValidation` on every kind's `patch`), so `kubectl create` and `apply` send
//! `fieldValidation=Strict` and leave validation to the server; and `components.schemas`, generated from
//! the kinds' Rust types ([`skiff_core::openapi`]), which `kubectl explain` renders.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{json, Value};
use skiff_core::codec::Scheme;
use skiff_core::openapi::Schemas;
use skiff_core::{ApiResource, Scope};

fn gv_path(r: &ApiResource) -> String {
    if r.group.is_empty() {
        format!("api/{}", r.version)
    } else {
        format!("apis/{}/{}", r.group, r.version)
    }
}

/// A hash of a document's content (kubectl caches documents by it).
fn hash(doc: &Value) -> String {
    let mut h: u64 = 0xcbf29ce484222325;
    for b in serde_json::to_vec(doc).unwrap_or_default() {
        h = (h ^ u64::from(b)).wrapping_mul(0x100000001b3);
    }
    format!("{h:016X}")
}

/// The OpenAPI v3 documents of a scheme, built once: the index and one document per group-version.
pub struct OpenApi {
    index: Value,
    documents: BTreeMap<String, Value>,
}

impl OpenApi {
    /// Builds every document of `scheme`.
    pub fn new(scheme: &Scheme) -> Self {
        let schemas = Schemas::generate(scheme);
        let mut documents = BTreeMap::new();
        let mut paths = BTreeMap::new();
        let gvs: BTreeSet<(String, String)> = scheme
            .resources()
            .map(|r| (r.group.clone(), r.version.clone()))
            .collect();
        for (group, version) in gvs {
            let Some(r) = scheme
                .resources()
                .find(|r| r.group == group && r.version == version)
            else {
                continue;
            };
            let p = gv_path(r);
            let Some(mut doc) = group_version(&p, scheme.resources()) else {
                continue;
            };
            doc["components"] = json!({"schemas": schemas.for_group_version(&group, &version)});
            paths.insert(
                p.clone(),
                json!({"serverRelativeURL": format!("/openapi/v3/{p}?hash={}", hash(&doc))}),
            );
            documents.insert(p, doc);
        }
        Self {
            index: json!({"paths": paths}),
            documents,
        }
    }

    /// `/openapi/v3`: the index of group-version documents.
    pub fn index(&self) -> &Value {
        &self.index
    }

    /// `/openapi/v3/<gv path>` (`api/v1`, `apis/apps/v1`).
    pub fn document(&self, gv: &str) -> Option<&Value> {
        self.documents.get(gv)
    }
}

/// The paths of one group-version: per kind a `patch` and `put` operation taking `fieldValidation`.
fn group_version<'a>(gv: &str, resources: impl Iterator<Item = &'a ApiResource>) -> Option<Value> {
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
