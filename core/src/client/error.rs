//! Client errors: what the API (or the in-process equivalent) answered, as a `metav1.Status`.

use crate::meta::{Status, StatusDetails};
use crate::store::StoreError;
use crate::ApiResource;

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

    /// `400 BadRequest` with `message`.
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::api(400, "BadRequest", message)
    }

    /// `404 NotFound` for object `name` of `res`, worded as kube-apiserver words it
    /// (`replicasets.apps "web" not found`, details naming the object, its group and resource).
    pub fn not_found(res: &ApiResource, name: &str) -> Self {
        Self::about(
            res,
            name,
            404,
            "NotFound",
            format!("{} {name:?} not found", res.qualified_resource()),
        )
    }

    /// A failure about object `name` of `res`: `details` carry its name, group and resource plural,
    /// as kube-apiserver's `NotFound`, `AlreadyExists` and `Conflict` do.
    fn about(res: &ApiResource, name: &str, code: u16, reason: &str, message: String) -> Self {
        ClientError::Api(Box::new(
            Status::failure(code, reason, message).with_details(StatusDetails {
                name: Some(name.to_string()).filter(|n| !n.is_empty()),
                group: Some(res.group.clone()).filter(|g| !g.is_empty()),
                kind: Some(res.plural.clone()),
                ..StatusDetails::default()
            }),
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

    /// Maps a store error about object `name` of `res` (empty for a whole collection).
    pub fn from_store(e: StoreError, res: &ApiResource, name: &str) -> Self {
        let qualified = res.qualified_resource();
        match e {
            StoreError::NotFound { .. } => Self::not_found(res, name),
            StoreError::AlreadyExists { .. } => Self::about(
                res,
                name,
                409,
                "AlreadyExists",
                format!("{qualified} {name:?} already exists"),
            ),
            StoreError::Conflict { .. } => Self::about(
                res,
                name,
                409,
                "Conflict",
                format!("Operation cannot be fulfilled on {qualified} {name:?}: the object has been modified; please apply your changes to the latest version and try again"),
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Resource;

    #[test]
    fn messages_and_details_name_the_group_resource() {
        let rs = crate::kinds::ReplicaSet::api_resource();
        let s = ClientError::not_found(&rs, "web").status();
        assert_eq!(
            s.message.as_deref(),
            Some("replicasets.apps \"web\" not found")
        );
        let d = s.details.unwrap();
        assert_eq!(
            (d.name.as_deref(), d.group.as_deref(), d.kind.as_deref()),
            (Some("web"), Some("apps"), Some("replicasets"))
        );
        let pods = crate::kinds::Pod::api_resource();
        let s = ClientError::from_store(StoreError::AlreadyExists { key: "k".into() }, &pods, "p")
            .status();
        assert_eq!(s.message.as_deref(), Some("pods \"p\" already exists"));
        assert_eq!(s.details.unwrap().group, None);
    }
}
