//! Field selectors: `metadata.name=x,spec.nodeName=n,status.phase!=Failed`.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use super::SelectorError;

/// How a field requirement compares.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum FieldOperator {
    /// `field=value` or `field==value`.
    Equals,
    /// `field!=value`.
    NotEquals,
}

/// One requirement of a field selector.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct FieldRequirement {
    /// The field path, e.g. `spec.nodeName`.
    pub field: String,
    /// The comparison.
    pub op: FieldOperator,
    /// The value (unescaped).
    pub value: String,
}

/// A parsed field selector: every requirement must hold; the empty selector matches everything.
///
/// Values may contain `,` `=` `!` and `\` when escaped with a backslash, as Kubernetes allows.
///
/// ```
/// use std::collections::BTreeMap;
/// use skiff_core::selector::FieldSelector;
///
/// let sel: FieldSelector = "metadata.name=web,spec.nodeName=node-1".parse().unwrap();
/// assert_eq!(sel.requires("spec.nodeName"), Some("node-1"));
/// let fields = BTreeMap::from([
///     ("metadata.name".to_string(), "web".to_string()),
///     ("spec.nodeName".to_string(), "node-1".to_string()),
/// ]);
/// assert!(sel.matches_fields(&fields));
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct FieldSelector {
    requirements: Vec<FieldRequirement>,
}

impl FieldSelector {
    /// The selector that matches everything.
    pub fn everything() -> Self {
        Self::default()
    }

    /// The requirements, in the order written.
    pub fn requirements(&self) -> &[FieldRequirement] {
        &self.requirements
    }

    /// True when the selector has no requirements.
    pub fn is_empty(&self) -> bool {
        self.requirements.is_empty()
    }

    /// The value `field` must equal, when the selector demands one with `=` (used to pick an index).
    pub fn requires(&self, field: &str) -> Option<&str> {
        self.requirements
            .iter()
            .find(|r| r.field == field && r.op == FieldOperator::Equals)
            .map(|r| r.value.as_str())
    }

    /// Whether an object whose fields `get` returns matches; an absent field counts as `""`.
    pub fn matches(&self, get: impl Fn(&str) -> Option<String>) -> bool {
        self.requirements.iter().all(|r| {
            let have = get(&r.field).unwrap_or_default();
            match r.op {
                FieldOperator::Equals => have == r.value,
                FieldOperator::NotEquals => have != r.value,
            }
        })
    }

    /// [`FieldSelector::matches`] against a map of field values.
    pub fn matches_fields(&self, fields: &BTreeMap<String, String>) -> bool {
        self.matches(|f| fields.get(f).cloned())
    }
}

fn escape(v: &str) -> String {
    let mut out = String::with_capacity(v.len());
    for c in v.chars() {
        if matches!(c, '\\' | ',' | '=' | '!') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

impl fmt::Display for FieldSelector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parts: Vec<String> = self
            .requirements
            .iter()
            .map(|r| {
                let op = match r.op {
                    FieldOperator::Equals => "=",
                    FieldOperator::NotEquals => "!=",
                };
                format!("{}{op}{}", r.field, escape(&r.value))
            })
            .collect();
        f.write_str(&parts.join(","))
    }
}

impl FromStr for FieldSelector {
    type Err = SelectorError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let err = |message: String| SelectorError::Syntax {
            text: text.to_string(),
            message,
        };
        let mut requirements = Vec::new();
        if text.trim().is_empty() {
            return Ok(Self::everything());
        }
        // Split on unescaped commas.
        let mut terms = vec![String::new()];
        let mut chars = text.chars();
        while let Some(c) = chars.next() {
            match c {
                '\\' => {
                    let next = chars
                        .next()
                        .ok_or_else(|| err("trailing backslash".into()))?;
                    let term = terms.last_mut().ok_or_else(|| err("empty".into()))?;
                    term.push('\\');
                    term.push(next);
                }
                ',' => terms.push(String::new()),
                c => terms.last_mut().ok_or_else(|| err("empty".into()))?.push(c),
            }
        }
        for term in terms {
            let (field, op, raw) = split_term(&term).ok_or_else(|| {
                err(format!("invalid field selector term {term:?}: want field=value, field==value or field!=value"))
            })?;
            let field = field.trim();
            if field.is_empty() {
                return Err(err(format!("missing field name in {term:?}")));
            }
            requirements.push(FieldRequirement {
                field: field.to_string(),
                op,
                value: unescape(raw).map_err(|m| err(format!("{m} in {term:?}")))?,
            });
        }
        Ok(Self { requirements })
    }
}

/// Splits `field<op>value` at the first unescaped operator.
fn split_term(term: &str) -> Option<(&str, FieldOperator, &str)> {
    let bytes = term.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'\\' => i += 2,
            b'!' if bytes.get(i + 1) == Some(&b'=') => {
                return Some((&term[..i], FieldOperator::NotEquals, &term[i + 2..]))
            }
            b'=' => {
                let skip = if bytes.get(i + 1) == Some(&b'=') {
                    2
                } else {
                    1
                };
                return Some((&term[..i], FieldOperator::Equals, &term[i + skip..]));
            }
            _ => i += 1,
        }
    }
    None
}

fn unescape(raw: &str) -> Result<String, String> {
    let mut out = String::with_capacity(raw.len());
    let mut chars = raw.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some(n @ ('\\' | ',' | '=' | '!')) => out.push(n),
                Some(n) => return Err(format!("invalid escape sequence \\{n}")),
                None => return Err("trailing backslash".into()),
            },
            '=' | ',' => return Err(format!("unescaped {c:?}")),
            c => out.push(c),
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn syntax_table() {
        let ok = [
            ("", 0),
            ("metadata.name=x", 1),
            ("metadata.name==x", 1),
            ("metadata.name=x,spec.nodeName=n", 2),
            ("status.phase!=Failed", 1),
            ("spec.nodeName=", 1),
            (r"metadata.name=a\,b", 1),
        ];
        for (input, n) in ok {
            let sel: FieldSelector = input.parse().unwrap_or_else(|e| panic!("{input:?}: {e}"));
            assert_eq!(sel.requirements().len(), n, "{input:?}");
        }
        for bad in [
            "metadata.name",
            "=x",
            "a=b=c",
            r"a=b\",
            r"a=\q",
            "a=b,",
            "a<b",
        ] {
            assert!(bad.parse::<FieldSelector>().is_err(), "{bad:?} should fail");
        }
    }

    #[test]
    fn escapes_round_trip() {
        let sel: FieldSelector = r"metadata.name=a\,b\=c\!d\\e".parse().unwrap();
        assert_eq!(sel.requirements()[0].value, r"a,b=c!d\e");
        let again: FieldSelector = sel.to_string().parse().unwrap();
        assert_eq!(again, sel);
    }

    #[test]
    fn matching() {
        let fields = BTreeMap::from([
            ("metadata.name".to_string(), "web".to_string()),
            ("status.phase".to_string(), "Running".to_string()),
        ]);
        let m = |s: &str| s.parse::<FieldSelector>().unwrap().matches_fields(&fields);
        assert!(m("") && m("metadata.name=web") && !m("metadata.name=db"));
        assert!(m("status.phase!=Failed") && !m("status.phase!=Running"));
        assert!(m("spec.nodeName="), "an absent field is the empty string");
        assert!(!m("spec.nodeName=n"));
        let sel: FieldSelector = "spec.nodeName=n1,status.phase!=Failed".parse().unwrap();
        assert_eq!(sel.requires("spec.nodeName"), Some("n1"));
        assert_eq!(sel.requires("status.phase"), None);
    }
}
