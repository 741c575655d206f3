//! Reconciling one pod against the runtime: the pod lifecycle, step by step. See the
//! [module docs](super) for the order of steps.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chrono::Utc;
use serde_json::json;
use skiff_core::client::{Api, DeleteParams, Patch};
use skiff_core::controller::{Action, Context, ObjectRef, Reconciler};
use skiff_core::events::EventType;
use skiff_core::kinds::{ConfigMap, Container, ObjectReference, Pod, Secret};
use skiff_core::runtime::{
    labels, ContainerConfig, ContainerInfo, ContainerState, ImageRequest, LabelFilter, PullPolicy,
    Resources, RuntimeError, SandboxConfig, SandboxInfo, SandboxState,
};

use super::probes::{ProbeKind, ProbeTarget};
use super::{status, volumes, AgentError, NodeAgent, PullBackoff};

/// A container that ran this long without trouble resets its back-off (Kubernetes: 10 minutes).
const BACKOFF_RESET: Duration = Duration::from_secs(600);

/// The [`Reconciler`] of pods bound to this node.
#[derive(Debug)]
pub struct PodSync {
    agent: Arc<NodeAgent>,
}

impl PodSync {
    pub(crate) fn new(agent: Arc<NodeAgent>) -> Self {
        Self { agent }
    }
}

#[async_trait]
impl Reconciler<Pod> for PodSync {
    type Error = AgentError;

    async fn reconcile(&self, pod: Arc<Pod>, _ctx: &Context<Pod>) -> Result<Action, AgentError> {
        sync_pod(&self.agent, &pod).await
    }
}

/// What a pass decided beyond what the runtime shows: why containers wait, and when to look again.
#[derive(Debug, Default)]
pub(crate) struct Plan {
    pub waiting: HashMap<String, (String, String)>,
    pub requeue: Option<Duration>,
}

impl Plan {
    fn wait(&mut self, name: &str, reason: &str, message: String) {
        self.waiting
            .insert(name.to_string(), (reason.to_string(), message));
    }

    fn requeue_in(&mut self, d: Duration) {
        self.requeue = Some(self.requeue.map_or(d, |r| r.min(d)));
    }
}

/// Instances of one container of the pod, newest first.
pub(crate) type Instances = Vec<ContainerInfo>;

pub(crate) fn attempt(c: &ContainerInfo) -> i32 {
    labels::attempt(&c.labels)
}

fn group(containers: Vec<ContainerInfo>) -> HashMap<String, Instances> {
    let mut map: HashMap<String, Instances> = HashMap::new();
    for c in containers {
        let name = c
            .labels
            .get(labels::CONTAINER_NAME)
            .cloned()
            .unwrap_or_else(|| c.name.clone());
        map.entry(name).or_default().push(c);
    }
    for list in map.values_mut() {
        list.sort_by(|a, b| {
            attempt(b)
                .cmp(&attempt(a))
                .then(b.created_at.cmp(&a.created_at))
        });
    }
    map
}

fn pod_filter(uid: &str) -> LabelFilter {
    LabelFilter::new().with(labels::POD_UID, uid)
}

fn full_name(pod: &Pod) -> String {
    format!(
        "{}_{}({})",
        pod.metadata.name.as_deref().unwrap_or(""),
        pod.metadata.namespace.as_deref().unwrap_or("default"),
        pod.metadata.uid.as_deref().unwrap_or("")
    )
}

fn event(
    agent: &NodeAgent,
    pod: &Pod,
    type_: EventType,
    reason: &str,
    message: &str,
    field: Option<String>,
) {
    let mut about = ObjectReference::to(pod);
    about.field_path = field;
    // Queued for the recorder's writer: a pod's start does not wait for its events.
    agent.recorder.record(about, type_, reason, message);
}

/// Which list of the pod spec a container is in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    Init,
    App,
    Ephemeral,
}

impl Kind {
    /// The field of the pod spec.
    fn field(self) -> &'static str {
        match self {
            Self::Init => "initContainers",
            Self::App => "containers",
            Self::Ephemeral => "ephemeralContainers",
        }
    }

    /// The value of the [`labels::CONTAINER_KIND`] label.
    fn label(self) -> &'static str {
        match self {
            Self::Init => "init",
            Self::App => "app",
            Self::Ephemeral => "ephemeral",
        }
    }
}

fn field_path(kind: Kind, name: &str) -> Option<String> {
    Some(format!("spec.{}{{{name}}}", kind.field()))
}

/// One pass over a pod. See the [module docs](super).
pub async fn sync_pod(agent: &NodeAgent, pod: &Pod) -> Result<Action, AgentError> {
    let Some(uid) = pod.metadata.uid.clone() else {
        return Ok(Action::await_change());
    };
    if pod.metadata.deletion_timestamp.is_some() {
        terminate(agent, pod, &uid).await?;
        return Ok(Action::await_change());
    }
    let filter = pod_filter(&uid);
    if matches!(pod.phase(), "Succeeded" | "Failed") {
        for c in agent.runtime.list_containers(&filter).await? {
            if c.state == ContainerState::Running {
                agent.runtime.stop_container(&c.id, grace(pod)).await?;
            }
        }
        return Ok(Action::await_change());
    }
    let sandbox = ensure_sandbox(agent, pod, &uid).await?;
    let mut plan = Plan::default();
    let policy = pod
        .spec
        .restart_policy
        .as_deref()
        .unwrap_or("Always")
        .to_string();
    let groups = group(agent.runtime.list_containers(&filter).await?);
    let empty = Vec::new();

    let mut init_done = true;
    let mut failed = false;
    for c in &pod.spec.init_containers {
        let inst = groups.get(&c.name).unwrap_or(&empty);
        match inst.first() {
            None => {
                start(agent, pod, c, &sandbox, 0, Kind::Init, &mut plan).await;
                init_done = false;
                break;
            }
            Some(l) if matches!(l.state, ContainerState::Running | ContainerState::Created) => {
                if l.state == ContainerState::Created {
                    agent.runtime.start_container(&l.id).await?;
                }
                init_done = false;
                break;
            }
            Some(l) if l.state == ContainerState::Exited && l.exit_code == Some(0) => continue,
            Some(l) => {
                init_done = false;
                if policy == "Never" {
                    failed = true;
                } else {
                    restart_with_backoff(agent, pod, c, &sandbox, inst, l, Kind::Init, &mut plan)
                        .await;
                }
                break;
            }
        }
    }
    if init_done {
        for c in &pod.spec.containers {
            let inst = groups.get(&c.name).unwrap_or(&empty);
            match inst.first() {
                None => start(agent, pod, c, &sandbox, 0, Kind::App, &mut plan).await,
                Some(l) if l.state == ContainerState::Created => {
                    agent.runtime.start_container(&l.id).await?;
                }
                Some(l) if l.state == ContainerState::Running => {
                    check_probes(agent, pod, c, &sandbox, l, &mut plan).await?;
                }
                Some(l) => {
                    let restart = match policy.as_str() {
                        "Never" => false,
                        "OnFailure" => l.exit_code != Some(0),
                        _ => true,
                    };
                    if restart {
                        restart_with_backoff(
                            agent,
                            pod,
                            c,
                            &sandbox,
                            inst,
                            l,
                            Kind::App,
                            &mut plan,
                        )
                        .await;
                    }
                }
            }
        }
    }

    // Ephemeral containers run once each, as soon as the pod runs, and are never restarted.
    if init_done {
        for ec in &pod.spec.ephemeral_containers {
            match groups.get(&ec.name).and_then(|i| i.first()) {
                None => start(agent, pod, ec, &sandbox, 0, Kind::Ephemeral, &mut plan).await,
                Some(l) if l.state == ContainerState::Created => {
                    agent.runtime.start_container(&l.id).await?;
                }
                Some(_) => {}
            }
        }
    }

    // Status from what the runtime has now.
    let groups = group(agent.runtime.list_containers(&filter).await?);
    let new_status = status::compute(
        agent,
        pod,
        &sandbox,
        &groups,
        &plan,
        status::Progress { init_done, failed },
    );
    let old = serde_json::to_value(&pod.status).unwrap_or_default();
    let new = serde_json::to_value(&new_status).unwrap_or_default();
    if old != new {
        let api: Api<Pod> = Api::namespaced(
            agent.client.clone(),
            pod.metadata.namespace.as_deref().unwrap_or("default"),
        );
        let name = pod.metadata.name.as_deref().unwrap_or("");
        match api
            .patch_status(name, &Patch::Merge(json!({ "status": new })))
            .await
        {
            Ok(_) => {}
            Err(e) if e.is_not_found() => return Ok(Action::await_change()),
            Err(e) => return Err(e.into()),
        }
    }
    Ok(plan
        .requeue
        .map_or_else(Action::await_change, Action::requeue))
}

fn grace(pod: &Pod) -> Duration {
    let secs = pod
        .metadata
        .deletion_grace_period_seconds
        .or(pod.spec.termination_grace_period_seconds)
        .unwrap_or(30);
    Duration::from_secs(u64::try_from(secs).unwrap_or(0))
}

async fn ensure_sandbox(
    agent: &NodeAgent,
    pod: &Pod,
    uid: &str,
) -> Result<SandboxInfo, AgentError> {
    let sandboxes = agent.runtime.list_sandboxes(&pod_filter(uid)).await?;
    if let Some(s) = sandboxes.iter().find(|s| s.state == SandboxState::Ready) {
        return Ok(s.clone());
    }
    if !sandboxes.is_empty() {
        // The pod's network is gone: Kubernetes starts the pod over in a new sandbox.
        for s in &sandboxes {
            agent.runtime.stop_pod_sandbox(&s.id).await?;
            agent.runtime.remove_pod_sandbox(&s.id).await?;
        }
        event(
            agent,
            pod,
            EventType::Normal,
            "SandboxChanged",
            "Pod sandbox changed, it will be killed and re-created.",
            None,
        );
    }
    let mut sb_labels = std::collections::BTreeMap::new();
    sb_labels.insert(labels::POD_UID.to_string(), uid.to_string());
    sb_labels.insert(
        labels::POD_NAME.to_string(),
        pod.metadata.name.clone().unwrap_or_default(),
    );
    sb_labels.insert(
        labels::POD_NAMESPACE.to_string(),
        pod.metadata.namespace.clone().unwrap_or_default(),
    );
    let config = SandboxConfig {
        name: pod.metadata.name.clone().unwrap_or_default(),
        namespace: pod.metadata.namespace.clone().unwrap_or_default(),
        uid: uid.to_string(),
        hostname: pod
            .spec
            .hostname
            .clone()
            .or_else(|| pod.metadata.name.clone())
            .unwrap_or_default(),
        labels: sb_labels,
        host_network: pod.spec.host_network.unwrap_or(false),
    };
    let id = match agent.runtime.run_pod_sandbox(&config).await {
        Ok(id) => id,
        Err(e) => {
            event(
                agent,
                pod,
                EventType::Warning,
                "FailedCreatePodSandBox",
                &format!("Failed to create pod sandbox: {e}"),
                None,
            );
            return Err(e.into());
        }
    };
    if let Some(note) = agent.runtime.sandbox_status(&id).await?.network_note {
        event(
            agent,
            pod,
            EventType::Warning,
            "HostNetworkOnly",
            &note,
            None,
        );
    }
    Ok(agent.runtime.sandbox_status(&id).await?)
}

/// The container's environment: literal values, the downward API / ConfigMap references, then the
/// Services' variables ([`service_env`](super::service_env)).
async fn environment(
    agent: &NodeAgent,
    pod: &Pod,
    c: &Container,
    sandbox: &SandboxInfo,
) -> Result<Vec<(String, String)>, String> {
    let mut env = env_from(agent, pod, c).await?;
    for e in &c.env {
        // An explicit variable wins over one from `envFrom`.
        env.retain(|(name, _): &(String, String)| *name != e.name);
        let value = if let Some(v) = &e.value {
            v.clone()
        } else if let Some(src) = &e.value_from {
            if let Some(f) = &src.field_ref {
                match f.field_path.as_str() {
                    "metadata.name" => pod.metadata.name.clone().unwrap_or_default(),
                    "metadata.namespace" => pod.metadata.namespace.clone().unwrap_or_default(),
                    "metadata.uid" => pod.metadata.uid.clone().unwrap_or_default(),
                    "spec.nodeName" => agent.config.name.clone(),
                    "spec.serviceAccountName" => {
                        pod.spec.service_account_name.clone().unwrap_or_default()
                    }
                    "status.podIP" => sandbox.ip.clone().unwrap_or_default(),
                    "status.hostIP" => agent.config.address.clone(),
                    other => {
                        if let Some(key) = other
                            .strip_prefix("metadata.labels['")
                            .and_then(|k| k.strip_suffix("']"))
                        {
                            pod.metadata.labels.get(key).cloned().unwrap_or_default()
                        } else {
                            return Err(format!("env {}: unsupported fieldRef {other:?}", e.name));
                        }
                    }
                }
            } else if let Some(r) = &src.config_map_key_ref {
                let ns = pod.metadata.namespace.as_deref().unwrap_or("default");
                let api: Api<ConfigMap> = Api::namespaced(agent.client.clone(), ns);
                let name = r.name.as_deref().unwrap_or("");
                let found = api
                    .get_opt(name)
                    .await
                    .ok()
                    .flatten()
                    .and_then(|cm| cm.data.get(&r.key).cloned());
                let missing = || {
                    format!(
                        "configmap {name:?} key {:?} not found (env {})",
                        r.key, e.name
                    )
                };
                match referenced(found, r.optional, missing)? {
                    Some(v) => v,
                    None => continue,
                }
            } else if let Some(r) = &src.secret_key_ref {
                let ns = pod.metadata.namespace.as_deref().unwrap_or("default");
                let api: Api<Secret> = Api::namespaced(agent.client.clone(), ns);
                let name = r.name.as_deref().unwrap_or("");
                let found = api
                    .get_opt(name)
                    .await
                    .ok()
                    .flatten()
                    .and_then(|s| s.decoded(&r.key))
                    .map(|v| String::from_utf8_lossy(&v).into_owned());
                let missing =
                    || format!("secret {name:?} key {:?} not found (env {})", r.key, e.name);
                match referenced(found, r.optional, missing)? {
                    Some(v) => v,
                    None => continue,
                }
            } else {
                String::new()
            }
        } else {
            String::new()
        };
        env.push((e.name.clone(), value));
    }
    // The Services' variables, after the container's own (which win), as the kubelet adds them.
    let services = super::service_env::visible_services(&agent.client, pod)
        .await
        .map_err(|e| format!("cannot list the Services for the environment: {e}"))?;
    for (name, value) in super::service_env::service_env(&services) {
        if !env.iter().any(|(n, _)| *n == name) {
            env.push((name, value));
        }
    }
    Ok(env)
}

/// The variables of the container's `envFrom`, in order (a later source wins a name): every key
/// of each ConfigMap (`data`) or Secret (decoded), after its `prefix`. A key that cannot be a
/// variable name (empty, or with `=`) is left out, as the kubelet does; a missing source that is not
/// `optional` holds the container back.
async fn env_from(
    agent: &NodeAgent,
    pod: &Pod,
    c: &Container,
) -> Result<Vec<(String, String)>, String> {
    let ns = pod.metadata.namespace.as_deref().unwrap_or("default");
    let mut out: Vec<(String, String)> = Vec::new();
    for from in &c.env_from {
        let prefix = from.prefix.clone().unwrap_or_default();
        let (what, r, keys) = if let Some(r) = &from.config_map_ref {
            let api: Api<ConfigMap> = Api::namespaced(agent.client.clone(), ns);
            let name = r.name.as_deref().unwrap_or("");
            let keys = api
                .get_opt(name)
                .await
                .ok()
                .flatten()
                .map(|cm| cm.data.clone().into_iter().collect::<Vec<_>>());
            ("configmap", r, keys)
        } else if let Some(r) = &from.secret_ref {
            let api: Api<Secret> = Api::namespaced(agent.client.clone(), ns);
            let name = r.name.as_deref().unwrap_or("");
            let keys = api.get_opt(name).await.ok().flatten().map(|s| {
                s.data
                    .keys()
                    .filter_map(|k| {
                        s.decoded(k)
                            .map(|v| (k.clone(), String::from_utf8_lossy(&v).into_owned()))
                    })
                    .collect::<Vec<_>>()
            });
            ("secret", r, keys)
        } else {
            continue;
        };
        let name = r.name.as_deref().unwrap_or("");
        let Some(keys) = keys else {
            if r.optional.unwrap_or(false) {
                continue;
            }
            return Err(format!("{what} {name:?} not found (envFrom)"));
        };
        for (k, v) in keys {
            let var = format!("{prefix}{k}");
            if var.is_empty() || var.contains('=') {
                continue;
            }
            out.retain(|(n, _)| *n != var);
            out.push((var, v));
        }
    }
    Ok(out)
}

/// A referenced key's value (`configMapKeyRef`, `secretKeyRef`): `Ok(None)` when it is missing and
/// `optional` (the variable is left out), the `missing` message when it is missing and required.
fn referenced(
    found: Option<String>,
    optional: Option<bool>,
    missing: impl FnOnce() -> String,
) -> Result<Option<String>, String> {
    match (found, optional.unwrap_or(false)) {
        (Some(v), _) => Ok(Some(v)),
        (None, true) => Ok(None),
        (None, false) => Err(missing()),
    }
}

/// The credentials the pod's `imagePullSecrets` hold for `image`'s registry, in the pod's order. A
/// Secret that is missing or of another type is skipped with a warning, as the kubelet does ("Unable
/// to retrieve some image pull secrets"); the pull then goes on with what is left.
async fn pull_credentials(
    agent: &NodeAgent,
    pod: &Pod,
    image: &str,
) -> Vec<skiff_core::runtime::RegistryCredential> {
    use skiff_core::kinds::{
        DOCKER_CFG_KEY, DOCKER_CONFIG_JSON_KEY, SECRET_TYPE_DOCKERCFG,
        SECRET_TYPE_DOCKER_CONFIG_JSON,
    };
    let ns = pod.metadata.namespace.as_deref().unwrap_or("default");
    let api: Api<Secret> = Api::namespaced(agent.client.clone(), ns);
    let mut out = Vec::new();
    for name in pod
        .spec
        .image_pull_secrets
        .iter()
        .filter_map(|r| r.name.as_deref())
    {
        let secret = match api.get_opt(name).await {
            Ok(Some(s)) => s,
            _ => {
                tracing::warn!(pod = %skiff_core::Resource::name(pod), secret = name, "image pull secret not found");
                continue;
            }
        };
        let key = match secret.type_name() {
            SECRET_TYPE_DOCKER_CONFIG_JSON => DOCKER_CONFIG_JSON_KEY,
            SECRET_TYPE_DOCKERCFG => DOCKER_CFG_KEY,
            other => {
                tracing::warn!(pod = %skiff_core::Resource::name(pod), secret = name, r#type = other, "image pull secret of another type");
                continue;
            }
        };
        if let Some(config) = secret.decoded(key) {
            out.extend(skiff_core::runtime::engine::credentials_for(image, &config));
        }
    }
    out
}

/// Creates and starts instance `attempt` of container `c`; problems become waiting reasons and events.
#[allow(clippy::too_many_arguments)]
async fn start(
    agent: &NodeAgent,
    pod: &Pod,
    c: &Container,
    sandbox: &SandboxInfo,
    attempt: i32,
    kind: Kind,
    plan: &mut Plan,
) {
    let field = field_path(kind, &c.name);
    let image = c.image.clone().unwrap_or_default();
    let request = ImageRequest {
        image: image.clone(),
        policy: PullPolicy::parse(c.image_pull_policy.as_deref()),
        has_command: !c.command.is_empty(),
        credentials: pull_credentials(agent, pod, &image).await,
    };
    if let Err(failure) = pull(agent, pod, &image, &request, field.clone(), plan).await {
        return start_failed(agent, pod, &c.name, field, failure, plan).await;
    }
    let env = match environment(agent, pod, c, sandbox).await {
        Ok(env) => env,
        Err(msg) => {
            return start_failed(agent, pod, &c.name, field, Failure::config(msg), plan).await;
        }
    };
    let mounts = match volumes::mounts(agent, pod, c).await {
        Ok(m) => m,
        Err(msg) => {
            let failure = Failure::new(
                "FailedMount",
                msg.clone(),
                "CreateContainerConfigError",
                msg,
            );
            return start_failed(agent, pod, &c.name, field, failure, plan).await;
        }
    };
    let mut l = std::collections::BTreeMap::new();
    l.insert(
        labels::POD_UID.to_string(),
        pod.metadata.uid.clone().unwrap_or_default(),
    );
    l.insert(
        labels::POD_NAME.to_string(),
        pod.metadata.name.clone().unwrap_or_default(),
    );
    l.insert(
        labels::POD_NAMESPACE.to_string(),
        pod.metadata.namespace.clone().unwrap_or_default(),
    );
    l.insert(labels::CONTAINER_NAME.to_string(), c.name.clone());
    l.insert(labels::ATTEMPT.to_string(), attempt.to_string());
    l.insert(labels::CONTAINER_KIND.to_string(), kind.label().to_string());
    let target = match ephemeral_target(agent, pod, &c.name).await {
        Ok(t) => t,
        Err(msg) => {
            return start_failed(agent, pod, &c.name, field, Failure::config(msg), plan).await;
        }
    };
    let config = ContainerConfig {
        name: c.name.clone(),
        image,
        command: c.command.clone(),
        args: c.args.clone(),
        env,
        working_dir: c.working_dir.clone(),
        mounts,
        resources: Resources::from_requirements(&c.resources),
        labels: l,
        stdin: c.stdin.unwrap_or(false),
        stdin_once: c.stdin_once.unwrap_or(false),
        tty: c.tty.unwrap_or(false),
        target,
    };
    let id = match agent.runtime.create_container(&sandbox.id, &config).await {
        Ok(id) => id,
        Err(e) => {
            let reason = if matches!(e, RuntimeError::ImageNotFound { .. }) {
                "ErrImagePull"
            } else {
                "CreateContainerError"
            };
            let failure = Failure::new("Failed", format!("Error: {e}"), reason, e.to_string());
            return start_failed(agent, pod, &c.name, field, failure, plan).await;
        }
    };
    event(
        agent,
        pod,
        EventType::Normal,
        "Created",
        &format!("Created container {}", c.name),
        field.clone(),
    );
    match agent.runtime.start_container(&id).await {
        Ok(()) => {
            event(
                agent,
                pod,
                EventType::Normal,
                "Started",
                &format!("Started container {}", c.name),
                field,
            );
        }
        Err(e) => {
            event(
                agent,
                pod,
                EventType::Warning,
                "Failed",
                &format!("Error: {e}"),
                field,
            );
            plan.requeue_in(agent.config.backoff_initial);
        }
    }
}

/// The kubelet's delay after `streak` failed pulls in a row: 10 s doubling to 300 s (the agent's
/// back-off settings).
fn pull_delay(agent: &NodeAgent, streak: u32) -> Duration {
    let factor = 2u32.saturating_pow(streak.saturating_sub(1));
    agent
        .config
        .backoff_initial
        .saturating_mul(factor)
        .min(agent.config.backoff_max)
}

/// Makes the image of a container available, as the kubelet does: `Pulled` events, `ErrImagePull`
/// on a failed pull and then `ImagePullBackOff` until the back-off has passed, `ErrImageNeverPull`
/// for an absent image with policy `Never`. `Err` is the failure to report (the plan already has the
/// back-off's wait when it is one).
async fn pull(
    agent: &NodeAgent,
    pod: &Pod,
    image: &str,
    request: &ImageRequest,
    field: Option<String>,
    plan: &mut Plan,
) -> Result<(), Failure> {
    let key = (
        pod.metadata.uid.clone().unwrap_or_default(),
        image.to_string(),
    );
    let backing_off = {
        let map = agent.pull_backoff.lock().unwrap_or_else(|p| p.into_inner());
        map.get(&key).and_then(|b| {
            let delay = pull_delay(agent, b.streak);
            let elapsed = b.at.elapsed();
            (elapsed < delay).then(|| (delay - elapsed, b.message.clone()))
        })
    };
    if let Some((remaining, message)) = backing_off {
        plan.requeue_in(remaining);
        return Err(Failure::new(
            "BackOff",
            format!("Back-off pulling image {image:?}"),
            "ImagePullBackOff",
            format!("Back-off pulling image {image:?}: ErrImagePull: {message}"),
        ));
    }
    let started = std::time::Instant::now();
    match agent.runtime.ensure_image(request).await {
        Ok(info) => {
            agent
                .pull_backoff
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .remove(&key);
            let message = if info.pulled {
                event(
                    agent,
                    pod,
                    EventType::Normal,
                    "Pulling",
                    &format!("Pulling image {image:?}"),
                    field.clone(),
                );
                format!(
                    "Successfully pulled image {image:?} in {:.3}s",
                    started.elapsed().as_secs_f64()
                )
            } else {
                format!("Container image {image:?} already present on machine")
            };
            event(agent, pod, EventType::Normal, "Pulled", &message, field);
            Ok(())
        }
        Err(e) if request.policy == PullPolicy::Never => {
            let msg =
                format!("Container image {image:?} is not present with pull policy of Never ({e})");
            Err(Failure::new(
                "ErrImageNeverPull",
                msg.clone(),
                "ErrImageNeverPull",
                msg,
            ))
        }
        Err(e) => {
            let msg = e.to_string();
            let streak = {
                let mut map = agent.pull_backoff.lock().unwrap_or_else(|p| p.into_inner());
                let streak = map.get(&key).map_or(0, |b| b.streak) + 1;
                map.insert(
                    key,
                    PullBackoff {
                        streak,
                        at: std::time::Instant::now(),
                        message: msg.clone(),
                    },
                );
                streak
            };
            // Looked at again when the back-off ends (start_failed asks for the first step).
            plan.requeue_in(pull_delay(agent, streak));
            Err(Failure::new(
                "Failed",
                format!("Failed to pull image {image:?}: {msg}"),
                "ErrImagePull",
                msg,
            ))
        }
    }
}

/// The runtime id of the running container an ephemeral container `name` targets, if it has a target.
async fn ephemeral_target(
    agent: &NodeAgent,
    pod: &Pod,
    name: &str,
) -> Result<Option<String>, String> {
    let Some(target) = pod
        .spec
        .ephemeral_containers
        .iter()
        .find(|ec| ec.name == name)
        .and_then(|ec| ec.target_container_name.clone())
    else {
        return Ok(None);
    };
    let filter =
        pod_filter(pod.metadata.uid.as_deref().unwrap_or("")).with(labels::CONTAINER_NAME, &target);
    let running = agent
        .runtime
        .list_containers(&filter)
        .await
        .map_err(|e| e.to_string())?
        .into_iter()
        .find(|c| c.state == ContainerState::Running);
    match running {
        Some(c) => Ok(Some(c.id)),
        None => Err(format!("target container {target:?} is not running")),
    }
}

/// The spec list a runtime container came from, by its [`labels::CONTAINER_KIND`] label.
fn kind_of(c: &ContainerInfo) -> Kind {
    match c.labels.get(labels::CONTAINER_KIND).map(String::as_str) {
        Some("init") => Kind::Init,
        Some("ephemeral") => Kind::Ephemeral,
        _ => Kind::App,
    }
}

/// Why a container could not be started: the warning event, and the reason it waits with.
struct Failure {
    event_reason: &'static str,
    event_message: String,
    waiting_reason: &'static str,
    waiting_message: String,
}

impl Failure {
    /// The container's configuration cannot be made (an env source, a target): it waits with
    /// `CreateContainerConfigError`.
    fn config(msg: String) -> Self {
        Self::new(
            "Failed",
            format!("Error: {msg}"),
            "CreateContainerConfigError",
            msg,
        )
    }

    fn new(
        event_reason: &'static str,
        event_message: String,
        waiting_reason: &'static str,
        waiting_message: String,
    ) -> Self {
        Self {
            event_reason,
            event_message,
            waiting_reason,
            waiting_message,
        }
    }
}

/// Records a failed start: the event, the waiting reason, and a look again after the first back-off.
async fn start_failed(
    agent: &NodeAgent,
    pod: &Pod,
    container: &str,
    field: Option<String>,
    failure: Failure,
    plan: &mut Plan,
) {
    event(
        agent,
        pod,
        EventType::Warning,
        failure.event_reason,
        &failure.event_message,
        field,
    );
    plan.wait(container, failure.waiting_reason, failure.waiting_message);
    plan.requeue_in(agent.config.backoff_initial);
}

/// Restarts an exited container unless it is in back-off (then it waits with CrashLoopBackOff).
#[allow(clippy::too_many_arguments)]
async fn restart_with_backoff(
    agent: &NodeAgent,
    pod: &Pod,
    c: &Container,
    sandbox: &SandboxInfo,
    instances: &Instances,
    last: &ContainerInfo,
    kind: Kind,
    plan: &mut Plan,
) {
    let key = (pod.metadata.uid.clone().unwrap_or_default(), c.name.clone());
    let ran = match (last.started_at, last.finished_at) {
        (Some(s), Some(f)) => (f - s).to_std().unwrap_or_default(),
        _ => Duration::ZERO,
    };
    let streak = {
        let mut map = agent.backoff.lock().unwrap_or_else(|p| p.into_inner());
        let entry = map.entry(key.clone()).or_default();
        if ran >= BACKOFF_RESET {
            entry.streak = 0;
        }
        entry.streak
    };
    let delay = if streak == 0 {
        Duration::ZERO
    } else {
        let factor = 2u32.saturating_pow(streak - 1);
        agent
            .config
            .backoff_initial
            .saturating_mul(factor)
            .min(agent.config.backoff_max)
    };
    let finished = last.finished_at.unwrap_or_else(Utc::now);
    let elapsed = (Utc::now() - finished).to_std().unwrap_or_default();
    if elapsed < delay {
        let remaining = delay - elapsed;
        plan.wait(
            &c.name,
            "CrashLoopBackOff",
            format!(
                "back-off {}s restarting failed container={} pod={}",
                delay.as_secs(),
                c.name,
                full_name(pod)
            ),
        );
        plan.requeue_in(remaining);
        event(
            agent,
            pod,
            EventType::Warning,
            "BackOff",
            &format!(
                "Back-off restarting failed container {} in pod {}",
                c.name,
                full_name(pod)
            ),
            field_path(kind, &c.name),
        );
        return;
    }
    {
        let mut map = agent.backoff.lock().unwrap_or_else(|p| p.into_inner());
        map.entry(key).or_default().streak = streak + 1;
    }
    // Keep the last instance (its log is `kubectl logs --previous`); older ones go.
    for old in instances.iter().filter(|i| i.id != last.id) {
        agent.probes.forget(&old.id);
        let _ = agent.runtime.remove_container(&old.id).await;
    }
    agent.probes.forget(&last.id);
    if last.reason.as_deref() == Some("OOMKilled") {
        event(
            agent,
            pod,
            EventType::Warning,
            "OOMKilling",
            &format!("Memory cgroup out of memory: killed container {}", c.name),
            field_path(kind, &c.name),
        );
    }
    start(agent, pod, c, sandbox, attempt(last) + 1, kind, plan).await;
}

/// Runs the container's probes and acts on a failed liveness or startup probe.
async fn check_probes(
    agent: &NodeAgent,
    pod: &Pod,
    c: &Container,
    sandbox: &SandboxInfo,
    running: &ContainerInfo,
    plan: &mut Plan,
) -> Result<(), AgentError> {
    let target = ProbeTarget {
        pod: ObjectRef::from_obj(pod),
        container_id: running.id.clone(),
        pod_ip: sandbox.ip.clone().unwrap_or_else(|| "127.0.0.1".into()),
        ports: c
            .ports
            .iter()
            .filter_map(|p| p.name.clone().map(|n| (n, p.container_port)))
            .collect(),
    };
    let started = match &c.startup_probe {
        Some(p) => {
            agent.probes.ensure(
                agent.runtime.clone(),
                target.clone(),
                ProbeKind::Startup,
                (**p).clone(),
            );
            agent.probes.result(&running.id, ProbeKind::Startup)
        }
        None => Some(true),
    };
    let mut failed = (started == Some(false)).then_some(("startup", &c.startup_probe));
    if started == Some(true) {
        if let Some(p) = &c.readiness_probe {
            agent.probes.ensure(
                agent.runtime.clone(),
                target.clone(),
                ProbeKind::Readiness,
                (**p).clone(),
            );
        }
        if let Some(p) = &c.liveness_probe {
            agent.probes.ensure(
                agent.runtime.clone(),
                target.clone(),
                ProbeKind::Liveness,
                (**p).clone(),
            );
            if agent.probes.result(&running.id, ProbeKind::Liveness) == Some(false) {
                failed = Some(("liveness", &c.liveness_probe));
            }
        }
    }
    if let Some((which, _)) = failed {
        let field = field_path(Kind::App, &c.name);
        event(
            agent,
            pod,
            EventType::Warning,
            "Unhealthy",
            &format!("{} probe failed", capitalize(which)),
            field.clone(),
        );
        event(
            agent,
            pod,
            EventType::Normal,
            "Killing",
            &format!(
                "Container {} failed {which} probe, will be restarted",
                c.name
            ),
            field,
        );
        agent
            .runtime
            .stop_container(&running.id, grace(pod))
            .await?;
        agent.probes.forget(&running.id);
        plan.requeue_in(Duration::ZERO);
    }
    Ok(())
}

fn capitalize(s: &str) -> String {
    let mut c = s.chars();
    c.next()
        .map(|f| f.to_uppercase().collect::<String>() + c.as_str())
        .unwrap_or_default()
}

/// Graceful termination: SIGTERM, the grace period, SIGKILL; then everything is removed and the pod
/// object deleted for good.
async fn terminate(agent: &NodeAgent, pod: &Pod, uid: &str) -> Result<(), AgentError> {
    let filter = pod_filter(uid);
    let grace = grace(pod);
    let containers = agent.runtime.list_containers(&filter).await?;
    let mut stops = Vec::new();
    for c in containers
        .iter()
        .filter(|c| c.state == ContainerState::Running)
    {
        let name = c
            .labels
            .get(labels::CONTAINER_NAME)
            .cloned()
            .unwrap_or_default();
        event(
            agent,
            pod,
            EventType::Normal,
            "Killing",
            &format!("Stopping container {name}"),
            field_path(kind_of(c), &name),
        );
        stops.push(agent.runtime.stop_container(&c.id, grace));
    }
    for r in futures::future::join_all(stops).await {
        r?;
    }
    remove_pod_leftovers(agent, uid).await;
    let api: Api<Pod> = Api::namespaced(
        agent.client.clone(),
        pod.metadata.namespace.as_deref().unwrap_or("default"),
    );
    let params = DeleteParams {
        grace_period_seconds: Some(0),
        precondition_uid: Some(uid.to_string()),
        ..DeleteParams::default()
    };
    match api
        .delete(pod.metadata.name.as_deref().unwrap_or(""), &params)
        .await
    {
        Ok(_) => Ok(()),
        Err(e) if e.is_not_found() || e.is_conflict() => Ok(()),
        Err(e) => Err(e.into()),
    }
}

/// Removes every sandbox, container, probe and directory of pod `uid` (best effort, logged).
pub async fn remove_pod_leftovers(agent: &NodeAgent, uid: &str) {
    let filter = pod_filter(uid);
    if let Ok(containers) = agent.runtime.list_containers(&filter).await {
        for c in containers {
            agent.probes.forget(&c.id);
            if let Err(e) = agent.runtime.remove_container(&c.id).await {
                tracing::warn!(container = %c.id, error = %e, "cannot remove container");
            }
        }
    }
    if let Ok(sandboxes) = agent.runtime.list_sandboxes(&filter).await {
        for s in sandboxes {
            if let Err(e) = agent.runtime.remove_pod_sandbox(&s.id).await {
                tracing::warn!(sandbox = %s.id, error = %e, "cannot remove sandbox");
            }
        }
    }
    if let Err(e) = volumes::remove(agent, uid) {
        tracing::warn!(pod = %uid, error = %e, "cannot remove the pod directory");
    }
    agent
        .backoff
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .retain(|(u, _), _| u != uid);
    agent
        .pull_backoff
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .retain(|(u, _), _| u != uid);
}
