//! The status a ReplicaSet's sync writes.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use skiff_core::kinds::{Pod, ReplicaSet, ReplicaSetCondition, ReplicaSetStatus};
use skiff_core::meta::Time;

use super::ranking::ready_since;
use super::ReplicaSetError;

/// The condition type set while pods cannot be created or deleted.
pub const REPLICA_FAILURE: &str = "ReplicaFailure";

/// True when `pod` has been ready for at least `min_ready_seconds` at `now` (a ready pod with no
/// transition time counts only when `min_ready_seconds` is 0, as in Kubernetes).
pub fn is_available(pod: &Pod, min_ready_seconds: i32, now: DateTime<Utc>) -> bool {
    match ready_since(pod) {
        None => false,
        Some(_) if min_ready_seconds <= 0 => true,
        Some(None) => false,
        Some(Some(t)) => t.0 + chrono::Duration::seconds(i64::from(min_ready_seconds)) <= now,
    }
}

/// The status of `rs` given the active pods it owns and the outcome of this sync's create/delete step.
pub fn calculate(
    rs: &ReplicaSet,
    owned: &[Arc<Pod>],
    manage_error: Option<&ReplicaSetError>,
    now: DateTime<Utc>,
) -> ReplicaSetStatus {
    let template_labels = &rs.spec.template.metadata.labels;
    let min_ready = rs.spec.min_ready_seconds.unwrap_or(0);
    let count = |f: &dyn Fn(&Pod) -> bool| -> i32 {
        i32::try_from(owned.iter().filter(|p| f(p)).count()).unwrap_or(i32::MAX)
    };
    let fully_labeled = count(&|p: &Pod| {
        template_labels
            .iter()
            .all(|(k, v)| p.metadata.labels.get(k) == Some(v))
    });
    let ready = count(&|p: &Pod| ready_since(p).is_some());
    let available = count(&|p: &Pod| is_available(p, min_ready, now));
    let old = rs.status.clone().unwrap_or_default();
    let mut conditions: Vec<ReplicaSetCondition> = old
        .conditions
        .iter()
        .filter(|c| c.type_ != REPLICA_FAILURE)
        .cloned()
        .collect();
    let failure = manage_error.and_then(|e| match e {
        ReplicaSetError::Create { source, .. } => Some(("FailedCreate", source.to_string())),
        ReplicaSetError::Delete { source, .. } => Some(("FailedDelete", source.to_string())),
        _ => None,
    });
    let previous = old.conditions.iter().find(|c| c.type_ == REPLICA_FAILURE);
    match (failure, previous) {
        (Some((reason, message)), previous) => {
            let same =
                previous.filter(|p| p.status == "True" && p.reason.as_deref() == Some(reason));
            conditions.push(ReplicaSetCondition {
                type_: REPLICA_FAILURE.into(),
                status: "True".into(),
                last_transition_time: same
                    .and_then(|p| p.last_transition_time)
                    .or(Some(Time(now))),
                reason: Some(reason.into()),
                message: Some(message),
            });
        }
        // A sync whose create/delete step ran cleanly clears the condition; others keep it.
        (None, Some(previous)) if manage_error.is_some() => conditions.push(previous.clone()),
        (None, _) => {}
    }
    ReplicaSetStatus {
        replicas: i32::try_from(owned.len()).unwrap_or(i32::MAX),
        fully_labeled_replicas: Some(fully_labeled),
        ready_replicas: Some(ready),
        available_replicas: Some(available),
        observed_generation: rs.metadata.generation,
        conditions,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use skiff_core::kinds::{PodCondition, PodStatus};

    fn pod(labels: &[(&str, &str)], ready_since: Option<DateTime<Utc>>) -> Arc<Pod> {
        let mut p = Pod::named("p");
        for (k, v) in labels {
            p.metadata.labels.insert((*k).into(), (*v).into());
        }
        if let Some(t) = ready_since {
            p.status = Some(PodStatus {
                phase: Some("Running".into()),
                conditions: vec![PodCondition {
                    type_: "Ready".into(),
                    status: "True".into(),
                    last_transition_time: Some(Time(t)),
                    ..Default::default()
                }],
                ..Default::default()
            });
        }
        Arc::new(p)
    }

    #[test]
    fn counts_labeled_ready_and_available_pods() {
        let now = Utc::now();
        let mut rs = ReplicaSet::named("web");
        rs.metadata.generation = Some(3);
        rs.spec.min_ready_seconds = Some(10);
        rs.spec
            .template
            .metadata
            .labels
            .insert("app".into(), "web".into());
        rs.spec
            .template
            .metadata
            .labels
            .insert("tier".into(), "front".into());
        let pods = vec![
            pod(
                &[("app", "web"), ("tier", "front")],
                Some(now - chrono::Duration::seconds(60)),
            ),
            pod(&[("app", "web")], Some(now - chrono::Duration::seconds(5))),
            pod(&[("app", "web"), ("tier", "front")], None),
        ];
        let s = calculate(&rs, &pods, None, now);
        assert_eq!(s.replicas, 3);
        assert_eq!(s.fully_labeled_replicas, Some(2));
        assert_eq!(s.ready_replicas, Some(2));
        assert_eq!(s.available_replicas, Some(1));
        assert_eq!(s.observed_generation, Some(3));
        assert!(s.conditions.is_empty());
    }
}
