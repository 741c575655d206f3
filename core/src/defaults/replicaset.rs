//! ReplicaSet defaults (apps/v1 `SetDefaults_ReplicaSet`).

use super::{default_pod_spec, ApplyDefaults};
use crate::kinds::ReplicaSet;

impl ApplyDefaults for ReplicaSet {
    /// `replicas` 1, and the pod template's spec defaulted by [`default_pod_spec`] (not the Pod-only defaults
    /// such as requests copied from limits: those are filled on the pods the controller creates). apps/v1 does
    /// not copy the template's labels to the selector, and leaves `minReadySeconds` absent (0).
    fn apply_defaults(&mut self) {
        self.spec.replicas.get_or_insert(1);
        default_pod_spec(&mut self.spec.template.spec);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rs(yaml: &str) -> ReplicaSet {
        let mut rs: ReplicaSet = serde_yaml::from_str(yaml).unwrap();
        rs.apply_defaults();
        rs
    }

    const RS: &str = "metadata: {name: web}\nspec:\n  selector: {matchLabels: {app: web}}\n  template:\n    metadata: {labels: {app: web}}\n    spec:\n      containers:\n      - name: web\n        image: nginx:1.27\n        resources: {limits: {cpu: 500m}}\n";

    #[test]
    fn replicas_default_to_one_and_an_explicit_zero_is_kept() {
        assert_eq!(rs(RS).spec.replicas, Some(1));
        let zero = RS.replace("spec:\n  selector", "spec:\n  replicas: 0\n  selector");
        assert_eq!(rs(&zero).spec.replicas, Some(0));
    }

    #[test]
    fn the_template_gets_pod_spec_defaults_only() {
        let rs = rs(RS);
        let spec = &rs.spec.template.spec;
        assert_eq!(spec.restart_policy.as_deref(), Some("Always"));
        assert_eq!(spec.termination_grace_period_seconds, Some(30));
        assert_eq!(
            spec.containers[0].image_pull_policy.as_deref(),
            Some("IfNotPresent")
        );
        assert!(spec.containers[0].resources.requests.is_empty());
        assert_eq!(spec.enable_service_links, None);
        assert_eq!(rs.spec.min_ready_seconds, None);
        let json = serde_json::to_value(&rs).unwrap();
        assert!(json["spec"].get("minReadySeconds").is_none());
    }

    #[test]
    fn the_selector_is_not_filled_from_template_labels() {
        let rs = rs(&RS.replace("  selector: {matchLabels: {app: web}}\n", ""));
        assert_eq!(rs.spec.selector, Default::default());
    }
}
