//! The scheduler's in-memory view of one node and of what a pod asks for: plain numbers, computed once
//! from the informers' objects, so filters and scores never touch the store.

use std::collections::BTreeMap;

use skiff_core::kinds::{Node, Pod, Taint};

/// CPU assumed for scoring when a container requests none (Kubernetes' `DefaultMilliCPURequest`).
pub const DEFAULT_MILLI_CPU_REQUEST: i64 = 100;
/// Memory assumed for scoring when a container requests none (Kubernetes' `DefaultMemoryRequest`, 200 MB).
pub const DEFAULT_MEMORY_REQUEST: i64 = 200 * 1024 * 1024;

/// Taint the scheduler puts on a node whose `Ready` condition is `False` or missing.
pub const TAINT_NOT_READY: &str = "node.kubernetes.io/not-ready";
/// Taint the scheduler puts on a node whose `Ready` condition is `Unknown`.
pub const TAINT_UNREACHABLE: &str = "node.kubernetes.io/unreachable";
/// Taint a pod must tolerate to land on a cordoned node.
pub const TAINT_UNSCHEDULABLE: &str = "node.kubernetes.io/unschedulable";

/// Amounts of the resources the scheduler counts.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Resources {
    /// CPU in millicores.
    pub milli_cpu: i64,
    /// Memory in bytes.
    pub memory: i64,
    /// Number of pods.
    pub pods: i64,
}

/// A host port a pod binds: `(hostIP, protocol, port)`; an empty IP is `0.0.0.0`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct HostPort {
    /// Host IP, `0.0.0.0` for all.
    pub ip: String,
    /// `TCP`, `UDP` or `SCTP`.
    pub protocol: String,
    /// Port number.
    pub port: i32,
}

impl HostPort {
    /// Whether two host ports cannot both be bound (same protocol and port, overlapping IPs).
    ///
    /// ```
    /// use skiff_controllers::scheduler::HostPort;
    /// let any = HostPort { ip: "0.0.0.0".into(), protocol: "TCP".into(), port: 80 };
    /// let one = HostPort { ip: "10.0.0.1".into(), protocol: "TCP".into(), port: 80 };
    /// let udp = HostPort { ip: "0.0.0.0".into(), protocol: "UDP".into(), port: 80 };
    /// assert!(any.conflicts(&one));
    /// assert!(!any.conflicts(&udp));
    /// ```
    pub fn conflicts(&self, other: &HostPort) -> bool {
        self.port == other.port
            && self.protocol == other.protocol
            && (self.ip == "0.0.0.0" || other.ip == "0.0.0.0" || self.ip == other.ip)
    }
}

/// What a pod asks of a node, computed once per scheduling attempt.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct PodDemand {
    /// Requests: sum over app containers, at least the largest init container; `pods` is 1.
    pub requests: Resources,
    /// The same with [`DEFAULT_MILLI_CPU_REQUEST`] / [`DEFAULT_MEMORY_REQUEST`] for containers that
    /// request nothing (used by scores only).
    pub non_zero: Resources,
    /// Host ports.
    pub host_ports: Vec<HostPort>,
}

fn request(c: &skiff_core::kinds::Container, name: &str) -> Option<i64> {
    c.resources
        .requests
        .get(name)
        .map(|q| if name == "cpu" { q.millis() } else { q.value() })
}

impl PodDemand {
    /// The demand of `pod`.
    pub fn of(pod: &Pod) -> Self {
        let mut d = PodDemand::default();
        for c in &pod.spec.containers {
            let cpu = request(c, "cpu");
            let mem = request(c, "memory");
            d.requests.milli_cpu += cpu.unwrap_or(0);
            d.requests.memory += mem.unwrap_or(0);
            d.non_zero.milli_cpu += cpu.unwrap_or(DEFAULT_MILLI_CPU_REQUEST);
            d.non_zero.memory += mem.unwrap_or(DEFAULT_MEMORY_REQUEST);
            for p in &c.ports {
                if let Some(port) = p.host_port.filter(|p| *p > 0) {
                    d.host_ports.push(HostPort {
                        ip: p
                            .host_ip
                            .clone()
                            .filter(|i| !i.is_empty())
                            .unwrap_or_else(|| "0.0.0.0".into()),
                        protocol: p
                            .protocol
                            .clone()
                            .filter(|p| !p.is_empty())
                            .unwrap_or_else(|| "TCP".into()),
                        port,
                    });
                }
            }
        }
        for c in &pod.spec.init_containers {
            let cpu = request(c, "cpu").unwrap_or(0);
            let mem = request(c, "memory").unwrap_or(0);
            d.requests.milli_cpu = d.requests.milli_cpu.max(cpu);
            d.requests.memory = d.requests.memory.max(mem);
            d.non_zero.milli_cpu = d.non_zero.milli_cpu.max(cpu);
            d.non_zero.memory = d.non_zero.memory.max(mem);
        }
        d.requests.pods = 1;
        d.non_zero.pods = 1;
        d
    }
}

/// The scheduling-relevant part of a Node: allocatable, labels, effective taints, cordon.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct NodeInfo {
    /// Node name.
    pub name: String,
    /// Node labels (matched by `nodeSelector`).
    pub labels: BTreeMap<String, String>,
    /// Taints, plus `node.kubernetes.io/not-ready` (or `unreachable`) `NoSchedule` when the node is not
    /// `Ready`, as the node-lifecycle controller of Kubernetes adds them.
    pub taints: Vec<Taint>,
    /// `spec.unschedulable` (cordoned).
    pub unschedulable: bool,
    /// `status.allocatable` (`cpu`, `memory`, `pods`; missing counts as zero, as in Kubernetes).
    pub allocatable: Resources,
}

impl NodeInfo {
    /// The view of `node`.
    pub fn of(node: &Node) -> Self {
        let status = node.status.as_ref();
        let alloc = |name: &str| {
            status
                .and_then(|s| s.allocatable.get(name))
                .map(|q| if name == "cpu" { q.millis() } else { q.value() })
                .unwrap_or(0)
        };
        let ready = status
            .and_then(|s| s.conditions.iter().find(|c| c.type_ == "Ready"))
            .map(|c| c.status.as_str());
        let mut taints = node.spec.taints.clone();
        let implied = match ready {
            Some("True") => None,
            Some("Unknown") => Some(TAINT_UNREACHABLE),
            _ => Some(TAINT_NOT_READY),
        };
        if let Some(key) = implied {
            if !taints
                .iter()
                .any(|t| t.key == key && t.effect == "NoSchedule")
            {
                taints.push(Taint {
                    key: key.to_string(),
                    value: None,
                    effect: "NoSchedule".into(),
                    time_added: None,
                });
            }
        }
        NodeInfo {
            name: node.metadata.name.clone().unwrap_or_default(),
            labels: node.metadata.labels.clone(),
            taints,
            unschedulable: node.spec.unschedulable.unwrap_or(false),
            allocatable: Resources {
                milli_cpu: alloc("cpu"),
                memory: alloc("memory"),
                pods: alloc("pods"),
            },
        }
    }
}

/// What the pods bound (or assumed) to a node take from it.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct NodeUsage {
    /// Sum of the pods' requests.
    pub requested: Resources,
    /// Sum of the pods' requests with defaults for unset CPU/memory (for scores).
    pub non_zero: Resources,
    /// Host ports in use.
    pub host_ports: Vec<HostPort>,
}

impl NodeUsage {
    /// Counts `d` in.
    pub fn add(&mut self, d: &PodDemand) {
        self.requested.milli_cpu += d.requests.milli_cpu;
        self.requested.memory += d.requests.memory;
        self.requested.pods += d.requests.pods;
        self.non_zero.milli_cpu += d.non_zero.milli_cpu;
        self.non_zero.memory += d.non_zero.memory;
        self.non_zero.pods += d.non_zero.pods;
        self.host_ports.extend(d.host_ports.iter().cloned());
    }

    /// Counts `d` out.
    pub fn remove(&mut self, d: &PodDemand) {
        self.requested.milli_cpu -= d.requests.milli_cpu;
        self.requested.memory -= d.requests.memory;
        self.requested.pods -= d.requests.pods;
        self.non_zero.milli_cpu -= d.non_zero.milli_cpu;
        self.non_zero.memory -= d.non_zero.memory;
        self.non_zero.pods -= d.non_zero.pods;
        for p in &d.host_ports {
            if let Some(i) = self.host_ports.iter().position(|h| h == p) {
                self.host_ports.swap_remove(i);
            }
        }
    }
}
