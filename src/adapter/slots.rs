//! Connection slots: the fleet-wide [`SlotLedger`] and the [`SlotLease`] that holds one slot.
//!
//! Slots are the scarce resource (an ESP32 proxy lends 3), and leaking them is the failure hubs
//! suffer most. So a slot can only be held through a [`SlotLease`], and dropping the lease gives
//! the slot back — whether the holder finished, failed, was cancelled or panicked. The ledger is
//! fleet-wide rather than per radio so it can also refuse a second slot to a device that already
//! holds one anywhere (invariant 1: one slot per device across all radios), and it never lets a
//! radio's held count pass its limit (invariant 2).
//!
//! Proxies report their own slot use; [`SlotLedger::reconcile`] adopts their limit and counts
//! slots held by other clients ("foreign") so our free count matches the radio's.
//!
//! Gotcha: the ledger's mutex is a `std` mutex held only for a few map operations and never
//! across an `.await`; leases are dropped from any thread, including during unwinding.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex, MutexGuard};

use tokio::sync::watch;

use crate::backend::SlotReport;
use crate::model::{Address, RadioId};

/// Why a slot was not granted.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum LeaseRefused {
    /// Every slot on that radio is held.
    #[error("{radio} has no free connection slot ({held} held, {foreign} by other clients, limit {limit})")]
    Full {
        /// The radio.
        radio: RadioId,
        /// Slots we hold there.
        held: usize,
        /// Slots other clients hold there (from the radio's report).
        foreign: usize,
        /// Its limit.
        limit: usize,
    },
    /// The device already holds a slot (on this or another radio).
    #[error("{address} already holds a slot on {radio}")]
    AlreadyHeld {
        /// The device.
        address: Address,
        /// Where it holds it.
        radio: RadioId,
    },
    /// The radio is down or unknown.
    #[error("{radio} is not up")]
    RadioDown {
        /// The radio.
        radio: RadioId,
    },
}

/// One radio's slot accounting.
#[derive(Clone, Debug, Default)]
struct RadioSlots {
    limit: usize,
    up: bool,
    /// Devices holding a slot here, with their lease id.
    held: BTreeMap<Address, u64>,
    /// Addresses the radio reports as allocated that we do not hold.
    foreign: BTreeSet<Address>,
    /// Slots the radio reports in use beyond its address list (when it gives counts only).
    foreign_unnamed: usize,
}

impl RadioSlots {
    fn free(&self) -> usize {
        self.limit
            .saturating_sub(self.held.len() + self.foreign.len() + self.foreign_unnamed)
    }
}

#[derive(Debug, Default)]
struct LedgerState {
    radios: BTreeMap<RadioId, RadioSlots>,
    holder: BTreeMap<Address, RadioId>,
    next_lease: u64,
}

/// A snapshot of one radio's slots, for diagnostics and radio choice.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct SlotUsage {
    /// The radio.
    pub radio: RadioId,
    /// Its limit.
    pub limit: usize,
    /// Whether it is up.
    pub up: bool,
    /// Devices we hold slots for there.
    pub held_by: Vec<Address>,
    /// Slots held by other clients, per the radio's report.
    pub foreign: usize,
    /// Slots free for us.
    pub free: usize,
}

/// What a reconciliation with a radio's report found.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Reconciliation {
    /// Devices we hold a slot for that the radio does not list (a connect in flight, or a link
    /// the radio already dropped: the device actor learns of it from the link).
    pub missing_from_report: Vec<Address>,
    /// Slots the radio says are used by someone else.
    pub foreign: usize,
}

/// Every radio's slots, shared by the adapter actors (limits, reports, up/down) and the device
/// actors (leases). Cheap to clone.
#[derive(Clone, Debug)]
pub struct SlotLedger {
    state: Arc<Mutex<LedgerState>>,
    /// Bumped whenever a slot may have become free, so devices waiting for one wake up instead
    /// of polling.
    freed: Arc<watch::Sender<u64>>,
}

impl Default for SlotLedger {
    fn default() -> Self {
        Self {
            state: Arc::default(),
            freed: Arc::new(watch::Sender::new(0)),
        }
    }
}

/// A held connection slot. Dropping it releases the slot.
#[derive(Debug)]
pub struct SlotLease {
    ledger: SlotLedger,
    radio: RadioId,
    address: Address,
    id: u64,
}

impl SlotLease {
    /// The radio the slot is on.
    pub fn radio(&self) -> &RadioId {
        &self.radio
    }

    /// The device holding it.
    pub fn address(&self) -> Address {
        self.address
    }
}

impl Drop for SlotLease {
    fn drop(&mut self) {
        self.ledger.release(&self.radio, self.address, self.id);
    }
}

impl SlotLedger {
    /// An empty ledger.
    pub fn new() -> Self {
        Self::default()
    }

    /// A receiver that changes whenever a slot may have become free.
    pub fn watch_freed(&self) -> watch::Receiver<u64> {
        self.freed.subscribe()
    }

    fn announce_freed(&self) {
        self.freed.send_modify(|n| *n = n.wrapping_add(1));
    }

    fn lock(&self) -> MutexGuard<'_, LedgerState> {
        // A poisoned lock only means a holder panicked mid-update of plain maps; the maps are
        // still consistent at every await-free step, so keep going.
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Registers a radio (or updates its limit), initially down.
    pub fn add_radio(&self, radio: &RadioId, limit: usize) {
        let mut state = self.lock();
        state.radios.entry(radio.clone()).or_default().limit = limit;
    }

    /// Marks a radio up or down. Down drops what the radio reported; leases stay until their
    /// holders drop them (their links end with the radio), but no new lease is granted.
    pub fn set_up(&self, radio: &RadioId, up: bool) {
        {
            let mut state = self.lock();
            if let Some(slots) = state.radios.get_mut(radio) {
                slots.up = up;
                if !up {
                    slots.foreign.clear();
                    slots.foreign_unnamed = 0;
                }
            }
        }
        if up {
            self.announce_freed();
        }
    }

    /// Whether a radio is registered and up.
    pub fn is_up(&self, radio: &RadioId) -> bool {
        self.lock().radios.get(radio).is_some_and(|s| s.up)
    }

    /// Grants `address` a slot on `radio`, or says why not.
    pub fn try_lease(&self, radio: &RadioId, address: Address) -> Result<SlotLease, LeaseRefused> {
        let mut state = self.lock();
        if let Some(holder) = state.holder.get(&address) {
            return Err(LeaseRefused::AlreadyHeld {
                address,
                radio: holder.clone(),
            });
        }
        let id = state.next_lease;
        let slots = state
            .radios
            .get_mut(radio)
            .filter(|s| s.up)
            .ok_or_else(|| LeaseRefused::RadioDown {
                radio: radio.clone(),
            })?;
        if slots.free() == 0 {
            return Err(LeaseRefused::Full {
                radio: radio.clone(),
                held: slots.held.len(),
                foreign: slots.foreign.len() + slots.foreign_unnamed,
                limit: slots.limit,
            });
        }
        slots.held.insert(address, id);
        slots.foreign.remove(&address);
        state.holder.insert(address, radio.clone());
        state.next_lease += 1;
        Ok(SlotLease {
            ledger: self.clone(),
            radio: radio.clone(),
            address,
            id,
        })
    }

    fn release(&self, radio: &RadioId, address: Address, id: u64) {
        let released = {
            let mut state = self.lock();
            let Some(slots) = state.radios.get_mut(radio) else {
                return;
            };
            let ours = slots.held.get(&address) == Some(&id);
            if ours {
                slots.held.remove(&address);
                state.holder.remove(&address);
            }
            ours
        };
        if released {
            self.announce_freed();
        }
    }

    /// Adopts a radio's own report: its limit, and the slots other clients hold.
    pub fn reconcile(&self, radio: &RadioId, report: &SlotReport) -> Reconciliation {
        let mut state = self.lock();
        let Some(slots) = state.radios.get_mut(radio) else {
            return Reconciliation::default();
        };
        slots.limit = report.limit;
        let reported: BTreeSet<Address> = report.allocated.iter().copied().collect();
        slots.foreign = reported
            .iter()
            .filter(|a| !slots.held.contains_key(a))
            .copied()
            .collect();
        let in_use = report.limit.saturating_sub(report.free);
        let named = reported.len().max(slots.held.len());
        slots.foreign_unnamed = in_use.saturating_sub(named);
        let found = Reconciliation {
            missing_from_report: slots
                .held
                .keys()
                .filter(|a| !reported.contains(a))
                .copied()
                .collect(),
            foreign: slots.foreign.len() + slots.foreign_unnamed,
        };
        drop(state);
        self.announce_freed();
        found
    }

    /// Free slots on a radio for us (0 when down or unknown).
    pub fn free(&self, radio: &RadioId) -> usize {
        self.lock()
            .radios
            .get(radio)
            .filter(|s| s.up)
            .map_or(0, RadioSlots::free)
    }

    /// Where a device holds a slot, if anywhere.
    pub fn holder(&self, address: &Address) -> Option<RadioId> {
        self.lock().holder.get(address).cloned()
    }

    /// Total slots held across all radios.
    pub fn total_held(&self) -> usize {
        self.lock().holder.len()
    }

    /// Every radio's slot usage.
    pub fn usage(&self) -> Vec<SlotUsage> {
        self.lock()
            .radios
            .iter()
            .map(|(radio, s)| SlotUsage {
                radio: radio.clone(),
                limit: s.limit,
                up: s.up,
                held_by: s.held.keys().copied().collect(),
                foreign: s.foreign.len() + s.foreign_unnamed,
                free: if s.up { s.free() } else { 0 },
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(n: u8) -> Address {
        Address::new([0xAA, 0, 0, 0, 0, n])
    }

    fn ledger(radios: &[(&str, usize)]) -> SlotLedger {
        let ledger = SlotLedger::new();
        for (name, limit) in radios {
            ledger.add_radio(&RadioId::new(name), *limit);
            ledger.set_up(&RadioId::new(name), true);
        }
        ledger
    }

    #[test]
    fn dropping_a_lease_gives_the_slot_back() {
        let l = ledger(&[("p1", 1)]);
        let p1 = RadioId::new("p1");
        let lease = l.try_lease(&p1, addr(1)).unwrap();
        assert_eq!(l.free(&p1), 0);
        assert!(matches!(
            l.try_lease(&p1, addr(2)),
            Err(LeaseRefused::Full { .. })
        ));
        drop(lease);
        assert_eq!(l.free(&p1), 1);
        assert_eq!(l.total_held(), 0);
    }

    #[test]
    fn a_device_never_holds_slots_on_two_radios() {
        let l = ledger(&[("p1", 3), ("p2", 3)]);
        let _lease = l.try_lease(&RadioId::new("p1"), addr(1)).unwrap();
        let err = l.try_lease(&RadioId::new("p2"), addr(1)).unwrap_err();
        assert_eq!(
            err,
            LeaseRefused::AlreadyHeld {
                address: addr(1),
                radio: RadioId::new("p1")
            }
        );
    }

    #[test]
    fn a_down_radio_grants_nothing_and_a_lease_outliving_it_still_releases() {
        let l = ledger(&[("p1", 2)]);
        let p1 = RadioId::new("p1");
        let lease = l.try_lease(&p1, addr(1)).unwrap();
        l.set_up(&p1, false);
        assert!(matches!(
            l.try_lease(&p1, addr(2)),
            Err(LeaseRefused::RadioDown { .. })
        ));
        drop(lease);
        l.set_up(&p1, true);
        assert_eq!(l.free(&p1), 2);
    }

    #[test]
    fn reconcile_adopts_the_limit_and_counts_foreign_slots() {
        let l = ledger(&[("p1", 3)]);
        let p1 = RadioId::new("p1");
        let _ours = l.try_lease(&p1, addr(1)).unwrap();
        let report = SlotReport {
            free: 1,
            limit: 3,
            allocated: vec![addr(1), addr(9)],
        };
        let found = l.reconcile(&p1, &report);
        assert_eq!(found.foreign, 1);
        assert!(found.missing_from_report.is_empty());
        assert_eq!(l.free(&p1), 1);
        // A report by counts only: 2 in use, none named; one of them is ours.
        let counts = SlotReport {
            free: 1,
            limit: 3,
            allocated: vec![],
        };
        let found = l.reconcile(&p1, &counts);
        assert_eq!(found.missing_from_report, vec![addr(1)]);
        assert_eq!(l.free(&p1), 1);
    }

    #[test]
    fn releasing_a_slot_wakes_waiters() {
        let l = ledger(&[("p1", 1)]);
        let freed = l.watch_freed();
        let lease = l.try_lease(&RadioId::new("p1"), addr(1)).unwrap();
        assert!(!freed.has_changed().unwrap());
        drop(lease);
        assert!(freed.has_changed().unwrap());
    }

    #[test]
    fn a_stale_lease_cannot_release_a_newer_one() {
        let l = ledger(&[("p1", 2)]);
        let p1 = RadioId::new("p1");
        let first = l.try_lease(&p1, addr(1)).unwrap();
        let first_id = first.id;
        drop(first);
        let _second = l.try_lease(&p1, addr(1)).unwrap();
        l.release(&p1, addr(1), first_id);
        assert_eq!(l.holder(&addr(1)), Some(p1));
    }

    #[test]
    fn leases_release_during_unwinding() {
        let l = ledger(&[("p1", 1)]);
        let p1 = RadioId::new("p1");
        let cloned = l.clone();
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || {
            let _lease = cloned.try_lease(&RadioId::new("p1"), addr(1)).unwrap();
            panic!("holder crashed");
        }));
        assert!(result.is_err());
        assert_eq!(l.free(&p1), 1);
    }
}
