//! [`PodmanRuntime`]: the [`Runtime`] trait on Podman's libpod API. See the [crate docs](crate).

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use futures::stream::BoxStream;
use futures::StreamExt;
use podman_api::models::{InspectContainerData, ListPodsReport, Namespace};
use podman_api::opts::{
    ContainerCreateOpts, ContainerDeleteOpts, ContainerListFilter, ContainerListOpts,
    NetworkCreateOpts, PodCreateOpts, PodListFilter, PodListOpts, PullOpts,
};
use podman_api::{Error as PodmanError, Podman};
use skiff_core::runtime::{
    engine, ContainerConfig, ContainerInfo, ExecIo, ImageInfo, ImageRequest, LabelFilter,
    LogOptions, NetworkNamespace, Runtime, RuntimeError, RuntimeEvent, RuntimeVersion,
    SandboxConfig, SandboxInfo, SandboxState,
};

use crate::convert::{self, PodView, NODE, SANDBOX_ID, TYPE};
use crate::streams;

/// How a [`PodmanRuntime`] reaches Podman and makes pods.
#[derive(Clone, Debug)]
pub struct PodmanConfig {
    /// The libpod REST socket (`unix:///run/podman/podman.sock`, served by
    /// `podman system service`).
    pub endpoint: String,
    /// The node's pod CIDR: pods get addresses in it from a Podman network of their own
    /// (`skiff-<cidr>`). `None`: Podman's default network (10.88.0.0/16).
    pub pod_cidr: Option<String>,
    /// The infra image of pods. `None`: Podman's own pause image, which Podman builds locally
    /// from `catatonit` the first time it needs it, so no registry is needed at all.
    pub infra_image: Option<String>,
    /// The timeout of each engine call (pulls and streams excepted).
    pub call_timeout: Duration,
    /// The node this runtime serves: its pods and containers carry it (label `skiff.io/node`)
    /// and it sees only those, so several nodes can share one Podman.
    pub node: String,
}

impl Default for PodmanConfig {
    fn default() -> Self {
        Self {
            endpoint: "unix:///run/podman/podman.sock".into(),
            pod_cidr: None,
            infra_image: None,
            call_timeout: Duration::from_secs(30),
            node: String::new(),
        }
    }
}

/// Inspect results by id, with the listed state they were read at.
type InspectCache = Arc<Mutex<HashMap<String, (String, InspectContainerData)>>>;

/// The Podman runtime. See the [crate docs](crate).
#[derive(Clone, Debug)]
pub struct PodmanRuntime {
    podman: Podman,
    config: PodmanConfig,
    network: Option<String>,
    /// Inspects of containers (and of pods' infra containers, for their IPs), reused while the
    /// listed state is unchanged: the agent relists every second.
    cache: InspectCache,
    /// What this Podman cannot do (rootless: cgroup limits), for the Node's conditions.
    limitations: Vec<String>,
}

/// The HTTP status of a libpod error, if it is one.
fn status(e: &PodmanError) -> Option<u16> {
    match e {
        PodmanError::Fault { code, .. } => Some(code.as_u16()),
        _ => None,
    }
}

pub(crate) fn engine_error(e: PodmanError) -> RuntimeError {
    match e {
        PodmanError::Fault { message, .. } => RuntimeError::Other(message),
        other => RuntimeError::Other(other.to_string()),
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl PodmanRuntime {
    /// Connects to Podman's REST service (negotiating the libpod API version) and makes the pod
    /// network when a pod CIDR is given. A service that is not there is
    /// [`RuntimeError::Unavailable`] naming the socket.
    pub async fn connect(config: PodmanConfig) -> Result<Self, RuntimeError> {
        let path = config.endpoint.trim_start_matches("unix://").to_string();
        let unavailable = |e: String| {
            RuntimeError::Unavailable(format!(
                "Podman at {}: {e} (is `podman system service` running?)",
                config.endpoint
            ))
        };
        // The libpod API version in the path: podman-api's (4.3.1), or the service's own when that
        // is older. (podman-api's `adjust_api_version` picks the Docker-compatible version,
        // which the libpod endpoints refuse.)
        let podman = Podman::unix(&path);
        let ping = tokio::time::timeout(config.call_timeout, podman.ping())
            .await
            .map_err(|_| unavailable("no answer".into()))?
            .map_err(|e| unavailable(e.to_string()))?;
        let podman = match ping.libpod_api_version.parse::<podman_api::ApiVersion>() {
            Ok(v) if v < podman_api::LATEST_API_VERSION => Podman::unix_versioned(&path, v),
            _ => podman,
        };
        // Rootless Podman may apply no limits: say so rather than run pods unbounded silently.
        let limitations = match tokio::time::timeout(config.call_timeout, podman.info()).await {
            Ok(Ok(podman_api::models::Info {
                host: Some(host), ..
            })) => convert::limitations(
                host.security.and_then(|s| s.rootless).unwrap_or(false),
                host.cgroup_version.as_deref().unwrap_or(""),
                &host.cgroup_controllers.unwrap_or_default(),
            ),
            _ => Vec::new(),
        };
        let mut runtime = Self {
            podman,
            config,
            network: None,
            cache: InspectCache::default(),
            limitations,
        };
        if let Some(cidr) = runtime.config.pod_cidr.clone() {
            runtime.network = Some(runtime.ensure_network(&cidr).await?);
        }
        Ok(runtime)
    }

    /// What pods on this Podman will not get (rootless Podman without cgroup limits), worded for
    /// the Node's conditions; empty when Podman runs as root.
    pub fn limitations(&self) -> &[String] {
        &self.limitations
    }

    /// The libpod client.
    pub(crate) fn podman(&self) -> &Podman {
        &self.podman
    }

    /// An engine call with the call timeout.
    pub(crate) async fn call<T>(
        &self,
        what: &str,
        f: impl Future<Output = Result<T, PodmanError>>,
    ) -> Result<T, RuntimeError> {
        match tokio::time::timeout(self.config.call_timeout, f).await {
            Ok(r) => r.map_err(engine_error),
            Err(_) => Err(RuntimeError::Other(format!(
                "Podman did not answer {what} within {:?}",
                self.config.call_timeout
            ))),
        }
    }

    /// An engine call with the call timeout, keeping the error to look at its status.
    async fn call_raw<T>(
        &self,
        what: &str,
        f: impl Future<Output = Result<T, PodmanError>>,
    ) -> Result<Result<T, PodmanError>, RuntimeError> {
        tokio::time::timeout(self.config.call_timeout, f)
            .await
            .map_err(|_| RuntimeError::Other(format!("Podman did not answer {what}")))
    }

    /// The bridge network of the pod CIDR, `skiff-<cidr>`, made if missing.
    async fn ensure_network(&self, cidr: &str) -> Result<String, RuntimeError> {
        let name = format!("skiff-{}", cidr.replace(['/', '.', ':'], "-"));
        if self
            .call("network exists", self.podman.networks().get(&name).exists())
            .await?
        {
            return Ok(name);
        }
        let gateway = engine::gateway_of(cidr);
        let opts = NetworkCreateOpts::builder()
            .name(&name)
            .driver("bridge")
            .subnets([podman_api::models::Subnet {
                subnet: Some(cidr.to_string()),
                gateway,
                lease_range: None,
            }])
            .labels([(TYPE, "network")])
            .build();
        match self
            .call_raw("network create", self.podman.networks().create(&opts))
            .await?
        {
            Ok(_) => Ok(name),
            // Made meanwhile by another agent.
            Err(e) if status(&e) == Some(409) => Ok(name),
            Err(e) => Err(RuntimeError::Network(format!(
                "cannot create Podman network {name} for {cidr}: {}",
                engine_error(e)
            ))),
        }
    }

    pub(crate) async fn inspect(&self, id: &str) -> Result<InspectContainerData, RuntimeError> {
        match self
            .call_raw("inspect", self.podman.containers().get(id).inspect())
            .await?
        {
            Ok(c) => Ok(with_kernel_oom(c).await),
            Err(e) if status(&e) == Some(404) => Err(RuntimeError::NotFound {
                what: "container",
                id: id.to_string(),
            }),
            Err(e) => Err(engine_error(e)),
        }
    }

    /// An inspect reused while `state` (as listed) is what it was read at.
    async fn inspect_cached(
        &self,
        id: &str,
        state: &str,
    ) -> Result<InspectContainerData, RuntimeError> {
        let cached = lock(&self.cache)
            .get(id)
            .filter(|(s, _)| s == state)
            .map(|(_, c)| c.clone());
        if let Some(c) = cached {
            return Ok(c);
        }
        let c = self.inspect(id).await?;
        lock(&self.cache).insert(id.to_string(), (state.to_string(), c.clone()));
        Ok(c)
    }

    /// The inspected containers of `type_` whose labels match `filter`: one list call, and an
    /// inspect only for those whose state changed since they were last inspected.
    async fn list(
        &self,
        filter: &LabelFilter,
        type_: &str,
    ) -> Result<Vec<InspectContainerData>, RuntimeError> {
        let filters: Vec<ContainerListFilter> =
            convert::label_pairs(filter, &self.config.node, type_)
                .into_iter()
                .map(|(k, v)| ContainerListFilter::LabelKeyVal(k, v))
                .collect();
        let opts = ContainerListOpts::builder()
            .all(true)
            .filter(filters)
            .build();
        let found = self
            .call("list", self.podman.containers().list(&opts))
            .await?;
        let mut out = Vec::with_capacity(found.len());
        for summary in found {
            let Some(id) = summary.id else { continue };
            let state = summary.state.unwrap_or_default();
            match self.inspect_cached(&id, &state).await {
                Ok(c) => out.push(c),
                // Removed meanwhile.
                Err(e) if e.is_not_found() => continue,
                Err(e) => return Err(e),
            }
        }
        Ok(out)
    }

    /// Pods whose labels match `filter`.
    async fn list_pods(&self, filter: &LabelFilter) -> Result<Vec<ListPodsReport>, RuntimeError> {
        let filters: Vec<PodListFilter> =
            convert::label_pairs(filter, &self.config.node, "sandbox")
                .into_iter()
                .map(|(k, v)| PodListFilter::LabelKeyVal(k, v))
                .collect();
        let opts = PodListOpts::builder().filter(filters).build();
        self.call("pod list", self.podman.pods().list(&opts)).await
    }

    /// A sandbox as the trait reports it: ready while the infra container runs, with the infra
    /// container's address.
    async fn sandbox_info(&self, pod: PodView) -> Result<SandboxInfo, RuntimeError> {
        let PodView {
            id,
            infra_id,
            infra_status,
            labels,
            created,
        } = pod;
        let running = infra_status == "running";
        let ip = if running && !infra_id.is_empty() {
            match self.inspect_cached(&infra_id, &infra_status).await {
                Ok(c) if !is_host_network(&c) => convert::ip(&c, self.network.as_deref()),
                Ok(_) => None,
                Err(e) if e.is_not_found() => None,
                Err(e) => return Err(e),
            }
        } else {
            None
        };
        Ok(SandboxInfo {
            id,
            state: if running {
                SandboxState::Ready
            } else {
                SandboxState::NotReady
            },
            ip,
            labels,
            created_at: convert::time(created).unwrap_or_else(chrono::Utc::now),
            network_note: None,
        })
    }

    /// Ids of the containers in sandbox `id`.
    async fn members(&self, id: &str) -> Result<Vec<String>, RuntimeError> {
        let members = LabelFilter::new().with(SANDBOX_ID, id);
        Ok(self
            .list(&members, "container")
            .await?
            .into_iter()
            .filter_map(|c| c.id)
            .collect())
    }

    /// The id of `image` if it is present (short names resolve as Podman resolves them).
    async fn has_image(&self, image: &str) -> Result<Option<String>, RuntimeError> {
        match self
            .call_raw("image inspect", self.podman.images().get(image).inspect())
            .await?
        {
            Ok(i) => Ok(Some(convert::image_id(i.id.as_deref().unwrap_or("")))),
            Err(e) if status(&e) == Some(404) => Ok(None),
            Err(e) => Err(engine_error(e)),
        }
    }

    /// Pulls `image` through Podman (registries.conf's search list and mirrors apply).
    async fn pull(&self, image: &str) -> Result<(), RuntimeError> {
        self.pull_with(image, &[]).await
    }

    /// Pulls `image` with each of `credentials` in turn until one works (anonymously when there
    /// are none), as the kubelet tries a pod's pull secrets; libpod gets them as `X-Registry-Auth`.
    async fn pull_with(
        &self,
        image: &str,
        credentials: &[skiff_core::runtime::RegistryCredential],
    ) -> Result<(), RuntimeError> {
        let failed = |message: String| RuntimeError::ImageNotFound {
            image: image.to_string(),
            message: format!("pulling image {image:?}: {message}"),
        };
        let mut attempts: Vec<Option<podman_api::opts::RegistryAuth>> = credentials
            .iter()
            .map(|c| {
                Some(
                    podman_api::opts::RegistryAuth::builder()
                        .username(&c.username)
                        .password(&c.password)
                        .server_address(&c.server)
                        .build(),
                )
            })
            .collect();
        if attempts.is_empty() {
            attempts.push(None);
        }
        let mut last = None;
        'attempts: for auth in attempts {
            let mut builder = PullOpts::builder()
                .reference(engine::pull_reference(image))
                .policy(podman_api::opts::PullPolicy::Always)
                .quiet(true);
            if let Some(auth) = auth {
                builder.auth(auth);
            }
            let opts = builder.build();
            let images = self.podman.images();
            let mut progress = images.pull(&opts);
            while let Some(step) = progress.next().await {
                let error = match step {
                    Ok(report) => report.error.filter(|e| !e.is_empty()),
                    Err(e) => Some(engine_error(e).to_string()),
                };
                if let Some(e) = error {
                    last = Some(failed(e));
                    continue 'attempts;
                }
            }
            return Ok(());
        }
        Err(last.unwrap_or_else(|| failed("no attempt".into())))
    }

    /// Creates a container, removing a stale one of the same name first (as cri-dockerd does).
    async fn create(
        &self,
        name: &str,
        image: &str,
        opts: ContainerCreateOpts,
    ) -> Result<String, RuntimeError> {
        let containers = self.podman.containers();
        let first = self.call_raw("create", containers.create(&opts)).await?;
        let created = match first {
            Err(e) if status(&e) == Some(409) || e.to_string().contains("already in use") => {
                self.force_remove(name).await?;
                self.call_raw("create", containers.create(&opts)).await?
            }
            other => other,
        };
        match created {
            Ok(r) => Ok(r.id),
            Err(e) if status(&e) == Some(404) => Err(RuntimeError::ImageNotFound {
                image: image.to_string(),
                message: engine_error(e).to_string(),
            }),
            Err(e) => Err(engine_error(e)),
        }
    }

    async fn force_remove(&self, id: &str) -> Result<(), RuntimeError> {
        lock(&self.cache).remove(id);
        let opts = ContainerDeleteOpts::builder()
            .force(true)
            .volumes(true)
            .build();
        match self
            .call_raw("remove", self.podman.containers().get(id).delete(&opts))
            .await?
        {
            Ok(()) => Ok(()),
            Err(e) if matches!(status(&e), Some(404) | Some(409)) => Ok(()),
            Err(e) => Err(engine_error(e)),
        }
    }
}

/// A container that exited 137 without Podman's `OOMKilled`, marked OOM-killed when the kernel
/// logged its OOM kill (see [`crate::kmsg`]).
async fn with_kernel_oom(mut c: InspectContainerData) -> InspectContainerData {
    let Some(state) = c.state.as_mut() else {
        return c;
    };
    let exited = matches!(state.status.as_deref(), Some("exited" | "stopped"));
    if !exited || state.exit_code != Some(137) || state.oom_killed == Some(true) {
        return c;
    }
    let id = c.id.clone().unwrap_or_default();
    let log = tokio::task::spawn_blocking(crate::kmsg::read)
        .await
        .unwrap_or_default();
    if crate::kmsg::oom_killed(&log, &id) {
        state.oom_killed = Some(true);
    }
    c
}

fn is_host_network(c: &InspectContainerData) -> bool {
    c.host_config
        .as_ref()
        .and_then(|h| h.network_mode.as_deref())
        == Some("host")
}

#[async_trait]
impl Runtime for PodmanRuntime {
    async fn version(&self) -> Result<RuntimeVersion, RuntimeError> {
        let v = self.call("version", self.podman.version()).await?;
        Ok(RuntimeVersion {
            name: "podman".into(),
            version: v.version.unwrap_or_default(),
        })
    }

    async fn run_pod_sandbox(&self, config: &SandboxConfig) -> Result<String, RuntimeError> {
        if let Some(infra) = &self.config.infra_image {
            if self.has_image(infra).await?.is_none() {
                self.pull(infra).await?;
            }
        }
        let mut l: HashMap<String, String> = config.labels.clone().into_iter().collect();
        l.insert(TYPE.into(), "sandbox".into());
        l.insert(NODE.into(), self.config.node.clone());
        let name = engine::cri_name("POD", &config.labels);
        let mut opts = PodCreateOpts::builder().name(&name).labels(l);
        if let Some(infra) = &self.config.infra_image {
            opts = opts.infra_image(infra);
        }
        opts = if config.host_network {
            opts.netns(Namespace {
                nsmode: Some("host".into()),
                value: None,
            })
        } else {
            let opts = opts.hostname(&config.hostname);
            match &self.network {
                Some(n) => opts.cni_networks([n.as_str()]),
                None => opts,
            }
        };
        let opts = opts.build();
        let pods = self.podman.pods();
        let created = match self.call_raw("pod create", pods.create(&opts)).await? {
            // A stale pod of the same name (an agent that died between create and record).
            Err(e) if status(&e) == Some(409) || e.to_string().contains("already exists") => {
                self.remove_pod_sandbox(&name).await?;
                self.call("pod create", pods.create(&opts)).await?
            }
            other => other.map_err(engine_error)?,
        };
        let id = created.id().to_string();
        // The first start may build Podman's own pause image: allow it the time of a pull.
        let started = tokio::time::timeout(
            self.config.call_timeout * 4,
            self.podman.pods().get(&id).start(),
        )
        .await;
        match started {
            Ok(Ok(_)) => Ok(id),
            failed => {
                // A sandbox that cannot start is no sandbox: nothing is left behind.
                let _ = self.remove_pod_sandbox(&id).await;
                Err(match failed {
                    Ok(Err(e)) => engine_error(e),
                    _ => RuntimeError::Other(format!("Podman did not start pod {name}")),
                })
            }
        }
    }

    async fn stop_pod_sandbox(&self, id: &str) -> Result<(), RuntimeError> {
        for c in self.members(id).await? {
            self.stop_container(&c, Duration::ZERO).await?;
        }
        // The infra container directly: Podman 4.3 answers a pod stop with 304 and stops nothing
        // unless the pod's status is exactly Running (not Degraded, which a pod whose app
        // containers exited is).
        let pod = match self
            .call_raw("pod inspect", self.podman.pods().get(id).inspect())
            .await?
        {
            Ok(pod) => pod,
            Err(e) if status(&e) == Some(404) => return Ok(()),
            Err(e) => return Err(engine_error(e)),
        };
        if let Some(infra) = pod.infra_container_id.filter(|i| !i.is_empty()) {
            self.stop_container(&infra, Duration::ZERO).await?;
        }
        Ok(())
    }

    async fn remove_pod_sandbox(&self, id: &str) -> Result<(), RuntimeError> {
        for c in self.members(id).await? {
            self.force_remove(&c).await?;
        }
        match self
            .call_raw("pod remove", self.podman.pods().get(id).remove())
            .await?
        {
            Ok(_) => Ok(()),
            Err(e) if status(&e) == Some(404) => Ok(()),
            Err(e) => Err(engine_error(e)),
        }
    }

    async fn sandbox_status(&self, id: &str) -> Result<SandboxInfo, RuntimeError> {
        match self
            .call_raw("pod inspect", self.podman.pods().get(id).inspect())
            .await?
        {
            Ok(pod) => self.sandbox_info(PodView::from(&pod)).await,
            Err(e) if status(&e) == Some(404) => Err(RuntimeError::NotFound {
                what: "sandbox",
                id: id.to_string(),
            }),
            Err(e) => Err(engine_error(e)),
        }
    }

    async fn list_sandboxes(&self, filter: &LabelFilter) -> Result<Vec<SandboxInfo>, RuntimeError> {
        let mut out = Vec::new();
        for pod in self.list_pods(filter).await? {
            out.push(self.sandbox_info(PodView::from(&pod)).await?);
        }
        Ok(out)
    }

    async fn ensure_image(&self, request: &ImageRequest) -> Result<ImageInfo, RuntimeError> {
        let present = self.has_image(&request.image).await?;
        if let Some(id) = engine::pull_decision(request, present)? {
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
        let mut l: HashMap<String, String> = config.labels.clone().into_iter().collect();
        l.insert(TYPE.into(), "container".into());
        l.insert(SANDBOX_ID.into(), sandbox.to_string());
        l.insert(NODE.into(), self.config.node.clone());
        let name = engine::cri_name(&config.name, &config.labels);
        let mut opts = ContainerCreateOpts::builder()
            .name(&name)
            .image(&config.image)
            // The container joins the pod: its network, IPC and UTS namespaces and its cgroup.
            .pod(sandbox)
            .labels(l)
            .env(config.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .mounts(convert::mounts(&config.mounts))
            .resource_limits(convert::resources(&config.resources))
            // The agent runs the probes: an image's own HEALTHCHECK is switched off.
            .health_config(convert::no_healthcheck())
            .stdin(config.stdin)
            .terminal(config.tty);
        // Kubernetes' rules: command replaces the ENTRYPOINT (and with it the image's CMD), args
        // replace the CMD. libpod applies the same rule when an entrypoint is given.
        if !config.command.is_empty() {
            opts = opts.entrypoint(config.command.iter().map(String::as_str));
        }
        if !config.args.is_empty() {
            opts = opts.command(config.args.iter().map(String::as_str));
        }
        if let Some(dir) = &config.working_dir {
            opts = opts.work_dir(dir);
        }
        if let Some(target) = &config.target {
            opts = opts.pid_namespace(Namespace {
                nsmode: Some("container".into()),
                value: Some(target.clone()),
            });
        }
        self.create(&name, &config.image, opts.build()).await
    }

    async fn start_container(&self, id: &str) -> Result<(), RuntimeError> {
        self.call("start", self.podman.containers().get(id).start(None))
            .await
    }

    async fn stop_container(&self, id: &str, timeout: Duration) -> Result<(), RuntimeError> {
        // As the CRI stops a container: its stop signal (the image's STOPSIGNAL, else SIGTERM),
        // the grace period, then SIGKILL. Not libpod's stop: podman-api sends its timeout as
        // `Timeout`, which Podman 4.3 ignores (it reads `timeout`), so every stop waited 10 s.
        let c = match self.inspect(id).await {
            Ok(c) => c,
            Err(e) if e.is_not_found() => return Ok(()),
            Err(e) => return Err(e),
        };
        let running = |c: &InspectContainerData| {
            matches!(
                c.state.as_ref().and_then(|s| s.status.as_deref()),
                Some("running" | "paused")
            )
        };
        if !running(&c) {
            return Ok(());
        }
        let container = self.podman.containers().get(id);
        if !timeout.is_zero() {
            let signal = c
                .config
                .as_ref()
                .and_then(|cfg| cfg.stop_signal)
                .filter(|s| *s > 0)
                .map_or_else(|| "TERM".to_string(), |s| s.to_string());
            match self
                .call_raw("signal", container.send_signal(signal))
                .await?
            {
                Ok(()) => {}
                // Exited meanwhile.
                Err(e) if matches!(status(&e), Some(404) | Some(409)) => return Ok(()),
                Err(e) => return Err(engine_error(e)),
            }
            let deadline = tokio::time::Instant::now() + timeout;
            while tokio::time::Instant::now() < deadline {
                match self.inspect(id).await {
                    Ok(c) if running(&c) => {}
                    Ok(_) => return Ok(()),
                    Err(e) if e.is_not_found() => return Ok(()),
                    Err(e) => return Err(e),
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
        match self.call_raw("kill", container.kill()).await? {
            Ok(()) => {}
            Err(e) if matches!(status(&e), Some(404) | Some(409)) => return Ok(()),
            Err(e) => return Err(engine_error(e)),
        }
        // The kill is sent; the container is stopped once the engine saw it exit.
        for _ in 0..50 {
            match self.inspect(id).await {
                Ok(c) if running(&c) => tokio::time::sleep(Duration::from_millis(20)).await,
                _ => return Ok(()),
            }
        }
        Err(RuntimeError::Other(format!(
            "Podman did not stop {id} after SIGKILL"
        )))
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

    async fn events(&self) -> Result<Option<BoxStream<'static, RuntimeEvent>>, RuntimeError> {
        Ok(Some(streams::events(
            self.podman.clone(),
            &self.config.node,
        )))
    }

    async fn logs(
        &self,
        id: &str,
        options: &LogOptions,
    ) -> Result<BoxStream<'static, Result<Bytes, RuntimeError>>, RuntimeError> {
        self.inspect(id).await?;
        Ok(streams::logs(self.podman.containers().get(id), options))
    }

    async fn exec(&self, id: &str, command: &[String], io: ExecIo) -> Result<i32, RuntimeError> {
        streams::exec(self, id, command, io).await
    }

    async fn attach(&self, id: &str, io: ExecIo) -> Result<(), RuntimeError> {
        streams::attach(self, id, io).await
    }

    async fn network_namespace(&self, sandbox: &str) -> Result<NetworkNamespace, RuntimeError> {
        let pod = match self
            .call_raw("pod inspect", self.podman.pods().get(sandbox).inspect())
            .await?
        {
            Ok(pod) => PodView::from(&pod),
            Err(e) if status(&e) == Some(404) => {
                return Err(RuntimeError::NotFound {
                    what: "sandbox",
                    id: sandbox.to_string(),
                })
            }
            Err(e) => return Err(engine_error(e)),
        };
        let infra = self.inspect(&pod.infra_id).await?;
        if is_host_network(&infra) {
            return Ok(NetworkNamespace::Host);
        }
        // The infra container holds the pod's namespace: its process's is the pod's.
        skiff_core::runtime::engine::pid_network_namespace(
            sandbox,
            infra.state.as_ref().and_then(|s| s.pid),
        )
    }
}
