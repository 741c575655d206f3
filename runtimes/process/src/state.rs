//! What the runtime keeps on disk, so that it — and the shims — survive the agent.
//!
//! ```text
//! ROOT/sandboxes/<id>/sandbox.json     SandboxRecord
//! ROOT/containers/<id>/container.json  ContainerRecord (also the shim's instructions)
//! ROOT/containers/<id>/started.json    written by the shim once the process runs: pid, start time
//! ROOT/containers/<id>/exit.json       written by the shim when the process is gone: code, OOM
//! ROOT/containers/<id>/log             stdout and stderr
//! ROOT/containers/<id>/attach.sock     the shim's stdin socket, for containers with `stdin`
//! ```

use std::io;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use skiff_core::runtime::{ContainerConfig, Mount, SandboxConfig};

/// A sandbox as recorded.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct SandboxRecord {
    /// Id.
    pub id: String,
    /// What it was made from.
    pub config: SandboxConfig,
    /// Creation time.
    pub created_at: DateTime<Utc>,
    /// Name of its network namespace under /run/netns, when it has one.
    pub netns: Option<String>,
    /// Its IP.
    pub ip: Option<String>,
    /// Why it shares the host network although it asked for its own.
    pub network_note: Option<String>,
    /// Its cgroup path (relative to the hierarchy root), when cgroups are in use.
    pub cgroup: Option<String>,
    /// Stopped by `stop_pod_sandbox`.
    pub stopped: bool,
}

/// A container as recorded: everything the shim needs to start it.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ContainerRecord {
    /// Id.
    pub id: String,
    /// Its sandbox.
    pub sandbox_id: String,
    /// What it was made from.
    pub config: ContainerConfig,
    /// Image id.
    pub image_id: String,
    /// Program and arguments, resolved.
    pub argv: Vec<String>,
    /// Full environment.
    pub env: Vec<(String, String)>,
    /// Working directory.
    pub cwd: PathBuf,
    /// Network namespace to join (a path), if any.
    pub netns: Option<PathBuf>,
    /// `cgroup.procs` files to join.
    pub cgroup_procs: Vec<PathBuf>,
    /// Its cgroup path, for OOM counting and cleanup.
    pub cgroup: Option<String>,
    /// Bind mounts, made in a private mount namespace.
    pub mounts: Vec<Mount>,
    /// The memory cgroup file counting OOM kills (`memory.oom_control` on v1, `memory.events` on v2).
    pub oom_events: Option<PathBuf>,
    /// Hostname (informational: the process runtime shares the host's UTS namespace).
    pub hostname: String,
    /// Creation time.
    pub created_at: DateTime<Utc>,
}

impl ContainerRecord {
    /// The OOM counter file, if the container has a memory cgroup.
    pub fn oom_file(&self) -> Option<&Path> {
        self.oom_events.as_deref()
    }
}

/// Written by the shim once the process runs.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Started {
    /// The container's main pid (also its process group).
    pub pid: i32,
    /// The shim's pid.
    pub shim_pid: i32,
    /// When it started.
    pub at: DateTime<Utc>,
}

/// Written by the shim when the process is gone.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Exited {
    /// Exit code (128 + signal for a signal).
    pub code: i32,
    /// The signal that killed it, if one did.
    pub signal: Option<i32>,
    /// The kernel OOM-killed a process of the container.
    pub oom_killed: bool,
    /// Why it never ran, when it did not (becomes the status message).
    pub start_error: Option<String>,
    /// When it ended.
    pub at: DateTime<Utc>,
}

/// Paths of one container's directory.
#[derive(Clone, Debug)]
pub struct ContainerDir(pub PathBuf);

impl ContainerDir {
    /// `container.json`.
    pub fn record(&self) -> PathBuf {
        self.0.join("container.json")
    }
    /// `started.json`.
    pub fn started(&self) -> PathBuf {
        self.0.join("started.json")
    }
    /// `exit.json`.
    pub fn exited(&self) -> PathBuf {
        self.0.join("exit.json")
    }
    /// `log`.
    pub fn log(&self) -> PathBuf {
        self.0.join("log")
    }
    /// `attach.sock`, relative to the directory (Unix socket paths are limited to 108 bytes: the
    /// shim binds it from inside the directory, clients reach it through an open directory handle).
    pub const ATTACH_SOCKET: &'static str = "attach.sock";
}

/// Writes `value` as JSON atomically (temp file + rename), so a crash never leaves half a record.
pub fn write_json<T: Serialize>(path: &Path, value: &T) -> io::Result<()> {
    let tmp = path.with_extension("tmp");
    let bytes = serde_json::to_vec_pretty(value).map_err(io::Error::other)?;
    std::fs::write(&tmp, bytes)?;
    std::fs::rename(&tmp, path)
}

/// Reads a JSON record; `Ok(None)` when the file does not exist.
pub fn read_json<T: DeserializeOwned>(path: &Path) -> io::Result<Option<T>> {
    match std::fs::read(path) {
        Ok(bytes) => serde_json::from_slice(&bytes).map(Some).map_err(|e| {
            io::Error::new(
                io::ErrorKind::InvalidData,
                format!("{}: {e}", path.display()),
            )
        }),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}
