//! The pod's status as Kubernetes reports it, computed from the runtime's containers.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use skiff_core::kinds::{
    Container, ContainerState as K8sState, ContainerStateRunning, ContainerStateTerminated,
    ContainerStateWaiting, ContainerStatus, HostIp, Pod, PodCondition, PodIp, PodStatus,
};
use skiff_core::meta::Time;
use skiff_core::runtime::{ContainerInfo, ContainerState, SandboxInfo, SandboxState};

use super::probes::ProbeKind;
use super::sync::{attempt, Instances, Plan};
use super::NodeAgent;

/// How far the pod got in this pass.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Progress {
    /// Every init container exited 0.
    pub init_done: bool,
    /// An init container failed and restartPolicy is Never.
    pub failed: bool,
}

fn time(t: Option<DateTime<Utc>>) -> Option<Time> {
    t.map(Time::from)
}

fn terminated(runtime: &str, c: &ContainerInfo) -> K8sState {
    K8sState {
        terminated: Some(Box::new(ContainerStateTerminated {
            exit_code: c.exit_code.unwrap_or(255),
            signal: None,
            reason: c.reason.clone().or_else(|| Some("Error".into())),
            message: c.message.clone(),
            started_at: time(c.started_at),
            finished_at: time(c.finished_at.or(Some(c.created_at))),
            container_id: Some(format!("{runtime}://{}", c.id)),
        })),
        ..K8sState::default()
    }
}

fn waiting(reason: &str, message: Option<String>) -> K8sState {
    K8sState {
        waiting: Some(ContainerStateWaiting {
            reason: Some(reason.to_string()),
            message,
        }),
        ..K8sState::default()
    }
}

fn container_status(
    agent: &NodeAgent,
    c: &Container,
    inst: Option<&Instances>,
    plan: &Plan,
    default_waiting: &str,
) -> ContainerStatus {
    let runtime = agent.runtime_name();
    let latest = inst.and_then(|i| i.first());
    let previous = inst.and_then(|i| i.get(1));
    let mut s = ContainerStatus {
        name: c.name.clone(),
        image: c.image.clone().unwrap_or_default(),
        restart_count: latest.map_or(0, attempt),
        ..ContainerStatus::default()
    };
    let planned = plan.waiting.get(&c.name);
    match latest {
        Some(l) => {
            s.image_id = l.image_id.clone();
            s.container_id = Some(format!("{runtime}://{}", l.id));
            match (l.state, planned) {
                (ContainerState::Running, _) => {
                    let started = c.startup_probe.is_none()
                        || agent.probes.result(&l.id, ProbeKind::Startup) == Some(true);
                    let ready = started
                        && (c.readiness_probe.is_none()
                            || agent.probes.result(&l.id, ProbeKind::Readiness) == Some(true));
                    s.state = Some(K8sState {
                        running: Some(ContainerStateRunning {
                            started_at: time(l.started_at),
                        }),
                        ..K8sState::default()
                    });
                    s.started = Some(started);
                    s.ready = ready;
                    s.last_state = previous.map(|p| terminated(runtime, p));
                }
                (ContainerState::Created, _) => {
                    s.state = Some(waiting("ContainerCreating", None));
                    s.started = Some(false);
                    s.last_state = previous.map(|p| terminated(runtime, p));
                }
                (_, Some((reason, message))) => {
                    // Exited and waiting to be restarted.
                    s.state = Some(waiting(reason, Some(message.clone())));
                    s.last_state = Some(terminated(runtime, l));
                    s.started = Some(false);
                }
                (_, None) => {
                    s.state = Some(terminated(runtime, l));
                    s.last_state = previous.map(|p| terminated(runtime, p));
                    s.started = Some(false);
                }
            }
        }
        None => {
            let (reason, message) = planned
                .map(|(r, m)| (r.as_str(), Some(m.clone())))
                .unwrap_or((default_waiting, None));
            s.state = Some(waiting(reason, message));
            s.started = Some(false);
        }
    }
    if s.last_state.is_none() {
        s.last_state = Some(K8sState::default());
    }
    s
}

fn condition(old: &[PodCondition], type_: &str, ok: bool, reason: Option<&str>) -> PodCondition {
    let status = if ok { "True" } else { "False" };
    let prev = old.iter().find(|c| c.type_ == type_);
    let since = match prev {
        Some(p) if p.status == status => p.last_transition_time,
        _ => Some(Time::now()),
    };
    PodCondition {
        type_: type_.to_string(),
        status: status.to_string(),
        last_probe_time: None,
        last_transition_time: since,
        reason: if ok { None } else { reason.map(str::to_string) },
        message: None,
    }
}

/// The status a pod has now.
pub(crate) fn compute(
    agent: &NodeAgent,
    pod: &Pod,
    sandbox: &SandboxInfo,
    groups: &HashMap<String, Instances>,
    plan: &Plan,
    progress: Progress,
) -> PodStatus {
    let old = pod.status.clone().unwrap_or_default();
    let init_statuses: Vec<ContainerStatus> = pod
        .spec
        .init_containers
        .iter()
        .map(|c| container_status(agent, c, groups.get(&c.name), plan, "PodInitializing"))
        .collect();
    let app_default = if progress.init_done {
        "ContainerCreating"
    } else {
        "PodInitializing"
    };
    let statuses: Vec<ContainerStatus> = pod
        .spec
        .containers
        .iter()
        .map(|c| container_status(agent, c, groups.get(&c.name), plan, app_default))
        .collect();
    // Ephemeral containers count for nothing (not phase, not readiness) and are never ready.
    let ephemeral_statuses: Vec<ContainerStatus> = pod
        .spec
        .ephemeral_containers
        .iter()
        .map(|ec| {
            let mut s =
                container_status(agent, ec, groups.get(&ec.name), plan, "ContainerCreating");
            s.ready = false;
            s.started = None;
            s
        })
        .collect();
    let policy = pod.spec.restart_policy.as_deref().unwrap_or("Always");
    let is_terminated =
        |s: &ContainerStatus| s.state.as_ref().is_some_and(|st| st.terminated.is_some());
    let exit_code = |s: &ContainerStatus| {
        s.state
            .as_ref()
            .and_then(|st| st.terminated.as_ref())
            .map(|t| t.exit_code)
    };
    let all_terminated = !statuses.is_empty() && statuses.iter().all(is_terminated);
    let phase = if progress.failed {
        "Failed"
    } else if !progress.init_done {
        "Pending"
    } else if all_terminated && policy != "Always" {
        if statuses.iter().all(|s| exit_code(s) == Some(0)) {
            "Succeeded"
        } else if policy == "Never" {
            "Failed"
        } else {
            "Running"
        }
    } else if statuses.iter().any(|s| {
        s.state
            .as_ref()
            .is_some_and(|st| st.running.is_some() || st.terminated.is_some())
            || s.last_state
                .as_ref()
                .is_some_and(|l| l.terminated.is_some())
    }) {
        "Running"
    } else {
        "Pending"
    };
    let all_ready = !statuses.is_empty() && statuses.iter().all(|s| s.ready);
    let conditions = vec![
        condition(
            &old.conditions,
            "PodReadyToStartContainers",
            sandbox.state == SandboxState::Ready,
            None,
        ),
        condition(
            &old.conditions,
            "Initialized",
            progress.init_done,
            Some("ContainersNotInitialized"),
        ),
        condition(
            &old.conditions,
            "ContainersReady",
            all_ready,
            Some("ContainersNotReady"),
        ),
        condition(
            &old.conditions,
            "Ready",
            all_ready,
            Some("ContainersNotReady"),
        ),
        condition(&old.conditions, "PodScheduled", true, None),
    ];
    let pod_ip = sandbox.ip.clone();
    PodStatus {
        phase: Some(phase.to_string()),
        conditions,
        message: None,
        reason: None,
        nominated_node_name: None,
        host_ip: Some(agent.config.address.clone()),
        host_ips: vec![HostIp {
            ip: agent.config.address.clone(),
        }],
        pod_ips: pod_ip.iter().map(|ip| PodIp { ip: ip.clone() }).collect(),
        pod_ip,
        start_time: old.start_time.or_else(|| Some(Time::now())),
        init_container_statuses: init_statuses,
        container_statuses: statuses,
        qos_class: Some(skiff_core::strategy::qos_class(pod).to_string()),
        ephemeral_container_statuses: ephemeral_statuses,
    }
}
