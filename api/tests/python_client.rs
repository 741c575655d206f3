//! The official Kubernetes Python client (`pip install kubernetes`) against a Skiff API server:
//! tests/python/wire.py reads create-time status, 404s, dry runs, field selectors and a watch as a
//! real program does. The interpreter is `$SKIFF_PYTHON` (CI makes a venv with the client), else
//! `python3`; without the client the test skips with a reason, or fails when SKIFF_REQUIRE_ENGINES=1.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::process::Command;

fn python() -> Option<String> {
    let python = std::env::var("SKIFF_PYTHON").unwrap_or_else(|_| "python3".into());
    let has_client = Command::new(&python)
        .args(["-c", "import kubernetes"])
        .output()
        .is_ok_and(|o| o.status.success());
    if has_client {
        return Some(python);
    }
    assert!(
        std::env::var("SKIFF_REQUIRE_ENGINES").as_deref() != Ok("1"),
        "{python} cannot import the kubernetes client and SKIFF_REQUIRE_ENGINES=1 (set SKIFF_PYTHON)"
    );
    eprintln!("skipping: {python} cannot import the kubernetes client (pip install kubernetes)");
    None
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_official_python_client_reads_skiff_as_kubernetes() {
    let Some(python) = python() else {
        return;
    };
    let served = common::start().await;
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/python/wire.py");
    let out = tokio::process::Command::new(&python)
        .arg(script)
        .arg(served.url())
        .output()
        .await
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success() && text.trim_end().ends_with("ok"),
        "{text}"
    );
}
