//! Lease validation.

use super::names::dns1123_subdomain;
use super::object_meta::validate_object_meta;
use super::{FieldError, FieldErrors, FieldPath, Validate};
use crate::kinds::Lease;
use crate::Resource;

impl Validate for Lease {
    fn validate(&self) -> FieldErrors {
        let mut errs = validate_object_meta(&self.metadata, Lease::SCOPE, dns1123_subdomain);
        let spec = FieldPath::new("spec");
        if let Some(d) = self.spec.lease_duration_seconds.filter(|d| *d <= 0) {
            errs.push(FieldError::invalid(
                &spec.child("leaseDurationSeconds"),
                d,
                "must be greater than 0",
            ));
        }
        if let Some(t) = self.spec.lease_transitions.filter(|t| *t < 0) {
            errs.push(FieldError::invalid(
                &spec.child("leaseTransitions"),
                t,
                "must be greater than or equal to 0",
            ));
        }
        errs
    }
}
