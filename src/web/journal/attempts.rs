//! The attempts view, from the fleet's own attempt events ([`AttemptEvent`]): each finished
//! attempt with the radios the device considered when it queued (and why each was skipped),
//! the outcome and its class, what bluefleet does next, and when it may retry.
//!
//! The events come from the device actors as they decide, so the view shows their reasons
//! rather than a reading of a later sample; a listener that fell behind is told how many it
//! missed, and the view counts them.

use std::collections::{BTreeMap, VecDeque};
use std::time::Duration;

use crate::classify::next_step;
use crate::device::attempt_log::AttemptEvent;
use crate::device::radio_choice::{ConsideredRadio, SkipReason};
use crate::device::retry::RetryPolicy;
use crate::model::{Address, RadioId};
use crate::web::views::{AttemptRow, Considered};

use super::Versioned;

/// Attempts kept for the attempts view.
pub const KEEP_ATTEMPTS: usize = 2000;

/// What a device's attempt looked like before it finished.
#[derive(Debug, Default)]
struct Pending {
    considered: Vec<ConsideredRadio>,
    attempt: u32,
}

#[derive(Debug, Default)]
pub(super) struct AttemptLog {
    pub rows: VecDeque<Versioned<AttemptRow>>,
    pending: BTreeMap<Address, Pending>,
    next_id: usize,
    /// Events this listener missed (it fell behind the fleet).
    pub missed: u64,
}

impl AttemptLog {
    /// One event; `name` labels the device.
    pub fn event(
        &mut self,
        event: &AttemptEvent,
        name: impl Fn(&Address) -> String,
        seq: &mut u64,
    ) {
        match event {
            AttemptEvent::Queued {
                device, considered, ..
            } => self.pending.entry(*device).or_default().considered = considered.clone(),
            AttemptEvent::Started {
                device, attempt, ..
            } => self.pending.entry(*device).or_default().attempt = *attempt,
            AttemptEvent::Connected {
                at, device, radio, ..
            } => {
                let row = self.row(*at, *device, name(device), radio);
                self.push(
                    AttemptRow {
                        outcome: "connected",
                        class: "ok",
                        explanation: "connected; keeps the link and resubscribes".into(),
                        ..row
                    },
                    seq,
                );
            }
            AttemptEvent::Failed {
                at,
                device,
                radio,
                class,
                error,
                next_retry_in,
            } => {
                let row = self.row(*at, *device, name(device), radio);
                let explanation = format!(
                    "{class}: bluefleet {} (backoff from {:.2} s, doubling, ±50% jitter)",
                    next_step(*class),
                    RetryPolicy::default().base(*class).as_secs_f64()
                );
                let next_retry_s = next_retry_in.map(|d| (*at + d).as_secs_f64());
                self.push(
                    AttemptRow {
                        outcome: "failed",
                        class: class.as_str(),
                        error: Some(error.clone()),
                        explanation,
                        next_retry_s,
                        ..row
                    },
                    seq,
                );
            }
            AttemptEvent::Missed { count } => {
                self.missed += count;
                *seq += 1;
            }
        }
    }

    /// The row's common part: the radios as the device judged them when it queued.
    fn row(&mut self, at: Duration, device: Address, name: String, radio: &RadioId) -> AttemptRow {
        let pending = self.pending.remove(&device).unwrap_or_default();
        let mut considered: Vec<Considered> = pending
            .considered
            .iter()
            .map(|c| Considered {
                radio: c.radio.clone(),
                verdict: if &c.radio == radio {
                    format!("chosen ({})", heard(c))
                } else {
                    verdict(c)
                },
            })
            .collect();
        if !considered.iter().any(|c| &c.radio == radio) {
            considered.insert(
                0,
                Considered {
                    radio: radio.clone(),
                    verdict: "chosen".into(),
                },
            );
        }
        self.next_id += 1;
        AttemptRow {
            id: self.next_id - 1,
            at_s: at.as_secs_f64(),
            device,
            name,
            radio: Some(radio.clone()),
            attempt: pending.attempt,
            outcome: "",
            class: "",
            error: None,
            explanation: String::new(),
            next_retry_s: None,
            considered,
        }
    }

    fn push(&mut self, row: AttemptRow, seq: &mut u64) {
        *seq += 1;
        self.rows.push_back(Versioned { seq: *seq, row });
        if self.rows.len() > KEEP_ATTEMPTS {
            self.rows.pop_front();
        }
    }
}

/// `−63 dBm, 2 free` (and the failure penalty when there is one).
fn heard(radio: &ConsideredRadio) -> String {
    let penalty = if radio.penalty_db > 0.0 {
        format!(", −{:.0} dB for failures", radio.penalty_db)
    } else {
        String::new()
    };
    format!(
        "{:.0} dBm, {} free{penalty}",
        radio.smoothed_rssi, radio.free_slots
    )
}

/// Why a radio was passed over, or that the device queued for it too.
fn verdict(radio: &ConsideredRadio) -> String {
    match &radio.skipped {
        None => format!("queued too ({}), not chosen", heard(radio)),
        Some(SkipReason::Down) => "down".into(),
        Some(SkipReason::Stale { heard_ago }) => {
            format!("last heard it {:.0} s ago", heard_ago.as_secs_f64())
        }
        Some(SkipReason::TooFarBelowBest { below_db }) => {
            format!("{below_db:.0} dB below the best radio ({})", heard(radio))
        }
    }
}
