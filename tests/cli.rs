//! The `skiff` binary: `version`, `validate`, and clear errors for bad input.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn skiff(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_skiff"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("run skiff")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn temp_file(name: &str, content: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("skiff-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    std::fs::File::create(&path)
        .unwrap()
        .write_all(content.as_bytes())
        .unwrap();
    path
}

#[test]
fn version_names_the_kubernetes_api() {
    let out = skiff(&["version"]);
    assert!(out.status.success());
    assert!(
        stdout(&out).contains("Kubernetes API 1.32"),
        "{}",
        stdout(&out)
    );
    let json: serde_json::Value =
        serde_json::from_slice(&skiff(&["version", "-o", "json"]).stdout).unwrap();
    assert_eq!(json["kubernetes"]["minor"], "32");
}

#[test]
fn help_lists_the_subcommands() {
    let out = skiff(&["--help"]);
    assert!(out.status.success());
    let text = stdout(&out);
    assert!(
        text.contains("version") && text.contains("validate"),
        "{text}"
    );
}

#[test]
fn every_example_manifest_is_valid_under_strict_decoding() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/manifests");
    let mut checked = 0;
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let out = skiff(&["validate", "--strict", "-f", path.to_str().unwrap()]);
        assert!(out.status.success(), "{}: {}", path.display(), stdout(&out));
        assert!(stdout(&out).contains("is valid"));
        checked += 1;
    }
    assert!(
        checked >= 3,
        "expected the example manifests, found {checked}"
    );
}

#[test]
fn show_defaults_prints_what_kubernetes_fills() {
    let out = skiff(&["validate", "-s", "-f", "examples/manifests/seed-pod.yaml"]);
    assert!(out.status.success(), "{}", stdout(&out));
    let text = stdout(&out);
    assert!(text.contains("restartPolicy: Always"), "{text}");
    assert!(text.contains("terminationGracePeriodSeconds: 30"), "{text}");
    assert!(text.contains("imagePullPolicy: Always"), "{text}");
}

#[test]
fn invalid_manifest_lists_every_error_with_its_field() {
    let path = temp_file(
        "bad.yaml",
        "apiVersion: v1\nkind: Pod\nmetadata: {name: Bad_Name}\nspec:\n  restartPolicy: Sometimes\n  containers:\n  - name: web\n    image: nginx\n    ports: [{containerPort: 70000}]\n",
    );
    let out = skiff(&["validate", "-f", path.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let text = stdout(&out);
    for field in [
        "metadata.name",
        "spec.restartPolicy",
        "spec.containers[0].ports[0].containerPort",
    ] {
        assert!(text.contains(field), "missing {field} in:\n{text}");
    }
}

#[test]
fn unknown_field_is_a_warning_or_an_error_in_strict_mode() {
    let path = temp_file(
        "typo.yaml",
        "apiVersion: v1\nkind: Pod\nmetadata: {name: web}\nspec:\n  containers:\n  - name: web\n    imagee: nginx\n    image: nginx\n",
    );
    let lax = skiff(&["validate", "-f", path.to_str().unwrap()]);
    assert!(lax.status.success(), "{}", stdout(&lax));
    assert!(stdout(&lax).contains("warning: unknown field \"spec.containers[0].imagee\""));
    let strict = skiff(&["validate", "--strict", "-f", path.to_str().unwrap()]);
    assert_eq!(strict.status.code(), Some(1));
    assert!(stdout(&strict).contains("unknown field \"spec.containers[0].imagee\""));
}

#[test]
fn missing_file_is_named() {
    let out = skiff(&["validate", "-f", "/nonexistent/skiff.yaml"]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("/nonexistent/skiff.yaml"), "{err}");
}

#[test]
fn bad_flag_is_a_usage_error() {
    let out = skiff(&["validate", "--frobnicate"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--frobnicate"));
}

/// Starts `skiff up` (with `extra` flags) and returns the child and the API URL it printed.
fn up(data_dir: &std::path::Path, store: &str, extra: &[&str]) -> (std::process::Child, String) {
    use std::io::BufRead;
    let mut child = Command::new(env!("CARGO_BIN_EXE_skiff"))
        .args([
            "up",
            "--port",
            "0",
            "--store",
            store,
            "--data-dir",
            data_dir.to_str().unwrap(),
        ])
        .args(extra)
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = String::new();
    let mut reader = std::io::BufReader::new(child.stdout.take().unwrap());
    reader.read_line(&mut first).unwrap();
    // Keep draining stdout so the server never writes into a closed pipe.
    std::thread::spawn(move || std::io::copy(&mut reader, &mut std::io::sink()));
    let url = first
        .split_whitespace()
        .find(|w| w.starts_with("http://") || w.starts_with("https://"))
        .unwrap_or_else(|| panic!("no URL in {first:?}"))
        .to_string();
    (child, url)
}

fn http(url: &str, method: &str, path: &str, body: &str) -> (u16, String) {
    use std::io::Read;
    let addr = url.trim_start_matches("http://");
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    let req = format!(
        "{method} {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    s.write_all(req.as_bytes()).unwrap();
    let mut resp = String::new();
    s.read_to_string(&mut resp)
        .unwrap_or_else(|e| panic!("{method} {path} at {url}: {e}"));
    let code = resp
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    (code, resp)
}

/// kubectl with `kubeconfig` and an isolated HOME (its discovery cache), if kubectl is installed.
fn kubectl(kubeconfig: &Path, home: &Path, args: &[&str]) -> Option<(bool, String)> {
    std::fs::create_dir_all(home).unwrap();
    let out = Command::new("kubectl")
        .args(args)
        .env("KUBECONFIG", kubeconfig)
        .env("HOME", home)
        .output()
        .ok()?;
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    Some((out.status.success(), text))
}

#[test]
fn up_serves_the_api_and_the_embedded_store_survives_sigkill() {
    use skiff_core::client::Api;
    use skiff_core::kinds::ConfigMap;
    let dir = std::env::temp_dir().join(format!("skiff-up-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let rt = tokio::runtime::Runtime::new().unwrap();
    let kubeconfig_path = dir.join("kubeconfig.yaml");
    let (mut child, url) = up(&dir, "embedded", &[]);
    assert!(
        url.starts_with("https://127.0.0.1:"),
        "TLS by default: {url}"
    );
    let kubeconfig = std::fs::read_to_string(&kubeconfig_path).unwrap();
    assert!(
        kubeconfig.contains(&url),
        "the kubeconfig points at the server"
    );
    assert!(kubeconfig.contains("certificate-authority-data: "));
    assert!(kubeconfig.contains("token: "));
    let ca = std::fs::read_to_string(dir.join("pki/ca.crt")).unwrap();
    rt.block_on(async {
        let client = skiff_api::HttpClient::from_kubeconfig(&kubeconfig_path).unwrap();
        let cms: Api<ConfigMap> = Api::namespaced(std::sync::Arc::new(client), "default");
        let mut cm = ConfigMap::named("kept");
        cm.data.insert("k".into(), "v".into());
        cms.create(&cm).await.unwrap();
    });
    if let Some((ok, text)) = kubectl(&kubeconfig_path, &dir.join("home"), &["get", "namespaces"]) {
        assert!(ok && text.contains("kube-system"), "{text}");
    }
    child.kill().unwrap(); // SIGKILL: no clean shutdown
    child.wait().unwrap();
    let (mut child, _url) = up(&dir, "embedded", &[]);
    assert_eq!(
        std::fs::read_to_string(dir.join("pki/ca.crt")).unwrap(),
        ca,
        "the CA is reused"
    );
    rt.block_on(async {
        let client = skiff_api::HttpClient::from_kubeconfig(&kubeconfig_path).unwrap();
        let cms: Api<ConfigMap> = Api::namespaced(std::sync::Arc::new(client), "default");
        let kept = cms.get("kept").await.unwrap();
        assert_eq!(kept.data.get("k").map(String::as_str), Some("v"));
    });
    child.kill().unwrap();
    child.wait().unwrap();
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn up_insecure_http_serves_plain_http_to_everyone() {
    let dir = std::env::temp_dir().join(format!("skiff-up-insecure-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let (mut child, url) = up(&dir, "memory", &["--insecure-http"]);
    assert!(url.starts_with("http://127.0.0.1:"), "{url}");
    assert_eq!(http(&url, "GET", "/readyz", "").0, 200);
    let cm = r#"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"open"}}"#;
    assert_eq!(
        http(&url, "POST", "/api/v1/namespaces/default/configmaps", cm).0,
        201
    );
    let kubeconfig = std::fs::read_to_string(dir.join("kubeconfig.yaml")).unwrap();
    assert!(!kubeconfig.contains("token:"), "{kubeconfig}");
    assert!(!dir.join("tokens.csv").exists());
    child.kill().unwrap();
    child.wait().unwrap();
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn up_expires_events_after_the_event_ttl() {
    let dir = std::env::temp_dir().join(format!("skiff-up-event-ttl-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let (mut child, url) = up(&dir, "memory", &["--insecure-http", "--event-ttl", "2s"]);
    let now = chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ");
    let event = format!(
        r#"{{"apiVersion":"v1","kind":"Event","metadata":{{"name":"web.1"}},"involvedObject":{{"kind":"Pod","name":"web","namespace":"default"}},"reason":"Started","message":"Started container web","lastTimestamp":"{now}"}}"#
    );
    let path = "/api/v1/namespaces/default/events";
    assert_eq!(http(&url, "POST", path, &event).0, 201);
    assert_eq!(http(&url, "GET", &format!("{path}/web.1"), "").0, 200);
    let gone = (0..100).any(|_| {
        std::thread::sleep(std::time::Duration::from_millis(100));
        http(&url, "GET", &format!("{path}/web.1"), "").0 == 404
    });
    child.kill().unwrap();
    child.wait().unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    assert!(gone, "the event outlived --event-ttl 2s by 8 s");
}

#[test]
fn up_refuses_a_busy_port_naming_the_flag() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port().to_string();
    let out = skiff(&[
        "up",
        "--store",
        "memory",
        "--port",
        &port,
        "--data-dir",
        std::env::temp_dir().join("skiff-busy").to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains(&format!("--port {port}")), "{err}");
}

#[test]
fn up_reads_a_config_file_and_flags_win() {
    let dir = std::env::temp_dir().join(format!("skiff-up-config-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let config = dir.join("skiff.yaml");
    std::fs::write(
        &config,
        "store: memory\ninsecure-http: true\nport: 1\nnode-name: from-config\n",
    )
    .unwrap();
    // --port 0 on the command line beats `port: 1` in the file; the rest comes from the file.
    let (mut child, url) = up(&dir, "memory", &["--config", config.to_str().unwrap()]);
    assert!(url.starts_with("http://127.0.0.1:"), "{url}");
    assert_eq!(http(&url, "GET", "/readyz", "").0, 200);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let (code, _) = http(&url, "GET", "/api/v1/nodes/from-config", "");
        if code == 200 {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the node from the config file never registered"
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    std::fs::write(&config, "prot: 1\n").unwrap();
    let out = skiff(&["up", "--config", config.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("skiff.yaml") && err.contains("\"prot\""),
        "{err}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
