//! ConfigMap (core/v1): configuration as key/value pairs, consumed as env vars or files.

use std::collections::BTreeMap;

use crate::object;

object! {
    /// A ConfigMap.
    pub struct ConfigMap {
        /// When true, data can no longer change.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub immutable: Option<bool>,
        /// UTF-8 values.
        #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
        pub data: BTreeMap<String, String>,
        /// Binary values, base64-encoded on the wire.
        #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
        pub binary_data: BTreeMap<String, String>,
    }
    resource {
        kind: "ConfigMap", group: "", version: "v1",
        plural: "configmaps", singular: "configmap", short_names: ["cm"], scope: Namespaced,
    }
}
