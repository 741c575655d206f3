//! # skiff-runtime-process
//!
//! The runtime `skiff up` uses by default, because it needs no container engine: `skiff-core`'s
//! CRI-shaped [`Runtime`](skiff_core::runtime::Runtime) over bare processes.
//!
//! - **Containers** are process trees started from the container's command and args on the host's
//!   filesystem, with env and workingDir, under a [shim](shim) (`skiff shim`, a hidden subcommand of the
//!   `skiff` binary) that owns their output, records their exit and OOM kill, and outlives the agent.
//! - **Images**: with a `command` the image is only recorded; without one the image's last path segment
//!   (`library/nginx:1.27` → `nginx`) is looked up in `PATH` ([`image`]); when missing the container
//!   waits with `ErrImagePull` and the message says what was looked for.
//! - **cgroups** ([`cgroup`]): a cgroup per pod with a child per container instance, v1 or v2 detected
//!   at run time; requests and limits converted as the kubelet does.
//! - **Network** ([`bridge`]): as root, a network namespace per pod wired to bridge `skiff0`, one IP per
//!   pod shared by its containers (they reach each other on `localhost`). Without root, pods share the
//!   host network and [`ProcessRuntime::limitations`] says so.
//! - **Volumes**: bind mounts in a private mount namespace per container (root only); mount points
//!   missing on the host are created, since the host's filesystem is the containers' filesystem.
//! - **Attach and ephemeral containers** ([`attach`]): a container with `stdin` reads it from the
//!   shim, which takes attached clients' input on a socket in the container's directory; an
//!   ephemeral container with a target joins the target's mount namespace (network and, on this
//!   runtime, process namespaces are shared by the whole pod already). No terminal is allocated
//!   for `tty`.
//!
//! State lives under [`ProcessConfig::root`] (see [`state`]) so a restarted agent finds its pods.

pub mod attach;
pub mod bridge;
pub mod cgroup;
mod exec;
pub mod image;
mod logs;
mod netns;
mod runtime;
pub mod shim;
pub mod state;

pub use runtime::{ProcessConfig, ProcessRuntime};
pub use skiff_core as core;

/// The host's primary IPv4 address (the source address of its default route), or 127.0.0.1.
pub fn host_ip() -> String {
    std::net::UdpSocket::bind("0.0.0.0:0")
        .and_then(|s| {
            s.connect("10.255.255.255:9")?;
            s.local_addr()
        })
        .map(|a| a.ip().to_string())
        .unwrap_or_else(|_| "127.0.0.1".into())
}
