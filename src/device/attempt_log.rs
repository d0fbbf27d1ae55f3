//! Connection attempts as events, so a hub (or the live page) sees what the tests see: which
//! radios a device considered and why each was passed over, when an attempt started, how it
//! ended, its class, and when the next one is due.
//!
//! Device actors publish on a broadcast channel in the shared view only while someone listens
//! ([`crate::Fleet::attempt_events`]). The channel is bounded: a listener that falls behind by
//! more than its capacity gets one [`AttemptEvent::Missed`] with the count instead of the
//! events, and never slows a device down. This is an observation path, never a scheduling one.

use std::time::Duration;

use serde::Serialize;

use crate::device::radio_choice::ConsideredRadio;
use crate::error::ErrorKind;
use crate::model::{Address, RadioId};

/// What happened in one step of a device's connection attempts.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "event", rename_all = "kebab-case")]
pub enum AttemptEvent {
    /// The device joined (or updated) its place in the slot queue.
    Queued {
        /// Time since the fleet started.
        at: Duration,
        /// The device.
        device: Address,
        /// Every radio that heard it, and the verdict on each.
        considered: Vec<ConsideredRadio>,
    },
    /// The ledger granted a slot and the connect turn: the attempt starts now.
    Started {
        /// Time since the fleet started.
        at: Duration,
        /// The device.
        device: Address,
        /// The radio.
        radio: RadioId,
        /// Attempt number since the last success.
        attempt: u32,
    },
    /// The attempt connected.
    Connected {
        /// Time since the fleet started.
        at: Duration,
        /// The device.
        device: Address,
        /// The radio.
        radio: RadioId,
        /// How long connect and discovery took.
        took: Duration,
    },
    /// The attempt failed.
    Failed {
        /// Time since the fleet started.
        at: Duration,
        /// The device.
        device: Address,
        /// The radio.
        radio: RadioId,
        /// The class.
        class: ErrorKind,
        /// The backend's words.
        error: String,
        /// When the next attempt may start, from now (`None`: at once, through another radio,
        /// or when a fresh advertisement arrives after a not-found).
        next_retry_in: Option<Duration>,
    },
    /// This listener fell behind and missed this many events.
    Missed {
        /// How many.
        count: u64,
    },
}
