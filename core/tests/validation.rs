//! Table tests of validation and defaulting: every rule has a passing and a failing case.
//!
//! Cases are written as manifests and go through the same path as the API server: decode (strict),
//! default, validate. A case lists the field paths it expects errors on; an empty list means valid.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use skiff_core::codec::{DecodeOptions, Scheme};
use skiff_core::validation::FieldErrors;

fn check(yaml: &str) -> FieldErrors {
    let mut docs = Scheme::builtin()
        .decode_yaml(yaml, DecodeOptions::strict())
        .unwrap_or_else(|e| panic!("decode failed: {e}\n{yaml}"));
    assert_eq!(docs.len(), 1);
    let obj = &mut docs[0].object;
    obj.apply_defaults();
    obj.validate()
}

/// A pod whose spec is `spec` (indented by 2).
fn pod(spec: &str) -> String {
    format!("apiVersion: v1\nkind: Pod\nmetadata: {{name: p}}\nspec:\n{spec}")
}

/// A pod with one container whose extra fields are `fields` (indented by 4).
fn pod_with_container(fields: &str) -> String {
    pod(&format!(
        "  containers:\n  - name: c\n    image: nginx\n{fields}"
    ))
}

#[track_caller]
fn assert_case(name: &str, yaml: &str, expected: &[&str]) {
    let errs = check(yaml);
    let fields: Vec<&str> = errs.iter().map(|e| e.field.as_str()).collect();
    if expected.is_empty() {
        assert!(errs.is_empty(), "{name}: expected valid, got {errs}");
    } else {
        for f in expected {
            assert!(
                fields.contains(f),
                "{name}: expected an error on {f}, got {errs}"
            );
        }
    }
}

#[test]
fn pod_rules() {
    let cases: &[(&str, String, &[&str])] = &[
        ("minimal pod", pod_with_container(""), &[]),
        ("envFrom a secret", pod_with_container("    envFrom: [{prefix: DB_, secretRef: {name: db}}]\n"), &[]),
        ("envFrom without a source", pod_with_container("    envFrom: [{prefix: DB_}]\n"), &["spec.containers[0].envFrom[0]"]),
        ("envFrom with two sources", pod_with_container("    envFrom: [{secretRef: {name: a}, configMapRef: {name: b}}]\n"), &["spec.containers[0].envFrom[0]"]),
        ("envFrom without a name", pod_with_container("    envFrom: [{configMapRef: {}}]\n"), &["spec.containers[0].envFrom[0].configMapRef.name"]),
        ("secretKeyRef without a key", pod_with_container("    env: [{name: A, valueFrom: {secretKeyRef: {name: s}}}]\n"), &["spec.containers[0].env[0].valueFrom.secretKeyRef.key"]),
        ("secret volume without a name", pod("  volumes: [{name: v, secret: {}}]\n  containers: [{name: c, image: i}]\n"), &["spec.volumes[0].secret.secretName"]),
        ("no containers", pod("  containers: []\n"), &["spec.containers"]),
        ("bad pod name", "apiVersion: v1\nkind: Pod\nmetadata: {name: Web_1}\nspec:\n  containers: [{name: c, image: i}]\n".into(), &["metadata.name"]),
        ("missing name", "apiVersion: v1\nkind: Pod\nmetadata: {}\nspec:\n  containers: [{name: c, image: i}]\n".into(), &["metadata.name"]),
        ("generateName", "apiVersion: v1\nkind: Pod\nmetadata: {generateName: web-}\nspec:\n  containers: [{name: c, image: i}]\n".into(), &[]),
        ("container name required", pod("  containers: [{image: nginx}]\n"), &["spec.containers[0].name"]),
        ("container name syntax", pod("  containers: [{name: Web, image: nginx}]\n"), &["spec.containers[0].name"]),
        ("image required", pod("  containers: [{name: c}]\n"), &["spec.containers[0].image"]),
        ("names unique across init and app containers", pod("  initContainers: [{name: c, image: i}]\n  containers: [{name: c, image: i}]\n"), &["spec.containers[0].name"]),
        ("distinct init and app names", pod("  initContainers: [{name: init, image: i}]\n  containers: [{name: c, image: i}]\n"), &[]),
        ("restartPolicy ok", pod("  restartPolicy: OnFailure\n  containers: [{name: c, image: i}]\n"), &[]),
        ("restartPolicy bad", pod("  restartPolicy: Sometimes\n  containers: [{name: c, image: i}]\n"), &["spec.restartPolicy"]),
        ("imagePullPolicy bad", pod_with_container("    imagePullPolicy: Often\n"), &["spec.containers[0].imagePullPolicy"]),
        ("port in range", pod_with_container("    ports: [{containerPort: 8080, name: http}]\n"), &[]),
        ("port 0", pod_with_container("    ports: [{containerPort: 0}]\n"), &["spec.containers[0].ports[0].containerPort"]),
        ("port too big", pod_with_container("    ports: [{containerPort: 65536}]\n"), &["spec.containers[0].ports[0].containerPort"]),
        ("port protocol bad", pod_with_container("    ports: [{containerPort: 80, protocol: HTTP}]\n"), &["spec.containers[0].ports[0].protocol"]),
        ("port name bad", pod_with_container("    ports: [{containerPort: 80, name: HTTP_1}]\n"), &["spec.containers[0].ports[0].name"]),
        ("port name duplicate", pod_with_container("    ports: [{containerPort: 80, name: web}, {containerPort: 81, name: web}]\n"), &["spec.containers[0].ports[1].name"]),
        ("hostPort duplicate", pod("  containers:\n  - {name: a, image: i, ports: [{containerPort: 80, hostPort: 8080}]}\n  - {name: b, image: i, ports: [{containerPort: 81, hostPort: 8080}]}\n"), &["spec.containers[1].ports[0].hostPort"]),
        ("limits >= requests", pod_with_container("    resources: {requests: {cpu: 250m, memory: 500Mi}, limits: {cpu: 500m, memory: 1Gi}}\n"), &[]),
        ("request above limit", pod_with_container("    resources: {requests: {cpu: \"1\"}, limits: {cpu: 500m}}\n"), &["spec.containers[0].resources.requests[cpu]"]),
        ("negative quantity", pod_with_container("    resources: {limits: {memory: -1Mi}}\n"), &["spec.containers[0].resources.limits[memory]"]),
        ("unknown resource", pod_with_container("    resources: {limits: {gpus: \"1\"}}\n"), &["spec.containers[0].resources.limits[gpus]"]),
        ("extended resource", pod_with_container("    resources: {limits: {example.com/gpu: \"1\"}}\n"), &[]),
        ("env ok", pod_with_container("    env: [{name: hello, value: world}]\n"), &[]),
        ("env name required", pod_with_container("    env: [{value: world}]\n"), &["spec.containers[0].env[0].name"]),
        ("env name bad", pod_with_container("    env: [{name: 1abc, value: x}]\n"), &["spec.containers[0].env[0].name"]),
        ("env fieldRef ok", pod_with_container("    env: [{name: IP, valueFrom: {fieldRef: {fieldPath: status.podIP}}}]\n"), &[]),
        ("env fieldRef unsupported", pod_with_container("    env: [{name: X, valueFrom: {fieldRef: {fieldPath: spec.bogus}}}]\n"), &["spec.containers[0].env[0].valueFrom.fieldRef.fieldPath"]),
        ("env value and valueFrom", pod_with_container("    env: [{name: X, value: v, valueFrom: {fieldRef: {fieldPath: metadata.name}}}]\n"), &["spec.containers[0].env[0].valueFrom"]),
        ("mount of declared volume", pod("  containers:\n  - {name: c, image: i, volumeMounts: [{name: v, mountPath: /data}]}\n  volumes: [{name: v, emptyDir: {}}]\n"), &[]),
        ("mount of undeclared volume", pod("  containers:\n  - {name: c, image: i, volumeMounts: [{name: nope, mountPath: /data}]}\n"), &["spec.containers[0].volumeMounts[0].name"]),
        ("mountPath required", pod("  containers:\n  - {name: c, image: i, volumeMounts: [{name: v}]}\n  volumes: [{name: v, emptyDir: {}}]\n"), &["spec.containers[0].volumeMounts[0].mountPath"]),
        ("mountPath unique", pod("  containers:\n  - {name: c, image: i, volumeMounts: [{name: v, mountPath: /d}, {name: w, mountPath: /d}]}\n  volumes: [{name: v, emptyDir: {}}, {name: w, emptyDir: {}}]\n"), &["spec.containers[0].volumeMounts[1].mountPath"]),
        ("volume without source", pod("  containers: [{name: c, image: i}]\n  volumes: [{name: v}]\n"), &["spec.volumes[0]"]),
        ("volume with two sources", pod("  containers: [{name: c, image: i}]\n  volumes: [{name: v, emptyDir: {}, hostPath: {path: /tmp}}]\n"), &["spec.volumes[0]"]),
        ("volume names unique", pod("  containers: [{name: c, image: i}]\n  volumes: [{name: v, emptyDir: {}}, {name: v, emptyDir: {}}]\n"), &["spec.volumes[1].name"]),
        ("hostPath path required", pod("  containers: [{name: c, image: i}]\n  volumes: [{name: v, hostPath: {path: \"\"}}]\n"), &["spec.volumes[0].hostPath.path"]),
        ("hostPath type bad", pod("  containers: [{name: c, image: i}]\n  volumes: [{name: v, hostPath: {path: /x, type: Folder}}]\n"), &["spec.volumes[0].hostPath.type"]),
        ("configMap volume ok", pod("  containers: [{name: c, image: i}]\n  volumes: [{name: v, configMap: {name: cm, items: [{key: k, path: k.txt}]}}]\n"), &[]),
        ("configMap item path escapes", pod("  containers: [{name: c, image: i}]\n  volumes: [{name: v, configMap: {name: cm, items: [{key: k, path: ../etc}]}}]\n"), &["spec.volumes[0].configMap.items[0].path"]),
        ("probe ok", pod_with_container("    readinessProbe: {httpGet: {path: /, port: 80}}\n"), &[]),
        ("probe without handler", pod_with_container("    readinessProbe: {periodSeconds: 5}\n"), &["spec.containers[0].readinessProbe"]),
        ("probe with two handlers", pod_with_container("    livenessProbe: {httpGet: {port: 80}, tcpSocket: {port: 80}}\n"), &["spec.containers[0].livenessProbe"]),
        ("probe named port ok", pod_with_container("    ports: [{name: http, containerPort: 80}]\n    livenessProbe: {httpGet: {port: http}}\n"), &[]),
        ("probe named port missing", pod_with_container("    livenessProbe: {httpGet: {port: http}}\n"), &["spec.containers[0].livenessProbe.httpGet.port"]),
        ("probe port out of range", pod_with_container("    livenessProbe: {tcpSocket: {port: 0}}\n"), &["spec.containers[0].livenessProbe.tcpSocket.port"]),
        ("exec probe needs a command", pod_with_container("    livenessProbe: {exec: {command: []}}\n"), &["spec.containers[0].livenessProbe.exec.command"]),
        ("readiness successThreshold 2 ok", pod_with_container("    readinessProbe: {tcpSocket: {port: 80}, successThreshold: 2}\n"), &[]),
        ("liveness successThreshold must be 1", pod_with_container("    livenessProbe: {tcpSocket: {port: 80}, successThreshold: 2}\n"), &["spec.containers[0].livenessProbe.successThreshold"]),
        ("startup successThreshold must be 1", pod_with_container("    startupProbe: {tcpSocket: {port: 80}, successThreshold: 3}\n"), &["spec.containers[0].startupProbe.successThreshold"]),
        ("probe period must be positive", pod_with_container("    readinessProbe: {tcpSocket: {port: 80}, periodSeconds: 0}\n"), &["spec.containers[0].readinessProbe.periodSeconds"]),
        ("probe delay negative", pod_with_container("    readinessProbe: {tcpSocket: {port: 80}, initialDelaySeconds: -1}\n"), &["spec.containers[0].readinessProbe.initialDelaySeconds"]),
        ("init container probes forbidden", pod("  initContainers: [{name: i, image: i, livenessProbe: {tcpSocket: {port: 80}}}]\n  containers: [{name: c, image: i}]\n"), &["spec.initContainers[0].livenessProbe"]),
        ("nodeSelector ok", pod("  nodeSelector: {disktype: ssd}\n  containers: [{name: c, image: i}]\n"), &[]),
        ("nodeSelector bad key", pod("  nodeSelector: {\"disk type\": ssd}\n  containers: [{name: c, image: i}]\n"), &["spec.nodeSelector"]),
        ("grace period negative", pod("  terminationGracePeriodSeconds: -1\n  containers: [{name: c, image: i}]\n"), &["spec.terminationGracePeriodSeconds"]),
        ("toleration ok", pod("  tolerations: [{key: node.kubernetes.io/unreachable, operator: Exists, effect: NoExecute, tolerationSeconds: 30}]\n  containers: [{name: c, image: i}]\n"), &[]),
        ("toleration Exists with value", pod("  tolerations: [{key: k, operator: Exists, value: v}]\n  containers: [{name: c, image: i}]\n"), &["spec.tolerations[0].operator"]),
        ("toleration seconds need NoExecute", pod("  tolerations: [{key: k, operator: Exists, effect: NoSchedule, tolerationSeconds: 3}]\n  containers: [{name: c, image: i}]\n"), &["spec.tolerations[0].effect"]),
        ("distinct hostPorts", pod("  containers:\n  - {name: a, image: i, ports: [{containerPort: 80, hostPort: 8080}]}\n  - {name: b, image: i, ports: [{containerPort: 81, hostPort: 8081}]}\n"), &[]),
        ("configMapKeyRef ok", pod_with_container("    env: [{name: X, valueFrom: {configMapKeyRef: {name: cm, key: k}}}]\n"), &[]),
        ("configMapKeyRef needs a key", pod_with_container("    env: [{name: X, valueFrom: {configMapKeyRef: {name: cm}}}]\n"), &["spec.containers[0].env[0].valueFrom.configMapKeyRef.key"]),
        ("dnsPolicy ok", pod("  dnsPolicy: Default\n  containers: [{name: c, image: i}]\n"), &[]),
        ("dnsPolicy bad", pod("  dnsPolicy: Google\n  containers: [{name: c, image: i}]\n"), &["spec.dnsPolicy"]),
        ("activeDeadlineSeconds ok", pod("  activeDeadlineSeconds: 60\n  containers: [{name: c, image: i}]\n"), &[]),
        ("activeDeadlineSeconds zero", pod("  activeDeadlineSeconds: 0\n  containers: [{name: c, image: i}]\n"), &["spec.activeDeadlineSeconds"]),
        ("emptyDir in memory", pod("  containers: [{name: c, image: i}]\n  volumes: [{name: v, emptyDir: {medium: Memory}}]\n"), &[]),
        ("emptyDir medium bad", pod("  containers: [{name: c, image: i}]\n  volumes: [{name: v, emptyDir: {medium: Disk}}]\n"), &["spec.volumes[0].emptyDir.medium"]),
        ("hostPath with ..", pod("  containers: [{name: c, image: i}]\n  volumes: [{name: v, hostPath: {path: /a/../etc}}]\n"), &["spec.volumes[0].hostPath.path"]),
        ("nodeName ok", pod("  nodeName: node-1\n  containers: [{name: c, image: i}]\n"), &[]),
        ("nodeName bad", pod("  nodeName: Node_1\n  containers: [{name: c, image: i}]\n"), &["spec.nodeName"]),
        ("image with spaces", pod("  containers: [{name: c, image: \" nginx\"}]\n"), &["spec.containers[0].image"]),
        ("bad label value", "apiVersion: v1\nkind: Pod\nmetadata: {name: p, labels: {app: -x}}\nspec:\n  containers: [{name: c, image: i}]\n".into(), &["metadata.labels[app]"]),
    ];
    for (name, yaml, expected) in cases {
        assert_case(name, yaml, expected);
    }
}

#[test]
fn all_errors_are_reported_at_once() {
    let errs = check(&pod(
        "  restartPolicy: Sometimes\n  containers:\n  - {name: Bad, ports: [{containerPort: 0}]}\n",
    ));
    assert!(errs.len() >= 4, "{errs}");
    let status = errs.to_status(
        &<skiff_core::kinds::Pod as skiff_core::Resource>::api_resource(),
        "p",
    );
    assert_eq!(status.code, Some(422));
    assert_eq!(status.reason.as_deref(), Some("Invalid"));
    assert_eq!(status.details.unwrap().causes.len(), errs.len());
}

fn replicaset(selector: &str, labels: &str, extra: &str) -> String {
    format!(
        "apiVersion: apps/v1\nkind: ReplicaSet\nmetadata: {{name: rs}}\nspec:\n  replicas: 2\n  selector: {selector}\n  template:\n    metadata: {{labels: {labels}}}\n    spec:\n      containers: [{{name: c, image: i}}]\n{extra}"
    )
}

#[test]
fn replicaset_rules() {
    let cases: &[(&str, String, &[&str])] = &[
        (
            "selector matches labels",
            replicaset("{matchLabels: {app: web}}", "{app: web, tier: f}", ""),
            &[],
        ),
        (
            "selector does not match",
            replicaset("{matchLabels: {app: web}}", "{app: db}", ""),
            &["spec.template.metadata.labels"],
        ),
        (
            "expression selector",
            replicaset(
                "{matchExpressions: [{key: app, operator: In, values: [web, api]}]}",
                "{app: api}",
                "",
            ),
            &[],
        ),
        (
            "bad operator",
            replicaset(
                "{matchExpressions: [{key: app, operator: Near, values: [web]}]}",
                "{app: web}",
                "",
            ),
            &["spec.selector"],
        ),
        (
            "empty selector",
            replicaset("{}", "{app: web}", ""),
            &["spec.selector"],
        ),
        (
            "negative replicas",
            replicaset(
                "{matchLabels: {app: web}}",
                "{app: web}",
                "  minReadySeconds: -1\n",
            )
            .replace("replicas: 2", "replicas: -1"),
            &["spec.replicas", "spec.minReadySeconds"],
        ),
        (
            "template restartPolicy must be Always",
            replicaset("{matchLabels: {app: web}}", "{app: web}", "")
                .replace("containers:", "restartPolicy: Never\n      containers:"),
            &["spec.template.spec.restartPolicy"],
        ),
        (
            "template pod spec is validated",
            replicaset("{matchLabels: {app: web}}", "{app: web}", "")
                .replace("image: i", "image: \"\""),
            &["spec.template.spec.containers[0].image"],
        ),
    ];
    for (name, yaml, expected) in cases {
        assert_case(name, yaml, expected);
    }
}

fn service(spec: &str) -> String {
    format!("apiVersion: v1\nkind: Service\nmetadata: {{name: web}}\nspec:\n{spec}")
}

#[test]
fn service_rules() {
    let cases: &[(&str, String, &[&str])] = &[
        (
            "cluster ip service",
            service("  selector: {app: web}\n  ports: [{port: 80, targetPort: 8080}]\n"),
            &[],
        ),
        (
            "node port service",
            service("  type: NodePort\n  ports: [{port: 80, nodePort: 30080}]\n"),
            &[],
        ),
        (
            "headless without ports",
            service("  clusterIP: None\n"),
            &[],
        ),
        (
            "ports required",
            service("  selector: {app: web}\n"),
            &["spec.ports"],
        ),
        (
            "service name must start with a letter",
            "apiVersion: v1\nkind: Service\nmetadata: {name: 1web}\nspec:\n  ports: [{port: 80}]\n"
                .into(),
            &["metadata.name"],
        ),
        (
            "unsupported type",
            service("  type: Magic\n  ports: [{port: 80}]\n"),
            &["spec.type"],
        ),
        (
            "external name required",
            service("  type: ExternalName\n  ports: [{port: 80}]\n"),
            &["spec.externalName"],
        ),
        (
            "external name with a cluster IP",
            service(
                "  type: ExternalName\n  externalName: db.example.com\n  clusterIP: 10.96.0.9\n",
            ),
            &["spec.clusterIP"],
        ),
        (
            "port out of range",
            service("  ports: [{port: 0}]\n"),
            &["spec.ports[0].port"],
        ),
        (
            "names required with many ports",
            service("  ports: [{port: 80}, {port: 443}]\n"),
            &["spec.ports[0].name"],
        ),
        (
            "duplicate port names",
            service("  ports: [{name: a, port: 80}, {name: a, port: 443}]\n"),
            &["spec.ports[1].name"],
        ),
        (
            "duplicate port/protocol",
            service("  ports: [{name: a, port: 80}, {name: b, port: 80}]\n"),
            &["spec.ports[1]"],
        ),
        (
            "same port different protocol",
            service("  ports: [{name: a, port: 53}, {name: b, port: 53, protocol: UDP}]\n"),
            &[],
        ),
        (
            "named targetPort",
            service("  ports: [{port: 80, targetPort: http}]\n"),
            &[],
        ),
        (
            "bad named targetPort",
            service("  ports: [{port: 80, targetPort: Bad_Name}]\n"),
            &["spec.ports[0].targetPort"],
        ),
        (
            "nodePort on ClusterIP",
            service("  ports: [{port: 80, nodePort: 30080}]\n"),
            &["spec.ports[0].nodePort"],
        ),
        (
            "bad clusterIP",
            service("  clusterIP: 10.96.0.300\n  ports: [{port: 80}]\n"),
            &["spec.clusterIP"],
        ),
        (
            "clusterIPs must agree",
            service("  clusterIP: 10.96.0.10\n  clusterIPs: [10.96.0.11]\n  ports: [{port: 80}]\n"),
            &["spec.clusterIPs[0]"],
        ),
        (
            "bad selector label",
            service("  selector: {app: \"-x\"}\n  ports: [{port: 80}]\n"),
            &["spec.selector[app]"],
        ),
        (
            "bad session affinity",
            service("  sessionAffinity: Sticky\n  ports: [{port: 80}]\n"),
            &["spec.sessionAffinity"],
        ),
    ];
    for (name, yaml, expected) in cases {
        assert_case(name, yaml, expected);
    }
}

#[test]
fn other_kinds_rules() {
    let cases: &[(&str, String, &[&str])] = &[
        ("endpoints ok", "apiVersion: v1\nkind: Endpoints\nmetadata: {name: web}\nsubsets: [{addresses: [{ip: 10.0.0.5}], ports: [{port: 8080}]}]\n".into(), &[]),
        ("endpoints bad ip", "apiVersion: v1\nkind: Endpoints\nmetadata: {name: web}\nsubsets: [{addresses: [{ip: nope}], ports: [{port: 8080}]}]\n".into(), &["subsets[0].addresses[0].ip"]),
        ("endpoints empty subset", "apiVersion: v1\nkind: Endpoints\nmetadata: {name: web}\nsubsets: [{ports: [{port: 8080}]}]\n".into(), &["subsets[0]"]),
        ("endpoints bad port", "apiVersion: v1\nkind: Endpoints\nmetadata: {name: web}\nsubsets: [{addresses: [{ip: 10.0.0.5}], ports: [{port: 0}]}]\n".into(), &["subsets[0].ports[0].port"]),
        ("node ok", "apiVersion: v1\nkind: Node\nmetadata: {name: node-1}\nspec: {podCIDR: 10.244.1.0/24, taints: [{key: dedicated, value: gpu, effect: NoSchedule}]}\n".into(), &[]),
        ("node bad cidr", "apiVersion: v1\nkind: Node\nmetadata: {name: node-1}\nspec: {podCIDR: 10.244.1.0}\n".into(), &["spec.podCIDR"]),
        ("node taint effect", "apiVersion: v1\nkind: Node\nmetadata: {name: node-1}\nspec: {taints: [{key: k, effect: Sometimes}]}\n".into(), &["spec.taints[0].effect"]),
        ("node duplicate taint", "apiVersion: v1\nkind: Node\nmetadata: {name: node-1}\nspec: {taints: [{key: k, effect: NoSchedule}, {key: k, value: x, effect: NoSchedule}]}\n".into(), &["spec.taints[1]"]),
        ("node is cluster scoped", "apiVersion: v1\nkind: Node\nmetadata: {name: node-1, namespace: default}\n".into(), &["metadata.namespace"]),
        ("namespace ok", "apiVersion: v1\nkind: Namespace\nmetadata: {name: team-a}\n".into(), &[]),
        ("namespace name is a label", "apiVersion: v1\nkind: Namespace\nmetadata: {name: team.a}\n".into(), &["metadata.name"]),
        ("configmap ok", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: cfg}\ndata: {app.properties: x}\n".into(), &[]),
        ("configmap bad key", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: cfg}\ndata: {\"a/b\": x}\n".into(), &["data[a/b]"]),
        ("configmap key in both maps", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: cfg}\ndata: {k: x}\nbinaryData: {k: eA==}\n".into(), &["binaryData[k]"]),
        ("event ok", "apiVersion: v1\nkind: Event\nmetadata: {name: e.1, namespace: default}\ninvolvedObject: {kind: Pod, name: p, namespace: default}\nreason: Started\ntype: Normal\n".into(), &[]),
        ("event bad type", "apiVersion: v1\nkind: Event\nmetadata: {name: e.1}\ninvolvedObject: {kind: Pod, name: p}\ntype: Info\n".into(), &["type"]),
        ("event namespace mismatch", "apiVersion: v1\nkind: Event\nmetadata: {name: e.1, namespace: a}\ninvolvedObject: {kind: Pod, name: p, namespace: b}\n".into(), &["involvedObject.namespace"]),
        ("lease ok", "apiVersion: coordination.k8s.io/v1\nkind: Lease\nmetadata: {name: node-1, namespace: kube-node-lease}\nspec: {holderIdentity: node-1, leaseDurationSeconds: 40}\n".into(), &[]),
        ("lease duration positive", "apiVersion: coordination.k8s.io/v1\nkind: Lease\nmetadata: {name: l}\nspec: {leaseDurationSeconds: 0}\n".into(), &["spec.leaseDurationSeconds"]),
    ];
    for (name, yaml, expected) in cases {
        assert_case(name, yaml, expected);
    }
}
