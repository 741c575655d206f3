//! [`ProcessRuntime`]: the [`Runtime`] over bare processes. See the [crate docs](crate).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use chrono::Utc;
use futures::stream::BoxStream;
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use skiff_core::runtime::{
    ContainerConfig, ContainerInfo, ContainerState, ExecIo, ImageInfo, ImageRequest, LabelFilter,
    LogOptions, Network, NetworkNamespace, PodNetworkRef, Runtime, RuntimeError, RuntimeVersion,
    SandboxConfig, SandboxInfo, SandboxState,
};

use crate::bridge::BridgeNetwork;
use crate::cgroup::{CgroupManager, CgroupVersion};
use crate::image::{executable_name, find_in_path, DEFAULT_PATH};
use crate::logs;
use crate::state::{
    read_json, write_json, ContainerDir, ContainerRecord, Exited, SandboxRecord, Started,
};

/// How the process runtime is set up.
#[derive(Clone, Debug)]
pub struct ProcessConfig {
    /// Where sandboxes, containers and logs are kept (survives the agent).
    pub root: PathBuf,
    /// The shim command: program and leading arguments (`skiff shim` by default: the running binary).
    pub shim: Vec<String>,
    /// The node's address: the pod IP of pods without a network of their own.
    pub host_ip: String,
    /// Pod subnet `a.b.c.0/24` on the bridge.
    pub pod_subnet: [u8; 3],
    /// Bridge name.
    pub bridge: String,
    /// Give pods their own network namespaces (needs root; `None` = when root).
    pub pod_networking: Option<bool>,
    /// Use cgroups (needs root; `None` = when root and a hierarchy is writable).
    pub cgroups: Option<bool>,
}

impl ProcessConfig {
    /// Defaults under `root`: `skiff shim` from the running executable, bridge `skiff0` on 10.244.0.0/24.
    pub fn new(root: impl Into<PathBuf>) -> Self {
        let exe = std::env::current_exe()
            .map(|p| p.to_string_lossy().into_owned())
            .unwrap_or_else(|_| "skiff".into());
        Self {
            root: root.into(),
            shim: vec![exe, "shim".into()],
            host_ip: crate::host_ip(),
            pod_subnet: [10, 244, 0],
            bridge: "skiff0".into(),
            pod_networking: None,
            cgroups: None,
        }
    }
}

/// The runtime. See the [crate docs](crate).
pub struct ProcessRuntime {
    config: ProcessConfig,
    cgroups: Option<CgroupManager>,
    network: Option<Arc<dyn Network>>,
    notes: Vec<String>,
    /// Labels of the records on disk, by id (records never change their labels), so a list by
    /// labels reads one directory and only the records that match.
    labels: std::sync::Mutex<LabelIndex>,
}

#[derive(Default)]
struct LabelIndex {
    sandboxes: std::collections::HashMap<String, std::collections::BTreeMap<String, String>>,
    containers: std::collections::HashMap<String, std::collections::BTreeMap<String, String>>,
}

impl std::fmt::Debug for ProcessRuntime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProcessRuntime")
            .field("root", &self.config.root)
            .field("cgroups", &self.cgroups)
            .field("pod_networking", &self.network.is_some())
            .finish()
    }
}

fn io_err(context: impl Into<String>) -> impl FnOnce(std::io::Error) -> RuntimeError {
    let context = context.into();
    move |e| RuntimeError::io(context, e)
}

fn new_id() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

/// Whether a process exists.
fn alive(pid: i32) -> bool {
    pid > 0 && kill(Pid::from_raw(pid), None).is_ok() && !is_zombie(pid)
}

fn is_zombie(pid: i32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| {
            s.rsplit_once(')')
                .map(|(_, rest)| rest.trim_start().starts_with('Z'))
        })
        .unwrap_or(false)
}

impl ProcessRuntime {
    /// Opens (or creates) the runtime's state under `config.root`, detecting what the host allows:
    /// cgroups and pod networks need root. What is missing is listed by [`ProcessRuntime::limitations`].
    pub fn new(config: ProcessConfig) -> Result<Self, RuntimeError> {
        for d in ["sandboxes", "containers"] {
            let p = config.root.join(d);
            std::fs::create_dir_all(&p)
                .map_err(io_err(format!("cannot create {}", p.display())))?;
        }
        let root = nix::unistd::geteuid().is_root();
        let mut notes = Vec::new();
        let cgroups = if config.cgroups.unwrap_or(root) {
            match CgroupManager::detect() {
                Ok(c) => Some(c),
                Err(e) => {
                    notes.push(format!("resource limits are not enforced: {e}"));
                    None
                }
            }
        } else {
            notes.push("resource limits are not enforced: cgroups need root".into());
            None
        };
        let network: Option<Arc<dyn Network>> = if config.pod_networking.unwrap_or(root) {
            Some(Arc::new(BridgeNetwork::new(
                &config.bridge,
                config.pod_subnet,
                &config.root.join("ipam.json"),
            )))
        } else {
            notes.push(
                "pods share the node's network (pod IP = node IP): pod network namespaces need root"
                    .into(),
            );
            None
        };
        Ok(Self {
            config,
            cgroups,
            network,
            notes,
            labels: std::sync::Mutex::new(LabelIndex::default()),
        })
    }

    /// What this runtime cannot do on this host (e.g. not root), for the node's conditions and events.
    pub fn limitations(&self) -> &[String] {
        &self.notes
    }

    /// The cgroup manager, when cgroups are in use.
    pub fn cgroups(&self) -> Option<&CgroupManager> {
        self.cgroups.as_ref()
    }

    /// The cgroup path of a container (relative to the hierarchy root), when it has one.
    pub fn container_cgroup(&self, id: &str) -> Option<String> {
        self.container_record(id).ok().and_then(|r| r.cgroup)
    }

    fn sandbox_dir(&self, id: &str) -> PathBuf {
        self.config.root.join("sandboxes").join(id)
    }

    /// The configured shim command: its program and the arguments before the subcommand.
    fn shim(&self) -> Result<(&String, &[String]), RuntimeError> {
        self.config
            .shim
            .split_first()
            .ok_or_else(|| RuntimeError::Invalid("no shim command configured".into()))
    }

    fn container_dir(&self, id: &str) -> ContainerDir {
        ContainerDir(self.config.root.join("containers").join(id))
    }

    fn sandbox_record(&self, id: &str) -> Result<SandboxRecord, RuntimeError> {
        let path = self.sandbox_dir(id).join("sandbox.json");
        read_json(&path)
            .map_err(io_err(format!("cannot read {}", path.display())))?
            .ok_or_else(|| RuntimeError::NotFound {
                what: "sandbox",
                id: id.to_string(),
            })
    }

    fn container_record(&self, id: &str) -> Result<ContainerRecord, RuntimeError> {
        let dir = self.container_dir(id);
        read_json(&dir.record())
            .map_err(io_err(format!("cannot read {}", dir.record().display())))?
            .ok_or_else(|| RuntimeError::NotFound {
                what: "container",
                id: id.to_string(),
            })
    }

    fn ids(&self, kind: &str) -> Vec<String> {
        std::fs::read_dir(self.config.root.join(kind))
            .map(|rd| {
                rd.flatten()
                    .filter_map(|e| e.file_name().to_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Ids of `kind` ("sandboxes" or "containers") whose labels match `filter`: the directory is read
    /// for ids, labels come from the index (or the record, once).
    fn matching(&self, kind: &str, filter: &LabelFilter) -> Vec<String> {
        let ids = self.ids(kind);
        let mut index = self.labels.lock().unwrap_or_else(|p| p.into_inner());
        let map = if kind == "sandboxes" {
            &mut index.sandboxes
        } else {
            &mut index.containers
        };
        map.retain(|id, _| ids.contains(id));
        let mut out = Vec::new();
        for id in ids {
            if !map.contains_key(&id) {
                let labels = if kind == "sandboxes" {
                    self.sandbox_record(&id).ok().map(|r| r.config.labels)
                } else {
                    self.container_record(&id).ok().map(|r| r.config.labels)
                };
                match labels {
                    Some(l) => {
                        map.insert(id.clone(), l);
                    }
                    None => continue,
                }
            }
            if map.get(&id).is_some_and(|l| filter.matches(l)) {
                out.push(id);
            }
        }
        out
    }

    fn netns_path(name: &str) -> PathBuf {
        Path::new("/run/netns").join(name)
    }

    fn pod_ref(record: &SandboxRecord) -> PodNetworkRef {
        PodNetworkRef {
            namespace: record.config.namespace.clone(),
            name: record.config.name.clone(),
            sandbox_id: record.id.clone(),
        }
    }

    fn info(&self, record: &ContainerRecord) -> ContainerInfo {
        let dir = self.container_dir(&record.id);
        let started: Option<Started> = read_json(&dir.started()).ok().flatten();
        let exited: Option<Exited> = read_json(&dir.exited()).ok().flatten();
        let mut info = ContainerInfo {
            id: record.id.clone(),
            sandbox_id: record.sandbox_id.clone(),
            name: record.config.name.clone(),
            image: record.config.image.clone(),
            image_id: record.image_id.clone(),
            labels: record.config.labels.clone(),
            state: ContainerState::Created,
            created_at: record.created_at,
            started_at: started.as_ref().map(|s| s.at),
            finished_at: None,
            exit_code: None,
            reason: None,
            message: None,
        };
        if let Some(e) = exited {
            info.state = ContainerState::Exited;
            info.finished_at = Some(e.at);
            info.exit_code = Some(e.code);
            info.reason = Some(
                if e.oom_killed {
                    "OOMKilled"
                } else if e.start_error.is_some() {
                    "StartError"
                } else if e.code == 0 {
                    "Completed"
                } else {
                    "Error"
                }
                .to_string(),
            );
            info.message = e
                .start_error
                .or_else(|| e.signal.map(|s| format!("killed by signal {s}")));
        } else if let Some(s) = started {
            if alive(s.pid) || alive(s.shim_pid) {
                info.state = ContainerState::Running;
            } else {
                // Both gone without a word: the shim was killed (or the node rebooted).
                info.state = ContainerState::Unknown;
                info.message = Some("the container's supervisor is gone".into());
            }
        }
        info
    }

    async fn wait_for(path: &Path, timeout: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + timeout;
        let mut delay = Duration::from_micros(500);
        while tokio::time::Instant::now() < deadline {
            if path.exists() {
                return true;
            }
            tokio::time::sleep(delay).await;
            delay = (delay * 2).min(Duration::from_millis(20));
        }
        path.exists()
    }

    fn signal_group(pid: i32, signal: Signal) {
        if pid > 0 {
            let _ = kill(Pid::from_raw(-pid), signal);
            let _ = kill(Pid::from_raw(pid), signal);
        }
    }
}

#[async_trait]
impl Runtime for ProcessRuntime {
    async fn version(&self) -> Result<RuntimeVersion, RuntimeError> {
        Ok(RuntimeVersion {
            name: "process".into(),
            version: env!("CARGO_PKG_VERSION").into(),
        })
    }

    async fn run_pod_sandbox(&self, config: &SandboxConfig) -> Result<String, RuntimeError> {
        let id = new_id();
        let dir = self.sandbox_dir(&id);
        std::fs::create_dir_all(&dir)
            .map_err(io_err(format!("cannot create {}", dir.display())))?;
        let mut record = SandboxRecord {
            id: id.clone(),
            config: config.clone(),
            created_at: Utc::now(),
            netns: None,
            ip: Some(self.config.host_ip.clone()),
            network_note: None,
            cgroup: None,
            stopped: false,
        };
        if let Some(cg) = &self.cgroups {
            let path = format!("skiff/pod{}", config.uid);
            cg.create(&path, &Default::default())
                .map_err(io_err(format!("cannot create cgroup {path}")))?;
            record.cgroup = Some(path);
        }
        match (&self.network, config.host_network) {
            (_, true) => {}
            (Some(net), false) => {
                let name = format!("skiff-{}", &id[..12]);
                crate::netns::add(&name).await?;
                record.netns = Some(name.clone());
                // Recorded before wiring, so a failure is cleaned up by stop/remove.
                write_json(&dir.join("sandbox.json"), &record)
                    .map_err(io_err("cannot record the sandbox"))?;
                let ipc = net
                    .add(&Self::pod_ref(&record), &Self::netns_path(&name))
                    .await?;
                record.ip = Some(ipc.ip.to_string());
            }
            (None, false) => {
                record.network_note = self.notes.iter().find(|n| n.contains("network")).cloned();
            }
        }
        write_json(&dir.join("sandbox.json"), &record)
            .map_err(io_err("cannot record the sandbox"))?;
        Ok(id)
    }

    async fn stop_pod_sandbox(&self, id: &str) -> Result<(), RuntimeError> {
        let mut record = match self.sandbox_record(id) {
            Ok(r) => r,
            Err(e) if e.is_not_found() => return Ok(()),
            Err(e) => return Err(e),
        };
        for cid in self.ids("containers") {
            if let Ok(c) = self.container_record(&cid) {
                if c.sandbox_id == id {
                    self.stop_container(&cid, Duration::ZERO).await?;
                }
            }
        }
        if let Some(name) = &record.netns {
            if let Some(net) = &self.network {
                net.del(&Self::pod_ref(&record), &Self::netns_path(name))
                    .await?;
            }
            crate::netns::del(name).await?;
        }
        record.stopped = true;
        write_json(&self.sandbox_dir(id).join("sandbox.json"), &record)
            .map_err(io_err("cannot record the sandbox"))
    }

    async fn remove_pod_sandbox(&self, id: &str) -> Result<(), RuntimeError> {
        let record = match self.sandbox_record(id) {
            Ok(r) => r,
            Err(e) if e.is_not_found() => return Ok(()),
            Err(e) => return Err(e),
        };
        self.stop_pod_sandbox(id).await?;
        for cid in self.ids("containers") {
            if let Ok(c) = self.container_record(&cid) {
                if c.sandbox_id == id {
                    self.remove_container(&cid).await?;
                }
            }
        }
        // Another sandbox of the same pod (a recreated one) may still use the pod cgroup.
        let shared = self.ids("sandboxes").iter().any(|other| {
            other != id
                && self
                    .sandbox_record(other)
                    .is_ok_and(|o| o.config.uid == record.config.uid)
        });
        if let (Some(cg), Some(path), false) = (&self.cgroups, &record.cgroup, shared) {
            cg.remove(path)
                .map_err(io_err(format!("cannot remove cgroup {path}")))?;
        }
        let dir = self.sandbox_dir(id);
        std::fs::remove_dir_all(&dir).map_err(io_err(format!("cannot remove {}", dir.display())))
    }

    async fn sandbox_status(&self, id: &str) -> Result<SandboxInfo, RuntimeError> {
        let r = self.sandbox_record(id)?;
        let network_ok = r
            .netns
            .as_ref()
            .is_none_or(|n| Self::netns_path(n).exists());
        Ok(SandboxInfo {
            id: r.id,
            state: if !r.stopped && network_ok {
                SandboxState::Ready
            } else {
                SandboxState::NotReady
            },
            ip: r.ip,
            labels: r.config.labels,
            created_at: r.created_at,
            network_note: r.network_note,
        })
    }

    async fn list_sandboxes(&self, filter: &LabelFilter) -> Result<Vec<SandboxInfo>, RuntimeError> {
        let mut out = Vec::new();
        for id in self.matching("sandboxes", filter) {
            if let Ok(s) = self.sandbox_status(&id).await {
                out.push(s);
            }
        }
        Ok(out)
    }

    async fn ensure_image(&self, request: &ImageRequest) -> Result<ImageInfo, RuntimeError> {
        if request.has_command {
            return Ok(ImageInfo {
                id: format!("process://{}", request.image),
                pulled: false,
            });
        }
        let name = executable_name(&request.image);
        match find_in_path(name, DEFAULT_PATH) {
            Some(path) => Ok(ImageInfo {
                id: format!("process://{}", path.display()),
                pulled: false,
            }),
            None => Err(RuntimeError::ImageNotFound {
                image: request.image.clone(),
                message: format!(
                    "image {:?}: the process runtime runs the executable the image names, and {name:?} is not in PATH ({DEFAULT_PATH}); install it or give the container a command",
                    request.image
                ),
            }),
        }
    }

    async fn create_container(
        &self,
        sandbox: &str,
        config: &ContainerConfig,
    ) -> Result<String, RuntimeError> {
        let sb = self.sandbox_record(sandbox)?;
        if let Some(target) = &config.target {
            let t = self.container_record(target)?;
            if t.sandbox_id != sandbox {
                return Err(RuntimeError::Invalid(format!(
                    "target container {target} is in another sandbox"
                )));
            }
        }
        if !config.mounts.is_empty() && !nix::unistd::geteuid().is_root() {
            return Err(RuntimeError::Invalid(
                "volume mounts need root (they are made in a private mount namespace)".into(),
            ));
        }
        let mut env = config.env.clone();
        let path_var = env
            .iter()
            .rev()
            .find(|(k, _)| k == "PATH")
            .map(|(_, v)| v.clone());
        if path_var.is_none() {
            env.insert(0, ("PATH".into(), DEFAULT_PATH.into()));
        }
        if !env.iter().any(|(k, _)| k == "HOSTNAME") {
            env.insert(0, ("HOSTNAME".into(), sb.config.hostname.clone()));
        }
        let search = path_var.as_deref().unwrap_or(DEFAULT_PATH);
        let (argv, image_id) = if config.command.is_empty() {
            let name = executable_name(&config.image);
            let exe = find_in_path(name, search).ok_or_else(|| RuntimeError::ImageNotFound {
                image: config.image.clone(),
                message: format!(
                    "image {:?}: {name:?} is not in PATH ({search}); install it or give the container a command",
                    config.image
                ),
            })?;
            let exe = exe.to_string_lossy().into_owned();
            let mut argv = vec![exe.clone()];
            argv.extend(config.args.iter().cloned());
            (argv, format!("process://{exe}"))
        } else {
            let mut argv = config.command.clone();
            argv.extend(config.args.iter().cloned());
            (argv, format!("process://{}", config.image))
        };
        let id = new_id();
        let dir = self.container_dir(&id);
        std::fs::create_dir_all(&dir.0)
            .map_err(io_err(format!("cannot create {}", dir.0.display())))?;
        let (cgroup, cgroup_procs, oom_events) = match (&self.cgroups, &sb.cgroup) {
            (Some(cg), Some(pod)) => {
                let path = format!("{pod}/{id}");
                cg.create(&path, &config.resources)
                    .map_err(io_err(format!("cannot set up cgroup {path}")))?;
                let oom = cg.dirs(&path).into_iter().find_map(|d| {
                    let f = match cg.version() {
                        CgroupVersion::V1 => d.join("memory.oom_control"),
                        CgroupVersion::V2 => d.join("memory.events"),
                    };
                    f.exists().then_some(f)
                });
                (Some(path.clone()), cg.procs_files(&path), oom)
            }
            _ => (None, Vec::new(), None),
        };
        let record = ContainerRecord {
            id: id.clone(),
            sandbox_id: sandbox.to_string(),
            config: config.clone(),
            image_id,
            argv,
            env,
            cwd: PathBuf::from(config.working_dir.as_deref().unwrap_or("/")),
            netns: sb.netns.as_deref().map(Self::netns_path),
            cgroup_procs,
            cgroup,
            oom_events,
            mounts: config.mounts.clone(),
            hostname: sb.config.hostname.clone(),
            created_at: Utc::now(),
        };
        write_json(&dir.record(), &record).map_err(io_err("cannot record the container"))?;
        Ok(id)
    }

    async fn start_container(&self, id: &str) -> Result<(), RuntimeError> {
        let _record = self.container_record(id)?;
        let dir = self.container_dir(id);
        let (program, lead) = self.shim()?;
        let shim_log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(dir.0.join("shim.log"))
            .map_err(io_err("cannot open the shim's log"))?;
        let mut child = tokio::process::Command::new(program)
            .args(lead)
            .arg("run")
            .arg(&dir.0)
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(shim_log)
            .spawn()
            .map_err(io_err(format!("cannot start the shim {program}")))?;
        // Reap the shim when it ends (if the agent is still here then).
        tokio::spawn(async move {
            let _ = child.wait().await;
        });
        let deadline = Duration::from_secs(10);
        let started = dir.started();
        let exited = dir.exited();
        tokio::select! {
            s = Self::wait_for(&started, deadline) => if s { return Ok(()) },
            e = Self::wait_for(&exited, deadline) => if e { return Ok(()) },
        }
        if started.exists() || exited.exists() {
            return Ok(());
        }
        Err(RuntimeError::Other(format!(
            "the shim did not start container {id} within {deadline:?} (see {})",
            dir.0.join("shim.log").display()
        )))
    }

    async fn stop_container(&self, id: &str, timeout: Duration) -> Result<(), RuntimeError> {
        let dir = self.container_dir(id);
        let record = match self.container_record(id) {
            Ok(r) => r,
            Err(e) if e.is_not_found() => return Ok(()),
            Err(e) => return Err(e),
        };
        let Some(started) = read_json::<Started>(&dir.started()).ok().flatten() else {
            return Ok(());
        };
        if dir.exited().exists() || !alive(started.pid) {
            return Ok(());
        }
        if !timeout.is_zero() {
            Self::signal_group(started.pid, Signal::SIGTERM);
            if Self::wait_for(&dir.exited(), timeout).await {
                return Ok(());
            }
        }
        Self::signal_group(started.pid, Signal::SIGKILL);
        // Anything that left the process group but not the cgroup goes too.
        if let (Some(cg), Some(path)) = (&self.cgroups, &record.cgroup) {
            for pid in cg.pids(path) {
                if pid != started.shim_pid {
                    let _ = kill(Pid::from_raw(pid), Signal::SIGKILL);
                }
            }
        }
        if !Self::wait_for(&dir.exited(), Duration::from_secs(5)).await && alive(started.pid) {
            return Err(RuntimeError::Other(format!(
                "container {id} (pid {}) did not stop",
                started.pid
            )));
        }
        Ok(())
    }

    async fn remove_container(&self, id: &str) -> Result<(), RuntimeError> {
        let record = match self.container_record(id) {
            Ok(r) => r,
            Err(e) if e.is_not_found() => return Ok(()),
            Err(e) => return Err(e),
        };
        self.stop_container(id, Duration::ZERO).await?;
        let dir = self.container_dir(id);
        if let Some(started) = read_json::<Started>(&dir.started()).ok().flatten() {
            // The shim leaves the cgroup when it exits, right after recording the exit.
            let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
            while alive(started.shim_pid) && tokio::time::Instant::now() < deadline {
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
        }
        if let (Some(cg), Some(path)) = (&self.cgroups, &record.cgroup) {
            cg.remove(path)
                .map_err(io_err(format!("cannot remove cgroup {path}")))?;
        }
        std::fs::remove_dir_all(&dir.0)
            .map_err(io_err(format!("cannot remove {}", dir.0.display())))
    }

    async fn container_status(&self, id: &str) -> Result<ContainerInfo, RuntimeError> {
        let record = self.container_record(id)?;
        Ok(self.info(&record))
    }

    async fn list_containers(
        &self,
        filter: &LabelFilter,
    ) -> Result<Vec<ContainerInfo>, RuntimeError> {
        let mut out = Vec::new();
        for id in self.matching("containers", filter) {
            if let Ok(r) = self.container_record(&id) {
                out.push(self.info(&r));
            }
        }
        Ok(out)
    }

    async fn logs(
        &self,
        id: &str,
        options: &LogOptions,
    ) -> Result<BoxStream<'static, Result<Bytes, RuntimeError>>, RuntimeError> {
        let _ = self.container_record(id)?;
        let dir = self.container_dir(id);
        logs::stream(dir, *options).await
    }

    async fn exec(&self, id: &str, command: &[String], io: ExecIo) -> Result<i32, RuntimeError> {
        let info = self.container_status(id).await?;
        if info.state != ContainerState::Running {
            return Err(RuntimeError::Invalid(format!(
                "container {} is not running",
                info.name
            )));
        }
        let dir = self.container_dir(id);
        let (program, lead) = self.shim()?;
        crate::exec::run(program, lead, &dir.0, command, io).await
    }

    async fn attach(&self, id: &str, io: ExecIo) -> Result<(), RuntimeError> {
        let record = self.container_record(id)?;
        if self.info(&record).state != ContainerState::Running {
            return Err(RuntimeError::Invalid(format!(
                "container {} is not running",
                record.config.name
            )));
        }
        crate::attach::run(self.container_dir(id), record.config.stdin, io).await
    }

    async fn network_namespace(&self, sandbox: &str) -> Result<NetworkNamespace, RuntimeError> {
        let record = self.sandbox_record(sandbox)?;
        if record.stopped {
            return Err(RuntimeError::Invalid(format!(
                "sandbox {sandbox} is not ready"
            )));
        }
        // Without a namespace of its own (host network, or no root) the pod's ports are the node's.
        Ok(match record.netns {
            Some(name) => NetworkNamespace::Path(Self::netns_path(&name)),
            None => NetworkNamespace::Host,
        })
    }
}
