//! Filters: may this pod run on this node? Pure functions over [`NodeInfo`] and [`NodeUsage`], run in
//! Kubernetes' order (NodeUnschedulable, TaintToleration, NodeAffinity, NodePorts, NodeResourcesFit);
//! the first failing filter gives the node's reasons.

use std::fmt;

use skiff_core::kinds::Pod;

use super::node_info::{NodeInfo, NodeUsage, PodDemand, TAINT_UNSCHEDULABLE};

/// Why a node cannot take a pod, worded as kube-scheduler words it in `FailedScheduling` events.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Reason {
    /// The node is cordoned (`spec.unschedulable`) and the pod does not tolerate it.
    Unschedulable,
    /// A `NoSchedule`/`NoExecute` taint the pod does not tolerate (key, value).
    UntoleratedTaint(String, String),
    /// The node's labels do not match the pod's `nodeSelector`.
    NodeSelectorMismatch,
    /// A requested host port is taken.
    PortsInUse,
    /// The node has no room for one more pod (`allocatable.pods`).
    TooManyPods,
    /// Not enough of this resource (`cpu`, `memory`) is left.
    Insufficient(String),
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Reason::Unschedulable => f.write_str("node(s) were unschedulable"),
            Reason::UntoleratedTaint(k, v) => {
                write!(f, "node(s) had untolerated taint {{{k}: {v}}}")
            }
            Reason::NodeSelectorMismatch => {
                f.write_str("node(s) didn't match Pod's node affinity/selector")
            }
            Reason::PortsInUse => {
                f.write_str("node(s) didn't have free ports for the requested pod ports")
            }
            Reason::TooManyPods => f.write_str("Too many pods"),
            Reason::Insufficient(r) => write!(f, "Insufficient {r}"),
        }
    }
}

/// NodeUnschedulable: a cordoned node takes only pods tolerating `node.kubernetes.io/unschedulable`.
pub fn node_unschedulable(pod: &Pod, node: &NodeInfo) -> Result<(), Reason> {
    if !node.unschedulable {
        return Ok(());
    }
    let taint = skiff_core::kinds::Taint {
        key: TAINT_UNSCHEDULABLE.into(),
        value: None,
        effect: "NoSchedule".into(),
        time_added: None,
    };
    if pod.spec.tolerations.iter().any(|t| t.tolerates(&taint)) {
        Ok(())
    } else {
        Err(Reason::Unschedulable)
    }
}

/// TaintToleration: every `NoSchedule`/`NoExecute` taint must be tolerated (`PreferNoSchedule` is not a
/// filter). Not-Ready nodes carry an implied `node.kubernetes.io/not-ready` taint (see [`NodeInfo::of`]).
pub fn taint_toleration(pod: &Pod, node: &NodeInfo) -> Result<(), Reason> {
    match node.taints.iter().find(|taint| {
        (taint.effect == "NoSchedule" || taint.effect == "NoExecute")
            && !pod.spec.tolerations.iter().any(|t| t.tolerates(taint))
    }) {
        None => Ok(()),
        Some(t) => Err(Reason::UntoleratedTaint(
            t.key.clone(),
            t.value.clone().unwrap_or_default(),
        )),
    }
}

/// NodeAffinity (the `nodeSelector` part): every selector label must be on the node with that value.
pub fn node_selector(pod: &Pod, node: &NodeInfo) -> Result<(), Reason> {
    if pod
        .spec
        .node_selector
        .iter()
        .all(|(k, v)| node.labels.get(k) == Some(v))
    {
        Ok(())
    } else {
        Err(Reason::NodeSelectorMismatch)
    }
}

/// NodePorts: no requested host port may conflict with one in use on the node.
pub fn node_ports(demand: &PodDemand, usage: &NodeUsage) -> Result<(), Reason> {
    if demand
        .host_ports
        .iter()
        .any(|p| usage.host_ports.iter().any(|u| u.conflicts(p)))
    {
        Err(Reason::PortsInUse)
    } else {
        Ok(())
    }
}

/// NodeResourcesFit: one more pod, and the pod's CPU and memory requests, must fit in allocatable minus
/// what the node's pods request. Every shortfall is reported (as Kubernetes does).
pub fn resources_fit(
    demand: &PodDemand,
    node: &NodeInfo,
    usage: &NodeUsage,
) -> Result<(), Vec<Reason>> {
    let mut reasons = Vec::new();
    let (alloc, used, req) = (&node.allocatable, &usage.requested, &demand.requests);
    if used.pods + 1 > alloc.pods {
        reasons.push(Reason::TooManyPods);
    }
    if req.milli_cpu > 0 && req.milli_cpu > alloc.milli_cpu - used.milli_cpu {
        reasons.push(Reason::Insufficient("cpu".into()));
    }
    if req.memory > 0 && req.memory > alloc.memory - used.memory {
        reasons.push(Reason::Insufficient("memory".into()));
    }
    if reasons.is_empty() {
        Ok(())
    } else {
        Err(reasons)
    }
}

/// Runs every filter in order; the reasons of the first that fails.
pub fn fits(
    pod: &Pod,
    demand: &PodDemand,
    node: &NodeInfo,
    usage: &NodeUsage,
) -> Result<(), Vec<Reason>> {
    node_unschedulable(pod, node)
        .and_then(|()| taint_toleration(pod, node))
        .and_then(|()| node_selector(pod, node))
        .and_then(|()| node_ports(demand, usage))
        .map_err(|r| vec![r])?;
    resources_fit(demand, node, usage)
}
