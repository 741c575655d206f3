//! # skiff-api
//!
//! The front door of a Skiff cluster: the HTTP API server ([`server::ApiServer`], axum) that speaks the
//! Kubernetes REST dialect — discovery, get/list/watch, create, replace, patch, delete, the status
//! subresource, `metav1.Status` errors — so that the real `kubectl` works against it, and helpers to write
//! a kubeconfig ([`kubeconfig`]).
//!
//! Authentication by bearer tokens ([`auth`], Kubernetes' static token file) and HTTPS with a
//! self-signed CA generated on first start ([`tls`]) are optional: `ApiServer::new` serves everyone over
//! plain HTTP, [`ApiServer::with_tokens`] and [`ApiServer::serve_tls`] turn them on.
//!
//! [`HttpClient`] is the HTTP implementation of `skiff_core::client::Client`: controllers and node agents
//! use it to run in another process than the API server.

pub mod auth;
pub mod http_client;
pub mod kubeconfig;
pub mod kubelet;
pub mod server;
pub mod spdy;
pub mod tls;

pub use http_client::HttpClient;
pub use server::ApiServer;
