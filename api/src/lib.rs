//! # skiff-api
//!
//! The front door of a Skiff cluster. This crate will hold:
//!
//! - the HTTP API server (axum) that speaks the Kubernetes REST dialect — discovery, CRUD, patch, watch,
//!   subresources, Tables, OpenAPI v3 — well enough that the real `kubectl` works against it;
//! - the HTTP implementation of `skiff_core`'s `Client` trait, so that controllers and node agents can run in
//!   another process or on another machine than the API server.
//!
//! It is filled by the API-server issue; today it only re-exports the object model it will serve.

pub use skiff_core as core;
