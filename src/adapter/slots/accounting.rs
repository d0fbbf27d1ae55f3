//! The ledger's outward side: adopting a radio's own slot report ([`SlotLedger::reconcile`]),
//! and the counts and listings diagnostics, radio choice and tests read ([`SlotUsage`]).

use std::collections::BTreeSet;

use super::{LeasePhase, RadioSlots, SlotLedger};
use crate::backend::SlotReport;
use crate::model::{Address, RadioId};

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
    /// The same devices with what their slot is doing.
    pub leases: Vec<(Address, LeasePhase)>,
    /// The device whose connect call is running on the radio now.
    pub connecting: Option<Address>,
    /// Devices queued for a slot that would accept this radio, oldest first.
    pub queued: Vec<Address>,
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

impl SlotLedger {
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
        self.dispatch();
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

    /// Tickets that would accept `radio`, plus the connect call running on it.
    pub fn in_flight(&self, radio: &RadioId) -> usize {
        let state = self.lock();
        let queued = state
            .waiters
            .values()
            .filter(|w| w.radios.contains(radio))
            .count();
        let running = state.radios.get(radio).is_some_and(|s| s.turn.is_some());
        queued + usize::from(running)
    }

    /// Where a device holds a slot, if anywhere.
    #[cfg(test)]
    pub fn holder(&self, address: &Address) -> Option<RadioId> {
        self.lock()
            .holder
            .get(address)
            .map(|(radio, _)| radio.clone())
    }

    /// Total slots held across all radios.
    #[cfg(test)]
    pub fn total_held(&self) -> usize {
        self.lock().holder.len()
    }

    /// Every radio's slot usage.
    pub fn usage(&self) -> Vec<SlotUsage> {
        let state = self.lock();
        state
            .radios
            .iter()
            .map(|(radio, s)| SlotUsage {
                radio: radio.clone(),
                limit: s.limit,
                up: s.up,
                held_by: s.held.keys().copied().collect(),
                leases: s.held.iter().map(|(a, h)| (*a, h.phase)).collect(),
                connecting: s.turn.map(|(_, address)| address),
                queued: state
                    .waiters
                    .values()
                    .filter(|w| w.radios.contains(radio))
                    .map(|w| w.address)
                    .collect(),
                foreign: s.foreign.len() + s.foreign_unnamed,
                free: if s.up { s.free() } else { 0 },
            })
            .collect()
    }
}
