//! Round trips: every built-in kind, from JSON in the shape of Kubernetes' documentation and `kubectl get -o json`,
//! to the typed object and back without loss (and without a single unknown field), plus the seed Pod of the notes.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;

use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;
use skiff_core::codec::{decode_typed, DecodeOptions, Scheme, Source};
use skiff_core::kinds::*;
use skiff_core::{IntOrString, Quantity, Resource};

/// Kubernetes writes some absent fields as `null`; null and absent mean the same, so compare without them.
fn without_nulls(v: Value) -> Value {
    match v {
        Value::Object(map) => Value::Object(
            map.into_iter()
                .filter(|(_, v)| !v.is_null())
                .map(|(k, v)| (k, without_nulls(v)))
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.into_iter().map(without_nulls).collect()),
        other => other,
    }
}

/// Decodes the fixture strictly into `K`, checks it serializes back to the same JSON, and returns it.
fn round_trip<K: Resource + DeserializeOwned + Serialize>(fixture: &str) -> K {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(fixture);
    let text = std::fs::read_to_string(&path).unwrap();
    let (obj, unknown) = decode_typed::<K>(Source::Json(&text)).unwrap_or_else(|e| {
        panic!(
            "{fixture}: {} at {} (line {:?})",
            e.message, e.field, e.line
        )
    });
    assert!(
        unknown.is_empty(),
        "{fixture}: fields the type lacks: {unknown:?}"
    );
    let original = without_nulls(serde_json::from_str(&text).unwrap());
    let again = serde_json::to_value(&obj).unwrap();
    assert_eq!(again, original, "{fixture}: JSON changed in the round trip");
    let reparsed: K = serde_json::from_value(again).unwrap();
    assert_eq!(serde_json::to_value(&reparsed).unwrap(), original);
    assert_eq!(K::KIND, original["kind"]);
    obj
}

fn q(s: &str) -> Quantity {
    s.parse().unwrap()
}

#[test]
fn pod() {
    let pod: Pod = round_trip("pod.json");
    let spec = &pod.spec;
    assert_eq!(spec.init_containers[0].command[0], "git");
    let web = &spec.containers[0];
    assert_eq!(web.resources.limits["memory"], q("1Gi"));
    assert_eq!(web.resources.requests["cpu"].millis(), 250);
    assert_eq!(web.ports[1].host_ip.as_deref(), Some("0.0.0.0"));
    assert_eq!(
        web.env[2]
            .value_from
            .as_ref()
            .unwrap()
            .field_ref
            .as_ref()
            .unwrap()
            .field_path,
        "status.podIP"
    );
    assert_eq!(
        web.env[3]
            .value_from
            .as_ref()
            .unwrap()
            .config_map_key_ref
            .as_ref()
            .unwrap()
            .key,
        "color"
    );
    let readiness = web.readiness_probe.as_ref().unwrap();
    assert_eq!(
        readiness.http_get.as_ref().unwrap().port,
        IntOrString::String("http".into())
    );
    assert_eq!(readiness.success_threshold, Some(2));
    assert_eq!(
        web.startup_probe
            .as_ref()
            .unwrap()
            .exec
            .as_ref()
            .unwrap()
            .command,
        ["cat", "/tmp/started"]
    );
    assert_eq!(web.volume_mounts[0].sub_path.as_deref(), Some("site"));
    assert_eq!(
        spec.volumes[0].empty_dir.as_ref().unwrap().size_limit,
        Some(q("64Mi"))
    );
    assert_eq!(
        spec.volumes[1].host_path.as_ref().unwrap().type_.as_deref(),
        Some("Directory")
    );
    assert_eq!(
        spec.volumes[2].config_map.as_ref().unwrap().items[0].mode,
        Some(420)
    );
    assert_eq!(spec.tolerations[0].toleration_seconds, Some(300));
    assert_eq!(pod.metadata.controller_ref().unwrap().kind, "ReplicaSet");
    let status = pod.status.as_ref().unwrap();
    assert_eq!(pod.phase(), "Running");
    assert_eq!(status.pod_ips[0].ip, "10.244.1.7");
    let cs = &status.container_statuses[0];
    assert_eq!(cs.restart_count, 2);
    assert!(cs.state.as_ref().unwrap().running.is_some());
    let last = cs.last_state.as_ref().unwrap().terminated.as_ref().unwrap();
    assert_eq!(
        (last.exit_code, last.reason.as_deref()),
        (137, Some("OOMKilled"))
    );
    let init = status.init_container_statuses[0]
        .state
        .as_ref()
        .unwrap()
        .terminated
        .as_ref()
        .unwrap();
    assert_eq!(init.reason.as_deref(), Some("Completed"));
    assert_eq!(status.conditions.len(), 5);
    assert_eq!(
        pod.all_containers()
            .map(|c| c.name.as_str())
            .collect::<Vec<_>>(),
        ["git", "web"]
    );
}

#[test]
fn replicaset() {
    let rs: ReplicaSet = round_trip("replicaset.json");
    assert_eq!(rs.spec.replicas, Some(3));
    assert_eq!(
        rs.spec.selector.match_expressions[1].operator,
        "DoesNotExist"
    );
    assert!(rs.spec.selector.matches(&rs.spec.template.metadata.labels));
    let status = rs.status.unwrap();
    assert_eq!(
        (status.ready_replicas, status.observed_generation),
        (Some(2), Some(3))
    );
    assert_eq!(status.conditions[0].type_, "ReplicaFailure");
}

#[test]
fn service() {
    let svc: Service = round_trip("service.json");
    assert_eq!(svc.spec.type_.as_deref(), Some("NodePort"));
    assert_eq!(svc.spec.ports[0].target_port, Some(IntOrString::Int(9376)));
    assert_eq!(
        svc.spec.ports[1].target_port,
        Some(IntOrString::String("metrics".into()))
    );
    assert_eq!(svc.spec.ports[1].node_port, Some(30008));
    assert_eq!(svc.spec.cluster_ips, ["10.96.12.34"]);
}

#[test]
fn endpoints() {
    let ep: Endpoints = round_trip("endpoints.json");
    let subset = &ep.subsets[0];
    assert_eq!(subset.addresses.len(), 2);
    assert_eq!(
        subset.addresses[1]
            .target_ref
            .as_ref()
            .unwrap()
            .name
            .as_deref(),
        Some("web-2")
    );
    assert_eq!(subset.not_ready_addresses[0].ip, "10.244.3.4");
    assert_eq!(subset.ports[1].app_protocol.as_deref(), Some("http"));
}

#[test]
fn node() {
    let node: Node = round_trip("node.json");
    assert_eq!(Node::SCOPE, skiff_core::Scope::Cluster);
    assert_eq!(node.spec.taints[0].effect, "NoExecute");
    let status = node.status.unwrap();
    assert_eq!(status.capacity["cpu"].millis(), 2000);
    assert_eq!(status.allocatable["cpu"], q("1.9"));
    assert_eq!(status.capacity["memory"].value(), 24_570_980 * 1024);
    assert_eq!(status.conditions[1].status, "Unknown");
    assert_eq!(
        status
            .daemon_endpoints
            .unwrap()
            .kubelet_endpoint
            .unwrap()
            .port,
        10250
    );
    assert_eq!(
        status.node_info.unwrap().os_image,
        "Debian GNU/Linux 12 (bookworm)"
    );
}

#[test]
fn namespace() {
    let ns: Namespace = round_trip("namespace.json");
    assert_eq!(ns.spec.finalizers, ["kubernetes"]);
    assert!(ns.metadata.deletion_timestamp.is_some());
    assert_eq!(ns.status.unwrap().phase.as_deref(), Some("Terminating"));
}

#[test]
fn event() {
    let ev: Event = round_trip("event.json");
    assert_eq!(
        ev.involved_object.field_path.as_deref(),
        Some("spec.containers{web}")
    );
    assert_eq!((ev.count, ev.type_.as_deref()), (Some(7), Some("Warning")));
    assert_eq!(ev.source.unwrap().host.as_deref(), Some("node-1"));
    assert_eq!(ev.series.unwrap().count, 7);
    assert!(ev.first_timestamp.unwrap() < ev.last_timestamp.unwrap());
}

#[test]
fn configmap() {
    let cm: ConfigMap = round_trip("configmap.json");
    assert!(cm.data["game.properties"].contains("player.maximum-lives=5"));
    assert_eq!(cm.binary_data["logo.png"], "iVBORw0KGgo=");
    assert_eq!(cm.immutable, Some(true));
}

#[test]
fn lease() {
    let lease: Lease = round_trip("lease.json");
    assert_eq!(lease.spec.lease_duration_seconds, Some(40));
    assert_eq!(
        lease.spec.renew_time.unwrap().to_string(),
        "2024-05-01T10:59:50.123456Z"
    );
    assert_eq!(lease.metadata.owner_references[0].kind, "Node");
}

#[test]
fn seed_pod_parses_validates_defaults_and_round_trips() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/manifests/seed-pod.yaml");
    let yaml = std::fs::read_to_string(path).unwrap();
    let docs = Scheme::builtin()
        .decode(&yaml, DecodeOptions::strict())
        .unwrap();
    assert_eq!(docs.len(), 1);
    let mut obj = docs.into_iter().next().unwrap().object;
    assert!(obj.validate().is_empty(), "{}", obj.validate());

    // YAML -> object -> JSON -> object, without loss.
    let pod: Pod = obj.clone().downcast().unwrap();
    let json = serde_json::to_string(&pod).unwrap();
    let back: Pod = serde_json::from_str(&json).unwrap();
    assert_eq!(back, pod);
    let mut yaml_value: Value = serde_yaml::from_str(&yaml).unwrap();
    // Only what Go writes for an empty struct is added: `resources: {}` on the init container.
    yaml_value["spec"]["initContainers"][0]["resources"] = serde_json::json!({});
    assert_eq!(
        serde_json::to_value(&pod).unwrap(),
        yaml_value,
        "nothing of the manifest is lost or added"
    );

    // What the notes say, field by field.
    assert_eq!(pod.metadata.name.as_deref(), Some("nginx"));
    let nginx = &pod.spec.containers[0];
    assert_eq!(
        (nginx.name.as_str(), nginx.image.as_deref()),
        ("nginx", Some("nginx"))
    );
    assert_eq!(nginx.resources.requests["cpu"].millis(), 250);
    assert_eq!(nginx.resources.requests["memory"].value(), 500 << 20);
    assert_eq!(nginx.resources.limits["cpu"].millis(), 500);
    assert_eq!(nginx.resources.limits["memory"].value(), 1 << 30);
    assert_eq!(nginx.volume_mounts[0].mount_path, "/container-volume");
    assert_eq!(nginx.volume_mounts[0].name, "my-volume");
    assert_eq!(
        (nginx.env[0].name.as_str(), nginx.env[0].value.as_deref()),
        ("hello", Some("world"))
    );
    let probe = nginx
        .readiness_probe
        .as_ref()
        .unwrap()
        .http_get
        .as_ref()
        .unwrap();
    assert_eq!(
        (probe.path.as_deref(), &probe.port),
        (Some("/"), &IntOrString::Int(80))
    );
    assert_eq!(pod.spec.init_containers[0].name, "git");
    assert_eq!(
        pod.spec.init_containers[0].image.as_deref(),
        Some("alpine/git")
    );
    assert_eq!(
        pod.spec.volumes[0].host_path.as_ref().unwrap().path,
        "/home"
    );
    assert_eq!(pod.spec.node_selector["disktype"], "ssd");

    // Defaulting fills what Kubernetes fills, and the result is still valid and still round-trips.
    obj.apply_defaults();
    assert!(obj.validate().is_empty(), "{}", obj.validate());
    let pod: Pod = obj.downcast().unwrap();
    assert_eq!(pod.spec.restart_policy.as_deref(), Some("Always"));
    assert_eq!(pod.spec.termination_grace_period_seconds, Some(30));
    assert_eq!(
        pod.spec.containers[0].image_pull_policy.as_deref(),
        Some("Always")
    );
    assert_eq!(
        pod.spec.init_containers[0].image_pull_policy.as_deref(),
        Some("Always")
    );
    let probe = pod.spec.containers[0].readiness_probe.as_ref().unwrap();
    assert_eq!(
        (
            probe.period_seconds,
            probe.timeout_seconds,
            probe.failure_threshold
        ),
        (Some(10), Some(1), Some(3))
    );
    let back: Pod = serde_json::from_value(serde_json::to_value(&pod).unwrap()).unwrap();
    assert_eq!(back, pod);
}
