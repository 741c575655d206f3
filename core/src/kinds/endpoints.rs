//! Endpoints (core/v1): the addresses behind a Service, kept by the Endpoints controller.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::ObjectReference;
use crate::object;

object! {
    /// The ready (and not-ready) addresses and ports of a Service's pods; named like the Service.
    pub struct Endpoints {
        /// Groups of addresses sharing the same ports.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        pub subsets: Vec<EndpointSubset>,
    }
    resource {
        kind: "Endpoints", group: "", version: "v1",
        plural: "endpoints", singular: "endpoints", short_names: ["ep"], scope: Namespaced,
    }
}

/// Addresses that share a set of ports.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct EndpointSubset {
    /// Ready addresses: traffic goes here.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub addresses: Vec<EndpointAddress>,
    /// Addresses whose pods are not ready.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub not_ready_addresses: Vec<EndpointAddress>,
    /// Ports of every address.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ports: Vec<EndpointPort>,
}

/// One address (usually a pod IP).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct EndpointAddress {
    /// The IP.
    #[serde(default)]
    pub ip: String,
    /// Hostname of the endpoint.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hostname: Option<String>,
    /// Node hosting the endpoint.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node_name: Option<String>,
    /// The pod behind the address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_ref: Option<ObjectReference>,
}

/// One port of an endpoint.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct EndpointPort {
    /// Name, matching the Service port's name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Port number.
    #[serde(default)]
    pub port: i32,
    /// `TCP` (default), `UDP` or `SCTP`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub protocol: Option<String>,
    /// Application protocol hint.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub app_protocol: Option<String>,
}
