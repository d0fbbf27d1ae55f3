//! The claim protocol event by event: hubs of [`Cluster`] cores around a small in-order broker
//! (retained messages, delivery in publish order, retained copies on subscribe), time moved by
//! hand in 100 ms steps, and after every step the check that no two hubs hold one device.

use super::*;
use crate::mqtt::cluster::wire::ClusterTopics;

const STEP: Duration = Duration::from_millis(100);

fn timings() -> Timings {
    // lease 6 s, renew 2 s: fence 4.5 s, settle 1.5 s, gather 3 s.
    Timings::new(Duration::from_secs(6), Duration::from_secs(2))
}

fn device() -> Address {
    "A4:C1:38:00:00:01".parse().unwrap()
}

fn offer(rssi: i16, free: bool) -> Option<OfferPayload> {
    Some(OfferPayload {
        rssi,
        radio: "hci0".into(),
        free,
    })
}

struct Hub {
    core: Cluster,
    /// On the broker.
    online: bool,
    /// The process runs (a killed hub neither ticks nor hears).
    alive: bool,
    /// Devices the fleet keeps connected.
    connected: BTreeSet<Address>,
    /// Drops the shell has not finished yet.
    dropping: Vec<Address>,
}

use std::collections::BTreeSet;

struct Net {
    now: Duration,
    hubs: Vec<Hub>,
    retained: BTreeMap<String, Vec<u8>>,
    queue: Vec<(usize, Message)>,
    /// (time, hub, device, up) of every connect and drop.
    log: Vec<(Duration, String, Address, bool)>,
}

impl Net {
    fn new(names: &[&str]) -> Self {
        let hubs = names
            .iter()
            .map(|name| {
                let mut core =
                    Cluster::new(ClusterTopics::new("bluefleet", "house", name), timings(), 1);
                core.manage(device());
                Hub {
                    core,
                    online: false,
                    alive: true,
                    connected: BTreeSet::new(),
                    dropping: Vec::new(),
                }
            })
            .collect();
        Self {
            now: Duration::from_secs(100),
            hubs,
            retained: BTreeMap::new(),
            queue: Vec::new(),
            log: Vec::new(),
        }
    }

    fn name(&self, hub: usize) -> String {
        self.hubs[hub].core.topics().hub().to_string()
    }

    fn connect(&mut self, hub: usize) {
        let now = self.now;
        self.hubs[hub].online = true;
        let actions = self.hubs[hub].core.connected(now);
        assert!(actions.iter().all(|a| matches!(a, Action::Subscribe(_))));
        let retained: Vec<(String, Vec<u8>)> = self
            .retained
            .iter()
            .map(|(t, p)| (t.clone(), p.clone()))
            .collect();
        for (topic, payload) in retained {
            self.deliver(hub, &topic, &payload, true);
        }
    }

    fn deliver(&mut self, hub: usize, topic: &str, payload: &[u8], retain: bool) {
        let incoming = Incoming {
            topic: topic.to_string(),
            payload: payload.to_vec(),
            retain,
            ..Incoming::default()
        };
        let now = self.now;
        if let Some(steps) = self.hubs[hub].core.incoming(&incoming, now) {
            self.apply(hub, steps);
        }
    }

    fn apply(&mut self, hub: usize, steps: Vec<Step>) {
        for step in steps {
            let name = self.name(hub);
            match step {
                Step::Publish(message) => {
                    if self.hubs[hub].online {
                        self.queue.push((hub, message));
                    }
                }
                Step::Connect(address) => {
                    self.hubs[hub].connected.insert(address);
                    self.log.push((self.now, name, address, true));
                }
                Step::Drop(address) => self.hubs[hub].dropping.push(address),
            }
        }
    }

    /// Delivers everything queued, in order, to every hub on the broker.
    fn flush(&mut self) {
        while !self.queue.is_empty() {
            let (from, message) = self.queue.remove(0);
            if !self.hubs[from].online {
                continue;
            }
            if message.retain {
                if message.payload.is_empty() {
                    self.retained.remove(&message.topic);
                } else {
                    self.retained
                        .insert(message.topic.clone(), message.payload.clone());
                }
            }
            for hub in 0..self.hubs.len() {
                if self.hubs[hub].online && self.hubs[hub].alive {
                    self.deliver(hub, &message.topic, &message.payload, false);
                }
            }
        }
    }

    /// One step of time: drops finish, every live hub ticks, the broker delivers.
    fn step(&mut self) {
        self.now += STEP;
        for hub in 0..self.hubs.len() {
            if !self.hubs[hub].alive {
                continue;
            }
            for address in std::mem::take(&mut self.hubs[hub].dropping) {
                self.hubs[hub].connected.remove(&address);
                let name = self.name(hub);
                self.log.push((self.now, name, address, false));
                let now = self.now;
                let steps = self.hubs[hub].core.dropped(&address, now);
                self.apply(hub, steps);
            }
            let now = self.now;
            let steps = self.hubs[hub].core.tick(now);
            self.apply(hub, steps);
        }
        self.flush();
        let holders = self
            .hubs
            .iter()
            .filter(|h| h.alive && h.connected.contains(&device()))
            .count();
        assert!(holders <= 1, "two hubs hold the device at {:?}", self.now);
    }

    fn run(&mut self, span: Duration) {
        let until = self.now + span;
        while self.now < until {
            self.step();
        }
    }

    fn offer(&mut self, hub: usize, offer: Option<OfferPayload>) {
        self.hubs[hub].core.offer(&device(), offer);
    }

    fn holder(&self) -> Option<String> {
        self.hubs
            .iter()
            .find(|h| h.alive && h.connected.contains(&device()))
            .map(|h| h.core.topics().hub().to_string())
    }

    /// Runs until some hub holds the device; how long that took.
    fn until_held(&mut self, limit: Duration) -> Duration {
        let start = self.now;
        while self.holder().is_none() {
            assert!(
                self.now < start + limit,
                "nobody connected within {limit:?}"
            );
            self.step();
        }
        self.now - start
    }

    fn kill(&mut self, hub: usize) {
        self.hubs[hub].alive = false;
        self.hubs[hub].online = false;
        self.hubs[hub].connected.clear();
        // The broker's last will for it.
        let topic = format!("bluefleet/{}/status", self.name(hub));
        for other in 0..self.hubs.len() {
            if self.hubs[other].online {
                self.deliver(other, &topic, b"offline", false);
            }
        }
    }

    fn claim(&self) -> ClaimPayload {
        let topic = format!("bluefleet/cluster/house/claims/{}", device());
        decode(&self.retained[&topic]).unwrap()
    }
}

fn three_hubs() -> Net {
    let mut net = Net::new(&["attic", "cellar", "garage"]);
    net.offer(0, offer(-70, true));
    net.offer(1, offer(-55, true));
    net.offer(2, offer(-62, true));
    for hub in 0..3 {
        net.connect(hub);
    }
    net
}

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
