//! Which pods a ReplicaSet deletes first when it scales down.
//!
//! [`compare_for_deletion`] is Kubernetes' `ActivePodsWithRanks.Less`; the first rule that tells two
//! pods apart decides:
//!
//! 1. unscheduled before scheduled;
//! 2. `Pending` before `Unknown` before `Running`;
//! 3. not ready before ready;
//! 4. lower `controller.kubernetes.io/pod-deletion-cost` first (missing or invalid = 0);
//! 5. more pods of the set on the same node first (spreads what remains);
//! 6. both ready: ready for a shorter time first;
//! 7. more container restarts first;
//! 8. newer first.
//!
//! Kubernetes' `LogarithmicScaleDown` bucketing of timestamps is not done: times compare exactly.

use std::cmp::Ordering;
use std::collections::HashMap;
use std::sync::Arc;

use skiff_core::kinds::Pod;
use skiff_core::meta::Time;

/// The annotation that lets users say which pods are cheaper to delete.
pub const POD_DELETION_COST: &str = "controller.kubernetes.io/pod-deletion-cost";

/// A pod with how many pods of its set share its node (rule 5).
#[derive(Clone, Debug)]
pub struct RankedPod {
    /// The pod.
    pub pod: Arc<Pod>,
    /// Pods of the same set on this pod's node, itself included (0 when unscheduled).
    pub colocated: usize,
}

/// True when the pod's `Ready` condition is `True`.
pub fn is_ready(pod: &Pod) -> bool {
    ready_since(pod).is_some()
}

/// When the pod became ready (its `Ready` condition's `lastTransitionTime`), if it is ready.
/// A ready pod with no transition time yields `Some(None)`.
pub(crate) fn ready_since(pod: &Pod) -> Option<Option<&Time>> {
    pod.status
        .as_ref()?
        .conditions
        .iter()
        .find(|c| c.type_ == "Ready" && c.status == "True")
        .map(|c| c.last_transition_time.as_ref())
}

fn node(pod: &Pod) -> Option<&str> {
    pod.spec.node_name.as_deref().filter(|n| !n.is_empty())
}

fn phase_ordinal(pod: &Pod) -> u8 {
    match pod.phase() {
        "Pending" => 0,
        "Unknown" => 1,
        "Running" => 2,
        _ => 3,
    }
}

fn deletion_cost(pod: &Pod) -> i64 {
    pod.metadata
        .annotations
        .get(POD_DELETION_COST)
        .and_then(|v| v.trim().parse::<i32>().ok())
        .map(i64::from)
        .unwrap_or(0)
}

fn restarts(pod: &Pod) -> i32 {
    pod.status
        .as_ref()
        .map(|s| {
            s.container_statuses
                .iter()
                .map(|c| c.restart_count)
                .max()
                .unwrap_or(0)
        })
        .unwrap_or(0)
}

/// Orders two times so that the later one (or a missing one, which counts as newest) comes first.
fn later_first(a: Option<&Time>, b: Option<&Time>) -> Ordering {
    match (a, b) {
        (None, None) => Ordering::Equal,
        (None, Some(_)) => Ordering::Less,
        (Some(_), None) => Ordering::Greater,
        (Some(a), Some(b)) => b.0.cmp(&a.0),
    }
}

/// `Less` when `a` should be deleted before `b`. See the [module docs](self) for the rules.
pub fn compare_for_deletion(a: &RankedPod, b: &RankedPod) -> Ordering {
    let (pa, pb) = (&*a.pod, &*b.pod);
    // 1. Unscheduled first.
    node(pa)
        .is_some()
        .cmp(&node(pb).is_some())
        // 2. Pending < Unknown < Running.
        .then_with(|| phase_ordinal(pa).cmp(&phase_ordinal(pb)))
        // 3. Not ready first.
        .then_with(|| is_ready(pa).cmp(&is_ready(pb)))
        // 4. Lower deletion cost first.
        .then_with(|| deletion_cost(pa).cmp(&deletion_cost(pb)))
        // 5. More colocated pods first.
        .then_with(|| b.colocated.cmp(&a.colocated))
        // 6. Ready for a shorter time first.
        .then_with(|| match (ready_since(pa), ready_since(pb)) {
            (Some(ta), Some(tb)) => later_first(ta, tb),
            _ => Ordering::Equal,
        })
        // 7. More restarts first.
        .then_with(|| restarts(pb).cmp(&restarts(pa)))
        // 8. Newer first.
        .then_with(|| {
            later_first(
                pa.metadata.creation_timestamp.as_ref(),
                pb.metadata.creation_timestamp.as_ref(),
            )
        })
}

/// Ranks `pods` (all active pods of one set) and returns them in deletion order, first to delete first.
pub fn deletion_order(pods: &[Arc<Pod>]) -> Vec<Arc<Pod>> {
    let mut per_node: HashMap<&str, usize> = HashMap::new();
    for p in pods {
        if let Some(n) = node(p) {
            *per_node.entry(n).or_default() += 1;
        }
    }
    let mut ranked: Vec<RankedPod> = pods
        .iter()
        .map(|p| RankedPod {
            pod: p.clone(),
            colocated: node(p).and_then(|n| per_node.get(n).copied()).unwrap_or(0),
        })
        .collect();
    ranked.sort_by(compare_for_deletion);
    ranked.into_iter().map(|r| r.pod).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{Duration, TimeZone, Utc};
    use skiff_core::kinds::{ContainerStatus, PodCondition, PodStatus};

    fn at(secs: i64) -> Time {
        Time(
            Utc.timestamp_opt(1_700_000_000 + secs, 0)
                .single()
                .expect("valid time"),
        )
    }

    /// A scheduled, running, ready pod created at t=0, ready since t=10, no restarts, on node n1.
    fn base() -> Pod {
        let mut p = Pod::named("p");
        p.metadata.creation_timestamp = Some(at(0));
        p.spec.node_name = Some("n1".into());
        p.status = Some(PodStatus {
            phase: Some("Running".into()),
            conditions: vec![PodCondition {
                type_: "Ready".into(),
                status: "True".into(),
                last_transition_time: Some(at(10)),
                ..Default::default()
            }],
            ..Default::default()
        });
        p
    }

    fn ranked(p: Pod, colocated: usize) -> RankedPod {
        RankedPod {
            pod: Arc::new(p),
            colocated,
        }
    }

    fn first(a: Pod, b: Pod) {
        assert_eq!(
            compare_for_deletion(&ranked(a.clone(), 1), &ranked(b.clone(), 1)),
            Ordering::Less
        );
        assert_eq!(
            compare_for_deletion(&ranked(b, 1), &ranked(a, 1)),
            Ordering::Greater
        );
    }

    fn set_phase(p: &mut Pod, phase: &str) {
        if let Some(s) = p.status.as_mut() {
            s.phase = Some(phase.into());
        }
    }

    #[test]
    fn identical_pods_are_equal() {
        assert_eq!(
            compare_for_deletion(&ranked(base(), 1), &ranked(base(), 1)),
            Ordering::Equal
        );
    }

    #[test]
    fn unscheduled_before_scheduled() {
        let mut a = base();
        a.spec.node_name = None;
        first(a, base());
    }

    #[test]
    fn pending_before_unknown_before_running() {
        let (mut pending, mut unknown) = (base(), base());
        set_phase(&mut pending, "Pending");
        set_phase(&mut unknown, "Unknown");
        first(pending.clone(), unknown.clone());
        first(unknown, base());
        first(pending, base());
    }

    #[test]
    fn not_ready_before_ready() {
        let mut a = base();
        if let Some(s) = a.status.as_mut() {
            s.conditions[0].status = "False".into();
        }
        first(a, base());
    }

    #[test]
    fn lower_deletion_cost_first() {
        let (mut cheap, mut dear) = (base(), base());
        cheap
            .metadata
            .annotations
            .insert(POD_DELETION_COST.into(), "-5".into());
        dear.metadata
            .annotations
            .insert(POD_DELETION_COST.into(), "100".into());
        first(cheap.clone(), base());
        first(base(), dear.clone());
        // An invalid cost counts as 0.
        let mut bad = base();
        bad.metadata
            .annotations
            .insert(POD_DELETION_COST.into(), "lots".into());
        first(bad, dear);
    }

    #[test]
    fn more_colocated_first() {
        let a = ranked(base(), 3);
        let b = ranked(base(), 1);
        assert_eq!(compare_for_deletion(&a, &b), Ordering::Less);
        assert_eq!(compare_for_deletion(&b, &a), Ordering::Greater);
    }

    #[test]
    fn ready_for_shorter_time_first() {
        let mut recent = base();
        if let Some(s) = recent.status.as_mut() {
            s.conditions[0].last_transition_time = Some(at(500));
        }
        first(recent, base());
    }

    #[test]
    fn more_restarts_first() {
        let mut crashy = base();
        if let Some(s) = crashy.status.as_mut() {
            s.container_statuses = vec![ContainerStatus {
                name: "c".into(),
                restart_count: 4,
                ..Default::default()
            }];
        }
        first(crashy, base());
    }

    #[test]
    fn newer_first() {
        let mut newer = base();
        newer.metadata.creation_timestamp = Some(Time(at(0).0 + Duration::seconds(5)));
        first(newer, base());
    }

    #[test]
    fn earlier_rules_win() {
        // An unscheduled pod with a high cost still goes before a scheduled one.
        let mut a = base();
        a.spec.node_name = None;
        a.metadata
            .annotations
            .insert(POD_DELETION_COST.into(), "1000".into());
        first(a, base());
    }

    #[test]
    fn deletion_order_counts_pods_per_node() {
        let mut lone = base();
        lone.metadata.name = Some("lone".into());
        lone.spec.node_name = Some("n2".into());
        let mut a = base();
        a.metadata.name = Some("a".into());
        let mut b = base();
        b.metadata.name = Some("b".into());
        let order = deletion_order(&[Arc::new(lone), Arc::new(a), Arc::new(b)]);
        assert_eq!(
            order.last().map(|p| p.metadata.name.clone()),
            Some(Some("lone".into()))
        );
    }
}
