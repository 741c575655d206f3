//! `metav1.LabelSelector`: the structured selector in ReplicaSets (and elsewhere).

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{Operator, Requirement, Selector, SelectorError};

/// A structured label selector: every `matchLabels` pair and every `matchExpressions` requirement must hold.
/// The empty selector `{}` matches everything.
///
/// ```
/// use std::collections::BTreeMap;
/// use skiff_core::selector::LabelSelector;
///
/// let sel: LabelSelector = serde_json::from_str(
///     r#"{"matchLabels": {"app": "web"}, "matchExpressions": [{"key": "tier", "operator": "NotIn", "values": ["db"]}]}"#,
/// ).unwrap();
/// assert_eq!(sel.to_selector().unwrap().to_string(), "app=web,tier notin (db)");
/// let labels = BTreeMap::from([("app".to_string(), "web".to_string())]);
/// assert!(sel.matches(&labels));
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct LabelSelector {
    /// Labels that must be present with exactly these values.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub match_labels: BTreeMap<String, String>,
    /// Set-based requirements.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub match_expressions: Vec<LabelSelectorRequirement>,
}

/// One set-based requirement: `key` `operator` `values`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct LabelSelectorRequirement {
    /// The label key.
    pub key: String,
    /// `In`, `NotIn`, `Exists` or `DoesNotExist`.
    pub operator: String,
    /// Values for `In`/`NotIn`; must be empty for `Exists`/`DoesNotExist`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub values: Vec<String>,
}

impl LabelSelector {
    /// A selector requiring exactly these labels.
    pub fn from_labels(labels: BTreeMap<String, String>) -> Self {
        Self {
            match_labels: labels,
            match_expressions: Vec::new(),
        }
    }

    /// Converts to a parsed [`Selector`], validating keys, values and operators.
    pub fn to_selector(&self) -> Result<Selector, SelectorError> {
        let mut reqs = Vec::new();
        for (k, v) in &self.match_labels {
            reqs.push(Requirement::new(k, Operator::Equals, [v.as_str()])?);
        }
        for e in &self.match_expressions {
            let op = match e.operator.as_str() {
                "In" => Operator::In,
                "NotIn" => Operator::NotIn,
                "Exists" => Operator::Exists,
                "DoesNotExist" => Operator::DoesNotExist,
                other => {
                    return Err(SelectorError::InvalidOperator {
                        operator: other.to_string(),
                    })
                }
            };
            reqs.push(Requirement::new(
                &e.key,
                op,
                e.values.iter().map(String::as_str),
            )?);
        }
        Ok(Selector::from_requirements(reqs))
    }

    /// Whether `labels` match. An invalid selector matches nothing (validation reports it on write).
    pub fn matches(&self, labels: &BTreeMap<String, String>) -> bool {
        self.to_selector().is_ok_and(|s| s.matches(labels))
    }

    /// True when the selector has no requirements (and so matches everything).
    pub fn is_empty(&self) -> bool {
        self.match_labels.is_empty() && self.match_expressions.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn expr(key: &str, op: &str, values: &[&str]) -> LabelSelectorRequirement {
        LabelSelectorRequirement {
            key: key.into(),
            operator: op.into(),
            values: values.iter().map(|v| v.to_string()).collect(),
        }
    }

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn every_operator_converts_and_matches() {
        let l = labels(&[("app", "web"), ("tier", "front")]);
        let sel = |e| LabelSelector {
            match_labels: BTreeMap::new(),
            match_expressions: vec![e],
        };
        assert!(sel(expr("app", "In", &["web", "api"])).matches(&l));
        assert!(!sel(expr("app", "NotIn", &["web"])).matches(&l));
        assert!(sel(expr("tier", "Exists", &[])).matches(&l));
        assert!(sel(expr("canary", "DoesNotExist", &[])).matches(&l));
        assert!(!sel(expr("tier", "DoesNotExist", &[])).matches(&l));
    }

    #[test]
    fn invalid_selectors_are_errors_and_match_nothing() {
        let bad_op = LabelSelector {
            match_labels: BTreeMap::new(),
            match_expressions: vec![expr("a", "Near", &["x"])],
        };
        assert!(matches!(
            bad_op.to_selector(),
            Err(SelectorError::InvalidOperator { .. })
        ));
        assert!(!bad_op.matches(&labels(&[("a", "x")])));
        let no_values = LabelSelector {
            match_labels: BTreeMap::new(),
            match_expressions: vec![expr("a", "In", &[])],
        };
        assert!(no_values.to_selector().is_err());
        let values_on_exists = LabelSelector {
            match_labels: BTreeMap::new(),
            match_expressions: vec![expr("a", "Exists", &["x"])],
        };
        assert!(values_on_exists.to_selector().is_err());
    }

    #[test]
    fn empty_selector_matches_everything() {
        assert!(LabelSelector::default().matches(&labels(&[("x", "y")])));
        assert!(LabelSelector::from_labels(labels(&[("app", "web")]))
            .matches(&labels(&[("app", "web"), ("b", "c")])));
    }
}
