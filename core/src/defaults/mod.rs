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

mod endpoints;
mod namespace;
mod node;
mod pod;
mod replicaset;
mod service;

use crate::kinds::{
    APIService, ConfigMap, EndpointSlice, Event, IPAddress, Lease, Secret, ServiceCIDR,
};

pub use namespace::METADATA_NAME_LABEL;
pub use pod::{default_pod_spec, pull_policy_for};

/// Sets `field` to `default` when it is absent or empty, as Kubernetes does for its non-pointer string fields.
fn fill(field: &mut Option<String>, default: &str) {
    if field.as_deref().is_none_or(str::is_empty) {
        *field = Some(default.to_string());
    }
}

/// A kind whose unset fields the API server fills before validation.
///
/// The method has an empty default, so a kind without defaults registers with `impl ApplyDefaults for MyKind {}`.
pub trait ApplyDefaults {
    /// Fills what Kubernetes fills on create.
    fn apply_defaults(&mut self) {}
}

/// Kubernetes defaults nothing on core/v1 Events (not even `type`).
impl ApplyDefaults for Event {}
/// Nothing to fill (Kubernetes' `data: {}` is omitted on the wire anyway).
impl ApplyDefaults for ConfigMap {}
/// `type` defaults to `Opaque`.
impl ApplyDefaults for Secret {
    fn apply_defaults(&mut self) {
        fill(&mut self.type_, crate::kinds::SECRET_TYPE_OPAQUE);
    }
}
/// Kubernetes defaults nothing on Leases.
impl ApplyDefaults for Lease {}
/// The API server writes its APIServices whole.
impl ApplyDefaults for APIService {}
/// Kubernetes defaults nothing on IPAddresses.
impl ApplyDefaults for IPAddress {}
/// Kubernetes defaults nothing on ServiceCIDRs.
impl ApplyDefaults for ServiceCIDR {}

/// Ports without a protocol get `TCP` (`SetDefaults_EndpointPort`).
impl ApplyDefaults for EndpointSlice {
    fn apply_defaults(&mut self) {
        for p in &mut self.ports {
            fill(&mut p.protocol, "TCP");
        }
    }
}
