//! Decides the error class of a backend [`Failure`]: one function over one table.
//!
//! Retry behaviour depends on the class (design §3): not-found waits for a fresh
//! advertisement, out-of-slots moves to another radio, aborted retries soon, generic backs off.
//! Keeping every backend's words in one data table (`table.rs`) means adding a backend or a
//! newly seen message is a new row, not a new `if` somewhere in the retry loop.
//!
//! Called by the device actor on every failed attempt and by `bluefleet explain`.

mod table;

use serde::Serialize;

use crate::backend::Failure;
use crate::error::ErrorKind;
use table::{Needle, Rule, When, GENERIC_ADVICE, RULES};

pub use table::CONN_CANCEL_GAVE_UP_AFTER as ESP_CANCEL_GAVE_UP_AFTER;

/// The verdict on one failure.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Classification {
    /// The class.
    pub kind: ErrorKind,
    /// One line for a human: what it means and what helps.
    pub advice: &'static str,
    /// Where the rule that matched comes from (`None` when no rule matched).
    pub provenance: Option<&'static str>,
}

/// What the fleet does next after a failure of this class (design §3), in one line: what
/// `bluefleet explain` and the live page's attempts view say.
pub fn next_step(kind: ErrorKind) -> &'static str {
    match kind {
        ErrorKind::NotFound => "waits for a fresh advertisement from any radio, then retries",
        ErrorKind::OutOfSlots => {
            "tries another radio that heard the device; if none has a free slot, backs off"
        }
        ErrorKind::Aborted => "retries soon, on the same or another radio",
        _ => "backs off and retries within the attempt budget",
    }
}

/// Classifies a failure. Never panics; unknown words are [`ErrorKind::Generic`].
pub fn classify(failure: &Failure) -> Classification {
    let haystack = searchable_text(failure);
    RULES
        .iter()
        .find(|rule| matches(rule, failure, &haystack))
        .map(|rule| Classification {
            kind: rule.kind,
            advice: rule.advice,
            provenance: Some(rule.provenance),
        })
        .unwrap_or(Classification {
            kind: ErrorKind::Generic,
            advice: GENERIC_ADVICE,
            provenance: None,
        })
}

/// The name and text, lower-cased, as one string (bleak formats D-Bus errors as
/// `[name] text`, and brc searched that whole string).
fn searchable_text(failure: &Failure) -> String {
    let mut text = String::with_capacity(failure.text.len() + 48);
    if let Some(name) = &failure.name {
        text.push_str(name);
        text.push(' ');
    }
    text.push_str(&failure.text);
    text.to_lowercase()
}

fn matches(rule: &Rule, failure: &Failure, haystack: &str) -> bool {
    if rule.source.is_some_and(|s| s != failure.source)
        || rule.stage.is_some_and(|s| s != failure.stage)
    {
        return false;
    }
    let condition = match rule.when {
        When::Always => true,
        When::TimedOut => failure.timed_out,
        When::RanAtLeast(min) => failure.elapsed.is_some_and(|e| e >= min),
    };
    condition
        && match rule.needle {
            Needle::Any => true,
            Needle::Code(code) => failure.code == Some(code),
            Needle::Text(needle) => haystack.contains(&needle.to_lowercase()),
        }
}

#[cfg(test)]
mod tests;
