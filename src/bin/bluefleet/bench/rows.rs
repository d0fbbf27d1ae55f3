//! One figure of `bluefleet bench` and its verdict, derived from that same value.
//!
//! A row is made from one measured value and a [`Target`]; the verdict is computed here from
//! that value, never measured again, so a row cannot say `pass` for a run it does not show.
//! Rows come in three kinds: performance (bluefleet's cost or quality against a goal), checks
//! of behaviour (counts that must hold, or figures that follow from the simulator's settings
//! and so say whether bluefleet did what it should, not how fast it is), and references
//! (context such as a baseline's figure: no target, no verdict).

use serde::Serialize;

/// What a row is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// bluefleet's own cost or scheduling quality, against a goal.
    Performance,
    /// A behaviour that must hold.
    Check,
    /// Context only: no target, no verdict.
    Reference,
}

/// The goal of a figure.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Target {
    AtLeast(f64),
    AtMost(f64),
    Below(f64),
    Equal(f64),
    /// A reference row.
    None,
}

impl Target {
    fn holds(self, value: f64) -> Option<bool> {
        match self {
            Target::AtLeast(t) => Some(value >= t),
            Target::AtMost(t) => Some(value <= t),
            Target::Below(t) => Some(value < t),
            Target::Equal(t) => Some(value == t),
            Target::None => None,
        }
    }

    fn text(self) -> Option<String> {
        let number = |t: f64| {
            if t.abs() >= 1e5 {
                format!("{t:e}")
            } else {
                format!("{t}")
            }
        };
        match self {
            Target::AtLeast(t) => Some(format!(">= {}", number(t))),
            Target::AtMost(t) => Some(format!("<= {}", number(t))),
            Target::Below(t) => Some(format!("< {}", number(t))),
            Target::Equal(t) => Some(format!("== {}", number(t))),
            Target::None => None,
        }
    }
}

/// One printed figure.
#[derive(Clone, Debug, Serialize)]
pub struct Row {
    pub figure: String,
    pub kind: Kind,
    pub value: f64,
    pub unit: &'static str,
    /// `None` for a reference row.
    pub target: Option<String>,
    /// `None` for a reference row; else whether `value` meets `target`.
    pub pass: Option<bool>,
}

impl Row {
    fn new(
        kind: Kind,
        figure: impl Into<String>,
        value: f64,
        unit: &'static str,
        target: Target,
    ) -> Self {
        Row {
            figure: figure.into(),
            kind,
            value,
            unit,
            target: target.text(),
            pass: target.holds(value),
        }
    }

    /// A performance figure against its goal.
    pub fn performance(
        figure: impl Into<String>,
        value: f64,
        unit: &'static str,
        target: Target,
    ) -> Self {
        Self::new(Kind::Performance, figure, value, unit, target)
    }

    /// A behaviour check.
    pub fn check(
        figure: impl Into<String>,
        value: f64,
        unit: &'static str,
        target: Target,
    ) -> Self {
        Self::new(Kind::Check, figure, value, unit, target)
    }

    /// Context, with no verdict.
    pub fn reference(figure: impl Into<String>, value: f64, unit: &'static str) -> Self {
        Self::new(Kind::Reference, figure, value, unit, Target::None)
    }

    /// Whether the row missed its target (a reference row never does).
    pub fn missed(&self) -> bool {
        self.pass == Some(false)
    }
}

/// `bench --check`: an error naming every miss, if any.
pub fn check(rows: &[Row]) -> Result<(), String> {
    let missed: Vec<&str> = rows
        .iter()
        .filter(|r| r.missed())
        .map(|r| r.figure.as_str())
        .collect();
    if missed.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "{} figure(s) missed their target: {}",
            missed.len(),
            missed.join("; ")
        ))
    }
}

pub fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values.get(values.len() / 2).copied().unwrap_or(f64::NAN)
}

pub fn percentile(mut values: Vec<f64>, q: f64) -> f64 {
    values.sort_by(f64::total_cmp);
    values
        .get(((values.len().max(1) - 1) as f64 * q) as usize)
        .copied()
        .unwrap_or(f64::NAN)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_verdict_is_the_value_against_the_target_and_references_have_none() {
        let hit = Row::performance("fast", 3e6, "1/s", Target::AtLeast(2e6));
        let miss = Row::check("no collisions", 1.0, "count", Target::Equal(0.0));
        let reference = Row::reference("baseline", 1.7, "x");
        assert_eq!(hit.pass, Some(true));
        assert_eq!(hit.target.as_deref(), Some(">= 2e6"));
        assert_eq!(miss.pass, Some(false));
        assert_eq!((reference.pass, reference.target.clone()), (None, None));
        assert!(!reference.missed());
        assert_eq!(check(&[hit.clone(), reference.clone()]), Ok(()));
        let err = check(&[hit, miss, reference]).unwrap_err();
        assert_eq!(err, "1 figure(s) missed their target: no collisions");
        assert_eq!(
            Row::check("nan", f64::NAN, "x", Target::AtMost(1.0)).pass,
            Some(false)
        );
    }
}
