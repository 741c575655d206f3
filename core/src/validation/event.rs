//! Event (core/v1) validation.

use super::names::dns1123_subdomain;
use super::object_meta::validate_object_meta;
use super::{FieldError, FieldErrors, FieldPath, Validate};
use crate::kinds::Event;
use crate::Resource;

/// Event types.
pub const EVENT_TYPES: &[&str] = &["Normal", "Warning"];
/// Longest `reason`, `action` and `reportingComponent`, as Kubernetes.
pub const EVENT_SHORT_FIELD_MAX: usize = 128;
/// Longest `message` Skiff stores (Kubernetes truncates notes at 1 KiB for events.k8s.io; Skiff refuses more than 4 KiB).
pub const EVENT_MESSAGE_MAX: usize = 4096;

impl Validate for Event {
    fn validate(&self) -> FieldErrors {
        let mut errs = validate_object_meta(&self.metadata, Event::SCOPE, dns1123_subdomain);
        let root = FieldPath::default();
        if let Some(t) = self.type_.as_deref().filter(|t| !t.is_empty()) {
            if !EVENT_TYPES.contains(&t) {
                errs.push(FieldError::not_supported(
                    &root.child("type"),
                    t,
                    EVENT_TYPES,
                ));
            }
        }
        for (field, value) in [
            ("reason", &self.reason),
            ("action", &self.action),
            ("reportingComponent", &self.reporting_component),
        ] {
            if value
                .as_deref()
                .is_some_and(|v| v.len() > EVENT_SHORT_FIELD_MAX)
            {
                errs.push(FieldError::too_long(
                    &root.child(field),
                    EVENT_SHORT_FIELD_MAX,
                ));
            }
        }
        if self
            .message
            .as_deref()
            .is_some_and(|m| m.len() > EVENT_MESSAGE_MAX)
        {
            errs.push(FieldError::too_long(
                &root.child("message"),
                EVENT_MESSAGE_MAX,
            ));
        }
        let involved = root.child("involvedObject");
        if self
            .involved_object
            .kind
            .as_deref()
            .unwrap_or("")
            .is_empty()
        {
            errs.push(FieldError::required(&involved.child("kind"), ""));
        }
        if let (Some(ns), Some(obj_ns)) = (
            self.metadata.namespace.as_deref(),
            self.involved_object.namespace.as_deref(),
        ) {
            if !obj_ns.is_empty() && ns != obj_ns {
                errs.push(FieldError::invalid(
                    &involved.child("namespace"),
                    obj_ns,
                    "does not match event.namespace",
                ));
            }
        }
        if self.count.is_some_and(|c| c < 0) {
            errs.push(FieldError::invalid(
                &root.child("count"),
                self.count.unwrap_or_default(),
                "must be greater than or equal to 0",
            ));
        }
        errs
    }
}
