//! The thin IO side of the cluster: reads this hub's offers off the fleet, gives the core the
//! time and the broker's messages, and turns its steps into publishes and connect/drop
//! decisions for the bridge's shell (which owns the fleet calls and the subscriptions).

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use super::config::ClusterConfig;
use super::core::{Cluster, Route, Step};
use super::wire::{decode, encode, ClusterTopics, ForwardPayload, OfferPayload};
use crate::config::decode::hex;
use crate::fleet::Fleet;
use crate::model::Address;
use crate::mqtt::commands::Command;
use crate::mqtt::config::MqttConfig;
use crate::mqtt::core::{Incoming, Message, ReplyTo};
use crate::mqtt::link::BrokerLink;

/// How often the claims are looked at (settle and fence are a quarter lease or more).
pub const TICK: Duration = Duration::from_millis(100);

/// What the shell must do to the fleet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Decision {
    /// The claim is ours: keep the device connected (and follow its values).
    Connect(Address),
    /// It is not (any more): stop following, disconnect, then call [`Membership::dropped`].
    Drop(Address),
}

/// What a message on the broker was for the cluster.
#[derive(Debug)]
pub enum Heard {
    /// Not a cluster topic: the bridge's.
    NotOurs,
    /// Taken in.
    Handled(Vec<Decision>),
    /// A command another hub forwarded to us, with where its answer goes.
    Forwarded(Box<Result<(Command, ReplyTo), (ReplyTo, Value)>>),
}

/// Where a command goes.
#[derive(Debug)]
pub enum Routed {
    /// Run it here.
    Here,
    /// Sent on to the hub that holds the device; it answers the asker.
    Forwarded,
    /// Answer the asker with this refusal.
    Refused(Value),
}

/// This hub in its cluster.
#[derive(Debug)]
pub struct Membership {
    core: Cluster,
    name: String,
    started: Instant,
    qos: u8,
    kept: BTreeSet<Address>,
}

impl Membership {
    /// Joins `cluster` as the hub of `mqtt`, for the kept-connected devices `kept`.
    pub fn new(cluster: &ClusterConfig, mqtt: &MqttConfig, kept: BTreeSet<Address>) -> Self {
        let topics = ClusterTopics::new(&mqtt.base_topic, &cluster.name, &mqtt.hub);
        let mut core = Cluster::new(topics, cluster.timings(mqtt.keepalive), mqtt.qos);
        for address in &kept {
            core.manage(*address);
        }
        Self {
            core,
            name: cluster.name.clone(),
            started: Instant::now(),
            qos: mqtt.qos,
            kept,
        }
    }

    /// Whether the cluster decides who connects `address`.
    pub fn decides(&self, address: &Address) -> bool {
        self.kept.contains(address)
    }

    fn now(&self) -> Duration {
        self.started.elapsed()
    }

    /// The broker (re)connected.
    pub fn connected(&mut self, link: &BrokerLink) {
        let now = self.now();
        self.core
            .connected(now)
            .into_iter()
            .for_each(|a| link.act(a));
    }

    /// The broker went away.
    pub fn disconnected(&mut self) {
        self.core.disconnected();
    }

    fn apply(&self, steps: Vec<Step>, link: &BrokerLink) -> Vec<Decision> {
        let mut decisions = Vec::new();
        for step in steps {
            match step {
                Step::Publish(message) => link.publish(message),
                Step::Connect(address) => {
                    tracing::info!("cluster {}: {address} is ours: connecting", self.name);
                    decisions.push(Decision::Connect(address));
                }
                Step::Drop(address) => {
                    tracing::warn!(
                        "cluster {}: {address} is not ours any more: dropping",
                        self.name
                    );
                    decisions.push(Decision::Drop(address));
                }
            }
        }
        decisions
    }

    /// Every [`TICK`]: this hub's offers from the fleet, then the core's steps.
    pub fn tick(&mut self, fleet: &Fleet, link: &BrokerLink) -> Vec<Decision> {
        let usage = fleet.slot_usage();
        // Claims not yet holding a slot will take one: a radio is free only beyond those.
        let pending: Vec<Address> = self
            .core
            .claimed()
            .into_iter()
            .filter(|a| !usage.iter().any(|u| u.held_by.contains(a)))
            .collect();
        for address in &self.kept {
            let holding = usage.iter().any(|u| u.held_by.contains(address));
            let others_pending = pending.iter().filter(|a| *a != address).count();
            let offer = fleet.heard_device(address).and_then(|heard| {
                heard
                    .radios
                    .iter()
                    .filter_map(|(radio, rssi)| {
                        let slots = usage.iter().find(|u| &u.radio == radio)?;
                        let rssi = rssi.map(|r| r.round() as i16)?;
                        slots
                            .up
                            .then_some((radio, rssi, holding || slots.free > others_pending))
                    })
                    .max_by_key(|(_, rssi, free)| (*free, *rssi))
                    .map(|(radio, rssi, free)| OfferPayload {
                        rssi,
                        radio: radio.to_string(),
                        free,
                    })
            });
            self.core.offer(address, offer);
        }
        let free: usize = usage.iter().filter(|u| u.up).map(|u| u.free).sum();
        self.core.set_capacity(free.saturating_sub(pending.len()));
        let now = self.now();
        let steps = self.core.tick(now);
        self.apply(steps, link)
    }

    /// The shell finished dropping `address`.
    pub fn dropped(&mut self, address: &Address, link: &BrokerLink) -> Vec<Decision> {
        let now = self.now();
        let steps = self.core.dropped(address, now);
        self.apply(steps, link)
    }

    /// A message from the broker.
    pub fn incoming(&mut self, message: &Incoming, link: &BrokerLink) -> Heard {
        let now = self.now();
        if let Some(steps) = self.core.incoming(message, now) {
            return Heard::Handled(self.apply(steps, link));
        }
        if self.core.topics().subject(&message.topic).is_none() {
            return Heard::NotOurs;
        }
        let Some(forward) = decode::<ForwardPayload>(&message.payload) else {
            tracing::warn!(
                "cluster {}: unreadable forwarded command ignored",
                self.name
            );
            return Heard::Handled(Vec::new());
        };
        let reply = ReplyTo {
            topic: forward.reply_topic.clone(),
            correlation: forward.correlation.as_deref().and_then(unhex),
            id: forward.id.clone(),
        };
        let payload = encode(&forward.command);
        let outcome = match crate::mqtt::commands::parse(&forward.verb, &payload) {
            Ok(command) => match self.core.route(&command.address(), now) {
                Route::Here => Ok((command, reply)),
                _ => Err((
                    reply,
                    refusal(format!(
                        "{} was forwarded here by {} but {} does not hold it (any more)",
                        command.address(),
                        forward.via,
                        self.core.topics().hub()
                    )),
                )),
            },
            Err(error) => Err((
                reply,
                json!({"ok": false, "error": {"field": error.field, "message": error.message}}),
            )),
        };
        Heard::Forwarded(Box::new(outcome))
    }

    /// Where `command` (arrived as `verb` with `payload`, answer to `reply`) runs; forwards it
    /// when another hub holds the device.
    pub fn route(
        &self,
        command: &Command,
        verb: &str,
        payload: &[u8],
        reply: &ReplyTo,
        link: &BrokerLink,
    ) -> Routed {
        let address = command.address();
        if matches!(command, Command::Release { .. }) {
            return Routed::Here;
        }
        if matches!(command, Command::KeepConnected { .. }) && self.decides(&address) {
            return Routed::Refused(
                json!({"ok": false, "error": {"field": "address", "message": format!(
                    "{address} is connected by whichever hub of cluster {} holds it; release it here to stop offering it",
                    self.name
                )}}),
            );
        }
        match self.core.route(&address, self.now()) {
            Route::Here => Routed::Here,
            Route::Holder(hub) => {
                let forward = ForwardPayload {
                    verb: verb.to_string(),
                    command: serde_json::from_slice(payload).unwrap_or(Value::Null),
                    reply_topic: reply.topic.clone(),
                    correlation: reply.correlation.as_deref().map(hex),
                    id: reply.id.clone(),
                    via: self.core.topics().hub().to_string(),
                };
                tracing::debug!("cluster {}: {verb} for {address} forwarded to {hub}", self.name);
                link.publish(Message::new(
                    self.core.topics().forward(&hub),
                    encode(&forward),
                    false,
                    self.qos,
                ));
                Routed::Forwarded
            }
            Route::Nobody => Routed::Refused(refusal(format!(
                "no hub of cluster {} holds {address} now (no free radio hears it, or a claim is being settled); try again",
                self.name
            ))),
        }
    }

    /// Stopping: the devices to disconnect before [`Membership::farewell`].
    pub fn leaving(&mut self) -> Vec<Address> {
        self.core.leaving()
    }

    /// Releases every claim and offer of ours (after the devices were disconnected).
    pub fn farewell(&mut self, link: &BrokerLink) {
        self.core
            .farewell()
            .into_iter()
            .for_each(|m| link.publish(m));
    }

    /// A release command let `address` go here (after the shell disconnected it).
    pub fn forget(&mut self, address: &Address, link: &BrokerLink) {
        self.kept.remove(address);
        self.core
            .unmanage(address)
            .into_iter()
            .for_each(|m| link.publish(m));
    }
}

fn refusal(message: String) -> Value {
    json!({"ok": false, "error": {"kind": "cluster", "message": message}})
}

fn unhex(text: &str) -> Option<Vec<u8>> {
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok())
        .collect()
}
