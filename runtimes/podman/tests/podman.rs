//! The Podman runtime against Podman's REST service (engines.md; `scripts/test-images.sh` starts it
//! with the test registry as Docker Hub's mirror in registries.conf and pushes the test images). Without an engine the
//! test is skipped with a printed reason, unless SKIFF_REQUIRE_ENGINES=1.
//!
//! The checks are the engines' shared conformance (runtimes/conformance/pod_life.rs).
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "../../conformance/pod_life.rs"]
mod pod_life;

use skiff_runtime_podman::{PodmanConfig, PodmanRuntime};

const SOCKET: &str = "/run/podman/podman.sock";
const CIDR: &str = "10.250.20.0/24";

async fn runtime() -> Option<PodmanRuntime> {
    if !std::path::Path::new(SOCKET).exists() {
        assert!(
            std::env::var("SKIFF_REQUIRE_ENGINES").as_deref() != Ok("1"),
            "SKIFF_REQUIRE_ENGINES=1 but Podman's service is not running ({SOCKET})"
        );
        eprintln!("skipping: Podman's service is not running ({SOCKET}); scripts/test-images.sh starts it");
        return None;
    }
    // The infra image is Podman's own (built from catatonit).
    let config = PodmanConfig {
        pod_cidr: Some(CIDR.into()),
        ..PodmanConfig::default()
    };
    Some(
        PodmanRuntime::connect(config)
            .await
            .expect("Podman answers"),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pod_lives_and_goes_on_podman() {
    let Some(rt) = runtime().await else { return };
    let _uid = pod_life::a_pod_lives_and_goes(&rt, "podman", CIDR).await;
    // The node's limitations come from `podman info`, which parses against this Podman: as root,
    // there are none.
    let info = podman_api::Podman::unix(SOCKET)
        .info()
        .await
        .expect("podman info parses");
    let rootless = info.host.and_then(|h| h.security).and_then(|s| s.rootless);
    assert_eq!(rootless, Some(false));
    assert!(rt.limitations().is_empty(), "{:?}", rt.limitations());
}
