//! API server benchmark: `skiff up` on the embedded durable store in one process, load from this one over
//! loopback. Prints a table; not a test.
//!
//! Run: `cargo bench --bench api`.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::io::BufRead;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::StreamExt;

struct Server {
    child: Child,
    url: String,
    _dir: tempfile::TempDir,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start() -> Server {
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_skiff"))
        .args([
            "up",
            "--port",
            "0",
            "--store",
            "embedded",
            "--data-dir",
            dir.path().to_str().unwrap(),
            // Plain HTTP, as the figures in docs/api.md were measured.
            "--insecure-http",
        ])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut reader = std::io::BufReader::new(child.stdout.take().unwrap());
    let mut first = String::new();
    reader.read_line(&mut first).unwrap();
    std::thread::spawn(move || std::io::copy(&mut reader, &mut std::io::sink()));
    let url = first
        .split_whitespace()
        .find(|w| w.starts_with("http://"))
        .unwrap()
        .to_string();
    Server {
        child,
        url,
        _dir: dir,
    }
}

fn pct(mut v: Vec<Duration>, p: f64) -> Duration {
    v.sort();
    v[((v.len() as f64 - 1.0) * p).round() as usize]
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1e3)
}

fn pod(i: usize) -> serde_json::Value {
    serde_json::json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": format!("p-{i:05}"), "labels": {"app": if i < 1000 { "bench" } else { "more" }}},
        "spec": {"containers": [{"name": "c", "image": "nginx:1.27", "resources": {"requests": {"cpu": "100m", "memory": "64Mi"}}}]}})
}

/// Creates `n` pods with `clients` concurrent clients; returns creates/s.
async fn create(http: &reqwest::Client, url: &str, from: usize, n: usize, clients: usize) -> f64 {
    let next = Arc::new(AtomicUsize::new(from));
    let started = Instant::now();
    let tasks: Vec<_> = (0..clients)
        .map(|_| {
            let (http, url, next) = (http.clone(), url.to_string(), next.clone());
            tokio::spawn(async move {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= from + n {
                        break;
                    }
                    let r = http
                        .post(format!("{url}/api/v1/namespaces/default/pods"))
                        .json(&pod(i))
                        .send()
                        .await
                        .unwrap();
                    assert_eq!(r.status().as_u16(), 201);
                }
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
    n as f64 / started.elapsed().as_secs_f64()
}

/// GETs at saturation with `clients` clients for `secs`: (req/s, p50, p99).
async fn get_saturated(
    http: &reqwest::Client,
    url: &str,
    clients: usize,
    secs: f64,
) -> (f64, Duration, Duration) {
    let lat = Arc::new(Mutex::new(Vec::new()));
    let deadline = Instant::now() + Duration::from_secs_f64(secs);
    let started = Instant::now();
    let tasks: Vec<_> = (0..clients)
        .map(|c| {
            let (http, url, lat) = (http.clone(), url.to_string(), lat.clone());
            tokio::spawn(async move {
                let mut mine = Vec::new();
                let mut i = c;
                while Instant::now() < deadline {
                    let t = Instant::now();
                    let r = http
                        .get(format!(
                            "{url}/api/v1/namespaces/default/pods/p-{:05}",
                            i % 1000
                        ))
                        .send()
                        .await
                        .unwrap();
                    let _ = r.bytes().await.unwrap();
                    mine.push(t.elapsed());
                    i += clients;
                }
                lat.lock().unwrap().extend(mine);
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
    let lat = Arc::try_unwrap(lat).unwrap().into_inner().unwrap();
    let rate = lat.len() as f64 / started.elapsed().as_secs_f64();
    (rate, pct(lat.clone(), 0.5), pct(lat, 0.99))
}

/// GET p99 at a fixed offered rate.
async fn get_at_rate(http: &reqwest::Client, url: &str, per_sec: u64, secs: u64) -> Duration {
    let lat = Arc::new(Mutex::new(Vec::new()));
    let mut tick = tokio::time::interval(Duration::from_nanos(1_000_000_000 / per_sec));
    let mut handles = Vec::new();
    for i in 0..per_sec * secs {
        tick.tick().await;
        let (http, url, lat) = (http.clone(), url.to_string(), lat.clone());
        handles.push(tokio::spawn(async move {
            let t = Instant::now();
            let r = http
                .get(format!(
                    "{url}/api/v1/namespaces/default/pods/p-{:05}",
                    i % 1000
                ))
                .send()
                .await
                .unwrap();
            let _ = r.bytes().await.unwrap();
            lat.lock().unwrap().push(t.elapsed());
        }));
    }
    for h in handles {
        h.await.unwrap();
    }
    let lat = Arc::try_unwrap(lat).unwrap().into_inner().unwrap();
    pct(lat, 0.99)
}

async fn list_1000(http: &reqwest::Client, url: &str) -> Duration {
    let mut times = Vec::new();
    for _ in 0..10 {
        let t = Instant::now();
        let r = http
            .get(format!(
                "{url}/api/v1/namespaces/default/pods?labelSelector=app%3Dbench"
            ))
            .send()
            .await
            .unwrap();
        let v: serde_json::Value = r.json().await.unwrap();
        times.push(t.elapsed());
        assert_eq!(v["items"].as_array().unwrap().len(), 1000);
    }
    pct(times, 0.5)
}

/// `watchers` watches, `changes` updates of one ConfigMap; p99 from write to delivery.
async fn watch_fanout(url: &str, watchers: usize, changes: usize) -> (Duration, usize) {
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .build()
        .unwrap();
    let epoch = Instant::now();
    let cm = serde_json::json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "tick"}, "data": {"t": "0"}});
    let r = http
        .post(format!("{url}/api/v1/namespaces/default/configmaps"))
        .json(&cm)
        .send()
        .await
        .unwrap();
    let created: serde_json::Value = r.json().await.unwrap();
    let rv = created["metadata"]["resourceVersion"]
        .as_str()
        .unwrap()
        .to_string();
    let lat = Arc::new(Mutex::new(Vec::with_capacity(watchers * changes)));
    let ready = Arc::new(AtomicUsize::new(0));
    let mut handles = Vec::new();
    for _ in 0..watchers {
        let (http, url, lat, ready, rv) = (
            http.clone(),
            url.to_string(),
            lat.clone(),
            ready.clone(),
            rv.clone(),
        );
        handles.push(tokio::spawn(async move {
            let resp = http
                .get(format!("{url}/api/v1/namespaces/default/configmaps?watch=true&fieldSelector=metadata.name%3Dtick&resourceVersion={rv}&timeoutSeconds=120"))
                .send()
                .await
                .unwrap();
            ready.fetch_add(1, Ordering::SeqCst);
            let mut stream = resp.bytes_stream();
            let mut buf = Vec::new();
            let mut seen = 0;
            let mut mine = Vec::with_capacity(changes);
            while seen < changes {
                let Some(Ok(chunk)) = stream.next().await else { break };
                buf.extend_from_slice(&chunk);
                while let Some(pos) = buf.iter().position(|b| *b == b'\n') {
                    let line: Vec<u8> = buf.drain(..=pos).collect();
                    let v: serde_json::Value = serde_json::from_slice(&line).unwrap();
                    let t: u64 = v["object"]["data"]["t"].as_str().unwrap().parse().unwrap();
                    mine.push(epoch.elapsed().saturating_sub(Duration::from_micros(t)));
                    seen += 1;
                }
            }
            lat.lock().unwrap().extend(mine);
        }));
    }
    while ready.load(Ordering::SeqCst) < watchers {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let mut tick = tokio::time::interval(Duration::from_millis(2));
    for _ in 0..changes {
        tick.tick().await;
        let t = epoch.elapsed().as_micros().to_string();
        let patch = serde_json::json!({"data": {"t": t}});
        http.patch(format!("{url}/api/v1/namespaces/default/configmaps/tick"))
            .header("content-type", "application/merge-patch+json")
            .body(patch.to_string())
            .send()
            .await
            .unwrap();
    }
    for h in handles {
        h.await.unwrap();
    }
    let lat = Arc::try_unwrap(lat).unwrap().into_inner().unwrap();
    let n = lat.len();
    (pct(lat, 0.99), n)
}

fn main() {
    // reqwest is built without a crypto provider of its own.
    skiff_api::tls::install_crypto_provider();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let server = start();
        let url = server.url.clone();
        let http = reqwest::Client::new();
        for _ in 0..50 {
            if http.get(format!("{url}/readyz")).send().await.is_ok() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let creates = create(&http, &url, 0, 1000, 64).await;
        let creates_more = create(&http, &url, 1000, 4000, 64).await;
        let list = list_1000(&http, &url).await;
        let (rate, p50, p99) = get_saturated(&http, &url, 64, 3.0).await;
        let p99_at_1k = get_at_rate(&http, &url, 1000, 3).await;
        let (watch_p99, delivered) = watch_fanout(&url, 1000, 1000).await;

        println!("\n### API server benchmark ({} cores; `skiff up` on the embedded durable store in one process, load from another over loopback)\n",
            std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0));
        println!("| measure | figure | target |");
        println!("|---|---|---|");
        println!("| CREATE pods/s, 64 clients (first 1,000 / next 4,000) | {creates:.0} / {creates_more:.0} | >= 5,000 |");
        println!("| LIST 1,000 pods (selector), median of 10 | {} | |", ms(list));
        println!("| GET single pod at saturation, 64 clients | {rate:.0}/s (p50 {}, p99 {}) | >= 20,000/s |", ms(p50), ms(p99));
        println!("| GET p99 at 1,000 req/s offered | {} | <= 5 ms |", ms(p99_at_1k));
        println!("| watch delivery p99, 1,000 watchers x 1,000 changes ({delivered} deliveries) | {} | <= 100 ms |", ms(watch_p99));
        drop(server);
    });
}
