//! EndpointSlice (discovery.k8s.io/v1): a slice of a Service's endpoints, at most 100 per slice, kept by
//! the EndpointSlice controller and read by every node's proxy and the cluster DNS.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::ObjectReference;
use crate::object;

/// The label naming the Service a slice belongs to.
pub const SERVICE_NAME_LABEL: &str = "kubernetes.io/service-name";
/// The label naming who manages a slice.
pub const MANAGED_BY_LABEL: &str = "endpointslice.kubernetes.io/managed-by";
/// The value of [`MANAGED_BY_LABEL`] on the slices the EndpointSlice controller manages.
pub const MANAGED_BY_CONTROLLER: &str = "endpointslice-controller.k8s.io";

object! {
    /// Endpoints of one Service (label [`SERVICE_NAME_LABEL`]), one address type, one set of ports.
    pub struct EndpointSlice {
        /// `IPv4`, `IPv6` or `FQDN`.
        #[serde(default)]
        pub address_type: String,
        /// The endpoints.
        #[serde(default)]
        pub endpoints: Vec<Endpoint>,
        /// Ports every endpoint of the slice serves.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        pub ports: Vec<EndpointSlicePort>,
    }
    resource {
        kind: "EndpointSlice", group: "discovery.k8s.io", version: "v1",
        plural: "endpointslices", singular: "endpointslice", short_names: [], scope: Namespaced,
    }
}

/// One endpoint: usually a pod.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Endpoint {
    /// Its addresses (one, for pods).
    #[serde(default)]
    pub addresses: Vec<String>,
    /// Whether it is ready, serving, terminating.
    #[serde(default)]
    pub conditions: EndpointConditions,
    /// Hostname (DNS: `<hostname>.<service>.<ns>.svc`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hostname: Option<String>,
    /// The pod behind it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_ref: Option<ObjectReference>,
    /// The node it runs on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node_name: Option<String>,
    /// The zone it runs in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub zone: Option<String>,
}

/// The state of an endpoint.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct EndpointConditions {
    /// Ready for traffic: serving and not terminating (or the Service publishes unready addresses).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ready: Option<bool>,
    /// Passing its readiness probe, whether terminating or not.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub serving: Option<bool>,
    /// Being deleted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub terminating: Option<bool>,
}

/// One port of a slice.
#[derive(
    Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "camelCase")]
pub struct EndpointSlicePort {
    /// The Service port's name (empty for a single unnamed port).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// `TCP`, `UDP` or `SCTP`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub protocol: Option<String>,
    /// The port number on the endpoints (the resolved targetPort).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<i32>,
    /// Application protocol hint.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub app_protocol: Option<String>,
}

impl EndpointSlice {
    /// The Service this slice belongs to (its [`SERVICE_NAME_LABEL`]).
    pub fn service_name(&self) -> Option<&str> {
        self.metadata
            .labels
            .get(SERVICE_NAME_LABEL)
            .map(String::as_str)
    }
}
