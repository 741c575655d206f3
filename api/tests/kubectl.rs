//! The real kubectl against the API server, and bad input over raw HTTP.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

use skiff_api::ApiServer;
use skiff_core::client::InProcessClient;
use skiff_core::codec::Scheme;
use skiff_core::shutdown::{Shutdown, ShutdownTrigger};
use skiff_core::store::MemoryStore;

struct Server {
    addr: SocketAddr,
    dir: tempfile::TempDir,
    _stop: ShutdownTrigger,
    _rt: tokio::runtime::Runtime,
}

fn start() -> Server {
    start_with(Scheme::builtin())
}

fn start_with(scheme: Scheme) -> Server {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let (stop, shutdown) = Shutdown::new();
    let addr = rt.block_on(async {
        let server = ApiServer::new(
            InProcessClient::shared(Arc::new(MemoryStore::new())),
            scheme,
        );
        server.ensure_namespaces().await.unwrap();
        server.ensure_apiservices().await.unwrap();
        server.set_bookmark_interval(std::time::Duration::from_millis(300));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(server.serve(listener, shutdown));
        addr
    });
    let dir = tempfile::tempdir().unwrap();
    skiff_api::kubeconfig::write(&dir.path().join("kubeconfig"), &format!("http://{addr}"))
        .unwrap();
    Server {
        addr,
        dir,
        _stop: stop,
        _rt: rt,
    }
}

fn kubectl_present() -> bool {
    let ok = Command::new("kubectl")
        .arg("version")
        .arg("--client")
        .output()
        .is_ok();
    if !ok {
        let required = std::env::var("SKIFF_REQUIRE_ENGINES").is_ok_and(|v| v == "1");
        assert!(
            !required,
            "kubectl is not on PATH and SKIFF_REQUIRE_ENGINES=1"
        );
        eprintln!("SKIPPED: kubectl is not on PATH");
    }
    ok
}

impl Server {
    /// Runs kubectl with an isolated HOME (its discovery cache) and this server's kubeconfig.
    fn kubectl(&self, args: &[&str]) -> (bool, String) {
        let home = self.dir.path().join("home");
        std::fs::create_dir_all(&home).unwrap();
        let out = Command::new("kubectl")
            .args(args)
            .env("KUBECONFIG", self.dir.path().join("kubeconfig"))
            .env("HOME", &home)
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .output()
            .unwrap();
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        (out.status.success(), text)
    }

    fn ok(&self, args: &[&str]) -> String {
        let (ok, text) = self.kubectl(args);
        assert!(ok, "kubectl {args:?} failed:\n{text}");
        text
    }

    fn fails(&self, args: &[&str]) -> String {
        let (ok, text) = self.kubectl(args);
        assert!(!ok, "kubectl {args:?} should have failed:\n{text}");
        text
    }

    fn file(&self, name: &str, content: &str) -> PathBuf {
        let p = self.dir.path().join(name);
        std::fs::write(&p, content).unwrap();
        p
    }

    /// One raw HTTP/1.1 request; returns (status code, body).
    fn http(&self, method: &str, path: &str, content_type: &str, body: &[u8]) -> (u16, String) {
        let mut s = TcpStream::connect(self.addr).unwrap();
        let head = format!(
            "{method} {path} HTTP/1.1\r\nHost: x\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
            body.len()
        );
        s.write_all(head.as_bytes()).unwrap();
        let _ = s.write_all(body);
        let mut resp = Vec::new();
        let _ = s.read_to_end(&mut resp);
        let text = String::from_utf8_lossy(&resp).into_owned();
        let code = text
            .split_whitespace()
            .nth(1)
            .and_then(|c| c.parse().ok())
            .unwrap_or(0);
        let body = text.split("\r\n\r\n").nth(1).unwrap_or("").to_string();
        (code, body)
    }
}

fn repo(path: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join(path)
        .display()
        .to_string()
}

#[test]
fn kubectl_version_discovery_and_namespaces() {
    if !kubectl_present() {
        return;
    }
    let s = start();
    let v = s.ok(&["version"]);
    assert!(v.contains("Server Version: v1.32.0-skiff"), "{v}");
    let ns = s.ok(&["get", "namespaces"]);
    for n in ["default", "kube-system", "kube-public", "kube-node-lease"] {
        assert!(ns.contains(n), "{ns}");
    }
    let res = s.ok(&["api-resources"]);
    for r in [
        "pods",
        "replicasets",
        "services",
        "endpoints",
        "nodes",
        "events",
        "configmaps",
        "leases",
    ] {
        assert!(res.contains(r), "{res}");
    }
    assert!(
        res.contains("po ") || res.contains("po\t") || res.contains(" po "),
        "short names: {res}"
    );
}

#[test]
fn kubectl_create_get_label_delete_the_seed_pod() {
    if !kubectl_present() {
        return;
    }
    let s = start();
    assert!(s.ok(&["get", "pods"]).contains("No resources found"));
    assert!(s
        .ok(&["create", "-f", &repo("examples/manifests/seed-pod.yaml")])
        .contains("pod/nginx created"));
    let got = s.ok(&["get", "pod", "nginx", "-o", "jsonpath={.metadata.name} {.spec.restartPolicy} {.spec.initContainers[0].name} {.spec.containers[0].resources.limits.memory}"]);
    assert_eq!(got.trim(), "nginx Always git 1Gi");
    let json = s.ok(&["get", "pods", "-o", "json"]);
    let list: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(list["items"][0]["spec"]["nodeSelector"]["disktype"], "ssd");
    assert!(list["items"][0]["metadata"]["uid"].is_string());
    assert!(s
        .fails(&["create", "-f", &repo("examples/manifests/seed-pod.yaml")])
        .contains("AlreadyExists"));
    assert!(s
        .ok(&["label", "pod", "nginx", "tier=web"])
        .contains("labeled"));
    assert!(s.ok(&["get", "pods", "-l", "tier=web"]).contains("nginx"));
    assert!(s
        .ok(&["get", "pods", "-l", "tier=db"])
        .contains("No resources found"));
    assert!(s
        .ok(&["annotate", "pod", "nginx", "note=hi"])
        .contains("annotated"));
    assert!(s.ok(&["delete", "pod", "nginx"]).contains("deleted"));
    assert!(s
        .fails(&["get", "pod", "nginx"])
        .contains("(NotFound): pods \"nginx\" not found"));
}

#[test]
fn kubectl_apply_multi_document_and_errors() {
    if !kubectl_present() {
        return;
    }
    let s = start();
    let out = s.ok(&["apply", "-f", &repo("examples/manifests/replicaset.yaml")]);
    assert!(
        out.contains("replicaset.apps/web created") && out.contains("service/web created"),
        "{out}"
    );
    assert!(s
        .ok(&["apply", "-f", &repo("examples/manifests/replicaset.yaml")])
        .contains("unchanged"));
    let svc = s.ok(&[
        "get",
        "svc",
        "web",
        "-o",
        "jsonpath={.spec.type} {.spec.ports[0].targetPort} {.spec.sessionAffinity}",
    ]);
    assert_eq!(svc.trim(), "NodePort http None", "defaults were applied");
    assert!(s.ok(&["get", "rs"]).contains("web"));

    let typo = s.file("typo.yaml", "apiVersion: v1\nkind: Pod\nmetadata: {name: typo}\nspec:\n  containers: [{name: c, image: nginx, imagee: x}]\n");
    let err = s.fails(&["create", "-f", typo.to_str().unwrap()]);
    assert!(
        err.contains("unknown field \"spec.containers[0].imagee\""),
        "{err}"
    );
    let bad = s.file("bad.yaml", "apiVersion: v1\nkind: Pod\nmetadata: {name: Bad_Name}\nspec:\n  restartPolicy: Sometimes\n  containers: [{name: c, image: nginx}]\n");
    let err = s.fails(&["create", "-f", bad.to_str().unwrap()]);
    assert!(err.contains("The Pod \"Bad_Name\" is invalid"), "{err}");
    assert!(
        err.contains("spec.restartPolicy: Unsupported value: \"Sometimes\""),
        "{err}"
    );
    let err = s.fails(&["run", "x", "--image=nginx", "-n", "nope"]);
    assert!(err.contains("namespaces \"nope\" not found"), "{err}");
}

#[test]
fn bad_input_over_http_gets_the_kubernetes_status() {
    let s = start();
    let pods = "/api/v1/namespaces/default/pods";
    let (code, body) = s.http("POST", pods, "application/json", b"{not json");
    assert_eq!(code, 400, "{body}");
    assert!(body.contains("\"reason\":\"BadRequest\""), "{body}");
    let (code, body) = s.http(
        "POST",
        pods,
        "application/json",
        br#"{"apiVersion":"v1","kind":"Service","metadata":{"name":"x"}}"#,
    );
    assert_eq!(code, 400, "wrong kind for the path: {body}");
    let (code, body) = s.http(
        "POST",
        pods,
        "application/json",
        br#"{"apiVersion":"v1","kind":"Pod","metadata":{"name":"x"},"spec":{}}"#,
    );
    assert_eq!(code, 422, "{body}");
    assert!(body.contains("\"field\":\"spec.containers\""), "{body}");
    let pod = br#"{"apiVersion":"v1","kind":"Pod","metadata":{"name":"p"},"spec":{"containers":[{"name":"c","image":"i"}]}}"#;
    let (code, body) = s.http("POST", pods, "application/json", pod);
    assert_eq!(code, 201, "{body}");
    let created: serde_json::Value = serde_json::from_str(&body).unwrap();
    let rv = created["metadata"]["resourceVersion"]
        .as_str()
        .unwrap()
        .to_string();
    let stale = format!(
        r#"{{"apiVersion":"v1","kind":"Pod","metadata":{{"name":"p","resourceVersion":"{}"}},"spec":{{"containers":[{{"name":"c","image":"i2"}}]}}}}"#,
        rv.parse::<i64>().unwrap() - 1
    );
    let (code, body) = s.http(
        "PUT",
        &format!("{pods}/p"),
        "application/json",
        stale.as_bytes(),
    );
    assert_eq!(code, 409, "{body}");
    assert!(body.contains("\"reason\":\"Conflict\""), "{body}");
    let (code, _) = s.http("POST", &format!("{pods}?fieldValidation=Strict"), "application/json",
        br#"{"apiVersion":"v1","kind":"Pod","metadata":{"name":"q"},"spec":{"containers":[{"name":"c","image":"i"}],"bogus":1}}"#);
    assert_eq!(code, 400);
    let huge = vec![b' '; 4 * 1024 * 1024];
    let (code, _) = s.http("POST", pods, "application/json", &huge);
    assert_eq!(code, 413);
    let (code, body) = s.http("GET", "/api/v1/widgets", "application/json", b"");
    assert_eq!(code, 404, "{body}");
    // Server-side apply with bad input: 400 (or 415 for CBOR), never a change.
    for (query, content_type, body) in [
        ("", "application/apply-patch+yaml", &b"{}"[..]),
        ("?fieldManager=m", "application/apply-patch+yaml", b"[1, 2]"),
        ("?fieldManager=m", "application/apply-patch+yaml", b"a: [b"),
        (
            "?fieldManager=m",
            "application/apply-patch+yaml",
            b"{\"metadata\":{\"name\":\"other\"}}",
        ),
        (
            "?fieldManager=m",
            "application/apply-patch+yaml",
            b"{\"metadata\":{\"namespace\":\"kube-system\"}}",
        ),
        (
            "?fieldManager=m",
            "application/apply-patch+yaml",
            b"{\"metadata\":7}",
        ),
        (
            "?fieldManager=m&force=maybe",
            "application/apply-patch+yaml",
            b"{}",
        ),
        (
            "?fieldManager=m",
            "application/apply-patch+yaml",
            b"{\"kind\":\"Service\"}",
        ),
    ] {
        let (code, body) = s.http("PATCH", &format!("{pods}/p{query}"), content_type, body);
        assert_eq!(code, 400, "{query} {body}");
        assert!(body.contains("\"kind\":\"Status\""), "{body}");
    }
    let (code, _) = s.http(
        "PATCH",
        &format!("{pods}/p?fieldManager=m"),
        "application/apply-patch+cbor",
        b"{}",
    );
    assert_eq!(code, 415);
    let (code, body) = s.http(
        "PATCH",
        &format!("{pods}/p"),
        "application/merge-patch+json",
        br#"{"spec":{"restartPolicy":"Sometimes"}}"#,
    );
    assert_eq!(
        code, 422,
        "a patch that makes the object invalid is refused: {body}"
    );
    // Nothing above changed the stored pod.
    let (code, body) = s.http("GET", &format!("{pods}/p"), "application/json", b"");
    assert_eq!(code, 200);
    let now: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(now["spec"]["containers"][0]["image"], "i");
    assert_eq!(now["metadata"]["resourceVersion"].as_str().unwrap(), rv);
}

#[test]
fn watch_streams_json_lines_starting_with_current_objects() {
    let s = start();
    let pod = br#"{"apiVersion":"v1","kind":"Pod","metadata":{"name":"w"},"spec":{"containers":[{"name":"c","image":"i"}]}}"#;
    s.http(
        "POST",
        "/api/v1/namespaces/default/pods",
        "application/json",
        pod,
    );
    let (code, body) = s.http(
        "GET",
        "/api/v1/namespaces/default/pods?watch=true&timeoutSeconds=1",
        "application/json",
        b"",
    );
    assert_eq!(code, 200);
    assert!(
        body.contains("\"type\":\"ADDED\"") && body.contains("\"name\":\"w\""),
        "{body}"
    );
}

#[test]
fn kubectl_create_namespace_and_configmap_send_protobuf() {
    if !kubectl_present() {
        return;
    }
    let s = start();
    assert!(s
        .ok(&["create", "namespace", "team-a"])
        .contains("namespace/team-a created"));
    let out = s.ok(&[
        "create",
        "configmap",
        "settings",
        "-n",
        "team-a",
        "--from-literal=mode=fast",
        "--from-literal=level=3",
    ]);
    assert!(out.contains("configmap/settings created"), "{out}");
    let data = s.ok(&[
        "get",
        "configmap",
        "settings",
        "-n",
        "team-a",
        "-o",
        "jsonpath={.data.mode},{.data.level}",
    ]);
    assert_eq!(data, "fast,3");
    let err = s.fails(&["create", "namespace", "team-a"]);
    assert!(err.contains("AlreadyExists"), "{err}");
    let err = s.fails(&["create", "namespace", "Bad_Name"]);
    assert!(err.contains("Invalid") || err.contains("invalid"), "{err}");
}

#[test]
fn kubectl_create_service_sends_protobuf_of_any_kind() {
    if !kubectl_present() {
        return;
    }
    let s = start();
    let out = s.ok(&[
        "create",
        "service",
        "clusterip",
        "web",
        "--tcp=80:8080",
        "--tcp=443:https",
    ]);
    assert!(out.contains("service/web created"), "{out}");
    let ports = s.ok(&[
        "get",
        "service",
        "web",
        "-o",
        "jsonpath={.spec.ports[0].port}/{.spec.ports[0].targetPort},{.spec.ports[1].port}/{.spec.ports[1].targetPort} {.spec.selector.app} {.spec.type}",
    ]);
    // targetPort is an IntOrString: a number stays a number, a name stays a name.
    assert_eq!(ports, "80/8080,443/https web ClusterIP");
    let out = s.ok(&[
        "create",
        "service",
        "nodeport",
        "np",
        "--tcp=80:80",
        "--node-port=30080",
    ]);
    assert!(out.contains("service/np created"), "{out}");
    let port = s.ok(&[
        "get",
        "service",
        "np",
        "-o",
        "jsonpath={.spec.type} {.spec.ports[0].nodePort}",
    ]);
    assert_eq!(port, "NodePort 30080");
    // ExternalName Services: the name, no ClusterIP.
    s.ok(&[
        "create",
        "service",
        "externalname",
        "db",
        "--external-name=db.example.com",
    ]);
    let ext = s.ok(&[
        "get",
        "service",
        "db",
        "-o",
        "jsonpath={.spec.type} {.spec.externalName} [{.spec.clusterIP}]",
    ]);
    assert_eq!(ext, "ExternalName db.example.com []");
    // A protobuf body that is not valid: 400 naming the problem, nothing stored.
    let (code, body) = s.http(
        "POST",
        "/api/v1/namespaces/default/services",
        "application/vnd.kubernetes.protobuf",
        b"k8s\0\x0a\xff",
    );
    assert_eq!(code, 400, "{body}");
    assert!(body.contains("protobuf body is malformed"), "{body}");
}

#[test]
fn kubectl_uses_aggregated_discovery() {
    if !kubectl_present() {
        return;
    }
    let s = start();
    let (ok, text) = s.kubectl(&["api-resources", "-v=6"]);
    assert!(ok, "{text}");
    // One request each for /api and /apis, answered as APIGroupDiscoveryList: no per-group-version documents.
    let gets: Vec<&str> = text.lines().filter(|l| l.contains("] GET ")).collect();
    assert_eq!(gets.len(), 2, "{text}");
    assert!(
        gets[0].contains("/api?timeout") && gets[1].contains("/apis?timeout"),
        "{text}"
    );
    let table = text
        .lines()
        .filter(|l| !l.starts_with('I') && !l.contains("round_trippers"))
        .collect::<Vec<_>>()
        .join("\n");
    assert!(
        table.contains("pods") && table.contains("po ") && table.contains("Pod"),
        "{table}"
    );
    assert!(
        table.contains("replicasets") && table.contains("apps/v1"),
        "{table}"
    );
    let (ok, text) = s.kubectl(&["get", "po"]);
    assert!(ok && text.contains("No resources found"), "{text}");
}

#[test]
fn watch_sends_bookmarks_only_when_allowed() {
    let s = start();
    let (_, list) = s.http(
        "GET",
        "/api/v1/namespaces/default/configmaps",
        "application/json",
        b"",
    );
    let list: serde_json::Value = serde_json::from_str(&list).unwrap();
    let rv = list["metadata"]["resourceVersion"]
        .as_str()
        .unwrap()
        .to_string();
    let (code, body) = s.http(
        "GET",
        &format!("/api/v1/namespaces/default/configmaps?watch=true&timeoutSeconds=1&allowWatchBookmarks=true&resourceVersion={rv}"),
        "application/json",
        b"",
    );
    assert_eq!(code, 200);
    let bookmark = body
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l.trim()).ok())
        .find(|e| e["type"] == "BOOKMARK")
        .unwrap_or_else(|| panic!("no BOOKMARK in {body}"));
    assert_eq!(bookmark["object"]["kind"], "ConfigMap");
    assert_eq!(
        bookmark["object"]["metadata"]["resourceVersion"],
        rv.as_str()
    );
    let (_, body) = s.http(
        "GET",
        &format!("/api/v1/namespaces/default/configmaps?watch=true&timeoutSeconds=1&resourceVersion={rv}"),
        "application/json",
        b"",
    );
    assert!(!body.contains("BOOKMARK"), "{body}");
}

#[test]
fn kubectl_apply_changes_merge_strategically() {
    if !kubectl_present() {
        return;
    }
    let s = start();
    let v1 = "apiVersion: v1\nkind: Pod\nmetadata:\n  name: web\n  labels: {app: web, tier: front}\nspec:\n  containers:\n  - name: web\n    image: nginx:1.26\n    env:\n    - {name: A, value: '1'}\n    - {name: B, value: '2'}\n  - name: sidecar\n    image: busybox\n";
    let v2 = "apiVersion: v1\nkind: Pod\nmetadata:\n  name: web\n  labels: {app: web}\nspec:\n  containers:\n  - name: web\n    image: nginx:1.27\n    env:\n    - {name: A, value: '1'}\n  - name: sidecar\n    image: busybox\n";
    let f1 = s.file("v1.yaml", v1);
    let f2 = s.file("v2.yaml", v2);
    assert!(s
        .ok(&["apply", "-f", f1.to_str().unwrap()])
        .contains("pod/web created"));
    // Someone else adds a label kubectl apply does not manage: it must survive the next apply.
    s.ok(&["label", "pod", "web", "owner=ops"]);
    assert!(s
        .ok(&["apply", "-f", f2.to_str().unwrap()])
        .contains("pod/web configured"));
    let pod: serde_json::Value =
        serde_json::from_str(&s.ok(&["get", "pod", "web", "-o", "json"])).unwrap();
    let labels = &pod["metadata"]["labels"];
    assert_eq!(
        (
            labels.get("tier"),
            labels["app"].as_str(),
            labels["owner"].as_str()
        ),
        (None, Some("web"), Some("ops")),
        "{labels}"
    );
    let web = &pod["spec"]["containers"][0];
    assert_eq!(web["image"], "nginx:1.27");
    assert_eq!(
        web["env"],
        serde_json::json!([{"name": "A", "value": "1"}]),
        "the removed env entry is gone"
    );
    assert_eq!(pod["spec"]["containers"][1]["name"], "sidecar");
    assert!(s
        .ok(&["apply", "-f", f2.to_str().unwrap()])
        .contains("pod/web unchanged"));
}

#[test]
fn kubectl_get_prints_the_apiservers_columns() {
    if !kubectl_present() {
        return;
    }
    let s = start();
    s.ok(&["create", "-f", &repo("examples/manifests/seed-pod.yaml")]);
    s.ok(&["apply", "-f", &repo("examples/manifests/replicaset.yaml")]);
    let pods = s.ok(&["get", "pods"]);
    let header: Vec<&str> = pods.lines().next().unwrap().split_whitespace().collect();
    assert_eq!(
        header,
        ["NAME", "READY", "STATUS", "RESTARTS", "AGE"],
        "{pods}"
    );
    assert!(
        pods.lines()
            .nth(1)
            .unwrap()
            .starts_with("nginx   0/1     Pending   0"),
        "{pods}"
    );
    let wide = s.ok(&["get", "pods", "-o", "wide"]);
    assert!(
        wide.contains("NOMINATED NODE") && wide.contains("READINESS GATES"),
        "{wide}"
    );
    let rs = s.ok(&["get", "rs"]);
    assert!(
        rs.contains("DESIRED") && rs.lines().nth(1).unwrap().split_whitespace().nth(1) == Some("3"),
        "{rs}"
    );
    let svc = s.ok(&["get", "svc", "web"]);
    assert!(
        svc.contains("PORT(S)") && svc.contains("NodePort") && svc.contains("80:3"),
        "{svc}"
    );
    let all = s.ok(&["get", "all"]);
    assert!(
        all.contains("pod/nginx")
            && all.contains("service/web")
            && all.contains("replicaset.apps/web"),
        "{all}"
    );
    let ns = s.ok(&["get", "ns"]);
    assert!(ns.contains("STATUS") && ns.contains("Active"), "{ns}");
}

#[test]
fn kubectl_scale_through_the_scale_subresource() {
    if !kubectl_present() {
        return;
    }
    let s = start();
    s.ok(&["apply", "-f", &repo("examples/manifests/replicaset.yaml")]);
    assert!(s
        .ok(&["scale", "rs", "web", "--replicas=5"])
        .contains("scaled"));
    assert_eq!(
        s.ok(&["get", "rs", "web", "-o", "jsonpath={.spec.replicas}"])
            .trim(),
        "5"
    );
    let err = s.fails(&["scale", "rs", "web", "--current-replicas=2", "--replicas=1"]);
    assert!(err.contains("Expected replicas to be 2, was 5"), "{err}");
    let raw = s.ok(&[
        "get",
        "--raw",
        "/apis/apps/v1/namespaces/default/replicasets/web/scale",
    ]);
    let scale: serde_json::Value = serde_json::from_str(&raw).unwrap();
    assert_eq!(
        (scale["kind"].as_str(), scale["status"]["selector"].as_str()),
        (Some("Scale"), Some("app=web"))
    );
    let (code, body) = s.http(
        "PATCH",
        "/apis/apps/v1/namespaces/default/replicasets/web/scale",
        "application/merge-patch+json",
        br#"{"spec":{"replicas":-3}}"#,
    );
    assert_eq!(code, 422, "negative replicas are invalid: {body}");
    assert_eq!(
        s.ok(&["get", "rs", "web", "-o", "jsonpath={.spec.replicas}"])
            .trim(),
        "5"
    );
}

#[test]
fn metrics_count_requests_by_verb_resource_and_code() {
    let s = start();
    s.http(
        "GET",
        "/api/v1/namespaces/default/pods",
        "application/json",
        b"",
    );
    s.http(
        "GET",
        "/api/v1/namespaces/default/pods/missing",
        "application/json",
        b"",
    );
    let (code, body) = s.http("GET", "/metrics", "text/plain", b"");
    assert_eq!(code, 200);
    assert!(
        body.contains(r#"skiff_apiserver_request_total{verb="list",resource="pods",code="200"} 1"#),
        "{body}"
    );
    assert!(
        body.contains(r#"skiff_apiserver_request_total{verb="get",resource="pods",code="404"} 1"#),
        "{body}"
    );
    assert!(
        body.contains("skiff_apiserver_request_duration_seconds_bucket"),
        "{body}"
    );
}

#[test]
fn kubectl_explain_renders_the_generated_schemas() {
    if !kubectl_present() {
        return;
    }
    let s = start();
    let pod = s.ok(&["explain", "pod"]);
    eprintln!("{pod}");
    for want in [
        "KIND:       Pod",
        "VERSION:    v1",
        "A Pod: the smallest deployable unit",
        "FIELDS:",
        "spec\t<PodSpec>",
        "Desired state.",
        "status\t<PodStatus>",
        "metadata\t<ObjectMeta>",
    ] {
        assert!(pod.contains(want), "missing {want:?} in:\n{pod}");
    }
    assert!(!pod.contains("```"), "no Rust code in descriptions:\n{pod}");

    let containers = s.ok(&["explain", "pod.spec.containers"]);
    eprintln!("{containers}");
    for want in [
        "FIELD: containers <[]Container>",
        "image\t<string>",
        "Image reference",
        "resources\t<ResourceRequirements>",
    ] {
        assert!(
            containers.contains(want),
            "missing {want:?} in:\n{containers}"
        );
    }

    let rs = s.ok(&["explain", "replicaset.spec"]);
    eprintln!("{rs}");
    for want in [
        "GROUP:      apps",
        "KIND:       ReplicaSet",
        "replicas\t<integer>",
        "template\t<PodTemplateSpec>",
    ] {
        assert!(rs.contains(want), "missing {want:?} in:\n{rs}");
    }
    let port = s.ok(&["explain", "service.spec.ports.targetPort"]);
    assert!(port.contains("<IntOrString>"), "{port}");
    let err = s.fails(&["explain", "pod.spec.nope"]);
    assert!(err.contains("nope"), "{err}");

    // Validation still goes to the server with the schemas in the documents.
    let typo = s.file("typo.yaml", "apiVersion: v1\nkind: Pod\nmetadata: {name: typo}\nspec:\n  containers: [{name: c, image: nginx, imagee: x}]\n");
    let err = s.fails(&["apply", "-f", typo.to_str().unwrap()]);
    assert!(
        err.contains("unknown field \"spec.containers[0].imagee\""),
        "{err}"
    );
}

#[test]
fn kubectl_apply_server_side_tracks_owners_and_reports_conflicts() {
    if !kubectl_present() {
        return;
    }
    let s = start();
    let manifest = |labels: &str, image: &str| {
        format!("apiVersion: v1\nkind: Pod\nmetadata:\n  name: ssa\n  labels: {{{labels}}}\nspec:\n  containers:\n  - name: main\n    image: {image}\n")
    };
    let get = |s: &Server| -> serde_json::Value {
        serde_json::from_str(&s.ok(&["get", "pod", "ssa", "-o", "json", "--show-managed-fields"]))
            .unwrap()
    };
    let v1 = s.file(
        "ssa1.yaml",
        &manifest("app: web, tier: front", "nginx:1.26"),
    );
    let out = s.ok(&["apply", "--server-side", "-f", v1.to_str().unwrap()]);
    assert!(out.contains("pod/ssa serverside-applied"), "{out}");
    let pod = get(&s);
    let entry = &pod["metadata"]["managedFields"][0];
    assert_eq!(
        (entry["manager"].as_str(), entry["operation"].as_str()),
        (Some("kubectl"), Some("Apply")),
        "{pod}"
    );
    assert_eq!(
        entry["fieldsV1"]["f:metadata"],
        serde_json::json!({"f:labels": {"f:app": {}, "f:tier": {}}})
    );
    assert!(
        entry["fieldsV1"]["f:spec"]["f:containers"]["k:{\"name\":\"main\"}"]["f:image"].is_object()
    );

    // A changed manifest updates; the label it no longer has is removed.
    let v2 = s.file("ssa2.yaml", &manifest("app: web", "nginx:1.27"));
    let out = s.ok(&[
        "apply",
        "--server-side",
        "--dry-run=server",
        "-f",
        v2.to_str().unwrap(),
    ]);
    assert!(
        out.contains("pod/ssa serverside-applied (server dry run)"),
        "{out}"
    );
    assert_eq!(
        get(&s)["spec"]["containers"][0]["image"],
        "nginx:1.26",
        "a dry run stores nothing"
    );
    let out = s.ok(&["apply", "--server-side", "-f", v2.to_str().unwrap()]);
    assert!(out.contains("pod/ssa serverside-applied"), "{out}");
    let pod = get(&s);
    assert_eq!(pod["metadata"]["labels"], serde_json::json!({"app": "web"}));
    assert_eq!(pod["spec"]["containers"][0]["image"], "nginx:1.27");

    // Another manager's label survives the next apply.
    s.ok(&["label", "pod", "ssa", "owner=ops"]);
    s.ok(&["apply", "--server-side", "-f", v2.to_str().unwrap()]);
    assert_eq!(get(&s)["metadata"]["labels"]["owner"], "ops");

    // Another manager changed a field this manifest sets: conflict, named like Kubernetes does.
    s.ok(&["label", "pod", "ssa", "app=other", "--overwrite"]);
    let err = s.fails(&["apply", "--server-side", "-f", v2.to_str().unwrap()]);
    assert!(
        err.contains("Apply failed with 1 conflict: conflict with \"kubectl-label\" using v1: .metadata.labels.app"),
        "{err}"
    );
    assert_eq!(get(&s)["metadata"]["labels"]["app"], "other");
    let out = s.ok(&[
        "apply",
        "--server-side",
        "--force-conflicts",
        "-f",
        v2.to_str().unwrap(),
    ]);
    assert!(out.contains("pod/ssa serverside-applied"), "{out}");
    let pod = get(&s);
    assert_eq!(pod["metadata"]["labels"]["app"], "web");
    let label_owner = pod["metadata"]["managedFields"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["manager"] == "kubectl-label")
        .unwrap();
    assert_eq!(
        label_owner["fieldsV1"],
        serde_json::json!({"f:metadata": {"f:labels": {"f:owner": {}}}}),
        "forcing took .metadata.labels.app from kubectl-label"
    );

    // Unknown fields are rejected as with any write.
    let typo = s.file("ssa3.yaml", "apiVersion: v1\nkind: Pod\nmetadata: {name: ssa}\nspec:\n  containers: [{name: main, image: nginx, imagee: x}]\n");
    let err = s.fails(&["apply", "--server-side", "-f", typo.to_str().unwrap()]);
    assert!(
        err.contains("unknown field \"spec.containers[0].imagee\""),
        "{err}"
    );

    // Plain writes record their manager as an Update.
    let created = s.file(
        "cm.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: cm}\ndata: {k: v}\n",
    );
    s.ok(&["create", "-f", created.to_str().unwrap()]);
    let cm: serde_json::Value =
        serde_json::from_str(&s.ok(&["get", "cm", "cm", "-o", "json", "--show-managed-fields"]))
            .unwrap();
    let entry = &cm["metadata"]["managedFields"][0];
    assert_eq!(
        (entry["manager"].as_str(), entry["operation"].as_str()),
        (Some("kubectl-create"), Some("Update")),
        "{cm}"
    );
    assert_eq!(entry["fieldsV1"]["f:data"], serde_json::json!({"f:k": {}}));
}

#[test]
fn kubectl_server_side_apply_after_client_side_apply() {
    if !kubectl_present() {
        return;
    }
    let s = start();
    let cm = |app: &str| {
        format!("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: mixed\n  labels: {{app: {app}}}\ndata: {{k: v}}\n")
    };
    let a = s.file("mixed-a.yaml", &cm("a"));
    let b = s.file("mixed-b.yaml", &cm("b"));
    assert!(s
        .ok(&["apply", "-f", a.to_str().unwrap()])
        .contains("configmap/mixed created"));
    // kubectl-client-side-apply owns the label (an Update): another value conflicts.
    let err = s.fails(&["apply", "--server-side", "-f", b.to_str().unwrap()]);
    assert!(
        err.contains("Apply failed with 1 conflict: conflict with \"kubectl-client-side-apply\" using v1: .metadata.labels.app"),
        "{err}"
    );
    assert!(
        err.contains("--force-conflicts"),
        "kubectl explains how to resolve it: {err}"
    );
    // The same values: shared ownership, no conflict; kubectl then moves the client-side apply's fields
    // to its own Apply entry (a JSON patch of managedFields), so the new value applies cleanly next.
    assert!(s
        .ok(&["apply", "--server-side", "-f", a.to_str().unwrap()])
        .contains("configmap/mixed serverside-applied"));
    let out = s.ok(&["apply", "--server-side", "-f", b.to_str().unwrap()]);
    assert!(out.contains("configmap/mixed serverside-applied"), "{out}");
    let got: serde_json::Value =
        serde_json::from_str(&s.ok(&["get", "cm", "mixed", "-o", "json", "--show-managed-fields"]))
            .unwrap();
    assert_eq!(got["metadata"]["labels"]["app"], "b");
    eprintln!(
        "{}",
        serde_json::to_string_pretty(&got["metadata"]).unwrap()
    );
}

/// What a Greeting asks for.
#[derive(
    Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "camelCase")]
pub struct GreetingSpec {
    /// Text to greet with.
    #[serde(default)]
    pub message: String,
}

skiff_core::object! {
    /// A greeting: a user-defined kind.
    pub struct Greeting {
        /// What to greet with.
        #[serde(default)]
        pub spec: GreetingSpec,
    }
    resource {
        kind: "Greeting", group: "example.com", version: "v1",
        plural: "greetings", singular: "greeting", short_names: ["gr"], scope: Namespaced,
    }
}

impl skiff_core::defaults::ApplyDefaults for Greeting {}
impl skiff_core::validation::Validate for Greeting {}
impl skiff_core::strategy::Strategy for Greeting {}

#[test]
fn kubectl_explain_and_server_side_apply_a_user_kind() {
    if !kubectl_present() {
        return;
    }
    let mut scheme = Scheme::builtin();
    scheme.register::<Greeting>();
    let s = start_with(scheme);
    let out = s.ok(&["explain", "greetings.spec"]);
    for want in [
        "GROUP:      example.com",
        "KIND:       Greeting",
        "What to greet with.",
        "message\t<string>",
        "Text to greet with.",
    ] {
        assert!(out.contains(want), "missing {want:?} in:\n{out}");
    }
    let g = s.file("g.yaml", "apiVersion: example.com/v1\nkind: Greeting\nmetadata: {name: hi}\nspec: {message: hello}\n");
    assert!(s
        .ok(&["apply", "--server-side", "-f", g.to_str().unwrap()])
        .contains("greeting.example.com/hi serverside-applied"));
    assert_eq!(
        s.ok(&["get", "gr", "hi", "-o", "jsonpath={.spec.message}"]),
        "hello"
    );
}

#[test]
fn field_manager_defaults_to_the_user_agents_program() {
    let s = start();
    let cm = br#"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"ua"},"data":{"k":"v"}}"#;
    let mut conn = TcpStream::connect(s.addr).unwrap();
    let head = format!(
        "POST /api/v1/namespaces/default/configmaps HTTP/1.1\r\nHost: x\r\nUser-Agent: my-tool/1.0 (linux)\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        cm.len()
    );
    conn.write_all(head.as_bytes()).unwrap();
    conn.write_all(cm).unwrap();
    let mut resp = String::new();
    let _ = conn.read_to_string(&mut resp);
    assert!(resp.starts_with("HTTP/1.1 201"), "{resp}");
    assert!(
        resp.contains(r#""manager":"my-tool","operation":"Update""#),
        "{resp}"
    );
    let (code, body) = s.http(
        "PATCH",
        "/api/v1/namespaces/default/configmaps/ua?fieldManager=editor",
        "application/merge-patch+json",
        br#"{"data":{"k":"w"}}"#,
    );
    assert_eq!(code, 200, "{body}");
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    let managers: Vec<(&str, &serde_json::Value)> = v["metadata"]["managedFields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["manager"].as_str().unwrap(), &e["fieldsV1"]))
        .collect();
    assert_eq!(
        managers,
        [("editor", &serde_json::json!({"f:data": {"f:k": {}}}))],
        "the patch took data.k from my-tool, which owned nothing else"
    );
}

#[test]
fn kubectl_sees_apiservices_dry_runs_and_field_selectors_as_on_kubernetes() {
    if !kubectl_present() {
        return;
    }
    let s = start();
    // Every served group-version is a Local, available APIService.
    let out = s.ok(&["get", "apiservices"]);
    for name in [
        "v1.",
        "v1.apps",
        "v1.coordination.k8s.io",
        "v1.apiregistration.k8s.io",
    ] {
        let line = out
            .lines()
            .find(|l| l.split_whitespace().next() == Some(name))
            .unwrap_or_else(|| panic!("no {name} in:\n{out}"));
        let cols: Vec<&str> = line.split_whitespace().collect();
        assert_eq!(&cols[1..3], ["Local", "True"], "{line}");
    }
    assert!(out.starts_with("NAME"), "{out}");
    let remote = s.file(
        "metrics.yaml",
        "apiVersion: apiregistration.k8s.io/v1\nkind: APIService\nmetadata: {name: v1beta1.metrics.k8s.io}\nspec: {group: metrics.k8s.io, version: v1beta1, groupPriorityMinimum: 100, versionPriority: 100, service: {namespace: kube-system, name: metrics-server}}\n",
    );
    let err = s.fails(&["create", "-f", remote.to_str().unwrap()]);
    assert!(
        err.contains("aggregated API servers are not supported yet"),
        "{err}"
    );
    let err = s.fails(&["delete", "apiservice", "v1.apps"]);
    assert!(err.contains("forbidden"), "{err}");

    // --dry-run=server: the answer of a real create (with a uid), nothing stored.
    let out = s.ok(&[
        "create",
        "configmap",
        "dry",
        "--from-literal=k=v",
        "--dry-run=server",
        "-o",
        "json",
    ]);
    let cm: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert!(cm["metadata"]["uid"].is_string(), "{out}");
    let err = s.fails(&["get", "configmap", "dry"]);
    assert!(err.contains("not found"), "{err}");
    s.ok(&["create", "configmap", "real", "--from-literal=k=v"]);
    s.ok(&["label", "configmap", "real", "x=y", "--dry-run=server"]);
    assert!(!s
        .ok(&["get", "configmap", "real", "--show-labels"])
        .contains("x=y"));
    s.ok(&["delete", "configmap", "real", "--dry-run=server"]);
    s.ok(&["get", "configmap", "real"]);

    // Field selectors: a node without spec.unschedulable is schedulable; unknown fields are refused.
    let node = s.file(
        "node.yaml",
        "apiVersion: v1\nkind: Node\nmetadata: {name: plain}\n",
    );
    s.ok(&["create", "-f", node.to_str().unwrap()]);
    let out = s.ok(&[
        "get",
        "nodes",
        "--field-selector",
        "spec.unschedulable==false",
        "-o",
        "name",
    ]);
    assert_eq!(out.trim(), "node/plain");
    let err = s.fails(&["get", "pods", "--field-selector", "spec.foo=bar"]);
    assert!(err.contains("field label not supported: spec.foo"), "{err}");
}
