//! Unit tests of the filters, scores, message wording and placement, one rule at a time.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;

use skiff_core::kinds::{
    Container, ContainerPort, Node, NodeCondition, NodeStatus, Pod, Taint, Toleration,
};
use skiff_core::Quantity;

use super::filter::{self, Reason};
use super::*;

fn q(s: &str) -> Quantity {
    Quantity::parse(s).unwrap()
}

fn node(name: &str, cpu: &str, mem: &str, pods: &str) -> Node {
    let mut n = Node::named(name);
    let alloc: BTreeMap<String, Quantity> = [("cpu", cpu), ("memory", mem), ("pods", pods)]
        .into_iter()
        .map(|(k, v)| (k.to_string(), q(v)))
        .collect();
    n.status = Some(NodeStatus {
        capacity: alloc.clone(),
        allocatable: alloc,
        conditions: vec![NodeCondition {
            type_: "Ready".into(),
            status: "True".into(),
            ..Default::default()
        }],
        ..Default::default()
    });
    n
}

fn pod(cpu: Option<&str>, mem: Option<&str>) -> Pod {
    let mut p = Pod::named("p");
    p.metadata.namespace = Some("default".into());
    let mut c = Container::new("c", "busybox");
    if let Some(cpu) = cpu {
        c.resources.requests.insert("cpu".into(), q(cpu));
    }
    if let Some(mem) = mem {
        c.resources.requests.insert("memory".into(), q(mem));
    }
    p.spec.containers.push(c);
    p
}

fn check(p: &Pod, n: &Node, usage: &NodeUsage) -> Result<(), Vec<Reason>> {
    fits(p, &PodDemand::of(p), &NodeInfo::of(n), usage)
}

#[test]
fn demand_sums_containers_and_takes_the_largest_init_container() {
    let mut p = pod(Some("250m"), Some("64Mi"));
    let mut c2 = Container::new("d", "busybox");
    c2.resources.requests.insert("cpu".into(), q("250m"));
    p.spec.containers.push(c2);
    let mut init = Container::new("i", "busybox");
    init.resources.requests.insert("memory".into(), q("1Gi"));
    p.spec.init_containers.push(init);
    let d = PodDemand::of(&p);
    assert_eq!(d.requests.milli_cpu, 500);
    assert_eq!(d.requests.memory, 1 << 30);
    assert_eq!(d.requests.pods, 1);
    // Scores assume 200 MB for the container asking no memory.
    assert_eq!(d.non_zero.memory, 1 << 30);
    assert_eq!(PodDemand::of(&pod(None, None)).non_zero.milli_cpu, 100);
}

#[test]
fn node_selector_must_match_every_label() {
    let mut n = node("n", "4", "8Gi", "110");
    n.metadata.labels.insert("disk".into(), "ssd".into());
    let mut p = pod(None, None);
    p.spec.node_selector.insert("disk".into(), "ssd".into());
    assert!(check(&p, &n, &NodeUsage::default()).is_ok());
    p.spec.node_selector.insert("zone".into(), "a".into());
    assert_eq!(
        check(&p, &n, &NodeUsage::default()),
        Err(vec![Reason::NodeSelectorMismatch])
    );
}

#[test]
fn insufficient_cpu_memory_and_pods() {
    let n = node("n", "1", "1Gi", "2");
    let mut usage = NodeUsage::default();
    usage.add(&PodDemand::of(&pod(Some("800m"), Some("900Mi"))));
    assert!(check(&pod(Some("200m"), Some("100Mi")), &n, &usage).is_ok());
    assert_eq!(
        check(&pod(Some("300m"), Some("100Mi")), &n, &usage),
        Err(vec![Reason::Insufficient("cpu".into())])
    );
    assert_eq!(
        check(&pod(Some("300m"), Some("200Mi")), &n, &usage),
        Err(vec![
            Reason::Insufficient("cpu".into()),
            Reason::Insufficient("memory".into())
        ])
    );
    usage.add(&PodDemand::of(&pod(None, None)));
    assert_eq!(
        check(&pod(None, None), &n, &usage),
        Err(vec![Reason::TooManyPods])
    );
    // Removing a pod frees its share.
    usage.remove(&PodDemand::of(&pod(None, None)));
    assert!(check(&pod(Some("200m"), None), &n, &usage).is_ok());
}

#[test]
fn host_port_conflicts() {
    let mut web = pod(None, None);
    web.spec.containers[0].ports.push(ContainerPort {
        container_port: 80,
        host_port: Some(8080),
        ..Default::default()
    });
    let n = node("n", "4", "8Gi", "110");
    let mut usage = NodeUsage::default();
    assert!(check(&web, &n, &usage).is_ok());
    usage.add(&PodDemand::of(&web));
    assert_eq!(check(&web, &n, &usage), Err(vec![Reason::PortsInUse]));
    let mut udp = web.clone();
    udp.spec.containers[0].ports[0].protocol = Some("UDP".into());
    assert!(check(&udp, &n, &usage).is_ok());
}

#[test]
fn untolerated_taints_repel_and_tolerations_admit() {
    let mut n = node("n", "4", "8Gi", "110");
    n.spec.taints.push(Taint {
        key: "dedicated".into(),
        value: Some("gpu".into()),
        effect: "NoSchedule".into(),
        time_added: None,
    });
    let mut p = pod(None, None);
    let err = check(&p, &n, &NodeUsage::default()).unwrap_err();
    assert_eq!(
        err,
        vec![Reason::UntoleratedTaint("dedicated".into(), "gpu".into())]
    );
    assert_eq!(
        err[0].to_string(),
        "node(s) had untolerated taint {dedicated: gpu}"
    );
    p.spec.tolerations.push(Toleration {
        key: Some("dedicated".into()),
        operator: Some("Equal".into()),
        value: Some("gpu".into()),
        effect: Some("NoSchedule".into()),
        toleration_seconds: None,
    });
    assert!(check(&p, &n, &NodeUsage::default()).is_ok());
    // PreferNoSchedule is not a filter.
    n.spec.taints[0].effect = "PreferNoSchedule".into();
    assert!(check(&pod(None, None), &n, &NodeUsage::default()).is_ok());
}

#[test]
fn cordoned_nodes_take_only_pods_tolerating_it() {
    let mut n = node("n", "4", "8Gi", "110");
    n.spec.unschedulable = Some(true);
    let mut p = pod(None, None);
    assert_eq!(
        filter::node_unschedulable(&p, &NodeInfo::of(&n)),
        Err(Reason::Unschedulable)
    );
    p.spec.tolerations.push(Toleration {
        key: Some(TAINT_UNSCHEDULABLE.into()),
        operator: Some("Exists".into()),
        ..Default::default()
    });
    assert!(check(&p, &n, &NodeUsage::default()).is_ok());
}

#[test]
fn nodes_that_are_not_ready_carry_the_not_ready_taint() {
    let mut n = node("n", "4", "8Gi", "110");
    if let Some(st) = n.status.as_mut() {
        st.conditions[0].status = "False".into();
    }
    assert_eq!(
        check(&pod(None, None), &n, &NodeUsage::default()),
        Err(vec![Reason::UntoleratedTaint(
            TAINT_NOT_READY.into(),
            String::new()
        )])
    );
    if let Some(st) = n.status.as_mut() {
        st.conditions[0].status = "Unknown".into();
    }
    assert_eq!(
        check(&pod(None, None), &n, &NodeUsage::default()),
        Err(vec![Reason::UntoleratedTaint(
            TAINT_UNREACHABLE.into(),
            String::new()
        )])
    );
    if let Some(st) = n.status.as_mut() {
        st.conditions.clear();
    }
    assert!(check(&pod(None, None), &n, &NodeUsage::default()).is_err());
}

#[test]
fn least_allocated_prefers_emptier_nodes() {
    let empty = NodeInfo::of(&node("a", "4", "8Gi", "110"));
    let p = PodDemand::of(&pod(Some("1"), Some("2Gi")));
    let mut busy = NodeUsage::default();
    busy.add(&PodDemand::of(&pod(Some("2"), Some("4Gi"))));
    assert_eq!(least_allocated(&p, &empty, &NodeUsage::default()), 75);
    assert_eq!(least_allocated(&p, &empty, &busy), 25);
}

#[test]
fn balanced_allocation_prefers_even_use() {
    let n = NodeInfo::of(&node("a", "4", "4Gi", "110"));
    let even = PodDemand::of(&pod(Some("1"), Some("1Gi")));
    let cpu_heavy = PodDemand::of(&pod(Some("2"), None));
    assert_eq!(balanced_allocation(&even, &n, &NodeUsage::default()), 100);
    assert_eq!(
        balanced_allocation(&cpu_heavy, &n, &NodeUsage::default()),
        75
    );
    assert_eq!(
        score::score(&even, &n, &NodeUsage::default()),
        LEAST_ALLOCATED_WEIGHT * 75 + BALANCED_ALLOCATION_WEIGHT * 100
    );
}

#[test]
fn the_message_is_worded_as_kubernetes_words_it() {
    let mut e = FitError {
        num_nodes: 3,
        ..Default::default()
    };
    e.add(vec![Reason::Insufficient("cpu".into())]);
    e.add(vec![Reason::NodeSelectorMismatch]);
    e.add(vec![Reason::NodeSelectorMismatch]);
    assert_eq!(
        e.to_string(),
        "0/3 nodes are available: 1 Insufficient cpu, 2 node(s) didn't match Pod's node affinity/selector."
    );
    assert_eq!(
        FitError::default().to_string(),
        "no nodes available to schedule pods"
    );
}

#[test]
fn the_view_places_pods_on_the_best_node_and_counts_them() {
    let mut view = ClusterView::new();
    view.upsert_node(NodeInfo::of(&node("small", "1", "1Gi", "110")));
    view.upsert_node(NodeInfo::of(&node("big", "8", "16Gi", "110")));
    let p = pod(Some("500m"), Some("256Mi"));
    let d = PodDemand::of(&p);
    assert_eq!(view.schedule("default/a", &p, &d).unwrap(), "big");
    assert!(view.is_assumed("default/a"));
    assert_eq!(view.usage("big").unwrap().requested.milli_cpu, 500);
    // The binding is observed: no longer assumed, counted once.
    assert!(view.add_pod("default/a", "big", d.clone()));
    assert_eq!(view.usage("big").unwrap().requested.milli_cpu, 500);
    // Too big for both.
    let huge = pod(Some("9"), None);
    let err = view
        .schedule("default/h", &huge, &PodDemand::of(&huge))
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "0/2 nodes are available: 2 Insufficient cpu."
    );
    assert!(view.remove_pod("default/a"));
    assert_eq!(view.usage("big").unwrap().requested.milli_cpu, 0);

    // A binding that fails drops the assumption; one observed elsewhere meanwhile stays counted.
    let b = pod(Some("1"), None);
    let db = PodDemand::of(&b);
    assert_eq!(view.schedule("default/b", &b, &db).unwrap(), "big");
    assert!(view.forget_assumed("default/b"));
    assert_eq!(view.usage("big").unwrap().requested.milli_cpu, 0);
    view.schedule("default/b", &b, &db).unwrap();
    view.add_pod("default/b", "small", db.clone());
    assert!(!view.forget_assumed("default/b"));
    assert_eq!(view.usage("small").unwrap().requested.milli_cpu, 1000);
    assert_eq!(view.usage("big").unwrap().requested.milli_cpu, 0);

    // Pods bound to a node the view does not know yet count once it appears; a removed node's pods stay.
    view.add_pod("default/c", "later", db.clone());
    view.upsert_node(NodeInfo::of(&node("later", "2", "1Gi", "110")));
    assert_eq!(view.usage("later").unwrap().requested.milli_cpu, 1000);
    view.remove_node("small");
    assert_eq!(view.num_nodes(), 2);
    assert_eq!(view.usage("small").unwrap().requested.milli_cpu, 1000);
    assert_eq!(view.usage("later").unwrap().requested.milli_cpu, 1000);
}

#[test]
fn large_clusters_score_a_share_of_the_nodes() {
    assert_eq!(num_feasible_nodes_to_find(10), 10);
    assert_eq!(num_feasible_nodes_to_find(100), 100);
    assert_eq!(num_feasible_nodes_to_find(1_000), 420);
    assert_eq!(num_feasible_nodes_to_find(5_000), 500);
    assert_eq!(num_feasible_nodes_to_find(100_000), 5_000);
}
