//! # skiff-controllers
//!
//! Skiff's controllers, each written against `skiff-core` only (a `Client`, informers, the work queue
//! and a `Reconciler`), so they run beside the API server in `skiff up` or in another process over
//! HTTP unchanged.
//!
//! - [`control_plane`]: the four controllers below the node agent, started together on shared informers.
//! - [`node_agent`]: the kubelet — registers its Node, heartbeats through a Lease, and drives every pod
//!   bound to it through a [`Runtime`](skiff_core::runtime::Runtime).
//! - [`node_lifecycle`]: marks nodes whose Lease is not renewed `Unknown`, taints them and evicts their pods.
//! - [`scheduler`]: binds pending pods to nodes (filters, scores, `pods/binding`), from an in-memory view
//!   of node usage.
//! - [`replicaset`]: keeps `spec.replicas` pods of each ReplicaSet (expectations, slow start, burst cap,
//!   deletion ranking, adoption and release, status).
//! - [`gc`]: the garbage collector — deletes dependents whose owners are gone, and carries out
//!   foreground and orphan deletion.

pub mod control_plane;
pub mod dns;
pub mod endpoints;
pub mod gc;
pub mod node_agent;
pub mod node_lifecycle;
pub mod proxy;
pub mod replicaset;
pub mod scheduler;
pub mod service_lb;

pub use skiff_core as core;
