//! What the client subcommands (`get`, `apply`, `delete`, `describe`, `logs`) share: the kubeconfig and
//! namespace flags, the connection, kind resolution, API paths and kubectl-style server errors.

use std::io::Write;
use std::path::PathBuf;

use anyhow::Context;
use clap::Args;
use skiff_api::HttpClient;
use skiff_core::client::ClientError;
use skiff_core::codec::Scheme;
use skiff_core::{ApiResource, Scope};

/// The `Accept` header kubectl sends for `get`: a Table if the server can, else the object.
pub(crate) const TABLE_ACCEPT: &str =
    "application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json";

/// Where the server is and which namespace to use.
#[derive(Debug, Clone, Args)]
pub struct ConnArgs {
    /// The kubeconfig (default: $KUBECONFIG, else the one `skiff up` writes under its data directory).
    #[arg(long, value_name = "PATH", global = true)]
    pub kubeconfig: Option<PathBuf>,
    /// The namespace (default: the kubeconfig context's, else "default").
    #[arg(short = 'n', long, value_name = "NS", global = true)]
    pub namespace: Option<String>,
}

/// A connection: the client and the namespace commands act in.
pub(crate) struct Conn {
    /// The HTTP client of the kubeconfig's current context.
    pub client: HttpClient,
    /// `-n`, else the context's namespace, else `default`.
    pub namespace: String,
    /// The built-in kinds.
    pub scheme: Scheme,
}

impl ConnArgs {
    /// The kubeconfig path: `--kubeconfig`, `$KUBECONFIG` (its first entry), or `skiff up`'s.
    pub(crate) fn kubeconfig_path(&self) -> PathBuf {
        if let Some(p) = &self.kubeconfig {
            return p.clone();
        }
        if let Some(env) = std::env::var_os("KUBECONFIG").filter(|v| !v.is_empty()) {
            if let Some(first) = std::env::split_paths(&env).next() {
                return first;
            }
        }
        super::up::default_data_dir().join("kubeconfig.yaml")
    }

    /// Reads the kubeconfig and makes the client.
    pub(crate) fn connect(&self) -> anyhow::Result<Conn> {
        let path = self.kubeconfig_path();
        let shown = path.display();
        // The error's own text already names its cause; one line, not a repeated chain.
        let client = HttpClient::from_kubeconfig(&path)
            .map_err(|e| anyhow::anyhow!("--kubeconfig {shown}: cannot use it: {e}"))?;
        let namespace = match &self.namespace {
            Some(ns) => ns.clone(),
            None => context_namespace(&path).unwrap_or_else(|| "default".to_string()),
        };
        Ok(Conn {
            client,
            namespace,
            scheme: Scheme::builtin(),
        })
    }
}

/// The namespace of the kubeconfig's current context, if it names one.
fn context_namespace(path: &std::path::Path) -> Option<String> {
    let text = std::fs::read_to_string(path).ok()?;
    let doc: serde_yaml::Value = serde_yaml::from_str(&text).ok()?;
    let current = doc.get("current-context")?.as_str()?;
    doc.get("contexts")?
        .as_sequence()?
        .iter()
        .find(|c| c.get("name").and_then(serde_yaml::Value::as_str) == Some(current))?
        .get("context")?
        .get("namespace")?
        .as_str()
        .filter(|n| !n.is_empty())
        .map(str::to_string)
}

impl Conn {
    /// The resource a user means by `name`: a plural, singular, short name or Kind, any case
    /// (`pods`, `pod`, `po`, `Pod`), optionally `plural.group` (`replicasets.apps`).
    pub(crate) fn resource(&self, name: &str) -> anyhow::Result<ApiResource> {
        resolve(&self.scheme, name)
    }

    /// The namespace of `res` objects: `None` for cluster-scoped kinds.
    pub(crate) fn ns_for<'a>(&'a self, res: &ApiResource) -> Option<&'a str> {
        match res.scope {
            Scope::Namespaced => Some(&self.namespace),
            Scope::Cluster => None,
        }
    }
}

/// See [`Conn::resource`].
pub(crate) fn resolve(scheme: &Scheme, name: &str) -> anyhow::Result<ApiResource> {
    let lower = name.to_ascii_lowercase();
    let (base, group) = match lower.split_once('.') {
        Some((b, g)) => (b.to_string(), Some(g.to_string())),
        None => (lower.clone(), None),
    };
    let found = scheme.resources().find(|r| {
        // Subresources (`scale`) are not listable kinds.
        r.kind != "Scale"
            && group.as_deref().is_none_or(|g| g == r.group)
            && (r.plural == base
                || r.singular == base
                || r.kind.to_ascii_lowercase() == base
                || r.short_names.contains(&base))
    });
    found
        .cloned()
        .ok_or_else(|| anyhow::anyhow!("the server doesn't have a resource type {name:?}"))
}

/// The URL path of `res` objects (in `ns` when namespaced and given), and of `name` when given.
pub(crate) fn path(res: &ApiResource, ns: Option<&str>, name: Option<&str>) -> String {
    let mut p = if res.group.is_empty() {
        format!("/api/{}", res.version)
    } else {
        format!("/apis/{}/{}", res.group, res.version)
    };
    if let (Scope::Namespaced, Some(ns)) = (res.scope, ns) {
        p.push_str(&format!("/namespaces/{}", encode(ns)));
    }
    p.push('/');
    p.push_str(&res.plural);
    if let Some(name) = name {
        p.push('/');
        p.push_str(&encode(name));
    }
    p
}

/// Percent-encodes a path segment or query value (everything but unreserved characters).
pub(crate) fn encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// A failed API call, kept whole so [`finish`] can print it as kubectl does.
#[derive(Debug)]
pub(crate) struct ApiFailure(pub ClientError);

impl std::fmt::Display for ApiFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&server_message(&self.0))
    }
}

impl std::error::Error for ApiFailure {}

/// Wraps a client error for `?`.
pub(crate) fn api(e: ClientError) -> anyhow::Error {
    anyhow::Error::new(ApiFailure(e))
}

/// kubectl's wording of a server error: `Error from server (NotFound): pods "x" not found`, or
/// `The Pod "x" is invalid: ...` for validation failures.
pub(crate) fn server_message(e: &ClientError) -> String {
    match e {
        ClientError::Api(status) => {
            let message = status.message.clone().unwrap_or_default();
            let reason = status.reason.clone().unwrap_or_else(|| "Unknown".into());
            if reason == "Invalid" {
                if message.starts_with("The ") {
                    message
                } else {
                    format!("The {message}")
                }
            } else {
                format!("Error from server ({reason}): {message}")
            }
        }
        ClientError::Transport(m) => {
            format!("error: cannot reach the server (is `skiff up` running?): {m}")
        }
        ClientError::Decode(m) => format!("error: cannot decode the server's answer: {m}"),
    }
}

/// Runs a client subcommand on a small runtime; API failures are printed as kubectl prints them
/// (exit code 1), other errors go back to `main` (which prints `error: ...`).
pub(crate) fn finish<F>(fut: F, err_out: &mut dyn Write) -> anyhow::Result<i32>
where
    F: std::future::Future<Output = anyhow::Result<i32>>,
{
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    match rt.block_on(fut) {
        Ok(code) => Ok(code),
        Err(e) => match e.downcast_ref::<ApiFailure>() {
            Some(ApiFailure(ce)) => {
                let _ = writeln!(err_out, "{}", server_message(ce));
                Ok(1)
            }
            None => Err(e),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_resolve_by_every_name() {
        let scheme = Scheme::builtin();
        for name in ["pods", "pod", "po", "Pod", "PODS"] {
            assert_eq!(
                resolve(&scheme, name).map(|r| r.plural).ok(),
                Some("pods".into())
            );
        }
        assert_eq!(
            resolve(&scheme, "rs").map(|r| r.group).ok(),
            Some("apps".into())
        );
        assert_eq!(
            resolve(&scheme, "replicasets.apps").map(|r| r.kind).ok(),
            Some("ReplicaSet".into())
        );
        let err = resolve(&scheme, "pdos").err().map(|e| e.to_string());
        assert_eq!(
            err.as_deref(),
            Some("the server doesn't have a resource type \"pdos\"")
        );
    }

    #[test]
    fn paths_follow_the_api_layout() {
        let scheme = Scheme::builtin();
        let pods = resolve(&scheme, "po").ok();
        let nodes = resolve(&scheme, "no").ok();
        assert_eq!(
            pods.map(|r| path(&r, Some("default"), Some("web"))),
            Some("/api/v1/namespaces/default/pods/web".into())
        );
        assert_eq!(
            nodes.map(|r| path(&r, Some("default"), None)),
            Some("/api/v1/nodes".into())
        );
        assert_eq!(encode("a=b,c"), "a%3Db%2Cc");
    }
}
