//! Reading a request: its body (JSON, YAML, protobuf), and the query parameters every verb shares.

use axum::http::{header, HeaderMap};
use serde_json::Value;
use skiff_core::client::ListParams;
use skiff_core::codec::{DecodeError, Strictness};

use super::response::ApiError;
use super::{protobuf, Q};

pub(super) fn parse_body(headers: &HeaderMap, body: &[u8]) -> Result<Value, ApiError> {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if content_type.starts_with("application/vnd.kubernetes.protobuf") {
        return protobuf::decode(body).map_err(|e| match e {
            protobuf::ProtobufError::Unsupported(_) => {
                ApiError::new(415, "UnsupportedMediaType", e.to_string())
            }
            protobuf::ProtobufError::Malformed(_) | protobuf::ProtobufError::Unencodable { .. } => {
                ApiError::bad_request(e.to_string())
            }
        });
    }
    if content_type.contains("protobuf") || content_type.contains("cbor") {
        return Err(ApiError::new(
            415,
            "UnsupportedMediaType",
            format!("the body of the request was in an unknown format - accepted media types include: application/json, application/yaml (got {content_type:?})"),
        ));
    }
    let yaml = content_type.contains("yaml");
    if yaml {
        serde_yaml::from_slice(body)
            .map_err(|e| ApiError::bad_request(format!("the request body is not valid YAML: {e}")))
    } else {
        serde_json::from_slice(body)
            .map_err(|e| ApiError::bad_request(format!("the request body is not valid JSON: {e}")))
    }
}

/// `dryRun=All` (kubectl's `--dry-run=server`): run the write in full and store nothing. Kubernetes
/// knows no other value.
pub(super) fn dry_run(q: &Q) -> Result<bool, ApiError> {
    match q.get("dryRun").map(String::as_str) {
        None | Some("") => Ok(false),
        Some(value) => dry_run_value(value),
    }
}

/// One `dryRun` value, from the query or from DeleteOptions: `All` is the only one.
pub(super) fn dry_run_value(value: &str) -> Result<bool, ApiError> {
    match value {
        "All" => Ok(true),
        other => Err(ApiError::bad_request(format!(
            "Invalid dryRun value: {other:?}: supported values: \"All\""
        ))),
    }
}

pub(super) fn strictness(q: &Q) -> Result<Strictness, ApiError> {
    match q.get("fieldValidation").map(String::as_str) {
        None | Some("") | Some("Warn") => Ok(Strictness::Warn),
        Some("Strict") => Ok(Strictness::Strict),
        Some("Ignore") => Ok(Strictness::Ignore),
        Some(other) => Err(ApiError::bad_request(format!(
            "fieldValidation {other:?} is not supported (want Strict, Warn or Ignore)"
        ))),
    }
}

/// The `fieldManager` of a write: the query parameter, else the user agent's program name (`kubectl`).
pub(super) fn field_manager(q: &Q, headers: &HeaderMap) -> Result<String, ApiError> {
    if let Some(m) = q.get("fieldManager").filter(|m| !m.is_empty()) {
        if m.len() > 128 || m.chars().any(char::is_control) {
            return Err(ApiError::new(
                422,
                "Invalid",
                format!("fieldManager {m:?} must be at most 128 printable characters"),
            ));
        }
        return Ok(m.clone());
    }
    let agent = headers
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .and_then(|ua| ua.split('/').next())
        .map(str::trim)
        .filter(|a| !a.is_empty())
        .unwrap_or("unknown");
    Ok(agent.chars().take(128).collect())
}

pub(super) fn decode_error(e: DecodeError) -> ApiError {
    let message = match &e {
        DecodeError::UnknownFields { fields, .. } => format!(
            "strict decoding error: {}",
            fields
                .iter()
                .map(|f| format!("unknown field {f:?}"))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        DecodeError::Field { field, message, .. } => format!("{field}: {message}"),
        other => other.to_string(),
    };
    ApiError::bad_request(message)
}

pub(super) fn list_params(q: &Q) -> Result<ListParams, ApiError> {
    Ok(ListParams {
        label_selector: q.get("labelSelector").cloned().filter(|s| !s.is_empty()),
        field_selector: q.get("fieldSelector").cloned().filter(|s| !s.is_empty()),
        limit: match q.get("limit") {
            Some(l) if !l.is_empty() => Some(
                l.parse()
                    .map_err(|_| ApiError::bad_request(format!("invalid limit {l:?}")))?,
            ),
            _ => None,
        },
        continue_token: q.get("continue").cloned().filter(|s| !s.is_empty()),
    })
}
