//! Kubernetes' protobuf request bodies, for the kinds kubectl sends that way (`kubectl create namespace`
//! and `kubectl create configmap` use `application/vnd.kubernetes.protobuf`).
//!
//! The envelope is the magic `k8s\0` followed by a `runtime.Unknown` message (1: typeMeta {1: apiVersion,
//! 2: kind}, 2: raw, 3: contentEncoding, 4: contentType); `raw` is the object's own message. Decoded
//! here, by hand, into the same JSON the server handles otherwise: ObjectMeta's writable fields, and
//! the bodies of Namespace and ConfigMap. Other kinds get 415 naming the kind, so a client can send JSON.

use serde_json::{json, Map, Value};

/// Why a protobuf body could not be decoded.
#[derive(Debug, thiserror::Error)]
pub enum ProtobufError {
    /// The bytes are not a valid message.
    #[error("the protobuf body is malformed: {0}")]
    Malformed(&'static str),
    /// The kind has no protobuf decoding here.
    #[error("protobuf bodies of kind {0} are not supported; send application/json")]
    Unsupported(String),
}

enum Field<'a> {
    Varint(u64),
    Bytes(&'a [u8]),
}

/// Iterates over `(field number, value)` of one message.
fn fields(mut buf: &[u8]) -> impl Iterator<Item = Result<(u64, Field<'_>), ProtobufError>> {
    std::iter::from_fn(move || {
        if buf.is_empty() {
            return None;
        }
        let step = (|| {
            let key = varint(&mut buf)?;
            let (number, wire) = (key >> 3, key & 7);
            let field = match wire {
                0 => Field::Varint(varint(&mut buf)?),
                1 => {
                    let (_, rest) = split(buf, 8)?;
                    buf = rest;
                    Field::Varint(0)
                }
                2 => {
                    let len = usize::try_from(varint(&mut buf)?)
                        .map_err(|_| ProtobufError::Malformed("length too large"))?;
                    let (data, rest) = split(buf, len)?;
                    buf = rest;
                    Field::Bytes(data)
                }
                5 => {
                    let (_, rest) = split(buf, 4)?;
                    buf = rest;
                    Field::Varint(0)
                }
                _ => return Err(ProtobufError::Malformed("unknown wire type")),
            };
            Ok((number, field))
        })();
        if step.is_err() {
            buf = &[];
        }
        Some(step)
    })
}

fn split(buf: &[u8], n: usize) -> Result<(&[u8], &[u8]), ProtobufError> {
    if buf.len() < n {
        return Err(ProtobufError::Malformed("truncated"));
    }
    Ok(buf.split_at(n))
}

fn varint(buf: &mut &[u8]) -> Result<u64, ProtobufError> {
    let mut value = 0u64;
    for shift in (0..64).step_by(7) {
        let (&b, rest) = buf
            .split_first()
            .ok_or(ProtobufError::Malformed("truncated varint"))?;
        *buf = rest;
        value |= u64::from(b & 0x7f) << shift;
        if b & 0x80 == 0 {
            return Ok(value);
        }
    }
    Err(ProtobufError::Malformed("varint too long"))
}

fn string(data: &[u8]) -> Result<String, ProtobufError> {
    String::from_utf8(data.to_vec()).map_err(|_| ProtobufError::Malformed("string is not UTF-8"))
}

/// A `map<string, string>` entry.
fn entry(data: &[u8]) -> Result<(String, String), ProtobufError> {
    let (mut k, mut v) = (String::new(), String::new());
    for f in fields(data) {
        match f? {
            (1, Field::Bytes(b)) => k = string(b)?,
            (2, Field::Bytes(b)) => v = string(b)?,
            _ => {}
        }
    }
    Ok((k, v))
}

fn object_meta(data: &[u8]) -> Result<Value, ProtobufError> {
    let mut meta = Map::new();
    let (mut labels, mut annotations, mut finalizers) = (Map::new(), Map::new(), Vec::new());
    for f in fields(data) {
        match f? {
            (1, Field::Bytes(b)) => {
                meta.insert("name".into(), Value::String(string(b)?));
            }
            (2, Field::Bytes(b)) => {
                meta.insert("generateName".into(), Value::String(string(b)?));
            }
            (3, Field::Bytes(b)) => {
                meta.insert("namespace".into(), Value::String(string(b)?));
            }
            (6, Field::Bytes(b)) => {
                meta.insert("resourceVersion".into(), Value::String(string(b)?));
            }
            (11, Field::Bytes(b)) => {
                let (k, v) = entry(b)?;
                labels.insert(k, Value::String(v));
            }
            (12, Field::Bytes(b)) => {
                let (k, v) = entry(b)?;
                annotations.insert(k, Value::String(v));
            }
            (14, Field::Bytes(b)) => finalizers.push(Value::String(string(b)?)),
            _ => {}
        }
    }
    if !labels.is_empty() {
        meta.insert("labels".into(), Value::Object(labels));
    }
    if !annotations.is_empty() {
        meta.insert("annotations".into(), Value::Object(annotations));
    }
    if !finalizers.is_empty() {
        meta.insert("finalizers".into(), Value::Array(finalizers));
    }
    Ok(Value::Object(meta))
}

/// Decodes a `k8s\0`-prefixed protobuf body into the JSON form of the object.
pub fn decode(body: &[u8]) -> Result<Value, ProtobufError> {
    let rest = body
        .strip_prefix(b"k8s\0")
        .ok_or(ProtobufError::Malformed("missing the k8s\\0 prefix"))?;
    let (mut api_version, mut kind, mut raw) = (String::new(), String::new(), &[][..]);
    for f in fields(rest) {
        match f? {
            (1, Field::Bytes(tm)) => {
                for t in fields(tm) {
                    match t? {
                        (1, Field::Bytes(b)) => api_version = string(b)?,
                        (2, Field::Bytes(b)) => kind = string(b)?,
                        _ => {}
                    }
                }
            }
            (2, Field::Bytes(b)) => raw = b,
            _ => {}
        }
    }
    let mut obj = json!({"apiVersion": api_version, "kind": kind});
    match (api_version.as_str(), kind.as_str()) {
        ("v1", "Namespace") => {
            for f in fields(raw) {
                match f? {
                    (1, Field::Bytes(b)) => obj["metadata"] = object_meta(b)?,
                    (2, Field::Bytes(spec)) => {
                        let mut fins = Vec::new();
                        for s in fields(spec) {
                            if let (1, Field::Bytes(b)) = s? {
                                fins.push(Value::String(string(b)?));
                            }
                        }
                        if !fins.is_empty() {
                            obj["spec"] = json!({"finalizers": fins});
                        }
                    }
                    _ => {}
                }
            }
        }
        ("v1", "ConfigMap") => {
            let (mut data, mut binary) = (Map::new(), Map::new());
            for f in fields(raw) {
                match f? {
                    (1, Field::Bytes(b)) => obj["metadata"] = object_meta(b)?,
                    (2, Field::Bytes(b)) => {
                        let (k, v) = entry(b)?;
                        data.insert(k, Value::String(v));
                    }
                    (3, Field::Bytes(b)) => {
                        let (mut k, mut v) = (String::new(), Vec::new());
                        for e in fields(b) {
                            match e? {
                                (1, Field::Bytes(x)) => k = string(x)?,
                                (2, Field::Bytes(x)) => v = x.to_vec(),
                                _ => {}
                            }
                        }
                        use base64::Engine;
                        binary.insert(
                            k,
                            Value::String(base64::engine::general_purpose::STANDARD.encode(v)),
                        );
                    }
                    (4, Field::Varint(v)) => obj["immutable"] = Value::Bool(v != 0),
                    _ => {}
                }
            }
            if !data.is_empty() {
                obj["data"] = Value::Object(data);
            }
            if !binary.is_empty() {
                obj["binaryData"] = Value::Object(binary);
            }
        }
        _ => return Err(ProtobufError::Unsupported(format!("{api_version}/{kind}"))),
    }
    Ok(obj)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

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
            &[bytes_field(1, b"a"), bytes_field(2, b"b")].concat(),
        ));
        let type_meta = [bytes_field(1, b"v1"), bytes_field(2, b"ConfigMap")].concat();
        let mut body = b"k8s\0".to_vec();
        body.extend(bytes_field(1, &type_meta));
        body.extend(bytes_field(2, &cm));
        let v = decode(&body).unwrap();
        assert_eq!(v["kind"], "ConfigMap");
        assert_eq!(v["metadata"]["name"], "c1");
        assert_eq!(v["metadata"]["labels"]["app"], "web");
        assert_eq!(v["data"]["a"], "b");
    }

    #[test]
    fn bad_bytes_are_errors_not_panics() {
        assert!(decode(b"k8s\0\x0a\xff").is_err());
        assert!(decode(b"nope").is_err());
        let type_meta = [bytes_field(1, b"apps/v1"), bytes_field(2, b"Deployment")].concat();
        let mut body = b"k8s\0".to_vec();
        body.extend(bytes_field(1, &type_meta));
        let err = decode(&body).unwrap_err().to_string();
        assert!(err.contains("apps/v1/Deployment"), "{err}");
    }
}
