//! `HttpClient`: `skiff_core::client::Client` over HTTP, so controllers and node agents can run in another
//! process or on another machine than the API server, unchanged.

use std::time::Duration;

use async_trait::async_trait;
use futures::stream::{BoxStream, StreamExt};
use serde_json::{json, Value};
use skiff_core::client::{
    Client, ClientError, DeleteOutcome, DeleteParams, EventType, ListParams, Patch,
    PropagationPolicy, RawEvent, RawList, WatchParams,
};
use skiff_core::meta::Status;
use skiff_core::{ApiResource, Scope};

use crate::kubeconfig::Access;

/// A client of a Skiff (or Kubernetes) API server at `base` (e.g. `http://127.0.0.1:6443`), over plain
/// HTTP or HTTPS, with an optional bearer token.
///
/// ```no_run
/// # async fn example() {
/// use skiff_api::HttpClient;
/// use skiff_core::client::Api;
/// use skiff_core::kinds::Pod;
///
/// let client = HttpClient::shared("http://127.0.0.1:6443");
/// let pods: Api<Pod> = Api::namespaced(client, "default");
/// let list = pods.list(&Default::default()).await.unwrap();
/// # }
/// ```
///
/// Against a server with TLS and tokens (what `skiff up` starts), read its kubeconfig:
///
/// ```no_run
/// # fn example() -> Result<(), skiff_api::http_client::HttpClientError> {
/// let client = skiff_api::HttpClient::from_kubeconfig("/var/lib/skiff/kubeconfig.yaml".as_ref())?;
/// # Ok(()) }
/// ```
pub struct HttpClient {
    base: String,
    http: reqwest::Client,
}

/// Why an [`HttpClient`] could not be made.
#[derive(Debug, thiserror::Error)]
pub enum HttpClientError {
    /// The kubeconfig could not be read.
    #[error(transparent)]
    Kubeconfig(#[from] crate::kubeconfig::KubeconfigError),
    /// The CA certificate is not PEM.
    #[error("the CA certificate is not PEM: {0}")]
    Ca(reqwest::Error),
    /// The bearer token cannot be sent in a header (it holds control characters).
    #[error("the bearer token holds characters that cannot be sent in a header")]
    Token,
    /// The HTTP client could not be built.
    #[error("cannot build the HTTP client: {0}")]
    Build(reqwest::Error),
}

/// Options of an [`HttpClient`]: the CA to trust and the bearer token to send.
///
/// ```
/// let client = skiff_api::HttpClient::builder("https://127.0.0.1:6443")
///     .bearer_token("s3cret")
///     .build()
///     .unwrap();
/// ```
#[derive(Clone, Debug)]
pub struct HttpClientBuilder {
    access: Access,
}

impl HttpClientBuilder {
    /// Trust only this CA (PEM, one or more certificates) for the server's certificate, as kubectl does
    /// with `certificate-authority-data`. Without it the system's roots are used.
    pub fn ca_pem(mut self, pem: impl Into<String>) -> Self {
        self.access.ca_pem = Some(pem.into());
        self
    }

    /// Send `Authorization: Bearer <token>` with every request.
    pub fn bearer_token(mut self, token: impl Into<String>) -> Self {
        self.access.token = Some(token.into());
        self
    }

    /// The client.
    pub fn build(self) -> Result<HttpClient, HttpClientError> {
        crate::tls::install_crypto_provider();
        let mut builder = reqwest::Client::builder();
        if let Some(pem) = &self.access.ca_pem {
            let certs = reqwest::Certificate::from_pem_bundle(pem.as_bytes())
                .map_err(HttpClientError::Ca)?;
            builder = builder.tls_certs_only(certs);
        }
        if let Some(token) = &self.access.token {
            let mut value =
                reqwest::header::HeaderValue::from_str(&format!("Bearer {}", token.trim()))
                    .map_err(|_| HttpClientError::Token)?;
            value.set_sensitive(true);
            let mut headers = reqwest::header::HeaderMap::new();
            headers.insert(reqwest::header::AUTHORIZATION, value);
            builder = builder.default_headers(headers);
        }
        Ok(HttpClient {
            base: self.access.server.trim_end_matches('/').to_string(),
            http: builder.build().map_err(HttpClientError::Build)?,
        })
    }
}

/// The error of a non-2xx answer: its `Status` when it is one, else the body as the message.
fn refusal(code: u16, body: &[u8]) -> ClientError {
    match serde_json::from_slice::<Status>(body) {
        Ok(status) if status.code.is_some() => ClientError::Api(Box::new(status)),
        _ => ClientError::api(code, "Unknown", String::from_utf8_lossy(body).into_owned()),
    }
}

impl HttpClient {
    /// A client of the server at `base`, trusting the system's CAs, without token.
    pub fn new(base: &str) -> Self {
        crate::tls::install_crypto_provider();
        Self {
            base: base.trim_end_matches('/').to_string(),
            // The user agent names the field manager of this client's writes (`skiff`).
            http: reqwest::Client::builder()
                .user_agent(concat!("skiff/", env!("CARGO_PKG_VERSION")))
                .build()
                .unwrap_or_default(),
        }
    }

    /// A client ready to share between controllers.
    pub fn shared(base: &str) -> std::sync::Arc<dyn Client> {
        std::sync::Arc::new(Self::new(base))
    }

    /// Options for a client of the server at `base`; see [`HttpClientBuilder`].
    pub fn builder(base: &str) -> HttpClientBuilder {
        HttpClientBuilder {
            access: Access::new(base),
        }
    }

    /// A client with the server, CA and token of `access`.
    pub fn from_access(access: &Access) -> Result<Self, HttpClientError> {
        HttpClientBuilder {
            access: access.clone(),
        }
        .build()
    }

    /// A client of the current context of the kubeconfig at `path`: its server,
    /// `certificate-authority(-data)` and `token`/`tokenFile`.
    pub fn from_kubeconfig(path: &std::path::Path) -> Result<Self, HttpClientError> {
        Self::from_access(&Access::load(path)?)
    }

    fn url(
        &self,
        res: &ApiResource,
        ns: Option<&str>,
        name: Option<&str>,
        sub: Option<&str>,
    ) -> String {
        let mut u = if res.group.is_empty() {
            format!("{}/api/{}", self.base, res.version)
        } else {
            format!("{}/apis/{}/{}", self.base, res.group, res.version)
        };
        if let (Scope::Namespaced, Some(ns)) = (res.scope, ns.filter(|n| !n.is_empty())) {
            u.push_str(&format!("/namespaces/{ns}"));
        }
        u.push('/');
        u.push_str(&res.plural);
        if let Some(name) = name {
            u.push('/');
            u.push_str(name);
        }
        if let Some(sub) = sub {
            u.push('/');
            u.push_str(sub);
        }
        u
    }

    async fn send(&self, req: reqwest::RequestBuilder) -> Result<Value, ClientError> {
        let resp = req
            .send()
            .await
            .map_err(|e| ClientError::Transport(e.to_string()))?;
        let code = resp.status().as_u16();
        let bytes = resp
            .bytes()
            .await
            .map_err(|e| ClientError::Transport(e.to_string()))?;
        if (200..300).contains(&code) {
            return serde_json::from_slice(&bytes).map_err(|e| ClientError::Decode(e.to_string()));
        }
        Err(refusal(code, &bytes))
    }

    /// Sends `req` and returns the response of a 2xx answer unread (for streams); any other answer
    /// is read and turned into its error.
    async fn send_streaming(
        &self,
        req: reqwest::RequestBuilder,
    ) -> Result<reqwest::Response, ClientError> {
        let resp = req
            .send()
            .await
            .map_err(|e| ClientError::Transport(e.to_string()))?;
        if resp.status().is_success() {
            return Ok(resp);
        }
        let code = resp.status().as_u16();
        let bytes = resp.bytes().await.unwrap_or_default();
        Err(refusal(code, &bytes))
    }

    fn namespaced_body_ns<'a>(
        res: &ApiResource,
        ns: Option<&'a str>,
        obj: &'a Value,
    ) -> Option<&'a str> {
        if res.scope == Scope::Cluster {
            return None;
        }
        ns.filter(|n| !n.is_empty())
            .or_else(|| obj.pointer("/metadata/namespace").and_then(Value::as_str))
    }
}

fn list_query(params: &ListParams) -> Vec<(&'static str, String)> {
    let mut q = Vec::new();
    if let Some(l) = &params.label_selector {
        q.push(("labelSelector", l.clone()));
    }
    if let Some(f) = &params.field_selector {
        q.push(("fieldSelector", f.clone()));
    }
    if let Some(l) = params.limit {
        q.push(("limit", l.to_string()));
    }
    if let Some(c) = &params.continue_token {
        q.push(("continue", c.clone()));
    }
    q
}

#[async_trait]
impl Client for HttpClient {
    async fn bind(&self, ns: &str, pod: &str, node: &str) -> Result<(), ClientError> {
        let res = <skiff_core::kinds::Pod as skiff_core::Resource>::api_resource();
        let body = json!({
            "apiVersion": "v1",
            "kind": "Binding",
            "metadata": {"name": pod, "namespace": ns},
            "target": {"apiVersion": "v1", "kind": "Node", "name": node},
        });
        self.send(
            self.http
                .post(self.url(&res, Some(ns), Some(pod), Some("binding")))
                .json(&body),
        )
        .await
        .map(|_| ())
    }

    async fn get(
        &self,
        res: &ApiResource,
        ns: Option<&str>,
        name: &str,
    ) -> Result<Value, ClientError> {
        self.send(self.http.get(self.url(res, ns, Some(name), None)))
            .await
    }

    async fn list(
        &self,
        res: &ApiResource,
        ns: Option<&str>,
        params: &ListParams,
    ) -> Result<RawList, ClientError> {
        let v = self
            .send(
                self.http
                    .get(self.url(res, ns, None, None))
                    .query(&list_query(params)),
            )
            .await?;
        Ok(RawList {
            items: v["items"].as_array().cloned().unwrap_or_default(),
            resource_version: v
                .pointer("/metadata/resourceVersion")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string(),
            continue_token: v
                .pointer("/metadata/continue")
                .and_then(Value::as_str)
                .filter(|c| !c.is_empty())
                .map(str::to_string),
        })
    }

    async fn create(
        &self,
        res: &ApiResource,
        ns: Option<&str>,
        obj: Value,
    ) -> Result<Value, ClientError> {
        let ns = Self::namespaced_body_ns(res, ns, &obj).map(str::to_string);
        if res.scope == Scope::Namespaced && ns.is_none() {
            return Err(ClientError::api(
                400,
                "BadRequest",
                format!("{} are namespaced: a namespace is required", res.plural),
            ));
        }
        self.send(
            self.http
                .post(self.url(res, ns.as_deref(), None, None))
                .json(&obj),
        )
        .await
    }

    async fn replace(
        &self,
        res: &ApiResource,
        ns: Option<&str>,
        name: &str,
        obj: Value,
    ) -> Result<Value, ClientError> {
        let ns = Self::namespaced_body_ns(res, ns, &obj).map(str::to_string);
        self.send(
            self.http
                .put(self.url(res, ns.as_deref(), Some(name), None))
                .json(&obj),
        )
        .await
    }

    async fn replace_status(
        &self,
        res: &ApiResource,
        ns: Option<&str>,
        name: &str,
        obj: Value,
    ) -> Result<Value, ClientError> {
        let ns = Self::namespaced_body_ns(res, ns, &obj).map(str::to_string);
        self.send(
            self.http
                .put(self.url(res, ns.as_deref(), Some(name), Some("status")))
                .json(&obj),
        )
        .await
    }

    async fn patch(
        &self,
        res: &ApiResource,
        ns: Option<&str>,
        name: &str,
        patch: &Patch,
    ) -> Result<Value, ClientError> {
        self.patch_at(res, ns, name, None, patch).await
    }

    async fn patch_status(
        &self,
        res: &ApiResource,
        ns: Option<&str>,
        name: &str,
        patch: &Patch,
    ) -> Result<Value, ClientError> {
        self.patch_at(res, ns, name, Some("status"), patch).await
    }

    async fn delete(
        &self,
        res: &ApiResource,
        ns: Option<&str>,
        name: &str,
        params: &DeleteParams,
    ) -> Result<DeleteOutcome<Value>, ClientError> {
        let mut opts = json!({"kind": "DeleteOptions", "apiVersion": "v1"});
        opts["propagationPolicy"] = json!(match params.propagation_policy {
            PropagationPolicy::Background => "Background",
            PropagationPolicy::Foreground => "Foreground",
            PropagationPolicy::Orphan => "Orphan",
        });
        if let Some(g) = params.grace_period_seconds {
            opts["gracePeriodSeconds"] = json!(g);
        }
        if params.precondition_uid.is_some() || params.precondition_resource_version.is_some() {
            opts["preconditions"] = json!({"uid": params.precondition_uid, "resourceVersion": params.precondition_resource_version});
        }
        let obj = self
            .send(
                self.http
                    .delete(self.url(res, ns, Some(name), None))
                    .json(&opts),
            )
            .await?;
        let pending = obj.pointer("/metadata/deletionTimestamp").is_some()
            && obj
                .pointer("/metadata/finalizers")
                .and_then(Value::as_array)
                .is_some_and(|f| !f.is_empty());
        Ok(if pending {
            DeleteOutcome::Pending(obj)
        } else {
            DeleteOutcome::Deleted(obj)
        })
    }

    async fn watch(
        &self,
        res: &ApiResource,
        ns: Option<&str>,
        params: &WatchParams,
    ) -> Result<BoxStream<'static, Result<RawEvent, ClientError>>, ClientError> {
        let mut q = list_query(&ListParams {
            label_selector: params.label_selector.clone(),
            field_selector: params.field_selector.clone(),
            ..ListParams::default()
        });
        q.push(("watch", "true".into()));
        if let Some(rv) = &params.resource_version {
            q.push(("resourceVersion", rv.clone()));
        }
        let timeout = params.timeout.unwrap_or(Duration::from_secs(1800));
        q.push(("timeoutSeconds", timeout.as_secs().max(1).to_string()));
        let resp = self
            .send_streaming(self.http.get(self.url(res, ns, None, None)).query(&q))
            .await?;
        let bytes = resp.bytes_stream();
        let lines = futures::stream::unfold(
            (bytes, Vec::<u8>::new(), false),
            |(mut bytes, mut buf, done)| async move {
                if done {
                    return None;
                }
                loop {
                    if let Some(pos) = buf.iter().position(|b| *b == b'\n') {
                        let line: Vec<u8> = buf.drain(..=pos).collect();
                        return Some((Some(line), (bytes, buf, false)));
                    }
                    match bytes.next().await {
                        Some(Ok(chunk)) => buf.extend_from_slice(&chunk),
                        Some(Err(e)) => {
                            let err = format!("{{\"type\":\"ERROR\",\"object\":{{\"code\":503,\"reason\":\"ServiceUnavailable\",\"message\":{:?}}}}}\n", e.to_string());
                            return Some((Some(err.into_bytes()), (bytes, Vec::new(), true)));
                        }
                        None => return None,
                    }
                }
            },
        );
        Ok(lines
            .filter_map(|line| async move {
                let line = line?;
                let v: Value = serde_json::from_slice(&line).ok()?;
                let event_type = match v["type"].as_str()? {
                    "ADDED" => EventType::Added,
                    "MODIFIED" => EventType::Modified,
                    "DELETED" => EventType::Deleted,
                    "BOOKMARK" => EventType::Bookmark,
                    _ => {
                        let status: Status = serde_json::from_value(v["object"].clone())
                            .unwrap_or_else(|_| {
                                Status::failure(500, "InternalError", "watch error")
                            });
                        return Some(Err(ClientError::Api(Box::new(status))));
                    }
                };
                Some(Ok(RawEvent {
                    event_type,
                    object: v["object"].clone(),
                }))
            })
            .boxed())
    }
}

impl HttpClient {
    /// `GET base+path` (`path` starts with `/` and may carry a query) with `Accept: accept`, answering
    /// the JSON body; errors as the [`Client`] methods give them. For what the typed API does not cover,
    /// e.g. Tables (`application/json;as=Table;v=v1;g=meta.k8s.io`).
    pub async fn get_raw(&self, path: &str, accept: &str) -> Result<Value, ClientError> {
        self.send(
            self.http
                .get(format!("{}{path}", self.base))
                .header("accept", accept),
        )
        .await
    }

    /// `PATCH base+path` with this content type and body (e.g. `application/apply-patch+yaml` for
    /// server-side apply), answering the JSON body.
    pub async fn patch_raw(
        &self,
        path: &str,
        content_type: &str,
        body: Vec<u8>,
    ) -> Result<Value, ClientError> {
        self.send(
            self.http
                .patch(format!("{}{path}", self.base))
                .header("content-type", content_type)
                .body(body),
        )
        .await
    }

    /// `GET base+path` answered as a stream of byte chunks as they arrive (watches, `follow`ed logs).
    /// A refusal (non-2xx) is the error of the call; a broken connection ends the stream with an error.
    pub async fn stream_raw(
        &self,
        path: &str,
        accept: &str,
    ) -> Result<BoxStream<'static, Result<Vec<u8>, ClientError>>, ClientError> {
        let resp = self
            .send_streaming(
                self.http
                    .get(format!("{}{path}", self.base))
                    .header("accept", accept),
            )
            .await?;
        Ok(resp
            .bytes_stream()
            .map(|chunk| {
                chunk
                    .map(|b| b.to_vec())
                    .map_err(|e| ClientError::Transport(e.to_string()))
            })
            .boxed())
    }

    async fn patch_at(
        &self,
        res: &ApiResource,
        ns: Option<&str>,
        name: &str,
        sub: Option<&str>,
        patch: &Patch,
    ) -> Result<Value, ClientError> {
        let (content_type, body) = match patch {
            Patch::Merge(v) => ("application/merge-patch+json", serde_json::to_vec(v)),
            Patch::Json(p) => ("application/json-patch+json", serde_json::to_vec(p)),
            Patch::Strategic(v) => (
                "application/strategic-merge-patch+json",
                serde_json::to_vec(v),
            ),
        };
        let body = body.map_err(|e| ClientError::Decode(e.to_string()))?;
        self.send(
            self.http
                .patch(self.url(res, ns, Some(name), sub))
                .header("content-type", content_type)
                .body(body),
        )
        .await
    }
}
