//! The simulation's live state: radios, devices and links behind one mutex.
//!
//! Owns [`Shared`] (the immutable world plus the mutex) and [`State`] (what changes). One
//! `std` mutex, never held across an `.await`, keeps every change atomic: a radio going down
//! ends its links, frees its slots and reports it in one step, so no observer ever sees a
//! half-applied fault. Everything here is synchronous; the radio, link, air and control
//! modules call these methods and do the waiting themselves.
//!
//! Determinism: every random draw comes from a ChaCha8 stream derived from (seed, domain,
//! index) by [`stream`], so the order in which tasks happen to run cannot change any draw.

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use tokio::sync::{watch, Notify};
use tokio::time::Instant;

use super::faults;
use super::stats::{DeviceStats, RadioStats, SimStats, TraceEvent, Traced};
use super::world::{GattLayout, Generator, SimGatt, World};
use crate::backend::{DisconnectCause, LinkEvent, RadioEvent, RadioKind, SlotReport};
use crate::model::{Address, RadioId};
use crate::ErrorKind;

/// Random-stream domains: each user of randomness gets its own family of streams.
pub(crate) mod domain {
    pub const RADIO: u64 = 1;
    pub const ADVERTS: u64 = 2;
    pub const LINK: u64 = 3;
    pub const CONNECT: u64 = 4;
    pub const DEVICE_LATENCY: u64 = 5;
}

/// The random stream for (seed, domain, index).
pub(crate) fn stream(seed: u64, domain: u64, index: u64) -> ChaCha8Rng {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream((domain << 48) ^ index);
    rng
}

/// What every task of one simulation shares.
pub(crate) struct Shared {
    pub world: World,
    pub radio_ids: Vec<RadioId>,
    pub seed: u64,
    /// Virtual time zero.
    pub started: Instant,
    /// Per radio: bumped each time it goes down, so attempts in flight notice.
    pub down_epochs: Vec<watch::Sender<u64>>,
    state: Mutex<State>,
}

/// One radio's moving parts.
#[derive(Debug)]
pub(crate) struct RadioState {
    pub up: bool,
    /// Connect calls being worked on (accepted ones).
    pub in_flight: usize,
    /// Who holds a slot: (token, device). Reservations of attempts in flight count.
    pub slots: Vec<(u64, Address)>,
    /// Faults forced by the control handle, used before any random draw.
    pub forced: VecDeque<ErrorKind>,
    pub rng: ChaCha8Rng,
    pub subscribers: Vec<crate::backend::RadioEventSender>,
    /// Adverts waiting for the next batch (proxies).
    pub batch: Vec<crate::model::Advertisement>,
    /// A stuck scanner: adverts are not delivered until a recovery step at least this
    /// heavy is taken (`SimControl::radio_quiet`).
    pub stuck: Option<crate::backend::RecoveryStep>,
    /// The scan mode asked for (the simulator runs either; its adverts have no separate scan
    /// responses, so both deliver the same).
    pub scan_mode: crate::backend::ScanMode,
    pub stats: RadioStats,
}

/// One device's moving parts.
#[derive(Debug)]
pub(crate) struct DeviceState {
    pub forced_asleep: bool,
    pub out_of_range: bool,
    pub moved_to: Option<super::world::Position>,
    /// Its GATT server with handles, as served now (a services change replaces it).
    pub layout: std::sync::Arc<GattLayout>,
    /// Bumped at each services change, so a link knows its discovery is out of date.
    pub gatt_version: u64,
    /// Current attribute values (characteristics and descriptors) by handle.
    pub values: BTreeMap<u16, Vec<u8>>,
    /// ATT statuses the next GATT operations on this device fail with (fault injection).
    pub forced_gatt: std::collections::VecDeque<u8>,
    pub stats: DeviceStats,
}

/// A characteristic that notifies on one link.
#[derive(Debug)]
pub(crate) struct Notifying {
    pub generator: Generator,
    pub next_due: Instant,
    pub step: u64,
}

/// One open link.
#[derive(Debug)]
pub(crate) struct LinkRecord {
    pub device: usize,
    pub radio: usize,
    pub events: crate::backend::LinkEventSender,
    pub notifying: BTreeMap<u16, Notifying>,
    /// Wakes the link's task when its schedule changed.
    pub wake: std::sync::Arc<Notify>,
}

/// Everything that changes.
#[derive(Debug)]
pub(crate) struct State {
    pub radios: Vec<RadioState>,
    pub devices: Vec<DeviceState>,
    /// Open links by id (the id is also their slot token).
    pub links: BTreeMap<u64, LinkRecord>,
    next_token: u64,
    pub trace: Option<Vec<TraceEvent>>,
}

impl std::fmt::Debug for Shared {
    /// A summary: the whole world and state would drown any log line that prints a link.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Simulation")
            .field("seed", &self.seed)
            .field("radios", &self.radio_ids)
            .field("devices", &self.world.devices.len())
            .finish_non_exhaustive()
    }
}

impl Shared {
    pub(crate) fn new(world: World, seed: u64, traced: bool) -> Self {
        let radio_ids = world.radios.iter().map(|r| RadioId::new(&r.name)).collect();
        let radios = world
            .radios
            .iter()
            .enumerate()
            .map(|(i, r)| RadioState {
                up: true,
                in_flight: 0,
                slots: Vec::new(),
                forced: VecDeque::new(),
                rng: stream(seed, domain::RADIO, i as u64),
                subscribers: Vec::new(),
                stuck: None,
                scan_mode: crate::backend::ScanMode::Active,
                batch: Vec::new(),
                stats: RadioStats {
                    name: r.name.clone(),
                    ..RadioStats::default()
                },
            })
            .collect();
        let devices = world
            .devices
            .iter()
            .map(|d| (d, d.gatt.layout(d.mtu)))
            .map(|(d, layout)| DeviceState {
                forced_asleep: false,
                out_of_range: false,
                moved_to: None,
                values: layout.initial_values.clone(),
                layout: std::sync::Arc::new(layout),
                gatt_version: 0,
                forced_gatt: Default::default(),
                stats: DeviceStats::new(d.address, d.name.clone()),
            })
            .collect();
        let down_epochs = world.radios.iter().map(|_| watch::channel(0).0).collect();
        Self {
            radio_ids,
            seed,
            started: Instant::now(),
            down_epochs,
            state: Mutex::new(State {
                radios,
                devices,
                links: BTreeMap::new(),
                next_token: 1,
                trace: traced.then(Vec::new),
            }),
            world,
        }
    }

    /// The state, even if a panicking thread poisoned the lock (the data stays consistent:
    /// every change is made without unwinding points).
    pub(crate) fn lock(&self) -> MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Virtual time since start.
    pub(crate) fn elapsed(&self) -> Duration {
        self.started.elapsed()
    }

    pub(crate) fn device_index(&self, address: Address) -> Option<usize> {
        self.world.devices.iter().position(|d| d.address == address)
    }

    pub(crate) fn radio_index(&self, name: &str) -> Option<usize> {
        self.world.radios.iter().position(|r| r.name == name)
    }

    pub(crate) fn radio_kind(&self, radio: usize) -> RadioKind {
        self.world
            .radios
            .get(radio)
            .map_or(RadioKind::LocalController, |r| r.kind)
    }
}

impl State {
    pub(crate) fn next_token(&mut self) -> u64 {
        self.next_token += 1;
        self.next_token
    }

    pub(crate) fn record(&mut self, shared: &Shared, what: Traced) {
        // Link changes also go to the log at debug level (timestamped by the subscriber), so
        // tests with several hub processes can check from the sims themselves that no two
        // hubs ever held one device at once.
        match &what {
            Traced::Connected { radio, device } => {
                tracing::debug!("sim link up {device} via {radio}");
            }
            Traced::Disconnected { radio, device, .. } => {
                tracing::debug!("sim link down {device} via {radio}");
            }
            _ => {}
        }
        if let Some(trace) = &mut self.trace {
            trace.push(TraceEvent {
                at: shared.elapsed(),
                what,
            });
        }
    }

    pub(crate) fn snapshot(&self) -> SimStats {
        SimStats {
            radios: self
                .radios
                .iter()
                .map(|r| RadioStats {
                    slot_holders: r.slots.iter().map(|(_, address)| *address).collect(),
                    ..r.stats.clone()
                })
                .collect(),
            devices: self.devices.iter().map(|d| d.stats.clone()).collect(),
        }
    }

    /// Sends a radio event to every live subscriber, forgetting the gone ones.
    pub(crate) fn emit(&mut self, radio: usize, event: RadioEvent) {
        if let Some(r) = self.radios.get_mut(radio) {
            r.subscribers.retain(|tx| tx.send(event.clone()));
        }
    }

    /// Whether anyone listens to this radio.
    pub(crate) fn has_listeners(&self, radio: usize) -> bool {
        self.radios
            .get(radio)
            .is_some_and(|r| r.subscribers.iter().any(|tx| !tx.is_closed()))
    }

    pub(crate) fn slot_report(&self, shared: &Shared, radio: usize) -> Option<SlotReport> {
        let r = self.radios.get(radio)?;
        let limit = shared.world.radios.get(radio)?.slot_limit;
        Some(SlotReport {
            free: limit.saturating_sub(r.slots.len()),
            limit,
            allocated: r.slots.iter().map(|(_, address)| *address).collect(),
        })
    }

    /// Tells listeners of a proxy its current slot use (local controllers do not report).
    pub(crate) fn report_slots(&mut self, shared: &Shared, radio: usize) {
        if shared.radio_kind(radio) == RadioKind::EsphomeProxy {
            if let Some(report) = self.slot_report(shared, radio) {
                self.emit(radio, RadioEvent::SlotsReported(report));
            }
        }
    }

    pub(crate) fn take_slot(
        &mut self,
        shared: &Shared,
        radio: usize,
        token: u64,
        address: Address,
    ) {
        if let Some(r) = self.radios.get_mut(radio) {
            r.slots.push((token, address));
            r.stats.slots_in_use = r.slots.len();
            r.stats.max_slots_in_use = r.stats.max_slots_in_use.max(r.slots.len());
        }
        self.report_slots(shared, radio);
    }

    /// Frees the slot held under `token`, if it is still held; reports it.
    pub(crate) fn free_slot(&mut self, shared: &Shared, radio: usize, token: u64) {
        let Some(r) = self.radios.get_mut(radio) else {
            return;
        };
        let before = r.slots.len();
        r.slots.retain(|(t, _)| *t != token);
        r.stats.slots_in_use = r.slots.len();
        if r.slots.len() != before && r.up {
            self.report_slots(shared, radio);
        }
    }

    /// Ends a link: final event, slot freed, task told. Does nothing if it already ended.
    pub(crate) fn end_link(
        &mut self,
        shared: &Shared,
        id: u64,
        cause: DisconnectCause,
        detail: &str,
    ) {
        let Some(link) = self.links.remove(&id) else {
            return;
        };
        let _ = link.events.send(LinkEvent::Disconnected {
            cause,
            detail: detail.to_string(),
        });
        link.wake.notify_one();
        self.free_slot(shared, link.radio, id);
        let device = shared.world.devices.get(link.device).map(|d| d.address);
        if let (Some(device), Some(radio)) = (device, shared.radio_ids.get(link.radio)) {
            self.record(
                shared,
                Traced::Disconnected {
                    radio: radio.clone(),
                    device,
                    cause,
                },
            );
        }
    }

    /// Takes a radio down: every link through it ends, every slot is gone, listeners hear it.
    pub(crate) fn radio_down(&mut self, shared: &Shared, radio: usize, reason: &str) {
        if !self.radios.get(radio).is_some_and(|r| r.up) {
            return;
        }
        let ids: Vec<u64> = self
            .links
            .iter()
            .filter(|(_, l)| l.radio == radio)
            .map(|(id, _)| *id)
            .collect();
        for id in ids {
            self.end_link(shared, id, DisconnectCause::RadioDown, reason);
        }
        if let Some(r) = self.radios.get_mut(radio) {
            r.up = false;
            r.slots.clear();
            r.batch.clear();
            r.stats.slots_in_use = 0;
        }
        if let Some(epoch) = shared.down_epochs.get(radio) {
            epoch.send_modify(|e| *e += 1);
        }
        self.emit(
            radio,
            RadioEvent::Down {
                reason: reason.to_string(),
            },
        );
        if let Some(id) = shared.radio_ids.get(radio) {
            self.record(shared, Traced::RadioDown { radio: id.clone() });
        }
    }

    /// Brings a radio back, with every slot free.
    pub(crate) fn radio_up(&mut self, shared: &Shared, radio: usize) {
        match self.radios.get_mut(radio) {
            Some(r) if !r.up => r.up = true,
            _ => return,
        }
        self.emit(radio, RadioEvent::Up);
        self.report_slots(shared, radio);
        if let Some(id) = shared.radio_ids.get(radio) {
            self.record(shared, Traced::RadioUp { radio: id.clone() });
        }
    }

    /// The device serves `gatt` from now on (new firmware): its values start over, and every
    /// open link of it gets a Service Changed indication and loses its subscriptions (the CCCDs
    /// it wrote belong to the old table). Returns how many links were told.
    pub(crate) fn change_services(
        &mut self,
        shared: &Shared,
        device: usize,
        gatt: &SimGatt,
    ) -> usize {
        let Some(spec) = shared.world.devices.get(device) else {
            return 0;
        };
        let layout = gatt.layout(spec.mtu);
        let mut told = 0;
        for link in self.links.values_mut().filter(|l| l.device == device) {
            link.notifying.clear();
            let _ = link.events.send(LinkEvent::ServicesChanged);
            link.wake.notify_one();
            told += 1;
        }
        if let Some(d) = self.devices.get_mut(device) {
            d.values = layout.initial_values.clone();
            d.layout = std::sync::Arc::new(layout);
            d.gatt_version += 1;
            d.stats.services_changes_indicated += told as u64;
        }
        let address = spec.address;
        self.record(
            shared,
            Traced::ServicesChanged {
                device: address,
                links: told,
            },
        );
        told
    }

    /// Ends every link of a device (a forced drop, sleep or leaving range).
    pub(crate) fn drop_device_links(&mut self, shared: &Shared, device: usize) -> usize {
        let ids: Vec<(u64, usize)> = self
            .links
            .iter()
            .filter(|(_, l)| l.device == device)
            .map(|(id, l)| (*id, l.radio))
            .collect();
        for (id, radio) in &ids {
            self.end_link(
                shared,
                *id,
                DisconnectCause::LinkLost,
                faults::link_lost_detail(shared.radio_kind(*radio)),
            );
        }
        ids.len()
    }
}
