//! `meta.k8s.io/v1` Tables: the columns `kubectl get` prints, computed by the server as Kubernetes does.

use chrono::{DateTime, Utc};
use serde_json::{json, Value};
use skiff_core::ApiResource;

fn s<'a>(v: &'a Value, ptr: &str) -> &'a str {
    v.pointer(ptr).and_then(Value::as_str).unwrap_or("")
}

fn or_none(x: &str) -> String {
    if x.is_empty() {
        "<none>".into()
    } else {
        x.to_string()
    }
}

/// Kubernetes' `HumanDuration`: 59s, 5m30s, 3h, 2d4h, 400d...
pub fn human_duration(secs: i64) -> String {
    let secs = secs.max(0);
    let (m, h, d) = (secs / 60, secs / 3600, secs / 86400);
    if secs < 120 {
        format!("{secs}s")
    } else if m < 10 {
        match secs % 60 {
            0 => format!("{m}m"),
            r => format!("{m}m{r}s"),
        }
    } else if m < 180 {
        format!("{m}m")
    } else if h < 8 {
        match m % 60 {
            0 => format!("{h}h"),
            r => format!("{h}h{r}m"),
        }
    } else if h < 48 {
        format!("{h}h")
    } else if h < 24 * 8 {
        match h % 24 {
            0 => format!("{d}d"),
            r => format!("{d}d{r}h"),
        }
    } else if d < 365 * 2 {
        format!("{d}d")
    } else {
        format!("{}y{}d", d / 365, d % 365)
    }
}

fn age(obj: &Value, ptr: &str) -> String {
    match DateTime::parse_from_rfc3339(s(obj, ptr)) {
        Ok(t) => human_duration((Utc::now() - t.with_timezone(&Utc)).num_seconds()),
        Err(_) => "<unknown>".into(),
    }
}

fn col(name: &str, type_: &str, priority: i32) -> Value {
    let format = if name == "Name" { "name" } else { "" };
    json!({"name": name, "type": type_, "format": format, "description": "", "priority": priority})
}

fn pod_row(p: &Value) -> Vec<Value> {
    let statuses = p
        .pointer("/status/containerStatuses")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let total = p
        .pointer("/spec/containers")
        .and_then(Value::as_array)
        .map_or(0, Vec::len);
    let ready = statuses.iter().filter(|c| c["ready"] == true).count();
    let restarts: i64 = statuses
        .iter()
        .filter_map(|c| c["restartCount"].as_i64())
        .sum();
    let mut status = s(p, "/status/phase").to_string();
    if status.is_empty() {
        status = "Pending".into();
    }
    if !s(p, "/status/reason").is_empty() {
        status = s(p, "/status/reason").to_string();
    }
    for c in p
        .pointer("/status/initContainerStatuses")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        if let Some(r) = c.pointer("/state/waiting/reason").and_then(Value::as_str) {
            if r != "PodInitializing" {
                status = format!("Init:{r}");
            }
        }
    }
    for c in &statuses {
        if let Some(r) = c.pointer("/state/waiting/reason").and_then(Value::as_str) {
            status = r.to_string();
        } else if let Some(r) = c
            .pointer("/state/terminated/reason")
            .and_then(Value::as_str)
        {
            status = r.to_string();
        }
    }
    if !s(p, "/metadata/deletionTimestamp").is_empty() {
        status = "Terminating".into();
    }
    vec![
        json!(s(p, "/metadata/name")),
        json!(format!("{ready}/{total}")),
        json!(status),
        json!(restarts),
        json!(age(p, "/metadata/creationTimestamp")),
        json!(or_none(s(p, "/status/podIP"))),
        json!(or_none(s(p, "/spec/nodeName"))),
        json!(or_none(s(p, "/status/nominatedNodeName"))),
        json!("<none>"),
    ]
}

fn service_row(v: &Value) -> Vec<Value> {
    let ports: Vec<String> = v
        .pointer("/spec/ports")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .map(|p| {
            let proto = p["protocol"].as_str().unwrap_or("TCP");
            match p["nodePort"].as_i64() {
                Some(np) => format!("{}:{np}/{proto}", p["port"]),
                None => format!("{}/{proto}", p["port"]),
            }
        })
        .collect();
    let selector: Vec<String> = v
        .pointer("/spec/selector")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
        .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or("")))
        .collect();
    let external: Vec<&str> = v
        .pointer("/spec/externalIPs")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect();
    let ingress: Vec<&str> = v
        .pointer("/status/loadBalancer/ingress")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|i| i["ip"].as_str().or(i["hostname"].as_str()))
        .collect();
    // kubectl's getServiceExternalIP.
    let external = match s(v, "/spec/type") {
        "LoadBalancer" => {
            let mut all: Vec<&str> = external;
            all.extend(&ingress);
            if all.is_empty() {
                "<pending>".to_string()
            } else {
                all.join(",")
            }
        }
        "ExternalName" => s(v, "/spec/externalName").to_string(),
        _ => or_none(&external.join(",")),
    };
    vec![
        json!(s(v, "/metadata/name")),
        json!(s(v, "/spec/type")),
        json!(or_none(s(v, "/spec/clusterIP"))),
        json!(external),
        json!(or_none(&ports.join(","))),
        json!(age(v, "/metadata/creationTimestamp")),
        json!(or_none(&selector.join(","))),
    ]
}

fn node_row(n: &Value) -> Vec<Value> {
    let ready = n
        .pointer("/status/conditions")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .find(|c| c["type"] == "Ready")
        .map(|c| match c["status"].as_str() {
            Some("True") => "Ready",
            Some("False") => "NotReady",
            _ => "Unknown",
        })
        .unwrap_or("Unknown");
    let mut status = ready.to_string();
    if n.pointer("/spec/unschedulable") == Some(&Value::Bool(true)) {
        status.push_str(",SchedulingDisabled");
    }
    let roles: Vec<String> = n
        .pointer("/metadata/labels")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
        .filter_map(|(k, _)| {
            k.strip_prefix("node-role.kubernetes.io/")
                .map(str::to_string)
        })
        .collect();
    let addr = |t: &str| {
        n.pointer("/status/addresses")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .find(|a| a["type"] == t)
            .and_then(|a| a["address"].as_str())
            .unwrap_or("")
            .to_string()
    };
    vec![
        json!(s(n, "/metadata/name")),
        json!(status),
        json!(or_none(&roles.join(","))),
        json!(age(n, "/metadata/creationTimestamp")),
        json!(s(n, "/status/nodeInfo/kubeletVersion")),
        json!(or_none(&addr("InternalIP"))),
        json!(or_none(&addr("ExternalIP"))),
        json!(s(n, "/status/nodeInfo/osImage")),
        json!(s(n, "/status/nodeInfo/kernelVersion")),
        json!(s(n, "/status/nodeInfo/containerRuntimeVersion")),
    ]
}

fn replicaset_row(r: &Value) -> Vec<Value> {
    let containers = r
        .pointer("/spec/template/spec/containers")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let names: Vec<&str> = containers
        .iter()
        .filter_map(|c| c["name"].as_str())
        .collect();
    let images: Vec<&str> = containers
        .iter()
        .filter_map(|c| c["image"].as_str())
        .collect();
    let selector: Vec<String> = r
        .pointer("/spec/selector/matchLabels")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
        .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or("")))
        .collect();
    let n = |p: &str| r.pointer(p).and_then(Value::as_i64).unwrap_or(0);
    vec![
        json!(s(r, "/metadata/name")),
        json!(r
            .pointer("/spec/replicas")
            .and_then(Value::as_i64)
            .unwrap_or(1)),
        json!(n("/status/replicas")),
        json!(n("/status/readyReplicas")),
        json!(age(r, "/metadata/creationTimestamp")),
        json!(names.join(",")),
        json!(images.join(",")),
        json!(or_none(&selector.join(","))),
    ]
}

fn event_row(e: &Value) -> Vec<Value> {
    let last = if s(e, "/lastTimestamp").is_empty() {
        "/eventTime"
    } else {
        "/lastTimestamp"
    };
    vec![
        json!(age(e, last)),
        json!(s(e, "/type")),
        json!(s(e, "/reason")),
        json!(format!(
            "{}/{}",
            s(e, "/involvedObject/kind").to_lowercase(),
            s(e, "/involvedObject/name")
        )),
        json!(s(e, "/message")),
    ]
}

/// The first three entries, then `+ N more...`, as kubectl's printers abbreviate endpoint lists.
fn first_three(items: &[String]) -> String {
    match items.len() {
        0..=3 => items.join(","),
        n => format!("{} + {} more...", items[..3].join(","), n - 3),
    }
}

fn endpoints_row(e: &Value) -> Vec<Value> {
    let mut eps = Vec::new();
    for subset in e
        .pointer("/subsets")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        for a in subset["addresses"].as_array().into_iter().flatten() {
            for p in subset["ports"].as_array().into_iter().flatten() {
                eps.push(format!("{}:{}", a["ip"].as_str().unwrap_or(""), p["port"]));
            }
        }
    }
    vec![
        json!(s(e, "/metadata/name")),
        json!(or_none(&first_three(&eps))),
        json!(age(e, "/metadata/creationTimestamp")),
    ]
}

/// An EndpointSlice: its ports (`<unset>` for a port without a number) and addresses.
fn endpointslice_row(e: &Value) -> Vec<Value> {
    let unset = |v: String| {
        if v.is_empty() {
            "<unset>".to_string()
        } else {
            v
        }
    };
    let ports: Vec<String> = e["ports"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|p| match p["port"].as_i64() {
            Some(n) => n.to_string(),
            None => "<unset>".to_string(),
        })
        .collect();
    let addresses: Vec<String> = e["endpoints"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|ep| ep["addresses"].as_array().into_iter().flatten())
        .filter_map(|a| a.as_str().map(str::to_string))
        .collect();
    vec![
        json!(s(e, "/metadata/name")),
        json!(s(e, "/addressType")),
        json!(unset(ports.join(","))),
        json!(unset(first_three(&addresses))),
        json!(age(e, "/metadata/creationTimestamp")),
    ]
}

/// An IPAddress: its holder as `resource[.group]/[namespace/]name`.
fn ipaddress_row(a: &Value) -> Vec<Value> {
    let parent = match a.pointer("/spec/parentRef") {
        Some(r) if r.is_object() => {
            let mut out = r["resource"].as_str().unwrap_or("").to_lowercase();
            if let Some(g) = r["group"].as_str().filter(|g| !g.is_empty()) {
                out = format!("{out}.{}", g.to_lowercase());
            }
            if let Some(ns) = r["namespace"].as_str().filter(|n| !n.is_empty()) {
                out = format!("{out}/{ns}");
            }
            format!("{out}/{}", r["name"].as_str().unwrap_or(""))
        }
        _ => "<none>".to_string(),
    };
    vec![json!(s(a, "/metadata/name")), json!(parent)]
}

fn servicecidr_row(c: &Value) -> Vec<Value> {
    let cidrs: Vec<&str> = c
        .pointer("/spec/cidrs")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect();
    vec![
        json!(s(c, "/metadata/name")),
        json!(cidrs.join(",")),
        json!(age(c, "/metadata/creationTimestamp")),
    ]
}

/// Column definitions and a row builder for `res`.
/// Computes the cells of one row.
type RowFn = fn(&Value) -> Vec<Value>;

/// An APIService: `Local` or the Service's `namespace/name`; `True`, or `False (Reason)`.
fn apiservice_row(a: &Value) -> Vec<Value> {
    let service = match a.pointer("/spec/service") {
        Some(svc) if svc.is_object() => format!(
            "{}/{}",
            svc["namespace"].as_str().unwrap_or(""),
            svc["name"].as_str().unwrap_or("")
        ),
        _ => "Local".to_string(),
    };
    let available = a
        .pointer("/status/conditions")
        .and_then(Value::as_array)
        .and_then(|cs| cs.iter().find(|c| c["type"] == "Available"))
        .map(|c| match (c["status"].as_str(), c["reason"].as_str()) {
            (Some("True"), _) => "True".to_string(),
            (Some(st), Some(reason)) => format!("{st} ({reason})"),
            (Some(st), None) => st.to_string(),
            (None, _) => "Unknown".to_string(),
        })
        .unwrap_or_else(|| "Unknown".to_string());
    vec![
        json!(s(a, "/metadata/name")),
        json!(service),
        json!(available),
        json!(age(a, "/metadata/creationTimestamp")),
    ]
}

fn shape(res: &ApiResource) -> (Vec<Value>, RowFn) {
    match (res.group.as_str(), res.plural.as_str()) {
        ("", "pods") => (
            vec![
                col("Name", "string", 0),
                col("Ready", "string", 0),
                col("Status", "string", 0),
                col("Restarts", "integer", 0),
                col("Age", "string", 0),
                col("IP", "string", 1),
                col("Node", "string", 1),
                col("Nominated Node", "string", 1),
                col("Readiness Gates", "string", 1),
            ],
            pod_row,
        ),
        ("", "services") => (
            vec![
                col("Name", "string", 0),
                col("Type", "string", 0),
                col("Cluster-IP", "string", 0),
                col("External-IP", "string", 0),
                col("Port(s)", "string", 0),
                col("Age", "string", 0),
                col("Selector", "string", 1),
            ],
            service_row,
        ),
        ("", "nodes") => (
            vec![
                col("Name", "string", 0),
                col("Status", "string", 0),
                col("Roles", "string", 0),
                col("Age", "string", 0),
                col("Version", "string", 0),
                col("Internal-IP", "string", 1),
                col("External-IP", "string", 1),
                col("OS-Image", "string", 1),
                col("Kernel-Version", "string", 1),
                col("Container-Runtime", "string", 1),
            ],
            node_row,
        ),
        ("apps", "replicasets") => (
            vec![
                col("Name", "string", 0),
                col("Desired", "integer", 0),
                col("Current", "integer", 0),
                col("Ready", "integer", 0),
                col("Age", "string", 0),
                col("Containers", "string", 1),
                col("Images", "string", 1),
                col("Selector", "string", 1),
            ],
            replicaset_row,
        ),
        ("", "events") => (
            vec![
                col("Last Seen", "string", 0),
                col("Type", "string", 0),
                col("Reason", "string", 0),
                col("Object", "string", 0),
                col("Message", "string", 0),
            ],
            event_row,
        ),
        ("", "endpoints") => (
            vec![
                col("Name", "string", 0),
                col("Endpoints", "string", 0),
                col("Age", "string", 0),
            ],
            endpoints_row,
        ),
        ("discovery.k8s.io", "endpointslices") => (
            vec![
                col("Name", "string", 0),
                col("AddressType", "string", 0),
                col("Ports", "string", 0),
                col("Endpoints", "string", 0),
                col("Age", "string", 0),
            ],
            endpointslice_row,
        ),
        ("networking.k8s.io", "ipaddresses") => (
            vec![col("Name", "string", 0), col("ParentRef", "string", 0)],
            ipaddress_row,
        ),
        ("networking.k8s.io", "servicecidrs") => (
            vec![
                col("Name", "string", 0),
                col("CIDRs", "string", 0),
                col("Age", "string", 0),
            ],
            servicecidr_row,
        ),
        ("", "namespaces") => (
            vec![
                col("Name", "string", 0),
                col("Status", "string", 0),
                col("Age", "string", 0),
            ],
            |n| {
                vec![
                    json!(s(n, "/metadata/name")),
                    json!(or_none(s(n, "/status/phase"))),
                    json!(age(n, "/metadata/creationTimestamp")),
                ]
            },
        ),
        ("", "configmaps") => (
            vec![
                col("Name", "string", 0),
                col("Data", "integer", 0),
                col("Age", "string", 0),
            ],
            |c| {
                let n = c["data"].as_object().map_or(0, |m| m.len())
                    + c["binaryData"].as_object().map_or(0, |m| m.len());
                vec![
                    json!(s(c, "/metadata/name")),
                    json!(n),
                    json!(age(c, "/metadata/creationTimestamp")),
                ]
            },
        ),
        ("", "secrets") => (
            vec![
                col("Name", "string", 0),
                col("Type", "string", 0),
                col("Data", "integer", 0),
                col("Age", "string", 0),
            ],
            |c| {
                vec![
                    json!(s(c, "/metadata/name")),
                    json!(s(c, "/type")),
                    json!(c["data"].as_object().map_or(0, |m| m.len())),
                    json!(age(c, "/metadata/creationTimestamp")),
                ]
            },
        ),
        ("coordination.k8s.io", "leases") => (
            vec![
                col("Name", "string", 0),
                col("Holder", "string", 0),
                col("Age", "string", 0),
            ],
            |l| {
                vec![
                    json!(s(l, "/metadata/name")),
                    json!(s(l, "/spec/holderIdentity")),
                    json!(age(l, "/metadata/creationTimestamp")),
                ]
            },
        ),
        ("apiregistration.k8s.io", "apiservices") => (
            vec![
                col("Name", "string", 0),
                col("Service", "string", 0),
                col("Available", "string", 0),
                col("Age", "string", 0),
            ],
            apiservice_row,
        ),
        _ => (
            vec![col("Name", "string", 0), col("Age", "string", 0)],
            |o| {
                vec![
                    json!(s(o, "/metadata/name")),
                    json!(age(o, "/metadata/creationTimestamp")),
                ]
            },
        ),
    }
}

/// A Table of `items`; rows carry `PartialObjectMetadata` unless `include_object` is `Object`.
pub fn table(
    res: &ApiResource,
    items: &[Value],
    resource_version: &str,
    include_object: Option<&str>,
) -> Value {
    let (columns, row) = shape(res);
    let rows: Vec<Value> = items
        .iter()
        .map(|item| {
            let object = match include_object {
                Some("Object") => item.clone(),
                Some("None") => Value::Null,
                _ => json!({"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": item["metadata"]}),
            };
            json!({"cells": row(item), "object": object})
        })
        .collect();
    json!({
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": {"resourceVersion": resource_version},
        "columnDefinitions": columns,
        "rows": rows,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_like_kubectl() {
        for (secs, want) in [
            (5, "5s"),
            (119, "119s"),
            (150, "2m30s"),
            (600, "10m"),
            (3 * 3600 + 120, "3h2m"),
            (30 * 3600, "30h"),
            (3 * 86400 + 3600, "3d1h"),
            (40 * 86400, "40d"),
            (800 * 86400, "2y70d"),
        ] {
            assert_eq!(human_duration(secs), want, "{secs}");
        }
    }

    #[test]
    fn pod_rows() {
        let pod = json!({"metadata": {"name": "web", "creationTimestamp": "2020-01-01T00:00:00Z"},
            "spec": {"containers": [{"name": "a"}, {"name": "b"}], "nodeName": "n1"},
            "status": {"phase": "Running", "podIP": "10.0.0.5", "containerStatuses": [
                {"name": "a", "ready": true, "restartCount": 2, "state": {"running": {}}},
                {"name": "b", "ready": false, "restartCount": 1, "state": {"waiting": {"reason": "CrashLoopBackOff"}}}]}});
        let cells = pod_row(&pod);
        assert_eq!(
            cells[0..4],
            [
                json!("web"),
                json!("1/2"),
                json!("CrashLoopBackOff"),
                json!(3)
            ]
        );
        assert_eq!(cells[5..7], [json!("10.0.0.5"), json!("n1")]);
    }

    #[test]
    fn service_ports() {
        let svc = json!({"metadata": {"name": "web"}, "spec": {"type": "NodePort", "clusterIP": "10.96.0.10",
            "ports": [{"port": 80, "nodePort": 30080, "protocol": "TCP"}, {"port": 53, "protocol": "UDP"}], "selector": {"app": "web"}}});
        let cells = service_row(&svc);
        assert_eq!(cells[4], json!("80:30080/TCP,53/UDP"));
        assert_eq!(cells[6], json!("app=web"));
    }
}
