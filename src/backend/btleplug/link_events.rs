//! The event stream of one btleplug connection: notifications, then exactly one `Disconnected`.
//!
//! btleplug delivers notifications on a per-peripheral stream (named by service and
//! characteristic UUID) and disconnections on the adapter's event stream. A task on the
//! backend's runtime merges the two for one link: each notification is translated to its
//! synthetic value handle, and the first of "we asked to disconnect", "the device
//! disconnected", "the adapter powered off" or "a btleplug stream ended" ends the stream with
//! one `Disconnected`. btleplug does not say whether the peer or the radio dropped the link,
//! so a disconnection we did not ask for is `LinkLost`.

use std::pin::Pin;
use std::sync::Arc;

use btleplug::api::{CentralEvent, CentralState, ValueNotification};
use btleplug::platform::PeripheralId;
use bytes::Bytes;
use futures::{Stream, StreamExt};
use tokio::sync::{mpsc, Notify};

use super::gatt::HandleMap;
use crate::backend::{DisconnectCause, LinkEvent};

/// A btleplug event stream.
pub(crate) type Events<T> = Pin<Box<dyn Stream<Item = T> + Send>>;

/// What the forwarding task listens to.
pub(crate) struct LinkWatch {
    /// The connected peripheral.
    pub peripheral: PeripheralId,
    /// Synthetic handles of its characteristics.
    pub handles: Arc<HandleMap>,
    /// Told when the user asked to disconnect.
    pub requested: Arc<Notify>,
    /// The peripheral's notifications.
    pub notifications: Events<ValueNotification>,
    /// The adapter's events.
    pub central: Events<CentralEvent>,
}

/// Forwards one link's events until it ends; the last event sent is `Disconnected`.
pub(crate) async fn forward(watch: LinkWatch, sender: mpsc::Sender<LinkEvent>) {
    let LinkWatch {
        peripheral,
        handles,
        requested,
        mut notifications,
        mut central,
    } = watch;
    let (cause, detail) = loop {
        tokio::select! {
            biased;
            _ = requested.notified() => {
                break (DisconnectCause::Requested, "disconnect requested".to_string());
            }
            _ = sender.closed() => return,
            notification = notifications.next() => match notification {
                Some(note) => {
                    let Some(handle) = handles.handle_of(&note.service_uuid, &note.uuid) else {
                        tracing::debug!(uuid = %note.uuid, "notification from a characteristic not in the table");
                        continue;
                    };
                    let event = LinkEvent::Notification { handle, value: Bytes::from(note.value) };
                    if sender.send(event).await.is_err() {
                        return;
                    }
                }
                None => break (DisconnectCause::LinkLost, "btleplug's notification stream ended".into()),
            },
            event = central.next() => match event {
                Some(CentralEvent::DeviceDisconnected(id)) if id == peripheral => {
                    break (DisconnectCause::LinkLost, "the device disconnected".into());
                }
                Some(CentralEvent::StateUpdate(CentralState::PoweredOff)) => {
                    break (DisconnectCause::RadioDown, "the adapter powered off".into());
                }
                Some(_) => {}
                None => break (DisconnectCause::RadioDown, "btleplug's adapter event stream ended".into()),
            },
        }
    };
    let _ = sender.send(LinkEvent::Disconnected { cause, detail }).await;
}
