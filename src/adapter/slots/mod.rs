//! Connection slots: the fleet-wide [`SlotLedger`], the FIFO of devices waiting for one, and the
//! [`SlotLease`] that holds one.
//!
//! Slots are the scarce resource (an ESP32 proxy lends 3), and leaking them is the failure hubs
//! suffer most. So a slot can only be held through a [`SlotLease`], and dropping the lease gives
//! the slot back — whether the holder finished, failed, was cancelled or panicked. The ledger is
//! fleet-wide rather than per radio so it can also refuse a second slot to a device that already
//! holds one anywhere (invariant 1: one slot per device across all radios), and it never lets a
//! radio's held count pass its limit (invariant 2).
//!
//! Scheduling lives here too, so that a slot is never held by a device that is still queueing:
//! a device that wants to connect takes a [`SlotTicket`] naming the radios it would accept (best
//! first). Tickets wait in one FIFO (by ticket number). Whenever something changes (a lease or a
//! connect turn ends, a radio comes up, a report frees slots, a ticket arrives or widens), the
//! ledger grants every radio that is up, has a free slot and has no connect call running to one
//! waiter that accepts it: the oldest such ticket names the radio, and the balance
//! (`balance.rs`) picks the waiter that depends on that radio most, within an overtake bound
//! that keeps it fair. A grant is the lease *and* the radio's
//! [`ConnectTurn`] (radios create one LE connection at a time), handed to exactly one waiter
//! through its own oneshot channel: no broadcast wake-up, so the order is decided by the tickets
//! (their numbers and queue times) and what the ledger measured (each radio's pace, each
//! device's last connect time) alone, the same in every process under any load (all of it in
//! virtual time in the sim).
//!
//! Proxies report their own slot use; [`SlotLedger::reconcile`] adopts their limit and counts
//! slots held by other clients ("foreign") so our free count matches the radio's.
//!
//! Files: this one keeps the state and the scheduling (tickets in, grants out); `balance.rs`
//! which waiter a freed radio serves; `lease.rs` the handles that give back on drop;
//! `accounting.rs` radio reports and the listings read from outside.
//!
//! Gotcha: the ledger's mutex is a `std` mutex held only for a few map operations and never
//! across an `.await`; leases are dropped from any thread, including during unwinding. Grants
//! whose waiter is gone are dropped after the lock is released (their drop re-enters the ledger).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex, MutexGuard};

use std::time::Duration;

use tokio::sync::oneshot;
use tokio::time::Instant;

use crate::model::{Address, RadioId};

mod accounting;
mod balance;
mod connect_times;
mod lease;

pub use accounting::SlotUsage;
pub use lease::{ConnectTurn, Grant, Place, SlotLease, SlotTicket};

/// Why a slot was not granted.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum LeaseRefused {
    /// Every slot on that radio is held (only [`SlotLedger::try_lease`], a test tool, asks).
    #[cfg(test)]
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
    /// The radio is down or unknown (only [`SlotLedger::try_lease`] asks).
    #[cfg(test)]
    #[error("{radio} is not up")]
    RadioDown {
        /// The radio.
        radio: RadioId,
    },
}

/// What a held slot is doing.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum LeasePhase {
    /// Granted to an attempt that is connecting (or discovering services).
    Connecting,
    /// Backing an established link.
    Link,
}

#[derive(Clone, Copy, Debug)]
struct Held {
    id: u64,
    phase: LeasePhase,
}

/// One radio's slot accounting.
#[derive(Clone, Debug, Default)]
struct RadioSlots {
    limit: usize,
    up: bool,
    /// Devices holding a slot here, with their lease.
    held: BTreeMap<Address, Held>,
    /// Addresses the radio reports as allocated that we do not hold.
    foreign: BTreeSet<Address>,
    /// Slots the radio reports in use beyond its address list (when it gives counts only).
    foreign_unnamed: usize,
    /// The connect turn running on this radio, if any: its id and device.
    turn: Option<(u64, Address)>,
    /// When that turn began.
    turn_began: Option<Instant>,
    /// Connect turns ended here, and their total time (the radio's pace, for the balance).
    turns_ended: u32,
    turn_time: Duration,
}

impl RadioSlots {
    fn free(&self) -> usize {
        self.limit
            .saturating_sub(self.held.len() + self.foreign.len() + self.foreign_unnamed)
    }

    fn grantable(&self) -> bool {
        self.up && self.turn.is_none() && self.free() > 0
    }
}

#[derive(Debug)]
struct Waiter {
    address: Address,
    radios: Vec<RadioId>,
    reply: Option<oneshot::Sender<Grant>>,
    /// Times a younger waiter was granted a radio this one accepts (the fairness bound).
    overtaken: u32,
    /// When it first joined the queue (a place kept across retries keeps its time).
    queued_at: Instant,
}

#[derive(Debug, Default)]
struct LedgerState {
    radios: BTreeMap<RadioId, RadioSlots>,
    /// Where each device holds its slot, and the lease's id (it outlives a removed radio's row).
    holder: BTreeMap<Address, (RadioId, u64)>,
    /// Tickets by number: the FIFO.
    waiters: BTreeMap<u64, Waiter>,
    next_id: u64,
    /// Each device's last connect time, for the balance's slowest-first order.
    connect_times: connect_times::ConnectTimes,
}

impl LedgerState {
    fn next_id(&mut self) -> u64 {
        self.next_id += 1;
        self.next_id
    }

    /// Each radio's measured pace (connect turns per second), where measured.
    fn pace(&self) -> BTreeMap<RadioId, f64> {
        self.radios
            .iter()
            .filter(|(_, s)| s.turns_ended > 0 && !s.turn_time.is_zero())
            .map(|(r, s)| {
                (
                    r.clone(),
                    f64::from(s.turns_ended) / s.turn_time.as_secs_f64(),
                )
            })
            .collect()
    }
}

/// Every radio's slots, shared by the adapter actors (limits, reports, up/down) and the device
/// actors (tickets and leases). Cheap to clone.
#[derive(Clone, Debug, Default)]
pub struct SlotLedger {
    state: Arc<Mutex<LedgerState>>,
}

impl SlotLedger {
    /// An empty ledger.
    pub fn new() -> Self {
        Self::default()
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
        self.lock().radios.entry(radio.clone()).or_default().limit = limit;
        self.dispatch();
    }

    /// Forgets a radio: its row leaves the listings and no ticket is granted on it again.
    /// Leases on it still release as usual (until then their devices hold no other slot).
    pub fn remove_radio(&self, radio: &RadioId) {
        let mut state = self.lock();
        state.radios.remove(radio);
        state.connect_times.forget_radio(radio);
    }

    /// Forgets what was learned of a device that is no longer managed (its connect time).
    pub fn forget_device(&self, address: &Address) {
        self.lock().connect_times.forget(address);
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
            self.dispatch();
        }
    }

    /// Whether a radio is registered and up.
    pub fn is_up(&self, radio: &RadioId) -> bool {
        self.lock().radios.get(radio).is_some_and(|s| s.up)
    }

    /// Queues `address` for a slot on any of `radios` (best first). The grant arrives on the
    /// receiver — at once if one of them is free and nobody older waits for it.
    ///
    /// `place` is a place the device held before (see [`SlotTicket::place`]): a device that
    /// failed and retries keeps its place in line (its number and the time it first queued)
    /// instead of going to the back, so no device can be overtaken for ever by others that
    /// reconnect again and again.
    pub fn request(
        &self,
        address: Address,
        radios: Vec<RadioId>,
        place: Option<Place>,
    ) -> Result<(SlotTicket, oneshot::Receiver<Grant>), LeaseRefused> {
        let (reply, granted) = oneshot::channel();
        let place = {
            let mut state = self.lock();
            if let Some((holder, _)) = state.holder.get(&address) {
                return Err(LeaseRefused::AlreadyHeld {
                    address,
                    radio: holder.clone(),
                });
            }
            let place = match place {
                Some(p) if p.number <= state.next_id && !state.waiters.contains_key(&p.number) => p,
                _ => Place {
                    number: state.next_id(),
                    queued_at: Instant::now(),
                },
            };
            state.waiters.insert(
                place.number,
                Waiter {
                    address,
                    radios,
                    reply: Some(reply),
                    overtaken: 0,
                    queued_at: place.queued_at,
                },
            );
            place
        };
        self.dispatch();
        Ok((
            SlotTicket {
                ledger: self.clone(),
                place,
            },
            granted,
        ))
    }

    /// Grants `address` a slot on `radio` now, bypassing the queue, or says why not. For tests
    /// and tools that hold slots by hand; device actors use [`SlotLedger::request`].
    #[cfg(test)]
    pub fn try_lease(&self, radio: &RadioId, address: Address) -> Result<SlotLease, LeaseRefused> {
        let mut state = self.lock();
        if let Some((holder, _)) = state.holder.get(&address) {
            return Err(LeaseRefused::AlreadyHeld {
                address,
                radio: holder.clone(),
            });
        }
        let id = state.next_id();
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
        Self::hold(&mut state, radio, address, id);
        Ok(SlotLease {
            ledger: self.clone(),
            radio: radio.clone(),
            address,
            id,
        })
    }

    fn hold(state: &mut LedgerState, radio: &RadioId, address: Address, id: u64) {
        if let Some(slots) = state.radios.get_mut(radio) {
            let phase = LeasePhase::Connecting;
            slots.held.insert(address, Held { id, phase });
            slots.foreign.remove(&address);
        }
        state.holder.insert(address, (radio.clone(), id));
    }

    /// Grants every free radio a waiter, until no waiter accepts a free radio: the head of the
    /// FIFO names the radio (its first that can grant), and the balance (`balance.rs`) picks
    /// which waiter accepting that radio is served.
    fn dispatch(&self) {
        let mut undelivered = Vec::new();
        {
            let mut state = self.lock();
            let mut split: Option<balance::Split> = None;
            loop {
                let numbers: Vec<u64> = state
                    .waiters
                    .iter()
                    .filter(|(_, w)| !state.holder.contains_key(&w.address))
                    .map(|(n, _)| *n)
                    .collect();
                let Some(radio) = numbers.iter().find_map(|n| {
                    state.waiters.get(n).and_then(|w| {
                        w.radios
                            .iter()
                            .find(|r| state.radios.get(*r).is_some_and(RadioSlots::grantable))
                            .cloned()
                    })
                }) else {
                    break;
                };
                let waiting: Vec<balance::Waiting> = numbers
                    .iter()
                    .filter_map(|n| state.waiters.get(n).map(|w| (*n, w)))
                    .map(|(number, w)| balance::Waiting {
                        number,
                        radios: w
                            .radios
                            .iter()
                            .filter(|r| state.radios.get(*r).is_some_and(|s| s.up))
                            .cloned()
                            .collect(),
                        overtaken: w.overtaken,
                        queued_at: w.queued_at,
                        slowness: state.connect_times.slowness(&w.address),
                    })
                    .collect();
                let split =
                    split.get_or_insert_with(|| balance::Split::plan(&waiting, &state.pace()));
                let Some(chosen) = balance::pick(&waiting, split, &radio) else {
                    break;
                };
                let number = waiting[chosen].number;
                let passed_over: Vec<u64> = waiting[..chosen]
                    .iter()
                    .filter(|w| w.radios.contains(&radio))
                    .map(|w| w.number)
                    .collect();
                for older in passed_over {
                    if let Some(w) = state.waiters.get_mut(&older) {
                        w.overtaken += 1;
                    }
                }
                let Some(mut waiter) = state.waiters.remove(&number) else {
                    break;
                };
                let (lease_id, turn_id) = (state.next_id(), state.next_id());
                Self::hold(&mut state, &radio, waiter.address, lease_id);
                if let Some(slots) = state.radios.get_mut(&radio) {
                    slots.turn = Some((turn_id, waiter.address));
                    slots.turn_began = Some(Instant::now());
                }
                let grant = Grant {
                    lease: SlotLease {
                        ledger: self.clone(),
                        radio: radio.clone(),
                        address: waiter.address,
                        id: lease_id,
                    },
                    turn: ConnectTurn {
                        ledger: self.clone(),
                        radio,
                        id: turn_id,
                        connected: false,
                    },
                };
                if let Some(reply) = waiter.reply.take() {
                    if let Err(unwanted) = reply.send(grant) {
                        undelivered.push(unwanted);
                    }
                }
            }
        }
        // Dropping these releases their slot and turn, which dispatches again.
        drop(undelivered);
    }

    fn release(&self, radio: &RadioId, address: Address, id: u64) {
        let released = {
            let mut state = self.lock();
            let ours = state
                .holder
                .get(&address)
                .is_some_and(|(r, held)| r == radio && *held == id);
            if ours {
                state.holder.remove(&address);
                // The row is gone if the radio was removed while the lease was held.
                if let Some(slots) = state.radios.get_mut(radio) {
                    slots.held.remove(&address);
                }
            }
            ours
        };
        if released {
            self.dispatch();
        }
    }
}

#[cfg(test)]
mod tests;
