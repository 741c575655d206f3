//! Scores: how good is a feasible node? Each score is 0-100; the node's total is the weighted sum.
//!
//! | score | weight | what it prefers |
//! |---|---|---|
//! | [`least_allocated`] | [`LEAST_ALLOCATED_WEIGHT`] = 1 | nodes with the most CPU and memory left (spreading) |
//! | [`balanced_allocation`] | [`BALANCED_ALLOCATION_WEIGHT`] = 1 | nodes whose CPU and memory use stay even |
//!
//! These are kube-scheduler's default `NodeResourcesFit` (LeastAllocated, cpu and memory weighted 1 each)
//! and `NodeResourcesBalancedAllocation` scores with their default weights of 1.

use super::node_info::{NodeInfo, NodeUsage, PodDemand};

/// Weight of [`least_allocated`] in the total.
pub const LEAST_ALLOCATED_WEIGHT: i64 = 1;
/// Weight of [`balanced_allocation`] in the total.
pub const BALANCED_ALLOCATION_WEIGHT: i64 = 1;
/// The highest score of one scorer.
pub const MAX_NODE_SCORE: i64 = 100;

fn least(requested: i64, allocatable: i64) -> i64 {
    if allocatable <= 0 || requested > allocatable {
        return 0;
    }
    (allocatable - requested) * MAX_NODE_SCORE / allocatable
}

/// LeastAllocated: the mean over CPU and memory of `(allocatable - requested) * 100 / allocatable`,
/// counting the pod, with 100m CPU / 200 MB assumed for containers that request nothing.
///
/// ```
/// use skiff_controllers::scheduler::{least_allocated, NodeInfo, NodeUsage, PodDemand, Resources};
/// let node = NodeInfo { allocatable: Resources { milli_cpu: 4000, memory: 8 << 30, pods: 110 }, ..Default::default() };
/// let pod = PodDemand { non_zero: Resources { milli_cpu: 1000, memory: 2 << 30, pods: 1 }, ..Default::default() };
/// assert_eq!(least_allocated(&pod, &node, &NodeUsage::default()), 75);
/// ```
pub fn least_allocated(demand: &PodDemand, node: &NodeInfo, usage: &NodeUsage) -> i64 {
    let cpu = least(
        usage.non_zero.milli_cpu + demand.non_zero.milli_cpu,
        node.allocatable.milli_cpu,
    );
    let mem = least(
        usage.non_zero.memory + demand.non_zero.memory,
        node.allocatable.memory,
    );
    (cpu + mem) / 2
}

fn fraction(requested: i64, allocatable: i64) -> f64 {
    if allocatable <= 0 {
        return 1.0;
    }
    (requested as f64 / allocatable as f64).min(1.0)
}

/// BalancedAllocation: `(1 - std) * 100` where `std` is the standard deviation of the CPU and memory
/// fractions requested (with the pod); for two resources `std = |cpu - memory| / 2`.
///
/// ```
/// use skiff_controllers::scheduler::{balanced_allocation, NodeInfo, NodeUsage, PodDemand, Resources};
/// let node = NodeInfo { allocatable: Resources { milli_cpu: 4000, memory: 4000, pods: 110 }, ..Default::default() };
/// let even = PodDemand { requests: Resources { milli_cpu: 1000, memory: 1000, pods: 1 }, ..Default::default() };
/// let skewed = PodDemand { requests: Resources { milli_cpu: 2000, memory: 0, pods: 1 }, ..Default::default() };
/// assert_eq!(balanced_allocation(&even, &node, &NodeUsage::default()), 100);
/// assert_eq!(balanced_allocation(&skewed, &node, &NodeUsage::default()), 75);
/// ```
pub fn balanced_allocation(demand: &PodDemand, node: &NodeInfo, usage: &NodeUsage) -> i64 {
    let cpu = fraction(
        usage.requested.milli_cpu + demand.requests.milli_cpu,
        node.allocatable.milli_cpu,
    );
    let mem = fraction(
        usage.requested.memory + demand.requests.memory,
        node.allocatable.memory,
    );
    let std = (cpu - mem).abs() / 2.0;
    ((1.0 - std) * MAX_NODE_SCORE as f64) as i64
}

/// The weighted total of a feasible node.
pub fn score(demand: &PodDemand, node: &NodeInfo, usage: &NodeUsage) -> i64 {
    LEAST_ALLOCATED_WEIGHT * least_allocated(demand, node, usage)
        + BALANCED_ALLOCATION_WEIGHT * balanced_allocation(demand, node, usage)
}
