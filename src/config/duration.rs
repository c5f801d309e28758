//! Durations as people write them in the config: `30s`, `5m`, `1h`, `1h30m`, `0s`.
//!
//! A tiny parser of our own instead of a dependency: the config needs only these units.

use std::borrow::Cow;
use std::fmt;
use std::time::Duration;

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::de::{self, Deserializer, Visitor};

const EXPECTED: &str = "a duration such as `30s`, `5m`, `1h` or `1h30m` (units: h, m, s, ms)";

/// Parses `1h30m`, `90s`, `250ms`, `0`. Each unit at most once, largest first.
pub fn parse(text: &str) -> Option<Duration> {
    let text = text.trim();
    if text == "0" {
        return Some(Duration::ZERO);
    }
    let mut rest = text;
    let mut total = Duration::ZERO;
    // Units in the only order accepted, so `5s1m` or `1m1m` is rejected rather than guessed at.
    let units: [(&str, u64); 4] = [("h", 3_600_000), ("m", 60_000), ("s", 1_000), ("ms", 1)];
    let mut next_unit = 0;
    while !rest.is_empty() {
        let digits = rest.find(|c: char| !c.is_ascii_digit()).unwrap_or(rest.len());
        if digits == 0 {
            return None;
        }
        let number: u64 = rest[..digits].parse().ok()?;
        rest = &rest[digits..];
        let unit_len = rest.find(|c: char| c.is_ascii_digit()).unwrap_or(rest.len());
        let unit = &rest[..unit_len];
        rest = &rest[unit_len..];
        let position = units[next_unit..].iter().position(|(name, _)| *name == unit)? + next_unit;
        total += Duration::from_millis(number.checked_mul(units[position].1)?);
        next_unit = position + 1;
    }
    if text.is_empty() { None } else { Some(total) }
}

/// Serde `deserialize_with` for `Duration` fields. Goes through a visitor so that
/// serde_norway attaches the value's own line and column to the error.
pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Duration, D::Error> {
    deserializer.deserialize_any(DurationVisitor)
}

/// Serde `deserialize_with` for `Option<Duration>` fields (absent: `None` through `#[serde(default)]`).
pub fn deserialize_option<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<Duration>, D::Error> {
    deserialize(deserializer).map(Some)
}

struct DurationVisitor;

impl<'de> Visitor<'de> for DurationVisitor {
    type Value = Duration;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str(EXPECTED)
    }

    fn visit_str<E: de::Error>(self, value: &str) -> Result<Duration, E> {
        parse(value).ok_or_else(|| E::invalid_value(de::Unexpected::Str(value), &self))
    }

    // A bare `0` is unambiguous; any other bare number is refused because its unit is not.
    fn visit_u64<E: de::Error>(self, value: u64) -> Result<Duration, E> {
        if value == 0 { Ok(Duration::ZERO) } else { Err(E::invalid_value(de::Unexpected::Unsigned(value), &self)) }
    }

    fn visit_i64<E: de::Error>(self, value: i64) -> Result<Duration, E> {
        Err(E::invalid_value(de::Unexpected::Signed(value), &self))
    }
}

/// Schema stand-in for `Duration` fields.
pub struct DurationSchema;

impl JsonSchema for DurationSchema {
    fn schema_name() -> Cow<'static, str> {
        "Duration".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "type": "string",
            "pattern": "^(0|([0-9]+h)?([0-9]+m)?([0-9]+s)?([0-9]+ms)?)$",
            "description": "A duration: `30s`, `5m`, `1h`, `1h30m`, `250ms`.",
            "examples": ["30s", "5m", "1h30m"]
        })
    }
}

#[cfg(test)]
mod tests {
    use super::parse;
    use std::time::Duration;

    #[test]
    fn parses_the_forms_people_write() {
        assert_eq!(parse("30s"), Some(Duration::from_secs(30)));
        assert_eq!(parse("5m"), Some(Duration::from_secs(300)));
        assert_eq!(parse("1h"), Some(Duration::from_secs(3600)));
        assert_eq!(parse("1h30m"), Some(Duration::from_secs(5400)));
        assert_eq!(parse("250ms"), Some(Duration::from_millis(250)));
        assert_eq!(parse("0s"), Some(Duration::ZERO));
        assert_eq!(parse("0"), Some(Duration::ZERO));
    }

    #[test]
    fn refuses_what_it_would_have_to_guess() {
        for bad in ["", "5", "5q", "m", "1m1m", "5s1m", "1.5h", "-1s", "1 h"] {
            assert_eq!(parse(bad), None, "{bad:?} should not parse");
        }
    }
}
