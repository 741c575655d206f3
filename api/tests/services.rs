//! The Service registry behind the real kubectl: ClusterIPs as IPAddress objects, NodePorts, the
//! `kubernetes` Service, releases on delete and type change, and the 422s for bad requests (with
//! nothing allocated). Skipped (with a printed reason) without kubectl, unless SKIFF_REQUIRE_ENGINES=1.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::Command;
use std::sync::Arc;

use skiff_api::server::ServiceNetwork;
use skiff_api::ApiServer;
use skiff_core::client::{Client, DeleteParams, InProcessClient};
use skiff_core::codec::Scheme;
use skiff_core::kinds::IPAddress;
use skiff_core::shutdown::{Shutdown, ShutdownTrigger};
use skiff_core::store::MemoryStore;
use skiff_core::Resource;

struct Server {
    dir: tempfile::TempDir,
    server: Arc<ApiServer>,
    client: Arc<dyn Client>,
    rt: tokio::runtime::Runtime,
    _stop: ShutdownTrigger,
}

fn start() -> Server {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let (stop, shutdown) = Shutdown::new();
    let client = InProcessClient::shared(Arc::new(MemoryStore::new()));
    let (addr, server) = rt.block_on(async {
        let server = ApiServer::new(client.clone(), Scheme::builtin());
        server.set_service_network(ServiceNetwork {
            cluster_ips: "10.100.0.0/24".parse().unwrap(),
            node_ports: "30000-30009".parse().unwrap(),
        });
        server.ensure_namespaces().await.unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        server.ensure_kubernetes_service(addr).await.unwrap();
        tokio::spawn(server.clone().serve(listener, shutdown));
        (addr, server)
    });
    let dir = tempfile::tempdir().unwrap();
    skiff_api::kubeconfig::write(&dir.path().join("kubeconfig"), &format!("http://{addr}"))
        .unwrap();
    Server {
        dir,
        server,
        client,
        rt,
        _stop: stop,
    }
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
    fn kubectl(&self, args: &[&str]) -> (bool, String) {
        let home = self.dir.path().join("home");
        std::fs::create_dir_all(&home).unwrap();
        let out = Command::new("kubectl")
            .args(args)
            .env("KUBECONFIG", self.dir.path().join("kubeconfig"))
            .env("HOME", home)
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
        let (ok, out) = self.kubectl(args);
        assert!(ok, "kubectl {args:?} failed:\n{out}");
        out
    }

    fn fails(&self, args: &[&str]) -> String {
        let (ok, out) = self.kubectl(args);
        assert!(!ok, "kubectl {args:?} should fail:\n{out}");
        out
    }

    fn apply(&self, yaml: &str) -> (bool, String) {
        let file = self.dir.path().join("svc.yaml");
        std::fs::write(&file, yaml).unwrap();
        self.kubectl(&["apply", "-f", file.to_str().unwrap()])
    }

    /// The allocated addresses, sorted.
    fn ipaddresses(&self) -> Vec<String> {
        let mut v: Vec<String> = self
            .ok(&[
                "get",
                "ipaddresses",
                "-o",
                "jsonpath={.items[*].metadata.name}",
            ])
            .split_whitespace()
            .map(str::to_string)
            .collect();
        v.sort();
        v
    }

    fn jsonpath(&self, what: &[&str], path: &str) -> String {
        let mut args = vec!["get"];
        args.extend_from_slice(what);
        let jp = format!("jsonpath={path}");
        args.extend_from_slice(&["-o", &jp]);
        self.ok(&args).trim().to_string()
    }
}

#[test]
fn cluster_ips_and_node_ports_are_allocated_and_released() {
    if !kubectl_present() {
        return;
    }
    let s = start();
    // The kubernetes Service: the first address, its endpoints naming the server, its ServiceCIDR.
    let k = s.jsonpath(
        &["svc", "kubernetes"],
        "{.spec.clusterIP} {.spec.ports[0].port}",
    );
    assert_eq!(k, "10.100.0.1 443");
    assert!(s.ok(&["get", "ep", "kubernetes"]).contains("127.0.0.1:"));
    assert_eq!(
        s.jsonpath(
            &["endpointslice", "kubernetes"],
            "{.endpoints[0].addresses[0]}"
        ),
        "127.0.0.1"
    );
    let cidrs = s.ok(&["get", "servicecidrs"]);
    assert!(
        cidrs.contains("CIDRS") && cidrs.contains("10.100.0.0/24"),
        "{cidrs}"
    );
    let ips = s.ok(&["get", "ipaddresses"]);
    assert!(
        ips.contains("PARENTREF") && ips.contains("services/default/kubernetes"),
        "{ips}"
    );

    // A ClusterIP from the dynamic band (past the 16-address static band), as an IPAddress.
    s.ok(&["create", "svc", "clusterip", "web", "--tcp=80:8080"]);
    let ip = s.jsonpath(&["svc", "web"], "{.spec.clusterIP}");
    let last: u32 = ip.rsplit('.').next().unwrap().parse().unwrap();
    assert!(ip.starts_with("10.100.0.") && last > 16, "{ip}");
    assert_eq!(
        s.jsonpath(
            &["svc", "web"],
            "{.spec.clusterIPs[0]} {.spec.ipFamilyPolicy}"
        ),
        format!("{ip} SingleStack")
    );
    assert_eq!(
        s.jsonpath(
            &["ipaddress", &ip],
            "{.spec.parentRef.resource}/{.spec.parentRef.namespace}/{.spec.parentRef.name}"
        ),
        "services/default/web"
    );
    assert!(s
        .jsonpath(&["svc", "web"], "{.spec.ports[0].nodePort}")
        .is_empty());
    // Re-applying the manifest without the address keeps it.
    let manifest = "apiVersion: v1\nkind: Service\nmetadata: {name: web}\nspec:\n  selector: {app: web}\n  ports: [{port: 80, targetPort: 8080}]\n";
    let (ok, out) = s.apply(manifest);
    assert!(ok, "{out}");
    assert_eq!(s.jsonpath(&["svc", "web"], "{.spec.clusterIP}"), ip);
    // The address never changes.
    let out = s.fails(&[
        "patch",
        "svc",
        "web",
        "-p",
        r#"{"spec":{"clusterIP":"10.100.0.5","clusterIPs":["10.100.0.5"]}}"#,
    ]);
    assert!(
        out.contains("spec.clusterIPs[0]") && out.contains("may not change once set"),
        "{out}"
    );

    // A requested address: taken, outside the range, or fine.
    let before = s.ipaddresses();
    let out = s.fails(&[
        "create",
        "svc",
        "clusterip",
        "dup",
        "--tcp=80",
        &format!("--clusterip={ip}"),
    ]);
    assert!(
        out.contains("spec.clusterIPs") && out.contains("provided IP is already allocated"),
        "{out}"
    );
    let out = s.fails(&[
        "create",
        "svc",
        "clusterip",
        "far",
        "--tcp=80",
        "--clusterip=192.168.7.7",
    ]);
    assert!(
        out.contains("spec.clusterIPs")
            && out.contains("not in the valid range")
            && out.contains("10.100.0.0/24"),
        "{out}"
    );
    let out = s.fails(&["create", "svc", "clusterip", "zero", "--tcp=0"]);
    assert!(out.contains("spec.ports[0].port"), "{out}");
    assert_eq!(
        s.ipaddresses(),
        before,
        "a refused Service allocates nothing"
    );
    s.ok(&[
        "create",
        "svc",
        "clusterip",
        "dns",
        "--tcp=53",
        "--clusterip=10.100.0.10",
    ]);

    // NodePorts: random in range, requested, taken, out of range; a headless Service has no IP.
    s.ok(&["create", "svc", "nodeport", "np", "--tcp=80:8080"]);
    let port: i32 = s
        .jsonpath(&["svc", "np"], "{.spec.ports[0].nodePort}")
        .parse()
        .unwrap();
    assert!((30000..=30009).contains(&port), "{port}");
    // A port the random pick did not take (the range is 10 ports: all in the static band).
    let fixed = if port == 30009 { 30008 } else { 30009 };
    let fixed_flag = format!("--node-port={fixed}");
    s.ok(&[
        "create",
        "svc",
        "nodeport",
        "fixed",
        "--tcp=81:8080",
        &fixed_flag,
    ]);
    let count = s.ipaddresses().len();
    let out = s.fails(&[
        "create",
        "svc",
        "nodeport",
        "clash",
        "--tcp=82:8080",
        &fixed_flag,
    ]);
    assert!(
        out.contains("spec.ports[0].nodePort")
            && out.contains("provided port is already allocated"),
        "{out}"
    );
    let out = s.fails(&[
        "create",
        "svc",
        "nodeport",
        "low",
        "--tcp=82:8080",
        "--node-port=80",
    ]);
    assert!(
        out.contains("spec.ports[0].nodePort") && out.contains("30000-30009"),
        "{out}"
    );
    assert_eq!(
        s.ipaddresses().len(),
        count,
        "refused NodePort Services hold no address"
    );
    s.ok(&["create", "svc", "clusterip", "headless", "--clusterip=None"]);
    assert_eq!(
        s.jsonpath(
            &["svc", "headless"],
            "{.spec.clusterIP} {.spec.clusterIPs[0]}"
        ),
        "None None"
    );
    assert_eq!(s.ipaddresses().len(), count);

    // Going back to ClusterIP releases the port: another Service may take it.
    s.ok(&[
        "patch",
        "svc",
        "fixed",
        "-p",
        r#"{"spec":{"type":"ClusterIP"}}"#,
    ]);
    assert!(s
        .jsonpath(&["svc", "fixed"], "{.spec.ports[0].nodePort}")
        .is_empty());
    s.ok(&[
        "create",
        "svc",
        "nodeport",
        "taker",
        "--tcp=83:8080",
        &fixed_flag,
    ]);
    // LoadBalancer Services get NodePorts too; ExternalName Services no address.
    s.ok(&["create", "svc", "loadbalancer", "lb", "--tcp=84:8080"]);
    assert!(!s
        .jsonpath(&["svc", "lb"], "{.spec.ports[0].nodePort}")
        .is_empty());
    assert!(s.ok(&["get", "svc", "lb"]).contains("<pending>"));
    s.ok(&[
        "create",
        "svc",
        "externalname",
        "ext",
        "--external-name=example.com",
    ]);
    assert!(s.jsonpath(&["svc", "ext"], "{.spec.clusterIP}").is_empty());
    assert!(s.ok(&["get", "svc", "ext"]).contains("example.com"));

    // Delete releases: the address and the port are free again.
    s.ok(&["delete", "svc", "web", "np"]);
    assert!(!s.ipaddresses().contains(&ip));
    s.ok(&[
        "create",
        "svc",
        "clusterip",
        "again",
        "--tcp=80",
        &format!("--clusterip={ip}"),
    ]);
    s.ok(&[
        "create",
        "svc",
        "nodeport",
        "np2",
        "--tcp=80:8080",
        &format!("--node-port={port}"),
    ]);
    // Dry runs allocate nothing.
    let before = s.ipaddresses();
    s.ok(&[
        "create",
        "svc",
        "clusterip",
        "dry",
        "--tcp=80",
        "--dry-run=server",
    ]);
    assert_eq!(s.ipaddresses(), before);
}

#[test]
fn the_repair_loop_restores_missing_records() {
    if !kubectl_present() {
        return;
    }
    let s = start();
    let file = s.dir.path().join("gen.yaml");
    std::fs::write(&file, "apiVersion: v1\nkind: Service\nmetadata: {generateName: gen-}\nspec:\n  ports: [{port: 80}]\n").unwrap();
    let name = s.ok(&[
        "create",
        "-f",
        file.to_str().unwrap(),
        "-o",
        "jsonpath={.metadata.name}",
    ]);
    assert!(name.starts_with("gen-"), "{name}");
    let ip = s.jsonpath(&["svc", &name], "{.spec.clusterIP}");
    assert_eq!(
        s.jsonpath(&["ipaddress", &ip], "{.spec.parentRef.name}"),
        name,
        "a generated name is known before the address is allocated"
    );
    // A lost record comes back.
    s.rt.block_on(async {
        s.client
            .delete(
                &IPAddress::api_resource(),
                None,
                &ip,
                &DeleteParams::default(),
            )
            .await
            .unwrap();
        let (released, restored) = s.server.repair_service_allocations().await.unwrap();
        assert_eq!((released, restored), (0, 1));
    });
    assert_eq!(
        s.jsonpath(&["ipaddress", &ip], "{.spec.parentRef.name}"),
        name
    );
}
