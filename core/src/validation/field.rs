//! Field errors: what is wrong, where (`spec.containers[0].image`), and how Kubernetes words it.

use std::fmt;

use crate::meta::{Status, StatusCause, StatusDetails};

/// A path to a field, written the Kubernetes way: `spec.containers[0].resources.limits[memory]`.
///
/// ```
/// # use skiff_core::validation::FieldPath;
/// let p = FieldPath::new("spec").child("containers").index(0).child("resources").child("limits").key("memory");
/// assert_eq!(p.to_string(), "spec.containers[0].resources.limits[memory]");
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct FieldPath(String);

impl FieldPath {
    /// A path starting at a top-level field.
    pub fn new(root: impl Into<String>) -> Self {
        Self(root.into())
    }

    /// The path to a named field below this one.
    pub fn child(&self, name: &str) -> Self {
        if self.0.is_empty() {
            Self(name.to_string())
        } else {
            Self(format!("{}.{}", self.0, name))
        }
    }

    /// The path to a list element.
    pub fn index(&self, i: usize) -> Self {
        Self(format!("{}[{}]", self.0, i))
    }

    /// The path to a map entry.
    pub fn key(&self, k: &str) -> Self {
        Self(format!("{}[{}]", self.0, k))
    }

    /// The path as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for FieldPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The kinds of field error Kubernetes distinguishes (`field.ErrorType`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ErrorType {
    /// A required field is empty.
    Required,
    /// The value is malformed or out of range.
    Invalid,
    /// The value repeats one that must be unique.
    Duplicate,
    /// The value is not one of the supported values.
    NotSupported,
    /// The value refers to something that does not exist (a volume mount naming no volume).
    NotFound,
    /// The field may not be set (here, or together with another field).
    Forbidden,
    /// The value is longer than allowed.
    TooLong,
    /// The list has more items than allowed.
    TooMany,
}

impl ErrorType {
    /// The `StatusCause.reason` Kubernetes sends for this error type.
    pub fn reason(self) -> &'static str {
        match self {
            ErrorType::Required => "FieldValueRequired",
            ErrorType::Invalid => "FieldValueInvalid",
            ErrorType::Duplicate => "FieldValueDuplicate",
            ErrorType::NotSupported => "FieldValueNotSupported",
            ErrorType::NotFound => "FieldValueNotFound",
            ErrorType::Forbidden => "FieldValueForbidden",
            ErrorType::TooLong => "FieldValueTooLong",
            ErrorType::TooMany => "FieldValueTooMany",
        }
    }
}

/// One thing wrong with one field.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FieldError {
    /// Where: `spec.containers[0].name`.
    pub field: String,
    /// What kind of problem.
    pub error_type: ErrorType,
    /// The offending value, as text, when there is one.
    pub value: Option<String>,
    /// Why, in words (may be empty).
    pub detail: String,
}

impl FieldError {
    fn new(path: &FieldPath, error_type: ErrorType, value: Option<String>, detail: String) -> Self {
        Self {
            field: path.to_string(),
            error_type,
            value,
            detail,
        }
    }

    /// `field: Required value`.
    pub fn required(path: &FieldPath, detail: impl Into<String>) -> Self {
        Self::new(path, ErrorType::Required, None, detail.into())
    }

    /// `field: Invalid value: "v": detail`.
    pub fn invalid(path: &FieldPath, value: impl fmt::Display, detail: impl Into<String>) -> Self {
        Self::new(
            path,
            ErrorType::Invalid,
            Some(value.to_string()),
            detail.into(),
        )
    }

    /// `field: Duplicate value: "v"`.
    pub fn duplicate(path: &FieldPath, value: impl fmt::Display) -> Self {
        Self::new(
            path,
            ErrorType::Duplicate,
            Some(value.to_string()),
            String::new(),
        )
    }

    /// `field: Unsupported value: "v": supported values: "a", "b"`.
    pub fn not_supported(path: &FieldPath, value: impl fmt::Display, supported: &[&str]) -> Self {
        let list: Vec<String> = supported.iter().map(|s| format!("{s:?}")).collect();
        Self::new(
            path,
            ErrorType::NotSupported,
            Some(value.to_string()),
            format!("supported values: {}", list.join(", ")),
        )
    }

    /// `field: Not found: "v"`.
    pub fn not_found(path: &FieldPath, value: impl fmt::Display) -> Self {
        Self::new(
            path,
            ErrorType::NotFound,
            Some(value.to_string()),
            String::new(),
        )
    }

    /// `field: Forbidden: detail`.
    pub fn forbidden(path: &FieldPath, detail: impl Into<String>) -> Self {
        Self::new(path, ErrorType::Forbidden, None, detail.into())
    }

    /// `field: Too long: may not be more than N bytes`.
    pub fn too_long(path: &FieldPath, max: usize) -> Self {
        Self::new(
            path,
            ErrorType::TooLong,
            None,
            format!("may not be more than {max} bytes"),
        )
    }

    /// `field: Too many: N: must have at most M items`.
    pub fn too_many(path: &FieldPath, actual: usize, max: usize) -> Self {
        Self::new(
            path,
            ErrorType::TooMany,
            Some(actual.to_string()),
            format!("must have at most {max} items"),
        )
    }

    fn summary(&self) -> String {
        let what = match self.error_type {
            ErrorType::Required => "Required value",
            ErrorType::Invalid => "Invalid value",
            ErrorType::Duplicate => "Duplicate value",
            ErrorType::NotSupported => "Unsupported value",
            ErrorType::NotFound => "Not found",
            ErrorType::Forbidden => "Forbidden",
            ErrorType::TooLong => "Too long",
            ErrorType::TooMany => "Too many",
        };
        let mut s = what.to_string();
        if let Some(v) = &self.value {
            s.push_str(&format!(": {v:?}"));
        }
        if !self.detail.is_empty() {
            s.push_str(": ");
            s.push_str(&self.detail);
        }
        s
    }
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.summary())
    }
}

impl std::error::Error for FieldError {}

/// Every error found in one object; empty means valid.
///
/// ```
/// # use skiff_core::validation::{FieldErrors, FieldError, FieldPath};
/// # use skiff_core::{kinds::Pod, Resource};
/// let mut errs = FieldErrors::default();
/// errs.push(FieldError::required(&FieldPath::new("spec").child("containers"), ""));
/// let status = errs.to_status(&Pod::api_resource(), "web");
/// assert_eq!(status.code, Some(422));
/// assert_eq!(status.message.as_deref(), Some("Pod \"web\" is invalid: spec.containers: Required value"));
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FieldErrors(pub Vec<FieldError>);

impl FieldErrors {
    /// Adds one error.
    pub fn push(&mut self, e: FieldError) {
        self.0.push(e);
    }

    /// Adds all errors of another list.
    pub fn extend(&mut self, other: FieldErrors) {
        self.0.extend(other.0);
    }

    /// True when there is nothing wrong.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Number of errors.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Iterates over the errors.
    pub fn iter(&self) -> std::slice::Iter<'_, FieldError> {
        self.0.iter()
    }

    /// True when some error is about exactly this field path.
    pub fn has_field(&self, field: &str) -> bool {
        self.0.iter().any(|e| e.field == field)
    }

    /// `Ok(())` when empty, else `Err(self)`.
    pub fn into_result(self) -> Result<(), FieldErrors> {
        if self.is_empty() {
            Ok(())
        } else {
            Err(self)
        }
    }

    /// The 422 `Invalid` status the API server answers with, one cause per error.
    pub fn to_status(&self, res: &crate::ApiResource, name: &str) -> Status {
        // kube-apiserver's NewInvalid: the qualified kind (`ReplicaSet.apps`) in the message, the kind
        // and its group in the details.
        let message = format!("{} {name:?} is invalid: {self}", res.qualified_kind());
        let causes = self
            .0
            .iter()
            .map(|e| StatusCause {
                reason: Some(e.error_type.reason().to_string()),
                message: Some(e.summary()),
                field: Some(e.field.clone()),
            })
            .collect();
        Status::failure(422, "Invalid", message).with_details(StatusDetails {
            name: Some(name.to_string()),
            group: Some(res.group.clone()).filter(|g| !g.is_empty()),
            kind: Some(res.kind.clone()),
            causes,
            ..StatusDetails::default()
        })
    }
}

impl fmt::Display for FieldErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0.as_slice() {
            [] => f.write_str("<no errors>"),
            [one] => write!(f, "{one}"),
            many => {
                let parts: Vec<String> = many.iter().map(|e| e.to_string()).collect();
                write!(f, "[{}]", parts.join(", "))
            }
        }
    }
}

impl std::error::Error for FieldErrors {}

impl IntoIterator for FieldErrors {
    type Item = FieldError;
    type IntoIter = std::vec::IntoIter<FieldError>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.into_iter()
    }
}

impl FromIterator<FieldError> for FieldErrors {
    fn from_iter<I: IntoIterator<Item = FieldError>>(iter: I) -> Self {
        Self(iter.into_iter().collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_read_like_kubernetes() {
        let p = FieldPath::new("spec").child("restartPolicy");
        assert_eq!(
            FieldError::not_supported(&p, "Sometimes", &["Always", "Never"]).to_string(),
            "spec.restartPolicy: Unsupported value: \"Sometimes\": supported values: \"Always\", \"Never\""
        );
        assert_eq!(
            FieldError::invalid(&p, "x", "bad").to_string(),
            "spec.restartPolicy: Invalid value: \"x\": bad"
        );
    }

    #[test]
    fn many_errors_are_bracketed_and_become_causes() {
        let p = FieldPath::new("metadata");
        let errs: FieldErrors = vec![
            FieldError::required(&p.child("name"), ""),
            FieldError::duplicate(&p.child("finalizers").index(1), "a"),
        ]
        .into_iter()
        .collect();
        let s = errs.to_status(&<crate::kinds::Pod as crate::Resource>::api_resource(), "x");
        assert!(s
            .message
            .as_deref()
            .unwrap()
            .contains("[metadata.name: Required value, "));
        let causes = s.details.unwrap().causes;
        assert_eq!(causes[1].reason.as_deref(), Some("FieldValueDuplicate"));
        assert_eq!(causes[1].field.as_deref(), Some("metadata.finalizers[1]"));
    }
}
