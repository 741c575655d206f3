//! What can be wrong with a selector.

/// A selector that cannot be parsed or converted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SelectorError {
    /// The selector text does not follow the syntax.
    #[error("unable to parse requirement: {message} in {text:?}")]
    Syntax {
        /// The whole selector text.
        text: String,
        /// What went wrong, and where.
        message: String,
    },
    /// A label key is not a qualified name.
    #[error("invalid label key {key:?}: {reason}")]
    InvalidKey {
        /// The key.
        key: String,
        /// Why it is invalid.
        reason: String,
    },
    /// A label value is not a valid label value.
    #[error("invalid label value {value:?}: {reason}")]
    InvalidValue {
        /// The value.
        value: String,
        /// Why it is invalid.
        reason: String,
    },
    /// The operator is not one of the supported ones.
    #[error("{operator:?} is not a valid label selector operator (want In, NotIn, Exists or DoesNotExist)")]
    InvalidOperator {
        /// The operator.
        operator: String,
    },
    /// The operator needs values and got none, or got values it cannot take.
    #[error("for '{operator}' operator, {message}")]
    InvalidValues {
        /// The operator.
        operator: String,
        /// What is wrong with the values.
        message: String,
    },
}
