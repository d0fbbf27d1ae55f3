//! Radios coming and going while the fleet runs (a BlueZ adapter unplugged, plugged in again,
//! or bluetoothd restarting): the Supervisor follows a stream of such changes and applies each
//! one as [`AddRadio`] or [`RemoveRadio`] would, in the order they come, so a hub does not
//! have to glue a watcher to the fleet itself.

use std::sync::Arc;

use actix::prelude::*;
use futures::stream::BoxStream;

use super::lifecycle::RemoveRadio;
use super::messages::AddRadio;
use super::Supervisor;
use crate::backend::Radio;
use crate::model::RadioId;

/// One radio appearing or going away.
pub(crate) enum RadioChange {
    /// A radio to add (refused, and logged, if one with its name is registered).
    Added(Arc<dyn Radio>),
    /// The radio with this name is gone: remove it (nothing happens if it is not registered).
    Removed(RadioId),
}

/// Follow these changes until the stream ends or the fleet shuts down.
#[derive(Message)]
#[rtype(result = "()")]
pub(crate) struct FollowRadios(pub BoxStream<'static, RadioChange>);

impl std::fmt::Debug for FollowRadios {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("FollowRadios")
    }
}

impl Handler<FollowRadios> for Supervisor {
    type Result = ();

    fn handle(&mut self, FollowRadios(changes): FollowRadios, ctx: &mut Self::Context) {
        ctx.add_stream(changes);
    }
}

impl StreamHandler<RadioChange> for Supervisor {
    fn handle(&mut self, change: RadioChange, ctx: &mut Self::Context) {
        if self.stopping {
            return;
        }
        match change {
            RadioChange::Added(radio) => {
                let id = radio.id();
                match Handler::<AddRadio>::handle(self, AddRadio(radio), ctx) {
                    Ok(()) => tracing::info!(radio = %id, "radio appeared: added"),
                    Err(error) => tracing::debug!(radio = %id, %error, "radio appeared: not added"),
                }
            }
            RadioChange::Removed(id) => {
                if !self.shared.radios.contains_key(&id) {
                    tracing::debug!(radio = %id, "an unregistered radio went away");
                    return;
                }
                tracing::info!(radio = %id, "radio went away: removing it");
                // The synchronous part (registry, ledger, pipeline, devices told) runs now, so
                // an `Added` right behind finds the name free; the adapter actor stops after.
                let stopping = Handler::<RemoveRadio>::handle(self, RemoveRadio(id), ctx);
                ctx.spawn(stopping.map(|_, _, _| ()));
            }
        }
    }

    /// The source ended (its D-Bus connection closed): the fleet carries on without it.
    fn finished(&mut self, _: &mut Self::Context) {
        tracing::debug!("radio changes: the stream ended");
    }
}
