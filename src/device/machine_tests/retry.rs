//! Failures and what they wait for: per-radio backoff, the detour, a fresh advert, the budget.

use super::*;

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
    b.fire_timer();
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
        b.fire_timer();
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
    assert!(has(
        &effects,
        |e| matches!(e, Effect::ArmTimer { at, .. } if *at == detour_at)
    ));
    b.now = detour_at;
    let effects = b.fire_timer();
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
    assert!(joins(&b.fire_timer()).is_empty());
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
            b.fire_timer();
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
    assert!(b.machine.attempt_generation().is_none());
    let (effects, _) = b.connect();
    assert!(effects.is_empty(), "{effects:?}");
    assert!(b.machine.link().is_none());
}
