//! # skiff-runtime-process
//!
//! The runtime `skiff up` uses by default, because it needs no container engine. It will implement
//! `skiff-core`'s CRI-shaped `Runtime` trait with:
//!
//! - containers as process trees under a small supervisor (a shim) that owns their stdio and records their exit;
//! - a cgroup per pod and per container (v1 and v2, detected at run time) enforcing requests and limits;
//! - a network namespace per pod joined to a bridge, so that a pod's containers share one IP and `localhost`.
//!
//! This is the only crate allowed `unsafe` (fork/exec and namespaces); it is filled by the node-agent issue.

pub use skiff_core as core;
