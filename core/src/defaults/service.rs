//! Service defaults (`SetDefaults_Service`).

use super::{fill, ApplyDefaults};
use crate::kinds::Service;
use crate::IntOrString;

/// Seconds a client sticks to its endpoint under `sessionAffinity: ClientIP` (3 hours).
pub const DEFAULT_CLIENT_IP_TIMEOUT: i32 = 10_800;

impl ApplyDefaults for Service {
    /// type `ClusterIP`, sessionAffinity `None`, port protocol `TCP`, targetPort = port (when absent, 0 or
    /// `""`), internalTrafficPolicy `Cluster` for ClusterIP, NodePort and LoadBalancer Services, and
    /// externalTrafficPolicy `Cluster` for externally reachable ones (NodePort, LoadBalancer, or ClusterIP with
    /// externalIPs). `ipFamilyPolicy`/`ipFamilies`/`clusterIPs` are not defaults in Kubernetes: the service
    /// registry fills them when it allocates the ClusterIP. ClientIP affinity gets a 10,800 s timeout,
    /// a LoadBalancer `allocateLoadBalancerNodePorts: true`.
    fn apply_defaults(&mut self) {
        let spec = &mut self.spec;
        fill(&mut spec.session_affinity, "None");
        fill(&mut spec.type_, "ClusterIP");
        // Go writes these non-pointer fields only when set: 0 and false are "unset".
        if spec.publish_not_ready_addresses == Some(false) {
            spec.publish_not_ready_addresses = None;
        }
        for p in &mut spec.ports {
            fill(&mut p.protocol, "TCP");
            if p.node_port == Some(0) {
                p.node_port = None;
            }
            let unset = match &p.target_port {
                None => true,
                Some(IntOrString::Int(n)) => *n == 0,
                Some(IntOrString::String(s)) => s.is_empty(),
            };
            if unset {
                p.target_port = Some(IntOrString::Int(p.port));
            }
        }
        let ty = spec.type_.as_deref().unwrap_or("");
        let externally_accessible = ty == "NodePort"
            || ty == "LoadBalancer"
            || (ty == "ClusterIP" && !spec.external_ips.is_empty());
        if externally_accessible {
            fill(&mut spec.external_traffic_policy, "Cluster");
        }
        if spec.session_affinity.as_deref() == Some("ClientIP") {
            let config = spec
                .session_affinity_config
                .get_or_insert_with(Default::default);
            let client_ip = config.client_ip.get_or_insert_with(Default::default);
            client_ip
                .timeout_seconds
                .get_or_insert(DEFAULT_CLIENT_IP_TIMEOUT);
        }
        if ty == "LoadBalancer" {
            spec.allocate_load_balancer_node_ports.get_or_insert(true);
        }
        if matches!(ty, "ClusterIP" | "NodePort" | "LoadBalancer") {
            spec.internal_traffic_policy
                .get_or_insert_with(|| "Cluster".into());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn svc(json: serde_json::Value) -> Service {
        let mut s: Service = serde_json::from_value(json).unwrap();
        s.apply_defaults();
        s
    }

    #[test]
    fn cluster_ip_defaults() {
        let s = svc(
            serde_json::json!({"metadata": {"name": "web"}, "spec": {"ports": [{"port": 80}]}}),
        );
        assert_eq!(s.spec.type_.as_deref(), Some("ClusterIP"));
        assert_eq!(s.spec.session_affinity.as_deref(), Some("None"));
        assert_eq!(s.spec.ports[0].protocol.as_deref(), Some("TCP"));
        assert_eq!(s.spec.ports[0].target_port, Some(IntOrString::Int(80)));
        assert_eq!(s.spec.external_traffic_policy, None);
    }

    #[test]
    fn user_values_are_kept_and_node_ports_get_a_traffic_policy() {
        let s = svc(serde_json::json!({"metadata": {"name": "web"}, "spec": {
            "type": "NodePort", "ports": [{"port": 80, "targetPort": "http", "protocol": "UDP"}]}}));
        assert_eq!(
            s.spec.ports[0].target_port,
            Some(IntOrString::String("http".into()))
        );
        assert_eq!(s.spec.ports[0].protocol.as_deref(), Some("UDP"));
        assert_eq!(s.spec.external_traffic_policy.as_deref(), Some("Cluster"));
    }

    #[test]
    fn cluster_ip_gets_internal_policy_only_and_empty_values_are_filled() {
        let s = svc(serde_json::json!({"metadata": {"name": "web"}, "spec": {
            "type": "", "sessionAffinity": "",
            "ports": [{"port": 80, "targetPort": 0, "protocol": ""}, {"port": 81, "targetPort": ""}]}}));
        assert_eq!(s.spec.type_.as_deref(), Some("ClusterIP"));
        assert_eq!(s.spec.session_affinity.as_deref(), Some("None"));
        assert_eq!(s.spec.internal_traffic_policy.as_deref(), Some("Cluster"));
        assert_eq!(s.spec.external_traffic_policy, None);
        assert_eq!(s.spec.ip_family_policy, None);
        assert_eq!(s.spec.ports[0].target_port, Some(IntOrString::Int(80)));
        assert_eq!(s.spec.ports[0].protocol.as_deref(), Some("TCP"));
        assert_eq!(s.spec.ports[1].target_port, Some(IntOrString::Int(81)));
    }

    #[test]
    fn external_traffic_policy_for_externally_reachable_services() {
        let s = svc(serde_json::json!({"metadata": {"name": "web"}, "spec": {
            "externalIPs": ["192.0.2.10"], "ports": [{"port": 80}]}}));
        assert_eq!(s.spec.external_traffic_policy.as_deref(), Some("Cluster"));
        let s = svc(serde_json::json!({"metadata": {"name": "web"}, "spec": {
            "type": "LoadBalancer", "ports": [{"port": 80}]}}));
        assert_eq!(s.spec.external_traffic_policy.as_deref(), Some("Cluster"));
        assert_eq!(s.spec.internal_traffic_policy.as_deref(), Some("Cluster"));
        let s = svc(serde_json::json!({"metadata": {"name": "web"}, "spec": {
            "type": "NodePort", "externalTrafficPolicy": "Local", "internalTrafficPolicy": "Local",
            "sessionAffinity": "ClientIP", "ports": [{"port": 80}]}}));
        assert_eq!(s.spec.external_traffic_policy.as_deref(), Some("Local"));
        assert_eq!(s.spec.internal_traffic_policy.as_deref(), Some("Local"));
        assert_eq!(s.spec.session_affinity.as_deref(), Some("ClientIP"));
        let s = svc(serde_json::json!({"metadata": {"name": "db"}, "spec": {
            "type": "ExternalName", "ports": [{"port": 5432}]}}));
        assert_eq!(s.spec.internal_traffic_policy, None);
        assert_eq!(s.spec.external_traffic_policy, None);
    }
}
