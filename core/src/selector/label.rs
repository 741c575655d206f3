//! Parsed label selectors: `app=web,tier!=db`, `env in (a,b)`, `!canary`, matching against labels.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::str::FromStr;

use super::SelectorError;
use crate::validation::names::{label_value, qualified_name};

/// How a requirement compares a label.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Operator {
    /// `key=value` or `key==value`.
    Equals,
    /// `key!=value` (also true when the key is absent).
    NotEquals,
    /// `key in (a,b)`.
    In,
    /// `key notin (a,b)` (also true when the key is absent).
    NotIn,
    /// `key`.
    Exists,
    /// `!key`.
    DoesNotExist,
    /// `key>1` (the label must be an integer greater than the value).
    GreaterThan,
    /// `key<1` (the label must be an integer less than the value).
    LessThan,
}

/// One requirement of a selector.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Requirement {
    /// The label key.
    pub key: String,
    /// The comparison.
    pub operator: Operator,
    /// The values (sorted, unique); empty for `Exists`/`DoesNotExist`.
    pub values: BTreeSet<String>,
}

impl Requirement {
    /// A validated requirement.
    ///
    /// ```
    /// # use skiff_core::selector::{Operator, Requirement};
    /// let r = Requirement::new("env", Operator::In, ["prod", "staging"]).unwrap();
    /// assert_eq!(r.to_string(), "env in (prod,staging)");
    /// assert!(Requirement::new("env", Operator::In, Vec::<String>::new()).is_err());
    /// ```
    pub fn new<I, S>(key: &str, operator: Operator, values: I) -> Result<Self, SelectorError>
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        if let Some(reason) = qualified_name(key).into_iter().next() {
            return Err(SelectorError::InvalidKey {
                key: key.to_string(),
                reason,
            });
        }
        let values: BTreeSet<String> = values.into_iter().map(Into::into).collect();
        let op_name = operator.name();
        let bad = |message: &str| {
            Err(SelectorError::InvalidValues {
                operator: op_name.to_string(),
                message: message.to_string(),
            })
        };
        match operator {
            Operator::In | Operator::NotIn if values.is_empty() => {
                return bad("values set can't be empty")
            }
            Operator::Equals | Operator::NotEquals if values.len() != 1 => {
                return bad("exactly one value is required")
            }
            Operator::Exists | Operator::DoesNotExist if !values.is_empty() => {
                return bad("values set must be empty")
            }
            Operator::GreaterThan | Operator::LessThan => {
                if values.len() != 1 {
                    return bad("exactly one value is required");
                }
                if values.iter().any(|v| v.parse::<i64>().is_err()) {
                    return bad("the value must be an integer");
                }
            }
            _ => {}
        }
        if !matches!(operator, Operator::GreaterThan | Operator::LessThan) {
            for v in &values {
                if let Some(reason) = label_value(v).into_iter().next() {
                    return Err(SelectorError::InvalidValue {
                        value: v.clone(),
                        reason,
                    });
                }
            }
        }
        Ok(Self {
            key: key.to_string(),
            operator,
            values,
        })
    }

    /// Whether `labels` satisfy this requirement.
    pub fn matches(&self, labels: &BTreeMap<String, String>) -> bool {
        let value = labels.get(&self.key);
        match self.operator {
            Operator::Equals | Operator::In => value.is_some_and(|v| self.values.contains(v)),
            Operator::NotEquals | Operator::NotIn => {
                !value.is_some_and(|v| self.values.contains(v))
            }
            Operator::Exists => value.is_some(),
            Operator::DoesNotExist => value.is_none(),
            Operator::GreaterThan | Operator::LessThan => {
                let (Some(have), Some(want)) = (
                    value.and_then(|v| v.parse::<i64>().ok()),
                    self.values
                        .iter()
                        .next()
                        .and_then(|v| v.parse::<i64>().ok()),
                ) else {
                    return false;
                };
                if self.operator == Operator::GreaterThan {
                    have > want
                } else {
                    have < want
                }
            }
        }
    }
}

impl Operator {
    fn name(self) -> &'static str {
        match self {
            Operator::Equals => "=",
            Operator::NotEquals => "!=",
            Operator::In => "in",
            Operator::NotIn => "notin",
            Operator::Exists => "exists",
            Operator::DoesNotExist => "!",
            Operator::GreaterThan => "gt",
            Operator::LessThan => "lt",
        }
    }
}

impl fmt::Display for Requirement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let values: Vec<&str> = self.values.iter().map(String::as_str).collect();
        let first = values.first().copied().unwrap_or("");
        match self.operator {
            Operator::Equals => write!(f, "{}={first}", self.key),
            Operator::NotEquals => write!(f, "{}!={first}", self.key),
            Operator::In => write!(f, "{} in ({})", self.key, values.join(",")),
            Operator::NotIn => write!(f, "{} notin ({})", self.key, values.join(",")),
            Operator::Exists => write!(f, "{}", self.key),
            Operator::DoesNotExist => write!(f, "!{}", self.key),
            Operator::GreaterThan => write!(f, "{}>{first}", self.key),
            Operator::LessThan => write!(f, "{}<{first}", self.key),
        }
    }
}

/// A parsed label selector: every requirement must hold. The empty selector matches everything.
///
/// ```
/// use std::collections::BTreeMap;
/// use skiff_core::selector::Selector;
///
/// let sel: Selector = "app=web,tier!=db,env in (prod, staging),!canary".parse().unwrap();
/// let labels = BTreeMap::from([("app".to_string(), "web".to_string()), ("env".to_string(), "prod".to_string())]);
/// assert!(sel.matches(&labels));
/// assert_eq!(sel.to_string(), "app=web,!canary,env in (prod,staging),tier!=db");
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct Selector {
    requirements: Vec<Requirement>,
}

impl Selector {
    /// The selector that matches everything.
    pub fn everything() -> Self {
        Self::default()
    }

    /// A selector from requirements (kept sorted by key, as Kubernetes prints them).
    pub fn from_requirements(mut requirements: Vec<Requirement>) -> Self {
        requirements.sort_by(|a, b| a.key.cmp(&b.key));
        Self { requirements }
    }

    /// `key=value` for every pair.
    pub fn from_labels(labels: &BTreeMap<String, String>) -> Result<Self, SelectorError> {
        let reqs = labels
            .iter()
            .map(|(k, v)| Requirement::new(k, Operator::Equals, [v.as_str()]))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self::from_requirements(reqs))
    }

    /// The requirements, sorted by key.
    pub fn requirements(&self) -> &[Requirement] {
        &self.requirements
    }

    /// True when the selector has no requirements (matches everything).
    pub fn is_empty(&self) -> bool {
        self.requirements.is_empty()
    }

    /// Whether `labels` satisfy every requirement.
    pub fn matches(&self, labels: &BTreeMap<String, String>) -> bool {
        self.requirements.iter().all(|r| r.matches(labels))
    }
}

impl fmt::Display for Selector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parts: Vec<String> = self.requirements.iter().map(|r| r.to_string()).collect();
        f.write_str(&parts.join(","))
    }
}

impl FromStr for Selector {
    type Err = SelectorError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Parser { text, pos: 0 }.parse()
    }
}

struct Parser<'a> {
    text: &'a str,
    pos: usize,
}

impl Parser<'_> {
    fn error(&self, message: impl Into<String>) -> SelectorError {
        SelectorError::Syntax {
            text: self.text.to_string(),
            message: format!("{} at position {}", message.into(), self.pos),
        }
    }

    fn rest(&self) -> &str {
        &self.text[self.pos..]
    }

    fn skip_space(&mut self) {
        let trimmed = self.rest().trim_start();
        self.pos = self.text.len() - trimmed.len();
    }

    fn eat(&mut self, token: &str) -> bool {
        self.skip_space();
        if self.rest().starts_with(token) {
            self.pos += token.len();
            true
        } else {
            false
        }
    }

    /// A key or value: everything up to a space or one of `,=!()<>`.
    fn word(&mut self) -> &str {
        self.skip_space();
        let start = self.pos;
        let len = self
            .rest()
            .find(|c: char| c.is_whitespace() || ",=!()<>".contains(c))
            .unwrap_or(self.rest().len());
        self.pos += len;
        &self.text[start..self.pos]
    }

    fn at_end_of_requirement(&mut self) -> bool {
        self.skip_space();
        self.rest().is_empty() || self.rest().starts_with(',')
    }

    fn parse(mut self) -> Result<Selector, SelectorError> {
        let mut reqs = Vec::new();
        self.skip_space();
        if self.rest().is_empty() {
            return Ok(Selector::everything());
        }
        loop {
            reqs.push(self.requirement()?);
            self.skip_space();
            if self.rest().is_empty() {
                break;
            }
            if !self.eat(",") {
                return Err(self.error("expected ','"));
            }
        }
        Ok(Selector::from_requirements(reqs))
    }

    fn requirement(&mut self) -> Result<Requirement, SelectorError> {
        if self.eat("!") {
            let key = self.word().to_string();
            if key.is_empty() {
                return Err(self.error("expected a key after '!'"));
            }
            if !self.at_end_of_requirement() {
                return Err(self.error("unexpected text after '!key'"));
            }
            return Requirement::new(&key, Operator::DoesNotExist, Vec::<String>::new());
        }
        let key = self.word().to_string();
        if key.is_empty() {
            return Err(self.error("expected a key"));
        }
        if self.at_end_of_requirement() {
            return Requirement::new(&key, Operator::Exists, Vec::<String>::new());
        }
        let op = if self.eat("==") || self.eat("=") {
            Operator::Equals
        } else if self.eat("!=") {
            Operator::NotEquals
        } else if self.eat(">") {
            Operator::GreaterThan
        } else if self.eat("<") {
            Operator::LessThan
        } else {
            match self.word() {
                "in" => Operator::In,
                "notin" => Operator::NotIn,
                "" => return Err(self.error("expected an operator")),
                other => {
                    let other = other.to_string();
                    return Err(self.error(format!("unknown operator {other:?}")));
                }
            }
        };
        let values: Vec<String> = if matches!(op, Operator::In | Operator::NotIn) {
            if !self.eat("(") {
                return Err(self.error("expected '(' after the set operator"));
            }
            let mut values = Vec::new();
            loop {
                let v = self.word().to_string();
                values.push(v);
                if self.eat(")") {
                    break;
                }
                if !self.eat(",") {
                    return Err(self.error("expected ',' or ')' in the value set"));
                }
            }
            if values.len() == 1 && values[0].is_empty() {
                values.clear();
            }
            values
        } else {
            vec![self.word().to_string()]
        };
        if !self.at_end_of_requirement() {
            return Err(self.error("unexpected text after the value"));
        }
        Requirement::new(&key, op, values)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn syntax_table() {
        let ok = [
            ("", ""),
            ("app=web", "app=web"),
            ("app==web", "app=web"),
            ("app = web", "app=web"),
            ("tier!=db", "tier!=db"),
            ("env in (a,b)", "env in (a,b)"),
            ("env in (b, a, a)", "env in (a,b)"),
            ("env notin (a)", "env notin (a)"),
            ("canary", "canary"),
            ("!canary", "!canary"),
            ("x>1", "x>1"),
            ("x<5", "x<5"),
            ("example.com/app=web", "example.com/app=web"),
            ("app=", "app="),
            ("b=2,a=1", "a=1,b=2"),
            ("  app=web ,  !x  ", "app=web,!x"),
        ];
        for (input, canonical) in ok {
            let sel: Selector = input.parse().unwrap_or_else(|e| panic!("{input:?}: {e}"));
            assert_eq!(sel.to_string(), canonical, "{input:?}");
        }
        let bad = [
            "app=web,",
            ",app",
            "app in a,b",
            "app in (a",
            "app notin ()",
            "app in ()",
            "bad key=x",
            "app=we b",
            "app=-x",
            "x>a",
            "app=web tier=db",
            "!",
            "app ~ web",
            "a=(b)",
            "Example.com/app=x",
        ];
        for input in bad {
            assert!(input.parse::<Selector>().is_err(), "{input:?} should fail");
        }
    }

    #[test]
    fn errors_name_the_problem() {
        let err = "bad key=x".parse::<Selector>().unwrap_err().to_string();
        assert!(err.contains("bad key=x") || err.contains("bad"), "{err}");
        let err = "a/b/c=x".parse::<Selector>().unwrap_err().to_string();
        assert!(err.contains("a/b/c"), "{err}");
    }

    #[test]
    fn matching_semantics() {
        let l = labels(&[("app", "web"), ("n", "5")]);
        let m = |s: &str| s.parse::<Selector>().unwrap().matches(&l);
        assert!(m(""));
        assert!(m("app=web") && !m("app=db"));
        assert!(m("app!=db") && !m("app!=web"));
        assert!(m("missing!=x"), "!= matches when the key is absent");
        assert!(
            m("missing notin (x)"),
            "notin matches when the key is absent"
        );
        assert!(
            !m("missing in (x)"),
            "in does not match when the key is absent"
        );
        assert!(m("app in (db,web)") && !m("app notin (db,web)"));
        assert!(m("app") && !m("missing"));
        assert!(m("!missing") && !m("!app"));
        assert!(m("n>4") && !m("n>5") && m("n<6") && !m("n<5"));
        assert!(!m("app>1"), "Gt on a non-integer label does not match");
        assert!(m("app=web,n>1") && !m("app=web,n>9"));
    }

    fn arb_requirement() -> impl Strategy<Value = Requirement> {
        let key = "[a-z]([a-z0-9-]{0,8}[a-z0-9])?";
        let value = "[a-zA-Z0-9]([a-z0-9_.-]{0,6}[a-z0-9])?";
        (key, prop::collection::vec(value, 1..4), 0usize..6).prop_map(|(k, vals, op)| {
            let (op, vals) = match op {
                0 => (Operator::Equals, vec![vals[0].clone()]),
                1 => (Operator::NotEquals, vec![vals[0].clone()]),
                2 => (Operator::In, vals),
                3 => (Operator::NotIn, vals),
                4 => (Operator::Exists, vec![]),
                _ => (Operator::DoesNotExist, vec![]),
            };
            Requirement::new(&k, op, vals).unwrap()
        })
    }

    proptest! {
        #[test]
        fn display_then_parse_round_trips(reqs in prop::collection::vec(arb_requirement(), 0..5)) {
            let sel = Selector::from_requirements(reqs);
            let text = sel.to_string();
            let back: Selector = text.parse().unwrap();
            prop_assert_eq!(back.to_string(), text);
            prop_assert_eq!(back, sel);
        }
    }
}
