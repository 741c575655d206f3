//! Namespace defaults (`SetDefaults_Namespace`, `SetDefaults_NamespaceStatus`, and the `kubernetes` finalizer
//! the namespace registry adds on create).

use super::{fill, ApplyDefaults};
use crate::kinds::{Namespace, NamespaceStatus};

/// The label Kubernetes puts on every namespace, holding its name (so selectors can pick namespaces by name).
pub const METADATA_NAME_LABEL: &str = "kubernetes.io/metadata.name";

impl ApplyDefaults for Namespace {
    /// `spec.finalizers` `["kubernetes"]` when empty, `status.phase` `Active`, and the label
    /// [`METADATA_NAME_LABEL`] set to the name (always overwritten, as Kubernetes does, when there is a name).
    fn apply_defaults(&mut self) {
        if self.spec.finalizers.is_empty() {
            self.spec.finalizers.push("kubernetes".into());
        }
        let status = self.status.get_or_insert_with(NamespaceStatus::default);
        fill(&mut status.phase, "Active");
        if let Some(name) = self.metadata.name.clone().filter(|n| !n.is_empty()) {
            self.metadata
                .labels
                .insert(METADATA_NAME_LABEL.to_string(), name);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finalizer_phase_and_name_label() {
        let mut ns = Namespace::named("team");
        ns.apply_defaults();
        assert_eq!(ns.spec.finalizers, ["kubernetes"]);
        assert_eq!(ns.status.unwrap().phase.as_deref(), Some("Active"));
        assert_eq!(ns.metadata.labels[METADATA_NAME_LABEL], "team");
    }

    #[test]
    fn given_values_are_kept_but_the_name_label_follows_the_name() {
        let mut ns: Namespace = serde_json::from_value(serde_json::json!({
            "metadata": {"name": "team", "labels": {"kubernetes.io/metadata.name": "other", "a": "b"}},
            "spec": {"finalizers": ["example.com/cleanup"]},
            "status": {"phase": "Terminating"}
        }))
        .unwrap();
        ns.apply_defaults();
        assert_eq!(ns.spec.finalizers, ["example.com/cleanup"]);
        assert_eq!(ns.status.unwrap().phase.as_deref(), Some("Terminating"));
        assert_eq!(ns.metadata.labels[METADATA_NAME_LABEL], "team");
        assert_eq!(ns.metadata.labels["a"], "b");
    }

    #[test]
    fn no_label_without_a_name() {
        let mut ns = Namespace::default();
        ns.metadata.generate_name = Some("team-".into());
        ns.apply_defaults();
        assert!(ns.metadata.labels.is_empty());
    }
}
