//! `DynamicObject`: an object of a kind known only at run time.

use serde::{Deserialize, Serialize};

use crate::meta::{ObjectMeta, TypeMeta};

/// Any object, with its `apiVersion`, `kind` and `metadata` typed and everything else kept as JSON.
///
/// ```
/// # use skiff_core::DynamicObject;
/// let obj: DynamicObject = serde_json::from_str(
///     r#"{"apiVersion":"example.com/v1","kind":"Greeting","metadata":{"name":"hi"},"spec":{"message":"hello"}}"#,
/// ).unwrap();
/// assert_eq!(obj.types.kind, "Greeting");
/// assert_eq!(obj.data["spec"]["message"], "hello");
/// ```
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct DynamicObject {
    /// `apiVersion` and `kind`.
    #[serde(flatten)]
    pub types: TypeMeta,
    /// Standard object metadata.
    #[serde(default)]
    pub metadata: ObjectMeta,
    /// Every other top-level field (`spec`, `status`, `data`...).
    #[serde(flatten)]
    pub data: serde_json::Map<String, serde_json::Value>,
}

impl DynamicObject {
    /// The object's name, or `""`.
    pub fn name(&self) -> &str {
        self.metadata.name.as_deref().unwrap_or("")
    }
}
