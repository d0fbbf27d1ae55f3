//! The test net of the claim protocol: [`Cluster`] cores of several hubs around a small broker
//! that keeps retained messages, delivers in publish order and hands retained copies to a new
//! subscriber; hubs that can be cut off or killed; and a log of every connect and drop.

use std::collections::{BTreeMap, BTreeSet};

use super::super::*;
use crate::mqtt::cluster::wire::ClusterTopics;

pub(super) const STEP: Duration = Duration::from_millis(100);

pub(super) fn timings() -> Timings {
    // lease 6 s, renew 2 s: fence 4.5 s, settle 1.5 s, gather 3 s.
    Timings::new(Duration::from_secs(6), Duration::from_secs(2))
}

pub(super) fn device() -> Address {
    "A4:C1:38:00:00:01".parse().unwrap()
}

pub(super) fn offer(rssi: i16, free: bool) -> Option<OfferPayload> {
    Some(OfferPayload {
        rssi,
        radio: "hci0".into(),
        free,
    })
}

pub(super) struct Hub {
    pub(super) core: Cluster,
    /// On the broker.
    pub(super) online: bool,
    /// The process runs (a killed hub neither ticks nor hears).
    pub(super) alive: bool,
    /// Devices the fleet keeps connected.
    pub(super) connected: BTreeSet<Address>,
    /// Drops the shell has not finished yet.
    pub(super) dropping: Vec<Address>,
}

pub(super) struct Net {
    pub(super) now: Duration,
    pub(super) hubs: Vec<Hub>,
    pub(super) retained: BTreeMap<String, Vec<u8>>,
    pub(super) queue: Vec<(usize, Message)>,
    /// (time, hub, device, up) of every connect and drop.
    pub(super) log: Vec<(Duration, String, Address, bool)>,
}

impl Net {
    pub(super) fn new(names: &[&str]) -> Self {
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

    pub(super) fn name(&self, hub: usize) -> String {
        self.hubs[hub].core.topics().hub().to_string()
    }

    pub(super) fn connect(&mut self, hub: usize) {
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

    pub(super) fn deliver(&mut self, hub: usize, topic: &str, payload: &[u8], retain: bool) {
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

    pub(super) fn apply(&mut self, hub: usize, steps: Vec<Step>) {
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
    pub(super) fn flush(&mut self) {
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
    pub(super) fn step(&mut self) {
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

    pub(super) fn run(&mut self, span: Duration) {
        let until = self.now + span;
        while self.now < until {
            self.step();
        }
    }

    pub(super) fn offer(&mut self, hub: usize, offer: Option<OfferPayload>) {
        self.hubs[hub].core.offer(&device(), offer);
    }

    pub(super) fn holder(&self) -> Option<String> {
        self.hubs
            .iter()
            .find(|h| h.alive && h.connected.contains(&device()))
            .map(|h| h.core.topics().hub().to_string())
    }

    /// Runs until some hub holds the device; how long that took.
    pub(super) fn until_held(&mut self, limit: Duration) -> Duration {
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

    /// Runs until `hub` holds the device; how long that took.
    pub(super) fn until_held_by(&mut self, hub: &str, limit: Duration) -> Duration {
        let start = self.now;
        while self.holder().as_deref() != Some(hub) {
            assert!(
                self.now < start + limit,
                "{hub} did not connect within {limit:?}"
            );
            self.step();
        }
        self.now - start
    }

    pub(super) fn kill(&mut self, hub: usize) {
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

    pub(super) fn claim(&self) -> ClaimPayload {
        let topic = format!("bluefleet/cluster/house/claims/{}", device());
        decode(&self.retained[&topic]).unwrap()
    }
}

pub(super) fn three_hubs() -> Net {
    let mut net = Net::new(&["attic", "cellar", "garage"]);
    net.offer(0, offer(-70, true));
    net.offer(1, offer(-55, true));
    net.offer(2, offer(-62, true));
    for hub in 0..3 {
        net.connect(hub);
    }
    net
}
