//! Label and field selectors: the `metav1.LabelSelector` type, selector strings, and matching.

mod label_selector;

pub use label_selector::{LabelSelector, LabelSelectorRequirement};
