//! Writing the kubeconfig `skiff up` prints.

use std::path::Path;

/// A kubeconfig with one cluster, one user and one context named `skiff`, pointing at `server`.
///
/// ```
/// let text = skiff_api::kubeconfig::render("http://127.0.0.1:6443");
/// assert!(text.contains("server: http://127.0.0.1:6443"));
/// assert!(text.contains("current-context: skiff"));
/// ```
pub fn render(server: &str) -> String {
    format!(
        "apiVersion: v1
kind: Config
clusters:
- name: skiff
  cluster:
    server: {server}
users:
- name: skiff-admin
  user: {{}}
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

/// Writes [`render`]'s kubeconfig to `path` (creating parent directories).
pub fn write(path: &Path, server: &str) -> std::io::Result<()> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)?;
    }
    std::fs::write(path, render(server))
}
