use super::*;
use crate::backend::SlotReport;

fn addr(n: u8) -> Address {
    Address::new([0xAA, 0, 0, 0, 0, n])
}

fn ledger(radios: &[(&str, usize)]) -> SlotLedger {
    let ledger = SlotLedger::new();
    for (name, limit) in radios {
        ledger.add_radio(&RadioId::new(name), *limit);
        ledger.set_up(&RadioId::new(name), true);
    }
    ledger
}

#[test]
fn dropping_a_lease_gives_the_slot_back() {
    let l = ledger(&[("p1", 1)]);
    let p1 = RadioId::new("p1");
    let lease = l.try_lease(&p1, addr(1)).unwrap();
    assert_eq!(l.free(&p1), 0);
    assert!(matches!(
        l.try_lease(&p1, addr(2)),
        Err(LeaseRefused::Full { .. })
    ));
    drop(lease);
    assert_eq!(l.free(&p1), 1);
    assert_eq!(l.total_held(), 0);
}

#[test]
fn a_device_never_holds_slots_on_two_radios() {
    let l = ledger(&[("p1", 3), ("p2", 3)]);
    let _lease = l.try_lease(&RadioId::new("p1"), addr(1)).unwrap();
    let err = l.try_lease(&RadioId::new("p2"), addr(1)).unwrap_err();
    assert_eq!(
        err,
        LeaseRefused::AlreadyHeld {
            address: addr(1),
            radio: RadioId::new("p1")
        }
    );
}

#[test]
fn a_down_radio_grants_nothing_and_a_lease_outliving_it_still_releases() {
    let l = ledger(&[("p1", 2)]);
    let p1 = RadioId::new("p1");
    let lease = l.try_lease(&p1, addr(1)).unwrap();
    l.set_up(&p1, false);
    assert!(matches!(
        l.try_lease(&p1, addr(2)),
        Err(LeaseRefused::RadioDown { .. })
    ));
    drop(lease);
    l.set_up(&p1, true);
    assert_eq!(l.free(&p1), 2);
}

#[test]
fn reconcile_adopts_the_limit_and_counts_foreign_slots() {
    let l = ledger(&[("p1", 3)]);
    let p1 = RadioId::new("p1");
    let _ours = l.try_lease(&p1, addr(1)).unwrap();
    let report = SlotReport {
        free: 1,
        limit: 3,
        allocated: vec![addr(1), addr(9)],
    };
    let found = l.reconcile(&p1, &report);
    assert_eq!(found.foreign, 1);
    assert!(found.missing_from_report.is_empty());
    assert_eq!(l.free(&p1), 1);
    // A report by counts only: 2 in use, none named; one of them is ours.
    let counts = SlotReport {
        free: 1,
        limit: 3,
        allocated: vec![],
    };
    let found = l.reconcile(&p1, &counts);
    assert_eq!(found.missing_from_report, vec![addr(1)]);
    assert_eq!(l.free(&p1), 1);
}

fn radios(names: &[&str]) -> Vec<RadioId> {
    names.iter().copied().map(RadioId::new).collect()
}

#[test]
fn tickets_are_granted_oldest_first_and_queueing_holds_no_slot() {
    let l = ledger(&[("p1", 1)]);
    let p1 = RadioId::new("p1");
    let (_t1, mut g1) = l.request(addr(1), radios(&["p1"]), None).unwrap();
    let (_t3, mut g3) = l.request(addr(3), radios(&["p1"]), None).unwrap();
    let (_t2, mut g2) = l.request(addr(2), radios(&["p1"]), None).unwrap();
    let first = g1.try_recv().expect("the oldest ticket is granted at once");
    assert!(g2.try_recv().is_err() && g3.try_recv().is_err());
    // Queued devices hold nothing; the listing says who waits, in order.
    assert_eq!(l.holder(&addr(3)), None);
    let usage = &l.usage()[0];
    assert_eq!(usage.queued, vec![addr(3), addr(2)]);
    assert_eq!(usage.connecting, Some(addr(1)));
    assert_eq!(usage.leases, vec![(addr(1), LeasePhase::Connecting)]);
    drop(first);
    let second = g3.try_recv().expect("next in line");
    assert_eq!(second.lease.radio(), &p1);
    assert!(g2.try_recv().is_err());
}

#[test]
fn one_connect_turn_per_radio_even_with_free_slots() {
    let l = ledger(&[("p1", 3)]);
    let (_t1, mut g1) = l.request(addr(1), radios(&["p1"]), None).unwrap();
    let (_t2, mut g2) = l.request(addr(2), radios(&["p1"]), None).unwrap();
    let first = g1.try_recv().unwrap();
    assert!(
        g2.try_recv().is_err(),
        "the radio is still connecting the first"
    );
    drop(first.turn); // the connect call returned; the lease stays
    first.lease.mark_link();
    let second = g2.try_recv().expect("granted once the turn ended");
    assert_eq!(l.total_held(), 2);
    assert_eq!(
        l.usage()[0].leases,
        vec![
            (addr(1), LeasePhase::Link),
            (addr(2), LeasePhase::Connecting)
        ]
    );
    drop(second);
}

#[test]
fn a_ticket_takes_the_first_of_its_radios_that_frees() {
    let l = ledger(&[("a", 1), ("b", 1)]);
    let busy_a = l.try_lease(&RadioId::new("a"), addr(9)).unwrap();
    let (_t, mut g) = l.request(addr(1), radios(&["a", "b"]), None).unwrap();
    let grant = g.try_recv().expect("b is free");
    assert_eq!(grant.lease.radio(), &RadioId::new("b"));
    drop(busy_a);
    // Widening a ticket keeps its place and dispatches.
    let (t2, mut g2) = l.request(addr(2), radios(&["b"]), None).unwrap();
    let (_t3, mut g3) = l.request(addr(3), radios(&["a"]), None).unwrap();
    let on_a = g3.try_recv().expect("a is free and nobody older wants it");
    assert!(g2.try_recv().is_err());
    t2.set_radios(radios(&["b", "a"]));
    assert!(g2.try_recv().is_err(), "both busy");
    drop(grant);
    assert_eq!(g2.try_recv().unwrap().lease.radio(), &RadioId::new("b"));
    drop(on_a);
}

#[test]
fn a_freed_shared_radio_serves_the_waiter_whose_other_radio_is_loaded() {
    // a ← {x}; b ← {x, y}; c ← {y, z-only devices}. With b freeing, FIFO would give it the
    // older device x1 (which a can serve); the balance gives it y1, as c has its own queue.
    let l = ledger(&[("a", 1), ("b", 1), ("c", 1)]);
    let busy: Vec<SlotLease> = ["a", "b", "c"]
        .iter()
        .enumerate()
        .map(|(n, r)| l.try_lease(&RadioId::new(r), addr(100 + n as u8)).unwrap())
        .collect();
    let (_x1, mut gx1) = l.request(addr(1), radios(&["a", "b"]), None).unwrap();
    let (_y1, mut gy1) = l.request(addr(2), radios(&["b", "c"]), None).unwrap();
    let (_y2, _gy2) = l.request(addr(3), radios(&["b", "c"]), None).unwrap();
    let mut only_c = Vec::new();
    for n in 10..14 {
        only_c.push(l.request(addr(n), radios(&["c"]), None).unwrap());
    }
    let mut busy = busy.into_iter();
    let (on_a, on_b) = (busy.next(), busy.next());
    drop(on_b);
    assert!(gx1.try_recv().is_err(), "x1 is left for a");
    let granted = gy1
        .try_recv()
        .expect("b serves the device whose other radio is loaded");
    assert_eq!(granted.lease.radio(), &RadioId::new("b"));
    drop(on_a);
    assert_eq!(gx1.try_recv().unwrap().lease.radio(), &RadioId::new("a"));
}

/// Bug 15's bound under the balance: a device that a radio's balance keeps passing over (its
/// other radio is held for good, and devices only this radio can serve keep arriving) is served
/// after `MAX_OVERTAKES` passes when the radio is its best, `2 × MAX_OVERTAKES` otherwise.
#[test]
fn a_passed_over_device_is_served_within_the_overtake_bound() {
    for (order, bound) in [
        (["b", "a"], balance::MAX_OVERTAKES),
        (["a", "b"], 2 * balance::MAX_OVERTAKES),
    ] {
        let l = ledger(&[("a", 1), ("b", 1)]);
        let _held_for_good = l.try_lease(&RadioId::new("a"), addr(200)).unwrap();
        let busy = l.try_lease(&RadioId::new("b"), addr(201)).unwrap();
        let (_x, mut gx) = l.request(addr(1), radios(&order), None).unwrap();
        let mut queue: std::collections::VecDeque<_> = (10..14)
            .map(|n| l.request(addr(n), radios(&["b"]), None).unwrap())
            .collect();
        drop(busy);
        let mut served_others = 0;
        let mut next = 14;
        loop {
            if let Ok(grant) = gx.try_recv() {
                assert_eq!(grant.lease.radio(), &RadioId::new("b"));
                break;
            }
            let (_ticket, mut receiver) = queue.pop_front().expect("someone was granted b");
            let grant = receiver
                .try_recv()
                .expect("b serves the b-only queue meanwhile");
            served_others += 1;
            assert!(
                served_others <= bound,
                "{order:?}: passed over {served_others} times"
            );
            queue.push_back(l.request(addr(next), radios(&["b"]), None).unwrap());
            next += 1;
            drop(grant);
        }
        assert_eq!(
            served_others, bound,
            "{order:?}: the balance did pass it over"
        );
    }
}

#[test]
fn a_grant_nobody_receives_is_handed_to_the_next_waiter() {
    let l = ledger(&[("p1", 1)]);
    let busy = l.try_lease(&RadioId::new("p1"), addr(9)).unwrap();
    let (_t1, g1) = l.request(addr(1), radios(&["p1"]), None).unwrap();
    let (_t2, mut g2) = l.request(addr(2), radios(&["p1"]), None).unwrap();
    drop(g1); // device 1's waiter is gone, its ticket not yet dropped
    drop(busy);
    assert!(g2.try_recv().is_ok());
    assert_eq!(l.holder(&addr(1)), None);
}

#[test]
fn a_retrying_device_keeps_its_place_in_line() {
    let l = ledger(&[("p1", 1)]);
    let busy = l.try_lease(&RadioId::new("p1"), addr(9)).unwrap();
    let (t1, g1) = l.request(addr(1), radios(&["p1"]), None).unwrap();
    let place = t1.place();
    drop((t1, g1)); // backing off after a failure
    let (_t2, mut g2) = l.request(addr(2), radios(&["p1"]), None).unwrap();
    let (_t1, mut g1) = l.request(addr(1), radios(&["p1"]), Some(place)).unwrap();
    drop(busy);
    let first = g1.try_recv().expect("device 1 asked first");
    assert!(g2.try_recv().is_err());
    drop(first);
}

#[test]
fn a_device_holding_a_slot_cannot_queue_for_another() {
    let l = ledger(&[("p1", 2)]);
    let _held = l.try_lease(&RadioId::new("p1"), addr(1)).unwrap();
    assert!(matches!(
        l.request(addr(1), radios(&["p1"]), None),
        Err(LeaseRefused::AlreadyHeld { .. })
    ));
}

#[test]
fn a_radio_coming_up_or_reporting_free_slots_grants_waiters() {
    let l = SlotLedger::new();
    let p1 = RadioId::new("p1");
    l.add_radio(&p1, 1);
    let (_t, mut g) = l.request(addr(1), radios(&["p1"]), None).unwrap();
    assert!(g.try_recv().is_err(), "down");
    l.set_up(&p1, true);
    let report_full = SlotReport {
        free: 0,
        limit: 1,
        allocated: vec![],
    };
    drop(g.try_recv().unwrap());
    let (_t, mut g) = l.request(addr(1), radios(&["p1"]), None).unwrap();
    let first = g.try_recv().unwrap();
    drop(first.turn);
    drop(first.lease);
    l.reconcile(&p1, &report_full);
    let (_t2, mut g2) = l.request(addr(2), radios(&["p1"]), None).unwrap();
    assert!(g2.try_recv().is_err(), "another client holds the only slot");
    let report_free = SlotReport {
        free: 1,
        limit: 1,
        allocated: vec![],
    };
    l.reconcile(&p1, &report_free);
    assert!(g2.try_recv().is_ok());
}

#[test]
fn a_stale_lease_cannot_release_a_newer_one() {
    let l = ledger(&[("p1", 2)]);
    let p1 = RadioId::new("p1");
    let first = l.try_lease(&p1, addr(1)).unwrap();
    let first_id = first.id;
    drop(first);
    let _second = l.try_lease(&p1, addr(1)).unwrap();
    l.release(&p1, addr(1), first_id);
    assert_eq!(l.holder(&addr(1)), Some(p1));
}

#[test]
fn leases_release_during_unwinding() {
    let l = ledger(&[("p1", 1)]);
    let p1 = RadioId::new("p1");
    let cloned = l.clone();
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || {
        let _lease = cloned.try_lease(&RadioId::new("p1"), addr(1)).unwrap();
        panic!("holder crashed");
    }));
    assert!(result.is_err());
    assert_eq!(l.free(&p1), 1);
}

/// Random operations on a ledger (tickets arriving, widening and leaving; turns and leases
/// ending; radios going up and down; radios reporting foreign slots), with the scheduling rules
/// checked after each one:
/// - a device still queueing holds no slot;
/// - the fairness bound of the balance (`balance.rs`): no ticket is passed over by a younger
///   one on a radio it accepts more than `2 × MAX_OVERTAKES` times, nor on its best radio once
///   passed over `MAX_OVERTAKES` times (the test counts the overtakes itself); and only granted
///   tickets' receivers hear anything (no broadcast);
/// - nothing waits while one of its radios could grant it (up, free slot, no connect running);
/// - at most one connect turn per radio, and held slots within the limit.
#[test]
fn random_operations_keep_the_fairness_bound_and_grant_at_the_head_of_each_radio() {
    use rand::{Rng, SeedableRng};
    use std::collections::BTreeMap;

    let names = ["a", "b", "c"];
    for seed in 0..200u64 {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
        let l = SlotLedger::new();
        for (n, name) in names.iter().enumerate() {
            l.add_radio(&RadioId::new(name), n + 1);
            l.set_up(&RadioId::new(name), true);
        }
        // Per device: waiting (ticket, receiver) or holding (lease, turn if still connecting).
        let mut waiting: BTreeMap<u8, (SlotTicket, oneshot::Receiver<Grant>)> = BTreeMap::new();
        let mut holding: BTreeMap<u8, (SlotLease, Option<ConnectTurn>)> = BTreeMap::new();
        // Per waiting ticket number: times a younger ticket was granted a radio it accepts.
        let mut overtaken: BTreeMap<u64, u32> = BTreeMap::new();
        for step in 0..300 {
            let device = rng.gen_range(1..=8u8);
            match rng.gen_range(0..8) {
                0 | 1 if !waiting.contains_key(&device) && !holding.contains_key(&device) => {
                    let mut wanted: Vec<RadioId> = names
                        .iter()
                        .filter(|_| rng.gen_bool(0.6))
                        .map(RadioId::new)
                        .collect();
                    if wanted.is_empty() {
                        wanted.push(RadioId::new(names[rng.gen_range(0..3)]));
                    }
                    let ticket = l.request(addr(device), wanted, None).unwrap();
                    waiting.insert(device, ticket);
                }
                2 => {
                    waiting.remove(&device);
                }
                3 => {
                    if let Some((_, turn)) = holding.get_mut(&device) {
                        if let Some(turn) = turn.take() {
                            drop(turn);
                        } else {
                            holding.remove(&device);
                        }
                    }
                }
                4 => {
                    if let Some((ticket, _)) = waiting.get(&device) {
                        let mut wanted = ticket.radios();
                        let extra = RadioId::new(names[rng.gen_range(0..3)]);
                        if !wanted.contains(&extra) {
                            wanted.push(extra);
                        }
                        ticket.set_radios(wanted);
                    }
                }
                5 => {
                    let radio = RadioId::new(names[rng.gen_range(0..3)]);
                    l.set_up(&radio, !l.is_up(&radio));
                }
                6 => {
                    let radio = RadioId::new(names[rng.gen_range(0..3)]);
                    let limit = l.usage().iter().find(|u| u.radio == radio).unwrap().limit;
                    let report = SlotReport {
                        free: rng.gen_range(0..=limit),
                        limit,
                        allocated: vec![],
                    };
                    l.reconcile(&radio, &report);
                }
                _ => {}
            }
            // Collect the grants this step made; every other receiver must still be empty.
            let mut granted = Vec::new();
            for (&device, (_, receiver)) in waiting.iter_mut() {
                match receiver.try_recv() {
                    Ok(grant) => granted.push((device, grant)),
                    Err(oneshot::error::TryRecvError::Empty) => {}
                    Err(closed) => panic!("seed {seed} step {step}: {closed:?}"),
                }
            }
            let usage = l.usage();
            for (device, grant) in granted {
                let (ticket, _) = waiting.remove(&device).unwrap();
                let radio = grant.lease.radio().clone();
                for (other, (older, _)) in &waiting {
                    let up: Vec<RadioId> =
                        older.radios().into_iter().filter(|r| l.is_up(r)).collect();
                    if older.number() > ticket.number() || !up.contains(&radio) {
                        continue;
                    }
                    let count = overtaken.entry(older.number()).or_default();
                    let bound = if up.first() == Some(&radio) {
                        balance::MAX_OVERTAKES
                    } else {
                        2 * balance::MAX_OVERTAKES
                    };
                    assert!(
                        *count < bound,
                        "seed {seed} step {step}: device {device} overtook device {other} on {radio} although it was overdue ({count} overtakes)"
                    );
                    *count += 1;
                }
                overtaken.remove(&ticket.number());
                holding.insert(device, (grant.lease, Some(grant.turn)));
            }
            for (device, (ticket, _)) in &waiting {
                assert_eq!(
                    l.holder(&addr(*device)),
                    None,
                    "seed {seed} step {step}: a queueing device holds a slot"
                );
                for radio in ticket.radios() {
                    let u = usage.iter().find(|u| u.radio == radio).unwrap();
                    assert!(
                        !(u.up && u.free > 0 && u.connecting.is_none()),
                        "seed {seed} step {step}: device {device} waits although {radio} could grant it"
                    );
                }
            }
            for u in &usage {
                let turns = holding
                    .values()
                    .filter(|(lease, turn)| turn.is_some() && lease.radio() == &u.radio)
                    .count();
                assert!(
                    turns <= 1,
                    "seed {seed} step {step}: two connect turns on {}",
                    u.radio
                );
                assert_eq!(
                    u.connecting.is_some(),
                    turns == 1,
                    "seed {seed} step {step}"
                );
                assert!(u.held_by.len() <= u.limit, "seed {seed} step {step}");
            }
        }
    }
}

#[test]
fn a_removed_radio_leaves_the_usage_and_a_lease_outliving_it_still_releases() {
    let l = ledger(&[("p1", 2), ("p2", 2)]);
    let (p1, p2) = (RadioId::new("p1"), RadioId::new("p2"));
    let lease = l.try_lease(&p1, addr(1)).unwrap();
    l.remove_radio(&p1);
    let rows: Vec<RadioId> = l.usage().into_iter().map(|u| u.radio).collect();
    assert_eq!(rows, vec![p2.clone()]);
    assert!(!l.is_up(&p1));
    // The device still holds its slot until the lease goes, then may lease elsewhere.
    assert_eq!(l.holder(&addr(1)), Some(p1.clone()));
    drop(lease);
    assert_eq!(l.total_held(), 0);
    let _elsewhere = l.try_lease(&p2, addr(1)).unwrap();
    // Re-added under the same name, the radio starts empty.
    l.add_radio(&p1, 2);
    l.set_up(&p1, true);
    assert_eq!(l.free(&p1), 2);
}

/// Connects `device` through `p1` in `took` (virtual time): granted at once, the turn ended as
/// a success or a failure, the lease given back.
async fn connect_once(l: &SlotLedger, device: Address, took: Duration, connected: bool) {
    let (_ticket, mut granted) = l.request(device, radios(&["p1"]), None).unwrap();
    let grant = granted.try_recv().expect("the radio is free");
    tokio::time::advance(took).await;
    if connected {
        grant.turn.end_connected();
    } else {
        drop(grant.turn);
    }
}

#[tokio::test(start_paused = true)]
async fn among_equals_the_slowest_to_connect_last_time_goes_first() {
    let l = ledger(&[("p1", 1)]);
    let ms = Duration::from_millis;
    // Learned: 1 and 3 quick (100 ms), 2 slow (400 ms); 4 only failed (a 5 s timeout teaches
    // nothing: it counts as average).
    connect_once(&l, addr(1), ms(100), true).await;
    connect_once(&l, addr(2), ms(400), true).await;
    connect_once(&l, addr(3), ms(100), true).await;
    connect_once(&l, addr(4), ms(5000), false).await;
    let (_holder, mut holding) = l.request(addr(9), radios(&["p1"]), None).unwrap();
    let holding = holding.try_recv().unwrap();
    let mut queue: Vec<_> = [1, 3, 4, 2]
        .into_iter()
        .map(|n| (n, l.request(addr(n), radios(&["p1"]), None).unwrap()))
        .collect();
    drop(holding);
    let mut served = Vec::new();
    for _ in 0..4 {
        let (n, grant) = queue
            .iter_mut()
            .find_map(|(n, (_, granted))| granted.try_recv().ok().map(|g| (*n, g)))
            .expect("one waiter granted");
        served.push(n);
        drop(grant);
    }
    assert_eq!(
        served,
        [2, 4, 1, 3],
        "slowest first, unknown as average, then FIFO"
    );
    // Released devices are forgotten: 2 is average again, behind the older 4.
    l.forget_device(&addr(2));
    let (_holder, mut holding) = l.request(addr(9), radios(&["p1"]), None).unwrap();
    let holding = holding.try_recv().unwrap();
    let (_t4, mut g4) = l.request(addr(4), radios(&["p1"]), None).unwrap();
    let (_t2, mut g2) = l.request(addr(2), radios(&["p1"]), None).unwrap();
    drop(holding);
    let (four, two) = (g4.try_recv(), g2.try_recv());
    assert!(four.is_ok() && two.is_err(), "{four:?} {two:?}");
}

/// A one-slot `p1` that learned device 1 as quick (100 ms) and 2 as slow (900 ms), and the
/// grant of device 9 holding it now (dropping it frees the radio).
async fn quick_one_slow_two_and_the_radio_held() -> (SlotLedger, Grant) {
    let l = ledger(&[("p1", 1)]);
    connect_once(&l, addr(1), Duration::from_millis(100), true).await;
    connect_once(&l, addr(2), Duration::from_millis(900), true).await;
    let (_ticket, mut holding) = l.request(addr(9), radios(&["p1"]), None).unwrap();
    let holding = holding.try_recv().unwrap();
    (l, holding)
}

/// Slowest first holds among devices that queued together only: a slow device that queued a
/// while after a quick one does not go before it (a starved radio still takes turns, bug 15).
#[tokio::test(start_paused = true)]
async fn a_slow_device_that_queued_later_does_not_go_before_one_waiting_longer() {
    let (l, holding) = quick_one_slow_two_and_the_radio_held().await;
    let (_t1, mut g1) = l.request(addr(1), radios(&["p1"]), None).unwrap();
    tokio::time::advance(balance::TOGETHER + Duration::from_millis(1)).await;
    let (_t2, mut g2) = l.request(addr(2), radios(&["p1"]), None).unwrap();
    drop(holding);
    let (quick, slow) = (g1.try_recv(), g2.try_recv());
    assert!(quick.is_ok() && slow.is_err(), "{quick:?} {slow:?}");
}

/// A device that leaves the line to retry keeps the time it first queued with its place: a
/// slow device that queued after it does not go first, though the quick one rejoined later.
#[tokio::test(start_paused = true)]
async fn a_kept_place_keeps_its_queue_time_against_slower_later_devices() {
    let (l, holding) = quick_one_slow_two_and_the_radio_held().await;
    let (t1, g1) = l.request(addr(1), radios(&["p1"]), None).unwrap();
    let place = t1.place();
    drop((t1, g1)); // backing off after a failure
    tokio::time::advance(balance::TOGETHER + Duration::from_millis(500)).await;
    let (_t2, mut g2) = l.request(addr(2), radios(&["p1"]), None).unwrap();
    let (_t1, mut g1) = l.request(addr(1), radios(&["p1"]), Some(place)).unwrap();
    drop(holding);
    let (quick, slow) = (g1.try_recv(), g2.try_recv());
    assert!(quick.is_ok() && slow.is_err(), "{quick:?} {slow:?}");
}
