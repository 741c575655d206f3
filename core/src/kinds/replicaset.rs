//! ReplicaSet (apps/v1): keeps a number of identical pods running; and `Scale`, its scale subresource.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::PodTemplateSpec;
use crate::meta::Time;
use crate::selector::LabelSelector;
use crate::{object, SelectableField};

object! {
    /// A ReplicaSet: `replicas` pods from `template`, found again by `selector`.
    pub struct ReplicaSet {
        /// Desired state.
        #[serde(default)]
        pub spec: ReplicaSetSpec,
        /// Observed state, written by the ReplicaSet controller.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub status: Option<ReplicaSetStatus>,
    }
    resource {
        kind: "ReplicaSet", group: "apps", version: "v1",
        plural: "replicasets", singular: "replicaset", short_names: ["rs"], scope: Namespaced,
        // As Kubernetes' field selectors for the kind (its `ToSelectableFields`).
        selectable_fields: [
            SelectableField { label: "status.replicas", path: "status.replicas", absent: "0" },
        ],
    }
}

/// The desired state of a ReplicaSet.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ReplicaSetSpec {
    /// How many pods (default 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replicas: Option<i32>,
    /// Seconds a pod must be ready before it counts as available (default 0).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_ready_seconds: Option<i32>,
    /// Which pods belong to the set; must match the template's labels.
    #[serde(default)]
    pub selector: LabelSelector,
    /// What new pods look like.
    #[serde(default)]
    pub template: PodTemplateSpec,
}

/// The observed state of a ReplicaSet.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ReplicaSetStatus {
    /// Pods that exist (not terminating).
    #[serde(default)]
    pub replicas: i32,
    /// Pods whose labels match the template's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fully_labeled_replicas: Option<i32>,
    /// Pods that are Ready.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ready_replicas: Option<i32>,
    /// Pods Ready for at least `minReadySeconds`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub available_replicas: Option<i32>,
    /// The `metadata.generation` this status reflects.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// Conditions such as `ReplicaFailure`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<ReplicaSetCondition>,
}

/// One condition of a ReplicaSet.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ReplicaSetCondition {
    /// Condition type, e.g. `ReplicaFailure`.
    #[serde(default, rename = "type")]
    pub type_: String,
    /// `True`, `False` or `Unknown`.
    #[serde(default)]
    pub status: String,
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

object! {
    /// `autoscaling/v1` Scale: the body of the `scale` subresource of ReplicaSets (`kubectl scale`).
    /// Not stored on its own; the API server builds it from the ReplicaSet.
    pub struct Scale {
        /// Desired replicas.
        #[serde(default)]
        pub spec: ScaleSpec,
        /// Current replicas and selector.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub status: Option<ScaleStatus>,
    }
    resource {
        kind: "Scale", group: "autoscaling", version: "v1",
        plural: "scale", singular: "scale", short_names: [], scope: Namespaced,
    }
}

/// Desired replicas.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ScaleSpec {
    /// Desired number of replicas.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replicas: Option<i32>,
}

/// Current replicas.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ScaleStatus {
    /// Current number of replicas.
    #[serde(default)]
    pub replicas: i32,
    /// The label selector, in string form.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub selector: Option<String>,
}
