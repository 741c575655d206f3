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

/// One node and what its pods take.
#[derive(Debug)]
struct Slot {
    info: NodeInfo,
    usage: NodeUsage,
}

/// The scheduler's picture of the cluster.
#[derive(Debug, Default)]
pub struct ClusterView {
    /// Nodes in a stable order; the search starts where the last one stopped.
    slots: Vec<Slot>,
    index: HashMap<String, usize>,
    next_start: usize,
    /// Usage of pods bound to nodes the view does not know (yet, or any more).
    detached: HashMap<String, NodeUsage>,
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
        self.slots.len()
    }

    /// Adds or updates a node; returns whether its scheduling-relevant fields changed.
    pub fn upsert_node(&mut self, info: NodeInfo) -> bool {
        match self.index.get(&info.name) {
            Some(&i) => {
                let changed = self.slots[i].info != info;
                self.slots[i].info = info;
                changed
            }
            None => {
                let usage = self.detached.remove(&info.name).unwrap_or_default();
                self.index.insert(info.name.clone(), self.slots.len());
                self.slots.push(Slot { info, usage });
                true
            }
        }
    }

    /// Removes a node (its pods stay counted in case it comes back).
    pub fn remove_node(&mut self, name: &str) {
        if let Some(i) = self.index.remove(name) {
            let slot = self.slots.swap_remove(i);
            self.detached.insert(name.to_string(), slot.usage);
            if let Some(moved) = self.slots.get(i) {
                self.index.insert(moved.info.name.clone(), i);
            }
        }
    }

    /// The usage of a node.
    pub fn usage(&self, node: &str) -> Option<&NodeUsage> {
        match self.index.get(node) {
            Some(&i) => Some(&self.slots[i].usage),
            None => self.detached.get(node),
        }
    }

    fn usage_mut(&mut self, node: &str) -> &mut NodeUsage {
        match self.index.get(node) {
            Some(&i) => &mut self.slots[i].usage,
            None => self.detached.entry(node.to_string()).or_default(),
        }
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
        self.usage_mut(node).add(&demand);
        self.pods
            .insert(key.to_string(), (node.to_string(), demand));
        was_assumed
    }

    /// Stops counting pod `key` (deleted, finished, or its binding failed). Returns whether it was counted.
    pub fn remove_pod(&mut self, key: &str) -> bool {
        self.assumed.remove(key);
        match self.pods.remove(key) {
            Some((node, demand)) => {
                self.usage_mut(&node).remove(&demand);
                true
            }
            None => false,
        }
    }

    /// Drops the assumption of pod `key` after its binding failed; a binding observed meanwhile (the pod
    /// bound elsewhere) stays counted. Returns whether there was an assumption.
    pub fn forget_assumed(&mut self, key: &str) -> bool {
        if self.assumed.contains(key) {
            self.remove_pod(key)
        } else {
            false
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
        let n = self.slots.len();
        let mut error = FitError {
            num_nodes: n,
            ..FitError::default()
        };
        let wanted = num_feasible_nodes_to_find(n);
        let mut best: Option<(i64, usize)> = None;
        let mut found = 0;
        let mut visited = 0;
        for i in 0..n {
            let idx = (self.next_start + i) % n;
            visited += 1;
            let slot = &self.slots[idx];
            match fits(pod, demand, &slot.info, &slot.usage) {
                Ok(()) => {
                    let s = score(demand, &slot.info, &slot.usage);
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
        self.remove_pod(key);
        let node = self.slots[idx].info.name.clone();
        self.slots[idx].usage.add(demand);
        self.pods
            .insert(key.to_string(), (node.clone(), demand.clone()));
        self.assumed.insert(key.to_string());
        Ok(node)
    }
}
