//! Parsing resource paths: `/api/v1/namespaces/default/pods/web/status` and friends.

use skiff_core::codec::Scheme;
use skiff_core::{ApiResource, Scope};

/// What a request path names.
#[derive(Clone, Debug, PartialEq)]
pub enum Target {
    /// `/api/v1` or `/apis/<g>/<v>`: the group-version's resource list.
    GroupVersion(String),
    /// A collection: all namespaces (or cluster-scoped) when `namespace` is `None`.
    Collection {
        resource: ApiResource,
        namespace: Option<String>,
    },
    /// One object, or its subresource.
    Object {
        resource: ApiResource,
        namespace: Option<String>,
        name: String,
        subresource: Option<String>,
    },
}

/// Why a path names nothing.
#[derive(Debug, PartialEq, Eq)]
pub struct NoRoute(pub String);

fn lookup(
    scheme: &Scheme,
    group: &str,
    version: &str,
    plural: &str,
) -> Result<ApiResource, NoRoute> {
    scheme
        .resources()
        .find(|r| r.group == group && r.version == version && r.plural == plural)
        .cloned()
        .ok_or_else(|| {
            let gv = if group.is_empty() {
                version.to_string()
            } else {
                format!("{group}/{version}")
            };
            NoRoute(format!(
                "the server could not find the requested resource ({plural} in {gv})"
            ))
        })
}

/// Parses a path under `/api` or `/apis`.
pub fn parse(scheme: &Scheme, path: &str) -> Result<Target, NoRoute> {
    let segs: Vec<&str> = path
        .trim_matches('/')
        .split('/')
        .filter(|s| !s.is_empty())
        .collect();
    let (group, version, rest) = match segs.as_slice() {
        ["api", v, rest @ ..] => ("", *v, rest),
        ["apis", g, v, rest @ ..] => (*g, *v, rest),
        _ => return Err(NoRoute(format!("no route for {path}"))),
    };
    let gv = if group.is_empty() {
        version.to_string()
    } else {
        format!("{group}/{version}")
    };
    let namespaced_plural = |p: &str| {
        lookup(scheme, group, version, p)
            .ok()
            .filter(|r| r.scope == Scope::Namespaced)
    };
    match rest {
        [] => {
            if scheme.resources().any(|r| r.api_version() == gv) {
                Ok(Target::GroupVersion(gv))
            } else {
                Err(NoRoute(format!(
                    "the server could not find the requested resource ({gv})"
                )))
            }
        }
        [plural] => Ok(Target::Collection {
            resource: lookup(scheme, group, version, plural)?,
            namespace: None,
        }),
        ["namespaces", ns, plural] if namespaced_plural(plural).is_some() => {
            Ok(Target::Collection {
                resource: lookup(scheme, group, version, plural)?,
                namespace: Some(ns.to_string()),
            })
        }
        ["namespaces", ns, plural, name] if namespaced_plural(plural).is_some() => {
            Ok(Target::Object {
                resource: lookup(scheme, group, version, plural)?,
                namespace: Some(ns.to_string()),
                name: name.to_string(),
                subresource: None,
            })
        }
        ["namespaces", ns, plural, name, sub] if namespaced_plural(plural).is_some() => {
            Ok(Target::Object {
                resource: lookup(scheme, group, version, plural)?,
                namespace: Some(ns.to_string()),
                name: name.to_string(),
                subresource: Some(sub.to_string()),
            })
        }
        [plural, name] => Ok(Target::Object {
            resource: lookup(scheme, group, version, plural)?,
            namespace: None,
            name: name.to_string(),
            subresource: None,
        }),
        [plural, name, sub] => Ok(Target::Object {
            resource: lookup(scheme, group, version, plural)?,
            namespace: None,
            name: name.to_string(),
            subresource: Some(sub.to_string()),
        }),
        _ => Err(NoRoute(format!("no route for {path}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(path: &str) -> Target {
        parse(&Scheme::builtin(), path).unwrap()
    }

    #[test]
    fn paths() {
        assert_eq!(t("/api/v1"), Target::GroupVersion("v1".into()));
        assert!(matches!(
            t("/api/v1/pods"),
            Target::Collection {
                namespace: None,
                ..
            }
        ));
        assert!(matches!(
            t("/api/v1/namespaces/default/pods"),
            Target::Collection {
                namespace: Some(_),
                ..
            }
        ));
        assert!(matches!(
            t("/apis/apps/v1/namespaces/d/replicasets/web"),
            Target::Object {
                subresource: None,
                ..
            }
        ));
        assert!(
            matches!(t("/api/v1/namespaces/d/pods/web/status"), Target::Object { subresource: Some(s), .. } if s == "status")
        );
        match t("/api/v1/namespaces/default") {
            Target::Object {
                resource,
                name,
                namespace: None,
                ..
            } => assert_eq!(
                (resource.plural.as_str(), name.as_str()),
                ("namespaces", "default")
            ),
            other => panic!("{other:?}"),
        }
        match t("/api/v1/namespaces/default/status") {
            Target::Object {
                resource,
                subresource: Some(s),
                ..
            } => assert_eq!(
                (resource.plural.as_str(), s.as_str()),
                ("namespaces", "status")
            ),
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            t("/api/v1/nodes/n1"),
            Target::Object {
                namespace: None,
                ..
            }
        ));
        assert!(parse(&Scheme::builtin(), "/api/v1/widgets").is_err());
        assert!(parse(&Scheme::builtin(), "/apis/apps/v2").is_err());
    }
}
