//! Services end to end on `skiff up` with real pods (the process runtime) and the real kubectl: a
//! ReplicaSet of web servers exposed with `kubectl expose`, its Endpoints and EndpointSlices following
//! readiness and scale, a selectorless Service whose hand-written Endpoints are mirrored into an
//! EndpointSlice and routed, the Service variables in a client pod's environment, and everything released
//! when the Service goes. Needs root (see `common`).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::{Duration, Instant};

use common::{can_run, Cluster};
use std::io::{Read, Write};
use std::net::TcpStream;

/// GET `path` from `addr` over plain HTTP/1.0: the body, or the I/O error.
fn get(addr: &str, path: &str) -> std::io::Result<String> {
    let mut s = TcpStream::connect_timeout(&addr.parse().unwrap(), Duration::from_secs(3))?;
    s.set_read_timeout(Some(Duration::from_secs(5)))?;
    write!(s, "GET {path} HTTP/1.0\r\n\r\n")?;
    let mut out = String::new();
    s.read_to_string(&mut out)?;
    Ok(out
        .split("\r\n\r\n")
        .nth(1)
        .unwrap_or("")
        .trim()
        .to_string())
}

/// Asks `server` (UDP) for `name`/`qtype`: the response code and the answers' data as text.
fn dns(server: &str, name: &str, qtype: hickory_proto::rr::RecordType) -> (String, Vec<String>) {
    use hickory_proto::op::{Message, MessageType, OpCode, Query};
    use hickory_proto::rr::Name;
    let mut q = Message::new(4242, MessageType::Query, OpCode::Query);
    q.metadata.recursion_desired = true;
    q.add_query(Query::query(Name::from_ascii(name).unwrap(), qtype));
    let socket = std::net::UdpSocket::bind("0.0.0.0:0").unwrap();
    socket
        .set_read_timeout(Some(Duration::from_secs(3)))
        .unwrap();
    socket.send_to(&q.to_vec().unwrap(), server).unwrap();
    let mut buf = vec![0u8; 4096];
    let n = socket.recv(&mut buf).unwrap();
    let reply = Message::from_vec(&buf[..n]).unwrap();
    let mut answers: Vec<String> = reply.answers.iter().map(|r| r.data.to_string()).collect();
    answers.sort();
    (format!("{:?}", reply.metadata.response_code), answers)
}

/// The pods that answer `n` requests to `addr`.
fn answering(addr: &str, n: usize) -> Vec<String> {
    let mut names: Vec<String> = (0..n).filter_map(|_| get(addr, "/name").ok()).collect();
    names.sort();
    names.dedup();
    names
}

const RS: &str = r#"
apiVersion: apps/v1
kind: ReplicaSet
metadata: {name: web}
spec:
  replicas: 3
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      terminationGracePeriodSeconds: 1
      containers:
      - name: web
        image: python3
        # Each pod serves its own directory: /name says which pod answered; /ready is the
        # shared readiness switch.
        command: ["sh", "-c", "d=DIR/$POD; mkdir -p $d && echo $POD > $d/name && ln -sf DIR/ready $d/ready && cd $d && exec python3 -m http.server 8080"]
        env:
        - name: POD
          valueFrom: {fieldRef: {fieldPath: metadata.name}}
        ports: [{name: http, containerPort: 8080}]
        readinessProbe: {httpGet: {path: /ready, port: http}, periodSeconds: 1, failureThreshold: 1}
"#;

const CLIENT: &str = r#"
apiVersion: v1
kind: Pod
metadata: {name: client}
spec:
  containers:
  - name: main
    image: sleep
    command: ["sleep", "600"]
"#;

fn eventually(what: &str, mut f: impl FnMut() -> Result<(), String>) {
    let deadline = Instant::now() + Duration::from_secs(40);
    loop {
        match f() {
            Ok(()) => return,
            Err(state) if Instant::now() > deadline => {
                panic!("timed out waiting for {what}: {state}")
            }
            Err(_) => std::thread::sleep(Duration::from_millis(200)),
        }
    }
}

fn ok(c: &Cluster, args: &[&str]) -> String {
    let (ok, out) = c.kubectl(args);
    assert!(ok, "kubectl {args:?} failed:\n{out}");
    out.trim().to_string()
}

fn words(c: &Cluster, args: &[&str]) -> Vec<String> {
    let mut v: Vec<String> = ok(c, args).split_whitespace().map(str::to_string).collect();
    v.sort();
    v
}

/// (ready, not ready) addresses of the Endpoints, and the slices' endpoints by readiness.
fn addresses(c: &Cluster) -> (Vec<String>, Vec<String>, Vec<String>, Vec<String>) {
    let ready = words(
        c,
        &[
            "get",
            "ep",
            "web",
            "-o",
            "jsonpath={.subsets[*].addresses[*].ip}",
        ],
    );
    let unready = words(
        c,
        &[
            "get",
            "ep",
            "web",
            "-o",
            "jsonpath={.subsets[*].notReadyAddresses[*].ip}",
        ],
    );
    let slices = "jsonpath={range .items[*].endpoints[*]}{.addresses[0]}={.conditions.ready} {end}";
    let all = words(
        c,
        &[
            "get",
            "endpointslices",
            "-l",
            "kubernetes.io/service-name=web",
            "-o",
            slices,
        ],
    );
    let (r, u): (Vec<String>, Vec<String>) = all.into_iter().partition(|e| e.ends_with("=true"));
    let strip = |v: Vec<String>| -> Vec<String> {
        v.into_iter()
            .map(|e| e.split('=').next().unwrap().to_string())
            .collect()
    };
    (ready, unready, strip(r), strip(u))
}

/// The host's search domains, as the pods' resolv.conf appends them (with a leading space).
fn host_search() -> String {
    let host = std::fs::read_to_string("/etc/resolv.conf").unwrap_or_default();
    host.lines()
        .rev()
        .filter_map(|l| {
            l.strip_prefix("search ")
                .or_else(|| l.strip_prefix("domain "))
        })
        .next()
        .map(|s| format!(" {}", s.split_whitespace().collect::<Vec<_>>().join(" ")))
        .unwrap_or_default()
}

fn pod_ips(c: &Cluster) -> Vec<String> {
    words(
        c,
        &[
            "get",
            "pods",
            "-l",
            "app=web",
            "--field-selector=status.phase=Running",
            "-o",
            "jsonpath={.items[*].status.podIP}",
        ],
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn services_through_the_userspace_proxy() {
    suite("userspace", 97).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn services_through_the_nftables_proxy() {
    suite("nftables", 98).await;
}

/// Whether `ip` is an address of this host (on lo, where the userspace proxy holds ClusterIPs).
fn is_local(ip: &str) -> bool {
    let out = std::process::Command::new("ip")
        .args(["-o", "addr", "show", "dev", "lo"])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).contains(&format!(" {ip}/32"))
}

/// The nftables table of `c`'s proxy, as `nft` lists it (empty when there is none).
fn nft_table(c: &Cluster) -> String {
    let out = std::process::Command::new("nft")
        .args(["list", "table", "ip", &format!("skiff-proxy-{}", c.node)])
        .output()
        .expect("nft");
    String::from_utf8_lossy(&out.stdout).to_string()
}

/// The whole story on one cluster whose proxy runs in `mode`, with the Service range 10.`net`.0.0/16.
async fn suite(mode: &str, net: u8) {
    if !can_run() {
        return;
    }
    let range = format!("10.{net}.0.0/16");
    let c = Cluster::start_with(
        &format!("services-{mode}"),
        "",
        &["--service-cluster-ip-range", &range, "--proxy-mode", mode],
    );
    let www = c.dir.join("www");
    std::fs::create_dir_all(&www).unwrap();
    std::fs::write(www.join("ready"), "ok").unwrap();
    let file = c.dir.join("rs.yaml");
    std::fs::write(&file, RS.replace("DIR", www.to_str().unwrap())).unwrap();
    ok(&c, &["apply", "-f", file.to_str().unwrap()]);
    ok(
        &c,
        &[
            "expose",
            "rs",
            "web",
            "--port",
            "80",
            "--target-port",
            "http",
        ],
    );
    let ip = ok(
        &c,
        &["get", "svc", "web", "-o", "jsonpath={.spec.clusterIP}"],
    );
    assert!(ip.starts_with(&format!("10.{net}.")), "{ip}");

    // Three ready pods: three ready addresses, port 8080 resolved from the name.
    eventually("3 ready endpoints", || {
        let (ready, _, slice_ready, _) = addresses(&c);
        let ips = pod_ips(&c);
        if ips.len() == 3 && ready == ips && slice_ready == ips {
            Ok(())
        } else {
            Err(format!(
                "pods {ips:?}, endpoints {ready:?}, slices {slice_ready:?}"
            ))
        }
    });
    let ports = ok(
        &c,
        &[
            "get",
            "endpointslices",
            "-l",
            "kubernetes.io/service-name=web",
            "-o",
            "jsonpath={.items[*].ports[*].port}",
        ],
    );
    assert_eq!(ports, "8080");
    // Traffic: from the host to the ClusterIP, spread over all three pods; and from a pod.
    let pods = words(
        &c,
        &[
            "get",
            "pods",
            "-l",
            "app=web",
            "-o",
            "jsonpath={.items[*].metadata.name}",
        ],
    );
    let vip = format!("{ip}:80");
    eventually("all three pods answer through the ClusterIP", || {
        let names = answering(&vip, 30);
        if names == pods {
            Ok(())
        } else {
            Err(format!("{names:?} of {pods:?}"))
        }
    });
    // The data path: in nftables mode the kernel translates (the ClusterIP is no local address and
    // the table maps it to the chain that picks one of 3 endpoints, which are the pods at 8080); in
    // userspace mode it is an address on lo.
    if mode == "nftables" {
        assert!(!is_local(&ip), "{ip} must not be local in nftables mode");
        let table = nft_table(&c);
        assert!(
            table.contains(&format!("{ip} . tcp . 80 : goto pick-tcp-3")),
            "{table}"
        );
        // Indexed in address order.
        let mut sorted: Vec<std::net::Ipv4Addr> =
            pod_ips(&c).iter().map(|p| p.parse().unwrap()).collect();
        sorted.sort();
        for (i, pod_ip) in sorted.iter().enumerate() {
            assert!(
                table.contains(&format!("{ip} . 80 . {i} : {pod_ip} . 8080")),
                "{i}: {pod_ip}: {table}"
            );
        }
    } else {
        assert!(is_local(&ip), "{ip} is held on lo in userspace mode");
    }
    // A Service without a selector and the Endpoints its user writes: mirrored into an
    // EndpointSlice by the mirroring controller, which the proxy routes like any other.
    let ips = pod_ips(&c);
    let (only, other) = (&ips[0], &ips[1]);
    let only_name = get(&format!("{only}:8080"), "/name").unwrap();
    let manual = c.dir.join("manual.yaml");
    std::fs::write(
        &manual,
        format!(
            r#"
apiVersion: v1
kind: Service
metadata: {{name: ext}}
spec:
  ports: [{{port: 80, targetPort: 8080}}]
---
apiVersion: v1
kind: Endpoints
metadata: {{name: ext, labels: {{team: data}}}}
subsets:
- addresses: [{{ip: {only}}}]
  notReadyAddresses: [{{ip: {other}}}]
  ports: [{{port: 8080}}]
"#
        ),
    )
    .unwrap();
    ok(&c, &["apply", "-f", manual.to_str().unwrap()]);
    let mut want = [format!("{only}=true"), format!("{other}=false")];
    want.sort();
    let want = format!(
        "endpointslicemirroring-controller.k8s.io data Endpoints {}",
        want.join(" ")
    );
    let mirrored = [
        "get",
        "endpointslices",
        "-l",
        "kubernetes.io/service-name=ext",
        "-o",
        "jsonpath={range .items[*]}{.metadata.labels.endpointslice\\.kubernetes\\.io/managed-by} {.metadata.labels.team} {.metadata.ownerReferences[0].kind}{range .endpoints[*]} {.addresses[0]}={.conditions.ready}{end}{end}",
    ];
    eventually("the mirrored slice", || {
        let got = ok(&c, &mirrored);
        if got == want {
            Ok(())
        } else {
            Err(format!("{got:?}, want {want:?}"))
        }
    });
    let ext = ok(
        &c,
        &["get", "svc", "ext", "-o", "jsonpath={.spec.clusterIP}"],
    );
    let ext_vip = format!("{ext}:80");
    eventually("the mirrored endpoint answers (only the ready one)", || {
        let names = answering(&ext_vip, 10);
        if names == [only_name.clone()] {
            Ok(())
        } else {
            Err(format!("{names:?}"))
        }
    });
    ok(&c, &["delete", "endpoints", "ext"]);
    eventually("the mirrored slice gone with its Endpoints", || {
        let got = ok(&c, &mirrored);
        if got.is_empty() {
            Ok(())
        } else {
            Err(got)
        }
    });
    ok(&c, &["delete", "svc", "ext"]);

    // UDP: a client keeping its source port follows the Service when its endpoint leaves (the
    // proxy forgets the stale flow: conntrack entries in nftables mode, the relay's flow in
    // userspace mode), instead of talking to the gone endpoint until the flow idles out.
    let echo = c.dir.join("echo");
    std::fs::create_dir_all(&echo).unwrap();
    let mut manifest = String::from(
        "apiVersion: v1\nkind: Service\nmetadata: {name: echo}\nspec:\n  selector: {app: echo}\n  ports: [{port: 5300, protocol: UDP}]\n",
    );
    for name in ["echo-a", "echo-b"] {
        std::fs::write(echo.join(name), "ready").unwrap();
        manifest.push_str(&format!(
            r#"---
apiVersion: v1
kind: Pod
metadata: {{name: {name}, labels: {{app: echo}}}}
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: echo
    image: python3
    command: ["python3", "-c", "import socket\ns = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\ns.bind(('', 5300))\nwhile True:\n  d, a = s.recvfrom(100)\n  s.sendto(b'{name}', a)"]
    readinessProbe: {{exec: {{command: [test, -e, {dir}/{name}]}}, periodSeconds: 1, failureThreshold: 1}}
"#,
            dir = echo.display()
        ));
    }
    let file = c.dir.join("echo.yaml");
    std::fs::write(&file, manifest).unwrap();
    ok(&c, &["apply", "-f", file.to_str().unwrap()]);
    let ready_echoes = || {
        words(
            &c,
            &[
                "get",
                "endpointslices",
                "-l",
                "kubernetes.io/service-name=echo",
                "-o",
                "jsonpath={range .items[*].endpoints[?(@.conditions.ready==true)]}{.targetRef.name} {end}",
            ],
        )
    };
    eventually("two ready UDP endpoints", || match ready_echoes() {
        r if r.len() == 2 => Ok(()),
        r => Err(format!("{r:?}")),
    });
    let echo_ip = ok(
        &c,
        &["get", "svc", "echo", "-o", "jsonpath={.spec.clusterIP}"],
    );
    let client = std::net::UdpSocket::bind("0.0.0.0:0").unwrap();
    client
        .set_read_timeout(Some(Duration::from_millis(500)))
        .unwrap();
    let ask = || -> Result<String, String> {
        client
            .send_to(b"who", format!("{echo_ip}:5300"))
            .map_err(|e| e.to_string())?;
        let mut buf = [0u8; 100];
        let (n, _) = client.recv_from(&mut buf).map_err(|e| e.to_string())?;
        Ok(String::from_utf8_lossy(&buf[..n]).into_owned())
    };
    let mut first = String::new();
    eventually("a UDP answer through the ClusterIP", || {
        first = ask()?;
        Ok(())
    });
    let other = if first == "echo-a" {
        "echo-b"
    } else {
        "echo-a"
    };
    // The same flow keeps its endpoint while it is ready...
    for _ in 0..5 {
        assert_eq!(ask().unwrap(), first, "one flow, one endpoint");
    }
    // ... and moves when it is not.
    std::fs::remove_file(echo.join(&first)).unwrap();
    eventually("the answering endpoint not ready", || {
        match ready_echoes() {
            r if r == [other.to_string()] => Ok(()),
            r => Err(format!("{r:?}")),
        }
    });
    eventually(
        "the same UDP flow answered by the other endpoint",
        || match ask() {
            Ok(name) if name == other => Ok(()),
            got => Err(format!("{got:?}")),
        },
    );
    ok(
        &c,
        &["delete", "-f", file.to_str().unwrap(), "--wait=false"],
    );

    let described = ok(&c, &["describe", "svc", "web"]);
    assert!(
        described.contains("Endpoints:") && described.contains(":8080"),
        "{described}"
    );
    let wide = ok(&c, &["get", "endpointslices", "-o", "wide"]);
    assert!(
        wide.contains("ADDRESSTYPE") && wide.contains("IPv4"),
        "{wide}"
    );

    // The client pod sees the Service (and the kubernetes Service) in its environment.
    c.create(CLIENT).await;
    c.wait_for("client", "running", |p| common::is_running(p, "main"))
        .await;
    let env = ok(&c, &["exec", "client", "--", "env"]);
    assert!(env.contains(&format!("WEB_SERVICE_HOST={ip}")), "{env}");
    assert!(env.contains("WEB_SERVICE_PORT=80"), "{env}");
    assert!(env.contains(&format!("WEB_PORT=tcp://{ip}:80")), "{env}");
    assert!(env.contains(&format!("WEB_PORT_80_TCP_ADDR={ip}")), "{env}");
    assert!(
        env.contains(&format!("KUBERNETES_SERVICE_HOST=10.{net}.0.1")),
        "{env}"
    );
    assert!(env.contains("KUBERNETES_SERVICE_PORT_HTTPS=443"), "{env}");
    // Cluster DNS from the pod: resolv.conf, the Service by its full and its short name.
    let resolv = ok(&c, &["exec", "client", "--", "cat", "/etc/resolv.conf"]);
    assert_eq!(
        resolv,
        format!("nameserver 10.{net}.0.10\nsearch default.svc.cluster.local svc.cluster.local cluster.local{}\noptions ndots:5", host_search()),
        "{resolv}"
    );
    let full = ok(
        &c,
        &[
            "exec",
            "client",
            "--",
            "getent",
            "hosts",
            "web.default.svc.cluster.local",
        ],
    );
    assert!(full.starts_with(&format!("{ip} ")), "{full}");
    let short = ok(&c, &["exec", "client", "--", "getent", "hosts", "web"]);
    assert!(short.starts_with(&format!("{ip} ")), "{short}");
    let by_name = ok(
        &c,
        &[
            "exec",
            "client",
            "--",
            "curl",
            "-s",
            "-m",
            "5",
            "http://web/name",
        ],
    );
    assert!(pods.contains(&by_name), "{by_name} of {pods:?}");
    let from_pod = ok(
        &c,
        &[
            "exec",
            "client",
            "--",
            "curl",
            "-s",
            "-m",
            "5",
            &format!("http://{ip}/name"),
        ],
    );
    assert!(pods.contains(&from_pod), "{from_pod} of {pods:?}");

    // A pod reaching itself through its own Service (hairpin): every request answered.
    for _ in 0..9 {
        let me = ok(
            &c,
            &[
                "exec",
                &pods[0],
                "--",
                "curl",
                "-s",
                "-m",
                "5",
                &format!("http://{ip}/name"),
            ],
        );
        assert!(pods.contains(&me), "hairpin from {}: {me:?}", pods[0]);
    }

    // Readiness fails: the addresses move to notReadyAddresses and ready=false; then back.
    std::fs::remove_file(www.join("ready")).unwrap();
    eventually("3 unready endpoints", || {
        let (ready, unready, slice_ready, slice_unready) = addresses(&c);
        if ready.is_empty()
            && unready.len() == 3
            && slice_ready.is_empty()
            && slice_unready.len() == 3
        {
            Ok(())
        } else {
            Err(format!(
                "{ready:?} {unready:?} {slice_ready:?} {slice_unready:?}"
            ))
        }
    });
    // Nobody is ready: a connection is refused or reset, not left hanging.
    let refused = get(&vip, "/name");
    assert!(
        refused.as_ref().is_err_and(|e| matches!(
            e.kind(),
            std::io::ErrorKind::ConnectionReset | std::io::ErrorKind::ConnectionRefused
        )) || refused.as_ref().is_ok_and(|body| body.is_empty()),
        "{refused:?}"
    );
    std::fs::write(www.join("ready"), "ok").unwrap();
    eventually("ready again", || {
        let (ready, unready, _, _) = addresses(&c);
        if ready.len() == 3 && unready.is_empty() {
            Ok(())
        } else {
            Err(format!("{ready:?} {unready:?}"))
        }
    });

    // Scale to 5, then to 1: the endpoints follow.
    for n in [5usize, 1] {
        ok(&c, &["scale", "rs", "web", &format!("--replicas={n}")]);
        eventually(&format!("{n} endpoints"), || {
            let (ready, _, slice_ready, slice_unready) = addresses(&c);
            let ips = pod_ips(&c);
            if ips.len() == n && ready == ips && slice_ready == ips {
                Ok(())
            } else {
                Err(format!(
                    "pods {ips:?}, endpoints {ready:?}, slices {slice_ready:?} + {slice_unready:?}"
                ))
            }
        });
    }

    // DNS records from the host, through the kube-dns ClusterIP: A, SRV for a named port, a headless
    // Service's ready endpoints, ExternalName as CNAME, PTR, NXDOMAIN, and names outside the cluster.
    use hickory_proto::rr::RecordType;
    let server = &format!("10.{net}.0.10:53");
    assert_eq!(
        dns(server, "web.default.svc.cluster.local.", RecordType::A),
        ("NoError".into(), vec![ip.clone()])
    );
    assert_eq!(
        dns(server, "nope.default.svc.cluster.local.", RecordType::A).0,
        "NXDomain"
    );
    ok(
        &c,
        &[
            "create",
            "svc",
            "clusterip",
            "peers",
            "--clusterip=None",
            "--tcp=8080:8080",
        ],
    );
    ok(
        &c,
        &[
            "patch",
            "svc",
            "peers",
            "-p",
            r#"{"spec":{"selector":{"app":"web"},"ports":[{"name":"http","port":8080,"targetPort":8080}]}}"#,
        ],
    );
    ok(
        &c,
        &[
            "create",
            "svc",
            "externalname",
            "ext",
            "--external-name=example.com",
        ],
    );
    let all = pod_ips(&c);
    eventually("the headless Service's endpoints in DNS", || {
        let got = dns(server, "peers.default.svc.cluster.local.", RecordType::A);
        if got == ("NoError".into(), all.clone()) {
            Ok(())
        } else {
            Err(format!("{got:?}"))
        }
    });
    let srv = dns(
        server,
        "_http._tcp.peers.default.svc.cluster.local.",
        RecordType::SRV,
    )
    .1;
    assert_eq!(srv.len(), all.len(), "{srv:?}");
    assert!(
        srv.iter()
            .all(|r| r.contains(" 8080 ") && r.ends_with(".peers.default.svc.cluster.local.")),
        "{srv:?}"
    );
    assert_eq!(
        dns(server, "ext.default.svc.cluster.local.", RecordType::A).1,
        vec!["example.com.".to_string()]
    );
    let octets: Vec<&str> = ip.split('.').rev().collect();
    assert_eq!(
        dns(
            server,
            &format!("{}.in-addr.arpa.", octets.join(".")),
            RecordType::PTR
        )
        .1,
        vec!["web.default.svc.cluster.local.".to_string()]
    );
    let (code, _) = dns(server, "dns-version.cluster.local.", RecordType::TXT);
    assert_eq!(code, "NoError");

    // A NodePort on the node's address.
    ok(
        &c,
        &["create", "svc", "nodeport", "web-np", "--tcp=8081:8080"],
    );
    ok(
        &c,
        &[
            "patch",
            "svc",
            "web-np",
            "-p",
            r#"{"spec":{"selector":{"app":"web"}}}"#,
        ],
    );
    let node_port = ok(
        &c,
        &[
            "get",
            "svc",
            "web-np",
            "-o",
            "jsonpath={.spec.ports[0].nodePort}",
        ],
    );
    let node_ip = ok(
        &c,
        &[
            "get",
            "node",
            &c.node,
            "-o",
            "jsonpath={.status.addresses[0].address}",
        ],
    );
    eventually("the NodePort answers", || {
        get(&format!("{node_ip}:{node_port}"), "/name")
            .map(|_| ())
            .map_err(|e| e.to_string())
    });

    // A LoadBalancer: the node's address as its ingress (as k3s's ServiceLB), served at the port.
    ok(
        &c,
        &["create", "svc", "loadbalancer", "web-lb", "--tcp=8082:8080"],
    );
    ok(
        &c,
        &[
            "patch",
            "svc",
            "web-lb",
            "-p",
            r#"{"spec":{"selector":{"app":"web"}}}"#,
        ],
    );
    eventually("the LoadBalancer's ingress is the node", || {
        let got = ok(
            &c,
            &[
                "get",
                "svc",
                "web-lb",
                "-o",
                "jsonpath={.status.loadBalancer.ingress[*].ip}",
            ],
        );
        if got == node_ip {
            Ok(())
        } else {
            Err(got)
        }
    });
    let row = ok(&c, &["get", "svc", "web-lb", "--no-headers"]);
    assert!(row.contains(&node_ip), "EXTERNAL-IP column: {row}");
    eventually("the LoadBalancer answers at its port", || {
        get(&format!("{node_ip}:8082"), "/name")
            .map_err(|e| e.to_string())
            .and_then(|b| {
                if b.starts_with("web-") {
                    Ok(())
                } else {
                    Err(b)
                }
            })
    });

    // Deleting the Service: its address is released, its listener closed, its Endpoints and slices go.
    ok(&c, &["delete", "svc", "web"]);
    assert!(!ok(&c, &["get", "ipaddresses", "-o", "name"]).contains(&ip));
    eventually("endpoints and slices gone", || {
        let eps = ok(&c, &["get", "ep", "-o", "name"]);
        let slices = ok(
            &c,
            &[
                "get",
                "endpointslices",
                "-l",
                "kubernetes.io/service-name=web",
                "-o",
                "name",
            ],
        );
        if !eps.lines().any(|l| l == "endpoints/web") && slices.is_empty() {
            Ok(())
        } else {
            Err(format!("{eps} | {slices}"))
        }
    });
    // The proxy let go of the address: no pod answers there, and it is no longer local.
    eventually("the ClusterIP is released by the proxy", || {
        let local = is_local(&ip);
        let names = answering(&vip, 3);
        let ruled = mode == "nftables" && nft_table(&c).contains(&format!("{ip} . tcp"));
        if !local && !ruled && names.iter().all(|n| !pods.contains(n)) {
            Ok(())
        } else {
            Err(format!("local {local}, in the table {ruled}, {names:?}"))
        }
    });
    let mut c = c;
    assert!(c.terminate(), "skiff up did not stop on SIGTERM");
    // Stopped: nothing of the proxy is left (no table, no addresses, no forwarding rule).
    assert_eq!(nft_table(&c), "", "the proxy's table outlived it");
    let held = std::process::Command::new("ip")
        .args(["-o", "addr", "show", "dev", "lo", "label"])
        .arg(format!("lo:skiff-svc{}", c.subnet))
        .output()
        .unwrap();
    assert!(
        held.stdout.is_empty(),
        "the proxy's addresses outlived it: {held:?}"
    );
    let forward = std::process::Command::new("iptables")
        .args(["-S", "FORWARD"])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).to_string())
        .unwrap_or_default();
    assert!(
        !forward.contains(&format!("skiff skiff-proxy-{} services", c.node)),
        "{forward}"
    );
    c.stop().await;
}
