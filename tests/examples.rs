//! The examples run to completion (they are built by `cargo test`; this runs them).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;
use std::process::Command;

fn example(name: &str) -> PathBuf {
    // target/<profile>/deps/<this test> -> target/<profile>/examples/<name>
    let exe = std::env::current_exe().unwrap();
    exe.parent()
        .unwrap()
        .parent()
        .unwrap()
        .join("examples")
        .join(name)
}

fn run(name: &str) -> String {
    let path = example(name);
    assert!(
        path.exists(),
        "{} not built (cargo test builds examples)",
        path.display()
    );
    let out = Command::new(&path).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{name} failed:\n{text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    text
}

#[test]
fn control_loop_narrates_backs_off_and_converges() {
    let out = run("control_loop");
    for step in ["observe", "diff", "act", "requeue", "FAILED", "converged"] {
        assert!(out.contains(step), "missing {step:?} in:\n{out}");
    }
    assert!(
        out.matches("created pod").count() >= 4,
        "3 pods, then the replacement:\n{out}"
    );
}

#[test]
fn custom_controller_converges_heals_and_scales() {
    let out = run("custom_controller");
    assert!(out.contains("converged: 3 ConfigMaps"), "{out}");
    assert!(out.contains("converged: 1 ConfigMaps"), "{out}");
}
