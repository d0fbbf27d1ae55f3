//! The event stream of one btleplug connection: notifications, then exactly one `Disconnected`.
//!
//! btleplug delivers notifications on a per-peripheral stream (named by service and
//! characteristic UUID) and disconnections on the adapter's event stream, which the radio's
//! links share through `watch.rs`. A task on the backend's runtime merges the two for one
//! link: each notification is translated to its synthetic value handle, and the first of "we
//! asked to disconnect", "the device disconnected", "the adapter powered off" or "a btleplug
//! stream ended" ends the stream with one `Disconnected`. btleplug does not say whether the
//! peer or the radio dropped the link, so a disconnection we did not ask for is `LinkLost`.

use std::pin::Pin;
use std::sync::Arc;

use btleplug::api::{Peripheral as _, ValueNotification};
use btleplug::platform::Peripheral;
use bytes::Bytes;
use futures::{Stream, StreamExt};
use tokio::sync::broadcast::{self, error::RecvError};
use tokio::sync::Notify;

use super::gatt::HandleMap;
use super::watch::AdapterNews;
use crate::backend::{DisconnectCause, LinkEventSender};

/// A btleplug event stream.
pub(crate) type Events<T> = Pin<Box<dyn Stream<Item = T> + Send>>;

/// What the forwarding task listens to.
pub(crate) struct LinkWatch {
    /// The connected peripheral.
    pub peripheral: Peripheral,
    /// Synthetic handles of its characteristics.
    pub handles: Arc<HandleMap>,
    /// Told when the user asked to disconnect.
    pub requested: Arc<Notify>,
    /// The peripheral's notifications.
    pub notifications: Events<ValueNotification>,
    /// The adapter's news, shared by its links.
    pub news: broadcast::Receiver<AdapterNews>,
}

/// Forwards one link's events until it ends; the last event sent is `Disconnected`.
pub(crate) async fn forward(watch: LinkWatch, sender: LinkEventSender) {
    let LinkWatch {
        peripheral,
        handles,
        requested,
        mut notifications,
        mut news,
    } = watch;
    let id = peripheral.id();
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
                    if !sender.notification(handle, Bytes::from(note.value)) {
                        return;
                    }
                }
                None => break (DisconnectCause::LinkLost, "btleplug's notification stream ended".into()),
            },
            item = news.recv() => match item {
                Ok(AdapterNews::Disconnected(gone)) if gone == id => {
                    break (DisconnectCause::LinkLost, "the device disconnected".into());
                }
                Ok(AdapterNews::Disconnected(_)) => {}
                Ok(AdapterNews::PoweredOff) => {
                    break (DisconnectCause::RadioDown, "the adapter powered off".into());
                }
                Ok(AdapterNews::Ended) | Err(RecvError::Closed) => {
                    break (DisconnectCause::RadioDown, "btleplug's adapter event stream ended".into());
                }
                Err(RecvError::Lagged(_)) => {
                    // Missed news may have been ours: ask the platform.
                    if !peripheral.is_connected().await.unwrap_or(false) {
                        break (DisconnectCause::LinkLost, "the device disconnected".into());
                    }
                }
            },
        }
    };
    sender.disconnected(cause, detail);
}
