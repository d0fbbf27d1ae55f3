//! A link's event channel: notifications bounded, dropped oldest first and announced;
//! Service Changed and the final `Disconnected` always delivered.
//!
//! The device actor reads a link's events as fast as its thread lets it; a flood of
//! notifications (a chatty sensor, a device actor busy elsewhere) must cost neither unbounded
//! memory nor the link's end. So at most [`LINK_EVENT_CAPACITY`] notifications wait; past
//! that the oldest goes, and before the next queued event the consumer receives
//! `NotificationsDropped { handle, count }` per characteristic that lost values (the device
//! passes it to that characteristic's subscribers as `Lagged` and counts it in diagnostics).
//! A Service Changed indication is a state: one queued is enough. `Disconnected` is kept
//! aside and comes last, after the notifications that preceded it, whatever the queue holds;
//! if every sender goes without saying it, the channel says it for them (`LinkLost`), so
//! "`Disconnected` exactly once, last" holds for every backend that uses this channel.

use std::collections::{BTreeMap, VecDeque};

use bytes::Bytes;
use futures::stream::BoxStream;
use futures::StreamExt;

use super::{channel, Queue, Sender};
use crate::backend::{DisconnectCause, LinkEvent};

/// Notifications one link buffers for its consumer before the oldest are dropped.
pub const LINK_EVENT_CAPACITY: usize = 256;

#[derive(Debug, Default)]
struct LinkQueue {
    capacity: usize,
    /// Notifications and at most one `ServicesChanged`, in the order they happened.
    queued: VecDeque<LinkEvent>,
    notifications: usize,
    /// Values dropped per value handle, not yet announced (ordered: the same run gives the
    /// same markers in the same order).
    dropped: BTreeMap<u16, u64>,
    /// The final event, once said.
    end: Option<LinkEvent>,
    /// The final event has been handed out.
    ended: bool,
    /// Values dropped on this link since it opened.
    dropped_total: u64,
}

impl LinkQueue {
    fn notification(&mut self, handle: u16, value: Bytes) {
        if self.end.is_some() {
            return;
        }
        if self.notifications >= self.capacity {
            self.drop_oldest();
        }
        self.queued
            .push_back(LinkEvent::Notification { handle, value });
        self.notifications += 1;
    }

    fn drop_oldest(&mut self) {
        let oldest = self
            .queued
            .iter()
            .position(|e| matches!(e, LinkEvent::Notification { .. }));
        if let Some(LinkEvent::Notification { handle, .. }) =
            oldest.and_then(|at| self.queued.remove(at))
        {
            self.notifications -= 1;
            *self.dropped.entry(handle).or_default() += 1;
            self.dropped_total += 1;
        }
    }

    fn services_changed(&mut self) {
        if self.end.is_some() || self.queued.contains(&LinkEvent::ServicesChanged) {
            return;
        }
        self.queued.push_back(LinkEvent::ServicesChanged);
    }

    fn disconnected(&mut self, cause: DisconnectCause, detail: String) {
        if self.end.is_none() {
            self.end = Some(LinkEvent::Disconnected { cause, detail });
        }
    }
}

impl Queue for LinkQueue {
    type Item = LinkEvent;

    fn pop(&mut self) -> Option<LinkEvent> {
        // Dropped values were older than everything still queued: announce them first.
        if let Some((handle, count)) = self.dropped.pop_first() {
            return Some(LinkEvent::NotificationsDropped { handle, count });
        }
        if let Some(event) = self.queued.pop_front() {
            if matches!(event, LinkEvent::Notification { .. }) {
                self.notifications -= 1;
            }
            return Some(event);
        }
        let end = self.end.take();
        self.ended |= end.is_some();
        end
    }

    fn ended(&self) -> bool {
        self.ended
    }

    fn senders_gone(&mut self) {
        self.disconnected(
            DisconnectCause::LinkLost,
            "the radio's link ended without a disconnect report".into(),
        );
    }
}

/// The backend's side of one link's event channel; clones share it.
#[derive(Clone)]
pub struct LinkEventSender {
    sender: Sender<LinkQueue>,
}

impl std::fmt::Debug for LinkEventSender {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LinkEventSender")
            .field("dropped", &self.dropped())
            .finish_non_exhaustive()
    }
}

impl LinkEventSender {
    /// A notification or indication value; the oldest queued one is dropped (and announced)
    /// when [`LINK_EVENT_CAPACITY`] are waiting. False when the consumer is gone.
    pub fn notification(&self, handle: u16, value: Bytes) -> bool {
        self.sender
            .push(|q| q.notification(handle, value))
            .is_some()
    }

    /// The device said its services changed (kept once, never dropped).
    pub fn services_changed(&self) -> bool {
        self.sender.push(LinkQueue::services_changed).is_some()
    }

    /// The link ended: delivered last, once, whatever else is queued. A second one is ignored.
    pub fn disconnected(&self, cause: DisconnectCause, detail: impl Into<String>) -> bool {
        let detail = detail.into();
        self.sender
            .push(|q| q.disconnected(cause, detail))
            .is_some()
    }

    /// Passes any event on with its policy (for backends that build `LinkEvent`s).
    pub fn send(&self, event: LinkEvent) -> bool {
        match event {
            LinkEvent::Notification { handle, value } => self.notification(handle, value),
            LinkEvent::ServicesChanged => self.services_changed(),
            LinkEvent::Disconnected { cause, detail } => self.disconnected(cause, detail),
            // Markers are the channel's own words, not the backend's.
            LinkEvent::NotificationsDropped { .. } => !self.is_closed(),
        }
    }

    /// Whether the consumer dropped its end.
    pub fn is_closed(&self) -> bool {
        self.sender.is_closed()
    }

    /// Resolves when the consumer has dropped its end (a backend can stop watching).
    pub async fn closed(&self) {
        self.sender.closed().await;
    }

    /// Values this link dropped since it opened.
    pub fn dropped(&self) -> u64 {
        self.sender.read(|q| q.dropped_total)
    }
}

/// A link's bounded event channel: the sender for the backend, the stream for
/// [`crate::backend::Connection::events`].
pub fn link_events() -> (LinkEventSender, BoxStream<'static, LinkEvent>) {
    link_events_with_capacity(LINK_EVENT_CAPACITY)
}

pub(crate) fn link_events_with_capacity(
    capacity: usize,
) -> (LinkEventSender, BoxStream<'static, LinkEvent>) {
    let (sender, receiver) = channel(LinkQueue {
        capacity: capacity.max(1),
        ..LinkQueue::default()
    });
    (LinkEventSender { sender }, receiver.boxed())
}
