//! Namespace validation.

use super::names::{dns1123_label, qualified_name};
use super::object_meta::validate_object_meta;
use super::{FieldError, FieldErrors, FieldPath, Validate};
use crate::kinds::Namespace;
use crate::Resource;

impl Validate for Namespace {
    fn validate(&self) -> FieldErrors {
        let mut errs = validate_object_meta(&self.metadata, Namespace::SCOPE, dns1123_label);
        let fins = FieldPath::new("spec").child("finalizers");
        for (i, f) in self.spec.finalizers.iter().enumerate() {
            for msg in qualified_name(f) {
                errs.push(FieldError::invalid(&fins.index(i), f, msg));
            }
        }
        errs
    }
}
