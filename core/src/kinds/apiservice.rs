//! APIService (apiregistration.k8s.io/v1): one served group-version, as every Kubernetes cluster lists
//! them (`kubectl get apiservices`: `v1.apps  Local  True`).
//!
//! Skiff serves every group-version itself ("Local"): the API server keeps one APIService per served
//! group-version ([`local_apiservices`]), read-only. Aggregated API servers (an APIService naming a
//! Service) are not supported yet.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::meta::{ObjectMeta, Time};
use crate::{object, ApiResource};

object! {
    /// An APIService: where requests for a group-version are served.
    pub struct APIService {
        /// The group-version and, for an aggregated server, the Service in front of it.
        #[serde(default)]
        pub spec: APIServiceSpec,
        /// Whether it is available.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub status: Option<APIServiceStatus>,
    }
    resource {
        kind: "APIService", group: "apiregistration.k8s.io", version: "v1",
        plural: "apiservices", singular: "apiservice", short_names: [], scope: Cluster,
    }
}

/// What an APIService serves.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct APIServiceSpec {
    /// The Service of an aggregated API server; absent for group-versions the API server serves itself.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service: Option<ServiceReference>,
    /// The API group (empty for the core group).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
    /// The API version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// Skip TLS verification of the aggregated server.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub insecure_skip_tls_verify: Option<bool>,
    /// The CA bundle (base64) for the aggregated server.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_bundle: Option<String>,
    /// How the group sorts in discovery (higher first).
    #[serde(default)]
    pub group_priority_minimum: i32,
    /// How the version sorts within its group (higher first).
    #[serde(default)]
    pub version_priority: i32,
}

/// A Service that fronts an aggregated API server.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ServiceReference {
    /// The Service's namespace.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// The Service's name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The port (default 443).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<i32>,
}

/// Whether an APIService is available.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct APIServiceStatus {
    /// `Available`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<APIServiceCondition>,
}

/// One condition of an APIService.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct APIServiceCondition {
    /// `Available`.
    #[serde(rename = "type")]
    pub type_: String,
    /// `True`, `False` or `Unknown`.
    pub status: String,
    /// When the status last changed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_transition_time: Option<Time>,
    /// Machine-readable reason (`Local`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Human-readable message.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

/// The priorities kube-apiserver gives its own groups (group minimum, version), others 1000 / 100
/// (what it gives the group-versions of custom resources).
fn priorities(group: &str) -> (i32, i32) {
    match group {
        "" => (18000, 1),
        "apiregistration.k8s.io" => (18000, 15),
        "apps" => (17800, 15),
        "events.k8s.io" => (17750, 15),
        "coordination.k8s.io" => (16500, 15),
        "discovery.k8s.io" => (16200, 15),
        _ => (1000, 100),
    }
}

/// The name kube-apiserver gives a group-version's APIService: `<version>.<group>` (`v1.` for core).
pub fn apiservice_name(group: &str, version: &str) -> String {
    format!("{version}.{group}")
}

/// One local APIService per group-version among `resources`, available since `since`.
///
/// ```
/// use skiff_core::codec::Scheme;
/// use skiff_core::kinds::local_apiservices;
/// use skiff_core::meta::Time;
///
/// let scheme = Scheme::builtin();
/// let all = local_apiservices(scheme.resources(), Time::now());
/// let apps = all.iter().find(|a| a.metadata.name.as_deref() == Some("v1.apps")).unwrap();
/// assert!(apps.spec.service.is_none());
/// assert_eq!(apps.status.as_ref().unwrap().conditions[0].reason.as_deref(), Some("Local"));
/// assert!(all.iter().any(|a| a.metadata.name.as_deref() == Some("v1.")));
/// ```
pub fn local_apiservices<'a>(
    resources: impl Iterator<Item = &'a ApiResource>,
    since: Time,
) -> Vec<APIService> {
    let mut versions: Vec<(String, String)> = resources
        .map(|r| (r.group.clone(), r.version.clone()))
        .collect();
    versions.sort();
    versions.dedup();
    versions
        .into_iter()
        .map(|(group, version)| {
            let (group_priority_minimum, version_priority) = priorities(&group);
            APIService {
                metadata: ObjectMeta {
                    name: Some(apiservice_name(&group, &version)),
                    ..ObjectMeta::default()
                },
                spec: APIServiceSpec {
                    group: Some(group).filter(|g| !g.is_empty()),
                    version: Some(version),
                    group_priority_minimum,
                    version_priority,
                    ..APIServiceSpec::default()
                },
                status: Some(APIServiceStatus {
                    conditions: vec![APIServiceCondition {
                        type_: "Available".into(),
                        status: "True".into(),
                        last_transition_time: Some(since),
                        reason: Some("Local".into()),
                        message: Some("Local APIServices are always available".into()),
                    }],
                }),
                ..APIService::default()
            }
        })
        .collect()
}
