//! Notification fan-out for one device: any number of subscribers per characteristic, each with
//! a bounded queue.
//!
//! Invariants 5 and 6 live here. A subscriber that keeps up receives every notification in
//! order, plus `Disconnected` / `Reconnected` markers so it sees gaps. A slow subscriber never
//! blocks the device or the others: when its queue is full the value is dropped *for it only*
//! and counted, and the next item it does receive is `Lagged(n)` saying how many it missed.
//! A subscriber whose receiver is gone is removed; when a characteristic loses its last
//! subscriber the caller disables notify on it.
//!
//! Pure: no actor, no async. The device actor owns one of these (shared behind a mutex with the
//! supervisor, so subscriptions outlive a crashed device actor).

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use bytes::Bytes;
use tokio::sync::mpsc;
use uuid::Uuid;

/// What a subscription stream yields.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SubscriptionEvent {
    /// A notification or indication value.
    Notification(Bytes),
    /// This many items were dropped because the queue was full.
    Lagged(u64),
    /// The link dropped; notifications pause until `Reconnected`.
    Disconnected {
        /// Why, in words.
        reason: String,
    },
    /// The device is connected again and notify is re-enabled.
    Reconnected,
}

/// Queue places kept beyond a subscriber's capacity for markers: `Lagged`, `Disconnected`,
/// `Reconnected`. Values alone never use them, so a full queue can still say what happened.
const MARKER_PLACES: usize = 3;

#[derive(Debug)]
struct Subscriber {
    id: u64,
    queue: mpsc::Sender<SubscriptionEvent>,
    /// Values in the queue now (the receiving side counts them down).
    queued_values: Arc<AtomicUsize>,
    capacity: usize,
    /// Values dropped since the last `Lagged` (markers are never counted here).
    missed: u64,
    /// Markers that found the queue full, coalesced, sent before anything else.
    pending_markers: Vec<SubscriptionEvent>,
}

impl Subscriber {
    /// Sends what is owed first: `Lagged(missed)`, then held-back markers. True if all went.
    fn flush(&mut self) -> bool {
        if self.missed > 0 {
            if self
                .queue
                .try_send(SubscriptionEvent::Lagged(self.missed))
                .is_err()
            {
                return false;
            }
            self.missed = 0;
        }
        while let Some(marker) = self.pending_markers.first().cloned() {
            if self.queue.try_send(marker).is_err() {
                return false;
            }
            self.pending_markers.remove(0);
        }
        true
    }

    /// Offers a value; false if it had to be dropped (counted for the next `Lagged`).
    fn offer_value(&mut self, value: Bytes) -> bool {
        // Flush (which may spend a marker place on `Lagged`) only when the value fits after it.
        let fits = self.queued_values.load(Ordering::Acquire) < self.capacity;
        if fits && self.flush() {
            self.queued_values.fetch_add(1, Ordering::AcqRel);
            if self
                .queue
                .try_send(SubscriptionEvent::Notification(value))
                .is_ok()
            {
                return true;
            }
            self.queued_values.fetch_sub(1, Ordering::AcqRel);
        }
        self.missed += 1;
        false
    }

    /// Offers a connection marker; never lost: held back (coalesced) while the queue is full.
    fn offer_marker(&mut self, marker: SubscriptionEvent) {
        if self.flush() && self.queue.try_send(marker.clone()).is_ok() {
            return;
        }
        // Keep only what the subscriber must learn: the last drop, and a reconnect after it.
        if matches!(marker, SubscriptionEvent::Disconnected { .. }) {
            self.pending_markers.clear();
        } else {
            self.pending_markers
                .retain(|m| matches!(m, SubscriptionEvent::Disconnected { .. }));
        }
        self.pending_markers.push(marker);
    }
}

/// The receiving end of one subscriber's queue; counts values out so the sender knows how many
/// are queued.
#[derive(Debug)]
pub struct SubscriberQueue {
    receiver: mpsc::Receiver<SubscriptionEvent>,
    queued_values: Arc<AtomicUsize>,
}

impl SubscriberQueue {
    fn taken(&self, event: &SubscriptionEvent) {
        if matches!(event, SubscriptionEvent::Notification(_)) {
            self.queued_values.fetch_sub(1, Ordering::AcqRel);
        }
    }

    /// The next event, waiting; `None` once the sender is gone.
    pub async fn recv(&mut self) -> Option<SubscriptionEvent> {
        let event = self.receiver.recv().await?;
        self.taken(&event);
        Some(event)
    }

    /// The next event if one is queued.
    pub fn try_recv(&mut self) -> Result<SubscriptionEvent, mpsc::error::TryRecvError> {
        let event = self.receiver.try_recv()?;
        self.taken(&event);
        Ok(event)
    }

    /// Polls for the next event.
    pub fn poll_recv(
        &mut self,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<SubscriptionEvent>> {
        let polled = self.receiver.poll_recv(cx);
        if let std::task::Poll::Ready(Some(event)) = &polled {
            self.taken(event);
        }
        polled
    }
}

/// Counts from one delivery.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Delivery {
    /// Subscribers that got the value.
    pub delivered: usize,
    /// Subscribers whose queue was full.
    pub dropped: usize,
}

/// Every subscription of one device, keyed by characteristic UUID.
#[derive(Debug, Default)]
pub struct Subscribers {
    by_characteristic: BTreeMap<Uuid, Vec<Subscriber>>,
    next_id: u64,
}

impl Subscribers {
    /// Adds a subscriber with a queue of `capacity`; returns its id, its receiver, and whether it
    /// is the characteristic's first (so notify must be enabled).
    pub fn add(&mut self, characteristic: Uuid, capacity: usize) -> (u64, SubscriberQueue, bool) {
        let capacity = capacity.max(1);
        let (queue, receiver) = mpsc::channel(capacity + MARKER_PLACES);
        let queued_values = Arc::new(AtomicUsize::new(0));
        let id = self.next_id;
        self.next_id += 1;
        let list = self.by_characteristic.entry(characteristic).or_default();
        let first = list.is_empty();
        list.push(Subscriber {
            id,
            queue,
            queued_values: Arc::clone(&queued_values),
            capacity,
            missed: 0,
            pending_markers: Vec::new(),
        });
        let receiver = SubscriberQueue {
            receiver,
            queued_values,
        };
        (id, receiver, first)
    }

    /// Removes one subscriber; true if its characteristic now has none.
    pub fn remove(&mut self, characteristic: &Uuid, id: u64) -> bool {
        let Some(list) = self.by_characteristic.get_mut(characteristic) else {
            return false;
        };
        list.retain(|s| s.id != id);
        let empty = list.is_empty();
        if empty {
            self.by_characteristic.remove(characteristic);
        }
        empty
    }

    /// Delivers a value to every subscriber of `characteristic`.
    pub fn deliver(&mut self, characteristic: &Uuid, value: &Bytes) -> Delivery {
        let mut outcome = Delivery::default();
        if let Some(list) = self.by_characteristic.get_mut(characteristic) {
            for subscriber in list.iter_mut() {
                if subscriber.offer_value(value.clone()) {
                    outcome.delivered += 1;
                } else {
                    outcome.dropped += 1;
                }
            }
        }
        outcome
    }

    /// Sends a connection marker to every subscriber.
    pub fn announce(&mut self, event: &SubscriptionEvent) {
        for subscriber in self.by_characteristic.values_mut().flatten() {
            subscriber.offer_marker(event.clone());
        }
    }

    /// Drops subscribers whose receiver is gone; returns the characteristics left with none.
    pub fn prune_closed(&mut self) -> Vec<Uuid> {
        let mut emptied = Vec::new();
        self.by_characteristic.retain(|uuid, list| {
            list.retain(|s| !s.queue.is_closed());
            if list.is_empty() {
                emptied.push(*uuid);
            }
            !list.is_empty()
        });
        emptied
    }

    /// Characteristics with at least one subscriber (to re-enable after a reconnect).
    pub fn characteristics(&self) -> Vec<Uuid> {
        self.by_characteristic.keys().copied().collect()
    }

    /// Whether any subscriber still holds its receiver.
    pub fn any_live(&self) -> bool {
        self.by_characteristic
            .values()
            .flatten()
            .any(|s| !s.queue.is_closed())
    }

    /// Number of subscribers in all.
    pub fn count(&self) -> usize {
        self.by_characteristic.values().map(Vec::len).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn uuid() -> Uuid {
        crate::model::uuid_from_u16(0x2A6E)
    }

    fn value(n: u8) -> Bytes {
        Bytes::from(vec![n])
    }

    #[test]
    fn a_subscriber_that_keeps_up_gets_everything_in_order() {
        let mut subs = Subscribers::default();
        let (_, mut rx, first) = subs.add(uuid(), 4);
        assert!(first);
        for n in 0..10 {
            subs.deliver(&uuid(), &value(n));
            assert_eq!(
                rx.try_recv().unwrap(),
                SubscriptionEvent::Notification(value(n))
            );
        }
    }

    #[test]
    fn a_slow_subscriber_is_told_how_many_it_missed_and_never_blocks_others() {
        let mut subs = Subscribers::default();
        let (_, mut slow, _) = subs.add(uuid(), 2);
        let (_, mut fast, first) = subs.add(uuid(), 2);
        assert!(!first);
        for n in 0..5 {
            let d = subs.deliver(&uuid(), &value(n));
            assert_eq!(d.delivered, if n < 2 { 2 } else { 1 });
            assert_eq!(
                fast.try_recv().unwrap(),
                SubscriptionEvent::Notification(value(n))
            );
        }
        assert_eq!(
            slow.try_recv().unwrap(),
            SubscriptionEvent::Notification(value(0))
        );
        assert_eq!(
            slow.try_recv().unwrap(),
            SubscriptionEvent::Notification(value(1))
        );
        assert!(slow.try_recv().is_err());
        subs.deliver(&uuid(), &value(5));
        assert_eq!(slow.try_recv().unwrap(), SubscriptionEvent::Lagged(3));
        assert_eq!(
            slow.try_recv().unwrap(),
            SubscriptionEvent::Notification(value(5))
        );
    }

    #[test]
    fn a_subscriber_of_capacity_one_that_lagged_gets_values_again() {
        let mut subs = Subscribers::default();
        let (_, mut rx, _) = subs.add(uuid(), 1);
        subs.deliver(&uuid(), &value(0));
        subs.deliver(&uuid(), &value(1)); // dropped: the queue holds one value
        assert_eq!(
            rx.try_recv().unwrap(),
            SubscriptionEvent::Notification(value(0))
        );
        for n in 2..6 {
            subs.deliver(&uuid(), &value(n));
            if n == 2 {
                assert_eq!(rx.try_recv().unwrap(), SubscriptionEvent::Lagged(1));
            }
            assert_eq!(
                rx.try_recv().unwrap(),
                SubscriptionEvent::Notification(value(n)),
                "value {n} after the lag"
            );
        }
    }

    #[test]
    fn a_lagging_subscriber_is_still_told_its_link_dropped_and_lagged_counts_values_only() {
        let mut subs = Subscribers::default();
        let (_, mut rx, _) = subs.add(uuid(), 2);
        for n in 0..5 {
            subs.deliver(&uuid(), &value(n)); // 3 dropped
        }
        subs.announce(&SubscriptionEvent::Disconnected {
            reason: "lost".into(),
        });
        subs.announce(&SubscriptionEvent::Reconnected);
        subs.announce(&SubscriptionEvent::Disconnected {
            reason: "lost again".into(),
        });
        subs.announce(&SubscriptionEvent::Reconnected);
        subs.deliver(&uuid(), &value(9));
        let got: Vec<_> = std::iter::from_fn(|| rx.try_recv().ok()).collect();
        assert_eq!(
            got,
            vec![
                SubscriptionEvent::Notification(value(0)),
                SubscriptionEvent::Notification(value(1)),
                SubscriptionEvent::Lagged(3),
                SubscriptionEvent::Disconnected {
                    reason: "lost".into()
                },
                SubscriptionEvent::Reconnected,
            ],
            "the queue was full of values; the markers used their reserved places"
        );
        subs.deliver(&uuid(), &value(10));
        let got: Vec<_> = std::iter::from_fn(|| rx.try_recv().ok()).collect();
        assert_eq!(
            got,
            vec![
                SubscriptionEvent::Lagged(1),
                SubscriptionEvent::Disconnected {
                    reason: "lost again".into()
                },
                SubscriptionEvent::Reconnected,
                SubscriptionEvent::Notification(value(10)),
            ]
        );
    }

    #[test]
    fn markers_reach_every_subscriber() {
        let mut subs = Subscribers::default();
        let (_, mut a, _) = subs.add(uuid(), 4);
        let (_, mut b, _) = subs.add(crate::model::uuid_from_u16(0x2A6F), 4);
        subs.announce(&SubscriptionEvent::Reconnected);
        assert_eq!(a.try_recv().unwrap(), SubscriptionEvent::Reconnected);
        assert_eq!(b.try_recv().unwrap(), SubscriptionEvent::Reconnected);
    }

    #[test]
    fn dropped_receivers_are_pruned_and_report_empty_characteristics() {
        let mut subs = Subscribers::default();
        let (_, rx, _) = subs.add(uuid(), 4);
        let (id, _keep, _) = subs.add(crate::model::uuid_from_u16(0x2A6F), 4);
        drop(rx);
        assert_eq!(subs.prune_closed(), vec![uuid()]);
        assert_eq!(
            subs.characteristics(),
            vec![crate::model::uuid_from_u16(0x2A6F)]
        );
        assert!(subs.remove(&crate::model::uuid_from_u16(0x2A6F), id));
        assert_eq!(subs.count(), 0);
    }
}
