//! Unit tests of the subscriber fan-out: routing by handle, markers, lag, enabling.

use super::*;
use crate::model::uuid_from_u16;

fn temperature() -> CharacteristicRef {
    CharacteristicRef::from(uuid_from_u16(0x2A6E))
}

fn value(n: u8) -> Bytes {
    Bytes::from(vec![n])
}

/// A subscriber of the temperature characteristic with notify on at `handle`.
fn subscribed(subs: &mut Subscribers, handle: u16, capacity: usize) -> (u64, SubscriberQueue) {
    let (id, rx) = subs.add(temperature(), capacity);
    subs.set_state(id, NotifyState::On(handle));
    (id, rx)
}

fn drain(rx: &mut SubscriberQueue) -> Vec<SubscriptionEvent> {
    std::iter::from_fn(|| rx.try_recv().ok()).collect()
}

#[test]
fn a_subscriber_that_keeps_up_gets_everything_in_order() {
    let mut subs = Subscribers::default();
    let (_, mut rx) = subscribed(&mut subs, 7, 4);
    for n in 0..10 {
        subs.deliver(7, &value(n));
        assert_eq!(
            rx.try_recv().unwrap(),
            SubscriptionEvent::Notification(value(n))
        );
    }
}

/// Bug 3: two characteristics with one UUID in two services have two value handles; a
/// value of one never reaches a subscriber of the other.
#[test]
fn values_are_routed_by_value_handle_not_by_uuid() {
    let mut subs = Subscribers::default();
    let (_, mut first) = subscribed(&mut subs, 10, 4);
    let (_, mut second) = subscribed(&mut subs, 20, 4);
    assert_eq!(subs.deliver(10, &value(1)).delivered, 1);
    assert_eq!(
        drain(&mut first),
        vec![SubscriptionEvent::Notification(value(1))]
    );
    assert!(drain(&mut second).is_empty());
    assert_eq!(subs.deliver(20, &value(2)).delivered, 1);
    assert!(drain(&mut first).is_empty());
}

#[test]
fn values_before_notify_is_on_reach_nobody() {
    let mut subs = Subscribers::default();
    let (id, mut rx) = subs.add(temperature(), 4);
    subs.set_state(id, NotifyState::Enabling(7));
    assert_eq!(subs.deliver(7, &value(1)).delivered, 0);
    subs.enabled(7, Ok(()));
    subs.deliver(7, &value(2));
    assert_eq!(
        drain(&mut rx),
        vec![
            SubscriptionEvent::Reconnected,
            SubscriptionEvent::Notification(value(2))
        ]
    );
}

/// Bug 2 / 7: a failed enable is told to the subscriber, leaves nothing marked enabled, and
/// the next link tries it again.
#[test]
fn a_failed_enable_is_reported_and_retried_on_the_next_link() {
    let mut subs = Subscribers::default();
    let (id, mut rx) = subs.add(temperature(), 4);
    let (joined, mut rx2) = subs.add(temperature(), 4);
    subs.set_state(id, NotifyState::Enabling(7));
    assert_eq!(subs.handle_state(7), Some(false));
    subs.set_state(joined, NotifyState::Enabling(7));
    let refused = Arc::new(crate::Error::Timeout {
        operation: "set notify".into(),
        after: std::time::Duration::from_secs(1),
    });
    subs.enabled(7, Err(Arc::clone(&refused)));
    assert_eq!(
        drain(&mut rx),
        vec![SubscriptionEvent::Failed(Arc::clone(&refused))]
    );
    assert_eq!(drain(&mut rx2), vec![SubscriptionEvent::Failed(refused)]);
    assert_eq!(subs.handle_state(7), None, "nothing thinks notify is on");
    assert!(subs.to_enable().is_empty(), "not retried on the same link");
    subs.reset();
    assert_eq!(subs.to_enable().len(), 2, "the next link tries both again");
}

#[test]
fn removing_the_last_subscriber_of_a_handle_says_which_to_disable() {
    let mut subs = Subscribers::default();
    let (a, _rx_a) = subscribed(&mut subs, 7, 4);
    let (b, _rx_b) = subscribed(&mut subs, 7, 4);
    let (waiting, _rx_c) = subs.add(temperature(), 4);
    assert_eq!(subs.remove(a), None, "b still wants handle 7");
    assert_eq!(subs.remove(b), Some(7));
    assert_eq!(subs.remove(waiting), None, "never enabled");
    assert_eq!(subs.count(), 0);
}

#[test]
fn a_slow_subscriber_is_told_how_many_it_missed_and_never_blocks_others() {
    let mut subs = Subscribers::default();
    let (_, mut slow) = subscribed(&mut subs, 7, 2);
    let (_, mut fast) = subscribed(&mut subs, 7, 2);
    for n in 0..5 {
        let d = subs.deliver(7, &value(n));
        assert_eq!(d.delivered, if n < 2 { 2 } else { 1 });
        assert_eq!(
            fast.try_recv().unwrap(),
            SubscriptionEvent::Notification(value(n))
        );
    }
    assert_eq!(
        drain(&mut slow),
        vec![
            SubscriptionEvent::Notification(value(0)),
            SubscriptionEvent::Notification(value(1))
        ]
    );
    subs.deliver(7, &value(5));
    assert_eq!(
        drain(&mut slow),
        vec![
            SubscriptionEvent::Lagged(3),
            SubscriptionEvent::Notification(value(5))
        ]
    );
}

#[test]
fn a_subscriber_of_capacity_one_that_lagged_gets_values_again() {
    let mut subs = Subscribers::default();
    let (_, mut rx) = subscribed(&mut subs, 7, 1);
    subs.deliver(7, &value(0));
    subs.deliver(7, &value(1)); // dropped: the queue holds one value
    assert_eq!(
        rx.try_recv().unwrap(),
        SubscriptionEvent::Notification(value(0))
    );
    for n in 2..6 {
        subs.deliver(7, &value(n));
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
    let (_, mut rx) = subscribed(&mut subs, 7, 2);
    for n in 0..5 {
        subs.deliver(7, &value(n)); // 3 dropped
    }
    subs.announce(&SubscriptionEvent::Disconnected {
        reason: "lost".into(),
    });
    subs.announce(&SubscriptionEvent::Reconnected);
    subs.announce(&SubscriptionEvent::Disconnected {
        reason: "lost again".into(),
    });
    subs.announce(&SubscriptionEvent::Reconnected);
    subs.deliver(7, &value(9));
    assert_eq!(
        drain(&mut rx),
        vec![
            SubscriptionEvent::Notification(value(0)),
            SubscriptionEvent::Notification(value(1)),
            SubscriptionEvent::Lagged(3),
            SubscriptionEvent::Disconnected {
                reason: "lost".into()
            },
            SubscriptionEvent::Reconnected,
            // Held back while the queue was full, queued as places freed.
            SubscriptionEvent::Lagged(1),
            SubscriptionEvent::Disconnected {
                reason: "lost again".into()
            },
            SubscriptionEvent::Reconnected,
        ],
        "the queue was full of values; the markers used their reserved places, then freed ones"
    );
    subs.deliver(7, &value(10));
    assert_eq!(
        drain(&mut rx),
        vec![SubscriptionEvent::Notification(value(10))]
    );
}

/// A subscriber that lagged, whose link then dropped while its queue was full, learns of the
/// drop as soon as it takes what is queued: the held `Disconnected` goes in when `pop` frees a
/// place, not with the next value (which may never come: the link is down).
#[test]
fn a_held_drop_reaches_a_lagging_subscriber_without_another_value() {
    let mut subs = Subscribers::default();
    let (_, mut rx) = subscribed(&mut subs, 7, 1);
    subs.deliver(7, &value(0));
    subs.deliver(7, &value(1)); // dropped
    for _ in 0..2 {
        subs.announce(&SubscriptionEvent::Disconnected {
            reason: "lost".into(),
        });
        subs.announce(&SubscriptionEvent::Reconnected);
    }
    subs.announce(&SubscriptionEvent::Disconnected {
        reason: "gone".into(),
    });
    // No value follows: the link is down.
    let seen = drain(&mut rx);
    assert_eq!(
        seen.last(),
        Some(&SubscriptionEvent::Disconnected {
            reason: "gone".into()
        }),
        "{seen:?}"
    );
}

#[test]
fn markers_reach_every_subscriber() {
    let mut subs = Subscribers::default();
    let (_, mut a) = subs.add(temperature(), 4);
    let (_, mut b) = subs.add(CharacteristicRef::from(uuid_from_u16(0x2A6F)), 4);
    subs.announce(&SubscriptionEvent::Reconnected);
    assert_eq!(a.try_recv().unwrap(), SubscriptionEvent::Reconnected);
    assert_eq!(b.try_recv().unwrap(), SubscriptionEvent::Reconnected);
}
