//! Pod validation (`ValidatePod` in Kubernetes), also used for the pod template of ReplicaSets.

use std::collections::{BTreeMap, BTreeSet};

use super::names::{
    dns1123_label, dns1123_subdomain, env_var_name, label_value, port_name, qualified_name,
};
use super::object_meta::validate_object_meta;
use super::{FieldError, FieldErrors, FieldPath, Validate};
use crate::kinds::{
    Container, ContainerPort, EnvVar, Pod, PodSpec, Probe, ResourceRequirements, Toleration, Volume,
};
use crate::{IntOrString, Quantity, Resource};

/// Restart policies a pod may have.
pub const RESTART_POLICIES: &[&str] = &["Always", "OnFailure", "Never"];
/// Image pull policies a container may have.
pub const PULL_POLICIES: &[&str] = &["Always", "IfNotPresent", "Never"];
/// Port protocols.
pub const PROTOCOLS: &[&str] = &["TCP", "UDP", "SCTP"];
/// DNS policies.
pub const DNS_POLICIES: &[&str] = &["ClusterFirst", "ClusterFirstWithHostNet", "Default", "None"];
/// Resource names Skiff understands in requests and limits (plus any `domain/name` extended resource).
pub const STANDARD_RESOURCES: &[&str] = &["cpu", "memory", "ephemeral-storage", "pods"];

impl Validate for Pod {
    fn validate(&self) -> FieldErrors {
        let mut errs = validate_object_meta(&self.metadata, Pod::SCOPE, dns1123_subdomain);
        errs.extend(validate_pod_spec(&self.spec, &FieldPath::new("spec")));
        errs
    }
}

/// Validates a pod spec found at `path` (`spec`, or `spec.template.spec` in a ReplicaSet).
pub fn validate_pod_spec(spec: &PodSpec, path: &FieldPath) -> FieldErrors {
    let mut errs = FieldErrors::default();
    let volumes = validate_volumes(&spec.volumes, &path.child("volumes"), &mut errs);

    if spec.containers.is_empty() {
        errs.push(FieldError::required(&path.child("containers"), ""));
    }
    // Container names are unique across init and app containers.
    let mut names = BTreeSet::new();
    for (list, field) in [
        (&spec.init_containers, "initContainers"),
        (&spec.containers, "containers"),
    ] {
        let list_path = path.child(field);
        for (i, c) in list.iter().enumerate() {
            let p = list_path.index(i);
            if !c.name.is_empty() && !names.insert(c.name.as_str()) {
                errs.push(FieldError::duplicate(&p.child("name"), &c.name));
            }
            errs.extend(validate_container(
                c,
                &p,
                &volumes,
                field == "initContainers",
            ));
        }
    }
    validate_ephemeral_containers(spec, path, &volumes, &mut names, &mut errs);
    validate_host_ports(spec, path, &mut errs);

    if let Some(rp) = &spec.restart_policy {
        if !RESTART_POLICIES.contains(&rp.as_str()) {
            errs.push(FieldError::not_supported(
                &path.child("restartPolicy"),
                rp,
                RESTART_POLICIES,
            ));
        }
    }
    if let Some(dp) = &spec.dns_policy {
        if !DNS_POLICIES.contains(&dp.as_str()) {
            errs.push(FieldError::not_supported(
                &path.child("dnsPolicy"),
                dp,
                DNS_POLICIES,
            ));
        }
    }
    let dns = spec.dns_config.clone().unwrap_or_default();
    let dns_path = path.child("dnsConfig");
    if spec.dns_policy.as_deref() == Some("None") && dns.nameservers.is_empty() {
        errs.push(FieldError::required(
            &dns_path.child("nameservers"),
            "must provide at least one DNS nameserver when `dnsPolicy` is None",
        ));
    }
    if dns.nameservers.len() > 3 {
        errs.push(FieldError::invalid(
            &dns_path.child("nameservers"),
            dns.nameservers.join(","),
            "must not have more than 3 nameservers",
        ));
    }
    for (i, ns) in dns.nameservers.iter().enumerate() {
        for msg in super::names::ip_address(ns) {
            errs.push(FieldError::invalid(
                &dns_path.child("nameservers").index(i),
                ns,
                msg,
            ));
        }
    }
    if dns.searches.len() > 32 {
        errs.push(FieldError::invalid(
            &dns_path.child("searches"),
            dns.searches.join(","),
            "must not have more than 32 search paths",
        ));
    }
    for (i, o) in dns.options.iter().enumerate() {
        if o.name.is_empty() {
            errs.push(FieldError::required(
                &dns_path.child("options").index(i).child("name"),
                "",
            ));
        }
    }
    if let Some(g) = spec.termination_grace_period_seconds {
        if g < 0 {
            errs.push(FieldError::invalid(
                &path.child("terminationGracePeriodSeconds"),
                g,
                "must be greater than or equal to 0",
            ));
        }
    }
    if let Some(d) = spec.active_deadline_seconds {
        if d <= 0 {
            errs.push(FieldError::invalid(
                &path.child("activeDeadlineSeconds"),
                d,
                "must be between 1 and 2147483647, inclusive",
            ));
        }
    }
    for (k, v) in &spec.node_selector {
        let p = path.child("nodeSelector");
        for msg in qualified_name(k) {
            errs.push(FieldError::invalid(&p, k, msg));
        }
        for msg in label_value(v) {
            errs.push(FieldError::invalid(&p.key(k), v, msg));
        }
    }
    if let Some(node) = spec.node_name.as_deref().filter(|n| !n.is_empty()) {
        for msg in dns1123_subdomain(node) {
            errs.push(FieldError::invalid(&path.child("nodeName"), node, msg));
        }
    }
    for (i, t) in spec.tolerations.iter().enumerate() {
        errs.extend(validate_toleration(t, &path.child("tolerations").index(i)));
    }
    errs
}

fn validate_volumes(
    volumes: &[Volume],
    path: &FieldPath,
    errs: &mut FieldErrors,
) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    for (i, v) in volumes.iter().enumerate() {
        let p = path.index(i);
        if v.name.is_empty() {
            errs.push(FieldError::required(&p.child("name"), ""));
        } else {
            for msg in dns1123_label(&v.name) {
                errs.push(FieldError::invalid(&p.child("name"), &v.name, msg));
            }
            if !names.insert(v.name.clone()) {
                errs.push(FieldError::duplicate(&p.child("name"), &v.name));
            }
        }
        let sources = [
            v.empty_dir.is_some(),
            v.host_path.is_some(),
            v.config_map.is_some(),
            v.secret.is_some(),
        ]
        .iter()
        .filter(|s| **s)
        .count();
        match sources {
            0 => errs.push(FieldError::required(&p, "must specify a volume type")),
            1 => {}
            _ => errs.push(FieldError::forbidden(
                &p,
                "may not specify more than 1 volume type",
            )),
        }
        if let Some(hp) = &v.host_path {
            let hp_path = p.child("hostPath").child("path");
            if hp.path.is_empty() {
                errs.push(FieldError::required(&hp_path, ""));
            } else if hp.path.split('/').any(|seg| seg == "..") {
                errs.push(FieldError::invalid(
                    &hp_path,
                    &hp.path,
                    "must not contain '..'",
                ));
            }
            const HOST_PATH_TYPES: &[&str] = &[
                "",
                "DirectoryOrCreate",
                "Directory",
                "FileOrCreate",
                "File",
                "Socket",
                "CharDevice",
                "BlockDevice",
            ];
            if let Some(t) = &hp.type_ {
                if !HOST_PATH_TYPES.contains(&t.as_str()) {
                    errs.push(FieldError::not_supported(
                        &p.child("hostPath").child("type"),
                        t,
                        HOST_PATH_TYPES,
                    ));
                }
            }
        }
        let projected = [
            v.config_map
                .as_ref()
                .map(|cm| ("configMap", "name", cm.name.as_deref(), &cm.items)),
            v.secret
                .as_ref()
                .map(|s| ("secret", "secretName", s.secret_name.as_deref(), &s.items)),
        ];
        for (kind, name_field, name, items) in projected.into_iter().flatten() {
            let cm_path = p.child(kind);
            if name.unwrap_or("").is_empty() {
                errs.push(FieldError::required(&cm_path.child(name_field), ""));
            }
            for (j, item) in items.iter().enumerate() {
                let ip = cm_path.child("items").index(j);
                if item.key.is_empty() {
                    errs.push(FieldError::required(&ip.child("key"), ""));
                }
                if item.path.is_empty() {
                    errs.push(FieldError::required(&ip.child("path"), ""));
                } else if item.path.starts_with('/') || item.path.split('/').any(|s| s == "..") {
                    errs.push(FieldError::invalid(
                        &ip.child("path"),
                        &item.path,
                        "must be a relative path without '..'",
                    ));
                }
            }
        }
        if let Some(ed) = &v.empty_dir {
            if let Some(m) = &ed.medium {
                if !["", "Memory"].contains(&m.as_str()) {
                    errs.push(FieldError::not_supported(
                        &p.child("emptyDir").child("medium"),
                        m,
                        &["", "Memory"],
                    ));
                }
            }
        }
    }
    names
}

/// Ephemeral containers (Kubernetes' `validateEphemeralContainers`): a container each, named uniquely
/// across every container of the pod, targeting an app or init container, and without the fields a
/// pod's own services rely on (ports, probes, resources, subPath mounts).
fn validate_ephemeral_containers<'a>(
    spec: &'a PodSpec,
    path: &FieldPath,
    volumes: &BTreeSet<String>,
    names: &mut BTreeSet<&'a str>,
    errs: &mut FieldErrors,
) {
    let targets: BTreeSet<&str> = spec
        .containers
        .iter()
        .chain(&spec.init_containers)
        .map(|c| c.name.as_str())
        .collect();
    let list_path = path.child("ephemeralContainers");
    for (i, ec) in spec.ephemeral_containers.iter().enumerate() {
        let p = list_path.index(i);
        errs.extend(validate_container(ec, &p, volumes, false));
        if !ec.name.is_empty() && !names.insert(ec.name.as_str()) {
            errs.push(FieldError::duplicate(&p.child("name"), &ec.name));
        }
        if let Some(t) = ec.target_container_name.as_deref() {
            if !targets.contains(t) {
                errs.push(FieldError::not_found(&p.child("targetContainerName"), t));
            }
        }
        let resources = &ec.resources;
        let disallowed = [
            ("ports", !ec.ports.is_empty()),
            (
                "resources",
                !resources.limits.is_empty() || !resources.requests.is_empty(),
            ),
            ("livenessProbe", ec.liveness_probe.is_some()),
            ("readinessProbe", ec.readiness_probe.is_some()),
            ("startupProbe", ec.startup_probe.is_some()),
        ];
        for (field, set) in disallowed {
            if set {
                errs.push(FieldError::forbidden(
                    &p.child(field),
                    "cannot be set for an Ephemeral Container",
                ));
            }
        }
        for (j, m) in ec.volume_mounts.iter().enumerate() {
            if m.sub_path.as_deref().is_some_and(|s| !s.is_empty()) {
                errs.push(FieldError::forbidden(
                    &p.child("volumeMounts").index(j).child("subPath"),
                    "cannot be set for an Ephemeral Container",
                ));
            }
        }
    }
}

/// What a write of the `pods/ephemeralcontainers` subresource may change (Kubernetes'
/// `ValidatePodEphemeralContainersUpdate`): ephemeral containers are only ever added. `new` is the
/// stored pod with the request's `spec.ephemeralContainers`; the whole pod is validated as well.
///
/// ```
/// use skiff_core::kinds::{Container, EphemeralContainer, Pod};
/// use skiff_core::validation::pod::validate_ephemeral_containers_update;
/// let mut old = Pod::named("web");
/// old.spec.containers.push(Container::new("web", "nginx"));
/// let mut new = old.clone();
/// new.spec.ephemeral_containers.push(EphemeralContainer {
///     container: Container::new("debugger", "busybox"),
///     target_container_name: Some("web".into()),
/// });
/// assert!(validate_ephemeral_containers_update(&new, &old).is_empty());
/// // Once added, it stays as it is.
/// let errs = validate_ephemeral_containers_update(&old, &new);
/// assert_eq!(
///     errs.iter().next().unwrap().to_string(),
///     "spec.ephemeralContainers: Forbidden: existing ephemeral containers \"debugger\" may not be removed"
/// );
/// ```
pub fn validate_ephemeral_containers_update(new: &Pod, old: &Pod) -> FieldErrors {
    let mut errs = new.validate();
    let path = FieldPath::new("spec").child("ephemeralContainers");
    for before in &old.spec.ephemeral_containers {
        match new
            .spec
            .ephemeral_containers
            .iter()
            .find(|c| c.name == before.name)
        {
            None => errs.push(FieldError::forbidden(
                &path,
                format!(
                    "existing ephemeral containers {:?} may not be removed",
                    before.name
                ),
            )),
            Some(after) if after != before => errs.push(FieldError::forbidden(
                &path,
                format!(
                    "existing ephemeral containers {:?} may not be changed",
                    before.name
                ),
            )),
            Some(_) => {}
        }
    }
    errs
}

fn validate_container(
    c: &Container,
    path: &FieldPath,
    volumes: &BTreeSet<String>,
    init: bool,
) -> FieldErrors {
    let mut errs = FieldErrors::default();
    if c.name.is_empty() {
        errs.push(FieldError::required(&path.child("name"), ""));
    } else {
        for msg in dns1123_label(&c.name) {
            errs.push(FieldError::invalid(&path.child("name"), &c.name, msg));
        }
    }
    if c.image.as_deref().unwrap_or("").trim().is_empty() {
        errs.push(FieldError::required(&path.child("image"), ""));
    } else if c.image.as_deref().is_some_and(|i| i != i.trim()) {
        errs.push(FieldError::invalid(
            &path.child("image"),
            c.image.as_deref().unwrap_or(""),
            "must not have leading or trailing whitespace",
        ));
    }
    if let Some(pp) = &c.image_pull_policy {
        if !PULL_POLICIES.contains(&pp.as_str()) {
            errs.push(FieldError::not_supported(
                &path.child("imagePullPolicy"),
                pp,
                PULL_POLICIES,
            ));
        }
    }
    let mut port_names = BTreeSet::new();
    for (i, port) in c.ports.iter().enumerate() {
        errs.extend(validate_container_port(
            port,
            &path.child("ports").index(i),
            &mut port_names,
        ));
    }
    for (i, e) in c.env.iter().enumerate() {
        errs.extend(validate_env(e, &path.child("env").index(i)));
    }
    for (i, from) in c.env_from.iter().enumerate() {
        let p = path.child("envFrom").index(i);
        let refs = [
            from.config_map_ref.as_ref().map(|r| ("configMapRef", r)),
            from.secret_ref.as_ref().map(|r| ("secretRef", r)),
        ];
        let set: Vec<_> = refs.into_iter().flatten().collect();
        match set.as_slice() {
            [] => errs.push(FieldError::invalid(
                &p,
                "",
                "must specify one of: `configMapRef` or `secretRef`",
            )),
            [(field, r)] => {
                if r.name.as_deref().unwrap_or("").is_empty() {
                    errs.push(FieldError::required(&p.child(field).child("name"), ""));
                }
            }
            _ => errs.push(FieldError::invalid(
                &p,
                "",
                "may not have more than one field specified at a time",
            )),
        }
    }
    let mut mount_paths = BTreeSet::new();
    for (i, m) in c.volume_mounts.iter().enumerate() {
        let p = path.child("volumeMounts").index(i);
        if m.name.is_empty() {
            errs.push(FieldError::required(&p.child("name"), ""));
        } else if !volumes.contains(&m.name) {
            errs.push(FieldError::not_found(&p.child("name"), &m.name));
        }
        if m.mount_path.is_empty() {
            errs.push(FieldError::required(&p.child("mountPath"), ""));
        } else if !mount_paths.insert(m.mount_path.as_str()) {
            errs.push(FieldError::invalid(
                &p.child("mountPath"),
                &m.mount_path,
                "must be unique",
            ));
        }
        if let Some(sp) = &m.sub_path {
            if sp.starts_with('/') || sp.split('/').any(|s| s == "..") {
                errs.push(FieldError::invalid(
                    &p.child("subPath"),
                    sp,
                    "must be a relative path without '..'",
                ));
            }
        }
    }
    errs.extend(validate_resources(&c.resources, &path.child("resources")));

    let probes = [
        ("livenessProbe", &c.liveness_probe),
        ("readinessProbe", &c.readiness_probe),
        ("startupProbe", &c.startup_probe),
    ];
    for (field, probe) in probes {
        let Some(probe) = probe else { continue };
        let p = path.child(field);
        if init {
            errs.push(FieldError::forbidden(
                &p,
                "may not be set for init containers",
            ));
            continue;
        }
        errs.extend(validate_probe(probe, &p, &port_names));
        if field != "readinessProbe" && probe.success_threshold.is_some_and(|s| s != 1) {
            errs.push(FieldError::invalid(
                &p.child("successThreshold"),
                probe.success_threshold.unwrap_or_default(),
                "must be 1",
            ));
        }
    }
    errs
}

fn validate_container_port(
    port: &ContainerPort,
    path: &FieldPath,
    names: &mut BTreeSet<String>,
) -> FieldErrors {
    let mut errs = FieldErrors::default();
    if let Some(name) = port.name.as_deref().filter(|n| !n.is_empty()) {
        for msg in port_name(name) {
            errs.push(FieldError::invalid(&path.child("name"), name, msg));
        }
        if !names.insert(name.to_string()) {
            errs.push(FieldError::duplicate(&path.child("name"), name));
        }
    }
    if port.container_port == 0 {
        errs.push(FieldError::required(&path.child("containerPort"), ""));
    } else if !(1..=65535).contains(&port.container_port) {
        errs.push(FieldError::invalid(
            &path.child("containerPort"),
            port.container_port,
            "must be between 1 and 65535, inclusive",
        ));
    }
    if let Some(hp) = port.host_port {
        if !(0..=65535).contains(&hp) {
            errs.push(FieldError::invalid(
                &path.child("hostPort"),
                hp,
                "must be between 1 and 65535, inclusive",
            ));
        }
    }
    if let Some(proto) = &port.protocol {
        if !PROTOCOLS.contains(&proto.as_str()) {
            errs.push(FieldError::not_supported(
                &path.child("protocol"),
                proto,
                PROTOCOLS,
            ));
        }
    }
    errs
}

fn validate_host_ports(spec: &PodSpec, path: &FieldPath, errs: &mut FieldErrors) {
    let mut seen = BTreeSet::new();
    for (i, c) in spec.containers.iter().enumerate() {
        for (j, port) in c.ports.iter().enumerate() {
            let Some(hp) = port.host_port.filter(|p| *p > 0) else {
                continue;
            };
            let proto = port.protocol.as_deref().unwrap_or("TCP");
            if !seen.insert((hp, proto.to_string())) {
                errs.push(FieldError::duplicate(
                    &path
                        .child("containers")
                        .index(i)
                        .child("ports")
                        .index(j)
                        .child("hostPort"),
                    format!("{hp}/{proto}"),
                ));
            }
        }
    }
}

fn validate_env(e: &EnvVar, path: &FieldPath) -> FieldErrors {
    let mut errs = FieldErrors::default();
    if e.name.is_empty() {
        errs.push(FieldError::required(&path.child("name"), ""));
    } else {
        for msg in env_var_name(&e.name) {
            errs.push(FieldError::invalid(&path.child("name"), &e.name, msg));
        }
    }
    if let Some(from) = &e.value_from {
        let p = path.child("valueFrom");
        if e.value.as_deref().is_some_and(|v| !v.is_empty()) {
            errs.push(FieldError::invalid(
                &p,
                "",
                "may not be specified when `value` is not empty",
            ));
        }
        let sources = [
            from.field_ref.is_some(),
            from.config_map_key_ref.is_some(),
            from.secret_key_ref.is_some(),
        ]
        .iter()
        .filter(|s| **s)
        .count();
        if sources != 1 {
            errs.push(FieldError::invalid(
                &p,
                "",
                "must specify exactly one of: `fieldRef`, `configMapKeyRef` or `secretKeyRef`",
            ));
        }
        if let Some(fr) = &from.field_ref {
            const SUPPORTED: &[&str] = &[
                "metadata.name",
                "metadata.namespace",
                "metadata.uid",
                "spec.nodeName",
                "spec.serviceAccountName",
                "status.hostIP",
                "status.podIP",
                "status.podIPs",
            ];
            let fp = p.child("fieldRef").child("fieldPath");
            let supported = SUPPORTED.contains(&fr.field_path.as_str())
                || fr.field_path.starts_with("metadata.labels['")
                || fr.field_path.starts_with("metadata.annotations['");
            if fr.field_path.is_empty() {
                errs.push(FieldError::required(&fp, ""));
            } else if !supported {
                errs.push(FieldError::not_supported(&fp, &fr.field_path, SUPPORTED));
            }
        }
        let refs = [
            from.config_map_key_ref
                .as_ref()
                .map(|r| ("configMapKeyRef", r.name.as_deref(), r.key.as_str())),
            from.secret_key_ref
                .as_ref()
                .map(|r| ("secretKeyRef", r.name.as_deref(), r.key.as_str())),
        ];
        for (field, name, key) in refs.into_iter().flatten() {
            if key.is_empty() {
                errs.push(FieldError::required(&p.child(field).child("key"), ""));
            }
            if name.unwrap_or("").is_empty() {
                errs.push(FieldError::required(&p.child(field).child("name"), ""));
            }
        }
    }
    errs
}

/// Validates requests and limits: known resource names, non-negative, and limit >= request.
pub fn validate_resources(r: &ResourceRequirements, path: &FieldPath) -> FieldErrors {
    let mut errs = FieldErrors::default();
    let check_map = |map: &BTreeMap<String, Quantity>, p: FieldPath, errs: &mut FieldErrors| {
        for (name, q) in map {
            let is_extended = name.contains('/') && qualified_name(name).is_empty();
            if !STANDARD_RESOURCES.contains(&name.as_str()) && !is_extended {
                errs.push(FieldError::not_supported(
                    &p.key(name),
                    name,
                    STANDARD_RESOURCES,
                ));
            }
            if *q < Quantity::default() {
                errs.push(FieldError::invalid(
                    &p.key(name),
                    q,
                    "must be greater than or equal to 0",
                ));
            }
        }
    };
    check_map(&r.limits, path.child("limits"), &mut errs);
    check_map(&r.requests, path.child("requests"), &mut errs);
    for (name, req) in &r.requests {
        if let Some(limit) = r.limits.get(name) {
            if req > limit {
                errs.push(FieldError::invalid(
                    &path.child("requests").key(name),
                    req,
                    format!("must be less than or equal to {name} limit of {limit}"),
                ));
            }
        }
    }
    errs
}

/// Validates a probe: exactly one handler, a valid port, and positive timings.
pub fn validate_probe(
    probe: &Probe,
    path: &FieldPath,
    port_names: &BTreeSet<String>,
) -> FieldErrors {
    let mut errs = FieldErrors::default();
    let handlers = [
        probe.exec.is_some(),
        probe.http_get.is_some(),
        probe.tcp_socket.is_some(),
    ]
    .iter()
    .filter(|h| **h)
    .count();
    match handlers {
        0 => errs.push(FieldError::required(path, "must specify a handler type")),
        1 => {}
        _ => errs.push(FieldError::forbidden(
            path,
            "may not specify more than 1 handler type",
        )),
    }
    if let Some(exec) = &probe.exec {
        if exec.command.is_empty() {
            errs.push(FieldError::required(
                &path.child("exec").child("command"),
                "",
            ));
        }
    }
    if let Some(h) = &probe.http_get {
        errs.extend(validate_probe_port(
            &h.port,
            &path.child("httpGet").child("port"),
            port_names,
        ));
        if let Some(s) = &h.scheme {
            if !["HTTP", "HTTPS"].contains(&s.as_str()) {
                errs.push(FieldError::not_supported(
                    &path.child("httpGet").child("scheme"),
                    s,
                    &["HTTP", "HTTPS"],
                ));
            }
        }
    }
    if let Some(t) = &probe.tcp_socket {
        errs.extend(validate_probe_port(
            &t.port,
            &path.child("tcpSocket").child("port"),
            port_names,
        ));
    }
    let non_negative = [("initialDelaySeconds", probe.initial_delay_seconds)];
    for (field, v) in non_negative {
        if let Some(v) = v.filter(|v| *v < 0) {
            errs.push(FieldError::invalid(
                &path.child(field),
                v,
                "must be greater than or equal to 0",
            ));
        }
    }
    let positive = [
        ("timeoutSeconds", probe.timeout_seconds),
        ("periodSeconds", probe.period_seconds),
        ("successThreshold", probe.success_threshold),
        ("failureThreshold", probe.failure_threshold),
    ];
    for (field, v) in positive {
        if let Some(v) = v.filter(|v| *v < 1) {
            errs.push(FieldError::invalid(
                &path.child(field),
                v,
                "must be greater than or equal to 1",
            ));
        }
    }
    errs
}

fn validate_probe_port(
    port: &IntOrString,
    path: &FieldPath,
    port_names: &BTreeSet<String>,
) -> FieldErrors {
    let mut errs = FieldErrors::default();
    match port {
        IntOrString::Int(p) if !(1..=65535).contains(p) => errs.push(FieldError::invalid(
            path,
            p,
            "must be between 1 and 65535, inclusive",
        )),
        IntOrString::String(name) => {
            let syntax = port_name(name);
            if !syntax.is_empty() {
                for msg in syntax {
                    errs.push(FieldError::invalid(path, name, msg));
                }
            } else if !port_names.contains(name) {
                errs.push(FieldError::invalid(
                    path,
                    name,
                    "must contain the name of a container port",
                ));
            }
        }
        _ => {}
    }
    errs
}

fn validate_toleration(t: &Toleration, path: &FieldPath) -> FieldErrors {
    let mut errs = FieldErrors::default();
    let key = t.key.as_deref().unwrap_or("");
    if !key.is_empty() {
        for msg in qualified_name(key) {
            errs.push(FieldError::invalid(&path.child("key"), key, msg));
        }
    }
    match t.operator.as_deref().unwrap_or("Equal") {
        "Equal" => {
            if key.is_empty() {
                errs.push(FieldError::invalid(
                    &path.child("operator"),
                    "Equal",
                    "operator must be Exists when `key` is empty, which means \"match all values and all keys\"",
                ));
            }
        }
        "Exists" => {
            if t.value.as_deref().is_some_and(|v| !v.is_empty()) {
                errs.push(FieldError::invalid(
                    &path.child("operator"),
                    t.value.as_deref().unwrap_or(""),
                    "value must be empty when `operator` is 'Exists'",
                ));
            }
        }
        other => errs.push(FieldError::not_supported(
            &path.child("operator"),
            other,
            &["Equal", "Exists"],
        )),
    }
    const EFFECTS: &[&str] = &["NoSchedule", "PreferNoSchedule", "NoExecute"];
    if let Some(e) = t.effect.as_deref().filter(|e| !e.is_empty()) {
        if !EFFECTS.contains(&e) {
            errs.push(FieldError::not_supported(&path.child("effect"), e, EFFECTS));
        }
    }
    if t.toleration_seconds.is_some() && t.effect.as_deref() != Some("NoExecute") {
        errs.push(FieldError::invalid(
            &path.child("effect"),
            t.effect.as_deref().unwrap_or(""),
            "effect must be 'NoExecute' when `tolerationSeconds` is set",
        ));
    }
    errs
}
