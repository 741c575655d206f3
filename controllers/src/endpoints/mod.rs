//! The controllers that turn a Service's selector into addresses: the EndpointSlice controller
//! ([`slices`], discovery.k8s.io/v1, what the proxy and DNS read) and the Endpoints controller
//! ([`legacy`], core/v1 Endpoints, what older clients read); and the mirroring controller
//! ([`mirroring`]), which copies the hand-written Endpoints of a Service without a selector into
//! EndpointSlices.
//!
//! Both reconcile a Service from the same two caches (Services, Pods) and share this module's rules,
//! which are Kubernetes':
//!
//! ```text
//! pod in the Service's namespace, selected by its (non-empty) selector, with a podIP, not Succeeded/Failed
//!   └─ serving     = the pod's Ready condition is True (or the Service publishes not-ready addresses)
//!      terminating = the pod is being deleted
//!      ready       = serving and not terminating (or publishNotReadyAddresses)
//!      ports       = each Service port's targetPort, a number or a container port name looked up in
//!                    this pod (a name the pod lacks leaves that port out for this pod)
//!      hostname    = spec.hostname when spec.subdomain names the Service
//! ```
//!
//! A change of a pod wakes every Service whose selector selects it before or after the change.
//! Services without a selector are left alone by the first two: their Endpoints are written by hand
//! (and mirrored), the `kubernetes` Service's by the API server.

pub mod legacy;
pub mod mirroring;
pub mod slices;

use std::collections::BTreeMap;

use skiff_core::controller::ObjectRef;
use skiff_core::informer::{Cache, NAMESPACE_INDEX};
use skiff_core::kinds::{EndpointSlicePort, ObjectReference, Pod, Service};
use skiff_core::{IntOrString, Resource};

use crate::replicaset::ranking::is_ready;

/// One pod as an endpoint of one Service.
#[derive(Clone, Debug, PartialEq)]
pub struct PodEndpoint {
    /// The pod's IP.
    pub ip: String,
    /// Ready for traffic.
    pub ready: bool,
    /// Passing readiness, terminating or not.
    pub serving: bool,
    /// Being deleted.
    pub terminating: bool,
    /// The node it runs on.
    pub node_name: Option<String>,
    /// Its DNS hostname under the Service (see the module docs).
    pub hostname: Option<String>,
    /// The pod.
    pub target_ref: ObjectReference,
    /// The Service's ports resolved for this pod, in the Service's order.
    pub ports: Vec<EndpointSlicePort>,
}

/// Whether `svc`'s selector (non-empty) selects `pod` (same namespace).
pub fn selects(svc: &Service, pod: &Pod) -> bool {
    !svc.spec.selector.is_empty()
        && svc.namespace() == pod.namespace()
        && svc
            .spec
            .selector
            .iter()
            .all(|(k, v)| pod.metadata.labels.get(k) == Some(v))
}

/// The container port of `pod` named `name` with `protocol`.
fn named_port(pod: &Pod, name: &str, protocol: &str) -> Option<i32> {
    pod.spec
        .containers
        .iter()
        .flat_map(|c| c.ports.iter())
        .find(|p| {
            p.name.as_deref() == Some(name) && p.protocol.as_deref().unwrap_or("TCP") == protocol
        })
        .map(|p| p.container_port)
}

/// `svc`'s ports resolved for `pod` (see the module docs).
pub fn resolve_ports(svc: &Service, pod: &Pod) -> Vec<EndpointSlicePort> {
    svc.spec
        .ports
        .iter()
        .filter_map(|p| {
            let protocol = p.protocol.clone().unwrap_or_else(|| "TCP".into());
            let port = match &p.target_port {
                None => Some(p.port),
                Some(IntOrString::Int(0)) => Some(p.port),
                Some(IntOrString::Int(n)) => Some(*n),
                Some(IntOrString::String(name)) => match name.parse::<i32>() {
                    Ok(n) => Some(n),
                    Err(_) => named_port(pod, name, &protocol),
                },
            }?;
            Some(EndpointSlicePort {
                name: Some(p.name.clone().unwrap_or_default()),
                protocol: Some(protocol),
                port: Some(port),
                app_protocol: p.app_protocol.clone(),
            })
        })
        .collect()
}

/// `pod` as an endpoint of `svc`, or `None` when it is not one (no IP, finished, or a terminating
/// pod where `include_terminating` is false).
pub fn pod_endpoint(svc: &Service, pod: &Pod, include_terminating: bool) -> Option<PodEndpoint> {
    let ip = pod
        .status
        .as_ref()
        .and_then(|s| s.pod_ip.clone())
        .filter(|ip| !ip.is_empty())?;
    if matches!(pod.phase(), "Succeeded" | "Failed") {
        return None;
    }
    let terminating = pod.metadata.deletion_timestamp.is_some();
    if terminating && !include_terminating {
        return None;
    }
    let publish = svc.spec.publish_not_ready_addresses == Some(true);
    let serving = publish || is_ready(pod);
    let hostname = pod
        .spec
        .hostname
        .clone()
        .filter(|h| !h.is_empty() && pod.spec.subdomain.as_deref() == Some(svc.name()));
    Some(PodEndpoint {
        ip,
        ready: publish || (serving && !terminating),
        serving,
        terminating,
        node_name: pod.spec.node_name.clone(),
        hostname,
        target_ref: ObjectReference {
            kind: Some("Pod".into()),
            namespace: pod.metadata.namespace.clone(),
            name: pod.metadata.name.clone(),
            uid: pod.metadata.uid.clone(),
            ..ObjectReference::default()
        },
        ports: resolve_ports(svc, pod),
    })
}

/// Every endpoint of `svc` among `pods` (the pods of its namespace), by pod IP.
pub fn endpoints_of(
    svc: &Service,
    pods: &[std::sync::Arc<Pod>],
    include_terminating: bool,
) -> Vec<PodEndpoint> {
    let mut by_ip: BTreeMap<String, PodEndpoint> = BTreeMap::new();
    for pod in pods.iter().filter(|p| selects(svc, p)) {
        if let Some(e) = pod_endpoint(svc, pod, include_terminating) {
            // Two pods with one IP (one finishing, one new): the ready one wins.
            match by_ip.get(&e.ip) {
                Some(have) if have.ready && !e.ready => {}
                _ => {
                    by_ip.insert(e.ip.clone(), e);
                }
            }
        }
    }
    by_ip.into_values().collect()
}

/// The Services to reconcile when `pod` changes: those of its namespace whose selector selects it.
pub fn services_for_pod(services: &Cache<Service>, pod: &Pod) -> Vec<ObjectRef> {
    let Some(ns) = pod.namespace() else {
        return Vec::new();
    };
    services
        .by_index(NAMESPACE_INDEX, ns)
        .iter()
        .filter(|svc| selects(svc, pod))
        .map(|svc| ObjectRef::from_obj(&**svc))
        .collect()
}

/// The labels Kubernetes puts on a Service's Endpoints and EndpointSlices beside its own: the
/// Service's labels, and `service.kubernetes.io/headless` for a headless Service.
pub fn copied_labels(svc: &Service) -> BTreeMap<String, String> {
    let mut labels = svc.metadata.labels.clone();
    if svc.spec.is_headless() {
        labels.insert("service.kubernetes.io/headless".into(), String::new());
    } else {
        labels.remove("service.kubernetes.io/headless");
    }
    labels
}

#[cfg(test)]
mod tests {
    use super::*;
    use skiff_core::kinds::{Container, ContainerPort, PodCondition, PodStatus, ServicePort};
    use std::sync::Arc;

    pub(crate) fn pod(name: &str, ip: &str, ready: bool) -> Pod {
        let mut p = Pod::named(name);
        p.metadata.namespace = Some("default".into());
        p.metadata.uid = Some(format!("uid-{name}"));
        p.metadata.labels.insert("app".into(), "web".into());
        let mut c = Container::new("web", "nginx");
        c.ports.push(ContainerPort {
            name: Some("http".into()),
            container_port: 8080,
            protocol: Some("TCP".into()),
            ..ContainerPort::default()
        });
        p.spec.containers.push(c);
        p.spec.node_name = Some("n1".into());
        p.status = Some(PodStatus {
            phase: Some("Running".into()),
            pod_ip: Some(ip.into()),
            conditions: vec![PodCondition {
                type_: "Ready".into(),
                status: if ready { "True" } else { "False" }.into(),
                ..PodCondition::default()
            }],
            ..PodStatus::default()
        });
        p
    }

    pub(crate) fn service(target: IntOrString) -> Service {
        let mut s = Service::named("web");
        s.metadata.namespace = Some("default".into());
        s.metadata.uid = Some("svc-uid".into());
        s.spec.selector.insert("app".into(), "web".into());
        s.spec.ports.push(ServicePort {
            port: 80,
            protocol: Some("TCP".into()),
            target_port: Some(target),
            ..ServicePort::default()
        });
        s
    }

    #[test]
    fn readiness_and_termination_as_kubernetes_sees_them() {
        let svc = service(IntOrString::String("http".into()));
        let ready = pod("a", "10.0.0.1", true);
        let unready = pod("b", "10.0.0.2", false);
        let mut leaving = pod("c", "10.0.0.3", true);
        leaving.metadata.deletion_timestamp = Some(skiff_core::meta::Time::now());
        let e = pod_endpoint(&svc, &ready, true).unwrap();
        assert!(e.ready && e.serving && !e.terminating);
        assert_eq!(e.ports[0].port, Some(8080));
        let e = pod_endpoint(&svc, &unready, true).unwrap();
        assert!(!e.ready && !e.serving);
        let e = pod_endpoint(&svc, &leaving, true).unwrap();
        assert!(!e.ready && e.serving && e.terminating);
        assert!(pod_endpoint(&svc, &leaving, false).is_none());
        let mut publish = svc.clone();
        publish.spec.publish_not_ready_addresses = Some(true);
        assert!(pod_endpoint(&publish, &unready, true).unwrap().ready);
        let mut done = pod("d", "10.0.0.4", false);
        done.status.as_mut().unwrap().phase = Some("Succeeded".into());
        assert!(pod_endpoint(&svc, &done, true).is_none());
        let mut no_ip = ready.clone();
        no_ip.status.as_mut().unwrap().pod_ip = None;
        assert!(pod_endpoint(&svc, &no_ip, true).is_none());
    }

    #[test]
    fn named_target_ports_resolve_per_pod() {
        let svc = service(IntOrString::String("http".into()));
        let mut other = pod("b", "10.0.0.2", true);
        other.spec.containers[0].ports[0].container_port = 9090;
        let mut nameless = pod("c", "10.0.0.3", true);
        nameless.spec.containers[0].ports.clear();
        assert_eq!(resolve_ports(&svc, &other)[0].port, Some(9090));
        assert!(resolve_ports(&svc, &nameless).is_empty());
        let numeric = service(IntOrString::Int(8443));
        assert_eq!(resolve_ports(&numeric, &nameless)[0].port, Some(8443));
        let mut stranger = pod("x", "10.0.0.9", true);
        stranger.metadata.labels.insert("app".into(), "db".into());
        let all = endpoints_of(&svc, &[Arc::new(other), Arc::new(stranger)], true);
        assert_eq!(all.len(), 1);
    }
}
