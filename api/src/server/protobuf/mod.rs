//! Kubernetes' protobuf wire format (`application/vnd.kubernetes.protobuf`), for every built-in kind.
//!
//! kubectl's `create` subcommands and client-go send protobuf bodies. A body is the magic `k8s\0`
//! followed by a `runtime.Unknown` message (1: typeMeta {1: apiVersion, 2: kind}, 2: raw, 3:
//! contentEncoding, 4: contentType), `raw` being the object's own message.
//!
//! Nothing here is written per kind. Kubernetes' own `.proto` definitions (`api/proto/k8s`, compiled
//! into a descriptor set by `build.rs`) describe every message; [`decode`] walks the decoded message by
//! reflection ([`prost_reflect`]) into the JSON the server handles otherwise, and [`encode`] walks JSON
//! back. The walkers know the handful of messages whose JSON is not their fields (times, quantities,
//! int-or-strings, raw JSON; see [`decode`](self::decode)), by name, as Kubernetes' own Go types do.
//!
//! The kind's message is found from the body's `apiVersion` and `kind`: a group's protobuf package ends
//! in `<first label of the group>.<version>` (`apps/v1` → `api.apps.v1`, `rbac.authorization.k8s.io/v1`
//! → `api.rbac.v1`, the core group → `api.core.v1`), and the message is named after the kind.
//!
//! ```text
//! let json = protobuf::decode(body)?;          // {"apiVersion": "v1", "kind": "Service", ...}
//! let bytes = protobuf::encode(&json)?;        // k8s\0 + runtime.Unknown
//! ```

mod decode;
mod encode;

use std::collections::HashMap;
use std::sync::OnceLock;

use prost_reflect::prost::Message as _;
use prost_reflect::{DescriptorPool, DynamicMessage, MessageDescriptor};
use serde_json::Value;

/// The media type.
pub const MEDIA_TYPE: &str = "application/vnd.kubernetes.protobuf";

/// The 4 bytes every body starts with.
const MAGIC: &[u8] = b"k8s\0";

/// Why a protobuf body could not be decoded or an object encoded.
#[derive(Debug, thiserror::Error)]
pub enum ProtobufError {
    /// The bytes are not a valid message.
    #[error("the protobuf body is malformed: {0}")]
    Malformed(String),
    /// No message describes the kind.
    #[error("protobuf bodies of kind {0} are not supported; send application/json")]
    Unsupported(String),
    /// The object has a value its message cannot hold.
    #[error("cannot encode {field} as protobuf: {reason}")]
    Unencodable {
        /// The JSON field.
        field: String,
        /// Why.
        reason: String,
    },
}

/// Kubernetes' messages, and each kind's message by `(package suffix, kind)`.
struct Registry {
    kinds: HashMap<(String, String), MessageDescriptor>,
    unknown: MessageDescriptor,
}

fn registry() -> Result<&'static Registry, ProtobufError> {
    static REGISTRY: OnceLock<Result<Registry, String>> = OnceLock::new();
    REGISTRY
        .get_or_init(|| {
            let bytes = include_bytes!(concat!(env!("OUT_DIR"), "/k8s.fds"));
            let pool = DescriptorPool::decode(bytes.as_slice()).map_err(|e| e.to_string())?;
            let mut kinds = HashMap::new();
            for m in pool.all_messages() {
                let mut parts = m.package_name().rsplit('.');
                if let (Some(version), Some(group)) = (parts.next(), parts.next()) {
                    kinds.insert((format!("{group}.{version}"), m.name().to_string()), m);
                }
            }
            let unknown = kinds
                .get(&("pkg.runtime".to_string(), "Unknown".to_string()))
                .cloned()
                .ok_or("runtime.Unknown is missing from the descriptors")?;
            Ok(Registry { kinds, unknown })
        })
        .as_ref()
        .map_err(|e| ProtobufError::Malformed(format!("descriptors: {e}")))
}

/// The message of `kind` in group-version `api_version`.
fn message_for(api_version: &str, kind: &str) -> Result<MessageDescriptor, ProtobufError> {
    let reg = registry()?;
    let (group, version) = api_version.rsplit_once('/').unwrap_or(("", api_version));
    let first = group.split('.').next().filter(|g| !g.is_empty());
    let key = (
        format!("{}.{version}", first.unwrap_or("core")),
        kind.to_string(),
    );
    reg.kinds
        .get(&key)
        // Options and Status travel in any group: they are meta/v1's.
        .or_else(|| {
            reg.kinds
                .get(&(format!("meta.{version}"), kind.to_string()))
        })
        .cloned()
        .ok_or_else(|| ProtobufError::Unsupported(format!("{api_version}/{kind}")))
}

/// Decodes a protobuf body into the object's JSON, `apiVersion` and `kind` included.
pub fn decode(body: &[u8]) -> Result<Value, ProtobufError> {
    let reg = registry()?;
    let rest = body
        .strip_prefix(MAGIC)
        .ok_or_else(|| ProtobufError::Malformed("missing the k8s\\0 prefix".into()))?;
    let envelope = DynamicMessage::decode(reg.unknown.clone(), rest)
        .map_err(|e| ProtobufError::Malformed(e.to_string()))?;
    let text = |m: &DynamicMessage, name: &str| {
        m.get_field_by_name(name)
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default()
    };
    let type_meta = envelope
        .get_field_by_name("typeMeta")
        .and_then(|v| v.as_message().cloned())
        .ok_or_else(|| ProtobufError::Malformed("no typeMeta".into()))?;
    let (api_version, kind) = (text(&type_meta, "apiVersion"), text(&type_meta, "kind"));
    let encoding = text(&envelope, "contentEncoding");
    if !encoding.is_empty() {
        return Err(ProtobufError::Malformed(format!(
            "contentEncoding {encoding:?} is not supported"
        )));
    }
    let raw = envelope
        .get_field_by_name("raw")
        .and_then(|v| v.as_bytes().cloned())
        .unwrap_or_default();
    let desc = message_for(&api_version, &kind)?;
    let msg = DynamicMessage::decode(desc, raw.as_ref())
        .map_err(|e| ProtobufError::Malformed(format!("{api_version}/{kind}: {e}")))?;
    let mut json = serde_json::Map::new();
    json.insert("kind".into(), Value::String(kind));
    json.insert("apiVersion".into(), Value::String(api_version));
    if let Value::Object(fields) = decode::message(&msg) {
        json.extend(fields);
    }
    Ok(Value::Object(json))
}

/// Encodes an object (its JSON, with `apiVersion` and `kind`) as a protobuf body.
pub fn encode(obj: &Value) -> Result<Vec<u8>, ProtobufError> {
    let reg = registry()?;
    let field = |name: &str| obj.get(name).and_then(Value::as_str).unwrap_or_default();
    let (api_version, kind) = (field("apiVersion"), field("kind"));
    let desc = message_for(api_version, kind)?;
    let msg = encode::message(&desc, obj, "")?;
    let type_meta_desc = reg
        .unknown
        .get_field_by_name("typeMeta")
        .and_then(|f| f.kind().as_message().cloned())
        .ok_or_else(|| ProtobufError::Malformed("runtime.Unknown has no typeMeta".into()))?;
    let mut type_meta = DynamicMessage::new(type_meta_desc);
    type_meta.set_field_by_name(
        "apiVersion",
        prost_reflect::Value::String(api_version.into()),
    );
    type_meta.set_field_by_name("kind", prost_reflect::Value::String(kind.into()));
    let mut envelope = DynamicMessage::new(reg.unknown.clone());
    envelope.set_field_by_name("typeMeta", prost_reflect::Value::Message(type_meta));
    envelope.set_field_by_name(
        "raw",
        prost_reflect::Value::Bytes(msg.encode_to_vec().into()),
    );
    envelope.set_field_by_name(
        "contentEncoding",
        prost_reflect::Value::String(String::new()),
    );
    envelope.set_field_by_name("contentType", prost_reflect::Value::String(String::new()));
    let mut out = MAGIC.to_vec();
    out.extend(envelope.encode_to_vec());
    Ok(out)
}

/// A JSON response re-encoded as protobuf, for a client that takes nothing else. Errors (a `Status`)
/// and bodies no message describes stay JSON, which the client reads by their `Content-Type`.
pub async fn answer(response: axum::response::Response) -> axum::response::Response {
    use axum::http::{header, HeaderValue};
    let is_json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/json"));
    if !response.status().is_success() || !is_json {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, usize::MAX).await else {
        return axum::response::Response::from_parts(parts, axum::body::Body::empty());
    };
    let encoded = serde_json::from_slice::<Value>(&bytes)
        .ok()
        .and_then(|json| encode(&json).ok());
    let body = match encoded {
        Some(pb) => {
            parts
                .headers
                .insert(header::CONTENT_TYPE, HeaderValue::from_static(MEDIA_TYPE));
            parts.headers.remove(header::CONTENT_LENGTH);
            axum::body::Body::from(pb)
        }
        None => axum::body::Body::from(bytes),
    };
    axum::response::Response::from_parts(parts, body)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use serde_json::json;

    fn bytes_field(n: u8, data: &[u8]) -> Vec<u8> {
        let mut out = vec![(n << 3) | 2, u8::try_from(data.len()).unwrap()];
        out.extend_from_slice(data);
        out
    }

    #[test]
    fn decodes_a_configmap_as_kubectl_sends_it() {
        let mut meta = bytes_field(1, b"c1");
        meta.extend(bytes_field(
            11,
            &[bytes_field(1, b"app"), bytes_field(2, b"web")].concat(),
        ));
        let mut cm = bytes_field(1, &meta);
        cm.extend(bytes_field(
            2,
            &[bytes_field(1, b"a"), bytes_field(2, b"")].concat(),
        ));
        let type_meta = [bytes_field(1, b"v1"), bytes_field(2, b"ConfigMap")].concat();
        let mut body = MAGIC.to_vec();
        body.extend(bytes_field(1, &type_meta));
        body.extend(bytes_field(2, &cm));
        let v = decode(&body).unwrap();
        assert_eq!(
            v,
            json!({"kind": "ConfigMap", "apiVersion": "v1",
                "metadata": {"name": "c1", "labels": {"app": "web"}},
                // An empty value in a map is a value.
                "data": {"a": ""}})
        );
    }

    #[test]
    fn every_kind_round_trips_through_its_message() {
        let objects = [
            json!({"kind": "ReplicaSet", "apiVersion": "apps/v1",
                "metadata": {"name": "web", "creationTimestamp": "2026-12-02T17:00:00Z"},
                "spec": {"replicas": 0, "selector": {"matchLabels": {"app": "web"}},
                    "template": {"metadata": {"labels": {"app": "web"}}, "spec": {
                        "volumes": [{"name": "data", "emptyDir": {}}],
                        "containers": [{"name": "web", "image": "nginx",
                            "livenessProbe": {"httpGet": {"path": "/", "port": "http"}}}]}}}}),
            json!({"kind": "Lease", "apiVersion": "coordination.k8s.io/v1",
                "metadata": {"name": "node-1"},
                "spec": {"holderIdentity": "node-1", "renewTime": "2026-12-02T17:00:00.123456Z"}}),
            json!({"kind": "APIService", "apiVersion": "apiregistration.k8s.io/v1",
                "metadata": {"name": "v1.apps"},
                "spec": {"group": "apps", "version": "v1", "groupPriorityMinimum": 17800}}),
        ];
        for obj in objects {
            let back = decode(&encode(&obj).unwrap()).unwrap();
            assert_eq!(back, obj);
        }
    }

    #[test]
    fn bad_bytes_are_errors_not_panics() {
        assert!(decode(b"k8s\0\x0a\xff").is_err());
        assert!(decode(b"nope").is_err());
        assert!(decode(b"").is_err());
        let type_meta = [bytes_field(1, b"example.com/v1"), bytes_field(2, b"Widget")].concat();
        let mut body = MAGIC.to_vec();
        body.extend(bytes_field(1, &type_meta));
        let err = decode(&body).unwrap_err().to_string();
        assert!(err.contains("example.com/v1/Widget"), "{err}");
        let err = encode(&json!({"kind": "Pod", "apiVersion": "v1", "spec": {"priority": "high"}}))
            .unwrap_err()
            .to_string();
        assert!(err.contains("spec.priority"), "{err}");
    }
}
