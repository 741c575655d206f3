//! # skiff-api
//!
//! The front door of a Skiff cluster: the HTTP API server ([`server::ApiServer`], axum) that speaks the
//! Kubernetes REST dialect — discovery, get/list/watch, create, replace, patch, delete, the status
//! subresource, `metav1.Status` errors — so that the real `kubectl` works against it, and helpers to write
//! a kubeconfig ([`kubeconfig`]).
//!
//! Still to come (see the API-server issue): TLS and bearer tokens, Tables for `kubectl get` columns,
//! OpenAPI v3, strategic merge patch and server-side apply, the scale/binding/log/exec subresources,
//! `/metrics`, and the HTTP implementation of `skiff_core::client::Client`.

pub mod kubeconfig;
pub mod server;

pub use server::ApiServer;
