//! # skiff-controllers
//!
//! The control loops of a Skiff cluster, each written against `skiff-core` only (an informer feeding a work
//! queue feeding a reconciler). This crate will hold:
//!
//! - the scheduler (filters and scores nodes, binds pods);
//! - the ReplicaSet, Endpoints, garbage-collector and node-lifecycle controllers;
//! - the node agent (kubelet), which drives pods through the CRI-shaped `Runtime` trait;
//! - the service proxy, which routes ClusterIP and NodePort traffic to ready endpoints.
//!
//! It is filled by the controller, node-agent and networking issues.

pub use skiff_core as core;
