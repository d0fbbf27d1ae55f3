//! [`Subscription`]: the stream of one characteristic's notifications and connection markers.
//!
//! Dropping it unsubscribes; when a characteristic's last subscription is dropped the device
//! disables notify on it (within a second).

use std::pin::Pin;
use std::task::{Context, Poll};

use futures::Stream;
use tokio::sync::mpsc;

use crate::device::subscribers::SubscriberQueue;

pub use crate::device::subscribers::SubscriptionEvent;

/// Why [`Subscription::try_recv_event`] returned nothing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TryRecvError {
    /// Nothing queued now.
    Empty,
    /// The fleet is gone.
    Closed,
}

/// Notifications of one characteristic, with `Disconnected`, `Reconnected` and `Lagged(n)`
/// markers in the same order as they happened.
#[derive(Debug)]
pub struct Subscription {
    receiver: SubscriberQueue,
}

impl Subscription {
    pub(super) fn new(receiver: SubscriberQueue) -> Self {
        Self { receiver }
    }

    /// The next event; `None` once the fleet is gone.
    pub async fn recv(&mut self) -> Option<SubscriptionEvent> {
        self.receiver.recv().await
    }

    /// The next event if one is queued now.
    pub fn try_recv_event(&mut self) -> Result<SubscriptionEvent, TryRecvError> {
        self.receiver.try_recv().map_err(|e| match e {
            mpsc::error::TryRecvError::Empty => TryRecvError::Empty,
            mpsc::error::TryRecvError::Disconnected => TryRecvError::Closed,
        })
    }
}

impl Stream for Subscription {
    type Item = SubscriptionEvent;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.receiver.poll_recv(cx)
    }
}
