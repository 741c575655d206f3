//! Namespace (core/v1): a scope for names.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::meta::Time;
use crate::{object, SelectableField};

object! {
    /// A Namespace; namespaced objects can only be created in one that exists.
    pub struct Namespace {
        /// Desired state.
        #[serde(default, skip_serializing_if = "NamespaceSpec::is_empty")]
        pub spec: NamespaceSpec,
        /// Observed state.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub status: Option<NamespaceStatus>,
    }
    resource {
        kind: "Namespace", group: "", version: "v1",
        plural: "namespaces", singular: "namespace", short_names: ["ns"], scope: Cluster,
        // As Kubernetes' field selectors for the kind (its `ToSelectableFields`).
        selectable_fields: [
            SelectableField::string("status.phase"),
            SelectableField { label: "name", path: "metadata.name", absent: "" },
        ],
    }
}

/// The desired state of a namespace.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct NamespaceSpec {
    /// Must be empty before the namespace is removed (default `["kubernetes"]`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub finalizers: Vec<String>,
}

impl NamespaceSpec {
    /// True when no finalizers are set.
    pub fn is_empty(&self) -> bool {
        self.finalizers.is_empty()
    }
}

/// The observed state of a namespace.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct NamespaceStatus {
    /// `Active` or `Terminating`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phase: Option<String>,
    /// Conditions of the namespace's deletion.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<NamespaceCondition>,
}

/// One condition of a namespace.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct NamespaceCondition {
    /// Condition type.
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
