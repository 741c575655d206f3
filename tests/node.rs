//! The node agent and the process runtime end to end: `skiff up` (API server, embedded store, node
//! agent) runs real processes in real cgroups and network namespaces. These tests need root (CI runs
//! them as root); elsewhere they skip with a printed reason, unless SKIFF_REQUIRE_ENGINES=1.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{can_run, is_running, pid_alive, second_node, status_of, Cluster};

use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use skiff_core::client::{Api, DeleteParams, ListParams};
use skiff_core::kinds::{Event, Pod};
use skiff_core::runtime::{LabelFilter, Runtime};

#[tokio::test(flavor = "multi_thread")]
async fn seed_pod_runs_with_init_container_env_volume_readiness_and_limits() {
    if !can_run() {
        return;
    }
    let cluster = Cluster::start("seed", "disktype=ssd");
    let manifest = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/examples/manifests/seed-pod-process.yaml"
    ))
    .unwrap();
    cluster.create(&manifest).await;
    let pod = cluster.wait_for("nginx", "Ready", common::is_ready).await;
    let status = pod.status.clone().unwrap();
    assert_eq!(status.phase.as_deref(), Some("Running"));
    // The init container ran first and exited 0.
    let init = &status.init_container_statuses[0];
    let term = init.state.as_ref().unwrap().terminated.as_ref().unwrap();
    assert_eq!(
        (term.exit_code, term.reason.as_deref()),
        (0, Some("Completed"))
    );
    let main = status_of(&pod, "nginx").unwrap();
    let main_started = main
        .state
        .as_ref()
        .unwrap()
        .running
        .as_ref()
        .unwrap()
        .started_at
        .unwrap();
    assert!(
        term.finished_at.unwrap() <= main_started,
        "init finished before nginx started"
    );
    assert!(main.ready);
    // One IP of its own, on this node's subnet; the host reaches it (the readiness probe did too).
    let ip = status.pod_ip.clone().unwrap();
    assert!(
        ip.starts_with(&format!("10.244.{}.", cluster.subnet)),
        "{ip}"
    );
    let body = reqwest_get(&format!("http://{ip}:80/")).await;
    assert!(body.contains("Directory listing"), "{body}");
    // env, the hostPath volume at its mountPath, and the cgroup limits.
    let pid = cluster.pid(main.container_id.as_deref().unwrap());
    let environ = std::fs::read(format!("/proc/{pid}/environ")).unwrap();
    assert!(environ.split(|b| *b == 0).any(|kv| kv == b"hello=world"));
    let mut host: Vec<_> = std::fs::read_dir("/home")
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    let mut seen: Vec<_> = std::fs::read_dir(format!("/proc/{pid}/root/container-volume"))
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    host.sort();
    seen.sort();
    assert_eq!(host, seen, "/home is visible at /container-volume");
    let rt = cluster.runtime();
    let cg = rt.cgroups().expect("cgroups as root");
    let path = rt
        .container_cgroup(
            main.container_id
                .as_deref()
                .unwrap()
                .trim_start_matches("process://"),
        )
        .unwrap();
    let dirs = cg.dirs(&path);
    let text = |f: &str| {
        dirs.iter()
            .find_map(|d| std::fs::read_to_string(d.join(f)).ok())
            .unwrap_or_default()
    };
    match cg.version() {
        skiff_runtime_process::cgroup::CgroupVersion::V1 => {
            assert_eq!(text("cpu.cfs_quota_us").trim(), "50000");
            assert_eq!(text("cpu.shares").trim(), "256");
            assert_eq!(
                text("memory.limit_in_bytes").trim(),
                (1u64 << 30).to_string()
            );
        }
        skiff_runtime_process::cgroup::CgroupVersion::V2 => {
            assert_eq!(text("cpu.max").trim(), "50000 100000");
            assert_eq!(text("memory.max").trim(), (1u64 << 30).to_string());
        }
    }
    // kubectl sees it as Kubernetes shows it.
    let (ok, text) = cluster.kubectl(&["get", "pod", "nginx", "-o", "wide"]);
    assert!(
        ok && text.contains("1/1") && text.contains("Running") && text.contains(&ip),
        "{text}"
    );
    cluster.stop().await;
}

async fn reqwest_get(url: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let r = tokio::process::Command::new("curl")
            .args(["-s", "--max-time", "2", url])
            .output()
            .await
            .unwrap();
        let body = String::from_utf8_lossy(&r.stdout).into_owned();
        if r.status.success() || Instant::now() > deadline {
            return body;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn containers_of_a_pod_share_localhost_and_deletion_leaves_nothing_behind() {
    if !can_run() {
        return;
    }
    let cluster = Cluster::start("share", "");
    cluster
        .create(
            r#"
apiVersion: v1
kind: Pod
metadata: {name: pair}
spec:
  terminationGracePeriodSeconds: 5
  containers:
  - name: server
    image: python3
    args: ["-m", "http.server", "8080"]
    volumeMounts: [{name: scratch, mountPath: /tmp/skiff-scratch-test}]
  - name: client
    image: sh
    command: ["sh", "-c", "while true; do if curl -s -o /dev/null http://localhost:8080/; then echo reached; else echo failed; fi; sleep 0.5; done"]
  volumes:
  - {name: scratch, emptyDir: {}}
"#,
        )
        .await;
    let pod = cluster
        .wait_for("pair", "both running", |p| {
            is_running(p, "server") && is_running(p, "client")
        })
        .await;
    let uid = pod.metadata.uid.clone().unwrap();
    let client_id = status_of(&pod, "client")
        .unwrap()
        .container_id
        .clone()
        .unwrap();
    let server_id = status_of(&pod, "server")
        .unwrap()
        .container_id
        .clone()
        .unwrap();
    let log = cluster
        .dir
        .join("runtime/containers")
        .join(client_id.trim_start_matches("process://"))
        .join("log");
    let deadline = Instant::now() + Duration::from_secs(20);
    while !std::fs::read_to_string(&log)
        .unwrap_or_default()
        .contains("reached")
    {
        assert!(
            Instant::now() < deadline,
            "the client never reached localhost:8080: {}",
            std::fs::read_to_string(&log).unwrap_or_default()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let pids = [cluster.pid(&client_id), cluster.pid(&server_id)];
    let rt = cluster.runtime();
    let cg = rt.cgroups().unwrap();
    let pod_cgroup = cg.dirs(&format!("skiff/pod{uid}"));
    assert!(pod_cgroup.iter().all(|d| d.exists()));
    let sandboxes = rt.list_sandboxes(&LabelFilter::new()).await.unwrap();
    assert_eq!(sandboxes.len(), 1);
    let netns = format!("/run/netns/skiff-{}", &sandboxes[0].id[..12]);
    assert!(Path::new(&netns).exists());
    let pod_dir = cluster.dir.join("node/pods").join(&uid);
    assert!(pod_dir.join("volumes/scratch").is_dir(), "emptyDir made");

    // kubectl delete waits until the agent has stopped everything and removed the pod.
    let (ok, text) = cluster.kubectl(&["delete", "pod", "pair", "--timeout=30s"]);
    assert!(ok, "{text}");
    assert!(cluster.pods().get_opt("pair").await.unwrap().is_none());
    for pid in pids {
        assert!(!pid_alive(pid), "process {pid} still runs");
    }
    assert!(
        pod_cgroup.iter().all(|d| !d.exists()),
        "cgroups removed: {pod_cgroup:?}"
    );
    assert!(!Path::new(&netns).exists(), "network namespace removed");
    assert!(!pod_dir.exists(), "pod directory removed");
    assert!(rt
        .list_sandboxes(&LabelFilter::new())
        .await
        .unwrap()
        .is_empty());
    assert!(rt
        .list_containers(&LabelFilter::new())
        .await
        .unwrap()
        .is_empty());
    let events: Api<Event> = Api::namespaced(cluster.pods().client().clone(), "default");
    let reasons: Vec<String> = events
        .list(&ListParams::default())
        .await
        .unwrap()
        .items
        .into_iter()
        .filter(|e| e.involved_object.name.as_deref() == Some("pair"))
        .filter_map(|e| e.reason)
        .collect();
    for r in ["Pulled", "Created", "Started", "Killing"] {
        assert!(reasons.iter().any(|x| x == r), "event {r} in {reasons:?}");
    }
    cluster.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn memory_hog_is_oom_killed_and_restarted_and_cpu_is_throttled() {
    if !can_run() {
        return;
    }
    let cluster = Cluster::start("limits", "");
    cluster
        .create(
            r#"
apiVersion: v1
kind: Pod
metadata: {name: hog}
spec:
  containers:
  - name: hog
    image: python3
    args: ["-c", "import time; x = bytearray(300 * 1024 * 1024); time.sleep(60)"]
    resources: {limits: {memory: 64Mi}}
  - name: burner
    image: python3
    args: ["-c", "while True: pass"]
    resources: {limits: {cpu: 500m}}
"#,
        )
        .await;
    let pod = cluster
        .wait_for("hog", "an OOM kill and a restart", |p| {
            status_of(p, "hog").is_some_and(|c| {
                c.restart_count >= 1
                    && c.last_state
                        .as_ref()
                        .and_then(|l| l.terminated.as_ref())
                        .is_some_and(|t| {
                            t.reason.as_deref() == Some("OOMKilled") && t.exit_code == 137
                        })
            })
        })
        .await;
    // The burner: CPU time over 3 s of wall time stays near the 0.5-core quota.
    let burner = status_of(&pod, "burner")
        .unwrap()
        .container_id
        .clone()
        .unwrap();
    let rt = cluster.runtime();
    let cg = rt.cgroups().unwrap();
    let path = rt
        .container_cgroup(burner.trim_start_matches("process://"))
        .unwrap();
    let before = cg.cpu_usage_ns(&path).unwrap();
    let t0 = Instant::now();
    tokio::time::sleep(Duration::from_secs(3)).await;
    let used = (cg.cpu_usage_ns(&path).unwrap() - before) as f64 / 1e9;
    let cores = used / t0.elapsed().as_secs_f64();
    eprintln!("burner with limit 500m used {cores:.3} cores");
    assert!(cores <= 0.56, "limit 500m but {cores:.3} cores used");
    assert!(cores >= 0.1, "the burner barely ran: {cores:.3} cores");
    cluster.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn failing_liveness_restarts_and_a_crashing_container_backs_off() {
    if !can_run() {
        return;
    }
    let cluster = Cluster::start("probes", "");
    cluster
        .create(
            r#"
apiVersion: v1
kind: Pod
metadata: {name: probed}
spec:
  containers:
  - name: sick
    image: sleep
    args: ["600"]
    livenessProbe:
      exec: {command: ["false"]}
      periodSeconds: 1
      failureThreshold: 2
  - name: crash
    image: sh
    command: ["sh", "-c", "echo boom; exit 3"]
"#,
        )
        .await;
    let pod = cluster
        .wait_for("probed", "a liveness restart and a back-off", |p| {
            let sick = status_of(p, "sick").is_some_and(|c| c.restart_count >= 1);
            let crash = status_of(p, "crash").is_some_and(|c| {
                c.state
                    .as_ref()
                    .and_then(|s| s.waiting.as_ref())
                    .is_some_and(|w| w.reason.as_deref() == Some("CrashLoopBackOff"))
            });
            sick && crash
        })
        .await;
    let crash = status_of(&pod, "crash").unwrap();
    let last = crash
        .last_state
        .as_ref()
        .unwrap()
        .terminated
        .as_ref()
        .unwrap();
    assert_eq!((last.exit_code, last.reason.as_deref()), (3, Some("Error")));
    let first_message = crash
        .state
        .as_ref()
        .unwrap()
        .waiting
        .as_ref()
        .unwrap()
        .message
        .clone()
        .unwrap();
    assert!(first_message.contains("back-off 10s"), "{first_message}");
    // The next wait is longer: 10 s, then 20 s.
    let pod = cluster
        .wait_for("probed", "a longer back-off", |p| {
            status_of(p, "crash").is_some_and(|c| {
                c.state
                    .as_ref()
                    .and_then(|s| s.waiting.as_ref())
                    .and_then(|w| w.message.as_deref())
                    .is_some_and(|m| m.contains("back-off 20s"))
            })
        })
        .await;
    assert!(status_of(&pod, "crash").unwrap().restart_count >= 2);
    let (_, text) = cluster.kubectl(&[
        "get",
        "events",
        "--field-selector",
        "involvedObject.name=probed",
    ]);
    assert!(
        text.contains("Unhealthy") && text.contains("BackOff"),
        "{text}"
    );
    let (ok, text) = cluster.kubectl(&["get", "pod", "probed"]);
    assert!(ok && text.contains("CrashLoopBackOff"), "{text}");
    cluster.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_new_agent_adopts_running_pods_after_kill_9() {
    if !can_run() {
        return;
    }
    let mut cluster = Cluster::start("adopt", "");
    cluster
        .create(
            r#"
apiVersion: v1
kind: Pod
metadata: {name: steady}
spec:
  containers:
  - name: main
    image: sleep
    args: ["600"]
"#,
        )
        .await;
    let pod = cluster
        .wait_for("steady", "running", |p| is_running(p, "main"))
        .await;
    let id = status_of(&pod, "main")
        .unwrap()
        .container_id
        .clone()
        .unwrap();
    let pid = cluster.pid(&id);
    cluster.kill_agent(); // SIGKILL: skiff up (API server and agent) dies at once
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(pid_alive(pid), "the workload survives its agent");
    cluster.launch("");
    // A pod created after the restart runs too, and the old one is still the same process.
    cluster
        .create("apiVersion: v1\nkind: Pod\nmetadata: {name: later}\nspec:\n  containers:\n  - {name: main, image: sleep, args: [\"600\"]}\n")
        .await;
    cluster
        .wait_for("later", "running", |p| is_running(p, "main"))
        .await;
    let pod = cluster.pods().get("steady").await.unwrap();
    let main = status_of(&pod, "main").unwrap();
    assert_eq!(
        main.container_id.as_deref(),
        Some(id.as_str()),
        "adopted, not restarted"
    );
    assert_eq!(main.restart_count, 0);
    assert!(pid_alive(pid));
    // Deleting it through the new agent stops the adopted process.
    cluster
        .pods()
        .delete(
            "steady",
            &DeleteParams {
                grace_period_seconds: Some(1),
                ..DeleteParams::default()
            },
        )
        .await
        .unwrap();
    // Graceful: the pod stays (deletionTimestamp set) until its agent has stopped the process.
    assert!(
        cluster
            .pods()
            .get_opt("steady")
            .await
            .unwrap()
            .is_some_and(|p| p.metadata.deletion_timestamp.is_some())
            || !pid_alive(pid)
    );
    let deadline = Instant::now() + Duration::from_secs(20);
    while cluster.pods().get_opt("steady").await.unwrap().is_some() {
        assert!(Instant::now() < deadline, "pod never went away");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(!pid_alive(pid));
    cluster.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn kubectl_logs_logs_follow_exec_and_describe_work_end_to_end() {
    if !can_run() {
        return;
    }
    let cluster = Cluster::start("io", "");
    cluster
        .create(
            r#"
apiVersion: v1
kind: Pod
metadata: {name: talker}
spec:
  containers:
  - name: main
    image: sh
    command: ["sh", "-c", "i=0; while true; do echo line $i; i=$((i+1)); sleep 0.2; done"]
  - name: once
    image: sh
    command: ["sh", "-c", "echo run-$(cat /proc/sys/kernel/random/uuid | cut -c1-8); exit 1"]
"#,
        )
        .await;
    cluster
        .wait_for("talker", "a restart of `once`", |p| {
            is_running(p, "main") && status_of(p, "once").is_some_and(|c| c.restart_count >= 1)
        })
        .await;
    tokio::time::sleep(Duration::from_millis(600)).await;
    let (ok, text) = cluster.kubectl(&["logs", "talker", "-c", "main"]);
    assert!(ok && text.starts_with("line 0\nline 1\n"), "{text}");
    let (ok, text) = cluster.kubectl(&["logs", "talker", "-c", "main", "--tail=1"]);
    assert!(
        ok && text.lines().count() == 1 && text.starts_with("line "),
        "{text}"
    );
    // --previous: the instance before the current one.
    let (ok, prev) = cluster.kubectl(&["logs", "talker", "-c", "once", "--previous"]);
    assert!(ok && prev.starts_with("run-"), "{prev}");
    // -f keeps streaming new lines.
    let out = Command::new("timeout")
        .args(["2", "kubectl", "logs", "-f", "talker", "-c", "main"])
        .env("KUBECONFIG", cluster.kubeconfig())
        .env("HOME", cluster.dir.join("home"))
        .output()
        .unwrap();
    let followed = String::from_utf8_lossy(&out.stdout);
    let before = text
        .trim()
        .trim_start_matches("line ")
        .parse::<u32>()
        .unwrap();
    let last = followed
        .lines()
        .last()
        .unwrap_or("")
        .trim_start_matches("line ")
        .parse::<u32>()
        .unwrap_or(0);
    assert!(
        last > before + 2,
        "-f streamed up to line {last}, started after {before}"
    );
    // exec: in the pod's network namespace, with its exit code and stdin.
    let ip = cluster
        .pods()
        .get("talker")
        .await
        .unwrap()
        .status
        .unwrap()
        .pod_ip
        .unwrap();
    let (ok, text) = cluster.kubectl(&[
        "exec",
        "talker",
        "-c",
        "main",
        "--",
        "sh",
        "-c",
        "ip -4 -o addr show eth0",
    ]);
    assert!(ok && text.contains(&format!("inet {ip}/24")), "{text}");
    let (ok, text) = cluster.kubectl(&[
        "exec",
        "talker",
        "-c",
        "main",
        "--",
        "sh",
        "-c",
        "echo out; echo err >&2; exit 3",
    ]);
    assert!(
        !ok && text.contains("out") && text.contains("err") && text.contains("exit code 3"),
        "{text}"
    );
    let mut child = Command::new("kubectl")
        .args([
            "exec", "-i", "talker", "-c", "main", "--", "tr", "a-z", "A-Z",
        ])
        .env("KUBECONFIG", cluster.kubeconfig())
        .env("HOME", cluster.dir.join("home"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    std::io::Write::write_all(&mut child.stdin.take().unwrap(), b"shout\n").unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout), "SHOUT\n");
    // kubectl picks the first container itself, as with the real API server.
    let (ok, text) = cluster.kubectl(&["logs", "talker"]);
    assert!(
        ok && text.contains("Defaulted container \"main\"") && text.contains("line 0"),
        "{text}"
    );
    let (ok, text) = cluster.kubectl(&["logs", "talker", "-c", "nope"]);
    assert!(
        !ok && text.contains("container nope is not valid for pod talker"),
        "{text}"
    );
    let (ok, text) = cluster.kubectl(&["describe", "pod", "talker"]);
    assert!(
        ok && text.contains("Started container main") && text.contains(&ip),
        "{text}"
    );
    cluster.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_lost_node_is_marked_unknown_its_pods_evicted_and_it_recovers() {
    if !can_run() {
        return;
    }
    let cluster = Cluster::start_with(
        "lost",
        "",
        // The grace period must exceed the agents' 10 s lease renewal, as Kubernetes' 40 s does.
        &[
            "--node-monitor-grace-period",
            "12s",
            "--pod-eviction-timeout",
            "1s",
        ],
    );
    let other = format!("node-lost-b-{}", cluster.subnet);
    let subnet_b = cluster.subnet + 40;
    let mut agent_b = second_node(&cluster, &other, subnet_b);
    let client = Arc::new(skiff_api::HttpClient::from_kubeconfig(&cluster.kubeconfig()).unwrap());
    let nodes: Api<skiff_core::kinds::Node> = Api::all(client.clone());
    let deadline = Instant::now() + Duration::from_secs(30);
    while nodes.get_opt(&other).await.unwrap().is_none() {
        assert!(
            Instant::now() < deadline,
            "the second node never registered"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let mut pod: Pod = serde_yaml::from_str(
        "apiVersion: v1\nkind: Pod\nmetadata: {name: away}\nspec:\n  containers:\n  - {name: main, image: sleep, args: [\"600\"]}\n",
    )
    .unwrap();
    pod.spec.node_name = Some(other.clone());
    cluster.pods().create(&pod).await.unwrap();
    let running = cluster
        .wait_for("away", "running on the second node", |p| {
            is_running(p, "main")
        })
        .await;
    let pid_file = cluster
        .dir
        .join(&other)
        .join("runtime/containers")
        .join(
            status_of(&running, "main")
                .unwrap()
                .container_id
                .as_deref()
                .unwrap()
                .trim_start_matches("process://"),
        )
        .join("started.json");
    let started: serde_json::Value =
        serde_json::from_slice(&std::fs::read(pid_file).unwrap()).unwrap();
    let pid = started["pid"].as_i64().unwrap() as i32;

    agent_b.kill().unwrap(); // the node is lost (its workload keeps running, unseen)
    agent_b.wait().unwrap();
    let node_ready = |n: &skiff_core::kinds::Node| {
        n.status
            .as_ref()
            .and_then(|s| s.conditions.iter().find(|c| c.type_ == "Ready"))
            .map(|c| c.status.clone())
            .unwrap_or_default()
    };
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let n = nodes.get(&other).await.unwrap();
        let pod = cluster.pods().get("away").await.unwrap();
        if node_ready(&n) == "Unknown"
            && n.spec
                .taints
                .iter()
                .any(|t| t.key == "node.kubernetes.io/unreachable" && t.effect == "NoExecute")
            && pod.metadata.deletion_timestamp.is_some()
        {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "node {:?} taints {:?}, pod deleting {}",
            node_ready(&n),
            n.spec.taints,
            pod.metadata.deletion_timestamp.is_some()
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    assert!(pid_alive(pid), "nobody stopped the lost node's process yet");

    // The node comes back: Ready again, taints gone, and its agent finishes the eviction.
    let mut agent_b = second_node(&cluster, &other, subnet_b);
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let n = nodes.get(&other).await.unwrap();
        let gone = cluster.pods().get_opt("away").await.unwrap().is_none();
        if node_ready(&n) == "True" && n.spec.taints.is_empty() && gone {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "node {:?} taints {:?}, pod gone {gone}",
            node_ready(&n),
            n.spec.taints
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    assert!(
        !pid_alive(pid),
        "the returning agent stopped the evicted pod"
    );
    common::terminate(&mut agent_b);
    let _ = Command::new("ip")
        .args(["link", "del", &format!("skiff{subnet_b}")])
        .status();
    cluster.stop().await;
}
