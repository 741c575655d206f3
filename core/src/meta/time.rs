//! Timestamps as Kubernetes writes them: `Time` (RFC 3339, whole seconds, `Z`) and `MicroTime` (microseconds).

use std::borrow::Cow;
use std::fmt;

use chrono::{DateTime, SecondsFormat, Utc};
use schemars::{json_schema, JsonSchema, Schema, SchemaGenerator};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A `metav1.Time`: a UTC instant serialized as RFC 3339 with whole seconds, e.g. `2024-05-01T10:00:00Z`.
///
/// ```
/// use skiff_core::meta::Time;
/// let t: Time = serde_json::from_str("\"2024-05-01T10:00:00Z\"").unwrap();
/// assert_eq!(serde_json::to_string(&t).unwrap(), "\"2024-05-01T10:00:00Z\"");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Time(pub DateTime<Utc>);

/// A `metav1.MicroTime`: like [`Time`] with microseconds, e.g. `2024-05-01T10:00:00.123456Z` (Lease, Event).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct MicroTime(pub DateTime<Utc>);

impl Time {
    /// The current instant, truncated to whole seconds as Kubernetes stores it.
    pub fn now() -> Self {
        Self(truncate_to_seconds(Utc::now()))
    }
}

impl MicroTime {
    /// The current instant with microsecond precision.
    pub fn now() -> Self {
        Self(Utc::now())
    }
}

fn truncate_to_seconds(t: DateTime<Utc>) -> DateTime<Utc> {
    DateTime::from_timestamp(t.timestamp(), 0).unwrap_or(t)
}

impl From<DateTime<Utc>> for Time {
    fn from(t: DateTime<Utc>) -> Self {
        Self(truncate_to_seconds(t))
    }
}

impl From<DateTime<Utc>> for MicroTime {
    fn from(t: DateTime<Utc>) -> Self {
        Self(t)
    }
}

impl fmt::Display for Time {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0.to_rfc3339_opts(SecondsFormat::Secs, true))
    }
}

impl fmt::Display for MicroTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0.to_rfc3339_opts(SecondsFormat::Micros, true))
    }
}

fn parse_rfc3339<'de, D: Deserializer<'de>>(d: D) -> Result<DateTime<Utc>, D::Error> {
    let s = String::deserialize(d)?;
    DateTime::parse_from_rfc3339(&s)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| {
            serde::de::Error::custom(format!("invalid timestamp {s:?}: {e} (want RFC 3339)"))
        })
}

impl Serialize for Time {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Time {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        parse_rfc3339(d).map(Time::from)
    }
}

impl Serialize for MicroTime {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for MicroTime {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        parse_rfc3339(d).map(MicroTime)
    }
}

macro_rules! date_time_schema {
    ($t:ty, $name:literal) => {
        impl JsonSchema for $t {
            fn inline_schema() -> bool {
                true
            }
            fn schema_name() -> Cow<'static, str> {
                $name.into()
            }
            fn json_schema(_: &mut SchemaGenerator) -> Schema {
                json_schema!({"type": "string", "format": "date-time"})
            }
        }
    };
}
date_time_schema!(Time, "Time");
date_time_schema!(MicroTime, "MicroTime");

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn time_truncates_and_round_trips() {
        let t: Time = serde_json::from_str("\"2024-05-01T10:00:00.987+02:00\"").unwrap();
        assert_eq!(t.to_string(), "2024-05-01T08:00:00Z");
    }

    #[test]
    fn micro_time_keeps_micros() {
        let t: MicroTime = serde_json::from_str("\"2024-05-01T10:00:00.123456Z\"").unwrap();
        assert_eq!(
            serde_json::to_string(&t).unwrap(),
            "\"2024-05-01T10:00:00.123456Z\""
        );
    }

    #[test]
    fn garbage_names_the_text() {
        let err = serde_json::from_str::<Time>("\"yesterday\"").unwrap_err();
        assert!(err.to_string().contains("yesterday"), "{err}");
    }
}
