//! The API server: Kubernetes' REST dialect over a [`Client`] (usually the in-process client over the store).
//!
//! Every registered kind is served generically: `GET` (get, list, `?watch=true`), `POST` (create), `PUT`
//! (replace; `/status`), `PATCH` (JSON merge patch, JSON patch, strategic merge patch, server-side apply;
//! `/status`), `DELETE` (object, collection). Writes are decoded strictly or with warnings as
//! `fieldValidation` asks, defaulted and validated as Kubernetes does, and record their `fieldManager` in
//! `metadata.managedFields`; every failure is a `metav1.Status` with Kubernetes' code and reason.

mod apply;
mod delete;
mod discovery;
mod inflight;
mod kubernetes_service;
mod metrics;
mod negotiate;
mod openapi;
mod path;
mod pod_proxy;
mod protobuf;
mod read;
mod request;
mod response;
mod service_alloc;
mod subresources;
mod table;
mod write;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Query, State};
use axum::http::{header, HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use serde_json::Value;
use skiff_core::client::{Client, ClientError, DeleteParams, ListParams};
use skiff_core::codec::Scheme;
use skiff_core::kinds::{local_apiservices, APIService, Namespace};
use skiff_core::meta::Time;
use skiff_core::shutdown::Shutdown;
use skiff_core::Resource;

use crate::auth::TokenSet;
pub use discovery::KUBERNETES_MINOR;
use negotiate::{Answer, Form};
use path::Target;
use response::{ApiError, Json};
pub use service_alloc::ServiceNetwork;
use subresources::scale_of;

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
    /// The ranges Services are allocated from (see [`ApiServer::set_service_network`]).
    service_network: std::sync::RwLock<ServiceNetwork>,
}

/// How often a watch with `allowWatchBookmarks=true` gets a BOOKMARK (Kubernetes: about a minute).
pub const BOOKMARK_INTERVAL: Duration = Duration::from_secs(60);

type Q = HashMap<String, String>;

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
            service_network: std::sync::RwLock::new(ServiceNetwork::default()),
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
            service_network: std::sync::RwLock::new(ServiceNetwork::default()),
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

    /// Keeps one local APIService per served group-version (`v1.`, `v1.apps`...), as kube-apiserver
    /// lists its own: missing ones are created, ones for group-versions no longer served removed.
    pub async fn ensure_apiservices(&self) -> Result<(), ClientError> {
        let res = APIService::api_resource();
        let wanted = local_apiservices(self.scheme.resources(), Time::now());
        let have = self.client.list(&res, None, &ListParams::default()).await?;
        for old in &have.items {
            let name = old
                .pointer("/metadata/name")
                .and_then(Value::as_str)
                .unwrap_or("");
            let local = old.pointer("/spec/service").is_none_or(Value::is_null);
            if local
                && !wanted
                    .iter()
                    .any(|w| w.metadata.name.as_deref() == Some(name))
            {
                match self
                    .client
                    .delete(&res, None, name, &DeleteParams::default())
                    .await
                {
                    Ok(_) => {}
                    Err(e) if e.is_not_found() => {}
                    Err(e) => return Err(e),
                }
            }
        }
        for api in wanted {
            let value =
                serde_json::to_value(&api).map_err(|e| ClientError::Decode(e.to_string()))?;
            match self.client.create(&res, None, value).await {
                Ok(_) => {}
                Err(e) if e.is_already_exists() => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
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
            .route(
                "/api/v1/namespaces/{ns}/pods/{name}/attach",
                get(pod_proxy::attach).post(pod_proxy::attach),
            )
            .route(
                "/api/v1/namespaces/{ns}/pods/{name}/portforward",
                get(pod_proxy::port_forward).post(pod_proxy::port_forward),
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
        if let Target::Collection { resource, .. } | Target::Object { resource, .. } = &target {
            if *resource == APIService::api_resource() && method != Method::GET {
                return Err(apiservice_refusal(&target, &headers, &body));
            }
        }
        let watch = matches!(q.get("watch").map(String::as_str), Some("true") | Some("1"));
        let answer = match (&method, &target) {
            (&Method::GET, Target::Collection { .. }) if !watch => Answer::List,
            (&Method::DELETE, Target::Collection { .. }) => Answer::List,
            _ => Answer::Object,
        };
        let form = negotiate::form(
            headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()),
            answer,
        )?;
        let as_table = form == Form::Table;
        let res = match &target {
            Target::Collection { resource, .. } | Target::Object { resource, .. } => {
                Some(resource.clone())
            }
            Target::GroupVersion(_) => None,
        };
        // Writes answer the object they wrote, in the form asked for (metadata only, for one).
        let shaped = |json: Json| negotiate::in_form(form, res.as_ref(), json).into_response();
        let protobuf = !watch
            && negotiate::protobuf_only(headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()));
        let response = match (&method, target) {
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
                self.watch(&resource, namespace.as_deref(), &q, form)
                    .await?
            }
            (
                &Method::GET,
                Target::Collection {
                    resource,
                    namespace,
                },
            ) => self
                .list(&resource, namespace.as_deref(), &q, form)
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
                .await
                .map(&shaped)?,
            (
                &Method::DELETE,
                Target::Collection {
                    resource,
                    namespace,
                },
            ) => self
                .delete_collection(&resource, namespace.as_deref(), &q, &body)
                .await
                .map(&shaped)?,
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
                    shaped(Json::ok(obj))
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
                .await
                .map(&shaped)?,
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
                .await
                .map(&shaped)?,
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
                .await
                .map(&shaped)?,
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
                .await
                .map(&shaped)?,
            _ => return Err(ApiError::method_not_allowed()),
        };
        Ok(if protobuf {
            protobuf::answer(response).await
        } else {
            response
        })
    }
}

/// APIServices are the API server's own record of what it serves (see
/// [`ApiServer::ensure_apiservices`]): writes are refused, and one naming a Service (an aggregated
/// API server) says that those are not supported yet.
fn apiservice_refusal(target: &Target, headers: &HeaderMap, body: &[u8]) -> ApiError {
    let given = request::parse_body(headers, body).unwrap_or_default();
    let name = match target {
        Target::Object { name, .. } => name.clone(),
        _ => given
            .pointer("/metadata/name")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string(),
    };
    let why = if given.pointer("/spec/service").is_some_and(Value::is_object) {
        "aggregated API servers are not supported yet: Skiff serves every group-version itself"
    } else {
        "local APIServices are kept by the API server in step with the kinds it serves"
    };
    ApiError::new(
        403,
        "Forbidden",
        format!("apiservices.apiregistration.k8s.io {name:?} is forbidden: {why}"),
    )
}
