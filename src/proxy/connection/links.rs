//! The fleet side of one connection a client holds: connecting the device for the client (its
//! table and MTU, or the ESP-IDF code to answer), watching the link until it drops, and
//! waiting for a fresh subscription's notify to be on. The session shell (`mod.rs`) spawns
//! these as tasks that report back on its channel.

use std::sync::Arc;

use futures::StreamExt;
use tokio::sync::mpsc;
use tokio::time::Instant;

use super::Input;
use crate::fleet::SubscriptionEvent;
use crate::model::{Address, GattTable};
use crate::proxy::failure_words::{
    answer_delay, connect_error, gatt_error, INTERNAL_ERROR, NO_SLOT, TERMINATE_PEER_USER,
};
use crate::proxy::holds::ClientId;
use crate::proxy::server::Context;
use crate::proxy::session::Event;
use crate::Device;

/// Connects `address` for client `id`: the table and MTU, or the ESP-IDF code to answer, and
/// the device handle when the link is up.
pub(super) async fn connect(
    ctx: &Context,
    id: ClientId,
    address: Address,
    tx: &mpsc::Sender<Input>,
) -> (Result<(Arc<GattTable>, u16), i32>, Option<Device>) {
    let Ok(device) = ctx.fleet.device(address).await else {
        return (Err(INTERNAL_ERROR), None);
    };
    let status = device.status();
    let shared = status.state.is_connected() || ctx.holds.is_held(address);
    if !shared && ctx.free_slots() == 0 {
        // What a full ESP32 answers; the client's slot view said the same already.
        return (Err(NO_SLOT), None);
    }
    let started = Instant::now();
    ctx.holds.acquire(address, id, status.keep_connected);
    let _ = tx.send(Input::Held(address, device.clone())).await;
    let bounded = device.with_timeout(ctx.connect_timeout);
    let code = |err: crate::Error| connect_error(&err, &device.status().state);
    let up = async {
        bounded.connect().await?;
        // Held: stay connected until the client lets go.
        device.keep_connected(true).await?;
        let table = bounded.services().await?;
        let mtu = bounded.mtu().await?;
        Ok::<_, crate::Error>((table, mtu))
    };
    match up.await {
        Ok(link) => (Ok(link), Some(device)),
        Err(err) => {
            let code = code(err);
            tokio::time::sleep(answer_delay(code, started.elapsed(), ctx.connect_timeout)).await;
            (Err(code), None)
        }
    }
}

/// Waits for a held connection to drop and tells the session.
pub(super) async fn watch_link(device: Device, address: Address, tx: mpsc::Sender<Input>) {
    let mut changes = Box::pin(device.status_changes());
    while let Some(status) = changes.next().await {
        if !status.state.is_connected() {
            let lost = Event::LinkLost {
                address,
                reason: TERMINATE_PEER_USER,
            };
            let _ = tx.send(Input::Event(lost)).await;
            return;
        }
    }
}

/// Waits for a fresh subscription's notify to be on: `Ok`, or the ATT code of why not.
pub(super) async fn notify_enabled(subscription: &mut crate::Subscription) -> Result<(), i32> {
    while let Some(event) = subscription.next().await {
        match event {
            SubscriptionEvent::Reconnected => return Ok(()),
            SubscriptionEvent::Failed(error) => return Err(gatt_error(&error)),
            _ => {}
        }
    }
    Err(gatt_error(&crate::Error::ActorGone {
        what: "the fleet".into(),
    }))
}
