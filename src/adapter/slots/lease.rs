//! The handles that hold what the ledger grants: a [`SlotLease`] (one connection slot), a
//! [`ConnectTurn`] (the radio's one running connect call) and a [`SlotTicket`] (a place in the
//! FIFO). Each gives its hold back when dropped — finished, failed, cancelled or unwinding — so a
//! slot cannot leak through a forgotten release call.

use tokio::time::Instant;

use super::{LeasePhase, SlotLedger};
use crate::model::{Address, RadioId};

/// A held connection slot. Dropping it releases the slot.
#[derive(Debug)]
pub struct SlotLease {
    pub(super) ledger: SlotLedger,
    pub(super) radio: RadioId,
    pub(super) address: Address,
    pub(super) id: u64,
}

impl SlotLease {
    /// The radio the slot is on.
    pub fn radio(&self) -> &RadioId {
        &self.radio
    }

    /// Marks the slot as backing an established link (for listings).
    pub fn mark_link(&self) {
        let mut state = self.ledger.lock();
        if let Some(held) = state
            .radios
            .get_mut(&self.radio)
            .and_then(|s| s.held.get_mut(&self.address))
            .filter(|h| h.id == self.id)
        {
            held.phase = LeasePhase::Link;
        }
    }
}

impl Drop for SlotLease {
    fn drop(&mut self) {
        self.ledger.release(&self.radio, self.address, self.id);
    }
}

/// The right to run one connect call on a radio. Dropping it lets the next waiter in.
#[derive(Debug)]
pub struct ConnectTurn {
    pub(super) ledger: SlotLedger,
    pub(super) radio: RadioId,
    pub(super) id: u64,
    /// The connect call succeeded: its time is the device's to learn from.
    pub(super) connected: bool,
}

impl ConnectTurn {
    /// Ends the turn of a connect call that succeeded, so the ledger learns how long the device
    /// took (`connect_times.rs`). Dropping the turn instead ends it without learning.
    pub fn end_connected(mut self) {
        self.connected = true;
    }
}

impl Drop for ConnectTurn {
    fn drop(&mut self) {
        let ended = {
            let mut state = self.ledger.lock();
            let state = &mut *state;
            match state.radios.get_mut(&self.radio) {
                Some(slots) if slots.turn.is_some_and(|(id, _)| id == self.id) => {
                    let device = slots.turn.take().map(|(_, address)| address);
                    if let Some(began) = slots.turn_began.take() {
                        let took = began.elapsed();
                        slots.turns_ended = slots.turns_ended.saturating_add(1);
                        slots.turn_time += took;
                        if let (true, Some(address)) = (self.connected, device) {
                            state.connect_times.record(&self.radio, address, took);
                        }
                    }
                    true
                }
                _ => false,
            }
        };
        if ended {
            self.ledger.dispatch();
        }
    }
}

/// What a waiting device is granted: a slot and the radio's connect turn.
#[derive(Debug)]
pub struct Grant {
    /// The slot.
    pub lease: SlotLease,
    /// The connect turn; drop it when the connect call returns.
    pub turn: ConnectTurn,
}

/// A device's place in the FIFO. Dropping it leaves the queue.
#[derive(Debug)]
pub struct SlotTicket {
    pub(super) ledger: SlotLedger,
    pub(super) place: Place,
}

/// A place in line that a device keeps while it backs off to retry: its ticket number and when
/// it first queued (the balance's batches go by that time, `balance.rs`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Place {
    pub(super) number: u64,
    pub(super) queued_at: Instant,
}

impl Place {
    /// A place numbered `number`, queued now (for tests of code that only carries places).
    #[cfg(test)]
    pub fn numbered(number: u64) -> Self {
        Self {
            number,
            queued_at: Instant::now(),
        }
    }
}

impl SlotTicket {
    /// Changes the radios the device would accept (best first), keeping its place.
    pub fn set_radios(&self, radios: Vec<RadioId>) {
        let changed = {
            let mut state = self.ledger.lock();
            match state.waiters.get_mut(&self.place.number) {
                Some(waiter) if waiter.radios != radios => {
                    waiter.radios = radios;
                    true
                }
                _ => false,
            }
        };
        if changed {
            self.ledger.dispatch();
        }
    }

    /// Its place in the FIFO, to ask again with after leaving it.
    pub fn place(&self) -> Place {
        self.place
    }

    /// Its number: its place in the FIFO.
    #[cfg(test)]
    pub fn number(&self) -> u64 {
        self.place.number
    }

    /// The radios the ticket accepts now (empty once granted).
    #[cfg(test)]
    pub fn radios(&self) -> Vec<RadioId> {
        self.ledger
            .lock()
            .waiters
            .get(&self.place.number)
            .map(|w| w.radios.clone())
            .unwrap_or_default()
    }
}

impl Drop for SlotTicket {
    fn drop(&mut self) {
        let removed = self
            .ledger
            .lock()
            .waiters
            .remove(&self.place.number)
            .is_some();
        if removed {
            // It may have been the head of a queue another ticket waits behind.
            self.ledger.dispatch();
        }
    }
}
