//! Defaulting as Kubernetes does it on create: the API server fills what the user left unset, then validates.
//!
//! ```
//! use skiff_core::defaults::ApplyDefaults;
//! use skiff_core::kinds::{Container, Pod};
//!
//! let mut pod = Pod::named("web");
//! pod.spec.containers.push(Container::new("web", "nginx:1.27"));
//! pod.apply_defaults();
//! assert_eq!(pod.spec.restart_policy.as_deref(), Some("Always"));
//! assert_eq!(pod.spec.termination_grace_period_seconds, Some(30));
//! assert_eq!(pod.spec.containers[0].image_pull_policy.as_deref(), Some("IfNotPresent"));
//! ```

mod pod;
mod service;

use crate::kinds::{
    ConfigMap, Endpoints, Event, Lease, Namespace, NamespaceStatus, Node, ReplicaSet,
};

pub use pod::{default_pod_spec, pull_policy_for};

/// Sets `field` to `default` when it is absent or empty, as Kubernetes does for its non-pointer string fields.
fn fill(field: &mut Option<String>, default: &str) {
    if field.as_deref().is_none_or(str::is_empty) {
        *field = Some(default.to_string());
    }
}

/// Sets `field` to `default` when it is absent or zero, as Kubernetes does for its non-pointer numbers.
fn fill_num(field: &mut Option<i32>, default: i32) {
    if field.unwrap_or(0) == 0 {
        *field = Some(default);
    }
}

/// A kind whose unset fields the API server fills before validation.
///
/// The method has an empty default, so a kind without defaults registers with `impl ApplyDefaults for MyKind {}`.
pub trait ApplyDefaults {
    /// Fills what Kubernetes fills on create.
    fn apply_defaults(&mut self) {}
}

impl ApplyDefaults for ReplicaSet {
    /// `replicas` 1, and the pod template's spec defaulted like a pod's.
    fn apply_defaults(&mut self) {
        self.spec.replicas.get_or_insert(1);
        self.spec.min_ready_seconds.get_or_insert(0);
        default_pod_spec(&mut self.spec.template.spec);
    }
}

impl ApplyDefaults for Endpoints {
    /// Port protocol `TCP`.
    fn apply_defaults(&mut self) {
        for subset in &mut self.subsets {
            for port in &mut subset.ports {
                port.protocol.get_or_insert_with(|| "TCP".into());
            }
        }
    }
}

impl ApplyDefaults for Namespace {
    /// `spec.finalizers` `["kubernetes"]` and `status.phase` `Active`.
    fn apply_defaults(&mut self) {
        if self.spec.finalizers.is_empty() {
            self.spec.finalizers.push("kubernetes".into());
        }
        let status = self.status.get_or_insert_with(NamespaceStatus::default);
        status.phase.get_or_insert_with(|| "Active".into());
    }
}

impl ApplyDefaults for Node {}
impl ApplyDefaults for Event {}
impl ApplyDefaults for ConfigMap {}
impl ApplyDefaults for Lease {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replicaset_defaults_replicas_and_template() {
        let mut rs = ReplicaSet::named("rs");
        rs.apply_defaults();
        assert_eq!(rs.spec.replicas, Some(1));
        assert_eq!(
            rs.spec.template.spec.restart_policy.as_deref(),
            Some("Always")
        );
        let mut rs = ReplicaSet::named("rs");
        rs.spec.replicas = Some(0);
        rs.apply_defaults();
        assert_eq!(rs.spec.replicas, Some(0), "an explicit 0 is kept");
    }

    #[test]
    fn namespace_defaults() {
        let mut ns = Namespace::named("team");
        ns.apply_defaults();
        assert_eq!(ns.spec.finalizers, ["kubernetes"]);
        assert_eq!(ns.status.unwrap().phase.as_deref(), Some("Active"));
    }

    #[test]
    fn endpoints_port_protocol() {
        let mut ep: Endpoints = serde_json::from_value(serde_json::json!({
            "metadata": {"name": "e"},
            "subsets": [{"ports": [{"port": 80}, {"port": 53, "protocol": "UDP"}]}]
        }))
        .unwrap();
        ep.apply_defaults();
        let ports = &ep.subsets[0].ports;
        assert_eq!(ports[0].protocol.as_deref(), Some("TCP"));
        assert_eq!(ports[1].protocol.as_deref(), Some("UDP"));
    }
}
