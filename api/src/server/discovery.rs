//! Discovery documents: `/version`, `/api`, `/apis`, and the resource lists of each group-version.

use std::collections::BTreeMap;

use serde_json::{json, Value};
use skiff_core::{ApiResource, Scope};

/// The Kubernetes minor version Skiff answers with (kubectl picks its own version from it).
pub const KUBERNETES_MINOR: &str = "32";

pub fn version() -> Value {
    json!({
        "major": "1",
        "minor": KUBERNETES_MINOR,
        "gitVersion": format!("v1.{KUBERNETES_MINOR}.0-skiff"),
        "gitCommit": "",
        "gitTreeState": "clean",
        "buildDate": "",
        "goVersion": "",
        "compiler": "rustc",
        "platform": format!("{}/{}", std::env::consts::OS, if std::env::consts::ARCH == "x86_64" { "amd64" } else { std::env::consts::ARCH }),
    })
}

pub fn api_versions() -> Value {
    json!({
        "kind": "APIVersions",
        "versions": ["v1"],
        "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": ""}],
    })
}

pub fn api_group_list<'a>(resources: impl Iterator<Item = &'a ApiResource>) -> Value {
    let mut groups: BTreeMap<&str, &str> = BTreeMap::new();
    for r in resources {
        if !r.group.is_empty() {
            groups.insert(&r.group, &r.version);
        }
    }
    let groups: Vec<Value> = groups
        .into_iter()
        .map(|(g, v)| {
            let gv = json!({"groupVersion": format!("{g}/{v}"), "version": v});
            json!({"name": g, "versions": [gv.clone()], "preferredVersion": gv})
        })
        .collect();
    json!({"kind": "APIGroupList", "apiVersion": "v1", "groups": groups})
}

/// The verbs every stored kind supports.
const VERBS: &[&str] = &[
    "create",
    "delete",
    "deletecollection",
    "get",
    "list",
    "patch",
    "update",
    "watch",
];

/// Kinds `kubectl get all` lists.
fn in_category_all(r: &ApiResource) -> bool {
    matches!(r.plural.as_str(), "pods" | "services" | "replicasets")
}

fn has_status(r: &ApiResource) -> bool {
    matches!(
        r.plural.as_str(),
        "pods" | "services" | "replicasets" | "nodes" | "namespaces"
    )
}

pub fn api_resource_list<'a>(
    group_version: &str,
    resources: impl Iterator<Item = &'a ApiResource>,
) -> Value {
    let mut list = Vec::new();
    for r in resources.filter(|r| r.api_version() == group_version) {
        let mut entry = json!({
            "name": r.plural,
            "singularName": r.singular,
            "namespaced": r.scope == Scope::Namespaced,
            "kind": r.kind,
            "verbs": VERBS,
        });
        if !r.short_names.is_empty() {
            entry["shortNames"] = json!(r.short_names);
        }
        if in_category_all(r) {
            entry["categories"] = json!(["all"]);
        }
        list.push(entry);
        if r.group.is_empty() && r.plural == "pods" {
            list.push(json!({
                "name": "pods/binding",
                "singularName": "",
                "namespaced": true,
                "kind": "Binding",
                "verbs": ["create"],
            }));
        }
        if has_status(r) {
            list.push(json!({
                "name": format!("{}/status", r.plural),
                "singularName": "",
                "namespaced": r.scope == Scope::Namespaced,
                "kind": r.kind,
                "verbs": ["get", "patch", "update"],
            }));
        }
    }
    json!({"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": group_version, "resources": list})
}
