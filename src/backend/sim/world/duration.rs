//! Durations as people write them in a world file: `"100ms"`, `"2s"`, `"1.5s"`, `"20m"`,
//! `"1h"`, or a bare number of seconds.
//!
//! World files describe timings from milliseconds (connection intervals) to hours (outages), so
//! one small parser keeps them readable. Used by the TOML schema and the command line.

use std::time::Duration;

/// Parses a duration; the error says what was expected.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let trimmed = text.trim();
    let split = trimmed
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(trimmed.len());
    let (number, unit) = trimmed.split_at(split);
    let value: f64 = number
        .parse()
        .map_err(|_| format!("'{text}' is not a duration: expected e.g. 100ms, 2s, 20m, 1h"))?;
    let scale = match unit.trim() {
        "ms" => 0.001,
        "s" | "" => 1.0,
        "m" | "min" => 60.0,
        "h" => 3600.0,
        other => {
            return Err(format!(
                "'{text}': unknown unit '{other}' (use ms, s, m or h)"
            ))
        }
    };
    seconds(value * scale).ok_or_else(|| format!("'{text}' is not a finite, non-negative duration"))
}

/// Seconds as a float to a `Duration`, refusing negative and non-finite values.
pub(crate) fn seconds(value: f64) -> Option<Duration> {
    Duration::try_from_secs_f64(value).ok()
}

/// A duration field in TOML: a string with a unit or a number of seconds.
#[derive(Clone, Debug, serde::Deserialize)]
#[serde(untagged)]
pub(crate) enum DurationText {
    /// `2.5` (seconds).
    Seconds(f64),
    /// `"250ms"`.
    Text(String),
}

impl DurationText {
    /// The duration, or what was wrong with it.
    pub(crate) fn resolve(&self) -> Result<Duration, String> {
        match self {
            Self::Seconds(value) => {
                seconds(*value).ok_or_else(|| format!("{value} is not a non-negative duration"))
            }
            Self::Text(text) => parse_duration(text),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn units_and_bare_numbers_parse() {
        assert_eq!(parse_duration("100ms"), Ok(Duration::from_millis(100)));
        assert_eq!(parse_duration("2s"), Ok(Duration::from_secs(2)));
        assert_eq!(parse_duration("1.5s"), Ok(Duration::from_millis(1500)));
        assert_eq!(parse_duration("20m"), Ok(Duration::from_secs(1200)));
        assert_eq!(parse_duration("1h"), Ok(Duration::from_secs(3600)));
        assert_eq!(parse_duration("3"), Ok(Duration::from_secs(3)));
    }

    #[test]
    fn nonsense_is_refused_with_the_text() {
        assert!(parse_duration("soon").unwrap_err().contains("'soon'"));
        assert!(parse_duration("5 parsecs")
            .unwrap_err()
            .contains("unknown unit"));
        assert!(DurationText::Seconds(-1.0).resolve().is_err());
    }
}
