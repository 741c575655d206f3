//! Service proxy benchmark (real pods, real proxy; needs root): `skiff up` with the process runtime,
//! one pod running this program as an echo server, and a ClusterIP Service in front of it. Side by
//! side in one run, direct to the pod IP and through the ClusterIP:
//!
//! - a TCP stream: 256 MiB echoed back (bytes both ways), MB/s of payload, median of 5;
//! - short requests: connect, 16 bytes there and back, close; 2,000 in a row, median and p99 latency;
//! - network programming: a pod starts to match the Service (its label is set) -> the first connection
//!   through the ClusterIP reaches it, and back (label removed -> connections refused), p50/p99 over
//!   100 changes.
//!
//! `cargo bench --bench service_proxy` (`SERVICE_PROXY_MODE=userspace`, the default). Prints a table;
//! not a test.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::io::{BufRead, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use skiff_core::client::{Api, ListParams, Patch};
use skiff_core::kinds::{EndpointSlice, Pod, Service};

const STREAM_BYTES: usize = 256 << 20;
const REQUESTS: usize = 2000;
const CHANGES: usize = 100;

/// The pod's side: echo every connection's bytes back.
fn serve(port: u16) {
    let listener = TcpListener::bind(("0.0.0.0", port)).unwrap();
    for stream in listener.incoming().flatten() {
        std::thread::spawn(move || {
            let _ = stream.set_nodelay(true);
            let mut reader = stream.try_clone().unwrap();
            let mut writer = stream;
            let mut buf = vec![0u8; 256 << 10];
            loop {
                match reader.read(&mut buf) {
                    Ok(0) | Err(_) => return,
                    Ok(n) => {
                        if writer.write_all(&buf[..n]).is_err() {
                            return;
                        }
                    }
                }
            }
        });
    }
}

struct Proc(Child);

impl Drop for Proc {
    fn drop(&mut self) {
        // SIGTERM: skiff up stops cleanly and the proxy removes its addresses.
        let _ = Command::new("kill").arg(self.0.id().to_string()).status();
        let _ = self.0.wait();
    }
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    percentile(&v, 0.5)
}

/// MB/s of payload echoed through `addr`.
fn stream(addr: SocketAddr) -> f64 {
    let s = TcpStream::connect(addr).unwrap();
    s.set_nodelay(true).unwrap();
    let mut reader = s.try_clone().unwrap();
    let t0 = Instant::now();
    let writer = std::thread::spawn(move || {
        let mut w = s;
        let chunk = vec![7u8; 256 << 10];
        let mut left = STREAM_BYTES;
        while left > 0 {
            let n = left.min(chunk.len());
            w.write_all(&chunk[..n]).unwrap();
            left -= n;
        }
        w.shutdown(std::net::Shutdown::Write).unwrap();
    });
    let mut buf = vec![0u8; 256 << 10];
    let mut got = 0;
    while got < STREAM_BYTES {
        let n = reader.read(&mut buf).unwrap();
        assert!(n > 0, "the stream ended after {got} bytes");
        got += n;
    }
    writer.join().unwrap();
    STREAM_BYTES as f64 / 1e6 / t0.elapsed().as_secs_f64()
}

/// Latencies (ms) of `REQUESTS` short requests to `addr`.
fn requests(addr: SocketAddr) -> Vec<f64> {
    let mut out = Vec::with_capacity(REQUESTS);
    for _ in 0..REQUESTS {
        let t0 = Instant::now();
        let mut s = TcpStream::connect(addr).unwrap();
        s.set_nodelay(true).unwrap();
        s.write_all(b"0123456789abcdef").unwrap();
        let mut buf = [0u8; 16];
        s.read_exact(&mut buf).unwrap();
        drop(s);
        out.push(t0.elapsed().as_secs_f64() * 1000.0);
    }
    out.sort_by(f64::total_cmp);
    out
}

/// Whether a 16-byte echo through `addr` works now.
fn reaches(addr: SocketAddr) -> bool {
    let Ok(mut s) = TcpStream::connect_timeout(&addr, Duration::from_millis(200)) else {
        return false;
    };
    let _ = s.set_read_timeout(Some(Duration::from_millis(200)));
    let mut buf = [0u8; 4];
    s.write_all(b"ping").is_ok() && s.read_exact(&mut buf).is_ok()
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let Some(i) = args.iter().position(|a| a == "--serve") {
        serve(args[i + 1].parse().unwrap());
        return;
    }
    if !skiff::is_root() {
        println!("service_proxy: skipped (the process runtime and the proxy need root)");
        return;
    }
    let mode = std::env::var("SERVICE_PROXY_MODE").unwrap_or_else(|_| "userspace".into());
    let me = std::env::current_exe().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_skiff"))
        .args([
            "up",
            "--port",
            "0",
            "--insecure-http",
            "--store",
            "memory",
            "--pod-cidr",
            "10.244.251.0/24",
        ])
        .args([
            "--service-cluster-ip-range",
            "10.99.0.0/16",
            "--proxy-mode",
            &mode,
            "--data-dir",
        ])
        .arg(dir.path())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut reader = std::io::BufReader::new(child.stdout.take().unwrap());
    let mut first = String::new();
    reader.read_line(&mut first).unwrap();
    std::thread::spawn(move || std::io::copy(&mut reader, &mut std::io::sink()));
    let _up = Proc(child);
    let url = first
        .split_whitespace()
        .find(|w| w.starts_with("http://"))
        .unwrap()
        .to_string();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let client = Arc::new(skiff_api::HttpClient::new(&url));
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    let services: Api<Service> = Api::namespaced(client.clone(), "default");
    let slices: Api<EndpointSlice> = Api::namespaced(client.clone(), "default");
    let (pod_ip, vip, moving) = rt.block_on(async {
        for name in ["sink", "mover"] {
            let pod: Pod = serde_json::from_value(serde_json::json!({
                "metadata": {"name": name, "labels": {"app": name}},
                "spec": {"containers": [{"name": "echo", "image": "echo",
                    "command": [me.to_str().unwrap(), "--serve", "8080"],
                    "ports": [{"containerPort": 8080}],
                    "readinessProbe": {"tcpSocket": {"port": 8080}, "periodSeconds": 1}}]}
            }))
            .unwrap();
            pods.create(&pod).await.unwrap();
        }
        for (name, selector) in [("sink", "sink"), ("moving", "moving")] {
            let svc: Service = serde_json::from_value(serde_json::json!({
                "metadata": {"name": name},
                "spec": {"selector": {"app": selector}, "ports": [{"port": 80, "targetPort": 8080}]}
            }))
            .unwrap();
            services.create(&svc).await.unwrap();
        }
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let ready = slices
                .list(&ListParams::default().labels("kubernetes.io/service-name=sink"))
                .await
                .unwrap()
                .items
                .iter()
                .flat_map(|s| s.endpoints.clone())
                .any(|e| e.conditions.ready == Some(true));
            if ready {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "the sink pod never became a ready endpoint"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let ip = |p: Pod| p.status.and_then(|s| s.pod_ip).unwrap();
        let pod_ip: SocketAddr = format!("{}:8080", ip(pods.get("sink").await.unwrap()))
            .parse()
            .unwrap();
        let cip = |s: Service| s.spec.cluster_ip.unwrap();
        let vip: SocketAddr = format!("{}:80", cip(services.get("sink").await.unwrap()))
            .parse()
            .unwrap();
        let moving: SocketAddr = format!("{}:80", cip(services.get("moving").await.unwrap()))
            .parse()
            .unwrap();
        (pod_ip, vip, moving)
    });
    let deadline = Instant::now() + Duration::from_secs(30);
    while !reaches(vip) {
        assert!(Instant::now() < deadline, "the ClusterIP never answered");
        std::thread::sleep(Duration::from_millis(50));
    }

    // Streams, alternating so that drift hits both alike.
    let (mut direct_mb, mut proxied_mb) = (Vec::new(), Vec::new());
    for _ in 0..5 {
        direct_mb.push(stream(pod_ip));
        proxied_mb.push(stream(vip));
    }
    let (d_mb, p_mb) = (median(direct_mb), median(proxied_mb));
    let direct_rq = requests(pod_ip);
    let proxied_rq = requests(vip);

    // Network programming: the mover pod joins and leaves the `moving` Service by its label.
    let mut join = Vec::new();
    let mut leave = Vec::new();
    for _ in 0..CHANGES {
        let t0 = Instant::now();
        rt.block_on(pods.patch(
            "mover",
            &Patch::Merge(serde_json::json!({"metadata": {"labels": {"app": "moving"}}})),
        ))
        .unwrap();
        while !reaches(moving) {
            std::thread::sleep(Duration::from_millis(1));
        }
        join.push(t0.elapsed().as_secs_f64() * 1000.0);
        let t0 = Instant::now();
        rt.block_on(pods.patch(
            "mover",
            &Patch::Merge(serde_json::json!({"metadata": {"labels": {"app": "mover"}}})),
        ))
        .unwrap();
        while reaches(moving) {
            std::thread::sleep(Duration::from_millis(1));
        }
        leave.push(t0.elapsed().as_secs_f64() * 1000.0);
    }
    join.sort_by(f64::total_cmp);
    leave.sort_by(f64::total_cmp);

    println!("service_proxy ({mode} mode, process runtime, one host; direct = the pod IP, proxied = the ClusterIP)");
    println!("| measure | direct | proxied | proxied / direct |");
    println!("|---|---|---|---|");
    println!(
        "| TCP stream, 256 MiB echoed, median of 5 | {d_mb:.0} MB/s | {p_mb:.0} MB/s | {:.2} |",
        p_mb / d_mb
    );
    for (label, p) in [("p50", 0.5), ("p99", 0.99)] {
        let (d, x) = (percentile(&direct_rq, p), percentile(&proxied_rq, p));
        println!(
            "| short request (connect, 16 B echo, close) {label} | {d:.3} ms | {x:.3} ms | {:.2} |",
            x / d
        );
    }
    println!(
        "| network programming, endpoint added -> first connection (p50 / p99 of {CHANGES}) | | {:.1} / {:.1} ms | |",
        percentile(&join, 0.5),
        percentile(&join, 0.99)
    );
    println!(
        "| network programming, endpoint removed -> refused (p50 / p99 of {CHANGES}) | | {:.1} / {:.1} ms | |",
        percentile(&leave, 0.5),
        percentile(&leave, 0.99)
    );
}
