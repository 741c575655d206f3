//! Secret validation: keys as ConfigMap keys, values base64, at most 1 MiB, and what each
//! `kubernetes.io/...` type requires, with Kubernetes' messages.

use base64::Engine as _;

use super::names::{config_map_key, dns1123_subdomain};
use super::object_meta::validate_object_meta;
use super::{FieldError, FieldErrors, FieldPath, Validate};
use crate::kinds::{
    Secret, DOCKER_CFG_KEY, DOCKER_CONFIG_JSON_KEY, SECRET_TYPE_BASIC_AUTH, SECRET_TYPE_DOCKERCFG,
    SECRET_TYPE_DOCKER_CONFIG_JSON, SECRET_TYPE_SSH_AUTH, SECRET_TYPE_TLS,
};
use crate::Resource;

/// Most bytes the (decoded) data of one Secret may take, as Kubernetes.
pub const SECRET_MAX_BYTES: usize = 1024 * 1024;

impl Validate for Secret {
    fn validate(&self) -> FieldErrors {
        let mut errs = validate_object_meta(&self.metadata, Secret::SCOPE, dns1123_subdomain);
        let data = FieldPath::new("data");
        let mut total = 0;
        for (k, v) in &self.data {
            for msg in config_map_key(k) {
                errs.push(FieldError::invalid(&data.key(k), k, msg));
            }
            match base64::engine::general_purpose::STANDARD.decode(v) {
                Ok(bytes) => total += bytes.len(),
                Err(e) => errs.push(FieldError::invalid(
                    &data.key(k),
                    "<secret contents redacted>",
                    format!("illegal base64 data: {e}"),
                )),
            }
        }
        if total > SECRET_MAX_BYTES {
            errs.push(FieldError::too_long(&data, SECRET_MAX_BYTES));
        }
        let require = |key: &str, errs: &mut FieldErrors| {
            if !self.data.contains_key(key) {
                errs.push(FieldError::required(&data.key(key), ""));
            }
        };
        let json = |key: &str, errs: &mut FieldErrors| {
            if let Some(bytes) = self.decoded(key) {
                if let Err(e) = serde_json::from_slice::<serde_json::Value>(&bytes) {
                    errs.push(FieldError::invalid(
                        &data.key(key),
                        "<secret contents redacted>",
                        e.to_string(),
                    ));
                }
            }
        };
        match self.type_name() {
            SECRET_TYPE_DOCKER_CONFIG_JSON => {
                require(DOCKER_CONFIG_JSON_KEY, &mut errs);
                json(DOCKER_CONFIG_JSON_KEY, &mut errs);
            }
            SECRET_TYPE_DOCKERCFG => {
                require(DOCKER_CFG_KEY, &mut errs);
                json(DOCKER_CFG_KEY, &mut errs);
            }
            SECRET_TYPE_TLS => {
                require("tls.crt", &mut errs);
                require("tls.key", &mut errs);
            }
            SECRET_TYPE_SSH_AUTH => require("ssh-privatekey", &mut errs),
            SECRET_TYPE_BASIC_AUTH
                if !self.data.contains_key("username") && !self.data.contains_key("password") =>
            {
                errs.push(FieldError::required(&data.key("username"), ""));
                errs.push(FieldError::required(&data.key("password"), ""));
            }
            _ => {}
        }
        errs
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secret(type_: &str, data: &[(&str, &str)]) -> Secret {
        let mut s = Secret::named("s");
        s.metadata.namespace = Some("default".into());
        s.type_ = Some(type_.into());
        for (k, v) in data {
            s.string_data.insert(k.to_string(), v.to_string());
        }
        s.fold_string_data();
        s
    }

    fn paths(s: &Secret) -> Vec<String> {
        s.validate().iter().map(|e| e.field.clone()).collect()
    }

    #[test]
    fn keys_values_and_types_are_checked_with_their_paths() {
        assert!(paths(&secret("Opaque", &[("password", "x")])).is_empty());
        assert_eq!(paths(&secret("Opaque", &[("a/b", "x")])), ["data[a/b]"]);
        let mut bad = secret("Opaque", &[]);
        bad.data.insert("k".into(), "not base64!".into());
        assert_eq!(paths(&bad), ["data[k]"]);
        assert_eq!(
            paths(&secret(SECRET_TYPE_DOCKER_CONFIG_JSON, &[])),
            ["data[.dockerconfigjson]"]
        );
        assert_eq!(
            paths(&secret(
                SECRET_TYPE_DOCKER_CONFIG_JSON,
                &[(".dockerconfigjson", "{not json")]
            )),
            ["data[.dockerconfigjson]"]
        );
        assert!(paths(&secret(
            SECRET_TYPE_DOCKER_CONFIG_JSON,
            &[(".dockerconfigjson", r#"{"auths":{}}"#)]
        ))
        .is_empty());
        assert_eq!(
            paths(&secret(SECRET_TYPE_TLS, &[("tls.crt", "c")])),
            ["data[tls.key]"]
        );
        let big = "x".repeat(SECRET_MAX_BYTES + 1);
        assert_eq!(paths(&secret("Opaque", &[("big", &big)])), ["data"]);
    }

    #[test]
    fn type_is_immutable_and_immutable_secrets_keep_their_data() {
        use crate::strategy::Strategy;
        let old = secret("Opaque", &[("k", "v")]);
        let mut retyped = old.clone();
        retyped.type_ = Some(SECRET_TYPE_BASIC_AUTH.into());
        let errs = retyped.validate_update(&old);
        assert_eq!(
            errs.iter().map(|e| e.field.as_str()).collect::<Vec<_>>(),
            ["type"]
        );
        let mut frozen = old.clone();
        frozen.immutable = Some(true);
        let mut changed = frozen.clone();
        changed.string_data.insert("k".into(), "w".into());
        changed.prepare_for_update(&frozen);
        assert_eq!(
            changed.decoded("k").unwrap(),
            b"w",
            "stringData folded on update"
        );
        let errs = changed.validate_update(&frozen);
        assert_eq!(
            errs.iter().map(|e| e.field.as_str()).collect::<Vec<_>>(),
            ["data"]
        );
        assert!(frozen.validate_update(&frozen).is_empty());
    }
}
