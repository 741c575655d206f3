//! Lease (coordination.k8s.io/v1): node heartbeats and leader election.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::meta::MicroTime;
use crate::object;

object! {
    /// A Lease: held by `holderIdentity` until `renewTime + leaseDurationSeconds`.
    pub struct Lease {
        /// Holder and timing.
        #[serde(default)]
        pub spec: LeaseSpec,
    }
    resource {
        kind: "Lease", group: "coordination.k8s.io", version: "v1",
        plural: "leases", singular: "lease", short_names: [], scope: Namespaced,
    }
}

/// Who holds a lease, and until when.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct LeaseSpec {
    /// Identity of the holder.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub holder_identity: Option<String>,
    /// Seconds a candidate waits after the last renewal before taking over.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lease_duration_seconds: Option<i32>,
    /// When the current holder acquired it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub acquire_time: Option<MicroTime>,
    /// When the holder last renewed it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub renew_time: Option<MicroTime>,
    /// How many times it changed hands.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lease_transitions: Option<i32>,
}
