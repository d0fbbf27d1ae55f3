//! State that handles and actors read without a message round trip.
//!
//! Owns [`Shared`]: the radio registry, the slot ledger, the service cache, the advertisement
//! pipeline, the connection state of every device, and the broadcasts of adverts and changes.
//! Writers are few and fixed (the Supervisor writes adverts; each device actor writes its own
//! state; adapter actors write their radio's slots), so the `DashMap`s are read-mostly and a
//! `Fleet` handle can answer "what is device X doing" from any thread at once.
//!
//! It is a neutral module, no actor's own: the adapter, device and Supervisor actors and the
//! `Fleet` handles all read it, and it names only the pure pieces below them (the ledger and
//! gate, the advert pipeline, the cache, the retry and radio-choice policies, the status
//! types), so none of those actors depends on another through it. Everything here is
//! crate-private; users see its contents through the handles' methods.

use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex, MutexGuard};

use dashmap::DashMap;
use tokio::sync::{broadcast, watch};

use crate::adapter::gate::ConnectGate;
use crate::adapter::slots::SlotLedger;
use crate::adverts::watch::Watchers;
use crate::adverts::{AdvertEvent, AdvertPipeline};
use crate::backend::{Radio, RadioInfo};
use crate::cache::ServiceCache;
use crate::device::state::DeviceStatus;
use crate::model::{Address, Advertisement, RadioId};

mod config;
pub(crate) use config::FleetConfig;

/// One registered radio.
#[derive(Debug)]
pub(crate) struct RadioEntry {
    /// Its name.
    pub(crate) id: RadioId,
    /// The backend.
    pub(crate) radio: Arc<dyn Radio>,
    /// Kind and slot facts at registration.
    pub(crate) info: RadioInfo,
    /// One attempt at a time, and the counters.
    pub(crate) gate: Arc<ConnectGate>,
    /// Adverts the radio's bounded event channel dropped because ingestion fell behind.
    pub(crate) adverts_dropped: AtomicU64,
}

/// What handles and actors share.
#[derive(Debug)]
pub(crate) struct Shared {
    /// Registered radios.
    pub(crate) radios: DashMap<RadioId, Arc<RadioEntry>>,
    /// Every slot, fleet-wide.
    pub(crate) ledger: SlotLedger,
    /// Cached GATT tables.
    pub(crate) cache: ServiceCache,
    /// Every device heard: merged adverts, per-radio RSSI, availability, proximity, beacons.
    /// Written only by the Supervisor; a `std` mutex held for one batch or one lookup.
    pub(crate) pipeline: Mutex<AdvertPipeline>,
    /// Every managed device's state, as a watch so handles can await changes. The sender lives
    /// here (shared with the device actor), so a restarted actor keeps publishing into the same
    /// channel and `Device::status_changes()` streams outlive the actor.
    pub(crate) device_states: DashMap<Address, Arc<watch::Sender<DeviceStatus>>>,
    /// Advert watchers (`Fleet::watch`). Locked after `pipeline`, never before it.
    pub(crate) watchers: Mutex<Watchers>,
    /// Every advertisement, shared, for `Fleet::adverts` (sent only while someone listens).
    pub(crate) advert_feed: broadcast::Sender<Arc<Advertisement>>,
    /// Items the feeds' consumers lost by falling behind (counted as they learn it).
    pub(crate) feed_lost: AtomicU64,
    /// Notifications links' bounded event channels dropped because a device actor fell
    /// behind (each announced to the subscribers as `Lagged`).
    pub(crate) notifications_dropped: AtomicU64,
    /// Adverts a full device-actor mailbox refused (the Supervisor never queues unbounded).
    pub(crate) device_adverts_dropped: AtomicU64,
    /// What changed in the pipeline (appeared, zone changed, disappeared...).
    pub(crate) advert_events: broadcast::Sender<AdvertEvent>,
    /// Connection attempts step by step (sent only while someone listens).
    pub(crate) attempt_events: broadcast::Sender<crate::device::attempt_log::AttemptEvent>,
    /// When the fleet started (attempt events are stamped relative to it).
    pub(crate) started: tokio::time::Instant,
    /// Tunables.
    pub(crate) config: FleetConfig,
}

/// Attempt events a listener may fall behind by before it is told it missed some.
pub(crate) const ATTEMPT_EVENTS_CAPACITY: usize = 1024;

impl Shared {
    /// A fresh view.
    pub(crate) fn new(config: FleetConfig, cache: ServiceCache) -> Arc<Self> {
        let (advert_feed, _) = broadcast::channel(4096);
        let (advert_events, _) = broadcast::channel(4096);
        let (attempt_events, _) = broadcast::channel(ATTEMPT_EVENTS_CAPACITY);
        Arc::new(Self {
            radios: DashMap::new(),
            ledger: SlotLedger::new(),
            cache,
            pipeline: Mutex::new(AdvertPipeline::new(config.pipeline)),
            device_states: DashMap::new(),
            watchers: Mutex::new(Watchers::default()),
            advert_feed,
            feed_lost: AtomicU64::new(0),
            notifications_dropped: AtomicU64::new(0),
            device_adverts_dropped: AtomicU64::new(0),
            advert_events,
            attempt_events,
            started: tokio::time::Instant::now(),
            config,
        })
    }

    /// Registers `radio` (its ledger row, a fresh connect gate) and returns its entry. The
    /// caller checks the name is free and starts the radio's adapter actor.
    pub(crate) fn register_radio(&self, radio: Arc<dyn Radio>) -> Arc<RadioEntry> {
        let id = radio.id();
        let info = radio.info();
        self.ledger.add_radio(&id, info.slot_limit);
        let entry = Arc::new(RadioEntry {
            id: id.clone(),
            radio,
            info,
            gate: Arc::new(ConnectGate::default()),
            adverts_dropped: AtomicU64::new(0),
        });
        self.radios.insert(id, Arc::clone(&entry));
        entry
    }

    /// A radio by name.
    pub(crate) fn radio(&self, id: &RadioId) -> Option<Arc<RadioEntry>> {
        self.radios.get(id).map(|e| Arc::clone(e.value()))
    }

    /// The pipeline, locked.
    pub(crate) fn pipeline(&self) -> MutexGuard<'_, AdvertPipeline> {
        self.pipeline.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The advert watchers, locked (take the pipeline's lock first when both are needed).
    pub(crate) fn watchers(&self) -> MutexGuard<'_, Watchers> {
        self.watchers.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Every radio, sorted by name.
    pub(crate) fn radio_list(&self) -> Vec<Arc<RadioEntry>> {
        let mut list: Vec<_> = self.radios.iter().map(|e| Arc::clone(e.value())).collect();
        list.sort_by(|a, b| a.id.cmp(&b.id));
        list
    }
}
