//! The `pods/binding` subresource over HTTP: 201 with a Success status, 409 when already bound, 404 when
//! the pod is gone; `HttpClient::bind` goes through it; discovery lists it.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use serde_json::{json, Value};
use skiff_api::{ApiServer, HttpClient};
use skiff_core::client::{Api, InProcessClient};
use skiff_core::codec::Scheme;
use skiff_core::kinds::{Container, Pod};
use skiff_core::shutdown::{Shutdown, ShutdownTrigger};
use skiff_core::store::MemoryStore;

async fn server() -> (String, ShutdownTrigger) {
    let server = ApiServer::new(
        InProcessClient::shared(Arc::new(MemoryStore::new())),
        Scheme::builtin(),
    );
    server.ensure_namespaces().await.unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, shutdown) = Shutdown::new();
    tokio::spawn(server.serve(listener, shutdown));
    (format!("http://{addr}"), stop)
}

fn binding(pod: &str, node: &str) -> Value {
    json!({"apiVersion": "v1", "kind": "Binding", "metadata": {"name": pod},
           "target": {"apiVersion": "v1", "kind": "Node", "name": node}})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn binding_subresource_sets_node_name_and_refuses_rebinding() {
    let (base, _stop) = server().await;
    let client = HttpClient::shared(&base);
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    let mut pod = Pod::named("p");
    pod.spec.containers.push(Container::new("c", "busybox"));
    pods.create(&pod).await.unwrap();

    let http = reqwest::Client::new();
    let url = format!("{base}/api/v1/namespaces/default/pods/p/binding");
    let resp = http
        .post(&url)
        .json(&binding("p", "n1"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 201);
    let status: Value = resp.json().await.unwrap();
    assert_eq!(status["kind"], "Status");
    assert_eq!(status["status"], "Success");

    let bound = pods.get("p").await.unwrap();
    assert_eq!(bound.spec.node_name.as_deref(), Some("n1"));
    let scheduled = bound
        .status
        .unwrap()
        .conditions
        .into_iter()
        .find(|c| c.type_ == "PodScheduled")
        .unwrap();
    assert_eq!(scheduled.status, "True");

    // Already bound: 409 Conflict.
    let resp = http
        .post(&url)
        .json(&binding("p", "n2"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 409);
    let status: Value = resp.json().await.unwrap();
    assert_eq!(status["reason"], "Conflict");
    assert!(status["message"]
        .as_str()
        .unwrap()
        .contains("already assigned to node \"n1\""));
    // The same through the client.
    let err = client.bind("default", "p", "n2").await.unwrap_err();
    assert_eq!(err.code(), Some(409));

    // Gone: 404.
    let resp = http
        .post(format!(
            "{base}/api/v1/namespaces/default/pods/gone/binding"
        ))
        .json(&binding("gone", "n1"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 404);
    assert!(client
        .bind("default", "gone", "n1")
        .await
        .unwrap_err()
        .is_not_found());

    // The client binds through the subresource.
    let mut q = Pod::named("q");
    q.spec.containers.push(Container::new("c", "busybox"));
    pods.create(&q).await.unwrap();
    pods.bind("q", "n2").await.unwrap();
    assert_eq!(
        pods.get("q").await.unwrap().spec.node_name.as_deref(),
        Some("n2")
    );

    // Discovery lists pods/binding with verb create.
    let list: Value = http
        .get(format!("{base}/api/v1"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let entry = list["resources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == "pods/binding")
        .unwrap();
    assert_eq!(entry["verbs"], json!(["create"]));
}
