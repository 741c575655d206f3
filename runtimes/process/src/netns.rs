//! Named network namespaces (`/run/netns/NAME`), made with iproute2 so they outlive their processes.

use skiff_core::runtime::RuntimeError;

async fn ip(args: &[&str]) -> Result<(), RuntimeError> {
    let out = tokio::process::Command::new("ip")
        .args(args)
        .output()
        .await
        .map_err(|e| RuntimeError::Network(format!("cannot run ip (iproute2): {e}")))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(RuntimeError::Network(format!(
            "ip {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        )))
    }
}

/// Creates the namespace `name`.
pub async fn add(name: &str) -> Result<(), RuntimeError> {
    ip(&["netns", "add", name]).await
}

/// Deletes the namespace `name`; a missing one is fine.
pub async fn del(name: &str) -> Result<(), RuntimeError> {
    if std::path::Path::new("/run/netns").join(name).exists() {
        ip(&["netns", "del", name]).await
    } else {
        Ok(())
    }
}
