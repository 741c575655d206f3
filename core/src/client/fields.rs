//! Field values for field selectors, read from an object's JSON by dotted path.

use serde_json::Value;

/// The value of a dotted field path (`metadata.name`, `spec.nodeName`, `status.phase`,
/// `involvedObject.kind`) as a field selector compares it: strings as they are, numbers and booleans as text,
/// absent fields as `None` (which selectors treat as `""`).
///
/// ```
/// # use skiff_core::client::field_value;
/// let pod = serde_json::json!({"metadata": {"name": "web"}, "spec": {"nodeName": "n1"}, "status": {"phase": "Running"}});
/// assert_eq!(field_value(&pod, "spec.nodeName").as_deref(), Some("n1"));
/// assert_eq!(field_value(&pod, "status.podIP"), None);
/// ```
pub fn field_value(obj: &Value, path: &str) -> Option<String> {
    let mut cur = obj;
    for part in path.split('.') {
        cur = cur.get(part)?;
    }
    match cur {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}
