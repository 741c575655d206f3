//! Liveness, readiness and startup probes: one task per (container instance, probe kind).
//!
//! Kubernetes' defaults apply (initialDelaySeconds 0, periodSeconds 10, timeoutSeconds 1,
//! successThreshold 1, failureThreshold 3). A result is `None` until the thresholds decide it; a
//! task requeues its pod whenever its result changes, and ends when its container stops running.
//! httpGet probes the pod IP (success: status 200–399), tcpSocket connects, exec runs the command
//! in the container through the runtime (success: exit 0).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use skiff_core::controller::ObjectRef;
use skiff_core::kinds::Probe;
use skiff_core::runtime::{exec_capture, ContainerState, Runtime};
use skiff_core::workqueue::WorkQueue;
use skiff_core::IntOrString;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::task::JoinHandle;

/// Which probe.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ProbeKind {
    /// Restart the container when it fails.
    Liveness,
    /// Ready or not (endpoints), never restarts.
    Readiness,
    /// Holds the other two until it succeeds; failing restarts the container.
    Startup,
}

type Key = (String, ProbeKind);

#[derive(Default)]
struct Inner {
    queue: Option<WorkQueue<ObjectRef>>,
    workers: HashMap<Key, JoinHandle<()>>,
    results: HashMap<Key, bool>,
}

/// The probe tasks of one agent.
#[derive(Default)]
pub struct ProbeManager {
    inner: Arc<Mutex<Inner>>,
}

impl std::fmt::Debug for ProbeManager {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProbeManager").finish_non_exhaustive()
    }
}

/// Where and how to probe one container.
#[derive(Clone, Debug)]
pub struct ProbeTarget {
    /// The pod, to requeue.
    pub pod: ObjectRef,
    /// Runtime id of the container instance.
    pub container_id: String,
    /// The pod's IP.
    pub pod_ip: String,
    /// Named container ports, for `port: http`.
    pub ports: HashMap<String, i32>,
}

fn lock(inner: &Mutex<Inner>) -> std::sync::MutexGuard<'_, Inner> {
    inner.lock().unwrap_or_else(|p| p.into_inner())
}

impl ProbeManager {
    pub(crate) fn set_queue(&self, queue: WorkQueue<ObjectRef>) {
        lock(&self.inner).queue = Some(queue);
    }

    /// The decided result of a probe (`None`: not decided yet, or no such probe).
    pub fn result(&self, container_id: &str, kind: ProbeKind) -> Option<bool> {
        lock(&self.inner)
            .results
            .get(&(container_id.to_string(), kind))
            .copied()
    }

    /// Starts the probe task for this container instance unless it runs already.
    pub fn ensure(
        &self,
        runtime: Arc<dyn Runtime>,
        target: ProbeTarget,
        kind: ProbeKind,
        probe: Probe,
    ) {
        let key = (target.container_id.clone(), kind);
        let mut inner = lock(&self.inner);
        if inner.workers.contains_key(&key) {
            return;
        }
        let shared = self.inner.clone();
        let handle = tokio::spawn(worker(shared, runtime, target, kind, probe));
        inner.workers.insert(key, handle);
    }

    /// Stops every task of a container instance and forgets its results.
    pub fn forget(&self, container_id: &str) {
        let mut inner = lock(&self.inner);
        inner.workers.retain(|(id, _), h| {
            if id == container_id {
                h.abort();
                false
            } else {
                true
            }
        });
        inner.results.retain(|(id, _), _| id != container_id);
    }

    pub(crate) fn stop_all(&self) {
        let mut inner = lock(&self.inner);
        for (_, h) in inner.workers.drain() {
            h.abort();
        }
    }
}

fn secs(v: Option<i32>, default: i32) -> Duration {
    Duration::from_secs(u64::try_from(v.unwrap_or(default).max(0)).unwrap_or(0))
}

async fn worker(
    inner: Arc<Mutex<Inner>>,
    runtime: Arc<dyn Runtime>,
    target: ProbeTarget,
    kind: ProbeKind,
    probe: Probe,
) {
    let key = (target.container_id.clone(), kind);
    let period = secs(probe.period_seconds, 10).max(Duration::from_millis(100));
    let timeout = secs(probe.timeout_seconds, 1).max(Duration::from_millis(100));
    let success_threshold = probe.success_threshold.unwrap_or(1).max(1);
    let failure_threshold = probe.failure_threshold.unwrap_or(3).max(1);
    tokio::time::sleep(secs(probe.initial_delay_seconds, 0)).await;
    let (mut successes, mut failures) = (0, 0);
    loop {
        match runtime.container_status(&target.container_id).await {
            Ok(info) if info.state == ContainerState::Running => {}
            _ => break,
        }
        let ok = tokio::time::timeout(timeout, run_once(&*runtime, &target, &probe))
            .await
            .unwrap_or(false);
        if ok {
            successes += 1;
            failures = 0;
        } else {
            failures += 1;
            successes = 0;
        }
        let decided = if successes >= success_threshold {
            Some(true)
        } else if failures >= failure_threshold {
            Some(false)
        } else {
            None
        };
        if let Some(result) = decided {
            let mut guard = lock(&inner);
            let changed = guard.results.insert(key.clone(), result) != Some(result);
            if changed {
                if let Some(q) = &guard.queue {
                    q.add(target.pod.clone());
                }
            }
            drop(guard);
            // A startup probe is done once it succeeded.
            if kind == ProbeKind::Startup && result {
                break;
            }
        }
        tokio::time::sleep(period).await;
    }
    lock(&inner).workers.remove(&key);
}

fn port(p: &IntOrString, named: &HashMap<String, i32>) -> Option<u16> {
    match p {
        IntOrString::Int(i) => u16::try_from(*i).ok(),
        IntOrString::String(s) => s
            .parse::<u16>()
            .ok()
            .or_else(|| named.get(s).and_then(|i| u16::try_from(*i).ok())),
    }
}

/// One probe attempt.
async fn run_once(runtime: &dyn Runtime, target: &ProbeTarget, probe: &Probe) -> bool {
    if let Some(exec) = &probe.exec {
        return matches!(
            exec_capture(runtime, &target.container_id, &exec.command).await,
            Ok((0, _))
        );
    }
    if let Some(http) = &probe.http_get {
        let Some(port) = port(&http.port, &target.ports) else {
            return false;
        };
        let host = http.host.clone().unwrap_or_else(|| target.pod_ip.clone());
        let path = http.path.clone().unwrap_or_else(|| "/".into());
        return http_get(&host, port, &path).await;
    }
    if let Some(tcp) = &probe.tcp_socket {
        let Some(port) = port(&tcp.port, &target.ports) else {
            return false;
        };
        let host = tcp.host.clone().unwrap_or_else(|| target.pod_ip.clone());
        return tokio::net::TcpStream::connect((host.as_str(), port))
            .await
            .is_ok();
    }
    false
}

/// A minimal HTTP/1.1 GET: success when the status is 200–399.
async fn http_get(host: &str, port: u16, path: &str) -> bool {
    let Ok(mut stream) = tokio::net::TcpStream::connect((host, port)).await else {
        return false;
    };
    let request = format!(
        "GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nUser-Agent: kube-probe/1.32\r\nAccept: */*\r\nConnection: close\r\n\r\n"
    );
    if stream.write_all(request.as_bytes()).await.is_err() {
        return false;
    }
    let mut head = [0u8; 64];
    let mut n = 0;
    while n < 12 {
        match stream.read(&mut head[n..]).await {
            Ok(0) | Err(_) => break,
            Ok(k) => n += k,
        }
    }
    let line = String::from_utf8_lossy(&head[..n]);
    line.split_whitespace()
        .nth(1)
        .and_then(|c| c.parse::<u16>().ok())
        .is_some_and(|c| (200..400).contains(&c))
}
