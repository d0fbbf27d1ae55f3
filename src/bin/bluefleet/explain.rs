//! `bluefleet explain "<error text>"`: what a hub developer runs on an error from their logs.
//!
//! Classifies the text with the same table the fleet uses and says what bluefleet does next:
//! the backoff it applies, whether it tries another radio, and one line of advice.

use std::time::Duration;

use bluefleet::backend::{Failure, FailureSource, FailureStage};
use bluefleet::classify::{classify, next_step, ESP_CANCEL_GAVE_UP_AFTER};
use bluefleet::fleet::RetryPolicy;
use bluefleet::ErrorKind;
use clap::ValueEnum;

/// Arguments of `explain`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The error text, as logged (e.g. "[org.bluez.Error.Failed] le-connection-abort-by-local").
    text: String,
    /// Which backend produced it (decides how numeric codes are read).
    #[arg(long, value_enum, default_value_t = Source::Bluez)]
    source: Source,
    /// The text came from a timeout.
    #[arg(long)]
    timeout: bool,
    /// How long the attempt ran, e.g. 9s or 2.5s (ESP32 cancels mean different things below 8 s).
    #[arg(long, value_name = "DURATION", value_parser = crate::duration::any)]
    elapsed: Option<Duration>,
    /// Print one JSON object.
    #[arg(long)]
    json: bool,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum Source {
    Bluez,
    Esphome,
    Btleplug,
}

/// The first number in the text: `0x85` (hex) or `133` (decimal), standing alone.
fn numeric_code(text: &str) -> Option<i64> {
    text.split(|c: char| !c.is_ascii_alphanumeric())
        .find_map(
            |word| match word.strip_prefix("0x").or_else(|| word.strip_prefix("0X")) {
                Some(hex) => i64::from_str_radix(hex, 16).ok(),
                None => word.parse().ok(),
            },
        )
}

pub fn run(args: Args) -> Result<(), String> {
    if args.text.trim().is_empty() {
        return Err(
            "explain needs the error text, e.g. bluefleet explain \"le-connection-abort-by-local\""
                .into(),
        );
    }
    let source = match args.source {
        Source::Bluez => FailureSource::Bluez,
        Source::Esphome => FailureSource::Esphome,
        Source::Btleplug => FailureSource::Btleplug,
    };
    let mut failure = Failure::new(source, FailureStage::Connect, args.text.clone());
    failure.timed_out = args.timeout;
    // ESPHome and btleplug logs carry the controller's number (`0x85`, `133`): the classifier's
    // rules for codes need it as a number, not as text.
    if !matches!(args.source, Source::Bluez) {
        failure.code = numeric_code(&args.text);
    }
    failure.elapsed = args.elapsed;
    let verdict = classify(&failure);
    let backoff = RetryPolicy::default().base(verdict.kind);
    if args.json {
        let json = serde_json::json!({
            "class": verdict.kind,
            "backoff_s": backoff.as_secs_f64(),
            "tries_another_radio": matches!(verdict.kind, ErrorKind::OutOfSlots | ErrorKind::Aborted),
            "next": next_step(verdict.kind),
            "advice": verdict.advice,
            "rule": verdict.provenance,
        });
        println!("{json}");
    } else {
        println!("class:   {}", verdict.kind);
        println!(
            "next:    {} (backoff from {:.2} s, doubling, ±50% jitter)",
            next_step(verdict.kind),
            backoff.as_secs_f64()
        );
        println!("advice:  {}", verdict.advice);
        if let Some(rule) = verdict.provenance {
            println!("source:  {rule}");
        }
        if verdict.kind == ErrorKind::OutOfSlots
            && args.elapsed.is_none()
            && args.text.to_lowercase().contains("conn_cancel")
        {
            println!("note:    an ESP32 cancel after {} s or more means the device gave up (aborted); pass --elapsed", ESP_CANCEL_GAVE_UP_AFTER.as_secs());
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::numeric_code;

    #[test]
    fn codes_are_read_in_hex_or_decimal() {
        assert_eq!(numeric_code("0x85"), Some(0x85));
        assert_eq!(numeric_code("connect failed: error 133 (gatt)"), Some(133));
        assert_eq!(numeric_code("reason=0X3e"), Some(0x3E));
        assert_eq!(numeric_code("le-connection-abort-by-local"), None);
        assert_eq!(numeric_code("0xZZ 7"), Some(7));
    }
}
