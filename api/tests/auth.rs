//! TLS and bearer tokens, for real: the real kubectl and HttpClient over HTTPS with a CA generated on
//! first start, 401s without a valid token, public health paths, and certificates reused across restarts.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

use skiff_api::auth::TokenSet;
use skiff_api::kubeconfig::Access;
use skiff_api::tls::Pki;
use skiff_api::{ApiServer, HttpClient};
use skiff_core::client::{Api, InProcessClient};
use skiff_core::codec::Scheme;
use skiff_core::kinds::ConfigMap;
use skiff_core::shutdown::{Shutdown, ShutdownTrigger};
use skiff_core::store::MemoryStore;

const TOKEN: &str = "0123456789abcdef0123456789abcdef";

fn hosts() -> Vec<String> {
    vec!["127.0.0.1".into(), "::1".into(), "localhost".into()]
}

struct Server {
    addr: SocketAddr,
    pki: Pki,
    home: PathBuf,
    _stop: ShutdownTrigger,
}

/// Starts a TLS + token server with its PKI under `dir/pki` (generated or reused), on `port` (0: any).
fn start(rt: &tokio::runtime::Runtime, dir: &Path, port: u16) -> Server {
    let pki = Pki::ensure(&dir.join("pki"), &hosts()).unwrap();
    let tls = pki.server_config().unwrap();
    let (stop, shutdown) = Shutdown::new();
    let addr = rt.block_on(async {
        let tokens = TokenSet::parse(&format!("{TOKEN},admin,admin,\"system:masters\"\n")).unwrap();
        let server = ApiServer::with_tokens(
            InProcessClient::shared(Arc::new(MemoryStore::new())),
            Scheme::builtin(),
            tokens,
        );
        server.ensure_namespaces().await.unwrap();
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
            .await
            .unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(server.serve_tls(listener, tls, shutdown));
        addr
    });
    Server {
        addr,
        pki,
        home: dir.join("home"),
        _stop: stop,
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

fn kubectl_present() -> bool {
    let ok = Command::new("kubectl")
        .args(["version", "--client"])
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
    fn url(&self) -> String {
        format!("https://{}", self.addr)
    }

    /// The kubeconfig `skiff up` would write: server, CA and token.
    fn access(&self) -> Access {
        Access::new(self.url())
            .with_ca_pem(self.pki.ca_pem())
            .with_token(TOKEN)
    }

    /// Runs kubectl with `access` as its kubeconfig and an isolated HOME.
    fn kubectl(&self, access: &Access, args: &[&str]) -> (bool, String) {
        self.kubectl_text(&access.render(), args)
    }

    /// Runs kubectl with the kubeconfig `text` and an isolated HOME.
    fn kubectl_text(&self, text: &str, args: &[&str]) -> (bool, String) {
        std::fs::create_dir_all(&self.home).unwrap();
        let kubeconfig = self.home.join(format!("kubeconfig-{}", self.addr.port()));
        std::fs::write(&kubeconfig, text).unwrap();
        let out = Command::new("kubectl")
            .stdin(std::process::Stdio::null())
            .args(args)
            .env("KUBECONFIG", &kubeconfig)
            .env("HOME", &self.home)
            .output()
            .unwrap();
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        (out.status.success(), text)
    }

    /// One HTTPS GET trusting the CA, with an optional token; returns (status code, body).
    fn get(&self, rt: &tokio::runtime::Runtime, path: &str, token: Option<&str>) -> (u16, String) {
        skiff_api::tls::install_crypto_provider();
        let certs = reqwest::Certificate::from_pem_bundle(self.pki.ca_pem().as_bytes()).unwrap();
        let http = reqwest::Client::builder()
            .tls_certs_only(certs)
            .build()
            .unwrap();
        rt.block_on(async {
            let mut req = http.get(format!("{}{path}", self.url()));
            if let Some(t) = token {
                req = req.bearer_auth(t);
            }
            let resp = req.send().await.unwrap();
            (resp.status().as_u16(), resp.text().await.unwrap())
        })
    }
}

#[test]
fn kubectl_works_with_the_token_and_is_refused_without() {
    if !kubectl_present() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let rt = runtime();
    let s = start(&rt, dir.path(), 0);
    let (ok, text) = s.kubectl(&s.access(), &["get", "pods"]);
    assert!(ok, "{text}");
    assert!(text.contains("No resources found"), "{text}");
    let (ok, text) = s.kubectl(&s.access(), &["get", "namespaces"]);
    assert!(ok && text.contains("kube-system"), "{text}");

    // No credentials at all: kubectl asks for a user name on stdin (none here) and fails.
    let mut anonymous = s.access();
    anonymous.token = None;
    let (ok, text) = s.kubectl(&anonymous, &["get", "pods"]);
    assert!(!ok, "{text}");
    // Credentials that are not a bearer token, and a wrong token: 401, as kubectl words it.
    let basic = s.access().render().replace(
        &format!("token: {TOKEN}"),
        "username: nobody\n    password: nothing",
    );
    let (ok, text) = s.kubectl_text(&basic, &["get", "pods"]);
    assert!(!ok, "{text}");
    assert!(
        text.contains("error: You must be logged in to the server (Unauthorized)"),
        "{text}"
    );
    let (ok, text) = s.kubectl(&s.access().with_token("wrong"), &["get", "pods"]);
    assert!(!ok, "{text}");
    assert!(
        text.contains("error: You must be logged in to the server (Unauthorized)"),
        "{text}"
    );

    // Without the CA kubectl does not trust the server.
    let mut untrusting = s.access();
    untrusting.ca_pem = None;
    let (ok, text) = s.kubectl(&untrusting, &["get", "pods"]);
    assert!(!ok, "{text}");
    assert!(text.contains("certificate"), "{text}");
}

#[test]
fn requests_without_a_valid_token_get_401_status_except_health() {
    let dir = tempfile::tempdir().unwrap();
    let rt = runtime();
    let s = start(&rt, dir.path(), 0);
    let (code, body) = s.get(&rt, "/api/v1/namespaces/default/pods", None);
    assert_eq!(code, 401, "{body}");
    let status: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        status,
        serde_json::json!({"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure",
            "message":"Unauthorized","reason":"Unauthorized","code":401})
    );
    assert_eq!(s.get(&rt, "/api", Some("wrong")).0, 401);
    assert_eq!(s.get(&rt, "/metrics", None).0, 401);
    assert_eq!(s.get(&rt, "/api", Some(TOKEN)).0, 200);
    for public in ["/healthz", "/livez", "/readyz", "/version"] {
        let (code, body) = s.get(&rt, public, None);
        assert_eq!(code, 200, "{public}: {body}");
    }
}

#[test]
fn plain_http_to_the_tls_port_fails() {
    let dir = tempfile::tempdir().unwrap();
    let rt = runtime();
    let s = start(&rt, dir.path(), 0);
    let mut tcp = TcpStream::connect(s.addr).unwrap();
    tcp.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut resp = String::new();
    let _ = tcp.read_to_string(&mut resp);
    assert!(resp.starts_with("HTTP/1.0 400"), "{resp}");
    assert!(
        resp.contains("Client sent an HTTP request to an HTTPS server."),
        "{resp}"
    );
    // And the plain-HTTP client sees no API.
    let plain = HttpClient::new(&format!("http://{}", s.addr));
    let cms: Api<ConfigMap> = Api::namespaced(Arc::new(plain), "default");
    assert!(rt.block_on(cms.get("x")).is_err());
}

#[test]
fn http_client_from_the_kubeconfig_does_crud_over_tls() {
    let dir = tempfile::tempdir().unwrap();
    let rt = runtime();
    let s = start(&rt, dir.path(), 0);
    let path = dir.path().join("kubeconfig.yaml");
    s.access().write(&path).unwrap();
    let client = HttpClient::from_kubeconfig(&path).unwrap();
    let cms: Api<ConfigMap> = Api::namespaced(Arc::new(client), "default");
    rt.block_on(async {
        let mut cm = ConfigMap::named("tls");
        cm.data.insert("k".into(), "v".into());
        cms.create(&cm).await.unwrap();
        let mut got = cms.get("tls").await.unwrap();
        assert_eq!(got.data["k"], "v");
        got.data.insert("k".into(), "w".into());
        cms.replace("tls", &got).await.unwrap();
        assert_eq!(cms.get("tls").await.unwrap().data["k"], "w");
        let list = cms.list(&Default::default()).await.unwrap();
        assert_eq!(list.items.len(), 1);
        cms.delete("tls", &Default::default()).await.unwrap();
        assert!(cms.get("tls").await.unwrap_err().is_not_found());
    });
    // Without the token the same client is refused, by name.
    let anonymous = HttpClient::builder(&s.url())
        .ca_pem(s.pki.ca_pem())
        .build()
        .unwrap();
    let cms: Api<ConfigMap> = Api::namespaced(Arc::new(anonymous), "default");
    let err = rt.block_on(cms.get("tls")).unwrap_err();
    assert!(err.to_string().contains("Unauthorized"), "{err}");
    // Trusting another CA, the client refuses the server.
    let other = Pki::ensure(&dir.path().join("other-pki"), &hosts()).unwrap();
    let wrong_ca = HttpClient::builder(&s.url())
        .ca_pem(other.ca_pem())
        .bearer_token(TOKEN)
        .build()
        .unwrap();
    let cms: Api<ConfigMap> = Api::namespaced(Arc::new(wrong_ca), "default");
    assert!(rt.block_on(cms.get("tls")).is_err());
}

#[test]
fn certificates_are_reused_across_restarts_and_the_ca_verifies_them() {
    let dir = tempfile::tempdir().unwrap();
    let rt = runtime();
    let first = start(&rt, dir.path(), 0);
    let ca = std::fs::read_to_string(dir.path().join("pki/ca.crt")).unwrap();
    let serving = std::fs::read_to_string(dir.path().join("pki/apiserver.crt")).unwrap();
    let kubeconfig_ca = first.pki.ca_pem().to_string();
    let port = first.addr.port();
    drop(first);
    // Keys are private.
    use std::os::unix::fs::PermissionsExt;
    for key in ["ca.key", "apiserver.key"] {
        let mode = std::fs::metadata(dir.path().join("pki").join(key))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "{key}");
    }
    // The restarted server (same port once free, else another) keeps both certificates.
    std::thread::sleep(std::time::Duration::from_millis(200));
    let second = match std::net::TcpListener::bind(("127.0.0.1", port)) {
        Ok(l) => {
            drop(l);
            start(&rt, dir.path(), port)
        }
        Err(_) => start(&rt, dir.path(), 0),
    };
    assert_eq!(
        std::fs::read_to_string(dir.path().join("pki/ca.crt")).unwrap(),
        ca
    );
    assert_eq!(
        std::fs::read_to_string(dir.path().join("pki/apiserver.crt")).unwrap(),
        serving
    );
    // The kubeconfig written at the first start still verifies the server.
    let client = HttpClient::from_access(
        &Access::new(second.url())
            .with_ca_pem(kubeconfig_ca.clone())
            .with_token(TOKEN),
    )
    .unwrap();
    let cms: Api<ConfigMap> = Api::namespaced(Arc::new(client), "default");
    assert!(rt.block_on(cms.get("none")).unwrap_err().is_not_found());
    drop(second);

    // New hosts: the serving certificate is signed anew by the same CA.
    let mut more = hosts();
    more.push("skiff.example".into());
    let pki = Pki::ensure(&dir.path().join("pki"), &more).unwrap();
    assert_eq!(pki.ca_pem(), ca);
    assert_ne!(
        std::fs::read_to_string(dir.path().join("pki/apiserver.crt")).unwrap(),
        serving
    );
    let third = start(&rt, dir.path(), 0);
    assert_eq!(
        third.get(&rt, "/version", None).0,
        200,
        "the old CA verifies the new certificate"
    );
}

#[test]
fn a_damaged_key_file_is_named() {
    let dir = tempfile::tempdir().unwrap();
    Pki::ensure(dir.path(), &hosts()).unwrap();
    std::fs::write(dir.path().join("ca.key"), "not a key").unwrap();
    let err = Pki::ensure(dir.path(), &hosts()).unwrap_err().to_string();
    assert!(err.contains("ca.key"), "{err}");
}
