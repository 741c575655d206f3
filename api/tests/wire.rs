//! Wire fidelity: what official clients read byte for byte or field by field. Unknown paths are 404
//! with kube-apiserver's words; Status bodies match bytes written from kube-apiserver's documented
//! shapes (fixtures/); created objects carry the status kube-apiserver's strategies give them.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use skiff_core::codec::Scheme;

mod common;

struct Server {
    base: String,
    http: reqwest::Client,
    _served: common::Served,
}

async fn server() -> Server {
    let served = common::start().await;
    Server {
        base: served.url(),
        http: reqwest::Client::new(),
        _served: served,
    }
}

impl Server {
    /// Sends a request and returns the status and the body's bytes as text.
    async fn send(&self, method: Method, path: &str, body: Option<Value>) -> (StatusCode, String) {
        let mut req = self.http.request(method, format!("{}{path}", self.base));
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.unwrap();
        (resp.status(), resp.text().await.unwrap())
    }

    async fn json(&self, method: Method, path: &str, body: Option<Value>) -> (StatusCode, Value) {
        let (code, text) = self.send(method, path, body).await;
        let value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}"));
        (code, value)
    }
}

fn fixture(name: &str) -> String {
    let path = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn paths_nothing_serves_are_404_and_wrong_verbs_405() {
    let s = server().await;
    let rc =
        json!({"apiVersion": "v1", "kind": "ReplicationController", "metadata": {"name": "x"}});
    let no_route = fixture("status-no-route.json");
    for (method, path, body) in [
        // A kind Skiff does not serve, under a namespace: not a namespace subresource.
        (
            Method::POST,
            "/api/v1/namespaces/default/replicationcontrollers",
            Some(rc.clone()),
        ),
        (
            Method::GET,
            "/api/v1/namespaces/default/replicationcontrollers",
            None,
        ),
        (
            Method::GET,
            "/api/v1/namespaces/default/replicationcontrollers/x",
            None,
        ),
        (Method::POST, "/api/v1/replicationcontrollers", Some(rc)),
        (
            Method::GET,
            "/api/v1/namespaces/default/pods/web/widget",
            None,
        ),
        (Method::GET, "/api/v1/nodes/n1/proxy", None),
        (Method::GET, "/apis/nosuch.example.com/v1/things", None),
        (Method::GET, "/api/v2/pods", None),
        (Method::GET, "/nowhere", None),
    ] {
        let (code, text) = s.send(method.clone(), path, body).await;
        assert_eq!(code, StatusCode::NOT_FOUND, "{method} {path}: {text}");
        assert_eq!(text, no_route, "{method} {path}");
    }
    for (method, path) in [
        (Method::DELETE, "/api/v1/namespaces/default/pods/web/status"),
        (Method::GET, "/api/v1/namespaces/default/pods/web/binding"),
        (Method::PUT, "/api/v1/namespaces/default/pods"),
        (Method::POST, "/api/v1/namespaces/default/pods/web"),
    ] {
        let (code, body) = s.json(method.clone(), path, Some(json!({}))).await;
        assert_eq!(code, StatusCode::METHOD_NOT_ALLOWED, "{method} {path}");
        assert_eq!(body["reason"], "MethodNotAllowed");
        assert_eq!(
            body["message"],
            "the server does not allow this method on the requested resource"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_bodies_are_the_bytes_kube_apiserver_writes() {
    let s = server().await;
    let (code, text) = s
        .send(Method::GET, "/api/v1/namespaces/default/pods/grafana", None)
        .await;
    assert_eq!(code, StatusCode::NOT_FOUND);
    assert_eq!(text, fixture("status-not-found.json"));

    let (_, text) = s
        .send(
            Method::GET,
            "/apis/apps/v1/namespaces/default/replicasets/web",
            None,
        )
        .await;
    assert_eq!(text, fixture("status-not-found-apps.json"));

    let cm = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "settings"}});
    let path = "/api/v1/namespaces/default/configmaps";
    let (code, created) = s.json(Method::POST, path, Some(cm.clone())).await;
    assert_eq!(code, StatusCode::CREATED);
    let (code, text) = s.send(Method::POST, path, Some(cm)).await;
    assert_eq!(code, StatusCode::CONFLICT);
    assert_eq!(text, fixture("status-already-exists.json"));

    let mut stale = created.clone();
    stale["metadata"]["resourceVersion"] = json!("1");
    stale["data"] = json!({"k": "v"});
    let (code, text) = s
        .send(Method::PUT, &format!("{path}/settings"), Some(stale))
        .await;
    assert_eq!(code, StatusCode::CONFLICT);
    assert_eq!(text, fixture("status-conflict.json"));

    let pod = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "web"}, "spec": {"containers": []}});
    let (code, text) = s
        .send(Method::POST, "/api/v1/namespaces/default/pods", Some(pod))
        .await;
    assert_eq!(code, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(text, fixture("status-invalid.json"));
}

fn pod(name: &str, resources: Value) -> Value {
    json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
           "spec": {"containers": [{"name": "c", "image": "busybox", "resources": resources}]},
           // What a client sends as status is not what the server keeps.
           "status": {"phase": "Running", "podIP": "10.9.9.9"}})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn created_objects_carry_the_status_kube_apiserver_gives_them() {
    let s = server().await;
    let pods = "/api/v1/namespaces/default/pods";
    let limits = json!({"cpu": "500m", "memory": "64Mi"});
    for (name, resources, class) in [
        ("best", json!({}), "BestEffort"),
        ("burst", json!({"requests": {"cpu": "100m"}}), "Burstable"),
        // Requests default to the limits: Guaranteed.
        ("sure", json!({"limits": limits}), "Guaranteed"),
    ] {
        let (code, created) = s.json(Method::POST, pods, Some(pod(name, resources))).await;
        assert_eq!(code, StatusCode::CREATED, "{created}");
        assert_eq!(
            created["status"],
            json!({"phase": "Pending", "qosClass": class}),
            "{name}"
        );
        let (_, got) = s.json(Method::GET, &format!("{pods}/{name}"), None).await;
        assert_eq!(got["status"], created["status"]);
    }

    // A status update without qosClass keeps it (it is immutable); other fields are the writer's.
    let (_, mut p) = s.json(Method::GET, &format!("{pods}/sure"), None).await;
    p["status"] = json!({"phase": "Running", "podIP": "10.1.0.7"});
    let (code, updated) = s
        .json(Method::PUT, &format!("{pods}/sure/status"), Some(p))
        .await;
    assert_eq!(code, StatusCode::OK, "{updated}");
    assert_eq!(updated["status"]["qosClass"], "Guaranteed");
    assert_eq!(updated["status"]["phase"], "Running");
    let (code, patched) = s
        .json(Method::PATCH, &format!("{pods}/sure/status"), None)
        .await;
    assert_eq!(code, StatusCode::UNSUPPORTED_MEDIA_TYPE, "{patched}");
    let resp = s
        .http
        .patch(format!("{}{pods}/sure/status", s.base))
        .header("content-type", "application/merge-patch+json")
        .body(r#"{"status":{"qosClass":null,"podIP":"10.1.0.8"}}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let patched: Value = resp.json().await.unwrap();
    assert_eq!(patched["status"]["qosClass"], "Guaranteed");
    assert_eq!(patched["status"]["podIP"], "10.1.0.8");

    // Other kinds' create-time status.
    for (path, body, status) in [
        (
            "/api/v1/namespaces",
            json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "team"},
                   "status": {"phase": "Terminating"}}),
            json!({"phase": "Active"}),
        ),
        (
            "/api/v1/namespaces/default/services",
            json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web"},
                   "spec": {"ports": [{"port": 80}]},
                   "status": {"loadBalancer": {"ingress": [{"ip": "1.2.3.4"}]}}}),
            json!({"loadBalancer": {}}),
        ),
        (
            "/apis/apps/v1/namespaces/default/replicasets",
            json!({"apiVersion": "apps/v1", "kind": "ReplicaSet", "metadata": {"name": "web"},
                   "spec": {"replicas": 0, "selector": {"matchLabels": {"app": "web"}},
                            "template": {"metadata": {"labels": {"app": "web"}},
                                         "spec": {"containers": [{"name": "c", "image": "busybox"}]}}},
                   "status": {"replicas": 5}}),
            json!({"replicas": 0}),
        ),
        (
            // Node agents register with a status: it is kept.
            "/api/v1/nodes",
            json!({"apiVersion": "v1", "kind": "Node", "metadata": {"name": "n1"},
                   "status": {"capacity": {"cpu": "2"}, "allocatable": {"cpu": "2"}}}),
            json!({"capacity": {"cpu": "2"}, "allocatable": {"cpu": "2"}}),
        ),
    ] {
        let (code, created) = s.json(Method::POST, path, Some(body)).await;
        assert_eq!(code, StatusCode::CREATED, "{created}");
        assert_eq!(created["status"], status, "{path}");
    }
}

/// Sends `body` with a content type and returns the status and the JSON answer.
async fn send_typed(
    s: &Server,
    method: Method,
    path: &str,
    content_type: &str,
    body: &str,
) -> (StatusCode, Value) {
    let resp = s
        .http
        .request(method, format!("{}{path}", s.base))
        .header("content-type", content_type)
        .body(body.to_string())
        .send()
        .await
        .unwrap();
    let code = resp.status();
    (code, resp.json().await.unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dry_run_answers_every_write_and_stores_nothing() {
    let s = server().await;
    let cms = "/api/v1/namespaces/default/configmaps";
    let cm = |data: Value| json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "data": data});

    // Create: the whole answer (uid, creationTimestamp, managedFields), no resourceVersion, nothing stored.
    let (code, answered) = s
        .json(
            Method::POST,
            &format!("{cms}?dryRun=All"),
            Some(cm(json!({"k": "dry"}))),
        )
        .await;
    assert_eq!(code, StatusCode::CREATED, "{answered}");
    assert!(answered["metadata"]["uid"].is_string());
    assert!(answered["metadata"]["creationTimestamp"].is_string());
    assert_eq!(
        answered["metadata"]["managedFields"][0]["operation"],
        "Update"
    );
    assert!(answered["metadata"].get("resourceVersion").is_none());
    let (code, _) = s.json(Method::GET, &format!("{cms}/c"), None).await;
    assert_eq!(code, StatusCode::NOT_FOUND);
    // Admission and validation run: a bad object is refused as it would be.
    let (code, _) = s
        .json(
            Method::POST,
            &format!("{cms}?dryRun=All"),
            Some(
                json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "Bad_Name"}}),
            ),
        )
        .await;
    assert_eq!(code, StatusCode::UNPROCESSABLE_ENTITY);
    let (code, bad) = s
        .json(
            Method::POST,
            &format!("{cms}?dryRun=Some"),
            Some(cm(json!({}))),
        )
        .await;
    assert_eq!(code, StatusCode::BAD_REQUEST);
    assert!(bad["message"].as_str().unwrap().contains("dryRun"));

    let (_, stored) = s
        .json(Method::POST, cms, Some(cm(json!({"k": "real"}))))
        .await;
    let rv = stored["metadata"]["resourceVersion"].clone();
    // Create of an existing name: AlreadyExists, even dry.
    let (code, _) = s
        .json(
            Method::POST,
            &format!("{cms}?dryRun=All"),
            Some(cm(json!({}))),
        )
        .await;
    assert_eq!(code, StatusCode::CONFLICT);

    let one = format!("{cms}/c?dryRun=All");
    // Update, then every kind of patch: the changed object comes back, the stored one stays.
    let (code, put) = s
        .json(Method::PUT, &one, Some(cm(json!({"k": "put"}))))
        .await;
    assert_eq!((code, &put["data"]["k"]), (StatusCode::OK, &json!("put")));
    assert_eq!(put["metadata"]["resourceVersion"], rv);
    for (content_type, body, want) in [
        (
            "application/merge-patch+json",
            r#"{"data":{"k":"merge"}}"#,
            "merge",
        ),
        (
            "application/strategic-merge-patch+json",
            r#"{"data":{"k":"smp"}}"#,
            "smp",
        ),
        (
            "application/json-patch+json",
            r#"[{"op":"replace","path":"/data/k","value":"jsonpatch"}]"#,
            "jsonpatch",
        ),
    ] {
        let (code, patched) = send_typed(&s, Method::PATCH, &one, content_type, body).await;
        assert_eq!(code, StatusCode::OK, "{content_type}: {patched}");
        assert_eq!(patched["data"]["k"], want, "{content_type}");
    }
    let (code, applied) = send_typed(
        &s,
        Method::PATCH,
        &format!("{one}&fieldManager=me&force=true"),
        "application/apply-patch+yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\ndata: {k: applied}\n",
    )
    .await;
    assert_eq!(code, StatusCode::OK, "{applied}");
    assert_eq!(applied["data"]["k"], "applied");
    // Delete and deletecollection answer the object(s) and remove nothing.
    let (code, deleted) = s.json(Method::DELETE, &one, None).await;
    assert_eq!(code, StatusCode::OK, "{deleted}");
    assert_eq!(deleted["metadata"]["name"], "c");
    let (code, list) = s
        .json(Method::DELETE, &format!("{cms}?dryRun=All"), None)
        .await;
    assert_eq!(code, StatusCode::OK, "{list}");
    assert_eq!(list["items"].as_array().unwrap().len(), 1);
    let (_, after) = s.json(Method::GET, &format!("{cms}/c"), None).await;
    assert_eq!(after, stored, "the stored ConfigMap changed");

    // Subresources: status, scale and binding.
    let pods = "/api/v1/namespaces/default/pods";
    let (_, p) = s.json(Method::POST, pods, Some(pod("p", json!({})))).await;
    let mut running = p.clone();
    running["status"]["phase"] = json!("Running");
    let (code, st) = s
        .json(
            Method::PUT,
            &format!("{pods}/p/status?dryRun=All"),
            Some(running),
        )
        .await;
    assert_eq!(
        (code, &st["status"]["phase"]),
        (StatusCode::OK, &json!("Running"))
    );
    let (code, st) = send_typed(
        &s,
        Method::PATCH,
        &format!("{pods}/p/status?dryRun=All"),
        "application/merge-patch+json",
        r#"{"status":{"phase":"Failed"}}"#,
    )
    .await;
    assert_eq!(
        (code, &st["status"]["phase"]),
        (StatusCode::OK, &json!("Failed"))
    );
    let (code, _) = s
        .json(
            Method::POST,
            &format!("{pods}/p/binding?dryRun=All"),
            Some(
                json!({"apiVersion": "v1", "kind": "Binding", "metadata": {"name": "p"},
                        "target": {"kind": "Node", "name": "n1"}}),
            ),
        )
        .await;
    assert_eq!(code, StatusCode::CREATED);
    let (_, after) = s.json(Method::GET, &format!("{pods}/p"), None).await;
    assert_eq!(after, p, "the stored Pod changed");

    let rss = "/apis/apps/v1/namespaces/default/replicasets";
    let rs = json!({"apiVersion": "apps/v1", "kind": "ReplicaSet", "metadata": {"name": "web"},
                    "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "web"}},
                             "template": {"metadata": {"labels": {"app": "web"}},
                                          "spec": {"containers": [{"name": "c", "image": "busybox"}]}}}});
    let (code, dry_rs) = s
        .json(Method::POST, &format!("{rss}?dryRun=All"), Some(rs.clone()))
        .await;
    assert_eq!(code, StatusCode::CREATED, "{dry_rs}");
    let (_, stored_rs) = s.json(Method::POST, rss, Some(rs)).await;
    let (code, scale) = send_typed(
        &s,
        Method::PATCH,
        &format!("{rss}/web/scale?dryRun=All"),
        "application/merge-patch+json",
        r#"{"spec":{"replicas":5}}"#,
    )
    .await;
    assert_eq!(
        (code, &scale["spec"]["replicas"]),
        (StatusCode::OK, &json!(5))
    );
    let (_, after) = s.json(Method::GET, &format!("{rss}/web"), None).await;
    assert_eq!(after, stored_rs, "the stored ReplicaSet changed");
}

async fn get_accept(s: &Server, path: &str, accept: &str) -> (StatusCode, Value) {
    let resp = s
        .http
        .get(format!("{}{path}", s.base))
        .header("accept", accept)
        .send()
        .await
        .unwrap();
    let code = resp.status();
    (code, resp.json().await.unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metadata_only_forms_for_get_list_watch_and_patch() {
    const META: &str = "application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1";
    const META_LIST: &str = "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1";
    let s = server().await;
    let pods = "/api/v1/namespaces/default/pods";
    let (_, created) = s.json(Method::POST, pods, Some(pod("p", json!({})))).await;

    let (code, one) = get_accept(&s, &format!("{pods}/p"), META).await;
    assert_eq!(code, StatusCode::OK);
    assert_eq!(
        one,
        json!({"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1",
               "metadata": created["metadata"]})
    );
    let (code, list) = get_accept(&s, pods, META_LIST).await;
    assert_eq!(code, StatusCode::OK);
    assert_eq!(list["kind"], "PartialObjectMetadataList");
    assert_eq!(list["apiVersion"], "meta.k8s.io/v1");
    assert!(list["metadata"]["resourceVersion"].is_string());
    assert_eq!(list["items"][0]["kind"], "PartialObjectMetadata");
    assert_eq!(
        list["items"][0]["metadata"]["uid"],
        created["metadata"]["uid"]
    );
    assert!(list["items"][0].get("spec").is_none());
    // The list form for one object, and the object form for a list: 406.
    let (code, refused) = get_accept(&s, &format!("{pods}/p"), META_LIST).await;
    assert_eq!(code, StatusCode::NOT_ACCEPTABLE);
    assert_eq!(refused["reason"], "NotAcceptable");
    let (code, _) = get_accept(&s, pods, META).await;
    assert_eq!(code, StatusCode::NOT_ACCEPTABLE);
    // controller-runtime's metadata client offers both, then JSON.
    let (code, both) = get_accept(&s, pods, &format!("{META_LIST},{META},application/json")).await;
    assert_eq!(
        (code, &both["kind"]),
        (StatusCode::OK, &json!("PartialObjectMetadataList"))
    );

    // A patch answered as metadata (controller-runtime's metadata client patches labels this way).
    let resp = s
        .http
        .patch(format!("{}{pods}/p", s.base))
        .header("content-type", "application/merge-patch+json")
        .header("accept", META)
        .body(r#"{"metadata":{"labels":{"seen":"yes"}}}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let patched: Value = resp.json().await.unwrap();
    assert_eq!(patched["kind"], "PartialObjectMetadata");
    assert_eq!(patched["metadata"]["labels"]["seen"], "yes");
    assert!(patched.get("spec").is_none());

    // A watch: every event's object is metadata only, bookmarks included.
    let mut resp = s
        .http
        .get(format!(
            "{}{pods}?watch=true&resourceVersion=0&timeoutSeconds=1",
            s.base
        ))
        .header("accept", META)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let mut text = String::new();
    while let Some(chunk) = resp.chunk().await.unwrap() {
        text.push_str(std::str::from_utf8(&chunk).unwrap());
    }
    let events: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(events.len(), 1, "{text}");
    assert_eq!(events[0]["type"], "ADDED");
    assert_eq!(events[0]["object"]["kind"], "PartialObjectMetadata");
    assert_eq!(events[0]["object"]["metadata"]["labels"]["seen"], "yes");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_watch_by_name_from_zero_sends_added_then_every_modified_and_ends_at_its_timeout() {
    let s = server().await;
    let cms = "/api/v1/namespaces/default/configmaps";
    for name in ["watched", "other"] {
        let cm = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}});
        s.json(Method::POST, cms, Some(cm)).await;
    }
    let started = std::time::Instant::now();
    let mut resp = s
        .http
        .get(format!(
            "{}{cms}?watch=true&resourceVersion=0&fieldSelector=metadata.name%3Dwatched&timeoutSeconds=2",
            s.base
        ))
        .send()
        .await
        .unwrap();
    for (name, n) in [
        ("watched", "1"),
        ("other", "1"),
        ("watched", "2"),
        ("watched", "3"),
    ] {
        let patch = format!(r#"{{"data":{{"n":"{n}"}}}}"#);
        let (code, _) = send_typed(
            &s,
            Method::PATCH,
            &format!("{cms}/{name}"),
            "application/merge-patch+json",
            &patch,
        )
        .await;
        assert_eq!(code, StatusCode::OK);
    }
    let mut text = String::new();
    while let Some(chunk) = resp.chunk().await.unwrap() {
        text.push_str(std::str::from_utf8(&chunk).unwrap());
    }
    let seen: Vec<(String, String, String)> = text
        .lines()
        .map(|l| {
            let ev: Value = serde_json::from_str(l).unwrap();
            (
                ev["type"].as_str().unwrap().to_string(),
                ev["object"]["metadata"]["name"]
                    .as_str()
                    .unwrap()
                    .to_string(),
                ev["object"]["data"]["n"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect();
    let want: Vec<(String, String, String)> = [
        ("ADDED", ""),
        ("MODIFIED", "1"),
        ("MODIFIED", "2"),
        ("MODIFIED", "3"),
    ]
    .iter()
    .map(|(t, n)| (t.to_string(), "watched".to_string(), n.to_string()))
    .collect();
    assert_eq!(seen, want);
    // The stream ended cleanly (no error) at its deadline, not before.
    assert!(started.elapsed() >= std::time::Duration::from_millis(1900));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn field_selectors_are_the_ones_each_kind_supports() {
    let s = server().await;
    let names = |list: &Value| -> Vec<String> {
        list["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["metadata"]["name"].as_str().unwrap().to_string())
            .collect()
    };
    for (name, spec) in [
        ("plain", json!({})),
        ("cordoned", json!({"unschedulable": true})),
    ] {
        let node =
            json!({"apiVersion": "v1", "kind": "Node", "metadata": {"name": name}, "spec": spec});
        s.json(Method::POST, "/api/v1/nodes", Some(node)).await;
    }
    // A node without the field has Go's zero value, false: `=`, `==` and `!=` all see it.
    for (selector, want) in [
        ("spec.unschedulable==false", vec!["plain"]),
        ("spec.unschedulable=false", vec!["plain"]),
        ("spec.unschedulable!=false", vec!["cordoned"]),
        (
            "spec.unschedulable=true,metadata.name=cordoned",
            vec!["cordoned"],
        ),
    ] {
        let (code, list) = s
            .json(
                Method::GET,
                &format!("/api/v1/nodes?fieldSelector={selector}"),
                None,
            )
            .await;
        assert_eq!(code, StatusCode::OK, "{selector}: {list}");
        assert_eq!(names(&list), want, "{selector}");
    }

    let pods = "/api/v1/namespaces/default/pods";
    s.json(Method::POST, pods, Some(pod("p", json!({})))).await;
    for (selector, want) in [
        ("status.phase=Pending", vec!["p"]),
        ("status.phase!=Pending", vec![]),
        ("spec.hostNetwork=false", vec!["p"]),
        ("spec.restartPolicy=Always", vec!["p"]),
        ("spec.nodeName=", vec!["p"]),
        ("metadata.namespace=default", vec!["p"]),
    ] {
        let (code, list) = s
            .json(
                Method::GET,
                &format!("{pods}?fieldSelector={selector}"),
                None,
            )
            .await;
        assert_eq!(code, StatusCode::OK, "{selector}: {list}");
        assert_eq!(names(&list), want, "{selector}");
    }

    // What a kind does not support is 400 naming the field, for lists and watches alike.
    for path in [
        format!("{pods}?fieldSelector=spec.containers=x"),
        format!("{pods}?watch=true&fieldSelector=spec.containers=x"),
        "/api/v1/nodes?fieldSelector=metadata.namespace=default".to_string(),
        "/api/v1/namespaces/default/configmaps?fieldSelector=data.k=v".to_string(),
    ] {
        let (code, err) = s.json(Method::GET, &path, None).await;
        assert_eq!(code, StatusCode::BAD_REQUEST, "{path}");
        let field = path
            .split("fieldSelector=")
            .nth(1)
            .unwrap()
            .split('=')
            .next()
            .unwrap();
        assert_eq!(
            err["message"],
            format!("field label not supported: {field}"),
            "{path}"
        );
    }
    // ReplicaSets by status.replicas (absent: 0); events by their source's component.
    let (code, _) = s
        .json(
            Method::GET,
            "/apis/apps/v1/replicasets?fieldSelector=status.replicas=0",
            None,
        )
        .await;
    assert_eq!(code, StatusCode::OK);
    let (code, _) = s
        .json(
            Method::GET,
            "/api/v1/events?fieldSelector=source=kubelet,type=Normal",
            None,
        )
        .await;
    assert_eq!(code, StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_created_pod_is_the_bytes_kube_apiserver_writes() {
    // The fixture is kube-apiserver's answer to this create, written from its documented shape:
    // Go's field order, its defaults (securityContext {}, resources always present, port protocol,
    // termination message, pull policy), what its default admission plugins add (service account,
    // priority, preemption policy; the tolerations are given here, as DefaultTolerationSeconds would
    // add them) and the create-time status. Volatile fields are normalised; managedFields are
    // compared in the server-side apply tests.
    let s = server().await;
    let body = json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": "web", "labels": {"tier": "front", "app": "web"}},
        "spec": {
            "automountServiceAccountToken": false,
            "containers": [{
                "name": "web", "image": "nginx:1.27",
                "ports": [{"name": "http", "containerPort": 80}],
                "env": [{"name": "hello", "value": "world"}],
                "resources": {"requests": {"cpu": "250m"}, "limits": {"memory": "128Mi", "cpu": "500m"}},
            }],
            "tolerations": [
                {"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300},
                {"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300},
            ],
        },
    });
    let (code, text) = s
        .send(Method::POST, "/api/v1/namespaces/default/pods", Some(body))
        .await;
    assert_eq!(code, StatusCode::CREATED, "{text}");
    let normalise = |text: &str| {
        let mut v: Value = serde_json::from_str(text).unwrap();
        let meta = v["metadata"].as_object_mut().unwrap();
        meta.shift_remove("managedFields");
        // A known difference: Skiff counts metadata.generation on every kind (its generation
        // predicate relies on it); kube-apiserver 1.32 only on kinds whose strategy does (ReplicaSets,
        // custom resources), not on Pods.
        assert_eq!(meta.shift_remove("generation"), Some(json!(1)));
        for (k, with) in [
            ("uid", "UID"),
            ("resourceVersion", "RV"),
            ("creationTimestamp", "2026-01-01T00:00:00Z"),
        ] {
            assert!(meta.contains_key(k), "{k} missing: {text}");
            meta.insert(k.into(), json!(with));
        }
        let mut out = serde_json::to_string(&v).unwrap();
        out.push('\n');
        out
    };
    assert_eq!(normalise(&text), fixture("pod-created.json"));
    // A GET serves the same bytes.
    let (_, got) = s
        .send(Method::GET, "/api/v1/namespaces/default/pods/web", None)
        .await;
    assert_eq!(normalise(&got), fixture("pod-created.json"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn apiservices_list_every_served_group_version_read_only() {
    let server = common::builtin();
    server.ensure_apiservices().await.unwrap();
    // Twice is the same as once.
    server.ensure_apiservices().await.unwrap();
    let served = common::serve(server).await;
    let base = format!(
        "{}/apis/apiregistration.k8s.io/v1/apiservices",
        served.url()
    );
    let http = reqwest::Client::new();
    let list: Value = http.get(&base).send().await.unwrap().json().await.unwrap();
    let names: Vec<&str> = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["metadata"]["name"].as_str().unwrap())
        .collect();
    let mut served: Vec<String> = Scheme::builtin()
        .resources()
        .map(|r| format!("{}.{}", r.version, r.group))
        .collect();
    served.sort();
    served.dedup();
    assert_eq!(names, served);
    let apps: Value = http
        .get(format!("{base}/v1.apps"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(apps["spec"]["group"], "apps");
    assert_eq!(apps["spec"]["groupPriorityMinimum"], 17800);
    assert_eq!(apps["status"]["conditions"][0]["reason"], "Local");
    for req in [
        http.delete(format!("{base}/v1.apps")),
        http.put(format!("{base}/v1.apps")).json(&apps),
        http.post(&base).json(&apps),
    ] {
        let resp = req.send().await.unwrap();
        assert_eq!(resp.status(), StatusCode::FORBIDDEN);
    }
}
