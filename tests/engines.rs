//! The same pods on Docker and on Podman, through `skiff up --runtime docker|podman` against the
//! real engines, whose Docker Hub mirror is the test registry (`scripts/test-images.sh`), so
//! `image: nginx` and `image: alpine/git` are really pulled. Every test runs on both engines:
//!
//! - the seed manifest (examples/manifests/seed-pod.yaml, unchanged): the init container runs first
//!   (git's usage, exit 0), the pod turns Ready through its httpGet probe, the host reaches nginx on
//!   the pod IP (in the node's pod CIDR), `kubectl exec` sees the env and the hostPath volume,
//!   `kubectl exec -i` carries stdin and the exit code, the cgroup holds the limits; after kill -9
//!   of skiff the new agent adopts the running pod; `kubectl delete` leaves nothing behind;
//! - pull failures: ErrImagePull, ImagePullBackOff, ErrImageNeverPull and their events;
//! - a ReplicaSet heals after the engine's `kill`, replaces, scales and cascades;
//! - an engine that dies turns the node NotReady, and Ready again when it is back;
//! - the engine's event stream drives restarts: with the relist an hour apart, a killed container
//!   is restarted all the same;
//! - Docker without its pause image (absent, and not in any registry): Skiff builds its own from
//!   catatonit and the pod runs;
//! - one cluster with a process node, a Docker node and a Podman node: pods land by nodeSelector on
//!   each and run there.
//!
//! Skipped with a printed reason without root or an engine, unless SKIFF_REQUIRE_ENGINES=1.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::io::{Read, Write};
use std::process::Command;
use std::time::Duration;

use common::{can_run, Cluster};

/// An engine under test: its socket, its CLI, and the pod subnets its tests use
/// (10.250.<net + i>.0/24, apart from the other engine's).
struct Engine {
    name: &'static str,
    socket: &'static str,
    net: u8,
    /// Flags every node on it takes.
    extra: &'static [&'static str],
}

const DOCKER: Engine = Engine {
    name: "docker",
    socket: "/var/run/docker.sock",
    net: 8,
    // registry.k8s.io is not mirrored: the test registry serves the pause image.
    extra: &["--pod-infra-image", "127.0.0.1:5000/pause:3.10"],
};

const PODMAN: Engine = Engine {
    name: "podman",
    socket: "/run/podman/podman.sock",
    net: 21,
    // Podman's own infra image, built from catatonit.
    extra: &[],
};

impl Engine {
    fn present(&self) -> bool {
        let present = std::path::Path::new(self.socket).exists();
        if !present {
            assert!(
                std::env::var("SKIFF_REQUIRE_ENGINES").as_deref() != Ok("1"),
                "SKIFF_REQUIRE_ENGINES=1 but {} is not running ({})",
                self.name,
                self.socket
            );
            eprintln!(
                "skipping: {} is not running ({}); scripts/test-images.sh starts it",
                self.name, self.socket
            );
        }
        present
    }

    /// `skiff up` flags for this engine with pod subnet `net + i` (and another endpoint).
    fn args(&self, i: u8, endpoint: Option<&str>) -> Vec<String> {
        let mut args = vec![
            "--runtime".to_string(),
            self.name.to_string(),
            "--pod-cidr".to_string(),
            format!("10.250.{}.0/24", self.net + i),
        ];
        if let Some(e) = endpoint {
            args.extend(["--container-runtime-endpoint".to_string(), e.to_string()]);
        }
        args.extend(self.extra.iter().map(|s| s.to_string()));
        args
    }

    fn start(&self, tag: &str, labels: &str, i: u8, endpoint: Option<&str>) -> Cluster {
        let args = self.args(i, endpoint);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        Cluster::start_with(&format!("{}-{tag}", self.name), labels, &args)
    }

    /// The engine's CLI, e.g. `docker kill ID`.
    fn cli(&self, args: &[&str]) -> std::process::Output {
        Command::new(self.name).args(args).output().unwrap()
    }

    /// What the engine holds of pod `uid`: its containers (Docker: the pause one too) and, on
    /// Podman, its pod.
    fn ps(&self, uid: &str) -> Vec<String> {
        let filter = format!("label=skiff.io/pod-uid={uid}");
        let mut lists = vec![self.cli(&["ps", "-a", "-q", "--filter", &filter])];
        if self.name == "podman" {
            lists.push(self.cli(&["pod", "ps", "-q", "--filter", &filter]));
        }
        lists
            .iter()
            .flat_map(|o| {
                String::from_utf8_lossy(&o.stdout)
                    .into_owned()
                    .lines()
                    .map(str::to_string)
                    .collect::<Vec<_>>()
            })
            .collect()
    }
}

fn http_get(ip: &str, port: u16) -> String {
    let Ok(mut s) = std::net::TcpStream::connect((ip, port)) else {
        return String::new();
    };
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let _ = write!(s, "GET / HTTP/1.0\r\nHost: x\r\n\r\n");
    let mut body = String::new();
    let _ = s.read_to_string(&mut body);
    body
}

async fn the_seed_pod_runs_unchanged(engine: &Engine) {
    if !can_run() || !engine.present() {
        return;
    }
    let cluster = engine.start("seed", "disktype=ssd", 0, None);
    let prefix = format!("{}://", engine.name);
    let cidr = format!("10.250.{}.", engine.net);
    let manifest = format!(
        "{}/examples/manifests/seed-pod.yaml",
        env!("CARGO_MANIFEST_DIR")
    );
    let (ok, out) = cluster.kubectl(&["apply", "-f", &manifest]);
    assert!(ok, "{out}");
    let pod = cluster.wait_for("nginx", "Ready", common::is_ready).await;
    let status = pod.status.clone().unwrap();
    let init = &status.init_container_statuses[0];
    let done = init.state.as_ref().unwrap().terminated.as_ref().unwrap();
    assert_eq!(
        (done.exit_code, done.reason.as_deref()),
        (0, Some("Completed"))
    );
    assert!(init.container_id.as_deref().unwrap().starts_with(&prefix));
    let ip = status.pod_ip.clone().unwrap();
    assert!(ip.starts_with(&cidr), "{ip} not in the node's pod CIDR");
    assert!(
        http_get(&ip, 80).contains("Welcome to nginx"),
        "nginx on {ip}:80"
    );

    let (_, git) = cluster.kubectl(&["logs", "nginx", "-c", "git"]);
    assert!(git.contains("usage: git"), "{git}");
    let (ok, hello) = cluster.kubectl(&["exec", "nginx", "-c", "nginx", "--", "printenv", "hello"]);
    assert!(ok && hello.trim() == "world", "{hello}");
    // The resolv.conf of dnsPolicy ClusterFirst, on the engine too, and the Service variables.
    let (ok, resolv) = cluster.kubectl(&[
        "exec",
        "nginx",
        "-c",
        "nginx",
        "--",
        "cat",
        "/etc/resolv.conf",
    ]);
    assert!(ok && resolv.starts_with("nameserver 10.96.0.10\nsearch default.svc.cluster.local svc.cluster.local cluster.local"), "{resolv}");
    assert!(resolv.contains("options ndots:5"), "{resolv}");
    let (ok, host) = cluster.kubectl(&[
        "exec",
        "nginx",
        "-c",
        "nginx",
        "--",
        "printenv",
        "KUBERNETES_SERVICE_HOST",
    ]);
    assert!(ok && host.trim() == "10.96.0.1", "{host}");
    // `kubectl exec -i`: stdin through the API server and the node to the engine's exec, and the
    // command's exit code back.
    let piped = Command::new("sh")
        .arg("-c")
        .arg("printf 'typed\\n' | kubectl exec -i nginx -c nginx -- sh -c 'cat; exit 7'")
        .env("KUBECONFIG", cluster.kubeconfig())
        .env("HOME", cluster.dir.join("home"))
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&piped.stdout), "typed\n");
    assert_eq!(piped.status.code(), Some(7), "{piped:?}");
    // `kubectl port-forward`: SPDY through the API server to the node, dialled from inside the
    // engine's pod network namespace.
    let forward = common::Forward::start(&cluster, "pod/nginx", "80");
    let page = http_get("127.0.0.1", forward.port);
    assert!(
        page.contains("Welcome to nginx"),
        "{page:?} {}",
        forward.said()
    );
    drop(forward);
    let (ok, listing) = cluster.kubectl(&[
        "exec",
        "nginx",
        "-c",
        "nginx",
        "--",
        "ls",
        "-a",
        "/container-volume",
    ]);
    assert!(ok, "{listing}");
    for entry in std::fs::read_dir("/home").unwrap() {
        let name = entry.unwrap().file_name().to_string_lossy().into_owned();
        assert!(
            listing.lines().any(|l| l == name),
            "{name} not in {listing}"
        );
    }
    // The limits, as the container's cgroup holds them (v1 here; v2 on most users' machines).
    let (_, memory) = cluster.kubectl(&[
        "exec", "nginx", "-c", "nginx", "--", "sh", "-c",
        "cat /sys/fs/cgroup/memory/memory.limit_in_bytes 2>/dev/null || cat /sys/fs/cgroup/memory.max",
    ]);
    assert_eq!(memory.trim(), "1073741824");
    let (_, quota) = cluster.kubectl(&[
        "exec", "nginx", "-c", "nginx", "--", "sh", "-c",
        "cat /sys/fs/cgroup/cpu/cpu.cfs_quota_us 2>/dev/null || cut -d' ' -f1 /sys/fs/cgroup/cpu.max",
    ]);
    assert_eq!(quota.trim(), "50000");
    let (_, node) = cluster.kubectl(&[
        "get",
        "node",
        &cluster.node,
        "-o",
        "jsonpath={.status.nodeInfo.containerRuntimeVersion}",
    ]);
    assert!(node.starts_with(&prefix), "{node}");

    let (_, events) = cluster.kubectl(&[
        "get",
        "events",
        "--field-selector",
        "involvedObject.name=nginx",
    ]);
    assert!(
        events.contains("Successfully pulled image \"nginx\""),
        "{events}"
    );

    // kill -9 of skiff (API server and agent): the pod keeps running, and the new agent adopts it.
    let nginx_id = status.container_statuses[0].container_id.clone().unwrap();
    let started_at = || {
        let id = nginx_id.trim_start_matches(&prefix);
        let out = engine.cli(&[
            "inspect",
            "-f",
            "{{.State.Running}} {{.State.StartedAt}}",
            id,
        ]);
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    };
    let before = started_at();
    assert!(before.starts_with("true "), "{before}");
    let mut cluster = cluster;
    cluster.kill_agent();
    assert!(
        http_get(&ip, 80).contains("Welcome to nginx"),
        "nginx outlives its agent"
    );
    cluster.launch("disktype=ssd");
    // The new agent's own pass: a status it writes (a fresh heartbeat of the node, then the pod).
    tokio::time::sleep(Duration::from_secs(3)).await;
    let pod = cluster
        .wait_for("nginx", "adopted and Ready", common::is_ready)
        .await;
    let adopted = &pod.status.as_ref().unwrap().container_statuses[0];
    assert_eq!(
        adopted.container_id.as_deref(),
        Some(nginx_id.as_str()),
        "adopted, not restarted"
    );
    assert_eq!(adopted.restart_count, 0);
    assert_eq!(started_at(), before, "the same process, never restarted");
    assert!(http_get(&ip, 80).contains("Welcome to nginx"));

    let uid = pod.metadata.uid.clone().unwrap();
    assert!(
        engine.ps(&uid).len() >= 3,
        "git and nginx containers, and the pause container (Docker) or the pod (Podman)"
    );
    let (ok, out) = cluster.kubectl(&["delete", "pod", "nginx", "--wait=true"]);
    assert!(ok, "{out}");
    let mut left = engine.ps(&uid);
    for _ in 0..50 {
        if left.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
        left = engine.ps(&uid);
    }
    assert!(left.is_empty(), "containers left behind: {left:?}");
    cluster.stop().await;
}

fn waiting_reason(pod: &skiff_core::kinds::Pod, name: &str) -> Option<(String, String)> {
    let c = common::status_of(pod, name)?;
    let w = c.state.as_ref()?.waiting.as_ref()?;
    Some((w.reason.clone()?, w.message.clone().unwrap_or_default()))
}

async fn pull_failures_wait_as_the_kubelet_says(engine: &Engine) {
    if !can_run() || !engine.present() {
        return;
    }
    let cluster = engine.start("pull", "", 1, None);
    cluster
        .create(
            r#"
apiVersion: v1
kind: Pod
metadata: {name: unpullable}
spec:
  containers:
  - {name: missing, image: "skiff-test/absent:1"}
  - {name: never, image: "skiff-test/absent:2", imagePullPolicy: Never}
"#,
        )
        .await;
    // ErrImagePull first, then ImagePullBackOff while the back-off runs; Never is ErrImageNeverPull.
    let pod = cluster
        .wait_for(
            "unpullable",
            "ImagePullBackOff and ErrImageNeverPull",
            |p| {
                waiting_reason(p, "missing").is_some_and(|(r, _)| r == "ImagePullBackOff")
                    && waiting_reason(p, "never").is_some_and(|(r, _)| r == "ErrImageNeverPull")
            },
        )
        .await;
    let (_, message) = waiting_reason(&pod, "missing").unwrap();
    assert!(
        message.starts_with("Back-off pulling image \"skiff-test/absent:1\": ErrImagePull: "),
        "{message}"
    );
    let (_, never) = waiting_reason(&pod, "never").unwrap();
    assert!(
        never.contains("is not present with pull policy of Never"),
        "{never}"
    );
    assert_eq!(
        pod.status.as_ref().unwrap().phase.as_deref(),
        Some("Pending")
    );
    let (_, events) = cluster.kubectl(&[
        "get",
        "events",
        "--field-selector",
        "involvedObject.name=unpullable",
    ]);
    assert!(
        events.contains("Failed to pull image \"skiff-test/absent:1\""),
        "{events}"
    );
    assert!(events.contains("Back-off pulling image"), "{events}");
    cluster.kubectl(&["delete", "pod", "unpullable", "--wait=true"]);
    cluster.stop().await;
}

fn pods_of(out: &str) -> Vec<String> {
    out.split_whitespace().map(str::to_string).collect()
}

async fn a_replicaset_heals_scales_and_cascades(engine: &Engine) {
    if !can_run() || !engine.present() {
        return;
    }
    let cluster = engine.start("rs", "", 2, None);
    let rs = r#"
apiVersion: apps/v1
kind: ReplicaSet
metadata: {name: sleepers}
spec:
  replicas: 3
  selector: {matchLabels: {app: sleepers}}
  template:
    metadata: {labels: {app: sleepers}}
    spec:
      terminationGracePeriodSeconds: 1
      containers:
      - {name: main, image: busybox, command: [sh, -c, "echo instance of $(hostname); exec sleep 3600"]}
"#;
    let file = cluster.dir.join("rs.yaml");
    std::fs::write(&file, rs).unwrap();
    let (ok, out) = cluster.kubectl(&["apply", "-f", file.to_str().unwrap()]);
    assert!(ok, "{out}");
    let running = |want: usize| {
        let cluster = &cluster;
        async move {
            let deadline = std::time::Instant::now() + Duration::from_secs(60);
            loop {
                let (_, out) = cluster.kubectl(&[
                    "get",
                    "pods",
                    "-l",
                    "app=sleepers",
                    "--field-selector",
                    "status.phase=Running",
                    "-o",
                    "jsonpath={.items[*].metadata.name}",
                ]);
                let names = pods_of(&out);
                if names.len() == want {
                    return names;
                }
                assert!(
                    std::time::Instant::now() < deadline,
                    "{want} running pods, have {names:?}"
                );
                tokio::time::sleep(Duration::from_millis(300)).await;
            }
        }
    };
    let names = running(3).await;

    // `docker kill` / `podman kill` of one container: the agent restarts it (restartCount 1).
    let victim = cluster.pods().get(&names[0]).await.unwrap();
    let id = common::status_of(&victim, "main")
        .unwrap()
        .container_id
        .clone()
        .unwrap();
    let prefix = format!("{}://", engine.name);
    let killed = engine.cli(&["kill", id.trim_start_matches(&prefix)]);
    assert!(killed.status.success(), "{killed:?}");
    cluster
        .wait_for(&names[0], "restarted after the engine's kill", |p| {
            common::status_of(p, "main").is_some_and(|c| c.restart_count == 1 && c.ready)
        })
        .await;
    // The killed instance's logs are kept: `kubectl logs --previous` reads them, beside the new one's.
    let (ok, previous) = cluster.kubectl(&["logs", &names[0], "--previous"]);
    assert!(ok && previous.contains("instance of"), "{previous}");
    let (ok, current) = cluster.kubectl(&["logs", &names[0]]);
    assert!(ok && current.contains("instance of"), "{current}");
    let last =
        common::status_of(&cluster.pods().get(&names[0]).await.unwrap(), "main").and_then(|c| {
            c.last_state
                .as_ref()?
                .terminated
                .as_ref()
                .map(|t| (t.exit_code, t.reason.clone()))
        });
    assert_eq!(
        last,
        Some((137, Some("Error".to_string()))),
        "lastState after a kill"
    );

    // A deleted pod is replaced; scaling down removes pods and their containers.
    let (ok, out) = cluster.kubectl(&["delete", "pod", &names[1], "--wait=true"]);
    assert!(ok, "{out}");
    let now = running(3).await;
    assert!(!now.contains(&names[1]), "{now:?}");
    let mut uids = Vec::new();
    for n in &now {
        uids.push(
            cluster
                .pods()
                .get(n)
                .await
                .unwrap()
                .metadata
                .uid
                .unwrap_or_default(),
        );
    }
    let (ok, out) = cluster.kubectl(&["scale", "rs", "sleepers", "--replicas=1"]);
    assert!(ok, "{out}");
    let one = running(1).await;
    // Cascade: deleting the ReplicaSet deletes its pods, and the agent removes every container.
    let (ok, out) = cluster.kubectl(&["delete", "rs", "sleepers", "--wait=true"]);
    assert!(ok, "{out}");
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    loop {
        let left: Vec<String> = uids.iter().flat_map(|u| engine.ps(u)).collect();
        if left.is_empty() {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "left behind: {left:?} ({one:?})"
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    cluster.stop().await;
}

/// A Unix-socket proxy in front of an engine's socket that can be cut: an engine that dies and
/// comes back.
fn proxy(path: &std::path::Path, engine_socket: &'static str) -> tokio::task::JoinHandle<()> {
    let _ = std::fs::remove_file(path);
    let listener = tokio::net::UnixListener::bind(path).unwrap();
    tokio::spawn(async move {
        let mut conns = tokio::task::JoinSet::new();
        while let Ok((mut client, _)) = listener.accept().await {
            conns.spawn(async move {
                if let Ok(mut engine) = tokio::net::UnixStream::connect(engine_socket).await {
                    let _ = tokio::io::copy_bidirectional(&mut client, &mut engine).await;
                }
            });
        }
    })
}

fn node_ready(cluster: &Cluster) -> (String, String) {
    let (_, out) = cluster.kubectl(&[
        "get",
        "node",
        &cluster.node,
        "-o",
        r#"jsonpath={.status.conditions[?(@.type=="Ready")].status}|{.status.conditions[?(@.type=="Ready")].message}"#,
    ]);
    let (status, message) = out.split_once('|').unwrap_or((&out, ""));
    (status.trim().to_string(), message.trim().to_string())
}

async fn wait_node(cluster: &Cluster, want: &str) -> String {
    let deadline = std::time::Instant::now() + Duration::from_secs(45);
    loop {
        let (status, message) = node_ready(cluster);
        if status == want {
            return message;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "node Ready {status} ({message}), waiting for {want}"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

async fn an_engine_that_dies_turns_the_node_not_ready(engine: &Engine) {
    if !can_run() || !engine.present() {
        return;
    }
    let socket = std::env::temp_dir().join(format!(
        "skiff-{}-proxy-{}.sock",
        engine.name,
        std::process::id()
    ));
    let endpoint = format!("unix://{}", socket.display());
    let cut = proxy(&socket, engine.socket);
    let cluster = engine.start("down", "", 3, Some(&endpoint));
    wait_node(&cluster, "True").await;
    // The engine goes away: every connection cut, the socket gone.
    cut.abort();
    let _ = cut.await;
    let _ = std::fs::remove_file(&socket);
    let message = wait_node(&cluster, "False").await;
    assert!(
        message.starts_with("container runtime is down"),
        "{message}"
    );
    // It comes back: Ready again.
    let back = proxy(&socket, engine.socket);
    wait_node(&cluster, "True").await;
    back.abort();
    cluster.stop().await;
    let _ = std::fs::remove_file(&socket);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn docker_without_its_pause_image_builds_one() {
    if !can_run() || !DOCKER.present() {
        return;
    }
    // The self-built image is made afresh, from the host's catatonit.
    let _ = DOCKER.cli(&["rmi", "-f", skiff::runtime::docker::SELF_BUILT_PAUSE]);
    let cidr = format!("10.250.{}.0/24", DOCKER.net + 6);
    let cluster = Cluster::start_with(
        "docker-pause",
        "",
        &[
            "--runtime",
            "docker",
            "--pod-cidr",
            &cidr,
            "--pod-infra-image",
            "127.0.0.1:5000/skiff-test/absent-pause:1",
        ],
    );
    cluster
        .create(
            r#"
apiVersion: v1
kind: Pod
metadata: {name: paused}
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - {name: web, image: busybox, command: [sh, -c, "echo up > /tmp/index.html; exec httpd -f -p 8080 -h /tmp"]}
"#,
        )
        .await;
    let pod = cluster
        .wait_for("paused", "Running", |p| common::is_running(p, "web"))
        .await;
    let uid = pod.metadata.uid.clone().unwrap();
    let out = DOCKER.cli(&[
        "ps",
        "--filter",
        &format!("label=skiff.io/pod-uid={uid}"),
        "--filter",
        "label=skiff.io/type=sandbox",
        "--format",
        "{{.Image}}",
    ]);
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        skiff::runtime::docker::SELF_BUILT_PAUSE
    );
    // The sandbox holds the pod's network: the app answers on the pod IP.
    let ip = pod.status.as_ref().and_then(|s| s.pod_ip.clone()).unwrap();
    assert!(http_get(&ip, 8080).contains("up"), "httpd on {ip}:8080");
    cluster.kubectl(&["delete", "pod", "paused", "--wait=true"]);
    cluster.stop().await;
}

/// A `skiff node` process, stopped (SIGTERM, so its proxy cleans up) when dropped.
struct NodeProcess(std::process::Child);

impl Drop for NodeProcess {
    fn drop(&mut self) {
        common::terminate(&mut self.0);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_runtimes_in_one_cluster() {
    if !can_run() || !DOCKER.present() || !PODMAN.present() {
        return;
    }
    // `skiff up` runs the process node; a Docker node and a Podman node join it.
    let cluster = Cluster::start("mixed", "runtime=process");
    let mut nodes = Vec::new();
    for engine in [&DOCKER, &PODMAN] {
        let mut args = engine.args(4, None);
        args.extend([
            "--node-labels".to_string(),
            format!("runtime={}", engine.name),
        ]);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let name = format!("mixed-{}", engine.name);
        nodes.push(NodeProcess(common::node_with(&cluster, &name, &args)));
    }
    for node in [
        cluster.node.clone(),
        "mixed-docker".into(),
        "mixed-podman".into(),
    ] {
        let deadline = std::time::Instant::now() + Duration::from_secs(60);
        loop {
            let (ok, _) = cluster.kubectl(&[
                "wait",
                "--for=condition=Ready",
                &format!("node/{node}"),
                "--timeout=5s",
            ]);
            if ok {
                break;
            }
            if std::time::Instant::now() >= deadline {
                let (_, yaml) = cluster.kubectl(&["get", "node", &node, "-o", "yaml"]);
                panic!("node {node} not Ready: {yaml}");
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }
    // The same pod three times, placed by nodeSelector: on the process runtime the image is a host
    // program, on the engines busybox.
    for (runtime, image, command) in [
        ("process", "sleep", "[]"),
        ("docker", "busybox", "[sleep]"),
        ("podman", "busybox", "[sleep]"),
    ] {
        // Through kubectl, so the scheduler places it.
        let file = cluster.dir.join(format!("on-{runtime}.yaml"));
        std::fs::write(
            &file,
            format!(
                r#"
apiVersion: v1
kind: Pod
metadata: {{name: on-{runtime}}}
spec:
  nodeSelector: {{runtime: {runtime}}}
  terminationGracePeriodSeconds: 1
  containers:
  - {{name: main, image: {image}, command: {command}, args: ["3600"]}}
"#
            ),
        )
        .unwrap();
        let (ok, out) = cluster.kubectl(&["apply", "-f", file.to_str().unwrap()]);
        assert!(ok, "{out}");
    }
    for (runtime, node) in [
        ("process", cluster.node.clone()),
        ("docker", "mixed-docker".to_string()),
        ("podman", "mixed-podman".to_string()),
    ] {
        let name = format!("on-{runtime}");
        let pod = cluster
            .wait_for(&name, "Running", |p| common::is_running(p, "main"))
            .await;
        let (_, labels) = cluster.kubectl(&["get", "nodes", "--show-labels"]);
        assert_eq!(
            pod.spec.node_name.as_deref(),
            Some(node.as_str()),
            "{name}: {labels}"
        );
        let id = common::status_of(&pod, "main")
            .and_then(|c| c.container_id.clone())
            .unwrap_or_default();
        assert!(id.starts_with(&format!("{runtime}://")), "{name}: {id}");
    }
    // The engines' pods are theirs: each engine holds its pod only.
    for engine in [&DOCKER, &PODMAN] {
        let mine = cluster
            .pods()
            .get(&format!("on-{}", engine.name))
            .await
            .unwrap();
        assert!(!engine.ps(mine.metadata.uid.as_deref().unwrap()).is_empty());
        let other = if engine.name == "docker" {
            "podman"
        } else {
            "docker"
        };
        let theirs = cluster.pods().get(&format!("on-{other}")).await.unwrap();
        assert!(engine
            .ps(theirs.metadata.uid.as_deref().unwrap())
            .is_empty());
    }
    for runtime in ["process", "docker", "podman"] {
        cluster.kubectl(&["delete", "pod", &format!("on-{runtime}"), "--wait=true"]);
    }
    drop(nodes);
    cluster.stop().await;
}

async fn container_events_drive_restarts(engine: &Engine) {
    if !can_run() || !engine.present() {
        return;
    }
    let mut args = engine.args(5, None);
    args.extend(["--relist-period".to_string(), "1h".to_string()]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let cluster = Cluster::start_with(&format!("{}-events", engine.name), "", &args);
    cluster
        .create(
            r#"
apiVersion: v1
kind: Pod
metadata: {name: evented}
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - {name: main, image: busybox, command: [sleep, "3600"]}
"#,
        )
        .await;
    let pod = cluster
        .wait_for("evented", "Running", |p| common::is_running(p, "main"))
        .await;
    let id = common::status_of(&pod, "main")
        .and_then(|c| c.container_id.clone())
        .unwrap();
    let prefix = format!("{}://", engine.name);
    let killed = engine.cli(&["kill", id.trim_start_matches(&prefix)]);
    assert!(killed.status.success(), "{killed:?}");
    // Only the engine's `die` event can tell the agent before the next relist, an hour away.
    cluster
        .wait_for("evented", "restarted on the engine's event", |p| {
            common::status_of(p, "main").is_some_and(|c| c.restart_count == 1)
        })
        .await;
    cluster.kubectl(&["delete", "pod", "evented", "--wait=true"]);
    cluster.stop().await;
}

/// A Service in front of an engine's pod: its ClusterIP answers from the host and from another pod
/// of the engine (through the node's nftables rules and the engine's bridge), and its name resolves
/// in the pod.
async fn services_reach_the_engines_pods(engine: &Engine) {
    if !can_run() || !engine.present() {
        return;
    }
    // A service range of its own: clusters running side by side would otherwise all want the
    // default range's DNS address on this host, and a pod would ask another cluster's DNS.
    let mut args = engine.args(7, None);
    args.extend([
        "--service-cluster-ip-range".to_string(),
        format!("10.{}.0.0/16", 200 + engine.net),
    ]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let cluster = Cluster::start_with(&format!("{}-svc", engine.name), "", &args);
    cluster
        .create(
            r#"
apiVersion: v1
kind: Pod
metadata: {name: web, labels: {app: web}}
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - {name: web, image: busybox, command: [sh, -c, "echo served by the engine > /tmp/index.html; exec httpd -f -p 8080 -h /tmp"], ports: [{name: http, containerPort: 8080}]}
"#,
        )
        .await;
    cluster
        .create(
            r#"
apiVersion: v1
kind: Pod
metadata: {name: client}
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - {name: main, image: busybox, command: [sleep, "3600"]}
"#,
        )
        .await;
    for pod in ["web", "client"] {
        cluster.wait_for(pod, "Running", common::is_ready).await;
    }
    let (ok, out) = cluster.kubectl(&[
        "expose",
        "pod",
        "web",
        "--port",
        "80",
        "--target-port",
        "http",
    ]);
    assert!(ok, "{out}");
    let (_, ip) = cluster.kubectl(&["get", "svc", "web", "-o", "jsonpath={.spec.clusterIP}"]);
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    let mut from_host = String::new();
    while !from_host.contains("served by the engine") && std::time::Instant::now() < deadline {
        from_host = http_get(ip.trim(), 80);
        std::thread::sleep(Duration::from_millis(200));
    }
    assert!(
        from_host.contains("served by the engine"),
        "{ip}:80 from the host: {from_host:?}"
    );
    // The DNS server's view of a new Service may trail the proxy's by a moment: retried.
    for target in [ip.trim(), "web", "web.default.svc.cluster.local"] {
        let url = format!("http://{target}/index.html");
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        loop {
            // (Debian's static busybox wget crashes with -T: busybox's own timeout bounds it.)
            let (ok, body) = cluster.kubectl(&[
                "exec", "client", "--", "timeout", "10", "wget", "-q", "-O", "-", &url,
            ]);
            if ok && body.contains("served by the engine") {
                break;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "{url} from a pod on {}: {body}",
                engine.name
            );
            std::thread::sleep(Duration::from_millis(300));
        }
    }
    cluster.stop().await;
}

/// `imagePullSecrets`: an image in a registry that wants a password (scripts/test-images.sh serves
/// `private/busybox` at 127.0.0.1:5001) is pulled with the credentials of a
/// `kubernetes.io/dockerconfigjson` Secret, and refused without them.
async fn image_pull_secrets_authenticate(engine: &Engine) {
    if !can_run() || !engine.present() {
        return;
    }
    let auth_registry = "127.0.0.1:5001";
    let up = Command::new("curl")
        .args(["-s", "-o", "/dev/null", "-w", "%{http_code}"])
        .arg(format!("http://{auth_registry}/v2/"))
        .output()
        .is_ok_and(|o| o.stdout == b"401");
    if !up {
        assert!(
            std::env::var("SKIFF_REQUIRE_ENGINES").as_deref() != Ok("1"),
            "SKIFF_REQUIRE_ENGINES=1 but the password registry is not on {auth_registry} (scripts/test-images.sh)"
        );
        eprintln!(
            "skipping: no password registry on {auth_registry}; scripts/test-images.sh starts it"
        );
        return;
    }
    let cluster = engine.start("pullsecret", "", 8, None);
    let (ok, out) = cluster.kubectl(&[
        "create",
        "secret",
        "docker-registry",
        "regcred",
        &format!("--docker-server={auth_registry}"),
        "--docker-username=skiff",
        "--docker-password=pull-secret-test",
    ]);
    assert!(ok, "{out}");
    let pod = |name: &str, secret: bool| {
        format!(
            r#"
apiVersion: v1
kind: Pod
metadata: {{name: {name}}}
spec:
  terminationGracePeriodSeconds: 1
  {secrets}
  containers:
  - {{name: main, image: "{auth_registry}/private/busybox:latest", imagePullPolicy: Always, command: [sleep, "3600"]}}
"#,
            secrets = if secret {
                "imagePullSecrets: [{name: regcred}]"
            } else {
                ""
            }
        )
    };
    cluster.create(&pod("with-secret", true)).await;
    cluster.create(&pod("without", false)).await;
    cluster
        .wait_for(
            "with-secret",
            "Running with the Secret's credentials",
            |p| common::is_running(p, "main"),
        )
        .await;
    let refused = cluster
        .wait_for("without", "refused by the registry", |p| {
            waiting_reason(p, "main")
                .is_some_and(|(r, _)| r == "ErrImagePull" || r == "ImagePullBackOff")
        })
        .await;
    let (_, message) = waiting_reason(&refused, "main").unwrap();
    assert!(
        message.contains("private/busybox"),
        "the failed pull names the image: {message}"
    );
    cluster.kubectl(&["delete", "pod", "with-secret", "without", "--wait=true"]);
    cluster.stop().await;
}

macro_rules! on_both_engines {
    ($($test:ident),* $(,)?) => {
        mod docker {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $test() {
                    super::$test(&super::DOCKER).await;
                }
            )*
        }
        mod podman {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $test() {
                    super::$test(&super::PODMAN).await;
                }
            )*
        }
    };
}

on_both_engines!(
    the_seed_pod_runs_unchanged,
    pull_failures_wait_as_the_kubelet_says,
    a_replicaset_heals_scales_and_cascades,
    an_engine_that_dies_turns_the_node_not_ready,
    container_events_drive_restarts,
    services_reach_the_engines_pods,
    image_pull_secrets_authenticate,
);
