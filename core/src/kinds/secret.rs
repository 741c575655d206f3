//! Secret (core/v1): small sensitive values (passwords, tokens, registry credentials, TLS keys),
//! consumed as env vars, files or image pull credentials.
//!
//! On the wire `data` holds base64; `stringData` is a write-only convenience the API server folds
//! into `data` (see [`Secret::fold_string_data`]), so a stored Secret never has it.
//!
//! ```
//! use skiff_core::kinds::Secret;
//! let mut s = Secret::named("db");
//! s.string_data.insert("password".into(), "hunter2".into());
//! s.fold_string_data();
//! assert_eq!(s.data["password"], "aHVudGVyMg==");
//! assert_eq!(s.decoded("password").unwrap(), b"hunter2");
//! ```

use std::collections::BTreeMap;

use base64::Engine as _;

use crate::object;

/// `type` of a Secret without one.
pub const SECRET_TYPE_OPAQUE: &str = "Opaque";
/// `type` of registry credentials in `~/.docker/config.json`'s format, under [`DOCKER_CONFIG_JSON_KEY`].
pub const SECRET_TYPE_DOCKER_CONFIG_JSON: &str = "kubernetes.io/dockerconfigjson";
/// The key of a [`SECRET_TYPE_DOCKER_CONFIG_JSON`] Secret.
pub const DOCKER_CONFIG_JSON_KEY: &str = ".dockerconfigjson";
/// `type` of the legacy `~/.dockercfg` format, under [`DOCKER_CFG_KEY`].
pub const SECRET_TYPE_DOCKERCFG: &str = "kubernetes.io/dockercfg";
/// The key of a [`SECRET_TYPE_DOCKERCFG`] Secret.
pub const DOCKER_CFG_KEY: &str = ".dockercfg";
/// `type` of a TLS key pair (`tls.crt`, `tls.key`).
pub const SECRET_TYPE_TLS: &str = "kubernetes.io/tls";
/// `type` of a user name and password (`username` or `password`).
pub const SECRET_TYPE_BASIC_AUTH: &str = "kubernetes.io/basic-auth";
/// `type` of an SSH key (`ssh-privatekey`).
pub const SECRET_TYPE_SSH_AUTH: &str = "kubernetes.io/ssh-auth";

object! {
    /// A Secret.
    pub struct Secret {
        /// When true, data can no longer change.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub immutable: Option<bool>,
        /// Values, base64-encoded on the wire.
        #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
        pub data: BTreeMap<String, String>,
        /// Write-only plain-text values, folded into `data` by the server.
        #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
        pub string_data: BTreeMap<String, String>,
        /// What it holds (`Opaque` by default, or one of the `kubernetes.io/...` types).
        #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
        pub type_: Option<String>,
    }
    resource {
        kind: "Secret", group: "", version: "v1",
        plural: "secrets", singular: "secret", short_names: [], scope: Namespaced,
    }
}

impl Secret {
    /// Moves `stringData` into `data` (base64), a `stringData` key winning over the same `data`
    /// key, as the API server does on every write.
    pub fn fold_string_data(&mut self) {
        let plain = std::mem::take(&mut self.string_data);
        for (k, v) in plain {
            self.data
                .insert(k, base64::engine::general_purpose::STANDARD.encode(v));
        }
    }

    /// The value of `key`, decoded; `None` when absent or not base64.
    pub fn decoded(&self, key: &str) -> Option<Vec<u8>> {
        self.data
            .get(key)
            .and_then(|v| base64::engine::general_purpose::STANDARD.decode(v).ok())
    }

    /// The type, `Opaque` when unset.
    pub fn type_name(&self) -> &str {
        self.type_.as_deref().unwrap_or(SECRET_TYPE_OPAQUE)
    }
}
