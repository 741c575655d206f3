//! `/metrics`: request counts and latencies by verb, resource and code, in Prometheus' text format.

use std::sync::{Arc, Mutex};
use std::time::Instant;

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::Response;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;

/// Labels of a request.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RequestLabels {
    /// `get`, `list`, `watch`, `create`, `update`, `patch`, `delete`, or the HTTP method for other paths.
    pub verb: String,
    /// The plural of the resource (`pods`), or the path for non-resource URLs.
    pub resource: String,
    /// HTTP status code.
    pub code: String,
}

/// Labels of the latency histogram.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct LatencyLabels {
    /// As in [`RequestLabels`].
    pub verb: String,
    /// As in [`RequestLabels`].
    pub resource: String,
}

/// The API server's metrics.
pub struct ApiMetrics {
    registry: Mutex<Registry>,
    requests: Family<RequestLabels, Counter>,
    latency: Family<LatencyLabels, Histogram>,
}

impl ApiMetrics {
    pub fn new() -> Arc<Self> {
        let mut registry = Registry::default();
        let requests = Family::<RequestLabels, Counter>::default();
        let latency = Family::<LatencyLabels, Histogram>::new_with_constructor(|| {
            Histogram::new(exponential_buckets(0.0001, 2.0, 18))
        });
        registry.register(
            "skiff_apiserver_request",
            "API requests by verb, resource and code",
            requests.clone(),
        );
        registry.register(
            "skiff_apiserver_request_duration_seconds",
            "API request latency (for watches: until the stream is set up)",
            latency.clone(),
        );
        Arc::new(Self {
            registry: Mutex::new(registry),
            requests,
            latency,
        })
    }

    pub fn render(&self) -> String {
        let mut out = String::new();
        let registry = self.registry.lock().unwrap_or_else(|p| p.into_inner());
        let _ = prometheus_client::encoding::text::encode(&mut out, &registry);
        out
    }
}

/// (verb, resource) of a request, as Kubernetes names them.
fn classify(method: &str, path: &str, query: &str) -> (String, String) {
    let segs: Vec<&str> = path.trim_matches('/').split('/').collect();
    let rest: &[&str] = match segs.as_slice() {
        ["api", _v, rest @ ..] => rest,
        ["apis", _g, _v, rest @ ..] => rest,
        _ => return (method.to_lowercase(), path.to_string()),
    };
    let (resource, is_object) = match rest {
        ["namespaces", _ns, plural, name @ ..]
            if !plural.is_empty() && *plural != "status" && *plural != "finalize" =>
        {
            (plural.to_string(), !name.is_empty())
        }
        [plural, name @ ..] => (plural.to_string(), !name.is_empty()),
        [] => return ("get".into(), "discovery".into()),
    };
    let watch = query
        .split('&')
        .any(|kv| kv == "watch=true" || kv == "watch=1");
    let verb = match (method, is_object, watch) {
        ("GET", _, true) => "watch",
        ("GET", true, _) => "get",
        ("GET", false, _) => "list",
        ("POST", _, _) => "create",
        ("PUT", _, _) => "update",
        ("PATCH", _, _) => "patch",
        ("DELETE", true, _) => "delete",
        ("DELETE", false, _) => "deletecollection",
        (m, _, _) => return (m.to_lowercase(), resource),
    };
    (verb.to_string(), resource)
}

/// The middleware that records every request.
pub async fn record(State(metrics): State<Arc<ApiMetrics>>, req: Request, next: Next) -> Response {
    let (verb, resource) = classify(
        req.method().as_str(),
        req.uri().path(),
        req.uri().query().unwrap_or(""),
    );
    let started = Instant::now();
    let resp = next.run(req).await;
    metrics
        .latency
        .get_or_create(&LatencyLabels {
            verb: verb.clone(),
            resource: resource.clone(),
        })
        .observe(started.elapsed().as_secs_f64());
    metrics
        .requests
        .get_or_create(&RequestLabels {
            verb,
            resource,
            code: resp.status().as_u16().to_string(),
        })
        .inc();
    resp
}

#[cfg(test)]
mod tests {
    use super::classify;

    #[test]
    fn verbs_and_resources() {
        let c = |m, p, q| classify(m, p, q);
        assert_eq!(
            c("GET", "/api/v1/namespaces/default/pods", ""),
            ("list".into(), "pods".into())
        );
        assert_eq!(
            c("GET", "/api/v1/namespaces/default/pods", "watch=true"),
            ("watch".into(), "pods".into())
        );
        assert_eq!(
            c("GET", "/api/v1/namespaces/default/pods/web", ""),
            ("get".into(), "pods".into())
        );
        assert_eq!(
            c("POST", "/apis/apps/v1/namespaces/d/replicasets", ""),
            ("create".into(), "replicasets".into())
        );
        assert_eq!(
            c("PATCH", "/api/v1/nodes/n1", ""),
            ("patch".into(), "nodes".into())
        );
        assert_eq!(
            c("DELETE", "/api/v1/namespaces/d/configmaps", ""),
            ("deletecollection".into(), "configmaps".into())
        );
        assert_eq!(c("GET", "/healthz", ""), ("get".into(), "/healthz".into()));
    }
}
