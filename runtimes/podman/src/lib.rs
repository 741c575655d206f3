//! # skiff-runtime-podman
//!
//! `skiff-core`'s CRI-shaped [`Runtime`](skiff_core::runtime::Runtime) on Podman, through the
//! libpod REST API ([`podman_api`]) that `podman system service` serves. Where Docker needs a
//! pause container to stand for the pod, Podman has pods of its own, so the mapping is direct:
//!
//! - **Sandbox** = a Podman pod, named `k8s_POD_<pod>_<ns>_<uid>_<attempt>`, whose infra
//!   container holds the network, IPC and UTS namespaces. Its address comes from a Podman
//!   network for the node's pod CIDR (`skiff-<cidr>`, made on connect), or from Podman's default
//!   network (10.88.0.0/16) without one; `hostNetwork` pods share the host's. The infra image is
//!   [`PodmanConfig::infra_image`], or, by default, the pause image Podman builds itself from
//!   `catatonit`, so a node needs no registry for its sandboxes.
//! - **Containers** are created in the pod, so they share its IP and reach each other on
//!   localhost, and their cgroups sit under the pod's. An ephemeral container with a target joins
//!   the target's process namespace. Kubernetes' override rules hold (`command` replaces the
//!   ENTRYPOINT and drops the image's CMD, `args` replace the CMD): libpod applies the same rule.
//! - **Resources** as the kubelet converts them (shares, CFS quota and period, memory with no
//!   swap). Podman's restart policy stays `no` and images' healthchecks are off: the node agent
//!   owns restarts and probes.
//! - **Images**: short names (`nginx`, `alpine/git`) resolve through registries.conf's
//!   unqualified-search registries and mirrors, as `podman pull` resolves them.
//! - **OOM kills**: Podman's `OOMKilled`, and where Podman misses one (cgroup v1 here), the
//!   kernel's record of it (see the `kmsg` module): `reason: OOMKilled`, exit 137.
//! - **Names and labels** are the Docker runtime's (see
//!   [`engine`](skiff_core::runtime::engine)), so an agent that restarts lists what it owns,
//!   its node's only, and adopts it: Podman is the only source of truth.
//!
//! Every engine call has a timeout ([`PodmanConfig::call_timeout`]), so one hung call never
//! stalls the node agent (except pulls and streams, which take as long as they take).
//!
//! What Podman's API lacks: `stdin_once` (a container's stdin stays open after the first client
//! detaches).

mod convert;
mod kmsg;
mod runtime;
mod streams;

pub use runtime::{PodmanConfig, PodmanRuntime};
pub use skiff_core as core;
