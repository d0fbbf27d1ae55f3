//! The actor's half of the machine: feeding it events and performing its effects.
//!
//! The machine (`machine.rs`) decides; this file does. Each effect maps to one small action on
//! the ledger, the actor's context, the status channel or the subscribers, and the outcomes of
//! the asynchronous ones (a grant, an attempt, a disconnect, a timer) come back as events. No
//! decision is taken here: if a branch seems needed, it belongs in the machine.
//!
//! Flow: handlers in `mod.rs`, `attempt.rs`, `link_events.rs` and `ops.rs` call
//! [`DeviceActor::step`]; effects that wake the machine later call it again.

use std::sync::Arc;

use actix::prelude::*;
use tokio::time::Instant;

use super::machine::{Effect, Event, Inputs, RadioFacts, RadioView, Refusal};
use super::subscribers::SubscriptionEvent;
use super::{DeviceActor, SlotLease, TimerKind, UpLink};
use crate::adapter::slots::{Grant, Place};
use crate::backend::DisconnectCause;
use crate::error::Error;
use crate::model::{Address, RadioId};
use crate::shared::Shared;

/// The ledger's view of the radios, as the machine reads it.
struct LedgerView<'a>(&'a Shared);

impl RadioView for LedgerView<'_> {
    fn facts(&self, radio: &RadioId) -> Option<RadioFacts> {
        self.0.radio(radio)?;
        let ledger = &self.0.ledger;
        Some(RadioFacts {
            up: ledger.is_up(radio),
            free_slots: ledger.free(radio),
            in_flight: ledger.in_flight(radio),
        })
    }
}

impl DeviceActor {
    /// Feeds one event to the machine and performs what it decides. Returns the refusal of a
    /// keep-connected request, if it was one.
    pub(super) fn step(
        &mut self,
        event: Event<SlotLease, Box<UpLink>>,
        ctx: &mut Context<Self>,
    ) -> Option<Refusal> {
        let mut refused = None;
        for effect in self.decide(event) {
            match effect {
                Effect::Refuse(refusal) => refused = Some(refusal),
                other => self.perform(other, ctx),
            }
        }
        refused
    }

    /// Feeds one event to the machine; returns its effects unperformed.
    pub(super) fn decide(&mut self, event: Event<SlotLease, Box<UpLink>>) -> Vec<Effect> {
        // Requests whose caller gave up (timed out, dropped) no longer count, so a forgotten
        // read cannot keep a device connecting forever; requests running on the link do.
        self.pending
            .retain(|queued| !queued.request.reply.is_closed());
        let requests = !self.pending.is_empty() || self.ops_in_flight > 0;
        let subscribed = self.subscribers().any_live();
        let shared = Arc::clone(&self.shared);
        let inputs = Inputs {
            now: Instant::now(),
            requests,
            subscribed,
            radios: &LedgerView(&shared),
            observed: shared.attempt_events.receiver_count() > 0,
        };
        self.machine.step(event, &inputs)
    }

    pub(super) fn perform(&mut self, effect: Effect, ctx: &mut Context<Self>) {
        match effect {
            Effect::Publish(state) => self.publish(state),
            Effect::JoinQueue { radios, place } => self.join_queue(radios, place, ctx),
            Effect::SetQueueRadios(radios) => self.slot_queue.set_radios(radios),
            Effect::LeaveQueue => self.slot_queue.leave(),
            Effect::StartAttempt {
                radio,
                generation,
                address_kind,
            } => match self.turn.take() {
                Some(turn) => self.start_attempt(radio, generation, address_kind, turn, ctx),
                None => tracing::error!(address = %self.address, "attempt without a connect turn"),
            },
            Effect::CancelAttempt => {
                if let Some(attempt) = self.attempt.take() {
                    ctx.cancel_future(attempt);
                }
            }
            Effect::Disconnect { generation } => {
                if let Some(up) = self.machine.link() {
                    let link = Arc::clone(&up.link);
                    let closing = async move { link.disconnect().await };
                    ctx.spawn(
                        closing
                            .into_actor(self)
                            .map(move |_, act, ctx| act.link_closed(generation, ctx)),
                    );
                }
            }
            Effect::ArmTimer { at, number } => {
                self.cancel_timer(ctx, TimerKind::Machine);
                let delay = at.saturating_duration_since(Instant::now());
                // The number goes back with the event: the machine ignores a timer that fires
                // in the turn it was replaced or cancelled in.
                self.timer = Some(ctx.run_later(delay, move |act, ctx| {
                    act.step(Event::Timer(number), ctx);
                }));
            }
            Effect::FailPending(refusal) => {
                let address = self.address;
                self.fail_pending(move |operation| refusal_error(address, &refusal, operation));
            }
            Effect::Refuse(_) => {}
            Effect::RadioOutcome { radio, failed } => {
                if let Some(entry) = self.shared.radio(&radio) {
                    match failed {
                        None => entry.gate.record_success(),
                        Some(kind) => entry.gate.record_failure(kind),
                    }
                }
            }
            Effect::CountFailure { kind, text } => {
                let now = self.fleet_time();
                self.update_status(|s| {
                    s.failed_attempts += 1;
                    s.last_error = Some((kind, text));
                    s.last_error_at = Some(now);
                });
            }
            Effect::LinkUp => {
                self.update_status(|s| s.connections += 1);
                // Each subscription hears `Reconnected` once notify is on again on this link.
                self.resubscribe(ctx);
                self.run_pending(ctx);
            }
            Effect::AnnounceDisconnected { reason } => {
                tracing::debug!(address = %self.address, %reason, "link ended");
                self.subscribers()
                    .announce(&SubscriptionEvent::Disconnected { reason });
            }
            Effect::ArmIdleTimer { at, number } => {
                self.cancel_timer(ctx, TimerKind::Idle);
                let delay = at.saturating_duration_since(Instant::now());
                self.idle_timer = Some(ctx.run_later(delay, move |act, ctx| {
                    act.step(Event::IdleTimer(number), ctx);
                }));
            }
            Effect::CancelIdleTimer => self.cancel_timer(ctx, TimerKind::Idle),
            Effect::ForgetCache => {
                tracing::info!(address = %self.address, "services changed; forgetting the cache");
                self.shared.cache.invalidate(&self.address);
            }
            Effect::Log(event) => {
                let _ = self.shared.attempt_events.send(event);
            }
        }
    }

    /// Our own disconnect of the link of `generation` returned.
    pub(super) fn link_closed(&mut self, generation: u64, ctx: &mut Context<Self>) {
        let event = Event::LinkEnded {
            generation,
            cause: DisconnectCause::Requested,
            detail: "disconnected".into(),
        };
        self.step(event, ctx);
    }

    /// Joins the slot FIFO; the grant comes back as `Event::Granted`.
    fn join_queue(&mut self, radios: Vec<RadioId>, place: Option<Place>, ctx: &mut Context<Self>) {
        let (ticket, granted) = match self.shared.ledger.request(self.address, radios, place) {
            Ok(queued) => queued,
            Err(refused) => {
                // Only a lease of our own can refuse us, and it dies with its phase.
                tracing::error!(address = %self.address, %refused, "slot request refused");
                return;
            }
        };
        self.machine.hold_place(ticket.place());
        // Only the grant of this wait comes back; leaving drops the wait and any grant in it
        // (`slot_wait.rs`: a cancelled waiter once threw away the next wait's ticket).
        let arrival = self.slot_queue.join(ticket, granted);
        ctx.spawn(arrival.map(|grant: Option<Grant>, act, ctx| {
            if let Some(Grant { lease, turn }) = grant {
                act.turn = Some(turn);
                act.step(Event::Granted(lease), ctx);
                // Not used by an attempt: the radio's next waiter goes.
                act.turn = None;
            }
        }));
    }
}

/// The public error a refusal stands for, for a request doing `operation`.
pub(super) fn refusal_error(address: Address, refusal: &Refusal, operation: &str) -> Error {
    match refusal {
        Refusal::NotConnectable => Error::NotConnectable { address },
        Refusal::Exhausted {
            radio,
            attempts,
            kind,
            failure,
        } => Error::Connection {
            address,
            radio: Some(radio.clone()),
            attempts: *attempts,
            kind: *kind,
            failure: failure.clone(),
        },
        Refusal::Cancelled => Error::Cancelled {
            operation: operation.to_string(),
        },
    }
}
