//! Checks every object's metadata gets, whatever its kind.

use std::collections::BTreeMap;

use super::names::{dns1123_label, label_value, qualified_name};
use super::{FieldError, FieldErrors, FieldPath};
use crate::meta::ObjectMeta;
use crate::Scope;

/// Most bytes all annotations of one object may take (keys + values), as Kubernetes.
pub const TOTAL_ANNOTATION_SIZE_LIMIT: usize = 256 * 1024;

/// A function that checks an object name and returns the problems (empty = valid).
pub type NameCheck = fn(&str) -> Vec<String>;

/// Validates `metadata`: name (or generateName) with `name_check`, namespace by scope, labels, annotations,
/// owner references and finalizers. A missing namespace is allowed for namespaced kinds: the API server
/// fills it from the URL before it validates.
///
/// ```
/// # use skiff_core::meta::ObjectMeta;
/// # use skiff_core::validation::{object_meta::validate_object_meta, names::dns1123_subdomain};
/// # use skiff_core::Scope;
/// let errs = validate_object_meta(&ObjectMeta::named("Bad_Name"), Scope::Namespaced, dns1123_subdomain);
/// assert!(errs.has_field("metadata.name"));
/// ```
pub fn validate_object_meta(meta: &ObjectMeta, scope: Scope, name_check: NameCheck) -> FieldErrors {
    let path = FieldPath::new("metadata");
    let mut errs = FieldErrors::default();
    match (meta.name.as_deref(), meta.generate_name.as_deref()) {
        (Some(name), _) if !name.is_empty() => {
            for msg in name_check(name) {
                errs.push(FieldError::invalid(&path.child("name"), name, msg));
            }
        }
        (_, Some(prefix)) if !prefix.is_empty() => {
            // The generated suffix is 5 alphanumerics; check the prefix as if it ended with one.
            let candidate = format!("{}a", prefix.trim_end_matches('-'));
            for msg in name_check(&candidate) {
                errs.push(FieldError::invalid(
                    &path.child("generateName"),
                    prefix,
                    msg,
                ));
            }
        }
        _ => errs.push(FieldError::required(
            &path.child("name"),
            "name or generateName is required",
        )),
    }
    match (scope, meta.namespace.as_deref()) {
        (Scope::Namespaced, Some(ns)) if !ns.is_empty() => {
            for msg in dns1123_label(ns) {
                errs.push(FieldError::invalid(&path.child("namespace"), ns, msg));
            }
        }
        (Scope::Cluster, Some(ns)) if !ns.is_empty() => errs.push(FieldError::forbidden(
            &path.child("namespace"),
            "not allowed on this type",
        )),
        _ => {}
    }
    errs.extend(validate_labels(&meta.labels, &path.child("labels")));
    errs.extend(validate_annotations(
        &meta.annotations,
        &path.child("annotations"),
    ));
    let refs = path.child("ownerReferences");
    let mut controllers = 0;
    for (i, r) in meta.owner_references.iter().enumerate() {
        let p = refs.index(i);
        for (field, value) in [
            ("apiVersion", &r.api_version),
            ("kind", &r.kind),
            ("name", &r.name),
            ("uid", &r.uid),
        ] {
            if value.is_empty() {
                errs.push(FieldError::required(&p.child(field), ""));
            }
        }
        if r.controller == Some(true) {
            controllers += 1;
        }
    }
    if controllers > 1 {
        errs.push(FieldError::invalid(
            &refs,
            format!("{controllers} controllers"),
            "Only one reference can have Controller set to true",
        ));
    }
    let fins = path.child("finalizers");
    let mut seen = std::collections::BTreeSet::new();
    for (i, f) in meta.finalizers.iter().enumerate() {
        for msg in qualified_name(f) {
            errs.push(FieldError::invalid(&fins.index(i), f, msg));
        }
        if !seen.insert(f) {
            errs.push(FieldError::duplicate(&fins.index(i), f));
        }
    }
    if let Some(g) = meta.generation {
        if g < 0 {
            errs.push(FieldError::invalid(
                &path.child("generation"),
                g,
                "must be greater than or equal to 0",
            ));
        }
    }
    errs
}

/// Validates label keys (qualified names) and values (label values).
pub fn validate_labels(labels: &BTreeMap<String, String>, path: &FieldPath) -> FieldErrors {
    let mut errs = FieldErrors::default();
    for (k, v) in labels {
        for msg in qualified_name(k) {
            errs.push(FieldError::invalid(path, k, msg));
        }
        for msg in label_value(v) {
            errs.push(FieldError::invalid(&path.key(k), v, msg));
        }
    }
    errs
}

/// Validates annotation keys (qualified names, lower-cased) and the total size.
pub fn validate_annotations(
    annotations: &BTreeMap<String, String>,
    path: &FieldPath,
) -> FieldErrors {
    let mut errs = FieldErrors::default();
    let mut total = 0;
    for (k, v) in annotations {
        for msg in qualified_name(&k.to_ascii_lowercase()) {
            errs.push(FieldError::invalid(path, k, msg));
        }
        total += k.len() + v.len();
    }
    if total > TOTAL_ANNOTATION_SIZE_LIMIT {
        errs.push(FieldError::too_long(path, TOTAL_ANNOTATION_SIZE_LIMIT));
    }
    errs
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::meta::OwnerReference;
    use crate::validation::names::dns1123_subdomain;

    fn check(meta: &ObjectMeta, scope: Scope) -> FieldErrors {
        validate_object_meta(meta, scope, dns1123_subdomain)
    }

    #[test]
    fn name_rules() {
        assert!(check(&ObjectMeta::named("web-1"), Scope::Namespaced).is_empty());
        assert!(check(&ObjectMeta::default(), Scope::Namespaced).has_field("metadata.name"));
        let gen = ObjectMeta {
            generate_name: Some("web-".into()),
            ..ObjectMeta::default()
        };
        assert!(check(&gen, Scope::Namespaced).is_empty());
        let bad_gen = ObjectMeta {
            generate_name: Some("Web-".into()),
            ..ObjectMeta::default()
        };
        assert!(check(&bad_gen, Scope::Namespaced).has_field("metadata.generateName"));
    }

    #[test]
    fn namespace_rules() {
        let m = ObjectMeta::named("n").in_namespace("default");
        assert!(check(&m, Scope::Namespaced).is_empty());
        assert!(check(&m, Scope::Cluster).has_field("metadata.namespace"));
        let bad = ObjectMeta::named("n").in_namespace("Bad.NS");
        assert!(check(&bad, Scope::Namespaced).has_field("metadata.namespace"));
    }

    #[test]
    fn label_rules() {
        let ok = ObjectMeta::named("n").with_label("app.kubernetes.io/name", "web");
        assert!(check(&ok, Scope::Namespaced).is_empty());
        let bad_key = ObjectMeta::named("n").with_label("bad key", "x");
        assert!(check(&bad_key, Scope::Namespaced).has_field("metadata.labels"));
        let bad_value = ObjectMeta::named("n").with_label("app", "-x-");
        assert!(check(&bad_value, Scope::Namespaced).has_field("metadata.labels[app]"));
    }

    #[test]
    fn owner_and_finalizer_rules() {
        let owner = |controller| OwnerReference {
            api_version: "apps/v1".into(),
            kind: "ReplicaSet".into(),
            name: "rs".into(),
            uid: "u".into(),
            controller: Some(controller),
            block_owner_deletion: None,
        };
        let mut m = ObjectMeta::named("n");
        m.owner_references = vec![owner(true)];
        assert!(check(&m, Scope::Namespaced).is_empty());
        m.owner_references = vec![owner(true), owner(true)];
        assert!(check(&m, Scope::Namespaced).has_field("metadata.ownerReferences"));
        m.owner_references = vec![OwnerReference::default()];
        assert!(check(&m, Scope::Namespaced).has_field("metadata.ownerReferences[0].uid"));
        let mut m = ObjectMeta::named("n");
        m.finalizers = vec!["example.com/cleanup".into(), "example.com/cleanup".into()];
        assert!(check(&m, Scope::Namespaced).has_field("metadata.finalizers[1]"));
        m.finalizers = vec!["bad finalizer".into()];
        assert!(check(&m, Scope::Namespaced).has_field("metadata.finalizers[0]"));
    }

    #[test]
    fn annotation_size_limit() {
        let mut m = ObjectMeta::named("n");
        m.annotations
            .insert("big".into(), "x".repeat(TOTAL_ANNOTATION_SIZE_LIMIT + 1));
        assert!(check(&m, Scope::Namespaced).has_field("metadata.annotations"));
    }
}
