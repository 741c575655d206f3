//! The API server: Kubernetes' REST dialect over a [`Client`] (usually the in-process client over the store).
//!
//! Every registered kind is served generically: `GET` (get, list, `?watch=true`), `POST` (create), `PUT`
//! (replace; `/status`), `PATCH` (JSON merge patch, JSON patch, strategic merge patch, server-side apply;
//! `/status`), `DELETE` (object, collection). Writes are decoded strictly or with warnings as
//! `fieldValidation` asks, defaulted and validated as Kubernetes does, and record their `fieldManager` in
//! `metadata.managedFields`; every failure is a `metav1.Status` with Kubernetes' code and reason.

mod apply;
mod discovery;
mod inflight;
mod metrics;
mod openapi;
mod path;
mod pod_proxy;
mod protobuf;
mod response;
mod table;

use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::{DefaultBodyLimit, Query, State};
use axum::http::{header, HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use futures::StreamExt;
use serde_json::{json, Value};
use skiff_core::client::{
    Client, ClientError, DeleteOutcome, DeleteParams, EventType, ListParams, Patch,
    PropagationPolicy, WatchParams,
};
use skiff_core::codec::{DecodeError, DecodeOptions, Object, Scheme, Strictness};
use skiff_core::kinds::Namespace;
use skiff_core::managed_fields::record_update;
use skiff_core::meta::Time;
use skiff_core::shutdown::Shutdown;
use skiff_core::{ApiResource, Resource, Scope};

use crate::auth::TokenSet;
pub use discovery::KUBERNETES_MINOR;
use path::Target;
use response::{ApiError, Json};

/// Largest request body accepted (Kubernetes' limit is 3 MiB).
pub const MAX_BODY_BYTES: usize = 3 * 1024 * 1024;

/// Namespaces that exist from the start.
pub const SYSTEM_NAMESPACES: &[&str] =
    &["default", "kube-system", "kube-public", "kube-node-lease"];

/// The API server. See the [module docs](self).
pub struct ApiServer {
    client: Arc<dyn Client>,
    scheme: Scheme,
    openapi: openapi::OpenApi,
    metrics: Arc<metrics::ApiMetrics>,
    tokens: Option<Arc<TokenSet>>,
    /// Milliseconds between BOOKMARK events on watches that allow them.
    bookmark_ms: std::sync::atomic::AtomicU64,
    /// Whether `/readyz` answers 200 (see [`ApiServer::set_ready`]).
    ready: std::sync::atomic::AtomicBool,
}

/// How often a watch with `allowWatchBookmarks=true` gets a BOOKMARK (Kubernetes: about a minute).
pub const BOOKMARK_INTERVAL: Duration = Duration::from_secs(60);

type Q = HashMap<String, String>;

/// Whether a write makes a new object or changes a stored one: the kind's create strategy runs only
/// on the first.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Intent {
    Create,
    Update,
}

impl ApiServer {
    /// A server for the kinds of `scheme`, storing through `client`, that lets every request in.
    pub fn new(client: Arc<dyn Client>, scheme: Scheme) -> Arc<Self> {
        Arc::new(Self {
            client,
            openapi: openapi::OpenApi::new(&scheme),
            scheme,
            metrics: metrics::ApiMetrics::new(),
            tokens: None,
            bookmark_ms: std::sync::atomic::AtomicU64::new(BOOKMARK_INTERVAL.as_millis() as u64),
            ready: std::sync::atomic::AtomicBool::new(true),
        })
    }

    /// Like [`new`](Self::new), but every request except `/healthz`, `/livez`, `/readyz` and `/version`
    /// needs `Authorization: Bearer <token>` with one of `tokens` (else 401 Unauthorized); an empty set
    /// lets nobody in. See [`crate::auth`].
    ///
    /// ```
    /// use std::sync::Arc;
    /// use skiff_api::{auth::TokenSet, ApiServer};
    /// use skiff_core::{client::InProcessClient, codec::Scheme, store::MemoryStore};
    ///
    /// let tokens = TokenSet::parse("s3cret,admin,admin\n").unwrap();
    /// let client = InProcessClient::shared(Arc::new(MemoryStore::new()));
    /// let server = ApiServer::with_tokens(client, Scheme::builtin(), tokens);
    /// assert!(server.authenticates());
    /// ```
    pub fn with_tokens(client: Arc<dyn Client>, scheme: Scheme, tokens: TokenSet) -> Arc<Self> {
        Arc::new(Self {
            client,
            openapi: openapi::OpenApi::new(&scheme),
            scheme,
            metrics: metrics::ApiMetrics::new(),
            tokens: Some(Arc::new(tokens)),
            bookmark_ms: std::sync::atomic::AtomicU64::new(BOOKMARK_INTERVAL.as_millis() as u64),
            ready: std::sync::atomic::AtomicBool::new(true),
        })
    }

    /// Sets how often watches that allow bookmarks get one (default [`BOOKMARK_INTERVAL`]).
    pub fn set_bookmark_interval(&self, every: Duration) {
        let ms = u64::try_from(every.as_millis()).unwrap_or(u64::MAX).max(1);
        self.bookmark_ms
            .store(ms, std::sync::atomic::Ordering::Relaxed);
    }

    /// Whether `GET /readyz` answers 200 (true from the start; `skiff up` holds it false until its
    /// controllers and node agent are up).
    pub fn set_ready(&self, ready: bool) {
        self.ready
            .store(ready, std::sync::atomic::Ordering::Relaxed);
    }

    /// Whether requests need a bearer token.
    pub fn authenticates(&self) -> bool {
        self.tokens.is_some()
    }

    /// Creates the system namespaces if they are missing.
    pub async fn ensure_namespaces(&self) -> Result<(), ClientError> {
        let res = Namespace::api_resource();
        for ns in SYSTEM_NAMESPACES {
            if self.client.get(&res, None, ns).await.is_err() {
                let mut obj = Namespace::named(*ns);
                skiff_core::defaults::ApplyDefaults::apply_defaults(&mut obj);
                let value =
                    serde_json::to_value(&obj).map_err(|e| ClientError::Decode(e.to_string()))?;
                match self.client.create(&res, None, value).await {
                    Ok(_) => {}
                    Err(e) if e.is_already_exists() => {}
                    Err(e) => return Err(e),
                }
            }
        }
        Ok(())
    }

    /// The HTTP routes.
    pub fn router(self: Arc<Self>) -> Router {
        let router = Router::new()
            .route("/version", get(|| async { Json::ok(discovery::version()) }))
            .route("/healthz", get(|| async { "ok" }))
            .route(
                "/readyz",
                get(|State(s): State<Arc<ApiServer>>| async move {
                    if s.ready.load(std::sync::atomic::Ordering::Relaxed) {
                        (StatusCode::OK, "ok")
                    } else {
                        (
                            StatusCode::INTERNAL_SERVER_ERROR,
                            "[-]node agent not registered yet\nreadyz check failed",
                        )
                    }
                }),
            )
            .route("/livez", get(|| async { "ok" }))
            .route("/api", get(api))
            .route("/apis", get(apis))
            .route("/openapi/v3", get(openapi_index))
            .route("/openapi/v3/{*gv}", get(openapi_gv))
            .route(
                "/api/v1/namespaces/{ns}/pods/{name}/log",
                get(pod_proxy::log),
            )
            .route(
                "/api/v1/namespaces/{ns}/pods/{name}/exec",
                get(pod_proxy::exec).post(pod_proxy::exec),
            )
            .route("/api/{*rest}", axum::routing::any(resource))
            .route("/apis/{*rest}", axum::routing::any(resource))
            .fallback(|| async { ApiError::no_route() })
            .route(
                "/metrics",
                get(|State(s): State<Arc<ApiServer>>| async move { s.metrics.render() }),
            )
            .layer(DefaultBodyLimit::max(MAX_BODY_BYTES));
        // Inside the metrics layer, so that refused requests are counted too.
        let router = match &self.tokens {
            Some(tokens) => router.layer(axum::middleware::from_fn_with_state(
                tokens.clone(),
                crate::auth::require_token,
            )),
            None => router,
        };
        router
            .layer(axum::middleware::from_fn_with_state(
                inflight::InFlight::new(
                    inflight::MAX_READONLY_INFLIGHT,
                    inflight::MAX_MUTATING_INFLIGHT,
                ),
                inflight::limit,
            ))
            .layer(axum::middleware::from_fn_with_state(
                self.metrics.clone(),
                metrics::record,
            ))
            .with_state(self)
    }

    /// Serves on `listener` until `shutdown`.
    pub async fn serve(
        self: Arc<Self>,
        listener: tokio::net::TcpListener,
        shutdown: Shutdown,
    ) -> std::io::Result<()> {
        // `into_make_service`: each connection shares the router. Serving a `Router` directly
        // rebuilds its route table per connection (about 60 KB each, with 100 node agents connected).
        axum::serve(listener, self.router().into_make_service())
            .with_graceful_shutdown(async move { shutdown.wait().await })
            .await
    }

    /// Serves HTTPS on `listener` with `tls` (see [`crate::tls::Pki::server_config`]) until `shutdown`.
    /// Plain HTTP to this port fails the handshake and gets no answer.
    ///
    /// ```no_run
    /// # async fn example(server: std::sync::Arc<skiff_api::ApiServer>, shutdown: skiff_core::shutdown::Shutdown)
    /// # -> Result<(), Box<dyn std::error::Error>> {
    /// let pki = skiff_api::tls::Pki::ensure("/tmp/pki".as_ref(), &["127.0.0.1".into()])?;
    /// let listener = tokio::net::TcpListener::bind("127.0.0.1:6443").await?;
    /// server.serve_tls(listener, pki.server_config()?, shutdown).await?;
    /// # Ok(()) }
    /// ```
    pub async fn serve_tls(
        self: Arc<Self>,
        listener: tokio::net::TcpListener,
        tls: Arc<rustls::ServerConfig>,
        shutdown: Shutdown,
    ) -> std::io::Result<()> {
        axum::serve(
            crate::tls::TlsListener::new(listener, tls),
            self.router().into_make_service(),
        )
        .with_graceful_shutdown(async move { shutdown.wait().await })
        .await
    }
}

/// The 401 answer to a request without a valid token.
pub(crate) fn unauthorized() -> ApiError {
    ApiError::new(401, "Unauthorized", "Unauthorized")
}

fn accept(headers: &HeaderMap) -> &str {
    headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
}

/// An aggregated discovery answer, with the exact media type kubectl checks.
fn aggregated(body: Value) -> Response {
    let mut resp = Json::ok(body).into_response();
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        axum::http::HeaderValue::from_static(discovery::AGGREGATED_V2),
    );
    resp
}

async fn api(State(s): State<Arc<ApiServer>>, headers: HeaderMap) -> Response {
    if discovery::wants_aggregated(accept(&headers)) {
        return aggregated(discovery::aggregated(true, s.scheme.resources()));
    }
    Json::ok(discovery::api_versions()).into_response()
}

async fn apis(State(s): State<Arc<ApiServer>>, headers: HeaderMap) -> Response {
    if discovery::wants_aggregated(accept(&headers)) {
        return aggregated(discovery::aggregated(false, s.scheme.resources()));
    }
    Json::ok(discovery::api_group_list(s.scheme.resources())).into_response()
}

async fn openapi_index(State(s): State<Arc<ApiServer>>) -> Json {
    Json::ok(s.openapi.index().clone())
}

async fn openapi_gv(
    State(s): State<Arc<ApiServer>>,
    axum::extract::Path(gv): axum::extract::Path<String>,
) -> Response {
    match s.openapi.document(gv.trim_matches('/')) {
        Some(doc) => Json::ok(doc.clone()).into_response(),
        None => ApiError::not_found(format!("no OpenAPI document for {gv}")).into_response(),
    }
}

async fn resource(
    State(s): State<Arc<ApiServer>>,
    method: Method,
    uri: Uri,
    Query(q): Query<Q>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    match s.dispatch(method, uri, q, headers, body).await {
        Ok(r) => r,
        Err(e) => e.into_response(),
    }
}

fn parse_body(headers: &HeaderMap, body: &[u8]) -> Result<Value, ApiError> {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if content_type.starts_with("application/vnd.kubernetes.protobuf") {
        return protobuf::decode(body).map_err(|e| match e {
            protobuf::ProtobufError::Unsupported(_) => {
                ApiError::new(415, "UnsupportedMediaType", e.to_string())
            }
            protobuf::ProtobufError::Malformed(_) => ApiError::bad_request(e.to_string()),
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
        Some("All") => Ok(true),
        Some(other) => Err(ApiError::bad_request(format!(
            "Invalid dryRun value: {other:?}: supported values: \"All\""
        ))),
    }
}

fn strictness(q: &Q) -> Result<Strictness, ApiError> {
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
fn field_manager(q: &Q, headers: &HeaderMap) -> Result<String, ApiError> {
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

fn decode_error(e: DecodeError) -> ApiError {
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

fn list_params(q: &Q) -> Result<ListParams, ApiError> {
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

impl ApiServer {
    async fn dispatch(
        &self,
        method: Method,
        uri: Uri,
        q: Q,
        headers: HeaderMap,
        body: Bytes,
    ) -> Result<Response, ApiError> {
        let target = path::parse(&self.scheme, uri.path()).map_err(|_| ApiError::no_route())?;
        if let Target::Object {
            resource,
            subresource: Some(sub),
            ..
        } = &target
        {
            if !discovery::subresource_allows(resource, sub, &method) {
                return Err(ApiError::method_not_allowed());
            }
        }
        let watch = matches!(q.get("watch").map(String::as_str), Some("true") | Some("1"));
        let as_table =
            table::wants_table(headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()));
        Ok(match (&method, target) {
            (&Method::GET, Target::GroupVersion(gv)) => {
                Json::ok(discovery::api_resource_list(&gv, self.scheme.resources())).into_response()
            }
            (
                &Method::GET,
                Target::Collection {
                    resource,
                    namespace,
                },
            ) if watch => {
                self.watch(&resource, namespace.as_deref(), &q, as_table)
                    .await?
            }
            (
                &Method::GET,
                Target::Collection {
                    resource,
                    namespace,
                },
            ) => self
                .list(&resource, namespace.as_deref(), &q, as_table)
                .await?
                .into_response(),
            (
                &Method::POST,
                Target::Collection {
                    resource,
                    namespace,
                },
            ) => self
                .create(&resource, namespace.as_deref(), &q, &headers, &body)
                .await?
                .into_response(),
            (
                &Method::DELETE,
                Target::Collection {
                    resource,
                    namespace,
                },
            ) => self
                .delete_collection(&resource, namespace.as_deref(), &q)
                .await?
                .into_response(),
            (
                &Method::GET,
                Target::Object {
                    resource,
                    namespace,
                    name,
                    subresource,
                },
            ) => {
                let obj = self
                    .client
                    .get(&resource, namespace.as_deref(), &name)
                    .await?;
                if subresource.as_deref() == Some("scale") {
                    return Ok(Json::ok(scale_of(&resource, &obj)?).into_response());
                }
                if as_table {
                    let rv = obj
                        .pointer("/metadata/resourceVersion")
                        .and_then(Value::as_str)
                        .unwrap_or("")
                        .to_string();
                    let include = q.get("includeObject").map(String::as_str);
                    Json::ok(table::table(&resource, &[obj], &rv, include)).into_response()
                } else {
                    Json::ok(obj).into_response()
                }
            }
            (
                &Method::PUT,
                Target::Object {
                    resource,
                    namespace,
                    name,
                    subresource,
                },
            ) => self
                .replace(
                    &resource,
                    namespace.as_deref(),
                    &name,
                    subresource.as_deref(),
                    &q,
                    &headers,
                    &body,
                )
                .await?
                .into_response(),
            (
                &Method::PATCH,
                Target::Object {
                    resource,
                    namespace,
                    name,
                    subresource,
                },
            ) => self
                .patch(
                    &resource,
                    namespace.as_deref(),
                    &name,
                    subresource.as_deref(),
                    &q,
                    &headers,
                    &body,
                )
                .await?
                .into_response(),
            (
                &Method::DELETE,
                Target::Object {
                    resource,
                    namespace,
                    name,
                    subresource: None,
                },
            ) => self
                .delete(&resource, namespace.as_deref(), &name, &q, &body)
                .await?
                .into_response(),
            (
                &Method::POST,
                Target::Object {
                    resource,
                    namespace: Some(namespace),
                    name,
                    subresource: Some(sub),
                },
            ) if sub == "binding" && resource.group.is_empty() && resource.plural == "pods" => self
                .bind(&namespace, &name, &q, &headers, &body)
                .await?
                .into_response(),
            _ => return Err(ApiError::method_not_allowed()),
        })
    }

    /// `POST pods/{name}/binding`: a core/v1 `Binding` naming the node in `target.name`.
    async fn bind(
        &self,
        ns: &str,
        name: &str,
        q: &Q,
        headers: &HeaderMap,
        body: &[u8],
    ) -> Result<Json, ApiError> {
        let binding = parse_body(headers, body)?;
        if let Some(given) = binding.pointer("/metadata/name").and_then(Value::as_str) {
            if given != name {
                return Err(ApiError::new(
                    400,
                    "BadRequest",
                    format!("the name of the object ({given}) does not match the name on the URL ({name})"),
                ));
            }
        }
        let node = binding
            .pointer("/target/name")
            .and_then(Value::as_str)
            .unwrap_or("");
        self.writer(q)?.bind(ns, name, node).await?;
        let mut status = skiff_core::meta::Status::success();
        status.code = Some(201);
        Ok(Json::created(
            serde_json::to_value(status).unwrap_or_default(),
        ))
    }

    async fn list(
        &self,
        res: &ApiResource,
        ns: Option<&str>,
        q: &Q,
        as_table: bool,
    ) -> Result<Json, ApiError> {
        let list = self.client.list(res, ns, &list_params(q)?).await?;
        if as_table {
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
        Ok(Json::ok(json!({
            "kind": format!("{}List", res.kind),
            "apiVersion": res.api_version(),
            "metadata": metadata,
            "items": list.items,
        })))
    }

    /// The client a write goes through: the store's, or with `dryRun=All` its dry-run twin, which runs
    /// the whole write and stores nothing (see [`Client::dry_run`]).
    fn writer(&self, q: &Q) -> Result<Arc<dyn Client>, ApiError> {
        if !dry_run(q)? {
            return Ok(self.client.clone());
        }
        self.client.dry_run().ok_or_else(|| {
            ApiError::bad_request("dryRun is not supported: this server's client cannot run writes without storing them")
        })
    }

    /// Decodes a body as `res`'s kind (strictly, or with warnings, as `fieldValidation` asks): the URL
    /// decides `apiVersion` and `kind` when the body leaves them out.
    fn decode(
        &self,
        res: &ApiResource,
        q: &Q,
        mut value: Value,
    ) -> Result<(Object, Vec<String>), ApiError> {
        if let Some(obj) = value.as_object_mut() {
            // kubectl may omit them for the URL's kind; the URL decides.
            obj.entry("apiVersion")
                .or_insert_with(|| Value::String(res.api_version()));
            obj.entry("kind")
                .or_insert_with(|| Value::String(res.kind.clone()));
        } else {
            return Err(ApiError::bad_request(
                "the request body must be a JSON object",
            ));
        }
        let kind = value
            .get("kind")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let api_version = value
            .get("apiVersion")
            .and_then(Value::as_str)
            .unwrap_or_default();
        if kind != res.kind || api_version != res.api_version() {
            return Err(ApiError::bad_request(format!(
                "the body is a {kind} ({api_version}); this URL serves {} ({})",
                res.kind,
                res.api_version()
            )));
        }
        let decoded = self
            .scheme
            .decode_value(
                &value,
                DecodeOptions {
                    strictness: strictness(q)?,
                },
            )
            .map_err(decode_error)?;
        Ok((decoded.object, decoded.warnings))
    }

    /// Decodes, defaults, runs the kind's strategy (on create) and validates a body for `res`; returns
    /// the object JSON and unknown-field warnings.
    fn admit(
        &self,
        res: &ApiResource,
        q: &Q,
        value: Value,
        intent: Intent,
    ) -> Result<(Value, Vec<String>), ApiError> {
        let (mut obj, warnings) = self.decode(res, q, value)?;
        obj.apply_defaults();
        if intent == Intent::Create {
            obj.prepare_for_create();
        }
        let errs = obj.validate();
        if !errs.is_empty() {
            return Err(ApiError::from(errs.to_status(res, obj.name())));
        }
        let out = obj
            .to_json()
            .map_err(|e| ApiError::new(500, "InternalError", e.to_string()))?;
        Ok((out, warnings))
    }

    /// Writes the status subresource of `name`: `make` turns the stored object into the new one (the
    /// body of a PUT, the patched object of a PATCH). The result is decoded as the kind, its status
    /// strategy runs against the stored object (a Pod keeps its `qosClass`), and the write is a
    /// compare-and-swap: on the resourceVersion the new object names, else on the one read (retried).
    async fn write_status(
        &self,
        res: &ApiResource,
        ns: Option<&str>,
        name: &str,
        q: &Q,
        make: impl Fn(&Value) -> Result<Value, ApiError>,
    ) -> Result<Json, ApiError> {
        for _ in 0..8 {
            let current = self.client.get(res, ns, name).await?;
            let new = make(&current)?;
            let rv_given = new.pointer("/metadata/resourceVersion").is_some()
                && new.pointer("/metadata/resourceVersion")
                    != current.pointer("/metadata/resourceVersion");
            let (mut obj, warnings) = self.decode(res, q, new)?;
            let old = self
                .scheme
                .decode_value(&current, DecodeOptions::default())
                .map_err(decode_error)?
                .object;
            obj.prepare_for_status_update(&old);
            let mut value = obj
                .to_json()
                .map_err(|e| ApiError::new(500, "InternalError", e.to_string()))?;
            if !rv_given {
                if let (Some(meta), Some(rv)) = (
                    value.get_mut("metadata").and_then(Value::as_object_mut),
                    current.pointer("/metadata/resourceVersion"),
                ) {
                    meta.insert("resourceVersion".into(), rv.clone());
                }
            }
            match self.writer(q)?.replace_status(res, ns, name, value).await {
                Ok(v) => return Ok(Json::ok(v).with_warnings(warnings)),
                Err(e) if e.is_conflict() && !rv_given => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Err(too_many_writers(res, name))
    }

    async fn namespace_exists(&self, res: &ApiResource, ns: Option<&str>) -> Result<(), ApiError> {
        if res.scope == Scope::Namespaced {
            if let Some(ns) = ns {
                let nsr = Namespace::api_resource();
                match self.client.get(&nsr, None, ns).await {
                    Ok(_) => {}
                    Err(e) if e.is_not_found() => {
                        return Err(ApiError::not_found(format!("namespaces {ns:?} not found")))
                    }
                    Err(e) => return Err(e.into()),
                }
            }
        }
        Ok(())
    }

    async fn create(
        &self,
        res: &ApiResource,
        ns: Option<&str>,
        q: &Q,
        headers: &HeaderMap,
        body: &[u8],
    ) -> Result<Json, ApiError> {
        let manager = field_manager(q, headers)?;
        let (mut value, warnings) =
            self.admit(res, q, parse_body(headers, body)?, Intent::Create)?;
        record_update(None, &mut value, &manager, &res.api_version(), &Time::now());
        let ns = match (res.scope, ns) {
            (Scope::Namespaced, Some(ns)) => Some(ns.to_string()),
            (Scope::Namespaced, None) => value
                .pointer("/metadata/namespace")
                .and_then(Value::as_str)
                .map(str::to_string)
                .or_else(|| Some("default".into())),
            (Scope::Cluster, _) => None,
        };
        self.namespace_exists(res, ns.as_deref()).await?;
        let created = self.writer(q)?.create(res, ns.as_deref(), value).await?;
        Ok(Json::created(created).with_warnings(warnings))
    }

    #[allow(clippy::too_many_arguments)]
    async fn replace(
        &self,
        res: &ApiResource,
        ns: Option<&str>,
        name: &str,
        sub: Option<&str>,
        q: &Q,
        headers: &HeaderMap,
        body: &[u8],
    ) -> Result<Json, ApiError> {
        let body = parse_body(headers, body)?;
        match sub {
            Some("status") => {
                self.write_status(res, ns, name, q, |_| Ok(body.clone()))
                    .await
            }
            Some("scale") => {
                let replicas = body
                    .pointer("/spec/replicas")
                    .and_then(Value::as_i64)
                    .unwrap_or(0);
                let rv = body
                    .pointer("/metadata/resourceVersion")
                    .and_then(Value::as_str)
                    .map(str::to_string);
                self.set_replicas(res, ns, name, q, replicas, rv).await
            }
            Some(other) => Err(ApiError::not_found(format!(
                "subresource {other:?} of {} is not served",
                res.plural
            ))),
            None => {
                let manager = field_manager(q, headers)?;
                let (value, warnings) = self.admit(res, q, body, Intent::Update)?;
                let rv_given = value.pointer("/metadata/resourceVersion").is_some();
                for _ in 0..8 {
                    let current = self.client.get(res, ns, name).await?;
                    let mut value = value.clone();
                    record_update(
                        Some(&current),
                        &mut value,
                        &manager,
                        &res.api_version(),
                        &Time::now(),
                    );
                    if let (false, Some(meta), Some(rv)) = (
                        rv_given,
                        value.get_mut("metadata").and_then(Value::as_object_mut),
                        current.pointer("/metadata/resourceVersion"),
                    ) {
                        // Ownership was computed against `current`: write over exactly that.
                        meta.insert("resourceVersion".into(), rv.clone());
                    }
                    match self.writer(q)?.replace(res, ns, name, value).await {
                        Ok(v) => return Ok(Json::ok(v).with_warnings(warnings)),
                        Err(e) if e.is_conflict() && !rv_given => continue,
                        Err(e) => return Err(e.into()),
                    }
                }
                Err(too_many_writers(res, name))
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    async fn patch(
        &self,
        res: &ApiResource,
        ns: Option<&str>,
        name: &str,
        sub: Option<&str>,
        q: &Q,
        headers: &HeaderMap,
        body: &[u8],
    ) -> Result<Json, ApiError> {
        let content_type = headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_string();
        if content_type == "application/apply-patch+yaml" {
            return match sub {
                None => self.apply(res, ns, name, q, body).await,
                Some(other) => Err(ApiError::new(
                    415,
                    "UnsupportedMediaType",
                    format!("server-side apply of the {other:?} subresource is not supported"),
                )),
            };
        }
        let patch = match content_type.as_str() {
            "application/merge-patch+json" => Patch::Merge(
                serde_json::from_slice(body).map_err(|e| ApiError::bad_request(format!("invalid merge patch: {e}")))?,
            ),
            "application/strategic-merge-patch+json" => Patch::Strategic(
                serde_json::from_slice(body).map_err(|e| ApiError::bad_request(format!("invalid strategic merge patch: {e}")))?,
            ),
            "application/json-patch+json" => Patch::Json(
                serde_json::from_slice(body).map_err(|e| ApiError::bad_request(format!("invalid JSON patch: {e}")))?,
            ),
            other => {
                return Err(ApiError::new(
                    415,
                    "UnsupportedMediaType",
                    format!(
                        "the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/strategic-merge-patch+json, application/apply-patch+yaml (got {other:?})"
                    ),
                ))
            }
        };
        match sub {
            Some("status") => {
                return self
                    .write_status(res, ns, name, q, |current| {
                        let mut doc = current.clone();
                        patch.apply(&mut doc).map_err(|e| {
                            ApiError::new(
                                422,
                                "Invalid",
                                format!("the patch cannot be applied: {e}"),
                            )
                        })?;
                        Ok(doc)
                    })
                    .await
            }
            Some("scale") => {
                let current = self.client.get(res, ns, name).await?;
                let mut scale = scale_of(res, &current)?;
                let before_rv = scale.pointer("/metadata/resourceVersion").cloned();
                patch.apply(&mut scale).map_err(|e| {
                    ApiError::new(422, "Invalid", format!("the patch cannot be applied: {e}"))
                })?;
                let replicas = scale
                    .pointer("/spec/replicas")
                    .and_then(Value::as_i64)
                    .unwrap_or(0);
                let rv = match scale.pointer("/metadata/resourceVersion") {
                    Some(v) if Some(v) != before_rv.as_ref() => v.as_str().map(str::to_string),
                    _ => current
                        .pointer("/metadata/resourceVersion")
                        .and_then(Value::as_str)
                        .map(str::to_string),
                };
                return self.set_replicas(res, ns, name, q, replicas, rv).await;
            }
            Some(other) => {
                return Err(ApiError::not_found(format!(
                    "subresource {other:?} of {} is not served",
                    res.plural
                )))
            }
            None => {}
        }
        // Apply the patch here so the result is validated like any write; replace with compare-and-swap.
        let manager = field_manager(q, headers)?;
        for _ in 0..8 {
            let current = self.client.get(res, ns, name).await?;
            let mut doc = current.clone();
            patch.apply(&mut doc).map_err(|e| {
                ApiError::new(422, "Invalid", format!("the patch cannot be applied: {e}"))
            })?;
            let rv_precondition = doc.pointer("/metadata/resourceVersion")
                != current.pointer("/metadata/resourceVersion");
            let (mut value, warnings) = self.admit(res, q, doc, Intent::Update)?;
            record_update(
                Some(&current),
                &mut value,
                &manager,
                &res.api_version(),
                &Time::now(),
            );
            match self.writer(q)?.replace(res, ns, name, value).await {
                Ok(v) => return Ok(Json::ok(v).with_warnings(warnings)),
                Err(e) if e.is_conflict() && !rv_precondition => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Err(too_many_writers(res, name))
    }

    fn delete_params(q: &Q, body: &[u8]) -> Result<DeleteParams, ApiError> {
        let opts: Value = if body.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(body)
                .map_err(|e| ApiError::bad_request(format!("invalid DeleteOptions: {e}")))?
        };
        let policy = q
            .get("propagationPolicy")
            .map(String::as_str)
            .or_else(|| opts.get("propagationPolicy").and_then(Value::as_str));
        let propagation_policy = match policy {
            None | Some("Background") => PropagationPolicy::Background,
            Some("Foreground") => PropagationPolicy::Foreground,
            Some("Orphan") => PropagationPolicy::Orphan,
            Some(other) => {
                return Err(ApiError::bad_request(format!(
                    "propagationPolicy {other:?} is not supported (want Background, Foreground or Orphan)"
                )))
            }
        };
        let grace = q
            .get("gracePeriodSeconds")
            .and_then(|g| g.parse().ok())
            .or_else(|| opts.get("gracePeriodSeconds").and_then(Value::as_i64));
        Ok(DeleteParams {
            grace_period_seconds: grace,
            propagation_policy,
            precondition_uid: opts
                .pointer("/preconditions/uid")
                .and_then(Value::as_str)
                .map(str::to_string),
            precondition_resource_version: opts
                .pointer("/preconditions/resourceVersion")
                .and_then(Value::as_str)
                .map(str::to_string),
        })
    }

    async fn delete(
        &self,
        res: &ApiResource,
        ns: Option<&str>,
        name: &str,
        q: &Q,
        body: &[u8],
    ) -> Result<Json, ApiError> {
        let params = Self::delete_params(q, body)?;
        match self.writer(q)?.delete(res, ns, name, &params).await? {
            DeleteOutcome::Deleted(obj) | DeleteOutcome::Pending(obj) => Ok(Json::ok(obj)),
        }
    }

    async fn delete_collection(
        &self,
        res: &ApiResource,
        ns: Option<&str>,
        q: &Q,
    ) -> Result<Json, ApiError> {
        let params = Self::delete_params(q, &[])?;
        let writer = self.writer(q)?;
        let list = self.client.list(res, ns, &list_params(q)?).await?;
        let mut deleted = Vec::new();
        for item in list.items {
            let name = item
                .pointer("/metadata/name")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string();
            let item_ns = item
                .pointer("/metadata/namespace")
                .and_then(Value::as_str)
                .map(str::to_string);
            match writer.delete(res, item_ns.as_deref(), &name, &params).await {
                Ok(DeleteOutcome::Deleted(o)) | Ok(DeleteOutcome::Pending(o)) => deleted.push(o),
                Err(e) if e.is_not_found() => {}
                Err(e) => return Err(e.into()),
            }
        }
        Ok(Json::ok(json!({
            "kind": format!("{}List", res.kind),
            "apiVersion": res.api_version(),
            "metadata": {},
            "items": deleted,
        })))
    }

    async fn watch(
        &self,
        res: &ApiResource,
        ns: Option<&str>,
        q: &Q,
        as_table: bool,
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
                    let object = if as_table && ev.event_type != EventType::Bookmark {
                        let rv = ev
                            .object
                            .pointer("/metadata/resourceVersion")
                            .and_then(Value::as_str)
                            .unwrap_or("")
                            .to_string();
                        table::table(&res, &[ev.object], &rv, include.as_deref())
                    } else {
                        ev.object
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
fn with_bookmarks(
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

/// The `autoscaling/v1` Scale of a ReplicaSet.
fn scale_of(res: &ApiResource, obj: &Value) -> Result<Value, ApiError> {
    if res.plural != "replicasets" {
        return Err(ApiError::not_found(format!(
            "subresource \"scale\" of {} is not served",
            res.plural
        )));
    }
    let selector: Vec<String> = obj
        .pointer("/spec/selector/matchLabels")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
        .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or("")))
        .collect();
    let meta = &obj["metadata"];
    Ok(json!({
        "kind": "Scale",
        "apiVersion": "autoscaling/v1",
        "metadata": {
            "name": meta["name"], "namespace": meta["namespace"], "uid": meta["uid"],
            "resourceVersion": meta["resourceVersion"], "creationTimestamp": meta["creationTimestamp"],
        },
        "spec": {"replicas": obj.pointer("/spec/replicas").cloned().unwrap_or(json!(1))},
        "status": {
            "replicas": obj.pointer("/status/replicas").cloned().unwrap_or(json!(0)),
            "selector": selector.join(","),
        },
    }))
}

impl ApiServer {
    /// Writes `spec.replicas` through the scale subresource (compare-and-swap on `rv` when given).
    async fn set_replicas(
        &self,
        res: &ApiResource,
        ns: Option<&str>,
        name: &str,
        q: &Q,
        replicas: i64,
        rv: Option<String>,
    ) -> Result<Json, ApiError> {
        let mut obj = self.client.get(res, ns, name).await?;
        scale_of(res, &obj)?;
        obj["spec"]["replicas"] = json!(replicas);
        if let Some(rv) = rv {
            obj["metadata"]["resourceVersion"] = json!(rv);
        }
        let (value, _) = self.admit(res, q, obj, Intent::Update)?;
        let updated = self.writer(q)?.replace(res, ns, name, value).await?;
        Ok(Json::ok(scale_of(res, &updated)?))
    }
}

/// 409 after losing every compare-and-swap retry.
fn too_many_writers(res: &ApiResource, name: &str) -> ApiError {
    ApiError::new(
        409,
        "Conflict",
        format!(
            "{} {name:?}: too many concurrent writers; retry",
            res.plural
        ),
    )
}

fn error_line(e: &ClientError) -> Vec<u8> {
    let mut l =
        serde_json::to_vec(&json!({"type": "ERROR", "object": e.status()})).unwrap_or_default();
    l.push(b'\n');
    l
}

fn watch_response(body: Body) -> Response {
    let mut r = (StatusCode::OK, body).into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static("application/json"),
    );
    r
}
