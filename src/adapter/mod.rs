//! Adapter actors: one per radio, the first step of the flow.
//!
//! An adapter actor owns its radio's event stream. It passes advertisements up to the
//! Supervisor in batches: whatever the radio had ready at once is coalesced into one message
//! (a local controller reports one advert per event; a message per advert would cost more
//! than ingesting it), in the order heard, and raw adverts stay undecoded. It keeps the slot ledger true to the radio:
//! up or down, and the radio's own slot reports (reconciled, never trusted blindly and never
//! ignored). It does not run connection attempts: device actors do, through the radio's
//! [`gate::ConnectGate`], so an attempt's permit and lease belong to the device that needs them.
//!
//! If the actor stops (the stream ended, or it panicked), a drop notice tells the Supervisor,
//! which starts a fresh one with a fresh stream; leases are unaffected.

pub mod gate;
pub mod slots;

#[cfg(test)]
mod outbox_tests;

use std::sync::Arc;

use actix::prelude::*;
use futures::StreamExt;

use crate::backend::RadioEvent;
use crate::model::{Advertisement, RadioId, RawAdvert};
use crate::shared::{RadioEntry, Shared};

/// Radio events taken from the stream at once, at most: the coalescing window.
const COALESCE_EVENTS: usize = 64;

/// Advertisements one radio delivered, on their way to the Supervisor.
#[derive(Message, Debug)]
#[rtype(result = "()")]
pub enum AdvertBatch {
    /// Decoded by the backend.
    Decoded(Vec<Advertisement>),
    /// Raw, from one radio.
    Raw {
        /// The radio that heard them.
        radio: RadioId,
        /// The adverts, in the order heard.
        adverts: Vec<RawAdvert>,
    },
    /// The radio of this entry went down: what it heard goes. Sent down the same mailbox as the
    /// batches, so the forget lands after those heard before the `Down` and before any heard
    /// once it is up again (a `Down` and an `Up` in one window used to forget both).
    Forget(Arc<RadioEntry>),
}

/// Stop reading the radio: the actor stops and drops its event stream (fleet shutdown, or
/// the radio removed).
#[derive(Message, Debug)]
#[rtype(result = "()")]
pub struct StopAdapter;

/// Sent to the Supervisor when an adapter actor stops for any reason, with the registry
/// entry it served (a radio removed and added again under the same name has a new entry, so
/// the old actor's end is not mistaken for the new one's).
#[derive(Message, Debug)]
#[rtype(result = "()")]
pub struct AdapterActorStopped(pub Arc<RadioEntry>);

#[derive(Debug)]
struct StopNotice {
    entry: Arc<RadioEntry>,
    supervisor: Recipient<AdapterActorStopped>,
}

impl Drop for StopNotice {
    fn drop(&mut self) {
        self.supervisor
            .do_send(AdapterActorStopped(Arc::clone(&self.entry)));
    }
}

/// The actor for one radio.
#[derive(Debug)]
pub struct AdapterActor {
    entry: Arc<RadioEntry>,
    shared: Arc<Shared>,
    adverts: Recipient<AdvertBatch>,
    /// Adverts of the current coalescing window, not yet sent.
    pending_decoded: Vec<Advertisement>,
    pending_raw: Vec<RawAdvert>,
    /// The window's messages for the Supervisor, in the order made; sent one after another
    /// once the window is read.
    outbox: Vec<AdvertBatch>,
    _stop_notice: StopNotice,
}

impl AdapterActor {
    /// An actor for `entry`, reporting adverts to `adverts` and its own end to `stopped`.
    pub fn new(
        entry: Arc<RadioEntry>,
        shared: Arc<Shared>,
        adverts: Recipient<AdvertBatch>,
        stopped: Recipient<AdapterActorStopped>,
    ) -> Self {
        Self {
            _stop_notice: StopNotice {
                entry: Arc::clone(&entry),
                supervisor: stopped,
            },
            entry,
            shared,
            adverts,
            pending_decoded: Vec::new(),
            pending_raw: Vec::new(),
            outbox: Vec::new(),
        }
    }
}

impl Actor for AdapterActor {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        ctx.add_stream(self.entry.radio.events().ready_chunks(COALESCE_EVENTS));
    }
}

impl AdapterActor {
    /// Queues the adverts of the window so far (the kinds are flushed whenever they
    /// alternate, so this keeps the order heard).
    fn flush(&mut self) {
        let batch = if !self.pending_decoded.is_empty() {
            AdvertBatch::Decoded(std::mem::take(&mut self.pending_decoded))
        } else if !self.pending_raw.is_empty() {
            AdvertBatch::Raw {
                radio: self.entry.id.clone(),
                adverts: std::mem::take(&mut self.pending_raw),
            }
        } else {
            return;
        };
        self.outbox.push(batch);
    }

    /// Sends the window's messages to the Supervisor one after another, each once the one
    /// before is handled, and reads the radio again only when all are: at most one message per
    /// radio is in flight, so a radio faster than ingestion queues in its backend, not in memory
    /// here. One future for them all, because actix polls an actor's waits newest first: with
    /// a wait per message and the Supervisor's mailbox full, a later one went in first (a
    /// `Forget` behind the adverts heard once the radio was up again).
    fn send_outbox(&mut self, ctx: &mut Context<Self>) {
        if self.outbox.is_empty() {
            return;
        }
        let outgoing = std::mem::take(&mut self.outbox);
        let adverts = self.adverts.clone();
        let in_order = async move {
            for message in outgoing {
                let _ = adverts.send(message).await;
            }
        };
        ctx.wait(actix::fut::wrap_future::<_, Self>(in_order));
    }

    /// Whether this actor's entry is still the one registered under its name: a radio removed
    /// and added back (a replugged adapter) has a new entry, and the old actor, still draining
    /// its mailbox, must not mark the new one down or forget what it hears.
    fn still_registered(&self) -> bool {
        self.shared
            .radio(&self.entry.id)
            .is_some_and(|registered| Arc::ptr_eq(&registered, &self.entry))
    }

    /// A radio that is down hears nothing: its sightings leave the advert pipeline, so
    /// `Fleet::heard` stops listing it and devices it heard best move to their strongest
    /// remaining radio (`BestRadioChanged`). Adverts after it comes back up count afresh.
    /// (A `Down` is forgotten by the Supervisor, in mailbox order: [`AdvertBatch::Forget`].)
    fn forget_heard(&self) {
        let mut events = Vec::new();
        self.shared
            .pipeline()
            .forget_radio(&self.entry.id, &mut events);
        if self.shared.advert_events.receiver_count() > 0 {
            for event in events {
                let _ = self.shared.advert_events.send(event);
            }
        }
    }

    fn handle_event(&mut self, event: RadioEvent) {
        let radio = &self.entry.id;
        match event {
            RadioEvent::Adverts(mut batch) => {
                if !self.pending_raw.is_empty() {
                    self.flush();
                }
                self.pending_decoded.append(&mut batch);
            }
            RadioEvent::RawAdverts(mut batch) => {
                if !self.pending_decoded.is_empty() {
                    self.flush();
                }
                self.pending_raw.append(&mut batch);
            }
            RadioEvent::Up | RadioEvent::Down { .. } if !self.still_registered() => {
                tracing::debug!(%radio, "up/down of a radio entry since replaced: ignored");
            }
            RadioEvent::Up => {
                tracing::info!(%radio, "radio up");
                self.shared.ledger.set_up(radio, true);
            }
            RadioEvent::Down { reason } => {
                tracing::warn!(%radio, %reason, "radio down");
                self.shared.ledger.set_up(radio, false);
                // In mailbox order: the batches of this window sent before the `Down` are
                // ingested first, those after it (an `Up` may follow at once) after.
                self.outbox
                    .push(AdvertBatch::Forget(Arc::clone(&self.entry)));
            }
            RadioEvent::AdvertsDropped { count } => {
                tracing::debug!(%radio, count, "adverts dropped: ingestion fell behind");
                self.entry
                    .adverts_dropped
                    .fetch_add(count, std::sync::atomic::Ordering::Relaxed);
            }
            RadioEvent::SlotsReported(report) => {
                let found = self.shared.ledger.reconcile(radio, &report);
                if found.foreign > 0 {
                    tracing::debug!(%radio, foreign = found.foreign, "slots held by other clients");
                }
            }
        }
    }
}

impl Handler<StopAdapter> for AdapterActor {
    type Result = ();

    fn handle(&mut self, _: StopAdapter, ctx: &mut Self::Context) {
        ctx.stop();
    }
}

impl StreamHandler<Vec<RadioEvent>> for AdapterActor {
    fn handle(&mut self, events: Vec<RadioEvent>, ctx: &mut Self::Context) {
        // One allocation for the window's batch, not one per doubling: a local controller
        // reports one advert per event.
        let (decoded, raw) = events.iter().fold((0, 0), |(d, r), event| match event {
            RadioEvent::Adverts(batch) => (d + batch.len(), r),
            RadioEvent::RawAdverts(batch) => (d, r + batch.len()),
            _ => (d, r),
        });
        self.pending_decoded.reserve(decoded);
        self.pending_raw.reserve(raw);
        for event in events {
            if !matches!(event, RadioEvent::Adverts(_) | RadioEvent::RawAdverts(_)) {
                self.flush();
            }
            self.handle_event(event);
        }
        self.flush();
        self.send_outbox(ctx);
    }

    fn finished(&mut self, ctx: &mut Self::Context) {
        tracing::warn!(radio = %self.entry.id, "radio event stream ended");
        if self.still_registered() {
            // A radio that says nothing more hears nothing: as a `Down` does.
            self.shared.ledger.set_up(&self.entry.id, false);
            self.forget_heard();
        }
        ctx.stop();
    }
}
