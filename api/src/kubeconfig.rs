//! Writing the kubeconfig `skiff up` prints, and reading the parts of a kubeconfig a client needs.

use std::path::{Path, PathBuf};

use base64::Engine;
use serde_yaml::Value;

/// How to reach a server: its URL, the CA that signed its certificate, and a bearer token.
///
/// ```
/// use skiff_api::kubeconfig::Access;
///
/// let access = Access::new("https://127.0.0.1:6443").with_token("s3cret");
/// let text = access.render();
/// assert!(text.contains("token: s3cret"));
/// assert_eq!(Access::parse(&text).unwrap(), access);
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Access {
    /// The server's URL, e.g. `https://127.0.0.1:6443`.
    pub server: String,
    /// The CA certificate(s) (PEM) that the server's certificate must chain to; `None` uses the system's.
    pub ca_pem: Option<String>,
    /// The bearer token.
    pub token: Option<String>,
}

/// Why a kubeconfig could not be read.
#[derive(Debug, thiserror::Error)]
pub enum KubeconfigError {
    /// The file (or a file it names) could not be read.
    #[error("{}: cannot read it: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The operating system's reason.
        source: std::io::Error,
    },
    /// The text is not YAML.
    #[error("not YAML: {0}")]
    Yaml(#[from] serde_yaml::Error),
    /// A field is missing or wrong.
    #[error("{field}: {message}")]
    Field {
        /// Path of the field, e.g. `clusters[skiff].cluster.server`.
        field: String,
        /// What is wrong.
        message: String,
    },
    /// Any of the above, in this file.
    #[error("{}: {source}", path.display())]
    In {
        /// The kubeconfig.
        path: PathBuf,
        /// What went wrong.
        source: Box<KubeconfigError>,
    },
}

impl Access {
    /// A server without CA or token.
    pub fn new(server: impl Into<String>) -> Self {
        Self {
            server: server.into(),
            ..Self::default()
        }
    }

    /// With the CA certificate (PEM) to trust.
    pub fn with_ca_pem(mut self, pem: impl Into<String>) -> Self {
        self.ca_pem = Some(pem.into());
        self
    }

    /// With a bearer token.
    pub fn with_token(mut self, token: impl Into<String>) -> Self {
        self.token = Some(token.into());
        self
    }

    /// A kubeconfig with one cluster `skiff`, one user `skiff-admin` and one context `skiff`
    /// (namespace `default`).
    pub fn render(&self) -> String {
        let mut cluster = format!("    server: {}\n", self.server);
        if let Some(ca) = &self.ca_pem {
            let data = base64::engine::general_purpose::STANDARD.encode(ca.as_bytes());
            cluster.push_str(&format!("    certificate-authority-data: {data}\n"));
        }
        let user = match &self.token {
            Some(token) => format!("\n    token: {token}"),
            None => " {}".to_string(),
        };
        format!(
            "apiVersion: v1
kind: Config
clusters:
- name: skiff
  cluster:
{cluster}users:
- name: skiff-admin
  user:{user}
contexts:
- name: skiff
  context:
    cluster: skiff
    user: skiff-admin
    namespace: default
current-context: skiff
"
        )
    }

    /// Writes [`render`](Self::render)'s kubeconfig to `path` (creating parent directories), readable by
    /// its owner only when it holds a token.
    pub fn write(&self, path: &Path) -> std::io::Result<()> {
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)?;
        }
        let mode = if self.token.is_some() { 0o600 } else { 0o644 };
        crate::tls::write_file(path, &self.render(), mode)
    }

    /// Reads the current context's server, CA (`certificate-authority-data` or `certificate-authority`)
    /// and token (`token` or `tokenFile`) from a kubeconfig's text. Relative file names are taken from
    /// the current directory; use [`load`](Self::load) for a file.
    pub fn parse(text: &str) -> Result<Self, KubeconfigError> {
        Self::parse_in(text, Path::new("."))
    }

    /// Reads the kubeconfig at `path` as [`parse`](Self::parse) does; relative file names are taken
    /// from its directory.
    pub fn load(path: &Path) -> Result<Self, KubeconfigError> {
        let wrap = |source: KubeconfigError| KubeconfigError::In {
            path: path.to_path_buf(),
            source: Box::new(source),
        };
        let text = std::fs::read_to_string(path).map_err(|source| KubeconfigError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        let base = path.parent().unwrap_or(Path::new("."));
        Self::parse_in(&text, base).map_err(wrap)
    }

    fn parse_in(text: &str, base: &Path) -> Result<Self, KubeconfigError> {
        let doc: Value = serde_yaml::from_str(text)?;
        let field = |field: &str, message: &str| KubeconfigError::Field {
            field: field.to_string(),
            message: message.to_string(),
        };
        let context_name = doc
            .get("current-context")
            .and_then(Value::as_str)
            .ok_or_else(|| field("current-context", "missing"))?;
        let context = named(&doc, "contexts", context_name, "context")?
            .ok_or_else(|| field(&format!("contexts[{context_name}]"), "missing"))?;
        let cluster_name = context
            .get("cluster")
            .and_then(Value::as_str)
            .ok_or_else(|| {
                field(
                    &format!("contexts[{context_name}].context.cluster"),
                    "missing",
                )
            })?;
        let cluster = named(&doc, "clusters", cluster_name, "cluster")?
            .ok_or_else(|| field(&format!("clusters[{cluster_name}]"), "missing"))?;
        let server = cluster
            .get("server")
            .and_then(Value::as_str)
            .ok_or_else(|| {
                field(
                    &format!("clusters[{cluster_name}].cluster.server"),
                    "missing",
                )
            })?
            .to_string();
        let ca_pem = if let Some(data) = cluster
            .get("certificate-authority-data")
            .and_then(Value::as_str)
        {
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(data.trim())
                .map_err(|e| {
                    field(
                        &format!("clusters[{cluster_name}].cluster.certificate-authority-data"),
                        &format!("not base64: {e}"),
                    )
                })?;
            Some(String::from_utf8(bytes).map_err(|_| {
                field(
                    &format!("clusters[{cluster_name}].cluster.certificate-authority-data"),
                    "not PEM text",
                )
            })?)
        } else if let Some(file) = cluster.get("certificate-authority").and_then(Value::as_str) {
            Some(read(&base.join(file))?)
        } else {
            None
        };
        let mut token = None;
        if let Some(user_name) = context.get("user").and_then(Value::as_str) {
            if let Some(user) = named(&doc, "users", user_name, "user")? {
                if let Some(t) = user.get("token").and_then(Value::as_str) {
                    token = Some(t.to_string());
                } else if let Some(file) = user.get("tokenFile").and_then(Value::as_str) {
                    token = Some(read(&base.join(file))?.trim().to_string());
                }
            }
        }
        Ok(Self {
            server,
            ca_pem,
            token,
        })
    }
}

fn read(path: &Path) -> Result<String, KubeconfigError> {
    std::fs::read_to_string(path).map_err(|source| KubeconfigError::Io {
        path: path.to_path_buf(),
        source,
    })
}

/// The `inner` map of the entry called `name` in the list `list` (`clusters`, `contexts`, `users`).
fn named<'a>(
    doc: &'a Value,
    list: &str,
    name: &str,
    inner: &str,
) -> Result<Option<&'a Value>, KubeconfigError> {
    let Some(entries) = doc.get(list) else {
        return Ok(None);
    };
    let entries = entries
        .as_sequence()
        .ok_or_else(|| KubeconfigError::Field {
            field: list.to_string(),
            message: "not a list".to_string(),
        })?;
    Ok(entries
        .iter()
        .find(|e| e.get("name").and_then(Value::as_str) == Some(name))
        .and_then(|e| e.get(inner)))
}

/// A kubeconfig with one cluster, one user and one context named `skiff`, pointing at `server`
/// (no CA, no token: plain HTTP).
///
/// ```
/// let text = skiff_api::kubeconfig::render("http://127.0.0.1:6443");
/// assert!(text.contains("server: http://127.0.0.1:6443"));
/// assert!(text.contains("current-context: skiff"));
/// ```
pub fn render(server: &str) -> String {
    Access::new(server).render()
}

/// Writes [`render`]'s kubeconfig to `path` (creating parent directories).
pub fn write(path: &Path, server: &str) -> std::io::Result<()> {
    Access::new(server).write(path)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn round_trips_ca_and_token() {
        let access = Access::new("https://127.0.0.1:1")
            .with_ca_pem("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n")
            .with_token("abc");
        let text = access.render();
        assert!(text.contains("certificate-authority-data: "), "{text}");
        assert_eq!(Access::parse(&text).unwrap(), access);
        let plain = Access::new("http://127.0.0.1:1");
        assert_eq!(Access::parse(&plain.render()).unwrap(), plain);
    }

    #[test]
    fn missing_parts_are_named() {
        let e = Access::parse("apiVersion: v1\nkind: Config\n").unwrap_err();
        assert_eq!(e.to_string(), "current-context: missing");
        let e = Access::parse(
            "current-context: a\ncontexts:\n- name: a\n  context: {cluster: c}\nclusters: []\n",
        )
        .unwrap_err();
        assert_eq!(e.to_string(), "clusters[c]: missing");
    }

    #[test]
    fn file_references_are_relative_to_the_kubeconfig() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("ca.crt"), "PEM").unwrap();
        std::fs::write(dir.path().join("token"), "tok\n").unwrap();
        let path = dir.path().join("config");
        std::fs::write(
            &path,
            "current-context: a\ncontexts:\n- name: a\n  context: {cluster: c, user: u}\nclusters:\n- name: c\n  cluster: {server: 'https://x', certificate-authority: ca.crt}\nusers:\n- name: u\n  user: {tokenFile: token}\n",
        )
        .unwrap();
        let access = Access::load(&path).unwrap();
        assert_eq!(access.ca_pem.as_deref(), Some("PEM"));
        assert_eq!(access.token.as_deref(), Some("tok"));
    }
}
