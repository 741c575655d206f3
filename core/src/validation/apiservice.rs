//! APIService validation.

use super::{FieldErrors, Validate};
use crate::kinds::APIService;

/// Only the API server writes APIServices (the core group's `v1.` is no DNS subdomain, and is
/// Kubernetes' name all the same): nothing to check.
impl Validate for APIService {
    fn validate(&self) -> FieldErrors {
        FieldErrors::default()
    }
}
