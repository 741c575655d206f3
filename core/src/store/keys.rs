//! Where objects live in the key space: `/registry/<group>/<plural>/<namespace>/<name>`.

/// The key of one object. The core group is written `core`; cluster-scoped objects have no namespace segment.
///
/// ```
/// # use skiff_core::store::object_key;
/// assert_eq!(object_key("", "pods", Some("default"), "web"), "/registry/core/pods/default/web");
/// assert_eq!(object_key("", "nodes", None, "node-1"), "/registry/core/nodes/node-1");
/// ```
pub fn object_key(group: &str, plural: &str, namespace: Option<&str>, name: &str) -> String {
    let mut key = resource_prefix(group, plural, namespace);
    key.push_str(name);
    key
}

/// The prefix of every object of a kind (in one namespace when given); always ends with `/`.
///
/// ```
/// # use skiff_core::store::resource_prefix;
/// assert_eq!(resource_prefix("apps", "replicasets", Some("default")), "/registry/apps/replicasets/default/");
/// assert_eq!(resource_prefix("apps", "replicasets", None), "/registry/apps/replicasets/");
/// ```
pub fn resource_prefix(group: &str, plural: &str, namespace: Option<&str>) -> String {
    let group = if group.is_empty() { "core" } else { group };
    match namespace {
        Some(ns) => format!("/registry/{group}/{plural}/{ns}/"),
        None => format!("/registry/{group}/{plural}/"),
    }
}
