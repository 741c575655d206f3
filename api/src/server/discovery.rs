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

/// A subresource: its name, the kind it answers with (group, version, kind) and its verbs.
pub(crate) struct Sub {
    pub(crate) name: &'static str,
    kind: (String, String, String),
    verbs: &'static [&'static str],
}

pub(crate) fn subresources(r: &ApiResource) -> Vec<Sub> {
    let own = || (r.group.clone(), r.version.clone(), r.kind.clone());
    let mut out = Vec::new();
    if has_status(r) {
        out.push(Sub {
            name: "status",
            kind: own(),
            verbs: &["get", "patch", "update"],
        });
    }
    match (r.group.as_str(), r.plural.as_str()) {
        ("", "pods") => {
            out.push(Sub {
                name: "binding",
                kind: (String::new(), "v1".into(), "Binding".into()),
                verbs: &["create"],
            });
            out.push(Sub {
                name: "log",
                kind: (String::new(), "v1".into(), "Pod".into()),
                verbs: &["get"],
            });
            out.push(Sub {
                name: "exec",
                kind: (String::new(), "v1".into(), "PodExecOptions".into()),
                verbs: &["create", "get"],
            });
            out.push(Sub {
                name: "attach",
                kind: (String::new(), "v1".into(), "PodAttachOptions".into()),
                verbs: &["create", "get"],
            });
            out.push(Sub {
                name: "portforward",
                kind: (String::new(), "v1".into(), "PodPortForwardOptions".into()),
                verbs: &["create", "get"],
            });
            out.push(Sub {
                name: "ephemeralcontainers",
                kind: (String::new(), "v1".into(), "Pod".into()),
                verbs: &["get", "patch", "update"],
            });
        }
        ("apps", "replicasets") => out.push(Sub {
            name: "scale",
            kind: ("autoscaling".into(), "v1".into(), "Scale".into()),
            verbs: &["get", "patch", "update"],
        }),
        _ => {}
    }
    out
}

/// Whether subresource `sub` of `r` takes `method` (its verbs as discovery lists them).
pub(crate) fn subresource_allows(r: &ApiResource, sub: &str, method: &axum::http::Method) -> bool {
    use axum::http::Method;
    let verb = match *method {
        Method::GET => "get",
        Method::PUT => "update",
        Method::PATCH => "patch",
        Method::POST => "create",
        Method::DELETE => "delete",
        _ => return false,
    };
    subresources(r)
        .iter()
        .any(|s| s.name == sub && s.verbs.contains(&verb))
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
        for sub in subresources(r) {
            let mut e = json!({
                "name": format!("{}/{}", r.plural, sub.name),
                "singularName": "",
                "namespaced": r.scope == Scope::Namespaced,
                "kind": sub.kind.2,
                "verbs": sub.verbs,
            });
            if sub.kind.0 != r.group || sub.kind.1 != r.version {
                e["group"] = json!(sub.kind.0);
                e["version"] = json!(sub.kind.1);
            }
            list.push(e);
        }
    }
    json!({"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": group_version, "resources": list})
}

/// The media type of aggregated discovery (`kubectl` asks for it first).
pub const AGGREGATED_V2: &str =
    "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList";

/// Whether an `Accept` header asks for aggregated discovery v2.
///
/// kubectl sends `application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,
/// application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList,application/json`.
pub fn wants_aggregated(accept: &str) -> bool {
    accept.split(',').any(|media| {
        let params: Vec<&str> = media.split(';').map(str::trim).collect();
        params.first() == Some(&"application/json")
            && params.contains(&"g=apidiscovery.k8s.io")
            && params.contains(&"v=v2")
            && params.contains(&"as=APIGroupDiscoveryList")
    })
}

/// Aggregated discovery (`apidiscovery.k8s.io/v2`): for `/api` (`core` true) the legacy group, for
/// `/apis` every named group, each with its resources, verbs, short names, categories and subresources.
pub fn aggregated<'a>(core: bool, resources: impl Iterator<Item = &'a ApiResource>) -> Value {
    let mut groups: BTreeMap<(String, String), Vec<Value>> = BTreeMap::new();
    for r in resources.filter(|r| r.group.is_empty() == core) {
        let mut entry = json!({
            "resource": r.plural,
            "responseKind": {"group": r.group, "version": r.version, "kind": r.kind},
            "scope": if r.scope == Scope::Namespaced { "Namespaced" } else { "Cluster" },
            "singularResource": r.singular,
            "verbs": VERBS,
        });
        if !r.short_names.is_empty() {
            entry["shortNames"] = json!(r.short_names);
        }
        if in_category_all(r) {
            entry["categories"] = json!(["all"]);
        }
        let subs: Vec<Value> = subresources(r)
            .into_iter()
            .map(|s| {
                json!({
                    "subresource": s.name,
                    "responseKind": {"group": s.kind.0, "version": s.kind.1, "kind": s.kind.2},
                    "verbs": s.verbs,
                })
            })
            .collect();
        if !subs.is_empty() {
            entry["subresources"] = json!(subs);
        }
        groups
            .entry((r.group.clone(), r.version.clone()))
            .or_default()
            .push(entry);
    }
    let mut by_group: BTreeMap<String, Vec<Value>> = BTreeMap::new();
    for ((group, version), resources) in groups {
        by_group.entry(group).or_default().push(json!({
            "version": version,
            "resources": resources,
            "freshness": "Current",
        }));
    }
    let items: Vec<Value> = by_group
        .into_iter()
        .map(|(name, versions)| json!({"metadata": {"name": name}, "versions": versions}))
        .collect();
    json!({
        "kind": "APIGroupDiscoveryList",
        "apiVersion": "apidiscovery.k8s.io/v2",
        "metadata": {},
        "items": items,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aggregated_discovery_is_asked_for_by_kubectl_accept_header() {
        assert!(wants_aggregated("application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList,application/json"));
        assert!(!wants_aggregated("application/json"));
        assert!(!wants_aggregated(
            "application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList"
        ));
    }

    #[test]
    fn aggregated_lists_core_and_named_groups_apart_with_subresources() {
        let scheme = skiff_core::codec::Scheme::builtin();
        let core = aggregated(true, scheme.resources());
        assert_eq!(core["items"].as_array().map(Vec::len), Some(1));
        assert_eq!(core["items"][0]["metadata"]["name"], "");
        let pods = core["items"][0]["versions"][0]["resources"]
            .as_array()
            .and_then(|rs| rs.iter().find(|r| r["resource"] == "pods"))
            .cloned()
            .unwrap_or_default();
        assert_eq!(pods["responseKind"]["kind"], "Pod");
        assert_eq!(pods["scope"], "Namespaced");
        assert_eq!(pods["shortNames"][0], "po");
        assert_eq!(pods["categories"][0], "all");
        let subs: Vec<&str> = pods["subresources"]
            .as_array()
            .map(|s| s.iter().filter_map(|s| s["subresource"].as_str()).collect())
            .unwrap_or_default();
        assert_eq!(
            subs,
            [
                "status",
                "binding",
                "log",
                "exec",
                "attach",
                "portforward",
                "ephemeralcontainers"
            ]
        );
        let named = aggregated(false, scheme.resources());
        let names: Vec<&str> = named["items"]
            .as_array()
            .map(|i| {
                i.iter()
                    .filter_map(|g| g["metadata"]["name"].as_str())
                    .collect()
            })
            .unwrap_or_default();
        assert!(
            names.contains(&"apps") && names.contains(&"coordination.k8s.io"),
            "{names:?}"
        );
        assert!(!names.contains(&""));
    }
}
