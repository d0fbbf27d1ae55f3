//! How long a device waits before its next connection attempt: [`RetryPolicy`] and [`Backoff`].
//!
//! Design §4: exponential per device *and radio*, a base per error class (aborted and generic 0.25 s, the
//! figures bleak-retry-connector uses; out-of-slots 4 s), ×2 per consecutive failure, ±50 %
//! jitter, capped (60 s for keep-connected devices), and back to the base after a connection
//! that lasted 30 s. Jitter plus the per-radio connect queue is what keeps a whole house of
//! devices from retrying at the same instant after a proxy reboots. The envelopes are kept per
//! radio (bug 13 of issue 13): failures through a far proxy grow that proxy's wait only, never
//! the wait before an attempt through a near, healthy one.
//!
//! The envelope comes from the `backoff` crate's `ExponentialBackoff` with its own
//! randomisation turned off; the jitter is drawn here from a seeded ChaCha RNG, so a
//! simulation with a fixed seed retries at exactly the same virtual instants every run.
//! Not-found waits for a fresh advertisement (the device actor does that); its base is the
//! short delay applied once the advertisement arrives.

use std::time::Duration;

use backoff::backoff::Backoff as _;
use backoff::ExponentialBackoff;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use std::collections::BTreeMap;

use crate::error::ErrorKind;
use crate::model::RadioId;

/// Retry timing for one device.
#[derive(Clone, Debug, PartialEq)]
pub struct RetryPolicy {
    /// Base delay after a not-found failure, counted from the fresh advertisement.
    pub not_found_base: Duration,
    /// Base delay after an out-of-slots failure when no other radio can be tried.
    pub out_of_slots_base: Duration,
    /// Base delay after an aborted (transient) failure.
    pub aborted_base: Duration,
    /// Base delay after a generic failure.
    pub generic_base: Duration,
    /// Growth per consecutive failure of the same class.
    pub multiplier: f64,
    /// Jitter as a fraction of the delay: 0.5 means ±50 %.
    pub jitter: f64,
    /// No delay exceeds this.
    pub max_delay: Duration,
    /// A connection that lasted at least this long resets the delays to their bases.
    pub reset_after: Duration,
    /// Attempts an on-demand request may make before it fails.
    pub attempt_budget: u32,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            not_found_base: Duration::from_millis(250),
            out_of_slots_base: Duration::from_secs(4),
            aborted_base: Duration::from_millis(250),
            generic_base: Duration::from_millis(250),
            multiplier: 2.0,
            jitter: 0.5,
            max_delay: Duration::from_secs(60),
            reset_after: Duration::from_secs(30),
            attempt_budget: 4,
        }
    }
}

impl RetryPolicy {
    /// The base delay for a class.
    pub fn base(&self, kind: ErrorKind) -> Duration {
        match kind {
            ErrorKind::NotFound => self.not_found_base,
            ErrorKind::OutOfSlots => self.out_of_slots_base,
            ErrorKind::Aborted => self.aborted_base,
            ErrorKind::Generic => self.generic_base,
        }
    }

    /// Checks the policy makes sense; names the first bad field.
    pub fn validate(&self) -> crate::Result<()> {
        if !(self.multiplier >= 1.0 && self.multiplier.is_finite()) {
            return Err(crate::Error::config(
                "retry.multiplier",
                "must be a number >= 1",
            ));
        }
        if !(0.0..=1.0).contains(&self.jitter) {
            return Err(crate::Error::config(
                "retry.jitter",
                "must be between 0 and 1",
            ));
        }
        if self.attempt_budget == 0 {
            return Err(crate::Error::config(
                "retry.attempt_budget",
                "must be at least 1",
            ));
        }
        if self.max_delay.is_zero() {
            return Err(crate::Error::config(
                "retry.max_delay",
                "must be above zero",
            ));
        }
        Ok(())
    }
}

/// One device's backoff state: an envelope per radio and class, and a seeded jitter source.
#[derive(Debug)]
pub struct Backoff {
    policy: RetryPolicy,
    envelopes: BTreeMap<RadioId, [ExponentialBackoff; 4]>,
    rng: ChaCha8Rng,
}

impl Backoff {
    /// A fresh backoff; `seed` makes the jitter reproducible.
    pub fn new(policy: RetryPolicy, seed: u64) -> Self {
        Self {
            policy,
            envelopes: BTreeMap::new(),
            rng: ChaCha8Rng::seed_from_u64(seed),
        }
    }

    /// The policy in force.
    pub fn policy(&self) -> &RetryPolicy {
        &self.policy
    }

    /// Records a failure of class `kind` through `radio` and returns how long to wait before
    /// the next attempt through that radio.
    pub fn next_delay(&mut self, radio: &RadioId, kind: ErrorKind) -> Duration {
        let index = ErrorKind::ALL.iter().position(|k| *k == kind).unwrap_or(3);
        let policy = &self.policy;
        let envelope = self
            .envelopes
            .entry(radio.clone())
            .or_insert_with(|| ErrorKind::ALL.map(|kind| envelope(policy, policy.base(kind))))
            .get_mut(index)
            .and_then(|e| e.next_backoff())
            .unwrap_or(self.policy.max_delay);
        // The crate adds up to 1 ns of its own noise even with randomisation off; whole
        // microseconds keep virtual-time runs reproducible.
        let envelope = Duration::from_micros(envelope.as_micros() as u64);
        let spread = self.policy.jitter * (2.0 * self.rng.gen::<f64>() - 1.0);
        let jittered = envelope.as_secs_f64() * (1.0 + spread);
        Duration::from_micros((jittered * 1e6) as u64).min(self.policy.max_delay)
    }

    /// Records that a connection was up for `lasted`; a long one resets every envelope (of
    /// every radio: the device itself is healthy).
    pub fn connection_held(&mut self, lasted: Duration) {
        if lasted >= self.policy.reset_after {
            self.reset();
        }
    }

    /// Back to the bases.
    pub fn reset(&mut self) {
        self.envelopes.clear();
    }
}

fn envelope(policy: &RetryPolicy, base: Duration) -> ExponentialBackoff {
    ExponentialBackoff {
        current_interval: base,
        initial_interval: base,
        randomization_factor: 0.0,
        multiplier: policy.multiplier,
        max_interval: policy.max_delay,
        max_elapsed_time: None,
        ..ExponentialBackoff::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn no_jitter() -> RetryPolicy {
        RetryPolicy {
            jitter: 0.0,
            ..RetryPolicy::default()
        }
    }

    fn near() -> RadioId {
        RadioId::new("near")
    }

    #[test]
    fn grows_by_two_from_the_class_base_and_caps() {
        let mut b = Backoff::new(no_jitter(), 1);
        let r = &near();
        let delays: Vec<_> = (0..4)
            .map(|_| b.next_delay(r, ErrorKind::Aborted))
            .collect();
        let ms: Vec<u128> = delays.iter().map(|d| d.as_millis()).collect();
        assert_eq!(ms, vec![250, 500, 1000, 2000]);
        assert_eq!(
            b.next_delay(r, ErrorKind::OutOfSlots),
            Duration::from_secs(4)
        );
        assert_eq!(
            b.next_delay(r, ErrorKind::OutOfSlots),
            Duration::from_secs(8)
        );
        for _ in 0..10 {
            b.next_delay(r, ErrorKind::OutOfSlots);
        }
        assert_eq!(
            b.next_delay(r, ErrorKind::OutOfSlots),
            Duration::from_secs(60)
        );
    }

    #[test]
    fn jitter_stays_within_half_and_is_seeded() {
        let run = |seed| {
            let mut b = Backoff::new(RetryPolicy::default(), seed);
            let r = &near();
            (0..3)
                .map(|_| b.next_delay(r, ErrorKind::Generic))
                .collect::<Vec<_>>()
        };
        assert_eq!(run(7), run(7));
        assert_ne!(run(7), run(8));
        let mut b = Backoff::new(RetryPolicy::default(), 3);
        let r = &near();
        for _ in 0..200 {
            b.reset();
            let d = b.next_delay(r, ErrorKind::Aborted).as_secs_f64();
            assert!((0.125..=0.375).contains(&d), "{d}");
        }
    }

    #[test]
    fn a_long_connection_resets_a_short_one_does_not() {
        let mut b = Backoff::new(no_jitter(), 1);
        let r = &near();
        b.next_delay(r, ErrorKind::Aborted);
        b.next_delay(r, ErrorKind::Aborted);
        b.connection_held(Duration::from_secs(5));
        assert_eq!(b.next_delay(r, ErrorKind::Aborted), Duration::from_secs(1));
        b.connection_held(Duration::from_secs(30));
        assert_eq!(
            b.next_delay(r, ErrorKind::Aborted),
            Duration::from_millis(250)
        );
    }

    /// Bug 13: failures through a far proxy grew the one device-wide backoff, so the attempt
    /// through the near, healthy proxy waited too.
    #[test]
    fn failures_through_one_radio_do_not_grow_the_wait_on_another() {
        let mut b = Backoff::new(no_jitter(), 1);
        let far = RadioId::new("far");
        for _ in 0..6 {
            b.next_delay(&far, ErrorKind::Aborted);
        }
        assert_eq!(
            b.next_delay(&far, ErrorKind::Aborted),
            Duration::from_secs(16)
        );
        assert_eq!(
            b.next_delay(&near(), ErrorKind::Aborted),
            Duration::from_millis(250)
        );
    }

    #[test]
    fn bad_policies_are_named() {
        let err = RetryPolicy {
            jitter: 2.0,
            ..RetryPolicy::default()
        }
        .validate()
        .unwrap_err();
        assert!(err.to_string().contains("retry.jitter"));
        let err = RetryPolicy {
            attempt_budget: 0,
            ..RetryPolicy::default()
        }
        .validate()
        .unwrap_err();
        assert!(err.to_string().contains("retry.attempt_budget"));
        assert!(RetryPolicy::default().validate().is_ok());
    }
}
