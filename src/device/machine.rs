//! The device's connection state machine as plain data: [`DeviceMachine`].
//!
//! It owns everything a device's connection decisions rest on: the phase (with the slot lease
//! and the link inside, so neither can outlive it), the sightings, the per-radio backoff and
//! failure penalties, and the device's place in the slot FIFO. Each [`Event`] goes through
//! [`DeviceMachine::step`] with the time and what the ledger says ([`Inputs`]) and comes out as
//! a list of [`Effect`]s. No async, no actix, no clock of its own: tests drive it event by
//! event with no runtime (`machine_tests.rs`).
//!
//! Why: the invariants of design §5 that hinge on a decision — one slot per device, only while
//! connecting or connected; a device that cannot connect never holds a queue (one admission
//! check, bug 14); backoff per radio, so a far proxy's failures never delay the near one
//! (bug 13); a FIFO place kept across failures (bug 15); no second disconnect of a link the
//! backend ended (bug 5) — are all decided here, in one place, and checked here first.
//!
//! Flow: the device actor (`mod.rs`) feeds it adverts, requests, grants, attempt results,
//! link ends and timer firings; it performs the effects (queue at the ledger, spawn the
//! attempt, arm the one timer, publish the status, answer requests) and feeds their outcomes
//! back as events. Radio choice (`radio_choice.rs`) scores the candidates it hands over.
//! The vocabulary lives in `machine_io.rs`, where to try next in `machine_drive.rs`, and how
//! attempts and links end in `machine_endings.rs`.

use std::collections::BTreeMap;
use std::time::Duration;

use tokio::time::Instant;

use super::attempt_log::AttemptEvent;
use super::retry::{Backoff, RetryPolicy};
use super::sightings::Sightings;
use super::state::{DeviceState, WaitReason};
use crate::adapter::slots::Place;
use crate::backend::{DisconnectCause, Failure};
use crate::classify::classify;
use crate::device::radio_choice::{considered, rank, ChoicePolicy, FailurePenalties};
use crate::error::ErrorKind;
use crate::model::{Address, AddressKind, Advertisement, RadioId};

#[path = "machine_drive.rs"]
mod drive;
#[path = "machine_endings.rs"]
mod endings;
#[path = "machine_lifecycle.rs"]
mod lifecycle;

pub(crate) use super::machine_io::{
    Effect, Event, Inputs, LeaseHandle, LinkHandle, RadioFacts, RadioView, Refusal,
};
pub(crate) use lifecycle::MachineMemory;

/// A radio the device must not try before `until`, and the class that set it (`None`: a link
/// drop).
#[derive(Clone, Copy, Debug, PartialEq)]
struct RadioWait {
    until: Instant,
    after: Option<ErrorKind>,
}

/// A timer the machine armed: when, and the number its event must carry to count (a timer
/// cancelled or replaced in the same turn as it fired carries an older one).
#[derive(Clone, Copy, Debug, PartialEq)]
struct NumberedWait {
    number: u64,
    at: Instant,
}

/// Where the connection stands. The lease and the link live inside the phases that have them.
#[derive(Debug)]
enum Phase<L, K> {
    /// Nothing wants a connection.
    Idle,
    /// Wanted, but no radio may be asked until an advert arrives.
    AwaitingAdvert,
    /// Just heard for the first time: let batching radios report it too.
    Settling,
    /// In the slot FIFO for these radios since `since`.
    Queued {
        radios: Vec<RadioId>,
        since: Instant,
    },
    /// Every acceptable radio is backing off.
    Backoff,
    /// An attempt runs.
    Connecting {
        radio: RadioId,
        generation: u64,
        lease: L,
        started: Instant,
    },
    /// Connected.
    Connected {
        radio: RadioId,
        generation: u64,
        since: Instant,
        lease: L,
        link: K,
    },
}

/// One device's connection state machine.
#[derive(Debug)]
pub(crate) struct DeviceMachine<L, K> {
    address: Address,
    choice: ChoicePolicy,
    epoch: Instant,
    keep_connected: bool,
    phase: Phase<L, K>,
    generation: u64,
    backoff: Backoff,
    penalties: FailurePenalties,
    sightings: Sightings,
    waits: BTreeMap<RadioId, RadioWait>,
    need_advert_after: Option<Instant>,
    failures_in_row: u32,
    queue_place: Option<Place>,
    given_address_kind: Option<AddressKind>,
    timer: Option<NumberedWait>,
    /// The number of the last wait armed (machine or idle timer).
    waits_armed: u64,
    /// Requests were failed during the current step (they no longer want a connection).
    failed_pending: bool,
    /// How long an unwanted link stays up.
    idle_after: Duration,
    /// The idle timer: for which connection, and which wait.
    idle: Option<(u64, NumberedWait)>,
    /// The connection whose disconnect was asked for and has not returned yet.
    closing: Option<u64>,
    /// Connections up to this generation used a table found stale (the cache is forgotten
    /// once for them, and operations that ran on them run once more).
    stale_through: Option<u64>,
    /// The last connection whose table came from a discovery (and went into the cache).
    discovered_at: Option<u64>,
}

/// How a machine is set up.
#[derive(Clone, Debug)]
pub(crate) struct MachineConfig {
    /// Radio choice tunables.
    pub choice: ChoicePolicy,
    /// Retry timing.
    pub retry: RetryPolicy,
    /// Smoothing of sighting RSSI.
    pub rssi_alpha: f64,
    /// Attempt events are stamped relative to this.
    pub epoch: Instant,
    /// Seeds the backoff jitter.
    pub seed: u64,
    /// How long an on-demand link stays up once nothing wants it.
    pub idle_after: Duration,
}

impl<L: LeaseHandle, K: LinkHandle> DeviceMachine<L, K> {
    /// A machine for `address`, idle.
    pub fn new(address: Address, keep_connected: bool, config: MachineConfig) -> Self {
        Self {
            address,
            choice: config.choice,
            epoch: config.epoch,
            keep_connected,
            phase: Phase::Idle,
            generation: 0,
            backoff: Backoff::new(config.retry, config.seed),
            penalties: FailurePenalties::default(),
            sightings: Sightings::new(config.rssi_alpha),
            waits: BTreeMap::new(),
            need_advert_after: None,
            failures_in_row: 0,
            queue_place: None,
            given_address_kind: None,
            timer: None,
            waits_armed: 0,
            failed_pending: false,
            idle_after: config.idle_after,
            idle: None,
            closing: None,
            stale_through: None,
            discovered_at: None,
        }
    }

    /// Seeds what the sightings would have recorded had the machine existed earlier.
    pub fn sightings_mut(&mut self) -> &mut Sightings {
        &mut self.sightings
    }

    /// Connects with this address kind whatever the adverts say (`None`: the advertised one).
    pub fn set_address_kind(&mut self, kind: Option<AddressKind>) {
        self.given_address_kind = kind;
    }

    /// The address kind a connect names: the one given, else the advertised one, else public.
    pub fn address_kind(&self) -> AddressKind {
        self.given_address_kind
            .or(self.sightings.address_kind())
            .unwrap_or_default()
    }

    /// Whether the user asked to keep the device connected.
    pub fn keep_connected(&self) -> bool {
        self.keep_connected
    }

    /// The link, while connected.
    pub fn link(&self) -> Option<&K> {
        match &self.phase {
            Phase::Connected { link, .. } => Some(link),
            _ => None,
        }
    }

    /// The link, while connected and not closing: the one operations may start on.
    pub fn open_link(&self) -> Option<&K> {
        match &self.phase {
            Phase::Connected {
                generation, link, ..
            } if self.closing != Some(*generation) => Some(link),
            _ => None,
        }
    }

    /// Whether the connection of `generation` used a cached table since found stale: an
    /// operation that ran on it runs once more, on a link with a fresh discovery.
    pub fn found_stale(&self, generation: u64) -> bool {
        self.stale_through
            .is_some_and(|through| generation <= through)
    }

    /// The radio of the running attempt or of the link.
    pub fn radio(&self) -> Option<&RadioId> {
        match &self.phase {
            Phase::Connecting { radio, .. } | Phase::Connected { radio, .. } => Some(radio),
            _ => None,
        }
    }

    /// The generation of the running attempt, if one runs.
    pub fn attempt_generation(&self) -> Option<u64> {
        match &self.phase {
            Phase::Connecting { generation, .. } => Some(*generation),
            _ => None,
        }
    }

    /// The actor got this place in the FIFO for the `JoinQueue` just performed.
    pub fn hold_place(&mut self, place: Place) {
        self.queue_place = Some(place);
    }

    /// The one admission check: a device whose adverts say it accepts no connections is
    /// refused (keep-connected and requests alike) and never queues (bug 14).
    pub fn admits(&self) -> Result<(), Refusal> {
        match self.sightings.connectable() {
            Some(false) => Err(Refusal::NotConnectable),
            _ => Ok(()),
        }
    }

    /// Whether anything wants a connection. Requests failed in this step no longer do.
    fn wants(&self, inputs: &Inputs<'_>) -> bool {
        self.keep_connected || inputs.subscribed || (inputs.requests && !self.failed_pending)
    }

    fn fail_pending(&mut self, refusal: Refusal, out: &mut Vec<Effect>) {
        self.failed_pending = true;
        out.push(Effect::FailPending(refusal));
    }

    /// Feeds one event; returns what the actor must do, in order.
    pub fn step(&mut self, event: Event<L, K>, inputs: &Inputs<'_>) -> Vec<Effect> {
        let mut out = Vec::new();
        self.failed_pending = false;
        match event {
            Event::Started => self.drive(inputs, &mut out),
            Event::DemandChanged => {
                self.drive(inputs, &mut out);
                self.consider_idle(inputs, &mut out);
            }
            Event::IdleTimer(number) => self.idle_timer_fired(number, inputs, &mut out),
            Event::ServicesChanged { generation } => {
                self.services_changed(generation, inputs, &mut out)
            }
            Event::StaleCache { generation } => self.stale_cache(generation, inputs, &mut out),
            Event::Timer(number) => {
                if self.timer.is_some_and(|armed| armed.number == number) {
                    self.timer = None;
                    self.drive(inputs, &mut out);
                }
            }
            Event::Advert(advert) => self.advert(&advert, inputs, &mut out),
            Event::KeepConnected(keep) => self.set_keep_connected(keep, inputs, &mut out),
            Event::Granted(lease) => self.granted(lease, inputs, &mut out),
            Event::Connected { generation, link } => {
                self.connected(generation, link, inputs, &mut out)
            }
            Event::AttemptFailed {
                generation,
                failure,
            } => self.failed(generation, failure, inputs, &mut out),
            Event::LinkEnded {
                generation,
                cause,
                detail,
            } => self.link_ended(generation, cause, detail, inputs, &mut out),
            Event::Close => self.close(inputs, &mut out),
            Event::Disconnect => {
                self.keep_connected = false;
                self.fail_pending(Refusal::Cancelled, &mut out);
                self.close(inputs, &mut out);
            }
        }
        out
    }

    fn advert(&mut self, advert: &Advertisement, inputs: &Inputs<'_>, out: &mut Vec<Effect>) {
        self.sightings.record(advert);
        let now = inputs.now;
        let act = advert.connectable == Some(false)
            || match &self.phase {
                Phase::AwaitingAdvert | Phase::Settling => true,
                // A radio with a free slot may just have heard it for the first time (proxies
                // deliver in batches, later).
                Phase::Queued { radios, .. } => !radios.contains(&advert.radio),
                // Bug 13: a radio that is not backing off may be tried now.
                Phase::Backoff => self.ready(&advert.radio, now),
                _ => false,
            };
        if act && !matches!(self.phase, Phase::Idle) {
            self.drive(inputs, out);
        }
    }

    fn set_keep_connected(&mut self, keep: bool, inputs: &Inputs<'_>, out: &mut Vec<Effect>) {
        if keep {
            if let Err(refusal) = self.admits() {
                out.push(Effect::Refuse(refusal));
                return;
            }
        }
        self.keep_connected = keep;
        match self.phase {
            Phase::Connected { .. } => self.consider_idle(inputs, out),
            _ => self.drive(inputs, out),
        }
    }

    fn granted(&mut self, lease: L, inputs: &Inputs<'_>, out: &mut Vec<Effect>) {
        let Phase::Queued { .. } = self.phase else {
            drop(lease);
            return self.drive(inputs, out);
        };
        if !self.wants(inputs) || self.admits().is_err() {
            // The place is gone with the grant; nothing wants the slot: it goes back at once.
            self.phase = Phase::Backoff;
            drop(lease);
            return self.drive(inputs, out);
        }
        self.generation += 1;
        let generation = self.generation;
        let radio = lease.radio();
        let attempt = self.failures_in_row + 1;
        let now = inputs.now;
        self.phase = Phase::Connecting {
            radio: radio.clone(),
            generation,
            lease,
            started: now,
        };
        if inputs.observed {
            out.push(Effect::Log(AttemptEvent::Started {
                at: now.saturating_duration_since(self.epoch),
                device: self.address,
                radio: radio.clone(),
                attempt,
            }));
        }
        out.push(Effect::Publish(DeviceState::Connecting {
            radio: radio.clone(),
            attempt,
        }));
        out.push(Effect::StartAttempt {
            radio,
            generation,
            address_kind: self.address_kind(),
        });
    }

    fn connected(&mut self, generation: u64, link: K, inputs: &Inputs<'_>, out: &mut Vec<Effect>) {
        if self.attempt_generation() != Some(generation) {
            return; // the actor closes a connection nobody waits for
        }
        let Phase::Connecting {
            radio,
            lease,
            started,
            ..
        } = std::mem::replace(&mut self.phase, Phase::Idle)
        else {
            return;
        };
        lease.mark_link();
        let now = inputs.now;
        if inputs.observed {
            out.push(Effect::Log(AttemptEvent::Connected {
                at: now.saturating_duration_since(self.epoch),
                device: self.address,
                radio: radio.clone(),
                took: now.saturating_duration_since(started),
            }));
        }
        if !link.uses_cached_table() {
            self.discovered_at = Some(generation);
        }
        self.phase = Phase::Connected {
            radio: radio.clone(),
            generation,
            since: now,
            lease,
            link,
        };
        self.failures_in_row = 0;
        self.queue_place = None;
        self.need_advert_after = None;
        out.push(Effect::RadioOutcome {
            radio: radio.clone(),
            failed: None,
        });
        out.push(Effect::Publish(DeviceState::Connected { radio }));
        out.push(Effect::LinkUp);
        self.consider_idle(inputs, out);
    }

    fn arm(&mut self, at: Instant, out: &mut Vec<Effect>) {
        if self.timer.is_none_or(|armed| armed.at != at) {
            let wait = self.next_wait(at);
            self.timer = Some(wait);
            out.push(Effect::ArmTimer {
                at,
                number: wait.number,
            });
        }
    }

    /// A wait at `at` with a number no earlier wait had.
    fn next_wait(&mut self, at: Instant) -> NumberedWait {
        self.waits_armed += 1;
        NumberedWait {
            number: self.waits_armed,
            at,
        }
    }

    /// Leaves the queue if in it, and moves to a phase without a link.
    fn settle_down(&mut self, phase: Phase<L, K>, out: &mut Vec<Effect>) {
        if matches!(self.phase, Phase::Queued { .. }) {
            out.push(Effect::LeaveQueue);
        }
        self.phase = phase;
    }

    fn wait_for_advert(&mut self, out: &mut Vec<Effect>) {
        self.settle_down(Phase::AwaitingAdvert, out);
        out.push(Effect::Publish(DeviceState::Waiting {
            reason: WaitReason::Advertisement,
        }));
    }
}
