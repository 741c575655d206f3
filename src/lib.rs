//! # skiff
//!
//! Kubernetes' architecture in Rust, small enough to read and real enough to run. This facade crate
//! re-exports the layers so that one dependency is enough:
//!
//! - [`core`] (`skiff-core`): the object model, validation, defaulting, decoding, and the traits
//!   everything else is written against;
//! - [`api`] (`skiff-api`): the HTTP API server and client;
//! - [`controllers`] (`skiff-controllers`): scheduler, controllers, node agent and proxy;
//! - [`runtime`]: the container runtimes (`process`, `docker`, `podman`).
//!
//! It also holds the `skiff` command line ([`cli`]).
//!
//! ```
//! use skiff::core::kinds::Pod;
//! let pod = Pod::named("web");
//! assert_eq!(pod.kind, "Pod");
//! ```

pub mod cli;

pub use skiff_api as api;
pub use skiff_controllers as controllers;
pub use skiff_core as core;

/// The container runtimes a node agent can use, chosen by config.
pub mod runtime {
    pub use skiff_runtime_docker as docker;
    pub use skiff_runtime_podman as podman;
    pub use skiff_runtime_process as process;
}

/// Skiff's version, as `skiff version` prints it.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// Whether this process runs as root (uid 0, as `/proc/self/status` says): what the process
/// runtime's cgroups and network namespaces and the service proxy's rules and addresses need.
///
/// ```
/// let _ = skiff::is_root();
/// ```
pub fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status").is_ok_and(|s| {
        s.lines()
            .find(|l| l.starts_with("Uid:"))
            .and_then(|l| l.split_whitespace().nth(1))
            == Some("0")
    })
}
