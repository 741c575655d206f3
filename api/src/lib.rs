//! # skiff-api
//!
//! The front door of a Skiff cluster: the HTTP API server ([`server::ApiServer`], axum) that speaks the
//! Kubernetes REST dialect — discovery, get/list/watch, create, replace, patch, delete, the status
//! subresource, `metav1.Status` errors — so that the real `kubectl` works against it, and helpers to write
//! a kubeconfig ([`kubeconfig`]).
//!
//! Still to come (see the API-server issue): TLS and bearer tokens, Tables for `kubectl get` columns,
//! OpenAPI v3, strategic merge patch and server-side apply, the scale/binding/log/exec subresources,
//! and `/metrics`.
//!
//! [`HttpClient`] is the HTTP implementation of `skiff_core::client::Client`: controllers and node agents
//! use it to run in another process than the API server.

pub mod http_client;
pub mod kubeconfig;
pub mod server;

pub use http_client::HttpClient;
pub use server::ApiServer;
