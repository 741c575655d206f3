//! Strategies: what the API server does to an object of a kind beyond defaulting, as Kubernetes' REST
//! strategies (`PrepareForCreate`, `PrepareForUpdate` of the status subresource) do.
//!
//! On create the server owns `status`: a Pod comes back `Pending` with its QoS class, a Namespace
//! `Active`, a ReplicaSet with `replicas: 0`, a Service with an empty `loadBalancer`, whatever status the
//! client sent. A status update keeps what only the server sets (a Pod's `qosClass`). Nodes keep the
//! status they are created with: their agents register them with it.
//!
//! Every kind has a strategy; the methods do nothing by default, so a kind of your own registers with
//! `impl Strategy for MyKind {}`.
//!
//! ```
//! use skiff_core::kinds::{Container, Pod};
//! use skiff_core::strategy::Strategy;
//!
//! let mut pod = Pod::named("web");
//! pod.spec.containers.push(Container::new("web", "nginx"));
//! pod.prepare_for_create();
//! let status = pod.status.as_ref().unwrap();
//! assert_eq!(status.phase.as_deref(), Some("Pending"));
//! assert_eq!(status.qos_class.as_deref(), Some("BestEffort"));
//! ```

mod qos;
mod service;

pub use qos::qos_class;

use crate::kinds::{
    APIService, ConfigMap, EndpointSlice, Endpoints, Event, IPAddress, Lease, Namespace,
    NamespaceStatus, Node, Pod, PodStatus, ReplicaSet, ReplicaSetStatus, Secret, ServiceCIDR,
};
use crate::validation::{FieldError, FieldErrors, FieldPath};

/// A kind's create and status-update hooks. See the [module docs](self).
pub trait Strategy: Sized {
    /// Called on create after defaulting, before validation.
    fn prepare_for_create(&mut self) {}
    /// Called when the status subresource is written: `self` is the new object, `old` the stored one.
    fn prepare_for_status_update(&mut self, _old: &Self) {}
    /// Called when the object itself is updated (PUT, PATCH, apply): `self` is the new object, `old`
    /// the stored one. Fields other subresources own are kept from `old` (a Pod's ephemeral containers).
    fn prepare_for_update(&mut self, _old: &Self) {}
    /// What only a create must not contain (a Pod with ephemeral containers), beyond
    /// [`Validate`](crate::validation::Validate).
    fn validate_create(&self) -> FieldErrors {
        FieldErrors::default()
    }
    /// What an update must not change (an allocated ClusterIP), beyond
    /// [`Validate`](crate::validation::Validate); `old` is the stored object.
    fn validate_update(&self, _old: &Self) -> FieldErrors {
        FieldErrors::default()
    }
}

impl Strategy for Pod {
    /// `status` becomes `{phase: Pending, qosClass}` (`qosClass` from [`qos_class`]).
    fn prepare_for_create(&mut self) {
        self.status = Some(PodStatus {
            phase: Some("Pending".into()),
            qos_class: Some(qos_class(self).into()),
            ..PodStatus::default()
        });
    }

    /// Ephemeral containers belong to the `pods/ephemeralcontainers` subresource: an update of the
    /// pod keeps the stored ones.
    fn prepare_for_update(&mut self, old: &Self) {
        self.spec
            .ephemeral_containers
            .clone_from(&old.spec.ephemeral_containers);
    }

    /// `spec.ephemeralContainers` are added later, through their subresource, never on create.
    fn validate_create(&self) -> FieldErrors {
        let mut errs = FieldErrors::default();
        if !self.spec.ephemeral_containers.is_empty() {
            errs.push(FieldError::forbidden(
                &FieldPath::new("spec").child("ephemeralContainers"),
                "cannot be set on create",
            ));
        }
        errs
    }

    /// The QoS class is immutable: a status without one keeps the stored one.
    fn prepare_for_status_update(&mut self, old: &Self) {
        let kept = old.status.as_ref().and_then(|s| s.qos_class.clone());
        let status = self.status.get_or_insert_with(PodStatus::default);
        if status.qos_class.as_deref().is_none_or(str::is_empty) {
            status.qos_class = kept;
        }
    }
}

impl Strategy for Namespace {
    /// `status` becomes `{phase: Active}`.
    fn prepare_for_create(&mut self) {
        self.status = Some(NamespaceStatus {
            phase: Some("Active".into()),
            ..NamespaceStatus::default()
        });
    }
}

impl Strategy for ReplicaSet {
    /// `status` becomes empty (`{replicas: 0}` on the wire).
    fn prepare_for_create(&mut self) {
        self.status = Some(ReplicaSetStatus::default());
    }
}

/// Node agents register their Node with its status; Kubernetes keeps it.
impl Strategy for Node {}
/// No status.
impl Strategy for Endpoints {}
/// No status.
impl Strategy for EndpointSlice {}
/// No status.
impl Strategy for IPAddress {}
/// The status (its `Ready` condition) is the server's: a create starts without one.
impl Strategy for ServiceCIDR {
    fn prepare_for_create(&mut self) {
        self.status = None;
    }
}
/// No status.
impl Strategy for Event {}
/// No status.
impl Strategy for ConfigMap {}
/// No status; `stringData` is folded into `data` on every write.
impl Strategy for Secret {
    fn prepare_for_create(&mut self) {
        self.fold_string_data();
    }
    fn prepare_for_update(&mut self, _old: &Self) {
        self.fold_string_data();
    }
    /// `type` never changes; with `immutable: true`, neither does `data` (nor `immutable`).
    fn validate_update(&self, old: &Self) -> FieldErrors {
        let mut errs = FieldErrors::default();
        if self.type_name() != old.type_name() {
            errs.push(FieldError::invalid(
                &FieldPath::new("type"),
                self.type_name(),
                "field is immutable",
            ));
        }
        if old.immutable == Some(true) {
            if self.data != old.data {
                errs.push(FieldError::forbidden(
                    &FieldPath::new("data"),
                    "field is immutable when `immutable` is set",
                ));
            }
            if self.immutable != Some(true) {
                errs.push(FieldError::forbidden(
                    &FieldPath::new("immutable"),
                    "field is immutable when `immutable` is set",
                ));
            }
        }
        errs
    }
}
/// No status.
impl Strategy for Lease {}
/// The API server writes its APIServices whole.
impl Strategy for APIService {}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kinds::{Container, Service};

    #[test]
    fn create_resets_status_and_status_updates_keep_the_qos_class() {
        let mut pod = Pod::named("p");
        pod.spec.containers.push(Container::new("c", "busybox"));
        pod.status = Some(PodStatus {
            phase: Some("Running".into()),
            pod_ip: Some("10.0.0.9".into()),
            ..PodStatus::default()
        });
        pod.prepare_for_create();
        let created = pod.status.clone().unwrap();
        assert_eq!(created.phase.as_deref(), Some("Pending"));
        assert_eq!(created.pod_ip, None);

        let mut update = pod.clone();
        update.status = Some(PodStatus {
            phase: Some("Running".into()),
            ..PodStatus::default()
        });
        update.prepare_for_status_update(&pod);
        let s = update.status.unwrap();
        assert_eq!(s.phase.as_deref(), Some("Running"));
        assert_eq!(s.qos_class.as_deref(), Some("BestEffort"));

        let mut ns = Namespace::named("n");
        ns.prepare_for_create();
        assert_eq!(ns.status.unwrap().phase.as_deref(), Some("Active"));
        let mut svc = Service::named("s");
        svc.prepare_for_create();
        assert_eq!(
            serde_json::to_value(&svc).unwrap()["status"],
            serde_json::json!({"loadBalancer": {}})
        );
        let mut rs = ReplicaSet::named("r");
        rs.prepare_for_create();
        assert_eq!(
            serde_json::to_value(&rs).unwrap()["status"],
            serde_json::json!({"replicas": 0})
        );
    }
}
