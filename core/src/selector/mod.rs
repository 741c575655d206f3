//! Label and field selectors: the `metav1.LabelSelector` type, selector strings, and matching.
//!
//! - [`Selector`]: a parsed label selector (`app=web,tier!=db`, `env in (a,b)`, `!canary`), as in
//!   `?labelSelector=` and `kubectl get -l`;
//! - [`LabelSelector`]: the structured form in ReplicaSets (`matchLabels`, `matchExpressions`);
//! - [`FieldSelector`]: `metadata.name=x,spec.nodeName=n`, as in `?fieldSelector=`.

mod error;
mod field;
mod label;
mod label_selector;

pub use error::SelectorError;
pub use field::{FieldOperator, FieldRequirement, FieldSelector};
pub use label::{Operator, Requirement, Selector};
pub use label_selector::{LabelSelector, LabelSelectorRequirement};
