//! # skiff-runtime-podman
//!
//! Will implement `skiff-core`'s CRI-shaped `Runtime` trait on Podman's REST service through `podman-api`,
//! mapping each Skiff pod to a native Podman pod (whose infra container holds the shared network namespace).

pub use skiff_core as core;
