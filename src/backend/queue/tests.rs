//! The channels' policies, item by item.

use bytes::Bytes;
use futures::StreamExt;

use super::link::link_events_with_capacity;
use super::radio::radio_events_with_capacity;
use crate::backend::{DisconnectCause, LinkEvent, RadioEvent, SlotReport};

fn value(n: u8) -> Bytes {
    Bytes::from(vec![n])
}

fn drain<T>(stream: &mut futures::stream::BoxStream<'static, T>) -> Vec<T> {
    let mut out = Vec::new();
    while let Some(Some(item)) = stream.next().now_or_never() {
        out.push(item);
    }
    out
}

use futures::FutureExt;

#[test]
fn a_full_link_drops_the_oldest_values_announces_them_and_still_ends_with_disconnected() {
    let (tx, mut rx) = link_events_with_capacity(3);
    for n in 0..5 {
        assert!(tx.notification(0x10 + u16::from(n % 2), value(n)));
    }
    tx.services_changed();
    tx.services_changed();
    tx.disconnected(DisconnectCause::PeerClosed, "bye");
    tx.notification(0x10, value(99));
    tx.disconnected(DisconnectCause::LinkLost, "twice");
    assert_eq!(tx.dropped(), 2);
    let events = drain(&mut rx);
    assert_eq!(
        events,
        vec![
            LinkEvent::NotificationsDropped {
                handle: 0x10,
                count: 1
            },
            LinkEvent::NotificationsDropped {
                handle: 0x11,
                count: 1
            },
            LinkEvent::Notification {
                handle: 0x10,
                value: value(2)
            },
            LinkEvent::Notification {
                handle: 0x11,
                value: value(3)
            },
            LinkEvent::Notification {
                handle: 0x10,
                value: value(4)
            },
            LinkEvent::ServicesChanged,
            LinkEvent::Disconnected {
                cause: DisconnectCause::PeerClosed,
                detail: "bye".into()
            },
        ]
    );
    assert_eq!(rx.next().now_or_never(), Some(None), "the stream ends");
}

#[test]
fn a_link_whose_senders_vanish_still_says_disconnected() {
    let (tx, mut rx) = link_events_with_capacity(4);
    let clone = tx.clone();
    tx.notification(1, value(1));
    drop(tx);
    assert_eq!(drain(&mut rx).len(), 1, "a clone still sends");
    drop(clone);
    let events = drain(&mut rx);
    assert!(
        matches!(
            events.as_slice(),
            [LinkEvent::Disconnected {
                cause: DisconnectCause::LinkLost,
                ..
            }]
        ),
        "{events:?}"
    );
}

#[test]
fn a_link_event_sender_learns_its_consumer_left() {
    let (tx, rx) = link_events_with_capacity(4);
    drop(rx);
    assert!(tx.is_closed());
    assert!(!tx.notification(1, value(1)));
}

#[test]
fn a_full_radio_drops_the_oldest_adverts_and_keeps_every_state_in_order() {
    let (tx, mut rx) = radio_events_with_capacity(4);
    let advert = |n: u8| {
        crate::model::Advertisement::from_raw(
            crate::model::Address::new([0, 0, 0, 0, 0, n]),
            crate::model::RadioId::new("r"),
            -50,
            tokio::time::Instant::now(),
            Bytes::from_static(&[2, 1, 6]),
        )
        .unwrap()
    };
    tx.send(RadioEvent::Up);
    tx.send(RadioEvent::Adverts(vec![advert(1), advert(2)]));
    tx.send(RadioEvent::SlotsReported(SlotReport {
        free: 1,
        limit: 3,
        allocated: Vec::new(),
    }));
    tx.send(RadioEvent::Adverts(vec![advert(3), advert(4)]));
    tx.send(RadioEvent::Down {
        reason: "gone".into(),
    });
    tx.send(RadioEvent::Adverts(vec![advert(5)]));
    tx.send(RadioEvent::SlotsReported(SlotReport {
        free: 3,
        limit: 3,
        allocated: Vec::new(),
    }));
    assert_eq!(tx.dropped(), 2);
    let events = drain(&mut rx);
    let shape: Vec<String> = events
        .iter()
        .map(|e| match e {
            RadioEvent::Adverts(batch) => format!("adverts {}", batch.len()),
            RadioEvent::AdvertsDropped { count } => format!("dropped {count}"),
            RadioEvent::SlotsReported(r) => format!("slots {}", r.free),
            RadioEvent::Up => "up".into(),
            RadioEvent::Down { .. } => "down".into(),
            RadioEvent::RawAdverts(_) => "raw".into(),
        })
        .collect();
    assert_eq!(
        shape,
        [
            "dropped 2",
            "up",
            "slots 1",
            "adverts 2",
            "down",
            "adverts 1",
            "slots 3"
        ]
    );
    drop(tx);
    assert_eq!(rx.next().now_or_never(), Some(None), "the stream ends");
}

/// A queue of shared items with no final word of its own (the shape of the watcher and
/// subscriber queues): only `pop`, the trait's defaults for the rest.
struct Plain(std::collections::VecDeque<std::sync::Arc<u8>>);

impl super::Queue for Plain {
    type Item = std::sync::Arc<u8>;

    fn pop(&mut self) -> Option<Self::Item> {
        self.0.pop_front()
    }
}

#[test]
fn a_plain_queue_ends_after_its_items_when_the_senders_go_and_frees_them_when_the_consumer_goes() {
    let item = std::sync::Arc::new(7u8);
    let (tx, mut rx) = super::channel(Plain(Default::default()));
    let second = tx.clone();
    for sender in [&tx, &second] {
        sender.push(|q| q.0.push_back(std::sync::Arc::clone(&item)));
    }
    drop(tx);
    assert!(rx.try_recv().is_ready(), "a sender is left: items flow");
    drop(second);
    assert_eq!(rx.try_recv(), std::task::Poll::Ready(Some(item.clone())));
    assert_eq!(rx.try_recv(), std::task::Poll::Ready(None), "then the end");

    let (tx, rx) = super::channel(Plain(Default::default()));
    tx.push(|q| q.0.push_back(std::sync::Arc::clone(&item)));
    assert_eq!(std::sync::Arc::strong_count(&item), 2);
    drop(rx);
    assert_eq!(
        std::sync::Arc::strong_count(&item),
        1,
        "queued items are freed with the consumer, not with the last sender"
    );
    assert_eq!(tx.push(|_| ()), None);
}
