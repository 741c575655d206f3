//! The built-in kinds, with Kubernetes' field names and JSON shapes.
//!
//! | kind | apiVersion | plural (short) | scope |
//! |---|---|---|---|
//! | [`Pod`] | v1 | pods (po) | namespaced |
//! | [`ReplicaSet`] | apps/v1 | replicasets (rs) | namespaced |
//! | [`Service`] | v1 | services (svc) | namespaced |
//! | [`Endpoints`] | v1 | endpoints (ep) | namespaced |
//! | [`EndpointSlice`] | discovery.k8s.io/v1 | endpointslices | namespaced |
//! | [`IPAddress`] | networking.k8s.io/v1 | ipaddresses (ip) | cluster (one per allocated ClusterIP) |
//! | [`ServiceCIDR`] | networking.k8s.io/v1 | servicecidrs | cluster |
//! | [`Node`] | v1 | nodes (no) | cluster |
//! | [`Namespace`] | v1 | namespaces (ns) | cluster |
//! | [`Event`] | v1 | events (ev) | namespaced |
//! | [`ConfigMap`] | v1 | configmaps (cm) | namespaced |
//! | [`Secret`] | v1 | secrets | namespaced |
//! | [`Lease`] | coordination.k8s.io/v1 | leases | namespaced |
//! | [`APIService`] | apiregistration.k8s.io/v1 | apiservices | cluster (read-only, one per served group-version) |
//!
//! [`Scale`] (autoscaling/v1) is the body of the ReplicaSet `scale` subresource, not a stored kind.
//!
//! Conventions: `spec` is always present (defaulted when absent); `status` is optional; lists and maps are
//! omitted when empty; enumerated strings (`restartPolicy`, `phase`, `type`) are `Option<String>` so that a
//! wrong value reaches validation, which names the field, instead of failing to decode.

mod apiservice;
mod configmap;
mod endpoint_slice;
mod endpoints;
mod event;
mod ip_address;
mod lease;
mod namespace;
mod node;
mod object_reference;
mod pod;
mod replicaset;
mod secret;
mod service;
mod taint;

pub use apiservice::{
    apiservice_name, local_apiservices, APIService, APIServiceCondition, APIServiceSpec,
    APIServiceStatus, ServiceReference,
};
pub use configmap::ConfigMap;
pub use endpoint_slice::{
    Endpoint, EndpointConditions, EndpointSlice, EndpointSlicePort, MANAGED_BY_CONTROLLER,
    MANAGED_BY_LABEL, SERVICE_NAME_LABEL,
};
pub use endpoints::{EndpointAddress, EndpointPort, EndpointSubset, Endpoints};
pub use event::{Event, EventSeries, EventSource};
pub use ip_address::{
    Condition, IPAddress, IPAddressSpec, ParentReference, ServiceCIDR, ServiceCIDRSpec,
    ServiceCIDRStatus, DEFAULT_SERVICE_CIDR, IP_ALLOCATOR, IP_FAMILY_LABEL, IP_MANAGED_BY_LABEL,
};
pub use lease::{Lease, LeaseSpec};
pub use namespace::{Namespace, NamespaceCondition, NamespaceSpec, NamespaceStatus};
pub use node::{
    DaemonEndpoint, Node, NodeAddress, NodeCondition, NodeDaemonEndpoints, NodeSpec, NodeStatus,
    NodeSystemInfo,
};
pub use object_reference::ObjectReference;
pub use pod::{
    ConfigMapKeySelector, ConfigMapVolumeSource, Container, ContainerPort, ContainerState,
    ContainerStateRunning, ContainerStateTerminated, ContainerStateWaiting, ContainerStatus,
    EmptyDirVolumeSource, EnvFromSource, EnvObjectRef, EnvVar, EnvVarSource, EphemeralContainer,
    ExecAction, HostIp, HostPathVolumeSource, HttpGetAction, HttpHeader, KeyToPath,
    LocalObjectReference, ObjectFieldSelector, Pod, PodCondition, PodDnsConfig, PodDnsConfigOption,
    PodIp, PodSecurityContext, PodSpec, PodStatus, PodTemplateSpec, Probe, ResourceRequirements,
    SecretKeySelector, SecretVolumeSource, TcpSocketAction, Volume, VolumeMount,
};
pub use replicaset::{
    ReplicaSet, ReplicaSetCondition, ReplicaSetSpec, ReplicaSetStatus, Scale, ScaleSpec,
    ScaleStatus,
};
pub use secret::{
    Secret, DOCKER_CFG_KEY, DOCKER_CONFIG_JSON_KEY, SECRET_TYPE_BASIC_AUTH, SECRET_TYPE_DOCKERCFG,
    SECRET_TYPE_DOCKER_CONFIG_JSON, SECRET_TYPE_OPAQUE, SECRET_TYPE_SSH_AUTH, SECRET_TYPE_TLS,
};
pub use service::{
    ClientIPConfig, LoadBalancerIngress, LoadBalancerStatus, Service, ServicePort, ServiceSpec,
    ServiceStatus, SessionAffinityConfig,
};
pub use taint::{Taint, Toleration};
