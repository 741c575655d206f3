//! Protobuf bodies and answers of any kind, checked against an independent codec: Kubernetes' types
//! as prost generates them (the `k8s-pb` crate). A Service and a Pod built with those types and sent
//! as `application/vnd.kubernetes.protobuf` are stored as the JSON kube-apiserver would store
//! (IntOrString, Quantity, empty-message volumes, times); a client that accepts protobuf only gets
//! protobuf those types decode, objects and lists; one that also accepts JSON gets JSON; errors stay
//! JSON Status bodies.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use k8s_pb::api::core::v1 as core;
use k8s_pb::apimachinery::pkg::api::resource::Quantity;
use k8s_pb::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use k8s_pb::apimachinery::pkg::runtime::{TypeMeta, Unknown};
use k8s_pb::apimachinery::pkg::util::intstr::IntOrString;
use prost::Message;
use serde_json::Value;

mod common;

const PROTOBUF: &str = "application/vnd.kubernetes.protobuf";

fn envelope(api_version: &str, kind: &str, raw: Vec<u8>) -> Vec<u8> {
    let unknown = Unknown {
        type_meta: Some(TypeMeta {
            api_version: Some(api_version.into()),
            kind: Some(kind.into()),
        }),
        raw: Some(raw),
        content_encoding: Some(String::new()),
        content_type: Some(String::new()),
    };
    let mut out = b"k8s\0".to_vec();
    out.extend(unknown.encode_to_vec());
    out
}

/// The kind and the object's bytes of a protobuf answer.
fn open(body: &[u8]) -> (String, Vec<u8>) {
    let rest = body.strip_prefix(b"k8s\0").expect("the k8s\\0 magic");
    let unknown = Unknown::decode(rest).unwrap();
    (
        unknown.type_meta.unwrap().kind.unwrap(),
        unknown.raw.unwrap_or_default(),
    )
}

fn meta(name: &str) -> Option<ObjectMeta> {
    Some(ObjectMeta {
        name: Some(name.into()),
        labels: [("app".to_string(), name.to_string())].into(),
        ..ObjectMeta::default()
    })
}

async fn send(
    url: &str,
    method: reqwest::Method,
    content_type: Option<&str>,
    accept: &str,
    body: Vec<u8>,
) -> (u16, String, Vec<u8>) {
    let mut req = reqwest::Client::new()
        .request(method, url)
        .header("accept", accept);
    if let Some(ct) = content_type {
        req = req.header("content-type", ct).body(body);
    }
    let resp = req.send().await.unwrap();
    let code = resp.status().as_u16();
    let ct = resp
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default();
    (code, ct, resp.bytes().await.unwrap().to_vec())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn protobuf_bodies_and_answers_of_any_kind() {
    let served = common::start().await;
    let base = format!("{}/api/v1/namespaces/default", served.url());

    // A Service in protobuf, answered in protobuf.
    let service = core::Service {
        metadata: meta("web"),
        spec: Some(core::ServiceSpec {
            ports: vec![
                core::ServicePort {
                    name: Some("http".into()),
                    port: Some(80),
                    target_port: Some(IntOrString {
                        r#type: Some(0),
                        int_val: Some(8080),
                        str_val: Some(String::new()),
                    }),
                    ..core::ServicePort::default()
                },
                core::ServicePort {
                    name: Some("https".into()),
                    port: Some(443),
                    target_port: Some(IntOrString {
                        r#type: Some(1),
                        int_val: Some(0),
                        str_val: Some("tls".into()),
                    }),
                    ..core::ServicePort::default()
                },
            ],
            selector: [("app".to_string(), "web".to_string())].into(),
            r#type: Some("ClusterIP".into()),
            ..core::ServiceSpec::default()
        }),
        status: None,
    };
    let body = envelope("v1", "Service", service.encode_to_vec());
    let (code, ct, bytes) = send(
        &format!("{base}/services"),
        reqwest::Method::POST,
        Some(PROTOBUF),
        PROTOBUF,
        body,
    )
    .await;
    assert_eq!(code, 201, "{}", String::from_utf8_lossy(&bytes));
    assert_eq!(ct, PROTOBUF);
    let (kind, raw) = open(&bytes);
    assert_eq!(kind, "Service");
    let created = core::Service::decode(raw.as_slice()).unwrap();
    let m = created.metadata.unwrap();
    assert_eq!(m.name.as_deref(), Some("web"));
    assert!(m.uid.is_some_and(|u| !u.is_empty()));
    assert!(m.creation_timestamp.and_then(|t| t.seconds).unwrap_or(0) > 1_700_000_000);
    let spec = created.spec.unwrap();
    let target = |i: usize| spec.ports[i].target_port.clone().unwrap();
    assert_eq!(target(0).int_val, Some(8080));
    assert_eq!(target(1).str_val.as_deref(), Some("tls"));
    assert_eq!(spec.ports[0].protocol.as_deref(), Some("TCP"), "defaulted");

    // Stored as JSON kube-apiserver would store.
    let (_, ct, bytes) = send(
        &format!("{base}/services/web"),
        reqwest::Method::GET,
        None,
        "application/json",
        Vec::new(),
    )
    .await;
    assert_eq!(ct, "application/json");
    let json: Value = serde_json::from_slice(&bytes).unwrap();
    assert_eq!(json["spec"]["ports"][0]["targetPort"], 8080);
    assert_eq!(json["spec"]["ports"][1]["targetPort"], "tls");
    assert_eq!(json["metadata"]["labels"]["app"], "web");

    // A Pod: quantities, an emptyDir (an empty message: its presence is the volume), a probe.
    let pod = core::Pod {
        metadata: meta("cache"),
        spec: Some(core::PodSpec {
            volumes: vec![core::Volume {
                name: Some("scratch".into()),
                volume_source: Some(core::VolumeSource {
                    empty_dir: Some(core::EmptyDirVolumeSource::default()),
                    ..core::VolumeSource::default()
                }),
            }],
            containers: vec![core::Container {
                name: Some("redis".into()),
                image: Some("redis:7".into()),
                resources: Some(core::ResourceRequirements {
                    limits: [(
                        "memory".to_string(),
                        Quantity {
                            string: Some("64Mi".into()),
                        },
                    )]
                    .into(),
                    ..core::ResourceRequirements::default()
                }),
                readiness_probe: Some(core::Probe {
                    handler: Some(core::ProbeHandler {
                        tcp_socket: Some(core::TcpSocketAction {
                            port: Some(IntOrString {
                                r#type: Some(0),
                                int_val: Some(6379),
                                str_val: None,
                            }),
                            host: None,
                        }),
                        ..core::ProbeHandler::default()
                    }),
                    period_seconds: Some(5),
                    ..core::Probe::default()
                }),
                ..core::Container::default()
            }],
            ..core::PodSpec::default()
        }),
        status: None,
    };
    let body = envelope("v1", "Pod", pod.encode_to_vec());
    let (code, ct, bytes) = send(
        &format!("{base}/pods"),
        reqwest::Method::POST,
        Some(PROTOBUF),
        "application/json",
        body,
    )
    .await;
    assert_eq!(code, 201, "{}", String::from_utf8_lossy(&bytes));
    assert_eq!(ct, "application/json", "a client that takes JSON gets JSON");
    let json: Value = serde_json::from_slice(&bytes).unwrap();
    assert_eq!(json["kind"], "Pod");
    assert_eq!(
        json["spec"]["volumes"][0]["emptyDir"],
        serde_json::json!({})
    );
    let c = &json["spec"]["containers"][0];
    assert_eq!(c["resources"]["limits"]["memory"], "64Mi");
    assert_eq!(c["readinessProbe"]["tcpSocket"]["port"], 6379);
    assert_eq!(c["readinessProbe"]["periodSeconds"], 5);
    assert_eq!(json["status"]["phase"], "Pending");

    // A list, in protobuf only.
    let (code, ct, bytes) = send(
        &format!("{base}/pods"),
        reqwest::Method::GET,
        None,
        PROTOBUF,
        Vec::new(),
    )
    .await;
    assert_eq!((code, ct.as_str()), (200, PROTOBUF));
    let (kind, raw) = open(&bytes);
    assert_eq!(kind, "PodList");
    let list = core::PodList::decode(raw.as_slice()).unwrap();
    assert_eq!(list.items.len(), 1);
    let limits = &list.items[0].spec.as_ref().unwrap().containers[0]
        .resources
        .as_ref()
        .unwrap()
        .limits;
    assert_eq!(limits["memory"].string.as_deref(), Some("64Mi"));
    assert!(list.metadata.unwrap().resource_version.is_some());

    // Errors stay a JSON Status, whatever was asked for.
    let (code, ct, bytes) = send(
        &format!("{base}/pods/nope"),
        reqwest::Method::GET,
        None,
        PROTOBUF,
        Vec::new(),
    )
    .await;
    assert_eq!((code, ct.as_str()), (404, "application/json"));
    let status: Value = serde_json::from_slice(&bytes).unwrap();
    assert_eq!(status["reason"], "NotFound");

    // A kind no message describes is a 415 naming it.
    let body = envelope("example.com/v1", "Widget", Vec::new());
    let (code, _, bytes) = send(
        &format!("{base}/configmaps"),
        reqwest::Method::POST,
        Some(PROTOBUF),
        "application/json",
        body,
    )
    .await;
    let text = String::from_utf8_lossy(&bytes);
    assert_eq!(code, 415, "{text}");
    assert!(text.contains("example.com/v1/Widget"), "{text}");
}
