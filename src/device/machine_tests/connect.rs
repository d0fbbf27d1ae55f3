//! Connecting and coming up: queueing, grants, admission, the link's end, a slow attempt.

use super::*;

#[test]
fn keep_connected_queues_starts_on_the_grant_and_comes_up() {
    let mut b = Bench::new(&["p1"]);
    b.heard("p1", -60, Some(true));
    let effects = b.feed(Event::KeepConnected(true));
    assert_eq!(
        effects.first(),
        Some(&Effect::Publish(DeviceState::Waiting {
            reason: WaitReason::Slot
        }))
    );
    assert!(has(&effects, |e| *e
        == Effect::JoinQueue {
            radios: vec![r("p1")],
            place: None
        }));
    let effects = b.grant("p1");
    assert_eq!(
        effects,
        vec![
            Effect::Publish(DeviceState::Connecting {
                radio: r("p1"),
                attempt: 1
            }),
            Effect::StartAttempt {
                radio: r("p1"),
                generation: 1,
                address_kind: Default::default(),
            },
        ]
    );
    let (effects, _) = b.connect();
    assert_eq!(
        effects,
        vec![
            Effect::RadioOutcome {
                radio: r("p1"),
                failed: None
            },
            Effect::Publish(DeviceState::Connected { radio: r("p1") }),
            Effect::LinkUp,
        ]
    );
    assert!(b.machine.link().is_some());
}

#[test]
fn nothing_wanted_means_idle_and_no_queue() {
    let mut b = Bench::new(&["p1"]);
    b.heard("p1", -60, Some(true));
    assert_eq!(
        b.feed(Event::Started),
        vec![Effect::Publish(DeviceState::Idle)]
    );
    b.requests = true;
    let effects = b.feed(Event::DemandChanged);
    assert_eq!(joins(&effects), vec![vec![r("p1")]]);
    b.requests = false; // the caller gave up
    let effects = b.feed(Event::DemandChanged);
    assert_eq!(
        effects,
        vec![Effect::LeaveQueue, Effect::Publish(DeviceState::Idle)]
    );
    // A grant that raced with leaving goes straight back: no attempt.
    let effects = b.grant("p1");
    assert!(!has(&effects, |e| matches!(e, Effect::StartAttempt { .. })));
}

/// Bug 14: a keep-connected device that cannot connect (a beacon) was accepted and held its
/// radio's queue for a full timeout per attempt. One admission check refuses keep-connected
/// and requests alike, and such a device never queues.
#[test]
fn a_non_connectable_device_is_refused_and_never_queues() {
    let mut b = Bench::new(&["p1"]);
    b.heard("p1", -60, Some(false));
    assert_eq!(
        b.feed(Event::KeepConnected(true)),
        vec![Effect::Refuse(Refusal::NotConnectable)]
    );
    assert!(!b.machine.keep_connected());
    b.requests = true;
    let effects = b.feed(Event::DemandChanged);
    assert!(has(&effects, |e| *e
        == Effect::FailPending(Refusal::NotConnectable)));
    assert!(joins(&effects).is_empty(), "{effects:?}");
    // Kept connected while connectable, then it says it is not: it leaves the queue.
    let mut b = Bench::new(&["p1"]);
    b.heard("p1", -60, Some(true));
    b.feed(Event::KeepConnected(true));
    let effects = b.heard("p1", -60, Some(false));
    assert_eq!(
        effects.first(),
        Some(&Effect::FailPending(Refusal::NotConnectable))
    );
    assert!(has(&effects, |e| *e == Effect::LeaveQueue));
    assert_eq!(
        published(&effects),
        Some(DeviceState::Waiting {
            reason: WaitReason::Advertisement
        })
    );
}

/// Bug 5: every link end called `disconnect()` again, also on links the backend had already
/// reported `Disconnected`. The machine asks for a disconnect only when it closes a link itself,
/// and marks a link the backend ended so dropping it does not disconnect.
#[test]
fn a_link_the_backend_ended_is_not_disconnected_again() {
    let mut b = Bench::new(&["p1"]);
    b.heard("p1", -60, Some(true));
    b.feed(Event::KeepConnected(true));
    b.grant("p1");
    let (_, ended) = b.connect();
    let effects = b.link_ended(DisconnectCause::PeerClosed);
    assert!(
        ended.get(),
        "the link was dropped without being marked ended"
    );
    assert!(!has(&effects, |e| matches!(e, Effect::Disconnect { .. })));
    assert!(has(&effects, |e| matches!(
        e,
        Effect::AnnounceDisconnected { .. }
    )));
    // Closing by ourselves: exactly one disconnect; the lease stays until it returns.
    b.advance(Duration::from_secs(1));
    b.fire_timer();
    b.grant("p1");
    let (_, ended) = b.connect();
    let effects = b.feed(Event::Disconnect);
    assert_eq!(
        effects,
        vec![
            Effect::FailPending(Refusal::Cancelled),
            Effect::Disconnect { generation: 2 }
        ]
    );
    assert!(b.machine.link().is_some(), "the link is held until it ends");
    let effects = b.link_ended(DisconnectCause::Requested);
    assert!(ended.get());
    assert_eq!(
        effects,
        vec![
            Effect::AnnounceDisconnected {
                reason: "disconnect requested: test".into()
            },
            Effect::Publish(DeviceState::Idle)
        ]
    );
}

/// Bug 12: a device whose discovery outlasted the connect timeout could never connect. The
/// machine never ends an attempt on its own clock: however long connect and discovery take
/// (the attempt's own timeouts decide), the result is taken.
#[test]
fn a_slow_attempt_is_never_cut_short_by_the_machine() {
    let mut b = Bench::new(&["p1"]);
    b.heard("p1", -60, Some(true));
    b.feed(Event::KeepConnected(true));
    b.grant("p1");
    for _ in 0..30 {
        b.advance(Duration::from_secs(1));
        let effects = b.fire_timer();
        assert!(effects.is_empty(), "{effects:?}");
        b.heard("p1", -60, Some(true));
    }
    let (effects, _) = b.connect();
    assert!(has(&effects, |e| *e == Effect::LinkUp));
}

/// Bug 15: nothing was fair between waiting devices. A device that failed keeps its place in
/// the FIFO for the next attempt; once connected it gives the place up (its next wait starts at
/// the back).
#[test]
fn a_failed_device_keeps_its_place_in_line_and_a_connected_one_does_not() {
    let mut b = Bench::new(&["p1", "p2"]);
    b.heard("p1", -60, Some(true));
    b.heard("p2", -62, Some(true));
    b.feed(Event::KeepConnected(true)); // holds place 7 (see `Bench::feed`)
    b.grant("p1");
    let effects = b.fail("connection slot unavailable");
    assert!(has(&effects, |e| *e
        == Effect::JoinQueue {
            radios: vec![r("p2")],
            place: Some(b.place)
        }));
    b.grant("p2");
    b.connect();
    b.link_ended(DisconnectCause::LinkLost);
    b.advance(Duration::from_secs(1));
    let effects = b.fire_timer();
    assert!(has(&effects, |e| matches!(
        e,
        Effect::JoinQueue { place: None, .. }
    )));
}
