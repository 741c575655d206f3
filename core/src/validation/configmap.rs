//! ConfigMap validation.

use super::names::{config_map_key, dns1123_subdomain};
use super::object_meta::validate_object_meta;
use super::{FieldError, FieldErrors, FieldPath, Validate};
use crate::kinds::ConfigMap;
use crate::Resource;

/// Most bytes the data of one ConfigMap may take, as Kubernetes.
pub const CONFIG_MAP_MAX_BYTES: usize = 1024 * 1024;

impl Validate for ConfigMap {
    fn validate(&self) -> FieldErrors {
        let mut errs = validate_object_meta(&self.metadata, ConfigMap::SCOPE, dns1123_subdomain);
        let mut total = 0;
        let data = FieldPath::new("data");
        for (k, v) in &self.data {
            for msg in config_map_key(k) {
                errs.push(FieldError::invalid(&data.key(k), k, msg));
            }
            total += v.len();
        }
        let binary = FieldPath::new("binaryData");
        for (k, v) in &self.binary_data {
            for msg in config_map_key(k) {
                errs.push(FieldError::invalid(&binary.key(k), k, msg));
            }
            if self.data.contains_key(k) {
                errs.push(FieldError::invalid(
                    &binary.key(k),
                    k,
                    "duplicate of key present in data",
                ));
            }
            total += v.len();
        }
        if total > CONFIG_MAP_MAX_BYTES {
            errs.push(FieldError::too_long(
                &FieldPath::default(),
                CONFIG_MAP_MAX_BYTES,
            ));
        }
        errs
    }
}
