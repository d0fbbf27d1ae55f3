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

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

use super::attempt_log::AttemptEvent;
use super::retry::{Backoff, RetryPolicy};
use super::sightings::Sightings;
use super::state::{DeviceState, WaitReason};
use crate::backend::{DisconnectCause, Failure};
use crate::classify::classify;
use crate::error::ErrorKind;
use crate::model::{Address, AddressKind, Advertisement, RadioId};
use crate::supervisor::radio_choice::{considered, rank, ChoicePolicy, FailurePenalties};

/// A slot lease as the machine holds it (dropping it gives the slot back).
pub(crate) trait LeaseHandle: fmt::Debug {
    /// The radio the slot is on.
    fn radio(&self) -> RadioId;
    /// The connection is made: the lease now stands for a link, not an attempt.
    fn mark_link(&self);
}

/// A link as the machine holds it (dropping one not marked ended closes it actively).
pub(crate) trait LinkHandle: fmt::Debug {
    /// The backend said the link is over: dropping it must not disconnect again (bug 5).
    fn mark_ended(&mut self);
}

/// What the slot ledger says of one radio now.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct RadioFacts {
    /// Registered and up.
    pub up: bool,
    /// Slots free on it.
    pub free_slots: usize,
    /// Attempts in flight or queued on it.
    pub in_flight: usize,
}

/// The ledger's view of the radios, read at decision time (`None`: no such radio).
pub(crate) trait RadioView {
    /// Facts of one radio.
    fn facts(&self, radio: &RadioId) -> Option<RadioFacts>;
}

/// What a step may read besides the event: the time, the ledger, the actor's demand.
pub(crate) struct Inputs<'a> {
    /// Now.
    pub now: Instant,
    /// Whether requests wait for a connection.
    pub requests: bool,
    /// Whether live subscriptions want one.
    pub subscribed: bool,
    /// The ledger's view.
    pub radios: &'a dyn RadioView,
    /// Whether someone listens to attempt events (they are built only then).
    pub observed: bool,
}

/// What happens to the device.
#[derive(Debug)]
pub(crate) enum Event<L, K> {
    /// The actor started (or restarted).
    Started,
    /// A radio heard the device.
    Advert(Arc<Advertisement>),
    /// The user asked to keep it connected, or to stop.
    KeepConnected(bool),
    /// Requests or subscriptions came or went.
    DemandChanged,
    /// The machine's timer fired.
    Timer,
    /// The ledger granted a slot (and the radio's connect turn, which the actor keeps).
    Granted(L),
    /// The attempt of this generation connected and discovered the services.
    Connected {
        /// The attempt's generation.
        generation: u64,
        /// The link.
        link: K,
    },
    /// The attempt of this generation failed.
    AttemptFailed {
        /// The attempt's generation.
        generation: u64,
        /// How.
        failure: Failure,
    },
    /// The link of this generation ended (reported by the backend, or our disconnect returned).
    LinkEnded {
        /// The connection's generation.
        generation: u64,
        /// Why.
        cause: DisconnectCause,
        /// The backend's words.
        detail: String,
    },
    /// Close the connection now but keep wanting one (services changed, stale cache, idle).
    Close,
    /// The user (or shutdown): stop wanting a connection, fail what waits, close.
    Disconnect,
}

/// Why requests waiting for a connection fail.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Refusal {
    /// The device's adverts say it accepts no connections.
    NotConnectable,
    /// The attempt budget ran out; the last failure.
    Exhausted {
        /// Through which radio.
        radio: RadioId,
        /// Attempts made.
        attempts: u32,
        /// The last failure's class.
        kind: ErrorKind,
        /// The last failure.
        failure: Failure,
    },
    /// The user disconnected (or the fleet shut down).
    Cancelled,
}

/// What the actor must do.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Effect {
    /// Publish this state.
    Publish(DeviceState),
    /// Join the slot FIFO for these radios (best first), at this earlier place if any; the
    /// actor reports the place it got with [`DeviceMachine::hold_place`].
    JoinQueue {
        /// Acceptable radios, best first.
        radios: Vec<RadioId>,
        /// A place held before.
        place: Option<u64>,
    },
    /// Change the radios of the place already held.
    SetQueueRadios(Vec<RadioId>),
    /// Leave the slot FIFO.
    LeaveQueue,
    /// Start the attempt (the lease is in the machine, the connect turn with the actor).
    StartAttempt {
        /// Through which radio.
        radio: RadioId,
        /// Its generation (results of older ones are ignored).
        generation: u64,
        /// The address kind the connect names.
        address_kind: AddressKind,
    },
    /// Drop the running attempt (its half-made connection closes itself).
    CancelAttempt,
    /// Close the link of this generation; report `LinkEnded` when it returns.
    Disconnect {
        /// The connection's generation.
        generation: u64,
    },
    /// Wake the machine (`Event::Timer`) at this instant; replaces the previous timer.
    ArmTimer(Instant),
    /// Fail every request waiting for a connection.
    FailPending(Refusal),
    /// Refuse the keep-connected request that caused this step.
    Refuse(Refusal),
    /// Tell the radio's health gate how its attempt went (`None`: connected).
    RadioOutcome {
        /// The radio.
        radio: RadioId,
        /// The failure's class.
        failed: Option<ErrorKind>,
    },
    /// Count a failed attempt in the status.
    CountFailure {
        /// Its class.
        kind: ErrorKind,
        /// Its text.
        text: String,
    },
    /// The link is up: count it, re-enable subscriptions, tell subscribers, run requests.
    LinkUp,
    /// Tell subscribers the link dropped.
    AnnounceDisconnected {
        /// Why.
        reason: String,
    },
    /// Nothing may need the connection any more: let the idle timer decide.
    ConsiderIdle,
    /// Publish an attempt event.
    Log(AttemptEvent),
}

/// A radio the device must not try before `until`, and the class that set it (`None`: a link
/// drop).
#[derive(Clone, Copy, Debug, PartialEq)]
struct RadioWait {
    until: Instant,
    after: Option<ErrorKind>,
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
    queue_place: Option<u64>,
    given_address_kind: Option<AddressKind>,
    timer: Option<Instant>,
    /// Requests were failed during the current step (they no longer want a connection).
    failed_pending: bool,
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
            failed_pending: false,
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

    /// The radio of the running attempt or of the link.
    pub fn radio(&self) -> Option<&RadioId> {
        match &self.phase {
            Phase::Connecting { radio, .. } | Phase::Connected { radio, .. } => Some(radio),
            _ => None,
        }
    }

    /// Whether an attempt runs.
    pub fn is_connecting(&self) -> bool {
        matches!(self.phase, Phase::Connecting { .. })
    }

    /// The generation of the running attempt, if one runs.
    pub fn attempt_generation(&self) -> Option<u64> {
        match &self.phase {
            Phase::Connecting { generation, .. } => Some(*generation),
            _ => None,
        }
    }

    /// The actor got this place in the FIFO for the `JoinQueue` just performed.
    pub fn hold_place(&mut self, number: u64) {
        self.queue_place = Some(number);
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
            Event::Started | Event::DemandChanged => self.drive(inputs, &mut out),
            Event::Timer => {
                self.timer = None;
                self.drive(inputs, &mut out);
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
            Phase::Connected { .. } => out.push(Effect::ConsiderIdle),
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
        out.push(Effect::ConsiderIdle);
    }

    fn failed(
        &mut self,
        generation: u64,
        failure: Failure,
        inputs: &Inputs<'_>,
        out: &mut Vec<Effect>,
    ) {
        if self.attempt_generation() != Some(generation) {
            return;
        }
        let Phase::Connecting { radio, lease, .. } =
            std::mem::replace(&mut self.phase, Phase::Backoff)
        else {
            return;
        };
        drop(lease);
        let now = inputs.now;
        let kind = classify(&failure).kind;
        out.push(Effect::RadioOutcome {
            radio: radio.clone(),
            failed: Some(kind),
        });
        self.penalties.record(&self.choice, &radio, kind, now);
        self.failures_in_row += 1;
        let attempts = self.failures_in_row;
        out.push(Effect::CountFailure {
            kind,
            text: failure.to_string(),
        });
        if attempts >= self.backoff.policy().attempt_budget {
            let refusal = Refusal::Exhausted {
                radio: radio.clone(),
                attempts,
                kind,
                failure: failure.clone(),
            };
            self.fail_pending(refusal, out);
            self.failures_in_row = 0;
        }
        if kind == ErrorKind::NotFound {
            self.need_advert_after = Some(now);
        }
        // Backoff is per radio (bug 13): only this radio waits; others may go at once.
        let delay = self.backoff.next_delay(&radio, kind);
        self.waits.insert(
            radio.clone(),
            RadioWait {
                until: now + delay,
                after: Some(kind),
            },
        );
        if inputs.observed {
            let next_retry_in = self.next_retry_in(inputs);
            out.push(Effect::Log(AttemptEvent::Failed {
                at: now.saturating_duration_since(self.epoch),
                device: self.address,
                radio,
                class: kind,
                error: failure.to_string(),
                next_retry_in,
            }));
        }
        self.drive(inputs, out);
    }

    fn link_ended(
        &mut self,
        generation: u64,
        cause: DisconnectCause,
        detail: String,
        inputs: &Inputs<'_>,
        out: &mut Vec<Effect>,
    ) {
        let current =
            matches!(&self.phase, Phase::Connected { generation: g, .. } if *g == generation);
        if !current {
            return;
        }
        let Phase::Connected {
            radio,
            since,
            lease,
            mut link,
            ..
        } = std::mem::replace(&mut self.phase, Phase::Idle)
        else {
            return;
        };
        // The backend said it is over (or our disconnect returned): no second disconnect.
        link.mark_ended();
        drop(link);
        drop(lease);
        let now = inputs.now;
        self.backoff
            .connection_held(now.saturating_duration_since(since));
        out.push(Effect::AnnounceDisconnected {
            reason: format!("{cause}: {detail}"),
        });
        if cause != DisconnectCause::Requested && self.wants(inputs) {
            let delay = self.backoff.next_delay(&radio, ErrorKind::Aborted);
            self.waits.insert(
                radio,
                RadioWait {
                    until: now + delay,
                    after: None,
                },
            );
        }
        self.drive(inputs, out);
    }

    fn close(&mut self, inputs: &Inputs<'_>, out: &mut Vec<Effect>) {
        match &self.phase {
            Phase::Connecting { .. } => {
                // Dropping the lease here gives the slot back; the attempt's half-made
                // connection closes itself when the actor drops the attempt.
                self.phase = Phase::Backoff;
                out.push(Effect::CancelAttempt);
                self.drive(inputs, out);
            }
            // The lease stays until the backend confirms: the phase stays `Connected` until
            // `LinkEnded` arrives.
            Phase::Connected { generation, .. } => out.push(Effect::Disconnect {
                generation: *generation,
            }),
            _ => self.drive(inputs, out),
        }
    }

    /// Whether `radio` may be tried now (its backoff, if any, is over).
    fn ready(&self, radio: &RadioId, now: Instant) -> bool {
        self.waits.get(radio).is_none_or(|w| w.until <= now)
    }

    /// The wait before some acceptable radio may be tried (`None`: one may be tried now, or
    /// none is acceptable and an advert is awaited).
    fn next_retry_in(&self, inputs: &Inputs<'_>) -> Option<Duration> {
        let ranked = self.ranked(inputs, false);
        if ranked.iter().any(|r| self.ready(r, inputs.now)) {
            return None;
        }
        self.soonest_wait(&ranked)
            .map(|w| w.until.saturating_duration_since(inputs.now))
    }

    fn soonest_wait(&self, radios: &[RadioId]) -> Option<RadioWait> {
        radios
            .iter()
            .filter_map(|r| self.waits.get(r).copied())
            .min_by_key(|w| w.until)
    }

    fn ranked(&self, inputs: &Inputs<'_>, detour: bool) -> Vec<RadioId> {
        let candidates = self.sightings.candidates(inputs.radios);
        rank(
            &candidates,
            &self.penalties,
            &self.policy(detour),
            inputs.now,
        )
    }

    fn policy(&self, detour: bool) -> ChoicePolicy {
        if detour {
            ChoicePolicy {
                max_detour_db: f64::INFINITY,
                ..self.choice.clone()
            }
        } else {
            self.choice.clone()
        }
    }

    fn arm(&mut self, at: Instant, out: &mut Vec<Effect>) {
        if self.timer != Some(at) {
            self.timer = Some(at);
            out.push(Effect::ArmTimer(at));
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

    /// Decides what to do next while no attempt runs and no link is up.
    fn drive(&mut self, inputs: &Inputs<'_>, out: &mut Vec<Effect>) {
        if matches!(
            self.phase,
            Phase::Connecting { .. } | Phase::Connected { .. }
        ) {
            return;
        }
        let now = inputs.now;
        if !self.wants(inputs) {
            self.settle_down(Phase::Idle, out);
            self.queue_place = None;
            out.push(Effect::Publish(DeviceState::Idle));
            return;
        }
        if let Err(refusal) = self.admits() {
            // A beacon: refuse requests at once, hold no queue; wait for a connectable advert.
            self.fail_pending(refusal, out);
            return self.wait_for_advert(out);
        }
        if let Some(after) = self.need_advert_after {
            if self
                .sightings
                .last_heard()
                .is_none_or(|heard| heard <= after)
            {
                return self.wait_for_advert(out);
            }
            self.need_advert_after = None;
        }
        if let Some(settled) = self
            .sightings
            .first_heard()
            .map(|t| t + self.choice.first_sighting_settle)
            .filter(|t| *t > now)
        {
            self.settle_down(Phase::Settling, out);
            self.arm(settled, out);
            out.push(Effect::Publish(DeviceState::Waiting {
                reason: WaitReason::Advertisement,
            }));
            return;
        }
        // Waiting long for a slot on a good radio: a weaker radio will do (the detour rule:
        // liveness beats link quality after `detour_after`; docs/architecture.md).
        let queued_since = match &self.phase {
            Phase::Queued { since, .. } => Some(*since),
            _ => None,
        };
        let detour = queued_since.is_some_and(|since| now >= since + self.choice.detour_after);
        let candidates = self.sightings.candidates(inputs.radios);
        let policy = self.policy(detour);
        let ranked = rank(&candidates, &self.penalties, &policy, now);
        if inputs.observed {
            out.push(Effect::Log(AttemptEvent::Queued {
                at: now.saturating_duration_since(self.epoch),
                device: self.address,
                considered: considered(&candidates, &self.penalties, &policy, now),
            }));
        }
        if ranked.is_empty() {
            return self.wait_for_advert(out);
        }
        let (ready, waiting): (Vec<RadioId>, Vec<RadioId>) =
            ranked.into_iter().partition(|r| self.ready(r, now));
        let next_ready = self.soonest_wait(&waiting);
        if ready.is_empty() {
            // Every acceptable radio backs off: wait for the soonest.
            let Some(wait) = next_ready else {
                return self.wait_for_advert(out);
            };
            self.settle_down(Phase::Backoff, out);
            self.arm(wait.until, out);
            out.push(Effect::Publish(DeviceState::Backoff {
                remaining: wait.until - now,
                after: wait.after,
            }));
            return;
        }
        out.push(Effect::Publish(DeviceState::Waiting {
            reason: WaitReason::Slot,
        }));
        let since = match &self.phase {
            Phase::Queued { radios, since } => {
                if *radios != ready {
                    out.push(Effect::SetQueueRadios(ready.clone()));
                }
                *since
            }
            _ => {
                out.push(Effect::JoinQueue {
                    radios: ready.clone(),
                    place: self.queue_place,
                });
                now
            }
        };
        // Wake when the detour becomes allowed or a backing-off radio may be tried, even if no
        // slot frees meanwhile.
        let detour_at = (!detour).then_some(since + self.choice.detour_after);
        if let Some(at) = [detour_at, next_ready.map(|w| w.until)]
            .into_iter()
            .flatten()
            .min()
        {
            self.arm(at, out);
        }
        self.phase = Phase::Queued {
            radios: ready,
            since,
        };
    }
}
