//! Client errors: what the API (or the in-process equivalent) answered, as a `metav1.Status`.

use crate::meta::{Status, StatusDetails};
use crate::store::StoreError;

/// A failed client call.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ClientError {
    /// The API refused the call; the status says why (`code`, `reason`, `message`, `details`).
    #[error("{} ({}): {}", .0.reason.as_deref().unwrap_or("Failure"), .0.code.unwrap_or(0), .0.message.as_deref().unwrap_or(""))]
    Api(Box<Status>),
    /// The response could not be decoded into the expected kind.
    #[error("cannot decode the response: {0}")]
    Decode(String),
    /// The API could not be reached.
    #[error("transport: {0}")]
    Transport(String),
}

impl ClientError {
    /// An API error with this code, reason and message.
    pub fn api(code: u16, reason: &str, message: impl Into<String>) -> Self {
        ClientError::Api(Box::new(Status::failure(code, reason, message)))
    }

    /// `404 NotFound` for `plural/name`.
    pub fn not_found(plural: &str, name: &str) -> Self {
        ClientError::Api(Box::new(
            Status::failure(404, "NotFound", format!("{plural} {name:?} not found")).with_details(
                StatusDetails {
                    name: Some(name.to_string()),
                    kind: Some(plural.to_string()),
                    ..StatusDetails::default()
                },
            ),
        ))
    }

    /// The HTTP code, when the API answered.
    pub fn code(&self) -> Option<u16> {
        match self {
            ClientError::Api(s) => s.code,
            _ => None,
        }
    }

    /// 404.
    pub fn is_not_found(&self) -> bool {
        self.code() == Some(404)
    }

    /// 409 with reason `Conflict` (stale resourceVersion).
    pub fn is_conflict(&self) -> bool {
        matches!(self, ClientError::Api(s) if s.code == Some(409) && s.reason.as_deref() == Some("Conflict"))
    }

    /// 409 with reason `AlreadyExists`.
    pub fn is_already_exists(&self) -> bool {
        matches!(self, ClientError::Api(s) if s.reason.as_deref() == Some("AlreadyExists"))
    }

    /// 410 `Expired`/`Gone`: relist.
    pub fn is_expired(&self) -> bool {
        self.code() == Some(410)
    }

    /// The status to answer with (for servers) or to show.
    pub fn status(&self) -> Status {
        match self {
            ClientError::Api(s) => (**s).clone(),
            ClientError::Decode(m) => Status::failure(500, "InternalError", m.clone()),
            ClientError::Transport(m) => Status::failure(503, "ServiceUnavailable", m.clone()),
        }
    }

    /// Maps a store error about `plural/name`.
    pub fn from_store(e: StoreError, plural: &str, name: &str) -> Self {
        match e {
            StoreError::NotFound { .. } => Self::not_found(plural, name),
            StoreError::AlreadyExists { .. } => {
                Self::api(409, "AlreadyExists", format!("{plural} {name:?} already exists"))
            }
            StoreError::Conflict { .. } => Self::api(
                409,
                "Conflict",
                format!("Operation cannot be fulfilled on {plural} {name:?}: the object has been modified; please apply your changes to the latest version and try again"),
            ),
            StoreError::Expired { requested, compacted } => Self::api(
                410,
                "Expired",
                format!("too old resource version: {requested} ({compacted})"),
            ),
            StoreError::InvalidContinue { token } => {
                Self::api(400, "BadRequest", format!("invalid continue token {token:?}"))
            }
            other => Self::api(500, "InternalError", other.to_string()),
        }
    }
}
