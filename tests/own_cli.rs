//! Skiff's own client commands (`apply`, `get`, `describe`, `logs`, `delete`) against `skiff up`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::BufRead;
use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// `skiff up` on a free port with a memory store; killed (after its pods are deleted) on drop.
struct Cluster {
    child: Child,
    dir: PathBuf,
}

impl Cluster {
    fn start(name: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("skiff-own-cli-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let mut child = Command::new(env!("CARGO_BIN_EXE_skiff"))
            .args(["up", "--port", "0", "--store", "memory", "--data-dir"])
            .arg(&dir)
            .args(["--node-name", "n1", "--pod-cidr", "10.244.40.0/24"])
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let mut reader = std::io::BufReader::new(child.stdout.take().unwrap());
        let mut first = String::new();
        reader.read_line(&mut first).unwrap();
        assert!(first.contains("is up"), "{first:?}");
        // Keep draining stdout so the server never writes into a closed pipe.
        std::thread::spawn(move || std::io::copy(&mut reader, &mut std::io::sink()));
        Cluster { child, dir }
    }

    fn kubeconfig(&self) -> PathBuf {
        self.dir.join("kubeconfig.yaml")
    }

    /// Runs `skiff ARGS --kubeconfig KUBECONFIG`.
    fn skiff(&self, args: &[&str]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_skiff"))
            .args(args)
            .arg("--kubeconfig")
            .arg(self.kubeconfig())
            .output()
            .unwrap()
    }

    /// Runs it, asserts success and answers stdout.
    fn ok(&self, args: &[&str]) -> String {
        let out = self.skiff(args);
        assert!(
            out.status.success(),
            "skiff {args:?}: {}{}",
            text(&out.stdout),
            text(&out.stderr)
        );
        text(&out.stdout)
    }

    fn write(&self, name: &str, content: &str) -> String {
        let path = self.dir.join(name);
        std::fs::write(&path, content).unwrap();
        path.to_str().unwrap().to_string()
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        // Pods first, so no process outlives the test.
        let _ = Command::new(env!("CARGO_BIN_EXE_skiff"))
            .args([
                "delete",
                "pods",
                "web",
                "echo",
                "--timeout",
                "30",
                "--kubeconfig",
            ])
            .arg(self.kubeconfig())
            .output();
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// Polls `check` until it holds or `secs` pass.
fn eventually(secs: u64, mut check: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while Instant::now() < deadline {
        if check() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    false
}

const MANIFESTS: &str = "apiVersion: v1
kind: ConfigMap
metadata:
  name: settings
data:
  mode: fast
---
apiVersion: v1
kind: Pod
metadata:
  name: web
  labels: {app: web}
spec:
  nodeName: n1
  containers:
  - name: main
    image: sleep
    args: [\"600\"]
";

#[test]
fn apply_get_describe_logs_delete() {
    let c = Cluster::start("main");
    let file = c.write("app.yaml", MANIFESTS);
    let applied = c.ok(&["apply", "-f", &file]);
    assert_eq!(applied, "configmap/settings created\npod/web created\n");

    // Tables: upper-case headers aligned as kubectl does.
    let table = c.ok(&["get", "pods"]);
    let header = table.lines().next().unwrap();
    assert!(header.starts_with("NAME   READY   STATUS"), "{table}");
    assert!(table.lines().any(|l| l.starts_with("web ")), "{table}");
    let wide = c.ok(&["get", "po", "-o", "wide"]);
    assert!(wide.lines().next().unwrap().contains("NODE"), "{wide}");
    let all = c.ok(&["get", "Pod", "-A"]);
    assert!(all.starts_with("NAMESPACE   NAME"), "{all}");
    assert!(all.contains("default     web"), "{all}");
    let one = c.ok(&["get", "configmap", "settings"]);
    assert!(one.starts_with("NAME       DATA"), "{one}");
    assert_eq!(one.lines().count(), 2, "{one}");
    let yaml = c.ok(&["get", "cm", "settings", "-o", "yaml"]);
    assert!(
        yaml.contains("kind: ConfigMap") && yaml.contains("mode: fast"),
        "{yaml}"
    );
    let list: serde_json::Value =
        serde_json::from_str(&c.ok(&["get", "pods", "-o", "json"])).unwrap();
    assert_eq!(list["kind"], "List");
    assert_eq!(list["items"][0]["metadata"]["name"], "web");

    // Errors: named kinds, kubectl's wording, exit codes 1 and 2.
    let unknown = c.skiff(&["get", "pdos"]);
    assert_eq!(unknown.status.code(), Some(1));
    assert!(
        text(&unknown.stderr).contains("the server doesn't have a resource type \"pdos\""),
        "{}",
        text(&unknown.stderr)
    );
    let missing = c.skiff(&["get", "pod", "nope"]);
    assert_eq!(missing.status.code(), Some(1));
    assert_eq!(
        text(&missing.stderr).trim(),
        "Error from server (NotFound): pods \"nope\" not found"
    );
    assert_eq!(
        c.skiff(&["get", "pods", "--frobnicate"]).status.code(),
        Some(2)
    );
    let bad = c.write(
        "bad.yaml",
        "apiVersion: v1\nkind: Pod\nmetadata: {name: bad}\nspec:\n  containers: [{name: c, image: \"\"}]\n",
    );
    let invalid = c.skiff(&["apply", "-f", &bad]);
    assert_eq!(invalid.status.code(), Some(1));
    assert!(
        text(&invalid.stderr).starts_with("The Pod \"bad\" is invalid: "),
        "{}",
        text(&invalid.stderr)
    );
    let nofile = c.skiff(&["apply", "-f", "/nonexistent/app.yaml"]);
    assert_eq!(nofile.status.code(), Some(1));
    assert!(text(&nofile.stderr).contains("-f /nonexistent/app.yaml"));

    // Applying again: unchanged; a changed field: configured.
    assert_eq!(
        c.ok(&["apply", "-f", &file]),
        "configmap/settings unchanged\npod/web unchanged\n"
    );
    let changed = c.write("app2.yaml", &MANIFESTS.replace("mode: fast", "mode: slow"));
    assert_eq!(
        c.ok(&["apply", "-f", &changed]),
        "configmap/settings configured\npod/web unchanged\n"
    );
    assert!(c
        .ok(&["get", "cm", "settings", "-o", "json"])
        .contains("\"slow\""));

    // describe: the summary, and the node agent's events about the pod.
    assert!(
        eventually(30, || c
            .ok(&["describe", "pod", "web"])
            .contains("Events:\n")),
        "no events: {}",
        c.ok(&["describe", "pod", "web"])
    );
    let described = c.ok(&["describe", "pod", "web"]);
    for want in [
        "Name:         web",
        "Namespace:    default",
        "Labels:       app=web",
        "Node:         n1",
        "Image:          sleep",
        "kubelet",
    ] {
        assert!(described.contains(want), "{want} in\n{described}");
    }
    assert!(c.ok(&["describe", "cm", "settings"]).contains("mode: slow"));

    // logs of a pod that prints a line.
    let echo = c.write(
        "echo.yaml",
        "apiVersion: v1\nkind: Pod\nmetadata: {name: echo}\nspec:\n  nodeName: n1\n  containers:\n  - name: c\n    image: sh\n    command: [\"sh\", \"-c\", \"echo hello from skiff; exec sleep 600\"]\n",
    );
    assert_eq!(c.ok(&["apply", "-f", &echo]), "pod/echo created\n");
    let got = eventually(30, || {
        text(&c.skiff(&["logs", "echo"]).stdout).contains("hello from skiff")
    });
    if skiff::is_root() {
        assert!(got, "no log line from the echo pod");
    }
    let wrong = c.skiff(&["logs", "echo", "-c", "nope"]);
    assert_eq!(wrong.status.code(), Some(1));
    assert!(
        text(&wrong.stderr).starts_with("Error from server"),
        "{}",
        text(&wrong.stderr)
    );

    // delete waits until the node agent has stopped the pods and they are gone.
    assert_eq!(c.ok(&["delete", "-f", &echo]), "pod \"echo\" deleted\n");
    assert_eq!(c.ok(&["delete", "pod", "web"]), "pod \"web\" deleted\n");
    assert_eq!(c.skiff(&["get", "pod", "web"]).status.code(), Some(1));
    assert_eq!(c.skiff(&["get", "pod", "echo"]).status.code(), Some(1));
    assert_eq!(
        c.ok(&["delete", "cm", "settings", "--wait=false"]),
        "configmap \"settings\" deleted\n"
    );
}

#[test]
fn watch_streams_rows_as_objects_change() {
    let c = Cluster::start("watch");
    let mut watch = Command::new(env!("CARGO_BIN_EXE_skiff"))
        .args(["get", "configmaps", "-w", "--kubeconfig"])
        .arg(c.kubeconfig())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = watch.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    // Give the watch a moment to start, then create an object.
    std::thread::sleep(Duration::from_millis(500));
    let file = c.write(
        "cm.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: watched}\ndata: {a: b}\n",
    );
    c.ok(&["apply", "-f", &file]);
    let mut seen = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline && !seen.iter().any(|l: &String| l.starts_with("watched")) {
        if let Ok(line) = rx.recv_timeout(Duration::from_millis(200)) {
            seen.push(line);
        }
    }
    let _ = watch.kill();
    let _ = watch.wait();
    assert!(seen.iter().any(|l| l.starts_with("NAME")), "{seen:?}");
    assert!(seen.iter().any(|l| l.starts_with("watched")), "{seen:?}");
}

#[test]
fn a_missing_kubeconfig_is_named() {
    let out = Command::new(env!("CARGO_BIN_EXE_skiff"))
        .args([
            "get",
            "pods",
            "--kubeconfig",
            "/nonexistent/kubeconfig.yaml",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert!(
        err.contains("--kubeconfig /nonexistent/kubeconfig.yaml"),
        "{err}"
    );
}
