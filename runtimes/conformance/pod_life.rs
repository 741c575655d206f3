//! One pod's life on an engine runtime, shared by the Docker and Podman runtimes' tests (each
//! includes this file with `#[path]`), so both engines pass the same checks:
//!
//! a sandbox with an IP in the pod CIDR that the host reaches; two containers sharing localhost;
//! one parent cgroup for the pod's containers; images pulled through the engine (and a missing one refused as ImageNotFound); Kubernetes'
//! command/args rules against the image's ENTRYPOINT, CMD and WORKDIR (alpine/git); env and
//! workingDir; the engine's start events; the CPU limit (about half a core, throttled); exec with stdin and exit codes; logs; the memory limit (OOMKilled, 137); stop with a
//! grace period (SIGTERM handled, or SIGKILL at the deadline); listing by labels; nothing left after the sandbox is removed.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::time::Duration;

use futures::StreamExt;
use skiff_core::runtime::{
    exec_capture, labels, ContainerConfig, ContainerState, ExecIo, ImageRequest, LabelFilter,
    LogOptions, PullPolicy, Resources, Runtime, RuntimeError, RuntimeEventKind, SandboxConfig,
    SandboxState,
};

fn pod_labels(uid: &str) -> BTreeMap<String, String> {
    BTreeMap::from([
        (labels::POD_UID.to_string(), uid.to_string()),
        (labels::POD_NAME.to_string(), "conformance".to_string()),
        (labels::POD_NAMESPACE.to_string(), "default".to_string()),
    ])
}

fn container(uid: &str, name: &str, image: &str, command: &[&str]) -> ContainerConfig {
    let mut l = pod_labels(uid);
    l.insert(labels::CONTAINER_NAME.into(), name.into());
    l.insert(labels::ATTEMPT.into(), "0".into());
    ContainerConfig {
        name: name.into(),
        image: image.into(),
        command: command.iter().map(|s| s.to_string()).collect(),
        labels: l,
        ..ContainerConfig::default()
    }
}

async fn run(rt: &dyn Runtime, sandbox: &str, config: &ContainerConfig) -> String {
    let id = rt.create_container(sandbox, config).await.unwrap();
    rt.start_container(&id).await.unwrap();
    id
}

async fn wait_exit(rt: &dyn Runtime, id: &str) -> skiff_core::runtime::ContainerInfo {
    for _ in 0..200 {
        let info = rt.container_status(id).await.unwrap();
        if info.state == ContainerState::Exited {
            return info;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("container {id} did not exit");
}

async fn logs(rt: &dyn Runtime, id: &str) -> String {
    let mut s = rt.logs(id, &LogOptions::default()).await.unwrap();
    let mut out = Vec::new();
    while let Some(chunk) = s.next().await {
        out.extend_from_slice(&chunk.unwrap());
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn http_get(ip: &str, port: u16) -> String {
    let mut s = std::net::TcpStream::connect((ip, port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    write!(s, "GET / HTTP/1.0\r\nHost: x\r\n\r\n").unwrap();
    let mut body = String::new();
    let _ = s.read_to_string(&mut body);
    body
}

/// One pod's life on `rt`, an engine runtime whose pods get addresses in `cidr` (a /24); returns
/// the pod's UID, for the engine's own checks of what is left.
pub async fn a_pod_lives_and_goes(rt: &dyn Runtime, engine: &str, cidr: &str) -> String {
    assert_eq!(rt.version().await.unwrap().name, engine);
    let prefix = cidr.rsplit_once('.').map(|(p, _)| format!("{p}.")).unwrap();
    let uid = format!("conf-{}", std::process::id());
    let sandbox = rt
        .run_pod_sandbox(&SandboxConfig {
            name: "conformance".into(),
            namespace: "default".into(),
            uid: uid.clone(),
            hostname: "conformance".into(),
            labels: pod_labels(&uid),
            host_network: false,
        })
        .await
        .unwrap();
    // The engine's event stream, from now on.
    let mut events = rt
        .events()
        .await
        .unwrap()
        .expect("an engine runtime has events");
    let sb = rt.sandbox_status(&sandbox).await.unwrap();
    assert_eq!(sb.state, SandboxState::Ready);
    let ip = sb.ip.clone().expect("a pod IP");
    assert!(ip.starts_with(&prefix), "{ip} not in {cidr}");

    // Images come through the engine's pull (Docker Hub's mirror is the test registry).
    for image in ["busybox", "alpine/git"] {
        let request = ImageRequest {
            image: image.into(),
            policy: PullPolicy::Always,
            has_command: false,
            credentials: Vec::new(),
        };
        assert!(!rt.ensure_image(&request).await.unwrap().id.is_empty());
    }
    let missing = ImageRequest {
        image: "skiff-test/absent:1".into(),
        policy: PullPolicy::IfNotPresent,
        has_command: false,
        credentials: Vec::new(),
    };
    assert!(matches!(
        rt.ensure_image(&missing).await,
        Err(RuntimeError::ImageNotFound { .. })
    ));

    // Two containers, one localhost: B reaches A's server on 127.0.0.1; the host reaches the pod IP.
    let a = run(
        rt,
        &sandbox,
        &container(
            &uid,
            "a",
            "busybox",
            &[
                "sh",
                "-c",
                "echo hi-from-a > /tmp/index.html; exec httpd -f -p 8080 -h /tmp",
            ],
        ),
    )
    .await;
    let b = run(
        rt,
        &sandbox,
        &container(&uid, "b", "busybox", &["sleep", "3600"]),
    )
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let (code, out) = exec_capture(
        rt,
        &b,
        &[
            "wget".into(),
            "-qO-".into(),
            "http://127.0.0.1:8080/".into(),
        ],
    )
    .await
    .unwrap();
    assert_eq!(
        (code, String::from_utf8_lossy(&out).trim()),
        (0, "hi-from-a")
    );
    assert!(http_get(&ip, 8080).contains("hi-from-a"));

    // One pod, one cgroup: both containers sit under a parent of the pod's own.
    let mut parents = Vec::new();
    for c in [&a, &b] {
        let (_, out) = exec_capture(rt, c, &["cat".into(), "/proc/self/cgroup".into()])
            .await
            .unwrap();
        let text = String::from_utf8_lossy(&out).into_owned();
        let line = text
            .lines()
            .find(|l| l.contains(":memory:"))
            .or_else(|| text.lines().find(|l| l.starts_with("0::")))
            .unwrap_or_default()
            .to_string();
        let path = line.splitn(3, ':').nth(2).unwrap_or_default().to_string();
        parents.push(
            path.rsplit_once('/')
                .map(|(p, _)| p.to_string())
                .unwrap_or_default(),
        );
    }
    assert_eq!(parents[0], parents[1], "{parents:?}");
    assert!(
        parents[0].contains(&uid) || parents[0].contains(&sandbox),
        "the containers' parent cgroup {:?} is not the pod's",
        parents[0]
    );

    // The starts came as events (the pause/infra container is none of the agent's).
    let mut started = Vec::new();
    while started.len() < 2 {
        let e = tokio::time::timeout(Duration::from_secs(10), events.next())
            .await
            .expect("a start event within 10 s")
            .expect("the stream goes on");
        assert_eq!(e.labels.get(labels::POD_UID), Some(&uid), "{e:?}");
        if e.kind == RuntimeEventKind::Started {
            started.push(e.container_id);
        }
    }
    assert_eq!(started, [a.clone(), b.clone()]);
    // command/args against the image's ENTRYPOINT ["git"], CMD ["--help"], WORKDIR /git.
    let git = |name: &str, command: &[&str], args: &[&str]| {
        let mut c = container(&uid, name, "alpine/git", command);
        c.args = args.iter().map(|s| s.to_string()).collect();
        c
    };
    let cases = [
        (git("defaults", &[], &[]), "usage: git"),
        (git("args", &[], &["version"]), "git version"),
        (git("command", &["pwd"], &[]), "/git"),
    ];
    for (config, want) in cases {
        let id = run(rt, &sandbox, &config).await;
        let info = wait_exit(rt, &id).await;
        assert_eq!(info.exit_code, Some(0), "{}", config.name);
        assert_eq!(info.reason.as_deref(), Some("Completed"));
        let text = logs(rt, &id).await;
        assert!(text.contains(want), "{}: {text:?}", config.name);
    }
    let mut env = container(
        &uid,
        "env",
        "busybox",
        &["sh", "-c", "echo $GREETING in $(pwd)"],
    );
    env.env = vec![("GREETING".into(), "hello".into())];
    env.working_dir = Some("/tmp".into());
    let id = run(rt, &sandbox, &env).await;
    wait_exit(rt, &id).await;
    assert_eq!(logs(rt, &id).await.trim(), "hello in /tmp");

    // exec: stdin in, stdout out, exit codes.
    let (w, r) = tokio::io::duplex(1024);
    let (out_w, mut out_r) = tokio::io::duplex(1024);
    let (err_w, _err_r) = tokio::io::duplex(1024);
    let io = ExecIo {
        stdin: Some(Box::new(r)),
        stdout: Box::new(out_w),
        stderr: Box::new(err_w),
    };
    let feed = async move {
        let mut w = w;
        tokio::io::AsyncWriteExt::write_all(&mut w, b"typed\n")
            .await
            .unwrap();
    };
    let read = async move {
        let mut s = String::new();
        tokio::io::AsyncReadExt::read_to_string(&mut out_r, &mut s)
            .await
            .unwrap();
        s
    };
    let cat = ["cat".to_string()];
    let (code, (), echoed) = tokio::join!(rt.exec(&b, &cat, io), feed, read);
    assert_eq!((code.unwrap(), echoed.as_str()), (0, "typed\n"));
    let (code, _) = exec_capture(rt, &b, &["sh".into(), "-c".into(), "exit 3".into()])
        .await
        .unwrap();
    assert_eq!(code, 3);

    // The CPU limit (500m: quota 50 ms per 100 ms): a busy loop gets about half a core, and the
    // kernel throttles it. Measured inside the container from its own cgroup (v1 or v2).
    let mut spin = container(
        &uid,
        "spin",
        "busybox",
        &["sh", "-c", "while :; do :; done"],
    );
    spin.resources = Resources {
        cpu_quota_us: Some(50_000),
        ..Resources::default()
    };
    let spinner = run(rt, &sandbox, &spin).await;
    let measure = r#"
if [ -f /sys/fs/cgroup/cpuacct/cpuacct.usage ]; then
  u() { cat /sys/fs/cgroup/cpuacct/cpuacct.usage; }; stat=/sys/fs/cgroup/cpu/cpu.stat
else
  u() { echo $(( $(awk '/^usage_usec/ {print $2}' /sys/fs/cgroup/cpu.stat) * 1000 )); }; stat=/sys/fs/cgroup/cpu.stat
fi
a=$(u); sleep 2; b=$(u)
echo "$(( (b - a) / 2 )) $(awk '/^nr_throttled/ {print $2}' $stat)"
"#;
    let (code, out) = exec_capture(rt, &spinner, &["sh".into(), "-c".into(), measure.into()])
        .await
        .unwrap();
    let text = String::from_utf8_lossy(&out);
    let mut fields = text
        .split_whitespace()
        .map(|f| f.parse::<u64>().unwrap_or(0));
    let (ns_per_s, throttled) = (fields.next().unwrap_or(0), fields.next().unwrap_or(0));
    assert_eq!(code, 0, "{text}");
    eprintln!("500m limit: {ns_per_s} ns of CPU per second, throttled {throttled} times");
    assert!(ns_per_s > 0, "no CPU use measured: {text}");
    assert!(
        ns_per_s <= 700_000_000,
        "a 500m limit let the loop use {ns_per_s} ns of CPU per second"
    );
    assert!(throttled > 0, "not throttled under a 500m limit: {text}");
    rt.stop_container(&spinner, Duration::ZERO).await.unwrap();

    // The memory limit: OOMKilled, 137.
    let mut hog = container(
        &uid,
        "hog",
        "busybox",
        &["sh", "-c", "x=a; while :; do x=$x$x; done"],
    );
    hog.resources = Resources {
        memory_limit_bytes: Some(32 << 20),
        ..Resources::default()
    };
    let id = run(rt, &sandbox, &hog).await;
    let info = wait_exit(rt, &id).await;
    assert_eq!(
        (info.exit_code, info.reason.as_deref()),
        (Some(137), Some("OOMKilled"))
    );

    // Stop with a grace period: SIGTERM is handled.
    let polite = container(
        &uid,
        "polite",
        "busybox",
        &[
            "sh",
            "-c",
            "trap 'echo bye; exit 0' TERM; while :; do sleep 0.2; done",
        ],
    );
    let id = run(rt, &sandbox, &polite).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    rt.stop_container(&id, Duration::from_secs(10))
        .await
        .unwrap();
    let info = rt.container_status(&id).await.unwrap();
    assert_eq!(info.exit_code, Some(0));
    assert!(logs(rt, &id).await.contains("bye"));
    // One that ignores SIGTERM is killed at the deadline: 137, and not before the grace period.
    let stubborn = container(
        &uid,
        "stubborn",
        "busybox",
        &["sh", "-c", "trap '' TERM; while :; do sleep 0.2; done"],
    );
    let id = run(rt, &sandbox, &stubborn).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let asked = std::time::Instant::now();
    rt.stop_container(&id, Duration::from_secs(1))
        .await
        .unwrap();
    let waited = asked.elapsed();
    let info = rt.container_status(&id).await.unwrap();
    assert_eq!(
        (info.state, info.exit_code, info.reason.as_deref()),
        (ContainerState::Exited, Some(137), Some("Error"))
    );
    assert!(
        waited >= Duration::from_secs(1),
        "killed after {waited:?}, before its grace period"
    );

    // Listing by labels, then nothing left.
    let filter = LabelFilter::new().with(labels::POD_UID, &uid);
    let names: Vec<String> = rt
        .list_containers(&filter)
        .await
        .unwrap()
        .into_iter()
        .map(|c| c.name)
        .collect();
    for want in ["a", "b", "defaults", "hog", "polite"] {
        assert!(names.iter().any(|n| n == want), "{want} not in {names:?}");
    }
    assert_eq!(rt.list_sandboxes(&filter).await.unwrap().len(), 1);
    rt.stop_pod_sandbox(&sandbox).await.unwrap();
    assert_eq!(
        rt.sandbox_status(&sandbox).await.unwrap().state,
        SandboxState::NotReady
    );
    rt.remove_pod_sandbox(&sandbox).await.unwrap();
    assert!(rt.list_containers(&filter).await.unwrap().is_empty());
    assert!(rt.list_sandboxes(&filter).await.unwrap().is_empty());
    assert!(rt.container_status(&a).await.unwrap_err().is_not_found());
    uid
}
