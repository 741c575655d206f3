//! The node side's two seams, shaped like Kubernetes' CRI and CNI: [`Runtime`] runs pod sandboxes and
//! their containers, [`Network`] gives a sandbox its IP. The node agent is written against these traits
//! only; `skiff-runtime-process`, `skiff-runtime-docker` and `skiff-runtime-podman` implement them.
//!
//! The model is the CRI's:
//! - a **sandbox** holds what a pod's containers share — the network namespace (one IP per pod), and
//!   for runtimes that have them, the pod's cgroup and volumes' directories;
//! - a **container** is created in a sandbox from a [`ContainerConfig`], started, stopped with a
//!   grace period and removed; once exited it keeps its [`ContainerInfo`] (exit code, reason such as
//!   `OOMKilled`) and its logs until it is removed;
//! - everything carries **labels** (see [`labels`]), so an agent that restarts lists what it owns with
//!   [`Runtime::list_sandboxes`] / [`Runtime::list_containers`] and adopts it instead of restarting it.
//!
//! ```
//! use skiff_core::runtime::{labels, LabelFilter};
//! let filter = LabelFilter::new().with(labels::POD_UID, "6f1c");
//! let mut l = std::collections::BTreeMap::new();
//! l.insert(labels::POD_UID.to_string(), "6f1c".to_string());
//! assert!(filter.matches(&l));
//! ```

pub mod engine;
mod network;
mod types;

use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use futures::stream::BoxStream;

pub use network::{IpConfig, Network, PodNetworkRef};
pub use types::{
    ContainerConfig, ContainerInfo, ContainerState, ExecIo, ImageInfo, ImageRequest, LabelFilter,
    LogOptions, Mount, NetworkNamespace, PullPolicy, RegistryCredential, Resources, RuntimeError,
    RuntimeEvent, RuntimeEventKind, RuntimeVersion, SandboxConfig, SandboxInfo, SandboxState,
};

/// Label keys the node agent puts on sandboxes and containers.
pub mod labels {
    /// The pod's UID.
    pub const POD_UID: &str = "skiff.io/pod-uid";
    /// The pod's name.
    pub const POD_NAME: &str = "skiff.io/pod-name";
    /// The pod's namespace.
    pub const POD_NAMESPACE: &str = "skiff.io/pod-namespace";
    /// The container's name in the pod spec.
    pub const CONTAINER_NAME: &str = "skiff.io/container-name";
    /// How many times this container was restarted before this instance (its restartCount).
    pub const ATTEMPT: &str = "skiff.io/attempt";
    /// `init` for init containers, `ephemeral` for ephemeral containers, `app` otherwise.
    pub const CONTAINER_KIND: &str = "skiff.io/container-kind";

    /// The [`ATTEMPT`] of a container's labels (0 when missing).
    pub fn attempt(labels: &std::collections::BTreeMap<String, String>) -> i32 {
        labels
            .get(ATTEMPT)
            .and_then(|a| a.parse().ok())
            .unwrap_or(0)
    }
}

/// A container runtime, CRI-shaped. See the [module docs](self).
///
/// Every method is idempotent where the CRI's is: stopping a stopped sandbox or removing a missing
/// container succeeds.
#[async_trait]
pub trait Runtime: Send + Sync + 'static {
    /// The runtime's name and version (shown in the Node's `nodeInfo.containerRuntimeVersion`).
    async fn version(&self) -> Result<RuntimeVersion, RuntimeError>;

    /// Creates and starts a sandbox: network namespace with the pod's IP, the pod cgroup.
    async fn run_pod_sandbox(&self, config: &SandboxConfig) -> Result<String, RuntimeError>;
    /// Stops a sandbox: kills its containers, releases its network.
    async fn stop_pod_sandbox(&self, id: &str) -> Result<(), RuntimeError>;
    /// Removes a stopped sandbox and everything in it (containers, logs, emptyDir volumes).
    async fn remove_pod_sandbox(&self, id: &str) -> Result<(), RuntimeError>;
    /// A sandbox's state and IP.
    async fn sandbox_status(&self, id: &str) -> Result<SandboxInfo, RuntimeError>;
    /// Sandboxes whose labels match `filter`.
    async fn list_sandboxes(&self, filter: &LabelFilter) -> Result<Vec<SandboxInfo>, RuntimeError>;

    /// Makes an image available per its pull policy; [`RuntimeError::ImageNotFound`] says what was looked for.
    async fn ensure_image(&self, request: &ImageRequest) -> Result<ImageInfo, RuntimeError>;

    /// Creates (does not start) a container in `sandbox`.
    async fn create_container(
        &self,
        sandbox: &str,
        config: &ContainerConfig,
    ) -> Result<String, RuntimeError>;
    /// Starts a created container.
    async fn start_container(&self, id: &str) -> Result<(), RuntimeError>;
    /// Stops a container: SIGTERM, then SIGKILL after `timeout`.
    async fn stop_container(&self, id: &str, timeout: Duration) -> Result<(), RuntimeError>;
    /// Removes a stopped container and its logs.
    async fn remove_container(&self, id: &str) -> Result<(), RuntimeError>;
    /// A container's state.
    async fn container_status(&self, id: &str) -> Result<ContainerInfo, RuntimeError>;
    /// Containers whose labels match `filter`.
    async fn list_containers(
        &self,
        filter: &LabelFilter,
    ) -> Result<Vec<ContainerInfo>, RuntimeError>;

    /// A container's output (stdout and stderr interleaved), optionally followed until it exits.
    async fn logs(
        &self,
        id: &str,
        options: &LogOptions,
    ) -> Result<BoxStream<'static, Result<Bytes, RuntimeError>>, RuntimeError>;

    /// Runs `command` in a running container's namespaces and cgroup; returns its exit code.
    async fn exec(&self, id: &str, command: &[String], io: ExecIo) -> Result<i32, RuntimeError>;

    /// The engine's container events (the CRI's `GetContainerEvents`, what Kubernetes' evented
    /// PLEG reads): a stream of starts and exits of this runtime's containers, from now on. The
    /// node agent syncs a pod as soon as one of its containers changes, instead of at its next
    /// relist; the relist stays, for what an event stream can miss.
    ///
    /// `Ok(None)` (the default): the runtime has no event stream, and relisting is all there is.
    /// A stream that ends means the engine went away: the agent asks again.
    async fn events(&self) -> Result<Option<BoxStream<'static, RuntimeEvent>>, RuntimeError> {
        Ok(None)
    }

    /// Attaches to a running container's own process (`kubectl attach`, `kubectl debug -i`): its
    /// output from now on goes to `io.stdout` (stdout and stderr interleaved, as with a terminal),
    /// and `io.stdin`, when given and the container was created with
    /// [`ContainerConfig::stdin`], feeds its stdin (with [`ContainerConfig::stdin_once`], the end
    /// of this client's stdin closes it for good). Returns when the container exits.
    ///
    /// The default refuses: a runtime that cannot attach says so.
    async fn attach(&self, id: &str, io: ExecIo) -> Result<(), RuntimeError> {
        let _ = io;
        Err(RuntimeError::Invalid(format!(
            "container {id}: this runtime cannot attach to containers"
        )))
    }

    /// The network namespace of a ready sandbox, which `kubectl port-forward` connects from (the
    /// CRI's `PortForward` does the same: it dials `localhost:PORT` inside the pod's namespace, so
    /// a port bound to the pod's loopback is reachable too).
    ///
    /// The default refuses: a runtime that cannot tell says so.
    async fn network_namespace(&self, sandbox: &str) -> Result<NetworkNamespace, RuntimeError> {
        Err(RuntimeError::Invalid(format!(
            "sandbox {sandbox}: this runtime cannot port-forward"
        )))
    }
}

/// Runs `command` in container `id` with no stdin and returns (exit code, stdout and stderr together),
/// e.g. for exec probes.
pub async fn exec_capture(
    runtime: &dyn Runtime,
    id: &str,
    command: &[String],
) -> Result<(i32, Vec<u8>), RuntimeError> {
    let (writer, mut reader) = tokio::io::duplex(64 * 1024);
    let (err_writer, mut err_reader) = tokio::io::duplex(64 * 1024);
    let io = ExecIo {
        stdin: None,
        stdout: Box::new(writer),
        stderr: Box::new(err_writer),
    };
    let read = async {
        use tokio::io::AsyncReadExt;
        let mut out = Vec::new();
        let mut err = Vec::new();
        let _ = tokio::join!(
            reader.read_to_end(&mut out),
            err_reader.read_to_end(&mut err)
        );
        out.extend_from_slice(&err);
        out
    };
    let (code, out) = tokio::join!(runtime.exec(id, command, io), read);
    Ok((code?, out))
}
