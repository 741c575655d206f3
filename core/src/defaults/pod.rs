//! Pod defaults (`SetDefaults_Pod`, `SetDefaults_PodSpec`, `SetDefaults_Container`, `SetDefaults_Probe`...).

use super::ApplyDefaults;
use crate::kinds::{Container, Pod, PodSpec, Probe};

impl ApplyDefaults for Pod {
    /// Everything [`default_pod_spec`] fills.
    fn apply_defaults(&mut self) {
        default_pod_spec(&mut self.spec);
    }
}

/// Fills a pod spec's defaults (also used for the pod template of ReplicaSets):
/// restartPolicy `Always`, terminationGracePeriodSeconds 30, dnsPolicy `ClusterFirst`, schedulerName
/// `default-scheduler`, enableServiceLinks true; per container: imagePullPolicy (see [`pull_policy_for`]),
/// terminationMessagePath/Policy, port protocol `TCP`, requests copied from limits where unset, probe timings,
/// httpGet path `/` and scheme `HTTP`, fieldRef apiVersion `v1`; volumes: hostPath type `""`, configMap
/// defaultMode 0644.
pub fn default_pod_spec(spec: &mut PodSpec) {
    spec.restart_policy.get_or_insert_with(|| "Always".into());
    spec.termination_grace_period_seconds.get_or_insert(30);
    spec.dns_policy.get_or_insert_with(|| "ClusterFirst".into());
    spec.scheduler_name
        .get_or_insert_with(|| "default-scheduler".into());
    spec.enable_service_links.get_or_insert(true);
    for c in spec
        .init_containers
        .iter_mut()
        .chain(spec.containers.iter_mut())
    {
        default_container(c);
    }
    for v in &mut spec.volumes {
        if let Some(hp) = &mut v.host_path {
            hp.type_.get_or_insert_with(String::new);
        }
        if let Some(cm) = &mut v.config_map {
            cm.default_mode.get_or_insert(0o644);
        }
    }
    for t in &mut spec.tolerations {
        if t.operator.as_deref().unwrap_or("").is_empty() {
            t.operator = Some("Equal".into());
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
    if c.image_pull_policy.is_none() {
        let policy = pull_policy_for(c.image.as_deref().unwrap_or(""));
        c.image_pull_policy = Some(policy.into());
    }
    c.termination_message_path
        .get_or_insert_with(|| "/dev/termination-log".into());
    c.termination_message_policy
        .get_or_insert_with(|| "File".into());
    for p in &mut c.ports {
        p.protocol.get_or_insert_with(|| "TCP".into());
    }
    for (name, limit) in &c.resources.limits {
        if !c.resources.requests.contains_key(name) {
            c.resources.requests.insert(name.clone(), *limit);
        }
    }
    for e in &mut c.env {
        if let Some(fr) = e.value_from.as_mut().and_then(|v| v.field_ref.as_mut()) {
            fr.api_version.get_or_insert_with(|| "v1".into());
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
        h.path.get_or_insert_with(|| "/".into());
        h.scheme.get_or_insert_with(|| "HTTP".into());
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
        c.readiness_probe = Some(Probe {
            http_get: Some(HttpGetAction {
                port: 80.into(),
                ..HttpGetAction::default()
            }),
            period_seconds: Some(3),
            ..Probe::default()
        });
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
}
