//! The sans-IO claim protocol: offers and claims in, publishes and connect/drop decisions out.
//!
//! [`Cluster`] never touches a socket, a clock or the fleet. The shell passes the time (since
//! any fixed origin), this hub's offers, broker (dis)connections and every message on the
//! cluster's topics; the core answers with [`Step`]s. So every rule below is unit-tested event
//! by event (core_tests.rs).
//!
//! The rules (docs/mqtt.md, "Several hubs"):
//! - Broker order is the one order every hub agrees on; a claim replaces the one a hub knows
//!   only with a higher epoch, or the same epoch from a hub whose name sorts first (so two
//!   hubs that claimed at once agree who won, whatever order they heard it in).
//! - A hub claims a device only when no live claim exists (none, released, or not renewed for
//!   a lease), it has listened for `gather` since it reached the broker, and its own offer is
//!   the best free one (RSSI, then hub name).
//! - It connects only after its claim came back from the broker and `settle` passed with no
//!   better claim.
//! - Fencing: a holder whose own claim has not come back for `fence` (3/4 lease) drops the
//!   device; every other hub waits a whole lease after the last renewal it heard, then
//!   `settle`, before connecting. Leases are measured on each hub's own clock from when it
//!   heard a message: no clocks are compared across hosts.

use std::collections::BTreeMap;
use std::time::Duration;

use super::config::Timings;
use super::view::{changed, update, DeviceView, Heard, Known, Mine};
use super::wire::{decode, encode, ClaimPayload, ClaimState, ClusterTopics, OfferPayload, Subject};
use crate::model::Address;
use crate::mqtt::core::{Action, Incoming, Message};

/// What the shell must do.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Step {
    /// Publish on the broker.
    Publish(Message),
    /// Keep this device connected: the claim is ours.
    Connect(Address),
    /// Disconnect it and stop keeping it connected; then call [`Cluster::dropped`].
    Drop(Address),
}

/// Where a command for a device should run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Route {
    /// Here: this hub holds it, or it is not a cluster device.
    Here,
    /// On the hub that holds it.
    Holder(String),
    /// Nowhere now: nobody holds it (yet).
    Nobody,
}

/// One hub's side of the cluster.
#[derive(Debug)]
pub struct Cluster {
    topics: ClusterTopics,
    timings: Timings,
    qos: u8,
    devices: BTreeMap<Address, DeviceView>,
    /// Claims of devices this hub does not manage, for routing commands.
    others: BTreeMap<Address, Known>,
    /// Since when the broker is up (`None` while it is away).
    broker_since: Option<Duration>,
    /// Stopping: claim nothing more.
    leaving: bool,
    /// How many more devices this hub can take now (free slots not spoken for).
    capacity: usize,
}

impl Cluster {
    /// Hub `hub` of the cluster whose topics are `topics`.
    pub fn new(topics: ClusterTopics, timings: Timings, qos: u8) -> Self {
        Self {
            topics,
            timings,
            qos,
            devices: BTreeMap::new(),
            others: BTreeMap::new(),
            broker_since: None,
            leaving: false,
            capacity: usize::MAX,
        }
    }

    /// The topics.
    pub fn topics(&self) -> &ClusterTopics {
        &self.topics
    }

    /// Takes part in the claims of `address`.
    pub fn manage(&mut self, address: Address) {
        self.devices.entry(address).or_insert_with(DeviceView::new);
        if let Some(known) = self.others.remove(&address) {
            self.devices
                .entry(address)
                .or_insert_with(DeviceView::new)
                .known = Some(known);
        }
    }

    /// The devices this hub has claimed or holds (each needs one of its slots).
    pub fn claimed(&self) -> Vec<Address> {
        self.devices
            .iter()
            .filter(|(_, view)| !matches!(view.mine, Mine::Idle))
            .map(|(address, _)| *address)
            .collect()
    }

    /// Whether `address` takes part.
    pub fn is_managed(&self, address: &Address) -> bool {
        self.devices.contains_key(address)
    }

    fn me(&self) -> &str {
        self.topics.hub()
    }

    fn message(&self, topic: String, payload: Vec<u8>, retain: bool) -> Message {
        Message::new(topic, payload, retain, self.qos)
    }

    fn claim_message(&self, address: &Address, epoch: u64, state: ClaimState) -> Message {
        let payload = ClaimPayload {
            hub: self.me().to_string(),
            epoch,
            lease_ms: self.timings.lease.as_millis() as u64,
            state,
        };
        self.message(self.topics.claim(address), encode(&payload), true)
    }

    /// The broker (re)connected at `now`: the subscriptions to make. Offers and renewals of
    /// what we hold are due at once, on the next [`Cluster::tick`].
    pub fn connected(&mut self, now: Duration) -> Vec<Action> {
        self.broker_since = Some(now);
        let due = now.saturating_sub(self.timings.renew);
        for view in self.devices.values_mut() {
            view.published_offer = None;
            if let Mine::Holding { renewed_at, .. } | Mine::Dropping { renewed_at, .. } =
                &mut view.mine
            {
                *renewed_at = due;
            }
        }
        self.topics
            .filters()
            .into_iter()
            .map(Action::Subscribe)
            .collect()
    }

    /// The broker went away: claims in flight are abandoned; what we hold stays until fenced.
    pub fn disconnected(&mut self) {
        self.broker_since = None;
        for view in self.devices.values_mut() {
            if matches!(view.mine, Mine::Claiming { .. } | Mine::Settling { .. }) {
                view.mine = Mine::Idle;
            }
        }
    }

    /// This hub's offer for `address` now (`None`: no radio of ours hears it).
    pub fn offer(&mut self, address: &Address, offer: Option<OfferPayload>) {
        if let Some(view) = self.devices.get_mut(address) {
            view.my_offer = offer;
        }
    }

    /// How many more devices this hub could connect now: its free slots, less those that
    /// claims of ours not yet connected will take. Each new claim uses one up.
    pub fn set_capacity(&mut self, free: usize) {
        self.capacity = free;
    }

    /// The shell finished disconnecting `address` after a [`Step::Drop`].
    pub fn dropped(&mut self, address: &Address, now: Duration) -> Vec<Step> {
        if let Some(view) = self.devices.get_mut(address) {
            if matches!(view.mine, Mine::Dropping { .. }) {
                view.mine = Mine::Idle;
            }
        }
        self.tick(now)
    }

    /// A message on one of the cluster's topics; `None` if it is not one (the bridge's, then).
    pub fn incoming(&mut self, message: &Incoming, now: Duration) -> Option<Vec<Step>> {
        match self.topics.subject(&message.topic)? {
            Subject::Offer(address, hub) => {
                if hub != self.me() {
                    if let Some(view) = self.devices.get_mut(&address) {
                        match decode::<OfferPayload>(&message.payload) {
                            Some(offer) => {
                                view.offers.insert(hub, Heard { offer, at: now });
                            }
                            None => {
                                view.offers.remove(&hub);
                            }
                        }
                    }
                }
                Some(Vec::new())
            }
            Subject::Status(hub) => {
                if hub != self.me() && message.payload != b"online" {
                    for view in self.devices.values_mut() {
                        view.offers.remove(&hub);
                    }
                }
                Some(Vec::new())
            }
            Subject::Claim(address) => Some(self.claim_heard(address, message, now)),
            // Forwarded commands are the shell's; it asks `route` before running one.
            Subject::Forward => None,
        }
    }

    fn claim_heard(&mut self, address: Address, message: &Incoming, now: Duration) -> Vec<Step> {
        let Some(claim) = decode::<ClaimPayload>(&message.payload) else {
            return Vec::new();
        };
        let me = self.me().to_string();
        let Some(view) = self.devices.get_mut(&address) else {
            let known = self.others.entry(address).or_insert(Known {
                hub: claim.hub.clone(),
                epoch: 0,
                released: true,
                heard_at: now,
            });
            update(known, &claim, now);
            return Vec::new();
        };
        let echo = claim.hub == me && !message.retain;
        match &mut view.known {
            Some(known) => update(known, &claim, now),
            None => {
                view.known = Some(Known {
                    hub: claim.hub.clone(),
                    epoch: claim.epoch,
                    released: claim.state == ClaimState::Released,
                    heard_at: now,
                })
            }
        }
        let ours = |known: &Option<Known>, epoch: u64| {
            known
                .as_ref()
                .is_some_and(|k| k.hub == me && k.epoch == epoch && !k.released)
        };
        match view.mine.clone() {
            Mine::Claiming { epoch, .. }
                if echo && claim.epoch == epoch && ours(&view.known, epoch) =>
            {
                view.mine = Mine::Settling {
                    epoch,
                    echo_at: now,
                    until: now + self.timings.settle,
                };
            }
            Mine::Settling { epoch, until, .. } if echo && claim.epoch == epoch => {
                view.mine = Mine::Settling {
                    epoch,
                    echo_at: now,
                    until,
                };
            }
            Mine::Holding {
                epoch, renewed_at, ..
            } if echo && claim.epoch == epoch => {
                view.mine = Mine::Holding {
                    epoch,
                    echo_at: now,
                    renewed_at,
                };
            }
            Mine::Dropping {
                epoch, renewed_at, ..
            } if echo && claim.epoch == epoch => {
                view.mine = Mine::Dropping {
                    epoch,
                    echo_at: now,
                    renewed_at,
                };
            }
            _ => {}
        }
        // A stale or losing claim overwrote ours as the retained one: put ours back at once,
        // so a hub that subscribes now reads the claim that holds.
        let held_epoch = match &view.mine {
            Mine::Settling { epoch, .. }
            | Mine::Holding { epoch, .. }
            | Mine::Dropping { epoch, .. } => Some(*epoch),
            _ => None,
        };
        let mut steps = Vec::new();
        if let Some(epoch) = held_epoch {
            if claim.hub != me && ours(&view.known, epoch) {
                steps.push(Step::Publish(self.claim_message(
                    &address,
                    epoch,
                    ClaimState::Held,
                )));
            }
        }
        steps.extend(self.settle_device(address, now));
        steps
    }

    /// The time passed: renewals, expiries, fences, claims, connections, offers.
    pub fn tick(&mut self, now: Duration) -> Vec<Step> {
        let addresses: Vec<Address> = self.devices.keys().copied().collect();
        addresses
            .into_iter()
            .flat_map(|address| self.settle_device(address, now))
            .collect()
    }

    /// Everything one device needs at `now`.
    fn settle_device(&mut self, address: Address, now: Duration) -> Vec<Step> {
        let me = self.me().to_string();
        let timings = self.timings;
        let broker_up = self.broker_since.is_some();
        let gathered = !self.leaving
            && self
                .broker_since
                .is_some_and(|since| now >= since + timings.gather);
        let best = self.best_offer(&address, now);
        let Some(view) = self.devices.get_mut(&address) else {
            return Vec::new();
        };
        view.unheard_since = match view.my_offer {
            Some(_) => None,
            None => Some(view.unheard_since.unwrap_or(now)),
        };
        let mut publish: Vec<(u64, ClaimState)> = Vec::new();
        let mut steps = Vec::new();
        let lost = |known: &Option<Known>, epoch: u64| {
            known
                .as_ref()
                .is_some_and(|k| k.hub != me || k.epoch != epoch || k.released)
        };
        match view.mine.clone() {
            Mine::Idle => {
                let live = view
                    .known
                    .as_ref()
                    .filter(|k| !k.released && now < k.heard_at + timings.lease);
                match live {
                    // Our own claim from before (a restart, or fenced while away): let it go.
                    Some(k) if k.hub == me && broker_up && view.released_epoch != Some(k.epoch) => {
                        view.released_epoch = Some(k.epoch);
                        publish.push((k.epoch, ClaimState::Released));
                    }
                    Some(_) => {}
                    None if gathered
                        && self.capacity > 0
                        && best.as_deref() == Some(me.as_str()) =>
                    {
                        self.capacity -= 1;
                        let epoch = view.known.as_ref().map_or(0, |k| k.epoch) + 1;
                        tracing::info!("cluster: claiming {address} (epoch {epoch})");
                        view.mine = Mine::Claiming {
                            epoch,
                            sent_at: now,
                        };
                        publish.push((epoch, ClaimState::Held));
                    }
                    None => {}
                }
            }
            Mine::Claiming { epoch, sent_at } => {
                let beaten = lost(&view.known, epoch)
                    && view.known.as_ref().is_some_and(|k| k.epoch >= epoch);
                // Not heard back within `settle`: give up (an echo arriving later makes it an
                // orphan of ours, released by the Idle rule).
                if beaten || now >= sent_at + timings.settle {
                    view.mine = Mine::Idle;
                }
            }
            Mine::Settling {
                epoch,
                echo_at,
                until,
            } => {
                if lost(&view.known, epoch) || now >= echo_at + timings.fence {
                    view.mine = Mine::Idle;
                } else if now >= until {
                    view.mine = Mine::Holding {
                        epoch,
                        echo_at,
                        renewed_at: now,
                    };
                    steps.push(Step::Connect(address));
                    publish.push((epoch, ClaimState::Held));
                }
            }
            Mine::Holding {
                epoch,
                echo_at,
                renewed_at,
            } => {
                // A radio of ours that stopped hearing it cannot keep it connected: let a hub
                // that hears it have it.
                let deaf = view.unheard_since.is_some_and(|t| now >= t + timings.lease);
                if lost(&view.known, epoch) || now >= echo_at + timings.fence || deaf {
                    view.mine = Mine::Dropping {
                        epoch,
                        echo_at,
                        renewed_at,
                    };
                    steps.push(Step::Drop(address));
                } else if broker_up && now >= renewed_at + timings.renew {
                    view.mine = Mine::Holding {
                        epoch,
                        echo_at,
                        renewed_at: now,
                    };
                    publish.push((epoch, ClaimState::Held));
                }
            }
            Mine::Dropping {
                epoch,
                echo_at,
                renewed_at,
            } => {
                if broker_up && !lost(&view.known, epoch) && now >= renewed_at + timings.renew {
                    view.mine = Mine::Dropping {
                        epoch,
                        echo_at,
                        renewed_at: now,
                    };
                    publish.push((epoch, ClaimState::Held));
                }
            }
        }
        // The offer: published when it changed, and refreshed every renewal.
        let due = match &view.published_offer {
            None => true,
            Some((published, at)) => {
                changed(published.as_ref(), view.my_offer.as_ref())
                    || (view.my_offer.is_some() && now >= *at + timings.renew)
            }
        };
        let offer = (broker_up && due).then(|| {
            view.published_offer = Some((view.my_offer.clone(), now));
            view.my_offer.as_ref().map(encode).unwrap_or_default()
        });
        if let Some(payload) = offer {
            let topic = self.topics.offer(&address, &me);
            steps.push(Step::Publish(self.message(topic, payload, true)));
        }
        if broker_up {
            for (epoch, state) in publish {
                steps.push(Step::Publish(self.claim_message(&address, epoch, state)));
            }
        }
        steps
    }

    /// The hub with the best fresh free offer for `address` (ours included).
    fn best_offer(&self, address: &Address, now: Duration) -> Option<String> {
        let view = self.devices.get(address)?;
        let rivals = view
            .offers
            .iter()
            .filter(|(_, heard)| now < heard.at + self.timings.lease)
            .map(|(hub, heard)| (hub.as_str(), &heard.offer));
        let mine = view.my_offer.as_ref().map(|offer| (self.me(), offer));
        rivals
            .chain(mine)
            .filter(|(_, offer)| offer.free)
            .max_by(|(hub_a, a), (hub_b, b)| a.rssi.cmp(&b.rssi).then(hub_b.cmp(hub_a)))
            .map(|(hub, _)| hub.to_string())
    }
}

#[path = "handover.rs"]
mod handover;

#[cfg(test)]
#[path = "core_tests.rs"]
mod tests;
