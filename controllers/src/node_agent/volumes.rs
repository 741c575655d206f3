//! Pod volumes on the node: emptyDir as a directory per pod (removed with the pod), hostPath as is,
//! configMap as files written from the ConfigMap; and every container's /etc/resolv.conf (see
//! [`dns_config`](super::dns_config)).

use std::path::{Path, PathBuf};

use skiff_core::client::Api;
use skiff_core::kinds::{ConfigMap, Container, Pod};
use skiff_core::runtime::Mount;

use super::{AgentError, NodeAgent};

/// The pod's directory on the node.
pub(crate) fn pod_dir(agent: &NodeAgent, uid: &str) -> PathBuf {
    agent.config.root.join("pods").join(uid)
}

fn io(context: String) -> impl FnOnce(std::io::Error) -> AgentError {
    move |source| AgentError::Io { context, source }
}

/// Prepares the volumes `container` mounts and returns its mounts; the error names the volume.
pub(crate) async fn mounts(
    agent: &NodeAgent,
    pod: &Pod,
    container: &Container,
) -> Result<Vec<Mount>, String> {
    let uid = pod.metadata.uid.clone().unwrap_or_default();
    let mut out = Vec::new();
    for vm in &container.volume_mounts {
        let Some(vol) = pod.spec.volumes.iter().find(|v| v.name == vm.name) else {
            return Err(format!("volume {:?} is not defined in the pod", vm.name));
        };
        let host: PathBuf = if let Some(hp) = &vol.host_path {
            let p = PathBuf::from(&hp.path);
            if matches!(hp.type_.as_deref(), Some("DirectoryOrCreate")) {
                std::fs::create_dir_all(&p)
                    .map_err(|e| format!("hostPath {}: cannot create it: {e}", p.display()))?;
            } else if !p.exists() {
                return Err(format!(
                    "hostPath {} does not exist on the node",
                    p.display()
                ));
            }
            p
        } else if vol.empty_dir.is_some() {
            let p = pod_dir(agent, &uid).join("volumes").join(&vol.name);
            std::fs::create_dir_all(&p).map_err(|e| format!("emptyDir {}: {e}", p.display()))?;
            p
        } else if let Some(cm) = &vol.config_map {
            let p = pod_dir(agent, &uid).join("volumes").join(&vol.name);
            write_config_map(agent, pod, cm.name.as_deref().unwrap_or(""), &p).await?;
            p
        } else {
            return Err(format!(
                "volume {:?} has a type the node agent does not support",
                vol.name
            ));
        };
        let host = match &vm.sub_path {
            Some(sub) if !sub.is_empty() => host.join(sub),
            _ => host,
        };
        out.push(Mount {
            host_path: host,
            container_path: PathBuf::from(&vm.mount_path),
            read_only: vm.read_only.unwrap_or(false),
        });
    }
    // The pod's resolv.conf (see `dns_config`), unless the container mounts its own.
    let resolv = Path::new("/etc/resolv.conf");
    if !out.iter().any(|m| m.container_path == resolv) {
        let host = std::fs::read_to_string(resolv).unwrap_or_default();
        let text = super::dns_config::resolv_conf(
            pod,
            agent.config.cluster_dns.as_deref(),
            &agent.config.cluster_domain,
            &host,
        );
        let dir = pod_dir(agent, &uid);
        std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        let file = dir.join("resolv.conf");
        std::fs::write(&file, text).map_err(|e| format!("{}: {e}", file.display()))?;
        out.push(Mount {
            host_path: file,
            container_path: resolv.to_path_buf(),
            read_only: true,
        });
    }
    Ok(out)
}

async fn write_config_map(
    agent: &NodeAgent,
    pod: &Pod,
    name: &str,
    dir: &Path,
) -> Result<(), String> {
    let ns = pod.metadata.namespace.as_deref().unwrap_or("default");
    let api: Api<ConfigMap> = Api::namespaced(agent.client.clone(), ns);
    let cm = api
        .get(name)
        .await
        .map_err(|e| format!("configmap {name:?}: {e}"))?;
    std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    for (key, value) in &cm.data {
        std::fs::write(dir.join(key), value)
            .map_err(|e| format!("{}: {e}", dir.join(key).display()))?;
    }
    Ok(())
}

/// Removes the pod's directory (emptyDir volumes and all).
pub(crate) fn remove(agent: &NodeAgent, uid: &str) -> Result<(), AgentError> {
    let dir = pod_dir(agent, uid);
    match std::fs::remove_dir_all(&dir) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
            Err(io(format!("cannot remove {}", dir.display()))(e))
        }
        _ => Ok(()),
    }
}
