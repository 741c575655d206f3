//! Conventions shared by the runtimes that sit on a container engine (Docker, Podman): the names
//! cri-dockerd gives containers, the `reason` of an exited container, and image references with
//! their implicit tag. Pure functions, so both engines name and report alike and an agent moved
//! from one engine to the other reads the same things.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};

use super::{labels, ContainerInfo, ContainerState, ImageRequest, PullPolicy, RuntimeError};

/// The label saying what an engine object is to Skiff: `sandbox`, `container` or `network`.
pub const TYPE: &str = "skiff.io/type";
/// The node whose runtime made the object: a runtime sees only its own node's, so several nodes
/// can share one engine without removing each other's pods.
pub const NODE: &str = "skiff.io/node";
/// On containers: the sandbox id they joined.
pub const SANDBOX_ID: &str = "skiff.io/sandbox-id";

/// A name segment: engines allow `[a-zA-Z0-9][a-zA-Z0-9_.-]`; anything else becomes `-`.
fn segment(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '-') {
                c
            } else {
                '-'
            }
        })
        .collect()
}

/// cri-dockerd's names: `k8s_<container>_<pod>_<namespace>_<uid>_<attempt>`, `POD` for the sandbox.
///
/// ```
/// use std::collections::BTreeMap;
/// use skiff_core::runtime::{engine, labels};
/// let mut l = BTreeMap::new();
/// l.insert(labels::POD_NAME.to_string(), "web".to_string());
/// l.insert(labels::POD_NAMESPACE.to_string(), "default".to_string());
/// l.insert(labels::POD_UID.to_string(), "6f1c".to_string());
/// l.insert(labels::ATTEMPT.to_string(), "2".to_string());
/// assert_eq!(engine::cri_name("nginx", &l), "k8s_nginx_web_default_6f1c_2");
/// assert_eq!(engine::cri_name("a/b:c", &l), "k8s_a-b-c_web_default_6f1c_2");
/// ```
pub fn cri_name(container: &str, l: &BTreeMap<String, String>) -> String {
    let get = |k: &str| segment(l.get(k).map(String::as_str).unwrap_or(""));
    format!(
        "k8s_{}_{}_{}_{}_{}",
        segment(container),
        get(labels::POD_NAME),
        get(labels::POD_NAMESPACE),
        get(labels::POD_UID),
        labels::attempt(l)
    )
}

/// The kubelet's `reason` for an exited container: `OOMKilled`, `StartError` (the engine could
/// not start it: it never ran and the engine says why), `Completed` (exit 0) or `Error`.
///
/// ```
/// use skiff_core::runtime::engine::exit_reason;
/// assert_eq!(exit_reason(true, true, false, Some(137)), "OOMKilled");
/// assert_eq!(exit_reason(false, false, true, Some(127)), "StartError");
/// assert_eq!(exit_reason(false, true, false, Some(0)), "Completed");
/// assert_eq!(exit_reason(false, true, false, Some(1)), "Error");
/// ```
pub fn exit_reason(oom: bool, ran: bool, has_error: bool, code: Option<i32>) -> &'static str {
    if oom {
        "OOMKilled"
    } else if !ran && has_error {
        "StartError"
    } else if code == Some(0) {
        "Completed"
    } else {
        "Error"
    }
}

/// An image reference with its implicit tag: `nginx` → `nginx:latest`, as engines pull it.
///
/// ```
/// use skiff_core::runtime::engine::pull_reference;
/// assert_eq!(pull_reference("nginx"), "nginx:latest");
/// assert_eq!(pull_reference("127.0.0.1:5000/pause:3.10"), "127.0.0.1:5000/pause:3.10");
/// assert_eq!(pull_reference("localhost:5000/web"), "localhost:5000/web:latest");
/// assert_eq!(pull_reference("nginx@sha256:ab"), "nginx@sha256:ab");
/// ```
pub fn pull_reference(image: &str) -> String {
    if image.contains('@') {
        return image.to_string();
    }
    let last = image.rsplit('/').next().unwrap_or(image);
    if last.contains(':') {
        image.to_string()
    } else {
        format!("{image}:latest")
    }
}

/// The network namespace of a sandbox whose pause (infra) container's process is `pid`: that
/// process's (`/proc/PID/ns/net`); an error when it does not run.
///
/// ```
/// use skiff_core::runtime::{engine::pid_network_namespace, NetworkNamespace};
/// assert_eq!(
///     pid_network_namespace("s1", Some(42)).unwrap(),
///     NetworkNamespace::Path("/proc/42/ns/net".into())
/// );
/// assert!(pid_network_namespace("s1", Some(0)).is_err());
/// ```
pub fn pid_network_namespace(
    sandbox: &str,
    pid: Option<i64>,
) -> Result<crate::runtime::NetworkNamespace, RuntimeError> {
    let pid = pid
        .filter(|p| *p > 0)
        .ok_or_else(|| RuntimeError::Invalid(format!("sandbox {sandbox} is not running")))?;
    Ok(crate::runtime::NetworkNamespace::Path(
        format!("/proc/{pid}/ns/net").into(),
    ))
}

/// The registry an image reference pulls from, as Docker reads it: the first path component when it
/// looks like a host (has a `.` or a `:`, or is `localhost`), else Docker Hub (`docker.io`).
///
/// ```
/// use skiff_core::runtime::engine::registry_host;
/// assert_eq!(registry_host("nginx"), "docker.io");
/// assert_eq!(registry_host("library/nginx:1.27"), "docker.io");
/// assert_eq!(registry_host("127.0.0.1:5001/private/busybox"), "127.0.0.1:5001");
/// assert_eq!(registry_host("ghcr.io/org/app@sha256:ab"), "ghcr.io");
/// ```
pub fn registry_host(image: &str) -> String {
    match image.split_once('/') {
        Some((first, _)) if first.contains('.') || first.contains(':') || first == "localhost" => {
            first.to_string()
        }
        _ => "docker.io".into(),
    }
}

/// A credential's server reduced to a host, Docker Hub's many spellings to `docker.io`.
fn server_host(server: &str) -> String {
    let s = server
        .trim_start_matches("https://")
        .trim_start_matches("http://");
    let host = s.split('/').next().unwrap_or(s);
    match host {
        "index.docker.io" | "registry-1.docker.io" | "docker.io" => "docker.io".into(),
        other => other.to_string(),
    }
}

/// The credentials of a `.dockerconfigjson` (`{"auths": {SERVER: {...}}}`) or a legacy `.dockercfg`
/// (`{SERVER: {...}}`) that apply to `image`, as the kubelet matches them: the entry whose server is
/// the image's registry; `username` and `password`, or `auth` (base64 `user:password`). Unreadable
/// content yields none.
///
/// ```
/// use skiff_core::runtime::engine::credentials_for;
/// let config = br#"{"auths":{"127.0.0.1:5001":{"auth":"c2tpZmY6c2VjcmV0"}}}"#;
/// let found = credentials_for("127.0.0.1:5001/private/busybox", config);
/// assert_eq!((found[0].username.as_str(), found[0].password.as_str()), ("skiff", "secret"));
/// assert!(credentials_for("busybox", config).is_empty());
/// ```
pub fn credentials_for(image: &str, config: &[u8]) -> Vec<crate::runtime::RegistryCredential> {
    use base64::Engine as _;
    let Ok(json) = serde_json::from_slice::<serde_json::Value>(config) else {
        return Vec::new();
    };
    let auths = json.get("auths").unwrap_or(&json);
    let Some(auths) = auths.as_object() else {
        return Vec::new();
    };
    let want = registry_host(image);
    auths
        .iter()
        .filter(|(server, _)| server_host(server) == want)
        .filter_map(|(server, entry)| {
            let field = |k: &str| entry.get(k).and_then(serde_json::Value::as_str);
            let (username, password) = match (field("username"), field("password")) {
                (Some(u), Some(p)) => (u.to_string(), p.to_string()),
                _ => {
                    let decoded = base64::engine::general_purpose::STANDARD
                        .decode(field("auth")?)
                        .ok()?;
                    let text = String::from_utf8(decoded).ok()?;
                    let (u, p) = text.split_once(':')?;
                    (u.to_string(), p.to_string())
                }
            };
            Some(crate::runtime::RegistryCredential {
                server: server.clone(),
                username,
                password,
            })
        })
        .collect()
}

/// The bridge gateway of a pod CIDR: its first address (`10.244.1.0/24` → `10.244.1.1`), as
/// engines' bridge networks and the process runtime's bridge use. `None` for what is not IPv4.
///
/// ```
/// use skiff_core::runtime::engine::gateway_of;
/// assert_eq!(gateway_of("10.244.1.0/24").as_deref(), Some("10.244.1.1"));
/// assert_eq!(gateway_of("fd00::/64"), None);
/// ```
pub fn gateway_of(cidr: &str) -> Option<String> {
    let ip: std::net::Ipv4Addr = cidr.split('/').next()?.parse().ok()?;
    Some(std::net::Ipv4Addr::from(u32::from(ip).wrapping_add(1)).to_string())
}

/// What an engine's inspect says of a container, before it becomes a [`ContainerInfo`]: each
/// engine reads its own JSON into this, and the rules (reason, which times count, the sandbox and
/// container names from the labels) are the same for all.
#[derive(Clone, Debug, Default)]
pub struct Inspected {
    /// The engine's id.
    pub id: String,
    /// The container's labels.
    pub labels: BTreeMap<String, String>,
    /// The image as the container names it.
    pub image: String,
    /// The image's id.
    pub image_id: String,
    /// The state, mapped from the engine's status.
    pub state: ContainerState,
    /// When it was created (engines write the zero time for "never": give `None` then).
    pub created_at: Option<DateTime<Utc>>,
    /// When it started.
    pub started_at: Option<DateTime<Utc>>,
    /// When it finished.
    pub finished_at: Option<DateTime<Utc>>,
    /// Its exit code.
    pub exit_code: Option<i32>,
    /// Whether the engine (or the kernel) says it was OOM-killed.
    pub oom_killed: bool,
    /// The engine's error, e.g. why it could not start it.
    pub error: Option<String>,
}

impl From<Inspected> for ContainerInfo {
    /// The kubelet's view: exit code, reason and finish time only once exited.
    ///
    /// ```
    /// use skiff_core::runtime::{engine::Inspected, ContainerInfo, ContainerState};
    /// let info = ContainerInfo::from(Inspected {
    ///     state: ContainerState::Exited,
    ///     exit_code: Some(0),
    ///     started_at: Some(chrono::Utc::now()),
    ///     ..Inspected::default()
    /// });
    /// assert_eq!(info.reason.as_deref(), Some("Completed"));
    /// ```
    fn from(c: Inspected) -> Self {
        let exited = c.state == ContainerState::Exited;
        let error = c.error.filter(|e| !e.is_empty());
        let reason = exited.then(|| {
            exit_reason(
                c.oom_killed,
                c.started_at.is_some(),
                error.is_some(),
                c.exit_code,
            )
            .to_string()
        });
        ContainerInfo {
            id: c.id,
            sandbox_id: c.labels.get(SANDBOX_ID).cloned().unwrap_or_default(),
            name: c
                .labels
                .get(labels::CONTAINER_NAME)
                .cloned()
                .unwrap_or_default(),
            image: c.image,
            image_id: c.image_id,
            labels: c.labels,
            state: c.state,
            created_at: c.created_at.unwrap_or_else(Utc::now),
            started_at: c.started_at,
            finished_at: if exited { c.finished_at } else { None },
            exit_code: if exited { c.exit_code } else { None },
            reason,
            message: error,
        }
    }
}

/// The kubelet's pull policy against what is present: `Ok(Some(id))` use the image there,
/// `Ok(None)` pull it, `Err` for `Never` with the image absent (ErrImageNeverPull).
///
/// ```
/// use skiff_core::runtime::{engine::pull_decision, ImageRequest, PullPolicy};
/// let req = |policy| ImageRequest { image: "nginx".into(), policy, has_command: false, credentials: vec![] };
/// assert_eq!(pull_decision(&req(PullPolicy::Always), Some("sha256:1".into())).unwrap(), None);
/// assert_eq!(pull_decision(&req(PullPolicy::IfNotPresent), Some("sha256:1".into())).unwrap(), Some("sha256:1".into()));
/// assert_eq!(pull_decision(&req(PullPolicy::IfNotPresent), None).unwrap(), None);
/// assert!(pull_decision(&req(PullPolicy::Never), None).is_err());
/// ```
pub fn pull_decision(
    request: &ImageRequest,
    present: Option<String>,
) -> Result<Option<String>, RuntimeError> {
    match (request.policy, present) {
        (PullPolicy::Always, _) | (PullPolicy::IfNotPresent, None) => Ok(None),
        (_, Some(id)) => Ok(Some(id)),
        (PullPolicy::Never, None) => Err(RuntimeError::ImageNotFound {
            image: request.image.clone(),
            message: format!(
                "Container image {:?} is not present with pull policy of Never",
                request.image
            ),
        }),
    }
}
