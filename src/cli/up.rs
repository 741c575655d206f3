//! `skiff up`: a cluster in one process — the API server on the chosen store, the control plane's
//! controllers (scheduler, ReplicaSet, garbage collector, node lifecycle) and a node agent for this host;
//! `skiff server` is the API server alone.

use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use clap::{Args, ValueEnum};
use skiff_core::client::InProcessClient;
use skiff_core::codec::Scheme;
use skiff_core::service_network::{NodePortRange, ServiceIpRange};
use skiff_core::shutdown::Shutdown;
use skiff_core::store::{MemoryStore, Store};
use skiff_store::{DurableStore, EtcdStore};

/// Which store holds the cluster's state.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum StoreKind {
    /// A redb file under the data directory, fsynced (the default).
    Embedded,
    /// Memory only: gone on exit.
    Memory,
    /// Real etcd at --etcd-endpoints.
    Etcd,
}

/// Options of `skiff up` (and `skiff server`).
#[derive(Debug, Args)]
pub struct UpArgs {
    /// A YAML file with these options (keys are the flag names); flags given here win. Read before
    /// the other flags are parsed (see `skiff::cli` docs).
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Where state lives (default: /var/lib/skiff as root, else ~/.local/share/skiff).
    #[arg(long, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// API port on 127.0.0.1; 0 picks a free one.
    #[arg(long, default_value_t = 6443)]
    pub port: u16,
    /// Where to write the kubeconfig (default: DATA_DIR/kubeconfig.yaml).
    #[arg(long, value_name = "PATH")]
    pub write_kubeconfig: Option<PathBuf>,
    /// The store backend.
    #[arg(long, value_enum, default_value_t = StoreKind::Embedded)]
    pub store: StoreKind,
    /// etcd client URLs, comma-separated (with --store etcd).
    #[arg(long, value_delimiter = ',', value_name = "URL,...")]
    pub etcd_endpoints: Vec<String>,
    /// How long a node's Lease may go unrenewed before the node is `Unknown` and tainted unreachable.
    #[arg(long, default_value = "40s", value_parser = parse_duration, value_name = "DURATION")]
    pub node_monitor_grace_period: std::time::Duration,
    /// How long pods stay on an unreachable node before they are evicted (unless they tolerate longer).
    #[arg(long, default_value = "5m", value_parser = parse_duration, value_name = "DURATION")]
    pub pod_eviction_timeout: std::time::Duration,
    /// How long events are kept after their last write (Kubernetes' `--event-ttl`); 0 keeps them forever.
    #[arg(long, default_value = "1h", value_parser = parse_duration, value_name = "DURATION")]
    pub event_ttl: std::time::Duration,
    /// The node agent `skiff up` runs (ignored by `skiff server`).
    #[command(flatten)]
    pub agent: super::AgentArgs,
    /// Address to listen on; the default is loopback only (0.0.0.0 listens on every interface).
    #[arg(long, default_value = "127.0.0.1", value_name = "IP")]
    pub bind_address: std::net::IpAddr,
    /// Serve plain HTTP and let every request in (no TLS, no tokens).
    #[arg(long)]
    pub insecure_http: bool,
    /// The IPv4 range Services' ClusterIPs come from (the `kubernetes` Service takes the first
    /// address, cluster DNS the 10th).
    #[arg(long, default_value = "10.96.0.0/12", value_name = "CIDR")]
    pub service_cluster_ip_range: ServiceIpRange,
    /// The ports NodePort and LoadBalancer Services get their node ports from.
    #[arg(long, default_value = "30000-32767", value_name = "FIRST-LAST")]
    pub service_node_port_range: NodePortRange,
}

/// Parses `300ms`, `40s`, `5m`, `1h` (or plain seconds).
pub fn parse_duration(text: &str) -> Result<std::time::Duration, String> {
    let t = text.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let n: u64 = num
        .parse()
        .map_err(|_| format!("{text:?} is not a duration such as 40s, 5m or 300ms"))?;
    let ms = match unit {
        "ms" => n,
        "" | "s" => n * 1000,
        "m" => n * 60_000,
        "h" => n * 3_600_000,
        _ => return Err(format!("{text:?}: unknown unit {unit:?} (ms, s, m, h)")),
    };
    Ok(std::time::Duration::from_millis(ms))
}

pub(crate) fn default_data_dir() -> PathBuf {
    let is_root = std::env::var("USER").is_ok_and(|u| u == "root")
        || std::env::var("HOME").is_ok_and(|h| h == "/root");
    if is_root {
        return PathBuf::from("/var/lib/skiff");
    }
    match std::env::var_os("XDG_DATA_HOME") {
        Some(d) => PathBuf::from(d).join("skiff"),
        None => PathBuf::from(std::env::var_os("HOME").unwrap_or_else(|| ".".into()))
            .join(".local/share/skiff"),
    }
}

/// Starts the cluster DNS on `bind` (a free port, UDP and TCP) and points the `kube-dns` Service
/// (`dns_ip`:53 in kube-system) at it.
async fn start_dns(
    server: &Arc<skiff_api::ApiServer>,
    client: &Arc<dyn skiff_core::client::Client>,
    bind: std::net::IpAddr,
    dns_ip: std::net::Ipv4Addr,
    shutdown: &Shutdown,
) -> anyhow::Result<()> {
    use skiff_controllers::dns::{self, DnsServer};
    use skiff_core::client::Api;
    use skiff_core::informer::Informer;
    use skiff_core::kinds::EndpointSlice;
    // One port for both transports: try until UDP and TCP both get it.
    let (udp, tcp) = {
        let mut tries = 0;
        loop {
            let udp = tokio::net::UdpSocket::bind((bind, 0))
                .await
                .context("cluster DNS: cannot bind a UDP port")?;
            let port = udp.local_addr()?.port();
            match tokio::net::TcpListener::bind((bind, port)).await {
                Ok(tcp) => break (udp, tcp),
                Err(e) if tries < 20 => {
                    tries += 1;
                    let _ = e;
                }
                Err(e) => return Err(e).context("cluster DNS: cannot bind a TCP port"),
            }
        }
    };
    let addr = udp.local_addr()?;
    let host = std::fs::read_to_string("/etc/resolv.conf").unwrap_or_default();
    let upstream = dns::server::nameservers(&host, &[dns_ip.into()]);
    let server_dns = DnsServer::new(
        dns::CLUSTER_DOMAIN,
        Informer::new(Api::all(client.clone())),
        Informer::new(Api::all(client.clone())),
        upstream,
    );
    tokio::spawn(server_dns.serve(udp, tcp, shutdown.clone()));
    server
        .ensure_service(serde_json::json!({
            "apiVersion": "v1", "kind": "Service",
            "metadata": {"name": dns::SERVICE_NAME, "namespace": "kube-system",
                "labels": {"k8s-app": "kube-dns", "kubernetes.io/name": "CoreDNS"}},
            "spec": {"clusterIP": dns_ip.to_string(), "ports": [
                {"name": "dns", "port": 53, "protocol": "UDP", "targetPort": 53},
                {"name": "dns-tcp", "port": 53, "protocol": "TCP", "targetPort": 53},
            ]},
        }))
        .await
        .context("cannot create the kube-dns Service")?;
    let slice = dns::endpoints_for(addr);
    let api: Api<EndpointSlice> = Api::namespaced(client.clone(), "kube-system");
    let name = slice.metadata.name.clone().unwrap_or_default();
    match api.get_opt(&name).await? {
        None => {
            api.create(&slice).await?;
        }
        Some(mut have) => {
            have.endpoints = slice.endpoints;
            have.ports = slice.ports;
            api.replace(&name, &have).await?;
        }
    }
    Ok(())
}

/// Resolves on Ctrl-C or SIGTERM (systemd, `kill`): the process stops cleanly, and the proxy
/// removes its addresses.
pub(crate) async fn interrupted() {
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term => {}
    }
}

pub(crate) fn run(args: &UpArgs, out: &mut dyn Write, with_agent: bool) -> anyhow::Result<i32> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    rt.block_on(up(args, out, with_agent))
}

async fn up(args: &UpArgs, out: &mut dyn Write, with_agent: bool) -> anyhow::Result<i32> {
    let data_dir = args.data_dir.clone().unwrap_or_else(default_data_dir);
    std::fs::create_dir_all(&data_dir)
        .with_context(|| format!("--data-dir {}: cannot create it", data_dir.display()))?;
    let store: Arc<dyn Store> = match args.store {
        StoreKind::Embedded => {
            let path = data_dir.join("skiff.db");
            Arc::new(tokio::task::spawn_blocking(move || DurableStore::open(path)).await??)
        }
        StoreKind::Memory => Arc::new(MemoryStore::new()),
        StoreKind::Etcd => {
            anyhow::ensure!(
                !args.etcd_endpoints.is_empty(),
                "--store etcd needs --etcd-endpoints URL,..."
            );
            Arc::new(EtcdStore::connect(&args.etcd_endpoints).await?)
        }
    };
    let client = InProcessClient::shared(store);
    let security = super::secure::prepare(&data_dir, args.bind_address, args.insecure_http)?;
    let server = security.api_server(client.clone(), Scheme::builtin());
    server.set_service_network(skiff_api::server::ServiceNetwork {
        cluster_ips: args.service_cluster_ip_range,
        node_ports: args.service_node_port_range,
    });
    server.ensure_namespaces().await?;
    server.ensure_apiservices().await?;
    let addr = SocketAddr::new(args.bind_address, args.port);
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .with_context(|| format!("--port {}: cannot listen on {addr}", args.port))?;
    let bound = listener.local_addr()?;
    // The `kubernetes` Service's endpoint: the address the server listens on (loopback when it
    // listens on every interface: the one address sure to reach it from this host).
    let advertise = match bound.ip() {
        ip if ip.is_unspecified() => SocketAddr::new([127, 0, 0, 1].into(), bound.port()),
        _ => bound,
    };
    server
        .ensure_kubernetes_service(advertise)
        .await
        .context("cannot create the kubernetes Service")?;
    let url = security.url(bound);
    let kubeconfig = args
        .write_kubeconfig
        .clone()
        .unwrap_or_else(|| data_dir.join("kubeconfig.yaml"));
    let access = security.kubeconfig(&url);
    access.write(&kubeconfig).with_context(|| {
        format!(
            "--write-kubeconfig {}: cannot write it",
            kubeconfig.display()
        )
    })?;
    let (stop, shutdown) = Shutdown::new();
    tokio::spawn(async move {
        interrupted().await;
        stop.trigger();
    });
    // Allocations a crash left without their Service are released, as Kubernetes' repair loops do.
    tokio::spawn(
        server
            .clone()
            .run_service_repair(std::time::Duration::from_secs(60), shutdown.clone()),
    );
    // Events expire, as the API server's --event-ttl makes them in Kubernetes.
    if !args.event_ttl.is_zero() {
        tokio::spawn(skiff_core::events::expiry::run(
            client.clone(),
            args.event_ttl,
            shutdown.clone(),
        ));
    }
    // Cluster DNS, behind the kube-dns Service (`skiff server` is the API server alone).
    let mut agent_args = args.agent.clone();
    if with_agent {
        let dns_ip = args.service_cluster_ip_range.dns();
        start_dns(&server, &client, advertise.ip(), dns_ip, &shutdown).await?;
        agent_args.cluster_dns.get_or_insert(dns_ip);
    }
    // The control plane's controllers.
    if with_agent {
        skiff_controllers::control_plane::start(
            client.clone(),
            skiff_controllers::node_lifecycle::NodeLifecycleConfig {
                grace: args.node_monitor_grace_period,
                eviction: args.pod_eviction_timeout,
                ..Default::default()
            },
            shutdown.clone(),
        );
    }
    // `/readyz` answers 200, and the banner (the readiness line) is printed, once the node agent has
    // registered its Node and watches its pods.
    let (agent, mut registered) = if with_agent {
        server.set_ready(false);
        let started = super::agent::start(&agent_args, client, &data_dir, shutdown.clone()).await?;
        (Some(started.task), Some(started.registered))
    } else {
        (None, None)
    };
    let gate = server.clone();
    let serving = security.serve(server, listener, shutdown);
    tokio::pin!(serving);
    if let Some(registered) = registered.as_mut() {
        tokio::select! {
            result = &mut serving => {
                result?;
                return Ok(0);
            }
            r = tokio::time::timeout(std::time::Duration::from_secs(30), registered.wait_for(|r| *r)) => {
                if !matches!(r, Ok(Ok(_))) {
                    eprintln!("warning: the node agent has not registered its Node within 30 s");
                }
            }
        }
    }
    gate.set_ready(true);
    let banner = format!(
        "skiff {} is up: API server on {url} (store: {:?}, data: {})\n  export KUBECONFIG={}\n  kubectl get namespaces\n",
        crate::VERSION,
        args.store,
        data_dir.display(),
        kubeconfig.display()
    );
    // The banner is for people; a closed stdout (a pipe nobody reads) must not stop the server.
    let _ = out.write_all(banner.as_bytes()).and_then(|_| out.flush());
    serving.await?;
    if let Some(agent) = agent {
        let _ = agent.await;
    }
    let _ = writeln!(out, "skiff stopped");
    Ok(0)
}
