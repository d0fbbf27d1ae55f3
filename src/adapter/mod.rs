//! Adapter actors: one per radio, the first step of the flow.
//!
//! An adapter actor owns its radio's event stream. It passes advertisements up to the
//! Supervisor in the batches the radio delivered, and keeps the slot ledger true to the radio:
//! up or down, and the radio's own slot reports (reconciled, never trusted blindly and never
//! ignored). It does not run connection attempts: device actors do, through the radio's
//! [`gate::ConnectGate`], so an attempt's permit and lease belong to the device that needs them.
//!
//! If the actor stops (the stream ended, or it panicked), a drop notice tells the Supervisor,
//! which starts a fresh one with a fresh stream; leases are unaffected.

pub mod gate;
pub mod slots;

use std::sync::Arc;

use actix::prelude::*;

use crate::backend::RadioEvent;
use crate::model::{Advertisement, RadioId};
use crate::supervisor::shared_view::{RadioEntry, Shared};

/// Advertisements one radio delivered, on their way to the Supervisor.
#[derive(Message, Debug)]
#[rtype(result = "()")]
pub struct AdvertBatch(pub Vec<Advertisement>);

/// Sent to the Supervisor when an adapter actor stops for any reason.
#[derive(Message, Debug)]
#[rtype(result = "()")]
pub struct AdapterActorStopped(pub RadioId);

#[derive(Debug)]
struct StopNotice {
    radio: RadioId,
    supervisor: Recipient<AdapterActorStopped>,
}

impl Drop for StopNotice {
    fn drop(&mut self) {
        self.supervisor
            .do_send(AdapterActorStopped(self.radio.clone()));
    }
}

/// The actor for one radio.
#[derive(Debug)]
pub struct AdapterActor {
    entry: Arc<RadioEntry>,
    shared: Arc<Shared>,
    adverts: Recipient<AdvertBatch>,
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
        let radio = entry.id.clone();
        Self {
            entry,
            shared,
            adverts,
            _stop_notice: StopNotice {
                radio,
                supervisor: stopped,
            },
        }
    }
}

impl Actor for AdapterActor {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        ctx.add_stream(self.entry.radio.events());
    }
}

impl StreamHandler<RadioEvent> for AdapterActor {
    fn handle(&mut self, event: RadioEvent, _: &mut Self::Context) {
        let radio = &self.entry.id;
        match event {
            RadioEvent::Adverts(batch) => self.adverts.do_send(AdvertBatch(batch)),
            RadioEvent::Up => {
                tracing::info!(%radio, "radio up");
                self.shared.ledger.set_up(radio, true);
            }
            RadioEvent::Down { reason } => {
                tracing::warn!(%radio, %reason, "radio down");
                self.shared.ledger.set_up(radio, false);
            }
            RadioEvent::SlotsReported(report) => {
                let found = self.shared.ledger.reconcile(radio, &report);
                if found.foreign > 0 {
                    tracing::debug!(%radio, foreign = found.foreign, "slots held by other clients");
                }
            }
        }
    }

    fn finished(&mut self, ctx: &mut Self::Context) {
        tracing::warn!(radio = %self.entry.id, "radio event stream ended");
        self.shared.ledger.set_up(&self.entry.id, false);
        ctx.stop();
    }
}
