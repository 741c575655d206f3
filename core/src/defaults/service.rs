//! Service defaults (`SetDefaults_Service`).

use super::ApplyDefaults;
use crate::kinds::Service;
use crate::IntOrString;

impl ApplyDefaults for Service {
    /// type `ClusterIP`, sessionAffinity `None`, port protocol `TCP`, targetPort = port,
    /// internalTrafficPolicy `Cluster`, and externalTrafficPolicy `Cluster` for NodePort Services.
    fn apply_defaults(&mut self) {
        let spec = &mut self.spec;
        let ty = spec.type_.get_or_insert_with(|| "ClusterIP".into()).clone();
        spec.session_affinity.get_or_insert_with(|| "None".into());
        for p in &mut spec.ports {
            p.protocol.get_or_insert_with(|| "TCP".into());
            let port = p.port;
            p.target_port.get_or_insert(IntOrString::Int(port));
        }
        if ty == "ClusterIP" || ty == "NodePort" {
            spec.internal_traffic_policy
                .get_or_insert_with(|| "Cluster".into());
        }
        if ty == "NodePort" {
            spec.external_traffic_policy
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
}
