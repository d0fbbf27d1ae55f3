//! One subscriber's queue: values bounded by its capacity, connection markers that are never
//! lost (held back and coalesced while the queue is full, queued as soon as the subscriber
//! takes something) and the `Lagged(n)` owed after a drop. Kept apart from the fan-out in
//! `subscribers.rs`, which only offers to it.

use std::collections::VecDeque;

use bytes::Bytes;

use super::subscribers::{SubscriptionEvent, MARKER_PLACES};
use crate::backend::queue::Queue;

/// What waits for one subscriber: a [`Queue`] of the crate's one channel (`backend::queue`),
/// so an idle subscription costs its channel and no buffer (a tokio `mpsc` allocated a block of
/// 32 slots per subscription: ~1.8 KB of each managed device's memory).
#[derive(Debug)]
pub(super) struct Events {
    items: VecDeque<SubscriptionEvent>,
    /// Notifications in `items`.
    values: usize,
    /// Notifications that may wait; `items` holds at most this plus [`MARKER_PLACES`].
    capacity: usize,
    /// Values dropped since the last `Lagged` (markers are never counted here).
    missed: u64,
    /// Markers that found the queue full, coalesced, queued before anything else.
    held: Vec<SubscriptionEvent>,
}

impl Events {
    /// An empty queue for `capacity` values (at least one).
    pub(super) fn new(capacity: usize) -> Self {
        Self {
            items: VecDeque::new(),
            values: 0,
            capacity: capacity.max(1),
            missed: 0,
            held: Vec::new(),
        }
    }

    /// Values the link's channel dropped before they reached this subscriber, told in the next
    /// `Lagged`.
    pub(super) fn lost_upstream(&mut self, count: u64) {
        self.missed += count;
    }

    fn room(&self) -> bool {
        self.items.len() < self.capacity + MARKER_PLACES
    }

    /// Queues what is owed first: `Lagged(missed)`, then held-back markers. True if all went.
    fn flush(&mut self) -> bool {
        if self.missed > 0 {
            if !self.room() {
                return false;
            }
            let missed = std::mem::take(&mut self.missed);
            self.items.push_back(SubscriptionEvent::Lagged(missed));
        }
        while !self.held.is_empty() {
            if !self.room() {
                return false;
            }
            let marker = self.held.remove(0);
            self.items.push_back(marker);
        }
        true
    }

    /// Offers a value; false if it had to be dropped (counted for the next `Lagged`). A full
    /// queue costs one comparison: the value is not even cloned.
    pub(super) fn value(&mut self, value: &Bytes) -> bool {
        // Flush (which may spend a marker place on `Lagged`) only when the value fits after it.
        if self.values < self.capacity && self.flush() && self.room() {
            self.items
                .push_back(SubscriptionEvent::Notification(value.clone()));
            self.values += 1;
            return true;
        }
        self.missed += 1;
        false
    }

    /// Offers a connection marker; never lost: held back (coalesced) while the queue is full.
    pub(super) fn marker(&mut self, marker: SubscriptionEvent) {
        if self.flush() && self.room() {
            self.items.push_back(marker);
            return;
        }
        // Keep only what the subscriber must learn: the last drop, and a reconnect after it.
        if matches!(marker, SubscriptionEvent::Disconnected { .. }) {
            self.held.clear();
        } else {
            self.held
                .retain(|m| matches!(m, SubscriptionEvent::Disconnected { .. }));
        }
        self.held.push(marker);
    }
}

impl Queue for Events {
    type Item = SubscriptionEvent;

    fn pop(&mut self) -> Option<SubscriptionEvent> {
        let event = self.items.pop_front()?;
        if matches!(event, SubscriptionEvent::Notification(_)) {
            self.values -= 1;
        }
        // A place is free: a marker held back while the queue was full goes in now, so a
        // subscriber that lagged learns of a drop without waiting for another value.
        if !self.held.is_empty() {
            self.flush();
        }
        Some(event)
    }
}
