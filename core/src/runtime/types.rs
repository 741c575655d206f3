//! The data the [`Runtime`](super::Runtime) trait speaks.

use std::collections::BTreeMap;
use std::path::PathBuf;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use tokio::io::{AsyncRead, AsyncWrite};

/// Errors of a runtime, each saying what a user can do about it.
#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    /// No sandbox or container with this id.
    #[error("{what} {id} not found")]
    NotFound {
        /// `sandbox` or `container`.
        what: &'static str,
        /// The id asked for.
        id: String,
    },
    /// The image is not available and cannot be pulled (the container waits with `ErrImagePull`).
    #[error("{message}")]
    ImageNotFound {
        /// The image reference.
        image: String,
        /// What was looked for, and where.
        message: String,
    },
    /// The request cannot be carried out as given (e.g. a volume mount without root).
    #[error("{0}")]
    Invalid(String),
    /// The engine is not reachable (not installed or not running).
    #[error("container engine unavailable: {0}")]
    Unavailable(String),
    /// Setting up the pod network failed.
    #[error("network: {0}")]
    Network(String),
    /// An operating-system call failed.
    #[error("{context}: {source}")]
    Io {
        /// What was being done.
        context: String,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// Anything else the engine reported.
    #[error("{0}")]
    Other(String),
}

impl RuntimeError {
    /// An [`RuntimeError::Io`] with its context.
    pub fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        Self::Io {
            context: context.into(),
            source,
        }
    }

    /// Whether this is [`RuntimeError::NotFound`].
    pub fn is_not_found(&self) -> bool {
        matches!(self, Self::NotFound { .. })
    }
}

/// Name and version of a runtime, e.g. `process` / `0.1.0`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RuntimeVersion {
    /// Runtime name (`process`, `docker`, `podman`).
    pub name: String,
    /// Its version.
    pub version: String,
}

/// Selects sandboxes or containers whose labels contain all of these pairs.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LabelFilter(pub BTreeMap<String, String>);

impl LabelFilter {
    /// Matches everything.
    pub fn new() -> Self {
        Self::default()
    }

    /// Also requires `key=value`.
    pub fn with(mut self, key: &str, value: &str) -> Self {
        self.0.insert(key.to_string(), value.to_string());
        self
    }

    /// Whether `labels` has every pair of the filter.
    pub fn matches(&self, labels: &BTreeMap<String, String>) -> bool {
        self.0.iter().all(|(k, v)| labels.get(k) == Some(v))
    }
}

/// What a sandbox is made from.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct SandboxConfig {
    /// Pod name.
    pub name: String,
    /// Pod namespace.
    pub namespace: String,
    /// Pod UID.
    pub uid: String,
    /// Hostname inside the pod.
    pub hostname: String,
    /// Labels (see [`labels`](super::labels)).
    pub labels: BTreeMap<String, String>,
    /// Share the host's network instead of a namespace of its own.
    pub host_network: bool,
}

/// A sandbox's state.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum SandboxState {
    /// Its network and cgroup are in place.
    Ready,
    /// Stopped, or its network namespace is gone.
    NotReady,
}

/// Where a sandbox's network lives: what a port-forward connects from ([`Runtime::network_namespace`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NetworkNamespace {
    /// The pod shares the node's network: its ports are the node's own.
    Host,
    /// The pod's own namespace, as a path that `setns(2)` can open (`/run/netns/NAME`,
    /// `/proc/PID/ns/net`).
    Path(std::path::PathBuf),
}

/// What a runtime knows about a sandbox.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SandboxInfo {
    /// Runtime id.
    pub id: String,
    /// Its state.
    pub state: SandboxState,
    /// The pod's IP (the node's when the pod shares the host network).
    pub ip: Option<String>,
    /// Labels from the config.
    pub labels: BTreeMap<String, String>,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// Why the pod has no network of its own, when it asked for one (e.g. not running as root).
    pub network_note: Option<String>,
}

/// When an image is fetched (Kubernetes' `imagePullPolicy`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum PullPolicy {
    /// Pull every time.
    Always,
    /// Pull when missing (the default unless the tag is `latest`).
    #[default]
    IfNotPresent,
    /// Never pull: fail when missing.
    Never,
}

impl PullPolicy {
    /// Parses Kubernetes' spelling; unknown or absent values are `IfNotPresent`.
    pub fn parse(s: Option<&str>) -> Self {
        match s {
            Some("Always") => Self::Always,
            Some("Never") => Self::Never,
            _ => Self::IfNotPresent,
        }
    }
}

/// An image to make available.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ImageRequest {
    /// The reference as written in the pod (`nginx:1.27`, `python3`).
    pub image: String,
    /// When to pull.
    pub policy: PullPolicy,
    /// Whether the container gives its own `command` (a runtime whose images are executables needs
    /// nothing from the image then).
    pub has_command: bool,
    /// Credentials for the image's registry from the pod's `imagePullSecrets`, tried in order (an
    /// engine pulls anonymously when there are none).
    pub credentials: Vec<RegistryCredential>,
}

/// A user name and password for a registry (from a `kubernetes.io/dockerconfigjson` Secret).
#[derive(Clone, PartialEq, Eq)]
pub struct RegistryCredential {
    /// The registry as the Secret names it (`127.0.0.1:5001`, `https://index.docker.io/v1/`).
    pub server: String,
    /// The user.
    pub username: String,
    /// The password or token.
    pub password: String,
}

impl std::fmt::Debug for RegistryCredential {
    /// The password is never printed.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RegistryCredential")
            .field("server", &self.server)
            .field("username", &self.username)
            .field("password", &"<redacted>")
            .finish()
    }
}

/// An available image.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ImageInfo {
    /// Its id (`imageID` in container statuses).
    pub id: String,
    /// Whether this call pulled it (`false`: it was present, or the runtime has no registry).
    pub pulled: bool,
}

/// A volume or file mounted into a container.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Mount {
    /// Where it comes from on the host.
    pub host_path: PathBuf,
    /// Where the container sees it.
    pub container_path: PathBuf,
    /// Mounted read-only.
    pub read_only: bool,
}

/// Resource limits, already converted as the kubelet converts them (see `behaviours.md`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Resources {
    /// cgroup v1 `cpu.shares` from the CPU request (v2 weight is derived from it).
    pub cpu_shares: Option<u64>,
    /// CFS quota in µs per [`Resources::CPU_PERIOD_US`] from the CPU limit.
    pub cpu_quota_us: Option<i64>,
    /// Memory limit in bytes.
    pub memory_limit_bytes: Option<i64>,
}

impl Resources {
    /// The CFS period (100 ms), as the kubelet uses.
    pub const CPU_PERIOD_US: i64 = 100_000;

    /// Converts a container's requests and limits: CPU request → shares (`m*1024/1000`, clamped to
    /// [2, 262144]), CPU limit → quota (`m*100`, at least 1000 µs), memory limit → bytes.
    ///
    /// ```
    /// use skiff_core::runtime::Resources;
    /// use skiff_core::kinds::ResourceRequirements;
    /// let r: ResourceRequirements = serde_json::from_value(serde_json::json!({
    ///     "requests": {"cpu": "250m"}, "limits": {"cpu": "500m", "memory": "64Mi"}})).unwrap();
    /// let res = Resources::from_requirements(&r);
    /// assert_eq!(res.cpu_shares, Some(256));
    /// assert_eq!(res.cpu_quota_us, Some(50_000));
    /// assert_eq!(res.memory_limit_bytes, Some(64 << 20));
    /// ```
    pub fn from_requirements(r: &crate::kinds::ResourceRequirements) -> Self {
        let milli = |q: &crate::Quantity| q.millis();
        let cpu_request = r
            .requests
            .get("cpu")
            .or_else(|| r.limits.get("cpu"))
            .map(milli);
        Self {
            cpu_shares: cpu_request.map(|m| ((m.max(0) * 1024) / 1000).clamp(2, 262_144) as u64),
            cpu_quota_us: r
                .limits
                .get("cpu")
                .map(|q| (milli(q).saturating_mul(Self::CPU_PERIOD_US) / 1000).max(1000)),
            memory_limit_bytes: r.limits.get("memory").map(|q| q.value().max(0)),
        }
    }
}

/// What a container is made from.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ContainerConfig {
    /// Name in the pod spec.
    pub name: String,
    /// Image reference as written in the pod.
    pub image: String,
    /// `command` (overrides the image's entrypoint).
    pub command: Vec<String>,
    /// `args`.
    pub args: Vec<String>,
    /// Environment, in order.
    pub env: Vec<(String, String)>,
    /// Working directory.
    pub working_dir: Option<String>,
    /// Volume mounts.
    pub mounts: Vec<Mount>,
    /// Limits.
    pub resources: Resources,
    /// Labels (see [`labels`](super::labels)).
    pub labels: BTreeMap<String, String>,
    /// Keep the process's stdin open for [`Runtime::attach`](super::Runtime::attach) (`stdin`).
    #[serde(default)]
    pub stdin: bool,
    /// Close stdin when the first attached client's input ends (`stdinOnce`).
    #[serde(default)]
    pub stdin_once: bool,
    /// A terminal was asked for (`tty`); runtimes without terminals run the process without one.
    #[serde(default)]
    pub tty: bool,
    /// The runtime id of a container of the same sandbox whose namespaces this one joins (an
    /// ephemeral container's `targetContainerName`).
    #[serde(default)]
    pub target: Option<String>,
}

/// A container's state, CRI's four.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum ContainerState {
    /// Created, not started.
    Created,
    /// Running.
    Running,
    /// Finished; see exit code and reason.
    Exited,
    /// The runtime lost track of it.
    #[default]
    Unknown,
}

/// What a runtime knows about a container.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ContainerInfo {
    /// Runtime id.
    pub id: String,
    /// Its sandbox.
    pub sandbox_id: String,
    /// Name in the pod spec.
    pub name: String,
    /// Image reference.
    pub image: String,
    /// Image id.
    pub image_id: String,
    /// Labels from the config.
    pub labels: BTreeMap<String, String>,
    /// State.
    pub state: ContainerState,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// When it started.
    pub started_at: Option<DateTime<Utc>>,
    /// When it finished.
    pub finished_at: Option<DateTime<Utc>>,
    /// Exit code (128 + signal when killed by a signal).
    pub exit_code: Option<i32>,
    /// `Completed`, `Error` or `OOMKilled` once exited.
    pub reason: Option<String>,
    /// More detail, e.g. the signal.
    pub message: Option<String>,
}

/// What happened to a container, as the engine reports it on its own (the CRI's container events).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RuntimeEventKind {
    /// It started.
    Started,
    /// Its process exited (or was killed, OOM included).
    Stopped,
}

/// A container event from the engine's event stream ([`Runtime::events`](super::Runtime::events)).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RuntimeEvent {
    /// The container's runtime id.
    pub container_id: String,
    /// Its labels (the pod's UID among them), so the agent knows which pod to look at.
    pub labels: BTreeMap<String, String>,
    /// What happened.
    pub kind: RuntimeEventKind,
}

/// How much of a log to read.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LogOptions {
    /// Keep streaming until the container exits.
    pub follow: bool,
    /// Only the last N lines.
    pub tail_lines: Option<usize>,
    /// Only up to this many bytes.
    pub limit_bytes: Option<usize>,
}

/// The streams of an exec.
pub struct ExecIo {
    /// Input, if any (closed = EOF for the command).
    pub stdin: Option<Box<dyn AsyncRead + Send + Unpin>>,
    /// Output.
    pub stdout: Box<dyn AsyncWrite + Send + Unpin>,
    /// Errors.
    pub stderr: Box<dyn AsyncWrite + Send + Unpin>,
}

impl std::fmt::Debug for ExecIo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ExecIo")
            .field("stdin", &self.stdin.is_some())
            .finish_non_exhaustive()
    }
}
