//! Parsing resource paths: `/api/v1/namespaces/default/pods/web/status` and friends.

use skiff_core::codec::Scheme;
use skiff_core::{ApiResource, Scope};

use super::discovery;

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

/// A path that names nothing served: kube-apiserver answers `404 NotFound` with exactly
/// [`NoRoute::MESSAGE`] (and empty `details`), whatever the path's shape.
#[derive(Debug, PartialEq, Eq)]
pub struct NoRoute;

impl NoRoute {
    /// kube-apiserver's words for a path it does not serve.
    pub const MESSAGE: &'static str = "the server could not find the requested resource";
}

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
        .ok_or(NoRoute)
}

/// An object path, if `sub` is one of the subresources `resource` serves (see
/// [`discovery::subresources`]): `namespaces/default/replicationcontrollers` is not the
/// `replicationcontrollers` subresource of namespace `default`, it is a resource nobody serves.
fn object(
    resource: ApiResource,
    namespace: Option<&str>,
    name: &str,
    sub: Option<&str>,
) -> Result<Target, NoRoute> {
    if let Some(sub) = sub {
        if !discovery::subresources(&resource)
            .iter()
            .any(|s| s.name == sub)
        {
            return Err(NoRoute);
        }
    }
    Ok(Target::Object {
        resource,
        namespace: namespace.map(str::to_string),
        name: name.to_string(),
        subresource: sub.map(str::to_string),
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
        _ => return Err(NoRoute),
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
                Err(NoRoute)
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
        ["namespaces", ns, plural, name] if namespaced_plural(plural).is_some() => object(
            lookup(scheme, group, version, plural)?,
            Some(ns),
            name,
            None,
        ),
        ["namespaces", ns, plural, name, sub] if namespaced_plural(plural).is_some() => object(
            lookup(scheme, group, version, plural)?,
            Some(ns),
            name,
            Some(sub),
        ),
        [plural, name] => object(lookup(scheme, group, version, plural)?, None, name, None),
        [plural, name, sub] => object(
            lookup(scheme, group, version, plural)?,
            None,
            name,
            Some(sub),
        ),
        _ => Err(NoRoute),
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
        assert_eq!(parse(&Scheme::builtin(), "/api/v1/widgets"), Err(NoRoute));
        // A kind nobody serves, under a namespace, is not a subresource of the namespace.
        assert_eq!(
            parse(
                &Scheme::builtin(),
                "/api/v1/namespaces/default/replicationcontrollers"
            ),
            Err(NoRoute)
        );
        assert_eq!(
            parse(
                &Scheme::builtin(),
                "/api/v1/namespaces/default/pods/web/widget"
            ),
            Err(NoRoute)
        );
        assert_eq!(
            parse(&Scheme::builtin(), "/api/v1/nodes/n1/proxy"),
            Err(NoRoute)
        );
        assert!(parse(&Scheme::builtin(), "/apis/apps/v2").is_err());
    }
}
