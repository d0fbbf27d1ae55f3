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
use super::radio_choice::ChoicePolicy;
use super::retry::RetryPolicy;
use super::state::{DeviceState, WaitReason};
use crate::adapter::slots::Place;
use crate::backend::{DisconnectCause, Failure, FailureSource, FailureStage};
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
    from_cache: bool,
}

impl LinkHandle for TestLink {
    fn mark_ended(&mut self) {
        self.ended.set(true);
    }

    fn uses_cached_table(&self) -> bool {
        self.from_cache
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
    /// The numbers of the last machine and idle timers armed.
    timer: u64,
    idle_timer: u64,
    /// Whether the links `connect` makes use the cached table.
    links_from_cache: bool,
    /// The place in line every `JoinQueue` gets (number 7).
    place: Place,
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
            idle_after: IDLE_AFTER,
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
            timer: 0,
            idle_timer: 0,
            links_from_cache: false,
            place: Place::numbered(7),
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
            match effect {
                Effect::JoinQueue { .. } => self.machine.hold_place(self.place),
                Effect::ArmTimer { number, .. } => self.timer = *number,
                Effect::ArmIdleTimer { number, .. } => self.idle_timer = *number,
                _ => {}
            }
        }
        effects
    }

    /// The last machine timer armed fires.
    fn fire_timer(&mut self) -> Vec<Effect> {
        self.feed(Event::Timer(self.timer))
    }

    /// The last idle timer armed fires.
    fn fire_idle_timer(&mut self) -> Vec<Effect> {
        self.feed(Event::IdleTimer(self.idle_timer))
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
            from_cache: self.links_from_cache,
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

/// How long the benches' on-demand links stay up unwanted.
const IDLE_AFTER: Duration = Duration::from_secs(30);

mod cache;
mod connect;
mod lifecycle;
mod retry;
