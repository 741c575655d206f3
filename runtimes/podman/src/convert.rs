//! Pure conversions between the runtime trait's types and Podman's libpod models (no I/O,
//! unit-tested).

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Utc};
use podman_api::models::{
    ContainerMount, InspectContainerData, InspectPodData, LinuxCpu, LinuxMemory, LinuxResources,
    ListPodsReport, Schema2HealthConfig,
};
use skiff_core::runtime::{
    engine, ContainerInfo, ContainerState, LabelFilter, Mount, Resources, RuntimeEvent,
    RuntimeEventKind,
};

pub use skiff_core::runtime::engine::{NODE, SANDBOX_ID, TYPE};

/// The `label=k=v` pairs of a list call: the filter's, this node's, and the object type.
pub fn label_pairs(filter: &LabelFilter, node: &str, type_: &str) -> Vec<(String, String)> {
    let mut pairs: Vec<(String, String)> = filter
        .0
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    if !node.is_empty() {
        pairs.push((NODE.to_string(), node.to_string()));
    }
    pairs.push((TYPE.to_string(), type_.to_string()));
    pairs
}

/// A libpod time; libpod writes `0001-01-01T00:00:00Z` for "never".
pub fn time(t: Option<DateTime<Utc>>) -> Option<DateTime<Utc>> {
    t.filter(|t| t.timestamp() > 0)
}

/// Bind mounts as libpod's spec takes them (`rbind`, and `ro` when read-only).
pub fn mounts(mounts: &[Mount]) -> Vec<ContainerMount> {
    mounts
        .iter()
        .map(|m| {
            let mut options = vec!["rbind".to_string()];
            if m.read_only {
                options.push("ro".to_string());
            }
            ContainerMount {
                destination: Some(m.container_path.display().to_string()),
                options: Some(options),
                source: Some(m.host_path.display().to_string()),
                _type: Some("bind".to_string()),
                uid_mappings: None,
                gid_mappings: None,
            }
        })
        .collect()
}

/// libpod's OCI resources from the kubelet's conversions: CPU shares, CFS quota and period,
/// memory, and memory+swap equal to memory (no swap).
pub fn resources(r: &Resources) -> LinuxResources {
    LinuxResources {
        block_io: None,
        cpu: Some(LinuxCpu {
            cpus: None,
            mems: None,
            period: r
                .cpu_quota_us
                .and_then(|_| u64::try_from(Resources::CPU_PERIOD_US).ok()),
            quota: r.cpu_quota_us,
            realtime_period: None,
            realtime_runtime: None,
            shares: r.cpu_shares,
        }),
        devices: None,
        hugepage_limits: None,
        memory: r.memory_limit_bytes.map(|m| LinuxMemory {
            disable_oom_killer: None,
            kernel: None,
            kernel_tcp: None,
            limit: Some(m),
            reservation: None,
            swap: Some(m),
            swappiness: None,
            use_hierarchy: None,
        }),
        network: None,
        pids: None,
        rdma: None,
        unified: None,
    }
}

/// The healthcheck that switches off an image's own (the agent runs the probes).
pub fn no_healthcheck() -> Schema2HealthConfig {
    Schema2HealthConfig {
        interval: None,
        retries: None,
        start_period: None,
        test: Some(vec!["NONE".into()]),
        timeout: None,
    }
}

/// An image id as Docker and the kubelet show it: `sha256:<hex>`.
pub fn image_id(id: &str) -> String {
    if id.is_empty() || id.contains(':') {
        id.to_string()
    } else {
        format!("sha256:{id}")
    }
}

/// What the runtime trait reports of an inspected container.
pub fn container_info(c: &InspectContainerData) -> ContainerInfo {
    let labels: BTreeMap<String, String> = c
        .config
        .as_ref()
        .and_then(|cfg| cfg.labels.clone())
        .unwrap_or_default()
        .into_iter()
        .collect();
    let state = c.state.as_ref();
    let status = state.and_then(|s| s.status.as_deref()).unwrap_or("");
    let kind = match status {
        "created" | "configured" | "initialized" => ContainerState::Created,
        "running" | "paused" => ContainerState::Running,
        "exited" | "stopped" => ContainerState::Exited,
        _ => ContainerState::Unknown,
    };
    ContainerInfo::from(engine::Inspected {
        id: c.id.clone().unwrap_or_default(),
        labels,
        image: c
            .image_name
            .clone()
            .or_else(|| c.config.as_ref().and_then(|cfg| cfg.image.clone()))
            .unwrap_or_default(),
        image_id: image_id(c.image.as_deref().unwrap_or("")),
        state: kind,
        created_at: time(c.created),
        started_at: time(state.and_then(|s| s.started_at)),
        finished_at: time(state.and_then(|s| s.finished_at)),
        exit_code: state.and_then(|s| s.exit_code),
        oom_killed: state.and_then(|s| s.oom_killed).unwrap_or(false),
        error: state.and_then(|s| s.error.clone()),
    })
}

/// What a sandbox's report needs of a Podman pod, listed or inspected.
#[derive(Clone, Debug, Default)]
pub struct PodView {
    /// The pod's id.
    pub id: String,
    /// Its infra container's id.
    pub infra_id: String,
    /// Its infra container's status (`running` while the sandbox is ready).
    pub infra_status: String,
    /// The pod's labels.
    pub labels: BTreeMap<String, String>,
    /// When it was created.
    pub created: Option<DateTime<Utc>>,
}

impl PodView {
    /// A pod from its fields as libpod writes them, `members` being its containers' (id, status).
    fn new<'a>(
        id: Option<&String>,
        infra_id: Option<&String>,
        mut members: impl Iterator<Item = (Option<&'a String>, Option<&'a String>)>,
        labels: Option<&HashMap<String, String>>,
        created: Option<DateTime<Utc>>,
    ) -> Self {
        let infra_id = infra_id.cloned().unwrap_or_default();
        let infra_status = members
            .find(|(id, _)| id.map(String::as_str) == Some(infra_id.as_str()))
            .and_then(|(_, status)| status.cloned())
            .unwrap_or_default();
        Self {
            id: id.cloned().unwrap_or_default(),
            infra_id,
            infra_status,
            labels: labels.cloned().unwrap_or_default().into_iter().collect(),
            created,
        }
    }
}

impl From<&ListPodsReport> for PodView {
    fn from(p: &ListPodsReport) -> Self {
        let members = p.containers.iter().flatten();
        Self::new(
            p.id.as_ref(),
            p.infra_id.as_ref(),
            members.map(|c| (c.id.as_ref(), c.status.as_ref())),
            p.labels.as_ref(),
            p.created,
        )
    }
}

impl From<&InspectPodData> for PodView {
    fn from(p: &InspectPodData) -> Self {
        let members = p.containers.iter().flatten();
        Self::new(
            p.id.as_ref(),
            p.infra_container_id.as_ref(),
            members.map(|c| (c.id.as_ref(), c.state.as_ref())),
            p.labels.as_ref(),
            p.created,
        )
    }
}

/// The pod address of an inspected (infra) container: on `network` when given, else the first.
pub fn ip(c: &InspectContainerData, network: Option<&str>) -> Option<String> {
    let settings = c.network_settings.as_ref()?;
    let on_network = settings.networks.as_ref().and_then(|nets| {
        network
            .and_then(|n| nets.get(n))
            .or_else(|| nets.values().next())
            .and_then(|e| e.ip_address.clone())
    });
    on_network
        .or_else(|| settings.ip_address.clone())
        .filter(|ip| !ip.is_empty())
}

/// What a node on this Podman cannot do, from `podman info`: rootless Podman applies no cgroup
/// limits on cgroup v1, and on v2 only through the controllers systemd delegated to the user.
///
/// ```text
/// rootless, v1          -> requests and limits are not enforced
/// rootless, v2 [cpu]    -> memory limits are not enforced
/// root                  -> nothing
/// ```
pub fn limitations(rootless: bool, cgroup_version: &str, controllers: &[String]) -> Vec<String> {
    if !rootless {
        return Vec::new();
    }
    if cgroup_version != "v2" {
        return vec![format!(
            "rootless Podman on cgroup {cgroup_version} cannot apply cgroup limits: CPU and memory \
             requests and limits are not enforced (run Podman as root, or on cgroup v2 with the cpu \
             and memory controllers delegated)"
        )];
    }
    ["cpu", "memory"]
        .iter()
        .filter(|c| !controllers.iter().any(|have| have == *c))
        .map(|c| {
            format!(
                "rootless Podman has no {c} controller delegated: {c} limits are not enforced \
                 (delegate it: systemd's Delegate= for user@.service)"
            )
        })
        .collect()
}

/// A container event of Podman's stream (`start`, `died`) for one of Skiff's containers; other
/// actions and other containers (infra containers among them) are none of the agent's.
pub fn event(e: podman_api::models::Event) -> Option<RuntimeEvent> {
    let kind = match e.action.as_str() {
        "start" => RuntimeEventKind::Started,
        "died" => RuntimeEventKind::Stopped,
        _ => return None,
    };
    if e.actor.attributes.get(TYPE).map(String::as_str) != Some("container") {
        return None;
    }
    Some(RuntimeEvent {
        container_id: e.actor.id,
        labels: e.actor.attributes.into_iter().collect(),
        kind,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resources_without_swap() {
        let r = Resources {
            cpu_shares: Some(256),
            cpu_quota_us: Some(50_000),
            memory_limit_bytes: Some(64 << 20),
        };
        let l = resources(&r);
        let cpu = l.cpu.expect("cpu");
        let mem = l.memory.expect("memory");
        assert_eq!(
            (cpu.shares, cpu.quota, cpu.period, mem.limit, mem.swap),
            (
                Some(256),
                Some(50_000),
                Some(100_000),
                Some(64 << 20),
                Some(64 << 20)
            )
        );
        assert!(resources(&Resources::default()).memory.is_none());
    }

    #[test]
    fn exited_container() {
        // As Podman 4.3 writes it.
        let c: InspectContainerData = serde_json::from_value(serde_json::json!({
            "Id": "c1",
            "Created": "2026-12-03T08:29:31.108556786Z",
            "Image": "ab12",
            "ImageName": "docker.io/library/nginx:latest",
            "State": {
                "Status": "exited",
                "ExitCode": 137,
                "OOMKilled": true,
                "StartedAt": "2026-12-03T08:29:32.1Z",
                "FinishedAt": "0001-01-01T00:00:00Z",
                "Error": ""
            },
            "Config": {"Labels": {"skiff.io/sandbox-id": "p1", "skiff.io/container-name": "web"}}
        }))
        .expect("libpod inspect JSON");
        let info = container_info(&c);
        assert_eq!(info.state, ContainerState::Exited);
        assert_eq!(info.reason.as_deref(), Some("OOMKilled"));
        assert_eq!(info.exit_code, Some(137));
        assert_eq!(info.finished_at, None);
        assert_eq!(info.image_id, "sha256:ab12");
        assert_eq!(info.image, "docker.io/library/nginx:latest");
        assert_eq!(
            (info.sandbox_id.as_str(), info.name.as_str()),
            ("p1", "web")
        );
    }

    #[test]
    fn rootless_limits() {
        assert!(limitations(false, "v1", &[]).is_empty());
        let v1 = limitations(true, "v1", &[]);
        assert_eq!(v1.len(), 1);
        assert!(v1[0].contains("not enforced"), "{v1:?}");
        let v2 = limitations(true, "v2", &["cpu".to_string(), "pids".to_string()]);
        assert_eq!(v2.len(), 1);
        assert!(v2[0].contains("no memory controller"), "{v2:?}");
        let all = ["cpu".to_string(), "memory".to_string()];
        assert!(limitations(true, "v2", &all).is_empty());
    }

    #[test]
    fn bind_mounts() {
        let m = mounts(&[Mount {
            host_path: "/srv/data".into(),
            container_path: "/data".into(),
            read_only: true,
        }]);
        assert_eq!(
            m[0].options.as_deref(),
            Some(&["rbind".to_string(), "ro".to_string()][..])
        );
        assert_eq!(m[0].source.as_deref(), Some("/srv/data"));
    }
}
