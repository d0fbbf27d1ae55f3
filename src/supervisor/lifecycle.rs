//! Ending things: the whole fleet ([`ShutdownFleet`]), one device ([`ReleaseDevice`]) and one
//! radio ([`RemoveRadio`]).
//!
//! Each stops the actors it owns and waits for them: a device actor disconnects before it
//! stops; an adapter actor stopping drops its radio's event stream (which ends BlueZ discovery
//! or an ESPHome session's advert subscription). A device's subscriptions end with it (their
//! streams close), and its status entry is forgotten.

use actix::prelude::*;

use super::messages::ShutdownFleet;
use super::Supervisor;
use crate::adapter::StopAdapter;
use crate::device::messages::{RadioRemoved, Shutdown};
use crate::device::subscribers::lock;
use crate::model::{Address, RadioId};

/// Stop managing one device: disconnect it, stop its actor, close its subscriptions.
#[derive(Message, Debug)]
#[rtype(result = "()")]
pub struct ReleaseDevice(pub Address);

/// Forget one radio: stop its adapter actor (dropping its event stream), grant nothing on it
/// again, and disconnect the devices linked through it.
#[derive(Message, Debug)]
#[rtype(result = "crate::Result<()>")]
pub struct RemoveRadio(pub RadioId);

impl Handler<ShutdownFleet> for Supervisor {
    type Result = ResponseActFuture<Self, ()>;

    fn handle(&mut self, _: ShutdownFleet, _: &mut Self::Context) -> Self::Result {
        self.stopping = true;
        self.shared.watchers().close_all();
        let devices: Vec<_> = std::mem::take(&mut self.devices).into_values().collect();
        for device in &devices {
            lock(&device.subscribers).close();
        }
        let stops: Vec<_> = devices.iter().map(|d| d.actor.send(Shutdown)).collect();
        Box::pin(
            async move {
                futures::future::join_all(stops).await;
            }
            .into_actor(self)
            .then(|_, act, _| {
                // Devices first (they disconnect through their radios), then the radios.
                let adapters = std::mem::take(&mut act.adapters);
                let stops: Vec<_> = adapters.values().map(|a| a.send(StopAdapter)).collect();
                async move {
                    futures::future::join_all(stops).await;
                }
                .into_actor(act)
            })
            .map(|_, _, ctx| ctx.stop()),
        )
    }
}

impl Handler<ReleaseDevice> for Supervisor {
    type Result = ResponseActFuture<Self, ()>;

    fn handle(
        &mut self,
        ReleaseDevice(address): ReleaseDevice,
        _: &mut Self::Context,
    ) -> Self::Result {
        let device = self.devices.remove(&address);
        if let Some(device) = &device {
            lock(&device.subscribers).close();
        }
        let stopped = device.map(|d| d.actor.send(Shutdown));
        Box::pin(
            async move {
                if let Some(stopped) = stopped {
                    let _ = stopped.await;
                }
            }
            .into_actor(self)
            .map(move |_, act, _| {
                // Not managed again meanwhile: forget its status too.
                if !act.devices.contains_key(&address) {
                    act.shared.device_states.remove(&address);
                    act.shared.ledger.forget_device(&address);
                }
            }),
        )
    }
}

impl Handler<RemoveRadio> for Supervisor {
    type Result = ResponseActFuture<Self, crate::Result<()>>;

    fn handle(&mut self, RemoveRadio(radio): RemoveRadio, _: &mut Self::Context) -> Self::Result {
        let known = self.shared.radios.remove(&radio).is_some();
        self.shared.ledger.remove_radio(&radio);
        let mut events = Vec::new();
        self.shared.pipeline().forget_radio(&radio, &mut events);
        self.publish_events(&mut events);
        for device in self.devices.values() {
            device.actor.do_send(RadioRemoved(radio.clone()));
        }
        let adapter = self.adapters.remove(&radio);
        Box::pin(
            async move {
                if let Some(adapter) = adapter {
                    let _ = adapter.send(StopAdapter).await;
                }
                if known {
                    Ok(())
                } else {
                    Err(crate::Error::UnknownRadio {
                        name: radio.to_string(),
                    })
                }
            }
            .into_actor(self),
        )
    }
}
