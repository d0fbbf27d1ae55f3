//! The claim protocol event by event: hubs of [`Cluster`] cores around a small in-order broker
//! (retained messages, delivery in publish order, retained copies on subscribe), time moved by
//! hand in 100 ms steps, and after every step the check that no two hubs hold one device.

#[path = "test_net.rs"]
mod net;

use std::collections::BTreeSet;

use super::*;
use crate::mqtt::cluster::wire::ClusterTopics;
use net::{device, offer, three_hubs, timings, Hub, Net};

#[test]
fn the_best_free_radio_claims_after_gathering_and_connects_after_settling() {
    let mut net = three_hubs();
    let took = net.until_held(Duration::from_secs(10));
    assert_eq!(net.holder().as_deref(), Some("cellar"));
    // gather (3 s) then settle (1.5 s), in 100 ms steps.
    assert!(took >= Duration::from_millis(4500), "{took:?}");
    assert!(took <= Duration::from_millis(4800), "{took:?}");
    let claim = net.claim();
    assert_eq!((claim.hub.as_str(), claim.epoch), ("cellar", 1));
    assert_eq!(claim.state, ClaimState::Held);
    // Renewals keep it for good; nobody else ever connects.
    net.run(Duration::from_secs(60));
    assert_eq!(net.holder().as_deref(), Some("cellar"));
    assert_eq!(net.log.len(), 1, "{:?}", net.log);
    assert_eq!(net.claim().epoch, 1);
    assert_eq!(
        net.hubs[0].core.route(&device(), net.now),
        Route::Holder("cellar".into())
    );
    assert_eq!(net.hubs[1].core.route(&device(), net.now), Route::Here);
}

#[test]
fn a_full_radio_does_not_claim_and_equal_rssi_goes_to_the_first_name() {
    let mut net = Net::new(&["attic", "cellar", "garage"]);
    net.offer(0, offer(-60, true));
    net.offer(1, offer(-50, false));
    net.offer(2, offer(-60, true));
    for hub in 0..3 {
        net.connect(hub);
    }
    net.until_held(Duration::from_secs(10));
    assert_eq!(net.holder().as_deref(), Some("attic"));
}

#[test]
fn nobody_claims_what_no_free_radio_hears() {
    let mut net = Net::new(&["attic", "cellar"]);
    net.offer(0, None);
    net.offer(1, offer(-50, false));
    net.connect(0);
    net.connect(1);
    net.run(Duration::from_secs(20));
    assert_eq!(net.holder(), None);
    assert_eq!(net.hubs[0].core.route(&device(), net.now), Route::Nobody);
    // A slot frees up: it is claimed from then on.
    net.offer(1, offer(-50, true));
    net.until_held(Duration::from_secs(10));
    assert_eq!(net.holder().as_deref(), Some("cellar"));
}

#[test]
fn a_killed_holder_is_replaced_by_the_next_best_within_lease_and_settle() {
    let mut net = three_hubs();
    net.until_held(Duration::from_secs(10));
    net.run(Duration::from_millis(1300));
    net.kill(1);
    let took = net.until_held(Duration::from_secs(12));
    assert_eq!(net.holder().as_deref(), Some("garage"));
    // At most a lease after the last renewal heard, then the claim's echo and settle.
    assert!(took <= Duration::from_millis(7600), "{took:?}");
    assert!(took >= Duration::from_millis(1500), "{took:?}");
    assert_eq!(net.claim().epoch, 2);
}

#[test]
fn a_holder_cut_from_the_broker_drops_before_anyone_else_connects() {
    let mut net = three_hubs();
    net.until_held(Duration::from_secs(10));
    net.run(Duration::from_millis(700));
    // Cut: cellar runs on but hears nothing and reaches nobody; the broker's will follows.
    net.hubs[1].online = false;
    net.hubs[1].core.disconnected();
    let cut_at = net.now;
    net.run(Duration::from_secs(12));
    let dropped = net
        .log
        .iter()
        .find(|(_, hub, _, up)| hub == "cellar" && !up)
        .map(|(t, ..)| *t)
        .expect("cellar dropped it");
    let taken = net
        .log
        .iter()
        .find(|(_, hub, _, up)| hub != "cellar" && *up)
        .map(|(t, ..)| *t)
        .expect("another hub took it");
    assert!(
        dropped - cut_at <= Duration::from_millis(4600),
        "{:?}",
        dropped - cut_at
    );
    assert!(
        taken > dropped,
        "taken {taken:?} before dropped {dropped:?}"
    );
    // Fencing leaves at least the settle time between the two.
    assert!(
        taken - dropped >= Duration::from_millis(1500),
        "{:?}",
        taken - dropped
    );
    assert_eq!(net.holder().as_deref(), Some("garage"));
    // Back on the broker, cellar does not take it back: garage's claim holds.
    net.connect(1);
    net.run(Duration::from_secs(20));
    assert_eq!(net.holder().as_deref(), Some("garage"));
}

#[test]
fn a_clean_stop_releases_at_once() {
    let mut net = three_hubs();
    net.until_held(Duration::from_secs(10));
    net.run(Duration::from_secs(1));
    assert_eq!(net.hubs[1].core.leaving(), vec![device()]);
    net.hubs[1].connected.clear();
    let farewell = net.hubs[1].core.farewell();
    assert_eq!(farewell.len(), 2, "{farewell:?}");
    net.queue.extend(farewell.into_iter().map(|m| (1, m)));
    net.flush();
    net.hubs[1].online = false;
    net.hubs[1].alive = false;
    let took = net.until_held(Duration::from_secs(5));
    // No lease to wait for: only the claim's round trip and settle.
    assert!(took <= Duration::from_millis(1700), "{took:?}");
    assert_eq!(net.holder().as_deref(), Some("garage"));
}

#[test]
fn two_hubs_claiming_at_once_agree_on_one_and_only_it_connects() {
    // Neither hears the other's offer (each sees itself best): both claim epoch 1 together.
    let mut net = Net::new(&["attic", "cellar"]);
    net.offer(0, offer(-60, true));
    net.offer(1, offer(-60, true));
    net.connect(0);
    net.connect(1);
    for hub in 0..2 {
        let now = net.now + timings().gather;
        let steps = net.hubs[hub].core.tick(now);
        assert!(
            steps
                .iter()
                .any(|s| matches!(s, Step::Publish(m) if m.topic.contains("/claims/"))),
            "{steps:?}"
        );
        net.apply(hub, steps);
    }
    // cellar's claim reaches the broker last, so it is the retained one, yet attic wins.
    net.queue
        .sort_by_key(|(hub, m)| (m.topic.contains("/claims/"), *hub == 1));
    net.flush();
    net.now += timings().gather;
    net.until_held(Duration::from_secs(5));
    assert_eq!(net.holder().as_deref(), Some("attic"));
    net.run(Duration::from_secs(20));
    assert_eq!(net.log.len(), 1, "{:?}", net.log);
    // attic put its claim back as the retained one.
    assert_eq!(net.claim().hub, "attic");
}

#[test]
fn a_restarted_hub_releases_its_old_claim() {
    let mut net = three_hubs();
    net.until_held(Duration::from_secs(10));
    net.kill(1);
    // cellar comes back as a new process at once: it finds its own claim retained.
    let mut core = Cluster::new(
        ClusterTopics::new("bluefleet", "house", "cellar"),
        timings(),
        1,
    );
    core.manage(device());
    core.offer(&device(), offer(-55, true));
    net.hubs[1] = Hub {
        core,
        online: false,
        alive: true,
        connected: BTreeSet::new(),
        dropping: Vec::new(),
    };
    net.connect(1);
    net.step();
    assert_eq!(net.claim().state, ClaimState::Released);
    // It is still the best: it claims again (epoch 2) without waiting for the old lease.
    let took = net.until_held(Duration::from_secs(6));
    assert!(took <= Duration::from_millis(4700), "{took:?}");
    assert_eq!(net.holder().as_deref(), Some("cellar"));
    assert_eq!(net.claim().epoch, 2);
}

#[test]
fn junk_on_cluster_topics_is_ignored_and_other_topics_are_not_ours() {
    let mut net = three_hubs();
    net.until_held(Duration::from_secs(10));
    let claims = format!("bluefleet/cluster/house/claims/{}", device());
    for junk in [
        &b"\xff\xfe"[..],
        b"{}",
        b"[1,2]",
        b"{\"hub\":\"x\",\"epoch\":-1}",
    ] {
        net.deliver(0, &claims, junk, false);
        net.deliver(0, "bluefleet/cluster/house/offers/nonsense/x", junk, false);
    }
    net.run(Duration::from_secs(10));
    assert_eq!(net.holder().as_deref(), Some("cellar"));
    let other = Incoming {
        topic: "bluefleet/attic/commands/read".into(),
        ..Incoming::default()
    };
    assert_eq!(net.hubs[0].core.incoming(&other, net.now), None);
}

#[test]
fn a_stale_claim_written_over_the_live_one_is_put_right() {
    let mut net = three_hubs();
    net.until_held(Duration::from_secs(10));
    let claims = format!("bluefleet/cluster/house/claims/{}", device());
    let stale = encode(&ClaimPayload {
        hub: "zulu".into(),
        epoch: 1,
        lease_ms: 6000,
        state: ClaimState::Released,
    });
    net.retained.insert(claims.clone(), stale.clone());
    for hub in 0..3 {
        net.deliver(hub, &claims, &stale, false);
    }
    net.flush();
    assert_eq!(net.claim().hub, "cellar");
    assert_eq!(net.claim().state, ClaimState::Held);
    net.run(Duration::from_secs(10));
    assert_eq!(net.holder().as_deref(), Some("cellar"));
}

#[test]
fn a_hub_claims_no_more_devices_than_it_has_free_slots() {
    let other: Address = "A4:C1:38:00:00:02".parse().unwrap();
    let mut core = Cluster::new(
        ClusterTopics::new("bluefleet", "house", "attic"),
        timings(),
        1,
    );
    for address in [device(), other] {
        core.manage(address);
        core.offer(&address, offer(-60, true));
    }
    let start = Duration::from_secs(10);
    core.connected(start);
    core.set_capacity(1);
    let steps = core.tick(start + timings().gather);
    let claims: Vec<&Step> = steps
        .iter()
        .filter(|s| matches!(s, Step::Publish(m) if m.topic.contains("/claims/")))
        .collect();
    assert_eq!(claims.len(), 1, "{steps:?}");
    assert_eq!(core.claimed(), vec![device()]);
}

#[test]
fn a_holder_whose_radios_stop_hearing_the_device_lets_it_go_after_a_lease() {
    let mut net = three_hubs();
    net.until_held(Duration::from_secs(10));
    net.offer(1, None);
    net.run(Duration::from_secs(5));
    assert_eq!(
        net.holder().as_deref(),
        Some("cellar"),
        "not before a lease"
    );
    let took = net.until_held_by("garage", Duration::from_secs(6));
    // The rest of the lease, the release's round trip, then garage's claim and settle.
    assert!(took <= Duration::from_secs(3), "{took:?}");
    assert_eq!(net.claim().epoch, 2);
}
