//! PLACEHOLDER — replaced by the Quantity implementation.
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// A resource quantity (placeholder).
#[derive(Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema)]
pub struct Quantity(pub String);
