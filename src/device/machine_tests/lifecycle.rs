//! A connected device's housekeeping: the idle timer, a services change, and the memory a
//! restarted actor takes over (bug 8 and the restart clause of issue 13 at machine level).

use super::*;

/// Heard on p1 and connected on demand (a request), through generation 1.
fn connected_on_demand(b: &mut Bench) -> Vec<Effect> {
    b.heard("p1", -60, Some(true));
    b.requests = true;
    let effects = b.feed(Event::DemandChanged);
    assert_eq!(joins(&effects), vec![vec![r("p1")]]);
    b.grant("p1");
    b.connect().0
}

fn idle_timers(effects: &[Effect]) -> Vec<Instant> {
    effects
        .iter()
        .filter_map(|e| match e {
            Effect::ArmIdleTimer { at, .. } => Some(*at),
            _ => None,
        })
        .collect()
}

/// `effects` armed the idle timer once, for the idle timeout from now.
fn assert_idle_armed(b: &Bench, effects: &[Effect]) {
    assert_eq!(
        idle_timers(effects),
        vec![b.now + IDLE_AFTER],
        "{effects:?}"
    );
}

/// The idle timeout passes and the armed idle timer fires: the link of `generation` (and only
/// it) is asked to disconnect.
fn assert_idle_disconnect(b: &mut Bench, generation: u64) {
    b.advance(IDLE_AFTER);
    assert_eq!(b.fire_idle_timer(), vec![Effect::Disconnect { generation }]);
}

#[test]
fn an_unwanted_link_goes_after_the_idle_timeout_and_only_then() {
    let mut b = Bench::new(&["p1"]);
    let effects = connected_on_demand(&mut b);
    assert!(has(&effects, |e| *e == Effect::LinkUp));
    assert!(
        idle_timers(&effects).is_empty(),
        "a request waits: {effects:?}"
    );
    // The request is done: the timer is armed once, however often demand is looked at.
    b.requests = false;
    let effects = b.feed(Event::DemandChanged);
    assert_idle_armed(&b, &effects);
    assert!(idle_timers(&b.feed(Event::DemandChanged)).is_empty());
    // An operation in flight is demand again: the timer goes; when it is done, it comes back.
    b.advance(Duration::from_secs(10));
    b.requests = true;
    assert_eq!(b.feed(Event::DemandChanged), vec![Effect::CancelIdleTimer]);
    b.requests = false;
    let effects = b.feed(Event::DemandChanged);
    assert_idle_armed(&b, &effects);
    assert_idle_disconnect(&mut b, 1);
    // A second firing (or a second close) asks for no second disconnect.
    assert!(b.fire_idle_timer().is_empty());
    assert!(b.feed(Event::Close).is_empty());
    let effects = b.link_ended(DisconnectCause::Requested);
    assert_eq!(published(&effects), Some(DeviceState::Idle));
    assert!(joins(&effects).is_empty(), "{effects:?}");
}

#[test]
fn an_idle_timer_that_fires_while_the_link_is_wanted_again_keeps_it() {
    let mut b = Bench::new(&["p1"]);
    connected_on_demand(&mut b);
    b.requests = false;
    b.feed(Event::DemandChanged);
    // A subscription came (no demand event while connected): the timer finds it wanted.
    b.subscribed = true;
    b.advance(IDLE_AFTER);
    assert!(b.fire_idle_timer().is_empty());
    // Dropped later: the timer is armed again, from then.
    b.subscribed = false;
    let effects = b.feed(Event::DemandChanged);
    assert_idle_armed(&b, &effects);
}

#[test]
fn a_kept_connection_never_arms_the_idle_timer_until_released() {
    let mut b = Bench::new(&["p1"]);
    b.heard("p1", -60, Some(true));
    b.feed(Event::KeepConnected(true));
    b.grant("p1");
    let (effects, _) = b.connect();
    assert!(idle_timers(&effects).is_empty());
    let effects = b.feed(Event::KeepConnected(false));
    assert_idle_armed(&b, &effects);
}

/// Bug 8 at machine level: a machine that took over a crashed actor's memory, connected for a
/// subscription, lets the link go once the last subscription is dropped.
#[test]
fn a_restarted_machine_releases_the_link_when_the_last_subscription_goes() {
    let mut old = Bench::new(&["p1"]);
    old.heard("p1", -60, Some(true));
    let memory = old.machine.take_memory();
    let mut b = Bench::new(&["p1"]);
    b.machine.restore(memory);
    b.heard("p1", -60, Some(true));
    b.subscribed = true;
    assert_eq!(joins(&b.feed(Event::Started)), vec![vec![r("p1")]]);
    b.grant("p1");
    b.connect();
    b.subscribed = false;
    let effects = b.feed(Event::DemandChanged);
    assert_idle_armed(&b, &effects);
    assert_idle_disconnect(&mut b, 1);
}

/// Bug 4 (numbered waits): an idle timer cancelled and armed again can still fire in the turn
/// it was cancelled in. Its event carries the old wait's number, and the machine ignores it:
/// the link the new timer stands for stays up until that timer fires.
#[test]
fn an_idle_timer_replaced_in_the_turn_it_fired_does_nothing() {
    let mut b = Bench::new(&["p1"]);
    connected_on_demand(&mut b);
    b.requests = false;
    b.feed(Event::DemandChanged);
    let stale = b.idle_timer;
    b.advance(IDLE_AFTER / 2);
    b.requests = true;
    assert_eq!(b.feed(Event::DemandChanged), vec![Effect::CancelIdleTimer]);
    b.requests = false;
    let effects = b.feed(Event::DemandChanged);
    assert_idle_armed(&b, &effects);
    // The first timer's deadline: it fires although it was cancelled.
    b.advance(IDLE_AFTER / 2);
    assert!(b.feed(Event::IdleTimer(stale)).is_empty());
    assert_idle_disconnect(&mut b, 1);
}

/// Bug 4 for the machine's timer: a backoff timer replaced by a later wait fires anyway; its
/// event carries the old number and changes nothing (no drive, no re-arm, no publish).
#[test]
fn a_machine_timer_replaced_in_the_turn_it_fired_does_nothing() {
    let mut b = Bench::new(&["p1"]);
    b.heard("p1", -60, Some(true));
    b.feed(Event::KeepConnected(true));
    b.grant("p1");
    b.fail(ABORTED);
    let stale = b.timer;
    b.advance(Duration::from_millis(250));
    let effects = b.fire_timer();
    assert_eq!(joins(&effects), vec![vec![r("p1")]], "{effects:?}");
    assert_ne!(b.timer, stale, "queued: the detour wait is armed");
    assert!(b.feed(Event::Timer(stale)).is_empty());
    assert!(b.feed(Event::Timer(0)).is_empty(), "never armed");
}

#[test]
fn a_services_change_forgets_the_cache_and_reconnects_at_once() {
    let mut b = Bench::new(&["p1"]);
    b.heard("p1", -60, Some(true));
    b.feed(Event::KeepConnected(true));
    b.grant("p1");
    b.connect();
    // A change reported on an older connection is not this one's.
    assert!(b.feed(Event::ServicesChanged { generation: 0 }).is_empty());
    assert_eq!(
        b.feed(Event::ServicesChanged { generation: 1 }),
        vec![Effect::ForgetCache, Effect::Disconnect { generation: 1 }]
    );
    // The backend may report one change as several: one disconnect.
    assert!(b.feed(Event::ServicesChanged { generation: 1 }).is_empty());
    let effects = b.link_ended(DisconnectCause::Requested);
    assert_eq!(
        joins(&effects),
        vec![vec![r("p1")]],
        "no backoff: {effects:?}"
    );
    let effects = b.grant("p1");
    assert!(has(&effects, |e| matches!(
        e,
        Effect::StartAttempt { generation: 2, .. }
    )));
    let (effects, _) = b.connect();
    assert!(has(&effects, |e| *e == Effect::LinkUp));
}

/// Backs off on p1 after `failures` aborted attempts; returns the remaining wait.
fn backing_off(b: &mut Bench, failures: usize) -> Duration {
    b.heard("p1", -60, Some(true));
    b.feed(Event::KeepConnected(true));
    let mut remaining = Duration::ZERO;
    for n in 0..failures {
        if n > 0 {
            b.advance(remaining);
            b.fire_timer();
        }
        b.grant("p1");
        let effects = b.fail(ABORTED);
        let Some(DeviceState::Backoff { remaining: r, .. }) = published(&effects) else {
            panic!("not backing off: {effects:?}");
        };
        remaining = r;
    }
    remaining
}

/// The restart clause of issue 13: a restarted device actor keeps its backoff. A machine that
/// takes over the memory waits out the remaining backoff; one that starts blank (what a
/// restart did before) queues at once.
#[test]
fn a_machine_that_takes_over_the_memory_waits_out_the_backoff() {
    let mut old = Bench::new(&["p1"]);
    let remaining = backing_off(&mut old, 4);
    assert_eq!(remaining, Duration::from_secs(2));
    old.advance(Duration::from_millis(500));
    let memory = old.machine.take_memory();

    let mut restarted = Bench::new(&["p1"]);
    restarted.now = old.now;
    restarted.machine.restore(memory);
    restarted.heard("p1", -60, Some(true));
    let effects = restarted.feed(Event::KeepConnected(true));
    assert!(joins(&effects).is_empty(), "queued at once: {effects:?}");
    assert_eq!(
        published(&effects),
        Some(DeviceState::Backoff {
            remaining: Duration::from_millis(1500),
            after: Some(ErrorKind::Aborted)
        })
    );
    // The next failure grows the remembered envelope (4 s), not a fresh one (250 ms).
    restarted.advance(Duration::from_millis(1500));
    restarted.fire_timer();
    restarted.grant("p1");
    let effects = restarted.fail(ABORTED);
    assert!(matches!(
        published(&effects),
        Some(DeviceState::Backoff { remaining, .. }) if remaining == Duration::from_secs(4)
    ));

    let mut blank = Bench::new(&["p1"]);
    blank.now = old.now;
    blank.heard("p1", -60, Some(true));
    let effects = blank.feed(Event::KeepConnected(true));
    assert_eq!(joins(&effects), vec![vec![r("p1")]]);
}

/// Penalties survive too: after a failure through p1, the restarted machine (its backoff over)
/// ranks p2 first although p1 is heard louder; a blank one ranks p1 first.
#[test]
fn a_machine_that_takes_over_the_memory_keeps_its_radio_penalties() {
    let mut old = Bench::new(&["p1", "p2"]);
    old.heard("p1", -60, Some(true));
    old.feed(Event::KeepConnected(true));
    old.grant("p1");
    old.fail(ABORTED);
    old.advance(Duration::from_secs(1));
    let memory = old.machine.take_memory();
    let first_choice = |memory: Option<MachineMemory>| {
        let mut b = Bench::new(&["p1", "p2"]);
        b.now = old.now;
        if let Some(memory) = memory {
            b.machine.restore(memory);
        }
        b.heard("p1", -60, Some(true));
        b.heard("p2", -66, Some(true));
        let effects = b.feed(Event::KeepConnected(true));
        joins(&effects)
            .first()
            .and_then(|radios| radios.first().cloned())
    };
    assert_eq!(first_choice(Some(memory)), Some(r("p2")));
    assert_eq!(first_choice(None), Some(r("p1")));
}
