//! Notification fan-out for one device: subscriptions as intents, any number per
//! characteristic, each with a bounded queue, routed by value handle.
//!
//! A subscription names its characteristic (UUID, optionally its service, or a value handle)
//! and lives whether or not the device is connected: on every connection the device resolves it
//! against that link's table and enables notify, once per value handle however many subscribe.
//! Notifications are routed by the value handle the link reports, so two characteristics with
//! the same UUID in two services never see each other's values.
//!
//! Invariants 5 and 6 live here. A subscriber that keeps up receives every notification in
//! order, plus `Waiting` / `Disconnected` / `Reconnected` / `Failed` markers so it sees gaps. A
//! slow subscriber never blocks the device or the others: when its queue is full the value is
//! dropped *for it only* and counted, and the next item it does receive is `Lagged(n)` saying
//! how many it missed. Dropping the [`Registration`] removes the subscriber at once and tells
//! the device actor, which disables notify on a handle nobody wants any more.
//!
//! Pure but for that one mailbox: the device actor owns one of these (shared behind a mutex
//! with the supervisor, so subscriptions outlive a crashed device actor).

use std::sync::Arc;
use std::task::{Context, Poll};

use actix::{Message, Recipient};
use bytes::Bytes;

use super::messages::CharacteristicRef;
use super::subscriber_events::Events;
use super::SharedSubscribers;
use crate::backend::queue::{channel, Receiver, Sender};

/// What a subscription stream yields.
#[derive(Clone, Debug)]
pub enum SubscriptionEvent {
    /// A notification or indication value.
    Notification(Bytes),
    /// This many values were dropped because the queue was full.
    Lagged(u64),
    /// The device is not connected yet; notify is enabled once it is (`Reconnected`).
    Waiting,
    /// The link dropped; notifications pause until `Reconnected`.
    Disconnected {
        /// Why, in words.
        reason: String,
    },
    /// The device is connected and notify is enabled (after `Waiting`, after `Disconnected`,
    /// or on the link that was up when subscribing): values follow.
    Reconnected,
    /// Enabling notify failed on this connection (no such characteristic, it cannot notify,
    /// or the peer refused the CCCD write). The subscription stays: the next connection tries
    /// again.
    Failed(Arc<crate::Error>),
}

impl PartialEq for SubscriptionEvent {
    fn eq(&self, other: &Self) -> bool {
        use SubscriptionEvent as E;
        match (self, other) {
            (E::Notification(a), E::Notification(b)) => a == b,
            (E::Lagged(a), E::Lagged(b)) => a == b,
            (E::Waiting, E::Waiting) | (E::Reconnected, E::Reconnected) => true,
            (E::Disconnected { reason: a }, E::Disconnected { reason: b }) => a == b,
            (E::Failed(a), E::Failed(b)) => a.to_string() == b.to_string(),
            _ => false,
        }
    }
}

impl Eq for SubscriptionEvent {}

/// Sent to the device actor when a subscription is dropped: `handle` is a value handle that
/// no subscriber wants any more, whose notify should be disabled.
#[derive(Message, Debug)]
#[rtype(result = "()")]
pub struct SubscriberGone {
    /// The handle left with no subscriber (enabled or being enabled), if any.
    pub handle: Option<u16>,
}

/// Queue places kept beyond a subscriber's capacity for markers: `Lagged`, `Waiting`,
/// `Disconnected`, `Reconnected`, `Failed`. Values alone never use them, so a full queue can
/// still say what happened.
pub(super) const MARKER_PLACES: usize = 3;

/// Where one subscriber's notify stands on the current link.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NotifyState {
    /// Not enabled on this link (not connected, or not tried yet).
    Off,
    /// The CCCD write for this value handle is in flight.
    Enabling(u16),
    /// Values of this value handle reach the subscriber.
    On(u16),
    /// Enabling failed on this link; the next connection tries again.
    Failed,
}

impl NotifyState {
    fn handle(self) -> Option<u16> {
        match self {
            Self::Enabling(h) | Self::On(h) => Some(h),
            Self::Off | Self::Failed => None,
        }
    }
}

#[derive(Debug)]
struct Subscriber {
    id: u64,
    target: CharacteristicRef,
    notify: NotifyState,
    queue: Sender<Events>,
}

impl Subscriber {
    /// Offers a value; false if it was dropped (a full queue, or the receiver is gone).
    fn offer_value(&self, value: &Bytes) -> bool {
        self.queue.push(|q| q.value(value)).unwrap_or(false)
    }

    fn offer_marker(&self, marker: SubscriptionEvent) {
        self.queue.push(|q| q.marker(marker));
    }

    fn lost_upstream(&self, count: u64) {
        self.queue.push(|q| q.lost_upstream(count));
    }
}

/// Why [`Subscription::try_recv_event`](crate::Subscription::try_recv_event) returned nothing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TryRecvError {
    /// Nothing queued now.
    Empty,
    /// The fleet is gone.
    Closed,
}

/// The receiving end of one subscriber's queue.
#[derive(Debug)]
pub struct SubscriberQueue {
    receiver: Receiver<Events>,
}

impl SubscriberQueue {
    /// The next event, waiting; `None` once the sender is gone.
    pub async fn recv(&mut self) -> Option<SubscriptionEvent> {
        std::future::poll_fn(|cx| self.receiver.poll_recv(cx)).await
    }

    /// The next event if one is queued.
    pub fn try_recv(&mut self) -> Result<SubscriptionEvent, TryRecvError> {
        match self.receiver.try_recv() {
            Poll::Ready(Some(event)) => Ok(event),
            Poll::Ready(None) => Err(TryRecvError::Closed),
            Poll::Pending => Err(TryRecvError::Empty),
        }
    }

    /// Polls for the next event.
    pub fn poll_recv(&mut self, cx: &mut Context<'_>) -> Poll<Option<SubscriptionEvent>> {
        self.receiver.poll_recv(cx)
    }
}

/// One subscriber's place: its queue, and on drop its removal (at once, telling the device).
#[derive(Debug)]
pub struct Registration {
    /// The subscriber's queue.
    pub queue: SubscriberQueue,
    id: u64,
    subscribers: SharedSubscribers,
}

impl Registration {
    /// Registers a subscriber of `target` in `subscribers`.
    pub fn new(
        subscribers: &SharedSubscribers,
        target: CharacteristicRef,
        capacity: usize,
    ) -> Self {
        let (id, queue) = lock(subscribers).add(target, capacity);
        Self {
            queue,
            id,
            subscribers: Arc::clone(subscribers),
        }
    }

    /// Its id among the device's subscribers.
    pub fn id(&self) -> u64 {
        self.id
    }
}

impl Drop for Registration {
    fn drop(&mut self) {
        let (handle, owner) = {
            let mut subscribers = lock(&self.subscribers);
            (subscribers.remove(self.id), subscribers.owner.clone())
        };
        if let Some(owner) = owner {
            owner.do_send(SubscriberGone { handle });
        }
    }
}

/// Locks shared subscribers, also after a panic elsewhere poisoned the lock.
pub fn lock(subscribers: &SharedSubscribers) -> std::sync::MutexGuard<'_, Subscribers> {
    subscribers.lock().unwrap_or_else(|p| p.into_inner())
}

/// Counts from one delivery.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Delivery {
    /// Subscribers that got the value.
    pub delivered: usize,
    /// Subscribers whose queue was full.
    pub dropped: usize,
}

/// Every subscription of one device, in the order they were made.
#[derive(Debug, Default)]
pub struct Subscribers {
    list: Vec<Subscriber>,
    next_id: u64,
    /// The device actor to tell when a subscription is dropped (the current one after a
    /// restart).
    owner: Option<Recipient<SubscriberGone>>,
}

impl Subscribers {
    /// Adds a subscriber of `target` with a queue of `capacity`, notify off; returns its id and
    /// its receiver.
    pub fn add(&mut self, target: CharacteristicRef, capacity: usize) -> (u64, SubscriberQueue) {
        let (queue, receiver) = channel(Events::new(capacity));
        let id = self.next_id;
        self.next_id += 1;
        self.list.push(Subscriber {
            id,
            target,
            notify: NotifyState::Off,
            queue,
        });
        (id, SubscriberQueue { receiver })
    }

    /// The device actor to tell about dropped subscriptions.
    pub fn set_owner(&mut self, owner: Recipient<SubscriberGone>) {
        self.owner = Some(owner);
    }

    /// Removes one subscriber; returns its value handle if no other subscriber now wants it
    /// (so notify on it should be disabled).
    pub fn remove(&mut self, id: u64) -> Option<u16> {
        let index = self.list.iter().position(|s| s.id == id)?;
        let handle = self.list.remove(index).notify.handle()?;
        (!self.wants(handle)).then_some(handle)
    }

    /// Whether any subscriber has notify on (or being enabled) for this value handle.
    pub fn wants(&self, handle: u16) -> bool {
        self.list.iter().any(|s| s.notify.handle() == Some(handle))
    }

    /// Delivers a value to every subscriber with notify on for this value handle.
    pub fn deliver(&mut self, handle: u16, value: &Bytes) -> Delivery {
        let mut outcome = Delivery::default();
        for subscriber in self
            .list
            .iter()
            .filter(|s| s.notify == NotifyState::On(handle))
        {
            if subscriber.offer_value(value) {
                outcome.delivered += 1;
            } else {
                outcome.dropped += 1;
            }
        }
        outcome
    }

    /// Values of this handle the link dropped before they reached us (its channel was
    /// full): every subscriber with notify on for it is owed them, told as `Lagged` before
    /// its next value (counted with its own drops, so it spends no extra marker place).
    pub fn lost_upstream(&mut self, handle: u16, count: u64) {
        for subscriber in self
            .list
            .iter()
            .filter(|s| s.notify == NotifyState::On(handle))
        {
            subscriber.lost_upstream(count);
        }
    }

    /// Sends a connection marker to every subscriber.
    pub fn announce(&mut self, event: &SubscriptionEvent) {
        for subscriber in &self.list {
            subscriber.offer_marker(event.clone());
        }
    }

    /// Sends a marker to one subscriber.
    pub fn tell(&mut self, id: u64, event: SubscriptionEvent) {
        if let Some(subscriber) = self.list.iter_mut().find(|s| s.id == id) {
            subscriber.offer_marker(event);
        }
    }

    /// A new link: nothing is enabled on it yet.
    pub fn reset(&mut self) {
        for subscriber in &mut self.list {
            subscriber.notify = NotifyState::Off;
        }
    }

    /// Subscribers whose notify is off on this link: (id, what they subscribed to).
    pub fn to_enable(&self) -> Vec<(u64, CharacteristicRef)> {
        self.list
            .iter()
            .filter(|s| s.notify == NotifyState::Off)
            .map(|s| (s.id, s.target))
            .collect()
    }

    /// A new subscription of `target`: those that failed to enable it on this link try again
    /// with it.
    pub fn retry_failed(&mut self, target: CharacteristicRef) {
        for subscriber in &mut self.list {
            if subscriber.notify == NotifyState::Failed && subscriber.target == target {
                subscriber.notify = NotifyState::Off;
            }
        }
    }

    /// Sets one subscriber's notify state.
    pub fn set_state(&mut self, id: u64, notify: NotifyState) {
        if let Some(subscriber) = self.list.iter_mut().find(|s| s.id == id) {
            subscriber.notify = notify;
        }
    }

    /// Whether some subscriber already has notify on (`Some(true)`) or being enabled
    /// (`Some(false)`) for this value handle.
    pub fn handle_state(&self, handle: u16) -> Option<bool> {
        let mut found = None;
        for s in &self.list {
            match s.notify {
                NotifyState::On(h) if h == handle => return Some(true),
                NotifyState::Enabling(h) if h == handle => found = Some(false),
                _ => {}
            }
        }
        found
    }

    /// The CCCD write for `handle` finished: its subscribers get values from now on
    /// (`Reconnected`), or learn why not and wait for the next connection.
    pub fn enabled(&mut self, handle: u16, result: Result<(), Arc<crate::Error>>) {
        for subscriber in &mut self.list {
            if subscriber.notify != NotifyState::Enabling(handle) {
                continue;
            }
            match &result {
                Ok(()) => {
                    subscriber.notify = NotifyState::On(handle);
                    subscriber.offer_marker(SubscriptionEvent::Reconnected);
                }
                Err(error) => {
                    subscriber.notify = NotifyState::Failed;
                    subscriber.offer_marker(SubscriptionEvent::Failed(Arc::clone(error)));
                }
            }
        }
    }

    /// One subscriber's target cannot be enabled on this link.
    pub fn failed(&mut self, id: u64, error: Arc<crate::Error>) {
        if let Some(subscriber) = self.list.iter_mut().find(|s| s.id == id) {
            subscriber.notify = NotifyState::Failed;
            subscriber.offer_marker(SubscriptionEvent::Failed(error));
        }
    }

    /// The device is no longer managed: every subscription's stream ends.
    pub fn close(&mut self) {
        self.list.clear();
        self.owner = None;
    }

    /// Whether any subscriber still holds its receiver.
    pub fn any_live(&self) -> bool {
        self.list.iter().any(|s| !s.queue.is_closed())
    }

    /// Number of subscribers in all.
    pub fn count(&self) -> usize {
        self.list.len()
    }
}

#[cfg(test)]
#[path = "subscribers_tests.rs"]
mod tests;
