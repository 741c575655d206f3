//! # skiff-runtime-docker
//!
//! `skiff-core`'s CRI-shaped [`Runtime`](skiff_core::runtime::Runtime) on the Docker engine, through
//! [`bollard`], shaped as cri-dockerd (the kubelet's former dockershim) shapes it:
//!
//! - **Sandbox** = a pause ("infra") container that holds the pod's network and IPC namespaces, on a
//!   Docker bridge network for the node's pod CIDR (so `status.podIP` is in `spec.podCIDR` and the
//!   host reaches it), or on the host's network for `hostNetwork` pods. Its image is
//!   [`DockerConfig::pause_image`], or [`SELF_BUILT_PAUSE`] when that can be neither found nor
//!   pulled (a machine without a registry still runs pods).
//! - **Containers** join it (`container:<sandbox>` network and IPC modes), so a pod's containers share
//!   one IP and reach each other on localhost; an ephemeral container with a target also joins the
//!   target's process namespace. Kubernetes' override rules: `command` becomes the Entrypoint (and
//!   the image's CMD is dropped), `args` the Cmd.
//! - **The pod's cgroup**: all of a pod's containers under one parent (`/skiff-docker/pod<uid>`,
//!   or a systemd slice), removed with the sandbox.
//! - **Resources** as the kubelet converts them (shares, CFS quota and period, memory with no swap).
//!   Docker's restart policy and healthchecks are off: the node agent owns restarts and probes.
//! - **Names and labels** are deterministic (`k8s_<container>_<pod>_<ns>_<uid>_<attempt>`, the
//!   sandbox `k8s_POD_...`) and every object carries the agent's labels, so a restarted agent finds
//!   what it owns by listing; Docker is the only source of truth.
//! - **OOM**: Docker's `OOMKilled` flag, and exit 137 as cri-dockerd reports it.
//!
//! Every engine call has a timeout ([`DockerConfig::call_timeout`]), so one hung call never stalls
//! the node agent (except pulls and streams, which take as long as they take).

mod cgroup;
mod convert;
mod pause;
mod runtime;

pub use convert::{name_for, pull_reference};
pub use pause::SELF_BUILT_PAUSE;
pub use runtime::{DockerConfig, DockerRuntime};
pub use skiff_core as core;
