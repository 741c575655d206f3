//! Responses: JSON objects, and `metav1.Status` for every error.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::Value;
use skiff_core::client::ClientError;
use skiff_core::meta::{Status, StatusDetails};

/// A JSON body with a status code and optional warnings (`Warning: 299 - "..."` headers).
pub struct Json {
    pub code: StatusCode,
    pub body: Value,
    pub warnings: Vec<String>,
}

impl Json {
    pub fn ok(body: Value) -> Self {
        Self {
            code: StatusCode::OK,
            body,
            warnings: Vec::new(),
        }
    }

    pub fn created(body: Value) -> Self {
        Self {
            code: StatusCode::CREATED,
            body,
            warnings: Vec::new(),
        }
    }

    pub fn with_warnings(mut self, warnings: Vec<String>) -> Self {
        self.warnings = warnings;
        self
    }
}

impl IntoResponse for Json {
    fn into_response(self) -> Response {
        // Compact, then a newline: Go's json.Encoder ends every body kube-apiserver writes with one.
        let mut body = serde_json::to_vec(&self.body).unwrap_or_default();
        body.push(b'\n');
        let mut resp = (self.code, body).into_response();
        resp.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        for w in self.warnings {
            let text = format!("299 - {:?}", w);
            if let Ok(v) = HeaderValue::from_str(&text) {
                resp.headers_mut().append("warning", v);
            }
        }
        resp
    }
}

/// Any failure, answered as a `Status`.
#[derive(Debug)]
pub struct ApiError(pub Box<Status>);

impl ApiError {
    pub fn new(code: u16, reason: &str, message: impl Into<String>) -> Self {
        Self(Box::new(Status::failure(code, reason, message)))
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(400, "BadRequest", message)
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(404, "NotFound", message)
    }

    /// kube-apiserver's 404 for a path it does not serve: its exact message and empty `details`.
    pub fn no_route() -> Self {
        Self(Box::new(
            Status::failure(404, "NotFound", super::path::NoRoute::MESSAGE)
                .with_details(StatusDetails::default()),
        ))
    }

    /// kube-apiserver's 405 for a verb a served path does not take (`DELETE pods/x/status`).
    pub fn method_not_allowed() -> Self {
        Self(Box::new(
            Status::failure(
                405,
                "MethodNotAllowed",
                "the server does not allow this method on the requested resource",
            )
            .with_details(StatusDetails::default()),
        ))
    }
}

impl From<ClientError> for ApiError {
    fn from(e: ClientError) -> Self {
        Self(Box::new(e.status()))
    }
}

impl From<Status> for ApiError {
    fn from(s: Status) -> Self {
        Self(Box::new(s))
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let code = StatusCode::from_u16(self.0.code.unwrap_or(500))
            .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let body = serde_json::to_value(&*self.0).unwrap_or(Value::Null);
        Json {
            code,
            body,
            warnings: Vec::new(),
        }
        .into_response()
    }
}
