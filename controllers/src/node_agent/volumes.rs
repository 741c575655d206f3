//! Pod volumes on the node: emptyDir as a directory per pod (removed with the pod), hostPath as is,
//! configMap and secret as files written from the object (its `items` selecting keys and paths,
//! `defaultMode` and per-item `mode` as file modes, an `optional` one that is missing an empty
//! directory); and every container's /etc/resolv.conf (see [`dns_config`](super::dns_config)).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use skiff_core::client::Api;
use skiff_core::kinds::{ConfigMap, Container, KeyToPath, Pod, Secret};
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
            let name = cm.name.as_deref().unwrap_or("");
            let keys = config_map_keys(agent, pod, name).await?;
            let projection = Projection {
                what: format!("configmap {name:?}"),
                items: &cm.items,
                default_mode: cm.default_mode,
                optional: cm.optional.unwrap_or(false),
            };
            projection.write(keys, &p)?;
            p
        } else if let Some(secret) = &vol.secret {
            let p = pod_dir(agent, &uid).join("volumes").join(&vol.name);
            let name = secret.secret_name.as_deref().unwrap_or("");
            let keys = secret_keys(agent, pod, name).await?;
            let projection = Projection {
                what: format!("secret {name:?}"),
                items: &secret.items,
                default_mode: secret.default_mode,
                optional: secret.optional.unwrap_or(false),
            };
            projection.write(keys, &p)?;
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

/// A ConfigMap's keys and values (`binaryData` decoded); `None` when it does not exist.
async fn config_map_keys(
    agent: &NodeAgent,
    pod: &Pod,
    name: &str,
) -> Result<Option<BTreeMap<String, Vec<u8>>>, String> {
    use base64::Engine as _;
    let ns = pod.metadata.namespace.as_deref().unwrap_or("default");
    let api: Api<ConfigMap> = Api::namespaced(agent.client.clone(), ns);
    let Some(cm) = api
        .get_opt(name)
        .await
        .map_err(|e| format!("configmap {name:?}: {e}"))?
    else {
        return Ok(None);
    };
    let mut keys: BTreeMap<String, Vec<u8>> = cm
        .data
        .iter()
        .map(|(k, v)| (k.clone(), v.clone().into_bytes()))
        .collect();
    for (k, v) in &cm.binary_data {
        if let Ok(bytes) = base64::engine::general_purpose::STANDARD.decode(v) {
            keys.insert(k.clone(), bytes);
        }
    }
    Ok(Some(keys))
}

/// A Secret's keys and decoded values; `None` when it does not exist.
async fn secret_keys(
    agent: &NodeAgent,
    pod: &Pod,
    name: &str,
) -> Result<Option<BTreeMap<String, Vec<u8>>>, String> {
    let ns = pod.metadata.namespace.as_deref().unwrap_or("default");
    let api: Api<Secret> = Api::namespaced(agent.client.clone(), ns);
    let Some(secret) = api
        .get_opt(name)
        .await
        .map_err(|e| format!("secret {name:?}: {e}"))?
    else {
        return Ok(None);
    };
    Ok(Some(
        secret
            .data
            .keys()
            .filter_map(|k| secret.decoded(k).map(|v| (k.clone(), v)))
            .collect(),
    ))
}

/// How a configMap or secret volume lays out its object's keys.
struct Projection<'a> {
    /// `configmap "x"` or `secret "x"`, for messages.
    what: String,
    items: &'a [KeyToPath],
    default_mode: Option<i32>,
    optional: bool,
}

impl Projection<'_> {
    /// The files (relative path, content, mode) for `keys`, as the kubelet lays them out.
    fn files(
        &self,
        keys: &BTreeMap<String, Vec<u8>>,
    ) -> Result<Vec<(String, Vec<u8>, u32)>, String> {
        let mode = |m: Option<i32>| m.or(self.default_mode).unwrap_or(0o644) as u32 & 0o777;
        if self.items.is_empty() {
            return Ok(keys
                .iter()
                .map(|(k, v)| (k.clone(), v.clone(), mode(None)))
                .collect());
        }
        let mut out = Vec::new();
        for item in self.items {
            match keys.get(&item.key) {
                Some(v) => out.push((item.path.clone(), v.clone(), mode(item.mode))),
                None if self.optional => {}
                None => {
                    return Err(format!(
                        "{}: key {:?} not found (volume item {:?})",
                        self.what, item.key, item.path
                    ))
                }
            }
        }
        Ok(out)
    }

    /// Writes the files of `keys` (`None`: the object is missing) under `dir`.
    fn write(&self, keys: Option<BTreeMap<String, Vec<u8>>>, dir: &Path) -> Result<(), String> {
        use std::os::unix::fs::PermissionsExt;
        let keys = match keys {
            Some(k) => k,
            None if self.optional => BTreeMap::new(),
            None => return Err(format!("{} not found", self.what)),
        };
        std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        for (path, content, mode) in self.files(&keys)? {
            let file = dir.join(&path);
            if let Some(parent) = file.parent() {
                std::fs::create_dir_all(parent)
                    .map_err(|e| format!("{}: {e}", parent.display()))?;
            }
            std::fs::write(&file, content).map_err(|e| format!("{}: {e}", file.display()))?;
            std::fs::set_permissions(&file, std::fs::Permissions::from_mode(mode))
                .map_err(|e| format!("{}: {e}", file.display()))?;
        }
        Ok(())
    }
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
