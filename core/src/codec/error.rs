//! What can go wrong while decoding a manifest.

/// A manifest that could not be decoded. Every variant names the document (1-based, in order of appearance)
/// and, where the parser knows them, the line and the field.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum DecodeError {
    /// The text is not valid YAML or JSON.
    #[error("document {document}{}: {message}", at_line(*line))]
    Syntax {
        /// Document number, from 1.
        document: usize,
        /// Line in the whole input, from 1, when known.
        line: Option<usize>,
        /// The parser's message.
        message: String,
    },
    /// `apiVersion` or `kind` is missing or not a string.
    #[error("document {document}{}: {field} is required (every document needs apiVersion and kind)", at_line(*line))]
    MissingTypeMeta {
        /// Document number, from 1.
        document: usize,
        /// Line where the document starts.
        line: Option<usize>,
        /// `apiVersion` or `kind`.
        field: &'static str,
    },
    /// No kind with this `apiVersion` and `kind` is registered.
    #[error("document {document}{}: no kind \"{kind}\" is registered for version \"{api_version}\"", at_line(*line))]
    UnknownKind {
        /// Document number, from 1.
        document: usize,
        /// Line where the document starts.
        line: Option<usize>,
        /// The document's `apiVersion`.
        api_version: String,
        /// The document's `kind`.
        kind: String,
    },
    /// A field has the wrong type or an unparseable value (a bad quantity, a string where a number goes...).
    #[error("document {document}{}: {field}: {message}", at_line(*line))]
    Field {
        /// Document number, from 1.
        document: usize,
        /// Line in the whole input, from 1, when known.
        line: Option<usize>,
        /// Path of the field, e.g. `spec.containers[0].resources.limits[cpu]`.
        field: String,
        /// What is wrong with it.
        message: String,
    },
    /// Strict mode: fields the kind does not have (usually a typo).
    #[error("document {document}: strict decoding error: {}", unknown_list(fields))]
    UnknownFields {
        /// Document number, from 1.
        document: usize,
        /// Paths of the unknown fields.
        fields: Vec<String>,
    },
}

impl DecodeError {
    /// The document number (from 1) the error is about.
    pub fn document(&self) -> usize {
        match self {
            DecodeError::Syntax { document, .. }
            | DecodeError::MissingTypeMeta { document, .. }
            | DecodeError::UnknownKind { document, .. }
            | DecodeError::Field { document, .. }
            | DecodeError::UnknownFields { document, .. } => *document,
        }
    }
}

fn at_line(line: Option<usize>) -> String {
    line.map(|l| format!(" (line {l})")).unwrap_or_default()
}

fn unknown_list(fields: &[String]) -> String {
    fields
        .iter()
        .map(|f| format!("unknown field \"{f}\""))
        .collect::<Vec<_>>()
        .join(", ")
}
