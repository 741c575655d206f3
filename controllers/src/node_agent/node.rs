//! The Node object and its heartbeat.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde_json::json;
use skiff_core::client::{Api, Patch};
use skiff_core::events::EventType;
use skiff_core::kinds::{
    DaemonEndpoint, Lease, LeaseSpec, Node, NodeAddress, NodeCondition, NodeDaemonEndpoints,
    NodeStatus, NodeSystemInfo, ObjectReference,
};
use skiff_core::meta::{MicroTime, Time};
use skiff_core::runtime::RuntimeVersion;
use skiff_core::shutdown::Shutdown;
use skiff_core::{Quantity, Resource};

use super::{AgentError, NodeAgent};

/// The version the Node reports as its kubelet's.
pub const KUBELET_VERSION: &str = "v1.32.0-skiff";

fn read_trim(path: &str) -> String {
    std::fs::read_to_string(path)
        .map(|s| s.trim().to_string())
        .unwrap_or_default()
}

fn os_image() -> String {
    read_trim("/etc/os-release")
        .lines()
        .find_map(|l| l.strip_prefix("PRETTY_NAME="))
        .map(|v| v.trim_matches('"').to_string())
        .unwrap_or_else(|| "Linux".into())
}

fn memory_bytes() -> i64 {
    read_trim("/proc/meminfo")
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<i64>().ok())
        .map_or(0, |kib| kib * 1024)
}

/// Kubernetes' name for the host architecture.
pub fn arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        other => other,
    }
}

fn hostname() -> String {
    read_trim("/proc/sys/kernel/hostname")
}

fn status(agent: &NodeAgent, version: &RuntimeVersion) -> NodeStatus {
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get()) as i64;
    let mut capacity = BTreeMap::new();
    capacity.insert("cpu".to_string(), Quantity::from_millis(cpus * 1000));
    capacity.insert("memory".to_string(), Quantity::from_bytes(memory_bytes()));
    capacity.insert("pods".to_string(), Quantity::from_millis(110_000));
    let now = Time::now();
    let mut conditions = vec![NodeCondition {
        type_: "Ready".into(),
        status: "True".into(),
        last_heartbeat_time: Some(now),
        last_transition_time: Some(now),
        reason: Some("KubeletReady".into()),
        message: Some("skiff node agent is posting ready status".into()),
    }];
    if !agent.config.limitations.is_empty() {
        conditions.push(NodeCondition {
            type_: "RuntimeLimited".into(),
            status: "True".into(),
            last_heartbeat_time: Some(now),
            last_transition_time: Some(now),
            reason: Some("NotRoot".into()),
            message: Some(agent.config.limitations.join("; ")),
        });
    }
    NodeStatus {
        allocatable: capacity.clone(),
        capacity,
        phase: None,
        conditions,
        addresses: vec![
            NodeAddress {
                type_: "InternalIP".into(),
                address: agent.config.address.clone(),
            },
            NodeAddress {
                type_: "Hostname".into(),
                address: hostname(),
            },
        ],
        daemon_endpoints: agent.config.endpoint_port.map(|p| NodeDaemonEndpoints {
            kubelet_endpoint: Some(DaemonEndpoint { port: i32::from(p) }),
        }),
        node_info: Some(NodeSystemInfo {
            machine_id: read_trim("/etc/machine-id"),
            boot_id: read_trim("/proc/sys/kernel/random/boot_id"),
            kernel_version: read_trim("/proc/sys/kernel/osrelease"),
            os_image: os_image(),
            container_runtime_version: format!("{}://{}", version.name, version.version),
            kubelet_version: KUBELET_VERSION.into(),
            operating_system: "linux".into(),
            architecture: arch().into(),
            ..NodeSystemInfo::default()
        }),
    }
}

/// Creates or updates the Node: labels, capacity, addresses, nodeInfo, Ready.
pub(crate) async fn register(
    agent: &Arc<NodeAgent>,
    version: &RuntimeVersion,
) -> Result<(), AgentError> {
    let api: Api<Node> = Api::all(agent.client.clone());
    let mut labels = BTreeMap::new();
    labels.insert(
        "kubernetes.io/hostname".to_string(),
        agent.config.name.clone(),
    );
    labels.insert("kubernetes.io/os".to_string(), "linux".to_string());
    labels.insert("kubernetes.io/arch".to_string(), arch().to_string());
    labels.extend(agent.config.labels.clone());
    let status = status(agent, version);
    let node = match api.get_opt(&agent.config.name).await? {
        Some(_) => {
            api.patch(
                &agent.config.name,
                &Patch::Merge(
                    json!({"metadata": {"labels": labels, "annotations": agent.config.annotations}}),
                ),
            )
            .await?
        }
        None => {
            let mut node = Node::named(&agent.config.name);
            node.metadata.labels = labels;
            node.metadata.annotations = agent.config.annotations.clone();
            node.spec.pod_cidr = agent.config.pod_cidr.clone();
            node.spec.pod_cidrs = agent.config.pod_cidr.iter().cloned().collect();
            api.create(&node).await?
        }
    };
    api.patch_status(
        &agent.config.name,
        &Patch::Merge(json!({ "status": status })),
    )
    .await?;
    let about = ObjectReference {
        kind: Some("Node".into()),
        api_version: Some("v1".into()),
        name: Some(agent.config.name.clone()),
        uid: node.meta().uid.clone(),
        ..ObjectReference::default()
    };
    let _ = agent
        .recorder
        .publish(
            &about,
            EventType::Normal,
            "NodeReady",
            &format!("Node {} status is now: NodeReady", agent.config.name),
        )
        .await;
    for note in &agent.config.limitations {
        let _ = agent
            .recorder
            .publish(&about, EventType::Warning, "RuntimeLimited", note)
            .await;
    }
    Ok(())
}

/// How long the runtime may take to say its version before the node is not Ready.
const RUNTIME_CHECK: std::time::Duration = std::time::Duration::from_secs(5);

/// Renews the node's Lease every `heartbeat`, and the Ready condition's heartbeat every minute; Ready
/// is False (`KubeletNotReady`, "container runtime is down: ...") while the runtime does not answer.
pub(crate) async fn heartbeat(agent: Arc<NodeAgent>, shutdown: Shutdown) {
    let leases: Api<Lease> = Api::namespaced(agent.client.clone(), "kube-node-lease");
    let nodes: Api<Node> = Api::all(agent.client.clone());
    let mut beats: u64 = 0;
    loop {
        let now = MicroTime::now();
        let renewed = leases
            .patch(
                &agent.config.name,
                &Patch::Merge(
                    json!({"spec": {"renewTime": now, "holderIdentity": agent.config.name}}),
                ),
            )
            .await;
        if renewed.is_err() {
            let mut lease = Lease::named(&agent.config.name);
            lease.metadata.namespace = Some("kube-node-lease".into());
            lease.spec = LeaseSpec {
                holder_identity: Some(agent.config.name.clone()),
                lease_duration_seconds: Some(40),
                renew_time: Some(now),
                ..LeaseSpec::default()
            };
            if let Err(e) = leases.create(&lease).await {
                tracing::warn!(node = %agent.config.name, error = %e, "cannot renew the node lease");
            }
        }
        // The runtime's health decides Ready (the kubelet's "container runtime is down").
        let runtime = tokio::time::timeout(RUNTIME_CHECK, agent.runtime.version()).await;
        let (ready, reason, message) = match runtime {
            Ok(Ok(_)) => (
                "True",
                "KubeletReady",
                "skiff node agent is posting ready status".to_string(),
            ),
            Ok(Err(e)) => (
                "False",
                "KubeletNotReady",
                format!("container runtime is down: {e}"),
            ),
            Err(_) => (
                "False",
                "KubeletNotReady",
                format!("container runtime is down: no answer within {RUNTIME_CHECK:?}"),
            ),
        };
        // Every minute the Ready condition's heartbeat; at once when it changes, or when the node
        // controller marked the node Unknown while this agent was away.
        let node = nodes.get(&agent.config.name).await.ok();
        // A Ready condition that is missing (a writer replaced the conditions) differs too.
        let differs = node.as_ref().is_some_and(|n| {
            !n.status.as_ref().is_some_and(|s| {
                s.conditions
                    .iter()
                    .any(|c| c.type_ == "Ready" && c.status == ready)
            })
        });
        if beats % 6 == 5 || differs {
            if let Some(node) = node {
                let mut conditions = node.status.unwrap_or_default().conditions;
                if !conditions.iter().any(|c| c.type_ == "Ready") {
                    conditions.push(NodeCondition {
                        type_: "Ready".into(),
                        ..NodeCondition::default()
                    });
                }
                for c in conditions.iter_mut().filter(|c| c.type_ == "Ready") {
                    c.last_heartbeat_time = Some(Time::now());
                    if c.status != ready {
                        c.status = ready.into();
                        c.last_transition_time = Some(Time::now());
                    }
                    c.reason = Some(reason.into());
                    c.message = Some(message.clone());
                }
                let _ = nodes
                    .patch_status(
                        &agent.config.name,
                        &Patch::Merge(json!({"status": {"conditions": conditions}})),
                    )
                    .await;
            }
        }
        beats += 1;
        tokio::select! {
            _ = tokio::time::sleep(agent.config.heartbeat) => {}
            _ = shutdown.wait() => return,
        }
    }
}
