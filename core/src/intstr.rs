//! `IntOrString`: a port given as a number (`8080`) or as a named container port (`"http"`).

use std::borrow::Cow;

use schemars::{json_schema, JsonSchema, Schema, SchemaGenerator};
use serde::{Deserialize, Serialize};

/// A value that is either an integer or a string on the wire (`targetPort`, probe `port`).
///
/// ```
/// # use skiff_core::IntOrString;
/// let p: IntOrString = serde_json::from_str("8080").unwrap();
/// assert_eq!(p, IntOrString::Int(8080));
/// let p: IntOrString = serde_json::from_str("\"http\"").unwrap();
/// assert_eq!(p, IntOrString::String("http".into()));
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(untagged)]
pub enum IntOrString {
    /// A number, e.g. a port number.
    Int(i32),
    /// A name, e.g. a named container port.
    String(String),
}

/// Kubernetes' schema: either type, marked `x-kubernetes-int-or-string`.
impl JsonSchema for IntOrString {
    fn schema_name() -> Cow<'static, str> {
        "IntOrString".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "description": "An integer (e.g. a port number) or a string (e.g. a named port).",
            "anyOf": [{"type": "integer"}, {"type": "string"}],
            "x-kubernetes-int-or-string": true
        })
    }
}

impl Default for IntOrString {
    fn default() -> Self {
        IntOrString::Int(0)
    }
}

impl From<i32> for IntOrString {
    fn from(v: i32) -> Self {
        IntOrString::Int(v)
    }
}

impl From<&str> for IntOrString {
    fn from(v: &str) -> Self {
        IntOrString::String(v.to_string())
    }
}

impl std::fmt::Display for IntOrString {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            IntOrString::Int(i) => write!(f, "{i}"),
            IntOrString::String(s) => f.write_str(s),
        }
    }
}
