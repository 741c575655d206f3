//! The envelope shared by every object: type and object metadata, lists, `Status`, timestamps.
//!
//! These are the `meta.k8s.io/v1` types of Kubernetes, with the same JSON field names (camelCase, empty fields
//! omitted), so documents written for Kubernetes read unchanged.

mod list;
mod object_meta;
mod order;
mod status;
mod time;

pub use list::ObjectList;
pub use object_meta::{ListMeta, ManagedFieldsEntry, ObjectMeta, OwnerReference, TypeMeta};
pub use order::{canonical_order, insert_meta_ordered};
pub use status::{Status, StatusCause, StatusDetails};
pub use time::{MicroTime, Time};
