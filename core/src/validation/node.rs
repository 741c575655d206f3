//! Node validation.

use std::collections::BTreeSet;

use super::names::{cidr, dns1123_subdomain, label_value, qualified_name};
use super::object_meta::validate_object_meta;
use super::{FieldError, FieldErrors, FieldPath, Validate};
use crate::kinds::Node;
use crate::Resource;

/// Taint effects.
pub const TAINT_EFFECTS: &[&str] = &["NoSchedule", "PreferNoSchedule", "NoExecute"];

impl Validate for Node {
    fn validate(&self) -> FieldErrors {
        let mut errs = validate_object_meta(&self.metadata, Node::SCOPE, dns1123_subdomain);
        let spec = FieldPath::new("spec");
        if let Some(c) = self.spec.pod_cidr.as_deref().filter(|c| !c.is_empty()) {
            for msg in cidr(c) {
                errs.push(FieldError::invalid(&spec.child("podCIDR"), c, msg));
            }
        }
        for (i, c) in self.spec.pod_cidrs.iter().enumerate() {
            for msg in cidr(c) {
                errs.push(FieldError::invalid(
                    &spec.child("podCIDRs").index(i),
                    c,
                    msg,
                ));
            }
        }
        let mut seen = BTreeSet::new();
        for (i, t) in self.spec.taints.iter().enumerate() {
            let tp = spec.child("taints").index(i);
            if t.key.is_empty() {
                errs.push(FieldError::required(&tp.child("key"), ""));
            } else {
                for msg in qualified_name(&t.key) {
                    errs.push(FieldError::invalid(&tp.child("key"), &t.key, msg));
                }
            }
            if let Some(v) = t.value.as_deref() {
                for msg in label_value(v) {
                    errs.push(FieldError::invalid(&tp.child("value"), v, msg));
                }
            }
            if t.effect.is_empty() {
                errs.push(FieldError::required(&tp.child("effect"), ""));
            } else if !TAINT_EFFECTS.contains(&t.effect.as_str()) {
                errs.push(FieldError::not_supported(
                    &tp.child("effect"),
                    &t.effect,
                    TAINT_EFFECTS,
                ));
            }
            if !seen.insert((t.key.as_str(), t.effect.as_str())) {
                errs.push(FieldError::duplicate(
                    &tp,
                    format!("{}:{}", t.key, t.effect),
                ));
            }
        }
        errs
    }
}
