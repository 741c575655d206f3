//! IPAddress and ServiceCIDR (networking.k8s.io/v1): the Service IP allocator's state as objects.
//!
//! Since Kubernetes 1.33 a ClusterIP is allocated by creating an IPAddress named by the address (so the
//! store's create-if-absent makes the allocation unique) with a parentRef to its Service; the ranges
//! addresses come from are ServiceCIDRs (`kubernetes` is the one of `--service-cluster-ip-range`).

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::meta::Time;
use crate::object;

/// The label carrying an IPAddress's family (`IPv4`).
pub const IP_FAMILY_LABEL: &str = "ipaddress.kubernetes.io/ip-family";
/// The label naming who allocated an IPAddress.
pub const IP_MANAGED_BY_LABEL: &str = "ipaddress.kubernetes.io/managed-by";
/// The value of [`IP_MANAGED_BY_LABEL`] for addresses the Service allocator made.
pub const IP_ALLOCATOR: &str = "ipallocator.k8s.io";
/// The name of the ServiceCIDR made from `--service-cluster-ip-range`.
pub const DEFAULT_SERVICE_CIDR: &str = "kubernetes";

object! {
    /// One allocated IP address, named by the address itself (`10.96.0.1`).
    pub struct IPAddress {
        /// Who holds it.
        #[serde(default)]
        pub spec: IPAddressSpec,
    }
    resource {
        kind: "IPAddress", group: "networking.k8s.io", version: "v1",
        plural: "ipaddresses", singular: "ipaddress", short_names: ["ip"], scope: Cluster,
    }
}

/// Who holds an address.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct IPAddressSpec {
    /// The object the address belongs to (a Service).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent_ref: Option<ParentReference>,
}

/// A reference to the holder of an address.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ParentReference {
    /// API group of the holder (`""` for Services).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub group: String,
    /// Resource (plural) of the holder: `services`.
    #[serde(default)]
    pub resource: String,
    /// Namespace of the holder.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub namespace: String,
    /// Name of the holder.
    #[serde(default)]
    pub name: String,
}

object! {
    /// A range Service IPs are allocated from.
    pub struct ServiceCIDR {
        /// The ranges.
        #[serde(default)]
        pub spec: ServiceCIDRSpec,
        /// Whether it is ready for allocation.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub status: Option<ServiceCIDRStatus>,
    }
    resource {
        kind: "ServiceCIDR", group: "networking.k8s.io", version: "v1",
        plural: "servicecidrs", singular: "servicecidr", short_names: [], scope: Cluster,
    }
}

/// The ranges of a ServiceCIDR (one per family).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ServiceCIDRSpec {
    /// CIDRs, at most one per IP family (`10.96.0.0/12`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub cidrs: Vec<String>,
}

/// The observed state of a ServiceCIDR.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ServiceCIDRStatus {
    /// `Ready` when addresses may be allocated from it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<Condition>,
}

/// A `metav1.Condition`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Condition {
    /// Condition type (`Ready`).
    #[serde(default, rename = "type")]
    pub type_: String,
    /// `True`, `False` or `Unknown`.
    #[serde(default)]
    pub status: String,
    /// The generation the condition was set for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// When the status last changed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_transition_time: Option<Time>,
    /// Machine-readable reason.
    #[serde(default)]
    pub reason: String,
    /// Human-readable detail.
    #[serde(default)]
    pub message: String,
}
