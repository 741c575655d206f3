//! [`DockerRuntime`]: the [`Runtime`] trait on the Docker engine. See the [crate docs](crate).

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use bollard::errors::Error as DockerError;
use bollard::exec::{CreateExecOptions, StartExecOptions, StartExecResults};
use bollard::models::{
    ContainerCreateBody, ContainerInspectResponse, HealthConfig, HostConfig, Ipam, IpamConfig,
    NetworkCreateRequest, RestartPolicy, RestartPolicyNameEnum,
};
use bollard::query_parameters::{
    AttachContainerOptions, CreateContainerOptions, CreateImageOptions, EventsOptions,
    InspectContainerOptions, InspectNetworkOptions, ListContainersOptions, LogsOptions,
    RemoveContainerOptions, StopContainerOptions,
};
use bollard::Docker;
use bytes::Bytes;
use futures::stream::BoxStream;
use futures::{StreamExt, TryStreamExt};
use skiff_core::runtime::{
    ContainerConfig, ContainerInfo, ContainerState, ExecIo, ImageInfo, ImageRequest, LabelFilter,
    LogOptions, NetworkNamespace, Runtime, RuntimeError, RuntimeEvent, RuntimeVersion,
    SandboxConfig, SandboxInfo, SandboxState,
};
use tokio::io::AsyncWriteExt;

use crate::cgroup;
use crate::convert::{self, NODE, SANDBOX_ID, TYPE};

/// How a [`DockerRuntime`] reaches its engine and makes pods.
#[derive(Clone, Debug)]
pub struct DockerConfig {
    /// The engine's socket (`unix:///var/run/docker.sock`).
    pub endpoint: String,
    /// The node's pod CIDR: pods get addresses in it from a Docker bridge network of their own.
    /// `None`: Docker's default bridge.
    pub pod_cidr: Option<String>,
    /// The pause image of sandboxes (cri-dockerd's default `registry.k8s.io/pause:3.10`).
    pub pause_image: String,
    /// The timeout of each engine call (pulls and streams excepted).
    pub call_timeout: Duration,
    /// The node this runtime serves: its containers carry it (label `skiff.io/node`) and it sees
    /// only those, so several nodes can share one engine without touching each other's pods.
    pub node: String,
}

impl Default for DockerConfig {
    fn default() -> Self {
        Self {
            endpoint: "unix:///var/run/docker.sock".into(),
            pod_cidr: None,
            pause_image: "registry.k8s.io/pause:3.10".into(),
            call_timeout: Duration::from_secs(30),
            node: String::new(),
        }
    }
}

/// Inspect results by container id, with the listed state they were read at.
type InspectCache = Arc<Mutex<HashMap<String, (String, ContainerInspectResponse)>>>;

/// The Docker runtime. See the [crate docs](crate).
#[derive(Clone, Debug)]
pub struct DockerRuntime {
    pub(crate) docker: Docker,
    pub(crate) config: DockerConfig,
    network: Option<String>,
    /// A container's inspect changes only with its state, so listing (the agent relists every
    /// second) inspects only what changed since the last list.
    cache: InspectCache,
    /// The pause image sandboxes use, once known: the configured one, or the self-built one when
    /// that could be neither found nor pulled (see [`crate::pause`]).
    pub(crate) pause: Arc<tokio::sync::Mutex<Option<String>>>,
    /// Docker's cgroup driver (`cgroupfs` or `systemd`), for the pods' cgroup parents.
    cgroup_driver: String,
}

pub(crate) fn engine(e: DockerError) -> RuntimeError {
    match e {
        DockerError::DockerResponseServerError { message, .. } => RuntimeError::Other(message),
        other => RuntimeError::Other(other.to_string()),
    }
}

fn is_status(e: &DockerError, code: u16) -> bool {
    matches!(e, DockerError::DockerResponseServerError { status_code, .. } if *status_code == code)
}

impl DockerRuntime {
    /// Connects to the engine (negotiating the API version: Debian's Docker 20.10 speaks 1.41) and
    /// makes the pod network when a pod CIDR is given. An engine that is not there is
    /// [`RuntimeError::Unavailable`] naming the socket.
    pub async fn connect(config: DockerConfig) -> Result<Self, RuntimeError> {
        let path = config.endpoint.trim_start_matches("unix://").to_string();
        let unavailable = |e: String| {
            RuntimeError::Unavailable(format!(
                "Docker at {}: {e} (is dockerd running?)",
                config.endpoint
            ))
        };
        let secs = config.call_timeout.as_secs().max(1);
        let docker = Docker::connect_with_unix(&path, secs, bollard::API_DEFAULT_VERSION)
            .map_err(|e| unavailable(e.to_string()))?;
        let docker = tokio::time::timeout(config.call_timeout, docker.negotiate_version())
            .await
            .map_err(|_| unavailable("no answer".into()))?
            .map_err(|e| unavailable(e.to_string()))?;
        let mut runtime = Self {
            docker,
            config,
            network: None,
            cache: InspectCache::default(),
            pause: Arc::default(),
            cgroup_driver: String::new(),
        };
        if let Ok(Ok(info)) =
            tokio::time::timeout(runtime.config.call_timeout, runtime.docker.info()).await
        {
            runtime.cgroup_driver = info
                .cgroup_driver
                .map(|d| d.to_string())
                .unwrap_or_default();
        }
        if let Some(cidr) = runtime.config.pod_cidr.clone() {
            runtime.network = Some(runtime.ensure_network(&cidr).await?);
        }
        Ok(runtime)
    }

    /// An engine call with the call timeout.
    async fn call<T>(
        &self,
        what: &str,
        f: impl Future<Output = Result<T, DockerError>>,
    ) -> Result<T, RuntimeError> {
        match tokio::time::timeout(self.config.call_timeout, f).await {
            Ok(r) => r.map_err(engine),
            Err(_) => Err(RuntimeError::Other(format!(
                "Docker did not answer {what} within {:?}",
                self.config.call_timeout
            ))),
        }
    }

    /// The bridge network of the pod CIDR, `skiff-<cidr>`, made if missing.
    async fn ensure_network(&self, cidr: &str) -> Result<String, RuntimeError> {
        let name = format!("skiff-{}", cidr.replace(['/', '.', ':'], "-"));
        match self
            .docker
            .inspect_network(&name, None::<InspectNetworkOptions>)
            .await
        {
            Ok(_) => return Ok(name),
            Err(e) if is_status(&e, 404) => {}
            Err(e) => return Err(engine(e)),
        }
        let gateway = skiff_core::runtime::engine::gateway_of(cidr);
        let request = NetworkCreateRequest {
            name: name.clone(),
            driver: Some("bridge".into()),
            ipam: Some(Ipam {
                config: Some(vec![IpamConfig {
                    subnet: Some(cidr.to_string()),
                    gateway,
                    ..IpamConfig::default()
                }]),
                ..Ipam::default()
            }),
            labels: Some(HashMap::from([(TYPE.to_string(), "network".to_string())])),
            ..NetworkCreateRequest::default()
        };
        match self.docker.create_network(request).await {
            Ok(_) => Ok(name),
            // Made meanwhile by another agent.
            Err(e) if is_status(&e, 409) => Ok(name),
            Err(e) => Err(RuntimeError::Network(format!(
                "cannot create Docker network {name} for {cidr}: {}",
                engine(e)
            ))),
        }
    }

    async fn inspect(
        &self,
        id: &str,
    ) -> Result<bollard::models::ContainerInspectResponse, RuntimeError> {
        match tokio::time::timeout(
            self.config.call_timeout,
            self.docker
                .inspect_container(id, None::<InspectContainerOptions>),
        )
        .await
        {
            Ok(Ok(c)) => Ok(c),
            Ok(Err(e)) if is_status(&e, 404) => Err(RuntimeError::NotFound {
                what: "container",
                id: id.to_string(),
            }),
            Ok(Err(e)) => Err(engine(e)),
            Err(_) => Err(RuntimeError::Other(format!(
                "Docker did not answer inspect {id}"
            ))),
        }
    }

    /// The inspected containers of `type_` whose labels match `filter`: one list call, and an
    /// inspect only for those whose state changed since they were last inspected.
    async fn list(
        &self,
        filter: &LabelFilter,
        type_: &str,
    ) -> Result<Vec<ContainerInspectResponse>, RuntimeError> {
        let mut pairs = filter.0.clone();
        if !self.config.node.is_empty() {
            pairs.insert(NODE.to_string(), self.config.node.clone());
        }
        let options = ListContainersOptions {
            all: true,
            filters: Some(convert::label_filters(&pairs, type_)),
            ..ListContainersOptions::default()
        };
        let found = self
            .call("list", self.docker.list_containers(Some(options)))
            .await?;
        let mut out = Vec::with_capacity(found.len());
        for summary in found {
            let Some(id) = summary.id else { continue };
            let state = summary.state.map(|s| s.to_string()).unwrap_or_default();
            let cached = self
                .cache
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .get(&id)
                .filter(|(s, _)| *s == state)
                .map(|(_, c)| c.clone());
            let inspected = match cached {
                Some(c) => c,
                None => match self.inspect(&id).await {
                    Ok(c) => {
                        self.cache
                            .lock()
                            .unwrap_or_else(|p| p.into_inner())
                            .insert(id, (state, c.clone()));
                        c
                    }
                    // Removed meanwhile.
                    Err(e) if e.is_not_found() => continue,
                    Err(e) => return Err(e),
                },
            };
            out.push(inspected);
        }
        Ok(out)
    }

    /// Ids of the containers of `type_` whose labels match `filter`.
    async fn list_ids(
        &self,
        filter: &LabelFilter,
        type_: &str,
    ) -> Result<Vec<String>, RuntimeError> {
        Ok(self
            .list(filter, type_)
            .await?
            .into_iter()
            .filter_map(|c| c.id)
            .collect())
    }

    /// Whether `image` is present.
    pub(crate) async fn has_image(&self, image: &str) -> Result<Option<String>, RuntimeError> {
        match self.docker.inspect_image(image).await {
            Ok(i) => Ok(Some(i.id.unwrap_or_default())),
            Err(e) if is_status(&e, 404) => Ok(None),
            Err(e) => Err(engine(e)),
        }
    }

    /// Pulls `image` through the engine (its registry mirrors apply).
    pub(crate) async fn pull(&self, image: &str) -> Result<(), RuntimeError> {
        self.pull_with(image, &[]).await
    }

    /// Pulls `image` with each of `credentials` in turn until one works (anonymously when there
    /// are none), as the kubelet tries a pod's pull secrets.
    pub(crate) async fn pull_with(
        &self,
        image: &str,
        credentials: &[skiff_core::runtime::RegistryCredential],
    ) -> Result<(), RuntimeError> {
        let mut attempts: Vec<Option<bollard::auth::DockerCredentials>> = credentials
            .iter()
            .map(|c| {
                Some(bollard::auth::DockerCredentials {
                    username: Some(c.username.clone()),
                    password: Some(c.password.clone()),
                    serveraddress: Some(c.server.clone()),
                    ..bollard::auth::DockerCredentials::default()
                })
            })
            .collect();
        if attempts.is_empty() {
            attempts.push(None);
        }
        let mut last = None;
        for auth in attempts {
            let options = CreateImageOptions {
                from_image: Some(convert::pull_reference(image)),
                ..CreateImageOptions::default()
            };
            let mut progress = self.docker.create_image(Some(options), None, auth);
            let mut failed = None;
            while let Some(step) = progress.next().await {
                if let Err(e) = step {
                    failed = Some(RuntimeError::ImageNotFound {
                        image: image.to_string(),
                        message: format!("pulling image {image:?}: {}", engine(e)),
                    });
                    break;
                }
            }
            match failed {
                None => return Ok(()),
                Some(e) => last = Some(e),
            }
        }
        Err(last.unwrap_or_else(|| RuntimeError::ImageNotFound {
            image: image.to_string(),
            message: format!("pulling image {image:?}"),
        }))
    }

    /// Creates a container, removing a stale one of the same name first (cri-dockerd does).
    async fn create(&self, name: &str, body: ContainerCreateBody) -> Result<String, RuntimeError> {
        let options = || CreateContainerOptions {
            name: Some(name.to_string()),
            ..CreateContainerOptions::default()
        };
        match self
            .docker
            .create_container(Some(options()), body.clone())
            .await
        {
            Ok(r) => Ok(r.id),
            Err(e) if is_status(&e, 409) => {
                self.force_remove(name).await?;
                let r = self
                    .call(
                        "create",
                        self.docker.create_container(Some(options()), body),
                    )
                    .await?;
                Ok(r.id)
            }
            Err(e) if is_status(&e, 404) => Err(RuntimeError::ImageNotFound {
                image: body.image.clone().unwrap_or_default(),
                message: engine(e).to_string(),
            }),
            Err(e) => Err(engine(e)),
        }
    }

    async fn force_remove(&self, id: &str) -> Result<(), RuntimeError> {
        self.cache
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(id);
        let options = RemoveContainerOptions {
            force: true,
            v: true,
            ..RemoveContainerOptions::default()
        };
        match self.docker.remove_container(id, Some(options)).await {
            Ok(()) => Ok(()),
            Err(e) if is_status(&e, 404) => Ok(()),
            // Removal already in progress.
            Err(e) if is_status(&e, 409) => Ok(()),
            Err(e) => Err(engine(e)),
        }
    }

    fn sandbox_info(&self, c: &bollard::models::ContainerInspectResponse) -> SandboxInfo {
        let info = convert::container_info(c);
        let host = c
            .host_config
            .as_ref()
            .and_then(|h| h.network_mode.as_deref())
            == Some("host");
        let ip = if host {
            None
        } else {
            c.network_settings
                .as_ref()
                .and_then(|n| n.networks.as_ref())
                .and_then(|nets| {
                    self.network
                        .as_ref()
                        .and_then(|name| nets.get(name))
                        .or_else(|| nets.values().next())
                })
                .and_then(|e| e.ip_address.clone())
                .filter(|ip| !ip.is_empty())
        };
        SandboxInfo {
            id: info.id,
            state: if info.state == ContainerState::Running {
                SandboxState::Ready
            } else {
                SandboxState::NotReady
            },
            ip,
            labels: info.labels,
            created_at: info.created_at,
            network_note: None,
        }
    }
}

#[async_trait]
impl Runtime for DockerRuntime {
    async fn version(&self) -> Result<RuntimeVersion, RuntimeError> {
        let v = self.call("version", self.docker.version()).await?;
        Ok(RuntimeVersion {
            name: "docker".into(),
            version: v.version.unwrap_or_default(),
        })
    }

    async fn run_pod_sandbox(&self, config: &SandboxConfig) -> Result<String, RuntimeError> {
        let pause = self.pause_image().await?;
        let mut l: HashMap<String, String> = config.labels.clone().into_iter().collect();
        l.insert(TYPE.into(), "sandbox".into());
        l.insert(NODE.into(), self.config.node.clone());
        let network_mode = if config.host_network {
            "host".to_string()
        } else {
            self.network.clone().unwrap_or_else(|| "bridge".into())
        };
        let body = ContainerCreateBody {
            image: Some(pause),
            hostname: (!config.host_network).then(|| config.hostname.clone()),
            labels: Some(l),
            host_config: Some(HostConfig {
                network_mode: Some(network_mode),
                ipc_mode: Some("shareable".into()),
                cgroup_parent: Some(cgroup::parent(&self.cgroup_driver, &config.uid)),
                // cri-dockerd also sets OOM score adj -998; runc refuses it where the agent's own
                // score may not be lowered (these VMs), so the pause container keeps the default.
                cpu_shares: Some(2),
                restart_policy: Some(RestartPolicy {
                    name: Some(RestartPolicyNameEnum::NO),
                    maximum_retry_count: None,
                }),
                ..HostConfig::default()
            }),
            ..ContainerCreateBody::default()
        };
        let name = convert::name_for("POD", &config.labels);
        let id = self.create(&name, body).await?;
        if let Err(e) = self
            .call("start", self.docker.start_container(&id, None))
            .await
        {
            // A sandbox that cannot start is no sandbox: nothing is left behind.
            let _ = self.force_remove(&id).await;
            return Err(e);
        }
        Ok(id)
    }

    async fn stop_pod_sandbox(&self, id: &str) -> Result<(), RuntimeError> {
        let members = LabelFilter::new().with(SANDBOX_ID, id);
        for c in self.list_ids(&members, "container").await? {
            self.stop_container(&c, Duration::ZERO).await?;
        }
        self.stop_container(id, Duration::ZERO).await
    }

    async fn remove_pod_sandbox(&self, id: &str) -> Result<(), RuntimeError> {
        let parent = match self.inspect(id).await {
            Ok(sb) => sb.host_config.and_then(|h| h.cgroup_parent),
            Err(_) => None,
        };
        let members = LabelFilter::new().with(SANDBOX_ID, id);
        for c in self.list_ids(&members, "container").await? {
            self.force_remove(&c).await?;
        }
        self.force_remove(id).await?;
        if let Some(parent) = parent.filter(|_| self.cgroup_driver != "systemd") {
            cgroup::remove(std::path::Path::new("/sys/fs/cgroup"), &parent);
        }
        Ok(())
    }

    async fn sandbox_status(&self, id: &str) -> Result<SandboxInfo, RuntimeError> {
        let c = self.inspect(id).await.map_err(|e| match e {
            RuntimeError::NotFound { id, .. } => RuntimeError::NotFound {
                what: "sandbox",
                id,
            },
            other => other,
        })?;
        Ok(self.sandbox_info(&c))
    }

    async fn list_sandboxes(&self, filter: &LabelFilter) -> Result<Vec<SandboxInfo>, RuntimeError> {
        Ok(self
            .list(filter, "sandbox")
            .await?
            .iter()
            .map(|c| self.sandbox_info(c))
            .collect())
    }

    async fn ensure_image(&self, request: &ImageRequest) -> Result<ImageInfo, RuntimeError> {
        let present = self.has_image(&request.image).await?;
        if let Some(id) = skiff_core::runtime::engine::pull_decision(request, present)? {
            return Ok(ImageInfo { id, pulled: false });
        }
        self.pull_with(&request.image, &request.credentials).await?;
        let id = self.has_image(&request.image).await?.unwrap_or_default();
        Ok(ImageInfo { id, pulled: true })
    }

    async fn create_container(
        &self,
        sandbox: &str,
        config: &ContainerConfig,
    ) -> Result<String, RuntimeError> {
        let sb = self.inspect(sandbox).await?;
        let host = sb
            .host_config
            .as_ref()
            .and_then(|h| h.network_mode.as_deref())
            == Some("host");
        let mut l: HashMap<String, String> = config.labels.clone().into_iter().collect();
        l.insert(TYPE.into(), "container".into());
        l.insert(SANDBOX_ID.into(), sandbox.to_string());
        l.insert(NODE.into(), self.config.node.clone());
        let joined = format!("container:{sandbox}");
        let body = ContainerCreateBody {
            image: Some(config.image.clone()),
            // Kubernetes' rules: command replaces the ENTRYPOINT (and with it the image's CMD),
            // args replace the CMD.
            entrypoint: (!config.command.is_empty()).then(|| config.command.clone()),
            cmd: (!config.args.is_empty()).then(|| config.args.clone()),
            env: Some(config.env.iter().map(|(k, v)| format!("{k}={v}")).collect()),
            working_dir: config.working_dir.clone(),
            labels: Some(l),
            // The agent runs the probes: an image's own HEALTHCHECK is switched off.
            healthcheck: Some(HealthConfig {
                test: Some(vec!["NONE".into()]),
                ..HealthConfig::default()
            }),
            open_stdin: Some(config.stdin),
            stdin_once: Some(config.stdin_once),
            tty: Some(config.tty),
            host_config: Some(HostConfig {
                network_mode: Some(if host { "host".into() } else { joined.clone() }),
                ipc_mode: Some(joined),
                // The sandbox's: the pod's cgroup.
                cgroup_parent: sb
                    .host_config
                    .as_ref()
                    .and_then(|h| h.cgroup_parent.clone()),
                pid_mode: config.target.as_ref().map(|t| format!("container:{t}")),
                binds: Some(convert::binds(&config.mounts)),
                restart_policy: Some(RestartPolicy {
                    name: Some(RestartPolicyNameEnum::NO),
                    maximum_retry_count: None,
                }),
                ..convert::resources(&config.resources)
            }),
            ..ContainerCreateBody::default()
        };
        let name = convert::name_for(&config.name, &config.labels);
        self.create(&name, body).await
    }

    async fn start_container(&self, id: &str) -> Result<(), RuntimeError> {
        self.call("start", self.docker.start_container(id, None))
            .await
    }

    async fn stop_container(&self, id: &str, timeout: Duration) -> Result<(), RuntimeError> {
        let secs = i32::try_from(timeout.as_secs()).unwrap_or(i32::MAX);
        let options = StopContainerOptions {
            t: Some(secs),
            signal: None,
        };
        // The engine waits the grace period itself: the call may take that long.
        match tokio::time::timeout(
            timeout + self.config.call_timeout,
            self.docker.stop_container(id, Some(options)),
        )
        .await
        {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) if is_status(&e, 304) || is_status(&e, 404) => Ok(()),
            Ok(Err(e)) => Err(engine(e)),
            Err(_) => Err(RuntimeError::Other(format!("Docker did not stop {id}"))),
        }
    }

    async fn remove_container(&self, id: &str) -> Result<(), RuntimeError> {
        self.force_remove(id).await
    }

    async fn container_status(&self, id: &str) -> Result<ContainerInfo, RuntimeError> {
        Ok(convert::container_info(&self.inspect(id).await?))
    }

    async fn list_containers(
        &self,
        filter: &LabelFilter,
    ) -> Result<Vec<ContainerInfo>, RuntimeError> {
        Ok(self
            .list(filter, "container")
            .await?
            .iter()
            .map(convert::container_info)
            .collect())
    }

    async fn logs(
        &self,
        id: &str,
        options: &LogOptions,
    ) -> Result<BoxStream<'static, Result<Bytes, RuntimeError>>, RuntimeError> {
        self.inspect(id).await?;
        let query = LogsOptions {
            follow: options.follow,
            stdout: true,
            stderr: true,
            tail: options
                .tail_lines
                .map_or_else(|| "all".to_string(), |n| n.to_string()),
            ..LogsOptions::default()
        };
        // limitBytes: chunks up to the budget, the last one cut.
        let budget = options.limit_bytes.unwrap_or(usize::MAX);
        let stream = self
            .docker
            .logs(id, Some(query))
            .map_err(engine)
            .map_ok(|out| out.into_bytes())
            .scan(budget, |left, chunk| {
                if *left == 0 {
                    return futures::future::ready(None);
                }
                let out = chunk.map(|mut b| {
                    b.truncate(*left);
                    *left -= b.len();
                    b
                });
                futures::future::ready(Some(out))
            });
        Ok(stream.boxed())
    }

    async fn exec(&self, id: &str, command: &[String], io: ExecIo) -> Result<i32, RuntimeError> {
        let ExecIo {
            stdin,
            mut stdout,
            mut stderr,
        } = io;
        let created = self
            .call(
                "exec",
                self.docker.create_exec(
                    id,
                    CreateExecOptions {
                        attach_stdin: Some(stdin.is_some()),
                        attach_stdout: Some(true),
                        attach_stderr: Some(true),
                        cmd: Some(command.to_vec()),
                        ..CreateExecOptions::default()
                    },
                ),
            )
            .await?;
        let started = self
            .call(
                "exec start",
                self.docker.start_exec(
                    &created.id,
                    Some(StartExecOptions {
                        detach: false,
                        tty: false,
                        output_capacity: None,
                    }),
                ),
            )
            .await?;
        if let StartExecResults::Attached {
            mut output,
            mut input,
        } = started
        {
            let feed = async {
                if let Some(mut s) = stdin {
                    let _ = tokio::io::copy(&mut s, &mut input).await;
                    let _ = input.shutdown().await;
                }
            };
            let pump = async {
                while let Some(Ok(chunk)) = output.next().await {
                    let _ = match chunk {
                        bollard::container::LogOutput::StdErr { message } => {
                            stderr.write_all(&message).await
                        }
                        other => stdout.write_all(&other.into_bytes()).await,
                    };
                }
                let _ = stdout.shutdown().await;
                let _ = stderr.shutdown().await;
            };
            tokio::join!(feed, pump);
        }
        // The exit code may lag the end of the output a little (cri-dockerd polls too).
        for _ in 0..50 {
            let inspected = self
                .call("exec inspect", self.docker.inspect_exec(&created.id))
                .await?;
            if inspected.running != Some(true) {
                if let Some(code) = inspected.exit_code {
                    return Ok(i32::try_from(code).unwrap_or(255));
                }
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        Err(RuntimeError::Other(format!(
            "exec in {id}: no exit code from Docker"
        )))
    }

    async fn events(&self) -> Result<Option<BoxStream<'static, RuntimeEvent>>, RuntimeError> {
        // This node's containers' starts and exits (die covers kills and OOM kills).
        let mut label = vec![format!("{TYPE}=container")];
        if !self.config.node.is_empty() {
            label.push(format!("{NODE}={}", self.config.node));
        }
        let filters = HashMap::from([
            ("type".to_string(), vec!["container".to_string()]),
            (
                "event".to_string(),
                vec!["start".to_string(), "die".to_string()],
            ),
            ("label".to_string(), label),
        ]);
        // bollard connects when the stream is first polled: `since` makes "from now on" mean
        // from this call.
        let now = chrono::Utc::now();
        let options = EventsOptions {
            since: Some(format!(
                "{}.{:09}",
                now.timestamp(),
                now.timestamp_subsec_nanos()
            )),
            filters: Some(filters),
            ..EventsOptions::default()
        };
        // Docker logs `die` before its list view shows the exit: the cached inspect of the
        // container is dropped, so the list that the event prompts inspects it afresh (inspect
        // reads the container itself).
        let cache = self.cache.clone();
        let stream = self
            .docker
            .events(Some(options))
            .take_while(|e| futures::future::ready(e.is_ok()))
            .filter_map(move |e| {
                let event = e.ok().and_then(convert::event);
                if let Some(ev) = &event {
                    cache
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .remove(&ev.container_id);
                }
                futures::future::ready(event)
            });
        Ok(Some(stream.boxed()))
    }

    async fn network_namespace(&self, sandbox: &str) -> Result<NetworkNamespace, RuntimeError> {
        let c = self.inspect(sandbox).await?;
        let host = c
            .host_config
            .as_ref()
            .and_then(|h| h.network_mode.as_deref())
            == Some("host");
        if host {
            return Ok(NetworkNamespace::Host);
        }
        // The pause container holds the pod's namespace: its process's is the pod's.
        skiff_core::runtime::engine::pid_network_namespace(
            sandbox,
            c.state.as_ref().and_then(|s| s.pid),
        )
    }

    async fn attach(&self, id: &str, io: ExecIo) -> Result<(), RuntimeError> {
        let ExecIo {
            stdin, mut stdout, ..
        } = io;
        let options = AttachContainerOptions {
            stream: true,
            stdin: stdin.is_some(),
            stdout: true,
            stderr: true,
            logs: false,
            detach_keys: None,
        };
        let attached = self
            .call("attach", self.docker.attach_container(id, Some(options)))
            .await?;
        let (mut output, mut input) = (attached.output, attached.input);
        let feed = async {
            if let Some(mut s) = stdin {
                let _ = tokio::io::copy(&mut s, &mut input).await;
                let _ = input.shutdown().await;
            }
            futures::future::pending::<()>().await
        };
        // The stream may stay open after the container exits (bollard#251): watch the state too.
        let exited = async {
            loop {
                tokio::time::sleep(Duration::from_millis(500)).await;
                match self.inspect(id).await {
                    Ok(c) if convert::container_info(&c).state == ContainerState::Running => {}
                    _ => return,
                }
            }
        };
        let pump = async {
            while let Some(Ok(chunk)) = output.next().await {
                if stdout.write_all(&chunk.into_bytes()).await.is_err() {
                    break;
                }
                let _ = stdout.flush().await;
            }
        };
        tokio::select! {
            () = pump => {}
            () = exited => {}
            () = feed => {}
        }
        let _ = stdout.shutdown().await;
        Ok(())
    }
}
