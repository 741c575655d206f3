//! Pure conversions between the runtime trait's types and Docker's (no I/O, unit-tested).

use std::collections::{BTreeMap, HashMap};

use bollard::models::{
    ContainerInspectResponse, ContainerStateStatusEnum, EventMessage, HostConfig,
};
use chrono::{DateTime, Utc};
use skiff_core::runtime::{
    engine, ContainerInfo, ContainerState, Mount, Resources, RuntimeEvent, RuntimeEventKind,
};

pub use skiff_core::runtime::engine::{cri_name as name_for, pull_reference};
pub use skiff_core::runtime::engine::{NODE, SANDBOX_ID, TYPE};

/// `label=k=v` filters for Docker's list calls.
pub fn label_filters<'a>(
    pairs: impl IntoIterator<Item = (&'a String, &'a String)>,
    type_: &str,
) -> HashMap<String, Vec<String>> {
    let mut list: Vec<String> = pairs.into_iter().map(|(k, v)| format!("{k}={v}")).collect();
    list.push(format!("{TYPE}={type_}"));
    HashMap::from([("label".to_string(), list)])
}

/// A Docker timestamp; Docker writes `0001-01-01T00:00:00Z` for "never".
pub fn time(s: Option<&str>) -> Option<DateTime<Utc>> {
    let t = DateTime::parse_from_rfc3339(s?).ok()?.with_timezone(&Utc);
    (t.timestamp() > 0).then_some(t)
}

/// `host:container[:ro]` binds.
pub fn binds(mounts: &[Mount]) -> Vec<String> {
    mounts
        .iter()
        .map(|m| {
            let mut b = format!("{}:{}", m.host_path.display(), m.container_path.display());
            if m.read_only {
                b.push_str(":ro");
            }
            b
        })
        .collect()
}

/// Docker's resource fields from the kubelet's conversions: CPU shares, CFS quota and period,
/// memory, and memory+swap equal to memory (no swap).
pub fn resources(r: &Resources) -> HostConfig {
    HostConfig {
        cpu_shares: r.cpu_shares.map(|s| i64::try_from(s).unwrap_or(i64::MAX)),
        cpu_quota: r.cpu_quota_us,
        cpu_period: r.cpu_quota_us.map(|_| Resources::CPU_PERIOD_US),
        memory: r.memory_limit_bytes,
        memory_swap: r.memory_limit_bytes,
        ..HostConfig::default()
    }
}

/// What the runtime trait reports of an inspected container.
pub fn container_info(c: &ContainerInspectResponse) -> ContainerInfo {
    let labels: BTreeMap<String, String> = c
        .config
        .as_ref()
        .and_then(|cfg| cfg.labels.clone())
        .unwrap_or_default()
        .into_iter()
        .collect();
    let state = c.state.as_ref();
    let status = state.and_then(|s| s.status);
    let exited = matches!(
        status,
        Some(ContainerStateStatusEnum::EXITED) | Some(ContainerStateStatusEnum::DEAD)
    );
    let kind = match status {
        Some(ContainerStateStatusEnum::CREATED) => ContainerState::Created,
        Some(ContainerStateStatusEnum::RUNNING)
        | Some(ContainerStateStatusEnum::PAUSED)
        | Some(ContainerStateStatusEnum::RESTARTING) => ContainerState::Running,
        _ if exited => ContainerState::Exited,
        _ => ContainerState::Unknown,
    };
    let code = state
        .and_then(|s| s.exit_code)
        .map(|c| i32::try_from(c).unwrap_or(255));
    ContainerInfo::from(engine::Inspected {
        id: c.id.clone().unwrap_or_default(),
        labels,
        image: c
            .config
            .as_ref()
            .and_then(|cfg| cfg.image.clone())
            .unwrap_or_default(),
        image_id: c.image.clone().unwrap_or_default(),
        state: kind,
        created_at: time(c.created.as_deref()),
        started_at: time(state.and_then(|s| s.started_at.as_deref())),
        finished_at: time(state.and_then(|s| s.finished_at.as_deref())),
        exit_code: code,
        oom_killed: state.and_then(|s| s.oom_killed).unwrap_or(false),
        error: state.and_then(|s| s.error.clone()),
    })
}

/// A container event of Docker's stream (`start`, `die`); other actions are none of the agent's.
pub fn event(e: EventMessage) -> Option<RuntimeEvent> {
    let kind = match e.action.as_deref()? {
        "start" => RuntimeEventKind::Started,
        "die" => RuntimeEventKind::Stopped,
        _ => return None,
    };
    let actor = e.actor?;
    Some(RuntimeEvent {
        container_id: actor.id?,
        labels: actor.attributes.unwrap_or_default().into_iter().collect(),
        kind,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_and_names() {
        assert_eq!(time(Some("0001-01-01T00:00:00Z")), None);
        assert!(time(Some("2026-12-02T18:00:00.123456789Z")).is_some());
    }

    #[test]
    fn resources_without_swap() {
        let r = Resources {
            cpu_shares: Some(256),
            cpu_quota_us: Some(50_000),
            memory_limit_bytes: Some(64 << 20),
        };
        let h = resources(&r);
        assert_eq!(
            (
                h.cpu_shares,
                h.cpu_quota,
                h.cpu_period,
                h.memory,
                h.memory_swap
            ),
            (
                Some(256),
                Some(50_000),
                Some(100_000),
                Some(64 << 20),
                Some(64 << 20)
            )
        );
    }
}
