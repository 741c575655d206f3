//! Node (core/v1): a machine running a node agent.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::Taint;
use crate::meta::Time;
use crate::{object, Quantity, SelectableField};

object! {
    /// A Node: registered by its agent, which reports capacity and heartbeats.
    pub struct Node {
        /// Desired state.
        #[serde(default)]
        pub spec: NodeSpec,
        /// Observed state, written by the node agent and the node-lifecycle controller.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub status: Option<NodeStatus>,
    }
    resource {
        kind: "Node", group: "", version: "v1",
        plural: "nodes", singular: "node", short_names: ["no"], scope: Cluster,
        // As Kubernetes' field selectors for the kind (its `ToSelectableFields`).
        selectable_fields: [
            SelectableField { label: "spec.unschedulable", path: "spec.unschedulable", absent: "false" },
        ],
    }
}

/// The desired state of a node.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct NodeSpec {
    /// IP range pod IPs on this node come from.
    #[serde(default, rename = "podCIDR", skip_serializing_if = "Option::is_none")]
    pub pod_cidr: Option<String>,
    /// IP ranges, one per family; the first equals `podCIDR`.
    #[serde(default, rename = "podCIDRs", skip_serializing_if = "Vec::is_empty")]
    pub pod_cidrs: Vec<String>,
    /// Cloud provider ID.
    #[serde(
        default,
        rename = "providerID",
        skip_serializing_if = "Option::is_none"
    )]
    pub provider_id: Option<String>,
    /// When true, no new pods are scheduled here (`kubectl cordon`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unschedulable: Option<bool>,
    /// Taints repelling pods that do not tolerate them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub taints: Vec<Taint>,
}

/// The observed state of a node.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct NodeStatus {
    /// Total resources of the node (`cpu`, `memory`, `pods`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub capacity: BTreeMap<String, Quantity>,
    /// Resources available to pods.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub allocatable: BTreeMap<String, Quantity>,
    /// `Pending`, `Running` or `Terminated` (deprecated).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phase: Option<String>,
    /// `Ready`, `MemoryPressure`, `DiskPressure`, `PIDPressure`, `NetworkUnavailable`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<NodeCondition>,
    /// How to reach the node.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub addresses: Vec<NodeAddress>,
    /// Where the node agent listens.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub daemon_endpoints: Option<NodeDaemonEndpoints>,
    /// Versions and identity of the node.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node_info: Option<NodeSystemInfo>,
}

/// One condition of a node.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct NodeCondition {
    /// Condition type, e.g. `Ready`.
    #[serde(default, rename = "type")]
    pub type_: String,
    /// `True`, `False` or `Unknown`.
    #[serde(default)]
    pub status: String,
    /// When the node agent last reported it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_heartbeat_time: Option<Time>,
    /// When the status last changed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_transition_time: Option<Time>,
    /// Machine-readable reason.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Human-readable detail.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

/// An address of a node.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct NodeAddress {
    /// `Hostname`, `InternalIP`, `ExternalIP`...
    #[serde(default, rename = "type")]
    pub type_: String,
    /// The address.
    #[serde(default)]
    pub address: String,
}

/// Ports of the node's daemons.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct NodeDaemonEndpoints {
    /// The node agent's endpoint.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kubelet_endpoint: Option<DaemonEndpoint>,
}

/// A daemon's port.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct DaemonEndpoint {
    /// Port number (capitalised on the wire, as in Kubernetes).
    #[serde(default, rename = "Port")]
    pub port: i32,
}

/// Versions and identity of a node.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct NodeSystemInfo {
    /// Machine ID.
    #[serde(default, rename = "machineID")]
    pub machine_id: String,
    /// System UUID.
    #[serde(default, rename = "systemUUID")]
    pub system_uuid: String,
    /// Boot ID.
    #[serde(default, rename = "bootID")]
    pub boot_id: String,
    /// Kernel version (`uname -r`).
    #[serde(default)]
    pub kernel_version: String,
    /// OS image (`PRETTY_NAME` of /etc/os-release).
    #[serde(default)]
    pub os_image: String,
    /// Container runtime and version, e.g. `process://0.1.0`, `docker://20.10.24`.
    #[serde(default)]
    pub container_runtime_version: String,
    /// Node agent version.
    #[serde(default)]
    pub kubelet_version: String,
    /// Proxy version.
    #[serde(default)]
    pub kube_proxy_version: String,
    /// `linux`.
    #[serde(default)]
    pub operating_system: String,
    /// `amd64`, `arm64`...
    #[serde(default)]
    pub architecture: String,
}
