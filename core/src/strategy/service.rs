//! The Service strategy: what the registry keeps from the stored Service on update, and what may not change.
//!
//! As Kubernetes' service REST storage does (`patchAllocatedValues`, `dropTypeDependentFields`):
//! an update that leaves out the allocated `clusterIP`/`clusterIPs` or a port's `nodePort` keeps the
//! stored ones (a `kubectl apply` of the original manifest must not reallocate), a change of type that
//! no longer needs them drops them (NodePort -> ClusterIP releases the ports, -> ExternalName the IP),
//! and an allocated ClusterIP never changes.

use crate::kinds::{LoadBalancerStatus, Service, ServicePort, ServiceStatus};
use crate::validation::{FieldError, FieldErrors, FieldPath};

use super::Strategy;

/// The stored port a new one continues: same port number and protocol.
fn same_port<'a>(old: &'a [ServicePort], new: &ServicePort) -> Option<&'a ServicePort> {
    old.iter()
        .find(|o| o.port == new.port && o.protocol == new.protocol)
}

fn node_ports(ports: &[ServicePort]) -> Vec<Option<i32>> {
    ports
        .iter()
        .map(|p| p.node_port.filter(|n| *n != 0))
        .collect()
}

impl Strategy for Service {
    /// `status` becomes `{loadBalancer: {}}`.
    fn prepare_for_create(&mut self) {
        self.status = Some(ServiceStatus {
            load_balancer: Some(LoadBalancerStatus::default()),
        });
    }

    /// Keeps the stored status, drops what the new type no longer needs, keeps allocated values the
    /// update left out.
    fn prepare_for_update(&mut self, old: &Self) {
        self.status.clone_from(&old.status);
        let (new, old) = (&mut self.spec, &old.spec);
        // dropTypeDependentFields: only when the user did not change the values themselves.
        if old.needs_cluster_ip()
            && !new.needs_cluster_ip()
            && new.cluster_ip == old.cluster_ip
            && new.cluster_ips == old.cluster_ips
        {
            new.cluster_ip = None;
            new.cluster_ips.clear();
            new.ip_families.clear();
            new.ip_family_policy = None;
        }
        if old.needs_node_ports()
            && !new.needs_node_ports()
            && node_ports(&new.ports) == node_ports(&old.ports)
        {
            for p in &mut new.ports {
                p.node_port = None;
            }
        }
        let external = |s: &crate::kinds::ServiceSpec| {
            matches!(s.type_name(), "NodePort" | "LoadBalancer") || !s.external_ips.is_empty()
        };
        if external(old)
            && !external(new)
            && new.external_traffic_policy == old.external_traffic_policy
        {
            new.external_traffic_policy = None;
        }
        if old.type_name() == "LoadBalancer"
            && new.type_name() != "LoadBalancer"
            && new.allocate_load_balancer_node_ports == old.allocate_load_balancer_node_ports
        {
            new.allocate_load_balancer_node_ports = None;
        }
        // patchAllocatedValues.
        if old.needs_cluster_ip() && new.needs_cluster_ip() {
            if new.cluster_ip.as_deref().is_none_or(str::is_empty) {
                new.cluster_ip.clone_from(&old.cluster_ip);
            }
            if new.cluster_ips.is_empty() {
                new.cluster_ips.clone_from(&old.cluster_ips);
            }
            if new.ip_families.is_empty() {
                new.ip_families.clone_from(&old.ip_families);
            }
            if new.ip_family_policy.is_none() {
                new.ip_family_policy.clone_from(&old.ip_family_policy);
            }
        }
        if old.needs_node_ports() && new.needs_node_ports() {
            for p in &mut new.ports {
                if p.node_port.is_none_or(|n| n == 0) {
                    p.node_port = same_port(&old.ports, p).and_then(|o| o.node_port);
                }
            }
        }
    }

    /// An allocated ClusterIP may not change (except by going to or from `ExternalName`).
    fn validate_update(&self, old: &Self) -> FieldErrors {
        let mut errs = FieldErrors::default();
        let (new, old) = (&self.spec, &old.spec);
        if old.needs_cluster_ip() && new.needs_cluster_ip() && old.cluster_ip.is_some() {
            let now = new.cluster_ip.as_deref().unwrap_or("");
            if new.cluster_ip != old.cluster_ip {
                errs.push(FieldError::invalid(
                    &FieldPath::new("spec").child("clusterIPs").index(0),
                    now,
                    "may not change once set",
                ));
            }
        }
        errs
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::IntOrString;

    fn svc(ty: &str, ip: Option<&str>, node_port: Option<i32>) -> Service {
        let mut s = Service::named("web");
        s.spec.type_ = Some(ty.into());
        s.spec.cluster_ip = ip.map(str::to_string);
        s.spec.cluster_ips = ip.map(str::to_string).into_iter().collect();
        s.spec.ports = vec![ServicePort {
            port: 80,
            protocol: Some("TCP".into()),
            target_port: Some(IntOrString::Int(8080)),
            node_port,
            ..ServicePort::default()
        }];
        s
    }

    #[test]
    fn an_update_without_allocated_values_keeps_them() {
        let old = svc("NodePort", Some("10.96.0.7"), Some(30080));
        let mut new = svc("NodePort", None, None);
        new.prepare_for_update(&old);
        assert_eq!(new.spec.cluster_ip.as_deref(), Some("10.96.0.7"));
        assert_eq!(new.spec.cluster_ips, vec!["10.96.0.7".to_string()]);
        assert_eq!(new.spec.ports[0].node_port, Some(30080));
        assert!(new.validate_update(&old).is_empty());
    }

    #[test]
    fn a_type_change_drops_what_it_no_longer_needs() {
        let old = svc("NodePort", Some("10.96.0.7"), Some(30080));
        let mut new = old.clone();
        new.spec.type_ = Some("ClusterIP".into());
        new.prepare_for_update(&old);
        assert_eq!(new.spec.ports[0].node_port, None);
        assert_eq!(new.spec.cluster_ip.as_deref(), Some("10.96.0.7"));
        let mut ext = old.clone();
        ext.spec.type_ = Some("ExternalName".into());
        ext.prepare_for_update(&old);
        assert_eq!(ext.spec.cluster_ip, None);
        assert!(ext.spec.cluster_ips.is_empty());
    }

    #[test]
    fn an_allocated_ip_never_changes() {
        let old = svc("ClusterIP", Some("10.96.0.7"), None);
        let mut new = svc("ClusterIP", Some("10.96.0.8"), None);
        new.prepare_for_update(&old);
        let errs = new.validate_update(&old);
        assert!(errs.has_field("spec.clusterIPs[0]"), "{errs:?}");
    }
}
