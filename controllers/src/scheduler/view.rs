//! `ClusterView`: every node's [`NodeInfo`] and [`NodeUsage`], kept current from the informers and from
//! the scheduler's own decisions ("assumed" pods, counted before their binding is observed), and the
//! placement of one pod over it.

use std::collections::{HashMap, HashSet};

use skiff_core::kinds::Pod;

use super::filter::fits;
use super::fit_error::FitError;
use super::node_info::{NodeInfo, NodeUsage, PodDemand};
use super::score::score;

/// Below this many nodes every node is checked (kube-scheduler's `minFeasibleNodesToFind`).
pub const MIN_FEASIBLE_NODES_TO_FIND: usize = 100;

/// How many feasible nodes to find before scoring, as kube-scheduler's adaptive
/// `percentageOfNodesToScore`: all of them up to 100 nodes, then `max(5, 50 - n/125)` percent, at least 100.
///
/// ```
/// use skiff_controllers::scheduler::num_feasible_nodes_to_find;
/// assert_eq!(num_feasible_nodes_to_find(50), 50);
/// assert_eq!(num_feasible_nodes_to_find(5_000), 500);
/// ```
pub fn num_feasible_nodes_to_find(num_nodes: usize) -> usize {
    if num_nodes < MIN_FEASIBLE_NODES_TO_FIND {
        return num_nodes;
    }
    let percentage = 50usize.saturating_sub(num_nodes / 125).max(5);
    (num_nodes * percentage / 100).max(MIN_FEASIBLE_NODES_TO_FIND)
}

/// The scheduler's picture of the cluster.
#[derive(Debug, Default)]
pub struct ClusterView {
    nodes: HashMap<String, NodeInfo>,
    /// Node names in a stable order; the search starts where the last one stopped.
    order: Vec<String>,
    next_start: usize,
    usage: HashMap<String, NodeUsage>,
    /// Pod key -> (node, demand) for every bound or assumed pod that still takes resources.
    pods: HashMap<String, (String, PodDemand)>,
    /// Pods placed by this scheduler whose binding was not observed yet.
    assumed: HashSet<String>,
}

impl ClusterView {
    /// An empty view.
    pub fn new() -> Self {
        Self::default()
    }

    /// Number of nodes.
    pub fn num_nodes(&self) -> usize {
        self.order.len()
    }

    /// Adds or updates a node; returns whether its scheduling-relevant fields changed.
    pub fn upsert_node(&mut self, info: NodeInfo) -> bool {
        let name = info.name.clone();
        match self.nodes.insert(name.clone(), info.clone()) {
            Some(old) => old != info,
            None => {
                self.order.push(name);
                true
            }
        }
    }

    /// Removes a node (its pods stay counted in case it comes back).
    pub fn remove_node(&mut self, name: &str) {
        if self.nodes.remove(name).is_some() {
            self.order.retain(|n| n != name);
        }
    }

    /// The usage of a node.
    pub fn usage(&self, node: &str) -> Option<&NodeUsage> {
        self.usage.get(node)
    }

    /// Counts pod `key` on `node` (observed bound). Returns true when it replaced an assumption.
    pub fn add_pod(&mut self, key: &str, node: &str, demand: PodDemand) -> bool {
        let was_assumed = self.assumed.remove(key);
        if let Some((n, d)) = self.pods.get(key) {
            if n == node && *d == demand {
                return was_assumed;
            }
        }
        self.remove_pod(key);
        self.usage.entry(node.to_string()).or_default().add(&demand);
        self.pods
            .insert(key.to_string(), (node.to_string(), demand));
        was_assumed
    }

    /// Stops counting pod `key` (deleted, finished, or its binding failed). Returns whether it was counted.
    pub fn remove_pod(&mut self, key: &str) -> bool {
        self.assumed.remove(key);
        match self.pods.remove(key) {
            Some((node, demand)) => {
                if let Some(u) = self.usage.get_mut(&node) {
                    u.remove(&demand);
                }
                true
            }
            None => false,
        }
    }

    /// Whether pod `key` was placed by the scheduler and its binding is not observed yet.
    pub fn is_assumed(&self, key: &str) -> bool {
        self.assumed.contains(key)
    }

    /// Places pod `key`: filters nodes (starting after the last search, stopping once
    /// [`num_feasible_nodes_to_find`] fit), scores the feasible ones, and assumes the pod on the best.
    pub fn schedule(
        &mut self,
        key: &str,
        pod: &Pod,
        demand: &PodDemand,
    ) -> Result<String, FitError> {
        let n = self.order.len();
        let mut error = FitError {
            num_nodes: n,
            ..FitError::default()
        };
        let wanted = num_feasible_nodes_to_find(n);
        let empty = NodeUsage::default();
        let mut best: Option<(i64, usize)> = None;
        let mut found = 0;
        let mut visited = 0;
        for i in 0..n {
            let idx = (self.next_start + i) % n;
            visited += 1;
            let Some(info) = self.nodes.get(&self.order[idx]) else {
                continue;
            };
            let usage = self.usage.get(&info.name).unwrap_or(&empty);
            match fits(pod, demand, info, usage) {
                Ok(()) => {
                    let s = score(demand, info, usage);
                    if best.is_none_or(|(b, _)| s > b) {
                        best = Some((s, idx));
                    }
                    found += 1;
                    if found >= wanted {
                        break;
                    }
                }
                Err(reasons) => error.add(reasons),
            }
        }
        if n > 0 {
            self.next_start = (self.next_start + visited) % n;
        }
        let (_, idx) = best.ok_or(error)?;
        let node = self.order[idx].clone();
        self.add_pod(key, &node, demand.clone());
        self.assumed.insert(key.to_string());
        Ok(node)
    }
}
