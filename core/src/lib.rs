//! # skiff-core
//!
//! The vocabulary every part of Skiff speaks, with no I/O: the Kubernetes object model
//! ([`meta`], [`kinds`]), [`Quantity`], label and field [`selector`]s, decoding of YAML/JSON manifests
//! ([`codec`]), [`validation`] and [`defaults`] as Kubernetes does them, and the [`Resource`] trait
//! through which users add their own kinds. Later issues add the `Store` and `Client` traits, informers,
//! the work queue, the controller runtime and the CRI-shaped `Runtime` trait here.
//!
//! ```
//! use skiff_core::kinds::Pod;
//! use skiff_core::Resource;
//!
//! let pod = Pod::named("web");
//! assert_eq!((Pod::KIND, pod.api_version.as_str()), ("Pod", "v1"));
//! ```

pub mod client;
pub mod codec;
pub mod controller;
pub mod defaults;
pub mod dynamic;
pub mod events;
pub mod finalizer;
pub mod informer;
pub mod intstr;
pub mod kinds;
pub mod leader_election;
pub mod managed_fields;
pub mod meta;
pub mod openapi;
pub mod quantity;
pub mod resource;
pub mod runtime;
pub mod selector;
pub mod service_network;
pub mod shutdown;
pub mod store;
pub mod strategy;
pub mod validation;
pub mod workqueue;

pub use dynamic::DynamicObject;
pub use intstr::IntOrString;
pub use quantity::Quantity;
pub use resource::{ApiResource, Resource, Scope, SelectableField};
