//! # skiff-runtime-docker
//!
//! Will implement `skiff-core`'s CRI-shaped `Runtime` trait on the Docker engine through `bollard`: a pause-style
//! sandbox container holds each pod's network namespace and the pod's containers join it
//! (`--network container:<id>`), with CPU and memory limits mapped from the pod spec.

pub use skiff_core as core;
