//! Validation as Kubernetes does it: every error, each with its field path and Kubernetes' wording.
//!
//! [`Validate`] is implemented by every built-in kind; implement it for your own kinds (the default
//! method accepts everything, so `impl Validate for MyKind {}` is enough to register a kind).
//! The API server turns a non-empty [`FieldErrors`] into a 422 `Invalid` status with one cause per error
//! ([`FieldErrors::to_status`]).

mod apiservice;
mod configmap;
mod endpoint_slice;
mod endpoints;
mod event;
mod field;
mod ip_address;
mod lease;
pub mod names;
mod namespace;
mod node;
pub mod object_meta;
pub mod pod;
mod ports;
mod replicaset;
mod secret;
mod service;

pub use endpoint_slice::ADDRESS_TYPES;
pub use event::EVENT_TYPES;
pub use field::{ErrorType, FieldError, FieldErrors, FieldPath};
pub use node::TAINT_EFFECTS;
pub use service::SERVICE_TYPES;

/// A kind that can check itself the way the Kubernetes API server would on create and update.
pub trait Validate {
    /// Returns every problem found (empty = valid). Call after defaulting, as the API server does.
    fn validate(&self) -> FieldErrors {
        FieldErrors::default()
    }
}
