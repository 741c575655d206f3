//! Pod defaults (`SetDefaults_Pod`, `SetDefaults_PodSpec`, `SetDefaults_Container`, `SetDefaults_Probe`...).
//!
//! Kubernetes fills its non-pointer string fields when they are empty, so an empty string counts as unset here
//! too; fields that are pointers in Kubernetes (`terminationGracePeriodSeconds`, `enableServiceLinks`, hostPath
//! `type`, configMap `defaultMode`) are filled only when absent.
//!
//! Two deliberate differences, so that validation can report them: a probe timing given as 0 is kept (Kubernetes
//! would replace it by its default), and a volume with no source stays sourceless (Kubernetes would make it an
//! `emptyDir`).

use super::{fill, ApplyDefaults};
use crate::kinds::{Container, Pod, PodSpec, Probe};

impl ApplyDefaults for Pod {
    /// Everything [`default_pod_spec`] fills, plus what Kubernetes fills on Pods only (`SetDefaults_Pod`), not
    /// on pod templates: requests copied from limits where unset, `enableServiceLinks` true, and with
    /// `hostNetwork` each container port's `hostPort` set to its `containerPort`; and what its default
    /// admission plugins set: `serviceAccountName` (and `serviceAccount`) `default`, `priority` 0 without a
    /// priority class, `preemptionPolicy` `PreemptLowerPriority`.
    fn apply_defaults(&mut self) {
        let spec = &mut self.spec;
        default_pod_spec(spec);
        spec.enable_service_links.get_or_insert(true);
        // What kube-apiserver's default admission plugins fill on every Pod: the ServiceAccount plugin
        // names the `default` account (`serviceAccount` mirrors it), the Priority plugin gives a pod
        // without a priority class priority 0 and preemptionPolicy PreemptLowerPriority.
        fill(&mut spec.service_account_name, "default");
        spec.service_account = spec.service_account_name.clone();
        if spec
            .priority_class_name
            .as_deref()
            .is_none_or(str::is_empty)
        {
            spec.priority.get_or_insert(0);
        }
        fill(&mut spec.preemption_policy, "PreemptLowerPriority");
        let host_network = spec.host_network == Some(true);
        for c in spec
            .init_containers
            .iter_mut()
            .chain(spec.containers.iter_mut())
        {
            let resources = &mut c.resources;
            for (name, limit) in &resources.limits {
                if !resources.requests.contains_key(name) {
                    resources.requests.insert(name.clone(), *limit);
                }
            }
            if host_network {
                for p in &mut c.ports {
                    if p.host_port.unwrap_or(0) == 0 {
                        p.host_port = Some(p.container_port);
                    }
                }
            }
        }
    }
}

/// Fills a pod spec's defaults, for Pods and for the pod template of ReplicaSets alike:
/// restartPolicy `Always`, terminationGracePeriodSeconds 30, dnsPolicy `ClusterFirst`, schedulerName
/// `default-scheduler`, securityContext `{}`; per container (init, app and ephemeral): imagePullPolicy (see [`pull_policy_for`]),
/// terminationMessagePath `/dev/termination-log` and terminationMessagePolicy `File`, port protocol `TCP`,
/// probe timings (timeout 1, period 10, success 1, failure 3), httpGet path `/` and scheme `HTTP`, fieldRef
/// apiVersion `v1`; volumes: hostPath type `""`, configMap defaultMode 0644 (420).
pub fn default_pod_spec(spec: &mut PodSpec) {
    fill(&mut spec.restart_policy, "Always");
    spec.termination_grace_period_seconds.get_or_insert(30);
    fill(&mut spec.dns_policy, "ClusterFirst");
    fill(&mut spec.scheduler_name, "default-scheduler");
    spec.security_context.get_or_insert_with(Default::default);
    for c in spec
        .init_containers
        .iter_mut()
        .chain(spec.containers.iter_mut())
    {
        default_container(c);
    }
    for ec in &mut spec.ephemeral_containers {
        default_container(&mut ec.container);
    }
    for v in &mut spec.volumes {
        if let Some(hp) = &mut v.host_path {
            hp.type_.get_or_insert_with(String::new);
        }
        if let Some(cm) = &mut v.config_map {
            cm.default_mode.get_or_insert(0o644);
        }
        if let Some(secret) = &mut v.secret {
            secret.default_mode.get_or_insert(0o644);
        }
    }
}

/// The pull policy Kubernetes picks when none is given: `Always` for an image tagged `:latest` or not tagged
/// at all (and not pinned by digest), `IfNotPresent` otherwise.
///
/// ```
/// # use skiff_core::defaults::pull_policy_for;
/// assert_eq!(pull_policy_for("nginx"), "Always");
/// assert_eq!(pull_policy_for("nginx:latest"), "Always");
/// assert_eq!(pull_policy_for("localhost:5000/nginx"), "Always");
/// assert_eq!(pull_policy_for("nginx:1.27"), "IfNotPresent");
/// assert_eq!(pull_policy_for("nginx@sha256:abc"), "IfNotPresent");
/// ```
pub fn pull_policy_for(image: &str) -> &'static str {
    if image.contains('@') {
        return "IfNotPresent";
    }
    // The tag is after the last ':' of the last path segment (a ':' before a '/' is a registry port).
    let last_segment = image.rsplit('/').next().unwrap_or(image);
    match last_segment.rsplit_once(':') {
        Some((_, "latest")) | None => "Always",
        Some(_) => "IfNotPresent",
    }
}

fn default_container(c: &mut Container) {
    let policy = pull_policy_for(c.image.as_deref().unwrap_or(""));
    fill(&mut c.image_pull_policy, policy);
    fill(&mut c.termination_message_path, "/dev/termination-log");
    fill(&mut c.termination_message_policy, "File");
    for p in &mut c.ports {
        fill(&mut p.protocol, "TCP");
    }
    for e in &mut c.env {
        if let Some(fr) = e.value_from.as_mut().and_then(|v| v.field_ref.as_mut()) {
            fill(&mut fr.api_version, "v1");
        }
    }
    for probe in [
        &mut c.liveness_probe,
        &mut c.readiness_probe,
        &mut c.startup_probe,
    ]
    .into_iter()
    .flatten()
    {
        default_probe(probe);
    }
}

fn default_probe(p: &mut Probe) {
    p.timeout_seconds.get_or_insert(1);
    p.period_seconds.get_or_insert(10);
    p.success_threshold.get_or_insert(1);
    p.failure_threshold.get_or_insert(3);
    if let Some(h) = &mut p.http_get {
        fill(&mut h.path, "/");
        fill(&mut h.scheme, "HTTP");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kinds::{EnvVar, EnvVarSource, HttpGetAction, ObjectFieldSelector};
    use crate::Quantity;

    fn pod_with(c: Container) -> Pod {
        let mut pod = Pod::named("p");
        pod.spec.containers.push(c);
        pod
    }

    #[test]
    fn spec_defaults_apply_and_user_values_are_kept() {
        let mut pod = pod_with(Container::new("c", "nginx"));
        pod.apply_defaults();
        assert_eq!(pod.spec.restart_policy.as_deref(), Some("Always"));
        assert_eq!(pod.spec.termination_grace_period_seconds, Some(30));
        assert_eq!(pod.spec.dns_policy.as_deref(), Some("ClusterFirst"));
        assert_eq!(
            pod.spec.scheduler_name.as_deref(),
            Some("default-scheduler")
        );

        let mut pod = pod_with(Container::new("c", "nginx"));
        pod.spec.restart_policy = Some("Never".into());
        pod.spec.termination_grace_period_seconds = Some(5);
        pod.apply_defaults();
        assert_eq!(pod.spec.restart_policy.as_deref(), Some("Never"));
        assert_eq!(pod.spec.termination_grace_period_seconds, Some(5));
    }

    #[test]
    fn pull_policy_follows_the_tag_unless_set() {
        let mut pod = pod_with(Container::new("a", "nginx:1.27"));
        pod.spec
            .init_containers
            .push(Container::new("b", "alpine/git"));
        let mut explicit = Container::new("c", "nginx");
        explicit.image_pull_policy = Some("Never".into());
        pod.spec.containers.push(explicit);
        pod.apply_defaults();
        assert_eq!(
            pod.spec.containers[0].image_pull_policy.as_deref(),
            Some("IfNotPresent")
        );
        assert_eq!(
            pod.spec.init_containers[0].image_pull_policy.as_deref(),
            Some("Always")
        );
        assert_eq!(
            pod.spec.containers[1].image_pull_policy.as_deref(),
            Some("Never")
        );
    }

    #[test]
    fn requests_default_to_limits_only_where_unset() {
        let mut c = Container::new("c", "i");
        c.resources
            .limits
            .insert("cpu".into(), Quantity::from_millis(500));
        c.resources
            .limits
            .insert("memory".into(), Quantity::from_bytes(1 << 30));
        c.resources
            .requests
            .insert("cpu".into(), Quantity::from_millis(250));
        let mut pod = pod_with(c);
        pod.apply_defaults();
        let r = &pod.spec.containers[0].resources.requests;
        assert_eq!(r["cpu"], Quantity::from_millis(250));
        assert_eq!(r["memory"], Quantity::from_bytes(1 << 30));
    }

    #[test]
    fn probe_timings_and_http_defaults() {
        let mut c = Container::new("c", "i");
        c.readiness_probe = Some(Box::new(Probe {
            http_get: Some(HttpGetAction {
                port: 80.into(),
                ..HttpGetAction::default()
            }),
            period_seconds: Some(3),
            ..Probe::default()
        }));
        let mut pod = pod_with(c);
        pod.apply_defaults();
        let p = pod.spec.containers[0].readiness_probe.as_ref().unwrap();
        assert_eq!((p.timeout_seconds, p.period_seconds), (Some(1), Some(3)));
        assert_eq!(
            (p.success_threshold, p.failure_threshold),
            (Some(1), Some(3))
        );
        assert_eq!(
            p.initial_delay_seconds, None,
            "initialDelaySeconds stays unset (0)"
        );
        let h = p.http_get.as_ref().unwrap();
        assert_eq!(
            (h.path.as_deref(), h.scheme.as_deref()),
            (Some("/"), Some("HTTP"))
        );
    }

    #[test]
    fn ports_env_and_volumes() {
        let mut c = Container::new("c", "i");
        c.ports
            .push(serde_json::from_str(r#"{"containerPort": 80}"#).unwrap());
        c.env.push(EnvVar {
            name: "N".into(),
            value: None,
            value_from: Some(EnvVarSource {
                field_ref: Some(ObjectFieldSelector {
                    api_version: None,
                    field_path: "metadata.name".into(),
                }),
                config_map_key_ref: None,
                secret_key_ref: None,
            }),
        });
        let mut pod = pod_with(c);
        pod.spec
            .volumes
            .push(serde_json::from_str(r#"{"name": "v", "configMap": {"name": "cm"}}"#).unwrap());
        pod.apply_defaults();
        let c = &pod.spec.containers[0];
        assert_eq!(c.ports[0].protocol.as_deref(), Some("TCP"));
        let fr = c.env[0]
            .value_from
            .as_ref()
            .unwrap()
            .field_ref
            .as_ref()
            .unwrap();
        assert_eq!(fr.api_version.as_deref(), Some("v1"));
        assert_eq!(
            pod.spec.volumes[0]
                .config_map
                .as_ref()
                .unwrap()
                .default_mode,
            Some(420)
        );
    }

    #[test]
    fn empty_strings_count_as_unset() {
        let mut c: Container = serde_json::from_str(
            r#"{"name": "c", "image": "nginx:1.27", "imagePullPolicy": "", "terminationMessagePolicy": "",
                "ports": [{"containerPort": 80, "protocol": ""}],
                "livenessProbe": {"tcpSocket": {"port": 80}, "periodSeconds": 0, "failureThreshold": 5}}"#,
        )
        .unwrap();
        c.readiness_probe = Some(Box::new(Probe {
            http_get: Some(HttpGetAction {
                path: Some(String::new()),
                scheme: Some("HTTPS".into()),
                port: 8443.into(),
                ..HttpGetAction::default()
            }),
            ..Probe::default()
        }));
        let mut pod = pod_with(c);
        pod.spec.restart_policy = Some(String::new());
        pod.spec.dns_policy = Some("Default".into());
        pod.apply_defaults();
        assert_eq!(pod.spec.restart_policy.as_deref(), Some("Always"));
        assert_eq!(pod.spec.dns_policy.as_deref(), Some("Default"));
        let c = &pod.spec.containers[0];
        assert_eq!(c.image_pull_policy.as_deref(), Some("IfNotPresent"));
        assert_eq!(c.termination_message_policy.as_deref(), Some("File"));
        assert_eq!(
            c.termination_message_path.as_deref(),
            Some("/dev/termination-log")
        );
        assert_eq!(c.ports[0].protocol.as_deref(), Some("TCP"));
        let live = c.liveness_probe.as_ref().unwrap();
        assert_eq!(
            (live.timeout_seconds, live.failure_threshold),
            (Some(1), Some(5))
        );
        assert_eq!(
            live.period_seconds,
            Some(0),
            "a 0 timing is kept for validation to report"
        );
        let h = c
            .readiness_probe
            .as_ref()
            .unwrap()
            .http_get
            .as_ref()
            .unwrap();
        assert_eq!(
            (h.path.as_deref(), h.scheme.as_deref()),
            (Some("/"), Some("HTTPS"))
        );
    }

    #[test]
    fn pod_only_defaults() {
        let mut pod = pod_with(Container::new("c", "i"));
        pod.apply_defaults();
        assert_eq!(pod.spec.enable_service_links, Some(true));
        let mut pod = pod_with(Container::new("c", "i"));
        pod.spec.enable_service_links = Some(false);
        pod.apply_defaults();
        assert_eq!(pod.spec.enable_service_links, Some(false));

        // Only default_pod_spec runs for templates: no requests from limits, no enableServiceLinks.
        let mut c = Container::new("c", "i");
        c.resources
            .limits
            .insert("cpu".into(), Quantity::from_millis(500));
        let mut spec = PodSpec {
            containers: vec![c],
            ..PodSpec::default()
        };
        default_pod_spec(&mut spec);
        assert!(spec.containers[0].resources.requests.is_empty());
        assert_eq!(spec.enable_service_links, None);
        assert_eq!(spec.restart_policy.as_deref(), Some("Always"));
    }

    #[test]
    fn host_network_ports_become_host_ports() {
        let mut c = Container::new("c", "i");
        c.ports = serde_json::from_str(
            r#"[{"containerPort": 80}, {"containerPort": 443, "hostPort": 8443}]"#,
        )
        .unwrap();
        let mut pod = pod_with(c.clone());
        pod.spec.host_network = Some(true);
        pod.apply_defaults();
        let ports = &pod.spec.containers[0].ports;
        assert_eq!(
            (ports[0].host_port, ports[1].host_port),
            (Some(80), Some(8443))
        );

        let mut pod = pod_with(c);
        pod.apply_defaults();
        assert_eq!(pod.spec.containers[0].ports[0].host_port, None);
    }

    #[test]
    fn volume_sources_and_tolerations() {
        let mut pod = pod_with(Container::new("c", "i"));
        pod.spec.volumes = serde_json::from_str(
            r#"[{"name": "scratch"}, {"name": "h", "hostPath": {"path": "/home"}},
                {"name": "d", "hostPath": {"path": "/data", "type": "Directory"}},
                {"name": "cm", "configMap": {"name": "c", "defaultMode": 256}}]"#,
        )
        .unwrap();
        pod.spec.tolerations =
            serde_json::from_str(r#"[{"key": "k", "value": "v", "effect": "NoSchedule"}]"#)
                .unwrap();
        pod.apply_defaults();
        let v = &pod.spec.volumes;
        assert_eq!(
            (v[0].empty_dir.is_none(), v[0].host_path.is_none()),
            (true, true),
            "a sourceless volume is left for validation to report"
        );
        assert_eq!(v[1].host_path.as_ref().unwrap().type_.as_deref(), Some(""));
        assert_eq!(
            v[2].host_path.as_ref().unwrap().type_.as_deref(),
            Some("Directory")
        );
        assert!(
            v[1].empty_dir.is_none(),
            "a volume with a source gets no emptyDir"
        );
        assert_eq!(v[3].config_map.as_ref().unwrap().default_mode, Some(256));
        assert_eq!(
            pod.spec.tolerations[0].operator, None,
            "Kubernetes does not default a toleration's operator"
        );
    }
}
