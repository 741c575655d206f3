//! A decoded message → Kubernetes JSON, by reflection.
//!
//! Every set field becomes the JSON field of the same name (Kubernetes' proto field names are its JSON
//! names), in field-number order, which is Go's struct order. Maps come out with sorted keys, bytes
//! in base64, as Go's `encoding/json` writes them. What Go's protobuf encoder writes for non-pointer
//! fields that JSON would leave out is left out where that cannot change meaning: empty strings,
//! empty lists and maps, the zero time. Zero numbers and `false` are kept (a pointer field set to 0
//! or false, `replicas: 0`, means something).
//!
//! Go structs embedded inline (`json:",inline"`) are fields of their own in protobuf; their fields
//! are the parent's in JSON ([`is_inline`]: a Volume's `volumeSource`, a Probe's `handler`...).
//!
//! Messages whose JSON is not their fields, by name (what their Go types' JSON methods write):
//!
//! | message | JSON |
//! |---|---|
//! | `meta.v1.Time` {seconds, nanos} | RFC 3339 to the second, `2026-12-02T17:00:00Z` |
//! | `meta.v1.MicroTime` | RFC 3339 with microseconds |
//! | `meta.v1.Duration` {duration ns} | Go's duration string, `1h2m3s` |
//! | `util.intstr.IntOrString` {type, intVal, strVal} | a number or a string |
//! | `api.resource.Quantity` {string} | the string |
//! | `runtime.RawExtension`, `meta.v1.FieldsV1`, `apiextensions.v1.JSON` {raw} | the raw JSON |
//! | `meta.v1.Verbs`, `*.ExtraValue` {items} | the list |

use base64::Engine as _;
use chrono::{DateTime, SecondsFormat, Utc};
use prost_reflect::{DynamicMessage, MapKey, ReflectMessage, Value as PValue};
use serde_json::{Map, Value};

/// Which special JSON a message has, from its full name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Special {
    Time,
    MicroTime,
    Duration,
    IntOrString,
    Quantity,
    Raw,
    Items,
}

impl Special {
    pub(super) fn of(full_name: &str) -> Option<Self> {
        let ends = |s: &str| full_name.ends_with(s);
        Some(if ends("meta.v1.Time") {
            Self::Time
        } else if ends("meta.v1.MicroTime") {
            Self::MicroTime
        } else if ends("meta.v1.Duration") {
            Self::Duration
        } else if ends("intstr.IntOrString") {
            Self::IntOrString
        } else if ends("api.resource.Quantity") {
            Self::Quantity
        } else if ends("runtime.RawExtension")
            || ends("meta.v1.FieldsV1")
            || ends("apiextensions.v1.JSON")
        {
            Self::Raw
        } else if ends("meta.v1.Verbs") || ends(".ExtraValue") {
            Self::Items
        } else {
            return None;
        })
    }
}

fn int_field(msg: &DynamicMessage, number: u32) -> i64 {
    msg.get_field_by_number(number)
        .and_then(|v| v.as_i64().or_else(|| v.as_i32().map(i64::from)))
        .unwrap_or(0)
}

fn first_bytes(msg: &DynamicMessage) -> Vec<u8> {
    msg.get_field_by_number(1)
        .and_then(|v| v.as_bytes().map(|b| b.to_vec()))
        .unwrap_or_default()
}

/// Go's `time.Duration.String()`: `1h2m3.5s`, `150ms`, `0s`.
pub(super) fn go_duration(ns: i64) -> String {
    if ns == 0 {
        return "0s".into();
    }
    let sign = if ns < 0 { "-" } else { "" };
    let n = ns.unsigned_abs();
    if n < 1_000 {
        return format!("{sign}{n}ns");
    }
    if n < 1_000_000 {
        return format!("{sign}{}µs", trim(n as f64 / 1e3));
    }
    if n < 1_000_000_000 {
        return format!("{sign}{}ms", trim(n as f64 / 1e6));
    }
    let (h, rest) = (n / 3_600_000_000_000, n % 3_600_000_000_000);
    let (m, rest) = (rest / 60_000_000_000, rest % 60_000_000_000);
    let s = trim(rest as f64 / 1e9);
    match (h, m) {
        (0, 0) => format!("{sign}{s}s"),
        (0, m) => format!("{sign}{m}m{s}s"),
        (h, m) => format!("{sign}{h}h{m}m{s}s"),
    }
}

fn trim(x: f64) -> String {
    let s = format!("{x:.9}");
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

/// A special message's JSON; `None` for the zero time (Go writes it, and reads it as no time).
fn special(kind: Special, msg: &DynamicMessage) -> Option<Value> {
    match kind {
        Special::Time | Special::MicroTime => {
            let (secs, nanos) = (int_field(msg, 1), int_field(msg, 2));
            if secs == 0 && nanos == 0 {
                return None;
            }
            let t = DateTime::<Utc>::from_timestamp(secs, u32::try_from(nanos).unwrap_or(0))?;
            let format = if kind == Special::Time {
                SecondsFormat::Secs
            } else {
                SecondsFormat::Micros
            };
            Some(Value::String(t.to_rfc3339_opts(format, true)))
        }
        Special::Duration => Some(Value::String(go_duration(int_field(msg, 1)))),
        Special::IntOrString => Some(if int_field(msg, 1) == 1 {
            Value::String(
                msg.get_field_by_number(3)
                    .and_then(|v| v.as_str().map(str::to_string))
                    .unwrap_or_default(),
            )
        } else {
            Value::from(int_field(msg, 2))
        }),
        Special::Quantity => msg
            .get_field_by_number(1)
            .and_then(|v| v.as_str().map(|s| Value::String(s.to_string()))),
        Special::Raw => {
            let raw = first_bytes(msg);
            if raw.is_empty() {
                return None;
            }
            serde_json::from_slice(&raw)
                .ok()
                .or_else(|| super::decode(&raw).ok())
        }
        Special::Items => msg
            .get_field_by_number(1)
            .map(|v| value(&v).unwrap_or_else(|| Value::Array(Vec::new()))),
    }
}

/// The fields that hold a Go struct embedded inline: in JSON, their fields are the parent's.
const INLINE: &[&str] = &[
    ".core.v1.Volume.volumeSource",
    ".core.v1.Probe.handler",
    ".core.v1.PersistentVolumeSpec.persistentVolumeSource",
    ".core.v1.EphemeralContainer.ephemeralContainerCommon",
    ".admissionregistration.v1.RuleWithOperations.rule",
    ".admissionregistration.v1.NamedRuleWithOperations.ruleWithOperations",
    ".networking.v1.IngressRule.ingressRuleValue",
];

/// Whether `field` holds an inline struct (see [`INLINE`]).
pub(super) fn is_inline(field: &prost_reflect::FieldDescriptor) -> bool {
    let name = field.full_name();
    INLINE.iter().any(|suffix| name.ends_with(suffix))
}

/// A message's JSON (an object, unless it is one of the [`Special`] ones).
pub(super) fn message(msg: &DynamicMessage) -> Value {
    let desc = msg.descriptor();
    if let Some(kind) = Special::of(desc.full_name()) {
        return special(kind, msg).unwrap_or(Value::Null);
    }
    let mut fields: Vec<_> = msg.fields().collect();
    fields.sort_by_key(|(f, _)| f.number());
    let mut out = Map::new();
    for (field, v) in fields {
        match value(v) {
            Some(Value::Object(inner)) if is_inline(&field) => out.extend(inner),
            Some(json) => {
                out.insert(field.name().to_string(), json);
            }
            None => {}
        }
    }
    Value::Object(out)
}

/// A field value's JSON; `None` for what JSON leaves out (see the [module docs](self)).
fn value(v: &PValue) -> Option<Value> {
    Some(match v {
        PValue::Bool(b) => Value::Bool(*b),
        PValue::I32(n) => Value::from(*n),
        PValue::I64(n) => Value::from(*n),
        PValue::U32(n) => Value::from(*n),
        PValue::U64(n) => Value::from(*n),
        PValue::F32(x) => serde_json::Number::from_f64(f64::from(*x)).map(Value::Number)?,
        PValue::F64(x) => serde_json::Number::from_f64(*x).map(Value::Number)?,
        PValue::String(s) if s.is_empty() => return None,
        PValue::String(s) => Value::String(s.clone()),
        PValue::Bytes(b) => Value::String(base64::engine::general_purpose::STANDARD.encode(b)),
        PValue::EnumNumber(n) => Value::from(*n),
        PValue::Message(m) => match message(m) {
            Value::Null => return None,
            json => json,
        },
        PValue::List(items) if items.is_empty() => return None,
        PValue::List(items) => Value::Array(
            items
                .iter()
                .map(|i| value(i).unwrap_or(Value::String(String::new())))
                .collect(),
        ),
        PValue::Map(map) if map.is_empty() => return None,
        PValue::Map(map) => {
            let mut entries: Vec<(String, Value)> = map
                .iter()
                .map(|(k, v)| {
                    let key = match k {
                        MapKey::String(s) => s.clone(),
                        MapKey::Bool(b) => b.to_string(),
                        MapKey::I32(n) => n.to_string(),
                        MapKey::I64(n) => n.to_string(),
                        MapKey::U32(n) => n.to_string(),
                        MapKey::U64(n) => n.to_string(),
                    };
                    // A map's empty string value is a value ("" in a ConfigMap's data).
                    let json = match v {
                        PValue::String(s) => Value::String(s.clone()),
                        other => value(other).unwrap_or(Value::Null),
                    };
                    (key, json)
                })
                .collect();
            entries.sort_by(|a, b| a.0.cmp(&b.0));
            Value::Object(entries.into_iter().collect())
        }
    })
}

#[cfg(test)]
mod tests {
    use super::go_duration;

    #[test]
    fn durations_read_as_go_writes_them() {
        assert_eq!(go_duration(0), "0s");
        assert_eq!(go_duration(1_500), "1.5µs");
        assert_eq!(go_duration(150_000_000), "150ms");
        assert_eq!(go_duration(90_000_000_000), "1m30s");
        assert_eq!(go_duration(3_723_500_000_000), "1h2m3.5s");
        assert_eq!(go_duration(-2_000_000_000), "-2s");
    }
}
