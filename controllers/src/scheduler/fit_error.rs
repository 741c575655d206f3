//! The message of an unschedulable pod, worded as kube-scheduler words it.

use std::collections::BTreeMap;
use std::fmt;

use super::filter::Reason;

/// Why no node fits a pod: how many nodes failed for each reason.
#[derive(Clone, Debug, Default, PartialEq, Eq, thiserror::Error)]
pub struct FitError {
    /// Nodes considered.
    pub num_nodes: usize,
    /// Nodes failing for each reason (a node may count under several, e.g. cpu and memory).
    pub reasons: BTreeMap<Reason, usize>,
}

impl FitError {
    /// Counts one node failing for `reasons`.
    pub fn add(&mut self, reasons: Vec<Reason>) {
        for r in reasons {
            *self.reasons.entry(r).or_default() += 1;
        }
    }
}

impl fmt::Display for FitError {
    /// `0/3 nodes are available: 1 Insufficient cpu, 2 node(s) didn't match Pod's node affinity/selector.`
    /// (reasons as `"<count> <reason>"`, sorted as strings, like kube-scheduler); `no nodes available to
    /// schedule pods` when there are no nodes.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.num_nodes == 0 {
            return f.write_str("no nodes available to schedule pods");
        }
        let mut parts: Vec<String> = self
            .reasons
            .iter()
            .map(|(r, n)| format!("{n} {r}"))
            .collect();
        parts.sort();
        write!(
            f,
            "0/{} nodes are available: {}.",
            self.num_nodes,
            parts.join(", ")
        )
    }
}
