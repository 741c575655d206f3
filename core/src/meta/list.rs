//! `ObjectList<K>`: the typed list (`PodList`, `ReplicaSetList`...) the API returns.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::ListMeta;

/// A list of objects of one kind, as returned by list calls.
///
/// `kind` is the item kind followed by `List` (`PodList`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ObjectList<K> {
    /// `<Kind>List`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub kind: String,
    /// `apiVersion` of the items.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub api_version: String,
    /// The revision the list reflects and the continue token.
    #[serde(default)]
    pub metadata: ListMeta,
    /// The objects.
    #[serde(default)]
    pub items: Vec<K>,
}

impl<K: crate::Resource> ObjectList<K> {
    /// A list of `items` with the right `apiVersion` and `kind`.
    pub fn new(items: Vec<K>, metadata: ListMeta) -> Self {
        Self {
            api_version: K::api_version(),
            kind: format!("{}List", K::KIND),
            metadata,
            items,
        }
    }
}
