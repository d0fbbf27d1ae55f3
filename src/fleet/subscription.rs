//! [`Subscription`]: the stream of one characteristic's notifications and connection markers.
//!
//! A subscription is an intent: it is enabled on every connection of its device, now or later.
//! Dropping it unsubscribes at once; when a characteristic's last subscription is dropped the
//! device disables notify on it.

use std::pin::Pin;
use std::task::{Context, Poll};

use futures::Stream;

use crate::device::subscribers::Registration;

pub use crate::device::subscribers::SubscriptionEvent;
pub use crate::device::subscribers::TryRecvError;

/// Notifications of one characteristic, with `Waiting`, `Disconnected`, `Reconnected`,
/// `Failed` and `Lagged(n)` markers in the same order as they happened.
#[derive(Debug)]
#[must_use = "a subscription unsubscribes when dropped"]
pub struct Subscription {
    registration: Registration,
}

impl Subscription {
    pub(super) fn new(registration: Registration) -> Self {
        Self { registration }
    }

    /// The next event; `None` once the fleet is gone.
    pub async fn recv(&mut self) -> Option<SubscriptionEvent> {
        self.registration.queue.recv().await
    }

    /// The next event if one is queued now.
    pub fn try_recv_event(&mut self) -> Result<SubscriptionEvent, TryRecvError> {
        self.registration.queue.try_recv()
    }
}

impl Stream for Subscription {
    type Item = SubscriptionEvent;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.registration.queue.poll_recv(cx)
    }
}
