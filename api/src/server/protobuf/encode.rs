//! Kubernetes JSON → a message, by reflection: the inverse of [`decode`](super::decode). JSON fields
//! the message does not have (`apiVersion` and `kind`, which travel in the envelope) are left out;
//! `null` is no value.

use base64::Engine as _;
use chrono::{DateTime, Utc};
use prost_reflect::{
    DynamicMessage, FieldDescriptor, Kind, MapKey, MessageDescriptor, Value as PValue,
};
use serde_json::Value;

use super::decode::{is_inline, Special};
use super::ProtobufError;

fn bad(path: &str, reason: impl Into<String>) -> ProtobufError {
    ProtobufError::Unencodable {
        field: if path.is_empty() {
            "the object".into()
        } else {
            path.to_string()
        },
        reason: reason.into(),
    }
}

fn join(path: &str, name: &str) -> String {
    if path.is_empty() {
        name.to_string()
    } else {
        format!("{path}.{name}")
    }
}

/// Go's duration syntax (`1h2m3.5s`, `150ms`) in nanoseconds.
fn parse_duration(s: &str) -> Option<i64> {
    let (neg, mut rest) = match s.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, s.strip_prefix('+').unwrap_or(s)),
    };
    if rest == "0" {
        return Some(0);
    }
    let mut total = 0f64;
    while !rest.is_empty() {
        let end = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .filter(|e| *e > 0)?;
        let n: f64 = rest[..end].parse().ok()?;
        rest = &rest[end..];
        let unit_end = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let scale = match &rest[..unit_end] {
            "ns" => 1.0,
            "us" | "µs" => 1e3,
            "ms" => 1e6,
            "s" => 1e9,
            "m" => 60e9,
            "h" => 3600e9,
            _ => return None,
        };
        total += n * scale;
        rest = &rest[unit_end..];
    }
    let ns = total.round() as i64;
    Some(if neg { -ns } else { ns })
}

fn special(
    desc: &MessageDescriptor,
    kind: Special,
    json: &Value,
    path: &str,
) -> Result<DynamicMessage, ProtobufError> {
    let mut msg = DynamicMessage::new(desc.clone());
    let mut set = |number: u32, v: PValue| {
        if let Some(f) = desc.get_field(number) {
            msg.set_field(&f, v);
        }
    };
    match kind {
        Special::Time | Special::MicroTime => {
            let text = json
                .as_str()
                .ok_or_else(|| bad(path, "a time must be a string"))?;
            let t: DateTime<Utc> = DateTime::parse_from_rfc3339(text)
                .map_err(|e| bad(path, format!("{text:?} is not an RFC 3339 time: {e}")))?
                .with_timezone(&Utc);
            set(1, PValue::I64(t.timestamp()));
            let nanos = i32::try_from(t.timestamp_subsec_nanos()).unwrap_or(0);
            if nanos != 0 {
                set(2, PValue::I32(nanos));
            }
        }
        Special::Duration => {
            let text = json
                .as_str()
                .ok_or_else(|| bad(path, "a duration must be a string"))?;
            let ns = parse_duration(text)
                .ok_or_else(|| bad(path, format!("{text:?} is not a duration")))?;
            set(1, PValue::I64(ns));
        }
        Special::IntOrString => match json {
            Value::String(s) => {
                set(1, PValue::I64(1));
                set(3, PValue::String(s.clone()));
            }
            Value::Number(n) => {
                let i = n
                    .as_i64()
                    .and_then(|i| i32::try_from(i).ok())
                    .ok_or_else(|| bad(path, format!("{n} is not a 32-bit integer")))?;
                set(1, PValue::I64(0));
                set(2, PValue::I32(i));
            }
            _ => return Err(bad(path, "must be an integer or a string")),
        },
        Special::Quantity => {
            let text = match json {
                Value::String(s) => s.clone(),
                Value::Number(n) => n.to_string(),
                _ => return Err(bad(path, "a quantity must be a string or a number")),
            };
            set(1, PValue::String(text));
        }
        Special::Raw => {
            let raw = serde_json::to_vec(json).map_err(|e| bad(path, e.to_string()))?;
            set(1, PValue::Bytes(raw.into()));
        }
        Special::Items => {
            let field = desc
                .get_field(1)
                .ok_or_else(|| bad(path, "no items field"))?;
            let v = list(&field, json, path)?;
            msg.set_field(&field, v);
        }
    }
    Ok(msg)
}

/// The message `desc` from its JSON.
pub(super) fn message(
    desc: &MessageDescriptor,
    json: &Value,
    path: &str,
) -> Result<DynamicMessage, ProtobufError> {
    if let Some(kind) = Special::of(desc.full_name()) {
        return special(desc, kind, json, path);
    }
    let obj = json
        .as_object()
        .ok_or_else(|| bad(path, format!("must be an object for {}", desc.name())))?;
    let mut msg = DynamicMessage::new(desc.clone());
    // Inline structs take their fields from this object itself.
    for field in desc.fields().filter(is_inline) {
        if let Kind::Message(inner) = field.kind() {
            let v = message(&inner, json, path)?;
            msg.set_field(&field, PValue::Message(v));
        }
    }
    for (name, v) in obj {
        if v.is_null() {
            continue;
        }
        let Some(field) = desc.get_field_by_name(name) else {
            continue;
        };
        let p = join(path, name);
        let pv = if field.is_map() {
            map(&field, v, &p)?
        } else if field.is_list() {
            list(&field, v, &p)?
        } else {
            scalar(&field.kind(), v, &p)?
        };
        msg.set_field(&field, pv);
    }
    Ok(msg)
}

fn list(field: &FieldDescriptor, json: &Value, path: &str) -> Result<PValue, ProtobufError> {
    let items = json.as_array().ok_or_else(|| bad(path, "must be a list"))?;
    let kind = field.kind();
    items
        .iter()
        .enumerate()
        .map(|(i, item)| scalar(&kind, item, &format!("{path}[{i}]")))
        .collect::<Result<Vec<_>, _>>()
        .map(PValue::List)
}

fn map(field: &FieldDescriptor, json: &Value, path: &str) -> Result<PValue, ProtobufError> {
    let obj = json.as_object().ok_or_else(|| bad(path, "must be a map"))?;
    let entry = field
        .kind()
        .as_message()
        .cloned()
        .ok_or_else(|| bad(path, "a map without an entry type"))?;
    let value_kind = entry.map_entry_value_field().kind();
    obj.iter()
        .map(|(k, v)| {
            Ok((
                MapKey::String(k.clone()),
                scalar(&value_kind, v, &join(path, k))?,
            ))
        })
        .collect::<Result<_, ProtobufError>>()
        .map(PValue::Map)
}

fn scalar(kind: &Kind, json: &Value, path: &str) -> Result<PValue, ProtobufError> {
    let int = || {
        json.as_i64()
            .or_else(|| json.as_str().and_then(|s| s.parse().ok()))
            .ok_or_else(|| bad(path, "must be an integer"))
    };
    Ok(match kind {
        Kind::Message(desc) => PValue::Message(message(desc, json, path)?),
        Kind::String => PValue::String(match json {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        }),
        Kind::Bool => PValue::Bool(
            json.as_bool()
                .ok_or_else(|| bad(path, "must be a boolean"))?,
        ),
        Kind::Int32 | Kind::Sint32 | Kind::Sfixed32 => {
            PValue::I32(i32::try_from(int()?).map_err(|_| bad(path, "out of 32-bit range"))?)
        }
        Kind::Int64 | Kind::Sint64 | Kind::Sfixed64 => PValue::I64(int()?),
        Kind::Uint32 | Kind::Fixed32 => {
            PValue::U32(u32::try_from(int()?).map_err(|_| bad(path, "out of range"))?)
        }
        Kind::Uint64 | Kind::Fixed64 => {
            PValue::U64(u64::try_from(int()?).map_err(|_| bad(path, "out of range"))?)
        }
        Kind::Double => PValue::F64(json.as_f64().ok_or_else(|| bad(path, "must be a number"))?),
        Kind::Float => {
            PValue::F32(json.as_f64().ok_or_else(|| bad(path, "must be a number"))? as f32)
        }
        Kind::Bytes => {
            let text = json
                .as_str()
                .ok_or_else(|| bad(path, "bytes must be a base64 string"))?;
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(text)
                .map_err(|e| bad(path, format!("not base64: {e}")))?;
            PValue::Bytes(bytes.into())
        }
        Kind::Enum(_) => {
            PValue::EnumNumber(i32::try_from(int()?).map_err(|_| bad(path, "out of range"))?)
        }
    })
}

#[cfg(test)]
mod tests {
    use super::parse_duration;
    use crate::server::protobuf::decode::go_duration;

    #[test]
    fn durations_round_trip() {
        for ns in [
            0,
            1_500,
            150_000_000,
            90_000_000_000,
            3_723_500_000_000,
            -2_000_000_000,
        ] {
            assert_eq!(parse_duration(&go_duration(ns)), Some(ns), "{ns}");
        }
        assert_eq!(parse_duration("1h"), Some(3_600_000_000_000));
        assert_eq!(parse_duration("soon"), None);
    }
}
