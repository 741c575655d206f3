//! Decoding one document into one typed kind, collecting unknown fields and field paths on the way.

use serde::de::DeserializeOwned;

/// Where one document's text comes from.
#[derive(Clone, Copy, Debug)]
pub enum Source<'a> {
    /// YAML text of a single document.
    Yaml(&'a str),
    /// JSON text of a single document.
    Json(&'a str),
    /// An already parsed JSON value (items of a `List`, request bodies).
    Value(&'a serde_json::Value),
}

/// A failure to decode a document into a kind, with the field path and line (relative to the document).
#[derive(Debug)]
pub struct TypedError {
    /// Kubernetes-style path of the failing field; empty for the document itself.
    pub field: String,
    /// Line within the document, from 1, when known.
    pub line: Option<usize>,
    /// What went wrong.
    pub message: String,
}

/// Decodes `src` into `K`, returning the object and the paths of fields `K` does not have.
pub fn decode_typed<K: DeserializeOwned>(src: Source<'_>) -> Result<(K, Vec<String>), TypedError> {
    let mut unknown = Vec::new();
    let mut record = |p: serde_ignored::Path<'_>| unknown.push(kube_path(&p));
    let result = match src {
        Source::Yaml(text) => {
            let de = serde_yaml::Deserializer::from_str(text);
            serde_path_to_error::deserialize(serde_ignored::Deserializer::new(de, &mut record))
                .map_err(|e| {
                    let line = e.inner().location().map(|l| l.line());
                    typed_error(e.path(), line, strip_location(&e.inner().to_string()))
                })
        }
        Source::Json(text) => {
            let mut de = serde_json::Deserializer::from_str(text);
            serde_path_to_error::deserialize(serde_ignored::Deserializer::new(&mut de, &mut record))
                .map_err(|e| {
                    let line = Some(e.inner().line()).filter(|l| *l > 0);
                    typed_error(e.path(), line, strip_json_position(&e.inner().to_string()))
                })
        }
        Source::Value(value) => {
            serde_path_to_error::deserialize(serde_ignored::Deserializer::new(value, &mut record))
                .map_err(|e| typed_error(e.path(), None, e.inner().to_string()))
        }
    };
    let obj = result?;
    unknown.sort();
    unknown.dedup();
    Ok((obj, unknown))
}

fn typed_error(
    path: &serde_path_to_error::Path,
    line: Option<usize>,
    message: String,
) -> TypedError {
    TypedError {
        field: kube_path_from_segments(path),
        line,
        message,
    }
}

/// Writes a serde_ignored path as Kubernetes does: `spec.containers[0].imagee`.
fn kube_path(p: &serde_ignored::Path<'_>) -> String {
    use serde_ignored::Path;
    match p {
        Path::Root => String::new(),
        Path::Seq { parent, index } => format!("{}[{index}]", kube_path(parent)),
        Path::Map { parent, key } => {
            let parent = kube_path(parent);
            if parent.is_empty() {
                key.clone()
            } else {
                format!("{parent}.{key}")
            }
        }
        Path::Some { parent }
        | Path::NewtypeStruct { parent }
        | Path::NewtypeVariant { parent } => kube_path(parent),
    }
}

fn kube_path_from_segments(path: &serde_path_to_error::Path) -> String {
    use serde_path_to_error::Segment;
    let mut out = String::new();
    for seg in path.iter() {
        match seg {
            Segment::Seq { index } => out.push_str(&format!("[{index}]")),
            Segment::Map { key } | Segment::Enum { variant: key } => {
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(key);
            }
            Segment::Unknown => {}
        }
    }
    out
}

/// serde_yaml appends " at line L column C"; the line is reported separately.
fn strip_location(msg: &str) -> String {
    match msg.find(" at line ") {
        Some(i) => msg[..i].to_string(),
        None => msg.to_string(),
    }
}

/// serde_json appends " at line L column C"; the line is reported separately.
fn strip_json_position(msg: &str) -> String {
    strip_location(msg)
}
