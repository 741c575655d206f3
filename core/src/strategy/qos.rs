//! A pod's quality-of-service class, computed as Kubernetes' `ComputePodQOS` computes it.

use std::collections::BTreeMap;

use crate::kinds::Pod;
use crate::Quantity;

/// The resources QoS looks at; others (ephemeral-storage, hugepages, extended resources) do not count.
const QOS_RESOURCES: [&str; 2] = ["cpu", "memory"];

/// `Guaranteed`, `Burstable` or `BestEffort`, as kube-apiserver writes into `status.qosClass` on create.
///
/// Over every app and init container, only `cpu` and `memory`, only quantities above zero:
/// no request and no limit anywhere is **BestEffort**; every container limiting both cpu and memory,
/// with the summed requests equal to the summed limits for each, is **Guaranteed**; anything else is
/// **Burstable**. Run it on a defaulted pod (defaulting copies limits into unset requests).
///
/// ```
/// use skiff_core::kinds::{Container, Pod};
/// use skiff_core::strategy::qos_class;
/// use skiff_core::Quantity;
///
/// let mut pod = Pod::named("web");
/// pod.spec.containers.push(Container::new("web", "nginx"));
/// assert_eq!(qos_class(&pod), "BestEffort");
/// let r = &mut pod.spec.containers[0].resources;
/// r.requests.insert("cpu".into(), Quantity::parse("250m").unwrap());
/// assert_eq!(qos_class(&pod), "Burstable");
/// let r = &mut pod.spec.containers[0].resources;
/// for (k, v) in [("cpu", "250m"), ("memory", "64Mi")] {
///     r.limits.insert(k.into(), Quantity::parse(v).unwrap());
///     r.requests.insert(k.into(), Quantity::parse(v).unwrap());
/// }
/// assert_eq!(qos_class(&pod), "Guaranteed");
/// ```
pub fn qos_class(pod: &Pod) -> &'static str {
    let mut requests: BTreeMap<&str, Quantity> = BTreeMap::new();
    let mut limits: BTreeMap<&str, Quantity> = BTreeMap::new();
    let mut guaranteed = true;
    let positive = |(name, q): (&String, &Quantity)| {
        let name = QOS_RESOURCES.iter().find(|r| **r == name.as_str())?;
        (!q.is_zero() && !q.is_negative()).then_some((*name, *q))
    };
    for c in pod.spec.containers.iter().chain(&pod.spec.init_containers) {
        for (name, q) in c.resources.requests.iter().filter_map(positive) {
            *requests.entry(name).or_insert(Quantity::from_millis(0)) += q;
        }
        let mut found = 0;
        for (name, q) in c.resources.limits.iter().filter_map(positive) {
            found += 1;
            *limits.entry(name).or_insert(Quantity::from_millis(0)) += q;
        }
        if found < QOS_RESOURCES.len() {
            guaranteed = false;
        }
    }
    if requests.is_empty() && limits.is_empty() {
        return "BestEffort";
    }
    let equal = requests
        .iter()
        .all(|(name, req)| limits.get(name).is_some_and(|lim| lim == req));
    if guaranteed && equal && requests.len() == limits.len() {
        "Guaranteed"
    } else {
        "Burstable"
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kinds::Container;

    fn container(requests: &[(&str, &str)], limits: &[(&str, &str)]) -> Container {
        let mut c = Container::new("c", "busybox");
        for (k, v) in requests {
            c.resources
                .requests
                .insert(k.to_string(), Quantity::parse(v).unwrap());
        }
        for (k, v) in limits {
            c.resources
                .limits
                .insert(k.to_string(), Quantity::parse(v).unwrap());
        }
        c
    }

    fn pod(containers: Vec<Container>, init: Vec<Container>) -> Pod {
        let mut p = Pod::named("p");
        p.spec.containers = containers;
        p.spec.init_containers = init;
        p
    }

    #[test]
    fn classes() {
        let full = [("cpu", "500m"), ("memory", "128Mi")];
        assert_eq!(
            qos_class(&pod(vec![container(&full, &full)], vec![])),
            "Guaranteed"
        );
        // Zero quantities and resources other than cpu and memory do not count.
        let zero = container(&[("cpu", "0"), ("ephemeral-storage", "1Gi")], &[]);
        assert_eq!(qos_class(&pod(vec![zero], vec![])), "BestEffort");
        // Limits on cpu only: not Guaranteed.
        let cpu = [("cpu", "1")];
        assert_eq!(
            qos_class(&pod(vec![container(&cpu, &cpu)], vec![])),
            "Burstable"
        );
        // An init container without limits makes the pod Burstable.
        let init = container(&[("cpu", "100m")], &[]);
        assert_eq!(
            qos_class(&pod(vec![container(&full, &full)], vec![init])),
            "Burstable"
        );
        // Requests below limits: Burstable.
        let low = container(&[("cpu", "100m"), ("memory", "128Mi")], &full);
        assert_eq!(qos_class(&pod(vec![low], vec![])), "Burstable");
        // Two containers each Guaranteed: the sums match.
        let two = vec![container(&full, &full), container(&full, &full)];
        assert_eq!(qos_class(&pod(two, vec![])), "Guaranteed");
    }
}
