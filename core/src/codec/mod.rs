//! Decoding manifests: multi-document YAML and JSON into the right kind by `apiVersion` and `kind`.
//!
//! A [`Scheme`] knows the kinds; [`Scheme::decode`] turns text into [`Decoded`] documents, each holding an
//! [`Object`] (typed underneath: downcast it to `Pod`, `ReplicaSet`, or your own kind). Errors name the
//! document, the line where the parser knows it, and the field ([`DecodeError`]). Fields a kind does not
//! have are rejected in [`Strictness::Strict`] mode and reported as warnings otherwise, as the API server's
//! `fieldValidation` does.
//!
//! ```
//! use skiff_core::codec::{DecodeOptions, Scheme};
//! use skiff_core::kinds::{Pod, Service};
//!
//! let manifest = "\
//! apiVersion: v1
//! kind: Service
//! metadata: {name: web}
//! spec:
//!   selector: {app: web}
//!   ports: [{port: 80}]
//! ---
//! apiVersion: v1
//! kind: Pod
//! metadata: {name: web, labels: {app: web}}
//! spec:
//!   containers: [{name: web, image: nginx, imagee: typo}]
//! ";
//! let docs = Scheme::builtin().decode(manifest, DecodeOptions::default()).unwrap();
//! assert!(docs[0].object.downcast_ref::<Service>().is_some());
//! assert_eq!(docs[1].line, 8);
//! assert_eq!(docs[1].warnings, vec!["unknown field \"spec.containers[0].imagee\""]);
//! ```

mod documents;
mod error;
mod object;
mod scheme;
mod typed;

pub use error::DecodeError;
pub use object::{AnyResource, Object};
pub use scheme::{DecodeOptions, Decoded, SchemaFn, Scheme, Strictness};
pub use typed::{decode_typed, Source, TypedError};
