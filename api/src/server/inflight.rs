//! The in-flight limit: like the real API server's `--max-requests-inflight` (400) and
//! `--max-mutating-requests-inflight` (200), requests beyond the limit get 429 TooManyRequests with
//! `Retry-After: 1` instead of queueing without bound. Long-running requests (watches, `log?follow`,
//! `exec`) are not counted, as in Kubernetes.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{HeaderValue, Method};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use tokio::sync::Semaphore;

use super::response::ApiError;

/// Kubernetes' default limit of read-only requests in flight.
pub const MAX_READONLY_INFLIGHT: usize = 400;
/// Kubernetes' default limit of mutating requests in flight.
pub const MAX_MUTATING_INFLIGHT: usize = 200;

/// The two semaphores.
#[derive(Debug)]
pub struct InFlight {
    readonly: Semaphore,
    mutating: Semaphore,
}

impl InFlight {
    /// Limits of `readonly` and `mutating` requests at once.
    pub fn new(readonly: usize, mutating: usize) -> Arc<Self> {
        Arc::new(Self {
            readonly: Semaphore::new(readonly),
            mutating: Semaphore::new(mutating),
        })
    }
}

/// Whether a request stays open for long (and so is not limited).
pub fn long_running(method: &Method, path: &str, query: &str) -> bool {
    let has = |flag: &str| {
        query
            .split('&')
            .any(|kv| kv == format!("{flag}=true") || kv == format!("{flag}=1"))
    };
    (method == Method::GET && has("watch"))
        || path.ends_with("/exec")
        || path.ends_with("/attach")
        || (path.ends_with("/log") && has("follow"))
}

/// The middleware.
pub async fn limit(State(limits): State<Arc<InFlight>>, req: Request, next: Next) -> Response {
    let uri = req.uri();
    if long_running(req.method(), uri.path(), uri.query().unwrap_or("")) {
        return next.run(req).await;
    }
    let semaphore = match *req.method() {
        Method::GET | Method::HEAD | Method::OPTIONS => &limits.readonly,
        _ => &limits.mutating,
    };
    let Ok(_permit) = semaphore.try_acquire() else {
        let mut resp = ApiError::new(
            429,
            "TooManyRequests",
            "Too many requests, please try again later.",
        )
        .into_response();
        resp.headers_mut()
            .insert("retry-after", HeaderValue::from_static("1"));
        return resp;
    };
    next.run(req).await
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use axum::body::Body;
    use axum::routing::get;
    use axum::Router;
    use tower::ServiceExt;

    #[test]
    fn watches_logs_follow_and_exec_are_long_running() {
        assert!(long_running(&Method::GET, "/api/v1/pods", "watch=true"));
        assert!(long_running(
            &Method::GET,
            "/api/v1/namespaces/d/pods/p/log",
            "follow=true&container=c"
        ));
        assert!(long_running(
            &Method::POST,
            "/api/v1/namespaces/d/pods/p/exec",
            ""
        ));
        assert!(!long_running(&Method::GET, "/api/v1/pods", "limit=500"));
        assert!(!long_running(
            &Method::GET,
            "/api/v1/namespaces/d/pods/p/log",
            ""
        ));
    }

    #[tokio::test]
    async fn requests_over_the_limit_get_429_with_retry_after() {
        let limits = InFlight::new(1, 1);
        let gate = Arc::new(tokio::sync::Notify::new());
        let g = gate.clone();
        let app = Router::new()
            .route(
                "/slow",
                get(move || {
                    let g = g.clone();
                    async move {
                        g.notified().await;
                        "done"
                    }
                }),
            )
            .layer(axum::middleware::from_fn_with_state(limits, limit));
        let first = tokio::spawn(
            app.clone()
                .oneshot(Request::get("/slow").body(Body::empty()).unwrap()),
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        let second = app
            .clone()
            .oneshot(Request::get("/slow").body(Body::empty()).unwrap())
            .await
            .unwrap();
        assert_eq!(second.status().as_u16(), 429);
        assert_eq!(second.headers()["retry-after"], "1");
        let body = axum::body::to_bytes(second.into_body(), 4096)
            .await
            .unwrap();
        let status: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(status["reason"], "TooManyRequests");
        assert_eq!(status["code"], 429);
        gate.notify_one();
        assert_eq!(first.await.unwrap().unwrap().status().as_u16(), 200);
        let third = app.oneshot(Request::get("/slow").body(Body::empty()).unwrap());
        let t = tokio::spawn(third);
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        gate.notify_one();
        assert_eq!(
            t.await.unwrap().unwrap().status().as_u16(),
            200,
            "the permit was released"
        );
    }
}
