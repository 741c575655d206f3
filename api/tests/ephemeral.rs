//! `pods/ephemeralcontainers` as `kubectl debug` writes it: a strategic merge patch adding an
//! ephemeral container (defaulted as Kubernetes does), which afterwards may be neither changed nor
//! removed; the fields ephemeral containers may not have, an unknown target and a pod created with
//! ephemeral containers are 422s naming the field; an update of the pod itself keeps them.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

mod common;

const POD: &str = "/api/v1/namespaces/default/pods/web";
const EPHEMERAL: &str = "/api/v1/namespaces/default/pods/web/ephemeralcontainers";

struct Server {
    base: String,
    http: reqwest::Client,
    _served: common::Served,
}

impl Server {
    async fn send(
        &self,
        method: Method,
        path: &str,
        content_type: &str,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let mut req = self.http.request(method, format!("{}{path}", self.base));
        if let Some(b) = body {
            req = req.header("content-type", content_type).body(b.to_string());
        }
        let resp = req.send().await.unwrap();
        let code = resp.status();
        let text = resp.text().await.unwrap();
        (
            code,
            serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}")),
        )
    }

    async fn debug(&self, container: Value) -> (StatusCode, Value) {
        let patch = json!({"spec": {"ephemeralContainers": [container]}});
        self.send(
            Method::PATCH,
            EPHEMERAL,
            "application/strategic-merge-patch+json",
            Some(patch),
        )
        .await
    }
}

async fn server_with_pod() -> Server {
    let served = common::start().await;
    let s = Server {
        base: served.url(),
        http: reqwest::Client::new(),
        _served: served,
    };
    let pod = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "web"},
        "spec": {"containers": [{"name": "web", "image": "nginx"}]}});
    let (code, body) = s
        .send(
            Method::POST,
            "/api/v1/namespaces/default/pods",
            "application/json",
            Some(pod),
        )
        .await;
    assert_eq!(code, StatusCode::CREATED, "{body}");
    s
}

fn causes(status: &Value) -> Vec<(String, String)> {
    status["details"]["causes"]
        .as_array()
        .unwrap_or(&Vec::new())
        .iter()
        .map(|c| {
            (
                c["field"].as_str().unwrap_or("").to_string(),
                c["message"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ephemeral_containers_are_added_through_their_subresource_only() {
    let s = server_with_pod().await;

    // Discovery lists the subresource with the verbs kubectl debug uses.
    let (_, list) = s.send(Method::GET, "/api/v1", "", None).await;
    let sub = list["resources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == "pods/ephemeralcontainers")
        .expect("pods/ephemeralcontainers in discovery")
        .clone();
    assert_eq!(sub["verbs"], json!(["get", "patch", "update"]));

    // kubectl debug's patch: added, defaulted, the rest of the pod untouched.
    let (code, pod) = s
        .debug(
            json!({"name": "debugger", "image": "busybox", "stdin": true,
            "targetContainerName": "web", "terminationMessagePolicy": "File"}),
        )
        .await;
    assert_eq!(code, StatusCode::OK, "{pod}");
    let ec = &pod["spec"]["ephemeralContainers"][0];
    assert_eq!(ec["name"], "debugger");
    assert_eq!(ec["targetContainerName"], "web");
    assert_eq!(ec["imagePullPolicy"], "Always");
    assert_eq!(ec["terminationMessagePath"], "/dev/termination-log");
    assert_eq!(pod["spec"]["containers"][0]["name"], "web");
    assert_eq!(pod["status"]["phase"], "Pending");
    let (_, got) = s.send(Method::GET, EPHEMERAL, "", None).await;
    assert_eq!(got["kind"], "Pod");
    assert_eq!(got["spec"]["ephemeralContainers"][0]["name"], "debugger");

    // Changed or removed: 422, naming the container.
    let (code, status) = s
        .debug(json!({"name": "debugger", "image": "alpine"}))
        .await;
    assert_eq!(code, StatusCode::UNPROCESSABLE_ENTITY, "{status}");
    assert!(
        status["message"]
            .as_str()
            .unwrap()
            .contains("existing ephemeral containers \"debugger\" may not be changed"),
        "{status}"
    );
    let mut removed = got.clone();
    removed["spec"]["ephemeralContainers"] = json!([]);
    let (code, status) = s
        .send(Method::PUT, EPHEMERAL, "application/json", Some(removed))
        .await;
    assert_eq!(code, StatusCode::UNPROCESSABLE_ENTITY, "{status}");
    assert_eq!(
        causes(&status),
        vec![(
            "spec.ephemeralContainers".to_string(),
            "Forbidden: existing ephemeral containers \"debugger\" may not be removed".to_string()
        )]
    );

    // What an ephemeral container may not have, and a target that does not exist.
    let (code, status) = s
        .debug(
            json!({"name": "second", "image": "busybox", "targetContainerName": "nope",
            "ports": [{"containerPort": 80}], "resources": {"limits": {"cpu": "1"}},
            "readinessProbe": {"tcpSocket": {"port": 80}}}),
        )
        .await;
    assert_eq!(code, StatusCode::UNPROCESSABLE_ENTITY, "{status}");
    let fields: Vec<String> = causes(&status).into_iter().map(|(f, _)| f).collect();
    for field in [
        "targetContainerName",
        "ports",
        "resources",
        "readinessProbe",
    ] {
        let want = format!("spec.ephemeralContainers[1].{field}");
        assert!(fields.contains(&want), "{want} not in {fields:?}");
    }
    let (code, status) = s.debug(json!({"name": "web", "image": "busybox"})).await;
    assert_eq!(code, StatusCode::UNPROCESSABLE_ENTITY, "{status}");
    assert!(
        causes(&status).contains(&(
            "spec.ephemeralContainers[1].name".to_string(),
            "Duplicate value: \"web\"".to_string()
        )),
        "{status}"
    );

    // An update of the pod itself keeps them (they belong to the subresource).
    let mut plain = got.clone();
    plain["spec"]
        .as_object_mut()
        .unwrap()
        .remove("ephemeralContainers");
    plain["metadata"]["labels"] = json!({"edited": "yes"});
    let (code, updated) = s
        .send(Method::PUT, POD, "application/json", Some(plain))
        .await;
    assert_eq!(code, StatusCode::OK, "{updated}");
    assert_eq!(updated["metadata"]["labels"]["edited"], "yes");
    assert_eq!(
        updated["spec"]["ephemeralContainers"][0]["name"],
        "debugger"
    );

    // Never on create.
    let pod = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "born-debugged"},
        "spec": {"containers": [{"name": "web", "image": "nginx"}],
            "ephemeralContainers": [{"name": "debugger", "image": "busybox"}]}});
    let (code, status) = s
        .send(
            Method::POST,
            "/api/v1/namespaces/default/pods",
            "application/json",
            Some(pod),
        )
        .await;
    assert_eq!(code, StatusCode::UNPROCESSABLE_ENTITY, "{status}");
    assert_eq!(
        causes(&status),
        vec![(
            "spec.ephemeralContainers".to_string(),
            "Forbidden: cannot be set on create".to_string()
        )]
    );
}
