//! A stale service cache (review bug 1): one `StaleCache` finding forgets the cache once,
//! closes the link (or drops the attempt) that used it so the device rediscovers once, and
//! marks every connection that used it, so operations that ran on it run once more.

use super::*;

/// Kept connected through p1, the link of generation 1 built from the cached table.
fn connected_from_cache(b: &mut Bench) {
    b.links_from_cache = true;
    b.heard("p1", -60, Some(true));
    b.feed(Event::KeepConnected(true));
    b.grant("p1");
    b.connect();
}

/// The link drops (not by us); after the backoff the device is granted p1 again: attempt 2.
fn lost_and_granted_again(b: &mut Bench) {
    b.link_ended(DisconnectCause::LinkLost);
    b.advance(Duration::from_secs(1));
    b.fire_timer();
    b.grant("p1");
}

fn stale(b: &mut Bench, generation: u64) -> Vec<Effect> {
    b.feed(Event::StaleCache { generation })
}

#[test]
fn several_findings_on_one_link_forget_the_cache_and_close_it_once() {
    let mut b = Bench::new(&["p1"]);
    connected_from_cache(&mut b);
    assert!(!b.machine.found_stale(1));
    assert_eq!(
        stale(&mut b, 1),
        vec![Effect::ForgetCache, Effect::Disconnect { generation: 1 }]
    );
    assert!(b.machine.found_stale(1), "ops of generation 1 run again");
    assert!(b.machine.open_link().is_none(), "no op starts on it now");
    // The second and third concurrent op fail too: nothing more to do.
    assert!(stale(&mut b, 1).is_empty());
    assert!(stale(&mut b, 1).is_empty());
    // Closed by us, still wanted: queued at once (no backoff), discovered afresh.
    let effects = b.link_ended(DisconnectCause::Requested);
    assert_eq!(joins(&effects), vec![vec![r("p1")]], "{effects:?}");
    b.links_from_cache = false;
    b.grant("p1");
    let (effects, _) = b.connect();
    assert!(has(&effects, |e| *e == Effect::LinkUp));
    assert!(
        !b.machine.found_stale(2),
        "an error on the fresh table reaches the caller"
    );
    assert!(b.machine.open_link().is_some());
}

/// The finding arrives after its link dropped and the device reconnected from the same
/// cached table: the cache is forgotten (it was not), the new link closes too, and both
/// generations count as stale.
#[test]
fn a_finding_from_an_older_link_still_forgets_the_cache_and_closes_the_cached_one() {
    let mut b = Bench::new(&["p1"]);
    connected_from_cache(&mut b);
    lost_and_granted_again(&mut b);
    b.connect();
    assert_eq!(
        stale(&mut b, 1),
        vec![Effect::ForgetCache, Effect::Disconnect { generation: 2 }]
    );
    assert!(b.machine.found_stale(1) && b.machine.found_stale(2));
    assert!(stale(&mut b, 2).is_empty(), "one finding, one forget");
}

/// A finding older than a fresh discovery: the cache already holds the fresh table; nothing is
/// forgotten or closed, but the old link's op still runs again.
#[test]
fn a_finding_older_than_a_fresh_discovery_forgets_nothing() {
    let mut b = Bench::new(&["p1"]);
    connected_from_cache(&mut b);
    lost_and_granted_again(&mut b);
    b.links_from_cache = false;
    b.connect();
    assert!(stale(&mut b, 1).is_empty());
    assert!(b.machine.found_stale(1));
    assert!(!b.machine.found_stale(2));
    assert!(b.machine.open_link().is_some());
}

/// A finding while the next attempt runs: that attempt was offered the stale table, so it is
/// dropped and the device queues again (the next attempt finds the cache empty).
#[test]
fn a_finding_during_an_attempt_drops_it_and_queues_again() {
    let mut b = Bench::new(&["p1"]);
    connected_from_cache(&mut b);
    lost_and_granted_again(&mut b);
    let effects = stale(&mut b, 1);
    assert_eq!(effects.first(), Some(&Effect::ForgetCache), "{effects:?}");
    assert!(
        has(&effects, |e| *e == Effect::CancelAttempt),
        "{effects:?}"
    );
    assert_eq!(joins(&effects), vec![vec![r("p1")]], "{effects:?}");
    assert!(b.machine.found_stale(2));
}

/// Nothing is connected or connecting: the cache is forgotten, nothing else happens.
#[test]
fn a_finding_while_disconnected_only_forgets_the_cache() {
    let mut b = Bench::new(&["p1"]);
    connected_from_cache(&mut b);
    b.feed(Event::KeepConnected(false));
    b.feed(Event::Disconnect);
    b.link_ended(DisconnectCause::Requested);
    assert_eq!(stale(&mut b, 1), vec![Effect::ForgetCache]);
}
