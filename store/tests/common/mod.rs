//! Test harness: backends to run the conformance suite against, including a real etcd on free loopback ports.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use skiff_core::store::{MemoryStore, Store, StoreConfig};
use skiff_store::{DurableConfig, DurableStore, EtcdStore};

/// True when CI demands every engine (SKIFF_REQUIRE_ENGINES=1): a missing engine fails instead of skipping.
pub fn engines_required() -> bool {
    std::env::var("SKIFF_REQUIRE_ENGINES").is_ok_and(|v| v == "1")
}

/// A store under test and whatever keeps it alive.
pub struct Backend {
    pub name: &'static str,
    pub store: Arc<dyn Store>,
    _guard: Option<Box<dyn Send + Sync>>,
}

pub fn memory(config: StoreConfig) -> Backend {
    Backend {
        name: "memory",
        store: Arc::new(MemoryStore::with_config(config)),
        _guard: None,
    }
}

pub fn durable(config: StoreConfig) -> Backend {
    let dir = tempfile::tempdir().unwrap();
    let store = DurableStore::open_with(
        dir.path().join("skiff.db"),
        DurableConfig {
            store: config,
            ..DurableConfig::default()
        },
    )
    .unwrap();
    Backend {
        name: "durable",
        store: Arc::new(store),
        _guard: Some(Box::new(dir)),
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A real etcd process on free loopback ports with a temporary data dir; killed on drop.
pub struct EtcdProcess {
    child: Child,
    pub endpoint: String,
    _dir: tempfile::TempDir,
}

impl Drop for EtcdProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl EtcdProcess {
    /// Starts etcd, or returns None (printing why) when the binary is missing and engines are not required.
    pub fn start() -> Option<Self> {
        let bin = std::env::var("SKIFF_ETCD").unwrap_or_else(|_| "etcd".into());
        if Command::new(&bin).arg("--version").output().is_err() {
            let msg = format!("etcd not found ({bin}); install etcd-server (see .ci/run)");
            assert!(!engines_required(), "{msg}");
            eprintln!("SKIPPED: {msg}");
            return None;
        }
        let dir = tempfile::tempdir().unwrap();
        let client = free_port();
        let peer = free_port();
        let endpoint = format!("http://127.0.0.1:{client}");
        let child = Command::new(&bin)
            .args([
                "--name",
                "skiff-test",
                "--data-dir",
                dir.path().to_str().unwrap(),
                "--listen-client-urls",
                &endpoint,
                "--advertise-client-urls",
                &endpoint,
                "--listen-peer-urls",
                &format!("http://127.0.0.1:{peer}"),
                "--initial-advertise-peer-urls",
                &format!("http://127.0.0.1:{peer}"),
                "--initial-cluster",
                &format!("skiff-test=http://127.0.0.1:{peer}"),
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start etcd");
        let started = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", client)).is_err() {
            assert!(
                started.elapsed() < Duration::from_secs(20),
                "etcd did not start"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        Some(Self {
            child,
            endpoint,
            _dir: dir,
        })
    }
}

pub async fn etcd() -> Option<Backend> {
    let proc = EtcdProcess::start()?;
    let mut tries = 0;
    let store = loop {
        match EtcdStore::connect(std::slice::from_ref(&proc.endpoint)).await {
            Ok(s) if s.current_revision().await.is_ok() => break s,
            _ if tries < 100 => {
                tries += 1;
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            other => panic!("etcd did not answer: {:?}", other.err()),
        }
    };
    Some(Backend {
        name: "etcd",
        store: Arc::new(store),
        _guard: Some(Box::new(proc)),
    })
}
