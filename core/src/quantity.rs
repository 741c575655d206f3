//! `Quantity`: CPU and memory amounts as Kubernetes writes them (`250m`, `0.5`, `500Mi`, `1Gi`, `1G`, `2e3`).
//!
//! A quantity keeps its exact value (in nano-units, 10⁻⁹; finer precision is rounded up, as Kubernetes
//! does) and the notation it was written in, so that it prints back in Kubernetes' canonical form:
//!
//! | written | canonical | value |
//! |---|---|---|
//! | `0.5` | `500m` | half a CPU |
//! | `1000m` | `1` | one CPU |
//! | `1.5Gi` | `1536Mi` | 1,610,612,736 bytes |
//! | `0.5Ki` | `512` | 512 bytes (binary values under 1 Ki print in decimal) |
//! | `2000` | `2k` | |
//! | `2e3` | `2e3` | |
//!
//! Equality, ordering and hashing are by value: `1Gi == 1024Mi`, `0.5 == 500m`.
//!
//! ```
//! use skiff_core::Quantity;
//! let cpu: Quantity = "250m".parse().unwrap();
//! assert_eq!(cpu.millis(), 250);
//! let mem: Quantity = "1.5Gi".parse().unwrap();
//! assert_eq!(mem.value(), 1_610_612_736);
//! assert_eq!(mem.to_string(), "1536Mi");
//! assert!("500Mi".parse::<Quantity>().unwrap() < mem);
//! assert!("5 Mi".parse::<Quantity>().unwrap_err().to_string().contains("\"5 Mi\""));
//! ```

use std::borrow::Cow;
use std::cmp::Ordering;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::ops::{Add, AddAssign, Sub, SubAssign};
use std::str::FromStr;

use schemars::{json_schema, JsonSchema, Schema, SchemaGenerator};
use serde::de::{self, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

const NANO: i128 = 1_000_000_000;

/// The notation a quantity was written in; it decides how the quantity prints.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Format {
    /// Powers of 1024: `Ki`, `Mi`, `Gi`, `Ti`, `Pi`, `Ei`.
    BinarySI,
    /// Powers of 1000: `n`, `u`, `m`, (none), `k`, `M`, `G`, `T`, `P`, `E`.
    #[default]
    DecimalSI,
    /// Scientific notation: `2e3`, `1E-3`.
    DecimalExponent,
}

/// Why a text is not a quantity.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QuantityError {
    /// The text does not follow the quantity syntax.
    #[error("quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$': {text:?}")]
    Syntax {
        /// The offending text.
        text: String,
    },
    /// The value does not fit (beyond about 10^29).
    #[error("quantity too large: {text:?}")]
    TooLarge {
        /// The offending text.
        text: String,
    },
}

/// A Kubernetes resource quantity. See the [module docs](self).
#[derive(Clone, Copy, Debug, Default)]
pub struct Quantity {
    nanos: i128,
    format: Format,
}

impl Quantity {
    /// Parses a quantity (same as [`str::parse`]).
    pub fn parse(text: &str) -> Result<Self, QuantityError> {
        text.parse()
    }

    /// A CPU amount in millicores (`from_millis(250)` prints `250m`).
    pub fn from_millis(millis: i64) -> Self {
        Self {
            nanos: i128::from(millis) * 1_000_000,
            format: Format::DecimalSI,
        }
    }

    /// A memory amount in bytes, printed in binary units (`from_bytes(1 << 30)` prints `1Gi`).
    pub fn from_bytes(bytes: i64) -> Self {
        Self {
            nanos: i128::from(bytes) * NANO,
            format: Format::BinarySI,
        }
    }

    /// The notation the quantity prints in.
    pub fn format(&self) -> Format {
        self.format
    }

    /// The value in thousandths, rounded up (CPU millicores), saturating at the `i64` range.
    pub fn millis(&self) -> i64 {
        saturate(div_ceil(self.nanos, 1_000_000))
    }

    /// The value in whole units, rounded up (bytes for memory), saturating at the `i64` range.
    pub fn value(&self) -> i64 {
        saturate(div_ceil(self.nanos, NANO))
    }

    /// The value as a float (for display and ratios, not for arithmetic).
    pub fn as_f64(&self) -> f64 {
        self.nanos as f64 / NANO as f64
    }

    /// True when the value is zero.
    pub fn is_zero(&self) -> bool {
        self.nanos == 0
    }

    /// True when the value is below zero.
    pub fn is_negative(&self) -> bool {
        self.nanos < 0
    }

    fn combine(self, other: Quantity, nanos: i128) -> Quantity {
        // Like Kubernetes, a zero quantity takes the notation of what is added to it.
        let format = if self.nanos == 0 {
            other.format
        } else {
            self.format
        };
        Quantity { nanos, format }
    }
}

fn div_ceil(n: i128, d: i128) -> i128 {
    let q = n / d;
    if n % d != 0 && n > 0 {
        q + 1
    } else {
        q
    }
}

fn saturate(v: i128) -> i64 {
    i64::try_from(v).unwrap_or(if v < 0 { i64::MIN } else { i64::MAX })
}

/// Multiplier of a suffix, as (base, exponent, format).
fn parse_suffix(s: &str) -> Option<(i128, i32, Format)> {
    let decimal = |e| Some((10, e, Format::DecimalSI));
    let binary = |e| Some((2, e, Format::BinarySI));
    match s {
        "" => decimal(0),
        "n" => decimal(-9),
        "u" => decimal(-6),
        "m" => decimal(-3),
        "k" => decimal(3),
        "M" => decimal(6),
        "G" => decimal(9),
        "T" => decimal(12),
        "P" => decimal(15),
        "E" => decimal(18),
        "Ki" => binary(10),
        "Mi" => binary(20),
        "Gi" => binary(30),
        "Ti" => binary(40),
        "Pi" => binary(50),
        "Ei" => binary(60),
        _ => {
            let rest = s.strip_prefix(['e', 'E'])?;
            let digits = rest.strip_prefix(['+', '-']).unwrap_or(rest);
            if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) || digits.len() > 3
            {
                return None;
            }
            let e: i32 = rest.parse().ok()?;
            Some((10, e, Format::DecimalExponent))
        }
    }
}

fn pow(base: i128, e: u32) -> Option<i128> {
    base.checked_pow(e)
}

impl FromStr for Quantity {
    type Err = QuantityError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let syntax = || QuantityError::Syntax {
            text: text.to_string(),
        };
        let too_large = || QuantityError::TooLarge {
            text: text.to_string(),
        };
        let (negative, unsigned) = match text.as_bytes().first() {
            Some(b'-') => (true, &text[1..]),
            Some(b'+') => (false, &text[1..]),
            _ => (false, text),
        };
        let num_len = unsigned
            .bytes()
            .take_while(|b| b.is_ascii_digit() || *b == b'.')
            .count();
        let (number, suffix) = unsigned.split_at(num_len);
        let (whole, frac) = number.split_once('.').unwrap_or((number, ""));
        if whole.is_empty() && frac.is_empty() || frac.contains('.') {
            return Err(syntax());
        }
        let (base, exp, format) = parse_suffix(suffix).ok_or_else(syntax)?;
        let digits = format!("{whole}{frac}");
        let digits = digits.trim_start_matches('0');
        if digits.len() > 36 {
            return Err(too_large());
        }
        let mantissa: i128 = if digits.is_empty() {
            0
        } else {
            digits.parse().map_err(|_| syntax())?
        };
        let frac_len = i32::try_from(frac.len()).map_err(|_| too_large())?;
        // value = mantissa * base^exp / 10^frac_len, in nanos: * 10^9.
        let nanos = if base == 2 {
            let scaled = mantissa
                .checked_mul(pow(2, exp.unsigned_abs()).ok_or_else(too_large)?)
                .and_then(|v| v.checked_mul(NANO))
                .ok_or_else(too_large)?;
            let div = pow(10, frac_len.unsigned_abs()).ok_or_else(too_large)?;
            div_ceil(scaled, div)
        } else {
            let e10 = exp + 9 - frac_len;
            if e10 >= 0 {
                mantissa
                    .checked_mul(pow(10, e10.unsigned_abs()).ok_or_else(too_large)?)
                    .ok_or_else(too_large)?
            } else {
                match pow(10, e10.unsigned_abs()) {
                    Some(div) => div_ceil(mantissa, div),
                    // Smaller than a nano: rounds up to one nano (or zero).
                    None => i128::from(mantissa != 0),
                }
            }
        };
        if nanos > i128::MAX / 1024 {
            return Err(too_large());
        }
        Ok(Quantity {
            nanos: if negative { -nanos } else { nanos },
            format,
        })
    }
}

impl fmt::Display for Quantity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.nanos == 0 {
            return f.write_str("0");
        }
        let sign = if self.nanos < 0 { "-" } else { "" };
        let abs = self.nanos.unsigned_abs();
        let nano = NANO.unsigned_abs();
        let whole_units = abs % nano == 0;
        if self.format == Format::BinarySI && whole_units && abs / nano >= 1024 {
            let mut units = abs / nano;
            let mut suffix = "";
            for s in ["Ki", "Mi", "Gi", "Ti", "Pi", "Ei"] {
                if units % 1024 != 0 {
                    break;
                }
                units /= 1024;
                suffix = s;
            }
            return write!(f, "{sign}{units}{suffix}");
        }
        // Decimal: the largest exponent (multiple of 3) that keeps the mantissa whole.
        let mut mantissa = abs;
        let mut exp: i32 = -9;
        while mantissa % 1000 == 0 && exp < 18 {
            mantissa /= 1000;
            exp += 3;
        }
        if self.format == Format::DecimalExponent {
            return if exp == 0 {
                write!(f, "{sign}{mantissa}")
            } else {
                write!(f, "{sign}{mantissa}e{exp}")
            };
        }
        let suffix = match exp {
            -9 => "n",
            -6 => "u",
            -3 => "m",
            0 => "",
            3 => "k",
            6 => "M",
            9 => "G",
            12 => "T",
            15 => "P",
            _ => "E",
        };
        write!(f, "{sign}{mantissa}{suffix}")
    }
}

impl PartialEq for Quantity {
    fn eq(&self, other: &Self) -> bool {
        self.nanos == other.nanos
    }
}

impl Eq for Quantity {}

impl PartialOrd for Quantity {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Quantity {
    fn cmp(&self, other: &Self) -> Ordering {
        self.nanos.cmp(&other.nanos)
    }
}

impl Hash for Quantity {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.nanos.hash(state)
    }
}

impl Add for Quantity {
    type Output = Quantity;
    /// Sums two quantities (saturating); the result keeps the left operand's notation.
    fn add(self, rhs: Quantity) -> Quantity {
        self.combine(rhs, self.nanos.saturating_add(rhs.nanos))
    }
}

impl Sub for Quantity {
    type Output = Quantity;
    /// Subtracts (saturating); the result keeps the left operand's notation.
    fn sub(self, rhs: Quantity) -> Quantity {
        self.combine(rhs, self.nanos.saturating_sub(rhs.nanos))
    }
}

impl AddAssign for Quantity {
    fn add_assign(&mut self, rhs: Quantity) {
        *self = *self + rhs;
    }
}

impl SubAssign for Quantity {
    fn sub_assign(&mut self, rhs: Quantity) {
        *self = *self - rhs;
    }
}

impl std::iter::Sum for Quantity {
    fn sum<I: Iterator<Item = Quantity>>(iter: I) -> Quantity {
        iter.fold(Quantity::default(), Add::add)
    }
}

impl Serialize for Quantity {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Quantity {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct QuantityVisitor;
        impl Visitor<'_> for QuantityVisitor {
            type Value = Quantity;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a quantity such as \"250m\", \"1Gi\" or 2")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Quantity, E> {
                v.parse().map_err(E::custom)
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Quantity, E> {
                self.visit_str(&v.to_string())
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Quantity, E> {
                self.visit_str(&v.to_string())
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Quantity, E> {
                if !v.is_finite() {
                    return Err(E::custom(format!("invalid quantity {v}")));
                }
                self.visit_str(&v.to_string())
            }
        }
        d.deserialize_any(QuantityVisitor)
    }
}

impl JsonSchema for Quantity {
    fn inline_schema() -> bool {
        true
    }
    fn schema_name() -> Cow<'static, str> {
        "Quantity".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        // A string on the wire, as Kubernetes documents it (plain numbers are accepted too).
        json_schema!({
            "type": "string",
            "description": "A quantity such as \"250m\", \"0.5\", \"500Mi\", \"1Gi\", \"1G\" or \"2e3\"."
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn q(s: &str) -> Quantity {
        s.parse().unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    #[test]
    fn canonical_forms() {
        let cases = [
            ("0.5", "500m"),
            ("1.5Gi", "1536Mi"),
            ("1G", "1G"),
            ("2e3", "2e3"),
            ("1000m", "1"),
            ("1024Mi", "1Gi"),
            ("1536", "1536"),
            ("0.5Gi", "512Mi"),
            ("1.5", "1500m"),
            ("100Mi", "100Mi"),
            ("0", "0"),
            ("0Mi", "0"),
            ("250m", "250m"),
            ("2000", "2k"),
            ("0.5Ki", "512"),
            ("1025Ki", "1025Ki"),
            ("1E-3", "1e-3"),
            ("12e6", "12e6"),
            ("1500e0", "1500"),
            ("-1Mi", "-1Mi"),
            ("+2", "2"),
            (".5", "500m"),
            ("1.", "1"),
            ("100n", "100n"),
            ("1500u", "1500u"),
            ("3k", "3k"),
            ("1M", "1M"),
            ("2T", "2T"),
            ("1P", "1P"),
            ("1E", "1E"),
            ("1Ti", "1Ti"),
            ("1Pi", "1Pi"),
            ("1Ei", "1Ei"),
            ("0.1m", "100u"),
            ("1.0000000001", "1000000001n"),
        ];
        for (input, want) in cases {
            assert_eq!(q(input).to_string(), want, "{input}");
        }
    }

    #[test]
    fn values() {
        assert_eq!(q("250m").millis(), 250);
        assert_eq!(q("0.5").millis(), 500);
        assert_eq!(q("2").millis(), 2000);
        assert_eq!(q("500Mi").value(), 500 * 1024 * 1024);
        assert_eq!(q("1Gi").value(), 1 << 30);
        assert_eq!(q("1G").value(), 1_000_000_000);
        assert_eq!(q("2e3").value(), 2000);
        assert_eq!(q("1.5Gi").value(), 1_610_612_736);
        assert_eq!(q("1m").value(), 1, "whole units round up");
        assert_eq!(q("0.1m").millis(), 1, "millis round up");
        assert_eq!(q("1n").millis(), 1);
        assert_eq!(
            q("0.0000000001").to_string(),
            "1n",
            "below a nano rounds up"
        );
        assert_eq!(q("8Ei").value(), i64::MAX, "saturates");
    }

    #[test]
    fn comparisons_are_by_value() {
        assert_eq!(q("1Gi"), q("1024Mi"));
        assert_eq!(q("0.5"), q("500m"));
        assert_eq!(q("1k"), q("1000"));
        assert!(q("1G") < q("1Gi"));
        assert!(q("999m") < q("1"));
        assert!(q("-1") < q("0"));
        use std::collections::hash_map::DefaultHasher;
        let h = |x: Quantity| {
            let mut s = DefaultHasher::new();
            x.hash(&mut s);
            s.finish()
        };
        assert_eq!(h(q("1Gi")), h(q("1024Mi")));
    }

    #[test]
    fn garbage_is_rejected_with_the_text() {
        for bad in [
            "", "abc", "1.2.3", "5 Mi", "1Qi", "--1", "1e", ".", "Mi", "1mi", " 1", "1 ", "1e1000",
            "1ki", "+-1", "0x10",
        ] {
            let err = bad.parse::<Quantity>().expect_err(bad);
            assert!(
                err.to_string().contains(&format!("{bad:?}")),
                "{bad}: {err}"
            );
        }
        assert!(matches!(
            "99999999999999999999999999999999999999999".parse::<Quantity>(),
            Err(QuantityError::TooLarge { .. })
        ));
    }

    #[test]
    fn arithmetic() {
        let mut total = Quantity::default();
        total += q("250m");
        total += q("0.5");
        assert_eq!(total.to_string(), "750m");
        let mem: Quantity = [q("512Mi"), q("512Mi")].into_iter().sum();
        assert_eq!(
            mem.to_string(),
            "1Gi",
            "a zero sum takes the notation of what is added"
        );
        assert_eq!((q("1Gi") - q("512Mi")).to_string(), "512Mi");
        assert!((q("1") - q("2")).is_negative());
        assert_eq!(Quantity::from_millis(1500).to_string(), "1500m");
        assert_eq!(Quantity::from_bytes(3 << 20).to_string(), "3Mi");
    }

    #[test]
    fn serde_accepts_strings_and_numbers() {
        let v: Vec<Quantity> = serde_json::from_str(r#"["250m", 2, 0.5, "1Gi"]"#).unwrap();
        assert_eq!(
            serde_json::to_string(&v).unwrap(),
            r#"["250m","2","500m","1Gi"]"#
        );
        let y: std::collections::BTreeMap<String, Quantity> =
            serde_yaml::from_str("cpu: 2\nmemory: 1.5Gi\n").unwrap();
        assert_eq!(y["cpu"].millis(), 2000);
        let err = serde_json::from_str::<Quantity>("\"lots\"").unwrap_err();
        assert!(err.to_string().contains("\"lots\""), "{err}");
    }

    proptest! {
        #[test]
        fn canonical_form_reparses_to_the_same_value(
            mantissa in -1_000_000_000i64..1_000_000_000,
            frac in 0u32..4,
            suffix in prop::sample::select(vec!["", "n", "u", "m", "k", "M", "G", "T", "Ki", "Mi", "Gi", "Ti", "e3", "e-3", "E6"]),
        ) {
            let text = if frac == 0 {
                format!("{mantissa}{suffix}")
            } else {
                let scale = 10i64.pow(frac);
                let (sign, abs) = if mantissa < 0 { ("-", -mantissa) } else { ("", mantissa) };
                format!("{sign}{}.{:0width$}{suffix}", abs / scale, abs % scale, width = frac as usize)
            };
            let a: Quantity = text.parse().unwrap();
            let b: Quantity = a.to_string().parse().unwrap();
            prop_assert_eq!(a, b, "{} -> {}", text, a);
            // A binary quantity that is not a whole number of Ki prints without a suffix (as Kubernetes
            // does) and re-parses as decimal, so the text may change once; after that it is a fixed point.
            let c: Quantity = b.to_string().parse().unwrap();
            prop_assert_eq!(b.to_string(), c.to_string());
        }

        #[test]
        fn order_agrees_with_floats(a in -1_000_000i64..1_000_000, b in -1_000_000i64..1_000_000,
                                    sa in prop::sample::select(vec!["m", "", "k", "Ki", "Mi"]),
                                    sb in prop::sample::select(vec!["m", "", "k", "Ki", "Mi"])) {
            let qa: Quantity = format!("{a}{sa}").parse().unwrap();
            let qb: Quantity = format!("{b}{sb}").parse().unwrap();
            prop_assert_eq!(qa.cmp(&qb), qa.as_f64().partial_cmp(&qb.as_f64()).unwrap());
        }

        #[test]
        fn millicores_round_trip(m in -10_000_000i64..10_000_000) {
            let q = Quantity::from_millis(m);
            prop_assert_eq!(q.millis(), m);
            prop_assert_eq!(q.to_string().parse::<Quantity>().unwrap().millis(), m);
        }
    }
}
