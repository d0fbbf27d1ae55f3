//! The device machine driven event by event with no runtime: each test is a sequence of events
//! and the effects each must produce (or must not). Bugs of issue 13 that live in the machine
//! are named where they are checked.

use std::cell::Cell;
use std::collections::BTreeMap;
use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

use super::machine::*;
use super::retry::RetryPolicy;
use super::state::{DeviceState, WaitReason};
use crate::backend::{DisconnectCause, Failure, FailureSource, FailureStage};
use crate::device::radio_choice::ChoicePolicy;
use crate::error::ErrorKind;
use crate::model::{Address, AdvertData, Advertisement, RadioId};

#[derive(Debug)]
struct Lease(RadioId);

impl LeaseHandle for Lease {
    fn radio(&self) -> RadioId {
        self.0.clone()
    }

    fn mark_link(&self) {}
}

/// A link that remembers whether the machine marked it ended before dropping it.
#[derive(Debug)]
struct TestLink {
    ended: Rc<Cell<bool>>,
}

impl LinkHandle for TestLink {
    fn mark_ended(&mut self) {
        self.ended.set(true);
    }
}

struct Radios(BTreeMap<RadioId, RadioFacts>);

impl RadioView for Radios {
    fn facts(&self, radio: &RadioId) -> Option<RadioFacts> {
        self.0.get(radio).copied()
    }
}

fn r(name: &str) -> RadioId {
    RadioId::new(name)
}

fn device() -> Address {
    Address::new([0xA4, 0xC1, 0x38, 0, 0, 1])
}

/// A machine with its world: radios, demand, and a clock moved by hand.
struct Bench {
    machine: DeviceMachine<Lease, TestLink>,
    radios: Radios,
    now: Instant,
    requests: bool,
    subscribed: bool,
    generation: u64,
}

impl Bench {
    /// No jitter, no first-sighting settle: every delay is the policy's own figure.
    fn new(radios: &[&str]) -> Self {
        let now = Instant::now();
        let config = MachineConfig {
            choice: ChoicePolicy {
                first_sighting_settle: Duration::ZERO,
                ..ChoicePolicy::default()
            },
            retry: RetryPolicy {
                jitter: 0.0,
                ..RetryPolicy::default()
            },
            rssi_alpha: 1.0,
            epoch: now,
            seed: 1,
        };
        let facts = RadioFacts {
            up: true,
            free_slots: 1,
            in_flight: 0,
        };
        Self {
            machine: DeviceMachine::new(device(), false, config),
            radios: Radios(radios.iter().map(|n| (r(n), facts)).collect()),
            now,
            requests: false,
            subscribed: false,
            generation: 0,
        }
    }

    fn feed(&mut self, event: Event<Lease, TestLink>) -> Vec<Effect> {
        let inputs = Inputs {
            now: self.now,
            requests: self.requests,
            subscribed: self.subscribed,
            radios: &self.radios,
            observed: false,
        };
        let effects = self.machine.step(event, &inputs);
        for effect in &effects {
            if let Effect::StartAttempt { generation, .. } = effect {
                self.generation = *generation;
            }
            if let Effect::JoinQueue { .. } = effect {
                self.machine.hold_place(7);
            }
        }
        effects
    }

    fn advance(&mut self, by: Duration) {
        self.now += by;
    }

    fn heard(&mut self, radio: &str, rssi_dbm: i16, connectable: Option<bool>) -> Vec<Effect> {
        let mut advert = Advertisement::from_data(
            device(),
            r(radio),
            rssi_dbm,
            self.now,
            AdvertData::default(),
        );
        advert.connectable = connectable;
        self.feed(Event::Advert(Arc::new(advert)))
    }

    fn set_up(&mut self, radio: &str, up: bool) {
        if let Some(facts) = self.radios.0.get_mut(&r(radio)) {
            facts.up = up;
        }
    }

    /// Granted a slot on `radio`: the attempt starts.
    fn grant(&mut self, radio: &str) -> Vec<Effect> {
        self.feed(Event::Granted(Lease(r(radio))))
    }

    fn connect(&mut self) -> (Vec<Effect>, Rc<Cell<bool>>) {
        let ended = Rc::new(Cell::new(false));
        let link = TestLink {
            ended: Rc::clone(&ended),
        };
        let generation = self.generation;
        (self.feed(Event::Connected { generation, link }), ended)
    }

    fn fail(&mut self, text: &str) -> Vec<Effect> {
        let failure = Failure::new(FailureSource::Esphome, FailureStage::Connect, text);
        let generation = self.generation;
        self.feed(Event::AttemptFailed {
            generation,
            failure,
        })
    }

    fn link_ended(&mut self, cause: DisconnectCause) -> Vec<Effect> {
        let generation = self.generation;
        self.feed(Event::LinkEnded {
            generation,
            cause,
            detail: "test".into(),
        })
    }
}

fn joins(effects: &[Effect]) -> Vec<Vec<RadioId>> {
    effects
        .iter()
        .filter_map(|e| match e {
            Effect::JoinQueue { radios, .. } | Effect::SetQueueRadios(radios) => {
                Some(radios.clone())
            }
            _ => None,
        })
        .collect()
}

fn has(effects: &[Effect], wanted: impl Fn(&Effect) -> bool) -> bool {
    effects.iter().any(wanted)
}

fn published(effects: &[Effect]) -> Option<DeviceState> {
    effects.iter().rev().find_map(|e| match e {
        Effect::Publish(state) => Some(state.clone()),
        _ => None,
    })
}

const ABORTED: &str = "le-connection-abort-by-local";

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
            Effect::ConsiderIdle,
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
    b.feed(Event::Timer);
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
        let effects = b.feed(Event::Timer);
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
            place: Some(7)
        }));
    b.grant("p2");
    b.connect();
    b.link_ended(DisconnectCause::LinkLost);
    b.advance(Duration::from_secs(1));
    let effects = b.feed(Event::Timer);
    assert!(has(&effects, |e| matches!(
        e,
        Effect::JoinQueue { place: None, .. }
    )));
}

/// Bug 13: a backoff grown by failures through a far proxy also delayed the attempt through the
/// near, healthy one. Backoff is per radio: when the near proxy is back, the device queues for
/// it at once, while the far one still backs off.
#[test]
fn failures_through_a_far_proxy_do_not_delay_the_near_one() {
    let mut b = Bench::new(&["near", "far"]);
    b.heard("near", -55, Some(true));
    b.heard("far", -62, Some(true));
    b.feed(Event::KeepConnected(true));
    b.set_up("near", false);
    b.feed(Event::Timer);
    for _ in 0..6 {
        b.grant("far");
        let effects = b.fail(ABORTED);
        assert!(has(&effects, |e| matches!(
            e,
            Effect::CountFailure {
                kind: ErrorKind::Aborted,
                ..
            }
        )));
        let Some(DeviceState::Backoff { remaining, .. }) = published(&effects) else {
            panic!("not backing off: {effects:?}");
        };
        b.advance(remaining);
        b.feed(Event::Timer);
    }
    b.grant("far");
    let effects = b.fail(ABORTED);
    assert_eq!(
        published(&effects),
        Some(DeviceState::Backoff {
            remaining: Duration::from_secs(16),
            after: Some(ErrorKind::Aborted)
        })
    );
    // The near proxy is back, and heard: the device queues for it now, not in 16 s.
    b.advance(Duration::from_millis(100));
    b.set_up("near", true);
    let effects = b.heard("near", -55, Some(true));
    assert_eq!(joins(&effects), vec![vec![r("near")]]);
    let effects = b.grant("near");
    assert!(has(
        &effects,
        |e| matches!(e, Effect::StartAttempt { radio, .. } if *radio == r("near"))
    ));
}

/// Invariant 4 as kept (docs/architecture.md): a device waiting for a slot on its good radio
/// takes a much weaker one only after `detour_after`, and the timer wakes it then.
#[test]
fn the_detour_to_a_weak_radio_opens_after_the_detour_wait() {
    let mut b = Bench::new(&["good", "weak"]);
    b.heard("good", -55, Some(true));
    b.heard("weak", -85, Some(true));
    let effects = b.feed(Event::KeepConnected(true));
    assert_eq!(joins(&effects), vec![vec![r("good")]]);
    let detour_at = b.now + ChoicePolicy::default().detour_after;
    assert!(has(&effects, |e| *e == Effect::ArmTimer(detour_at)));
    b.now = detour_at;
    let effects = b.feed(Event::Timer);
    assert_eq!(joins(&effects), vec![vec![r("good"), r("weak")]]);
}

/// Not found: the device waits for a fresh advert (from any radio), never polls.
#[test]
fn not_found_waits_for_a_fresh_advert() {
    let mut b = Bench::new(&["p1"]);
    b.heard("p1", -60, Some(true));
    b.feed(Event::KeepConnected(true));
    b.grant("p1");
    let effects = b.fail("device not found");
    assert!(joins(&effects).is_empty());
    assert_eq!(
        published(&effects),
        Some(DeviceState::Waiting {
            reason: WaitReason::Advertisement
        })
    );
    b.advance(Duration::from_secs(1));
    assert!(joins(&b.feed(Event::Timer)).is_empty());
    let effects = b.heard("p1", -60, Some(true));
    assert_eq!(joins(&effects), vec![vec![r("p1")]]);
}

/// An on-demand request has an attempt budget; when it runs out the request fails and, with
/// nothing else wanting it, the device stops trying.
#[test]
fn a_request_fails_after_its_attempt_budget_and_the_device_goes_idle() {
    let mut b = Bench::new(&["p1"]);
    b.heard("p1", -60, Some(true));
    b.requests = true;
    b.feed(Event::DemandChanged);
    let budget = RetryPolicy::default().attempt_budget;
    for attempt in 1..=budget {
        let effects = b.grant("p1");
        assert!(has(&effects, |e| *e
            == Effect::Publish(DeviceState::Connecting {
                radio: r("p1"),
                attempt
            })));
        let effects = b.fail(ABORTED);
        if attempt < budget {
            let Some(DeviceState::Backoff { remaining, .. }) = published(&effects) else {
                panic!("not backing off: {effects:?}");
            };
            b.advance(remaining);
            b.feed(Event::Timer);
        } else {
            assert!(has(&effects, |e| matches!(
                e,
                Effect::FailPending(Refusal::Exhausted { attempts, .. }) if *attempts == budget
            )));
            assert_eq!(published(&effects), Some(DeviceState::Idle));
        }
    }
}

/// Results of an attempt the machine no longer waits for (closed meanwhile) change nothing.
#[test]
fn a_stale_attempt_result_is_ignored() {
    let mut b = Bench::new(&["p1"]);
    b.heard("p1", -60, Some(true));
    b.feed(Event::KeepConnected(true));
    b.grant("p1");
    let effects = b.feed(Event::Close);
    assert_eq!(effects.first(), Some(&Effect::CancelAttempt));
    assert!(!b.machine.is_connecting());
    let (effects, _) = b.connect();
    assert!(effects.is_empty(), "{effects:?}");
    assert!(b.machine.link().is_none());
}
