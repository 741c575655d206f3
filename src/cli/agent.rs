//! The node agent's flags (shared by `skiff up` and `skiff node`) and starting it.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use anyhow::Context;
use clap::{Args, ValueEnum};
use skiff_controllers::node_agent::{NodeAgent, NodeConfig};
use skiff_core::client::Client;
use skiff_core::runtime::Runtime;
use skiff_core::shutdown::Shutdown;
use skiff_runtime_docker::{DockerConfig, DockerRuntime};
use skiff_runtime_podman::{PodmanConfig, PodmanRuntime};
use skiff_runtime_process::{ProcessConfig, ProcessRuntime};

/// Which runtime runs the pods.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum RuntimeKind {
    /// Bare processes with cgroups and network namespaces (no engine needed; the default).
    Process,
    /// Docker through its API socket.
    Docker,
    /// Podman through its API socket.
    Podman,
}

/// How the node forwards Services' traffic (`--proxy-mode`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ProxyMode {
    /// Kernel DNAT from one private nftables table (kube-proxy's nftables mode).
    Nftables,
    /// Tokio listeners on the ClusterIPs (local addresses on `lo`) and NodePorts, copying bytes.
    Userspace,
    /// No service proxy on this node.
    None,
}

/// The node agent's options.
#[derive(Clone, Debug, Args)]
pub struct AgentArgs {
    /// The runtime that runs pods.
    #[arg(long, value_enum, default_value_t = RuntimeKind::Process)]
    pub runtime: RuntimeKind,
    /// The Node's name (default: the host name).
    #[arg(long, value_name = "NAME")]
    pub node_name: Option<String>,
    /// Labels for the Node, e.g. `disktype=ssd,zone=a`.
    #[arg(long, value_delimiter = ',', value_name = "K=V,...")]
    pub node_labels: Vec<String>,
    /// The node's pod subnet (a /24), on its own bridge: nodes on one host need different ones.
    #[arg(long, default_value = "10.244.0.0/24", value_name = "CIDR")]
    pub pod_cidr: String,
    /// The engine's API socket for `--runtime docker|podman` (default
    /// unix:///var/run/docker.sock, unix:///run/podman/podman.sock).
    #[arg(long, value_name = "unix:///PATH")]
    pub container_runtime_endpoint: Option<String>,
    /// The pause image of pod sandboxes on Docker and Podman (default: on Docker
    /// registry.k8s.io/pause:3.10, on Podman the pause image Podman builds itself from catatonit).
    #[arg(long, value_name = "IMAGE")]
    pub pod_infra_image: Option<String>,
    /// How often the agent relists the runtime's containers (the kubelet's PLEG relist, 1 s). Runtimes
    /// with an event stream (Docker, Podman) report starts and exits at once besides.
    #[arg(long, default_value = "1s", value_parser = super::up::parse_duration, value_name = "DURATION", hide = true)]
    pub relist_period: std::time::Duration,
    /// The cluster DNS address pods with `dnsPolicy: ClusterFirst` get in their resolv.conf (`skiff up`:
    /// the 10th address of the service range, where its DNS is; without it, pods get the node's).
    #[arg(long, value_name = "IP")]
    pub cluster_dns: Option<std::net::Ipv4Addr>,
    /// The cluster domain of pods' DNS search path.
    #[arg(long, default_value = "cluster.local", value_name = "DOMAIN")]
    pub cluster_domain: String,
    /// The service proxy's data path (default: nftables where root and `nft` are available, else
    /// userspace). Both need root (rules, and the ClusterIPs as addresses on `lo`).
    #[arg(long, value_enum, value_name = "MODE")]
    pub proxy_mode: Option<ProxyMode>,
}

/// Parses `--pod-cidr a.b.c.0/24` into its first three octets.
pub fn parse_pod_cidr(cidr: &str) -> anyhow::Result<[u8; 3]> {
    let bad = || anyhow::anyhow!("--pod-cidr {cidr:?}: expected a /24 such as 10.244.0.0/24");
    let (addr, len) = cidr.split_once('/').ok_or_else(bad)?;
    let ip: std::net::Ipv4Addr = addr.parse().map_err(|_| bad())?;
    let [a, b, c, d] = ip.octets();
    if len != "24" || d != 0 {
        return Err(bad());
    }
    Ok([a, b, c])
}

/// The bridge of a pod subnet: `skiff0` for 10.244.0.0/24, `skiff7` for 10.244.7.0/24.
fn bridge_name([a, b, c]: [u8; 3]) -> String {
    if [a, b] == [10, 244] {
        format!("skiff{c}")
    } else {
        format!("sk{a}-{b}-{c}")
    }
}

/// The host name as a valid Node name (lower case; other characters than `a-z 0-9 . -` become `-`).
fn host_name() -> String {
    let raw = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_default();
    let name: String = raw
        .trim()
        .to_lowercase()
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' || c == '-' {
                c
            } else {
                '-'
            }
        })
        .collect();
    let name = name
        .trim_matches(|c: char| c == '-' || c == '.')
        .to_string();
    if name.is_empty() {
        "node".into()
    } else {
        name
    }
}

/// Parses `--node-labels`; the error names the flag and the bad entry.
pub fn parse_labels(items: &[String]) -> anyhow::Result<BTreeMap<String, String>> {
    let mut out = BTreeMap::new();
    for item in items.iter().filter(|i| !i.is_empty()) {
        let (k, v) = item
            .split_once('=')
            .with_context(|| format!("--node-labels {item:?}: expected key=value"))?;
        let problems: Vec<String> = skiff_core::validation::names::qualified_name(k)
            .into_iter()
            .chain(skiff_core::validation::names::label_value(v))
            .collect();
        if !problems.is_empty() {
            anyhow::bail!("--node-labels {item:?}: {}", problems.join("; "));
        }
        out.insert(k.to_string(), v.to_string());
    }
    Ok(out)
}

/// Starts the node's service proxy (see `skiff_controllers::proxy`); its addresses' label is named
/// after the node's pod subnet (`lo:skiff-svc7` for 10.244.7.0/24: labels are short) and its
/// nftables table after the node (`skiff-proxy-<node>`), so nodes on one host keep apart.
async fn start_proxy(
    mode: Option<ProxyMode>,
    node: &str,
    client: &Arc<dyn Client>,
    [_, _, c]: [u8; 3],
    shutdown: &Shutdown,
) -> Option<tokio::task::JoinHandle<()>> {
    use skiff_controllers::proxy::nftables::{Kernel, NftablesProxy};
    use skiff_controllers::proxy::{self, userspace::UserspaceProxy, LoopbackAddresses, Proxy};
    use skiff_core::client::Api;
    use skiff_core::informer::Informer;
    let mode = match mode {
        Some(mode) => mode,
        None if crate::is_root() && Kernel::available().await => ProxyMode::Nftables,
        None => ProxyMode::Userspace,
    };
    if mode == ProxyMode::None {
        return None;
    }
    if !crate::is_root() {
        eprintln!("warning: --proxy-mode {mode:?} needs root (rules, and ClusterIP addresses on lo); no service proxy runs");
        return None;
    }
    // Per node (its pod subnet), so several nodes on one host keep apart.
    let userspace = UserspaceProxy::new(Arc::new(LoopbackAddresses::new(&format!("skiff-svc{c}"))));
    let backend: Arc<dyn Proxy> = match mode {
        ProxyMode::Nftables => Arc::new(NftablesProxy::new(
            &format!("skiff-proxy-{node}"),
            Arc::new(Kernel),
            userspace,
        )),
        _ => Arc::new(userspace),
    };
    let services = Informer::new(Api::all(client.clone()));
    let slices = Informer::new(Api::all(client.clone()));
    Some(tokio::spawn(proxy::run(
        services,
        slices,
        backend,
        shutdown.clone(),
    )))
}

/// A started node agent.
pub struct Started {
    /// The agent's task.
    pub task: tokio::task::JoinHandle<()>,
    /// Turns true once the Node is registered and its pods are watched.
    pub registered: tokio::sync::watch::Receiver<bool>,
}

/// Builds the runtime and the agent for `client`, keeping state under `data_dir`, and starts it.
pub async fn start(
    args: &AgentArgs,
    client: Arc<dyn Client>,
    data_dir: &Path,
    shutdown: Shutdown,
) -> anyhow::Result<Started> {
    let labels = parse_labels(&args.node_labels)?;
    let subnet = parse_pod_cidr(&args.pod_cidr)?;
    let mut runtime_config = ProcessConfig::new(data_dir.join("runtime"));
    runtime_config.pod_subnet = subnet;
    runtime_config.bridge = bridge_name(subnet);
    let (runtime, limitations): (Arc<dyn Runtime>, Vec<String>) = match args.runtime {
        RuntimeKind::Process => {
            let r = ProcessRuntime::new(runtime_config.clone()).with_context(|| {
                format!(
                    "--data-dir {}: cannot set up the process runtime",
                    data_dir.display()
                )
            })?;
            let notes = r.limitations().to_vec();
            (Arc::new(r), notes)
        }
        RuntimeKind::Docker => {
            let config = DockerConfig {
                endpoint: args
                    .container_runtime_endpoint
                    .clone()
                    .unwrap_or_else(|| DockerConfig::default().endpoint),
                pod_cidr: Some(args.pod_cidr.clone()),
                pause_image: args
                    .pod_infra_image
                    .clone()
                    .unwrap_or_else(|| DockerConfig::default().pause_image),
                node: args.node_name.clone().unwrap_or_else(host_name),
                ..DockerConfig::default()
            };
            let r = DockerRuntime::connect(config)
                .await
                .context("--runtime docker")?;
            (Arc::new(r), Vec::new())
        }
        RuntimeKind::Podman => {
            let config = PodmanConfig {
                endpoint: args
                    .container_runtime_endpoint
                    .clone()
                    .unwrap_or_else(|| PodmanConfig::default().endpoint),
                pod_cidr: Some(args.pod_cidr.clone()),
                infra_image: args.pod_infra_image.clone(),
                node: args.node_name.clone().unwrap_or_else(host_name),
                ..PodmanConfig::default()
            };
            let r = PodmanRuntime::connect(config)
                .await
                .context("--runtime podman")?;
            let notes = r.limitations().to_vec();
            (Arc::new(r), notes)
        }
    };
    let name = args.node_name.clone().unwrap_or_else(host_name);
    let mut config = NodeConfig::new(&name, data_dir.join("node"));
    config.labels = labels;
    config.address = runtime_config.host_ip.clone();
    config.limitations = limitations;
    config.relist_period = args.relist_period;
    config.pod_cidr = Some(args.pod_cidr.clone());
    config.cluster_dns = args.cluster_dns.map(|ip| ip.to_string());
    config.cluster_domain = args.cluster_domain.clone();
    // The endpoint the API server proxies logs and exec to, on the node's address.
    let token = skiff_api::auth::random_token()
        .context("cannot make a token for the node agent's endpoint")?;
    let listener = match tokio::net::TcpListener::bind((config.address.as_str(), 0)).await {
        Ok(l) => l,
        Err(_) => tokio::net::TcpListener::bind(("127.0.0.1", 0))
            .await
            .context("cannot listen for the node agent's endpoint")?,
    };
    let local = listener.local_addr()?;
    config.address = local.ip().to_string();
    config.endpoint_port = Some(local.port());
    config.annotations.insert(
        skiff_api::kubelet::TOKEN_ANNOTATION.to_string(),
        token.clone(),
    );
    let endpoint = skiff_api::kubelet::KubeletServer::new(runtime.clone(), token);
    tokio::spawn(endpoint.serve(listener, shutdown.clone()));
    let proxy = start_proxy(args.proxy_mode, &name, &client, subnet, &shutdown).await;
    let agent = NodeAgent::new(client, runtime, config);
    let registered = agent.registered();
    let task = tokio::spawn(async move {
        if let Err(e) = agent.run(shutdown).await {
            eprintln!("node agent stopped: {e}");
        }
        // The proxy removes its addresses on the same shutdown.
        if let Some(proxy) = proxy {
            let _ = proxy.await;
        }
    });
    Ok(Started { task, registered })
}
