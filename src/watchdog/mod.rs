//! The radio watchdog: a radio that should be scanning but delivered nothing for a while is
//! recovered step by step.
//!
//! Why: scanners fail silently. A controller can stay `Powered` with discovery "on" and
//! deliver no advertisement for hours; a proxy can keep its API session alive while its
//! scanner is wedged. Nothing else notices — devices just go unavailable one by one.
//!
//! How: [`watch`] wraps a radio. The wrapper passes every event through unchanged and feeds a
//! sans-IO `ladder::Ladder`: while the radio is up and nothing was heard for `quiet_after`
//! (90 s by default), it takes the next of the radio's [`RecoveryStep`]s (mildest first:
//! restart discovery, then power-cycle the adapter on BlueZ or reconnect the session on
//! ESPHome), waits `quiet_after` again, and so on. The first advertisement after a step ends
//! the episode as recovered. Once every step was tried, only the mildest is repeated (a
//! room with no advertiser must not have its links dropped every few minutes). Each step and
//! its outcome is logged and kept in the radio's [`RecoveryReport`] (fleet diagnostics).
//!
//! The wrapper owns no task: the check runs inside the event stream the adapter actor polls,
//! on the clock of the runtime (tokio's paused clock in the simulator).

pub(crate) mod ladder;
mod radio;

use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;

use crate::backend::{Radio, RecoveryStep};

pub use radio::WatchedRadio;

/// How long a scanning radio may stay silent before the first step, unless configured.
pub const DEFAULT_QUIET_AFTER: Duration = Duration::from_secs(90);

/// Entries kept in a report's history (the oldest are dropped).
pub const HISTORY: usize = 16;

/// Wraps `radio` in a watchdog that starts recovering after `quiet_after` of silence.
pub fn watch(radio: Arc<dyn Radio>, quiet_after: Duration) -> Arc<dyn Radio> {
    Arc::new(WatchedRadio::new(radio, quiet_after))
}

/// What the watchdog did for one radio.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct RecoveryReport {
    /// Silence allowed before a step, in seconds.
    pub quiet_after_s: f64,
    /// The steps the radio offers, mildest first.
    pub ladder: Vec<RecoveryStep>,
    /// Steps taken since the start.
    pub steps_taken: u64,
    /// Quiet episodes that ended with adverts heard again after at least one step.
    pub recoveries: u64,
    /// Steps taken in the episode going on now (0: the radio is delivering).
    pub steps_this_episode: usize,
    /// The latest steps and recoveries, oldest first.
    pub history: Vec<RecoveryEntry>,
}

/// One thing the watchdog did or saw.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "event", rename_all = "kebab-case")]
pub enum RecoveryEntry {
    /// A step was taken.
    Step {
        /// Seconds since the watchdog started.
        at_s: f64,
        /// Which.
        step: RecoveryStep,
        /// How long the radio had been silent.
        silent_s: f64,
        /// Why the step could not be taken (`None`: it was).
        error: Option<String>,
    },
    /// Adverts arrived again after steps.
    Recovered {
        /// Seconds since the watchdog started.
        at_s: f64,
        /// Steps it took.
        after_steps: usize,
        /// The last step taken before it.
        last_step: RecoveryStep,
    },
}
