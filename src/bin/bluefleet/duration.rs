//! The one duration grammar of the command line: `100ms`, `30s`, `2.5s`, `10m`, `1h`, or a bare
//! number of seconds, the same grammar as world and hub files (the library's `parse_duration`).
//!
//! Every duration option goes through [`any`] or [`positive`], so each has the same syntax and
//! the same range checks: nothing negative, nothing non-finite, nothing over a year (a bigger
//! number is a typo, and would overflow timers).

use std::time::Duration;

use bluefleet::sim::world::parse_duration;

/// The longest duration any option accepts.
const LONGEST: Duration = Duration::from_secs(366 * 24 * 3600);

/// A duration from zero to a year.
pub fn any(text: &str) -> Result<Duration, String> {
    // clap's message already quotes the value: say only what is wrong with it.
    let duration = parse_duration(text)
        .map_err(|_| "not a duration (write e.g. 500ms, 30s, 2.5s, 10m, 1h)".to_string())?;
    if duration > LONGEST {
        return Err("longer than a year".into());
    }
    Ok(duration)
}

/// A duration above zero, up to a year.
pub fn positive(text: &str) -> Result<Duration, String> {
    let duration = any(text)?;
    if duration.is_zero() {
        return Err("must be longer than zero".into());
    }
    Ok(duration)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_grammar_with_range_checks() {
        assert_eq!(any("30s"), Ok(Duration::from_secs(30)));
        assert_eq!(any("2.5s"), Ok(Duration::from_millis(2500)));
        assert_eq!(any("10m"), Ok(Duration::from_secs(600)));
        assert_eq!(any("1h"), Ok(Duration::from_secs(3600)));
        assert_eq!(any("15"), Ok(Duration::from_secs(15)));
        assert_eq!(any("0"), Ok(Duration::ZERO));
        assert!(positive("0s").unwrap_err().contains("longer than zero"));
        assert!(any("1e300").is_err());
        assert!(any("99999999999999999999h").is_err());
        assert!(any("9000h").unwrap_err().contains("longer than a year"));
        assert!(any("-5s").is_err());
        assert!(any("NaN").is_err());
        assert!(any("").is_err());
    }
}
