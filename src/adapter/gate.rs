//! The per-radio connect gate: one connection attempt in flight per radio, the rest queued.
//!
//! Real controllers accept one LE connection attempt at a time (the kernel answers a second with
//! `-EBUSY`, BlueZ with `InProgress`; ESP32 proxies pause scanning for each attempt), and a herd
//! of devices retrying at once is what makes hubs collide. The gate is a one-permit FIFO
//! semaphore: an attempt waits its turn, holds the permit while the radio connects, and gives it
//! back when the connect call returns — or when the waiting future is dropped, so a cancelled
//! request never keeps its place (tokio's semaphore is cancel-safe and fair).
//!
//! It also keeps the per-radio counters diagnostics show (queue length, attempts, failures by
//! class), as atomics so device actors update them without a round trip.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::error::ErrorKind;

/// One radio's connect gate and counters.
#[derive(Debug)]
pub struct ConnectGate {
    permit: Arc<Semaphore>,
    /// Attempts waiting for or holding the permit.
    in_flight: AtomicUsize,
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

/// A place in the queue; counts as in flight until dropped.
#[derive(Debug)]
pub struct QueuePlace {
    gate: Arc<ConnectGate>,
}

impl Drop for QueuePlace {
    fn drop(&mut self) {
        self.gate.in_flight.fetch_sub(1, Ordering::Relaxed);
    }
}

/// The right to run one connect call on the radio.
#[derive(Debug)]
pub struct AttemptPermit {
    gate: Arc<ConnectGate>,
    _permit: OwnedSemaphorePermit,
}

impl Drop for AttemptPermit {
    fn drop(&mut self) {
        self.gate.active.fetch_sub(1, Ordering::Relaxed);
    }
}

impl Default for ConnectGate {
    fn default() -> Self {
        Self {
            permit: Arc::new(Semaphore::new(1)),
            in_flight: AtomicUsize::new(0),
            attempts: AtomicU64::new(0),
            successes: AtomicU64::new(0),
            failures: Default::default(),
            max_concurrent: AtomicUsize::new(0),
            active: AtomicUsize::new(0),
        }
    }
}

impl ConnectGate {
    /// Joins the queue (counted at once, so radio choice sees it before the wait starts).
    pub fn join(self: &Arc<Self>) -> QueuePlace {
        self.in_flight.fetch_add(1, Ordering::Relaxed);
        QueuePlace {
            gate: Arc::clone(self),
        }
    }

    /// Waits for the radio's turn. Cancel-safe: dropping the future leaves the queue.
    pub async fn turn(self: &Arc<Self>) -> Option<AttemptPermit> {
        let permit = Arc::clone(&self.permit).acquire_owned().await.ok()?;
        let active = self.active.fetch_add(1, Ordering::Relaxed) + 1;
        self.max_concurrent.fetch_max(active, Ordering::Relaxed);
        self.attempts.fetch_add(1, Ordering::Relaxed);
        Some(AttemptPermit {
            gate: Arc::clone(self),
            _permit: permit,
        })
    }

    /// Attempts waiting or running.
    pub fn in_flight(&self) -> usize {
        self.in_flight.load(Ordering::Relaxed)
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

    /// A snapshot of the counters.
    pub fn stats(&self) -> GateStats {
        GateStats {
            in_flight: self.in_flight(),
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

    #[tokio::test(start_paused = true)]
    async fn one_attempt_at_a_time_in_arrival_order() {
        let gate = Arc::new(ConnectGate::default());
        let _a = gate.join();
        let first = gate.turn().await.unwrap();
        let _b = gate.join();
        assert_eq!(gate.in_flight(), 2);
        let second = gate.turn();
        tokio::pin!(second);
        assert!(futures::poll!(&mut second).is_pending());
        drop(first);
        assert!(futures::poll!(&mut second).is_ready());
        assert_eq!(gate.stats().max_concurrent, 1);
        assert_eq!(gate.stats().attempts, 2);
    }

    #[tokio::test(start_paused = true)]
    async fn a_cancelled_wait_leaves_the_queue() {
        let gate = Arc::new(ConnectGate::default());
        let held = gate.turn().await.unwrap();
        {
            let place = gate.join();
            let waiting = gate.turn();
            tokio::pin!(waiting);
            assert!(futures::poll!(&mut waiting).is_pending());
            drop(place);
        }
        assert_eq!(gate.in_flight(), 0);
        drop(held);
        assert!(gate.turn().await.is_some());
    }
}
