//! The Supervisor: the one actor that knows every radio and every managed device.
//!
//! It registers radios (starting an adapter actor for each), routes advertisements (every one
//! updates the shared latest-advert view and the advert feed; only devices the user manages get
//! a device actor and a copy — a passer-by costs a map entry, not an actor), creates device
//! actors on demand, and restarts adapter and device actors that stop unexpectedly. A restarted
//! device actor gets back its wish (keep connected), its subscribers and its machine's memory
//! (backoff, penalties, radio waits), which the Supervisor holds, so a crash costs a reconnect,
//! not a subscription, and never an early retry. Slots need no cleanup here: leases
//! were dropped with the actor.

pub(crate) mod advert_callbacks;
mod advert_routing;
pub mod diagnostics;
pub mod heard;
pub mod lifecycle;
pub mod messages;
pub(crate) mod radio_changes;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use actix::prelude::*;

use crate::adapter::{AdapterActor, AdapterActorStopped};
use crate::adverts::watch::CallbackWork;
use crate::adverts::AdvertEvent;
#[cfg(feature = "testing")]
use crate::device::messages::Crash;
use crate::device::messages::{SetAddressKind, SetKeepConnected};
use crate::device::subscribers::SubscriptionEvent;
use crate::device::{DeviceActor, DeviceActorStopped, SharedMemory, SharedSubscribers};
use crate::model::{Address, AddressKind, RadioId};
use crate::shared::{RadioEntry, Shared};
use diagnostics::{Diagnostics, RadioDiagnostics};
#[cfg(feature = "testing")]
use messages::CrashDevice;
use messages::{AddRadio, GetDiagnostics, KeepConnected, Manage};

/// How long to wait before restarting an adapter actor whose stream ended.
const ADAPTER_RESTART_DELAY: Duration = Duration::from_secs(1);

#[derive(Debug)]
struct ManagedDevice {
    actor: Addr<DeviceActor>,
    keep_connected: bool,
    /// The address kind the user gave, if any.
    kind: Option<AddressKind>,
    subscribers: SharedSubscribers,
    /// Backoff, penalties and radio waits, kept across an actor restart.
    memory: SharedMemory,
}

/// The Supervisor actor.
#[derive(Debug)]
pub struct Supervisor {
    shared: Arc<Shared>,
    adapters: BTreeMap<RadioId, Addr<AdapterActor>>,
    devices: BTreeMap<Address, ManagedDevice>,
    /// Reused between batches so ingesting allocates nothing for events.
    event_buffer: Vec<AdvertEvent>,
    /// Reused between batches: advert callbacks' deliveries and the callbacks lent for them.
    callback_work: CallbackWork,
    stopping: bool,
}

impl Supervisor {
    /// A supervisor over `shared`.
    pub(crate) fn new(shared: Arc<Shared>) -> Self {
        Self {
            shared,
            adapters: BTreeMap::new(),
            devices: BTreeMap::new(),
            event_buffer: Vec::new(),
            callback_work: CallbackWork::default(),
            stopping: false,
        }
    }

    fn start_adapter(&mut self, entry: Arc<RadioEntry>, ctx: &mut Context<Self>) {
        let me = ctx.address();
        let actor = AdapterActor::new(
            entry.clone(),
            Arc::clone(&self.shared),
            me.clone().recipient(),
            me.recipient(),
        );
        self.adapters.insert(entry.id.clone(), actor.start());
    }

    fn start_device(
        &self,
        address: Address,
        keep: bool,
        kind: Option<AddressKind>,
        subscribers: SharedSubscribers,
        memory: SharedMemory,
        ctx: &mut Context<Self>,
    ) -> Addr<DeviceActor> {
        let mut actor = DeviceActor::new(
            address,
            Arc::clone(&self.shared),
            keep,
            subscribers,
            memory,
            ctx.address().recipient(),
        );
        // What every radio already heard of it, so the first choice is not blind.
        let pipeline = self.shared.pipeline();
        for heard in pipeline.radios_heard(&address) {
            actor.seed_sighting(heard.radio, heard.smoothed_rssi_dbm, heard.last_seen);
        }
        // Its address kind and connectability, as its merged advertisement says (bug 1: a
        // random-address device heard before it was managed connected as public).
        if let Some(view) = pipeline.device(&address) {
            actor.seed_advertised(view.address_kind(), view.connectable());
        }
        drop(pipeline);
        actor.set_address_kind(kind);
        actor.start()
    }

    /// Sends pipeline events to whoever listens.
    fn publish_events(&mut self, events: &mut Vec<AdvertEvent>) {
        let listening = self.shared.advert_events.receiver_count() > 0;
        for event in events.drain(..) {
            if listening {
                let _ = self.shared.advert_events.send(event);
            }
        }
    }
}

/// How often the pipeline checks for devices that went quiet.
const AVAILABILITY_TICK: Duration = Duration::from_secs(1);

impl Actor for Supervisor {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        ctx.run_interval(AVAILABILITY_TICK, |act, _| {
            let mut events = std::mem::take(&mut act.event_buffer);
            act.shared
                .pipeline()
                .tick(tokio::time::Instant::now(), &mut events);
            act.shared.watchers().prune();
            act.publish_events(&mut events);
            act.event_buffer = events;
        });
    }
}

impl Handler<AddRadio> for Supervisor {
    type Result = crate::Result<()>;

    fn handle(&mut self, AddRadio(radio): AddRadio, ctx: &mut Self::Context) -> Self::Result {
        let radio = match self.shared.config.radio_watchdog {
            Some(quiet_after) => crate::watchdog::watch(radio, quiet_after),
            None => radio,
        };
        let id = radio.id();
        if self.shared.radios.contains_key(&id) {
            return Err(crate::Error::config(
                format!("radio '{id}'"),
                "a radio with this name is already registered",
            ));
        }
        let entry = self.shared.register_radio(radio);
        self.start_adapter(entry, ctx);
        Ok(())
    }
}

impl Handler<Manage> for Supervisor {
    type Result = Result<Addr<DeviceActor>, crate::Error>;

    fn handle(&mut self, msg: Manage, ctx: &mut Self::Context) -> Self::Result {
        if self.stopping {
            return Err(crate::Error::ActorGone {
                what: "the fleet".into(),
            });
        }
        if let Some(device) = self.devices.get_mut(&msg.address) {
            if msg.kind.is_some() && msg.kind != device.kind {
                device.kind = msg.kind;
                device.actor.do_send(SetAddressKind(msg.kind));
            }
            return Ok(device.actor.clone());
        }
        let subscribers = SharedSubscribers::default();
        let memory = SharedMemory::default();
        let actor = self.start_device(
            msg.address,
            false,
            msg.kind,
            Arc::clone(&subscribers),
            Arc::clone(&memory),
            ctx,
        );
        self.devices.insert(
            msg.address,
            ManagedDevice {
                actor: actor.clone(),
                keep_connected: false,
                kind: msg.kind,
                subscribers,
                memory,
            },
        );
        Ok(actor)
    }
}

impl Handler<KeepConnected> for Supervisor {
    type Result = ResponseActFuture<Self, crate::Result<()>>;

    fn handle(&mut self, msg: KeepConnected, _: &mut Self::Context) -> Self::Result {
        // The device's machine decides (its one admission check refuses a non-connectable
        // device, bug 14); the wish is remembered for a restart only once accepted.
        let Some(device) = self.devices.get(&msg.address) else {
            return Box::pin(fut::ready(Ok(())));
        };
        let asked = device.actor.send(SetKeepConnected(msg.keep));
        Box::pin(asked.into_actor(self).map(move |answer, act, _| {
            let answer = answer.map_err(|_| crate::Error::ActorGone {
                what: format!("the device actor of {}", msg.address),
            })?;
            if answer.is_ok() {
                if let Some(device) = act.devices.get_mut(&msg.address) {
                    device.keep_connected = msg.keep;
                }
            }
            answer
        }))
    }
}

impl Handler<DeviceActorStopped> for Supervisor {
    type Result = ();

    fn handle(&mut self, DeviceActorStopped(address): DeviceActorStopped, ctx: &mut Self::Context) {
        if self.stopping {
            return;
        }
        let Some(device) = self.devices.get(&address) else {
            return;
        };
        if device.actor.connected() {
            return;
        }
        tracing::warn!(%address, "device actor stopped unexpectedly; restarting it");
        let (keep, kind) = (device.keep_connected, device.kind);
        let subscribers = Arc::clone(&device.subscribers);
        let memory = Arc::clone(&device.memory);
        // Its link died with it: subscribers see the gap like any other disconnect.
        let gap = SubscriptionEvent::Disconnected {
            reason: "device actor restarted".into(),
        };
        subscribers
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .announce(&gap);
        let actor = self.start_device(address, keep, kind, subscribers, memory, ctx);
        if let Some(device) = self.devices.get_mut(&address) {
            device.actor = actor;
        }
    }
}

impl Handler<AdapterActorStopped> for Supervisor {
    type Result = ();

    fn handle(&mut self, AdapterActorStopped(entry): AdapterActorStopped, ctx: &mut Self::Context) {
        let radio = entry.id.clone();
        // Removed (and perhaps added again, with a new entry and actor): not ours to restart.
        let current = self
            .shared
            .radio(&radio)
            .is_some_and(|registered| Arc::ptr_eq(&registered, &entry));
        if self.stopping || !current {
            return;
        }
        self.adapters.remove(&radio);
        ctx.run_later(ADAPTER_RESTART_DELAY, move |act, ctx| {
            let still = act.shared.radio(&radio);
            if let Some(entry) = still.filter(|e| Arc::ptr_eq(e, &entry) && !act.stopping) {
                tracing::info!(%radio, "restarting adapter actor");
                act.start_adapter(entry, ctx);
            }
        });
    }
}

#[cfg(feature = "testing")]
impl Handler<CrashDevice> for Supervisor {
    type Result = bool;

    fn handle(&mut self, CrashDevice(address): CrashDevice, _: &mut Self::Context) -> bool {
        self.devices
            .get(&address)
            .map(|d| d.actor.do_send(Crash))
            .is_some()
    }
}

impl Handler<GetDiagnostics> for Supervisor {
    type Result = MessageResult<GetDiagnostics>;

    fn handle(&mut self, _: GetDiagnostics, _: &mut Self::Context) -> Self::Result {
        let usage = self.shared.ledger.usage();
        let radios = self
            .shared
            .radio_list()
            .into_iter()
            .map(|entry| {
                let slots = usage.iter().find(|u| u.radio == entry.id);
                RadioDiagnostics {
                    radio: entry.id.clone(),
                    kind: entry.info.kind,
                    up: slots.is_some_and(|s| s.up),
                    slot_limit: slots.map_or(entry.info.slot_limit, |s| s.limit),
                    held_by: slots.map(|s| s.held_by.clone()).unwrap_or_default(),
                    foreign: slots.map_or(0, |s| s.foreign),
                    connects: entry.gate.stats(self.shared.ledger.in_flight(&entry.id)),
                    scan_mode: entry.radio.scan_mode(),
                    recovery: entry.radio.recovery_report(),
                    adverts_dropped: entry
                        .adverts_dropped
                        .load(std::sync::atomic::Ordering::Relaxed),
                }
            })
            .collect();
        let devices = self
            .devices
            .keys()
            .filter_map(|a| self.shared.device_states.get(a).map(|s| s.borrow().clone()))
            .collect();
        // One lock for both figures (a second lock in the same expression would deadlock).
        let (devices_heard, advert_totals) = {
            let pipeline = self.shared.pipeline();
            (pipeline.len(), pipeline.totals())
        };
        MessageResult(Diagnostics {
            radios,
            devices,
            devices_heard,
            adverts_ingested: advert_totals.adverts,
            advert_totals,
            watchers: self.shared.watchers().counters(),
            feed_lost: self
                .shared
                .feed_lost
                .load(std::sync::atomic::Ordering::Relaxed),
            notifications_dropped: self
                .shared
                .notifications_dropped
                .load(std::sync::atomic::Ordering::Relaxed),
            device_adverts_dropped: self
                .shared
                .device_adverts_dropped
                .load(std::sync::atomic::Ordering::Relaxed),
        })
    }
}
