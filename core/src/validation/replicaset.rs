//! ReplicaSet validation.

use super::names::dns1123_subdomain;
use super::object_meta::{validate_labels, validate_object_meta};
use super::pod::validate_pod_spec;
use super::{FieldError, FieldErrors, FieldPath, Validate};
use crate::kinds::ReplicaSet;
use crate::Resource;

impl Validate for ReplicaSet {
    fn validate(&self) -> FieldErrors {
        let mut errs = validate_object_meta(&self.metadata, ReplicaSet::SCOPE, dns1123_subdomain);
        let spec = FieldPath::new("spec");
        if let Some(r) = self.spec.replicas.filter(|r| *r < 0) {
            errs.push(FieldError::invalid(
                &spec.child("replicas"),
                r,
                "must be greater than or equal to 0",
            ));
        }
        if let Some(m) = self.spec.min_ready_seconds.filter(|m| *m < 0) {
            errs.push(FieldError::invalid(
                &spec.child("minReadySeconds"),
                m,
                "must be greater than or equal to 0",
            ));
        }
        let sel_path = spec.child("selector");
        let template = spec.child("template");
        let labels = &self.spec.template.metadata.labels;
        let selector = &self.spec.selector;
        if selector.match_labels.is_empty() && selector.match_expressions.is_empty() {
            errs.push(FieldError::invalid(
                &sel_path,
                "{}",
                "empty selector is invalid for deployment",
            ));
        } else {
            match selector.to_selector() {
                Err(e) => errs.push(FieldError::invalid(&sel_path, "", e.to_string())),
                Ok(sel) => {
                    if !sel.matches(labels) {
                        errs.push(FieldError::invalid(
                            &template.child("metadata").child("labels"),
                            format_labels(labels),
                            "`selector` does not match template `labels`",
                        ));
                    }
                }
            }
        }
        errs.extend(validate_labels(
            labels,
            &template.child("metadata").child("labels"),
        ));
        let pod_spec = &self.spec.template.spec;
        errs.extend(validate_pod_spec(pod_spec, &template.child("spec")));
        if !pod_spec.ephemeral_containers.is_empty() {
            errs.push(FieldError::forbidden(
                &template.child("spec").child("ephemeralContainers"),
                "ephemeral containers not allowed in pod template",
            ));
        }
        if let Some(rp) = pod_spec
            .restart_policy
            .as_deref()
            .filter(|rp| *rp != "Always")
        {
            errs.push(FieldError::not_supported(
                &template.child("spec").child("restartPolicy"),
                rp,
                &["Always"],
            ));
        }
        if pod_spec.active_deadline_seconds.is_some() {
            errs.push(FieldError::forbidden(
                &template.child("spec").child("activeDeadlineSeconds"),
                "activeDeadlineSeconds in ReplicaSet is not Supported",
            ));
        }
        errs
    }
}

fn format_labels(labels: &std::collections::BTreeMap<String, String>) -> String {
    labels
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(",")
}
