//! The Docker runtime against a real Docker engine (engines.md; `scripts/test-images.sh` starts it
//! with the test registry as Docker Hub's mirror and pushes the test images). Without an engine the
//! test is skipped with a printed reason, unless SKIFF_REQUIRE_ENGINES=1.
//!
//! The checks are the engines' shared conformance (runtimes/conformance/pod_life.rs).
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "../../conformance/pod_life.rs"]
mod pod_life;

use skiff_runtime_docker::{DockerConfig, DockerRuntime};

const SOCKET: &str = "/var/run/docker.sock";
const CIDR: &str = "10.250.7.0/24";

async fn runtime() -> Option<DockerRuntime> {
    if !std::path::Path::new(SOCKET).exists() {
        assert!(
            std::env::var("SKIFF_REQUIRE_ENGINES").as_deref() != Ok("1"),
            "SKIFF_REQUIRE_ENGINES=1 but Docker is not running ({SOCKET})"
        );
        eprintln!("skipping: Docker is not running ({SOCKET}); scripts/test-images.sh starts it");
        return None;
    }
    let config = DockerConfig {
        pod_cidr: Some(CIDR.into()),
        pause_image: "127.0.0.1:5000/pause:3.10".into(),
        ..DockerConfig::default()
    };
    Some(
        DockerRuntime::connect(config)
            .await
            .expect("Docker answers"),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pod_lives_and_goes_on_docker() {
    let Some(rt) = runtime().await else { return };
    let uid = pod_life::a_pod_lives_and_goes(&rt, "docker", CIDR).await;
    // The pod's cgroup parent went with it (Docker removes only the containers' own cgroups).
    let pod_dir = format!("skiff-docker/pod{uid}");
    let mut left = Vec::new();
    for c in std::fs::read_dir("/sys/fs/cgroup").unwrap().flatten() {
        for dir in [
            c.path().join(&pod_dir),
            std::path::PathBuf::from("/sys/fs/cgroup").join(&pod_dir),
        ] {
            if dir.exists() {
                left.push(dir);
            }
        }
    }
    assert!(left.is_empty(), "cgroup dirs left: {left:?}");
}
