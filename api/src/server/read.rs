//! The read verbs: list (and the Table form) and watch (with bookmarks and the ERROR event).

use std::convert::Infallible;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use futures::StreamExt;
use serde_json::{json, Value};
use skiff_core::client::{ClientError, EventType, WatchParams};
use skiff_core::ApiResource;

use super::negotiate::{self, Form};
use super::request::list_params;
use super::response::{ApiError, Json};
use super::{table, ApiServer, Q};

impl ApiServer {
    pub(super) async fn list(
        &self,
        res: &ApiResource,
        ns: Option<&str>,
        q: &Q,
        form: Form,
    ) -> Result<Json, ApiError> {
        let list = self.client.list(res, ns, &list_params(q)?).await?;
        if form == Form::Table {
            let mut t = table::table(
                res,
                &list.items,
                &list.resource_version,
                q.get("includeObject").map(String::as_str),
            );
            if let Some(c) = list.continue_token {
                t["metadata"]["continue"] = Value::String(c);
            }
            return Ok(Json::ok(t));
        }
        let mut metadata = json!({"resourceVersion": list.resource_version});
        if let Some(c) = list.continue_token {
            metadata["continue"] = Value::String(c);
        }
        if form == Form::Metadata {
            return Ok(Json::ok(negotiate::metadata_list(metadata, &list.items)));
        }
        Ok(Json::ok(json!({
            "kind": format!("{}List", res.kind),
            "apiVersion": res.api_version(),
            "metadata": metadata,
            "items": list.items,
        })))
    }

    pub(super) async fn watch(
        &self,
        res: &ApiResource,
        ns: Option<&str>,
        q: &Q,
        form: Form,
    ) -> Result<Response, ApiError> {
        let lp = list_params(q)?;
        let timeout = q
            .get("timeoutSeconds")
            .and_then(|t| t.parse::<u64>().ok())
            .map(Duration::from_secs)
            .unwrap_or(Duration::from_secs(1800));
        let params = WatchParams {
            label_selector: lp.label_selector,
            field_selector: lp.field_selector,
            resource_version: q.get("resourceVersion").cloned(),
            timeout: Some(timeout),
        };
        let stream = match self.client.watch(res, ns, &params).await {
            Ok(s) => s,
            Err(e) if e.is_expired() => {
                // An expired resourceVersion is an ERROR event on a 200 stream, as kubectl expects.
                let line = error_line(&e);
                return Ok(watch_response(Body::from(line)));
            }
            Err(e) => return Err(e.into()),
        };
        let stream = if q.get("allowWatchBookmarks").map(String::as_str) == Some("true") {
            with_bookmarks(
                stream,
                res,
                params.resource_version.clone(),
                Duration::from_millis(self.bookmark_ms.load(std::sync::atomic::Ordering::Relaxed)),
            )
        } else {
            stream
        };
        let res = res.clone();
        let include = q.get("includeObject").cloned();
        let lines = stream.map(move |item| {
            let line = match item {
                Ok(ev) => {
                    let t = match ev.event_type {
                        EventType::Added => "ADDED",
                        EventType::Modified => "MODIFIED",
                        EventType::Deleted => "DELETED",
                        EventType::Bookmark => "BOOKMARK",
                    };
                    let object = match form {
                        Form::Table if ev.event_type != EventType::Bookmark => {
                            let rv = ev
                                .object
                                .pointer("/metadata/resourceVersion")
                                .and_then(Value::as_str)
                                .unwrap_or("")
                                .to_string();
                            table::table(&res, &[ev.object], &rv, include.as_deref())
                        }
                        // Bookmarks too: a metadata watcher decodes every event the same way.
                        Form::Metadata => negotiate::metadata_of(&ev.object),
                        _ => ev.object,
                    };
                    let mut l = serde_json::to_vec(&json!({"type": t, "object": object}))
                        .unwrap_or_default();
                    l.push(b'\n');
                    l
                }
                Err(e) => error_line(&e),
            };
            Ok::<_, Infallible>(Bytes::from(line))
        });
        Ok(watch_response(Body::from_stream(lines)))
    }
}

/// `events` with a BOOKMARK every `every` carrying the newest resourceVersion seen (none before one is
/// known); ends when `events` ends.
pub(super) fn with_bookmarks(
    events: futures::stream::BoxStream<'static, Result<skiff_core::client::RawEvent, ClientError>>,
    res: &ApiResource,
    start: Option<String>,
    every: Duration,
) -> futures::stream::BoxStream<'static, Result<skiff_core::client::RawEvent, ClientError>> {
    let kind = res.kind.clone();
    let api_version = res.api_version();
    let last = start.filter(|rv| !rv.is_empty() && rv != "0");
    let mut ticker = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    futures::stream::unfold(
        (events, ticker, last),
        move |(mut events, mut ticker, mut last)| {
            let (kind, api_version) = (kind.clone(), api_version.clone());
            async move {
                loop {
                    tokio::select! {
                        item = events.next() => {
                            let item = item?;
                            if let Ok(ev) = &item {
                                if let Some(rv) = ev.object.pointer("/metadata/resourceVersion").and_then(Value::as_str) {
                                    last = Some(rv.to_string());
                                }
                            }
                            return Some((item, (events, ticker, last)));
                        }
                        _ = ticker.tick() => {
                            if let Some(rv) = &last {
                                let ev = skiff_core::client::RawEvent {
                                    event_type: EventType::Bookmark,
                                    object: json!({"kind": kind, "apiVersion": api_version, "metadata": {"resourceVersion": rv}}),
                                };
                                return Some((Ok(ev), (events, ticker, last)));
                            }
                        }
                    }
                }
            }
        },
    )
    .boxed()
}

pub(super) fn error_line(e: &ClientError) -> Vec<u8> {
    let mut l =
        serde_json::to_vec(&json!({"type": "ERROR", "object": e.status()})).unwrap_or_default();
    l.push(b'\n');
    l
}

pub(super) fn watch_response(body: Body) -> Response {
    let mut r = (StatusCode::OK, body).into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static("application/json"),
    );
    r
}
