//! Label and field selectors of lists and watches, as the in-process client applies them: the
//! kind's selectable fields, and a cheap byte test on stored values before decoding them.

use serde_json::Value;

use super::field_value;
use super::stored::meta;
use super::ClientError;
use crate::selector::{FieldSelector, Selector};
use crate::{ApiResource, SelectableField};

pub(super) struct Filter {
    labels: Selector,
    fields: FieldSelector,
    /// The kind's field behind each label the selector names.
    resolved: Vec<SelectableField>,
    /// Byte strings an object's stored JSON must contain to possibly match (from `=` terms on plain
    /// string fields, e.g. `"nodeName":"node-1"`): a watch skips decoding events that lack them, which
    /// matters when many watchers each see every change (a node agent per node).
    needles: Vec<memchr::memmem::Finder<'static>>,
}

/// Fields whose value is a plain JSON string under the field's last name in the stored object.
const NEEDLE_FIELDS: &[&str] = &[
    "metadata.name",
    "metadata.namespace",
    "spec.nodeName",
    "status.phase",
];

/// The needles as precompiled substring searchers (SIMD where the CPU has it): this test runs once
/// per watcher per change, on the store's commit path.
fn fields_needles(fields: &FieldSelector) -> Vec<memchr::memmem::Finder<'static>> {
    use crate::selector::FieldOperator;
    let plain = |v: &str| {
        !v.is_empty()
            && v.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-._:".contains(&b))
    };
    fields
        .requirements()
        .iter()
        .filter(|r| {
            r.op == FieldOperator::Equals
                && NEEDLE_FIELDS.contains(&r.field.as_str())
                && plain(&r.value)
        })
        .filter_map(|r| {
            let last = r.field.rsplit('.').next()?;
            let needle = format!("\"{last}\":\"{}\"", r.value);
            Some(memchr::memmem::Finder::new(needle.as_bytes()).into_owned())
        })
        .collect()
}

impl Filter {
    /// The filter of a list or watch of `res`; every field the selector names must be one the kind
    /// can be selected by (else 400 with kube-apiserver's `field label not supported: <field>`).
    pub(super) fn new(
        res: &ApiResource,
        label: Option<&str>,
        field: Option<&str>,
    ) -> Result<Self, ClientError> {
        let labels = label
            .unwrap_or("")
            .parse()
            .map_err(|e| ClientError::bad_request(format!("invalid labelSelector: {e}")))?;
        let fields: FieldSelector = field
            .unwrap_or("")
            .parse()
            .map_err(|e| ClientError::bad_request(format!("invalid fieldSelector: {e}")))?;
        let resolved = fields
            .requirements()
            .iter()
            .map(|r| {
                res.selectable_field(&r.field).ok_or_else(|| {
                    ClientError::bad_request(format!("field label not supported: {}", r.field))
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let needles = fields_needles(&fields);
        Ok(Self {
            labels,
            fields,
            resolved,
            needles,
        })
    }

    /// Whether [`may_match`](Self::may_match) can rule anything out.
    pub(super) fn has_needles(&self) -> bool {
        !self.needles.is_empty()
    }

    /// False when the stored bytes cannot match (a cheap test before decoding).
    pub(super) fn may_match(&self, stored: &[u8]) -> bool {
        self.needles.iter().all(|n| n.find(stored).is_some())
    }

    pub(super) fn is_empty(&self) -> bool {
        self.labels.is_empty() && self.fields.is_empty()
    }

    pub(super) fn matches(&self, obj: &Value) -> bool {
        let labels = meta(obj)
            .and_then(|m| m.get("labels"))
            .and_then(|l| serde_json::from_value(l.clone()).ok())
            .unwrap_or_default();
        self.labels.matches(&labels)
            && self.fields.matches(|label| {
                let field = self.resolved.iter().find(|f| f.label == label)?;
                Some(field_value(obj, field.path).unwrap_or_else(|| field.absent.to_string()))
            })
    }
}
