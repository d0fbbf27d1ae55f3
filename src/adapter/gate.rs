//! Per-radio connect counters: attempts, successes, failures by class, and the most attempts
//! ever running at once.
//!
//! Real controllers accept one LE connection attempt at a time (the kernel answers a second with
//! `-EBUSY`, BlueZ with `InProgress`; ESP32 proxies pause scanning for each attempt). Who may run
//! the next attempt is decided by the slot ledger, which hands the radio's
//! [`crate::adapter::slots::ConnectTurn`] to the oldest waiting device together with its slot;
//! this gate only counts, as atomics, so device actors update it without a round trip, and
//! `max_concurrent` is the check that the ledger's rule held (1 unless something is wrong).

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;

use crate::error::ErrorKind;

/// One radio's connect gate and counters.
#[derive(Debug)]
pub struct ConnectGate {
    attempts: AtomicU64,
    successes: AtomicU64,
    failures: [AtomicU64; 4],
    max_concurrent: AtomicUsize,
    active: AtomicUsize,
}

/// Counters for diagnostics and benchmarks.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct GateStats {
    /// Attempts waiting or running now.
    pub in_flight: usize,
    /// Attempts started in all.
    pub attempts: u64,
    /// Attempts that connected.
    pub successes: u64,
    /// Failures by class: not-found, out-of-slots, aborted, generic.
    pub failures: [u64; 4],
    /// Most attempts ever running on the radio at once (1 unless something is wrong).
    pub max_concurrent: usize,
}

/// One connect call running on the radio; counted until dropped.
#[derive(Debug)]
pub struct RunningAttempt {
    gate: Arc<ConnectGate>,
}

impl Drop for RunningAttempt {
    fn drop(&mut self) {
        self.gate.active.fetch_sub(1, Ordering::Relaxed);
    }
}

impl Default for ConnectGate {
    fn default() -> Self {
        Self {
            attempts: AtomicU64::new(0),
            successes: AtomicU64::new(0),
            failures: Default::default(),
            max_concurrent: AtomicUsize::new(0),
            active: AtomicUsize::new(0),
        }
    }
}

impl ConnectGate {
    /// Counts a connect call that starts now.
    pub fn begin(self: &Arc<Self>) -> RunningAttempt {
        let active = self.active.fetch_add(1, Ordering::Relaxed) + 1;
        self.max_concurrent.fetch_max(active, Ordering::Relaxed);
        self.attempts.fetch_add(1, Ordering::Relaxed);
        RunningAttempt {
            gate: Arc::clone(self),
        }
    }

    /// Counts a successful attempt.
    pub fn record_success(&self) {
        self.successes.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts a failed attempt by class.
    pub fn record_failure(&self, kind: ErrorKind) {
        let index = ErrorKind::ALL.iter().position(|k| *k == kind).unwrap_or(3);
        if let Some(counter) = self.failures.get(index) {
            counter.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// A snapshot of the counters, with the ledger's count of attempts queued or running.
    pub fn stats(&self, in_flight: usize) -> GateStats {
        GateStats {
            in_flight,
            attempts: self.attempts.load(Ordering::Relaxed),
            successes: self.successes.load(Ordering::Relaxed),
            failures: self.failures.each_ref().map(|c| c.load(Ordering::Relaxed)),
            max_concurrent: self.max_concurrent.load(Ordering::Relaxed),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_overlapping_attempts_and_failures_by_class() {
        let gate = Arc::new(ConnectGate::default());
        let first = gate.begin();
        let second = gate.begin();
        drop(first);
        drop(second);
        let _third = gate.begin();
        gate.record_success();
        gate.record_failure(ErrorKind::OutOfSlots);
        let stats = gate.stats(4);
        assert_eq!(stats.max_concurrent, 2);
        assert_eq!(stats.attempts, 3);
        assert_eq!(stats.successes, 1);
        assert_eq!(stats.failures, [0, 1, 0, 0]);
        assert_eq!(stats.in_flight, 4);
    }
}
